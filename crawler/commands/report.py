"""``microscout report``: the analytics views as one self-contained HTML file of charts and tables."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from crawler.commands.common import (
    check_writable,
    database_error,
    database_errors,
    database_url,
    fail,
    missing_sqlite_file,
    say,
)

if TYPE_CHECKING:
    from crawler.htmlreport import ReportFilters, ReportStats

_SPAN = re.compile(r"^(\d+)\s*([dhw])$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "report", help="write an HTML report (charts, top micro-influencers, runs) from the warehouse")
    parser.add_argument("--output", type=Path, default=Path("data") / "report.html",
                        help="HTML file to write (default data/report.html)")
    parser.add_argument("--niche", help="only accounts of this primary niche")
    parser.add_argument("--platform", help="only accounts and runs of this platform")
    parser.add_argument("--since", default="30d", type=parse_since,
                        help="window: accounts whose latest snapshot and runs that started within it, "
                             "e.g. 7d, 12h, 4w (default 30d); 'all' for no window")
    parser.add_argument("--max-points", type=int, default=5000,
                        help="accounts drawn in the followers/engagement scatter; a larger set is "
                             "sampled, and the chart says so (default 5000)")
    parser.add_argument("--database-url", help="override MICROSCOUT_DATABASE_URL")
    parser.set_defaults(func=run)


def parse_since(value: str) -> timedelta | None:
    """``30d``, ``12h``, ``4w`` as a timedelta; ``all`` as None (no window)."""
    import argparse

    if value.strip().lower() == "all":
        return None
    match = _SPAN.match(value.strip().lower())
    if not match or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"expected a span like 30d, 12h or 4w, or 'all', got {value!r}")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def run(args) -> int:
    from crawler.htmlreport import ReportFilters

    check_writable(args.output, "--output")  # one line and exit 2 before any query
    if args.max_points < 1:
        return fail("--max-points must be at least 1")
    filters = ReportFilters(niche=args.niche, platform=args.platform, since=args.since)
    code, stats = build(database_url(args), args.output, filters, args.max_points)
    if stats is None:
        return code
    say(f"wrote {args.output} ({stats.bytes / 1e6:.1f} MB, {stats.accounts:,} accounts, "
        f"{stats.seconds:.1f} s)")
    print(args.output.resolve())
    return 0


def build(url: str, output: Path, filters: ReportFilters, max_points: int = 5000,
          ) -> tuple[int, ReportStats | None]:
    """Write the report of the warehouse at ``url``: (0, its stats), or (exit code, None) once
    the reason is printed as one line."""
    from crawler.htmlreport import write_report
    from models import DatabaseUnavailable, make_engine, mask_url
    from models.db import check_connection

    missing = missing_sqlite_file(url)
    if missing:
        return fail(f"no SQLite warehouse at {missing}: run a crawl or `microscout db upgrade` first, "
                    "or give --database-url"), None
    try:
        engine = make_engine(url)
        check_connection(engine)
    except DatabaseUnavailable as exc:
        return fail(str(exc)), None
    try:
        if not has_views(engine):
            return fail(f"{mask_url(url)} has no analytics views (influencer_current, ...): not a "
                        "microscout warehouse, or not migrated (`microscout db upgrade`)"), None
        return 0, write_report(engine, output, filters, warehouse_label=mask_url(url),
                               max_points=max_points)
    except OSError as exc:  # a full disk: the file would be cut short
        return fail(f"cannot write {output}: {exc.strerror or exc}", 1), None
    except database_errors() as exc:  # the database went away mid-report
        return database_error(url, exc), None
    finally:
        engine.dispose()


def has_views(engine) -> bool:
    from sqlalchemy import inspect

    return "influencer_current" in inspect(engine).get_view_names()
