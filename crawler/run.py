"""The crawl run, as a Scrapy extension: one record per run in ``crawl_runs``, driven by signals.

:class:`CrawlRun` owns everything about the run that is not writing items:

* the **run key** (a UUID; with ``JOBDIR`` the one stored in ``JOBDIR/microscout-run.json``, so a
  resumed crawl continues its run: see :mod:`crawler.resume`);
* the **warehouse engine** and the single worker thread all warehouse I/O of the crawl runs on
  (blocking database calls never run on the reactor);
* the **run lock** of a ``job`` (``loader.acquire_run``: a locked-out run is recorded as
  ``skipped`` and closes at once) and the **heartbeat** written with every batch;
* the **resume checkpoint**: the accounts this run already loaded (``spider.loaded_handles``);
* the **refresh**: the stale accounts a ``max_age`` crawl re-reads (``spider.add_stale_handles``),
  found before the spider's first request;
* the **end-of-run checks** (``pipelines/monitor.py``) and the final ``crawl_runs`` row, written
  after the last batch and after any feed export (``--output``) is stored; a row the database
  refuses in full is finished with its status and counts alone, so it is never left ``running``
  while the database answers.

All warehouse I/O runs under the engine's watchdog (``models.db.guard``): with
``MICROSCOUT_DB_CONNECT_TIMEOUT`` and ``MICROSCOUT_DB_STATEMENT_TIMEOUT`` set, a database that
stops answering turns into connection errors (retried, then spooled) instead of a hang.

The warehouse pipeline asks for the run when it opens (:meth:`CrawlRun.open`) and closes it after
its last batch (:meth:`CrawlRun.close`); the ``spider_opened``/``spider_closed`` signals do the
same for crawls without that pipeline that still need the warehouse (a refresh). Spiders and
the pipeline reach the one instance through :meth:`CrawlRun.of`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, NotConfigured

from crawler.values import to_jsonable

logger = logging.getLogger(__name__)

SECRET_ARGUMENTS = ("password", "token", "secret", "cookie", "sessionid", "key")
T = TypeVar("T")


def safe_arguments(arguments: dict | None) -> dict:
    """Spider arguments with anything secret-looking masked, for crawl_runs.arguments."""
    return {key: ("***" if any(word in key.lower() for word in SECRET_ARGUMENTS) else value)
            for key, value in (arguments or {}).items()}


def one_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def run_key_for(jobdir: str | None) -> str:
    """A new run, or with JOBDIR the run that directory belongs to (a resumed crawl)."""
    if not jobdir:
        return str(uuid.uuid4())
    path = Path(jobdir) / "microscout-run.json"
    if path.exists():
        return str(json.loads(path.read_text(encoding="utf-8"))["run_key"])
    key = str(uuid.uuid4())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"run_key": key}), encoding="utf-8")
    tmp.replace(path)  # atomic: a kill never leaves half a file
    return key


def stale_accounts(engine: Any, spider: Any) -> list[str]:
    """The accounts a refresh re-reads, oldest snapshot first, as the spider asks for them
    (``spider.refresh_key(handle, platform_user_id)``: Bluesky asks by DID)."""
    from models import queries

    platforms = spider.refresh_platforms or (spider.platform,)
    args = spider.args
    handles = queries.stale_handles(engine, platforms, max_age=args.max_age, tier=args.tier,
                                    niche=args.niche, limit=args.limit)
    ids = queries.user_ids(engine, spider.platform, handles)
    return [spider.refresh_key(handle, ids.get(handle)) for handle in handles]


class CrawlRun:
    """Extension: the crawl run's record, lock, heartbeat, resume set, refresh and checks."""

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.stats = crawler.stats
        self.url: str = settings.get("MICROSCOUT_DATABASE_URL")
        self.lock_stale_after = settings.getfloat("MICROSCOUT_RUN_LOCK_STALE")
        self.connect_timeout = settings.getfloat("MICROSCOUT_DB_CONNECT_TIMEOUT")
        self.statement_timeout = settings.getfloat("MICROSCOUT_DB_STATEMENT_TIMEOUT")
        self.run_key = run_key_for(settings.get("JOBDIR"))
        self.run_id: int | None = None
        self.record: dict[str, Any] = {}
        self.engine: Any = None
        self.locked_out = False
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="microscout-warehouse")
        self._opened: asyncio.Future | None = None
        self._closed = False
        self._refreshed = False
        #: Called with the run's values when finishing it fails (the pipeline spools them).
        self.on_unfinished: Callable[[dict], None] | None = None
        #: A distributed job's worker (crawler/distributed/worker.py), None otherwise.
        from crawler.distributed.worker import Leases, Worker

        self.worker = Worker.of(crawler)
        self.leases = Leases.of(crawler) if self.worker is not None else None
        #: Set by the warehouse pipeline: write its buffer now (a worker waiting on its own acks).
        self.flush_now: Callable[[], None] | None = None
        #: The summed stats of a distributed job's workers, when this worker finishes the run.
        self.job_stats: dict[str, Any] | None = None
        crawler.microscout_run = self  # type: ignore[attr-defined]
        from pipelines.monitor import FeedWatch

        self.feeds = FeedWatch(crawler)
        #: Why the engine closes the spider: known before the pipelines close (they finish the
        #: run's row), while Scrapy's ``finish_reason`` stat is set only after them.
        self.close_reason: str | None = None
        crawler.signals.connect(self._note_close_reason, signal=signals.engine_started)
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlRun:
        if not crawler.settings.get("MICROSCOUT_DATABASE_URL"):
            raise NotConfigured("MICROSCOUT_DATABASE_URL is empty")
        return cls(crawler)

    @classmethod
    def of(cls, crawler: Crawler) -> CrawlRun:
        """The crawl's run (created here when the extension is not enabled)."""
        found = getattr(crawler, "microscout_run", None)
        return found if isinstance(found, CrawlRun) else cls.from_crawler(crawler)

    async def in_worker(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking warehouse I/O on the run's worker thread, under the engine's watchdog."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self._guarded, fn, *args)

    def _guarded(self, fn: Callable[..., T], *args: Any) -> T:
        from models.db import DatabaseUnavailable, guard

        try:
            engine = self.connect()
        except DatabaseUnavailable:
            engine = None  # fn meets the same error and reports it
        with guard(engine):
            return fn(*args)

    # --- opening ---------------------------------------------------------------------------------

    async def open(self) -> None:
        """Record the run (once): lock, resume set, refresh. CloseSpider when the job is locked."""
        if self._opened is None:
            self._opened = asyncio.ensure_future(self._open())
        await self._opened

    async def _open(self) -> None:
        from models.loader import JobLocked

        spider: Any = self.crawler.spider  # any spider: it gets crawl_run_key and loaded_handles
        self.run_key = getattr(spider, "job_run_key", None) or self.run_key  # a distributed job's
        self.record = self._record(spider)
        spider.crawl_run_key = self.run_key
        await self._refresh(spider)
        from models.workers import RunFinished

        try:
            self.run_id, loaded = await self.in_worker(self._open_run)
        except (JobLocked, RunFinished) as exc:
            self.locked_out = True
            self.stats.set_value("microscout/run/status", "skipped")
            logger.warning("Not running: %s", exc)
            raise CloseSpider("job_locked") from None
        spider.loaded_handles = loaded
        if loaded:
            logger.info("Resuming crawl run %s: %d accounts already loaded", self.run_id, len(loaded))
            self.stats.set_value("microscout/run/resumed_with_accounts", len(loaded))

    def _record(self, spider: Any) -> dict[str, Any]:
        arguments = getattr(spider, "job_arguments", None) or getattr(spider, "run_args", None)
        return {
            "run_key": self.run_key,
            "spider": spider.name,
            "platform": getattr(spider, "platform", None),
            "job": getattr(spider, "job", None),
            "arguments": to_jsonable(safe_arguments(arguments or {})),
            "started_at": datetime.now(UTC).isoformat(),
        }

    def connect(self) -> Any:
        """The warehouse engine (created on first use, on the worker thread)."""
        from models.db import make_engine

        if self.engine is None:
            self.engine = make_engine(self.url, connect_timeout=self.connect_timeout or None,
                                      statement_timeout=self.statement_timeout or None)
        return self.engine

    def _open_run(self) -> tuple[int | None, set]:
        from sqlalchemy.exc import SQLAlchemyError

        from models import loader, workers
        from models.db import DatabaseUnavailable, mask_url

        try:
            if self.worker is not None:  # a distributed job: join its run, record this share
                run_id = workers.join_run(self.connect(), self.record, self.lock_stale_after)
                with self.engine.begin() as conn:
                    workers.join(conn, run_id, self.worker.share())
                return run_id, set()  # the job's shared duplicate filter stands in for the set
            run_id = loader.acquire_run(self.connect(), self.record, self.lock_stale_after)
            with self.engine.connect() as conn:
                return run_id, loader.loaded_handles(conn, run_id)
        except (SQLAlchemyError, DatabaseUnavailable) as exc:
            logger.warning("Cannot record the crawl run in %s: %s", mask_url(self.url), one_line(exc))
            logger.error("Warehouse %s unreachable at start; batches will be spooled",
                         mask_url(self.url))
            return None, set()

    def ensure_recorded(self) -> int:
        """The run's id, recording it now if the database was down at the start (worker thread)."""
        from models import loader

        if self.run_id is None:
            with self.connect().begin() as conn:
                self.run_id = loader.start_run(conn, self.record)
        return self.run_id

    def heartbeat(self, conn: Any) -> None:
        """Mark the run alive (inside a batch's transaction): its lock stays held."""
        from models import loader

        if self.run_id is not None:
            loader.heartbeat(conn, self.run_id)

    def write_begins(self) -> list[str]:
        """The warehouse pipeline takes a batch: a distributed worker's finished leases so far
        (acknowledged once the batch is written or spooled, see :meth:`written`)."""
        if self.leases is None:
            return []
        self.leases.has_writer = True
        return self.leases.write_begins()

    def written(self, token: list[str], durable: bool) -> None:
        """A batch was written or spooled (``durable``), or its items were lost."""
        if self.leases is not None:
            self.leases.written(token, durable)

    # --- refresh -----------------------------------------------------------------------------

    async def _refresh(self, spider: Any) -> None:
        args = getattr(spider, "args", None)
        if self._refreshed or args is None or getattr(args, "max_age", None) is None:
            return
        self._refreshed = True
        from sqlalchemy.exc import SQLAlchemyError

        from models.db import DatabaseUnavailable, mask_url

        try:
            handles = await self.in_worker(self.stale_handles, spider)
        except (SQLAlchemyError, DatabaseUnavailable) as exc:
            logger.error("Refresh: cannot read the stale accounts from %s: %s", mask_url(self.url),
                         one_line(exc))
            return
        spider.add_stale_handles(handles)

    def stale_handles(self, spider: Any) -> list[str]:
        return stale_accounts(self.connect(), spider)

    # --- closing -------------------------------------------------------------------------------

    def _note_close_reason(self) -> None:
        """Wrap the engine's close so the reason (a CloseSpider's, quota_exhausted, shutdown)
        is known when the run's row is finished, before Scrapy's CoreStats records it."""
        engine = self.crawler.engine
        close = engine.close_spider_async

        async def close_spider_async(*, reason: str = "cancelled") -> None:
            self.close_reason = self.close_reason or reason
            await close(reason=reason)

        engine.close_spider_async = close_spider_async  # type: ignore[method-assign]

    async def close(self) -> None:
        """Run the end-of-run checks and finish the run's row (once). While a feed export is
        still being stored (it closes after the item pipelines), ``spider_closed`` does it."""
        if self._closed or self.feeds.pending():
            return
        self._closed = True
        try:
            book = getattr(self.crawler, "microscout_quota", None)
            if book is not None:  # settle the budgets while the run's thread still runs
                await book.spider_closed()
            await self.in_worker(self._close_run)
        finally:
            self.executor.shutdown(wait=True)

    def _close_run(self) -> None:
        from pipelines import monitor

        try:
            if self.locked_out or self._opened is None:
                return
            if self.worker is not None and not self._finish_share(monitor):
                return  # other workers are still on the job: the last one finishes the run
            self._purge_raw()
            self._refresh_signals()
            values = self.final_values(monitor, self.job_stats)
            if not self._finish(values) and self.on_unfinished is not None:
                self.on_unfinished(values)
            if self.worker is not None:
                self.worker.run_finished(values["status"])
        finally:
            if self.engine is not None:
                self.engine.dispose()

    def _purge_raw(self) -> None:
        """Clear raw quarantine payloads older than MICROSCOUT_RAW_RETENTION_DAYS (unset: keep)."""
        from sqlalchemy.exc import SQLAlchemyError

        from models.db import DatabaseUnavailable, mask_url
        from models.erasure import purge_raw, retention_days

        days = retention_days(self.crawler.settings.get("MICROSCOUT_RAW_RETENTION_DAYS"))
        if days is None or self.run_id is None:
            return
        try:
            with self.connect().begin() as conn:
                purged = purge_raw(conn, days)
        except (SQLAlchemyError, DatabaseUnavailable) as exc:
            logger.warning("Cannot clear raw quarantine payloads older than %d days in %s: %s", days,
                           mask_url(self.url), one_line(exc))
            return
        self.stats.set_value("microscout/warehouse/raw_purged", purged)

    def _refresh_signals(self) -> None:
        """Audience quality, creators and lookalikes for the run's accounts (models/analytics.py).
        A failure is logged and fails the ``signals_computed`` check; the data stays loaded and
        ``microscout signals refresh --run ID`` computes them later."""
        from models import analytics
        from models.db import mask_url

        if self.run_id is None or not self.crawler.settings.getbool("MICROSCOUT_SIGNALS", True):
            return
        try:
            counts = analytics.refresh(self.connect(), self.run_id)
        except Exception as exc:  # derived data: the run's own data is already written
            logger.warning("Cannot compute the signals of crawl run %s in %s: %s", self.run_id,
                           mask_url(self.url), one_line(exc))
            self.stats.set_value("microscout/signals/refresh_failed", 1)
            if self.job_stats is not None:
                self.job_stats["microscout/signals/refresh_failed"] = 1
            return
        for name, count in counts.items():
            self.stats.set_value(f"microscout/signals/{name}", count)
            if self.job_stats is not None:
                self.job_stats[f"microscout/signals/{name}"] = count

    def _finish(self, values: dict[str, Any]) -> bool:
        """Write the run's final row (recording the run now if the database was down until the
        end); if the database refuses it (its stats too big for a full disk, say), the status and
        counts alone. False when neither could be written."""
        from models import loader
        from models.db import mask_url

        brief = {key: values[key] for key in ("status", "checks", "finish_reason", "items_loaded",
                                              "items_rejected", "finished_at")}
        for row in (values, brief):
            try:
                self.ensure_recorded()
                with self.connect().begin() as conn:
                    loader.finish_run(conn, self.run_key, **row)
                return True
            except Exception as exc:  # any failure: try less, then spool
                logger.warning("Cannot finish the crawl run in %s: %s", mask_url(self.url),
                               one_line(exc))
        return False

    def _finish_share(self, monitor: Any) -> bool:
        """A worker leaves: write its share; True when it is the one to finish the job's run
        (then :attr:`job_stats` holds the shares' summed stats)."""
        from models import workers
        from models.db import mask_url

        assert self.worker is not None
        share = self.worker.share()
        self.stats.set_value("microscout/run/status", share["status"])
        try:
            run_id = self.ensure_recorded()
            with self.connect().begin() as conn:
                workers.leave(conn, run_id, share, to_jsonable(self.stats.get_stats()))
                self.heartbeat(conn)
        except Exception as exc:
            logger.warning("Cannot record worker %s's share in %s: %s", share["worker_id"],
                           mask_url(self.url), one_line(exc))
            return False
        if not self.worker.may_finish_run():
            return False
        with self.connect().connect() as conn:
            self.job_stats = workers.summed_stats(workers.shares(conn, run_id))
        self.job_stats["finish_reason"] = "finished"
        logger.info("Job %s drained: worker %s finishes crawl run %s", self.record.get("job"),
                    share["worker_id"], run_id)
        return True

    def final_values(self, monitor: Any, stats: dict | None = None) -> dict[str, Any]:
        """The run's final row from ``stats`` (default: this crawl's)."""
        own = stats is None
        stats = self.stats.get_stats() if stats is None else stats
        reason = (self.stats.get_value("finish_reason") or self.close_reason if own
                  else stats.get("finish_reason")) or "finished"
        checks = monitor.run_checks(stats, self.crawler.settings)
        status = monitor.status_of(checks)
        if reason != "finished" and status != "failed":  # cut short: never ok, nor degraded
            status = "aborted"
        self.stats.set_value("microscout/run/status", status)
        for check in checks:
            if not check.passed:
                logger.warning("Check failed: %s = %s (threshold %s)", check.name, check.value,
                               check.threshold)
        return {
            "status": status,
            "checks": monitor.as_json(checks),
            "finish_reason": reason,
            "stats": to_jsonable(stats),
            "items_loaded": stats.get("microscout/warehouse/items_loaded", 0),
            "items_rejected": stats.get("microscout/warehouse/rejected_rows", 0),
            "finished_at": datetime.now(UTC),
        }

    # --- signals -------------------------------------------------------------------------------

    async def spider_opened(self) -> None:
        """A refresh needs its stale accounts even when no warehouse pipeline records the run."""
        spider = self.crawler.spider
        if self._opened is None:
            self.record = self._record(spider)
            await self._refresh(spider)

    async def spider_closed(self) -> None:
        await self.feeds.wait()  # the run's checks include the feeds: wait for them to be stored
        if self._opened is not None:
            await self.close()
        else:
            self.executor.shutdown(wait=False)
            if self.engine is not None:
                self.engine.dispose()
