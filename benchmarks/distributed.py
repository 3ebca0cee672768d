"""Distributed jobs (scrapy-redis): throughput of 1, 2 and 4 workers, a worker's memory against
the size of the job's queue, and what one Redis and one PostgreSQL carry.

Every worker is a real ``microscout worker`` process (``.venv/bin/microscout worker --job J``)
on a job queued by ``microscout enqueue --handles-file``; the sandbox serves the accounts in a
process of its own. Each measurement uses a fresh random ``MICROSCOUT_REDIS_PREFIX`` (its keys,
rate-limit keys included, are deleted afterwards) and a fresh warehouse.

1. **Throughput.** One job of A accounts (one lookup and one statuses page each), sandbox latency
   100 ms, no host limit (sandbox rate limit 10^9, ``MICROSCOUT_RATE_LIMIT_MASTODON=0``), crawled
   by 1, 2 and 4 workers started together. Accounts/s = warehouse profile rows / wall clock from
   the start of ``enqueue`` to the exit of the last worker (process waits, ``os.wait4``: CPU
   seconds of each worker too). That wall clock holds the job's fixed costs: enqueue, worker
   start-up, and the drain (the last warehouse flush, ``MICROSCOUT_FLUSH_INTERVAL`` 5 s in a
   worker, then Scrapy's idle check, every 5 s, and ``--idle``). A second figure stops at the
   last account parsed (``max(profiles.last_seen_at)``). Runs are interleaved 1,2,4,4,2,1,...
   and the medians taken. Targets: 2 workers >= 1.8 x one, 4 workers >= 3.2 x.
2. **Memory.** One worker takes the same number of requests (``--max-requests R``) from a job of
   N queued accounts and from one of 10 N; its peak RSS is its own ``VmHWM``, read by the worker
   process itself at exit (as crawl_runner reads it: ru_maxrss would carry the parent's size
   across execve). Both jobs are real accounts of one sandbox world of 10 N accounts. Target:
   big/small <= 1.1.
3. **Capacity.** From the 1-worker runs: Redis commands per account (``total_commands_processed``
   delta; Redis' own CPU from ``INFO cpu``), warehouse rows per account (every table counted
   after the run), PostgreSQL CPU seconds during the run (every ``postgres`` process, exited
   backends through the postmaster's children times); then how many workers one Redis
   (``redis-benchmark`` ops/s) and one PostgreSQL core carry at the measured per-worker rate.
   Both counters are server-wide: anything else using the servers meanwhile adds to them.

    python -m benchmarks.distributed --size tiny
    python -m benchmarks.distributed --size moderate --repeat 2
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.common import (
    REPO,
    Row,
    check,
    db_label,
    fmt,
    median,
    pg_available,
    print_table,
    say,
    scratch_dir,
    warehouse,
)
from benchmarks.crawl_runner import proc_cpu_seconds

SIZES: dict[str, dict[str, Any]] = {
    "tiny": {"accounts": 150, "memory": (500, 5000), "max_requests": 200, "repeat": 1},
    "moderate": {"accounts": 1500, "memory": (5000, 50_000), "max_requests": 2000, "repeat": 2},
}
WORKERS = (1, 2, 4)
TARGETS = {2: 1.8, 4: 3.2}
TARGET_MEMORY = 1.1
LATENCY = 0.1
CONCURRENCY = 16
IDLE = 0.0  # seconds a drained job is waited on before a worker leaves (--idle)
REDIS_URL = os.environ.get("MICROSCOUT_REDIS_URL") or "redis://127.0.0.1:6379/0"
MICROSCOUT = Path(sys.executable).with_name("microscout")
TIMEOUT = 1800.0
#: Settings of every worker (``--set``): no host limit, the per-domain cap at the concurrency.
WORKER_SETTINGS = {"MICROSCOUT_RATE_LIMIT_MASTODON": "0", "DOWNLOAD_DELAY": "0",
                   "CONCURRENT_REQUESTS_PER_DOMAIN": str(CONCURRENCY),
                   "TELNETCONSOLE_ENABLED": "False", "MICROSCOUT_DB_RETRY_DELAY": "0.1"}

#: Loaded by each worker (PYTHONPATH): at exit it writes its own VmHWM where the env var says.
_SITECUSTOMIZE = '''
import atexit, os

def _microscout_bench_vmhwm():
    target = os.environ.get("MICROSCOUT_BENCH_VMHWM")
    if not target:
        return
    kib = 0
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                kib = int(line.split()[1])
    with open(target + "." + str(os.getpid()), "w") as out:
        out.write(str(kib))

atexit.register(_microscout_bench_vmhwm)
'''


class DistributedFailed(RuntimeError):
    pass


@dataclass
class WorkerResult:
    pid: int
    code: int
    cpu: float             # user + system seconds (os.wait4)
    peak_mb: float         # the worker's own VmHWM at exit
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class JobRun:
    workers: list[WorkerResult]
    accounts: int              # profile rows in the warehouse
    wall: float                # start of enqueue -> exit of the last worker
    to_last_parsed: float      # start of enqueue -> the last account parsed
    enqueue_seconds: float
    sandbox_cpu: float | None
    machine_busy: float | None  # busy share of all cores during the run (0..1)
    redis_commands: int
    redis_cpu: float
    pg_cpu: float | None
    rows: dict[str, int]

    @property
    def rate(self) -> float:
        return self.accounts / self.wall

    @property
    def parse_rate(self) -> float:
        return self.accounts / self.to_last_parsed if self.to_last_parsed > 0 else 0.0

    @property
    def worker_cpu(self) -> float:
        return sum(w.cpu for w in self.workers)


# --- servers ---------------------------------------------------------------------------------

def redis_client(url: str = REDIS_URL) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_timeout=10)


def redis_available(url: str = REDIS_URL) -> bool:
    try:
        return bool(redis_client(url).ping())
    except Exception:  # any failure means "not available"
        return False


def redis_counters(server: Any) -> tuple[int, float]:
    """(total_commands_processed, used CPU seconds of the Redis server)."""
    stats, cpu = server.info("stats"), server.info("cpu")
    return int(stats["total_commands_processed"]), float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


def drop_prefix(server: Any, prefix: str) -> int:
    """Delete every key under ``prefix:`` (SCAN + DEL); returns how many."""
    deleted, batch = 0, []
    for key in server.scan_iter(match=f"{prefix}:*", count=1000):
        batch.append(key)
        if len(batch) >= 500:
            deleted += server.delete(*batch)
            batch = []
    if batch:
        deleted += server.delete(*batch)
    return deleted


@contextlib.contextmanager
def private_prefix(server: Any) -> Iterator[str]:
    prefix = f"bench-{uuid.uuid4().hex[:12]}"
    try:
        yield prefix
    finally:
        drop_prefix(server, prefix)


def postgres_cpu() -> float | None:
    """CPU seconds of every ``postgres`` process, exited backends included (through their
    parent's children times); None when there is none to read."""
    total, found, tick = 0.0, False, os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            head, rest = (entry / "stat").read_text().rsplit(")", 1)
        except OSError:
            continue
        if not head.endswith("(postgres"):
            continue
        values = rest.split()
        total += sum(int(v) for v in values[11:15]) / tick  # utime stime cutime cstime
        found = True
    return total if found else None


def machine_ticks() -> tuple[int, int] | None:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


def redis_benchmark() -> tuple[float | None, str]:
    """The lowest requests/s of ``redis-benchmark -q -n 100000 -t set,get,lpush,zadd``."""
    binary = shutil.which("redis-benchmark")
    if binary is None:
        return None, "redis-benchmark not installed"
    from redis.connection import parse_url

    parts = parse_url(REDIS_URL)
    out = subprocess.run([binary, "-h", str(parts.get("host", "127.0.0.1")),  # noqa: S603
                          "-p", str(parts.get("port", 6379)), "-q", "-n", "100000",
                          "-t", "set,get,lpush,zadd"], capture_output=True, text=True, timeout=300,
                         check=False).stdout
    found = {m.group(1): float(m.group(2))
             for m in re.finditer(r"^(\w+): ([\d.]+) requests per second", out.replace("\r", "\n"), re.M)}
    if not found:
        return None, f"redis-benchmark printed nothing usable: {out[-200:]!r}"
    slowest = min(found, key=found.get)  # type: ignore[arg-type]
    return found[slowest], ", ".join(f"{k} {v:,.0f}/s" for k, v in found.items())


# --- the warehouse ---------------------------------------------------------------------------------

def warehouse_rows(url: str) -> dict[str, int]:
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            names = [t for t in inspect(conn).get_table_names() if t != "alembic_version"]
            return {t: int(conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar() or 0)  # noqa: S608
                    for t in names}
    finally:
        engine.dispose()


def last_parsed(url: str) -> float | None:
    """Epoch seconds of the last account parsed (``max(profiles.last_seen_at)``)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            value = conn.execute(text("SELECT max(last_seen_at) FROM profiles")).scalar()
    finally:
        engine.dispose()
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


# --- processes ------------------------------------------------------------------------------------

def environment(tmp: Path, url: str) -> dict[str, str]:
    hook = tmp / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(_SITECUSTOMIZE, encoding="utf-8")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(hook), str(REPO), env.get("PYTHONPATH")]))
    env.update({"MICROSCOUT_DATABASE_URL": url, "MICROSCOUT_REDIS_URL": REDIS_URL,
                "MICROSCOUT_SPOOL_DIR": str(tmp / "spool"),
                "MICROSCOUT_BENCH_VMHWM": str(tmp / "vmhwm")})
    return env


def settings_args(settings: dict[str, str]) -> list[str]:
    return [part for name, value in settings.items() for part in ("--set", f"{name}={value}")]


def enqueue(base_url: str, handles: Path, job: str, prefix: str, env: dict[str, str]) -> None:
    cmd = [str(MICROSCOUT), "enqueue", "--platform", "mastodon", "--base-url", base_url,
           "--handles-file", str(handles), "--job", job, "--quiet", "--json",
           "--set", f"MICROSCOUT_REDIS_PREFIX={prefix}"]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True,  # noqa: S603
                          timeout=TIMEOUT, check=False)
    if done.returncode != 0:
        raise DistributedFailed(f"enqueue failed ({done.returncode}): {' '.join(cmd)}\n"
                                f"{done.stderr[-2000:]}")


def run_workers(count: int, job: str, prefix: str, env: dict[str, str], tmp: Path,
                max_requests: int | None = None) -> list[WorkerResult]:
    """Start ``count`` workers together; wait for each (os.wait4: exit status and CPU)."""
    cmd = [str(MICROSCOUT), "worker", "--job", job, "--idle", repr(IDLE), "--quiet", "--json",
           "--concurrency", str(CONCURRENCY),
           *settings_args({**WORKER_SETTINGS, "MICROSCOUT_REDIS_PREFIX": prefix})]
    if max_requests:
        cmd += ["--max-requests", str(max_requests)]
    children: list[tuple[subprocess.Popen, Path, Path]] = []
    for index in range(count):
        out, err = tmp / f"worker-{index}.json", tmp / f"worker-{index}.log"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            children.append((subprocess.Popen(cmd, cwd=REPO, env=env, stdin=subprocess.DEVNULL,  # noqa: S603
                                              stdout=stdout, stderr=stderr), out, err))
    timed_out = threading.Event()

    def kill_all() -> None:
        timed_out.set()
        for child, _, _ in children:
            with contextlib.suppress(OSError):
                child.kill()

    watchdog = threading.Timer(TIMEOUT, kill_all)
    watchdog.start()
    results = []
    try:
        for child, out, err in children:
            _, status, usage = os.wait4(child.pid, 0)
            child.returncode = code = os.waitstatus_to_exitcode(status)
            peak = tmp / f"vmhwm.{child.pid}"
            lines = [line for line in out.read_text(errors="replace").splitlines() if line.startswith("{")]
            results.append(WorkerResult(
                pid=child.pid, code=code, cpu=usage.ru_utime + usage.ru_stime,
                peak_mb=int(peak.read_text()) / 1024 if peak.exists() else 0.0,
                summary=json.loads(lines[-1]) if lines else {}))
            if code != 0:
                if timed_out.is_set():
                    raise DistributedFailed(f"workers did not finish in {TIMEOUT:g} s: {' '.join(cmd)}")
                tail = "\n".join(err.read_text(errors="replace").splitlines()[-20:])
                raise DistributedFailed(f"worker exited with {code}: {' '.join(cmd)}\n{tail}")
    finally:
        watchdog.cancel()
        for child in [c for c, _, _ in children if c.returncode is None]:  # after a failure
            child.kill()
            child.wait()
    return results


def sandbox_handles(path: Path, world_accounts: int, count: int, seed: int) -> Path:
    """The first ``count`` accounts of the sandbox world ``(world_accounts, seed)``."""
    from crawler.sandbox.world import World

    world = World(world_accounts, seed)
    path.write_text("".join(f"{world.username(i)}\n" for i in range(count)), encoding="utf-8")
    return path


# --- 1 and 3: throughput, and what it costs the servers --------------------------------------------

def job_run(workers: int, sandbox: Any, handles: Path, db: str, server: Any) -> JobRun:
    with scratch_dir("microscout-dist-") as tmp, warehouse(db, tmp, "dist") as url, \
            private_prefix(server) as prefix:
        env = environment(tmp, url)
        job = f"bench-{workers}w"
        commands0, redis_cpu0 = redis_counters(server)
        pg0, sandbox0, ticks0 = postgres_cpu(), proc_cpu_seconds(sandbox.pid), machine_ticks()
        wall0, started = time.time(), time.perf_counter()
        enqueue(sandbox.base_url, handles, job, prefix, env)
        enqueued = time.perf_counter() - started
        results = run_workers(workers, job, prefix, env, tmp)
        wall = time.perf_counter() - started
        sandbox1, ticks1, pg1 = proc_cpu_seconds(sandbox.pid), machine_ticks(), postgres_cpu()
        commands1, redis_cpu1 = redis_counters(server)
        rows = warehouse_rows(url)
        parsed = last_parsed(url)
        from crawler.distributed.jobs import Job

        spec = Job(server, job, prefix).spec()
    expected = sum(1 for line in handles.read_text().splitlines() if line.strip())
    if rows.get("profiles") != expected or spec.get("state") != "finished":
        raise DistributedFailed(f"{workers} workers: {rows.get('profiles')} of {expected} accounts "
                                f"in the warehouse, job state {spec.get('state')!r} "
                                f"({spec.get('status')!r})")
    busy = None
    if ticks0 and ticks1 and ticks1[1] > ticks0[1]:
        busy = (ticks1[0] - ticks0[0]) / (ticks1[1] - ticks0[1])
    run = JobRun(
        workers=results, accounts=rows["profiles"], wall=wall,
        to_last_parsed=(parsed - wall0) if parsed else wall, enqueue_seconds=enqueued,
        sandbox_cpu=None if sandbox0 is None or sandbox1 is None else sandbox1 - sandbox0,
        machine_busy=busy, redis_commands=commands1 - commands0 - 2,  # our own two INFO calls
        redis_cpu=redis_cpu1 - redis_cpu0,
        pg_cpu=None if pg0 is None or pg1 is None else pg1 - pg0, rows=rows)
    say(f"  {workers} worker(s): {run.accounts} accounts in {wall:.1f} s ({run.rate:.1f}/s; "
        f"last parsed at {run.to_last_parsed:.1f} s), worker CPU {run.worker_cpu:.1f} s, "
        f"sandbox CPU {run.sandbox_cpu or 0:.1f} s, machine busy {100 * (busy or 0):.0f}%, "
        f"{run.redis_commands} Redis commands, peak RSS "
        f"{max(w.peak_mb for w in results):.0f} MB")
    return run


def throughput(accounts: int, repeat: int, db: str, seed: int, server: Any) -> dict[int, list[JobRun]]:
    from crawler.sandbox.server import SandboxProcess

    runs: dict[int, list[JobRun]] = {n: [] for n in WORKERS}
    with SandboxProcess(accounts=accounts, seed=seed, latency=LATENCY, rate_limit=10**9) as sandbox, \
            scratch_dir() as tmp:
        handles = sandbox_handles(tmp / "handles.txt", accounts, accounts, seed)
        for turn in range(repeat):
            for workers in (WORKERS if turn % 2 == 0 else tuple(reversed(WORKERS))):
                runs[workers].append(job_run(workers, sandbox, handles, db, server))
    return runs


def throughput_rows(runs: dict[int, list[JobRun]], accounts: int, db: str, repeat: int,
                    nproc: int) -> list[Row]:
    base = median([r.rate for r in runs[1]])
    base_parsed = median([r.parse_rate for r in runs[1]])
    params = (f"{accounts:,} accounts, latency {LATENCY * 1000:.0f} ms, concurrency {CONCURRENCY}/worker, "
              f"--idle {IDLE:g}, {db_label(db)}, repeat {repeat}")
    rows = []
    for workers in WORKERS:
        rate = median([r.rate for r in runs[workers]])
        parsed = median([r.parse_rate for r in runs[workers]])
        wall = median([r.wall for r in runs[workers]])
        cpu = median([r.worker_cpu for r in runs[workers]])
        load = cpu / wall
        busy = median([r.machine_busy or 0 for r in runs[workers]])
        sandbox_cpu = median([r.sandbox_cpu or 0 for r in runs[workers]])
        note = (f"wall {wall:.1f} s (enqueue {median([r.enqueue_seconds for r in runs[workers]]):.1f} s); "
                f"to last parsed {parsed:.1f}/s; worker CPU {cpu:.1f} s = {load:.2f} cores; "
                f"sandbox CPU {sandbox_cpu:.1f} s; machine busy {100 * busy:.0f}% of {nproc} cores")
        if load > 1.6:
            note += f"; CPU-bound: workers used {load:.2f} of the {nproc} cores"
        elif busy > 0.8:
            note += (f"; the machine was {100 * busy:.0f}% busy, workers {load:.2f} cores: "
                     f"the rest is the sandbox, the servers and other processes")
        ratio = rate / base
        target = TARGETS.get(workers)
        rows.append(Row(
            "distributed", f"{workers} worker{'s' if workers > 1 else ''}: {params}", rate,
            None if workers == 1 else base, "acc/s", None if workers == 1 else ratio,
            f">= {target:g}" if target else "", check(ratio, minimum=target) if target else None,
            note + (f"; to-last-parsed ratio {parsed / base_parsed:.2f}" if workers > 1 else "")))
    return rows


def capacity_rows(runs: dict[int, list[JobRun]], accounts: int) -> list[Row]:
    ones = runs[1]
    per_worker = median([r.rate for r in ones])
    ops = median([r.redis_commands / r.accounts for r in ones])
    redis_cpu = median([r.redis_cpu / r.accounts for r in ones])
    rows_total = median([sum(r.rows.values()) / r.accounts for r in ones])
    biggest = sorted(ones[0].rows.items(), key=lambda kv: -kv[1])[:4]
    ops_per_second, measured = redis_benchmark()
    result = [
        Row("distributed capacity", "Redis commands per account (1 worker)", ops, None, "ops",
            note=f"total_commands_processed delta / {accounts:,} accounts; Redis CPU "
                 f"{redis_cpu * 1e6:.0f} us/account (INFO cpu)"),
        Row("distributed capacity", "warehouse rows per account (1 worker)", rows_total, None, "rows",
            note="every table; " + ", ".join(f"{t} {n / ones[0].accounts:.1f}" for t, n in biggest)),
    ]
    if ops_per_second:
        workers_by_ops = ops_per_second / (ops * per_worker)
        workers_by_cpu = 1 / (redis_cpu * per_worker) if redis_cpu > 0 else None
        result.append(Row(
            "distributed capacity", "workers one Redis carries", workers_by_ops, None, "workers",
            note=f"{ops_per_second:,.0f} ops/s (slowest of redis-benchmark: {measured}) / "
                 f"({ops:.1f} ops x {per_worker:.1f} acc/s per worker)"
                 + (f"; by Redis CPU: {workers_by_cpu:,.0f} workers" if workers_by_cpu else "")))
    else:
        result.append(Row("distributed capacity", "workers one Redis carries", None, note=measured))
    pg = [r.pg_cpu / r.accounts for r in ones if r.pg_cpu]
    if pg:
        pg_per_account = median(pg)
        rows_per_cpu_second = rows_total / pg_per_account
        result.append(Row(
            "distributed capacity", "workers one PostgreSQL core carries",
            1 / (pg_per_account * per_worker), None, "workers",
            note=f"PostgreSQL CPU {pg_per_account * 1000:.2f} ms/account = "
                 f"{fmt(rows_per_cpu_second)} rows per CPU second (all postgres processes during "
                 f"the 1-worker run) / {per_worker:.1f} acc/s per worker"))
    return result


# --- 2: memory -----------------------------------------------------------------------------------

def memory(sizes: tuple[int, int], max_requests: int, repeat: int, db: str, seed: int,
           server: Any) -> list[Row]:
    from crawler.sandbox.server import SandboxProcess

    small, big = sizes
    peaks: dict[int, list[float]] = {small: [], big: []}
    built = time.perf_counter()
    with SandboxProcess(accounts=big, seed=seed, rate_limit=10**9) as sandbox, scratch_dir() as tmp:
        say(f"  sandbox of {big:,} accounts up in {time.perf_counter() - built:.1f} s")
        files = {n: sandbox_handles(tmp / f"handles-{n}.txt", big, n, seed) for n in (small, big)}
        for turn in range(repeat):
            for size in ((small, big) if turn % 2 == 0 else (big, small)):
                with scratch_dir("microscout-dist-") as run_tmp, warehouse(db, run_tmp, "mem") as url, \
                        private_prefix(server) as prefix:
                    env = environment(run_tmp, url)
                    enqueue(sandbox.base_url, files[size], "bench-mem", prefix, env)
                    (result,) = run_workers(1, "bench-mem", prefix, env, run_tmp, max_requests)
                if result.summary.get("finish_reason") != "max_requests":
                    raise DistributedFailed(f"the worker on {size:,} accounts ended with "
                                            f"{result.summary.get('finish_reason')!r}")
                say(f"  memory, {size:,} queued: peak {result.peak_mb:.0f} MB after "
                    f"{result.summary.get('pages')} pages")
                peaks[size].append(result.peak_mb)
    ratio = median(peaks[big]) / median(peaks[small])
    return [Row("distributed", f"worker peak RSS, {max_requests:,} requests from {big:,} vs {small:,} "
                               f"queued accounts", median(peaks[big]), median(peaks[small]), "MB",
                ratio, f"<= {TARGET_MEMORY:g}", check(ratio, maximum=TARGET_MEMORY),
                f"big/small; VmHWM of the worker; latency 0, concurrency {CONCURRENCY}, "
                f"{db_label(db)}, repeat {repeat}")]


def run(accounts: int, memory_sizes: tuple[int, int], max_requests: int, repeat: int = 1,
        db: str | None = None, seed: int = 42) -> list[Row]:
    if not redis_available():
        return [Row("distributed", f"Redis not reachable at {REDIS_URL}", None, note="skipped")]
    db = db or ("postgresql" if pg_available() else "sqlite")
    server = redis_client()
    say(f"distributed: throughput, {accounts:,} accounts, {db_label(db)} ...")
    runs = throughput(accounts, repeat, db, seed, server)
    rows = throughput_rows(runs, accounts, db, repeat, os.cpu_count() or 1)
    if memory_sizes:
        say("distributed: memory ...")
        rows += memory(memory_sizes, max_requests, repeat, db, seed, server)
    rows += capacity_rows(runs, accounts)
    return rows


def main(argv: list[str] | None = None) -> int:
    global CONCURRENCY
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="moderate")
    parser.add_argument("--accounts", type=int, help="accounts of the throughput job")
    parser.add_argument("--memory", help="small,big queued accounts of the memory runs")
    parser.add_argument("--max-requests", type=int, help="requests of each memory run")
    parser.add_argument("--repeat", type=int)
    parser.add_argument("--db", choices=["sqlite", "postgresql"],
                        help="warehouse (default PostgreSQL when reachable)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--concurrency", type=int,
                        help=f"concurrent requests per worker (default {CONCURRENCY}; lower it to "
                             "keep each worker latency-bound on a small machine)")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory runs")
    args = parser.parse_args(argv)
    if args.concurrency:
        CONCURRENCY = args.concurrency
        WORKER_SETTINGS["CONCURRENT_REQUESTS_PER_DOMAIN"] = str(CONCURRENCY)
    preset = SIZES[args.size]
    memory_sizes = (() if args.no_memory else tuple(int(v) for v in args.memory.split(","))
                    if args.memory else preset["memory"])
    rows = run(args.accounts or preset["accounts"], memory_sizes,  # type: ignore[arg-type]
               args.max_requests or preset["max_requests"], args.repeat or preset["repeat"],
               args.db, args.seed)
    print_table("Distributed jobs: workers, memory, capacity", rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
