"""Command line of the sandbox: ``python -m crawler.sandbox serve ...``.

``crawler/commands/sandbox.py`` mounts the same ``serve`` options under ``microscout sandbox``.
"""

from __future__ import annotations

import argparse
import sys

from crawler.platforms import SANDBOXED
from crawler.sandbox.faults import FAULT_KINDS, FaultSpecError, parse_faults

#: The knobs of each platform, for ``--help`` (the app modules' docstrings say more; importing
#: them here would slow every ``microscout --help``; a test keeps this in step with ``KNOBS``).
KNOB_HELP = {
    "bluesky": "handle_epoch=N (renames), search_auth=off|401|403, token_ttl=SECONDS",
    "instagram": "login_wall=RATE, checkpoint=RATE, og_only=RATE, sponsor_fields=graphql|all, "
                 "graph_token=TOKEN, graph_error=CODE[:COUNT], graph_usage=PERCENT, "
                 "graph_regain=MINUTES, graph_hashtag_limit=N, graph_recent_hours=HOURS",
    "mastodon": "none",
    "tiktok": "captcha=RATE, scope=all|profiles|listings, token_ttl=SECONDS, daily_requests=N, "
              "daily_records=N, missing_likes=RATE, nul_usernames=RATE",
    "youtube": "consent=RATE, bot_check=RATE, captcha=RATE, scope=all|profiles|listings, "
               "quota=UNITS (a run, all keys), api_quota=UNITS (per key per Pacific day)",
}
#: The server's knobs, for every platform (``SERVER_KNOBS`` in ``crawler/sandbox/common.py``).
SERVER_KNOB_HELP = ("throttle_after=N (one 429 after N more API requests), "
                    "throttle_retry_after=SECONDS, day=N (the follower counts of sandbox day N, "
                    "0 today)")


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--accounts", type=int, default=500, help="accounts in the world (500)")
    parser.add_argument("--seed", type=int, default=42, help="world seed (42)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (0)")
    parser.add_argument("--latency", type=float, default=0.0,
                        help="seconds added to every answer (0)")
    parser.add_argument("--faults", default="", metavar="KIND=RATE,...",
                        help=f"fault rates, e.g. 429=0.05,500=0.03; kinds: {', '.join(FAULT_KINDS)}")
    parser.add_argument("--slow-delay", type=float, default=2.0,
                        help="seconds a 'slow' fault waits (2)")
    parser.add_argument("--platform", choices=sorted(SANDBOXED), default="mastodon")
    parser.add_argument("--rate-limit", type=int, default=300,
                        help="rate-limit budget per 5 minutes in the mastodon and bluesky headers, "
                        "advisory (300, as Mastodon)")
    knobs = "; ".join(f"{name}: {KNOB_HELP.get(name, 'see its module')}" for name in sorted(SANDBOXED))
    knobs += f"; every platform: {SERVER_KNOB_HELP}"
    parser.add_argument("--knob", action="append", default=[], metavar="NAME=VALUE",
                        help=f"a knob of the platform, repeatable (RATE: 0 to 1). {knobs}. "
                        "Change them while serving: GET /__platform__/knobs?NAME=VALUE")
    parser.add_argument("--watch-stdin", action="store_true", help=argparse.SUPPRESS)


def run_serve(args: argparse.Namespace, prog: str = "microscout sandbox serve") -> int:
    """Handler of ``serve``: returns the exit code; a bad option or knob is one line on
    stderr, 2; an address that cannot be bound, 1."""
    from crawler.sandbox.common import parse_knob_args
    from crawler.sandbox.server import SandboxConfig, make_server, serve

    try:
        if not 0 <= args.port <= 65535:
            raise ValueError(f"--port must be from 0 to 65535 (0 picks a free one), got {args.port}")
        config = SandboxConfig(
            accounts=args.accounts,
            seed=args.seed,
            host=args.host,
            port=args.port,
            latency=args.latency,
            faults=parse_faults(args.faults),
            slow_delay=args.slow_delay,
            platform=args.platform,
            rate_limit=args.rate_limit,
            knobs=parse_knob_args(args.knob),
        )
        server = make_server(config)  # the app checks its knobs here
    except (FaultSpecError, ValueError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # port in use, address not available
        print(f"{prog}: error: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return serve(config, watch_stdin=args.watch_stdin, server=server)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m crawler.sandbox",
        description="Deterministic synthetic social network on 127.0.0.1 (one platform's API).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve_parser = commands.add_parser("serve", help="serve the sandbox until Ctrl-C")
    add_serve_arguments(serve_parser)
    args = parser.parse_args(argv)
    return run_serve(args, prog="python -m crawler.sandbox serve")
