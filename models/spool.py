"""Spool files: batches the warehouse pipeline could not write, and loading them later.

A spool file holds JSON lines, one record each (with its run), appended whole or not at all
(:func:`append_lines`). Loading one (:func:`load_file`) writes its records in batches, then brings
each run's ``crawl_runs`` row up to date: ``items_loaded`` and ``items_rejected`` grow by what was
loaded, and, given ``complete`` (``pipelines.monitor.complete_after_load_spool``), its checks and
status are recomputed now that the spooled items are in.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, update

from models import loader
from models.tables import CrawlRun

logger = logging.getLogger(__name__)
BATCH = 500
#: (stored checks, {"items": n, "profiles": n} loaded from the spool) -> (status, checks)
Complete = Callable[[dict, dict], tuple[str, dict]]
#: Statuses a load can change; a run still running, aborted, skipped or abandoned keeps its own.
RECOMPUTED = ("ok", "degraded", "failed")


def spool_files(spool_dir: str | Path) -> list[Path]:
    return sorted(Path(spool_dir).glob("*.jsonl"))


def append_lines(path: Path, lines: str) -> None:
    """Append JSON lines to a spool file, all of them or none: a write that fails part-way (a
    full disk) is cut back, so the file never ends in half a line. Raises OSError."""
    data = memoryview(lines.encode("utf-8"))
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.lseek(fd, 0, os.SEEK_END)
        try:
            while data:  # unbuffered: a short write is seen here, not lost in a buffer
                data = data[os.write(fd, data):]
            os.fsync(fd)
        except OSError:
            os.ftruncate(fd, size)
            raise
    finally:
        os.close(fd)


def _read(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{number}: not a JSON line ({exc.msg})") from None


def load_file(engine: Engine, path: Path, complete: Complete | None = None) -> dict:
    """Load one spool file in batches; rename it to *.loaded when every record is in."""
    totals = {"records": 0, "runs": 0}
    runs: dict[str, int] = {}
    loaded: dict[str, dict[str, int]] = {}
    batch: list[dict] = []
    run_key: str | None = None

    def flush() -> None:
        if batch:
            assert run_key is not None  # a record joins the batch only once its run is set
            with engine.begin() as conn:
                counts = loader.load_batch(conn, runs[run_key], batch, spider=spider)
            done = loaded.setdefault(run_key, {"items": 0, "profiles": 0, "rejected": 0})
            done["items"] += len(batch)
            done["profiles"] += counts["profiles"]
            done["rejected"] += counts["rejected"]
            totals["records"] += len(batch)
            batch.clear()

    spider: str | None = None
    for number, line in enumerate(_read(path), 1):
        run: dict[str, Any] = line.pop("run", None) or {}
        key = run.get("run_key")
        if not key:
            raise ValueError(f"{path}:{number}: a spooled record without its run")
        if key != run_key:
            flush()
            run_key, spider = key, run.get("spider")
            if run_key not in runs:
                with engine.begin() as conn:
                    runs[run_key] = loader.start_run(conn, run)
        if line.get("_type") == "run_finish":
            flush()
            line.pop("_type")
            with engine.begin() as conn:
                loader.finish_run(conn, key, **line)  # key == run_key here
            continue
        batch.append(line)
        if len(batch) >= BATCH:
            flush()
    flush()
    for key, done in loaded.items():
        done["signals"] = _signals(engine, runs[key])
        with engine.begin() as conn:
            _bring_up_to_date(conn, key, done, complete)
    totals["runs"] = len(runs)
    path.rename(path.with_suffix(".jsonl.loaded"))
    return totals


def _signals(engine: Engine, run_id: int) -> int:
    """The run's creator signals, now that its accounts are in (1 when computed)."""
    from models import analytics

    try:
        analytics.refresh(engine, run_id)
    except Exception as exc:  # derived data: the records are loaded; the check stays failed
        logger.warning("Cannot compute the signals of crawl run %s: %s", run_id, exc)
        return 0
    return 1


def _bring_up_to_date(conn, run_key: str, done: dict[str, int], complete: Complete | None) -> None:
    """The run's row after its spooled records are in: counts, and checks and status."""
    table = loader.table_of(CrawlRun)
    row = conn.execute(select(table.c.status, table.c.checks, table.c.items_loaded,
                              table.c.items_rejected).where(table.c.run_key == run_key)).one()
    values: dict[str, Any] = {"items_loaded": (row.items_loaded or 0) + done["items"],
                              "items_rejected": (row.items_rejected or 0) + done["rejected"]}
    if complete is not None and row.checks and row.status in RECOMPUTED:
        values["status"], values["checks"] = complete(row.checks, done)
    conn.execute(update(table).where(table.c.run_key == run_key).values(**values))


def load_spool(engine: Engine, spool_dir: str | Path, complete: Complete | None = None) -> dict:
    totals = {"files": 0, "records": 0, "runs": 0}
    for path in spool_files(spool_dir):
        result = load_file(engine, path, complete)
        totals["files"] += 1
        totals["records"] += result["records"]
        totals["runs"] += result["runs"]
    return totals
