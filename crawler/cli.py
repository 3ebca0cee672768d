"""The ``microscout`` command: demo, sweep, refresh, export, parse, db, sandbox, niches."""

from __future__ import annotations

import argparse
import sys

from crawler.commands import db, demo, export, niches, parse, refresh, sandbox, sweep

COMMANDS = (demo, sweep, refresh, export, parse, db, sandbox, niches)


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
    except KeyboardInterrupt:
        print("microscout: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
