"""Official API budgets: booked in the warehouse before a call leaves, across runs and workers.

A spider marks a request that costs budget with ``meta["microscout_quota"] = {"api": ...,
"units": n}`` (several units when one call spends several: TikTok's requests and records);
:class:`QuotaMiddleware` books the cost in ``api_usage`` (``models/quota.py``) when the request
really leaves (after the rate limiter's wait) and, when the budget cannot cover it, sends
nothing more: the crawl stops with ``finish_reason`` ``quota_exhausted``, the log and
``crawl_runs.stats`` say which budget, how much was used and when it resets, and the request is
not recorded as a failure (a distributed job's worker leaves it leased, so the job keeps it). The
next run continues: a refresh (``--max-age``) finds the accounts still stale, a ``JOBDIR`` run
resumes, and a job keeps its queue.

Budgets are reserved from the warehouse in blocks (:data:`BLOCK_SHARE` of the limit), so a call
rarely waits for the database; what a run reserved and did not spend is given back when it
closes. A run that dies keeps at most one block booked: budgets err on the safe side. Without a
warehouse (or while it is unreachable) the run counts in memory and books what it spent when it
can (``microscout/quota/unbooked``).
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from scrapy import signals
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request

logger = logging.getLogger(__name__)

META = "microscout_quota"
#: Share of a budget one run reserves from the warehouse at a time.
BLOCK_SHARE = 0.005


@dataclass(frozen=True)
class Budget:
    api: str
    unit: str
    setting: str  # the limit's setting
    default: int
    timezone: str  # the window is a calendar day in this zone
    title: str

    @property
    def key(self) -> str:
        return f"{self.api}:{self.unit}"

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        """The day holding ``now`` in the budget's time zone, as UTC instants."""
        zone = ZoneInfo(self.timezone)
        day = now.astimezone(zone).date()
        start = datetime.combine(day, time(0), tzinfo=zone)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
        return start.astimezone(timezone.utc), end.astimezone(timezone.utc)

    def limit(self, settings: Any) -> int:
        return settings.getint(self.setting, self.default) if settings is not None else self.default


BUDGETS: dict[str, Budget] = {b.key: b for b in (
    Budget("youtube", "units", "MICROSCOUT_YOUTUBE_DAILY_QUOTA", 10_000, "America/Los_Angeles",
           "YouTube Data API v3 quota units (reset at midnight Pacific time)"),
    Budget("tiktok_research", "requests", "MICROSCOUT_TIKTOK_DAILY_REQUESTS", 1_000, "UTC",
           "TikTok Research API requests (reset at midnight UTC)"),
    Budget("tiktok_research", "records", "MICROSCOUT_TIKTOK_DAILY_RECORDS", 100_000, "UTC",
           "TikTok Research API records returned (reset at midnight UTC)"),
)}


def account_of(host: str, secret: str) -> str:
    """Whose budget: the API host and a short fingerprint of the key (never the key itself)."""
    return f"{host} key:{hashlib.sha256(secret.encode()).hexdigest()[:10]}"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class QuotaExhausted(IgnoreRequest):
    """The request was not sent: its budget is spent until ``resets_at``."""

    def __init__(self, budget: Budget, used: int, limit: int, needed: int, resets_at: datetime):
        self.budget, self.used, self.limit, self.resets_at = budget, used, limit, resets_at
        local = resets_at.astimezone(ZoneInfo(budget.timezone))
        super().__init__(
            f"{budget.title}: {used:,} of {limit:,} used, this call needs {needed:,}; resets "
            f"{resets_at:%Y-%m-%d %H:%M} UTC ({local:%H:%M %Z}). Stopping; the next run continues.")


@dataclass
class _Allowance:
    window_start: datetime
    reserved: int = 0  # booked in the warehouse by this run, in this window
    spent: int = 0
    unbooked: int = 0  # spent while the warehouse could not be reached


class QuotaBook:
    """One crawl's view of the budgets (``QuotaBook.of(crawler)``)."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.settings = crawler.settings
        self.stats = crawler.stats
        self.allowances: dict[tuple[str, str], _Allowance] = {}
        self.exhausted: QuotaExhausted | None = None
        self._closing: Any = None
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def of(cls, crawler: Any) -> QuotaBook:
        found = getattr(crawler, "microscout_quota", None)
        if not isinstance(found, cls):
            found = crawler.microscout_quota = cls(crawler)
        return found

    def _run(self) -> Any:
        if not self.settings.get("MICROSCOUT_DATABASE_URL"):
            return None
        from crawler.run import CrawlRun

        return CrawlRun.of(self.crawler)

    async def db(self, fn: Any, *args: Any) -> Any:
        """``fn(conn, *args)`` in a warehouse transaction on the run's thread."""
        run = self._run()
        if run is None:
            raise ConnectionError("no warehouse (MICROSCOUT_DATABASE_URL is empty)")

        def work() -> Any:
            with run.connect().begin() as conn:
                return fn(conn, *args)
        return await run.in_worker(work)

    def _allowance(self, budget: Budget, account: str, now: datetime) -> _Allowance:
        start, _ = budget.window(now)
        allowance = self.allowances.get((budget.key, account))
        if allowance is None or allowance.window_start != start:
            allowance = self.allowances[(budget.key, account)] = _Allowance(start)
        return allowance

    async def spend(self, key: str, account: str, amount: int) -> None:
        """Take ``amount`` from the budget; QuotaExhausted when it cannot cover it."""
        from models import quota

        budget = BUDGETS[key]
        now = utcnow()
        window = budget.window(now)
        limit = budget.limit(self.settings)
        allowance = self._allowance(budget, account, now)
        if allowance.reserved - allowance.spent < amount:
            block = max(amount - (allowance.reserved - allowance.spent),
                        math.ceil(limit * BLOCK_SHARE))
            try:
                booked = await self.db(quota.reserve, budget.api, budget.unit, account, window,
                                        block, limit)
                if not booked and block > amount:  # the last of the budget: just this call
                    block = amount - (allowance.reserved - allowance.spent)
                    booked = await self.db(quota.reserve, budget.api, budget.unit, account,
                                            window, block, limit)
            except Exception as exc:
                booked = self._in_memory(budget, allowance, amount, limit, exc)
                block = amount if booked else 0
            if not booked:
                used = await self.used(budget, account, window[0], allowance)
                raise QuotaExhausted(budget, used, limit, amount, window[1])
            allowance.reserved += block
        allowance.spent += amount
        self._inc(f"microscout/quota/{budget.api}/{budget.unit}", amount)

    def _in_memory(self, budget: Budget, allowance: _Allowance, amount: int, limit: int,
                   exc: Exception) -> bool:
        if allowance.spent + amount > limit:
            return False
        if not allowance.unbooked:
            logger.warning("Cannot book %s in the warehouse (%s): counting in memory",
                           budget.key, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        allowance.unbooked += amount
        self._inc("microscout/quota/unbooked", amount)
        return True

    async def used(self, budget: Budget, account: str, window_start: datetime,
                   allowance: _Allowance) -> int:
        from models import quota

        try:
            return int(await self.db(quota.used, budget.api, budget.unit, account, window_start))
        except Exception:
            return allowance.spent

    def refund(self, key: str, account: str, amount: int) -> None:
        """Give back part of a booking that was not spent (TikTok records not returned)."""
        allowance = self.allowances.get((key, account))
        if allowance is not None and amount > 0:
            allowance.spent -= min(amount, allowance.spent)
            self._inc(f"microscout/quota/{BUDGETS[key].api}/{BUDGETS[key].unit}", -amount)

    def stop(self, exc: QuotaExhausted) -> None:
        """The budget is spent: close the crawl once, saying why."""
        if self.exhausted is not None:
            return
        self.exhausted = exc
        logger.warning("%s", exc)
        self.stats.set_value("microscout/quota/exhausted", exc.budget.key)
        self.stats.set_value("microscout/quota/resets_at", exc.resets_at.isoformat())
        engine = getattr(self.crawler, "engine", None)
        if engine is not None:
            import asyncio

            self._closing = asyncio.ensure_future(engine.close_spider_async(reason="quota_exhausted"))

    async def spider_closed(self) -> None:
        """Give back what was reserved and not spent; book what was spent unbooked."""
        from models import quota

        for (key, account), allowance in self.allowances.items():
            budget = BUDGETS[key]
            left = allowance.reserved - allowance.spent
            try:
                if left > 0:
                    await self.db(quota.release, budget.api, budget.unit, account,
                                  allowance.window_start, left)
                    allowance.reserved = allowance.spent
                if allowance.unbooked:
                    window = (allowance.window_start, budget.window(allowance.window_start)[1])
                    await self.db(partial(quota.reserve, force=True), budget.api, budget.unit,
                                  account, window, allowance.unbooked, budget.limit(self.settings))
                    allowance.unbooked = 0
            except Exception as exc:
                logger.warning("Cannot settle the %s budget in the warehouse: %s", key,
                               str(exc).splitlines()[0] if str(exc) else type(exc).__name__)

    def _inc(self, key: str, value: int) -> None:
        if self.stats is not None:
            self.stats.inc_value(key, value)


class QuotaMiddleware:
    """Downloader middleware: books a request's cost before it leaves (see the module)."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.book = QuotaBook.of(crawler)

    @classmethod
    def from_crawler(cls, crawler: Any) -> QuotaMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        cost = request.meta.get(META)
        if not cost:
            return
        if self.book.exhausted is not None:
            raise self.book.exhausted
        api, account = cost["api"], cost["account"]
        for unit, amount in cost.items():
            if unit in ("api", "account") or not amount:
                continue
            try:
                await self.book.spend(f"{api}:{unit}", account, int(amount))
            except QuotaExhausted as exc:
                self.book.stop(exc)
                raise


def cost(api: str, account: str, **units: int) -> dict[str, Any]:
    """The ``meta["microscout_quota"]`` of a request: ``cost("youtube", account, units=1)``."""
    unknown = [u for u in units if f"{api}:{u}" not in BUDGETS]
    if unknown:
        raise ValueError(f"no {api} budget counts {', '.join(unknown)}")
    return {"api": api, "account": account, **units}
