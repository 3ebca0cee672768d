"""``microscout browse``: Datasette metadata from the table comments, the README's example queries
as canned queries, Datasette itself in-process, and the command serving a real port.

One small warehouse for the module: two crawl runs ten days apart through the real warehouse
pipeline; three accounts on three platforms (two of them one creator) and a hashtag sighting, so
every view and the README's first four queries have rows.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import queue
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from markupsafe import escape

from crawler.browse import (
    SETTINGS,
    build_metadata,
    database_name,
    read_view_columns,
)
from models.db import sqlite_file
from models.examples import EXAMPLE_QUERIES
from models.tables import Base
from models.views import VIEWS
from tests.conftest import PG_ADMIN_URL, REPO, make_pg_database, require_service
from tests.factories import T0, profile, run_items, sighting, warehouse_pipeline
from tests.test_cli import cli, command_env, error_lines

DB = "warehouse"  # Datasette names a database after its file's stem
START_TIMEOUT = 120.0  # a fresh interpreter importing Scrapy and Datasette on a busy machine
STOP_TIMEOUT = 60.0
EXPECTED_FACETS = {
    "influencer_current": ["platform", "tier", "primary_niche"],
    "micro_influencers": ["platform", "primary_niche"],  # tier is 'micro' throughout
    "creator_reach": [],
    "profile_growth": ["platform", "tier"],
}


def accounts(followers: int, at):
    """Alice on Mastodon and Bluesky (one website: one creator), Bob on Pixelfed (nano, food)."""
    site = "https://alice.example.com/"
    return [
        profile("alice@mastodon.social", followers=followers, fetched_at=at, engagement_rate=0.05,
                display_name="Alice Runner", website=site),
        profile("alice.runner", platform="bluesky", followers=3_000, fetched_at=at, engagement_rate=0.04,
                display_name="Alice Runner", website=site),
        profile("bob@pixel.social", platform="pixelfed", followers=500, fetched_at=at, tier="nano",
                primary_niche="food", niches={"food": 0.8}),
    ]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    from models import migrate

    folder = tmp_path_factory.mktemp("browse")
    path = folder / f"{DB}.sqlite"
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    run_items(warehouse_pipeline(url, folder),
              [*accounts(10_000, T0 - timedelta(days=10)), sighting("alice@mastodon.social-0")])
    run_items(warehouse_pipeline(url, folder), accounts(12_000, T0))
    return path


@pytest.fixture(scope="module")
def metadata(warehouse) -> dict:
    return build_metadata(database_name(warehouse), read_view_columns(warehouse))


def fetch(warehouse: Path, metadata: dict, *paths: str) -> dict:
    """Datasette in-process, configured as the command does: path -> response."""
    from datasette.app import Datasette

    async def scenario() -> list:
        ds = Datasette(files=[str(warehouse)], metadata=copy.deepcopy(metadata), settings=SETTINGS)
        await ds.invoke_startup()
        return [await ds.client.get(path) for path in paths]

    return dict(zip(paths, asyncio.run(scenario()), strict=True))


def readme_examples() -> list[tuple[str, str]]:
    """(comment, query without its ';') of README's "Example queries:" block."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Querying the warehouse\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"Example queries:\n\n```sql\n(.*?)\n```", section, re.S)
    assert match, "README's Querying the warehouse section has no Example queries sql block"
    examples = []
    for chunk in match.group(1).split("\n\n"):
        comment, *lines = chunk.splitlines()
        assert comment.startswith("-- "), chunk
        query = "\n".join(lines)
        assert query.endswith(";"), chunk
        examples.append((comment[3:], query[:-1]))
    return examples


# --- metadata ---------------------------------------------------------------------------------


def test_readme_example_queries_are_exactly_the_canned_queries(metadata):
    assert readme_examples() == [(ex.title, ex.sql) for ex in EXAMPLE_QUERIES]
    slugs = [ex.slug for ex in EXAMPLE_QUERIES]
    assert len(set(slugs)) == len(slugs)
    assert all(re.fullmatch(r"[a-z0-9_]+", slug) and slug not in Base.metadata.tables for slug in slugs)
    queries = metadata["databases"][DB]["queries"]
    assert queries == {ex.slug: {"title": ex.title, "sql": ex.sql} for ex in EXAMPLE_QUERIES}


def test_every_table_and_column_is_described_from_its_comment(metadata):
    tables = metadata["databases"][DB]["tables"]
    assert metadata["title"] == "microscout warehouse"
    assert all(view in metadata["description"] for view in VIEWS)
    for table in Base.metadata.tables.values():
        assert tables[table.name]["description"] == table.comment
        assert tables[table.name]["columns"] == {c.name: c.comment for c in table.columns}
        assert all(tables[table.name]["columns"].values()), table.name
    assert tables["alembic_version"] == {"hidden": True}


def test_every_view_column_is_described(warehouse, metadata):
    tables = metadata["databases"][DB]["tables"]
    columns = read_view_columns(warehouse)
    assert list(columns) == list(VIEWS)
    for view, names in columns.items():
        assert tables[view]["description"]
        described = tables[view]["columns"]
        assert sorted(described) == sorted(names), view
        assert all(described.values()), view
    # a column shown as stored keeps the table's comment: one source
    current = tables["influencer_current"]["columns"]
    assert current["followers"] == Base.metadata.tables["profile_snapshots"].c.followers.comment
    assert current["audience_quality"] == Base.metadata.tables["profile_signals"].c.audience_quality.comment
    assert current["platform"] == Base.metadata.tables["profiles"].c.platform.comment
    assert "the taxonomy" in current["primary_niche"]
    assert "30 days" in tables["profile_growth"]["columns"]["baseline_30d_at"]


def test_facets_sort_and_labels(metadata):
    tables = metadata["databases"][DB]["tables"]
    for view, facets in EXPECTED_FACETS.items():
        assert tables[view].get("facets", []) == facets, view
    assert tables["profiles"]["facets"] == ["platform"]
    assert tables["profile_snapshots"]["facets"] == ["tier"]
    assert tables["crawl_runs"]["facets"] == ["platform", "spider", "status"]
    assert tables["influencer_current"]["sort_desc"] == "followers"
    assert tables["creator_reach"]["sort_desc"] == "total_followers"
    assert tables["profiles"]["label_column"] == "handle"
    assert tables["hashtags"]["label_column"] == "tag"


def test_sqlite_file_of_a_url(tmp_path):
    assert sqlite_file(f"sqlite:///{tmp_path}/w.sqlite") == tmp_path / "w.sqlite"
    assert sqlite_file("sqlite:///data/microscout.sqlite") == Path("data/microscout.sqlite")
    assert sqlite_file(f"sqlite+pysqlite:///file:{tmp_path}/w.sqlite?uri=true") == tmp_path / "w.sqlite"
    assert sqlite_file("sqlite://") is None
    assert sqlite_file("sqlite:///:memory:") is None
    with pytest.raises(ValueError, match="not a SQLite URL"):
        sqlite_file("postgresql+psycopg://scout:s3cret@127.0.0.1/x")


# --- Datasette in-process ---------------------------------------------------------------------


def test_datasette_shows_the_views_described_with_rows_and_facets(warehouse, metadata):
    tables = metadata["databases"][DB]["tables"]
    paths = ["/", "/-/metadata.json"]
    for view in VIEWS:
        paths += [f"/{DB}/{view}", f"/{DB}/{view}.json"]
    pages = fetch(warehouse, metadata, *paths)
    assert pages["/"].status_code == 200
    assert "microscout warehouse" in pages["/"].text
    assert pages["/-/metadata.json"].json() == metadata
    for view in VIEWS:
        html, data = pages[f"/{DB}/{view}"], pages[f"/{DB}/{view}.json"]
        assert html.status_code == 200, view
        assert escape(tables[view]["description"]) in html.text
        assert '<dl class="column-descriptions">' in html.text
        assert all(escape(text) in html.text for text in tables[view]["columns"].values()), view
        assert data.status_code == 200, view
        body = data.json()
        assert body["rows"], view
        assert list(body["facet_results"]) == EXPECTED_FACETS[view]
        assert all(facet["results"] for facet in body["facet_results"].values()), view
        assert not body.get("facets_timed_out"), view
    current = pages[f"/{DB}/influencer_current.json"].json()
    followers = [row[current["columns"].index("followers")] for row in current["rows"]]
    assert followers == [12_000, 3_000, 500]  # sort_desc
    platforms = {r["value"]: r["count"] for r in current["facet_results"]["platform"]["results"]}
    assert platforms == {"mastodon": 1, "bluesky": 1, "pixelfed": 1}


def test_datasette_runs_every_canned_query(warehouse, metadata):
    paths = [f"/{DB}"]
    for ex in EXAMPLE_QUERIES:
        paths += [f"/{DB}/{ex.slug}", f"/{DB}/{ex.slug}.json?_shape=objects"]
    pages = fetch(warehouse, metadata, *paths)
    assert pages[f"/{DB}"].status_code == 200
    rows = {}
    for ex in EXAMPLE_QUERIES:
        html, data = pages[f"/{DB}/{ex.slug}"], pages[f"/{DB}/{ex.slug}.json?_shape=objects"]
        assert escape(ex.title) in pages[f"/{DB}"].text  # listed on the database page
        assert html.status_code == 200, ex.slug
        assert escape(ex.title) in html.text
        assert data.status_code == 200, (ex.slug, data.text[:500])
        body = data.json()
        assert body["ok"] is True, ex.slug
        assert body["error"] is None, ex.slug
        rows[ex.slug] = body["rows"]
    assert [r["handle"] for r in rows["fitness_micro_influencers"]] == [
        "alice@mastodon.social", "alice.runner"]
    assert [r["followers"] for r in rows["follower_history"]] == [10_000, 12_000]
    assert rows["hashtags_surfacing_micro_influencers"] == [{"tag": "fitness", "micro_accounts": 1}]
    assert rows["fastest_growing_micro_influencers"][0]["growth_pct"] == 20.0


# --- the command ------------------------------------------------------------------------------


def test_metadata_out_writes_the_metadata_and_serves_nothing(capsys, warehouse, metadata, tmp_path):
    out = tmp_path / "meta" / "metadata.json"
    code, stdout, stderr = cli(capsys, "browse", "--database-url", f"sqlite:///{warehouse}",
                               "--metadata-out", out)
    assert code == 0, stderr
    assert json.loads(out.read_text(encoding="utf-8")) == metadata
    assert stdout == ""


def test_postgresql_is_pointed_at_a_bi_tool(capsys):
    code, stdout, stderr = cli(capsys, "browse", "--database-url",
                               "postgresql+psycopg://scout:s3cret@127.0.0.1:1/x")
    assert code == 2
    [line] = error_lines(stderr)
    assert line.startswith("microscout: error: browse opens SQLite warehouses")
    assert "BI tool (Metabase, Superset, Grafana" in line
    assert "influencer_current" in line
    assert "scout:***@127.0.0.1:1/x" in line
    assert "s3cret" not in stdout + stderr


def test_a_missing_or_foreign_file_exits_2_and_creates_nothing(capsys, tmp_path):
    missing = tmp_path / "nowhere" / "warehouse.sqlite"
    code, _, stderr = cli(capsys, "browse", "--database-url", f"sqlite:///{missing}")
    assert code == 2
    [line] = error_lines(stderr)
    assert f"no SQLite warehouse at {missing}" in line
    assert not missing.parent.exists()

    foreign = tmp_path / "notes.sqlite"
    foreign.write_text("not a database\n", encoding="utf-8")
    code, _, stderr = cli(capsys, "browse", "--database-url", f"sqlite:///{foreign}")
    assert code == 2
    [line] = error_lines(stderr)
    assert "cannot read" in line

    empty = tmp_path / "empty.sqlite"
    with sqlite3.connect(empty) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    code, _, stderr = cli(capsys, "browse", "--database-url", f"sqlite:///{empty}")
    assert code == 2
    [line] = error_lines(stderr)
    assert "no analytics views" in line


class Output:
    """A process's output, read line by line by a thread as it comes."""

    def __init__(self, stream) -> None:
        self.lines: queue.Queue = queue.Queue()
        self.seen: list[str] = []
        self.reader = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.reader.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.put(line)
        self.lines.put(None)  # end of output

    def wait_for(self, pattern: str) -> re.Match:
        """The next line matching ``pattern``, within START_TIMEOUT."""
        deadline = time.monotonic() + START_TIMEOUT
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                pytest.fail("microscout browse ended before that:\n" + "".join(self.seen))
            self.seen.append(line)
            if match := re.search(pattern, line):
                return match
        pytest.fail(f"no line matching {pattern!r} within {START_TIMEOUT} s:\n" + "".join(self.seen))

    def rest(self) -> str:
        """All the output, once the process has ended."""
        self.reader.join(timeout=STOP_TIMEOUT)
        assert not self.reader.is_alive()
        while (line := self.lines.get_nowait()) is not None:
            self.seen.append(line)
        return "".join(self.seen)


@contextmanager
def browse(*argv: object, cwd: Path, env: dict[str, str] | None = None) -> Iterator[tuple]:
    """``microscout browse ARGV`` running: (process, its Output); killed with Datasette at the end."""
    process = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "browse", *map(str, argv)],
        cwd=cwd, env=env or command_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # its own process group: the cleanup reaches Datasette too
    )
    try:
        yield process, Output(process.stdout)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def get_json(url: str) -> dict:
    no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 directly
    with no_proxy.open(url, timeout=60) as response:
        assert response.status == 200
        return json.load(response)


SERVER = r"Started server process \[(\d+)\]"
LISTENING = r"Uvicorn running on (http://127\.0\.0\.1:\d+)"


def test_command_serves_datasette_on_a_free_port_and_stops_with_it(warehouse, metadata, tmp_path):
    with browse("--database-url", f"sqlite:///{warehouse}", "--port", 0, cwd=tmp_path) as (process, output):
        child = int(output.wait_for(SERVER).group(1))
        base = output.wait_for(LISTENING).group(1)
        assert not base.endswith(":0")
        assert get_json(f"{base}/-/metadata.json") == metadata
        current = get_json(f"{base}/{DB}/influencer_current.json?_shape=objects")
        assert [row["followers"] for row in current["rows"]] == [12_000, 3_000, 500]
        assert get_json(f"{base}/{DB}/follower_history.json")["ok"] is True

        process.terminate()  # SIGTERM to microscout: passed on to Datasette, which shuts down
        # uvicorn re-raises the signal once shut down; microscout passes that on as shells do
        assert process.wait(timeout=STOP_TIMEOUT) == 128 + signal.SIGTERM
        with pytest.raises(ProcessLookupError):  # reaped by microscout, not orphaned
            os.kill(child, 0)
        text = output.rest()
    assert "browsing" in text
    assert "Shutting down" in text


def test_open_with_port_0_opens_the_browser_on_the_port_it_serves(warehouse, tmp_path):
    # webbrowser runs $BROWSER with the URL; this one prints it into the output read here
    env = {**command_env(), "BROWSER": f"{sys.executable} -c 'import sys; print(\"opened\", sys.argv[1])' %s"}
    with browse("--database-url", f"sqlite:///{warehouse}", "--port", 0, "--open", cwd=tmp_path,
                env=env) as (process, output):
        opened = output.wait_for(r"^opened (http://127\.0\.0\.1:(\d+)/\S*)")
        base = output.wait_for(LISTENING).group(1)
        assert opened.group(1).startswith(base + "/")
        assert opened.group(2) != "0"
        assert get_json(f"{base}/-/metadata.json")["title"] == "microscout warehouse"
        process.terminate()
        assert process.wait(timeout=STOP_TIMEOUT) == 128 + signal.SIGTERM


# --- PostgreSQL ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_warehouse():
    from models import migrate

    require_service("PostgreSQL", "127.0.0.1", 5432)
    with make_pg_database(PG_ADMIN_URL) as url:
        migrate.upgrade(url)
        yield url


@pytest.mark.postgres
@pytest.mark.parametrize("example", [pytest.param(ex, id=ex.slug) for ex in EXAMPLE_QUERIES])
def test_example_query_runs_on_postgresql(pg_warehouse, example):
    from sqlalchemy import create_engine, text

    engine = create_engine(pg_warehouse)
    try:
        with engine.connect() as conn:
            conn.execute(text(example.sql)).fetchall()
    finally:
        engine.dispose()
