"""The synthetic warehouse of the report benchmark (benchmarks/synthetic.py): every table and view
has rows that agree with each other, on SQLite and PostgreSQL, and a seed gives one warehouse."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text

from benchmarks.synthetic import PLATFORMS, synthetic_warehouse

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ACCOUNTS = 300
DAYS = 3
TABLES = ("crawl_runs", "profiles", "profile_snapshots", "profile_niches", "profile_signals", "hashtags",
          "posts", "post_hashtags", "hashtag_sightings", "rejected_items")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request) -> str:
    """A migrated SQLite warehouse, and a migrated PostgreSQL one (skipped without the service)."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


def scalar(url: str, sql: str) -> object:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()
    finally:
        engine.dispose()


def rows(url: str, sql: str) -> list[tuple]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


def test_every_table_and_view_has_rows(url):
    counts = synthetic_warehouse(url, ACCOUNTS, days=DAYS, seed=7, now=NOW)
    assert set(counts) == set(TABLES)
    for table in TABLES:
        assert counts[table] > 0, table
        assert scalar(url, f"SELECT count(*) FROM {table}") == counts[table], table  # noqa: S608
    assert counts["crawl_runs"] == DAYS * len(PLATFORMS)
    assert counts["profiles"] == counts["profile_signals"] == ACCOUNTS
    assert scalar(url, "SELECT count(*) FROM influencer_current") == ACCOUNTS
    assert scalar(url, "SELECT count(*) FROM micro_influencers") > ACCOUNTS // 2
    # accounts found on the first day have a snapshot per day; later finds fewer
    full = f"SELECT profile_id FROM profile_snapshots GROUP BY profile_id HAVING count(*) = {DAYS}"  # noqa: S608
    assert scalar(url, f"SELECT count(*) FROM ({full}) AS full_history") > ACCOUNTS * 0.8  # noqa: S608


def test_growth_tiers_runs_and_hashtags_agree(url):
    from pipelines.tier import SCHEMES, tier_for

    synthetic_warehouse(url, ACCOUNTS, days=DAYS, seed=7, now=NOW)
    history = "SELECT profile_id, count(*) AS n FROM profile_snapshots GROUP BY profile_id"
    assert scalar(url, f"SELECT count(*) FROM profile_growth AS g JOIN ({history}) AS h "  # noqa: S608
                       "ON h.profile_id = g.profile_id WHERE h.n >= 2 AND g.growth_rate_7d IS NULL") == 0
    assert scalar(url, "SELECT count(*) FROM profile_growth WHERE tier = 'micro' "
                       "AND growth_rate_7d IS NOT NULL") > 0
    for followers, tier, scheme in rows(url, "SELECT followers, tier, tier_scheme FROM profile_snapshots"):
        assert (tier, scheme) == (tier_for(followers, SCHEMES["seed"]), "seed")
    statuses = dict(rows(url, "SELECT status, count(*) FROM crawl_runs GROUP BY status"))
    assert set(statuses) == {"ok", "degraded", "failed"}
    assert statuses["ok"] > statuses["failed"]
    assert rows(url, "SELECT r.id FROM crawl_runs AS r WHERE r.items_rejected <> "
                     "(SELECT count(*) FROM rejected_items AS q WHERE q.crawl_run_id = r.id)") == []
    checks = scalar(url, "SELECT checks FROM crawl_runs WHERE status = 'failed'")
    checks = json.loads(checks) if isinstance(checks, str) else checks  # PostgreSQL decodes JSON
    assert isinstance(checks, dict)
    assert not checks["nothing_lost"]["passed"]
    assert checks["nothing_lost"]["critical"]
    assert scalar(url, "SELECT count(*) FROM profile_niches WHERE is_primary = TRUE") < ACCOUNTS
    assert scalar(url, "SELECT count(*) FROM influencer_current WHERE audience_quality IS NULL "
                       "AND quality_note IS NULL") == 0
    micro_tags = rows(url, """
        SELECT h.tag, count(DISTINCT m.profile_id) AS micro_accounts
        FROM hashtag_sightings hs
        JOIN hashtags h ON h.id = hs.hashtag_id
        JOIN posts po ON po.platform = hs.platform AND po.post_id = hs.post_id
        JOIN micro_influencers m ON m.profile_id = po.profile_id
        GROUP BY h.tag ORDER BY micro_accounts DESC""")
    assert len(micro_tags) > 10
    assert micro_tags[0][1] > 10


def dump(url: str) -> dict[str, list[tuple]]:
    return {table: rows(url, f"SELECT * FROM {table} ORDER BY 1, 2") for table in TABLES}  # noqa: S608


def test_a_seed_gives_one_warehouse(tmp_path):
    from models import migrate

    urls = [f"sqlite:///{tmp_path / name}.sqlite" for name in ("a", "b", "c")]
    for target, seed in zip(urls, (7, 7, 8), strict=True):
        migrate.upgrade(target)
        synthetic_warehouse(target, ACCOUNTS, days=DAYS, seed=seed, now=NOW)
    first, again, other = (dump(target) for target in urls)
    assert first == again
    assert first["profile_snapshots"] != other["profile_snapshots"]


def test_a_warehouse_with_profiles_is_refused(sqlite_url):
    synthetic_warehouse(sqlite_url, 20, days=1, now=NOW)
    with pytest.raises(ValueError, match="freshly migrated"):
        synthetic_warehouse(sqlite_url, 20, days=1, now=NOW)


def test_report_benchmark_prints_both_sizes_and_the_targets():
    from benchmarks import report

    rows = report.run(200, 400, days=2)
    cases = [row.case for row in rows]
    assert any("build, 400 accounts" in case for case in cases)
    judged = [row for row in rows if row.met is not None]
    assert len(judged) == 3  # build, file size, filtered build of the large size
    assert all(row.met for row in judged)
    assert rows[-1].ratio is not None
