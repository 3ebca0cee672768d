"""The tiktok spider: arguments, callbacks on real and sandbox bodies, end-to-end crawls.

* Arguments and the request plan on the spider object alone.
* Callbacks fed bodies from the real capture (../shared/realworld/tiktok) and from the TikTok
  sandbox app built in-process (``crawler.sandbox.tiktok.TikTokApp``).
* End-to-end: crawls of ``SandboxProcess(platform="tiktok")`` through the real engine in a
  subprocess (``tests.crawl_helpers.run_spider``) compared with ``World``: clean, with
  captchas injected, with 5% 429/5xx, through every pipeline into SQLite, and replayed from
  ``cassettes/sandbox_tiktok_sweep.yaml`` (re-record: ``python -m tests.test_spider_tiktok``).
"""

from __future__ import annotations

import asyncio
import json
from functools import cache
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from crawler.cassette import cassette_settings
from crawler.credentials import CredentialsMiddleware
from crawler.items import HashtagSightingItem, ProfileItem, RejectedItem
from crawler.middlewares import RateLimitMiddleware
from crawler.sandbox.common import Request as SandboxRequest
from crawler.sandbox.tiktok import BlockInjector, TikTokApp, video_numbers
from crawler.sandbox.world import World
from crawler.spiders.base import SpiderArgs
from crawler.spiders.tiktok import TikTokSpider
from tests.conftest import realworld
from tests.crawl_helpers import run_spider
from tests.spider_helpers import run_callback

ACCOUNTS, SEED = 200, 7
BASE = "http://127.0.0.1:8798"  # also the cassette's recording port
CASSETTE = Path(__file__).resolve().parents[1] / "cassettes" / "sandbox_tiktok_sweep.yaml"
LO, HI = 1_000, 100_000


@cache
def world() -> World:
    return World(ACCOUNTS, SEED)


@cache
def app() -> TikTokApp:
    return TikTokApp(world())


def make_spider(settings: dict | None = None, **kwargs) -> TikTokSpider:
    crawler = get_crawler(TikTokSpider, settings_dict={"RETRY_TIMES": 2, **(settings or {})})
    spider = TikTokSpider.from_crawler(crawler, **{"base_url": BASE, **kwargs})
    crawler.spider = spider
    crawler.stats.open_spider()
    return spider


def sandbox_response(request: Request, knobs: dict | None = None) -> TextResponse:
    """What the sandbox app answers to ``request`` (in-process, no HTTP)."""
    parts = urlsplit(request.url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    sandbox = app()
    if knobs is not None:
        sandbox = TikTokApp(world())
        sandbox.configure(knobs)
    answer = sandbox.handle(SandboxRequest("GET", parts.path, query, BASE, target))
    cls = HtmlResponse if answer.content_type.startswith("text/html") else TextResponse
    return cls(url=request.url, status=answer.status, body=answer.body, request=request,
               headers={"Content-Type": answer.content_type}, encoding="utf-8")


def top_tag() -> str:
    """The tag whose first 70 listing videos have the most distinct authors."""
    w = world()
    return max(sorted(w.tags()), key=lambda t: len({w.post(pid).account_index
                                                     for pid in list(reversed(w.tag_post_ids(t)))[:70]}))


# --- arguments ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tags": "ok", "base_url": "ftp://www.tiktok.com"}, "base_url must be a URL"),
        ({"tags": "ok", "base_url": "https://www.tiktok.com/foryou"}, "without a path"),
        ({"tags": "ok", "hl": "en; drop"}, "hl must be a language code"),
        ({"tags": "ok", "block_backoff": "soon"}, "block_backoff must be a number"),
        ({"tags": "ok", "block_backoff": "-1"}, "block_backoff must be at least 0"),
        ({"tags": "ok", "listing": "recent"}, "listing must be one of top"),
        ({"tags": "ok", "recent_posts": "36"}, "recent_posts must be at most 35"),
        ({"handles": "https://www.tiktok.com/tag/vegan"}, "is not a TikTok profile URL"),
        ({"handles": "bad handle!"}, "is not a TikTok username"),
        ({"tags": "ok", "api_base": "x"}, "unknown argument(s) api_base"),
    ],
)
def test_bad_argument_is_a_one_line_error(kwargs, message):
    with pytest.raises(ValueError, match=r"^[^\n]+$") as caught:
        TikTokSpider(**kwargs)
    assert message in str(caught.value)


def test_arguments_defaults_and_allowed_domains():
    spider = TikTokSpider(tags="#Vegan", handles="@Alice,https://www.tiktok.com/@bob/video/1")
    assert spider.args == SpiderArgs(tags=["vegan"], handles=["alice", "bob"], listing="top")
    assert (spider.base_url, spider.hl, spider.block_backoff) == (
        "https://www.tiktok.com", "en", 60.0)
    assert spider.allowed_domains == ["tiktok.com"]  # www. and its redirects to m., vm.
    assert TikTokSpider(tags="x", base_url="http://127.0.0.1:8798").allowed_domains == [
        "127.0.0.1"]
    run_args = json.loads(json.dumps(TikTokSpider(tags="x", hl="de").run_args))
    assert run_args.items() >= {
        "platform": "tiktok", "tags": ["x"], "handles": [], "max_pages": 5, "max_posts": 200,
        "recent_posts": 20, "listing": "top", "base_url": "https://www.tiktok.com", "hl": "de",
        "block_backoff": 60.0}.items()


def test_start_requests_plan():
    spider = TikTokSpider(tags="vegan,plantbased", handles="alice", base_url=BASE, hl="de")

    async def collect():
        return [request.url async for request in spider.start()]

    assert asyncio.run(collect()) == [
        f"{BASE}/tag/vegan?lang=de", f"{BASE}/tag/plantbased?lang=de", f"{BASE}/@alice?lang=de"]


# --- callbacks ------------------------------------------------------------------------------


def test_tag_page_leads_to_the_challenge_listing():
    spider = make_spider(tags=top_tag())
    request = spider.tag_request(top_tag())
    (listing,) = run_callback(request, sandbox_response(request))
    query = parse_qs(urlsplit(listing.url).query)
    assert urlsplit(listing.url).path == "/api/challenge/item_list/"
    assert (query["cursor"], query["count"]) == (["0"], ["35"])
    assert query["challengeID"] == [app().challenge_id(top_tag())]


def listing_request(spider: TikTokSpider, tag: str) -> Request:
    (request,) = run_callback(first := spider.tag_request(tag), sandbox_response(first))
    return request


def test_listing_yields_sightings_profile_requests_and_the_next_page():
    tag = top_tag()
    spider = make_spider(tags=tag, min_followers=str(LO), max_followers=str(HI))
    request = listing_request(spider, tag)
    out = run_callback(request, sandbox_response(request))
    sightings = [o for o in out if isinstance(o, HashtagSightingItem)]
    requests = [o for o in out if isinstance(o, Request)]
    newest = [str(p) for p in reversed(world().tag_post_ids(tag))][:35]
    assert [(s.position, s.post_id) for s in sightings] == list(enumerate(newest))
    assert all(s.seen_at is not None and s.listing == "top" for s in sightings)
    profiles = [r for r in requests if r.callback == spider.parse_profile]
    authors = list(dict.fromkeys(world().post_by_id(p).account_index for p in newest))
    in_range = [world().username(i).lower() for i in authors if LO <= world().followers(i) <= HI]
    assert [r.cb_kwargs["handle"] for r in profiles] == in_range
    assert all(r.cb_kwargs["sec_uid"].startswith("MS4wLjABAAAA") for r in profiles)
    skipped = spider.crawler.stats.get_value("microscout/tiktok/skipped_out_of_range", 0)
    assert skipped == len(authors) - len(in_range)
    (next_page,) = [r for r in requests if r.callback == spider.parse_listing]
    assert parse_qs(urlsplit(next_page.url).query)["cursor"] == ["35"]
    assert next_page.cb_kwargs["offset"] == 35
    # each author once a run
    again = run_callback(request, sandbox_response(request))
    assert not [r for r in again if isinstance(r, Request) and r.callback == spider.parse_profile]


def test_listing_stops_at_max_posts():
    tag = top_tag()
    spider = make_spider(tags=tag, max_posts="10")
    request = listing_request(spider, tag)
    out = run_callback(request, sandbox_response(request))
    assert len([o for o in out if isinstance(o, HashtagSightingItem)]) == 10
    assert not [o for o in out if isinstance(o, Request) and o.callback == spider.parse_listing]


def test_profile_then_post_list_make_one_profile_with_views():
    account = next(a for a in world().accounts if a.post_count >= 8)
    spider = make_spider(handles=account.username, recent_posts="5")
    request = spider.profile_request(account.username.lower(), None, "handles")
    (posts_request,) = run_callback(request, sandbox_response(request))
    assert parse_qs(urlsplit(posts_request.url).query)["count"] == ["5"]
    (profile,) = run_callback(posts_request, sandbox_response(posts_request))
    assert isinstance(profile, ProfileItem)
    assert (profile.handle, profile.followers, profile.discovered_via, profile.locale) == (
        account.username.lower(), str(account.followers), "handles", "en")
    expected = world().posts(account)[:5]
    assert [p.post_id for p in profile.recent_posts] == [p.id for p in expected]
    assert [p.views for p in profile.recent_posts] == [
        str(video_numbers(SEED, p)["views"]) for p in expected]


def test_real_profile_page_statsv2_wins_and_posts_come_from_the_list():
    info = json.loads(realworld("tiktok", "scrapfly_universal_data_webapp_user_detail_"
                                          "userInfo_2026.json").read_text())[0]
    page = {"__DEFAULT_SCOPE__": {"webapp.user-detail": {"userInfo": info, "statusCode": 0}}}
    html = ('<html lang="en"><script id="__UNIVERSAL_DATA_FOR_REHYDRATION__" type="application/'
            f'json">{json.dumps(page)}</script></html>').encode()
    spider = make_spider(handles="oddanimalspecimens")
    request = spider.profile_request("oddanimalspecimens", None, "handles")
    (posts_request,) = run_callback(request, HtmlResponse(request.url, body=html, request=request))
    assert posts_request.cb_kwargs["profile"].followers == "4001943"  # not stats' 4000000
    assert parse_qs(urlsplit(posts_request.url).query)["secUid"] == [info["user"]["secUid"]]


def test_profile_page_with_its_videos_needs_no_post_list():
    html = realworld("tiktok", "drawrowfly_profile_NEXT_DATA_tiktok_2021.html").read_bytes()
    spider = make_spider(handles="tiktok", recent_posts="2")
    request = spider.profile_request("tiktok", None, "handles")
    (profile,) = run_callback(request, HtmlResponse(request.url, body=html, request=request))
    assert (profile.handle, profile.followers, len(profile.recent_posts)) == ("tiktok", 50100000, 2)


def test_exact_count_out_of_range_is_dropped_after_the_profile_page():
    account = next(a for a in world().accounts if a.followers > 200_000)
    spider = make_spider(handles=account.username, max_followers=str(HI))
    request = spider.profile_request(account.username.lower(), None, "handles")
    assert run_callback(request, sandbox_response(request)) == []
    assert spider.crawler.stats.get_value("microscout/tiktok/skipped_out_of_range") == 1


def test_captcha_is_quarantined_and_pauses_the_host():
    spider = make_spider(handles="alice", block_backoff="2")
    limiter = RateLimitMiddleware.from_crawler(spider.crawler)  # the crawl's, found by of()
    account = world().accounts[0]
    request = spider.profile_request(account.username.lower(), None, "handles")
    response = sandbox_response(request, knobs={"captcha": "1"})
    (rejected,) = run_callback(request, response)
    assert isinstance(rejected, RejectedItem)
    assert (rejected.reason, rejected.source_url, rejected.item_type) == (
        "captcha", request.url, "ProfileItem")
    assert 1.9 < limiter.slots.paused_for("127.0.0.1") <= 2.0
    run_callback(request, response)  # a second in a row doubles the pause
    assert 3.9 < limiter.slots.paused_for("127.0.0.1") <= 4.0
    stats = spider.crawler.stats
    assert stats.get_value("microscout/tiktok/blocked/captcha") == 2
    assert stats.get_value("microscout/tiktok/backoff_seconds") == 6.0


def test_captcha_on_the_post_list_keeps_the_profile_without_posts():
    account = next(a for a in world().accounts if a.post_count >= 8)
    spider = make_spider(handles=account.username)
    request = spider.profile_request(account.username.lower(), None, "handles")
    (posts_request,) = run_callback(request, sandbox_response(request))
    rejected, profile = run_callback(posts_request,
                                     sandbox_response(posts_request, knobs={"captcha": "1"}))
    assert rejected.reason == "captcha"
    assert (profile.handle, profile.recent_posts) == (account.username.lower(), [])


def test_truncated_body_is_retried_then_quarantined():
    spider = make_spider(tags="x")
    request = spider.tag_request("x")
    cut = sandbox_response(request)
    cut = cut.replace(body=cut.body[: len(cut.body) // 2])
    (retry,) = run_callback(request, cut)
    assert retry.meta["retry_times"] == 1
    retry = run_callback(retry, cut.replace(request=retry))[0]
    (rejected,) = run_callback(retry, cut.replace(request=retry))
    assert rejected.reason == "unreadable_body"


def test_unknown_account_is_unavailable_not_an_empty_profile():
    spider = make_spider(handles="nobody_here")
    request = spider.profile_request("nobody_here", None, "handles")
    (rejected,) = run_callback(request, sandbox_response(request))
    assert rejected.reason == "unavailable"


def test_failed_post_list_still_yields_the_profile():
    spider = make_spider(handles="x")
    profile = ProfileItem(platform="tiktok", handle="x", followers="10")
    request = spider.posts_request(profile, "MS4wLjABAAAAx")
    response = TextResponse(request.url, status=500, body=b"oops", request=request)
    failure = Failure(HttpError(response))
    failure.request = request  # type: ignore[attr-defined]
    rejected, kept = list(spider.on_error(failure))
    assert (rejected.reason, kept) == ("request_failed", profile)


# --- proxy and credentials ---------------------------------------------------------------------

PROXY = "http://user:secret@proxy.example:3128"


def sent(spider: TikTokSpider, request: Request) -> Request:
    """``request`` after the credentials middleware, as the downloader would send it."""
    CredentialsMiddleware.from_crawler(spider.crawler).process_request(request)
    return request


def test_proxy_setting_reaches_every_request():
    spider = make_spider({"MICROSCOUT_PROXY": PROXY}, tags="x")
    profile = ProfileItem(platform="tiktok", handle="x")
    requests = [spider.tag_request("x"), spider.listing_request("x", "1", 0, 1, 0),
                spider.profile_request("x", None, "handles"), spider.posts_request(profile, "s")]
    assert [sent(spider, r).meta["proxy"] for r in requests] == [PROXY] * 4
    assert "proxy" not in spider.tag_request("y").meta  # set by the middleware, not the spider
    assert "proxy" not in sent(make_spider(tags="x"), spider.tag_request("z")).meta


def test_tiktok_sends_no_credentials():
    spider = make_spider(tags="x", base_url="https://www.tiktok.com")
    assert spider.credentials() == []
    request = sent(spider, spider.profile_request("x", None, "handles"))
    assert request.cookies == {}
    assert not {b"Authorization", b"Cookie"} & set(request.headers)


# --- end to end ------------------------------------------------------------------------------

FAST = {"MICROSCOUT_RATE_LIMIT_TIKTOK": 0, "MICROSCOUT_MAX_RETRY_AFTER": 0.05,
        "MICROSCOUT_RATELIMIT_DEFAULT_WAIT": 0.05, "RETRY_TIMES": 6, "LOG_LEVEL": "INFO"}
SWEEP = {"max_pages": "2", "recent_posts": "5", "min_followers": str(LO),
         "max_followers": str(HI), "block_backoff": "0.05"}


def crawl(base_url: str, settings: dict | None = None, *, pipelines: bool = False, **kwargs):
    base = FAST if pipelines else {**FAST, "ITEM_PIPELINES": {}}
    return run_spider("tiktok", {**base, **(settings or {})}, use_project_settings=True,
                      base_url=base_url, **{"tags": top_tag(), **SWEEP, **kwargs})


def of_kind(items, kind: str) -> list[dict]:
    tests = {"sighting": lambda i: "position" in i, "profile": lambda i: "followers" in i,
             "rejected": lambda i: "reason" in i}
    return [i for i in items if tests[kind](i)]


def expected_sweep() -> tuple[list[str], list[str]]:
    """(listing post ids in order, in-range authors' handles in first-seen order)."""
    w = world()
    posts = [str(p) for p in reversed(w.tag_post_ids(top_tag()))][:70]
    authors = dict.fromkeys(w.post_by_id(p).account_index for p in posts)
    handles = [w.username(i).lower() for i in authors if LO <= w.followers(i) <= HI]
    return posts, handles


def knobs(base_url: str, **values: str) -> dict:
    from urllib.request import urlopen

    query = "&".join(f"{k}={v}" for k, v in values.items())
    with urlopen(f"{base_url}/__platform__/knobs?{query}", timeout=5) as answer:
        return json.loads(answer.read())


@pytest.fixture(scope="module")
def sandbox():
    from crawler.sandbox.server import SandboxProcess

    with SandboxProcess(accounts=ACCOUNTS, seed=SEED, platform="tiktok",
                        rate_limit=1_000_000) as process:
        yield process


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> str:
    from models import migrate

    url = f"sqlite:///{tmp_path_factory.mktemp('tiktok') / 'warehouse.sqlite'}"
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="module")
def sweep(sandbox, warehouse):
    """The clean sweep, through every pipeline into ``warehouse`` (one crawl serves the
    spider-level and the warehouse checks: items are collected after the pipelines)."""
    return crawl(sandbox.base_url, {"MICROSCOUT_DATABASE_URL": warehouse,
                                    "MICROSCOUT_DB_RETRY_DELAY": 0}, pipelines=True)


@pytest.mark.slow
def test_sweep_sightings_and_one_profile_per_in_range_author(sweep):
    posts, handles = expected_sweep()
    sightings = of_kind(sweep, "sighting")
    assert [(s["position"], s["post_id"], s["hashtag"]) for s in sightings] == [
        (i, p, top_tag()) for i, p in enumerate(posts)]
    profiles = of_kind(sweep, "profile")
    assert sorted(p["handle"] for p in profiles) == sorted(handles)
    assert of_kind(sweep, "rejected") == []
    w = world()
    for profile in profiles:
        account = w.account_by_username(profile["handle"])
        assert profile["followers"] == account.followers  # the exact statsV2, normalised
        assert profile["discovered_via"] == top_tag()
        assert profile["locale"] == "en"
        assert [p["post_id"] for p in profile["recent_posts"]] == [
            p.id for p in w.posts(account)[:5]]
        assert [p["views"] for p in profile["recent_posts"]] == [
            video_numbers(SEED, p)["views"] for p in w.posts(account)[:5]]
        assert {p["posted_at_precision"] for p in profile["recent_posts"]} == {"exact"}
    assert sweep.stats["finish_reason"] == "finished"


@pytest.mark.slow
def test_sweep_loads_tiers_niches_and_view_engagement(sweep, warehouse):
    from tests.test_e2e_warehouse import _scalar

    posts, handles = expected_sweep()
    assert _scalar(warehouse, "SELECT count(*) FROM profiles WHERE platform = 'tiktok'") == [
        (len(handles),)]
    rows = _scalar(warehouse, "SELECT handle, tier, primary_niche, engagement_rate, "
                              "engagement_per_view FROM influencer_current")
    assert len(rows) == len(handles)
    assert {tier for _, tier, *_ in rows} <= {"micro", "macro"}  # 1,000 to 100,000 followers
    assert all(rate is not None and per_view is not None for *_, rate, per_view in rows)
    assert all(0.02 < per_view < 0.2 for *_, per_view in rows)  # the sandbox's 3-14% a video
    assert any(niche is not None for _, _, niche, *_ in rows)
    assert _scalar(warehouse, "SELECT count(*) FROM micro_influencers")[0][0] > 0
    assert _scalar(warehouse, "SELECT count(*) FROM hashtag_sightings") == [(len(posts),)]
    assert _scalar(warehouse, "SELECT count(*) FROM posts WHERE views IS NULL") == [(0,)]
    assert _scalar(warehouse, "SELECT status FROM crawl_runs") == [("ok",)]


@pytest.mark.slow
def test_captchas_are_quarantined_backed_off_and_the_crawl_goes_on(sandbox):
    knobs(sandbox.base_url, captcha="0.3", scope="profiles")
    try:
        items = crawl(sandbox.base_url)
        served = knobs(sandbox.base_url)["served"].get("captcha", 0)
    finally:
        knobs(sandbox.base_url, captcha="0", scope="all")
    _, handles = expected_sweep()
    blocks = BlockInjector(("captcha",), SEED)
    blocks.configure({"captcha": "0.3", "scope": "profiles"})
    blocked = {h for h in handles if blocks.decide(f"/@{h}?lang=en", "profile")}
    assert blocked, "the knob blocked some profile pages"
    rejected = of_kind(items, "rejected")
    assert {r["reason"] for r in rejected} == {"captcha"}
    assert len(rejected) == served
    assert {p["handle"] for p in of_kind(items, "profile")} == set(handles) - blocked
    assert len(of_kind(items, "sighting")) == len(expected_sweep()[0])  # never blocked
    assert items.stats["microscout/tiktok/blocked/captcha"] == served
    assert items.stats["microscout/tiktok/backoff_seconds"] > 0
    assert items.stats["finish_reason"] == "finished"


@pytest.mark.slow
def test_faults_at_five_percent_give_the_same_profiles(sweep):
    from crawler.sandbox.server import SandboxProcess

    faults = {"429": 0.02, "500": 0.015, "503": 0.015, "truncate": 0.02}
    with SandboxProcess(accounts=ACCOUNTS, seed=SEED, platform="tiktok", faults=faults,
                        rate_limit=1_000_000) as faulty:
        items = crawl(faulty.base_url)
        served = faulty.stats()
    assert served["faults_total"] > 0
    assert sorted(p["handle"] for p in of_kind(items, "profile")) == sorted(
        p["handle"] for p in of_kind(sweep, "profile"))
    key = lambda s: (s["position"], s["post_id"])  # noqa: E731
    assert sorted(map(key, of_kind(items, "sighting"))) == sorted(map(key, of_kind(sweep,
                                                                                    "sighting")))
    assert of_kind(items, "rejected") == []
    assert items.stats.get("retry/count", 0) > 0


CASSETTE_SWEEP = {"max_pages": "1", "max_posts": "12", "recent_posts": "3",
                  "min_followers": str(LO), "max_followers": str(HI), "block_backoff": "0"}


@pytest.mark.slow
def test_cassette_replays_the_sweep_offline():
    items = run_spider("tiktok", {**cassette_settings(CASSETTE), **FAST, "ITEM_PIPELINES": {}},
                       use_project_settings=True, base_url=BASE, tags=top_tag(),
                       **CASSETTE_SWEEP)
    assert items.stats.get("microscout/cassette/missed", 0) == 0
    assert items.stats["microscout/cassette/played"] > 3
    posts, _ = expected_sweep()
    assert [s["post_id"] for s in of_kind(items, "sighting")] == posts[:12]
    w = world()
    authors = dict.fromkeys(w.post_by_id(p).account_index for p in posts[:12])
    assert sorted(p["handle"] for p in of_kind(items, "profile")) == sorted(
        w.username(i).lower() for i in authors if LO <= w.followers(i) <= HI)
    assert of_kind(items, "rejected") == []


def record() -> None:
    """Re-record the cassette from the sandbox on port 8798."""
    from crawler.sandbox.server import SandboxProcess

    CASSETTE.unlink(missing_ok=True)
    with SandboxProcess(accounts=ACCOUNTS, seed=SEED, platform="tiktok", port=8798,
                        rate_limit=1_000_000):
        items = run_spider(
            "tiktok", {**cassette_settings(CASSETTE, record_mode="once"), **FAST,
                       "ITEM_PIPELINES": {}},
            use_project_settings=True, base_url=BASE, tags=top_tag(), **CASSETTE_SWEEP)
    print(f"recorded {items.stats.get('microscout/cassette/recorded')} interactions to {CASSETTE}")


if __name__ == "__main__":
    record()
