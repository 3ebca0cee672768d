"""``microscout refresh``: re-crawl the accounts whose latest snapshot is older than --max-age."""

from __future__ import annotations

from pathlib import Path

from crawler.commands.common import fail, set_pairs
from crawler.commands.sweep import PLATFORM_SPIDERS, checked_spider, crawl, overrides_from


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "refresh", help="re-crawl stale accounts (builds follower history)",
        description="Re-crawl the accounts of one platform whose latest snapshot is older than "
                    "--max-age, oldest first. Every run adds one snapshot per account.")
    parser.add_argument("--platform", default="mastodon", choices=sorted(PLATFORM_SPIDERS))
    parser.add_argument("--max-age", default="24h", help="e.g. 24h, 7d, 90m (default 24h)")
    parser.add_argument("--tier", help="only accounts of this tier (e.g. micro)")
    parser.add_argument("--niche", help="only accounts with this primary niche")
    parser.add_argument("--limit", type=int, help="at most this many accounts")
    parser.add_argument("--job", help="job name for the run lock: two runs of one job never overlap")
    parser.add_argument("--base-url", "--instance", dest="base_url",
                        help="where the platform is (Mastodon instance, Bluesky App View, sandbox URL)")
    parser.add_argument("--source", help="youtube auto|web|api, instagram web|graph, "
                        "tiktok web|research (official APIs)")
    parser.add_argument("-a", "--arg", action="append", default=[], metavar="NAME=VALUE",
                        help="a spider argument of its own, as scrapy crawl -a takes it")
    parser.add_argument("--delay", type=float, help="seconds between requests to one host")
    parser.add_argument("--recent-posts", type=int)
    parser.add_argument("--database-url", help="override MICROSCOUT_DATABASE_URL")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--output", type=Path, help="also write the profiles to FILE.csv or FILE.jsonl")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(func=run)


def run(args) -> int:
    try:
        kwargs = {**set_pairs(args.arg, "-a/--arg"), "max_age": args.max_age}
    except ValueError as exc:
        return fail(exc)
    for name in ("tier", "niche", "limit", "job", "recent_posts"):
        if getattr(args, name) is not None:
            kwargs[name] = getattr(args, name)
    if args.base_url:
        kwargs["base_url"] = args.base_url
    if args.source:
        kwargs["source"] = args.source
    try:
        overrides = overrides_from(args)
        spider = checked_spider(args, args.platform, kwargs).name  # validates before anything runs
    except (ValueError, KeyError) as exc:
        return fail(exc)
    return crawl(spider, kwargs, overrides, quiet=args.quiet, as_json=args.json, platform=args.platform)
