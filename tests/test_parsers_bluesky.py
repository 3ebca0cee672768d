"""Bluesky parsers on the real captures in ../shared/realworld/bluesky, plus small hand-made
bodies for shapes those captures do not hold (tag facets, video embeds, verification, errors).

Every expected value below was read from the capture files themselves.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from crawler.items import HashtagSightingItem, PostItem, ProfileItem
from crawler.parsers import BlockedPage, UnrecognisedDocument, parser_for
from crawler.parsers import bluesky as bsky

REALWORLD = Path(__file__).resolve().parents[2] / "shared" / "realworld" / "bluesky"
PROFILE_FILE = "atprotodart_app.bsky.actor.getProfile_shinyakato_2023.json"
AUTHOR_FEED_FILE = "atprotodart_app.bsky.feed.getAuthorFeed_2023.json"
FEED_FILE = "atprotodart_app.bsky.feed.getFeed_tiktok_hashtag_feed_2023.json"
SEARCH_FILE = "atprotodart_app.bsky.feed.searchPosts_partly_edited_2023.json"

SHINYA_DID = "did:plc:iijrtk7ocored6zuziwmqq3c"
AUTHOR_FEED_CURSOR = "1682809172466::bafyreihdpdn7uiqmshzb2y4o67gzy2aeairq6phuk476k2oidhy2p5dbwu"
TIKTOK_FEED_URI = "at://did:plc:example/app.bsky.feed.generator/TikTok"
FETCHED_AT = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)

def raw(name: str) -> bytes:
    path = REALWORLD / name
    if not path.is_file():
        pytest.skip(f"real-world capture {path} not present")
    return path.read_bytes()


def load(name: str) -> dict:
    return json.loads(raw(name))


def post_by_rkey(items: list, rkey: str) -> PostItem:
    (post,) = [i for i in items if isinstance(i, PostItem) and i.post_id.endswith("/" + rkey)]
    return post


def at_uri(did: str, rkey: str) -> str:
    return f"at://{did}/app.bsky.feed.post/{rkey}"


def test_registry_resolves_bluesky_module():
    assert parser_for("bluesky") is bsky


# --- every capture through parse_document (what `microscout parse bluesky FILE` does) ---------


@pytest.mark.parametrize(
    ("name", "profiles", "posts"),
    [(PROFILE_FILE, 1, 0), (AUTHOR_FEED_FILE, 0, 23), (FEED_FILE, 0, 7), (SEARCH_FILE, 0, 1)],
)
def test_parse_document_reads_every_capture(name, profiles, posts):
    items = bsky.parse_document(raw(name))
    assert sum(isinstance(i, ProfileItem) for i in items) == profiles
    assert sum(isinstance(i, PostItem) for i in items) == posts
    assert len(items) == profiles + posts


# --- getProfile -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("platform", "bluesky"),
        ("handle", "shinyakato.dev"),
        ("platform_user_id", SHINYA_DID),
        ("display_name", "Shinya Kato 🤯"),
        ("bio", "Dart/Flutter & atproto enthusiast\nContrib. bluesky-social/atproto\n\n"
                "The author of many OSS packages for Dart/Flutter\n\n"
                "Developing Bluesky related packages 👇\n"
                "https://github.com/myConsciousness/atproto.dart\n\nGitHub: @myConsciousness"),
        ("followers", 4945),
        ("following", 31769),
        ("posts_count", 3358),
        ("profile_url", "https://bsky.app/profile/shinyakato.dev"),
        ("is_verified", None),
        ("external_url", None),
        ("recent_posts", []),
    ],
)
def test_profile_field(field, expected):
    (profile,) = bsky.parse_document(raw(PROFILE_FILE))
    assert getattr(profile, field) == expected


def test_profile_keeps_source_url_and_fetched_at():
    url = bsky.get_profile_url("shinyakato.dev")
    (profile,) = bsky.parse_document(raw(PROFILE_FILE), url=url, fetched_at=FETCHED_AT)
    assert (profile.source_url, profile.fetched_at) == (url, FETCHED_AT)


def test_profile_handle_is_lower_cased():
    profile = bsky.parse_profile({"did": "did:plc:abc", "handle": "Alice.Example.COM"})
    assert profile.handle == "alice.example.com"


def test_profile_with_invalid_handle_uses_did():
    profile = bsky.parse_profile({"did": "did:plc:abc", "handle": "handle.invalid"})
    assert (profile.handle, profile.profile_url) == (
        "did:plc:abc", "https://bsky.app/profile/did:plc:abc")


@pytest.mark.parametrize(
    ("verification", "expected"),
    [
        ({"verifiedStatus": "valid", "trustedVerifierStatus": "none", "verifications": []}, True),
        ({"verifiedStatus": "none", "trustedVerifierStatus": "valid", "verifications": []}, True),
        ({"verifiedStatus": "none", "trustedVerifierStatus": "none", "verifications": []}, False),
        ({"verifiedStatus": "invalid", "trustedVerifierStatus": "none"}, False),
    ],
)
def test_profile_is_verified_from_verification_block(verification, expected):
    body = {"did": "did:plc:abc", "handle": "a.bsky.social", "verification": verification}
    assert bsky.parse_profile(body).is_verified is expected


def test_profile_external_url_from_website():
    body = {"did": "did:plc:abc", "handle": "a.bsky.social", "website": "https://a.example"}
    assert bsky.parse_profile(body).external_url == "https://a.example"


def test_get_profiles_gives_one_item_per_profile():
    body = {"profiles": [load(PROFILE_FILE), {"did": "did:plc:abc", "handle": "b.bsky.social"}]}
    items = bsky.parse_document(json.dumps(body))
    assert [(i.handle, i.followers) for i in items] == [
        ("shinyakato.dev", 4945), ("b.bsky.social", None)]


# --- getAuthorFeed ----------------------------------------------------------------------------


def test_author_feed_excludes_reposts_of_other_accounts():
    posts, _ = bsky.parse_author_feed(load(AUTHOR_FEED_FILE))
    reposted = {at_uri("did:plc:gggcwmwoyak6op4pkqm76ckz", "3jukz62npim26"),
                at_uri("did:plc:7itws64acv3c6dsgab5ky6zn", "3juhed6iawd2h")}
    assert len(posts) == 23
    assert reposted.isdisjoint(p.post_id for p in posts)


def test_author_feed_posts_are_all_the_authors():
    posts, _ = bsky.parse_author_feed(load(AUTHOR_FEED_FILE))
    assert {p.author_handle for p in posts} == {"shinyakato.dev"}
    assert all(p.post_id.startswith(f"at://{SHINYA_DID}/") for p in posts)


def test_author_feed_cursor():
    _, cursor = bsky.parse_author_feed(load(AUTHOR_FEED_FILE))
    assert cursor == AUTHOR_FEED_CURSOR


def test_author_feed_owner_inferred_from_page():
    assert bsky.feed_owner(load(AUTHOR_FEED_FILE)) == SHINYA_DID


@pytest.mark.parametrize("actor", ["ShinyaKato.dev", SHINYA_DID, "@shinyakato.dev"])
def test_author_feed_actor_as_handle_or_did(actor):
    posts, _ = bsky.parse_author_feed(load(AUTHOR_FEED_FILE), actor=actor)
    assert len(posts) == 23


def test_author_feed_actor_read_from_request_url():
    url = bsky.get_author_feed_url("someone.else.example")
    posts, _ = bsky.parse_author_feed(load(AUTHOR_FEED_FILE), url=url)
    assert posts == []


@pytest.mark.parametrize(
    ("rkey", "likes", "comments", "shares", "posted_at", "media_type", "text"),
    [
        ("3jukoxegkhw2s", 44, 3, 2, "2023-04-30T03:23:25.000Z", "image", "A treasure trove! 🐩"),
        ("3jukdwsblqu2l", 76, 0, 50, "2023-04-30T00:06:14.838Z", "link", None),
        ("3jukamqbf2c2q", 25, 5, 3, "2023-04-29T23:06:55.842Z", "text", None),
        ("3jukterj4bp2j", 1, 0, 0, "2023-04-30T04:42:29.589Z", "text", "Thx, yes he is! 😆"),
        ("3jukefhnx7e2e", 9, 1, 1, "2023-04-30T00:14:27.019Z", "text",
         "単純にイーロンマスクが嫌いだからここに集まってる人が多い印象です"),
    ],
)
def test_author_feed_post_values(rkey, likes, comments, shares, posted_at, media_type, text):
    posts, _ = bsky.parse_author_feed(load(AUTHOR_FEED_FILE))
    post = post_by_rkey(posts, rkey)
    assert (post.likes, post.comments, post.shares, post.posted_at, post.media_type) == (
        likes, comments, shares, posted_at, media_type)
    assert post.views is None
    if text is not None:
        assert post.text == text


def test_post_url_uses_handle_and_rkey():
    posts, _ = bsky.parse_author_feed(load(AUTHOR_FEED_FILE))
    assert post_by_rkey(posts, "3jukoxegkhw2s").url == (
        "https://bsky.app/profile/shinyakato.dev/post/3jukoxegkhw2s")


@pytest.mark.parametrize(
    ("rkey", "mentions"),
    [("3jukf53n6ba25", ["amir.blue"]), ("3jukeul2zub2x", ["xychelsea.tv"]),
     ("3jukoxegkhw2s", [])],
)
def test_author_feed_mentions_resolved_from_facet_spans(rkey, mentions):
    posts, _ = bsky.parse_author_feed(load(AUTHOR_FEED_FILE))
    assert post_by_rkey(posts, rkey).mentions == mentions


def test_reposted_post_parsed_on_its_own_keeps_its_author_and_counts():
    entry = load(AUTHOR_FEED_FILE)["feed"][0]
    post = bsky.parse_post(entry["post"])
    assert (post.author_handle, post.likes, post.comments, post.shares) == (
        "christopherpmoore.xyz", 100, 6, 8)
    assert post.mentions == ["rose.bsky.team", "jay.bsky.team"]


def test_author_feed_cursor_equal_to_request_cursor_ends_pagination():
    url = bsky.get_author_feed_url(SHINYA_DID, cursor=AUTHOR_FEED_CURSOR)
    assert bsky.next_cursor(load(AUTHOR_FEED_FILE), url=url) is None


def test_author_feed_pinned_post_repeated_is_kept_once():
    data = load(AUTHOR_FEED_FILE)
    own = data["feed"][4]
    pinned = {**own, "reason": {"$type": "app.bsky.feed.defs#reasonPin"}}
    posts, _ = bsky.parse_author_feed({"feed": [pinned, *data["feed"]]}, actor=SHINYA_DID)
    assert len(posts) == 23


# --- getFeed (custom feed) --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rkey", "handle", "likes", "comments", "shares", "posted_at", "media_type"),
    [
        ("3jwawk6knxd2v", "shehackspurple.bsky.social", 0, 0, 0, "2023-05-21T17:03:00.638Z",
         "image"),
        ("3jvzzzmc7yc2l", "blu.sk", 0, 0, 0, "2023-05-18T23:16:39.283Z", "text"),
        ("3jvxgnor2z224", "anonopsunited.bsky.social", 3, 1, 3, "2023-05-17T22:24:38.615Z",
         "text"),
        ("3jvxfza4oes2g", "drink2mny.bsky.social", 0, 0, 0, "2023-05-17T22:13:12.198Z", "link"),
        ("3jvt4xc24wk2o", "jacobincambodia.bsky.social", 0, 0, 0, "2023-05-16T05:20:24.416Z",
         "link"),
    ],
)
def test_feed_post_values(rkey, handle, likes, comments, shares, posted_at, media_type):
    post = post_by_rkey(bsky.parse_document(raw(FEED_FILE)), rkey)
    assert (post.author_handle, post.likes, post.comments, post.shares, post.posted_at,
            post.media_type) == (handle, likes, comments, shares, posted_at, media_type)


def test_feed_link_facets_and_undotted_at_words_are_not_mentions():
    post = post_by_rkey(bsky.parse_document(raw(FEED_FILE)), "3jwawk6knxd2v")
    assert post.mentions == []  # "@shehackspurple" is no handle; InfoSec.exchange is a link


def test_feed_without_url_gives_posts_only():
    items = bsky.parse_document(raw(FEED_FILE))
    assert all(isinstance(i, PostItem) for i in items)


def test_feed_with_url_gives_a_sighting_per_post():
    url = bsky.get_feed_url(TIKTOK_FEED_URI)
    items = bsky.parse_document(raw(FEED_FILE), url=url, fetched_at=FETCHED_AT)
    sightings = [i for i in items if isinstance(i, HashtagSightingItem)]
    assert [(s.hashtag, s.listing, s.position) for s in sightings] == [
        ("tiktok", "feed", n) for n in range(7)]
    assert [s.post_id for s in sightings] == [i.post_id for i in items if isinstance(i, PostItem)]


def test_feed_sighting_fields():
    url = bsky.get_feed_url(TIKTOK_FEED_URI)
    items, _ = bsky.parse_feed(load(FEED_FILE), url=url, fetched_at=FETCHED_AT)
    assert items[1] == HashtagSightingItem(
        platform="bluesky", hashtag="tiktok",
        post_id=at_uri("did:plc:uuapzflmtlqfioxofqjld3z2", "3jwawk6knxd2v"),
        author_handle="shehackspurple.bsky.social", position=0, listing="feed",
        seen_at=FETCHED_AT, source_url=url)


def test_feed_without_cursor_ends():
    assert bsky.parse_feed(load(FEED_FILE))[1] is None


@pytest.mark.parametrize(
    ("rkey", "hashtags"),
    [
        ("3jwawk6knxd2v", ["bluesky", "mastadon", "youtube", "tiktok", "instagram"]),
        ("3jvzzzmc7yc2l", ["tiktok"]),
        ("3jvxgnor2z224", ["montana", "tiktok"]),
        ("3jvxfza4oes2g", ["tiktok"]),
        ("3jvtyuyugc32j", ["bytedance", "tiktok", "securityaffairs"]),
        ("3jvtu2opkd32j", ["tiktok"]),
        ("3jvt4xc24wk2o", ["parenting", "tiktok"]),
    ],
)
def test_feed_in_text_hashtags(rkey, hashtags):
    assert post_by_rkey(bsky.parse_document(raw(FEED_FILE)), rkey).hashtags == hashtags


# --- searchPosts (the partly hand-made capture) ------------------------------------------------


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("post_id", at_uri("did:plc:d3zpokjdspr22chfrc427eis", "3ju4p6u2i3a2g")),
        ("author_handle", "luy.gay"),
        ("url", "https://bsky.app/profile/luy.gay/post/3ju4p6u2i3a2g"),
        ("posted_at", "2023-04-24T13:50:19.672Z"),
        ("likes", 7),
        ("comments", 8),
        ("shares", 0),
        ("views", None),
        ("media_type", "text"),  # "embed": null
        ("hashtags", []),
        ("mentions", []),
    ],
)
def test_search_post_field(field, expected):
    (post,) = bsky.parse_document(raw(SEARCH_FILE))
    assert getattr(post, field) == expected


def test_search_fake_cursor_ends_pagination():
    data = load(SEARCH_FILE)
    assert data["cursor"] == "xxxxxxx"
    assert bsky.next_cursor(data) is None


@pytest.mark.parametrize(("sort", "listing"), [("latest", "recent"), ("top", "top")])
def test_search_sighting_listing_from_sort(sort, listing):
    url = bsky.search_posts_url("Fone", sort=sort)
    items, cursor = bsky.parse_search_posts(load(SEARCH_FILE), url=url, fetched_at=FETCHED_AT)
    post, sighting = items
    assert sighting == HashtagSightingItem(
        platform="bluesky", hashtag="fone", post_id=post.post_id, author_handle="luy.gay",
        position=0, listing=listing, seen_at=FETCHED_AT, source_url=url)
    assert cursor is None


def test_search_position_continues_from_offset_cursor():
    url = bsky.search_posts_url("fone", cursor="25")
    items, _ = bsky.parse_search_posts(load(SEARCH_FILE), url=url)
    assert items[1].position == 25


def test_feed_positions_continue_from_start_position():
    items, _ = bsky.parse_feed(load(FEED_FILE), url=bsky.get_feed_url(TIKTOK_FEED_URI, cursor="c"),
                               start_position=30)
    assert [i.position for i in items if isinstance(i, HashtagSightingItem)] == list(range(30, 37))


@pytest.mark.parametrize(
    ("query", "hashtag"),
    [("q=%23Vegan", "vegan"), ("q=vegan", "vegan"), ("q=vegan+food", None),
     ("q=vegan+food&tag=PlantBased", "plantbased"), ("", None)],
)
def test_search_hashtag_from_request(query, hashtag):
    url = f"{bsky.PUBLIC_APPVIEW}/xrpc/{bsky.SEARCH_POSTS}?{query}"
    assert bsky.search_hashtag(bsky._request(url)[1]) == hashtag


# --- next_cursor ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "url", "expected"),
    [
        ({"feed": [{}]}, None, None),
        ({"feed": [{}], "cursor": ""}, None, None),
        ({"feed": [{}], "cursor": "   "}, None, None),
        ({"feed": [{}], "cursor": None}, None, None),
        ({"posts": [{}], "cursor": "xxxxxxx"}, None, None),
        ({"posts": [{}], "cursor": "25"}, None, "25"),
        ({"posts": [{}], "cursor": "100"}, None, "100"),
        ({"posts": [], "cursor": "25"}, None, None),
        ({"feed": [{}], "cursor": "1682809172466::bafy"}, None, "1682809172466::bafy"),
        ({"feed": [{}], "cursor": "1682809172466::bafy"},
         "https://public.api.bsky.app/xrpc/app.bsky.feed.getFeed?cursor=1682809172466%3A%3Abafy",
         None),
        ([], None, None),
    ],
)
def test_next_cursor(body, url, expected):
    assert bsky.next_cursor(body, url=url) == expected


# --- post details not in the captures ---------------------------------------------------------


def tag_facet(start: int, end: int, tag: str) -> dict:
    return {"index": {"byteStart": start, "byteEnd": end},
            "features": [{"$type": bsky.FACET_TAG, "tag": tag}]}


def post_view(record: dict, embed: dict | None = None) -> dict:
    return {"uri": at_uri("did:plc:abc", "3kabc"), "record": record, "embed": embed,
            "author": {"did": "did:plc:abc", "handle": "Vegan.Cook.bsky.social"},
            "likeCount": 5, "replyCount": 2, "repostCount": 1, "quoteCount": 4}


def test_hashtags_from_tag_facets_and_record_tags():
    record = {"text": "hello #Vegan world", "facets": [tag_facet(6, 12, "Vegan")],
              "tags": ["PlantBased", "vegan"]}
    assert bsky.parse_post(post_view(record)).hashtags == ["vegan", "plantbased"]


def test_hashtags_merge_in_text_ones_after_facets():
    record = {"text": "hello #Vegan and #Food", "facets": [tag_facet(6, 12, "Vegan")],
              "tags": ["PlantBased"]}
    assert bsky.parse_post(post_view(record)).hashtags == ["vegan", "plantbased", "food"]


def test_quote_count_is_not_added_to_shares():
    post = bsky.parse_post(post_view({"text": "x"}))
    assert (post.likes, post.comments, post.shares) == (5, 2, 1)


def test_post_author_handle_lower_cased():
    post = bsky.parse_post(post_view({"text": "x"}))
    assert (post.author_handle, post.url) == (
        "vegan.cook.bsky.social", "https://bsky.app/profile/vegan.cook.bsky.social/post/3kabc")


def test_mention_facet_without_handle_span_falls_back_to_did():
    record = {"text": "thanks!", "facets": [{"index": {"byteStart": 0, "byteEnd": 6},
              "features": [{"$type": bsky.FACET_MENTION, "did": "did:plc:zzz"}]}]}
    assert bsky.parse_post(post_view(record)).mentions == ["did:plc:zzz"]


def test_text_mention_without_facet_is_kept():
    record = {"text": "cc @Alice.Example.com, mail bob@example.com"}
    assert bsky.parse_post(post_view(record)).mentions == ["alice.example.com"]


@pytest.mark.parametrize(
    ("embed", "expected"),
    [
        (None, "text"),
        ({"$type": "app.bsky.embed.images#view", "images": []}, "image"),
        ({"$type": "app.bsky.embed.images", "images": []}, "image"),
        ({"$type": "app.bsky.embed.video#view", "playlist": "x.m3u8"}, "video"),
        ({"$type": "app.bsky.embed.external#view", "external": {}}, "link"),
        ({"$type": "app.bsky.embed.record#view", "record": {}}, "quote"),
        ({"$type": "app.bsky.embed.recordWithMedia#view", "record": {},
          "media": {"$type": "app.bsky.embed.video#view"}}, "video"),
        ({"$type": "app.bsky.embed.somethingNew#view"}, None),
    ],
)
def test_media_type_from_embed(embed, expected):
    assert bsky.parse_post(post_view({"text": "x"}, embed)).media_type == expected


# --- URL builders -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (bsky.get_profile_url("shinyakato.dev"),
         "https://public.api.bsky.app/xrpc/app.bsky.actor.getProfile?actor=shinyakato.dev"),
        (bsky.get_profiles_url(["a.bsky.social", "b.example"]),
         "https://public.api.bsky.app/xrpc/app.bsky.actor.getProfiles"
         "?actors=a.bsky.social&actors=b.example"),
        (bsky.search_posts_url("vegan", sort="top"),
         "https://public.api.bsky.app/xrpc/app.bsky.feed.searchPosts?q=%23vegan&sort=top&limit=25"),
        (bsky.get_author_feed_url(SHINYA_DID, limit=50),
         "https://public.api.bsky.app/xrpc/app.bsky.feed.getAuthorFeed"
         "?actor=did%3Aplc%3Aiijrtk7ocored6zuziwmqq3c&limit=50&filter=posts_no_replies"),
        (bsky.get_feed_url(TIKTOK_FEED_URI, cursor="c1"),
         "https://public.api.bsky.app/xrpc/app.bsky.feed.getFeed?feed=at%3A%2F%2Fdid%3Aplc"
         "%3Aexample%2Fapp.bsky.feed.generator%2FTikTok&limit=30&cursor=c1"),
    ],
)
def test_url_builder(url, expected):
    assert url == expected


@pytest.mark.parametrize("count", [0, 26])
def test_get_profiles_url_refuses_more_than_25_actors(count):
    with pytest.raises(ValueError, match="1 to 25 actors"):
        bsky.get_profiles_url([f"u{i}.bsky.social" for i in range(count)])


def test_get_profiles_urls_batches_by_25():
    urls = bsky.get_profiles_urls(f"u{i}.bsky.social" for i in range(60))
    assert [u.count("actors=") for u in urls] == [25, 25, 10]


# --- errors and garbage -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"error": "AuthRequired", "message": "Authentication Required"}, "auth_required"),
        ({"error": "AuthMissing", "message": "Authentication Required"}, "auth_required"),
        ({"error": "ExpiredToken", "message": "Token has expired"}, "auth_required"),
        ({"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}, "rate_limited"),
        ("<html><head><title>403 Forbidden</title></head><body><h1>403 Forbidden</h1>"
         "Request forbidden by administrative rules.</body></html>", "auth_required"),
    ],
)
def test_error_body_is_blocked_page(body, reason):
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    url = bsky.search_posts_url("vegan")
    with pytest.raises(BlockedPage) as excinfo:
        bsky.parse_document(data, url=url)
    assert excinfo.value.reason == reason


def test_blocked_page_detail_keeps_the_message():
    body = {"error": "AuthMissing", "message": "Authentication Required"}
    with pytest.raises(BlockedPage) as excinfo:
        bsky.parse_document(body)
    assert excinfo.value.detail == "AuthMissing: Authentication Required"


@pytest.mark.parametrize(
    "body",
    [
        b'{"error": "InvalidRequest", "message": "Profile not found"}',
        b"<html><body>Hello</body></html>",
        b"not json at all",
        b"\xff\xfe\x00garbage",
        b"[]",
        b"{}",
        b'{"foo": 1}',
        b'{"feed": "not a list"}',
        b'{"posts": [{"uri": "at://x"}]}',
    ],
)
def test_garbage_is_unrecognised(body):
    with pytest.raises(UnrecognisedDocument):
        bsky.parse_document(body)


def test_body_not_matching_the_url_method_is_unrecognised():
    with pytest.raises(UnrecognisedDocument):
        bsky.parse_document(raw(AUTHOR_FEED_FILE), url=bsky.get_profile_url(SHINYA_DID))
