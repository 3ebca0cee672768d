"""Report: ``microscout report`` (crawler.htmlreport) on a synthetic warehouse
(benchmarks/synthetic.py) at two sizes; build time, file size and points drawn, against the target
of the report issue: the report of a 50,000-account warehouse builds in under 30 s and stays under
10 MB.

The warehouse is synthetic: the report only reads it, and crawling 50,000 sandbox accounts for
several days would take hours. Each size is built, then the report written twice: without filters
and for one niche. Seconds per 1,000 accounts at the large size over the small one shows whether the
build grows faster than the data.

    python -m benchmarks.report [--small 5000] [--large 50000] [--db sqlite] [--niche fitness]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import Row, Timer, check, db_label, print_table, say, scratch_dir, warehouse
from benchmarks.synthetic import synthetic_warehouse

TARGET_SECONDS = 30.0
TARGET_MB = 10.0


@dataclass
class Build:
    seconds: float            # write_report, wall clock
    mb: float
    stats: Any                # crawler.htmlreport.ReportStats


@dataclass
class Measure:
    accounts: int
    generate_seconds: float
    full: Build               # no filters
    niche: Build              # one niche


def build(engine: Any, url: str, out: Path, niche: str | None, max_points: int) -> Build:
    from crawler.htmlreport import ReportFilters, write_report
    from models.db import mask_url

    filters = ReportFilters(niche=niche, platform=None, since=None)
    with Timer() as built:
        stats = write_report(engine, out, filters, warehouse_label=mask_url(url), max_points=max_points)
    return Build(built.seconds, out.stat().st_size / 1e6, stats)


def measure(accounts: int, db: str, niche: str, days: int, seed: int, max_points: int) -> Measure:
    from models.db import make_engine

    with scratch_dir("microscout-report-") as tmp, warehouse(db, tmp, f"report-{accounts}") as url:
        with Timer() as made:
            synthetic_warehouse(url, accounts, days=days, seed=seed)
        say(f"  report {accounts:,}: warehouse generated in {made.seconds:.1f} s")
        engine = make_engine(url)
        try:
            builds = [build(engine, url, tmp / f"report-{name or 'all'}.html", name, max_points)
                      for name in (None, niche)]
        finally:
            engine.dispose()
    for name, done in zip(("all", niche), builds, strict=True):
        say(f"  report {accounts:,} ({name}): {done.seconds:.1f} s, {done.mb:.2f} MB, "
            f"{done.stats.accounts:,} accounts, {done.stats.points:,} points")
    return Measure(accounts, made.seconds, *builds)


def warm_up(db: str) -> float:
    """A first report of 50 accounts, untimed by the sizes: it loads the imports, template and
    assets a process needs once. Its seconds."""
    from models.db import make_engine

    with scratch_dir("microscout-report-") as tmp, warehouse(db, tmp, "report-warm-up") as url:
        synthetic_warehouse(url, 50, days=2)
        engine = make_engine(url)
        try:
            return build(engine, url, tmp / "warm-up.html", None, 100).seconds
        finally:
            engine.dispose()


def size_rows(m: Measure, case: str, niche: str, at_target: bool) -> list[Row]:
    """The rows of one size; the targets apply to the large one (filtered or not)."""
    full = m.full
    drawn = f"{full.stats.points:,} points ({'sampled' if full.stats.sampled else 'all drawn'})"
    return [
        Row("report", f"generate warehouse, {case}", m.generate_seconds, unit="s",
            note="synthetic_warehouse: Core executemany"),
        Row("report", f"build, {case}", full.seconds, unit="s",
            target=f"<= {TARGET_SECONDS:g} s" if at_target else "",
            met=check(full.seconds, maximum=TARGET_SECONDS) if at_target else None,
            note=f"{full.stats.accounts:,} accounts; {drawn}"),
        Row("report", f"file size, {case}", full.mb, unit="MB",
            target=f"<= {TARGET_MB:g} MB" if at_target else "",
            met=check(full.mb, maximum=TARGET_MB) if at_target else None),
        Row("report", f"build --niche {niche}, {case}", m.niche.seconds, unit="s",
            target=f"<= {TARGET_SECONDS:g} s" if at_target else "",
            met=check(m.niche.seconds, maximum=TARGET_SECONDS) if at_target else None,
            note=f"{m.niche.stats.accounts:,} accounts; {m.niche.mb:.2f} MB"),
    ]


def run(small: int = 5_000, large: int = 50_000, db: str = "sqlite", niche: str = "fitness",
        days: int = 5, seed: int = 7, max_points: int = 5_000) -> list[Row]:
    first = warm_up(db)
    say(f"  report: first build in the process (50 accounts) {first:.1f} s")
    low, high = (measure(size, db, niche, days, seed, max_points) for size in (small, large))
    rows = [Row("report", f"first report in a process, 50 accounts, {db_label(db)}", first, unit="s",
                note="imports, template, assets: once per process")]
    for m in (low, high):
        rows += size_rows(m, f"{m.accounts:,} accounts x {days} days, {db_label(db)}", niche, m is high)
    per_small = low.full.seconds / low.accounts * 1000
    per_large = high.full.seconds / high.accounts * 1000
    rows.append(Row("report", f"build time per 1,000 accounts, {high.accounts:,} vs {low.accounts:,}",
                    per_large, per_small, "s", per_large / per_small, note="large/small"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=5_000, help="accounts of the small warehouse")
    parser.add_argument("--large", type=int, default=50_000, help="accounts of the large warehouse")
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--niche", default="fitness", help="niche of the filtered report")
    parser.add_argument("--days", type=int, default=5, help="days of daily crawls in the warehouse")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--max-points", type=int, default=5_000)
    args = parser.parse_args(argv)
    print_table("Report: microscout report on a synthetic warehouse",
                run(args.small, args.large, args.db, args.niche, args.days, args.seed, args.max_points))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
