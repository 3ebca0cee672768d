"""``microscout sandbox serve``: the synthetic platform on 127.0.0.1 until Ctrl-C."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> argparse.ArgumentParser:
    from crawler.sandbox.cli import add_serve_arguments
    parser = subparsers.add_parser(
        "sandbox", help="serve the deterministic synthetic platform (Mastodon API) locally"
    )
    commands = parser.add_subparsers(dest="sandbox_command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="serve until Ctrl-C; prints the URL",
        description="Serve a deterministic synthetic social network speaking the Mastodon API, "
        "with optional latency and injected faults.",
    )
    add_serve_arguments(serve)
    serve.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from crawler.sandbox.cli import run_serve
    return run_serve(args, prog="microscout sandbox serve")
