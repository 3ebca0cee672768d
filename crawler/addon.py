"""The microscout add-on: settings that feed Scrapy's own, whichever way they were given.

``MICROSCOUT_ROBOTSTXT_OBEY``, ``MICROSCOUT_USER_AGENT`` and ``MICROSCOUT_LOG_LEVEL`` can come from
the environment, the project settings or a per-run ``-s``/``--set``; Scrapy reads
``ROBOTSTXT_OBEY``, ``USER_AGENT`` and ``LOG_LEVEL``. Scrapy's add-on hook runs on each
crawler's settings after every override has been applied and before they freeze, so the
microscout name is copied onto Scrapy's unless Scrapy's own name was given with a higher
priority (``-s ROBOTSTXT_OBEY=False`` still wins over the project's ``MICROSCOUT_ROBOTSTXT_OBEY``).

With ``MICROSCOUT_REDIS_URL`` set it switches the crawl onto a distributed job's scheduler,
extension and middlewares (:data:`DISTRIBUTED`, see :mod:`crawler.distributed`).

It also masks the settings' secrets in every log line from here on (:mod:`crawler.redact`),
before the extensions and middlewares log anything.
"""

from __future__ import annotations

from scrapy.settings import BaseSettings

from crawler import redact

#: microscout setting -> the Scrapy setting it feeds, and how it is read.
MAPPED = {
    "MICROSCOUT_ROBOTSTXT_OBEY": ("ROBOTSTXT_OBEY", "getbool"),
    "MICROSCOUT_USER_AGENT": ("USER_AGENT", "get"),
    "MICROSCOUT_LOG_LEVEL": ("LOG_LEVEL", "get"),
}


class MicroscoutAddon:
    def update_settings(self, settings: BaseSettings) -> None:
        for ours, (theirs, getter) in MAPPED.items():
            priority = settings.getpriority(ours)
            if priority is None or priority < (settings.getpriority(theirs) or 0):
                continue
            settings.set(theirs, getattr(settings, getter)(ours), priority=priority)
        if settings.get("MICROSCOUT_REDIS_URL"):
            distributed(settings)
        redact.install(settings)


#: A distributed job's components (crawler/distributed), switched on by MICROSCOUT_REDIS_URL.
DISTRIBUTED = {
    "SCHEDULER": "crawler.distributed.scheduler.Scheduler",
    "EXTENSIONS": {"crawler.distributed.worker.Worker": 90},
    "SPIDER_MIDDLEWARES": {"crawler.distributed.worker.LeaseMiddleware": 5,
                           "crawler.distributed.worker.StartMiddleware": 6},
}


def distributed(settings: BaseSettings) -> None:
    """Every spider on the scrapy-redis scheduler of its job, with the worker's extension."""
    priority = max(settings.getpriority("MICROSCOUT_REDIS_URL") or 0, 20)
    for name, value in DISTRIBUTED.items():
        if isinstance(value, dict):
            value = {**settings.getdict(name), **value}
        settings.set(name, value, priority=max(priority, settings.getpriority(name) or 0))
    if not settings.getfloat("MICROSCOUT_FLUSH_INTERVAL"):
        settings.set("MICROSCOUT_FLUSH_INTERVAL", 5.0, priority=priority)
