"""The sandbox's Bluesky App View: shapes against the real captures, paging, identity, auth.

Most tests call :class:`BlueskyApp` in-process (fast); a few go over HTTP to a server in a
thread, for what only the wire shows (POST bodies, the Authorization header, headers).
"""

from __future__ import annotations

import base64
import functools
import http.client
import json
import threading
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from crawler.items import HashtagSightingItem, PostItem, ProfileItem
from crawler.parsers import BlockedPage
from crawler.parsers import bluesky as bsky
from crawler.sandbox import SandboxConfig, World, make_server
from crawler.sandbox.bluesky import (
    APP_PASSWORD,
    FEEDS_HANDLE,
    BlueskyApp,
    Names,
    did_of,
    tid,
)
from crawler.sandbox.common import Request
from crawler.sandbox.vocab import NICHE_NAMES

REALWORLD = Path(__file__).resolve().parents[2] / "shared" / "realworld" / "bluesky"
PROFILE_FILE = "atprotodart_app.bsky.actor.getProfile_shinyakato_2023.json"
AUTHOR_FEED_FILE = "atprotodart_app.bsky.feed.getAuthorFeed_2023.json"
FEED_FILE = "atprotodart_app.bsky.feed.getFeed_tiktok_hashtag_feed_2023.json"
SEARCH_FILE = "atprotodart_app.bsky.feed.searchPosts_partly_edited_2023.json"
ACCOUNTS, SEED = 200, 9
BASE = "http://127.0.0.1:9"
#: What the App View has added since the 2023 captures, and the crawler reads.
POST_ADDED = {"quoteCount"}
RECORD_ADDED = {"langs"}


def capture(name: str) -> dict:
    path = REALWORLD / name
    if not path.is_file():
        pytest.skip(f"real-world capture {path} not present")
    return json.loads(path.read_text(encoding="utf-8"))


@functools.cache
def world() -> World:
    return World(ACCOUNTS, SEED)


@functools.cache
def app(epoch: int = 0, search_auth: str | None = None) -> BlueskyApp:
    return BlueskyApp(world(), rate_limit=3000, handle_epoch=epoch, search_auth=search_auth)


def call(the_app: BlueskyApp, method: str, params=(), *, headers=None, http_method="GET",
         body: bytes | None = None):
    """(status, decoded JSON or raw bytes, headers) of one XRPC call, in-process."""
    pairs = list(params.items()) if isinstance(params, dict) else list(params)
    query = urlencode(pairs)
    target = f"/xrpc/{method}" + (f"?{query}" if query else "")
    request = Request(http_method, f"/xrpc/{method}", dict(reversed([(k, str(v)) for k, v in pairs])),
                      BASE, target)
    response = the_app.handle(request, headers=headers or {}, body=body)
    try:
        value = json.loads(response.body)
    except ValueError:
        value = response.body
    return response.status, value, dict(response.headers)


def ok(the_app, method, params=(), **kwargs):
    status, value, _ = call(the_app, method, params, **kwargs)
    assert status == 200, value
    return value


def busiest_tag() -> str:
    tags = world().tags()
    return max(tags, key=lambda t: (tags[t], t))


def account_with(predicate) -> int:
    return next(i for i in range(ACCOUNTS) if predicate(world().account(i)))


def session(the_app: BlueskyApp, identifier: str = "someone.bsky.social") -> dict:
    return ok(the_app, "com.atproto.server.createSession", http_method="POST",
              headers={"Content-Type": "application/json"},
              body=json.dumps({"identifier": identifier, "password": APP_PASSWORD}).encode())


# --- identity ---------------------------------------------------------------------------------


def test_dids_are_plc_shaped_unique_and_seed_dependent():
    names = app().names
    dids = [names.did(i) for i in range(ACCOUNTS)]
    assert len(set(dids)) == ACCOUNTS
    assert all(len(d) == len("did:plc:") + 24 and d[8:].isalnum() and d == d.lower() for d in dids)
    assert did_of(SEED, 0) != did_of(SEED + 1, 0)


def test_handles_are_bluesky_spellings_with_some_custom_domains():
    names = app().names
    handles = [names.handle(i) for i in range(ACCOUNTS)]
    assert len(set(handles)) == ACCOUNTS
    assert all(h == h.lower() and "_" not in h for h in handles)
    custom = [h for h in handles if not h.endswith(".bsky.social")]
    assert custom
    assert all(h.endswith(".example.com") for h in custom)
    assert 0.03 < len(custom) / ACCOUNTS < 0.2
    index = account_with(lambda a: "_" in a.username and not names.custom_domain(a.index))
    assert names.handle(index) == world().account(index).username.lower().replace("_", "-") + ".bsky.social"


def test_handle_epoch_renames_some_accounts_and_keeps_every_did():
    before, after = app(0).names, app(1).names
    renamed = [i for i in range(ACCOUNTS) if before.handle(i) != after.handle(i)]
    assert 0.1 < len(renamed) / ACCOUNTS < 0.3
    assert all(before.did(i) == after.did(i) for i in range(ACCOUNTS))
    assert all(after.handle(i).endswith("-v1.bsky.social") for i in renamed)
    i = renamed[0]
    # the old handle no longer resolves; the DID and the new handle do
    status, error, _ = call(app(1), "app.bsky.actor.getProfile", {"actor": before.handle(i)})
    assert (status, error) == (400, {"error": "InvalidRequest", "message": "Profile not found"})
    for actor in (before.did(i), after.handle(i), after.handle(i).upper()):
        assert ok(app(1), "app.bsky.actor.getProfile", {"actor": actor})["handle"] == after.handle(i)


def test_tid_is_13_sortable_chars():
    assert tid(0) == "2222222222222"
    assert len(tid(1_790_000_000_000_000, 5)) == 13
    assert tid(1_700_000_000_000_000) < tid(1_700_000_000_000_001)


# --- shapes against the real captures ------------------------------------------------------------


def test_profile_keys_and_order_match_the_capture():
    real = capture(PROFILE_FILE)
    index = account_with(lambda a: a.avatar_key and a.header_key)
    view = ok(app(), "app.bsky.actor.getProfile", {"actor": app().names.did(index)})
    assert list(view) == list(real)
    assert view["viewer"].keys() == real["viewer"].keys()


def test_profile_values_come_from_the_world():
    account = world().account(7)
    (profile,) = bsky.parse_document(ok(app(), "app.bsky.actor.getProfile",
                                        {"actor": app().names.handle(7)}))
    assert isinstance(profile, ProfileItem)
    assert (profile.handle, profile.platform_user_id, profile.display_name, profile.bio) == (
        app().names.handle(7), app().names.did(7), account.display_name, account.note)
    assert (profile.followers, profile.following, profile.posts_count) == (
        account.followers, account.following, account.statuses_count)


def _media_post_with_facets(the_app: BlueskyApp) -> int:
    for i in range(ACCOUNTS):
        for post in world().posts(i):
            if post.tags and any(m.kind == "image" for m in post.media) \
                    and all(m.kind == "image" for m in post.media):
                return post.id_int
    raise AssertionError("no image post with tags")


def test_post_view_keys_match_the_capture_plus_quote_count_and_langs():
    real_entry = next(e for e in capture(AUTHOR_FEED_FILE)["feed"]
                      if "embed" in e["post"] and "facets" in e["post"]["record"])
    real = real_entry["post"]
    view = app().post_view(_media_post_with_facets(app()), BASE)
    assert set(view) == set(real) | POST_ADDED
    assert set(view["record"]) - RECORD_ADDED == set(real["record"])
    assert set(view["author"]) == set(real["author"])
    assert view["embed"]["$type"] == real["embed"]["$type"] == "app.bsky.embed.images#view"
    assert set(view["embed"]["images"][0]) == set(real["embed"]["images"][0])
    assert set(view["record"]["embed"]["images"][0]) == set(real["record"]["embed"]["images"][0])
    assert set(real["record"]["facets"][0]) - {"$type"} == set(view["record"]["facets"][0])


def test_feed_view_and_repost_reason_keys_match_the_capture():
    real_repost = next(e for e in capture(AUTHOR_FEED_FILE)["feed"] if "reason" in e)
    index = next(i for i in range(ACCOUNTS) if app().reposts(i))
    feed = ok(app(), "app.bsky.feed.getAuthorFeed", {"actor": app().names.did(index), "limit": 100})
    repost = next(e for e in feed["feed"] if "reason" in e)
    assert set(repost) == {"post", "reason"}
    assert set(repost["reason"]) == set(real_repost["reason"])
    assert repost["reason"]["$type"] == bsky.REASON_REPOST
    assert repost["reason"]["by"]["did"] == app().names.did(index)
    assert repost["post"]["author"]["did"] != app().names.did(index)
    assert {"post"} == set(next(e for e in feed["feed"] if "reason" not in e))


def test_search_body_keys_match_the_capture():
    real = capture(SEARCH_FILE)
    body = ok(app(), "app.bsky.feed.searchPosts", {"q": "#" + busiest_tag(), "limit": 5})
    assert list(body) == list(real)
    for post in body["posts"]:  # the capture's "embed": null is left out when there is none
        embed = {"embed"} if "embed" in post else set()
        assert set(post) == (set(real["posts"][0]) - {"embed"}) | POST_ADDED | embed


def test_get_feed_body_is_a_list_of_feed_view_posts():
    real = capture(FEED_FILE)
    body = ok(app(), "app.bsky.feed.getFeed", {"feed": app().names.feed_uri("pets"), "limit": 3})
    assert set(body) == set(real) | {"cursor"}
    assert all(set(entry) == {"post"} for entry in body["feed"])


def test_facets_index_utf8_bytes_of_tags_mentions_and_links():
    kinds = set()
    for i in range(60):
        for post in world().posts(i):
            view = app().post_view(post, BASE)
            encoded = view["record"]["text"].encode()
            for facet in view["record"].get("facets", []):
                span = encoded[facet["index"]["byteStart"]:facet["index"]["byteEnd"]].decode()
                (feature,) = facet["features"]
                kinds.add(feature["$type"])
                if feature["$type"] == bsky.FACET_TAG:
                    assert span == "#" + feature["tag"]
                elif feature["$type"] == bsky.FACET_MENTION:
                    assert span == "@" + app().names.handle(app().names.index_of(feature["did"]))
                else:
                    assert span == feature["uri"]
    assert kinds == {bsky.FACET_TAG, bsky.FACET_MENTION, "app.bsky.richtext.facet#link"}


def test_parser_reads_sandbox_posts_like_the_world_has_them():
    post = next(p for p in world().posts(3) if p.tags)
    item = bsky.parse_post(app().post_view(post, BASE))
    assert isinstance(item, PostItem)
    assert item.post_id == app().names.post_uri(post)
    assert (item.likes, item.comments, item.shares) == (post.favourites, post.replies, post.reblogs)
    assert set(post.tags) <= set(item.hashtags)
    assert item.posted_at == post.created_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- paging ------------------------------------------------------------------------------------


def walk(the_app, method, params, key, limit):
    """Follow the cursor to the end; return every entry and the number of pages."""
    entries, cursor, pages = [], None, 0
    while True:
        body = ok(the_app, method, {**params, "limit": limit, **({"cursor": cursor} if cursor else {})})
        pages += 1
        entries += body[key]
        cursor = body.get("cursor")
        if not cursor:
            return entries, pages
        assert pages < 200


@pytest.mark.parametrize("sort", ["latest", "top"])
def test_search_cursor_covers_each_tagged_post_once(sort):
    tag = busiest_tag()
    posts, pages = walk(app(), "app.bsky.feed.searchPosts", {"q": f"#{tag}", "sort": sort},
                        "posts", 7)
    uris = [p["uri"] for p in posts]
    expected = {app().names.post_uri(pid) for pid in world().tag_post_ids(tag)}
    assert len(uris) == len(set(uris)) == len(expected)
    assert set(uris) == expected
    assert pages == -(-len(expected) // 7)
    if sort == "latest":
        times = [p["record"]["createdAt"] for p in posts]
        assert times == sorted(times, reverse=True)
    else:
        scores = [p["likeCount"] + 2 * p["repostCount"] + p["replyCount"] for p in posts]
        assert scores == sorted(scores, reverse=True)


def test_search_matches_every_term_and_reports_hits_total():
    tag = busiest_tag()
    one = ok(app(), "app.bsky.feed.searchPosts", {"q": tag, "limit": 1})
    assert one["hitsTotal"] == len(world().tag_post_ids(tag))
    assert one["cursor"] == "1"
    both = ok(app(), "app.bsky.feed.searchPosts", [("q", f"#{tag}"), ("tag", "caturday")])
    expected = set(world().tag_post_ids(tag)) & set(world().tag_post_ids("caturday"))
    assert both["hitsTotal"] == len(expected)
    assert ok(app(), "app.bsky.feed.searchPosts", {"q": "#nosuchtag"}) == {"posts": [], "hitsTotal": 0}


def test_author_feed_cursor_covers_posts_and_reposts_once_newest_first():
    index = next(i for i in range(ACCOUNTS) if len(app().reposts(i)) >= 2)
    entries, _ = walk(app(), "app.bsky.feed.getAuthorFeed", {"actor": app().names.did(index)},
                      "feed", 4)
    own = [e["post"]["uri"] for e in entries if "reason" not in e]
    assert own == [app().names.post_uri(p) for p in world().posts(index)]
    reposted = [e for e in entries if "reason" in e]
    assert len(reposted) == len(app().reposts(index))
    times = [e["reason"]["indexedAt"] if "reason" in e else e["post"]["record"]["createdAt"]
             for e in entries]
    assert times == sorted(times, reverse=True)
    # the parser keeps the author's own posts only
    posts, _ = bsky.parse_author_feed({"feed": entries}, actor=app().names.did(index))
    assert [p.post_id for p in posts] == own


def test_author_feed_filters():
    index = account_with(lambda a: any(p.media for p in world().posts(a.index))
                         and not all(p.media for p in world().posts(a.index)))
    did = app().names.did(index)
    media = ok(app(), "app.bsky.feed.getAuthorFeed", {"actor": did, "filter": "posts_with_media",
                                                      "limit": 100})["feed"]
    assert [e["post"]["uri"] for e in media] == [
        app().names.post_uri(p) for p in world().posts(index) if p.media]
    status, error, _ = call(app(), "app.bsky.feed.getAuthorFeed", {"actor": did, "filter": "nope"})
    assert (status, error["error"]) == (400, "InvalidRequest")


def test_custom_feed_cursor_covers_the_niche_once():
    niche = "pets"
    entries, _ = walk(app(), "app.bsky.feed.getFeed", {"feed": app().names.feed_uri(niche)}, "feed", 9)
    from crawler.sandbox.vocab import NICHES

    expected = set().union(*(world().tag_post_ids(t) for t in NICHES[niche].hashtags))
    uris = [e["post"]["uri"] for e in entries]
    assert len(uris) == len(set(uris)) == len(expected)
    assert set(uris) == {app().names.post_uri(pid) for pid in expected}


def test_feed_listing_parses_into_sightings_named_after_the_feed():
    uri = app().names.feed_uri("pets")
    url = bsky.get_feed_url(uri, limit=5)
    items = bsky.parse_document(ok(app(), "app.bsky.feed.getFeed", {"feed": uri, "limit": 5}), url=url)
    sightings = [i for i in items if isinstance(i, HashtagSightingItem)]
    assert [(s.hashtag, s.listing, s.position) for s in sightings] == [("pets", "feed", n) for n in range(5)]


def test_suggested_feeds_and_unknown_feed():
    feeds = ok(app(), "app.bsky.feed.getSuggestedFeeds")["feeds"]
    assert [f["uri"] for f in feeds] == [app().names.feed_uri(n) for n in NICHE_NAMES]
    handle_uri = f"at://{FEEDS_HANDLE}/app.bsky.feed.generator/pets"
    assert ok(app(), "app.bsky.feed.getFeed", {"feed": handle_uri, "limit": 1})["feed"]
    status, error, _ = call(app(), "app.bsky.feed.getFeed",
                            {"feed": app().names.feed_uri("nosuchniche")})
    assert (status, error["error"]) == (400, "UnknownFeed")
    assert ok(app(), "com.atproto.identity.resolveHandle", {"handle": FEEDS_HANDLE}) == {
        "did": app().names.feeds_did}


@pytest.mark.parametrize(
    ("params", "message"),
    [({"q": "#x", "limit": 101}, "limit can not be greater than 100"),
     ({"q": "#x", "limit": 0}, "limit can not be less than 1"),
     ({"q": "#x", "cursor": "abc"}, "Malformed cursor"),
     ({"q": "#x", "sort": "best"}, "sort must be one of latest, top"),
     ({}, 'must have the property "q"')],
)
def test_search_bad_parameters_are_invalid_request(params, message):
    status, error, _ = call(app(), "app.bsky.feed.searchPosts", params)
    assert status == 400
    assert error["error"] == "InvalidRequest"
    assert message in error["message"]


# --- getProfiles ---------------------------------------------------------------------------------


def test_get_profiles_takes_25_actors_and_leaves_out_unknown_ones():
    names = app().names
    actors = [names.handle(i) for i in range(24)] + ["nobody.bsky.social"]
    body = ok(app(), "app.bsky.actor.getProfiles", [("actors", a) for a in actors])
    assert [p["handle"] for p in body["profiles"]] == actors[:24]
    assert [p.handle for p in bsky.parse_profiles(body)] == actors[:24]
    status, error, _ = call(app(), "app.bsky.actor.getProfiles",
                            [("actors", names.did(i)) for i in range(26)])
    assert (status, error) == (400, {"error": "InvalidRequest",
                                     "message": "Error: actors must not have more than 25 elements"})


# --- errors, headers, robots ------------------------------------------------------------------------


def test_rate_limit_headers_on_every_xrpc_answer():
    the_app = BlueskyApp(world(), rate_limit=10)
    _, _, first = call(the_app, "app.bsky.actor.getProfile", {"actor": the_app.names.did(0)})
    _, _, error = call(the_app, "app.bsky.actor.getProfile", {"actor": "nobody.bsky.social"})
    assert (first["ratelimit-limit"], first["ratelimit-remaining"]) == ("10", "9")
    assert first["ratelimit-policy"] == "10;w=300"
    assert int(first["ratelimit-reset"]) % 300 == 0
    assert int(first["ratelimit-reset"]) > 1.7e9
    assert error["ratelimit-remaining"] == "8"


def test_injected_429_is_rate_limit_exceeded_with_the_budget_spent():
    response = app().fault_response("429", Request("GET", "/xrpc/x", {}, BASE, "/xrpc/x"))
    headers = dict(response.headers)
    assert (response.status, json.loads(response.body)["error"]) == (429, "RateLimitExceeded")
    assert headers["ratelimit-remaining"] == "0"
    assert int(headers["ratelimit-reset"]) > 1.7e9
    with pytest.raises(BlockedPage) as excinfo:
        bsky.parse_document(response.body)
    assert excinfo.value.reason == "rate_limited"


def test_unknown_method_and_wrong_verb():
    status, error, _ = call(app(), "app.bsky.feed.getTimelineOfEverything")
    assert (status, error["error"]) == (501, "MethodNotImplemented")
    status, error, _ = call(app(), "com.atproto.server.createSession")
    assert (status, error["error"]) == (400, "InvalidRequest")


def test_robots_txt_allows_everything():
    response = app().handle(Request("GET", "/robots.txt", {}, BASE, "/robots.txt"), headers={})
    assert response.status == 200
    assert b"User-agent: *\nAllow: /" in response.body


# --- sessions and the search auth knob ---------------------------------------------------------------


def test_create_session_gives_tokens_and_refuses_a_wrong_password():
    names = app().names
    body = session(app(), names.handle(5))
    assert (body["did"], body["handle"]) == (names.did(5), names.handle(5))
    assert body["accessJwt"].count(".") == 2
    assert body["accessJwt"] != body["refreshJwt"]
    assert session(app(), names.handle(5))["accessJwt"] == body["accessJwt"]  # deterministic
    status, error, _ = call(app(), "com.atproto.server.createSession", http_method="POST",
                            headers={"Content-Type": "application/json"},
                            body=b'{"identifier": "x", "password": "wrong"}')
    assert (status, error["error"]) == (401, "AuthenticationRequired")


def test_search_requiring_auth_answers_401_without_a_session_and_200_with_one():
    the_app = app(0, "401")
    params = {"q": "#" + busiest_tag(), "limit": 2}
    status, error, _ = call(the_app, "app.bsky.feed.searchPosts", params)
    assert (status, error) == (401, {"error": "AuthMissing", "message": "Authentication Required"})
    with pytest.raises(BlockedPage) as excinfo:
        bsky.parse_document(json.dumps(error))
    assert excinfo.value.reason == "auth_required"
    token = session(the_app)["accessJwt"]
    assert ok(the_app, "app.bsky.feed.searchPosts", params,
              headers={"Authorization": f"Bearer {token}"})["posts"]
    assert ok(the_app, "app.bsky.actor.getProfile", {"actor": the_app.names.did(0)})  # still open


def test_search_403_mode_serves_the_cdn_page_the_parser_reads_as_auth_required():
    status, body, _headers = call(app(0, "403"), "app.bsky.feed.searchPosts", {"q": "#x"})
    assert status == 403
    assert isinstance(body, bytes)
    with pytest.raises(BlockedPage) as excinfo:
        bsky.parse_document(body)
    assert excinfo.value.reason == "auth_required"


@pytest.mark.parametrize("authorization", ["Bearer not.a.token", "Basic abc", "Bearer "])
def test_a_bad_token_is_invalid_token(authorization):
    status, error, _ = call(app(), "app.bsky.actor.getProfile", {"actor": app().names.did(0)},
                            headers={"Authorization": authorization})
    assert (status, error["error"]) == (401, "InvalidToken")


def test_refresh_token_is_not_an_access_token_and_refreshes():
    tokens = session(app())
    status, _, _ = call(app(), "app.bsky.actor.getProfile", {"actor": app().names.did(0)},
                        headers={"Authorization": f"Bearer {tokens['refreshJwt']}"})
    assert status == 401
    refreshed = ok(app(), "com.atproto.server.refreshSession", http_method="POST",
                   headers={"Authorization": f"Bearer {tokens['refreshJwt']}"})
    assert refreshed["accessJwt"] == tokens["accessJwt"]
    assert ok(app(), "com.atproto.server.getSession",
              headers={"Authorization": f"Bearer {tokens['accessJwt']}"})["did"] == tokens["did"]


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_token_ttl_expires_access_tokens_and_refresh_session_renews_them():
    clock = Clock()
    the_app = BlueskyApp(world(), token_ttl=60, clock=clock)
    tokens = session(the_app)
    assert (claims(tokens["accessJwt"])["iat"], claims(tokens["accessJwt"])["exp"]) == (
        1_800_000_000, 1_800_000_060)
    assert claims(tokens["refreshJwt"])["exp"] == 1_800_000_000 + 90 * 86_400
    profile = {"actor": the_app.names.did(0)}
    bearer = {"Authorization": f"Bearer {tokens['accessJwt']}"}
    clock.now += 59
    assert ok(the_app, "app.bsky.actor.getProfile", profile, headers=bearer)
    clock.now += 1
    status, error, _ = call(the_app, "app.bsky.actor.getProfile", profile, headers=bearer)
    assert (status, error) == (400, {"error": "ExpiredToken", "message": "Token has expired"})
    with pytest.raises(BlockedPage, match="auth_required"):  # what the spider would record
        bsky.parse_document(json.dumps(error))
    fresh = ok(the_app, "com.atproto.server.refreshSession", http_method="POST",
               headers={"Authorization": f"Bearer {tokens['refreshJwt']}"})
    assert claims(fresh["accessJwt"])["exp"] == clock.now + 60
    assert ok(the_app, "app.bsky.actor.getProfile", profile,
              headers={"Authorization": f"Bearer {fresh['accessJwt']}"})
    clock.now += 90 * 86_400  # the refresh token ends too
    status, error, _ = call(the_app, "com.atproto.server.refreshSession", http_method="POST",
                            headers={"Authorization": f"Bearer {tokens['refreshJwt']}"})
    assert (status, error["error"]) == (400, "ExpiredToken")


def test_without_token_ttl_tokens_never_expire():
    clock = Clock(4_000_000_000.0)  # long after the deterministic tokens' exp
    the_app = BlueskyApp(world(), clock=clock)
    token = session(the_app)["accessJwt"]
    assert token == session(app())["accessJwt"]  # deterministic as before
    assert ok(the_app, "app.bsky.actor.getProfile", {"actor": the_app.names.did(0)},
              headers={"Authorization": f"Bearer {token}"})


def test_token_ttl_knob():
    the_app = BlueskyApp(World(20, 1))
    assert "token_ttl" not in the_app.knob_state()["knobs"]
    the_app.configure({"token_ttl": "30"})
    assert (the_app.token_ttl, the_app.knob_state()["knobs"]["token_ttl"]) == (30, 30)
    config = SandboxConfig(platform="bluesky", knobs={"token_ttl": " 5 "})
    assert BlueskyApp.from_config(World(20, 1), config).token_ttl == 5
    the_app.configure({"token_ttl": "off"})
    assert the_app.token_ttl is None
    the_app.configure({"token_ttl": "30"})
    the_app.configure({"token_ttl": "0"})  # 0 is off, as for the other knobs
    assert the_app.token_ttl is None
    for bad in ("-3", "1.5", "soon"):
        with pytest.raises(ValueError, match=r"^knob token_ttl must be off or whole seconds"):
            the_app.configure({"token_ttl": bad})
    assert the_app.token_ttl is None


@pytest.mark.parametrize(
    ("knobs", "epoch", "search_auth"),
    [({}, 0, None), ({"handle_epoch": "2"}, 2, None), ({"search_auth": "1"}, 0, "401"),
     ({"search_auth": "403", "handle_epoch": " 1 "}, 1, "403"), ({"search_auth": "off"}, 0, None)],
)
def test_knobs_from_the_config(knobs, epoch, search_auth):
    config = SandboxConfig(platform="bluesky", rate_limit=77, knobs=knobs)
    the_app = BlueskyApp.from_config(World(20, 1), config)
    assert (the_app.names.epoch, the_app.search_auth) == (epoch, search_auth)
    assert the_app.rate.limit == 77


@pytest.mark.parametrize("knobs", [{"handle_epoch": "-1"}, {"handle_epoch": "x"},
                                   {"search_auth": "maybe"}, {"epoch": "1"}])
def test_bad_knob_is_an_error(knobs):
    with pytest.raises(ValueError, match=r"knob '?(handle_epoch|search_auth|epoch)"):
        BlueskyApp.from_config(World(20, 1), SandboxConfig(platform="bluesky", knobs=knobs))


def test_knobs_at_run_time_rename_handles_and_change_search_auth():
    the_app = BlueskyApp(World(60, SEED))
    handles = [the_app.names.handle(i) for i in range(60)]
    epoch = next(e for e in range(1, 50) if any(the_app.names.renamed(i, e) for i in range(60)))
    renamed = next(i for i in range(60) if the_app.names.renamed(i, epoch))
    post = the_app.world.posts(renamed)[0]
    uri = the_app.names.post_uri(post)
    before = the_app.post_view(post, BASE)
    the_app.configure({"handle_epoch": str(epoch), "search_auth": "403"})
    assert the_app.knob_state() == {"knobs": {"handle_epoch": epoch, "search_auth": "403"}}
    assert the_app.names.handle(renamed) != handles[renamed]
    assert the_app.names.post_uri(post) == uri  # the DID stays
    assert the_app.post_view(post, BASE) != before  # rendered with the new handle
    with pytest.raises(ValueError, match="search_auth"):
        the_app.configure({"handle_epoch": "0", "search_auth": "maybe"})
    assert the_app.knob_state()["knobs"] == {"handle_epoch": epoch, "search_auth": "403"}


def test_names_refuse_a_negative_epoch():
    with pytest.raises(ValueError, match="negative"):
        Names(World(20, 1), -1)


# --- over HTTP ------------------------------------------------------------------------------------


@contextmanager
def server_in_thread(**config):
    server = make_server(SandboxConfig(**config))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def fetch(base_url: str, method: str, target: str, body: bytes | None = None, headers=None):
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_login_then_search_over_http():
    with server_in_thread(platform="bluesky", accounts=60, seed=SEED,
                          knobs={"search_auth": "401"}) as server:
        base = server.base_url
        search = f"/xrpc/app.bsky.feed.searchPosts?q=%23{busiest_tag()}&limit=3"
        status, headers, _ = fetch(base, "GET", search)
        assert status == 401
        assert headers["ratelimit-remaining"]
        status, _, body = fetch(base, "POST", "/xrpc/com.atproto.server.createSession",
                               json.dumps({"identifier": "me", "password": APP_PASSWORD}).encode(),
                               {"Content-Type": "application/json"})
        assert status == 200
        token = json.loads(body)["accessJwt"]
        status, _, body = fetch(base, "GET", search, headers={"Authorization": f"Bearer {token}"})
        assert status == 200
        assert json.loads(body)["posts"]
        assert server.stats.snapshot()["responses"] == {"200": 2, "401": 1}


def test_server_knobs_endpoint_changes_bluesky_search_auth_at_run_time():
    search = f"/xrpc/app.bsky.feed.searchPosts?q=%23{busiest_tag()}&limit=3"
    with server_in_thread(platform="bluesky", accounts=60, seed=SEED) as server:
        base = server.base_url
        assert fetch(base, "GET", search)[0] == 200
        status, _, body = fetch(base, "GET", "/__platform__/knobs?search_auth=401")
        assert (status, json.loads(body)) == (200, {"knobs": {"handle_epoch": 0,
                                                              "search_auth": "401"}})
        assert fetch(base, "GET", search)[0] == 401
        status, _, body = fetch(base, "POST", "/__platform__/knobs", b"search_auth=off",
                                {"Content-Type": "application/x-www-form-urlencoded"})
        assert (status, json.loads(body)["knobs"]["search_auth"]) == (200, "off")
        assert fetch(base, "GET", search)[0] == 200
        status, _, body = fetch(base, "GET", "/__platform__/knobs?handle_epoch=soon")
        assert status == 400
        assert "handle_epoch" in json.loads(body)["error"]
        assert json.loads(fetch(base, "GET", "/__platform__/knobs")[2])["knobs"] == {
            "handle_epoch": 0, "search_auth": "off"}
        assert server.stats.snapshot()["responses"] == {"200": 2, "401": 1}


def test_other_platforms_still_refuse_post():
    with server_in_thread(platform="bluesky", accounts=20, seed=1):
        pass  # installs the hooks in this process
    with server_in_thread(platform="mastodon", accounts=20, seed=1) as server:
        status, _, body = fetch(server.base_url, "POST", "/api/v1/statuses", b"{}",
                               {"Content-Type": "application/json"})
        assert (status, json.loads(body)) == (405, {"error": "Method not allowed"})
