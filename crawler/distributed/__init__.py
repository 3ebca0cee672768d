"""Distributed crawls: one job, many workers, on the scrapy-redis scheduler.

With ``MICROSCOUT_REDIS_URL`` set (``microscout worker``, ``microscout sweep --distributed URL``,
or ``scrapy crawl SPIDER -s MICROSCOUT_REDIS_URL=... -a job=NAME``), the add-on
(:mod:`crawler.addon`) switches every spider onto:

* :mod:`crawler.distributed.scheduler`: scrapy-redis' scheduler, queue and duplicate filter,
  with leases so a request a dead worker took goes back to the queue, and the job's work list
  expanded one chunk at a time;
* :mod:`crawler.distributed.worker`: the worker's extension: joins the job's crawl run, keeps its
  leases alive, acknowledges them once their items are written, waits while others still work,
  and finishes the crawl run once, when the job drains;
* :mod:`crawler.distributed.ratelimit`: per-host pacing and pauses shared through Redis.

Without the setting nothing changes. :mod:`crawler.distributed.jobs` holds the Redis layout.
"""

from __future__ import annotations

import os
import socket
import uuid
from typing import Any

#: Raised by redis-py when the server is unreachable or stops answering.
try:
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    REDIS_DOWN: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)
except ImportError:  # pragma: no cover - redis is a dependency
    REDIS_DOWN = (OSError,)


#: request.meta keys: the lease a popped request is under; its errback counted its items
#: itself; a worker-local request (kept in that worker's memory, never in Redis).
LEASE = "microscout_lease"
COUNTED = "microscout_lease_counted"
LOCAL_META = "microscout_local"
#: Lease ids of worker-local requests.
LOCAL = "local:"


def enabled(settings: Any) -> bool:
    return bool(settings.get("MICROSCOUT_REDIS_URL"))


def connect(url: str, timeout: float = 5.0) -> Any:
    """A Redis client (binary replies) that fails within ``timeout`` seconds when the server is
    gone, instead of hanging."""
    import redis

    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                health_check_interval=30)


def client(settings: Any) -> Any:
    return connect(settings.get("MICROSCOUT_REDIS_URL"),
                   settings.getfloat("MICROSCOUT_REDIS_TIMEOUT", 5.0))


def prefix(settings: Any) -> str:
    return settings.get("MICROSCOUT_REDIS_PREFIX") or "microscout"


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def mask_redis_url(url: str | None) -> str:
    from models.db import mask_url

    return mask_url(url or "")
