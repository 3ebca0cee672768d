"""Official API budgets: windows, warehouse bookings, the hashtag ledger, the run's book, the CLI."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import datetime, timedelta, timezone

import pytest
from scrapy.utils.test import get_crawler

from crawler.cli import main
from crawler.quota import BUDGETS, QuotaBook, QuotaExhausted, account_of, cost
from models import make_engine
from models import quota as ledger

UTC = timezone.utc
YOUTUBE = BUDGETS["youtube:units"]
RESEARCH = BUDGETS["tiktok_research:requests"]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- windows -----------------------------------------------------------------------------------


def test_youtube_day_runs_from_midnight_pacific():
    assert YOUTUBE.window(at("2026-12-06 07:59")) == (at("2026-12-05 08:00"), at("2026-12-06 08:00"))
    assert YOUTUBE.window(at("2026-12-06 08:00")) == (at("2026-12-06 08:00"), at("2026-12-07 08:00"))
    # summer time: midnight PDT is 07:00 UTC
    assert YOUTUBE.window(at("2026-07-01 12:00")) == (at("2026-07-01 07:00"), at("2026-07-02 07:00"))


def test_the_day_clocks_change_is_23_hours_long():
    start, end = YOUTUBE.window(at("2026-03-08 12:00"))  # PST -> PDT at 02:00 local
    assert (start, end) == (at("2026-03-08 08:00"), at("2026-03-09 07:00"))


def test_research_day_is_a_utc_day():
    assert RESEARCH.window(at("2026-12-06 23:59")) == (at("2026-12-06 00:00"), at("2026-12-07 00:00"))


def test_account_is_a_fingerprint_never_the_key():
    account = account_of("www.googleapis.com", "AIzaSECRETKEY123")
    assert "SECRETKEY" not in account
    assert account.startswith("www.googleapis.com key:")
    assert account != account_of("www.googleapis.com", "AIzaOTHER")


def test_cost_names_only_known_units():
    assert cost("tiktok_research", "a", requests=1, records=100)["records"] == 100
    with pytest.raises(ValueError, match="no youtube budget counts records"):
        cost("youtube", "a", records=1)


# --- bookings in the warehouse ------------------------------------------------------------------


def test_bookings_never_pass_the_quota(warehouse_url):
    engine = make_engine(warehouse_url)
    window = YOUTUBE.window(at("2026-12-06 12:00"))
    with engine.begin() as conn:
        assert ledger.reserve(conn, "youtube", "units", "acct", window, 60, 100)
        assert not ledger.reserve(conn, "youtube", "units", "acct", window, 41, 100)
        assert ledger.reserve(conn, "youtube", "units", "acct", window, 40, 100)
        assert not ledger.reserve(conn, "youtube", "units", "acct", window, 1, 100)
        assert ledger.reserve(conn, "youtube", "units", "acct", window, 5, 100, force=True)
        assert ledger.used(conn, "youtube", "units", "acct", window[0]) == 105
        ledger.release(conn, "youtube", "units", "acct", window[0], 500)
        assert ledger.used(conn, "youtube", "units", "acct", window[0]) == 0
        # another window, another account: their own budgets
        assert ledger.reserve(conn, "youtube", "units", "other", window, 100, 100)
        assert ledger.reserve(conn, "youtube", "units", "acct", YOUTUBE.window(window[1]), 100, 100)
        assert not ledger.reserve(conn, "youtube", "units", "acct", window, 101, 100)
    engine.dispose()


def test_concurrent_bookings_share_one_budget(pg_url):
    """Eight threads (eight workers) booking 7 units at a time against 100: 98 booked, not more."""
    engine = make_engine(pg_url)
    window = YOUTUBE.window(at("2026-12-06 12:00"))
    granted: list[bool] = []
    barrier = threading.Barrier(8)

    def book() -> None:
        barrier.wait()
        for _ in range(10):
            with engine.begin() as conn:
                granted.append(ledger.reserve(conn, "youtube", "units", "acct", window, 7, 100))

    threads = [threading.Thread(target=book) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with engine.connect() as conn:
        assert ledger.used(conn, "youtube", "units", "acct", window[0]) == 98
    assert granted.count(True) == 14
    engine.dispose()


def test_the_31st_hashtag_waits_for_the_oldest_slot(warehouse_url):
    engine = make_engine(warehouse_url)
    start = at("2026-12-01 10:00")
    with engine.begin() as conn:
        for i in range(30):
            claim = ledger.claim_hashtag(conn, "1784", f"tag{i}", start + timedelta(hours=i))
            assert claim.allowed
            assert claim.used == i + 1
        ledger.remember_hashtag_id(conn, "1784", "tag3", "17843826142012701")
        refused = ledger.claim_hashtag(conn, "1784", "tag30", start + timedelta(days=2))
        assert not refused.allowed
        assert refused.used == 30
        assert refused.frees_at == start + timedelta(days=7)
        again = ledger.claim_hashtag(conn, "1784", "tag3", start + timedelta(days=2))
        assert again.allowed
        assert again.hashtag_id == "17843826142012701"
        assert ledger.claim_hashtag(conn, "other", "tag30", start).allowed  # per account
        later = ledger.claim_hashtag(conn, "1784", "tag30", start + timedelta(days=7, seconds=1))
        assert later.allowed
        assert later.used == 30
        week_later = start + timedelta(days=7, seconds=1)
        slots = {row["account"]: row for row in ledger.hashtag_slots(conn, week_later)}
        assert slots["1784"]["used"] == 30
        assert slots["1784"]["frees_at"] == start + timedelta(hours=1, days=7)
        # an expired tag claims a new slot, keeping its cached id
        renewed = ledger.claim_hashtag(conn, "1784", "tag3", start + timedelta(days=20))
        assert renewed.allowed
        assert renewed.hashtag_id == "17843826142012701"
        assert renewed.used == 1
    engine.dispose()


# --- the run's book ---------------------------------------------------------------------------------


def book_for(url: str, **settings) -> QuotaBook:
    crawler = get_crawler(settings_dict={"MICROSCOUT_DATABASE_URL": url, **settings})
    return QuotaBook.of(crawler)


def test_a_run_reserves_blocks_and_gives_back_the_rest(sqlite_url):
    account = account_of("api.test", "k")
    book = book_for(sqlite_url, MICROSCOUT_YOUTUBE_DAILY_QUOTA=1000)
    engine = make_engine(sqlite_url)
    window = YOUTUBE.window(datetime.now(UTC))

    async def run() -> None:
        await book.spend("youtube:units", account, 1)
        with engine.connect() as conn:  # one block of 0.5% reserved
            assert ledger.used(conn, "youtube", "units", account, window[0]) == 5
        for _ in range(5):
            await book.spend("youtube:units", account, 1)
        with engine.connect() as conn:
            assert ledger.used(conn, "youtube", "units", account, window[0]) == 10
        await book.spider_closed()
        await book.spider_closed()  # twice: nothing more given back

    asyncio.run(run())
    with engine.connect() as conn:
        assert ledger.used(conn, "youtube", "units", account, window[0]) == 6
    assert book.stats.get_value("microscout/quota/youtube/units") == 6
    engine.dispose()


def test_two_runs_share_the_budget_and_the_last_call_is_refused(sqlite_url):
    account = account_of("api.test", "k")
    first = book_for(sqlite_url, MICROSCOUT_YOUTUBE_DAILY_QUOTA=250)
    second = book_for(sqlite_url, MICROSCOUT_YOUTUBE_DAILY_QUOTA=250)

    async def run() -> QuotaExhausted:
        await first.spend("youtube:units", account, 100)
        await second.spend("youtube:units", account, 100)
        await first.spend("youtube:units", account, 2)
        await second.spend("youtube:units", account, 2)
        with pytest.raises(QuotaExhausted) as refused:
            await first.spend("youtube:units", account, 100)
        return refused.value

    exc = asyncio.run(run())
    assert exc.used == 204
    assert exc.limit == 250
    message = str(exc)
    assert "YouTube Data API v3 quota units" in message
    assert "204 of 250 used" in message
    assert "this call needs 100" in message
    assert "the next run continues" in message


def test_without_a_warehouse_the_book_counts_in_memory():
    account = account_of("api.test", "k")
    book = book_for("", MICROSCOUT_TIKTOK_DAILY_REQUESTS=3)

    async def run() -> None:
        for _ in range(3):
            await book.spend("tiktok_research:requests", account, 1)
        with pytest.raises(QuotaExhausted):
            await book.spend("tiktok_research:requests", account, 1)

    asyncio.run(run())
    assert book.stats.get_value("microscout/quota/unbooked") == 3


def test_refunds_return_records_not_returned(sqlite_url):
    account = account_of("api.test", "k")
    book = book_for(sqlite_url, MICROSCOUT_TIKTOK_DAILY_RECORDS=200)

    async def run() -> None:
        await book.spend("tiktok_research:records", account, 100)
        book.refund("tiktok_research:records", account, 73)  # the page held 27
        await book.spend("tiktok_research:records", account, 100)
        await book.spend("tiktok_research:records", account, 73)  # 200 - 127: fits exactly
        await book.spider_closed()

    asyncio.run(run())
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        window = BUDGETS["tiktok_research:records"].window(datetime.now(UTC))
        assert ledger.used(conn, "tiktok_research", "records", account, window[0]) == 200
    engine.dispose()


# --- microscout quota ------------------------------------------------------------------------------


def test_quota_command_prints_each_budget(sqlite_url, capsys):
    engine = make_engine(sqlite_url)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        ledger.reserve(conn, "youtube", "units", "www.googleapis.com key:abc", YOUTUBE.window(now),
                       1234, 10_000)
        ledger.claim_hashtag(conn, "1784", "vegan", now)
    engine.dispose()
    assert main(["quota", "--json", "--database-url", sqlite_url]) == 0
    rows = {(r["budget"], r["account"]): r for r in json.loads(capsys.readouterr().out)}
    youtube = rows[("youtube:units", "www.googleapis.com key:abc")]
    assert (youtube["used"], youtube["limit"], youtube["left"]) == (1234, 10_000, 8766)
    assert youtube["resets_at"] == YOUTUBE.window(now)[1].isoformat()
    assert rows[("tiktok_research:requests", None)]["left"] == 1000
    hashtags = rows[("instagram_graph:hashtags", "1784")]
    assert (hashtags["used"], hashtags["left"]) == (1, 29)
    assert main(["quota", "--database-url", sqlite_url]) == 0
    table = capsys.readouterr().out
    assert "youtube:units" in table
    assert "8,766" in table
    assert "midnight P" in table
