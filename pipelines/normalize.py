"""Normalise pipeline: the platforms' raw values to typed, canonical ones.

Counts become ints (read with the page's locale), timestamps UTC datetimes, handles and
hashtags canonical, text NFC, URLs absolute. A profile whose follower count cannot be read
becomes a :class:`RejectedItem`; any other unreadable value is set to None and recorded in
``item.problems`` (one quarantine row each), with a ``microscout/normalize/unreadable_<field>``
stat. Rejections are also counted under ``microscout/quarantined/<reason>``. RejectedItem and
unknown items pass through untouched.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from crawler.items import HashtagSightingItem, PostItem, ProfileItem, RejectedItem, reject
from crawler.values import (
    UnreadableValue,
    extract_hashtags,
    extract_mentions,
    merge_tags,
    normalize_handle,
    normalize_tag,
    normalize_text,
    normalize_url,
    parse_count,
    parse_relative_time,
    parse_timestamp,
    to_jsonable,
)
from pipelines import quarantine

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

STATS_PREFIX = "microscout/normalize"
POST_COUNTS = ("likes", "comments", "shares", "views")
_POST_FIELDS = frozenset(f.name for f in dataclasses.fields(PostItem))


def _host(url: str | None) -> str | None:
    if not url:
        return None
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def _lower(value: Any) -> str | None:
    if value is None:
        return None
    return str(value).strip().lower() or None


def _clean_id(value: Any) -> str | None:
    if value is None:
        return None
    return str(value).strip() or None


class NormalizePipeline:
    def __init__(self, stats: StatsCollector | None = None) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NormalizePipeline:
        return cls(crawler.stats)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, ProfileItem):
            return self.normalize_profile(item)
        if isinstance(item, HashtagSightingItem):
            return self.normalize_sighting(item)
        if isinstance(item, PostItem):
            # A post on its own has no problems list: log what could not be read.
            problems: list[dict] = []
            self.normalize_post(item, None, problems, datetime.now(timezone.utc))
            for problem in problems:
                logger.warning("post %s: %s %s=%r", problem["post_id"], problem["reason"],
                               problem["field"], problem["raw"])
        return item  # RejectedItem and anything else pass through untouched

    def normalize_profile(self, item: ProfileItem) -> ProfileItem | RejectedItem:
        try:
            followers = parse_count(item.followers, item.locale)
        except UnreadableValue as exc:
            self._inc("unreadable_followers")
            self._quarantined("unreadable_count")
            return reject(
                "unreadable_count", to_jsonable(item), detail=f"followers: {exc.raw!r}",
                platform=_lower(item.platform), source_url=item.source_url,
                item_type=type(item).__name__,
            )
        problems = item.problems
        item.followers = followers
        item.platform = _lower(item.platform)
        item.source_url = normalize_url(item.source_url)
        item.profile_url = normalize_url(item.profile_url, item.source_url)
        item.external_url = normalize_url(item.external_url)
        instance = _host(item.profile_url) or _host(item.source_url)
        item.handle = normalize_handle(item.handle or item.profile_url, item.platform,
                                       instance=instance)
        item.platform_user_id = _clean_id(item.platform_user_id)
        item.display_name = normalize_text(item.display_name)
        item.bio = normalize_text(item.bio)
        item.category = normalize_text(item.category)
        item.following = self._count(item, "following", item.locale, problems)
        item.posts_count = self._count(item, "posts_count", item.locale, problems)
        try:
            fetched_at = parse_timestamp(item.fetched_at)
        except UnreadableValue:
            self._record(problems, "unreadable_timestamp", "fetched_at", item.fetched_at, None)
            fetched_at = None
        item.fetched_at = fetched_at or datetime.now(timezone.utc)
        posts = []
        for post in item.recent_posts or []:
            if isinstance(post, dict):
                post = PostItem(**{k: v for k, v in post.items() if k in _POST_FIELDS})
            if isinstance(post, PostItem):
                posts.append(self.normalize_post(post, item, problems, item.fetched_at))
            else:
                self._record(problems, "unreadable_post", "recent_posts", post, None)
        item.recent_posts = posts
        return item

    def normalize_post(self, post: PostItem, profile: ProfileItem | None,
                       problems: list[dict], now: datetime) -> PostItem:
        """Normalise ``post`` in place; relative times are resolved against ``now``."""
        post.platform = _lower(post.platform) or (profile.platform if profile else None)
        post.post_id = _clean_id(post.post_id)
        base = (profile.source_url or profile.profile_url) if profile else None
        post.url = normalize_url(post.url, base)
        if post.author_handle is None and profile is not None:
            post.author_handle = profile.handle
        else:
            instance = _host(post.url) or (_host(profile.profile_url) if profile else None)
            post.author_handle = normalize_handle(post.author_handle, post.platform,
                                                  instance=instance)
        post.text = normalize_text(post.text)
        locale = profile.locale if profile else None
        for name in POST_COUNTS:
            setattr(post, name, self._count(post, name, locale, problems, post.post_id))
        self._posted_at(post, problems, now)
        post.hashtags = merge_tags(post.hashtags, extract_hashtags(post.text))
        given = [normalize_handle(m, post.platform) for m in post.mentions or []]
        post.mentions = merge_tags(given, extract_mentions(post.text))
        return post

    def _posted_at(self, post: PostItem, problems: list[dict], now: datetime) -> None:
        raw = post.posted_at
        try:
            post.posted_at = parse_timestamp(raw)
        except UnreadableValue:
            relative = parse_relative_time(raw, now)  # "3 weeks ago" the parser left as is
            if relative is None:
                post.posted_at = None
                self._record(problems, "unreadable_timestamp", "posted_at", raw, post.post_id)
            else:
                post.posted_at, post.posted_at_precision = relative
            return
        if post.posted_at is not None and post.posted_at_precision is None:
            post.posted_at_precision = "exact"

    def normalize_sighting(self, item: HashtagSightingItem) -> HashtagSightingItem | RejectedItem:
        hashtag = normalize_tag(item.hashtag)
        if hashtag is None and item.hashtag not in (None, ""):
            self._inc("unreadable_hashtag")
            self._quarantined("unreadable_hashtag")
            return reject(
                "unreadable_hashtag", to_jsonable(item), detail=f"hashtag: {item.hashtag!r}",
                platform=_lower(item.platform), source_url=item.source_url,
                item_type=type(item).__name__,
            )
        item.hashtag = hashtag
        item.platform = _lower(item.platform)
        item.source_url = normalize_url(item.source_url)
        item.author_handle = normalize_handle(item.author_handle, item.platform,
                                              instance=_host(item.source_url))
        item.post_id = _clean_id(item.post_id)
        try:
            seen_at = parse_timestamp(item.seen_at)
        except UnreadableValue:
            self._inc("unreadable_seen_at")
            logger.warning("hashtag sighting: unreadable seen_at %r, using now", item.seen_at)
            seen_at = None
        item.seen_at = seen_at or datetime.now(timezone.utc)
        return item

    def _count(self, holder: Any, name: str, locale: str | None, problems: list[dict],
               post_id: str | None = None) -> int | None:
        raw = getattr(holder, name)
        try:
            return parse_count(raw, locale)
        except UnreadableValue:
            self._record(problems, "unreadable_count", name, raw, post_id)
            return None

    def _record(self, problems: list[dict], reason: str, name: str, raw: Any,
                post_id: str | None) -> None:
        problems.append({"reason": reason, "field": name, "raw": to_jsonable(raw),
                         "post_id": post_id})
        self._inc(f"unreadable_{name}")
        self._quarantined(reason)  # each problem becomes its own quarantine row

    def _quarantined(self, reason: str) -> None:
        if self.stats is not None:
            quarantine.count(self.stats, reason)

    def _inc(self, key: str) -> None:
        if self.stats is not None:
            self.stats.inc_value(f"{STATS_PREFIX}/{key}")
