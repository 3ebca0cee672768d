"""Distributed jobs (issue 13): real Redis, real PostgreSQL, the sandbox, worker processes.

Every test has its own Redis key prefix, so jobs, queues and shared rate-limit clocks never
meet across tests. Workers are ``microscout worker`` processes; tests wait on conditions they
can observe (the job's counts in Redis, the sandbox's traffic, process exits), never on sleeps.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import IN_CI, require_service
from tests.test_cli import command_env, error_lines

pytestmark = [pytest.mark.redis, pytest.mark.slow]

REDIS = "redis://127.0.0.1:6379/0"
TAGS = "vegan,fitness,travel,food"
#: Seconds a worker waits on a drained job before it leaves (the tests' jobs are small).
IDLE = "1"
WAIT = 240.0


@pytest.fixture
def redis_prefix():
    require_service("Redis", "127.0.0.1", 6379)
    import redis

    prefix = f"test-{uuid.uuid4().hex[:10]}"
    yield prefix
    server = redis.Redis.from_url(REDIS)
    keys = list(server.scan_iter(f"{prefix}:*"))
    if keys:
        server.delete(*keys)


def env_for(prefix: str, db_url: str, redis_url: str = REDIS, **extra: str) -> dict:
    return {**command_env(), "MICROSCOUT_REDIS_URL": redis_url, "MICROSCOUT_REDIS_PREFIX": prefix,
            "MICROSCOUT_DATABASE_URL": db_url, "MICROSCOUT_WORKER_IDLE": IDLE,
            "MICROSCOUT_LEASE_SECONDS": "6", "MICROSCOUT_ROBOTSTXT_OBEY": "false",
            "MICROSCOUT_FLUSH_INTERVAL": "1", **extra}


def cli(*argv: object, env: dict, cwd: Path, timeout: float = WAIT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crawler.cli", *map(str, argv)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def start_worker(env: dict, cwd: Path, name: str, *extra: object) -> subprocess.Popen:
    log = open(cwd / f"{name}.log", "w")  # noqa: SIM115  (closed with the process)
    return subprocess.Popen([sys.executable, "-m", "crawler.cli", "worker", *map(str, extra)],
                            cwd=cwd, env={**env, "MICROSCOUT_WORKER_ID": name}, stdout=log,
                            stderr=subprocess.STDOUT)


def wait_all(workers: list[subprocess.Popen], timeout: float = WAIT) -> list[int]:
    deadline = time.monotonic() + timeout
    codes = []
    for worker in workers:
        try:
            codes.append(worker.wait(max(1.0, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            for other in workers:
                other.kill()
            pytest.fail(f"workers still running after {timeout:g} s")
    return codes


def job(prefix: str, name: str):
    from crawler.distributed import connect
    from crawler.distributed.jobs import Job

    return Job(connect(REDIS), name, prefix)


def wait_until(condition, what: str, timeout: float = WAIT, poll: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(poll)


def warehouse(url: str) -> dict:
    """What a crawl left: accounts with their snapshot counts, sightings, posts."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        snapshots = dict(conn.execute(text(
            "SELECT p.platform || ':' || p.handle, count(s.id) FROM profiles p "
            "LEFT JOIN profile_snapshots s ON s.profile_id = p.id GROUP BY p.platform, p.handle")).all())
        sightings = set(conn.execute(text(
            "SELECT h.tag, s.post_id, s.listing FROM hashtag_sightings s "
            "JOIN hashtags h ON h.id = s.hashtag_id")).all())
        posts = {row[0] for row in conn.execute(text("SELECT post_id FROM posts"))}
    engine.dispose()
    return {"snapshots": snapshots, "sightings": sightings, "posts": posts}


def run_checks(url: str) -> dict:
    """The failed end-of-run checks of the database's crawl run."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        checks = conn.execute(text("SELECT checks FROM crawl_runs")).scalar()
    engine.dispose()
    import json

    checks = json.loads(checks) if isinstance(checks, str) else checks
    return {name: c for name, c in (checks or {}).items() if not c.get("passed")}


def run_rows(url: str) -> list[dict]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(text(
            "SELECT id, job, status, items_loaded FROM crawl_runs ORDER BY id"))]
        for row in rows:
            row["workers"] = [dict(w._mapping) for w in conn.execute(text(
                "SELECT worker_id, status, requests, items_loaded FROM crawl_run_workers "
                "WHERE crawl_run_id = :id ORDER BY worker_id"), {"id": row["id"]})]
    engine.dispose()
    return rows


@pytest.fixture
def sandbox():
    from crawler.sandbox.server import SandboxProcess

    with SandboxProcess(accounts=400, seed=13, latency=0.02) as box:
        yield box


@pytest.fixture
def single_run(sandbox, tmp_path_factory, pg_server):
    """The same sweep by one ordinary process, for comparison (into its own database)."""
    from tests.conftest import make_pg_database

    with make_pg_database(pg_server) as url:
        out = tmp_path_factory.mktemp("single")
        done = cli("sweep", "--platform", "mastodon", "--base-url", sandbox.base_url, "--tags", TAGS,
                   "--quiet", env={**command_env(), "MICROSCOUT_DATABASE_URL": url,
                                   "MICROSCOUT_ROBOTSTXT_OBEY": "false"}, cwd=out)
        assert done.returncode == 0, done.stderr[-2000:]
        yield warehouse(url)


def enqueue(env: dict, cwd: Path, base_url: str, name: str, *extra: object, tags: str = TAGS) -> None:
    done = cli("enqueue", "--platform", "mastodon", "--base-url", base_url, "--tags", tags,
               "--job", name, *extra, env=env, cwd=cwd)
    assert done.returncode == 0, done.stderr
    assert f"queued job {name}" in done.stderr


# --- the job drains into one crawl run ---------------------------------------------------------


@pytest.mark.postgres
def test_three_workers_drain_one_job_like_a_single_sweep(sandbox, single_run, pg_url, redis_prefix,
                                                         tmp_path):
    env = env_for(redis_prefix, pg_url)
    enqueue(env, tmp_path, sandbox.base_url, "three")
    workers = [start_worker(env, tmp_path, f"w{i}", "--job", "three") for i in range(3)]
    assert wait_all(workers) == [0, 0, 0], [(tmp_path / f"w{i}.log").read_text()[-3000:]
                                            for i in range(3)]
    assert warehouse(pg_url) == single_run
    assert all(count == 1 for count in single_run["snapshots"].values())
    (run,) = run_rows(pg_url)
    assert (run["job"], run["status"]) == ("three", "ok")
    assert [w["worker_id"] for w in run["workers"]] == ["w0", "w1", "w2"]
    assert {w["status"] for w in run["workers"]} == {"drained"}
    assert sum(w["items_loaded"] for w in run["workers"]) == run["items_loaded"]
    state = job(redis_prefix, "three")
    assert state.spec()["state"] == "finished"
    assert state.spec()["status"] == "ok"


@pytest.mark.postgres
def test_a_killed_worker_loses_nothing(sandbox, single_run, pg_url, redis_prefix, tmp_path):
    env = env_for(redis_prefix, pg_url)
    enqueue(env, tmp_path, sandbox.base_url, "kill")
    state = job(redis_prefix, "kill")
    # The sandbox's gate stops the victim mid-job however fast or slow the machine is: it
    # holds leases (requests waiting at the gate) when it dies. Whether any of its work was
    # acknowledged by then depends on its flush timer, so the test does not wait for that
    # (a spider holding accounts whose posts wait at the gate acknowledges nothing).
    # an eighth of the job or so: each account found costs a lookup and a statuses page
    sandbox.gate(hold_after=max(20, len(single_run["snapshots"]) // 4))
    victim = start_worker(env, tmp_path, "victim", "--job", "kill")
    wait_until(lambda: sandbox.gate()["waiting"] > 0 and state.sizes()["in_flight"] > 0,
               "the first worker to be mid-job")
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    sandbox.gate(open=1)
    others = [start_worker(env, tmp_path, f"w{i}", "--job", "kill") for i in range(2)]
    assert wait_all(others) == [0, 0], [(tmp_path / f"w{i}.log").read_text()[-3000:] for i in range(2)]
    assert state.counts().get("requeued", 0) >= 1  # the victim's leases came back
    assert warehouse(pg_url) == single_run
    (run,) = run_rows(pg_url)
    assert run["status"] in ("ok", "degraded")
    by_id = {w["worker_id"]: w for w in run["workers"]}
    assert by_id["victim"]["status"] == "running"  # it never wrote its share
    assert {by_id["w0"]["status"], by_id["w1"]["status"]} == {"drained"}


# --- politeness shared through Redis -----------------------------------------------------------


def test_three_workers_share_one_host_rate_limit(sandbox, sqlite_url, redis_prefix, tmp_path):
    rate = 4  # requests per second for the host, for all workers together
    env = env_for(redis_prefix, sqlite_url, MICROSCOUT_RATE_LIMIT_MASTODON=str(1 / rate))
    enqueue(env, tmp_path, sandbox.base_url, "polite", "--max-pages", "1", "--recent-posts", "5",
            tags="vegan,fitness")
    sandbox.traffic(reset=True)
    workers = [start_worker(env, tmp_path, f"w{i}", "--job", "polite") for i in range(3)]
    assert wait_all(workers) == [0, 0, 0]
    (host,) = sandbox.traffic(times=True, window=1.0)["hosts"].values()
    times = host["times"]
    assert host["requests"] >= 20
    # Start times are booked 1/rate apart on Redis' clock; a 1-s window of arrivals can hold
    # one more only when the first of them was delayed on its way more than the last.
    assert host["max_in_window"] <= rate + 1, host["per_second"]
    assert (len(times) - 1) / (times[-1] - times[0]) <= rate * 1.05


def test_a_429_seen_by_one_worker_pauses_all(sandbox, sqlite_url, redis_prefix, tmp_path):
    env = env_for(redis_prefix, sqlite_url)
    enqueue(env, tmp_path, sandbox.base_url, "pause")
    wait_s = 4
    sandbox.set_knobs(throttle_after=30, throttle_retry_after=wait_s)
    sandbox.traffic(reset=True)
    workers = [start_worker(env, tmp_path, f"w{i}", "--job", "pause") for i in range(3)]
    assert wait_all(workers) == [0, 0, 0]
    sent_at = sandbox.set_knobs()["throttle"]["sent_at"]
    assert sent_at is not None
    (host,) = sandbox.traffic(times=True)["hosts"].values()
    # Requests booked before the pause reached Redis may still arrive just after the 429.
    during = [t for t in host["times"] if sent_at + 1.0 < t < sent_at + wait_s - 0.1]
    assert during == []
    assert any(t >= sent_at + wait_s - 0.1 for t in host["times"])  # and then work resumed


# --- the command line ----------------------------------------------------------------------------


def test_enqueue_with_bad_arguments_queues_nothing(redis_prefix, sqlite_url, tmp_path):
    env = env_for(redis_prefix, sqlite_url)
    for argv, fragment in ((["--tags", "ok", "--min-followers", "-5"], "min_followers"),
                           (["--platform", "myspace", "--tags", "x"], "myspace"),
                           ([], "nothing to crawl")):
        done = cli("enqueue", *(argv if "--platform" in argv else ["--platform", "mastodon", *argv]),
                   "--job", "bad", env=env, cwd=tmp_path)
        assert done.returncode == 2
        (line,) = error_lines(done.stderr)
        assert fragment in line.lower() or fragment in done.stderr.lower(), done.stderr
    import redis

    assert list(redis.Redis.from_url(REDIS).scan_iter(f"{redis_prefix}:*")) == []


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_worker_without_redis_exits_2_with_one_line(sqlite_url, tmp_path):
    url = f"redis://:hunter22@127.0.0.1:{closed_port()}/0"
    done = cli("worker", env=env_for("x", sqlite_url, redis_url=url), cwd=tmp_path, timeout=60)
    assert done.returncode == 2
    (line,) = error_lines(done.stderr)
    assert "unreachable" in line
    assert "hunter22" not in done.stderr
    assert "Traceback" not in done.stderr


def test_jobs_lists_progress_and_a_second_enqueue_is_refused(sandbox, sqlite_url, redis_prefix,
                                                              tmp_path):
    env = env_for(redis_prefix, sqlite_url)
    enqueue(env, tmp_path, sandbox.base_url, "listed")
    again = cli("enqueue", "--platform", "mastodon", "--base-url", sandbox.base_url, "--tags", "x",
                "--job", "listed", env=env, cwd=tmp_path)
    assert again.returncode == 2
    assert "already queued" in again.stderr
    import json

    listed = cli("jobs", "--json", env=env, cwd=tmp_path)
    (row,) = json.loads(listed.stdout)
    assert (row["job"], row["state"], row["seeds"], row["done"]) == ("listed", "queued", 4, 0)
    assert wait_all([start_worker(env, tmp_path, "w", "--job", "listed")]) == [0]
    (row,) = json.loads(cli("jobs", "--json", env=env, cwd=tmp_path).stdout)
    assert (row["state"], row["status"], row["queued"], row["in_flight"]) == ("finished", "ok", 0, 0)
    assert row["done"] > 0
    assert row["accounts_loaded"] > 0


# --- Redis lost mid-job and back ------------------------------------------------------------------


@pytest.fixture
def private_redis(tmp_path):
    """A Redis of this test's own, with an append-only file: it can be killed and restarted."""
    binary = "redis-server"
    if subprocess.run(["which", binary], capture_output=True, check=False).returncode:
        if IN_CI:
            pytest.fail("redis-server is not installed")
        pytest.skip("redis-server is not installed")
    port = closed_port()
    folder = tmp_path / "redis"
    folder.mkdir()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--save", "",
            "--appendonly", "yes", "--appendfsync", "always"]

    def start() -> subprocess.Popen:
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        from crawler.distributed import connect

        def answers() -> bool:
            try:
                return bool(connect(f"redis://127.0.0.1:{port}/0", timeout=1).ping())
            except Exception:
                return False
        wait_until(answers, "the private Redis to answer", timeout=30)
        return process

    state = {"process": start()}

    def kill() -> None:
        state["process"].kill()
        state["process"].wait()

    def restart() -> None:
        state["process"] = start()

    yield f"redis://127.0.0.1:{port}/0", kill, restart
    state["process"].kill()
    state["process"].wait()


@pytest.mark.postgres
def test_redis_lost_mid_job_and_back(sandbox, single_run, pg_url, private_redis, tmp_path):
    url, kill, restart = private_redis
    env = env_for("lost", pg_url, redis_url=url, MICROSCOUT_REDIS_TIMEOUT="1")
    enqueue(env, tmp_path, sandbox.base_url, "lost")
    from crawler.distributed import connect
    from crawler.distributed.jobs import Job

    state = Job(connect(url), "lost", "lost")
    workers = [start_worker(env, tmp_path, f"w{i}", "--job", "lost") for i in range(2)]
    wait_until(lambda: state.counts().get("done", 0) >= 20, "the job to be under way")
    kill()
    logs = [tmp_path / f"w{i}.log" for i in range(2)]
    wait_until(lambda: all("Redis unreachable" in log.read_text() for log in logs),
               "both workers to notice the outage")
    restart()
    assert wait_all(workers) == [0, 0], [log.read_text()[-3000:] for log in logs]
    assert warehouse(pg_url) == single_run
    (run,) = run_rows(pg_url)
    assert run["status"] in ("ok", "degraded")


# --- the same job from `scrapy crawl` and `microscout sweep --distributed` -------------------------


def test_scrapy_crawl_with_a_redis_url_queues_and_drains_its_own_job(sandbox, sqlite_url,
                                                                      redis_prefix, tmp_path):
    """Scrapy's async start() is never read in a worker (scrapy-redis' RedisSpider predates it):
    the arguments become a job's work list, expanded by the spider's own start() chunk by chunk."""
    env = env_for(redis_prefix, sqlite_url)
    done = subprocess.run([sys.executable, "-m", "scrapy", "crawl", "mastodon", "-a", "tags=vegan",
                           "-a", f"base_url={sandbox.base_url}", "-a", "job=from-scrapy"],
                          cwd=tmp_path, env={**env, "SCRAPY_SETTINGS_MODULE": "crawler.settings"},
                          capture_output=True, text=True, timeout=WAIT, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    state = job(redis_prefix, "from-scrapy")
    assert state.spec()["state"] == "finished"
    assert state.counts()["done"] > 1
    (run,) = run_rows(sqlite_url)
    assert (run["job"], run["status"]) == ("from-scrapy", "ok")
    assert warehouse(sqlite_url)["snapshots"]


def test_sweep_distributed_is_joined_by_a_worker(sandbox, sqlite_url, redis_prefix, tmp_path):
    env = env_for(redis_prefix, sqlite_url)
    sandbox.gate(hold_after=5)  # the job waits for the helper, however slowly it starts
    sweep = subprocess.Popen([sys.executable, "-m", "crawler.cli", "sweep", "--platform", "mastodon",
                              "--base-url", sandbox.base_url, "--tags", TAGS, "--job", "joint",
                              "--distributed", REDIS, "--quiet"], cwd=tmp_path, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    state = job(redis_prefix, "joint")
    wait_until(lambda: state.spec().get("state") == "queued", "the sweep to queue its job")
    helper = start_worker(env, tmp_path, "helper", "--job", "joint")
    wait_until(lambda: "helper" in state.live_workers(60), "the helper to join")
    sandbox.gate(open=1)
    assert wait_all([sweep, helper]) == [0, 0], sweep.stderr.read() if sweep.stderr else ""
    (run,) = run_rows(sqlite_url)
    assert run["status"] == "ok"
    assert len(run["workers"]) == 2


# --- every platform ------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", ["bluesky", "instagram", "tiktok", "youtube"])
def test_every_platform_drains_a_job_like_a_single_sweep(platform, redis_prefix, tmp_path):
    """Two workers of a job leave the warehouse a single sweep leaves (Bluesky logged in:
    each worker logs in for itself, and its password never reaches Redis)."""
    from crawler.sandbox.server import SandboxProcess
    from models import migrate

    with SandboxProcess(accounts=100, seed=7, platform=platform) as box:
        extra = {f"MICROSCOUT_RATE_LIMIT_{platform.upper()}": "0"}
        if platform == "bluesky":
            from crawler.sandbox.bluesky import APP_PASSWORD

            extra |= {"MICROSCOUT_BLUESKY_IDENTIFIER": "scout.test",
                      "MICROSCOUT_BLUESKY_APP_PASSWORD": APP_PASSWORD}
        tags = "vegan,fitness"
        urls = {}
        for mode in ("single", "job"):
            urls[mode] = f"sqlite:///{tmp_path / mode}.sqlite"
            migrate.upgrade(urls[mode])
        single = cli("sweep", "--platform", platform, "--base-url", box.base_url, "--tags", tags,
                     "--quiet", env={**command_env(), "MICROSCOUT_DATABASE_URL": urls["single"],
                                     "MICROSCOUT_ROBOTSTXT_OBEY": "false", **extra}, cwd=tmp_path)
        assert single.returncode == 0, single.stderr[-2000:]
        env = env_for(redis_prefix, urls["job"], **extra)
        done = cli("enqueue", "--platform", platform, "--base-url", box.base_url, "--tags", tags,
                   "--job", platform, env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        workers = [start_worker(env, tmp_path, f"{platform}{i}", "--job", platform) for i in range(2)]
        assert wait_all(workers) == [0, 0], [(tmp_path / f"{platform}{i}.log").read_text()[-3000:]
                                             for i in range(2)]
    expected, got = warehouse(urls["single"]), warehouse(urls["job"])
    assert got["snapshots"] == expected["snapshots"]
    assert got["sightings"] == expected["sightings"]
    assert expected["snapshots"]
    (run,) = run_rows(urls["job"])
    (alone,) = run_rows(urls["single"])
    assert run["status"] == alone["status"], (run_checks(urls["job"]), run_checks(urls["single"]))
    if platform == "bluesky":  # logged in: every worker for itself
        assert "Logged in" in (tmp_path / "bluesky0.log").read_text()
    import redis

    server = redis.Redis.from_url(REDIS)
    for key in server.scan_iter(f"{redis_prefix}:*"):
        kind = server.type(key).decode()
        values = {"hash": lambda k: b"".join(b"".join(p) for p in server.hgetall(k).items()),
                  "string": server.get, "zset": lambda k: b"".join(server.zrange(k, 0, -1)),
                  "list": lambda k: b"".join(server.lrange(k, 0, -1)),
                  "set": lambda k: b"".join(server.smembers(k))}[kind](key)
        assert b"sandbox-app-password" not in (values or b"")
        assert b"Bearer " not in (values or b"")  # session tokens stay on their worker


def test_a_worker_stops_when_redis_stays_away(sandbox, sqlite_url, private_redis, tmp_path):
    """MICROSCOUT_REDIS_LOST_TIMEOUT: the worker gives up, exits 1, and says why."""
    url, kill, _restart = private_redis
    env = env_for("gone", sqlite_url, redis_url=url, MICROSCOUT_REDIS_TIMEOUT="1",
                  MICROSCOUT_REDIS_LOST_TIMEOUT="3", MICROSCOUT_LEASE_SECONDS="3")
    enqueue(env, tmp_path, sandbox.base_url, "gone")
    sandbox.gate(hold_after=3)  # the job stays under way until Redis is gone
    from crawler.distributed import connect
    from crawler.distributed.jobs import Job

    state = Job(connect(url), "gone", "gone")
    worker = start_worker(env, tmp_path, "w", "--job", "gone")
    wait_until(lambda: "w" in state.live_workers(60), "the worker to join")
    kill()
    sandbox.gate(open=1)
    assert wait_all([worker], timeout=120) == [1]
    log = (tmp_path / "w.log").read_text()
    assert "MICROSCOUT_REDIS_LOST_TIMEOUT" in log
