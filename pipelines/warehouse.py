"""Warehouse pipeline: buffers items and writes them in batches, one transaction a batch.

The pipeline owns its lifecycle: the engine is created when the spider opens, a ``crawl_runs``
row records the run, batches are written on one worker thread (blocking database I/O never
runs on the reactor), and the engine is disposed when the spider closes. A batch that cannot be
written after ``MICROSCOUT_DB_RETRIES`` attempts is appended to a spool file (JSON lines under
``MICROSCOUT_SPOOL_DIR``); ``microscout db load-spool`` loads it later, so nothing is lost.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scrapy.exceptions import CloseSpider, NotConfigured
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from crawler.items import HashtagSightingItem, PostItem, ProfileItem, RejectedItem
from models import loader
from models.db import DatabaseUnavailable, make_engine, mask_url
from pipelines import monitor
from crawler.values import to_jsonable as jsonable

logger = logging.getLogger(__name__)

SECRET_ARGUMENTS = ("password", "token", "secret", "cookie", "sessionid", "key")


def _plain(item: Any) -> dict:
    """A dataclass item as a shallow dict, posts included (cheaper than dataclasses.asdict)."""
    return {f.name: getattr(item, f.name) for f in fields(item)}


def item_record(item: Any) -> dict | None:
    """The loader's record for an item, or None for a type the warehouse does not store."""
    if isinstance(item, ProfileItem):
        record = _plain(item)
        record["recent_posts"] = [_plain(p) if isinstance(p, PostItem) else dict(p)
                                  for p in item.recent_posts]
        record["_type"] = "profile"
    elif isinstance(item, HashtagSightingItem):
        record = _plain(item)
        record["_type"] = "sighting"
    elif isinstance(item, PostItem):
        record = _plain(item)
        record["_type"] = "post"
    elif isinstance(item, RejectedItem):
        record = _plain(item)
        record["payload"] = jsonable(item.payload)
        record["_type"] = "rejected"
    else:
        return None
    return record


def safe_arguments(arguments: dict | None) -> dict:
    """Spider arguments with anything secret-looking masked, for crawl_runs.arguments."""
    return {key: ("***" if any(word in key.lower() for word in SECRET_ARGUMENTS) else value)
            for key, value in (arguments or {}).items()}


class WarehousePipeline:
    def __init__(self, crawler, url: str, batch_size: int, retries: int, retry_delay: float,
                 spool_dir: str, lock_stale_after: float = 1800.0, jobdir: str | None = None) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.url = url
        self.batch_size = max(1, batch_size)
        self.retries = max(1, retries)
        self.retry_delay = retry_delay
        self.spool_dir = Path(spool_dir)
        self.lock_stale_after = lock_stale_after
        self.jobdir = Path(jobdir) if jobdir else None
        self.run_key = self._run_key()
        self.locked_out = False
        self.run_id: int | None = None
        self.buffer: list[dict] = []
        self.pending: asyncio.Future | None = None
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="microscout-warehouse")
        self.engine = None
        self.spooled_batches = 0

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        url = settings.get("MICROSCOUT_DATABASE_URL")
        if not url:
            raise NotConfigured("MICROSCOUT_DATABASE_URL is empty")
        return cls(
            crawler,
            url=url,
            batch_size=settings.getint("MICROSCOUT_BATCH_SIZE", 500),
            retries=settings.getint("MICROSCOUT_DB_RETRIES", 3),
            retry_delay=settings.getfloat("MICROSCOUT_DB_RETRY_DELAY", 1.0),
            spool_dir=settings.get("MICROSCOUT_SPOOL_DIR") or "data/spool",
            lock_stale_after=settings.getfloat("MICROSCOUT_RUN_LOCK_STALE", 1800.0),
            jobdir=settings.get("JOBDIR"),
        )

    def _run_key(self) -> str:
        """A new run, or with JOBDIR the run that directory belongs to (a resumed crawl)."""
        if self.jobdir is None:
            return str(uuid.uuid4())
        path = self.jobdir / "microscout-run.json"
        if path.exists():
            return json.loads(path.read_text(encoding="utf-8"))["run_key"]
        key = str(uuid.uuid4())
        self.jobdir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"run_key": key}), encoding="utf-8")
        tmp.replace(path)  # atomic: a kill never leaves half a file
        return key

    # --- lifecycle --------------------------------------------------------------------------

    def _run_info(self) -> dict:
        spider = self.crawler.spider
        arguments = getattr(spider, "run_args", None) or {}
        return {
            "run_key": self.run_key,
            "spider": spider.name,
            "platform": getattr(spider, "platform", None),
            "job": getattr(spider, "job", None),
            "arguments": jsonable(safe_arguments(arguments)),
            "started_at": datetime.now(UTC).isoformat(),
        }

    async def open_spider(self) -> None:
        self.run = self._run_info()
        spider = self.crawler.spider
        spider.crawl_run_key = self.run_key
        try:
            self.run_id, loaded = await self._in_worker(self._open_run)
        except loader.JobLocked as exc:
            self.locked_out = True
            self.stats.set_value("microscout/run/status", "skipped")
            logger.warning("Not running: %s", exc)
            raise CloseSpider("job_locked") from None
        spider.loaded_handles = loaded
        if loaded:
            logger.info("Resuming crawl run %s: %d accounts already loaded", self.run_id, len(loaded))
            self.stats.set_value("microscout/run/resumed_with_accounts", len(loaded))
        if self.run_id is None:
            logger.error("Warehouse %s unreachable at start; batches will be spooled to %s",
                         mask_url(self.url), self.spool_dir)

    def _open_run(self) -> tuple[int | None, set]:
        try:
            self.engine = make_engine(self.url)
            run_id = loader.acquire_run(self.engine, self.run, self.lock_stale_after)
            with self.engine.connect() as conn:
                return run_id, loader.loaded_handles(conn, run_id)
        except (SQLAlchemyError, DatabaseUnavailable) as exc:
            logger.warning("Cannot record the crawl run in %s: %s", mask_url(self.url), _one_line(exc))
            return None, set()

    async def process_item(self, item: Any) -> Any:
        record = item_record(item)
        if record is None:
            return item
        self.stats.inc_value(f"microscout/warehouse/received/{record['_type']}")
        self.buffer.append(record)
        if len(self.buffer) >= self.batch_size:
            await self._flush()
        return item

    async def _flush(self) -> None:
        batch, self.buffer = self.buffer, []
        if self.pending is not None:  # back-pressure: one batch in flight at a time
            await self.pending
        if batch:
            self.pending = asyncio.ensure_future(self._in_worker(self._write, batch))

    async def close_spider(self) -> None:
        await self._flush()
        if self.pending is not None:
            await self.pending
        await self._in_worker(self._close_run)
        self.executor.shutdown(wait=True)

    def _close_run(self) -> None:
        if self.locked_out:
            if self.engine is not None:
                self.engine.dispose()
            return
        reason = self.stats.get_value("finish_reason") or "finished"
        checks = monitor.run_checks(self.stats.get_stats(), self.crawler.settings)
        status = monitor.status_of(checks)
        if reason != "finished" and status == "ok":
            status = "aborted"
        self.stats.set_value("microscout/run/status", status)
        for check in checks:
            if not check.passed:
                logger.warning("Check failed: %s = %s (threshold %s)", check.name, check.value,
                               check.threshold)
        values = {
            "status": status,
            "checks": monitor.as_json(checks),
            "finish_reason": reason,
            "stats": jsonable(self.stats.get_stats()),
            "items_loaded": self.stats.get_value("microscout/warehouse/items_loaded", 0),
            "items_rejected": self.stats.get_value("microscout/warehouse/rejected_rows", 0),
            "finished_at": datetime.now(UTC),
        }
        try:
            if self.run_id is None:
                raise DatabaseUnavailable("run was never recorded")
            with self.engine.begin() as conn:
                loader.finish_run(conn, self.run_key, **values)
        except (SQLAlchemyError, DatabaseUnavailable) as exc:
            logger.warning("Cannot finish the crawl run in %s: %s", mask_url(self.url), _one_line(exc))
            self._spool([{"_type": "run_finish", **jsonable(values)}], items=False)
        finally:
            if self.engine is not None:
                self.engine.dispose()

    async def _in_worker(self, fn, *args):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, fn, *args)

    # --- writing (worker thread) -------------------------------------------------------------

    def _write(self, batch: list[dict]) -> None:
        for attempt in range(1, self.retries + 1):
            try:
                self._ensure_run()
                with self.engine.begin() as conn:
                    counts = loader.load_batch(conn, self.run_id, batch, spider=self.run["spider"])
                    loader.heartbeat(conn, self.run_id)
                self._count(counts, len(batch))
                return
            except (DBAPIError, DatabaseUnavailable) as exc:
                if isinstance(exc, DBAPIError) and not _is_transient(exc):
                    self._write_one_by_one(batch)
                    return
                logger.warning("Warehouse write failed (attempt %d/%d) on %s: %s", attempt,
                               self.retries, mask_url(self.url), _one_line(exc))
                if attempt < self.retries:
                    time.sleep(self.retry_delay * 2 ** (attempt - 1))
        self._spool(batch)

    def _ensure_run(self) -> None:
        if self.engine is None:
            self.engine = make_engine(self.url)
        if self.run_id is None:  # the database was down at start and is back
            with self.engine.begin() as conn:
                self.run_id = loader.start_run(conn, self.run)

    def _write_one_by_one(self, batch: list[dict]) -> None:
        """A batch the database refuses for its data: find the bad records, quarantine them."""
        for record in batch:
            try:
                with self.engine.begin() as conn:
                    counts = loader.load_batch(conn, self.run_id, [record], spider=self.run["spider"])
                self._count(counts, 1)
            except DBAPIError as exc:
                bad = {"_type": "rejected", "reason": "load_error", "detail": _one_line(exc),
                       "platform": record.get("platform"), "item_type": record.get("_type"),
                       "payload": jsonable(record), "source_url": record.get("source_url")}
                with self.engine.begin() as conn:
                    loader.load_batch(conn, self.run_id, [bad], spider=self.run["spider"])
                self.stats.inc_value("microscout/quarantined/load_error")
                self.stats.inc_value("microscout/warehouse/rejected_rows")

    def _count(self, counts: dict, items: int) -> None:
        self.stats.inc_value("microscout/warehouse/batches")
        self.stats.inc_value("microscout/warehouse/items_loaded", items)
        self.stats.inc_value("microscout/warehouse/profiles_upserted", counts["profiles"])
        self.stats.inc_value("microscout/warehouse/posts_upserted", counts["posts"])
        self.stats.inc_value("microscout/warehouse/sightings_upserted", counts["sightings"])
        self.stats.inc_value("microscout/warehouse/rejected_rows", counts["rejected"])

    def _spool(self, batch: list[dict], items: bool = True) -> None:
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        path = self.spool_dir / f"{self.run_key}.jsonl"
        with path.open("a", encoding="utf-8") as fh:
            for record in batch:
                line = {"run": self.run, **record}
                fh.write(json.dumps(jsonable(line), ensure_ascii=False) + "\n")
        if not items:
            return
        self.spooled_batches += 1
        self.stats.inc_value("microscout/warehouse/spooled_batches")
        self.stats.inc_value("microscout/warehouse/spooled_items", len(batch))
        logger.error("Warehouse %s unreachable: %d records spooled to %s (load with "
                     "`microscout db load-spool`)", mask_url(self.url), len(batch), path)


def _is_transient(exc: DBAPIError) -> bool:
    """Connection loss, deadlocks, lock timeouts: worth retrying; bad data is not."""
    if exc.connection_invalidated:
        return True
    from sqlalchemy.exc import InterfaceError, OperationalError

    return isinstance(exc, (OperationalError, InterfaceError))


def _one_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
