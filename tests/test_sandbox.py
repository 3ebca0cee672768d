"""The sandbox platform: the synthetic world, its Mastodon API, faults, and process control."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import unicodedata
from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from statistics import mean
from urllib.parse import quote, urlsplit
from urllib.robotparser import RobotFileParser

import pytest

from crawler.sandbox import EPOCH, SandboxConfig, SandboxError, SandboxProcess, World, make_server
from crawler.sandbox.faults import FaultInjector, FaultSpecError, parse_faults
from crawler.sandbox.mastodon import MastodonApp, paginate
from crawler.sandbox.vocab import HASHTAG_NICHE, NICHES
from crawler.sandbox.world import snowflake_index, snowflake_time

REALWORLD = Path(__file__).resolve().parents[2] / "shared" / "realworld"
MASTODON_RECORDINGS = REALWORLD / "mastodon"
ACCOUNTS, SEED = 300, 42
LINK = re.compile(r'<([^>]+)>; rel="(\w+)"')


# --- helpers ---------------------------------------------------------------------------


def get(base_url: str, target: str, timeout: float = 10.0):
    """(status, headers as a lower-cased dict, body bytes) of one GET."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request("GET", target)
        response = connection.getresponse()
        body = response.read()
        headers = {name.lower(): value for name, value in response.getheaders()}
        return response.status, headers, body
    finally:
        connection.close()


def get_json(base_url: str, target: str):
    status, headers, body = get(base_url, target)
    assert status == 200, (target, status, body[:200])
    return json.loads(body), headers


def links(headers: dict) -> dict[str, str]:
    return {rel: url for url, rel in LINK.findall(headers.get("link", ""))}


def relative(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@contextmanager
def server_in_thread(**config):
    """The same server as SandboxProcess runs, in a thread of this process (quicker)."""
    server = make_server(SandboxConfig(**config))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def recorded(cassette: str, method: str, path_pattern: str):
    """The JSON body of the first recorded interaction whose URI path matches."""
    yaml = pytest.importorskip("yaml")
    path = MASTODON_RECORDINGS / cassette
    if not path.exists():
        pytest.skip(f"real recordings not available ({path})")
    for interaction in yaml.safe_load(path.read_text())["interactions"]:
        request = interaction["request"]
        if request["method"] == method and re.fullmatch(path_pattern, urlsplit(request["uri"]).path):
            return json.loads(interaction["response"]["body"]["string"])
    raise AssertionError(f"no {method} {path_pattern} in {cassette}")


@pytest.fixture(scope="module")
def world() -> World:
    return World(ACCOUNTS, SEED)


@pytest.fixture(scope="module")
def big_world() -> World:
    return World(2_000, SEED)


@pytest.fixture(scope="module")
def sandbox():
    with SandboxProcess(accounts=ACCOUNTS, seed=SEED) as process:
        yield process


# --- the world -------------------------------------------------------------------------


def _fingerprint(w: World) -> tuple:
    accounts = tuple(
        (a.id, a.username, a.display_name, a.note, a.followers, a.following, a.niche)
        for a in w.accounts
    )
    posts = tuple(
        (p.id, p.text, p.tags, p.favourites, p.replies, p.reblogs, p.media)
        for i in range(0, len(w), 7)
        for p in w.posts(i)
    )
    return accounts, posts, tuple(w.tags().items())


def test_same_seed_gives_the_same_world(world):
    assert _fingerprint(World(ACCOUNTS, SEED)) == _fingerprint(world)


def test_different_seed_gives_a_different_world(world):
    other = World(ACCOUNTS, SEED + 1)
    assert [a.username for a in other.accounts] != [a.username for a in world.accounts]
    assert [a.followers for a in other.accounts] != [a.followers for a in world.accounts]
    assert set(other.tag_post_ids("vegan")) != set(world.tag_post_ids("vegan"))


def test_every_tier_present_and_micro_the_largest_tier_above_1k(big_world):
    tiers = Counter(a.tier for a in big_world.accounts)
    assert set(tiers) == {"nano", "micro", "macro", "mega"}
    assert tiers["micro"] > tiers["macro"] > tiers["mega"] >= 1
    assert tiers["mega"] <= len(big_world) // 100  # a handful


def test_smaller_accounts_engage_more(big_world):
    rates: dict[str, list[float]] = {tier: [] for tier in ("nano", "micro", "macro", "mega")}
    for account in big_world.accounts:
        if account.followers < 50 or (account.tier in ("nano", "micro") and account.index % 4):
            continue  # tiny audiences are all noise; a quarter of the big tiers is plenty
        posts = big_world.posts(account)
        rate = mean(p.favourites + p.replies for p in posts) / account.followers
        rates[account.tier].append(rate)
    er = {tier: mean(values) for tier, values in rates.items()}
    assert er["nano"] > er["micro"] > er["macro"] > er["mega"]
    assert 0.04 < er["nano"] < 0.09
    assert 0.004 < er["mega"] < 0.013


def test_a_niche_hashtag_finds_that_niches_authors(world):
    authors = world.tag_authors("vegan")
    assert len(authors) >= 10
    niches = Counter(world.niche(i) for i in authors)
    assert niches["food"] / len(authors) > 0.8
    # the index is what the posts say
    for post in world.posts_with_tag("vegan")[:50]:
        assert "vegan" in post.tags
        assert HASHTAG_NICHE["vegan"] == "food"


def test_posts_are_newest_first_recent_and_after_the_account_was_created(world):
    for account in world.accounts[::10]:
        posts = world.posts(account)
        assert 5 <= len(posts) <= 40
        times = [p.created_at for p in posts]
        assert times == sorted(times, reverse=True)
        assert times[0] <= EPOCH
        assert times[-1] > account.created_at
        assert posts[0].created_at.date() == account.last_status_at.date()
        for post in posts:
            assert snowflake_index(post.id_int) == account.index
            assert snowflake_time(post.id_int) == post.created_at
            assert world.post_by_id(post.id) == post
    all_ids = [pid for i in range(len(world)) for pid in world.post_ids(i)]
    assert len(all_ids) == len(set(all_ids)) == world.post_total


def test_bios_are_varied(big_world):
    accounts = big_world.accounts
    assert {a.language for a in accounts} == {"en", "es", "pt", "fr", "de"}
    text = [f"{a.display_name}\n{a.note}" for a in accounts]
    assert any(re.search(r"[\u0590-\u08ff]", t) for t in text)  # right-to-left scripts
    assert any(re.search(r"[\U0001F300-\U0001FAFF]", t) for t in text)  # emoji
    assert any("DROP TABLE" in t or "<script>" in t for t in text)
    assert any(a.display_name == "" for a in accounts)
    for account in accounts[:300]:  # the bio names the niche in the account's language
        niche = NICHES[account.niche]
        topic = niche.topic_en if account.language == "en" else niche.topics[account.language]
        assert topic in account.note


def test_fifty_thousand_accounts_build_quickly():
    started = time.perf_counter()
    w = World(50_000, 1)
    elapsed = time.perf_counter() - started
    assert elapsed < 20, f"50,000 accounts took {elapsed:.1f} s"
    assert w.post_total > 500_000
    assert w.account(49_999).index == 49_999


def test_paginate_follows_mastodon_cursor_semantics():
    ids = list(range(1, 11))
    assert paginate(ids, 3) == [10, 9, 8]
    assert paginate(ids, 3, max_id=8) == [7, 6, 5]
    assert paginate(ids, 3, min_id=2) == [5, 4, 3]
    assert paginate(ids, 30, since_id=7) == [10, 9, 8]
    assert paginate(ids, 3, max_id=2) == [1]
    assert paginate(ids, 3, max_id=1) == []


# --- the Mastodon API ------------------------------------------------------------------


def test_account_json_has_every_key_of_the_real_one(sandbox, world):
    real = recorded("mastodonpy_cassette_test_account.yaml", "GET", r"/api/v1/accounts/\d+")
    ours, _ = get_json(sandbox.base_url, f"/api/v1/accounts/{world.account(3).id}")
    assert set(real) <= set(ours)
    assert list(ours)[: len(real)] == list(real)  # in the same order, too
    for key, value in real.items():
        if value is not None and ours[key] is not None:
            assert type(ours[key]) is type(value), key
    assert set(real["feature_approval"]) <= set(ours["feature_approval"])


def test_status_json_has_every_key_of_the_real_one(sandbox):
    real = recorded("mastodonpy_cassette_test_hashtag_tl.yaml", "GET", r"/api/v1/timelines/tag/\w+")
    assert real, "the recording holds a non-empty timeline"
    ours, _ = get_json(sandbox.base_url, "/api/v1/timelines/tag/vegan")
    assert ours
    for status in ours:
        assert set(real[0]) <= set(status)
        assert set(real[0]["account"]) <= set(status["account"])
        assert all(set(tag) == {"name", "url"} for tag in status["tags"])
        for key in ("id", "created_at", "content", "url", "uri"):
            assert isinstance(status[key], str)
        for key in ("replies_count", "reblogs_count", "favourites_count"):
            assert isinstance(status[key], int)
    assert set(real[0]["tags"][0]) == {"name", "url"}


def test_statuses_match_the_world_and_mastodon_formats(sandbox, world):
    statuses, _ = get_json(sandbox.base_url, "/api/v1/timelines/tag/vegan?limit=40")
    base = sandbox.base_url
    for status in statuses:
        post = world.post_by_id(status["id"])
        account = world.account(post.account_index)
        assert status["account"]["id"] == account.id
        assert status["favourites_count"] == post.favourites
        assert status["replies_count"] == post.replies
        assert [t["name"] for t in status["tags"]] == list(post.tags)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", status["created_at"])
        assert status["content"].startswith("<p>")
        assert '<a href="' + base + '/tags/vegan" class="mention hashtag" rel="tag">#<span>' in (
            status["content"]
        )
        assert status["account"]["created_at"].endswith("T00:00:00.000Z")
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", status["account"]["last_status_at"])


def test_every_url_in_the_json_points_at_the_sandbox(sandbox, world):
    base = sandbox.base_url
    statuses, _ = get_json(base, "/api/v1/timelines/tag/photography?limit=40")
    for status in statuses:
        account = status["account"]
        urls = [status["url"], status["uri"], account["url"], account["uri"], account["avatar"],
                account["header"]]
        urls += [t["url"] for t in status["tags"]]
        urls += [m["url"] for m in status["mentions"]]
        for media in status["media_attachments"]:
            urls += [media["url"], media["preview_url"]]
        assert all(u.startswith(base + "/") for u in urls), urls
        for href in re.findall(r'href="([^"]+)"', status["content"]):
            assert href.startswith(base + "/") or urlsplit(href).hostname.endswith("example.com")
    # and they answer
    status = statuses[0]
    for url in (status["url"], status["account"]["url"], status["account"]["avatar"]):
        code, _, _ = get(base, relative(url))
        assert code == 200, url


def test_tag_timeline_link_pagination_walks_every_post_once(sandbox, world):
    base = sandbox.base_url
    expected = [p.id for p in world.posts_with_tag("vegan")]
    assert len(expected) > 30
    seen: list[str] = []
    target = "/api/v1/timelines/tag/vegan?limit=7"
    pages = 0
    while True:
        statuses, headers = get_json(base, target)
        pages += 1
        if not statuses:
            assert "link" not in headers  # Mastodon ends the walk on an empty page
            break
        assert re.fullmatch(
            rf'<{re.escape(base)}/api/v1/timelines/tag/vegan\?limit=7&max_id=\d+>; rel="next", '
            rf'<{re.escape(base)}/api/v1/timelines/tag/vegan\?limit=7&min_id=\d+>; rel="prev"',
            headers["link"],
        )
        assert links(headers)["next"].endswith(f"max_id={statuses[-1]['id']}")
        assert links(headers)["prev"].endswith(f"min_id={statuses[0]['id']}")
        seen += [s["id"] for s in statuses]
        target = relative(links(headers)["next"])
        assert pages < 100
    assert seen == expected
    assert len(seen) == len(set(seen))


def test_tag_timeline_limits_case_and_unknown_tags(sandbox, world):
    base = sandbox.base_url
    assert len(get_json(base, "/api/v1/timelines/tag/fitness")[0]) == 20
    assert len(get_json(base, "/api/v1/timelines/tag/fitness?limit=500")[0]) == 40
    upper, _ = get_json(base, "/api/v1/timelines/tag/FITNESS?limit=5")
    lower, _ = get_json(base, "/api/v1/timelines/tag/fitness?limit=5")
    assert upper == lower
    empty, headers = get_json(base, "/api/v1/timelines/tag/nosuchtagatall")
    assert empty == []
    assert "link" not in headers


def test_non_ascii_hashtags_are_percent_encoded(sandbox, world):
    tag = next(t for t in world.tags() if not t.isascii())
    expected = [p.id for p in world.posts_with_tag(tag)][:40]
    statuses, headers = get_json(sandbox.base_url, f"/api/v1/timelines/tag/{quote(tag)}?limit=40")
    assert [s["id"] for s in statuses] == expected
    assert f"/api/v1/timelines/tag/{quote(tag)}?" in headers["link"]
    urls = {t["name"]: t["url"] for s in statuses for t in s["tags"]}
    assert urls[tag] == f"{sandbox.base_url}/tags/{quote(tag)}"
    decomposed = quote(unicodedata.normalize("NFD", tag))
    assert get_json(sandbox.base_url, f"/api/v1/timelines/tag/{decomposed}?limit=40")[0] == statuses


def test_account_statuses_are_link_paginated_like_the_recording(sandbox, world):
    base = sandbox.base_url
    account = max(world.accounts, key=lambda a: a.post_count)
    expected = [p.id for p in world.posts(account)]
    path = f"/api/v1/accounts/{account.id}/statuses"
    first, headers = get_json(base, f"{path}?limit=5")
    assert [s["id"] for s in first] == expected[:5]
    assert links(headers) == {
        "next": f"{base}{path}?limit=5&max_id={first[-1]['id']}",
        "prev": f"{base}{path}?limit=5&min_id={first[0]['id']}",
    }
    second, headers2 = get_json(base, relative(links(headers)["next"]))
    assert [s["id"] for s in second] == expected[5:10]
    back, _ = get_json(base, relative(links(headers2)["prev"]))  # min_id: the page before
    assert back == first
    seen, target = [], f"{path}?limit=5"
    while target:
        statuses, headers = get_json(base, target)
        seen += [s["id"] for s in statuses]
        next_link = links(headers).get("next")
        target = relative(next_link) if next_link else None
    assert seen == expected
    tagged_tag = world.posts(account)[0].tags[0] if world.posts(account)[0].tags else "fediverse"
    tagged, _ = get_json(base, f"{path}?tagged={tagged_tag}&limit=40")
    assert [s["id"] for s in tagged] == [p.id for p in world.posts(account) if tagged_tag in p.tags]


def test_account_by_id_and_lookup(sandbox, world):
    base, host = sandbox.base_url, urlsplit(sandbox.base_url).netloc
    account = world.account(11)
    by_id, _ = get_json(base, f"/api/v1/accounts/{account.id}")
    assert by_id["username"] == account.username
    assert by_id["followers_count"] == account.followers
    for acct in (account.username, account.username.upper(), f"@{account.username}",
                 f"{account.username}@{host}"):
        found, _ = get_json(base, f"/api/v1/accounts/lookup?acct={quote(acct)}")
        assert found == by_id


@pytest.mark.parametrize(
    "target",
    [
        "/api/v1/accounts/lookup?acct=kljadklajsdkljlkjlkjlkjasdasd",
        "/api/v1/accounts/lookup?acct=somebody%40elsewhere.example",
        "/api/v1/accounts/lookup",
        "/api/v1/accounts/12345",
        "/api/v1/accounts/not-an-id/statuses",
        "/api/v1/statuses/777",
    ],
)
def test_missing_records_answer_like_mastodon(sandbox, target):
    status, headers, body = get(sandbox.base_url, target)
    assert status == 404
    assert body == b'{"error":"Record not found"}'  # byte for byte the recorded 404
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert "x-ratelimit-remaining" in headers


def test_ratelimit_headers(sandbox):
    seen = []
    for _ in range(3):
        _, headers, _ = get(sandbox.base_url, "/api/v1/timelines/tag/travel?limit=1")
        seen.append(headers)
    assert all(h["x-ratelimit-limit"] == "300" for h in seen)
    remaining = [int(h["x-ratelimit-remaining"]) for h in seen]
    if len({h["x-ratelimit-reset"][:19] for h in seen}) == 1:  # no window boundary crossed
        assert remaining[0] > remaining[1] > remaining[2]
    reset = seen[-1]["x-ratelimit-reset"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", reset)
    moment = datetime.strptime(reset, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    assert 0 < moment.timestamp() - time.time() <= 301
    assert moment.minute % 5 == 0
    assert moment.second == 0


def test_robots_txt(sandbox):
    status, headers, body = get(sandbox.base_url, "/robots.txt")
    assert status == 200
    assert headers["content-type"].startswith("text/plain")
    robots = RobotFileParser()
    robots.parse(body.decode().splitlines())
    base = sandbox.base_url
    assert robots.can_fetch("microscout", f"{base}/api/v1/timelines/tag/vegan")
    assert robots.can_fetch("microscout", f"{base}/api/v1/accounts/1")
    assert not robots.can_fetch("microscout", f"{base}/admin/")


def test_hostile_text_is_escaped_in_html(big_world):
    hostile = next(a for a in big_world.accounts if a.hostile and "<" in a.note)
    found = MastodonApp(big_world).account_json(hostile, "http://127.0.0.1:1")
    assert "<script>" not in found["note"]
    assert "<b>" not in found["note"]
    assert "&lt;" in found["note"]
    assert found["display_name"] == hostile.display_name  # plain text, as Mastodon sends it


def test_health_and_stats(sandbox):
    health, _ = get_json(sandbox.base_url, "/__sandbox__/health")
    assert health["status"] == "ok"
    assert health["accounts"] == ACCOUNTS
    before = sandbox.stats()
    get(sandbox.base_url, "/api/v1/timelines/tag/gaming?limit=1")
    get(sandbox.base_url, "/api/v1/accounts/1")
    after = sandbox.stats()
    assert after["requests"] == before["requests"] + 2
    assert after["responses"]["404"] == before["responses"].get("404", 0) + 1
    assert after["faults_total"] == 0


# --- faults and latency ------------------------------------------------------------------


def test_fault_spec_parsing():
    assert parse_faults("429=0.05, 500=0.03") == {"429": 0.05, "500": 0.03}
    assert parse_faults("") == {}
    for bad in ("429", "429=lots", "418=0.1", "500=1.5", "500=0.6,503=0.6"):
        with pytest.raises(FaultSpecError):
            parse_faults(bad)


def test_faults_are_deterministic_and_never_more_than_two_in_a_row():
    targets = [f"/api/v1/accounts/{i}" for i in range(500)]

    def run(seed):
        injector = FaultInjector({"429": 0.2, "500": 0.2, "truncate": 0.2}, seed=seed)
        return [[injector.decide(t) for _ in range(4)] for t in targets]

    first = run(1)
    assert first == run(1)
    assert first != run(2)
    for sequence in first:
        assert None in sequence[:3]
    always = FaultInjector({"503": 1.0}, seed=1)
    assert [always.decide("/x") for _ in range(6)] == ["503", "503", None] * 2


def fetch_with_retries(base_url: str, target: str, tally: Counter, retries: int = 3):
    """A client that retries 429, 5xx and unreadable bodies; returns (json, attempts)."""
    for attempt in range(1, retries + 2):
        status, headers, body = get(base_url, target)
        if status == 429:
            assert headers["retry-after"] == "1"
            tally["429"] += 1
            continue  # a real client would wait Retry-After seconds
        if status >= 500:
            tally[str(status)] += 1
            continue
        assert int(headers["content-length"]) == len(body)
        try:
            return json.loads(body), attempt
        except ValueError:
            tally["truncate"] += 1
    raise AssertionError(f"{target} still failing after {retries} retries")


def test_faults_are_transient_counted_and_truncation_breaks_json(world):
    rates = {"429": 0.1, "500": 0.08, "503": 0.08, "slow": 0.05, "truncate": 0.1}
    with SandboxProcess(accounts=ACCOUNTS, seed=SEED, faults=rates, slow_delay=0.05) as sandbox:
        tally: Counter = Counter()
        attempts = []
        for account in world.accounts[:150]:
            found, tries = fetch_with_retries(sandbox.base_url, f"/api/v1/accounts/{account.id}",
                                              tally)
            assert found["username"] == account.username
            attempts.append(tries)
        walked, target = [], "/api/v1/timelines/tag/food?limit=10"
        while target:
            statuses, _ = fetch_with_retries(sandbox.base_url, target, tally)
            walked += [s["id"] for s in statuses]
            target = f"/api/v1/timelines/tag/food?limit=10&max_id={statuses[-1]['id']}" if (
                statuses) else None
        assert walked == [p.id for p in world.posts_with_tag("food")]
        stats = sandbox.stats()
    assert max(attempts) <= 3
    faulted_share = sum(1 for a in attempts if a > 1) / len(attempts)
    assert 0.2 < faulted_share < 0.6  # about 0.36 of first attempts fail, plus slow ones
    for kind in ("429", "500", "503", "truncate"):
        assert tally[kind] > 0
        assert stats["faults"][kind] == tally[kind]
    assert stats["faults"]["slow"] > 0
    assert stats["faults_total"] == sum(stats["faults"].values())


def test_latency_and_fault_free_endpoints():
    with server_in_thread(accounts=30, latency=0.5, faults={"500": 1.0}) as server:
        base = server.base_url
        started = time.perf_counter()
        status, _, _ = get(base, "/api/v1/accounts/1")
        assert status == 500
        assert time.perf_counter() - started >= 0.5
        started = time.perf_counter()
        assert get(base, "/__sandbox__/health")[0] == 200
        assert time.perf_counter() - started < 0.4  # never delayed, never faulted
        assert get(base, "/robots.txt")[0] == 200  # delayed, but never faulted
        assert server.stats.snapshot()["faults"] == {
            "429": 0, "500": 1, "503": 0, "slow": 0, "truncate": 0
        }


def test_keep_alive_connection_serves_many_requests():
    with server_in_thread(accounts=30) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        for _ in range(50):
            connection.request("GET", "/api/v1/timelines/tag/fitness?limit=2")
            response = connection.getresponse()
            assert response.status == 200
            json.loads(response.read())
        connection.close()
        assert server.stats.snapshot()["requests"] == 50


# --- process control and command line --------------------------------------------------


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_sandbox_process_stops_even_when_the_block_fails():
    seen = {}

    def crawl_and_fail():
        with SandboxProcess(accounts=40, seed=3) as process:
            seen.update(pid=process.pid, port=process.port)
            assert process.base_url == f"http://127.0.0.1:{process.port}"
            assert process.health()["pid"] == process.pid
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        crawl_and_fail()
    assert _gone(seen["pid"])
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", seen["port"]), timeout=1).close()


def test_sandbox_process_reports_a_startup_failure_clearly():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SandboxError, match=f"cannot serve on 127.0.0.1:{port}"):
            SandboxProcess(accounts=10, port=port).start()


def test_module_command_serves_and_stops_on_ctrl_c():
    child = subprocess.Popen(
        [sys.executable, "-m", "crawler.sandbox", "serve", "--accounts", "25", "--seed", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line).group()
        assert get(url, "/__sandbox__/health")[0] == 200
        child.send_signal(signal.SIGINT)
        assert child.wait(10) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()


def test_bad_faults_spec_is_one_line_and_exit_2(capsys):
    result = subprocess.run(
        [sys.executable, "-m", "crawler.sandbox", "serve", "--faults", "429=lots"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "429" in result.stderr

    from crawler.commands import sandbox as command

    parser = argparse.ArgumentParser(prog="microscout")
    command.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["sandbox", "serve", "--faults", "teapot=0.1", "--accounts", "5"])
    assert args.func(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("microscout sandbox serve: error: unknown fault kind 'teapot'")


# --- platform knobs: --knob, SandboxProcess(knobs=...), /__platform__/knobs ------------------


def test_knob_on_the_command_line_reaches_the_app():
    child = subprocess.Popen(
        [sys.executable, "-m", "crawler.sandbox", "serve", "--platform", "instagram",
         "--accounts", "25", "--seed", "5", "--knob", "login_wall=0.5", "--knob", "og_only=0.2",
         "--knob", "login_wall=0.25"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line).group()
        status, _, body = get(url, "/__platform__/knobs")
        assert status == 200
        knobs = {k: v for k, v in json.loads(body)["knobs"].items() if not k.startswith("graph_")}
        assert knobs == {"login_wall": 0.25, "checkpoint": 0.0, "og_only": 0.2}
        child.send_signal(signal.SIGINT)
        assert child.wait(10) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()


@pytest.mark.parametrize(("platform", "knob", "message"), [
    ("bluesky", "handle_epoch=soon", "knob handle_epoch must be a whole number"),
    ("instagram", "login_wall=2", "rate for knob 'login_wall' must be between 0 and 1"),
    ("mastodon", "captcha=0.1", "unknown knob 'captcha' for the mastodon sandbox"),
    ("tiktok", "captcha", "bad --knob 'captcha': use NAME=VALUE"),
])
def test_bad_knob_is_one_line_and_exit_2(capsys, platform, knob, message):
    result = subprocess.run(
        [sys.executable, "-m", "crawler.sandbox", "serve", "--accounts", "5",
         "--platform", platform, "--knob", knob],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"python -m crawler.sandbox serve: error: {message}")
    assert result.stdout == ""  # never started serving

    from crawler.commands import sandbox as command

    parser = argparse.ArgumentParser(prog="microscout")
    command.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["sandbox", "serve", "--platform", platform, "--knob", knob,
                              "--accounts", "5"])
    assert args.func(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"microscout sandbox serve: error: {message}")


def test_sandbox_process_with_a_bad_knob_fails_to_start_with_its_message():
    with pytest.raises(SandboxError, match=r"exited with code 2 .*unknown knob 'quota'"):
        SandboxProcess(accounts=10, platform="bluesky", knobs={"quota": 5}).start()


def test_serve_help_lists_every_platforms_knobs():
    import importlib

    from crawler import platforms
    from crawler.commands import sandbox as command

    parser = argparse.ArgumentParser(prog="microscout")
    command.add_parser(parser.add_subparsers(dest="command"))
    sandbox_parser = parser._subparsers._group_actions[0].choices["sandbox"]
    serve_parser = sandbox_parser._subparsers._group_actions[0].choices["serve"]
    text = " ".join(serve_parser.format_help().split())
    assert "--knob NAME=VALUE" in text
    for name in platforms.SANDBOXED:
        module, _, cls = platforms.REGISTRY[name].sandbox_app.partition(":")
        app = getattr(importlib.import_module(module), cls)
        listed = re.search(rf"{name}: ([^;.]*)", text).group(1)
        assert sorted(re.findall(r"(\w+)=", listed)) == sorted(app.KNOBS), name
        assert hasattr(app, "from_config"), name
        assert hasattr(app, "configure"), name


def test_mastodon_has_no_knobs_but_answers_the_endpoint():
    with server_in_thread(accounts=30) as server:
        status, _, body = get(server.base_url, "/__platform__/knobs")
        assert (status, json.loads(body)) == (200, {"knobs": {}})
        status, _, body = get(server.base_url, "/__platform__/knobs?login_wall=0.1")
        assert status == 400
        assert json.loads(body)["error"] == (
            "unknown knob 'login_wall' for the mastodon sandbox: it has no knobs"
            " (every platform has throttle_after, throttle_retry_after)")
        assert server.stats.snapshot()["requests"] == 0
