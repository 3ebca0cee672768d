"""The batched loader on SQLite and the real PostgreSQL: idempotent, history-keeping, concurrent."""

from __future__ import annotations

import threading
import uuid

from sqlalchemy import func, select, text

from crawler.items import RejectedItem
from models import loader, make_engine
from models.tables import Base
from pipelines.warehouse import item_record
from tests.factories import T0, profile, sighting


def _load(url: str, items, run_key: str | None = None) -> int:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            run_id = loader.start_run(conn, {"run_key": run_key or str(uuid.uuid4()), "spider": "test"})
            loader.load_batch(conn, run_id, [item_record(i) for i in items], spider="test")
        return run_id
    finally:
        engine.dispose()


def _counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {
                t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in Base.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def _query(url: str, sql: str, **params):
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).all()
    finally:
        engine.dispose()


def test_batch_loads_every_table(warehouse_url):
    items = [
        profile("alice@example.social"),
        profile("bob@example.social", followers=500),
        sighting("alice@example.social-0"),
        RejectedItem(reason="bad_json", payload={"a": 1}),
    ]
    _load(warehouse_url, items)
    counts = _counts(warehouse_url)
    assert counts["profiles"] == 2
    assert counts["profile_snapshots"] == 2
    assert counts["posts"] == 6
    assert counts["hashtags"] == 4  # fitness, tag0, tag1, tag2
    assert counts["post_hashtags"] == 12
    assert counts["hashtag_sightings"] == 1
    assert counts["profile_niches"] == 4
    assert counts["rejected_items"] == 1


def test_reloading_the_same_run_changes_no_row_count(warehouse_url):
    items = [profile("alice@example.social"), sighting("alice@example.social-0")]
    key = str(uuid.uuid4())
    _load(warehouse_url, items, run_key=key)
    before = _counts(warehouse_url)
    _load(warehouse_url, items, run_key=key)
    assert _counts(warehouse_url) == before


def test_duplicates_inside_one_batch_are_merged(warehouse_url):
    _load(warehouse_url, [profile(followers=1), profile(followers=2), sighting("p"), sighting("p")])
    counts = _counts(warehouse_url)
    assert (counts["profiles"], counts["profile_snapshots"], counts["hashtag_sightings"]) == (1, 1, 1)
    assert _query(warehouse_url, "SELECT followers FROM profile_snapshots") == [(2,)]


def test_a_later_crawl_adds_a_snapshot_and_updates_the_account(warehouse_url):
    _load(warehouse_url, [profile(followers=12_000, bio="old bio")])
    later = T0.replace(day=20)
    _load(warehouse_url, [profile(followers=15_000, bio="new bio", fetched_at=later)])
    counts = _counts(warehouse_url)
    assert counts["profiles"] == 1
    assert counts["profile_snapshots"] == 2
    assert _query(warehouse_url, "SELECT bio FROM profiles") == [("new bio",)]
    rows = _query(warehouse_url, "SELECT followers, snapshot_at FROM influencer_current")
    assert [r[0] for r in rows] == [15_000]


def test_first_seen_keeps_the_earliest_and_last_seen_the_latest(warehouse_url):
    later = T0.replace(day=20)
    _load(warehouse_url, [profile(fetched_at=later)])
    _load(warehouse_url, [profile(fetched_at=T0)])  # e.g. an old spool file loaded late
    ((first, last),) = _query(warehouse_url, "SELECT first_seen_at, last_seen_at FROM profiles")
    assert str(first).startswith("2026-11-01")
    assert str(last).startswith("2026-11-20")


def test_renamed_handle_updates_the_same_account(warehouse_url):
    _load(warehouse_url, [profile("old.bsky.social", platform="bluesky", platform_user_id="did:plc:x")])
    _load(warehouse_url, [profile("new.bsky.social", platform="bluesky", platform_user_id="did:plc:x")])
    assert _query(warehouse_url, "SELECT handle FROM profiles") == [("new.bsky.social",)]
    assert _counts(warehouse_url)["profile_snapshots"] == 2


def test_niches_are_replaced_by_the_latest_crawl(warehouse_url):
    _load(warehouse_url, [profile(niches={"fitness": 0.9, "health": 0.3}, primary_niche="fitness")])
    _load(warehouse_url, [profile(niches={"food": 0.8}, primary_niche="food")])
    assert _query(warehouse_url, "SELECT niche FROM profile_niches") == [("food",)]
    assert _query(warehouse_url, "SELECT primary_niche FROM influencer_current") == [("food",)]


def test_micro_view_lists_only_micro_accounts(warehouse_url):
    _load(warehouse_url, [profile("a@x.social", tier="micro"), profile("b@x.social", tier="nano")])
    assert _query(warehouse_url, "SELECT handle FROM micro_influencers") == [("a@x.social",)]


def test_partial_problems_become_quarantine_rows(warehouse_url):
    item = profile(
        problems=[{"reason": "unreadable_count", "field": "likes", "raw": "lots", "post_id": "p1"}]
    )
    _load(warehouse_url, [item])
    rows = _query(warehouse_url, "SELECT reason, item_type, detail FROM rejected_items")
    assert rows == [("unreadable_count", "PostItem", "likes: 'lots'")]


def test_text_is_stored_verbatim(warehouse_url):
    bio = "Robert'); DROP TABLE profiles;-- <script>alert(1)</script> مرحبا 👋"
    _load(warehouse_url, [profile(bio=bio)])
    assert _query(warehouse_url, "SELECT bio FROM profiles") == [(bio,)]


def test_two_loaders_writing_the_same_accounts_at_once(pg_url):
    """Two concurrent PostgreSQL loaders (each its own run) both finish with correct rows."""
    items = [profile(f"user{n}@example.social", followers=1_000 + n, posts=5) for n in range(200)]
    errors: list[BaseException] = []

    def work(reverse: bool) -> None:
        try:
            for _ in range(3):
                _load(pg_url, list(reversed(items)) if reverse else items)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(flag,)) for flag in (False, True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    counts = _counts(pg_url)
    assert counts["profiles"] == 200
    assert counts["posts"] == 1_000
    assert counts["profile_snapshots"] == 200 * 6  # one per account per run
    assert counts["crawl_runs"] == 6
