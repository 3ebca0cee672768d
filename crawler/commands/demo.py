"""``microscout demo``: the offline tour. Sandbox platforms, hashtag sweeps, SQLite warehouse, summary."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from crawler.commands.common import check_writable, fail, say
from crawler.commands.sweep import crawl_many
from crawler.platforms import DEMO, REGISTRY

DEMO_TAGS = "fitness,vegan,travel,gaming,photography,skincare"
DEMO_PLATFORMS = ",".join(DEMO)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("demo", help="offline demo: sweep the local sandbox into SQLite")
    parser.add_argument("--accounts", type=int, default=300,
                        help="sandbox accounts per platform (default 300)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--tags", default=DEMO_TAGS)
    parser.add_argument("--platforms", default=DEMO_PLATFORMS,
                        help=f"comma-separated sandbox platforms to sweep (default {DEMO_PLATFORMS})")
    parser.add_argument("--database", type=Path, default=Path("data") / "demo.sqlite",
                        help="SQLite file to load (default data/demo.sqlite)")
    parser.add_argument("--report", type=Path,
                        help="HTML report to write (default: report.html beside the database)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from crawler.sandbox.server import SandboxProcess

    platforms = [p.strip() for p in args.platforms.split(",") if p.strip()]
    unknown = [p for p in platforms if p not in DEMO]
    if unknown or not platforms:
        return fail(f"--platforms: unknown {', '.join(unknown) or '(none)'}; "
                    f"choose from {DEMO_PLATFORMS}")
    database = args.database.resolve()
    report = (args.report or database.with_name("report.html")).resolve()
    check_writable(report, "--report")
    url = f"sqlite:///{database}"
    with ExitStack() as stack:
        jobs = []
        for offset, platform in enumerate(platforms):
            # A large rate-limit budget: the demo shows the sweep, not a pause at the limit.
            # Each platform gets its own synthetic population (seed + offset).
            sandbox = stack.enter_context(SandboxProcess(accounts=args.accounts, seed=args.seed + offset,
                                                         platform=platform, rate_limit=1_000_000))
            say(f"sandbox {platform} with {args.accounts} accounts at {sandbox.base_url}")
            spider = REGISTRY[platform].spider
            # YouTube's robots.txt (which the sandbox copies) forbids the /youtubei/ continuations:
            # its first hashtag page is all a polite crawler reads.
            pages = 1 if platform == "youtube" else 3
            jobs.append((spider, {"base_url": sandbox.base_url, "tags": args.tags, "max_pages": pages,
                                  "max_posts": 150}))
        code = crawl_many(jobs, {"MICROSCOUT_DATABASE_URL": url, "MICROSCOUT_PROGRESS": True,
                                 "LOG_LEVEL": "ERROR", "MICROSCOUT_PROGRESS_INTERVAL": 10,
                                 "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
                                 **{p.setting: 0.0 for p in REGISTRY.values()}})
    say(f"\nThe warehouse is {database}. Query it, for example:\n"  # noqa: S608 - printed, not run
        f"  sqlite3 {database} \"SELECT platform, handle, followers, round(engagement_rate*100, 2) "
        f"AS er_pct, primary_niche FROM micro_influencers ORDER BY engagement_rate DESC LIMIT 10\"\n"
        f"or browse it: microscout browse --database-url sqlite:///{database}")
    written = write_demo_report(url, report)
    return code or written


def write_demo_report(url: str, report: Path) -> int:
    """The HTML report of the demo warehouse (every account: the demo is minutes old)."""
    from crawler.commands.report import build
    from crawler.htmlreport import ReportFilters

    code, stats = build(url, report, ReportFilters(since=None))
    if stats is None:
        return code
    say(f"\nThe report ({stats.accounts:,} accounts, {stats.bytes / 1e6:.1f} MB) is {report}\n"
        f"Open it in a browser: file://{report}")
    return 0
