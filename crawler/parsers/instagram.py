"""Instagram parsers: web pages and JSON bodies in, items out (no Scrapy, no network).

Formats read (each detected by :func:`parse_document`):

- ``/api/v1/users/web_profile_info/?username=X``: ``data.user`` with ``edge_followed_by``,
  ``edge_follow`` and ``edge_owner_to_timeline_media`` (the first posts);
- the profile HTML page: ``window._sharedData`` -> ``entry_data.ProfilePage[0].graphql.user``
  (or the ``window.__additionalDataLoaded(...)`` call that replaced it in 2021) and, when
  neither holds the user, the ``og:description`` line ("46.3m Followers, 50 Following,
  453 Posts - See Instagram photos and videos from Name (@handle)", in any of the page
  languages in :data:`COUNT_LABELS`) as the fallback that still gives the counts;
- the ``_sharedData`` object saved on its own as JSON, the old ``?__a=1`` bodies
  (``{"graphql": {"user" | "hashtag" | "shortcode_media": ...}}``) and the hashtag page's
  ``entry_data.TagPage[0].graphql.hashtag``;
- the app-style ``/api/v1/users/{id}/info/`` body (``user.follower_count``, ...);
- GraphQL pages of a user's posts (``data.user.edge_owner_to_timeline_media``) and of a
  hashtag (``data.hashtag.edge_hashtag_to_media`` = "recent", ``edge_hashtag_to_top_posts``
  = "top"), paginated by ``page_info.end_cursor``;
- a single post's JSON (``graphql.shortcode_media``, ``data.xdt_shortcode_media``,
  ``/api/v1/media/{id}/info/`` ``items[]``), which names the owner's username: that is how
  the spider resolves the owner ids of hashtag posts to handles.

Counts are emitted raw: ints where the JSON gives ints, the page's text where the page gives
text (``followers="46.3m"``, ``"46,3 Mio."``); :class:`ProfileItem.locale` carries the page
language for the normalise pipeline. Login walls, checkpoints and rate-limit bodies raise
:class:`BlockedPage` (never an empty profile); anything else unknown raises
:class:`UnrecognisedDocument`.

Raw signal fields: a media node's ``is_paid_partnership`` / ``edge_media_to_sponsor_user``
(app-style media: ``is_paid_partnership`` / ``sponsor_tags``) give ``platform_sponsored``
(None when the node has neither); a user's ``business_email`` (app API: ``public_email``) gives
``contact_email`` and its ``bio_links`` other than ``external_url`` give ``links``. Instagram
states no account country: ``_sharedData.country_code`` is the *viewer's* and is not read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

import chompjs
from parsel import Selector

from crawler.items import HashtagSightingItem, PostItem, ProfileItem, RejectedItem, reject
from crawler.parsers import (
    BlockedPage,
    UnrecognisedDocument,
    check_depth,
    email_field,
    instagram_graph,
    loads_json,
    profile_links,
)
from crawler.values import extract_hashtags, storable_text

PLATFORM = "instagram"
BASE_URL = "https://www.instagram.com"
PROFILE_URL = BASE_URL + "/{}/"
POST_URL = BASE_URL + "/p/{}/"
HASHTAG_URL = BASE_URL + "/explore/tags/{}/"
PROFILE_API = "https://i.instagram.com/api/v1/users/web_profile_info/?username={}"
USER_INFO_API = "https://i.instagram.com/api/v1/users/{}/info/"
# The x-ig-app-id header value that the web client sends with its API calls.
APP_ID = "936619743392459"
#: GraphQL pages (``/graphql/query/?query_hash=...&variables={...}``), as the captures show:
#: a hashtag's listings (``{"tag_name", "first", "after"}``) and a user's posts
#: (``{"id", "first", "after"}``).
GRAPHQL_URL = BASE_URL + "/graphql/query/"
HASHTAG_QUERY_HASH = "9b498c08113f1e09617a1703c22b2f32"
USER_MEDIA_QUERY_HASH = "42323d64886122307be10013ad2dcc44"
#: A post's own JSON (``{"graphql": {"shortcode_media": ...}}``), which names its owner.
POST_JSON_URL = BASE_URL + "/p/{}/?__a=1&__d=dis"

Item = ProfileItem | PostItem | HashtagSightingItem | RejectedItem

_MEDIA_TYPES = {
    "GraphImage": "image",
    "GraphVideo": "video",
    "GraphSidecar": "carousel",
    "XDTGraphImage": "image",
    "XDTGraphVideo": "video",
    "XDTGraphSidecar": "carousel",
}
_APP_MEDIA_TYPES: dict[Any, str] = {1: "image", 2: "video", 8: "carousel"}

# ---------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------


def _get(data: Any, *path: str | int) -> Any:
    """``data[path[0]][path[1]]...`` or None when any step is missing."""
    for key in path:
        if isinstance(key, int):
            if not isinstance(data, list) or not -len(data) <= key < len(data):
                return None
        elif not isinstance(data, dict):
            return None
        data = data[key] if isinstance(key, int) else data.get(key)
        if data is None:
            return None
    return data


def _obj(value: Any) -> dict:
    """``value`` when it is an object, else {} (a body mangled where an object belongs)."""
    return value if isinstance(value, dict) else {}


def _seq(value: Any) -> list:
    """``value`` when it is a list, else []."""
    return value if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    """``value`` when it is non-empty text, else None (ids, names, languages must be text)."""
    return value if isinstance(value, str) and value else None


def _path(url: Any) -> str:
    """The path of a URL; "" for anything unreadable."""
    try:
        return urlparse(str(url)).path
    except ValueError:  # "http://[" and other unsplittable text
        return ""


def _count(edge: Any) -> Any:
    return edge.get("count") if isinstance(edge, dict) else None


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def _str_id(value: Any) -> str | None:
    return None if value is None else str(value)


def _handle(username: Any) -> str | None:
    return username.strip().lstrip("@").lower() if isinstance(username, str) and username else None


def _hashtags(text: str | None) -> list[str]:
    if not text:
        return []
    return list(extract_hashtags(text))


def _to_text(body: str | bytes) -> str:
    if isinstance(body, bytes):
        return body.decode("utf-8", errors="replace")
    return body


def _header(headers: Mapping[Any, Any] | None, name: str) -> str | None:
    """Case-insensitive header look-up that also understands Scrapy's bytes ``Headers``."""
    if not headers:
        return None
    for key, value in headers.items():
        k = key.decode("latin-1") if isinstance(key, bytes) else str(key)
        if k.lower() != name:
            continue
        if isinstance(value, list | tuple):
            value = value[0] if value else None
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        return value
    return None


# ---------------------------------------------------------------------------------------
# Posts
# ---------------------------------------------------------------------------------------


def _caption(node: dict) -> str | None:
    text = _get(node, "edge_media_to_caption", "edges", 0, "node", "text")
    if text is None and isinstance(node.get("caption"), dict):  # app-style media
        text = node["caption"].get("text")
    return text


def _graph_media_type(node: dict) -> str | None:
    kind = _MEDIA_TYPES.get(_text(node.get("__typename")) or "")
    if kind is None and node.get("is_video") is not None:
        kind = "video" if node["is_video"] else "image"
    return kind


def _sponsored(flag: Any, sponsors: Any) -> bool | None:
    """The post's paid-partnership flag: True when ``flag`` is True or ``sponsors`` (the
    sponsor list) holds an entry, False when either field is there and says no, None when the
    node has neither field."""
    if flag is True or (isinstance(sponsors, list) and sponsors):
        return True
    if isinstance(flag, bool) or isinstance(sponsors, list):
        return False
    return None


def post_from_node(node: dict, *, author_handle: str | None = None) -> PostItem:
    """A GraphQL media node (timeline, hashtag or shortcode_media) as a :class:`PostItem`.

    ``author_handle`` wins over ``node.owner.username``; when neither is known the item's
    ``author_handle`` stays None and ``node.owner.id`` is what the spider resolves.
    """
    text = _caption(node)
    typename = _text(node.get("__typename")) or ""
    is_video = node.get("is_video") is True or typename.endswith("GraphVideo")
    shortcode = _text(node.get("shortcode"))
    return PostItem(
        platform=PLATFORM,
        post_id=_str_id(node.get("id")),
        author_handle=author_handle or _handle(_get(node, "owner", "username")),
        url=POST_URL.format(shortcode) if shortcode else None,
        posted_at=node.get("taken_at_timestamp"),
        posted_at_precision="exact" if node.get("taken_at_timestamp") is not None else None,
        text=text,
        hashtags=_hashtags(text),
        likes=_first(
            _count(node.get("edge_liked_by")), _count(node.get("edge_media_preview_like"))
        ),
        comments=_first(
            _count(node.get("edge_media_to_comment")),
            _count(node.get("edge_media_preview_comment")),
            _count(node.get("edge_media_to_parent_comment")),
        ),
        views=node.get("video_view_count") if is_video else None,
        media_type=_graph_media_type(node),
        platform_sponsored=_sponsored(
            node.get("is_paid_partnership"), _get(node, "edge_media_to_sponsor_user", "edges")
        ),
    )


def post_from_app_media(media: dict) -> PostItem:
    """An app-style media object (``/api/v1/media/{id}/info/`` ``items[]``, feed items)."""
    text = _caption(media)
    media_type = media.get("media_type")
    kind = _APP_MEDIA_TYPES.get(media_type) if isinstance(media_type, int) else None
    code = _text(media.get("code"))
    pk = media.get("pk")
    if pk is None and isinstance(media.get("id"), str):
        pk = media["id"].split("_", 1)[0]
    return PostItem(
        platform=PLATFORM,
        post_id=_str_id(pk),
        author_handle=_handle(_get(media, "user", "username")),
        url=POST_URL.format(code) if code else None,
        posted_at=media.get("taken_at"),
        posted_at_precision="exact" if media.get("taken_at") is not None else None,
        text=text,
        hashtags=_hashtags(text),
        likes=media.get("like_count"),
        comments=media.get("comment_count"),
        views=_first(media.get("play_count"), media.get("view_count")) if kind == "video" else None,
        media_type=kind,
        platform_sponsored=_sponsored(media.get("is_paid_partnership"), media.get("sponsor_tags")),
    )


def _timeline_posts(user: dict, handle: str | None) -> list[PostItem]:
    edges = _seq(_get(user, "edge_owner_to_timeline_media", "edges"))
    return [
        post_from_node(edge["node"], author_handle=handle)
        for edge in edges
        if isinstance(edge, dict) and isinstance(edge.get("node"), dict)
    ]


# ---------------------------------------------------------------------------------------
# Profiles
# ---------------------------------------------------------------------------------------


def _contact_email(user: dict) -> str | None:
    """``business_email`` (web and GraphQL users) or ``public_email`` (the app API)."""
    return email_field(user.get("business_email")) or email_field(user.get("public_email"))


def _links(user: dict, external_url: str | None) -> list[str]:
    """The ``bio_links`` entries (2023-: the profile's link list, of which ``external_url`` is
    the first), without ``external_url``."""
    urls = [link.get("url") for link in _seq(user.get("bio_links")) if isinstance(link, dict)]
    return profile_links(urls, external_url=external_url)


def _graph_profile(
    user: dict, *, url: str | None, fetched_at: datetime | None, locale: str | None = None
) -> ProfileItem:
    handle = _handle(user.get("username"))
    external_url = user.get("external_url") or None
    return ProfileItem(
        platform=PLATFORM,
        handle=handle,
        platform_user_id=_str_id(user.get("id")),
        display_name=user.get("full_name") or None,
        bio=user.get("biography") or None,
        external_url=external_url,
        is_verified=user.get("is_verified"),
        category=_first(user.get("category_name"), user.get("category_enum")),
        followers=_count(user.get("edge_followed_by")),
        following=_count(user.get("edge_follow")),
        posts_count=_count(user.get("edge_owner_to_timeline_media")),
        profile_url=PROFILE_URL.format(handle) if handle else None,
        recent_posts=_timeline_posts(user, handle),
        source_url=url,
        fetched_at=fetched_at,
        locale=locale,
        contact_email=_contact_email(user),
        links=_links(user, external_url),
    )


def parse_web_profile_info(
    data: dict, *, url: str | None = None, fetched_at: datetime | None = None
) -> list[Item]:
    """``/api/v1/users/web_profile_info/?username=X`` -> ``[ProfileItem]`` with recent posts.

    ``data.user`` null (the answer for an unknown or removed account) becomes a
    ``profile_not_found`` :class:`RejectedItem`, never an empty profile.
    """
    user = _get(data, "data", "user")
    if not isinstance(user, dict):
        return [_not_found("profile_not_found", data, url)]
    return [_graph_profile(user, url=url, fetched_at=fetched_at)]


def parse_user_info(
    data: dict, *, url: str | None = None, fetched_at: datetime | None = None
) -> list[Item]:
    """App-style ``/api/v1/users/{id}/info/`` (``user.pk``, ``follower_count``, ...)."""
    user = data.get("user")
    if not isinstance(user, dict):
        return [_not_found("profile_not_found", data, url)]
    handle = _handle(user.get("username"))
    external_url = user.get("external_url") or None
    return [
        ProfileItem(
            platform=PLATFORM,
            handle=handle,
            platform_user_id=_str_id(_first(user.get("pk"), user.get("pk_id"), user.get("id"))),
            display_name=user.get("full_name") or None,
            bio=user.get("biography") or None,
            external_url=external_url,
            is_verified=user.get("is_verified"),
            category=_first(
                user.get("category_name"), user.get("category"), user.get("category_enum")
            )
            or None,
            followers=user.get("follower_count"),
            following=user.get("following_count"),
            posts_count=user.get("media_count"),
            profile_url=PROFILE_URL.format(handle) if handle else None,
            source_url=url,
            fetched_at=fetched_at,
            contact_email=_contact_email(user),
            links=_links(user, external_url),
        )
    ]


def _not_found(reason: str, payload: Any, url: str | None) -> RejectedItem:
    return reject(reason, payload, platform=PLATFORM, source_url=url,
                  detail="the body holds no such account or tag")


# -- og:description ----------------------------------------------------------------------

# Label (case-folded) -> (field, languages). The line always lists followers, following and
# posts; the labels say which is which and what language the page is in.
COUNT_LABELS: dict[str, tuple[str, frozenset[str]]] = {}


def _labels(field_name: str, table: dict[str, str]) -> None:
    for label, langs in table.items():
        COUNT_LABELS[label.casefold()] = (field_name, frozenset(langs.split()))


_labels("followers", {
    "followers": "en", "follower": "en de it", "seguidores": "es pt", "abonnés": "fr",
    "volgers": "nl", "takipçi": "tr", "подписчиков": "ru", "подписчика": "ru",
    "подписчик": "ru", "obserwujących": "pl", "pengikut": "id", "フォロワー": "ja",
})
_labels("following", {
    "following": "en", "seguidos": "es", "seguindo": "pt", "a seguir": "pt",
    "abonnements": "fr", "gefolgt": "de", "seguiti": "it", "volgend": "nl", "takip": "tr",
    "подписок": "ru", "подписки": "ru", "подписка": "ru", "obserwowanych": "pl",
    "mengikuti": "id", "フォロー中": "ja",
})
_labels("posts_count", {
    "posts": "en", "post": "en it", "publicaciones": "es", "publicación": "es",
    "publicações": "pt", "publicação": "pt", "publications": "fr", "publication": "fr",
    "beiträge": "de", "beitrag": "de", "berichten": "nl", "bericht": "nl", "gönderi": "tr",
    "публикаций": "ru", "публикации": "ru", "публикация": "ru", "posty": "pl",
    "postów": "pl", "postingan": "id", "投稿": "ja",
})
_POSITIONAL = ("followers", "following", "posts_count")

_SEPARATOR = re.compile(r"\s+[-–—―]\s+|\s*―\s*")
_COUNT_SPLIT = re.compile(r",\s+|[、，،]\s*")
_NUMBER = re.compile(r"\d(?:[\d.,'\u00a0\u202f ]*\d)?")
_COUNTERS = "人件个個"  # Japanese / Chinese counter words after a number
_HANDLE_IN_TEXT = re.compile(r"\(\s*[@＠]([A-Za-z0-9._]{1,30})\s*\)")
_NAME_AFTER = re.compile(
    r"Instagram\S*.*?(?<!\w)(?:from|de|do|da|von|di|van|od|dari)\s+(?P<name>.+)$",
    re.S,
)


def _read_count_piece(piece: str) -> tuple[str | None, str | None, frozenset[str]]:
    """``"46,3 Mio. Follower"`` -> ``("followers", "46,3 Mio.", {"en", "de", "it"})``."""
    piece = piece.strip()
    number = _NUMBER.search(piece)
    if number is None:
        return None, None, frozenset()
    before = piece[: number.start()].strip()
    after = piece[number.end():].strip().rstrip(_COUNTERS).strip()
    if before:  # label first (Japanese: "フォロワー4630万人")
        known = COUNT_LABELS.get(before.casefold())
        raw = (number.group() + after).strip()
        return (known[0] if known else None), raw, (known[1] if known else frozenset())
    words = after.split()
    for i in range(len(words) + 1):
        label = " ".join(words[i:])
        known = COUNT_LABELS.get(label.casefold())
        if known and label:
            label_at_end = r"\s*" + r"\s+".join(map(re.escape, words[i:])) + r"\s*$"
            raw = re.sub(label_at_end, "", piece).strip()
            return known[0], raw, known[1]
    # Unknown label: keep every word but the last (the label) as the number's suffix.
    suffix = " ".join(words[:-1])
    return None, f"{number.group()} {suffix}".strip() if suffix else number.group(), frozenset()


def _name_from_title(title: str | None, handle: str | None) -> str | None:
    """``"Name (@handle) • Instagram photos and videos"`` -> ``"Name"``."""
    if not title:
        return None
    match = _HANDLE_IN_TEXT.search(title)
    if match is None or (handle and match.group(1).lower() != handle):
        return None
    name = title[: match.start()].strip().removesuffix("さん").strip()
    return name or None


def parse_og_description(text: str | None, *, title: str | None = None) -> dict | None:
    """Read a profile's ``og:description`` line in any language in :data:`COUNT_LABELS`.

    Returns ProfileItem field values (``followers``, ``following``, ``posts_count`` as the
    page's text, ``handle``, ``display_name``, and ``locale`` when the labels tell the
    language), or None when the line is not a profile's count line. ``title`` (the page's
    ``og:title``) gives the display name more reliably than the localized sentence.
    """
    if not text:
        return None
    parts = _SEPARATOR.split(text.strip(), maxsplit=1)
    pieces = [p for p in _COUNT_SPLIT.split(parts[0]) if p.strip()]
    if not 2 <= len(pieces) <= 3:
        return None
    counts: dict[str, str] = {}
    unknown: list[tuple[int, str]] = []
    langs: frozenset[str] | None = None
    for position, piece in enumerate(pieces):
        field_name, raw, piece_langs = _read_count_piece(piece)
        if raw is None:
            return None
        if field_name is None:
            unknown.append((position, raw))
            continue
        counts[field_name] = raw
        langs = piece_langs if langs is None else (langs & piece_langs or langs)
    if unknown:  # labels in a language not in the table: the order is always the same
        if len(pieces) != 3 or counts:
            return None
        counts = {_POSITIONAL[pos]: raw for pos, raw in unknown}
    result: dict[str, Any] = dict(counts)
    rest = parts[1] if len(parts) == 2 else ""
    handles = _HANDLE_IN_TEXT.findall(rest)
    handle = _handle(handles[-1]) if handles else None
    result["handle"] = handle
    name = _name_from_title(title, handle)
    if name is None and handles:
        before = rest[: list(_HANDLE_IN_TEXT.finditer(rest))[-1].start()].strip()
        before = before.removesuffix("さん").strip()
        match = _NAME_AFTER.search(before)
        if match:
            name = match.group("name").strip()
        elif "Instagram" not in before:
            name = before or None
    result["display_name"] = name
    result["locale"] = next(iter(langs)) if langs and len(langs) == 1 else None
    return result


# -- HTML ----------------------------------------------------------------------------------

_ADDITIONAL_DATA = re.compile(
    r"window\.__additionalDataLoaded\(\s*['\"][^'\"]*['\"]\s*,\s*(\{.*\})\s*\)\s*;?\s*$", re.S
)


def _shared_data(sel: Selector) -> dict | None:
    for script in sel.xpath("//script[contains(., 'window._sharedData')]/text()").getall():
        start = script.find("{", script.find("window._sharedData"))
        if start < 0:
            continue
        try:
            data: Any = check_depth(chompjs.parse_js_object(script[start:]))
        except (ValueError, RecursionError):
            continue
        if isinstance(data, dict):
            return data
    return None


def _additional_data(sel: Selector) -> list[dict]:
    found = []
    for script in sel.xpath("//script[contains(., '__additionalDataLoaded')]/text()").getall():
        match = _ADDITIONAL_DATA.search(script.strip())
        if not match:
            continue
        try:
            data: Any = check_depth(chompjs.parse_js_object(match.group(1)))
        except (ValueError, RecursionError):
            continue
        if isinstance(data, dict):
            found.append(data)
    return found


def _meta(sel: Selector, name: str) -> str | None:
    value = sel.xpath(
        f"//meta[@property='{name}']/@content | //meta[@name='{name}']/@content"
    ).get()
    return value.strip() if value else None


def _is_login_url(url: str | None) -> bool:
    return bool(url) and _path(url).rstrip("/").startswith("/accounts/login")


def _is_challenge_url(url: str | None) -> bool:
    return bool(url) and _path(url).startswith(("/challenge", "/checkpoint"))


def parse_profile_html(
    html: str | bytes, *, url: str | None = None, fetched_at: datetime | None = None
) -> list[Item]:
    """A profile page (or a tag page): ``_sharedData`` when it holds the data, else og tags.

    Raises :class:`BlockedPage` for a login wall or checkpoint page and
    :class:`UnrecognisedDocument` for any other page.
    """
    sel = Selector(text=storable_text(_to_text(html)))
    locale = sel.xpath("/html/@lang").get() or None
    shared = _shared_data(sel)
    if shared is not None:
        locale = locale or _text(shared.get("language_code"))
        try:
            return parse_shared_data(shared, url=url, fetched_at=fetched_at, locale=locale)
        except UnrecognisedDocument:
            pass  # logged-out pages from 2021 on keep the user out of _sharedData
    for extra in _additional_data(sel):
        user = _get(extra, "graphql", "user")
        if isinstance(user, dict) and user.get("username"):
            return [_graph_profile(user, url=url, fetched_at=fetched_at, locale=locale)]
        if isinstance(_get(extra, "graphql", "hashtag"), dict):
            return parse_hashtag_page(extra, url=url, fetched_at=fetched_at).items
    og = parse_og_description(
        _meta(sel, "og:description") or _meta(sel, "description"), title=_meta(sel, "og:title")
    )
    if og is not None:
        handle = og["handle"] or _handle_from_url(_meta(sel, "og:url") or url)
        return [
            ProfileItem(
                platform=PLATFORM,
                handle=handle,
                display_name=og["display_name"],
                followers=og.get("followers"),
                following=og.get("following"),
                posts_count=og.get("posts_count"),
                profile_url=PROFILE_URL.format(handle) if handle else None,
                source_url=url,
                fetched_at=fetched_at,
                locale=locale or og["locale"],
            )
        ]
    _raise_if_blocked_html(sel, shared)
    raise UnrecognisedDocument("Instagram HTML without profile data (_sharedData, og:description)")


def _handle_from_url(url: str | None) -> str | None:
    if not url:
        return None
    segments = [s for s in _path(url).split("/") if s]
    if len(segments) == 1 and re.fullmatch(r"[A-Za-z0-9._]{1,30}", segments[0]):
        return _handle(segments[0])
    return None


def _raise_if_blocked_html(sel: Selector, shared: dict | None) -> None:
    entry = _obj(_obj(shared).get("entry_data"))
    if "Challenge" in entry or sel.xpath("//form[contains(@action, '/challenge/')]"):
        raise BlockedPage("checkpoint_required", "challenge page")
    for link in (_meta(sel, "og:url"), sel.xpath("//link[@rel='canonical']/@href").get()):
        if _is_login_url(link):
            raise BlockedPage("login_required", f"page is {link}")
    if "LoginAndSignupPage" in entry:
        raise BlockedPage("login_required", "login page (LoginAndSignupPage)")
    if sel.xpath("//form[contains(@action, '/accounts/login')]") or sel.xpath(
        "//form//input[@type='password' or @name='password']"
    ):
        raise BlockedPage("login_required", "login form")


# -- _sharedData ---------------------------------------------------------------------------


def parse_shared_data(
    data: dict,
    *,
    url: str | None = None,
    fetched_at: datetime | None = None,
    locale: str | None = None,
) -> list[Item]:
    """``window._sharedData`` (from the page or saved on its own): profile, tag or post page."""
    entry = data.get("entry_data")
    if not isinstance(entry, dict):
        raise UnrecognisedDocument("_sharedData without entry_data")
    locale = locale or _text(data.get("language_code"))
    user = _get(entry, "ProfilePage", 0, "graphql", "user")
    if isinstance(user, dict) and user.get("username"):
        return [_graph_profile(user, url=url, fetched_at=fetched_at, locale=locale)]
    if isinstance(_get(entry, "TagPage", 0, "graphql", "hashtag"), dict):
        return parse_hashtag_page(entry["TagPage"][0], url=url, fetched_at=fetched_at).items
    media = _get(entry, "PostPage", 0, "graphql", "shortcode_media")
    if isinstance(media, dict):
        return [post_from_node(media)]
    if "Challenge" in entry:
        raise BlockedPage("checkpoint_required", "challenge page")
    if "LoginAndSignupPage" in entry:
        raise BlockedPage("login_required", "login page (LoginAndSignupPage)")
    raise UnrecognisedDocument(f"_sharedData entry_data holds {sorted(entry)} without data")


# ---------------------------------------------------------------------------------------
# Paginated media lists
# ---------------------------------------------------------------------------------------


@dataclass
class MediaPage:
    """One page of posts (a user's timeline or a hashtag listing) and where to go next.

    ``owner_of`` maps the id of each post whose author is not known yet to its owner's id;
    ``owners`` maps each such owner id to the shortcode of one of their posts, the page the
    spider fetches (once per owner per run) to learn the handle; :func:`assign_authors`
    then fills the handles in.
    """

    items: list[Item] = field(default_factory=list)
    owner_of: dict[str, str] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    end_cursor: str | None = None
    has_next: bool = False
    total: int | None = None

    @property
    def next_cursor(self) -> str | None:
        """The cursor for the next page's ``after`` variable, None on the last page."""
        return self.end_cursor if self.has_next and self.end_cursor else None


def _page_info(connection: Any) -> tuple[str | None, bool]:
    info = _obj(_get(connection, "page_info"))
    cursor = _text(info.get("end_cursor"))
    return cursor, bool(info.get("has_next_page")) and cursor is not None


def _collect_post(
    page: MediaPage, node: dict, handles: Mapping[str, str], seen: set[str]
) -> PostItem:
    owner_id = _str_id(_get(node, "owner", "id"))
    post = post_from_node(node, author_handle=_handle(handles.get(owner_id)) if owner_id else None)
    if post.author_handle is None and owner_id and post.post_id:
        page.owner_of[post.post_id] = owner_id
        if _text(node.get("shortcode")):
            page.owners.setdefault(owner_id, node["shortcode"])
    if post.post_id not in seen:
        seen.add(post.post_id or "")
        page.items.append(post)
    return post


def parse_user_media_page(
    data: dict, *, handles: Mapping[str, str] | None = None
) -> MediaPage:
    """GraphQL ``data.user.edge_owner_to_timeline_media`` page -> PostItems and the cursor.

    ``handles`` (owner id -> handle, what the spider already knows) names the author when
    the nodes carry only ``owner.id``.
    """
    connection = _first(
        _get(data, "data", "user", "edge_owner_to_timeline_media"),
        _get(data, "graphql", "user", "edge_owner_to_timeline_media"),
    )
    if not isinstance(connection, dict):
        raise UnrecognisedDocument("not a user media page (no edge_owner_to_timeline_media)")
    page = MediaPage(total=connection.get("count"))
    page.end_cursor, page.has_next = _page_info(connection)
    seen: set[str] = set()
    for edge in _seq(connection.get("edges")):
        if isinstance(_get(edge, "node"), dict):
            _collect_post(page, edge["node"], handles or {}, seen)
    return page


def parse_hashtag_page(
    data: dict,
    *,
    url: str | None = None,
    fetched_at: datetime | None = None,
    handles: Mapping[str, str] | None = None,
    position_offset: int = 0,
    include_top: bool = True,
) -> MediaPage:
    """A hashtag listing: ``data.hashtag`` (GraphQL), ``graphql.hashtag`` (``?__a=1``) or
    ``entry_data.TagPage[0]``.

    Yields one :class:`HashtagSightingItem` per post and listing (``top`` from
    ``edge_hashtag_to_top_posts``, ``recent`` from ``edge_hashtag_to_media``) with 0-based
    positions, as the warehouse stores them (``recent`` positions start at
    ``position_offset``, the number of recent posts on the pages before), then one
    :class:`PostItem` per distinct post. The cursor
    pages through the recent listing; pass ``include_top=False`` on the pages after the
    first, which repeat the same top posts.
    """
    tag = _first(_get(data, "data", "hashtag"), _get(data, "graphql", "hashtag"))
    if not isinstance(tag, dict):
        raise UnrecognisedDocument("not a hashtag page (no data.hashtag / graphql.hashtag)")
    recent = _obj(tag.get("edge_hashtag_to_media"))
    page = MediaPage(total=recent.get("count"))
    page.end_cursor, page.has_next = _page_info(recent)
    handles = handles or {}
    name = _text(tag.get("name"))
    listings = [("top", _obj(tag.get("edge_hashtag_to_top_posts")), 0)] if include_top else []
    listings.append(("recent", recent, position_offset))
    sightings: list[Item] = []
    posts = MediaPage()
    seen: set[str] = set()
    for listing, connection, offset in listings:
        edges = _seq(connection.get("edges"))
        nodes = [e["node"] for e in edges if isinstance(_get(e, "node"), dict)]
        for position, node in enumerate(nodes, start=offset):
            post = _collect_post(posts, node, handles, seen)
            sightings.append(
                HashtagSightingItem(
                    platform=PLATFORM,
                    hashtag=name,
                    post_id=post.post_id,
                    author_handle=post.author_handle,
                    position=position,
                    listing=listing,
                    seen_at=fetched_at,
                    source_url=url,
                )
            )
    page.items = sightings + posts.items
    page.owner_of, page.owners = posts.owner_of, posts.owners
    return page


def assign_authors(items: Iterable[Any], owner_of: Mapping[str, str],
                   handles: Mapping[str, str]) -> int:
    """Fill ``author_handle`` of posts and sightings whose owner id is now resolved.

    ``owner_of`` is :attr:`MediaPage.owner_of`; ``handles`` maps owner id -> handle.
    Returns how many items were filled.
    """
    filled = 0
    for item in items:
        if not isinstance(item, PostItem | HashtagSightingItem) or item.author_handle:
            continue
        owner_id = owner_of.get(item.post_id or "")
        handle = _handle(handles.get(owner_id)) if owner_id else None
        if handle:
            item.author_handle = handle
            filled += 1
    return filled


# ---------------------------------------------------------------------------------------
# A single post (how owner ids become handles)
# ---------------------------------------------------------------------------------------


def _post_media(data: dict) -> dict | None:
    for path in (
        ("graphql", "shortcode_media"),
        ("data", "shortcode_media"),
        ("data", "xdt_shortcode_media"),
        ("entry_data", "PostPage", 0, "graphql", "shortcode_media"),
    ):
        media = _get(data, *path)
        if isinstance(media, dict):
            return media
    return None


def parse_post(data: dict) -> list[Item]:
    """A post's own JSON -> ``[PostItem]`` with ``author_handle`` set from the owner."""
    media = _post_media(data)
    if media is not None:
        return [post_from_node(media)]
    items = data.get("items")
    if isinstance(items, list) and items and all(isinstance(i, dict) for i in items):
        return [post_from_app_media(i) for i in items]
    raise UnrecognisedDocument("not a post body (no shortcode_media / items)")


@dataclass(frozen=True)
class PostOwner:
    """Who posted a post, as the post's own body tells: enough to resolve an owner id."""

    id: str | None
    handle: str | None
    #: ``owner.edge_followed_by.count`` (or the app-style ``user.follower_count``) when the
    #: body carries it: lets a sweep skip out-of-range owners without fetching the profile.
    followers: int | None = None


def post_owner(body: str | bytes | dict) -> tuple[str | None, str | None]:
    """``(owner id, handle)`` of the post in a post page's JSON or HTML, for owner resolution.

    Raises like :func:`parse_document` (BlockedPage for a login wall, UnrecognisedDocument
    when the body names no owner).
    """
    owner = owner_of_post(body)
    return owner.id, owner.handle


def owner_of_post(body: str | bytes | dict) -> PostOwner:
    """The :class:`PostOwner` of a post page's JSON or HTML (raises like :func:`post_owner`)."""
    data: Any = body
    if not isinstance(body, dict):
        text = _to_text(body).lstrip()
        if text.startswith("<"):
            sel = Selector(text=storable_text(text))
            data = _shared_data(sel)
            if data is None:
                _raise_if_blocked_html(sel, None)
                raise UnrecognisedDocument("post page without _sharedData")
        else:
            data = _load_json(text)
    if not isinstance(data, dict):
        raise UnrecognisedDocument("post body is not a JSON object")
    _raise_if_blocked_json(data)
    media = _post_media(data)
    if media is not None:
        owner = _obj(media.get("owner"))
        return PostOwner(_str_id(owner.get("id")), _handle(owner.get("username")),
                         _int_or_none(_count(owner.get("edge_followed_by"))))
    user = _get(data, "items", 0, "user")
    if isinstance(user, dict):
        return PostOwner(_str_id(_first(user.get("pk"), user.get("id"))),
                         _handle(user.get("username")),
                         _int_or_none(user.get("follower_count")))
    raise UnrecognisedDocument("post body names no owner")


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# ---------------------------------------------------------------------------------------
# Detection
# ---------------------------------------------------------------------------------------

_RATE_LIMIT_MESSAGES = ("please wait a few minutes", "rate limit", "too many requests")


def _raise_if_blocked_json(data: dict) -> None:
    message = str(data.get("message") or "").strip()
    lowered = message.lower()
    if lowered in ("checkpoint_required", "challenge_required") or data.get("checkpoint_url"):
        raise BlockedPage("checkpoint_required", str(data.get("checkpoint_url") or message))
    if any(m in lowered for m in _RATE_LIMIT_MESSAGES) or lowered == "feedback_required" or (
        data.get("spam") is True
    ):
        raise BlockedPage("rate_limited", message)
    if lowered == "login_required" or data.get("require_login") is True:
        raise BlockedPage("login_required", message)
    if data.get("status") == "fail":
        raise UnrecognisedDocument(f"Instagram error body: {message or data.get('error_type')}")


def check_blocked(data: dict) -> None:
    """Raise :class:`BlockedPage` when a JSON body is a checkpoint, login or rate-limit
    answer (``{"message": "checkpoint_required", ...}``, ``{"require_login": true}``,
    "Please wait a few minutes ..."), and :class:`UnrecognisedDocument` for other
    ``"status": "fail"`` bodies; return None for a body that may hold data."""
    _raise_if_blocked_json(data)


def redirect_block(location: str | None) -> BlockedPage | None:
    """The :class:`BlockedPage` a redirect to ``location`` means (a login page or a
    checkpoint), or None for any other redirect."""
    if _is_login_url(location):
        return BlockedPage("login_required", f"redirected to {location}")
    if _is_challenge_url(location):
        return BlockedPage("checkpoint_required", f"redirected to {location}")
    return None


def _load_json(text: str) -> Any:
    text = text.strip()
    if text.startswith("for (;;);"):
        text = text[len("for (;;);"):]
    try:
        return loads_json(text)
    except ValueError as exc:
        raise UnrecognisedDocument(f"body is not valid JSON: {exc}") from None


def _parse_json(
    data: Any, *, url: str | None, fetched_at: datetime | None
) -> list[Item]:
    if not isinstance(data, dict):
        raise UnrecognisedDocument(f"Instagram JSON is an object, not {type(data).__name__}")
    if instagram_graph.recognises(data):  # the Graph API (crawler/parsers/instagram_graph.py)
        return instagram_graph.parse_json(data, url=url, fetched_at=fetched_at)
    _raise_if_blocked_json(data)
    inner = data.get("data")
    if isinstance(inner, dict):
        if "user" in inner:
            user = inner["user"]
            if isinstance(user, dict) and "username" in user:
                return parse_web_profile_info(data, url=url, fetched_at=fetched_at)
            if isinstance(user, dict) and "edge_owner_to_timeline_media" in user:
                return parse_user_media_page(data).items
            if user is None:
                return [_not_found("profile_not_found", data, url)]
        if "hashtag" in inner:
            if inner["hashtag"] is None:
                return [_not_found("hashtag_not_found", data, url)]
            return parse_hashtag_page(data, url=url, fetched_at=fetched_at).items
    if "entry_data" in data:
        return parse_shared_data(data, url=url, fetched_at=fetched_at)
    graph = data.get("graphql")
    if isinstance(graph, dict):
        if isinstance(graph.get("user"), dict) and graph["user"].get("username"):
            return [_graph_profile(graph["user"], url=url, fetched_at=fetched_at)]
        if isinstance(graph.get("hashtag"), dict):
            return parse_hashtag_page(data, url=url, fetched_at=fetched_at).items
    if _post_media(data) is not None:
        return parse_post(data)
    user = data.get("user")
    if isinstance(user, dict) and ("follower_count" in user or "pk" in user):
        return parse_user_info(data, url=url, fetched_at=fetched_at)
    items = data.get("items")
    if isinstance(items, list) and items and isinstance(items[0], dict) and "taken_at" in items[0]:
        return parse_post(data)
    raise UnrecognisedDocument(f"unknown Instagram JSON (keys: {sorted(data)[:10]})")


def parse_document(
    body: str | bytes | dict | list,
    *,
    url: str | None = None,
    fetched_at: datetime | None = None,
    headers: Mapping[str, str] | None = None,
) -> list[Item]:
    """Detect what an Instagram body holds and return its items (see the module docstring).

    Raises ``BlockedPage("login_required")`` for a login page or a redirect to one,
    ``BlockedPage("checkpoint_required")`` for a checkpoint/challenge,
    ``BlockedPage("rate_limited")`` for "Please wait a few minutes" bodies, and
    :class:`UnrecognisedDocument` for anything else it cannot read.
    """
    location = _header(headers, "location")
    for target in (url, location):
        blocked = redirect_block(target)
        if blocked is not None:
            raise blocked
    if isinstance(body, dict | list):
        return _parse_json(body, url=url, fetched_at=fetched_at)
    text = _to_text(body).lstrip("\ufeff \t\r\n")
    if not text:
        raise UnrecognisedDocument("empty body")
    if text.startswith(("{", "[", "for (;;);")):
        return _parse_json(_load_json(text), url=url, fetched_at=fetched_at)
    if text.startswith("<"):
        return parse_profile_html(text, url=url, fetched_at=fetched_at)
    raise UnrecognisedDocument("neither JSON nor HTML")


def page_info(body: str | bytes | dict) -> tuple[str | None, bool]:
    """``(end_cursor, has_next_page)`` of the paginated list in a body, ``(None, False)``
    when there is none: a user media page, a hashtag's recent listing, or the timeline in
    a profile body (web_profile_info, ``_sharedData``, ``?__a=1``).
    """
    if isinstance(body, dict):
        data: Any = body
    else:
        text = _to_text(body).lstrip()
        if text.startswith("<"):
            data = _shared_data(Selector(text=storable_text(text)))
        else:
            try:
                data = _load_json(text)
            except UnrecognisedDocument:
                return None, False
    if not isinstance(data, dict):
        return None, False
    for path in (
        ("data", "user", "edge_owner_to_timeline_media"),
        ("data", "hashtag", "edge_hashtag_to_media"),
        ("graphql", "user", "edge_owner_to_timeline_media"),
        ("graphql", "hashtag", "edge_hashtag_to_media"),
        ("entry_data", "ProfilePage", 0, "graphql", "user", "edge_owner_to_timeline_media"),
        ("entry_data", "TagPage", 0, "graphql", "hashtag", "edge_hashtag_to_media"),
    ):
        connection = _get(data, *path)
        if isinstance(connection, dict):
            return _page_info(connection)
    return None, False
