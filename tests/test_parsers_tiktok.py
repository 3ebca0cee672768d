"""TikTok parsers on the real captures in ../shared/realworld/tiktok, plus pages built here from
the same real data for the forms no capture holds whole (SIGI_STATE, UNIVERSAL_DATA pages,
video pages, tag listings) and the blocked/unknown bodies.

Every expected value below was read from the capture files themselves.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from crawler.items import HashtagSightingItem, PostItem, ProfileItem
from crawler.parsers import BlockedPage, UnrecognisedDocument, parser_for, tiktok

REALWORLD = Path(__file__).resolve().parents[2] / "shared" / "realworld" / "tiktok"
USER_DETAIL_FILE = "scrapfly_universal_data_webapp_user_detail_userInfo_2026.json"
ITEM_LIST_FILE = "scrapfly_api_post_item_list_projection_2026.json"
NEXT_DATA_FILE = "drawrowfly_profile_NEXT_DATA_tiktok_2021.html"
MOCKS_FILE = "drawrowfly_mock_responses_user_tag_itemlist_2020-21.ts.txt"
ALL_FILES = (USER_DETAIL_FILE, ITEM_LIST_FILE, NEXT_DATA_FILE, MOCKS_FILE)

ODD_BIO = "CONTACT: OddAnimalSpecimens@sixteenth.com\n\nVOTE USING THE LINK BELOW:"
ODD_LINK = (
    "https://www.tiktok.com/activity/landing/tta?pia=1&use_spark=1&campaignId=7555805199525265464"
    "&minVersion=320100&enter_from=creator&target_group_id=EducationalCreator"
    "&target_user_id=6976999329680589829&enter_channel=link"
)
FETCHED_AT = datetime(2021, 1, 6, 15, 0, tzinfo=timezone.utc)


def raw(name: str) -> bytes:
    path = REALWORLD / name
    if not path.is_file():
        pytest.skip(f"real-world capture {path} not present")
    return path.read_bytes()


def next_data() -> dict:
    """The ``__NEXT_DATA__`` JSON of the 2021 @tiktok profile capture."""
    html = raw(NEXT_DATA_FILE).decode()
    start = html.index(">", html.index('id="__NEXT_DATA__"')) + 1
    return json.loads(html[start:html.index("</script>", start)])


def only(items: list, kind: type) -> list:
    return [i for i in items if isinstance(i, kind)]


def test_registry_resolves_tiktok_module():
    assert parser_for("tiktok") is tiktok


# --- every capture through parse_document (what `microscout parse tiktok FILE` does) ----------


@pytest.mark.parametrize(
    ("name", "profiles", "posts", "sightings"),
    [
        (USER_DETAIL_FILE, 1, 0, 0),
        (ITEM_LIST_FILE, 0, 53, 0),
        (NEXT_DATA_FILE, 1, 4, 0),
        (MOCKS_FILE, 3, 7 + 24, 0),
    ],
)
def test_every_capture_parses(name, profiles, posts, sightings):
    items = tiktok.parse_document(raw(name))
    nested = [p for profile in only(items, ProfileItem) for p in profile.recent_posts]
    assert len(only(items, ProfileItem)) == profiles
    assert len(only(items, PostItem)) + len(nested) == posts
    assert len(only(items, HashtagSightingItem)) == sightings


# --- UNIVERSAL_DATA userInfo (scrapfly, 2026) ---------------------------------------------------


@pytest.fixture
def oddanimals() -> ProfileItem:
    (profile,) = tiktok.parse_document(raw(USER_DETAIL_FILE))
    return profile


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("platform", "tiktok"),
        ("handle", "oddanimalspecimens"),
        ("platform_user_id", "6976999329680589829"),
        ("display_name", "Odd Animal Specimens"),
        ("bio", ODD_BIO),
        ("external_url", ODD_LINK),
        ("is_verified", False),
        ("following", "9"),
        ("posts_count", "178"),
        ("profile_url", "https://www.tiktok.com/@oddanimalspecimens"),
        ("recent_posts", []),
    ],
)
def test_user_detail_fields(oddanimals, field, expected):
    assert getattr(oddanimals, field) == expected


def test_user_detail_followers_are_the_exact_statsv2_string_not_the_rounded_int(oddanimals):
    # stats.followerCount is 4000000; statsV2.followerCount is "4001943"
    assert oddanimals.followers == "4001943"


def test_stats_used_when_statsv2_absent():
    info = json.loads(raw(USER_DETAIL_FILE))[0]
    del info["statsV2"]
    (profile,) = tiktok.parse_document([info])
    assert (profile.followers, profile.following, profile.posts_count) == (4000000, 9, 178)


def test_universal_data_page_reads_user_detail_and_page_language():
    info = json.loads(raw(USER_DETAIL_FILE))[0]
    state = {"__DEFAULT_SCOPE__": {
        "webapp.app-context": {"language": "en"},
        "webapp.user-detail": {"userInfo": info, "statusCode": 0, "statusMsg": ""},
    }}
    page = ('<!DOCTYPE html><html lang="en"><head><script id="__UNIVERSAL_DATA_FOR_REHYDRATION__"'
            f' type="application/json">{json.dumps(state)}</script></head><body></body></html>')
    (profile,) = tiktok.parse_document(page, url="https://www.tiktok.com/@oddanimalspecimens")
    assert (profile.handle, profile.followers, profile.locale, profile.source_url) == (
        "oddanimalspecimens", "4001943", "en", "https://www.tiktok.com/@oddanimalspecimens")


def test_universal_data_user_not_found_is_unrecognised_not_an_empty_profile():
    state = {"__DEFAULT_SCOPE__": {"webapp.user-detail": {"userInfo": {}, "statusCode": 10221,
                                                          "statusMsg": ""}}}
    page = f'<script id="__UNIVERSAL_DATA_FOR_REHYDRATION__">{json.dumps(state)}</script>'
    with pytest.raises(UnrecognisedDocument, match="10221"):
        tiktok.parse_document(page)


# --- /api/post/item_list projection (scrapfly, 2026) ---------------------------------------------


@pytest.fixture(scope="module")
def item_list_posts() -> dict[str, PostItem]:
    items = tiktok.parse_document(raw(ITEM_LIST_FILE))
    return {p.post_id: p for p in items}


@pytest.mark.parametrize(
    ("post_id", "created", "likes", "comments", "views", "shares"),
    [
        ("7424178477068258603", 1728576259, 3900000, 37600, 38900000, 893600),
        ("6982264743109119238", 1625685200, 2500000, 10100, 16300000, 39000),
        ("7057579848453147951", 1643220860, 1100000, 3132, 16400000, 2227),
        ("7576787241192672567", 1764108271, 59200, 702, 376000, 998),
        ("7572245139700206903", 1763050726, 8813, 116, 101200, 281),
    ],
)
def test_item_list_counts_and_time(item_list_posts, post_id, created, likes, comments, views,
                                   shares):
    post = item_list_posts[post_id]
    assert (post.posted_at, post.likes, post.comments, post.views, post.shares) == (
        created, likes, comments, views, shares)


def test_item_list_created_time_is_exact(item_list_posts):
    assert item_list_posts["7424178477068258603"].posted_at_precision == "exact"


@pytest.mark.parametrize(
    ("post_id", "hashtags"),
    [
        ("7424178477068258603", ["animals", "science", "learnontiktok"]),
        ("7572245139700206903", ["tiktokencyclopediacontest", "tiktokpartner"]),
        ("7381512119126084907",
         ["longformgoodform", "tiktok_partner", "science", "animals", "learnontiktok"]),
        ("7466115824332459306", ["animals", "science", "learnontiktok"]),  # "#LearnOnTikTok"
        ("7568904293894475022",
         ["animals", "science", "learnontiktok", "tiktokcreatorsummit", "tiktokpartner"]),
    ],
)
def test_item_list_hashtags_from_contents_text_extra(item_list_posts, post_id, hashtags):
    assert item_list_posts[post_id].hashtags == hashtags


def test_item_list_mentions_from_text(item_list_posts):
    assert item_list_posts["7568904293894475022"].mentions == ["tiktok"]


def test_item_list_without_author_leaves_author_unknown(item_list_posts):
    post = item_list_posts["7424178477068258603"]
    assert (post.author_handle, post.url, post.media_type) == (None, None, "video")


# --- __NEXT_DATA__ profile (drawrowfly, 2021) ------------------------------------------------------


@pytest.fixture(scope="module")
def tiktok_2021() -> ProfileItem:
    (profile,) = tiktok.parse_document(raw(NEXT_DATA_FILE), fetched_at=FETCHED_AT)
    return profile


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("handle", "tiktok"),
        ("platform_user_id", "107955"),
        ("display_name", "TikTok"),
        ("bio", "It Starts On TikTok"),
        ("is_verified", True),
        ("followers", 50100000),
        ("following", 496),
        ("posts_count", 118),
        ("locale", "en"),
        ("fetched_at", FETCHED_AT),
    ],
)
def test_next_data_profile_fields(tiktok_2021, field, expected):
    assert getattr(tiktok_2021, field) == expected


@pytest.mark.parametrize(
    ("index", "post_id", "created", "likes", "comments", "views", "shares", "hashtags",
     "mentions"),
    [
        (0, "6912598122988326149", 1609464681, 84900, 16500, 844100, 673,
         ["bye2020", "welcome2021"], []),
        (1, "6911370401054526725", 1609178834, 1500000, 46300, 115500000, 8296,
         [], ["lilyachty", "brittany_broski"]),
        (2, "6909171131882802434", 1608666916, 380000, 15800, 6700000, 1036,
         ["itstartsontiktok", "holidaysourway"], []),
        (3, "6907709736355908869", 1608326522, 463700, 18800, 31500000, 6873,
         ["yearontiktok"], []),
    ],
)
def test_next_data_recent_posts(tiktok_2021, index, post_id, created, likes, comments, views,
                                shares, hashtags, mentions):
    post = tiktok_2021.recent_posts[index]
    assert (post.post_id, post.posted_at, post.likes, post.comments, post.views, post.shares,
            post.hashtags, post.mentions) == (
        post_id, created, likes, comments, views, shares, hashtags, mentions)


def test_next_data_post_url_and_author(tiktok_2021):
    post = tiktok_2021.recent_posts[0]
    assert (post.author_handle, post.url) == (
        "tiktok", "https://www.tiktok.com/@tiktok/video/6912598122988326149")


def test_next_data_pagination():
    assert tiktok.pagination(next_data()) == tiktok.Pagination("1608326522000", True)


def test_next_data_video_page_yields_the_post_under_its_author():
    item = next_data()["props"]["pageProps"]["items"][0]
    data = {"props": {"pageProps": {"itemInfo": {"itemStruct": item}, "statusCode": 0}}}
    (profile,) = tiktok.parse_document(json.dumps(data))
    assert (profile.handle, profile.followers, [p.post_id for p in profile.recent_posts]) == (
        "tiktok", 50100000, ["6912598122988326149"])


# --- SIGI_STATE (2022-23 form), built from the same real data ---------------------------------------


def sigi_state() -> dict:
    """A SIGI_STATE holding the 2021 capture's user and videos, as TikTok laid it out."""
    props = next_data()["props"]
    user_info = props["pageProps"]["userInfo"]
    items = copy.deepcopy(props["pageProps"]["items"])
    for item in items:
        item["author"] = item["author"]["uniqueId"]  # SIGI_STATE keeps the author by name
    return {
        "AppContext": {"appContext": {"language": props["initialProps"]["$language"]}},
        "UserModule": {"users": {"tiktok": user_info["user"]},
                       "stats": {"tiktok": user_info["stats"]}},
        "ItemModule": {item["id"]: item for item in items},
        "ItemList": {"user-post": {"list": [item["id"] for item in items],
                                   "hasMore": True, "cursor": "1608326522000"}},
    }


def test_sigi_state_script_parses_like_the_next_data_page():
    page = ('<html><head><script id="SIGI_STATE" type="application/json">'
            f"{json.dumps(sigi_state())}</script></head></html>")
    assert tiktok.parse_document(page) == tiktok.parse_document(raw(NEXT_DATA_FILE))


def test_sigi_state_window_assignment_parses_like_the_next_data_page():
    page = f"<html><script>window['SIGI_STATE']={json.dumps(sigi_state())};</script></html>"
    assert tiktok.parse_document(page) == tiktok.parse_document(raw(NEXT_DATA_FILE))


def test_sigi_state_pagination():
    assert tiktok.pagination(sigi_state()) == tiktok.Pagination("1608326522000", True)


def test_sigi_state_video_page_yields_the_post_and_author_stats():
    state = sigi_state()
    state["ItemModule"] = {"6907709736355908869": state["ItemModule"]["6907709736355908869"]}
    del state["ItemList"]
    (profile,) = tiktok.parse_document(json.dumps(state))
    (post,) = profile.recent_posts
    assert (profile.followers, post.post_id, post.likes, post.hashtags) == (
        50100000, "6907709736355908869", 463700, ["yearontiktok"])


# --- UNIVERSAL_DATA video page -------------------------------------------------------------------


def test_universal_video_detail_prefers_exact_statsv2_counts():
    item = copy.deepcopy(next_data()["props"]["pageProps"]["items"][3])
    item["statsV2"] = {"diggCount": "463712", "playCount": "31512345", "commentCount": "18800",
                       "shareCount": "6873"}
    state = {"__DEFAULT_SCOPE__": {"webapp.video-detail": {"itemInfo": {"itemStruct": item},
                                                           "statusCode": 0}}}
    (profile,) = tiktok.parse_document(json.dumps(state))
    (post,) = profile.recent_posts
    assert (post.likes, post.views, post.comments) == ("463712", "31512345", "18800")


def test_universal_video_page_with_an_empty_user_detail_is_a_video_page():
    item = next_data()["props"]["pageProps"]["items"][0]
    state = {"__DEFAULT_SCOPE__": {"webapp.user-detail": {"statusCode": 0},
                                   "webapp.video-detail": {"itemInfo": {"itemStruct": item}}}}
    (profile,) = tiktok.parse_document(state)
    assert [p.post_id for p in profile.recent_posts] == ["6912598122988326149"]


# --- the 2020-21 mock responses (TypeScript object literals) ---------------------------------------


@pytest.fixture(scope="module")
def mock_items() -> list:
    return tiktok.parse_document(raw(MOCKS_FILE))


def test_mocks_node_share_user(mock_items):
    profile = mock_items[0]
    assert (profile.handle, profile.platform_user_id, profile.bio, profile.followers,
            profile.following, profile.posts_count, profile.is_verified) == (
        "tiktok", "107955", "Make Your Day", 48300000, 491, 112, True)


def test_mocks_api_item_list_groups_videos_under_author_stats(mock_items):
    profile = mock_items[1]
    assert (profile.handle, profile.followers, len(profile.recent_posts)) == (
        "tiktok", 50100000, 7)


@pytest.mark.parametrize(
    ("post_id", "likes", "shares", "hashtags", "mentions"),
    [
        ("6912598122988326149", 85700, 680, ["bye2020", "welcome2021"], []),
        ("6889096755028233478", 312500, 5695, ["tiktoktreats"], ["postmates"]),
        ("6881450806688664838", 1700000, 16800, [],
         ["420doggface208", "mickfleetwood", "tomhayes603"]),
    ],
)
def test_mocks_api_item_list_posts(mock_items, post_id, likes, shares, hashtags, mentions):
    (post,) = [p for p in mock_items[1].recent_posts if p.post_id == post_id]
    assert (post.likes, post.shares, post.hashtags, post.mentions) == (
        likes, shares, hashtags, mentions)


def test_mocks_share_item_list_legacy_item_infos(mock_items):
    profile = mock_items[2]
    assert (profile.handle, profile.platform_user_id, profile.display_name, profile.followers,
            profile.following, profile.posts_count, len(profile.recent_posts)) == (
        "charlidamelio", "5831967", "charli d’amelio", 40431380, 932, 1072, 24)


@pytest.mark.parametrize(
    ("post_id", "created", "likes", "comments", "views", "shares", "hashtags", "mentions"),
    [
        ("6807325450981969158", "1584953968", 1563781, 46142, 5893701, 6728, [], []),
        ("6807191893592509702", "1584922871", 2980613, 53768, 11538897, 12659,
         ["greenscreen"], []),
        ("6807163269829152005", "1584916206", 2290504, 26795, 11407447, 26177,
         [], ["anthonycerv"]),
        ("6806404096765988102", "1584739448", 3711854, 62328, 20120647, 19717, [], []),
    ],
)
def test_mocks_share_item_list_posts(mock_items, post_id, created, likes, comments, views,
                                     shares, hashtags, mentions):
    (post,) = [p for p in mock_items[2].recent_posts if p.post_id == post_id]
    assert (post.posted_at, post.likes, post.comments, post.views, post.shares, post.hashtags,
            post.mentions) == (created, likes, comments, views, shares, hashtags, mentions)


def mock_object(key: str) -> dict:
    """The first object literal of the TypeScript mocks that has ``key``."""
    objects = tiktok.iter_js_objects(raw(MOCKS_FILE).decode())
    return next(obj for obj in objects if key in obj)


def test_js_objects_read_from_typescript_mocks():
    assert tiktok.challenge_info(mock_object("challengeInfo")) == {
        "id": "99770", "title": "duett", "video_count": 0, "view_count": 37100000000}


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("items", tiktok.Pagination("1586912225000", True)),  # listV2: /api/item_list/
        ("body", tiktok.Pagination("1584739448000", True)),  # list: /share/item/list
    ],
)
def test_mocks_pagination(key, expected):
    assert tiktok.pagination(mock_object(key)) == expected


def test_tag_response_without_videos_is_recognised_and_empty():
    assert tiktok.parse_document(mock_object("challengeInfo")) == []


# --- tag (challenge) listing --------------------------------------------------------------------


@pytest.fixture
def tag_listing() -> list:
    items = next_data()["props"]["pageProps"]["items"]
    body = {"itemList": items, "cursor": "34", "hasMore": True, "statusCode": 0}
    url = tiktok.challenge_item_list_url("1640302203126790", cursor=30)
    return tiktok.parse_document(json.dumps(body), url=url, fetched_at=FETCHED_AT)


def test_tag_listing_sightings(tag_listing):
    sightings = only(tag_listing, HashtagSightingItem)
    assert [(s.hashtag, s.post_id, s.author_handle, s.position, s.listing) for s in sightings] == [
        ("bye2020", "6912598122988326149", "tiktok", 30, "top"),
        ("bye2020", "6911370401054526725", "tiktok", 31, "top"),
        ("bye2020", "6909171131882802434", "tiktok", 32, "top"),
        ("bye2020", "6907709736355908869", "tiktok", 33, "top"),
    ]


def test_tag_listing_sightings_carry_fetch_time(tag_listing):
    assert {s.seen_at for s in only(tag_listing, HashtagSightingItem)} == {FETCHED_AT}


def test_tag_listing_authors_come_with_their_stats(tag_listing):
    (profile,) = only(tag_listing, ProfileItem)
    assert (profile.handle, profile.followers, profile.discovered_via,
            len(profile.recent_posts)) == ("tiktok", 50100000, "Bye2020", 4)


def test_tag_page_url_names_the_hashtag():
    items = next_data()["props"]["pageProps"]["items"][:1]
    listing = tiktok.parse_document({"itemList": items},
                                    url="https://www.tiktok.com/tag/welcome2021")
    (sighting,) = only(listing, HashtagSightingItem)
    assert (sighting.hashtag, sighting.position) == ("welcome2021", 0)


def test_item_list_pagination():
    assert tiktok.pagination({"itemList": [], "cursor": "35", "hasMore": False}) == (
        tiktok.Pagination("35", False))


# --- URL builders ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("built", "expected"),
    [
        (tiktok.profile_url("@tiktok"), "https://www.tiktok.com/@tiktok"),
        (tiktok.video_url("tiktok", "6912598122988326149"),
         "https://www.tiktok.com/@tiktok/video/6912598122988326149"),
        (tiktok.tag_url("#duett"), "https://www.tiktok.com/tag/duett"),
        (tiktok.item_list_url("MS4wLjABAAAA", cursor=35),
         "https://www.tiktok.com/api/post/item_list/?secUid=MS4wLjABAAAA&cursor=35&count=35"),
        (tiktok.challenge_item_list_url("99770"),
         "https://www.tiktok.com/api/challenge/item_list/?challengeID=99770&cursor=0&count=35"),
    ],
)
def test_url_builders(built, expected):
    assert built == expected


# --- blocked and unknown bodies ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        '{"code":"10000","type":"verify"}',
        b'{"code":"10000","type":"verify"}',
        {"code": "10000", "type": "verify"},
        '<html><body><div id="captcha-verify-container-main-page"></div></body></html>',
    ],
)
def test_verify_challenge_is_a_captcha(body):
    with pytest.raises(BlockedPage) as caught:
        tiktok.parse_document(body)
    assert caught.value.reason == "captcha"


@pytest.mark.parametrize(
    "body",
    [
        "",
        '{"foo": 1}',
        "[]",
        '{"statusCode": 10202, "statusMsg": ""}',
        "<html><body>nothing here</body></html>",
        "just some text",
        '<script id="__NEXT_DATA__">{not json</script>',
    ],
)
def test_unknown_bodies_are_unrecognised(body):
    with pytest.raises(UnrecognisedDocument):
        tiktok.parse_document(body)


# --- what the spider reads besides the items --------------------------------------------------


def test_page_data_and_sec_uid_of_a_profile_page():
    data = tiktok.page_data(raw(NEXT_DATA_FILE))
    assert data == next_data()
    assert tiktok.sec_uid(data) == "MS4wLjABAAAAv7iSuuXDJGDvJkmH_vz1qkDZYo1apxgzaxdBSeIuPiM"
    info = json.loads(raw(USER_DETAIL_FILE))[0]
    universal = {"__DEFAULT_SCOPE__": {"webapp.user-detail": {"userInfo": info}}}
    assert tiktok.sec_uid(universal) == info["user"]["secUid"]
    assert tiktok.sec_uid({"itemList": []}) is None


@pytest.mark.parametrize(("body", "error"), [
    (b'{"code":"10000","from":"","type":"verify","subtype":"slide"}', BlockedPage),
    (b"<html><div id='captcha-verify-container'></div></html>", BlockedPage),
    (b"", UnrecognisedDocument),
    (b'{"itemList": [', UnrecognisedDocument),
])
def test_page_data_refuses_what_is_not_data(body, error):
    with pytest.raises(error):
        tiktok.page_data(body)


def test_caller_names_the_tag_listing_and_its_offset():
    items = tiktok.parse_document(raw(ITEM_LIST_FILE), hashtag="#Science", position_offset=70)
    sightings = only(items, HashtagSightingItem)
    assert len(sightings) == len(json.loads(raw(ITEM_LIST_FILE)))
    assert (sightings[0].hashtag, sightings[0].position, sightings[-1].position) == (
        "science", 70, 70 + len(sightings) - 1)


def test_url_builders_take_another_base():
    base = "http://127.0.0.1:8798"
    assert tiktok.tag_url("vegan", base=base) == f"{base}/tag/vegan"
    assert tiktok.challenge_item_list_url("1", cursor=35, base=base) == (
        f"{base}/api/challenge/item_list/?challengeID=1&cursor=35&count=35")
    assert tiktok.item_list_url("MS4w", count=5, base=base) == (
        f"{base}/api/post/item_list/?secUid=MS4w&cursor=0&count=5")
