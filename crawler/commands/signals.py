"""``microscout similar`` (lookalikes) and ``microscout signals refresh`` (recompute the signals)."""

from __future__ import annotations

import json

from crawler.commands.common import database_error, database_errors, database_url, fail
from crawler.platforms import NAMES


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "similar", help="accounts most like a given one (lookalikes), with the terms they share",
        description="Rank the warehouse's accounts by similarity to one account: niche scores, "
                    "TF-IDF of bio, captions and hashtags, and sentence embeddings when the "
                    "embeddings extra computed them (README: Creator signals).")
    parser.add_argument("platform", choices=NAMES)
    parser.add_argument("handle", help="the account's handle (user@instance on Mastodon and Pixelfed)")
    parser.add_argument("--k", type=int, default=20, help="how many to list (default 20)")
    parser.add_argument("--tier", default="micro",
                        help="tier of the accounts listed (default micro; 'any' for all tiers)")
    parser.add_argument("--platform", dest="platforms", action="append", choices=NAMES,
                        help="only accounts on this platform (repeatable; default all)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--database-url", help="override MICROSCOUT_DATABASE_URL")
    parser.set_defaults(func=run_similar)

    signals = subparsers.add_parser(
        "signals", help="recompute audience quality, creators and lookalikes",
        description="A crawl computes them when it ends; this recomputes them for one run's "
                    "accounts (--run) or for every account (--all), e.g. after an upgrade.")
    actions = signals.add_subparsers(dest="action", required=True, metavar="ACTION")
    refresh = actions.add_parser("refresh", help="recompute the signals")
    which = refresh.add_mutually_exclusive_group(required=True)
    which.add_argument("--run", type=int, help="a crawl run's id (crawl_runs.id)")
    which.add_argument("--all", action="store_true",
                       help="every account, filed under the latest finished run (the latest run when "
                            "none has finished)")
    refresh.add_argument("--database-url", help="override MICROSCOUT_DATABASE_URL")
    refresh.set_defaults(func=run_refresh)


def run_similar(args) -> int:
    from crawler.values import normalize_handle

    if args.k < 1:
        return fail("--k must be at least 1")
    handle = normalize_handle(args.handle, args.platform)
    if not handle:
        return fail(f"{args.handle!r} is not a handle")
    url = database_url(args)
    try:
        found = lookalikes(url, args.platform, handle, args.k, None if args.tier == "any" else args.tier,
                           args.platforms)
    except database_errors() as exc:
        return database_error(url, exc)
    if found is None:
        return fail(f"{args.platform} {handle} is not in the warehouse", 1)
    if args.json:
        for row in found:
            print(json.dumps(row, ensure_ascii=False))
        return 0
    print_table(args.platform, handle, found)
    return 0


def lookalikes(url: str, platform: str, handle: str, k: int, tier: str | None,
               platforms: list[str] | None) -> list[dict] | None:
    from sqlalchemy import select

    from models.db import connected
    from models.similar import lookup, similar
    from models.tables import Profile

    with connected(url) as engine, engine.connect() as conn:
        profile_id = lookup(conn, platform, handle)
        if profile_id is None:
            return None
        found = similar(conn, profile_id, k, tier, platforms)
        ids = [row["similar_profile_id"] for row in found]
        names = {pid: (plat, h) for pid, plat, h in conn.execute(
            select(Profile.id, Profile.platform, Profile.handle).where(Profile.id.in_(ids)))}
    return [{"rank": rank, "platform": names[row["similar_profile_id"]][0],
             "handle": names[row["similar_profile_id"]][1], "score": row["score"],
             "shared_terms": row["shared_terms"]} for rank, row in enumerate(found, start=1)]


def print_table(platform: str, handle: str, rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Accounts most like {platform} {handle}")
    for name, justify in (("rank", "right"), ("platform", "left"), ("handle", "left"),
                          ("score", "right"), ("shared", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(str(row["rank"]), row["platform"], row["handle"], f"{row['score']:.3f}",
                      row["shared_terms"] or "")
    Console().print(table)


def run_refresh(args) -> int:
    from models import analytics, migrate
    from models.db import connected

    url = database_url(args)
    try:
        migrate.upgrade(url)
        with connected(url) as engine:
            run_id = args.run or analytics.latest_run(engine)
            if run_id is None:
                return fail("no crawl run to file the signals under: crawl first", 1)
            ids = analytics.all_profiles(engine) if args.all else None
            counts = analytics.refresh(engine, run_id, ids)
    except database_errors() as exc:
        return database_error(url, exc)
    print(f"crawl run {run_id}: signals for {counts['signals']} accounts, {counts['creators']} "
          f"creators across platforms, {counts['lookalikes']} lookalike rows")
    return 0
