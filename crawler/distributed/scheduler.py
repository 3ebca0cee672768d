"""The distributed scheduler: scrapy-redis' scheduler, queue and duplicate filter, with leases.

* Requests are encoded and queued by scrapy-redis (its ``PriorityQueue``: a sorted set, highest
  priority first) and filtered by its ``RFPDupeFilter`` (a Redis set of fingerprints), both keyed
  by the job (:mod:`crawler.distributed.jobs`), so every worker of a job shares them.
* A pop takes the entry under a lease (one Lua script: nothing is ever only in a worker's
  memory); the worker extension acknowledges the lease once the request's items are written
  (:class:`crawler.distributed.worker.Leases`). A retry or redirect copy of a leased request
  is queued first, then its parent's lease is finished.
* When no request is queued, the next chunk of the job's work list (tags, handles) is expanded
  by the spider (:meth:`crawler.spiders.base.BaseSpider.seed_requests`) into requests, which
  are queued before the chunk's lease is acknowledged. The spider's own ``start()`` is not read
  (``crawler.distributed.worker.StartMiddleware``): Scrapy's async ``start()`` and scrapy-redis'
  ``RedisSpider.start_requests`` never meet.
* Secrets never reach Redis: what the credentials middleware set on a request (headers,
  cookies) and the proxy are taken off before it is encoded; each worker sets its own again.
* Redis unreachable: new requests wait in memory and are pushed when it answers again, and the
  engine keeps polling (``has_pending_requests`` says yes while Redis cannot be asked).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import deque
from typing import Any

from scrapy.http import Request
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler as RedisScheduler

from crawler import distributed
from crawler.credentials import CredentialsMiddleware
from crawler.distributed import LEASE, LOCAL, LOCAL_META
from crawler.distributed.jobs import Job

logger = logging.getLogger(__name__)

#: Seed chunks expanded by one next_request() call at most (the engine calls again).
EXPANSIONS_PER_CALL = 4
_PRIVATE_META = (LEASE, "proxy", "_auth_proxy", "download_slot_key")


class LeasedQueue(PriorityQueue):
    """scrapy-redis' priority queue; encodes requests without their secrets or lease."""

    def _encode_request(self, request: Request) -> bytes:
        clean = request.copy()
        CredentialsMiddleware.forget_applied(clean)
        clean.headers.pop(b"Proxy-Authorization", None)
        for key in _PRIVATE_META:
            clean.meta.pop(key, None)
        return super()._encode_request(clean)

    def decode(self, data: bytes) -> Request:
        return self._decode_request(data)


class Scheduler(RedisScheduler):
    """scrapy-redis' scheduler on the job's keys, with leases and seed expansion."""

    def __init__(self, server: Any, crawler: Any) -> None:
        super().__init__(server, persist=True, idle_before_close=0)
        self.crawler = crawler
        self.settings = crawler.settings
        self.stats = crawler.stats
        self.ttl = self.settings.getfloat("MICROSCOUT_LEASE_SECONDS", 120.0)
        self.backlog: deque[Request] = deque()  # requests made while Redis was unreachable
        #: Worker-local requests (``meta["microscout_local"]``: a login, a look-up whose answer
        #: only this worker can use): never in Redis, taken before the job's queue.
        self.local: deque[Request] = deque()
        self.job: Job | None = None
        self.leases: Any = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> Scheduler:
        return cls(distributed.client(crawler.settings), crawler)

    def open(self, spider: Any) -> None:
        from crawler.distributed.worker import Leases

        self.spider = spider
        self.job = Job(self.server, spider.job, distributed.prefix(self.settings))
        self.queue = LeasedQueue(self.server, spider, self.job.keys.requests)
        self.df = RFPDupeFilter(self.server, key=self.job.keys.dupefilter,
                                debug=self.settings.getbool("DUPEFILTER_DEBUG"))
        self.leases = Leases.of(self.crawler)
        self.leases.attach(self.job, self)

    def close(self, reason: str) -> None:  # persist: the queue is the job's, not this worker's
        self.push_backlog()

    def __len__(self) -> int:
        try:
            return len(self.queue) + len(self.backlog) + len(self.local)
        except distributed.REDIS_DOWN:
            return len(self.backlog) + len(self.local)

    # --- in --------------------------------------------------------------------------------------

    def enqueue_request(self, request: Request) -> bool:
        parent = request.meta.pop(LEASE, None)  # a retry/redirect copy of a leased request
        if request.meta.get(LOCAL_META):
            self.local.append(request)
            if parent:
                self.leases.moved_on(parent)
            return True
        try:
            self.push_backlog()
            queued = self.push(request)
        except distributed.REDIS_DOWN as exc:
            self.leases.redis_down(exc)
            self.backlog.append(request)
            queued = True
        if parent:
            self.leases.moved_on(parent)
        return queued

    def push(self, request: Request) -> bool:
        """scrapy-redis' enqueue_request (without its deprecated stats call)."""
        if not request.dont_filter and self.df.request_seen(request):
            self.df.log(request, self.spider)
            return False
        self.queue.push(request)
        self.stats.inc_value("scheduler/enqueued/redis")
        return True

    def push_backlog(self) -> bool:
        """Queue what waited for Redis; False while it still cannot be reached."""
        while self.backlog:
            try:
                self.queue.push(self.backlog[0])
            except distributed.REDIS_DOWN as exc:
                self.leases.redis_down(exc)
                return False
            self.backlog.popleft()
        return True

    # --- out -------------------------------------------------------------------------------------

    def next_request(self) -> Request | None:
        assert self.job is not None
        if self.local:
            request = self.local.popleft()
            request.meta[LEASE] = LOCAL + uuid.uuid4().hex
            self.leases.taken(request.meta[LEASE])
            return request
        if not self.push_backlog():
            return None
        for _ in range(EXPANSIONS_PER_CALL):
            lease = uuid.uuid4().hex
            try:
                entry = self.job.pop(lease, self.ttl)
            except distributed.REDIS_DOWN as exc:
                self.leases.redis_down(exc)
                return None
            self.leases.redis_up()
            if entry is None:
                return None
            kind, data = entry
            if kind == "s":
                self.expand(lease, data)
                continue
            try:
                request = self.queue.decode(data)
            except Exception as exc:  # an entry no worker can read: count it, do not loop on it
                logger.error("Job %s: cannot decode a queued request (%s); counted failed",
                             self.job.name, exc)
                self.ack(lease, "failed")
                self.stats.inc_value("microscout/distributed/undecodable")
                continue
            request.meta[LEASE] = lease
            self.leases.taken(lease)
            self.stats.inc_value("scheduler/dequeued/redis")
            return request
        return None

    def expand(self, lease: str, data: bytes) -> None:
        """A chunk of the work list -> its requests, queued; then the chunk is done."""
        assert self.job is not None
        seed = json.loads(data)
        requests = list(self.spider.seed_requests(seed.get("tags", []), seed.get("handles", [])))
        for request in requests:
            self.enqueue_request(request)
        self.stats.inc_value("microscout/distributed/seed_chunks")
        if not self.backlog:
            self.ack(lease, "seeds_done")
        # else: the lease expires and the chunk is expanded again (its requests are deduplicated)

    def ack(self, lease: str, counter: str) -> None:
        """Acknowledge a lease the scheduler itself ends; with Redis gone it expires instead
        (and its entry comes back: a chunk's requests are deduplicated)."""
        assert self.job is not None
        try:
            self.job.ack([lease], counter)
        except distributed.REDIS_DOWN as exc:
            self.leases.redis_down(exc)

    def has_pending_requests(self) -> bool:
        if self.backlog or self.local:
            return True
        try:
            sizes = self.job.sizes() if self.job else {}
        except distributed.REDIS_DOWN:
            return True  # unknown: keep polling rather than close
        return bool(sizes.get("queued") or sizes.get("seeds"))
