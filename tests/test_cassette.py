"""End-to-end tests of the cassette download handler (crawler/cassette.py).

Every test crawls through the real Scrapy engine. Twisted's reactor cannot be restarted in
one process, so each crawl runs in a fresh subprocess via ``tests.crawl_helpers.run_spider``
(about a second per crawl): it runs :class:`UrlsSpider` below, which fetches the URLs it is
given and yields one dict per response (status, headers, body, flags) or per failure (the
exception's class and message, from the errback), and returns those items with the crawl's
final stats.

Local HTTP servers are started in this process on 127.0.0.1 (``local_server``); they count
every request they receive, which is how the tests prove that replay and misses never touch
the network. Nothing here talks to the internet.

Cassettes used:

* ``/work/shared/realworld/mastodon/*.yaml``: real vcrpy cassettes recorded by Mastodon.py
  (requests) against a Mastodon server; the tests skip when the directory is absent.
* ``cassettes/local_server.yaml``: recorded by this handler from ``LocalServer`` on port
  8765 (robots.txt, a gzip-encoded body, a 404). Re-record it with
  ``.venv/bin/python -m tests.test_cassette``.
* cassettes recorded into ``tmp_path`` by the tests themselves.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import scrapy
from scrapy.utils.python import global_object_name
from vcr.cassette import Cassette
from vcr.serialize import deserialize
from vcr.serializers import yamlserializer

from crawler.cassette import CassetteMiss, CassetteRobotsTxtMiss, cassette_settings
from tests.crawl_helpers import run_spider

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
REALWORLD = Path(__file__).resolve().parents[2] / "shared" / "realworld"
MASTODON = REALWORLD / "mastodon"
FIXTURE = REPO / "cassettes" / "local_server.yaml"
FIXTURE_PORT = 8765
FIXTURE_BASE = f"http://127.0.0.1:{FIXTURE_PORT}"
SPIDER = "tests.test_cassette.UrlsSpider"
MISS = global_object_name(CassetteMiss)
ROBOTS_MISS = global_object_name(CassetteRobotsTxtMiss)

BASE_SETTINGS: dict[str, Any] = {
    "LOG_LEVEL": "INFO",
    "DOWNLOAD_TIMEOUT": 10,
    "ROBOTSTXT_OBEY": False,
}

#: For tests that need robots.txt *enforced*: Scrapy 2.19's RobotsTxtMiddleware lets through
#: every request but the first that waits for an in-flight robots.txt (it awaits one shared
#: Deferred through Deferred.asFuture, which hands None to the later waiters), so only one
#: request at a time may reach it.
OBEY_ROBOTS: dict[str, Any] = {"ROBOTSTXT_OBEY": True, "CONCURRENT_REQUESTS": 1}


class UrlsSpider(scrapy.Spider):
    """Fetch each URL (repeats allowed); yield the response, or the failure, as a dict."""

    name = "urls"

    def __init__(self, urls: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.urls = list(urls or [])

    async def start(self) -> Any:
        for index, url in enumerate(self.urls):
            yield scrapy.Request(
                url,
                callback=self.parse,
                errback=self.failed,
                dont_filter=True,
                # Keep the order of the results stable and let 4xx reach the callback.
                priority=-index,
                meta={"handle_httpstatus_all": True},
                cb_kwargs={"index": index},
            )

    def parse(self, response: scrapy.http.Response, index: int) -> Any:
        yield {
            "index": index,
            "url": response.url,
            "status": response.status,
            "headers": {
                name.decode("latin-1").lower(): [value.decode("latin-1") for value in values]
                for name, values in response.headers.items()
            },
            "body": response.body.decode("utf-8", errors="replace"),
            "flags": response.flags,
        }

    def failed(self, failure: Any) -> Any:
        yield {
            "index": failure.request.cb_kwargs["index"],
            "url": failure.request.url,
            "error": global_object_name(failure.type),
            "message": str(failure.value),
        }


def crawl(cassette: Path | None, urls: list[str], mode: str = "none", **settings: Any) -> Any:
    """Run :class:`UrlsSpider` over *urls*, serving from *cassette*; items sorted by index."""
    merged = {**BASE_SETTINGS, **(cassette_settings(cassette, mode) if cassette else {}), **settings}
    items = run_spider(SPIDER, merged, urls=urls, crawl_timeout=60)
    items.sort(key=lambda item: item["index"])
    return items


# --- local server ---------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server: LocalServer

    def do_GET(self) -> None:
        self.server.hits.append(self.path)
        path, _, query = self.path.partition("?")
        if path == "/robots.txt":
            self._send(200, b"User-agent: *\nDisallow: /private\n", "text/plain")
        elif path == "/gzip":
            payload = json.dumps({"compressed": True, "query": query}).encode()
            self._send(200, gzip.compress(payload), "application/json", {"Content-Encoding": "gzip"})
        elif path == "/missing":
            self._send(404, b'{"error":"Record not found"}', "application/json")
        else:
            self._send(200, json.dumps({"path": path, "query": query}).encode(), "application/json")

    def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class LocalServer(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 in a background thread that remembers every request path."""

    daemon_threads = True

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.hits: list[str] = []
        self.base = f"http://127.0.0.1:{self.server_address[1]}"
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self.shutdown()
            self._thread.join()
            self.server_close()


@pytest.fixture
def local_server() -> Iterator[LocalServer]:
    server = LocalServer()
    yield server
    server.stop()


# --- helpers --------------------------------------------------------------------------------


def recorded(path: Path) -> list[tuple[Any, dict[str, Any]]]:
    """(vcr request, response dict) pairs of a cassette, read with vcrpy's own deserializer."""
    requests, responses, *_ = deserialize(path.read_text(), yamlserializer)
    return list(zip(requests, responses, strict=True))


def first_get_interactions(path: Path) -> dict[str, dict[str, Any]]:
    """URL -> first recorded response, for every GET in a cassette (what a replay serves)."""
    out: dict[str, dict[str, Any]] = {}
    for request, response in recorded(path):
        if request.method == "GET":
            out.setdefault(request.uri, response)
    return out


def body_text(response: dict[str, Any]) -> str:
    body = response["body"]["string"]
    return body.decode("utf-8") if isinstance(body, bytes) else body


def header_values(response: dict[str, Any], name: str) -> list[str]:
    return next(values for key, values in response["headers"].items() if key.lower() == name)


mastodon_cassettes = pytest.mark.skipif(not MASTODON.is_dir(), reason=f"{MASTODON} is not available")


# --- (a) replaying real cassettes -----------------------------------------------------------


@mastodon_cassettes
@pytest.mark.parametrize("obey_robots", [False, True], ids=["robots-off", "robots-on"])
@pytest.mark.parametrize(
    "name",
    [
        "mastodonpy_cassette_test_account_lookup.yaml",
        "mastodonpy_cassette_test_hashtag_tl.yaml",
        "mastodonpy_cassette_test_fetch_next_previous.yaml",
    ],
)
def test_replays_real_mastodon_cassette(name: str, obey_robots: bool) -> None:
    cassette = MASTODON / name
    expected = first_get_interactions(cassette)
    urls = list(expected)

    items = crawl(cassette, urls, ROBOTSTXT_OBEY=obey_robots)

    assert [item["url"] for item in items] == urls
    for item in items:
        response = expected[item["url"]]
        assert "error" not in item, item
        assert item["status"] == response["status"]["code"]
        assert item["body"] == body_text(response)
        assert item["headers"]["content-type"] == header_values(response, "content-type")
        assert "cassette" in item["flags"]
        if any(key.lower() == "link" for key in response["headers"]):
            assert item["headers"]["link"] == header_values(response, "link")
    stats = items.stats
    assert stats["microscout/cassette/played"] == len(urls)
    assert stats["finish_reason"] == "finished"
    assert "log_count/ERROR" not in stats
    if obey_robots:
        # No robots.txt in the cassette: the miss reads as "no robots.txt", i.e. allow all.
        assert stats["robotstxt/request_count"] == 1
        assert stats[f"downloader/exception_type_count/{ROBOTS_MISS}"] == 1
        assert "robotstxt/forbidden" not in stats


@mastodon_cassettes
def test_real_cassette_404_and_pagination() -> None:
    lookup = MASTODON / "mastodonpy_cassette_test_account_lookup.yaml"
    pages = MASTODON / "mastodonpy_cassette_test_fetch_next_previous.yaml"
    statuses = "http://localhost:3000/api/v1/accounts/117020565966271181/statuses"

    missing, found = crawl(
        lookup,
        [
            "http://localhost:3000/api/v1/accounts/lookup?acct=kljadklajsdkljlkjlkjlkjasdasd",
            "http://localhost:3000/api/v1/accounts/lookup?acct=mastodonpy_test%40localhost%3A3000",
        ],
    )
    assert (missing["status"], json.loads(missing["body"])) == (404, {"error": "Record not found"})
    assert found["status"] == 200
    assert json.loads(found["body"])["acct"] == "mastodonpy_test"

    first, older, newer = crawl(
        pages,
        [
            f"{statuses}?limit=5",
            f"{statuses}?limit=5&max_id=117020580489281910",
            f"{statuses}?limit=5&min_id=117020580481736214",
        ],
    )
    assert [len(json.loads(page["body"])) for page in (first, older, newer)] == [5, 5, 5]
    assert json.loads(older["body"])[0]["id"] < "117020580489281910"
    assert "max_id=117020580452511285" in older["headers"]["link"][0]


# --- (b) misses -----------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["mastodon", "nonexistent"])
def test_miss_in_mode_none_fails_fast_without_network(
    source: str, local_server: LocalServer, tmp_path: Path
) -> None:
    if source == "mastodon" and not MASTODON.is_dir():
        pytest.skip(f"{MASTODON} is not available")
    cassette = (
        MASTODON / "mastodonpy_cassette_test_account.yaml" if source == "mastodon" else tmp_path / "x.yaml"
    )
    urls = [f"{local_server.base}/json?a=1", f"{local_server.base}/missing"]

    items = crawl(cassette, urls, ROBOTSTXT_OBEY=True)

    assert local_server.hits == []
    assert [item.get("error") for item in items] == [MISS, MISS]
    assert items[0]["message"].startswith(f"GET {urls[0]} is not in cassette {cassette}")
    assert "MICROSCOUT_CASSETTE_RECORD_MODE" in items[0]["message"]
    stats = items.stats
    assert stats[f"downloader/exception_type_count/{MISS}"] == 2
    assert stats[f"downloader/exception_type_count/{ROBOTS_MISS}"] == 1
    assert stats["microscout/cassette/missed"] == 3
    assert "retry/count" not in stats
    assert stats["finish_reason"] == "finished"
    assert stats["elapsed_time_seconds"] < 5
    assert not (tmp_path / "x.yaml").exists()


def test_bad_record_mode_fails_every_request_without_network(local_server: LocalServer) -> None:
    settings = {**cassette_settings(FIXTURE), "MICROSCOUT_CASSETTE_RECORD_MODE": "nonee"}

    items = crawl(None, [f"{local_server.base}/json?a=1"], **settings)

    assert items[0]["error"] == "scrapy.exceptions.NotSupported"
    assert "MICROSCOUT_CASSETTE_RECORD_MODE='nonee'" in items[0]["message"]
    assert local_server.hits == []


def test_without_a_cassette_the_handler_passes_through(local_server: LocalServer) -> None:
    settings = {**cassette_settings(FIXTURE), "MICROSCOUT_CASSETTE": ""}

    items = crawl(None, [f"{local_server.base}/gzip?b=2"], **settings)

    assert json.loads(items[0]["body"]) == {"compressed": True, "query": "b=2"}
    assert "cassette" not in items[0]["flags"]
    assert local_server.hits == ["/gzip?b=2"]
    assert not any(key.startswith("microscout/cassette/") for key in items.stats)


# --- (c) recording --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["new_episodes", "once"])
def test_records_then_replays_offline(mode: str, local_server: LocalServer, tmp_path: Path) -> None:
    cassette = tmp_path / "cassettes" / "recorded.yaml"
    base = local_server.base
    urls = [f"{base}/json?a=1", f"{base}/gzip?b=2", f"{base}/missing", f"{base}/private"]

    live = crawl(cassette, urls, mode, **OBEY_ROBOTS)

    assert sorted(local_server.hits) == ["/gzip?b=2", "/json?a=1", "/missing", "/robots.txt"]
    assert live.stats["microscout/cassette/recorded"] == 4
    assert live[1]["status"] == 200
    assert json.loads(live[1]["body"]) == {"compressed": True, "query": "b=2"}
    assert live[2]["status"] == 404
    assert live[3]["error"] == "scrapy.exceptions.IgnoreRequest"  # robots.txt: Disallow /private
    interactions = {request.path: response for request, response in recorded(cassette)}
    assert set(interactions) == {"/robots.txt", "/json", "/gzip", "/missing"}
    # Stored as it came off the wire, like vcrpy does: compressed, with its header.
    assert header_values(interactions["/gzip"], "content-encoding") == ["gzip"]
    assert gzip.decompress(interactions["/gzip"]["body"]["string"]) == live[1]["body"].encode()

    local_server.stop()
    replayed = crawl(cassette, urls, "none", **OBEY_ROBOTS)

    def outcome(item: dict[str, Any]) -> tuple[Any, ...]:
        return item["url"], item.get("status"), item.get("body"), item.get("error")

    assert [outcome(item) for item in replayed] == [outcome(item) for item in live]
    assert all("cassette" in item["flags"] for item in replayed[:3])
    assert replayed.stats["microscout/cassette/played"] == 4  # robots.txt + 3 pages
    assert "microscout/cassette/missed" not in replayed.stats
    assert len(local_server.hits) == 4


def test_once_with_existing_cassette_does_not_record(local_server: LocalServer, tmp_path: Path) -> None:
    cassette = tmp_path / "once.yaml"
    crawl(cassette, [f"{local_server.base}/json?a=1"], "once")
    saved = cassette.read_text()
    local_server.hits.clear()

    items = crawl(cassette, [f"{local_server.base}/json?a=1", f"{local_server.base}/json?a=2"], "once")

    assert items[0]["status"] == 200
    assert items[1]["error"] == MISS
    assert local_server.hits == []
    assert cassette.read_text() == saved


def test_new_episodes_records_only_what_is_missing(local_server: LocalServer, tmp_path: Path) -> None:
    cassette = tmp_path / "episodes.yaml"
    crawl(cassette, [f"{local_server.base}/json?a=1"], "new_episodes")
    local_server.hits.clear()

    items = crawl(
        cassette, [f"{local_server.base}/json?a=1", f"{local_server.base}/json?a=2"], "new_episodes"
    )

    assert [item["status"] for item in items] == [200, 200]
    assert local_server.hits == ["/json?a=2"]
    assert [request.uri for request, _ in recorded(cassette)] == [
        f"{local_server.base}/json?a=1",
        f"{local_server.base}/json?a=2",
    ]


def test_all_rerecords_without_duplicating(local_server: LocalServer, tmp_path: Path) -> None:
    cassette = tmp_path / "all.yaml"
    crawl(cassette, [f"{local_server.base}/json?a=1"], "new_episodes")
    local_server.hits.clear()

    items = crawl(cassette, [f"{local_server.base}/json?a=1"], "all")

    assert items[0]["status"] == 200
    assert local_server.hits == ["/json?a=1"]
    assert len(recorded(cassette)) == 1


def test_recorded_requests_leave_credentials_out(local_server: LocalServer, tmp_path: Path) -> None:
    cassette = tmp_path / "secrets.yaml"
    crawl(
        cassette,
        [f"{local_server.base}/json?a=1"],
        "new_episodes",
        DEFAULT_REQUEST_HEADERS={"Authorization": "Bearer s3cret", "Cookie": "sessionid=s3cret"},
    )
    assert "s3cret" not in cassette.read_text()
    assert local_server.hits == ["/json?a=1"]


# --- (d) matching ---------------------------------------------------------------------------


@mastodon_cassettes
def test_matching_follows_match_on() -> None:
    cassette = MASTODON / "mastodonpy_cassette_test_account_lookup.yaml"
    other_query = "http://localhost:3000/api/v1/accounts/lookup?acct=somebody_else"
    pages = MASTODON / "mastodonpy_cassette_test_fetch_next_previous.yaml"
    # vcrpy's query matcher compares parsed, sorted parameters: their order does not matter.
    reordered = (
        "http://localhost:3000/api/v1/accounts/117020565966271181/statuses?max_id=117020580489281910&limit=5"
    )

    default = crawl(cassette, [other_query])
    pages_default = crawl(pages, [reordered])
    without_query = crawl(cassette, [other_query], MICROSCOUT_CASSETTE_MATCH_ON=["method", "path"])

    assert default[0]["error"] == MISS
    assert "closest recorded request" in default[0]["message"]
    assert "query" in default[0]["message"]
    assert pages_default[0]["status"] == 200
    # Without the query, the first recorded lookup (the 404) answers every lookup.
    assert without_query[0]["status"] == 404
    assert json.loads(without_query[0]["body"]) == {"error": "Record not found"}


def test_repeats_can_be_forbidden(tmp_path: Path) -> None:
    url = f"{FIXTURE_BASE}/json?a=1"

    repeats = crawl(FIXTURE, [url, url])
    once_only = crawl(FIXTURE, [url, url], MICROSCOUT_CASSETTE_ALLOW_REPEATS=False)

    assert [item.get("status") for item in repeats] == [200, 200]
    assert once_only[0]["status"] == 200
    assert once_only[1]["error"] == MISS
    assert "already played" in once_only[1]["message"]


# --- the committed fixture ------------------------------------------------------------------


def test_committed_fixture_replays_gzip_and_robots() -> None:
    urls = [f"{FIXTURE_BASE}/gzip?b=2", f"{FIXTURE_BASE}/missing", f"{FIXTURE_BASE}/private"]

    items = crawl(FIXTURE, urls, **OBEY_ROBOTS)

    assert json.loads(items[0]["body"]) == {"compressed": True, "query": "b=2"}
    assert "content-encoding" not in items[0]["headers"]  # HttpCompressionMiddleware decoded it
    assert items.stats["httpcompression/response_count"] == 1
    assert items[1]["status"] == 404
    assert items[2]["error"] == "scrapy.exceptions.IgnoreRequest"
    assert items.stats["robotstxt/forbidden"] == 1


def test_gzip_header_over_decoded_body_is_dropped(tmp_path: Path) -> None:
    """Recorders that store the decoded body (aiohttp, httpx) keep Content-Encoding: gzip."""
    cassette = tmp_path / "decoded.yaml"
    source = Cassette.load(path=str(FIXTURE), record_mode="all")
    request, response = next((rq, rs) for rq, rs in source.data if rq.path == "/gzip")
    response["body"]["string"] = gzip.decompress(response["body"]["string"])
    target = Cassette(path=str(cassette), record_mode="all")
    target.append(request, response)
    target._save()

    items = crawl(cassette, [request.uri])

    assert json.loads(items[0]["body"]) == {"compressed": True, "query": "b=2"}


def record_fixture() -> None:
    """Re-record cassettes/local_server.yaml from a LocalServer on FIXTURE_PORT."""
    server = LocalServer(FIXTURE_PORT)
    try:
        FIXTURE.unlink(missing_ok=True)
        urls = [f"{server.base}/json?a=1", f"{server.base}/gzip?b=2", f"{server.base}/missing"]
        crawl(FIXTURE, urls, "once", ROBOTSTXT_OBEY=True, USER_AGENT="microscout-tests")
    finally:
        server.stop()
    print(f"recorded {FIXTURE}: {sorted(server.hits)}")


if __name__ == "__main__":
    record_fixture()


def test_recorded_login_bodies_keep_no_credentials():
    """A login recorded live (Bluesky createSession) must not store the app password."""
    from vcr.request import Request as VcrRequest

    from crawler.cassette import _scrub

    login = VcrRequest("POST", "https://bsky.social/xrpc/com.atproto.server.createSession",
                       b'{"identifier": "me.bsky.social", "password": "app-pass-word"}',
                       {"Authorization": "Bearer x", "Content-Type": "application/json"})
    kept = _scrub(login, ["Authorization"])
    assert b"app-pass-word" not in kept.body
    assert b"me.bsky.social" not in kept.body
    assert "Authorization" not in kept.headers
    browse = VcrRequest("POST", "https://www.youtube.com/youtubei/v1/browse",
                        b'{"continuation":"4qmFsgtoken"}', {})
    assert _scrub(browse, []).body == b'{"continuation":"4qmFsgtoken"}'  # untouched, still matches
