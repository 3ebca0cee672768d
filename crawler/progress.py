"""Progress extension: one status line every few seconds, for the command line.

Enabled by MICROSCOUT_PROGRESS (the ``microscout`` command turns it on unless ``--quiet``).
MICROSCOUT_PROGRESS_INTERVAL sets the period in seconds (default 2).
"""

from __future__ import annotations

import sys
import time

from scrapy import signals
from scrapy.exceptions import NotConfigured
from twisted.internet import task

from crawler.items import HashtagSightingItem, ProfileItem, RejectedItem
from crawler.settings_check import setting


class ProgressLine:
    def __init__(self, crawler, interval: float, stream=None) -> None:
        self.name = crawler.spidercls.name
        self.stats = crawler.stats
        self.interval = interval
        self.stream = stream or sys.stderr
        self.counts = {"profiles": 0, "sightings": 0, "quarantined": 0}
        self.started = time.monotonic()
        self.loop: task.LoopingCall | None = None
        crawler.signals.connect(self.opened, signal=signals.spider_opened)
        crawler.signals.connect(self.closed, signal=signals.spider_closed)
        crawler.signals.connect(self.scraped, signal=signals.item_scraped)

    @classmethod
    def from_crawler(cls, crawler):
        if not setting(crawler.settings, "MICROSCOUT_PROGRESS", False):
            raise NotConfigured
        return cls(crawler, setting(crawler.settings, "MICROSCOUT_PROGRESS_INTERVAL", 2.0))

    def opened(self, spider) -> None:
        self.started = time.monotonic()
        self.loop = task.LoopingCall(self.report)
        self.loop.start(self.interval, now=False)

    def closed(self, spider, reason) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        self.report(final=True)

    def scraped(self, item, response, spider) -> None:
        if isinstance(item, ProfileItem):
            self.counts["profiles"] += 1
        elif isinstance(item, HashtagSightingItem):
            self.counts["sightings"] += 1
        elif isinstance(item, RejectedItem):
            self.counts["quarantined"] += 1

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        pages = self.stats.get_value("response_received_count", 0)
        loaded = self.stats.get_value("microscout/warehouse/items_loaded", 0)
        return (f"{self.name}: pages {pages} | profiles {self.counts['profiles']}"
                f" | sightings {self.counts['sightings']} | quarantined {self.counts['quarantined']}"
                f" | loaded {loaded}"
                f" | {pages / elapsed:.1f} pages/s | {elapsed:.0f}s")

    def report(self, final: bool = False) -> None:
        end = "\n" if final or not self.stream.isatty() else "\r"
        self.stream.write(self.line() + end)
        self.stream.flush()
