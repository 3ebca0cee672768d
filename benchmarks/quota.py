"""YouTube Data API quota units per profile: the search.list route before issue #14 vs the uploads
playlist route, on the sandbox.

Both routes sweep the same hashtags of the same sandbox world through the real Scrapy engine
(the youtube spider, ``source=api``, a key, the project's settings with the item pipelines off),
each in a fresh child process, and keep the same channels (subscribers in the micro range by
default) with the same number of recent posts (12 by default):

* **search** (``-a api_posts=search``, the route before #14): per channel ``search.list?channelId=
  &order=date`` (100 units) and ``videos.list?part=snippet,statistics`` (1 unit);
* **uploads** (the default now): per channel ``playlistItems.list`` of its uploads playlist
  (1 unit), and ``videos.list?part=statistics`` 50 ids a call across channels.

Both share discovery (``search.list?q=#tag``, 100 units a page) and ``channels.list`` (50 ids a
call). Units per profile exclude discovery: (units the sandbox counted - the ``search.list?q=``
units) / profiles loaded with their recent posts (channels with a hidden subscriber count are
loaded without posts and not counted). The units are the sandbox's own count (its ``quota`` knob,
set afresh before each run), checked against the spider's (``microscout/youtube/api_units/*``)
and against what the crawl's budget booked (``microscout/quota/youtube/units``). Target: the
uploads route <= 3 units per profile; the ratio column is search/uploads.

    python -m benchmarks.quota [--accounts 400] [--tags 4] [--max-pages 2] [--recent-posts 12]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, Row, check, print_table, say, scratch_dir

TARGET = 3.0
ROUTES = ("search", "uploads")
#: A key for the sandbox only (the sandbox wants one in the X-Goog-Api-Key header).
SANDBOX_KEY = "AIzaSy-benchmark-sandbox-key"
LOW, HIGH = 1_000, 100_000
SETTINGS: dict[str, Any] = {
    "LOG_LEVEL": "WARNING",
    "TELNETCONSOLE_ENABLED": False,
    "REMOTE_CONTROL_ENABLED": False,
    "ITEM_PIPELINES": {},
    "MICROSCOUT_DATABASE_URL": "",  # budgets counted in memory: nothing to book them in
    "MICROSCOUT_RATE_LIMIT_YOUTUBE": 0.0,
    "CONCURRENT_REQUESTS": 16,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
    "DOWNLOAD_DELAY": 0,
    "MICROSCOUT_YOUTUBE_API_KEY": SANDBOX_KEY,
    "MICROSCOUT_YOUTUBE_DAILY_QUOTA": 10**9,
}
TIMEOUT = 1800.0


@dataclass
class RouteRun:
    route: str
    served: int                  # units the sandbox counted
    stats: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def stat(self, key: str) -> int:
        return int(self.stats.get(f"microscout/youtube/{key}", 0) or 0)

    @property
    def calls(self) -> dict[str, int]:
        """Units by call: search, channels, playlist_items, channel_search, videos."""
        prefix = "microscout/youtube/api_units/"
        return {k[len(prefix):]: int(v) for k, v in self.stats.items() if k.startswith(prefix)}

    @property
    def discovery(self) -> int:
        return self.calls.get("search", 0)

    @property
    def profiles(self) -> int:
        """Profiles loaded with their recent posts (hidden subscriber counts are not)."""
        return self.stat("profiles") - self.stat("hidden_subscriber_count")

    @property
    def per_profile(self) -> float | None:
        return (self.served - self.discovery) / self.profiles if self.profiles else None


def sandbox_knobs(base_url: str, **values: str) -> dict:
    query = "&".join(f"{k}={v}" for k, v in values.items())
    with urllib.request.urlopen(f"{base_url}/__platform__/knobs?{query}", timeout=10) as reply:  # noqa: S310
        return json.loads(reply.read())


def busy_tags(accounts: int, seed: int, count: int) -> list[str]:
    """The ``count`` tags with the most posts in the world (ties by name)."""
    from crawler.sandbox.world import World

    tags = World(accounts, seed).tags()
    return sorted(tags, key=lambda tag: (-tags[tag], tag))[:count]


def sweep(route: str, base_url: str, tags: list[str], max_pages: int, recent_posts: int,
          low: int | None, high: int | None) -> RouteRun:
    """One crawl of ``route`` in a child process; the sandbox's unit count set afresh first."""
    sandbox_knobs(base_url, quota=str(10**12))
    kwargs: dict[str, Any] = {"base_url": base_url, "source": "api", "api_posts": route,
                              "tags": ",".join(tags), "max_pages": max_pages,
                              "max_posts": 50 * max_pages, "recent_posts": recent_posts}
    if low is not None:
        kwargs["min_followers"] = low
    if high is not None:
        kwargs["max_followers"] = high
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["SCRAPY_SETTINGS_MODULE"] = "crawler.settings"
    with scratch_dir("microscout-quota-") as tmp:
        spec, result = tmp / "spec.json", tmp / "result.json"
        spec.write_text(json.dumps({"kwargs": kwargs, "settings": SETTINGS}), encoding="utf-8")
        log = tmp / "crawl.log"
        started = time.perf_counter()
        with log.open("wb") as out:
            code = subprocess.run([sys.executable, "-m", "benchmarks.quota", "--child",  # noqa: S603
                                   str(spec), str(result)], cwd=REPO, env=env,
                                  stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                  timeout=TIMEOUT, check=False).returncode
        seconds = time.perf_counter() - started
        if code != 0 or not result.exists():
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
            raise RuntimeError(f"{route} crawl failed (exit code {code}):\n{tail}")
        stats = json.loads(result.read_text(encoding="utf-8"))
    if stats.get("finish_reason") != "finished":
        raise RuntimeError(f"{route} crawl ended with {stats.get('finish_reason')!r}")
    served = int(sandbox_knobs(base_url)["quota"]["used"])
    run = RouteRun(route, served, stats, seconds)
    spent = {"sandbox": served, "spider": sum(run.calls.values()),
             "budget": int(stats.get("microscout/quota/youtube/units", 0))}
    if len(set(spent.values())) != 1:
        raise RuntimeError(f"{route}: the unit counts disagree: {spent}")
    return run


def _child(spec_path: str, result_path: str) -> int:
    from scrapy.crawler import AsyncCrawlerProcess
    from scrapy.utils.project import get_project_settings

    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    settings = get_project_settings()
    settings.setdict(spec["settings"], priority="cmdline")
    process = AsyncCrawlerProcess(settings)
    crawler = process.create_crawler("youtube")
    process.crawl(crawler, **spec["kwargs"])
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    Path(result_path).write_text(json.dumps(stats, default=str), encoding="utf-8")
    return 0


def measure(accounts: int = 400, seed: int = 42, tags: int = 4, max_pages: int = 2,
            recent_posts: int = 12, low: int | None = LOW,
            high: int | None = HIGH) -> dict[str, RouteRun]:
    from crawler.sandbox.server import SandboxProcess

    chosen = busy_tags(accounts, seed, tags)
    runs: dict[str, RouteRun] = {}
    with SandboxProcess(accounts=accounts, seed=seed, platform="youtube",
                        rate_limit=10**9) as sandbox:
        for route in ROUTES:
            run = runs[route] = sweep(route, sandbox.base_url, chosen, max_pages, recent_posts,
                                      low, high)
            say(f"  quota {route}: {run.served:,} units ({run.calls}), {run.profiles} profiles "
                f"with posts, {run.per_profile or 0:.2f} units a profile without discovery, "
                f"{run.seconds:.1f} s")
    if runs["search"].profiles != runs["uploads"].profiles:
        raise RuntimeError(f"the routes loaded different profiles: {runs['search'].profiles} vs "
                           f"{runs['uploads'].profiles}")
    return runs


def rows_for(runs: dict[str, RouteRun], tags: int, recent_posts: int) -> list[Row]:
    old, new = runs["search"], runs["uploads"]
    ratio = old.per_profile / new.per_profile if old.per_profile and new.per_profile else None
    calls = ", ".join(f"{name} {units:,}" for name, units in sorted(new.calls.items()))
    note = (f"{new.profiles} profiles, {tags} tags; discovery {new.discovery:,} units excluded; "
            f"uploads route units: {calls}; ratio = search/uploads")
    return [Row("youtube quota", f"units per profile with {recent_posts} recent posts, sandbox",
                new.per_profile, old.per_profile, "units", ratio, f"uploads <= {TARGET:g}",
                check(new.per_profile, maximum=TARGET), note)]


def run(accounts: int = 400, seed: int = 42, tags: int = 4, max_pages: int = 2,
        recent_posts: int = 12) -> list[Row]:
    return rows_for(measure(accounts, seed, tags, max_pages, recent_posts), tags, recent_posts)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        return _child(argv[1], argv[2])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=400)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--tags", type=int, default=4, help="the busiest N tags of the world")
    parser.add_argument("--max-pages", type=int, default=2, help="search.list pages per tag")
    parser.add_argument("--recent-posts", type=int, default=12)
    args = parser.parse_args(argv)
    runs = measure(args.accounts, args.seed, args.tags, args.max_pages, args.recent_posts)
    rows = rows_for(runs, args.tags, args.recent_posts)
    print_table("YouTube Data API quota units per profile (excluding discovery): search.list "
                "route vs uploads playlist route", rows)
    for route in ROUTES:
        r = runs[route]
        print(f"{route:>8}: {r.served:,} units = discovery {r.discovery:,} + "
              f"{r.served - r.discovery:,} for {r.profiles} profiles "
              f"({r.per_profile or 0:.3f} a profile); by call: {r.calls}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
