"""Normalise pipeline: the platforms' raw values to typed, canonical ones.

Counts become ints (read with the page's locale), timestamps UTC datetimes, handles and
hashtags canonical, text NFC, URLs absolute. A profile whose follower count cannot be read
becomes a :class:`RejectedItem`; any other unreadable value is set to None and recorded in
``item.problems`` (one quarantine row each), with a ``microscout/normalize/unreadable_<field>``
stat. Rejections are also counted under ``microscout/quarantined/<reason>``. RejectedItem and
unknown items pass through untouched.

Values that read but cannot be true (outside ``crawler.values.BOUNDS``: a follower count of
10^18; or longer than their column, ``TEXT_LIMITS``: a 300-character hashtag) are treated the
same way with reason ``implausible_value`` and a ``microscout/normalize/implausible_<field>``
stat. Out-of-bounds followers, an over-long handle, or an over-long key of a post or sighting
on its own reject the item; a recent post with an over-long id is left out and an over-long
hashtag left out of its post, each with a problem; any other field is stored as NULL with a
problem. A handle that normalises to nothing ("@") is ``missing_handle``. Text is made
storable on both databases (``crawler.values.storable_text``: no NUL, no lone surrogates).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from crawler.items import HashtagSightingItem, PostItem, ProfileItem, RejectedItem, reject
from crawler.values import (
    BOUNDS,
    TEXT_LIMITS,
    ImplausibleValue,
    UnreadableValue,
    check_bound,
    extract_hashtags,
    extract_mentions,
    is_storable,
    merge_tags,
    normalize_handle,
    normalize_tag,
    normalize_text,
    normalize_url,
    parse_count,
    parse_relative_time,
    parse_timestamp,
    storable_text,
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
_HASHTAG_LIMIT = TEXT_LIMITS["hashtag"]
#: "scheme://host[:port]" followed by the path, query, fragment or the end, the host plain ASCII:
#: what ``urlsplit(url).hostname`` reads as the host, lower-cased (anything else goes through
#: urlsplit, which also drops tabs and newlines and checks brackets and non-ASCII hosts).
_PLAIN_HOST_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://([A-Za-z0-9.-]*)(?::[0-9]*)?(?=[/?#]|\Z)")


def _host(url: str | None) -> str | None:
    if not url:
        return None
    if type(url) is str:
        plain = _PLAIN_HOST_RE.match(url)
        if plain is not None:
            return plain.group(1).lower() or None
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def _lower(value: Any) -> str | None:
    if value is None:
        return None
    if type(value) is str:
        return _lower_text(value)
    return str(value).strip().lower() or None


@functools.lru_cache(maxsize=256)  # platform names
def _lower_text(value: str) -> str | None:
    return value.strip().lower() or None


def _clean_id(value: Any) -> str | None:
    if value is None:
        return None
    return str(value).strip() or None


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    """The dataclass's field names (``dataclasses.fields`` builds a new tuple every call)."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(field.name for field in dataclasses.fields(cls))
    return names


def _storable(item: Any) -> None:
    """Every text field of ``item`` (and its lists of text) through ``storable_text``.

    A value that is already storable plain ``str`` is left as it is (``storable_text`` would
    give back an equal string); a ``str`` subclass is replaced by its plain ``str`` copy, as
    ``storable_text`` does.
    """
    for name in _field_names(type(item)):
        value = getattr(item, name)
        kind = type(value)
        if kind is str:
            if not is_storable(value):
                setattr(item, name, storable_text(value))
        elif kind is list:
            if value and not _storable_list(value):
                setattr(item, name, [storable_text(v) if isinstance(v, str) else v for v in value])
        elif isinstance(value, str):
            setattr(item, name, storable_text(value))
        elif isinstance(value, list) and any(isinstance(v, str) for v in value):
            setattr(item, name, [storable_text(v) if isinstance(v, str) else v for v in value])


def _storable_list(values: list) -> bool:
    """True when ``storable_text`` would leave every element of ``values`` as it is: no text
    at all, or only plain ``str`` that is already storable."""
    kinds = set(map(type, values))
    if kinds == {str}:
        return is_storable("".join(values))  # a NUL or a surrogate shows in the joined text too
    return not any(issubclass(kind, str) for kind in kinds)


def _too_long(item: Any, name: str) -> bool:
    value = getattr(item, name)
    return isinstance(value, str) and len(value) > TEXT_LIMITS[name]


def _kind(reason: str) -> str:
    """The stat prefix of a reason: unreadable_count -> unreadable, implausible_value ->
    implausible, missing_handle -> missing."""
    return reason.split("_", 1)[0]


def _shorten(value: Any) -> Any:
    """A raw value for a quarantine row: over-long text cut to 300 characters and numbers of
    more than 30 digits to their first 20 (1e308 read as an int has 309), saying so."""
    if isinstance(value, str) and len(value) > 300:
        return f"{value[:300]}... ({len(value)} characters)"
    if isinstance(value, int) and not -10**30 < value < 10**30:
        digits = str(abs(value))
        return f"{'-' if value < 0 else ''}{digits[:20]}... ({len(digits)} digits)"
    return value


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
            return self._check_length(item, ("post_id",)) or item
        return item  # RejectedItem and anything else pass through untouched

    def normalize_profile(self, item: ProfileItem) -> ProfileItem | RejectedItem:
        try:
            followers = check_bound("followers", parse_count(item.followers, item.locale))
        except UnreadableValue as exc:
            reason = exc.reason if isinstance(exc, ImplausibleValue) else "unreadable_count"
            return self._reject(item, reason, "followers", item.followers)
        problems = item.problems
        item.followers = followers
        item.platform = _lower(item.platform)
        item.source_url = normalize_url(item.source_url)
        item.profile_url = normalize_url(item.profile_url, item.source_url)
        item.external_url = normalize_url(item.external_url)
        instance = _host(item.profile_url) or _host(item.source_url)
        raw_handle = item.handle
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
        item.recent_posts = [post for post in posts if self._storable_id(post, problems)]
        _storable(item)
        if not item.handle:  # "@" or a bare instance: nothing left to key the account on
            return self._reject(item, "missing_handle", "handle", raw_handle)
        rejected = self._check_length(item, ("handle",))
        if rejected is not None:
            return rejected
        for name in ("platform_user_id", "category", "discovered_via"):
            if _too_long(item, name):
                self._record(problems, "implausible_value", name, getattr(item, name), None)
                setattr(item, name, None)
        return item

    def _storable_id(self, post: PostItem, problems: list[dict]) -> bool:
        """False (and a problem recorded) when ``post``'s id is longer than its column."""
        if _too_long(post, "post_id"):
            self._record(problems, "implausible_value", "post_id", post.post_id, None)
            return False
        return True

    def _check_length(self, item: Any, names: tuple[str, ...]) -> RejectedItem | None:
        """A RejectedItem when a field that keys ``item`` in the warehouse is longer than its
        column; None when the item can be stored."""
        for name in names:
            if _too_long(item, name):
                return self._reject(item, "implausible_value", name, getattr(item, name))
        return None

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
        self._fit_post(post, problems)
        return post

    def _fit_post(self, post: PostItem, problems: list[dict]) -> None:
        """Text storable; over-long author, media type and hashtags become problems."""
        _storable(post)
        for name in ("author_handle", "media_type", "posted_at_precision"):
            if _too_long(post, name):
                self._record(problems, "implausible_value", name, getattr(post, name),
                             post.post_id)
                setattr(post, name, None)
        if any(len(tag) > _HASHTAG_LIMIT for tag in post.hashtags):
            kept = []
            for tag in post.hashtags:
                if len(tag) > _HASHTAG_LIMIT:
                    self._record(problems, "implausible_value", "hashtags", tag, post.post_id)
                else:
                    kept.append(tag)
            post.hashtags = kept

    def _posted_at(self, post: PostItem, problems: list[dict], now: datetime) -> None:
        raw = post.posted_at
        if type(raw) is datetime and raw.tzinfo is timezone.utc:  # parse_timestamp keeps it as is
            if post.posted_at_precision is None:
                post.posted_at_precision = "exact"
            return
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
        _storable(item)
        return self._check_length(item, ("hashtag", "post_id", "author_handle", "listing")) or item

    def _count(self, holder: Any, name: str, locale: str | None, problems: list[dict],
               post_id: str | None = None) -> int | None:
        raw = getattr(holder, name)
        if raw is None:
            return None
        if type(raw) is int:  # already a count: parse_count gives it back when it is not negative
            low, high = BOUNDS[name]
            if low <= raw <= high:
                return raw
        try:
            return check_bound(name, parse_count(raw, locale))
        except ImplausibleValue:
            self._record(problems, "implausible_value", name, raw, post_id)
        except UnreadableValue:
            self._record(problems, "unreadable_count", name, raw, post_id)
        return None

    def _record(self, problems: list[dict], reason: str, name: str, raw: Any,
                post_id: str | None) -> None:
        problems.append({"reason": reason, "field": name, "raw": to_jsonable(_shorten(raw)),
                         "post_id": post_id})
        self._inc(f"{_kind(reason)}_{name}")
        self._quarantined(reason)  # each problem becomes its own quarantine row

    def _reject(self, item: Any, reason: str, name: str, raw: Any) -> RejectedItem:
        """``item`` as a RejectedItem because its field ``name`` holds ``raw``."""
        self._inc(f"{_kind(reason)}_{name}")
        self._quarantined(reason)
        return reject(
            reason, to_jsonable(item), detail=f"{name}: {to_jsonable(_shorten(raw))!r}",
            platform=_lower(item.platform), source_url=getattr(item, "source_url", None),
            item_type=type(item).__name__,
        )

    def _quarantined(self, reason: str) -> None:
        if self.stats is not None:
            quarantine.count(self.stats, reason)

    def _inc(self, key: str) -> None:
        if self.stats is not None:
            self.stats.inc_value(f"{STATS_PREFIX}/{key}")
