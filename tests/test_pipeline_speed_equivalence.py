"""The pipelines' and the loader's fast paths give what the generic code gives.

Each shortcut taken for the crawl's hot path (issue 13: a crawl with every pipeline on should
cost little more than one without) is checked here against the code it stands in for: the
regex host read against ``urlsplit``, the memoised handle and tag normalisers against their
uncached bodies, the storable-text check against ``storable_text``, the count fast path against
``parse_count`` + ``check_bound``, the one-pass hashtag split in the niche tagger against
``hashtags_in`` + ``HASHTAG.sub``, the loader's datetime text against ``strftime``, and SQLite's
multi-row upserts and one-row JSON look-ups against executemany and plain rows.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine

from crawler import values
from crawler.items import PostItem, ProfileItem
from crawler.values import (
    ImplausibleValue,
    UnreadableValue,
    check_bound,
    is_storable,
    normalize_handle,
    normalize_tag,
    parse_count,
    storable_text,
)
from models import loader
from pipelines import niche, normalize
from pipelines.niche import Taxonomy, TaxonomyTagger
from pipelines.nichetext import HASHTAG

URLS = [
    "http://127.0.0.1:45039/@omarpaws63/117335069981540360",
    "https://Example.SOCIAL/@Alice", "https://example.social", "https://example.social?x=1",
    "https://example.social#frag", "HTTPS://WWW.Example.com:8443/p/abc/", "http:///path",
    "https://user:pw@example.social/x", "https://[::1]:8080/x", "https://exa mple.com/x",
    "https://example.com\t/x", "https://ex\nample.com/x", " https://example.com/x",
    "https://bücher.de/x", "https://example.com:abc/x", "ftp://files.example.com/a",
    "//example.com/x", "example.com/x", "mailto:someone@example.com", "https://example.com.:80/",
    "https://example.com/\n/x", "a+b.c-d://host.example/x", "1http://host/x", "",
    "https://-weird-.example/", "https://example.com:/x", "https://example.com@evil.com/x",
]


def _reference_host(url: str | None) -> str | None:
    if not url:
        return None
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


@pytest.mark.parametrize("url", URLS)
def test_host_reads_what_urlsplit_reads(url):
    assert normalize._host(url) == _reference_host(url)


TEXTS = ["", "plain", "caf\u00e9", "nul\x00here", "lone \ud800 surrogate", "\udfff", "emoji \U0001f43e",
         "a\x00\u00e9", "tab\tand\nnewline", "\ufffd"]


@pytest.mark.parametrize("text", TEXTS)
def test_is_storable_is_storable_text_leaving_the_text_as_it_is(text):
    assert is_storable(text) == (storable_text(text) == text)


class Text(str):
    pass


def _reference_storable(item):
    """pipelines.normalize._storable before the fast path."""
    for field in dataclasses.fields(item):
        value = getattr(item, field.name)
        if isinstance(value, str):
            setattr(item, field.name, storable_text(value))
        elif isinstance(value, list) and any(isinstance(v, str) for v in value):
            setattr(item, field.name, [storable_text(v) if isinstance(v, str) else v for v in value])


@pytest.mark.parametrize("text", [*TEXTS, Text("sub"), Text("sub\x00")])
@pytest.mark.parametrize("tags", [[], ["a", "b"], ["a\x00"], ["\ud800", 3], [Text("x")], [1, None],
                                  ["a", "\udc00b"]])
def test_storable_gives_what_storable_text_gives(text, tags):
    fast = PostItem(post_id="1", text=text, hashtags=list(tags), mentions=["m"], media_type=text)
    slow = PostItem(post_id="1", text=text, hashtags=list(tags), mentions=["m"], media_type=text)
    normalize._storable(fast)
    _reference_storable(slow)
    for field in dataclasses.fields(PostItem):
        a, b = getattr(fast, field.name), getattr(slow, field.name)
        assert a == b, field.name
        assert type(a) is type(b), field.name
        if isinstance(a, list):
            assert [type(v) for v in a] == [type(v) for v in b], field.name


HANDLES = ["@Alice", "alice@Example.Social", "https://example.social/@Bob", "@", "", "  ",
           "https://www.instagram.com/p/abc/", "UCabcdefghijklmnopqrstuv", "did:plc:xyz",
           "name.bsky.social.", "https://bsky.app/profile/Name.bsky.social", "user@", "@x@y@z"]
PLATFORMS = [None, "mastodon", "Mastodon ", "instagram", "youtube", "bluesky", "pixelfed", "tiktok",
             "other"]


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("instance", [None, "Example.Social", "https://host.example:8080/x"])
def test_memoised_handles_are_the_handles(platform, instance):
    for handle in HANDLES:
        expected = values._normalize_handle(handle, platform, instance)
        assert normalize_handle(handle, platform, instance=instance) == expected
        assert normalize_handle(handle, platform, instance=instance) == expected  # from the cache


@pytest.mark.parametrize("tag", ["#Café", "＃Tag", "  #  ", "Cafe\u0301", "ÉTÉ", "x", 5, 1.5, True,
                                 Text("#Sub")])
def test_memoised_tags_are_the_tags(tag):
    expected = values._normalize_tag_text.__wrapped__(str(tag))  # the uncached body
    assert normalize_tag(tag) == expected
    assert normalize_tag(tag) == expected


@pytest.mark.parametrize("raw", [None, 0, 5, -1, 10**10, 10**10 + 1, 10**13, True, 5.0, "12", "1.2k"])
@pytest.mark.parametrize("name", ["followers", "likes", "views", "posts_count"])
def test_count_fast_path_is_parse_count_and_check_bound(raw, name):
    item = ProfileItem() if name in ("followers", "posts_count") else PostItem()
    setattr(item, name, raw)
    problems: list[dict] = []
    got = normalize.NormalizePipeline()._count(item, name, None, problems)
    try:
        expected, reason = check_bound(name, parse_count(raw, None)), None
    except ImplausibleValue:
        expected, reason = None, "implausible_value"
    except UnreadableValue:
        expected, reason = None, "unreadable_count"
    assert got == expected
    assert type(got) is type(expected)
    assert [p["reason"] for p in problems] == ([reason] if reason else [])


@pytest.mark.parametrize("text", ["no tags", "#one", "a #two and #Three. #4", "C# &#39; x/#frag",
                                  "＃fullwidth ok", "#a#b #c_d", "end #", "#"])
def test_hashtag_split_is_hashtags_in_and_sub(text):
    tags, stripped = niche._split_hashtags(text)
    assert tags == niche.hashtags_in(text)
    assert stripped == HASHTAG.sub(" ", text)
    assert niche._strip_urls(stripped) == niche.strip_hashtags_and_urls(text)


def test_profile_scores_are_the_scores_of_its_texts():
    tagger = TaxonomyTagger(Taxonomy.load())
    posts = [PostItem(text="Leg day at the gym #fitness #GymLife https://x.example/a", hashtags=["workout"]),
             PostItem(text="Vegan recipes tonight: www.Example.com #VeganRecipes", hashtags=[]),
             PostItem(text=None, hashtags=["travel"]), PostItem(text="", hashtags=["food"]),
             PostItem(text="Cute cat #catsofinstagram #catlover", hashtags=["caturday"])]
    item = ProfileItem(bio="Coach #fitness | runner www.coach.example", category="Fitness Trainer",
                       recent_posts=posts)
    tags = [t for p in posts for t in niche._unique_tags(p.hashtags, p.text)]
    expected = tagger.score(bio=item.bio, category=item.category, hashtags=tags,
                            texts=[p.text for p in posts if p.text], n_posts=len(posts))
    assert tagger.score_profile(item) == expected
    assert expected  # the case scores something


@pytest.mark.parametrize("moment", [
    datetime(2026, 9, 26, 2, 51, 22, 482000, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC),
    datetime(1000, 1, 1, tzinfo=UTC), datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(5, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 0, tzinfo=UTC),
    datetime(2026, 3, 1, 0, 30, tzinfo=timezone(timedelta(hours=2))),
])
def test_sqlite_time_is_strftime(moment):
    expected = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    assert loader._sqlite_time.__wrapped__(moment) == expected


@pytest.fixture
def sqlite_conn():
    engine = create_engine("sqlite://")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, platform TEXT, k TEXT, v TEXT, "
                             "n INTEGER, UNIQUE (platform, k))")
        yield conn
    engine.dispose()


ROWS = [("p", "a", "1", 1), ("p", "b", "2", 2), ("p", "a", "3", 3), ("q", "a", None, 4),
        ("p", "b", "5", None), ("p", "c\u00e9 \"'\U0001f43e", "6", 6)]
UPDATES = {"v": "excluded.v", "n": "COALESCE(excluded.n, t.n)"}


def _table(conn) -> list[tuple]:
    return conn.exec_driver_sql("SELECT * FROM t ORDER BY id").all()


@pytest.mark.parametrize("per_statement", [1, 2, 4, 500])
def test_multi_row_upserts_are_executemany(sqlite_conn, monkeypatch, per_statement):
    sqlite_conn.exec_driver_sql(loader._upsert_sql(sqlite_conn, "t", ("platform", "k", "v", "n"),
                                                   ("platform", "k"), UPDATES), ROWS)
    expected = _table(sqlite_conn)
    sqlite_conn.exec_driver_sql("DELETE FROM t")
    monkeypatch.setattr(loader, "SQLITE_ROWS_PER_STATEMENT", per_statement)
    loader._upsert_rows(sqlite_conn, "t", ("platform", "k", "v", "n"), ("platform", "k"), ROWS, UPDATES)
    got = _table(sqlite_conn)
    assert [row[1:] for row in got] == [row[1:] for row in expected]
    assert len({row[0] for row in got}) == len(got)


def test_multi_row_upsert_refuses_a_row_of_the_wrong_width(sqlite_conn):
    with pytest.raises(ValueError, match="values"):
        loader._upsert_rows(sqlite_conn, "t", ("platform", "k", "v", "n"), ("platform", "k"),
                            [("p", "a", "1", 1), ("p", "b", "2")])


def test_json_pairs_are_the_rows(sqlite_conn):
    loader._upsert_rows(sqlite_conn, "t", ("platform", "k", "v", "n"), ("platform", "k"), ROWS, UPDATES)
    keys = sorted({row[1] for row in ROWS if row[0] == "p"})
    found = loader._ids_by(sqlite_conn, "t", "k", [("p", key) for key in keys] + [("p", "missing")])
    rows = sqlite_conn.exec_driver_sql("SELECT id, k FROM t WHERE platform = 'p'").all()
    assert found == {("p", k): row_id for row_id, k in rows}
    assert all(type(k) is str and type(v) is int for (_, k), v in found.items())


def test_sqlite_variable_limit_is_the_connections(sqlite_conn):
    limit = loader._sqlite_variable_limit(sqlite_conn)
    assert limit == sqlite3.connect(":memory:").getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
