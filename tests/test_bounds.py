"""Plausible bounds (crawler/values.py BOUNDS and TEXT_LIMITS) through the item pipelines.

A count that reads but cannot be true is quarantined with reason ``implausible_value``: an
impossible follower count rejects the profile, any other impossible value is stored as NULL
with a quarantine row of its own; text longer than its column is held to it the same way; and
what reaches the warehouse fits its column on SQLite and PostgreSQL.
"""

from __future__ import annotations

import copy
import json
import uuid
from datetime import timedelta
from functools import cache
from pathlib import Path

import pytest
import yaml
from scrapy.utils.test import get_crawler
from sqlalchemy import String, text

from crawler.items import HashtagSightingItem, PostItem, ProfileItem, RejectedItem
from crawler.parsers import mastodon
from crawler.values import BOUNDS, TEXT_LIMITS
from models import loader, make_engine
from models.tables import Base
from pipelines.engagement import EngagementPipeline
from pipelines.normalize import NormalizePipeline
from pipelines.tier import TierPipeline
from pipelines.validate import ValidatePipeline
from pipelines.warehouse import item_record
from tests.conftest import realworld
from tests.factories import T0, post, profile, sighting

REPO = Path(__file__).resolve().parents[1]
PAGING = "mastodonpy_cassette_test_fetch_next_previous.yaml"


class Chain:
    """validate -> normalise -> engagement -> tier on one crawler's stats (no database)."""

    def __init__(self, **settings) -> None:
        crawler = get_crawler(settings_dict=settings)
        crawler.stats.open_spider()
        self.stats = crawler.stats
        self.pipelines = [cls.from_crawler(crawler) for cls in (
            ValidatePipeline, NormalizePipeline, EngagementPipeline, TierPipeline)]

    def __call__(self, item):
        for pipeline in self.pipelines:
            item = pipeline.process_item(item)
        return item

    def stat(self, key: str):
        return self.stats.get_value(key)


# --- the bounds themselves ----------------------------------------------------------------------


def test_every_bound_fits_a_bigint():
    assert all(0 <= low <= high < 2**63 for low, high in BOUNDS.values())
    assert BOUNDS["position"][1] == 2**31 - 1  # hashtag_sightings.position is an INTEGER


def test_text_limits_are_the_column_lengths():
    lengths = {}
    for table in Base.metadata.tables.values():
        for column in table.columns:
            if isinstance(column.type, String) and column.type.length:
                lengths.setdefault(column.name, set()).add(column.type.length)
    lengths["hashtag"] = lengths.pop("tag")  # a sighting's hashtag is stored in hashtags.tag
    for name, limit in TEXT_LIMITS.items():
        assert lengths[name] == {limit}, name


# --- counts -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("followers", "shown"), [
    (10**18, "1000000000000000000"),
    (2**63, "9223372036854775808"),
    (10**308, "'10000000000000000000... (309 digits)'"),
    (1e308, "1e+308"),
    ("99999999999999999999999", "'99999999999999999999999'"),
    (10**10 + 1, "10000000001"),
])
def test_impossible_follower_count_rejects_the_profile(followers, shown):
    chain = Chain()
    result = chain(profile(followers=followers))
    assert isinstance(result, RejectedItem)
    assert (result.reason, result.detail) == ("implausible_value", f"followers: {shown}")
    assert result.item_type == "ProfileItem"
    json.dumps(result.payload, allow_nan=False)
    assert chain.stat("microscout/quarantined/implausible_value") == 1
    assert chain.stat("microscout/normalize/implausible_followers") == 1


def test_thousands_of_digits_are_implausible_not_a_crash():
    result = Chain()(profile(followers="9" * 5_000))
    assert (result.reason, result.detail) == (
        "implausible_value", f"followers: '{'9' * 300}... (5000 characters)'")


def test_follower_count_at_the_bound_is_kept():
    item = Chain()(profile(followers=10**10))
    assert (item.followers, item.tier) == (10**10, "mega")


@pytest.mark.parametrize(("field", "value"), [
    ("following", 2**63),
    ("following", "99999999999999999999999"),
    ("posts_count", 10**9 + 1),
])
def test_impossible_profile_count_is_stored_as_null_with_a_problem(field, value):
    chain = Chain()
    item = chain(profile(**{field: value}))
    assert isinstance(item, ProfileItem)
    assert getattr(item, field) is None
    assert item.problems == [
        {"reason": "implausible_value", "field": field, "raw": value, "post_id": None}]
    assert chain.stat(f"microscout/normalize/implausible_{field}") == 1


@pytest.mark.parametrize(("field", "value"), [
    ("likes", 10**18), ("comments", 2**63), ("shares", 1e308), ("views", 10**12 + 1)])
def test_impossible_post_count_keeps_the_post_with_null(field, value):
    item = Chain()(profile(recent_posts=[post(0, **{field: value})]))
    (kept,) = item.recent_posts
    assert getattr(kept, field) is None
    assert item.problems == [{"reason": "implausible_value", "field": field, "raw": value,
                              "post_id": "alice@example.social-0"}]


def test_engagement_uses_only_plausible_likes():
    posts = [post(0, likes=10**18, comments=0), post(1, likes=100, comments=20)]
    item = Chain()(profile(followers=1_000, recent_posts=posts))
    assert item.engagement_rate == pytest.approx(0.12)
    assert item.recent_posts_used == 1


def test_views_up_to_a_trillion_are_kept():
    item = Chain()(profile(recent_posts=[post(0, views=10**12)]))
    assert item.recent_posts[0].views == 10**12


def test_sighting_position_beyond_the_integer_column_is_quarantined():
    chain = Chain()
    result = chain(sighting("p1", position=2**31))
    assert isinstance(result, RejectedItem)
    assert (result.reason, result.detail) == ("implausible_value", f"position: {2**31}")
    assert isinstance(chain(sighting("p1", position=2**31 - 1)), HashtagSightingItem)


# --- text ---------------------------------------------------------------------------------------


def test_over_long_handle_rejects_the_profile():
    result = Chain()(profile(handle="a" * 256, platform="instagram"))
    assert isinstance(result, RejectedItem)
    assert result.reason == "implausible_value"
    assert result.detail.startswith("handle: 'aaaa")


def test_over_long_post_id_drops_the_post_with_a_problem():
    item = Chain()(profile(recent_posts=[post(0), post(1, post_id="9" * 256)]))
    assert [p.post_id for p in item.recent_posts] == ["alice@example.social-0"]
    assert [(p["reason"], p["field"]) for p in item.problems] == [("implausible_value", "post_id")]


def test_over_long_hashtag_is_left_out_with_a_problem():
    item = Chain()(profile(recent_posts=[post(0, text="#" + "x" * 300, hashtags=["ok"])]))
    assert item.recent_posts[0].hashtags == ["ok"]
    assert [(p["reason"], p["field"]) for p in item.problems] == [("implausible_value", "hashtags")]


def test_over_long_media_type_and_category_are_null_with_problems():
    item = Chain()(profile(category="c" * 256, recent_posts=[post(0, media_type="m" * 33)]))
    assert (item.category, item.recent_posts[0].media_type) == (None, None)
    assert sorted(p["field"] for p in item.problems) == ["category", "media_type"]


def test_over_long_sighting_hashtag_is_quarantined():
    result = Chain()(sighting("p1", tag="t" * 256))
    assert isinstance(result, RejectedItem)
    assert result.reason == "implausible_value"


def test_nul_and_lone_surrogates_become_replacement_characters():
    item = Chain()(profile(bio="a\x00b\ud800c", recent_posts=[post(0, text="x\x00y")]))
    assert item.bio == "a\ufffdb\ufffdc"
    assert item.recent_posts[0].text == "x\ufffdy"


def test_spider_rejection_detail_is_made_storable():
    result = Chain()(RejectedItem(reason="unexpected_body", detail="bad\x00body"))
    assert result.detail == "bad\ufffdbody"


# --- posts_per_week -----------------------------------------------------------------------------


def _paging_cassette() -> dict:
    return yaml.safe_load(realworld("mastodon", PAGING).read_text(encoding="utf-8"))


@pytest.mark.parametrize("index", [11, 12, 13])
def test_toots_a_tenth_of_a_second_apart_are_counted_over_a_day(index):
    """The real capture holds 5 toots posted within half a second (13:52:33.658-34.108):
    4 intervals in at least a day is 28 a week, where the raw span gave 5,376,000."""
    interaction = _paging_cassette()["interactions"][index]
    (raw,) = mastodon.parse_document(interaction["response"]["body"]["string"],
                                     url=interaction["request"]["uri"])
    item = Chain()(raw)
    assert item.posts_per_week == 28.0


def test_posts_per_week_over_the_real_span_when_longer_than_a_day():
    posts = [post(n, posted_at=T0 - timedelta(days=2 * n)) for n in range(5)]  # every 2 days
    assert Chain()(profile(recent_posts=posts)).posts_per_week == 3.5


def test_posts_known_to_the_month_are_counted_over_a_month():
    posts = [post(n, posted_at=T0 - timedelta(days=30), posted_at_precision="month")
             for n in range(4)]
    assert Chain()(profile(recent_posts=posts)).posts_per_week == pytest.approx(0.7)


def test_posts_per_week_beyond_one_a_minute_is_null_with_a_problem():
    posts = [post(n, posted_at=T0 - timedelta(seconds=n)) for n in range(1_500)]
    chain = Chain(MICROSCOUT_ENGAGEMENT_POSTS=1_500)
    item = chain(profile(recent_posts=posts))
    assert item.posts_per_week is None  # 1,499 in a day is 10,493 a week
    assert item.problems == [{"reason": "implausible_value", "field": "posts_per_week",
                              "raw": 10493.0, "post_id": None}]
    assert chain.stat("microscout/quarantined/implausible_value") == 1


# --- the reproduction, stored on both databases -----------------------------------------


@cache
def _sandbox_statuses() -> tuple[str, str]:
    """(URL, body) of one account's statuses page in the recorded sandbox sweep."""
    cassette = yaml.safe_load((REPO / "cassettes" / "sandbox_mastodon_sweep.yaml").read_text())
    for interaction in cassette["interactions"]:
        if "/statuses" in interaction["request"]["uri"]:
            return interaction["request"]["uri"], interaction["response"]["body"]["string"]
    raise AssertionError("no statuses page in the sandbox cassette")


def _mangled(**account) -> list:
    url, body = _sandbox_statuses()
    statuses = json.loads(body)
    mangled = copy.deepcopy(statuses)
    for status in mangled:
        status["account"].update(account)
    mangled[0]["favourites_count"] = 10**308
    return mastodon.parse_document(json.dumps(mangled), url=url)


def test_parse_command_quarantines_a_309_digit_follower_count(tmp_path, capsys):
    from crawler.cli import main

    _, body = _sandbox_statuses()
    statuses = json.loads(body)
    account = dict(statuses[0]["account"], followers_count=1e308)
    saved = tmp_path / "account.json"
    saved.write_text(json.dumps(account), encoding="utf-8")
    assert main(["parse", "mastodon", str(saved)]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    record = json.loads(line)
    assert (record["_type"], record["reason"]) == ("RejectedItem", "implausible_value")
    assert record["detail"] == "followers: 1e+308"


def test_impossible_values_load_as_quarantine_rows_on_both_databases(warehouse_url):
    chain = Chain()
    rejected = [chain(item) for item in _mangled(followers_count=99999999999999999999999)]
    kept = [chain(item) for item in _mangled(following_count=2**63, statuses_count=2**70)]
    (profile_row,) = kept
    assert (profile_row.following, profile_row.posts_count) == (None, None)
    engine = make_engine(warehouse_url)
    try:
        with engine.begin() as conn:
            run_id = loader.start_run(conn, {"run_key": str(uuid.uuid4()), "spider": "test"})
            loader.load_batch(conn, run_id, [item_record(i) for i in rejected + kept],
                              spider="test")
        with engine.connect() as conn:
            snapshots = conn.execute(text(
                "SELECT followers, following, posts_count FROM profile_snapshots")).all()
            reasons = conn.execute(text(
                "SELECT reason, detail FROM rejected_items ORDER BY detail")).all()
            likes = conn.execute(text("SELECT max(likes) FROM posts")).scalar_one()
    finally:
        engine.dispose()
    assert snapshots == [(profile_row.followers, None, None)]
    assert likes < 2**63
    assert [r.reason for r in reasons] == ["implausible_value"] * 4
    assert [r.detail.split(":")[0] for r in reasons] == [
        "followers", "following", "likes", "posts_count"]


def test_custom_tier_name_longer_than_its_column_is_an_error():
    from pipelines.tier import parse_scheme

    assert parse_scheme("n" * 16 + "=0")[1] == [("n" * 16, 0)]
    with pytest.raises(ValueError, match="longer than 16 characters"):
        parse_scheme("n" * 17 + "=0")


def test_post_without_id_whose_text_is_not_text_is_a_problem():
    broken = PostItem(platform="instagram", post_id=None, text={"caption": "x\x00"})
    item = Chain()(profile(recent_posts=[post(0), broken]))
    assert [p["reason"] for p in item.problems] == ["missing_post_id"]
    assert item.problems[0]["raw"] == {"caption": "x\ufffd"}
