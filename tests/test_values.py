"""The value normalisers in pipelines/values.py: one behaviour per case."""

from __future__ import annotations

import json
import sys
import unicodedata
from datetime import date, datetime, timedelta, timezone

import pytest

from crawler.items import PostItem, ProfileItem
from crawler.values import (
    BOUNDS,
    JSON_DEPTH_LIMIT,
    ImplausibleValue,
    UnreadableValue,
    check_bound,
    extract_hashtags,
    extract_mentions,
    html_to_text,
    mark_ranges,
    merge_tags,
    normalize_handle,
    normalize_tag,
    normalize_text,
    normalize_url,
    parse_count,
    parse_relative_time,
    parse_timestamp,
    storable_text,
    to_jsonable,
)

UTC = timezone.utc
NFD_CAFE = unicodedata.normalize("NFD", "#Café")


# --- parse_count -------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        (0, 0),
        (1234, 1234),
        (1234.0, 1234),
        ("0", 0),
        ("999", 999),
        ("1K", 1000),
        ("4001943", 4001943),
        ("46.3m", 46_300_000),
        ("12.3K", 12_300),
        ("1,234", 1234),
        ("1,000,000", 1_000_000),
        ("1 234", 1234),
        ("1\u00a0234", 1234),
        ("1\u202f234", 1234),
        ("1 234 567", 1_234_567),
        ("1'234", 1234),
        ("  1,234  ", 1234),
        ("25M subscribers", 25_000_000),
        ("1.65M subscribers", 1_650_000),
        ("25 million subscribers", 25_000_000),
        ("337 videos", 337),
        ("1.2 Mio.", 1_200_000),
        ("2.5B", 2_500_000_000),
        ("1,5 Mrd.", 1_500_000_000),
        ("4,69 M de suscriptores", 4_690_000),
        ("127.696 visualizaciones", 127_696),
        ("1,2 Mio. Abonnenten", 1_200_000),
        ("12,3 mil seguidores", 12_300),
        ("1,2 mi", 1_200_000),
        ("3,4 k", 3400),
        ("1,2 M d’abonnés", 1_200_000),
        ("12 mil M de visualizaciones", 12_000_000_000),
        ("1,2 mil millones", 1_200_000_000),
        ("12,3万人", 123_000),
        ("1.234.567 Beiträge", 1_234_567),
        ("1,234.5K", 1_234_500),
        ("12 posts", 12),
        ("12 mentions", 12),  # "m" of a word is not "million"
        ("5 Kommentare", 5),  # nor "K" of one "thousand"
        ("No views", 0),
        ("No subscribers", 0),
        ("Keine Aufrufe", 0),
    ],
)
def test_parse_count(raw, expected):
    assert parse_count(raw) == expected


@pytest.mark.parametrize(
    ("raw", "locale", "expected"),
    [
        ("4,69 M de suscriptores", "es", 4_690_000),
        ("127.696 visualizaciones", "es", 127_696),
        ("1,2 Mio. Abonnenten", "de-DE", 1_200_000),
        ("1.234", "de", 1234),
        ("1,5 Mrd.", "de", 1_500_000_000),
        ("12,3 mil seguidores", "pt_BR", 12_300),
        ("1,2 mi", "pt-BR", 1_200_000),
        ("3,4 k", "fr", 3400),
        ("1 234", "fr-FR", 1234),
        ("1,234", "en", 1234),
        ("1.2K", "en-US", 1200),
        ("4.69 M", "es-MX", 4_690_000),  # Mexico writes the decimal point
        ("1.65M", "es", 1_650_000),  # English-style text on a Spanish page still reads
        ("12,3 B", "tr", 12_300),  # Turkish "bin" is thousand
        ("1,2 M", "id", 1_200_000_000),  # Indonesian "miliar"
        ("2,5 mil.", "cs", 2_500_000),  # Czech "milionů"
        ("1,234", "xx", 1234),  # unknown language: inferred
    ],
)
def test_parse_count_locale(raw, locale, expected):
    assert parse_count(raw, locale) == expected


@pytest.mark.parametrize(
    ("raw", "locale"),
    [
        ("lots", None),
        ("--", None),
        ("1,5", None),  # decimal or grouping? no locale says
        ("1.5", None),
        ("1,23", None),
        ("1.234K", None),  # grouping before a multiplier makes no sense
        ("12 3", None),
        ("1.2.3", None),
        ("12 T", None),  # an abbreviation we do not know
        ("1.2M views • 3 days ago", None),  # two numbers
        ("-5", None),
        ("−5", None),
        ("1,5", "de"),  # 1.5 is not a count
        ("1.234", "en"),
        (True, None),
        (False, None),
        (-1, None),
        (1.5, None),
        (float("nan"), None),
        ([1], None),
    ],
)
def test_parse_count_unreadable(raw, locale):
    with pytest.raises(UnreadableValue) as info:
        parse_count(raw, locale)
    assert info.value.raw is raw
    assert info.value.kind == "count"


# --- parse_timestamp -----------------------------------------------------------------------

T0 = datetime(2023, 4, 29, 22, 59, 32, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, None),
        ("", None),
        (1682809172, T0),
        (1682809172.5, T0.replace(microsecond=500_000)),
        ("1682809172", T0),
        (1682809172466, T0.replace(microsecond=466_000)),
        ("1682809172466", T0.replace(microsecond=466_000)),
        ("2023-04-29T22:59:32.466Z", T0.replace(microsecond=466_000)),
        ("2023-04-29T22:59:32Z", T0),
        ("2020-04-10T13:41:54.000000Z", datetime(2020, 4, 10, 13, 41, 54, tzinfo=UTC)),
        ("2023-04-29T22:59:32.123456789Z", T0.replace(microsecond=123_456)),
        ("2023-04-30T00:59:32+02:00", T0),
        ("2023-04-29T17:29:32-0530", T0),
        ("2023-04-29 22:59:32", T0),
        ("2023-04-29", datetime(2023, 4, 29, tzinfo=UTC)),
        ("Sun, 30 Apr 2023 00:59:32 +0200", T0),
        ("Sat, 29 Apr 2023 22:59:32 GMT", T0),
        ("Sat, 29 Apr 2023 22:59:32 -0000", T0),
        (datetime(2023, 4, 29, 22, 59, 32), T0),  # naive = UTC
        (datetime(2023, 4, 30, 0, 59, 32, tzinfo=timezone(timedelta(hours=2))), T0),
        (date(2023, 4, 29), datetime(2023, 4, 29, tzinfo=UTC)),
    ],
)
def test_parse_timestamp(raw, expected):
    parsed = parse_timestamp(raw)
    assert parsed == expected
    if parsed is not None:
        assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("raw", ["lots", "--", "2023-13-45", "yesterday", True, -5, [2023]])
def test_parse_timestamp_unreadable(raw):
    with pytest.raises(UnreadableValue) as info:
        parse_timestamp(raw)
    assert info.value.kind == "timestamp"


# --- parse_relative_time -------------------------------------------------------------------

NOW = datetime(2024, 3, 31, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected", "precision"),
    [
        ("8 years ago", datetime(2016, 3, 31, 12, tzinfo=UTC), "year"),
        ("3 weeks ago", datetime(2024, 3, 10, 12, tzinfo=UTC), "week"),
        ("Streamed 2 days ago", datetime(2024, 3, 29, 12, tzinfo=UTC), "day"),
        ("1 hour ago", datetime(2024, 3, 31, 11, tzinfo=UTC), "hour"),
        ("an hour ago", datetime(2024, 3, 31, 11, tzinfo=UTC), "hour"),
        ("5 minutes ago", datetime(2024, 3, 31, 11, 55, tzinfo=UTC), "minute"),
        ("30 seconds ago", datetime(2024, 3, 31, 11, 59, 30, tzinfo=UTC), "second"),
        ("1 month ago", datetime(2024, 2, 29, 12, tzinfo=UTC), "month"),  # day clamped
        ("hace 3 días", datetime(2024, 3, 28, 12, tzinfo=UTC), "day"),
        ("Transmitido hace un año", datetime(2023, 3, 31, 12, tzinfo=UTC), "year"),
        ("vor 2 Monaten", datetime(2024, 1, 31, 12, tzinfo=UTC), "month"),
        ("vor einem Jahr", datetime(2023, 3, 31, 12, tzinfo=UTC), "year"),
        ("há 5 meses", datetime(2023, 10, 31, 12, tzinfo=UTC), "month"),
        ("há 2 semanas", datetime(2024, 3, 17, 12, tzinfo=UTC), "week"),
        ("il y a 2 ans", datetime(2022, 3, 31, 12, tzinfo=UTC), "year"),
        ("il y a 3 heures", datetime(2024, 3, 31, 9, tzinfo=UTC), "hour"),
    ],
)
def test_parse_relative_time(text, expected, precision):
    assert parse_relative_time(text, NOW) == (expected, precision)


def test_parse_relative_time_naive_now_is_utc():
    assert parse_relative_time("2 days ago", datetime(2024, 3, 31, 12)) == (
        datetime(2024, 3, 29, 12, tzinfo=UTC), "day")


@pytest.mark.parametrize("text", [None, "", "hello", "hours ago", "Premiered Mar 3, 2020", "2023"])
def test_parse_relative_time_not_relative(text):
    assert parse_relative_time(text, NOW) is None


# --- normalize_handle ----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("value", "platform", "instance", "expected"),
    [
        (None, "instagram", None, None),
        ("  ", "instagram", None, None),
        ("@", "instagram", None, None),
        (" @Foo.Bar ", "instagram", None, "foo.bar"),
        ("https://www.instagram.com/Foo/", "instagram", None, "foo"),
        ("instagram.com/Foo", "instagram", None, "foo"),
        ("www.instagram.com/Foo", "instagram", None, "foo"),
        ("WWW.Fitness", "instagram", None, "www.fitness"),  # a handle, not a URL
        ("https://www.instagram.com/p/Cabc123/", "instagram", None, None),  # a post, not an account
        ("@Foo", "tiktok", None, "foo"),
        ("https://www.tiktok.com/@foo?lang=en", "tiktok", None, "foo"),
        ("https://www.tiktok.com/@Foo/video/7123", "tiktok", None, "foo"),
        ("https://www.youtube.com/@Name", "youtube", None, "name"),
        ("https://www.youtube.com/@Name/videos", "youtube", None, "name"),
        ("@Kurzgesagt", "youtube", None, "kurzgesagt"),
        ("UCsXVk37bltHxD1rDPwtNM8Q", "youtube", None, "UCsXVk37bltHxD1rDPwtNM8Q"),  # channel id
        ("https://www.youtube.com/channel/UCsXVk37bltHxD1rDPwtNM8Q", "youtube", None,
         "UCsXVk37bltHxD1rDPwtNM8Q"),
        ("https://mastodon.social/@bob", "mastodon", None, "bob@mastodon.social"),
        ("https://mastodon.social/@alice@Other.Example", "mastodon", None, "alice@other.example"),
        ("https://mastodon.social/users/Bob", "mastodon", None, "bob@mastodon.social"),
        ("@Bob@Mastodon.Social", "mastodon", None, "bob@mastodon.social"),
        ("bob", "mastodon", "https://Mastodon.Social/api/v1/accounts/1", "bob@mastodon.social"),
        ("bob", "mastodon", "mastodon.social", "bob@mastodon.social"),
        ("bob@fosstodon.org", "mastodon", "mastodon.social", "bob@fosstodon.org"),  # own host wins
        ("bob", "mastodon", None, "bob"),
        ("Dansup", "pixelfed", "pixelfed.de", "dansup@pixelfed.de"),
        ("https://pixelfed.de/Dansup", "pixelfed", None, "dansup@pixelfed.de"),
        ("Name.Bsky.Social", "bluesky", None, "name.bsky.social"),
        ("@name.bsky.social", "bluesky", None, "name.bsky.social"),
        ("https://bsky.app/profile/Name.bsky.social", "bluesky", None, "name.bsky.social"),
        ("did:plc:z72i7hdynmk6r22z27h6tvur", "bluesky", None, "did:plc:z72i7hdynmk6r22z27h6tvur"),
        ("@Foo", "INSTAGRAM", None, "foo"),
    ],
)
def test_normalize_handle(value, platform, instance, expected):
    assert normalize_handle(value, platform, instance=instance) == expected


# --- tags and mentions ---------------------------------------------------------------------

@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("#Café", "café"),
        ("café", "café"),
        (NFD_CAFE, "café"),
        (" #Vegan ", "vegan"),
        ("##double", "double"),
        ("＃Fullwidth", "fullwidth"),
        ("#美食", "美食"),
        ("#", None),
        ("  ", None),
        (None, None),
    ],
)
def test_normalize_tag(tag, expected):
    assert normalize_tag(tag) == expected


def test_normalize_tag_composed_and_decomposed_are_one():
    assert normalize_tag("#Café") == normalize_tag(NFD_CAFE) == normalize_tag("#café")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, []),
        ("no tags here", []),
        ("#Vegan #vegan #VEGAN", ["vegan"]),
        ("#plantbased then #vegan", ["plantbased", "vegan"]),
        ("Lunch #vegan🌱 #🌱 yum", ["vegan"]),
        ("🎉#party🎉", ["party"]),
        ("#Café and #café", ["café"]),
        (f"{NFD_CAFE} then #café", ["café"]),  # decomposed accent stays in the tag
        ("مرحبا #مرحبا_بكم في", ["مرحبا_بكم"]),  # Arabic, right to left
        ("שלום #שלום עולם", ["שלום"]),  # Hebrew
        ("今日は #美食 と #ラーメン", ["美食", "ラーメン"]),  # CJK
        ("#भारत", ["भारत"]),  # Devanagari vowel signs are combining marks
        ("It&#39;s #fine", ["fine"]),  # an HTML entity is not a tag
        ("a#b c#d", []),
        ("#123 #2024", []),  # digits only
        ("#2024goals #_1", ["2024goals", "_1"]),
        ("#1️⃣", []),
        ("see https://example.com/#anchor", []),
        ("(#wrapped), #end.", ["wrapped", "end"]),
    ],
)
def test_extract_hashtags(text, expected):
    assert extract_hashtags(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, []),
        ("hi @Bob", ["bob"]),
        ("hi @Bob, and @bob again", ["bob"]),
        ("cc @alice@Mastodon.Social.", ["alice@mastodon.social"]),
        ("thanks @name.bsky.social!", ["name.bsky.social"]),
        ("@foo.bar @baz_1", ["foo.bar", "baz_1"]),
        ("mail me: a@b.com", []),
        ("@user@instance", ["user"]),
    ],
)
def test_extract_mentions(text, expected):
    assert extract_mentions(text) == expected


@pytest.mark.parametrize(
    ("lists", "expected"),
    [
        ((["#A", "b"], ["a", "C"]), ["a", "b", "c"]),
        ((None, ["x"], []), ["x"]),
        ((["#Café"], [NFD_CAFE]), ["café"]),
        ((["#", ""],), []),
        ((), []),
    ],
)
def test_merge_tags(lists, expected):
    assert merge_tags(*lists) == expected


def test_mark_spans_cover_every_combining_mark():
    found = {c for a, b in mark_ranges() for c in range(a, b + 1)}
    expected = {
        c for c in range(sys.maxunicode + 1)
        if unicodedata.category(chr(c)) in ("Mn", "Mc")
        and not (0xFE00 <= c <= 0xFE0F or 0xE0100 <= c <= 0xE01EF)  # variation selectors
    }
    assert found == expected


# --- text, HTML, URLs ----------------------------------------------------------------------

MASTODON_LINK = (
    '<a href="https://example.com/very/long/path" rel="nofollow noopener" target="_blank">'
    '<span class="invisible">https://</span><span class="ellipsis">example.com/very/lo</span>'
    '<span class="invisible">ng/path</span></a>'
)


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        (None, ""),
        ("plain & simple", "plain & simple"),
        ("<p>One</p><p>Two</p>", "One\n\nTwo"),
        ("<p>line1<br>line2<br />line3</p>", "line1\nline2\nline3"),
        ("Wandertag<br />\n<br />\nnäher", "Wandertag\n\nnäher"),  # Pixelfed capture
        ("<p>Tom &amp; Jerry &lt;3 &#39;x&#39;</p>", "Tom & Jerry <3 'x'"),
        (f"<p>Read {MASTODON_LINK} now</p>", "Read https://example.com/very/long/path now"),
        ('<p><a href="https://m.s/tags/vegan" class="mention hashtag">#<span>vegan</span></a></p>',
         "#vegan"),
    ],
)
def test_html_to_text(html, expected):
    assert html_to_text(html) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, None),
        ("   ", None),
        ("  hi  ", "hi"),
        ("Cafe\u0301", "Café"),
        ("Robert'); DROP TABLE profiles;--", "Robert'); DROP TABLE profiles;--"),
        ("<script>alert(1)</script>", "<script>alert(1)</script>"),
        ("🌱 vegan  life 🌱", "🌱 vegan  life 🌱"),
        ("שלום עולם", "שלום עולם"),
        ("line1\n\nline2", "line1\n\nline2"),
    ],
)
def test_normalize_text(text, expected):
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    ("url", "base", "expected"),
    [
        (None, None, None),
        ("  ", None, None),
        (" https://example.com/a ", None, "https://example.com/a"),
        ("HTTPS://WWW.Example.COM/Path", None, "https://www.example.com/Path"),
        ("www.example.com/shop", None, "https://www.example.com/shop"),
        ("linktr.ee/someone", None, "https://linktr.ee/someone"),
        ("/p/abc/", "https://www.instagram.com/foo/", "https://www.instagram.com/p/abc/"),
        ("abc", "https://www.instagram.com/foo/", "https://www.instagram.com/foo/abc"),
        ("www.example.com", "https://www.instagram.com/foo/", "https://www.example.com"),
        ("//cdn.example.com/a.jpg", None, "https://cdn.example.com/a.jpg"),
        ("//cdn.example.com/a.jpg", "http://x.test/", "http://cdn.example.com/a.jpg"),
        ("/relative", None, None),  # nothing to resolve it against
        ("javascript:alert(1)", None, None),
        (" JavaScript:alert(1)", None, None),
        ("java\tscript:alert(1)", None, None),
        ("data:text/html,<b>x</b>", None, None),
        ("javascript:alert(1)", "https://x.test/", None),
        ("mailto:me@example.com", None, "mailto:me@example.com"),
    ],
)
def test_normalize_url(url, base, expected):
    assert normalize_url(url, base) == expected


# --- to_jsonable ---------------------------------------------------------------------------

def test_to_jsonable_profile_with_posts():
    profile = ProfileItem(
        platform="instagram", handle="foo", followers="1.2K", fetched_at=T0,
        recent_posts=[PostItem(post_id="1", posted_at=T0, hashtags=["a"], likes=3)],
    )
    data = to_jsonable(profile)
    assert json.loads(json.dumps(data)) == data
    assert data["fetched_at"] == "2023-04-29T22:59:32+00:00"
    assert data["recent_posts"][0]["posted_at"] == "2023-04-29T22:59:32+00:00"
    assert data["recent_posts"][0]["likes"] == 3


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"caf\xc3\xa9", "café"),
        ((1, "a"), [1, "a"]),
        ({1: date(2024, 1, 2)}, {"1": "2024-01-02"}),
        (float("inf"), "inf"),
    ],
)
def test_to_jsonable_values(value, expected):
    assert to_jsonable(value) == expected


def test_to_jsonable_makes_text_storable():
    assert to_jsonable({"a\x00": ["b\ud800", b"c\x00"]}) == {"a\ufffd": ["b\ufffd", "c\ufffd"]}


def test_to_jsonable_cuts_nesting_deeper_than_the_limit():
    deep: list = ["bottom"]
    for _ in range(5_000):
        deep = [deep]
    data = to_jsonable({"payload": deep})
    json.dumps(data)  # no RecursionError on the way to the database
    for _ in range(JSON_DEPTH_LIMIT - 1):
        data = data["payload"] if isinstance(data, dict) else data[0]
    assert data == [f"<list nested deeper than {JSON_DEPTH_LIMIT} levels, not kept>"]


# --- plausible bounds --------------------------------------------------------------------

@pytest.mark.parametrize(
    ("name", "value", "plausible"),
    [
        ("followers", 0, True),
        ("followers", 10**10, True),
        ("followers", 10**10 + 1, False),
        ("followers", 2**63, False),
        ("following", 10**18, False),
        ("posts_count", 10**9, True),
        ("posts_count", 10**9 + 1, False),
        ("likes", 10**10 + 1, False),
        ("views", 10**12, True),
        ("views", 10**12 + 1, False),
        ("posts_per_week", 10_080.0, True),
        ("posts_per_week", 10_080.5, False),
        ("engagement_rate", 4_000.0, True),
        ("engagement_rate", float("nan"), False),
        ("engagement_per_view", float("inf"), False),
        ("position", 2**31, False),
        ("comments", -1, False),
    ],
)
def test_check_bound(name, value, plausible):
    if plausible:
        assert check_bound(name, value) == value
    else:
        with pytest.raises(ImplausibleValue) as caught:
            check_bound(name, value)
        assert caught.value.kind == name
        assert caught.value.reason == "implausible_value"


def test_check_bound_passes_none():
    assert check_bound("followers", None) is None


def test_bounds_cover_every_count_and_figure():
    counts = {"followers", "following", "posts_count", "likes", "comments", "shares", "views"}
    figures = {"engagement_rate", "engagement_rate_median", "engagement_per_view",
               "posts_per_week"}
    assert counts | figures | {"position"} == set(BOUNDS)


@pytest.mark.parametrize("raw", ["9" * 31, "9" * 5_000, "1," + "000," * 15 + "000"])
def test_parse_count_of_more_than_30_digits_is_implausible(raw):
    with pytest.raises(ImplausibleValue):
        parse_count(raw)


def test_parse_count_of_30_digits_still_reads():
    assert parse_count("9" * 30) == 10**30 - 1  # the bound is the pipeline's to check


def test_parse_count_of_long_text_is_unreadable():
    with pytest.raises(UnreadableValue) as caught:
        parse_count("about " + "lots and " * 50 + "5 followers")
    assert not isinstance(caught.value, ImplausibleValue)


def test_parse_count_ignores_a_locale_that_is_not_text():
    assert parse_count("1.234", ["de"]) == 1234


def test_storable_text():
    assert storable_text("ok \u00e9 \U0001f600") == "ok \u00e9 \U0001f600"
    assert storable_text("a\x00b\ud83d") == "a\ufffdb\ufffd"


# --- input that is out of range or not text ------------------------------------------------

@pytest.mark.parametrize(
    "raw",
    [
        10**400,
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))),
        datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))),
    ],
)
def test_parse_timestamp_out_of_range_is_unreadable(raw):
    with pytest.raises(UnreadableValue):
        parse_timestamp(raw)


def test_parse_relative_time_with_a_huge_number_is_not_relative():
    assert parse_relative_time("9" * 5_000 + " years ago", T0) is None


def test_parse_relative_time_with_an_out_of_range_now_is_not_relative():
    now = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1)))
    assert parse_relative_time("3 days ago", now) is None


@pytest.mark.parametrize("value", [5, ["<p>#a @b</p>"], {"text": "#a"}, True])
def test_text_helpers_give_nothing_for_what_is_not_text(value):
    assert html_to_text(value) == ""
    assert extract_hashtags(value) == []
    assert extract_mentions(value) == []
