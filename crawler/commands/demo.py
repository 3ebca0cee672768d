"""``microscout demo``: the offline tour. Sandbox platform, hashtag sweep, SQLite warehouse, summary."""

from __future__ import annotations

from pathlib import Path

from crawler.commands.common import say
from crawler.commands.sweep import crawl

DEMO_TAGS = "fitness,vegan,travel,gaming,photography,skincare"


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("demo", help="offline demo: sweep the local sandbox into SQLite")
    parser.add_argument("--accounts", type=int, default=600, help="sandbox accounts (default 600)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--tags", default=DEMO_TAGS)
    parser.add_argument("--database", type=Path, default=Path("data") / "demo.sqlite",
                        help="SQLite file to load (default data/demo.sqlite)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from crawler.sandbox.server import SandboxProcess

    database = args.database.resolve()
    url = f"sqlite:///{database}"
    # A large rate-limit budget: the demo shows the sweep, not a 5-minute pause at the limit.
    with SandboxProcess(accounts=args.accounts, seed=args.seed, rate_limit=1_000_000) as sandbox:
        say(f"sandbox platform with {args.accounts} accounts at {sandbox.base_url}")
        code = crawl(
            "mastodon",
            {"instance": sandbox.base_url, "tags": args.tags, "max_pages": 10, "max_posts": 400,
             "recent_posts": 20},
            {"MICROSCOUT_DATABASE_URL": url, "MICROSCOUT_PROGRESS": True, "LOG_LEVEL": "WARNING",
             "CONCURRENT_REQUESTS_PER_DOMAIN": 16},
            platform=None,
        )
    say(f"\nThe warehouse is {database}. Query it, for example:\n"  # noqa: S608 - printed, not run
        f"  sqlite3 {database} \"SELECT handle, followers, round(engagement_rate*100, 2) AS er_pct, "
        f"primary_niche FROM micro_influencers ORDER BY engagement_rate DESC LIMIT 10\"")
    return code
