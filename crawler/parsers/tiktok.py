"""TikTok: profile, video, post-list and tag pages in, items out. Pure functions, no Scrapy.

Formats understood (each seen in real captures, see ``../shared/realworld/SOURCES.md``):

* ``<script id="__UNIVERSAL_DATA_FOR_REHYDRATION__">`` (2023-): ``__DEFAULT_SCOPE__`` with
  ``webapp.user-detail`` (``userInfo``: ``user``, ``stats``, ``statsV2``, ``itemList``),
  ``webapp.video-detail`` (``itemInfo.itemStruct``) and ``webapp.challenge-detail``.
* ``<script id="SIGI_STATE">`` / ``window['SIGI_STATE']=`` (2022-23): ``UserModule.users`` and
  ``.stats`` keyed by uniqueId, ``ItemModule`` keyed by video id, ``ItemList`` id lists.
* ``<script id="__NEXT_DATA__">`` (2020-21): ``props.pageProps.userInfo``, ``.items``,
  ``.itemInfo.itemStruct``, ``.challengeInfo``.
* JSON bodies: ``/api/post/item_list/`` and ``/api/challenge/item_list/`` (``itemList``,
  ``cursor``, ``hasMore``), the older ``/api/item_list/`` (``items``, ``maxCursor``) and
  ``/share/item/list`` (``body.itemListData[].itemInfos``), ``/node/share/user`` and
  ``/node/share/tag``; a bare ``userInfo`` object or a list of them, a bare item list.
* JavaScript/TypeScript text holding such objects as literals (read with chompjs).

Counts are emitted as the body has them: ``statsV2`` strings (exact) win over the rounded
``stats`` integers; the normalise pipeline turns them into integers. ``posted_at`` is the
``createTime`` epoch as the body has it (int, or a digit string in older bodies), precision
``"exact"``. Hashtags merge ``textExtra[].hashtagName``, ``challenges[].title``,
``contents[].textExtra`` and the ``#tags`` of the text, normalised.

Raw signal fields: an item's ``isAd`` (a bool) is ``platform_sponsored`` (None without it).
``bioLink.link`` is the profile's ``external_url``, so it is never repeated in ``links``; the
web formats state no account country (the 2020-21 ``__NEXT_DATA__`` ``$user`` block with its
``region`` is the *viewer's* session and is not read), so ``country`` stays None here.

What :func:`parse_document` returns:

=================================  ======================================================
body                               items
=================================  ======================================================
profile page / ``userInfo``        ``[ProfileItem]`` with the page's videos as
                                   ``recent_posts`` (a list of userInfo: one each)
video page (any of the 3 forms)    ``[ProfileItem]`` of the author (``authorStats``) whose
                                   ``recent_posts`` is the video
post list (``itemList``/``items``)  a ProfileItem per author whose stats the items carry,
                                   holding that author's videos; other videos as PostItems
tag listing (URL ``/tag/X`` or      one ``HashtagSightingItem`` per video (0-based position
``/api/challenge/item_list/``, or   from the request's ``cursor``, listing ``"top"``), then
a body with ``challengeInfo``)      the items above
tag page without videos            ``[]`` (see :func:`challenge_info` for its id)
``{"code":"10000","type":"verify"}``  raises ``BlockedPage("captcha")``
TikTok error statusCode, other     raises :class:`~crawler.parsers.UnrecognisedDocument`
=================================  ======================================================
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlparse

import chompjs
import parsel

from crawler.items import HashtagSightingItem, PostItem, ProfileItem
from crawler.parsers import MAX_JSON_DEPTH, BlockedPage, UnrecognisedDocument, check_depth, loads_json
from crawler.parsers import tiktok_research as research
from crawler.values import extract_hashtags, extract_mentions, normalize_tag, storable_text

PLATFORM = "tiktok"
BASE_URL = "https://www.tiktok.com"
ITEM_LIST_API = f"{BASE_URL}/api/post/item_list/"
CHALLENGE_ITEM_LIST_API = f"{BASE_URL}/api/challenge/item_list/"
UNIVERSAL_DATA_SCRIPT_ID = "__UNIVERSAL_DATA_FOR_REHYDRATION__"
SIGI_STATE_SCRIPT_ID = "SIGI_STATE"
NEXT_DATA_SCRIPT_ID = "__NEXT_DATA__"
DEFAULT_SCOPE = "__DEFAULT_SCOPE__"
USER_DETAIL = "webapp.user-detail"
VIDEO_DETAIL = "webapp.video-detail"
CHALLENGE_DETAIL = "webapp.challenge-detail"
APP_CONTEXT = "webapp.app-context"
# TikTok answers a bot suspicion with {"code": "10000", "type": "verify"} (a slider captcha).
VERIFY_CODE = "10000"
# Tag listings are ranked by TikTok, not by time.
TAG_LISTING = "top"
DEFAULT_PAGE_SIZE = 35

_HTML_BLOCK_MARKERS = (
    "captcha-verify",
    "captcha_verify",
    "captcha-container",
    "tiktok-verify-page",
    "verify-bar-close",
    "secsdk-captcha",
)
_SIGI_ASSIGN_RE = re.compile(r"""window\[['"]SIGI_STATE['"]\]\s*=\s*""")


# --------------------------------------------------------------------------- URL builders


def profile_url(handle: str, *, base: str = BASE_URL) -> str:
    return f"{base}/@{handle.lstrip('@')}"


def video_url(handle: str, post_id: str | int, *, base: str = BASE_URL) -> str:
    return f"{base}/@{handle.lstrip('@')}/video/{post_id}"


def tag_url(tag: str, *, base: str = BASE_URL) -> str:
    return f"{base}/tag/{quote(tag.lstrip('#'))}"


def item_list_url(sec_uid: str, cursor: str | int = 0, count: int = DEFAULT_PAGE_SIZE, *,
                  base: str = BASE_URL) -> str:
    """The web app's post-list XHR. Live TikTok also wants signing parameters (``msToken``,
    ``X-Bogus``) that only its JavaScript computes; without them it answers an empty body."""
    query = urlencode({"secUid": sec_uid, "cursor": cursor, "count": count})
    return f"{base}{urlparse(ITEM_LIST_API).path}?{query}"


def challenge_item_list_url(challenge_id: str | int, cursor: str | int = 0,
                            count: int = DEFAULT_PAGE_SIZE, *, base: str = BASE_URL) -> str:
    query = urlencode({"challengeID": challenge_id, "cursor": cursor, "count": count})
    return f"{base}{urlparse(CHALLENGE_ITEM_LIST_API).path}?{query}"


# --------------------------------------------------------------------------- pagination


@dataclass(frozen=True)
class Pagination:
    """Where the next page of a post list starts: pass ``cursor`` back as ``cursor=``."""

    cursor: str | None
    has_more: bool


def pagination(data: Mapping[str, Any]) -> Pagination:
    """Next-page cursor of an item list (``cursor``/``hasMore``, or the older ``maxCursor``)."""
    if "body" in data and isinstance(data["body"], Mapping):
        data = data["body"]
    props = _dig(data, "props", "pageProps")
    if isinstance(props, Mapping):
        data = props
    sigi_list = _dig(data, "ItemList")
    if isinstance(sigi_list, Mapping):
        for entry in sigi_list.values():
            if isinstance(entry, Mapping) and "hasMore" in entry:
                return Pagination(_str_or_none(entry.get("cursor")), bool(entry.get("hasMore")))
    for cursor_key, more_key in (("cursor", "hasMore"), ("maxCursor", "hasMore"),
                                 ("videoListMaxCursor", "videoListHasMore")):
        if cursor_key in data and more_key in data:
            return Pagination(_str_or_none(data[cursor_key]), bool(data[more_key]))
    return Pagination(None, bool(data.get("hasMore")))


def challenge_info(data: Mapping[str, Any]) -> dict[str, Any] | None:
    """``{"id", "title", "video_count", "view_count"}`` of a tag page, for the listing API."""
    info = _find_challenge_info(data)
    if not info:
        return None
    challenge = info.get("challenge") or {}
    stats = _map(info.get("statsV2") or info.get("stats"))
    return {
        "id": _str_or_none(challenge.get("id")),
        "title": challenge.get("title"),
        "video_count": stats.get("videoCount"),
        "view_count": stats.get("viewCount"),
    }


# --------------------------------------------------------------------------- context


@dataclass
class _Context:
    source_url: str | None = None
    fetched_at: Any = None
    locale: str | None = None
    hashtag: str | None = None  # set when the body is a tag listing
    challenge_id: str | None = None
    position_offset: int = 0
    listing: str = TAG_LISTING


# --------------------------------------------------------------------------- entry point


def parse_document(body: str | bytes | dict | list, *, url: str | None = None,
                   fetched_at: datetime | None = None,
                   headers: Mapping[str, Any] | None = None,
                   hashtag: str | None = None, position_offset: int | None = None) -> list:
    """Detect the TikTok format of ``body`` and return its items.

    ``hashtag`` / ``position_offset`` name the tag listing a body belongs to and the videos
    earlier pages held, when the caller knows better than the URL (the parser reads them from
    ``/tag/X`` and ``challengeID``/``cursor`` otherwise).

    Raises :class:`BlockedPage` (reason ``"captcha"``) for TikTok's verify answer and
    :class:`UnrecognisedDocument` for anything else that is not TikTok data.
    """
    ctx = _context_from_request(url, fetched_at, headers)
    if hashtag:
        ctx.hashtag = hashtag.lstrip("#")
    if position_offset is not None:
        ctx.position_offset = position_offset
    if research.is_research_body(body):  # the Research API: crawler/parsers/tiktok_research.py
        return research.parse_document(body, url=url, fetched_at=fetched_at, hashtag=hashtag,
                                       position_offset=position_offset or 0)
    if isinstance(body, (dict, list)):
        return parse_data(body, ctx=ctx)
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped:
        raise UnrecognisedDocument("empty body")
    if stripped[0] in "{[":
        try:
            data = loads_json(stripped)
        except ValueError:
            return _parse_javascript(stripped, ctx)
        if research.is_research_body(data):
            return research.parse_document(data, url=url, fetched_at=fetched_at, hashtag=hashtag,
                                           position_offset=position_offset or 0)
        return parse_data(data, ctx=ctx)
    if stripped[0] == "<":
        return parse_html(stripped, ctx=ctx)
    return _parse_javascript(stripped, ctx)


def parse_html(html: str, *, ctx: _Context | None = None) -> list:
    """A whole page (or a fragment holding one of the three data scripts)."""
    ctx = ctx or _Context()
    sel = parsel.Selector(text=storable_text(html))  # lxml takes no NUL, no lone surrogate
    if ctx.locale is None:
        ctx.locale = sel.xpath("/html/@lang").get() or None
    return parse_data(_html_data(html, sel), ctx=ctx)


def _html_data(html: str, sel: parsel.Selector | None = None) -> Any:
    """The decoded data script of a page; raises BlockedPage / UnrecognisedDocument."""
    sel = sel or parsel.Selector(text=storable_text(html))
    for script_id in (UNIVERSAL_DATA_SCRIPT_ID, SIGI_STATE_SCRIPT_ID, NEXT_DATA_SCRIPT_ID):
        raw = sel.xpath(f'//script[@id="{script_id}"]/text()').get()
        if raw and raw.strip():
            try:
                return loads_json(raw)
            except ValueError as exc:
                raise UnrecognisedDocument(f"{script_id} is not JSON: {exc}") from None
    match = _SIGI_ASSIGN_RE.search(html)
    if match:
        try:
            return check_depth(chompjs.parse_js_object(html[match.end():]))
        except (ValueError, RecursionError) as exc:
            raise UnrecognisedDocument(f"unreadable SIGI_STATE: {exc}") from None
    lowered = html.lower()
    if any(marker in lowered for marker in _HTML_BLOCK_MARKERS):
        raise BlockedPage("captcha", "TikTok verification page")
    raise UnrecognisedDocument("HTML without a TikTok data script")


def page_data(body: str | bytes | dict | list, *, url: str | None = None) -> Any:
    """The decoded data a body holds: an HTML page's data script, or the JSON itself.

    ``url`` is accepted for the same signature as the YouTube parser's and not needed here.

    For the spiders, which need what the items do not carry (a tag page's challenge id for
    :func:`challenge_info`, a profile's ``secUid`` for :func:`sec_uid`, a post list's
    :func:`pagination`). Raises :class:`BlockedPage` for verify answers and pages, and
    :class:`UnrecognisedDocument` for bodies that are not TikTok data.
    """
    if isinstance(body, (dict, list)):
        data: Any = body
    else:
        text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
        stripped = text.lstrip("\ufeff \t\r\n")
        if not stripped:
            raise UnrecognisedDocument("empty body")
        if stripped[0] == "<":
            data = _html_data(stripped)
        else:
            try:
                data = loads_json(stripped)
            except ValueError as exc:
                raise UnrecognisedDocument(f"invalid JSON: {exc}") from None
    if isinstance(data, Mapping):
        _raise_if_blocked(data)
    return data


def sec_uid(data: Any) -> str | None:
    """The ``secUid`` of a profile page's user (any of the three page forms), for
    :func:`item_list_url`."""
    if not isinstance(data, Mapping):
        return None
    user = (_dig(data, DEFAULT_SCOPE, USER_DETAIL, "userInfo", "user")
            or _dig(data, "props", "pageProps", "userInfo", "user")
            or _dig(data, "userInfo", "user"))
    if isinstance(user, Mapping) and user.get("secUid"):
        return str(user["secUid"])
    for user in _map(_dig(data, "UserModule", "users")).values():
        if isinstance(user, Mapping) and user.get("secUid"):
            return str(user["secUid"])
    feed = _dig(data, "props", "pageProps", "feedConfig", "secUid")
    return str(feed) if feed else None


def parse_data(data: Any, *, ctx: _Context | None = None) -> list:
    """Already-decoded JSON (or JavaScript literal) of any supported shape."""
    ctx = ctx or _Context()
    if isinstance(data, list):
        return _parse_list(data, ctx)
    if not isinstance(data, Mapping):
        raise UnrecognisedDocument(f"not a TikTok body: {type(data).__name__}")
    _raise_if_blocked(data)
    if DEFAULT_SCOPE in data:
        return parse_universal_data(data, ctx=ctx)
    if "UserModule" in data or "ItemModule" in data:
        return parse_sigi_state(data, ctx=ctx)
    if isinstance(_dig(data, "props", "pageProps"), Mapping):
        return parse_next_data(data, ctx=ctx)
    if isinstance(data.get("body"), Mapping):
        return parse_data(data["body"], ctx=ctx)
    return _parse_response_object(data, ctx)


# --------------------------------------------------------------------------- page forms


def parse_universal_data(data: Mapping[str, Any], *, ctx: _Context | None = None) -> list:
    ctx = ctx or _Context()
    scope = _map(data[DEFAULT_SCOPE])
    ctx.locale = ctx.locale or _str(_dig(scope, APP_CONTEXT, "language"))
    user_detail = scope.get(USER_DETAIL)
    video_detail = scope.get(VIDEO_DETAIL)
    challenge_detail = scope.get(CHALLENGE_DETAIL)
    if _dig(user_detail, "userInfo", "user"):
        return [parse_user_info(_map(_dig(user_detail, "userInfo")), ctx=ctx)]
    item = _dig(video_detail, "itemInfo", "itemStruct")
    if isinstance(item, Mapping) and item:
        return _assemble([item], {}, ctx)
    if _dig(challenge_detail, "challengeInfo", "challenge"):
        return []  # the tag page only names the challenge; its videos come from the API
    for detail in (user_detail, video_detail, challenge_detail):
        if isinstance(detail, Mapping):
            raise _unavailable(detail)
    raise UnrecognisedDocument(
        f"__DEFAULT_SCOPE__ without a known page: {sorted(scope)[:8]}")


def parse_sigi_state(data: Mapping[str, Any], *, ctx: _Context | None = None) -> list:
    ctx = ctx or _Context()
    ctx.locale = ctx.locale or _dig(data, "AppContext", "appContext", "language")
    user_module = _map(data.get("UserModule"))
    users: dict[str, tuple[Mapping, Mapping, Mapping]] = {}
    for key, user in _map(user_module.get("users")).items():
        user = _map(user)  # a mangled user keeps its key: a profile without counts, rejected
        stats = _map(_map(user_module.get("stats")).get(key))
        stats_v2 = _map(_map(user_module.get("statsV2")).get(key))
        handle = _handle(user.get("uniqueId") or key)
        if handle:
            users[handle] = (user, stats, stats_v2)
    item_module = _map(data.get("ItemModule"))
    item_lists = _map(data.get("ItemList"))
    ordered_ids: list[str] = []
    for entry in item_lists.values():
        if isinstance(entry, Mapping):
            ordered_ids.extend(str(i) for i in _seq(entry.get("list")) if str(i) in item_module)
    ordered_ids = list(dict.fromkeys([*ordered_ids, *item_module.keys()]))
    items = [item_module[i] for i in ordered_ids]
    challenge = _map(_dig(data, "ChallengePage", "challengeInfo", "challenge"))
    tag_ids = _seq(_map(item_lists.get("challenge")).get("list")) if challenge else None
    if tag_ids:
        ctx.hashtag = ctx.hashtag or _str(challenge.get("title"))
        tag_items = [item_module[str(i)] for i in tag_ids if str(i) in item_module]
        return _assemble(tag_items, users, ctx, tag_listing=True)
    if not users and not items:
        raise UnrecognisedDocument("SIGI_STATE without users or items")
    return _assemble(items, users, ctx)


def parse_next_data(data: Mapping[str, Any], *, ctx: _Context | None = None) -> list:
    ctx = ctx or _Context()
    props = data["props"]
    page = props["pageProps"]
    ctx.locale = ctx.locale or _str(_dig(props, "initialProps", "$language"))
    return _parse_response_object(page, ctx)


def _parse_response_object(data: Mapping[str, Any], ctx: _Context) -> list:
    """One API/page-props object: user info, a video, an item list, a tag listing."""
    challenge = _find_challenge_info(data)
    if challenge and not ctx.hashtag:
        ctx.hashtag = _str(_dig(challenge, "challenge", "title"))
    items = _item_list(data)
    user_info = data.get("userInfo")
    if isinstance(user_info, Mapping) and user_info.get("user"):
        profile = parse_user_info(user_info, ctx=ctx)
        extra = [item for item in items or [] if item not in _seq(user_info.get("itemList"))]
        if extra:
            profile.recent_posts.extend(parse_item(item, ctx=ctx) for item in extra)
        return [profile]
    item_struct = _dig(data, "itemInfo", "itemStruct")
    if isinstance(item_struct, Mapping):
        return _assemble([item_struct], {}, ctx)
    if items is not None:
        is_tag = bool(ctx.hashtag) or bool(ctx.challenge_id)
        if is_tag and not ctx.hashtag:
            ctx.hashtag = _challenge_title_from_items(items, ctx.challenge_id)
        return _assemble(items, {}, ctx, tag_listing=bool(ctx.hashtag))
    if challenge:
        return []  # a tag page/response without videos: recognised, nothing to emit
    if "user" in data and ("stats" in data or "statsV2" in data):
        return [parse_user_info(data, ctx=ctx)]
    if _looks_like_item(data):
        return _assemble([data], {}, ctx)
    if "statusCode" in data and data.get("statusCode") not in (0, "0"):
        raise _unavailable(data)
    raise UnrecognisedDocument(f"not a TikTok body: keys {sorted(data)[:8]}")


def _parse_list(data: list, ctx: _Context) -> list:
    if not data:
        raise UnrecognisedDocument("empty list")
    if all(isinstance(x, Mapping) and x.get("user") for x in data):
        return [parse_user_info(info, ctx=ctx) for info in data]  # scrapfly profiles.json
    if all(isinstance(x, Mapping) and _looks_like_item(x) for x in data):
        return _assemble(data, {}, ctx, tag_listing=bool(ctx.hashtag))
    raise UnrecognisedDocument("list of unknown TikTok objects")


def _parse_javascript(text: str, ctx: _Context) -> list:
    """Object literals inside JavaScript/TypeScript text (mocks, inline scripts)."""
    results: list = []
    recognised = False
    for obj in iter_js_objects(text):
        try:
            results.extend(parse_data(obj, ctx=_copy_ctx(ctx)))
        except UnrecognisedDocument:
            continue
        recognised = True
    if not recognised:
        raise UnrecognisedDocument("no TikTok object in the text")
    return results


# --------------------------------------------------------------------------- objects


def parse_user_info(info: Mapping[str, Any], *, ctx: _Context | None = None) -> ProfileItem:
    """``userInfo`` (``user``, ``stats``, ``statsV2``, ``itemList``) -> ProfileItem."""
    ctx = ctx or _Context()
    profile = _profile(_map(info["user"]), _map(info.get("stats")), _map(info.get("statsV2")),
                       ctx)
    profile.recent_posts = [parse_item(item, ctx=ctx) for item in _seq(info.get("itemList"))]
    for post in profile.recent_posts:
        post.author_handle = post.author_handle or profile.handle
        post.url = post.url or (video_url(profile.handle, post.post_id)
                                if profile.handle and post.post_id else None)
    return profile


def parse_item(item: Mapping[str, Any], *, ctx: _Context | None = None) -> PostItem:
    """One video (item_list entry, itemStruct, SIGI ItemModule value, legacy itemInfos)."""
    item = _modernise_item(_map(item))  # a mangled item: a post without id, rejected
    stats = _map(item.get("stats"))
    stats_v2 = _map(item.get("statsV2"))
    author = item.get("author")
    handle = _handle(author.get("uniqueId") if isinstance(author, Mapping) else author)
    post_id = _str_or_none(item.get("id"))
    text = _str(item.get("desc"))
    created = item.get("createTime")
    return PostItem(
        platform=PLATFORM,
        post_id=post_id,
        author_handle=handle,
        url=video_url(handle, post_id) if handle and post_id else None,
        posted_at=created if created not in (None, "", 0, "0") else None,
        posted_at_precision="exact" if created not in (None, "", 0, "0") else None,
        text=text,
        hashtags=_hashtags(item),
        mentions=_mentions(item),
        likes=_count(stats_v2, stats, "diggCount"),
        comments=_count(stats_v2, stats, "commentCount"),
        shares=_count(stats_v2, stats, "shareCount"),
        views=_count(stats_v2, stats, "playCount"),
        media_type="carousel" if item.get("imagePost") else "video",
        platform_sponsored=item["isAd"] if isinstance(item.get("isAd"), bool) else None,
    )


def parse_item_list(data: Mapping[str, Any] | list, *, hashtag: str | None = None,
                    position_offset: int = 0, source_url: str | None = None,
                    fetched_at: Any = None, listing: str = TAG_LISTING) -> list:
    """A post list body; with ``hashtag`` it is a tag listing and yields sightings too."""
    ctx = _Context(source_url=source_url, fetched_at=fetched_at, hashtag=hashtag,
                   position_offset=position_offset, listing=listing)
    items = data if isinstance(data, list) else _item_list(data)
    if items is None:
        raise UnrecognisedDocument("no itemList/items in the body")
    return _assemble(items, {}, ctx, tag_listing=bool(hashtag))


def _profile(user: Mapping[str, Any], stats: Mapping[str, Any], stats_v2: Mapping[str, Any],
             ctx: _Context) -> ProfileItem:
    handle = _handle(user.get("uniqueId"))
    bio_link = user.get("bioLink")
    category = _dig(user, "commerceUserInfo", "category")
    return ProfileItem(
        platform=PLATFORM,
        handle=handle,
        platform_user_id=_str_or_none(user.get("id") or user.get("userId")),
        display_name=user.get("nickname") or user.get("nickName"),
        bio=user.get("signature"),
        external_url=(bio_link.get("link") or None) if isinstance(bio_link, Mapping) else None,
        is_verified=bool(user["verified"]) if "verified" in user else None,
        category=category or None,
        followers=_count(stats_v2, stats, "followerCount"),
        following=_count(stats_v2, stats, "followingCount"),
        posts_count=_count(stats_v2, stats, "videoCount"),
        profile_url=profile_url(handle) if handle else None,
        source_url=ctx.source_url,
        fetched_at=ctx.fetched_at,
        discovered_via=ctx.hashtag,
        locale=ctx.locale,
    )


def _assemble(items: list, users: Mapping[str, tuple[Mapping, Mapping, Mapping]], ctx: _Context,
              *, tag_listing: bool = False) -> list:
    """Posts grouped under their authors' profiles where the author's stats are known.

    A post whose item carries the author and ``authorStats`` (video pages, post lists) or
    whose author is in ``users`` (SIGI_STATE) becomes one of that profile's recent posts;
    other posts are returned on their own. A tag listing puts one sighting per post first.
    """
    profiles: dict[str, ProfileItem] = {}
    for known, (user, stats, stats_v2) in users.items():
        profiles[known] = _profile(user, stats, stats_v2, ctx)
    loose: list[PostItem] = []
    sightings: list[HashtagSightingItem] = []
    tag = normalize_tag(ctx.hashtag) if tag_listing and ctx.hashtag else None
    for position, raw in enumerate(items, start=ctx.position_offset):
        item = _modernise_item(_map(raw))
        post = parse_item(item, ctx=ctx)
        handle = post.author_handle
        author = item.get("author")
        if handle and handle not in profiles and isinstance(author, Mapping) and (
                item.get("authorStats") or item.get("authorStatsV2")):
            profiles[handle] = _profile(author, _map(item.get("authorStats")),
                                        _map(item.get("authorStatsV2")), ctx)
        if handle and handle in profiles:
            profiles[handle].recent_posts.append(post)
        else:
            loose.append(post)
        if tag:
            sightings.append(HashtagSightingItem(
                platform=PLATFORM, hashtag=tag, post_id=post.post_id, author_handle=handle,
                position=position, listing=ctx.listing, seen_at=ctx.fetched_at,
                source_url=ctx.source_url))
    return [*sightings, *profiles.values(), *loose]


# --------------------------------------------------------------------------- field helpers


def _count(stats_v2: Mapping[str, Any], stats: Mapping[str, Any], key: str) -> Any:
    """The exact ``statsV2`` string when present, else the (rounded) ``stats`` value."""
    exact = stats_v2.get(key)
    if exact not in (None, ""):
        return exact
    return stats.get(key)


def _modernise_item(item: Mapping[str, Any]) -> Mapping[str, Any]:
    """Rewrite a 2019-20 ``/share/item/list`` entry (itemInfos/authorInfos) in today's shape."""
    infos = item.get("itemInfos")
    if not isinstance(infos, Mapping):
        return item
    author = _map(item.get("authorInfos"))
    return {
        "id": infos.get("id"),
        "desc": infos.get("text"),
        "createTime": infos.get("createTime"),
        "stats": {k: infos.get(k) for k in ("diggCount", "commentCount", "shareCount",
                                              "playCount") if k in infos},
        "author": {
            "id": author.get("userId"),
            "uniqueId": author.get("uniqueId"),
            "nickname": author.get("nickName"),
            "signature": author.get("signature"),
            **({"verified": author["verified"]} if "verified" in author else {}),
        },
        "authorStats": item.get("authorStats"),
        "challenges": [{"title": c.get("challengeName"), "id": c.get("challengeId")}
                       for c in map(_map, _seq(item.get("challengeInfoList")))],
        "textExtra": _seq(item.get("textExtra")),
        **({"isAd": infos["isAd"]} if "isAd" in infos else {}),
    }


def _hashtags(item: Mapping[str, Any]) -> list[str]:
    names: list[Any] = []
    extras = list(_seq(item.get("textExtra")))
    contents = [_map(content) for content in _seq(item.get("contents"))]
    for content in contents:
        extras.extend(_seq(content.get("textExtra")))
    names.extend(_get_ci(extra, "hashtagName") for extra in extras)
    names.extend(_map(c).get("title") for c in _seq(item.get("challenges")))
    names.extend(extract_hashtags(item.get("desc")))
    for content in contents:
        names.extend(extract_hashtags(content.get("desc")))
    tags = (normalize_tag(name) for name in names if isinstance(name, str))
    return list(dict.fromkeys(tag for tag in tags if tag))


def _mentions(item: Mapping[str, Any]) -> list[str]:
    names = [_get_ci(extra, "userUniqueId") for extra in _seq(item.get("textExtra"))]
    names.extend(extract_mentions(item.get("desc")))
    handles = (_handle(name) for name in names)
    return list(dict.fromkeys(h for h in handles if h))


def _looks_like_item(data: Mapping[str, Any]) -> bool:
    return ("id" in data and ("createTime" in data or "desc" in data or "stats" in data)) or (
        isinstance(data.get("itemInfos"), Mapping))


def _item_list(data: Mapping[str, Any]) -> list | None:
    """The body's video list (the first non-empty of the known keys), None if it has none."""
    lists = [data[key] for key in ("itemList", "items", "itemListData")
             if isinstance(data.get(key), list)
             and all(isinstance(entry, Mapping) and _looks_like_item(entry) for entry in data[key])]
    return next((value for value in lists if value), lists[0] if lists else None)


def _find_challenge_info(data: Mapping[str, Any]) -> Mapping[str, Any] | None:
    candidates = (
        data.get("challengeInfo"),
        _dig(data, "props", "pageProps", "challengeInfo"),
        _dig(data, DEFAULT_SCOPE, CHALLENGE_DETAIL, "challengeInfo"),
        _dig(data, "ChallengePage", "challengeInfo"),
    )
    for info in candidates:
        if isinstance(info, Mapping) and isinstance(info.get("challenge"), Mapping):
            return info
    return None


def _challenge_title_from_items(items: list, challenge_id: str | None) -> str | None:
    """The listing's tag: the challenge with the listing's id among the videos' challenges."""
    seen: dict[str, int] = {}
    for item in items:
        for challenge in map(_map, _seq(_modernise_item(item).get("challenges"))):
            if challenge_id and str(challenge.get("id")) == challenge_id:
                return _str(challenge.get("title"))
            title = _str(challenge.get("title"))
            if title:
                seen[title] = seen.get(title, 0) + 1
    if challenge_id or not seen:
        return None
    return max(seen, key=seen.__getitem__)


def _raise_if_blocked(data: Mapping[str, Any]) -> None:
    kind = str(data.get("type") or "").lower()
    code = str(data.get("code") or data.get("statusCode") or "")
    if kind == "verify" or (code == VERIFY_CODE and "verify" in json.dumps(data).lower()):
        raise BlockedPage("captcha", f"TikTok verify challenge (code {code or '?'})")


def _unavailable(detail: Mapping[str, Any]) -> UnrecognisedDocument:
    code = detail.get("statusCode")
    message = detail.get("statusMsg") or ""
    return UnrecognisedDocument(f"TikTok returned no data (statusCode {code}) {message}".strip())


def _handle(value: Any) -> str | None:
    if not value or not isinstance(value, str):
        return None
    return value.strip().lstrip("@").lower() or None


def _str_or_none(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _get_ci(data: Mapping[str, Any], key: str) -> Any:
    """``data[key]`` trying the 2020 API's capitalised spelling (``HashtagName``) too."""
    if not isinstance(data, Mapping):
        return None
    if key in data:
        return data[key]
    return data.get(key[0].upper() + key[1:])


def _dig(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _map(value: Any) -> Mapping[str, Any]:
    """``value`` when it is an object, else {} (a body mangled where an object belongs)."""
    return value if isinstance(value, Mapping) else {}


def _seq(value: Any) -> list:
    """``value`` when it is a list, else []."""
    return value if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    """``value`` when it is non-empty text, else None (names and languages must be text)."""
    return value if isinstance(value, str) and value else None


def _copy_ctx(ctx: _Context) -> _Context:
    return _Context(**vars(ctx))


def _context_from_request(url: str | None, fetched_at: Any,
                          headers: Mapping[str, Any] | None) -> _Context:
    ctx = _Context(source_url=url, fetched_at=fetched_at)
    if ctx.fetched_at is None:
        ctx.fetched_at = _header_date(headers)
    ctx.locale = _header(headers, "Content-Language")
    if url:
        parsed = urlparse(url)
        query = {k: v[0] for k, v in parse_qs(parsed.query).items() if v}
        ctx.locale = query.get("lang") or ctx.locale
        tag_match = re.match(r"/tag/([^/?#]+)", parsed.path)
        if tag_match:
            ctx.hashtag = tag_match.group(1)
        if "challenge" in parsed.path and query.get("challengeID"):
            ctx.challenge_id = query["challengeID"]
        ctx.hashtag = ctx.hashtag or query.get("challengeName")
        if query.get("cursor", "").isdigit() and (ctx.hashtag or ctx.challenge_id):
            ctx.position_offset = int(query["cursor"])
    return ctx


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    if not headers:
        return None
    for key, value in headers.items():
        key_text = key.decode("latin-1") if isinstance(key, bytes) else str(key)
        if key_text.lower() != name.lower():
            continue
        if isinstance(value, (list, tuple)):
            value = value[0] if value else None
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        return value or None
    return None


def _header_date(headers: Mapping[str, Any] | None) -> datetime | None:
    value = _header(headers, "Date")
    if not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- JavaScript


def iter_js_objects(text: str) -> Iterator[dict]:
    """The outermost object literals of JavaScript text that chompjs can read.

    An object that does not parse as a whole (it holds a function or a call) is searched
    for readable objects inside it, so ``export = { user: () => { return {...} } }`` yields
    the returned literal.
    """
    spans = _brace_spans(text)
    yield from _readable_objects(text, spans)


def _readable_objects(text: str, spans: list[Span]) -> Iterator[dict]:
    stack = list(reversed(spans))  # depth first, in text order, without recursion
    while stack:
        start, end, children, height = stack.pop()
        obj: Any = None
        if height <= MAX_JSON_DEPTH:  # deeper spans are never data: only their inside is tried
            try:
                obj = check_depth(chompjs.parse_js_object(text[start:end + 1]))
            except (ValueError, TypeError, RecursionError):
                obj = None
        if isinstance(obj, dict) and obj:
            yield obj
        else:
            stack.extend(reversed(children))


#: A ``{...}`` span: start, end, the spans directly inside it, and how many levels it nests.
Span = tuple[int, int, list, int]


def _brace_spans(text: str) -> list[Span]:
    """Nested ``{...}`` spans of JavaScript text, skipping strings and comments."""
    root: list[Span] = []
    stack: list[tuple[int, list[Span]]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "'\"`":
            i = _skip_string(text, i)
            continue
        if ch == "/" and i + 1 < n and text[i + 1] in "/*":
            end = text.find("\n" if text[i + 1] == "/" else "*/", i + 2)
            i = n if end < 0 else end + (1 if text[i + 1] == "/" else 2)
            continue
        if ch == "{":
            stack.append((i, []))
        elif ch == "}" and stack:
            start, children = stack.pop()
            height = 1 + max((child[3] for child in children), default=0)
            (stack[-1][1] if stack else root).append((start, i, children, height))
        i += 1
    return root


def _skip_string(text: str, i: int) -> int:
    quote_char = text[i]
    i += 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == quote_char:
            return i + 1
        if text[i] == "\n" and quote_char != "`":
            return i + 1  # unterminated: treat the line end as the end
        i += 1
    return i
