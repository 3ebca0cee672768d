"""Official API budgets in the warehouse: ``api_usage`` and ``instagram_hashtags``.

Every booking is one conditional UPDATE (``used + n <= quota``), so runs and workers that share
a warehouse never spend more than the budget together, on SQLite and PostgreSQL alike. The
Instagram hashtag ledger counts unique hashtags per rolling 7 days, the Graph API's rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, select, update
from sqlalchemy.exc import IntegrityError

from models import loader
from models.tables import ApiUsage, InstagramHashtag

USAGE = loader.table_of(ApiUsage)
HASHTAGS = loader.table_of(InstagramHashtag)

HASHTAG_LIMIT = 30
HASHTAG_PERIOD = timedelta(days=7)


def _key(api: str, unit: str, account: str, window_start: datetime) -> Any:
    return and_(USAGE.c.api == api, USAGE.c.unit == unit, USAGE.c.account == account,
                USAGE.c.window_start == window_start)


def reserve(conn: Connection, api: str, unit: str, account: str, window: tuple[datetime, datetime],
            amount: int, quota: int, *, force: bool = False) -> bool:
    """Book ``amount`` in the window when it fits in ``quota`` (always with ``force``: spending
    that already happened). True when booked."""
    start, end = window
    now = loader.utcnow()
    for _ in range(2):  # a concurrent first booking of the window wins the INSERT: update then
        fits = USAGE.c.used + amount <= quota
        stmt = (update(USAGE).where(_key(api, unit, account, start), *(() if force else (fits,)))
                .values(used=USAGE.c.used + amount, quota=quota, updated_at=now))
        if conn.execute(stmt).rowcount:
            return True
        exists = conn.execute(select(USAGE.c.id).where(_key(api, unit, account, start))).first()
        if exists is not None:
            return False
        if amount > quota and not force:
            return False
        try:
            with conn.begin_nested():
                conn.execute(USAGE.insert().values(api=api, unit=unit, account=account,
                                                   window_start=start, window_end=end, used=amount,
                                                   quota=quota, updated_at=now))
            return True
        except IntegrityError:
            continue
    return False


def release(conn: Connection, api: str, unit: str, account: str, window_start: datetime,
            amount: int) -> None:
    """Give back ``amount`` booked but not spent (never below zero)."""
    if amount <= 0:
        return
    used = func.max(USAGE.c.used - amount, 0) if conn.dialect.name == "sqlite" else \
        func.greatest(USAGE.c.used - amount, 0)
    conn.execute(update(USAGE).where(_key(api, unit, account, window_start))
                 .values(used=used, updated_at=loader.utcnow()))


def used(conn: Connection, api: str, unit: str, account: str, window_start: datetime) -> int:
    value = conn.execute(select(USAGE.c.used).where(_key(api, unit, account, window_start))).scalar()
    return int(value or 0)


def current(conn: Connection, now: datetime) -> list[dict[str, Any]]:
    """Every budget row whose window holds ``now``."""
    rows = conn.execute(select(USAGE).where(USAGE.c.window_start <= now, USAGE.c.window_end > now)
                        .order_by(USAGE.c.api, USAGE.c.account, USAGE.c.unit))
    return [dict(row._mapping) for row in rows]


# --- the Instagram hashtag ledger -----------------------------------------------------------------


@dataclass(frozen=True)
class HashtagClaim:
    """The answer for one hashtag: may it be queried, its cached id, the ledger's state."""

    allowed: bool
    hashtag_id: str | None
    used: int           # slots taken in the last 7 days, this hashtag's included when allowed
    frees_at: datetime | None  # when the oldest slot frees (set when refused)


def _aware(value: datetime) -> datetime:
    """SQLite hands timezone-aware columns back naive (they were stored as UTC)."""
    return value if value.tzinfo else value.replace(tzinfo=loader.utcnow().tzinfo)


def claim_hashtag(conn: Connection, account: str, hashtag: str, now: datetime,
                  limit: int = HASHTAG_LIMIT) -> HashtagClaim:
    """Take a weekly slot for ``hashtag`` (free when it holds one already); refused when
    ``limit`` other hashtags hold one."""
    since = now - HASHTAG_PERIOD
    row = conn.execute(select(HASHTAGS).where(HASHTAGS.c.account == account,
                                              HASHTAGS.c.hashtag == hashtag)).first()
    active = select(func.count()).where(HASHTAGS.c.account == account,
                                        HASHTAGS.c.slot_started_at > since)
    if row is not None and _aware(row.slot_started_at) > since:
        conn.execute(update(HASHTAGS).where(HASHTAGS.c.id == row.id).values(last_queried_at=now))
        return HashtagClaim(True, row.hashtag_id, int(conn.execute(active).scalar() or 0), None)
    taken = int(conn.execute(active).scalar() or 0)
    if taken >= limit:
        oldest = conn.execute(select(func.min(HASHTAGS.c.slot_started_at))
                              .where(HASHTAGS.c.account == account,
                                     HASHTAGS.c.slot_started_at > since)).scalar()
        return HashtagClaim(False, row.hashtag_id if row is not None else None, taken,
                            _aware(oldest) + HASHTAG_PERIOD if oldest is not None else None)
    if row is None:
        conn.execute(HASHTAGS.insert().values(account=account, hashtag=hashtag, hashtag_id=None,
                                              slot_started_at=now, last_queried_at=now))
        return HashtagClaim(True, None, taken + 1, None)
    conn.execute(update(HASHTAGS).where(HASHTAGS.c.id == row.id)
                 .values(slot_started_at=now, last_queried_at=now))
    return HashtagClaim(True, row.hashtag_id, taken + 1, None)


def remember_hashtag_id(conn: Connection, account: str, hashtag: str, hashtag_id: str) -> None:
    conn.execute(update(HASHTAGS).where(HASHTAGS.c.account == account, HASHTAGS.c.hashtag == hashtag)
                 .values(hashtag_id=hashtag_id))


def hashtag_slots(conn: Connection, now: datetime) -> list[dict[str, Any]]:
    """Per account: slots taken in the last 7 days and when the oldest frees."""
    since = now - HASHTAG_PERIOD
    rows = conn.execute(select(HASHTAGS.c.account, func.count().label("used"),
                               func.min(HASHTAGS.c.slot_started_at).label("oldest"))
                        .where(HASHTAGS.c.slot_started_at > since)
                        .group_by(HASHTAGS.c.account).order_by(HASHTAGS.c.account))
    return [{"account": r.account, "used": int(r.used), "limit": HASHTAG_LIMIT,
             "frees_at": _aware(r.oldest) + HASHTAG_PERIOD} for r in rows]
