"""The raw signal fields the parsers fill: ``PostItem.platform_sponsored`` and ``.language``,
``ProfileItem.contact_email``, ``.country`` and ``.links``.

Real captures in ../shared/realworld (skipped when the folder is absent) for what they hold;
small hand-built bodies for the shapes no capture has (a sponsored Instagram node, a business
email, a YouTube paid placement, Mastodon link fields, Bluesky ``langs``), each saying so.
Every expected value of a capture was read from the capture file itself.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

from crawler.items import PostItem, ProfileItem
from crawler.parsers import (
    bluesky,
    country_code,
    declared_language,
    email_field,
    instagram,
    mastodon,
    profile_links,
    tiktok,
    tiktok_research,
    youtube,
)

REALWORLD = Path(__file__).resolve().parents[2] / "shared" / "realworld"

IG_WEB_PROFILE = "instagram/pgrimaud_web_profile_info_robertdowneyjr_2022.json"
IG_SHARED_DATA = "instagram/pgrimaud_profile_page_html_sharedData_robertdowneyjr_2020.html"
IG_USER_MEDIA = "instagram/pgrimaud_graphql_user_medias_page_2020.json"
IG_HASHTAG = "instagram/pgrimaud_graphql_hashtag_paris_2021.json"
IG_USER_INFO = "instagram/pgrimaud_api_v1_users_info_robertdowneyjr_2021.json"
IG_GRAPH_FILES = (
    "instagram/python-facebook_graph_business_discovery_user_facebook_2019.json",
    "instagram/python-facebook_graph_business_discovery_media_p1_facebook_2019.json",
    "instagram/python-facebook_graph_hashtag_top_media_p1_love_2020.json",
    "instagram/python-facebook_graph_hashtag_recent_media_p2_love_2020.json",
)

TT_NEXT_DATA = "tiktok/drawrowfly_profile_NEXT_DATA_tiktok_2021.html"
TT_MOCKS = "tiktok/drawrowfly_mock_responses_user_tag_itemlist_2020-21.ts.txt"
TT_USER_DETAIL = "tiktok/scrapfly_universal_data_webapp_user_detail_userInfo_2026.json"
TT_ITEM_LIST = "tiktok/scrapfly_api_post_item_list_projection_2026.json"
TT_RESEARCH_CATS = "tiktok/tiktoklibrary_research_api_v2_video_query_cats_2024.json"
TT_RESEARCH_IQ = "tiktok/tiktoklibrary_research_api_v2_video_query_null_bytes_iq_2024.json"

YT_CHANNELS_2019 = "youtube/python-youtube_api_v3_channels_list_statistics_googledevelopers_2019.json"
YT_CHANNELS_2022 = ("youtube/python-youtube_api_v3_channels_list_contentDetails_statistics_google_"
                    "googledevelopers_2022.json")
YT_CHANNELS_2023 = "youtube/youtubeaio_api_v3_channels_list_snippet_statistics_googledevelopers_2023.json"
YT_VIDEOS = "youtube/youtubeaio_api_v3_videos_list_statistics_2ids_2023.json"
YT_SEARCH = "youtube/python-youtube_api_v3_search_list_keywords_p1_2019.json"
YT_PLAYLIST = "youtube/youtubeaio_api_v3_playlistItems_list_uploads_googledevelopers_2023.json"
YT_KURZGESAGT = "youtube/newpipe_mock_youtubei_browse_channel_kurzgesagt_2026.json"
YT_HASHTAG = "youtube/invidious_mocks_hashtag_martingarrix_page1_browse_minified.json"

MD_ACCOUNT = "mastodon/mastodonpy_cassette_test_account.yaml"
MD_PAGING = "mastodon/mastodonpy_cassette_test_fetch_next_previous.yaml"
MD_HASHTAG = "mastodon/mastodonpy_cassette_test_hashtag_tl.yaml"
PF_FILES = (
    "pixelfed/pixeldroid_pixelfed.de_api_v1_timelines_public_2020.json",
    "pixelfed/pixeldroid_pixelfed.de_api_v1_accounts_id_statuses_2020.json",
    "pixelfed/pixeldroid_pixelfed.de_api_v2_search_caturday_2020.json",
)
PF_SEARCH = PF_FILES[2]

BSKY_FILES = (
    "bluesky/atprotodart_app.bsky.feed.getAuthorFeed_2023.json",
    "bluesky/atprotodart_app.bsky.feed.getFeed_tiktok_hashtag_feed_2023.json",
    "bluesky/atprotodart_app.bsky.feed.searchPosts_partly_edited_2023.json",
)
BSKY_PROFILES = (
    "bluesky/atprotodart_app.bsky.actor.getProfile_shinyakato_2023.json",
    "bluesky/atprotodart_app.bsky.actor.getProfiles_shinyakato_2023.json",
)


def raw(name: str) -> str:
    path = REALWORLD / name
    if not path.is_file():
        pytest.skip(f"real-world capture {path} not present")
    return path.read_text(encoding="utf-8")


def load(name: str) -> dict:
    return json.loads(raw(name))


def of(items: list, kind: type) -> list:
    return [item for item in items if isinstance(item, kind)]


def posts_of(items: list) -> list[PostItem]:
    """Every post of a parse: the loose ones and the profiles' recent posts."""
    found = of(items, PostItem)
    for profile in of(items, ProfileItem):
        found.extend(profile.recent_posts)
    return found


def interactions(name: str) -> list[dict]:
    return yaml.safe_load(raw(name))["interactions"]


# --- the shared value helpers (crawler/parsers/__init__.py) -----------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    ("en", "en"), ("EN", "en"), ("ja", "ja"), ("pt-BR", "pt"), ("zh_Hant", "zh"),
    (" de-DE ", "de"), ("iw", "he"), ("in", "id"), ("fil", "fil"),
    (None, None), ("", None), ("und", None), ("zxx", None), ("mul", None),
    ("english", None), ("e", None), ("12", None), (["en"], None), (1, None),
])
def test_declared_language(value, expected):
    assert declared_language(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("US", "US"), ("iq", "IQ"), (" gb ", "GB"), (None, None), ("", None),
    ("United States", None), ("USA", None), ("U", None), (840, None),
])
def test_country_code(value, expected):
    assert country_code(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("press@example.com", "press@example.com"), (" press@example.com ", "press@example.com"),
    ("", None), (None, None), ("   ", None), ("@handle", None), ("no address", None),
    ("a b@example.com", None), (False, None),
])
def test_email_field(value, expected):
    assert email_field(value) == expected


def test_profile_links_dedupe_keep_order_and_leave_out_external_url():
    urls = ["https://a.example/", "https://b.example", "https://a.example", None, "",
            "mailto:x@example.com", "https://b.example/", " https://c.example "]
    assert profile_links(urls, external_url=None) == [
        "https://a.example/", "https://b.example", "https://c.example"]
    assert profile_links(urls, external_url="https://a.example") == [
        "https://b.example", "https://c.example"]


# --- Instagram ----------------------------------------------------------------------------------


def test_instagram_graphql_media_page_sponsor_edges_present_and_empty_are_false():
    body = raw(IG_USER_MEDIA)
    nodes = [e["node"] for e in json.loads(body)["data"]["user"]["edge_owner_to_timeline_media"]
             ["edges"]]
    assert all(node["edge_media_to_sponsor_user"] == {"edges": []} for node in nodes)
    posts = of(instagram.parse_document(body), PostItem)
    assert len(posts) == 12
    assert [p.platform_sponsored for p in posts] == [False] * 12


@pytest.mark.parametrize("name", [IG_WEB_PROFILE, IG_SHARED_DATA])
def test_instagram_profile_timeline_nodes_without_sponsor_fields_are_none(name):
    [profile] = instagram.parse_document(raw(name))
    assert len(profile.recent_posts) == 12
    assert {p.platform_sponsored for p in profile.recent_posts} == {None}
    assert {p.language for p in profile.recent_posts} == {None}


def test_instagram_hashtag_nodes_carry_no_sponsor_field():
    posts = of(instagram.parse_document(raw(IG_HASHTAG)), PostItem)
    assert len(posts) == 43
    assert {p.platform_sponsored for p in posts} == {None}


def test_instagram_web_profile_info_business_email_null_is_none():
    body = raw(IG_WEB_PROFILE)
    user = json.loads(body)["data"]["user"]
    assert user["business_email"] is None
    assert user["is_business_account"] is True
    [profile] = instagram.parse_document(body)
    assert profile.contact_email is None
    assert profile.country is None
    assert profile.links == []  # the 2022 user has no bio_links (and external_url null)


def test_instagram_shared_data_country_code_is_the_viewers_not_read():
    body = raw(IG_SHARED_DATA)
    assert '"country_code":"GB"' in body  # the page's (viewer's) country, top of _sharedData
    [profile] = instagram.parse_document(body)
    assert profile.handle == "robertdowneyjr"
    assert profile.country is None
    assert profile.contact_email is None
    assert profile.links == []


def test_instagram_user_info_public_email_empty_is_none():
    body = raw(IG_USER_INFO)
    assert json.loads(body)["user"]["public_email"] == ""
    [profile] = instagram.parse_document(body)
    assert profile.contact_email is None
    assert profile.country is None  # city_name "" and no country field
    assert profile.links == []


@pytest.mark.parametrize("name", IG_GRAPH_FILES)
def test_instagram_graph_api_has_no_signal_fields(name):
    items = instagram.parse_document(raw(name))
    assert items
    for post in posts_of(items):
        assert post.platform_sponsored is None
        assert post.language is None
    for profile in of(items, ProfileItem):
        assert (profile.contact_email, profile.country, profile.links) == (None, None, [])


# Hand-built: no capture has a sponsored node, a business email or bio_links.


@pytest.mark.parametrize(("extra", "expected"), [
    ({"is_paid_partnership": True}, True),
    ({"edge_media_to_sponsor_user": {"edges": [{"node": {"sponsor": {"username": "brand"}}}]}},
     True),
    ({"is_paid_partnership": False,
      "edge_media_to_sponsor_user": {"edges": [{"node": {"sponsor": {"username": "brand"}}}]}},
     True),
    ({"is_paid_partnership": True, "edge_media_to_sponsor_user": {"edges": []}}, True),
    ({"is_paid_partnership": False, "edge_media_to_sponsor_user": {"edges": []}}, False),
    ({"is_paid_partnership": False}, False),
    ({"edge_media_to_sponsor_user": {"edges": []}}, False),
    ({}, None),
    ({"is_paid_partnership": "yes"}, None),
])
def test_instagram_media_node_sponsorship(extra, expected):
    node = {"__typename": "GraphImage", "id": "1", "shortcode": "abc",
            "taken_at_timestamp": 1600000000, **extra}
    assert instagram.post_from_node(node).platform_sponsored is expected


@pytest.mark.parametrize(("extra", "expected"), [
    ({"is_paid_partnership": True}, True),
    ({"sponsor_tags": [{"sponsor": {"username": "brand"}}]}, True),
    ({"is_paid_partnership": False, "sponsor_tags": []}, False),
    ({}, None),
])
def test_instagram_app_media_sponsorship(extra, expected):
    media = {"pk": 1, "code": "abc", "taken_at": 1600000000, "media_type": 1, **extra}
    assert instagram.post_from_app_media(media).platform_sponsored is expected


def test_instagram_web_profile_business_email_and_bio_links():
    body = {"data": {"user": {
        "username": "shop", "id": "7", "external_url": "https://shop.example/",
        "business_email": " hello@shop.example ",
        "bio_links": [{"url": "https://shop.example/", "title": "shop"},
                      {"url": "https://linktr.ee/shop", "title": ""},
                      {"url": "https://linktr.ee/shop"}, {"title": "no url"}],
        "edge_followed_by": {"count": 10}, "edge_follow": {"count": 1},
        "edge_owner_to_timeline_media": {"count": 1, "edges": [{"node": {
            "__typename": "GraphVideo", "id": "9", "shortcode": "x", "is_paid_partnership": True,
            "edge_media_to_sponsor_user": {"edges": []}}}]},
    }}}
    [profile] = instagram.parse_document(body)
    assert profile.contact_email == "hello@shop.example"
    assert profile.links == ["https://linktr.ee/shop"]
    assert profile.country is None
    assert [p.platform_sponsored for p in profile.recent_posts] == [True]


def test_instagram_user_info_public_email():
    body = {"user": {"pk": 7, "username": "shop", "follower_count": 10,
                     "public_email": "press@shop.example", "business_email": ""}}
    [profile] = instagram.parse_document(body)
    assert profile.contact_email == "press@shop.example"


def test_instagram_shared_data_business_email_empty_string_is_none():
    body = {"entry_data": {"ProfilePage": [{"graphql": {"user": {
        "username": "shop", "id": "7", "business_email": "", "edge_followed_by": {"count": 3}}}}]},
        "country_code": "GB"}
    [profile] = instagram.parse_document(body)
    assert profile.contact_email is None
    assert profile.country is None


# --- TikTok web -----------------------------------------------------------------------------------


NEXT_DATA_ADS = {"6912598122988326149": False, "6911370401054526725": False,
                 "6909171131882802434": True, "6907709736355908869": False}


def test_tiktok_next_data_is_ad_per_post():
    [profile] = tiktok.parse_document(raw(TT_NEXT_DATA))
    assert profile.handle == "tiktok"
    assert {p.post_id: p.platform_sponsored for p in profile.recent_posts} == NEXT_DATA_ADS
    assert {p.language for p in profile.recent_posts} == {None}


def test_tiktok_next_data_viewer_region_is_not_the_profiles_country():
    html = raw(TT_NEXT_DATA)
    # The capturing session's "$user" (petstoryss) says US; the page context says NL.
    assert html.count('"region":"US"') == 2
    assert '"uniqueId":"petstoryss"' in html
    [profile] = tiktok.parse_document(html)
    assert profile.country is None
    assert profile.links == []
    assert profile.contact_email is None


def test_tiktok_mock_responses_is_ad():
    items = tiktok.parse_document(raw(TT_MOCKS))
    flags = {p.post_id: p.platform_sponsored for p in posts_of(items)
             if p.author_handle == "tiktok"}
    assert flags == {**NEXT_DATA_ADS, "6906565862132698370": True, "6889096755028233478": False,
                     "6881450806688664838": False}
    # The 2020 /share/item/list entries (@charlidamelio) carry no isAd: unknown, not False.
    legacy = [p for p in posts_of(items) if p.author_handle == "charlidamelio"]
    assert len(legacy) == 24
    assert {p.platform_sponsored for p in legacy} == {None}


def test_tiktok_user_detail_bio_link_is_external_url_not_links():
    [profile] = tiktok.parse_document(raw(TT_USER_DETAIL))
    assert profile.handle == "oddanimalspecimens"
    assert profile.external_url.startswith("https://www.tiktok.com/activity/landing/tta?")
    assert profile.links == []
    assert profile.country is None
    assert profile.contact_email is None  # the address in the bio is not the parser's job


def test_tiktok_item_list_projection_has_no_is_ad():
    posts = posts_of(tiktok.parse_document(raw(TT_ITEM_LIST)))
    assert len(posts) == 53
    assert {p.platform_sponsored for p in posts} == {None}


def test_tiktok_universal_data_is_ad_hand_built():
    """Hand-built: a webapp.user-detail page whose items say isAd (true, false, absent)."""
    def item(video_id: str, **extra: object) -> dict:
        return {"id": video_id, "desc": "x", "createTime": 1700000000,
                "stats": {"playCount": 1}, **extra}

    body = {"__DEFAULT_SCOPE__": {"webapp.user-detail": {"userInfo": {
        "user": {"id": "1", "uniqueId": "maker", "bioLink": {"link": "https://maker.example"}},
        "stats": {"followerCount": 5},
        "itemList": [item("1", isAd=True), item("2", isAd=False), item("3"),
                     item("4", isAd="true")],
    }}}}
    [profile] = tiktok.parse_document(body)
    assert [p.platform_sponsored for p in profile.recent_posts] == [True, False, None, None]
    assert profile.external_url == "https://maker.example"
    assert profile.links == []


# --- TikTok Research API --------------------------------------------------------------------------


USER_INFO = {"data": {"display_name": "someone", "follower_count": 12, "following_count": 3,
                      "video_count": 4, "is_verified": False, "bio_description": ""},
             "error": {"code": "ok", "message": "", "log_id": "1"}}


def test_research_cats_query_region_is_us():
    data = load(TT_RESEARCH_CATS)
    found = tiktok_research.videos(data)
    assert len(found) == 27
    assert Counter(v.region_code for v in found) == {"US": 27}
    assert tiktok_research.country_of(found) == "US"
    author = found[0].username
    assert author == "s.clovis"
    assert tiktok_research.country_of(found, author) == "US"
    assert tiktok_research.country_of(found, "nobody.here") is None
    profile = tiktok_research.parse_user_info(USER_INFO, username="S.Clovis", videos=found)
    assert profile.handle == "s.clovis"
    assert profile.country == "US"


def test_research_iq_query_region_with_nul_username():
    data = load(TT_RESEARCH_IQ)
    [video] = tiktok_research.videos(data)
    assert video.region_code == "IQ"
    assert "\x00" in video.raw_username
    assert tiktok_research.country_of([video]) == "IQ"
    # The spider names the account by the raw username; the NULs do not stop the match.
    profile = tiktok_research.parse_user_info(USER_INFO, username=video.raw_username,
                                              videos=[video])
    assert profile.country == "IQ"


@pytest.mark.parametrize("name", [TT_RESEARCH_CATS, TT_RESEARCH_IQ])
def test_research_posts_have_no_ad_flag_or_language(name):
    posts = of(tiktok.parse_document(raw(name)), PostItem)
    assert posts
    assert {(p.platform_sponsored, p.language) for p in posts} == {(None, None)}


def test_research_user_info_without_videos_has_no_country():
    assert tiktok_research.parse_user_info(USER_INFO, username="someone").country is None


def test_research_country_of_most_common_and_tie_to_newest():
    def video(region: object, user: str = "a") -> tiktok_research.Video:
        return tiktok_research.Video(id="1", username=user, raw_username=user, create_time=1,
                                     region_code=region, description=None)

    assert tiktok_research.country_of([video("US"), video("de"), video("DE")]) == "DE"
    assert tiktok_research.country_of([video("FR"), video("US")]) == "FR"  # newest first
    assert tiktok_research.country_of([video(None), video(""), video("Iraq")]) is None
    assert tiktok_research.country_of([video("US", "a"), video("GB", "b"), video("GB", "b")],
                                      "a") == "US"
    assert tiktok_research.country_of([]) is None


# --- YouTube ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [YT_CHANNELS_2019, YT_CHANNELS_2023])
def test_youtube_channels_list_snippet_country(name):
    [profile] = youtube.parse_document(raw(name))
    assert profile.handle == "googledevelopers"
    assert profile.country == "US"
    assert (profile.contact_email, profile.links) == (None, [])


def test_youtube_channels_list_two_channels_country_only_where_stated():
    data = load(YT_CHANNELS_2022)
    google, developers = data["items"]
    assert "country" not in google["snippet"]
    assert "country" not in google["brandingSettings"]["channel"]
    assert developers["brandingSettings"]["channel"]["country"] == "US"
    profiles = youtube.parse_document(data)
    assert {p.handle: p.country for p in profiles} == {"google": None, "googledevelopers": "US"}


def test_youtube_channels_list_branding_country_hand_built():
    """Hand-built: only brandingSettings states the country (lower case), or a name."""
    body = {"kind": "youtube#channelListResponse", "items": [
        {"id": "UC" + "a" * 22, "snippet": {"title": "A", "customUrl": "@a"},
         "brandingSettings": {"channel": {"country": "de"}}},
        {"id": "UC" + "b" * 22, "snippet": {"title": "B", "customUrl": "@b",
                                            "country": "United States"}},
    ]}
    profiles = youtube.parse_document(body)
    assert [p.country for p in profiles] == ["DE", None]


def test_youtube_videos_list_declared_language():
    data = load(YT_VIDEOS)
    ted, other = data["items"]
    assert ted["snippet"]["defaultAudioLanguage"] == "en"
    assert "defaultAudioLanguage" not in other["snippet"]
    assert "defaultLanguage" not in other["snippet"]
    posts = youtube.parse_document(data)
    assert {p.post_id: p.language for p in posts} == {"Ks-_Mh1QhMc": "en", "GvgqDSnpRQM": None}
    # part=snippet,contentDetails,statistics: no paidProductPlacementDetails, so unknown.
    assert {p.platform_sponsored for p in posts} == {None}


@pytest.mark.parametrize("name", [YT_SEARCH, YT_PLAYLIST, YT_HASHTAG])
def test_youtube_listings_carry_no_signal_fields(name):
    posts = posts_of(youtube.parse_document(raw(name)))
    assert posts
    assert {(p.platform_sponsored, p.language) for p in posts} == {(None, None)}


@pytest.mark.parametrize(("extra", "sponsored", "language"), [
    ({"paidProductPlacementDetails": {"hasPaidProductPlacement": True}}, True, None),
    ({"paidProductPlacementDetails": {"hasPaidProductPlacement": False}}, False, None),
    ({"paidProductPlacementDetails": {}}, None, None),
    ({"snippet": {"defaultAudioLanguage": "en-US", "defaultLanguage": "de"}}, None, "en"),
    ({"snippet": {"defaultLanguage": "pt-BR"}}, None, "pt"),
    ({"snippet": {"defaultAudioLanguage": "zxx", "defaultLanguage": "fr"}}, None, "fr"),
])
def test_youtube_videos_list_paid_placement_and_language_hand_built(extra, sponsored, language):
    item = {"kind": "youtube#video", "id": "abcdefghijk", "statistics": {"viewCount": "1"}}
    item["snippet"] = {"title": "t", "channelId": "UC" + "a" * 22,
                       "publishedAt": "2024-01-01T00:00:00Z", **extra.pop("snippet", {})}
    item.update(extra)
    [post] = youtube.parse_document({"kind": "youtube#videoListResponse", "items": [item]})
    assert post.platform_sponsored is sponsored
    assert post.language == language


def test_youtube_channel_page_header_link_is_external_url_only():
    body = raw(YT_KURZGESAGT)
    # The header shows one link and "and 7 more links"; the seven are not in this body.
    assert "and 7 more links" in body
    [profile] = youtube.parse_document(body)
    assert profile.external_url == "https://shop.kgs.link/cool"
    assert profile.links == []
    assert profile.country is None
    assert {p.platform_sponsored for p in profile.recent_posts} == {None}


def _link(url: str) -> dict:
    return {"navigationEndpoint": {"urlEndpoint": {
        "url": f"https://www.youtube.com/redirect?event=channel_header&q={url}"}}}


def test_youtube_c4_header_and_about_links_hand_built():
    """Hand-built: an old c4TabbedHeaderRenderer page with header links, and the about
    renderer's links in the same body."""
    channel_id = "UC" + "c" * 22
    about = {"aboutChannelViewModel": {
        "links": [{"channelExternalLinkViewModel": {"link": {"content": "x", "commandRuns": [
            {"onTap": {"innertubeCommand": {"urlEndpoint": {
                "url": "https://www.youtube.com/redirect?q=https%3A%2F%2Fpatreon.com%2Fc"}}}}]}}},
            {"channelExternalLinkViewModel": {"link": {"commandRuns": [{"onTap": {
                "innertubeCommand": {"urlEndpoint": {"url": "https://shop.example/"}}}}]}}}],
        "signInForBusinessEmail": {"commandRuns": [{"onTap": {"innertubeCommand": {
            "urlEndpoint": {"url": "https://accounts.google.com/ServiceLogin"}}}}]},
        "country": "Germany"}}
    body = {
        "header": {"c4TabbedHeaderRenderer": {
            "channelId": channel_id, "title": "C", "channelHandleText": {"runs": [{"text": "@c"}]},
            "subscriberCountText": {"simpleText": "1.2K subscribers"},
            "headerLinks": {"channelHeaderLinksRenderer": {
                "primaryLinks": [_link("https%3A%2F%2Fshop.example%2F")],
                "secondaryLinks": [_link("https%3A%2F%2Finstagram.com%2Fc"),
                                   _link("https%3A%2F%2Fshop.example%2F")]}}}},
        "metadata": {"channelMetadataRenderer": {"externalId": channel_id, "title": "C",
                                                 "vanityChannelUrl": "http://www.youtube.com/@c"}},
        "contents": {"twoColumnBrowseResultsRenderer": {"tabs": [{"tabRenderer": {
            "content": {"sectionListRenderer": {"contents": [about]}}}}]}},
    }
    [profile] = youtube.parse_document(body)
    assert profile.external_url == "https://shop.example/"
    assert profile.links == ["https://instagram.com/c", "https://patreon.com/c"]
    assert profile.country is None  # the about renderer names a country, not a code


# --- Mastodon and Pixelfed ---------------------------------------------------------------------------


def _posts_of_cassette(name: str) -> dict[str, str | None]:
    languages: dict[str, str | None] = {}
    for it in interactions(name):
        body = it["response"]["body"]["string"]
        if it["response"]["status"]["code"] != 200:
            continue
        for post in posts_of(mastodon.parse_document(body, url=it["request"]["uri"])):
            languages[post.post_id] = post.language
    return languages


def test_mastodon_statuses_declare_english():
    languages = _posts_of_cassette(MD_PAGING)
    assert len(languages) == 10  # "Toot number 0!" .. "Toot number 9!"
    assert set(languages.values()) == {"en"}


def test_mastodon_hashtag_timeline_status_declares_japanese():
    assert _posts_of_cassette(MD_HASHTAG) == {"117020593741189701": "ja"}


@pytest.mark.parametrize("name", PF_FILES)
def test_pixelfed_language_null_is_none(name):
    body = raw(name)
    assert '"language":null' in body
    posts = posts_of(mastodon.parse_document(body))
    assert posts
    assert {p.language for p in posts} == {None}


@pytest.mark.parametrize("name", [MD_ACCOUNT, MD_PAGING])
def test_mastodon_account_fields_without_links_give_no_links(name):
    profiles = []
    for it in interactions(name):
        if it["response"]["status"]["code"] == 200:
            profiles += of(mastodon.parse_document(it["response"]["body"]["string"],
                                                   url=it["request"]["uri"]), ProfileItem)
    assert profiles
    for profile in profiles:
        assert (profile.links, profile.contact_email, profile.country) == ([], None, None)


def test_mastodon_bread_and_lasagna_fields_hold_no_link():
    body = next(it["response"]["body"]["string"] for it in interactions(MD_PAGING)
                if "/statuses?limit=5" in it["request"]["uri"])
    account = json.loads(body)[0]["account"]
    assert [f["name"] for f in account["fields"]] == ["bread", "lasagna"]
    profile = mastodon.parse_account(account, instance="localhost")
    assert profile.external_url is None
    assert profile.links == []


def test_pixelfed_website_is_external_url_not_links():
    data = load(PF_SEARCH)
    items = mastodon.parse_document(data, url="https://pixelfed.de/api/v2/search?q=caturday")
    [henderson] = [p for p in of(items, ProfileItem) if p.handle == "hendersonb@pixelfed.de"]
    assert henderson.external_url == "https://allmylinks.com/hbariani"
    assert henderson.links == []


LINK = ('<a href="{}" target="_blank" rel="nofollow noopener noreferrer me" translate="no">'
        '<span class="invisible">https://</span><span class="">{}</span></a>')


def test_mastodon_link_fields_hand_built():
    """Hand-built: an account whose fields hold several links, a hashtag link, a mention, a
    plain URL and a duplicate (Mastodon 4 renders field values as below)."""
    fields = [
        {"name": "Web", "value": LINK.format("https://lennon.example/", "lennon.example/"),
         "verified_at": "2024-01-01T00:00:00.000+00:00"},
        {"name": "Shop", "value": LINK.format("https://shop.example/a?b=1&amp;c=2",
                                              "shop.example/a")},
        {"name": "Tags", "value": '<a href="https://m.example/tags/art" class="mention hashtag" '
                                  'rel="tag">#<span>art</span></a>'},
        {"name": "Alt", "value": '<span class="h-card"><a href="https://other.example/@lennon" '
                                 'class="u-url mention">@<span>lennon</span></a></span>'},
        {"name": "Plain", "value": "https://plain.example/x"},
        {"name": "Again", "value": LINK.format("https://lennon.example/", "lennon.example/")},
        {"name": "Words", "value": "no links here"},
    ]
    account = {"id": "1", "username": "lennon", "acct": "lennon", "url": "https://m.example/@lennon",
               "followers_count": 1, "fields": fields}
    profile = mastodon.parse_account(account, instance="m.example")
    assert profile.external_url == "https://lennon.example/"
    assert profile.links == ["https://shop.example/a?b=1&c=2", "https://other.example/@lennon",
                             "https://plain.example/x"]


def test_pixelfed_fields_and_website_hand_built():
    account = {"id": "2", "username": "cat", "acct": "cat", "url": "https://pf.example/cat",
               "followers_count": 1, "software": "pixelfed", "website": "https://cat.example",
               "fields": [{"name": "Blog", "value": LINK.format("https://blog.example/", "b")}]}
    profile = mastodon.parse_account(account, instance="pf.example")
    assert profile.platform == "pixelfed"
    assert profile.external_url == "https://blog.example/"
    assert profile.links == ["https://cat.example"]


@pytest.mark.parametrize(("language", "expected"), [("en", "en"), ("EN", "en"), ("pt-BR", "pt"),
                                                    (None, None), ("", None)])
def test_mastodon_status_language_hand_built(language, expected):
    status = {"id": "5", "content": "<p>hi</p>", "language": language,
              "created_at": "2024-01-01T00:00:00.000Z",
              "account": {"id": "1", "acct": "a", "username": "a", "url": "https://m.example/@a"}}
    assert mastodon.parse_status(status).language == expected


# --- Bluesky -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", BSKY_FILES)
def test_bluesky_2023_records_have_no_langs(name):
    body = raw(name)
    assert '"langs"' not in body  # the captures predate the field
    posts = posts_of(bluesky.parse_document(body))
    assert posts
    assert {(p.language, p.platform_sponsored) for p in posts} == {(None, None)}


@pytest.mark.parametrize("name", BSKY_PROFILES)
def test_bluesky_profiles_have_no_contact_country_or_links(name):
    for profile in of(bluesky.parse_document(raw(name)), ProfileItem):
        assert (profile.contact_email, profile.country, profile.links) == (None, None, [])


@pytest.mark.parametrize(("langs", "expected"), [
    (["ja"], "ja"), (["pt-BR", "en"], "pt"), (["EN"], "en"), ([], None), (None, None),
    (["und"], None), ("en", None),
])
def test_bluesky_record_langs_hand_built(langs, expected):
    record = {"$type": "app.bsky.feed.post", "text": "hi", "createdAt": "2024-01-01T00:00:00Z"}
    if langs is not None:
        record["langs"] = langs
    post = {"uri": "at://did:plc:abc/app.bsky.feed.post/3kabc", "cid": "x", "record": record,
            "author": {"did": "did:plc:abc", "handle": "a.bsky.social"}}
    assert bluesky.parse_post(post).language == expected


# --- the normalise pipeline keeps the fields ------------------------------------------------------------


def test_normalize_pipeline_keeps_the_raw_signal_fields():
    from pipelines.normalize import NormalizePipeline

    post = PostItem(platform="youtube", post_id="abcdefghijk", platform_sponsored=True,
                    language="en")
    profile = ProfileItem(platform="youtube", handle="c", followers="10", recent_posts=[post],
                          contact_email="a@b.example", country="US",
                          links=["https://shop.example/"])
    out = NormalizePipeline().process_item(profile)
    assert isinstance(out, ProfileItem)
    assert (out.contact_email, out.country, out.links) == (
        "a@b.example", "US", ["https://shop.example/"])
    assert (out.recent_posts[0].platform_sponsored, out.recent_posts[0].language) == (True, "en")
