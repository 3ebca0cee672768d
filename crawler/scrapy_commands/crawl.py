"""``scrapy crawl`` that exits non-zero when the run failed its end-of-run checks.

Same as Scrapy's command; afterwards, a run whose crawl_runs status is ``failed`` (see
pipelines/monitor.py) exits with code 1, so cron's and CI's alerting see it.
"""

from __future__ import annotations

from scrapy.commands.crawl import Command as ScrapyCrawl


class Command(ScrapyCrawl):
    def _create_crawler(self, spname):
        self._microscout_crawler = super()._create_crawler(spname)
        return self._microscout_crawler

    def run(self, args, opts) -> None:
        super().run(args, opts)
        crawler = getattr(self, "_microscout_crawler", None)
        if crawler is not None and crawler.stats.get_value("microscout/run/status") in ("failed", "aborted"):
            self.exitcode = 1
