"""A distributed job's crawl run and its workers' shares (``crawl_run_workers``).

``microscout enqueue`` records the job's run (taking the job's lock, as any scheduled run does);
each worker joins it by its run key and writes its share when it leaves; the worker that
finishes the run sums the shares' stats for the end-of-run checks.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from models import loader
from models.tables import CrawlRun, CrawlRunWorker

RUNS = loader.table_of(CrawlRun)
WORKERS = loader.table_of(CrawlRunWorker)


class RunFinished(RuntimeError):
    """The job's crawl run has ended: a late worker has nothing to join."""


def join_run(engine: Any, record: dict, stale_after: float) -> int:
    """The job's running crawl run (recording it when enqueue could not); RunFinished when it
    ended; loader.JobLocked when another run of the job holds the lock."""
    with engine.connect() as conn:
        row = conn.execute(select(RUNS.c.id, RUNS.c.status)
                           .where(RUNS.c.run_key == record["run_key"])).first()
    if row is not None and row.status == "running":
        with engine.begin() as conn:
            loader.heartbeat(conn, row.id)
        return int(row.id)
    if row is not None and row.status not in ("abandoned",):
        raise RunFinished(f"crawl run {row.id} of job {record.get('job')!r} has ended ({row.status})")
    return loader.acquire_run(engine, record, stale_after)


def join(conn: Connection, run_id: int, share: dict) -> None:
    row = {"crawl_run_id": run_id, "worker_id": share["worker_id"], "host": share["host"],
           "pid": share["pid"], "started_at": loader.utcnow(), "status": "running", "requests": 0,
           "items_loaded": 0, "items_rejected": 0, "profiles": 0}
    loader.upsert(conn, WORKERS, [row], ["crawl_run_id", "worker_id"])


def leave(conn: Connection, run_id: int, share: dict, stats: dict) -> None:
    values = {key: share[key] for key in ("status", "requests", "items_loaded", "items_rejected",
                                          "profiles")}
    conn.execute(update(WORKERS).where(WORKERS.c.crawl_run_id == run_id,
                                       WORKERS.c.worker_id == share["worker_id"])
                 .values(**values, stats=stats, finished_at=loader.utcnow()))


def shares(conn: Connection, run_id: int) -> list[dict]:
    rows = conn.execute(select(WORKERS).where(WORKERS.c.crawl_run_id == run_id)
                        .order_by(WORKERS.c.id))
    return [dict(row._mapping) for row in rows]


def summed_stats(rows: list[dict]) -> dict[str, Any]:
    """The numeric stats of every share that wrote them, summed (the run's stats)."""
    total: dict[str, Any] = {}
    for row in rows:
        for key, value in (row.get("stats") or {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                total[key] = total.get(key, 0) + value
    total["microscout/distributed/workers"] = len(rows)
    total["microscout/distributed/workers_lost"] = sum(1 for r in rows if r.get("stats") is None)
    return total
