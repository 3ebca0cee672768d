"""Instagram Graph API bodies in, items out (no Scrapy, no network).

The official route (``scrapy crawl instagram -a source=graph``, the ``instagram_graph`` spider)
reads four kinds of answers from ``https://graph.facebook.com/v21.0`` (see docs/instagram.md):

- ``GET /{ig-user-id}?fields=business_discovery.username(X){...,media.limit(N){...}}``: another
  business or creator account's profile (``followers_count``, ``follows_count``,
  ``media_count``, ``biography``, ``website``, ``ig_id``) and a page of its media with like and
  comment counts, paged by ``media.after(CURSOR)`` (a later page asks for the media only, so
  ``business_discovery`` then holds ``media`` and ``id`` alone);
- ``GET /ig_hashtag_search?user_id=&q=X``: ``{"data": [{"id": ...}]}``, the hashtag's id. It
  holds no account, post or sighting, so :func:`parse_document` returns no item for it
  (:func:`hashtag_search_results` gives the ids);
- ``GET /{hashtag-id}/top_media`` and ``/recent_media``: ``{"data": [media...], "paging":
  {"cursors": {"after"}, "next"}}``. Hashtag media never name their author (Meta refuses the
  ``username`` field there), and captions come with the ``@`` of every mention removed
  ("Follow officiallove.in"): a body alone gives posts, and, given the hashtag and listing
  (the spider knows them, the body does not), sightings without ``author_handle``;
- errors: ``{"error": {"message", "type": "OAuthException", "code", "error_subcode",
  "error_user_title", "error_user_msg", "is_transient", "fbtrace_id"}}`` (:func:`graph_error`).

Counts are the API's integers; ``timestamp`` stays as sent (``2019-12-27T00:20:34+0000``);
``media_type`` IMAGE / VIDEO / CAROUSEL_ALBUM becomes image / video / carousel. A profile's
``platform_user_id`` is ``ig_id`` (the id the web pages use) when the body has it, so both
routes name an account alike; a post keeps its Graph media id (the web pages' id differs; the
``permalink`` is the same on both routes, and that is how a hashtag sighting finds an author
another sweep already stored: see :func:`shortcode` and docs/instagram.md).

Usage headers (``X-App-Usage``, ``X-Business-Use-Case-Usage``) are read by :func:`usage`.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from crawler.errors import BlockedPage, UnrecognisedDocument
from crawler.items import HashtagSightingItem, PostItem, ProfileItem, RejectedItem, reject
from crawler.parsers import loads_json, parser_for
from crawler.values import extract_hashtags, extract_mentions

PLATFORM = "instagram"
GRAPH_VERSION = "v21.0"
GRAPH_HOST = "graph.facebook.com"
GRAPH_BASE = f"https://{GRAPH_HOST}/{GRAPH_VERSION}"
PROFILE_URL = "https://www.instagram.com/{}/"
#: Fields asked of a business_discovery account and of each of its media.
PROFILE_FIELDS = ("id", "ig_id", "username", "name", "biography", "website", "followers_count",
                  "follows_count", "media_count", "profile_picture_url")
MEDIA_FIELDS = ("id", "caption", "like_count", "comments_count", "timestamp", "permalink",
                "media_type", "media_product_type")
#: Fields of hashtag media (``username`` is refused there; children name a carousel's items).
HASHTAG_MEDIA_FIELDS = ("id", "caption", "like_count", "comments_count", "timestamp",
                        "permalink", "media_type", "children{id,media_type,permalink}")
#: Media per page: the API's cap for hashtag media (and what we ask of business_discovery).
MEDIA_PAGE_MAX = 50
LISTING_EDGES = {"top": "top_media", "recent": "recent_media"}

#: OAuthException codes: rate limits (4 app, 17 user, 32 page, 613 calls per hour, 80002 the
#: Instagram account's business use case), a token that no longer works (190; 102 and 104:
#: no session or no token), missing permissions (10, 200-299), no business or creator account
#: by that username (110 with subcode 2207013: personal, age-gated, private and unknown
#: accounts answer alike), the weekly hashtag limit (24: Meta's reference lists no code for
#: it; the sandbox answers 24 and the spider's own ledger refuses before the API does).
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, 80002})
TOKEN_CODES = frozenset({102, 104, 190})
NOT_DISCOVERABLE = (110, 2207013)
HASHTAG_LIMIT_CODE = 24

Item = ProfileItem | PostItem | HashtagSightingItem | RejectedItem

_MEDIA_TYPES = {"IMAGE": "image", "VIDEO": "video", "CAROUSEL_ALBUM": "carousel",
                "REELS": "video"}
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_SHORTCODE = re.compile(r"^/(?:p|reel|reels|tv)/([A-Za-z0-9_-]{1,64})/?$")


def _obj(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _seq(value: Any) -> list:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _id(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    return value if isinstance(value, str) and value else None


def _count(value: Any) -> Any:
    """The API's integer; text kept raw for the normaliser; anything else is None."""
    if isinstance(value, bool):
        return None
    return value if isinstance(value, int | str) else None


def _handle(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return value.strip().lstrip("@").lower() or None


# --- errors -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GraphError:
    """A Graph API ``{"error": {...}}`` answer."""

    code: int | None
    subcode: int | None
    type: str | None
    message: str
    title: str | None = None
    user_message: str | None = None
    transient: bool | None = None
    trace: str | None = None

    @property
    def reason(self) -> str:
        """The quarantine reason this error is recorded as."""
        if self.code in RATE_LIMIT_CODES:
            return "rate_limited"
        if self.code in TOKEN_CODES:
            return "token_invalid"
        if self.code == 10 or (self.code is not None and 200 <= self.code <= 299):
            return "permission_denied"
        if (self.code, self.subcode) == NOT_DISCOVERABLE:
            return "not_discoverable"
        if self.code == HASHTAG_LIMIT_CODE:
            return "hashtag_limit"
        return "graph_error"

    @property
    def fatal(self) -> bool:
        """Whether no further call can succeed (a dead token, a missing permission)."""
        return self.reason in ("token_invalid", "permission_denied")

    @property
    def text(self) -> str:
        """The API's own words: 'Invalid user id: The user with username: x cannot be found.
        (OAuthException code 110, subcode 2207013)'."""
        words = [self.message]
        if self.user_message and self.user_message not in self.message:
            words.append(self.user_message)
        codes = ", ".join(part for part in (
            f"{self.type or 'error'} code {self.code}" if self.code is not None else self.type,
            f"subcode {self.subcode}" if self.subcode is not None else None) if part)
        return f"{': '.join(words)} ({codes})" if codes else ": ".join(words)


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def graph_error(data: Any) -> GraphError | None:
    """The error of a Graph API answer, None for data."""
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return None
    message = _text(error.get("message")) or _text(error.get("error_user_title")) or "Graph API error"
    return GraphError(
        code=_int_or_none(error.get("code")),
        subcode=_int_or_none(error.get("error_subcode")),
        type=_text(error.get("type")),
        message=message.strip(),
        title=_text(error.get("error_user_title")),
        user_message=_text(error.get("error_user_msg")),
        transient=error.get("is_transient") if isinstance(error.get("is_transient"), bool) else None,
        trace=_text(error.get("fbtrace_id")),
    )


def error_as_exception(error: GraphError) -> Exception:
    """What an error body is to the crawl protocol: rate limits and dead tokens are not data
    (:class:`BlockedPage`), the rest an :class:`UnrecognisedDocument` with the error's reason."""
    if error.reason in ("rate_limited", "token_invalid", "permission_denied"):
        return BlockedPage(error.reason, error.text)
    return UnrecognisedDocument(error.text, reason=error.reason)


# --- request URLs -------------------------------------------------------------------------------


def business_discovery_fields(handle: str, *, media_limit: int, after: str | None = None,
                              profile: bool = True) -> str:
    """``business_discovery.username(x){id,...,media.limit(N){...}}``; with ``profile=False``
    only the media page (``media.after(CURSOR).limit(N)``)."""
    parts = list(PROFILE_FIELDS) if profile else []
    if media_limit > 0:
        edge = "media" + (f".after({after})" if after else "") + f".limit({media_limit})"
        parts.append(f"{edge}{{{','.join(MEDIA_FIELDS)}}}")
    return f"business_discovery.username({handle}){{{','.join(parts)}}}"


def _query(params: Mapping[str, Any]) -> str:
    return urlencode({k: v for k, v in params.items() if v is not None}, quote_via=quote,
                     safe=",")


def discovery_url(base: str, user_id: str, handle: str, *, media_limit: int,
                  after: str | None = None, profile: bool = True) -> str:
    fields = business_discovery_fields(handle, media_limit=media_limit, after=after,
                                       profile=profile)
    return f"{base}/{quote(user_id, safe='')}?{_query({'fields': fields})}"


def hashtag_search_url(base: str, user_id: str, tag: str) -> str:
    return f"{base}/ig_hashtag_search?{_query({'user_id': user_id, 'q': tag})}"


def hashtag_media_url(base: str, hashtag_id: str, listing: str, user_id: str, *, limit: int,
                      after: str | None = None) -> str:
    edge = LISTING_EDGES[listing]
    params = {"user_id": user_id, "fields": ",".join(HASHTAG_MEDIA_FIELDS), "limit": limit,
              "after": after}
    return f"{base}/{quote(hashtag_id, safe='')}/{edge}?{_query(params)}"


# --- media and profiles ---------------------------------------------------------------------------


def shortcode(permalink: Any) -> str | None:
    """``https://www.instagram.com/p/B8goRvrnwod/`` -> ``B8goRvrnwod`` (``/reel/`` too);
    None for anything else."""
    if not isinstance(permalink, str):
        return None
    try:
        parts = urlsplit(permalink)
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if host != "instagram.com" and not host.endswith(".instagram.com"):
        return None
    match = _SHORTCODE.match(parts.path)
    return match.group(1) if match else None


def media_pk(code: str) -> int | None:
    """The id the web pages give the post a shortcode names (its base-64 digits)."""
    number = 0
    for char in code:
        digit = _ALPHABET.find(char)
        if digit < 0:
            return None
        number = number * 64 + digit
    return number


def permalink_variants(code: str) -> list[str]:
    """The URLs a post with this shortcode is stored under by either route."""
    return [f"https://www.instagram.com/{kind}/{code}/" for kind in ("p", "reel")]


def post_from_media(media: Mapping[str, Any], *, author_handle: str | None = None) -> PostItem:
    """A Graph API IG Media object as a :class:`PostItem` (raw counts)."""
    text = media.get("caption") if isinstance(media.get("caption"), str) else None
    kind = _MEDIA_TYPES.get(str(media.get("media_type") or "").upper())
    if str(media.get("media_product_type") or "").upper() == "REELS":
        kind = "video"
    timestamp = _text(media.get("timestamp"))
    return PostItem(
        platform=PLATFORM,
        post_id=_id(media.get("id")),
        author_handle=author_handle or _handle(media.get("username")),
        url=_text(media.get("permalink")),
        posted_at=timestamp,
        posted_at_precision="exact" if timestamp else None,
        text=text,
        hashtags=list(extract_hashtags(text)) if text else [],
        likes=_count(media.get("like_count")),
        comments=_count(media.get("comments_count")),
        media_type=kind,
    )


@dataclass
class DiscoveryPage:
    """One business_discovery answer: the profile (None on a media-only page), its media of
    this page, the cursor of the next page and the account's media count."""

    profile: ProfileItem | None
    posts: list[PostItem] = field(default_factory=list)
    after: str | None = None
    media_count: int | None = None


def _paging_after(edge: Mapping[str, Any]) -> str | None:
    return _text(_obj(_obj(edge.get("paging")).get("cursors")).get("after"))


def parse_business_discovery(data: Mapping[str, Any], *, url: str | None = None,
                             fetched_at: datetime | None = None) -> DiscoveryPage:
    """``{"business_discovery": {...}, "id": <caller>}`` -> the profile and its media page."""
    found = data.get("business_discovery")
    if not isinstance(found, dict):
        raise UnrecognisedDocument("not a business_discovery answer")
    handle = _handle(found.get("username"))
    media = _obj(found.get("media"))
    posts = [post_from_media(m, author_handle=handle) for m in _seq(media.get("data"))
             if isinstance(m, dict) and _id(m.get("id"))]
    page = DiscoveryPage(None, posts, _paging_after(media),
                         _int_or_none(found.get("media_count")))
    if handle:
        page.profile = ProfileItem(
            platform=PLATFORM,
            handle=handle,
            platform_user_id=_id(found.get("ig_id")) or _id(found.get("id")),
            display_name=_text(found.get("name")),
            bio=_text(found.get("biography")),
            external_url=_text(found.get("website")),
            followers=_count(found.get("followers_count")),
            following=_count(found.get("follows_count")),
            posts_count=_count(found.get("media_count")),
            profile_url=PROFILE_URL.format(handle),
            recent_posts=list(posts),
            source_url=url,
            fetched_at=fetched_at,
        )
    return page


@dataclass
class HashtagPage:
    """One top_media / recent_media page: sightings (when the hashtag is known), posts and the
    ``after`` cursor of the next page (None on the last)."""

    sightings: list[HashtagSightingItem] = field(default_factory=list)
    posts: list[PostItem] = field(default_factory=list)
    after: str | None = None

    @property
    def items(self) -> list[Item]:
        return [*self.sightings, *self.posts]


def listing_of(url: str | None, data: Mapping[str, Any] | None = None) -> str | None:
    """"top" / "recent" from the request URL (or the body's ``paging.next``)."""
    candidates = [url, _text(_obj(_obj(data).get("paging")).get("next")) if data else None]
    for candidate in candidates:
        try:
            path = urlsplit(candidate).path if candidate else ""
        except ValueError:
            continue
        for listing, edge in LISTING_EDGES.items():
            if path.rstrip("/").endswith("/" + edge):
                return listing
    return None


def parse_hashtag_media(data: Mapping[str, Any], *, hashtag: str | None = None,
                        listing: str | None = None, position_offset: int = 0,
                        url: str | None = None, fetched_at: datetime | None = None,
                        authors: Mapping[str, str] | None = None) -> HashtagPage:
    """A top_media / recent_media page. Sightings need the ``hashtag`` (the body does not name
    it); ``authors`` (media id -> handle) names the authors known elsewhere."""
    media = [m for m in _seq(data.get("data")) if isinstance(m, dict) and _id(m.get("id"))]
    listing = listing or listing_of(url, data)
    known = authors or {}
    page = HashtagPage()
    for position, item in enumerate(media, start=position_offset):
        post = post_from_media(item, author_handle=known.get(str(item["id"])))
        page.posts.append(post)
        if hashtag:
            page.sightings.append(HashtagSightingItem(
                platform=PLATFORM, hashtag=hashtag, post_id=post.post_id,
                author_handle=post.author_handle, position=position, listing=listing,
                seen_at=fetched_at, source_url=url))
    paging = _obj(data.get("paging"))
    page.after = _paging_after(data) if _text(paging.get("next")) else None
    return page


def hashtag_search_results(data: Any) -> list[tuple[str | None, str]]:
    """``(name, id)`` of each hashtag an ig_hashtag_search answer names (name only when
    ``fields=id,name`` was asked)."""
    return [(_text(h.get("name")), str(h["id"])) for h in _seq(_obj(data).get("data"))
            if isinstance(h, dict) and _id(h.get("id")) and set(h) <= {"id", "name"}]


# --- detection ------------------------------------------------------------------------------------

_HASHTAG_KEYS = {"id", "name"}
_MEDIA_KEYS = {"id", "caption", "comments_count", "like_count", "media_type", "media_url",
               "permalink", "timestamp", "children", "media_product_type", "thumbnail_url",
               "username", "is_comment_enabled", "shortcode"}


def recognises(data: Any) -> bool:
    """Whether a decoded JSON body is a Graph API answer this module reads."""
    if not isinstance(data, dict):
        return False
    if isinstance(data.get("business_discovery"), dict):
        return True
    error = data.get("error")
    if isinstance(error, dict) and ("fbtrace_id" in error or error.get("type") in (
            "OAuthException", "GraphMethodException", "IGApiException")):
        return True
    listed = data.get("data")
    if not isinstance(listed, list) or not set(data) <= {"data", "paging"}:
        return False
    if not all(isinstance(x, dict) and _id(x.get("id")) for x in listed):
        return False
    return all(set(x) <= _HASHTAG_KEYS for x in listed) or all(
        set(x) <= _MEDIA_KEYS for x in listed)


def parse_json(data: Mapping[str, Any], *, url: str | None = None,
               fetched_at: datetime | None = None) -> list[Item]:
    """The items of a Graph API answer (see the module docstring)."""
    error = graph_error(data)
    if error is not None:
        if error.reason == "not_discoverable":
            return [reject("not_discoverable", dict(data), platform=PLATFORM, source_url=url,
                           detail=error.text, item_type="ProfileItem")]
        raise error_as_exception(error)
    if "business_discovery" in data:
        page = parse_business_discovery(data, url=url, fetched_at=fetched_at)
        return [page.profile] if page.profile is not None else list(page.posts)
    listed = _seq(data.get("data"))
    if listed and all(set(x) <= _HASHTAG_KEYS for x in listed):
        return []  # ig_hashtag_search: hashtag ids, no account, post or sighting
    return list(parse_hashtag_media(data, url=url, fetched_at=fetched_at).posts)


def parse_document(body: str | bytes | dict | list, *, url: str | None = None,
                   fetched_at: datetime | None = None,
                   headers: Mapping[str, str] | None = None) -> list[Item]:
    """Read a Graph API body (``microscout parse instagram`` reaches it through
    :func:`crawler.parsers.instagram.parse_document`)."""
    if isinstance(body, bytes | str):
        text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
        try:
            data = loads_json(text)
        except ValueError as exc:
            raise UnrecognisedDocument(f"body is not valid JSON: {exc}") from None
    else:
        data = body
    if not recognises(data):
        raise UnrecognisedDocument("not an Instagram Graph API answer")
    return parse_json(data, url=url, fetched_at=fetched_at)


# --- usage headers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    """What X-App-Usage and X-Business-Use-Case-Usage say: the highest percentage of any limit
    (``call_count``, ``total_cputime``, ``total_time``), which limit it is, and the minutes
    until access comes back (``estimated_time_to_regain_access``, 0 when not blocked)."""

    percent: float
    where: str
    regain_minutes: float = 0.0


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    getter = getattr(headers, "get", None)
    value = getter(name) if getter is not None else None
    if value is None:
        for key, raw in (headers.items() if hasattr(headers, "items") else ()):
            k = key.decode("latin-1") if isinstance(key, bytes) else str(key)
            if k.lower() == name.lower():
                value = raw
                break
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return value if isinstance(value, str) else None


def _percentages(entry: Mapping[str, Any]) -> Iterable[tuple[str, float]]:
    for key in ("call_count", "total_cputime", "total_time", "acc_id_util_pct"):
        value = entry.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            yield key, float(value)


def usage(headers: Any) -> Usage | None:
    """The usage the headers report (None when they carry none or nothing readable)."""
    found: list[Usage] = []
    app = _header(headers, "X-App-Usage")
    if app:
        try:
            data = json.loads(app)
        except ValueError:
            data = None
        for key, value in _percentages(_obj(data)):
            found.append(Usage(value, f"X-App-Usage {key}"))
    business = _header(headers, "X-Business-Use-Case-Usage")
    if business:
        try:
            data = json.loads(business)
        except ValueError:
            data = None
        for owner, entries in _obj(data).items():
            for entry in _seq(entries):
                entry = _obj(entry)
                regain = entry.get("estimated_time_to_regain_access")
                minutes = float(regain) if isinstance(regain, int | float) and not isinstance(
                    regain, bool) else 0.0
                kind = _text(entry.get("type")) or "business use case"
                for key, value in _percentages(entry):
                    found.append(Usage(value, f"X-Business-Use-Case-Usage {owner} {kind} {key}",
                                       minutes))
                if minutes and not any(u.regain_minutes for u in found):
                    found.append(Usage(100.0, f"X-Business-Use-Case-Usage {owner} {kind}",
                                       minutes))
    if not found:
        return None
    top = max(found, key=lambda u: (u.percent, u.regain_minutes))
    regain = max(u.regain_minutes for u in found)
    return Usage(top.percent, top.where, regain)


# --- authors of hashtag media ---------------------------------------------------------------------

_CANDIDATE = re.compile(r"(?<![\w.#@/:])([a-z0-9][a-z0-9._]{1,28}[a-z0-9_])(?![\w@])",
                        re.IGNORECASE)
#: Words after which a caption names an account ("Follow officiallove.in", "Thanks maya").
_CUES = ("follow", "by", "via", "thanks", "thank you", "credit", "credits", "ph", "photo by",
         "shot by", "cc", "ig", "featuring", "feat", "ft")
_CUE = re.compile(r"\b(?:" + "|".join(re.escape(c) for c in sorted(_CUES, key=len, reverse=True))
                  + r")\b[\s:\-👉👇@]*$", re.IGNORECASE)


#: Words a cue is often followed by that are no account.
_NOT_NAMES = frozenset((
    "a", "an", "the", "my", "our", "your", "his", "her", "their", "me", "us", "you", "him", "them",
    "it", "this", "that", "these", "those", "using", "and", "or", "to", "for", "of", "on", "in",
    "at", "with", "all", "everyone", "everybody", "someone", "now", "here", "there", "link", "bio",
    "more"))


def caption_candidates(caption: Any, limit: int = 2) -> list[str]:
    """Accounts a caption may name, most likely first, at most ``limit``: its ``@mentions``,
    then words shaped like a username that either follow a cue ("Follow x", "by x",
    "Thanks x") or hold a ``.`` or ``_`` inside ("azmi_sizzz", "shahina.sherin1").

    These are guesses, never authors: a mention is usually someone else (a friend, a brand,
    a photographer). The spider accepts one as the author only when that account's own media,
    asked by business_discovery, hold the sighted post.
    """
    if not isinstance(caption, str) or limit <= 0:
        return []
    found = list(extract_mentions(caption))
    for match in _CANDIDATE.finditer(caption):
        word = match.group(1).lower()
        if ".." in word or word.isdigit() or not re.search(r"[a-z]", word):
            continue
        inside = re.search(r"[a-z0-9][._]+[a-z0-9]", word) is not None
        cued = word not in _NOT_NAMES and _CUE.search(caption[:match.start()]) is not None
        if (inside and not re.fullmatch(r"[\d.]+[a-z]{0,2}", word)) or cued:
            found.append(word)
    return list(dict.fromkeys(found))[:limit]


def author_share(pages: Iterable[Mapping[str, Any]], known: Iterable[PostItem],
                 candidates: int = 2) -> dict[str, int]:
    """How many media of hashtag ``pages`` get a known author from ``known`` posts (by Graph
    media id or by the permalink's shortcode), how many carry an ``@`` in their caption, and
    how many name at least one :func:`caption_candidates` guess."""
    by_id: dict[str, str] = {}
    by_code: dict[str, str] = {}
    for post in known:
        if not post.author_handle:
            continue
        if post.post_id:
            by_id[post.post_id] = post.author_handle
        code = shortcode(post.url)
        if code:
            by_code[code] = post.author_handle
    counts = {"media": 0, "known_author": 0, "caption_with_at": 0, "with_candidates": 0}
    for page in pages:
        for media in _seq(page.get("data")):
            if not isinstance(media, dict) or not _id(media.get("id")):
                continue
            counts["media"] += 1
            code = shortcode(media.get("permalink"))
            if by_id.get(str(media["id"])) or (code and by_code.get(code)):
                counts["known_author"] += 1
            caption = _text(media.get("caption")) or ""
            counts["caption_with_at"] += "@" in caption
            counts["with_candidates"] += bool(caption_candidates(caption, candidates))
    return counts


def _known_posts(path: str) -> list[PostItem]:
    """Every post with an author a recording holds (Graph or web route)."""
    with open(path, "rb") as handle:
        body = handle.read()
    try:
        items = parser_for(PLATFORM).parse_document(body)
    except (UnrecognisedDocument, BlockedPage):
        return []
    posts: list[PostItem] = []
    for item in items:
        if isinstance(item, ProfileItem):
            posts.extend(p for p in item.recent_posts if p.author_handle)
        elif isinstance(item, PostItem) and item.author_handle:
            posts.append(item)
    return posts


def main(argv: list[str]) -> int:
    """``python -m crawler.parsers.instagram_graph FILE...``: the author share of the hashtag
    media pages among FILEs, with every other FILE as what earlier sweeps stored."""
    pages, known = [], []
    for path in argv:
        if "top_media" in path or "recent_media" in path:  # the recordings' names say which
            with open(path, "rb") as handle:
                pages.append(loads_json(handle.read()))
        else:
            known.extend(_known_posts(path))
    counts = author_share(pages, known)
    share = counts["known_author"] / counts["media"] if counts["media"] else 0.0
    print(f"hashtag media: {counts['media']} in {len(pages)} pages; posts with an author in "
          f"the other files: {len(known)}")
    print(f"known author (same Graph id or permalink): {counts['known_author']} "
          f"({share:.0%})")
    print(f"captions with an '@': {counts['caption_with_at']}; captions naming a candidate "
          f"to verify: {counts['with_candidates']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
