"""The sandbox world served as the Instagram Graph API (mounted by the Instagram sandbox app).

The same :class:`~crawler.sandbox.world.World` the web formats serve, under
``<origin>/graph/v21.0/`` (any ``vNN.N``), in the shapes of the recordings in
``../shared/realworld/instagram/python-facebook_graph_*``:

* ``GET /{ig-user-id}?fields=business_discovery.username(x){...,media.limit(N){...}}``: a
  business or creator account (``InstagramApp``'s professional accounts, 45% of the world) with
  the fields asked (a real field-expansion reader: ``media.after(C).limit(N){...}`` pages the
  account's posts newest first; ``paging.cursors.after`` while more remain). Any other account
  answers OAuthException 110 / 2207013 "Invalid user id" as Meta does for personal,
  age-gated and unknown accounts alike. Without ``business_discovery`` the node is the caller
  (``{"id": ...}``);
* ``GET /ig_hashtag_search?user_id=&q=tag``: ``{"data": [{"id"}]}`` (``[]`` for a tag nobody
  used; ``fields=id,name`` adds the name);
* ``GET /{hashtag-id}/top_media`` (the tag's newest 500 posts by likes + comments) and
  ``/recent_media`` (its posts of the last ``graph_recent_hours``, 24 as Meta says, newest
  first) with ``user_id``, ``fields``, ``limit`` (25 by default, 50 at most) and ``after``;
  ``paging: {"cursors": {"after"}, "next"}`` while more remain, none on the last page. Hashtag
  media refuse the ``username`` field, as Meta's do.

Every caption comes with the ``@`` of its mentions removed (``Thanks maya_runs!``), as the
recordings show the API does. Ids: an account's Graph id is ``17841400000000000 + index``
(``ig_id`` is the web id), a post's Graph media id is ``MEDIA_OFFSET + post id`` (its web id
differs, as on Instagram), a carousel child's ``CHILD_OFFSET + media id``, a hashtag's id is the
one the web hashtag page names; permalinks are ``https://www.instagram.com/p/<shortcode>/`` with
the web sandbox's shortcode of the post, so both routes name a post by the same permalink.

Auth: the token comes as ``Authorization: Bearer`` (an ``access_token`` query parameter is
accepted, as Meta does, and counted in ``tokens_in_query``); none is OAuthException 104, a
wrong one (with ``graph_token`` set) 190. Every answer carries ``X-App-Usage`` and
``X-Business-Use-Case-Usage`` (``call_count``/``total_cputime``/``total_time`` percentages,
``estimated_time_to_regain_access`` minutes). The 30-hashtag rule holds here too: a user id's
31st unique hashtag in this server's life (ig_hashtag_search or a media edge) answers
OAuthException 24.

Knobs (``--knob NAME=VALUE``, ``/__platform__/knobs``):

* ``graph_token``: the only token accepted (empty: any);
* ``graph_error=CODE[:COUNT]``: the next COUNT calls (1) answer OAuthException CODE (4, 17, 32,
  613, 80002: rate limits; 190: expired token; 10, 200: permission; 1, 2: transient); ``off``;
* ``graph_usage``: the percentage the usage headers report at least (0);
* ``graph_regain``: ``estimated_time_to_regain_access`` minutes of a rate limit (1);
* ``graph_hashtag_limit``: unique hashtags per user id (30; setting it empties the ledger);
* ``graph_recent_hours``: how far back recent_media reaches (24).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import threading
from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

from crawler.sandbox.common import Request, Response, dump_json, unknown_knob
from crawler.sandbox.instagram_ids import shortcode
from crawler.sandbox.instagram_ids import unit as _unit
from crawler.sandbox.world import EPOCH, Account, Post, World

USER_OFFSET = 17841400000000000
MEDIA_OFFSET = 1_700_000_000_000_000_000
CHILD_OFFSET = 2_000_000_000_000_000_000  # media ids stay below: post ids < 3e17
HASHTAG_OFFSET = 17841560000000000
DEFAULT_LIMIT, MAX_LIMIT = 25, 50
TOP_POOL = 500
PROFESSIONAL_SHARE = 0.45  # as InstagramApp's accounts (is_professional_account)
RATE_LIMIT_MESSAGES = {
    4: "(#4) Application request limit reached",
    17: "(#17) User request limit reached",
    32: "(#32) Page request limit reached",
    613: "(#613) Calls to this api have exceeded the rate limit.",
    80002: "There have been too many calls to this Instagram account. Wait a bit and try again.",
}
OTHER_ERRORS = {
    190: ("Error validating access token: Session has expired.", 463),
    10: ("(#10) Application does not have permission for this action", None),
    200: ("(#200) Requires instagram_basic permission to manage the object", None),
    1: ("An unknown error has occurred.", None),
    2: ("An unexpected error has occurred. Please retry your request later.", None),
}
ERROR_CODES = tuple(sorted({*RATE_LIMIT_MESSAGES, *OTHER_ERRORS}))
_PATH = re.compile(r"/graph/(v\d+\.\d+)/([^?]*)")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
USER_FIELDS = ("id", "ig_id", "username", "name", "biography", "website", "followers_count",
               "follows_count", "media_count", "profile_picture_url", "media")
MEDIA_FIELDS = ("id", "caption", "like_count", "comments_count", "timestamp", "permalink",
                "media_type", "media_product_type", "media_url", "username", "children",
                "is_comment_enabled", "thumbnail_url")
CHILD_FIELDS = ("id", "media_type", "media_url", "permalink", "timestamp")


def is_professional(seed: int, account: Account) -> bool:
    """A business or creator account (``is_professional_account`` of the web sandbox)."""
    return _unit(seed, "ig-account", account.index) < PROFESSIONAL_SHARE


def graph_user_id(account: Account) -> str:
    return str(USER_OFFSET + account.index)


def graph_media_id(post: Post) -> str:
    return str(MEDIA_OFFSET + int(post.id))


def post_id_of(media_id: str) -> int | None:
    """The world post id of a Graph media id (None when it is none)."""
    if not media_id.isdigit() or int(media_id) <= MEDIA_OFFSET or int(media_id) >= CHILD_OFFSET:
        return None
    return int(media_id) - MEDIA_OFFSET


def hashtag_id(tag: str) -> str:
    """The id of a hashtag (the one the web sandbox's hashtag page names)."""
    return str(HASHTAG_OFFSET + int(_unit("tag", tag) * 10**10))


def permalink(post: Post) -> str:
    return f"https://www.instagram.com/p/{shortcode(post.id)}/"


def graph_caption(text: str) -> str:
    """A caption as the Graph API shows it: mentions without their ``@``."""
    return re.sub(r"(?<![\w@])@(?=[A-Za-z0-9._])", "", text)


def timestamp(post: Post) -> str:
    return post.created_at.strftime("%Y-%m-%dT%H:%M:%S+0000")


# --- the fields parameter ---------------------------------------------------------------------


@dataclass
class Field:
    """One item of a ``fields`` expansion: ``media.after(C).limit(5){id,caption}``."""

    name: str
    modifiers: dict[str, str] = field(default_factory=dict)
    children: list[Field] | None = None


class FieldsError(ValueError):
    pass


def parse_fields(text: str) -> list[Field]:
    """Read a Graph ``fields`` value (nested ``{...}``, ``.name(arg)`` modifiers);
    FieldsError for what is not one."""
    fields, rest = _fields(text.strip(), 0)
    if rest != len(text.strip()):
        raise FieldsError(f"Syntax error \"Expected end of string instead of \"{text[rest:][:10]}\".\"")
    return fields


def _fields(text: str, at: int) -> tuple[list[Field], int]:
    out: list[Field] = []
    while True:
        match = _NAME.match(text, at)
        if not match:
            raise FieldsError(f"Syntax error \"Expected a field name at character {at}\"")
        item = Field(match.group())
        at = match.end()
        while at < len(text) and text[at] == ".":
            modifier = _NAME.match(text, at + 1)
            if not modifier or not text.startswith("(", modifier.end()):
                raise FieldsError(f"Syntax error \"Expected a modifier at character {at + 1}\"")
            close = text.find(")", modifier.end())
            if close < 0:
                raise FieldsError("Syntax error \"Expected \")\"\"")
            item.modifiers[modifier.group()] = text[modifier.end() + 1:close]
            at = close + 1
        if at < len(text) and text[at] == "{":
            item.children, at = _fields(text, at + 1)
            if at >= len(text) or text[at] != "}":
                raise FieldsError("Syntax error \"Expected \"}\"\"")
            at += 1
        out.append(item)
        if at < len(text) and text[at] == ",":
            at += 1
            continue
        return out, at


def _cursor(kind: str, value: int) -> str:
    return base64.b64encode(f"graph:{kind}:{value}".encode()).decode().rstrip("=")


def _after(cursor: str | None, kind: str) -> int | None:
    """The value a cursor of ``kind`` holds; ValueError for one that is not ours."""
    if not cursor:
        return None
    try:
        text = base64.b64decode(cursor + "=" * (-len(cursor) % 4), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError(cursor) from None
    prefix, got, number = text.split(":", 2) if text.count(":") == 2 else ("", "", "")
    if prefix != "graph" or got != kind or not number.isdigit():
        raise ValueError(cursor)
    return int(number)


class GraphError(Exception):
    def __init__(self, status: int, code: int, message: str, *, subcode: int | None = None,
                 kind: str = "OAuthException", title: str | None = None,
                 user_message: str | None = None, transient: bool = False) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.subcode = status, code, message, subcode
        self.kind, self.title, self.user_message, self.transient = kind, title, user_message, transient

    def body(self, trace: str) -> dict:
        error: dict[str, Any] = {"message": self.message, "type": self.kind, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        error["is_transient"] = self.transient
        if self.title:
            error["error_user_title"] = self.title
        if self.user_message:
            error["error_user_msg"] = self.user_message
        error["fbtrace_id"] = trace
        return {"error": error}


def _bad_parameter(message: str) -> GraphError:
    return GraphError(400, 100, f"(#100) {message}")


def _unsupported(object_id: str) -> GraphError:
    return GraphError(400, 100, f"Unsupported get request. Object with ID '{object_id}' does not "
                      "exist, cannot be loaded due to missing permissions, or does not support "
                      "this operation. Please read the Graph API documentation at "
                      "https://developers.facebook.com/docs/graph-api", subcode=33,
                      kind="GraphMethodException")


def coded_error(code: int, regain: int = 1) -> GraphError:
    """The OAuthException a ``graph_error`` knob answers with."""
    if code in RATE_LIMIT_MESSAGES:
        return GraphError(403 if code == 613 else 400, code, RATE_LIMIT_MESSAGES[code],
                          subcode=2207051 if code == 80002 else None, transient=True)
    message, subcode = OTHER_ERRORS[code]
    status = {190: 400, 10: 403, 200: 403, 1: 500, 2: 503}[code]
    return GraphError(status, code, message, subcode=subcode, transient=code in (1, 2))


class GraphApi:
    """The Graph API routes of the Instagram sandbox (``InstagramApp`` mounts them)."""

    #: The knobs (merged into ``InstagramApp.KNOBS``) and what each does.
    KNOBS: ClassVar[dict[str, str]] = {
        "graph_token": "the only Graph API token accepted (empty: any)",
        "graph_error": "CODE[:COUNT]: the next COUNT Graph calls answer OAuthException CODE "
                       "(4, 17, 32, 613, 80002, 190, 10, 200, 1, 2); off",
        "graph_usage": "percentage the Graph usage headers report at least (0)",
        "graph_regain": "estimated_time_to_regain_access minutes of a Graph rate limit (1)",
        "graph_hashtag_limit": "unique hashtags per user id (30); setting it empties the ledger",
        "graph_recent_hours": "hours back recent_media reaches (24)",
    }

    def __init__(self, world: World) -> None:
        self.world = world
        self.seed = world.seed
        self.lock = threading.Lock()
        self.token = ""
        self.error_code: int | None = None
        self.errors_left = 0
        self.usage = 0
        self.regain = 1
        self.hashtag_limit = 30
        self.recent_hours = 24
        self.calls = 0
        self.tokens_seen = 0
        self.tokens_in_query = 0
        self.served: dict[str, int] = {}
        self.ledger: dict[str, list[str]] = {}
        self._tag_names = lru_cache(maxsize=1)(self._compute_tag_names)
        self._top = lru_cache(maxsize=1_024)(self._compute_top)

    # -- knobs -------------------------------------------------------------------------------

    def configure(self, knobs: Mapping[str, str]) -> None:
        """Apply knobs (ValueError, one line, and nothing changed for a bad one)."""
        values: dict[str, Any] = {}
        for name, raw in knobs.items():
            text = str(raw).strip()
            if name not in self.KNOBS:
                raise unknown_knob("instagram", name, self.KNOBS)
            if name == "graph_token":
                values[name] = text
            elif name == "graph_error":
                values[name] = self._error_knob(text)
            else:
                try:
                    number = int(text)
                except ValueError:
                    raise ValueError(f"knob {name} must be a whole number, not {text!r}") from None
                if number < 0 or (name == "graph_usage" and number > 100):
                    raise ValueError(f"knob {name} out of range: {number}")
                values[name] = number
        with self.lock:
            if "graph_token" in values:
                self.token = values["graph_token"]
            if "graph_error" in values:
                self.error_code, self.errors_left = values["graph_error"]
            if "graph_usage" in values:
                self.usage = values["graph_usage"]
            if "graph_regain" in values:
                self.regain = values["graph_regain"]
            if "graph_hashtag_limit" in values:
                self.hashtag_limit = values["graph_hashtag_limit"]
                self.ledger.clear()
            if "graph_recent_hours" in values:
                self.recent_hours = values["graph_recent_hours"]

    @staticmethod
    def _error_knob(text: str) -> tuple[int | None, int]:
        if text.lower() in ("", "off", "none", "0"):
            return None, 0
        code, _, count = text.partition(":")
        try:
            number, times = int(code), int(count or 1)
        except ValueError:
            raise ValueError(f"knob graph_error must be CODE[:COUNT], not {text!r}") from None
        if number not in ERROR_CODES or times < 1:
            raise ValueError(f"knob graph_error: code must be one of "
                             f"{', '.join(map(str, ERROR_CODES))} and COUNT at least 1, not {text!r}")
        return number, times

    def knob_values(self) -> dict[str, Any]:
        return {"graph_token": "***" if self.token else "",
                "graph_error": f"{self.error_code}:{self.errors_left}" if self.errors_left else "off",
                "graph_usage": self.usage, "graph_regain": self.regain,
                "graph_hashtag_limit": self.hashtag_limit,
                "graph_recent_hours": self.recent_hours}

    def state(self) -> dict:
        with self.lock:
            return {"calls": self.calls, "tokens_seen": self.tokens_seen,
                    "tokens_in_query": self.tokens_in_query, "served": dict(self.served),
                    "hashtags": {user: list(tags) for user, tags in self.ledger.items()}}

    # -- the server's interface ----------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        trace = hashlib.blake2b(request.target.encode(), digest_size=9).hexdigest()
        try:
            match = _PATH.fullmatch(request.path)
            if match is None:
                raise _bad_parameter("Unknown path components")
            self._authorize(request)
            with self.lock:
                self.calls += 1
                forced = self.error_code if self.errors_left > 0 else None
                if forced is not None:
                    self.errors_left -= 1
            if forced is not None:
                raise coded_error(forced, self.regain)
            body = self._route(request, match.group(1), [s for s in match.group(2).split("/") if s])
        except GraphError as error:
            limited = error.code in RATE_LIMIT_MESSAGES
            self._count(f"error_{error.code}")
            return Response(error.status, dump_json(error.body(trace)),
                            headers=self.headers(request, trace, limited=limited))
        return Response(200, dump_json(body), headers=self.headers(request, trace))

    def fault_response(self, kind: str, request: Request) -> Response:
        """An injected fault as the Graph API answers it: "429" is rate limit code 4."""
        trace = hashlib.blake2b(request.target.encode(), digest_size=9).hexdigest()
        error = coded_error({"429": 4, "500": 1, "503": 2}[kind], self.regain)
        return Response(error.status, dump_json(error.body(trace)),
                        headers=self.headers(request, trace, limited=kind == "429"))

    def headers(self, request: Request, trace: str, *, limited: bool = False) -> list[tuple[str, str]]:
        percent = 100 if limited else self.usage
        regain = self.regain if limited or percent >= 100 else 0
        user = request.query.get("user_id") or self._caller(request) or "0"
        business = {user: [{"type": "instagram", "call_count": percent,
                            "total_cputime": percent // 2, "total_time": percent // 2,
                            "estimated_time_to_regain_access": regain}]}
        return [("facebook-api-version", "v21.0"), ("x-fb-trace-id", trace),
                ("x-app-usage", json.dumps({"call_count": percent, "total_cputime": percent // 2,
                                            "total_time": percent // 2})),
                ("x-business-use-case-usage", json.dumps(business)),
                ("cache-control", "private, no-cache, no-store, must-revalidate")]

    @staticmethod
    def _caller(request: Request) -> str | None:
        match = _PATH.fullmatch(request.path)
        first = match.group(2).split("/")[0] if match else ""
        return first if first.isdigit() else None

    def _count(self, what: str) -> None:
        with self.lock:
            self.served[what] = self.served.get(what, 0) + 1

    def _authorize(self, request: Request) -> None:
        header = request.header("authorization") or ""
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if not token and request.query.get("access_token"):
            token = request.query["access_token"]
            with self.lock:
                self.tokens_in_query += 1
        if not token:
            raise GraphError(400, 104, "An access token is required to request this resource.")
        if self.token and token != self.token:
            raise GraphError(400, 190, "Invalid OAuth access token - Cannot parse access token")
        with self.lock:
            self.tokens_seen += 1

    def _route(self, request: Request, version: str, segments: list[str]) -> dict:
        if segments == ["ig_hashtag_search"]:
            return self.hashtag_search(request)
        if len(segments) == 2 and segments[1] in ("top_media", "recent_media"):
            return self.hashtag_media(request, segments[0], segments[1])
        if len(segments) == 1 and segments[0].isdigit():
            return self.user_node(request, segments[0])
        raise _unsupported("/".join(segments) or version)

    # -- users ---------------------------------------------------------------------------------

    def user_node(self, request: Request, user_id: str) -> dict:
        try:
            fields = parse_fields(request.query.get("fields") or "id")
        except FieldsError as exc:
            raise _bad_parameter(str(exc)) from None
        discovery = next((f for f in fields if f.name == "business_discovery"), None)
        if discovery is None:
            self._count("user")
            return {"id": user_id}
        username = discovery.modifiers.get("username", "").strip().lstrip("@").lower()
        if not username:
            raise _bad_parameter("The parameter username is required")
        account = self.world.account_by_username(username)
        if account is None or not is_professional(self.seed, account):
            self._count("not_discoverable")
            raise GraphError(400, 110, "Invalid user id", subcode=2207013,
                             title="Cannot find User",
                             user_message=f"The user with username: {username} cannot be found.")
        self._count("business_discovery")
        return {"business_discovery": self.account_node(account, discovery.children or
                                                         [Field("id")], request.base_url),
                "id": user_id}

    def account_node(self, account: Account, fields: list[Field], base: str) -> dict:
        node: dict[str, Any] = {}
        for item in fields:
            name = item.name
            if name == "id":
                node["id"] = graph_user_id(account)
            elif name == "ig_id":
                node["ig_id"] = int(account.id)
            elif name == "username":
                node["username"] = account.username.lower()
            elif name == "name":
                node["name"] = account.display_name
            elif name == "biography":
                node["biography"] = account.note
            elif name == "website":
                if account.website:
                    node["website"] = account.website
            elif name == "followers_count":
                node["followers_count"] = account.followers
            elif name == "follows_count":
                node["follows_count"] = account.following
            elif name == "media_count":
                node["media_count"] = account.statuses_count
            elif name == "profile_picture_url":
                node["profile_picture_url"] = f"{base}/media/profile/{account.id}_s150.jpg"
            elif name == "media":
                node["media"] = self.account_media(account, item, base)
            else:
                raise _bad_parameter(f"Tried accessing nonexisting field ({name}) on node type "
                                     "(IGUser)")
        return node

    def account_media(self, account: Account, edge: Field, base: str) -> dict:
        limit = self._limit(edge.modifiers.get("limit"))
        try:
            after = _after(edge.modifiers.get("after"), "user")
        except ValueError:
            raise _bad_parameter("Invalid cursor") from None
        ids = self.world.post_ids(account)  # ascending
        high = len(ids) if after is None else bisect_left(ids, after)
        low = max(0, high - limit)
        page = list(reversed(ids[low:high]))
        media = [self.media_node(self.world.post(pid), edge.children or [Field("id")], base,
                                 owner=account) for pid in page]
        out: dict[str, Any] = {"data": media}
        if page and low > 0:
            out["paging"] = {"cursors": {"before": _cursor("user", page[0]),
                                         "after": _cursor("user", page[-1])}}
        return out

    # -- media ---------------------------------------------------------------------------------

    @staticmethod
    def media_type(post: Post) -> str:
        if len(post.media) > 1:
            return "CAROUSEL_ALBUM"
        if post.media and post.media[0].kind != "image":
            return "VIDEO"
        return "IMAGE"

    def media_node(self, post: Post, fields: list[Field], base: str, *,
                   owner: Account | None = None) -> dict:
        node: dict[str, Any] = {}
        code = shortcode(post.id)
        kind = self.media_type(post)
        for item in fields:
            name = item.name
            if name == "id":
                node["id"] = graph_media_id(post)
            elif name == "caption":
                if post.text:
                    node["caption"] = graph_caption(post.text)
            elif name == "like_count":
                node["like_count"] = post.favourites
            elif name == "comments_count":
                node["comments_count"] = post.replies
            elif name == "timestamp":
                node["timestamp"] = timestamp(post)
            elif name == "permalink":
                node["permalink"] = permalink(post)
            elif name == "media_type":
                node["media_type"] = kind
            elif name == "media_product_type":
                node["media_product_type"] = "REELS" if kind == "VIDEO" else "FEED"
            elif name in ("media_url", "thumbnail_url"):
                if kind != "CAROUSEL_ALBUM":
                    node[name] = f"{base}/media/{code}.jpg"
            elif name == "username" and owner is not None:
                node["username"] = owner.username.lower()
            elif name == "children":
                if kind == "CAROUSEL_ALBUM":
                    node["children"] = {"data": [
                        self.child_node(post, index, item.children or [Field("id")], base)
                        for index in range(len(post.media))]}
            elif name == "is_comment_enabled":
                node["is_comment_enabled"] = True
            else:
                on = "IGMedia" if owner is not None else "ShadowIGMediaHashtag"
                raise _bad_parameter(f"Tried accessing nonexisting field ({name}) on node type "
                                     f"({on})")
        return node

    def child_node(self, post: Post, index: int, fields: list[Field], base: str) -> dict:
        media = post.media[index]
        node: dict[str, Any] = {}
        for item in fields:
            if item.name == "id":
                node["id"] = str(CHILD_OFFSET + int(media.id))
            elif item.name == "media_type":
                node["media_type"] = "IMAGE" if media.kind == "image" else "VIDEO"
            elif item.name == "media_url":
                node["media_url"] = f"{base}/media/{media.key}.jpg"
            elif item.name == "permalink":
                node["permalink"] = f"https://www.instagram.com/p/{shortcode(media.id)}/"
            elif item.name == "timestamp":
                node["timestamp"] = timestamp(post)
            else:
                raise _bad_parameter(f"Tried accessing nonexisting field ({item.name}) on node "
                                     "type (IGMedia)")
        return node

    # -- hashtags -------------------------------------------------------------------------------

    def _compute_tag_names(self) -> dict[str, str]:
        return {hashtag_id(tag): tag for tag in self.world.tags()}

    def _use_hashtag(self, user_id: str, tag: str) -> None:
        """The weekly rule: a user id's unique hashtags up to the limit."""
        with self.lock:
            used = self.ledger.setdefault(user_id, [])
            if tag in used:
                return
            if len(used) >= self.hashtag_limit:
                raise GraphError(400, 24, f"(#24) You can query a maximum of {self.hashtag_limit} "
                                 "unique hashtags within a 7 day period", transient=False,
                                 title="Hashtag limit reached",
                                 user_message=f"{user_id} has queried {len(used)} unique "
                                 "hashtags in the last 7 days")
            used.append(tag)

    def _user_id(self, request: Request) -> str:
        user_id = request.query.get("user_id", "").strip()
        if not user_id:
            raise _bad_parameter("The parameter user_id is required")
        if not user_id.isdigit():
            raise _unsupported(user_id)
        return user_id

    def hashtag_search(self, request: Request) -> dict:
        user_id = self._user_id(request)
        tag = request.query.get("q", "").strip().lstrip("#").lower()
        if not tag:
            raise _bad_parameter("The parameter q is required")
        self._count("ig_hashtag_search")
        if not self.world.tag_post_ids(tag):
            return {"data": []}
        self._use_hashtag(user_id, tag)
        found: dict[str, str] = {"id": hashtag_id(tag)}
        if "name" in (request.query.get("fields") or ""):
            found["name"] = tag
        return {"data": [found]}

    def _compute_top(self, tag: str) -> tuple[int, ...]:
        pool = self.world.tag_post_ids(tag)[-TOP_POOL:]
        scored = sorted(((self.world.post(pid).favourites + self.world.post(pid).replies, pid)
                         for pid in pool), reverse=True)
        return tuple(pid for _, pid in scored)

    def _limit(self, raw: str | None) -> int:
        if raw is None or raw == "":
            return DEFAULT_LIMIT
        if not raw.strip().isdigit() or int(raw) < 1:
            raise _bad_parameter("Param limit must be a positive number")
        return min(int(raw), MAX_LIMIT)

    def hashtag_media(self, request: Request, hid: str, edge: str) -> dict:
        tag = self._tag_names().get(hid)
        if tag is None:
            raise _unsupported(hid)
        user_id = self._user_id(request)
        try:
            fields = parse_fields(request.query.get("fields") or "id")
        except FieldsError as exc:
            raise _bad_parameter(str(exc)) from None
        if any(f.name == "username" for f in fields):
            raise _bad_parameter("Tried accessing nonexisting field (username) on node type "
                                 "(ShadowIGMediaHashtag)")
        limit = self._limit(request.query.get("limit"))
        self._use_hashtag(user_id, tag)
        self._count(edge)
        try:
            if edge == "top_media":
                ranked = self._top(tag)
                start = _after(request.query.get("after"), "top") or 0
                page = list(ranked[start:start + limit])
                more, cursor = start + limit < len(ranked), _cursor("top", start + limit)
            else:
                since = EPOCH - timedelta(hours=self.recent_hours)
                ids = [pid for pid in reversed(self.world.tag_post_ids(tag))
                       if self.world.post(pid).created_at > since]
                after = _after(request.query.get("after"), "recent")
                if after is not None:
                    ids = [pid for pid in ids if pid < after]
                page = ids[:limit]
                more = len(ids) > limit
                cursor = _cursor("recent", page[-1]) if page else ""
        except ValueError:
            raise _bad_parameter("Invalid cursor") from None
        out: dict[str, Any] = {"data": [self.media_node(self.world.post(pid), fields,
                                                        request.base_url) for pid in page]}
        if more and page:
            query = {k: v for k, v in request.query.items() if k not in ("after", "access_token")}
            query["after"] = cursor
            next_url = (f"{request.base_url}/graph/v21.0/{hid}/{edge}?"
                        f"{urlencode(query, quote_via=quote, safe=',{}')}")
            out["paging"] = {"cursors": {"after": cursor}, "next": next_url}
        return out


__all__ = ["CHILD_OFFSET", "HASHTAG_OFFSET", "MEDIA_OFFSET", "USER_OFFSET", "GraphApi",
           "coded_error", "graph_caption", "graph_media_id", "graph_user_id", "hashtag_id",
           "is_professional", "parse_fields", "permalink", "post_id_of"]
