"""The pieces of a distributed job, one at a time: Redis leases, the shared slot clock, the lease
bookkeeping, and what an encoded request keeps (real Redis; each test its own key prefix)."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.conftest import require_service

REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
def server():
    require_service("Redis", "127.0.0.1", 6379)
    from crawler.distributed import connect

    client = connect(REDIS)
    prefix = f"unit-{uuid.uuid4().hex[:10]}"
    yield client, prefix
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)


def wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# --- the job's queue and leases --------------------------------------------------------------------


def test_requests_before_seeds_and_every_pop_under_a_lease(server):
    from crawler.distributed.jobs import Job

    client, prefix = server
    job = Job(client, "j", prefix)
    assert job.create({"spider": "mastodon"})
    assert not job.create({"spider": "mastodon"})  # one job per name
    assert job.push_seeds(["a", "b"], [f"h{i}" for i in range(250)]) == 2 + 3  # 100 a chunk
    client.zadd(job.keys.requests, {b"low": 5, b"high": -10})  # scrapy-redis: score = -priority
    assert job.pop("l1", 60) == ("r", b"high")
    assert job.pop("l2", 60) == ("r", b"low")
    kind, data = job.pop("l3", 60)
    assert (kind, data) == ("s", b'{"tags": ["a"]}')
    assert job.sizes() == {"queued": 0, "seeds": 4, "in_flight": 3}
    assert job.ack(["l1", "l2"]) == 2
    assert job.ack(["l3"], "seeds_done") == 1
    assert job.ack(["l1"]) == 0  # acknowledged once
    assert job.counts() == {"done": 2, "seeds_done": 1}


def test_an_expired_lease_goes_back_where_it_came_from(server):
    from crawler.distributed.jobs import Job

    client, prefix = server
    job = Job(client, "j", prefix)
    job.create({"spider": "mastodon"})
    job.push_seeds(["a", "b"])
    client.zadd(job.keys.requests, {b"req": -3})
    assert job.pop("r1", 0.2)[0] == "r"
    assert job.pop("s1", 0.2) == ("s", b'{"tags": ["a"]}')
    assert job.pop("kept", 600)[0] == "s"  # "b", renewed below: never reaped
    wait_until(lambda: job.reap() == 0 and job.sizes()["in_flight"] == 1)
    assert client.zscore(job.keys.requests, b"req") == -3  # its priority kept
    assert client.lindex(job.keys.seeds, 0) == b'{"tags": ["a"]}'  # the front of the work list
    assert job.counts()["requeued"] == 2
    assert job.renew(["kept", "r1"], 600) == 1  # a lease that went back is not renewed
    assert job.requeue(["kept"]) == 1  # a worker stopping early gives it back at once
    assert job.sizes() == {"queued": 1, "seeds": 2, "in_flight": 0}


def test_drained_needs_the_seeding_finished_and_nothing_in_flight(server):
    from crawler.distributed.jobs import Job

    client, prefix = server
    job = Job(client, "j", prefix)
    job.create({"spider": "mastodon"})
    assert not job.drained()  # still seeding
    job.set(state="queued")
    assert job.drained()
    job.push_seeds(["a"])
    job.pop("l", 60)
    assert not job.drained()
    job.ack(["l"])
    assert job.drained()
    job.heartbeat("w1")
    assert job.live_workers(60) == ["w1"]
    assert job.claim_finish("w1")
    assert not job.claim_finish("w2")


# --- the shared slot clock ---------------------------------------------------------------------------


def test_two_workers_book_start_times_on_one_line(server):
    from crawler.distributed import connect
    from crawler.distributed.ratelimit import RedisSlotClock

    client, prefix = server
    a, b = RedisSlotClock(client, prefix), RedisSlotClock(connect(REDIS), prefix)
    waits = [clock.reserve("host", 0.5) for clock in (a, b, a, b)]
    # each booking is 0.5 s after the one before, whoever booked it (Redis' clock moves a little)
    for index, wait in enumerate(waits):
        assert index * 0.5 - 0.05 <= wait <= index * 0.5 + 0.01
    assert RedisSlotClock(client, prefix, scope="other").reserve("host", 0.5) == 0


def test_a_pause_set_by_one_worker_holds_the_other(server):
    from crawler.distributed import connect
    from crawler.distributed.ratelimit import RedisSlotClock

    client, prefix = server
    a, b = RedisSlotClock(client, prefix), RedisSlotClock(connect(REDIS), prefix)
    assert a.pause("host", 30) == (True, pytest.approx(30, abs=0.05))
    started, added = b.pause("host", 10)  # shorter than the pause in force: nothing changes
    assert (started, added) == (False, 0.0)
    assert 29 < b.paused_for("host") <= 30
    assert 29 < b.reserve("host") <= 30
    assert b.paused_for("elsewhere") == 0


def test_rate_scope_setting_picks_the_clock():
    from scrapy.settings import Settings

    from crawler.distributed.ratelimit import RedisSlotClock, credential_scope, slot_clock_for

    class Spider:
        platform = "mastodon"

        def credentials(self):
            return []

    class Crawler:
        settings = Settings({"MICROSCOUT_REDIS_URL": REDIS, "MICROSCOUT_RATE_SCOPE_MASTODON": "worker"})

    assert slot_clock_for(Crawler(), Spider()) is None  # each worker its own clock
    Crawler.settings = Settings({"MICROSCOUT_REDIS_URL": REDIS})
    assert isinstance(slot_clock_for(Crawler(), Spider()), RedisSlotClock)
    Crawler.settings = Settings({})
    assert slot_clock_for(Crawler(), Spider()) is None  # not distributed
    assert credential_scope(Spider()) == "anonymous"


# --- lease bookkeeping (no Redis) -----------------------------------------------------------------


class FakeJob:
    def __init__(self) -> None:
        self.acked: list[tuple[str, list[str]]] = []

    def ack(self, leases, counter="done"):
        self.acked.append((counter, list(leases)))
        return len(leases)


def leases_with_writer():
    from scrapy.utils.test import get_crawler

    from crawler.distributed.worker import Leases

    leases = Leases(get_crawler())
    leases.job = FakeJob()
    leases.has_writer = True
    return leases


def test_a_lease_is_acknowledged_after_its_items_are_written():
    leases = leases_with_writer()
    leases.taken("a")
    leases.responded("a")
    leases.item_out("a", 2)
    leases.output_done("a")
    assert leases.write_begins() == []  # its items are still in the pipelines
    leases.item_done("a")
    leases.item_done("a")
    token = leases.write_begins()
    assert token == ["a"]
    assert leases.held() == ["a"]  # renewed until acknowledged
    leases.written(token, durable=True)
    assert leases.job.acked == [("done", ["a"])]
    assert leases.held() == []


def test_lost_items_are_never_acknowledged():
    leases = leases_with_writer()
    for lease in ("a", "b"):
        leases.taken(lease)
        leases.output_done(lease)
    leases.written(leases.write_begins(), durable=False)
    leases.taken("c")
    leases.output_done("c")
    leases.written(leases.write_begins(), durable=True)  # nothing after a loss either
    assert leases.job.acked == []
    assert sorted(leases.held()) == ["a", "b", "c"]  # given back when the worker leaves


def test_retries_parked_retries_and_failures():
    leases = leases_with_writer()
    leases.taken("retried")  # the downloader queued a retry copy
    leases.moved_on("retried")
    leases.taken("followed")  # a callback's own copy does not end its request
    leases.responded("followed")
    leases.moved_on("followed")
    leases.taken("parked")
    leases.output_done("parked", parked=True)
    leases.taken("failed")
    leases.item_out("failed")
    leases.output_done("failed", failed=True)
    leases.item_done("failed")
    assert leases.write_begins() == ["retried", "failed"]
    leases.moved_on("parked")  # the parked retry was queued
    leases.output_done("followed")
    assert leases.write_begins() == ["parked", "followed"]
    leases.written(["retried", "failed"], durable=True)
    assert leases.job.acked == [("done", ["retried"]), ("failed", ["failed"])]


def test_nothing_is_acknowledged_while_the_worker_holds_work():
    from crawler.distributed.worker import LOCAL

    leases = leases_with_writer()
    leases.taken("a")
    leases.output_done("a")
    leases.taken(LOCAL + "login")
    assert leases.holding()
    assert leases.write_begins() == []
    leases.output_done(LOCAL + "login")  # a local request is never acknowledged in Redis
    assert not leases.holding()
    assert leases.write_begins() == ["a"]


# --- what reaches Redis ---------------------------------------------------------------------------


def test_an_encoded_request_keeps_no_credential_proxy_or_lease():
    from scrapy import Request

    from crawler.credentials import APPLIED
    from crawler.distributed.scheduler import LEASE, LeasedQueue

    class Spider:
        name = "s"

        def parse(self, response):
            return None

    spider = Spider()
    queue = LeasedQueue(server=None, spider=spider, key="k")
    request = Request("https://example.org/x", callback=spider.parse,
                      headers={"Authorization": "Bearer t0ken", "Proxy-Authorization": "Basic cGFzcw==",
                               "Accept": "application/json"},
                      meta={APPLIED: {"headers": ["Authorization"], "cookies": []}, LEASE: "l1",
                            "proxy": "http://u:pw@proxy:8080", "microscout_kind": "tag"})
    encoded = queue._encode_request(request)
    for secret in (b"t0ken", b"cGFzcw==", b"pw@proxy", b"l1"):
        assert secret not in encoded
    decoded = queue.decode(encoded)
    assert decoded.meta == {"microscout_kind": "tag"}
    assert decoded.headers.get("Accept") == b"application/json"
    assert request.headers.get("Authorization") == b"Bearer t0ken"  # the original is untouched
