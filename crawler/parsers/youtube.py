"""YouTube: channel pages, youtubei browse bodies, hashtag listings and Data API v3 -> items.

Pure functions, no Scrapy, no network. Formats understood:

* A channel page (any tab: home, videos, shorts, live, ...) with ``var ytInitialData = {...}``,
  or the equivalent ``youtubei/v1/browse`` JSON. The header comes in three layouts:
  ``c4TabbedHeaderRenderer`` (``subscriberCountText`` "1.65M subscribers",
  ``videosCountText``, ``badges``), ``pageHeaderRenderer`` with a ``pageHeaderViewModel``
  (metadata rows "@handle", "25m subscribers", "337 videos"; a CHECK_CIRCLE attachment for
  the verified badge), and headers with no counts (topic channels).
* A browse continuation (``onResponseReceivedActions``): the next page of a channel tab or of
  a ``/hashtag/X`` listing (``richItemRenderer.content.videoRenderer``).
* The ``/hashtag/X`` page itself (``hashtagHeaderRenderer`` or a ``#X`` page title).
* A NewPipe ``RecordingDownloader`` mock: ``{"request": {...}, "response": {"responseBody"}}``;
  the request's ``hl`` is the page's locale and the response's ``date`` header its fetch time.
* YouTube Data API v3 ``channels.list`` (with ``contentDetails``: the uploads playlist, read
  by :func:`uploads_playlists`), ``search.list``, ``playlistItems.list`` (an uploads playlist:
  a channel's videos, newest first) and ``videos.list`` bodies.

What :func:`parse_document` returns:

=============================  ===========================================================
body                           items
=============================  ===========================================================
channel page / browse body     ``[ProfileItem]`` with the tab's videos as ``recent_posts``
hashtag page or continuation   one ``HashtagSightingItem`` per video (0-based positions,
                               listing ``"top"``), then one ``PostItem`` per video
channel-tab continuation       one ``PostItem`` per video
``channels.list``              one ``ProfileItem`` per channel (counts are the API's strings)
``search.list``/``videos.list``  one ``PostItem`` per video (sightings too when ``q`` is a
                               ``#tag``)
``playlistItems.list``         one ``PostItem`` per public video (publish time, title,
                               hashtags; no counts: ``videos.list`` has them)
consent / bot check / captcha  raises ``BlockedPage`` ("consent_required", "bot_check",
                               "captcha"); Data API errors ``BlockedPage("quota_exceeded")``
                               (the day's quota is spent) or ``("rate_limited")``
anything else                  raises :class:`~crawler.parsers.UnrecognisedDocument`
=============================  ===========================================================

Counts are emitted as the page prints them ("25m subscribers", "1,545,374 views",
"4,69 M de suscriptores") with ``ProfileItem.locale`` set to the page's language, which
the normaliser needs to read them. Relative publish times ("10 days ago") are resolved
against ``fetched_at`` (else the response's Date header, else now) and their precision
recorded; a text that cannot be read is left as it is for the normaliser to quarantine.

Raw signal fields:

* ``channels.list``: ``snippet.country`` (else ``brandingSettings.channel.country``) is the
  profile's ``country``.
* ``videos.list``: ``paidProductPlacementDetails.hasPaidProductPlacement`` (only when that
  part is asked for) is a post's ``platform_sponsored``; ``snippet.defaultAudioLanguage``
  (else ``snippet.defaultLanguage``) its ``language``.
* Channel pages: the header's links (``c4TabbedHeaderRenderer`` primary and secondary links,
  the ``pageHeaderViewModel`` attribution) and an about renderer's links, other than
  ``external_url``, are ``links``. The about renderers name a country, not a code: not read.
"""

from __future__ import annotations

import base64
import binascii
import html as html_lib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlparse

import parsel

from crawler.items import HashtagSightingItem, PostItem, ProfileItem
from crawler.parsers import (
    BlockedPage,
    UnrecognisedDocument,
    check_depth,
    country_code,
    declared_language,
    loads_json,
    profile_links,
)
from crawler.values import (
    UnreadableValue,
    extract_hashtags,
    parse_relative_time,
    parse_timestamp,
    storable_text,
)

PLATFORM = "youtube"
BASE_URL = "https://www.youtube.com"
BROWSE_API_URL = f"{BASE_URL}/youtubei/v1/browse?prettyPrint=false"
DATA_API_URL = "https://www.googleapis.com/youtube/v3"
#: The Data API reads the key from this header as well as from ``?key=``; we use only the header.
API_KEY_HEADER = "X-Goog-Api-Key"
#: ``channels.list`` parts of a profile: counts, and the uploads playlist (still 1 unit).
CHANNEL_PARTS = "snippet,statistics,contentDetails"
#: Most ids one ``channels.list``/``videos.list`` call takes, most items a page holds.
API_MAX_RESULTS = 50
WEB_CLIENT_NAME = "WEB"
WEB_CLIENT_VERSION = "2.20260123.01.00"
CONSENT_HOST = "consent.youtube.com"
HASHTAG_BROWSE_ID = "FEhashtag"
# YouTube's hashtag pages rank videos by relevance, not by time.
HASHTAG_LISTING = "top"
VERIFIED_BADGE_STYLES = frozenset({"BADGE_STYLE_TYPE_VERIFIED", "BADGE_STYLE_TYPE_VERIFIED_ARTIST"})
VERIFIED_ICON_NAMES = frozenset({"CHECK_CIRCLE_FILLED", "CHECK_CIRCLE_THICK", "CHECK",
                                 "OFFICIAL_ARTIST_BADGE", "AUDIO_BADGE", "MUSIC_FILLED"})

_VIDEO_RENDERERS = ("videoRenderer", "gridVideoRenderer", "compactVideoRenderer",
                    "playlistVideoRenderer", "channelVideoPlayerRenderer", "reelItemRenderer",
                    "shortsLockupViewModel", "lockupViewModel")
# The word after a header count, in the languages YouTube serves (substring, lower-case).
_SUBSCRIBER_WORDS = ("subscriber", "suscriptor", "abonnent", "abonné", "abonne", "inscrit",
                     "iscritt", "subskryb", "prenumerant", "odběratel", "feliratkoz",
                     "подпис", "передплат", "συνδρομητ", "מנוי", "مشترك", "सदस्य",
                     "ผู้ติดตาม", "登録者", "구독자", "订阅者", "訂閱者", "pelanggan",
                     "người đăng ký", "seguidor", "abone")
_VIDEO_WORDS = ("video", "vídeo", "vidéo", "wideo", "videó", "видео", "відео", "βίντεο",
                "סרטונים", "فيديو", "वीडियो", "วิดีโอ", "動画", "동영상", "视频", "影片")
_BOT_CHECK_RE = re.compile(r"confirm\s+(?:that\s+)?you(?:'|’|&#39;|\\u0027)?re\s+not\s+a\s+bot",
                           re.IGNORECASE)
_CAPTCHA_RE = re.compile(r"unusual traffic from your computer network|/sorry/index|"
                         r"g-recaptcha|recaptcha/api\.js", re.IGNORECASE)
_CONSENT_RE = re.compile(r"consent\.youtube\.com|Before you continue to YouTube", re.IGNORECASE)
_INITIAL_DATA_RE = re.compile(
    r"""(?:var\s+ytInitialData|window\[["']ytInitialData["']\]|ytInitialData)\s*=\s*""")
_PLAYER_RESPONSE_RE = re.compile(r"""(?:var\s+)?ytInitialPlayerResponse\s*=\s*""")
_YTCFG_HL_RE = re.compile(r'"(?:HL|INNERTUBE_CONTEXT_HL)"\s*:\s*"([A-Za-z]{2,3}(?:[-_][\w]+)?)"')
_URL_HL_RE = re.compile(r"[?&](?:amp;)?hl=([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]+)?)")
_CHANNEL_ID_RE = re.compile(r"^UC[\w-]{22}$")
_HASHTAG_WORD_RE = re.compile(r"^[^\W_][\w]*$")


# --------------------------------------------------------------------------- URL builders


def channel_url(handle_or_id: str, tab: str | None = None) -> str:
    """``/@handle`` for a handle, ``/channel/UC...`` for a channel id; ``tab`` e.g. "videos"."""
    key = handle_or_id.lstrip("@")
    path = f"/channel/{key}" if _CHANNEL_ID_RE.match(key) else f"/@{quote(key)}"
    return f"{BASE_URL}{path}/{tab}" if tab else f"{BASE_URL}{path}"


def hashtag_url(tag: str) -> str:
    return f"{BASE_URL}/hashtag/{quote(tag.lstrip('#').lower())}"


def video_url(video_id: str) -> str:
    return f"{BASE_URL}/watch?v={video_id}"


def shorts_url(video_id: str) -> str:
    return f"{BASE_URL}/shorts/{video_id}"


def browse_request_body(*, browse_id: str | None = None, params: str | None = None,
                        continuation: str | None = None, hl: str = "en",
                        gl: str = "US") -> dict[str, Any]:
    """JSON body to POST to :data:`BROWSE_API_URL` (a first page or a continuation)."""
    body: dict[str, Any] = {"context": {"client": {
        "clientName": WEB_CLIENT_NAME, "clientVersion": WEB_CLIENT_VERSION, "hl": hl, "gl": gl,
    }}}
    if continuation:
        body["continuation"] = continuation
    else:
        if not browse_id:
            raise ValueError("browse_request_body needs browse_id or continuation")
        body["browseId"] = browse_id
        if params:
            body["params"] = params
    return body


def data_api_url(resource: str, *, base: str = DATA_API_URL, **params: Any) -> str:
    """``https://www.googleapis.com/youtube/v3/<resource>?...`` (None values left out).

    No builder puts the API key in the URL: send it as the ``X-Goog-Api-Key`` header
    (:data:`API_KEY_HEADER`), so it never reaches logs, stats, cassettes or stored URLs.
    """
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{base.rstrip('/')}/{resource}?{query}"


def channels_list_url(*, channel_id: str | None = None, for_handle: str | None = None,
                      part: str = "snippet,statistics", base: str = DATA_API_URL) -> str:
    """``channels.list``; ``channel_id`` may be up to 50 comma-separated ids. Add
    ``contentDetails`` to ``part`` (:data:`CHANNEL_PARTS`) for the uploads playlist."""
    return data_api_url("channels", base=base, part=part, id=channel_id, forHandle=for_handle)


def playlist_items_url(playlist_id: str, *, max_results: int = 50, page_token: str | None = None,
                       part: str = "snippet,contentDetails", base: str = DATA_API_URL) -> str:
    """``playlistItems.list`` (1 quota unit): a playlist's videos, up to 50 a page."""
    return data_api_url("playlistItems", base=base, part=part, playlistId=playlist_id,
                        maxResults=max_results, pageToken=page_token)


def search_list_url(q: str | None = None, *, page_token: str | None = None,
                    max_results: int = 50, order: str | None = None,
                    result_type: str = "video", channel_id: str | None = None,
                    base: str = DATA_API_URL) -> str:
    return data_api_url("search", base=base, part="snippet", q=q, channelId=channel_id,
                        type=result_type, maxResults=max_results, order=order,
                        pageToken=page_token)


def videos_list_url(video_ids: list[str], *, part: str = "snippet,statistics",
                    base: str = DATA_API_URL) -> str:
    """``videos.list`` (1 quota unit whatever the parts) for up to 50 ids."""
    return data_api_url("videos", base=base, part=part, id=",".join(video_ids))


def uploads_playlist_id(channel_id: str) -> str | None:
    """The uploads playlist of a channel: "UC..." -> "UU..." (what ``channels.list`` names in
    ``contentDetails.relatedPlaylists.uploads``; the fallback when a body leaves it out)."""
    return "UU" + channel_id[2:] if _CHANNEL_ID_RE.match(channel_id) else None


def uploads_playlists(data: Any) -> dict[str, str]:
    """``channels.list`` body -> {channel id: uploads playlist id}, for the channels whose
    ``contentDetails.relatedPlaylists.uploads`` is given."""
    found: dict[str, str] = {}
    if not isinstance(data, Mapping):
        return found
    for item in _seq(data.get("items")):
        channel_id = _str(_map(item).get("id"))
        uploads = _str(_dig(item, "contentDetails", "relatedPlaylists", "uploads"))
        if channel_id and uploads:
            found[channel_id] = uploads
    return found


# --------------------------------------------------------------------------- pagination


def continuation_token(data: Mapping[str, Any]) -> str | None:
    """The token that fetches the next page of a browse body's listing, None on the last."""
    for root in _listing_roots(data):
        for _, renderer in _walk(root, ("continuationItemRenderer", "nextContinuationData")):
            token = _find_key(renderer, "token") or renderer.get("continuation")
            if isinstance(token, str) and token:
                return token
    return None


def next_page_token(data: Mapping[str, Any]) -> str | None:
    """Data API ``nextPageToken`` (``search.list``, ``channels.list`` ...), None on the last."""
    token = data.get("nextPageToken")
    return token if isinstance(token, str) and token else None


def continuation_browse_id(token: str) -> str | None:
    """The browse id a continuation token continues ("UC..." for a channel, "FEhashtag")."""
    inner = _continuation_message(token)
    if inner is None:
        return None
    return next((_utf8(v) for f, wt, v in inner if f == 2 and wt == 2), None)


def hashtag_from_continuation(token: str) -> str | None:
    """The tag a ``/hashtag/X`` continuation token pages through (it is encoded inside)."""
    inner = _continuation_message(token)
    if inner is None or continuation_browse_id(token) != HASHTAG_BROWSE_ID:
        return None
    for f, wt, value in inner:
        if f == 2 or wt != 2:
            continue
        for text in _pb_strings(value, depth=0):
            if _HASHTAG_WORD_RE.match(text) and len(text) <= 100 and text != HASHTAG_BROWSE_ID:
                return text
    return None


# --------------------------------------------------------------------------- context


@dataclass
class _Context:
    source_url: str | None = None
    fetched_at: Any = None
    locale: str | None = None
    hashtag: str | None = None
    channel_handle: str | None = None
    channel_id: str | None = None
    position_offset: int = 0
    listing: str = HASHTAG_LISTING

    @property
    def now(self) -> datetime:
        if self.fetched_at is not None:
            try:
                moment = parse_timestamp(self.fetched_at)
            except UnreadableValue:
                moment = None
            if moment is not None:
                return moment
        return datetime.now(timezone.utc)


# --------------------------------------------------------------------------- entry point


def parse_document(body: str | bytes | dict | list, *, url: str | None = None,
                   fetched_at: datetime | None = None,
                   headers: Mapping[str, Any] | None = None,
                   hashtag: str | None = None, position_offset: int | None = None) -> list:
    """Detect what a YouTube body holds and return its items (see the module docstring).

    ``hashtag`` and ``position_offset`` say which tag listing a body belongs to and how many
    videos earlier pages held, for bodies that cannot say it themselves (the last
    ``youtubei/v1/browse`` continuation of a ``/hashtag/X`` listing carries no token naming
    the tag; a Data API ``search.list`` page does not know its offset).
    """
    if _netloc(url) == CONSENT_HOST:
        raise BlockedPage("consent_required", f"redirected to {url}")
    ctx = _context_from_request(url, fetched_at, headers)
    if hashtag:
        ctx.hashtag = hashtag.lstrip("#")
    if position_offset is not None:
        ctx.position_offset = position_offset
    return _parse_any(body, ctx)


def _parse_any(body: Any, ctx: _Context) -> list:
    if isinstance(body, (dict, list)):
        return parse_data(body, ctx=ctx)
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else str(body)
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped:
        raise UnrecognisedDocument("empty body")
    if stripped.startswith(")]}'"):
        stripped = stripped[4:].lstrip()  # the XSSI guard some endpoints prefix
    if stripped[0] in "{[":
        try:
            data = loads_json(stripped)
        except ValueError as exc:
            raise UnrecognisedDocument(f"invalid JSON: {exc}") from None
        return parse_data(data, ctx=ctx)
    if stripped[0] == "<":
        return parse_html(stripped, ctx=ctx)
    _raise_if_blocked_text(stripped)
    raise UnrecognisedDocument("neither JSON nor HTML")


def parse_html(html: str, *, ctx: _Context | None = None) -> list:
    """A youtube.com page: reads ``ytInitialData`` and the page language."""
    ctx = ctx or _Context()
    initial = _embedded_json(html, _INITIAL_DATA_RE)
    player = _embedded_json(html, _PLAYER_RESPONSE_RE)
    if isinstance(player, Mapping):
        _raise_if_blocked_json(player)
    if not isinstance(initial, Mapping):
        _raise_if_blocked_text(html)
        raise UnrecognisedDocument("HTML without ytInitialData")
    if ctx.locale is None:
        sel = parsel.Selector(text=storable_text(html[:5000]))
        ctx.locale = sel.xpath("/html/@lang").get() or None
    if ctx.locale is None:
        match = _YTCFG_HL_RE.search(html)
        ctx.locale = match.group(1) if match else None
    return parse_data(initial, ctx=ctx)


def page_data(body: str | bytes | dict | list, *, url: str | None = None) -> Any:
    """The decoded data a body holds: an HTML page's ``ytInitialData``, or the JSON itself.

    For the spiders, which need what the items do not carry (the next page's
    :func:`continuation_token`, a Data API :func:`next_page_token`). Raises
    :class:`BlockedPage` for consent, bot-check and captcha pages and Data API quota errors,
    :class:`UnrecognisedDocument` for bodies that are not YouTube data.
    """
    if _netloc(url) == CONSENT_HOST:
        raise BlockedPage("consent_required", f"redirected to {url}")
    if isinstance(body, (dict, list)):
        data: Any = body
    else:
        text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else str(body)
        stripped = text.lstrip("\ufeff \t\r\n")
        if stripped.startswith(")]}'"):
            stripped = stripped[4:].lstrip()
        if not stripped:
            raise UnrecognisedDocument("empty body")
        if stripped[0] == "<":
            data = _embedded_json(stripped, _INITIAL_DATA_RE)
            player = _embedded_json(stripped, _PLAYER_RESPONSE_RE)
            if isinstance(player, Mapping):
                _raise_if_blocked_json(player)
            if not isinstance(data, Mapping):
                _raise_if_blocked_text(stripped)
                raise UnrecognisedDocument("HTML without ytInitialData")
        elif stripped[0] in "{[":
            try:
                data = loads_json(stripped)
            except ValueError as exc:
                raise UnrecognisedDocument(f"invalid JSON: {exc}") from None
        else:
            _raise_if_blocked_text(stripped)
            raise UnrecognisedDocument("neither JSON nor HTML")
    if isinstance(data, Mapping):
        _raise_if_blocked_json(data)
        if isinstance(data.get("error"), Mapping):
            error = _api_error(data["error"])
            if isinstance(error, BlockedPage):
                raise error
    return data


def parse_data(data: Any, *, ctx: _Context | None = None) -> list:
    """Already-decoded JSON of any supported shape."""
    ctx = ctx or _Context()
    if not isinstance(data, Mapping):
        raise UnrecognisedDocument(f"not a YouTube body: {type(data).__name__}")
    if isinstance(data.get("response"), Mapping) and "responseBody" in data["response"]:
        return parse_recording(data, ctx=ctx)
    _raise_if_blocked_json(data)
    kind = data.get("kind")
    if kind == "youtube#channelListResponse":
        return parse_channels_list(data, ctx=ctx)
    if kind == "youtube#searchListResponse":
        return parse_search_list(data, ctx=ctx)
    if kind == "youtube#videoListResponse":
        return parse_videos_list(data, ctx=ctx)
    if kind == "youtube#playlistItemListResponse":
        return parse_playlist_items(data, ctx=ctx)
    if "error" in data and isinstance(data["error"], Mapping):
        raise _api_error(data["error"])
    if any(isinstance(data.get(key), Mapping) for key in ("contents", "header", "metadata")) or any(
            key in data for key in ("onResponseReceivedActions", "onResponseReceivedEndpoints",
                                    "continuationContents")):
        return parse_browse(data, ctx=ctx)
    raise UnrecognisedDocument(f"not a YouTube body: keys {sorted(data)[:8]}")


def parse_recording(data: Mapping[str, Any], *, ctx: _Context | None = None) -> list:
    """NewPipe's recorded request + response: the body, read with the request's language."""
    ctx = ctx or _Context()
    request = _map(data.get("request"))
    response = data["response"]
    ctx.locale = ctx.locale or _recorded_locale(request)
    ctx.source_url = ctx.source_url or _str(request.get("url")) or _str(response.get("latestUrl"))
    if ctx.fetched_at is None:
        ctx.fetched_at = _header_date(response.get("responseHeaders"))
    code = response.get("responseCode")
    if isinstance(code, int) and code >= 400:
        if code == 429:
            raise BlockedPage("rate_limited", f"HTTP {code}")
        raise UnrecognisedDocument(f"recorded response is HTTP {code}")
    latest = _str(response.get("latestUrl")) or ""
    if _netloc(latest) == CONSENT_HOST:
        raise BlockedPage("consent_required", f"redirected to {latest}")
    return _parse_any(response["responseBody"], ctx)


# --------------------------------------------------------------------------- browse bodies


def parse_browse(data: Mapping[str, Any], *, ctx: _Context | None = None,
                 channel_handle: str | None = None, hashtag: str | None = None,
                 position_offset: int | None = None) -> list:
    """A ``ytInitialData``/``youtubei/v1/browse`` body: a channel, a hashtag page or a
    continuation of either. ``channel_handle`` names the channel a continuation belongs to,
    ``hashtag`` the tag, ``position_offset`` the number of videos on earlier pages."""
    ctx = ctx or _Context()
    ctx.channel_handle = channel_handle or ctx.channel_handle
    ctx.hashtag = hashtag or ctx.hashtag
    if position_offset is not None:
        ctx.position_offset = position_offset
    ctx.locale = ctx.locale or _locale_from_data(data)
    header = _map(data.get("header"))
    channel_meta = _dig(data, "metadata", "channelMetadataRenderer")
    page_tag = _hashtag_from_header(header)
    if page_tag or _browse_id(data) == HASHTAG_BROWSE_ID:
        ctx.hashtag = ctx.hashtag or page_tag
    token = continuation_token(data)
    if not ctx.hashtag and token and continuation_browse_id(token) == HASHTAG_BROWSE_ID:
        ctx.hashtag = hashtag_from_continuation(token)
    if ctx.hashtag and not channel_meta:
        return _hashtag_listing(data, ctx)
    if channel_meta or _channel_header(header):
        return [parse_channel(data, ctx=ctx)]
    if any(key in data for key in ("onResponseReceivedActions", "onResponseReceivedEndpoints",
                                   "continuationContents")):
        return _videos(data, ctx)
    alert = _alert_text(data)
    raise UnrecognisedDocument(f"YouTube browse body without a channel or listing"
                               f"{': ' + alert if alert else ''}")


def parse_channel(data: Mapping[str, Any], *, ctx: _Context | None = None) -> ProfileItem:
    """The channel of a channel page/browse body, with the open tab's videos."""
    ctx = ctx or _Context()
    meta = _map(_dig(data, "metadata", "channelMetadataRenderer"))
    header = _channel_header(_map(data.get("header")))
    channel_id = _str(meta.get("externalId")) or header.get("channel_id") or _browse_id(data)
    handle = (_handle_from_url(meta.get("vanityChannelUrl"))
              or next((h for h in map(_handle_from_url, _seq(meta.get("ownerUrls"))) if h),
                      None)
              or header.get("handle")
              or _handle_from_url(_find_key(_map(data.get("header")), "canonicalBaseUrl")))
    key = handle or channel_id
    ctx.channel_handle, ctx.channel_id = key, channel_id
    # Home-tab shelves can show other channels' videos: keep the channel's own.
    posts = [p for p in _videos(data, ctx) if p.author_handle == key] if key else []
    external_url = header.get("external_url")
    return ProfileItem(
        platform=PLATFORM,
        handle=key,
        platform_user_id=channel_id,
        display_name=meta.get("title") or header.get("title"),
        bio=meta.get("description") if meta else header.get("description"),
        external_url=external_url,
        is_verified=header.get("verified") if header else None,
        followers=header.get("subscribers"),
        posts_count=header.get("videos"),
        profile_url=channel_url(key) if key else None,
        recent_posts=posts,
        source_url=ctx.source_url,
        fetched_at=ctx.fetched_at,
        locale=ctx.locale,
        links=profile_links([*header.get("links", ()), *_about_links(data)],
                            external_url=external_url),
    )


#: About-page renderers and the keys of their link lists: the 2024- ``aboutChannelViewModel``
#: (the "and N more links" panel) and the older ``channelAboutFullMetadataRenderer``.
_ABOUT_LINK_LISTS = {"aboutChannelViewModel": ("links",),
                     "channelAboutFullMetadataRenderer": ("primaryLinks", "secondaryLinks")}


def _about_links(data: Mapping[str, Any]) -> list[str]:
    """The link targets of the about renderers a channel body holds (none on most tabs)."""
    urls = []
    for name, renderer in _walk(data, tuple(_ABOUT_LINK_LISTS)):
        for key in _ABOUT_LINK_LISTS[name]:
            for link in _seq(renderer.get(key)):
                url = _unwrap_redirect(_dig(_find_key(link, "urlEndpoint"), "url"))
                if url:
                    urls.append(url)
    return urls


def _hashtag_listing(data: Mapping[str, Any], ctx: _Context) -> list:
    posts = _videos(data, ctx)
    tag = (ctx.hashtag or "").lstrip("#").lower() or None
    sightings = [
        HashtagSightingItem(platform=PLATFORM, hashtag=tag, post_id=post.post_id,
                            author_handle=post.author_handle, position=position,
                            listing=ctx.listing, seen_at=ctx.fetched_at,
                            source_url=ctx.source_url)
        for position, post in enumerate(posts, start=ctx.position_offset)
    ]
    return [*sightings, *posts]


def _videos(data: Mapping[str, Any], ctx: _Context) -> list[PostItem]:
    posts: dict[str, PostItem] = {}
    for root in _listing_roots(data):
        for name, renderer in _walk(root, _VIDEO_RENDERERS):
            post = parse_video_renderer(name, renderer, ctx=ctx)
            if post is not None and post.post_id and post.post_id not in posts:
                posts[post.post_id] = post
    return list(posts.values())


def parse_video_renderer(name: str, renderer: Mapping[str, Any], *,
                         ctx: _Context | None = None) -> PostItem | None:
    """One listed video (videoRenderer, gridVideoRenderer, reelItemRenderer, lockups...)."""
    ctx = ctx or _Context()
    if name == "lockupViewModel":
        return _lockup(renderer, ctx)
    if name == "shortsLockupViewModel":
        video_id = _str(_dig(renderer, "onTap", "innertubeCommand", "reelWatchEndpoint",
                             "videoId"))
        if not video_id:
            return None
        title = _text(_dig(renderer, "overlayMetadata", "primaryText"))
        views = _text(_dig(renderer, "overlayMetadata", "secondaryText"))
        return _post(video_id, title, views, None, ctx.channel_handle, ctx, short=True)
    video_id = _str(renderer.get("videoId"))
    if not video_id:
        return None
    title = _text(renderer.get("title")) or _text(renderer.get("headline"))
    live = _is_live(renderer)
    views = None if live or "upcomingEventData" in renderer else _text(
        renderer.get("viewCountText"))
    published = _text(renderer.get("publishedTimeText"))
    owner = None
    for key in ("ownerText", "longBylineText", "shortBylineText"):
        endpoint = _dig(_first_run(renderer.get(key)), "navigationEndpoint", "browseEndpoint")
        if isinstance(endpoint, Mapping) and _str(endpoint.get("browseId")):
            if ctx.channel_id and endpoint["browseId"] == ctx.channel_id:
                owner = ctx.channel_handle
            else:
                owner = (_handle_from_url(endpoint.get("canonicalBaseUrl"))
                         or endpoint["browseId"])
            break
    description = _text(renderer.get("descriptionSnippet"))
    post = _post(video_id, title, views, published, owner or ctx.channel_handle, ctx,
                 short=name == "reelItemRenderer", description=description)
    if live:
        post.media_type = "live"
    return post


def _lockup(renderer: Mapping[str, Any], ctx: _Context) -> PostItem | None:
    if renderer.get("contentType") not in (None, "LOCKUP_CONTENT_TYPE_VIDEO"):
        return None
    video_id = _str(renderer.get("contentId"))
    if not video_id:
        return None
    meta = _map(_dig(renderer, "metadata", "lockupMetadataViewModel"))
    rows = _seq(_dig(meta, "metadata", "contentMetadataViewModel", "metadataRows"))
    parts = [_text(_map(part).get("text"))
             for part in _seq(_map(rows[-1]).get("metadataParts"))] if rows else []
    parts = [p for p in parts if p]
    views = parts[0] if len(parts) >= 2 else None
    published = parts[-1] if len(parts) >= 2 else None
    return _post(video_id, _text(meta.get("title")), views, published, ctx.channel_handle, ctx)


def _post(video_id: str, title: str | None, views: str | None, published: str | None,
          author: str | None, ctx: _Context, *, short: bool = False,
          description: str | None = None) -> PostItem:
    posted_at: Any = None
    precision = None
    if published:
        relative = parse_relative_time(published, ctx.now)
        if relative is not None:
            posted_at, precision = relative
        else:
            posted_at = published  # unreadable here; the normaliser quarantines it
    hashtags = list(dict.fromkeys([*extract_hashtags(title), *extract_hashtags(description)]))
    return PostItem(
        platform=PLATFORM,
        post_id=video_id,
        author_handle=author,
        url=shorts_url(video_id) if short else video_url(video_id),
        posted_at=posted_at,
        posted_at_precision=precision,
        text=title,
        hashtags=hashtags,
        views=views,
        media_type="short" if short else "video",
    )


# --------------------------------------------------------------------------- header


def _channel_header(header: Mapping[str, Any]) -> dict[str, Any]:
    """Title, id, handle, counts (raw text), verified badge and link of any header layout."""
    c4 = header.get("c4TabbedHeaderRenderer")
    if isinstance(c4, Mapping):
        handle = (_handle_text(_text(c4.get("channelHandleText")))
                  or _handle_from_url(_dig(c4, "navigationEndpoint", "browseEndpoint",
                                           "canonicalBaseUrl")))
        styles = _texts(_dig(b, "metadataBadgeRenderer", "style") for b in _seq(c4.get("badges")))
        header_links = _map(_dig(c4, "headerLinks", "channelHeaderLinksRenderer"))
        links = _seq(header_links.get("primaryLinks"))
        link = _dig(links[0], "navigationEndpoint", "urlEndpoint", "url") if links else None
        every = [_unwrap_redirect(_dig(entry, "navigationEndpoint", "urlEndpoint", "url"))
                 for entry in [*links, *_seq(header_links.get("secondaryLinks"))]]
        return {
            "title": c4.get("title"),
            "channel_id": _str(c4.get("channelId")),
            "handle": handle,
            "subscribers": _text(c4.get("subscriberCountText")),
            "videos": _text(c4.get("videosCountText")),
            "verified": bool(styles & VERIFIED_BADGE_STYLES),
            "external_url": _unwrap_redirect(link),
            "links": [url for url in every if url],
        }
    page = header.get("pageHeaderRenderer")
    if isinstance(page, Mapping):
        model = _map(_dig(page, "content", "pageHeaderViewModel"))
        title_model = _map(_dig(model, "title", "dynamicTextViewModel", "text"))
        rows = _seq(_dig(model, "metadata", "contentMetadataViewModel", "metadataRows"))
        texts = [_text(_map(part).get("text")) for row in rows for part in
                 _seq(_map(row).get("metadataParts"))]
        counts = _classify_header_parts([t for t in texts if t])
        icons = _texts(_dig(source, "clientResource", "imageName")
                       for run in _seq(title_model.get("attachmentRuns"))
                       for source in _seq(_dig(run, "element", "type", "imageType", "image",
                                               "sources")))
        attribution = _map(_dig(model, "attribution", "attributionViewModel", "text"))
        run_links = [_unwrap_redirect(_find_key(run, "url"))
                     for run in _seq(attribution.get("commandRuns"))]
        run_links = [url for url in run_links if url]
        link = run_links[0] if run_links else None
        return {
            "title": title_model.get("content") or page.get("pageTitle"),
            "description": _text(_dig(model, "description", "descriptionPreviewViewModel",
                                      "description")),
            **counts,
            "verified": bool(icons & VERIFIED_ICON_NAMES),
            "external_url": link,
            "links": run_links,
        }
    for layout in ("carouselHeaderRenderer", "interactiveTabbedHeaderRenderer"):
        if isinstance(header.get(layout), Mapping):
            return {"title": _text(_find_key(header[layout], "title"))}
    return {}


def _classify_header_parts(texts: list[str]) -> dict[str, Any]:
    """Sort "@handle", "25m subscribers", "337 videos" (in any language) into fields.

    A count whose word is not in the tables takes the first free slot in the order YouTube
    prints them (subscribers, then videos)."""
    found: dict[str, Any] = {"handle": None, "subscribers": None, "videos": None}
    unknown: list[str] = []
    for text in texts:
        clean = text.strip()
        lowered = clean.lower()
        if clean.startswith("@"):
            found["handle"] = found["handle"] or _handle_text(clean)
        elif not any(ch.isdigit() for ch in clean):
            continue
        elif any(word in lowered for word in _SUBSCRIBER_WORDS):
            found["subscribers"] = found["subscribers"] or clean
        elif any(word in lowered for word in _VIDEO_WORDS):
            found["videos"] = found["videos"] or clean
        else:
            unknown.append(clean)
    for text in unknown:
        slot = "subscribers" if found["subscribers"] is None else "videos"
        if found[slot] is None:
            found[slot] = text
    return found


def _hashtag_from_header(header: Mapping[str, Any]) -> str | None:
    tag = _text(_dig(header, "hashtagHeaderRenderer", "hashtag"))
    if not tag:
        title = _dig(header, "pageHeaderRenderer", "pageTitle")
        tag = title if isinstance(title, str) and title.startswith("#") else None
    return tag.lstrip("#") if tag else None


# --------------------------------------------------------------------------- Data API v3


def parse_channels_list(data: Mapping[str, Any], *, ctx: _Context | None = None) -> list:
    """``channels.list``: counts stay the API's strings; hidden subscriber counts are None."""
    ctx = ctx or _Context()
    profiles = []
    for item in _seq(data.get("items")):  # an entry that is no object: a profile without handle
        snippet = _map(_map(item).get("snippet"))
        stats = _map(_map(item).get("statistics"))
        channel_id = _str(_map(item).get("id"))
        custom = _str(snippet.get("customUrl"))
        handle = custom.strip().lstrip("@").lower() if custom else channel_id
        hidden = bool(stats.get("hiddenSubscriberCount"))
        branding = _map(_dig(item, "brandingSettings", "channel"))
        profiles.append(ProfileItem(
            platform=PLATFORM,
            handle=handle,
            platform_user_id=channel_id,
            display_name=snippet.get("title"),
            bio=snippet.get("description"),
            followers=None if hidden else stats.get("subscriberCount"),
            posts_count=stats.get("videoCount"),
            profile_url=channel_url(handle) if handle else None,
            source_url=ctx.source_url,
            fetched_at=ctx.fetched_at,
            locale=ctx.locale,
            country=country_code(snippet.get("country")) or country_code(branding.get("country")),
        ))
    return profiles


def parse_search_list(data: Mapping[str, Any], *, ctx: _Context | None = None) -> list:
    """``search.list``: the video results (channels and playlists are skipped)."""
    ctx = ctx or _Context()
    posts = []
    for item in _seq(data.get("items")):
        video_id = _str(_dig(item, "id", "videoId"))
        if not video_id:
            continue
        posts.append(_api_video(video_id, _map(item.get("snippet")), {}))
    if ctx.hashtag:
        return [*_sightings(posts, ctx), *posts]
    return posts


def parse_videos_list(data: Mapping[str, Any], *, ctx: _Context | None = None) -> list:
    """``videos.list`` with ``statistics``: likes, comments and views as the API's strings."""
    ctx = ctx or _Context()
    items = [_map(item) for item in _seq(data.get("items"))]
    return [_api_video(video_id, _map(item.get("snippet")), _map(item.get("statistics")),
                       sponsored=_paid_placement(item))
            for item in items if (video_id := _str(item.get("id")))]


def _paid_placement(item: Mapping[str, Any]) -> bool | None:
    """``paidProductPlacementDetails.hasPaidProductPlacement``, the creator's own declaration
    of paid promotion; None when the answer lacks that part (it must be asked for)."""
    flag = _dig(item, "paidProductPlacementDetails", "hasPaidProductPlacement")
    return flag if isinstance(flag, bool) else None


#: Titles ``playlistItems.list`` gives entries that are no longer public.
_GONE_TITLES = frozenset({"Private video", "Deleted video"})


def parse_playlist_items(data: Mapping[str, Any], *, ctx: _Context | None = None) -> list:
    """``playlistItems.list`` (an uploads playlist): one ``PostItem`` per public video, newest
    first, with its publish time (``contentDetails.videoPublishedAt``), title and hashtags;
    the counts come from ``videos.list``. Private and deleted entries (no
    ``videoPublishedAt``, no ``videoOwnerChannelId``) are left out."""
    ctx = ctx or _Context()
    posts = []
    for raw in _seq(data.get("items")):
        item = _map(raw)
        snippet = _map(item.get("snippet"))
        details = _map(item.get("contentDetails"))
        video_id = (_str(details.get("videoId"))
                    or _str(_dig(snippet, "resourceId", "videoId")))
        if not video_id:
            continue
        published = details.get("videoPublishedAt")
        owner = _str(snippet.get("videoOwnerChannelId"))
        if published is None and owner is None and snippet.get("title") in _GONE_TITLES:
            continue
        post = _api_video(video_id, snippet, {})
        try:
            posted_at = parse_timestamp(published) if published is not None else None
        except UnreadableValue:
            posted_at = published  # left as it is: the normaliser quarantines it
        if posted_at is not None:
            post.posted_at = posted_at
            post.posted_at_precision = "exact"
        post.author_handle = owner or post.author_handle
        posts.append(post)
    return posts


def _api_video(video_id: str, snippet: Mapping[str, Any], stats: Mapping[str, Any], *,
               sponsored: bool | None = None) -> PostItem:
    title = html_lib.unescape(_str(snippet.get("title")) or "") or None
    description = html_lib.unescape(_str(snippet.get("description")) or "") or None
    published = snippet.get("publishedAt")
    try:
        posted_at = parse_timestamp(published)
    except UnreadableValue:
        posted_at = published
    return PostItem(
        platform=PLATFORM,
        post_id=video_id,
        author_handle=_str(snippet.get("channelId")),
        url=video_url(video_id),
        posted_at=posted_at,
        posted_at_precision="exact" if posted_at is not None else None,
        text=title,
        hashtags=list(dict.fromkeys([*extract_hashtags(title), *extract_hashtags(description)])),
        likes=stats.get("likeCount"),
        comments=stats.get("commentCount"),
        views=stats.get("viewCount"),
        media_type="live" if snippet.get("liveBroadcastContent") == "live" else "video",
        platform_sponsored=sponsored,
        # The spoken language first; defaultLanguage is that of the title and description.
        language=declared_language(snippet.get("defaultAudioLanguage"))
        or declared_language(snippet.get("defaultLanguage")),
    )


def _sightings(posts: list[PostItem], ctx: _Context) -> list[HashtagSightingItem]:
    tag = (ctx.hashtag or "").lstrip("#").lower() or None
    return [HashtagSightingItem(platform=PLATFORM, hashtag=tag, post_id=post.post_id,
                                author_handle=post.author_handle, position=position,
                                listing=ctx.listing, seen_at=ctx.fetched_at,
                                source_url=ctx.source_url)
            for position, post in enumerate(posts, start=ctx.position_offset)]


def _api_error(error: Mapping[str, Any]) -> Exception:
    reasons = _texts(e.get("reason") for e in _seq(error.get("errors")) if isinstance(e, Mapping))
    code = error.get("code")
    detail = f"Data API error {code}: {error.get('message') or ', '.join(map(str, reasons))}"
    if reasons & {"quotaExceeded", "dailyLimitExceeded"}:
        return BlockedPage("quota_exceeded", detail)  # the day's units are spent
    if code == 429 or reasons & {"rateLimitExceeded", "userRateLimitExceeded"}:
        return BlockedPage("rate_limited", detail)
    return UnrecognisedDocument(detail)


# --------------------------------------------------------------------------- blocked pages


def _raise_if_blocked_json(data: Mapping[str, Any]) -> None:
    status = data.get("playabilityStatus")
    if isinstance(status, Mapping):
        reason = json.dumps(status, ensure_ascii=False)
        if _BOT_CHECK_RE.search(reason):
            raise BlockedPage("bot_check", _text(status.get("reason")) or "not a bot")


def _raise_if_blocked_text(text: str) -> None:
    if _BOT_CHECK_RE.search(text):
        raise BlockedPage("bot_check", "Sign in to confirm you're not a bot")
    if _CONSENT_RE.search(text):
        raise BlockedPage("consent_required", "YouTube cookie consent page")
    if _CAPTCHA_RE.search(text):
        raise BlockedPage("captcha", "Google 'unusual traffic' captcha")


# --------------------------------------------------------------------------- helpers


def _listing_roots(data: Mapping[str, Any]) -> list[Any]:
    """The parts of a browse body that list videos (the header and menus do not)."""
    return [data[key] for key in ("contents", "onResponseReceivedActions",
                                  "onResponseReceivedEndpoints", "continuationContents")
            if key in data]


def _walk(node: Any, names: tuple[str, ...]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Depth-first, in document order: every ``{name: renderer}`` with ``name`` in names."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Mapping):
            children = []
            for key, value in current.items():
                if key in names and isinstance(value, Mapping):
                    yield key, value
                else:
                    children.append(value)
            stack.extend(reversed(children))
        elif isinstance(current, list):
            stack.extend(reversed(current))


def _find_key(node: Any, key: str) -> Any:
    """The first value of ``key`` anywhere under ``node`` (depth-first)."""
    for name, value in _walk_items(node):
        if name == key:
            return value
    return None


def _walk_items(node: Any) -> Iterator[tuple[str, Any]]:
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Mapping):
            items = list(current.items())
            yield from items
            stack.extend(reversed([v for _, v in items]))
        elif isinstance(current, list):
            stack.extend(reversed(current))


def _text(value: Any) -> str | None:
    """Text of ``{"simpleText"}``, ``{"runs": [...]}``, ``{"content"}`` or a plain string."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if not isinstance(value, Mapping):
        return None
    if isinstance(value.get("simpleText"), str):
        return value["simpleText"]
    if isinstance(value.get("runs"), list):
        return "".join(text for run in value["runs"]
                       if isinstance(run, Mapping) and isinstance(text := run.get("text"), str))
    if isinstance(value.get("content"), str):
        return value["content"]
    return None


def _first_run(value: Any) -> Any:
    runs = _seq(_map(value).get("runs"))
    return runs[0] if runs else None


def _texts(values: Iterator[Any]) -> set[str]:
    """The text values among ``values`` (a mangled body may put a list where text belongs)."""
    return {value for value in values if isinstance(value, str)}


def _is_live(renderer: Mapping[str, Any]) -> bool:
    styles = _texts(_dig(b, "metadataBadgeRenderer", "style") for b in _seq(renderer.get("badges")))
    overlays = _texts(_dig(o, "thumbnailOverlayTimeStatusRenderer", "style")
                      for o in _seq(renderer.get("thumbnailOverlays")))
    return "BADGE_STYLE_TYPE_LIVE_NOW" in styles or "LIVE" in overlays


def _handle_text(text: str | None) -> str | None:
    if not text or not text.strip().startswith("@"):
        return None
    return unquote(text.strip()[1:]).lower() or None


def _handle_from_url(url: Any) -> str | None:
    """``kurzgesagt`` from ``http://www.youtube.com/@kurzgesagt`` or ``/@kurzgesagt``."""
    if not isinstance(url, str):
        return None
    match = re.search(r"(?:^|/)@([^/?#]+)", url)
    return unquote(match.group(1)).lower() if match else None


def _unwrap_redirect(url: Any) -> str | None:
    """The target of a ``youtube.com/redirect?q=...`` link (other links as they are)."""
    if not isinstance(url, str) or not url:
        return None
    try:
        parsed = urlparse(url)
    except ValueError:
        return None
    if parsed.path == "/redirect":
        target = parse_qs(parsed.query).get("q")
        return target[0] if target else None
    return url


def _tracking_params(data: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for service in _seq(_dig(data, "responseContext", "serviceTrackingParams")):
        for param in _seq(_map(service).get("params")):
            yield _map(param)


def _browse_id(data: Mapping[str, Any]) -> str | None:
    for param in _tracking_params(data):
        if param.get("key") == "browse_id" and _str(param.get("value")):
            return param["value"]
    return None


def _locale_from_data(data: Mapping[str, Any]) -> str | None:
    for param in _tracking_params(data):
        if param.get("key") in ("hl", "locale") and _str(param.get("value")):
            return param["value"]
    # The sign-in links a logged-out page carries name the interface language: "&hl=en-GB".
    match = _URL_HL_RE.search(json.dumps(data.get("header") or data.get("topbar") or {}))
    return match.group(1) if match else None


def _recorded_locale(request: Mapping[str, Any]) -> str | None:
    payload = request.get("dataToSend")
    if isinstance(payload, list):
        try:
            body = loads_json(bytes(payload).decode("utf-8"))
        except (ValueError, TypeError):
            body = None
        hl = _str(_dig(body, "context", "client", "hl"))
        if hl:
            return hl
    loc = _map(request.get("localization"))
    if _str(loc.get("languageCode")):
        country = _str(loc.get("countryCode"))
        return f"{loc['languageCode']}-{country}" if country else loc["languageCode"]
    match = _URL_HL_RE.search(_str(request.get("url")) or "")
    if match:
        return match.group(1)
    accept = _header(request.get("headers"), "Accept-Language")
    return accept.split(",")[0].split(";")[0].strip() or None if accept else None


def _alert_text(data: Mapping[str, Any]) -> str | None:
    for alert in _seq(data.get("alerts")):
        text = _text(_find_key(alert, "text"))
        if text:
            return text
    return None


def _embedded_json(html: str, pattern: re.Pattern[str]) -> Any:
    match = pattern.search(html)
    if not match:
        return None
    start = match.end()
    if html[start:start + 1] in "'\"":  # m.youtube.com: JSON inside a JS string literal
        quote_char = html[start]
        end = start + 1
        while end < len(html) and html[end] != quote_char:
            end += 2 if html[end] == "\\" else 1
        literal = html[start + 1:end]
        literal = re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), literal)
        literal = literal.replace("\\\\", "\\")
        text = literal
        start = 0
    else:
        text = html
    try:
        value, _ = json.JSONDecoder().raw_decode(text, start)
        check_depth(value)
    except (ValueError, RecursionError):
        return None
    return value


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
    """``value`` when it is non-empty text, else None (ids, URLs and names must be text)."""
    return value if isinstance(value, str) and value else None


def _netloc(url: Any) -> str:
    """The lower-case host[:port] of a URL; "" for anything unreadable."""
    try:
        return urlparse(url).netloc.lower() if isinstance(url, str) else ""
    except ValueError:  # "http://[" and other unsplittable text
        return ""


def _header(headers: Any, name: str) -> str | None:
    if not isinstance(headers, Mapping):
        return None
    for key, value in headers.items():
        key_text = key.decode("latin-1") if isinstance(key, bytes) else str(key)
        if key_text.lower() != name.lower():
            continue
        if isinstance(value, (list, tuple)):
            value = value[0] if value else None
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        return _str(value)
    return None


def _header_date(headers: Any) -> datetime | None:
    value = _header(headers, "Date")
    if not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


def _context_from_request(url: str | None, fetched_at: Any,
                          headers: Mapping[str, Any] | None) -> _Context:
    ctx = _Context(source_url=url, fetched_at=fetched_at)
    if ctx.fetched_at is None:
        ctx.fetched_at = _header_date(headers)
    if url:
        parsed = urlparse(url)
        query = {k: v[0] for k, v in parse_qs(parsed.query).items() if v}
        ctx.locale = query.get("hl")
        tag = re.match(r"/hashtag/([^/?#]+)", parsed.path)
        if tag:
            ctx.hashtag = unquote(tag.group(1))
        elif "/youtube/v3/search" in parsed.path and query.get("q", "").startswith("#"):
            ctx.hashtag = query["q"][1:]
            ctx.listing = "recent" if query.get("order") == "date" else HASHTAG_LISTING
        ctx.channel_handle = _handle_from_url(parsed.path)
    ctx.locale = ctx.locale or _header(headers, "Content-Language")
    return ctx


# --------------------------------------------------------------------------- protobuf tokens


def _b64decode(text: str) -> bytes | None:
    for _ in range(2):  # tokens arrive URL-encoded once or twice
        if "%" not in text:
            break
        text = unquote(text)
    text = text.strip().replace("+", "-").replace("/", "_")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if i >= len(buf) or shift > 63:
            raise ValueError("truncated varint")
        byte = buf[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, i
        shift += 7


def _pb_fields(buf: bytes) -> list[tuple[int, int, Any]] | None:
    """A protobuf message as (field, wire type, value) triples; None if it is not one."""
    fields: list[tuple[int, int, Any]] = []
    value: Any
    i = 0
    try:
        while i < len(buf):
            key, i = _varint(buf, i)
            number, wire = key >> 3, key & 7
            if number == 0:
                return None
            if wire == 0:
                value, i = _varint(buf, i)
            elif wire == 2:
                length, i = _varint(buf, i)
                if i + length > len(buf):
                    return None
                value, i = buf[i:i + length], i + length
            elif wire in (1, 5):
                size = 8 if wire == 1 else 4
                if i + size > len(buf):
                    return None
                value, i = buf[i:i + size], i + size
            else:
                return None
            fields.append((number, wire, value))
    except ValueError:
        return None
    return fields


def _utf8(value: bytes) -> str | None:
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if text.isprintable() else None


def _pb_strings(value: bytes, depth: int) -> Iterator[str]:
    """Printable strings inside a length-delimited value: itself, nested messages, and
    base64 text holding messages (YouTube nests tokens in tokens)."""
    if depth > 6:
        return
    text = _utf8(value)
    if text is not None:
        yield text
        if len(text) > 16:
            decoded = _b64decode(text)
            fields = _pb_fields(decoded) if decoded else None
            for _, wire, inner in fields or []:
                if wire == 2:
                    yield from _pb_strings(inner, depth + 1)
        return
    for _, wire, inner in _pb_fields(value) or []:
        if wire == 2:
            yield from _pb_strings(inner, depth + 1)


def _continuation_message(token: str) -> list[tuple[int, int, Any]] | None:
    raw = _b64decode(token)
    outer = _pb_fields(raw) if raw else None
    if not outer:
        return None
    for _, wire, value in outer:
        if wire == 2:
            inner = _pb_fields(value)
            if inner:
                return inner
    return None
