"""Reliability of the warehouse path (issue #12): nothing is lost while the run says ``ok``.

Faults: a value the driver cannot bind (2**70 followers on SQLite), a spool that cannot be written
(a full disk, simulated with RLIMIT_FSIZE or a spool "folder" that is a file), a database that
stops answering (a blackhole TCP proxy in front of PostgreSQL), an ``--output`` that cannot be
written, an un-migrated SQLite file; and ``db load-spool`` bringing the run's row up to date.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from scrapy.utils.test import get_crawler
from sqlalchemy import text

from crawler.items import RejectedItem
from models import make_engine, mask_url, migrate
from models.spool import load_spool, spool_files
from pipelines import monitor
from tests.conftest import REPO
from tests.factories import profile, run_items, sighting, warehouse_pipeline

CASSETTE = REPO / "cassettes" / "sandbox_mastodon_sweep.yaml"
SWEEP = ["--instance", "http://127.0.0.1:8797", "--tags", "stocks", "--max-pages", "2",
         "--recent-posts", "5"]
HUGE = 99999999999999999999999


def rows(url: str, sql: str):
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).all()
    finally:
        engine.dispose()


def as_dict(value):
    return json.loads(value) if isinstance(value, str) else value


def cli(*args: str, cwd: Path, env: dict | None = None, prefix: str = "") -> subprocess.CompletedProcess:
    """``microscout ARGS`` in a subprocess; ``prefix`` is Python run first (e.g. a file-size limit)."""
    code = f"{prefix}\nimport runpy, sys\nsys.argv = ['microscout', *{list(args)!r}]\n" \
           "runpy.run_module('crawler.cli', run_name='__main__')"
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                          timeout=180, check=False,
                          env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})


def mutated_cassette(tmp_path: Path) -> Path:
    """The sandbox sweep with one account's follower count far beyond any integer column."""
    body = CASSETTE.read_text(encoding="utf-8")
    assert body.count('followers_count\\":1738') > 1
    copy = tmp_path / "mutated.yaml"
    copy.write_text(body.replace('followers_count\\":1738', f'followers_count\\":{HUGE}'),
                    encoding="utf-8")
    return copy


# --- item 10: masking -------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql+psycopg://postgres:S3cret@PW@db.example:5432/scout",
     "postgresql+psycopg://postgres:***@db.example:5432/scout"),
    ("postgresql://scout:a@b:c@d@host/db", "postgresql://scout:***@host/db"),
    ("postgresql://scout:plain@host/db", "postgresql://scout:***@host/db"),
    ("postgresql://scout@host/db", "postgresql://scout@host/db"),
    ("postgresql://host/db?user=u&password=p@ss", "postgresql://host/db?user=u&password=***"),
    ("sqlite:////tmp/a@b/w.sqlite", "sqlite:////tmp/a@b/w.sqlite"),
])
def test_mask_url_hides_the_whole_password_even_with_an_at_sign(url, shown):
    assert mask_url(url) == shown


def test_mask_url_of_a_parsed_url_hides_the_part_sqlalchemy_took_for_the_host():
    from sqlalchemy.engine import make_url

    parsed = make_url("postgresql+psycopg://postgres:S3cret@PW@db.example:5432/scout")
    assert mask_url(parsed) == "postgresql+psycopg://postgres:***@db.example:5432/scout"


# --- item 1: a batch that fails for its data; a batch that cannot be written nor spooled ----------

def test_a_value_sqlite_cannot_bind_is_quarantined_and_every_other_item_loads(sqlite_url, tmp_path):
    items = [profile("a@x.social"), profile("big@x.social", followers=HUGE), profile("c@x.social"),
             sighting("a@x.social-0"), profile("d@x.social"), profile("e@x.social")]
    pipeline = warehouse_pipeline(sqlite_url, tmp_path)
    stats = run_items(pipeline, items)
    assert sorted(h for (h,) in rows(sqlite_url, "SELECT handle FROM profiles")) == [
        "a@x.social", "c@x.social", "d@x.social", "e@x.social"]
    (reason, payload), = rows(sqlite_url, "SELECT reason, payload FROM rejected_items")
    assert reason == "load_error"
    assert as_dict(payload)["handle"] == "big@x.social"
    assert stats["microscout/quarantined/total"] == 1
    assert stats.get("microscout/warehouse/lost_items", 0) == 0
    assert spool_files(tmp_path / "spool") == []
    (status, loaded, rejected), = rows(sqlite_url,
                                       "SELECT status, items_loaded, items_rejected FROM crawl_runs")
    assert status != "running"
    assert (loaded, rejected) == (5, 1)


@pytest.mark.postgres
def test_postgresql_load_errors_count_as_quarantined(pg_url, tmp_path):
    pipeline = warehouse_pipeline(pg_url, tmp_path)
    stats = run_items(pipeline, [profile("a@x.social"), profile("big@x.social", followers=HUGE)])
    assert rows(pg_url, "SELECT handle FROM profiles") == [("a@x.social",)]
    assert rows(pg_url, "SELECT reason FROM rejected_items") == [("load_error",)]
    assert stats["microscout/quarantined/total"] == 1
    assert stats["microscout/quarantined/load_error"] == 1


def test_concurrent_items_never_drop_a_batch(sqlite_url, tmp_path):
    """Scrapy runs process_item for several items at once: every batch is awaited and written."""
    pipeline = warehouse_pipeline(sqlite_url, tmp_path, MICROSCOUT_BATCH_SIZE=1)
    items = [profile(f"u{n}@x.social", followers=HUGE if n == 3 else 5000) for n in range(12)]

    async def scenario():
        await pipeline.open_spider()
        await asyncio.gather(*(pipeline.process_item(item) for item in items))
        pipeline.crawler.stats.set_value("finish_reason", "finished")
        await pipeline.close_spider()

    asyncio.run(scenario())
    assert rows(sqlite_url, "SELECT count(*) FROM profiles") == [(11,)]
    assert rows(sqlite_url, "SELECT count(*) FROM rejected_items") == [(1,)]


def test_a_batch_neither_written_nor_spooled_is_lost_and_fails_the_run(tmp_path, caplog):
    down = "postgresql+psycopg://scout:s3cret@127.0.0.1:1/none"
    (tmp_path / "spool").write_text("a file where the spool folder should be")
    pipeline = warehouse_pipeline(down, tmp_path)
    stats = run_items(pipeline, [profile("a@x.social"), profile("b@x.social"), sighting("a@x.social-0")])
    assert stats["microscout/warehouse/lost_items"] == 3
    assert stats["microscout/run/status"] == "failed"
    assert any("lost" in r.getMessage() and r.levelname == "ERROR" for r in caplog.records)
    assert "s3cret" not in caplog.text


def test_a_spool_write_cut_short_leaves_only_whole_lines(tmp_path):
    from models.spool import append_lines

    path = tmp_path / "run.jsonl"
    append_lines(path, '{"a": 1}\n')
    code = ("import resource, sys\n"
            "from pathlib import Path\n"
            "from models.spool import append_lines\n"
            f"resource.setrlimit(resource.RLIMIT_FSIZE, ({path.stat().st_size + 100},) * 2)\n"
            "try:\n"
            f"    append_lines(Path({str(path)!r}), '{{\"b\": \"' + 'x' * 5000 + '\"}}\\n')\n"
            "except OSError:\n"
            "    sys.exit(3)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 3, done.stderr
    assert path.read_text() == '{"a": 1}\n'


@pytest.mark.slow
def test_sweep_with_an_impossible_follower_count_loads_the_rest(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    done = cli("sweep", *SWEEP, "--database-url", url, "--set",
               f"MICROSCOUT_CASSETTE={mutated_cassette(tmp_path)}", "--set", "MICROSCOUT_BATCH_SIZE=5",
               "--quiet", "--json", cwd=tmp_path)
    summary = json.loads(done.stdout)
    assert summary["status"] in ("ok", "degraded"), done.stderr[-3000:]
    assert summary["quarantined"] >= 1
    assert done.returncode == 0
    (status, loaded), = rows(url, "SELECT status, items_loaded FROM crawl_runs")
    assert status == summary["status"]
    # the warehouse quarantines it (load_error) unless normalisation already did (its bounds)
    (reason,), = rows(url, "SELECT reason FROM rejected_items")
    assert reason in ("load_error", "implausible_value")
    assert rows(url, "SELECT count(*) FROM hashtag_sightings") == [(80,)]
    assert rows(url, "SELECT count(*) FROM profiles") == [(7,)]
    assert loaded == (87 if reason == "load_error" else 88)
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_sweep_on_a_full_disk_says_what_was_lost_and_fails(tmp_path):
    """RLIMIT_FSIZE (no root, no mounts): the SQLite file and the spool both stop growing."""
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    migrate.upgrade(url)
    limit = "import resource\nresource.setrlimit(resource.RLIMIT_FSIZE, (48_000, 48_000))"
    done = cli("sweep", *SWEEP, "--database-url", url, "--set", f"MICROSCOUT_CASSETTE={CASSETTE}",
               "--set", "MICROSCOUT_BATCH_SIZE=5", "--set", "MICROSCOUT_DB_RETRY_DELAY=0",
               "--set", f"MICROSCOUT_SPOOL_DIR={tmp_path / 'spool'}", "--json",
               cwd=tmp_path, prefix=limit)
    assert done.returncode == 1, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert summary["status"] == "failed"
    assert "records lost: neither written" in done.stderr
    assert "Check failed: nothing_lost" in done.stderr
    # what was spooled is whole lines: it loads once there is room again
    engine = make_engine(url)
    try:
        load_spool(engine, tmp_path / "spool")
    finally:
        engine.dispose()


# --- item 2: --output that cannot be written ---------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("output", ["full.csv", "full.jsonl"])
def test_an_output_that_cannot_be_written_fails_the_run(tmp_path, output):
    """``--output`` on a full disk: csv fails when the file is closed, jsonl part-way."""
    if not Path("/dev/full").exists():
        pytest.skip("/dev/full is not available")
    (tmp_path / output).symlink_to("/dev/full")  # every write fails with ENOSPC
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    done = cli("sweep", *SWEEP, "--database-url", url, "--set", f"MICROSCOUT_CASSETTE={CASSETTE}",
               "--output", str(tmp_path / output), "--quiet", "--json", cwd=tmp_path)
    assert done.returncode == 1, done.stderr[-3000:]
    assert json.loads(done.stdout)["status"] == "failed"
    (status, checks), = rows(url, "SELECT status, checks FROM crawl_runs")
    assert status == "failed"
    assert as_dict(checks)["output_written"]["passed"] is False
    assert rows(url, "SELECT count(*) FROM profiles") == [(8,)]  # the warehouse has everything
    assert any("not written" in line for line in done.stderr.splitlines())


@pytest.mark.slow
def test_scrapy_crawl_with_an_output_it_cannot_open_fails(tmp_path):
    """``microscout sweep`` refuses such an --output up front; plain ``scrapy crawl -O`` finds
    out from the feed export."""
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    migrate.upgrade(url)
    (tmp_path / "under-a-file").write_text("not a folder")
    done = subprocess.run([sys.executable, "-m", "scrapy", "crawl", "mastodon", "-a",
                           "instance=http://127.0.0.1:8797", "-a", "tags=stocks", "-a", "max_pages=2",
                           "-a", "recent_posts=5", "-s", f"MICROSCOUT_CASSETTE={CASSETTE}",
                           "-s", f"MICROSCOUT_DATABASE_URL={url}",
                           "-O", str(tmp_path / "under-a-file" / "out.jsonl")],
                          cwd=REPO, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 1, done.stderr[-3000:]
    (status, checks), = rows(url, "SELECT status, checks FROM crawl_runs")
    assert status == "failed"
    assert as_dict(checks)["output_written"]["value"] > 0


@pytest.mark.slow
def test_an_output_that_is_written_passes(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    done = cli("sweep", *SWEEP, "--database-url", url, "--set", f"MICROSCOUT_CASSETTE={CASSETTE}",
               "--output", str(tmp_path / "out.jsonl"), "--quiet", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 8
    (checks,), = rows(url, "SELECT checks FROM crawl_runs")
    assert as_dict(checks)["output_written"]["passed"] is True


# --- item 3: a database that stops answering ---------------------------------------------------------

class Blackhole:
    """A TCP proxy on 127.0.0.1 in front of PostgreSQL; ``cut()`` makes it stop forwarding (packets
    "dropped": its connections stay open, new ones are accepted, nothing ever answers)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.forwarding = threading.Event()
        self.forwarding.set()
        self.stopped = threading.Event()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.sockets: list[socket.socket] = [self.server]
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        self.forwarding.clear()

    def close(self) -> None:
        self.stopped.set()
        self.forwarding.set()
        for sock in self.sockets:
            sock.close()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            self.sockets.append(client)
            if not self.forwarding.is_set():
                continue  # accepted, never answered
            upstream = socket.create_connection(self.target)
            self.sockets.append(upstream)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                self.forwarding.wait()
                if self.stopped.is_set():
                    return
                sink.sendall(data)
        except OSError:
            return


def bounded(seconds: float, fn) -> None:
    """Run fn in a thread; fail the test if it has not finished after ``seconds``."""
    errors: list[BaseException] = []

    def target():
        try:
            fn()
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still hanging after {seconds} s"
    if errors:
        raise errors[0]


@pytest.mark.postgres
def test_a_database_that_stops_answering_is_retried_then_spooled(pg_url, tmp_path):
    from sqlalchemy.engine import make_url

    real = make_url(pg_url)
    proxy = Blackhole((real.host or "127.0.0.1", real.port or 5432))
    via_proxy = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    items = [profile(f"u{n}@x.social") for n in range(6)]
    pipeline = warehouse_pipeline(via_proxy, tmp_path, MICROSCOUT_DB_CONNECT_TIMEOUT=1,
                            MICROSCOUT_DB_STATEMENT_TIMEOUT=1)
    stats: dict = {}
    try:
        bounded(60, lambda: stats.update(run_items(pipeline, items, between=proxy.cut)))
    finally:
        proxy.close()
    assert stats["microscout/warehouse/spooled_items"] == 4
    assert rows(pg_url, "SELECT count(*) FROM profiles") == [(2,)]
    engine = make_engine(pg_url)
    try:
        load_spool(engine, tmp_path / "spool", complete=monitor.complete_after_load_spool)
    finally:
        engine.dispose()
    assert rows(pg_url, "SELECT count(*) FROM profiles") == [(6,)]
    assert rows(pg_url, "SELECT status, items_loaded FROM crawl_runs") == [("ok", 6)]


@pytest.mark.postgres
def test_engines_carry_connect_statement_and_keepalive_timeouts(pg_url):
    engine = make_engine(pg_url, connect_timeout=3, statement_timeout=7)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "7s"
            info = conn.connection.dbapi_connection.info  # type: ignore[union-attr]
            params = info.get_parameters()
            assert params["connect_timeout"] == "3"
            assert params["keepalives"] == "1"
            assert int(params["tcp_user_timeout"]) > 0
    finally:
        engine.dispose()


def test_sqlite_engines_wait_on_locks_for_the_statement_timeout(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'w.sqlite'}", statement_timeout=4)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 4000
    finally:
        engine.dispose()


# --- item 4: load-spool brings the run's row up to date ------------------------------------------------

def test_load_spool_command_completes_the_spooled_run(sqlite_url, tmp_path):
    from crawler.commands.db import load_spool as command

    down = "postgresql+psycopg://scout:s3cret@127.0.0.1:1/none"
    pipeline = warehouse_pipeline(down, tmp_path)
    stats = run_items(pipeline, [profile("a@x.social"), profile("b@x.social"), sighting("a@x.social-0"),
                                 RejectedItem(reason="login_required", payload="<html>")])
    assert stats["microscout/run/status"] == "failed"  # nothing reached the database
    args = argparse.Namespace(database_url=sqlite_url, spool_dir=str(tmp_path / "spool"))
    assert command(args) == 0
    (status, loaded, rejected, checks), = rows(
        sqlite_url, "SELECT status, items_loaded, items_rejected, checks FROM crawl_runs")
    checks = as_dict(checks)
    assert (status, loaded, rejected) == ("ok", 4, 1)
    assert checks["nothing_spooled"]["completed_by"] == "load-spool"
    assert checks["items_loaded"]["passed"] is True


def test_a_database_back_by_the_end_gets_the_runs_final_row(tmp_path):
    """Unusable during the crawl (no tables yet), usable at the end: the row is recorded and
    finished then, never left missing or running; load-spool completes it later."""
    url = f"sqlite:///{tmp_path / 'late.sqlite'}"
    pipeline = warehouse_pipeline(url, tmp_path)
    stats = run_items(pipeline, [profile("a@x.social"), profile("b@x.social")],
                      between=lambda: migrate.upgrade(url))
    assert stats["microscout/warehouse/spooled_items"] == 2
    assert rows(url, "SELECT status, items_loaded FROM crawl_runs") == [("failed", 0)]
    engine = make_engine(url)
    try:
        load_spool(engine, tmp_path / "spool", complete=monitor.complete_after_load_spool)
    finally:
        engine.dispose()
    assert rows(url, "SELECT status, items_loaded FROM crawl_runs") == [("ok", 2)]
    assert rows(url, "SELECT count(*) FROM profiles") == [(2,)]


def test_load_spool_keeps_a_run_degraded_for_other_reasons(sqlite_url, tmp_path):
    checks = {c.name: c for c in monitor.run_checks({
        "microscout/warehouse/received/profile": 10, "microscout/warehouse/spooled_items": 10,
        "microscout/quarantined/total": 5, "response_received_count": 3}, get_crawler().settings)}
    status, completed = monitor.complete_after_load_spool(monitor.as_json(list(checks.values())),
                                                          {"items": 10, "profiles": 10})
    assert status == "degraded"
    assert completed["quarantine_ratio"]["passed"] is False
    assert completed["nothing_spooled"]["passed"] is True


# --- item 5: nothing reached the database ---------------------------------------------------------

def test_a_run_that_loaded_nothing_but_scraped_something_fails(tmp_path):
    down = "postgresql+psycopg://scout@127.0.0.1:1/none"
    pipeline = warehouse_pipeline(down, tmp_path)
    stats = run_items(pipeline, [profile("a@x.social"), sighting("a@x.social-0")])
    assert stats["microscout/warehouse/spooled_items"] == 2
    assert stats["microscout/run/status"] == "failed"


@pytest.mark.slow
def test_scrapy_crawl_into_an_unmigrated_sqlite_file_exits_non_zero(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    settings = {"MICROSCOUT_CASSETTE": CASSETTE, "MICROSCOUT_DATABASE_URL": url,
                "MICROSCOUT_DB_RETRY_DELAY": 0, "MICROSCOUT_SPOOL_DIR": tmp_path / "spool"}
    sets = [part for name, value in settings.items() for part in ("-s", f"{name}={value}")]
    done = subprocess.run([sys.executable, "-m", "scrapy", "crawl", "mastodon", "-a",
                           "instance=http://127.0.0.1:8797", "-a", "tags=stocks", "-a", "max_pages=2",
                           "-a", "recent_posts=5", *sets], cwd=REPO, capture_output=True, text=True,
                          timeout=180, check=False)
    assert done.returncode == 1, done.stderr[-3000:]
    assert "'microscout/run/status': 'failed'" in done.stderr
    assert spool_files(tmp_path / "spool")
