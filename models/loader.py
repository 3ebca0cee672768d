"""Batched, idempotent writes into the warehouse (SQLAlchemy Core, bind parameters only).

A batch is a list of records (plain dicts, as ``pipelines.warehouse.item_record`` makes them,
or as read back from a spool file). ``load_batch`` writes one batch inside the caller's
transaction with ``INSERT ... ON CONFLICT DO UPDATE``: keys are de-duplicated inside the batch
first (PostgreSQL refuses to touch one row twice in a statement) and sorted, so concurrent
loaders take row locks in the same order and do not deadlock each other.
"""

from __future__ import annotations

import base64
import functools
import itertools
import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Table, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from models.tables import (
    Base,
    CrawlRun,
    Profile,
    ProfileSnapshot,
    RejectedRecord,
)

CHUNK = 500  # ids looked up per IN (...) query; well under SQLite's bound-variable limit

PROFILE_FIELDS = (
    "platform_user_id", "display_name", "bio", "external_url", "profile_url", "is_verified", "category",
    "email", "website", "country", "language", "links", "languages",
)
SNAPSHOT_FIELDS = (
    "followers", "following", "posts_count", "engagement_rate", "engagement_rate_median",
    "engagement_per_view", "posts_per_week", "recent_posts_used", "tier", "tier_scheme",
)
POST_FIELDS = (
    "author_handle", "url", "posted_at", "posted_at_precision", "text", "likes", "comments", "shares",
    "views", "media_type", "sponsored", "sponsor_evidence", "language",
)


def table_of(model: type[Base]) -> Table:
    """The model's Table: SQLAlchemy types ``__table__`` as the wider FromClause (a model may be
    mapped to a join or a subquery); every model in models.tables is declared with
    ``__tablename__``, so its ``__table__`` is a Table."""
    return cast(Table, model.__table__)


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_datetime(value: Any) -> datetime | None:
    """Datetimes pass; ISO strings (from spool files) are read back; naive means UTC."""
    if type(value) is datetime and value.tzinfo is not None:  # the crawl's case, as it is
        return value
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def _insert(conn: Connection, table: Table):
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def upsert(conn: Connection, table: Table, rows: Sequence[dict], keys: Sequence[str],
           update_cols: Iterable[str] = (), set_: dict | None = None) -> None:
    """Insert rows; on a key conflict update ``update_cols`` (or do nothing when empty)."""
    if not rows:
        return
    stmt = _insert(conn, table)
    values = {col: stmt.excluded[col] for col in update_cols}
    values.update(set_ or {})
    if values:
        stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_=values)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
    conn.execute(stmt, list(rows))


def _chunks(values: Sequence, size: int = CHUNK):
    for start in range(0, len(values), size):
        yield values[start:start + size]


# --- the hot path: plain SQL through the driver ------------------------------------------------
# Batches go straight to the DB-API's executemany: SQLAlchemy's per-row parameter processing
# cost more than the database's own work (profiled: 8.3 s vs 1.4 s for 10,000 profiles on SQLite).
# Table and column names below are this module's constants; every value is a bound parameter.

def _mark(conn: Connection) -> str:
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def _when(conn: Connection):
    """Datetimes as the dialect stores them (SQLite: SQLAlchemy's text form, in UTC)."""
    return _sqlite_time if conn.dialect.name == "sqlite" else _same


def _same(value: Any) -> Any:
    return value


@functools.lru_cache(maxsize=65536)  # a batch repeats its fetched_at on every post
def _sqlite_time(value: datetime | None) -> str | None:
    if value is None:
        return None
    moment = value.astimezone(UTC)
    if moment.year >= 1000:  # the same text as strftime below (which does not pad the year)
        return moment.isoformat(" ", "microseconds")[:26]
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def _upsert_sql(conn: Connection, table: str, columns: Sequence[str], keys: Sequence[str],
                updates: dict[str, str] | None = None, rows: int = 1) -> str:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET col = <sql> (DO NOTHING without updates),
    with ``rows`` rows of bound values."""
    marks = "(" + ", ".join([_mark(conn)] * len(columns)) + ")"
    action = ("DO UPDATE SET " + ", ".join(f"{col} = {sql}" for col, sql in updates.items())
              if updates else "DO NOTHING")
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([marks] * rows)} "  # noqa: S608
            f"ON CONFLICT ({', '.join(keys)}) {action}")


#: Rows per multi-row INSERT on SQLite (fewer if the bound-variable limit says so).
SQLITE_ROWS_PER_STATEMENT = 500


def _upsert_rows(conn: Connection, table: str, columns: Sequence[str], keys: Sequence[str],
                 rows: Sequence[tuple], updates: dict[str, str] | None = None) -> None:
    """Upsert ``rows`` (tuples in ``columns`` order), in their order.

    PostgreSQL: the driver's executemany (psycopg pipelines it). SQLite: multi-row ``VALUES``
    statements of up to SQLITE_ROWS_PER_STATEMENT rows, which SQLite applies row by row, in
    order, exactly as executemany would (a row meets the conflicts of the rows before it), but
    in one step each: the sqlite3 module releases the GIL around every step, and a loader thread
    that needs the GIL back once per row waits for the crawl's thread every time.
    """
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        conn.exec_driver_sql(_upsert_sql(conn, table, columns, keys, updates), list(rows))
        return
    width = len(columns)
    size = max(1, min(SQLITE_ROWS_PER_STATEMENT, _sqlite_variable_limit(conn) // width))
    for chunk in _chunks(rows, size):
        params = tuple(itertools.chain.from_iterable(chunk))
        if len(params) != width * len(chunk):
            raise ValueError(f"{table}: a row does not have the {width} values of {columns}")
        conn.exec_driver_sql(_upsert_sql(conn, table, columns, keys, updates, len(chunk)), params)


def _sqlite_variable_limit(conn: Connection) -> int:
    """SQLite's bound-variable limit on this connection (999, the old default, if unknown)."""
    driver = getattr(conn.connection, "dbapi_connection", None)
    try:
        return int(driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))  # type: ignore[union-attr]
    except (AttributeError, TypeError, ValueError, sqlite3.Error):
        return 999


def _ids_by(conn: Connection, table: str, key: str, pairs: Iterable[tuple[str, str]]) -> dict:
    """{(platform, key): id} of rows of ``table`` for the given pairs, per platform in chunks."""
    by_platform: dict[str, set[str]] = {}
    for platform, value in pairs:
        by_platform.setdefault(platform, set()).add(value)
    found: dict[tuple[str, str], int] = {}
    mark = _mark(conn)
    columns = _pairs_sql(conn, "id", key)
    for platform, values in by_platform.items():
        for chunk in _chunks(sorted(values)):
            sql = (f"SELECT {columns} FROM {table} WHERE platform = {mark} "  # noqa: S608
                   f"AND {key} IN ({', '.join([mark] * len(chunk))})")
            for row_id, value in _pairs(conn, sql, (platform, *chunk)):
                found[(platform, value)] = row_id
    return found


def _pairs_sql(conn: Connection, first: str, second: str) -> str:
    """The select list of :func:`_pairs`: the two columns, or on SQLite one JSON array of them."""
    if conn.dialect.name == "sqlite":
        return f"json_group_array(json_array({first}, {second}))"
    return f"{first}, {second}"


def _pairs(conn: Connection, sql: str, params: tuple) -> Sequence[Sequence[Any]]:
    """The (first, second) rows of a query selecting :func:`_pairs_sql`. SQLite gives them as
    one JSON row (one step, see :func:`_upsert_rows`; integers and text come back as they are
    stored); other databases as rows."""
    if conn.dialect.name == "sqlite":
        text = conn.exec_driver_sql(sql, params).scalar()
        return json.loads(text) if text else []
    return conn.exec_driver_sql(sql, params).all()


# --- crawl runs ---------------------------------------------------------------------------

def start_run(conn: Connection, run: dict) -> int:
    """Create (or find, for a spooled run loaded later) the crawl_runs row; return its id."""
    table = table_of(CrawlRun)
    row = {
        "run_key": run["run_key"],
        "spider": run.get("spider") or "unknown",
        "platform": run.get("platform"),
        "job": run.get("job"),
        "arguments": run.get("arguments"),
        "started_at": as_datetime(run.get("started_at")) or utcnow(),
        "status": run.get("status") or "running",
        "items_loaded": 0,
        "items_rejected": 0,
    }
    upsert(conn, table, [row], ["run_key"])
    return conn.execute(select(table.c.id).where(table.c.run_key == run["run_key"])).scalar_one()


class JobLocked(RuntimeError):
    """Another run of the same scheduled job holds the lock (a running crawl_runs row)."""

    def __init__(self, job: str | None, holder: int | None) -> None:
        super().__init__(f"job {job!r} is already running (crawl run {holder})")
        self.job = job
        self.holder = holder


def acquire_run(engine, run: dict, stale_after: float) -> int:
    """Start (or resume, same run_key) a run as ``running``; the job's lock is taken atomically.

    At most one run of a job can be ``running``: a partial unique index enforces it. A running
    run whose heartbeat is older than ``stale_after`` seconds is marked ``abandoned`` first, so a
    crashed run does not hold its job's lock for ever. Raises JobLocked when the lock is held.
    """
    table = table_of(CrawlRun)
    now = utcnow()
    job = run.get("job")
    with engine.begin() as conn:
        if job:
            alive_since = now - timedelta(seconds=stale_after)
            conn.execute(update(table).where(
                table.c.job == job, table.c.status == "running", table.c.run_key != run["run_key"],
                func.coalesce(table.c.heartbeat_at, table.c.started_at) < alive_since,
            ).values(status="abandoned", finished_at=now))
    try:
        with engine.begin() as conn:
            run_id = start_run(conn, {**run, "status": "running"})
            conn.execute(update(table).where(table.c.id == run_id).values(
                status="running", heartbeat_at=now, finished_at=None))
            return run_id
    except IntegrityError:
        with engine.begin() as conn:
            holder = conn.execute(select(table.c.id).where(
                table.c.job == job, table.c.status == "running")).scalar()
            start_run(conn, {**run, "status": "skipped"})
            finish_run(conn, run["run_key"], status="skipped", finish_reason="job_locked",
                       checks={"lock": {"held_by_run": holder}})
        raise JobLocked(job, holder) from None


def heartbeat(conn: Connection, run_id: int) -> None:
    table = table_of(CrawlRun)
    conn.execute(update(table).where(table.c.id == run_id).values(heartbeat_at=utcnow()))


def loaded_handles(conn: Connection, run_id: int) -> set[tuple[str, str]]:
    """(platform, handle) of the accounts this run already loaded (a resumed run skips them)."""
    snapshots, profiles = table_of(ProfileSnapshot), table_of(Profile)
    rows = conn.execute(select(profiles.c.platform, profiles.c.handle)
                        .join(snapshots, snapshots.c.profile_id == profiles.c.id)
                        .where(snapshots.c.crawl_run_id == run_id))
    return {(platform, handle) for platform, handle in rows}


def finish_run(conn: Connection, run_key: str, **values: Any) -> None:
    table = table_of(CrawlRun)
    values["finished_at"] = as_datetime(values.get("finished_at")) or utcnow()
    conn.execute(update(table).where(table.c.run_key == run_key).values(**values))


# --- one batch ------------------------------------------------------------------------------

def load_batch(conn: Connection, run_id: int, records: Sequence[dict], spider: str | None = None) -> dict:
    """Write a batch; returns counts {"profiles", "posts", "sightings", "rejected", "suppressed"}."""
    records, suppressed = drop_suppressed(conn, records)
    profiles = _last_by(records, "profile", lambda r: (r["platform"], r["handle"]))
    sightings = _last_by(records, "sighting",
                         lambda r: (r["platform"], r["hashtag"], r["post_id"], r.get("listing") or "recent"))
    standalone = _last_by(records, "post", lambda r: (r["platform"], str(r["post_id"])))
    rejected = [r for r in records if r.get("_type") == "rejected"]
    for profile in profiles:  # partial problems become quarantine rows of their own
        rejected.extend(_problem_records(profile))

    now = utcnow()
    profile_ids = _load_profiles(conn, profiles, now)
    post_count = _load_posts(conn, profiles, profile_ids, standalone, now)
    _load_snapshots(conn, run_id, profiles, profile_ids)
    _load_niches(conn, profiles, profile_ids, now)
    _load_vectors(conn, profiles, profile_ids, now)
    _load_sightings(conn, run_id, sightings, now)
    _load_rejected(conn, run_id, rejected, spider, now)
    return {"profiles": len(profiles), "posts": post_count, "sightings": len(sightings),
            "rejected": len(rejected), "suppressed": suppressed}


# --- the suppression list (``microscout forget``, models/erasure.py) -------------------------

SUPPRESSION_CHUNK = 5000  # names per look-up (each bound twice): one query for a default batch
PAYLOAD_NAMES = ("handle", "author_handle", "platform_user_id")  # a quarantine payload's account


def lock_suppressions(conn: Connection) -> None:
    """Serialise a batch with ``microscout forget``, so a forget that commits while the batch is
    being written is never undone by it. SQLite: take the database's write lock before the
    look-up (forget takes it first too). PostgreSQL: nothing more is needed; the look-up's
    ACCESS SHARE lock is held to commit, and forget's LOCK TABLE waits for it."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("UPDATE suppressed_accounts SET id = id WHERE 1 = 0")


def suppressed_names(conn: Connection, names: dict[str, set[str]]) -> dict[str, set[str]]:
    """Of ``names`` (platform -> handles and platform user ids), the suppressed accounts' handles
    and ids, per platform: one query per platform for a batch of up to SUPPRESSION_CHUNK names."""
    mark = _mark(conn)
    found: dict[str, set[str]] = {}
    for platform, values in sorted(names.items()):
        for chunk in _chunks(sorted(values), SUPPRESSION_CHUNK):
            marks = ", ".join([mark] * len(chunk))
            sql = (f"SELECT handle, platform_user_id FROM suppressed_accounts "  # noqa: S608
                   f"WHERE platform = {mark} AND (handle IN ({marks}) OR platform_user_id IN ({marks}))")
            for handle, user_id in conn.exec_driver_sql(sql, (platform, *chunk, *chunk)):
                found.setdefault(platform, set()).update(v for v in (handle, user_id) if v)
    return found


def _platform(record: dict) -> str | None:
    payload = record.get("payload")
    return record.get("platform") or (payload.get("platform") if isinstance(payload, dict) else None)


def _names(record: dict) -> set[str]:
    """The handles and platform user ids a record names."""
    kind, values = record.get("_type"), []
    if kind == "profile":
        values = [record.get("handle"), record.get("platform_user_id"),
                  *(post.get("author_handle") for post in record.get("recent_posts") or ())]
    elif kind in ("post", "sighting"):
        values = [record.get("author_handle")]
    elif kind == "rejected" and isinstance(record.get("payload"), dict):
        values = [record["payload"].get(key) for key in PAYLOAD_NAMES]
    return {str(value) for value in values if value not in (None, "")}


def _own(record: dict) -> set[str]:
    """The names of the account a record is by (or about)."""
    if record.get("_type") == "profile":
        return {str(v) for v in (record.get("handle"), record.get("platform_user_id")) if v}
    return _names(record)


def drop_suppressed(conn: Connection, records: Sequence[dict]) -> tuple[Sequence[dict], int]:
    """The batch without what is by or about a suppressed account, and how many items went:
    its profiles (with their posts), posts (also inside other accounts' lists), sightings
    (by author, or of a post that went) and quarantine rows whose payload names it."""
    names: dict[str, set[str]] = {}
    for record in records:
        platform = _platform(record)
        if platform:
            names.setdefault(platform, set()).update(_names(record))
    names = {platform: values for platform, values in names.items() if values}
    if not names:
        return records, 0
    lock_suppressions(conn)
    blocked = suppressed_names(conn, names)
    if not blocked:
        return records, 0
    gone_posts: set[tuple[str, str]] = set()
    for record in records:  # a renamed account (known by its id) takes its new handle with it
        out = blocked.get(_platform(record) or "", set())
        if record.get("_type") == "profile" and _own(record) & out:
            out.add(str(record["handle"]))
    for record in records:
        platform = _platform(record) or ""
        out = blocked.get(platform, set())
        if record.get("_type") == "profile":
            whole = bool(_own(record) & out)
            gone_posts.update((platform, str(post.get("post_id")))
                              for post in record.get("recent_posts") or ()
                              if whole or str(post.get("author_handle")) in out)
        elif record.get("_type") == "post" and _own(record) & out:
            gone_posts.add((platform, str(record.get("post_id"))))
    kept: list[dict] = []
    dropped = 0
    for record in records:
        platform = _platform(record) or ""
        out = blocked.get(platform, set())
        if _own(record) & out or (record.get("_type") == "sighting"
                                  and (platform, str(record.get("post_id"))) in gone_posts):
            dropped += 1
            continue
        if record.get("_type") == "profile" and out:
            posts = record.get("recent_posts") or []
            keep = [post for post in posts if str(post.get("author_handle")) not in out]
            if len(keep) < len(posts):
                dropped += len(posts) - len(keep)
                record = {**record, "recent_posts": keep}
        kept.append(record)
    return kept, dropped


def _last_by(records: Sequence[dict], kind: str, key) -> list[dict]:
    """Records of one kind, de-duplicated by key (the last one wins), sorted by key."""
    chosen: dict[Any, dict] = {}
    for record in records:
        if record.get("_type") == kind:
            chosen[key(record)] = record
    return [chosen[k] for k in sorted(chosen, key=_text_key)]


def _text_key(key: tuple) -> tuple[str, ...]:
    return tuple(map(str, key))


def _problem_records(profile: dict) -> list[dict]:
    return [{
        "_type": "rejected",
        "reason": problem.get("reason") or "problem",
        "detail": f"{problem.get('field')}: {problem.get('raw')!r}",
        "platform": profile.get("platform"),
        "item_type": "PostItem" if problem.get("post_id") else "ProfileItem",
        "payload": {**problem, "handle": profile.get("handle")},
        "source_url": profile.get("source_url"),
    } for problem in profile.get("problems") or ()]


def _rename_handles(conn: Connection, profiles: Sequence[dict]) -> None:
    """A known platform_user_id under a new handle renames the row instead of adding one."""
    table = table_of(Profile)
    wanted = {(p["platform"], str(p["platform_user_id"])): p["handle"]
              for p in profiles if p.get("platform_user_id")}
    if not wanted:
        return
    existing = _ids_by(conn, "profiles", "platform_user_id", wanted)
    if not existing:
        return
    taken = _ids_by(conn, "profiles", "handle",
                    [(platform, handle) for (platform, _), handle in wanted.items()])
    for (platform, user_id), row_id in sorted(existing.items()):
        handle = wanted[(platform, user_id)]
        if (platform, handle) not in taken:
            conn.execute(update(table).where(table.c.id == row_id).values(handle=handle))


PROFILE_COLUMNS = ("platform", "handle", *PROFILE_FIELDS, "discovered_via", "first_seen_at",
                   "last_seen_at")
PROFILE_UPDATES = {
    **{field: f"excluded.{field}" for field in PROFILE_FIELDS},
    "discovered_via": "COALESCE(profiles.discovered_via, excluded.discovered_via)",
    "first_seen_at": "CASE WHEN excluded.first_seen_at < profiles.first_seen_at "
                     "THEN excluded.first_seen_at ELSE profiles.first_seen_at END",
    "last_seen_at": "CASE WHEN excluded.last_seen_at > profiles.last_seen_at "
                    "THEN excluded.last_seen_at ELSE profiles.last_seen_at END",
}


def _load_profiles(conn: Connection, profiles: Sequence[dict], now: datetime) -> dict:
    if not profiles:
        return {}
    _rename_handles(conn, profiles)
    when = _when(conn)
    rows = []
    for p in profiles:
        seen = when(as_datetime(p.get("fetched_at")) or now)
        user_id = p.get("platform_user_id")
        rows.append((p["platform"], p["handle"], None if user_id is None else str(user_id),
                     *(p.get(field) for field in PROFILE_FIELDS[1:-2]),
                     *(json.dumps(p[name]) if p.get(name) else None for name in ("links", "languages")),
                     p.get("discovered_via"), seen, seen))
    _upsert_rows(conn, "profiles", PROFILE_COLUMNS, ("platform", "handle"), rows, PROFILE_UPDATES)
    return _ids_by(conn, "profiles", "handle", [(p["platform"], p["handle"]) for p in profiles])


SNAPSHOT_COLUMNS = ("profile_id", "crawl_run_id", "captured_at", *SNAPSHOT_FIELDS)


def _load_snapshots(conn: Connection, run_id: int, profiles: Sequence[dict], ids: dict) -> None:
    when = _when(conn)
    rows = [(ids[(p["platform"], p["handle"])], run_id, when(as_datetime(p.get("fetched_at")) or utcnow()),
             *(p.get(field) for field in SNAPSHOT_FIELDS)) for p in profiles]
    updates = {col: f"excluded.{col}" for col in ("captured_at", *SNAPSHOT_FIELDS)}
    _upsert_rows(conn, "profile_snapshots", SNAPSHOT_COLUMNS, ("profile_id", "crawl_run_id"), rows,
                 updates)


_POSTED_AT = POST_FIELDS.index("posted_at")
POST_COLUMNS = ("platform", "post_id", "profile_id", *POST_FIELDS, "first_seen_at", "last_seen_at")
POST_UPDATES = {
    **{field: f"excluded.{field}" for field in POST_FIELDS},
    "last_seen_at": "excluded.last_seen_at",
    "profile_id": "COALESCE(excluded.profile_id, posts.profile_id)",
}


def _load_posts(conn: Connection, profiles: Sequence[dict], profile_ids: dict,
                standalone: Sequence[dict], now: datetime) -> int:
    """Posts of the batch's profiles, and posts seen on their own (listings without authors'
    counts): those are linked to their author when the account is already in the warehouse."""
    when = _when(conn)
    posts: dict[tuple[str, str], tuple] = {}
    tags: dict[tuple[str, str], Sequence[str]] = {}

    def add(post: dict, platform: str, profile_id: int | None, seen: Any) -> None:
        key = (platform, str(post["post_id"]))
        values = list(map(post.get, POST_FIELDS))
        values[_POSTED_AT] = when(as_datetime(values[_POSTED_AT]))
        posts[key] = (platform, key[1], profile_id, *values, seen, seen)
        tags[key] = post.get("hashtags") or ()

    authors = _ids_by(conn, "profiles", "handle",
                      {(p["platform"], p["author_handle"]) for p in standalone if p.get("author_handle")})
    for post in standalone:
        add(post, post["platform"], authors.get((post["platform"], post.get("author_handle"))),
            when(as_datetime(post.get("seen_at")) or now))
    for p in profiles:
        profile_id = profile_ids[(p["platform"], p["handle"])]
        seen = when(as_datetime(p.get("fetched_at")) or now)
        for post in p.get("recent_posts") or ():
            if post.get("post_id"):
                add(post, post.get("platform") or p["platform"], profile_id, seen)
    if not posts:
        return 0
    _upsert_rows(conn, "posts", POST_COLUMNS, ("platform", "post_id"),
                 [posts[key] for key in sorted(posts)], POST_UPDATES)
    post_ids = _ids_by(conn, "posts", "post_id", posts)
    tag_ids = _hashtag_ids(conn, {tag for values in tags.values() for tag in values})
    links = sorted({(post_ids[key], tag_ids[tag]) for key, values in tags.items() for tag in values})
    _upsert_rows(conn, "post_hashtags", ("post_id", "hashtag_id"), ("post_id", "hashtag_id"), links)
    return len(posts)


def _hashtag_ids(conn: Connection, tags: set[str]) -> dict[str, int]:
    if not tags:
        return {}
    ordered = sorted(tags)
    _upsert_rows(conn, "hashtags", ("tag",), ("tag",), [(tag,) for tag in ordered])
    mark = _mark(conn)
    found: dict[str, int] = {}
    columns = _pairs_sql(conn, "tag", "id")
    for chunk in _chunks(ordered):
        sql = f"SELECT {columns} FROM hashtags WHERE tag IN ({', '.join([mark] * len(chunk))})"  # noqa: S608
        for tag, row_id in _pairs(conn, sql, tuple(chunk)):
            found[tag] = row_id
    return found


def _load_niches(conn: Connection, profiles: Sequence[dict], ids: dict, now: datetime) -> None:
    """Replace each account's niche scores with the ones computed in this crawl."""
    mark = _mark(conn)
    profile_ids = sorted({ids[(p["platform"], p["handle"])] for p in profiles})
    for chunk in _chunks(profile_ids):
        marks = ", ".join([mark] * len(chunk))
        conn.exec_driver_sql(f"DELETE FROM profile_niches WHERE profile_id IN ({marks})",  # noqa: S608
                             tuple(chunk))
    updated = _when(conn)(now)
    rows = [(ids[(p["platform"], p["handle"])], niche, float(score), niche == p.get("primary_niche"),
             updated)
            for p in profiles for niche, score in sorted((p.get("niches") or {}).items())]
    _upsert_rows(conn, "profile_niches", ("profile_id", "niche", "score", "is_primary", "updated_at"),
                 ("profile_id", "niche"), rows,
                 {col: f"excluded.{col}" for col in ("score", "is_primary", "updated_at")})


def _load_vectors(conn: Connection, profiles: Sequence[dict], ids: dict, now: datetime) -> None:
    """Each profile's text embedding (``text_vector``: "encoder:base64 float16"), when computed."""
    updated = _when(conn)(now)
    rows = []
    for p in profiles:
        encoder, _, packed = (p.get("text_vector") or "").rpartition(":")
        if encoder and packed:
            rows.append((ids[(p["platform"], p["handle"])], encoder, base64.b64decode(packed), updated))
    _upsert_rows(conn, "profile_vectors", ("profile_id", "encoder", "vector", "updated_at"),
                 ("profile_id",), sorted(rows),
                 {col: f"excluded.{col}" for col in ("encoder", "vector", "updated_at")})


SIGHTING_COLUMNS = ("crawl_run_id", "hashtag_id", "platform", "post_id", "author_handle", "listing",
                    "position", "seen_at")


def _load_sightings(conn: Connection, run_id: int, sightings: Sequence[dict], now: datetime) -> None:
    if not sightings:
        return
    when = _when(conn)
    tag_ids = _hashtag_ids(conn, {s["hashtag"] for s in sightings})
    rows = [(run_id, tag_ids[s["hashtag"]], s["platform"], str(s["post_id"]), s.get("author_handle"),
             s.get("listing") or "recent", s.get("position"), when(as_datetime(s.get("seen_at")) or now))
            for s in sightings]
    updates = {col: f"excluded.{col}" for col in ("author_handle", "position", "seen_at")}
    _upsert_rows(conn, "hashtag_sightings", SIGHTING_COLUMNS,
                 ("crawl_run_id", "hashtag_id", "platform", "post_id", "listing"), rows, updates)


def _load_rejected(conn: Connection, run_id: int, rejected: Sequence[dict], spider: str | None,
                   now: datetime) -> None:
    if not rejected:
        return
    rows = [{
        "crawl_run_id": run_id,
        "spider": spider,
        "platform": r.get("platform"),
        "item_type": r.get("item_type"),
        "reason": r.get("reason") or "unknown",
        "detail": r.get("detail"),
        "payload": r.get("payload"),
        "source_url": r.get("source_url"),
        "created_at": now,
    } for r in rejected]
    conn.execute(_insert(conn, table_of(RejectedRecord)), rows)
