"""``microscout export VIEW``: an analytics view to CSV or JSON lines, for spreadsheet people."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from crawler.commands.common import check_writable, database_url, fail, say

VIEWS = ("influencer_current", "micro_influencers", "creator_reach", "profile_growth")
FILTERS = ("platform", "tier", "primary_niche")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("export", help="write an analytics view as CSV or JSON lines")
    parser.add_argument("view", choices=VIEWS)
    parser.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    parser.add_argument("--platform")
    parser.add_argument("--tier")
    parser.add_argument("--niche", help="primary niche")
    parser.add_argument("--output", type=Path, help="file to write (default: standard output)")
    parser.add_argument("--database-url", help="override MICROSCOUT_DATABASE_URL")
    parser.set_defaults(func=run)


def run(args) -> int:
    from sqlalchemy import MetaData, Table, select

    from models import DatabaseUnavailable, make_engine
    from models.db import check_connection
    if args.output:
        check_writable(args.output, "--output")  # one line and exit 2 before any query
    try:
        engine = make_engine(database_url(args))
        check_connection(engine)
    except DatabaseUnavailable as exc:
        return fail(str(exc))
    try:
        view = Table(args.view, MetaData(), autoload_with=engine)
        stmt = select(view)
        wanted = {"platform": args.platform, "tier": args.tier, "primary_niche": args.niche}
        for name, value in wanted.items():
            if value is not None and name in view.c:
                stmt = stmt.where(view.c[name] == value)
        if "profile_id" in view.c:
            stmt = stmt.order_by(view.c.profile_id)
        try:
            count = export_to(engine, stmt, [c.name for c in view.columns], args.format, args.output)
        except OSError as exc:  # a full disk: what was written is incomplete
            return fail(f"cannot write {args.output or 'standard output'}: {exc.strerror or exc}", 1)
    finally:
        engine.dispose()
    if args.output:
        say(f"wrote {count} rows of {args.view} to {args.output}")
    return 0


def export_to(engine, stmt, columns: list[str], fmt: str, output: Path | None) -> int:
    """Rows written to ``output`` (standard output when None)."""
    if output is None:
        return write(engine, stmt, columns, fmt, sys.stdout)
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", encoding="utf-8", newline="") as out:
        return write(engine, stmt, columns, fmt, out)


def write(engine, stmt, columns: list[str], fmt: str, out) -> int:
    count = 0
    writer = csv.writer(out) if fmt == "csv" else None
    if writer:
        writer.writerow(columns)
    with engine.connect() as conn:
        for row in conn.execute(stmt):
            values = list(row)
            if writer:
                writer.writerow(values)
            else:
                out.write(json.dumps(dict(zip(columns, values, strict=True)), default=str,
                                     ensure_ascii=False) + "\n")
            count += 1
    return count
