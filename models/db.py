"""Engine and session factory, URL masking, timeouts, and a clear error for an unreachable database.

Timeouts (``make_engine(url, connect_timeout=..., statement_timeout=...)``, from the settings
``MICROSCOUT_DB_CONNECT_TIMEOUT`` and ``MICROSCOUT_DB_STATEMENT_TIMEOUT`` in a crawl):

* PostgreSQL: libpq's ``connect_timeout``; the server's ``statement_timeout``; TCP keepalives and
  ``tcp_user_timeout``, so a peer that stops acknowledging packets is noticed; and a
  :class:`Watchdog`: a statement waiting on a link that drops packets after the last hop that
  acknowledges them (a NAT, a proxy) would otherwise wait for ever, since the server never got it.
* SQLite: how long a statement waits on another writer's lock (``timeout``, ``busy_timeout``).
"""

from __future__ import annotations

import logging
import math
import os
import re
import socket
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

logger = logging.getLogger(__name__)

#: SQLite's lock wait when no statement timeout is given, in seconds.
SQLITE_LOCK_WAIT = 30.0
_QUERY_PASSWORD = re.compile(r"(?i)([?&]password=)[^&]*")


class DatabaseUnavailable(RuntimeError):
    """The warehouse cannot be reached; the message names the URL with its password masked."""


def mask_url(url: str | URL) -> str:
    """The URL as text with its password replaced by ***; safe to log.

    Masked on the text: everything between ``scheme://user:`` and the last ``@`` before the host
    goes, so a password with an unescaped ``@`` (``user:S3cret@PW@host``, which SQLAlchemy reads
    as password ``S3cret`` at host ``PW@host``) is hidden whole; so is a ``password=`` parameter.
    """
    raw = url.render_as_string(hide_password=True) if isinstance(url, URL) else str(url)
    scheme, sep, rest = raw.partition("://")
    if not sep:
        return "<unparseable database URL>"
    head = rest.split("?", 1)[0]
    at = head.rfind("@")
    user, colon, _ = head[:max(at, 0)].partition(":")
    if at != -1 and colon and "/" not in user:
        rest = f"{user}:***{rest[at:]}"
    return f"{scheme}://" + _QUERY_PASSWORD.sub(r"\g<1>***", rest)


def _sqlite_pragmas(lock_wait: float):
    def pragmas(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(lock_wait * 1000)}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return pragmas


def _postgres_timeouts(connect_args: dict, connect_timeout: float | None,
                       statement_timeout: float | None) -> None:
    """libpq options: connect and statement timeouts, keepalives, tcp_user_timeout."""
    if connect_timeout:
        seconds = max(1, math.ceil(connect_timeout))
        connect_args.setdefault("connect_timeout", seconds)
        connect_args.setdefault("keepalives", 1)
        connect_args.setdefault("keepalives_idle", seconds)
        connect_args.setdefault("keepalives_interval", max(1, seconds // 3))
        connect_args.setdefault("keepalives_count", 3)
        # unacknowledged data (or keepalive probes) for this long closes the connection
        connect_args.setdefault("tcp_user_timeout", 2 * seconds * 1000)
    if statement_timeout:
        milliseconds = max(1, round(statement_timeout * 1000))
        options = connect_args.get("options", "")
        connect_args["options"] = f"{options} -c statement_timeout={milliseconds}".strip()


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite database URL; None for an in-memory one. ValueError when not SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        raise ValueError(f"not a SQLite URL: {parsed.get_backend_name()}")
    name = parsed.database or ""
    if name.startswith("file:"):  # sqlite:///file:path?uri=true
        name = name[len("file:"):]
    if name in ("", ":memory:") or parsed.query.get("mode") == "memory":
        return None
    return Path(name).expanduser()


def make_engine(url: str | URL, *, connect_timeout: float | None = None,
                statement_timeout: float | None = None, **kwargs) -> Engine:
    """An engine for the warehouse; SQLite files get their folder, WAL and foreign keys.

    ``connect_timeout`` / ``statement_timeout`` (seconds, None or 0 = none) bound how long a
    connection attempt and one statement may take (see the module docstring); with both set on
    PostgreSQL, :func:`guard` arms the engine's :class:`Watchdog`.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise DatabaseUnavailable(f"invalid database URL {mask_url(url)!s}: {exc}") from None
    lock_wait = statement_timeout or SQLITE_LOCK_WAIT
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            folder = Path(database).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseUnavailable(
                    f"cannot use {mask_url(parsed)}: {exc.strerror or exc}: {folder}") from None
        kwargs.setdefault("connect_args", {}).setdefault("timeout", lock_wait)
    else:
        kwargs.setdefault("pool_pre_ping", True)
        if backend == "postgresql" and parsed.get_driver_name() in ("psycopg", "psycopg2"):
            _postgres_timeouts(kwargs.setdefault("connect_args", {}), connect_timeout,
                               statement_timeout)
        if backend == "postgresql" and parsed.get_driver_name() == "psycopg":
            # No server-side prepared statements: psycopg prepares a query after 5 runs, and
            # PostgreSQL then may switch to a generic plan costed on the empty tables a load
            # starts with: the id look-ups (platform = $1 AND post_id IN (...)) became
            # sequential scans, 3 s each at 180,000 posts, instead of index scans.
            kwargs.setdefault("connect_args", {}).setdefault("prepare_threshold", None)
    try:
        engine = create_engine(parsed, **kwargs)
    except (NoSuchModuleError, ArgumentError, ImportError) as exc:
        raise DatabaseUnavailable(f"cannot use database {mask_url(parsed)}: {exc}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas(lock_wait))
    elif engine.dialect.name == "postgresql" and connect_timeout and statement_timeout:
        # libpq waits at least 2 s to connect: a reconnect inside the limit is not a hang
        Watchdog(max(2, math.ceil(connect_timeout)) + statement_timeout).watch(engine)
    return engine


class Watchdog:
    """Cuts an engine's connections when, while armed, nothing has happened for ``limit`` seconds.

    Armed by :func:`guard` around a unit of work; every statement that finishes and every new
    connection pushes the deadline back. When it passes, the sockets of the engine's connections
    are shut down: the waiting call fails at once with a connection error (retried, then spooled,
    by the warehouse pipeline) and the pool reconnects, within ``connect_timeout``. Idle pooled
    connections are cut too; they reconnect on their next use.
    """

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.cuts = 0
        self._sockets: dict[int, socket.socket] = {}  # id(DBAPI connection) -> a dup of its socket
        self._cond = threading.Condition()
        self._deadline: float | None = None
        self._thread: threading.Thread | None = None

    def watch(self, engine: Engine) -> None:
        _WATCHDOGS[engine] = self
        event.listen(engine, "connect", self._connected)
        event.listen(engine, "close", self._closed)
        event.listen(engine, "close_detached", self._closed)
        event.listen(engine, "after_cursor_execute", self._progress)

    # --- arming (the guarded thread) ----------------------------------------------------------

    def arm(self) -> None:
        with self._cond:
            self._deadline = time.monotonic() + self.limit
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="microscout-db-watchdog",
                                                daemon=True)
                self._thread.start()

    def disarm(self) -> None:
        with self._cond:
            self._deadline = None
            self._cond.notify()

    def _progress(self, *_args: Any) -> None:
        with self._cond:
            if self._deadline is not None:
                self._deadline = time.monotonic() + self.limit

    # --- the connections' sockets ----------------------------------------------------------------

    def _connected(self, dbapi_connection: Any, _record: Any) -> None:
        key = id(dbapi_connection)
        try:
            sock = socket.socket(fileno=os.dup(dbapi_connection.fileno()))
        except (AttributeError, OSError):  # a driver without a socket to cut
            return
        with self._cond:
            self._sockets[key] = sock
        weakref.finalize(dbapi_connection, self._forget, key)
        self._progress()

    def _closed(self, dbapi_connection: Any, *_args: Any) -> None:
        self._forget(id(dbapi_connection))

    def _forget(self, key: int) -> None:
        with self._cond:
            sock = self._sockets.pop(key, None)
        if sock is not None:
            sock.close()

    # --- the watching thread ---------------------------------------------------------------------

    def _run(self) -> None:
        with self._cond:
            while self._deadline is not None:
                left = self._deadline - time.monotonic()
                if left > 0:
                    self._cond.wait(left)
                    continue
                logger.warning("The database did not answer for %.0f s: dropping its connections",
                               self.limit)
                self.cuts += 1
                for sock in self._sockets.values():
                    with suppress(OSError):  # already closed by the peer
                        sock.shutdown(socket.SHUT_RDWR)
                self._deadline = time.monotonic() + self.limit  # still armed: a reconnect may hang
            self._thread = None


_WATCHDOGS: weakref.WeakKeyDictionary[Engine, Watchdog] = weakref.WeakKeyDictionary()


@contextmanager
def guard(engine: Engine | None) -> Iterator[None]:
    """Arm the engine's watchdog (if it has one) around a unit of database work."""
    watchdog = _WATCHDOGS.get(engine) if engine is not None else None
    if watchdog is None:
        yield
        return
    watchdog.arm()
    try:
        yield
    finally:
        watchdog.disarm()


@contextmanager
def connected(url: str | URL, **kwargs: Any) -> Iterator[Engine]:
    """An engine that answered ``SELECT 1`` (:func:`check_connection`), disposed afterwards."""
    engine = make_engine(url, **kwargs)
    try:
        check_connection(engine)
        yield engine
    finally:
        engine.dispose()


def check_connection(engine: Engine) -> None:
    """Raise DatabaseUnavailable with a one-line reason when the database does not answer."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except DBAPIError as exc:
        reason = (
            str(exc.orig or exc).strip().splitlines()[0]
            if str(exc.orig or exc).strip()
            else type(exc).__name__
        )
        raise DatabaseUnavailable(f"cannot connect to {mask_url(engine.url)}: {reason}") from None


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
