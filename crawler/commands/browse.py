"""``microscout browse``: the SQLite warehouse in Datasette, with descriptions, facets and the
README's example queries."""

from __future__ import annotations

import argparse
import json
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from crawler.commands.common import check_writable, database_url, fail, say

LOOPBACK = ("127.0.0.1", "localhost", "::1")
STOP_TIMEOUT = 10.0  # seconds Datasette gets to stop after Ctrl+C


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "browse", help="open the SQLite warehouse in Datasette: described views, facets, example queries")
    parser.add_argument("--database-url", help="override MICROSCOUT_DATABASE_URL (a sqlite:/// URL)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=port_number, default=8001,
                        help="port to listen on (default 8001; 0: a free one, printed at start)")
    parser.add_argument("--open", action=argparse.BooleanOptionalAction, default=False,
                        help="open it in a web browser (default: no; the address is printed)")
    parser.add_argument("--metadata-out", type=Path, metavar="PATH",
                        help="write the Datasette metadata (JSON) to PATH and exit, for `datasette "
                             "serve --metadata` or `datasette publish`")
    parser.set_defaults(func=run)


def port_number(value: str) -> int:
    if not value.isdigit() or int(value) > 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, got {value!r}")
    return int(value)


def run(args) -> int:
    import importlib.util
    import sqlite3

    from crawler.browse import build_metadata, database_name, read_view_columns
    from models import mask_url
    from models.db import sqlite_file

    url = database_url(args)
    try:
        path = sqlite_file(url)
    except ValueError:
        return fail(f"browse opens SQLite warehouses, and {mask_url(url)} is not one. For PostgreSQL, "
                    "point a BI tool (Metabase, Superset, Grafana, ...) at its views influencer_current, "
                    "micro_influencers, creator_reach and profile_growth")
    if path is None:
        return fail(f"{mask_url(url)} is an in-memory SQLite database: browse needs a warehouse file")
    if args.metadata_out:
        check_writable(args.metadata_out, "--metadata-out")
    if not path.is_file():  # Datasette would create an empty one
        return fail(f"no SQLite warehouse at {path.resolve()}: run a crawl or "
                    "`microscout db upgrade` first, or give --database-url")
    try:
        views = read_view_columns(path)
    except sqlite3.DatabaseError as exc:
        return fail(f"cannot read {path} as a SQLite database: {exc}")
    if not views:
        return fail(f"{path} has no analytics views (influencer_current, ...): not a microscout "
                    "warehouse, or not migrated (`microscout db upgrade`)")
    metadata = build_metadata(database_name(path), views)
    if args.metadata_out:
        args.metadata_out.parent.mkdir(parents=True, exist_ok=True)
        args.metadata_out.write_text(json.dumps(metadata, indent=2, ensure_ascii=False) + "\n",
                                     encoding="utf-8")
        say(f"wrote the Datasette metadata of {path} to {args.metadata_out}")
        return 0
    if importlib.util.find_spec("datasette") is None:
        return fail("Datasette is not installed in this environment: pip install datasette")
    return serve(path, metadata, args.host, args.port, args.open)


def serve(path: Path, metadata: dict[str, Any], host: str, port: int, open_browser: bool) -> int:
    """Run Datasette on ``path`` until it stops; its exit code."""
    from crawler.browse import setting_options

    if port == 0 and open_browser:  # the browser needs the port before Datasette prints it
        port = free_port(host)
    if host not in LOOPBACK:
        say(f"warning: listening on {host}: anyone who can reach port {port or '(free)'} reads the "
            "whole warehouse, contact emails included")
    with tempfile.TemporaryDirectory(prefix="microscout-browse-") as folder:
        metadata_file = Path(folder) / "metadata.json"
        metadata_file.write_text(json.dumps(metadata, ensure_ascii=False), encoding="utf-8")
        command = [sys.executable, "-m", "datasette", "serve", str(path), "--metadata", str(metadata_file),
                   "--host", host, "--port", str(port), *setting_options()]
        if open_browser:
            command.append("--open")
        where = f"http://{host}:{port}/" if port else "a free port (its address follows)"
        say(f"browsing {path} with Datasette on {where}; Ctrl+C stops it")
        return run_until_stopped(command)


def run_until_stopped(command: list[str]) -> int:
    """Run ``command``; pass SIGTERM on to it, give it time to stop on Ctrl+C; its exit code."""
    process = subprocess.Popen(command)  # noqa: S603 (this interpreter, our arguments)
    with forward_sigterm(process):
        try:
            code = process.wait()
        except KeyboardInterrupt:  # the terminal sent Ctrl+C to Datasette too
            try:
                code = process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.terminate()
                code = process.wait()
    return code if code >= 0 else 128 - code  # killed by signal N: 128 + N, as shells say


@contextmanager
def forward_sigterm(process: subprocess.Popen) -> Iterator[None]:
    """While inside, a SIGTERM to this process stops Datasette rather than orphaning it."""
    if threading.current_thread() is not threading.main_thread():  # signal handlers need it
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: process.send_signal(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def free_port(host: str) -> int:
    """A port free on ``host`` now (Datasette binds it a moment later)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
