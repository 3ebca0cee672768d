"""Serve Scrapy downloads from a vcrpy cassette.

vcrpy patches ``http.client``, ``requests``, ``aiohttp``, ``httpx`` and friends, but not
Twisted, so a Scrapy crawl runs straight past ``vcr.use_cassette``. This module plugs the
cassette in at the one place every Scrapy download goes through: the download handler.

It uses vcrpy's own machinery, so cassettes recorded by any vcrpy user (e.g. Mastodon.py's
test suite, recorded with ``requests``) replay unchanged, and cassettes recorded here can be
replayed by vcrpy:

* :class:`vcr.cassette.Cassette` loads and saves the file (YAML, or JSON for ``*.json``);
* vcrpy's matchers decide whether a request was recorded (``MICROSCOUT_CASSETTE_MATCH_ON``);
* vcrpy's record modes decide what happens to a request that was not
  (``MICROSCOUT_CASSETTE_RECORD_MODE``):

  ``none``
      replay only; a miss fails at once with :class:`CassetteMiss`.
  ``once``
      record everything if the file does not exist yet, otherwise behave like ``none``.
  ``new_episodes``
      replay what is recorded, fetch and record the rest.
  ``all``
      fetch and re-record everything.

A miss never touches the network: the real HTTP handler is only created when the record
mode lets the cassette record. Scrapy reports a miss like any download error (the
request's errback, ``downloader/exception_type_count/crawler.cassette.CassetteMiss``,
``microscout/cassette/missed``). A missing ``/robots.txt`` raises
:class:`CassetteRobotsTxtMiss`, which is also an :class:`~scrapy.exceptions.IgnoreRequest`,
so Scrapy's ``RobotsTxtMiddleware`` quietly treats the site as having no robots.txt
(allow all) instead of logging an error for every host.

Recorded bodies are kept as they came off the wire, as vcrpy does: a gzip body keeps its
``Content-Encoding`` header and Scrapy's ``HttpCompressionMiddleware`` decodes it on
replay, exactly as on a live crawl.

Enable it with :func:`cassette_settings`, or by setting ``DOWNLOAD_HANDLERS`` for ``http``
and ``https`` to :data:`HANDLER_PATH` and ``MICROSCOUT_CASSETTE`` to a path. With
``MICROSCOUT_CASSETTE`` empty the handler passes every request to Scrapy's own HTTP
handler, so it can stay registered permanently.

Settings:

``MICROSCOUT_CASSETTE``
    Cassette path; empty = live network.
``MICROSCOUT_CASSETTE_RECORD_MODE``
    ``none`` (default), ``once``, ``new_episodes`` or ``all``.
``MICROSCOUT_CASSETTE_MATCH_ON``
    vcrpy matcher names (list, or comma-separated string); default
    ``method, scheme, host, port, path, query``.
``MICROSCOUT_CASSETTE_ALLOW_REPEATS``
    Replay an interaction more than once (default ``True``: retries, robots.txt, the same
    page from two spiders). With ``False`` each recorded interaction is served once.
``MICROSCOUT_CASSETTE_FILTER_HEADERS``
    Request headers never written to a cassette (default ``Authorization``, ``Cookie``,
    ``Proxy-Authorization``), like vcrpy's ``filter_headers``.
``MICROSCOUT_CASSETTE_HTTP_HANDLER``
    Handler class that fetches what the cassette records; default: Scrapy's own handler
    for the scheme (``DOWNLOAD_HANDLERS_BASE``).
"""

from __future__ import annotations

import json
import logging
import weakref
from functools import partial
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from scrapy import signals
from scrapy.core.downloader.handlers.base import BaseDownloadHandler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Headers
from scrapy.responsetypes import responsetypes
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler, load_object
from vcr.cassette import Cassette
from vcr.config import VCR
from vcr.errors import CannotOverwriteExistingCassetteException
from vcr.filters import remove_headers
from vcr.record_mode import RecordMode
from vcr.request import Request as VcrRequest
from vcr.serializers import jsonserializer, yamlserializer

if TYPE_CHECKING:
    from os import PathLike

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

HANDLER_PATH = "crawler.cassette.CassetteDownloadHandler"
#: The record modes this handler supports (vcrpy's, minus its undocumented ``any``).
RECORD_MODES = ("none", "once", "new_episodes", "all")
#: vcrpy's own default for ``match_on``.
DEFAULT_MATCH_ON = ("method", "scheme", "host", "port", "path", "query")
DEFAULT_FILTER_HEADERS = ("Authorization", "Cookie", "Proxy-Authorization")

_GZIP_MAGIC = b"\x1f\x8b"
#: Response headers that describe the wire format of a body a cassette stores whole.
_HOP_BY_HOP = frozenset({"transfer-encoding"})


class CassetteMiss(CannotOverwriteExistingCassetteException):
    """A request is not in the cassette and the record mode does not allow recording it.

    A vcrpy ``CannotOverwriteExistingCassetteException``, so it carries the same
    ``cassette``, ``failed_request``, ``reason`` (``no_match``, ``already_played``,
    ``nothing_similar``, ``cassette_not_found``) and ``similar_requests``; ``method`` and
    ``url`` name the Scrapy request.
    """

    def __init__(self, *, cassette: Cassette, failed_request: VcrRequest) -> None:
        super().__init__(cassette=cassette, failed_request=failed_request)
        self.method: str = failed_request.method
        self.url: str = failed_request.uri
        self.args = (self._summary(),)

    def _summary(self) -> str:
        mode = _mode_name(self.cassette.record_mode)
        matchers = ", ".join(m.__name__ for m in self.cassette._match_on)
        message = (
            f"{self.method} {self.url} is not in cassette {self.cassette.path} "
            f"({self.reason}; record mode {mode}, match_on {matchers})"
        )
        if self.reason == "no_match" and self.similar_requests:
            closest, _passed, failed = self.similar_requests[0]
            differs = "; ".join(f"{name}: {detail}" for name, detail in failed)
            message += f"; closest recorded request {closest.method} {closest.uri} differs in {differs}"
        elif self.reason == "already_played":
            message += "; it was already played and MICROSCOUT_CASSETTE_ALLOW_REPEATS is off"
        return message + ". Set MICROSCOUT_CASSETTE_RECORD_MODE=new_episodes to record it."


class CassetteRobotsTxtMiss(CassetteMiss, IgnoreRequest):
    """A ``/robots.txt`` the cassette does not hold.

    Being an ``IgnoreRequest``, Scrapy's ``RobotsTxtMiddleware`` treats it as "no robots.txt"
    (allow all) without logging an error, so replaying a cassette recorded by a client that
    never asked for robots.txt works with ``ROBOTSTXT_OBEY`` on.
    """


def cassette_settings(
    path: str | PathLike[str],
    record_mode: str = "none",
    *,
    match_on: tuple[str, ...] | list[str] | None = None,
    allow_repeats: bool | None = None,
) -> dict[str, Any]:
    """Settings that make a crawl use the cassette at *path*.

    Merge the result into the crawl's settings (it replaces ``DOWNLOAD_HANDLERS``; add any
    other handlers the crawl needs to that dict).
    """
    settings: dict[str, Any] = {
        "DOWNLOAD_HANDLERS": {"http": HANDLER_PATH, "https": HANDLER_PATH},
        "MICROSCOUT_CASSETTE": str(path),
        "MICROSCOUT_CASSETTE_RECORD_MODE": _validate_mode(record_mode).value,
    }
    if match_on is not None:
        _matchers(match_on)  # fail here, not in the crawl
        settings["MICROSCOUT_CASSETTE_MATCH_ON"] = list(match_on)
    if allow_repeats is not None:
        settings["MICROSCOUT_CASSETTE_ALLOW_REPEATS"] = allow_repeats
    return settings


class CassetteDownloadHandler(BaseDownloadHandler):
    """Download handler for ``http`` and ``https`` that replays (and records) a cassette."""

    #: Load the cassette when the crawl starts, so a bad path or setting shows up at once.
    lazy = False

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        # Scrapy builds one handler per scheme; http and https share one cassette.
        self._session = _session_for(crawler) if crawler.settings.get("MICROSCOUT_CASSETTE") else None
        self._real_handlers: dict[str, Any] = {}

    async def download_request(self, request: Request) -> Response:
        session = self._session
        if session is None:
            return await self._real_handler(request).download_request(request)
        cassette = session.cassette
        stats = self.crawler.stats
        vcr_request = _to_vcr_request(request)
        if cassette.can_play_response_for(vcr_request):
            recorded = cassette.play_response(vcr_request)
            if stats:
                stats.inc_value("microscout/cassette/played")
            logger.debug("Replayed %s from cassette %s", request, cassette.path)
            return _to_scrapy_response(request, recorded)
        if cassette.write_protected:
            if stats:
                stats.inc_value("microscout/cassette/missed")
            miss = CassetteRobotsTxtMiss if _is_robots_txt(request) else CassetteMiss
            raise miss(cassette=cassette, failed_request=vcr_request)
        response = await self._real_handler(request).download_request(request)
        if "download_stopped" in response.flags:
            # A headers_received/bytes_received handler cut the body short: not worth keeping.
            return response
        cassette.append(vcr_request, _to_vcr_response(response))
        if stats:
            stats.inc_value("microscout/cassette/recorded")
        logger.debug("Recorded %s into cassette %s", response, cassette.path)
        return response

    async def close(self) -> None:
        if self._session is not None:
            self._session.save()
        for handler in self._real_handlers.values():
            await handler.close()

    def _real_handler(self, request: Request) -> Any:
        scheme = urlparse_cached(request).scheme
        if scheme not in self._real_handlers:
            settings = self.crawler.settings
            path = settings.get("MICROSCOUT_CASSETTE_HTTP_HANDLER") or settings.getdict(
                "DOWNLOAD_HANDLERS_BASE"
            ).get(scheme)
            handler_cls = load_object(path) if path else None
            if handler_cls is None or issubclass(handler_cls, CassetteDownloadHandler):
                raise ValueError(
                    f"No download handler to fetch {scheme}:// requests with: "
                    "set MICROSCOUT_CASSETTE_HTTP_HANDLER"
                )
            self._real_handlers[scheme] = build_from_crawler(handler_cls, self.crawler)
        return self._real_handlers[scheme]


class _CassetteSession:
    """The cassette of one crawl, shared by the handler instances of that crawl."""

    def __init__(self, crawler: Crawler):
        _quiet_vcr_logging()
        self.cassette = _load_cassette(crawler.settings)
        self._stats = crawler.stats
        crawler.signals.connect(self.save, signal=signals.spider_closed)
        if self.cassette.write_protected and not self.cassette.rewound:
            logger.warning(
                "Cassette %s does not exist and record mode none records nothing: every request will fail",
                self.cassette.path,
            )
        logger.info(
            "Serving http(s) from cassette %s: %d interaction(s), record mode %s",
            self.cassette.path,
            len(self.cassette),
            _mode_name(self.cassette.record_mode),
        )

    def save(self) -> None:
        """Write the cassette if it changed (vcrpy's own save: per-record-mode rules)."""
        if not self.cassette.dirty:
            return
        self.cassette._save()
        new = len(self.cassette) - self.cassette._loaded_count
        if self._stats:
            self._stats.set_value("microscout/cassette/saved", len(self.cassette))
        logger.info(
            "Saved cassette %s (%d interaction(s), %d new)", self.cassette.path, len(self.cassette), new
        )


_sessions: weakref.WeakKeyDictionary[Crawler, _CassetteSession] = weakref.WeakKeyDictionary()


def _session_for(crawler: Crawler) -> _CassetteSession:
    if crawler not in _sessions:
        _sessions[crawler] = _CassetteSession(crawler)
    return _sessions[crawler]


def _load_cassette(settings: BaseSettings) -> Cassette:
    path = str(settings.get("MICROSCOUT_CASSETTE"))
    match_on = settings.getlist("MICROSCOUT_CASSETTE_MATCH_ON") or list(DEFAULT_MATCH_ON)
    filter_headers = settings.getlist("MICROSCOUT_CASSETTE_FILTER_HEADERS", list(DEFAULT_FILTER_HEADERS))
    return Cassette.load(
        path=path,
        record_mode=_validate_mode(settings.get("MICROSCOUT_CASSETTE_RECORD_MODE") or "none"),
        match_on=_matchers(match_on),
        allow_playback_repeats=settings.getbool("MICROSCOUT_CASSETTE_ALLOW_REPEATS", True),
        before_record_request=partial(_scrub, headers=filter_headers),
        before_record_response=_scrub_answer,
        serializer=jsonserializer if path.endswith(".json") else yamlserializer,
    )


SECRET_BODY_KEYS = ("password", "secret", "token", "identifier", "client_key")
#: Keys of a JSON answer whose values are credentials (a token endpoint's, a login's).
SECRET_ANSWER_KEYS = ("access_token", "refresh_token", "accessJwt", "refreshJwt")
FILTERED = "<filtered>"


def _is_secret(key: str) -> bool:
    return any(word in key.lower() for word in SECRET_BODY_KEYS)


def _scrub(request, headers: list[str]):
    """What a recorded request keeps: no credential headers, and in a JSON body (a login such as
    Bluesky's createSession) or a form body (an OAuth token call: client_key, client_secret)
    every password/secret/token/identifier/client_key value replaced. vcrpy applies it to the
    requests it matches too, so a scrubbed recording still matches on ``body``."""
    if headers:
        request = remove_headers(request, headers)
    body = request.body
    raw = body if isinstance(body, bytes) else (body or "").encode()
    if not raw or not any(key.encode() in raw for key in SECRET_BODY_KEYS):
        return request
    try:
        data = json.loads(raw)
    except (ValueError, TypeError):
        data = None
    if isinstance(data, dict):
        secret = [key for key in data if _is_secret(key)]
        if secret:
            request.body = json.dumps({**data, **dict.fromkeys(secret, FILTERED)}).encode()
        return request
    if data is not None:
        return request
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        return request
    if any(_is_secret(key) for key, _ in pairs):
        request.body = urlencode([(key, FILTERED if _is_secret(key) else value)
                                  for key, value in pairs]).encode()
    return request


def _scrub_answer(response: dict[str, Any]) -> dict[str, Any]:
    """A recorded answer without the tokens a JSON body hands out (a plain, not compressed,
    body; the Content-Length of the original goes with it)."""
    body = (response.get("body") or {}).get("string")
    raw = body if isinstance(body, bytes) else (body or "").encode()
    if not raw or not any(key.encode() in raw for key in SECRET_ANSWER_KEYS):
        return response
    try:
        data = json.loads(raw)
    except (ValueError, TypeError):
        return response
    secret = [key for key in SECRET_ANSWER_KEYS if isinstance(data, dict) and key in data]
    if secret:
        response["body"]["string"] = json.dumps({**data, **dict.fromkeys(secret, FILTERED)}).encode()
        response["headers"] = {name: value for name, value in (response.get("headers") or {}).items()
                               if name.lower() != "content-length"}
    return response


def _quiet_vcr_logging() -> None:
    """vcrpy logs every appended interaction, body included, at INFO: keep that out of crawl logs.

    Only when nobody configured the ``vcr`` logger (``LOG_LEVEL=DEBUG`` still shows our own
    per-request lines).
    """
    vcr_logger = logging.getLogger("vcr")
    if vcr_logger.level == logging.NOTSET:
        vcr_logger.setLevel(logging.WARNING)


def _validate_mode(mode: str | RecordMode) -> RecordMode:
    value = _mode_name(mode).strip().lower()
    if value not in RECORD_MODES:
        raise ValueError(
            f"MICROSCOUT_CASSETTE_RECORD_MODE={mode!r}: expected one of {', '.join(RECORD_MODES)}"
        )
    return RecordMode(value)


def _mode_name(mode: str | RecordMode) -> str:
    return mode.value if isinstance(mode, RecordMode) else str(mode)


def _matchers(names: tuple[str, ...] | list[str]) -> list[Any]:
    registry = VCR().matchers
    unknown = [name for name in names if name not in registry]
    if unknown:
        raise ValueError(
            f"MICROSCOUT_CASSETTE_MATCH_ON: unknown matcher(s) {', '.join(unknown)}; "
            f"vcrpy has {', '.join(sorted(registry))}"
        )
    return [registry[name] for name in names]


def _is_robots_txt(request: Request) -> bool:
    return urlparse_cached(request).path == "/robots.txt"


def _to_vcr_request(request: Request) -> VcrRequest:
    headers = {
        _text(name): ", ".join(_text(value) for value in values) for name, values in request.headers.items()
    }
    return VcrRequest(method=request.method, uri=request.url, body=request.body or None, headers=headers)


def _to_vcr_response(response: Response) -> dict[str, Any]:
    """The dict vcrpy stores for a response (as its http.client stub builds it)."""
    try:
        message = HTTPStatus(response.status).phrase
    except ValueError:
        message = ""
    return {
        "status": {"code": response.status, "message": message},
        "headers": {
            _text(name): [_text(value) for value in values] for name, values in response.headers.items()
        },
        "body": {"string": response.body},
    }


def _to_scrapy_response(request: Request, recorded: dict[str, Any]) -> Response:
    headers = Headers()
    for name, values in (recorded.get("headers") or {}).items():
        if name.lower() in _HOP_BY_HOP:
            continue  # the cassette holds the whole, de-chunked body
        for value in [values] if isinstance(values, str) else values:
            headers.appendlist(name, _wire_bytes(value))
    body = (recorded.get("body") or {}).get("string") or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    _drop_stale_gzip_header(headers, body, request)
    url = request.url
    respcls = responsetypes.from_args(headers=headers, url=url, body=body)
    return respcls(
        url=url,
        status=int(recorded["status"]["code"]),
        headers=headers,
        body=body,
        flags=["cassette"],
    )


def _drop_stale_gzip_header(headers: Headers, body: bytes, request: Request) -> None:
    """Drop ``Content-Encoding: gzip`` from a body some recorder already decoded.

    vcrpy's http.client stub (requests, urllib3) stores the compressed bytes, but recorders
    that read the decoded body (aiohttp, httpx) keep the header next to plain text, which
    would make ``HttpCompressionMiddleware`` fail on it.
    """
    encodings = [
        part.strip().lower()
        for value in headers.getlist("Content-Encoding")
        for part in value.split(b",")
        if part.strip()
    ]
    if encodings and set(encodings) <= {b"gzip", b"x-gzip"} and not body.startswith(_GZIP_MAGIC):
        logger.debug("%s: cassette body is not gzip data; ignoring Content-Encoding", request)
        del headers["Content-Encoding"]


def _text(value: bytes | str) -> str:
    """Header bytes as the str vcrpy stores (http.client decodes headers as latin-1)."""
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _wire_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    value = str(value)
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


__all__ = [
    "DEFAULT_MATCH_ON",
    "HANDLER_PATH",
    "RECORD_MODES",
    "CassetteDownloadHandler",
    "CassetteMiss",
    "CassetteRobotsTxtMiss",
    "cassette_settings",
]
