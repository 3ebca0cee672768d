"""Scheduled crawls and ops: refresh builds history, the run lock, failed runs, resume, export."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from crawler.sandbox.server import SandboxProcess
from crawler.sandbox.world import World
from models import make_engine, migrate
from tests.conftest import REPO

pytestmark = pytest.mark.slow

ACCOUNTS, SEED = 150, 21


def _tag(accounts: int = ACCOUNTS, seed: int = SEED) -> str:
    tags = World(accounts, seed).tags()
    return max(tags, key=lambda tag: (tags[tag], tag))


def microscout(*args: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crawler.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "PYTHONPATH": str(REPO)},
                          check=False)


def rows(url: str, sql: str, **params):
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            return conn.execute(text(sql), params).all()
    finally:
        engine.dispose()


@pytest.fixture
def swept(tmp_path):
    """A warehouse holding one sweep of the sandbox, and the sandbox still running."""
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    migrate.upgrade(url)
    with SandboxProcess(accounts=ACCOUNTS, seed=SEED, rate_limit=1_000_000, latency=0.01) as sandbox:
        done = microscout("sweep", "--instance", sandbox.base_url, "--tags", _tag(), "--max-pages", "2",
                          "--recent-posts", "5", "--database-url", url, "--quiet", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        yield url, sandbox, tmp_path


def _age(url: str, handles: list[str], days: float, followers_delta: int = 0) -> None:
    """Make these accounts' snapshots look older (and smaller), as if taken days ago."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for handle in handles:
                pid = conn.execute(text("SELECT id FROM profiles WHERE handle = :h"), {"h": handle}).scalar()
                for sid, captured in conn.execute(text(
                        "SELECT id, captured_at FROM profile_snapshots WHERE profile_id = :p"), {"p": pid}):
                    from datetime import datetime, timedelta

                    when = datetime.fromisoformat(str(captured)) - timedelta(days=days)
                    conn.execute(text("UPDATE profile_snapshots SET captured_at = :t, "
                                      "followers = followers - :d WHERE id = :id"),
                                 {"t": when, "d": followers_delta, "id": sid})
    finally:
        engine.dispose()


def test_refresh_adds_snapshots_for_stale_accounts_only_and_growth_sees_the_change(swept):
    url, sandbox, cwd = swept
    handles = [h for (h,) in rows(url, "SELECT handle FROM profiles ORDER BY handle")]
    stale = handles[: len(handles) // 2]
    _age(url, stale, days=3, followers_delta=100)
    before = dict(rows(url, "SELECT p.handle, count(*) FROM profile_snapshots s "
                            "JOIN profiles p ON p.id = s.profile_id GROUP BY p.handle"))

    done = microscout("refresh", "--instance", sandbox.base_url, "--max-age", "24h", "--database-url",
                      url, "--quiet", "--json", cwd=cwd)
    assert done.returncode == 0, done.stderr
    after = dict(rows(url, "SELECT p.handle, count(*) FROM profile_snapshots s "
                           "JOIN profiles p ON p.id = s.profile_id GROUP BY p.handle"))
    assert {h for h in handles if after[h] == before[h] + 1} == set(stale)
    assert all(after[h] == before[h] for h in handles if h not in stale)

    growth = dict(rows(url, "SELECT handle, follower_change_7d FROM profile_growth"))
    assert {growth[h] for h in stale} == {100}  # the sandbox's counts are 100 above the aged ones
    assert {growth[h] for h in handles if h not in stale} == {None}  # one snapshot: no baseline


def test_refresh_filters_by_tier_and_limit(swept):
    url, sandbox, cwd = swept
    handles = [h for (h,) in rows(url, "SELECT handle FROM profiles")]
    _age(url, handles, days=2)
    done = microscout("refresh", "--instance", sandbox.base_url, "--max-age", "1d", "--tier", "micro",
                      "--limit", "3", "--database-url", url, "--quiet", cwd=cwd)
    assert done.returncode == 0, done.stderr
    latest_run = rows(url, "SELECT max(id) FROM crawl_runs")[0][0]
    refreshed = rows(url, "SELECT s.tier FROM profile_snapshots s WHERE s.crawl_run_id = :r", r=latest_run)
    assert len(refreshed) == 3
    assert {tier for (tier,) in refreshed} == {"micro"}


def test_two_concurrent_runs_of_one_job_do_the_work_once(tmp_path):
    """The first run holds the job's lock (the sandbox holds its requests) while the second starts."""
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    migrate.upgrade(url)
    with SandboxProcess(accounts=ACCOUNTS, seed=SEED, rate_limit=1_000_000, latency=0.05) as sandbox:
        args = [sys.executable, "-m", "crawler.cli", "sweep", "--instance", sandbox.base_url, "--tags",
                _tag(), "--max-pages", "2", "--recent-posts", "5", "--database-url", url, "--quiet",
                "--set", "MICROSCOUT_BATCH_SIZE=5", "--job", "nightly"]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        sandbox.gate(hold_after=0)  # the first run's first request waits: it holds the lock meanwhile
        first = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        wait_for(lambda: sandbox.gate()["waiting"] > 0, "the first run to reach the sandbox")
        second = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        second_out = second.communicate(timeout=180)
        sandbox.gate(open=1)
        procs, outs = [first, second], [first.communicate(timeout=180), second_out]
    assert [p.returncode for p in procs] == [0, 0], outs
    statuses = sorted(s for (s,) in rows(url, "SELECT status FROM crawl_runs"))
    assert statuses == ["ok", "skipped"]
    (profiles, snapshots), = rows(url, "SELECT (SELECT count(*) FROM profiles), "
                                       "(SELECT count(*) FROM profile_snapshots)")
    assert snapshots == profiles > 0


def wait_for(condition, what: str, timeout: float = 120) -> None:
    """Poll a condition the test controls (not a timer race): fail with ``what`` if it never holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_stale_lock_expires(tmp_path):
    from models import loader

    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    first = loader.acquire_run(engine, {"run_key": "a", "spider": "s", "job": "nightly"}, 60)
    with pytest.raises(loader.JobLocked):
        loader.acquire_run(engine, {"run_key": "b", "spider": "s", "job": "nightly"}, 60)
    with engine.begin() as conn:
        conn.execute(text("UPDATE crawl_runs SET heartbeat_at = '2000-01-01 00:00:00' WHERE id = :i"),
                     {"i": first})
    third = loader.acquire_run(engine, {"run_key": "c", "spider": "s", "job": "nightly"}, 60)
    engine.dispose()
    assert third != first
    assert dict(rows(url, "SELECT run_key, status FROM crawl_runs")) == {
        "a": "abandoned", "b": "skipped", "c": "running"}


def test_a_run_whose_pages_all_fail_ends_failed_and_exits_non_zero(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    done = microscout("sweep", "--instance", "http://127.0.0.1:9", "--tags", "food", "--database-url",
                      url, "--quiet", "--json", "--set", "RETRY_TIMES=0", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["status"] == "failed"
    (status, checks), = rows(url, "SELECT status, checks FROM crawl_runs")
    assert status == "failed"
    checks = json.loads(checks) if isinstance(checks, str) else checks
    assert checks["pages_answered"]["passed"] is False


def test_scrapy_crawl_exits_non_zero_on_a_failed_run(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    migrate.upgrade(url)
    done = subprocess.run([sys.executable, "-m", "scrapy", "crawl", "mastodon", "-a",
                           "instance=http://127.0.0.1:9", "-a", "tags=food", "-s", "RETRY_TIMES=0",
                           "-s", f"MICROSCOUT_DATABASE_URL={url}"], cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stderr[-2000:]


def test_a_sweep_that_loaded_nothing_fails_and_exits_non_zero(tmp_path):
    """Every batch spooled (a read-only warehouse): scraped, nothing loaded, so the run failed."""
    path = tmp_path / "w.sqlite"
    migrate.upgrade(f"sqlite:///{path}")
    cassette = REPO / "cassettes" / "sandbox_mastodon_sweep.yaml"
    done = microscout("sweep", "--instance", "http://127.0.0.1:8797", "--tags", "stocks", "--max-pages",
                      "2", "--recent-posts", "5", "--database-url",
                      f"sqlite:///file:{path}?mode=ro&uri=true", "--set", f"MICROSCOUT_CASSETTE={cassette}",
                      "--set", "MICROSCOUT_DB_RETRY_DELAY=0", "--set",
                      f"MICROSCOUT_SPOOL_DIR={tmp_path / 'spool'}", "--quiet", "--json", cwd=tmp_path)
    summary = json.loads(done.stdout)
    assert (summary["status"], summary["profiles"]) == ("failed", 0), done.stderr[-2000:]
    assert summary["spooled"] > 0
    assert done.returncode == 1


def test_sigkilled_sweep_resumes_to_the_same_rows(tmp_path):
    """kill -9 part-way; the same JOBDIR resumes; every account ends loaded exactly once."""
    clean = f"sqlite:///{tmp_path / 'clean.sqlite'}"
    resumed = f"sqlite:///{tmp_path / 'resumed.sqlite'}"
    for url in (clean, resumed):
        migrate.upgrade(url)
    with SandboxProcess(accounts=ACCOUNTS, seed=SEED, rate_limit=1_000_000, latency=0.05) as sandbox:
        def command(url: str, jobdir: Path | None = None) -> list[str]:
            extra = ["--set", f"JOBDIR={jobdir}"] if jobdir else []
            return [sys.executable, "-m", "crawler.cli", "sweep", "--instance", sandbox.base_url, "--tags",
                    _tag(), "--max-pages", "3", "--recent-posts", "5", "--database-url", url, "--quiet",
                    "--set", "MICROSCOUT_BATCH_SIZE=5", "--set", "CONCURRENT_REQUESTS_PER_DOMAIN=2",
                    *extra]

        env = {**os.environ, "PYTHONPATH": str(REPO)}
        before = sandbox.stats()["requests"]
        subprocess.run(command(clean), cwd=tmp_path, env=env, check=True, capture_output=True, timeout=300)
        expected = rows(clean, "SELECT handle FROM profiles ORDER BY handle")

        requests = sandbox.stats()["requests"] - before  # what a whole sweep asks

        jobdir = tmp_path / "job"
        sandbox.gate(hold_after=requests // 2)  # hold the sweep half-way: the kill lands part-way
        proc = subprocess.Popen(command(resumed, jobdir), cwd=tmp_path, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def loaded() -> int:
            try:
                return rows(resumed, "SELECT count(*) FROM profiles")[0][0]
            except Exception:  # the database may be locked for a moment
                return 0

        wait_for(lambda: sandbox.gate()["waiting"] > 0 and loaded() > 0,
                 "the sweep to load some accounts and stop at the gate")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        sandbox.gate(open=1)
        partial = rows(resumed, "SELECT count(*) FROM profiles")[0][0]
        assert 0 < partial < len(expected), "the kill must land part-way"

        subprocess.run(command(resumed, jobdir), cwd=tmp_path, env=env, check=True, capture_output=True,
                       timeout=300)
    assert rows(resumed, "SELECT handle FROM profiles ORDER BY handle") == expected
    (runs, profiles, snapshots), = rows(
        resumed, "SELECT (SELECT count(*) FROM crawl_runs), (SELECT count(*) FROM profiles), "
                 "(SELECT count(*) FROM profile_snapshots)")
    assert (runs, snapshots) == (1, profiles)


def test_export_views_as_csv_and_jsonl(swept):
    url, _, cwd = swept
    out = cwd / "micro.csv"
    done = microscout("export", "micro_influencers", "--format", "csv", "--output", str(out),
                      "--database-url", url, cwd=cwd)
    assert done.returncode == 0, done.stderr
    table = list(csv.DictReader(out.open(encoding="utf-8")))
    assert table
    assert {"handle", "followers", "tier", "primary_niche", "engagement_rate"} <= set(table[0])
    assert {row["tier"] for row in table} == {"micro"}
    assert len(table) == rows(url, "SELECT count(*) FROM micro_influencers")[0][0]

    niche = table[0]["primary_niche"]
    done = microscout("export", "influencer_current", "--format", "jsonl", "--niche", niche,
                      "--platform", "mastodon", "--database-url", url, cwd=cwd)
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines
    assert {line["primary_niche"] for line in lines} == {niche}
