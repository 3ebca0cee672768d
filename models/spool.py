"""Load spooled batches: records the warehouse pipeline could not write when the database was down."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from models import loader

BATCH = 500


def spool_files(spool_dir: str | Path) -> list[Path]:
    return sorted(Path(spool_dir).glob("*.jsonl"))


def _read(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{number}: not a JSON line ({exc.msg})") from None


def load_file(engine: Engine, path: Path) -> dict:
    """Load one spool file in batches; rename it to *.loaded when every record is in."""
    totals = {"records": 0, "runs": 0}
    runs: dict[str, int] = {}
    batch: list[dict] = []
    run_key: str | None = None

    def flush() -> None:
        if batch:
            assert run_key is not None  # a record joins the batch only once its run is set
            with engine.begin() as conn:
                loader.load_batch(conn, runs[run_key], batch, spider=spider)
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
    totals["runs"] = len(runs)
    path.rename(path.with_suffix(".jsonl.loaded"))
    return totals


def load_spool(engine: Engine, spool_dir: str | Path) -> dict:
    totals = {"files": 0, "records": 0, "runs": 0}
    for path in spool_files(spool_dir):
        result = load_file(engine, path)
        totals["files"] += 1
        totals["records"] += result["records"]
        totals["runs"] += result["runs"]
    return totals
