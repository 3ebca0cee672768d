"""``microscout quota``: each official API budget (used, left, when it resets) from the warehouse."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from crawler.commands.common import database_error, database_errors, database_url, project_settings


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "quota", help="official API budgets: used, left, when each resets")
    parser.add_argument("--database-url", help="override MICROSCOUT_DATABASE_URL")
    parser.add_argument("--json", action="store_true", help="print the budgets as JSON")
    parser.set_defaults(func=run)


def budgets(conn: Any, settings: Any, now: datetime) -> list[dict[str, Any]]:
    """One row per budget and account in its current window (accounts with no calls yet show
    as one row per budget, account None)."""
    from crawler.quota import BUDGETS
    from models import quota

    rows = quota.current(conn, now)
    out = []
    for budget in BUDGETS.values():
        limit = budget.limit(settings)
        start, end = budget.window(now)
        spent = [r for r in rows if r["api"] == budget.api and r["unit"] == budget.unit]
        for row in spent or [{"account": None, "used": 0}]:
            out.append({"budget": budget.key, "what": budget.title, "account": row["account"],
                        "used": int(row["used"]), "limit": limit,
                        "left": max(limit - int(row["used"]), 0),
                        "window_start": start.isoformat(), "resets_at": end.isoformat(),
                        "timezone": budget.timezone})
    for slots in quota.hashtag_slots(conn, now):
        out.append({"budget": "instagram_graph:hashtags",
                    "what": "Instagram Graph API unique hashtags (rolling 7 days)",
                    "account": slots["account"], "used": slots["used"], "limit": slots["limit"],
                    "left": max(slots["limit"] - slots["used"], 0), "window_start": None,
                    "resets_at": slots["frees_at"].isoformat(), "timezone": None})
    return out


def run(args) -> int:
    from models import make_engine, migrate

    url = database_url(args)
    settings = project_settings()
    now = datetime.now(timezone.utc)
    try:
        migrate.upgrade(url)
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                rows = budgets(conn, settings, now)
        finally:
            engine.dispose()
    except database_errors() as exc:
        return database_error(url, exc)
    if args.json:
        print(json.dumps(rows))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"official API budgets at {now:%Y-%m-%d %H:%M} UTC")
    for column in ("budget", "account", "used", "limit", "left", "resets"):
        table.add_column(column, justify="right" if column in ("used", "limit", "left") else "left")
    for row in rows:
        resets = datetime.fromisoformat(row["resets_at"])
        when = f"{resets:%Y-%m-%d %H:%M} UTC"
        if row["budget"] == "instagram_graph:hashtags":
            when = f"next slot {when}"
        elif row["timezone"] and row["timezone"] != "UTC":
            when += f" (midnight {resets.astimezone(ZoneInfo(row['timezone'])):%Z})"
        table.add_row(row["budget"], row["account"] or "(no calls yet)", f"{row['used']:,}",
                      f"{row['limit']:,}", f"{row['left']:,}", when)
    Console(width=160).print(table)
    return 0
