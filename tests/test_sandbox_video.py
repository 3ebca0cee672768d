"""The TikTok and YouTube sandboxes: shapes equal to the real captures, pagination, locales,
block-page knobs, and the Data API imitation (key header, quota).

Shapes are compared key set by key set with ../shared/realworld/{tiktok,youtube} (skipped when
the captures are absent); each comparison names the real object it copies. Bodies are built by
the apps in-process; what needs HTTP (POST continuations, request headers, knobs) runs the
server in a thread.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from contextlib import contextmanager
from urllib.parse import urlencode, urlsplit

import pytest

from crawler.items import HashtagSightingItem, PostItem, ProfileItem
from crawler.parsers import BlockedPage, UnrecognisedDocument
from crawler.parsers import tiktok as tt
from crawler.parsers import youtube as yt
from crawler.sandbox import SandboxConfig, World, make_server
from crawler.sandbox.common import KNOBS_PATH, Request
from crawler.sandbox.server import SandboxProcess, knobs_response
from crawler.sandbox.tiktok import BlockInjector, TikTokApp, round_sig, video_numbers
from crawler.sandbox.youtube import (
    YouTubeApp,
    compact,
    continuation,
    page_token,
    read_continuation,
    read_page_token,
)
from crawler.values import parse_count
from tests.conftest import realworld

ACCOUNTS, SEED = 200, 7
BASE = "http://127.0.0.1:9"


@pytest.fixture(scope="module")
def world() -> World:
    return World(ACCOUNTS, SEED)


@pytest.fixture(scope="module")
def tiktok(world) -> TikTokApp:
    return TikTokApp(world)


@pytest.fixture(scope="module")
def youtube(world) -> YouTubeApp:
    return YouTubeApp(world)


def call(app, path: str, query: dict | None = None):
    """The answer to a GET, in-process: the app's, or the server's for its knobs endpoint."""
    if path == KNOBS_PATH:
        return knobs_response(app, dict(query or {}))
    target = path + (f"?{urlencode(query)}" if query else "")
    return app.handle(Request("GET", path, dict(query or {}), BASE, target))


def top_tag(world: World) -> str:
    tags = world.tags()
    return max(tags, key=lambda t: (tags[t], t))


def with_website(world: World, present: bool = True, min_posts: int = 12):
    return next(a for a in world.accounts
                if bool(a.website) == present and a.post_count >= min_posts)


# --- real shapes -------------------------------------------------------------------------


def tiktok_real() -> tuple[dict, dict, dict]:
    """(userInfo 2026, a __NEXT_DATA__ 2021 item, a 2026 item-list projection item)."""
    user_info = json.loads(realworld("tiktok", "scrapfly_universal_data_webapp_user_detail_"
                                               "userInfo_2026.json").read_text())[0]
    html = realworld("tiktok", "drawrowfly_profile_NEXT_DATA_tiktok_2021.html").read_text()
    data = json.loads(re.search(r'<script id="__NEXT_DATA__"[^>]*>(.*?)</script>', html,
                                re.S).group(1))
    projection = json.loads(realworld("tiktok",
                                      "scrapfly_api_post_item_list_projection_2026.json").read_text())
    return user_info, data["props"]["pageProps"]["items"][0], projection[0]


def youtube_real() -> tuple[dict, dict, dict, dict]:
    """(channel browse body, hashtag continuation, channels.list, search.list)."""
    recording = json.loads(realworld("youtube", "newpipe_mock_youtubei_browse_channel_kurzgesagt"
                                                "_2026.json").read_text())
    hashtag = json.loads(realworld("youtube", "invidious_mocks_hashtag_martingarrix_page1_browse"
                                              "_minified.json").read_text())
    channels = json.loads(realworld("youtube", "python-youtube_api_v3_channels_list_statistics_"
                                               "googledevelopers_2019.json").read_text())
    search = json.loads(realworld("youtube", "python-youtube_api_v3_search_list_keywords_p1_"
                                             "2019.json").read_text())
    return json.loads(recording["response"]["responseBody"]), hashtag, channels, search


def keys(value: dict) -> set[str]:
    return set(value)


# --- TikTok: shapes ------------------------------------------------------------------------


def tiktok_profile_data(app: TikTokApp, username: str) -> dict:
    return tt.page_data(call(app, f"/@{username}").body)


def test_tiktok_profile_user_and_stats_keys_are_the_2026_captures(world, tiktok):
    real, _, _ = tiktok_real()
    for account, expected_user in ((with_website(world), keys(real["user"])),
                                   (with_website(world, False), keys(real["user"]) - {"bioLink"})):
        info = tiktok_profile_data(tiktok, account.username)["__DEFAULT_SCOPE__"][
            "webapp.user-detail"]["userInfo"]
        assert keys(info) == keys(real)
        assert keys(info["user"]) == expected_user
        assert keys(info["stats"]) == keys(real["stats"])
        assert keys(info["statsV2"]) == keys(real["statsV2"])
        assert all(isinstance(v, int) for v in info["stats"].values())
        assert all(isinstance(v, str) for v in info["statsV2"].values())
        assert info["itemList"] == []  # as TikTok serves profile pages today


def tiktok_listing(app: TikTokApp, tag: str, cursor: int = 0, count: int = 30) -> dict:
    challenge = tt.challenge_info(tt.page_data(call(app, f"/tag/{tag}").body))
    body = call(app, "/api/challenge/item_list/",
                {"challengeID": challenge["id"], "cursor": str(cursor), "count": str(count)}).body
    return json.loads(body)


def test_tiktok_item_keys_are_the_captures(world, tiktok):
    _, real_item, real_projection = tiktok_real()
    item = tiktok_listing(tiktok, top_tag(world))["itemList"][0]
    # every key of the 2021 item, plus the 2026 ones the projection shows (and statsV2)
    assert keys(real_item) <= keys(item)
    assert keys(item) - keys(real_item) == {"statsV2", "contents", "collected"}
    for name in ("video", "author", "music", "authorStats", "duetInfo"):
        assert keys(item[name]) == keys(real_item[name]), name
    assert keys(item["challenges"][0]) == keys(real_item["challenges"][0])
    assert keys(item["textExtra"][0]) == keys(real_item["textExtra"][0])
    assert keys(item["stats"]) == keys(real_projection["stats"])  # collectCount included
    assert keys(item["statsV2"]) == keys(item["stats"])
    assert keys(item["contents"][0]) == keys(real_projection["contents"][0])
    assert keys(item["contents"][0]["textExtra"][0]) == {"hashtagName"}


def test_tiktok_listing_pages_walk_the_tag_once_newest_first(world, tiktok):
    tag = top_tag(world)
    seen, cursor, pages = [], 0, 0
    while True:
        body = tiktok_listing(tiktok, tag, cursor, 35)
        assert {"itemList", "cursor", "hasMore", "statusCode"} <= keys(body)
        seen += [i["id"] for i in body["itemList"]]
        pages += 1
        more = tt.pagination(body)
        if not more.has_more:
            break
        cursor = int(more.cursor)
    assert seen == [str(pid) for pid in reversed(world.tag_post_ids(tag))]
    assert pages == -(-len(seen) // 35)


def test_tiktok_tag_listing_parses_to_sightings_and_author_stats(world, tiktok):
    tag = top_tag(world)
    challenge_id = tt.challenge_info(tt.page_data(call(tiktok, f"/tag/{tag}").body))["id"]
    body = call(tiktok, "/api/challenge/item_list/",
                {"challengeID": challenge_id, "cursor": "30", "count": "5"}).body
    url = f"{BASE}/api/challenge/item_list/?challengeID={challenge_id}&cursor=30&count=5"
    items = tt.parse_document(body, url=url)
    sightings = [i for i in items if isinstance(i, HashtagSightingItem)]
    assert [s.position for s in sightings] == [30, 31, 32, 33, 34]
    assert {s.hashtag for s in sightings} == {tag}
    profiles = [i for i in items if isinstance(i, ProfileItem)]
    for profile in profiles:  # authorStats are TikTok's rounded integers
        account = world.account_by_username(profile.handle)
        assert profile.followers == round_sig(account.followers)


def test_tiktok_post_list_pages_by_time_cursor(world, tiktok):
    account = max(world.accounts[:50], key=lambda a: a.post_count)
    sec_uid = tt.sec_uid(tiktok_profile_data(tiktok, account.username))
    assert tiktok.account_by_sec_uid(sec_uid) == account
    seen, cursor = [], "0"
    while True:
        body = json.loads(call(tiktok, "/api/post/item_list/",
                               {"secUid": sec_uid, "cursor": cursor, "count": "7"}).body)
        seen += [i["id"] for i in body["itemList"]]
        if not body["hasMore"]:
            break
        cursor = body["cursor"]
    assert seen == [p.id for p in world.posts(account)]


def test_tiktok_profile_parses_with_exact_counts_and_locale(world, tiktok):
    account = with_website(world)
    (profile,) = tt.parse_document(call(tiktok, f"/@{account.username}", {"lang": "en"}).body,
                                   url=f"{BASE}/@{account.username}?lang=en")
    assert profile.followers == str(account.followers)  # statsV2, not the rounded stats
    assert (profile.handle, profile.platform_user_id, profile.bio, profile.external_url,
            profile.locale) == (account.username.lower(), account.id, account.note,
                                account.website, "en")


def test_tiktok_video_page_yields_its_post_and_author_stats(world, tiktok):
    account = world.accounts[3]
    post = world.posts(account)[0]
    (profile,) = tt.parse_document(call(tiktok, f"/@{account.username}/video/{post.id}").body)
    assert profile.followers == str(account.followers)  # authorStatsV2
    (video,) = profile.recent_posts
    assert (video.post_id, video.likes, video.comments, video.views) == (
        post.id, str(post.favourites), str(post.replies),
        str(video_numbers(world.seed, post)["views"]))


def test_tiktok_unknown_account_is_unrecognised_not_an_empty_profile(tiktok):
    with pytest.raises(UnrecognisedDocument, match="statusCode 10221"):
        tt.parse_document(call(tiktok, "/@nobody_here_at_all").body)


def test_views_keep_engagement_per_view_between_3_and_14_percent(world):
    for post in world.posts(5) + world.posts(17):
        views = video_numbers(world.seed, post)["views"]
        interactions = post.favourites + post.replies
        assert views >= max(1, interactions)
        if interactions >= 200:
            assert 0.025 < interactions / views < 0.15


# --- block pages -------------------------------------------------------------------------


def test_block_injector_is_deterministic_scoped_and_near_its_rate():
    blocks = BlockInjector(("captcha",), seed=3)
    blocks.configure({"captcha": "0.2", "scope": "profiles"})
    targets = [f"/@user{i}" for i in range(2000)]
    first = [blocks.decide(t, "profile") for t in targets]
    assert first == [blocks.decide(t, "profile") for t in targets]
    assert 0.17 < first.count("captcha") / len(targets) < 0.23
    assert all(blocks.decide(t, "listing") is None for t in targets)  # out of scope
    with pytest.raises(ValueError, match="unknown knob"):
        blocks.configure({"login": "0.1"})
    with pytest.raises(ValueError, match="between 0 and 1"):
        blocks.configure({"captcha": "2"})


def test_tiktok_captcha_pages_raise_blocked_page(world):
    app = TikTokApp(world)
    state = json.loads(call(app, "/__platform__/knobs", {"captcha": "1"}).body)
    assert state["knobs"] == {"captcha": 1.0, "scope": "all"}
    account = world.accounts[0]
    with pytest.raises(BlockedPage) as html:
        tt.parse_document(call(app, f"/@{account.username}").body)
    with pytest.raises(BlockedPage) as api:
        tt.parse_document(call(app, "/api/post/item_list/", {"secUid": "x"}).body)
    assert (html.value.reason, api.value.reason) == ("captcha", "captcha")
    assert json.loads(call(app, "/__platform__/knobs").body)["served"] == {"captcha": 2}
    assert call(app, "/robots.txt").status == 200  # never blocked


@pytest.mark.parametrize(("kind", "status", "reason"), [
    ("consent", 200, "consent_required"), ("bot_check", 200, "bot_check"),
    ("captcha", 429, "captcha")])
def test_youtube_block_pages_raise_blocked_page_with_their_reason(world, kind, status, reason):
    app = YouTubeApp(world)
    call(app, "/__platform__/knobs", {kind: "1", "scope": "profiles"})
    response = call(app, f"/@{world.accounts[0].username}/videos")
    assert response.status == status
    with pytest.raises(BlockedPage) as caught:
        yt.parse_document(response.body)
    assert caught.value.reason == reason
    assert call(app, f"/hashtag/{top_tag(world)}").status == 200  # listings out of scope


# --- YouTube: shapes -----------------------------------------------------------------------


def channel_data(app: YouTubeApp, account, lang: str = "en") -> dict:
    return yt.page_data(call(app, f"/channel/{app.channel_id(account)}/videos", {"hl": lang}).body)


def first_video(grid_owner: dict) -> dict:
    return next(i for i in grid_owner if "richItemRenderer" in i)


def test_youtube_channel_page_has_the_recorded_browse_shape(world, youtube):
    real, _, _, _ = youtube_real()
    data = channel_data(youtube, with_website(world, min_posts=31))  # a continuation too
    assert keys(data) == keys(real)
    assert keys(data["responseContext"]) <= keys(real["responseContext"])
    header, real_header = data["header"]["pageHeaderRenderer"], real["header"]["pageHeaderRenderer"]
    assert keys(header) == keys(real_header)
    assert keys(header["content"]["pageHeaderViewModel"]) == keys(
        real_header["content"]["pageHeaderViewModel"])
    meta = data["metadata"]["channelMetadataRenderer"]
    assert keys(meta) == keys(real["metadata"]["channelMetadataRenderer"])
    assert keys(data["microformat"]["microformatDataRenderer"]) == keys(
        real["microformat"]["microformatDataRenderer"])
    tabs = data["contents"]["twoColumnBrowseResultsRenderer"]["tabs"]
    real_tabs = real["contents"]["twoColumnBrowseResultsRenderer"]["tabs"]
    selected = next(t["tabRenderer"] for t in tabs if t["tabRenderer"].get("selected"))
    real_selected = next(t["tabRenderer"] for t in real_tabs
                         if t.get("tabRenderer", {}).get("selected"))
    assert keys(selected) == keys(real_selected)
    grid, real_grid = selected["content"]["richGridRenderer"], real_selected["content"][
        "richGridRenderer"]
    assert keys(grid) == keys(real_grid)
    item, real_item = first_video(grid["contents"]), first_video(real_grid["contents"])
    assert keys(item["richItemRenderer"]) == keys(real_item["richItemRenderer"])
    video = item["richItemRenderer"]["content"]["videoRenderer"]
    real_video = real_item["richItemRenderer"]["content"]["videoRenderer"]
    assert keys(video) == keys(real_video)
    last, real_last = grid["contents"][-1], real_grid["contents"][-1]
    assert keys(last["continuationItemRenderer"]) == keys(real_last["continuationItemRenderer"])
    command = last["continuationItemRenderer"]["continuationEndpoint"]["continuationCommand"]
    assert keys(command) == {"token", "request"}


def test_youtube_hashtag_videos_have_the_recorded_listing_shape(world, youtube):
    _, real, _, _ = youtube_real()
    data = yt.page_data(call(youtube, f"/hashtag/{top_tag(world)}").body)
    tab = data["contents"]["twoColumnBrowseResultsRenderer"]["tabs"][0]["tabRenderer"]
    contents = tab["content"]["richGridRenderer"]["contents"]
    real_items = real["onResponseReceivedActions"][0]["reloadContinuationItemsCommand"][
        "continuationItems"]
    item, real_item = first_video(contents), first_video(real_items)
    assert keys(item["richItemRenderer"]) >= keys(real_item["richItemRenderer"])
    video = item["richItemRenderer"]["content"]["videoRenderer"]
    assert keys(video) == keys(real_item["richItemRenderer"]["content"]["videoRenderer"])
    assert keys(video["ownerText"]["runs"][0]["navigationEndpoint"]["browseEndpoint"]) == {
        "browseId"}
    assert keys(contents[-1]["continuationItemRenderer"]) == keys(
        real_items[-1]["continuationItemRenderer"])


def test_youtube_data_api_bodies_have_the_recorded_keys(world, youtube):
    _, _, real_channels, real_search = youtube_real()
    account = next(a for a in world.accounts if not youtube.hidden_subscribers(a))
    channels = json.loads(youtube.api_channels(Request(
        "GET", "/youtube/v3/channels", {"id": youtube.channel_id(account)}, BASE)).body)
    assert keys(channels) == keys(real_channels)
    (item,) = channels["items"]
    real_item = real_channels["items"][0]
    assert keys(item) == keys(real_item)
    assert keys(item["snippet"]) == keys(real_item["snippet"])
    # the 2019 capture still has commentCount, which the API has dropped since
    assert keys(item["statistics"]) == keys(real_item["statistics"]) - {"commentCount"}
    search = json.loads(youtube.api_search(Request(
        "GET", "/youtube/v3/search", {"q": f"#{top_tag(world)}", "maxResults": "25"}, BASE)).body)
    assert keys(search) == keys(real_search)
    assert keys(search["items"][0]) == keys(real_search["items"][0])
    assert keys(search["items"][0]["snippet"]) == keys(real_search["items"][0]["snippet"])
    assert keys(search["items"][0]["snippet"]["thumbnails"]) == keys(
        real_search["items"][0]["snippet"]["thumbnails"])


def test_hidden_subscriber_counts_are_hidden_on_the_page_and_in_the_api(world, youtube):
    account = next(a for a in world.accounts if youtube.hidden_subscribers(a))
    (profile,) = yt.parse_document(channel_data(youtube, account))
    assert profile.followers is None
    (api_profile,) = yt.parse_document(youtube.api_channels(Request(
        "GET", "/youtube/v3/channels", {"id": youtube.channel_id(account)}, BASE)).body)
    assert api_profile.followers is None


# --- YouTube: ids, tokens, locales ----------------------------------------------------------


def test_ids_and_tokens_round_trip(world, youtube):
    account = world.accounts[42]
    assert youtube.account_by_channel_id(youtube.channel_id(account)) == account
    assert re.fullmatch(r"UC[\w-]{22}", youtube.channel_id(account))
    post = world.posts(account)[0]
    assert len(youtube.video_id(post)) == 11
    assert youtube.post_by_video_id(youtube.video_id(post)) == post
    token = continuation("FEhashtag", 60, "streetphotography")
    assert read_continuation(token) == ("FEhashtag", 60, "streetphotography")
    # the parser reads the sandbox's tokens as it reads YouTube's
    assert yt.continuation_browse_id(token) == "FEhashtag"
    assert yt.hashtag_from_continuation(token) == "streetphotography"
    assert (page_token(25), read_page_token("CBkQAA")) == ("CBkQAA", 25)


@pytest.mark.parametrize(("value", "lang", "text", "read_back"), [
    (937, "en", "937", 937), (25_399, "en", "25.3K", 25_300),
    (1_659_000, "en", "1.65M", 1_650_000), (25_399, "de", "25.300", 25_300),
    (1_659_000, "de", "1,65 Mio.", 1_650_000), (25_399, "es", "25,3 mil", 25_300),
    (4_690_001, "es", "4,69 M", 4_690_000)])
def test_compact_numbers_as_youtube_prints_them(value, lang, text, read_back):
    assert compact(value, lang) == text
    assert parse_count(text, lang) == read_back  # rounded down, never up


@pytest.mark.parametrize("lang", ["en", "de", "es"])
def test_channel_counts_and_times_read_back_in_every_page_language(world, youtube, lang):
    account = next(a for a in world.accounts
                   if a.followers > 20_000 and not youtube.hidden_subscribers(a))
    url = f"{BASE}/channel/{youtube.channel_id(account)}/videos?hl={lang}"
    (profile,) = yt.parse_document(call(youtube, f"/channel/{youtube.channel_id(account)}/videos",
                                        {"hl": lang}).body, url=url)
    assert profile.locale == lang
    followers = parse_count(profile.followers, profile.locale)
    assert account.followers * 0.99 <= followers <= account.followers
    assert parse_count(profile.posts_count, profile.locale) == account.statuses_count
    post = world.posts(account)[0]
    first = profile.recent_posts[0]
    assert parse_count(first.views, profile.locale) == video_numbers(world.seed, post)["views"]
    assert first.posted_at_precision in ("second", "minute", "hour", "day", "week", "month",
                                         "year")
    assert profile.handle == account.username.lower()
    assert profile.is_verified == (account.followers >= 100_000)


# --- over HTTP: POST continuations, the key header, knobs -------------------------------------


@contextmanager
def serving(platform: str):
    server = make_server(SandboxConfig(accounts=ACCOUNTS, seed=SEED, platform=platform))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.base_url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def fetch(base_url: str, target: str, *, method: str = "GET", body: bytes | None = None,
          headers: dict | None = None) -> tuple[int, bytes]:
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def youtube_server():
    with serving("youtube") as base_url:
        yield base_url


def test_browse_continuations_walk_the_hashtag_once(world, youtube_server):
    tag = top_tag(world)
    status, body = fetch(youtube_server, f"/hashtag/{tag}?hl=en")
    assert status == 200
    data = yt.page_data(body)
    seen = [p.post_id for p in yt.parse_document(data) if isinstance(p, PostItem)]
    token = yt.continuation_token(data)
    while token:
        request = yt.browse_request_body(continuation=token, hl="en")
        status, body = fetch(youtube_server, "/youtubei/v1/browse?prettyPrint=false",
                             method="POST", body=json.dumps(request).encode(),
                             headers={"Content-Type": "application/json"})
        assert status == 200
        data = json.loads(body)
        items = yt.parse_document(data, hashtag=tag, position_offset=len(seen))
        sightings = [i for i in items if isinstance(i, HashtagSightingItem)]
        assert sightings[0].position == len(seen)
        seen += [s.post_id for s in sightings]
        token = yt.continuation_token(data)
    expected = [YouTubeApp.video_id(world.post(pid)) for pid in reversed(world.tag_post_ids(tag))]
    assert seen == expected


def test_robots_txt_disallows_youtubei_as_youtube_does(youtube_server):
    from urllib.robotparser import RobotFileParser

    _, body = fetch(youtube_server, "/robots.txt")
    robots = RobotFileParser()
    robots.parse(body.decode().splitlines())
    assert not robots.can_fetch("microscout", f"{youtube_server}/youtubei/v1/browse")
    assert robots.can_fetch("microscout", f"{youtube_server}/hashtag/vegan")
    assert robots.can_fetch("microscout", f"{youtube_server}/channel/UCx/videos")


def test_data_api_wants_the_key_in_its_header_only(world, youtube_server):
    target = f"/youtube/v3/search?part=snippet&q=%23{top_tag(world)}&type=video"
    status, body = fetch(youtube_server, target)
    assert status == 403
    assert json.loads(body)["error"]["errors"][0]["reason"] == "forbidden"
    status, _ = fetch(youtube_server, target + "&key=abc", headers={"X-Goog-Api-Key": "abc"})
    assert status == 400  # the sandbox refuses keys in URLs
    status, body = fetch(youtube_server, target, headers={"X-Goog-Api-Key": "abc"})
    assert status == 200
    assert yt.next_page_token(json.loads(body))


def test_data_api_quota_knob_answers_quota_exceeded(world, youtube_server):
    fetch(youtube_server, "/__platform__/knobs?quota=101")
    key = {"X-Goog-Api-Key": "abc"}
    search = f"/youtube/v3/search?part=snippet&q=%23{top_tag(world)}&type=video"
    assert fetch(youtube_server, search, headers=key)[0] == 200  # 100 units
    assert fetch(youtube_server, "/youtube/v3/videos?part=statistics&id=x", headers=key)[0] == 200
    status, body = fetch(youtube_server, search, headers=key)
    assert status == 403
    with pytest.raises(BlockedPage) as caught:
        yt.page_data(body)
    assert caught.value.reason == "quota_exceeded"
    state = json.loads(fetch(youtube_server, "/__platform__/knobs?quota=")[1])
    assert state["quota"] == {"limit": None, "used": 0, "calls": {}}


def test_post_stays_refused_for_platforms_without_it(youtube_server):
    with serving("tiktok") as base_url:
        status, _ = fetch(base_url, "/api/post/item_list/", method="POST", body=b"{}")
    assert status == 405


def test_knobs_reject_bad_values_with_400(youtube_server):
    status, body = fetch(youtube_server, "/__platform__/knobs?consent=lots")
    assert status == 400
    assert "error" in json.loads(body)


def test_knobs_from_the_config_and_a_bad_one_is_a_one_line_error(world):
    youtube = YouTubeApp.from_config(world, SandboxConfig(
        platform="youtube", knobs={"captcha": "0.5", "scope": "listings", "quota": "300"}))
    assert youtube.knob_state() == {"knobs": {"captcha": 0.5, "scope": "listings"}, "served": {},
                                    "quota": {"limit": 300, "used": 0, "calls": {}}, "api_keys_seen": 0}
    for knobs, message in (({"quota": "lots"}, "knob quota"), ({"scope": "some"}, "knob scope"),
                           ({"consent": "0.6", "bot_check": "0.6"}, "more than 1"),
                           ({"login_wall": "0.1"}, "^unknown knob 'login_wall' for the youtube")):
        with pytest.raises(ValueError, match=message) as caught:
            YouTubeApp.from_config(world, SandboxConfig(platform="youtube", knobs=knobs))
        assert "\n" not in str(caught.value)
    with pytest.raises(ValueError, match="quota"):  # nothing changes when one knob is bad
        youtube.configure({"consent": "0.1", "quota": "x"})
    assert youtube.knob_state()["knobs"] == {"captcha": 0.5, "scope": "listings"}
    tiktok = TikTokApp.from_config(world, SandboxConfig(platform="tiktok", knobs={"captcha": "1"}))
    assert tiktok.knob_state() == {"knobs": {"captcha": 1.0, "scope": "all"}, "served": {}}
    with pytest.raises(ValueError, match=r"^bad rate 'often' for knob 'captcha'$"):
        TikTokApp.from_config(world, SandboxConfig(platform="tiktok", knobs={"captcha": "often"}))


def test_sandbox_process_passes_its_knobs_and_changes_them_while_serving(world):
    account = world.accounts[0]
    with SandboxProcess(accounts=ACCOUNTS, seed=SEED, platform="tiktok",
                        knobs={"captcha": 1, "scope": "profiles"}) as sandbox:
        assert sandbox.set_knobs() == {"knobs": {"captcha": 1.0, "scope": "profiles"},
                                       "served": {}}
        status, body = fetch(sandbox.base_url, f"/@{account.username}")
        with pytest.raises(BlockedPage):
            tt.parse_document(body)
        assert sandbox.set_knobs(captcha=0)["served"] == {"captcha": 1}
        status, body = fetch(sandbox.base_url, f"/@{account.username}")
        assert status == 200
        assert any(isinstance(i, ProfileItem) for i in tt.parse_document(body))
        with pytest.raises(ValueError, match=r"^unknown knob 'consent' for the tiktok sandbox"):
            sandbox.set_knobs(consent=0.5)
        assert sandbox.stats()["requests"] == 2
