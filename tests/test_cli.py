"""The ``microscout`` command line: parse, db, sweep and demo, as a user runs them.

Commands that never start a crawl run in-process through :func:`crawler.cli.main` (fast, and
``capsys`` sees exactly what a terminal would). ``sweep`` and ``demo`` start a Twisted reactor,
which can run once per process, so they run as ``python -m crawler.cli`` in a subprocess with a
temporary working directory. Bad arguments and unreachable databases must fail before any request:
those tests point the crawl at a listening socket and assert that nothing connected to it.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.cli import main
from tests.conftest import LANGUAGE_ACCURACY, NICHE_EMBEDDINGS, REALWORLD, REPO, realworld

PLATFORMS = ("mastodon", "pixelfed", "instagram", "tiktok", "youtube", "bluesky")
UNREACHABLE_DB = "postgresql+psycopg://scout:s3cret@127.0.0.1:1/x"
BAD_PORT_DB = "postgresql+psycopg://scout:s3cret@127.0.0.1:abc/x"
CRAWL_TIMEOUT = 120


# --- helpers ---------------------------------------------------------------------------------


def cli(capsys, *argv: object) -> tuple[int, str, str]:
    """Run ``microscout ARGV`` in-process: (exit code, stdout, stderr). argparse exits count."""
    capsys.readouterr()  # drop anything printed before
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse errors and --help
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def command_env() -> dict[str, str]:
    """This environment without MICROSCOUT_*/SCRAPY_* settings, with this tree importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MICROSCOUT_", "SCRAPY_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env["MICROSCOUT_NICHE_EMBEDDINGS"] = NICHE_EMBEDDINGS
    env["MICROSCOUT_LANGUAGE_ACCURACY"] = LANGUAGE_ACCURACY
    return env


def microscout(*argv: object, cwd: Path, timeout: float = CRAWL_TIMEOUT) -> subprocess.CompletedProcess:
    """Run ``microscout ARGV`` in a fresh interpreter with ``cwd`` as working directory."""
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli", *map(str, argv)],
        cwd=cwd, env=command_env(), capture_output=True, text=True, timeout=timeout, check=False,
    )


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def json_lines(stdout: str) -> list[dict]:
    lines = [line for line in stdout.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all(isinstance(r, dict) and "_type" in r for r in records)
    return records


def profiles(records: list[dict]) -> list[dict]:
    return [r for r in records if r["_type"] == "ProfileItem"]


def posts(records: list[dict]) -> list[dict]:
    """Every post: the PostItem lines and the recent posts inside ProfileItem lines."""
    found = [r for r in records if r["_type"] == "PostItem"]
    for profile in profiles(records):
        found.extend(profile["recent_posts"])
    return found


def is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def assert_never_contacted(sock: socket.socket) -> None:
    try:
        conn, _ = sock.accept()
    except BlockingIOError:
        return
    conn.close()
    pytest.fail("the command connected to the platform before failing")


# --- parse: every real capture ---------------------------------------------------------------


#: Recordings that hold no profile, post or sighting (a hashtag-id lookup): parse reads them,
#: prints nothing and says so on stderr.
NO_ITEMS = ("python-facebook_graph_ig_hashtag_search_developers_2021.json",
            "tiktoklibrary_research_api_v2_video_comment_list_2024.json")  # comments: no author


def realworld_params() -> list:
    params = []
    for platform in PLATFORMS:
        folder = REALWORLD / platform
        names = sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else [None]
        for name in names:
            params.append(pytest.param(platform, name, id=f"{platform}/{name or 'absent'}"))
    return params


def capture(platform: str, name: str | None) -> Path:
    return realworld(platform, name) if name else realworld(platform)  # skips when absent


@pytest.mark.parametrize(("platform", "name"), realworld_params())
def test_parse_every_realworld_capture(capsys, platform, name):
    path = capture(platform, name)
    code, out, err = cli(capsys, "parse", platform, path)
    assert code == 0, err
    if name in NO_ITEMS:
        assert (out, err.strip()) == ("", f"microscout: {path} is a {platform} body that holds no "
                                          "profiles, posts or sightings")
        return
    assert err == ""
    records = json_lines(out)
    assert records, "no items"
    code, raw_out, err = cli(capsys, "parse", "--raw", platform, path)
    assert code == 0, err
    raw = json_lines(raw_out)
    assert len(raw) == len(records)  # the pipelines turn each item into exactly one

    for before, after in zip(raw, records, strict=True):
        if after["_type"] != "ProfileItem":
            continue
        assert before["_type"] == "ProfileItem"
        assert after["platform"] == platform
        assert after["handle"]
        assert not after["handle"].startswith("@"), after["handle"]
        for name_ in ("followers", "following", "posts_count"):
            if before[name_] is not None:  # the page shows this count: normalised to an int
                assert is_count(after[name_]), (name_, before[name_], after[name_])
                assert after[name_] >= 0
        if after["followers"] is not None:
            assert after["tier"], after["handle"]
            assert after["tier_scheme"]
        assert isinstance(after["niches"], dict)
        assert "primary_niche" in after
        if after["primary_niche"] is not None:
            assert after["primary_niche"] in after["niches"]

    for post in posts(records):
        assert post["post_id"]
        for tag in post["hashtags"]:
            assert tag
            assert tag == tag.lower(), tag
            assert not tag.startswith("#"), tag
        for mention in post["mentions"]:
            assert not mention.startswith("@"), mention
        if post["author_handle"]:
            assert not post["author_handle"].startswith("@")
        for name_ in ("likes", "comments", "shares", "views"):
            assert post[name_] is None or is_count(post[name_]), (name_, post[name_])
    for sighting in (r for r in records if r["_type"] == "HashtagSightingItem"):
        assert sighting["hashtag"] == sighting["hashtag"].lower()
        assert not sighting["hashtag"].startswith("#")
        if sighting["author_handle"]:
            assert not sighting["author_handle"].startswith("@")


# Values read from the captures themselves (see the comment on each row).
PROFILE_SPOT_CHECKS = [
    # "followers_count":0,"following_count":0,"statuses_count":0 (a fresh local test account)
    ("mastodon", "mastodonpy_cassette_test_account.yaml", "mastodonpy_test@localhost",
     {"followers": 0, "following": 0, "posts_count": 0, "tier": "nano"}),
    # the #hoot timeline's author: "statuses_count":3
    ("mastodon", "mastodonpy_cassette_test_hashtag_tl.yaml", "mastodonpy_test_2@localhost",
     {"followers": 0, "posts_count": 3}),
    # "username":"Spaziergaenger", "followers_count":43 on pixelfed.de; 966 statuses
    ("pixelfed", "pixeldroid_pixelfed.de_api_v1_accounts_id_statuses_2020.json",
     "spaziergaenger@pixelfed.de", {"followers": 43, "following": 0, "posts_count": 966, "tier": "nano"}),
    ("pixelfed", "pixeldroid_pixelfed.de_api_v2_search_caturday_2020.json", "memo@pixelfed.de",
     {"followers": 33, "following": 11, "posts_count": 59}),
    # edge_followed_by 52979346, edge_follow 5, edge_owner_to_timeline_media 419
    ("instagram", "pgrimaud_web_profile_info_robertdowneyjr_2022.json", "robertdowneyjr",
     {"followers": 52_979_346, "following": 5, "posts_count": 419, "tier": "mega"}),
    # private API "follower_count":50857062
    ("instagram", "pgrimaud_api_v1_users_info_robertdowneyjr_2021.json", "robertdowneyjr",
     {"followers": 50_857_062}),
    # _sharedData edge_followed_by (exact) wins over og:description's "46.3m"
    ("instagram", "pgrimaud_profile_page_html_sharedData_robertdowneyjr_2020.html", "robertdowneyjr",
     {"followers": 46_383_825, "following": 50, "posts_count": 453}),
    # statsV2 "followerCount": "4001943" (a string) is exact; stats says 4000000
    ("tiktok", "scrapfly_universal_data_webapp_user_detail_userInfo_2026.json", "oddanimalspecimens",
     {"followers": 4_001_943, "following": 9, "posts_count": 178, "tier": "mega"}),
    ("tiktok", "drawrowfly_profile_NEXT_DATA_tiktok_2021.html", "tiktok", {"followers": 50_100_000}),
    # pageHeaderRenderer "25m subscribers", "337 videos"
    ("youtube", "newpipe_mock_youtubei_browse_channel_kurzgesagt_2026.json", "kurzgesagt",
     {"followers": 25_000_000, "posts_count": 337, "tier": "mega"}),
    # Data API statistics: "subscriberCount": "1927873", "videoCount": "5026"
    ("youtube", "python-youtube_api_v3_channels_list_statistics_googledevelopers_2019.json",
     "googledevelopers", {"followers": 1_927_873, "posts_count": 5026, "tier": "mega"}),
    # followersCount 4945, followsCount 31769, postsCount 3358: a micro-influencer
    ("bluesky", "atprotodart_app.bsky.actor.getProfile_shinyakato_2023.json", "shinyakato.dev",
     {"followers": 4945, "following": 31769, "posts_count": 3358, "tier": "micro"}),
]


@pytest.mark.parametrize(("platform", "name", "handle", "expected"), PROFILE_SPOT_CHECKS,
                         ids=[f"{p}/{h}" for p, _, h, _ in PROFILE_SPOT_CHECKS])
def test_parse_spot_checks_profile_values(capsys, platform, name, handle, expected):
    code, out, err = cli(capsys, "parse", platform, capture(platform, name))
    assert code == 0, err
    matching = [p for p in profiles(json_lines(out)) if p["handle"] == handle]
    assert matching, f"no profile {handle!r}"
    for profile in matching:
        assert {k: profile[k] for k in expected} == expected


def test_parse_instagram_og_description_count(capsys, tmp_path):
    """Without window._sharedData only og:description is left: "46.3m Followers" -> 46300000."""
    page = capture("instagram", "pgrimaud_profile_page_html_sharedData_robertdowneyjr_2020.html")
    html, stripped = re.subn(r"<script[^>]*>\s*window\._sharedData\s*=.*?</script>", "",
                             page.read_text(encoding="utf-8"), flags=re.S)
    assert stripped == 1
    assert "46.3m Followers" in html
    variant = tmp_path / "profile_og_only.html"
    variant.write_text(html, encoding="utf-8")

    code, out, err = cli(capsys, "parse", "--raw", "instagram", variant)
    assert code == 0, err
    (raw,) = profiles(json_lines(out))
    assert raw["followers"] == "46.3m"  # --raw: as the page shows it

    code, out, err = cli(capsys, "parse", "instagram", variant)
    assert code == 0, err
    (profile,) = profiles(json_lines(out))
    assert profile["handle"] == "robertdowneyjr"
    assert (profile["followers"], profile["following"], profile["posts_count"]) == (46_300_000, 50, 453)
    assert profile["tier"] == "mega"


@pytest.mark.parametrize(("platform", "name", "tag"), [
    ("mastodon", "mastodonpy_cassette_test_hashtag_tl.yaml", "hoot"),
    ("pixelfed", "pixeldroid_pixelfed.de_api_v2_search_caturday_2020.json", "caturday"),
    ("instagram", "pgrimaud_graphql_hashtag_paris_2021.json", "paris"),
    ("youtube", "invidious_mocks_hashtag_martingarrix_page1_browse_minified.json", "martingarrix"),
])
def test_parse_hashtag_listings(capsys, platform, name, tag):
    code, out, err = cli(capsys, "parse", platform, capture(platform, name))
    assert code == 0, err
    sightings = [r for r in json_lines(out) if r["_type"] == "HashtagSightingItem"]
    assert sightings
    assert {s["hashtag"] for s in sightings} == {tag}
    for listing in {s["listing"] for s in sightings}:  # positions count up within each listing
        positions = [s["position"] for s in sightings if s["listing"] == listing]
        assert positions == list(range(len(positions)))


def test_parse_hashtags_are_lower_case_without_hash(capsys):
    """Bluesky's #TikTok feed: "#Montana ... #TikTok" in the text -> ["montana", "tiktok"]."""
    feed = capture("bluesky", "atprotodart_app.bsky.feed.getFeed_tiktok_hashtag_feed_2023.json")
    code, out, err = cli(capsys, "parse", "bluesky", feed)
    assert code == 0, err
    montana = [p for p in posts(json_lines(out)) if "#Montana" in (p["text"] or "")]
    assert montana
    assert {"montana", "tiktok"} <= set(montana[0]["hashtags"])


def test_parse_mastodon_not_found_is_quarantined(capsys):
    """The 404 {"error":"Record not found"} of the lookup cassette is a RejectedItem line, not dropped."""
    code, out, err = cli(capsys, "parse", "mastodon",
                         capture("mastodon", "mastodonpy_cassette_test_account_lookup.yaml"))
    assert code == 0, err
    rejected = [r for r in json_lines(out) if r["_type"] == "RejectedItem"]
    assert [r["reason"] for r in rejected] == ["not_found"]


def test_parse_times_are_iso_8601(capsys):
    code, out, err = cli(capsys, "parse", "mastodon",
                         capture("mastodon", "mastodonpy_cassette_test_hashtag_tl.yaml"))
    assert code == 0, err
    (post, *_) = [r for r in json_lines(out) if r["_type"] == "PostItem"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00", post["posted_at"])


# --- parse: errors ---------------------------------------------------------------------------


def test_parse_missing_file(capsys, tmp_path):
    missing = tmp_path / "no-such-page.html"
    code, out, err = cli(capsys, "parse", "instagram", missing)
    assert code == 2
    assert out == ""
    (line,) = error_lines(err)
    assert str(missing) in line


@pytest.mark.parametrize(("platform", "content"), [
    ("instagram", b"garbage, not a page\n"),
    ("tiktok", b"\x00\xff\xfe binary"),
    ("youtube", b'{"a": 1}'),
    ("bluesky", b"[]"),
    ("mastodon", b""),
    ("mastodon", b"interactions: [unclosed\n"),  # not even YAML
    ("mastodon", b"interactions: 3\n"),  # YAML, but not a cassette
    ("mastodon", b"interactions:\n- 1\n"),
])
def test_parse_unreadable_file(capsys, tmp_path, platform, content):
    garbage = tmp_path / "garbage.dat"
    garbage.write_bytes(content)
    code, out, err = cli(capsys, "parse", platform, garbage)
    assert code == 2
    assert out == ""
    (line,) = error_lines(err)
    assert str(garbage) in line
    assert "Traceback" not in err


def test_parse_directory(capsys, tmp_path):
    code, _out, err = cli(capsys, "parse", "mastodon", tmp_path)
    assert code == 2
    (line,) = error_lines(err)
    assert str(tmp_path) in line


def test_parse_unknown_platform(capsys, tmp_path):
    page = tmp_path / "page.json"
    page.write_text("{}")
    code, out, err = cli(capsys, "parse", "myspace", page)
    assert code == 2
    assert out == ""
    assert "invalid choice: 'myspace'" in err


def test_parse_output_closed_early(tmp_path):
    """``microscout parse ... | head -1``: no BrokenPipeError traceback when the reader goes away."""
    timeline = json.loads(capture("pixelfed", "pixeldroid_pixelfed.de_api_v1_timelines_public_2020.json")
                          .read_text(encoding="utf-8"))
    statuses = []
    for n in range(400):  # 400 authors: far more output than a pipe holds
        status = json.loads(json.dumps(timeline[n % len(timeline)]))
        status["id"] = str(10_000 + n)
        status["account"].update(id=str(20_000 + n), username=f"user{n}", acct=f"user{n}")
        statuses.append(status)
    big = tmp_path / "big.json"
    big.write_text(json.dumps(statuses), encoding="utf-8")
    argv = [sys.executable, "-m", "crawler.cli", "parse", "--raw", "pixelfed", str(big)]
    with subprocess.Popen(argv, cwd=tmp_path, env=command_env(),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert json.loads(proc.stdout.readline())["_type"]
        proc.stdout.close()
        err = proc.stderr.read().decode()
        code = proc.wait(timeout=60)
    assert "Traceback" not in err, err
    assert "BrokenPipe" not in err, err
    assert code == 0


# --- db --------------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cli.sqlite'}"
    return request.getfixturevalue("pg_empty_url")


def user_tables(url: str) -> set[str]:
    from sqlalchemy import inspect

    from models import make_engine

    engine = make_engine(url)
    try:
        inspector = inspect(engine)
        return set(inspector.get_table_names()) | set(inspector.get_view_names())
    finally:
        engine.dispose()


def test_db_upgrade_current_downgrade(capsys, empty_database):
    from models import mask_url, migrate

    head = migrate.head()
    url = empty_database
    code, out, err = cli(capsys, "db", "current", "--database-url", url)
    assert (code, out) == (0, "base\n"), err

    code, out, err = cli(capsys, "db", "--database-url", url, "upgrade")
    assert code == 0, err
    assert err.strip() == f"{mask_url(url)} is at revision {head}"
    code, out, err = cli(capsys, "db", "current", "--database-url", url)
    assert (code, out) == (0, f"{head}\n"), err
    assert {"profiles", "profile_snapshots", "posts", "micro_influencers"} <= user_tables(url)

    code, out, err = cli(capsys, "db", "upgrade", "--database-url", url)  # idempotent
    assert code == 0, err

    code, out, err = cli(capsys, "db", "downgrade", "base", "--database-url", url)
    assert code == 0, err
    assert err.strip().endswith("is at revision base")
    code, out, err = cli(capsys, "db", "--database-url", url, "current")
    assert (code, out) == (0, "base\n"), err
    assert user_tables(url) <= {"alembic_version"}  # every table and view dropped


@pytest.mark.parametrize("argv", [
    ["db", "upgrade", "--database-url", UNREACHABLE_DB],
    ["db", "--database-url", UNREACHABLE_DB, "upgrade"],
    ["db", "current", "--database-url", UNREACHABLE_DB],
    ["db", "downgrade", "base", "--database-url", UNREACHABLE_DB],
    ["db", "load-spool", "--database-url", UNREACHABLE_DB],
], ids=["upgrade", "upgrade-option-first", "current", "downgrade", "load-spool"])
def test_db_unreachable_database(capsys, tmp_path, argv):
    if "load-spool" in argv:
        argv = [*argv, "--spool-dir", str(tmp_path)]
    code, out, err = cli(capsys, *argv)
    assert code == 2
    (line,) = error_lines(err)
    assert "127.0.0.1:1" in line
    assert "***" in line
    assert "s3cret" not in err + out


@pytest.mark.parametrize(("argv", "message"), [
    (["upgrade", "nosuchrev"], "nosuchrev"),
    (["downgrade", "nosuchrev"], "nosuchrev"),
    (["downgrade", "+1"], "+1"),
])
def test_db_bad_revision(capsys, tmp_path, argv, message):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    code, _out, err = cli(capsys, "db", "--database-url", url, *argv)
    assert code == 2
    (line,) = error_lines(err)
    assert message in line


def test_db_sqlite_folder_cannot_be_created(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, _out, err = cli(capsys, "db", "upgrade", "--database-url", f"sqlite:///{blocker / 'w.sqlite'}")
    assert code == 2
    (line,) = error_lines(err)
    assert str(blocker) in line


def test_db_load_spool_empty(capsys, tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    code, _out, err = cli(capsys, "db", "load-spool", "--database-url", url, "--spool-dir", spool)
    assert code == 0, err
    assert "loaded 0 records" in err


def spool_batches(spool: Path, items: list) -> None:
    """What the warehouse pipeline writes when the database stays unreachable for a whole run."""
    import asyncio

    from scrapy import Spider
    from scrapy.utils.test import get_crawler

    from pipelines.warehouse import WarehousePipeline

    class Unit(Spider):
        name = "unit"
        platform = "mastodon"
        run_args: dict = {}

    crawler = get_crawler(Unit, {"MICROSCOUT_DATABASE_URL": UNREACHABLE_DB, "MICROSCOUT_DB_RETRIES": 1,
                                 "MICROSCOUT_DB_RETRY_DELAY": 0, "MICROSCOUT_SPOOL_DIR": str(spool)})
    crawler.spider = Unit.from_crawler(crawler)
    crawler.stats.open_spider()
    pipeline = WarehousePipeline.from_crawler(crawler)

    async def run() -> None:
        await pipeline.open_spider()
        for item in items:
            await pipeline.process_item(item)
        crawler.stats.set_value("finish_reason", "finished")
        await pipeline.close_spider()

    asyncio.run(run())


def test_db_load_spool_into_a_new_database(capsys, tmp_path):
    """The spooled run lands in a database that was never migrated: load-spool migrates it first."""
    from tests.factories import profile, sighting

    spool = tmp_path / "spool"
    spool_batches(spool, [profile("a@x.social"), profile("b@x.social"), sighting("a@x.social-0")])
    assert [p.suffix for p in spool.iterdir()] == [".jsonl"]
    database = tmp_path / "new" / "w.sqlite"
    code, _out, err = cli(capsys, "db", "load-spool", "--database-url", f"sqlite:///{database}",
                          "--spool-dir", spool)
    assert code == 0, err
    assert "loaded 3 records from 1 spool files (1 runs)" in err
    with contextlib.closing(sqlite3.connect(database)) as conn:
        assert conn.execute("SELECT count(*) FROM profiles").fetchone() == (2,)
    assert [p.name.endswith(".jsonl.loaded") for p in spool.iterdir()] == [True]


def test_db_load_spool_missing_dir(capsys, tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    code, _out, err = cli(capsys, "db", "load-spool", "--database-url", url, "--spool-dir", tmp_path / "nope")
    assert code == 2
    (line,) = error_lines(err)
    assert str(tmp_path / "nope") in line


def test_db_load_spool_unreadable_file(capsys, tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / "batch.jsonl").write_text('{"not json\n')
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    code, _out, err = cli(capsys, "db", "load-spool", "--database-url", url, "--spool-dir", spool)
    assert code == 2
    (line,) = error_lines(err)
    assert "batch.jsonl" in line


def test_db_load_spool_default_dir_outside_the_repository(capsys, tmp_path, monkeypatch):
    """No --spool-dir, run from a folder without scrapy.cfg: the project's settings still apply."""
    import crawler.settings

    spool = tmp_path / "default-spool"
    spool.mkdir()
    monkeypatch.setattr(crawler.settings, "MICROSCOUT_SPOOL_DIR", str(spool))
    monkeypatch.delenv("SCRAPY_SETTINGS_MODULE", raising=False)
    monkeypatch.chdir(tmp_path)
    code, _out, err = cli(capsys, "db", "load-spool", "--database-url", f"sqlite:///{tmp_path / 'w.sqlite'}")
    assert code == 0, err
    assert "loaded 0 records from 0 spool files" in err


# --- sweep: refused before any request -------------------------------------------------------

#: case -> (arguments after ``sweep --instance <listener>``, what the one error line names)
SWEEP_REFUSALS = {
    "bad-tag": (["--tags", "#@!"], "#@!"),
    "min-above-max": (["--tags", "fitness", "--min-followers", "10", "--max-followers", "5"],
                      "max_followers"),
    "no-tags-no-handles": ([], "nothing to crawl"),
    "bad-output": (["--tags", "fitness", "--output", "x.txt"], "x.txt"),
    "bad-set": (["--tags", "fitness", "--set", "NOVALUE"], "NAME=VALUE"),
    "unreachable-database": (["--tags", "fitness", "--database-url", UNREACHABLE_DB], "127.0.0.1:1"),
    # issue #12: bad settings, URLs, tags and paths are refused up front, not mid-crawl
    "bad-batch-size": (["--tags", "fitness", "--set", "MICROSCOUT_BATCH_SIZE=abc"],
                       "MICROSCOUT_BATCH_SIZE='abc'"),
    "bad-tier-scheme": (["--tags", "fitness", "--set", "MICROSCOUT_TIER_SCHEME=bogus"],
                        "MICROSCOUT_TIER_SCHEME='bogus'"),
    "bad-db-retries": (["--tags", "fitness", "--set", "MICROSCOUT_DB_RETRIES=x"],
                       "MICROSCOUT_DB_RETRIES='x'"),
    "bad-database-port": (["--tags", "fitness", "--database-url", BAD_PORT_DB], "port"),
    "instance-not-a-url": (["--tags", "fitness", "--instance", "not a url"], "'not a url'"),
    "tag-too-long": (["--tags", "a" * 5000], "5000 characters"),
    "output-under-a-file": (["--tags", "fitness", "--output", f"{os.devnull}/x.csv"], "--output"),
    "jobdir-under-a-file": (["--tags", "fitness", "--set", f"JOBDIR={os.devnull}/job"], "JOBDIR"),
}


class Refusal:
    """One refused ``microscout sweep``: its result and the socket that stood in for the platform."""

    def __init__(self, cwd: Path, listener: socket.socket, proc: subprocess.Popen) -> None:
        self.cwd, self.listener, self.proc = cwd, listener, proc
        self.stdout, self.stderr = proc.communicate(timeout=CRAWL_TIMEOUT)
        self.returncode = proc.returncode


@pytest.fixture(scope="module")
def sweep_refusals(tmp_path_factory):
    """Every case of SWEEP_REFUSALS, run at the same time (interpreter start-up dominates)."""
    started = {}
    for case, (argv, _) in SWEEP_REFUSALS.items():
        cwd = tmp_path_factory.mktemp(f"sweep-{case}")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        sock.setblocking(False)
        if "--database-url" not in argv:
            argv = [*argv, "--database-url", f"sqlite:///{cwd / 'w.sqlite'}"]
        proc = subprocess.Popen(
            [sys.executable, "-m", "crawler.cli", "sweep",
             "--instance", f"http://127.0.0.1:{sock.getsockname()[1]}", *argv],
            cwd=cwd, env=command_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started[case] = (cwd, sock, proc)
    try:
        yield {case: Refusal(*args) for case, args in started.items()}
    finally:
        for _, sock, proc in started.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            sock.close()


@pytest.mark.parametrize("case", list(SWEEP_REFUSALS))
def test_sweep_refused_before_any_request(sweep_refusals, case):
    result = sweep_refusals[case]
    message = SWEEP_REFUSALS[case][1]
    assert result.returncode == 2, result.stderr
    (line,) = error_lines(result.stderr)
    assert line.startswith("microscout: error:")
    assert message in line
    assert result.stdout == ""
    assert_never_contacted(result.listener)
    assert not (result.cwd / "x.txt").exists()


def test_sweep_unreachable_database_password_masked(sweep_refusals):
    result = sweep_refusals["unreachable-database"]
    (line,) = error_lines(result.stderr)
    assert "***" in line
    assert "s3cret" not in result.stderr + result.stdout


def test_sweep_bad_database_port_password_masked(sweep_refusals):
    result = sweep_refusals["bad-database-port"]
    (line,) = error_lines(result.stderr)
    assert "scout:***@127.0.0.1:abc" in line
    assert "s3cret" not in result.stderr + result.stdout


# --- sweep and demo: real crawls against the sandbox -----------------------------------------


@pytest.mark.slow
def test_sweep_end_to_end(tmp_path):
    from crawler.sandbox.server import SandboxProcess
    from crawler.sandbox.world import World

    counts = World(200, 3).tags()
    tags = sorted(counts, key=lambda tag: (-counts[tag], tag))[:2]
    database = tmp_path / "w.sqlite"
    output = tmp_path / "out.csv"
    with SandboxProcess(accounts=200, seed=3, rate_limit=1_000_000) as sandbox:
        result = microscout("sweep", "--platform", "mastodon", "--instance", sandbox.base_url,
                            "--tags", ",".join(tags), "--database-url", f"sqlite:///{database}",
                            "--quiet", "--json", "--output", output, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)  # --quiet --json: the summary is all of stdout
    assert summary["finish_reason"] == "finished"
    assert summary["profiles"] > 0
    assert summary["quarantined"] == 0
    assert summary["spooled"] == 0

    with output.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert {"handle", "followers", "tier", "primary_niche"} <= set(reader.fieldnames or ())
        rows = list(reader)
    assert len(rows) == summary["profiles"]
    assert len({row["handle"] for row in rows}) == len(rows)
    for row in rows:
        assert row["handle"]
        assert not row["handle"].startswith("@")
        assert row["followers"].isdigit()
        assert row["tier"]
        assert row["discovered_via"] in tags

    with contextlib.closing(sqlite3.connect(database)) as conn:
        (stored,) = conn.execute("SELECT count(*) FROM profiles").fetchone()
    assert stored == summary["profiles"]
