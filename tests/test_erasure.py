"""Erasure and opt-out (issue #12, item 17).

``microscout forget`` deletes every row about an account in one transaction on SQLite and
PostgreSQL and adds it to ``suppressed_accounts``; the loader never loads a suppressed account
again (one look-up per batch); raw quarantine payloads expire after
``MICROSCOUT_RAW_RETENTION_DAYS`` (``microscout db purge-raw``).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from crawler.cli import main
from crawler.items import HashtagSightingItem, RejectedItem
from models import analytics, erasure, loader, make_engine
from models.tables import Base, RejectedRecord
from pipelines.warehouse import item_record
from tests.factories import T0, post, profile

ALICE, BOB = "alice@example.social", "bob@example.social"
ALICE_ID = "109876"
ERASED = {"profiles": 1, "profile_snapshots": 2, "profile_niches": 2, "profile_signals": 2,
          "profile_vectors": 0, "similar_accounts": 2, "creator_links": 0, "creator_accounts": 0,
          "posts": 4, "post_hashtags": 8, "hashtag_sightings": 2, "rejected_items": 5}


def _sighting(post_id: str, author: str | None, tag: str = "fitness") -> HashtagSightingItem:
    return HashtagSightingItem(platform="mastodon", hashtag=tag, post_id=post_id, author_handle=author,
                               position=0, listing="recent", seen_at=T0)


def _alice(**kw):
    problems = [{"reason": "unreadable_count", "field": "likes", "raw": "x", "post_id": f"{ALICE}-0"}]
    return profile(ALICE, platform_user_id=ALICE_ID, problems=problems, **kw)


def _load(url: str, items, run_key: str | None = None) -> dict:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            run_id = loader.start_run(conn, {"run_key": run_key or str(uuid.uuid4()), "spider": "test"})
            return loader.load_batch(conn, run_id, [item_record(i) for i in items], spider="test")
    finally:
        engine.dispose()


def _counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                    for t in Base.metadata.sorted_tables}
    finally:
        engine.dispose()


def _rows(url: str, sql: str, **params) -> list:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            return conn.execute(text(sql), params).all()
    finally:
        engine.dispose()


def _forget(url: str, handle: str = ALICE, **kw) -> dict[str, int]:
    engine = make_engine(url)
    try:
        return erasure.forget(engine, "mastodon", handle, **kw)
    finally:
        engine.dispose()


@pytest.fixture
def populated(warehouse_url) -> str:
    return _populate(warehouse_url)


def _populate(url: str) -> str:
    """Alice (two runs) and Bob, with posts, sightings and quarantine rows naming each."""
    _load(url, [
        _alice(),
        profile(BOB, posts=2),
        post(9, ALICE),  # a post seen on its own, linked to Alice through author_handle
        _sighting(f"{ALICE}-0", ALICE),
        _sighting(f"{ALICE}-1", None),  # no author shown: found by the post id
        _sighting(f"{BOB}-0", BOB),
        RejectedItem(reason="unreadable_count", payload={"handle": ALICE, "followers": "abc"}),
        RejectedItem(reason="bad_json", payload={"account": {"id": ALICE_ID, "acct": "alice"}}),
        RejectedItem(reason="login_required", payload="<html>log in</html>",
                     source_url="https://example.social/@alice"),
        RejectedItem(reason="unreadable_count", payload={"handle": BOB}),
        RejectedItem(reason="unreadable_count", payload={"handle": "malice@example.social"}),
        RejectedItem(reason="bad_json", payload={"account": {"id": ALICE_ID + "5"}}),
    ])
    _load(url, [_alice()])  # a second run: another snapshot, another problem row
    engine = make_engine(url)
    try:
        for run_id in (1, 2):  # the signals a crawl computes when it closes
            analytics.refresh(engine, run_id)
    finally:
        engine.dispose()
    return url


# --- forget --------------------------------------------------------------------------------------


def test_forget_deletes_every_row_about_the_account_and_suppresses_it(populated):
    before = _counts(populated)
    assert _forget(populated, reason="GDPR request 42") == ERASED

    after = _counts(populated)
    assert {table: before[table] - after[table] for table in ERASED} == ERASED
    assert _rows(populated, "SELECT handle FROM profiles") == [(BOB,)]
    assert {r[0] for r in _rows(populated, "SELECT author_handle FROM posts")} == {BOB}
    assert _rows(populated, "SELECT post_id FROM hashtag_sightings") == [(f"{BOB}-0",)]
    assert len(_rows(populated, "SELECT id FROM rejected_items")) == 3  # Bob, malice, another id
    assert _rows(populated, "SELECT platform, handle, platform_user_id, reason FROM suppressed_accounts"
                 ) == [("mastodon", ALICE, ALICE_ID, "GDPR request 42")]


def test_dry_run_reports_the_same_counts_and_changes_nothing(populated):
    before = _counts(populated)
    assert _forget(populated, dry_run=True) == ERASED
    assert _counts(populated) == before
    assert _forget(populated) == ERASED


def test_forget_is_one_transaction(populated):
    """A failure at the last step (adding to the suppression list) leaves every row in place."""
    before = _counts(populated)
    engine = make_engine(populated)
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("CREATE TRIGGER boom BEFORE INSERT ON suppressed_accounts "
                                     "BEGIN SELECT RAISE(ABORT, 'boom'); END")
            else:
                conn.exec_driver_sql("CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS "
                                     "$$ BEGIN RAISE EXCEPTION 'boom'; END $$")
                conn.exec_driver_sql("CREATE TRIGGER boom BEFORE INSERT ON suppressed_accounts "
                                     "FOR EACH ROW EXECUTE FUNCTION boom()")
        with pytest.raises(DBAPIError, match="boom"):
            erasure.forget(engine, "mastodon", ALICE)
    finally:
        engine.dispose()
    assert _counts(populated) == before


def test_forget_by_platform_user_id_and_again_keeps_one_suppression_row(populated):
    assert _forget(populated, ALICE_ID) == ERASED  # a DID or channel id names the account too
    assert _rows(populated, "SELECT handle, platform_user_id FROM suppressed_accounts") == [
        (ALICE, ALICE_ID)]
    assert _forget(populated, ALICE, reason="second request") == dict.fromkeys(ERASED, 0)
    assert _rows(populated, "SELECT handle, platform_user_id, reason FROM suppressed_accounts") == [
        (ALICE, ALICE_ID, "second request")]


def test_forgetting_an_account_never_crawled_still_suppresses_it(warehouse_url):
    assert _forget(warehouse_url, "carol@example.social") == dict.fromkeys(ERASED, 0)
    counts = _load(warehouse_url, [profile("carol@example.social")])
    assert (counts["profiles"], counts["suppressed"]) == (0, 1)
    assert _counts(warehouse_url)["profiles"] == 0


# --- the loader honours the suppression list -----------------------------------------------------


def test_loader_drops_suppressed_accounts_by_handle_and_by_user_id(warehouse_url):
    _load(warehouse_url, [profile("carol@example.social", platform_user_id="c-1")])
    _forget(warehouse_url, "carol@example.social")
    _forget(warehouse_url, ALICE)  # an opt-out before the account was ever crawled

    bob = profile(BOB, recent_posts=[post(0, BOB), post(5, ALICE)])  # Bob's list shows an Alice post
    counts = _load(warehouse_url, [
        _alice(),
        profile("carol.renamed@example.social", platform_user_id="c-1"),  # renamed: same id
        bob,
        post(7, ALICE),
        _sighting(f"{ALICE}-0", ALICE),
        _sighting(f"{ALICE}-1", None),  # a post of Alice's profile in this batch
        _sighting(f"{BOB}-0", BOB),
        RejectedItem(reason="unreadable_count", platform="mastodon", payload={"handle": ALICE}),
        RejectedItem(reason="unreadable_count", platform="mastodon",
                     payload={"handle": "x", "platform_user_id": "c-1"}),
        RejectedItem(reason="unreadable_count", platform="mastodon", payload={"handle": BOB}),
    ])
    # Alice, Carol, Alice's post in Bob's list, Alice's own post, 2 sightings, 2 quarantine rows
    assert counts["suppressed"] == 8
    assert (counts["profiles"], counts["posts"], counts["sightings"], counts["rejected"]) == (1, 1, 1, 1)
    assert _rows(warehouse_url, "SELECT handle FROM profiles") == [(BOB,)]
    assert _rows(warehouse_url, "SELECT post_id FROM posts") == [(f"{BOB}-0",)]
    assert _rows(warehouse_url, "SELECT post_id FROM hashtag_sightings") == [(f"{BOB}-0",)]
    assert len(_rows(warehouse_url, "SELECT id FROM rejected_items")) == 1


def test_a_spool_loaded_after_forget_honours_it(tmp_path, sqlite_url):
    """Batches spooled while the database was down, loaded after the account was forgotten."""
    from crawler.values import to_jsonable
    from models.spool import load_spool

    _forget(sqlite_url, ALICE)
    run = {"run_key": str(uuid.uuid4()), "spider": "mastodon"}
    spool = tmp_path / "spool"
    spool.mkdir()
    lines = [json.dumps(to_jsonable({"run": run, **item_record(item)}))
             for item in (_alice(), profile(BOB), _sighting(f"{ALICE}-0", ALICE))]
    (spool / f"{run['run_key']}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    engine = make_engine(sqlite_url)
    try:
        assert load_spool(engine, spool)["records"] == 3
    finally:
        engine.dispose()
    assert _rows(sqlite_url, "SELECT handle FROM profiles") == [(BOB,)]
    assert _rows(sqlite_url, "SELECT count(*) FROM hashtag_sightings") == [(0,)]


def test_loader_without_suppressions_loads_everything(warehouse_url):
    counts = _load(warehouse_url, [_alice(), _sighting(f"{ALICE}-0", ALICE)])
    assert (counts["profiles"], counts["sightings"], counts["suppressed"]) == (1, 1, 0)


def test_loader_looks_the_suppression_list_up_once_per_batch(warehouse_url):
    _forget(warehouse_url, "someone@example.social")
    items = [profile(f"user{n}@example.social", posts=2) for n in range(500)]
    items += [_sighting(f"user{n}@example.social-0", f"user{n}@example.social") for n in range(500)]
    engine = make_engine(warehouse_url)
    lookups: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and "suppressed_accounts" in statement:
            lookups.append(statement)

    try:
        with engine.begin() as conn:
            run_id = loader.start_run(conn, {"run_key": str(uuid.uuid4()), "spider": "test"})
            counts = loader.load_batch(conn, run_id, [item_record(i) for i in items])
    finally:
        engine.dispose()
    assert counts["profiles"] == 500
    assert len(lookups) == 1


def _probe_write_lock(engine, url: str, table: str) -> list[bool]:
    """After each SELECT on ``table`` through ``engine``: does the database's write lock stand
    (another connection cannot BEGIN IMMEDIATE)?"""
    path = make_url(url).database
    locked: list[bool] = []

    @event.listens_for(engine, "after_cursor_execute")
    def probe(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and f"FROM {table}" in statement:
            other = sqlite3.connect(path, timeout=0)
            try:
                other.execute("BEGIN IMMEDIATE")
                other.rollback()
                locked.append(False)
            except sqlite3.OperationalError:
                locked.append(True)
            finally:
                other.close()

    return locked


def test_sqlite_loader_reads_the_suppression_list_under_the_write_lock(sqlite_url):
    """A forget that commits between the look-up and the inserts would be undone: on SQLite the
    look-up runs only once the batch holds the database's write lock."""
    engine = make_engine(sqlite_url)
    locked = _probe_write_lock(engine, sqlite_url, "suppressed_accounts")
    try:
        with engine.begin() as conn:
            run_id = loader.start_run(conn, {"run_key": str(uuid.uuid4()), "spider": "test"})
        with engine.begin() as conn:
            loader.load_batch(conn, run_id, [item_record(_sighting("p-1", ALICE))])
    finally:
        engine.dispose()
    assert locked == [True]


def test_sqlite_forget_reads_under_the_write_lock(sqlite_url):
    """Forget finds the rows to delete only once it holds the write lock, so a batch in flight
    has committed (and is seen) or waits for forget (and then sees the suppression)."""
    engine = make_engine(_populate(sqlite_url))
    locked = _probe_write_lock(engine, sqlite_url, "profiles")
    try:
        erasure.forget(engine, "mastodon", ALICE)
    finally:
        engine.dispose()
    assert locked
    assert all(locked)


def test_sqlite_forget_waits_for_a_batch_in_flight(sqlite_url):
    """Alice's batch is written but not committed when forget starts: forget sees it."""
    loading, forgetting = make_engine(sqlite_url), make_engine(sqlite_url)
    started = threading.Event()
    result: dict = {}

    @event.listens_for(forgetting, "before_cursor_execute")
    def first_statement(*_args):
        started.set()

    def run_forget():
        try:
            result["counts"] = erasure.forget(forgetting, "mastodon", ALICE)
        except Exception as exc:  # reported below
            result["error"] = exc

    try:
        with loading.begin() as conn:
            run_id = loader.start_run(conn, {"run_key": str(uuid.uuid4()), "spider": "test"})
        conn = loading.connect()
        batch = conn.begin()
        loader.load_batch(conn, run_id, [item_record(_alice())])
        worker = threading.Thread(target=run_forget)
        worker.start()
        assert started.wait(30), "forget never started"
        batch.commit()
        conn.close()
        worker.join(60)
    finally:
        loading.dispose()
        forgetting.dispose()
    assert "error" not in result, result.get("error")
    assert result["counts"]["profiles"] == 1
    assert _counts(sqlite_url)["profiles"] == 0


@pytest.mark.postgres
def test_postgres_forget_waits_for_a_batch_in_flight(pg_url):
    """A batch that read the suppression list before forget started holds forget back until it
    commits; forget then deletes what it wrote, and later batches see the suppression."""
    loading, forgetting = make_engine(pg_url), make_engine(pg_url)
    result: dict = {}

    def run_forget():
        try:
            result["counts"] = erasure.forget(forgetting, "mastodon", ALICE)
        except Exception as exc:  # reported below
            result["error"] = exc

    waiting = ("SELECT count(*) FROM pg_locks WHERE NOT granted "
               "AND relation = 'suppressed_accounts'::regclass")
    try:
        with loading.begin() as conn:
            run_id = loader.start_run(conn, {"run_key": str(uuid.uuid4()), "spider": "test"})
        conn = loading.connect()
        batch = conn.begin()
        loader.load_batch(conn, run_id, [item_record(_alice())])
        worker = threading.Thread(target=run_forget)
        worker.start()
        deadline = time.monotonic() + 30
        while not _rows(pg_url, waiting)[0][0]:
            assert worker.is_alive(), f"forget did not wait for the batch in flight: {result}"
            assert time.monotonic() < deadline, "forget neither waited nor finished"
            time.sleep(0.05)
        batch.commit()
        conn.close()
        worker.join(60)
        later = _load(pg_url, [_alice()])
    finally:
        loading.dispose()
        forgetting.dispose()
    assert "error" not in result, result.get("error")
    assert result["counts"]["profiles"] == 1
    assert later["suppressed"] == 1
    assert _counts(pg_url)["profiles"] == 0


# --- raw payload retention -----------------------------------------------------------------------


def _quarantine_rows(url: str) -> None:
    """Three quarantine rows: 40 days old with a payload, 40 days old without one, fresh."""
    _load(url, [RejectedItem(reason="old", payload={"body": "raw"}),
                RejectedItem(reason="old_empty", payload=None),
                RejectedItem(reason="new", payload={"body": "raw"})])
    engine = make_engine(url)
    try:
        table = loader.table_of(RejectedRecord)
        with engine.begin() as conn:
            conn.execute(update(table).where(table.c.reason != "new")
                         .values(created_at=loader.utcnow() - timedelta(days=40)))
    finally:
        engine.dispose()


def _payloads(url: str) -> dict:
    """reason -> payload of the quarantine rows that still hold one (JSON null is none)."""
    table = loader.table_of(RejectedRecord)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(table.c.reason, table.c.payload)).all()
    finally:
        engine.dispose()
    return {reason: payload for reason, payload in rows if payload is not None}


def test_purge_raw_clears_old_payloads_and_keeps_the_rows(warehouse_url):
    _quarantine_rows(warehouse_url)
    engine = make_engine(warehouse_url)
    try:
        with engine.begin() as conn:
            assert erasure.purge_raw(conn, 30) == 1
        with engine.begin() as conn:
            assert erasure.purge_raw(conn, 30) == 0
    finally:
        engine.dispose()
    assert set(_payloads(warehouse_url)) == {"new"}
    assert _rows(warehouse_url, "SELECT reason, detail FROM rejected_items WHERE payload IS NULL") == [
        ("old", None)]  # SQL NULL, the row and its reason kept
    assert {r[0] for r in _rows(warehouse_url, "SELECT reason FROM rejected_items")} == {
        "old", "old_empty", "new"}


@pytest.mark.parametrize(("value", "days"), [(None, None), ("", None), ("30", 30), (7, 7), ("0", 0)])
def test_retention_days(value, days):
    assert erasure.retention_days(value) == days


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", True])
def test_retention_days_refuses_nonsense(value):
    with pytest.raises(ValueError, match="MICROSCOUT_RAW_RETENTION_DAYS"):
        erasure.retention_days(value)


# --- the commands --------------------------------------------------------------------------------


def cli(capsys, *argv: object) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def test_forget_command_dry_run_then_for_real(capsys, populated):
    before = _counts(populated)
    code, out, err = cli(capsys, "forget", "mastodon", "@Alice@Example.Social", "--dry-run",
                         "--database-url", populated)
    assert code == 0, err
    assert "dry run" in out
    assert "profile_snapshots" in out
    assert " 2\n" in out
    assert _counts(populated) == before

    code, out, err = cli(capsys, "forget", "mastodon", "alice@example.social", "--reason", "ticket 7",
                         "--database-url", populated)
    assert code == 0, err
    assert f"total {sum(ERASED.values())}" in " ".join(out.split())
    assert _rows(populated, "SELECT handle, reason FROM suppressed_accounts") == [(ALICE, "ticket 7")]


@pytest.mark.parametrize(("argv", "message"), [
    (["forget", "myspace", "alice"], "invalid choice"),
    (["forget", "mastodon", "alice"], "user@instance"),
    (["forget", "instagram", "  @ "], "not a handle"),
])
def test_forget_command_refuses_bad_arguments(capsys, tmp_path, argv, message):
    code, _out, err = cli(capsys, *argv, "--database-url", f"sqlite:///{tmp_path / 'w.sqlite'}")
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_forget_command_unreachable_database(capsys):
    code, _out, err = cli(capsys, "forget", "instagram", "bob", "--database-url",
                          "postgresql+psycopg://scout:s3cret@127.0.0.1:1/x")
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "s3cret" not in err


def test_dry_run_on_a_missing_sqlite_file_creates_nothing(capsys, tmp_path):
    path = tmp_path / "none" / "w.sqlite"
    code, _out, err = cli(capsys, "forget", "instagram", "bob", "--dry-run", "--database-url",
                          f"sqlite:///{path}")
    assert code == 2
    assert "no warehouse" in err
    assert not path.parent.exists()


def test_db_purge_raw_command(capsys, monkeypatch, warehouse_url):
    _quarantine_rows(warehouse_url)
    code, _out, err = cli(capsys, "db", "purge-raw", "--database-url", warehouse_url)
    assert code == 2
    assert "MICROSCOUT_RAW_RETENTION_DAYS" in err

    monkeypatch.setattr("crawler.settings.MICROSCOUT_RAW_RETENTION_DAYS", "90", raising=False)
    code, _out, err = cli(capsys, "db", "purge-raw", "--database-url", warehouse_url)
    assert code == 0, err
    assert set(_payloads(warehouse_url)) == {"old", "new"}  # 40 days < 90

    code, _out, err = cli(capsys, "db", "purge-raw", "--days", "30", "--database-url", warehouse_url)
    assert code == 0, err
    assert "1 quarantine row" in err
    assert set(_payloads(warehouse_url)) == {"new"}

    code, _out, err = cli(capsys, "db", "purge-raw", "--days", "-3", "--database-url", warehouse_url)
    assert code == 2


# --- end to end: sweep, forget, sweep again ------------------------------------------------------

FAST = {"MICROSCOUT_DB_RETRY_DELAY": 0, "RETRY_TIMES": 6, "LOG_LEVEL": "INFO",
        "MICROSCOUT_RATELIMIT_DEFAULT_WAIT": 0.05, "DOWNLOAD_DELAY": 0}


@pytest.fixture(scope="module")
def resweep(tmp_path_factory):
    """Sweep the sandbox; forget one account and age a quarantine row by 40 days; sweep again
    with MICROSCOUT_RAW_RETENTION_DAYS=30. (warehouse URL, forgotten handle, second crawl)"""
    from crawler.sandbox.server import SandboxProcess
    from crawler.sandbox.world import World
    from models import migrate
    from tests.crawl_helpers import run_spider

    base = tmp_path_factory.mktemp("erasure")
    url = f"sqlite:///{base / 'w.sqlite'}"
    migrate.upgrade(url)
    tags = World(120, 5).tags()
    tag = max(tags, key=lambda t: (tags[t], t))
    settings = {**FAST, "MICROSCOUT_DATABASE_URL": url, "MICROSCOUT_SPOOL_DIR": str(base / "spool")}
    with SandboxProcess(accounts=120, seed=5, rate_limit=1_000_000) as sandbox:
        def sweep(**extra):
            return run_spider("mastodon", {**settings, **extra}, use_project_settings=True,
                              instance=sandbox.base_url, tags=tag, max_pages=2, recent_posts=5)

        sweep()
        handle = _rows(url, "SELECT handle FROM profiles ORDER BY handle LIMIT 1")[0][0]
        assert main(["forget", "mastodon", handle, "--database-url", url]) == 0
        _quarantine_rows(url)
        second = sweep(MICROSCOUT_RAW_RETENTION_DAYS=30)
    return url, handle, second


@pytest.mark.slow
def test_a_later_crawl_never_loads_a_forgotten_account(resweep):
    url, handle, second = resweep
    assert handle in {item.get("handle") for item in second if "followers" in item}  # crawled again
    assert _rows(url, "SELECT count(*) FROM profiles WHERE handle = :h", h=handle) == [(0,)]
    assert _rows(url, "SELECT count(*) FROM posts WHERE author_handle = :h", h=handle) == [(0,)]
    assert _rows(url, "SELECT count(*) FROM hashtag_sightings WHERE author_handle = :h", h=handle) == [(0,)]
    assert _rows(url, "SELECT count(*) FROM profiles")[0][0] > 0
    assert _rows(url, "SELECT status FROM crawl_runs WHERE spider = 'mastodon'") == [("ok",), ("ok",)]


@pytest.mark.slow
def test_the_skipped_items_are_counted_in_the_run_stats(resweep):
    url, _handle, second = resweep
    skipped = second.stats.get("microscout/warehouse/suppressed_skipped")
    assert skipped
    stats = _rows(url, "SELECT stats FROM crawl_runs ORDER BY id DESC LIMIT 1")[0][0]
    assert f'"microscout/warehouse/suppressed_skipped": {skipped}' in stats


@pytest.mark.slow
def test_the_end_of_a_run_clears_old_raw_payloads(resweep):
    url, _handle, _second = resweep
    assert set(_payloads(url)) == {"new"}
