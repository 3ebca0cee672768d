"""Requests per new micro-influencer found, per platform and route, on one sandbox world.

Every route sweeps the same hashtags of the same sandbox world (``--accounts``, ``--seed``)
through ``microscout sweep`` (the real command: every pipeline, a fresh SQLite warehouse), with
the same follower range (1,000 to 100,000), pages and recent posts. Requests are what the
sandbox served (``/__sandbox__/traffic``, robots.txt and token calls included); micro-influencers
found are the rows of the ``micro_influencers`` view afterwards (the warehouse was empty). The
table shows requests per micro-influencer found, and in the note the requests, the accounts
found and, for the official APIs, what the budgets were charged.

Web routes read the listing and then each author's profile; the official APIs differ: YouTube's
``channels.list`` takes 50 channels a call, Instagram's Graph API names no authors of hashtag
media (so it finds none there: see docs/instagram.md), TikTok's Research API costs one
``user/info`` call per new author. The Research API is asked for the two months the sandbox's
posts span (``since``/``until``); the other routes read listings newest first.

    python -m benchmarks.discovery [--accounts 400] [--tags 3] [--routes youtube:api,tiktok:research]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from benchmarks.common import REPO, Row, print_table, say, scratch_dir

#: (platform, source) -> settings the sandbox accepts for that route's credentials.
ROUTES: dict[tuple[str, str], dict[str, str]] = {
    ("mastodon", "web"): {},
    ("bluesky", "web"): {},
    ("instagram", "web"): {},
    ("instagram", "graph"): {"MICROSCOUT_INSTAGRAM_GRAPH_TOKEN": "EAAbench-graph-token",
                             "MICROSCOUT_INSTAGRAM_GRAPH_USER_ID": "17841400000000001"},
    ("tiktok", "web"): {},
    ("tiktok", "research"): {"MICROSCOUT_TIKTOK_CLIENT_KEY": "sandbox-research-client-key",
                             "MICROSCOUT_TIKTOK_CLIENT_SECRET": "sandbox-research-client-secret"},
    ("youtube", "web"): {},
    ("youtube", "api"): {"MICROSCOUT_YOUTUBE_API_KEY": "AIzaSy-bench-discovery-key"},
}
#: A route's own arguments (the Research API needs a date window holding the sandbox's posts).
ROUTE_ARGS = {("tiktok", "research"): ["since=2026-08-01", "until=2026-09-30"]}
SWEEP = ["--min-followers", "1000", "--max-followers", "100000", "--max-pages", "2",
         "--max-posts", "100", "--recent-posts", "12"]


def top_tags(accounts: int, seed: int, count: int) -> list[str]:
    from crawler.sandbox.world import World

    tags = World(accounts, seed).tags()
    return sorted(tags, key=lambda tag: (-tags[tag], tag))[:count]


def sweep(platform: str, source: str, tags: list[str], accounts: int, seed: int,
          tmp: Path) -> dict:
    """One route's sweep of a fresh sandbox into a fresh warehouse: requests, found, budgets."""
    from crawler.sandbox.server import SandboxProcess

    db = tmp / f"{platform}-{source}.sqlite"
    settings = {**ROUTES[(platform, source)], "ROBOTSTXT_OBEY": "false"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("MICROSCOUT_")}
    with SandboxProcess(accounts=accounts, seed=seed, platform=platform) as sandbox:
        cmd = [sys.executable, "-m", "crawler.cli", "sweep", "--platform", platform,
               "--source", source, "--base-url", sandbox.base_url, "--tags", ",".join(tags),
               "--database-url", f"sqlite:///{db}", "--delay", "0", "--quiet", "--json", *SWEEP]
        for name, value in settings.items():
            cmd += ["--set", f"{name}={value}"]
        for pair in ROUTE_ARGS.get((platform, source), []):
            cmd += ["-a", pair]
        done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True,  # noqa: S603
                              timeout=1800, check=False)
        traffic = sandbox.traffic()
    summary = json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else {}
    requests = sum(host["requests"] for host in traffic.get("hosts", {}).values())
    with sqlite3.connect(db) as conn:
        found = conn.execute("SELECT count(*) FROM micro_influencers WHERE platform = ?",
                             (platform,)).fetchone()[0]
        accounts_loaded = conn.execute("SELECT count(*) FROM profiles WHERE platform = ?",
                                       (platform,)).fetchone()[0]
        budgets = conn.execute("SELECT api, unit, used FROM api_usage").fetchall()
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{platform}/{source}: exit {done.returncode}\n{done.stderr[-2000:]}")
    return {"requests": requests, "found": found, "accounts": accounts_loaded,
            "status": summary.get("status"), "budgets": budgets}


def run(accounts: int, seed: int, tag_count: int, routes: list[tuple[str, str]]) -> list[Row]:
    tags = top_tags(accounts, seed, tag_count)
    say(f"discovery: tags {', '.join(tags)} of a {accounts}-account world (seed {seed})")
    rows = []
    with scratch_dir("microscout-discovery-") as tmp:
        for platform, source in routes:
            result = sweep(platform, source, tags, accounts, seed, tmp)
            found, requests = result["found"], result["requests"]
            per = requests / found if found else None
            spent = ", ".join(f"{used:,} {unit}" for _, unit, used in result["budgets"])
            note = (f"{requests:,} requests, {found} micro found of {result['accounts']} accounts, "
                    f"run {result['status']}" + (f"; budget: {spent}" if spent else ""))
            say(f"  {platform}/{source}: {note}")
            rows.append(Row("discovery", f"{platform} {source}", per, unit="req/found", note=note))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=400)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--tags", type=int, default=3, help="the world's N most used hashtags")
    parser.add_argument("--routes", help="platform:source pairs (default: all)")
    args = parser.parse_args(argv)
    routes = list(ROUTES)
    if args.routes:
        routes = [tuple(pair.split(":", 1)) for pair in args.routes.split(",")]  # type: ignore[misc]
        unknown = [r for r in routes if r not in ROUTES]
        if unknown:
            parser.error(f"unknown routes {unknown}; choose from "
                         f"{', '.join(f'{p}:{s}' for p, s in ROUTES)}")
    rows = run(args.accounts, args.seed, args.tags, routes)
    print_table("Requests per new micro-influencer found (same tags, same sandbox world)", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
