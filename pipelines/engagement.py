"""Engagement pipeline: engagement rates and posting frequency from a profile's recent posts.

- engagement_rate = mean(likes + comments) / followers over the last N posts (the common
  industry formula; N = MICROSCOUT_ENGAGEMENT_POSTS, default 12);
- engagement_rate_median = the same with the median, robust to one viral post;
- engagement_per_view = mean((likes + comments) / views) over posts that have views (video);
- posts_per_week = posts per week over the span of those posts, the span taken as at least
  one day (MIN_SPAN), or the unit of the coarsest relative time ("3 weeks ago": a week): ten
  posts a tenth of a second apart are ten posts in a day, 63 a week, not 5.4 million.
Each is None (NULL) when undefined: no followers, no usable posts, no views, one post only.
A post counts when its likes are known; unknown comments count as 0. A figure outside
``crawler.values.BOUNDS`` (only reachable through a huge MICROSCOUT_ENGAGEMENT_POSTS) is
stored as NULL and recorded in ``item.problems`` with reason ``implausible_value``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from statistics import mean, median

from crawler.items import PostItem, ProfileItem
from crawler.values import ImplausibleValue, check_bound
from pipelines import quarantine

_OLDEST = datetime.min.replace(tzinfo=UTC)
#: The shortest span posting frequency is measured over; longer for posts whose time is only
#: known to the week, month or year (relative times such as "2 months ago").
MIN_SPAN = timedelta(days=1)
PRECISION_SPANS = {"week": timedelta(weeks=1), "month": timedelta(days=30),
                   "year": timedelta(days=365)}


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


def _mean_of_ints(values: list[int]) -> int | float:
    """``statistics.mean`` of ints without its exact-fraction machinery: the exact mean, an int
    when it divides (as statistics gives it), else ``total / n`` (int division is correctly
    rounded, as statistics' conversion of the exact fraction is)."""
    total, n = sum(values), len(values)
    whole, rest = divmod(total, n)
    return whole if rest == 0 else total / n


def figures(followers: int | None, posts: list[PostItem]) -> dict:
    """All engagement figures for one profile; values are None when undefined."""
    counts = [n for n in (interactions(p) for p in posts) if n is not None]
    per_view = [total / p.views for p in posts
                if isinstance(p.views, int) and p.views > 0 and (total := interactions(p)) is not None]
    rate = rate_median = None
    if isinstance(followers, int) and followers > 0 and counts:
        average = (_mean_of_ints(counts) if all(type(n) is int for n in counts)
                   else mean(counts))
        rate, rate_median = average / followers, median(counts) / followers
    return {
        "engagement_rate": rate,
        "engagement_rate_median": rate_median,
        "engagement_per_view": mean(per_view) if per_view else None,
        "posts_per_week": posts_per_week(posts),
        "recent_posts_used": len(counts) or None,
    }


def posts_per_week(posts: list[PostItem]) -> float | None:
    dated = [(p.posted_at, p.posted_at_precision) for p in posts
             if isinstance(p.posted_at, datetime)]
    if len(dated) < 2:
        return None
    times = sorted(moment for moment, _ in dated)
    shortest = max(PRECISION_SPANS.get(precision or "", MIN_SPAN) for _, precision in dated)
    span = max(times[-1] - times[0], MIN_SPAN, shortest)
    return (len(times) - 1) / (span / timedelta(weeks=1))


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
            if isinstance(value, float):
                value = self._bounded(item, name, round(value, 6))
            setattr(item, name, value)
        key = "computed" if item.engagement_rate is not None else "undefined"
        self.stats.inc_value(f"microscout/engagement/{key}")
        return item

    def _bounded(self, item: ProfileItem, name: str, value: float) -> float | None:
        try:
            return check_bound(name, value)
        except ImplausibleValue:
            item.problems.append({"reason": "implausible_value", "field": name, "raw": value,
                                  "post_id": None})
            quarantine.count(self.stats, "implausible_value")
            self.stats.inc_value(f"microscout/engagement/implausible_{name}")
            return None
