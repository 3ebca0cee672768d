"""Resumable crawls that survive SIGKILL: the warehouse is the checkpoint, not Scrapy's JOBDIR queue.

Scrapy's JOBDIR keeps the pending requests in a disk queue whose positions are saved only on a
clean close, and the seen-request fingerprints in a buffered file; after ``kill -9`` both are
stale, so a resumed crawl loses the requests that were in flight and filters out requests whose
follow-ups never ran. microscout therefore keeps queues and the duplicate filter in memory and
resumes from the warehouse: the crawl run id is stored in ``JOBDIR/microscout-run.json``, a
restarted crawl re-reads its listings (cheap) and skips every account this run already loaded
(``spider.loaded_handles``, set by the crawl-run extension ``crawler/run.py``), and the
loader's upserts make anything loaded twice land once. JOBDIR still keeps ``spider.state``
across clean restarts.
"""

from __future__ import annotations

from scrapy.core.scheduler import Scheduler as ScrapyScheduler
from scrapy.dupefilters import RFPDupeFilter
from scrapy.utils.misc import build_from_crawler, load_object


class MemoryDupeFilter(RFPDupeFilter):
    """Scrapy's fingerprint filter, never persisted to JOBDIR/requests.seen."""

    @classmethod
    def from_crawler(cls, crawler):
        return cls(None, crawler.settings.getbool("DUPEFILTER_DEBUG"),
                   fingerprinter=crawler.request_fingerprinter)


class Scheduler(ScrapyScheduler):
    """Scrapy's scheduler with memory queues only, whatever JOBDIR says."""

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        return cls(
            dupefilter=build_from_crawler(load_object(settings["DUPEFILTER_CLASS"]), crawler),
            jobdir=None,
            dqclass=load_object(settings["SCHEDULER_DISK_QUEUE"]),
            mqclass=load_object(settings["SCHEDULER_MEMORY_QUEUE"]),
            logunser=settings.getbool("SCHEDULER_DEBUG"),
            stats=crawler.stats,
            pqclass=load_object(settings["SCHEDULER_PRIORITY_QUEUE"]),
            crawler=crawler,
        )
