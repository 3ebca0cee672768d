"""Warehouse pipeline: buffers items and writes them in batches, one transaction a batch.

The crawl run (its record, lock, heartbeat, engine and worker thread, end-of-run checks) is the
crawl-run extension's (:class:`crawler.run.CrawlRun`): this pipeline asks it to open the run when
the spider opens, writes every batch on the run's worker thread (blocking database I/O never runs
on the reactor), and asks it to close the run after the last batch. A batch that cannot be
written after ``MICROSCOUT_DB_RETRIES`` attempts is appended to a spool file (JSON lines under
``MICROSCOUT_SPOOL_DIR``); ``microscout db load-spool`` loads it later, so nothing is lost.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import fields
from pathlib import Path
from typing import Any, cast

from sqlalchemy.exc import DBAPIError

from crawler.items import HashtagSightingItem, PostItem, ProfileItem, RejectedItem
from crawler.run import CrawlRun, one_line, safe_arguments
from crawler.values import to_jsonable as jsonable
from models import loader
from models.db import DatabaseUnavailable, mask_url

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
                 retry_delay: float, spool_dir: str) -> None:
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
        self.spooled_batches = 0
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
        )

    @property
    def run_key(self) -> str:
        return self.run.run_key

    # --- lifecycle --------------------------------------------------------------------------

    async def open_spider(self) -> None:
        await self.run.open()

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
            self.pending = asyncio.ensure_future(self.run.in_worker(self._write, batch))

    async def close_spider(self) -> None:
        await self._flush()
        if self.pending is not None:
            await self.pending
        await self.run.close()

    # --- writing (worker thread) -------------------------------------------------------------

    def _write(self, batch: list[dict]) -> None:
        for attempt in range(1, self.retries + 1):
            try:
                run_id = self.run.ensure_recorded()
                with self.run.connect().begin() as conn:
                    counts = loader.load_batch(conn, run_id, batch, spider=self.run.record["spider"])
                    self.run.heartbeat(conn)
                self._count(counts, len(batch))
                return
            except (DBAPIError, DatabaseUnavailable) as exc:
                if isinstance(exc, DBAPIError) and not _is_transient(exc):
                    self._write_one_by_one(batch)
                    return
                logger.warning("Warehouse write failed (attempt %d/%d) on %s: %s", attempt,
                               self.retries, mask_url(self.url), one_line(exc))
                if attempt < self.retries:
                    time.sleep(self.retry_delay * 2 ** (attempt - 1))
        self._spool(batch)

    def _write_one_by_one(self, batch: list[dict]) -> None:
        """A batch the database refuses for its data: find the bad records, quarantine them."""
        engine, spider = self.run.connect(), self.run.record["spider"]
        # Set by ensure_recorded in _write, unless that call itself raised the non-transient
        # error that brought us here: then it is still None, and profile and sighting records
        # fail on their NOT NULL crawl_run_id and are quarantined as load_error. Known gap.
        run_id = cast(int, self.run.run_id)
        for record in batch:
            try:
                with engine.begin() as conn:
                    counts = loader.load_batch(conn, run_id, [record], spider=spider)
                self._count(counts, 1)
            except DBAPIError as exc:
                bad = {"_type": "rejected", "reason": "load_error", "detail": one_line(exc),
                       "platform": record.get("platform"), "item_type": record.get("_type"),
                       "payload": jsonable(record), "source_url": record.get("source_url")}
                with engine.begin() as conn:
                    loader.load_batch(conn, run_id, [bad], spider=spider)
                self.stats.inc_value("microscout/quarantined/load_error")
                self.stats.inc_value("microscout/warehouse/rejected_rows")

    def _count(self, counts: dict, items: int) -> None:
        self.stats.inc_value("microscout/warehouse/batches")
        self.stats.inc_value("microscout/warehouse/items_loaded", items)
        self.stats.inc_value("microscout/warehouse/profiles_upserted", counts["profiles"])
        self.stats.inc_value("microscout/warehouse/posts_upserted", counts["posts"])
        self.stats.inc_value("microscout/warehouse/sightings_upserted", counts["sightings"])
        self.stats.inc_value("microscout/warehouse/rejected_rows", counts["rejected"])

    def _spool_finish(self, values: dict) -> None:
        """The run's final row, when the database is gone at the end (load-spool applies it)."""
        self._spool([{"_type": "run_finish", **jsonable(values)}], items=False)

    def _spool(self, batch: list[dict], items: bool = True) -> None:
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        path = self.spool_dir / f"{self.run_key}.jsonl"
        with path.open("a", encoding="utf-8") as fh:
            for record in batch:
                line = {"run": self.run.record, **record}
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
