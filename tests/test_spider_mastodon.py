"""The mastodon spider: arguments, callbacks on real bodies, and end-to-end crawls.

* Argument validation and the request plan are checked on the spider object alone.
* Callbacks are fed the real Mastodon.py cassette bodies (../shared/realworld/mastodon).
* End-to-end: crawls of the local sandbox (``crawler.sandbox.server.SandboxProcess``) through
  the real engine in a subprocess (``tests.crawl_helpers.run_spider``), without item
  pipelines, compared with what ``crawler.sandbox.world.World`` says is there.
"""

from __future__ import annotations

import asyncio
import functools
import json
from pathlib import Path

import pytest
import yaml
from scrapy import Request
from scrapy.http import JsonResponse, Response
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from crawler.items import HashtagSightingItem, ProfileItem, RejectedItem
from crawler.spiders.base import SpiderArgs
from crawler.spiders.mastodon import MastodonSpider, normalize_instance
from tests import spider_helpers

REALWORLD = Path(__file__).resolve().parents[2] / "shared" / "realworld" / "mastodon"
HASHTAG = "mastodonpy_cassette_test_hashtag_tl.yaml"
LOOKUP = "mastodonpy_cassette_test_account_lookup.yaml"
PAGING = "mastodonpy_cassette_test_fetch_next_previous.yaml"
LOCAL = "http://localhost:3000"


def make_spider(settings: dict | None = None, **kwargs) -> MastodonSpider:
    crawler = get_crawler(MastodonSpider, settings_dict={"RETRY_TIMES": 2, **(settings or {})})
    spider = MastodonSpider.from_crawler(crawler, **kwargs)
    crawler.spider = spider
    crawler.stats.open_spider()
    return spider


def start_urls(spider: MastodonSpider) -> list[str]:
    async def collect():
        return [request.url async for request in spider.start()]

    return asyncio.run(collect())


# --- arguments --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "nothing to crawl"),
        ({"tags": " , "}, "nothing to crawl"),
        ({"tags": "vegan food"}, "is not a hashtag"),
        ({"tags": "ok", "min_followers": "lots"}, "min_followers must be a whole number"),
        ({"tags": "ok", "min_followers": "-1"}, "min_followers must be at least 0"),
        ({"tags": "ok", "min_followers": "5000", "max_followers": "100"},
         "min_followers (5000) is above max_followers (100)"),
        ({"tags": "ok", "max_pages": "0"}, "max_pages must be at least 1"),
        ({"tags": "ok", "max_posts": "x"}, "max_posts must be a whole number"),
        ({"tags": "ok", "recent_posts": "41"}, "recent_posts must be at most 40"),
        ({"tags": "ok", "listing": "top"}, "listing must be one of recent"),
        ({"tags": "ok", "tag": "typo"}, "unknown argument(s) tag"),
        ({"handles": "not a handle"}, "is not a handle"),
        ({"handles": "https://mastodon.social/about"}, "is not a profile URL"),
        ({"handles_file": "/nonexistent/handles.txt"}, "does not exist"),
        ({"tags": "ok", "instance": "ftp://mastodon.social"}, "instance must be a URL"),
        ({"tags": "ok", "instance": "https://mastodon.social/explore"}, "without a path"),
    ],
)
def test_bad_argument_is_a_one_line_error(kwargs, message):
    with pytest.raises(ValueError, match=r"^[^\n]+$") as excinfo:
        MastodonSpider(**kwargs)
    assert message in str(excinfo.value)


def test_arguments_are_normalised():
    spider = MastodonSpider(
        tags="#VeganFood, plantbased,veganfood", handles="@Alice@Example.Social,https://x.y/@bob",
        min_followers="1,000", max_followers="99_999", max_pages="3", max_posts=50,
        recent_posts="0",
    )
    assert spider.args == SpiderArgs(
        tags=["veganfood", "plantbased"], handles=["alice@example.social", "bob@x.y"],
        min_followers=1000, max_followers=99999, max_pages=3, max_posts=50, recent_posts=0,
    )


def test_defaults():
    args = MastodonSpider(tags="x").args
    assert (args.max_pages, args.max_posts, args.recent_posts, args.listing) == (5, 200, 20, "recent")
    assert (args.min_followers, args.max_followers) == (None, None)


def test_handles_file_one_a_line_with_comments(tmp_path):
    path = tmp_path / "watch list.txt"
    path.write_text("# marketing list\nalice@example.social\n\n  bob  # the baker\n@Carol@x.y\n",
                    encoding="utf-8")
    spider = MastodonSpider(handles_file=str(path), handles="dave@x.y")
    assert spider.args.handles == ["dave@x.y", "alice@example.social", "bob", "carol@x.y"]
    assert spider.handles_label == "watch list"


def test_run_args_is_json_serialisable():
    spider = MastodonSpider(tags="vegan", instance="http://127.0.0.1:8123", job="nightly")
    assert json.loads(json.dumps(spider.run_args)) == {
        "platform": "mastodon", "instance": "http://127.0.0.1:8123", "tags": ["vegan"],
        "handles": [], "handles_file": None, "min_followers": None, "max_followers": None,
        "max_pages": 5, "max_posts": 200, "recent_posts": 20, "listing": "recent",
        "max_age": None, "tier": None, "niche": None, "limit": None,
    }
    assert spider.job == "nightly"


def test_scrapyd_arguments_are_accepted():
    assert MastodonSpider(tags="vegan", _job="abc123").job == "abc123"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("mastodon.social", "https://mastodon.social"),
        ("https://Mastodon.Social/", "https://mastodon.social"),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123"),
    ],
)
def test_normalize_instance(value, expected):
    assert normalize_instance(value) == expected


def test_default_instance_and_allowed_domains():
    spider = MastodonSpider(tags="vegan")
    assert spider.instance == "https://mastodon.social"
    assert spider.allowed_domains == ["mastodon.social"]
    sandbox = MastodonSpider(tags="vegan", instance="http://127.0.0.1:8123")
    assert sandbox.allowed_domains == ["127.0.0.1"]


def test_start_requests_plan():
    spider = MastodonSpider(tags="veganfood,plantbased", handles="alice,bob@127.0.0.1:8123,c@x.y",
                            instance="http://127.0.0.1:8123")
    assert start_urls(spider) == [
        "http://127.0.0.1:8123/api/v1/timelines/tag/veganfood?limit=40",
        "http://127.0.0.1:8123/api/v1/timelines/tag/plantbased?limit=40",
        "http://127.0.0.1:8123/api/v1/accounts/lookup?acct=alice",
        "http://127.0.0.1:8123/api/v1/accounts/lookup?acct=bob",
        # a remote account is looked up on the crawled instance, with the full acct
        "http://127.0.0.1:8123/api/v1/accounts/lookup?acct=c%40x.y",
    ]


# --- callbacks on real bodies -------------------------------------------------------------------


@functools.cache
def _cassette(name: str) -> dict:
    path = REALWORLD / name
    if not path.is_file():
        pytest.skip(f"real-world capture {path} not present")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def recorded_response(name: str, index: int, request: Request) -> Response:
    it = _cassette(name)["interactions"][index]
    headers = dict(it["response"]["headers"])
    return JsonResponse(
        url=it["request"]["uri"], status=it["response"]["status"]["code"], headers=headers,
        body=it["response"]["body"]["string"].encode("utf-8"), request=request,
    )


def run_callback(spider, request: Request, response: Response) -> list:
    """The callback as the engine runs it (typed errors become retries or RejectedItems)."""
    return spider_helpers.run_callback(request, response)


def test_tag_page_yields_sightings_statuses_request_and_next_page():
    spider = make_spider(tags="hoot", instance=LOCAL)
    request = spider.tag_request("hoot")
    out = run_callback(spider, request, recorded_response(HASHTAG, 2, request))
    sightings = [o for o in out if isinstance(o, HashtagSightingItem)]
    requests = [o for o in out if isinstance(o, Request)]
    assert [(s.hashtag, s.post_id, s.author_handle, s.position) for s in sightings] == [
        ("hoot", "117020593741189701", "mastodonpy_test_2@localhost", 0),
    ]
    assert [r.url for r in requests] == [
        f"{LOCAL}/api/v1/accounts/117020566092212359/statuses?limit=20&exclude_reblogs=true",
        f"{LOCAL}/api/v1/timelines/tag/hoot?max_id=117020593741189701&limit=40",
    ]
    assert requests[1].cb_kwargs == {"tag": "hoot", "page": 2, "offset": 1}


def test_tag_page_stops_at_max_pages():
    spider = make_spider(tags="hoot", instance=LOCAL, max_pages="1")
    request = spider.tag_request("hoot")
    out = run_callback(spider, request, recorded_response(HASHTAG, 2, request))
    assert [o.url for o in out if isinstance(o, Request) and "timelines" in o.url] == []


def test_author_is_requested_once_per_run():
    spider = make_spider(tags="hoot", instance=LOCAL)
    request = spider.tag_request("hoot")
    first = run_callback(spider, request, recorded_response(HASHTAG, 2, request))
    again = run_callback(spider, request, recorded_response(HASHTAG, 2, request))
    assert sum("statuses" in o.url for o in first if isinstance(o, Request)) == 1
    assert sum("statuses" in o.url for o in again if isinstance(o, Request)) == 0


def test_out_of_range_author_costs_no_request():
    spider = make_spider(tags="hoot", instance=LOCAL, min_followers="1")  # the author has 0
    request = spider.tag_request("hoot")
    out = run_callback(spider, request, recorded_response(HASHTAG, 2, request))
    assert not any(isinstance(o, Request) and "statuses" in o.url for o in out)
    assert spider.crawler.stats.get_value("microscout/mastodon/skipped_out_of_range") == 1


def test_statuses_page_yields_profile_with_recent_posts():
    spider = make_spider(handles="mastodonpy_test", instance=LOCAL, recent_posts="5")
    account = json.loads(_cassette(LOOKUP)["interactions"][2]["response"]["body"]["string"])
    request = spider.statuses_request(account, "handles")
    (profile,) = run_callback(spider, request, recorded_response(PAGING, 11, request))
    assert profile.handle == "mastodonpy_test@localhost"
    assert profile.posts_count == 11  # the fresher count from the statuses' account
    assert profile.discovered_via == "handles"
    assert [p.text for p in profile.recent_posts] == [f"Toot number {n}!" for n in (9, 8, 7, 6, 5)]


def test_lookup_yields_statuses_request():
    spider = make_spider(handles="mastodonpy_test", instance=LOCAL)
    (request,) = start_urls_requests(spider)
    (out,) = run_callback(spider, request, recorded_response(LOOKUP, 2, request))
    assert out.url == f"{LOCAL}/api/v1/accounts/117020565966271181/statuses?limit=20&exclude_reblogs=true"


def start_urls_requests(spider):
    async def collect():
        return [request async for request in spider.start()]

    return asyncio.run(collect())


def test_404_lookup_becomes_not_found_rejected_item():
    spider = make_spider(handles="kljadklajsdkljlkjlkjlkjasdasd", instance=LOCAL)
    (request,) = start_urls_requests(spider)
    response = recorded_response(LOOKUP, 1, request)
    failure = Failure(HttpError(response, "Ignoring non-200 response"))
    failure.request = request
    (rejected,) = list(spider.on_error(failure))
    assert isinstance(rejected, RejectedItem)
    assert rejected.reason == "not_found"
    assert rejected.payload == '{"error":"Record not found"}'
    assert rejected.source_url == f"{LOCAL}/api/v1/accounts/lookup?acct=kljadklajsdkljlkjlkjlkjasdasd"


def test_truncated_body_is_retried_then_rejected():
    spider = make_spider(tags="hoot", instance=LOCAL)
    request = spider.tag_request("hoot")
    body = _cassette(HASHTAG)["interactions"][2]["response"]["body"]["string"][:500]
    response = JsonResponse(url=request.url, status=200, body=body.encode(), request=request)
    (retry,) = run_callback(spider, request, response)
    assert isinstance(retry, Request)
    assert retry.meta["retry_times"] == 1
    retry2 = run_callback(spider, retry, response.replace(request=retry))[0]
    exhausted = response.replace(request=retry2)
    (rejected,) = run_callback(spider, retry2, exhausted)
    assert rejected.reason == "bad_json"
    assert rejected.payload == body
    assert spider.crawler.stats.get_value("retry/reason_count/bad_json") == 2


def test_failed_statuses_still_yield_the_profile():
    spider = make_spider(handles="mastodonpy_test", instance=LOCAL)
    account = json.loads(_cassette(LOOKUP)["interactions"][2]["response"]["body"]["string"])
    request = spider.statuses_request(account, "handles")
    failure = Failure(ConnectionRefusedError("Connection was refused"))
    failure.request = request
    rejected, profile = list(spider.on_error(failure))
    assert (rejected.reason, rejected.item_type) == ("request_failed", "ProfileItem")
    assert "ConnectionRefusedError" in rejected.detail
    assert isinstance(profile, ProfileItem)
    assert (profile.handle, profile.recent_posts) == ("mastodonpy_test@localhost", [])


def test_error_body_of_a_lookup_is_not_found():
    spider = make_spider(handles="nobody", instance=LOCAL)
    (request,) = start_urls_requests(spider)
    response = JsonResponse(url=request.url, status=200, body=b'{"error":"Record not found"}',
                            request=request)
    (rejected,) = run_callback(spider, request, response)
    assert (rejected.reason, rejected.detail) == ("not_found", "lookup of nobody; Record not found")
    assert rejected.item_type == "ProfileItem"


def test_unexpected_statuses_body_still_yields_the_profile():
    spider = make_spider(handles="mastodonpy_test", instance=LOCAL)
    account = json.loads(_cassette(LOOKUP)["interactions"][2]["response"]["body"]["string"])
    request = spider.statuses_request(account, "handles")
    response = JsonResponse(url=request.url, status=200, body=b'{"id": "1"}', request=request)
    rejected, profile = run_callback(spider, request, response)
    assert (rejected.reason, rejected.item_type) == ("unexpected_body", "ProfileItem")
    assert (profile.handle, profile.recent_posts) == ("mastodonpy_test@localhost", [])


# --- proxy and credentials ----------------------------------------------------------------------

PROXY = "http://user:secret@proxy.example:3128"


def _through_credentials_middleware(spider: MastodonSpider, requests: list[Request]) -> list[Request]:
    from crawler.credentials import CredentialsMiddleware

    middleware = CredentialsMiddleware.from_crawler(spider.crawler)
    for request in requests:
        middleware.process_request(request)
    return requests


def _every_kind_of_request(spider: MastodonSpider) -> list[Request]:
    account = {"id": "42", "username": "alice", "acct": "alice"}
    return [*start_urls_requests(spider), spider.statuses_request(account, "handles"),
            Request(f"{spider.instance}/robots.txt")]


def test_proxy_reaches_every_request():
    spider = make_spider({"MICROSCOUT_PROXY": PROXY}, tags="vegan", handles="alice,c@x.y",
                         instance="https://mastodon.example")
    requests = _through_credentials_middleware(spider, _every_kind_of_request(spider))
    assert len(requests) == 5  # tag, two lookups, statuses, robots.txt
    assert {request.meta.get("proxy") for request in requests} == {PROXY}


def test_no_proxy_unless_configured():
    spider = make_spider(tags="vegan", instance="https://mastodon.example")
    requests = _through_credentials_middleware(spider, _every_kind_of_request(spider))
    assert all("proxy" not in request.meta for request in requests)


def test_no_credentials_are_sent_to_any_host():
    """Mastodon's public API needs no credential: none is configured, none reaches a request
    (to the instance or elsewhere)."""
    spider = make_spider({"MICROSCOUT_PROXY": PROXY}, tags="vegan", handles="alice",
                         instance="https://mastodon.example")
    assert spider.credentials() == []
    requests = [*_every_kind_of_request(spider), Request("https://elsewhere.example/api/v1/x")]
    for request in _through_credentials_middleware(spider, requests):
        assert not {b"Authorization", b"Cookie"} & set(request.headers.keys())
        assert not request.cookies


# --- end-to-end against the sandbox -------------------------------------------------------------

E2E_ACCOUNTS, E2E_SEED = 300, 7
SPIDER = "crawler.spiders.mastodon.MastodonSpider"
E2E_SETTINGS = {
    "ITEM_PIPELINES": {},  # only the spider is under test
    "LOG_LEVEL": "INFO",
    "MICROSCOUT_MAX_RETRY_AFTER": 0.5,  # keep the sandbox's Retry-After waits short
    "RETRY_TIMES": 8,  # 13% faulty responses: exhausting 9 tries is ~1e-8 per request
}


def _sandbox_module():
    return pytest.importorskip("crawler.sandbox.server", reason="sandbox server not written yet")


@functools.cache
def world():
    from crawler.sandbox.world import World

    return World(E2E_ACCOUNTS, E2E_SEED)


@functools.cache
def e2e_tags() -> tuple[str, str]:
    """The two busiest tags of the world that still fit in max_posts (200) and 5 pages."""
    counts = sorted(world().tags().items(), key=lambda kv: (-kv[1], kv[0]))
    first, second = [tag for tag, count in counts if count <= 150][:2]
    return first, second


# The sandbox counts Mastodon's advisory x-ratelimit-* per 5-minute window across all crawls
# of one sandbox process; a generous limit keeps the spider tests about the spider (the
# rate-limit test below uses its own small limit).
NO_LIMIT = 1_000_000


@pytest.fixture(scope="module")
def sandbox():
    server = _sandbox_module()
    with server.SandboxProcess(accounts=E2E_ACCOUNTS, seed=E2E_SEED, rate_limit=NO_LIMIT) as sb:
        yield sb


@pytest.fixture(scope="module")
def faulty_sandbox():
    server = _sandbox_module()
    faults = {"429": 0.05, "500": 0.05, "truncate": 0.08}  # faults fall per URL: 8% so some land
    with server.SandboxProcess(accounts=E2E_ACCOUNTS, seed=E2E_SEED, faults=faults,
                               rate_limit=NO_LIMIT) as sb:
        yield sb


def crawl(base_url: str, settings: dict | None = None, **spider_kwargs):
    from tests.crawl_helpers import run_spider

    return run_spider(SPIDER, {**E2E_SETTINGS, **(settings or {})}, use_project_settings=True,
                      crawl_timeout=60, instance=base_url, **spider_kwargs)


def sightings_of(items) -> list[dict]:
    return [i for i in items if "position" in i and "hashtag" in i]


def profiles_of(items) -> list[dict]:
    return [i for i in items if "recent_posts" in i]


def rejected_of(items) -> list[dict]:
    return [i for i in items if "reason" in i and "payload" in i]


def handle(account) -> str:
    return f"{account.username.lower()}@127.0.0.1"


def expected_authors(tags=None, lo=None, hi=None) -> set[str]:
    w = world()
    tags = tags or e2e_tags()
    indices = set().union(*(w.tag_authors(tag) for tag in tags))
    return {
        handle(w.account(i)) for i in indices
        if (lo is None or w.account(i).followers >= lo) and (hi is None or w.account(i).followers <= hi)
    }


@pytest.fixture(scope="module")
def sweep(sandbox):
    return crawl(sandbox.base_url, tags=",".join(e2e_tags()))


@pytest.mark.slow
def test_sweep_sees_every_tagged_post_in_timeline_order(sweep):
    w = world()
    for tag in e2e_tags():
        expected = [p.id for p in w.posts_with_tag(tag)][:200]
        seen = sorted((s for s in sightings_of(sweep) if s["hashtag"] == tag),
                      key=lambda s: s["position"])
        assert [s["post_id"] for s in seen] == expected
        assert [s["position"] for s in seen] == list(range(len(expected)))


@pytest.mark.slow
def test_sweep_yields_one_profile_per_distinct_author(sweep):
    handles = [p["handle"] for p in profiles_of(sweep)]
    assert len(handles) == len(set(handles))
    assert set(handles) == expected_authors()
    assert rejected_of(sweep) == []


@pytest.mark.slow
def test_sweep_profiles_carry_counts_and_recent_posts(sweep):
    w = world()
    for profile in profiles_of(sweep):
        account = w.account_by_username(profile["handle"].split("@")[0])
        assert (profile["followers"], profile["following"]) == (account.followers, account.following)
        expected_posts = [p.id for p in w.posts(account)][:20]
        assert [p["post_id"] for p in profile["recent_posts"]] == expected_posts
        assert profile["discovered_via"] in e2e_tags()


@pytest.mark.slow
@pytest.mark.parametrize(("max_pages", "max_posts"), [(2, 200), (5, 50)])
def test_sweep_stops_at_max_pages_and_max_posts(sandbox, max_pages, max_posts):
    tag = e2e_tags()[0]
    newest = [p.id for p in world().posts_with_tag(tag)][: min(max_pages * 40, max_posts)]
    items = crawl(sandbox.base_url, tags=tag, max_pages=str(max_pages),
                  max_posts=str(max_posts), recent_posts="0")
    assert [s["position"] for s in sightings_of(items)] == list(range(len(newest)))
    assert [s["post_id"] for s in sightings_of(items)] == newest


@pytest.mark.slow
def test_follower_range_filter(sandbox):
    lo, hi = 1_000, 20_000
    items = crawl(sandbox.base_url, tags=",".join(e2e_tags()), min_followers=str(lo),
                  max_followers=str(hi), recent_posts="1")
    handles = {p["handle"] for p in profiles_of(items)}
    assert handles == expected_authors(lo=lo, hi=hi)
    skipped = len(expected_authors()) - len(handles)
    assert items.stats.get("microscout/mastodon/skipped_out_of_range", 0) == skipped > 0
    # Skipped authors cost no request: one statuses request per kept author only.
    assert items.stats["microscout/mastodon/authors_requested"] == len(handles)


@pytest.mark.slow
def test_handles_mode_with_a_missing_handle(sandbox):
    w = world()
    wanted = [w.account(3), w.account(42), w.account(199)]
    missing = "nobody_by_this_name"
    items = crawl(sandbox.base_url,
                  handles=",".join([a.username for a in wanted] + [f"{missing}@127.0.0.1"]))
    assert {p["handle"] for p in profiles_of(items)} == {handle(a) for a in wanted}
    assert {p["discovered_via"] for p in profiles_of(items)} == {"handles"}
    (rejected,) = rejected_of(items)
    assert rejected["reason"] == "not_found"
    assert rejected["source_url"].endswith(f"/api/v1/accounts/lookup?acct={missing}")


@pytest.mark.slow
def test_faults_do_not_change_the_result(sweep, faulty_sandbox):
    items = crawl(faulty_sandbox.base_url, tags=",".join(e2e_tags()))
    assert {p["handle"] for p in profiles_of(items)} == {p["handle"] for p in profiles_of(sweep)}
    key = lambda s: (s["hashtag"], s["position"], s["post_id"])  # noqa: E731
    assert sorted(map(key, sightings_of(items))) == sorted(map(key, sightings_of(sweep)))
    assert rejected_of(items) == []
    stats = items.stats
    assert stats["downloader/response_status_count/429"] > 0  # the faults really happened
    assert stats["downloader/response_status_count/500"] > 0
    assert stats["retry/reason_count/bad_json"] > 0  # truncated bodies
    # The 429s (Retry-After: 1, capped to 0.5 s here) paused the host before their retries.
    assert stats["microscout/ratelimit/paused"] >= 1
    assert stats["microscout/ratelimit/wait_seconds"] >= 0.5


@pytest.mark.slow
def test_spent_rate_limit_budget_pauses_and_loses_nothing(sweep):
    """A sandbox allowing 10 requests a window: once x-ratelimit-remaining hits 0 the host is
    paused until the reset (capped to 1 s here) and the crawl still gets everything."""
    server = _sandbox_module()
    with server.SandboxProcess(accounts=E2E_ACCOUNTS, seed=E2E_SEED, rate_limit=10) as sb:
        items = crawl(sb.base_url, {"MICROSCOUT_MAX_RETRY_AFTER": 1.0}, tags=e2e_tags()[0],
                      recent_posts="1")
    assert items.stats["microscout/ratelimit/paused"] > 0
    expected = {s["post_id"] for s in sightings_of(sweep) if s["hashtag"] == e2e_tags()[0]}
    assert {s["post_id"] for s in sightings_of(items)} == expected
    assert rejected_of(items) == []


@pytest.mark.slow
def test_robots_txt_is_fetched_and_obeyed(sandbox):
    """The sandbox's robots.txt allows /api/ to everyone but shuts out GPTBot entirely."""
    tag = e2e_tags()[0]
    allowed = crawl(sandbox.base_url, tags=tag, max_pages="1", recent_posts="0")
    assert allowed.stats["robotstxt/request_count"] == 1
    assert "robotstxt/forbidden" not in allowed.stats
    assert sightings_of(allowed)

    refused = crawl(sandbox.base_url, {"USER_AGENT": "GPTBot/1.1 (+https://openai.com/gptbot)"},
                    tags=tag, handles="someone")
    assert refused.stats["robotstxt/forbidden"] == 2
    assert sightings_of(refused) == []
    assert profiles_of(refused) == []
    assert {r["reason"] for r in rejected_of(refused)} == {"robots_disallowed"}
    assert refused.stats.get("downloader/request_count") == 1  # robots.txt only
