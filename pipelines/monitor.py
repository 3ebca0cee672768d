"""End-of-run checks over the crawl's stats: they set crawl_runs.status to ok, degraded or failed.

A failed check marked ``critical`` fails the run (``microscout`` commands and ``scrapy crawl``
then exit non-zero); any other failed check degrades it. Thresholds are settings:

- ``MICROSCOUT_MONITOR_MIN_PROFILES`` (1, critical): profiles that reached the warehouse
  (loaded, or spooled for loading later);
- items loaded (critical): a run that scraped something and loaded none of it failed, even when
  everything was spooled (``microscout db load-spool`` then completes it);
- nothing lost (critical): records the warehouse could neither write nor spool (a full disk);
- the output written (critical): every item a feed (``--output``, ``FEEDS``) should hold was
  stored (:class:`FeedWatch`);
- ``MICROSCOUT_MONITOR_MAX_ERROR_RATIO`` (0.2): failed requests / requests answered or failed;
  every request failing is critical;
- ``MICROSCOUT_MONITOR_MAX_QUARANTINE_RATIO`` (0.1): quarantined / (profiles + quarantined);
- ``MICROSCOUT_MONITOR_MIN_FOLLOWER_COVERAGE`` (0.95): profiles with followers / profiles seen;
- nothing refused by an official API's budget (``microscout/quota/refused``: an Instagram
  hashtag beyond the 30 a week, crawler/quota.py); a budget that stops the crawl ends it with
  ``finish_reason`` ``quota_exhausted``, so the run is ``aborted``;
- the signals computed (models/analytics.py: audience quality, creators, lookalikes, after the
  run's last write);
- nothing spooled (the warehouse was reachable throughout); ``db load-spool`` marks it passed
  (``completed_by``) and recomputes the status (:func:`complete_after_load_spool`).

Spidermon was considered: its monitors are unittest suites reporting through actions, while these
checks must land in the same crawl_runs row the warehouse pipeline writes, and set the exit code;
a few ratios over Scrapy's stats are simpler here than a suite, its settings and its dependencies.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

logger = logging.getLogger(__name__)

RECEIVED = "microscout/warehouse/received/"
OUTPUT_UNWRITTEN = "microscout/output/unwritten_items"
OUTPUT_UNSTORED = "microscout/output/unstored_feeds"
FEED_FAILED = "feedexport/failed_count/"


@dataclass
class Check:
    name: str
    value: float
    threshold: float
    passed: bool
    critical: bool = False


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


def _sum(stats: dict, prefix: str) -> int:
    return sum(value for key, value in stats.items() if key.startswith(prefix))


def run_checks(stats: dict, settings) -> list[Check]:
    profiles = stats.get("microscout/warehouse/received/profile", 0)
    received = _sum(stats, RECEIVED)
    loaded = stats.get("microscout/warehouse/items_loaded", 0)
    lost = stats.get("microscout/warehouse/lost_items", 0)
    unwritten = stats.get(OUTPUT_UNWRITTEN, 0) + stats.get(OUTPUT_UNSTORED, 0) + _sum(stats, FEED_FAILED)
    quarantined = stats.get("microscout/quarantined/total", 0)
    missing_followers = stats.get("microscout/quarantined/missing_followers", 0) + stats.get(
        "microscout/quarantined/unreadable_count", 0)
    responses = stats.get("response_received_count", 0)
    # requests a spent budget left unsent (crawler/quota.py) did not fail
    unsent = stats.get("downloader/exception_type_count/crawler.quota.QuotaExhausted", 0)
    failures = stats.get("downloader/exception_count", 0) - unsent + stats.get(
        "retry/max_reached", 0)
    min_profiles = settings.getint("MICROSCOUT_MONITOR_MIN_PROFILES", 1)
    max_errors = settings.getfloat("MICROSCOUT_MONITOR_MAX_ERROR_RATIO", 0.2)
    max_quarantine = settings.getfloat("MICROSCOUT_MONITOR_MAX_QUARANTINE_RATIO", 0.1)
    min_coverage = settings.getfloat("MICROSCOUT_MONITOR_MIN_FOLLOWER_COVERAGE", 0.95)
    error_ratio = _ratio(failures, responses + failures)
    coverage = 1.0 - _ratio(missing_followers, profiles + missing_followers)
    spooled = stats.get("microscout/warehouse/spooled_items", 0)
    refused = stats.get("microscout/quota/refused", 0)
    unsignalled = stats.get("microscout/signals/refresh_failed", 0)
    return [
        Check("profiles_loaded", profiles, min_profiles, profiles >= min_profiles, critical=True),
        Check("items_loaded", loaded, 1, loaded >= 1 or received == 0, critical=True),
        Check("nothing_lost", lost, 0, lost == 0, critical=True),
        Check("output_written", unwritten, 0, unwritten == 0, critical=True),
        Check("pages_answered", responses, 1, responses > 0 or failures == 0, critical=True),
        Check("error_ratio", round(error_ratio, 4), max_errors, error_ratio <= max_errors),
        Check("quarantine_ratio", round(_ratio(quarantined, profiles + quarantined), 4), max_quarantine,
              _ratio(quarantined, profiles + quarantined) <= max_quarantine),
        Check("follower_coverage", round(coverage, 4), min_coverage, coverage >= min_coverage),
        Check("nothing_spooled", spooled, 0, spooled == 0),
        Check("nothing_refused", refused, 0, refused == 0),
        Check("signals_computed", unsignalled, 0, unsignalled == 0),
    ]


def _status(results: Iterable[tuple[bool, bool]]) -> str:
    """ok, degraded or failed from (passed, critical) pairs."""
    results = list(results)
    if any(not passed and critical for passed, critical in results):
        return "failed"
    if any(not passed for passed, _ in results):
        return "degraded"
    return "ok"


def status_of(checks: list[Check]) -> str:
    return _status((c.passed, c.critical) for c in checks)


def as_json(checks: list[Check]) -> dict:
    return {c.name: asdict(c) for c in checks}


def complete_after_load_spool(checks: dict, loaded: dict) -> tuple[str, dict]:
    """A run's status and checks once ``db load-spool`` has loaded its spooled records.

    ``checks`` as stored in crawl_runs (:func:`as_json`); ``loaded``: {"items": n, ...} loaded
    from the spool. ``nothing_spooled`` passes, marked ``completed_by: load-spool``, and so does
    ``signals_computed`` when the load computed them (``loaded["signals"]``); the items count
    grows; every other check keeps its result.
    """
    checks = {name: dict(check) for name, check in checks.items()}
    spooled = checks.get("nothing_spooled")
    if spooled is not None:
        spooled.update(passed=True, completed_by="load-spool")
    signals = checks.get("signals_computed")
    if signals is not None and loaded.get("signals") and not signals.get("passed"):
        signals.update(passed=True, completed_by="load-spool")
    items = checks.get("items_loaded")
    if items is not None:
        items["value"] = items.get("value", 0) + loaded.get("items", 0)
        items["passed"] = bool(items["passed"] or items["value"] >= items.get("threshold", 1))
    status = _status((bool(c.get("passed")), bool(c.get("critical"))) for c in checks.values())
    return status, checks


def _shown(uri: str) -> str:
    """A feed URI safe to log (ftp://user:password@host/... masked)."""
    from models.db import mask_url

    return mask_url(uri) if "://" in uri else uri


class FeedWatch:
    """What each feed (``--output``, ``FEEDS``) should hold, against what Scrapy's feed exporter
    stored; sets ``microscout/output/*`` stats for the ``output_written`` check.

    Scrapy's ``FeedExporter`` logs a feed it cannot write and carries on: a file it cannot open
    raises in its ``item_scraped`` handler (each item is skipped) and again when the feed closes,
    before ``feed_slot_closed`` is sent; a write error part-way skips the items it hit. So each
    feed's items are counted here as the exporter's filter accepts them (``item_scraped``), and
    compared with the ``itemcount`` of the slots it closed (``feed_slot_closed``); a feed with no
    slot closed was not stored. The feed export closes after the item pipelines, so the run waits
    for it (:meth:`wait`) before its checks.
    """

    def __init__(self, crawler: Any) -> None:
        from scrapy import signals

        self.crawler = crawler
        self.expected: dict[str, int] = {}
        self.written: dict[str, int] = {}
        self.done = asyncio.Event()
        self._exporter: Any = None
        crawler.signals.connect(self.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(self.slot_closed, signal=signals.feed_slot_closed)
        crawler.signals.connect(self.exporter_closed, signal=signals.feed_exporter_closed)

    def exporter(self) -> Any:
        """The crawl's active FeedExporter, or None (no feeds, or before the engine starts)."""
        if self._exporter is None:
            from scrapy.extensions.feedexport import FeedExporter

            manager = getattr(self.crawler, "extensions", None)
            found = [m for m in getattr(manager, "middlewares", ()) if isinstance(m, FeedExporter)]
            self._exporter = found[0] if found else None
        return self._exporter

    def pending(self) -> bool:
        return self.exporter() is not None and not self.done.is_set()

    async def wait(self) -> None:
        if self.pending():
            await self.done.wait()

    def item_scraped(self, item: Any) -> None:
        exporter = self.exporter()
        if exporter is None:
            return
        for uri, accepts in exporter.filters.items():
            if accepts.accepts(item):
                self.expected[uri] = self.expected.get(uri, 0) + 1

    def slot_closed(self, slot: Any) -> None:
        self.written[slot.uri_template] = self.written.get(slot.uri_template, 0) + slot.itemcount

    def exporter_closed(self) -> None:
        exporter = self.exporter()
        stats = self.crawler.stats
        for uri, options in (exporter.feeds.items() if exporter is not None else ()):
            expected = self.expected.get(uri, 0)
            written = self.written.get(uri)
            missing = expected - (written or 0)
            unstored = written is None and (expected > 0 or options.get("store_empty"))
            if missing > 0:
                stats.inc_value(OUTPUT_UNWRITTEN, missing)
            if unstored:
                stats.inc_value(OUTPUT_UNSTORED)
            if missing > 0 or unstored:
                logger.error("Output %s: %d of %d items not written (see the feed export error above)",
                             _shown(uri), max(missing, 0), expected)
        self.done.set()
