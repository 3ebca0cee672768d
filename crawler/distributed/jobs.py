"""A distributed job's state in Redis: its spec, seeds, request queue, leases and counts.

Keys (``P`` is ``MICROSCOUT_REDIS_PREFIX``, default ``microscout``):

* ``P:jobs``: the set of job names;
* ``P:job:NAME``: the job's spec (hash): spider, platform, arguments, run key, state;
* ``P:job:NAME:seeds``: the work list (a list of JSON chunks: ``{"tags": [...]}``,
  ``{"handles": [...]}``), pushed by ``microscout enqueue`` and expanded into requests by the
  workers one chunk at a time, so no process ever holds the whole list as requests;
* ``P:job:NAME:requests``: the scrapy-redis priority queue (a sorted set of encoded requests);
* ``P:job:NAME:dupefilter``: scrapy-redis' request fingerprints;
* ``P:job:NAME:leases`` (sorted set: lease id -> expiry), ``:lease_data`` and ``:lease_score``:
  what workers took and have not finished. scrapy-redis pops a request and forgets it, so a worker
  that dies loses it; here a pop moves the entry into a lease in the same Lua script, a worker
  acknowledges it once its items are written, and an expired lease goes back to the queue;
* ``P:job:NAME:counts``: done, failed, requeued, seeds_done, items_loaded, profiles;
* ``P:job:NAME:workers``: worker id -> last heartbeat (epoch seconds);
* ``P:job:NAME:finalizer``: set once, by the worker that finishes the crawl run.

Times inside the scripts are Redis' own (``TIME``), so the machines' clocks do not matter.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

#: Handles per seed chunk: one chunk becomes at most this many profile requests at once.
SEED_CHUNK = 100

_NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) + tonumber(t[2]) / 1000000 "

#: KEYS: queue, seeds, leases, lease_data, lease_score. ARGV: lease id, ttl.
#: Highest priority request first; the next seed chunk only when no request is queued.
POP = _NOW + """
local kind, data, score
local r = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #r > 0 then
  redis.call('ZREM', KEYS[1], r[1]) kind = 'r' data = r[1] score = r[2]
else
  data = redis.call('LPOP', KEYS[2])
  if not data then return false end
  kind = 's' score = 'seed'
end
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', KEYS[4], ARGV[1], data)
redis.call('HSET', KEYS[5], ARGV[1], score)
return {kind, data}
"""

#: KEYS: leases, lease_data, lease_score, counts. ARGV: counter name, lease ids...
#: Returns how many of the leases were still held (an expired one went back to the queue).
ACK = """
local n = 0
for i = 2, #ARGV do
  if redis.call('ZREM', KEYS[1], ARGV[i]) == 1 then n = n + 1 end
  redis.call('HDEL', KEYS[2], ARGV[i]) redis.call('HDEL', KEYS[3], ARGV[i])
end
if n > 0 then redis.call('HINCRBY', KEYS[4], ARGV[1], n) end
return n
"""

#: KEYS: queue, seeds, leases, lease_data, lease_score, counts.
#: ARGV: 'expired' (then ARGV[2] = max leases) or 'ids' (then lease ids to give back).
REQUEUE = _NOW + """
local ids
if ARGV[1] == 'expired' then
  ids = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
else
  ids = {} for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
end
local n = 0
for _, id in ipairs(ids) do
  local data = redis.call('HGET', KEYS[4], id)
  local score = redis.call('HGET', KEYS[5], id)
  if redis.call('ZREM', KEYS[3], id) == 1 and data then
    if score == 'seed' then redis.call('LPUSH', KEYS[2], data)
    else redis.call('ZADD', KEYS[1], score, data) end
    n = n + 1
  end
  redis.call('HDEL', KEYS[4], id) redis.call('HDEL', KEYS[5], id)
end
if n > 0 then redis.call('HINCRBY', KEYS[6], 'requeued', n) end
return n
"""

#: KEYS: leases. ARGV: ttl, lease ids. Extends the leases still held (XX: never re-adds one).
RENEW = _NOW + """
local n = 0
for i = 2, #ARGV do
  n = n + redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[1]), ARGV[i])
end
return n
"""


class JobError(ValueError):
    """A job that cannot be created or found (one line for the command line)."""


@dataclass(frozen=True)
class JobKeys:
    prefix: str
    name: str

    def __getattr__(self, part: str) -> str:  # keys.seeds -> "P:job:NAME:seeds"
        if part.startswith("_"):
            raise AttributeError(part)
        return f"{self.prefix}:job:{self.name}:{part}"

    @property
    def spec(self) -> str:
        return f"{self.prefix}:job:{self.name}"

    @property
    def registry(self) -> str:
        return f"{self.prefix}:jobs"


def chunks(values: Iterable[str], size: int = SEED_CHUNK) -> Iterator[list[str]]:
    chunk: list[str] = []
    for value in values:
        chunk.append(value)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class Job:
    """One distributed job in Redis (see the module docstring)."""

    def __init__(self, server: Any, name: str, prefix: str = "microscout") -> None:
        self.server = server
        self.name = name
        self.keys = JobKeys(prefix, name)
        self._pop = server.register_script(POP)
        self._ack = server.register_script(ACK)
        self._requeue = server.register_script(REQUEUE)
        self._renew = server.register_script(RENEW)

    # --- the spec -----------------------------------------------------------------------------

    def spec(self) -> dict[str, str]:
        raw = self.server.hgetall(self.keys.spec)
        return {_text(k): _text(v) for k, v in raw.items()}

    def exists(self) -> bool:
        return bool(self.server.exists(self.keys.spec))

    def create(self, spec: dict[str, Any]) -> bool:
        """Record the job (False when a job of that name is already there)."""
        values = {k: (json.dumps(v) if isinstance(v, (dict, list)) else str(v))
                  for k, v in spec.items() if v is not None}
        if not self.server.hsetnx(self.keys.spec, "name", self.name):
            return False
        self.server.hset(self.keys.spec, mapping={**values, "state": "seeding",
                                                  "created_at": f"{time.time():.3f}"})
        self.server.sadd(self.keys.registry, self.name)
        return True

    def set(self, **values: Any) -> None:
        self.server.hset(self.keys.spec, mapping={k: str(v) for k, v in values.items()})

    def push_seeds(self, tags: Iterable[str] = (), handles: Iterable[str] = ()) -> int:
        """Queue the work list in chunks; returns the number of chunks."""
        count = 0
        for kind, values, size in (("tags", tags, 1), ("handles", handles, SEED_CHUNK)):
            batch = []
            for chunk in chunks(values, size):
                batch.append(json.dumps({kind: chunk}))
                if len(batch) >= 100:
                    self.server.rpush(self.keys.seeds, *batch)
                    count += len(batch)
                    batch = []
            if batch:
                self.server.rpush(self.keys.seeds, *batch)
                count += len(batch)
        return count

    def delete(self) -> None:
        names = [self.keys.spec, self.keys.seeds, self.keys.requests, self.keys.dupefilter,
                 self.keys.leases, self.keys.lease_data, self.keys.lease_score, self.keys.counts,
                 self.keys.workers, self.keys.finalizer]
        self.server.delete(*names)
        self.server.srem(self.keys.registry, self.name)

    def retire(self, keep_seconds: int) -> None:
        """A finished job: drop its queue and fingerprints, keep its record a while."""
        self.server.delete(self.keys.requests, self.keys.seeds, self.keys.dupefilter,
                           self.keys.leases, self.keys.lease_data, self.keys.lease_score,
                           self.keys.workers, self.keys.finalizer)
        for key in (self.keys.spec, self.keys.counts):
            self.server.expire(key, keep_seconds)

    # --- work ----------------------------------------------------------------------------------

    def pop(self, lease_id: str, ttl: float) -> tuple[str, bytes] | None:
        """Take the next entry under a lease: ("r", encoded request) or ("s", seed JSON)."""
        keys = [self.keys.requests, self.keys.seeds, self.keys.leases, self.keys.lease_data,
                self.keys.lease_score]
        found = self._pop(keys=keys, args=[lease_id, ttl])
        if not found:
            return None
        return _text(found[0]), found[1]

    def ack(self, lease_ids: Iterable[str], counter: str = "done") -> int:
        ids = list(lease_ids)
        if not ids:
            return 0
        keys = [self.keys.leases, self.keys.lease_data, self.keys.lease_score, self.keys.counts]
        return int(self._ack(keys=keys, args=[counter, *ids]))

    def requeue(self, lease_ids: Iterable[str]) -> int:
        """Give leases back to the queue now (a worker stopping before it finished them)."""
        ids = list(lease_ids)
        return int(self._requeue(keys=self._requeue_keys(), args=["ids", *ids])) if ids else 0

    def reap(self, limit: int = 1000) -> int:
        """Put the expired leases (their worker died) back in the queue."""
        return int(self._requeue(keys=self._requeue_keys(), args=["expired", limit]))

    def _requeue_keys(self) -> list[str]:
        return [self.keys.requests, self.keys.seeds, self.keys.leases, self.keys.lease_data,
                self.keys.lease_score, self.keys.counts]

    def renew(self, lease_ids: Iterable[str], ttl: float) -> int:
        ids = list(lease_ids)
        return int(self._renew(keys=[self.keys.leases], args=[ttl, *ids])) if ids else 0

    def count(self, name: str, value: int = 1) -> None:
        self.server.hincrby(self.keys.counts, name, value)

    # --- state ---------------------------------------------------------------------------------

    def sizes(self) -> dict[str, int]:
        pipe = self.server.pipeline()
        pipe.zcard(self.keys.requests)
        pipe.llen(self.keys.seeds)
        pipe.zcard(self.keys.leases)
        queued, seeds, leased = pipe.execute()
        return {"queued": int(queued), "seeds": int(seeds), "in_flight": int(leased)}

    def counts(self) -> dict[str, int]:
        return {_text(k): int(v) for k, v in self.server.hgetall(self.keys.counts).items()}

    def drained(self) -> bool:
        """Seeded, and nothing queued, left to expand or in flight."""
        if self.spec().get("state") == "seeding":
            return False
        return not any(self.sizes().values())

    def heartbeat(self, worker_id: str) -> None:
        self.server.hset(self.keys.workers, worker_id, f"{time.time():.3f}")

    def leave(self, worker_id: str) -> None:
        self.server.hdel(self.keys.workers, worker_id)

    def live_workers(self, stale_after: float) -> list[str]:
        now = time.time()
        return [_text(worker) for worker, beat in self.server.hgetall(self.keys.workers).items()
                if now - float(beat) < stale_after]

    def claim_finish(self, worker_id: str) -> bool:
        """True for exactly one caller: the worker that finishes the job's crawl run."""
        return bool(self.server.set(self.keys.finalizer, worker_id, nx=True))


def job_names(server: Any, prefix: str = "microscout") -> list[str]:
    return sorted(_text(name) for name in server.smembers(f"{prefix}:jobs"))


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
