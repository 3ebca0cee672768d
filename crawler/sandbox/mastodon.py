"""The sandbox world served as a Mastodon server (REST API v1, Mastodon 4.x shapes).

Shapes, headers and pagination copy the real recordings in
``../shared/realworld/mastodon`` (vcrpy cassettes of a Mastodon 4.6 server): the Account
and Status keys in the same order, ``Link`` headers with ``max_id`` / ``min_id``, the
``x-ratelimit-*`` trio, ``{"error":"Record not found"}`` for a missing record. Every URL in
a body points at the sandbox's own origin.

Routes (GET and HEAD):

* ``/api/v1/timelines/tag/:tag?limit=&max_id=&since_id=&min_id=``
* ``/api/v1/accounts/:id``, ``/api/v1/accounts/lookup?acct=``
* ``/api/v1/accounts/:id/statuses?limit=&max_id=&since_id=&min_id=&tagged=&only_media=&pinned=``
* ``/api/v1/statuses/:id``
* ``/robots.txt``; ``/@user`` and ``/@user/:id`` (small HTML pages); avatars, headers and
  media files (a 1x1 PNG).

Knobs: none of its own. The ``x-ratelimit-limit`` is the config's ``rate_limit``
(``--rate-limit``, advisory); ``/__platform__/knobs`` answers ``{"knobs": {}}``. The server's
knobs, shared by every platform, apply (any other ``--knob`` is refused):

* ``throttle_after=N``: after N more ``/api/`` requests the next one is answered as
  Rack::Attack throttles, once: 429 ``{"error":"Too many requests"}`` with
  ``x-ratelimit-remaining: 0`` and ``x-ratelimit-reset`` (ISO 8601) ``throttle_retry_after``
  seconds ahead, plus ``Retry-After`` with the same seconds. Setting it again (``/__platform__/
  knobs?throttle_after=N``) re-arms it; ``off`` disarms it. The knob state then carries
  ``"throttle": {"after", "retry_after", "armed", "passed", "sent_at", "resume_at", "target",
  "fired"}``: ``sent_at`` is the epoch time the 429 went out.
* ``throttle_retry_after=SECONDS``: whole seconds (default 1).
* ``day=N``: ``followers_count`` (and the profile page's count) of sandbox day N
  (``World.set_day``); the knob state then carries ``"day"``.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
import uuid
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from functools import lru_cache
from typing import ClassVar
from urllib.parse import unquote, urlencode

from crawler.sandbox.common import (
    PNG_1X1,
    AppConfig,
    Request,
    Response,
    dump_json,
    escape_html,
    iso_ms,
    quote_segment,
    unknown_knob,
)
from crawler.sandbox.world import Account, Media, Post, World

DEFAULT_LIMIT = 20  # Mastodon's DEFAULT_STATUSES_LIMIT; the maximum is twice that
MAX_LIMIT = 40

ROBOTS_TXT = """\
# Sandbox copy of Mastodon's robots.txt
User-agent: GPTBot
Disallow: /

User-agent: *
Allow: /api/
Disallow: /admin/
Disallow: /media_proxy/
Disallow: /interact/
"""

_JSON_HEADERS = (
    ("cache-control", "private, no-store"),
    ("content-security-policy", "default-src 'none'; frame-ancestors 'none'; form-action 'none'"),
    ("referrer-policy", "strict-origin-when-cross-origin"),
    ("vary", "Authorization, Origin"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "SAMEORIGIN"),
    ("x-permitted-cross-domain-policies", "none"),
    ("x-xss-protection", "0"),
)
_BLURHASHES = (
    "UBL_:rOpGG-oBUNG,qRj2so|=eE1w^n4S5NH",
    "UFBWY:8_0Jxa~qt7xaRj9ZM{ayWBxuj[WBay",
    "U9Cs^a-;00M{_3ofRjof00WBxuoft7ayRjWB",
)
# applied to escaped text: "&#39;" is not a hashtag, a URL stops at an entity
_TOKEN = re.compile(r"(https?://[^\s&<>\"']+)|(?<![\w/#&])#(\w+)|(?<![\w/@])@(\w+)")
_RUBY_INT = re.compile(r"\s*[+-]?\d+")
_ACCOUNT_SENTINEL = "\x00account\x00"
_ACCOUNT_SPLICE = b'"account":"\\u0000account\\u0000"'


class RateLimiter:
    """Mastodon's advisory counters: a limit per fixed window, reset at the window's end.

    Not enforced (a sandbox crawl of thousands of pages would otherwise stall); a client
    that honours ``x-ratelimit-remaining: 0`` must handle it as it would on a real server.
    """

    def __init__(self, limit: int = 300, window: int = 300, clock=time.time) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._window_start = 0
        self._used = 0

    def take(self) -> tuple[int, str]:
        """Count one request; return (remaining, reset as ISO 8601 with microseconds)."""
        now = self._clock()
        start = int(now // self.window * self.window)
        with self._lock:
            if start != self._window_start:
                self._window_start, self._used = start, 0
            self._used += 1
            remaining = max(0, self.limit - self._used)
        # like Rack::Attack: the window's end, carrying the current sub-second part
        reset = datetime.fromtimestamp(start + self.window + now % 1, tz=timezone.utc)
        return remaining, reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _ruby_to_i(text: str | None, default: int) -> int:
    if text is None:
        return default
    match = _RUBY_INT.match(text)
    return int(match.group()) if match else 0


def _truthy(text: str | None) -> bool:
    return (text or "").lower() in ("true", "1")


def _id_param(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def _id_path(snowflake_id: str) -> str:
    """``117020565966271181`` -> ``117/020/565/966/271/181`` (Paperclip's id partition)."""
    padded = snowflake_id.zfill(-(-len(snowflake_id) // 3) * 3)
    return "/".join(padded[i : i + 3] for i in range(0, len(padded), 3))


def paginate(
    ids: Sequence[int],
    limit: int,
    max_id: int | None = None,
    since_id: int | None = None,
    min_id: int | None = None,
) -> list[int]:
    """One page of ``ids`` (ascending), newest first, with Mastodon's id-cursor semantics."""
    high = bisect_left(ids, max_id) if max_id is not None else len(ids)
    low = bisect_right(ids, since_id) if since_id is not None else 0
    if min_id is not None:  # the posts right after min_id, not the newest ones
        low = max(low, bisect_right(ids, min_id))
        chosen = ids[low : min(high, low + limit)]
    else:
        chosen = ids[max(low, high - limit) : high]
    return list(reversed(chosen))


class MastodonApp:
    name = "mastodon"
    #: No knobs of its own: the Mastodon API has no walls to model (its rate limit is
    #: ``rate_limit``; the server's throttle knobs answer its 429 on demand).
    KNOBS: ClassVar[dict[str, str]] = {}

    def __init__(self, world: World, *, rate_limit: int = 300, rate_window: int = 300) -> None:
        self.world = world
        self.rate = RateLimiter(rate_limit, rate_window)
        # rendering is most of a request's cost; bodies are immutable for a given origin and
        # sandbox day (the day changes follower counts: the knob ``day``)
        self._account_bytes = lru_cache(maxsize=16_384)(self._render_account_bytes)
        self._status_bytes = lru_cache(maxsize=8_192)(self._render_status)
        self._routes = (
            (re.compile(r"/api/v1/timelines/tag/([^/]+)"), self.tag_timeline),
            (re.compile(r"/api/v1/accounts/lookup"), self.lookup),
            (re.compile(r"/api/v1/accounts/([^/]+)/statuses"), self.account_statuses),
            (re.compile(r"/api/v1/accounts/([^/]+)"), self.account),
            (re.compile(r"/api/v1/statuses/([^/]+)"), self.status),
            (re.compile(r"/robots\.txt"), self.robots),
            (re.compile(r"/@([^/]+)"), self.profile_page),
            (re.compile(r"/@([^/]+)/(\d+)"), self.status_page),
            (re.compile(r"/(?:system|avatars|headers)/.+"), self.media_file),
        )

    @classmethod
    def from_config(cls, world: World, config: AppConfig) -> MastodonApp:
        """The app for the sandbox server: ``config.rate_limit``; any knob is a ValueError."""
        app = cls(world, rate_limit=config.rate_limit)
        app.configure(config.knobs)
        return app

    # -- the server's interface --------------------------------------------------------

    def configure(self, knobs: Mapping[str, str]) -> None:
        for name in knobs:
            raise unknown_knob(self.name, name, self.KNOBS)

    def knob_state(self) -> dict:
        return {"knobs": {}}

    def faultable(self, path: str) -> bool:
        return path.startswith("/api/")

    def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        path = request.path
        for pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match:
                response = handler(request, *(unquote(g) for g in match.groups()))
                break
        else:
            if path.startswith("/api/"):
                response = self._json(404, {"error": "Not Found"}, etag=False)
            else:
                response = Response(404, b"<!DOCTYPE html><title>Not Found</title>", "text/html")
        if path.startswith("/api/"):
            self._api_headers(response, started)
        return response

    def fault_response(self, kind: str, request: Request) -> Response:
        started = time.perf_counter()
        if kind == "429":
            # what Rack::Attack answers, plus the Retry-After a well-behaved client wants
            response = self._json(429, {"error": "Too many requests"}, etag=False)
            response.headers.append(("retry-after", "1"))
            self._api_headers(response, started, exhausted=True)
            return response
        if kind == "503":
            message = "There was a temporary problem serving your request, please try again"
            response = self._json(503, {"error": message}, etag=False)
            self._api_headers(response, started)
            return response
        if kind == "500":
            body = (
                b"<!DOCTYPE html>\n<html><head><title>We're sorry, but something went wrong"
                b" (500)</title></head><body><h1>We're sorry, but something went wrong.</h1>"
                b"</body></html>\n"
            )
            return Response(500, body, "text/html; charset=utf-8")
        raise ValueError(f"no {kind!r} response")

    # -- helpers -----------------------------------------------------------------------

    def _json(self, status: int, value: object, *, etag: bool = True) -> Response:
        return self._bytes(status, dump_json(value), etag=etag)

    @staticmethod
    def _bytes(status: int, body: bytes, *, etag: bool = True) -> Response:
        response = Response(status, body)
        if etag:
            digest = hashlib.md5(body, usedforsecurity=False).hexdigest()
            response.headers.append(("etag", f'W/"{digest}"'))
        return response

    def _api_headers(self, response: Response, started: float, exhausted: bool = False) -> None:
        remaining, reset = self.rate.take()
        response.headers.extend(_JSON_HEADERS)
        response.headers.extend(
            (
                ("x-ratelimit-limit", str(self.rate.limit)),
                ("x-ratelimit-remaining", "0" if exhausted else str(remaining)),
                ("x-ratelimit-reset", reset),
                ("x-request-id", str(uuid.uuid4())),
                ("x-runtime", f"{time.perf_counter() - started:.6f}"),
            )
        )

    def _not_found(self) -> Response:
        return self._json(404, {"error": "Record not found"}, etag=False)

    @staticmethod
    def _link(base: str, path: str, params: dict[str, str], cursor: dict[str, int]) -> str:
        return f"{base}{path}?{urlencode({**params, **cursor})}"

    def _link_header(
        self,
        request: Request,
        path: str,
        page: list[int],
        params: dict[str, str],
        *,
        next_page: bool,
    ) -> tuple[str, str] | None:
        links = []
        if page and next_page:
            links.append(f'<{self._link(request.base_url, path, params, {"max_id": page[-1]})}>; '
                         'rel="next"')
        if page:
            links.append(f'<{self._link(request.base_url, path, params, {"min_id": page[0]})}>; '
                         'rel="prev"')
        return ("link", ", ".join(links)) if links else None

    def _statuses(self, request: Request, ids: Sequence[int], params: dict[str, str], path: str,
                  *, next_always: bool) -> Response:
        query = request.query
        limit = min(abs(_ruby_to_i(query.get("limit"), DEFAULT_LIMIT)), MAX_LIMIT)
        page = paginate(
            ids,
            limit,
            max_id=_id_param(query.get("max_id")),
            since_id=_id_param(query.get("since_id")),
            min_id=_id_param(query.get("min_id")),
        )
        base, day = request.base_url, self.world.day
        body = b"[" + b",".join(self._status_bytes(pid, base, day) for pid in page) + b"]"
        response = self._bytes(200, body)
        link = self._link_header(
            request, path, page, params, next_page=next_always or len(page) == limit
        )
        if link:
            response.headers.append(link)
        return response

    # -- API routes --------------------------------------------------------------------

    def tag_timeline(self, request: Request, tag: str) -> Response:
        ids = self.world.tag_post_ids(tag)
        params = {k: request.query[k] for k in ("limit",) if k in request.query}
        path = f"/api/v1/timelines/tag/{quote_segment(tag)}"
        # Mastodon's tag timeline links "next" from every non-empty page; the walk ends on
        # an empty page (no Link header).
        return self._statuses(request, ids, params, path, next_always=True)

    def account_statuses(self, request: Request, account_id: str) -> Response:
        account = self.world.account_by_id(account_id)
        if account is None:
            return self._not_found()
        query = request.query
        keys = ("limit", "only_media", "exclude_replies", "exclude_reblogs", "tagged", "pinned")
        params = {k: query[k] for k in keys if k in query}
        ids: Sequence[int] = self.world.post_ids(account)
        tagged = query.get("tagged")
        if tagged:
            wanted = tagged.lower()
            ids = [pid for pid, tags in self.world.skeleton(account.index) if wanted in tags]
        if _truthy(query.get("only_media")):
            ids = [pid for pid in ids if self.world.post(pid).media]
        if _truthy(query.get("pinned")):
            ids = []  # nobody pins in the sandbox
        path = f"/api/v1/accounts/{account.id}/statuses"
        # here "next" only while a page is full (records_continue? in Mastodon)
        return self._statuses(request, ids, params, path, next_always=False)

    def account(self, request: Request, account_id: str) -> Response:
        account = self.world.account_by_id(account_id)
        if account is None:
            return self._not_found()
        return self._bytes(200, self._account_bytes(account.index, request.base_url,
                                                      self.world.day))

    def lookup(self, request: Request) -> Response:
        acct = request.query.get("acct", "").strip().lstrip("@")
        username, _, domain = acct.partition("@")
        account = self.world.account_by_username(username) if username else None
        if account is None or (domain and domain.lower() != request.host.lower()):
            return self._not_found()
        return self._bytes(200, self._account_bytes(account.index, request.base_url,
                                                      self.world.day))

    def status(self, request: Request, status_id: str) -> Response:
        post = self.world.post_by_id(status_id)
        if post is None:
            return self._not_found()
        return self._bytes(200, self._status_bytes(post.id_int, request.base_url,
                                                     self.world.day))

    # -- non-API routes ----------------------------------------------------------------

    def robots(self, request: Request) -> Response:
        return Response(200, ROBOTS_TXT.encode(), "text/plain; charset=utf-8")

    def media_file(self, request: Request) -> Response:
        return Response(200, PNG_1X1, "image/png", [("cache-control", "public, max-age=31536000")])

    def profile_page(self, request: Request, handle: str) -> Response:
        account = self.world.account_by_username(handle.partition("@")[0])
        if account is None:
            return Response(404, b"<!DOCTYPE html><title>Not Found</title>", "text/html")
        base = request.base_url
        name = escape_html(account.display_name or account.username)
        description = escape_html(
            f"{account.statuses_count} Posts, {account.following} Following, "
            f"{account.followers} Followers · {account.note}"
        )
        html = (
            f'<!DOCTYPE html>\n<html lang="{account.language}"><head><meta charset="utf-8">'
            f"<title>{name} (@{account.username}@{request.host}) - Mastodon</title>"
            f'<meta content="{name} (@{account.username}@{request.host})" property="og:title">'
            f'<meta content="{description}" name="description">'
            f'<meta content="{description}" property="og:description">'
            f'<link href="{base}/ap/users/{account.id}" rel="alternate"'
            ' type="application/activity+json">'
            f'</head><body><div id="mastodon" data-props="{{}}"></div></body></html>\n'
        )
        return Response(200, html.encode(), "text/html; charset=utf-8")

    def status_page(self, request: Request, handle: str, status_id: str) -> Response:
        post = self.world.post_by_id(status_id)
        account = self.world.account_by_username(handle.partition("@")[0])
        if post is None or account is None or post.account_index != account.index:
            return Response(404, b"<!DOCTYPE html><title>Not Found</title>", "text/html")
        html = (
            '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
            f"<title>{escape_html(account.display_name or account.username)}: "
            f'"{escape_html(post.text[:60])}" - Mastodon</title></head>'
            f'<body><div class="e-content">{self.content_html(post, request.base_url)}</div>'
            "</body></html>\n"
        )
        return Response(200, html.encode(), "text/html; charset=utf-8")

    # -- JSON shapes -------------------------------------------------------------------

    def account_json(self, account: Account, base: str) -> dict:
        """Mastodon's Account entity."""
        return self._render_account(account.index, base)

    def status_json(self, post: Post, base: str) -> dict:
        """Mastodon's Status entity, with the author's Account embedded."""
        return self._render_status_dict(post, base)

    def _render_status(self, pid: int, base: str, day: int = 0) -> bytes:
        # The embedded account is spliced in as already-encoded JSON: it is half of a
        # status's bytes and the same for all of the author's statuses. (A sentinel cannot
        # collide with user text: quotes inside JSON strings are escaped.)
        post = self.world.post(pid)
        value = self._render_status_dict(post, base, account=_ACCOUNT_SENTINEL)
        account = self._account_bytes(post.account_index, base, day)
        return dump_json(value).replace(_ACCOUNT_SPLICE, b'"account":' + account, 1)

    def _render_account_bytes(self, index: int, base: str, day: int = 0) -> bytes:
        """The account's JSON (``day``: the world's day, a key of the cache only)."""
        return dump_json(self._render_account(index, base))

    def _render_account(self, index: int, base: str) -> dict:
        account = self.world.account(index)
        avatar = (
            f"{base}/system/accounts/avatars/{_id_path(account.id)}/original/{account.avatar_key}.png"
            if account.avatar_key
            else f"{base}/avatars/original/missing.png"
        )
        header = (
            f"{base}/system/accounts/headers/{_id_path(account.id)}/original/{account.header_key}.png"
            if account.header_key
            else f"{base}/headers/original/missing.png"
        )
        created = account.created_at.replace(hour=0, minute=0, second=0, microsecond=0)
        return {
            "id": account.id,
            "username": account.username,
            "acct": account.username,
            "display_name": account.display_name,
            "locked": account.locked,
            "bot": account.bot,
            "discoverable": account.discoverable,
            "indexable": account.indexable,
            "group": False,
            "created_at": iso_ms(created),  # Mastodon shows the day only
            "note": self.text_html(account.note, base, link_all_tags=True),
            "url": f"{base}/@{account.username}",
            "uri": f"{base}/ap/users/{account.id}",
            "avatar": avatar,
            "avatar_static": avatar,
            "avatar_description": "",
            "header": header,
            "header_static": header,
            "header_description": "",
            "followers_count": account.followers,
            "following_count": account.following,
            "statuses_count": account.statuses_count,
            "last_status_at": account.last_status_at.date().isoformat(),
            "hide_collections": account.hide_collections,
            "show_media": True,
            "show_media_replies": True,
            "show_featured": True,
            "noindex": account.noindex,
            "feature_approval": {
                "automatic": [] if account.locked else ["public"],
                "manual": [],
                "current_user": "denied" if account.locked else "automatic",
            },
            "emojis": [],
            "roles": [],
            "fields": [self._field_json(f.name, f.value) for f in account.fields],
        }

    @staticmethod
    def _field_json(name: str, value: str) -> dict:
        if value.startswith("https://"):
            html = (
                f'<a href="{escape_html(value)}" target="_blank" rel="nofollow noopener me"'
                ' translate="no"><span class="invisible">https://</span>'
                f'<span class="">{escape_html(value[8:])}</span>'
                '<span class="invisible"></span></a>'
            )
        else:
            html = escape_html(value)
        return {"name": name, "value": html, "verified_at": None}

    def _render_status_dict(self, post: Post, base: str, account: object = None) -> dict:
        world = self.world
        author = world.account(post.account_index)
        app_name, app_site = post.application
        return {
            "id": post.id,
            "created_at": iso_ms(post.created_at),
            "in_reply_to_id": None,
            "in_reply_to_account_id": None,
            "sensitive": post.sensitive,
            "spoiler_text": post.spoiler_text,
            "visibility": "public",
            "language": post.language,
            "uri": f"{base}/ap/users/{author.id}/statuses/{post.id}",
            "url": f"{base}/@{author.username}/{post.id}",
            "replies_count": post.replies,
            "reblogs_count": post.reblogs,
            "favourites_count": post.favourites,
            "quotes_count": post.quotes,
            "edited_at": iso_ms(post.edited_at) if post.edited_at else None,
            "favourited": False,
            "reblogged": False,
            "muted": False,
            "bookmarked": False,
            "pinned": False,
            "content": self.content_html(post, base),
            "filtered": [],
            "reblog": None,
            "application": {"name": app_name, "website": app_site},
            "account": account if account is not None else self.account_json(author, base),
            "media_attachments": [self._media_json(m, base) for m in post.media],
            "mentions": [
                {
                    "id": (other := world.account(index)).id,
                    "username": other.username,
                    "url": f"{base}/@{other.username}",
                    "acct": other.username,
                }
                for index in post.mentions
            ],
            "tags": [{"name": tag, "url": f"{base}/tags/{quote_segment(tag)}"} for tag in post.tags],
            "emojis": [],
            "tagged_collections": [],
            "quote": None,
            "card": None,
            "poll": None,
            "quote_approval": {"automatic": ["public"], "manual": [], "current_user": "automatic"},
        }

    @staticmethod
    def _media_json(media: Media, base: str) -> dict:
        folder = f"{base}/system/media_attachments/files/{_id_path(media.id)}"
        extension = "png" if media.kind == "image" else "mp4"
        small_w, small_h = (640, 480) if media.width > media.height else (512, 640)
        meta: dict = {
            "original": {
                "width": media.width,
                "height": media.height,
                "size": f"{media.width}x{media.height}",
                "aspect": round(media.width / media.height, 6),
            },
            "small": {
                "width": small_w,
                "height": small_h,
                "size": f"{small_w}x{small_h}",
                "aspect": round(small_w / small_h, 6),
            },
        }
        if media.kind != "image":
            meta["original"].update({"frame_rate": "30/1", "duration": 12.5, "bitrate": 1_250_000})
        return {
            "id": media.id,
            "type": media.kind,
            "url": f"{folder}/original/{media.key}.{extension}",
            "preview_url": f"{folder}/small/{media.key}.png",
            "remote_url": None,
            "preview_remote_url": None,
            "text_url": None,
            "meta": meta,
            "description": media.description,
            "blurhash": _BLURHASHES[int(media.key[:4], 16) % len(_BLURHASHES)],
        }

    # -- HTML content ------------------------------------------------------------------

    def content_html(self, post: Post, base: str) -> str:
        mentions = {self.world.username(i).lower(): i for i in post.mentions}
        return self.text_html(post.text, base, tags=set(post.tags), mentions=mentions)

    def text_html(
        self,
        text: str,
        base: str,
        *,
        tags: set[str] | None = None,
        mentions: dict[str, int] | None = None,
        link_all_tags: bool = False,
    ) -> str:
        """Plain text to Mastodon's HTML: paragraphs, ``<br />``, hashtag/mention/URL links."""
        paragraphs = []
        for paragraph in text.split("\n\n"):
            lines = [
                self._inline_html(line, base, tags or set(), mentions or {}, link_all_tags)
                for line in paragraph.split("\n")
            ]
            paragraphs.append("<p>" + "<br />".join(lines) + "</p>")
        return "".join(paragraphs)

    def _inline_html(
        self, line: str, base: str, tags: set[str], mentions: dict[str, int], link_all_tags: bool
    ) -> str:
        escaped = escape_html(line)  # leaves "#", "@", "://" and word characters alone
        if "#" not in line and "@" not in line and "://" not in line:
            return escaped

        def link(match: re.Match) -> str:
            url, tag, user = match.groups()
            if url:
                scheme, _, rest = url.partition("://")
                return (
                    f'<a href="{url}" target="_blank" rel="nofollow noopener" translate="no">'
                    f'<span class="invisible">{scheme}://</span><span class="">{rest}</span>'
                    '<span class="invisible"></span></a>'
                )
            if tag and (link_all_tags or tag.lower() in tags):
                return (
                    f'<a href="{base}/tags/{quote_segment(tag.lower())}" class="mention hashtag"'
                    f' rel="tag">#<span>{tag}</span></a>'
                )
            if user and user.lower() in mentions:
                return (
                    f'<span class="h-card" translate="no"><a href="{base}/@{user}"'
                    f' class="u-url mention">@<span>{user}</span></a></span>'
                )
            return match.group()

        return _TOKEN.sub(link, escaped)
