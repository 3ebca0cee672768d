"""The ``microscout`` command: demo, sweep, refresh, export, report, browse, parse, db, forget, sandbox,
niches, enqueue, worker, jobs, quota, signals, similar."""

from __future__ import annotations

import argparse
import sys

from crawler.commands import (
    browse,
    db,
    demo,
    distributed,
    export,
    forget,
    niches,
    parse,
    quota,
    refresh,
    report,
    sandbox,
    signals,
    sweep,
)
from crawler.commands.common import fail
from crawler.settings_check import SettingError

COMMANDS = (demo, sweep, refresh, export, report, browse, parse, db, forget, sandbox, niches, distributed,
            quota, signals)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="microscout",
        description="Find and track social-media micro-influencers: crawl, normalise, load, query.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except SettingError as exc:  # a bad setting or database URL, found before anything ran
        return fail(exc)
    except KeyboardInterrupt:
        print("microscout: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
