"""``microscout sweep``: the one-off hashtag sweep ops run, with progress and a summary."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from crawler.commands.common import check_writable, fail, one_line, project_settings, say, set_pairs
from crawler.platforms import NAMES, REGISTRY, spider_for
from crawler.settings_check import SettingError, check_settings

#: platform -> the spider that crawls it (from the registry, crawler/platforms.py)
PLATFORM_SPIDERS = {name: platform.spider for name, platform in REGISTRY.items()}
CSV_FIELDS = ["platform", "handle", "display_name", "followers", "following", "posts_count", "tier",
              "primary_niche", "engagement_rate", "engagement_rate_median", "posts_per_week",
              "profile_url", "discovered_via"]


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("sweep", help="sweep hashtags (or handles) on one or more platforms",
                                   description="Sweep hashtag listings, keep the authors in the "
                                               "follower range, load them into the warehouse. "
                                               "Several platforms crawl side by side.")
    add_crawl_options(parser)
    parser.add_argument("--distributed", metavar="REDIS_URL",
                        help="queue the sweep as a distributed job in this Redis and work on it "
                             "here; `microscout worker` on other machines joins it (--job names it)")
    parser.set_defaults(func=run)


def add_crawl_options(parser) -> None:
    parser.add_argument("--platform", default="mastodon",
                        help=f"one or more of {','.join(NAMES)}, comma-separated (default mastodon)")
    parser.add_argument("--base-url", "--instance", dest="base_url",
                        help="where the platform is: a Mastodon/Pixelfed instance (default "
                             "https://mastodon.social), Bluesky App View, or a sandbox URL; with "
                             "several platforms, platform=URL pairs (instagram=http://...,tiktok=...)")
    parser.add_argument("--source", help="where to read the platform: youtube auto|web|api, "
                        "instagram web|graph, tiktok web|research (official APIs; several "
                        "platforms: platform=source pairs)")
    parser.add_argument("-a", "--arg", action="append", default=[], metavar="NAME=VALUE",
                        help="a spider argument of its own, as scrapy crawl -a takes it (TikTok "
                             "research: days=90, since=2026-08-01; YouTube: api_posts=search)")
    parser.add_argument("--listing", help="which listing to sweep (Instagram all|top|recent; "
                                          "Bluesky latest|top)")
    parser.add_argument("--feeds", help="Bluesky: comma-separated custom feeds to sweep as well")
    parser.add_argument("--delay", type=float,
                        help="seconds between requests to one host (overrides the platform's "
                             "MICROSCOUT_RATE_LIMIT_<PLATFORM>)")
    parser.add_argument("--tags", help="comma-separated hashtags, e.g. veganfood,plantbased")
    parser.add_argument("--handles", help="comma-separated accounts, e.g. alice@mastodon.social")
    parser.add_argument("--handles-file", help="file with one handle a line")
    parser.add_argument("--min-followers", type=int)
    parser.add_argument("--max-followers", type=int)
    parser.add_argument("--max-pages", type=int, help="listing pages per tag (default 5)")
    parser.add_argument("--max-posts", type=int, help="listing entries per tag (default 200)")
    parser.add_argument("--recent-posts", type=int, help="recent posts fetched per author (default 20)")
    parser.add_argument("--output", type=Path, help="also write the profiles to FILE.csv or FILE.jsonl")
    parser.add_argument("--database-url", help="override MICROSCOUT_DATABASE_URL")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="any Scrapy or MICROSCOUT_ setting, e.g. --set CONCURRENT_REQUESTS=32")
    parser.add_argument("--job", help="job name for the run lock: two runs of one job never overlap")
    parser.add_argument("--quiet", action="store_true", help="no progress line, no tables")
    parser.add_argument("--json", action="store_true", help="print the run summary as JSON on stdout")


def platforms_of(args) -> list[str]:
    """The --platform list, validated."""
    names = [name.strip().lower() for name in str(args.platform).split(",") if name.strip()]
    unknown = [name for name in names if name not in REGISTRY]
    if unknown or not names:
        raise ValueError(f"--platform: unknown {', '.join(unknown) or '(none)'}; "
                         f"choose from {', '.join(NAMES)}")
    return list(dict.fromkeys(names))


def base_urls(args, platforms: list[str]) -> dict[str, str]:
    """--base-url as {platform: URL}: one URL for one platform, or platform=URL pairs."""
    value = getattr(args, "base_url", None)
    if not value:
        return {}
    pairs = [part.strip() for part in value.split(",") if part.strip()]
    if all("=" in part and part.split("=", 1)[0].strip().lower() in REGISTRY for part in pairs):
        urls = {name.strip().lower(): url.strip() for name, url in (p.split("=", 1) for p in pairs)}
        extra = sorted(set(urls) - set(platforms))
        if extra:
            raise ValueError(f"--base-url names {', '.join(extra)}, which --platform does not")
        return urls
    if len(platforms) > 1:
        raise ValueError("--base-url with several platforms takes platform=URL pairs")
    return {platforms[0]: value.strip()}


def sources_of(args, platforms: list[str]) -> dict[str, str]:
    """--source as {platform: source}: one source for one platform, or platform=source pairs."""
    value = getattr(args, "source", None)
    if not value:
        return {}
    pairs = [part.strip() for part in value.split(",") if part.strip()]
    if all("=" in part for part in pairs):
        found = {name.strip().lower(): src.strip().lower()
                 for name, src in (p.split("=", 1) for p in pairs)}
        extra = sorted(set(found) - set(platforms))
        if extra:
            raise ValueError(f"--source names {', '.join(extra)}, which --platform does not")
    elif len(platforms) > 1 or len(pairs) > 1:
        raise ValueError("--source with several platforms takes platform=source pairs")
    else:
        found = {platforms[0]: pairs[0].lower()}
    for name, source in found.items():
        spider_for(name, source)  # ValueError naming the platform's sources
    return found


def checked_spider(args, platform: str, kwargs: dict):
    """The spider class that reads ``platform`` from its --source, built once with ``kwargs`` so
    a bad argument is a ValueError before anything runs (a spider of one source, Instagram's web
    spider, takes no ``source``: it is dropped from ``kwargs``)."""
    spider_cls = load_spider(spider_for(platform, sources_of(args, platforms_of(args)).get(platform)))
    if "source" not in getattr(spider_cls.params_model, "__dataclass_fields__", {}):
        kwargs.pop("source", None)
    spider_cls(**kwargs)
    return spider_cls


def spider_kwargs(args, platform: str | None = None) -> dict:
    platform = platform or platforms_of(args)[0]
    names = ("tags", "handles", "handles_file", "min_followers", "max_followers", "max_pages",
             "max_posts", "recent_posts", "job", "listing", "feeds")
    kwargs = set_pairs(getattr(args, "arg", None) or [], "-a/--arg")
    kwargs.update({name: getattr(args, name) for name in names if getattr(args, name, None) is not None})
    url = base_urls(args, platforms_of(args)).get(platform)
    if url:
        kwargs["base_url"] = url
    source = sources_of(args, platforms_of(args)).get(platform)
    if source:
        kwargs["source"] = source
    return kwargs


def feed_settings(output: Path) -> dict:
    formats = {".csv": "csv", ".jsonl": "jsonlines", ".json": "json"}
    fmt = formats.get(output.suffix.lower())
    if fmt is None:
        raise ValueError(f"--output must end in .csv, .jsonl or .json, got {output.name!r}")
    check_writable(output, "--output")
    feed = {"format": fmt, "item_classes": ["crawler.items.ProfileItem"], "overwrite": True,
            "encoding": "utf-8"}
    if fmt == "csv":
        feed["fields"] = CSV_FIELDS
    return {str(output): feed}


def overrides_from(args) -> dict:
    overrides: dict[str, Any] = {"MICROSCOUT_PROGRESS": not args.quiet}
    if args.database_url:
        overrides["MICROSCOUT_DATABASE_URL"] = args.database_url
    overrides.update(set_pairs(args.set))
    if args.output:
        overrides["FEEDS"] = feed_settings(args.output)
    if getattr(args, "distributed", None):
        overrides["MICROSCOUT_REDIS_URL"] = args.distributed
    if getattr(args, "delay", None) is not None:
        for platform in platforms_of(args):  # keyed by spider.platform
            overrides[REGISTRY[REGISTRY[platform].spider].setting] = args.delay
    return overrides


def run(args) -> int:
    try:
        platforms = platforms_of(args)
        overrides = overrides_from(args)
        jobs = []
        for platform in platforms:
            kwargs = spider_kwargs(args, platform)
            spider = checked_spider(args, platform, kwargs).name
            jobs.append((spider, kwargs))
    except (ValueError, KeyError) as exc:
        return fail(exc)
    return crawl_many(jobs, overrides, quiet=args.quiet, as_json=args.json,
                      platform=platforms[0] if len(platforms) == 1 else None)


def load_spider(name: str):
    from scrapy.spiderloader import SpiderLoader

    return SpiderLoader.from_settings(project_settings()).load(name)


def prepare_warehouse(settings) -> str:
    from models import migrate
    url = settings.get("MICROSCOUT_DATABASE_URL")
    migrate.upgrade(url)  # idempotent; creates the SQLite file on first use
    return url


def crawl(spider: str, kwargs: dict, overrides: dict, *, quiet: bool = False, as_json: bool = False,
          platform: str | None = None) -> int:
    """One crawl of one spider; see crawl_many."""
    return crawl_many([(spider, kwargs)], overrides, quiet=quiet, as_json=as_json, platform=platform)


def crawl_many(jobs: list[tuple[str, dict]], overrides: dict, *, quiet: bool = False,
               as_json: bool = False, platform: str | None = None, code_of=None) -> int:
    """Run the crawls side by side in one Scrapy process (one reactor), then report."""
    from scrapy.crawler import CrawlerProcess

    from models import DatabaseUnavailable, make_engine, mask_url

    settings = project_settings({"EXTENSIONS": {"crawler.progress.ProgressLine": 500},
                                 "LOG_INSTALL_ROOT_HANDLER": not quiet, **overrides})
    try:
        check_settings(settings)  # a bad value is one line now, not a traceback mid-crawl
        if settings.get("JOBDIR"):
            check_writable(settings.get("JOBDIR"), "JOBDIR", folder=True)
        url = prepare_warehouse(settings)
    except SettingError as exc:
        return fail(exc)
    except DatabaseUnavailable as exc:
        return fail(str(exc))
    process = CrawlerProcess(settings)
    crawlers = []
    not_started: dict[Any, BaseException] = {}
    for spider, kwargs in jobs:
        if not quiet:
            arguments = " ".join(f"{name}={value}" for name, value in kwargs.items())
            say(f"sweeping {spider} ({arguments}) into {mask_url(url)}")
        crawler = process.create_crawler(spider)
        process.crawl(crawler, **kwargs).addErrback(_not_started, crawler, not_started)
        crawlers.append(crawler)
    process.start()
    codes = []
    for crawler in crawlers:
        if crawler in not_started:  # from_crawler refused (a missing API key): nothing ran
            codes.append(fail(f"{crawler.spidercls.name}: {one_line(not_started[crawler])}"))
            continue
        summary = run_summary(crawler.stats.get_stats())
        summary["spider"] = crawler.spidercls.name
        if as_json:  # stdout holds the JSON summaries and nothing else
            print(json.dumps(summary, default=str), flush=True)
        if summary["status"] == "skipped":
            say("skipped: another run of this job is still running (see crawl_runs)")
            codes.append(0)
            continue
        if not quiet:
            say(f"{summary['spider']} done: {summary['status'] or summary['finish_reason']}; "
                f"{summary['profiles']} profiles, {summary['sightings']} sightings, "
                f"{summary['quarantined']} quarantined, {summary['spooled']} spooled"
                + (f", {summary['lost']} LOST" if summary["lost"] else "")
                + (f", {summary['output_unwritten']} not written to the output"
                   if summary["output_unwritten"] else ""))
        if summary["quota_exhausted"]:
            say(f"stopped: the {summary['quota_exhausted']} budget is spent until "
                f"{summary['quota_resets_at']} ({summary['quota_unsent']} requests not sent); "
                "run again then: a refresh or a JOBDIR run continues where this one stopped "
                "(microscout quota shows the budgets)")
        codes.append((code_of or exit_code)(summary))
    if not quiet and len(not_started) < len(crawlers):
        from crawler.report import print_summary

        engine = make_engine(url)
        try:
            print_summary(engine, platform=platform, file=sys.stderr if as_json else None)
        finally:
            engine.dispose()
    return max(codes, default=0)


def _not_started(failure, crawler, not_started: dict) -> None:
    """A crawl that failed before it started (the spider's ``from_crawler`` refused): noted."""
    try:
        crawler.stats  # noqa: B018  (Scrapy 2.19 raises RuntimeError until the crawl starts)
    except RuntimeError:
        not_started[crawler] = failure.value
        return None
    return failure  # a failure of a started crawl: Scrapy's own handling


def exit_code(summary: dict) -> int:
    """0 when the run finished ok or degraded; 1 when it failed its checks or was cut short."""
    if summary["status"] in ("failed", "aborted") or summary["finish_reason"] != "finished":
        return 1
    return 0


def run_summary(stats: dict) -> dict:
    return {
        "status": stats.get("microscout/run/status"),
        "finish_reason": stats.get("finish_reason"),
        "pages": stats.get("response_received_count", 0),
        "profiles": stats.get("microscout/warehouse/profiles_upserted", 0),
        "sightings": stats.get("microscout/warehouse/sightings_upserted", 0),
        "quarantined": stats.get("microscout/quarantined/total", 0),
        "spooled": stats.get("microscout/warehouse/spooled_items", 0),
        "lost": stats.get("microscout/warehouse/lost_items", 0),
        "quota_exhausted": stats.get("microscout/quota/exhausted"),
        "quota_resets_at": stats.get("microscout/quota/resets_at"),
        "quota_unsent": stats.get("microscout/quota/unsent_requests", 0),
        "credential_hosts": stats.get("microscout/credential_hosts"),
        "output_unwritten": stats.get("microscout/output/unwritten_items", 0),
        "elapsed_seconds": stats.get("elapsed_time_seconds"),
    }


