"""Scrapy settings for microscout.

This is the only module that reads environment variables. Every microscout setting is
prefixed ``MICROSCOUT_`` and can be overridden per run with ``scrapy crawl -s NAME=VALUE``.
"""

from __future__ import annotations

import os
from pathlib import Path

BOT_NAME = "microscout"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"
#: `scrapy crawl` exits non-zero when a run fails its checks (crawler/scrapy_commands/crawl.py).
COMMANDS_MODULE = "crawler.scrapy_commands"

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


# --- Warehouse -------------------------------------------------------------------------
#: Where runtime files live: the default SQLite warehouse, spooled batches, job state.
MICROSCOUT_DATA_DIR = _env("MICROSCOUT_DATA_DIR", str(Path.cwd() / "data"))
#: SQLAlchemy URL of the warehouse. Default: a SQLite file in the data directory.
#: Production: postgresql+psycopg://user:password@host/db (the password is never logged).
MICROSCOUT_DATABASE_URL = _env(
    "MICROSCOUT_DATABASE_URL", f"sqlite:///{Path(MICROSCOUT_DATA_DIR) / 'microscout.sqlite'}"
)
#: Items buffered by the warehouse pipeline before one batch is written in one transaction.
MICROSCOUT_BATCH_SIZE = int(_env("MICROSCOUT_BATCH_SIZE", "500") or 500)
#: Attempts to write a batch before it is spooled to disk (with exponential back-off).
MICROSCOUT_DB_RETRIES = int(_env("MICROSCOUT_DB_RETRIES", "3") or 3)
MICROSCOUT_DB_RETRY_DELAY = float(_env("MICROSCOUT_DB_RETRY_DELAY", "1.0") or 1.0)
#: Spool directory for batches that could not be written (load them with
#: ``microscout db load-spool``).
MICROSCOUT_SPOOL_DIR = _env("MICROSCOUT_SPOOL_DIR", str(Path(MICROSCOUT_DATA_DIR) / "spool"))

# --- Derived fields ----------------------------------------------------------------------
#: Tier scheme: "seed" (nano/micro/macro/mega) or "industry" (nano/micro/mid/macro/mega).
MICROSCOUT_TIER_SCHEME = _env("MICROSCOUT_TIER_SCHEME", "seed")
#: Number of most recent posts the engagement figures are computed over.
MICROSCOUT_ENGAGEMENT_POSTS = int(_env("MICROSCOUT_ENGAGEMENT_POSTS", "12") or 12)
#: Niche taxonomy (JSON). Default (unset): the one shipped in pipelines/taxonomy.json.
MICROSCOUT_TAXONOMY = _env("MICROSCOUT_TAXONOMY")
#: Optional trained niche model (``microscout niches train``), blended with the taxonomy.
MICROSCOUT_NICHE_MODEL = _env("MICROSCOUT_NICHE_MODEL")
#: Share of the trained niche model in the blend with the taxonomy (0..1; 0 = taxonomy only).
MICROSCOUT_NICHE_MODEL_WEIGHT = float(_env("MICROSCOUT_NICHE_MODEL_WEIGHT", "0.5") or 0.5)

# --- Crawling ------------------------------------------------------------------------------
ROBOTSTXT_OBEY = (_env("MICROSCOUT_ROBOTSTXT_OBEY", "true") or "true").lower() != "false"
USER_AGENT = _env(
    "MICROSCOUT_USER_AGENT",
    "microscout/0.1 (+https://github.com/microscout/microscout; research crawler)",
)
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 8
DOWNLOAD_TIMEOUT = 30
RETRY_ENABLED = True
RETRY_TIMES = 5
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
#: Per-platform minimum delay between requests to one host, in seconds. Conservative for
#: platforms that block logged-out crawling fast; the open APIs are paced by their headers.
MICROSCOUT_RATE_LIMITS = {
    "instagram": float(_env("MICROSCOUT_RATE_LIMIT_INSTAGRAM", "3.0") or 3.0),
    "tiktok": float(_env("MICROSCOUT_RATE_LIMIT_TIKTOK", "2.0") or 2.0),
    "youtube": float(_env("MICROSCOUT_RATE_LIMIT_YOUTUBE", "1.0") or 1.0),
    "mastodon": float(_env("MICROSCOUT_RATE_LIMIT_MASTODON", "0.0") or 0.0),
    "pixelfed": float(_env("MICROSCOUT_RATE_LIMIT_PIXELFED", "0.0") or 0.0),
    "bluesky": float(_env("MICROSCOUT_RATE_LIMIT_BLUESKY", "0.0") or 0.0),
}
#: Longest wait honoured from a Retry-After or rate-limit reset header, in seconds.
MICROSCOUT_MAX_RETRY_AFTER = float(_env("MICROSCOUT_MAX_RETRY_AFTER", "300") or 300)
#: Pace requests by the platforms' rate-limit headers (x-ratelimit-*, ratelimit-*, Retry-After).
MICROSCOUT_RATELIMIT_ENABLED = True
#: Requests of the advertised budget kept back before pausing a host until its reset.
MICROSCOUT_RATELIMIT_RESERVE = 0
#: Wait after a 429 that names no Retry-After or reset, in seconds.
MICROSCOUT_RATELIMIT_DEFAULT_WAIT = 1.0
#: Optional HTTP(S) proxy for all requests (Scrapy's HttpProxyMiddleware reads request.meta).
MICROSCOUT_PROXY = _env("MICROSCOUT_PROXY")
#: Optional session cookies per platform (never logged), e.g. Instagram's sessionid.
MICROSCOUT_INSTAGRAM_SESSIONID = _env("MICROSCOUT_INSTAGRAM_SESSIONID")
MICROSCOUT_BLUESKY_IDENTIFIER = _env("MICROSCOUT_BLUESKY_IDENTIFIER")
MICROSCOUT_BLUESKY_APP_PASSWORD = _env("MICROSCOUT_BLUESKY_APP_PASSWORD")
MICROSCOUT_YOUTUBE_API_KEY = _env("MICROSCOUT_YOUTUBE_API_KEY")

# --- Cassette replay (tests, offline debugging) ------------------------------------------
#: Path of a vcrpy cassette to serve responses from; empty = live network.
MICROSCOUT_CASSETTE = _env("MICROSCOUT_CASSETTE")
#: vcrpy record mode: none (replay only), once, new_episodes, all.
MICROSCOUT_CASSETTE_RECORD_MODE = _env("MICROSCOUT_CASSETTE_RECORD_MODE", "none")
#: vcrpy matchers, comma-separated (default method,scheme,host,port,path,query).
MICROSCOUT_CASSETTE_MATCH_ON = _env("MICROSCOUT_CASSETTE_MATCH_ON")
#: Whether one recorded response may answer the same request again (retries, robots.txt).
MICROSCOUT_CASSETTE_ALLOW_REPEATS = True
#: The handler serves from the cassette when MICROSCOUT_CASSETTE is set and passes requests to
#: Scrapy's own HTTP handler when it is not.
DOWNLOAD_HANDLERS = {
    "http": "crawler.cassette.CassetteDownloadHandler",
    "https": "crawler.cassette.CassetteDownloadHandler",
}

#: Resume from the warehouse after any stop, kill -9 included (see crawler/resume.py).
SCHEDULER = "crawler.resume.Scheduler"
DUPEFILTER_CLASS = "crawler.resume.MemoryDupeFilter"
#: A running run of a scheduled job (-a job=NAME) whose heartbeat is older than this many
#: seconds no longer holds the job's lock.
MICROSCOUT_RUN_LOCK_STALE = float(_env("MICROSCOUT_RUN_LOCK_STALE", "1800") or 1800)
#: End-of-run checks (pipelines/monitor.py) that set crawl_runs.status.
MICROSCOUT_MONITOR_MIN_PROFILES = 1
MICROSCOUT_MONITOR_MAX_ERROR_RATIO = 0.2
MICROSCOUT_MONITOR_MAX_QUARANTINE_RATIO = 0.1
MICROSCOUT_MONITOR_MIN_FOLLOWER_COVERAGE = 0.95

ITEM_PIPELINES = {
    "pipelines.validate.ValidatePipeline": 100,
    "pipelines.normalize.NormalizePipeline": 200,
    "pipelines.engagement.EngagementPipeline": 300,
    "pipelines.tier.TierPipeline": 400,
    "pipelines.niche.NichePipeline": 500,
    "pipelines.warehouse.WarehousePipeline": 900,
}

DOWNLOADER_MIDDLEWARES = {
    # Scrapy 2.19's robots.txt middleware lets requests queued behind the robots.txt fetch
    # through unchecked; crawler/robots.py fixes that (see its docstring).
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.robots.RobotsTxtMiddleware": 100,
    "crawler.middlewares.RateLimitMiddleware": 560,
}

LOG_LEVEL = _env("MICROSCOUT_LOG_LEVEL", "INFO")
FEED_EXPORT_ENCODING = "utf-8"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
TELNETCONSOLE_ENABLED = False
#: Scrapy 2.19's RemoteControl extension serves an HTTP endpoint that runs posted code: off.
REMOTE_CONTROL_ENABLED = False
