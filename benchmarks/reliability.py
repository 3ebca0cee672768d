"""Reliability: one fixed sandbox sweep under faults, each ending in the same warehouse as a clean run.

The sweep is a Mastodon tag sweep of the sandbox through ``microscout sweep`` (a real process,
every pipeline, a real warehouse). A clean run gives the expected accounts; each case then says
how many of them ended loaded, as "N of N, 0 lost":

* **20% of requests failing**: the sandbox answers 429 (with Retry-After), 500, 503 and cut bodies
  to a fifth of the requests; retries must bring every account in.
* **SIGKILL + resume**: the sandbox's request gate holds the sweep half-way, the crawler is killed
  with SIGKILL there, and the same ``JOBDIR`` is run again.
* **database outage + load-spool** (PostgreSQL): the warehouse sits behind a TCP relay that
  refuses every connection for the outage (60 s by default); batches that cannot be written are
  spooled; after the relay forwards again, ``microscout db load-spool`` loads them.
* **fuzzed inputs**: the count the fuzz suite tries (``tests/test_fuzz.py``, seeded) and how many
  of them crashed.

    python -m benchmarks.reliability [--accounts 300] [--outage 60]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from benchmarks.common import REPO, Row, pg_available, print_table, say, scratch_dir, warehouse

FAULTS = {"429": 0.06, "500": 0.05, "503": 0.05, "truncate": 0.04}  # 20% of requests
SEED = 17


def _sweep(base_url: str, tag: str, url: str, cwd: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "crawler.cli", "sweep", "--platform", "mastodon", "--base-url", base_url,
            "--tags", tag, "--max-pages", "5", "--recent-posts", "5", "--database-url", url, "--quiet",
            "--set", "RETRY_TIMES=10", "--set", "MICROSCOUT_MAX_RETRY_AFTER=0.5",
            "--set", "MICROSCOUT_DB_RETRY_DELAY=0.2", *extra]


def _run(command: list[str], cwd: Path, check: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,  # noqa: S603 - our CLI
                          timeout=1800, check=check)


def accounts(url: str) -> set[str]:
    from sqlalchemy import text

    from models import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {handle for (handle,) in conn.execute(text("SELECT handle FROM profiles"))}
    finally:
        engine.dispose()


def _row(case: str, expected: set[str], got: set[str], note: str = "") -> Row:
    lost = len(expected - got)
    extra = len(got - expected)
    text = f"{len(got & expected)} of {len(expected)}, {lost} lost" + (f", {extra} extra" if extra else "")
    say(f"  {case}: {text}")
    return Row("reliability", case, float(len(got & expected)), float(len(expected)), unit="accounts",
               ratio=len(got & expected) / len(expected) if expected else None, target="0 lost",
               met=lost == 0 and extra == 0, note=text + (f"; {note}" if note else ""))


def _start(command: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(command, cwd=cwd, env=env,  # noqa: S603 - our own CLI
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _count(url: str, table: str = "profiles") -> int:
    """Rows of ``profiles`` or ``crawl_runs`` (0 while the database is busy or unreachable)."""
    from sqlalchemy import func, select

    from models import make_engine
    from models.tables import CrawlRun, Profile

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            model = Profile if table == "profiles" else CrawlRun
            return int(conn.execute(select(func.count()).select_from(model)).scalar() or 0)
    except Exception:  # the database may be busy or unreachable for a moment
        return 0
    finally:
        engine.dispose()


def _wait(condition: Callable[[], bool], what: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _top_tags(accounts_count: int, seed: int, count: int = 3) -> str:
    """The world's ``count`` biggest tags, comma-separated: the sweep's fixed work."""
    from crawler.sandbox.world import World

    world = World(accounts_count, seed)
    tags = sorted(sorted(world.tags()), key=lambda tag: len(world.tag_post_ids(tag)), reverse=True)
    return ",".join(tags[:count])


# --- a TCP relay that can refuse (the database "outage") ------------------------------------------

class Outage:
    """While down, the relay refuses new connections; going down cuts the open ones."""

    def __init__(self) -> None:
        self.down = threading.Event()
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()

    def start(self) -> None:
        self.down.set()
        with self.lock:
            for sock in self.open:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            self.open.clear()

    def end(self) -> None:
        self.down.clear()


@contextmanager
def relay(target_port: int) -> Iterator[tuple[int, Outage]]:
    """A TCP relay on 127.0.0.1 to ``target_port`` whose :class:`Outage` cuts the database off."""
    outage = Outage()
    down = outage.down
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for end in (a, b):
                with suppress(OSError):
                    end.close()

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if down.is_set():
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", target_port))
            with outage.lock:
                outage.open.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=pipe, args=(a, b), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], outage
    finally:
        stop.set()
        server.close()
        thread.join(timeout=5)


# --- the cases --------------------------------------------------------------------------------------

def run(accounts_count: int, outage: float, seed: int = SEED, fuzz: bool = True) -> list[Row]:
    from crawler.sandbox.server import SandboxProcess

    rows: list[Row] = []
    tag = _top_tags(accounts_count, seed)
    with scratch_dir() as tmp, SandboxProcess(accounts=accounts_count, seed=seed,
                                              rate_limit=10**9, latency=0.01) as sandbox:
        with warehouse("sqlite", tmp, "clean") as clean:
            before = sandbox.stats()["requests"]
            _run(_sweep(sandbox.base_url, tag, clean, tmp), tmp, check=True)
            requests = sandbox.stats()["requests"] - before
            expected = accounts(clean)
        say(f"  clean sweep of {tag}: {len(expected)} accounts, {requests} requests")

        with SandboxProcess(accounts=accounts_count, seed=seed, rate_limit=10**9, latency=0.01,
                            faults=FAULTS) as faulty, warehouse("sqlite", tmp, "faulty") as url:
            done = _run(_sweep(faulty.base_url, tag, url, tmp), tmp)
            injected = faulty.stats()["faults_total"]
            rows.append(_row("20% of requests failing", expected, accounts(url),
                             f"{injected} faults injected, exit {done.returncode}"))

        with warehouse("sqlite", tmp, "killed") as url:
            # the buffer is also written every half second, so the accounts parsed before the
            # gate are in the warehouse while the sweep waits there (a small world may parse
            # fewer than a batch before it: then nothing was written until the held requests
            # timed out, minutes later)
            command = _sweep(sandbox.base_url, tag, url, tmp, "--set", f"JOBDIR={tmp / 'job'}",
                             "--set", "MICROSCOUT_BATCH_SIZE=10",
                             "--set", "MICROSCOUT_FLUSH_INTERVAL=0.5")
            sandbox.gate(hold_after=requests // 2)
            proc = _start(command, tmp)
            _wait(lambda: sandbox.gate()["waiting"] > 0 and _count(url) > 0,
                  "the sweep to load some accounts and stop at the gate")
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            sandbox.gate(open=1)
            partial = len(accounts(url))
            done = _run(command, tmp)
            rows.append(_row("SIGKILL half-way + resume", expected, accounts(url),
                             f"{partial} loaded before the kill, exit {done.returncode}"))

        if pg_available():
            rows.append(_outage_case(sandbox.base_url, tag, tmp, expected, outage))
        else:
            say("  database outage: skipped (PostgreSQL not reachable)")
    if fuzz:
        rows.append(_fuzz_row())
    return rows


def _outage_case(base_url: str, tag: str, tmp: Path, expected: set[str], outage_s: float) -> Row:
    """The database goes away once the run is recorded, for ``outage_s`` seconds."""
    from sqlalchemy.engine import make_url

    with warehouse("postgresql", tmp, "outage") as url:
        real = make_url(url)
        with relay(real.port or 5432) as (port, outage):
            relayed = real.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
            spool = tmp / "spool"
            proc = _start(_sweep(base_url, tag, relayed, tmp, "--set", f"MICROSCOUT_SPOOL_DIR={spool}",
                                 "--set", "MICROSCOUT_DB_RETRIES=2"), tmp)
            _wait(lambda: _count(url, "crawl_runs") > 0, "the sweep to record its run")
            outage.start()
            started = time.monotonic()
            _wait(lambda: proc.poll() is not None or time.monotonic() - started >= outage_s,
                  "the outage to pass", timeout=outage_s + 600)
            during = _count(url)
            outage.end()
            code = proc.wait(timeout=1800)
            load = _run([sys.executable, "-m", "crawler.cli", "db", "load-spool", "--database-url", relayed,
                         "--spool-dir", str(tmp / "spool")], tmp)
        return _row(f"{outage_s:.0f} s database outage + load-spool", expected, accounts(url),
                    f"{during} loaded during the outage, sweep exit {code}, "
                    f"load-spool exit {load.returncode}")


def _fuzz_row() -> Row:
    """Run the fuzz suite (seeded) and read how many inputs it tried and how many crashed."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-s",
                           "tests/test_fuzz.py"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=1800, check=False)
    tried = sum(int(found) for found in re.findall(r"(\d+) fuzzed inputs tried", done.stdout))
    crashed = 0 if done.returncode == 0 else 1
    say(f"  fuzz: {tried} inputs tried, pytest exit {done.returncode}")
    return Row("reliability", "fuzzed inputs (parsers + pipelines)", float(tried), None, unit="inputs",
               target="0 crashed", met=done.returncode == 0 and tried > 0,
               note=f"{tried} tried, " + ("see pytest tests/test_fuzz.py" if crashed else "0 crashed"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--accounts", type=int, default=300, help="sandbox accounts (300)")
    parser.add_argument("--outage", type=float, default=60.0, help="seconds the database is down (60)")
    args = parser.parse_args(argv)
    rows = run(args.accounts, args.outage)
    print_table("Reliability", rows)
    return 0 if all(row.met for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
