"""The Instagram Graph API route (``-a source=graph``): parser, spider, sandbox, end to end.

* Parser: every ``python-facebook_graph_*`` recording in ../shared/realworld/instagram, values
  asserted as the files hold them; error bodies, usage headers, caption candidates, and the
  author-share measurement on the recordings (docs/instagram.md quotes it).
* Spider: arguments, where the token goes, the request plan (ledger in memory without a
  warehouse), callbacks fed the sandbox app's answers in-process, errors and usage pauses.
* Sandbox: the Graph API routes of ``crawler.sandbox.instagram.InstagramApp`` against the parser.
* End to end (slow): sweeps of ``SandboxProcess(platform="instagram")`` through the engine and
  every pipeline into SQLite (ledger rows, the 31st tag refused, a restart keeps the ledger,
  authors from an earlier sweep, token nowhere), rate limits, a dead token, and
  ``cassettes/sandbox_instagram_graph_sweep.yaml`` replayed offline into the warehouse
  (re-record: ``python -m tests.test_instagram_graph``).
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from functools import cache
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from scrapy import Request
from scrapy.exceptions import CloseSpider
from scrapy.http import TextResponse
from scrapy.utils.test import get_crawler

from crawler.cassette import cassette_settings
from crawler.credentials import CredentialsMiddleware
from crawler.errors import BlockedPage
from crawler.items import HashtagSightingItem, PostItem, ProfileItem, RejectedItem
from crawler.parsers import instagram as ig
from crawler.parsers import instagram_graph as graph
from crawler.sandbox import instagram_graph as sandbox_graph
from crawler.sandbox.common import Request as SandboxRequest
from crawler.sandbox.instagram import InstagramApp
from crawler.sandbox.world import EPOCH, World
from crawler.spiders.instagram_graph import InstagramGraphSpider, lookup_authors
from tests.conftest import REALWORLD, realworld
from tests.crawl_helpers import run_spider
from tests.spider_helpers import run_callback

ACCOUNTS, SEED = 200, 7
BASE = "http://127.0.0.1:8823"  # also the cassette's recording port
GRAPH = f"{BASE}/graph/v21.0"
TOKEN = "EAAGm0PX4ZCpsBAGraphSandboxToken0123456789abcdef"
USER = "17841499999999999"
CASSETTE = Path(__file__).resolve().parents[1] / "cassettes" / "sandbox_instagram_graph_sweep.yaml"
SETTINGS = {"MICROSCOUT_INSTAGRAM_GRAPH_TOKEN": TOKEN, "MICROSCOUT_INSTAGRAM_GRAPH_USER_ID": USER,
            "MICROSCOUT_DATABASE_URL": "", "RETRY_TIMES": 2}


def capture(name: str) -> dict:
    return json.loads(realworld("instagram", name).read_text(encoding="utf-8"))


USER_BODY = "python-facebook_graph_business_discovery_user_facebook_2019.json"
MEDIA_BODY = "python-facebook_graph_business_discovery_media_p1_facebook_2019.json"
SEARCH_BODY = "python-facebook_graph_ig_hashtag_search_developers_2021.json"
TOP_BODY = "python-facebook_graph_hashtag_top_media_p1_love_2020.json"
RECENT_BODY = "python-facebook_graph_hashtag_recent_media_p2_love_2020.json"


# --- the parser on the recordings -----------------------------------------------------------------


def test_business_discovery_user_is_one_profile_with_the_files_counts():
    (profile,) = ig.parse_document(realworld("instagram", USER_BODY).read_bytes())
    assert isinstance(profile, ProfileItem)
    assert (profile.handle, profile.platform_user_id, profile.display_name) == (
        "facebook", "1807199", "Facebook")  # ig_id: the id the web pages use
    assert (profile.followers, profile.following, profile.posts_count) == (3502538, 9, 360)
    assert profile.bio == "Let's find more that brings us together."
    assert profile.external_url == "http://www.facebook.com/"
    assert profile.profile_url == "https://www.instagram.com/facebook/"
    assert profile.recent_posts == []
    page = graph.parse_business_discovery(capture(USER_BODY))
    assert (page.media_count, page.after) == (360, None)


def test_business_discovery_media_page_posts_and_cursor():
    data = capture(MEDIA_BODY)
    posts = ig.parse_document(data)
    assert len(posts) == 5
    assert all(isinstance(p, PostItem) for p in posts)
    first = posts[0]
    assert (first.post_id, first.likes, first.comments) == ("17859633232647524", 9857, 287)
    assert (first.posted_at, first.posted_at_precision) == ("2019-12-27T00:20:34+0000", "exact")
    assert (first.url, first.author_handle, first.media_type) == (
        "https://www.instagram.com/p/B6jje2UnoH8/", "facebook", "image")
    assert first.hashtags == ["happyholidays", "moretogether"]
    assert [p.post_id for p in posts] == ["17859633232647524", "18076151185161297",
                                          "17851013419742635", "17845409122828229",
                                          "18030186160224276"]
    assert [p.likes for p in posts] == [9857, 9322, 11777, 5455, 6285]
    page = graph.parse_business_discovery(data)
    assert page.profile is None  # a media page names no account fields
    assert page.after == ("QVFIUkppUkVmckxKR3lHSE01djhiUl9WclJJNVo2QVJqemQ4eXlTZAFk3TS1Ubl96M09X"
                          "eXdQTUc4OENsWlRVcWlKVWZALeS00b0I4REVWN3dsWmJJcXhycGVR")


def test_hashtag_search_names_an_id_and_no_item():
    data = capture(SEARCH_BODY)
    assert graph.recognises(data)
    assert ig.parse_document(data) == []
    assert graph.hashtag_search_results(data) == [("developers", "17841562426109234")]


def test_top_media_page_posts_sightings_and_cursor():
    data = capture(TOP_BODY)
    posts = ig.parse_document(data)
    assert len(posts) == 25
    first = posts[0]
    assert (first.post_id, first.likes, first.comments, first.media_type) == (
        "18088158883149835", 997, 10, "image")
    assert first.url == "https://www.instagram.com/p/B8goRvrnwod/"
    assert first.author_handle is None
    assert first.posted_at is None
    assert graph.listing_of(None, data) == "top"  # from paging.next
    page = graph.parse_hashtag_media(data, hashtag="love", listing="top", url="u")
    assert [(s.position, s.listing, s.hashtag, s.author_handle) for s in page.sightings[:2]] == [
        (0, "top", "love", None), (1, "top", "love", None)]
    assert [s.post_id for s in page.sightings] == [p.post_id for p in posts]
    assert page.after == "after"  # the source project's placeholder for the cursor


def test_recent_media_last_page():
    data = capture(RECENT_BODY)
    posts = ig.parse_document(data)
    assert len(posts) == 25
    assert (posts[0].post_id, posts[0].media_type, posts[0].likes, posts[0].comments) == (
        "17854236841790912", "carousel", 0, 0)
    assert [p.media_type for p in posts].count("video") == 2
    page = graph.parse_hashtag_media(data, hashtag="love", listing="recent", position_offset=25)
    assert page.after is None  # no paging: the last page
    assert [s.position for s in page.sightings] == list(range(25, 50))


def test_no_recorded_graph_caption_keeps_the_at_of_a_mention():
    """The API strips the @ of mentions ("common_wild is here", "Follow officiallove.in")."""
    captions = [m.get("caption") or "" for name in (TOP_BODY, RECENT_BODY)
                for m in capture(name)["data"]]
    captions += [m["caption"] for m in capture(MEDIA_BODY)["business_discovery"]["media"]["data"]]
    assert len(captions) == 55
    assert not any("@" in c for c in captions)
    assert "common_wild is here" in captions[-1]


def test_author_share_on_the_recordings(capsys):
    """docs/instagram.md: 0 of 50 sighted media get a known author from the other recordings
    (no recorded post shares a media id or permalink with them); 15 captions name a
    candidate to verify; none carries an '@'."""
    folder = REALWORLD / "instagram"
    if not folder.is_dir():
        pytest.skip("real-world captures not available")
    assert graph.main(sorted(str(p) for p in folder.iterdir() if p.suffix in (".json", ".html"))) == 0
    out = capsys.readouterr().out
    assert "hashtag media: 50 in 2 pages; posts with an author in the other files: 41" in out
    assert "known author (same Graph id or permalink): 0 (0%)" in out
    assert "captions with an '@': 0; captions naming a candidate to verify: 15" in out


def test_caption_candidates_are_guesses_from_real_captions():
    top = {m["id"]: m.get("caption") for m in capture(TOP_BODY)["data"]}
    assert graph.caption_candidates(top["17846072587933764"]) == ["officiallove.in"]
    assert graph.caption_candidates(top["17881768807512229"]) == ["brickspacer", "art.emperor"]
    assert graph.caption_candidates(top["18088158883149835"]) == []  # "by using our Hashtag"
    assert graph.caption_candidates("Thanks @Maya_Runs and thanks leo!", 3) == ["maya_runs", "leo"]
    assert graph.caption_candidates("29.50 cm, 1.5k", 3) == []
    assert graph.caption_candidates(None) == []
    assert graph.caption_candidates("x y", 0) == []


NOT_DISCOVERABLE = {"error": {"message": "Invalid user id", "type": "OAuthException", "code": 110,
                              "error_subcode": 2207013, "is_transient": False,
                              "error_user_title": "Cannot find User",
                              "error_user_msg": "The user with username: someone cannot be found.",
                              "fbtrace_id": "AbCdEf"}}


def test_error_bodies():
    (rejected,) = ig.parse_document(json.dumps(NOT_DISCOVERABLE), url="https://graph/x")
    assert isinstance(rejected, RejectedItem)
    assert (rejected.reason, rejected.item_type, rejected.source_url) == (
        "not_discoverable", "ProfileItem", "https://graph/x")
    assert rejected.detail == ("Invalid user id: The user with username: someone cannot be found. "
                               "(OAuthException code 110, subcode 2207013)")
    for code, reason in ((4, "rate_limited"), (17, "rate_limited"), (32, "rate_limited"),
                         (613, "rate_limited"), (80002, "rate_limited"), (190, "token_invalid"),
                         (10, "permission_denied"), (200, "permission_denied")):
        body = {"error": {"message": f"(#{code}) x", "type": "OAuthException", "code": code,
                          "fbtrace_id": "t"}}
        with pytest.raises(BlockedPage) as caught:
            ig.parse_document(body)
        assert caught.value.reason == reason
    error = graph.graph_error({"error": {"message": "(#24) limit", "code": 24}})
    assert (error.reason, error.fatal) == ("hashtag_limit", False)
    assert graph.graph_error({"data": []}) is None


def test_usage_headers():
    headers = {"X-App-Usage": '{"call_count":28,"total_time":25,"total_cputime":91}',
               "X-Business-Use-Case-Usage": json.dumps({"1784": [{
                   "type": "instagram", "call_count": 3, "total_cputime": 1, "total_time": 2,
                   "estimated_time_to_regain_access": 0}]})}
    usage = graph.usage(headers)
    assert (usage.percent, usage.where, usage.regain_minutes) == (
        91.0, "X-App-Usage total_cputime", 0.0)
    limited = graph.usage({"x-business-use-case-usage": json.dumps({"1784": [{
        "type": "instagram", "call_count": 100, "estimated_time_to_regain_access": 7}]})})
    assert (limited.percent, limited.regain_minutes) == (100.0, 7.0)
    assert graph.usage({}) is None
    assert graph.usage({"X-App-Usage": "not json"}) is None


# --- the sandbox in-process -------------------------------------------------------------------------


@cache
def world() -> World:
    return World(ACCOUNTS, SEED)


@cache
def app() -> InstagramApp:
    return InstagramApp(world())


def professional() -> list:
    return [a for a in world() if sandbox_graph.is_professional(SEED, a)]


def personal() -> list:
    return [a for a in world() if not sandbox_graph.is_professional(SEED, a)]


def answer(url: str, *, token: str | None = TOKEN, on: InstagramApp | None = None,
           request: Request | None = None) -> TextResponse:
    """The sandbox app's answer to a GET (in-process), as a Scrapy response."""
    parts = urlsplit(url)
    headers = {"authorization": f"Bearer {token}"} if token else {}
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    got = (on or app()).handle(SandboxRequest("GET", parts.path, dict(parse_qsl(parts.query)),
                                              BASE, target, headers))
    return TextResponse(url=url, status=got.status, body=got.body, request=request,
                        headers={"Content-Type": got.content_type, **dict(got.headers)},
                        encoding="utf-8")


def test_the_sandbox_professional_accounts_are_the_web_sandboxs():
    for account in world():
        web = app().web_user(account, BASE)
        assert web["is_professional_account"] == sandbox_graph.is_professional(SEED, account)
    assert 0.3 < len(professional()) / len(world()) < 0.6


def test_sandbox_business_discovery_reads_back_through_the_parser():
    account = professional()[0]
    url = graph.discovery_url(GRAPH, USER, account.username, media_limit=5)
    response = answer(url)
    page = graph.parse_business_discovery(json.loads(response.text))
    profile = page.profile
    assert (profile.handle, profile.platform_user_id, profile.followers, profile.following,
            profile.posts_count) == (account.username.lower(), account.id, account.followers,
                                     account.following, account.statuses_count)
    newest = [world().post(pid) for pid in reversed(world().post_ids(account))]
    assert [p.post_id for p in page.posts] == [sandbox_graph.graph_media_id(p) for p in newest[:5]]
    assert [p.likes for p in page.posts] == [p.favourites for p in newest[:5]]
    assert all("@" not in (p.text or "") for p in page.posts)
    seen = [p.post_id for p in page.posts]
    after = page.after
    while after:  # every media once, newest first, along the cursors
        more = graph.parse_business_discovery(json.loads(answer(graph.discovery_url(
            GRAPH, USER, account.username, media_limit=50, after=after, profile=False)).text))
        assert more.profile is None
        seen += [p.post_id for p in more.posts]
        after = more.after
    assert seen == [sandbox_graph.graph_media_id(p) for p in newest]
    usage = graph.usage(response.headers)
    assert usage is not None
    assert usage.percent == 0


def test_sandbox_personal_and_unknown_accounts_are_110_2207013():
    for name in (personal()[0].username, "nobody_at_all"):
        response = answer(graph.discovery_url(GRAPH, USER, name, media_limit=1))
        assert response.status == 400
        error = graph.graph_error(json.loads(response.text))
        assert (error.code, error.subcode, error.reason) == (110, 2207013, "not_discoverable")
        assert f"username: {name.lower()} cannot be found" in error.text


def test_sandbox_fields_and_tokens():
    account = professional()[0]
    bad = answer(f"{GRAPH}/{USER}?fields=business_discovery.username({account.username}){{id,")
    assert (bad.status, graph.graph_error(json.loads(bad.text)).code) == (400, 100)
    unknown = answer(f"{GRAPH}/{USER}?fields=business_discovery.username(x){{secrets}}")
    assert unknown.status == 400
    missing = answer(f"{GRAPH}/{USER}", token=None)
    assert graph.graph_error(json.loads(missing.text)).code == 104
    strict = InstagramApp(world())
    strict.configure({"graph_token": TOKEN})
    assert answer(f"{GRAPH}/{USER}", on=strict).status == 200
    wrong = answer(f"{GRAPH}/{USER}", token="EAAwrong", on=strict)
    assert graph.graph_error(json.loads(wrong.text)).reason == "token_invalid"
    state = strict.knob_state()
    assert state["knobs"]["graph_token"] == "***"
    assert TOKEN not in json.dumps(state)
    assert (state["graph"]["tokens_seen"], state["graph"]["tokens_in_query"]) == (1, 0)
    assert sandbox_graph.parse_fields("a,b.x(1).y(z){c{d}}")[1].modifiers == {"x": "1", "y": "z"}


def tag_with_media(n: int = 60) -> str:
    tags = world().tags()
    return max(sorted(tags), key=lambda t: (tags[t] >= n, -tags[t]))


def test_sandbox_hashtag_search_top_and_recent_media():
    tag = tag_with_media()
    search = json.loads(answer(graph.hashtag_search_url(GRAPH, USER, tag)).text)
    assert search == {"data": [{"id": sandbox_graph.hashtag_id(tag)}]}
    hid = search["data"][0]["id"]
    web = app().hashtag_page(tag, 1, None, BASE)
    assert web["data"]["hashtag"]["id"] == hid  # the same hashtag id on both routes
    assert json.loads(answer(graph.hashtag_search_url(GRAPH, USER, "nobodyusesthis")).text) == {
        "data": []}
    ids, after, pages = [], None, 0
    while True:
        body = json.loads(answer(graph.hashtag_media_url(GRAPH, hid, "top", USER, limit=50,
                                                         after=after)).text)
        page = graph.parse_hashtag_media(body, hashtag=tag, listing="top", position_offset=len(ids))
        ids += [p.post_id for p in page.posts]
        pages += 1
        if not page.after:
            break
        after = page.after
    pool = world().tag_post_ids(tag)[-500:]
    assert len(ids) == len(pool) == len(set(ids))
    assert pages == -(-len(pool) // 50)
    scores = [world().post(sandbox_graph.post_id_of(i)).favourites
              + world().post(sandbox_graph.post_id_of(i)).replies for i in ids]
    assert scores == sorted(scores, reverse=True)
    refused = answer(graph.hashtag_media_url(GRAPH, hid, "top", USER, limit=5) + "%2Cusername")
    assert graph.graph_error(json.loads(refused.text)).code == 100  # username refused
    wide = InstagramApp(world())
    wide.configure({"graph_recent_hours": str(24 * 400)})
    since = EPOCH - timedelta(hours=24 * 400)
    expected = [sandbox_graph.graph_media_id(world().post(pid))
                for pid in reversed(world().tag_post_ids(tag))
                if world().post(pid).created_at > since][:20]
    recent = json.loads(answer(graph.hashtag_media_url(GRAPH, hid, "recent", USER, limit=20),
                               on=wide).text)
    assert [m["id"] for m in recent["data"]] == expected
    assert expected


def test_sandbox_hashtag_rule_and_error_knobs():
    rule = InstagramApp(world())
    rule.configure({"graph_hashtag_limit": "2"})
    tags = sorted(world().tags())[:3]
    for tag in tags[:2]:
        assert answer(graph.hashtag_search_url(GRAPH, USER, tag), on=rule).status == 200
    third = answer(graph.hashtag_search_url(GRAPH, USER, tags[2]), on=rule)
    assert graph.graph_error(json.loads(third.text)).reason == "hashtag_limit"
    assert answer(graph.hashtag_search_url(GRAPH, "1784", tags[2]), on=rule).status == 200
    assert answer(graph.hashtag_search_url(GRAPH, USER, tags[0]), on=rule).status == 200
    rule.configure({"graph_error": "613:2", "graph_usage": "93", "graph_regain": "5"})
    for _ in range(2):
        limited = answer(f"{GRAPH}/{USER}", on=rule)
        assert graph.graph_error(json.loads(limited.text)).reason == "rate_limited"
        assert graph.usage(limited.headers).regain_minutes == 5
    fine = answer(f"{GRAPH}/{USER}", on=rule)
    assert fine.status == 200
    assert graph.usage(fine.headers).percent == 93
    for knobs, message in (({"graph_error": "999"}, "code must be one of"),
                           ({"graph_usage": "101"}, "out of range"),
                           ({"graph_nonsense": "1"}, "unknown knob")):
        with pytest.raises(ValueError, match=message):
            rule.configure(knobs)
    assert rule.knob_state()["knobs"]["graph_usage"] == 93


# --- the spider on its own ----------------------------------------------------------------------------


def make_spider(settings: dict | None = None, **kwargs) -> InstagramGraphSpider:
    crawler = get_crawler(InstagramGraphSpider, settings_dict={**SETTINGS, **(settings or {})})
    spider = InstagramGraphSpider.from_crawler(crawler, **{"base_url": BASE, **kwargs})
    crawler.spider = spider
    crawler.stats.open_spider()
    return spider


def sent(spider: InstagramGraphSpider, request: Request) -> Request:
    CredentialsMiddleware.from_crawler(spider.crawler).process_request(request)
    return request


def start(spider: InstagramGraphSpider) -> list:
    async def collect():
        return [out async for out in spider.start()]
    return asyncio.run(collect())


def reply(spider: InstagramGraphSpider, request: Request, on: InstagramApp | None = None):
    sent(spider, request)
    token = request.headers.get("Authorization", b"").decode()[7:] or None
    return answer(request.url, token=token, on=on, request=request)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"tags": "x", "source": "web"}, "source must be one of graph"),
    ({"tags": "x", "author_candidates": "11"}, "author_candidates must be from 0 to 10"),
    ({"tags": "x", "graph_base": "ftp://graph"}, "graph_base must be a URL"),
    ({"tags": "x", "listing": "hot"}, "listing must be one of all, top, recent"),
    ({"handles": "https://example.com/alice"}, "is not a profile URL"),
])
def test_bad_arguments_are_one_line_errors(kwargs, message):
    with pytest.raises(ValueError, match=r"^[^\n]+$") as caught:
        InstagramGraphSpider(**kwargs)
    assert message in str(caught.value)


def test_token_and_user_id_are_required_up_front():
    crawler = get_crawler(InstagramGraphSpider, settings_dict={})
    with pytest.raises(ValueError, match="MICROSCOUT_INSTAGRAM_GRAPH_TOKEN and "
                                         "MICROSCOUT_INSTAGRAM_GRAPH_USER_ID"):
        InstagramGraphSpider.from_crawler(crawler, tags="x")
    crawler = get_crawler(InstagramGraphSpider, settings_dict={**SETTINGS,
                                                               "MICROSCOUT_INSTAGRAM_GRAPH_USER_ID": "me"})
    with pytest.raises(ValueError, match="numeric"):
        InstagramGraphSpider.from_crawler(crawler, tags="x")


@pytest.mark.parametrize(("kwargs", "graph_base"), [
    ({"base_url": "https://www.instagram.com"}, "https://graph.facebook.com/v21.0"),
    ({}, "http://127.0.0.1:8823/graph/v21.0"),
    ({"api_base": "https://graph.example/v22.0"}, "https://graph.example/v22.0"),
])
def test_the_graph_base_follows_the_base_url_unless_given(kwargs, graph_base):
    spider = make_spider(tags="x", **kwargs)
    assert spider.graph_base == graph_base
    assert spider.run_args["graph_base"] == graph_base
    (credential,) = spider.credentials()
    assert credential.host == urlsplit(graph_base).netloc


def test_the_token_goes_as_a_header_to_the_graph_host_only():
    spider = make_spider(tags="vegan", handles="alice", base_url="https://www.instagram.com")
    requests = [r for r in start(spider) if isinstance(r, Request)]
    assert {urlsplit(r.url).netloc for r in requests} == {"graph.facebook.com"}
    for request in requests:
        assert sent(spider, request).headers["Authorization"] == f"Bearer {TOKEN}".encode()
        assert TOKEN not in request.url
        assert request.meta["dont_obey_robotstxt"]
    for url in ("https://www.instagram.com/alice/", "http://graph.facebook.com/v21.0/me",
                "https://graph.facebook.com.evil.example/v21.0/me"):
        assert b"Authorization" not in sent(spider, Request(url)).headers
    args = json.dumps(spider.run_args)
    assert TOKEN not in args
    assert spider.run_args["credential_hosts"] == ["graph.facebook.com"]
    assert "Authorization" in spider.settings.getlist("MICROSCOUT_CASSETTE_FILTER_HEADERS")
    assert TOKEN not in repr(spider.credentials())


def test_start_plan_and_the_ledger_in_memory_refuses_the_31st_tag(caplog):
    tags = sorted(world().tags())[:31]
    spider = make_spider(tags=",".join(tags), handles="alice,bob")
    out = start(spider)
    profiles = [r for r in out if isinstance(r, Request) and r.meta["microscout_kind"] == "profile"]
    assert [r.cb_kwargs["handle"] for r in profiles] == ["alice", "bob"]
    assert profiles[0].url == graph.discovery_url(spider.graph_base, USER, "alice", media_limit=12)
    searches = [r for r in out if isinstance(r, Request) and r.meta["microscout_kind"] == "hashtag"]
    assert [r.cb_kwargs["tag"] for r in searches] == tags[:30]
    (refused,) = [r for r in out if isinstance(r, RejectedItem)]
    assert (refused.reason, refused.item_type) == ("hashtag_limit", "HashtagSightingItem")
    assert refused.detail.startswith(f"#{tags[30]} not queried: IG user {USER} has queried 30 of 30")
    assert spider.crawler.stats.get_value("microscout/quota/refused") == 1
    assert "counting this run's hashtags in memory only" in caplog.text


def test_work_requests_claim_each_tag_in_a_step_of_its_own():
    spider = make_spider(tags="vegan,food", handles="alice")
    work = spider.work_requests()
    assert [r.meta["microscout_kind"] for r in work] == ["profile", "claim", "claim"]
    claim = work[1]
    assert claim.url.startswith("data:")
    assert claim.dont_filter
    (search,) = run_callback(claim, TextResponse(claim.url, body=b"", request=claim))
    assert search.url == graph.hashtag_search_url(spider.graph_base, USER, "vegan")


def test_hashtag_search_then_media_pages_with_sightings_and_posts():
    tag = tag_with_media()
    spider = make_spider(tags=tag, max_pages="2", max_posts="60", listing="top",
                         author_candidates="0")
    (search,) = start(spider)
    (media,) = run_callback(search, reply(spider, search))
    assert media.cb_kwargs["hashtag_id"] == sandbox_graph.hashtag_id(tag)
    assert spider.hashtag_ids == {tag: sandbox_graph.hashtag_id(tag)}
    first = run_callback(media, reply(spider, media))
    sightings = [o for o in first if isinstance(o, HashtagSightingItem)]
    posts = [o for o in first if isinstance(o, PostItem)]
    assert [s.position for s in sightings] == list(range(50))
    assert [s.post_id for s in sightings] == [p.post_id for p in posts]
    assert all(p.likes is not None and p.url.startswith("https://www.instagram.com/p/")
               for p in posts)
    (following,) = [o for o in first if isinstance(o, Request)]
    assert parse_qsl(urlsplit(following.url).query)[-1][0] == "after"
    second = run_callback(following, reply(spider, following))
    assert [s.position for s in second if isinstance(s, HashtagSightingItem)] == list(range(50, 60))
    assert not [o for o in second if isinstance(o, Request)]  # max_posts reached


def test_profile_with_more_media_pages_and_a_personal_account():
    account = next(a for a in professional() if len(world().post_ids(a)) >= 35)
    spider = make_spider(handles=f"{account.username.lower()},{personal()[0].username.lower()}",
                         recent_posts="35")
    spider.media_page = 15
    first, personal_request = start(spider)
    (more,) = run_callback(first, reply(spider, first))
    assert more.meta["microscout_kind"] == "media_page"
    (last,) = run_callback(more, reply(spider, more))
    assert "limit%285%29" in last.url  # the 5 still wanted
    (profile,) = run_callback(last, reply(spider, last))
    newest = list(reversed(world().post_ids(account)))[:35]
    assert [p.post_id for p in profile.recent_posts] == [
        sandbox_graph.graph_media_id(world().post(pid)) for pid in newest]
    assert {p.author_handle for p in profile.recent_posts} == {account.username.lower()}
    assert profile.discovered_via == "handles"
    (rejected,) = run_callback(personal_request, reply(spider, personal_request))
    assert rejected.reason == "not_discoverable"
    assert "2207013" in rejected.detail


def test_a_candidate_is_the_author_only_when_its_own_media_hold_the_post():
    tag = tag_with_media()
    spider = make_spider(tags=tag, listing="top", max_posts="50", author_candidates="3")
    top = json.loads(answer(graph.hashtag_media_url(GRAPH, sandbox_graph.hashtag_id(tag), "top",
                                                    USER, limit=50)).text)["data"]
    media = next(m for m in top if sandbox_graph.is_professional(SEED, world().account(
        world().post(sandbox_graph.post_id_of(m["id"])).account_index)))
    post = world().post(sandbox_graph.post_id_of(media["id"]))
    author = world().account(post.account_index)
    assert int(post.id) in world().post_ids(author)[-25:], "among the media a candidate is asked for"
    sighting = HashtagSightingItem(platform="instagram", hashtag=tag, post_id=media["id"],
                                   position=0, listing="top")
    named = [(sighting, graph.post_from_media(media))]
    (ask,) = spider.consider_handle(author.username.lower(), tag, candidate=True, named=named)
    out = run_callback(ask, reply(spider, ask))
    assert [type(o).__name__ for o in out[:2]] == ["HashtagSightingItem", "PostItem"]
    assert out[0].author_handle == out[1].author_handle == author.username.lower()
    assert spider.crawler.stats.get_value("microscout/instagram/graph/authors_verified") == 1
    other = next(a for a in professional() if a.index != post.account_index)
    (ask,) = spider.consider_handle(other.username.lower(), tag, candidate=True, named=[
        (HashtagSightingItem(platform="instagram", hashtag=tag, post_id=sighting.post_id),
         graph.post_from_media(media))])
    out = run_callback(ask, reply(spider, ask))
    assert not any(isinstance(o, HashtagSightingItem) for o in out)  # a mention, not the author
    (ask,) = spider.consider_handle(personal()[0].username.lower(), tag, candidate=True, named=[])
    assert run_callback(ask, reply(spider, ask)) == []  # a guess that is no account: no row
    assert spider.crawler.stats.get_value(
        "microscout/instagram/graph/candidates_not_discoverable") == 1


def graph_error_response(request: Request, code: int, headers: dict | None = None):
    body = sandbox_graph.coded_error(code).body("trace")
    return TextResponse(request.url, status=400, body=json.dumps(body).encode(), request=request,
                        headers=headers or {})


def test_rate_limits_pause_for_the_regain_time_then_retry():
    from crawler.middlewares import RateLimitMiddleware

    spider = make_spider({"MICROSCOUT_MAX_RETRY_AFTER": 900}, handles="alice")
    limiter = RateLimitMiddleware.from_crawler(spider.crawler)
    (request,) = start(spider)
    usage = {"X-Business-Use-Case-Usage": json.dumps({USER: [{
        "type": "instagram", "call_count": 100, "estimated_time_to_regain_access": 4}]})}
    (retry,) = run_callback(request, graph_error_response(request, 4, usage))
    assert retry.meta["retry_times"] == 1
    assert 230 < limiter.slots.paused_for(limiter.slot_key(request)) <= 240


def test_usage_near_the_limit_pauses_before_it():
    from crawler.middlewares import RateLimitMiddleware

    spider = make_spider({"MICROSCOUT_RATELIMIT_BODY_WAIT": 30}, handles="alice")
    limiter = RateLimitMiddleware.from_crawler(spider.crawler)
    (request,) = start(spider)
    calm = answer(request.url, request=request)
    spider.note_usage(calm)
    assert limiter.slots.paused_for(limiter.slot_key(request)) == 0
    busy = InstagramApp(world())
    busy.configure({"graph_usage": "92"})
    spider.note_usage(answer(request.url, on=busy, request=request))
    assert 25 < limiter.slots.paused_for(limiter.slot_key(request)) <= 30
    assert spider.crawler.stats.get_value("microscout/instagram/graph/usage_max_percent") == 92


@pytest.mark.parametrize(("code", "reason"), [(190, "token_invalid"), (10, "permission_denied"),
                                              (200, "permission_denied")])
def test_a_dead_token_or_missing_permission_is_recorded_and_closes_the_crawl(code, reason):
    spider = make_spider(handles="alice")
    (request,) = start(spider)
    with pytest.raises(CloseSpider) as closed:
        run_callback(request, graph_error_response(request, code))
    assert closed.value.reason == f"instagram_graph_{reason}"
    spider = make_spider(handles="alice")
    (request,) = start(spider)
    outputs = spider._failure_outputs(request, reason, "x", None)
    assert next(outputs).reason == reason


def test_a_body_that_echoes_the_token_is_kept_masked():
    spider = make_spider(handles="alice")
    (request,) = start(spider)
    body = json.dumps({"data": "not a list", "paging": {
        "next": f"https://graph.facebook.com/v21.0/1/top_media?access_token={TOKEN}&after=x"}})
    (rejected,) = run_callback(request, TextResponse(request.url, status=200, body=body.encode(),
                                                     request=request))
    assert rejected.reason == "unexpected_body"
    assert TOKEN not in rejected.payload
    assert "access_token=***" in rejected.payload


def test_lookup_authors_by_media_id_and_permalink(sqlite_url):
    from models import loader
    from models.db import make_engine
    from pipelines.warehouse import item_record

    web_post = PostItem(platform="instagram", post_id="2245", url="https://www.instagram.com/p/B8goRvrnwod/",
                        likes=1)
    graph_post = PostItem(platform="instagram", post_id="17859633232647524",
                          url="https://www.instagram.com/p/B6jje2UnoH8/", likes=2)
    profiles = [ProfileItem(platform="instagram", handle="webauthor", followers=10,
                            recent_posts=[web_post]),
                ProfileItem(platform="instagram", handle="facebook", followers=3502538,
                            recent_posts=[graph_post])]
    engine = make_engine(sqlite_url)
    try:
        with engine.begin() as conn:
            run_id = loader.start_run(conn, {"run_key": "k", "spider": "test"})
            loader.load_batch(conn, run_id, [item_record(p) for p in profiles])
        with engine.connect() as conn:
            rows = lookup_authors(conn, ["17859633232647524", "1"],
                                  graph.permalink_variants("B8goRvrnwod"))
    finally:
        engine.dispose()
    assert sorted(rows) == [("17859633232647524", "https://www.instagram.com/p/B6jje2UnoH8/", "facebook"),
                            ("2245", "https://www.instagram.com/p/B8goRvrnwod/", "webauthor")]


# --- end to end ---------------------------------------------------------------------------------------

FAST = {"MICROSCOUT_RATE_LIMIT_INSTAGRAM": 0, "MICROSCOUT_MAX_RETRY_AFTER": 0.05,
        "MICROSCOUT_RATELIMIT_DEFAULT_WAIT": 0.05, "MICROSCOUT_RATELIMIT_BODY_WAIT": 0.05,
        "RETRY_TIMES": 3, "LOG_LEVEL": "INFO", "MICROSCOUT_INSTAGRAM_GRAPH_TOKEN": TOKEN,
        "MICROSCOUT_DB_RETRY_DELAY": 0}


def crawl(base_url: str, user: str, settings: dict | None = None, **kwargs):
    return run_spider("instagram_graph", {**FAST, "MICROSCOUT_INSTAGRAM_GRAPH_USER_ID": user,
                                          **(settings or {})},
                      use_project_settings=True, base_url=base_url, **kwargs)


def knobs(base_url: str, **values: str) -> dict:
    from urllib.request import urlopen

    query = "&".join(f"{k}={v}" for k, v in values.items())
    with urlopen(f"{base_url}/__platform__/knobs?{query}", timeout=5) as got:
        return json.loads(got.read())


def of_kind(items, kind: str) -> list[dict]:
    test = {"sighting": lambda i: "position" in i, "profile": lambda i: "followers" in i,
            "rejected": lambda i: "reason" in i,
            "post": lambda i: "post_id" in i and "position" not in i and "followers" not in i}[kind]
    return [i for i in items if test(i)]


def scalar(url: str, sql: str):
    from tests.test_e2e_warehouse import _scalar

    return _scalar(url, sql)


@pytest.fixture(scope="module")
def sandbox():
    from crawler.sandbox.server import SandboxProcess

    with SandboxProcess(accounts=ACCOUNTS, seed=SEED, platform="instagram", rate_limit=1_000_000,
                        knobs={"graph_token": TOKEN, "graph_recent_hours": str(24 * 60)}) as process:
        yield process


def top_ids(tag: str, n: int) -> list[str]:
    """The first ``n`` top media of a tag, along the sandbox's cursors."""
    ids: list[str] = []
    after = None
    while len(ids) < n:
        body = json.loads(answer(graph.hashtag_media_url(
            GRAPH, sandbox_graph.hashtag_id(tag), "top", USER, limit=min(n - len(ids), 50),
            after=after)).text)
        ids += [m["id"] for m in body["data"]]
        after = graph.parse_hashtag_media(body).after
        if not after:
            break
    return ids[:n]


@pytest.mark.slow
def test_sweep_into_sqlite_keeps_the_token_out_of_everything(sandbox, sqlite_url, tmp_path):
    tag = tag_with_media()
    recorded = tmp_path / "graph.yaml"
    pro = [a.username.lower() for a in professional()[:2]]
    nobody = personal()[0].username.lower()
    items = crawl(sandbox.base_url, "17841400000000901", {
        "MICROSCOUT_DATABASE_URL": sqlite_url, "LOG_LEVEL": "DEBUG",
        **cassette_settings(recorded, record_mode="all")},
        tags=tag, handles=",".join([*pro, nobody]), max_pages="2", max_posts="30",
        recent_posts="10", author_candidates="1")
    assert items.stats["finish_reason"] == "finished"
    # the token: nowhere but in the header the sandbox checked
    assert TOKEN not in items.log
    assert TOKEN not in json.dumps(list(items), default=str)
    assert TOKEN not in json.dumps(items.stats, default=str)
    text = recorded.read_text()
    assert TOKEN not in text
    assert "Bearer" not in text
    assert "ig_hashtag_search" in text
    stored = scalar(sqlite_url, "SELECT * FROM crawl_runs")
    assert TOKEN not in json.dumps(stored, default=str)
    rejected = scalar(sqlite_url, "SELECT reason, detail, source_url, payload FROM rejected_items")
    assert TOKEN not in json.dumps(rejected, default=str)
    state = knobs(sandbox.base_url)["graph"]
    assert state["tokens_seen"] > 0
    assert state["tokens_in_query"] == 0
    # what the sweep loaded
    assert [(r, d.split(":")[0]) for r, d, *_ in rejected] == [("not_discoverable", "Invalid user id")]
    assert f"username: {nobody} cannot be found" in rejected[0][1]
    sightings = scalar(sqlite_url, "SELECT listing, position, post_id FROM hashtag_sightings "
                                   "ORDER BY listing, position")
    top = [s for s in sightings if s[0] == "top"]
    assert [s[2] for s in top] == top_ids(tag, 30)
    since = EPOCH - timedelta(days=60)
    recent = [sandbox_graph.graph_media_id(world().post(pid))
              for pid in reversed(world().tag_post_ids(tag)) if world().post(pid).created_at > since]
    assert [s[2] for s in sightings if s[0] == "recent"] == recent[:30]
    assert recent
    posts = dict(scalar(sqlite_url, "SELECT post_id, likes FROM posts"))
    for _, _, post_id in sightings:
        assert posts[post_id] == world().post(sandbox_graph.post_id_of(post_id)).favourites
    profiles = dict(scalar(sqlite_url, "SELECT handle, followers FROM influencer_current"))
    for handle in pro:
        assert profiles[handle] == world().account_by_username(handle).followers
    ledger = scalar(sqlite_url, "SELECT account, hashtag, hashtag_id FROM instagram_hashtags")
    assert ledger == [(f"{urlsplit(sandbox.base_url).netloc} ig_user:17841400000000901", tag,
                       sandbox_graph.hashtag_id(tag))]


@pytest.mark.slow
def test_the_31st_tag_is_refused_and_a_restart_keeps_the_ledger(sandbox, sqlite_url):
    user = "17841400000000902"
    tags = sorted(world().tags())
    small = {"listing": "top", "max_pages": "1", "max_posts": "1", "author_candidates": "0",
             "recent_posts": "0"}
    settings = {"MICROSCOUT_DATABASE_URL": sqlite_url, "MICROSCOUT_MONITOR_MIN_PROFILES": 0}
    first = crawl(sandbox.base_url, user, settings, tags=",".join(tags[:31]), **small)
    assert len(of_kind(first, "sighting")) == 30
    (refused,) = of_kind(first, "rejected")
    oldest = min(r[0] for r in scalar(sqlite_url, "SELECT slot_started_at FROM instagram_hashtags"))
    frees = (oldest if not isinstance(oldest, str) else __import__("datetime").datetime.fromisoformat(
        oldest)) + timedelta(days=7)
    message = (f"#{tags[30]} not queried: IG user {user} has queried 30 of 30 unique hashtags in "
               f"the last 7 days (the Graph API's limit); the next slot frees at "
               f"{frees:%Y-%m-%d %H:%M} UTC")
    assert refused["reason"] == "hashtag_limit"
    assert refused["detail"] == message
    assert message in first.log
    assert first.stats["microscout/quota/refused"] == 1
    assert scalar(sqlite_url, "SELECT count(*), count(hashtag_id) FROM instagram_hashtags") == [(30, 30)]
    searches = knobs(sandbox.base_url)["graph"]["served"]["ig_hashtag_search"]
    # a restart: the old tag needs no search (its id is cached), a new one is refused at once
    second = crawl(sandbox.base_url, user, settings, tags=f"{tags[0]},{tags[40]}", **small)
    assert knobs(sandbox.base_url)["graph"]["served"]["ig_hashtag_search"] == searches
    assert second.stats["microscout/instagram/graph/hashtag_ids_cached"] == 1
    assert [s["post_id"] for s in of_kind(second, "sighting")] == top_ids(tags[0], 1)
    (again,) = of_kind(second, "rejected")
    assert again["detail"].startswith(f"#{tags[40]} not queried")
    assert again["detail"].endswith(
        f"{frees:%Y-%m-%d %H:%M} UTC")
    runs = scalar(sqlite_url, "SELECT status, checks FROM crawl_runs ORDER BY id")
    assert [status for status, _ in runs] == ["degraded", "degraded"]
    for _, checks in runs:
        refused_check = (json.loads(checks) if isinstance(checks, str) else checks)["nothing_refused"]
        assert (refused_check["value"], refused_check["passed"]) == (1, False)


@pytest.mark.slow
def test_authors_come_from_an_earlier_sweep_of_the_same_media(sandbox, sqlite_url):
    user = "17841400000000903"
    tag = tag_with_media()
    sighted = top_ids(tag, 50)
    authors = {world().post(sandbox_graph.post_id_of(i)).account_index for i in sighted}
    swept = sorted(a for a in authors if sandbox_graph.is_professional(SEED, world().account(a)))[:6]
    handles = [world().account(a).username.lower() for a in swept]
    settings = {"MICROSCOUT_DATABASE_URL": sqlite_url}
    crawl(sandbox.base_url, user, settings, handles=",".join(handles), recent_posts="50")
    items = crawl(sandbox.base_url, user, settings, tags=tag, listing="top", max_pages="1",
                  max_posts="50", author_candidates="0")
    expected = {}
    for media_id in sighted:
        post = world().post(sandbox_graph.post_id_of(media_id))
        newest = world().post_ids(post.account_index)[-50:]
        if post.account_index in swept and int(post.id) in newest:
            expected[media_id] = world().account(post.account_index).username.lower()
    assert expected, "the swept accounts' newest posts are among the tag's top media"
    got = {s["post_id"]: s["author_handle"] for s in of_kind(items, "sighting") if s["author_handle"]}
    assert got == expected
    assert items.stats["microscout/instagram/graph/authors_from_warehouse"] == len(expected)
    stored = scalar(sqlite_url, "SELECT post_id, author_handle FROM hashtag_sightings "
                                "WHERE author_handle IS NOT NULL")
    assert dict(stored) == expected


@pytest.mark.slow
def test_rate_limits_are_retried_and_a_dead_token_closes_the_crawl(sandbox):
    tag = tag_with_media()
    small = {"tags": tag, "listing": "top", "max_pages": "1", "max_posts": "5",
             "author_candidates": "0", "settings": {"MICROSCOUT_DATABASE_URL": "",
                                                    "ITEM_PIPELINES": {}}}
    knobs(sandbox.base_url, graph_error="17:2", graph_usage="95")
    try:
        limited = crawl(sandbox.base_url, "17841400000000904", **small)
    finally:
        knobs(sandbox.base_url, graph_error="off", graph_usage="0")
    assert [s["post_id"] for s in of_kind(limited, "sighting")] == top_ids(tag, 5)
    assert of_kind(limited, "rejected") == []
    assert limited.stats["retry/reason_count/rate_limited"] == 2
    assert limited.stats["microscout/instagram/graph/usage_paused"] >= 2
    assert limited.stats["microscout/ratelimit/paused"] >= 1
    knobs(sandbox.base_url, graph_error="190:50")
    try:
        dead = crawl(sandbox.base_url, "17841400000000905", **small)
    finally:
        knobs(sandbox.base_url, graph_error="off")
    assert dead.stats["finish_reason"] == "instagram_graph_token_invalid"
    assert [r["reason"] for r in of_kind(dead, "rejected")] == ["token_invalid"]


CASSETTE_SWEEP = {"listing": "all", "max_pages": "2", "max_posts": "60", "recent_posts": "12",
                  "author_candidates": "1"}
CASSETTE_USER = "17841400000000999"


def cassette_handles() -> str:
    return ",".join([*(a.username.lower() for a in professional()[:3]), personal()[0].username.lower()])


@pytest.mark.slow
def test_cassette_replays_through_the_whole_pipeline_into_the_warehouse(sqlite_url):
    assert TOKEN not in CASSETTE.read_text()
    assert "Authorization" not in CASSETTE.read_text()
    items = run_spider("instagram_graph", {
        **cassette_settings(CASSETTE), **FAST, "MICROSCOUT_DATABASE_URL": sqlite_url,
        "MICROSCOUT_INSTAGRAM_GRAPH_TOKEN": "EAAreplay-needs-no-real-token",
        "MICROSCOUT_INSTAGRAM_GRAPH_USER_ID": CASSETTE_USER},
        use_project_settings=True, base_url=BASE, tags=tag_with_media(),
        handles=cassette_handles(), **CASSETTE_SWEEP)
    assert items.stats.get("microscout/cassette/missed", 0) == 0
    assert items.stats["microscout/cassette/played"] > 5
    tag = tag_with_media()
    top = [s for s in of_kind(items, "sighting") if s["listing"] == "top"]
    assert [s["post_id"] for s in top] == top_ids(tag, 60)
    assert scalar(sqlite_url, "SELECT count(*) FROM hashtag_sightings")[0][0] == len(
        of_kind(items, "sighting"))
    handles = {h for (h,) in scalar(sqlite_url, "SELECT handle FROM profiles")}
    assert {a.username.lower() for a in professional()[:3]} <= handles
    assert scalar(sqlite_url, "SELECT hashtag, hashtag_id FROM instagram_hashtags") == [
        (tag, sandbox_graph.hashtag_id(tag))]
    assert ("not_discoverable",) in scalar(sqlite_url, "SELECT reason FROM rejected_items")


def record() -> None:
    """Re-record the cassette from the sandbox on port 8823."""
    from crawler.sandbox.server import SandboxProcess

    CASSETTE.unlink(missing_ok=True)
    with SandboxProcess(accounts=ACCOUNTS, seed=SEED, platform="instagram", port=8823,
                        rate_limit=1_000_000, knobs={"graph_recent_hours": str(24 * 60)}):
        items = run_spider("instagram_graph", {
            **cassette_settings(CASSETTE, record_mode="once"), **FAST, "ITEM_PIPELINES": {},
            "MICROSCOUT_DATABASE_URL": "", "MICROSCOUT_INSTAGRAM_GRAPH_USER_ID": CASSETTE_USER},
            use_project_settings=True, base_url=BASE, tags=tag_with_media(),
            handles=cassette_handles(), **CASSETTE_SWEEP)
    print(f"recorded {items.stats.get('microscout/cassette/recorded')} interactions to {CASSETTE}")


if __name__ == "__main__":
    record()
