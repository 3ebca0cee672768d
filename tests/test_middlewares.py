"""RateLimitMiddleware: header parsing, capping and the pause arithmetic, with a fake clock.

The header values in the first table are the shapes the real services send: Mastodon's
``x-ratelimit-reset`` is an ISO timestamp (``2026-08-01T13:50:00.037659Z`` in the Mastodon.py
cassettes), Bluesky's ``ratelimit-reset`` epoch seconds, ``Retry-After`` delta seconds or an
HTTP date (RFC 9110).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest
from scrapy import Request, Spider
from scrapy.http import Headers, Response
from scrapy.utils.test import get_crawler

from crawler.middlewares import (
    RateLimitMiddleware,
    SlotClock,
    parse_reset,
    parse_retry_after,
    rate_limit_wait,
    server_time,
)

NOW = datetime(2026, 8, 1, 13, 49, 30, tzinfo=timezone.utc).timestamp()  # 30 s before reset
HTTP_NOW = "Sat, 01 Aug 2026 13:49:30 GMT"


class FakeClock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


# --- header parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("Sat, 01 Aug 2026 13:50:00 GMT", 30.0),  # HTTP date, 30 s ahead
        ("Sat, 01 Aug 2026 13:00:00 GMT", 0.0),  # in the past: no wait
        ("-5", None),
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
    ],
)
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-08-01T13:50:00.000000Z", 30.0),  # Mastodon: ISO timestamp
        ("2026-08-01T13:50:00+00:00", 30.0),
        ("2026-08-01T13:00:00.000Z", 0.0),  # already reset
        (str(int(NOW) + 45), 45.0),  # Bluesky: epoch seconds
        ("60", 60.0),  # small number: delta seconds (IETF RateLimit draft)
        ("Sat, 01 Aug 2026 13:50:00 GMT", 30.0),
        ("tomorrow", None),
        ("-1", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_reset(value, expected):
    result = parse_reset(value, NOW)
    assert result == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        # Mastodon: budget left -> nothing; budget spent -> wait for the reset.
        (200, {"x-ratelimit-remaining": "299", "x-ratelimit-reset": "2026-08-01T13:50:00Z"}, None),
        (200, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "2026-08-01T13:50:00Z"}, 30.0),
        # Bluesky: epoch reset.
        (200, {"ratelimit-remaining": "0", "ratelimit-reset": str(int(NOW) + 10)}, 10.0),
        (200, {"RateLimit-Remaining": "12", "RateLimit-Reset": str(int(NOW) + 10)}, None),
        # 429 / 503 with Retry-After, in seconds or as a date.
        (429, {"Retry-After": "7"}, 7.0),
        (503, {"Retry-After": "Sat, 01 Aug 2026 13:50:00 GMT"}, 30.0),
        # Retry-After wins over the reset on a 429.
        (429, {"Retry-After": "3", "x-ratelimit-reset": "2026-08-01T13:50:00Z"}, 3.0),
        # 429 without Retry-After: the reset, else the default wait.
        (429, {"x-ratelimit-reset": "2026-08-01T13:50:00Z"}, 30.0),
        (429, {}, 1.0),
        # Retry-After on a 200 is not a pause; a 503 without it is not either.
        (200, {"Retry-After": "7"}, None),
        (503, {}, None),
        # Missing and garbage headers are ignored.
        (200, {}, None),
        (200, {"x-ratelimit-remaining": "0"}, None),
        (200, {"x-ratelimit-remaining": "zero", "x-ratelimit-reset": "2026-08-01T13:50:00Z"}, None),
        (200, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "later"}, None),
        (429, {"Retry-After": "whenever"}, 1.0),
    ],
)
def test_rate_limit_wait(status, headers, expected):
    result = rate_limit_wait(status, headers, NOW, default_wait=1.0)
    assert result == (pytest.approx(expected) if expected is not None else None)


def test_reserve_keeps_a_margin_of_requests():
    headers = {"x-ratelimit-remaining": "3", "x-ratelimit-reset": "2026-08-01T13:50:00Z"}
    assert rate_limit_wait(200, headers, NOW, reserve=0) is None
    assert rate_limit_wait(200, headers, NOW, reserve=3) == pytest.approx(30.0)


def test_scrapy_headers_are_read_like_dicts():
    headers = Headers({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2026-08-01T13:50:00Z"})
    assert rate_limit_wait(200, headers, NOW) == pytest.approx(30.0)


def test_server_date_is_the_reference_for_absolute_times():
    """Local clock 100 s fast: the wait is still reset - server Date (30 s), not 0."""
    headers = {
        "Date": HTTP_NOW,
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": "2026-08-01T13:50:00Z",
    }
    assert server_time(headers, NOW + 100) == NOW
    assert rate_limit_wait(200, headers, NOW + 100) == pytest.approx(30.0)


def test_garbage_date_header_falls_back_to_local_clock():
    assert server_time({"Date": "not a date"}, NOW) == NOW


# --- the pause arithmetic (SlotClock) ---------------------------------------------------------


def test_open_slot_needs_no_wait():
    slots = SlotClock(FakeClock())
    assert slots.reserve("a.example") == 0.0


def test_pause_holds_only_its_own_slot():
    clock = FakeClock()
    slots = SlotClock(clock)
    slots.pause("a.example", 30)
    assert slots.reserve("a.example") == 30.0
    assert slots.reserve("b.example") == 0.0
    clock.now += 12
    assert slots.paused_for("a.example") == 18.0


def test_longer_pause_wins_over_shorter():
    clock = FakeClock()
    slots = SlotClock(clock)
    assert slots.pause("a", 30) == (True, 30.0)  # a new pause, 30 s of hold
    assert slots.pause("a", 5) == (False, 0.0)  # inside the current one: nothing added
    assert slots.paused_for("a") == 30.0
    assert slots.pause("a", 60) == (False, 30.0)  # extends the current pause by 30 s
    assert slots.paused_for("a") == 60.0
    clock.now += 61
    assert slots.pause("a", 1) == (True, 1.0)  # the slot had reopened: a new pause


def test_interval_spaces_successive_requests():
    clock = FakeClock()
    slots = SlotClock(clock)
    assert [slots.reserve("a", 2.0) for _ in range(4)] == [0.0, 2.0, 4.0, 6.0]
    clock.now += 10
    assert slots.reserve("a", 2.0) == 0.0


def test_interval_starts_after_a_pause():
    clock = FakeClock()
    slots = SlotClock(clock)
    slots.pause("a", 5)
    assert [slots.reserve("a", 1.0) for _ in range(3)] == [5.0, 6.0, 7.0]


# --- the middleware -------------------------------------------------------------------------


class PacedSpider(Spider):
    name = "paced"
    platform = "instagram"


class PlainSpider(Spider):
    name = "plain"  # no platform attribute: not paced


def make_mw(settings=None, spider_cls=PacedSpider):
    crawler = get_crawler(spider_cls, settings_dict={
        "MICROSCOUT_RATE_LIMIT_INSTAGRAM": 3.0, "MICROSCOUT_RATE_LIMIT_MASTODON": 0.0,
        "MICROSCOUT_MAX_RETRY_AFTER": 60,
        **(settings or {}),
    })
    crawler.spider = spider_cls()
    crawler.stats.open_spider()
    clock = FakeClock()
    mw = RateLimitMiddleware(crawler, clock=clock, sleep=clock.sleep)
    return mw, clock, crawler.stats


def response(url, status=200, headers=None):
    return Response(url, status=status, headers=headers or {}, request=Request(url))


def run(coro):
    return asyncio.run(coro)


def test_from_crawler_reads_settings():
    crawler = get_crawler(PacedSpider, settings_dict={
        "MICROSCOUT_RATE_LIMIT_INSTAGRAM": 3.0, "MICROSCOUT_MAX_RETRY_AFTER": 42,
    })
    mw = RateLimitMiddleware.from_crawler(crawler)
    assert mw.rate_limits == {"instagram": 3.0}
    assert mw.max_wait == 42.0


def test_disabled_by_setting():
    from scrapy.exceptions import NotConfigured

    with pytest.raises(NotConfigured):
        RateLimitMiddleware.from_crawler(
            get_crawler(PacedSpider, settings_dict={"MICROSCOUT_RATELIMIT_ENABLED": False})
        )


def test_retry_after_pauses_the_host_and_counts_stats():
    mw, clock, stats = make_mw(spider_cls=PlainSpider)
    url = "https://a.example/api/v1/timelines/tag/x"
    mw.process_response(Request(url), response(url, 429, {"Retry-After": "20"}))
    run(mw.process_request(Request(url)))
    run(mw.process_request(Request("https://b.example/")))  # another host: no wait
    assert clock.slept == [20.0]
    assert stats.get_value("microscout/ratelimit/paused") == 1
    assert stats.get_value("microscout/ratelimit/wait_seconds") == 20.0


def test_wait_is_capped_at_max_retry_after():
    mw, clock, stats = make_mw({"MICROSCOUT_MAX_RETRY_AFTER": 60}, spider_cls=PlainSpider)
    url = "https://a.example/x"
    mw.process_response(Request(url), response(url, 429, {"Retry-After": "3600"}))
    run(mw.process_request(Request(url)))
    assert clock.slept == [60.0]
    assert stats.get_value("microscout/ratelimit/capped") == 1
    assert stats.get_value("microscout/ratelimit/wait_seconds") == 60.0


def test_mastodon_spent_budget_pauses_until_reset():
    mw, clock, _ = make_mw(spider_cls=PlainSpider)
    url = "https://mastodon.example/api/v1/accounts/1/statuses"
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "2026-08-01T13:50:00.037659Z"}
    mw.process_response(Request(url), response(url, 200, headers))
    run(mw.process_request(Request(url)))
    assert clock.slept == [pytest.approx(30.037659)]


def test_concurrent_answers_count_as_one_pause():
    mw, clock, stats = make_mw(spider_cls=PlainSpider)
    url = "https://a.example/x"
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "2026-08-01T13:50:00Z"}
    for _ in range(5):  # five answers of one burst, all saying "budget spent, reset in 30 s"
        mw.process_response(Request(url), response(url, 200, headers))
        clock.now += 0.01
    assert stats.get_value("microscout/ratelimit/paused") == 1
    assert stats.get_value("microscout/ratelimit/wait_seconds") == pytest.approx(30.0)


def test_plain_success_does_not_pause():
    mw, clock, stats = make_mw(spider_cls=PlainSpider)
    url = "https://a.example/x"
    mw.process_response(Request(url), response(url, 200, {"x-ratelimit-remaining": "299"}))
    run(mw.process_request(Request(url)))
    assert clock.slept == []
    assert stats.get_value("microscout/ratelimit/paused") is None


def test_platform_interval_paces_requests_to_one_host():
    mw, clock, _ = make_mw()  # PacedSpider.platform = instagram -> 3 s
    sent = []

    async def send(i):
        await mw.process_request(Request(f"https://ig.example/{i}"))
        sent.append(clock.now - NOW)

    async def burst():
        await asyncio.gather(*(send(i) for i in range(3)))

    run(burst())
    assert sorted(sent) == [0.0, 3.0, 6.0]


def test_spider_without_platform_is_not_paced():
    mw, clock, _ = make_mw(spider_cls=PlainSpider)
    for i in range(3):
        run(mw.process_request(Request(f"https://ig.example/{i}")))
    assert clock.slept == []


def test_dont_ratelimit_meta_bypasses_the_pause():
    mw, clock, _ = make_mw(spider_cls=PlainSpider)
    url = "https://a.example/x"
    mw.process_response(Request(url), response(url, 429, {"Retry-After": "20"}))
    run(mw.process_request(Request(url, meta={"dont_ratelimit": True})))
    assert clock.slept == []


def test_pause_arriving_while_waiting_is_honoured():
    """A request asleep on the pacing interval re-checks the slot when it wakes."""
    mw, clock, _ = make_mw()
    url = "https://ig.example/x"
    real_sleep = clock.sleep

    async def sleep_then_429(seconds):
        await real_sleep(seconds)
        if len(clock.slept) == 1:  # a 429 lands while the second request slept
            mw.process_response(Request(url), response(url, 429, {"Retry-After": "10"}))

    mw.sleep = sleep_then_429
    run(mw.process_request(Request(url)))  # first: no wait, books the next start at +3 s
    run(mw.process_request(Request(url)))  # waits 3 s, then the 10 s pause
    assert clock.slept == [3.0, 10.0]


def test_slot_key_follows_download_slot_meta():
    mw, clock, _ = make_mw(spider_cls=PlainSpider)
    url = "https://a.example/x"
    shared = {"download_slot": "shared"}
    mw.process_response(Request(url, meta=shared), response(url, 429, {"Retry-After": "5"}))
    run(mw.process_request(Request("https://b.example/y", meta=shared)))
    assert clock.slept == [5.0]


def test_project_settings_put_the_middleware_after_retry():
    """process_response runs from the highest number down: 560 sees a 429 before Retry (550)
    turns it into a retry request, so the pause is set before the retry is sent."""
    from crawler import settings

    assert settings.DOWNLOADER_MIDDLEWARES["crawler.middlewares.RateLimitMiddleware"] > 550
