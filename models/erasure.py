"""Erasure and opt-out: ``microscout forget`` and the retention of raw quarantine payloads.

:func:`forget` deletes every row about one account (its profile, snapshots, niche scores, posts
and their hashtag links, the sightings of its posts, the quarantine rows that name it) in one
transaction, and adds the account to ``suppressed_accounts``; the loader then drops it from
every later batch (:func:`models.loader.drop_suppressed`). Forget and the loader serialise on
the suppression list (:func:`models.loader.lock_suppressions`), so a batch in flight is either
seen and deleted, or sees the suppression. :func:`purge_raw` clears old raw payloads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Text, cast, delete, func, null, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from models import loader
from models.loader import table_of
from models.tables import (
    Creator,
    CreatorAccount,
    CreatorLink,
    HashtagSighting,
    Post,
    PostHashtag,
    Profile,
    ProfileNiche,
    ProfileSignal,
    ProfileSnapshot,
    ProfileVector,
    RejectedRecord,
    SimilarAccount,
    SuppressedAccount,
)

#: The tables forget deletes from, in the order it reports them.
TABLES = ("profiles", "profile_snapshots", "profile_niches", "profile_signals", "profile_vectors",
          "similar_accounts", "creator_links", "creator_accounts", "posts", "post_hashtags",
          "hashtag_sightings", "rejected_items")
LOCK_TIMEOUT = "60s"  # PostgreSQL: how long forget waits for the batches in flight
CHUNK = 500  # values per IN (...)


@dataclass
class Erasure:
    """What forgetting one account deletes: row ids per table, and the account's names."""

    platform: str
    handle: str
    names: set[str]  # handles and platform user ids: the given one, and the profiles' own
    profiles: dict[int, tuple[str, str | None]] = field(default_factory=dict)  # id -> handle, uid
    posts: dict[int, str] = field(default_factory=dict)  # posts.id -> the platform's post id
    sightings: set[int] = field(default_factory=set)
    rejected: set[int] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)


def forget(engine: Engine, platform: str, handle: str, reason: str | None = None,
           dry_run: bool = False) -> dict[str, int]:
    """Delete every row about the account (``handle``: canonical, or its platform user id) and
    suppress it, in one transaction; return the rows deleted per table. ``dry_run`` only counts."""
    if dry_run:
        with engine.connect() as conn:
            return plan(conn, platform, handle).counts
    with engine.begin() as conn:
        _lock(conn)
        erasure = plan(conn, platform, handle)
        _delete(conn, erasure)
        _suppress(conn, erasure, reason)
        return erasure.counts


def _lock(conn: Connection) -> None:
    """Wait for the batches that read the suppression list to commit; hold later ones back."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        conn.exec_driver_sql("LOCK TABLE suppressed_accounts IN ACCESS EXCLUSIVE MODE")
    else:
        loader.lock_suppressions(conn)  # SQLite: the write lock, before anything is read


def plan(conn: Connection, platform: str, handle: str) -> Erasure:
    """Find every row about the account; nothing is changed."""
    erasure = Erasure(platform, handle, {handle})
    profiles = table_of(Profile)
    for _ in range(2):  # the second pass follows a found id to a row under another handle
        rows = conn.execute(select(profiles.c.id, profiles.c.handle, profiles.c.platform_user_id).where(
            profiles.c.platform == platform,
            or_(profiles.c.handle.in_(erasure.names), profiles.c.platform_user_id.in_(erasure.names))))
        for row_id, own_handle, user_id in rows:
            erasure.profiles[row_id] = (own_handle, user_id)
            erasure.names.update(name for name in (own_handle, user_id) if name)
    ids = sorted(erasure.profiles)
    names = sorted(erasure.names)

    posts = table_of(Post)
    erasure.posts = dict(conn.execute(select(posts.c.id, posts.c.post_id).where(
        posts.c.platform == platform,
        or_(posts.c.profile_id.in_(ids), posts.c.author_handle.in_(names)))).all())

    sightings = table_of(HashtagSighting)
    where_sighting = (sightings.c.platform == platform,)
    erasure.sightings = set(conn.execute(select(sightings.c.id).where(
        *where_sighting, sightings.c.author_handle.in_(names))).scalars())
    for chunk in _chunks(sorted(set(erasure.posts.values()))):
        erasure.sightings.update(conn.execute(select(sightings.c.id).where(
            *where_sighting, sightings.c.post_id.in_(chunk))).scalars())

    erasure.rejected = _rejected_rows(conn, platform, erasure.names)
    erasure.counts = {
        "profiles": len(ids),
        "profile_snapshots": _count(conn, table_of(ProfileSnapshot).c.profile_id, ids),
        "profile_niches": _count(conn, table_of(ProfileNiche).c.profile_id, ids),
        "profile_signals": _count(conn, table_of(ProfileSignal).c.profile_id, ids),
        "profile_vectors": _count(conn, table_of(ProfileVector).c.profile_id, ids),
        "similar_accounts": _count_either(conn, table_of(SimilarAccount), "profile_id",
                                          "similar_profile_id", ids),
        "creator_links": _count_either(conn, table_of(CreatorLink), "profile_id", "other_profile_id",
                                       ids),
        "creator_accounts": _count(conn, table_of(CreatorAccount).c.profile_id, ids),
        "posts": len(erasure.posts),
        "post_hashtags": _count(conn, table_of(PostHashtag).c.post_id, sorted(erasure.posts)),
        "hashtag_sightings": len(erasure.sightings),
        "rejected_items": len(erasure.rejected),
    }
    return erasure


def _chunks(values: Sequence, size: int = CHUNK):
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _count(conn: Connection, column: Any, ids: Sequence[int]) -> int:
    return sum(conn.execute(select(func.count()).select_from(column.table).where(column.in_(chunk)))
               .scalar_one() for chunk in _chunks(list(ids)))


def _count_either(conn: Connection, table: Any, first: str, second: str, ids: Sequence[int]) -> int:
    """Rows that name one of ``ids`` in either column."""
    return sum(conn.execute(select(func.count()).select_from(table).where(
        or_(table.c[first].in_(chunk), table.c[second].in_(chunk)))).scalar_one()
        for chunk in _chunks(list(ids)))


def _delete_signals(conn: Connection, profile_ids: Sequence[int]) -> None:
    """The account's signals, vector, lookalike rows (either side), creator links and membership;
    a creator left with fewer than two accounts goes too (the next run rebuilds the rest)."""
    creators = table_of(CreatorAccount)
    touched: set[int] = set()
    for chunk in _chunks(list(profile_ids)):
        touched.update(conn.execute(select(creators.c.creator_id).where(
            creators.c.profile_id.in_(chunk))).scalars())
        for table, columns in ((table_of(ProfileSignal), ("profile_id",)),
                               (table_of(ProfileVector), ("profile_id",)),
                               (table_of(SimilarAccount), ("profile_id", "similar_profile_id")),
                               (table_of(CreatorLink), ("profile_id", "other_profile_id")),
                               (creators, ("profile_id",))):
            conn.execute(delete(table).where(or_(*(table.c[name].in_(chunk) for name in columns))))
    for creator_id in sorted(touched):
        left = conn.execute(select(func.count()).select_from(creators)
                            .where(creators.c.creator_id == creator_id)).scalar_one()
        if left < 2:
            conn.execute(delete(creators).where(creators.c.creator_id == creator_id))
            conn.execute(delete(table_of(Creator)).where(table_of(Creator).c.id == creator_id))


def _delete(conn: Connection, erasure: Erasure) -> None:
    """Children first (the foreign keys cascade too, but the counts are the plan's)."""
    profile_ids, post_ids = sorted(erasure.profiles), sorted(erasure.posts)
    _delete_signals(conn, profile_ids)
    for column, ids in (
        (table_of(PostHashtag).c.post_id, post_ids),
        (table_of(HashtagSighting).c.id, sorted(erasure.sightings)),
        (table_of(Post).c.id, post_ids),
        (table_of(ProfileNiche).c.profile_id, profile_ids),
        (table_of(ProfileSnapshot).c.profile_id, profile_ids),
        (table_of(Profile).c.id, profile_ids),
        (table_of(RejectedRecord).c.id, sorted(erasure.rejected)),
    ):
        for chunk in _chunks(ids):
            conn.execute(delete(column.table).where(column.in_(chunk)))


def _suppress(conn: Connection, erasure: Erasure, reason: str | None) -> None:
    """One suppression row per handle the account was stored under, and the given one."""
    wanted: dict[str, str | None] = {}
    for own_handle, user_id in erasure.profiles.values():
        wanted[own_handle] = user_id or wanted.get(own_handle)
    user_ids = {user_id for _, user_id in erasure.profiles.values() if user_id}
    if erasure.handle not in wanted and erasure.handle not in user_ids:
        wanted[erasure.handle] = next(iter(user_ids)) if len(user_ids) == 1 else None
    table = table_of(SuppressedAccount)
    stmt = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)
    stmt = stmt.on_conflict_do_update(index_elements=["platform", "handle"], set_={
        "platform_user_id": func.coalesce(stmt.excluded.platform_user_id, table.c.platform_user_id),
        "reason": func.coalesce(stmt.excluded.reason, table.c.reason),
        "requested_at": stmt.excluded.requested_at,
    })
    now = loader.utcnow()
    conn.execute(stmt, [{"platform": erasure.platform, "handle": own_handle, "platform_user_id": user_id,
                         "reason": reason, "requested_at": now}
                        for own_handle, user_id in sorted(wanted.items())])


# --- quarantine rows that name the account -----------------------------------------------------


def search_terms(names: set[str]) -> set[str]:
    """How the account can be spelled in a payload, lower-case: its handles and ids, federated
    profile paths (``host/@user``), and their JSON-escaped forms (non-ASCII as ``\\u00e9``)."""
    terms = set(names)
    for name in names:
        user, _, host = name.partition("@")
        if user and "." in host:
            terms |= {f"{host}/@{user}", f"{host}/users/{user}"}
    terms |= {json.dumps(term)[1:-1] for term in terms}
    return {term.lower() for term in terms if term}


def names_account(text: str, terms: set[str]) -> bool:
    """Whether ``text`` (lower-case) names the account: a term not inside a longer name
    (``bob`` does not match ``bobby``, ``x.bob`` or ``1234`` inside ``12345``)."""
    for term in terms:
        for match in re.finditer(re.escape(term), text):
            before = text[match.start() - 1:match.start()]
            after = text[match.end():match.end() + 2]
            if "/" not in term and (before.isalnum() or before in ("_", ".", "-")):
                continue
            if after[:1].isalnum() or after[:1] in ("_", "-") or (after[:1] == "." and after[1:].isalnum()):
                continue
            return True
    return False


def _rejected_rows(conn: Connection, platform: str, names: set[str]) -> set[int]:
    """Quarantine rows of the platform (or of none) whose payload, source URL or detail names
    the account: candidates by LIKE (bound values), confirmed by :func:`names_account`."""
    table = table_of(RejectedRecord)
    terms = search_terms(names)
    payload = func.lower(cast(table.c.payload, Text))
    columns = (payload, func.lower(table.c.source_url), func.lower(table.c.detail))
    found: set[int] = set()
    for chunk in _chunks(sorted(terms), 50):
        matches = [column.contains(term, autoescape=True) for term in chunk for column in columns]
        rows = conn.execute(select(table.c.id, *columns).where(
            or_(table.c.platform == platform, table.c.platform.is_(None)), or_(*matches)))
        for row_id, *texts in rows:
            if names_account("\n".join(t for t in texts if t), terms):
                found.add(row_id)
    return found


# --- retention of raw payloads -------------------------------------------------------------------


def retention_days(value: Any, name: str = "MICROSCOUT_RAW_RETENTION_DAYS") -> int | None:
    """MICROSCOUT_RAW_RETENTION_DAYS as a number of days; None (unset) keeps payloads for ever."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value)
    raise ValueError(f"{name} must be a whole number of days (0 or more), not {value!r}")


def purge_raw(conn: Connection, days: int, now: datetime | None = None) -> int:
    """Clear the raw payload of quarantine rows older than ``days`` (the row and its reason
    stay); return how many were cleared."""
    table = table_of(RejectedRecord)
    cutoff = (now or loader.utcnow()) - timedelta(days=days)
    result = conn.execute(update(table).where(
        table.c.created_at < cutoff, table.c.payload.is_not(None),
        cast(table.c.payload, Text) != "null",
    ).values(payload=null()))
    return result.rowcount
