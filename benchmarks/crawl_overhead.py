"""Crawl overhead: a full microscout crawl against the same spider with its pipelines off.

Both sides sweep the same sandbox accounts through the real Scrapy engine in a fresh child
process, with the sandbox in a process of its own on 127.0.0.1 (no latency, no faults, an
unlimited rate-limit budget), the same concurrency (16) and the project's settings otherwise:

* **bare**: ``ITEM_PIPELINES = {}``: Scrapy fetches, the spider parses, items are dropped;
* **full**: validate -> normalise -> engagement -> tier -> niche -> warehouse, into a freshly
  migrated SQLite file or PostgreSQL database.

The sweep (``--mode``):

* ``handles`` (default): a handle list of every account of the world; each account costs one
  lookup and one statuses page (20 recent posts) and becomes one ProfileItem, so *accounts per
  second* is exactly accounts in the world / crawl seconds;
* ``tags``: every hashtag the world uses, 5 pages (200 posts) each, as ``microscout sweep`` does
  by default; accounts are the distinct authors found (each with 20 recent posts), and the
  crawl also yields one HashtagSightingItem per post listed.

Runs are interleaved (bare, full SQLite, full PostgreSQL, bare, ...) so that the load of a
shared machine hits both sides alike; each figure is the median over ``--repeat`` runs. The
table shows accounts per second, the ratio full/bare (target >= 0.85) and, in the note, the
ratio of crawler CPU seconds (less sensitive to other processes' load).

    python -m benchmarks.crawl_overhead --accounts 5000 [--mode handles,tags] [--db sqlite,postgresql]
        [--niche-embeddings]

``--niche-embeddings`` adds full SQLite crawls with the niche embeddings on and off, side by side:
their accounts/s ratio and the extra crawler CPU per profile.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks import crawl_runner
from benchmarks.common import (
    DATABASES,
    Row,
    check,
    db_label,
    median,
    parse_list,
    pg_available,
    print_table,
    say,
    scratch_dir,
    warehouse,
)
from benchmarks.crawl_runner import (
    CrawlMeasure,
    crawl,
    handles_sweep,
    tags_sweep,
    warehouse_settings,
    write_handles,
)

TARGET = 0.85
MODES = ("handles", "tags")


def sweep_kwargs(mode: str, base_url: str, accounts: int, seed: int, tmp: Path) -> dict:
    if mode == "handles":
        return handles_sweep(base_url, write_handles(tmp / "handles.txt", accounts, seed))
    if mode == "tags":
        return tags_sweep(base_url, accounts, seed)
    raise ValueError(f"unknown mode {mode!r}: {', '.join(MODES)}")


def measure(mode: str, accounts: int, seed: int, databases: list[str], repeat: int,
            profile_dir: Path | None = None) -> dict[str, list[CrawlMeasure]]:
    """{"bare": [...], "sqlite": [...], "postgresql": [...]}: the runs of each side."""
    from crawler.sandbox.server import SandboxProcess

    runs: dict[str, list[CrawlMeasure]] = {"bare": [], **{db: [] for db in databases}}
    with SandboxProcess(accounts=accounts, seed=seed, rate_limit=10**9) as sandbox, \
            scratch_dir() as tmp:
        kwargs = sweep_kwargs(mode, sandbox.base_url, accounts, seed, tmp)
        for round_ in range(repeat):
            for side in runs:
                spy = (profile_dir / f"{mode}-{side}-{round_}.txt"
                       if profile_dir is not None and round_ == 0 else None)
                if side == "bare":
                    run = crawl(kwargs, warehouse_settings("", tmp / "spool"), pipelines=False,
                                sandbox_pid=sandbox.pid, profile=spy)
                else:
                    with warehouse(side, tmp, f"{mode}-{round_}") as url:
                        run = crawl(kwargs, warehouse_settings(url, tmp / "spool"),
                                    sandbox_pid=sandbox.pid, profile=spy)
                    loaded = run.stats.get("microscout/warehouse/profiles_upserted", 0)
                    if loaded != run.profiles or run.stats.get("microscout/warehouse/spooled_items"):
                        raise RuntimeError(f"{side}: {run.profiles} profiles crawled, {loaded} loaded")
                say(f"  crawl overhead {mode} {side} #{round_ + 1}: {run.profiles} accounts, "
                    f"{run.requests} requests, {run.items} items in {run.seconds:.1f} s "
                    f"({run.accounts_per_second:.1f}/s), CPU {run.cpu:.1f} s, "
                    f"sandbox CPU {run.sandbox_cpu or 0:.1f} s, peak {run.peak_mb:.0f} MB")
                runs[side].append(run)
    return runs


def rows_for(mode: str, accounts: int, runs: dict[str, list[CrawlMeasure]]) -> list[Row]:
    bare = runs["bare"]
    bare_rate = median([r.accounts_per_second for r in bare])
    bare_cpu = median([r.cpu for r in bare])
    rows = []
    for side, full in runs.items():
        if side == "bare" or not full:
            continue
        rate = median([r.accounts_per_second for r in full])
        ratio = rate / bare_rate if bare_rate else None
        cpu_ratio = bare_cpu / median([r.cpu for r in full])
        found = full[0].profiles
        what = f"{accounts:,} accounts" if mode == "handles" else f"{found:,} of {accounts:,} accounts"
        rows.append(Row("crawl overhead", f"{mode} sweep, {what}, {db_label(side)}", rate, bare_rate,
                        "acc/s", ratio, f">= {TARGET}", check(ratio, TARGET),
                        f"full/bare; CPU-time ratio {cpu_ratio:.2f}; n={len(full)}"))
    return rows


def run(accounts: int = 5000, seed: int = 42, modes: list[str] | None = None,
        databases: list[str] | None = None, repeat: int = 2,
        profile_dir: Path | None = None) -> tuple[list[Row], dict]:
    """The table rows, and the raw runs by mode (other benchmarks reuse the SQLite ones)."""
    databases = list(databases or DATABASES)
    if "postgresql" in databases and not pg_available():
        say("PostgreSQL not reachable: crawl overhead measured on SQLite only")
        databases.remove("postgresql")
    rows, raw = [], {}
    for mode in modes or ["handles"]:
        runs = measure(mode, accounts, seed, databases, repeat, profile_dir)
        raw[mode] = runs
        rows += rows_for(mode, accounts, runs)
    return rows, raw


def toggle_cost(accounts: int, seed: int, repeat: int, name: str, on: dict, off: dict,
                used: str) -> list[Row]:
    """Full SQLite crawls with a feature on and off, side by side (interleaved): the accounts/s
    ratio and the crawler CPU milliseconds it adds per profile. ``used``: a stat that is set
    exactly when the feature ran."""
    runs: dict[bool, list[CrawlMeasure]] = {False: [], True: []}
    from crawler.sandbox.server import SandboxProcess

    with SandboxProcess(accounts=accounts, seed=seed, rate_limit=10**9) as sandbox, \
            scratch_dir() as tmp:
        kwargs = sweep_kwargs("handles", sandbox.base_url, accounts, seed, tmp)
        for round_ in range(repeat):
            for enabled in runs:
                with warehouse("sqlite", tmp, f"{used.replace('/', '-')}-{enabled}-{round_}") as url:
                    settings = {**warehouse_settings(url, tmp / "spool"), **(on if enabled else off)}
                    run = crawl(kwargs, settings, sandbox_pid=sandbox.pid)
                if bool(run.stats.get(used)) != enabled:
                    raise RuntimeError(f"{name} {'not ' if enabled else ''}used: {run.stats}")
                say(f"  {name} {'on' if enabled else 'off'} #{round_ + 1}: {run.profiles} "
                    f"accounts in {run.seconds:.1f} s ({run.accounts_per_second:.1f}/s), CPU {run.cpu:.1f} s")
                runs[enabled].append(run)
    off_runs, on_runs = runs[False], runs[True]
    per_profile = [(b.cpu - a.cpu) / max(b.profiles, 1) * 1000
                   for a, b in zip(off_runs, on_runs, strict=True)]
    rate_on = median([r.accounts_per_second for r in on_runs])
    rate_off = median([r.accounts_per_second for r in off_runs])
    return [Row("crawl overhead", f"{name}, {accounts:,} accounts, SQLite", rate_on, rate_off,
                "acc/s", rate_on / rate_off if rate_off else None, "", None,
                f"with/without; crawler CPU +{median(per_profile):.1f} ms a profile "
                f"(process start-up included); n={repeat}")]


def embedding_cost(accounts: int = 2000, seed: int = 42, repeat: int = 2) -> list[Row]:
    """The niche embeddings' share of a full crawl."""
    return toggle_cost(accounts, seed, repeat, "niche embeddings",
                       {"MICROSCOUT_NICHE_EMBEDDINGS": True}, {"MICROSCOUT_NICHE_EMBEDDINGS": False},
                       "microscout/niche/embedded")


def signals_cost(accounts: int = 2000, seed: int = 42, repeat: int = 2) -> list[Row]:
    """The creator signals' share of a full crawl (embeddings off on both sides): the signals
    pipeline (disclosures, contact, Lingua) and the after-run audience quality, creators and
    lookalikes, against the same crawl without either."""
    from crawler.settings import ITEM_PIPELINES

    without = {name: order for name, order in ITEM_PIPELINES.items() if not name.endswith("SignalsPipeline")}
    base = {"MICROSCOUT_NICHE_EMBEDDINGS": False}
    return toggle_cost(accounts, seed, repeat, "creator signals", {**base, "MICROSCOUT_SIGNALS": True},
                       {**base, "MICROSCOUT_SIGNALS": False, "ITEM_PIPELINES": without},
                       "microscout/signals/signals")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--mode", default="handles", help="handles, tags or both (comma list)")
    parser.add_argument("--db", default=",".join(DATABASES), help="sqlite, postgresql (comma list)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each side (median)")
    parser.add_argument("--profile-dir", type=Path,
                        help="record py-spy profiles (raw collapsed stacks) of the first runs here")
    parser.add_argument("--niche-embeddings", action="store_true",
                        help="also the cost of the niche embeddings (full crawls with them on and off)")
    parser.add_argument("--signals", action="store_true",
                        help="also the cost of the creator signals (full crawls with them and without)")
    parser.add_argument("--set", action="append", metavar="NAME=VALUE",
                        help="a Scrapy or MICROSCOUT_ setting for every benchmark crawl (both sides)")
    args = parser.parse_args(argv)
    crawl_runner.EXTRA_SETTINGS.update(crawl_runner.parse_set(args.set))
    if args.profile_dir:
        args.profile_dir.mkdir(parents=True, exist_ok=True)
    rows, _ = run(args.accounts, args.seed, parse_list(args.mode), parse_list(args.db), args.repeat,
                  args.profile_dir)
    if args.niche_embeddings:
        rows += embedding_cost(args.accounts, args.seed, args.repeat)
    if args.signals:
        rows += signals_cost(args.accounts, args.seed, args.repeat)
    print_table("Crawl overhead: full microscout crawl vs the same spider without pipelines", rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
