"""The sandbox as a fleet target: requests per host and second, and a 429 on demand.

``/__sandbox__/traffic`` counts platform requests by ``Host`` header so that a test can prove
several crawler processes together kept to a per-host rate; the server knobs
``throttle_after`` / ``throttle_retry_after`` answer one 429 at a chosen request so that a
test can prove every worker paused. No assertion here depends on how fast the machine is.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from datetime import datetime
from urllib.parse import urlsplit

import pytest

from crawler.sandbox import SandboxError, SandboxProcess
from crawler.sandbox.faults import Throttle
from crawler.sandbox.server import Traffic, max_in_window
from tests.test_sandbox import server_in_thread as threaded_server

ACCOUNTS, SEED = 30, 42
TAG = "/api/v1/timelines/tag/vegan?limit=2"


def get(base_url: str, target: str, host: str | None = None):
    """(status, headers as a lower-cased dict, body bytes) of one GET, with ``host`` as its
    Host header when given."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request("GET", target, headers={"Host": host} if host else {})
        response = connection.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        connection.close()


def get_json(base_url: str, target: str):
    status, _, body = get(base_url, target)
    assert status == 200, (target, status, body[:200])
    return json.loads(body)


def server_in_thread(**config):
    """The server SandboxProcess runs, in a thread of this process."""
    return threaded_server(**{"accounts": ACCOUNTS, "seed": SEED, **config})


@pytest.fixture(scope="module")
def sandbox():
    with SandboxProcess(accounts=ACCOUNTS, seed=SEED) as process:
        yield process


@pytest.fixture
def fresh(sandbox):
    """The module's sandbox with its traffic cleared and its throttle off."""
    sandbox.set_knobs(throttle_after="off", throttle_retry_after=1)
    sandbox.traffic(reset=True)
    return sandbox


def netloc(base_url: str) -> str:
    return urlsplit(base_url).netloc


# --- /__sandbox__/traffic -----------------------------------------------------------------


def test_traffic_counts_platform_requests_by_host_header():
    with server_in_thread() as server:
        base = server.base_url
        own, alias = netloc(base), f"fleet-b.test:{server.port}"
        for _ in range(5):
            assert get(base, TAG)[0] == 200
        for target in ("/robots.txt", "/api/v1/accounts/nobody", TAG):  # every answer counts
            get(base, target, host=alias)
        for target in ("/__sandbox__/health", "/__sandbox__/stats", "/__sandbox__/gate",
                       "/__platform__/knobs", "/__sandbox__/traffic", "/__sandbox__/nothing"):
            get(base, target)  # internal: never counted

        answer = get_json(base, "/__sandbox__/traffic")
        assert set(answer) == {"since", "now", "keep", "hosts"}
        assert answer["keep"] == 10_000
        assert set(answer["hosts"]) == {own, alias}
        assert answer["hosts"][own]["requests"] == 5
        assert answer["hosts"][alias]["requests"] == 3
        for host in answer["hosts"].values():
            assert set(host) == {"requests", "first", "last", "max_per_second", "per_second",
                                 "kept"}
            assert answer["since"] <= host["first"] <= host["last"] <= answer["now"]
            assert sum(host["per_second"].values()) == host["requests"] == host["kept"]
            assert host["max_per_second"] == max(host["per_second"].values())
            seconds = [int(second) for second in host["per_second"]]
            assert seconds == sorted(seconds)
            assert int(host["first"]) == seconds[0]
            assert int(host["last"]) == seconds[-1]
        assert server.stats.snapshot()["requests"] == 8  # the same requests as stats counts


def test_traffic_times_buckets_and_window_agree(fresh):
    base = fresh.base_url
    for _ in range(12):
        assert get(base, TAG)[0] == 200
    answer = fresh.traffic(times=True, window=1.0)
    assert answer["window"] == 1.0
    host = answer["hosts"][netloc(base)]
    times = host["times"]
    assert len(times) == host["requests"] == host["kept"] == 12
    assert times == sorted(times)
    assert times[0] == host["first"]
    assert times[-1] == host["last"]
    assert {str(s): n for s, n in Counter(int(t) for t in times).items()} == host["per_second"]
    assert host["max_in_window"] == max_in_window(times, 1.0)
    # a sliding second holds at least as many as the busiest calendar second
    assert host["max_per_second"] <= host["max_in_window"] <= 12
    # a window longer than the whole run holds every request
    span = times[-1] - times[0]
    assert fresh.traffic(window=span + 1)["hosts"][netloc(base)]["max_in_window"] == 12
    assert "times" not in fresh.traffic()["hosts"][netloc(base)]


def test_traffic_reset_answers_the_counts_then_clears_them(fresh):
    base = fresh.base_url
    for _ in range(3):
        get(base, TAG)
    before = fresh.traffic(reset=True, times=True)
    assert before["hosts"][netloc(base)]["requests"] == 3
    assert len(before["hosts"][netloc(base)]["times"]) == 3
    after = fresh.traffic()
    assert after["hosts"] == {}
    assert after["since"] >= before["now"]
    get(base, TAG)
    assert fresh.traffic()["hosts"][netloc(base)]["requests"] == 1


def test_traffic_rejects_a_bad_window(sandbox):
    for window in ("0", "-1", "soon", "nan", "inf"):
        status, _, body = get(sandbox.base_url, f"/__sandbox__/traffic?window={window}")
        assert status == 400, window
        assert "window must be a number of seconds > 0" in json.loads(body)["error"]


def test_concurrent_requests_are_all_counted():
    with server_in_thread() as server:
        base, alias = server.base_url, f"fleet-c.test:{server.port}"

        def worker(host: str | None) -> None:
            for _ in range(25):
                get(base, "/robots.txt", host=host)

        threads = [threading.Thread(target=worker, args=(alias if i % 2 else None,))
                   for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        hosts = server.traffic.snapshot(times=True)["hosts"]
        assert hosts[netloc(base)]["requests"] == hosts[alias]["requests"] == 100
        assert len(hosts[alias]["times"]) == 100


def test_traffic_buckets_by_whole_second_and_slides_the_window():
    clock = iter([100.0,  # since
                  10.0, 10.5, 10.9, 11.2, 11.3, 13.0,  # arrivals of host a
                  12.0,  # host b
                  14.0]).__next__  # the snapshot
    traffic = Traffic(clock=clock)
    for _ in range(6):
        traffic.count("a:1")
    traffic.count("b:1")
    answer = traffic.snapshot(times=True, window=1.0)
    a = answer["hosts"]["a:1"]
    assert a["per_second"] == {"10": 3, "11": 2, "13": 1}
    assert a["max_per_second"] == 3
    assert a["max_in_window"] == 4  # 10.5, 10.9, 11.2, 11.3: across a second boundary
    assert (a["first"], a["last"], a["requests"]) == (10.0, 13.0, 6)
    assert a["times"] == [10.0, 10.5, 10.9, 11.2, 11.3, 13.0]
    assert answer["hosts"]["b:1"]["max_in_window"] == 1


def test_max_in_window_and_kept_times():
    assert max_in_window([], 1.0) == 0
    assert max_in_window([5.0], 1.0) == 1
    assert max_in_window([0.0, 1.0, 2.0], 1.0) == 1  # (t - 1, t]: exactly 1 s apart is apart
    assert max_in_window([0.0, 0.99, 1.98], 1.0) == 2
    assert max_in_window([0.0, 0.1, 0.2, 5.0, 5.05], 0.5) == 3

    ticks = iter(float(t) for t in range(100)).__next__
    traffic = Traffic(keep=3, clock=ticks)
    for _ in range(5):
        traffic.count("h")
    host = traffic.snapshot(times=True)["hosts"]["h"]
    assert host["requests"] == 5
    assert host["kept"] == 3
    assert host["times"] == [3.0, 4.0, 5.0]  # the last three
    assert sum(host["per_second"].values()) == 5


# --- the throttle knobs: one 429 on demand ------------------------------------------------


def test_throttle_answers_one_429_after_n_api_requests_then_rearms(fresh):
    base = fresh.base_url
    state = fresh.set_knobs(throttle_after=3, throttle_retry_after=2)
    assert state["knobs"] == {}
    assert state["throttle"] == {"after": 3, "retry_after": 2, "armed": True, "passed": 0,
                                 "sent_at": None, "resume_at": None, "target": None,
                                 "fired": state["throttle"]["fired"]}
    fired = state["throttle"]["fired"]
    assert get(base, "/robots.txt")[0] == 200  # not an API request: not counted
    for _ in range(3):
        assert get(base, TAG)[0] == 200
    assert fresh.set_knobs()["throttle"]["passed"] == 3

    before = time.time()
    status, headers, body = get(base, TAG + "&n=4")
    after = time.time()
    assert status == 429
    assert json.loads(body) == {"error": "Too many requests"}
    assert headers["retry-after"] == "2"
    assert headers["x-ratelimit-remaining"] == "0"
    assert headers["x-ratelimit-limit"] == "300"

    throttle = fresh.set_knobs()["throttle"]
    assert throttle["armed"] is False
    assert throttle["fired"] == fired + 1
    assert throttle["target"] == TAG + "&n=4"
    assert before <= throttle["sent_at"] <= after
    assert throttle["resume_at"] == throttle["sent_at"] + 2
    reset = datetime.strptime(headers["x-ratelimit-reset"], "%Y-%m-%dT%H:%M:%S.%f%z")
    assert abs(reset.timestamp() - throttle["resume_at"]) < 0.001

    for _ in range(5):  # once only
        assert get(base, TAG)[0] == 200
    assert fresh.set_knobs()["throttle"]["fired"] == fired + 1

    # setting it again re-arms it; 0: the very next API request
    rearmed = fresh.set_knobs(throttle_after=0)["throttle"]
    assert (rearmed["armed"], rearmed["sent_at"], rearmed["retry_after"]) == (True, None, 2)
    status, headers, _ = get(base, "/api/v1/accounts/nobody")
    assert (status, headers["retry-after"]) == (429, "2")
    assert get(base, "/api/v1/accounts/nobody")[0] == 404
    assert fresh.set_knobs()["throttle"]["fired"] == fired + 2
    assert fresh.stats()["responses"]["429"] >= 2

    # traffic counts the throttled request like any other
    assert fresh.traffic()["hosts"][netloc(base)]["requests"] == 1 + 3 + 1 + 5 + 2


def test_throttle_off_disarms_and_retry_after_alone_does_not_arm(fresh):
    fresh.set_knobs(throttle_after=1)
    assert fresh.set_knobs(throttle_after="off")["throttle"]["armed"] is False
    state = fresh.set_knobs(throttle_retry_after=5)["throttle"]
    assert (state["armed"], state["after"], state["retry_after"]) == (False, None, 5)
    for _ in range(3):
        assert get(fresh.base_url, TAG)[0] == 200


def test_concurrent_requests_get_exactly_one_429():
    with server_in_thread() as server:
        base = server.base_url
        statuses: Counter[int] = Counter()
        lock = threading.Lock()
        status, _, body = get(base, "/__platform__/knobs?throttle_after=40")
        assert status == 200
        assert json.loads(body)["throttle"]["armed"] is True

        def worker() -> None:
            for _ in range(20):
                answer = get(base, TAG)[0]
                with lock:
                    statuses[answer] += 1

        threads = [threading.Thread(target=worker) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert statuses == {200: 119, 429: 1}
        state = server.throttle.state()
        assert (state["armed"], state["passed"], state["fired"]) == (False, 40, 1)


def test_bad_throttle_knobs_change_nothing():
    with server_in_thread(platform="instagram") as server:
        base = server.base_url
        for query, message in (
            ("throttle_after=-1", "knob throttle_after must be off or a whole number >= 0"),
            ("throttle_retry_after=0.5", "knob throttle_retry_after must be whole seconds"),
            ("throttle_after=2&login_wall=7", "rate for knob 'login_wall' must be between"),
        ):
            status, _, body = get(base, f"/__platform__/knobs?{query}")
            assert status == 400, query
            assert json.loads(body)["error"].startswith(message), query
        state = get_json(base, "/__platform__/knobs")
        assert "throttle" not in state  # never set: the answer is the app's alone
        assert state["knobs"]["login_wall"] == 0.0
        assert not server.throttle.armed
        status, _, body = get(base, "/__platform__/knobs?throttle_afterr=1")
        assert status == 400
        assert "every platform has throttle_after, throttle_retry_after" in json.loads(body)["error"]


def test_throttle_knob_at_start_for_another_platform():
    """Bluesky's own RateLimitExceeded, its epoch-seconds reset moved to the throttle's wait."""
    config = {"platform": "bluesky", "knobs": {"throttle_after": "1", "throttle_retry_after": "3"}}
    with server_in_thread(**config) as server:
        base, target = server.base_url, "/xrpc/com.atproto.identity.resolveHandle?handle=x"
        assert get(base, "/robots.txt")[0] == 200
        assert get(base, target)[0] != 429
        status, headers, body = get(base, target)
        assert status == 429
        assert json.loads(body)["error"] == "RateLimitExceeded"
        assert headers["retry-after"] == "3"
        assert headers["ratelimit-remaining"] == "0"
        sent_at = server.throttle.state()["sent_at"]
        assert int(headers["ratelimit-reset"]) == int(-(-(sent_at + 3) // 1))
        assert get(base, target)[0] != 429
        assert get_json(base, "/__platform__/knobs")["throttle"]["fired"] == 1


def test_sandbox_process_passes_throttle_knobs_and_reports_a_bad_one():
    with SandboxProcess(accounts=ACCOUNTS, seed=SEED, knobs={"throttle_after": 0}) as process:
        status, headers, _ = get(process.base_url, TAG)
        assert (status, headers["retry-after"]) == (429, "1")
        assert process.set_knobs()["throttle"]["fired"] == 1
    with pytest.raises(SandboxError, match=r"exited with code 2 .*knob throttle_after must be"):
        SandboxProcess(accounts=ACCOUNTS, knobs={"throttle_after": "soon"}).start()


def test_throttle_unit():
    now = iter([50.0]).__next__
    throttle = Throttle(clock=now)
    assert throttle.take() is False  # off
    throttle.configure({"throttle_after": "2", "throttle_retry_after": "4"})
    assert [throttle.take() for _ in range(5)] == [False, False, True, False, False]
    from crawler.sandbox.common import Response

    answer = throttle.answer(Response(429, headers=[("Retry-After", "1"), ("x-other", "y")]), "/t")
    assert answer.headers == [("x-other", "y"), ("retry-after", "4")]
    assert throttle.state() == {"after": 2, "retry_after": 4, "armed": False, "passed": 2,
                                "sent_at": 50.0, "resume_at": 54.0, "target": "/t", "fired": 1}
    with pytest.raises(ValueError, match="throttle_retry_after"):
        throttle.configure({"throttle_after": "2", "throttle_retry_after": "x"})
    assert throttle.state()["armed"] is False  # nothing changed
