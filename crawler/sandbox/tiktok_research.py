"""The sandbox world served through the TikTok Research API, mounted by the TikTok app.

:class:`~crawler.sandbox.tiktok.TikTokApp` hands every POST and every ``/v2/`` path to
:class:`ResearchApi`, so one sandbox (``--platform tiktok``) serves the same world through the
web pages and through the API, on the same origin. Shapes copy the real recordings in
``../shared/realworld/tiktok`` (``tiktoklibrary_research_api_*``: the ``{"data": ...,
"error": {"code", "message", "log_id"}}`` envelope, videos with integer ids and the requested
fields only) and, where no recording exists (the token endpoint, ``user/info``, the errors'
exact messages and HTTP statuses), TikTok's API reference: the statuses of
https://developers.tiktok.com/doc/tiktok-api-v2-error-handling, the error bodies of
https://developers.tiktok.com/doc/client-access-token-management, the user-info fields of
https://developers.tiktok.com/doc/research-api-specs-query-user-info. The messages for unknown
and private users are modelled on what third-party clients check for ("cannot find the user",
"is private", "cannot return this user's information"): no recording shows them.

Routes (POST only; anything else 405, and a POST to a web-app path too):

* ``/v2/oauth/token/`` (form ``client_key``, ``client_secret``, ``grant_type=client_credentials``;
  :data:`CLIENT_KEY` / :data:`CLIENT_SECRET`): ``{"access_token": "clt.…", "expires_in",
  "token_type": "Bearer"}``; a missing field 400 ``invalid_request`` ("Client secret is missed
  in request."), a wrong key or secret 401 ``invalid_client`` (OAuth 2.0's status: TikTok
  documents only the body). Tokens are HMAC-signed and checked without state.
* ``/v2/research/video/query/?fields=...`` (``Authorization: Bearer``; JSON ``query`` with
  ``and``/``or``/``not`` conditions on ``hashtag_name``, ``username``, ``region_code``
  (``IN``/``EQ``), ``start_date``/``end_date`` ``YYYYMMDD``, ``max_count`` (default 20, at most
  100), ``cursor``, ``search_id``): the matching videos created in those UTC days, by
  descending id (newest first), ``cursor`` an offset, ``search_id`` a digest of the query (a
  later page naming another is 400 "Search Id … is invalid or expired"). A window longer than
  30 days is 400 ``invalid_params`` ("The end_date must be no more than 30 days after the
  start_date", the reference's rule). The sandbox needs a ``hashtag_name`` or ``username``
  condition (it does not scan the whole world).
* ``/v2/research/user/info/?fields=...`` (JSON ``username``): the requested fields of
  ``display_name``, ``bio_description``, ``avatar_url``, ``is_verified``, ``follower_count``,
  ``following_count``, ``likes_count``, ``video_count`` (also ``open_id``, ``is_private``);
  an unknown user 400 ``invalid_params`` "API cannot find the user: …", a private (locked)
  one 400 ``invalid_params`` "… is private: the API cannot return this user's information".

No token, another one or an expired one: 401 ``access_token_invalid``. TikTok's words map onto
the world's as on the web app: likes = favourites, comments = replies, shares = reblogs, views
from :func:`~crawler.sandbox.tiktok.video_numbers`; a video's ``region_code`` is its author's,
drawn from the author's language.

Knobs (with the TikTok app's, ``--knob`` or ``/__platform__/knobs``):

* ``token_ttl`` (seconds, a whole number; default: tokens say ``expires_in`` 7200 and never
  expire in the sandbox): tokens say this ``expires_in`` and are refused once it is over;
* ``daily_requests`` / ``daily_records`` (whole numbers; empty or ``none``: no cap, the
  default): once that many API calls were answered (records: videos and users returned), calls
  get 429 ``daily_quota_limit_exceeded``; setting one starts the counts afresh;
* ``missing_likes`` / ``nul_usernames`` (rates from 0 to 1, default 0): the share of videos
  answered without ``like_count``, and with six ``\\u0000`` in the ``username`` (the
  recordings' quirks), decided per video from the seed.

A 429 ``rate_limit_exceeded`` comes from the server's fault knobs (``--faults 429=RATE``,
``throttle_after=N``), which ask :meth:`ResearchApi.fault_response` for the body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any, ClassVar, Protocol
from urllib.parse import parse_qsl

from crawler.sandbox.common import Request, Response, dump_json, parse_rate
from crawler.sandbox.world import EPOCH, Account, Post, World, snowflake_time

CLIENT_KEY = "sandbox-research-client-key"
CLIENT_SECRET = "sandbox-research-client-secret"  # noqa: S105 - a published test credential
TOKEN_PATH = "/v2/oauth/token/"  # noqa: S105 - a path, not a password
VIDEO_QUERY_PATH = "/v2/research/video/query/"
USER_INFO_PATH = "/v2/research/user/info/"
PREFIX = "/v2/"
DEFAULT_EXPIRES_IN = 7200
DEFAULT_MAX_COUNT = 20
MAX_COUNT = 100
MAX_WINDOW_DAYS = 30
VIDEO_FIELDS = ("id", "video_description", "create_time", "region_code", "share_count",
                "view_count", "like_count", "comment_count", "music_id", "hashtag_names",
                "username", "effect_ids", "playlist_id", "voice_to_text", "favorites_count",
                "video_duration")
USER_FIELDS = ("display_name", "bio_description", "avatar_url", "is_verified", "follower_count",
               "following_count", "likes_count", "video_count", "open_id", "is_private")
QUERY_FIELDS = ("hashtag_name", "username", "region_code")
#: Where the world's accounts post from, by language (a video's region_code is its author's).
REGIONS = {"en": ("US", "GB", "CA", "AU"), "es": ("ES", "MX", "AR"), "pt": ("BR", "PT"),
           "fr": ("FR", "CA", "BE"), "de": ("DE", "AT", "CH")}
_LOG_TIME = EPOCH.strftime("%Y%m%d%H%M%S")


class WebApp(Protocol):
    """What the research API reads of the TikTok web app (the same handles and counts)."""

    def handle_of(self, account: Account) -> str: ...

    def user_stats(self, account: Account) -> tuple[dict, dict]: ...

    def user_json(self, account: Account, base: str, *, full: bool = True) -> dict: ...


class ApiRefusal(Exception):
    """An error answer: status, code, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _digest(*parts: object) -> bytes:
    return hashlib.blake2b(repr(parts).encode(), digest_size=16).digest()


def _share(seed: int, *parts: object) -> float:
    return int.from_bytes(_digest(seed, *parts)[:8], "big") / 2**64


def _whole(name: str, value: str, *, minimum: int) -> int | None:
    text = value.strip().lower()
    if text in ("", "none", "null", "off"):
        return None
    if not (text.isascii() and text.isdigit()) or int(text) < minimum:
        raise ValueError(f"knob {name} must be a whole number of at least {minimum} "
                         f"(empty: off), not {value.strip()!r}")
    return int(text)


class ResearchApi:
    """The Research API of one world (see the module docstring). Thread-safe."""

    KNOBS: ClassVar[dict[str, str]] = {
        "token_ttl": "seconds a Research API token lasts (its expires_in; default: 7200, never "
                     "expires)",
        "daily_requests": "Research API calls answered before 429 daily_quota_limit_exceeded "
                          "(empty: no cap)",
        "daily_records": "videos and users returned before 429 daily_quota_limit_exceeded "
                         "(empty: no cap)",
        "missing_likes": "share of videos answered without like_count (0 to 1)",
        "nul_usernames": "share of videos whose username holds six \\u0000 (0 to 1)",
    }

    def __init__(self, world: World, *, web: WebApp,
                 video_numbers: Callable[[int, Post], dict[str, int]],
                 clock: Callable[[], float] = time.time) -> None:
        self.world = world
        self.web = web
        self.video_numbers = video_numbers
        self.clock = clock
        self.key = _digest("research-token", world.seed)
        self.knobs: dict[str, Any] = {}
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()

    # -- knobs -------------------------------------------------------------------------

    def parse(self, knobs: Mapping[str, str]) -> dict[str, Any]:
        """The research knobs among ``knobs`` read (ValueError, one line, for a bad one)."""
        parsed: dict[str, Any] = {}
        for name, value in knobs.items():
            if name == "token_ttl":
                parsed[name] = _whole(name, value, minimum=1)
            elif name in ("daily_requests", "daily_records"):
                parsed[name] = _whole(name, value, minimum=0)
            elif name in ("missing_likes", "nul_usernames"):
                parsed[name] = parse_rate(name, value)
            else:
                raise ValueError(f"{name!r} is not a Research API knob")
        return parsed

    def apply(self, parsed: Mapping[str, Any]) -> None:
        with self._lock:
            for name, value in parsed.items():
                self.knobs[name] = value
            if "daily_requests" in parsed or "daily_records" in parsed:
                self.counts.pop("requests", None)
                self.counts.pop("records", None)

    @property
    def touched(self) -> bool:
        """Whether a knob was set or a call answered (the TikTok app shows the state then)."""
        with self._lock:
            return bool(self.knobs or self.counts)

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {"knobs": {k: v for k, v in self.knobs.items() if v is not None},
                    "counts": dict(self.counts)}

    def _count(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self.counts[name] = self.counts.get(name, 0) + amount

    # -- the app's interface -----------------------------------------------------------

    @staticmethod
    def owns(request: Request) -> bool:
        return request.method == "POST" or request.path.startswith(PREFIX)

    def handle(self, request: Request) -> Response:
        path = request.path if request.path.endswith("/") else request.path + "/"
        if not request.path.startswith(PREFIX):  # a POST to the web app: refused as before
            return Response(405, dump_json({"error": "Method not allowed"}))
        if request.method != "POST":
            return self._refusal(request, ApiRefusal(405, "invalid_params",
                                                     "Only POST is supported"))
        try:
            if path == TOKEN_PATH:
                return self.token(request)
            if path == VIDEO_QUERY_PATH:
                return self.video_query(request)
            if path == USER_INFO_PATH:
                return self.user_info(request)
            raise ApiRefusal(404, "invalid_params", f"Unknown endpoint {request.path}")
        except ApiRefusal as refusal:
            return self._refusal(request, refusal)

    def fault_response(self, kind: str, request: Request) -> Response:
        if kind == "429":
            refusal = ApiRefusal(429, "rate_limit_exceeded",
                                 "The API rate limit was exceeded. Please try again later.")
        elif kind in ("500", "503"):
            refusal = ApiRefusal(int(kind), "internal_error",
                                 "Something went wrong. Please try again later.")
        else:
            raise ValueError(f"no {kind!r} response")
        return self._refusal(request, refusal)

    def _refusal(self, request: Request, refusal: ApiRefusal) -> Response:
        if refusal.code == "access_token_invalid":
            self._count("tokens_refused")
        if request.path.rstrip("/") + "/" == TOKEN_PATH:
            body: dict[str, Any] = {"error": refusal.code, "error_description": refusal.message,
                                    "log_id": self.log_id(request)}
        else:
            body = {"data": {}, "error": {"code": refusal.code, "message": refusal.message,
                                          "log_id": self.log_id(request)}}
        return Response(refusal.status, dump_json(body))

    @staticmethod
    def log_id(request: Request) -> str:
        """``20261001000000`` + 18 hex digits, like the recordings' ``log_id``."""
        digest = hashlib.blake2b(request.target.encode() + request.body, digest_size=9)
        return _LOG_TIME + digest.hexdigest().upper()

    def _ok(self, request: Request, data: dict[str, Any]) -> Response:
        return Response(200, dump_json({"data": data, "error": {
            "code": "ok", "message": "", "log_id": self.log_id(request)}}))

    # -- tokens ------------------------------------------------------------------------

    def _sign(self, expires_ms: int) -> str:
        return hmac.new(self.key, str(expires_ms).encode(), hashlib.sha256).hexdigest()[:40]

    def token(self, request: Request) -> Response:
        form = dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
        for name, label in (("client_key", "Client key"), ("client_secret", "Client secret"),
                            ("grant_type", "Grant type")):
            if not form.get(name):
                raise ApiRefusal(400, "invalid_request", f"{label} is missed in request.")
        if form["grant_type"] != "client_credentials":
            raise ApiRefusal(400, "unsupported_grant_type",
                             "The grant type is not supported by this endpoint.")
        key_ok = hmac.compare_digest(form["client_key"], CLIENT_KEY)
        if not (key_ok and hmac.compare_digest(form["client_secret"], CLIENT_SECRET)):
            raise ApiRefusal(401, "invalid_client", "Client key or secret is incorrect.")
        ttl = self.knobs.get("token_ttl")
        expires_ms = 0 if ttl is None else int(self.clock() * 1000) + ttl * 1000
        self._count("tokens_issued")
        return Response(200, dump_json({
            "access_token": f"clt.{expires_ms}.{self._sign(expires_ms)}",
            "expires_in": DEFAULT_EXPIRES_IN if ttl is None else ttl,
            "token_type": "Bearer"}))

    def check_token(self, request: Request) -> None:
        scheme, _, token = (request.header("authorization") or "").partition(" ")
        parts = token.strip().split(".")
        if scheme.lower() != "bearer" or len(parts) != 3 or parts[0] != "clt" \
                or not parts[1].isdigit() \
                or not hmac.compare_digest(parts[2], self._sign(int(parts[1]))):
            raise ApiRefusal(401, "access_token_invalid",
                             "The access token is invalid or not found in the request.")
        expires_ms = int(parts[1])
        if expires_ms and expires_ms <= self.clock() * 1000:
            raise ApiRefusal(401, "access_token_invalid", "The access token has expired.")

    def check_quota(self) -> None:
        with self._lock:
            requests = self.knobs.get("daily_requests")
            records = self.knobs.get("daily_records")
            spent = (requests is not None and self.counts.get("requests", 0) >= requests) or (
                records is not None and self.counts.get("records", 0) >= records)
            if spent:
                self.counts["daily_refused"] = self.counts.get("daily_refused", 0) + 1
        if spent:
            raise ApiRefusal(429, "daily_quota_limit_exceeded",
                             "You have exceeded the daily quota. The quota resets at 00:00 UTC.")

    def _call(self, request: Request, fields: tuple[str, ...]) -> tuple[list[str], dict]:
        """Token, quota, fields and JSON body of an API call (counted as a request)."""
        self.check_token(request)
        self.check_quota()
        self._count("requests")
        wanted = [f.strip() for f in request.query.get("fields", "").split(",") if f.strip()]
        if not wanted:
            raise ApiRefusal(400, "invalid_params", "fields is required")
        unknown = [f for f in wanted if f not in fields]
        if unknown:
            raise ApiRefusal(400, "invalid_params", f"Invalid fields: {','.join(unknown)}")
        try:
            body = json.loads(request.body or b"null")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ApiRefusal(400, "invalid_params", "The request body must be a JSON object")
        return list(dict.fromkeys(wanted)), body

    # -- video query -------------------------------------------------------------------

    def region(self, account: Account) -> str:
        choices = REGIONS.get(account.language, ("US",))
        return choices[int(_share(self.world.seed, "region", account.index) * len(choices))]

    def video_query(self, request: Request) -> Response:
        fields, body = self._call(request, VIDEO_FIELDS)
        start, end = _day(body, "start_date"), _day(body, "end_date")
        if end < start:
            raise ApiRefusal(400, "invalid_params", "The end_date must not be before the start_date")
        if (end - start).days > MAX_WINDOW_DAYS:
            raise ApiRefusal(400, "invalid_params",
                             "The end_date must be no more than 30 days after the start_date")
        max_count = _number(body, "max_count", DEFAULT_MAX_COUNT, 1, MAX_COUNT)
        cursor = _number(body, "cursor", 0, 0, 10**9)
        query = body.get("query")
        ids = self.matching(query, start, end)
        search_id = str(10**18 + int.from_bytes(_digest(
            self.world.seed, json.dumps(query, sort_keys=True), start, end)[:8], "big")
            % (9 * 10**18))
        given = body.get("search_id")
        if given not in (None, "") and str(given) != search_id:
            raise ApiRefusal(400, "invalid_params", f"Search Id {given} is invalid or expired")
        page = ids[cursor:cursor + max_count]
        videos = [self.video_json(self.world.post(pid), fields, request.base_url) for pid in page]
        self._count("records", len(videos))
        return self._ok(request, {"videos": videos, "cursor": cursor + len(page),
                                  "has_more": cursor + len(page) < len(ids),
                                  "search_id": search_id})

    def matching(self, query: Any, start: date, end: date) -> list[int]:
        """Ids of the videos the query selects, created from ``start`` to ``end`` (UTC days,
        both included), by descending id."""
        if not isinstance(query, dict) or not any(query.get(k) for k in ("and", "or", "not")):
            raise ApiRefusal(400, "invalid_params",
                             "The query must hold at least one non-empty and, or, not list")
        groups = {}
        for group in ("and", "or", "not"):
            conditions = query.get(group) or []
            if not isinstance(conditions, list):
                raise ApiRefusal(400, "invalid_params", f"query.{group} must be a list")
            groups[group] = [self.condition(c) for c in conditions]
        candidates: set[int] | None = None
        for field_name, values in (*groups["and"], *groups["or"]):
            found = self.posts_by(field_name, values)
            if found is not None:
                candidates = found if candidates is None else candidates | found
        if candidates is None:
            raise ApiRefusal(400, "invalid_params", "The sandbox needs a hashtag_name or "
                             "username condition in and/or")
        low = datetime.combine(start, datetime.min.time(), tzinfo=timezone.utc)
        high = datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=timezone.utc)
        out = []
        for pid in candidates:
            if not low <= snowflake_time(pid) < high:
                continue
            post = self.world.post(pid)
            if all(self.matches(post, c) for c in groups["and"]) \
                    and (not groups["or"] or any(self.matches(post, c) for c in groups["or"])) \
                    and not any(self.matches(post, c) for c in groups["not"]):
                out.append(pid)
        return sorted(out, reverse=True)

    @staticmethod
    def condition(raw: Any) -> tuple[str, tuple[str, ...]]:
        if not isinstance(raw, dict):
            raise ApiRefusal(400, "invalid_params", "A condition must be an object")
        name, operation, values = raw.get("field_name"), raw.get("operation"), \
            raw.get("field_values")
        if name not in QUERY_FIELDS:
            raise ApiRefusal(400, "invalid_params", f"Invalid field_name: {name}")
        if operation not in ("IN", "EQ"):
            raise ApiRefusal(400, "invalid_params", f"Invalid operation: {operation}")
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            raise ApiRefusal(400, "invalid_params", "field_values must be a list of strings")
        if operation == "EQ" and len(values) != 1:
            raise ApiRefusal(400, "invalid_params", "EQ takes one field value")
        if name == "region_code":
            return name, tuple(v.upper() for v in values)
        return name, tuple(v.lower() for v in values)

    def posts_by(self, field_name: str, values: tuple[str, ...]) -> set[int] | None:
        if field_name == "hashtag_name":
            return {pid for tag in values for pid in self.world.tag_post_ids(tag)}
        if field_name == "username":
            found: set[int] = set()
            for name in values:
                account = self.world.account_by_username(name)
                if account is not None:
                    found.update(self.world.post_ids(account))
            return found
        return None

    def matches(self, post: Post, condition: tuple[str, tuple[str, ...]]) -> bool:
        name, values = condition
        account = self.world.account(post.account_index)
        if name == "hashtag_name":
            return any(tag in values for tag in post.tags)
        if name == "username":
            return self.web.handle_of(account) in values
        return self.region(account) in values

    def video_json(self, post: Post, fields: list[str], base: str) -> dict[str, Any]:
        account = self.world.account(post.account_index)
        numbers = self.video_numbers(self.world.seed, post)
        username = self.web.handle_of(account)
        if _share(self.world.seed, "nul", post.id) < self.knobs.get("nul_usernames", 0.0):
            username = username[:-1] + "\u0000" * 6 + username[-1:]
        values: dict[str, Any] = {
            "id": int(post.id),
            "video_description": post.text.replace("\n\n", " ").replace("\n", " "),
            "create_time": int(post.created_at.timestamp()),
            "region_code": self.region(account),
            "share_count": post.reblogs,
            "view_count": numbers["views"],
            "like_count": post.favourites,
            "comment_count": post.replies,
            "music_id": numbers["music_id"],
            "hashtag_names": list(post.tags),
            "username": username,
            "effect_ids": ["0"],
            "playlist_id": 0,
            "voice_to_text": "",
            "favorites_count": post.quotes + post.reblogs // 3,
            "video_duration": numbers["duration"],
        }
        if _share(self.world.seed, "likes", post.id) < self.knobs.get("missing_likes", 0.0):
            del values["like_count"]
        return {name: values[name] for name in fields if name in values}

    # -- user info ---------------------------------------------------------------------

    def user_info(self, request: Request) -> Response:
        fields, body = self._call(request, USER_FIELDS)
        name = body.get("username")
        if not isinstance(name, str) or not name.strip():
            raise ApiRefusal(400, "invalid_params", "username is required")
        account = self.world.account_by_username(name.strip().lstrip("@"))
        if account is None:
            raise ApiRefusal(400, "invalid_params", f"API cannot find the user: {name}")
        if account.locked:
            raise ApiRefusal(400, "invalid_params", f"The user {name} is private: the API "
                             "cannot return this user's information")
        exact = {k: int(v) for k, v in self.web.user_stats(account)[1].items()}
        values: dict[str, Any] = {
            "display_name": account.display_name or account.username,
            "bio_description": account.note,
            "avatar_url": self.web.user_json(account, request.base_url, full=False)["avatarMedium"],
            "is_verified": account.followers >= 1_000_000,
            "follower_count": exact["followerCount"],
            "following_count": exact["followingCount"],
            "likes_count": exact["heartCount"],
            "video_count": exact["videoCount"],
            "open_id": f"sandbox-{_digest(self.world.seed, 'open_id', account.index).hex()}",
            "is_private": account.locked,
        }
        self._count("records")
        return self._ok(request, {name: values[name] for name in fields})


def _day(body: Mapping[str, Any], name: str) -> date:
    value = body.get(name)
    try:
        if not isinstance(value, str) or len(value) != 8:
            raise ValueError(value)
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        raise ApiRefusal(400, "invalid_params", f"Invalid {name}: {value!r} (use YYYYMMDD)") from None


def _number(body: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ApiRefusal(400, "invalid_params", f"Invalid {name}: {value!r} ({low} to {high})")
    return value


__all__ = ["CLIENT_KEY", "CLIENT_SECRET", "ResearchApi"]
