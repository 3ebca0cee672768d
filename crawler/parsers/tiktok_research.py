"""TikTok Research API bodies in, items out. Pure functions, no Scrapy, no network.

The Research API (``https://open.tiktokapis.com``, for approved academic and non-profit
researchers, see ``docs/tiktok.md``) answers every call with one envelope::

    {"data": {...}, "error": {"code": "ok", "message": "", "log_id": "2024..."}}

and its error codes as strings (``access_token_invalid`` 401, ``invalid_params`` 400,
``rate_limit_exceeded`` 429, ``daily_quota_limit_exceeded`` 429, ``internal_error`` 500, ...).
Formats read here, each from a real recording where one exists (``../shared/realworld/tiktok``,
``SOURCES.md``):

* ``POST /v2/research/video/query/`` (recorded: ``data.videos[]`` with ``id``, ``username``,
  ``create_time``, ``region_code``, ``video_description``, ``hashtag_names``, ``music_id``,
  ``view_count``, ``like_count``, ``comment_count``, ``share_count``; ``data.cursor``,
  ``data.has_more``, ``data.search_id``). A field the API left out stays missing: a video
  without ``like_count`` has ``likes=None``, never 0. Usernames can hold control characters
  (the recording has six ``\\u0000`` in one): :func:`clean_username` strips C0/C1 controls.
* ``POST /v2/research/video/comment/list/`` (recorded: ``data.comments[]`` with ``id``,
  ``video_id``, ``parent_comment_id``, ``text``, ``like_count``, ``create_time``). Comments
  name no author and are not posts of the video's author: recognised, and nothing for the
  warehouse (``[]``).
* ``POST /v2/research/user/info/``: **no recording exists**; the shape follows the API
  reference (https://developers.tiktok.com/doc/research-api-specs-query-user-info):
  ``data`` holds the requested fields of ``display_name``, ``bio_description``,
  ``avatar_url``, ``is_verified``, ``follower_count``, ``following_count``, ``likes_count``,
  ``video_count`` and no username (the caller names it). Private, deleted and unknown accounts
  come back as errors (``invalid_params``, the message saying why).
* ``POST /v2/oauth/token/`` (client credentials, from the reference
  https://developers.tiktok.com/doc/client-access-token-management): ``access_token``,
  ``expires_in`` (7200), ``token_type``; errors ``{"error": "invalid_request",
  "error_description": ..., "log_id": ...}``. :func:`token_answer` reads it;
  :func:`parse_document` never prints a token (``[]``).

What :func:`parse_document` returns:

===========================  ===============================================================
body                         items
===========================  ===============================================================
video query                  one ``PostItem`` per video; with ``hashtag`` also one
                             ``HashtagSightingItem`` each first (listing ``recent``: the API
                             returns videos newest first, by descending id)
user info (``username``)     ``[ProfileItem]`` (followers, following, videos, bio, verified)
comment list, token answer   ``[]``
error envelope               raises: ``rate_limit_exceeded`` ``BlockedPage("rate_limited")``,
                             ``daily_quota_limit_exceeded`` ``BlockedPage("quota_exhausted")``,
                             token and scope errors ``BlockedPage("auth_required")`` /
                             ``BlockedPage("auth_failed")``, unknown or private users
                             ``UnrecognisedDocument`` (``not_found`` / ``unavailable``),
                             ``internal_error`` ``RetryableBody``
===========================  ===============================================================

The account's total ``likes_count`` is read (:func:`user_info`) but has no field in
``ProfileItem``; ``music_id`` of a video likewise (:func:`videos`). A video's ``region_code``
has no field in ``PostItem`` either, but it is how the API states an account's country: the
user-info answer names none, so :func:`parse_user_info` given the user's videos sets
``country`` to their most common ``region_code`` (:func:`country_of`); without videos it
stays None.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from crawler.errors import BlockedPage, RetryableBody, UnrecognisedDocument
from crawler.items import HashtagSightingItem, PostItem, ProfileItem
from crawler.parsers import country_code, loads_json
from crawler.values import extract_hashtags, extract_mentions, normalize_tag

PLATFORM = "tiktok"
API_BASE = "https://open.tiktokapis.com"
WEB_BASE = "https://www.tiktok.com"
TOKEN_PATH = "/v2/oauth/token/"  # noqa: S105 - a path, not a password
VIDEO_QUERY_PATH = "/v2/research/video/query/"
USER_INFO_PATH = "/v2/research/user/info/"
COMMENT_LIST_PATH = "/v2/research/video/comment/list/"
VIDEO_FIELDS = ("id", "video_description", "create_time", "region_code", "share_count",
                "view_count", "like_count", "comment_count", "music_id", "hashtag_names",
                "username")
USER_FIELDS = ("display_name", "bio_description", "avatar_url", "is_verified", "follower_count",
               "following_count", "likes_count", "video_count")
#: Videos a query page holds at most (``max_count``), and a query's widest date window.
MAX_COUNT = 100
MAX_WINDOW_DAYS = 30
#: The API returns videos by descending id, i.e. newest first.
LISTING = "recent"
OK = "ok"

#: C0 controls, DEL and C1 controls: never part of a username.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")
_REGION = re.compile(r"^[A-Z]{2}$")


# --------------------------------------------------------------------------- requests


def token_url(base: str = API_BASE) -> str:
    return f"{base}{TOKEN_PATH}"


def video_query_url(base: str = API_BASE, fields: tuple[str, ...] = VIDEO_FIELDS) -> str:
    return f"{base}{VIDEO_QUERY_PATH}?{urlencode({'fields': ','.join(fields)}, safe=',')}"


def user_info_url(base: str = API_BASE, fields: tuple[str, ...] = USER_FIELDS) -> str:
    return f"{base}{USER_INFO_PATH}?{urlencode({'fields': ','.join(fields)}, safe=',')}"


def token_form(client_key: str, client_secret: str) -> dict[str, str]:
    """The form of the client-credentials token request (it holds the secret: never log it)."""
    return {"client_key": client_key, "client_secret": client_secret,
            "grant_type": "client_credentials"}


def api_date(day: date) -> str:
    """``date(2024, 1, 5)`` -> ``"20240105"``, the API's date format."""
    return day.strftime("%Y%m%d")


def video_query_body(*, start: date, end: date, hashtags: tuple[str, ...] = (),
                     usernames: tuple[str, ...] = (), regions: tuple[str, ...] = (),
                     max_count: int = MAX_COUNT, cursor: int | None = None,
                     search_id: str | None = None) -> dict[str, Any]:
    """The JSON body of a video query: videos carrying any of ``hashtags`` (or posted by any of
    ``usernames``), optionally from ``regions``, created from ``start`` to ``end`` (UTC days,
    at most 30 days apart); later pages repeat it with the ``cursor`` and ``search_id`` the
    previous page returned."""
    if (end - start).days > MAX_WINDOW_DAYS or end < start:
        raise ValueError(f"a video query spans 0 to {MAX_WINDOW_DAYS} days, not {start} to {end}")
    conditions: list[dict[str, Any]] = []
    if hashtags:
        conditions.append({"operation": "IN", "field_name": "hashtag_name",
                           "field_values": list(hashtags)})
    if usernames:
        conditions.append({"operation": "IN", "field_name": "username",
                           "field_values": list(usernames)})
    if regions:
        conditions.append({"operation": "IN", "field_name": "region_code",
                           "field_values": list(regions)})
    if not conditions:
        raise ValueError("a video query needs hashtags or usernames")
    body: dict[str, Any] = {"query": {"and": conditions}, "start_date": api_date(start),
                            "end_date": api_date(end), "max_count": max_count}
    if cursor is not None:
        body["cursor"] = cursor
    if search_id is not None:
        body["search_id"] = search_id
    return body


def user_info_body(username: str) -> dict[str, str]:
    return {"username": username}


def dump_body(body: Mapping[str, Any]) -> str:
    """A request body as the spider sends it: compact and key-sorted, so the same query is the
    same bytes (cassettes match bodies)."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def profile_url(handle: str, *, base: str = WEB_BASE) -> str:
    """As the web parser spells it (crawler/parsers/tiktok.py), so both routes agree."""
    return f"{base}/@{handle}"


def video_url(handle: str, post_id: str, *, base: str = WEB_BASE) -> str:
    return f"{profile_url(handle, base=base)}/video/{post_id}"


# --------------------------------------------------------------------------- values


def clean_username(value: Any) -> str | None:
    """A username as a handle: C0/C1 control characters (the API has returned ``\\u0000`` in
    usernames) and a leading ``@`` removed, lower-cased; None when nothing is left."""
    if not isinstance(value, str):
        return None
    text = _CONTROLS.sub("", value).strip().lstrip("@").strip()
    return text.lower() or None


def check_region(value: str) -> str:
    """'us' -> 'US'; ValueError unless it is a two-letter region code."""
    text = value.strip().upper()
    if not _REGION.match(text):
        raise ValueError(f"regions: {value.strip()!r} is not a two-letter region code like US")
    return text


# --------------------------------------------------------------------------- the envelope


@dataclass(frozen=True)
class ApiError:
    """``error`` of a Research API answer (or the token endpoint's flat error)."""

    code: str
    message: str
    log_id: str | None = None

    def __str__(self) -> str:
        text = f"{self.code}: {self.message}" if self.message else self.code
        return f"{text} (log_id {self.log_id})" if self.log_id else text


@dataclass(frozen=True)
class Page:
    """Where a video query goes on: pass ``cursor`` and ``search_id`` back."""

    cursor: int | None
    has_more: bool
    search_id: str | None


@dataclass(frozen=True)
class Video:
    """One video of a query as the API gave it (``username`` cleaned, the raw one kept)."""

    id: str | None
    username: str | None
    raw_username: str | None
    create_time: int | None
    region_code: str | None
    description: str | None
    #: None when the answer has no ``hashtag_names`` (the field was not asked for).
    hashtag_names: list[str] | None = None
    music_id: str | None = None
    view_count: Any = None
    like_count: Any = None
    comment_count: Any = None
    share_count: Any = None


@dataclass(frozen=True)
class UserInfo:
    display_name: str | None
    bio_description: str | None
    avatar_url: str | None
    is_verified: bool | None
    follower_count: Any
    following_count: Any
    likes_count: Any
    video_count: Any


@dataclass(frozen=True)
class Token:
    access_token: str
    expires_in: int
    token_type: str | None

    def __repr__(self) -> str:  # never print the token
        return f"Token(expires_in={self.expires_in}, token_type={self.token_type!r})"


def is_research_body(data: Any) -> bool:
    """Whether decoded JSON is a Research API or token endpoint answer (not a web-app body)."""
    if not isinstance(data, Mapping):
        return False
    error = data.get("error")
    if isinstance(error, Mapping) and "code" in error and ("data" in data or "log_id" in error):
        return True
    if isinstance(error, str) and "error_description" in data:
        return True  # the token endpoint's error
    return isinstance(data.get("access_token"), str) and "expires_in" in data


def api_error(data: Any) -> ApiError | None:
    """The error an answer reports, None when it reports success (``code`` ``ok``)."""
    if not isinstance(data, Mapping):
        return None
    error = data.get("error")
    if isinstance(error, Mapping):
        code = str(error.get("code") or "")
        if code in ("", OK):
            return None
        return ApiError(code, str(error.get("message") or ""), _text(error.get("log_id")))
    if isinstance(error, str) and error:
        return ApiError(error, str(data.get("error_description") or ""), _text(data.get("log_id")))
    return None


#: Error codes that say the client may no longer call the API (today, or at all).
AUTH_ERRORS = frozenset({"access_token_invalid"})
SCOPE_ERRORS = frozenset({"scope_not_authorized", "scope_permission_missed", "invalid_client",
                          "unauthorized_client", "invalid_grant", "invalid_request",
                          "unsupported_grant_type"})


def error_reason(error: ApiError) -> str:
    """The quarantine reason of an API error."""
    code, message = error.code, error.message.lower()
    if code == "rate_limit_exceeded":
        return "rate_limited"
    if code == "daily_quota_limit_exceeded":
        return "quota_exhausted"
    if code in AUTH_ERRORS:
        return "auth_required"
    if code in SCOPE_ERRORS:
        return "auth_failed"
    if code == "invalid_params" and ("cannot find" in message or "not found" in message
                                     or "does not exist" in message):
        return "not_found"
    if code == "invalid_params" and ("private" in message or "cannot return" in message
                                     or "cannot be returned" in message):
        return "unavailable"
    if code == "invalid_params":
        return "invalid_params"
    return "request_failed"


def raise_for_error(data: Any) -> None:
    """Raise the typed error of an answer that reports one (see the module docstring)."""
    error = api_error(data)
    if error is None:
        return
    reason = error_reason(error)
    if reason in ("rate_limited", "quota_exhausted", "auth_required", "auth_failed"):
        raise BlockedPage(reason, f"TikTok Research API {error}")
    if error.code == "internal_error":
        raise RetryableBody(f"TikTok Research API {error}", reason="api_error")
    raise UnrecognisedDocument(f"TikTok Research API {error}", reason=reason)


def pagination(data: Any) -> Page:
    """``cursor``, ``has_more`` and ``search_id`` of a video query (or comment list) answer."""
    body = _map(_map(data).get("data"))
    cursor = body.get("cursor")
    number = cursor if isinstance(cursor, int) and not isinstance(cursor, bool) else None
    if isinstance(cursor, str) and cursor.isdigit():
        number = int(cursor)
    return Page(number, bool(body.get("has_more")), _text(body.get("search_id")))


def token_answer(data: Any) -> Token:
    """The token of a client-credentials answer; BlockedPage("auth_failed") for its error body
    (the message never holds the secret: the API does not echo it)."""
    error = api_error(data)
    if error is not None:
        raise BlockedPage("auth_failed", f"TikTok token endpoint {error}")
    token = _map(data).get("access_token")
    expires = _map(data).get("expires_in")
    if not isinstance(token, str) or not token.strip():
        raise UnrecognisedDocument("token answer without an access_token", reason="auth_failed")
    if isinstance(expires, str) and expires.isdigit():
        expires = int(expires)
    if not isinstance(expires, int) or isinstance(expires, bool) or expires <= 0:
        raise UnrecognisedDocument("token answer without a positive expires_in",
                                   reason="auth_failed")
    return Token(token.strip(), expires, _text(_map(data).get("token_type")))


# --------------------------------------------------------------------------- entry point


def parse_document(body: str | bytes | dict | list, *, url: str | None = None,
                   fetched_at: datetime | None = None,
                   headers: Mapping[str, Any] | None = None, hashtag: str | None = None,
                   position_offset: int = 0, username: str | None = None,
                   web_base: str = WEB_BASE) -> list:
    """The items of a Research API answer (see the module docstring).

    ``hashtag`` names the tag a video query asked for (sightings are only made with it) and
    ``position_offset`` the videos earlier pages held; ``username`` the account a user-info
    answer is about (the answer does not name it); ``web_base`` where profile and video URLs
    point (the sandbox's origin in tests). ``headers`` is accepted for the common signature.
    """
    data = _decode(body)
    if not is_research_body(data):
        raise UnrecognisedDocument("not a TikTok Research API answer")
    raise_for_error(data)
    if "access_token" in data:
        return []  # a token answer: nothing to store, and the token is never printed
    payload = data.get("data")
    if not isinstance(payload, Mapping):
        raise UnrecognisedDocument("Research API answer without a data object")
    if isinstance(payload.get("videos"), list):
        return parse_video_query(data, hashtag=hashtag, position_offset=position_offset,
                                 source_url=url, fetched_at=fetched_at, web_base=web_base)
    if isinstance(payload.get("comments"), list):
        return []  # comments name no author and are not the video author's posts
    if any(key in payload for key in USER_FIELDS):
        return [parse_user_info(data, username=username, source_url=url, fetched_at=fetched_at,
                                web_base=web_base)]
    raise UnrecognisedDocument(f"Research API data with keys {sorted(payload)[:8]}")


def _decode(body: str | bytes | dict | list) -> Any:
    if isinstance(body, (dict, list)):
        return body
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    if not text.strip():
        raise UnrecognisedDocument("empty body")
    try:
        return loads_json(text)
    except ValueError as exc:
        raise UnrecognisedDocument(f"invalid JSON: {exc}") from None


# --------------------------------------------------------------------------- videos


def videos(data: Any) -> list[Video]:
    """The videos of a query answer, in the API's order (newest first)."""
    out = []
    for raw in _seq(_map(_map(data).get("data")).get("videos")):
        video = _map(raw)
        raw_name = video.get("username")
        out.append(Video(
            id=_id(video.get("id")),
            username=clean_username(raw_name),
            raw_username=raw_name if isinstance(raw_name, str) else None,
            create_time=_int(video.get("create_time")),
            region_code=_text(video.get("region_code")),
            description=_text(video.get("video_description")),
            hashtag_names=[n for n in _seq(video.get("hashtag_names")) if isinstance(n, str)]
            if "hashtag_names" in video else None,
            music_id=_id(video.get("music_id")),
            view_count=video.get("view_count"),
            like_count=video.get("like_count"),
            comment_count=video.get("comment_count"),
            share_count=video.get("share_count"),
        ))
    return out


def post_item(video: Video, *, web_base: str = WEB_BASE) -> PostItem:
    """A video as a post: counts as the API gave them (a missing one stays None)."""
    handle = video.username
    created = video.create_time if video.create_time else None
    # The API's own list when the answer has it (the text's "#tag" stops at an emoji the
    # API keeps: "#الباشا👑"), else the tags in the description.
    names = video.hashtag_names if video.hashtag_names is not None \
        else extract_hashtags(video.description)
    tags = list(dict.fromkeys(t for t in (normalize_tag(n) for n in names) if t))
    return PostItem(
        platform=PLATFORM,
        post_id=video.id,
        author_handle=handle,
        url=video_url(handle, video.id, base=web_base) if handle and video.id else None,
        posted_at=created,
        posted_at_precision="exact" if created else None,
        text=video.description,
        hashtags=tags,
        mentions=list(dict.fromkeys(m.lower() for m in extract_mentions(video.description))),
        likes=video.like_count,
        comments=video.comment_count,
        shares=video.share_count,
        views=video.view_count,
        media_type="video",
    )


def parse_video_query(data: Any, *, hashtag: str | None = None, position_offset: int = 0,
                      source_url: str | None = None, fetched_at: Any = None,
                      web_base: str = WEB_BASE) -> list:
    """Sightings (with ``hashtag``) then one PostItem per video."""
    found = videos(data)
    tag = normalize_tag(hashtag) if hashtag else None
    sightings = [HashtagSightingItem(platform=PLATFORM, hashtag=tag, post_id=video.id,
                                     author_handle=video.username, position=position,
                                     listing=LISTING, seen_at=fetched_at, source_url=source_url)
                 for position, video in enumerate(found, start=position_offset)] if tag else []
    return [*sightings, *(post_item(video, web_base=web_base) for video in found)]


def country_of(found: Iterable[Video], username: str | None = None) -> str | None:
    """The most common ``region_code`` of ``found`` (the videos of ``username`` only, when it
    is given), as an upper-case two-letter code; a tie goes to the code of the newer video
    (the API lists newest first). None when no video states a readable region."""
    handle = clean_username(username) if username is not None else None
    codes = Counter(code for video in found
                    if handle is None or video.username == handle
                    if (code := country_code(video.region_code)))
    return codes.most_common(1)[0][0] if codes else None


# --------------------------------------------------------------------------- users


def user_info(data: Any) -> UserInfo:
    body = _map(_map(data).get("data"))
    verified = body.get("is_verified")
    return UserInfo(
        display_name=_text(body.get("display_name")),
        bio_description=body.get("bio_description") if isinstance(body.get("bio_description"),
                                                                  str) else None,
        avatar_url=_text(body.get("avatar_url")),
        is_verified=verified if isinstance(verified, bool) else None,
        follower_count=body.get("follower_count"),
        following_count=body.get("following_count"),
        likes_count=body.get("likes_count"),
        video_count=body.get("video_count"),
    )


def parse_user_info(data: Any, *, username: str | None, source_url: str | None = None,
                    fetched_at: Any = None, web_base: str = WEB_BASE,
                    discovered_via: str | None = None,
                    videos: Iterable[Video] = ()) -> ProfileItem:
    """A user-info answer as the profile of ``username`` (without posts).

    ``videos`` (any of the query's videos; those of other users are ignored) give the
    profile's ``country``: the most common ``region_code`` of the user's own videos.
    """
    info = user_info(data)
    handle = clean_username(username)
    return ProfileItem(
        platform=PLATFORM,
        handle=handle,
        display_name=info.display_name,
        bio=info.bio_description,
        is_verified=info.is_verified,
        followers=info.follower_count,
        following=info.following_count,
        posts_count=info.video_count,
        profile_url=profile_url(handle, base=web_base) if handle else None,
        source_url=source_url,
        fetched_at=fetched_at,
        discovered_via=discovered_via,
        country=country_of(videos, handle) if handle else None,
    )


# --------------------------------------------------------------------------- helpers


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _seq(value: Any) -> list:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, bool) or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def _id(value: Any) -> str | None:
    """Ids arrive as JSON integers above 2**53 (Python reads them exactly) or as text."""
    if isinstance(value, bool) or value is None or value == "":
        return None
    if isinstance(value, int):
        return str(value)
    return value.strip() or None if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


__all__ = [
    "API_BASE", "LISTING", "MAX_COUNT", "MAX_WINDOW_DAYS", "USER_FIELDS", "VIDEO_FIELDS",
    "WEB_BASE", "ApiError", "Page", "Token", "UserInfo", "Video", "api_error", "clean_username",
    "country_of", "is_research_body", "pagination", "parse_document", "parse_user_info",
    "parse_video_query", "post_item", "raise_for_error", "token_answer", "user_info", "videos",
]
