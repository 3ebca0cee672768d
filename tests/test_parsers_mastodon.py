"""Mastodon/Pixelfed parsers on the real captures in ../shared/realworld/{mastodon,pixelfed}.

The Mastodon captures are vcrpy cassettes recorded by Mastodon.py against a real Mastodon 4.6
server on http://localhost:3000; every recorded response body is parsed. The Pixelfed ones are
live pixelfed.de bodies (public timeline, an account's statuses, a v2 search for "caturday").
Every expected value below was read from the capture files themselves. A few tests build a
variant of a real status (a reblog wrapper, a mention, a link field) for shapes the captures
do not hold; those say so.
"""

from __future__ import annotations

import copy
import functools
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from w3lib.url import url_query_parameter

from crawler.items import HashtagSightingItem, PostItem, ProfileItem, RejectedItem
from crawler.parsers import UnrecognisedDocument, parser_for
from crawler.parsers import mastodon as md

REALWORLD = Path(__file__).resolve().parents[2] / "shared" / "realworld"
MASTODON = REALWORLD / "mastodon"
PIXELFED = REALWORLD / "pixelfed"

ACCOUNT = "mastodonpy_cassette_test_account.yaml"
LOOKUP = "mastodonpy_cassette_test_account_lookup.yaml"
PAGING = "mastodonpy_cassette_test_fetch_next_previous.yaml"
HASHTAG = "mastodonpy_cassette_test_hashtag_tl.yaml"
CASSETTES = (ACCOUNT, LOOKUP, PAGING, HASHTAG)

PF_PUBLIC = "pixeldroid_pixelfed.de_api_v1_timelines_public_2020.json"
PF_STATUSES = "pixeldroid_pixelfed.de_api_v1_accounts_id_statuses_2020.json"
PF_SEARCH = "pixeldroid_pixelfed.de_api_v2_search_caturday_2020.json"
PIXELFED_FILES = (PF_PUBLIC, PF_STATUSES, PF_SEARCH)

# Where SOURCES.md says the Pixelfed bodies were fetched from.
PF_URLS = {
    PF_PUBLIC: "https://pixelfed.de/api/v1/timelines/public",
    PF_STATUSES: "https://pixelfed.de/api/v1/accounts/79574199701737472/statuses",
    PF_SEARCH: "https://pixelfed.de/api/v2/search?type=statuses&q=caturday",
}

TEST_ID = "117020457910412882"  # mastodonpy_test in test_account.yaml
LENNON_ID = "117020565966271181"  # mastodonpy_test in the other cassettes
HOOT_ID = "117020593741189701"
TOOT_IDS = [  # "Toot number 0!" .. "Toot number 9!", as POSTed in test_fetch_next_previous
    "117020580452511285", "117020580459855703", "117020580467310235", "117020580474454464",
    "117020580481736214", "117020580489281910", "117020580496489811", "117020580503743669",
    "117020580511453871", "117020580518794573",
]
FETCHED_AT = datetime(2026, 8, 2, 9, 0, tzinfo=timezone.utc)


def _require(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"real-world capture {path} not present")
    return path


@functools.cache
def _cassette(cassette: str) -> dict:
    return yaml.safe_load(_require(MASTODON / cassette).read_text(encoding="utf-8"))


def interaction(cassette: str, index: int) -> dict:
    return copy.deepcopy(_cassette(cassette)["interactions"][index])


def recorded(cassette: str, index: int) -> tuple[str, str, dict]:
    """(request URI, response body text, response headers) of one recorded interaction."""
    it = interaction(cassette, index)
    return it["request"]["uri"], it["response"]["body"]["string"], it["response"]["headers"]


def parse_recorded(cassette: str, index: int) -> list:
    uri, body, headers = recorded(cassette, index)
    return md.parse_document(body, url=uri, fetched_at=FETCHED_AT, headers=headers)


def pixelfed_text(name: str) -> str:
    return _require(PIXELFED / name).read_text(encoding="utf-8")


def pixelfed_json(name: str):
    return json.loads(pixelfed_text(name))


def parse_pixelfed(name: str, *, with_url: bool = True) -> list:
    url = PF_URLS[name] if with_url else None
    return md.parse_document(pixelfed_text(name), url=url, fetched_at=FETCHED_AT)


def only(items: list, cls: type):
    (item,) = [i for i in items if isinstance(i, cls)]
    return item


def of_type(items: list, cls: type) -> list:
    return [i for i in items if isinstance(i, cls)]


def profile_by_handle(items: list, handle: str) -> ProfileItem:
    (item,) = [i for i in items if isinstance(i, ProfileItem) and i.handle == handle]
    return item


def all_interactions() -> list[tuple[str, int]]:
    cases = []
    for name in CASSETTES:
        if (MASTODON / name).is_file():
            count = len(_cassette(name)["interactions"])
            cases.extend((name, index) for index in range(count))
    return cases or [pytest.param("absent", 0, marks=pytest.mark.skip("captures absent"))]


def test_registry_maps_both_platforms_to_this_module():
    assert parser_for("mastodon") is md
    assert parser_for("pixelfed") is md


# --- every capture through parse_document ------------------------------------------------------


@pytest.mark.parametrize(("cassette", "index"), all_interactions())
def test_every_recorded_body_parses(cassette, index):
    items = parse_recorded(cassette, index)
    assert all(
        isinstance(i, (ProfileItem, PostItem, HashtagSightingItem, RejectedItem)) for i in items
    )


@pytest.mark.parametrize(
    ("cassette", "index", "expected"),
    [
        (ACCOUNT, 0, [ProfileItem]),
        (ACCOUNT, 1, [ProfileItem]),
        (LOOKUP, 0, [ProfileItem]),
        (LOOKUP, 1, [RejectedItem]),
        (LOOKUP, 2, [ProfileItem]),
        (LOOKUP, 3, [ProfileItem]),
        (PAGING, 0, [ProfileItem]),
        *[(PAGING, i, [PostItem]) for i in range(1, 11)],  # POST /statuses
        (PAGING, 11, [ProfileItem]),
        (PAGING, 12, [ProfileItem]),
        (PAGING, 13, [ProfileItem]),
        *[(PAGING, i, [PostItem]) for i in range(14, 24)],  # DELETE /statuses/:id
        (HASHTAG, 0, [PostItem]),
        (HASHTAG, 1, []),  # /api/v2/instance: valid, holds no items
        (HASHTAG, 2, [HashtagSightingItem, ProfileItem]),
        (HASHTAG, 3, [PostItem]),
    ],
)
def test_parse_document_item_kinds_per_recorded_body(cassette, index, expected):
    assert [type(i) for i in parse_recorded(cassette, index)] == expected


@pytest.mark.parametrize(
    ("name", "sightings", "profiles"),
    [(PF_PUBLIC, 0, 3), (PF_STATUSES, 0, 1), (PF_SEARCH, 9, 2)],
)
@pytest.mark.parametrize("with_url", [True, False], ids=["with-url", "no-url"])
def test_parse_document_reads_every_pixelfed_file(name, sightings, profiles, with_url):
    items = parse_pixelfed(name, with_url=with_url)
    assert len(of_type(items, HashtagSightingItem)) == sightings
    assert len(of_type(items, ProfileItem)) == profiles
    assert len(items) == sightings + profiles


# --- accounts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cassette", "index", "user_id", "display_name", "bio", "counts"),
    [
        (ACCOUNT, 0, TEST_ID, None, None, (0, 0, 0)),
        (ACCOUNT, 1, TEST_ID, None, None, (0, 0, 0)),
        (LOOKUP, 0, LENNON_ID, "John Lennon", "I walk funny", (0, 0, 0)),
        (LOOKUP, 2, LENNON_ID, "John Lennon", "I walk funny", (0, 0, 0)),
        (LOOKUP, 3, LENNON_ID, "John Lennon", "I walk funny", (0, 0, 0)),
        (PAGING, 0, LENNON_ID, "John Lennon", "I walk funny", (0, 0, 1)),
    ],
)
def test_mastodon_account_fields(cassette, index, user_id, display_name, bio, counts):
    profile = only(parse_recorded(cassette, index), ProfileItem)
    assert profile.platform == "mastodon"
    assert profile.handle == "mastodonpy_test@localhost"
    assert profile.platform_user_id == user_id
    assert profile.display_name == display_name
    assert profile.bio == bio
    assert (profile.followers, profile.following, profile.posts_count) == counts
    assert profile.profile_url == "http://localhost:3000/@mastodonpy_test"


def test_account_source_url_and_fetched_at_are_passed_through():
    profile = only(parse_recorded(LOOKUP, 2), ProfileItem)
    assert profile.source_url == "http://localhost:3000/api/v1/accounts/lookup?acct=mastodonpy_test"
    assert profile.fetched_at == FETCHED_AT


def test_fields_without_links_give_no_external_url_and_no_verification():
    # LOOKUP #2 has fields bread="toasty." and lasagna="no!!!", both verified_at null.
    profile = only(parse_recorded(LOOKUP, 2), ProfileItem)
    assert profile.external_url is None
    assert profile.is_verified is False
    assert profile.category is None


def test_verified_link_field_gives_external_url_and_verification():
    """Variant of the real lookup body: Mastodon's HTML for a verified link field."""
    _, body, _ = recorded(LOOKUP, 2)
    account = json.loads(body)
    account["fields"] = [
        {"name": "bread", "value": "toasty.", "verified_at": None},
        {
            "name": "site",
            "value": '<a href="https://example.com/lennon" target="_blank" rel="nofollow noopener'
            ' me" translate="no"><span class="invisible">https://</span><span class="">'
            'example.com/lennon</span><span class="invisible"></span></a>',
            "verified_at": "2026-08-01T14:00:00.000+00:00",
        },
    ]
    profile = md.parse_account(account)
    assert profile.external_url == "https://example.com/lennon"
    assert profile.is_verified is True


def test_lookup_with_full_acct_gives_the_same_handle_as_the_local_lookup():
    local = only(parse_recorded(LOOKUP, 2), ProfileItem)
    full = only(parse_recorded(LOOKUP, 3), ProfileItem)
    assert local.handle == full.handle == "mastodonpy_test@localhost"


def test_remote_acct_keeps_its_own_instance():
    _, body, _ = recorded(LOOKUP, 2)
    account = dict(json.loads(body), acct="John@Remote.Example")
    assert md.parse_account(account, instance="localhost:3000").handle == "john@remote.example"


def test_instance_comes_from_url_when_not_given():
    _, body, _ = recorded(ACCOUNT, 1)
    assert md.parse_account(json.loads(body)).handle == "mastodonpy_test@localhost"


def test_record_not_found_becomes_rejected_item():
    rejected = only(parse_recorded(LOOKUP, 1), RejectedItem)
    assert rejected.reason == "not_found"
    assert rejected.detail == "Record not found"
    assert rejected.payload == {"error": "Record not found"}
    assert rejected.source_url == (
        "http://localhost:3000/api/v1/accounts/lookup?acct=kljadklajsdkljlkjlkjlkjasdasd"
    )


# --- statuses ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("number", "index"), [(n, n + 1) for n in range(10)])
def test_posted_status_text_and_id(number, index):
    post = only(parse_recorded(PAGING, index), PostItem)
    assert post.post_id == TOOT_IDS[number]
    assert post.text == f"Toot number {number}!"
    assert post.author_handle == "mastodonpy_test@localhost"
    assert post.url == f"http://localhost:3000/@mastodonpy_test/{TOOT_IDS[number]}"


@pytest.mark.parametrize(("number", "index"), [(n, n + 14) for n in range(10)])
def test_deleted_status_reads_source_text(number, index):
    """DELETE answers with "text" (the source) instead of "content"."""
    post = only(parse_recorded(PAGING, index), PostItem)
    assert post.post_id == TOOT_IDS[number]
    assert post.text == f"Toot number {number}!"


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("platform", "mastodon"),
        ("post_id", HOOT_ID),
        ("author_handle", "mastodonpy_test_2@localhost"),
        ("url", f"http://localhost:3000/@mastodonpy_test_2/{HOOT_ID}"),
        ("posted_at", datetime(2026, 8, 1, 13, 55, 55, 867000, tzinfo=timezone.utc)),
        ("posted_at_precision", "exact"),
        ("text", "#hoot (hashtag toot)"),
        ("hashtags", ["hoot"]),
        ("mentions", []),
        ("likes", 0),
        ("comments", 0),
        ("shares", 0),
        ("views", None),
        ("media_type", "text"),
    ],
)
def test_hoot_status_fields(field, expected):
    post = only(parse_recorded(HASHTAG, 0), PostItem)
    assert getattr(post, field) == expected


def test_hashtag_link_html_becomes_plain_hashtag():
    _, body, _ = recorded(HASHTAG, 0)
    assert md.html_to_text(json.loads(body)["content"]) == "#hoot (hashtag toot)"


def test_account_statuses_page_gives_author_with_recent_posts():
    profile = only(parse_recorded(PAGING, 11), ProfileItem)
    assert profile.handle == "mastodonpy_test@localhost"
    assert profile.platform_user_id == LENNON_ID
    assert profile.posts_count == 11
    assert [p.post_id for p in profile.recent_posts] == TOOT_IDS[9:4:-1]
    assert [p.text for p in profile.recent_posts] == [f"Toot number {n}!" for n in (9, 8, 7, 6, 5)]


@pytest.mark.parametrize(
    ("index", "numbers"),
    [(11, (9, 8, 7, 6, 5)), (12, (4, 3, 2, 1, 0)), (13, (9, 8, 7, 6, 5))],
    ids=["first", "max_id", "min_id"],
)
def test_each_statuses_page_holds_its_five_toots(index, numbers):
    profile = only(parse_recorded(PAGING, index), ProfileItem)
    assert [p.post_id for p in profile.recent_posts] == [TOOT_IDS[n] for n in numbers]


def test_reblog_is_not_one_of_the_authors_posts():
    """Variant of a real page: the first status turned into a boost of a pixelfed.de post."""
    _, body, _ = recorded(PAGING, 11)
    statuses = json.loads(body)
    boosted = pixelfed_json(PF_PUBLIC)[0]
    statuses[0] = dict(statuses[0], id="117020580599999999", content="", reblog=boosted)
    url = f"http://localhost:3000/api/v1/accounts/{LENNON_ID}/statuses?limit=5"
    profile = only(md.parse_document(statuses, url=url), ProfileItem)
    assert profile.handle == "mastodonpy_test@localhost"
    assert [p.post_id for p in profile.recent_posts] == [TOOT_IDS[n] for n in (8, 7, 6, 5)]
    assert [p.post_id for p in md.parse_statuses(statuses)] == [TOOT_IDS[n] for n in (8, 7, 6, 5)]


def test_mentions_are_qualified_handles():
    """Variant of the real hoot status with a local and a remote mention."""
    _, body, _ = recorded(HASHTAG, 0)
    status = json.loads(body)
    status["mentions"] = [
        {"id": "1", "username": "mastodonpy_test", "acct": "mastodonpy_test", "url": "x"},
        {"id": "2", "username": "Gargron", "acct": "Gargron@mastodon.social", "url": "y"},
    ]
    assert md.parse_status(status).mentions == [
        "mastodonpy_test@localhost", "gargron@mastodon.social",
    ]


# --- tag timeline -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("platform", "mastodon"),
        ("hashtag", "hoot"),
        ("post_id", HOOT_ID),
        ("author_handle", "mastodonpy_test_2@localhost"),
        ("position", 0),
        ("listing", "recent"),
        ("seen_at", FETCHED_AT),
        ("source_url", "http://localhost:3000/api/v1/timelines/tag/hoot"),
    ],
)
def test_tag_timeline_sighting(field, expected):
    sighting = only(parse_recorded(HASHTAG, 2), HashtagSightingItem)
    assert getattr(sighting, field) == expected


def test_tag_timeline_author_profile():
    profile = only(parse_recorded(HASHTAG, 2), ProfileItem)
    assert profile.handle == "mastodonpy_test_2@localhost"
    assert profile.platform_user_id == "117020566092212359"
    assert (profile.followers, profile.following, profile.posts_count) == (0, 0, 3)
    assert profile.discovered_via == "hoot"
    assert [p.post_id for p in profile.recent_posts] == [HOOT_ID]


def test_sightings_positions_continue_across_pages():
    _, body, _ = recorded(HASHTAG, 2)
    statuses = json.loads(body)
    items = md.sightings(statuses * 3, tag="#Hoot", start_position=40)
    assert [s.position for s in items] == [40, 41, 42]
    assert {s.hashtag for s in items} == {"hoot"}


# --- Link header ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cassette", "index", "next_max_id", "prev_min_id"),
    [
        (HASHTAG, 2, HOOT_ID, HOOT_ID),
        (PAGING, 11, "117020580489281910", "117020580518794573"),
        (PAGING, 12, "117020580452511285", "117020580481736214"),
        (PAGING, 13, "117020580489281910", "117020580518794573"),
    ],
)
def test_link_header_next_max_id_and_prev_min_id(cassette, index, next_max_id, prev_min_id):
    _, _, headers = recorded(cassette, index)
    links = md.parse_link_header(headers["link"])
    assert set(links) == {"next", "prev"}
    assert url_query_parameter(links["next"], "max_id") == next_max_id
    assert url_query_parameter(links["prev"], "min_id") == prev_min_id


def test_link_header_full_urls():
    _, _, headers = recorded(HASHTAG, 2)
    assert md.parse_link_header(headers["link"][0]) == {
        "next": f"http://localhost:3000/api/v1/timelines/tag/hoot?max_id={HOOT_ID}",
        "prev": f"http://localhost:3000/api/v1/timelines/tag/hoot?min_id={HOOT_ID}",
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, {}),
        ("", {}),
        ("garbage", {}),
        (b'<https://a.example/x?max_id=1>; rel="next"', {"next": "https://a.example/x?max_id=1"}),
        ("<https://a.example/x>; rel=next", {"next": "https://a.example/x"}),
        ("<https://a.example/1>; rel=\"next last\"",
         {"next": "https://a.example/1", "last": "https://a.example/1"}),
    ],
)
def test_link_header_edge_cases(value, expected):
    assert md.parse_link_header(value) == expected


# --- Pixelfed ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("handle", "user_id", "display_name", "counts", "bio"),
    [
        ("miike@pixelfed.de", "115114166443970560", "Miike Duart", (14, 0, 71), None),
        ("stephan@pixelfed.de", "908", "Stephan", (136, 25, 136),
         "Musician, software developer & hobby photographer."),
        ("fegrimaldi@pixelfed.de", "137257212828585984", "Fernanda Grimaldi", (2, 7, 2),
         "a little piece of Bahia in the fediverse."),
    ],
)
def test_pixelfed_public_timeline_authors(handle, user_id, display_name, counts, bio):
    profile = profile_by_handle(parse_pixelfed(PF_PUBLIC), handle)
    assert profile.platform == "pixelfed"
    assert profile.platform_user_id == user_id
    assert profile.display_name == display_name
    assert (profile.followers, profile.following, profile.posts_count) == counts
    assert profile.bio == bio


@pytest.mark.parametrize(
    ("post_id", "text", "hashtags", "likes"),
    [
        ("140364967936397312", "Day 8 #rotavicentina #hiking #nature",
         ["hiking", "nature", "rotavicentina"], 0),
        ("140349785193451520", "", [], 2),
        ("140276879742603264",
         "february 2 is the day to give flowers to Iemanjá. #salvador #bahia #brazil #iemanja",
         ["salvador", "bahia", "brazil", "iemanja"], 1),
    ],
)
def test_pixelfed_public_timeline_posts(post_id, text, hashtags, likes):
    posts = [p for i in parse_pixelfed(PF_PUBLIC) for p in i.recent_posts]
    (post,) = [p for p in posts if p.post_id == post_id]
    assert post.text == text
    assert post.hashtags == hashtags
    assert post.likes == likes
    assert (post.comments, post.shares) == (0, 0)
    assert post.media_type == "image"
    assert post.platform == "pixelfed"


def test_pixelfed_account_statuses_profile():
    profile = only(parse_pixelfed(PF_STATUSES), ProfileItem)
    assert profile.platform == "pixelfed"
    assert profile.handle == "spaziergaenger@pixelfed.de"
    assert profile.platform_user_id == "79574199701737472"
    assert profile.display_name == "anonymous"
    assert (profile.followers, profile.following, profile.posts_count) == (43, 0, 966)
    assert profile.profile_url == "https://pixelfed.de/Spaziergaenger"


def test_pixelfed_account_statuses_post_ids_and_likes():
    posts = only(parse_pixelfed(PF_STATUSES), ProfileItem).recent_posts
    assert len(posts) == 20
    assert posts[0].post_id == "153848799696130048"
    assert posts[-1].post_id == "151343830426324992"
    assert [p.likes for p in posts] == [1, 1, 0, 0, 0, 4, 2, 3, 4, 3, 2, 4, 1, 2, 1, 1, 1, 4, 2, 1]


def test_pixelfed_br_paragraphs_become_blank_line():
    post = only(parse_pixelfed(PF_STATUSES), ProfileItem).recent_posts[0]
    assert post.text == (
        "2017-05-28 VG Bad-Kreuznach Wandertag\n\n"
        "näher geht es an Neu-Bamberg und den dritten Kontrollpunkt heran"
    )
    assert post.posted_at == datetime(2020, 4, 9, 13, 0, 12, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("post_id", "media_type"),
    [("151795147183624192", "carousel"), ("151794839434956800", "image")],
)
def test_pixelfed_media_type(post_id, media_type):
    posts = only(parse_pixelfed(PF_STATUSES), ProfileItem).recent_posts
    (post,) = [p for p in posts if p.post_id == post_id]
    assert post.media_type == media_type


SEARCH_IDS = [
    "159936348634091520", "159603005711323136", "157763505968254976", "157164321040896000",
    "154909082959089664", "154526434457686016", "152352374571274240", "152057487443496960",
    "131821413018505216",
]


def test_pixelfed_search_sightings():
    seen = of_type(parse_pixelfed(PF_SEARCH), HashtagSightingItem)
    assert [s.post_id for s in seen] == SEARCH_IDS
    assert [s.position for s in seen] == list(range(9))
    assert {s.hashtag for s in seen} == {"caturday"}
    assert {s.listing for s in seen} == {"top"}
    assert [s.author_handle for s in seen] == ["memo@pixelfed.de"] * 8 + ["hendersonb@pixelfed.de"]


def test_pixelfed_search_tag_from_hashtags_when_no_url():
    seen = of_type(parse_pixelfed(PF_SEARCH, with_url=False), HashtagSightingItem)
    assert {s.hashtag for s in seen} == {"caturday"}
    assert len(seen) == 9


@pytest.mark.parametrize(
    ("post_id", "likes", "shares", "comments"),
    [
        ("159936348634091520", 6, 1, 0),
        ("157763505968254976", 7, 1, 1),
        ("154909082959089664", 8, 0, 1),
        ("154526434457686016", 9, 3, 0),
        ("131821413018505216", 3, 0, 0),
    ],
)
def test_pixelfed_search_counts_read_reply_count(post_id, likes, shares, comments):
    posts = [p for i in of_type(parse_pixelfed(PF_SEARCH), ProfileItem) for p in i.recent_posts]
    (post,) = [p for p in posts if p.post_id == post_id]
    assert (post.likes, post.shares, post.comments) == (likes, shares, comments)


@pytest.mark.parametrize(
    ("post_id", "hashtags"),
    [
        ("131821413018505216", ["cats", "caturday"]),
        ("159603005711323136", ["caturday", "smartography", "smartografie", "photography",
                                "fotografie", "foto", "photo", "postprocessed", "mywork",
                                "ownwork", "bauwagen", "memovillage"]),
    ],
)
def test_pixelfed_search_hashtags_come_from_text_when_tags_empty(post_id, hashtags):
    posts = [p for i in of_type(parse_pixelfed(PF_SEARCH), ProfileItem) for p in i.recent_posts]
    (post,) = [p for p in posts if p.post_id == post_id]
    assert post.hashtags == hashtags


def test_pixelfed_search_profiles():
    items = parse_pixelfed(PF_SEARCH)
    memo = profile_by_handle(items, "memo@pixelfed.de")
    henderson = profile_by_handle(items, "hendersonb@pixelfed.de")
    assert (memo.followers, memo.following, memo.posts_count) == (33, 11, 59)
    assert len(memo.recent_posts) == 8
    assert (henderson.followers, henderson.following, henderson.posts_count) == (2, 4, 3)
    assert henderson.external_url == "https://allmylinks.com/hbariani"
    assert {memo.discovered_via, henderson.discovered_via} == {"caturday"}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ((PF_PUBLIC, 0), "pixelfed"),  # account.software == "pixelfed"
        ((PF_STATUSES, 0), "pixelfed"),
        ((PF_SEARCH, 0), "pixelfed"),  # no software key: pf_type, /p/ URL, storage avatar
        ((LOOKUP, 2), "mastodon"),
        ((HASHTAG, 0), "mastodon"),
    ],
)
def test_platform_detection(source, expected):
    name, index = source
    if name.endswith(".json"):
        data = pixelfed_json(name)
        status = (data["statuses"] if isinstance(data, dict) else data)[index]
        assert md.parse_status(status).platform == expected
        assert md.parse_account(status["account"]).platform == expected
    else:
        _, body, _ = recorded(name, index)
        data = json.loads(body)
        assert md.parse_document(data)[0].platform == expected


def test_search_account_without_software_key_is_pixelfed():
    account = pixelfed_json(PF_SEARCH)["statuses"][8]["account"]
    assert "software" not in account
    assert md.parse_account(account).platform == "pixelfed"


def test_instance_hint_says_pixelfed():
    _, body, _ = recorded(LOOKUP, 2)
    assert md.parse_account(json.loads(body), platform="pixelfed").platform == "pixelfed"


# --- HTML to text and odd bodies ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>I walk funny</p>", "I walk funny"),
        ("<p>one</p><p>two<br>three</p>", "one\n\ntwo\nthree"),
        ('<p>see <a href="https://example.com/a/very/long/path"><span class="invisible">https://'
         '</span><span class="ellipsis">example.com/a/very</span><span class="invisible">/long/'
         "path</span></a></p>", "see https://example.com/a/very/long/path"),
        ("Musician, software developer &amp; hobby photographer.",
         "Musician, software developer & hobby photographer."),
        ("", ""),
        (None, ""),
    ],
)
def test_html_to_text(html, text):
    assert md.html_to_text(html) == text


@pytest.mark.parametrize(
    "body",
    [
        '[{"id":"1","account":{"id":"2"',  # truncated
        "<!DOCTYPE html><html><body>Mastodon</body></html>",
        '{"foo": 1}',
        '"just a string"',
        "[1, 2, 3]",
    ],
)
def test_unrecognised_bodies_raise(body):
    with pytest.raises(UnrecognisedDocument):
        md.parse_document(body)


def test_empty_timeline_page_is_no_items():
    assert md.parse_document("[]", url="https://mastodon.social/api/v1/timelines/tag/x") == []


def test_bytes_body_is_accepted():
    _, body, _ = recorded(LOOKUP, 2)
    profile = only(md.parse_document(body.encode("utf-8")), ProfileItem)
    assert profile.display_name == "John Lennon"


def test_parse_document_does_not_mutate_a_decoded_body():
    data = pixelfed_json(PF_SEARCH)
    before = copy.deepcopy(data)
    md.parse_document(data)
    assert data == before


# --- a single status (GET /api/v1/statuses/:id, or saved to a file) ---------------------------
# The POST /api/v1/statuses answers of the PAGING cassette are the same Status document that
# GET /api/v1/statuses/:id returns; read here as if fetched from that URL, or from a saved file.

STATUS_URL = f"http://localhost:3000/api/v1/statuses/{TOOT_IDS[0]}"


def single_status() -> str:
    _, body, _ = recorded(PAGING, 1)  # "Toot number 0!" by mastodonpy_test (John Lennon)
    return body


@pytest.mark.parametrize("url", [STATUS_URL, None], ids=["get-url", "saved-file"])
def test_single_status_yields_its_author_with_the_status_as_recent_post(url):
    items = md.parse_document(single_status(), url=url, fetched_at=FETCHED_AT)
    assert [type(i) for i in items] == [ProfileItem]
    profile = items[0]
    assert profile.handle == "mastodonpy_test@localhost"
    assert profile.platform_user_id == LENNON_ID
    assert profile.display_name == "John Lennon"
    assert profile.bio == "I walk funny"
    # "followers_count":0,"following_count":0,"statuses_count":2 in the status' account
    assert (profile.followers, profile.following, profile.posts_count) == (0, 0, 2)
    assert (profile.source_url, profile.fetched_at) == (url, FETCHED_AT)
    (post,) = profile.recent_posts
    assert (post.post_id, post.text) == (TOOT_IDS[0], "Toot number 0!")
    assert post.author_handle == profile.handle


def test_single_reblog_yields_the_reblogged_author():
    """Variant of the real status: it boosts the #hoot status of mastodonpy_test_2."""
    _, hoot, _ = recorded(HASHTAG, 0)
    status = dict(json.loads(single_status()), reblog=json.loads(hoot), content="")
    profile = only(md.parse_document(status, url=STATUS_URL), ProfileItem)
    assert profile.handle == "mastodonpy_test_2@localhost"
    assert [p.post_id for p in profile.recent_posts] == [HOOT_ID]


def test_deleted_status_is_still_a_post_only():
    """DELETE /statuses/:id answers at the same URL with the source "text": no longer a post."""
    uri, body, _ = recorded(PAGING, 14)
    assert uri == STATUS_URL
    assert [type(i) for i in md.parse_document(body, url=uri)] == [PostItem]


def test_parse_command_reads_a_saved_status_as_its_author(tmp_path, capsys):
    from crawler.cli import main

    saved = tmp_path / "saved-status.json"
    saved.write_text(single_status(), encoding="utf-8")
    assert main(["parse", "mastodon", str(saved)]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    record = json.loads(line)
    assert (record["_type"], record["handle"]) == ("ProfileItem", "mastodonpy_test@localhost")
    assert [p["post_id"] for p in record["recent_posts"]] == [TOOT_IDS[0]]
    assert record["tier"] == "nano"
