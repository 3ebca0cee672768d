"""Run every benchmark and print one table (``make bench``).

    python -m benchmarks.run_all                      # moderate size (see SIZES), ~1-2 h here
    python -m benchmarks.run_all --size tiny          # seconds per benchmark: checks they run
    python -m benchmarks.run_all --write benchmarks/RESULTS.md
    python -m benchmarks.run_all --only crawl --json a.json; ... --merge a.json b.json --write ...

Order: parsers, warehouse load, crawl overhead, hand-rolled, scale, reliability, distributed
(Redis workers; skipped without Redis), official APIs (YouTube quota units per profile,
requests per micro-influencer found on every route), creator signals, the HTML report (on a synthetic
warehouse). The full SQLite crawl of the handle sweep measured by
crawl overhead is reused (same run, same sandbox size) as microscout's side of the no-latency
hand-rolled comparison and as the first small run of the scale benchmark.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

from benchmarks import (
    crawl_overhead,
    crawl_runner,
    discovery,
    distributed,
    handrolled,
    parsers,
    quota,
    reliability,
    report,
    scale,
    signals,
    warehouse_load,
)
from benchmarks.common import DATABASES, Row, machine, parse_list, say, table

SIZES = {
    "tiny": {"accounts": 40, "modes": "handles,tags", "repeat": 1, "tags_repeat": 1,
             "warehouse": 200, "orm": 50, "cap": 600.0, "scale": (30, 60), "latency": "0,0.05",
             "handrolled": 40, "parser_time": 0.002, "reliability": (120, 5.0),
             "distributed": distributed.SIZES["tiny"], "apis": (100, 1), "signals": (60, 3),
             "report": (500, 2000)},
    "moderate": {"accounts": 5000, "modes": "handles,tags", "repeat": 2, "tags_repeat": 1,
                 "warehouse": 100_000, "orm": 5000, "cap": 600.0, "scale": (5000, 20_000),
                 "latency": "0,0.05", "handrolled": 1000, "parser_time": 0.05, "reliability": (300, 60.0),
                 "distributed": distributed.SIZES["moderate"], "apis": (2000, 4), "signals": (400, 5),
                 "report": (5000, 50_000)},
}
BENCHES = ("parsers", "warehouse", "crawl", "handrolled", "scale", "reliability", "distributed",
           "apis", "signals", "report")


def run_all(preset: dict, only: list[str], databases: list[str], seed: int = 42) -> list[Row]:
    rows: list[Row] = []
    raw: dict = {}
    if "parsers" in only:
        say("parsers ...")
        rows += parsers.run(preset["parser_time"])
    if "warehouse" in only:
        say("warehouse load ...")
        rows += warehouse_load.run(preset["warehouse"], 4, databases, preset["orm"], preset["cap"])
    if "crawl" in only:
        say("crawl overhead ...")
        for mode in parse_list(preset["modes"]):
            repeat = preset["repeat"] if mode == "handles" else preset["tags_repeat"]
            crawl_rows, mode_raw = crawl_overhead.run(preset["accounts"], seed, [mode], databases, repeat)
            rows += crawl_rows
            raw.update(mode_raw)
        rows += crawl_overhead.embedding_cost(preset["accounts"], seed, preset["repeat"])
    full_sqlite = (raw.get("handles") or {}).get("sqlite") or []
    if "handrolled" in only:
        say("hand-rolled ...")
        rows += handrolled.run(preset["accounts"], seed,
                               [float(v) for v in parse_list(preset["latency"])],
                               preset["handrolled"], full_sqlite[-1] if full_sqlite else None)
    if "scale" in only:
        say("scale ...")
        small, large = preset["scale"]
        reuse = full_sqlite[0] if full_sqlite and small == preset["accounts"] else None
        rows += scale.run(small, large, seed, "sqlite", reuse)
    if "reliability" in only:
        say("reliability ...")
        rows += reliability.run(*preset["reliability"])
    if "distributed" in only:
        say("distributed ...")
        spec = preset["distributed"]
        db = None if "postgresql" in databases else "sqlite"  # None: PostgreSQL when reachable
        rows += distributed.run(spec["accounts"], spec["memory"], spec["max_requests"], spec["repeat"],
                                db, seed)
    if "apis" in only:
        say("official APIs: YouTube quota units, requests per micro-influencer found ...")
        accounts, tags = preset["apis"]
        rows += quota.run(accounts, seed, tags)
        rows += discovery.run(accounts, seed, tags, list(discovery.ROUTES))
    if "signals" in only:
        say("creator signals against the sandbox's planted truth ...")
        accounts, days = preset["signals"]
        rows += signals.run(accounts, days)
    if "report" in only:
        say("HTML report on a synthetic warehouse ...")
        small, large = preset["report"]
        rows += report.run(small, large)
    return rows


def results_markdown(rows: list[Row], info: dict[str, str], seconds: float, command: str) -> str:
    described = "\n".join(f"- **{key}**: {value}" for key, value in info.items())
    commands = "\n".join(f"    {part.strip()}" for part in command.split(" + "))
    return (
        "# Benchmark results\n\n"
        f"Latest run ({seconds / 60:.0f} min of benchmarks):\n\n{commands}\n\n"
        "Each ratio is measured side by side within one run (see the docstrings of "
        "`benchmarks/*.py` for what each side does); `met` compares it with the target of issue #7.\n\n"
        f"{table(rows, markdown=True)}\n\n## Machine\n\n{described}\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="moderate")
    parser.add_argument("--only", default=",".join(BENCHES), help="comma list of " + ", ".join(BENCHES))
    parser.add_argument("--db", default=",".join(DATABASES), help="sqlite, postgresql (comma list)")
    parser.add_argument("--accounts", type=int, help="crawl size (overrides the preset)")
    parser.add_argument("--repeat", type=int, help="runs of each crawl-overhead side")
    parser.add_argument("--scale", help="small,large accounts of the scale benchmark")
    parser.add_argument("--warehouse-size", type=int, help="profiles of the warehouse benchmark")
    parser.add_argument("--write", type=Path, help="also write the table and the machine here (markdown)")
    parser.add_argument("--json", type=Path, help="also save the rows and the machine here (JSON)")
    parser.add_argument("--merge", type=Path, nargs="+",
                        help="run nothing: print (and --write) one table of these --json files")
    parser.add_argument("--set", action="append", metavar="NAME=VALUE",
                        help="a Scrapy or MICROSCOUT_ setting for every benchmark crawl (both sides)")
    args = parser.parse_args(argv)
    crawl_runner.EXTRA_SETTINGS.update(crawl_runner.parse_set(args.set))
    preset = dict(SIZES[args.size])
    for key, value in (("accounts", args.accounts), ("repeat", args.repeat),
                       ("warehouse", args.warehouse_size)):
        if value is not None:
            preset[key] = value
    if args.scale:
        preset["scale"] = tuple(int(v) for v in args.scale.split(","))
    if args.merge:
        saved = [json.loads(path.read_text(encoding="utf-8")) for path in args.merge]
        rows = [Row(**row) for part in saved for row in part["rows"]]
        info = saved[0]["machine"]
        info["load during the run"] = "; ".join(part["machine"].get("load during the run", "?")
                                                for part in saved)
        seconds = sum(part["seconds"] for part in saved)
        command = " + ".join(part.get("command", "?") for part in saved)
    else:
        info = machine()
        started = time.monotonic()
        rows = run_all(preset, parse_list(args.only), parse_list(args.db))
        seconds = time.monotonic() - started
        info["load during the run"] = f"{info.pop('load', '?')} at start"
        command = " ".join(["python -m benchmarks.run_all", *(argv if argv is not None else sys.argv[1:])])
    if args.json:
        args.json.write_text(json.dumps({"rows": [dataclasses.asdict(r) for r in rows], "machine": info,
                                         "seconds": seconds, "command": command}, indent=1),
                             encoding="utf-8")
    print(f"\nmicroscout benchmarks ({args.size}, {seconds / 60:.1f} min)\n{table(rows)}\n")
    print("machine: " + "; ".join(f"{k} {v}" for k, v in info.items()))
    if args.write:
        args.write.write_text(results_markdown(rows, info, seconds, command), encoding="utf-8")
        say(f"wrote {args.write}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
