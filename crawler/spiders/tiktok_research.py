"""TikTok Research API spider: hashtag sweeps and handle lists through TikTok's official API.

    scrapy crawl tiktok -a source=research -a tags=veganfood [-a days=90] [-a regions=US,CA]
    scrapy crawl tiktok_research -a tags=vegan -a since=2026-09-01 -a until=2026-09-30
    scrapy crawl tiktok_research -a handles=alice,bob
    scrapy crawl tiktok_research -a tags=vegan -a base_url=http://127.0.0.1:8123   # the sandbox

It needs a Research API client (``MICROSCOUT_TIKTOK_CLIENT_KEY`` and
``MICROSCOUT_TIKTOK_CLIENT_SECRET``: academic and non-profit researchers, see
``docs/tiktok.md``).

Auth: a client-credentials token from ``POST /v2/oauth/token/`` (the key and secret travel in
that form body only; the request stays on the worker that made it, never in a job's Redis
queue, and its answer never becomes a quarantine payload). The token is registered with
:mod:`crawler.redact` (masked in every log line) and sent as ``Authorization: Bearer`` by
:meth:`TikTokResearchSpider.credentials` to the API's host only. The API host follows
``base_url``: https://open.tiktokapis.com for the live site (https://www.tiktok.com, the
default), the base URL's own origin otherwise (the sandbox serves the API beside the web
pages), so a sandbox never gets the live client's token. A token (it lasts ``expires_in``,
7,200 s) is renewed when a request leaves with less than ``refresh_margin`` seconds of it left
(default 300, at most half its life), and once more after a ``401 access_token_invalid``: the
refused request waits for the new token and goes out again once; refused again, it is
recorded.

Hashtag sweep: ``POST /v2/research/video/query/`` with ``hashtag_name IN [tag]`` (and
``region_code IN [...]`` with ``regions``) over date windows of at most 30 days (the API's
limit), newest first, covering the ``days`` days up to ``until`` (default: the last 30 days up
to today, UTC) or ``since``..``until``; each window is paged with the ``cursor`` and
``search_id`` the API returns while ``has_more``, then the next window; ``max_pages`` calls and
``max_posts`` videos a tag. Every video is a ``HashtagSightingItem`` (listing ``recent``: the
API returns videos by descending id; ``author_handle`` the cleaned username) and a
``PostItem`` (likes, comments, shares, views, hashtags, creation time; a count the API left out
stays None, never 0). Usernames are cleaned of control characters (the API has returned
``\\u0000`` in them); a video whose username is empty after that has no author.

Profiles: ``POST /v2/research/user/info/`` once a run for each new username (not for accounts
this run already loaded) gives a ``ProfileItem`` (followers, following, videos, bio, verified;
no recording of this endpoint exists, the parser follows the API reference) whose
``recent_posts`` are that account's videos from the query page that found it. Accounts out of
the follower range are dropped (``skipped_out_of_range``) and their videos kept as posts;
private, deleted and unknown accounts are quarantined with the API's message (``not_found``,
``unavailable``), their videos kept as posts. A handle list (``-a handles=``) asks user info,
then the account's newest videos with one video query ``username IN [handle]`` over the newest
window.

Budgets (:mod:`crawler.quota`): each API call books ``tiktok_research`` ``requests=1`` and
``records`` before it leaves: ``max_count`` for a video query (given back, less what came,
when the answer arrives; all of it when the call failed) and 1 for a user info (one account is
one record). The token call costs nothing. When a budget is spent the crawl stops
(``quota_exhausted``); the next run the same UTC day gets what is left. A ``429
rate_limit_exceeded`` pauses the API host (``Retry-After`` when given, else
``MICROSCOUT_RATELIMIT_BODY_WAIT``) and is retried (``RETRY_TIMES``); a ``429
daily_quota_limit_exceeded``, a refused client (``invalid_client``, ``scope_not_authorized``)
or a token that cannot be had is recorded and closes the crawl
(``tiktok_research_<code>``). Research API calls skip robots.txt (``dont_obey_robotstxt``).

Arguments besides the common ones: ``base_url``, ``source`` (``research``, its only value),
``days`` (1 to 3650, default 30), ``since`` / ``until`` (``2026-09-30`` or ``20260930``;
``until`` not after today), ``regions`` (two-letter codes), ``refresh_margin`` (seconds).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, ClassVar
from urllib.parse import urlsplit

from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import CloseSpider
from scrapy.http import FormRequest, Request, Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler import redact
from crawler.credentials import Credential
from crawler.distributed import LOCAL_META
from crawler.errors import BlockedPage
from crawler.items import HashtagSightingItem, PostItem, ProfileItem
from crawler.parsers import loads_json
from crawler.parsers import tiktok_research as research
from crawler.platforms import REGISTRY
from crawler.quota import META as QUOTA_META
from crawler.quota import QuotaBook, account_of, cost
from crawler.spiders.args import BaseUrlParams, Params, choice_arg, float_arg, param
from crawler.spiders.base import PAYLOAD_CHARS, BaseSpider, Output, body_text, utcnow
from crawler.spiders.tiktok import TikTokSpider

PLATFORM = REGISTRY["tiktok"]
API = "tiktok_research"
DEFAULT_DAYS = 30
MAX_DAYS = 3650
#: A window spans at most this many days, start and end included (its end is 29 days after
#: its start: within the API's rule of at most 30, however it counts).
WINDOW_DAYS = research.MAX_WINDOW_DAYS
DEFAULT_REFRESH_MARGIN = 300.0
#: request.meta: the records a call reserved (given back when fewer came).
RECORDS_META = "microscout_records"
#: Meta the downloader wrote on a request's last pass, not carried into a retry.
DOWNLOAD_META = frozenset({"download_latency", "retry_times", "_auth_proxy", "_scheme_proxy",
                           "redirect_times", "redirect_ttl", "redirect_urls", "redirect_reasons"})
#: Error codes after which no call can succeed today (or at all): the crawl closes.
FATAL_CODES = frozenset({"daily_quota_limit_exceeded", *research.SCOPE_ERRORS})


def today() -> date:
    return datetime.now(timezone.utc).date()


def _day(name: str) -> Any:
    def parse(value: Any, spider_cls: Any) -> str:
        text = str(value).strip()
        for fmt in ("%Y-%m-%d", "%Y%m%d"):
            try:
                return datetime.strptime(text, fmt).date().isoformat()
            except ValueError:
                continue
        raise ValueError(f"{name} must be a date like 2026-09-30 (or 20260930), got {text!r}")
    return parse


def _days(value: Any, spider_cls: Any) -> int:
    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_DAYS:
        raise ValueError(f"days must be a whole number from 1 to {MAX_DAYS}, got {text!r}")
    return int(text)


def _regions(value: Any, spider_cls: Any) -> tuple[str, ...]:
    parts = value if isinstance(value, (list, tuple)) else str(value).split(",")
    return tuple(dict.fromkeys(research.check_region(str(p)) for p in parts if str(p).strip()))


@dataclass
class ResearchParams(BaseUrlParams):
    source: str = param("research", parse=choice_arg("source", ("research",)))
    days: int | None = param(None, parse=_days)
    since: str | None = param(None, parse=_day("since"))
    until: str | None = param(None, parse=_day("until"))
    regions: tuple[str, ...] = param((), parse=_regions)
    refresh_margin: float = param(DEFAULT_REFRESH_MARGIN, parse=float_arg("refresh_margin"))

    def validate(self, spider_cls: Any) -> None:
        if self.days is not None and self.since is not None:
            raise ValueError("give days or since, not both")
        last = today()
        if self.until is not None and date.fromisoformat(self.until) > last:
            raise ValueError(f"until ({self.until}) is after today ({last.isoformat()}, UTC)")
        if self.since is not None and date.fromisoformat(self.since) > self.span()[1]:
            raise ValueError(f"since ({self.since}) is after until ({self.span()[1].isoformat()})")

    def span(self) -> tuple[date, date]:
        """The first and last day swept (UTC, both included)."""
        last = date.fromisoformat(self.until) if self.until else today()
        if self.since:
            return date.fromisoformat(self.since), last
        return last - timedelta(days=(self.days or DEFAULT_DAYS) - 1), last

    def windows(self) -> list[tuple[date, date]]:
        """The query windows, newest first, each at most WINDOW_DAYS days."""
        first, last = self.span()
        out = []
        end = last
        while end >= first:
            start = max(first, end - timedelta(days=WINDOW_DAYS - 1))
            out.append((start, end))
            end = start - timedelta(days=1)
        return out


def is_tiktok_host(host: str) -> bool:
    return host == "tiktok.com" or host.endswith(".tiktok.com")


class TikTokResearchSpider(BaseSpider):
    """See the module docstring."""

    name = "tiktok_research"
    platform: ClassVar[str] = "tiktok"
    listings: ClassVar[tuple[str, ...]] = (research.LISTING,)
    max_recent_posts: ClassVar[int | None] = research.MAX_COUNT
    default_base_url: ClassVar[str] = PLATFORM.default_base_url
    base_url_aliases: ClassVar[tuple[str, ...]] = PLATFORM.base_url_aliases
    params_model: ClassVar[type[Params]] = ResearchParams
    item_types: ClassVar[Mapping[str, str]] = {"videos": "HashtagSightingItem",
                                               "posts": "PostItem", "token": "Session"}
    params: ResearchParams

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.windows = self.params.windows()
        self.seen_users: set[str] = set()  # usernames asked for (or skipped), once a run
        self._client_key: str | None = None
        self._client_secret: str | None = None
        self._token: str | None = None
        self._expires: float | None = None  # clock() when the token ends
        self._life: float | None = None  # its expires_in
        #: A token request is on its way; requests refused meanwhile wait in ``parked``.
        self.renewing = False
        self.parked: list[Request] = []
        self.started = False
        self.fatal_reason: str | None = None
        self.clock = time.time

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> TikTokResearchSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.configure(crawler.settings)
        return spider

    @classmethod
    def update_settings(cls, settings: Any) -> None:
        """The protocol's middlewares, and 429 answers to the errback instead of
        RetryMiddleware: a daily-quota 429 must not be sent five times more, and a rate-limit
        429 is retried after the pause its body asks for (:meth:`recover`)."""
        super().update_settings(settings)
        codes = [int(code) for code in settings.getlist("RETRY_HTTP_CODES")]
        if 429 in codes:
            settings.set("RETRY_HTTP_CODES", [c for c in codes if c != 429], priority="spider")

    def configure(self, settings: Any) -> None:
        key = str(settings.get("MICROSCOUT_TIKTOK_CLIENT_KEY") or "").strip()
        secret = str(settings.get("MICROSCOUT_TIKTOK_CLIENT_SECRET") or "").strip()
        if not key or not secret:
            raise ValueError("source=research needs MICROSCOUT_TIKTOK_CLIENT_KEY and "
                             "MICROSCOUT_TIKTOK_CLIENT_SECRET (a TikTok Research API client: "
                             "see docs/tiktok.md)")
        self._client_key, self._client_secret = key, secret

    @classmethod
    def normalize_handle(cls, value: str) -> str:
        return TikTokSpider.normalize_handle(value)

    # -- where things are -----------------------------------------------------------------

    @property
    def api_base(self) -> str:
        """https://open.tiktokapis.com for the live site, else the base URL itself."""
        if is_tiktok_host(urlsplit(self.base_url).hostname or ""):
            return research.API_BASE
        return self.base_url

    @property
    def web_base(self) -> str:
        """Where profile and video URLs in items point."""
        if is_tiktok_host(urlsplit(self.base_url).hostname or ""):
            return research.WEB_BASE
        return self.base_url

    @property
    def api_host(self) -> str:
        return urlsplit(self.api_base).netloc  # with its port: sandbox hosts differ by port

    @property
    def account(self) -> str:
        """Whose budget: the API host and a fingerprint of the client key."""
        return account_of(self.api_host, self._client_key or "")

    def spider_run_args(self) -> dict[str, Any]:
        first, last = self.params.span()
        return {"source": "research", "api_base": self.api_base, "since": first.isoformat(),
                "until": last.isoformat(), "windows": len(self.windows)}

    # -- credentials ----------------------------------------------------------------------

    def credentials(self) -> list[Credential]:
        """The token as ``Authorization: Bearer`` for the API host only; asked for as each
        request leaves, so it is where a token about to end is renewed."""
        self.keep_token_fresh()
        if not self._token:
            return []
        return [Credential(host=self.api_host, headers={"Authorization": self._bearer()})]

    def credential_hosts(self) -> list[str]:
        """The API host (the client key and secret go there too, in the token request)."""
        return [self.api_host] if self._client_key else []

    def credential_identity(self) -> str | None:
        return self.account if self._client_key else None

    def _bearer(self) -> str:
        return f"Bearer {self._token}"

    def keep_token_fresh(self) -> None:
        """Ask for a new token when the current one has less than the margin left (at most
        half its life, so a fresh token never asks again at once)."""
        if not self._token or self.renewing or self._expires is None:
            return
        margin = min(self.params.refresh_margin, (self._life or 0.0) / 2)
        if self._expires - self.clock() >= margin:
            return
        if self.schedule(self.token_request(refresh=True)):
            self.renewing = True

    def schedule(self, request: Request) -> bool:
        """Hand a request to the engine (False when there is no running crawl)."""
        try:
            self.crawler.engine.crawl(request)
        except (AttributeError, RuntimeError):  # not bound to a running crawl, or closing
            return False
        return True

    def sent_with_token(self, request: Request) -> bool:
        return bool(self._token) and request.headers.get("Authorization") == self._bearer().encode()

    # -- requests -------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        first, last = self.params.span()
        self.logger.info("TikTok Research API at %s: videos from %s to %s in %d window(s)",
                         self.api_base, first, last, len(self.windows))
        yield self.token_request()

    def worker_start(self) -> list[Request]:
        """A distributed worker fetches its own token; its work comes from the job."""
        return [self.token_request()]

    def work_requests(self) -> list[Request]:
        """The first video query of each tag and the user info of each handle (sent once a
        token is there)."""
        out = [self.videos_request(tag, 0) for tag in self.args.tags]
        for handle in self.args.handles:
            if handle in self.seen_users:
                continue
            self.seen_users.add(handle)
            if not self.already_loaded(self.platform, handle):
                out.append(self.user_request(handle, self.handles_label, []))
        return out

    def holding(self) -> bool:
        return bool(self.parked or self.renewing)

    def token_request(self, *, refresh: bool = False) -> Request:
        """The client-credentials token call; its form holds the secret, so it stays on this
        worker (never in Redis) and its answer never becomes a payload."""
        return self.request(
            research.token_url(self.api_base), self.parse_token, "token", cls=FormRequest,
            formdata=research.token_form(self._client_key or "", self._client_secret or ""),
            meta={"microscout_redact": True, LOCAL_META: True, "dont_obey_robotstxt": True,
                  "microscout_refresh": refresh},
            dont_filter=True, priority=100)

    def api_request(self, url: str, payload: Mapping[str, Any], callback: Any, kind: str, *,
                    records: int, priority: int = 0, cb_kwargs: dict[str, Any]) -> Request:
        """A Research API call with its budget: one request, ``records`` records reserved."""
        meta = {"dont_obey_robotstxt": True, RECORDS_META: records,
                QUOTA_META: cost(API, self.account, requests=1, records=records)}
        return self.request(url, callback, kind, method="POST", body=research.dump_body(payload),
                            headers={"Accept": "application/json",
                                     "Content-Type": "application/json"},
                            meta=meta, priority=priority, cb_kwargs=cb_kwargs)

    def videos_request(self, tag: str, window: int, *, cursor: int | None = None,
                       search_id: str | None = None, page: int = 1, offset: int = 0) -> Request:
        start, end = self.windows[window]
        size = max(1, min(research.MAX_COUNT, self.args.max_posts - offset))
        payload = research.video_query_body(start=start, end=end, hashtags=(tag,),
                                            regions=self.params.regions, max_count=size,
                                            cursor=cursor, search_id=search_id)
        self.stat("video_queries")
        return self.api_request(research.video_query_url(self.api_base), payload,
                                self.parse_videos, "videos", records=size,
                                cb_kwargs={"tag": tag, "window": window, "page": page,
                                           "offset": offset})

    def user_request(self, username: str, discovered_via: str | None,
                     posts: list[PostItem], country: str | None = None) -> Request:
        self.stat("user_info_requests")
        return self.api_request(research.user_info_url(self.api_base),
                                research.user_info_body(username), self.parse_user, "user",
                                records=1, priority=10,
                                cb_kwargs={"username": username, "discovered_via": discovered_via,
                                           "posts": posts, "country": country})

    def posts_request(self, profile: ProfileItem) -> Request:
        """A handle-list account's newest videos: one query by username, newest window."""
        start, end = self.windows[0]
        size = self.args.recent_posts
        payload = research.video_query_body(start=start, end=end,
                                            usernames=(str(profile.handle),), max_count=size)
        self.stat("video_queries")
        return self.api_request(research.video_query_url(self.api_base), payload,
                                self.parse_posts, "posts", records=size, priority=20,
                                cb_kwargs={"profile": profile})

    # -- reading answers ------------------------------------------------------------------

    def decode(self, response: Response) -> Any:
        """JSON, with an error envelope raised as its typed error (crawler/parsers)."""
        data = super().decode(response)
        research.raise_for_error(data)
        return data

    def refund(self, request: Request | None, returned: int) -> None:
        """Give back the records a call reserved and did not get."""
        reserved = int(request.meta.get(RECORDS_META) or 0) if request is not None else 0
        left = reserved - returned
        if left <= 0 or getattr(self, "crawler", None) is None:
            return
        QuotaBook.of(self.crawler).refund(f"{API}:records", self.account, left)
        self.stat("records_refunded", left)

    # -- callbacks ------------------------------------------------------------------------

    def parse_token(self, response: Response) -> Output:
        token = research.token_answer(super().decode(response))
        redact.register(token.access_token)
        self._token, self._life = token.access_token, float(token.expires_in)
        self._expires = self.clock() + token.expires_in
        self.renewing = False
        refreshed = bool(response.meta.get("microscout_refresh"))
        self.stat("token_refreshed" if refreshed else "token_fetched")
        self.logger.info("%s a Research API token for %s (expires in %ss)",
                         "Renewed" if refreshed else "Got", self.api_host, token.expires_in)
        if not self.started:
            self.started = True
            if not self.in_job:
                yield from self.work_requests()
        yield from self.release_parked()

    def release_parked(self) -> Output:
        parked, self.parked = self.parked, []
        yield from parked

    def parse_videos(self, response: Response, tag: str, window: int, page: int,
                     offset: int) -> Output:
        data = self.decode(response)
        found = research.videos(data)
        self.refund(response.request, len(found))
        self.stat("videos", len(found))
        self.stat("usernames_cleaned", sum(1 for v in found if v.raw_username is not None
                                           and v.username != v.raw_username.strip().lower()))
        now = utcnow()
        items = research.parse_video_query(data, hashtag=tag, position_offset=offset,
                                           source_url=response.url, fetched_at=now,
                                           web_base=self.web_base)
        for item in items:
            if isinstance(item, HashtagSightingItem):
                yield item
        new: dict[str, list[PostItem]] = {}
        for post in (i for i in items if isinstance(i, PostItem)):
            handle = post.author_handle
            if handle in new:
                new[handle].append(post)
                continue
            if handle and handle not in self.seen_users:
                self.seen_users.add(handle)
                if not self.already_loaded(self.platform, handle):
                    new[handle] = [post]
                    continue
            yield post  # its author is asked for elsewhere, or has none
        for handle, posts in new.items():  # the videos' region_code is the account's country hint
            yield self.user_request(handle, tag, posts, research.country_of(found, handle))
        more = research.pagination(data)
        offset += len(found)
        if page >= self.args.max_pages or offset >= self.args.max_posts:
            return
        if found and more.has_more and more.cursor is not None:
            yield self.videos_request(tag, window, cursor=more.cursor, search_id=more.search_id,
                                      page=page + 1, offset=offset)
        elif window + 1 < len(self.windows):
            yield self.videos_request(tag, window + 1, page=page + 1, offset=offset)

    def parse_user(self, response: Response, username: str, discovered_via: str | None,
                   posts: list[PostItem], country: str | None = None) -> Output:
        data = self.decode(response)
        profile = research.parse_user_info(data, username=username, source_url=response.url,
                                           fetched_at=utcnow(), web_base=self.web_base,
                                           discovered_via=discovered_via)
        profile.country = profile.country or country
        followers = profile.followers
        if isinstance(followers, int) and not self.args.in_range(followers):
            self.stat("skipped_out_of_range")
            yield from posts
            return
        if not posts and self.args.recent_posts and profile.handle:
            yield self.posts_request(profile)
            return
        yield from self.finish_with(profile, posts)

    def parse_posts(self, response: Response, profile: ProfileItem) -> Output:
        data = self.decode(response)
        found = research.videos(data)
        self.refund(response.request, len(found))
        posts = [research.post_item(v, web_base=self.web_base) for v in found]
        profile.country = profile.country or research.country_of(found, str(profile.handle))
        yield from self.finish_with(profile, [p for p in posts if p.author_handle == profile.handle])

    def finish_with(self, profile: ProfileItem, posts: list[PostItem]) -> Output:
        """The profile with its newest ``recent_posts`` videos; videos beyond go as posts."""
        profile.recent_posts = posts
        yield self.finish(profile)
        yield from posts[self.args.recent_posts:]

    # -- failures -------------------------------------------------------------------------

    def after_failure(self, request: Request | None) -> Iterable[Any]:
        """A failed user info keeps its videos as posts; a failed post list its profile; a
        failed token call, or an error no call can get past, closes the crawl."""
        kind = request.meta.get("microscout_kind") if request is not None else None
        if kind == "user" and request is not None:
            yield from request.cb_kwargs["posts"]
        elif kind == "posts" and request is not None:
            yield from self.finish_with(request.cb_kwargs["profile"], [])
        elif kind == "token":
            self.renewing = False
            self.fatal_reason = self.fatal_reason or "auth_failed"
        if self.fatal_reason:
            raise CloseSpider(f"{API}_{self.fatal_reason}")

    def on_blocked(self, request: Request | None, error: BlockedPage, url: str) -> None:
        """An error in a 200 answer: the daily quota or a refused client ends the crawl."""
        super().on_blocked(request, error, url)
        if error.reason in ("quota_exhausted", "auth_failed"):
            self.fatal_reason = self.fatal_reason or error.reason

    def api_error_of(self, response: Response) -> research.ApiError | None:
        try:
            return research.api_error(loads_json(body_text(response)))
        except ValueError:
            return None

    def describe(self, failure: Failure) -> tuple[str, str | None, Any]:
        """The reason and message of the API's error body; notes the errors that end the
        crawl."""
        reason, detail, payload = super().describe(failure)
        if not failure.check(HttpError):
            return reason, detail, payload
        response = failure.value.response
        error = self.api_error_of(response)
        if error is None:
            return reason, detail, payload
        if error.code in FATAL_CODES:
            self.fatal_reason = self.fatal_reason or error.code
        detail = f"HTTP {response.status} TikTok Research API {error}"
        return research.error_reason(error), detail, body_text(response)[:PAYLOAD_CHARS]

    def recover(self, failure: Failure) -> list[Any] | None:
        """A rate-limited call again after the pause; a call refused for its token again with
        a new one (once). None: recorded.

        Every failed call that was sent comes here first (one the budget refused does not): it
        gives back the records it reserved, as nothing came back, retried or recorded."""
        request: Request = failure.request  # type: ignore[attr-defined]  # set by Scrapy
        self.refund(request, 0)
        if not failure.check(HttpError):
            return None
        response = failure.value.response
        if request.meta.get("microscout_kind") == "token":
            return None
        error = self.api_error_of(response)
        code = error.code if error is not None else None
        if response.status == 429 and code in (None, "rate_limit_exceeded"):
            return self.retry_rate_limited(request, response, error)
        if response.status == 401 and code in (None, "access_token_invalid"):
            return self.retry_with_new_token(request, response.status)
        return None

    def retry_rate_limited(self, request: Request, response: Response,
                           error: research.ApiError | None) -> list[Any] | None:
        retry = get_retry_request(request, spider=self, reason="rate_limited")
        if retry is None:
            return None
        self.stat("rate_limited")
        if not response.headers.get("Retry-After"):  # else RateLimitMiddleware honoured it
            self.on_rate_limited(request, BlockedPage("rate_limited", str(error or "HTTP 429")))
        return [retry]

    def retry_with_new_token(self, request: Request, status: int) -> list[Any] | None:
        meta = {k: v for k, v in request.meta.items() if k not in DOWNLOAD_META}
        retry = request.replace(dont_filter=True, meta={**meta, "microscout_token_retry": True})
        if self.renewing:  # a new token is on its way: wait for it
            self.stat("token_retried")
            self.parked.append(retry)
            return []
        if self._token and not self.sent_with_token(request):  # renewed since it left
            self.stat("token_retried")
            return [retry]
        if request.meta.get("microscout_token_retry"):
            return None  # refused again with a new token: recorded
        self.logger.info("The Research API refused the token (HTTP %s): asking for a new one",
                         status)
        self.stat("token_retried")
        self.renewing = True
        self.parked.append(retry)
        return [self.token_request(refresh=True)]


__all__ = ["ResearchParams", "TikTokResearchSpider"]
