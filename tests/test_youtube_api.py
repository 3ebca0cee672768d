"""The YouTube Data API route at about 1.3 quota units a profile (issue #14).

* The new recordings (../shared/realworld/youtube: ``playlistItems.list`` of an uploads
  playlist, ``videos.list`` statistics, ``channels.list`` with ``contentDetails``) parsed
  exactly.
* The spider's calls on the spider object and the in-process sandbox app: every call carries
  its cost for the key's budget; ``channels.list`` -> the uploads playlist ->
  ``videos.list?part=statistics,paidProductPlacementDetails`` 50 ids a call across channels;
  the buffer, ``holding()``,
  the idle flush, failures and budget stops that leave profiles with what is known.
* The sandbox's Data API: uploads playlists and their pages, ``forHandle``, ``part``, the
  per-key daily ``api_quota`` knob answering Google's ``quotaExceeded``.
* End to end through the engine and every pipeline into SQLite: a sweep of the sandbox
  (likes, comments, views, engagement; units per profile), a budget that runs out and the
  next runs that continue from the warehouse, Google's own ``quotaExceeded``, and
  ``cassettes/sandbox_youtube_api_sweep.yaml`` replayed offline (re-record:
  ``python -m tests.test_youtube_api``).
"""

from __future__ import annotations

import asyncio
import copy
import json
import math
import types
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from scrapy import Request
from scrapy.exceptions import CloseSpider, DontCloseSpider
from scrapy.http import TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from crawler.cassette import cassette_settings
from crawler.distributed import LOCAL_META
from crawler.errors import BlockedPage
from crawler.items import PostItem, ProfileItem, RejectedItem
from crawler.parsers import youtube as yt
from crawler.quota import BUDGETS, QuotaBook, QuotaExhausted, account_of
from crawler.sandbox.common import Request as SandboxRequest
from crawler.sandbox.tiktok import video_numbers
from crawler.sandbox.world import World
from crawler.sandbox.youtube import YouTubeApp
from crawler.spiders.youtube import STATS_PARTS, YouTubeSpider
from tests.conftest import realworld
from tests.crawl_helpers import run_spider
from tests.spider_helpers import run_callback

ACCOUNTS, SEED = 200, 7
PORT = 8796  # the cassette's recording port
BASE = f"http://127.0.0.1:{PORT}"
API = f"{BASE}/youtube/v3"
HOST = f"127.0.0.1:{PORT}"
KEY = "AIzaSy-sandbox-api-route-key-98765xyz"
OTHER_KEY = "AIzaSy-another-project-key-0000"
LO, HI = 1_000, 100_000
YOUTUBE = BUDGETS["youtube:units"]
CASSETTE = Path(__file__).resolve().parents[1] / "cassettes" / "sandbox_youtube_api_sweep.yaml"

PLAYLIST_ITEMS = "youtubeaio_api_v3_playlistItems_list_uploads_googledevelopers_2023.json"
VIDEOS_LIST = "youtubeaio_api_v3_videos_list_statistics_2ids_2023.json"
CHANNELS_CONTENT = ("python-youtube_api_v3_channels_list_contentDetails_statistics_google_"
                    "googledevelopers_2022.json")


@cache
def world() -> World:
    return World(ACCOUNTS, SEED)


@cache
def app() -> YouTubeApp:
    return YouTubeApp(world())


def recording(name: str) -> dict:
    return json.loads(realworld("youtube", name).read_text(encoding="utf-8"))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- the recordings --------------------------------------------------------------------------


def test_uploads_playlist_recording_is_the_channels_newest_videos():
    items = yt.parse_document(recording(PLAYLIST_ITEMS))
    assert all(isinstance(i, PostItem) for i in items)
    assert [(p.post_id, p.posted_at) for p in items] == [
        ("UZ4n1n13crI", at("2023-07-21T19:00:27Z")),
        ("gwA0TqSN6lg", at("2023-07-21T19:00:15Z")),
        ("bbWUwPHnBTc", at("2023-07-20T21:00:30Z")),
        ("ddkIt_sW8bo", at("2023-07-20T15:00:28Z")),
        ("SZ-4NHXSoBI", at("2023-07-18T21:00:17Z")),
    ]
    first = items[0]
    assert (first.author_handle, first.url, first.text, first.posted_at_precision) == (
        "UC_x5XG1OV2P6uZZ5FSM9Ttw", "https://www.youtube.com/watch?v=UZ4n1n13crI",
        "Unleash Your Web Development Potential with dval.dev", "exact")
    assert [p.hashtags for p in items] == [["mydomain"], ["mydomain"],
                                           ["streetinterviews", "developers"], ["gdesecrets"],
                                           ["streetinterviews", "developers"]]
    assert {(p.likes, p.comments, p.views) for p in items} == {(None, None, None)}  # videos.list


def test_videos_list_recording_gives_each_videos_statistics():
    items = yt.parse_document(recording(VIDEOS_LIST))
    assert [(p.post_id, p.views, p.likes, p.comments) for p in items] == [
        ("Ks-_Mh1QhMc", "23278951", "391633", "9518"),
        ("GvgqDSnpRQM", "2653344", "1152", "123"),
    ]
    assert [(p.author_handle, p.posted_at) for p in items] == [
        ("UCAuUUnT6oDeKwE6v1NGQxug", at("2012-10-01T15:27:35Z")),
        ("UCvceBgMIpKb4zK1ss-Sh90w", at("2013-10-18T07:03:29Z")),
    ]


def test_channels_recording_names_the_uploads_playlists():
    data = recording(CHANNELS_CONTENT)
    profiles = yt.parse_document(data)
    assert [(p.handle, p.platform_user_id, p.followers, p.posts_count) for p in profiles] == [
        ("google", "UCK8sQmJBp8GCxrOtXWBpyEA", "10700000", "2678"),
        ("googledevelopers", "UC_x5XG1OV2P6uZZ5FSM9Ttw", "2260000", "5652"),
    ]
    assert yt.uploads_playlists(data) == {"UCK8sQmJBp8GCxrOtXWBpyEA": "UUK8sQmJBp8GCxrOtXWBpyEA",
                                          "UC_x5XG1OV2P6uZZ5FSM9Ttw": "UU_x5XG1OV2P6uZZ5FSM9Ttw"}
    # the convention the fallback follows holds for both
    assert all(yt.uploads_playlist_id(c) == u for c, u in yt.uploads_playlists(data).items())
    assert yt.uploads_playlist_id("kurzgesagt") is None
    assert yt.uploads_playlists({"items": [{"id": "UCx"}, "junk"]}) == {}


def test_private_and_deleted_playlist_entries_are_left_out():
    data = copy.deepcopy(recording(PLAYLIST_ITEMS))
    for index, title in ((1, "Private video"), (3, "Deleted video")):
        item = data["items"][index]
        item["snippet"]["title"] = title
        del item["snippet"]["videoOwnerChannelId"]
        del item["contentDetails"]["videoPublishedAt"]
    assert [p.post_id for p in yt.parse_document(data)] == [
        "UZ4n1n13crI", "bbWUwPHnBTc", "SZ-4NHXSoBI"]


def test_data_api_url_builders():
    assert yt.playlist_items_url("UU_x5XG1OV2P6uZZ5FSM9Ttw", max_results=12) == (
        "https://www.googleapis.com/youtube/v3/playlistItems?part=snippet%2CcontentDetails"
        "&playlistId=UU_x5XG1OV2P6uZZ5FSM9Ttw&maxResults=12")
    assert yt.playlist_items_url("UUa", page_token="CAUQAA", base=API) == (
        f"{API}/playlistItems?part=snippet%2CcontentDetails&playlistId=UUa&maxResults=50"
        "&pageToken=CAUQAA")
    assert yt.videos_list_url(["a", "b"], part="statistics", base=API) == (
        f"{API}/videos?part=statistics&id=a%2Cb")
    assert yt.channels_list_url(channel_id="UCa", part=yt.CHANNEL_PARTS, base=API) == (
        f"{API}/channels?part=snippet%2Cstatistics%2CcontentDetails&id=UCa")


# --- the spider on the sandbox app, in-process ---------------------------------------------------


def make_spider(settings: dict | None = None, **kwargs) -> YouTubeSpider:
    crawler = get_crawler(YouTubeSpider, settings_dict={
        "MICROSCOUT_YOUTUBE_API_KEY": KEY, "RETRY_TIMES": 2, **(settings or {})})
    spider = YouTubeSpider.from_crawler(crawler, **{"base_url": BASE, **kwargs})
    crawler.spider = spider
    crawler.stats.open_spider()
    return spider


def answer(request: Request, sandbox: YouTubeApp | None = None, key: str | None = KEY,
           url: str | None = None) -> TextResponse:
    """What the sandbox app answers to ``request`` (or to ``url`` in its place), key sent."""
    parts = urlsplit(url or request.url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = {"x-goog-api-key": key} if key else {}
    out = (sandbox or app()).handle(SandboxRequest("GET", parts.path, query, BASE, target,
                                                   headers=headers))
    return TextResponse(url=request.url, status=out.status, body=out.body, request=request,
                        headers={"Content-Type": out.content_type}, encoding="utf-8")


def http_failure(request: Request, response: TextResponse) -> Failure:
    failure = Failure(HttpError(response))
    failure.request = request  # type: ignore[attr-defined]  # as Scrapy sets it
    return failure


def budget_failure(request: Request) -> Failure:
    now = datetime.now(timezone.utc)
    failure = Failure(QuotaExhausted(YOUTUBE, 150, 150, 1, YOUTUBE.window(now)[1]))
    failure.request = request  # type: ignore[attr-defined]
    return failure


def in_range(n: int, *, min_posts: int = 0) -> list:
    """``n`` accounts the sweep keeps: shown subscribers in range, not hidden."""
    found = [a for a in world().accounts
             if LO <= a.followers <= HI and not app().hidden_subscribers(a)
             and a.post_count >= min_posts]
    return found[:n]


def channel(account) -> str:
    return app().channel_id(account)


def profile_of(spider: YouTubeSpider, account) -> ProfileItem:
    """The profile the channels.list answer gives for ``account``."""
    request = spider.api_channels_request([channel(account)], "handles")
    (out,) = run_callback(request, answer(request))
    # its playlist request, or the profile itself once the crawl is stopping
    return out if isinstance(out, ProfileItem) else out.cb_kwargs["profile"]


def expected_counts(account, n: int) -> list[tuple]:
    return [(app().video_id(p), str(p.favourites), str(p.replies),
             str(video_numbers(SEED, p)["views"])) for p in world().posts(account)[:n]]


def test_every_data_api_call_carries_its_cost_for_the_keys_account():
    spider = make_spider(tags="vegan", handles="@alice,UCsXVk37bltHxD1rDPwtNM8Q")
    requests = list(asyncio.run(_collect(spider.start())))
    budget = account_of(HOST, KEY)
    assert KEY not in budget
    assert budget.startswith(f"{HOST} key:")
    assert [r.meta["microscout_quota"] for r in requests] == [
        {"api": "youtube", "account": budget, "units": 100},
        {"api": "youtube", "account": budget, "units": 1},
        {"api": "youtube", "account": budget, "units": 1}]
    (account,) = in_range(1, min_posts=12)
    profile = profile_of(spider, account)  # a channels.list call, and its playlist call
    playlist = spider.api_playlist_request(profile, "UU" + channel(account)[2:])
    run_callback(playlist, answer(playlist))
    costs = {
        "playlist": playlist,
        "stats": next(spider.flush_videos(everything=True)),
        "channel_search": spider.api_channel_videos_request(profile),
        "videos": spider.api_videos_request(profile, ["v1"]),
    }
    assert {name: r.meta["microscout_quota"] for name, r in costs.items()} == {
        name: {"api": "youtube", "account": budget, "units": units} for name, units in
        {"playlist": 1, "stats": 1, "channel_search": 100, "videos": 1}.items()}
    assert all(r.meta["dont_obey_robotstxt"] for r in costs.values())
    stats = spider.crawler.stats.get_stats()
    assert stats["microscout/youtube/api_quota_units"] == 100 + 3 + 2 + 2 + 100
    assert {k.rsplit("/", 1)[1]: v for k, v in stats.items() if "/api_units/" in k} == {
        "search": 100, "channels": 3, "playlist_items": 2, "videos": 2, "channel_search": 100}


async def _collect(agen) -> list:
    return [item async for item in agen]


def test_channels_answer_sends_in_range_channels_to_their_uploads_playlist():
    accounts = world().accounts[:50]  # one channels.list call
    spider = make_spider(handles=",".join(channel(a) for a in accounts), recent_posts="12",
                         min_followers=str(LO), max_followers=str(HI))
    (request,) = list(asyncio.run(_collect(spider.start())))
    assert request.url == (f"{API}/channels?part=snippet%2Cstatistics%2CcontentDetails&id="
                           + "%2C".join(channel(a) for a in accounts))
    out = run_callback(request, answer(request))
    playlists = [o for o in out if isinstance(o, Request)]
    hidden = [o for o in out if isinstance(o, ProfileItem)]
    shown = {a.username.lower(): a for a in accounts if not app().hidden_subscribers(a)}
    keep = [a for a in accounts if a.username.lower() in shown
            and LO <= int(str(a.followers)[:3].ljust(len(str(a.followers)), "0")) <= HI]
    assert [r.url for r in playlists] == [
        f"{API}/playlistItems?part=snippet%2CcontentDetails&playlistId=UU{channel(a)[2:]}"
        "&maxResults=12" for a in keep]
    assert all(r.callback == spider.parse_api_playlist and r.priority == 20 for r in playlists)
    assert {p.handle for p in hidden} == {a.username.lower() for a in accounts
                                          if app().hidden_subscribers(a)}
    assert all(p.followers is None and p.recent_posts == [] for p in hidden)
    assert spider.crawler.stats.get_value("microscout/youtube/skipped_out_of_range") == len(
        shown) - len(keep)


def test_real_channels_answer_follows_the_uploads_playlist_it_names():
    data = recording(CHANNELS_CONTENT)
    data["items"][1]["contentDetails"]["relatedPlaylists"]["uploads"] = "PLnamedbythebody"
    spider = make_spider(handles="@googledevelopers", recent_posts="5")
    request = spider.api_channels_request([], "handles", for_handle="googledevelopers")
    response = TextResponse(request.url, body=json.dumps(data).encode(), request=request,
                            encoding="utf-8")
    out = run_callback(request, response)
    assert [parse_qs(urlsplit(r.url).query)["playlistId"][0] for r in out] == [
        "UUK8sQmJBp8GCxrOtXWBpyEA", "PLnamedbythebody"]
    assert [r.cb_kwargs["profile"].followers for r in out] == ["10700000", "2260000"]


def test_real_playlist_then_statistics_answers_make_one_profile():
    spider = make_spider(handles="@googledevelopers", recent_posts="12")
    profile = ProfileItem(platform="youtube", handle="googledevelopers",
                          platform_user_id="UC_x5XG1OV2P6uZZ5FSM9Ttw", followers="2260000")
    request = spider.api_playlist_request(profile, "UU_x5XG1OV2P6uZZ5FSM9Ttw")
    body = json.dumps(recording(PLAYLIST_ITEMS)).encode()
    assert run_callback(request, TextResponse(request.url, body=body, request=request,
                                              encoding="utf-8")) == []  # 5 ids: buffered
    assert spider.holding()
    assert [v for v, _ in spider.video_buffer] == ["UZ4n1n13crI", "gwA0TqSN6lg", "bbWUwPHnBTc",
                                                    "ddkIt_sW8bo", "SZ-4NHXSoBI"]
    assert [p.author_handle for p in profile.recent_posts] == ["googledevelopers"] * 5
    (stats,) = spider.flush_videos(everything=True)
    assert stats.url == (f"{API}/videos?part=statistics%2CpaidProductPlacementDetails&"
                         f"id=UZ4n1n13crI%2CgwA0TqSN6lg%2C"
                         "bbWUwPHnBTc%2CddkIt_sW8bo%2CSZ-4NHXSoBI")
    assert spider.holding()  # the profile waits for the answer
    # the answer: videos.list statistics as Google gives them (the recording's 2 videos
    # renamed to the playlist's first 2; the other 3 are no longer public)
    videos = recording(VIDEOS_LIST)
    for item, video_id in zip(videos["items"], ("UZ4n1n13crI", "gwA0TqSN6lg"), strict=True):
        item["id"] = video_id
    (done,) = run_callback(stats, TextResponse(stats.url, body=json.dumps(videos).encode(),
                                               request=stats, encoding="utf-8"))
    assert done is profile
    assert [(p.post_id, p.views, p.likes, p.comments, p.posted_at) for p in done.recent_posts] == [
        ("UZ4n1n13crI", "23278951", "391633", "9518", at("2023-07-21T19:00:27Z")),
        ("gwA0TqSN6lg", "2653344", "1152", "123", at("2023-07-21T19:00:15Z"))]
    assert spider.crawler.stats.get_value("microscout/youtube/videos_unavailable") == 3
    assert not spider.holding()


def feed_playlist(spider: YouTubeSpider, account) -> list:
    request = spider.api_playlist_request(profile_of(spider, account),
                                          "UU" + channel(account)[2:])
    return run_callback(request, answer(request))


def test_statistics_calls_take_50_ids_across_channels_and_profiles_wait_for_all_theirs():
    accounts = in_range(5, min_posts=12)
    spider = make_spider(handles="x", recent_posts="12")
    for account in accounts[:4]:
        assert feed_playlist(spider, account) == []  # 12, 24, 36, 48 ids: no call yet
    (call,) = feed_playlist(spider, accounts[4])  # 60: one call of 50, 10 left
    ids = parse_qs(urlsplit(call.url).query)["id"][0].split(",")
    assert ids == [v for a in accounts for v, *_ in expected_counts(a, 12)][:50]
    assert parse_qs(urlsplit(call.url).query)["part"] == [STATS_PARTS]
    assert call.meta["microscout_quota"]["units"] == 1
    assert call.dont_filter
    assert LOCAL_META not in call.meta  # not a job: nothing to keep local
    assert len(spider.video_buffer) == 10
    assert spider.holding()
    done = run_callback(call, answer(call))
    assert [p.platform_user_id for p in done] == [channel(a) for a in accounts[:4]]
    for profile, account in zip(done, accounts, strict=False):
        assert [(p.post_id, p.likes, p.comments, p.views) for p in profile.recent_posts] == \
            expected_counts(account, 12)
        assert all(p.author_handle == account.username.lower() for p in profile.recent_posts)
    assert list(spider.awaiting) == [channel(accounts[4])]  # 2 of its ids answered, 10 wait
    sent: list[Request] = []
    spider.crawler.engine = types.SimpleNamespace(crawl=sent.append)
    with pytest.raises(DontCloseSpider):
        spider.on_idle()  # the crawl would go idle: the remainder leaves
    (last,) = sent
    assert len(parse_qs(urlsplit(last.url).query)["id"][0].split(",")) == 10
    assert spider.video_buffer == []
    assert spider.holding()
    (fifth,) = run_callback(last, answer(last))
    assert [(p.post_id, p.likes, p.comments, p.views) for p in fifth.recent_posts] == \
        expected_counts(accounts[4], 12)
    assert not spider.holding()
    spider.on_idle()  # nothing held: the crawl may close
    assert sent == [last]


def test_failed_statistics_call_leaves_its_profiles_with_what_is_known():
    accounts = in_range(2, min_posts=12)
    spider = make_spider(handles="x", recent_posts="12")
    for account in accounts:
        feed_playlist(spider, account)
    (call,) = spider.flush_videos(everything=True)
    failure = http_failure(call, TextResponse(call.url, status=500, body=b"oops", request=call))
    out = list(spider.on_error(failure))
    rejected, *profiles = out
    assert isinstance(rejected, RejectedItem)
    assert rejected.reason == "request_failed"
    assert [p.platform_user_id for p in profiles] == [channel(a) for a in accounts]
    for profile, account in zip(profiles, accounts, strict=True):
        assert [p.post_id for p in profile.recent_posts] == [
            v for v, *_ in expected_counts(account, 12)]
        assert {(p.likes, p.views) for p in profile.recent_posts} == {(None, None)}
        assert all(p.posted_at is not None for p in profile.recent_posts)
    assert not spider.holding()


def test_a_video_the_statistics_answer_leaves_out_leaves_the_profiles_posts():
    (account,) = in_range(1, min_posts=12)
    spider = make_spider(handles="x", recent_posts="12")
    feed_playlist(spider, account)
    (call,) = spider.flush_videos(everything=True)
    ids = parse_qs(urlsplit(call.url).query)["id"][0].split(",")
    fewer = yt.videos_list_url(ids[:5] + ids[6:], part=STATS_PARTS, base=API)
    (profile,) = run_callback(call, answer(call, url=fewer))
    assert [p.post_id for p in profile.recent_posts] == ids[:5] + ids[6:]
    assert spider.crawler.stats.get_value("microscout/youtube/videos_unavailable") == 1


def test_a_channel_without_uploads_is_a_profile_without_posts_not_a_failure():
    (account,) = in_range(1)
    spider = make_spider(handles="x", recent_posts="12")
    profile = profile_of(spider, account)
    request = spider.api_playlist_request(profile, "UUnosuchplaylist0000000000")
    response = answer(request)
    assert response.status == 404
    error = json.loads(response.body)["error"]
    assert (error["code"], error["errors"][0]["reason"]) == (404, "playlistNotFound")
    assert list(spider.on_error(http_failure(request, response))) == [profile]
    assert profile.recent_posts == []
    assert spider.crawler.stats.get_value("microscout/youtube/uploads_not_found") == 1


def test_calls_the_budget_left_unsent_release_what_they_carried():
    accounts = in_range(3, min_posts=12)
    spider = make_spider(handles="x", recent_posts="12")
    feed_playlist(spider, accounts[0])
    feed_playlist(spider, accounts[1])
    (call,) = spider.flush_videos(everything=True)
    feed_playlist(spider, accounts[2])  # buffered, its call never made
    out = list(spider.on_error(budget_failure(call)))
    assert [p.platform_user_id for p in out] == [channel(a) for a in accounts]  # nothing lost
    assert not spider.holding()
    assert spider.crawler.stats.get_value("microscout/quota/unsent_requests") == 1
    assert spider.crawler.stats.get_value("microscout/youtube/profiles_without_statistics") == 3
    playlist = spider.api_playlist_request(profile_of(spider, accounts[0]), "UUx")
    assert [p.platform_user_id for p in spider.on_error(budget_failure(playlist))] == [
        channel(accounts[0])]


def playlist_requests(spider: YouTubeSpider, accounts: list) -> list[Request]:
    return [spider.api_playlist_request(profile_of(spider, a), "UU" + channel(a)[2:])
            for a in accounts]


@pytest.mark.parametrize("jobdir", [False, True])
def test_a_budget_stop_releases_profiles_whose_posts_calls_wait_in_the_scheduler(jobdir, tmp_path):
    """A closing crawl drops its scheduler's requests: their profiles go out at the stop,
    without posts; those in the downloader come back through their errback or callback,
    once. With JOBDIR the queue is kept for the resume instead."""
    accounts = in_range(4, min_posts=12)
    spider = make_spider({"JOBDIR": str(tmp_path)} if jobdir else None, handles="x",
                         recent_posts="12")
    spider.posts_pending.clear()  # profile_of's own playlist requests were never sent
    queued, in_flight, answered, refused = playlist_requests(spider, accounts)
    spider.crawler.engine = types.SimpleNamespace(
        downloader=types.SimpleNamespace(active={in_flight, answered, refused}))
    stop = budget_failure(refused)
    QuotaBook.of(spider.crawler).exhausted = stop.value  # as QuotaMiddleware leaves it
    out = list(spider.on_error(stop))
    assert [p.platform_user_id for p in out] == (
        [channel(accounts[3])] if jobdir else [channel(accounts[3]), channel(accounts[0])])
    assert [p.platform_user_id for p in spider.on_error(budget_failure(in_flight))] == [
        channel(accounts[1])]
    (late,) = run_callback(answered, answer(answered))  # stopping: no statistics call
    assert late.platform_user_id == channel(accounts[2])
    assert [(p.post_id, p.likes) for p in late.recent_posts] == [
        (v, None) for v, *_ in expected_counts(accounts[2], 12)]
    if not jobdir:
        assert run_callback(queued, answer(queued)) == []  # released already: not twice
        assert spider.crawler.stats.get_value("microscout/youtube/answers_after_release") == 1
    assert spider.posts_pending == ({channel(accounts[0]): queued} if jobdir else {})


def test_in_a_job_statistics_calls_stay_on_the_worker_and_unsent_calls_stay_in_the_job():
    (account,) = in_range(1, min_posts=12)
    spider = make_spider(handles="x", recent_posts="12")
    spider._distributed = True
    feed_playlist(spider, account)
    assert spider.holding()
    (call,) = spider.flush_videos(everything=True)
    assert call.meta[LOCAL_META] is True
    assert list(spider.on_error(budget_failure(call))) == []  # the job runs its parents again
    assert spider.holding()


def test_googles_quota_exceeded_releases_the_waiting_profiles_then_closes_the_crawl():
    (account,) = in_range(1, min_posts=12)
    spider = make_spider(tags="x", recent_posts="12")
    feed_playlist(spider, account)
    exhausted = YouTubeApp(world())
    exhausted.configure({"api_quota": "0"})
    search = spider.api_search_request("x")
    response = answer(search, exhausted)
    assert response.status == 403
    out = spider.on_error(http_failure(search, response))
    rejected = next(out)
    assert (rejected.reason, rejected.item_type) == ("quota_exceeded", "HashtagSightingItem")
    (profile,) = [next(out)]
    assert profile.platform_user_id == channel(account)
    with pytest.raises(CloseSpider) as closed:
        next(out)
    assert closed.value.reason == "youtube_api_quotaExceeded"
    assert not spider.holding()
    # answers that come after that: no further call will leave, their profiles go out
    (late,) = feed_playlist(spider, in_range(2, min_posts=12)[1])
    assert isinstance(late, ProfileItem)
    assert not spider.holding()
    accounts = in_range(3)
    channels = spider.api_channels_request([channel(a) for a in accounts], "x")
    out = run_callback(channels, answer(channels))
    assert [p.platform_user_id for p in out] == [channel(a) for a in accounts]
    assert all(isinstance(p, ProfileItem) and p.recent_posts == [] for p in out)


def test_the_search_route_is_the_101_unit_baseline():
    (account,) = in_range(1, min_posts=5)
    spider = make_spider(handles="x", recent_posts="5", api_posts="search")
    request = spider.api_channels_request([channel(account)], "handles")
    (search,) = run_callback(request, answer(request))
    assert search.url == (f"{API}/search?part=snippet&channelId={channel(account)}&type=video"
                          "&maxResults=5&order=date")
    assert search.meta["microscout_quota"]["units"] == 100
    (videos,) = run_callback(search, answer(search))
    assert videos.meta["microscout_quota"]["units"] == 1
    (profile,) = run_callback(videos, answer(videos))
    assert [(p.post_id, p.likes, p.comments, p.views) for p in profile.recent_posts] == \
        expected_counts(account, 5)
    assert spider.run_args["api_posts"] == "search"
    assert spider.crawler.stats.get_value("microscout/youtube/api_quota_units") == 102


def test_bad_api_posts_is_a_one_line_error():
    with pytest.raises(ValueError, match=r"^api_posts must be one of uploads, search, got 'rss'$"):
        YouTubeSpider(tags="x", api_posts="rss")


# --- the sandbox's Data API -------------------------------------------------------------------


def get(path: str, sandbox: YouTubeApp | None = None, key: str | None = KEY) -> tuple[int, dict]:
    request = Request(f"{BASE}{path}")
    response = answer(request, sandbox, key)
    return response.status, json.loads(response.body)


def test_sandbox_uploads_playlist_pages_newest_first():
    account = next(a for a in world().accounts if a.post_count >= 8)
    playlist = "UU" + channel(account)[2:]
    ids, token, pages = [], None, 0
    while True:
        path = f"/youtube/v3/playlistItems?part=snippet,contentDetails&playlistId={playlist}" \
               f"&maxResults=3" + (f"&pageToken={token}" if token else "")
        status, body = get(path)
        assert status == 200
        assert body["kind"] == "youtube#playlistItemListResponse"
        assert body["pageInfo"] == {"totalResults": account.post_count, "resultsPerPage": 3}
        items = yt.parse_document(body)
        ids += [p.post_id for p in items]
        pages += 1
        first = body["items"][0]
        assert first["snippet"]["resourceId"]["videoId"] == first["contentDetails"]["videoId"]
        assert first["snippet"]["videoOwnerChannelId"] == channel(account)
        assert first["snippet"]["playlistId"] == playlist
        token = body.get("nextPageToken")
        if not token:
            break
    posts = world().posts(account)
    assert ids == [app().video_id(p) for p in posts]
    assert pages == math.ceil(len(posts) / 3)
    parsed = yt.parse_document(get(f"/youtube/v3/playlistItems?part=snippet,contentDetails"
                                   f"&playlistId={playlist}&maxResults=2")[1])
    assert [p.posted_at for p in parsed] == [p.created_at.replace(microsecond=0) for p in posts[:2]]
    status, body = get("/youtube/v3/playlistItems?part=snippet&playlistId=UUnope")
    assert status == 404
    assert body["error"]["errors"][0]["domain"] == "youtube.playlistItem"


def test_sandbox_channels_honour_part_and_for_handle():
    account = world().accounts[3]
    _, body = get(f"/youtube/v3/channels?part=contentDetails&id={channel(account)}")
    (item,) = body["items"]
    assert set(item) == {"kind", "etag", "id", "contentDetails"}
    assert item["contentDetails"]["relatedPlaylists"] == {"likes": "",
                                                          "uploads": "UU" + channel(account)[2:]}
    _, body = get(f"/youtube/v3/channels?part=snippet,statistics,contentDetails"
                  f"&forHandle=@{account.username.upper()}")
    (profile,) = yt.parse_document(body)
    assert (profile.platform_user_id, profile.handle) == (channel(account),
                                                          account.username.lower())
    assert yt.uploads_playlists(body) == {channel(account): "UU" + channel(account)[2:]}
    assert get("/youtube/v3/channels?part=snippet&forHandle=@nobody-here")[1]["items"] == []
    post = world().posts(account)[0]
    _status, body = get(f"/youtube/v3/videos?part=statistics&id={app().video_id(post)}")
    (video,) = body["items"]
    assert set(video) == {"kind", "etag", "id", "statistics"}
    assert video["statistics"]["likeCount"] == str(post.favourites)


def test_api_quota_knob_counts_units_per_key_per_pacific_day():
    sandbox = YouTubeApp(world())
    sandbox.configure({"api_quota": "102"})
    search = "/youtube/v3/search?part=snippet&q=%23vegan&type=video"
    assert get(search, sandbox)[0] == 200  # 100
    assert get("/youtube/v3/channels?part=snippet&id=x", sandbox)[0] == 200  # 101
    assert get("/youtube/v3/playlistItems?part=snippet&playlistId=UUx", sandbox)[0] == 404  # 102
    status, body = get("/youtube/v3/videos?part=statistics&id=x", sandbox)
    assert status == 403
    assert body["error"]["code"] == 403
    assert body["error"]["errors"] == [{
        "message": "The request cannot be completed because you have exceeded your "
                   '<a href="/youtube/v3/getting-started#quota">quota</a>.',
        "domain": "youtube.quota", "reason": "quotaExceeded"}]
    with pytest.raises(BlockedPage) as caught:
        yt.page_data(json.dumps(body))
    assert caught.value.reason == "quota_exceeded"
    assert get("/youtube/v3/videos?part=statistics&id=x", sandbox, OTHER_KEY)[0] == 200
    state = sandbox.knob_state()
    today = YouTubeApp.quota_day()
    assert state["api_quota"] == {"limit": 102, "day": today.isoformat(), "used": {
        YouTubeApp.key_fingerprint(KEY): 102, YouTubeApp.key_fingerprint(OTHER_KEY): 1}}
    assert KEY not in json.dumps(state)
    assert OTHER_KEY not in json.dumps(state)
    assert account_of(HOST, KEY).endswith(YouTubeApp.key_fingerprint(KEY))
    # yesterday's units are yesterday's: a new Pacific day starts from nothing
    sandbox.api_quota_used = {(today - timedelta(days=1), k): n
                              for (_, k), n in sandbox.api_quota_used.items()}
    assert get("/youtube/v3/videos?part=statistics&id=x", sandbox)[0] == 200
    sandbox.configure({"api_quota": ""})
    assert "api_quota" not in sandbox.knob_state()
    with pytest.raises(ValueError, match=r"^knob api_quota must be a whole number"):
        sandbox.configure({"api_quota": "plenty"})


def test_the_quota_day_turns_at_midnight_pacific():
    utc = timezone.utc
    assert YouTubeApp.quota_day(datetime(2026, 12, 6, 7, 59, tzinfo=utc)).isoformat() == "2026-12-05"
    assert YouTubeApp.quota_day(datetime(2026, 12, 6, 8, 0, tzinfo=utc)).isoformat() == "2026-12-06"
    assert YouTubeApp.quota_day(datetime(2026, 7, 1, 7, 0, tzinfo=utc)).isoformat() == "2026-07-01"


# --- end to end ----------------------------------------------------------------------------------

FAST = {"MICROSCOUT_RATE_LIMIT_YOUTUBE": 0, "MICROSCOUT_MAX_RETRY_AFTER": 0.05,
        "MICROSCOUT_RATELIMIT_DEFAULT_WAIT": 0.05, "RETRY_TIMES": 6, "LOG_LEVEL": "INFO",
        "MICROSCOUT_DB_RETRY_DELAY": 0}
SWEEP = {"max_pages": "2", "recent_posts": "12", "min_followers": str(LO),
         "max_followers": str(HI)}
#: One search.list page (100 units), then 1-unit calls only: a budget then runs out at the
#: exact unit (a second 100-unit page would be refused while 1-unit calls still fit).
ONE_PAGE = {**SWEEP, "max_pages": "1"}


def top_tag() -> str:
    """The tag whose first 100 videos have the most distinct channels."""
    w = world()
    return max(sorted(w.tags()), key=lambda t: len({w.post(pid).account_index for pid in
                                                     list(reversed(w.tag_post_ids(t)))[:100]}))


def shown(followers: int) -> int:
    text = str(followers)
    return int(text[:3].ljust(len(text), "0"))


def swept(tag: str, n: int) -> tuple[list, set[str]]:
    """(the channels of the tag's first ``n`` videos, the handles a sweep keeps)."""
    w = world()
    owners = dict.fromkeys(w.post(p).account_index for p in list(reversed(w.tag_post_ids(tag)))[:n])
    accounts = [w.account(i) for i in owners]
    keep = {a.username.lower() for a in accounts
            if LO <= shown(a.followers) <= HI and not app().hidden_subscribers(a)}
    return accounts, keep


def knobs(base_url: str, **values: str) -> dict:
    from urllib.request import urlopen

    query = "&".join(f"{k}={v}" for k, v in values.items())
    with urlopen(f"{base_url}/__platform__/knobs?{query}", timeout=5) as reply:
        return json.loads(reply.read())


def crawl(base_url: str, settings: dict, **kwargs):
    return run_spider("youtube", {**FAST, "MICROSCOUT_YOUTUBE_API_KEY": KEY, **settings},
                      use_project_settings=True, base_url=base_url, source="api", **kwargs)


def scalar(url: str, sql: str):
    from tests.test_e2e_warehouse import _scalar

    return _scalar(url, sql)


@pytest.fixture(scope="module")
def sandbox():
    from crawler.sandbox.server import SandboxProcess

    with SandboxProcess(accounts=ACCOUNTS, seed=SEED, platform="youtube",
                        rate_limit=1_000_000) as process:
        yield process


@pytest.mark.slow
def test_api_sweep_into_sqlite_has_likes_comments_views_and_costs_under_3_units_a_profile(
        sandbox, sqlite_url):
    knobs(sandbox.base_url, quota="1000000")  # counts every unit the sandbox serves, afresh
    tag = top_tag()
    items = crawl(sandbox.base_url, {"MICROSCOUT_DATABASE_URL": sqlite_url}, tags=tag, **SWEEP)
    served = knobs(sandbox.base_url)["quota"]["used"]
    stats = items.stats
    assert stats["finish_reason"] == "finished"
    accounts, keep = swept(tag, 100)
    rows = scalar(sqlite_url, "SELECT handle, engagement_rate, engagement_per_view "
                              "FROM influencer_current")
    assert {h for h, *_ in rows} == keep
    assert all(rate is not None and per_view is not None for _, rate, per_view in rows)
    posts = scalar(sqlite_url, "SELECT pr.handle, p.post_id, p.likes, p.comments, p.views, "
                               "p.posted_at FROM posts p JOIN profiles pr ON pr.id = p.profile_id")
    by_handle = {a.username.lower(): a for a in accounts}
    expected = {(h, *c) for h in keep for c in expected_counts(by_handle[h], 12)}
    assert {(h, v, str(li), str(co), str(vi)) for h, v, li, co, vi, _ in posts} == expected
    assert all(posted_at is not None for *_, posted_at in posts)
    # paid product placements: the videos.list flag reaches posts.sponsored
    flagged = {app().video_id(p) for h in keep for p in world().posts(by_handle[h])[:12]
               if world().post_flagged(p.id)}
    evidence = dict(scalar(sqlite_url, "SELECT post_id, sponsor_evidence FROM posts"))
    assert flagged
    assert {video for video, why in evidence.items() if why == "youtube:flag"} == flagged
    # the units: the sandbox's count, the warehouse's booking and the spider's own agree
    units = {k.rsplit("/", 1)[1]: v for k, v in stats.items() if "/api_units/" in k}
    assert served == stats["microscout/quota/youtube/units"] == sum(units.values()) \
        == stats["microscout/youtube/api_quota_units"]
    asked = sum(min(12, by_handle[h].post_count) for h in keep)  # video ids, 50 a call
    assert units["videos"] == math.ceil(asked / 50)
    assert set(units) == {"search", "channels", "playlist_items", "videos"}
    per_profile = (served - units["search"]) / len(keep)
    assert per_profile <= 3, per_profile
    # the key: in no log line, stat, crawl_runs row, stored URL
    assert KEY not in items.log
    assert KEY not in json.dumps(stats, default=str)
    stored = scalar(sqlite_url, "SELECT arguments, stats FROM crawl_runs")
    assert KEY not in json.dumps(stored, default=str)
    arguments = stored[0][0]
    arguments = json.loads(arguments) if isinstance(arguments, str) else arguments
    assert (arguments["source"], arguments["api_posts"]) == ("api", "uploads")
    # the warehouse's budget row holds what was spent (the unspent reservation given back)
    ((used, quota, account),) = scalar(sqlite_url, "SELECT used, quota, account FROM api_usage")
    assert (used, quota, account) == (served, 10_000, account_of(urlsplit(sandbox.base_url).netloc,
                                                                 KEY))


@pytest.mark.slow
def test_a_spent_budget_stops_the_run_and_the_next_runs_continue_from_the_warehouse(
        sandbox, sqlite_url):
    window = YOUTUBE.window(datetime.now(timezone.utc))
    account = account_of(urlsplit(sandbox.base_url).netloc, KEY)
    knobs(sandbox.base_url, quota="1000000")
    first = crawl(sandbox.base_url, {"MICROSCOUT_DATABASE_URL": sqlite_url,
                                     "MICROSCOUT_YOUTUBE_DAILY_QUOTA": 130},
                  tags=top_tag(), **ONE_PAGE)
    assert first.stats["finish_reason"] == "quota_exhausted"
    assert knobs(sandbox.base_url)["quota"]["used"] == 130  # nothing sent beyond the budget
    assert "130 of 130 used, this call needs 1" in first.log
    assert "Stopping; the next run continues" in first.log
    assert first.stats["microscout/quota/exhausted"] == "youtube:units"
    rows = scalar(sqlite_url, "SELECT api, unit, account, used, quota FROM api_usage")
    assert rows == [("youtube", "units", account, 130, 130)]
    assert KEY not in first.log
    loaded = scalar(sqlite_url, "SELECT count(*) FROM profiles")[0][0]
    assert loaded > 0  # what was paid for is kept

    # the same day, key and warehouse, a budget raised to 140: ten more units, then a stop
    handles = ",".join("@" + a.username.lower() for a in in_range(15))
    knobs(sandbox.base_url, quota="1000000")
    second = crawl(sandbox.base_url, {"MICROSCOUT_DATABASE_URL": sqlite_url,
                                      "MICROSCOUT_YOUTUBE_DAILY_QUOTA": 140},
                   handles=handles, **SWEEP)
    if YOUTUBE.window(datetime.now(timezone.utc)) != window:
        pytest.skip("midnight Pacific passed during the test: a new budget day began")
    assert second.stats["finish_reason"] == "quota_exhausted"
    quota = knobs(sandbox.base_url)["quota"]
    assert quota["used"] == 10
    # every channels.list answer paid for is a profile kept (the calls for their posts that
    # did not fit were never sent). Which calls the ten units bought depends on timing: a
    # profile answered early may have its uploads page booked before the last handles.
    assert sum(quota["calls"].values()) == 10
    assert len([i for i in second if "followers" in i]) == quota["calls"]["channels"] >= 5
    assert scalar(sqlite_url, "SELECT used, quota FROM api_usage") == [(140, 140)]

    # and with nothing left, nothing is sent at all
    knobs(sandbox.base_url, quota="1000000")
    third = crawl(sandbox.base_url, {"MICROSCOUT_DATABASE_URL": sqlite_url,
                                     "MICROSCOUT_YOUTUBE_DAILY_QUOTA": 140}, handles=handles,
                  **SWEEP)
    assert third.stats["finish_reason"] == "quota_exhausted"
    assert knobs(sandbox.base_url)["quota"]["used"] == 0
    assert third.stats.get("microscout/quota/youtube/units", 0) == 0
    assert scalar(sqlite_url, "SELECT used FROM api_usage") == [(140,)]
    # each run is recorded as stopped by its budget (the third, which loaded nothing, fails
    # the monitor's minimum-profiles check as well)
    runs = scalar(sqlite_url, "SELECT status, finish_reason FROM crawl_runs ORDER BY id")
    assert runs == [("aborted", "quota_exhausted")] * 2 + [("failed", "quota_exhausted")]


@pytest.mark.slow
def test_googles_own_quota_exceeded_closes_the_crawl_and_keeps_what_was_paid_for(
        sandbox, sqlite_url):
    knobs(sandbox.base_url, api_quota="130")
    try:
        items = crawl(sandbox.base_url, {"MICROSCOUT_DATABASE_URL": sqlite_url},
                      tags=top_tag(), **ONE_PAGE)
        state = knobs(sandbox.base_url)["api_quota"]
    finally:
        knobs(sandbox.base_url, api_quota="")
    assert items.stats["finish_reason"] == "youtube_api_quotaExceeded"
    assert state["used"] == {YouTubeApp.key_fingerprint(KEY): 130}
    reasons = {r for (r,) in scalar(sqlite_url, "SELECT reason FROM rejected_items")}
    assert "quota_exceeded" in reasons
    assert scalar(sqlite_url, "SELECT count(*) FROM profiles")[0][0] > 0
    assert KEY not in items.log
    # the run's row knows why it closed (CloseSpider's reason reaches it before Scrapy's stat)
    assert scalar(sqlite_url, "SELECT status, finish_reason FROM crawl_runs") == [
        ("aborted", "youtube_api_quotaExceeded")]


CASSETTE_SWEEP = {"max_pages": "1", "max_posts": "40", "recent_posts": "12",
                  "min_followers": str(LO), "max_followers": str(HI)}
#: One request at a time: the videos.list batches (which ids share a call) are then the same
#: when recording and replaying.
SERIAL = {"CONCURRENT_REQUESTS": 1}


def cassette_tag() -> str:
    """A tag whose first 40 videos come from few channels, at least 5 of them kept."""
    w = world()
    tags = [t for t, n in sorted(w.tags().items()) if n >= 40]
    fits = [t for t in tags if len(swept(t, 40)[1]) >= 5]
    return min(fits, key=lambda t: len(swept(t, 40)[0]))


@pytest.mark.slow
def test_cassette_replays_the_api_sweep_through_the_pipeline_into_sqlite(sqlite_url):
    text = CASSETTE.read_text(encoding="utf-8")
    assert KEY not in text
    assert yt.API_KEY_HEADER.lower() not in text.lower()
    items = run_spider("youtube", {**cassette_settings(CASSETTE), **FAST, **SERIAL,
                                   "MICROSCOUT_YOUTUBE_API_KEY": KEY,
                                   "MICROSCOUT_DATABASE_URL": sqlite_url},
                       use_project_settings=True, base_url=BASE, source="api",
                       tags=cassette_tag(), **CASSETTE_SWEEP)
    assert items.stats.get("microscout/cassette/missed", 0) == 0
    assert items.stats["finish_reason"] == "finished"
    accounts, keep = swept(cassette_tag(), 40)
    rows = scalar(sqlite_url, "SELECT handle, engagement_rate FROM influencer_current")
    assert {h for h, _ in rows} == keep
    assert all(rate is not None for _, rate in rows)
    by_handle = {a.username.lower(): a for a in accounts}
    posts = scalar(sqlite_url, "SELECT pr.handle, p.post_id, p.likes, p.comments, p.views "
                               "FROM posts p JOIN profiles pr ON pr.id = p.profile_id")
    assert {(h, v, str(li), str(co), str(vi)) for h, v, li, co, vi in posts} == {
        (h, *c) for h in keep for c in expected_counts(by_handle[h], 12)}
    assert items.stats["microscout/youtube/api_units/videos"] >= 2  # a full call and the rest
    assert scalar(sqlite_url, "SELECT used FROM api_usage") == [
        (items.stats["microscout/quota/youtube/units"],)]
    assert KEY not in items.log
    assert KEY not in json.dumps(scalar(sqlite_url, "SELECT arguments FROM crawl_runs"),
                                 default=str)


def record() -> None:
    """Re-record the cassette from the sandbox on port 8796."""
    from crawler.sandbox.server import SandboxProcess

    CASSETTE.unlink(missing_ok=True)
    with SandboxProcess(accounts=ACCOUNTS, seed=SEED, platform="youtube", port=PORT,
                        rate_limit=1_000_000):
        items = run_spider(
            "youtube", {**cassette_settings(CASSETTE, record_mode="once"), **FAST, **SERIAL,
                        "MICROSCOUT_YOUTUBE_API_KEY": KEY, "ITEM_PIPELINES": {}},
            use_project_settings=True, base_url=BASE, source="api", tags=cassette_tag(),
            **CASSETTE_SWEEP)
    print(f"recorded {items.stats.get('microscout/cassette/recorded')} interactions to {CASSETTE}")


if __name__ == "__main__":
    record()


@pytest.mark.slow
@pytest.mark.redis
def test_two_workers_drain_an_api_job_like_a_single_sweep(tmp_path):
    """In a distributed job the statistics calls stay on the worker holding their profiles
    (holding() while any is held): two workers leave what a single sweep leaves, posts' counts
    included, and the key never reaches Redis."""
    import redis

    from crawler.sandbox.server import SandboxProcess
    from models import migrate
    from tests.conftest import require_service
    from tests.test_distributed import (
        REDIS,
        cli,
        command_env,
        env_for,
        start_worker,
        wait_all,
        warehouse,
    )

    require_service("Redis", "127.0.0.1", 6379)
    prefix = f"test-yt-{tmp_path.name[-10:]}"
    key = {"MICROSCOUT_YOUTUBE_API_KEY": KEY, "MICROSCOUT_RATE_LIMIT_YOUTUBE": "0"}
    args = ["--platform", "youtube", "--source", "api", "--tags", f"{top_tag()},edutooters",
            "--max-pages", "1", "--recent-posts", "12"]
    urls = {}
    for mode in ("single", "job"):
        urls[mode] = f"sqlite:///{tmp_path / mode}.sqlite"
        migrate.upgrade(urls[mode])
    server = redis.Redis.from_url(REDIS)
    try:
        with SandboxProcess(accounts=ACCOUNTS, seed=SEED, platform="youtube") as box:
            single = cli("sweep", *args, "--base-url", box.base_url, "--quiet",
                         env={**command_env(), "MICROSCOUT_DATABASE_URL": urls["single"], **key},
                         cwd=tmp_path)
            assert single.returncode == 0, single.stderr[-2000:]
            env = env_for(prefix, urls["job"], **key)
            done = cli("enqueue", *args, "--base-url", box.base_url, "--job", "ytapi", env=env,
                       cwd=tmp_path)
            assert done.returncode == 0, done.stderr
            workers = [start_worker(env, tmp_path, f"yt{i}", "--job", "ytapi") for i in range(2)]
            assert wait_all(workers) == [0, 0], [
                (tmp_path / f"yt{i}.log").read_text()[-3000:] for i in range(2)]
        expected, got = warehouse(urls["single"]), warehouse(urls["job"])
        assert got == expected
        assert expected["posts"]
        counts = "SELECT post_id, likes, comments, views FROM posts ORDER BY post_id"
        assert scalar(urls["job"], counts) == scalar(urls["single"], counts)
        assert all(likes is not None for _, likes, *_ in scalar(urls["job"], counts))
        for worker in range(2):
            assert KEY not in (tmp_path / f"yt{worker}.log").read_text()
        for name in server.scan_iter(f"{prefix}:*"):
            kind = server.type(name).decode()
            value = {"hash": lambda k: b"".join(b"".join(p) for p in server.hgetall(k).items()),
                     "string": server.get, "zset": lambda k: b"".join(server.zrange(k, 0, -1)),
                     "list": lambda k: b"".join(server.lrange(k, 0, -1)),
                     "set": lambda k: b"".join(server.smembers(k))}[kind](name)
            assert KEY.encode() not in (value or b"")
    finally:
        names = list(server.scan_iter(f"{prefix}:*"))
        if names:
            server.delete(*names)
