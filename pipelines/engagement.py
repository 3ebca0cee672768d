"""Engagement pipeline: engagement rates and posting frequency from a profile's recent posts.

- engagement_rate = mean(likes + comments) / followers over the last N posts (the common
  industry formula; N = MICROSCOUT_ENGAGEMENT_POSTS, default 12);
- engagement_rate_median = the same with the median, robust to one viral post;
- engagement_per_view = mean((likes + comments) / views) over posts that have views (video);
- posts_per_week = posts per week over the span of those posts.
Each is None (NULL) when undefined: no followers, no usable posts, no views, one post only.
A post counts when its likes are known; unknown comments count as 0.
"""

from __future__ import annotations

from datetime import UTC, datetime
from statistics import mean, median

from crawler.items import PostItem, ProfileItem

_OLDEST = datetime.min.replace(tzinfo=UTC)


def recent(posts: list[PostItem], limit: int) -> list[PostItem]:
    """The newest ``limit`` posts (posts without a date keep their order, after dated ones)."""
    by_date = sorted(((p.posted_at, p) for p in posts if isinstance(p.posted_at, datetime)),
                     key=lambda pair: pair[0], reverse=True)
    dated = [p for _, p in by_date]
    undated = [p for p in posts if not isinstance(p.posted_at, datetime)]
    return (dated + undated)[:limit]


def interactions(post: PostItem) -> int | None:
    if not isinstance(post.likes, int):
        return None
    return post.likes + (post.comments if isinstance(post.comments, int) else 0)


def figures(followers: int | None, posts: list[PostItem]) -> dict:
    """All engagement figures for one profile; values are None when undefined."""
    counts = [n for n in (interactions(p) for p in posts) if n is not None]
    per_view = [total / p.views for p in posts
                if isinstance(p.views, int) and p.views > 0 and (total := interactions(p)) is not None]
    rate = rate_median = None
    if isinstance(followers, int) and followers > 0 and counts:
        rate, rate_median = mean(counts) / followers, median(counts) / followers
    return {
        "engagement_rate": rate,
        "engagement_rate_median": rate_median,
        "engagement_per_view": mean(per_view) if per_view else None,
        "posts_per_week": posts_per_week(posts),
        "recent_posts_used": len(counts) or None,
    }


def posts_per_week(posts: list[PostItem]) -> float | None:
    times = sorted(p.posted_at for p in posts if isinstance(p.posted_at, datetime))
    if len(times) < 2:
        return None
    span_days = (times[-1] - times[0]).total_seconds() / 86400
    if span_days <= 0:
        return None
    return (len(times) - 1) / span_days * 7


class EngagementPipeline:
    def __init__(self, stats, limit: int) -> None:
        self.stats = stats
        self.limit = max(1, limit)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.stats, crawler.settings.getint("MICROSCOUT_ENGAGEMENT_POSTS", 12))

    def process_item(self, item):
        if not isinstance(item, ProfileItem):
            return item
        values = figures(item.followers, recent(item.recent_posts, self.limit))
        for name, value in values.items():
            setattr(item, name, round(value, 6) if isinstance(value, float) else value)
        key = "computed" if item.engagement_rate is not None else "undefined"
        self.stats.inc_value(f"microscout/engagement/{key}")
        return item
