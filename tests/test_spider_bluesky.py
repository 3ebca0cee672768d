"""The bluesky spider: arguments, callbacks, sessions, and end-to-end crawls.

* Arguments and the request plan are checked on the spider object alone.
* Callbacks are fed the real captures (../shared/realworld/bluesky) and bodies of the sandbox
  app called in-process.
* End-to-end (slow): crawls of the sandbox (``SandboxProcess(platform="bluesky")``) through the
  real engine in a subprocess (``tests.crawl_helpers.run_spider``): without pipelines, compared
  with what the world says is there; then through every pipeline into SQLite, including a
  second sweep after handles changed; and a cassette recorded from the sandbox, replayed
  offline. Re-record the cassette with ``python -m tests.test_spider_bluesky``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import json
import logging
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from scrapy import Request
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from crawler.credentials import CredentialsMiddleware
from crawler.items import HashtagSightingItem, ProfileItem, RejectedItem
from crawler.parsers import bluesky as bsky
from crawler.run import CrawlRun
from crawler.sandbox.bluesky import APP_PASSWORD, BlueskyApp
from crawler.sandbox.common import Request as SandboxRequest
from crawler.sandbox.vocab import HASHTAG_NICHE
from crawler.sandbox.world import World
from crawler.spiders.bluesky import (
    AUTHED_APPVIEW,
    BlueskySpider,
    normalize_actor,
    parse_feed_arg,
)
from tests import spider_helpers

REALWORLD = Path(__file__).resolve().parents[2] / "shared" / "realworld" / "bluesky"
PROFILE_FILE = "atprotodart_app.bsky.actor.getProfile_shinyakato_2023.json"
AUTHOR_FEED_FILE = "atprotodart_app.bsky.feed.getAuthorFeed_2023.json"
SEARCH_FILE = "atprotodart_app.bsky.feed.searchPosts_partly_edited_2023.json"
SHINYA_DID = "did:plc:iijrtk7ocored6zuziwmqq3c"
LOCAL = "http://127.0.0.1:8123"
PLC = "did:plc:" + "a" * 24
CASSETTES = Path(__file__).resolve().parents[1] / "cassettes"
SANDBOX_CASSETTE = CASSETTES / "sandbox_bluesky_sweep.yaml"


def make_spider(settings: dict | None = None, **kwargs) -> BlueskySpider:
    crawler = get_crawler(BlueskySpider, settings_dict={"RETRY_TIMES": 2, **(settings or {})})
    spider = BlueskySpider.from_crawler(crawler, **kwargs)
    crawler.spider = spider
    crawler.stats.open_spider()
    return spider


CREDENTIALS = {"MICROSCOUT_BLUESKY_IDENTIFIER": "me.bsky.social",
               "MICROSCOUT_BLUESKY_APP_PASSWORD": APP_PASSWORD}


def start_requests(spider: BlueskySpider) -> list[Request]:
    async def collect():
        return [request async for request in spider.start()]

    return asyncio.run(collect())


def raw(name: str) -> bytes:
    path = REALWORLD / name
    if not path.is_file():
        pytest.skip(f"real-world capture {path} not present")
    return path.read_bytes()


def response_for(request: Request, body: bytes | str | dict, status: int = 200,
                 headers: dict | None = None) -> Response:
    if isinstance(body, dict):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    return TextResponse(url=request.url, status=status, body=body, request=request,
                        headers={"Content-Type": "application/json", **(headers or {})})


def run_callback(request: Request, response: Response) -> list:
    return spider_helpers.run_callback(request, response)


def sent(spider: BlueskySpider, requests: list) -> list:
    """The requests as sent: through CredentialsMiddleware (proxy, the spider's credentials)."""
    middleware = CredentialsMiddleware.from_crawler(spider.crawler)
    for request in requests:
        if isinstance(request, Request):
            middleware.process_request(request)
    return requests


def http_failure(request: Request, body: bytes | str | dict, status: int) -> Failure:
    response = response_for(request, body, status)
    failure = Failure(HttpError(response, "Ignoring non-200 response"))
    failure.request = request
    return failure


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


# --- arguments --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "nothing to crawl"),
        ({"tags": " , "}, "nothing to crawl"),
        ({"tags": "vegan food"}, "is not a hashtag"),
        ({"tags": "ok", "listing": "hot"}, "listing must be one of latest, top, recent"),
        ({"tags": "ok", "recent_posts": "101"}, "recent_posts must be at most 100"),
        ({"tags": "ok", "max_pages": "0"}, "max_pages must be at least 1"),
        ({"tags": "ok", "min_followers": "5", "max_followers": "1"}, "is above max_followers"),
        ({"tags": "ok", "instance": "x"}, "unknown argument(s) instance"),
        ({"handles": "not a handle"}, "is not a Bluesky handle"),
        ({"handles": "alice@mastodon.social"}, "is not a Bluesky handle"),
        ({"handles": "did:plc:short"}, "is not a DID"),
        ({"handles": "https://bsky.app/search?q=x"}, "is not a profile URL"),
        ({"handles_file": "/nonexistent/handles.txt"}, "does not exist"),
        ({"feeds": "whats-hot"}, "is not a feed"),
        ({"feeds": "https://bsky.app/profile/x.com/lists/y"}, "is not a feed"),
        ({"tags": "ok", "appview": "ftp://api.bsky.app"}, "appview must be a URL"),
        ({"tags": "ok", "appview": "https://api.bsky.app/xrpc"}, "without a path"),
        ({"tags": "ok", "auth_host": "https://bsky.social/login"}, "without a path"),
    ],
)
def test_bad_argument_is_a_one_line_error(kwargs, message):
    with pytest.raises(ValueError, match=r"^[^\n]+$") as excinfo:
        BlueskySpider(**kwargs)
    assert message in str(excinfo.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Alice.BSKY.social", "alice.bsky.social"),
        ("@shinyakato.dev", "shinyakato.dev"),
        ("bob", "bob.bsky.social"),
        (PLC, PLC),
        ("did:web:example.com", "did:web:example.com"),
        ("https://bsky.app/profile/Jay.bsky.team", "jay.bsky.team"),
        (f"https://bsky.app/profile/{PLC}/", PLC),
    ],
)
def test_normalize_actor(value, expected):
    assert normalize_actor(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (f"at://{PLC}/app.bsky.feed.generator/whats-hot", (PLC, "whats-hot")),
        ("https://bsky.app/profile/Skyfeed.xyz/feed/TikTok", ("skyfeed.xyz", "TikTok")),
        (f"https://bsky.app/profile/{PLC}/feed/vegan", (PLC, "vegan")),
    ],
)
def test_parse_feed_arg(value, expected):
    assert parse_feed_arg(value) == expected


def test_handles_feeds_and_defaults(tmp_path):
    path = tmp_path / "creators.txt"
    path.write_text("# watch list\nCarol.example.com\n\n@dave  # bare name\n", encoding="utf-8")
    spider = BlueskySpider(handles=f"alice.bsky.social,{PLC},alice.bsky.social",
                           handles_file=str(path), feeds=f"at://{PLC}/app.bsky.feed.generator/x")
    assert spider.args.tags == []
    assert spider.args.handles == ["alice.bsky.social", PLC, "carol.example.com", "dave.bsky.social"]
    assert spider.handles_label == "creators"
    assert (spider.appview, spider.allowed_domains) == (bsky.PUBLIC_APPVIEW, ["public.api.bsky.app"])
    assert (spider.args.listing, spider.sighting_listing, spider.page_size) == ("latest", "recent", 100)
    assert spider.feed_limit == 30  # 20 recent posts and head-room for reposts


@pytest.mark.parametrize(("listing", "sort", "sighting"),
                         [("recent", "latest", "recent"), ("top", "top", "top")])
def test_listing_picks_the_search_sort(listing, sort, sighting):
    spider = BlueskySpider(tags="vegan", listing=listing)
    assert (spider.sort, spider.sighting_listing) == (sort, sighting)


def test_run_args_are_json_and_hold_no_credentials():
    spider = make_spider(CREDENTIALS, tags="vegan", appview=LOCAL, auth_host=LOCAL, job="nightly")
    args = json.loads(json.dumps(spider.run_args))
    assert args.items() >= {
        "platform": "bluesky", "tags": ["vegan"], "handles": [], "handles_file": None,
        "min_followers": None, "max_followers": None, "max_pages": 5, "max_posts": 200,
        "recent_posts": 20, "listing": "latest", "appview": LOCAL, "feeds": [],
        "auth_host": LOCAL, "logged_in": True,
    }.items()
    assert APP_PASSWORD not in json.dumps(args)


def test_start_plan_logged_out():
    handles = [f"u{i}.bsky.social" for i in range(27)]
    spider = make_spider(tags="vegan,plantbased", appview=LOCAL, handles=",".join(handles),
                         feeds=f"at://{PLC}/app.bsky.feed.generator/Vegan,"
                               "https://bsky.app/profile/feeds.example.com/feed/cats",
                         max_posts="50")
    urls = [r.url for r in start_requests(spider)]
    assert urls[:4] == [
        f"{LOCAL}/xrpc/app.bsky.feed.searchPosts?q=%23vegan&sort=latest&limit=50",
        f"{LOCAL}/xrpc/app.bsky.feed.searchPosts?q=%23plantbased&sort=latest&limit=50",
        bsky.get_feed_url(f"at://{PLC}/app.bsky.feed.generator/Vegan", limit=50, base=LOCAL),
        f"{LOCAL}/xrpc/com.atproto.identity.resolveHandle?handle=feeds.example.com",
    ]
    assert [len(query(u)["actors"]) for u in urls[4:]] == [25, 2]
    assert all("Authorization" not in r.headers for r in start_requests(spider))


def test_credentials_log_in_first_and_default_to_the_logged_in_appview():
    spider = make_spider(CREDENTIALS, tags="vegan")
    assert spider.appview == AUTHED_APPVIEW
    assert spider.allowed_domains == ["api.bsky.app", "bsky.social"]
    (login,) = start_requests(spider)
    assert (login.method, login.url) == ("POST", "https://bsky.social/xrpc/com.atproto.server.createSession")
    assert json.loads(login.body) == {"identifier": "me.bsky.social", "password": APP_PASSWORD}
    assert b"Authorization" not in login.headers


def test_half_set_credentials_crawl_logged_out(caplog):
    with caplog.at_level(logging.WARNING):
        spider = make_spider({"MICROSCOUT_BLUESKY_IDENTIFIER": "me.bsky.social"}, tags="vegan")
    assert not spider.has_credentials
    assert spider.appview == bsky.PUBLIC_APPVIEW
    assert "MICROSCOUT_BLUESKY_APP_PASSWORD is not set" in caplog.text


# --- sessions ---------------------------------------------------------------------------------


def logged_in(**kwargs) -> tuple[BlueskySpider, list]:
    spider = make_spider(CREDENTIALS, **{"tags": "vegan", "appview": LOCAL, "auth_host": LOCAL, **kwargs})
    (login,) = start_requests(spider)
    body = {"did": PLC, "handle": "me.bsky.social", "accessJwt": "a.b.c", "refreshJwt": "r.e.f"}
    return spider, sent(spider, run_callback(login, response_for(login, body)))


def test_session_token_goes_to_the_appview_as_a_bearer_header_only():
    spider, out = logged_in(handles="alice.bsky.social")
    assert [r.url.split("?")[0].rsplit("/", 1)[1] for r in out] == [
        "app.bsky.feed.searchPosts", "app.bsky.actor.getProfile"]
    assert all(r.headers[b"Authorization"] == b"Bearer a.b.c" for r in out)
    assert all("a.b.c" not in r.url for r in out)
    assert spider.session_did == PLC
    # later requests (next pages, profiles, author feeds) carry it too
    (profile,) = sent(spider, [spider.author_feed_request(ProfileItem(platform_user_id=PLC))])
    assert profile.headers[b"Authorization"] == b"Bearer a.b.c"


def test_proxy_setting_reaches_every_request():
    proxy = "http://user:secret@proxy.example:8080"
    spider = make_spider({**CREDENTIALS, "MICROSCOUT_PROXY": proxy}, tags="vegan", handles="bob")
    (login,) = sent(spider, start_requests(spider))
    assert login.meta["proxy"] == proxy
    out = sent(spider, run_callback(login, response_for(login, {"accessJwt": "a.b.c"})))
    assert len(out) == 2
    assert all(r.meta["proxy"] == proxy for r in out)


def test_session_token_is_sent_to_the_appview_host_only():
    spider = make_spider(CREDENTIALS, tags="vegan")
    (login,) = sent(spider, start_requests(spider))
    run_callback(login, response_for(login, {"accessJwt": "a.b.c"}))
    (credential,) = spider.credentials()
    assert credential.host == "api.bsky.app"
    assert "a.b.c" not in repr(credential)
    elsewhere = [
        spider.session_request(),  # the login host
        Request("https://public.api.bsky.app/xrpc/app.bsky.feed.searchPosts?q=%23vegan"),
        Request("https://api.bsky.app.evil.example/xrpc/app.bsky.actor.getProfile?actor=x"),
        Request("http://api.bsky.app/xrpc/app.bsky.actor.getProfile?actor=x"),  # not https
        Request("https://bsky.app/profile/alice.bsky.social"),
    ]
    for request in sent(spider, elsewhere):
        assert b"Authorization" not in request.headers, request.url
    (search,) = sent(spider, list(spider.listing_requests()))
    assert search.url.startswith("https://api.bsky.app/")
    assert search.headers[b"Authorization"] == b"Bearer a.b.c"


def test_refused_login_is_auth_failed_and_the_crawl_goes_on_logged_out():
    spider = make_spider(CREDENTIALS, tags="vegan", appview=LOCAL, auth_host=LOCAL)
    (login,) = start_requests(spider)
    failure = http_failure(login, {"error": "AuthenticationRequired",
                                   "message": "Invalid identifier or password"}, 401)
    rejected, search = list(spider.on_error(failure))
    assert (rejected.reason, rejected.item_type, rejected.payload) == ("auth_failed", "Session", None)
    assert "Invalid identifier or password" in rejected.detail
    assert search.url.startswith(f"{LOCAL}/xrpc/app.bsky.feed.searchPosts")
    assert b"Authorization" not in search.headers


def test_truncated_login_body_is_retried_then_rejected_without_its_payload():
    spider = make_spider(CREDENTIALS, tags="vegan", appview=LOCAL, auth_host=LOCAL)
    (login,) = start_requests(spider)
    cut = '{"did":"did:plc:x","accessJwt":"eyJhbGciOi'
    (retry,) = run_callback(login, response_for(login, cut))
    retry2 = run_callback(retry, response_for(retry, cut))[0]
    rejected, search = run_callback(retry2, response_for(retry2, cut))
    assert (rejected.reason, rejected.payload) == ("bad_json", None)
    assert "searchPosts" in search.url


@pytest.mark.parametrize(("kwargs", "auth_host"), [
    ({}, "https://bsky.social"),
    ({"appview": "https://api.bsky.app"}, "https://bsky.social"),
    ({"appview": "https://public.api.bsky.app"}, "https://bsky.social"),
    ({"appview": LOCAL}, LOCAL),  # a sandbox: the password stays there
    ({"appview": "https://appview.example"}, "https://appview.example"),
    ({"appview": LOCAL, "auth_host": "https://pds.example"}, "https://pds.example"),
])
def test_the_login_host_follows_an_appview_that_is_not_bluesky_unless_given(kwargs, auth_host):
    spider = make_spider(CREDENTIALS, tags="vegan", **kwargs)
    assert spider.auth_host == auth_host
    (login,) = start_requests(spider)
    assert login.url == f"{auth_host}/xrpc/com.atproto.server.createSession"
    args = json.loads(json.dumps(spider.run_args))
    assert args["auth_host"] == auth_host
    hosts = [urlsplit(auth_host).netloc, urlsplit(spider.appview).netloc]
    assert args["credential_hosts"] == list(dict.fromkeys(hosts))
    assert APP_PASSWORD not in json.dumps(args)


def test_logged_out_run_args_name_no_credential_host():
    assert "credential_hosts" not in make_spider(tags="vegan", appview=LOCAL).run_args


# --- session expiry ---------------------------------------------------------------------------

NOW = 1_800_000_000


def jwt(iat: int, exp: int, kind: str = "access") -> str:
    """A JWT look-alike with these times (the spider reads them without verifying)."""
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256'})}.{part({'sub': PLC, 'iat': iat, 'exp': exp, 'k': kind})}.c2ln"


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def session_body(access: str, refresh: str) -> dict:
    return {"did": PLC, "handle": "me.bsky.social", "accessJwt": access, "refreshJwt": refresh}


def with_session(settings: dict | None = None, life: int = 7_200, **kwargs):
    """(spider logged in at NOW with a token of ``life`` seconds, its clock, what it hands
    the engine)."""
    spider = make_spider({**CREDENTIALS, **(settings or {})},
                         **{"tags": "vegan", "appview": LOCAL, **kwargs})
    clock = Clock()
    spider.clock = clock
    crawled: list = []
    spider.crawler.engine = type("Engine", (), {"crawl": lambda self, r: crawled.append(r)})()
    (login,) = start_requests(spider)
    body = session_body(jwt(NOW, NOW + life), jwt(NOW, NOW + 90 * 86_400, "refresh"))
    run_callback(login, response_for(login, body))
    return spider, clock, crawled


def expired(request: Request) -> Failure:
    return http_failure(request, {"error": "ExpiredToken", "message": "Token has expired"}, 400)


def test_session_is_refreshed_before_the_access_token_expires():
    spider, clock, crawled = with_session()
    access, refresh = spider._access_jwt, spider._refresh_jwt
    clock.now = NOW + 7_200 - 301
    sent(spider, [spider.author_feed_request(ProfileItem(platform_user_id=PLC))])
    assert crawled == []  # more than 5 minutes left
    clock.now = NOW + 7_200 - 299
    (search,) = sent(spider, list(spider.listing_requests()))  # going out: time to refresh
    assert search.headers[b"Authorization"] == f"Bearer {access}".encode()  # still valid
    (call,) = sent(spider, crawled)
    assert (call.method, call.url) == ("POST", f"{LOCAL}/xrpc/com.atproto.server.refreshSession")
    assert call.headers[b"Authorization"] == f"Bearer {refresh}".encode()  # the refresh token
    sent(spider, list(spider.listing_requests()))
    assert len(crawled) == 1  # one refresh at a time
    new_access, new_refresh = jwt(clock.now, clock.now + 7_200), jwt(NOW, NOW + 1, "refresh")
    assert run_callback(call, response_for(call, session_body(new_access, new_refresh))) == []
    (search,) = sent(spider, list(spider.listing_requests()))
    assert search.headers[b"Authorization"] == f"Bearer {new_access}".encode()
    assert spider.crawler.stats.get_value("microscout/bluesky/session_refreshed") == 1
    assert spider.crawler.stats.get_value("microscout/bluesky/session_created") == 1
    assert len(crawled) == 1  # the new token has its full life ahead
    assert spider.renewing is None


def test_refresh_token_goes_to_the_refresh_endpoint_of_the_login_host_only():
    spider, clock, crawled = with_session(appview="https://api.bsky.app",
                                          auth_host="https://bsky.social")
    refresh = f"Bearer {spider._refresh_jwt}".encode()
    access = f"Bearer {spider._access_jwt}".encode()
    clock.now = NOW + 7_000
    sent(spider, [next(spider.listing_requests())])
    (call,) = sent(spider, crawled)
    assert call.url == "https://bsky.social/xrpc/com.atproto.server.refreshSession"
    assert call.headers[b"Authorization"] == refresh
    elsewhere = sent(spider, [
        Request("https://api.bsky.app/xrpc/com.atproto.server.refreshSession", method="POST"),
        Request("https://bsky.social/xrpc/com.atproto.server.getSession"),
        Request("https://bsky.social/xrpc/com.atproto.server.refreshSession/x", method="POST"),
        Request("http://bsky.social/xrpc/com.atproto.server.refreshSession", method="POST")])
    assert [r.headers.get(b"Authorization") for r in elsewhere] == [access, None, None, None]


def test_a_short_lived_token_is_refreshed_at_half_its_life_and_margin_0_never():
    spider, clock, crawled = with_session(life=60)
    clock.now = NOW + 29
    sent(spider, list(spider.listing_requests()))
    assert crawled == []
    clock.now = NOW + 31
    sent(spider, list(spider.listing_requests()))
    assert [r.url.rsplit("/", 1)[1] for r in crawled] == ["com.atproto.server.refreshSession"]
    never, clock, crawled = with_session({"MICROSCOUT_BLUESKY_REFRESH_MARGIN": 0}, life=60)
    clock.now = NOW + 59
    sent(never, list(never.listing_requests()))
    assert crawled == []


def test_an_expired_token_logs_in_again_once_and_retries_the_requests():
    spider, clock, _ = with_session()
    search, profiles = sent(spider, [*spider.listing_requests(),
                                     spider.profiles_request(["a.bsky.social"], {})])
    clock.now = NOW + 7_300  # expired (no request went out since: no refresh was asked)
    (login,) = spider.on_error(expired(search))
    assert (login.method, login.url) == ("POST", f"{LOCAL}/xrpc/com.atproto.server.createSession")
    assert json.loads(login.body)["password"] == APP_PASSWORD
    assert list(spider.on_error(expired(profiles))) == []  # waits for the same login
    new_access = jwt(clock.now, clock.now + 7_200)
    retries = sent(spider, run_callback(login, response_for(login, session_body(
        new_access, jwt(clock.now, clock.now + 99, "refresh")))))
    assert [r.url for r in retries] == [search.url, profiles.url]  # not the listing plan again
    assert all(r.headers[b"Authorization"] == f"Bearer {new_access}".encode() for r in retries)
    stats = spider.crawler.stats
    assert (stats.get_value("microscout/bluesky/session_relogins"),
            stats.get_value("microscout/bluesky/session_retried"),
            stats.get_value("microscout/bluesky/session_created")) == (1, 2, 1)
    # refused again by the session renewed for it: recorded, never another login
    (rejected,) = spider.on_error(expired(retries[0]))
    assert (rejected.reason, rejected.item_type) == ("auth_required", "HashtagSightingItem")
    assert "ExpiredToken" in rejected.detail
    assert stats.get_value("microscout/bluesky/session_relogins") == 1


def test_a_request_that_left_before_the_renewal_is_retried_at_once():
    spider, clock, crawled = with_session()
    (search,) = sent(spider, list(spider.listing_requests()))
    clock.now = NOW + 7_100
    sent(spider, list(spider.listing_requests()))
    (refresh,) = crawled
    fresh = jwt(clock.now, clock.now + 7_200)
    run_callback(refresh, response_for(refresh, session_body(fresh, jwt(NOW, NOW + 9, "r"))))
    (retry,) = sent(spider, list(spider.on_error(expired(search))))
    assert retry.url == search.url
    assert retry.headers[b"Authorization"] == f"Bearer {fresh}".encode()
    assert spider.crawler.stats.get_value("microscout/bluesky/session_relogins") is None


def test_requests_refused_during_a_refresh_wait_for_it():
    spider, clock, crawled = with_session()
    clock.now = NOW + 7_100
    (search,) = sent(spider, list(spider.listing_requests()))  # its going out asks a refresh
    (refresh,) = crawled
    assert list(spider.on_error(expired(search))) == []
    fresh = jwt(clock.now, clock.now + 7_200)
    (retry,) = sent(spider, run_callback(refresh, response_for(
        refresh, session_body(fresh, jwt(NOW, NOW + 9, "r")))))
    assert (retry.url, retry.headers[b"Authorization"]) == (search.url, f"Bearer {fresh}".encode())


def test_no_second_login_before_the_first_ones_session_answered():
    spider, _, _ = with_session()
    (search,) = sent(spider, list(spider.listing_requests()))
    (login,) = spider.on_error(expired(search))
    token = jwt(NOW, NOW + 7_200)
    (retry,) = sent(spider, run_callback(login, response_for(login, session_body(token, token))))
    (other,) = sent(spider, [spider.profiles_request(["b.bsky.social"], {})])
    (rejected,) = spider.on_error(expired(other))  # the new session never answered: no loop
    assert rejected.reason == "auth_required"
    # once the new session has answered something, a later expiry may log in again
    run_callback(retry, response_for(retry, {"posts": []}))
    (again,) = sent(spider, [spider.profiles_request(["c.bsky.social"], {})])
    (login,) = spider.on_error(expired(again))
    assert login.url.endswith("createSession")


def test_a_failed_login_again_carries_on_logged_out():
    spider, _, _ = with_session()
    (search,) = sent(spider, list(spider.listing_requests()))
    (login,) = spider.on_error(expired(search))
    refused = http_failure(login, {"error": "AuthenticationRequired",
                                   "message": "Invalid identifier or password"}, 401)
    rejected, retry = spider.on_error(refused)
    assert (rejected.reason, rejected.item_type, rejected.payload) == ("auth_failed", "Session", None)
    (retry,) = sent(spider, [retry])
    assert retry.url == search.url
    assert b"Authorization" not in retry.headers  # logged out now
    assert spider.credentials() == []
    later = sent(spider, [spider.profiles_request(["b.bsky.social"], {})])
    assert b"Authorization" not in later[0].headers


def test_a_failed_refresh_logs_in_again():
    spider, clock, crawled = with_session()
    clock.now = NOW + 7_100
    sent(spider, list(spider.listing_requests()))
    (refresh,) = crawled
    failure = http_failure(refresh, {"error": "ExpiredToken", "message": "Token has expired"}, 400)
    rejected, login = spider.on_error(failure)
    assert (rejected.reason, rejected.item_type, rejected.payload) == ("auth_failed", "Session", None)
    assert login.url.endswith("createSession")
    assert spider.renewing == "login"


def test_a_401_without_a_session_is_not_a_reason_to_log_in():
    spider = make_spider(tags="vegan", appview=LOCAL)
    (search,) = start_requests(spider)
    failure = http_failure(search, {"error": "AuthMissing", "message": "Authentication Required"}, 401)
    (rejected,) = spider.on_error(failure)
    assert rejected.reason == "auth_required"


# --- listings ---------------------------------------------------------------------------------


def test_search_capture_yields_a_sighting_and_queues_its_author():
    spider = make_spider(tags="fone", appview=LOCAL)
    (request,) = start_requests(spider)
    out = run_callback(request, response_for(request, raw(SEARCH_FILE)))
    (sighting,) = out  # the capture's placeholder cursor "xxxxxxx" ends the listing
    assert isinstance(sighting, HashtagSightingItem)
    assert (sighting.hashtag, sighting.position, sighting.listing, sighting.author_handle) == (
        "fone", 0, "recent", "luy.gay")
    assert spider.pending == {"did:plc:d3zpokjdspr22chfrc427eis": "fone"}


@functools.cache
def sandbox_app() -> BlueskyApp:
    return BlueskyApp(World(150, 3))


def sandbox_body(url: str) -> bytes:
    parts = urlsplit(url)
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    request = SandboxRequest("GET", parts.path, params, LOCAL, f"{parts.path}?{parts.query}")
    response = sandbox_app().handle(request, headers={})
    assert response.status == 200
    return response.body


def test_listing_pages_on_to_max_posts_with_positions_across_pages():
    spider = make_spider(tags="pets", appview=LOCAL, max_posts="130", recent_posts="0")
    (request,) = start_requests(spider)
    first = run_callback(request, response_for(request, sandbox_body(request.url)))
    (next_page,) = [o for o in first if isinstance(o, Request) and "searchPosts" in o.url]
    assert query(next_page.url)["cursor"] == ["100"]
    assert next_page.cb_kwargs["offset"] == 100
    second = run_callback(next_page, response_for(next_page, sandbox_body(next_page.url)))
    sightings = [o for o in first + second if isinstance(o, HashtagSightingItem)]
    expected = [sandbox_app().names.post_uri(pid) for pid in sandbox_app().search_ids(("pets",), "latest")]
    assert [s.post_id for s in sightings] == expected[:130]
    assert [s.position for s in sightings] == list(range(130))
    assert not [o for o in second if isinstance(o, Request) and "searchPosts" in o.url]


def test_a_full_batch_of_authors_goes_out_at_once_and_the_rest_when_idle():
    spider = make_spider(tags="pets", appview=LOCAL)
    dids = [f"did:plc:{i:024d}" for i in range(27)]
    out = [r for did in dids for r in spider.queue_author(did, "pets")]
    assert [len(query(r.url)["actors"]) for r in out] == [25]
    assert list(spider.queue_author(dids[0], "pets")) == []  # once a run
    crawled = []
    spider.crawler.engine = type("Engine", (), {"crawl": lambda self, r: crawled.append(r)})()
    with pytest.raises(DontCloseSpider):
        spider.on_idle()
    assert [query(r.url)["actors"] for r in crawled] == [dids[25:]]
    spider.on_idle()  # nothing left: the spider may close


def test_a_lone_author_is_fetched_with_get_profile():
    spider = make_spider(tags="pets", appview=LOCAL)
    list(spider.queue_author(PLC, "pets"))
    (request,) = list(spider.flush_authors())
    assert request.url == f"{LOCAL}/xrpc/app.bsky.actor.getProfile?actor={PLC.replace(':', '%3A')}"


# --- profiles and author feeds ------------------------------------------------------------------


def test_profile_in_range_asks_for_its_author_feed():
    spider = make_spider(handles="shinyakato.dev", appview=LOCAL)
    (request,) = start_requests(spider)
    (feed,) = run_callback(request, response_for(request, raw(PROFILE_FILE)))
    assert query(feed.url) == {"actor": [SHINYA_DID], "limit": ["30"], "filter": ["posts_no_replies"]}
    profile = feed.cb_kwargs["profile"]
    assert (profile.handle, profile.platform_user_id, profile.followers, profile.discovered_via) == (
        "shinyakato.dev", SHINYA_DID, 4945, "handles")


def test_profile_out_of_range_costs_no_request():
    spider = make_spider(handles="shinyakato.dev", appview=LOCAL, max_followers="1000")
    (request,) = start_requests(spider)
    assert run_callback(request, response_for(request, raw(PROFILE_FILE))) == []
    assert spider.crawler.stats.get_value("microscout/bluesky/skipped_out_of_range") == 1


def test_profiles_the_appview_left_out_are_not_found():
    spider = make_spider(handles="shinyakato.dev,gone.bsky.social", appview=LOCAL, recent_posts="0")
    (request,) = start_requests(spider)
    profile = json.loads(raw(PROFILE_FILE))
    profile_item, rejected = run_callback(request, response_for(request, {"profiles": [profile]}))
    assert isinstance(profile_item, ProfileItem)
    assert (rejected.reason, rejected.item_type) == ("not_found", "ProfileItem")
    assert "gone.bsky.social" in rejected.detail


def test_author_feed_capture_gives_own_posts_only():
    spider = make_spider(handles="shinyakato.dev", appview=LOCAL)
    (request,) = start_requests(spider)
    (feed,) = run_callback(request, response_for(request, raw(PROFILE_FILE)))
    (profile,) = run_callback(feed, response_for(feed, raw(AUTHOR_FEED_FILE)))
    assert len(profile.recent_posts) == 20
    assert {p.author_handle for p in profile.recent_posts} == {"shinyakato.dev"}
    reposted = {e["post"]["uri"] for e in json.loads(raw(AUTHOR_FEED_FILE))["feed"] if "reason" in e}
    assert reposted
    assert not reposted & {p.post_id for p in profile.recent_posts}
    assert spider.crawler.stats.get_value("microscout/bluesky/profiles") == 1


def test_author_feed_short_of_recent_posts_reads_another_page():
    spider = make_spider(handles="shinyakato.dev", appview=LOCAL, recent_posts="40")
    (request,) = start_requests(spider)
    (feed,) = run_callback(request, response_for(request, raw(PROFILE_FILE)))
    (next_page,) = run_callback(feed, response_for(feed, raw(AUTHOR_FEED_FILE)))
    assert query(next_page.url)["cursor"] == [json.loads(raw(AUTHOR_FEED_FILE))["cursor"]]
    assert len(next_page.cb_kwargs["profile"].recent_posts) == 23
    # the same cursor again ends the walk
    (profile,) = run_callback(next_page, response_for(next_page, raw(AUTHOR_FEED_FILE)))
    assert len(profile.recent_posts) == 23


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"error": "AuthMissing", "message": "Authentication Required"}, 401, "auth_required"),
        ("<html><head><title>403 Forbidden</title></head><body>Request forbidden by "
         "administrative rules.</body></html>", 403, "auth_required"),
        ({"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}, 429, "rate_limited"),
        ({"error": "InternalServerError", "message": "Internal Server Error"}, 500, "request_failed"),
        ("<html>Bad Gateway</html>", 502, "request_failed"),
    ],
)
def test_failed_search_becomes_a_rejected_item_with_its_reason(body, status, reason, caplog):
    spider = make_spider(tags="vegan", appview=LOCAL)
    (request,) = start_requests(spider)
    with caplog.at_level(logging.WARNING):
        (rejected,) = list(spider.on_error(http_failure(request, body, status)))
    assert isinstance(rejected, RejectedItem)
    assert (rejected.reason, rejected.item_type, rejected.source_url) == (
        reason, "HashtagSightingItem", request.url)
    assert rejected.detail.startswith(f"HTTP {status}")
    if reason == "auth_required":
        assert "MICROSCOUT_BLUESKY_APP_PASSWORD" in caplog.text


def test_missing_profile_is_not_found():
    spider = make_spider(handles="gone.bsky.social", appview=LOCAL)
    (request,) = start_requests(spider)
    failure = http_failure(request, {"error": "InvalidRequest", "message": "Profile not found"}, 400)
    (rejected,) = list(spider.on_error(failure))
    assert (rejected.reason, rejected.item_type) == ("not_found", "ProfileItem")


def test_failed_author_feed_still_yields_the_profile():
    spider = make_spider(handles="shinyakato.dev", appview=LOCAL)
    (request,) = start_requests(spider)
    (feed,) = run_callback(request, response_for(request, raw(PROFILE_FILE)))
    failure = Failure(ConnectionRefusedError("Connection was refused"))
    failure.request = feed
    rejected, profile = list(spider.on_error(failure))
    assert (rejected.reason, rejected.item_type) == ("request_failed", "ProfileItem")
    assert (profile.handle, profile.recent_posts) == ("shinyakato.dev", [])


def test_error_body_with_status_200_is_rejected_not_crashed():
    spider = make_spider(tags="vegan", appview=LOCAL)
    (request,) = start_requests(spider)
    (rejected,) = run_callback(request, response_for(request, {"error": "AuthRequired"}))
    assert rejected.reason == "auth_required"
    (rejected,) = run_callback(request, response_for(request, {"what": 1}))
    assert rejected.reason == "unexpected_body"


def test_truncated_listing_is_retried_then_rejected():
    spider = make_spider(tags="vegan", appview=LOCAL)
    (request,) = start_requests(spider)
    cut = raw(SEARCH_FILE)[:300]
    (retry,) = run_callback(request, response_for(request, cut))
    retry2 = run_callback(retry, response_for(retry, cut))[0]
    (rejected,) = run_callback(retry2, response_for(retry2, cut))
    assert (rejected.reason, rejected.payload) == ("bad_json", cut.decode())
    assert spider.crawler.stats.get_value("retry/reason_count/bad_json") == 2


def test_refresh_asks_for_stale_accounts_by_did(sqlite_url, monkeypatch):
    """A refresh re-reads stale accounts by DID: the handle in the warehouse may be stale."""
    from datetime import datetime, timezone

    from sqlalchemy import insert

    import models.queries
    from models import make_engine
    from models.tables import Profile

    now = datetime.now(timezone.utc)
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(insert(Profile.__table__), [
            {"platform": "bluesky", "handle": "old.bsky.social", "platform_user_id": PLC,
             "first_seen_at": now, "last_seen_at": now},
            {"platform": "mastodon", "handle": "nodid.bsky.social", "platform_user_id": "123",
             "first_seen_at": now, "last_seen_at": now},
        ])
    engine.dispose()
    monkeypatch.setattr(models.queries, "stale_handles",
                        lambda *a, **k: ["old.bsky.social", "nodid.bsky.social", "given.bsky.social"])
    spider = make_spider({"MICROSCOUT_DATABASE_URL": sqlite_url}, handles="given.bsky.social",
                         appview=LOCAL)
    spider.args.max_age = 86_400.0  # as -a max_age=1d (the crawl-run extension runs the refresh)
    run = CrawlRun.of(spider.crawler)
    spider.add_stale_handles(run.stale_handles(spider))
    run.engine.dispose()
    assert spider.args.handles == ["given.bsky.social", PLC, "nodid.bsky.social"]


def test_refresh_alone_is_something_to_crawl():
    spider = BlueskySpider(max_age="7d")
    assert (spider.args.tags, spider.args.handles, spider.args.max_age) == ([], [], 7 * 86_400)


# --- end-to-end against the sandbox ---------------------------------------------------------------

E2E_ACCOUNTS, E2E_SEED = 150, 3
NO_LIMIT = 1_000_000
E2E_SETTINGS = {
    "ITEM_PIPELINES": {},  # only the spider is under test
    "LOG_LEVEL": "INFO",
    "MICROSCOUT_MAX_RETRY_AFTER": 0.5,  # keep the sandbox's rate-limit waits short
    "RETRY_TIMES": 8,
}
RANGE = {"min_followers": 1_000, "max_followers": 100_000}
RECENT = 6


@functools.cache
def e2e_app() -> BlueskyApp:
    return BlueskyApp(World(E2E_ACCOUNTS, E2E_SEED))


@functools.cache
def e2e_tags() -> tuple[str, str]:
    """The busiest tag that fits in 200 posts, and the busiest of another niche."""
    counts = sorted(e2e_app().world.tags().items(), key=lambda kv: (-kv[1], kv[0]))
    fits = [tag for tag, count in counts if count <= 200 and tag in HASHTAG_NICHE]
    first = fits[0]
    second = next(t for t in fits if HASHTAG_NICHE[t] != HASHTAG_NICHE[first])
    return first, second


def expected_sightings(tag: str) -> list[str]:
    app = e2e_app()
    return [app.names.post_uri(pid) for pid in app.search_ids((tag,), "latest")][:200]


def expected_authors(tags=None, lo=None, hi=None, max_posts=200) -> dict[str, int]:
    """DID -> account index of the in-range authors of the tags' newest ``max_posts`` posts."""
    app = e2e_app()
    out = {}
    for tag in tags or e2e_tags():
        for pid in app.search_ids((tag,), "latest")[:max_posts]:
            index = app.world.post(pid).account_index
            followers = app.world.account(index).followers
            if (lo is None or followers >= lo) and (hi is None or followers <= hi):
                out[app.names.did(index)] = index
    return out


def sightings_of(items) -> list[dict]:
    return [i for i in items if "position" in i and "hashtag" in i]


def profiles_of(items) -> list[dict]:
    return [i for i in items if "recent_posts" in i]


def rejected_of(items) -> list[dict]:
    return [i for i in items if "reason" in i and "payload" in i]


@contextlib.contextmanager
def bluesky_sandbox(knobs: dict[str, str] | None = None, **kwargs):
    """A bluesky SandboxProcess with these sandbox knobs (``handle_epoch``, ``search_auth``)."""
    from crawler.sandbox.server import SandboxProcess

    process = SandboxProcess(platform="bluesky", knobs=knobs, **{
        "accounts": E2E_ACCOUNTS, "seed": E2E_SEED, "rate_limit": NO_LIMIT, **kwargs})
    process.start()
    try:
        yield process
    finally:
        process.stop()


def crawl(base_url: str, settings: dict | None = None, **spider_kwargs):
    from tests.crawl_helpers import run_spider

    return run_spider("bluesky", {**E2E_SETTINGS, **(settings or {})}, use_project_settings=True,
                      crawl_timeout=60, appview=base_url, **spider_kwargs)


@pytest.fixture(scope="module")
def sandbox():
    with bluesky_sandbox() as sb:
        yield sb


@pytest.fixture(scope="module")
def sweep(sandbox):
    return crawl(sandbox.base_url, tags=",".join(e2e_tags()), recent_posts=str(RECENT), **RANGE)


@pytest.mark.slow
def test_sweep_gives_a_sighting_per_matching_post_in_search_order(sweep):
    for tag in e2e_tags():
        seen = sorted((s for s in sightings_of(sweep) if s["hashtag"] == tag),
                      key=lambda s: s["position"])
        assert [s["post_id"] for s in seen] == expected_sightings(tag)
        assert [s["position"] for s in seen] == list(range(len(seen)))
        assert {s["listing"] for s in seen} == {"recent"}
    assert rejected_of(sweep) == []


@pytest.mark.slow
def test_sweep_gives_one_profile_per_in_range_author(sweep):
    app = e2e_app()
    expected = expected_authors(lo=RANGE["min_followers"], hi=RANGE["max_followers"])
    profiles = profiles_of(sweep)
    assert sorted(p["platform_user_id"] for p in profiles) == sorted(expected)
    for profile in profiles:
        index = expected[profile["platform_user_id"]]
        account = app.world.account(index)
        assert profile["handle"] == app.names.handle(index)
        assert (profile["followers"], profile["following"]) == (account.followers, account.following)
        assert [p["post_id"] for p in profile["recent_posts"]] == [
            app.names.post_uri(p) for p in app.world.posts(index)][:RECENT]
        assert profile["discovered_via"] in e2e_tags()
    stats = sweep.stats
    skipped = len(expected_authors()) - len(expected)
    assert stats.get("microscout/bluesky/skipped_out_of_range", 0) == skipped > 0
    assert stats["microscout/bluesky/authors_requested"] == len(expected)
    # getProfiles batches: a full batch of 25 authors as soon as it fills, the rest when idle
    assert stats["microscout/bluesky/profile_requests"] == -(-len(expected_authors()) // 25)


@pytest.fixture(scope="module")
def auth_sandbox():
    with bluesky_sandbox({"search_auth": "401"}) as sb:
        yield sb


@pytest.mark.slow
def test_logged_out_search_needing_auth_is_auth_required_and_handles_and_feeds_go_on(auth_sandbox):
    """Search wants a session here; without one each tag is an auth_required RejectedItem
    while the handle list and the custom feed (open endpoints) are crawled as usual."""
    app = e2e_app()
    a, b, c = 4, 40, 90
    handles = [app.names.handle(a), app.names.did(b), f"https://bsky.app/profile/{app.names.handle(c)}",
               "nobody-here.bsky.social"]
    feed = "https://bsky.app/profile/sandbox-feeds.bsky.social/feed/pets"
    items = crawl(auth_sandbox.base_url, tags=",".join(e2e_tags()), handles=",".join(handles),
                  feeds=feed, max_posts="30", max_pages="1", recent_posts="3")
    rejected = rejected_of(items)
    auth = [r for r in rejected if r["reason"] == "auth_required"]
    assert sorted(r["source_url"].split("q=%23")[1].split("&")[0] for r in auth) == sorted(e2e_tags())
    assert {(r["item_type"], r["detail"].split(":")[0]) for r in auth} == {
        ("HashtagSightingItem", "HTTP 401")}
    assert all("AuthMissing" in r["detail"] for r in auth)
    assert "MICROSCOUT_BLUESKY_APP_PASSWORD" in items.log
    (missing,) = [r for r in rejected if r not in auth]
    assert (missing["reason"], missing["item_type"]) == ("not_found", "ProfileItem")
    assert "nobody-here.bsky.social" in missing["detail"]

    feed_sightings = sightings_of(items)
    assert [(s["hashtag"], s["listing"], s["position"]) for s in feed_sightings] == [
        ("pets", "feed", n) for n in range(30)]
    expected_feed = [app.names.post_uri(pid) for *_, pid in app.feed_entries("pets")][:30]
    assert [s["post_id"] for s in feed_sightings] == expected_feed
    by_via: dict[str, set] = {}
    for profile in profiles_of(items):
        by_via.setdefault(profile["discovered_via"], set()).add(profile["platform_user_id"])
    assert by_via["handles"] == {app.names.did(i) for i in (a, b, c)}
    feed_authors = {app.names.did(app.world.post(pid).account_index)
                    for *_, pid in app.feed_entries("pets")[:30]}
    assert by_via.get("pets", set()) == feed_authors - by_via["handles"]
    assert set(by_via) <= {"handles", "pets"}
    assert items.stats["finish_reason"] == "finished"


@pytest.mark.slow
def test_search_with_an_app_password_works_and_the_token_is_never_logged(auth_sandbox):
    identifier = e2e_app().names.handle(4)
    login = urllib.request.Request(
        f"{auth_sandbox.base_url}/xrpc/com.atproto.server.createSession", method="POST",
        data=json.dumps({"identifier": identifier, "password": APP_PASSWORD}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(login, timeout=5) as answer:
        token = json.loads(answer.read())["accessJwt"]
    tag = e2e_tags()[0]
    items = crawl(auth_sandbox.base_url,
                  {"MICROSCOUT_BLUESKY_IDENTIFIER": identifier,
                   "MICROSCOUT_BLUESKY_APP_PASSWORD": APP_PASSWORD, "LOG_LEVEL": "DEBUG"},
                  auth_host=auth_sandbox.base_url, tags=tag, max_posts="40", recent_posts="2",
                  **RANGE)
    assert [s["post_id"] for s in sightings_of(items)] == expected_sightings(tag)[:40]
    assert {p["platform_user_id"] for p in profiles_of(items)} == set(
        expected_authors([tag], RANGE["min_followers"], RANGE["max_followers"], max_posts=40))
    assert rejected_of(items) == []
    assert items.stats["microscout/bluesky/session_created"] == 1
    assert f"as {identifier}" in items.log
    everything = items.log + json.dumps(list(items)) + json.dumps(items.stats, default=str)
    assert token not in everything
    assert token.split(".")[2] not in everything
    assert APP_PASSWORD not in everything


TOKEN_TTL, PACE = 3, 0.2  # a session of 2-3 s (the sandbox's exp is whole seconds)


@pytest.fixture(scope="module")
def expiring_sandbox():
    with bluesky_sandbox({"search_auth": "401", "token_ttl": str(TOKEN_TTL)}) as sb:
        yield sb


@pytest.mark.slow
@pytest.mark.parametrize("margin", ["300", "0"], ids=["refresh_ahead", "login_again_after"])
def test_a_crawl_past_session_expiry_ends_without_auth_required_rows(expiring_sandbox, margin):
    """Sessions expire every few seconds; requests to one host are spaced PACE s apart, so the
    crawl outlasts several sessions whatever the machine's load (two at a time: a request
    renewed for waits behind one other at most). The session is refreshed ahead of expiry
    (margin 300 s, at most half the token's life) or, with margin 0, renewed by logging in
    again after an ExpiredToken answer; either way nothing is refused."""
    identifier = e2e_app().names.handle(4)
    items = crawl(expiring_sandbox.base_url,
                  {"MICROSCOUT_BLUESKY_IDENTIFIER": identifier,
                   "MICROSCOUT_BLUESKY_APP_PASSWORD": APP_PASSWORD,
                   "MICROSCOUT_BLUESKY_REFRESH_MARGIN": margin,
                   "MICROSCOUT_RATE_LIMIT_BLUESKY": PACE, "CONCURRENT_REQUESTS": 2},
                  tags=",".join(e2e_tags()), recent_posts="2")
    stats = items.stats
    assert (stats["downloader/request_count"] - 1) * PACE > 3 * TOKEN_TTL  # outlasted sessions
    assert rejected_of(items) == []  # no auth_required, no auth_failed
    for tag in e2e_tags():
        assert sorted(s["post_id"] for s in sightings_of(items) if s["hashtag"] == tag) == sorted(
            expected_sightings(tag))
    assert {p["platform_user_id"] for p in profiles_of(items)} == set(expected_authors())
    assert stats["microscout/bluesky/session_created"] == 1
    if margin == "0":
        assert stats["microscout/bluesky/session_relogins"] >= 1
        assert "microscout/bluesky/session_refreshed" not in stats
    else:
        assert stats["microscout/bluesky/session_refreshed"] >= 2
    assert stats["finish_reason"] == "finished"


@pytest.mark.slow
def test_faults_at_five_percent_give_the_same_result(sweep):
    with bluesky_sandbox(faults={"429": 0.05, "500": 0.05, "truncate": 0.03}) as faulty:
        items = crawl(faulty.base_url, tags=",".join(e2e_tags()), recent_posts=str(RECENT), **RANGE)
        served = faulty.stats()
    assert sum(served["faults"].values()) > 0
    assert sorted(p["platform_user_id"] for p in profiles_of(items)) == sorted(
        p["platform_user_id"] for p in profiles_of(sweep))
    key = lambda s: (s["hashtag"], s["position"], s["post_id"])  # noqa: E731
    assert sorted(map(key, sightings_of(items))) == sorted(map(key, sightings_of(sweep)))
    recent = lambda items: {p["handle"]: [q["post_id"] for q in p["recent_posts"]]  # noqa: E731
                            for p in profiles_of(items)}
    assert recent(items) == recent(sweep)
    assert rejected_of(items) == []
    assert items.stats.get("retry/count", 0) > 0


# --- into the warehouse ---------------------------------------------------------------------------

WAREHOUSE_SETTINGS = {"MICROSCOUT_DB_RETRY_DELAY": 0, "RETRY_TIMES": 6, "LOG_LEVEL": "INFO",
                      "MICROSCOUT_RATELIMIT_DEFAULT_WAIT": 0.05}


def _rows(url: str, sql: str) -> list:
    from sqlalchemy import text

    from models import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).all()
    finally:
        engine.dispose()


@pytest.mark.slow
def test_two_sweeps_with_renamed_handles_keep_one_row_per_account(tmp_path):
    """Sweep into SQLite through every pipeline; sweep again after about one account in five
    changed its handle (same DIDs): one profiles row per DID, under its new handle."""
    from models import migrate
    from tests.crawl_helpers import run_spider

    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    migrate.upgrade(url)
    settings = {**WAREHOUSE_SETTINGS, "MICROSCOUT_DATABASE_URL": url,
                "MICROSCOUT_SPOOL_DIR": str(tmp_path / "spool")}
    tag = e2e_tags()[0]
    sweep = {"tags": tag, "max_posts": "80", "recent_posts": "8", "max_followers": "2000000"}
    expected = expected_authors([tag], hi=2_000_000, max_posts=80)
    runs = []
    with bluesky_sandbox({"handle_epoch": "0"}) as sb:
        runs.append(run_spider("bluesky", settings, use_project_settings=True, crawl_timeout=60,
                               appview=sb.base_url, **sweep))
    first = dict(_rows(url, "SELECT platform_user_id, handle FROM profiles"))
    assert set(first) == set(expected)
    assert _rows(url, "SELECT count(*) FROM influencer_current WHERE tier IS NULL") == [(0,)]
    assert _rows(url, "SELECT count(*) FROM micro_influencers")[0][0] > 0
    assert _rows(url, "SELECT count(*) FROM influencer_current WHERE primary_niche IS NOT NULL")[0][0] > 0
    assert _rows(url, "SELECT count(*) FROM hashtag_sightings") == [(len(expected_sightings(tag)[:80]),)]

    names = e2e_app().names
    epoch = next(e for e in range(1, 50) if any(names.renamed(i, e) for i in expected.values()))
    with bluesky_sandbox({"handle_epoch": str(epoch)}) as sb:
        runs.append(run_spider("bluesky", settings, use_project_settings=True, crawl_timeout=60,
                               appview=sb.base_url, **sweep))
    renamed = BlueskyApp(World(E2E_ACCOUNTS, E2E_SEED), handle_epoch=epoch).names
    final = dict(_rows(url, "SELECT platform_user_id, handle FROM profiles"))
    assert final == {did: renamed.handle(index) for did, index in expected.items()}
    assert {did for did in final if final[did] != first[did]}, "some accounts were renamed"
    assert _rows(url, "SELECT count(*), count(DISTINCT platform_user_id) FROM profiles") == [
        (len(expected), len(expected))]
    assert _rows(url, "SELECT count(*) FROM profile_snapshots") == [(2 * len(expected),)]
    assert _rows(url, "SELECT count(*) FROM rejected_items") == [(0,)]
    assert [r.stats["finish_reason"] for r in runs] == ["finished", "finished"]


# --- a cassette recorded from the sandbox ------------------------------------------------------------

CASSETTE_PORT, CASSETTE_ACCOUNTS, CASSETTE_SEED = 8807, 80, 5
CASSETTE_SWEEP = {"appview": f"http://127.0.0.1:{CASSETTE_PORT}", "max_posts": 25,
                  "recent_posts": 4, **RANGE}


def cassette_tag() -> str:
    tags = World(CASSETTE_ACCOUNTS, CASSETTE_SEED).tags()
    return max(tags, key=lambda tag: (tags[tag], tag))


@pytest.mark.slow
def test_sandbox_cassette_replays_the_sweep_offline():
    from crawler.cassette import cassette_settings
    from tests.crawl_helpers import run_spider

    items = run_spider("bluesky", {**cassette_settings(SANDBOX_CASSETTE), "ITEM_PIPELINES": {}},
                       use_project_settings=True, crawl_timeout=60, tags=cassette_tag(),
                       **CASSETTE_SWEEP)
    assert items.stats.get("microscout/cassette/missed", 0) == 0
    assert items.stats["microscout/cassette/played"] > 3
    app = BlueskyApp(World(CASSETTE_ACCOUNTS, CASSETTE_SEED))
    expected = [app.names.post_uri(pid) for pid in app.search_ids((cassette_tag(),), "latest")][:25]
    assert [s["post_id"] for s in sightings_of(items)] == expected
    authors = {app.world.post(pid).account_index for pid in app.search_ids((cassette_tag(),), "latest")[:25]}
    in_range = {app.names.did(i) for i in authors
                if RANGE["min_followers"] <= app.world.account(i).followers <= RANGE["max_followers"]}
    assert {p["platform_user_id"] for p in profiles_of(items)} == in_range
    assert rejected_of(items) == []


def record() -> None:
    """Re-record the sandbox cassette (run: python -m tests.test_spider_bluesky)."""
    from crawler.cassette import cassette_settings
    from tests.crawl_helpers import run_spider

    SANDBOX_CASSETTE.unlink(missing_ok=True)
    with bluesky_sandbox(accounts=CASSETTE_ACCOUNTS, seed=CASSETTE_SEED, port=CASSETTE_PORT):
        items = run_spider(
            "bluesky",
            {**cassette_settings(SANDBOX_CASSETTE, record_mode="once"), "ITEM_PIPELINES": {}},
            use_project_settings=True,
            tags=cassette_tag(),
            **CASSETTE_SWEEP,
        )
    print(f"recorded {items.stats.get('microscout/cassette/recorded')} interactions to {SANDBOX_CASSETTE}")


if __name__ == "__main__":
    record()
