"""The sandbox's planted creator signals: the ground truth detectors are measured against.

``World.truth(index)`` says which accounts carry bought followers (a spike on a sandbox day),
an engagement pod, mass-follow, a sponsored feed, a contact email, or are one creator's twin
across worlds; ``World.post_sponsored`` / ``post_disclosure`` / ``post_confounder`` say it per
post. These tests check that the data and every platform's formats say what the truth says,
that the rates are what the world promises, and that the confounders are no signal.
"""

from __future__ import annotations

import functools
import json
import re
import urllib.error
import urllib.request
from collections import Counter
from urllib.parse import urlencode

import pytest

from crawler.sandbox import SandboxProcess, World, vocab
from crawler.sandbox.bluesky import BlueskyApp, did_of
from crawler.sandbox.common import KNOBS_PATH, Request
from crawler.sandbox.instagram import HASHTAG_QUERY_HASH, USER_MEDIA_QUERY_HASH, InstagramApp, shortcode
from crawler.sandbox.instagram_graph import is_professional
from crawler.sandbox.mastodon import MastodonApp
from crawler.sandbox.tiktok import TikTokApp
from crawler.sandbox.world import PLANTED_TAGS, Planted
from crawler.sandbox.youtube import YouTubeApp, _floor_sig
from tests.test_sandbox import server_in_thread

BASE = "http://127.0.0.1:9"
DISCLOSURE_TAGS = {t for tags in vocab.DISCLOSURE_HASHTAGS.values() for t in tags}
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


@functools.cache
def world(accounts: int = 2_000, seed: int = 42) -> World:
    return World(accounts, seed)


def exclusive(truth: Planted) -> list[str]:
    return [name for name, on in (("spike", truth.spike_day is not None), ("pod", truth.pod),
                                  ("mass_follow", truth.mass_follow)) if on]


def indexes(w: World, test) -> list[int]:
    return [i for i in range(w.size) if test(w.truth(i))]


def call(app, path: str, query: dict | None = None, headers: dict | None = None):
    target = path + (f"?{urlencode(query)}" if query else "")
    return app.handle(Request("GET", path, dict(query or {}), BASE, target, dict(headers or {})))


def call_json(app, path: str, query: dict | None = None, headers: dict | None = None):
    response = call(app, path, query, headers)
    assert response.status == 200, (path, response.status, response.body[:300])
    return json.loads(response.body)




def http_json(base_url: str, target: str, headers: dict | None = None) -> dict:
    request = urllib.request.Request(base_url + target, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


# --- the truth: determinism and rates -----------------------------------------------------------


def test_truth_is_deterministic_and_drawn_apart_from_the_accounts():
    a, b = World(400, 42), World(400, 42)
    assert [a.truth(i) for i in range(400)] == [b.truth(i) for i in range(400)]
    assert [a.account(i) for i in range(400)] == [b.account(i) for i in range(400)]
    ids = [p.id for i in range(0, 400, 7) for p in a.posts(i)]
    assert [a.post(int(pid)) for pid in ids] == [b.post(int(pid)) for pid in ids]
    assert [a.post_disclosure(pid) for pid in ids] == [b.post_disclosure(pid) for pid in ids]
    other = World(400, 43)
    assert [a.truth(i) for i in range(400)] != [other.truth(i) for i in range(400)]
    with pytest.raises(IndexError):
        a.truth(400)


def test_rates_on_a_2000_account_world():
    w = world()
    n = w.size
    counts = Counter()
    for i in range(n):
        truth = w.truth(i)
        counts["spike"] += truth.spike_day is not None
        counts["pod"] += truth.pod
        counts["mass_follow"] += truth.mass_follow
        counts["sponsored"] += truth.sponsored
        counts["email"] += truth.email is not None
        counts["twin"] += truth.twin is not None
        assert len(exclusive(truth)) <= 1, (i, truth)  # the three never overlap
        assert (truth.spike == 0) == (truth.spike_day is None)
        assert {type(truth.pod), type(truth.mass_follow), type(truth.sponsored)} == {bool}
        assert type(truth.spike) is int
    for name in ("spike", "pod", "mass_follow", "sponsored", "email"):
        assert 0.05 <= counts[name] / n <= 0.08, (name, counts[name] / n)
    assert 0.04 <= counts["twin"] / n <= 0.08
    natural_bios = [i for i in range(n) if w.truth(i).email is None]
    confounded = [i for i in natural_bios if w.bio_confounder(i)]
    assert 0.03 <= len(confounded) / len(natural_bios) <= 0.07


def test_sponsored_feeds_hold_30_to_60_percent_paid_posts_mixing_the_disclosures():
    w = world()
    kinds: Counter[str | None] = Counter()
    natural = confounders = 0
    for i in range(w.size):
        posts = w.posts(i)
        paid = [p for p in posts if w.post_sponsored(p.id)]
        if w.truth(i).sponsored:
            assert 0.3 <= len(paid) / len(posts) <= 0.6, (i, len(paid), len(posts))
        else:
            assert paid == []
        for post in posts:
            assert type(w.post_sponsored(post.id)) is bool
            kinds[w.post_disclosure(post.id)] += 1
            if not w.post_sponsored(post.id):
                natural += 1
                confounders += w.post_confounder(post.id) is not None
    assert {"flag", "hashtag", "phrase", "flag+hashtag"} <= set(kinds)
    assert all(kinds[k] > 0.1 * sum(v for key, v in kinds.items() if key) for k in kinds if k)
    assert 0.02 <= confounders / natural <= 0.04


# --- posts: disclosures, confounders, tags -----------------------------------------------------------


def test_sponsored_posts_disclose_in_the_accounts_language():
    w = world()
    seen: Counter[str] = Counter()
    for i in indexes(w, lambda t: t.sponsored):
        language = w.account(i).language
        for post in w.posts(i):
            how = w.post_disclosure(post.id)
            if how is None:
                assert not DISCLOSURE_TAGS & set(post.tags)
                continue
            brand = w.post_brand(post.id)
            assert brand in vocab.BRANDS
            assert w.post_flagged(post.id) == ("flag" in how)
            if "hashtag" in how:
                tag = post.tags[-1]
                assert tag in vocab.DISCLOSURE_HASHTAGS[language], (language, post.tags)
                assert post.text.endswith(f"#{tag}")
                seen[tag] += 1
            else:
                assert not DISCLOSURE_TAGS & set(post.tags)
            if how == "phrase":
                phrases = [p.format(brand=brand) for p in vocab.DISCLOSURE_PHRASES[language]]
                assert any(p in post.text for p in phrases), post.text
                seen["phrase:" + language] += 1
    assert {"ad", "sponsored", "partner", "publi", "anzeige"} <= set(seen)
    assert {"phrase:en", "phrase:es", "phrase:de"} <= set(seen)


def test_confounders_are_in_natural_posts_only_and_are_no_disclosure():
    w = world()
    found: Counter[str] = Counter()
    for i in range(w.size):
        for post in w.posts(i):
            confounder = w.post_confounder(post.id)
            if confounder is None:
                continue
            assert not w.post_sponsored(post.id)
            assert w.post_disclosure(post.id) is None
            assert w.post_brand(post.id) is None
            assert confounder in post.text
            assert not DISCLOSURE_TAGS & set(post.tags)
            if confounder.startswith("#"):
                assert confounder[1:] in vocab.CONFOUNDER_HASHTAGS
                assert post.tags[-1] == confounder[1:]
                found["hashtag"] += 1
            else:
                assert confounder in vocab.CONFOUNDER_LINES[post.language]
                found[post.language] += 1
    assert found["hashtag"] > 20
    assert found["en"] > 20
    assert {"es", "pt", "fr", "de"} <= set(found)


def test_planted_hashtags_are_in_the_tag_index_like_any_other():
    w = world(600, 7)
    tags = w.tags()
    for tag in PLANTED_TAGS:
        carriers = {p.id_int for i in range(w.size) for p in w.posts(i) if tag in p.tags}
        assert set(w.tag_post_ids(tag)) == carriers, tag
        assert tags.get(tag, 0) == len(carriers)
    assert tags["ad"] > 0
    assert tags["adventure"] > 0
    assert len(w.tag_post_ids("AD")) == tags["ad"]  # case-insensitive, as any tag


def test_bought_followers_and_pods_leave_engagement_as_it_was():
    w = world()
    for i in indexes(w, lambda t: t.spike_day is not None)[:20]:
        engagement = [(p.favourites, p.replies) for p in w.posts(i)]
        w.set_day(4)
        try:
            assert w.account(i).followers == w.followers_at(i, 4) > w.base_followers(i)
            assert [(p.favourites, p.replies) for p in w.posts(i)] == engagement
        finally:
            w.set_day(0)
    pods = indexes(w, lambda t: t.pod)
    checked = 0
    for i in pods:
        factor = w.account(i).engagement / w._engagement[i]
        assert 3.0 <= factor <= 6.0
        posts = w.posts(i)
        favourites = sum(p.favourites for p in posts)
        replies = sum(p.replies for p in posts)
        if favourites + replies >= 300:
            assert 0.34 <= replies / (favourites + replies) <= 0.56, i
            checked += 1
    assert checked >= 20
    natural = [i for i in range(0, w.size, 5) if not w.truth(i).pod]
    for i in natural:
        posts = w.posts(i)
        total = sum(p.favourites + p.replies for p in posts)
        if total >= 300:
            assert 0.04 <= sum(p.replies for p in posts) / total <= 0.16, i


def test_mass_follow_and_the_natural_following_cap():
    w = world()
    for i in range(w.size):
        account, base = w.account(i), w.base_followers(i)
        if w.truth(i).mass_follow:
            assert 1_500 <= account.following <= 7_500
            assert 1.5 <= account.following / base <= 4.0, (i, account.following, base)
        else:
            assert account.following <= max(base, 300)
            if account.following >= 1_000:
                assert account.following < 1.5 * account.followers


def test_follower_history_natural_drift_and_a_spike_on_its_day():
    w = world()
    for i in range(0, w.size, 3):
        base = w.base_followers(i)
        assert w.followers_at(i, 0) == base == w.account(i).followers
        truth = w.truth(i)
        days = [w.followers_at(i, d) for d in range(8)]
        for d in range(1, 8):
            jump = days[d] - days[d - 1]
            if truth.spike_day == d:
                assert 0.2 * base <= jump, (i, days)
            elif base >= 2_000:
                assert abs(jump) <= 0.02 * days[d - 1], (i, d, days)
        if truth.spike_day is not None:
            assert 0.25 * base - 1 <= truth.spike <= 0.8 * base + 1
            assert 1 <= truth.spike_day <= 4
    with pytest.raises(ValueError, match="the day must be a whole number"):
        w.set_day(-1)


# --- bios: emails, confounders, twins --------------------------------------------------------------


def _deobfuscated(text: str) -> str:
    text = re.sub(r" \[at\] ", "@", text)
    text = re.sub(r" \[dot\] ", ".", text)
    return text.replace("(at)", "@")


def test_contact_emails_are_in_the_bio_and_confounders_hold_none():
    w = world()
    styles: Counter[str] = Counter()
    for i in range(w.size):
        account, truth = w.account(i), w.truth(i)
        if truth.email:
            _local, _, domain = truth.email.partition("@")
            assert domain in vocab.EMAIL_DOMAINS
            assert truth.email in EMAIL.findall(_deobfuscated(account.note))
            styles["plain" if truth.email in account.note else "obfuscated"] += 1
        else:
            assert EMAIL.findall(_deobfuscated(account.note)) == [], account.note
            line = w.bio_confounder(i)
            if line:
                assert line in account.note
                styles["confounder:" + ("@" if "@" in line else "none")] += 1
    assert styles["plain"] > 20
    assert styles["obfuscated"] > 20
    assert styles["confounder:@"] > 10
    assert styles["confounder:none"] > 10


def test_twins_share_username_display_name_and_niche_across_seeds():
    a, b = world(), world(2_000, 43)
    twins = indexes(a, lambda t: t.twin is not None)
    assert twins == indexes(b, lambda t: t.twin is not None)
    links = Counter()
    for i in twins:
        x, y = a.account(i), b.account(i)
        assert a.truth(i).twin == b.truth(i).twin
        assert (x.username, x.display_name, x.niche) == (y.username, y.display_name, y.niche)
        assert x.username.count("_") == 2
        assert x.username == a.truth(i).twin.replace("-", "_")
        assert a.account_by_username(x.username) == x
        link = a.twin_link(i)
        links[link] += 1
        site = f"https://{a.truth(i).twin}.example.com"
        assert (x.website == site) == (link == "website") == (y.website == site)
        if link == "bio":
            assert any(line.format(username=x.username) in x.note
                       for line in vocab.TWIN_LINK_LINES)
    assert links["website"] > 10
    assert links["bio"] > 10
    assert links[None] > 20
    # every other username was drawn: at most one "_", never a twin's
    assert all(a.username(i).count("_") <= 1 for i in range(a.size) if i not in set(twins))
    # the natural confounder: a drawn username in both worlds, held by different people
    same = [i for i in range(a.size) if i not in set(twins)
            and b.account_by_username(a.username(i)) is not None]
    assert same
    assert any(b.account_by_username(a.username(i)).display_name != a.account(i).display_name
               for i in same)


# --- every format serves the truth ------------------------------------------------------------------


def _tiktok_profile_stats(app: TikTokApp, username: str) -> dict:
    html = call(app, f"/@{username}").body.decode()
    data = re.search(r'<script id="__UNIVERSAL_DATA_FOR_REHYDRATION__"[^>]*>(.*?)</script>', html,
                     re.S).group(1)
    return json.loads(data)["__DEFAULT_SCOPE__"]["webapp.user-detail"]["userInfo"]["statsV2"]


def served_followers(platform: str, server, index: int) -> int:
    """The follower (subscriber) count the platform's main profile format serves."""
    w, base = server.world, server.base_url
    account = w.account(index)
    if platform == "mastodon":
        return http_json(base, f"/api/v1/accounts/{account.id}")["followers_count"]
    if platform == "bluesky":
        actor = did_of(w.seed, index)
        return http_json(base, f"/xrpc/app.bsky.actor.getProfile?actor={actor}")["followersCount"]
    if platform == "instagram":
        body = http_json(base, f"/api/v1/users/web_profile_info/?username={account.username}")
        info = http_json(base, f"/api/v1/users/{account.id}/info/")
        assert info["user"]["follower_count"] == body["data"]["user"]["edge_followed_by"]["count"]
        return body["data"]["user"]["edge_followed_by"]["count"]
    if platform == "tiktok":
        return int(_tiktok_profile_stats(server.app, account.username)["followerCount"])
    channel = server.app.channel_id(account)
    body = http_json(base, f"/youtube/v3/channels?part=statistics&id={channel}",
                     {"X-Goog-Api-Key": "sandbox-key"})
    return int(body["items"][0]["statistics"]["subscriberCount"])


@pytest.mark.parametrize("platform", ["mastodon", "bluesky", "instagram", "tiktok", "youtube"])
def test_day_knob_moves_every_formats_follower_counts(platform):
    with server_in_thread(platform=platform, accounts=300, seed=42) as server:
        w = server.world
        hidden = getattr(server.app, "hidden_subscribers", lambda account: False)
        spiked = next(i for i in range(w.size) if w.truth(i).spike_day
                      and w.base_followers(i) >= 5_000 and not hidden(w.account(i)))
        day = w.truth(spiked).spike_day
        shown = (lambda n: _floor_sig(n)) if platform == "youtube" else (lambda n: n)
        assert served_followers(platform, server, spiked) == shown(w.base_followers(spiked))
        assert http_json(server.base_url, KNOBS_PATH).get("day") is None  # never set: not shown
        before = http_json(server.base_url, f"{KNOBS_PATH}?day={day - 1}")
        assert before["day"] == day - 1
        ahead = served_followers(platform, server, spiked)
        assert ahead == shown(w.followers_at(spiked, day - 1))
        assert http_json(server.base_url, f"{KNOBS_PATH}?day={day}")["day"] == day
        after = served_followers(platform, server, spiked)
        assert after == shown(w.followers_at(spiked, day))
        assert after - ahead >= 0.2 * w.base_followers(spiked)
        assert http_json(server.base_url, "/__sandbox__/health")["day"] == day
        with pytest.raises(urllib.error.HTTPError) as bad:
            http_json(server.base_url, f"{KNOBS_PATH}?day=soon")
        assert bad.value.code == 400
        assert "knob day must be a whole number" in json.loads(bad.value.read())["error"]
        assert w.day == day  # a bad value changed nothing


def test_sandbox_process_starts_on_a_day_and_moves_on():
    w = World(200, 5)
    spiked = next(i for i in range(w.size) if w.truth(i).spike_day)
    account = w.account(spiked)
    with SandboxProcess(accounts=200, seed=5, knobs={"day": 6}) as process:
        assert process.health()["day"] == 6
        served = http_json(process.base_url, f"/api/v1/accounts/{account.id}")["followers_count"]
        assert served == w.followers_at(spiked, 6)
        assert process.set_knobs(day=0)["day"] == 0
        served = http_json(process.base_url, f"/api/v1/accounts/{account.id}")["followers_count"]
        assert served == w.base_followers(spiked)


@functools.cache
def format_world() -> World:
    return World(500, 42)


def _posts(w: World, test):
    return [p for i in range(w.size) for p in w.posts(i) if test(p)]


def test_mastodon_and_bluesky_carry_the_disclosures_in_text_and_tags():
    w = format_world()
    mastodon, bluesky = MastodonApp(w), BlueskyApp(w)
    tagged = _posts(w, lambda p: "hashtag" in (w.post_disclosure(p.id) or ""))[:10]
    phrased = _posts(w, lambda p: w.post_disclosure(p.id) == "phrase")[:10]
    assert tagged
    assert phrased
    for post in tagged + phrased:
        status = call_json(mastodon, f"/api/v1/statuses/{post.id}")
        assert [t["name"] for t in status["tags"]] == list(post.tags)
        view = bluesky.post_view(post.id_int, BASE)
        facet_tags = [f["features"][0]["tag"] for f in view["record"].get("facets", [])
                      if f["features"][0]["$type"].endswith("#tag")]
        assert [t.lower() for t in facet_tags] == list(post.tags)
        brand = w.post_brand(post.id)
        if post in tagged:
            assert f'#<span>{post.tags[-1]}</span></a>' in status["content"]
        else:
            assert f"@{brand}" in status["content"]
            assert f"@{brand}" in view["record"]["text"]


def test_bluesky_twins_with_a_website_use_its_domain_as_handle():
    w = format_world()
    app = BlueskyApp(w)
    twins = [i for i in range(w.size) if w.twin_link(i) == "website"]
    assert twins
    for i in twins:
        handle = app.names.handle(i)
        assert handle == f"{w.truth(i).twin}.example.com"
        resolved = call_json(app, "/xrpc/com.atproto.identity.resolveHandle", {"handle": handle})
        assert resolved["did"] == did_of(w.seed, i)


def test_instagram_paid_partnership_flags_and_business_emails():
    w = format_world()
    app = InstagramApp(w)
    flagged = sponsored_unflagged = 0
    for i in indexes(w, lambda t: t.sponsored):
        account = w.account(i)
        page = call_json(app, "/graphql/query/", {
            "query_hash": USER_MEDIA_QUERY_HASH,
            "variables": json.dumps({"id": account.id, "first": 50})})
        for edge in page["data"]["user"]["edge_owner_to_timeline_media"]["edges"]:
            node = edge["node"]
            sponsors = [e["node"]["sponsor"]["username"]
                        for e in node["edge_media_to_sponsor_user"]["edges"]]
            assert node["is_paid_partnership"] == w.post_flagged(node["id"])
            if w.post_flagged(node["id"]):
                assert sponsors == [w.post_brand(node["id"])]
                flagged += 1
            else:
                assert sponsors == []
                sponsored_unflagged += w.post_sponsored(node["id"])
        post = w.posts(i)[0]
        media = call_json(app, f"/p/{shortcode(post.id)}/", {"__a": "1"})
        assert media["graphql"]["shortcode_media"]["is_paid_partnership"] == w.post_flagged(post.id)
    assert flagged > 10
    assert sponsored_unflagged > 10
    with_email = 0
    for i in range(w.size):
        account, email = w.account(i), w.truth(i).email
        user = call_json(app, "/api/v1/users/web_profile_info/",
                         {"username": account.username})["data"]["user"]
        info = call_json(app, f"/api/v1/users/{account.id}/info/")["user"]
        shown = email if email and is_professional(w.seed, account) else None
        assert user["business_email"] == shown
        assert info["public_email"] == (shown or "")
        assert user["should_show_public_contacts"] == (shown is not None)
        with_email += shown is not None
    assert with_email >= 5
    # the knob sponsor_fields=all puts the flag on every web media node; the default keeps the
    # captures' keys (web_profile_info's timeline has none)
    account = w.account(next(i for i in range(w.size) if any(
        w.post_flagged(p.id) for p in w.posts(i)[:12])))

    def nodes() -> list[dict]:
        body = call_json(app, "/api/v1/users/web_profile_info/", {"username": account.username})
        return [e["node"] for e in body["data"]["user"]["edge_owner_to_timeline_media"]["edges"]]

    assert all("is_paid_partnership" not in node for node in nodes())
    assert "sponsor_fields" not in app.knob_state()["knobs"]
    app.configure({"sponsor_fields": "all"})
    try:
        assert app.knob_state()["knobs"]["sponsor_fields"] == "all"
        flags = [node["is_paid_partnership"] for node in nodes()]
        assert flags == [w.post_flagged(p.id) for p in w.posts(account.index)[:12]]
        assert True in flags
        with pytest.raises(ValueError, match="knob sponsor_fields must be one of graphql, all"):
            app.configure({"sponsor_fields": "some", "og_only": "0.5"})
        assert app.og_only == 0.0  # nothing changed
    finally:
        app.configure({"sponsor_fields": "graphql"})
    # a disclosure hashtag is a hashtag page like any other
    page = call_json(app, "/graphql/query/", {"query_hash": HASHTAG_QUERY_HASH,
                                               "variables": json.dumps({"tag_name": "ad"})})
    assert page["data"]["hashtag"]["edge_hashtag_to_media"]["count"] == len(w.tag_post_ids("ad"))


def test_tiktok_is_ad_and_youtube_paid_product_placement():
    w = format_world()
    tiktok, youtube = TikTokApp(w), YouTubeApp(w)
    sponsored = [p for i in indexes(w, lambda t: t.sponsored) for p in w.posts(i)]
    assert any(w.post_flagged(p.id) for p in sponsored)
    natural = [p for i in range(0, w.size, 25) for p in w.posts(i)[:3]]
    for post in sponsored + natural:
        item = tiktok.item_json(post, BASE, with_author_stats=False)
        assert item["isAd"] is w.post_flagged(post.id)
        assert [c["title"] for c in item["challenges"]] == list(post.tags)
        hashtags = [e["hashtagName"] for e in item["textExtra"] if e["type"] == 1]
        assert hashtags == re.findall(r"#(\w+)", post.text)
    ids = [youtube.video_id(p) for p in (sponsored + natural)[:50]]
    body = call_json(youtube, "/youtube/v3/videos",
                     {"id": ",".join(ids), "part": "snippet,paidProductPlacementDetails"},
                     {"x-goog-api-key": "sandbox-key"})
    assert len(body["items"]) == len(ids)
    for item in body["items"]:
        post = youtube.post_by_video_id(item["id"])
        assert item["paidProductPlacementDetails"] == {
            "hasPaidProductPlacement": w.post_flagged(post.id)}
        assert item["snippet"]["tags"] == list(post.tags)
    plain = call_json(youtube, "/youtube/v3/videos", {"id": ids[0], "part": "statistics"},
                      {"x-goog-api-key": "sandbox-key"})
    assert "paidProductPlacementDetails" not in plain["items"][0]
