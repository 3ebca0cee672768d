"""Seeding a distributed job, and a worker's view of it.

:func:`enqueue` validates the arguments exactly as a sweep does (it builds the spider), finds
the work (tags, a handle list, or the warehouse's stale accounts for ``max_age``), records the
job's crawl run in the warehouse (taking the job's lock, on any machine), and queues the work
list in chunks. It returns at once: workers do the crawling.

:func:`join_or_enqueue` is what a spider does when it is built with ``MICROSCOUT_REDIS_URL``
set: join the named job, or queue its own arguments as a new job first (``scrapy crawl SPIDER
-a tags=... -s MICROSCOUT_REDIS_URL=...``, ``microscout sweep --distributed URL``).
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from crawler import distributed
from crawler.distributed.jobs import Job, JobError

logger = logging.getLogger(__name__)

#: Arguments that name the work: queued as seeds, not given to the workers' spiders.
WORK_ARGS = ("tags", "handles", "handles_file", "max_age", "tier", "niche", "limit")


def default_name(spider_name: str) -> str:
    return f"{spider_name}-{datetime.now(UTC):%Y%m%d-%H%M%S}"


def enqueue(spider_cls: Any, settings: Any, kwargs: dict[str, Any],
            job_name: str | None = None) -> dict[str, Any]:
    """Queue a job; returns its spec. Raises ValueError (bad arguments, or the job exists or
    is locked), REDIS_DOWN errors, or database errors."""
    from models.db import make_engine

    name = job_name or kwargs.get("job") or default_name(spider_cls.name)
    spider = spider_cls(**{**kwargs, "job": name})  # validated as a sweep validates: before anything
    server = distributed.client(settings)
    server.ping()
    job = Job(server, name, distributed.prefix(settings))
    if job.exists():
        state = job.spec().get("state")
        if state != "finished":
            raise JobError(f"job {name!r} is already queued ({state}); see "
                           f"`microscout jobs`, or name another with --job")
        job.delete()  # a finished job's name is free again
    engine = make_engine(settings.get("MICROSCOUT_DATABASE_URL"),
                         connect_timeout=settings.getfloat("MICROSCOUT_DB_CONNECT_TIMEOUT") or None)
    try:
        handles: list[str] = list(spider.args.handles)
        if spider.args.max_age is not None:
            from crawler.run import stale_accounts

            handles = list(dict.fromkeys([*handles, *stale_accounts(engine, spider)]))
        arguments = dict(spider.run_args)
        if len(handles) > 20:  # the list is the job's queue, not its record
            arguments["handles"] = f"{len(handles)} accounts"
        spec: dict[str, Any] = {
            "spider": spider_cls.name, "platform": spider.platform, "run_key": str(uuid.uuid4()),
            "kwargs": {k: v for k, v in kwargs.items() if k not in WORK_ARGS and k != "job"},
            "arguments": arguments, "tags": len(spider.args.tags), "handles": len(handles)}
        _record_run(engine, settings, spider, name, spec)
    finally:
        engine.dispose()
    if not job.create({**spec, "kwargs": json.dumps(spec["kwargs"]),
                       "arguments": json.dumps(_jsonable(spec["arguments"]))}):
        raise JobError(f"job {name!r} was queued by someone else meanwhile")
    chunks = job.push_seeds(spider.args.tags, handles)
    job.set(state="queued", seeds=chunks)
    logger.info("Job %s queued: %d tags, %d handles in %d chunks", name, len(spider.args.tags),
                len(handles), chunks)
    return {**spec, "name": name, "chunks": chunks}


def _record_run(engine: Any, settings: Any, spider: Any, name: str, spec: dict) -> None:
    """The job's crawl run, running from now: its lock holds on every machine."""
    from crawler.run import safe_arguments
    from models import loader

    record = {"run_key": spec["run_key"], "spider": spider.name, "platform": spider.platform,
              "job": name, "arguments": _jsonable(safe_arguments(spec["arguments"])),
              "started_at": datetime.now(UTC).isoformat()}
    try:
        loader.acquire_run(engine, record, settings.getfloat("MICROSCOUT_RUN_LOCK_STALE"))
    except loader.JobLocked as exc:
        raise JobError(str(exc)) from None


def _jsonable(value: Any) -> Any:
    from crawler.values import to_jsonable

    return to_jsonable(value)


def join_or_enqueue(spider_cls: Any, settings: Any, kwargs: dict[str, Any]
                    ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the job's spec, the spider's arguments) for a spider built in a distributed crawl."""
    name = kwargs.get("job") or kwargs.get("_job")
    spec: dict[str, Any] | None = None
    if name:
        job = Job(distributed.client(settings), name, distributed.prefix(settings))
        found = job.spec()
        if found and found.get("state") == "finished":
            raise JobError(f"job {name!r} has finished ({found.get('status')}); nothing to do")
        if found:
            spec = {**found, "kwargs": json.loads(found.get("kwargs") or "{}"),
                    "arguments": json.loads(found.get("arguments") or "{}")}
    if spec is None:
        if not any(kwargs.get(arg) for arg in WORK_ARGS):
            raise JobError(f"job {name!r} is not queued (see `microscout jobs`)" if name else
                           "a distributed crawl needs -a job=NAME or something to crawl")
        spec = enqueue(spider_cls, settings, kwargs, name)
        name = spec["name"]
    if spec.get("spider") not in (None, spider_cls.name):
        raise JobError(f"job {name!r} belongs to spider {spec['spider']!r}, not {spider_cls.name!r}")
    return spec, {**spec["kwargs"], "job": name, "_distributed": "1"}
