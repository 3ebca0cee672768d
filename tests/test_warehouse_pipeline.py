"""The warehouse pipeline's lifecycle: crawl_runs, batches, and spooling when the database is gone."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from crawler.items import RejectedItem
from models import make_engine
from models.spool import load_spool, spool_files
from pipelines.monitor import complete_after_load_spool
from pipelines.warehouse import safe_arguments
from tests.factories import profile, run_items, sighting, warehouse_pipeline


def _rows(url: str, sql: str):
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).all()
    finally:
        engine.dispose()


ITEMS = [profile("a@x.social"), profile("b@x.social"), sighting("a@x.social-0"),
         RejectedItem(reason="login_required", payload="<html>login</html>")]


def test_run_is_recorded_with_status_stats_and_masked_arguments(sqlite_url, tmp_path):
    pipeline = warehouse_pipeline(sqlite_url, tmp_path)
    run_items(pipeline, ITEMS)
    (spider, status, arguments, loaded, rejected), = _rows(
        sqlite_url, "SELECT spider, status, arguments, items_loaded, items_rejected FROM crawl_runs")
    assert (spider, status, loaded, rejected) == ("unit", "ok", 4, 1)
    assert "hunter2" not in arguments
    assert "***" in arguments
    assert _rows(sqlite_url, "SELECT count(*) FROM profiles") == [(2,)]
    assert pipeline.crawler.stats.get_value("microscout/warehouse/batches") == 2


def test_unreachable_database_spools_everything_and_load_spool_recovers_it(sqlite_url, tmp_path):
    down = "postgresql+psycopg://scout:s3cret@127.0.0.1:1/none"
    pipeline = warehouse_pipeline(down, tmp_path)
    run_items(pipeline, ITEMS)
    files = spool_files(tmp_path / "spool")
    assert len(files) == 1
    assert "s3cret" not in files[0].read_text()
    assert pipeline.crawler.stats.get_value("microscout/warehouse/spooled_items") == 4

    # nothing reached the database: the run failed (issue #12, item 5) ...
    assert pipeline.crawler.stats.get_value("microscout/run/status") == "failed"
    engine = make_engine(sqlite_url)
    totals = load_spool(engine, tmp_path / "spool", complete=complete_after_load_spool)
    engine.dispose()
    assert totals == {"files": 1, "records": 4, "runs": 1}
    assert _rows(sqlite_url, "SELECT count(*) FROM profiles") == [(2,)]
    # ... until load-spool completes it: the spool was its only problem (item 4)
    assert _rows(sqlite_url, "SELECT status, items_loaded FROM crawl_runs") == [("ok", 4)]
    assert spool_files(tmp_path / "spool") == []


def test_database_lost_mid_run_loses_nothing(pg_url, tmp_path):
    """PostgreSQL refuses connections after the first batch; the rest is spooled, then loaded."""
    database = pg_url.rsplit("/", 1)[1]
    admin = create_engine(pg_url.rsplit("/", 1)[0] + "/test", isolation_level="AUTOCOMMIT")

    def lose_database() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false'))
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :d AND pid <> pg_backend_pid()"), {"d": database})

    items = [profile(f"u{n}@x.social") for n in range(6)]
    pipeline = warehouse_pipeline(pg_url, tmp_path)
    try:
        run_items(pipeline, items, between=lose_database)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true'))
        admin.dispose()
    assert pipeline.crawler.stats.get_value("microscout/warehouse/spooled_items") >= 4
    assert _rows(pg_url, "SELECT count(*) FROM profiles") == [(2,)]

    engine = make_engine(pg_url)
    load_spool(engine, tmp_path / "spool")
    engine.dispose()
    assert _rows(pg_url, "SELECT count(*) FROM profiles") == [(6,)]
    assert _rows(pg_url, "SELECT count(*) FROM crawl_runs") == [(1,)]
    assert _rows(pg_url, "SELECT status FROM crawl_runs") == [("degraded",)]


def test_safe_arguments_masks_secrets():
    assert safe_arguments({"tags": "a", "sessionid": "x", "api_key": "y"}) == {
        "tags": "a", "sessionid": "***", "api_key": "***"}
