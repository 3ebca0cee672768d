"""NormalizePipeline through a real crawler (stats included), one behaviour per test."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from scrapy.utils.test import get_crawler

from crawler.items import HashtagSightingItem, PostItem, ProfileItem, RejectedItem
from pipelines.normalize import NormalizePipeline

UTC = timezone.utc
FETCHED = datetime(2024, 3, 31, 12, 0, tzinfo=UTC)
STAT = "microscout/normalize/"


@pytest.fixture
def crawler():
    return get_crawler()


@pytest.fixture
def pipeline(crawler):
    return NormalizePipeline.from_crawler(crawler)


def stat(crawler, key):
    return crawler.stats.get_value(key)


def make_profile(**kw) -> ProfileItem:
    values = {
        "platform": "Instagram", "handle": "@Foo.Bar", "display_name": " Foo ", "bio": "Chef 🍝",
        "followers": "12.3K", "following": "1,234", "posts_count": "337 posts",
        "profile_url": "https://www.instagram.com/Foo.Bar/", "external_url": "linktr.ee/foo",
        "source_url": " https://www.instagram.com/foo.bar/ ", "fetched_at": "2024-03-31T12:00:00Z",
        "recent_posts": [PostItem(post_id=123, url="/p/abc/", posted_at=1711886400, text="Pasta #Food",
                                  hashtags=["#Italian"], likes="1.2K", comments="45")],
    }
    values.update(kw)
    return ProfileItem(**values)


def test_profile_normalised(pipeline, crawler):
    item = pipeline.process_item(make_profile())
    assert isinstance(item, ProfileItem)
    assert (item.platform, item.handle) == ("instagram", "foo.bar")
    assert (item.followers, item.following, item.posts_count) == (12_300, 1234, 337)
    assert item.display_name == "Foo"
    assert item.source_url == "https://www.instagram.com/foo.bar/"
    assert item.external_url == "https://linktr.ee/foo"
    assert item.fetched_at == FETCHED
    assert item.problems == []
    assert not [key for key in crawler.stats.get_stats() if key.startswith(STAT)]


def test_post_normalised(pipeline):
    post = pipeline.process_item(make_profile()).recent_posts[0]
    assert (post.platform, post.author_handle, post.post_id) == ("instagram", "foo.bar", "123")
    assert post.url == "https://www.instagram.com/p/abc/"
    assert post.posted_at == datetime(2024, 3, 31, 12, 0, tzinfo=UTC)
    assert post.posted_at_precision == "exact"
    assert (post.likes, post.comments, post.shares, post.views) == (1200, 45, None, None)
    assert post.hashtags == ["italian", "food"]


def test_counts_read_with_the_profile_locale(pipeline):
    item = pipeline.process_item(make_profile(locale="es", followers="127.696", following="4,69 M",
                                              recent_posts=[PostItem(likes="1.234")]))
    assert (item.followers, item.following, item.recent_posts[0].likes) == (127_696, 4_690_000, 1234)


def test_int_counts_pass_through(pipeline):
    assert pipeline.process_item(make_profile(followers=4001943)).followers == 4001943


def test_missing_fetched_at_defaults_to_now(pipeline):
    before = datetime.now(UTC)
    item = pipeline.process_item(make_profile(fetched_at=None))
    assert before <= item.fetched_at <= datetime.now(UTC)


@pytest.mark.parametrize(
    ("bio", "expected"),
    [
        ("Robert'); DROP TABLE profiles;--", "Robert'); DROP TABLE profiles;--"),
        ("<script>alert(1)</script>", "<script>alert(1)</script>"),
        ("  مرحبا 🌱 שלום  ", "مرحبا 🌱 שלום"),
        ("Cafe\u0301", "Café"),
    ],
)
def test_bio_kept_verbatim_apart_from_nfc_and_strip(pipeline, bio, expected):
    assert pipeline.process_item(make_profile(bio=bio)).bio == expected


def test_unreadable_followers_becomes_rejected_item(pipeline, crawler):
    item = pipeline.process_item(make_profile(followers="lots"))
    assert isinstance(item, RejectedItem)
    assert item.reason == "unreadable_count"
    assert item.detail == "followers: 'lots'"
    assert (item.platform, item.item_type) == ("instagram", "ProfileItem")
    assert item.source_url == " https://www.instagram.com/foo.bar/ "  # as it came
    assert item.payload["followers"] == "lots"
    assert item.payload["recent_posts"][0]["likes"] == "1.2K"
    json.dumps(item.payload)
    assert stat(crawler, STAT + "unreadable_followers") == 1
    assert stat(crawler, "microscout/quarantined/unreadable_count") == 1


def test_unreadable_post_likes_recorded_as_problem(pipeline, crawler):
    posts = [PostItem(post_id="p1", likes="many", comments="3")]
    item = pipeline.process_item(make_profile(recent_posts=posts))
    assert isinstance(item, ProfileItem)
    assert item.recent_posts[0].likes is None
    assert item.recent_posts[0].comments == 3
    assert item.problems == [
        {"reason": "unreadable_count", "field": "likes", "raw": "many", "post_id": "p1"}
    ]
    assert stat(crawler, STAT + "unreadable_likes") == 1


def test_unreadable_following_recorded_as_problem(pipeline, crawler):
    item = pipeline.process_item(make_profile(following="1,5"))
    assert item.following is None
    assert item.problems == [
        {"reason": "unreadable_count", "field": "following", "raw": "1,5", "post_id": None}
    ]
    assert stat(crawler, STAT + "unreadable_following") == 1


def test_unreadable_posted_at_recorded_as_problem(pipeline, crawler):
    item = pipeline.process_item(make_profile(recent_posts=[PostItem(post_id="p1", posted_at="soon")]))
    assert item.recent_posts[0].posted_at is None
    assert item.problems == [
        {"reason": "unreadable_timestamp", "field": "posted_at", "raw": "soon", "post_id": "p1"}
    ]
    assert stat(crawler, STAT + "unreadable_posted_at") == 1


def test_relative_posted_at_resolved_against_fetched_at(pipeline):
    item = pipeline.process_item(make_profile(recent_posts=[PostItem(posted_at="3 weeks ago")]))
    post = item.recent_posts[0]
    assert (post.posted_at, post.posted_at_precision) == (FETCHED - timedelta(weeks=3), "week")


def test_unreadable_fetched_at_recorded_and_defaults_to_now(pipeline):
    item = pipeline.process_item(make_profile(fetched_at="whenever"))
    assert item.fetched_at.tzinfo is not None
    assert item.problems[0]["field"] == "fetched_at"


def test_post_mentions_merged_from_given_and_text(pipeline):
    posts = [PostItem(text="with @Alice and @bob.bsky.social", mentions=["@Carol", "alice"])]
    post = pipeline.process_item(make_profile(recent_posts=posts)).recent_posts[0]
    assert post.mentions == ["carol", "alice", "bob.bsky.social"]


def test_post_dict_is_read_as_post_item(pipeline):
    item = pipeline.process_item(make_profile(recent_posts=[{"post_id": "d1", "likes": "2K"}]))
    assert isinstance(item.recent_posts[0], PostItem)
    assert item.recent_posts[0].likes == 2000


def test_federated_handle_takes_instance_from_profile_url(pipeline):
    item = pipeline.process_item(make_profile(
        platform="mastodon", handle="Bob", profile_url="https://Mastodon.Social/@Bob",
        source_url="https://mastodon.social/api/v1/accounts/lookup?acct=Bob", recent_posts=[]))
    assert item.handle == "bob@mastodon.social"


def test_federated_handle_keeps_its_own_instance(pipeline):
    item = pipeline.process_item(make_profile(
        platform="mastodon", handle="alice@Fosstodon.org",
        source_url="https://mastodon.social/api/v1/accounts/1", profile_url=None, recent_posts=[]))
    assert item.handle == "alice@fosstodon.org"


def test_federated_post_author_defaults_to_profile(pipeline):
    item = pipeline.process_item(make_profile(
        platform="mastodon", handle="bob", profile_url="https://mastodon.social/@bob",
        recent_posts=[PostItem(post_id="1", text="<p>hi</p>")]))
    assert item.recent_posts[0].author_handle == "bob@mastodon.social"


def test_hashtag_sighting_normalised(pipeline):
    item = pipeline.process_item(HashtagSightingItem(
        platform="TikTok", hashtag="#Café", author_handle="@Foo", post_id=7,
        seen_at="2024-03-31T14:00:00+02:00"))
    assert (item.platform, item.hashtag, item.author_handle, item.post_id) == (
        "tiktok", "café", "foo", "7")
    assert item.seen_at == FETCHED


def test_hashtag_sighting_seen_at_defaults_to_now(pipeline):
    item = pipeline.process_item(HashtagSightingItem(platform="tiktok", hashtag="vegan"))
    assert item.seen_at.tzinfo is not None


def test_hashtag_sighting_with_empty_tag_is_rejected(pipeline, crawler):
    item = pipeline.process_item(HashtagSightingItem(platform="tiktok", hashtag="#"))
    assert isinstance(item, RejectedItem)
    assert item.reason == "unreadable_hashtag"
    assert stat(crawler, STAT + "unreadable_hashtag") == 1


def test_standalone_post_normalised(pipeline, crawler):
    post = pipeline.process_item(PostItem(platform="YouTube", likes="2.5K", views="oops",
                                          text="#Music"))
    assert (post.platform, post.likes, post.views, post.hashtags) == ("youtube", 2500, None, ["music"])
    assert stat(crawler, STAT + "unreadable_views") == 1


def test_rejected_item_passes_untouched(pipeline):
    rejected = RejectedItem(reason="login_wall", payload={"followers": "lots"})
    assert pipeline.process_item(rejected) is rejected
    assert rejected.payload == {"followers": "lots"}


# --- plausible bounds (crawler.values.BOUNDS, TEXT_LIMITS) ------------------------------------


def test_implausible_followers_becomes_rejected_item(pipeline, crawler):
    item = pipeline.process_item(make_profile(followers=10**18))
    assert isinstance(item, RejectedItem)
    assert (item.reason, item.detail) == ("implausible_value", "followers: 1000000000000000000")
    assert item.source_url == " https://www.instagram.com/foo.bar/ "  # as it came
    assert stat(crawler, STAT + "implausible_followers") == 1
    assert stat(crawler, "microscout/quarantined/implausible_value") == 1
    assert stat(crawler, STAT + "unreadable_followers") is None


def test_implausible_following_recorded_as_problem(pipeline, crawler):
    item = pipeline.process_item(make_profile(following="12 billion"))
    assert item.following is None
    assert item.problems == [
        {"reason": "implausible_value", "field": "following", "raw": "12 billion", "post_id": None}
    ]
    assert stat(crawler, STAT + "implausible_following") == 1


def test_implausible_post_likes_recorded_as_problem(pipeline):
    posts = [PostItem(post_id="p1", likes=2**63, comments="3")]
    item = pipeline.process_item(make_profile(recent_posts=posts))
    assert (item.recent_posts[0].likes, item.recent_posts[0].comments) == (None, 3)
    assert item.problems == [
        {"reason": "implausible_value", "field": "likes", "raw": 2**63, "post_id": "p1"}
    ]


def test_problem_raw_of_309_digits_is_shortened(pipeline):
    item = pipeline.process_item(make_profile(posts_count=10**308))
    assert item.problems[0]["raw"] == "10000000000000000000... (309 digits)"


def test_handle_that_normalises_to_nothing_is_rejected(pipeline, crawler):
    item = pipeline.process_item(make_profile(handle="@"))
    assert isinstance(item, RejectedItem)
    assert (item.reason, item.detail) == ("missing_handle", "handle: '@'")
    assert stat(crawler, "microscout/quarantined/missing_handle") == 1


def test_standalone_post_with_an_over_long_id_is_rejected(pipeline):
    item = pipeline.process_item(PostItem(platform="youtube", post_id="v" * 256))
    assert isinstance(item, RejectedItem)
    assert (item.reason, item.item_type) == ("implausible_value", "PostItem")


def test_text_fields_are_made_storable(pipeline):
    item = pipeline.process_item(make_profile(display_name="N\x00ame", category="c\ud800"))
    assert (item.display_name, item.category) == ("N\ufffdame", "c\ufffd")
