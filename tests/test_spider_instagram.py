"""The instagram spider: arguments, callbacks, and end-to-end crawls of the sandbox.

* Arguments and the request plan are checked on the spider object alone.
* Callbacks are fed bodies the sandbox app renders in-process (the same code the sandbox
  server runs) and the real captures in ../shared/realworld/instagram.
* End-to-end: crawls through the real engine in a subprocess (``tests.crawl_helpers``)
  against ``SandboxProcess(platform="instagram")``: a clean sweep, login walls and
  checkpoints, profile pages, 429s, the session cookie and proxy; and a cassette recorded
  from the sandbox, replayed offline through every pipeline into SQLite.

``cassettes/sandbox_instagram_sweep.yaml`` was recorded from the sandbox (accounts=120, seed=5)
on port 8811 by this spider; re-record it with ``python -m tests.test_spider_instagram``.
"""

from __future__ import annotations

import asyncio
import functools
import http.client
import json
import math
import threading
from collections import Counter
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from crawler.cassette import cassette_settings
from crawler.credentials import CredentialsMiddleware
from crawler.items import HashtagSightingItem, ProfileItem, RejectedItem
from crawler.parsers import instagram as ig
from crawler.sandbox.common import Request as SandboxRequest
from crawler.sandbox.instagram import InstagramApp, og_only_of
from crawler.sandbox.world import World
from crawler.spiders.instagram import InstagramSpider, normalize_base_url
from tests.spider_helpers import run_callback

CAPTURES = Path(__file__).resolve().parents[2] / "shared" / "realworld" / "instagram"
CASSETTE = Path(__file__).resolve().parents[1] / "cassettes" / "sandbox_instagram_sweep.yaml"
LOCAL = "http://127.0.0.1:8123"
ACCOUNTS, SEED = 300, 7


def make_spider(settings: dict | None = None, **kwargs) -> InstagramSpider:
    kwargs.setdefault("base_url", LOCAL)
    crawler = get_crawler(InstagramSpider, settings_dict={"RETRY_TIMES": 2, **(settings or {})})
    spider = InstagramSpider.from_crawler(crawler, **kwargs)
    crawler.spider = spider
    crawler.stats.open_spider()
    return spider


def start_requests(spider: InstagramSpider) -> list[Request]:
    async def collect():
        return [request async for request in spider.start()]

    return asyncio.run(collect())


def downloaded(spider: InstagramSpider, requests: list[Request]) -> list[Request]:
    """The requests as the downloader sends them: proxy and credentials applied."""
    middleware = CredentialsMiddleware.from_crawler(spider.crawler)
    for request in requests:
        middleware.process_request(request)
    return requests


@functools.cache
def world() -> World:
    return World(ACCOUNTS, SEED)


@functools.cache
def sandbox_app(**knobs) -> InstagramApp:
    return InstagramApp(world(), **knobs)


def answer(request: Request, application: InstagramApp | None = None) -> TextResponse:
    """The response the sandbox gives to a spider request, built in-process."""
    parts = urlsplit(request.url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    query = dict(reversed(parse_qsl(parts.query, keep_blank_values=True)))
    sandbox_request = SandboxRequest("GET", parts.path, query, LOCAL, target)
    out = (application or sandbox_app()).handle(sandbox_request)
    kind = HtmlResponse if out.content_type.startswith("text/html") else TextResponse
    return kind(url=request.url, status=out.status, headers=dict(out.headers), body=out.body,
                encoding="utf-8", request=request)


def run(request: Request, response=None, application: InstagramApp | None = None) -> list:
    response = response if response is not None else answer(request, application)
    return run_callback(request, response)


def of(kind, items) -> list:
    return [item for item in items if isinstance(item, kind)]


@functools.cache
def busy_tag() -> str:
    counts = world().tags()
    return max(counts, key=lambda tag: (counts[tag], tag))


def capture(name: str) -> str:
    path = CAPTURES / name
    if not path.exists():
        pytest.skip(f"real-world capture not available: {path}")
    return path.read_text(encoding="utf-8")


# --- arguments ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "nothing to crawl"),
        ({"tags": "vegan food"}, "is not a hashtag"),
        ({"tags": "ok", "listing": "hot"}, "listing must be one of all, top, recent"),
        ({"tags": "ok", "recent_posts": "201"}, "recent_posts must be at most 200"),
        ({"tags": "ok", "base_url": "ftp://instagram.com"}, "base_url must be a URL"),
        ({"tags": "ok", "base_url": "https://www.instagram.com/explore/"}, "without a path"),
        ({"tags": "ok", "profile_source": "app"}, "profile_source must be one of api, html"),
        ({"handles": "alice@mastodon.social"}, "is not an Instagram username"),
        ({"handles": "bad-name"}, "is not an Instagram username"),
        ({"handles": "https://www.instagram.com/p/Abc/"}, "is not a profile URL"),
        ({"handles": "https://example.com/alice/"}, "is not a profile URL"),
        ({"tags": "ok", "instance": "x"}, "unknown argument(s) instance"),
    ],
)
def test_bad_argument_is_a_one_line_error(kwargs, message):
    with pytest.raises(ValueError, match=r"^[^\n]+$") as excinfo:
        InstagramSpider(**kwargs)
    assert message in str(excinfo.value)


def test_defaults_and_hosts():
    spider = InstagramSpider(tags="vegan")
    assert (spider.args.recent_posts, spider.args.listing, spider.args.max_posts) == (12, "all", 200)
    assert (spider.base_url, spider.api_url) == ("https://www.instagram.com",
                                                 "https://i.instagram.com")
    assert spider.allowed_domains == ["instagram.com"]
    assert spider.download_slot == "instagram.com"
    assert spider.profile_source == "api"
    sandbox = InstagramSpider(tags="vegan", base_url="127.0.0.1:8123/")
    assert (sandbox.base_url, sandbox.api_url) == ("https://127.0.0.1:8123", "https://127.0.0.1:8123")
    assert sandbox.allowed_domains == ["127.0.0.1"]
    assert normalize_base_url("http://127.0.0.1:8123") == "http://127.0.0.1:8123"


def test_handles_from_urls_mentions_and_a_file(tmp_path):
    path = tmp_path / "watch list.txt"
    path.write_text("# creators\nhttps://www.instagram.com/Carol.Cooks/\n@dave_\n", encoding="utf-8")
    spider = InstagramSpider(handles="@Alice,https://instagram.com/bob/,alice", handles_file=str(path))
    assert spider.args.handles == ["alice", "bob", "carol.cooks", "dave_"]
    assert spider.handles_label == "watch list"
    assert spider.run_args["handles_file"] == str(path)


def test_run_args_is_json_serialisable():
    spider = InstagramSpider(tags="vegan", base_url=LOCAL, job="nightly", listing="top")
    stored = json.loads(json.dumps(spider.run_args))
    assert stored.items() >= {
        "platform": "instagram", "base_url": LOCAL, "profile_source": "api", "tags": ["vegan"],
        "handles": [], "handles_file": None, "min_followers": None, "max_followers": None,
        "max_pages": 5, "max_posts": 200, "recent_posts": 12, "listing": "top",
    }.items()


def test_start_requests_plan():
    spider = make_spider(tags="veganfood", handles="alice", max_posts="30")
    tag, profile = start_requests(spider)
    parts = urlsplit(tag.url)
    assert parts.path == "/graphql/query/"
    query = parse_qs(parts.query)
    assert query["query_hash"] == [ig.HASHTAG_QUERY_HASH]
    assert json.loads(query["variables"][0]) == {"tag_name": "veganfood", "first": 30}
    assert profile.url == f"{LOCAL}/api/v1/users/web_profile_info/?username=alice"
    for request in (tag, profile):
        assert request.headers["X-IG-App-ID"] == ig.APP_ID.encode()
        assert request.meta["dont_redirect"] is True
        assert 302 in request.meta["handle_httpstatus_list"]
        assert 429 not in request.meta["handle_httpstatus_list"]  # RetryMiddleware's
        assert request.meta["download_slot"] == "127.0.0.1"
        assert "proxy" not in request.meta
        assert request.cookies == {}
    live = make_spider(handles="alice", base_url="https://www.instagram.com")
    (request,) = start_requests(live)
    assert request.url == "https://i.instagram.com/api/v1/users/web_profile_info/?username=alice"
    html = make_spider(handles="alice", profile_source="html")
    (request,) = start_requests(html)
    assert request.url == f"{LOCAL}/alice/"
    assert b"X-IG-App-ID" not in request.headers


def test_session_cookie_and_proxy_from_settings():
    spider = make_spider({"MICROSCOUT_INSTAGRAM_SESSIONID": "s3cr3t",
                          "MICROSCOUT_PROXY": "http://proxy.example:3128"}, tags="x", handles="a")
    for request in downloaded(spider, start_requests(spider)):
        assert request.cookies == {"sessionid": "s3cr3t"}
        assert request.meta["proxy"] == "http://proxy.example:3128"
    assert "s3cr3t" not in json.dumps(spider.run_args)


def test_proxy_reaches_every_request_through_the_credentials_middleware():
    proxy = "http://user:pw@proxy.example:3128"
    spider = make_spider({"MICROSCOUT_PROXY": proxy}, tags=busy_tag(), handles="alice",
                         base_url="https://www.instagram.com")
    profile = ProfileItem(platform="instagram", handle="alice", platform_user_id="1")
    requests = [*start_requests(spider), spider.owner_request("1", "Abc", "x"),
                spider.media_request(profile, "cursor"),
                Request("https://www.instagram.com/robots.txt"),
                Request("https://i.instagram.com/robots.txt")]
    for request in downloaded(spider, requests):
        assert request.meta["proxy"] == proxy, request.url
        assert request.cookies == {}, request.url  # no session configured: no credential
    assert spider.credentials() == []
    assert not any("proxy" in str(value) for value in spider.run_args.values())


@pytest.mark.parametrize(("base_url", "hosts"), [
    ("https://www.instagram.com", ["www.instagram.com", "i.instagram.com"]),
    (LOCAL, ["127.0.0.1:8123"]),  # the sandbox: host and port (its hosts differ by port only)
])
def test_session_cookie_goes_to_the_configured_hosts_only(base_url, hosts):
    def where(url: str) -> str | None:  # what a credential's host is compared with
        parts = urlsplit(url)
        return parts.netloc if ":" in hosts[0] else parts.hostname

    spider = make_spider({"MICROSCOUT_INSTAGRAM_SESSIONID": "s3cr3t"}, tags="x", handles="a",
                         base_url=base_url)
    credentials = spider.credentials()
    assert [c.host for c in credentials] == hosts  # one credential per host
    assert all(c.cookies == {"sessionid": "s3cr3t"} and not c.headers for c in credentials)
    assert "s3cr3t" not in repr(credentials)
    others = ["https://example.com/a/", "https://www.instagram.com.evil.example/a/",
              "https://about.instagram.com/a/", "https://instagram.com/a/",
              "https://i.instagram.com/a/", "https://www.instagram.com/a/",
              "https://127.0.0.1:8123/a/", "http://localhost:8123/a/"]
    for credential in credentials:
        for url in others:
            assert credential.applies_to(Request(url)) == (where(url) == credential.host), url
    for url in [*others, "http://www.instagram.com/a/", "http://i.instagram.com/a/"]:
        (request,) = downloaded(spider, [Request(url)])
        expected = {"sessionid": "s3cr3t"} if where(url) in hosts and (
            url.startswith("https://") or "127.0.0.1" in url) else {}
        assert request.cookies == expected, url
    for request in downloaded(spider, start_requests(spider)):  # the spider's own requests
        assert where(request.url) in hosts
        assert request.cookies == {"sessionid": "s3cr3t"}


def test_redirect_to_another_host_of_the_site_carries_only_that_hosts_credential():
    spider = make_spider({"MICROSCOUT_INSTAGRAM_SESSIONID": "s3cr3t"}, handles="alice",
                         profile_source="html", base_url="https://www.instagram.com")
    (request,) = downloaded(spider, start_requests(spider))
    assert request.cookies == {"sessionid": "s3cr3t"}
    moved = TextResponse(url=request.url, status=301, request=request,
                         headers={"Location": "https://about.instagram.com/alice/"})
    (follow,) = run(request, moved)
    assert follow.url == "https://about.instagram.com/alice/"
    (follow,) = downloaded(spider, [follow])
    assert follow.cookies == {}  # not a host the session is configured for
    api = moved.replace(headers={"Location": "https://i.instagram.com/alice/"})
    (follow,) = downloaded(spider, run(request, api))
    assert follow.cookies == {"sessionid": "s3cr3t"}


# --- callbacks on sandbox bodies -------------------------------------------------------------


def tag_page(spider, tag=None, **kwargs):
    request = spider.tag_request(tag or busy_tag(), **kwargs)
    return request, run(request)


def test_tag_page_holds_sightings_and_asks_for_each_owner_once():
    spider = make_spider(tags=busy_tag(), max_posts="20")
    _, out = tag_page(spider)
    assert of(HashtagSightingItem, out) == []  # every owner is unknown yet: all held
    owners = [r for r in of(Request, out) if "/p/" in r.url]
    held = sorted((s for pending in spider.pending.values() for s in pending),
                  key=lambda s: s.position)
    top_ids = [str(pid) for pid in sandbox_app()._top_ids(busy_tag())]
    recent_ids = [str(pid) for pid in reversed(world().tag_post_ids(busy_tag()))][:20]
    assert [(s.position, s.post_id) for s in held if s.listing == "top"] == list(enumerate(top_ids))
    assert [(s.position, s.post_id) for s in held if s.listing == "recent"] == list(
        enumerate(recent_ids))
    authors = {world().post_by_id(pid).account_index for pid in top_ids + recent_ids}
    assert len(owners) == len(spider.pending) == len(authors)
    assert {world().account_by_id(r.cb_kwargs["owner_id"]).index for r in owners} == authors
    assert all(r.url.startswith(f"{LOCAL}/p/") and r.url.endswith("/?__a=1&__d=dis")
               for r in owners)
    assert all(r.priority > 0 for r in owners)  # owners before more listing pages


def test_max_posts_cuts_the_recent_listing_and_stops_paging():
    spider = make_spider(tags=busy_tag(), max_posts="20")
    _, out = tag_page(spider)
    assert not any("graphql" in r.url for r in of(Request, out))  # 20 seen: no next page
    held = [s for pending in spider.pending.values() for s in pending]
    assert Counter(s.listing for s in held) == {"top": 9, "recent": 20}


def test_pages_continue_positions_and_skip_the_repeated_top_posts():
    spider = make_spider(tags=busy_tag(), max_posts="120")
    _, out = tag_page(spider)
    (page2,) = [r for r in of(Request, out) if "graphql" in r.url]
    assert page2.cb_kwargs == {"tag": busy_tag(), "page": 2, "offset": 50}
    assert json.loads(parse_qs(urlsplit(page2.url).query)["variables"][0])["first"] == 50
    before = {id(s) for pending in spider.pending.values() for s in pending}
    run(page2)
    new = [s for pending in spider.pending.values() for s in pending if id(s) not in before]
    assert {s.listing for s in new} == {"recent"}
    assert sorted(s.position for s in new) == list(range(50, 100))


@pytest.mark.parametrize(("listing", "kept"), [("top", {"top"}), ("recent", {"recent"})])
def test_listing_argument_keeps_one_listing(listing, kept):
    spider = make_spider(tags=busy_tag(), listing=listing, max_posts="60")
    _, out = tag_page(spider)
    held = [s for pending in spider.pending.values() for s in pending]
    assert {s.listing for s in held} == kept
    assert any("graphql" in r.url for r in of(Request, out)) == (listing == "recent")
    first = json.loads(parse_qs(urlsplit(spider.tag_request("x").url).query)["variables"][0])
    assert first["first"] == (1 if listing == "top" else 50)  # top posts come with any page


def test_owner_post_releases_held_sightings_and_requests_the_profile_once():
    spider = make_spider(tags=busy_tag(), max_posts="50")
    _, out = tag_page(spider)
    first = next(r for r in of(Request, out) if "/p/" in r.url)
    owner_id = first.cb_kwargs["owner_id"]
    account = world().account_by_id(owner_id)
    held = list(spider.pending[owner_id])
    released = run(first)
    sightings = of(HashtagSightingItem, released)
    assert sightings == held
    assert {s.author_handle for s in sightings} == {account.username.lower()}
    (profile_request,) = of(Request, released)
    assert profile_request.url.endswith(f"web_profile_info/?username={account.username.lower()}")
    assert profile_request.cb_kwargs["discovered_via"] == busy_tag()
    # Next time the owner's posts show up, their handle is known: no request, no holding.
    spider.consider_handle(account.username.lower(), "x")  # already asked: nothing
    _, again = tag_page(spider)
    mine = [s for s in of(HashtagSightingItem, again) if s.author_handle == account.username.lower()]
    assert len(mine) == len(held)
    assert not any(r.cb_kwargs.get("owner_id") == owner_id for r in of(Request, again))
    assert spider.crawler.stats.get_value("microscout/instagram/owners_resolved") == 1


def test_out_of_range_owner_costs_no_profile_request():
    spider = make_spider(tags=busy_tag(), max_posts="50", min_followers="1000",
                         max_followers="100000")
    _, out = tag_page(spider)
    outcomes = {}
    for request in [r for r in of(Request, out) if "/p/" in r.url]:
        account = world().account_by_id(request.cb_kwargs["owner_id"])
        asked = bool(of(Request, run(request)))
        outcomes[account.username] = (1_000 <= account.followers <= 100_000, asked)
    assert all(in_range == asked for in_range, asked in outcomes.values())
    skipped = sum(not in_range for in_range, _ in outcomes.values())
    assert skipped > 0
    assert spider.crawler.stats.get_value("microscout/instagram/skipped_out_of_range") == skipped


def test_profile_body_becomes_a_profile_with_recent_posts():
    account = world().account(3)
    spider = make_spider(handles=account.username)
    (request,) = start_requests(spider)
    (profile,) = run(request)
    assert isinstance(profile, ProfileItem)
    assert (profile.handle, profile.followers, profile.discovered_via) == (
        account.username.lower(), account.followers, "handles")
    assert [p.post_id for p in profile.recent_posts] == [p.id for p in world().posts(account)[:12]]
    assert profile.source_url == request.url


def test_more_recent_posts_than_the_profile_carries_cost_a_user_media_page():
    account = next(a for a in world().accounts if a.post_count >= 40)
    spider = make_spider(handles=account.username, recent_posts="30")
    (request,) = start_requests(spider)
    (media,) = run(request)
    assert parse_qs(urlsplit(media.url).query)["query_hash"] == [ig.USER_MEDIA_QUERY_HASH]
    (profile,) = run(media)
    assert [p.post_id for p in profile.recent_posts] == [p.id for p in world().posts(account)[:30]]


def test_profile_page_source_reads_the_html():
    account = world().account(3)
    spider = make_spider(handles=account.username, profile_source="html")
    (request,) = start_requests(spider)
    (profile,) = run(request)
    assert (profile.handle, profile.followers, len(profile.recent_posts)) == (
        account.username.lower(), account.followers, 12)


# --- walls, limits and failures -----------------------------------------------------------------


def walled(kind: str, application: InstagramApp):
    return next(a for a in world().accounts if application.wall(a.username) == kind)


@pytest.mark.parametrize("source", ["api", "html"])
def test_login_redirect_is_a_blocked_profile_not_followed(source):
    application = sandbox_app(login_wall=0.5)
    account = walled("login_required", application)
    spider = make_spider(handles=account.username, profile_source=source)
    (request,) = start_requests(spider)
    response = answer(request, application)
    assert response.status == 302
    (rejected,) = run(request, response)
    assert isinstance(rejected, RejectedItem)
    assert (rejected.reason, rejected.source_url, rejected.item_type) == (
        "login_required", request.url, "ProfileItem")
    assert "/accounts/login/" in rejected.detail
    assert spider.crawler.stats.get_value("microscout/instagram/blocked/login_required") == 1


@pytest.mark.parametrize("source", ["api", "html"])
def test_checkpoint_is_a_blocked_profile(source):
    application = sandbox_app(checkpoint=0.5)
    account = walled("checkpoint_required", application)
    spider = make_spider(handles=account.username, profile_source=source)
    (request,) = start_requests(spider)
    (rejected,) = run(request, None, application)
    assert (rejected.reason, rejected.source_url) == ("checkpoint_required", request.url)
    assert spider.crawler.stats.get_value("microscout/instagram/blocked/checkpoint_required") == 1


def test_redirect_within_the_site_is_followed_and_elsewhere_rejected():
    spider = make_spider(handles="alice", profile_source="html")
    (request,) = start_requests(spider)
    moved = TextResponse(url=request.url, status=301, request=request,
                         headers={"Location": "/alice.new/"})
    (follow,) = run(request, moved)
    assert (follow.url, follow.meta["microscout_redirects"]) == (f"{LOCAL}/alice.new/", 1)
    away = moved.replace(headers={"Location": "https://example.com/"})
    (rejected,) = run(request, away)
    assert rejected.reason == "unexpected_redirect"


def test_please_wait_body_is_retried_then_recorded():
    spider = make_spider(handles="alice")
    (request,) = start_requests(spider)
    body = json.dumps({"message": "Please wait a few minutes before you try again.",
                       "require_login": True, "status": "fail"}).encode()
    response = TextResponse(url=request.url, status=401, body=body, request=request)
    (retry,) = run(request, response)
    assert retry.meta["retry_times"] == 1
    (retry2,) = run(retry, response.replace(request=retry))
    (rejected,) = run(retry2, response.replace(request=retry2))
    assert rejected.reason == "rate_limited"
    assert spider.crawler.stats.get_value("retry/reason_count/rate_limited") == 2


@pytest.mark.parametrize("status", [200, 401])
def test_please_wait_body_pauses_the_host_before_its_retry(status):
    """A "Please wait a few minutes" body (status 200 or 401, not a 429) pauses the host in
    the RateLimitMiddleware like a 429 does, so the retry waits; counted as a pause."""
    from crawler.middlewares import RateLimitMiddleware

    spider = make_spider({"MICROSCOUT_RATELIMIT_BODY_WAIT": 90}, handles="alice,bob")
    clock = [1_000.0]
    limiter = RateLimitMiddleware(spider.crawler, clock=lambda: clock[0])
    spider.crawler.microscout_ratelimiter = limiter  # as from_crawler registers it
    alice, bob = start_requests(spider)
    body = json.dumps({"message": "Please wait a few minutes before you try again.",
                       "require_login": True, "status": "fail"}).encode()
    (retry,) = run(alice, TextResponse(url=alice.url, status=status, body=body, request=alice))
    assert retry.meta["retry_times"] == 1
    assert limiter.slots.paused_for("127.0.0.1") == 90  # the spider's one download slot
    stats = spider.crawler.stats
    assert stats.get_value("microscout/ratelimit/paused") == 1
    assert stats.get_value("microscout/ratelimit/wait_seconds") == 90
    assert stats.get_value("microscout/instagram/rate_limited_bodies") == 1
    clock[0] += 30  # another answer while paused: the pause goes on, no new pause counted
    run(bob, TextResponse(url=bob.url, status=status, body=body, request=bob))
    assert (limiter.slots.paused_for("127.0.0.1"), stats.get_value("microscout/ratelimit/paused")) == (
        90, 1)
    assert stats.get_value("microscout/ratelimit/wait_seconds") == 120


def test_please_wait_pause_is_capped_and_needs_no_ratelimiter():
    from crawler.middlewares import RateLimitMiddleware

    spider = make_spider({"MICROSCOUT_MAX_RETRY_AFTER": 45}, handles="alice")
    limiter = RateLimitMiddleware(spider.crawler, clock=lambda: 0.0)
    spider.crawler.microscout_ratelimiter = limiter
    (request,) = start_requests(spider)
    body = b'{"message": "Please wait a few minutes before you try again.", "status": "fail"}'
    run(request, TextResponse(url=request.url, status=401, body=body, request=request))
    assert limiter.slots.paused_for("127.0.0.1") == 45  # the default 60 s, capped
    assert spider.crawler.stats.get_value("microscout/ratelimit/capped") == 1
    plain = make_spider(handles="alice")  # RateLimitMiddleware off: retried all the same
    (request,) = start_requests(plain)
    (retry,) = run(request, TextResponse(url=request.url, status=401, body=body, request=request))
    assert retry.meta["retry_times"] == 1


def test_truncated_body_is_retried_as_bad_json():
    spider = make_spider(handles=world().account(3).username)
    (request,) = start_requests(spider)
    full = answer(request)
    cut = full.replace(body=full.body[: len(full.body) // 2])
    (retry,) = run(request, cut)
    assert retry.meta["retry_times"] == 1
    assert spider.crawler.stats.get_value("retry/reason_count/bad_json") == 1


def test_profile_page_cut_short_is_retried_not_read_as_a_bare_profile():
    spider = make_spider(handles=world().account(3).username, profile_source="html")
    (request,) = start_requests(spider)
    full = answer(request)
    cut = full.replace(body=full.body[: len(full.body) // 2])  # og tags intact, no </html>
    (retry,) = run(request, cut)
    assert retry.meta["retry_times"] == 1
    assert spider.crawler.stats.get_value("retry/reason_count/truncated") == 1


@pytest.mark.parametrize("source", ["api", "html"])
def test_unknown_account_is_profile_not_found(source):
    spider = make_spider(handles="nobody_by_this_name", profile_source=source)
    (request,) = start_requests(spider)
    (rejected,) = run(request)
    assert (rejected.reason, rejected.source_url, rejected.item_type) == (
        "profile_not_found", request.url, "ProfileItem")


def test_unresolvable_owner_releases_sightings_without_a_handle():
    spider = make_spider(tags=busy_tag(), max_posts="20")
    _, out = tag_page(spider)
    first = next(r for r in of(Request, out) if "/p/" in r.url)
    owner_id = first.cb_kwargs["owner_id"]
    held = list(spider.pending[owner_id])
    failure = Failure(ConnectionRefusedError("refused"))
    failure.request = first
    rejected, *released = list(spider.on_error(failure))
    assert (rejected.reason, rejected.item_type) == ("request_failed", "HashtagSightingItem")
    assert released == held
    assert {s.author_handle for s in released} == {None}
    _, again = tag_page(spider)  # the owner is not asked for again this run
    assert not any(r.cb_kwargs.get("owner_id") == owner_id for r in of(Request, again))


def test_exhausted_429_is_rate_limited():
    spider = make_spider(handles="alice")
    (request,) = start_requests(spider)
    response = TextResponse(url=request.url, status=429, request=request,
                            body=b'{"message": "Please wait a few minutes", "status": "fail"}')
    failure = Failure(HttpError(response, "Ignoring non-200 response"))
    failure.request = request
    (rejected,) = list(spider.on_error(failure))
    assert (rejected.reason, rejected.detail) == ("rate_limited", "HTTP 429")


def test_failed_user_media_page_still_yields_the_profile():
    account = next(a for a in world().accounts if a.post_count >= 40)
    spider = make_spider(handles=account.username, recent_posts="30")
    (request,) = start_requests(spider)
    (media,) = run(request)
    failure = Failure(TimeoutError("timed out"))
    failure.request = media
    rejected, profile = list(spider.on_error(failure))
    assert rejected.reason == "request_failed"
    assert (profile.handle, len(profile.recent_posts)) == (account.username.lower(), 12)


# --- callbacks on the real captures ------------------------------------------------------------


def test_real_hashtag_page_asks_for_its_38_owners():
    spider = make_spider(tags="paris", base_url="https://www.instagram.com")
    request = spider.tag_request("paris")
    body = capture("pgrimaud_graphql_hashtag_paris_2021.json")
    response = TextResponse(url=request.url, body=body.encode(), encoding="utf-8", request=request)
    out = run(request, response)
    owners = [r for r in of(Request, out) if "/p/" in r.url]
    assert len(owners) == 38
    assert "https://www.instagram.com/p/CKsCyG1Jyv8/?__a=1&__d=dis" in {r.url for r in owners}
    held = [s for pending in spider.pending.values() for s in pending]
    assert Counter(s.listing for s in held) == {"top": 9, "recent": 34}
    assert min(s.position for s in held) == 0
    (next_page,) = [r for r in of(Request, out) if "graphql" in r.url]
    assert json.loads(parse_qs(urlsplit(next_page.url).query)["variables"][0])["after"].startswith(
        "QVFEYy1p")


def test_real_web_profile_info_and_profile_page():
    spider = make_spider(handles="robertdowneyjr", base_url="https://www.instagram.com")
    (request,) = start_requests(spider)
    body = capture("pgrimaud_web_profile_info_robertdowneyjr_2022.json")
    response = TextResponse(url=request.url, body=body.encode(), encoding="utf-8", request=request)
    (profile,) = run(request, response)
    assert (profile.handle, profile.followers, len(profile.recent_posts)) == (
        "robertdowneyjr", 52979346, 12)
    spider = make_spider(handles="robertdowneyjr", profile_source="html",
                         base_url="https://www.instagram.com")
    (request,) = start_requests(spider)
    page = capture("pgrimaud_profile_page_html_sharedData_robertdowneyjr_2020.html")
    response = HtmlResponse(url=request.url, body=page.encode(), encoding="utf-8", request=request)
    (profile,) = run(request, response)
    assert (profile.handle, len(profile.recent_posts)) == ("robertdowneyjr", 12)
    assert profile.followers > 46_000_000  # the 2020 page's edge_followed_by


# --- end to end against the sandbox --------------------------------------------------------------

SETTINGS = {
    "ITEM_PIPELINES": {},  # only the spider is under test
    "LOG_LEVEL": "INFO",
    "MICROSCOUT_RATE_LIMIT_INSTAGRAM": 0,
    "MICROSCOUT_MAX_RETRY_AFTER": 0.5,  # keep the sandbox's Retry-After waits short
    "RETRY_TIMES": 8,
}
LO, HI = 1_000, 100_000


@functools.cache
def e2e_tags() -> tuple[str, str]:
    """The two busiest tags that fit in 200 posts (3 pages of 50)."""
    counts = sorted(world().tags().items(), key=lambda kv: (-kv[1], kv[0]))
    first, second = [tag for tag, count in counts if count <= 150][:2]
    return first, second


def crawl(base_url: str, settings: dict | None = None, *, pipelines: bool = False,
          **spider_kwargs):
    from tests.crawl_helpers import run_spider

    base = {k: v for k, v in SETTINGS.items() if not (pipelines and k == "ITEM_PIPELINES")}
    return run_spider("instagram", {**base, **(settings or {})}, use_project_settings=True,
                      crawl_timeout=90, base_url=base_url, **spider_kwargs)


def sightings_of(items) -> list[dict]:
    return [i for i in items if "position" in i and "listing" in i]


def profiles_of(items) -> list[dict]:
    return [i for i in items if "recent_posts" in i]


def rejected_of(items) -> list[dict]:
    return [i for i in items if "reason" in i and "payload" in i]


def expected_listings(tag: str, max_posts: int = 200) -> dict[str, list[str]]:
    recent = [str(pid) for pid in reversed(world().tag_post_ids(tag))][:max_posts]
    return {"top": [str(pid) for pid in sandbox_app()._top_ids(tag)], "recent": recent}


def owners_of(tags) -> set[int]:
    ids = {pid for tag in tags for listing in expected_listings(tag).values() for pid in listing}
    return {world().post_by_id(pid).account_index for pid in ids}


def in_range(index: int) -> bool:
    return LO <= world().account(index).followers <= HI


@contextmanager
def instagram_sandbox(faults: dict | None = None, **knobs: float):
    """SandboxProcess(platform="instagram") with these knobs (``login_wall``, ...)."""
    from crawler.sandbox.server import SandboxProcess

    sandbox = SandboxProcess(accounts=ACCOUNTS, seed=SEED, platform="instagram",
                             rate_limit=1_000_000, faults=faults, knobs=knobs)
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture(scope="module")
def sandbox():
    with instagram_sandbox() as sb:
        yield sb


@pytest.fixture(scope="module")
def sweep(sandbox):
    before = sandbox.stats()["requests"]
    items = crawl(sandbox.base_url, tags=",".join(e2e_tags()), min_followers=str(LO),
                  max_followers=str(HI))
    items.served = sandbox.stats()["requests"] - before
    return items


@pytest.mark.slow
def test_sweep_sights_top_and_recent_posts_in_listing_order(sweep):
    for tag in e2e_tags():
        for listing, expected in expected_listings(tag).items():
            seen = sorted((s for s in sightings_of(sweep)
                           if s["hashtag"] == tag and s["listing"] == listing),
                          key=lambda s: s["position"])
            assert [s["post_id"] for s in seen] == expected
            assert [s["position"] for s in seen] == list(range(len(expected)))
    for sighting in sightings_of(sweep):
        post = world().post_by_id(sighting["post_id"])
        assert sighting["author_handle"] == world().account(post.account_index).username.lower()


@pytest.mark.slow
def test_sweep_yields_one_profile_per_in_range_owner_each_resolved_once(sweep):
    owners = owners_of(e2e_tags())
    kept = {world().account(i).username.lower() for i in owners if in_range(i)}
    handles = [p["handle"] for p in profiles_of(sweep)]
    assert sorted(handles) == sorted(kept)
    assert 0 < len(kept) < len(owners)  # the range filter really filtered
    assert rejected_of(sweep) == []
    stats = sweep.stats
    assert stats["microscout/instagram/owners_requested"] == len(owners)
    assert stats["microscout/instagram/owners_resolved"] == len(owners)
    assert stats["microscout/instagram/skipped_out_of_range"] == len(owners) - len(kept)
    pages = sum(math.ceil(len(expected_listings(tag)["recent"]) / 50) for tag in e2e_tags())
    # robots.txt, the tag pages, one post per owner, one profile per in-range owner: no more.
    assert sweep.served == 1 + pages + len(owners) + len(kept)
    assert stats["downloader/request_count"] == sweep.served


@pytest.mark.slow
def test_sweep_profiles_carry_the_worlds_counts_and_posts(sweep):
    for profile in profiles_of(sweep):
        account = world().account_by_username(profile["handle"])
        assert (profile["followers"], profile["following"], profile["posts_count"]) == (
            account.followers, account.following, account.statuses_count)
        assert [p["post_id"] for p in profile["recent_posts"]] == [
            p.id for p in world().posts(account)[:12]]
        assert profile["discovered_via"] in e2e_tags()


@pytest.fixture(scope="module")
def walled_sandbox():
    with instagram_sandbox(login_wall=0.15, checkpoint=0.1, og_only=0.5) as sb:
        yield sb


@pytest.mark.slow
def test_walls_and_checkpoints_are_quarantined_never_empty_profiles(walled_sandbox):
    application = sandbox_app(login_wall=0.15, checkpoint=0.1)
    items = crawl(walled_sandbox.base_url, {"LOG_LEVEL": "DEBUG"}, tags=e2e_tags()[0])
    owners = {world().account(i).username.lower() for i in owners_of(e2e_tags()[:1])}
    walls = {name: application.wall(name) for name in owners}
    rejected = {(r["source_url"].rsplit("=", 1)[1], r["reason"]) for r in rejected_of(items)}
    assert rejected == {(name, wall) for name, wall in walls.items() if wall}
    assert {reason for _, reason in rejected} == {"login_required", "checkpoint_required"}
    assert {p["handle"] for p in profiles_of(items)} == {n for n, w in walls.items() if not w}
    assert all(p["followers"] is not None and p["recent_posts"] for p in profiles_of(items))
    counted = Counter(reason for _, reason in rejected)
    for reason, count in counted.items():
        assert items.stats[f"microscout/instagram/blocked/{reason}"] == count
    assert items.stats["downloader/response_status_count/302"] == counted["login_required"]
    assert f"<GET {walled_sandbox.base_url}/api/v1/users/web_profile_info/" in items.log
    assert f"<GET {walled_sandbox.base_url}/accounts/login" not in items.log  # not followed


@pytest.mark.slow
def test_profile_pages_with_and_without_shared_data(walled_sandbox):
    application = sandbox_app(login_wall=0.15, checkpoint=0.1)
    accounts = list(world().accounts)
    pick = {
        "login": next(a for a in accounts if application.wall(a.username) == "login_required"),
        "checkpoint": next(a for a in accounts
                           if application.wall(a.username) == "checkpoint_required"),
        "shared": next(a for a in accounts if not application.wall(a.username)
                       and not og_only_of(SEED, a.username, 0.5)),
        "og": next(a for a in accounts if not application.wall(a.username)
                   and og_only_of(SEED, a.username, 0.5) and 10_000 <= a.followers < 1_000_000),
    }
    items = crawl(walled_sandbox.base_url, profile_source="html",
                  handles=",".join(a.username for a in pick.values()))
    profiles = {p["handle"]: p for p in profiles_of(items)}
    shared, og = profiles[pick["shared"].username.lower()], profiles[pick["og"].username.lower()]
    assert (shared["followers"], len(shared["recent_posts"])) == (pick["shared"].followers, 12)
    assert og["followers"].endswith("k")  # the page's own text; the normaliser reads it
    assert og["recent_posts"] == []
    assert sorted(r["reason"] for r in rejected_of(items)) == ["checkpoint_required",
                                                               "login_required"]


@pytest.mark.slow
def test_429s_with_retry_after_give_the_same_profiles(sweep):
    with instagram_sandbox(faults={"429": 0.05, "truncate": 0.02}) as faulty:
        items = crawl(faulty.base_url, tags=",".join(e2e_tags()), min_followers=str(LO),
                      max_followers=str(HI))
        served = faulty.stats()
    assert served["faults"]["429"] > 0
    assert sorted(p["handle"] for p in profiles_of(items)) == sorted(
        p["handle"] for p in profiles_of(sweep))
    key = lambda s: (s["hashtag"], s["listing"], s["position"], s["post_id"], s["author_handle"])  # noqa: E731
    assert sorted(map(key, sightings_of(items))) == sorted(map(key, sightings_of(sweep)))
    assert rejected_of(items) == []
    assert items.stats["downloader/response_status_count/429"] == served["faults"]["429"]
    assert items.stats["microscout/ratelimit/paused"] >= 1  # Retry-After paused the host


class _RecordingProxy(BaseHTTPRequestHandler):
    """A forward proxy for plain HTTP that notes every request's headers."""

    seen: list = []

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        parts = urlsplit(self.path)
        type(self).seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        upstream = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        try:
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            headers = {k: v for k, v in self.headers.items() if k.lower() != "proxy-connection"}
            upstream.request("GET", target, headers=headers)
            answer_ = upstream.getresponse()
            body = answer_.read()
            self.send_response(answer_.status)
            for name, value in answer_.getheaders():
                if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        finally:
            upstream.close()


@contextmanager
def recording_proxy():
    """A running _RecordingProxy: yields its URL; the requests it saw are in .seen."""
    _RecordingProxy.seen = []
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), _RecordingProxy)
    thread = threading.Thread(target=proxy.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{proxy.server_address[1]}"
    finally:
        proxy.shutdown()
        proxy.server_close()
        thread.join(5)


@pytest.mark.slow
def test_session_cookie_goes_through_the_proxy_and_never_into_the_log(sandbox):
    secret = "IGSESSION-0123456789abcdef"
    # robots.txt goes through the proxy too (see the next test), without the API's headers.
    with recording_proxy() as proxy_url:
        items = crawl(sandbox.base_url, {
            "MICROSCOUT_INSTAGRAM_SESSIONID": secret,
            "MICROSCOUT_PROXY": proxy_url,
            "MICROSCOUT_ROBOTSTXT_OBEY": False,
            "LOG_LEVEL": "DEBUG",
        }, tags=e2e_tags()[0], listing="recent", max_posts="3",
            handles=world().account(3).username)
    seen = _RecordingProxy.seen
    kinds = {urlsplit(url).path.split("/")[1] for url, _ in seen}
    assert {"api", "graphql", "p"} <= kinds
    for url, headers in seen:
        assert f"sessionid={secret}" in headers.get("cookie", ""), url
        assert headers.get("x-ig-app-id") == ig.APP_ID, url
    assert profiles_of(items)
    assert secret not in items.log
    assert secret not in json.dumps(list(items))
    assert "DEBUG" in items.log  # the crawl really logged at DEBUG


@pytest.mark.slow
def test_robots_txt_goes_through_the_proxy_with_the_session_of_its_host(sandbox):
    secret = "IGSESSION-0123456789abcdef"
    with recording_proxy() as proxy_url:
        items = crawl(sandbox.base_url, {"MICROSCOUT_INSTAGRAM_SESSIONID": secret,
                                         "MICROSCOUT_PROXY": proxy_url},
                      handles=world().account(3).username)
    seen = dict(_RecordingProxy.seen)
    assert set(seen) == {f"{sandbox.base_url}/robots.txt",
                         f"{sandbox.base_url}/api/v1/users/web_profile_info/"
                         f"?username={world().account(3).username.lower()}"}
    for url, headers in seen.items():
        assert f"sessionid={secret}" in headers.get("cookie", ""), url
    assert "x-ig-app-id" not in seen[f"{sandbox.base_url}/robots.txt"]
    assert profiles_of(items)
    assert secret not in items.log


# --- a cassette recorded from the sandbox, replayed offline -------------------------------------

CASSETTE_PORT, CASSETTE_ACCOUNTS, CASSETTE_SEED = 8811, 120, 5
CASSETTE_SWEEP = {"base_url": f"http://127.0.0.1:{CASSETTE_PORT}", "max_pages": "1",
                  "max_posts": "10", "min_followers": str(LO), "max_followers": str(HI)}


def cassette_tag() -> str:
    tags = World(CASSETTE_ACCOUNTS, CASSETTE_SEED).tags()
    return max(tags, key=lambda tag: (tags[tag], tag))


@pytest.mark.slow
def test_cassette_replays_offline_into_the_warehouse(sqlite_url):
    from tests.crawl_helpers import run_spider
    from tests.test_e2e_warehouse import _scalar

    if not CASSETTE.exists():
        pytest.skip(f"{CASSETTE} not recorded (python -m tests.test_spider_instagram)")
    items = run_spider("instagram", {**cassette_settings(CASSETTE), "LOG_LEVEL": "INFO",
                                     "MICROSCOUT_RATE_LIMIT_INSTAGRAM": 0,
                                     "MICROSCOUT_DATABASE_URL": sqlite_url},
                       use_project_settings=True, tags=cassette_tag(), **CASSETTE_SWEEP)
    assert items.stats.get("microscout/cassette/missed", 0) == 0
    assert items.stats["microscout/cassette/played"] > 5
    cassette_world = World(CASSETTE_ACCOUNTS, CASSETTE_SEED)
    sightings = sightings_of(items)
    assert Counter(s["listing"] for s in sightings) == {"top": 9, "recent": 10}
    for sighting in sightings:
        post = cassette_world.post_by_id(sighting["post_id"])
        assert sighting["author_handle"] == cassette_world.account(post.account_index).username.lower()
    # ... and through every pipeline into the warehouse: tiers, niches, sightings, the run.
    stats = items.stats
    profiles = _scalar(sqlite_url, "SELECT count(*) FROM profiles WHERE platform = 'instagram'")
    assert profiles[0][0] == stats["microscout/warehouse/profiles_upserted"] == len(
        profiles_of(items)) > 0
    assert _scalar(sqlite_url, "SELECT count(*) FROM influencer_current WHERE tier IS NULL") == [(0,)]
    assert _scalar(sqlite_url, "SELECT count(*) FROM micro_influencers")[0][0] > 0
    assert _scalar(sqlite_url, "SELECT count(*) FROM influencer_current "
                               "WHERE primary_niche IS NOT NULL")[0][0] > 0
    assert _scalar(sqlite_url, "SELECT count(*) FROM posts")[0][0] >= 12
    assert _scalar(sqlite_url, "SELECT status FROM crawl_runs") == [("ok",)]
    listings = _scalar(sqlite_url, "SELECT listing, min(position), count(*) FROM hashtag_sightings "
                                   "WHERE author_handle IS NOT NULL GROUP BY listing ORDER BY 1")
    assert listings == [("recent", 0, 10), ("top", 0, 9)]


def record() -> None:
    """Re-record the sandbox cassette (run: python -m tests.test_spider_instagram)."""
    from crawler.sandbox.server import SandboxProcess
    from tests.crawl_helpers import run_spider

    CASSETTE.unlink(missing_ok=True)
    with SandboxProcess(accounts=CASSETTE_ACCOUNTS, seed=CASSETTE_SEED, port=CASSETTE_PORT,
                        platform="instagram", rate_limit=1_000_000):
        items = run_spider(
            "instagram",
            {**cassette_settings(CASSETTE, record_mode="once"), "ITEM_PIPELINES": {},
             "MICROSCOUT_RATE_LIMIT_INSTAGRAM": 0},
            use_project_settings=True, tags=cassette_tag(), **CASSETTE_SWEEP,
        )
    print(f"recorded {items.stats.get('microscout/cassette/recorded')} interactions to {CASSETTE}")


if __name__ == "__main__":
    record()
