"""What the video-platform spiders (TikTok, YouTube) share.

:class:`VideoSpider` reads bodies through the platform's parser module (``page_data`` and
``parse_document``), pauses a host that answered with a captcha, consent or bot-check page,
finds such pages behind failed requests too, and keeps a profile whose post list failed.

Arguments besides the common ones: ``base_url``, ``hl`` (page language, default ``en``) and
``block_backoff`` (seconds a host is paused after a block page, default 60, doubled for each
further one in a row, capped by ``MICROSCOUT_MAX_RETRY_AFTER``).

What a body that is not data becomes: a block page ``BlockedPage`` (its reason: ``captcha``,
``consent_required``, ...), an empty body ``empty_body``, a "no such user" page
``unavailable``, anything else that does not parse (a cut page or JSON) is retried, then
``unreadable_body``; the detail is the parser's message and the body's size.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler.errors import BlockedPage, RetryableBody, UnrecognisedDocument
from crawler.items import ProfileItem
from crawler.middlewares import RateLimitMiddleware
from crawler.spiders.args import BaseUrlParams, Params, float_arg, param
from crawler.spiders.base import PAYLOAD_CHARS, BaseSpider, Output, body_text, size_detail
from crawler.values import UnreadableValue, parse_count

DEFAULT_BLOCK_BACKOFF = 60.0
#: Accept header of web-page requests (Scrapy's default for pages).
PAGE_HEADERS = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def site_domain(host: str) -> str:
    """allowed_domains entry for a host: 'www.tiktok.com' -> 'tiktok.com' (its redirects to
    other subdomains stay on the site); IPs and 'localhost' as they are."""
    if host.count(".") >= 2 and host.startswith("www.") and not host.replace(".", "").isdigit():
        return host[4:]
    return host


def _language(value: Any, spider_cls: Any) -> str:
    text = str(value).strip()
    if not text.replace("-", "").replace("_", "").isalnum() or len(text) > 12:
        raise ValueError(f"hl must be a language code like en or pt-BR, got {text!r}")
    return text


@dataclass
class VideoParams(BaseUrlParams):
    hl: str = param("en", parse=_language)
    block_backoff: float = param(DEFAULT_BLOCK_BACKOFF, parse=float_arg("block_backoff"))


class VideoSpider(BaseSpider):
    """Base of the TikTok and YouTube spiders (see the module docstring).

    Subclasses set ``default_base_url`` and ``parser`` (the parser module).
    """

    parser: ClassVar[Any] = None
    params_model: ClassVar[type[Params]] = VideoParams
    item_types: ClassVar[Mapping[str, str]] = {"tag": "HashtagSightingItem",
                                               "listing": "HashtagSightingItem"}
    params: VideoParams

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.allowed_domains = self.site_domains()
        #: download slot -> block pages in a row from it (reset by a good answer)
        self.block_streak: dict[str, int] = {}

    def site_domains(self) -> list[str]:
        return [site_domain(urlsplit(self.base_url).hostname or "")]

    @property
    def hl(self) -> str:
        return self.params.hl

    @property
    def block_backoff(self) -> float:
        return self.params.block_backoff

    # -- reading bodies ------------------------------------------------------------------------

    def decode(self, response: Response, **parse: Any) -> tuple[Any, list[Any]]:
        """``(data, items)`` of a body: the parser's ``page_data`` and ``parse_document``
        (``parse`` goes to the latter). Raises the typed errors of the module docstring."""
        with self.reading(response):
            data = self.parser.page_data(body_text(response), url=response.url)
            items = self.parser.parse_document(data, url=response.url, headers=response.headers,
                                               **parse)
        return data, items

    def page_data(self, response: Response) -> Any:
        """The body's data alone (the caller parses a part of it)."""
        with self.reading(response):
            return self.parser.page_data(body_text(response), url=response.url)

    @contextmanager
    def reading(self, response: Response) -> Iterator[None]:
        """Turn the parser's UnrecognisedDocument into this spider's reasons; a body that
        reads resets its host's block streak."""
        try:
            yield
        except UnrecognisedDocument as exc:
            message = str(exc)
            detail = f"{message}; {size_detail(response)}"
            if message == "empty body":
                raise UnrecognisedDocument(detail, reason="empty_body") from None
            if "returned no data" in message:  # TikTok's statusCode for a missing account
                raise UnrecognisedDocument(detail, reason="unavailable") from None
            raise RetryableBody(detail, reason="unreadable_body") from None
        self.block_streak.pop(self.slot_of(response.request), None)

    # -- backing off -----------------------------------------------------------------------------

    def ratelimiter(self) -> RateLimitMiddleware | None:
        """The crawl's RateLimitMiddleware, None when it is not enabled (or no crawl)."""
        return RateLimitMiddleware.of(getattr(self, "crawler", None))

    def slot_of(self, request: Request | None) -> str:
        if request is None:
            return ""
        limiter = self.ratelimiter()
        if limiter is not None:
            return limiter.slot_key(request)
        return request.meta.get("download_slot") or urlsplit(request.url).hostname or ""

    def on_blocked(self, request: Request | None, error: BlockedPage, url: str) -> None:
        """A captcha, consent or bot-check page: counted, and its host paused."""
        self.stat(f"blocked/{error.reason}")
        pause = self.back_off(request)
        self.logger.warning("%s: %s (%s); pausing the host for %.1fs", error.reason, url,
                            error.detail or "blocked", pause)

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
            except (AttributeError, RuntimeError):  # no engine (unit tests)
                downloader_slot = None
            if downloader_slot is not None:
                downloader_slot.delay = max(downloader_slot.delay, seconds)
        if getattr(self, "crawler", None) is not None and self.crawler.stats is not None:
            stats = self.crawler.stats
            key = f"microscout/{self.platform}/backoff_seconds"
            stats.set_value(key, round(stats.get_value(key, 0) + seconds, 3))
        return seconds

    # -- failures ----------------------------------------------------------------------------------

    def describe(self, failure: Failure) -> tuple[str, str | None, Any]:
        """A block page behind a failed request is recorded (and backed off) as a block."""
        blocked = self.blocked_in_failure(failure)
        if blocked is None:
            return super().describe(failure)
        request: Request = failure.request  # type: ignore[attr-defined]  # set by Scrapy
        self.on_blocked(request, blocked, request.url)
        payload = None
        if failure.check(HttpError):
            payload = body_text(failure.value.response)[:PAYLOAD_CHARS]
        return blocked.reason, blocked.detail or None, payload

    def blocked_in_failure(self, failure: Failure) -> BlockedPage | None:
        """A block page behind a failed request (Google's 429 'sorry' page, a redirect to it)."""
        request: Request = failure.request  # type: ignore[attr-defined]
        if failure.check(HttpError):
            response = failure.value.response
            try:
                self.parser.page_data(body_text(response), url=response.url)
            except BlockedPage as exc:
                return exc
            except ValueError:  # UnrecognisedDocument too
                return None
            return None
        if failure.check(IgnoreRequest) and "/sorry/" in request.url:
            return BlockedPage("captcha", f"redirected to {request.url}")
        return None

    def after_failure(self, request: Request | None) -> Output:
        """A failed post list leaves its profile, without posts."""
        if request is not None and request.meta.get("microscout_kind") == "posts":
            yield self.finish(request.cb_kwargs["profile"])

    # -- profiles ----------------------------------------------------------------------------------

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


__all__ = ["DEFAULT_BLOCK_BACKOFF", "PAGE_HEADERS", "VideoParams", "VideoSpider", "site_domain"]
