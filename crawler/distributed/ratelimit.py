"""Per-host pacing shared by a distributed job's workers: :class:`SlotClock` kept in Redis.

:class:`crawler.middlewares.RateLimitMiddleware` paces requests per download slot (host) with a
"not before" time (pauses: 429, ``Retry-After``, ``x-ratelimit-*``) and a "next start" time (the
platform's ``MICROSCOUT_RATE_LIMIT_<P>`` interval). :class:`RedisSlotClock` keeps both in one Redis
hash per host and changes them in Lua scripts on Redis' own clock, so N workers on any machines
book start times on one line: together they send a host no more than one worker would, and a 429
seen by one pauses all.

``MICROSCOUT_RATE_SCOPE_<P>`` picks whose limit it is: ``global`` (the host's, the default),
``credential`` (each credential's: workers that send the same credential share it, others do
not) or ``worker`` (each worker's own, the in-memory clock: for workers with their own IP address
where the platform limits per IP).
"""

from __future__ import annotations

import hashlib
from typing import Any

_NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) + tonumber(t[2]) / 1000000 "
_STATE = ("local nb = tonumber(redis.call('HGET', KEYS[1], 'not_before') or '0') "
          "local ns = tonumber(redis.call('HGET', KEYS[1], 'next_start') or '0') ")
#: Floats leave Lua as text: Redis would cut a Lua number to an integer.
RESERVE = _NOW + _STATE + """
local start = math.max(now, nb, ns)
local interval = tonumber(ARGV[1])
if interval > 0 then redis.call('HSET', KEYS[1], 'next_start', string.format('%.6f', start + interval)) end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return string.format('%.6f', start - now)
"""
PAUSE = _NOW + _STATE + """
local untl = now + math.max(0, tonumber(ARGV[1]))
local current = math.max(now, nb)
if untl <= current then return {0, '0'} end
redis.call('HSET', KEYS[1], 'not_before', string.format('%.6f', untl))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
local started = 0
if current == now then started = 1 end
return {started, string.format('%.6f', untl - current)}
"""
PAUSED_FOR = _NOW + _STATE + "return string.format('%.6f', math.max(0, nb - now))"


class RedisSlotClock:
    """:class:`crawler.middlewares.SlotClock`'s interface, the state in Redis (one hash a slot)."""

    def __init__(self, server: Any, prefix: str, scope: str = "global", keep: int = 3600) -> None:
        self.server = server
        self.base = f"{prefix}:rate:{scope}"
        self.keep = keep  # seconds a slot's state outlives its last use
        self._reserve = server.register_script(RESERVE)
        self._pause = server.register_script(PAUSE)
        self._paused_for = server.register_script(PAUSED_FOR)

    def key(self, slot: str) -> str:
        return f"{self.base}:{slot}"

    def pause(self, slot: str, seconds: float) -> tuple[bool, float]:
        started, added = self._pause(keys=[self.key(slot)], args=[seconds, self.keep])
        return bool(int(started)), float(added)

    def paused_for(self, slot: str) -> float:
        return float(self._paused_for(keys=[self.key(slot)]))

    def reserve(self, slot: str, interval: float = 0.0) -> float:
        return float(self._reserve(keys=[self.key(slot)], args=[interval, self.keep]))


def credential_scope(spider: Any) -> str:
    """A name for the credentials a spider sends (a digest, never the secret)."""
    identity = spider.credential_identity() if hasattr(spider, "credential_identity") else None
    if identity:
        return "credential-" + hashlib.sha256(identity.encode()).hexdigest()[:16]
    credentials = spider.credentials() if hasattr(spider, "credentials") else []
    material = sorted(f"{c.host}|{sorted(c.headers.items())}|{sorted(c.cookies.items())}"
                      for c in credentials)
    if not material:
        return "anonymous"
    return "credential-" + hashlib.sha256("\n".join(material).encode()).hexdigest()[:16]


def slot_clock_for(crawler: Any, spider: Any) -> RedisSlotClock | None:
    """The shared clock of a distributed crawl's platform, or None for the worker's own."""
    from crawler import distributed

    settings = crawler.settings
    if not distributed.enabled(settings):
        return None
    platform = getattr(spider, "platform", "") or ""
    scope = str(settings.get(f"MICROSCOUT_RATE_SCOPE_{platform.upper()}") or "global").lower()
    if scope == "worker":
        return None
    name = credential_scope(spider) if scope == "credential" else "global"
    return RedisSlotClock(distributed.client(settings), distributed.prefix(settings), name)
