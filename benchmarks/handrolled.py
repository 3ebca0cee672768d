"""Versus a hand-rolled scraper: microscout against the straightforward alternative.

The alternative is what a user writes without a framework: one ``requests.Session`` (keep-alive:
a kinder baseline than bare ``requests.get``), a sequential loop over the same pages microscout
fetches in its handle sweep (per account the lookup, then 20 recent posts), ``json()`` and a few
fields picked by hand, and rows inserted one by one with ``sqlite3`` into a two-table schema,
committing after each account as the usual Scrapy/sqlite3 tutorials do per item (sqlite3's
defaults: rollback journal, ``synchronous=FULL``). It does less than microscout: no robots.txt,
no retries or rate-limit handling, no normalisation, engagement, tiers, niches, quarantine,
snapshots or hashtags.

microscout is the full crawl into the SQLite warehouse (as in crawl_overhead). Both run against
the same sandbox process; twice: with no added latency (loopback, both sides CPU-bound) and with
``--latency`` seconds added to every answer (default 0.05 s, a conservative round trip to a real
instance), which is where a sequential loop waits and Scrapy's concurrency does not. The hand-rolled
loop's rate is constant per account, so it is timed on the first ``--handrolled-accounts`` accounts
of the same list (default: all of them, capped at 1,000).

    python -m benchmarks.handrolled --accounts 5000 [--latency 0,0.05]
"""

from __future__ import annotations

import argparse
import sqlite3
import time
from pathlib import Path

from benchmarks import crawl_runner
from benchmarks.common import Row, check, parse_list, print_table, say, scratch_dir, warehouse
from benchmarks.crawl_runner import (
    RECENT_POSTS,
    CrawlMeasure,
    crawl,
    handles_sweep,
    warehouse_settings,
    write_handles,
)

TARGET = 5.0
SCHEMA = """
CREATE TABLE profiles (id TEXT PRIMARY KEY, handle TEXT, display_name TEXT, bio TEXT,
                       followers INTEGER, following INTEGER, statuses INTEGER, url TEXT);
CREATE TABLE posts (id TEXT PRIMARY KEY, profile_id TEXT, created_at TEXT, content TEXT,
                    likes INTEGER, replies INTEGER, reblogs INTEGER, tags TEXT, url TEXT);
"""


def handrolled(base_url: str, handles: list[str], database: Path) -> float:
    """The sequential loop; returns its seconds."""
    import requests

    conn = sqlite3.connect(database)
    conn.executescript(SCHEMA)
    session = requests.Session()
    started = time.perf_counter()
    for handle in handles:
        account = session.get(f"{base_url}/api/v1/accounts/lookup", params={"acct": handle},
                              timeout=30).json()
        statuses = session.get(f"{base_url}/api/v1/accounts/{account['id']}/statuses",
                               params={"limit": str(RECENT_POSTS), "exclude_reblogs": "true"},
                               timeout=30).json()
        conn.execute(
            "INSERT OR REPLACE INTO profiles VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (account["id"], account["acct"], account["display_name"], account["note"],
             account["followers_count"], account["following_count"], account["statuses_count"],
             account["url"]),
        )
        for status in statuses:
            conn.execute(
                "INSERT OR REPLACE INTO posts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (status["id"], account["id"], status["created_at"], status["content"],
                 status["favourites_count"], status["replies_count"], status["reblogs_count"],
                 ",".join(tag["name"] for tag in status["tags"]), status["url"]),
            )
        conn.commit()
    seconds = time.perf_counter() - started
    count = conn.execute("SELECT count(*) FROM profiles").fetchone()[0]
    conn.close()
    session.close()
    if count != len(handles):
        raise RuntimeError(f"hand-rolled loop stored {count} of {len(handles)} accounts")
    return seconds


def measure(accounts: int, seed: int, latency: float, handrolled_accounts: int,
            ours: CrawlMeasure | None = None) -> tuple[CrawlMeasure, float, int]:
    """(microscout's crawl, hand-rolled seconds, accounts the hand-rolled loop did)."""
    from crawler.sandbox.server import SandboxProcess

    with SandboxProcess(accounts=accounts, seed=seed, rate_limit=10**9, latency=latency) as sandbox, \
            scratch_dir() as tmp:
        handles_file = write_handles(tmp / "handles.txt", accounts, seed)
        handles = handles_file.read_text(encoding="utf-8").split()[:handrolled_accounts]
        loop_seconds = handrolled(sandbox.base_url, handles, tmp / "handrolled.sqlite")
        say(f"  hand-rolled, latency {latency:g} s: {len(handles)} accounts in {loop_seconds:.1f} s "
            f"({len(handles) / loop_seconds:.1f}/s)")
        if ours is None:
            with warehouse("sqlite", tmp, "microscout") as url:
                ours = crawl(handles_sweep(sandbox.base_url, handles_file),
                             warehouse_settings(url, tmp / "spool"), sandbox_pid=sandbox.pid)
            say(f"  microscout, latency {latency:g} s: {ours.profiles} accounts in "
                f"{ours.seconds:.1f} s ({ours.accounts_per_second:.1f}/s)")
    return ours, loop_seconds, len(handles)


def run(accounts: int = 5000, seed: int = 42, latencies: list[float] | None = None,
        handrolled_accounts: int | None = None,
        ours_at_zero: CrawlMeasure | None = None) -> list[Row]:
    """``ours_at_zero``: a full SQLite crawl of the same sweep already measured in this run
    (run_all passes crawl_overhead's), reused for the no-latency comparison."""
    limit = min(accounts, handrolled_accounts or 1000)
    rows = []
    for latency in latencies if latencies is not None else [0.0, 0.05]:
        ours, loop_seconds, done = measure(accounts, seed, latency, limit,
                                           ours_at_zero if latency == 0 else None)
        theirs = done / loop_seconds
        ratio = ours.accounts_per_second / theirs
        rows.append(Row("vs hand-rolled", f"{accounts:,} accounts, +{latency * 1000:g} ms latency",
                        ours.accounts_per_second, theirs, "acc/s", ratio, f">= {TARGET:g}",
                        check(ratio, TARGET),
                        f"microscout/loop; loop timed on {done:,} accounts, commit per account"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--latency", default="0,0.05", help="seconds added per answer (comma list)")
    parser.add_argument("--handrolled-accounts", type=int, default=1000,
                        help="accounts the sequential loop is timed on (default 1,000)")
    parser.add_argument("--set", action="append", metavar="NAME=VALUE",
                        help="a Scrapy or MICROSCOUT_ setting for every benchmark crawl (both sides)")
    args = parser.parse_args(argv)
    crawl_runner.EXTRA_SETTINGS.update(crawl_runner.parse_set(args.set))
    rows = run(args.accounts, args.seed, [float(v) for v in parse_list(args.latency)],
               args.handrolled_accounts)
    print_table("microscout vs a sequential requests + sqlite3 loop", rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
