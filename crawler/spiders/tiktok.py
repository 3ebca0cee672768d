"""TikTok spider: tag sweeps and handle lists over TikTok's web pages and web-app XHRs.

    scrapy crawl tiktok -a tags=veganfood,plantbased [-a min_followers=1000 -a max_followers=99999]
    scrapy crawl tiktok -a handles=alice,@bob,https://www.tiktok.com/@carol
    scrapy crawl tiktok -a tags=vegan -a base_url=http://127.0.0.1:8123      # the sandbox

Tag sweep: the tag page ``/tag/<tag>`` (``__UNIVERSAL_DATA_FOR_REHYDRATION__`` ->
``webapp.challenge-detail``) names the challenge id; its videos come from
``/api/challenge/item_list/?challengeID=&cursor=&count=`` page by page along
``cursor``/``hasMore`` (``max_pages`` pages, ``max_posts`` videos a tag). Every video is a
``HashtagSightingItem`` (0-based ``position`` across pages, listing ``top``: TikTok ranks tag
listings). Listing videos carry their author and ``authorStats``: each new author (once a
run) whose follower count is in range - read with a 1% margin, as ``authorStats`` are rounded
to three figures - gets their profile page ``/@<handle>`` fetched (``webapp.user-detail``:
``user``, ``stats``, exact ``statsV2`` strings, which win); out-of-range authors cost no
request (``microscout/tiktok/skipped_out_of_range``), and the exact count is checked again on
the profile. When the page's ``itemList`` is empty, as TikTok serves it today, the newest
``recent_posts`` videos come from ``/api/post/item_list/?secUid=&cursor=0&count=``. One
``ProfileItem`` per author, its videos (plays as ``views``) as ``recent_posts``.

Handle list: the profile pages directly.

Arguments besides the common ones (:mod:`crawler.spiders.base`): ``base_url`` (default
https://www.tiktok.com; the sandbox's URL in tests), ``hl`` (page language, sent as
``lang=``, default ``en``), ``block_backoff`` (seconds a host is paused after a captcha,
default 60, doubled for each further one in a row, capped by ``MICROSCOUT_MAX_RETRY_AFTER``).

What is not data is recorded, never parsed as an empty profile: TikTok's captcha
(``{"code":"10000","type":"verify"}`` or the slider page) becomes
``RejectedItem(reason="captcha")`` and pauses that host (:meth:`VideoSpider.back_off`:
the RateLimitMiddleware's per-slot pause, which every queued request to the host waits
for); a body that does not parse (a cut JSON or page) is retried, then ``unreadable_body``;
an empty 200 body ``empty_body`` (live TikTok answers its XHRs so when they lack the
``msToken``/``X-Bogus`` signature only its own JavaScript computes: the listing and post-list
XHRs need a signing proxy or browser to work against the live site); "no such user" pages
``unavailable``; failed requests as in the Mastodon spider.

:class:`VideoSpider` is shared with the YouTube spider (``crawler.spiders.youtube``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlencode, urlsplit

from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler.items import HashtagSightingItem, PostItem, ProfileItem, RejectedItem
from crawler.middlewares import RateLimitMiddleware
from crawler.parsers import BlockedPage, UnrecognisedDocument
from crawler.parsers import tiktok as tt
from crawler.spiders.base import (
    PAYLOAD_CHARS,
    BaseSpider,
    body_text,
    describe_failure,
    normalize_base_url,
    read_handles_file,
)
from crawler.values import UnreadableValue, parse_count

DEFAULT_BASE_URL = "https://www.tiktok.com"
DEFAULT_BLOCK_BACKOFF = 60.0
LIST_COUNT = tt.DEFAULT_PAGE_SIZE  # 35, the web app's page size
#: authorStats are rounded to three significant figures: 0.5% off at most.
ROUNDING_MARGIN = 0.01

Output = Iterator[Any]
_NO_DATA: Any = object()


def _now() -> datetime:
    return datetime.now(timezone.utc)



def site_domain(host: str) -> str:
    """allowed_domains entry for a host: 'www.tiktok.com' -> 'tiktok.com' (its redirects to
    other subdomains stay on the site); IPs and 'localhost' as they are."""
    if host.count(".") >= 2 and host.startswith("www.") and not host.replace(".", "").isdigit():
        return host[4:]
    return host


def _float_arg(name: str, value: Any, default: float) -> float:
    if value is None or str(value).strip() == "":
        return default
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {value!r}") from None
    if number < 0:
        raise ValueError(f"{name} must be at least 0, got {number:g}")
    return number


class VideoSpider(BaseSpider):
    """What the TikTok and YouTube spiders share: base URL, page language, reading bodies
    through the parsers, quarantining block pages and backing off their host, the errback.

    Subclasses set ``default_base_url`` and ``parser`` (the parser module, which has
    ``page_data`` and ``parse_document``) and override :meth:`after_failure`.
    """

    default_base_url: ClassVar[str] = ""
    parser: ClassVar[Any] = None
    extra_args: ClassVar[tuple[str, ...]] = ("base_url", "hl", "block_backoff")

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.base_url = normalize_base_url(self.extra.get("base_url") or self.default_base_url,
                                           example=self.default_base_url)
        self.hl = str(self.extra.get("hl") or "en").strip()
        if not self.hl.replace("-", "").replace("_", "").isalnum() or len(self.hl) > 12:
            raise ValueError(f"hl must be a language code like en or pt-BR, got {self.hl!r}")
        self.block_backoff = _float_arg("block_backoff", self.extra.get("block_backoff"),
                                        DEFAULT_BLOCK_BACKOFF)
        host = urlsplit(self.base_url).hostname or ""
        self.allowed_domains = [site_domain(host)]
        self.block_streak: dict[str, int] = {}
        self._ratelimiter: RateLimitMiddleware | bool | None = False  # False: not looked up

    def spider_run_args(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "hl": self.hl, "block_backoff": self.block_backoff}

    @property
    def handles_label(self) -> str:
        """discovered_via for handle-list profiles: the list file's name, else 'handles'."""
        return Path(self.args.handles_file).stem if self.args.handles_file else "handles"

    def setting(self, name: str, default: Any = None) -> Any:
        settings = getattr(self, "settings", None)
        return settings.get(name, default) if settings is not None else default

    def make_request(self, url: str, callback: Any, kind: str, *, priority: int = 0,
                     headers: Mapping[str, str] | None = None, meta: Mapping[str, Any] | None = None,
                     **kwargs: Any) -> Request:
        all_meta: dict[str, Any] = {"microscout_kind": kind, **(meta or {})}
        proxy = self.setting("MICROSCOUT_PROXY")
        if proxy:
            all_meta["proxy"] = proxy
        return Request(url, callback=callback, errback=self.on_error, meta=all_meta,
                       headers=dict(headers or {}), priority=priority, **kwargs)

    # -- reading bodies ------------------------------------------------------------------------

    def read(self, response: Response, item_type: str, **parse: Any) -> Generator[Any, None, Any]:
        """``(data, items) = yield from self.read(...)``: the body's data and its items.

        Block pages are quarantined and their host paused; bodies that do not parse retried,
        then quarantined; either way ``_NO_DATA`` comes back and the caller stops.
        """
        text = body_text(response)
        try:
            data = self.parser.page_data(text, url=response.url)
            items = self.parser.parse_document(data, url=response.url,
                                               headers=response.headers, **parse)
        except BlockedPage as exc:
            yield from self.blocked(response, exc, item_type)
            return _NO_DATA
        except UnrecognisedDocument as exc:
            yield from self.unreadable(response, exc, item_type)
            return _NO_DATA
        self.block_streak.pop(self.slot_of(response.request), None)
        return data, items

    def blocked(self, response: Response, exc: BlockedPage, item_type: str) -> Output:
        """A captcha, consent or bot-check page: quarantined, its host paused."""
        self.stat(f"blocked/{exc.reason}")
        pause = self.back_off(response.request)
        self.logger.warning("%s: %s (%s); pausing the host for %.1fs", exc.reason, response.url,
                            exc.detail or "blocked", pause)
        yield self.reject(response, exc.reason, item_type, detail=exc.detail or None)
        yield from self.after_failure(response.request)

    def unreadable(self, response: Response, exc: UnrecognisedDocument, item_type: str) -> Output:
        message = str(exc)
        if message == "empty body":
            reason = "empty_body"
        elif "returned no data" in message:
            reason = "unavailable"  # TikTok's statusCode for a missing or private account
        else:
            assert response.request is not None  # a downloaded response has its request
            retry = get_retry_request(response.request, spider=self, reason="unreadable_body")
            if retry is not None:
                yield retry
                return
            reason = "unreadable_body"
        yield self.reject(response, reason, item_type,
                          detail=f"{message}; HTTP {response.status}, {len(response.body)} bytes")
        yield from self.after_failure(response.request)

    def reject(self, response: Response, reason: str, item_type: str,
               detail: str | None = None) -> RejectedItem:
        return RejectedItem(reason=reason, detail=detail, platform=self.platform,
                            payload=body_text(response)[:PAYLOAD_CHARS] or None,
                            source_url=response.url, item_type=item_type)

    # -- backing off -----------------------------------------------------------------------------

    def slot_of(self, request: Request | None) -> str:
        if request is None:
            return ""
        limiter = self.ratelimiter()
        if limiter is not None:
            return limiter.slot_key(request)
        return request.meta.get("download_slot") or urlsplit(request.url).hostname or ""

    def ratelimiter(self) -> RateLimitMiddleware | None:
        """The crawl's RateLimitMiddleware instance, None when it is not enabled."""
        if self._ratelimiter is False:
            found = None
            try:
                middlewares = self.crawler.engine.downloader.middleware.middlewares
            except (AttributeError, RuntimeError):  # no engine yet (unit tests)
                middlewares = ()
            found = next((m for m in middlewares if isinstance(m, RateLimitMiddleware)), None)
            if middlewares:
                self._ratelimiter = found
            return found
        return self._ratelimiter  # type: ignore[return-value]

    def back_off(self, request: Request | None) -> float:
        """Pause the request's host after a block page; returns the pause in seconds.

        ``block_backoff`` seconds, doubled for each further block in a row from that host
        (reset by a good answer), capped by ``MICROSCOUT_MAX_RETRY_AFTER``. The pause is the
        RateLimitMiddleware's per-slot "not before" time (``slots.pause``): every request to
        the host, queued or new, waits in its ``process_request`` while other hosts go on.
        Without that middleware the downloader slot's delay is raised instead (for the rest
        of the crawl: a slower crawl, never a lost request).
        """
        slot = self.slot_of(request)
        streak = self.block_streak.get(slot, 0) + 1
        self.block_streak[slot] = streak
        cap = float(self.setting("MICROSCOUT_MAX_RETRY_AFTER", 300.0) or 300.0)
        seconds = min(self.block_backoff * 2 ** (streak - 1), cap)
        if seconds <= 0:
            return 0.0
        limiter = self.ratelimiter()
        if limiter is not None:
            limiter.slots.pause(slot, seconds)
        else:
            try:
                downloader_slot = self.crawler.engine.downloader.slots.get(slot)
            except (AttributeError, RuntimeError):
                downloader_slot = None
            if downloader_slot is not None:
                downloader_slot.delay = max(downloader_slot.delay, seconds)
        if getattr(self, "crawler", None) is not None and self.crawler.stats is not None:
            stats = self.crawler.stats
            key = f"microscout/{self.platform}/backoff_seconds"
            stats.set_value(key, round(stats.get_value(key, 0) + seconds, 3))
        return seconds

    # -- failures ----------------------------------------------------------------------------------

    def after_failure(self, request: Request | None) -> Output:
        """Subclass hook: what a failed request leaves behind (a profile without posts)."""
        return iter(())

    def blocked_in_failure(self, failure: Failure) -> BlockedPage | None:
        """A block page behind a failed request (Google's 429 'sorry' page, a redirect to it)."""
        request: Request = failure.request  # type: ignore[attr-defined]
        if failure.check(HttpError):
            response = failure.value.response
            try:
                self.parser.page_data(body_text(response), url=response.url)
            except BlockedPage as exc:
                return exc
            except (UnrecognisedDocument, ValueError):
                return None
            return None
        if failure.check(IgnoreRequest) and "/sorry/" in request.url:
            return BlockedPage("captcha", f"redirected to {request.url}")
        return None

    def on_error(self, failure: Failure) -> Output:
        """Errback: every failed request becomes a RejectedItem (nothing lost silently)."""
        request: Request = failure.request  # type: ignore[attr-defined]  # set by Scrapy
        kind = request.meta.get("microscout_kind")
        item_type = "HashtagSightingItem" if kind in ("tag", "listing") else "ProfileItem"
        payload = None
        blocked = self.blocked_in_failure(failure)
        if blocked is not None:
            self.stat(f"blocked/{blocked.reason}")
            self.back_off(request)
            reason, detail = blocked.reason, blocked.detail or None
            if failure.check(HttpError):
                payload = body_text(failure.value.response)[:PAYLOAD_CHARS]
        else:
            reason, detail, payload = describe_failure(failure)
        self.logger.warning("%s: %s (%s)", reason, request.url, detail)
        yield RejectedItem(reason=reason, detail=detail, platform=self.platform, payload=payload,
                           source_url=request.url, item_type=item_type)
        yield from self.after_failure(request)

    # -- follower range ----------------------------------------------------------------------------

    def follower_count(self, profile: ProfileItem) -> int | None:
        try:
            return parse_count(profile.followers, profile.locale)
        except UnreadableValue:
            return None  # kept: the normaliser quarantines it with the raw text

    def clearly_out_of_range(self, followers: int | None, margin: float = 0.0) -> bool:
        """Out of range even allowing ``margin`` (relative) for rounded counts."""
        if followers is None:
            return False
        low = self.args.min_followers
        high = self.args.max_followers
        return bool((low is not None and followers * (1 + margin) < low)
                    or (high is not None and followers * (1 - margin) > high))


class TikTokSpider(VideoSpider):
    name = "tiktok"
    platform: ClassVar[str] = "tiktok"
    listings: ClassVar[tuple[str, ...]] = ("top",)  # TikTok ranks tag listings
    max_recent_posts: ClassVar[int | None] = LIST_COUNT
    default_base_url: ClassVar[str] = DEFAULT_BASE_URL
    parser: ClassVar[Any] = tt

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        handles = [_tiktok_handle(h) for h in str(kwargs.pop("handles", "") or "").split(",")
                   if h.strip()]
        handles_file = kwargs.pop("handles_file", None) or None
        if handles_file:
            handles += [_tiktok_handle(h) for h in read_handles_file(handles_file)]
        if handles:
            kwargs["handles"] = ",".join(handles)
        super().__init__(name, **kwargs)
        self.args.handles_file = str(handles_file) if handles_file else None
        self.seen_authors: set[str] = set()

    # -- requests ----------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        for tag in self.args.tags:
            yield self.tag_request(tag)
        for handle in self.args.handles:
            for request in self.consider_author(handle, None, None, self.handles_label):
                yield request

    def _lang(self) -> str:
        return urlencode({"lang": self.hl})

    def tag_request(self, tag: str) -> Request:
        url = f"{tt.tag_url(tag, base=self.base_url)}?{self._lang()}"
        return self.make_request(url, self.parse_tag_page, "tag", cb_kwargs={"tag": tag})

    def listing_request(self, tag: str, challenge_id: str, cursor: str | int, page: int,
                        offset: int) -> Request:
        url = tt.challenge_item_list_url(challenge_id, cursor=cursor, count=LIST_COUNT,
                                         base=self.base_url)
        return self.make_request(
            url, self.parse_listing, "listing", headers={"Accept": "application/json"},
            cb_kwargs={"tag": tag, "challenge_id": challenge_id, "page": page, "offset": offset})

    def profile_request(self, handle: str, sec_uid: str | None,
                        discovered_via: str | None) -> Request:
        url = f"{tt.profile_url(handle, base=self.base_url)}?{self._lang()}"
        return self.make_request(url, self.parse_profile, "profile", priority=10,
                                 cb_kwargs={"handle": handle, "sec_uid": sec_uid,
                                            "discovered_via": discovered_via})

    def posts_request(self, profile: ProfileItem, sec_uid: str) -> Request:
        url = tt.item_list_url(sec_uid, cursor=0, count=self.args.recent_posts, base=self.base_url)
        return self.make_request(url, self.parse_posts, "posts", priority=20,
                                 headers={"Accept": "application/json"},
                                 cb_kwargs={"profile": profile})

    # -- callbacks ---------------------------------------------------------------------------

    def parse_tag_page(self, response: Response, tag: str) -> Output:
        result = yield from self.read(response, "HashtagSightingItem")
        if result is _NO_DATA:
            return
        data, _ = result
        info = tt.challenge_info(data) if isinstance(data, Mapping) else None
        if not info or not info.get("id"):
            yield self.reject(response, "unexpected_body", "HashtagSightingItem",
                              detail=f"tag page of #{tag} names no challenge id")
            return
        yield self.listing_request(tag, info["id"], 0, page=1, offset=0)

    def parse_listing(self, response: Response, tag: str, challenge_id: str, page: int,
                      offset: int) -> Output:
        text = body_text(response)
        try:
            data = tt.page_data(text)
        except BlockedPage as exc:
            yield from self.blocked(response, exc, "HashtagSightingItem")
            return
        except UnrecognisedDocument as exc:
            yield from self.unreadable(response, exc, "HashtagSightingItem")
            return
        self.block_streak.pop(self.slot_of(response.request), None)
        raw_items = data.get("itemList") if isinstance(data, Mapping) else None
        if not isinstance(raw_items, list):
            yield self.reject(response, "unexpected_body", "HashtagSightingItem",
                              detail="challenge item list without itemList")
            return
        raw_items = raw_items[: max(0, self.args.max_posts - offset)]
        items = tt.parse_document({**data, "itemList": raw_items}, url=response.url,
                                  hashtag=tag, position_offset=offset) if raw_items else []
        sec_uids = {str((i.get("author") or {}).get("uniqueId") or "").lower():
                    (i.get("author") or {}).get("secUid") for i in raw_items
                    if isinstance(i, Mapping) and isinstance(i.get("author"), Mapping)}
        now = _now()
        for item in items:
            if isinstance(item, HashtagSightingItem):
                item.seen_at = now
                yield item
        for item in items:
            if isinstance(item, ProfileItem) and item.handle:
                yield from self.consider_author(item.handle, self.follower_count(item),
                                                sec_uids.get(item.handle), tag)
            elif isinstance(item, PostItem) and item.author_handle:
                yield from self.consider_author(item.author_handle, None,
                                                sec_uids.get(item.author_handle), tag)
        offset += len(raw_items)
        more = tt.pagination(data)
        if raw_items and more.has_more and more.cursor and page < self.args.max_pages and (
                offset < self.args.max_posts):
            yield self.listing_request(tag, challenge_id, more.cursor, page + 1, offset)

    def parse_profile(self, response: Response, handle: str, sec_uid: str | None,
                      discovered_via: str | None) -> Output:
        result = yield from self.read(response, "ProfileItem")
        if result is _NO_DATA:
            return
        data, items = result
        profile = next((i for i in items if isinstance(i, ProfileItem)), None)
        if profile is None:
            yield self.reject(response, "unexpected_body", "ProfileItem",
                              detail=f"profile page of @{handle} holds no profile")
            return
        if self.clearly_out_of_range(self.follower_count(profile)):
            self.stat("skipped_out_of_range")
            return
        profile.discovered_via = discovered_via
        profile.source_url = response.url
        profile.fetched_at = profile.fetched_at or _now()
        sec_uid = tt.sec_uid(data) or sec_uid
        if profile.recent_posts or self.args.recent_posts == 0 or not sec_uid:
            yield self.finish(profile)
            return
        yield self.posts_request(profile, sec_uid)

    def parse_posts(self, response: Response, profile: ProfileItem) -> Output:
        result = yield from self.read(response, "ProfileItem")
        if result is _NO_DATA:
            return
        _, items = result
        posts: list[PostItem] = []
        for item in items:
            if isinstance(item, ProfileItem):
                posts.extend(item.recent_posts)
            elif isinstance(item, PostItem):
                posts.append(item)
        profile.recent_posts = [p for p in posts if p.author_handle in (None, profile.handle)]
        yield self.finish(profile)

    # -- helpers ----------------------------------------------------------------------------

    def consider_author(self, handle: str, followers: int | None, sec_uid: str | None,
                        discovered_via: str | None) -> Output:
        """Request an author's profile once a run, unless clearly out of the follower range."""
        if handle in self.seen_authors:
            return
        self.seen_authors.add(handle)
        if self.clearly_out_of_range(followers, ROUNDING_MARGIN):
            self.stat("skipped_out_of_range")
            return
        if self.already_loaded(self.platform, handle):  # a resumed run loaded it before
            return
        self.stat("authors_requested")
        yield self.profile_request(handle, sec_uid, discovered_via)

    def finish(self, profile: ProfileItem) -> ProfileItem:
        profile.recent_posts = profile.recent_posts[: self.args.recent_posts]
        self.stat("profiles")
        return profile

    def after_failure(self, request: Request | None) -> Output:
        if request is not None and request.meta.get("microscout_kind") == "posts":
            yield self.finish(request.cb_kwargs["profile"])


def _tiktok_handle(value: str) -> str:
    """'@Alice', 'https://www.tiktok.com/@alice/video/1' -> 'alice'."""
    text = value.strip()
    if "://" in text or text.startswith("www."):
        path = urlsplit(text if "://" in text else "https://" + text).path.strip("/")
        first = path.split("/", 1)[0]
        if not first.startswith("@"):
            raise ValueError(f"handles: {value.strip()!r} is not a TikTok profile URL "
                             "like https://www.tiktok.com/@user")
        text = first
    text = text.lstrip("@").lower()
    if not text or not all(ch.isalnum() or ch in "._" for ch in text):
        raise ValueError(f"handles: {value.strip()!r} is not a TikTok username")
    return text


__all__ = ["TikTokSpider", "VideoSpider", "body_text", "normalize_base_url", "site_domain"]
