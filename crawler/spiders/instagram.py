"""Instagram spider: hashtag sweeps and handle lists over the web client's JSON endpoints.

    scrapy crawl instagram -a tags=veganfood,plantbased [-a min_followers=1000 -a max_followers=99999]
    scrapy crawl instagram -a handles=alice,https://www.instagram.com/bob/
    scrapy crawl instagram -a tags=vegan -a base_url=http://127.0.0.1:8123   # the sandbox

Tag sweep: the GraphQL hashtag page
``/graphql/query/?query_hash=<HASHTAG_QUERY_HASH>&variables={"tag_name","first","after"}``,
page by page along ``page_info.end_cursor`` (``max_pages`` pages; ``max_posts`` entries of
the recent listing, 50 a page). The first page's ``edge_hashtag_to_top_posts`` and every
page's ``edge_hashtag_to_media`` become ``HashtagSightingItem`` rows (``listing`` top /
recent, 0-based ``position``; ``-a listing=top|recent`` keeps one of them). Listing nodes
name only ``owner.id``: each new owner (once a run) is resolved through one of their posts'
JSON (``/p/<shortcode>/?__a=1&__d=dis``), which names the username and, when it carries
``owner.edge_followed_by``, lets an out-of-range owner be skipped without another request;
then ``/api/v1/users/web_profile_info/?username=`` (sent with the web client's
``x-ig-app-id`` header) gives one ``ProfileItem`` with the 12 newest posts. A sighting is
held until its owner is resolved, so it leaves with ``author_handle`` set (or None when the
owner could not be resolved). More than 12 ``recent_posts`` cost GraphQL user-media pages
(``query_hash=<USER_MEDIA_QUERY_HASH>``, ``{"id","first","after"}``).

Handle list: ``web_profile_info`` per handle (``-a profile_source=html`` reads the profile
page instead: ``_sharedData`` when present, otherwise the ``og:description`` counts only).

Hosts: ``-a base_url=`` (default https://www.instagram.com); the API host is
i.instagram.com for the real site and the same origin otherwise (the sandbox). Both hosts
share one download slot, so ``MICROSCOUT_RATE_LIMIT_INSTAGRAM`` (3 s by default) paces the
platform as a whole. ``MICROSCOUT_INSTAGRAM_SESSIONID`` is the ``sessionid`` cookie of one
credential per host the spider talks to (:meth:`InstagramSpider.credentials`; the credentials
middleware sends it there only, with ``MICROSCOUT_PROXY``; ``run_args`` name those hosts under
``credential_hosts``; masked in every log line, ``COOKIES_DEBUG`` included, and the cassette
filters the Cookie header).

What is not data is recorded, never parsed as an empty profile (:meth:`InstagramSpider.decode`
raises the typed errors; the quarantine middleware records them):

* a redirect to ``/accounts/login/`` is not followed: ``login_required`` (``dont_redirect``;
  3xx reach the callback); a checkpoint (``checkpoint_required`` JSON or a redirect to
  ``/challenge/``): ``checkpoint_required``. Stats ``microscout/instagram/blocked/<reason>``.
  Another redirect on the site is followed (3 hops at most), one elsewhere is
  ``unexpected_redirect``;
* a 429 is retried by Scrapy after the ``Retry-After`` pause (RateLimitMiddleware); a
  "Please wait a few minutes" body (status 200 or 401) first pauses the host the same way
  (``MICROSCOUT_RATELIMIT_BODY_WAIT`` seconds, default 60; ``microscout/ratelimit/paused``),
  then is retried (``retry/reason_count/rate_limited``); exhausted: ``rate_limited``;
* a body that is not JSON (or an HTML page cut short) is retried, then ``bad_json`` /
  ``truncated``; an unknown account ``profile_not_found``; other failures as for every spider
  (``request_failed``, ``robots_disallowed``, ``not_found``, ...).

A failed owner lookup releases the owner's held sightings without a handle; a failed
user-media page still yields its profile (:meth:`InstagramSpider.after_failure`).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

from scrapy.http import Request, Response

from crawler.credentials import Credential
from crawler.distributed import LOCAL_META
from crawler.errors import CrawlError, FollowUp, RetryableBody, UnrecognisedDocument
from crawler.items import HashtagSightingItem, PostItem, ProfileItem, RejectedItem
from crawler.parsers import instagram as ig
from crawler.parsers import loads_json
from crawler.platforms import REGISTRY
from crawler.spiders.args import BaseUrlParams, choice_arg, param
from crawler.spiders.base import (
    BaseSpider,
    Output,
    body_text,
    normalize_base_url,
    size_detail,
    utcnow,
)

PAGE_SIZE = 50  # entries of a hashtag or user-media page (``first``)
TIMELINE_POSTS = 12  # posts a profile body carries
MAX_RECENT_POSTS = 200
MAX_REDIRECTS = 3
#: Answers the callbacks read themselves: redirects (login walls are not followed) and the
#: client errors whose bodies say what happened (checkpoint_required, login_required, ...).
HANDLED_STATUSES = [301, 302, 303, 307, 308, 400, 401, 403, 404]
PROFILE_SOURCES = ("api", "html")
#: Headers of the web client's JSON calls, and of a page load.
API_HEADERS = {"Accept": "application/json", "X-IG-App-ID": ig.APP_ID,
               "X-Requested-With": "XMLHttpRequest"}
PAGE_HEADERS = {"Accept": "text/html,application/xhtml+xml"}

_USERNAME = re.compile(r"[a-z0-9._]{1,30}")


def is_instagram_host(host: str) -> bool:
    return host == "instagram.com" or host.endswith(".instagram.com")


def normalize_instagram_handle(value: str) -> str:
    """'@Alice', 'https://www.instagram.com/alice/' -> 'alice'; ValueError for what is not an
    Instagram username or profile URL."""
    text = value.strip()
    if text.startswith(("http://", "https://")):
        parts = urlsplit(text)
        segments = [s for s in parts.path.split("/") if s]
        if not (is_instagram_host((parts.hostname or "").lower()) and len(segments) == 1):
            raise ValueError(f"handles: {text!r} is not a profile URL like "
                             "https://www.instagram.com/user/")
        handle = segments[0].lower()
    else:
        handle = text.lstrip("@").lower()
    if not _USERNAME.fullmatch(handle):
        raise ValueError(f"handles: {handle!r} is not an Instagram username "
                         "(letters, digits, '.', '_')")
    return handle


@dataclass
class InstagramParams(BaseUrlParams):
    """``base_url`` and ``profile_source`` (api: web_profile_info, html: the profile page)."""

    profile_source: str = param("api", parse=choice_arg("profile_source", PROFILE_SOURCES))


class InstagramSpider(BaseSpider):
    name = "instagram"
    platform: ClassVar[str] = "instagram"
    #: Both listings come on one page: "all" keeps both, "top" / "recent" one of them.
    listings: ClassVar[tuple[str, ...]] = ("all", "top", "recent")
    max_recent_posts: ClassVar[int | None] = MAX_RECENT_POSTS
    default_recent_posts: ClassVar[int] = TIMELINE_POSTS  # more costs a GraphQL page per author
    params_model = InstagramParams
    default_base_url: ClassVar[str] = REGISTRY["instagram"].default_base_url
    base_url_aliases: ClassVar[tuple[str, ...]] = REGISTRY["instagram"].base_url_aliases
    item_types: ClassVar[dict[str, str]] = {"tag": "HashtagSightingItem",
                                            "owner": "HashtagSightingItem"}
    params: InstagramParams

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        host = urlsplit(self.base_url).hostname or ""
        live = is_instagram_host(host)
        self.api_url = "https://i.instagram.com" if live else self.base_url
        # OffsiteMiddleware: instagram.com and its subdomains, or the sandbox's host.
        self.allowed_domains = ["instagram.com"] if live else [host]
        # One download slot for www. and i.: the per-platform delay paces the platform.
        self.download_slot = "instagram.com" if live else host
        self.handles_by_owner: dict[str, str] = {}  # owner id -> handle, once resolved
        self.owner_state: dict[str, str] = {}  # owner id -> resolving / resolved / failed
        self.pending: dict[str, list[HashtagSightingItem]] = {}  # owner id -> held sightings
        self.seen_handles: set[str] = set()

    @classmethod
    def normalize_handle(cls, value: str) -> str:
        return normalize_instagram_handle(value)

    @property
    def profile_source(self) -> str:
        return self.params.profile_source

    @property
    def hosts(self) -> list[str]:
        """The hosts this spider talks to, with their ports (www. and i. live, else the sandbox)."""
        return list(dict.fromkeys(urlsplit(url).netloc for url in (self.base_url,
                                                                           self.api_url)))

    def credentials(self) -> list[Credential]:
        session = self.setting("MICROSCOUT_INSTAGRAM_SESSIONID")
        if not session:
            return []
        return [Credential(host=host, cookies={"sessionid": str(session)}) for host in self.hosts]

    # -- requests ------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        for tag in self.args.tags:
            yield self.tag_request(tag)
        for handle in self.args.handles:
            for request in self.consider_handle(handle, self.handles_label):
                yield request

    @property
    def request_meta(self) -> dict[str, Any]:
        """Every request: 3xx and client errors reach the callback, one download slot."""
        return {"dont_redirect": True, "handle_httpstatus_list": HANDLED_STATUSES,
                "download_slot": self.download_slot}

    def tag_request(self, tag: str, *, after: str | None = None, page: int = 1,
                    offset: int = 0) -> Request:
        # "top" needs the first page's top posts only: ask for one recent post with them.
        first = 1 if self.args.listing == "top" else max(
            1, min(PAGE_SIZE, self.args.max_posts - offset))
        variables: dict[str, Any] = {"tag_name": tag, "first": first}
        if after:
            variables["after"] = after
        url = (f"{self.base_url}/graphql/query/?query_hash={ig.HASHTAG_QUERY_HASH}"
               f"&variables={quote(json.dumps(variables, separators=(',', ':')), safe='')}")
        return self.request(url, self.parse_tag_page, "tag", headers=API_HEADERS,
                            meta=self.request_meta,
                            cb_kwargs={"tag": tag, "page": page, "offset": offset})

    def owner_request(self, owner_id: str, shortcode: str, discovered_via: str | None) -> Request:
        url = f"{self.base_url}/p/{quote(shortcode, safe='')}/?__a=1&__d=dis"
        # A job's worker keeps its owner look-ups (its held sightings wait for them).
        meta = {**self.request_meta, LOCAL_META: True} if self.in_job else self.request_meta
        return self.request(url, self.parse_owner_post, "owner", priority=10,
                            headers=API_HEADERS, meta=meta,
                            cb_kwargs={"owner_id": owner_id, "discovered_via": discovered_via})

    def profile_request(self, handle: str, discovered_via: str | None) -> Request:
        if self.profile_source == "html":
            url, headers = f"{self.base_url}/{quote(handle, safe='')}/", PAGE_HEADERS
        else:
            url = f"{self.api_url}/api/v1/users/web_profile_info/?username={quote(handle, safe='')}"
            headers = API_HEADERS
        return self.request(url, self.parse_profile, "profile", priority=20, headers=headers,
                            meta=self.request_meta,
                            cb_kwargs={"handle": handle, "discovered_via": discovered_via})

    def media_request(self, profile: ProfileItem, after: str) -> Request:
        need = self.args.recent_posts - len(profile.recent_posts)
        variables = {"id": profile.platform_user_id, "first": max(1, min(PAGE_SIZE, need)),
                     "after": after}
        url = (f"{self.base_url}/graphql/query/?query_hash={ig.USER_MEDIA_QUERY_HASH}"
               f"&variables={quote(json.dumps(variables, separators=(',', ':')), safe='')}")
        return self.request(url, self.parse_user_media, "media", priority=30,
                            headers=API_HEADERS, meta=self.request_meta,
                            cb_kwargs={"profile": profile})

    # -- callbacks -----------------------------------------------------------------------

    def parse_tag_page(self, response: Response, tag: str, page: int, offset: int) -> Output:
        data = self.decode(response)
        inner = data.get("data") if isinstance(data, dict) else None
        if not isinstance(inner, dict) or not isinstance(inner.get("hashtag"), dict):
            known_empty = isinstance(inner, dict) and "hashtag" in inner
            raise UnrecognisedDocument(
                f"#{tag}", reason="hashtag_not_found" if known_empty else "unexpected_body")
        listing = self.args.listing
        media = ig.parse_hashtag_page(
            data, url=response.url, fetched_at=utcnow(), handles=self.handles_by_owner,
            position_offset=offset, include_top=page == 1 and listing != "recent",
        )
        self.stat("tag_pages")
        room = self.args.max_posts - offset
        sightings = []
        for item in media.items:
            if not isinstance(item, HashtagSightingItem):
                continue
            if item.listing == "recent":
                if listing == "top" or room <= 0:
                    continue
                room -= 1
            sightings.append(item)
        for sighting in sightings:
            yield from self.place_sighting(sighting, media, discovered_via=tag)
        offset += sum(1 for s in sightings if s.listing == "recent")
        cursor = media.next_cursor
        if listing != "top" and cursor and page < self.args.max_pages and (
                offset < self.args.max_posts):
            yield self.tag_request(tag, after=cursor, page=page + 1, offset=offset)

    def place_sighting(self, sighting: HashtagSightingItem, media: ig.MediaPage, *,
                       discovered_via: str) -> Output:
        """Yield a sighting whose author is known; hold the others until the owner resolves
        (asking for each owner once a run)."""
        if sighting.author_handle:
            yield sighting
            return
        owner_id = media.owner_of.get(sighting.post_id or "")
        state = self.owner_state.get(owner_id or "")
        if owner_id is None or state in ("resolved", "failed"):
            yield sighting
            return
        code = media.owners.get(owner_id)
        if state is None and code is None:  # no post of theirs to ask about
            yield from self.owner_failed(owner_id)
            yield sighting
            return
        self.pending.setdefault(owner_id, []).append(sighting)
        if state is None and code is not None:
            self.owner_state[owner_id] = "resolving"
            self.stat("owners_requested")
            yield self.owner_request(owner_id, code, discovered_via)

    def holding(self) -> bool:
        """Sightings wait in memory for their owner's look-up."""
        return bool(self.pending)

    def parse_owner_post(self, response: Response, owner_id: str,
                         discovered_via: str | None) -> Output:
        owner = ig.owner_of_post(self.decode(response))
        if not owner.handle or (owner.id and owner.id != owner_id):
            raise UnrecognisedDocument(f"the post does not name owner {owner_id}")
        self.stat("owners_resolved")
        self.owner_state[owner_id] = "resolved"
        self.handles_by_owner[owner_id] = owner.handle
        for sighting in self.pending.pop(owner_id, []):
            sighting.author_handle = owner.handle
            yield sighting
        if not self.args.in_range(owner.followers):
            self.stat("skipped_out_of_range")
            return
        yield from self.consider_handle(owner.handle, discovered_via)

    def owner_failed(self, owner_id: str) -> Output:
        """The owner cannot be resolved this run: release their sightings without a handle."""
        self.owner_state[owner_id] = "failed"
        self.stat("owners_unresolved")
        yield from self.pending.pop(owner_id, [])

    def consider_handle(self, handle: str, discovered_via: str | None) -> Output:
        """Request a profile once a run (not at all when a resumed run loaded it already)."""
        if handle in self.seen_handles:
            return
        self.seen_handles.add(handle)
        if self.already_loaded(self.platform, handle):
            return
        self.stat("profiles_requested")
        yield self.profile_request(handle, discovered_via)

    def parse_profile(self, response: Response, handle: str, discovered_via: str | None) -> Output:
        data = self.decode(response)
        items = ig.parse_document(data, url=response.url, fetched_at=utcnow())
        profile = next((i for i in items if isinstance(i, ProfileItem)), None)
        if profile is None:
            rejected = next((i for i in items if isinstance(i, RejectedItem)), None)
            if rejected is not None:  # the parser's own verdict (profile_not_found)
                raise UnrecognisedDocument(f"{rejected.detail} ({handle})", reason=rejected.reason)
            raise UnrecognisedDocument(f"no profile of {handle}")
        if isinstance(profile.followers, int) and not self.args.in_range(profile.followers):
            self.stat("skipped_out_of_range")
            return
        profile.discovered_via = discovered_via
        cursor, has_next = ig.page_info(data)
        if (len(profile.recent_posts) < self.args.recent_posts and has_next and cursor
                and profile.platform_user_id):
            yield self.media_request(profile, cursor)
            return
        yield self.finish(profile)

    def parse_user_media(self, response: Response, profile: ProfileItem) -> Output:
        page = ig.parse_user_media_page(self.decode(response), handles={
            profile.platform_user_id or "": profile.handle or ""})
        known = {p.post_id for p in profile.recent_posts}
        profile.recent_posts.extend(p for p in page.items if isinstance(p, PostItem)
                                    and p.post_id and p.post_id not in known)
        if len(profile.recent_posts) < self.args.recent_posts and page.next_cursor:
            yield self.media_request(profile, page.next_cursor)
            return
        yield self.finish(profile)

    # -- the protocol's hooks --------------------------------------------------------------

    def decode(self, response: Response) -> Any:
        """The body as JSON (a dict) or page text; raises for what is not data: a redirect
        (a login wall or checkpoint, one to follow, one off the site), a blocked body, a body
        that does not decode or is cut short, an error status."""
        status = response.status
        if 300 <= status < 400:
            raise self.redirect_error(response)
        text = body_text(response)
        stripped = text.lstrip()
        if stripped.startswith(("{", "[", "for (;;);")):
            try:
                data: Any = loads_json(stripped.removeprefix("for (;;);"))
            except ValueError:
                raise RetryableBody(size_detail(response), reason="bad_json") from None
            if isinstance(data, dict):
                try:
                    ig.check_blocked(data)
                except UnrecognisedDocument:  # a "status": "fail" body
                    if status < 400:
                        raise  # an error status says more (below)
        else:
            data = text
            lowered = text.lower()
            if status == 200 and "<html" in lowered[:1024] and "</html>" not in lowered[-1024:]:
                raise RetryableBody(size_detail(response), reason="truncated")
        if status >= 400:
            reason = "request_failed"
            if status == 404:
                kind = response.meta.get("microscout_kind")
                reason = "profile_not_found" if kind == "profile" else "not_found"
            raise CrawlError(f"HTTP {status}", reason=reason)
        return data

    def redirect_error(self, response: Response) -> Exception:
        """What a 3xx is: a login wall or checkpoint, a redirect on the site to follow
        (:class:`FollowUp`), or an ``unexpected_redirect``."""
        raw = response.headers.get("Location")
        location = raw.decode("latin-1") if raw else None
        target = response.urljoin(location) if location else None
        blocked = ig.redirect_block(target)
        if blocked is not None:
            return blocked
        request = response.request
        assert request is not None  # a downloaded response always has its request
        hops = request.meta.get("microscout_redirects", 0)
        host = (urlsplit(target).hostname or "") if target else ""
        on_site = any(host == d or host.endswith("." + d) for d in self.allowed_domains)
        if target and on_site and hops < MAX_REDIRECTS:
            # cookies={}: the credentials middleware applies the credential of the new host.
            return FollowUp(request.replace(url=target, cookies={}, meta={
                **request.meta, "microscout_redirects": hops + 1}))
        return CrawlError(f"HTTP {response.status} to {location}",
                          reason="unexpected_redirect")

    def after_failure(self, request: Request | None) -> Output:
        """What a failed request leaves behind: an owner's held sightings (released without
        a handle), a profile waiting for more posts (yielded with what it has)."""
        if request is None:
            return
        kind = request.meta.get("microscout_kind")
        if kind == "owner":
            yield from self.owner_failed(request.cb_kwargs["owner_id"])
        elif kind == "media":
            yield self.finish(request.cb_kwargs["profile"])


__all__ = ["InstagramSpider", "normalize_base_url", "normalize_instagram_handle"]
