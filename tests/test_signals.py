"""Creator signals: disclosures, contact, language, audience quality, creators, lookalikes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from crawler.items import PostItem, ProfileItem
from models.signals import Peers, assess, follower_spike, robust
from pipelines.contact import account_of_url, cross_links, emails_in, find_email, find_website
from pipelines.disclosure import post_sponsorship, text_evidence
from pipelines.language import detect, languages_of
from tests.conftest import realworld

# --- sponsored posts ---------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "evidence"), [
    ("New serum from @glowco #ad", "#ad"),
    ("Morning routine #Sponsored #skincare", "#sponsored"),
    ("Paid partnership with @fitgear: the new shoes", "paid partnership with"),
    ("Mein Lieblingsprodukt #Anzeige", "#anzeige"),
    ("In Kooperation mit @kaffeehaus", "in kooperation mit"),
    ("Receta nueva en colaboración con @olivas #publi", "#publi"),
    ("Nova coleção em parceria com @moda", "em parceria com"),
    ("Nouvelle recette #partenariat", "#partenariat"),
    ("Bezahlte Partnerschaft mit @marke", "bezahlte partnerschaft mit"),
    ("Sponsored by @brand, thank you!", "sponsored by"),
])
def test_disclosures_in_the_main_languages_are_found(text, evidence):
    assert text_evidence(text) == evidence


@pytest.mark.parametrize("text", [
    "Weekend #adventure in the Alps #adorable",
    "My old #adidas shoes still going strong",
    "Not an ad, I just love this blender #ad",
    "Unbezahlte Werbung: mein Lieblingsbuch #werbung",
    "Looking for a sponsor for my marathon",
    "I will add more photos tomorrow",
    "#notsponsored just a fan",
    "",
])
def test_lookalike_words_and_negated_disclosures_are_not_sponsorship(text):
    assert text_evidence(text) is None


def test_the_formats_own_flag_wins_and_listed_tags_count():
    assert post_sponsorship("instagram", "plain caption", [], True) == (True, "instagram:flag")
    assert post_sponsorship("tiktok", "dance", ["ad", "fyp"], False) == (True, "#ad")
    assert post_sponsorship("mastodon", "nothing paid here", [], None) == (False, None)
    assert post_sponsorship("youtube", None, [], None) == (None, None)


# --- contact -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("bio", "email"), [
    ("Yoga teacher 📩 collabs: ana.yoga@mail.example.com", "ana.yoga@mail.example.com"),
    ("business: nora [at] example [dot] com", "nora@example.com"),
    ("Contact: leo(at)example.org", "leo@example.org"),
    ("write to {mia} at {x}? no: mia {at} studio {dot} example {dot} net", "mia@studio.example.net"),
    ("Follow me at @anna@mastodon.social", None),
    ("logo@2x.png and @brand ambassador", None),
    ("https://example.com/@name DM for collabs", None),
])
def test_emails_in_bios_are_found_and_handles_are_not_emails(bio, email):
    found = emails_in(bio)
    assert (found[0] if found else None) == email


def test_the_formats_email_field_comes_first():
    assert find_email("Shop@Example.com", "me@other.example.org") == "Shop@Example.com"
    assert find_email("", "me@other.example.org") == "me@other.example.org"
    assert find_email(None, None) is None


def test_the_website_is_the_first_link_off_social_platforms():
    assert find_website("https://instagram.com/ana", ["https://youtube.com/@ana"],
                        "see www.ana-yoga.example.com/classes", ()) == "https://www.ana-yoga.example.com/classes"
    assert find_website(None, ["https://mastodon.social/@ana"], None, ["mastodon.social"]) is None
    assert find_website("https://ana.example.org", [], None) == "https://ana.example.org"


def test_cross_links_name_accounts_on_other_platforms():
    assert account_of_url("https://www.youtube.com/@AnaYoga") == ("youtube", "anayoga")
    assert account_of_url("https://www.youtube.com/channel/UC_x5XG1OV2P6uZZ5FSM9Ttw") == (
        "youtube", "UC_x5XG1OV2P6uZZ5FSM9Ttw")
    assert account_of_url("https://www.tiktok.com/@ana.yoga") == ("tiktok", "ana.yoga")
    assert account_of_url("https://bsky.app/profile/ana.example.com") == ("bluesky", "ana.example.com")
    assert account_of_url("https://instagram.com/p/abc") is None
    assert account_of_url("https://fosstodon.org/@ana") == ("fediverse", "ana@fosstodon.org")
    assert cross_links(None, [], "YouTube: youtube.com/@ana_yoga · Find me on TikTok @ana.moves") == [
        ("youtube", "ana_yoga"), ("tiktok", "ana.moves")]


def test_the_pipeline_marks_posts_and_profiles():
    from pipelines.signals import SignalsPipeline

    class Stats:
        def __init__(self):
            self.values = {}

        def inc_value(self, key, count=1):
            self.values[key] = self.values.get(key, 0) + count

    stats = Stats()
    pipeline = SignalsPipeline(stats, ("en", "es", "de"))
    item = ProfileItem(
        platform="mastodon", handle="ana@fit.example", profile_url="https://fit.example/@ana",
        bio="Entrenadora personal en Madrid 📩 ana [at] example [dot] com", links=["https://fit.example/@ana",
                                                                                 "https://ana.example.org"],
        recent_posts=[PostItem(post_id="1", text="Rutina de piernas en casa #publi", platform_sponsored=None),
                      PostItem(post_id="2", text="Rutina de brazos para principiantes en casa")])
    pipeline.process_item(item)
    assert (item.email, item.website, item.language) == ("ana@example.com", "https://ana.example.org", "es")
    assert [(p.sponsored, p.sponsor_evidence) for p in item.recent_posts] == [(True, "#publi"), (False, None)]
    assert stats.values == {"microscout/signals/sponsored_posts": 1, "microscout/signals/email": 1,
                            "microscout/signals/language/es": 1}
    standalone = pipeline.process_item(PostItem(platform="tiktok", post_id="3", text="x",
                                                platform_sponsored=True))
    assert standalone.sponsor_evidence == "tiktok:flag"


# --- language ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "language"), [
    ("Personal trainer sharing home workouts and healthy recipes every week", "en"),
    ("Entrenadora personal en Madrid, comparto rutinas y recetas saludables", "es"),
    ("Fotógrafa em São Paulo, apaixonada por viagens e café", "pt"),
    ("Photographe à Lyon, passionnée de voyages et de cuisine", "fr"),
    ("Ich koche jeden Tag vegan und teile hier meine Rezepte", "de"),
])
def test_short_texts_get_their_language(text, language):
    assert detect(text)[0] == language


def test_languages_are_shares_of_the_letters_and_short_texts_are_skipped():
    shares = languages_of(["Entrenadora personal en Madrid, comparto rutinas cada semana",
                           "Nueva rutina de piernas para principiantes en casa",
                           "New leg day routine for beginners at home today", "ok 👍", None])
    assert list(shares) == ["es", "en"]
    assert shares["es"] > shares["en"] >= 0.15
    assert detect("ok 👍 #fit")[0] is None


# --- audience quality ----------------------------------------------------------------------------

NOW = datetime(2026, 10, 1, tzinfo=UTC)


def peers_around(engagement=0.035, ratio=10.0, n=200) -> Peers:
    import math

    spread = [math.log(engagement) + 0.3 * ((i % 21) - 10) / 10 for i in range(n)]
    ratios = [math.log(ratio) + 0.2 * ((i % 11) - 5) / 5 for i in range(n)]
    stats = {"engagement": robust(spread), "like_comment": robust(ratios)}
    return Peers({"instagram/micro": stats, "instagram": stats})


def posts(n=12, likes=320, comments=32, sponsored_every=0):
    return [(NOW - timedelta(days=2 * i), likes, comments,
             bool(sponsored_every) and i % sponsored_every == 0) for i in range(n)]


def history(*followers):
    return [(NOW - timedelta(days=len(followers) - 1 - i), f) for i, f in enumerate(followers)]


def test_an_ordinary_account_scores_100_with_no_flags():
    row = (1, "instagram", "micro", 10_000, 400, 0.035)
    out = assess(row, posts(), history(9_900, 9_950, 10_000), 10.0, peers_around())
    assert out["audience_quality"] == 100.0
    assert out["quality_flags"] == []
    assert out["main_flag"] is None
    assert abs(out["engagement_z"]) < 1


def test_a_pod_and_a_bought_spike_and_mass_follow_are_flagged_worst_first():
    pod = assess((1, "instagram", "micro", 10_000, 400, 0.16), posts(likes=900, comments=700),
                 history(9_900, 9_950, 10_000), 900 / 700, peers_around())
    assert pod["main_flag"] == "engagement_pod"
    assert pod["quality_flags"][0].startswith("engagement_pod: engagement 4.6x")
    spike = assess((2, "instagram", "micro", 15_000, 400, 0.022), posts(),
                   history(9_900, 9_950, 10_000, 15_000, 15_050), 10.0, peers_around())
    assert spike["main_flag"] == "follower_spike"
    assert spike["follower_spike"] == pytest.approx(0.495, abs=0.01)
    mass = assess((3, "instagram", "micro", 2_000, 5_200, 0.035), posts(), history(2_000), 10.0,
                  peers_around())
    assert mass["main_flag"] == "mass_follow"
    assert mass["audience_quality"] == 80.0
    assert "follower history: 1 snapshot(s)" in mass["quality_note"]
    assert mass["follower_spike"] is None


def test_low_engagement_needs_both_the_z_score_and_the_effect():
    low = assess((1, "instagram", "micro", 50_000, 400, 0.005), posts(likes=230, comments=20),
                 history(50_000), 10.0, peers_around())
    assert low["main_flag"] == "low_engagement"
    slightly = assess((1, "instagram", "micro", 50_000, 400, 0.02), posts(), history(50_000), 10.0,
                      peers_around())
    assert slightly["main_flag"] is None


def test_too_little_to_judge_is_null_with_the_reason():
    few = assess((1, "instagram", "micro", 10_000, 400, 0.035), posts(n=2), history(10_000), 10.0,
                 peers_around())
    assert few["audience_quality"] is None
    assert few["quality_note"].startswith("posts: 2 with counts (3 needed)")
    lonely = assess((1, "instagram", "micro", 10_000, 400, 0.035), posts(), history(10_000), 10.0,
                    peers_around(n=5))
    assert lonely["audience_quality"] is None
    assert "peers: 5 accounts" in lonely["quality_note"]


def test_sponsored_share_and_engagement_split():
    out = assess((1, "instagram", "micro", 10_000, 400, 0.035), posts(sponsored_every=3),
                 history(10_000), 10.0, peers_around())
    assert out["sponsored_posts"] == 4
    assert out["sponsored_share"] == pytest.approx(4 / 12, abs=0.001)
    assert out["sponsored_engagement"] == out["organic_engagement"] == pytest.approx(0.0352)


def test_follower_spike_reads_days_and_ignores_small_or_steady_growth():
    assert follower_spike(history(1000, 1010)) is None  # two snapshots: one interval
    steady = follower_spike(history(1000, 1010, 1020, 1030))
    assert steady is not None
    assert abs(steady[0]) < 0.001
    tiny = follower_spike(history(100, 101, 140, 141))  # +39 followers is not a spike
    assert tiny is not None
    assert tiny[0] <= 0
    # crawls minutes apart count as a day each (days are floored at 1)
    minutes = [(NOW + timedelta(minutes=i), f) for i, f in enumerate((1000, 1001, 1500, 1501))]
    found = follower_spike(minutes)
    assert found is not None
    assert found[0] == pytest.approx(0.499, abs=0.002)


# --- the warehouse: creators, lookalikes, views, erasure -------------------------------------------


def _profile(handle, platform="mastodon", name="Ana Lima", bio="", niche="fitness", followers=5_000,
             website=None, tags=("fitness", "workout"), text="Leg day done, new personal best today",
             **extra):
    post_texts = [f"{text} {i}" for i in range(4)]
    return {"_type": "profile", "platform": platform, "handle": handle, "display_name": name,
            "bio": bio, "website": website, "followers": followers, "following": 300, "tier": "micro",
            "engagement_rate": 0.035, "niches": {niche: 0.8}, "primary_niche": niche,
            "fetched_at": NOW.isoformat(), **extra,
            "recent_posts": [{"post_id": f"{handle}-{i}", "text": t, "hashtags": list(tags),
                              "likes": 160, "comments": 15,
                              "posted_at": (NOW - timedelta(days=i)).isoformat(),
                              "sponsored": i == 0, "sponsor_evidence": "#ad" if i == 0 else None}
                             for i, t in enumerate(post_texts)]}


@pytest.fixture
def warehouse(warehouse_url):
    from models import loader
    from models.db import make_engine

    engine = make_engine(warehouse_url)
    records = [
        _profile("analima@fit.example", bio="Coach. YouTube: youtube.com/@analima"),
        _profile("analima", platform="youtube", name="Ana Lima 🏋️"),
        _profile("ana.lima", platform="tiktok", name="Someone Else"),  # same handle, other name
        _profile("cook@food.example", name="Rui Costa", niche="food", tags=("vegan", "recipe"),
                 text="Lentil soup with smoked paprika and lemon", website="https://rui.example.org"),
        _profile("rui.example.org", platform="bluesky", name="Rui", niche="food", tags=("vegan",),
                 text="Chickpea curry for a cold evening"),
        _profile("joe", platform="instagram", name="Joe Bloggs", niche="food", tags=("vegan", "recipe"),
                 text="Lentil soup with smoked paprika again", website="https://agency.example.net/x"),
        _profile("kim", platform="tiktok", name="Kim Park", niche="food", tags=("baking",),
                 text="Sourdough bread with a crunchy crust", website="https://agency.example.net/x"),
        _profile("bo", platform="bluesky", name="Bo Stone", niche="gaming", tags=("gaming", "speedrun"),
                 text="Speedrun practice tonight with the new route"),
    ]
    with engine.begin() as conn:
        run_id = loader.start_run(conn, {"run_key": "r1", "spider": "test", "platform": "mastodon",
                                         "started_at": NOW})
        loader.load_batch(conn, run_id, records)
    yield engine, run_id
    engine.dispose()


def _ids(engine):
    with engine.connect() as conn:
        return {h: i for i, h in conn.exec_driver_sql("SELECT id, handle FROM profiles")}


def test_creators_are_linked_by_evidence_and_a_shared_agency_site_with_other_names_is_not(warehouse):
    from models import analytics

    engine, run_id = warehouse
    counts = analytics.refresh(engine, run_id)
    ids = _ids(engine)
    with engine.connect() as conn:
        links = {(a, b): (evidence, conf) for a, b, evidence, conf in conn.exec_driver_sql(
            "SELECT profile_id, other_profile_id, evidence, confidence FROM creator_links")}
        members = dict(conn.exec_driver_sql("SELECT profile_id, creator_id FROM creator_accounts").all())
        reach = conn.exec_driver_sql("SELECT creator_id, accounts, platforms, total_followers "
                                     "FROM creator_reach ORDER BY creator_id").all()
    ana = tuple(sorted((ids["analima@fit.example"], ids["analima"])))
    assert links[ana][0] == "bio_link, same_handle_and_name"
    assert links[ana][1] == pytest.approx(1 - 0.1 * 0.25)
    rui = tuple(sorted((ids["cook@food.example"], ids["rui.example.org"])))
    assert links[rui] == ("domain_handle", 0.9)
    agency = tuple(sorted((ids["joe"], ids["kim"])))
    assert links[agency] == ("same_website_other_name", 0.5)
    assert ids["ana.lima"] not in members  # same handle, another person's name
    assert members[ids["analima"]] == members[ids["analima@fit.example"]] == min(ana)
    assert ids["joe"] not in members
    assert counts["creators"] == 2
    assert reach == sorted([(min(ana), 2, 2, 10_000), (min(rui), 2, 2, 10_000)])


def test_lookalikes_rank_the_same_niche_first_and_say_why(warehouse):
    from models import analytics, similar

    engine, run_id = warehouse
    analytics.refresh(engine, run_id)
    ids = _ids(engine)
    with engine.connect() as conn:
        found = similar.similar(conn, ids["cook@food.example"], k=3)
        stored = conn.execute(text(
            "SELECT similar_profile_id, shared_terms FROM similar_accounts WHERE profile_id = :id "
            "ORDER BY rank"), {"id": ids["cook@food.example"]}).all()
    names = {v: k for k, v in ids.items()}
    assert names[found[0]["similar_profile_id"]] == "joe"  # the same soup, the same tags
    assert found[0]["shared_terms"].startswith("niche:food")
    assert "#vegan" in found[0]["shared_terms"]
    assert {names[f["similar_profile_id"]] for f in found} <= {"joe", "rui.example.org", "kim"}
    assert [row[0] for row in stored[:3]] == [f["similar_profile_id"] for f in found]


def test_the_views_carry_the_signals_and_forget_erases_them(warehouse):
    from models import analytics, erasure

    engine, run_id = warehouse
    analytics.refresh(engine, run_id)
    with engine.connect() as conn:
        row = conn.exec_driver_sql(
            "SELECT website, audience_quality, quality_note, sponsored_share, creator_id "
            "FROM micro_influencers WHERE handle = 'cook@food.example'").one()
    assert row[0] == "https://rui.example.org"
    assert row[1] is None  # two Mastodon accounts are too few peers to judge
    assert "peers: 2 accounts in mastodon (20 needed)" in row[2]
    assert row[3] == pytest.approx(0.25)
    assert row[4] is not None
    counts = erasure.forget(engine, "mastodon", "cook@food.example")
    assert counts["profile_signals"] == 1
    assert counts["creator_links"] >= 1
    assert counts["similar_accounts"] >= 1
    with engine.connect() as conn:
        left = [conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar_one()  # noqa: S608
                for t in ("creators", "creator_accounts")]
        named = conn.exec_driver_sql(
            "SELECT count(*) FROM similar_accounts WHERE similar_profile_id NOT IN "
            "(SELECT id FROM profiles)").scalar_one()
    assert left == [1, 2]  # Rui's creator is gone with one of its two accounts
    assert named == 0


# --- real captures -------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def high_accuracy(monkeypatch):
    """The default Lingua mode (the rest of the suite pins low to spare its crawls the load)."""
    monkeypatch.setenv("MICROSCOUT_LANGUAGE_ACCURACY", "high")


def _parsed(platform: str, name: str, capsys) -> list[dict]:
    from crawler.cli import main

    assert main(["parse", platform, str(realworld(platform, name))]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_a_real_tiktok_bio_email_is_found(capsys):
    items = _parsed("tiktok", "scrapfly_universal_data_webapp_user_detail_userInfo_2026.json", capsys)
    (profile,) = [i for i in items if i.get("handle") == "oddanimalspecimens"]
    assert profile["email"] == "OddAnimalSpecimens@sixteenth.com"
    assert profile["language"] == "en"


def test_real_profiles_without_contact_or_paid_posts_stay_empty(capsys):
    items = _parsed("instagram", "pgrimaud_web_profile_info_robertdowneyjr_2022.json", capsys)
    (profile,) = [i for i in items if i.get("handle") == "robertdowneyjr"]
    assert profile["email"] is None
    # these posts carry no sponsor field: judged from their captions (one has none)
    assert {post["sponsored"] for post in profile["recent_posts"] if post["text"]} == {False}
    assert all(post["sponsored"] is not True for post in profile["recent_posts"])


def test_the_real_tiktok_ad_is_the_one_sponsored_post(capsys):
    items = _parsed("tiktok", "drawrowfly_profile_NEXT_DATA_tiktok_2021.html", capsys)
    posts = [p for i in items for p in i.get("recent_posts", [])]
    assert {p["post_id"]: p["sponsored"] for p in posts} == {
        "6909171131882802434": True, "6912598122988326149": False, "6911370401054526725": False,
        "6907709736355908869": False}
    assert next(p for p in posts if p["sponsored"])["sponsor_evidence"] == "tiktok:flag"


def test_a_real_instagram_media_page_with_empty_sponsor_tags_is_organic(capsys):
    items = _parsed("instagram", "pgrimaud_graphql_user_medias_page_2020.json", capsys)
    posts = [i for i in items if "post_id" in i] + [p for i in items for p in i.get("recent_posts", [])]
    assert len(posts) == 12
    assert {p["sponsored"] for p in posts} == {False}


@pytest.mark.parametrize(("platform", "name", "handle", "language", "country"), [
    ("pixelfed", "pixeldroid_pixelfed.de_api_v1_accounts_id_statuses_2020.json", "spaziergaenger@pixelfed.de",
     "de", None),
    ("pixelfed", "pixeldroid_pixelfed.de_api_v2_search_caturday_2020.json", "memo@pixelfed.de", "de", None),
    ("youtube", "newpipe_mock_youtubei_browse_channel_kurzgesagt_2026.json", "kurzgesagt", "en", None),
    ("youtube", "youtubeaio_api_v3_channels_list_snippet_statistics_googledevelopers_2023.json",
     "googledevelopers", "en", "US"),
    ("bluesky", "atprotodart_app.bsky.actor.getProfile_shinyakato_2023.json", "shinyakato.dev", "en", None),
    ("instagram", "pgrimaud_web_profile_info_robertdowneyjr_2022.json", "robertdowneyjr", "en", None),
    ("tiktok", "drawrowfly_profile_NEXT_DATA_tiktok_2021.html", "tiktok", "en", None),
])
def test_languages_and_countries_of_real_profiles(platform, name, handle, language, country, capsys):
    items = _parsed(platform, name, capsys)
    (profile,) = {i["handle"]: i for i in items if i.get("handle") == handle}.values()
    assert (profile["language"], profile["country"]) == (language, country)


def test_toots_too_short_to_read_get_no_language_whatever_the_instance_declares(capsys):
    """Mastodon.py's test toots declare en ("Toot number 0!") and ja ("#hoot (hashtag toot)"):
    under 12 letters once the tag is gone, so no language is claimed from them."""
    items = _parsed("mastodon", "mastodonpy_cassette_test_fetch_next_previous.yaml", capsys)
    profiles = [i for i in items if i.get("handle")]
    assert profiles
    assert {p["language"] for p in profiles} == {None}
    assert {post["language"] for p in profiles for post in p["recent_posts"]} == {"en"}


def test_runs_closing_together_rebuild_the_creators_one_after_the_other(warehouse):
    """Each closing run rebuilds creators from every account: two at once must not collide."""
    from concurrent.futures import ThreadPoolExecutor

    from models import creators

    engine, _ = warehouse

    def rebuild(_: int) -> int:
        with engine.begin() as conn:
            return creators.rebuild(conn)

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(rebuild, range(8))) == [2] * 8
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM creator_accounts").scalar_one() == 4


@pytest.mark.parametrize(("a", "b", "match", "conflict"), [
    ("Ana Lima", "Ana Lima 🏋️", True, False),
    ("Lima, Ana", "ana lima", True, False),
    ("Zoë García", "Zoe Garcia", True, False),
    ("Ana Lima", "Ana Costa", False, True),  # one first name is not one person
    ("Max Beats", "Max Schmidt", False, True),
    ("Rui", "Rui Costa", False, False),  # too short to match, not a conflict either
    ("Valentina", "Valentina Rossi", True, False),
    ("", "Ana Lima", False, False),
])
def test_display_names_match_and_conflict(a, b, match, conflict):
    from models.creators import names_conflict, names_match

    assert names_match(a, b) is match
    assert names_conflict(a, b) is conflict


def test_signals_refresh_and_similar_from_the_command_line(warehouse, capsys):
    from crawler.cli import main

    engine, _ = warehouse
    url = engine.url.render_as_string(hide_password=False)
    assert main(["signals", "refresh", "--all", "--database-url", url]) == 0
    out = capsys.readouterr().out
    assert "signals for 8 accounts, 2 creators across platforms" in out
    assert main(["similar", "mastodon", "cook@food.example", "--k", "2", "--json",
                 "--database-url", url]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["rank"], r["handle"]) for r in rows] == [(1, "joe"), (2, rows[1]["handle"])]
    assert main(["similar", "mastodon", "nobody@food.example", "--database-url", url]) == 1
    assert "is not in the warehouse" in capsys.readouterr().err
