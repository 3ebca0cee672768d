"""Run the item pipelines outside a crawl: for ``microscout parse`` and tests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.misc import build_from_crawler, load_object

from crawler import settings as project_settings

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

#: Everything but the warehouse: parse output is normalised and tagged, not stored.
OFFLINE_PIPELINES = [
    name for name, _ in sorted(project_settings.ITEM_PIPELINES.items(), key=lambda kv: kv[1])
    if not name.endswith("WarehousePipeline")
]


class OfflineChain:
    """validate -> normalise -> engagement -> tier -> niche, applied to items one by one."""

    def __init__(self, settings: Any) -> None:
        """``settings``: the project's Scrapy settings (the caller reads them)."""
        self.crawler = _OfflineCrawler(settings)
        self.pipelines = [build_from_crawler(load_object(path), self.crawler.as_crawler())
                          for path in OFFLINE_PIPELINES]

    @property
    def stats(self) -> dict:
        return self.crawler.stats.get_stats()

    def process(self, item: Any) -> Any:
        for pipeline in self.pipelines:
            # a pipeline that works off the reactor in a crawl offers a synchronous twin
            item = getattr(pipeline, "process_item_now", pipeline.process_item)(item)
        return item


class _OfflineCrawler:
    """What the pipelines need of a crawler (settings, stats), without a reactor or engine."""

    def __init__(self, settings) -> None:
        self.settings = settings
        self.spider = None
        self.stats = MemoryStatsCollector(self.as_crawler())

    def as_crawler(self) -> Crawler:
        """This stand-in, typed as the Crawler it imitates (settings, stats and spider only)."""
        return cast("Crawler", self)
