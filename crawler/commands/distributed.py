"""``microscout enqueue``, ``worker`` and ``jobs``: one crawl on several machines (scrapy-redis).

``enqueue`` validates a sweep's or refresh's arguments, records the job's crawl run and queues
its work in Redis, then returns; ``worker`` (on each machine: cron, systemd, Scrapyd) takes work
from the queued jobs until they drain; ``jobs`` shows them. See crawler/distributed.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

from crawler.commands.common import fail, project_settings, say, set_pairs
from crawler.commands.sweep import (
    add_crawl_options,
    checked_spider,
    crawl_many,
    overrides_from,
    platforms_of,
    spider_kwargs,
)
from crawler.settings_check import SettingError, check_settings


def add_parser(subparsers) -> None:
    enqueue = subparsers.add_parser(
        "enqueue", help="queue a distributed job (workers on any machine crawl it)",
        description="Validate a sweep or refresh, record its crawl run, queue its work in Redis "
                    "and return; `microscout worker` on each machine does the crawling.")
    add_crawl_options(enqueue)
    enqueue.add_argument("--max-age", help="refresh: the accounts older than this (24h, 7d)")
    enqueue.add_argument("--tier", help="refresh: only accounts of this tier")
    enqueue.add_argument("--niche", help="refresh: only accounts with this primary niche")
    enqueue.add_argument("--limit", type=int, help="refresh: at most this many accounts")
    add_redis_option(enqueue)
    enqueue.set_defaults(func=run_enqueue)

    worker = subparsers.add_parser(
        "worker", help="work on the queued distributed jobs until they drain",
        description="Take requests from the queued jobs (all, or --platform/--job) until each has "
                    "been drained for MICROSCOUT_WORKER_IDLE seconds, then exit 0. Start one per "
                    "machine (or several): cron, systemd or Scrapyd.")
    worker.add_argument("--platform", help="only jobs of these platforms (comma-separated)")
    worker.add_argument("--job", help="only this job")
    worker.add_argument("--concurrency", type=int, help="concurrent requests (CONCURRENT_REQUESTS)")
    worker.add_argument("--idle", type=float, help="seconds a drained job is waited on "
                                                   "(MICROSCOUT_WORKER_IDLE, default 30)")
    worker.add_argument("--max-requests", type=int,
                        help="leave after this many requests (MICROSCOUT_WORKER_MAX_REQUESTS)")
    worker.add_argument("--database-url", help="override MICROSCOUT_DATABASE_URL")
    worker.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    worker.add_argument("--quiet", action="store_true")
    worker.add_argument("--json", action="store_true", help="each job's summary as JSON on stdout")
    add_redis_option(worker)
    worker.set_defaults(func=run_worker)

    jobs = subparsers.add_parser("jobs", help="list distributed jobs and their progress")
    jobs.add_argument("--json", action="store_true")
    jobs.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    add_redis_option(jobs)
    jobs.set_defaults(func=run_jobs)


def add_redis_option(parser) -> None:
    parser.add_argument("--redis-url", "--distributed", dest="redis_url",
                        help="Redis of the jobs (MICROSCOUT_REDIS_URL), e.g. redis://host:6379/0")


def settings_of(args, overrides: dict[str, Any]) -> Any:
    """The settings with --redis-url, checked; SettingError when there is no Redis."""
    if getattr(args, "redis_url", None):
        overrides["MICROSCOUT_REDIS_URL"] = args.redis_url
    settings = project_settings(overrides)
    check_settings(settings)
    if not settings.get("MICROSCOUT_REDIS_URL"):
        raise SettingError("no Redis: set MICROSCOUT_REDIS_URL or give --redis-url redis://host:6379/0")
    return settings


def redis_or_fail(settings) -> Any:
    """A Redis client that answered; None after printing one line (then exit 2)."""
    from crawler import distributed

    url = distributed.mask_redis_url(settings.get("MICROSCOUT_REDIS_URL"))
    try:
        server = distributed.client(settings)
        server.ping()
    except distributed.REDIS_DOWN as exc:
        fail(f"Redis at {url} is unreachable: {exc}")
        return None
    except Exception as exc:  # an authentication or protocol error
        fail(f"Redis at {url}: {type(exc).__name__}: {exc}")
        return None
    return server


# --- enqueue --------------------------------------------------------------------------------------

def run_enqueue(args) -> int:
    from crawler import distributed
    from crawler.distributed.enqueue import enqueue
    from models import DatabaseUnavailable
    from models.db import mask_url

    try:
        platforms = platforms_of(args)
        if len(platforms) > 1:
            raise ValueError("enqueue takes one --platform (queue one job per platform)")
        kwargs = spider_kwargs(args, platforms[0])
        for name in ("max_age", "tier", "niche", "limit"):
            if getattr(args, name) is not None:
                kwargs[name] = getattr(args, name)
        spider_cls = checked_spider(args, platforms[0], kwargs)  # before anything is queued
        settings = settings_of(args, overrides_from(args))
    except (ValueError, KeyError) as exc:
        return fail(exc)
    if redis_or_fail(settings) is None:
        return 2
    from crawler.commands.sweep import prepare_warehouse

    try:
        prepare_warehouse(settings)
        spec = enqueue(spider_cls, settings, kwargs, args.job)
    except DatabaseUnavailable as exc:
        return fail(str(exc))
    except ValueError as exc:
        return fail(exc)
    except distributed.REDIS_DOWN as exc:
        return fail(f"Redis became unreachable: {exc}")
    except Exception as exc:  # the warehouse refused the run's row
        return fail(f"cannot record the job's crawl run in "
                    f"{mask_url(settings.get('MICROSCOUT_DATABASE_URL'))}: {exc}")
    if args.json:
        print(json.dumps({key: spec[key] for key in ("name", "platform", "run_key", "tags",
                                                      "handles", "chunks")}))
    if not args.quiet:
        say(f"queued job {spec['name']}: {spec['tags']} tags, {spec['handles']} accounts in "
            f"{spec['chunks']} chunks; start workers with `microscout worker --job {spec['name']}`")
    return 0


# --- worker ---------------------------------------------------------------------------------------

def run_worker(args) -> int:
    from crawler.distributed.jobs import Job, job_names

    overrides: dict[str, Any] = {"MICROSCOUT_PROGRESS": not args.quiet}
    for name, setting in (("concurrency", "CONCURRENT_REQUESTS"), ("idle", "MICROSCOUT_WORKER_IDLE"),
                          ("max_requests", "MICROSCOUT_WORKER_MAX_REQUESTS"),
                          ("database_url", "MICROSCOUT_DATABASE_URL")):
        if getattr(args, name) is not None:
            overrides[setting] = getattr(args, name)
    try:
        overrides.update(set_pairs(args.set))
        settings = settings_of(args, overrides)
        wanted = set(platforms_of(args)) if args.platform else None
    except (ValueError, KeyError) as exc:
        return fail(exc)
    server = redis_or_fail(settings)
    if server is None:
        return 2
    from crawler import distributed

    prefix = distributed.prefix(settings)
    jobs = []
    for name in ([args.job] if args.job else job_names(server, prefix)):
        spec = Job(server, name, prefix).spec()
        if not spec:
            if args.job:
                return fail(f"job {name!r} is not queued (see `microscout jobs`)")
            continue
        if spec.get("state") == "finished" or (wanted and spec.get("platform") not in wanted):
            continue
        jobs.append((spec["spider"], {"job": name}))
    if not jobs:
        say("no queued jobs to work on" + (f" (job {args.job} has finished)" if args.job else ""))
        return 0
    return crawl_many(jobs, overrides, quiet=args.quiet, as_json=args.json, code_of=worker_exit_code)


def worker_exit_code(summary: dict) -> int:
    """0 when the worker kept everything it took and left as it should (the job drained, or
    its request budget was spent); 1 when it lost items, the job failed, or it was cut short."""
    if summary["lost"] or summary["status"] in ("failed", "aborted", "lost"):
        return 1
    return 0 if summary["finish_reason"] in ("finished", "max_requests") else 1


# --- jobs -------------------------------------------------------------------------------------------

def run_jobs(args) -> int:
    from crawler import distributed
    from crawler.distributed.jobs import Job, job_names

    try:
        settings = settings_of(args, set_pairs(args.set))
    except ValueError as exc:
        return fail(exc)
    server = redis_or_fail(settings)
    if server is None:
        return 2
    prefix = distributed.prefix(settings)
    rows = []
    for name in job_names(server, prefix):
        job = Job(server, name, prefix)
        spec, sizes, counts = job.spec(), job.sizes(), job.counts()
        if not spec:  # a finished job's record expired
            server.srem(job.keys.registry, name)
            continue
        created = float(spec.get("created_at") or 0)
        rows.append({
            "job": name, "platform": spec.get("platform"), "state": spec.get("state"),
            "status": spec.get("status"), "queued": sizes["queued"], "seeds": sizes["seeds"],
            "in_flight": sizes["in_flight"], "done": counts.get("done", 0),
            "failed": counts.get("failed", 0), "requeued": counts.get("requeued", 0),
            "accounts_loaded": counts.get("profiles", 0),
            "workers": len(job.live_workers(settings.getfloat("MICROSCOUT_LEASE_SECONDS"))),
            "created_at": datetime.fromtimestamp(created, UTC).isoformat(timespec="seconds")
            if created else None,
        })
    if args.json:
        print(json.dumps(rows))
        return 0
    if not rows:
        say("no distributed jobs")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="distributed jobs")
    columns = ("job", "platform", "state", "status", "queued", "seeds", "in_flight", "done",
               "failed", "requeued", "accounts_loaded", "workers")
    for column in columns:
        table.add_column(column.replace("_", " "), justify="right" if column in columns[4:] else "left")
    for row in rows:
        table.add_row(*("" if row[c] is None else str(row[c]) for c in columns))
    Console(file=sys.stdout, width=max(Console().width, 140)).print(table)
    return 0
