"""Instagram parsers on the real captures in ../shared/realworld/instagram.

Every expected value below was read from the capture itself (jq / json), not from the parser.
The captures are third-party data: they are read in place, never copied into the project;
the tests skip when the folder is absent.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from crawler.items import HashtagSightingItem, PostItem, ProfileItem, RejectedItem
from crawler.parsers import BlockedPage, UnrecognisedDocument, parser_for
from crawler.parsers import instagram as ig

CAPTURES = Path(__file__).resolve().parents[2] / "shared" / "realworld" / "instagram"
WEB_PROFILE_INFO = "pgrimaud_web_profile_info_robertdowneyjr_2022.json"
PROFILE_HTML = "pgrimaud_profile_page_html_sharedData_robertdowneyjr_2020.html"
USER_MEDIAS = "pgrimaud_graphql_user_medias_page_2020.json"
HASHTAG = "pgrimaud_graphql_hashtag_paris_2021.json"
USER_INFO = "pgrimaud_api_v1_users_info_robertdowneyjr_2021.json"
FETCHED_AT = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
SHARED_DATA_SCRIPT = re.compile(
    r'<script type="text/javascript">window\._sharedData = .*?</script>', re.S
)


def capture(name: str) -> str:
    path = CAPTURES / name
    if not path.exists():
        pytest.skip(f"real-world capture not available: {path}")
    return path.read_text(encoding="utf-8")


def parse(name: str, **kwargs) -> list:
    return ig.parse_document(capture(name), **kwargs)


def only_profile(name: str, **kwargs) -> ProfileItem:
    items = parse(name, **kwargs)
    assert len(items) == 1
    assert isinstance(items[0], ProfileItem)
    return items[0]


def posts_by_id(posts: list) -> dict[str, PostItem]:
    return {p.post_id: p for p in posts if isinstance(p, PostItem)}


def shared_data_json(html: str) -> str:
    """The ``window._sharedData = {...};`` object of the page, cut out as JSON text."""
    start = html.index("window._sharedData = ") + len("window._sharedData = ")
    return html[start: html.index(";</script>", start)]


# --- every capture is recognised ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kinds"),
    [
        (WEB_PROFILE_INFO, {ProfileItem: 1}),
        (PROFILE_HTML, {ProfileItem: 1}),
        (USER_INFO, {ProfileItem: 1}),
        (USER_MEDIAS, {PostItem: 12}),
        (HASHTAG, {HashtagSightingItem: 43, PostItem: 43}),
    ],
)
def test_every_capture_parses_into_its_items(name, kinds):
    items = parse(name)
    counted: dict[type, int] = {}
    for item in items:
        counted[type(item)] = counted.get(type(item), 0) + 1
    assert counted == kinds


# --- web_profile_info (2022) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("platform", "instagram"),
        ("handle", "robertdowneyjr"),
        ("platform_user_id", "1518284433"),
        ("display_name", "Robert Downey Jr. Official"),
        ("bio", "Get involved: @officialfootprintcoalition 🌎🙏"),
        ("external_url", None),
        ("is_verified", True),
        ("category", "Artist"),
        ("followers", 52979346),
        ("following", 5),
        ("posts_count", 419),
        ("profile_url", "https://www.instagram.com/robertdowneyjr/"),
        ("source_url", ig.PROFILE_API.format("robertdowneyjr")),
        ("fetched_at", FETCHED_AT),
    ],
)
def test_web_profile_info_profile_fields(field, expected):
    profile = only_profile(
        WEB_PROFILE_INFO, url=ig.PROFILE_API.format("robertdowneyjr"), fetched_at=FETCHED_AT
    )
    assert getattr(profile, field) == expected


WEB_PROFILE_INFO_POSTS = [
    # post id, shortcode, taken_at_timestamp, likes, comments, video views, media type
    ("2837357660084836649", "CdgUcJGFxkp", 1652459710, 2126144, 8856, 14062876, "video"),
    ("2831580432341165696", "CdLy2aepGaA", 1651770713, 3307385, 5524, None, "carousel"),
    ("2822122264212258339", "CcqMT8_F74j", 1650643257, 3255172, 17856, 15565072, "video"),
    ("2819301463375504249", "CcgK75fPGN5", 1650306946, 1730661, 4128, None, "carousel"),
    ("2818571444932075099", "Ccdk8u1PF5b", 1650219921, 6482014, 21247, None, "carousel"),
    ("2809059524532288506", "Cb7yMEorLv6", 1649086011, 983180, 16345, None, "image"),
    ("2805484950564319150", "CbvFbLNFy-u", 1648659889, 1263201, 3581, None, "image"),
    ("2796086331303247647", "CbNsbQ6p78f", 1647539521, 2288666, 11610, 8563024, "video"),
    ("2785255790573722840", "CanN2J1vxzY", 1646248385, 1263262, 4103, None, "image"),
    ("2781685945919825744", "CaaiKE7P2dQ", 1645822827, 5180073, 11608, None, "image"),
    ("2780290503350316855", "CaVk3twlm83", 1645656595, 1983776, 3962, 9250796, "video"),
    ("2729379236420093218", "CXgs_RkJYUi", 1639587381, 2522942, 7950, None, "image"),
]

PROFILE_HTML_POSTS = [
    ("2307655221969878423", "CAGcDKplv2X", 1589313961, 686512, 3253, None, "image"),
    ("2306047234549362565", "CAAub3qli-F", 1589122274, 3218365, 7445, None, "image"),
    ("2304658475295629584", "B_7yqw0luEQ", 1588956866, 1157915, 7088, 3534377, "video"),
    ("2298247775148876154", "B_lBCzDlKF6", 1588192627, 354623, 1788, 1563353, "video"),
    ("2293075736205333740", "B_SpDublhTs", 1587575951, 813860, 2214, None, "image"),
    ("2288731436118155318", "B_DNR1sF6A2", 1587058131, 432705, 1514, 1760160, "video"),
    ("2287240445083097622", "B-96REFFZoW", 1586880343, 465441, 1847, 1729386, "video"),
    ("2284680727991140806", "B-00QRxF8HG", 1586575188, 1778951, 6739, None, "image"),
    ("2280119483946609914", "B-knJcOFaz6", 1586031445, 1469520, 21823, None, "image"),
    ("2252637658205693895", "B9C-gPhBKfH", 1582755356, 3202192, 19806, None, "carousel"),
    ("2248480053930546588", "B80NLIzFNWc", 1582259731, 2424170, 9910, None, "image"),
    ("2244641727918163132", "B8mkcJIlMS8", 1581802167, 1976146, 3376, None, "carousel"),
]

USER_MEDIAS_POSTS = [
    ("2224305748263047050", "B7eUksNFA-K", 1579378196, 695047, 1939, 2726827, "video"),
    ("2223751702027662404", "B7cWmQcB3RE", 1579311953, 664703, 1708, 5144388, "video"),
    ("2223714533029346507", "B7cOJYHFnzL", 1579307451, 1265682, 1762, None, "image"),
    ("2223468953686412167", "B7bWTuhlouH", 1579278216, 463586, 1470, 1935086, "video"),
    ("2222258274010782527", "B7XDCBNlds_", 1579133851, 1581850, 2561, None, "carousel"),
    ("2220779531459252098", "B7Ryze5Fk-C", 1578958348, 942276, 4932, 3140859, "video"),
    ("2219482526455757667", "B7NL5k2lPtj", 1578802956, 4833240, 8977, None, "carousel"),
    ("2219391168172826502", "B7M3II0lJ-G", 1578792066, 1500033, 2732, None, "carousel"),
    ("2218673132419909288", "B7KT3V6l4ao", 1578706529, 686877, 2632, 3302615, "video"),
    ("2218028159588558463", "B7IBNwKFuZ_", 1578629582, 1952089, 2718, None, "image"),
    ("2217901624608984029", "B7HkcbRlIvd", 1578615275, 760115, 3991, 2113941, "video"),
    ("2217309439484237985", "B7Fdy_5lBih", 1578543904, 2434569, 4474, None, "image"),
]

HASHTAG_TOP_POSTS = [
    ("2498227529890105019", "CKrfLPHM4a7", 1612031950, 178, 9, None, "image"),
    ("2498243032489816040", "CKris1CJm_o", 1612033798, 3353, 24, None, "image"),
    ("2498291701547020310", "CKrtxDoBDAW", 1612039600, 1397, 37, None, "carousel"),
    ("2498285331187828478", "CKrsUWxBQb-", 1612038841, 1794, 29, None, "image"),
    ("2498213643059331227", "CKrcBJ_lgCb", 1612030295, 1969, 60, None, "image"),
    ("2498171997805563955", "CKrSjI1B1Az", 1612025330, 1910, 66, None, "image"),
    ("2498241285939756164", "CKriTabp3yE", 1612033590, 676, 19, None, "image"),
    ("2498250917267402802", "CKrkfkThHAy", 1612034738, 137, 10, None, "carousel"),
    ("2498198773647604341", "CKrYoxxlPp1", 1612028522, 181, 2, None, "image"),
]

HASHTAG_RECENT_POSTS = [
    ("2498383483036303865", "CKsCopzFQH5", 1612050630, 0, 0, 0, "video"),
    ("2498384137826055918", "CKsCyLnl7bu", 1612050619, 0, 0, None, "image"),
    ("2498384132684852220", "CKsCyG1Jyv8", 1612050619, 1, 0, None, "image"),
    ("2498384115043066722", "CKsCx2ZnuNi", 1612050617, 1, 0, None, "image"),
    ("2498384098007061381", "CKsCxmiMhOF", 1612050615, 0, 0, None, "image"),
    ("2498384089551445153", "CKsCxeqM5yh", 1612050614, 0, 0, None, "image"),
    ("2498384085506241538", "CKsCxa5FrQC", 1612050613, 1, 0, None, "image"),
    ("2498383535633958653", "CKsCpayJYb9", 1612050607, 0, 0, 0, "video"),
    ("2498383982947687884", "CKsCv7YH13M", 1612050601, 0, 0, None, "image"),
    ("2498383568148006566", "CKsCp5EIoam", 1612050593, 1, 0, 0, "video"),
    ("2498383906234393478", "CKsCuz7p2OG", 1612050592, 3, 0, None, "image"),
    ("2498383882450407261", "CKsCudyBI9d", 1612050589, 3, 0, None, "image"),
    ("2498383871690086005", "CKsCuTwpxZ1", 1612050588, 1, 0, None, "carousel"),
    ("2498383804042007901", "CKsCtUwg1Vd", 1612050580, 2, 0, None, "image"),
    ("2498383782980380670", "CKsCtBJJGf-", 1612050577, 0, 0, None, "image"),
    ("2498383469563724112", "CKsCodQDcFQ", 1612050575, 2, 0, 0, "video"),
    ("2498383606708818634", "CKsCqc-idLK", 1612050556, 0, 0, None, "image"),
    ("2498383481217163349", "CKsCooGpyBV", 1612050541, 3, 0, None, "image"),
    ("2498383470956189030", "CKsCoejDRVm", 1612050540, 2, 0, None, "image"),
    ("2498383429300499344", "CKsCn3wLbOQ", 1612050535, 7, 1, None, "image"),
    ("2498383393849846388", "CKsCnWvJ6p0", 1612050531, 1, 0, None, "carousel"),
    ("2498383381208534091", "CKsCnK9rIxL", 1612050529, 4, 0, None, "carousel"),
    ("2498383371357760096", "CKsCnByhapg", 1612050528, 2, 0, None, "image"),
    ("2498383341521704997", "CKsCmmAJ5gl", 1612050524, 3, 0, None, "image"),
    ("2498265080561324818", "CKrntq5ntMS", 1612036427, 66, 4, None, "carousel"),
    ("2498173632679765991", "CKrS67bH-fn", 1612025525, 41, 0, None, "image"),
    ("2497443857581221872", "CKos_TZnCfw", 1611938529, 855, 14, None, "image"),
    ("2496807284454544840", "CKmcP8ehVXI", 1611862644, 179, 7, None, "image"),
    ("2496539449423168728", "CKlfWbqngTY", 1611830715, 635, 11, None, "image"),
    ("2496453500132687961", "CKlLztJsIBZ", 1611820469, 24, 0, None, "image"),
    ("2492050209514653839", "CKVinZMjwiP", 1611295556, 2012, 13, None, "carousel"),
    ("2491498576500003297", "CKTlME6rJHh", 1611229796, 117, 7, None, "carousel"),
    ("2489525386220869291", "CKMkiYRAxar", 1610994574, 14, 0, None, "image"),
    ("2488802691787227020", "CKKANyoA3-M", 1610908422, 29, 0, None, "image"),
]


def _post_rows(name: str, rows: list[tuple]) -> list:
    return [pytest.param(name, *row, id=f"{name.split('_')[1]}-{row[0]}") for row in rows]


def _posts_of(name: str) -> dict[str, PostItem]:
    items = parse(name)
    if isinstance(items[0], ProfileItem):
        return posts_by_id(items[0].recent_posts)
    return posts_by_id(items)


@pytest.mark.parametrize(
    ("name", "post_id", "shortcode", "posted_at", "likes", "comments", "views", "media_type"),
    _post_rows(WEB_PROFILE_INFO, WEB_PROFILE_INFO_POSTS)
    + _post_rows(PROFILE_HTML, PROFILE_HTML_POSTS)
    + _post_rows(USER_MEDIAS, USER_MEDIAS_POSTS)
    + _post_rows(HASHTAG, HASHTAG_TOP_POSTS + HASHTAG_RECENT_POSTS),
)
def test_post_values(name, post_id, shortcode, posted_at, likes, comments, views, media_type):
    post = _posts_of(name)[post_id]
    assert (post.platform, post.url, post.posted_at, post.likes, post.comments, post.views,
            post.media_type) == (
        "instagram", f"https://www.instagram.com/p/{shortcode}/", posted_at, likes, comments,
        views, media_type,
    )


@pytest.mark.parametrize(
    ("name", "rows"),
    [
        (WEB_PROFILE_INFO, WEB_PROFILE_INFO_POSTS),
        (PROFILE_HTML, PROFILE_HTML_POSTS),
        (USER_MEDIAS, USER_MEDIAS_POSTS),
    ],
)
def test_timeline_post_ids_in_page_order(name, rows):
    items = parse(name)
    posts = items[0].recent_posts if isinstance(items[0], ProfileItem) else items
    assert [p.post_id for p in posts] == [row[0] for row in rows]


@pytest.mark.parametrize("name", [WEB_PROFILE_INFO, PROFILE_HTML, USER_MEDIAS])
def test_timeline_posts_name_the_account(name):
    assert {p.author_handle for p in _posts_of(name).values()} == {"robertdowneyjr"}


@pytest.mark.parametrize(
    ("name", "post_id", "text"),
    [
        (WEB_PROFILE_INFO, "2818571444932075099", "Rebirth and Renewal"),
        (WEB_PROFILE_INFO, "2809059524532288506", None),  # no caption edge
        (WEB_PROFILE_INFO, "2805484950564319150",
         "We're all feeling the love this #WackyHatWednesday - let's see what's on top of "
         "your noggin this week!"),
        (PROFILE_HTML, "2306047234549362565",
         "This Mother’s Day, more than ever, let’s honor the women that raise the children "
         "that inherit the Earth #happymothersday"),
        (HASHTAG, "2498383982947687884",
         "#france #paris #toureiffel #eiffeltower #ciel #velo #nuages"),
        (HASHTAG, "2498265080561324818", None),
    ],
)
def test_post_caption_text(name, post_id, text):
    assert _posts_of(name)[post_id].text == text


@pytest.mark.parametrize(
    ("name", "post_id", "hashtags"),
    [
        (WEB_PROFILE_INFO, "2805484950564319150", ["wackyhatwednesday"]),
        (WEB_PROFILE_INFO, "2819301463375504249", ["footprintcoalition", "earthday"]),
        (WEB_PROFILE_INFO, "2818571444932075099", []),
        (PROFILE_HTML, "2306047234549362565", ["happymothersday"]),
        (PROFILE_HTML, "2288731436118155318", ["perrymasonhbo"]),
        (PROFILE_HTML, "2280119483946609914",
         ["mayaangelou", "happybirthday", "poet", "activist", "woman", "gratitude",
          "healthcare", "service"]),
        (USER_MEDIAS, "2224305748263047050",
         ["happybirthday", "berlin", "germany", "stubbins", "ladyrose", "press", "trudges",
          "sweet"]),  # "#16" is all digits: not a hashtag
        (HASHTAG, "2498383982947687884",
         ["france", "paris", "toureiffel", "eiffeltower", "ciel", "velo", "nuages"]),
        (HASHTAG, "2498198773647604341", ["instagood", "instadaily", "paris"]),
    ],
)
def test_post_hashtags_from_caption(name, post_id, hashtags):
    pytest.importorskip("crawler.values")
    assert _posts_of(name)[post_id].hashtags == hashtags


# --- profile HTML (2020, window._sharedData) ---------------------------------------------


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("handle", "robertdowneyjr"),
        ("platform_user_id", "1518284433"),
        ("display_name", "Robert Downey Jr. Official"),
        ("bio", "@officialfootprintcoalition @coreresponse"),
        ("external_url", "http://coreresponse.org/covid19"),
        ("is_verified", True),
        ("category", None),  # category_name absent, business_category_name null
        ("followers", 46383825),
        ("following", 50),
        ("posts_count", 453),
        ("profile_url", "https://www.instagram.com/robertdowneyjr/"),
        ("locale", "en"),
        ("fetched_at", FETCHED_AT),
    ],
)
def test_profile_html_shared_data_fields(field, expected):
    profile = only_profile(PROFILE_HTML, fetched_at=FETCHED_AT)
    assert getattr(profile, field) == expected


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("followers", 46383825),
        ("following", 50),
        ("posts_count", 453),
        ("handle", "robertdowneyjr"),
        ("bio", "@officialfootprintcoalition @coreresponse"),
    ],
)
def test_shared_data_saved_as_json(field, expected):
    body = shared_data_json(capture(PROFILE_HTML))
    [profile] = ig.parse_document(body)
    assert getattr(profile, field) == expected


def test_shared_data_saved_as_json_keeps_the_posts():
    body = shared_data_json(capture(PROFILE_HTML))
    [profile] = ig.parse_document(body)
    assert [p.post_id for p in profile.recent_posts] == [row[0] for row in PROFILE_HTML_POSTS]


# --- og:description fallback (the same real page without _sharedData) -------------------


def _html_without_shared_data() -> str:
    html = capture(PROFILE_HTML)
    stripped = SHARED_DATA_SCRIPT.sub("", html)
    assert "window._sharedData =" not in stripped
    return stripped


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("followers", "46.3m"),
        ("following", "50"),
        ("posts_count", "453"),
        ("handle", "robertdowneyjr"),
        ("display_name", "Robert Downey Jr. Official"),
        ("profile_url", "https://www.instagram.com/robertdowneyjr/"),
        ("locale", "en"),
        ("platform_user_id", None),
        ("recent_posts", []),
        ("fetched_at", FETCHED_AT),
    ],
)
def test_og_description_fallback_fields(field, expected):
    [profile] = ig.parse_document(_html_without_shared_data(), fetched_at=FETCHED_AT)
    assert getattr(profile, field) == expected


def test_og_description_fallback_count_reads_as_46_300_000():
    values = pytest.importorskip("crawler.values")
    [profile] = ig.parse_document(_html_without_shared_data())
    assert values.parse_count(profile.followers, profile.locale) == 46_300_000


def test_og_description_fallback_when_shared_data_has_no_user():
    """Logged-out pages from 2021 on keep ProfilePage[0] but drop its graphql.user."""
    html = capture(PROFILE_HTML)
    data = json.loads(shared_data_json(html))
    del data["entry_data"]["ProfilePage"][0]["graphql"]
    page = SHARED_DATA_SCRIPT.sub(
        lambda _: f'<script type="text/javascript">window._sharedData = {json.dumps(data)};'
        "</script>",
        html,
    )
    [profile] = ig.parse_document(page)
    assert (profile.followers, profile.following, profile.posts_count) == ("46.3m", "50", "453")


def test_additional_data_loaded_replaces_shared_data():
    """2021 pages moved graphql.user into window.__additionalDataLoaded('/handle/', {...})."""
    html = capture(PROFILE_HTML)
    data = json.loads(shared_data_json(html))
    profile_page = data["entry_data"]["ProfilePage"][0]
    extra = {"graphql": profile_page.pop("graphql")}
    script = (
        f'<script type="text/javascript">window._sharedData = {json.dumps(data)};</script>'
        '<script type="text/javascript">window.__additionalDataLoaded(\'/robertdowneyjr/\','
        f"{json.dumps(extra)});</script>"
    )
    [profile] = ig.parse_document(SHARED_DATA_SCRIPT.sub(lambda _: script, html))
    assert (profile.followers, profile.following, profile.posts_count) == (46383825, 50, 453)


# --- localized og:description lines ------------------------------------------------------

RDJ = "Robert Downey Jr. Official (@robertdowneyjr)"
LOCALIZED = [
    # text, followers, following, posts, locale
    (f"46.3m Followers, 50 Following, 453 Posts - See Instagram photos and videos from {RDJ}",
     "46.3m", "50", "453", "en"),
    (f"52M followers, 5 following, 419 posts - See Instagram photos and videos from {RDJ}",
     "52M", "5", "419", "en"),
    ("12.5K Followers, 1,234 Following, 1,024 Posts - See Instagram photos and videos from "
     "Jane Doe (@jane.doe_)", "12.5K", "1,234", "1,024", "en"),
    ("1.234 seguidores, 50 seguidos, 453 publicaciones - Ver fotos y videos de Instagram de "
     "María de la Cruz (@maria.cruz)", "1.234", "50", "453", "es"),
    (f"46,3 M seguidores, 50 seguidos, 453 publicaciones - Ver fotos y vídeos de Instagram de "
     f"{RDJ}", "46,3 M", "50", "453", "es"),
    (f"46,3 mi seguidores, 50 seguindo, 453 publicações - Veja as fotos e vídeos do Instagram "
     f"de {RDJ}", "46,3 mi", "50", "453", "pt"),
    ("1234 seguidores, 50 a seguir, 453 publicações - Vê as fotografias e os vídeos do "
     "Instagram de Ana (@ana)", "1234", "50", "453", "pt"),
    (f"46,3 M abonnés, 50 abonnements, 453 publications - Voir les photos et vidéos Instagram "
     f"de {RDJ}", "46,3 M", "50", "453", "fr"),
    ("1\u202f234 abonnés, 50 abonnements, 453 publications - Voir les photos et vidéos "
     "Instagram de Zoé (@zoe)", "1\u202f234", "50", "453", "fr"),
    (f"46,3 Mio. Follower, 50 gefolgt, 453 Beiträge - Sieh dir Instagram-Fotos und -Videos von "
     f"{RDJ} an", "46,3 Mio.", "50", "453", "de"),
    (f"46,3 mln follower, 50 seguiti, 453 post - Guarda le foto e i video di Instagram di {RDJ}",
     "46,3 mln", "50", "453", "it"),
    (f"46,3 mln volgers, 50 volgend, 453 berichten - Bekijk Instagram-foto's en -video's van "
     f"{RDJ}", "46,3 mln", "50", "453", "nl"),
    (f"46,3 Mn Takipçi, 50 Takip, 453 Gönderi - {RDJ} Instagram fotoğraflarını ve videolarını "
     "gör", "46,3 Mn", "50", "453", "tr"),
    (f"46,3 млн подписчиков, 50 подписок, 453 публикаций - Посмотрите фото и видео {RDJ} в "
     "Instagram", "46,3 млн", "50", "453", "ru"),
    (f"46,3 mln obserwujących, 50 obserwowanych, 453 posty - Zobacz zdjęcia i filmy z "
     f"Instagrama od {RDJ}", "46,3 mln", "50", "453", "pl"),
    (f"46,3 jt Pengikut, 50 Mengikuti, 453 Postingan - Lihat foto dan video Instagram dari {RDJ}",
     "46,3 jt", "50", "453", "id"),
    ("フォロワー4630万人、フォロー中50人、投稿453件 ― Robert Downey Jr. Officialさん"
     "(@robertdowneyjr)のInstagram写真と動画をチェックしよう", "4630万", "50", "453", "ja"),
    # A language missing from the table: the order (followers, following, posts) still holds.
    (f"46,3 mn följare, 50 följer, 453 inlägg - Se Instagram-foton och -videor från {RDJ}",
     "46,3 mn", "50", "453", None),
]


@pytest.mark.parametrize(
    ("text", "followers", "following", "posts", "locale"),
    LOCALIZED,
    ids=[f"{row[4]}-{i}" for i, row in enumerate(LOCALIZED)],
)
def test_localized_og_description_counts(text, followers, following, posts, locale):
    og = ig.parse_og_description(text)
    assert (og["followers"], og["following"], og["posts_count"], og["locale"]) == (
        followers, following, posts, locale,
    )


@pytest.mark.parametrize(
    ("text", "handle"),
    [(row[0], re.search(r"\(@([\w.]+)\)", row[0]).group(1)) for row in LOCALIZED],
)
def test_localized_og_description_handle(text, handle):
    assert ig.parse_og_description(text)["handle"] == handle


@pytest.mark.parametrize(
    ("index", "display_name"),
    [
        (0, "Robert Downey Jr. Official"),
        (2, "Jane Doe"),
        (3, "María de la Cruz"),  # the "de" inside the name is not the sentence's
        (5, "Robert Downey Jr. Official"),
        (7, "Robert Downey Jr. Official"),
        (9, "Robert Downey Jr. Official"),
        (10, "Robert Downey Jr. Official"),
        (11, "Robert Downey Jr. Official"),
        (12, "Robert Downey Jr. Official"),
        (14, "Robert Downey Jr. Official"),
        (15, "Robert Downey Jr. Official"),
        (16, "Robert Downey Jr. Official"),
    ],
)
def test_localized_og_description_display_name(index, display_name):
    assert ig.parse_og_description(LOCALIZED[index][0])["display_name"] == display_name


def test_og_title_gives_the_display_name():
    text = LOCALIZED[13][0]  # Russian: the sentence puts the name mid-way
    title = "Robert Downey Jr. Official (@robertdowneyjr) • Фото и видео в Instagram"
    assert ig.parse_og_description(text, title=title)["display_name"] == (
        "Robert Downey Jr. Official"
    )


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "Create an account or log in to Instagram - A simple, fun & creative way to capture, "
        "edit & share photos, videos & messages with friends & family.",
        '12K likes, 345 comments - robertdowneyjr on May 13, 2022: "Rebirth and Renewal"',
        "See Instagram photos and videos from Robert Downey Jr. Official (@robertdowneyjr)",
    ],
)
def test_og_description_that_is_not_a_profile_line(text):
    assert ig.parse_og_description(text) is None


# --- app-style /api/v1/users/{id}/info/ (2021) -------------------------------------------


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("handle", "robertdowneyjr"),
        ("platform_user_id", "1518284433"),
        ("display_name", "Robert Downey Jr. Official"),
        ("bio", "Get involved ▶️ @officialfootprintcoalition 🌎🙏"),
        ("external_url", "http://www.swau.com/RDJ"),
        ("is_verified", True),
        ("category", None),  # "category": null in the body
        ("followers", 50857062),
        ("following", 4),
        ("posts_count", 400),
        ("profile_url", "https://www.instagram.com/robertdowneyjr/"),
        ("recent_posts", []),
    ],
)
def test_user_info_fields(field, expected):
    assert getattr(only_profile(USER_INFO), field) == expected


# --- GraphQL user media page (2020) ------------------------------------------------------

MEDIAS_CURSOR = (
    "QVFCT1Y3cVc2eDZYQkRldHNGOXkwWGZjU0Y1S1VMOFNRQ05SZkxwcGFUT1ZBNE04RGpwMmdlMHBVdnZPOFpvd0U1"
    "X2VlRUU5VTM5Q2FOdmRpdFBuN3JNVA=="
)
HASHTAG_CURSOR = (
    "QVFEYy1pYW90TGt4aWF0aExLQnM4c1JCYV9BbkhkbmZySzRKRVBrWEtCR0pJQlJES0NNUFVmbE5CUDF2eW45eVp0"
    "Mk1odG5KT3pJeHE0R2ZDd05reEItbA=="
)
WEB_PROFILE_INFO_CURSOR = (
    "QVFCdm9FT3NEbDA5WWVQTU1xRHA3TDhJMVhYMVA1dVhuaEViTDVxMGFXc3VlNnRlcElHOG5kRWUzQ1o3b2JzN3dU"
    "VmJiZW9JclBlNVNieWJ3RnlfRW42Zg=="
)
PROFILE_HTML_CURSOR = (
    "QVFBWWxqaWVXYTJQLVFnNnJ3cG9oSm1CRFNmWFVWRFY0eFJybGhJOEp6NS05M0NRMk5YQm9IWUkza2FHN3BEWTlQ"
    "OVdaaVp5VDVzWEdnczNIVjRMM29ZeQ=="
)


@pytest.mark.parametrize(
    ("attribute", "expected"),
    [
        ("end_cursor", MEDIAS_CURSOR),
        ("has_next", True),
        ("next_cursor", MEDIAS_CURSOR),
        ("total", 453),
        ("owner_of", {}),  # these nodes carry owner.username: nothing to resolve
        ("owners", {}),
    ],
)
def test_user_media_page_pagination(attribute, expected):
    page = ig.parse_user_media_page(json.loads(capture(USER_MEDIAS)))
    assert getattr(page, attribute) == expected


@pytest.mark.parametrize(
    ("name", "cursor", "has_next"),
    [
        (USER_MEDIAS, MEDIAS_CURSOR, True),
        (HASHTAG, HASHTAG_CURSOR, True),
        (WEB_PROFILE_INFO, WEB_PROFILE_INFO_CURSOR, True),
        (PROFILE_HTML, PROFILE_HTML_CURSOR, True),
        (USER_INFO, None, False),
    ],
)
def test_page_info(name, cursor, has_next):
    assert ig.page_info(capture(name)) == (cursor, has_next)


def test_page_info_on_the_last_page():
    data = json.loads(capture(USER_MEDIAS))
    data["data"]["user"]["edge_owner_to_timeline_media"]["page_info"] = {
        "has_next_page": False, "end_cursor": None,
    }
    assert ig.page_info(data) == (None, False)


# --- GraphQL hashtag page (2021) ---------------------------------------------------------

TOP_IDS = [row[0] for row in HASHTAG_TOP_POSTS]
RECENT_IDS = [row[0] for row in HASHTAG_RECENT_POSTS]


def _hashtag_page(**kwargs) -> ig.MediaPage:
    return ig.parse_hashtag_page(json.loads(capture(HASHTAG)), **kwargs)


def _sightings(items: list, listing: str) -> list[HashtagSightingItem]:
    return [i for i in items if isinstance(i, HashtagSightingItem) and i.listing == listing]


@pytest.mark.parametrize(("listing", "ids"), [("top", TOP_IDS), ("recent", RECENT_IDS)])
def test_hashtag_sightings_in_listing_order(listing, ids):
    sightings = _sightings(_hashtag_page().items, listing)
    assert [(s.position, s.post_id) for s in sightings] == list(enumerate(ids))


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("platform", {"instagram"}),
        ("hashtag", {"paris"}),
        ("author_handle", {None}),  # the nodes carry only owner.id
        ("seen_at", {FETCHED_AT}),
        ("source_url", {ig.HASHTAG_URL.format("paris")}),
    ],
)
def test_hashtag_sighting_fields(field, expected):
    page = _hashtag_page(url=ig.HASHTAG_URL.format("paris"), fetched_at=FETCHED_AT)
    sightings = [i for i in page.items if isinstance(i, HashtagSightingItem)]
    assert {getattr(s, field) for s in sightings} == expected


def test_hashtag_posts_are_listed_once_each():
    posts = [i for i in _hashtag_page().items if isinstance(i, PostItem)]
    assert [p.post_id for p in posts] == TOP_IDS + RECENT_IDS


@pytest.mark.parametrize(
    ("attribute", "expected"),
    [
        ("end_cursor", HASHTAG_CURSOR),
        ("has_next", True),
        ("next_cursor", HASHTAG_CURSOR),
        ("total", 125782874),
    ],
)
def test_hashtag_page_pagination(attribute, expected):
    assert getattr(_hashtag_page(), attribute) == expected


@pytest.mark.parametrize(
    ("post_id", "owner_id"),
    [
        ("2498227529890105019", "220267553"),  # top 1
        ("2498198773647604341", "11570675490"),  # top 9
        ("2498384132684852220", "493212320"),
        ("2498383906234393478", "493212320"),
        ("2498383481217163349", "493212320"),
        ("2488802691787227020", "6047688126"),
    ],
)
def test_hashtag_page_owner_of_post(post_id, owner_id):
    assert _hashtag_page().owner_of[post_id] == owner_id


def test_hashtag_page_asks_for_each_owner_once():
    owners = _hashtag_page().owners
    # 43 posts by 38 accounts; 493212320 posted three of them, the first is CKsCyG1Jyv8.
    assert (len(owners), owners["493212320"]) == (38, "CKsCyG1Jyv8")


def test_hashtag_page_uses_known_handles():
    page = _hashtag_page(handles={"493212320": "Owner_493212320"})
    named = sorted(i.post_id for i in page.items if i.author_handle == "owner_493212320")
    expected = ["2498383481217163349", "2498383906234393478", "2498384132684852220"]
    assert (named, "493212320" in page.owners) == (sorted(expected * 2), False)


def test_assign_authors_fills_posts_and_sightings_of_resolved_owners():
    page = _hashtag_page()
    filled = ig.assign_authors(page.items, page.owner_of, {"493212320": "Owner_493212320"})
    named = [i for i in page.items if i.author_handle == "owner_493212320"]
    assert (filled, len(named)) == (6, 6)  # three posts, three recent sightings


def test_hashtag_page_later_pages_continue_positions():
    page = _hashtag_page(position_offset=34, include_top=False)
    sightings = [i for i in page.items if isinstance(i, HashtagSightingItem)]
    assert [(s.listing, s.position) for s in sightings] == [("recent", n) for n in range(34, 68)]


def test_tag_page_in_shared_data_reads_like_the_graphql_page():
    hashtag = json.loads(capture(HASHTAG))["data"]["hashtag"]
    shared = {"entry_data": {"TagPage": [{"graphql": {"hashtag": hashtag}}]}}
    items = ig.parse_document(json.dumps(shared))
    assert [(i.listing, i.position, i.post_id) for i in items
            if isinstance(i, HashtagSightingItem)] == (
        [("top", n, p) for n, p in enumerate(TOP_IDS)]
        + [("recent", n, p) for n, p in enumerate(RECENT_IDS)]
    )


# --- a post's own JSON: how owner ids become handles -------------------------------------


def _shortcode_media() -> dict:
    """A real timeline node (it carries owner.username) in the ?__a=1 post body's place."""
    data = json.loads(capture(WEB_PROFILE_INFO))
    return data["data"]["user"]["edge_owner_to_timeline_media"]["edges"][0]["node"]


@pytest.mark.parametrize(
    "wrap",
    [
        lambda node: {"graphql": {"shortcode_media": node}},
        lambda node: {"data": {"xdt_shortcode_media": node}},
        lambda node: {"entry_data": {"PostPage": [{"graphql": {"shortcode_media": node}}]}},
    ],
    ids=["__a=1", "xdt", "PostPage"],
)
def test_post_owner_of_a_post_body(wrap):
    assert ig.post_owner(json.dumps(wrap(_shortcode_media()))) == ("1518284433", "robertdowneyjr")


def test_owner_of_post_carries_the_follower_count_when_the_body_has_it():
    node = dict(_shortcode_media())
    node["owner"] = {**node["owner"], "edge_followed_by": {"count": 52979346}}
    assert ig.owner_of_post({"graphql": {"shortcode_media": node}}) == ig.PostOwner(
        "1518284433", "robertdowneyjr", 52979346)
    # the timeline node's owner has no count: resolvable, followers unknown
    assert ig.owner_of_post({"graphql": {"shortcode_media": _shortcode_media()}}).followers is None
    app_body = {"items": [{"pk": 1, "user": {"pk": 222, "username": "Someone",
                                            "follower_count": 1500}}]}
    assert ig.owner_of_post(app_body) == ig.PostOwner("222", "someone", 1500)


def test_post_body_parses_to_a_post_with_its_author():
    [post] = ig.parse_document({"graphql": {"shortcode_media": _shortcode_media()}})
    assert (post.post_id, post.author_handle, post.likes, post.views) == (
        "2837357660084836649", "robertdowneyjr", 2126144, 14062876,
    )


def test_app_media_info_body():
    """Shape of /api/v1/media/{id}/info/ (values made up for this test)."""
    body = {
        "items": [{
            "pk": 111, "id": "111_222", "code": "AbC", "taken_at": 1590428694, "media_type": 2,
            "like_count": 10, "comment_count": 2, "play_count": 99,
            "caption": {"text": "hi #There"}, "user": {"pk": 222, "username": "Someone"},
        }],
        "num_results": 1, "status": "ok",
    }
    [post] = ig.parse_document(body)
    assert (post.post_id, post.author_handle, post.url, post.posted_at, post.likes,
            post.comments, post.views, post.media_type, post.text) == (
        "111", "someone", "https://www.instagram.com/p/AbC/", 1590428694, 10, 2, 99, "video",
        "hi #There",
    )


# --- blocked pages -----------------------------------------------------------------------

LOGIN_PAGE = """<!DOCTYPE html>
<html lang="en" class="no-js not-logged-in client-root"><head>
<title>Login • Instagram</title>
<meta property="og:description" content="Create an account or log in to Instagram - A simple,
 fun &amp; creative way to capture, edit &amp; share photos, videos &amp; messages." />
</head><body><form id="loginForm" method="post" action="/accounts/login/ajax/">
<input name="username" type="text"><input name="password" type="password">
<button type="submit">Log in</button></form></body></html>"""

LOGIN_PAGE_SHARED_DATA = (
    '<html lang="en"><head></head><body><script type="text/javascript">window._sharedData = '
    '{"config": {"viewer": null}, "entry_data": {"LoginAndSignupPage": [{"captcha": {}}]}};'
    "</script></body></html>"
)


@pytest.mark.parametrize(
    ("body", "kwargs", "reason"),
    [
        (LOGIN_PAGE, {}, "login_required"),
        (LOGIN_PAGE_SHARED_DATA, {}, "login_required"),
        (LOGIN_PAGE, {"url": "https://www.instagram.com/accounts/login/?next=/someone/"},
         "login_required"),
        ("", {"headers": {"Location": "https://www.instagram.com/accounts/login/"}},
         "login_required"),
        ("", {"headers": {b"Location": [b"/accounts/login/?next=%2Fsomeone%2F"]}},
         "login_required"),
        ('{"message": "login_required", "logout_reason": 2, "status": "fail"}', {},
         "login_required"),
        ('{"message": "checkpoint_required", "checkpoint_url": "/challenge/123/AbC/", '
         '"lock": false, "status": "fail"}', {}, "checkpoint_required"),
        ('{"message": "challenge_required", "challenge": {"url": "x"}, "status": "fail"}', {},
         "checkpoint_required"),
        ("<html><body>Help us confirm it's you</body></html>",
         {"url": "https://www.instagram.com/challenge/?next=/someone/"}, "checkpoint_required"),
        ('{"message": "Please wait a few minutes before you try again.", "require_login": true,'
         ' "status": "fail"}', {}, "rate_limited"),
        ('{"message": "feedback_required", "spam": true, "status": "fail"}', {},
         "rate_limited"),
    ],
    ids=[
        "login-form", "login-shared-data", "login-url", "login-location-header",
        "login-location-bytes", "login-json", "checkpoint-json", "challenge-json",
        "challenge-url", "rate-limit-json", "feedback-required",
    ],
)
def test_blocked_bodies_raise_with_their_reason(body, kwargs, reason):
    with pytest.raises(BlockedPage) as raised:
        ig.parse_document(body, **kwargs)
    assert raised.value.reason == reason


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("https://www.instagram.com/accounts/login/?next=/someone/", "login_required"),
        ("/accounts/login/", "login_required"),
        ("https://www.instagram.com/challenge/?next=/someone/", "checkpoint_required"),
        ("https://www.instagram.com/someone/", None),
        (None, None),
    ],
)
def test_redirect_block(location, reason):
    blocked = ig.redirect_block(location)
    assert (blocked.reason if blocked else None) == reason


def test_check_blocked_passes_data_and_raises_for_walls():
    assert ig.check_blocked(json.loads(capture(WEB_PROFILE_INFO))) is None
    with pytest.raises(BlockedPage, match="checkpoint_required"):
        ig.check_blocked({"message": "checkpoint_required", "status": "fail"})
    with pytest.raises(UnrecognisedDocument):
        ig.check_blocked({"message": "invalid cursor", "status": "fail"})


def test_real_profile_page_behind_a_login_redirect_is_blocked():
    url = "https://www.instagram.com/accounts/login/?next=/robertdowneyjr/"
    with pytest.raises(BlockedPage, match="login_required"):
        ig.parse_document(capture(PROFILE_HTML), url=url)


def test_checkpoint_detail_names_the_challenge():
    body = '{"message": "checkpoint_required", "checkpoint_url": "/challenge/123/AbC/"}'
    with pytest.raises(BlockedPage) as raised:
        ig.parse_document(body)
    assert raised.value.detail == "/challenge/123/AbC/"


# --- not found and garbage ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ('{"data": {"user": null}, "status": "ok"}', "profile_not_found"),
        ('{"data": {"hashtag": null}, "status": "ok"}', "hashtag_not_found"),
    ],
)
def test_missing_account_or_tag_is_a_rejected_item(body, reason):
    [item] = ig.parse_document(body, url="https://i.instagram.com/x")
    assert (type(item), item.reason, item.platform, item.source_url) == (
        RejectedItem, reason, "instagram", "https://i.instagram.com/x",
    )


def _truncated_capture() -> str:
    return capture(WEB_PROFILE_INFO)[:5000]


@pytest.mark.parametrize(
    "body",
    [
        "",
        "   \n",
        "hello",
        b"\x89PNG\r\n\x1a\n\x00\x00",
        "{}",
        "[]",
        '[{"id": 1}]',
        '{"data": {}}',
        '{"status": "fail", "message": "Sorry, something went wrong"}',
        "<html><body><p>nothing to see</p></body></html>",
        "<html><head><meta property='og:description' content='Just a website'></head></html>",
        '{"statuses": [], "account": {"followers_count": 1}}',
        _truncated_capture,
    ],
    ids=[
        "empty", "blank", "text", "binary", "empty-object", "empty-list", "list", "empty-data",
        "fail-body", "plain-html", "other-og", "other-platform-json", "truncated-json",
    ],
)
def test_garbage_is_unrecognised(body):
    if callable(body):
        body = body()
    with pytest.raises(UnrecognisedDocument):
        ig.parse_document(body)


def test_login_page_description_is_not_read_as_an_empty_profile():
    with pytest.raises(BlockedPage):
        ig.parse_document(LOGIN_PAGE)


# --- constants the spider uses -----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (ig.PROFILE_API.format("robertdowneyjr"),
         "https://i.instagram.com/api/v1/users/web_profile_info/?username=robertdowneyjr"),
        (ig.APP_ID, "936619743392459"),
        (ig.PROFILE_URL.format("robertdowneyjr"), "https://www.instagram.com/robertdowneyjr/"),
    ],
)
def test_constants(value, expected):
    assert value == expected


def test_registry_returns_this_module():
    assert parser_for("instagram") is ig
