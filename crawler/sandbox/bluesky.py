"""The sandbox world served as Bluesky's App View (XRPC over HTTP, ``app.bsky.*`` lexicons).

Shapes copy the real captures in ``../shared/realworld/bluesky`` (key sets and key order of
ProfileViewDetailed, ProfileViewBasic, PostView, FeedViewPost, the post record with facets),
plus the two fields the App View has added since those 2023 captures and the crawler reads:
``quoteCount`` on a PostView and ``langs`` on a post record.

Identity (:class:`Names`): each world account gets a DID ``did:plc:<24 base32 chars>`` derived
from (seed, account index) and a handle ``<username>.bsky.social`` (``_`` becomes ``-``; one
account in ten has a custom-domain handle ``<username>.example.com``, as has every twin with
a website, ``World.twin_link``). Handle *epochs* model renames: with epoch N > 0 about one
account in five is renamed to ``<username>-vN.bsky.social`` and keeps its DID, as a Bluesky
handle change does; the old handle no longer resolves.
Posts are ``at://<did>/app.bsky.feed.post/<tid>`` with the TID made of the post's time.

Routes (``GET``/``HEAD`` unless marked ``POST``):

* ``/xrpc/app.bsky.actor.getProfile?actor=`` (handle or DID; 400 ``InvalidRequest`` "Profile
  not found") and ``getProfiles?actors=..`` (1 to 25, 400 beyond; unknown actors left out).
* ``/xrpc/app.bsky.feed.getAuthorFeed?actor=&limit=&cursor=&filter=``: the account's posts
  and its reposts of other accounts' posts (``reason`` ``#reasonRepost``), newest first,
  cursor ``<ms>::<cid>``. Filters ``posts_with_replies`` (default), ``posts_no_replies``,
  ``posts_and_author_threads`` (all alike: the sandbox has no replies), ``posts_with_media``
  (own posts with media only).
* ``/xrpc/app.bsky.feed.searchPosts?q=&tag=&sort=latest|top&limit=&cursor=``: every term of
  ``q`` (``#`` optional) and every ``tag`` must be a hashtag of the post (the sandbox matches
  hashtags only, not free text); cursor is a decimal offset; ``hitsTotal`` counts the matches.
* ``/xrpc/app.bsky.feed.getFeed?feed=at://<feeds did>/app.bsky.feed.generator/<niche>``: one
  custom feed per niche of the world (posts carrying any of its hashtags, newest first);
  ``getSuggestedFeeds`` lists them; 400 ``UnknownFeed`` for any other feed.
* ``/xrpc/com.atproto.identity.resolveHandle?handle=``.
* ``POST /xrpc/com.atproto.server.createSession`` (JSON ``identifier``, any; ``password``
  :data:`APP_PASSWORD`) and ``POST refreshSession`` (the ``refreshJwt`` as Bearer: a new
  pair); ``getSession``. Tokens are HMAC-signed JWT look-alikes, deterministic unless
  ``token_ttl`` is set; a request carrying an ``Authorization`` header with any other token is
  answered 401 ``InvalidToken``, and with an expired one 400 ``ExpiredToken`` ("Token has
  expired"), as a PDS does.
* ``/robots.txt``; ``/img/...`` and ``/video/...`` (a 1x1 PNG).

Every XRPC answer carries ``ratelimit-limit`` / ``-remaining`` / ``-reset`` (epoch seconds) /
``-policy`` (advisory, as the Mastodon sandbox's counters are). Errors are XRPC bodies
``{"error": ..., "message": ...}``; an injected 429 is ``RateLimitExceeded`` with the budget
shown spent and the reset one second ahead.

Knobs (``--knob NAME=VALUE``, ``SandboxProcess(knobs=...)``, or at run time
``GET /__platform__/knobs?handle_epoch=2``, which answers
``{"knobs": {"handle_epoch": 2, "search_auth": "off"}}``):

* ``handle_epoch`` (a whole number, default 0): the handle epoch above.
* ``search_auth``: ``off`` by default (also ``0``/``false``/``no``/empty). ``401`` (or
  ``1``/``true``/``on``/``yes``): searchPosts without a session answers 401
  ``{"error": "AuthMissing"}``, as api.bsky.app does; ``403``: the HTML "Request forbidden by
  administrative rules" page public.api.bsky.app has served anonymous search since 2025.
* ``token_ttl``: ``off`` by default (tokens never expire). A whole number of seconds: access
  tokens carry ``iat`` = now and ``exp`` = now + that (Bluesky's last about 7,200), refresh
  tokens 90 days, and an expired one is refused as above. Shown in the knob state when set.

The rate limit in the headers is the config's ``rate_limit`` (``--rate-limit``).

The server hands the app request headers and (``accepts_post``) POST bodies on ``Request``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, ClassVar
from urllib.parse import parse_qsl, unquote, urlsplit

from crawler.sandbox.common import (
    PNG_1X1,
    AppConfig,
    Request,
    Response,
    dump_json,
    iso_ms,
    unknown_knob,
)
from crawler.sandbox.vocab import NICHE_NAMES, NICHES
from crawler.sandbox.world import EPOCH, Post, World, snowflake_index

#: The one app password createSession accepts (any identifier).
APP_PASSWORD = "sandbox-app-password"  # noqa: S105 - a published test credential
#: searchPosts auth modes: None (open), "401" (JSON AuthMissing), "403" (HTML, as the CDN).
SEARCH_AUTH_MODES = (None, "401", "403")
_SEARCH_AUTH_WORDS = {**dict.fromkeys(("", "0", "false", "off", "no"), None),
                      **dict.fromkeys(("1", "true", "on", "yes", "401"), "401"), "403": "403"}
_OFF_WORDS = frozenset({"", "0", "false", "off", "no", "none"})
ACCESS_LIFE = 7_200  # seconds: an access token's life in the deterministic tokens
REFRESH_LIFE = 7_776_000  # 90 days

MAX_PROFILES = 25
MAX_LIMIT = 100
DEFAULT_FEED_LIMIT = 50
DEFAULT_SEARCH_LIMIT = 25
RATE_WINDOW = 300  # seconds: Bluesky's App View budget is 3,000 requests per 5 minutes

POST_NSID = "app.bsky.feed.post"
REPOST_NSID = "app.bsky.feed.repost"
GENERATOR_NSID = "app.bsky.feed.generator"
REASON_REPOST = "app.bsky.feed.defs#reasonRepost"
FACET_TAG = "app.bsky.richtext.facet#tag"
FACET_MENTION = "app.bsky.richtext.facet#mention"
FACET_LINK = "app.bsky.richtext.facet#link"
#: Handle of the account that publishes the sandbox's custom feeds.
FEEDS_HANDLE = "sandbox-feeds.bsky.social"
AUTHOR_FEED_FILTERS = ("posts_with_replies", "posts_no_replies", "posts_and_author_threads",
                       "posts_with_media")

ROBOTS_TXT = """\
# Hello Friends!
# If you are considering bulk or automated crawling, you may want to look in to
# our protocol (https://atproto.com), including our firehose.
User-agent: *
Allow: /
"""

FORBIDDEN_HTML = (
    b"<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n"
    b"<center><h1>403 Forbidden</h1></center>\r\n"
    b"<center>Request forbidden by administrative rules.</center>\r\n</body>\r\n</html>\r\n"
)

_B32_SORTABLE = "234567abcdefghijklmnopqrstuvwxyz"
_TOKEN = re.compile(r"(https?://\S+)|(?<![\w/#&])#(\w+)|(?<![\w/@])@(\w+)")
_EPOCH_MS = int(EPOCH.timestamp() * 1000)


# --- identifiers ----------------------------------------------------------------------------


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=").lower()


def _mix(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=8).digest(), "big")


def did_of(seed: int, index: int) -> str:
    """The DID of account ``index`` in the world of ``seed``: the same in every handle epoch."""
    digest = hashlib.sha256(f"microscout-sandbox-bluesky:{seed}:{index}".encode()).digest()
    return "did:plc:" + _b32(digest)[:24]


def feeds_did(seed: int) -> str:
    """The DID of the account publishing the sandbox's custom feeds."""
    return did_of(seed, -1)


def cid_of(*parts: object, blob: bool = False) -> str:
    """A CIDv1 look-alike (``bafyrei`` records, ``bafkrei`` blobs) from the parts."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return ("bafkrei" if blob else "bafyrei") + _b32(digest)[:52]


def tid(micros: int, clock_id: int = 0) -> str:
    """An atproto TID: 13 base32-sortable characters of ``micros << 10 | clock_id``."""
    number = (micros << 10) | (clock_id & 0x3FF)
    chars = []
    for _ in range(13):
        chars.append(_B32_SORTABLE[number & 31])
        number >>= 5
    return "".join(reversed(chars))


def _post_ms(pid: int) -> int:
    """Milliseconds since 1970 of a post: its snowflake id shifted right by 16."""
    return pid >> 16


def handle_label(username: str) -> str:
    """A world username as a DNS label: ``Joao_Bakes`` -> ``joao-bakes``."""
    return username.lower().replace("_", "-").strip("-") or "user"


class Names:
    """DIDs and handles of a world's accounts in one handle epoch, and the way back."""

    def __init__(self, world: World, handle_epoch: int = 0) -> None:
        if handle_epoch < 0:
            raise ValueError("handle epoch cannot be negative")
        self.world = world
        self.epoch = handle_epoch
        self.feeds_did = feeds_did(world.seed)
        self._dids = [did_of(world.seed, i) for i in range(world.size)]
        self._handles = [self._handle(i) for i in range(world.size)]
        self._by_did = {did: i for i, did in enumerate(self._dids)}
        self._by_handle = {handle: i for i, handle in enumerate(self._handles)}
        if len(self._by_handle) != world.size:
            raise ValueError("two accounts of this world share a handle")

    def custom_domain(self, index: int) -> bool:
        """One account in ten; and every twin whose website is ``https://<key>.example.com``
        (its handle is then that domain: the key is its username's label)."""
        return (self.world.twin_link(index) == "website"
                or _mix(self.world.seed, "custom-domain", index) % 10 == 0)

    def renamed(self, index: int, epoch: int | None = None) -> bool:
        """Whether the account's handle in ``epoch`` (default: this one) differs from epoch 0's."""
        epoch = self.epoch if epoch is None else epoch
        return epoch > 0 and _mix(self.world.seed, "rename", index, epoch) % 5 == 0

    def handle_in(self, index: int, epoch: int) -> str:
        label = handle_label(self.world.username(index))
        if self.renamed(index, epoch):
            return f"{label}-v{epoch}.bsky.social"
        return f"{label}.example.com" if self.custom_domain(index) else f"{label}.bsky.social"

    def _handle(self, index: int) -> str:
        return self.handle_in(index, self.epoch)

    def did(self, index: int) -> str:
        return self._dids[index]

    def handle(self, index: int) -> str:
        return self._handles[index]

    def index_of(self, actor: str) -> int | None:
        """The account a handle (any case, ``@`` optional) or DID names, in this epoch."""
        text = actor.strip().lstrip("@")
        if text.startswith("did:"):
            return self._by_did.get(text)
        return self._by_handle.get(text.lower())

    def post_rkey(self, pid: int) -> str:
        return tid(_post_ms(pid) * 1000, pid & 0x3FF)  # clock id: the author's low index bits

    def post_uri(self, post: Post | int) -> str:
        pid = post if isinstance(post, int) else post.id_int
        return f"at://{self.did(snowflake_index(pid))}/{POST_NSID}/{self.post_rkey(pid)}"

    def feed_uri(self, name: str) -> str:
        """The at:// URI of the custom feed of niche ``name``."""
        return f"at://{self.feeds_did}/{GENERATOR_NSID}/{name}"


@dataclass(frozen=True, slots=True)
class Repost:
    pid: int  # the reposted post (by another account)
    ms: int  # when it was reposted
    rkey: str


# --- request context (headers, POST bodies) -----------------------------------------------

# --- the app --------------------------------------------------------------------------------


class XrpcError(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


def _invalid(message: str) -> XrpcError:
    return XrpcError(400, "InvalidRequest", message)


class RateLimiter:
    """Bluesky's rate-limit headers: a budget per fixed window, reset as epoch seconds.

    Advisory (never enforced), like the Mastodon sandbox's: a client that honours
    ``ratelimit-remaining: 0`` waits for the reset as it would on the real App View.
    """

    def __init__(self, limit: int = 3000, window: int = RATE_WINDOW, clock=time.time) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._window_start = 0
        self._used = 0

    def take(self) -> tuple[int, int]:
        """Count one request; return (remaining, reset as epoch seconds)."""
        start = int(self._clock() // self.window * self.window)
        with self._lock:
            if start != self._window_start:
                self._window_start, self._used = start, 0
            self._used += 1
            remaining = max(0, self.limit - self._used)
        return remaining, start + self.window


def _query_pairs(request: Request) -> list[tuple[str, str]]:
    """Every query parameter in order, repeated ones included (``Request.query`` keeps one)."""
    return parse_qsl(urlsplit(request.target or request.path).query, keep_blank_values=True)


def _all(request: Request, name: str) -> list[str]:
    return [value for key, value in _query_pairs(request) if key == name]


def _limit(request: Request, default: int) -> int:
    text = request.query.get("limit")
    if text is None or text == "":
        return default
    if not text.isdigit():
        raise _invalid("Error: limit must be an integer")
    limit = int(text)
    if limit < 1:
        raise _invalid("Error: limit can not be less than 1")
    if limit > MAX_LIMIT:
        raise _invalid(f"Error: limit can not be greater than {MAX_LIMIT}")
    return limit


def _time_cursor(request: Request) -> tuple[int, str] | None:
    """A ``<ms>::<cid>`` cursor as (ms, cid); None when absent; 400 when malformed."""
    cursor = request.query.get("cursor")
    if not cursor:
        return None
    ms, sep, cid = cursor.partition("::")
    if not sep or not ms.isdigit():
        raise _invalid("Malformed cursor")
    return int(ms), cid


def _page_after(entries: Sequence[tuple[int, str, Any]], cursor: tuple[int, str] | None,
                limit: int) -> tuple[list[tuple[int, str, Any]], str | None]:
    """Entries (sorted newest first by (ms, cid)) strictly older than ``cursor``; the cursor of
    the page's last entry when more follow."""
    start = 0
    if cursor is not None:
        keys = [(-ms, _inverse(cid)) for ms, cid, _ in entries]
        start = bisect_left(keys, (-cursor[0], _inverse(cursor[1])))
        while start < len(entries) and entries[start][:2] == cursor:
            start += 1
    page = list(entries[start:start + limit])
    more = start + limit < len(entries)
    return page, (f"{page[-1][0]}::{page[-1][1]}" if page and more else None)


def _inverse(text: str) -> tuple[int, ...]:
    """A key that sorts strings in reverse order (for newest-first lists sorted ascending)."""
    return (*(-ord(ch) for ch in text), 1)


class BlueskyApp:
    name = "bluesky"
    accepts_post = True

    #: The knobs (``--knob NAME=VALUE``, ``/__platform__/knobs``) and what each does.
    KNOBS: ClassVar[dict[str, str]] = {
        "handle_epoch": "renames about one account in five per epoch (a whole number, 0)",
        "search_auth": "searchPosts without a session: off, 401 (AuthMissing) or 403 (CDN page)",
        "token_ttl": "seconds an access token lasts, then 400 ExpiredToken (off: never expires)",
    }

    def __init__(self, world: World, *, rate_limit: int = 3000, handle_epoch: int = 0,
                 search_auth: str | None = None, token_ttl: int | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        if search_auth not in SEARCH_AUTH_MODES:
            raise ValueError(f"search_auth must be one of {SEARCH_AUTH_MODES}, got {search_auth!r}")
        if token_ttl is not None and token_ttl < 1:
            raise ValueError(f"token_ttl must be at least 1 second, got {token_ttl}")
        self.world = world
        self.names = Names(world, handle_epoch)
        self.search_auth = search_auth
        self.token_ttl = token_ttl
        self.clock = clock
        self.rate = RateLimiter(rate_limit)
        self._secret = hashlib.sha256(f"sandbox-bluesky-jwt:{world.seed}".encode()).digest()
        self._post_view = lru_cache(maxsize=16_384)(self._render_post)
        self._author_feed = lru_cache(maxsize=4_096)(self._author_entries)
        self._search_cache: dict[tuple[tuple[str, ...], str], list[int]] = {}
        self._feed_cache: dict[str, list[tuple[int, str, Any]]] = {}
        self._cache_lock = threading.Lock()
        self._routes = {
            "app.bsky.actor.getProfile": self.get_profile,
            "app.bsky.actor.getProfiles": self.get_profiles,
            "app.bsky.feed.getAuthorFeed": self.get_author_feed,
            "app.bsky.feed.searchPosts": self.search_posts,
            "app.bsky.feed.getFeed": self.get_feed,
            "app.bsky.feed.getSuggestedFeeds": self.get_suggested_feeds,
            "com.atproto.identity.resolveHandle": self.resolve_handle,
            "com.atproto.server.getSession": self.get_session,
        }
        self._procedures = {
            "com.atproto.server.createSession": self.create_session,
            "com.atproto.server.refreshSession": self.refresh_session,
        }

    @classmethod
    def from_config(cls, world: World, config: AppConfig) -> BlueskyApp:
        """The app for the sandbox server: ``config.rate_limit`` and ``config.knobs`` (see the
        module docstring); ValueError with a one-line message for a bad knob."""
        app = cls(world, rate_limit=config.rate_limit)
        app.configure(config.knobs)
        return app

    def configure(self, knobs: Mapping[str, str]) -> None:
        epoch, search_auth, token_ttl = self.names.epoch, self.search_auth, self.token_ttl
        for name, value in knobs.items():
            text = value.strip().lower()
            if name == "handle_epoch":
                if not (text.isascii() and text.isdigit()):
                    raise ValueError(f"knob handle_epoch must be a whole number >= 0, "
                                     f"not {value.strip()!r}")
                epoch = int(text)
            elif name == "search_auth":
                if text not in _SEARCH_AUTH_WORDS:
                    raise ValueError(f"knob search_auth must be off, 401 or 403, "
                                     f"not {value.strip()!r}")
                search_auth = _SEARCH_AUTH_WORDS[text]
            elif name == "token_ttl":
                if text in _OFF_WORDS:
                    token_ttl = None
                elif text.isascii() and text.isdigit() and int(text) >= 1:
                    token_ttl = int(text)
                else:
                    raise ValueError(f"knob token_ttl must be off or whole seconds >= 1, "
                                     f"not {value.strip()!r}")
            else:
                raise unknown_knob("bluesky", name, self.KNOBS)
        if epoch != self.names.epoch:  # post views name handles: render them afresh
            self.names = Names(self.world, epoch)
            self._post_view = lru_cache(maxsize=16_384)(self._render_post)
        self.search_auth = search_auth
        self.token_ttl = token_ttl

    def knob_state(self) -> dict:
        knobs: dict[str, Any] = {"handle_epoch": self.names.epoch,
                                 "search_auth": self.search_auth or "off"}
        if self.token_ttl is not None:
            knobs["token_ttl"] = self.token_ttl
        return {"knobs": knobs}

    # -- the server's interface ----------------------------------------------------------

    def faultable(self, path: str) -> bool:
        return path.startswith("/xrpc/")

    def handle(self, request: Request, *, headers: Mapping[str, str] | None = None,
               body: bytes | None = None) -> Response:
        """Answer one request. ``headers``/``body`` default to the request's own (tests calling
        the app directly may pass them)."""
        headers = {k.lower(): v for k, v in (headers or request.headers).items()}
        body = request.body if body is None else body
        path = request.path
        if not path.startswith("/xrpc/"):
            return self._static(request)
        nsid = unquote(path[len("/xrpc/"):]).strip("/")
        try:
            if request.method == "POST":  # procedures read their own Authorization
                procedure = self._procedures.get(nsid)
                if procedure is None:
                    raise (_invalid("Incorrect HTTP method (POST) expected GET")
                           if nsid in self._routes else self._not_implemented())
                response = procedure(request, body, headers)
            else:
                query = self._routes.get(nsid)
                if query is None:
                    raise (_invalid(f"Incorrect HTTP method ({request.method}) expected POST")
                           if nsid in self._procedures else self._not_implemented())
                response = query(request, self._session_of(headers))
        except XrpcError as exc:
            response = self._error(exc.status, exc.error, exc.message)
        self._xrpc_headers(response)
        return response

    def fault_response(self, kind: str, request: Request) -> Response:
        if kind == "429":
            response = self._error(429, "RateLimitExceeded", "Rate Limit Exceeded")
            self._xrpc_headers(response, exhausted=True)
            return response
        if kind == "500":
            response = self._error(500, "InternalServerError", "Internal Server Error")
        elif kind == "503":
            response = self._error(503, "UpstreamFailure", "Upstream Failure")
        else:
            raise ValueError(f"no {kind!r} response")
        self._xrpc_headers(response)
        return response

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def _not_implemented() -> XrpcError:
        return XrpcError(501, "MethodNotImplemented", "Method Not Implemented")

    @staticmethod
    def _json(value: object, status: int = 200) -> Response:
        body = dump_json(value)
        digest = hashlib.md5(body, usedforsecurity=False).hexdigest()  # Express's weak etag
        return Response(status, body, headers=[("etag", f'W/"{len(body):x}-{digest[:27]}"')])

    @staticmethod
    def _error(status: int, error: str, message: str) -> Response:
        return Response(status, dump_json({"error": error, "message": message}))

    def _xrpc_headers(self, response: Response, exhausted: bool = False) -> None:
        remaining, reset = self.rate.take()
        response.headers.extend((
            ("access-control-allow-origin", "*"),
            ("cache-control", "private" if response.status == 200 else "no-store"),
            ("vary", "Authorization, Accept-Encoding"),
            ("ratelimit-limit", str(self.rate.limit)),
            ("ratelimit-remaining", "0" if exhausted else str(remaining)),
            ("ratelimit-reset", str(int(time.time()) + 1 if exhausted else reset)),
            ("ratelimit-policy", f"{self.rate.limit};w={self.rate.window}"),
        ))

    def _static(self, request: Request) -> Response:
        if request.path == "/robots.txt":
            return Response(200, ROBOTS_TXT.encode(), "text/plain; charset=utf-8")
        if request.path.startswith(("/img/", "/video/")):
            return Response(200, PNG_1X1, "image/png", [("cache-control", "public, max-age=604800")])
        return Response(404, b"Not Found", "text/plain; charset=utf-8")

    def _account_index(self, actor: str | None) -> int:
        if not actor or not actor.strip():
            raise _invalid('Error: Params must have the property "actor"')
        index = self.names.index_of(actor)
        if index is None:
            raise _invalid("Profile not found")
        return index

    # -- sessions ------------------------------------------------------------------------

    def _jwt(self, kind: str, did: str) -> str:
        """A token: issued at the world's epoch (the same every time) unless ``token_ttl`` is
        set, then now, ending ``token_ttl`` seconds later (refresh tokens: 90 days)."""
        header = {"typ": "at+jwt" if kind == "access" else "refresh+jwt", "alg": "HS256"}
        ttl = self.token_ttl
        iat = int(EPOCH.timestamp()) if ttl is None else int(self.clock())
        life = (ttl or ACCESS_LIFE) if kind == "access" else REFRESH_LIFE
        payload = {"scope": "com.atproto.appPass" if kind == "access" else "com.atproto.refresh",
                   "sub": did, "aud": "did:web:sandbox.bsky.invalid", "iat": iat,
                   "exp": iat + life}
        parts = [base64.urlsafe_b64encode(json.dumps(part, separators=(",", ":")).encode())
                 .decode().rstrip("=") for part in (header, payload)]
        signing = ".".join(parts).encode()
        signature = hmac.new(self._secret, signing, hashlib.sha256).digest()
        return ".".join([*parts, base64.urlsafe_b64encode(signature).decode().rstrip("=")])

    def _verify(self, token: str) -> tuple[str, str] | None:
        """(kind, did) of a token this sandbox issued, else None; 400 ExpiredToken when it has
        expired (only while ``token_ttl`` is set: otherwise tokens never expire)."""
        try:
            header_b64, payload_b64, signature_b64 = token.split(".")
            expected = hmac.new(self._secret, f"{header_b64}.{payload_b64}".encode(),
                                hashlib.sha256).digest()
            signature = base64.urlsafe_b64decode(signature_b64 + "=" * (-len(signature_b64) % 4))
            if not hmac.compare_digest(signature, expected):
                return None
            payload = json.loads(base64.urlsafe_b64decode(payload_b64 + "=" * (-len(payload_b64) % 4)))
        except (ValueError, TypeError):
            return None
        if not isinstance(payload, dict):
            return None
        expires = payload.get("exp")
        if self.token_ttl is not None and isinstance(expires, int) and expires <= self.clock():
            raise XrpcError(400, "ExpiredToken", "Token has expired")
        kind = "access" if payload.get("scope") == "com.atproto.appPass" else "refresh"
        return kind, str(payload.get("sub"))

    def _session_of(self, headers: Mapping[str, str]) -> str | None:
        """The DID of a valid access token in ``Authorization``; None without the header;
        401 InvalidToken for any other token."""
        authorization = headers.get("authorization")
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        verified = self._verify(token.strip()) if scheme.lower() == "bearer" else None
        if verified is None or verified[0] != "access":
            raise XrpcError(401, "InvalidToken", "Token could not be verified")
        return verified[1]

    def _session_body(self, did: str) -> dict:
        index = self.names.index_of(did)
        handle = self.names.handle(index) if index is not None else f"{did[8:20]}.bsky.social"
        return {"did": did, "handle": handle, "email": f"{handle}@example.com",
                "emailConfirmed": True, "emailAuthFactor": False,
                "accessJwt": self._jwt("access", did), "refreshJwt": self._jwt("refresh", did),
                "active": True}

    def create_session(self, request: Request, body: bytes, headers: Mapping[str, str]) -> Response:
        if "json" not in headers.get("content-type", ""):
            raise _invalid("Request encoding (Content-Type) required but not provided")
        try:
            data = json.loads(body or b"null")
        except ValueError:
            raise _invalid("Request body is not valid JSON") from None
        if not isinstance(data, dict) or not isinstance(data.get("identifier"), str) \
                or not isinstance(data.get("password"), str):
            raise _invalid('Error: Input must have the properties "identifier" and "password"')
        if not hmac.compare_digest(data["password"].encode(), APP_PASSWORD.encode()):
            raise XrpcError(401, "AuthenticationRequired", "Invalid identifier or password")
        identifier = data["identifier"].strip()
        index = self.names.index_of(identifier)
        did = self.names.did(index) if index is not None else did_of(self.world.seed, _mix(identifier))
        return self._json(self._session_body(did))

    def refresh_session(self, request: Request, body: bytes, headers: Mapping[str, str]) -> Response:
        scheme, _, token = (headers.get("authorization") or "").partition(" ")
        verified = self._verify(token.strip()) if scheme.lower() == "bearer" else None
        if verified is None or verified[0] != "refresh":
            raise XrpcError(400, "InvalidToken", "Token could not be verified")
        return self._json(self._session_body(verified[1]))

    def get_session(self, request: Request, session: str | None) -> Response:
        if session is None:
            raise XrpcError(401, "AuthMissing", "Authentication Required")
        body = self._session_body(session)
        return self._json({k: body[k] for k in ("did", "handle", "email", "emailConfirmed", "active")})

    # -- JSON shapes ---------------------------------------------------------------------

    def _avatar(self, index: int, base: str, kind: str = "avatar") -> str | None:
        account = self.world.account(index)
        key = account.avatar_key if kind == "avatar" else account.header_key
        if key is None:
            return None
        return f"{base}/img/{kind}/plain/{self.names.did(index)}/{cid_of(key, blob=True)}@jpeg"

    def profile_basic(self, index: int, base: str) -> dict:
        """ProfileViewBasic (the author of a post, the reposter of a reason)."""
        account = self.world.account(index)
        view: dict[str, Any] = {"did": self.names.did(index), "handle": self.names.handle(index),
                                "displayName": account.display_name}
        avatar = self._avatar(index, base)
        if avatar:
            view["avatar"] = avatar
        view["viewer"] = {"muted": False, "blockedBy": False}
        view["labels"] = []
        return view

    def profile_detailed(self, index: int, base: str) -> dict:
        """ProfileViewDetailed (getProfile, getProfiles), in the real capture's key order."""
        account = self.world.account(index)
        view: dict[str, Any] = {"did": self.names.did(index), "handle": self.names.handle(index),
                                "displayName": account.display_name,
                                "description": account.note}
        avatar, banner = self._avatar(index, base), self._avatar(index, base, "banner")
        if avatar:
            view["avatar"] = avatar
        if banner:
            view["banner"] = banner
        view.update({
            "followsCount": account.following,
            "followersCount": account.followers,
            "postsCount": account.statuses_count,
            "indexedAt": iso_ms(account.created_at + timedelta(seconds=index % 3_600)),
            "viewer": {"muted": False, "blockedBy": False},
            "labels": [],
        })
        return view

    def rich_text(self, post: Post) -> tuple[str, list[dict]]:
        """The post's text with @username mentions as @handle, and its facets (tags, mentions,
        links) with UTF-8 byte indices, as the Bluesky app writes them."""
        mentions = {self.world.username(i).lower(): i for i in post.mentions}
        out: list[str] = []
        facets: list[dict] = []
        offset = 0
        last = 0
        text = post.text
        for match in _TOKEN.finditer(text):
            before = text[last:match.start()]
            out.append(before)
            offset += len(before.encode())
            url, tag, user = match.groups()
            token, feature = match.group(), None
            if url:
                feature = {"$type": FACET_LINK, "uri": url}
            elif tag:
                feature = {"$type": FACET_TAG, "tag": tag}
            elif user and user.lower() in mentions:
                index = mentions[user.lower()]
                token = "@" + self.names.handle(index)
                feature = {"$type": FACET_MENTION, "did": self.names.did(index)}
            out.append(token)
            start, offset = offset, offset + len(token.encode())
            if feature:
                facets.append({"index": {"byteEnd": offset, "byteStart": start},
                               "features": [feature]})
            last = match.end()
        out.append(text[last:])
        return "".join(out), facets

    def _embeds(self, post: Post, base: str) -> tuple[dict | None, dict | None]:
        """(record embed, view embed) for the post's media: one video, or up to 4 images."""
        if not post.media:
            return None, None
        did = self.names.did(post.account_index)
        videos = [m for m in post.media if m.kind != "image"]
        if videos:
            media = videos[0]
            cid = cid_of(media.key, blob=True)
            ratio = {"width": media.width, "height": media.height}
            record = {"$type": "app.bsky.embed.video",
                      "video": {"$type": "blob", "ref": {"$link": cid}, "mimeType": "video/mp4",
                                "size": 1_000_000 + int(media.key[:5], 16)},
                      "aspectRatio": ratio}
            view = {"$type": "app.bsky.embed.video#view", "cid": cid,
                    "playlist": f"{base}/video/{did}/{cid}/playlist.m3u8",
                    "thumbnail": f"{base}/video/{did}/{cid}/thumbnail.jpg", "aspectRatio": ratio}
            return record, view
        images, views = [], []
        for media in post.media[:4]:
            cid = cid_of(media.key, blob=True)
            alt = media.description or ""
            images.append({"alt": alt, "image": {"$type": "blob", "ref": {"$link": cid},
                                                 "mimeType": "image/jpeg",
                                                 "size": 200_000 + int(media.key[:5], 16)}})
            views.append({"thumb": f"{base}/img/feed_thumbnail/plain/{did}/{cid}@jpeg",
                          "fullsize": f"{base}/img/feed_fullsize/plain/{did}/{cid}@jpeg",
                          "alt": alt})
        return ({"$type": "app.bsky.embed.images", "images": images},
                {"$type": "app.bsky.embed.images#view", "images": views})

    def _render_post(self, pid: int, base: str) -> dict:
        post = self.world.post(pid)
        text, facets = self.rich_text(post)
        record_embed, view_embed = self._embeds(post, base)
        record: dict[str, Any] = {"text": text, "$type": POST_NSID}
        if record_embed:
            record["embed"] = record_embed
        if facets:
            record["facets"] = facets
        record["createdAt"] = iso_ms(post.created_at)
        record["langs"] = [post.language]
        uri = self.names.post_uri(post)
        view: dict[str, Any] = {"uri": uri, "cid": cid_of(uri),
                                "author": self.profile_basic(post.account_index, base),
                                "record": record}
        if view_embed:
            view["embed"] = view_embed
        indexed = post.created_at + timedelta(milliseconds=50 + pid % 400)
        view.update({
            "replyCount": post.replies,
            "repostCount": post.reblogs,
            "likeCount": post.favourites,
            "quoteCount": post.quotes,
            "indexedAt": iso_ms(indexed),
            "viewer": {},
            "labels": [],
        })
        return view

    def post_view(self, post: Post | int, base: str) -> dict:
        """PostView of a post (cached; do not modify the result)."""
        return self._post_view(post if isinstance(post, int) else post.id_int, base)

    # -- author feeds --------------------------------------------------------------------

    def reposts(self, index: int) -> list[Repost]:
        """The account's reposts of other accounts' posts: about one for every five posts."""
        world = self.world
        if world.size < 2:
            return []
        own = world.post_ids(index)
        out: dict[int, Repost] = {}
        for r in range(max(1, len(own) // 5)):
            h = _mix(world.seed, "repost", index, r)
            other = (index + 1 + h % (world.size - 1)) % world.size
            ids = world.post_ids(other)
            pid = ids[(h >> 20) % len(ids)]
            ms = min(_post_ms(pid) + 60_000 + (h >> 36) % (3 * 86_400_000), _EPOCH_MS - 1_000)
            if ms <= _post_ms(pid) or pid in out:
                continue
            out[pid] = Repost(pid, ms, tid(ms * 1000 + r, index & 0x3FF))
        return list(out.values())

    def _author_entries(self, index: int, with_reposts: bool,
                        media_only: bool) -> list[tuple[int, str, Any]]:
        """(ms, cid, post id or Repost) of an author feed, newest first."""
        entries: list[tuple[int, str, Any]] = []
        for pid in self.world.post_ids(index):
            if media_only and not self.world.post(pid).media:
                continue
            entries.append((_post_ms(pid), cid_of(self.names.post_uri(pid)), pid))
        if with_reposts:
            did = self.names.did(index)
            for repost in self.reposts(index):
                entries.append((repost.ms, cid_of(f"at://{did}/{REPOST_NSID}/{repost.rkey}"), repost))
        entries.sort(key=lambda e: (-e[0], _inverse(e[1])))
        return entries

    def author_feed_entries(self, index: int, filter: str = "posts_with_replies") -> list:
        media = filter == "posts_with_media"
        return self._author_feed(index, not media, media)

    def _feed_view(self, entry: Any, base: str, reposter: int | None) -> dict:
        if isinstance(entry, Repost):
            assert reposter is not None
            return {"post": self.post_view(entry.pid, base),
                    "reason": {"$type": REASON_REPOST, "by": self.profile_basic(reposter, base),
                               "indexedAt": iso_ms(datetime.fromtimestamp(entry.ms / 1000,
                                                                          tz=timezone.utc))}}
        return {"post": self.post_view(entry, base)}

    # -- XRPC queries --------------------------------------------------------------------

    def get_profile(self, request: Request, session: str | None) -> Response:
        index = self._account_index(request.query.get("actor"))
        return self._json(self.profile_detailed(index, request.base_url))

    def get_profiles(self, request: Request, session: str | None) -> Response:
        actors = _all(request, "actors")
        if not actors:
            raise _invalid('Error: Params must have the property "actors"')
        if len(actors) > MAX_PROFILES:
            raise _invalid(f"Error: actors must not have more than {MAX_PROFILES} elements")
        indices = [self.names.index_of(actor) for actor in actors]
        found = list(dict.fromkeys(i for i in indices if i is not None))
        return self._json({"profiles": [self.profile_detailed(i, request.base_url) for i in found]})

    def get_author_feed(self, request: Request, session: str | None) -> Response:
        index = self._account_index(request.query.get("actor"))
        filter_ = request.query.get("filter") or "posts_with_replies"
        if filter_ not in AUTHOR_FEED_FILTERS:
            raise _invalid(f"Error: filter must be one of {', '.join(AUTHOR_FEED_FILTERS)}")
        limit = _limit(request, DEFAULT_FEED_LIMIT)
        page, cursor = _page_after(self.author_feed_entries(index, filter_),
                                   _time_cursor(request), limit)
        body: dict[str, Any] = {"feed": [self._feed_view(e, request.base_url, index)
                                         for _, _, e in page]}
        if cursor:
            body["cursor"] = cursor
        return self._json(body)

    def search_terms(self, request: Request) -> tuple[str, ...]:
        q = request.query.get("q")
        if q is None or not q.strip():
            raise _invalid('Error: Params must have the property "q"')
        terms = [t.lstrip("#\uff03") for t in q.split()] + _all(request, "tag")
        return tuple(sorted({t.lower() for t in terms if t}))

    def search_ids(self, terms: tuple[str, ...], sort: str) -> list[int]:
        """Ids of the posts carrying every hashtag of ``terms``: newest first for ``latest``;
        for ``top`` by likes + 2 x reposts + replies, then newest first."""
        key = (terms, sort)
        cached = self._search_cache.get(key)
        if cached is not None:
            return cached
        ids: set[int] | None = None
        for term in terms:
            tagged = set(self.world.tag_post_ids(term))
            ids = tagged if ids is None else ids & tagged
        ordered = sorted(ids or (), reverse=True)
        if sort == "top":
            def score(pid: int) -> tuple[int, int]:
                post = self.world.post(pid)
                return -(post.favourites + 2 * post.reblogs + post.replies), -pid

            ordered.sort(key=score)
        with self._cache_lock:
            self._search_cache[key] = ordered
        return ordered

    def search_posts(self, request: Request, session: str | None) -> Response:
        if self.search_auth and session is None:
            if self.search_auth == "403":
                return Response(403, FORBIDDEN_HTML, "text/html")
            raise XrpcError(401, "AuthMissing", "Authentication Required")
        terms = self.search_terms(request)
        sort = request.query.get("sort") or "latest"
        if sort not in ("latest", "top"):
            raise _invalid("Error: sort must be one of latest, top")
        limit = _limit(request, DEFAULT_SEARCH_LIMIT)
        cursor = request.query.get("cursor") or "0"
        if not cursor.isdigit():
            raise _invalid("Malformed cursor")
        offset = int(cursor)
        ids = self.search_ids(terms, sort)
        page = ids[offset:offset + limit]
        body: dict[str, Any] = {"posts": [self.post_view(pid, request.base_url) for pid in page]}
        if offset + limit < len(ids):
            body["cursor"] = str(offset + limit)
        body["hitsTotal"] = len(ids)
        return self._json(body)

    def feed_entries(self, name: str) -> list[tuple[int, str, Any]]:
        """(ms, cid, post id) of the custom feed of niche ``name``, newest first."""
        cached = self._feed_cache.get(name)
        if cached is not None:
            return cached
        ids: set[int] = set()
        for tag in NICHES[name].hashtags:
            ids.update(self.world.tag_post_ids(tag))
        entries = [(_post_ms(pid), cid_of(self.names.post_uri(pid)), pid)
                   for pid in sorted(ids, reverse=True)]
        entries.sort(key=lambda e: (-e[0], _inverse(e[1])))
        with self._cache_lock:
            self._feed_cache[name] = entries
        return entries

    def _feed_name(self, uri: str | None) -> str:
        if not uri:
            raise _invalid('Error: Params must have the property "feed"')
        match = re.fullmatch(rf"at://([^/]+)/{re.escape(GENERATOR_NSID)}/([^/?#]+)", uri)
        if match is None:
            raise _invalid("Error: feed must be a valid at-uri")
        authority, name = match.groups()
        if authority not in (self.names.feeds_did, FEEDS_HANDLE) or name not in NICHES:
            raise XrpcError(400, "UnknownFeed", f"Unknown feed: {uri}")
        return name

    def get_feed(self, request: Request, session: str | None) -> Response:
        name = self._feed_name(request.query.get("feed"))
        limit = _limit(request, DEFAULT_FEED_LIMIT)
        page, cursor = _page_after(self.feed_entries(name), _time_cursor(request), limit)
        body: dict[str, Any] = {"feed": [self._feed_view(pid, request.base_url, None)
                                         for _, _, pid in page]}
        if cursor:
            body["cursor"] = cursor
        return self._json(body)

    def generator_view(self, name: str, base: str) -> dict:
        uri = self.names.feed_uri(name)
        return {"uri": uri, "cid": cid_of(uri), "did": "did:web:feeds.sandbox.invalid",
                "creator": {"did": self.names.feeds_did, "handle": FEEDS_HANDLE,
                            "displayName": "Sandbox feeds", "viewer": {"muted": False,
                                                                      "blockedBy": False},
                            "labels": []},
                "displayName": name.capitalize(),
                "description": "Posts with " + " ".join(f"#{t}" for t in NICHES[name].hashtags),
                "likeCount": len(self.feed_entries(name)), "labels": [], "viewer": {},
                "indexedAt": iso_ms(EPOCH - timedelta(days=30))}

    def get_suggested_feeds(self, request: Request, session: str | None) -> Response:
        return self._json({"feeds": [self.generator_view(name, request.base_url)
                                     for name in NICHE_NAMES]})

    def resolve_handle(self, request: Request, session: str | None) -> Response:
        handle = (request.query.get("handle") or "").strip().lower()
        if handle == FEEDS_HANDLE:
            return self._json({"did": self.names.feeds_did})
        index = self.names.index_of(handle) if handle and not handle.startswith("did:") else None
        if index is None:
            raise _invalid("Unable to resolve handle")
        return self._json({"did": self.names.did(index)})

