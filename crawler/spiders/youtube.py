"""YouTube spider: hashtag sweeps and channel lists, from the web pages or the Data API v3.

    scrapy crawl youtube -a tags=veganfood,plantbased [-a min_followers=1000 -a max_followers=99999]
    scrapy crawl youtube -a handles=@kurzgesagt,UCsXVk37bltHxD1rDPwtNM8Q
    scrapy crawl youtube -a tags=vegan -s MICROSCOUT_YOUTUBE_API_KEY=...   # the Data API
    scrapy crawl youtube -a tags=vegan -a base_url=http://127.0.0.1:8123   # the sandbox

Two sources (``-a source=auto|web|api``; ``auto``, the default, is the Data API when
``MICROSCOUT_YOUTUBE_API_KEY`` is set - the documented, quota-limited way - and the web
pages otherwise):

Web: ``/hashtag/<tag>?hl=`` (``ytInitialData``: ``richItemRenderer.content.videoRenderer``
items, each naming its channel) then its ``youtubei/v1/browse`` continuations (POST with the
continuation token) up to ``max_pages`` pages / ``max_posts`` videos. Every video is a
``HashtagSightingItem`` (0-based positions, listing ``top``). Each new channel (once a run)
gets its Videos tab ``/channel/<id>/videos?hl=`` fetched: title, description, id, handle,
subscriber and video counts from the header (as the page prints them, "25.3K subscribers",
with the page's language in ``ProfileItem.locale``), verified badge, and the newest videos
with their views and publish times ("3 days ago" becomes a timestamp, precision "day").
Out-of-range channels are dropped after their page (the listing names no counts). The page
shows no like counts, so web profiles carry views but no likes: engagement figures need the
Data API. youtube.com's robots.txt disallows ``/youtubei/``: with ``ROBOTSTXT_OBEY`` on (the
default) only each hashtag's first page is read and the refused continuation is recorded as
``robots_disallowed``.

Data API (docs/youtube.md): ``search.list?q=%23<tag>&type=video`` page by page
(``nextPageToken``) gives the sightings (discovery: 100 units a page of 50); the new channels of
each page go to one ``channels.list?part=snippet,statistics,contentDetails&id=<up to 50>``
(subscriber counts and the uploads playlist, 1 unit; ``hiddenSubscriberCount`` channels have
no count: they are yielded at once, without posts, and quarantined by the pipelines). How an
in-range channel's recent videos are read is ``api_posts``:

* ``uploads`` (the default): ``playlistItems.list?playlistId=<uploads>&maxResults=
  <recent_posts>`` (1 unit) lists the channel's newest videos; their likes, comments and views
  come from ``videos.list?part=statistics``, 50 ids a call *across channels* (1 unit): the
  ids wait in a buffer (:attr:`YouTubeSpider.video_buffer`), a call leaves whenever 50 are
  buffered and the rest when the crawl would otherwise go idle (``spider_idle``). A profile
  is yielded once every call holding its videos answered; a failed call (or one the budget
  left unsent) leaves its profiles with what is known, never drops them, and so do answers
  that come once the crawl is stopping (a spent budget, a fatal Data API error). While ids are
  buffered or profiles wait, :meth:`YouTubeSpider.holding` is true (a distributed job's
  worker acknowledges nothing; the ``videos.list`` calls stay on that worker). About
  1/50 + 1 + recent_posts/50 units per profile: 1.26 with 12 recent posts.
* ``search``: the route before issue #14, kept as the quota benchmark's baseline:
  ``search.list?channelId=&order=date`` (100 units) then ``videos.list?part=snippet,
  statistics`` for that channel's videos (1 unit): about 101 units per profile.

``handles`` are fetched with ``channels.list`` too: channel ids 50 a call, ``@handles`` one
``forHandle`` call each (1 unit). Every Data API request carries its cost in
``meta["microscout_quota"]`` (:func:`crawler.quota.cost`): :class:`crawler.quota.
QuotaMiddleware` books it in the warehouse's ``api_usage`` before the call leaves, against
the key's daily budget (``MICROSCOUT_YOUTUBE_DAILY_QUOTA``, default 10,000, reset at midnight
Pacific time); a call the budget cannot cover stops the crawl (finish reason
``quota_exhausted``) and the next run, or the next day, continues.
``microscout/youtube/api_quota_units`` counts the units of the calls made and
``microscout/youtube/api_units/<call>`` splits them by call (``search``, ``channel_search``,
``channels``, ``playlist_items``, ``videos``). The key is sent only as the ``X-Goog-Api-Key``
header, and only to the API's host (:meth:`YouTubeSpider.credentials`), never in a URL, so it
cannot reach logs, stats, cassettes (``MICROSCOUT_CASSETTE_FILTER_HEADERS`` is extended to
drop the header) or ``rejected_items.source_url``; the budget's account is a fingerprint of it
(:func:`crawler.quota.account_of`). Data API requests skip robots.txt
(``dont_obey_robotstxt``): they are calls to an API under its own terms and quota, not
crawling. A ``quotaExceeded``/invalid-key answer is recorded and closes the crawl.

Arguments besides the common ones: ``base_url`` (default https://www.youtube.com),
``api_base`` (default https://www.googleapis.com/youtube/v3 for the live site, and
``<base_url>/youtube/v3`` for any other ``base_url``, such as the sandbox, so a key meant for
a sandbox never reaches Google), ``hl`` (page language, default ``en``), ``block_backoff``
(seconds, default 60), ``source``, ``api_posts`` (``uploads`` or ``search``). ``handles``
are @handles or ``UC...`` channel ids (or their URLs). With a key, ``run_args`` name the API
host under ``credential_hosts``.

Consent ("Before you continue to YouTube"), bot-check ("Sign in to confirm you're not a bot")
and Google's "unusual traffic" captcha pages are recorded as ``RejectedItem`` with that reason
and pause the host (:meth:`crawler.spiders.video.VideoSpider.back_off`); they are never read
as a channel without videos. Web requests carry the ``SOCS`` cookie NewPipe sends (declining
the optional cookies), which spares the consent page where YouTube honours it.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import quote, unquote, urlencode, urlsplit

from scrapy import signals
from scrapy.exceptions import CloseSpider, DontCloseSpider
from scrapy.http import Request, Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler.cassette import DEFAULT_FILTER_HEADERS
from crawler.credentials import Credential
from crawler.distributed import LOCAL_META
from crawler.errors import UnrecognisedDocument
from crawler.items import HashtagSightingItem, PostItem, ProfileItem
from crawler.parsers import loads_json
from crawler.parsers import youtube as yt
from crawler.platforms import REGISTRY
from crawler.quota import account_of, cost
from crawler.spiders.args import Params, choice_arg, normalize_base_url, param
from crawler.spiders.base import Output, body_text, utcnow
from crawler.spiders.video import PAGE_HEADERS, VideoParams, VideoSpider, site_domain

PLATFORM = REGISTRY["youtube"]
DEFAULT_API_BASE = yt.DATA_API_URL
SOURCES = ("auto", "web", "api")
#: How the Data API reads a channel's recent videos: its uploads playlist (1 unit) or, the
#: route before issue #14 kept as the quota benchmark's baseline, search.list (100 units).
API_POSTS = ("uploads", "search")
API_PAGE_SIZE = yt.API_MAX_RESULTS
#: videos.list parts of the batched counts call (1 unit whatever the parts): the counts, and the
#: creator's paid-product-placement declaration for the signals pipeline.
STATS_PARTS = "statistics,paidProductPlacementDetails"
RECENT_POSTS_MAX = 30  # the Videos tab's first page
SEARCH_COST, LIST_COST = 100, 1
_CHANNEL_ID = re.compile(r"^UC[\w-]{22}$")
_CONSENT_COOKIE = {"SOCS": "CAE="}  # declines the optional cookies: not a secret
#: Data API answers that make every further call pointless.
_FATAL_API_REASONS = ("quotaExceeded", "dailyLimitExceeded", "keyInvalid", "forbidden",
                      "accessNotConfigured", "keyExpired")


def normalize_youtube_handle(value: str) -> str:
    """'@Kurzgesagt', 'youtube.com/@kurzgesagt' -> 'kurzgesagt'; a channel id (or its
    /channel/ URL) keeps its case: 'UCsXVk37bltHxD1rDPwtNM8Q'."""
    text = value.strip()
    if "://" in text or text.startswith(("www.", "youtube.com", "m.youtube.com")):
        path = urlsplit(text if "://" in text else "https://" + text).path.strip("/")
        parts = path.split("/")
        if parts[0] == "channel" and len(parts) > 1:
            text = parts[1]
        elif parts[0].startswith("@"):
            text = unquote(parts[0])
        else:
            raise ValueError(f"handles: {value.strip()!r} is not a YouTube channel URL like "
                             "https://www.youtube.com/@name or /channel/UC...")
    if _CHANNEL_ID.match(text):
        return text
    handle = text.lstrip("@").lower()
    if not handle or not re.fullmatch(r"[\w.\-·]+", handle):
        raise ValueError(f"handles: {value.strip()!r} is not a YouTube @handle or channel id")
    return handle


def _api_base(value: Any, spider_cls: Any) -> str:
    return normalize_base_url(value, name="api_base", example=DEFAULT_API_BASE, allow_path=True)


def is_youtube_host(host: str) -> bool:
    return host == "youtube.com" or host.endswith(".youtube.com")


@dataclass
class YouTubeParams(VideoParams):
    #: None: the live Data API for the live site, ``<base_url>/youtube/v3`` otherwise.
    api_base: str | None = param(None, parse=_api_base)
    source: str = param("auto", parse=choice_arg("source", SOURCES))
    api_posts: str = param("uploads", parse=choice_arg("api_posts", API_POSTS))


@dataclass
class _Awaiting:
    """A profile whose videos wait for their statistics (the ``uploads`` route)."""

    profile: ProfileItem
    buffered: int = 0  # its video ids still in the buffer
    calls: int = 0  # videos.list calls holding its ids, not answered yet


class YouTubeSpider(VideoSpider):
    name = "youtube"
    platform: ClassVar[str] = "youtube"
    listings: ClassVar[tuple[str, ...]] = ("top",)  # /hashtag and search.list rank by relevance
    max_recent_posts: ClassVar[int | None] = RECENT_POSTS_MAX
    default_base_url: ClassVar[str] = PLATFORM.default_base_url
    base_url_aliases: ClassVar[tuple[str, ...]] = PLATFORM.base_url_aliases
    parser: ClassVar[Any] = yt
    params_model: ClassVar[type[Params]] = YouTubeParams
    params: YouTubeParams
    #: The key travels in a header; never write it to a cassette.
    custom_settings: dict[str, Any] | None = {  # noqa: RUF012  (Scrapy reads it on the class)
        "MICROSCOUT_CASSETTE_FILTER_HEADERS": [*DEFAULT_FILTER_HEADERS, yt.API_KEY_HEADER],
    }

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.seen_channels: set[str] = set()
        #: The Data API error that closes the crawl, once one came.
        self.fatal_api_reason: str | None = None
        #: (video id, channel id) pairs waiting for a videos.list call, oldest first.
        self.video_buffer: list[tuple[str, str]] = []
        #: channel id -> the profile waiting for its videos' statistics.
        self.awaiting: dict[str, _Awaiting] = {}
        #: channel id -> the request carrying its profile to its posts, queued or sent (single
        #: runs: what a budget stop releases; a job keeps its requests instead).
        self.posts_pending: dict[str, Request] = {}

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> YouTubeSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        if spider.source == "api" and not spider.api_key:
            raise ValueError("source=api needs MICROSCOUT_YOUTUBE_API_KEY (a YouTube Data API "
                             "v3 key)")
        crawler.signals.connect(spider.on_idle, signal=signals.spider_idle)
        crawler.signals.connect(spider.on_closed, signal=signals.spider_closed)
        return spider

    @classmethod
    def normalize_handle(cls, value: str) -> str:
        return normalize_youtube_handle(value)

    def site_domains(self) -> list[str]:
        api_host = urlsplit(self.api_base).hostname or ""
        return list(dict.fromkeys([*super().site_domains(), site_domain(api_host)]))

    @property
    def api_base(self) -> str:
        """The Data API: as given, else Google's for the live site, else the base URL's own
        (the sandbox serves it at /youtube/v3), so the key follows the base URL."""
        if self.params.api_base:
            return self.params.api_base
        if is_youtube_host(urlsplit(self.base_url).hostname or ""):
            return DEFAULT_API_BASE
        return f"{self.base_url}/youtube/v3"

    @property
    def source(self) -> str:
        return self.params.source

    @property
    def api_posts(self) -> str:
        return self.params.api_posts

    @property
    def api_key(self) -> str | None:
        return self.setting("MICROSCOUT_YOUTUBE_API_KEY") or None

    @property
    def use_api(self) -> bool:
        return self.source == "api" or (self.source == "auto" and bool(self.api_key))

    @property
    def quota_account(self) -> str:
        """Whose daily budget the calls spend: the API host and a fingerprint of the key."""
        return account_of(urlsplit(self.api_base).netloc, self.api_key or "")

    def credentials(self) -> list[Credential]:
        """The Data API key, as the ``X-Goog-Api-Key`` header to the API's host only."""
        key = self.api_key
        if not key or not self.use_api:
            return []
        return [Credential(host=urlsplit(self.api_base).netloc,
                           headers={yt.API_KEY_HEADER: key})]

    def spider_run_args(self) -> dict[str, Any]:
        return {"source": "api" if self.use_api else "web", "api_base": self.api_base}

    # -- requests ----------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        if self.use_api:
            self.logger.info("YouTube Data API v3 at %s (key in the %s header; recent videos "
                             "by %s)", self.api_base, yt.API_KEY_HEADER,
                             "the uploads playlist" if self.api_posts == "uploads"
                             else "search.list, 100 units a channel")
        for tag in self.args.tags:
            yield self.api_search_request(tag) if self.use_api else self.hashtag_request(tag)
        handles = [h for h in self.args.handles if not self.already_loaded(self.platform, h)]
        if self.use_api:
            ids = [h for h in handles if _CHANNEL_ID.match(h)]
            for start in range(0, len(ids), API_PAGE_SIZE):
                batch = ids[start:start + API_PAGE_SIZE]
                self.seen_channels.update(batch)
                yield self.api_channels_request(batch, self.handles_label)
            for handle in handles:
                if not _CHANNEL_ID.match(handle):
                    self.seen_channels.add(handle)
                    yield self.api_channels_request([], self.handles_label, for_handle=handle)
        else:
            for handle in handles:
                for request in self.consider_channel(handle, self.handles_label):
                    yield request

    def _hl(self) -> str:
        return urlencode({"hl": self.hl})

    def web_request(self, url: str, callback: Any, kind: str, *,
                    headers: Mapping[str, str] = PAGE_HEADERS, **kwargs: Any) -> Request:
        return self.request(url, callback, kind, headers=headers, cookies=dict(_CONSENT_COOKIE),
                            **kwargs)

    def hashtag_request(self, tag: str) -> Request:
        url = f"{self.base_url}/hashtag/{quote(tag, safe='')}?{self._hl()}"
        return self.web_request(url, self.parse_listing, "tag",
                                cb_kwargs={"tag": tag, "page": 1, "offset": 0})

    def continuation_request(self, token: str, tag: str, page: int, offset: int) -> Request:
        body = yt.browse_request_body(continuation=token, hl=self.hl)
        return self.web_request(
            f"{self.base_url}/youtubei/v1/browse?prettyPrint=false", self.parse_listing, "listing",
            method="POST", body=json.dumps(body, separators=(",", ":")),
            headers={"Content-Type": "application/json",
                     "X-YouTube-Client-Name": "1",
                     "X-YouTube-Client-Version": yt.WEB_CLIENT_VERSION,
                     "Origin": self.base_url},
            cb_kwargs={"tag": tag, "page": page, "offset": offset})

    def channel_request(self, key: str, discovered_via: str | None) -> Request:
        path = f"/channel/{key}" if _CHANNEL_ID.match(key) else f"/@{quote(key, safe='')}"
        url = f"{self.base_url}{path}/videos?{self._hl()}"
        return self.web_request(url, self.parse_channel, "profile", priority=10,
                                cb_kwargs={"key": key, "discovered_via": discovered_via})

    def api_request(self, url: str, callback: Any, kind: str, units: int, call: str, *,
                    meta: Mapping[str, Any] | None = None, **kwargs: Any) -> Request:
        """A Data API call costing ``units`` of the key's daily budget (booked by
        QuotaMiddleware before it leaves); the key is added by the credentials middleware."""
        self.stat("api_quota_units", units)
        self.stat(f"api_units/{call}", units)
        return self.request(url, callback, kind, meta={
            "dont_obey_robotstxt": True,
            "microscout_quota": cost("youtube", self.quota_account, units=units),
            **(meta or {})}, **kwargs)

    def api_search_request(self, tag: str, page_token: str | None = None, page: int = 1,
                           offset: int = 0) -> Request:
        size = min(API_PAGE_SIZE, self.args.max_posts - offset)
        url = yt.search_list_url(f"#{tag}", page_token=page_token, max_results=size,
                                 base=self.api_base)
        return self.api_request(url, self.parse_api_search, "tag", SEARCH_COST, "search",
                                cb_kwargs={"tag": tag, "page": page, "offset": offset})

    def api_channels_request(self, ids: list[str], discovered_via: str | None, *,
                             for_handle: str | None = None) -> Request:
        url = yt.channels_list_url(channel_id=",".join(ids) if ids else None,
                                   for_handle=f"@{for_handle}" if for_handle else None,
                                   part=yt.CHANNEL_PARTS, base=self.api_base)
        return self.api_request(url, self.parse_api_channels, "channels", LIST_COST, "channels",
                                priority=10, cb_kwargs={"discovered_via": discovered_via})

    def api_playlist_request(self, profile: ProfileItem, playlist_id: str) -> Request:
        """The channel's newest videos from its uploads playlist (the ``uploads`` route)."""
        url = yt.playlist_items_url(playlist_id, max_results=self.args.recent_posts,
                                    base=self.api_base)
        return self.track(profile, self.api_request(
            url, self.parse_api_playlist, "posts", LIST_COST, "playlist_items", priority=20,
            cb_kwargs={"profile": profile}))

    def api_stats_request(self, batch: list[tuple[str, str]]) -> Request:
        """One videos.list call (STATS_PARTS) for up to 50 buffered ids, of any channels
        (``videos``: video id -> channel id). The profiles wait in this spider
        (:attr:`awaiting`), so a job's worker keeps the call for itself."""
        channels = list(dict.fromkeys(channel for _, channel in batch))
        for channel in channels:
            state = self.awaiting[channel]
            state.calls += 1
            state.buffered -= sum(1 for _, c in batch if c == channel)
        url = yt.videos_list_url([video for video, _ in batch], part=STATS_PARTS,
                                 base=self.api_base)
        return self.api_request(
            url, self.parse_api_stats, "videos", LIST_COST, "videos", priority=30,
            meta={LOCAL_META: True} if self.in_job else None,
            dont_filter=True,  # a dropped duplicate would strand its profiles
            cb_kwargs={"videos": dict(batch)})

    def api_channel_videos_request(self, profile: ProfileItem) -> Request:
        """The ``search`` route: search.list?channelId=&order=date (100 units)."""
        url = yt.search_list_url(channel_id=profile.platform_user_id, order="date",
                                 max_results=self.args.recent_posts, base=self.api_base)
        return self.track(profile, self.api_request(
            url, self.parse_api_channel_videos, "posts", SEARCH_COST, "channel_search",
            priority=20, cb_kwargs={"profile": profile}))

    def api_videos_request(self, profile: ProfileItem, video_ids: list[str]) -> Request:
        """The ``search`` route: one channel's videos with snippet and statistics (1 unit)."""
        url = yt.videos_list_url(video_ids, base=self.api_base)
        return self.track(profile, self.api_request(
            url, self.parse_api_videos, "posts", LIST_COST, "videos", priority=30,
            cb_kwargs={"profile": profile}))

    # -- web callbacks -------------------------------------------------------------------------

    def parse_listing(self, response: Response, tag: str, page: int, offset: int) -> Output:
        """A ``/hashtag/X`` page or one of its browse continuations."""
        data, items = self.decode(response, hashtag=tag, position_offset=offset)
        sightings = [i for i in items if isinstance(i, HashtagSightingItem)
                     and i.position is not None and i.position < self.args.max_posts]
        now = utcnow()
        for sighting in sightings:
            sighting.seen_at = now
            yield sighting
        for sighting in sightings:
            if sighting.author_handle:
                yield from self.consider_channel(sighting.author_handle, tag)
        offset += len(sightings)
        token = yt.continuation_token(data) if isinstance(data, Mapping) else None
        if sightings and token and page < self.args.max_pages and offset < self.args.max_posts:
            yield self.continuation_request(token, tag, page + 1, offset)

    def parse_channel(self, response: Response, key: str, discovered_via: str | None) -> Output:
        _, items = self.decode(response)
        profile = next((i for i in items if isinstance(i, ProfileItem)), None)
        if profile is None:
            raise UnrecognisedDocument(f"channel page of {key} holds no channel")
        yield from self.keep(profile, discovered_via, response.url)

    # -- Data API callbacks ----------------------------------------------------------------------

    def parse_api_search(self, response: Response, tag: str, page: int, offset: int) -> Output:
        data, items = self.decode(response, hashtag=tag, position_offset=offset)
        sightings = [i for i in items if isinstance(i, HashtagSightingItem)
                     and i.position is not None and i.position < self.args.max_posts]
        now = utcnow()
        new: list[str] = []
        for sighting in sightings:
            sighting.seen_at = now
            yield sighting
            channel = sighting.author_handle
            if channel and channel not in self.seen_channels:
                self.seen_channels.add(channel)
                new.append(channel)
        for start in range(0, len(new), API_PAGE_SIZE):
            yield self.api_channels_request(new[start:start + API_PAGE_SIZE], tag)
        offset += len(sightings)
        token = yt.next_page_token(data) if isinstance(data, Mapping) else None
        if sightings and token and page < self.args.max_pages and offset < self.args.max_posts:
            yield self.api_search_request(tag, token, page + 1, offset)

    def parse_api_channels(self, response: Response, discovered_via: str | None) -> Output:
        data, items = self.decode(response)
        uploads = yt.uploads_playlists(data)
        for profile in items:
            if not isinstance(profile, ProfileItem):
                continue
            profile.source_url = response.url
            profile.fetched_at = utcnow()
            profile.discovered_via = discovered_via
            if self.clearly_out_of_range(self.follower_count(profile)):
                self.stat("skipped_out_of_range")
                continue
            if self.already_loaded(self.platform, profile.handle):
                continue
            channel = profile.platform_user_id
            if profile.followers is None:  # a hidden count: quarantined, its posts unused
                self.stat("hidden_subscriber_count")
                yield self.finish(profile)
                continue
            if self.args.recent_posts == 0 or not channel:
                yield self.finish(profile)
                continue
            if self.stopping:  # its posts call would never leave: keep what was paid for
                self.stat("profiles_without_posts")
                yield self.finish(profile)
                continue
            if self.api_posts == "search":
                yield self.api_channel_videos_request(profile)
                continue
            playlist = uploads.get(channel) or yt.uploads_playlist_id(channel)
            if playlist is None:
                yield self.finish(profile)
                continue
            yield self.api_playlist_request(profile, playlist)

    def parse_api_playlist(self, response: Response, profile: ProfileItem) -> Output:
        """The uploads playlist's newest videos: their ids join the statistics buffer."""
        if not self.untrack(profile):
            return
        _, items = self.decode(response)
        posts = [p for p in items if isinstance(p, PostItem) and p.post_id]
        posts = list({p.post_id: p for p in posts}.values())[: self.args.recent_posts]
        for post in posts:
            post.author_handle = profile.handle  # the API names the channel id
        profile.recent_posts = posts
        channel = profile.platform_user_id
        if not posts or not channel or channel in self.awaiting or self.stopping:
            yield self.finish(profile)  # (stopping: no statistics call will leave)
            return
        self.awaiting[channel] = _Awaiting(profile, buffered=len(posts))
        self.video_buffer.extend((post.post_id, channel) for post in posts if post.post_id)
        yield from self.flush_videos()

    def parse_api_stats(self, response: Response, videos: dict[str, str]) -> Output:
        """A videos.list?part=statistics answer: counts onto the waiting profiles' posts; a
        video it does not return (made private, deleted) leaves its profile's posts."""
        _, items = self.decode(response)
        counts = {p.post_id: p for p in items if isinstance(p, PostItem) and p.post_id}
        for channel in dict.fromkeys(videos.values()):
            state = self.awaiting.get(channel)
            if state is None:  # already yielded (a budget stop or fatal error released it)
                continue
            mine = {video for video, owner in videos.items() if owner == channel}
            kept = []
            for post in state.profile.recent_posts:
                if post.post_id not in mine:
                    kept.append(post)
                elif post.post_id in counts:
                    found = counts[post.post_id]
                    post.likes, post.comments, post.views = found.likes, found.comments, found.views
                    post.platform_sponsored = found.platform_sponsored
                    kept.append(post)
                else:
                    self.stat("videos_unavailable")
            state.profile.recent_posts = kept
            yield from self.call_done(channel)

    def parse_api_channel_videos(self, response: Response, profile: ProfileItem) -> Output:
        if not self.untrack(profile):
            return
        _, items = self.decode(response)
        ids = [p.post_id for p in items if isinstance(p, PostItem) and p.post_id]
        if not ids:
            yield self.finish(profile)
            return
        yield self.api_videos_request(profile, ids[: self.args.recent_posts])

    def parse_api_videos(self, response: Response, profile: ProfileItem) -> Output:
        if not self.untrack(profile):
            return
        _, items = self.decode(response)
        posts = [p for p in items if isinstance(p, PostItem)]
        for post in posts:
            post.author_handle = profile.handle  # the API names the channel id
        profile.recent_posts = posts
        yield self.finish(profile)

    # -- the statistics buffer -----------------------------------------------------------------

    def flush_videos(self, *, everything: bool = False) -> Output:
        """A videos.list call for every 50 buffered ids; the remainder too with ``everything``."""
        while len(self.video_buffer) >= API_PAGE_SIZE or (everything and self.video_buffer):
            batch = self.video_buffer[:API_PAGE_SIZE]
            del self.video_buffer[:API_PAGE_SIZE]
            yield self.api_stats_request(batch)

    def call_done(self, channel: str) -> Output:
        """One videos.list call holding ``channel``'s ids is over: the profile goes out once
        none is left (in the buffer or in flight)."""
        state = self.awaiting.get(channel)
        if state is None:
            return
        state.calls -= 1
        if state.calls <= 0 and state.buffered <= 0:
            del self.awaiting[channel]
            yield self.finish(state.profile)

    def track(self, profile: ProfileItem, request: Request) -> Request:
        """Note the request carrying ``profile`` to its posts (single runs)."""
        if not self.in_job and profile.platform_user_id:
            self.posts_pending[profile.platform_user_id] = request
        return request

    def untrack(self, profile: ProfileItem) -> bool:
        """The answer (or failure) of ``profile``'s posts request came: False when the profile
        already went out (released by a budget stop or a fatal error: nothing more to do)."""
        if self.in_job or not profile.platform_user_id:
            return True
        if self.posts_pending.pop(profile.platform_user_id, None) is not None:
            return True
        self.stat("answers_after_release")
        return False

    def release_stranded(self) -> Output:
        """The crawl is closing: the profiles whose posts requests wait in the scheduler (which
        a closing crawl drops) go out now, without posts; those in the downloader come back
        through their callback or errback. A ``JOBDIR`` run keeps its queue for the resume."""
        if self.in_job or self.setting("JOBDIR"):
            return
        try:
            active = {r.url for r in self.crawler.engine.downloader.active}
        except (AttributeError, RuntimeError):  # no engine (unit tests): nothing in flight
            active = set()
        stranded = [c for c, r in self.posts_pending.items() if r.url not in active]
        if stranded:
            self.stat("profiles_without_posts", len(stranded))
        for channel in stranded:
            yield self.finish(self.posts_pending.pop(channel).cb_kwargs["profile"])

    def release_awaiting(self) -> Output:
        """Every waiting profile, with what is known (no more call will be sent)."""
        if not self.awaiting:
            return
        self.stat("profiles_without_statistics", len(self.awaiting))
        self.logger.warning("%d profiles go out without their videos' statistics",
                            len(self.awaiting))
        waiting, self.awaiting = self.awaiting, {}
        self.video_buffer.clear()
        for state in waiting.values():
            yield self.finish(state.profile)

    @property
    def stopping(self) -> bool:
        """The budget is spent or a fatal Data API error came: no further call will leave."""
        book = getattr(getattr(self, "crawler", None), "microscout_quota", None)
        return bool(self.fatal_api_reason or getattr(book, "exhausted", None) is not None)

    def holding(self) -> bool:
        """Video ids wait in the buffer, or profiles for their statistics."""
        return bool(self.video_buffer or self.awaiting)

    def on_idle(self) -> None:
        """spider_idle: send the buffer's last ids instead of closing."""
        requests = list(self.flush_videos(everything=True))
        if not requests:
            return
        for request in requests:
            self.crawler.engine.crawl(request)
        raise DontCloseSpider

    def on_closed(self, reason: str) -> None:
        if self.awaiting:  # a stop before their calls came back (a timeout, a signal)
            self.stat("profiles_unfinished", len(self.awaiting))
            self.logger.warning("Closing (%s) with %d profiles still waiting for their videos' "
                                "statistics: not stored, the next run fetches them", reason,
                                len(self.awaiting))

    # -- helpers -------------------------------------------------------------------------------

    def consider_channel(self, key: str, discovered_via: str | None) -> Output:
        """Fetch a channel's page once a run (the listing names no counts to filter on)."""
        if key in self.seen_channels:
            return
        self.seen_channels.add(key)
        self.stat("authors_requested")
        yield self.channel_request(key, discovered_via)

    def keep(self, profile: ProfileItem, discovered_via: str | None, url: str) -> Output:
        if self.clearly_out_of_range(self.follower_count(profile)):
            self.stat("skipped_out_of_range")
            return
        if self.already_loaded(self.platform, profile.handle):  # a resumed run loaded it
            return
        profile.discovered_via = discovered_via
        profile.source_url = url
        profile.fetched_at = profile.fetched_at or utcnow()
        yield self.finish(profile)

    # -- failures --------------------------------------------------------------------------------

    def unsent(self, request: Request) -> Output:
        """A call the budget left unsent, in a single run (``BaseSpider.on_error`` asks; a
        job's worker leaves its requests to the job, which runs those that led there again):
        the profile it carried, the profiles waiting for statistics and those whose posts
        calls wait in the scheduler go out with what is known (their units are spent)."""
        if request.meta.get("microscout_kind") == "posts":
            profile = request.cb_kwargs["profile"]
            if self.untrack(profile):
                yield self.finish(profile)
        yield from self.release_awaiting()
        yield from self.release_stranded()

    def recover(self, failure: Failure) -> Iterable[Any] | None:
        """A channel without an uploads playlist (``playlistNotFound``: it never uploaded):
        the profile, without posts; not a failure."""
        request: Request = failure.request  # type: ignore[attr-defined]  # set by Scrapy
        if (request.callback == self.parse_api_playlist and failure.check(HttpError)
                and "playlistNotFound" in self.api_error_reasons(failure)):
            self.stat("uploads_not_found")
            profile = request.cb_kwargs["profile"]
            return [self.finish(profile)] if self.untrack(profile) else []
        return None

    def describe(self, failure: Failure) -> tuple[str, str | None, Any]:
        """Also notes a Data API error that makes further calls pointless."""
        described = super().describe(failure)
        self.fatal_api_reason = self.fatal_api_reason or self.fatal_api_error(failure)
        return described

    def after_failure(self, request: Request | None) -> Output:
        """The profile of a failed post list, the profiles of a failed statistics call (with
        what is known); then, after a fatal Data API error, every waiting profile and the end."""
        kind = request.meta.get("microscout_kind") if request is not None else None
        if request is not None and kind == "videos":
            self.stat("statistics_calls_failed")
            for channel in dict.fromkeys(request.cb_kwargs.get("videos", {}).values()):
                yield from self.call_done(channel)
        elif request is not None and kind == "posts":
            profile = request.cb_kwargs["profile"]
            if self.untrack(profile):
                yield self.finish(profile)
        else:
            yield from super().after_failure(request)
        if self.fatal_api_reason:
            yield from self.release_awaiting()
            yield from self.release_stranded()
            raise CloseSpider(f"youtube_api_{self.fatal_api_reason}")

    def api_error_reasons(self, failure: Failure) -> list[str]:
        """The ``error.errors[].reason`` values of a Data API error answer."""
        if not failure.check(HttpError):
            return []
        response = failure.value.response
        if not response.url.startswith(self.api_base):
            return []
        try:
            data = loads_json(body_text(response))
        except ValueError:
            return []
        error = data.get("error") if isinstance(data, Mapping) else None
        if not isinstance(error, Mapping):
            return []
        return [str(e.get("reason")) for e in error.get("errors") or []
                if isinstance(e, Mapping) and e.get("reason")]

    def fatal_api_error(self, failure: Failure) -> str | None:
        """The reason of a Data API answer that makes further calls pointless, else None."""
        return next((r for r in self.api_error_reasons(failure) if r in _FATAL_API_REASONS),
                    None)


__all__ = ["YouTubeSpider", "normalize_youtube_handle"]
