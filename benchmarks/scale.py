"""Scale: the same full crawl (every pipeline, SQLite warehouse) at two sizes of the sandbox
world; time per account and the crawler's peak memory should not grow with the size.

The sweep is crawl_overhead's handle list (every account of the world: one lookup, one statuses
page of 20 posts, one ProfileItem), so the work per account is the same at every size and any
growth comes from microscout itself (warehouse indexes, id look-ups, sets of seen accounts,
Scrapy's duplicate filter, the handle list queued as start requests). Peak memory is the crawler
process's ``VmHWM`` (see crawl_runner). Runs go small, large, small (the small figure is the
median of the two) so that a change of load on a shared machine shows up on both sides.
Targets: time per account of the large size <= 1.2 x the small one; peak memory flat (here:
<= 1.2 x).

    python -m benchmarks.scale --sizes 5000,50000
"""

from __future__ import annotations

import argparse

from benchmarks import crawl_runner
from benchmarks.common import Row, check, median, print_table, say, scratch_dir, warehouse
from benchmarks.crawl_runner import CrawlMeasure, crawl, handles_sweep, warehouse_settings, write_handles

TARGET_TIME = 1.2
TARGET_MEMORY = 1.2


def crawl_size(accounts: int, seed: int, db: str = "sqlite") -> CrawlMeasure:
    from crawler.sandbox.server import SandboxProcess

    with SandboxProcess(accounts=accounts, seed=seed, rate_limit=10**9) as sandbox, \
            scratch_dir() as tmp:
        kwargs = handles_sweep(sandbox.base_url, write_handles(tmp / "handles.txt", accounts, seed))
        with warehouse(db, tmp, f"scale-{accounts}") as url:
            run = crawl(kwargs, warehouse_settings(url, tmp / "spool"), sandbox_pid=sandbox.pid)
    if run.profiles != accounts:
        raise RuntimeError(f"{accounts} accounts in the world, {run.profiles} crawled")
    say(f"  scale {accounts:,}: {run.seconds:.1f} s, {run.seconds / accounts * 1000:.2f} ms/account, "
        f"peak {run.peak_mb:.0f} MB, CPU {run.cpu:.1f} s")
    return run


def run(small: int = 5000, large: int = 50_000, seed: int = 42, db: str = "sqlite",
        small_first: CrawlMeasure | None = None) -> list[Row]:
    """``small_first``: a full handle-sweep crawl of ``small`` accounts already measured in this
    run (run_all passes crawl_overhead's), used as the first of the two small runs."""
    smalls = [small_first or crawl_size(small, seed, db)]
    big = crawl_size(large, seed, db)
    smalls.append(crawl_size(small, seed, db))
    per_small = median([r.seconds / small for r in smalls]) * 1000
    per_large = big.seconds / large * 1000
    mem_small = median([r.peak_mb for r in smalls])
    time_ratio = per_large / per_small
    mem_ratio = big.peak_mb / mem_small
    return [
        Row("scale", f"time per account, {large:,} vs {small:,} accounts", per_large, per_small,
            "ms", time_ratio, f"<= {TARGET_TIME:g}", check(time_ratio, maximum=TARGET_TIME),
            f"large/small; {big.seconds:.0f} s for {large:,}"),
        Row("scale", f"crawler peak RSS, {large:,} vs {small:,} accounts", big.peak_mb, mem_small,
            "MB", mem_ratio, f"<= {TARGET_MEMORY:g}", check(mem_ratio, maximum=TARGET_MEMORY),
            "large/small; VmHWM of the crawler process"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="5000,50000", help="small,large accounts")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--set", action="append", metavar="NAME=VALUE",
                        help="a Scrapy or MICROSCOUT_ setting for every benchmark crawl (both sides)")
    args = parser.parse_args(argv)
    crawl_runner.EXTRA_SETTINGS.update(crawl_runner.parse_set(args.set))
    small, large = (int(v) for v in args.sizes.split(","))
    print_table("Scale: full crawl at two sizes", run(small, large, args.seed, args.db))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
