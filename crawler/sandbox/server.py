"""The sandbox's HTTP server, its knobs, and :class:`SandboxProcess` to run it in a child.

A threaded HTTP/1.1 server (stdlib ``ThreadingHTTPServer``, keep-alive, Nagle off) in
front of one platform app. Everything is set through one object, :class:`SandboxConfig`:
world size and seed, host, port (0 = any free port), latency added to every answer, fault
rates (see :mod:`crawler.sandbox.faults`), the advisory rate limit, and the platform's own
knobs (``knobs``: name -> text value; each platform module's docstring lists its knobs). Every
app is built by ``App.from_config(world, config)``; a bad knob is a one-line ``ValueError``.
Three knobs belong to the server and work for every platform (``SERVER_KNOBS`` in
:mod:`crawler.sandbox.common`): ``throttle_after=N`` answers the platform's own 429 once, after
N more API requests, with ``Retry-After: throttle_retry_after`` seconds (default 1; the
rate-limit reset header, where the platform has one, says the same); setting
``throttle_after`` again re-arms it, ``off`` disarms it (:class:`~crawler.sandbox.faults.Throttle`).
``day=N`` (0 to 36500; 0, today, by default) makes every format serve the follower and
subscriber counts of sandbox day N (:meth:`~crawler.sandbox.world.World.set_day`: each
account's natural trend and noise, plus the bought followers of a planted spike from its spike
day on; post engagement stays); the knob state then carries ``"day"`` (``/__sandbox__/health``
always does). ``SandboxProcess(knobs={"day": 3})`` starts there, ``set_knobs(day=4)`` moves
on.

These endpoints never fault, never wait and are not counted (in stats or traffic):

* ``/__sandbox__/health``: ``{"status": "ok", ...}``
* ``/__sandbox__/stats``: requests served, answers by status, faults injected by kind (a
  throttle 429 counts as a "429" fault).
* ``/__sandbox__/traffic``: platform requests per ``Host`` header, at arrival (before the
  gate): ``{"since": T, "now": T, "keep": 10000, "hosts": {"127.0.0.1:PORT": {"requests": N,
  "first": T, "last": T, "max_per_second": M, "per_second": {"<epoch second>": count, ...},
  "kept": K}}}`` (times are the server's ``time.time()``). ``?times=1`` adds each host's
  ``"times"``, the arrival times of its last ``keep`` requests, oldest first; ``?window=S``
  adds ``"window": S`` and each host's ``"max_in_window"``, the most of those kept arrivals
  inside any S seconds (sliding); ``?reset=1`` answers the counts, then clears them. Fleet
  tests check a shared per-host rate limit with it (see :class:`Traffic`).
* ``/__sandbox__/gate``: ``?hold_after=N`` lets N more platform requests through, then holds
  every later one until ``?open=1``; answers ``{"hold_after", "passed", "waiting"}``. Tests stop a
  crawl at a point they choose with it (kill it part-way, start a second run while the first
  holds its lock) instead of racing a timer.
* ``/__platform__/knobs``: the platform's knobs at run time. ``GET ?name=value&...`` (or POST
  a form or a JSON object) applies them with the same validation as at start (400
  ``{"error": ...}`` and nothing changed when one is bad); every answer is the app's
  ``knob_state()``, e.g. ``{"knobs": {...}, "served": {...}}``, plus ``"throttle":
  {"after", "retry_after", "armed", "passed", "sent_at", "resume_at", "target", "fired"}`` once
  a throttle knob has been set (see :meth:`~crawler.sandbox.faults.Throttle.state`).
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO
from urllib.parse import parse_qsl, urlencode, urlsplit

from crawler.platforms import SANDBOXED
from crawler.sandbox.common import (
    KNOBS_PATH,
    SERVER_KNOBS,
    PlatformApp,
    Request,
    Response,
    dump_json,
    parse_day,
)
from crawler.sandbox.faults import FAULT_KINDS, FaultInjector, Throttle, check_faults
from crawler.sandbox.world import World

SANDBOX_PREFIX = "/__sandbox__/"
MAX_BODY = 64 * 1024  # largest POST body an app is handed
TRAFFIC_KEEP = 10_000  # arrival times kept per host for /__sandbox__/traffic


def _mastodon(world: World, config: SandboxConfig) -> PlatformApp:
    from crawler.sandbox.mastodon import MastodonApp

    return MastodonApp.from_config(world, config)


def _bluesky(world: World, config: SandboxConfig) -> PlatformApp:
    from crawler.sandbox.bluesky import BlueskyApp

    return BlueskyApp.from_config(world, config)


def _instagram(world: World, config: SandboxConfig) -> PlatformApp:
    from crawler.sandbox.instagram import InstagramApp

    return InstagramApp.from_config(world, config)


def _tiktok(world: World, config: SandboxConfig) -> PlatformApp:
    from crawler.sandbox.tiktok import TikTokApp

    return TikTokApp.from_config(world, config)


def _youtube(world: World, config: SandboxConfig) -> PlatformApp:
    from crawler.sandbox.youtube import YouTubeApp

    return YouTubeApp.from_config(world, config)


#: ``--platform`` name -> factory of its app, for the platforms the registry gives a sandbox app.
_FACTORIES = {"mastodon": _mastodon, "bluesky": _bluesky, "instagram": _instagram,
              "tiktok": _tiktok, "youtube": _youtube}
PLATFORMS = {name: _FACTORIES[name] for name in SANDBOXED}


@dataclass
class SandboxConfig:
    accounts: int = 500
    seed: int = 42
    host: str = "127.0.0.1"
    port: int = 0
    latency: float = 0.0  # seconds added to every answer outside /__sandbox__/
    faults: dict[str, float] = field(default_factory=dict)
    slow_delay: float = 2.0  # seconds a "slow" fault waits
    platform: str = "mastodon"
    rate_limit: int = 300  # x-ratelimit-limit (advisory, per 5 minutes, as Mastodon)
    #: The platform's knobs (name -> text value), validated by its app when it is built.
    knobs: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.faults = check_faults(self.faults)
        self.knobs = {str(name).strip(): _knob_text(value) for name, value in self.knobs.items()}
        if self.platform not in PLATFORMS:
            raise ValueError(f"unknown platform {self.platform!r}: {', '.join(PLATFORMS)}")
        if self.accounts < 1:
            raise ValueError("accounts must be at least 1")
        if self.latency < 0 or self.slow_delay < 0:
            raise ValueError("latency and slow delay cannot be negative")


def _knob_text(value: object) -> str:
    """A knob's value as text: ``0.5`` -> ``"0.5"``, ``None`` -> ``""``, ``True`` -> ``"true"``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value).strip()


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started = time.monotonic()
        self.requests = 0
        self.statuses: Counter[str] = Counter()
        self.faults: Counter[str] = Counter(dict.fromkeys(FAULT_KINDS, 0))

    def count(self, status: int, fault: str | None) -> None:
        with self._lock:
            self.requests += 1
            self.statuses[str(status)] += 1
            if fault:
                self.faults[fault] += 1

    def snapshot(self) -> dict:
        with self._lock:
            return {
                "requests": self.requests,
                "responses": dict(sorted(self.statuses.items())),
                "faults": dict(self.faults),
                "faults_total": sum(self.faults.values()),
                "uptime_s": round(time.monotonic() - self.started, 3),
            }


def split_knobs(knobs: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """``knobs`` -> (the server's own, :data:`~crawler.sandbox.common.SERVER_KNOBS`; the app's)."""
    server = {name: value for name, value in knobs.items() if name in SERVER_KNOBS}
    return server, {name: value for name, value in knobs.items() if name not in SERVER_KNOBS}


def knobs_response(app: PlatformApp, values: Mapping[str, str],
                   throttle: Throttle | None = None, world: World | None = None) -> Response:
    """The answer of ``/__platform__/knobs``: apply ``values`` (if any) to the app (and the
    server knobs among them to ``throttle`` and ``world``), answer the knob state (200), or 400
    ``{"error": ...}`` with nothing changed when a knob is bad.

    The state carries ``"day"`` (the world's day) once it is not 0 or the request names it."""
    headers = [("cache-control", "no-store")]
    parsed: dict[str, int | None] = {}
    day = None
    try:
        if throttle is not None or world is not None:
            mine, values = split_knobs(values)
            parsed = Throttle.parse(mine)
            day = parse_day(mine)
            if day is not None and world is None:
                raise ValueError("knob day needs the server's world")
        if values:
            app.configure(values)
    except ValueError as exc:
        return Response(400, dump_json({"error": str(exc)}), headers=headers)
    if day is not None and world is not None:
        world.set_day(day)
    state = app.knob_state()
    if throttle is not None:
        throttle.apply(parsed)
        if throttle.used:
            state = {**state, "throttle": throttle.state()}
    if world is not None and (world.day or day is not None):
        state = {**state, "day": world.day}
    return Response(200, dump_json(state), headers=headers)


def max_in_window(times: Sequence[float], window: float) -> int:
    """The most of ``times`` (ascending) inside any ``window`` seconds, sliding: the largest
    count of arrivals in a half-open interval ``(t - window, t]``."""
    best = start = 0
    for end, moment in enumerate(times):
        while times[start] <= moment - window:
            start += 1
        best = max(best, end - start + 1)
    return best


class _HostTraffic:
    __slots__ = ("first", "last", "per_second", "requests", "times")

    def __init__(self, now: float, keep: int) -> None:
        self.requests = 0
        self.first = self.last = now
        self.per_second: Counter[int] = Counter()
        self.times: deque[float] = deque(maxlen=keep)


class Traffic:
    """Platform requests per host (the ``Host`` header), for ``/__sandbox__/traffic``.

    Each arrival is counted in its whole epoch second (``per_second``, kept for the server's
    life or until :meth:`snapshot` resets) and its time kept among the host's last ``keep``
    (what ``times`` and ``max_in_window`` see). Thread-safe; the time is read under the lock,
    so each host's times are in order (unless the system clock steps back).
    """

    def __init__(self, keep: int = TRAFFIC_KEEP, clock: Callable[[], float] = time.time) -> None:
        self.keep = keep
        self.clock = clock
        self._lock = threading.Lock()
        self._hosts: dict[str, _HostTraffic] = {}
        self.since = clock()

    def count(self, host: str) -> float:
        """Count one request for ``host`` now; its arrival time."""
        with self._lock:
            now = self.clock()
            entry = self._hosts.get(host)
            if entry is None:
                entry = self._hosts[host] = _HostTraffic(now, self.keep)
            entry.requests += 1
            entry.last = now
            entry.per_second[int(now)] += 1
            entry.times.append(now)
        return now

    def snapshot(self, *, times: bool = False, window: float | None = None,
                 reset: bool = False) -> dict:
        """The counts (see the module docstring); with ``reset``, cleared after reading."""
        with self._lock:
            now = self.clock()
            hosts, since = self._hosts, self.since
            if reset:
                self._hosts, self.since = {}, now
            else:  # copy what is read outside the lock
                hosts = {host: _copy(entry) for host, entry in hosts.items()}
        answer: dict = {"since": since, "now": now, "keep": self.keep}
        if window is not None:
            answer["window"] = window
        answer["hosts"] = {host: _host_answer(entry, times, window)
                           for host, entry in sorted(hosts.items())}
        return answer


def _copy(entry: _HostTraffic) -> _HostTraffic:
    copy = _HostTraffic(entry.first, entry.times.maxlen or 0)
    copy.requests, copy.last = entry.requests, entry.last
    copy.per_second = entry.per_second.copy()
    copy.times.extend(entry.times)
    return copy


def _host_answer(entry: _HostTraffic, times: bool, window: float | None) -> dict:
    answer: dict = {
        "requests": entry.requests,
        "first": entry.first,
        "last": entry.last,
        "max_per_second": max(entry.per_second.values(), default=0),
        "per_second": {str(second): n for second, n in sorted(entry.per_second.items())},
        "kept": len(entry.times),
    }
    ordered = sorted(entry.times) if times or window is not None else []
    if window is not None:
        answer["max_in_window"] = max_in_window(ordered, window)
    if times:
        answer["times"] = ordered
    return answer


def _flag(query: Mapping[str, str], name: str) -> bool:
    return query.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _window(text: str | None) -> float | None:
    if text is None or not text.strip():
        return None
    try:
        window = float(text)
    except ValueError:
        window = -1.0
    if not 0 < window < float("inf"):
        raise ValueError(f"window must be a number of seconds > 0, got {text!r}")
    return window


class Gate:
    """Holds platform requests after a count until opened (``/__sandbox__/gate``)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.hold_after: int | None = None
        self.passed = 0
        self.waiting = 0

    def set(self, query: Mapping[str, str]) -> None:
        with self._cond:
            if query.get("open"):
                self.hold_after = None
            elif "hold_after" in query:
                count = query["hold_after"]
                if not count.isdigit():
                    raise ValueError(f"hold_after must be a whole number >= 0, got {count!r}")
                self.hold_after, self.passed = int(count), 0
            self._cond.notify_all()

    def pass_through(self) -> None:
        """Wait while the gate holds, then count this request as passed."""
        with self._cond:
            while self.hold_after is not None and self.passed >= self.hold_after:
                self.waiting += 1
                try:
                    self._cond.wait(timeout=1.0)
                finally:
                    self.waiting -= 1
            self.passed += 1

    def state(self) -> dict[str, int | None]:
        with self._cond:
            return {"hold_after": self.hold_after, "passed": self.passed, "waiting": self.waiting}


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, config: SandboxConfig, world: World | None = None) -> None:
        self.config = config
        self.world = world or World(config.accounts, config.seed)
        server_knobs, app_knobs = split_knobs(config.knobs)
        self.throttle = Throttle()
        self.throttle.configure(server_knobs)  # ValueError for a bad one
        day = parse_day(server_knobs)
        app_config = replace(config, knobs=app_knobs) if server_knobs else config
        self.app = PLATFORMS[config.platform](self.world, app_config)
        if day is not None:  # once the app accepted its knobs: a bad one changes nothing
            self.world.set_day(day)
        self.faults = FaultInjector(config.faults, seed=config.seed)
        self.stats = Stats()
        self.gate = Gate()
        self.traffic = Traffic()
        super().__init__((config.host, config.port), _Handler)

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def base_url(self) -> str:
        host = self.config.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    def knobs(self, values: Mapping[str, str]) -> Response:
        """``/__platform__/knobs``: see :func:`knobs_response`."""
        return knobs_response(self.app, values, self.throttle, self.world)

    def internal(self, path: str, query: str = "") -> Response | None:
        if path == SANDBOX_PREFIX + "gate":
            try:
                self.gate.set(dict(parse_qsl(query)))
            except ValueError as exc:
                return Response(400, dump_json({"error": str(exc)}))
            value: dict = self.gate.state()
        elif path == SANDBOX_PREFIX + "traffic":
            options = dict(parse_qsl(query))
            try:
                window = _window(options.get("window"))
            except ValueError as exc:
                return Response(400, dump_json({"error": str(exc)}))
            value = self.traffic.snapshot(times=_flag(options, "times"), window=window,
                                          reset=_flag(options, "reset"))
        elif path == SANDBOX_PREFIX + "health":
            value = {
                "status": "ok",
                "platform": self.config.platform,
                "accounts": self.config.accounts,
                "seed": self.config.seed,
                "day": self.world.day,
                "pid": os.getpid(),
            }
        elif path == SANDBOX_PREFIX + "stats":
            value = {
                **self.stats.snapshot(),
                "platform": self.config.platform,
                "accounts": self.config.accounts,
                "seed": self.config.seed,
                "fault_rates": self.config.faults,
                "latency": self.config.latency,
            }
        else:
            return None
        return Response(200, dump_json(value), headers=[("cache-control", "no-store")])


class _Handler(BaseHTTPRequestHandler):
    server: SandboxServer
    protocol_version = "HTTP/1.1"  # keep-alive
    server_version = "microscout-sandbox"
    disable_nagle_algorithm = True
    wbufsize = -1  # buffered: status line, headers and body leave in one write
    timeout = 120  # idle keep-alive connections are closed after this

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args) -> None:
        pass  # one line per request would drown a benchmark

    def do_GET(self) -> None:
        self._answer(head=False)

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def _refuse(self) -> None:
        length = self.headers.get("Content-Length") or "0"
        if length.isdigit() and int(length):
            self.rfile.read(int(length))
        self._send(Response(405, dump_json({"error": "Method not allowed"})), head=False)

    def _target(self) -> str:
        """Path and query of the request line (also for an absolute-form proxy request)."""
        target = self.path
        if target.startswith(("http://", "https://")):
            parts = urlsplit(target)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
        return target

    def do_POST(self) -> None:
        """POST for apps that set ``accepts_post`` (XRPC procedures, youtubei browse), and for
        the knobs endpoint."""
        path = self._target().partition("?")[0]
        if path != KNOBS_PATH and not getattr(self.server.app, "accepts_post", False):
            self._refuse()
            return
        length = self.headers.get("Content-Length") or "0"
        size = int(length) if length.isdigit() else 0
        body = self.rfile.read(min(size, MAX_BODY)) if size else b""
        if size > MAX_BODY:  # drain what does not fit; the app sees a cut body
            self.rfile.read(size - MAX_BODY)
        self._answer(head=False, body=body)

    do_PUT = do_PATCH = do_DELETE = _refuse

    def _knob_values(self, query: str, body: bytes) -> dict[str, str]:
        """The knobs a request names: its query, then a POSTed form or JSON object on top."""
        values = dict(reversed(parse_qsl(query, keep_blank_values=True)))
        if not body.strip():
            return values
        if "json" in (self.headers.get("Content-Type") or "") or body.lstrip()[:1] == b"{":
            data = json.loads(body)  # ValueError when it is not JSON
            if not isinstance(data, dict):
                raise ValueError("the knobs must be a JSON object")
            values.update({str(k): _knob_text(v) for k, v in data.items()})
        else:
            values.update(parse_qsl(body.decode(), keep_blank_values=True))
        return values

    def _answer(self, head: bool, body: bytes = b"") -> None:
        server = self.server
        target = self._target()
        path, _, query = target.partition("?")
        if path.startswith(SANDBOX_PREFIX):
            response = server.internal(path, query)
            if response is None:
                response = Response(404, dump_json({"error": "Not Found"}))
            self._send(response, head)
            return
        if path == KNOBS_PATH:
            try:
                values = self._knob_values(query, body)
            except ValueError as exc:  # a body that is neither a form nor a JSON object
                self._send(Response(400, dump_json({"error": f"bad knobs body: {exc}"})), head)
                return
            self._send(server.knobs(values), head)
            return

        host = (self.headers.get("Host") or "").strip().lower()
        server.traffic.count(host or server.base_url.split("://", 1)[1])
        server.gate.pass_through()
        fault = None
        if server.app.faultable(path):
            fault = "throttle" if server.throttle.take() else server.faults.decide(target)
        request = Request(
            method=self.command,
            path=path,
            query=dict(reversed(parse_qsl(query, keep_blank_values=True))),
            base_url=server.base_url,
            target=target,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        if server.config.latency:
            time.sleep(server.config.latency)
        if fault == "slow":
            time.sleep(server.config.slow_delay)
        if fault == "throttle":
            response = server.throttle.answer(server.app.fault_response("429", request), target)
            fault = "429"
        elif fault in ("429", "500", "503"):
            response = server.app.fault_response(fault, request)
        else:
            try:
                response = server.app.handle(request)
            except Exception:  # a sandbox bug: say so on stderr, keep the connection usable
                traceback.print_exc()
                response = Response(500, b"sandbox error\n", "text/plain; charset=utf-8")
                fault = None
            if fault == "truncate":
                if len(response.body) > 1:
                    response.body = response.body[: len(response.body) // 2]
                else:
                    fault = None  # nothing to cut; an honest answer
        server.stats.count(response.status, fault)
        self._send(response, head)

    def _send(self, response: Response, head: bool) -> None:
        self.send_response(response.status)
        self.send_header("content-type", response.content_type)
        self.send_header("content-length", str(len(response.body)))
        for name, value in response.headers:
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(response.body)


def make_server(config: SandboxConfig, world: World | None = None) -> SandboxServer:
    """A bound server, not yet serving (call ``serve_forever``, e.g. in a thread).

    Raises ValueError (one line) for a bad knob, OSError when the address cannot be bound.
    """
    return SandboxServer(config, world)


def serve(config: SandboxConfig, *, watch_stdin: bool = False, out=None,
          server: SandboxServer | None = None) -> int:
    """Build the world, bind, print one line with the URL, serve until Ctrl-C or SIGTERM.

    ``server``: one :func:`make_server` already built for ``config`` (the command line builds
    it first, to report a bad knob or a busy port as a one-line error).
    With ``watch_stdin`` the server also stops when its standard input closes: the parent
    (:class:`SandboxProcess`) holds the other end, so the child cannot outlive it.
    """
    out = out or sys.stdout
    server = server or make_server(config)
    # This process is ours alone: keep the world out of the cyclic GC's way (a full
    # collection over the caches costs milliseconds, a third of the serving time otherwise).
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 100)

    def stop(*_: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
        signal.signal(signal.SIGTERM, stop)
        # Ctrl-C stops it even when started with SIGINT ignored (a background job of a shell).
        signal.signal(signal.SIGINT, stop)
    if watch_stdin:

        def watch() -> None:
            with contextlib.suppress(OSError, ValueError):
                while sys.stdin.buffer.read(4096):
                    pass
            server.shutdown()

        threading.Thread(target=watch, name="sandbox-stdin", daemon=True).start()
    faults = ",".join(f"{k}={v:g}" for k, v in config.faults.items()) or "none"
    print(
        f"Sandbox {config.platform} ({config.accounts} accounts, seed {config.seed}, "
        f"faults {faults}) serving at {server.base_url}",
        file=out,
        flush=True,
    )
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


class SandboxError(RuntimeError):
    pass


_URL_LINE = re.compile(r"serving at (http://\S+)")


class SandboxProcess:
    """Run the sandbox in its own process for the duration of a ``with`` block.

    >>> with SandboxProcess(accounts=500, seed=42, faults={"429": 0.05}) as sandbox:
    ...     urllib.request.urlopen(sandbox.base_url + "/api/v1/timelines/tag/vegan")

    ``knobs`` are the platform's knobs (``SandboxConfig.knobs``), passed to the child as
    ``--knob NAME=VALUE``; a bad one fails :meth:`start` with the child's one-line error.
    :meth:`set_knobs` changes them while it serves (also the server's ``throttle_after`` and
    ``throttle_retry_after``); :meth:`traffic` reads the requests per host and second.

    The child is ``python -m crawler.sandbox serve ...``; it stops when the block exits
    (also on an exception), and by itself if this process dies (it watches its stdin).
    """

    def __init__(
        self,
        accounts: int = 500,
        seed: int = 42,
        latency: float = 0.0,
        faults: dict[str, float] | None = None,
        port: int = 0,
        *,
        platform: str = "mastodon",
        slow_delay: float = 2.0,
        rate_limit: int = 300,
        knobs: Mapping[str, object] | None = None,
        host: str = "127.0.0.1",
        startup_timeout: float | None = None,
    ) -> None:
        self.config = SandboxConfig(
            accounts=accounts,
            seed=seed,
            host=host,
            port=port,
            latency=latency,
            faults=dict(faults or {}),
            slow_delay=slow_delay,
            platform=platform,
            rate_limit=rate_limit,
            knobs={name: _knob_text(value) for name, value in (knobs or {}).items()},
        )
        # building the world is ~1.5 s per 50,000 accounts; interpreter start and imports
        self.startup_timeout = startup_timeout or 30.0 + accounts / 5_000
        self.base_url = ""
        self.port = 0
        self._process: subprocess.Popen | None = None
        self._stderr: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def command(self) -> list[str]:
        c = self.config
        cmd = [
            sys.executable, "-m", "crawler.sandbox", "serve",
            "--platform", c.platform,
            "--accounts", str(c.accounts),
            "--seed", str(c.seed),
            "--host", c.host,
            "--port", str(c.port),
            "--latency", repr(c.latency),
            "--slow-delay", repr(c.slow_delay),
            "--rate-limit", str(c.rate_limit),
            "--watch-stdin",
        ]  # fmt: skip
        if c.faults:
            cmd += ["--faults", ",".join(f"{k}={v!r}" for k, v in c.faults.items())]
        for name, value in c.knobs.items():
            cmd += ["--knob", f"{name}={value}"]
        return cmd

    def start(self) -> SandboxProcess:
        if self._process is not None:
            raise SandboxError("sandbox already started")
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])  # so the child imports this tree
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            self.command(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
        )
        atexit.register(self.stop)
        try:
            self._await_url()
            self._await_health()
        except BaseException:
            self.stop()
            raise
        return self

    def _await_url(self) -> None:
        process = self._process
        assert process is not None
        stdout = process.stdout
        assert stdout is not None
        lines: list[bytes] = []
        reader = threading.Thread(target=lambda: lines.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(self.startup_timeout)
        line = lines[0].decode(errors="replace") if lines else ""
        match = _URL_LINE.search(line)
        if not match:
            if lines and not lines[0]:  # end of its output: the child is exiting, let it finish
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=5)
            if process.poll() is not None:
                raise SandboxError(
                    f"sandbox exited with code {process.returncode} before serving: "
                    f"{self._stderr_tail() or line.strip() or 'no output'}"
                )
            raise SandboxError(
                f"sandbox did not report its URL within {self.startup_timeout:g} s"
                + (f": {self._stderr_tail()}" if self._stderr_tail() else "")
            )
        self.base_url = match.group(1)
        self.port = int(self.base_url.rsplit(":", 1)[1])
        # keep draining stdout so that the child can never block on a full pipe
        threading.Thread(target=stdout.read, daemon=True).start()

    def _await_health(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            try:
                self.health()
                return
            except (OSError, ValueError) as exc:
                last_error = exc
                if self._process is not None and self._process.poll() is not None:
                    break
                time.sleep(0.05)
        raise SandboxError(
            f"sandbox at {self.base_url} did not answer /__sandbox__/health within "
            f"{self.startup_timeout:g} s ({last_error}); {self._stderr_tail()}"
        )

    def _stderr_tail(self) -> str:
        if self._stderr is None or self._stderr.closed:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace").strip()[-2000:]

    def _get(self, path: str) -> dict:
        with urllib.request.urlopen(f"{self.base_url}{path}", timeout=5) as answer:  # noqa: S310
            return json.loads(answer.read())

    def health(self) -> dict:
        return self._get(SANDBOX_PREFIX + "health")

    def gate(self, **query: object) -> dict:
        """Set or read the request gate: ``gate(hold_after=N)``, ``gate(open=1)``, ``gate()``."""
        return self._get(SANDBOX_PREFIX + "gate" + (f"?{urlencode(query)}" if query else ""))

    def stats(self) -> dict:
        """Requests served, answers by status, faults injected by kind (see :class:`Stats`)."""
        return self._get(SANDBOX_PREFIX + "stats")

    def traffic(self, reset: bool = False, times: bool = False,
                window: float | None = None) -> dict:
        """Platform requests per host (``/__sandbox__/traffic``, see :class:`Traffic`):
        ``times`` adds each host's kept arrival times, ``window`` (seconds) each host's
        ``max_in_window``; ``reset`` clears the counts after reading them."""
        query: dict[str, object] = {}
        if reset:
            query["reset"] = 1
        if times:
            query["times"] = 1
        if window is not None:
            query["window"] = repr(float(window))
        return self._get(SANDBOX_PREFIX + "traffic" + (f"?{urlencode(query)}" if query else ""))

    def set_knobs(self, **knobs: object) -> dict:
        """Change the platform's knobs while it serves (none: just read them); the app's knob
        state. ValueError with the sandbox's message for a bad knob."""
        query = urlencode({name: _knob_text(value) for name, value in knobs.items()})
        try:
            return self._get(KNOBS_PATH + (f"?{query}" if query else ""))
        except urllib.error.HTTPError as exc:
            with exc:
                message = json.loads(exc.read() or b"{}").get("error") or str(exc)
            raise ValueError(message) from None

    def stop(self) -> None:
        """Stop the child and reap it: closes its stdin, then SIGTERM, then SIGKILL."""
        process, self._process = self._process, None
        atexit.unregister(self.stop)
        if process is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()  # type: ignore[union-attr]
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            with contextlib.suppress(OSError):
                process.stdout.close()  # type: ignore[union-attr]
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> SandboxProcess:
        return self.start() if self._process is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"SandboxProcess({self.config!r}, base_url={self.base_url!r})"


__all__ = [
    "PLATFORMS",
    "SandboxConfig",
    "SandboxError",
    "SandboxProcess",
    "SandboxServer",
    "Stats",
    "Traffic",
    "knobs_response",
    "make_server",
    "max_in_window",
    "serve",
    "split_knobs",
]
