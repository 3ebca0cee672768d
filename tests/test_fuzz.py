"""Fuzz suite: mutated real captures and sandbox bodies through the parsers and the pipelines.

Seeds are every capture in ../shared/realworld/<platform>/ (each recorded response of a
cassette is one seed; the tests skip when the folder is absent) and every response of the
sandbox sweeps recorded in cassettes/. Hypothesis mutates them, derandomised (the same inputs
on every run, no example database), and feeds each body to ``parse_document`` of its platform
(and to the helpers the spiders read cursors and ids with), and every item through
validate -> normalise -> engagement -> tier -> niche (no database). 2,200 mutated inputs a
run, about 10 s; ``pytest -s`` prints how many were tried, rejected and checked.

Mutations, on the JSON a body holds (a JSON body, or the largest JSON object in a page's
script): numbers made huge, negative, fractional, non-finite or text; keys dropped; values
replaced by null, lists, objects, nesting thousands deep, strings with NUL bytes, control
characters or lone surrogates; and on the text itself: truncation, control characters, deep
nesting. Sizes are bounded.

Properties: a parser either returns items or raises a typed crawl error
(:class:`crawler.errors.CrawlError`), never anything else; the pipelines never raise; what
comes out is storable on SQLite and PostgreSQL (counts within ``crawler.values.BOUNDS`` and
so below 2^63, text within its column length and free of NUL, datetimes timezone-aware UTC,
finite derived figures); and every rejection is a ``RejectedItem`` with a reason.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scrapy.utils.misc import build_from_crawler, load_object
from scrapy.utils.test import get_crawler

from crawler import settings as project_settings
from crawler.errors import CrawlError
from crawler.items import PLATFORMS, HashtagSightingItem, PostItem, ProfileItem, RejectedItem
from crawler.parsers import bluesky, instagram, loads_json, parser_for, tiktok, youtube
from crawler.platforms import REGISTRY
from crawler.values import BOUNDS, TEXT_LIMITS, to_jsonable

REPO = Path(__file__).resolve().parents[1]
REALWORLD = REPO.parent / "shared" / "realworld"
CASSETTES = REPO / "cassettes"
PARSED_PLATFORMS = ("bluesky", "instagram", "mastodon", "pixelfed", "tiktok", "youtube")

#: Examples per test; together well over the 2,000 inputs a run must try.
REALWORLD_EXAMPLES = 1_400
SANDBOX_EXAMPLES = 800
#: CPU seconds one input may take before it counts as a hang (typical: a few milliseconds).
MAX_CPU_SECONDS = 5.0
MAX_NESTING = 3_000
MAX_TEXT = 5_000

FUZZ_SETTINGS = settings(
    derandomize=True, database=None, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --- seeds ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seed:
    platform: str
    name: str
    body: str
    url: str | None
    headers: tuple[tuple[str, str], ...] = ()


def _cassette_seeds(platform: str, path: Path) -> list[Seed]:
    cassette = yaml.safe_load(path.read_text(encoding="utf-8"))
    seeds = []
    for index, interaction in enumerate(cassette["interactions"]):
        uri = interaction["request"]["uri"]
        body = interaction["response"]["body"]["string"]
        if uri.endswith("/robots.txt") or not isinstance(body, str) or not body:
            continue
        headers = tuple((k, v[0] if isinstance(v, list) else v)
                        for k, v in (interaction["response"].get("headers") or {}).items()
                        if isinstance(v, (list, str)) and v)
        seeds.append(Seed(platform, f"{path.name}#{index}", body, uri, headers))
    return seeds


@cache
def realworld_seeds() -> tuple[Seed, ...]:
    seeds: list[Seed] = []
    for platform in PARSED_PLATFORMS:
        folder = REALWORLD / platform
        for path in sorted(folder.iterdir()) if folder.is_dir() else ():
            if path.suffix in (".yaml", ".yml"):
                seeds.extend(_cassette_seeds(platform, path))
            elif path.is_file():
                text = path.read_bytes().decode("utf-8", errors="replace")
                seeds.append(Seed(platform, path.name, text, None))
    return tuple(seeds)


@cache
def sandbox_seeds() -> tuple[Seed, ...]:
    seeds: list[Seed] = []
    for path in sorted(CASSETTES.glob("sandbox_*_sweep.yaml")):
        name = path.name.removeprefix("sandbox_").removesuffix("_sweep.yaml")  # youtube_api, ...
        platform = next(p for p in REGISTRY if name == p or name.startswith(f"{p}_"))
        seeds.extend(_cassette_seeds(platform, path))
    return tuple(seeds)


# --- the JSON inside a body -------------------------------------------------------------------

_SCRIPT_RE = re.compile(r"<script[^>]*>", re.IGNORECASE)
_ASSIGN_RE = re.compile(r"\s*(?:var\s+)?[\w.$\[\]'\"]*\s*=\s*")


@dataclass(frozen=True)
class Region:
    """A body split around the JSON value it carries: prefix + json + suffix."""

    prefix: str
    data: Any
    suffix: str
    paths: tuple[tuple[Any, ...], ...]


def _paths(data: Any, limit: int = 20_000) -> tuple[tuple[Any, ...], ...]:
    found: list[tuple[Any, ...]] = []
    stack: list[tuple[Any, tuple[Any, ...]]] = [(data, ())]
    while stack and len(found) < limit:
        node, path = stack.pop()
        if isinstance(node, dict):
            children = list(node.items())
        elif isinstance(node, list):
            children = list(enumerate(node))
        else:
            continue
        for key, value in children:
            found.append((*path, key))
            stack.append((value, (*path, key)))
    return tuple(sorted(found, key=lambda p: [str(k) for k in p]))


@cache
def region(seed: Seed) -> Region | None:
    """The JSON of a JSON body, else the largest JSON value in a page's scripts."""
    text = seed.body.lstrip("\ufeff \t\r\n")
    if text[:1] in "{[":
        try:
            data = json.loads(text)
        except ValueError:
            return None
        return Region("", data, "", _paths(data))
    best: tuple[int, int, Any] | None = None
    decoder = json.JSONDecoder()
    for match in _SCRIPT_RE.finditer(seed.body):
        start = match.end()
        assign = _ASSIGN_RE.match(seed.body, start)
        if assign and seed.body[assign.end():assign.end() + 1] in "{[":
            start = assign.end()
        try:
            data, end = decoder.raw_decode(seed.body, start)
        except ValueError:
            continue
        if isinstance(data, (dict, list)) and (best is None or end - start > best[1] - best[0]):
            best = (start, end, data)
    if best is None:
        return None
    start, end, data = best
    return Region(seed.body[:start], data, seed.body[end:], _paths(data))


# --- mutations --------------------------------------------------------------------------------

HUGE_NUMBERS = [2**63, 2**63 - 1, 2**64, 2**70, 10**18, 10**308, -1, -(2**63), 0, 1e308, 1e18,
                -0.5, 0.5, 1.5, 1e-300, float("inf"), float("-inf"), float("nan")]
ODD_STRINGS = ["", " ", "1e18", "99999999999999999999999", "-5", "NaN", "Infinity", "12.3K",
               "1,5", "0x10", "1" * 400, "9" * MAX_TEXT, "a\x00b", "\x00", "\x01\x02\x1b[31m\x7f",
               "\u202e\u200b\ufeff", "\ud800", "line\nbreak\r\n", "<script>", "#" * 300,
               "@" * 300, "é" * 300, "2026-13-45T99:99:99Z", "-0001-01-01T00:00:00Z",
               "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"]
PLACEHOLDER = "\ue000fuzz-nest\ue000"


def _replacement(draw: st.DrawFn, current: Any) -> Any:
    kind = draw(st.sampled_from(["number", "string", "null", "bool", "list", "dict", "wrap_list",
                                 "wrap_dict", "nest", "text_edit", "number_edit"]))
    if kind == "number":
        return draw(st.sampled_from(HUGE_NUMBERS) | st.integers(-(2**80), 2**80)
                    | st.floats(allow_nan=True, allow_infinity=True))
    if kind == "string":
        return draw(st.sampled_from(ODD_STRINGS) | st.text(max_size=40))
    if kind == "null":
        return None
    if kind == "bool":
        return draw(st.booleans())
    if kind == "list":
        return []
    if kind == "dict":
        return {}
    if kind == "wrap_list":
        return [current]
    if kind == "wrap_dict":
        return {"value": current}
    if kind == "nest":
        return PLACEHOLDER  # replaced by deep nesting in the text (json.dumps would recurse)
    if kind == "text_edit" and isinstance(current, str) and current:
        at = draw(st.integers(0, len(current)))
        insert = draw(st.sampled_from(["\x00", "\x01", "\x1f", "\x7f", "\u2028", "\ud800", ""]))
        return current[:at] + insert + current[at:at + draw(st.integers(0, 3))]
    if isinstance(current, bool) or not isinstance(current, (int, float)):
        return draw(st.sampled_from(HUGE_NUMBERS))
    return draw(st.sampled_from([-current, current * 10**12, str(current), current + 0.5,
                                 f"{current:,}" if isinstance(current, int) else str(current)]))


def _set(data: Any, path: tuple[Any, ...], value: Any, *, drop: bool = False) -> Any:
    """A copy of ``data`` with ``path`` set to ``value`` (or removed); untouched parts shared."""
    if not path:
        return value
    key, rest = path[0], path[1:]
    if isinstance(data, dict) and key in data:
        copy = dict(data)
    elif isinstance(data, list) and isinstance(key, int) and key < len(data):
        copy = list(data)
    else:
        return data  # an earlier mutation changed the way
    if rest:
        copy[key] = _set(copy[key], rest, value, drop=drop)
    elif drop:
        del copy[key]
    else:
        copy[key] = value
    return copy


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        try:
            data = data[key]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _text_mutation(draw: st.DrawFn, body: str) -> str:
    kind = draw(st.sampled_from(["truncate", "control", "nest", "cut"]))
    at = draw(st.integers(0, len(body)))
    if kind == "truncate":
        return body[:at]
    if kind == "control":
        return body[:at] + draw(st.sampled_from(["\x00", "\x01\x02", "\x1b", "\ufffe"])) + body[at:]
    if kind == "nest":
        depth = draw(st.integers(1, MAX_NESTING))
        return "[" * depth + body + "]" * depth
    return body[:at] + body[at + draw(st.integers(1, 200)):]


@st.composite
def mutated(draw: st.DrawFn, seeds: tuple[Seed, ...]) -> tuple[Seed, str]:
    seed = draw(st.sampled_from(seeds))
    found = region(seed)
    if found is None or not found.paths or draw(st.integers(0, 9)) == 0:
        return seed, _text_mutation(draw, seed.body)
    data = found.data
    for _ in range(draw(st.integers(1, 4))):
        path = found.paths[draw(st.integers(0, len(found.paths) - 1))]
        if draw(st.integers(0, 4)) == 0:
            data = _set(data, path, None, drop=True)
        else:
            data = _set(data, path, _replacement(draw, _get(data, path)))
    text = json.dumps(data, ensure_ascii=draw(st.booleans()))
    depth = draw(st.integers(1, MAX_NESTING))
    text = text.replace(json.dumps(PLACEHOLDER), "[" * depth + "1" + "]" * depth)
    text = text.replace(json.dumps(PLACEHOLDER, ensure_ascii=False), "[" * depth + "1" + "]" * depth)
    return seed, found.prefix + text + found.suffix


# --- the pipelines and what they must produce -------------------------------------------------


@cache
def pipelines() -> tuple[Any, ...]:
    crawler = get_crawler(settings_dict={"MICROSCOUT_ENGAGEMENT_POSTS": 12})
    crawler.stats.open_spider()
    names = sorted((name for name in project_settings.ITEM_PIPELINES
                    if not name.endswith("WarehousePipeline")),
                   key=project_settings.ITEM_PIPELINES.__getitem__)
    return tuple(build_from_crawler(load_object(name), crawler) for name in names)


def process(item: Any) -> Any:
    for pipeline in pipelines():
        item = pipeline.process_item(item)
    return item


def _storable(value: Any, where: str) -> None:
    """Text both databases store: no NUL (PostgreSQL), no lone surrogate (not UTF-8)."""
    if isinstance(value, str):
        assert "\x00" not in value, where
        value.encode("utf-8")  # raises on a lone surrogate
    elif isinstance(value, dict):
        for key, inner in value.items():
            _storable(key, where)
            _storable(inner, f"{where}.{key}")
    elif isinstance(value, list):
        for inner in value:
            _storable(inner, where)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value: Any, limit: int = 10**9) -> bool:
    return isinstance(value, str) and 0 < len(value) <= limit


def check_count(value: Any, name: str) -> None:
    if value is None:
        return
    assert _is_int(value), (name, value)
    low, high = BOUNDS[name]
    assert low <= value <= high < 2**63, (name, value)


def check_figure(value: Any, name: str) -> None:
    if value is None:
        return
    assert isinstance(value, float), (name, value)
    low, high = BOUNDS[name]
    assert low <= value <= high, (name, value)  # False for NaN


def check_utc(value: Any, name: str, *, required: bool = False) -> None:
    if value is None and not required:
        return
    assert isinstance(value, datetime), (name, value)
    assert value.utcoffset() == timedelta(0), (name, value)


def check_text(item: Any) -> None:
    for field in fields(item):
        value = getattr(item, field.name)
        _storable(value, f"{type(item).__name__}.{field.name}")
        limit = TEXT_LIMITS.get(field.name)
        if limit and isinstance(value, str):
            assert len(value) <= limit, (field.name, len(value))
    for tag in getattr(item, "hashtags", ()):
        assert _text(tag, TEXT_LIMITS["hashtag"]), tag


def check_post(post: Any) -> None:
    assert isinstance(post, PostItem), type(post)
    assert _text(post.post_id), post.post_id
    assert post.platform in PLATFORMS, post.platform
    for name in ("likes", "comments", "shares", "views"):
        check_count(getattr(post, name), name)
    check_utc(post.posted_at, "posted_at")
    check_text(post)


def check_profile(item: ProfileItem) -> None:
    assert item.platform in PLATFORMS, item.platform
    assert _text(item.handle), item.handle
    for name in ("followers", "following", "posts_count"):
        check_count(getattr(item, name), name)
    for name in ("engagement_rate", "engagement_rate_median", "engagement_per_view",
                 "posts_per_week"):
        check_figure(getattr(item, name), name)
    check_utc(item.fetched_at, "fetched_at", required=True)
    for post in item.recent_posts:
        check_post(post)
    check_text(item)
    for problem in item.problems:
        assert _text(problem["reason"]), problem
        json.dumps(to_jsonable(problem), allow_nan=False)


def check_rejected(item: RejectedItem) -> None:
    assert _text(item.reason, 64), item.reason
    assert item.detail is None or isinstance(item.detail, str)
    _storable(item.detail, "detail")
    payload = to_jsonable(item.payload)  # as the warehouse writes it
    json.dumps(payload, allow_nan=False)
    _storable(payload, "payload")


def check_sighting(item: HashtagSightingItem) -> None:
    assert item.platform in PLATFORMS, item.platform
    assert _text(item.hashtag), item.hashtag
    assert _text(item.post_id), item.post_id
    assert item.position is None or 0 <= item.position <= BOUNDS["position"][1], item.position
    check_utc(item.seen_at, "seen_at", required=True)
    check_text(item)


def check_stored(item: Any) -> None:
    """``item``, as the pipelines hand it to the warehouse, fits the warehouse."""
    if isinstance(item, RejectedItem):
        check_rejected(item)
    elif isinstance(item, ProfileItem):
        check_profile(item)
    elif isinstance(item, PostItem):
        check_post(item)
    else:
        assert isinstance(item, HashtagSightingItem), type(item)
        check_sighting(item)


def read_like_a_spider(platform: str, body: str, url: str | None) -> None:
    """The parser helpers the spiders call besides ``parse_document``: cursors, continuation
    tokens, ids for the next request. Each returns a value or raises a CrawlError."""
    if platform == "youtube":
        data = youtube.page_data(body, url=url)
        if isinstance(data, dict):
            youtube.continuation_token(data)
            youtube.next_page_token(data)
    elif platform == "tiktok":
        data = tiktok.page_data(body, url=url)
        tiktok.sec_uid(data)
        if isinstance(data, dict):
            tiktok.pagination(data)
            tiktok.challenge_info(data)
    elif platform == "instagram":
        instagram.page_info(body)
        instagram.owner_of_post(body)
    elif platform == "bluesky":
        try:
            data = loads_json(body)
        except ValueError:
            return
        bluesky.check_error(data)
        bluesky.next_cursor(data, url=url)
        if isinstance(data, dict) and isinstance(data.get("feed"), list):
            bluesky.feed_owner(data)


@dataclass
class Tally:
    tried: int = 0
    rejected_bodies: int = 0
    items: int = 0
    slowest: float = 0.0


def run_one(seed: Seed, body: str, tally: Tally) -> None:
    """Parse ``body`` as ``seed``'s platform, run the pipelines, check what comes out."""
    tally.tried += 1
    started = time.process_time()
    module = parser_for(seed.platform)
    try:
        items = module.parse_document(body, url=seed.url, headers=dict(seed.headers) or None)
    except CrawlError as error:  # what the spider middleware records as a RejectedItem
        tally.rejected_bodies += 1
        items = [RejectedItem(reason=error.reason, detail=error.detail, platform=seed.platform,
                              payload=body[:2_000], source_url=seed.url)]
    for item in items:
        assert isinstance(item, (ProfileItem, PostItem, HashtagSightingItem, RejectedItem)), item
        check_stored(process(item))
        tally.items += 1
    with contextlib.suppress(CrawlError):
        read_like_a_spider(seed.platform, body, seed.url)
    spent = time.process_time() - started
    tally.slowest = max(tally.slowest, spent)
    assert spent < MAX_CPU_SECONDS, f"{seed.name}: {spent:.1f} s of CPU for one input"


def fuzz(seeds: tuple[Seed, ...], examples: int) -> Tally:
    tally = Tally()

    @settings(FUZZ_SETTINGS, max_examples=examples)
    @given(mutated(seeds))
    def one(case: tuple[Seed, str]) -> None:
        run_one(*case, tally)

    one()
    return tally


# --- the tests --------------------------------------------------------------------------------


def _report(label: str, tally: Tally, examples: int) -> None:
    print(f"\n{label}: {tally.tried} fuzzed inputs tried, {tally.rejected_bodies} rejected as "
          f"bodies, {tally.items} items checked, slowest {tally.slowest * 1000:.0f} ms, 0 crashed")
    assert tally.tried >= examples


def test_unmutated_seeds_pass_the_same_checks():
    seeds = realworld_seeds() + sandbox_seeds()
    tally = Tally()
    for seed in seeds:
        run_one(seed, seed.body, tally)
    assert tally.items > tally.rejected_bodies


def test_mutated_realworld_captures():
    seeds = realworld_seeds()
    if not seeds:
        pytest.skip(f"real-world captures not available at {REALWORLD}")
    _report("realworld", fuzz(seeds, REALWORLD_EXAMPLES), REALWORLD_EXAMPLES)


def test_mutated_sandbox_bodies():
    seeds = sandbox_seeds()
    assert len({seed.platform for seed in seeds}) == 5
    _report("sandbox", fuzz(seeds, SANDBOX_EXAMPLES), SANDBOX_EXAMPLES)


@pytest.mark.parametrize("platform", PARSED_PLATFORMS)
@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_json_nested_deeper_than_the_recursion_limit_is_unrecognised(platform, depth):
    body = "[" * depth + "]" * depth
    with pytest.raises(CrawlError):
        parser_for(platform).parse_document(body)
    with pytest.raises(CrawlError):
        parser_for(platform).parse_document('{"a": ' + body + "}")
