"""Warehouse pipeline: buffers items and writes them in batches, one transaction a batch.

The crawl run (its record, lock, heartbeat, engine and worker thread, end-of-run checks) is the
crawl-run extension's (:class:`crawler.run.CrawlRun`): this pipeline asks it to open the run when
the spider opens, writes every batch on the run's worker thread (blocking database I/O never runs
on the reactor), and asks it to close the run after the last batch. A batch that cannot be
written after ``MICROSCOUT_DB_RETRIES`` attempts is appended to a spool file (JSON lines under
``MICROSCOUT_SPOOL_DIR``); ``microscout db load-spool`` loads it later, so nothing is lost.

A write never raises into the crawl. A batch that fails for its data (a database error that is not
a lost connection, or any other exception: a count too big for SQLite's integers) is written
record by record, and each record that still fails becomes a ``load_error`` quarantine row. A
batch that can be neither written nor spooled (a full disk) is counted as lost
(``microscout/warehouse/lost_items``), logged as an error, and fails the run's checks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError

from crawler.items import HashtagSightingItem, PostItem, ProfileItem, RejectedItem
from crawler.run import CrawlRun, one_line, safe_arguments
from crawler.values import to_jsonable as jsonable
from models import loader
from models.db import DatabaseUnavailable, mask_url
from models.spool import append_lines
from pipelines import quarantine

logger = logging.getLogger(__name__)

__all__ = ["WarehousePipeline", "item_record", "safe_arguments"]


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


class WarehousePipeline:
    def __init__(self, crawler: Any, run: CrawlRun, batch_size: int, retries: int,
                 retry_delay: float, spool_dir: str, flush_interval: float = 0.0) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.run = run
        self.url = run.url
        self.batch_size = max(1, batch_size)
        self.retries = max(1, retries)
        self.retry_delay = retry_delay
        self.spool_dir = Path(spool_dir)
        self.buffer: list[dict] = []
        self.pending: asyncio.Future | None = None
        self.in_flight = asyncio.Lock()  # Scrapy runs process_item for several items at once
        self.spooled_batches = 0
        self.flush_interval = flush_interval
        self.ticker: asyncio.Future | None = None
        self.soon: asyncio.Future | None = None
        run.on_unfinished = self._spool_finish

    @classmethod
    def from_crawler(cls, crawler: Any) -> WarehousePipeline:
        settings = crawler.settings
        return cls(
            crawler,
            CrawlRun.of(crawler),
            batch_size=settings.getint("MICROSCOUT_BATCH_SIZE"),
            retries=settings.getint("MICROSCOUT_DB_RETRIES"),
            retry_delay=settings.getfloat("MICROSCOUT_DB_RETRY_DELAY"),
            spool_dir=settings.get("MICROSCOUT_SPOOL_DIR") or "data/spool",
            flush_interval=settings.getfloat("MICROSCOUT_FLUSH_INTERVAL"),
        )

    @property
    def run_key(self) -> str:
        return self.run.run_key

    # --- lifecycle --------------------------------------------------------------------------

    async def open_spider(self) -> None:
        await self.run.open()
        if self.run.leases is not None:
            self.run.leases.has_writer = True
            self.run.flush_now = self.flush_soon
        if self.flush_interval > 0:
            self.ticker = asyncio.ensure_future(self._tick())

    def flush_soon(self) -> None:
        """Write the buffer now, from a signal handler (a worker waiting on its acks)."""
        self.soon = asyncio.ensure_future(self._flush(force=True))

    async def _tick(self) -> None:
        """Write what is buffered every MICROSCOUT_FLUSH_INTERVAL seconds (a distributed worker
        acknowledges its requests only once their items are written)."""
        while True:
            await asyncio.sleep(self.flush_interval)
            await self._flush(force=True)

    async def process_item(self, item: Any) -> Any:
        record = item_record(item)
        if record is None:
            return item
        self.stats.inc_value(f"microscout/warehouse/received/{record['_type']}")
        self.buffer.append(record)
        if len(self.buffer) >= self.batch_size:
            await self._flush()
        return item

    async def _flush(self, force: bool = False) -> None:
        batch, self.buffer = self.buffer, []
        token = self.run.write_begins()  # taken with the buffer: their items are in it or before
        if not batch and not token and not (force and self.run.leases is not None):
            return
        async with self.in_flight:  # back-pressure: one batch in flight, each one awaited
            if self.pending is not None:
                await self.pending
            self.pending = asyncio.ensure_future(self.run.in_worker(self._write, batch, token))

    async def close_spider(self) -> None:
        if self.ticker is not None:
            self.ticker.cancel()
        try:
            await self._flush(force=True)
            async with self.in_flight:
                if self.pending is not None:
                    await self.pending
        finally:
            await self.run.close()

    # --- writing (worker thread) -------------------------------------------------------------

    def _write(self, batch: list[dict], token: list[str] | None = None) -> None:
        """Write a batch: retried while the database is unreachable, then spooled; record by
        record when it fails for its data. Never raises: what cannot be kept is counted lost.
        Then the crawl run hears whether it was kept (``token``: see CrawlRun.write_begins)."""
        lost_before = self.stats.get_value("microscout/warehouse/lost_items", 0)
        try:
            if batch:
                unwritten = self._write_batch(batch)
                if unwritten:
                    self._spool(unwritten)
        except Exception as exc:  # the last resort: nothing escapes into the crawl
            self._lose(len(batch), exc)
        kept = self.stats.get_value("microscout/warehouse/lost_items", 0) == lost_before
        self.run.written(token or [], kept)

    def _write_batch(self, batch: list[dict]) -> list[dict]:
        """The records left to spool (the database stayed unreachable), or none."""
        for attempt in range(1, self.retries + 1):
            try:
                run_id = self.run.ensure_recorded()
                with self.run.connect().begin() as conn:
                    counts = loader.load_batch(conn, run_id, batch, spider=self.run.record["spider"])
                    self.run.heartbeat(conn)
                self._count(counts, len(batch))
                return []
            except Exception as exc:
                if not _unreachable(exc):
                    return self._write_one_by_one(batch)
                logger.warning("Warehouse write failed (attempt %d/%d) on %s: %s", attempt,
                               self.retries, mask_url(self.url), one_line(exc))
                if attempt < self.retries:
                    time.sleep(self.retry_delay * 2 ** (attempt - 1))
        return batch

    def _write_one_by_one(self, batch: list[dict]) -> list[dict]:
        """A batch that failed for its data: load each record alone, quarantine the bad ones.
        Returns the records to spool (the database went away meanwhile)."""
        unwritten: list[dict] = []
        for record in batch:
            try:
                self._count(self._load([record]), 1)
                continue
            except Exception as exc:
                if _unreachable(exc):
                    unwritten.append(record)
                    continue
                bad = _load_error(record, exc)
            self._quarantine(bad, unwritten)
        return unwritten

    def _quarantine(self, bad: dict, unwritten: list[dict]) -> None:
        """Write a load_error row; with its payload as text if the database refuses that too."""
        error: BaseException | None = None
        for row in (bad, {**bad, "payload": {"repr": _text(bad["payload"])}}):
            try:
                self._load([row])
                self.stats.inc_value("microscout/warehouse/rejected_rows")
            except Exception as exc:
                if not _unreachable(exc):
                    error = exc
                    continue
                unwritten.append(row)  # spooled with the batch's other unwritten records
            quarantine.count(self.stats, "load_error")
            return
        self._lose(1, error or RuntimeError("load_error row refused"))

    def _load(self, records: list[dict]) -> dict:
        run_id = self.run.ensure_recorded()
        with self.run.connect().begin() as conn:
            return loader.load_batch(conn, run_id, records, spider=self.run.record["spider"])

    def _count(self, counts: dict, items: int) -> None:
        self.stats.inc_value("microscout/warehouse/batches")
        self.stats.inc_value("microscout/warehouse/items_loaded", items)
        self.stats.inc_value("microscout/warehouse/profiles_upserted", counts["profiles"])
        self.stats.inc_value("microscout/warehouse/posts_upserted", counts["posts"])
        self.stats.inc_value("microscout/warehouse/sightings_upserted", counts["sightings"])
        self.stats.inc_value("microscout/warehouse/rejected_rows", counts["rejected"])
        self.stats.inc_value("microscout/warehouse/suppressed_skipped", counts.get("suppressed", 0))

    def _spool_finish(self, values: dict) -> None:
        """The run's final row, when the database is gone at the end (load-spool applies it)."""
        try:
            self._append([{"_type": "run_finish", **jsonable(values)}])
        except Exception as exc:
            logger.error("The crawl run's final row could not be spooled to %s either: %s",
                         self.spool_dir, one_line(exc))

    def _spool(self, batch: list[dict]) -> None:
        try:
            path = self._append(batch)
        except Exception as exc:
            self._lose(len(batch), exc)
            return
        self.spooled_batches += 1
        self.stats.inc_value("microscout/warehouse/spooled_batches")
        self.stats.inc_value("microscout/warehouse/spooled_items", len(batch))
        logger.error("Warehouse %s unreachable: %d records spooled to %s (load with "
                     "`microscout db load-spool`)", mask_url(self.url), len(batch), path)

    def _append(self, records: list[dict]) -> Path:
        """Append records to the run's spool file, whole lines or nothing. Raises on failure."""
        lines = "".join(json.dumps(jsonable({"run": self.run.record, **record}), ensure_ascii=False)
                        + "\n" for record in records)
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        path = self.spool_dir / f"{self.run_key}.jsonl"
        append_lines(path, lines)
        return path

    def _lose(self, records: int, exc: BaseException) -> None:
        self.stats.inc_value("microscout/warehouse/lost_items", records)
        logger.error("Warehouse: %d records lost: neither written to %s nor spooled to %s: %s",
                     records, mask_url(self.url), self.spool_dir, one_line(exc))


def _unreachable(exc: BaseException) -> bool:
    """The database is unreachable, or the error is worth retrying (connection loss, deadlocks,
    lock and statement timeouts); anything else is the data's fault."""
    if isinstance(exc, DatabaseUnavailable):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    from sqlalchemy.exc import InterfaceError, OperationalError

    return isinstance(exc, (OperationalError, InterfaceError))


def _text(value: Any) -> str:
    try:
        return repr(value)
    except ValueError:  # an integer beyond Python's digit limit for str()
        return f"<{type(value).__name__} that cannot be shown>"


def _load_error(record: dict, exc: BaseException) -> dict:
    """The quarantine record of a record the database would not take."""
    return {"_type": "rejected", "reason": "load_error", "detail": f"{type(exc).__name__}: {one_line(exc)}",
            "platform": record.get("platform"), "item_type": record.get("_type"),
            "payload": jsonable(record), "source_url": record.get("source_url")}
