"""The youtube spider: arguments, callbacks on real and sandbox bodies, end-to-end crawls of the
web pages and of the Data API.

* Arguments, sources and the request plan on the spider object alone.
* Callbacks fed bodies from the real captures (../shared/realworld/youtube) and from the
  YouTube sandbox app built in-process (``crawler.sandbox.youtube.YouTubeApp``).
* End-to-end through the real engine (``tests.crawl_helpers.run_spider``) against
  ``SandboxProcess(platform="youtube")``: the web sweep with its POST continuations
  (robots.txt off: youtube.com disallows ``/youtubei/``), consent and bot-check pages injected
  with robots.txt obeyed, 5% 429/5xx with the pages in German, the Data API path with a key
  through every pipeline into SQLite (recording a cassette on the way, to prove the key stays
  out of it), and ``cassettes/sandbox_youtube_sweep.yaml`` replayed offline (re-record:
  ``python -m tests.test_spider_youtube``).
"""

from __future__ import annotations

import asyncio
import json
from functools import cache
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from scrapy import Request
from scrapy.exceptions import CloseSpider, IgnoreRequest
from scrapy.http import HtmlResponse, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from crawler.cassette import cassette_settings
from crawler.credentials import CredentialsMiddleware
from crawler.items import HashtagSightingItem, ProfileItem, RejectedItem
from crawler.parsers import youtube as yt
from crawler.sandbox.common import Request as SandboxRequest
from crawler.sandbox.tiktok import BlockInjector, video_numbers
from crawler.sandbox.world import World
from crawler.sandbox.youtube import YouTubeApp
from crawler.spiders.youtube import YouTubeSpider, normalize_youtube_handle
from tests.conftest import realworld
from tests.crawl_helpers import run_spider
from tests.spider_helpers import run_callback

ACCOUNTS, SEED = 200, 7
BASE = "http://127.0.0.1:8799"  # also the cassette's recording port
API = f"{BASE}/youtube/v3"
KEY = "AIzaSy-sandbox-secret-key-0123456789"
CASSETTE = Path(__file__).resolve().parents[1] / "cassettes" / "sandbox_youtube_sweep.yaml"
#: POST continuations differ only in their body.
MATCH_ON = ["method", "scheme", "host", "port", "path", "query", "body"]
LO, HI = 1_000, 100_000


@cache
def world() -> World:
    return World(ACCOUNTS, SEED)


@cache
def app() -> YouTubeApp:
    return YouTubeApp(world())


def make_spider(settings: dict | None = None, **kwargs) -> YouTubeSpider:
    crawler = get_crawler(YouTubeSpider, settings_dict={"RETRY_TIMES": 2, **(settings or {})})
    spider = YouTubeSpider.from_crawler(crawler, **{"base_url": BASE, "api_base": API, **kwargs})
    crawler.spider = spider
    crawler.stats.open_spider()
    return spider


def sandbox_response(request: Request, knobs: dict | None = None) -> TextResponse:
    """What the sandbox app answers to a GET ``request`` (in-process, no HTTP)."""
    parts = urlsplit(request.url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    sandbox = app()
    if knobs is not None:
        sandbox = YouTubeApp(world())
        sandbox.configure(knobs)
    request_in = SandboxRequest("GET", parts.path, query, BASE, target)
    if parts.path.startswith("/youtube/v3/"):  # no headers in-process: skip the key check
        answer = getattr(sandbox, "api_" + parts.path.rsplit("/", 1)[1])(request_in)
    else:
        answer = sandbox.handle(request_in)
    cls = HtmlResponse if answer.content_type.startswith("text/html") else TextResponse
    return cls(url=request.url, status=answer.status, body=answer.body, request=request,
               headers={"Content-Type": answer.content_type}, encoding="utf-8")


def top_tag() -> str:
    """The tag whose first 60 listing videos have the most distinct channels."""
    w = world()
    return max(sorted(w.tags()), key=lambda t: len({w.post(pid).account_index
                                                     for pid in list(reversed(w.tag_post_ids(t)))[:60]}))


def cassette_tag() -> str:
    """A tag whose first 33 videos come from the fewest channels (a small cassette)."""
    w = world()
    tags = [t for t, n in sorted(w.tags().items()) if n >= 40]
    return min(tags, key=lambda t: len({w.post(pid).account_index
                                        for pid in list(reversed(w.tag_post_ids(t)))[:33]}))


def channel_id(account) -> str:
    return app().channel_id(account)


# --- arguments ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tags": "ok", "source": "rss"}, "source must be one of auto, web, api"),
        ({"tags": "ok", "api_base": "ftp://x"}, "api_base must be a URL"),
        ({"tags": "ok", "base_url": "https://www.youtube.com/feed"}, "without a path"),
        ({"tags": "ok", "recent_posts": "31"}, "recent_posts must be at most 30"),
        ({"tags": "ok", "listing": "recent"}, "listing must be one of top"),
        ({"handles": "https://www.youtube.com/watch?v=abc"}, "is not a YouTube channel URL"),
        ({"handles": "no spaces please"}, "is not a YouTube @handle or channel id"),
    ],
)
def test_bad_argument_is_a_one_line_error(kwargs, message):
    with pytest.raises(ValueError, match=r"^[^\n]+$") as caught:
        YouTubeSpider(**kwargs)
    assert message in str(caught.value)


def test_source_api_without_a_key_is_refused_up_front():
    with pytest.raises(ValueError, match="source=api needs MICROSCOUT_YOUTUBE_API_KEY"):
        make_spider(tags="x", source="api")


@pytest.mark.parametrize(("value", "expected"), [
    ("@Kurzgesagt", "kurzgesagt"),
    ("https://www.youtube.com/@kurzgesagt/videos", "kurzgesagt"),
    ("UCsXVk37bltHxD1rDPwtNM8Q", "UCsXVk37bltHxD1rDPwtNM8Q"),
    ("https://www.youtube.com/channel/UCsXVk37bltHxD1rDPwtNM8Q", "UCsXVk37bltHxD1rDPwtNM8Q"),
])
def test_handles_and_channel_ids(value, expected):
    assert normalize_youtube_handle(value) == expected
    assert YouTubeSpider(handles=value).args.handles == [expected]  # ids keep their case


def test_defaults_sources_and_allowed_domains():
    spider = YouTubeSpider(tags="vegan")
    assert (spider.base_url, spider.api_base, spider.hl, spider.source) == (
        "https://www.youtube.com", "https://www.googleapis.com/youtube/v3", "en", "auto")
    assert spider.allowed_domains == ["youtube.com", "googleapis.com"]  # consent.youtube.com too
    assert not make_spider(tags="x").use_api
    keyed = make_spider({"MICROSCOUT_YOUTUBE_API_KEY": KEY}, tags="x")
    assert keyed.use_api
    assert not make_spider({"MICROSCOUT_YOUTUBE_API_KEY": KEY}, tags="x", source="web").use_api
    assert KEY not in json.dumps(keyed.run_args)
    assert keyed.run_args["source"] == "api"
    assert "X-Goog-Api-Key" in keyed.settings.getlist("MICROSCOUT_CASSETTE_FILTER_HEADERS")


def start(spider) -> list[Request]:
    """The start requests as they are sent: through the credentials middleware."""
    async def collect():
        return [request async for request in spider.start()]

    requests = asyncio.run(collect())
    middleware = CredentialsMiddleware.from_crawler(spider.crawler)
    for request in requests:
        middleware.process_request(request)
    return requests


def test_web_start_plan():
    spider = make_spider(tags="vegan", handles="@alice,UCsXVk37bltHxD1rDPwtNM8Q", hl="de")
    assert [r.url for r in start(spider)] == [
        f"{BASE}/hashtag/vegan?hl=de", f"{BASE}/@alice/videos?hl=de",
        f"{BASE}/channel/UCsXVk37bltHxD1rDPwtNM8Q/videos?hl=de"]


def test_api_start_plan_sends_the_key_only_in_a_header():
    spider = make_spider({"MICROSCOUT_YOUTUBE_API_KEY": KEY}, tags="vegan",
                         handles="@alice,UCsXVk37bltHxD1rDPwtNM8Q")
    requests = start(spider)
    assert [r.url for r in requests] == [
        f"{API}/search?part=snippet&q=%23vegan&type=video&maxResults=50",
        f"{API}/channels?part=snippet%2Cstatistics%2CcontentDetails&id=UCsXVk37bltHxD1rDPwtNM8Q",
        f"{API}/channels?part=snippet%2Cstatistics%2CcontentDetails&forHandle=%40alice"]
    for request in requests:
        assert KEY not in request.url
        assert request.headers[yt.API_KEY_HEADER] == KEY.encode()
        assert request.meta["dont_obey_robotstxt"] is True
    assert spider.crawler.stats.get_value("microscout/youtube/api_quota_units") == 102


# --- web callbacks --------------------------------------------------------------------------


def test_hashtag_page_yields_sightings_channel_requests_and_a_post_continuation():
    tag = top_tag()
    spider = make_spider(tags=tag)
    request = spider.hashtag_request(tag)
    out = run_callback(request, sandbox_response(request))
    sightings = [o for o in out if isinstance(o, HashtagSightingItem)]
    newest = [YouTubeApp.video_id(world().post(p)) for p in reversed(world().tag_post_ids(tag))]
    assert [(s.position, s.post_id) for s in sightings] == list(enumerate(newest[:30]))
    owners = list(dict.fromkeys(world().post(p).account_index
                                for p in list(reversed(world().tag_post_ids(tag)))[:30]))
    channels = [o for o in out if isinstance(o, Request) and o.callback == spider.parse_channel]
    assert [r.url for r in channels] == [
        f"{BASE}/channel/{channel_id(world().account(i))}/videos?hl=en" for i in owners]
    assert all(r.cookies == {"SOCS": "CAE="} for r in channels)
    (more,) = [o for o in out if isinstance(o, Request) and o.callback == spider.parse_listing]
    assert (more.method, more.url) == ("POST", f"{BASE}/youtubei/v1/browse?prettyPrint=false")
    body = json.loads(more.body)
    assert body["context"]["client"]["hl"] == "en"
    assert yt.hashtag_from_continuation(body["continuation"]) == tag
    assert more.cb_kwargs == {"tag": tag, "page": 2, "offset": 30}


def test_continuation_body_carries_on_the_positions():
    tag = top_tag()
    spider = make_spider(tags=tag)
    token = yt.continuation_token(yt.page_data(sandbox_response(spider.hashtag_request(tag)).body))
    request = spider.continuation_request(token, tag, 2, 30)
    sandbox_body = json.loads(request.body)
    data = app().hashtag_items(tag, BASE, "en", 30)
    response = TextResponse(request.url, body=json.dumps({"onResponseReceivedActions": [
        {"appendContinuationItemsAction": {"continuationItems": data}}]}).encode(),
        request=request, encoding="utf-8")
    sightings = [o for o in run_callback(request, response) if isinstance(o, HashtagSightingItem)]
    assert sightings[0].position == 30
    assert sandbox_body["continuation"] == token


def test_channel_page_is_one_profile_with_views_in_the_page_language():
    account = next(a for a in world().accounts
                   if 20_000 < a.followers < 90_000 and not app().hidden_subscribers(a))
    spider = make_spider(handles=channel_id(account), hl="es", recent_posts="4")
    request = spider.channel_request(channel_id(account), "handles")
    (profile,) = run_callback(request, sandbox_response(request))
    assert (profile.handle, profile.platform_user_id, profile.locale, profile.discovered_via) == (
        account.username.lower(), channel_id(account), "es", "handles")
    assert profile.followers.endswith("suscriptores")
    assert [p.post_id for p in profile.recent_posts] == [
        YouTubeApp.video_id(p) for p in world().posts(account)[:4]]
    assert profile.recent_posts[0].views.endswith("visualizaciones")


def test_real_channel_page_from_the_newpipe_capture():
    recording = json.loads(realworld("youtube", "newpipe_mock_youtubei_browse_channel_kurzgesagt"
                                                "_2026.json").read_text())
    spider = make_spider(handles="@kurzgesagt", max_followers="100000000")
    request = spider.channel_request("kurzgesagt", "handles")
    body = recording["response"]["responseBody"].encode()
    (profile,) = run_callback(request, TextResponse(request.url, body=body, request=request,
                                                    encoding="utf-8"))
    assert (profile.handle, profile.followers, profile.posts_count, profile.is_verified) == (
        "kurzgesagt", "25m subscribers", "337 videos", True)


def test_out_of_range_channel_is_dropped_after_its_page():
    account = next(a for a in world().accounts
                   if a.followers > 300_000 and not app().hidden_subscribers(a))
    spider = make_spider(handles=channel_id(account), max_followers=str(HI))
    request = spider.channel_request(channel_id(account), "handles")
    assert run_callback(request, sandbox_response(request)) == []
    assert spider.crawler.stats.get_value("microscout/youtube/skipped_out_of_range") == 1


@pytest.mark.parametrize(("kind", "reason"), [("consent", "consent_required"),
                                               ("bot_check", "bot_check")])
def test_consent_and_bot_check_pages_are_quarantined_never_an_empty_channel(kind, reason):
    spider = make_spider(handles="alice", block_backoff="0")
    request = spider.channel_request(world().accounts[0].username.lower(), "handles")
    (rejected,) = run_callback(request, sandbox_response(request, knobs={kind: "1"}))
    assert isinstance(rejected, RejectedItem)
    assert (rejected.reason, rejected.source_url) == (reason, request.url)
    assert spider.crawler.stats.get_value(f"microscout/youtube/blocked/{reason}") == 1


def test_google_sorry_page_after_retries_is_a_captcha():
    spider = make_spider(handles="alice", block_backoff="0")
    request = spider.channel_request("alice", "handles")
    response = sandbox_response(request, knobs={"captcha": "1"})
    assert response.status == 429
    failure = Failure(HttpError(response))
    failure.request = request  # type: ignore[attr-defined]
    (rejected,) = list(spider.on_error(failure))
    assert rejected.reason == "captcha"
    redirect = Request("https://www.google.com/sorry/index?continue=x", meta={
        "microscout_kind": "profile"})
    failure = Failure(IgnoreRequest("Filtered offsite request"))
    failure.request = redirect  # type: ignore[attr-defined]
    (rejected,) = list(spider.on_error(failure))
    assert rejected.reason == "captcha"


def test_consent_redirect_url_is_a_consent_page():
    spider = make_spider(handles="alice", block_backoff="0")
    request = spider.channel_request("alice", "handles")
    response = HtmlResponse("https://consent.youtube.com/m?continue=https://www.youtube.com/",
                            body=b"<html><form></form></html>", request=request)
    (rejected,) = run_callback(request, response)
    assert rejected.reason == "consent_required"


# --- Data API callbacks ---------------------------------------------------------------------


def api_spider(**kwargs) -> YouTubeSpider:
    return make_spider({"MICROSCOUT_YOUTUBE_API_KEY": KEY}, **kwargs)


def test_api_search_then_channels_then_videos_make_a_profile_with_likes_and_views():
    tag = top_tag()
    spider = api_spider(tags=tag, recent_posts="3", min_followers=str(LO),
                        max_followers=str(HI), api_posts="search")  # the 101-unit route
    search = spider.api_search_request(tag)
    out = run_callback(search, sandbox_response(search))
    sightings = [o for o in out if isinstance(o, HashtagSightingItem)]
    assert [s.position for s in sightings] == list(range(len(sightings)))
    (channels,) = [o for o in out if isinstance(o, Request) and o.callback == spider.parse_api_channels]
    ids = parse_qs(urlsplit(channels.url).query)["id"][0].split(",")
    assert ids == list(dict.fromkeys(s.author_handle for s in sightings))
    assert len(ids) <= 50
    out = run_callback(channels, sandbox_response(channels))
    requests = [o for o in out if isinstance(o, Request)]
    assert requests
    assert all(r.callback == spider.parse_api_channel_videos for r in requests)
    # hidden subscriber counts: yielded at once (the pipelines quarantine them), no posts asked
    assert all(o.followers is None for o in out if isinstance(o, ProfileItem))
    profile = requests[0].cb_kwargs["profile"]
    account = app().account_by_channel_id(profile.platform_user_id)
    assert LO <= account.followers <= HI
    (videos,) = run_callback(requests[0], sandbox_response(requests[0]))
    (done,) = run_callback(videos, sandbox_response(videos))
    assert done is profile
    expected = world().posts(account)[:3]
    assert [(p.post_id, p.likes, p.comments, p.views, p.author_handle) for p in done.recent_posts] == [
        (YouTubeApp.video_id(p), str(p.favourites), str(p.replies),
         str(video_numbers(SEED, p)["views"]), account.username.lower()) for p in expected]


def test_quota_exceeded_is_recorded_and_closes_the_crawl():
    spider = api_spider(tags="x")
    request = spider.api_search_request("x")
    body = json.dumps({"error": {"code": 403, "message": "quota", "errors": [
        {"domain": "youtube.quota", "reason": "quotaExceeded"}]}}).encode()
    failure = Failure(HttpError(TextResponse(request.url, status=403, body=body,
                                             request=request)))
    failure.request = request  # type: ignore[attr-defined]
    out = spider.on_error(failure)
    rejected = next(out)
    assert (rejected.reason, rejected.source_url) == ("quota_exceeded", request.url)
    with pytest.raises(CloseSpider) as closed:
        next(out)
    assert closed.value.reason == "youtube_api_quotaExceeded"


# --- proxy and credentials ---------------------------------------------------------------------

PROXY = "http://user:secret@proxy.example:3128"


def sent(spider: YouTubeSpider, request: Request) -> Request:
    """``request`` after the credentials middleware, as the downloader would send it."""
    CredentialsMiddleware.from_crawler(spider.crawler).process_request(request)
    return request


def test_proxy_setting_reaches_web_and_api_requests():
    web = make_spider({"MICROSCOUT_PROXY": PROXY}, tags="x")
    api = make_spider({"MICROSCOUT_YOUTUBE_API_KEY": KEY, "MICROSCOUT_PROXY": PROXY}, tags="x")
    profile = ProfileItem(platform="youtube", handle="x", platform_user_id="UC" + "x" * 22)
    requests = [(web, web.hashtag_request("x")), (web, web.continuation_request("t", "x", 2, 30)),
                (web, web.channel_request("x", "handles")), (api, api.api_search_request("x")),
                (api, api.api_channels_request(["UC" + "x" * 22], "x")),
                (api, api.api_channel_videos_request(profile)),
                (api, api.api_videos_request(profile, ["v"]))]
    assert [sent(spider, r).meta["proxy"] for spider, r in requests] == [PROXY] * len(requests)
    assert "proxy" not in sent(make_spider(tags="x"), web.hashtag_request("y")).meta


LIVE = {"base_url": "https://www.youtube.com", "api_base": "https://www.googleapis.com/youtube/v3"}


def test_api_key_goes_to_the_api_host_only():
    spider = make_spider({"MICROSCOUT_YOUTUBE_API_KEY": KEY}, tags="x", **LIVE)
    (credential,) = spider.credentials()
    assert credential.host == "www.googleapis.com"
    assert KEY not in repr(credential)
    assert sent(spider, spider.api_search_request("x")).headers[yt.API_KEY_HEADER] == KEY.encode()
    elsewhere = [spider.hashtag_request("x"), spider.channel_request("x", "handles"),
                 spider.continuation_request("t", "x", 2, 30),
                 Request("https://youtube.googleapis.com/youtube/v3/search"),
                 Request("https://www.googleapis.com.evil.example/youtube/v3/search"),
                 Request("http://www.googleapis.com/youtube/v3/search"),  # not on plain http
                 Request("https://www.google.com/sorry/index")]
    for request in elsewhere:
        assert yt.API_KEY_HEADER.encode() not in sent(spider, request).headers, request.url
        assert KEY not in json.dumps(request.cookies)
    assert sent(spider, spider.channel_request("x", "handles")).cookies == {"SOCS": "CAE="}


def test_api_key_is_not_sent_when_the_web_is_crawled():
    spider = make_spider({"MICROSCOUT_YOUTUBE_API_KEY": KEY}, tags="x", source="web", **LIVE)
    assert spider.credentials() == []
    request = sent(spider, Request("https://www.googleapis.com/youtube/v3/search"))
    assert yt.API_KEY_HEADER.encode() not in request.headers


def test_a_sandbox_base_url_takes_the_data_api_and_the_key_with_it():
    """With ``base_url`` at a sandbox and no ``api_base``, the Data API (and so the key) is the
    sandbox's /youtube/v3, never Google's; run_args name the host the key goes to."""
    crawler = get_crawler(YouTubeSpider, settings_dict={"MICROSCOUT_YOUTUBE_API_KEY": KEY})
    spider = YouTubeSpider.from_crawler(crawler, base_url=BASE, tags="vegan", handles="@alice")
    crawler.spider = spider
    crawler.stats.open_spider()
    assert spider.api_base == API
    (credential,) = spider.credentials()
    assert credential.host == "127.0.0.1:8799"
    requests = start(spider)
    assert {urlsplit(r.url).netloc for r in requests} == {"127.0.0.1:8799"}
    assert all(r.url.startswith(f"{API}/") for r in requests)
    assert all(r.headers[yt.API_KEY_HEADER] == KEY.encode() for r in requests)
    args = json.loads(json.dumps(spider.run_args))
    assert (args["api_base"], args["credential_hosts"]) == (API, ["127.0.0.1:8799"])
    assert KEY not in json.dumps(args)
    assert spider.allowed_domains == ["127.0.0.1"]


@pytest.mark.parametrize(("kwargs", "api_base"), [
    ({}, "https://www.googleapis.com/youtube/v3"),
    ({"base_url": "https://m.youtube.com"}, "https://www.googleapis.com/youtube/v3"),
    ({"base_url": "https://yt.example"}, "https://yt.example/youtube/v3"),
    ({"base_url": BASE, "api_base": "https://api.example/yt/v3"}, "https://api.example/yt/v3"),
])
def test_api_base_follows_the_base_url_unless_given(kwargs, api_base):
    spider = YouTubeSpider(tags="vegan", **kwargs)
    assert spider.api_base == api_base
    assert spider.run_args["api_base"] == api_base


def test_no_credential_no_credential_hosts():
    assert "credential_hosts" not in make_spider(tags="x").run_args  # the web: no key sent
    keyed = make_spider({"MICROSCOUT_YOUTUBE_API_KEY": KEY}, tags="x", **LIVE)
    assert keyed.run_args["credential_hosts"] == ["www.googleapis.com"]


# --- end to end ------------------------------------------------------------------------------

FAST = {"MICROSCOUT_RATE_LIMIT_YOUTUBE": 0, "MICROSCOUT_MAX_RETRY_AFTER": 0.05,
        "MICROSCOUT_RATELIMIT_DEFAULT_WAIT": 0.05, "RETRY_TIMES": 6, "LOG_LEVEL": "INFO"}
SWEEP = {"max_pages": "2", "recent_posts": "5", "min_followers": str(LO),
         "max_followers": str(HI), "block_backoff": "0.05"}
NO_ROBOTS = {"ROBOTSTXT_OBEY": False}  # youtube.com's robots.txt disallows /youtubei/


def crawl(base_url: str, settings: dict | None = None, *, pipelines: bool = False, **kwargs):
    base = FAST if pipelines else {**FAST, "ITEM_PIPELINES": {}}
    return run_spider("youtube", {**base, **(settings or {})}, use_project_settings=True,
                      base_url=base_url, api_base=f"{base_url}/youtube/v3",
                      **{"tags": top_tag(), **SWEEP, **kwargs})


def of_kind(items, kind: str) -> list[dict]:
    tests = {"sighting": lambda i: "position" in i, "profile": lambda i: "followers" in i,
             "rejected": lambda i: "reason" in i}
    return [i for i in items if tests[kind](i)]


def listing(n: int, tag: str | None = None) -> tuple[list[str], list]:
    """(the tag's first ``n`` video ids, their channels' accounts in first-seen order)."""
    w = world()
    pids = list(reversed(w.tag_post_ids(tag or top_tag())))[:n]
    owners = dict.fromkeys(w.post(p).account_index for p in pids)
    return [YouTubeApp.video_id(w.post(p)) for p in pids], [w.account(i) for i in owners]


def shown(followers: int) -> int:
    """A subscriber count as YouTube shows it: rounded down to three significant figures."""
    text = str(followers)
    return int(text[:3].ljust(len(text), "0"))


def web_expected(accounts) -> set[str]:
    """The channels a web sweep keeps: the count the page shows in range; hidden counts are
    kept (the pipelines quarantine them)."""
    return {a.username.lower() for a in accounts
            if app().hidden_subscribers(a) or LO <= shown(a.followers) <= HI}


def knobs(base_url: str, **values: str) -> dict:
    from urllib.request import urlopen

    query = "&".join(f"{k}={v}" for k, v in values.items())
    with urlopen(f"{base_url}/__platform__/knobs?{query}", timeout=5) as answer:
        return json.loads(answer.read())


@pytest.fixture(scope="module")
def sandbox():
    from crawler.sandbox.server import SandboxProcess

    with SandboxProcess(accounts=ACCOUNTS, seed=SEED, platform="youtube",
                        rate_limit=1_000_000) as process:
        yield process


@pytest.fixture(scope="module")
def web_sweep(sandbox):
    return crawl(sandbox.base_url, NO_ROBOTS)


@pytest.mark.slow
def test_web_sweep_pages_through_continuations_and_keeps_in_range_channels(web_sweep):
    videos, accounts = listing(60)
    sightings = of_kind(web_sweep, "sighting")
    assert [(s["position"], s["post_id"]) for s in sightings] == list(enumerate(videos))
    assert web_sweep.stats["downloader/request_method_count/POST"] == 1
    profiles = of_kind(web_sweep, "profile")
    assert {p["handle"] for p in profiles} == web_expected(accounts)
    assert len(profiles) == len({p["handle"] for p in profiles})
    assert web_sweep.stats["microscout/youtube/authors_requested"] == len(accounts)
    for profile in profiles:
        assert profile["locale"] == "en"
        assert profile["followers"] is None or profile["followers"].endswith("subscribers")
        posts = profile["recent_posts"]
        assert len(posts) == min(5, world().account_by_username(profile["handle"]).post_count)
        assert all(p["views"].endswith(("views", "view")) and p["posted_at_precision"]
                   for p in posts)
    assert of_kind(web_sweep, "rejected") == []


@pytest.mark.slow
def test_consent_and_bot_checks_are_quarantined_and_robots_txt_stops_the_continuation(sandbox):
    knobs(sandbox.base_url, consent="0.15", bot_check="0.15", scope="profiles")
    try:
        items = crawl(sandbox.base_url)  # ROBOTSTXT_OBEY as the project has it: on
        served = knobs(sandbox.base_url)["served"]
    finally:
        knobs(sandbox.base_url, consent="0", bot_check="0", scope="all")
    videos, accounts = listing(30)
    assert [s["post_id"] for s in of_kind(items, "sighting")] == videos  # first page only
    blocks = BlockInjector(("consent", "bot_check", "captcha"), SEED)
    blocks.configure({"consent": "0.15", "bot_check": "0.15", "scope": "profiles"})
    blocked = {a.username.lower(): blocks.decide(f"/channel/{channel_id(a)}/videos?hl=en",
                                                 "profile") for a in accounts}
    assert {kind for kind in blocked.values() if kind} == {"consent", "bot_check"}
    reasons = sorted(r["reason"] for r in of_kind(items, "rejected"))
    expected = sorted(["robots_disallowed"] + [
        {"consent": "consent_required", "bot_check": "bot_check"}[k]
        for k in blocked.values() if k])
    assert reasons == expected
    assert sum(served.values()) == len(expected) - 1
    kept = web_expected([a for a in accounts if not blocked[a.username.lower()]])
    assert {p["handle"] for p in of_kind(items, "profile")} == kept
    assert items.stats["microscout/youtube/backoff_seconds"] > 0
    assert items.stats["finish_reason"] == "finished"


@pytest.mark.slow
def test_faults_with_german_pages_give_the_same_channels_and_counts(web_sweep):
    from crawler.sandbox.server import SandboxProcess
    from crawler.values import parse_count

    faults = {"429": 0.02, "500": 0.015, "503": 0.015, "truncate": 0.02}
    with SandboxProcess(accounts=ACCOUNTS, seed=SEED, platform="youtube", faults=faults,
                        rate_limit=1_000_000) as faulty:
        items = crawl(faulty.base_url, NO_ROBOTS, hl="de")
        served = faulty.stats()
    assert served["faults_total"] > 0
    assert of_kind(items, "rejected") == []

    def counts(result) -> dict:
        return {p["handle"]: (parse_count(p["followers"], p["locale"]),
                              [parse_count(v["views"], p["locale"]) for v in p["recent_posts"]])
                for p in of_kind(result, "profile")}

    german = counts(items)
    assert {p["locale"] for p in of_kind(items, "profile")} == {"de"}
    assert german == counts(web_sweep)  # "12.900 Abonnenten" reads as "12.9K subscribers"
    assert [s["post_id"] for s in of_kind(items, "sighting")] == [
        s["post_id"] for s in of_kind(web_sweep, "sighting")]
    assert items.stats.get("retry/count", 0) > 0


@pytest.mark.slow
def test_data_api_sweep_into_sqlite_keeps_the_key_out_of_logs_urls_and_cassettes(
        sandbox, sqlite_url, tmp_path):
    from tests.test_e2e_warehouse import _scalar

    recorded = tmp_path / "api.yaml"
    items = crawl(sandbox.base_url, {
        "MICROSCOUT_YOUTUBE_API_KEY": KEY, "MICROSCOUT_DATABASE_URL": sqlite_url,
        "MICROSCOUT_DB_RETRY_DELAY": 0,
        **cassette_settings(recorded, record_mode="all")}, pipelines=True)
    # the key: absent from the log, every item, every stored URL and the cassette
    assert KEY not in items.log
    assert KEY not in json.dumps(list(items), default=str)
    assert KEY not in json.dumps(items.stats, default=str)
    assert KEY not in recorded.read_text()
    assert "X-Goog-Api-Key" not in recorded.read_text()
    stored = _scalar(sqlite_url, "SELECT arguments, stats FROM crawl_runs")
    assert KEY not in json.dumps(stored, default=str)
    urls = _scalar(sqlite_url, "SELECT source_url FROM rejected_items UNION ALL "
                               "SELECT profile_url FROM profiles")
    assert all(KEY not in (url or "") for (url,) in urls)
    # the Data API was used, and the sandbox saw the key in its header
    assert items.stats["microscout/youtube/api_quota_units"] > 100
    assert knobs(sandbox.base_url)["api_keys_seen"] > 0
    videos, accounts = listing(100)
    assert [s["post_id"] for s in of_kind(items, "sighting")] == videos
    in_range = {a.username.lower() for a in accounts
                if LO <= shown(a.followers) <= HI and not app().hidden_subscribers(a)}
    hidden = {a.username.lower() for a in accounts if app().hidden_subscribers(a)}
    rows = _scalar(sqlite_url, "SELECT handle, tier, primary_niche, engagement_rate, "
                               "engagement_per_view FROM influencer_current")
    assert {handle for handle, *_ in rows} == in_range
    assert {tier for _, tier, *_ in rows} <= {"micro", "macro"}
    assert all(rate is not None and 0.02 < per_view < 0.2 for *_, rate, per_view in rows)
    assert any(niche for _, _, niche, *_ in rows)
    assert _scalar(sqlite_url, "SELECT count(*) FROM micro_influencers")[0][0] > 0
    quarantined = _scalar(sqlite_url, "SELECT reason FROM rejected_items")
    assert sorted(r for (r,) in quarantined) == ["missing_followers"] * len(hidden)


CASSETTE_SWEEP = {"max_pages": "2", "max_posts": "33", "recent_posts": "3",
                  "min_followers": str(LO), "max_followers": str(HI), "block_backoff": "0"}


@pytest.mark.slow
def test_cassette_replays_the_web_sweep_offline():
    items = run_spider("youtube", {**cassette_settings(CASSETTE, match_on=MATCH_ON), **FAST,
                                   **NO_ROBOTS, "ITEM_PIPELINES": {}},
                       use_project_settings=True, base_url=BASE, api_base=API,
                       tags=cassette_tag(), **CASSETTE_SWEEP)
    assert items.stats.get("microscout/cassette/missed", 0) == 0
    assert items.stats["downloader/request_method_count/POST"] == 1  # matched by its body
    videos, accounts = listing(33, cassette_tag())
    assert [s["post_id"] for s in of_kind(items, "sighting")] == videos
    assert {p["handle"] for p in of_kind(items, "profile")} == web_expected(accounts)
    assert of_kind(items, "rejected") == []


def record() -> None:
    """Re-record the cassette from the sandbox on port 8799."""
    from crawler.sandbox.server import SandboxProcess

    CASSETTE.unlink(missing_ok=True)
    with SandboxProcess(accounts=ACCOUNTS, seed=SEED, platform="youtube", port=8799,
                        rate_limit=1_000_000):
        items = run_spider(
            "youtube", {**cassette_settings(CASSETTE, record_mode="once", match_on=MATCH_ON),
                        **FAST, **NO_ROBOTS, "ITEM_PIPELINES": {}},
            use_project_settings=True, base_url=BASE, api_base=API, tags=cassette_tag(),
            **CASSETTE_SWEEP)
    print(f"recorded {items.stats.get('microscout/cassette/recorded')} interactions to {CASSETTE}")


if __name__ == "__main__":
    record()
