"""validate, engagement and tier pipelines: tables of cases, stats asserted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from scrapy import Spider
from scrapy.utils.test import get_crawler

from crawler.items import HashtagSightingItem, PostItem, ProfileItem, RejectedItem
from pipelines.engagement import EngagementPipeline, figures
from pipelines.tier import SCHEMES, TierPipeline, parse_scheme, tier_for
from pipelines.validate import ValidatePipeline
from tests.factories import T0, profile, sighting


def _make(pipeline_cls, **settings):
    crawler = get_crawler(Spider, settings)
    crawler.stats.open_spider()
    return pipeline_cls.from_crawler(crawler), crawler.stats


# --- validate -----------------------------------------------------------------------------

@pytest.mark.parametrize(("item", "reason"), [
    (profile(platform=None), "missing_platform"),
    (profile(platform="myspace"), "unknown_platform"),
    (profile(handle=""), "missing_handle"),
    (profile(handle=None), "missing_handle"),
    (profile(followers=None), "missing_followers"),
    (profile(followers=""), "missing_followers"),
    (profile(followers=True), "bad_type"),
    (profile(following=[1]), "bad_type"),
    (profile(recent_posts="nope"), "bad_type"),
    (profile(recent_posts=[{"post_id": "1"}]), "bad_type"),
    (sighting("p1", tag=""), "missing_hashtag"),
    (HashtagSightingItem(platform="mastodon", hashtag="x", post_id=None), "missing_post_id"),
    (HashtagSightingItem(platform="mastodon", hashtag="x", post_id="1", position="3"), "bad_type"),
    ({"handle": "dict-item"}, "unknown_item_type"),
])
def test_invalid_items_are_quarantined_not_dropped(item, reason):
    pipeline, stats = _make(ValidatePipeline)
    result = pipeline.process_item(item)
    assert isinstance(result, RejectedItem)
    assert result.reason == reason
    assert result.payload is not None
    assert stats.get_value(f"microscout/quarantined/{reason}") == 1


@pytest.mark.parametrize("item", [
    profile(), profile(followers="12.3K"), profile(followers=0), sighting("p1"),
])
def test_valid_items_pass_unchanged(item):
    pipeline, stats = _make(ValidatePipeline)
    assert pipeline.process_item(item) is item
    assert stats.get_value("microscout/validate/ok") == 1


def test_spider_rejections_are_counted_and_passed_on():
    pipeline, stats = _make(ValidatePipeline)
    rejected = RejectedItem(reason="login_required")
    assert pipeline.process_item(rejected) is rejected
    assert stats.get_value("microscout/quarantined/login_required") == 1


def test_posts_without_id_become_problems_and_the_profile_is_kept():
    pipeline, stats = _make(ValidatePipeline)
    item = profile(posts=2)
    item.recent_posts.append(PostItem(platform="mastodon", text="no id"))
    result = pipeline.process_item(item)
    assert result is item
    assert len(item.recent_posts) == 2
    assert item.problems[0]["reason"] == "missing_post_id"
    assert stats.get_value("microscout/quarantined/missing_post_id") == 1


# --- engagement ---------------------------------------------------------------------------

def _posts(*pairs, views=None):
    return [PostItem(post_id=str(n), likes=likes, comments=comments, views=views,
                     posted_at=T0 - timedelta(days=n))
            for n, (likes, comments) in enumerate(pairs)]


@pytest.mark.parametrize(("followers", "posts", "rate", "median_rate"), [
    (1_000, _posts((10, 0), (20, 0), (60, 0)), 0.03, 0.02),
    (1_000, _posts((10, None)), 0.01, 0.01),          # unknown comments count as 0
    (1_000, _posts((None, 5), (30, 0)), 0.03, 0.03),  # unknown likes: post not used
    (0, _posts((10, 0)), None, None),                 # no followers: undefined, not 0
    (None, _posts((10, 0)), None, None),
    (1_000, [], None, None),                          # no posts: undefined
    (1_000, _posts((None, None)), None, None),
])
def test_engagement_rates(followers, posts, rate, median_rate):
    values = figures(followers, posts)
    for name, expected in (("engagement_rate", rate), ("engagement_rate_median", median_rate)):
        if expected is None:
            assert values[name] is None
        else:
            assert values[name] == pytest.approx(expected)


def test_engagement_per_view_only_where_views_exist():
    assert figures(100, _posts((10, 10), views=1_000))["engagement_per_view"] == pytest.approx(0.02)
    assert figures(100, _posts((10, 10)))["engagement_per_view"] is None
    assert figures(100, _posts((10, 10), views=0))["engagement_per_view"] is None


def test_posting_frequency():
    posts = _posts((1, 0), (1, 0), (1, 0))  # one a day
    assert figures(100, posts)["posts_per_week"] == pytest.approx(7.0)
    assert figures(100, posts[:1])["posts_per_week"] is None


def test_pipeline_uses_the_newest_n_posts():
    pipeline, stats = _make(EngagementPipeline, MICROSCOUT_ENGAGEMENT_POSTS=2)
    item = ProfileItem(platform="mastodon", handle="a", followers=100,
                       recent_posts=list(reversed(_posts((10, 0), (20, 0), (1_000, 0)))))
    pipeline.process_item(item)
    assert item.engagement_rate == pytest.approx(0.15)  # the 1,000-like post is the oldest
    assert item.recent_posts_used == 2
    assert stats.get_value("microscout/engagement/computed") == 1


def test_pipeline_marks_undefined():
    pipeline, stats = _make(EngagementPipeline)
    item = ProfileItem(platform="mastodon", handle="a", followers=0)
    pipeline.process_item(item)
    assert item.engagement_rate is None
    assert item.posts_per_week is None
    assert stats.get_value("microscout/engagement/undefined") == 1


# --- tier ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("followers", "seed", "industry"), [
    (0, "nano", "emerging"),
    (999, "nano", "emerging"),
    (1_000, "micro", "nano"),
    (9_999, "micro", "nano"),
    (10_000, "micro", "micro"),
    (99_999, "micro", "micro"),
    (100_000, "macro", "mid"),
    (499_999, "macro", "mid"),
    (500_000, "macro", "macro"),
    (999_999, "macro", "macro"),
    (1_000_000, "mega", "mega"),
    (46_300_000, "mega", "mega"),
    (None, None, None),
    (-1, None, None),
])
def test_tier_boundaries(followers, seed, industry):
    assert tier_for(followers, SCHEMES["seed"]) == seed
    assert tier_for(followers, SCHEMES["industry"]) == industry


def test_custom_scheme():
    name, scheme = parse_scheme("small=0,big=5000")
    assert name == "custom"
    assert [tier_for(n, scheme) for n in (4_999, 5_000)] == ["small", "big"]


@pytest.mark.parametrize("spec", ["galaxy", "a=0,b=x", "a=10,b=20", "=0"])
def test_bad_scheme_is_an_error(spec):
    with pytest.raises(ValueError, match="tier"):
        parse_scheme(spec)


def test_tier_pipeline_sets_tier_and_scheme():
    pipeline, stats = _make(TierPipeline, MICROSCOUT_TIER_SCHEME="industry")
    item = profile(followers=50_000, tier=None)
    pipeline.process_item(item)
    assert (item.tier, item.tier_scheme) == ("micro", "industry")
    assert stats.get_value("microscout/tier/micro") == 1


def test_non_profiles_pass_through_derived_pipelines():
    for cls in (EngagementPipeline, TierPipeline):
        pipeline, _ = _make(cls)
        item = sighting("x")
        assert pipeline.process_item(item) is item


def test_fetched_at_default_is_not_required_for_engagement():
    posts = [PostItem(post_id="1", likes=5, posted_at=datetime(2026, 1, 1, tzinfo=UTC))]
    assert figures(10, posts)["engagement_rate"] == pytest.approx(0.5)
