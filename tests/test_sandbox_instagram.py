"""The sandbox's Instagram formats: the real captures' shapes, the world's data, walls, knobs.

Shapes are compared key for key with the captures in ../shared/realworld/instagram (read in
place; those tests skip when the folder is absent). Most tests drive the app in-process
(``InstagramApp.handle``); one runs the real server process with knobs from its config, one
changes them at run time through the server's ``/__platform__/knobs``.
"""

from __future__ import annotations

import functools
import http.client
import json
import threading
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit
from urllib.robotparser import RobotFileParser

import pytest

from crawler.items import HashtagSightingItem, ProfileItem
from crawler.parsers import BlockedPage
from crawler.parsers import instagram as ig
from crawler.sandbox.common import Request
from crawler.sandbox.instagram import (
    HASHTAG_QUERY_HASH,
    MAX_FIRST,
    TOP_POSTS,
    USER_MEDIA_QUERY_HASH,
    InstagramApp,
    compact_count,
    media_id_of,
    og_only_of,
    parse_knobs,
    shortcode,
    wall_of,
)
from crawler.sandbox.server import SandboxConfig, SandboxProcess, make_server
from crawler.sandbox.world import World

CAPTURES = Path(__file__).resolve().parents[2] / "shared" / "realworld" / "instagram"
ACCOUNTS, SEED = 300, 42
BASE = "http://127.0.0.1:9"


# --- helpers ---------------------------------------------------------------------------


@functools.cache
def world() -> World:
    return World(ACCOUNTS, SEED)


@functools.cache
def app() -> InstagramApp:
    return InstagramApp(world())


def call(target: str, application: InstagramApp | None = None):
    path, _, query = target.partition("?")
    request = Request("GET", path, dict(reversed(parse_qsl(query, keep_blank_values=True))),
                      BASE, target)
    return (application or app()).handle(request)


def get_json(target: str, application: InstagramApp | None = None) -> dict:
    response = call(target, application)
    assert response.status == 200, (target, response.status, response.body[:200])
    return json.loads(response.body)


def graphql(query_hash: str, **variables) -> str:
    return f"/graphql/query/?query_hash={query_hash}&variables={quote(json.dumps(variables))}"


def capture(name: str):
    path = CAPTURES / name
    if not path.exists():
        pytest.skip(f"real-world capture not available: {path}")
    text = path.read_text(encoding="utf-8")
    return text if name.endswith(".html") else json.loads(text)


def shared_data(html: str) -> dict:
    start = html.index("window._sharedData = ") + len("window._sharedData = ")
    return json.loads(html[start: html.index(";</script>", start)])


def keys_by_type(edges: list) -> dict[str, set]:
    """__typename (plus "video" flag for listings) -> the node's key set (one per type)."""
    out: dict[str, set] = {}
    for edge in edges:
        node = edge["node"]
        kind = node["__typename"]
        assert out.setdefault(kind, set(node)) == set(node), f"{kind} nodes differ"
    return out


@functools.cache
def account_with_every_media_type():
    """An account whose 12 newest posts hold an image, a video and a carousel."""
    for account in world().accounts:
        kinds = {app()._typename(p) for p in app()._newest(account)}
        if kinds >= {"GraphImage", "GraphVideo", "GraphSidecar"}:
            return account
    raise AssertionError("no account with every media type")


@functools.cache
def busy_tag() -> str:
    counts = world().tags()
    return max(counts, key=lambda tag: (counts[tag], tag))


# --- shapes of the real captures -----------------------------------------------------------


def test_web_profile_info_user_has_the_real_keys_in_order():
    real = capture("pgrimaud_web_profile_info_robertdowneyjr_2022.json")
    ours = get_json(f"/api/v1/users/web_profile_info/?username={world().account(3).username}")
    assert list(ours) == list(real) == ["data", "status"]
    assert list(ours["data"]["user"]) == list(real["data"]["user"])
    for key, value in real["data"]["user"].items():
        if value is not None and ours["data"]["user"][key] is not None:
            assert type(ours["data"]["user"][key]) is type(value), key
    for key in ("edge_owner_to_timeline_media", "edge_felix_video_timeline", "edge_saved_media"):
        assert set(ours["data"]["user"][key]) == set(real["data"]["user"][key])


def test_timeline_nodes_have_the_real_keys_per_media_type():
    real = capture("pgrimaud_web_profile_info_robertdowneyjr_2022.json")
    account = account_with_every_media_type()
    ours = get_json(f"/api/v1/users/web_profile_info/?username={account.username}")
    real_keys = keys_by_type(real["data"]["user"]["edge_owner_to_timeline_media"]["edges"])
    our_keys = keys_by_type(ours["data"]["user"]["edge_owner_to_timeline_media"]["edges"])
    assert our_keys == real_keys
    assert set(real_keys) == {"GraphImage", "GraphVideo", "GraphSidecar"}


def test_hashtag_page_has_the_real_keys():
    real = capture("pgrimaud_graphql_hashtag_paris_2021.json")
    ours = get_json(graphql(HASHTAG_QUERY_HASH, tag_name=busy_tag(), first=MAX_FIRST))
    assert list(ours) == list(real)
    real_tag, our_tag = real["data"]["hashtag"], ours["data"]["hashtag"]
    assert list(our_tag) == list(real_tag)
    for key in ("edge_hashtag_to_media", "edge_hashtag_to_top_posts",
                "edge_hashtag_to_content_advisory"):
        assert list(our_tag[key]) == list(real_tag[key]), key
    assert list(our_tag["edge_hashtag_to_media"]["page_info"]) == list(
        real_tag["edge_hashtag_to_media"]["page_info"])

    def listing_keys(edges):  # recent nodes differ by video_view_count / accessibility_caption
        return {frozenset(e["node"]) for e in edges}

    assert listing_keys(our_tag["edge_hashtag_to_media"]["edges"]) == listing_keys(
        real_tag["edge_hashtag_to_media"]["edges"])
    # The capture's top posts are all pictures; a video swaps accessibility_caption for
    # video_view_count there as it does in the recent listing.
    (real_top,) = listing_keys(real_tag["edge_hashtag_to_top_posts"]["edges"])
    video_top = real_top - {"accessibility_caption"} | {"video_view_count"}
    assert listing_keys(our_tag["edge_hashtag_to_top_posts"]["edges"]) <= {real_top, video_top}
    for edge in our_tag["edge_hashtag_to_media"]["edges"]:
        assert set(edge["node"]["owner"]) == {"id"}  # listings name only the owner's id


def test_profile_page_has_the_real_shared_data_shape():
    real = shared_data(capture("pgrimaud_profile_page_html_sharedData_robertdowneyjr_2020.html"))
    account = account_with_every_media_type()
    response = call(f"/{account.username.lower()}/")
    assert (response.status, response.content_type) == (200, "text/html; charset=utf-8")
    ours = shared_data(response.body.decode())
    real_page, our_page = real["entry_data"]["ProfilePage"][0], ours["entry_data"]["ProfilePage"][0]
    assert list(our_page) == list(real_page)
    assert list(our_page["graphql"]["user"]) == list(real_page["graphql"]["user"])
    assert keys_by_type(our_page["graphql"]["user"]["edge_owner_to_timeline_media"]["edges"]) == (
        keys_by_type(real_page["graphql"]["user"]["edge_owner_to_timeline_media"]["edges"]))


def test_user_info_keys_are_the_real_ones():
    real = capture("pgrimaud_api_v1_users_info_robertdowneyjr_2021.json")
    ours = get_json(f"/api/v1/users/{world().account(3).id}/info/")
    assert set(ours) == set(real)
    assert set(ours["user"]) <= set(real["user"])
    for key in ("pk", "username", "follower_count", "following_count", "media_count",
                "biography", "is_verified", "category"):
        assert key in ours["user"]


def test_user_media_page_has_the_real_shape():
    real = capture("pgrimaud_graphql_user_medias_page_2020.json")
    ours = get_json(graphql(USER_MEDIA_QUERY_HASH, id=world().account(3).id, first=12))
    assert list(ours) == list(real)
    assert list(ours["data"]["user"]) == list(real["data"]["user"])
    connection = ours["data"]["user"]["edge_owner_to_timeline_media"]
    assert list(connection) == list(real["data"]["user"]["edge_owner_to_timeline_media"])


# --- the data is the world's -----------------------------------------------------------------


def test_web_profile_info_parses_into_the_worlds_account():
    account = world().account(3)
    target = f"/api/v1/users/web_profile_info/?username={account.username.upper()}"
    (profile,) = ig.parse_document(call(target).body)
    assert (profile.handle, profile.platform_user_id, profile.followers, profile.following,
            profile.posts_count, profile.bio, profile.external_url) == (
        account.username.lower(), account.id, account.followers, account.following,
        account.statuses_count, account.note, account.website)
    newest = world().posts(account)[:12]
    assert [p.post_id for p in profile.recent_posts] == [p.id for p in newest]
    assert [(p.likes, p.comments, p.text) for p in profile.recent_posts] == [
        (p.favourites, p.replies, p.text) for p in newest]
    assert {p.author_handle for p in profile.recent_posts} == {account.username.lower()}


def test_user_media_pages_walk_every_post_once():
    account = world().account(3)
    seen, after = [], None
    for _ in range(50):
        variables = {"id": account.id, "first": 7} | ({"after": after} if after else {})
        page = ig.parse_user_media_page(get_json(graphql(USER_MEDIA_QUERY_HASH, **variables)))
        seen += [p.post_id for p in page.items]
        after = page.next_cursor
        if after is None:
            break
    assert seen == [p.id for p in world().posts(account)]


def test_hashtag_pages_walk_the_recent_listing_newest_first_with_the_same_top_posts():
    tag = busy_tag()
    recent, after, tops = [], None, []
    for _ in range(100):
        variables = {"tag_name": tag, "first": MAX_FIRST} | ({"after": after} if after else {})
        data = get_json(graphql(HASHTAG_QUERY_HASH, **variables))
        page = ig.parse_hashtag_page(data, position_offset=len(recent))
        sightings = [i for i in page.items if isinstance(i, HashtagSightingItem)]
        tops.append([s.post_id for s in sightings if s.listing == "top"])
        recent += [s.post_id for s in sightings if s.listing == "recent"]
        assert page.total == len(world().tag_post_ids(tag))
        after = page.next_cursor
        if after is None:
            break
    assert recent == [p.id for p in world().posts_with_tag(tag)]
    assert all(top == tops[0] for top in tops)
    assert len(tops[0]) == TOP_POSTS
    pool = world().posts_with_tag(tag)[:500]
    best = sorted(pool, key=lambda p: (p.favourites + p.replies, p.id_int), reverse=True)
    assert tops[0] == [p.id for p in best[:TOP_POSTS]]


def test_hashtag_page_size_case_unknown_tags_and_bad_requests():
    tag = busy_tag()
    data = get_json(graphql(HASHTAG_QUERY_HASH, tag_name=tag.upper(), first=500))
    assert len(data["data"]["hashtag"]["edge_hashtag_to_media"]["edges"]) == MAX_FIRST
    assert data["data"]["hashtag"]["name"] == tag
    assert get_json(graphql(HASHTAG_QUERY_HASH, tag_name="nobodyusesthistag", first=5)) == {
        "data": {"hashtag": None}, "status": "ok"}
    [rejected] = ig.parse_document(call(graphql(HASHTAG_QUERY_HASH, tag_name="nobody", first=5)).body)
    assert rejected.reason == "hashtag_not_found"
    for target in (graphql(HASHTAG_QUERY_HASH, tag_name=tag, after="bm90IG91cnM="),
                   graphql("0" * 32, tag_name=tag),
                   graphql(HASHTAG_QUERY_HASH, tag_name=tag, first=0),
                   "/graphql/query/?query_hash=x&variables=%7Bbroken"):
        response = call(target)
        assert response.status == 400
        assert json.loads(response.body)["status"] == "fail"


def test_listing_owners_resolve_through_the_post_json_and_page():
    data = get_json(graphql(HASHTAG_QUERY_HASH, tag_name=busy_tag(), first=20))
    page = ig.parse_hashtag_page(data)
    assert page.owners, "listing nodes name only owner ids"
    for owner_id, code in page.owners.items():
        account = world().account_by_id(owner_id)
        owner = ig.owner_of_post(call(f"/p/{code}/?__a=1&__d=dis").body)
        assert owner == ig.PostOwner(owner_id, account.username.lower(), account.followers)
        assert ig.post_owner(call(f"/p/{code}/").body) == (owner_id, account.username.lower())
    assert call("/p/AAAAAAAAAA/?__a=1&__d=dis").status == 404
    assert call("/p/AAAAAAAAAA/").status == 404


def test_shortcodes_round_trip_and_match_the_real_scheme():
    assert shortcode(2837357660084836649) == "CdgUcJGFxkp"  # a real post id and shortcode
    assert media_id_of("CdgUcJGFxkp") == 2837357660084836649
    assert media_id_of("not*valid") is None
    for post in world().posts(5):
        assert media_id_of(shortcode(post.id)) == int(post.id)


def test_profile_page_og_description_matches_the_account():
    account = world().account(3)
    html = call(f"/{account.username.lower()}/").body.decode()
    og = ig.parse_og_description(
        f"{compact_count(account.followers)} Followers, {compact_count(account.following)} "
        f"Following, {compact_count(account.statuses_count)} Posts - See Instagram photos and "
        f"videos from {account.display_name} (@{account.username.lower()})")
    assert og["handle"] == account.username.lower()
    assert f'content="{compact_count(account.followers)} Followers' in html
    (profile,) = ig.parse_document(html)
    assert (profile.followers, len(profile.recent_posts)) == (account.followers, 12)


@pytest.mark.parametrize(
    ("number", "text"),
    [(0, "0"), (999, "999"), (9_999, "9,999"), (10_000, "10k"), (12_345, "12.3k"),
     (999_999, "999k"), (1_000_000, "1m"), (46_312_345, "46.3m"), (123_456_789, "123m")],
)
def test_compact_count(number, text):
    assert compact_count(number) == text


def test_og_only_pages_leave_shared_data_out():
    knobbed = InstagramApp(world(), og_only=0.5)
    bare = [a for a in world().accounts if og_only_of(SEED, a.username, 0.5)]
    assert 0.35 < len(bare) / ACCOUNTS < 0.65
    account = bare[0]
    html = call(f"/{account.username.lower()}/", knobbed).body.decode()
    assert "_sharedData" not in html
    (profile,) = ig.parse_document(html)
    assert (profile.handle, profile.followers, profile.recent_posts) == (
        account.username.lower(), compact_count(account.followers), [])


def test_profile_page_redirects_and_not_found():
    account = world().account(3)
    response = call(f"/{account.username}")
    assert (response.status, dict(response.headers)["location"]) == (
        301, f"{BASE}/{account.username}/")
    assert call("/nobody_by_this_name/").status == 404
    assert call("/explore/").status == 404
    missing = get_json("/api/v1/users/web_profile_info/?username=nobody_by_this_name")
    assert missing == {"data": {"user": None}, "status": "ok"}
    assert call("/api/v1/users/1/info/").status == 404
    assert call("/api/v1/users/web_profile_info/").status == 400


# --- login walls and checkpoints ---------------------------------------------------------


def test_walls_are_deterministic_per_account_at_the_given_rates():
    walls = Counter(wall_of(SEED, a.username, login_wall=0.2, checkpoint=0.1)
                    for a in world().accounts)
    assert 0.12 < walls["login_required"] / ACCOUNTS < 0.28
    assert 0.04 < walls["checkpoint_required"] / ACCOUNTS < 0.16
    again = Counter(wall_of(SEED, a.username.upper(), login_wall=0.2, checkpoint=0.1)
                    for a in world().accounts)
    assert again == walls
    assert wall_of(SEED, "anyone") is None


def _walled(kind: str, knobbed: InstagramApp):
    return next(a for a in world().accounts if knobbed.wall(a.username) == kind)


def test_login_wall_redirects_every_profile_request_to_the_login_page():
    knobbed = InstagramApp(world(), login_wall=0.3)
    account = _walled("login_required", knobbed)
    for target in (f"/api/v1/users/web_profile_info/?username={account.username}",
                   f"/api/v1/users/{account.id}/info/", f"/{account.username.lower()}/"):
        response = call(target, knobbed)
        location = dict(response.headers)["location"]
        assert (response.status, response.body) == (302, b"")
        assert location == f"{BASE}/accounts/login/?next={quote(target, safe='')}"
        with pytest.raises(BlockedPage) as excinfo:
            ig.parse_document(response.body, headers={"location": location})
        assert excinfo.value.reason == "login_required"
    login = call("/accounts/login/?next=%2Fx%2F", knobbed)
    with pytest.raises(BlockedPage, match="login_required"):
        ig.parse_document(login.body)


def test_checkpoint_answers_json_on_the_api_and_redirects_the_page():
    knobbed = InstagramApp(world(), checkpoint=0.3)
    account = _walled("checkpoint_required", knobbed)
    response = call(f"/api/v1/users/web_profile_info/?username={account.username}", knobbed)
    body = json.loads(response.body)
    assert (response.status, body["message"], body["status"]) == (400, "checkpoint_required",
                                                                  "fail")
    with pytest.raises(BlockedPage, match="checkpoint_required"):
        ig.parse_document(response.body)
    page = call(f"/{account.username.lower()}/", knobbed)
    assert page.status == 302
    assert urlsplit(dict(page.headers)["location"]).path == "/challenge/"
    with pytest.raises(BlockedPage, match="checkpoint_required"):
        ig.parse_document(call("/challenge/?next=x", knobbed).body)


def test_unwalled_accounts_and_post_pages_are_served_normally():
    knobbed = InstagramApp(world(), login_wall=0.5, checkpoint=0.5)
    account = _walled("login_required", knobbed)
    post = world().posts(account)[0]
    assert call(f"/p/{shortcode(post.id)}/?__a=1&__d=dis", knobbed).status == 200
    assert call(graphql(USER_MEDIA_QUERY_HASH, id=account.id, first=3), knobbed).status == 200


# --- knobs, faults, robots.txt, the process ---------------------------------------------------


def test_knobs_parse_and_refuse_bad_values():
    assert parse_knobs("login_wall=0.1, checkpoint=0.05,og_only=1") == {
        "login_wall": 0.1, "checkpoint": 0.05, "og_only": 1.0}
    assert parse_knobs("") == {}
    for spec, message in (("walls=0.1", "bad Instagram sandbox knob"),
                          ("login_wall", "bad Instagram sandbox knob"),
                          ("og_only=x", "bad rate"), ("checkpoint=2", "between 0 and 1"),
                          ("login_wall=0.6,checkpoint=0.6", "more than 1")):
        with pytest.raises(ValueError, match=message):
            parse_knobs(spec)
    made = InstagramApp.from_config(world(), SandboxConfig(platform="instagram",
                                                           knobs={"login_wall": "0.25"}))
    assert (made.login_wall, made.checkpoint, made.og_only) == (0.25, 0.0, 0.0)
    with pytest.raises(ValueError, match=r"^bad rate 'lots' for knob 'og_only'$"):
        InstagramApp.from_config(world(), SandboxConfig(platform="instagram",
                                                        knobs={"og_only": "lots"}))


def test_fault_answers_are_instagrams():
    response = app().fault_response("429", Request("GET", "/x/", {}, BASE))
    assert response.status == 429
    assert dict(response.headers)["retry-after"] == "1"
    with pytest.raises(BlockedPage, match="rate_limited"):
        ig.parse_document(response.body)
    assert app().fault_response("500", Request("GET", "/x/", {}, BASE)).status == 500
    assert app().faultable("/api/v1/users/web_profile_info/")
    assert app().faultable("/graphql/query/")
    assert not app().faultable("/robots.txt")
    assert not app().faultable("/accounts/login/")


def test_robots_txt_lets_the_spider_in_and_keeps_gptbot_out():
    parser = RobotFileParser()
    parser.parse(call("/robots.txt").body.decode().splitlines())
    for path in ("/api/v1/users/web_profile_info/?username=a", "/graphql/query/?query_hash=x",
                 "/p/Abc/?__a=1&__d=dis", "/someone/"):
        assert parser.can_fetch("microscout/0.1", BASE + path), path
        assert not parser.can_fetch("GPTBot", BASE + path)
    assert not parser.can_fetch("microscout/0.1", BASE + "/accounts/login/")


def test_sandbox_process_serves_instagram_with_knobs_from_its_config():
    walled = next(a for a in World(60, 3).accounts
                  if wall_of(3, a.username, login_wall=0.5) == "login_required")
    with SandboxProcess(accounts=60, seed=3, platform="instagram",
                        knobs={"login_wall": 0.5}) as sandbox:
        assert sandbox.health()["platform"] == "instagram"
        parts = urlsplit(sandbox.base_url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        try:
            connection.request("GET", f"/api/v1/users/web_profile_info/?username={walled.username}")
            response = connection.getresponse()
            response.read()
        finally:
            connection.close()
        assert response.status == 302
        assert "/accounts/login/" in response.getheader("location")
        assert sandbox.stats()["responses"] == {"302": 1}


def web_knobs(state: dict) -> dict:
    """The web route's knobs of a knob state (the Graph API's are ``graph_*``)."""
    return {k: v for k, v in state["knobs"].items() if not k.startswith("graph_")}


def test_knobs_configure_check_and_report_their_state():
    knobbed = InstagramApp(world(), checkpoint=0.2)
    knobbed.configure({"login_wall": "0.3"})
    assert web_knobs(knobbed.knob_state()) == {"login_wall": 0.3, "checkpoint": 0.2, "og_only": 0.0}
    for knobs, message in (({"walls": "0.1"}, "^unknown knob 'walls' for the instagram sandbox"),
                           ({"og_only": "x"}, "^bad rate 'x'"),
                           ({"og_only": "0.1", "checkpoint": "0.8"}, "more than 1")):
        with pytest.raises(ValueError, match=message):
            knobbed.configure(knobs)
    assert web_knobs(knobbed.knob_state()) == {"login_wall": 0.3, "checkpoint": 0.2, "og_only": 0.0}


def test_server_knobs_endpoint_changes_instagram_walls_at_run_time():
    walled = next(a for a in world().accounts
                  if wall_of(SEED, a.username, login_wall=0.5) == "login_required")
    target = f"/api/v1/users/web_profile_info/?username={walled.username}"
    server = make_server(SandboxConfig(accounts=ACCOUNTS, seed=SEED, platform="instagram"))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        assert fetch(server.base_url, target)[0] == 200
        status, body = fetch(server.base_url, "/__platform__/knobs?login_wall=0.5")
        assert status == 200
        assert web_knobs(json.loads(body)) == {"login_wall": 0.5, "checkpoint": 0.0, "og_only": 0.0}
        assert fetch(server.base_url, target)[0] == 302
        status, body = fetch(server.base_url, "/__platform__/knobs", method="POST",
                             body=b'{"login_wall": 0, "og_only": 0.25}',
                             headers={"Content-Type": "application/json"})
        assert (status, json.loads(body)["knobs"]["og_only"]) == (200, 0.25)
        assert fetch(server.base_url, target)[0] == 200
        status, body = fetch(server.base_url, "/__platform__/knobs?checkpoint=2")
        assert status == 400
        assert "between 0 and 1" in json.loads(body)["error"]
        status, body = fetch(server.base_url, "/__platform__/knobs?captcha=0.1")
        assert status == 400
        assert json.loads(body)["error"].startswith("unknown knob 'captcha'")
        assert server.stats.snapshot()["requests"] == 3  # the knobs endpoint is not counted
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


def test_every_sandbox_format_is_read_by_the_parsers():
    account = world().account(3)
    post = world().posts(account)[0]
    targets = {
        f"/api/v1/users/web_profile_info/?username={account.username}": ProfileItem,
        f"/api/v1/users/{account.id}/info/": ProfileItem,
        f"/{account.username.lower()}/": ProfileItem,
        graphql(USER_MEDIA_QUERY_HASH, id=account.id, first=5): ig.PostItem,
        graphql(HASHTAG_QUERY_HASH, tag_name=busy_tag(), first=5): HashtagSightingItem,
        f"/p/{shortcode(post.id)}/?__a=1&__d=dis": ig.PostItem,
    }
    for target, kind in targets.items():
        items = ig.parse_document(call(target).body)
        assert any(isinstance(item, kind) for item in items), target
