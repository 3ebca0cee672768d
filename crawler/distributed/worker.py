"""A worker of a distributed job: leases, heartbeat, draining, and the job's one crawl run.

**Leases.** A request a worker takes from the job's queue is under a lease
(:mod:`crawler.distributed.scheduler`). It is *finished* when its callback or errback has run and
every item it produced has left the item pipelines (counted through ``item_scraped``,
``item_dropped`` and ``item_error``), or when a retry/redirect copy of it is queued. A finished
lease is acknowledged after the next warehouse write that began after it finished, so its items
are in the warehouse (or the spool) before Redis forgets the request. Held leases are renewed
with the heartbeat; a worker that dies stops renewing them, and any worker puts them back in the
queue once they expire (``MICROSCOUT_LEASE_SECONDS``). A worker that stops early gives its
unfinished leases back at once. A batch the warehouse lost is never acknowledged: its requests
run again.

**Draining.** The worker waits while the job has requests queued, chunks to expand or requests
in flight on other workers (theirs may come back); it leaves once the job has been drained for
``MICROSCOUT_WORKER_IDLE`` seconds. Redis unreachable: it waits, up to
``MICROSCOUT_REDIS_LOST_TIMEOUT`` seconds, then stops (its leases come back to the queue).

**The crawl run.** Every worker of a job records into the job's one ``crawl_runs`` row (its run
key is the job's) and its share in ``crawl_run_workers``. When the job drains, the last worker
out (``Job.claim_finish``) sums the shares' stats, runs the end-of-run checks once, and finishes
the run (:class:`crawler.run.CrawlRun` calls :meth:`Worker.finish_share`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from scrapy import signals
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.http import Request, Response

from crawler import distributed
from crawler.distributed import COUNTED, LEASE, LOCAL
from crawler.distributed.jobs import Job

logger = logging.getLogger(__name__)



class LeaseState:
    """One taken request: its items out and done, whether its callback still produces."""

    __slots__ = ("done", "out", "parked", "producing", "responded")

    def __init__(self) -> None:
        self.out = self.done = 0
        self.producing = True
        self.responded = self.parked = False


def lease_of(source: Any) -> str | None:
    """The lease of a response's or failure's request (None outside distributed crawls)."""
    request = source.request if isinstance(source, Response) else getattr(source, "request", None)
    return request.meta.get(LEASE) if isinstance(request, Request) else None


class Leases:
    """This worker's leases: held, finished, acknowledged (see the module docstring)."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.lock = threading.Lock()  # acks run on the warehouse thread
        self.open: dict[str, LeaseState] = {}
        self.finished: list[str] = []  # finished since the last warehouse write began
        self.pending_ack: set[str] = set()  # finished, not yet acknowledged
        self.failed: set[str] = set()
        self.unacked: list[tuple[str, list[str]]] = []  # acks Redis did not take yet
        self.has_writer = False  # the warehouse pipeline acknowledges; without it, at once
        self.lost = False  # a write lost items: acknowledge nothing more (they run again)
        self.job: Job | None = None
        self.scheduler: Any = None
        self.down_since: float | None = None
        self.finished_total = 0

    @classmethod
    def of(cls, crawler: Any) -> Leases:
        found = getattr(crawler, "microscout_leases", None)
        if not isinstance(found, cls):
            found = cls(crawler)
            crawler.microscout_leases = found
        return found

    def attach(self, job: Job, scheduler: Any) -> None:
        self.job, self.scheduler = job, scheduler

    # --- reactor side ----------------------------------------------------------------------------

    def taken(self, lease: str) -> None:
        self.open[lease] = LeaseState()

    def responded(self, lease: str | None) -> None:
        """A response reached the engine: its callback (not the downloader) decides the end."""
        state = self.open.get(lease) if lease else None
        if state is not None:
            state.responded = True

    def item_out(self, lease: str, count: int = 1) -> None:
        state = self.open.get(lease)
        if state is not None:
            state.out += count

    def item_done(self, lease: str | None) -> None:
        state = self.open.get(lease) if lease else None
        if state is not None:
            state.done += 1
            self._check(lease)  # type: ignore[arg-type]

    def output_done(self, lease: str, failed: bool = False, parked: bool = False) -> None:
        """The callback or errback has produced everything (``parked``: its retry waits in
        the spider's memory; the retry's queueing ends it, see :meth:`moved_on`)."""
        state = self.open.get(lease)
        if state is None:
            return
        if failed:
            self.failed.add(lease)
        if parked:
            state.parked = True
            return
        state.producing = False
        self._check(lease)

    def moved_on(self, lease: str) -> None:
        """A copy of the leased request was queued: a retry or redirect from the downloader,
        or a parked retry released. (A callback's own follow-up copies do not end it.)"""
        state = self.open.get(lease)
        if state is not None and (state.parked or not state.responded):
            state.parked = False
            state.producing = False
            self._check(lease)

    def _check(self, lease: str) -> None:
        state = self.open[lease]
        if state.producing or state.parked or state.done < state.out:
            return
        del self.open[lease]
        if lease.startswith(LOCAL):
            return  # a worker-local request: nothing in Redis to acknowledge
        self.finished_total += 1
        with self.lock:
            self.pending_ack.add(lease)
            if self.has_writer:
                self.finished.append(lease)
            else:
                self._queue_acks([lease])

    def holding(self) -> bool:
        """Work that lives only in this worker: worker-local requests, or items the spider
        holds across requests (Instagram's sightings waiting for their owner). While it does,
        no lease is acknowledged: if the worker dies, the requests that led there run again."""
        if any(lease.startswith(LOCAL) for lease in self.open):
            return True
        if self.scheduler is not None and self.scheduler.local:
            return True
        spider = getattr(self.crawler, "spider", None)
        return bool(getattr(spider, "holding", lambda: False)())

    def held(self) -> list[str]:
        """Leases to renew, or to give back when the worker stops: unfinished or unacknowledged."""
        with self.lock:
            return [*self.open, *self.pending_ack]

    # --- warehouse side --------------------------------------------------------------------------

    def write_begins(self) -> list[str]:
        """A warehouse write takes the buffer: the leases finished so far have their items in it
        or in earlier writes; they are acknowledged after it (:meth:`written`). None while the
        worker holds work of its own (:meth:`holding`)."""
        if self.holding():
            return []
        with self.lock:
            token, self.finished = self.finished, []
        return token

    def written(self, token: list[str], durable: bool) -> None:
        """The write ended: its items are in the warehouse or the spool (durable) or lost."""
        with self.lock:
            if not durable:
                self.lost = True
                logger.error("Items were lost: this worker's finished requests stay leased and "
                             "run again after it leaves")
            if self.lost:
                return
            self._queue_acks(token)
        self.flush_acks()

    def _queue_acks(self, leases: list[str]) -> None:
        done = [lease for lease in leases if lease not in self.failed]
        failed = [lease for lease in leases if lease in self.failed]
        self.failed.difference_update(failed)
        self.unacked += [(counter, ids) for counter, ids in (("done", done), ("failed", failed))
                         if ids]

    def flush_acks(self) -> None:
        if self.job is None or (self.scheduler is not None and self.scheduler.backlog):
            return  # a request still waits to be queued: its parent is not done yet
        with self.lock:
            batches, self.unacked = self.unacked, []
        for index, (counter, leases) in enumerate(batches):
            try:
                self.job.ack(leases, counter)
            except distributed.REDIS_DOWN as exc:
                self.redis_down(exc)
                with self.lock:
                    self.unacked = batches[index:] + self.unacked
                return
            with self.lock:
                self.pending_ack.difference_update(leases)

    # --- Redis health ----------------------------------------------------------------------------

    def redis_down(self, exc: BaseException) -> None:
        if self.down_since is None:
            self.down_since = time.monotonic()
            logger.error("Redis unreachable (%s): waiting for it; nothing is lost meanwhile",
                         type(exc).__name__)
            self.stats.inc_value("microscout/distributed/redis_outages")

    def redis_up(self) -> None:
        if self.down_since is not None:
            logger.warning("Redis answers again after %.0fs", time.monotonic() - self.down_since)
            self.down_since = None


class LeaseMiddleware:
    """Spider middleware (closest to the engine): counts each leased response's items and
    marks when its callback has produced all of them."""

    def __init__(self, crawler: Any) -> None:
        self.leases = Leases.of(crawler)

    @classmethod
    def from_crawler(cls, crawler: Any) -> LeaseMiddleware:
        return cls(crawler)

    def count(self, lease: str | None, response: Response, output: Any) -> None:
        if lease and not isinstance(output, Request) and output is not None \
                and not response.meta.get(COUNTED):
            self.leases.item_out(lease)

    async def process_spider_output_async(self, response: Response, result: AsyncIterator[Any]
                                          ) -> AsyncIterator[Any]:
        lease = lease_of(response)
        try:
            async for output in result:
                self.count(lease, response, output)
                yield output
        finally:
            if lease:
                self.leases.output_done(lease)

    def process_spider_output(self, response: Response, result: Any) -> Any:
        lease = lease_of(response)
        try:
            for output in result:
                self.count(lease, response, output)
                yield output
        finally:
            if lease:
                self.leases.output_done(lease)


class StartMiddleware:
    """Spider middleware: a worker's requests come from the job's queue, not from start();
    a worker starts only with what its spider needs for itself (a login: ``worker_start``)."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> StartMiddleware:
        return cls(crawler)

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        spider = self.crawler.spider
        for request in getattr(spider, "worker_start", list)():
            yield request


class Worker:
    """Extension: registration, heartbeat and lease upkeep, draining, the worker's share."""

    def __init__(self, crawler: Any) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.stats = crawler.stats
        self.leases = Leases.of(crawler)
        self.worker_id = settings.get("MICROSCOUT_WORKER_ID") or distributed.new_worker_id()
        self.host = socket.gethostname()
        self.ttl = settings.getfloat("MICROSCOUT_LEASE_SECONDS", 120.0)
        self.idle = settings.getfloat("MICROSCOUT_WORKER_IDLE", 30.0)
        self.lost_after = settings.getfloat("MICROSCOUT_REDIS_LOST_TIMEOUT", 600.0)
        self.max_requests = settings.getint("MICROSCOUT_WORKER_MAX_REQUESTS", 0)
        self.drained_since: float | None = None
        self.drained = False
        self.reported = 0
        self.task: asyncio.Future | None = None
        self.closing: asyncio.Future | None = None
        self.rechecking: asyncio.Future | None = None
        #: The worker is leaving (its spider is closing or about to).
        self.stopping = False
        crawler.microscout_worker = self
        for handler, signal in ((self.spider_opened, signals.spider_opened),
                                (self.spider_idle, signals.spider_idle),
                                (self.spider_closed, signals.spider_closed),
                                (self.response_received, signals.response_received),
                                (self.item_done, signals.item_scraped),
                                (self.item_done, signals.item_dropped),
                                (self.item_done, signals.item_error)):
            crawler.signals.connect(handler, signal=signal)

    @classmethod
    def from_crawler(cls, crawler: Any) -> Worker:
        if not distributed.enabled(crawler.settings):
            raise NotConfigured
        return cls(crawler)

    @classmethod
    def of(cls, crawler: Any) -> Worker | None:
        found = getattr(crawler, "microscout_worker", None)
        return found if isinstance(found, cls) else None

    @property
    def job(self) -> Job:
        assert self.leases.job is not None, "the distributed scheduler is not in use"
        return self.leases.job

    # --- signals -------------------------------------------------------------------------------

    def spider_opened(self, spider: Any) -> None:
        self.stats.set_value("microscout/distributed/job", spider.job)
        self.stats.set_value("microscout/distributed/worker", self.worker_id)
        logger.info("Worker %s joins job %s", self.worker_id, spider.job)
        self.task = asyncio.ensure_future(self.upkeep())  # first: it also watches Redis outages
        try:
            self.beat()
        except distributed.REDIS_DOWN as exc:
            self.leases.redis_down(exc)

    def response_received(self, response: Response, request: Request, spider: Any) -> None:
        self.leases.responded(request.meta.get(LEASE))
        if self.max_requests and self.leases.finished_total + len(self.leases.open) >= \
                self.max_requests and not self.stopping:
            self.stopping = True
            logger.info("Worker %s took %d requests (MICROSCOUT_WORKER_MAX_REQUESTS): leaving",
                        self.worker_id, self.max_requests)
            self.closing = asyncio.ensure_future(self._close("max_requests"))

    async def _close(self, reason: str) -> None:
        await self.crawler.engine.close_spider_async(reason=reason)

    def item_done(self, item: Any, response: Any = None, spider: Any = None, **_: Any) -> None:
        if response is not None:
            self.leases.item_done(lease_of(response))

    def spider_idle(self, spider: Any) -> None:
        """Leave only once the job has stayed drained for MICROSCOUT_WORKER_IDLE seconds."""
        if self.stopping:
            return
        try:
            self.job.reap()
            drained = self.job.drained()
        except distributed.REDIS_DOWN as exc:
            self.leases.redis_down(exc)
            raise DontCloseSpider from None
        now = time.monotonic()
        if not drained:
            self.drained_since = None
            if self.leases.pending_ack or self.leases.finished:
                self.flush()  # our own finished requests may be all that is left: write them
            raise DontCloseSpider
        if self.drained_since is None:
            self.drained_since = now
        left = self.idle - (now - self.drained_since)
        if left > 0:
            self.recheck(left)  # leave on time, not at Scrapy's next idle tick (every 5 s)
            raise DontCloseSpider
        self.drained = True
        logger.info("Job %s drained: worker %s leaves", spider.job, self.worker_id)

    def recheck(self, delay: float) -> None:
        """Look again in ``delay`` seconds, and leave if the job is still drained."""
        if self.rechecking is None or self.rechecking.done():
            self.rechecking = asyncio.ensure_future(self._recheck(delay))

    async def _recheck(self, delay: float) -> None:
        await asyncio.sleep(delay)
        engine = self.crawler.engine
        if self.stopping or not engine.spider_is_idle():
            return
        try:
            self.spider_idle(self.crawler.spider)
        except DontCloseSpider:
            return
        self.stopping = True
        self.rechecking = None  # spider_closed must not cancel the task that closes the spider
        await engine.close_spider_async(reason="finished")

    async def spider_closed(self, spider: Any, reason: str) -> None:
        for task in (self.task, self.rechecking):
            if task is not None and not task.done():
                task.cancel()
        try:
            self.leases.flush_acks()
            self.report()
            back = self.job.requeue(self.leases.held())
            if back:
                logger.info("Worker %s gave %d unfinished requests back to job %s",
                            self.worker_id, back, spider.job)
            self.job.leave(self.worker_id)
        except distributed.REDIS_DOWN as exc:
            logger.error("Redis unreachable at the end (%s): this worker's unfinished requests "
                         "return to the queue when their leases expire", type(exc).__name__)

    def flush(self) -> None:
        run = getattr(self.crawler, "microscout_run", None)
        flush = getattr(run, "flush_now", None)
        if flush is not None:
            flush()

    # --- upkeep ----------------------------------------------------------------------------------

    def report(self) -> None:
        """Add the profiles loaded since the last report to the job's count (`microscout jobs`)."""
        loaded = self.stats.get_value("microscout/warehouse/profiles_upserted", 0)
        if loaded > self.reported:
            self.job.count("profiles", loaded - self.reported)
            self.reported = loaded

    def beat(self) -> None:
        self.report()
        self.job.heartbeat(self.worker_id)
        self.job.renew(self.leases.held(), self.ttl)
        self.job.reap()
        self.leases.flush_acks()

    async def upkeep(self) -> None:
        """Heartbeat, lease renewal and reaping every third of a lease; Redis outages."""
        period = max(0.2, self.ttl / 3)
        while True:
            await asyncio.sleep(period)
            try:
                self.beat()
                self.leases.redis_up()
            except distributed.REDIS_DOWN as exc:
                self.leases.redis_down(exc)
            down = self.leases.down_since
            if down is not None and time.monotonic() - down > self.lost_after:
                logger.error("Redis unreachable for %.0fs (MICROSCOUT_REDIS_LOST_TIMEOUT): "
                             "worker %s stops", time.monotonic() - down, self.worker_id)
                self.stopping = True
                # a task of its own: spider_closed cancels this one, which must not be the closer
                self.closing = asyncio.ensure_future(self._close("redis_lost"))
                return

    # --- the share -------------------------------------------------------------------------------

    def share(self) -> dict[str, Any]:
        """This worker's row in crawl_run_workers."""
        stats = self.stats.get_stats()
        lost = stats.get("microscout/warehouse/lost_items", 0)
        status = "lost" if lost else ("drained" if self.drained else "stopped")
        return {"worker_id": self.worker_id, "host": self.host, "pid": os.getpid(),
                "status": status, "requests": self.leases.finished_total,
                "items_loaded": stats.get("microscout/warehouse/items_loaded", 0),
                "items_rejected": stats.get("microscout/warehouse/rejected_rows", 0),
                "profiles": stats.get("microscout/warehouse/profiles_upserted", 0)}

    def run_finished(self, status: str) -> None:
        """The job's crawl run is finished: the job says so; its queue and fingerprints go, its
        record stays a week for `microscout jobs`."""
        try:
            self.job.set(state="finished", status=status, finished_at=f"{time.time():.3f}")
            self.job.retire(keep_seconds=7 * 24 * 3600)
        except distributed.REDIS_DOWN as exc:
            logger.error("Redis unreachable: job %s's end is recorded in the warehouse only (%s)",
                         self.job.name, type(exc).__name__)

    def may_finish_run(self) -> bool:
        """True for the one worker that finishes the job's crawl run: the job is drained and
        no other worker is still working on it."""
        if not self.drained:
            return False
        try:
            self.job.leave(self.worker_id)  # each leaves before it looks: the last one sees none
            others = [w for w in self.job.live_workers(self.ttl) if w != self.worker_id]
            if others or not self.job.drained():
                return False
            return self.job.claim_finish(self.worker_id)
        except distributed.REDIS_DOWN:
            return False
