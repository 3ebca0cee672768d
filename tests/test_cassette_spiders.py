"""Spiders through the real engine on cassettes: recorded from the sandbox, and real recordings.

``cassettes/sandbox_mastodon_sweep.yaml`` was recorded from the sandbox (accounts=120, seed=5) on
port 8797 by the mastodon spider itself; re-record it with ``python -m tests.test_cassette_spiders``.
Replays use record mode ``none``: nothing listens on that port, so any miss is a recorded failure.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.cassette import cassette_settings
from crawler.sandbox.world import World
from tests.conftest import realworld
from tests.crawl_helpers import run_spider

pytestmark = pytest.mark.slow

CASSETTES = Path(__file__).resolve().parents[1] / "cassettes"
SANDBOX_CASSETTE = CASSETTES / "sandbox_mastodon_sweep.yaml"
PORT, ACCOUNTS, SEED = 8797, 120, 5
SWEEP = {"instance": f"http://127.0.0.1:{PORT}", "max_pages": 2, "recent_posts": 5}
NO_PIPELINES = {"ITEM_PIPELINES": {}}


def sandbox_tag() -> str:
    tags = World(ACCOUNTS, SEED).tags()
    return max(tags, key=lambda tag: (tags[tag], tag))


def test_sandbox_cassette_replays_the_sweep_offline():
    items = run_spider(
        "mastodon",
        {**cassette_settings(SANDBOX_CASSETTE), **NO_PIPELINES},
        use_project_settings=True,
        tags=sandbox_tag(),
        **SWEEP,
    )
    assert items.stats.get("microscout/cassette/missed", 0) == 0
    assert items.stats["microscout/cassette/played"] > 5
    world = World(ACCOUNTS, SEED)
    sightings = [i for i in items if "hashtag" in i and "position" in i]
    assert sightings, "the tag listing replayed"
    authors = {i["handle"].split("@")[0] for i in items if "followers" in i and "handle" in i}
    expected = {world.account(world.post_by_id(s["post_id"]).account_index).username for s in sightings}
    assert authors == {name.lower() for name in expected}


def test_sandbox_cassette_with_the_whole_pipeline_into_sqlite(tmp_path):
    from models import migrate
    from tests.test_e2e_warehouse import _scalar

    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    migrate.upgrade(url)
    run_spider(
        "mastodon",
        {**cassette_settings(SANDBOX_CASSETTE), "MICROSCOUT_DATABASE_URL": url},
        use_project_settings=True,
        tags=sandbox_tag(),
        **SWEEP,
    )
    assert _scalar(url, "SELECT count(*) FROM profiles")[0][0] > 0
    assert _scalar(url, "SELECT count(*) FROM influencer_current WHERE tier IS NOT NULL")[0][0] > 0


def test_real_hashtag_timeline_cassette():
    """Mastodon.py's recording of /timelines/tag/hoot on a real Mastodon server."""
    path = realworld("mastodon", "mastodonpy_cassette_test_hashtag_tl.yaml")
    match_on = ["method", "scheme", "host", "port", "path"]  # it was recorded without ?limit=
    items = run_spider(
        "mastodon",
        {**cassette_settings(path, match_on=match_on), **NO_PIPELINES},
        use_project_settings=True,
        instance="http://localhost:3000",
        tags="hoot",
        max_pages=1,
    )
    sightings = [i for i in items if i.get("hashtag") == "hoot"]
    assert [(s["post_id"], s["position"]) for s in sightings] == [("117020593741189701", 0)]
    profiles = [i for i in items if "followers" in i and "handle" in i]
    assert [p["handle"] for p in profiles] == ["mastodonpy_test_2@localhost"]
    # The author's statuses were never recorded: a recorded failure, not a hang and not lost.
    failed = [i for i in items if i.get("reason") == "request_failed"]
    assert len(failed) == 1
    assert "CassetteMiss" in failed[0]["detail"]
    assert items.duration < 60


def test_real_lookup_cassette_found_and_not_found():
    path = realworld("mastodon", "mastodonpy_cassette_test_account_lookup.yaml")
    items = run_spider(
        "mastodon",
        {**cassette_settings(path), **NO_PIPELINES},
        use_project_settings=True,
        instance="http://localhost:3000",
        handles="mastodonpy_test,kljadklajsdkljlkjlkjlkjasdasd",
    )
    reasons = sorted(i["reason"] for i in items if "reason" in i)
    assert reasons == ["not_found", "request_failed"]
    profiles = [i for i in items if "followers" in i and "handle" in i]
    assert [(p["handle"], p["platform_user_id"]) for p in profiles] == [
        ("mastodonpy_test@localhost", "117020565966271181")
    ]


def record() -> None:
    """Re-record the sandbox cassette (run: python -m tests.test_cassette_spiders)."""
    from crawler.sandbox.server import SandboxProcess

    SANDBOX_CASSETTE.unlink(missing_ok=True)
    with SandboxProcess(accounts=ACCOUNTS, seed=SEED, port=PORT, rate_limit=1_000_000):
        items = run_spider(
            "mastodon",
            {**cassette_settings(SANDBOX_CASSETTE, record_mode="once"), **NO_PIPELINES},
            use_project_settings=True,
            tags=sandbox_tag(),
            **SWEEP,
        )
    print(f"recorded {items.stats.get('microscout/cassette/recorded')} interactions to {SANDBOX_CASSETTE}")


if __name__ == "__main__":
    record()
