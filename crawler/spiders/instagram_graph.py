"""Instagram through the official Graph API: business_discovery profiles and hashtag sweeps.

    scrapy crawl instagram -a source=graph -a tags=veganfood [-a listing=top|recent|all]
    scrapy crawl instagram_graph -a handles=alice,bob [-a recent_posts=24]
    scrapy crawl instagram_graph -a tags=vegan -a base_url=http://127.0.0.1:8123   # the sandbox

Needs ``MICROSCOUT_INSTAGRAM_GRAPH_TOKEN`` (a user access token of the operator's own
professional account's Facebook Page; docs/instagram.md says how to get it) and
``MICROSCOUT_INSTAGRAM_GRAPH_USER_ID`` (that account's Instagram user id). The token travels
only as ``Authorization: Bearer ...`` to the Graph API host (:meth:`credentials`), never in
a URL, so it cannot reach logs, cassettes (the header is filtered) or stored URLs.

Hosts: ``graph_base`` (alias ``api_base``) is https://graph.facebook.com/v21.0 for the live
site and ``<base_url>/graph/v21.0`` for any other ``base_url`` (the sandbox), so a token meant
for a sandbox never reaches Meta. Official API calls skip robots.txt.

Profiles (``-a handles=``): ``GET /{user-id}?fields=business_discovery.username(x){id,ig_id,
username,name,biography,website,followers_count,follows_count,media_count,
profile_picture_url,media.limit(N){id,caption,like_count,comments_count,timestamp,permalink,
media_type,media_product_type}}``, then ``media.after(CURSOR).limit(N)`` pages up to
``recent_posts``. Only business and creator accounts answer; a personal, age-gated, private or
unknown account is OAuthException 110 / 2207013 ("Invalid user id ... cannot be found"),
recorded as ``not_discoverable`` with the API's words.

Hashtag sweeps (``-a tags=``): each tag first takes a slot of the operator account's weekly
ledger (``models.quota.claim_hashtag``: 30 unique hashtags per rolling 7 days, Meta's rule,
kept in the warehouse table ``instagram_hashtags`` with the hashtag ids). A refused tag is not
queried: the log and a ``hashtag_limit`` quarantine row say when the next slot frees, and
``microscout/quota/refused`` makes the run ``degraded``. Without a warehouse the ledger is
counted in memory for this run only (a warning says so). A tag whose id is cached skips
``GET /ig_hashtag_search?user_id=&q=tag``; then ``/{hashtag-id}/top_media`` and/or
``/recent_media`` (``-a listing=top|recent|all``, default all) page by ``after`` up to
``max_pages`` pages and ``max_posts`` media per listing. Each media is a
``HashtagSightingItem`` (0-based position) and a ``PostItem`` (likes, comments, permalink).

Authors: hashtag media name no author (the API refuses ``username`` there and strips the
``@`` from captions). A sighting's author is known when the same media is already known with
its author: from a business_discovery profile of this run (same Graph media id) or from the
warehouse (a post stored by an earlier Graph sweep under that id, or by the web route under
the same permalink). Otherwise up to ``author_candidates`` (default 2) handle-shaped words of
the caption are asked by business_discovery, once a run each: a candidate is the author only
when its own media hold the sighted media (the sighting is then sent again with the author;
the warehouse updates it). Found authors get their profile (the follower range applies); a
candidate that is no author but a business or creator account is kept as a profile of the
tag's niche too. A sighting is never held back or dropped for lacking an author.

Rate limits: every answer's ``X-App-Usage`` / ``X-Business-Use-Case-Usage`` is read; when
any percentage reaches ``MICROSCOUT_INSTAGRAM_GRAPH_USAGE_PAUSE`` (90) the host is paused
(``estimated_time_to_regain_access`` minutes when given, else
``MICROSCOUT_RATELIMIT_BODY_WAIT`` seconds; capped by ``MICROSCOUT_MAX_RETRY_AFTER``) before the
limit is hit. OAuthException 4, 17, 32, 613 and 80002 are rate limits: paused and retried,
then recorded as ``rate_limited``. 190 (and 102, 104) ``token_invalid`` and 10 / 200-299
``permission_denied`` are recorded and close the crawl (``instagram_graph_<reason>``).
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

from scrapy.exceptions import CloseSpider
from scrapy.http import Request, Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler.cassette import DEFAULT_FILTER_HEADERS
from crawler.credentials import Credential
from crawler.errors import CrawlError, UnrecognisedDocument
from crawler.items import HashtagSightingItem, PostItem, ProfileItem, RejectedItem
from crawler.parsers import instagram_graph as graph
from crawler.parsers import loads_json
from crawler.platforms import REGISTRY
from crawler.quota import QuotaBook
from crawler.spiders.args import BaseUrlParams, Params, choice_arg, normalize_base_url, param
from crawler.spiders.base import PAYLOAD_CHARS, BaseSpider, Output, body_text, utcnow
from crawler.spiders.instagram import is_instagram_host, normalize_instagram_handle

PLATFORM = REGISTRY["instagram"]
SOURCES = ("graph",)
MAX_RECENT_POSTS = 200
#: Media a candidate author is asked for: its newest, where a freshly sighted post is.
CANDIDATE_MEDIA = 25
HASHTAG_LIMIT = 30
#: Answers the callbacks read themselves (Graph errors come with these statuses).
HANDLED_STATUSES = [400, 401, 403, 404]


def _graph_base(value: Any, spider_cls: Any) -> str:
    return normalize_base_url(value, name="graph_base", example=graph.GRAPH_BASE, allow_path=True)


def _candidates(value: Any, spider_cls: Any) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValueError(f"author_candidates must be a whole number, got {value!r}") from None
    if not 0 <= number <= 10:
        raise ValueError(f"author_candidates must be from 0 to 10, got {number}")
    return number


@dataclass
class InstagramGraphParams(BaseUrlParams):
    """``base_url``, ``graph_base`` (alias ``api_base``), ``source`` (graph) and
    ``author_candidates`` (caption words asked as authors per media, 0 to 10)."""

    graph_base: str | None = param(None, parse=_graph_base, aliases=("api_base",))
    source: str = param("graph", parse=choice_arg("source", SOURCES))
    author_candidates: int = param(2, parse=_candidates)


def lookup_authors(conn: Any, post_ids: list[str], urls: list[str]) -> list[tuple[str, str, str]]:
    """(post_id, url, author handle) of the warehouse's Instagram posts with one of these ids
    or URLs and a known author (runs on the crawl run's DB thread)."""
    from sqlalchemy import func, or_, select

    from models.tables import Post, Profile

    if not post_ids and not urls:
        return []
    author = func.coalesce(Profile.handle, Post.author_handle)
    query = (select(Post.post_id, Post.url, author)
             .select_from(Post).outerjoin(Profile, Profile.id == Post.profile_id)
             .where(Post.platform == "instagram", author.is_not(None),
                    or_(Post.post_id.in_(post_ids), Post.url.in_(urls))))
    return [(str(row[0]), row[1] or "", str(row[2])) for row in conn.execute(query)]


class InstagramGraphSpider(BaseSpider):
    name = "instagram_graph"
    platform: ClassVar[str] = "instagram"
    listings: ClassVar[tuple[str, ...]] = ("all", "top", "recent")
    max_recent_posts: ClassVar[int | None] = MAX_RECENT_POSTS
    default_recent_posts: ClassVar[int] = 12
    params_model: ClassVar[type[Params]] = InstagramGraphParams
    default_base_url: ClassVar[str] = PLATFORM.default_base_url
    base_url_aliases: ClassVar[tuple[str, ...]] = PLATFORM.base_url_aliases
    item_types: ClassVar[Mapping[str, str]] = {"hashtag": "HashtagSightingItem",
                                               "media": "HashtagSightingItem",
                                               "claim": "HashtagSightingItem"}
    #: The token travels in the Authorization header: never in a cassette.
    custom_settings: dict[str, Any] | None = {  # noqa: RUF012  (Scrapy reads it on the class)
        "MICROSCOUT_CASSETTE_FILTER_HEADERS": list(dict.fromkeys(
            [*DEFAULT_FILTER_HEADERS, "Authorization"])),
    }
    params: InstagramGraphParams
    #: Media asked per business_discovery page.
    media_page: int = graph.MEDIA_PAGE_MAX

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        host = urlsplit(self.graph_base).hostname or ""
        self.allowed_domains = [host]
        self.seen_handles: set[str] = set()
        #: Graph media id -> author handle, from this run's business_discovery answers.
        self.author_of_media: dict[str, str] = {}
        #: Candidates asked and not answered yet -> (sighting, post) pairs to verify.
        self.awaiting: dict[str, list[tuple[HashtagSightingItem, PostItem]]] = {}
        self.hashtag_ids: dict[str, str] = {}
        self.memory_claims: list[str] = []
        self.warned: set[str] = set()
        #: The Graph error that closes the crawl, once one came.
        self.fatal_reason: str | None = None
        self.last_usage: graph.Usage | None = None

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> InstagramGraphSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        missing = [name for name, value in (
            ("MICROSCOUT_INSTAGRAM_GRAPH_TOKEN", spider.token),
            ("MICROSCOUT_INSTAGRAM_GRAPH_USER_ID", spider.user_id)) if not value]
        if missing:
            raise ValueError(f"source=graph needs {' and '.join(missing)} (docs/instagram.md: a "
                             "token and the IG user id of your own professional account)")
        if not spider.user_id.isdigit():
            raise ValueError("MICROSCOUT_INSTAGRAM_GRAPH_USER_ID must be the numeric Instagram "
                             "user id of your professional account (17841...)")
        return spider

    @classmethod
    def normalize_handle(cls, value: str) -> str:
        return normalize_instagram_handle(value)

    # -- configuration ----------------------------------------------------------------------

    @property
    def graph_base(self) -> str:
        """The Graph API: as given, else Meta's for the live site, else the base URL's own
        (the sandbox serves it at /graph/v21.0), so the token follows the base URL."""
        if self.params.graph_base:
            return self.params.graph_base
        if is_instagram_host(urlsplit(self.base_url).hostname or ""):
            return graph.GRAPH_BASE
        return f"{self.base_url}/graph/{graph.GRAPH_VERSION}"

    @property
    def token(self) -> str:
        return str(self.setting("MICROSCOUT_INSTAGRAM_GRAPH_TOKEN") or "")

    @property
    def user_id(self) -> str:
        return str(self.setting("MICROSCOUT_INSTAGRAM_GRAPH_USER_ID") or "").strip()

    @property
    def ledger_account(self) -> str:
        """Whose weekly hashtag slots: the Graph host and the operator's IG user id."""
        return f"{urlsplit(self.graph_base).netloc} ig_user:{self.user_id}"

    def credentials(self) -> list[Credential]:
        """The token, as ``Authorization: Bearer``, to the Graph API host only."""
        if not self.token:
            return []
        return [Credential(host=urlsplit(self.graph_base).netloc,
                           headers={"Authorization": f"Bearer {self.token}"})]

    def spider_run_args(self) -> dict[str, Any]:
        return {"graph_base": self.graph_base}

    # -- requests ----------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        self.logger.info("Instagram Graph API at %s as IG user %s (token in the Authorization "
                         "header)", self.graph_base, self.user_id)
        for request in self.handle_requests():
            yield request
        for tag in self.args.tags:
            for output in await self.plan_tag(tag):
                yield output

    def handle_requests(self) -> list[Request]:
        out: list[Request] = []
        for handle in self.args.handles:
            out.extend(self.consider_handle(handle, self.handles_label))
        return out

    def work_requests(self) -> list[Request]:
        """A distributed job's work: profiles, and for each tag a claim step (a ``data:``
        request whose callback takes the weekly slot, which needs the warehouse: start()
        awaits it, a job's expansion cannot)."""
        claims = [self.request(f"data:text/plain,{quote(tag)}", self.claim_step, "claim",
                               meta={"dont_obey_robotstxt": True, "dont_ratelimit": True},
                               dont_filter=True, cb_kwargs={"tag": tag})
                  for tag in self.args.tags]
        return [*self.handle_requests(), *claims]

    async def claim_step(self, response: Response, tag: str) -> AsyncIterator[Any]:
        for output in await self.plan_tag(tag):
            yield output

    def graph_request(self, url: str, callback: Any, kind: str, **kwargs: Any) -> Request:
        """A Graph API call (the token is added by the credentials middleware)."""
        self.stat("graph/calls")
        meta = {"dont_obey_robotstxt": True, "handle_httpstatus_list": HANDLED_STATUSES}
        return self.request(url, callback, kind, meta=meta, **kwargs)

    def search_url(self, tag: str) -> str:
        return graph.hashtag_search_url(self.graph_base, self.user_id, tag)

    def profile_request(self, handle: str, discovered_via: str | None, *,
                        candidate: bool = False,
                        named: list[tuple[HashtagSightingItem, PostItem]] | None = None) -> Request:
        limit = min(self.args.recent_posts, self.media_page)
        if candidate:
            limit = min(max(limit, CANDIDATE_MEDIA), graph.MEDIA_PAGE_MAX)
        url = graph.discovery_url(self.graph_base, self.user_id, handle, media_limit=limit)
        return self.graph_request(url, self.parse_discovery, "candidate" if candidate else "profile",
                                  priority=20, cb_kwargs={"handle": handle,
                                                          "discovered_via": discovered_via,
                                                          "named": list(named or [])})

    def media_page_request(self, profile: ProfileItem, after: str) -> Request:
        need = self.args.recent_posts - len(profile.recent_posts)
        url = graph.discovery_url(self.graph_base, self.user_id, profile.handle or "",
                                  media_limit=max(1, min(need, self.media_page)),
                                  after=after, profile=False)
        return self.graph_request(url, self.parse_media_page, "media_page", priority=30,
                                  cb_kwargs={"profile": profile})

    def search_request(self, tag: str) -> Request:
        return self.graph_request(self.search_url(tag), self.parse_hashtag_search, "hashtag",
                                  cb_kwargs={"tag": tag})

    def media_request(self, tag: str, hashtag_id: str, listing: str, *, after: str | None = None,
                      page: int = 1, offset: int = 0) -> Request:
        limit = max(1, min(graph.MEDIA_PAGE_MAX, self.args.max_posts - offset))
        url = graph.hashtag_media_url(self.graph_base, hashtag_id, listing, self.user_id,
                                      limit=limit, after=after)
        return self.graph_request(url, self.parse_hashtag_media, "media", priority=5,
                                  cb_kwargs={"tag": tag, "hashtag_id": hashtag_id,
                                             "listing": listing, "page": page, "offset": offset})

    def media_requests(self, tag: str, hashtag_id: str) -> list[Request]:
        listings = ("top", "recent") if self.args.listing == "all" else (self.args.listing,)
        return [self.media_request(tag, hashtag_id, listing) for listing in listings]

    def consider_handle(self, handle: str, discovered_via: str | None, *,
                        candidate: bool = False,
                        named: list[tuple[HashtagSightingItem, PostItem]] | None = None,
                        ) -> list[Request]:
        """A business_discovery request once a run per account (none for one a resumed run
        loaded already)."""
        if handle in self.seen_handles:
            if named and handle in self.awaiting:
                self.awaiting[handle].extend(named)  # asked already: verified with the answer
            return []
        self.seen_handles.add(handle)
        if self.already_loaded(self.platform, handle):
            return []
        self.stat("graph/candidates_asked" if candidate else "graph/profiles_requested")
        if candidate:
            self.awaiting[handle] = []
        return [self.profile_request(handle, discovered_via, candidate=candidate, named=named)]

    # -- the weekly hashtag ledger -----------------------------------------------------------

    async def plan_tag(self, tag: str) -> list[Any]:
        """A tag's first requests once it holds a weekly slot; the quarantine row when refused."""
        from models import quota

        now = utcnow()
        try:
            claim = await QuotaBook.of(self.crawler).db(quota.claim_hashtag, self.ledger_account,
                                                        tag, now)
        except Exception as exc:  # no warehouse, or it is unreachable: this run's count only
            claim = self.claim_in_memory(tag, exc)
        if not claim.allowed:
            return [self.refuse(tag, claim)]
        self.stat("graph/hashtags_claimed")
        hashtag_id = claim.hashtag_id or self.hashtag_ids.get(tag)
        if hashtag_id:
            self.stat("graph/hashtag_ids_cached")
            return list(self.media_requests(tag, hashtag_id))
        return [self.search_request(tag)]

    def claim_in_memory(self, tag: str, exc: Exception) -> Any:
        from models.quota import HashtagClaim

        if "ledger" not in self.warned:
            self.warned.add("ledger")
            self.logger.warning(
                "Cannot keep the weekly hashtag ledger in a warehouse (%s): counting this run's hashtags "
                "in memory only. Meta still counts every hashtag this account queried in the "
                "last 7 days; a refusal from the API is recorded as hashtag_limit. Set "
                "MICROSCOUT_DATABASE_URL to keep the ledger across runs.",
                str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        if tag in self.memory_claims:
            return HashtagClaim(True, None, len(self.memory_claims), None)
        if len(self.memory_claims) >= HASHTAG_LIMIT:
            return HashtagClaim(False, None, len(self.memory_claims), None)
        self.memory_claims.append(tag)
        return HashtagClaim(True, None, len(self.memory_claims), None)

    def refuse(self, tag: str, claim: Any) -> RejectedItem:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value("microscout/quota/refused")
        self.stat("graph/hashtags_refused")
        frees = (f"the next slot frees at {claim.frees_at:%Y-%m-%d %H:%M} UTC"
                 if claim.frees_at is not None else
                 "the next slot frees 7 days after this run's first (counted in memory)")
        message = (f"#{tag} not queried: IG user {self.user_id} has queried {claim.used} of "
                   f"{HASHTAG_LIMIT} unique hashtags in the last 7 days (the Graph API's limit); "
                   f"{frees}")
        self.logger.warning("%s", message)
        return self.reject("hashtag_limit", message, url=self.search_url(tag),
                           item_type="HashtagSightingItem")

    async def remember(self, tag: str, hashtag_id: str) -> None:
        from models import quota

        self.hashtag_ids[tag] = hashtag_id
        try:
            await QuotaBook.of(self.crawler).db(quota.remember_hashtag_id, self.ledger_account,
                                                tag, hashtag_id)
        except Exception:
            self.stat("graph/hashtag_ids_not_stored")

    # -- callbacks ---------------------------------------------------------------------------

    async def parse_hashtag_search(self, response: Response, tag: str) -> AsyncIterator[Any]:
        data = self.decode(response)
        results = graph.hashtag_search_results(data)
        if not results:
            raise UnrecognisedDocument(f"ig_hashtag_search knows no #{tag}",
                                       reason="hashtag_not_found")
        hashtag_id = results[0][1]
        await self.remember(tag, hashtag_id)
        for request in self.media_requests(tag, hashtag_id):
            yield request

    async def parse_hashtag_media(self, response: Response, tag: str, hashtag_id: str,
                                  listing: str, page: int, offset: int) -> AsyncIterator[Any]:
        data = self.decode(response)
        found = graph.parse_hashtag_media(data, hashtag=tag, listing=listing,
                                          position_offset=offset, url=response.url,
                                          fetched_at=utcnow(), authors=self.author_of_media)
        room = max(0, self.args.max_posts - offset)
        sightings, posts = found.sightings[:room], found.posts[:room]
        known = await self.known_authors([p for p in posts if not p.author_handle])
        for sighting, post in zip(sightings, posts, strict=True):
            handle = post.author_handle or known.get(post.post_id or "")
            sighting.author_handle = post.author_handle = handle
        self.stat(f"graph/{listing}_media", len(posts))
        self.stat("graph/media_with_author", sum(1 for p in posts if p.author_handle))
        for sighting, post in zip(sightings, posts, strict=True):
            yield sighting
            yield post
        for post in posts:
            if post.author_handle:
                for request in self.consider_handle(post.author_handle, tag):
                    yield request
        for request in self.candidate_requests(tag, sightings, posts):
            yield request
        offset += len(posts)
        if found.after and posts and page < self.args.max_pages and offset < self.args.max_posts:
            yield self.media_request(tag, hashtag_id, listing, after=found.after, page=page + 1,
                                     offset=offset)

    def candidate_requests(self, tag: str, sightings: list[HashtagSightingItem],
                           posts: list[PostItem]) -> list[Request]:
        """business_discovery of the caption words that may name each unattributed post's
        author (each account once a run)."""
        limit = self.params.author_candidates
        wanted: dict[str, list[tuple[HashtagSightingItem, PostItem]]] = {}
        for sighting, post in zip(sightings, posts, strict=True):
            if post.author_handle or not limit:
                continue
            for handle in graph.caption_candidates(post.text, limit):
                try:
                    handle = normalize_instagram_handle(handle)
                except ValueError:
                    continue
                # copies: the pipelines change the items already sent
                wanted.setdefault(handle, []).append((copy.deepcopy(sighting), copy.deepcopy(post)))
        out: list[Request] = []
        for handle, named in wanted.items():
            out.extend(self.consider_handle(handle, tag, candidate=True, named=named))
        return out

    async def known_authors(self, posts: list[PostItem]) -> dict[str, str]:
        """Graph media id -> author handle of the posts the warehouse already knows with
        their author (by the same media id or the same permalink)."""
        ids = [p.post_id for p in posts if p.post_id]
        codes = {p.post_id: graph.shortcode(p.url) for p in posts if p.post_id}
        urls = sorted({url for code in codes.values() if code
                       for url in graph.permalink_variants(code)})
        if not ids:
            return {}
        try:
            rows = await QuotaBook.of(self.crawler).db(lookup_authors, ids, urls)
        except Exception as exc:
            if "authors" not in self.warned:
                self.warned.add("authors")
                self.logger.info("Authors of hashtag media come from this run only (no "
                                 "warehouse to look earlier sweeps up in: %s)",
                                 str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            return {}
        by_id = {post_id: handle for post_id, _, handle in rows}
        by_code = {graph.shortcode(url): handle for _, url, handle in rows if graph.shortcode(url)}
        found: dict[str, str] = {}
        for post_id, code in codes.items():
            handle = by_id.get(post_id or "") or (by_code.get(code) if code else None)
            if post_id and handle:
                found[post_id] = handle
        self.stat("graph/authors_from_warehouse", len(found))
        return found

    def parse_discovery(self, response: Response, handle: str, discovered_via: str | None,
                        named: list[tuple[HashtagSightingItem, PostItem]]) -> Output:
        """A business_discovery answer: the profile; for a candidate author, the sightings
        its media prove it wrote."""
        candidate = response.meta.get("microscout_kind") == "candidate"
        named = [*named, *self.awaiting.pop(handle, [])]
        data = self.decode(response, missing_ok=candidate)
        if data is None:  # a guess that names no business or creator account
            self.stat("graph/candidates_not_discoverable")
            return
        page = graph.parse_business_discovery(data, url=response.url, fetched_at=utcnow())
        profile = page.profile
        if profile is None or not profile.handle:
            raise UnrecognisedDocument(f"business_discovery of {handle} names no account")
        for post in page.posts:
            if post.post_id:
                self.author_of_media[post.post_id] = profile.handle
        own = {p.post_id for p in page.posts}
        for sighting, post in named:
            if post.post_id in own and not sighting.author_handle:
                sighting.author_handle = post.author_handle = profile.handle
                self.stat("graph/authors_verified")
                yield sighting
                yield post
        if candidate and not any(post.post_id in own for _, post in named):
            self.stat("graph/candidates_not_author")
        if isinstance(profile.followers, int) and not self.args.in_range(profile.followers):
            self.stat("skipped_out_of_range")
            return
        profile.discovered_via = discovered_via
        profile.recent_posts = profile.recent_posts[: self.args.recent_posts]
        if (len(profile.recent_posts) < self.args.recent_posts and page.after
                and len(page.posts) >= min(self.args.recent_posts, self.media_page)
                and (page.media_count is None or len(profile.recent_posts) < page.media_count)):
            yield self.media_page_request(profile, page.after)
            return
        yield self.finish(profile)

    def parse_media_page(self, response: Response, profile: ProfileItem) -> Output:
        page = graph.parse_business_discovery(self.decode(response))
        known = {p.post_id for p in profile.recent_posts}
        for post in page.posts:
            post.author_handle = profile.handle
            if post.post_id and post.post_id not in known:
                profile.recent_posts.append(post)
                self.author_of_media[post.post_id] = profile.handle or ""
        if len(profile.recent_posts) < self.args.recent_posts and page.after and page.posts:
            yield self.media_page_request(profile, page.after)
            return
        yield self.finish(profile)

    # -- the protocol's hooks ----------------------------------------------------------------

    def reject(self, reason: str, detail: str | None, *, url: str | None,
               request: Request | None = None, payload: Any = None,
               item_type: str | None = None) -> RejectedItem:
        """A quarantine row, the token masked in a kept body: Graph answers may echo it (a
        ``paging.next`` URL of a call that sent it as ``access_token``)."""
        token = self.token
        if token and isinstance(payload, str):
            payload = payload.replace(token, "***")
        if token and isinstance(detail, str):
            detail = detail.replace(token, "***")
        return super().reject(reason, detail, url=url, request=request, payload=payload,
                              item_type=item_type)

    def decode(self, response: Response, *, missing_ok: bool = False) -> Any:
        """The answer's data; raises for a Graph error (rate limits are retried after a pause,
        a dead token or missing permission closes the crawl) and reads the usage headers."""
        self.note_usage(response)
        data = super().decode(response)
        error = graph.graph_error(data)
        if error is not None:
            self.stat(f"graph/errors/{error.code}")
            if missing_ok and error.reason == "not_discoverable":
                return None
            if error.fatal:
                self.fatal_reason = self.fatal_reason or error.reason
            if error.reason == "hashtag_limit" and self.crawler.stats is not None:
                self.crawler.stats.inc_value("microscout/quota/refused")
            raise graph.error_as_exception(error)
        if response.status >= 400:
            raise CrawlError(f"HTTP {response.status}", reason="request_failed")
        if not isinstance(data, dict):
            raise UnrecognisedDocument(f"a Graph API answer is an object, not {type(data).__name__}")
        return data

    def note_usage(self, response: Response) -> None:
        """Pause the host when X-App-Usage / X-Business-Use-Case-Usage near the limit."""
        usage = graph.usage(response.headers)
        self.last_usage = usage
        if usage is None:
            return
        stats = self.crawler.stats if getattr(self, "crawler", None) is not None else None
        if stats is not None:
            stats.max_value("microscout/instagram/graph/usage_max_percent", usage.percent)
        threshold = float(self.setting("MICROSCOUT_INSTAGRAM_GRAPH_USAGE_PAUSE", 90.0) or 90.0)
        if usage.percent < threshold and not usage.regain_minutes:
            return
        seconds = usage.regain_minutes * 60 or float(
            self.setting("MICROSCOUT_RATELIMIT_BODY_WAIT", 60.0) or 60.0)
        paused = self.pause_host(response.request, seconds)
        self.stat("graph/usage_paused")
        self.logger.info("Graph API usage at %.0f%% (%s), pause threshold %.0f%%: pausing the "
                         "host for %.1fs before the limit", usage.percent, usage.where,
                         threshold, paused)

    def pause_host(self, request: Request | None, seconds: float) -> float:
        from crawler.middlewares import RateLimitMiddleware

        limiter = RateLimitMiddleware.of(getattr(self, "crawler", None))
        if limiter is None or request is None:
            return 0.0
        seconds = limiter.cap(seconds)
        started, added = limiter.slots.pause(limiter.slot_key(request), seconds)
        stats = self.crawler.stats
        if stats is not None:
            if started:
                stats.inc_value("microscout/ratelimit/paused")
            if added > 0:
                key = "microscout/ratelimit/wait_seconds"
                stats.set_value(key, round(stats.get_value(key, 0) + added, 3))
        return seconds

    def on_rate_limited(self, request: Request | None, error: Any) -> float:
        """A rate-limit error: pause for the time the usage headers give, else the default."""
        regain = self.last_usage.regain_minutes if self.last_usage is not None else 0.0
        if regain > 0:
            self.stat("rate_limited_bodies")
            return self.pause_host(request, regain * 60)
        return super().on_rate_limited(request, error)

    def describe(self, failure: Failure) -> tuple[str, str | None, Any]:
        """A Graph error body behind a failed request (a 5xx after retries) says why."""
        if failure.check(HttpError):
            response = failure.value.response
            self.note_usage(response)
            text = body_text(response)
            try:
                error = graph.graph_error(loads_json(text))
            except ValueError:
                error = None
            if error is not None:
                if error.fatal:
                    self.fatal_reason = self.fatal_reason or error.reason
                return error.reason, f"HTTP {response.status}: {error.text}", text[:PAYLOAD_CHARS]
        return super().describe(failure)

    def after_failure(self, request: Request | None) -> Iterable[Any]:
        """A profile waiting for more media is yielded with what it has; after a dead token
        or a missing permission the crawl ends."""
        if request is not None:
            kind = request.meta.get("microscout_kind")
            if kind == "media_page":
                yield self.finish(request.cb_kwargs["profile"])
            elif kind in ("profile", "candidate"):
                self.awaiting.pop(request.cb_kwargs.get("handle", ""), None)
        if self.fatal_reason:
            raise CloseSpider(f"instagram_graph_{self.fatal_reason}")


__all__ = ["InstagramGraphSpider", "lookup_authors"]
