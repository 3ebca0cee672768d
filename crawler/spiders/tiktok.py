"""TikTok spider: tag sweeps and handle lists over TikTok's web pages and web-app XHRs.

    scrapy crawl tiktok -a tags=veganfood,plantbased [-a min_followers=1000 -a max_followers=99999]
    scrapy crawl tiktok -a handles=alice,@bob,https://www.tiktok.com/@carol
    scrapy crawl tiktok -a tags=vegan -a base_url=http://127.0.0.1:8123      # the sandbox

Tag sweep: the tag page ``/tag/<tag>`` (``__UNIVERSAL_DATA_FOR_REHYDRATION__`` ->
``webapp.challenge-detail``) names the challenge id; its videos come from
``/api/challenge/item_list/?challengeID=&cursor=&count=`` page by page along
``cursor``/``hasMore`` (``max_pages`` pages, ``max_posts`` videos a tag). Every video is a
``HashtagSightingItem`` (0-based ``position`` across pages, listing ``top``: TikTok ranks tag
listings). Listing videos carry their author and ``authorStats``: each new author (once a
run) whose follower count is in range - read with a 1% margin, as ``authorStats`` are rounded
to three figures - gets their profile page ``/@<handle>`` fetched (``webapp.user-detail``:
``user``, ``stats``, exact ``statsV2`` strings, which win); out-of-range authors cost no
request (``microscout/tiktok/skipped_out_of_range``), and the exact count is checked again on
the profile. When the page's ``itemList`` is empty, as TikTok serves it today, the newest
``recent_posts`` videos come from ``/api/post/item_list/?secUid=&cursor=0&count=``. One
``ProfileItem`` per author, its videos (plays as ``views``) as ``recent_posts``.

Handle list: the profile pages directly.

Arguments besides the common ones (:mod:`crawler.spiders.args`): ``base_url`` (default
https://www.tiktok.com; the sandbox's URL in tests), ``hl`` (page language, sent as
``lang=``, default ``en``), ``block_backoff`` (seconds a host is paused after a captcha,
default 60, doubled for each further one in a row, capped by ``MICROSCOUT_MAX_RETRY_AFTER``).

What is not data is recorded, never parsed as an empty profile: TikTok's captcha
(``{"code":"10000","type":"verify"}`` or the slider page) becomes
``RejectedItem(reason="captcha")`` and pauses that host (:meth:`~crawler.spiders.video.VideoSpider.back_off`:
the RateLimitMiddleware's per-slot pause, which every queued request to the host waits
for); a body that does not parse (a cut JSON or page) is retried, then ``unreadable_body``;
an empty 200 body ``empty_body`` (live TikTok answers its XHRs so when they lack the
``msToken``/``X-Bogus`` signature only its own JavaScript computes: the listing and post-list
XHRs need a signing proxy or browser to work against the live site); "no such user" pages
``unavailable``; failed requests as every spider's (``BaseSpider.on_error``).

What TikTok shares with YouTube is in :mod:`crawler.spiders.video`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar
from urllib.parse import urlencode, urlsplit

from scrapy.http import Request, Response

from crawler.errors import UnrecognisedDocument
from crawler.items import HashtagSightingItem, PostItem, ProfileItem
from crawler.parsers import tiktok as tt
from crawler.platforms import REGISTRY
from crawler.spiders.base import Output, utcnow
from crawler.spiders.video import PAGE_HEADERS, VideoSpider

PLATFORM = REGISTRY["tiktok"]
LIST_COUNT = tt.DEFAULT_PAGE_SIZE  # 35, the web app's page size
#: authorStats are rounded to three significant figures: 0.5% off at most.
ROUNDING_MARGIN = 0.01


class TikTokSpider(VideoSpider):
    name = "tiktok"
    platform: ClassVar[str] = "tiktok"
    listings: ClassVar[tuple[str, ...]] = ("top",)  # TikTok ranks tag listings
    max_recent_posts: ClassVar[int | None] = LIST_COUNT
    default_base_url: ClassVar[str] = PLATFORM.default_base_url
    base_url_aliases: ClassVar[tuple[str, ...]] = PLATFORM.base_url_aliases
    parser: ClassVar[Any] = tt

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.seen_authors: set[str] = set()

    @classmethod
    def normalize_handle(cls, value: str) -> str:
        return _tiktok_handle(value)

    # -- requests ----------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        for tag in self.args.tags:
            yield self.tag_request(tag)
        for handle in self.args.handles:
            for request in self.consider_author(handle, None, None, self.handles_label):
                yield request

    def _lang(self) -> str:
        return urlencode({"lang": self.hl})

    def tag_request(self, tag: str) -> Request:
        url = f"{tt.tag_url(tag, base=self.base_url)}?{self._lang()}"
        return self.request(url, self.parse_tag_page, "tag", headers=PAGE_HEADERS,
                            cb_kwargs={"tag": tag})

    def listing_request(self, tag: str, challenge_id: str, cursor: str | int, page: int,
                        offset: int) -> Request:
        url = tt.challenge_item_list_url(challenge_id, cursor=cursor, count=LIST_COUNT,
                                         base=self.base_url)
        return self.request(
            url, self.parse_listing, "listing",
            cb_kwargs={"tag": tag, "challenge_id": challenge_id, "page": page, "offset": offset})

    def profile_request(self, handle: str, sec_uid: str | None,
                        discovered_via: str | None) -> Request:
        url = f"{tt.profile_url(handle, base=self.base_url)}?{self._lang()}"
        return self.request(url, self.parse_profile, "profile", priority=10, headers=PAGE_HEADERS,
                            cb_kwargs={"handle": handle, "sec_uid": sec_uid,
                                       "discovered_via": discovered_via})

    def posts_request(self, profile: ProfileItem, sec_uid: str) -> Request:
        url = tt.item_list_url(sec_uid, cursor=0, count=self.args.recent_posts, base=self.base_url)
        return self.request(url, self.parse_posts, "posts", priority=20,
                            cb_kwargs={"profile": profile})

    # -- callbacks ---------------------------------------------------------------------------

    def parse_tag_page(self, response: Response, tag: str) -> Output:
        data, _ = self.decode(response)
        info = tt.challenge_info(data) if isinstance(data, Mapping) else None
        if not info or not info.get("id"):
            raise UnrecognisedDocument(f"tag page of #{tag} names no challenge id")
        yield self.listing_request(tag, info["id"], 0, page=1, offset=0)

    def parse_listing(self, response: Response, tag: str, challenge_id: str, page: int,
                      offset: int) -> Output:
        data = self.page_data(response)
        raw_items = data.get("itemList") if isinstance(data, Mapping) else None
        if not isinstance(raw_items, list):
            raise UnrecognisedDocument("challenge item list without itemList")
        raw_items = raw_items[: max(0, self.args.max_posts - offset)]
        items = tt.parse_document({**data, "itemList": raw_items}, url=response.url,
                                  hashtag=tag, position_offset=offset) if raw_items else []
        sec_uids = {str((i.get("author") or {}).get("uniqueId") or "").lower():
                    (i.get("author") or {}).get("secUid") for i in raw_items
                    if isinstance(i, Mapping) and isinstance(i.get("author"), Mapping)}
        now = utcnow()
        for item in items:
            if isinstance(item, HashtagSightingItem):
                item.seen_at = now
                yield item
        for item in items:
            if isinstance(item, ProfileItem) and item.handle:
                yield from self.consider_author(item.handle, self.follower_count(item),
                                                sec_uids.get(item.handle), tag)
            elif isinstance(item, PostItem) and item.author_handle:
                yield from self.consider_author(item.author_handle, None,
                                                sec_uids.get(item.author_handle), tag)
        offset += len(raw_items)
        more = tt.pagination(data)
        if raw_items and more.has_more and more.cursor and page < self.args.max_pages and (
                offset < self.args.max_posts):
            yield self.listing_request(tag, challenge_id, more.cursor, page + 1, offset)

    def parse_profile(self, response: Response, handle: str, sec_uid: str | None,
                      discovered_via: str | None) -> Output:
        data, items = self.decode(response)
        profile = next((i for i in items if isinstance(i, ProfileItem)), None)
        if profile is None:
            raise UnrecognisedDocument(f"profile page of @{handle} holds no profile")
        if self.clearly_out_of_range(self.follower_count(profile)):
            self.stat("skipped_out_of_range")
            return
        profile.discovered_via = discovered_via
        profile.source_url = response.url
        profile.fetched_at = profile.fetched_at or utcnow()
        sec_uid = tt.sec_uid(data) or sec_uid
        if profile.recent_posts or self.args.recent_posts == 0 or not sec_uid:
            yield self.finish(profile)
            return
        yield self.posts_request(profile, sec_uid)

    def parse_posts(self, response: Response, profile: ProfileItem) -> Output:
        _, items = self.decode(response)
        posts: list[PostItem] = []
        for item in items:
            if isinstance(item, ProfileItem):
                posts.extend(item.recent_posts)
            elif isinstance(item, PostItem):
                posts.append(item)
        profile.recent_posts = [p for p in posts if p.author_handle in (None, profile.handle)]
        yield self.finish(profile)

    # -- helpers ----------------------------------------------------------------------------

    def consider_author(self, handle: str, followers: int | None, sec_uid: str | None,
                        discovered_via: str | None) -> Output:
        """Request an author's profile once a run, unless clearly out of the follower range."""
        if handle in self.seen_authors:
            return
        self.seen_authors.add(handle)
        if self.clearly_out_of_range(followers, ROUNDING_MARGIN):
            self.stat("skipped_out_of_range")
            return
        if self.already_loaded(self.platform, handle):  # a resumed run loaded it before
            return
        self.stat("authors_requested")
        yield self.profile_request(handle, sec_uid, discovered_via)


def _tiktok_handle(value: str) -> str:
    """'@Alice', 'https://www.tiktok.com/@alice/video/1' -> 'alice'."""
    text = value.strip()
    if "://" in text or text.startswith("www."):
        path = urlsplit(text if "://" in text else "https://" + text).path.strip("/")
        first = path.split("/", 1)[0]
        if not first.startswith("@"):
            raise ValueError(f"handles: {value.strip()!r} is not a TikTok profile URL "
                             "like https://www.tiktok.com/@user")
        text = first
    text = text.lstrip("@").lower()
    if not text or not all(ch.isalnum() or ch in "._" for ch in text):
        raise ValueError(f"handles: {value.strip()!r} is not a TikTok username")
    return text


__all__ = ["TikTokSpider"]
