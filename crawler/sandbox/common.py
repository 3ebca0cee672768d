"""What every sandbox platform module shares: the request and response types and helpers.

A platform module (``mastodon.py``, ``bluesky.py``, ``instagram.py``, ``tiktok.py``,
``youtube.py``) exposes an app class with the interface of :class:`PlatformApp`; the HTTP
server knows nothing about any platform's formats.

Knobs: every app is built by ``App.from_config(world, config)`` from the one config object
(:class:`~crawler.sandbox.server.SandboxConfig`, seen here as :class:`AppConfig`): its
``knobs`` (knob name -> text value, ``--knob NAME=VALUE`` on the command line) and, where the
platform has one, its ``rate_limit``. ``App.KNOBS`` names the platform's knobs (with a line of
help each); ``configure`` validates and applies them (a bad name or value is a one-line
``ValueError`` and changes nothing), at start and at run time through the server's
``/__platform__/knobs`` (:data:`KNOBS_PATH`); ``knob_state`` is what that endpoint answers.

The server itself has knobs every platform shares (:data:`SERVER_KNOBS`, set the same ways and
never handed to the app): ``throttle_after=N`` answers the platform's own 429 once, after N
more API requests, with ``Retry-After: throttle_retry_after`` seconds (see
:class:`~crawler.sandbox.faults.Throttle`); ``day=N`` serves the follower counts of sandbox day
N (``World.set_day``: natural growth, noise, and bought followers from an account's spike day).
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Protocol
from urllib.parse import quote


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # still percent-encoded
    query: dict[str, str]  # first value of each parameter, decoded
    base_url: str  # "http://127.0.0.1:PORT", the origin every URL in a body points at
    target: str = ""  # path and query exactly as the request line had them
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""  # POST bodies, for apps that set ``accepts_post``

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def host(self) -> str:
        return self.base_url.split("://", 1)[1]


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)


#: The server's endpoint for an app's knobs at run time (GET ``?name=value&...``, or POST a
#: form or a JSON object): applies them, answers :meth:`PlatformApp.knob_state` (400 when bad).
KNOBS_PATH = "/__platform__/knobs"


#: The server's throttle knobs, for every platform (name -> one line of help); see
#: :class:`~crawler.sandbox.faults.Throttle`.
THROTTLE_KNOBS: dict[str, str] = {
    "throttle_after": "after N more API requests answer the next one 429, once; setting it "
                      "again re-arms it (off: disarmed, the default)",
    "throttle_retry_after": "the Retry-After seconds of that 429, also its rate-limit reset "
                            "(a whole number, 1)",
}
#: The world's knob, for every platform: which sandbox day's follower counts are served.
WORLD_KNOBS: dict[str, str] = {
    "day": "the sandbox day whose follower counts every format serves (a whole number from 0, "
           "today's, the default, to 36500)",
}
#: Knobs the server handles for every platform (never handed to the app).
SERVER_KNOBS: dict[str, str] = {**THROTTLE_KNOBS, **WORLD_KNOBS}


def parse_day(knobs: Mapping[str, str]) -> int | None:
    """The ``day`` knob among ``knobs`` (None when not named); ValueError when it is not a
    whole number from 0 to 36,500."""
    if "day" not in knobs:
        return None
    text = knobs["day"].strip()
    if not (text.isascii() and text.isdigit()) or int(text) > 36_500:
        raise ValueError(f"knob day must be a whole number from 0 to 36500, not {text!r}")
    return int(text)


class AppConfig(Protocol):
    """What ``App.from_config`` reads of :class:`~crawler.sandbox.server.SandboxConfig`."""

    @property
    def knobs(self) -> Mapping[str, str]: ...

    @property
    def rate_limit(self) -> int: ...


class PlatformApp(Protocol):
    """The interface the server drives. ``name`` is the ``--platform`` value.

    Each app class also has ``KNOBS`` (knob name -> one line of help) and the classmethod
    ``from_config(world, config: AppConfig)`` the server builds it with.
    """

    name: str

    def handle(self, request: Request) -> Response:
        """Answer one request (never raises for bad input: answers 4xx like the platform)."""

    def faultable(self, path: str) -> bool:
        """Whether injected faults may hit this path (the API, not robots.txt or images)."""

    def fault_response(self, kind: str, request: Request) -> Response:
        """The platform's own answer for an injected "429", "500" or "503"."""

    def configure(self, knobs: Mapping[str, str]) -> None:
        """Apply knobs (name -> text value); the ones not named keep their values. Raises
        ValueError with a one-line message, and changes nothing, for a bad name or value."""

    def knob_state(self) -> dict:
        """The knobs in force and what they did so far, as JSON (``{"knobs": {...}, ...}``)."""


def unknown_knob(platform: str, name: str, known: Iterable[str]) -> ValueError:
    """The error for a knob the platform does not have."""
    names = ", ".join(known)
    # (the hint names the throttle knobs; ``day`` is every platform's too, see WORLD_KNOBS)
    return ValueError(f"unknown knob {name!r} for the {platform} sandbox: "
                      + (f"use {names}" if names else "it has no knobs")
                      + f" (every platform has {', '.join(THROTTLE_KNOBS)})")


def parse_rate(name: str, value: str) -> float:
    """A knob's rate: a number from 0 to 1 (ValueError otherwise)."""
    try:
        rate = float(value)
    except ValueError:
        raise ValueError(f"bad rate {value.strip()!r} for knob {name!r}") from None
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate for knob {name!r} must be between 0 and 1, not {rate:g}")
    return rate


def parse_knob_args(items: Iterable[str] | None) -> dict[str, str]:
    """``["login_wall=0.1", "og_only=0.2"]`` (``--knob`` values) -> ``{"login_wall": "0.1", ...}``;
    a later value of the same knob wins."""
    knobs: dict[str, str] = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"bad --knob {item!r}: use NAME=VALUE")
        knobs[name.strip()] = value.strip()
    return knobs


def dump_json(value: object) -> bytes:
    """Compact UTF-8 JSON, as Rails and most APIs send it (non-ASCII not escaped)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def iso_ms(moment: datetime) -> str:
    """``2026-08-01T13:55:55.867Z``: the timestamp format of Mastodon's JSON."""
    m = moment.astimezone(timezone.utc)
    return (
        f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
        f".{m.microsecond // 1000:03d}Z"
    )


def escape_html(text: str) -> str:
    """Escape as Rails' ``html_escape`` does (``'`` becomes ``&#39;``)."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


@lru_cache(maxsize=4_096)
def quote_segment(text: str) -> str:
    """Percent-encode one path segment (non-ASCII hashtags in URLs)."""
    return quote(text, safe="")


def _png_1x1() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1x1, 8-bit RGB
    pixels = zlib.compress(b"\x00\xd0\xd0\xd0")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(
        b"IEND", b""
    )


#: A valid 1x1 grey PNG, served for every avatar, header and media file.
PNG_1X1 = _png_1x1()
