"""Validate pipeline: required fields present and of the right kind; the rest is quarantined.

An invalid item is not dropped: it continues as a RejectedItem (reason, raw payload, source URL)
that the warehouse writes to ``rejected_items``. Stats: ``microscout/quarantined/<reason>``.
A sighting's position outside ``crawler.values.BOUNDS`` (the INTEGER column) is
``implausible_value``. A spider's RejectedItem gets its detail made storable (no NUL).
"""

from __future__ import annotations

from typing import Any, TypeGuard

from crawler.items import PLATFORMS, HashtagSightingItem, PostItem, ProfileItem, RejectedItem
from crawler.values import BOUNDS, storable_text, to_jsonable
from pipelines import quarantine

COUNT_FIELDS = ("followers", "following", "posts_count")
POST_COUNT_FIELDS = ("likes", "comments", "shares", "views")


def _is_count(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float, str)) and not isinstance(value, bool))


def _is_text(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and value.strip() != ""


def profile_problem(item: ProfileItem) -> tuple[str, str] | None:
    """(reason, detail) for the first problem found, or None when the profile is usable."""
    if not _is_text(item.platform):
        return "missing_platform", "platform is empty"
    if item.platform.strip().lower() not in PLATFORMS:
        return "unknown_platform", f"platform {item.platform!r}"
    if not _is_text(item.handle):
        return "missing_handle", "handle is empty"
    if item.followers is None or item.followers == "":
        return "missing_followers", "followers is empty"
    for name in COUNT_FIELDS:
        if not _is_count(getattr(item, name)):
            return "bad_type", f"{name} is {type(getattr(item, name)).__name__}"
    if not isinstance(item.recent_posts, list):
        return "bad_type", f"recent_posts is {type(item.recent_posts).__name__}"
    for post in item.recent_posts:
        if not isinstance(post, PostItem):
            return "bad_type", f"recent post is {type(post).__name__}"
        for name in POST_COUNT_FIELDS:
            if not _is_count(getattr(post, name)):
                return "bad_type", f"post {post.post_id}: {name} is {type(getattr(post, name)).__name__}"
    return None


def post_problem(item: PostItem) -> tuple[str, str] | None:
    """A post seen on its own (a listing that names no follower counts)."""
    for name in ("platform", "post_id"):
        value = getattr(item, name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return f"missing_{name}", f"{name} is empty"
    assert item.platform is not None  # checked by the loop above
    if item.platform.strip().lower() not in PLATFORMS:
        return "unknown_platform", f"platform {item.platform!r}"
    for name in POST_COUNT_FIELDS:
        if not _is_count(getattr(item, name)):
            return "bad_type", f"{name} is {type(getattr(item, name)).__name__}"
    return None


def sighting_problem(item: HashtagSightingItem) -> tuple[str, str] | None:
    for name in ("platform", "hashtag", "post_id"):
        value = getattr(item, name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return f"missing_{name}", f"{name} is empty"
    assert item.platform is not None  # checked by the loop above
    if item.platform.strip().lower() not in PLATFORMS:
        return "unknown_platform", f"platform {item.platform!r}"
    if item.position is not None and (isinstance(item.position, bool) or not isinstance(item.position, int)):
        return "bad_type", f"position is {type(item.position).__name__}"
    low, high = BOUNDS["position"]
    if item.position is not None and not low <= item.position <= high:
        return "implausible_value", f"position: {item.position}"
    return None


class ValidatePipeline:
    def __init__(self, stats) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.stats)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, RejectedItem):  # yielded by a spider: count it once, here
            quarantine.count(self.stats, item.reason)
            if isinstance(item.detail, str):
                item.detail = storable_text(item.detail)
            return item
        if isinstance(item, ProfileItem):
            problem = profile_problem(item)
            if problem is None:
                self._drop_posts_without_id(item)
        elif isinstance(item, HashtagSightingItem):
            problem = sighting_problem(item)
        elif isinstance(item, PostItem):
            problem = post_problem(item)
        else:
            problem = ("unknown_item_type", f"{type(item).__name__} is not a microscout item")
        if problem is None:
            self.stats.inc_value("microscout/validate/ok")
            return item
        reason, detail = problem
        return quarantine.reject(self.stats, reason, item, detail)

    def _drop_posts_without_id(self, item: ProfileItem) -> None:
        """A post without an id cannot be stored; it is noted as a problem, the profile kept."""
        kept = []
        for post in item.recent_posts:
            if post.post_id is None or (isinstance(post.post_id, str) and not post.post_id.strip()):
                text = post.text[:200] if isinstance(post.text, str) else post.text
                item.problems.append({"reason": "missing_post_id", "field": "post_id",
                                      "raw": to_jsonable(text or ""), "post_id": None})
                quarantine.count(self.stats, "missing_post_id")
            else:
                kept.append(post)
        item.recent_posts = kept
