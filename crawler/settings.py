"""Scrapy settings for microscout: every default lives here.

This is the only module that reads environment variables, and it reads them one way: every
``MICROSCOUT_*`` variable in the environment replaces the setting of the same name (as text;
components read settings with Scrapy's typed getters, ``getint``/``getfloat``/``getbool``).
Every setting can also be overridden per run (``scrapy crawl -s NAME=VALUE``, ``microscout
... --set NAME=VALUE``), which wins over the environment. ``MICROSCOUT_ROBOTSTXT_OBEY``,
``MICROSCOUT_USER_AGENT`` and ``MICROSCOUT_LOG_LEVEL`` feed Scrapy's own ``ROBOTSTXT_OBEY``,
``USER_AGENT`` and ``LOG_LEVEL`` through the add-on ``crawler.addon.MicroscoutAddon``, so they
too work from any of the three places.
"""

from __future__ import annotations

import os
from pathlib import Path

from crawler.platforms import REGISTRY

BOT_NAME = "microscout"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"
#: `scrapy crawl` exits non-zero when a run fails its checks (crawler/scrapy_commands/crawl.py).
COMMANDS_MODULE = "crawler.scrapy_commands"

PROJECT_ROOT = Path(__file__).resolve().parent.parent


# --- Warehouse -------------------------------------------------------------------------
#: Where runtime files live: the default SQLite warehouse, spooled batches, job state.
#: (Read here as well as below: the next two defaults derive from it.)
MICROSCOUT_DATA_DIR = os.environ.get("MICROSCOUT_DATA_DIR") or str(Path.cwd() / "data")
#: SQLAlchemy URL of the warehouse. Default: a SQLite file in the data directory.
#: Production: postgresql+psycopg://user:password@host/db (the password is never logged).
MICROSCOUT_DATABASE_URL = f"sqlite:///{Path(MICROSCOUT_DATA_DIR) / 'microscout.sqlite'}"
#: Items buffered by the warehouse pipeline before one batch is written in one transaction.
MICROSCOUT_BATCH_SIZE = 500
#: Attempts to write a batch before it is spooled to disk (with exponential back-off).
MICROSCOUT_DB_RETRIES = 3
MICROSCOUT_DB_RETRY_DELAY = 1.0
#: Seconds a connection attempt to the warehouse may take (PostgreSQL connect_timeout; also the
#: TCP keepalive idle time). 0 = no limit.
MICROSCOUT_DB_CONNECT_TIMEOUT = 10.0
#: Seconds one warehouse statement may take (PostgreSQL statement_timeout; SQLite: how long to
#: wait on a lock). With both set, a PostgreSQL connection that shows no progress for their sum
#: is cut (models.db.Watchdog): a hang becomes retries, then the spool. 0 = no limit.
MICROSCOUT_DB_STATEMENT_TIMEOUT = 60.0
#: Spool directory for batches that could not be written (load them with
#: ``microscout db load-spool``).
MICROSCOUT_SPOOL_DIR = str(Path(MICROSCOUT_DATA_DIR) / "spool")
#: Days raw quarantine payloads are kept (rejected_items.payload; the row and its reason stay):
#: cleared at the end of every run and by `microscout db purge-raw`. None keeps them.
MICROSCOUT_RAW_RETENTION_DAYS = None

# --- Derived fields ----------------------------------------------------------------------
#: Tier scheme: "seed" (nano/micro/macro/mega) or "industry" (nano/micro/mid/macro/mega).
MICROSCOUT_TIER_SCHEME = "seed"
#: Number of most recent posts the engagement figures are computed over.
MICROSCOUT_ENGAGEMENT_POSTS = 12
#: Niche taxonomy (JSON). Default (unset): the one shipped in pipelines/taxonomy.json.
MICROSCOUT_TAXONOMY = None
#: Blend zero-shot sentence embeddings into the taxonomy's niche scores (the ``embeddings``
#: extra; without it the taxonomy tags alone and the log says so).
MICROSCOUT_NICHE_EMBEDDINGS = True
#: Optional trained niche model (``microscout niches train``), blended with the default scorer.
MICROSCOUT_NICHE_MODEL = None
#: Share of the trained niche model in that blend (0..1; 0 = no model). 0.3: the best of 0.1-0.5
#: in 5-fold CV on TweetTopic (docs/niches.md).
MICROSCOUT_NICHE_MODEL_WEIGHT = 0.3
#: Languages (ISO 639-1) Lingua chooses a creator's language from; empty = the 20 of
#: pipelines/language.py (en es pt fr de it nl pl tr ru uk ar hi id ja ko zh th vi sv).
MICROSCOUT_LANGUAGES = ""
#: Lingua's mode: "high" (made for short texts; about 2 s to load per process) or "low" (trigrams
#: only: loads at once; the test suite uses it).
MICROSCOUT_LANGUAGE_ACCURACY = "high"
#: After each run, compute audience quality, creators and lookalikes (models/analytics.py).
MICROSCOUT_SIGNALS = True

# --- Crawling ------------------------------------------------------------------------------
#: Obey robots.txt (Scrapy's ROBOTSTXT_OBEY, set from this by the add-on).
MICROSCOUT_ROBOTSTXT_OBEY = True
ROBOTSTXT_OBEY = True
#: The User-Agent sent (Scrapy's USER_AGENT, set from this by the add-on).
MICROSCOUT_USER_AGENT = "microscout/0.1 (+https://github.com/microscout/microscout; research crawler)"
USER_AGENT = MICROSCOUT_USER_AGENT
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 8
DOWNLOAD_TIMEOUT = 30
RETRY_ENABLED = True
RETRY_TIMES = 5
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
#: Per-platform minimum delay between requests to one host, in seconds:
#: MICROSCOUT_RATE_LIMIT_INSTAGRAM = 3.0, _TIKTOK = 2.0, _YOUTUBE = 1.0, _MASTODON, _PIXELFED and
#: _BLUESKY = 0.0 (the open APIs are paced by their headers). Defaults from crawler/platforms.py.
globals().update({platform.setting: platform.rate_limit for platform in REGISTRY.values()})
#: Longest wait honoured from a Retry-After or rate-limit reset header, in seconds.
MICROSCOUT_MAX_RETRY_AFTER = 300.0
#: Pace requests by the platforms' rate-limit headers (x-ratelimit-*, ratelimit-*, Retry-After).
MICROSCOUT_RATELIMIT_ENABLED = True
#: Requests of the advertised budget kept back before pausing a host until its reset.
MICROSCOUT_RATELIMIT_RESERVE = 0
#: Wait after a 429 that names no Retry-After or reset, in seconds.
MICROSCOUT_RATELIMIT_DEFAULT_WAIT = 1.0
#: Pause of a host after a rate-limit *body* ("Please wait a few minutes" as 200/401), seconds.
MICROSCOUT_RATELIMIT_BODY_WAIT = 60.0
#: Optional HTTP(S) proxy for all requests (Scrapy's HttpProxyMiddleware reads request.meta).
MICROSCOUT_PROXY = None
#: Optional session cookies per platform (never logged), e.g. Instagram's sessionid.
MICROSCOUT_INSTAGRAM_SESSIONID = None
MICROSCOUT_BLUESKY_IDENTIFIER = None
MICROSCOUT_BLUESKY_APP_PASSWORD = None
#: Refresh the Bluesky session when less than this many seconds of its token are left (0: only
#: log in again after an expired-token answer).
MICROSCOUT_BLUESKY_REFRESH_MARGIN = 300.0
MICROSCOUT_YOUTUBE_API_KEY = None
#: YouTube Data API units a day (Google's default project quota), counted in the warehouse across
#: runs and workers; reset at midnight Pacific time as YouTube does (crawler/quota.py).
MICROSCOUT_YOUTUBE_DAILY_QUOTA = 10_000
#: Instagram Graph API (-a source=graph): a token of the operator's own professional account and
#: that account's Instagram user id (docs/instagram.md says how to obtain them).
MICROSCOUT_INSTAGRAM_GRAPH_TOKEN = None
MICROSCOUT_INSTAGRAM_GRAPH_USER_ID = None
#: Pause calls when X-App-Usage / X-Business-Use-Case-Usage reach this percentage of a limit.
MICROSCOUT_INSTAGRAM_GRAPH_USAGE_PAUSE = 90.0
#: TikTok Research API (-a source=research): the approved client's key and secret.
MICROSCOUT_TIKTOK_CLIENT_KEY = None
MICROSCOUT_TIKTOK_CLIENT_SECRET = None
#: The Research API's daily limits (UTC days), counted in the warehouse across runs.
MICROSCOUT_TIKTOK_DAILY_REQUESTS = 1_000
MICROSCOUT_TIKTOK_DAILY_RECORDS = 100_000

# --- Cassette replay (tests, offline debugging) ------------------------------------------
#: Path of a vcrpy cassette to serve responses from; empty = live network.
MICROSCOUT_CASSETTE = None
#: vcrpy record mode: none (replay only), once, new_episodes, all.
MICROSCOUT_CASSETTE_RECORD_MODE = "none"
#: vcrpy matchers, comma-separated (default method,scheme,host,port,path,query).
MICROSCOUT_CASSETTE_MATCH_ON = None
#: Whether one recorded response may answer the same request again (retries, robots.txt).
MICROSCOUT_CASSETTE_ALLOW_REPEATS = True
#: The handler serves from the cassette when MICROSCOUT_CASSETTE is set and passes requests to
#: Scrapy's own HTTP handler when it is not.
DOWNLOAD_HANDLERS = {
    "http": "crawler.cassette.CassetteDownloadHandler",
    "https": "crawler.cassette.CassetteDownloadHandler",
}

# --- Distributed jobs (crawler/distributed; README "Running on several machines") ----------
#: Redis of a distributed job (redis://[:password@]host:port/db). Set, every spider runs on the
#: scrapy-redis scheduler, queue and duplicate filter of its job, paced through Redis too.
MICROSCOUT_REDIS_URL = None
#: Prefix of every Redis key microscout writes (several deployments can share one Redis).
MICROSCOUT_REDIS_PREFIX = "microscout"
#: Seconds a Redis call may take before it counts as an outage.
MICROSCOUT_REDIS_TIMEOUT = 5.0
#: Seconds a worker's lease on a request lasts without renewal (renewed every third of it):
#: the requests of a worker that died go back to the queue this long after its last heartbeat.
MICROSCOUT_LEASE_SECONDS = 120.0
#: A worker leaves once its job has been drained (nothing queued or in flight) this long.
MICROSCOUT_WORKER_IDLE = 30.0
#: A worker that cannot reach Redis waits this long, then stops (its leases come back).
MICROSCOUT_REDIS_LOST_TIMEOUT = 600.0
#: A worker leaves after taking this many requests (0: no limit), its process's memory renewed.
MICROSCOUT_WORKER_MAX_REQUESTS = 0
#: A worker's name in crawl_run_workers (default host:pid:random).
MICROSCOUT_WORKER_ID = None
#: Write the warehouse buffer every N seconds as well as every MICROSCOUT_BATCH_SIZE items
#: (0: by size only; a distributed worker uses 5: it acknowledges requests once written).
MICROSCOUT_FLUSH_INTERVAL = 0.0
#: Whose rate limit a platform's MICROSCOUT_RATE_LIMIT_<P> and its 429 pauses are, in a
#: distributed job: "global" (default: all workers together pace each host as one worker
#: would), "worker" (each worker alone: workers with their own IP address, where the platform
#: limits per IP) or "credential" (workers sharing a credential share its limit).
globals().update({f"MICROSCOUT_RATE_SCOPE_{name.upper()}": "global" for name in REGISTRY})

#: Resume from the warehouse after any stop, kill -9 included (see crawler/resume.py).
SCHEDULER = "crawler.resume.Scheduler"
DUPEFILTER_CLASS = "crawler.resume.MemoryDupeFilter"
#: A running run of a scheduled job (-a job=NAME) whose heartbeat is older than this many
#: seconds no longer holds the job's lock.
MICROSCOUT_RUN_LOCK_STALE = 1800.0
#: End-of-run checks (pipelines/monitor.py) that set crawl_runs.status.
MICROSCOUT_MONITOR_MIN_PROFILES = 1
MICROSCOUT_MONITOR_MAX_ERROR_RATIO = 0.2
MICROSCOUT_MONITOR_MAX_QUARANTINE_RATIO = 0.1
MICROSCOUT_MONITOR_MIN_FOLLOWER_COVERAGE = 0.95

#: A progress line on stderr every MICROSCOUT_PROGRESS_INTERVAL seconds (crawler/progress.py);
#: the microscout command turns it on unless --quiet.
MICROSCOUT_PROGRESS = False
MICROSCOUT_PROGRESS_INTERVAL = 2.0

#: The crawl run (crawler/run.py): its crawl_runs row, lock, heartbeat, resume set, refresh, checks.
EXTENSIONS = {"crawler.run.CrawlRun": 100}

ITEM_PIPELINES = {
    "pipelines.validate.ValidatePipeline": 100,
    "pipelines.normalize.NormalizePipeline": 200,
    "pipelines.engagement.EngagementPipeline": 300,
    "pipelines.tier.TierPipeline": 400,
    "pipelines.niche.NichePipeline": 500,
    "pipelines.signals.SignalsPipeline": 550,
    "pipelines.warehouse.WarehousePipeline": 900,
}

DOWNLOADER_MIDDLEWARES = {
    # Scrapy 2.19's robots.txt middleware lets requests queued behind the robots.txt fetch
    # through unchecked; crawler/robots.py fixes that (see its docstring).
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.robots.RobotsTxtMiddleware": 100,
    "crawler.middlewares.RateLimitMiddleware": 560,
}

#: Log level (Scrapy's LOG_LEVEL follows it).
MICROSCOUT_LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
TELNETCONSOLE_ENABLED = False
#: Scrapy 2.19's RemoteControl extension serves an HTTP endpoint that runs posted code: off.
REMOTE_CONTROL_ENABLED = False

#: Settings-level glue (crawler/addon.py): MICROSCOUT_ROBOTSTXT_OBEY -> ROBOTSTXT_OBEY, ...
ADDONS = {"crawler.addon.MicroscoutAddon": 0}

# --- the environment -------------------------------------------------------------------------
#: Every MICROSCOUT_* environment variable replaces the setting of the same name.
globals().update({name: value for name, value in os.environ.items()
                  if name.startswith("MICROSCOUT_") and value != ""})
LOG_LEVEL = MICROSCOUT_LOG_LEVEL  # the process's log level is set before any add-on runs
