"""YouTube parsers on the real captures in ../shared/realworld/youtube, plus small pages built
here for the header layouts, languages and blocked pages no capture holds.

Every expected value below was read from the capture files themselves.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from crawler.items import HashtagSightingItem, PostItem, ProfileItem
from crawler.parsers import BlockedPage, UnrecognisedDocument, parser_for, youtube
from crawler.values import parse_count

REALWORLD = Path(__file__).resolve().parents[2] / "shared" / "realworld" / "youtube"
CHANNEL_FILE = "newpipe_mock_youtubei_browse_channel_kurzgesagt_2026.json"
HASHTAG_FILE = "invidious_mocks_hashtag_martingarrix_page1_browse_minified.json"
CHANNELS_LIST_FILE = "python-youtube_api_v3_channels_list_statistics_googledevelopers_2019.json"
SEARCH_LIST_FILE = "python-youtube_api_v3_search_list_keywords_p1_2019.json"

KURZGESAGT_ID = "UCsXVk37bltHxD1rDPwtNM8Q"
RECORDED_AT = datetime(2026, 1, 26, 17, 59, 54, tzinfo=timezone.utc)  # response "date" header
HASHTAG_FETCHED_AT = datetime(2022, 6, 1, 12, 0, tzinfo=timezone.utc)
UTC = timezone.utc


def raw(name: str) -> bytes:
    path = REALWORLD / name
    if not path.is_file():
        pytest.skip(f"real-world capture {path} not present")
    return path.read_bytes()


def load(name: str) -> dict:
    return json.loads(raw(name))


def kurzgesagt_body() -> dict:
    """The ``responseBody`` of the recorded browse request (what ytInitialData holds)."""
    return json.loads(load(CHANNEL_FILE)["response"]["responseBody"])


def only(items: list, kind: type) -> list:
    return [i for i in items if isinstance(i, kind)]


def page(initial_data: dict, lang: str | None = "en") -> str:
    lang_attr = f' lang="{lang}"' if lang else ""
    return (f"<!DOCTYPE html><html{lang_attr}><head><title>YouTube</title></head><body>"
            f'<script nonce="n">var ytInitialData = {json.dumps(initial_data)};</script>'
            "</body></html>")


def test_registry_resolves_youtube_module():
    assert parser_for("youtube") is youtube


# --- every capture through parse_document (what `microscout parse youtube FILE` does) ---------


@pytest.mark.parametrize(
    ("name", "profiles", "posts", "sightings"),
    [
        (CHANNEL_FILE, 1, 30, 0),
        (HASHTAG_FILE, 0, 60, 60),
        (CHANNELS_LIST_FILE, 1, 0, 0),
        (SEARCH_LIST_FILE, 0, 25, 0),
    ],
)
def test_every_capture_parses(name, profiles, posts, sightings):
    items = youtube.parse_document(raw(name))
    nested = [p for profile in only(items, ProfileItem) for p in profile.recent_posts]
    assert len(only(items, ProfileItem)) == profiles
    assert len(only(items, PostItem)) + len(nested) == posts
    assert len(only(items, HashtagSightingItem)) == sightings


# --- channel: recorded youtubei/v1/browse (NewPipe, 2026) -------------------------------------------


@pytest.fixture(scope="module")
def kurzgesagt() -> ProfileItem:
    (profile,) = youtube.parse_document(raw(CHANNEL_FILE))
    return profile


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("platform", "youtube"),
        ("handle", "kurzgesagt"),
        ("platform_user_id", KURZGESAGT_ID),
        ("display_name", "Kurzgesagt – In a Nutshell"),
        ("followers", "25m subscribers"),
        ("posts_count", "337 videos"),
        ("is_verified", True),
        ("external_url", "https://shop.kgs.link/cool"),
        ("profile_url", "https://www.youtube.com/@kurzgesagt"),
        ("locale", "en-GB"),  # the recorded request's context.client.hl
        ("fetched_at", RECORDED_AT),
        ("source_url", "https://www.youtube.com/youtubei/v1/browse?prettyPrint=false"),
    ],
)
def test_channel_fields(kurzgesagt, field, expected):
    assert getattr(kurzgesagt, field) == expected


def test_channel_bio_is_the_full_description(kurzgesagt):
    assert kurzgesagt.bio.startswith(
        "Animation videos explaining things with optimistic nihilism since 12,013.\n\n"
        "We’re a team of illustrators")
    assert kurzgesagt.bio.endswith("Instagram and LinkedIn.\n")


@pytest.mark.parametrize(
    ("raw_count", "expected"),
    [("followers", 25_000_000), ("posts_count", 337)],
)
def test_channel_raw_counts_read_with_the_page_locale(kurzgesagt, raw_count, expected):
    assert parse_count(getattr(kurzgesagt, raw_count), kurzgesagt.locale) == expected


def test_channel_lists_the_videos_tab(kurzgesagt):
    assert len(kurzgesagt.recent_posts) == 30


@pytest.mark.parametrize(
    ("index", "video_id", "title", "views", "posted_at", "precision"),
    [
        (0, "D0WQK7cMJn8", "We Made A New Channel!", "1,545,374 views",
         datetime(2026, 1, 16, 17, 59, 54, tzinfo=UTC), "day"),  # "10 days ago"
        (1, "pHJIhxZEoxg", "Why Are There No Holes Around Trees?", "2,989,906 views",
         datetime(2026, 1, 12, 17, 59, 54, tzinfo=UTC), "week"),  # "2 weeks ago"
        (24, "Ufmu1WD2TSk", "SOUTH KOREA IS OVER", "14,831,079 views",
         datetime(2025, 4, 26, 17, 59, 54, tzinfo=UTC), "month"),  # "9 months ago"
        (29, "reSfF60-2S4", "Is The World Getting More Violent?", "4,578,875 views",
         datetime(2025, 1, 26, 17, 59, 54, tzinfo=UTC), "year"),  # "1 year ago"
    ],
)
def test_channel_videos(kurzgesagt, index, video_id, title, views, posted_at, precision):
    post = kurzgesagt.recent_posts[index]
    assert (post.post_id, post.text, post.views, post.posted_at, post.posted_at_precision) == (
        video_id, title, views, posted_at, precision)


def test_channel_video_author_and_url(kurzgesagt):
    post = kurzgesagt.recent_posts[0]
    assert (post.author_handle, post.url, post.media_type) == (
        "kurzgesagt", "https://www.youtube.com/watch?v=D0WQK7cMJn8", "video")


def test_channel_view_text_reads_as_count(kurzgesagt):
    assert parse_count(kurzgesagt.recent_posts[0].views, kurzgesagt.locale) == 1_545_374


def test_relative_times_resolve_against_the_given_fetch_time():
    fetched = datetime(2026, 2, 1, tzinfo=UTC)
    (profile,) = youtube.parse_document(raw(CHANNEL_FILE), fetched_at=fetched)
    assert profile.recent_posts[0].posted_at == datetime(2026, 1, 22, tzinfo=UTC)


def test_channel_continuation_token_is_the_grid_s_last_item():
    body = kurzgesagt_body()
    tabs = body["contents"]["twoColumnBrowseResultsRenderer"]["tabs"]
    grid = tabs[1]["tabRenderer"]["content"]["richGridRenderer"]["contents"]
    expected = (grid[-1]["continuationItemRenderer"]["continuationEndpoint"]
                ["continuationCommand"]["token"])
    token = youtube.continuation_token(body)
    assert token == expected
    assert token.startswith("4qmFsgKJERIYVUNzWFZrMzdibHRIeEQxckRQd3ROTThR")


def test_channel_continuation_token_names_the_channel():
    assert youtube.continuation_browse_id(youtube.continuation_token(kurzgesagt_body())) == (
        KURZGESAGT_ID)


def test_channel_page_html_parses_like_the_browse_body(kurzgesagt):
    html = page(kurzgesagt_body(), lang="en-GB")
    (profile,) = youtube.parse_document(html, url=kurzgesagt.source_url,
                                        fetched_at=RECORDED_AT)
    assert profile == kurzgesagt


def test_browse_body_alone_reads_locale_from_its_sign_in_links():
    (profile,) = youtube.parse_document(kurzgesagt_body())
    assert profile.locale == "en-GB"


# --- /hashtag/X continuation (Invidious mocks, 2022) ------------------------------------------------


@pytest.fixture(scope="module")
def martingarrix() -> list:
    return youtube.parse_document(raw(HASHTAG_FILE), fetched_at=HASHTAG_FETCHED_AT)


def test_hashtag_sightings_in_order(martingarrix):
    sightings = only(martingarrix, HashtagSightingItem)
    assert [(s.position, s.post_id) for s in sightings[:3]] == [
        (0, "gCYcHz2k5x0"), (1, "7xpja4fejbk"), (2, "Pnp_7IaqW74")]
    assert (sightings[-1].position, sightings[-1].post_id) == (59, "Pe_170rl0XI")


def test_hashtag_read_from_the_continuation_token(martingarrix):
    assert {s.hashtag for s in only(martingarrix, HashtagSightingItem)} == {"martingarrix"}


@pytest.mark.parametrize(
    ("field", "expected"),
    [("platform", "youtube"), ("listing", "top"), ("seen_at", HASHTAG_FETCHED_AT)],
)
def test_hashtag_sighting_fields(martingarrix, field, expected):
    assert {getattr(s, field) for s in only(martingarrix, HashtagSightingItem)} == {expected}


@pytest.mark.parametrize(
    ("video_id", "title", "owner", "views", "posted_at", "precision"),
    [
        ("gCYcHz2k5x0", "Martin Garrix - Animals (Official Video)", "UCpDJl2EmP7Oh90Vylx0dZtA",
         "1,566,000,625 views", datetime(2014, 6, 1, 12, 0, tzinfo=UTC), "year"),
        ("7xpja4fejbk", None, "UC5H_KXkPbEsGs0tFt8R35mA", "3,361,212 views",
         datetime(2022, 5, 1, 12, 0, tzinfo=UTC), "month"),
        ("iQnkulyLLSM", "Martin Garrix Radio - Episode 401", "UC5H_KXkPbEsGs0tFt8R35mA",
         "34,276 views", datetime(2022, 5, 24, 12, 0, tzinfo=UTC), "day"),
        ("iLrGL0ibmZM", None, "UCTHVbdTc6sFppnVpX7XAhnQ", "56,334 views",
         datetime(2022, 3, 1, 12, 0, tzinfo=UTC), "month"),
    ],
)
def test_hashtag_videos(martingarrix, video_id, title, owner, views, posted_at, precision):
    (post,) = [p for p in only(martingarrix, PostItem) if p.post_id == video_id]
    if title is not None:
        assert post.text == title
    assert (post.author_handle, post.views, post.posted_at, post.posted_at_precision) == (
        owner, views, posted_at, precision)


def test_hashtag_sighting_author_is_the_video_owner(martingarrix):
    sighting = only(martingarrix, HashtagSightingItem)[0]
    assert sighting.author_handle == "UCpDJl2EmP7Oh90Vylx0dZtA"


def test_hashtag_continuation_token():
    body = load(HASHTAG_FILE)
    items = body["onResponseReceivedActions"][0]["reloadContinuationItemsCommand"][
        "continuationItems"]
    expected = items[-1]["continuationItemRenderer"]["continuationEndpoint"][
        "continuationCommand"]["token"]
    assert youtube.continuation_token(body) == expected
    assert expected.startswith("4qmFsgLCCRIJRkVoYXNodGFn")


@pytest.mark.parametrize(
    ("helper", "expected"),
    [(youtube.continuation_browse_id, "FEhashtag"),
     (youtube.hashtag_from_continuation, "martingarrix")],
)
def test_hashtag_continuation_token_decodes(helper, expected):
    assert helper(youtube.continuation_token(load(HASHTAG_FILE))) == expected


def test_hashtag_url_names_the_tag():
    items = youtube.parse_document(raw(HASHTAG_FILE),
                                   url="https://www.youtube.com/hashtag/MartinGarrix")
    assert {s.hashtag for s in only(items, HashtagSightingItem)} == {"martingarrix"}


def test_hashtag_later_page_positions_continue_from_the_offset():
    items = youtube.parse_browse(load(HASHTAG_FILE), position_offset=60)
    sightings = only(items, HashtagSightingItem)
    assert (sightings[0].position, sightings[-1].position) == (60, 119)


def test_hashtag_first_page_with_hashtag_header():
    body = load(HASHTAG_FILE)
    items = body["onResponseReceivedActions"][0]["reloadContinuationItemsCommand"][
        "continuationItems"][:2]
    initial = {
        "header": {"hashtagHeaderRenderer": {"hashtag": {"simpleText": "#martingarrix"}}},
        "contents": {"twoColumnBrowseResultsRenderer": {"tabs": [{"tabRenderer": {
            "selected": True, "content": {"richGridRenderer": {"contents": items}}}}]}},
    }
    result = youtube.parse_document(page(initial), fetched_at=HASHTAG_FETCHED_AT)
    assert [(type(i).__name__, i.post_id) for i in result] == [
        ("HashtagSightingItem", "gCYcHz2k5x0"), ("HashtagSightingItem", "7xpja4fejbk"),
        ("PostItem", "gCYcHz2k5x0"), ("PostItem", "7xpja4fejbk")]


# --- Data API v3 channels.list (python-youtube, 2019) ---------------------------------------------


@pytest.fixture
def googledevelopers() -> ProfileItem:
    (profile,) = youtube.parse_document(raw(CHANNELS_LIST_FILE))
    return profile


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("handle", "googledevelopers"),
        ("platform_user_id", "UC_x5XG1OV2P6uZZ5FSM9Ttw"),
        ("display_name", "Google Developers"),
        ("bio", "The Google Developers channel features talks from events, educational series, "
                "best practices, tips, and the latest updates across our products and "
                "platforms."),
        ("followers", "1927873"),  # statistics arrive as strings
        ("posts_count", "5026"),
        ("profile_url", "https://www.youtube.com/@googledevelopers"),
    ],
)
def test_channels_list_fields(googledevelopers, field, expected):
    assert getattr(googledevelopers, field) == expected


def test_channels_list_hidden_subscriber_count_is_unknown_not_zero():
    body = load(CHANNELS_LIST_FILE)
    body["items"][0]["statistics"]["hiddenSubscriberCount"] = True
    (profile,) = youtube.parse_document(body)
    assert profile.followers is None


def test_channels_list_without_custom_url_uses_the_channel_id():
    body = load(CHANNELS_LIST_FILE)
    del body["items"][0]["snippet"]["customUrl"]
    (profile,) = youtube.parse_document(body)
    assert profile.handle == "UC_x5XG1OV2P6uZZ5FSM9Ttw"


# --- Data API v3 search.list (python-youtube, 2019) ----------------------------------------------


@pytest.fixture(scope="module")
def surfing() -> dict[str, PostItem]:
    return {p.post_id: p for p in youtube.parse_document(raw(SEARCH_LIST_FILE))}


def test_search_list_next_page_token():
    assert youtube.next_page_token(load(SEARCH_LIST_FILE)) == "CBkQAA"


@pytest.mark.parametrize(
    ("video_id", "channel_id", "title", "published"),
    [
        ("gQ_1zX-F_No", "UCo_q6aOlvPH7M-j_XGWVgXg",
         "SURFING HAWAII’S BEST WAVE WITH MY GIRLFRIEND (PIPELINE)",
         datetime(2019, 12, 5, 19, 0, 10, tzinfo=UTC)),
        ("nkhpGC10OVw", "UCHeaHzQFLElUw__yG3SSzMg", "World's best surfing 2017",  # &#39;
         datetime(2017, 4, 9, 17, 18, 44, tzinfo=UTC)),
        ("-2IlD-x8wvY", "UCeYue9Nbodzg3T1Nt88E3fg", "Hawaiian Summer Surfing",
         datetime(2019, 9, 1, 17, 16, 15, tzinfo=UTC)),
    ],
)
def test_search_list_videos(surfing, video_id, channel_id, title, published):
    post = surfing[video_id]
    assert (post.author_handle, post.text, post.posted_at, post.posted_at_precision) == (
        channel_id, title, published, "exact")


def test_search_list_for_a_hashtag_adds_sightings():
    url = youtube.search_list_url("#surfing")
    items = youtube.parse_document(raw(SEARCH_LIST_FILE), url=url)
    sightings = only(items, HashtagSightingItem)
    assert (len(sightings), sightings[0].hashtag, sightings[0].post_id, sightings[0].listing) == (
        25, "surfing", "gQ_1zX-F_No", "top")


def test_videos_list_statistics_stay_strings():
    body = {"kind": "youtube#videoListResponse", "items": [{
        "id": "gQ_1zX-F_No",
        "snippet": {"publishedAt": "2019-12-05T19:00:10Z", "channelId": "UCo_q6aOlvPH7M-j_XGWVgXg",
                    "title": "Pipeline #surfing", "description": "#Hawaii"},
        "statistics": {"viewCount": "1031238", "likeCount": "24500", "commentCount": "1732"},
    }]}
    (post,) = youtube.parse_document(body)
    assert (post.views, post.likes, post.comments, post.hashtags) == (
        "1031238", "24500", "1732", ["surfing", "hawaii"])


# --- header layouts and page languages -------------------------------------------------------------


def c4_channel(subscribers: str, videos_runs: list[str], *, handle: str | None = "@kurzgesagt",
               badge: str | None = "BADGE_STYLE_TYPE_VERIFIED") -> dict:
    header: dict = {
        "channelId": KURZGESAGT_ID,
        "title": "Kurzgesagt – In a Nutshell",
        "subscriberCountText": {"simpleText": subscribers},
        "videosCountText": {"runs": [{"text": t} for t in videos_runs]},
        "badges": [{"metadataBadgeRenderer": {"style": badge}}] if badge else [],
    }
    if handle:
        header["channelHandleText"] = {"runs": [{"text": handle}]}
    video = {"videoId": "D0WQK7cMJn8", "title": {"runs": [{"text": "¡Hicimos un canal nuevo!"}]},
             "viewCountText": {"simpleText": "127.696 visualizaciones"},
             "publishedTimeText": {"simpleText": "hace 10 días"}}
    return {
        "header": {"c4TabbedHeaderRenderer": header},
        "contents": {"twoColumnBrowseResultsRenderer": {"tabs": [{"tabRenderer": {
            "selected": True, "content": {"richGridRenderer": {"contents": [
                {"richItemRenderer": {"content": {"videoRenderer": video}}}]}}}}]}},
    }


def page_header_channel(parts: list[list[str]], icon: str | None = "CHECK_CIRCLE_FILLED") -> dict:
    runs = ([{"element": {"type": {"imageType": {"image": {"sources": [
        {"clientResource": {"imageName": icon}}]}}}}}] if icon else [])
    return {
        "header": {"pageHeaderRenderer": {"pageTitle": "Kurzgesagt", "content": {
            "pageHeaderViewModel": {
                "title": {"dynamicTextViewModel": {"text": {"content": "Kurzgesagt",
                                                            "attachmentRuns": runs}}},
                "metadata": {"contentMetadataViewModel": {"metadataRows": [
                    {"metadataParts": [{"text": {"content": text}} for text in row]}
                    for row in parts]}},
            }}}},
        "metadata": {"channelMetadataRenderer": {
            "title": "Kurzgesagt – In a Nutshell", "externalId": KURZGESAGT_ID,
            "vanityChannelUrl": "http://www.youtube.com/@kurzgesagt"}},
    }


def test_c4_header_spanish_counts_are_raw_with_the_page_locale():
    (profile,) = youtube.parse_document(page(c4_channel("4,69 M de suscriptores",
                                                        ["337", " vídeos"]), lang="es"))
    assert (profile.followers, profile.posts_count, profile.locale) == (
        "4,69 M de suscriptores", "337 vídeos", "es")


def test_c4_header_spanish_subscribers_read_as_count():
    (profile,) = youtube.parse_document(page(c4_channel("4,69 M de suscriptores",
                                                        ["337", " vídeos"]), lang="es"))
    assert parse_count(profile.followers, profile.locale) == 4_690_000


def test_spanish_view_count_and_relative_time():
    fetched = datetime(2026, 1, 26, tzinfo=UTC)
    (profile,) = youtube.parse_document(page(c4_channel("4,69 M de suscriptores", ["337"]),
                                             lang="es"), fetched_at=fetched)
    post = profile.recent_posts[0]
    assert (post.views, parse_count(post.views, profile.locale), post.posted_at,
            post.posted_at_precision) == (
        "127.696 visualizaciones", 127_696, datetime(2026, 1, 16, tzinfo=UTC), "day")


@pytest.mark.parametrize(
    ("field", "expected"),
    [("handle", "kurzgesagt"), ("platform_user_id", KURZGESAGT_ID), ("is_verified", True),
     ("followers", "1.65M subscribers"), ("posts_count", "337 videos")],
)
def test_c4_header_english(field, expected):
    (profile,) = youtube.parse_document(page(c4_channel("1.65M subscribers", ["337", " videos"])))
    assert getattr(profile, field) == expected


def test_c4_header_without_badge_is_not_verified():
    (profile,) = youtube.parse_document(page(c4_channel("1.65M subscribers", ["337"],
                                                        badge=None)))
    assert profile.is_verified is False


def test_channel_without_handle_uses_the_channel_id():
    (profile,) = youtube.parse_document(page(c4_channel("1.65M subscribers", ["337"],
                                                        handle=None)))
    assert (profile.handle, profile.profile_url, profile.recent_posts[0].author_handle) == (
        KURZGESAGT_ID, f"https://www.youtube.com/channel/{KURZGESAGT_ID}", KURZGESAGT_ID)


@pytest.mark.parametrize(
    ("lang", "parts", "followers", "posts_count", "count"),
    [
        ("de-DE", [["@kurzgesagt"], ["1,2 Mio. Abonnenten", "337 Videos"]],
         "1,2 Mio. Abonnenten", "337 Videos", 1_200_000),
        ("pt-BR", [["@kurzgesagt", "12,3 mil inscritos", "337 vídeos"]],
         "12,3 mil inscritos", "337 vídeos", 12_300),
        ("es", [["@kurzgesagt"], ["4,69 M de suscriptores", "337 videos"]],
         "4,69 M de suscriptores", "337 videos", 4_690_000),
        ("fi", [["@kurzgesagt"], ["1,2 milj. tilaajaa", "337 videota"]],  # word not in tables
         "1,2 milj. tilaajaa", "337 videota", None),
    ],
)
def test_page_header_metadata_parts_in_any_language(lang, parts, followers, posts_count, count):
    (profile,) = youtube.parse_document(page(page_header_channel(parts), lang=lang))
    assert (profile.followers, profile.posts_count, profile.locale) == (
        followers, posts_count, lang)
    if count is not None:
        assert parse_count(profile.followers, profile.locale) == count


def test_page_header_without_subscriber_count():
    (profile,) = youtube.parse_document(page(page_header_channel([["@kurzgesagt"],
                                                                  ["337 videos"]])))
    assert (profile.followers, profile.posts_count) == (None, "337 videos")


@pytest.mark.parametrize(("icon", "verified"), [("CHECK_CIRCLE_FILLED", True), (None, False)])
def test_page_header_verified_badge(icon, verified):
    (profile,) = youtube.parse_document(page(page_header_channel([["@kurzgesagt"]], icon=icon)))
    assert profile.is_verified is verified


def test_locale_from_url_hl_wins_over_html_lang():
    html = page(c4_channel("4,69 M de suscriptores", ["337"]), lang="en")
    (profile,) = youtube.parse_document(html, url="https://www.youtube.com/@kurzgesagt?hl=es")
    assert profile.locale == "es"


# --- other listed video kinds ------------------------------------------------------------------------


def test_shorts_lockup():
    initial = c4_channel("1.65M subscribers", ["337"])
    grid = initial["contents"]["twoColumnBrowseResultsRenderer"]["tabs"][0]["tabRenderer"][
        "content"]["richGridRenderer"]["contents"]
    grid[0] = {"richItemRenderer": {"content": {"shortsLockupViewModel": {
        "onTap": {"innertubeCommand": {"reelWatchEndpoint": {"videoId": "aBcDeFgHiJk"}}},
        "overlayMetadata": {"primaryText": {"content": "Tiny planet #space"},
                            "secondaryText": {"content": "1.2M views"}}}}}}
    (profile,) = youtube.parse_document(page(initial))
    (post,) = profile.recent_posts
    assert (post.post_id, post.url, post.views, post.hashtags, post.media_type) == (
        "aBcDeFgHiJk", "https://www.youtube.com/shorts/aBcDeFgHiJk", "1.2M views", ["space"],
        "short")


def test_live_now_viewers_are_not_views():
    initial = c4_channel("1.65M subscribers", ["337"])
    video = initial["contents"]["twoColumnBrowseResultsRenderer"]["tabs"][0]["tabRenderer"][
        "content"]["richGridRenderer"]["contents"][0]["richItemRenderer"]["content"][
        "videoRenderer"]
    video["viewCountText"] = {"runs": [{"text": "1,234"}, {"text": " watching"}]}
    video["badges"] = [{"metadataBadgeRenderer": {"style": "BADGE_STYLE_TYPE_LIVE_NOW"}}]
    (profile,) = youtube.parse_document(page(initial))
    assert (profile.recent_posts[0].views, profile.recent_posts[0].media_type) == (None, "live")


def test_home_tab_keeps_the_channel_s_own_videos_only():
    def grid_video(video_id: str, browse_id: str) -> dict:
        owner = {"runs": [{"text": "x", "navigationEndpoint": {"browseEndpoint": {
            "browseId": browse_id, "canonicalBaseUrl": f"/channel/{browse_id}"}}}]}
        return {"gridVideoRenderer": {"videoId": video_id, "title": {"simpleText": video_id},
                                      "viewCountText": {"simpleText": "5 views"},
                                      "shortBylineText": owner}}

    initial = c4_channel("1.65M subscribers", ["337"])
    initial["contents"] = {"twoColumnBrowseResultsRenderer": {"tabs": [{"tabRenderer": {
        "selected": True, "content": {"sectionListRenderer": {"contents": [
            {"itemSectionRenderer": {"contents": [{"shelfRenderer": {"content": {
                "horizontalListRenderer": {"items": [
                    grid_video("ownVideo001", KURZGESAGT_ID),
                    grid_video("otherVideo1", "UC5H_KXkPbEsGs0tFt8R35mA"),
                ]}}}}]}}]}}}}]}}
    (profile,) = youtube.parse_document(page(initial))
    assert [(p.post_id, p.author_handle) for p in profile.recent_posts] == [
        ("ownVideo001", "kurzgesagt")]


def test_channel_continuation_uses_the_handle_the_spider_passes():
    body = load(HASHTAG_FILE)
    cont = copy.deepcopy(body)
    for item in cont["onResponseReceivedActions"][0]["reloadContinuationItemsCommand"][
            "continuationItems"][:-1]:
        video = item["richItemRenderer"]["content"]["videoRenderer"]
        for key in ("ownerText", "longBylineText", "shortBylineText"):
            video.pop(key)
    cont["onResponseReceivedActions"][0]["reloadContinuationItemsCommand"][
        "continuationItems"].pop()  # no hashtag token left: a plain channel-tab continuation
    posts = youtube.parse_browse(cont, channel_handle="martingarrix")
    assert {type(p).__name__ for p in posts} == {"PostItem"}
    assert {p.author_handle for p in posts} == {"martingarrix"}


# --- URL builders ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("built", "expected"),
    [
        (youtube.channel_url("@Kurzgesagt", "videos"), "https://www.youtube.com/@Kurzgesagt/videos"),
        (youtube.channel_url(KURZGESAGT_ID), f"https://www.youtube.com/channel/{KURZGESAGT_ID}"),
        (youtube.hashtag_url("#MartinGarrix"), "https://www.youtube.com/hashtag/martingarrix"),
        (youtube.video_url("D0WQK7cMJn8"), "https://www.youtube.com/watch?v=D0WQK7cMJn8"),
        (youtube.search_list_url("#surfing", page_token="CBkQAA"),
         "https://www.googleapis.com/youtube/v3/search?part=snippet&q=%23surfing&type=video"
         "&maxResults=50&pageToken=CBkQAA"),
        (youtube.channels_list_url(for_handle="@kurzgesagt"),
         "https://www.googleapis.com/youtube/v3/channels?part=snippet%2Cstatistics"
         "&forHandle=%40kurzgesagt"),
        (youtube.channels_list_url(channel_id="UCa,UCb", base="http://127.0.0.1:8799/youtube/v3"),
         "http://127.0.0.1:8799/youtube/v3/channels?part=snippet%2Cstatistics&id=UCa%2CUCb"),
        (youtube.search_list_url(channel_id="UCa", order="date", max_results=12),
         "https://www.googleapis.com/youtube/v3/search?part=snippet&channelId=UCa&type=video"
         "&maxResults=12&order=date"),
        (youtube.videos_list_url(["a", "b"]),
         "https://www.googleapis.com/youtube/v3/videos?part=snippet%2Cstatistics&id=a%2Cb"),
    ],
)
def test_url_builders(built, expected):
    assert built == expected


def test_browse_request_body_for_a_continuation():
    body = youtube.browse_request_body(continuation="TOKEN", hl="es")
    assert (body["continuation"], body["context"]["client"]["hl"]) == ("TOKEN", "es")


# --- blocked and unknown bodies ---------------------------------------------------------------------

CONSENT_PAGE = (
    '<!DOCTYPE html><html lang="en"><head><title>Before you continue to YouTube</title></head>'
    '<body><form action="https://consent.youtube.com/save" method="POST">'
    '<input type="hidden" name="gl" value="DE"><button>Accept all</button></form></body></html>')
BOT_PAGE = ("<html><body><div>Sign in to confirm you’re not a bot</div>"
            "<p>This helps protect our community.</p></body></html>")
PLAYER_BOT = {"playabilityStatus": {"status": "LOGIN_REQUIRED",
                                    "reason": "Sign in to confirm you’re not a bot"}}
SORRY_PAGE = ("<html><body><div id='infoDiv'>Our systems have detected unusual traffic from your "
              "computer network.</div><script src='https://www.google.com/recaptcha/api.js'>"
              "</script></body></html>")
QUOTA = {"error": {"code": 403, "message": "quota", "errors": [
    {"domain": "youtube.quota", "reason": "quotaExceeded", "message": "quota"}]}}


@pytest.mark.parametrize(
    ("body", "url", "reason"),
    [
        (CONSENT_PAGE, None, "consent_required"),
        ("<html></html>", "https://consent.youtube.com/m?continue=https://www.youtube.com/",
         "consent_required"),
        (BOT_PAGE, None, "bot_check"),
        (json.dumps(PLAYER_BOT), None, "bot_check"),
        ("<html><script>var ytInitialPlayerResponse = " + json.dumps(PLAYER_BOT)
         + ";</script><script>var ytInitialData = {\"contents\": {}};</script></html>",
         None, "bot_check"),
        ("Sign in to confirm you're not a bot", None, "bot_check"),
        (SORRY_PAGE, None, "captcha"),
        (json.dumps(QUOTA), None, "quota_exceeded"),
        (json.dumps({"error": {"code": 403, "message": "slow down", "errors": [
            {"domain": "youtube.quota", "reason": "rateLimitExceeded"}]}}), None, "rate_limited"),
    ],
)
def test_blocked_pages_raise_with_reason(body, url, reason):
    with pytest.raises(BlockedPage) as caught:
        youtube.parse_document(body, url=url)
    assert caught.value.reason == reason


def test_recorded_consent_redirect_is_blocked():
    recording = {"request": {"url": "https://www.youtube.com/@kurzgesagt"},
                 "response": {"responseCode": 200, "responseBody": CONSENT_PAGE,
                              "latestUrl": "https://consent.youtube.com/ml?continue=x"}}
    with pytest.raises(BlockedPage, match="consent_required"):
        youtube.parse_document(recording)


@pytest.mark.parametrize(
    "body",
    ["", '{"foo": 1}', "[]", "<html><body>hello</body></html>", "plain text",
     '{"responseContext": {}, "alerts": [{"alertRenderer": {"text": '
     '{"simpleText": "This channel does not exist."}}}], "contents": {}}'],
)
def test_unknown_bodies_are_unrecognised(body):
    with pytest.raises(UnrecognisedDocument):
        youtube.parse_document(body)


# --- what the spider reads besides the items --------------------------------------------------


def test_page_data_of_a_channel_page_and_of_a_browse_body():
    body = kurzgesagt_body()
    assert youtube.page_data(page(body)) == body
    assert youtube.page_data(json.dumps(body).encode()) == body
    assert youtube.continuation_token(youtube.page_data(page(body)))


@pytest.mark.parametrize(("body", "url", "reason"), [
    (CONSENT_PAGE, None, "consent_required"),
    ("<html></html>", "https://consent.youtube.com/m?continue=x", "consent_required"),
    (SORRY_PAGE, None, "captcha"),
    (json.dumps(QUOTA), None, "quota_exceeded"),
])
def test_page_data_raises_for_blocked_pages(body, url, reason):
    with pytest.raises(BlockedPage) as caught:
        youtube.page_data(body, url=url)
    assert caught.value.reason == reason


def test_page_data_refuses_what_is_not_youtube():
    for body in ("", "<html><body>hello</body></html>", "{not json"):
        with pytest.raises(UnrecognisedDocument):
            youtube.page_data(body)


def test_caller_names_the_hashtag_of_a_last_page_without_token():
    body = load(HASHTAG_FILE)
    items = body["onResponseReceivedActions"][0]["reloadContinuationItemsCommand"][
        "continuationItems"]
    last_page = {"onResponseReceivedActions": [{"appendContinuationItemsAction": {
        "continuationItems": items[:-1]}}]}  # no continuationItemRenderer: no tag to read
    assert only(youtube.parse_document(last_page), HashtagSightingItem) == []
    sightings = only(youtube.parse_document(last_page, hashtag="#MartinGarrix",
                                            position_offset=60), HashtagSightingItem)
    assert (sightings[0].hashtag, sightings[0].position) == ("martingarrix", 60)
    assert len(sightings) == len(items) - 1
