"""Each benchmark (benchmarks/, issue #7) runs at a tiny size and prints its table.

No timing is asserted: these only check that the benchmarks still run against the current code
(sandbox, spider, pipelines, warehouse) and report every figure. The measurements themselves are
``make bench`` (``python -m benchmarks.run_all``); the latest table is in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import contextlib

import pytest

from benchmarks import (
    common,
    crawl_overhead,
    discovery,
    distributed,
    handrolled,
    parsers,
    reliability,
    run_all,
    scale,
    warehouse_load,
)

pytestmark = pytest.mark.slow

ACCOUNTS = 12


def _printed(capsys, title: str, rows: list[common.Row]) -> str:
    common.print_table(title, rows)
    out = capsys.readouterr().out
    assert title in out
    return out


@pytest.fixture(scope="module")
def overhead():
    """crawl_overhead at a tiny size (bare and full SQLite); its full run is reused below."""
    rows, raw = crawl_overhead.run(ACCOUNTS, seed=3, modes=["handles"], databases=["sqlite"], repeat=1)
    return rows, raw["handles"]


def test_crawl_overhead_reports_both_sides(overhead, capsys):
    rows, runs = overhead
    (row,) = rows
    assert row.ours > 0
    assert row.base > 0
    assert row.ratio is not None
    assert [r.profiles for r in runs["bare"] + runs["sqlite"]] == [ACCOUNTS, ACCOUNTS]
    assert runs["sqlite"][0].stats["microscout/warehouse/profiles_upserted"] == ACCOUNTS
    assert "crawl overhead" in _printed(capsys, "crawl overhead", rows)


def test_tags_sweep_kwargs_cover_every_tag_of_the_world():
    kwargs = crawl_overhead.sweep_kwargs("tags", "http://127.0.0.1:1", 50, 3, None)
    assert kwargs["max_posts"] == kwargs["max_pages"] * 40
    assert len(kwargs["tags"].split(",")) > 10


def test_handrolled_loop_stores_every_account(overhead, capsys):
    _, runs = overhead
    rows = handrolled.run(ACCOUNTS, seed=3, latencies=[0.0], handrolled_accounts=ACCOUNTS,
                          ours_at_zero=runs["sqlite"][0])
    (row,) = rows
    assert row.ours == runs["sqlite"][0].accounts_per_second
    assert row.base > 0
    _printed(capsys, "hand-rolled", rows)


def test_scale_reports_time_per_account_and_peak_memory(overhead, capsys):
    _, runs = overhead
    rows = scale.run(ACCOUNTS, 2 * ACCOUNTS, seed=3, small_first=runs["sqlite"][0])
    time_row, memory_row = rows
    assert time_row.unit == "ms"
    assert memory_row.unit == "MB"
    assert memory_row.ours > 20  # a Scrapy process is tens of MB at least
    _printed(capsys, "scale", rows)


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_warehouse_load_writes_the_same_rows_three_ways(db, request, capsys):
    if db == "postgresql":
        request.getfixturevalue("pg_server")  # skips (or fails with CI=true) without PostgreSQL
    rows = warehouse_load.run(size=200, posts=4, databases=[db], orm_size=20)
    orm_row, raw_row = rows
    assert orm_row.ours == raw_row.ours > 0
    assert orm_row.base > 0
    assert raw_row.base > 0
    _printed(capsys, "warehouse load", rows)


def test_warehouse_items_are_deterministic():
    first, second = warehouse_load.make_items(5), warehouse_load.make_items(5)
    assert first == second
    assert all(len(item.recent_posts) == 4 for item in first)


def test_parsers_time_every_platform_with_captures(capsys):
    rows = parsers.run(min_time=0.0005)
    if rows[0].note == "skipped":
        pytest.skip(rows[0].case)
    assert {row.case.split(":")[0] for row in rows} >= {"mastodon", "instagram", "youtube"}
    assert all(row.ours > 0 and row.base > 0 for row in rows)
    _printed(capsys, "parsers", rows)


def test_results_markdown_has_the_table_and_the_machine():
    rows = [common.Row("scale", "time per account", 2.25, 2.5, "ms", 0.9, "<= 1.2", True)]
    info = common.machine()
    text = run_all.results_markdown(rows, info, 60.0, "python -m benchmarks.run_all")
    assert "| scale | time per account | 2.25 ms | 2.5 ms | 0.90 | <= 1.2 | yes |" in text
    assert f"**nproc**: {info['nproc']}" in text


def test_reliability_reports_every_case_with_nothing_lost(capsys):
    rows = reliability.run(120, outage=2.0, fuzz=False)
    out = _printed(capsys, "Reliability", rows)
    cases = [row.case for row in rows]
    assert cases[:2] == ["20% of requests failing", "SIGKILL half-way + resume"]
    assert all(row.met for row in rows), out
    assert all(", 0 lost" in row.note for row in rows)


def test_distributed_reports_scaling_memory_and_capacity(monkeypatch, capsys):
    from tests.conftest import require_service

    require_service("Redis", "127.0.0.1", 6379)
    monkeypatch.setattr(distributed, "WORKERS", (1, 2))
    # a shorter drain than a real worker's 5 s flush interval: the test checks the table only
    monkeypatch.setattr(distributed, "WORKER_SETTINGS",
                        {**distributed.WORKER_SETTINGS, "MICROSCOUT_FLUSH_INTERVAL": "0.5"})
    prefixes = []
    private_prefix = distributed.private_prefix

    def recorded(server):
        with private_prefix(server) as prefix:
            prefixes.append(prefix)
            yield prefix

    monkeypatch.setattr(distributed, "private_prefix", contextlib.contextmanager(recorded))
    rows = distributed.run(ACCOUNTS, (30, 60), max_requests=20, repeat=1, db="sqlite", seed=3)
    out = _printed(capsys, "Distributed", rows)
    one, two, memory, *capacity = rows
    assert one.ours > 0
    assert two.base == one.ours
    assert two.ratio is not None
    assert memory.unit == "MB"
    assert memory.ours > 20
    assert memory.base > 20
    assert [row.case.split(" (")[0] for row in capacity[:2]] == [
        "Redis commands per account", "warehouse rows per account"]
    assert capacity[0].ours > 0
    assert capacity[1].ours >= 1  # a profile row per account at least
    assert "workers one Redis carries" in out
    assert len(prefixes) == 2 + 2  # one per job: 2 throughput runs, 2 memory runs
    server = distributed.redis_client()
    assert not [key for prefix in prefixes for key in server.scan_iter(match=f"{prefix}:*")]


def test_discovery_counts_requests_per_micro_influencer_on_each_route(capsys):
    rows = discovery.run(100, 42, 1, [("mastodon", "web"), ("youtube", "api"), ("tiktok", "research")])
    out = _printed(capsys, "Requests per new micro-influencer", rows)
    assert [row.case for row in rows] == ["mastodon web", "youtube api", "tiktok research"]
    assert all(row.ours and row.ours >= 1 for row in rows), out  # at least one request each
    assert "budget: " in rows[1].note
    assert " units" in rows[1].note
    assert " requests, " in rows[2].note.split("budget: ")[1]


def test_youtube_quota_units_per_profile_old_route_vs_new(capsys):
    from benchmarks import quota

    rows = quota.run(accounts=100, seed=42, tags=1, max_pages=1)
    out = _printed(capsys, "quota", rows)
    new = rows[-1]
    assert new.met, out  # the uploads route stays within 3 units a profile
    assert new.ratio is not None, out
    assert new.ratio > 10, out

