"""microscout report: what the HTML file holds, read back without a browser (tests/test_demo.py
opens the demo's report in Chromium)."""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from crawler.commands.report import parse_since
from crawler.htmlreport import ReportFilters, write_report
from crawler.htmlreport.data import box
from crawler.htmlreport.spark import sparkline
from models import make_engine
from tests.factories import T0, profile, run_items, sighting, warehouse_pipeline
from tests.test_cli import command_env

HOSTILE = "mal</script><script>alert(1)</script>"
CHARTS = ("chart-tiers", "chart-engagement", "chart-scatter", "chart-hashtags", "chart-runs",
          "chart-quarantine")


def specs_of(page: str) -> dict:
    found = re.search(r'<script type="application/json" id="chart-specs">(.*?)</script>', page, re.S)
    assert found, "no chart specs in the page"
    return json.loads(found.group(1))


def named(specs: dict, chart: str, name: str) -> list[dict]:
    return specs[chart]["datasets"][name]


def accounts() -> list:
    """Six accounts on two platforms: micro ones in two niches, a nano and a macro one, and one
    whose handle and profile URL try to break out of the page."""
    return [
        profile("ana@fit.social", 12_000, engagement_rate=0.05, posts=2),
        profile("bo@fit.social", 40_000, engagement_rate=0.02, posts=2),
        profile("cy@cook.social", 8_000, engagement_rate=0.04, primary_niche="food", niches={"food": 0.9},
                posts=2),
        profile("tiny@fit.social", 300, engagement_rate=0.09, tier="nano", posts=2),
        profile("big", 500_000, platform="bluesky", engagement_rate=0.01, tier="macro", posts=2),
        profile(HOSTILE, 20_000, platform="bluesky", engagement_rate=0.03, posts=2,
                profile_url="javascript:alert(1)"),
    ]


@pytest.fixture
def warehouse(warehouse_url, tmp_path) -> str:
    """Two runs three days apart: bo@fit.social gains 10% in between; one sighting."""
    first = accounts()
    run_items(warehouse_pipeline(warehouse_url, tmp_path / "one"), [*first, sighting("ana@fit.social-0")])
    later = [item for item in accounts() if item.handle in ("ana@fit.social", "bo@fit.social")]
    for item in later:
        item.fetched_at = T0 + timedelta(days=3)
        if item.handle == "bo@fit.social":
            item.followers = 44_000
    run_items(warehouse_pipeline(warehouse_url, tmp_path / "two"), later)
    return warehouse_url


def report(url: str, tmp_path: Path, filters: ReportFilters | None = None, **kw) -> tuple[str, object]:
    engine = make_engine(url)
    try:
        out = tmp_path / "out" / "report.html"
        stats = write_report(engine, out, filters or ReportFilters(since=None), warehouse_label="test",
                             now=T0 + timedelta(days=4), **kw)
    finally:
        engine.dispose()
    return out.read_text(encoding="utf-8"), stats


def test_report_holds_every_section_offline(warehouse, tmp_path):
    page, stats = report(warehouse, tmp_path)
    assert stats.accounts == 6
    assert stats.bytes == len(page.encode("utf-8"))
    # self-contained: no script, style or image is fetched from anywhere (script bodies aside:
    # the inlined Vega bundle holds such strings)
    markup = re.sub(r"(<script[^>]*>).*?</script>", r"\1</script>", page, flags=re.S)
    assert markup.count("<script") == 3
    assert not re.search(r"<(script|img|link|iframe|source|object)\b[^>]*\b(src|href|data)=", markup)
    assert "@import" not in markup
    assert "vegaEmbed" in page
    specs = specs_of(page)
    assert set(specs) == set(CHARTS)
    tiers = {(row["tier"], row["platform"]): row["accounts"] for row in named(specs, "chart-tiers", "tiers")}
    assert tiers == {("micro", "mastodon"): 3, ("nano", "mastodon"): 1, ("macro", "bluesky"): 1,
                     ("micro", "bluesky"): 1}
    boxes = {row["tier"]: row for row in named(specs, "chart-engagement", "boxes")}
    assert boxes["micro"]["accounts"] == 4
    assert boxes["micro"]["median"] == pytest.approx(0.035)
    assert len(named(specs, "chart-scatter", "scatter")) == 6
    assert named(specs, "chart-hashtags", "hashtags") == [{"tag": "fitness", "accounts": 1, "sightings": 1}]
    assert [row["status"] for row in named(specs, "chart-runs", "runs")] == ["ok", "ok"]
    # the top table: micro-influencers per niche by engagement, with the growth of the window
    assert page.index(">ana@fit.social<") < page.index(">bo@fit.social<")
    assert "+10.0%" in page  # bo: 40,000 -> 44,000 in the window (table and growth list)
    assert 'id="growers-7d"' in page
    assert "<polyline" in page  # bo's and ana's sparklines have two snapshots


def test_crawled_text_cannot_break_out_of_the_page(warehouse, tmp_path):
    page, _ = report(warehouse, tmp_path)
    assert "<script>alert(1)" not in page
    assert "mal&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the table cell
    assert 'href="javascript:' not in page
    specs = specs_of(page)  # the JSON still parses and holds the handle as it is
    assert HOSTILE in {row["handle"] for row in named(specs, "chart-scatter", "scatter")}


def test_filters_narrow_every_section(warehouse, tmp_path):
    page, stats = report(warehouse, tmp_path, ReportFilters(niche="fitness", platform="mastodon", since=None))
    assert stats.accounts == 3  # ana, bo, tiny
    assert "niche fitness; platform mastodon" in page
    specs = specs_of(page)
    assert {row["platform"] for row in named(specs, "chart-scatter", "scatter")} == {"mastodon"}
    assert ">cy@cook.social<" not in page
    # the window: only ana and bo were seen in the last two days
    _, recent = report(warehouse, tmp_path, ReportFilters(since=timedelta(days=2)))
    assert recent.accounts == 2


def test_filter_matching_nothing_names_what_exists(warehouse, tmp_path):
    page, stats = report(warehouse, tmp_path, ReportFilters(niche="knitting", since=None))
    assert stats.accounts == 0
    assert "No account matches these filters" in page
    assert "niches: fitness, food" in page


def test_scatter_is_sampled_and_says_so(warehouse, tmp_path):
    page, stats = report(warehouse, tmp_path, max_points=4)
    assert (stats.points, stats.sampled) == (4, True)
    specs = specs_of(page)
    assert len(named(specs, "chart-scatter", "scatter")) == 4
    assert "4 of 6 accounts drawn: a uniform random sample" in json.dumps(specs["chart-scatter"]["title"])
    again, _ = report(warehouse, tmp_path, max_points=4)
    assert named(specs_of(again), "chart-scatter", "scatter") == named(specs, "chart-scatter", "scatter")


def test_empty_warehouse_still_writes_a_report(sqlite_url, tmp_path):
    page, stats = report(sqlite_url, tmp_path)
    assert stats.accounts == 0
    assert "No account matches" in page
    assert set(specs_of(page)) == set(CHARTS)


def test_box_is_exact():
    stats = box("micro", [0.01, 0.02, 0.03, 0.04, 0.05, 0.5])
    assert stats["median"] == pytest.approx(0.035)
    assert (stats["q1"], stats["q3"]) == (pytest.approx(0.0225), pytest.approx(0.0475))
    assert stats["high"] == 0.05  # 0.5 lies beyond 1.5 IQR: not a whisker, counted outside
    assert stats["outside"] == 1
    assert box("mega", [0.02])["median"] == 0.02


def test_sparkline_scales_to_its_box_and_escapes():
    line = sparkline([(T0, 100), (T0 + timedelta(days=1), 150), (T0 + timedelta(days=3), 120)])
    points = re.search(r'points="([^"]+)"', line).group(1).split()
    assert len(points) == 3
    xs = [float(p.split(",")[0]) for p in points]
    ys = [float(p.split(",")[1]) for p in points]
    assert xs[0] < xs[1] < xs[2]
    assert ys[1] == min(ys)  # the highest count is drawn at the top
    assert "100 followers on 2026-11-01, 120 on 2026-11-04 (3 snapshots)" in line
    assert "<circle" in sparkline([(T0, 5)])
    assert sparkline([]) == ""


def test_since_spans():
    assert parse_since("30d") == timedelta(days=30)
    assert parse_since("12h") == timedelta(hours=12)
    assert parse_since("2w") == timedelta(weeks=2)
    assert parse_since("all") is None
    for bad in ("0d", "30", "d", "3y", "-1d"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_since(bad)


def microscout(*argv: object, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crawler.cli", *map(str, argv)], cwd=cwd,
                          env=command_env(), capture_output=True, text=True, timeout=120, check=False)


def test_report_command(sqlite_url, tmp_path):
    out = tmp_path / "r" / "report.html"
    done = microscout("report", "--database-url", sqlite_url, "--output", out, "--since", "7d", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out.resolve())  # the path alone on stdout, for scripts
    assert "0 accounts" in done.stderr
    assert "accounts seen and runs started in the last 7 days" in out.read_text(encoding="utf-8")


@pytest.mark.parametrize(("argv", "message"), [
    (("--since", "soon"), "expected a span like 30d"),
    (("--output", "."), "is a directory"),
    (("--max-points", "0"), "--max-points must be at least 1"),
    (("--database-url", "postgresql+psycopg://u:secret@127.0.0.1:1/db"), "***"),
])
def test_report_command_refuses_in_one_line(sqlite_url, tmp_path, argv, message):
    args = ["report", "--database-url", sqlite_url, "--output", tmp_path / "r.html"]
    done = microscout(*args, *argv, cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr
    assert "secret" not in done.stderr
    assert not (tmp_path / "r.html").exists()


def test_report_needs_a_migrated_warehouse(tmp_path):
    missing = tmp_path / "none.sqlite"
    done = microscout("report", "--database-url", f"sqlite:///{missing}", "--output", tmp_path / "r.html",
                      cwd=tmp_path)
    assert done.returncode == 2
    assert "no SQLite warehouse at" in done.stderr
    assert not missing.exists()  # not created empty
    foreign = tmp_path / "other.sqlite"
    sqlite3.connect(foreign).close()
    done = microscout("report", "--database-url", f"sqlite:///{foreign}", "--output", tmp_path / "r.html",
                      cwd=tmp_path)
    assert done.returncode == 2
    assert "has no analytics views" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_failed_write_leaves_no_file(warehouse, tmp_path, monkeypatch):
    """A full disk: the OSError reaches the command (exit 1), and no partial file stays."""
    def full(self, *args, **kwargs):
        self.open("w").close()  # created, then the disk fills
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(OSError, match="No space"):
        report(warehouse, tmp_path)
    assert list((tmp_path / "out").iterdir()) == []
