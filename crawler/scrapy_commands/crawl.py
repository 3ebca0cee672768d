"""``scrapy crawl`` that exits non-zero when the run failed its end-of-run checks.

Same as Scrapy's command, with two additions: a bad ``MICROSCOUT_*`` value (``-s``, the
environment) is one usage-error line before anything starts (crawler/settings_check.py), and a
run whose crawl_runs status is ``failed`` or ``aborted`` (see pipelines/monitor.py) exits with code
1, so cron's and CI's alerting see it. ``-a source=`` picks the spider of a platform's source
(``scrapy crawl instagram -a source=graph`` runs ``instagram_graph``; crawler/platforms.py).
"""

from __future__ import annotations

from scrapy.commands.crawl import Command as ScrapyCrawl
from scrapy.exceptions import UsageError

from crawler.platforms import REGISTRY, spider_for
from crawler.settings_check import SettingError, check_settings


class Command(ScrapyCrawl):
    def _create_crawler(self, spname):
        self._microscout_crawler = super()._create_crawler(spname)
        return self._microscout_crawler

    def run(self, args, opts) -> None:
        try:
            check_settings(self.settings)
        except SettingError as exc:
            raise UsageError(str(exc), print_help=False) from None
        if args and args[0] in REGISTRY and opts.spargs.get("source"):
            try:  # scrapy crawl instagram -a source=graph: the spider that reads that source
                args[0] = spider_for(args[0], opts.spargs["source"])
            except ValueError as exc:
                raise UsageError(str(exc), print_help=False) from None
        super().run(args, opts)
        crawler = getattr(self, "_microscout_crawler", None)
        if crawler is not None and crawler.stats.get_value("microscout/run/status") in ("failed", "aborted"):
            self.exitcode = 1
