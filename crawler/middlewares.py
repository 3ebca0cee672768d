"""Downloader middlewares.

:class:`RateLimitMiddleware` paces requests per downloader slot (one slot per host by
default) and pauses a slot when the server says so:

* ``MICROSCOUT_RATE_LIMIT_<PLATFORM>`` (``spider.platform`` upper-cased): minimum seconds between
  two requests sent to one host (0 = no pacing). Spiders without a ``platform`` are not paced.
* ``x-ratelimit-remaining`` / ``x-ratelimit-reset`` (Mastodon, Pixelfed: reset is an ISO 8601
  timestamp) and ``ratelimit-remaining`` / ``ratelimit-reset`` (Bluesky: epoch seconds; small
  numbers are read as delta seconds, as the IETF RateLimit draft has them): once the remaining
  budget is at or below ``MICROSCOUT_RATELIMIT_RESERVE`` (default 0) the slot waits until the
  reset.
* ``Retry-After`` (delta seconds or an HTTP date) on 429 and 503: the slot waits that long.
  A 429/503 without Retry-After falls back to the reset header, else to
  ``MICROSCOUT_RATELIMIT_DEFAULT_WAIT`` seconds (default 1).

Absolute times are read against the response's ``Date`` header when it has one, so a skewed
local clock does not stretch or shorten the wait. Every wait is capped at
``MICROSCOUT_MAX_RETRY_AFTER`` seconds.

Mechanism: a per-slot "not before" time. ``process_request`` is a coroutine that sleeps
(without blocking the reactor, ``scrapy.utils.asyncio.sleep``) until the slot's time has
come, so no request is dropped and other hosts keep going. Requests are also spaced by the
platform's minimum interval by reserving successive start times on the slot.

Ordering: the middleware sits at 560, between RetryMiddleware (550) and the downloader.
``process_response`` runs from the downloader outwards, so this middleware sees a 429 and
records the pause *before* RetryMiddleware turns it into a retry request; the retry then
comes back through ``process_request`` and waits for the pause like every other request to
that host. Stats: ``microscout/ratelimit/paused`` (pauses started: answers that arrive while
the slot is already held only extend it), ``microscout/ratelimit/wait_seconds`` (seconds
slots were held, summed) and ``microscout/ratelimit/capped`` (server waits cut to the cap).

Set ``request.meta["dont_ratelimit"] = True`` to bypass the pacing for one request.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import sleep as scrapy_sleep
from scrapy.utils.httpobj import urlparse_cached

from crawler.distributed import REDIS_DOWN
from crawler.platforms import REGISTRY

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

#: Epoch values below this are read as delta seconds (2001-09-09 as an epoch).
_EPOCH_THRESHOLD = 1_000_000_000
PAUSE_STATUSES = frozenset({429, 503})

HeaderSource = Mapping[Any, Any]


def _header(headers: HeaderSource | None, name: str) -> str | None:
    """One header value as text from Scrapy ``Headers`` or a plain dict (any case)."""
    if not headers:
        return None
    getter = getattr(headers, "getlist", None)
    if getter is not None and not isinstance(headers, dict):
        values = getter(name)
        value = values[-1] if values else None
    else:
        value = None
        wanted = name.lower()
        for key, raw in headers.items():
            key_text = key.decode("latin-1") if isinstance(key, bytes) else str(key)
            if key_text.lower() == wanted:
                value = raw
        if isinstance(value, (list, tuple)):
            value = value[-1] if value else None
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("latin-1")
    text = str(value).strip()
    return text or None


def _http_date(text: str) -> float | None:
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def _iso_time(text: str) -> float | None:
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def server_time(headers: HeaderSource | None, now: float) -> float:
    """The server's clock from its ``Date`` header (epoch seconds), else ``now``."""
    date = _header(headers, "Date")
    parsed = _http_date(date) if date else None
    return parsed if parsed is not None else now


def parse_retry_after(value: str | None, now: float) -> float | None:
    """``Retry-After`` -> seconds to wait from ``now`` (delta seconds or an HTTP date).

    Garbage and missing values give None; a date in the past gives 0.
    """
    if not value:
        return None
    text = value.strip()
    number = _number(text)
    if number is not None:
        return max(0.0, number) if number >= 0 else None
    when = _http_date(text)
    return None if when is None else max(0.0, when - now)


def parse_reset(value: str | None, now: float) -> float | None:
    """A rate-limit reset header -> seconds to wait from ``now``.

    ISO 8601 timestamp (Mastodon), epoch seconds (Bluesky) or small delta seconds.
    """
    if not value:
        return None
    number = _number(value)
    if number is not None:
        if number < 0:
            return None
        return max(0.0, number - now) if number >= _EPOCH_THRESHOLD else number
    when = _iso_time(value)
    if when is None:
        when = _http_date(value)
    return None if when is None else max(0.0, when - now)


def rate_limit_wait(
    status: int,
    headers: HeaderSource | None,
    now: float,
    *,
    reserve: int = 0,
    default_wait: float = 1.0,
) -> float | None:
    """Seconds the host asks us to wait after a response, or None when it asks nothing.

    ``now`` is the local clock (epoch seconds); absolute header times are read against the
    response's ``Date`` when present. Not capped: the caller caps.
    """
    reference = server_time(headers, now)
    if status in PAUSE_STATUSES:
        wait = parse_retry_after(_header(headers, "Retry-After"), reference)
        if wait is not None:
            return wait
    for prefix in ("x-ratelimit", "ratelimit"):
        reset = parse_reset(_header(headers, f"{prefix}-reset"), reference)
        remaining_text = _header(headers, f"{prefix}-remaining")
        remaining = _number(remaining_text) if remaining_text else None
        if status == 429 and reset is not None:
            return reset
        if remaining is not None and remaining <= reserve and reset is not None:
            return reset
    if status == 429:
        return default_wait
    return None


class SlotClock:
    """Per-slot pacing state: "not before" pauses and the minimum interval between starts.

    Pure bookkeeping with an injectable clock, so the pause arithmetic is testable without a
    reactor.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.not_before: dict[str, float] = {}
        self.next_start: dict[str, float] = {}

    def pause(self, slot: str, seconds: float) -> tuple[bool, float]:
        """Hold ``slot`` until ``seconds`` from now (a longer pause already set wins).

        Returns (whether the slot was open, so this starts a new pause; the seconds of hold
        this call added), so concurrent answers that all say "wait" count as one pause.
        """
        now = self.clock()
        until = now + max(0.0, seconds)
        current = max(now, self.not_before.get(slot, 0.0))
        if until <= current:
            return False, 0.0
        self.not_before[slot] = until
        return current == now, until - current

    def paused_for(self, slot: str) -> float:
        """Seconds until ``slot`` opens again (0 when it is open)."""
        return max(0.0, self.not_before.get(slot, 0.0) - self.clock())

    def reserve(self, slot: str, interval: float = 0.0) -> float:
        """Book the next start time on ``slot``; return how long the caller must wait."""
        now = self.clock()
        start = max(now, self.not_before.get(slot, 0.0), self.next_start.get(slot, 0.0))
        if interval > 0:
            self.next_start[slot] = start + interval
        return start - now


class RateLimitMiddleware:
    """Downloader middleware: pace requests per slot and honour rate-limit headers."""

    def __init__(
        self,
        crawler: Crawler,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = scrapy_sleep,
    ) -> None:
        settings = crawler.settings
        if not settings.getbool("MICROSCOUT_RATELIMIT_ENABLED", True):
            raise NotConfigured
        self.crawler = crawler
        self.stats = crawler.stats
        self.rate_limits = {
            name: settings.getfloat(platform.setting) for name, platform in REGISTRY.items()
            if settings.get(platform.setting) is not None
        }
        self.max_wait = settings.getfloat("MICROSCOUT_MAX_RETRY_AFTER", 300.0)
        self.reserve = settings.getint("MICROSCOUT_RATELIMIT_RESERVE", 0)
        self.default_wait = settings.getfloat("MICROSCOUT_RATELIMIT_DEFAULT_WAIT", 1.0)
        self.clock = clock
        self.sleep = sleep
        self.local_slots = SlotClock(clock)
        self._slots: Any = None

    @property
    def slots(self) -> Any:
        """The slot clock: this process's, or in a distributed job the one shared through Redis
        (crawler/distributed/ratelimit.py), chosen once the spider is known."""
        if self._slots is None:
            spider = self._late("spider")
            if spider is None:
                return self.local_slots
            from crawler.distributed.ratelimit import slot_clock_for

            self._slots = slot_clock_for(self.crawler, spider) or self.local_slots
        return self._slots

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RateLimitMiddleware:
        middleware = cls(crawler)
        crawler.microscout_ratelimiter = middleware  # type: ignore[attr-defined]  # for of()
        return middleware

    @classmethod
    def of(cls, crawler: Crawler | None) -> RateLimitMiddleware | None:
        """The crawl's instance (spiders pause a host through it), None when it is not on."""
        found = getattr(crawler, "microscout_ratelimiter", None)
        return found if isinstance(found, cls) else None

    # -- helpers ---------------------------------------------------------------------------

    def _late(self, name: str) -> Any:
        """``crawler.spider`` / ``crawler.engine``, or None before the crawl has set them."""
        try:
            return getattr(self.crawler, name, None)
        except RuntimeError:  # Scrapy 2.19: "Crawler.engine is not set yet"
            return None

    def interval(self) -> float:
        """Minimum seconds between requests to one host for the running spider."""
        spider = self._late("spider")
        platform = getattr(spider, "platform", None)
        return max(0.0, self.rate_limits.get(platform, 0.0)) if platform else 0.0

    def slot_key(self, request: Request) -> str:
        engine = self._late("engine")
        downloader = getattr(engine, "downloader", None)
        if downloader is not None:
            return downloader.get_slot_key(request)
        slot = request.meta.get("download_slot")
        return slot if slot is not None else (urlparse_cached(request).hostname or "")

    def _worker_stopping(self) -> bool:
        """A distributed worker is leaving (Redis lost): its in-flight requests must end."""
        worker = getattr(self.crawler, "microscout_worker", None)
        return bool(getattr(worker, "stopping", False))

    def cap(self, seconds: float) -> float:
        if seconds > self.max_wait:
            self._inc("microscout/ratelimit/capped")
            return self.max_wait
        return seconds

    def _inc(self, key: str, value: float = 1) -> None:
        if self.stats is not None:
            # set_value, not inc_value: the stats API is typed for ints, these are seconds
            self.stats.set_value(key, round(self.stats.get_value(key, 0) + value, 3))

    # -- middleware hooks ------------------------------------------------------------------

    async def process_request(self, request: Request) -> None:
        if request.meta.get("dont_ratelimit"):
            return
        slot, interval = self.slot_key(request), self.interval()
        while True:
            try:
                wait = self.slots.reserve(slot, interval)
            except REDIS_DOWN:  # the shared clock is unreachable: no request goes out unpaced
                if self._worker_stopping():  # a worker leaving finishes on its own clock
                    wait = self.local_slots.reserve(slot, interval)
                else:
                    await self.sleep(1.0)
                    continue
            if wait <= 0:
                return
            await self.sleep(wait)
            try:
                if self.slots.paused_for(slot) <= 0:
                    return
            except REDIS_DOWN:
                continue
            # A new pause arrived while this request slept: book again after it.

    def process_response(self, request: Request, response: Response) -> Response:
        wait = rate_limit_wait(
            response.status,
            response.headers,
            self.clock(),
            reserve=self.reserve,
            default_wait=self.default_wait,
        )
        if wait is not None and wait > 0:
            wait = self.cap(wait)
            slot = self.slot_key(request)
            try:
                started, added = self.slots.pause(slot, wait)
            except REDIS_DOWN:  # the shared clock is unreachable: pause this worker at least
                started, added = self.local_slots.pause(slot, wait)
            if started:
                self._inc("microscout/ratelimit/paused")
                logger.info("Rate limit on %s (HTTP %s): pausing the slot for %.1fs",
                            slot, response.status, wait)
            if added > 0:
                self._inc("microscout/ratelimit/wait_seconds", round(added, 3))
        return response
