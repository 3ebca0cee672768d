"""Warehouse load: the warehouse pipeline against the usual ways of writing Scrapy items to SQL.

``--size`` ProfileItems (default 100,000), each with ``--posts`` recent posts (default 4), every
post with 1-3 hashtags out of 120, every profile with 2 niche scores, built in this process as the
niche pipeline hands them on (typed values, tier, engagement, niches). Each way starts from an
empty, migrated warehouse and is timed from the first item to the last commit; rows are counted in
the database afterwards (profiles, profile_snapshots, posts, hashtags, post_hashtags,
profile_niches: 1 + 1 + 4 + ~8 + 2 = ~16 rows a profile):

* **pipeline**: ``pipelines.warehouse.WarehousePipeline`` itself (``item_record`` per item,
  ``models.loader.load_batch`` per batch of ``MICROSCOUT_BATCH_SIZE`` on its worker thread,
  ``INSERT ... ON CONFLICT DO UPDATE`` with in-batch de-duplication and id look-ups), driven by an
  asyncio loop as Scrapy's pipeline manager drives it;
* **(a) ORM per item**: what most Scrapy + SQLAlchemy examples do in ``process_item``: one
  ``Session``; per item ``session.add`` of the ``models.tables`` objects (profile, snapshot, posts,
  post-hashtag links, niches), flushes to get ids, get-or-create per hashtag (a SELECT each), and
  ``session.commit()``. Its cost per item does not depend on the size, so it is timed on the first
  ``--orm-size`` items (default 5,000) and its rate compared;
* **(b) raw executemany**: the same rows as plain ``INSERT`` (no ``ON CONFLICT``, ids assigned in
  Python, so no look-ups) through the DB-API cursor, one ``executemany`` per table per batch of
  the same size, one transaction a batch: the floor any loader pays for these rows.

The pipeline and the ORM stop being fed after ``--cap`` seconds (default 600): a way that is
slower than that is reported with the rate it reached and a note saying where it stopped. (On a
PostgreSQL whose new tables have no planner statistics, e.g. with autovacuum off, the loader's
``SELECT ... WHERE platform = ? AND post_id IN (...)`` id look-ups scan every post of the platform,
so each batch costs more than the one before; see the closing note of issue #7.)

All three use the warehouse's engine (``models.db.make_engine``: WAL and ``synchronous=NORMAL`` on
SQLite; PostgreSQL as configured, here ``synchronous_commit=on``).

    python -m benchmarks.warehouse_load --size 100000 [--db sqlite,postgresql] [--orm-size 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

from benchmarks.common import (
    DATABASES,
    Row,
    Timer,
    check,
    db_label,
    parse_list,
    pg_available,
    print_table,
    say,
    scratch_dir,
    warehouse,
)

TARGET_ORM = 20.0
TARGET_RAW = 0.5
BATCH = 500
TABLES = ("profiles", "profile_snapshots", "posts", "hashtags", "post_hashtags", "profile_niches")
TAGS = [f"tag{i:03d}" for i in range(100)] + [
    "fitness", "vegan", "travel", "gaming", "photography", "skincare", "running", "yoga", "coffee",
    "books", "music", "art", "climate", "finance", "parenting", "beauty", "fashion", "food",
    "wellness", "sports",
]
NICHES = ["fitness", "food", "travel", "gaming", "photography", "beauty", "finance", "parenting",
          "tech", "music"]
WORDS = ["morning", "run", "coach", "plant", "based", "recipe", "weekend", "trip", "camera", "film",
         "light", "skin", "routine", "budget", "family", "tips", "review", "build", "level", "city",
         "coast", "mountain", "tea", "coffee", "bread", "garden"]
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


# --- the items ---------------------------------------------------------------------------------

def make_items(size: int, posts: int = 4, seed: int = 7) -> list:
    """``size`` normalised, enriched ProfileItems with ``posts`` PostItems each (deterministic)."""
    from crawler.items import PostItem, ProfileItem

    rng = random.Random(seed)
    items = []
    for i in range(size):
        handle = f"user{i:07d}@bench.example"
        followers = int(10 ** rng.uniform(2.5, 5.5))
        recent = []
        for k in range(posts):
            tags = rng.sample(TAGS, rng.randint(1, 3))
            text = " ".join(rng.choices(WORDS, k=18)) + " " + " ".join(f"#{t}" for t in tags)
            recent.append(PostItem(
                platform="mastodon", post_id=str(10**17 + i * 64 + k), author_handle=handle,
                url=f"https://bench.example/@user{i:07d}/{10**17 + i * 64 + k}",
                posted_at=T0 - timedelta(hours=i % 500 + 7 * k), text=text, hashtags=tags,
                mentions=[], likes=rng.randint(0, 900), comments=rng.randint(0, 90),
                shares=rng.randint(0, 40), views=None, media_type="image",
                posted_at_precision="exact",
            ))
        first, second = rng.sample(NICHES, 2)
        items.append(ProfileItem(
            platform="mastodon", handle=handle, platform_user_id=str(10**15 + i),
            display_name=f"User {i}", bio=" ".join(rng.choices(WORDS, k=16)),
            external_url=f"https://user{i}.example.com" if i % 3 == 0 else None,
            is_verified=i % 50 == 0, category=None, followers=followers,
            following=rng.randint(10, 3000), posts_count=rng.randint(posts, 5000),
            profile_url=f"https://bench.example/@user{i:07d}", recent_posts=recent,
            source_url=f"https://bench.example/api/v1/accounts/{10**15 + i}/statuses",
            fetched_at=T0, discovered_via="benchmark", engagement_rate=rng.random() / 20,
            engagement_rate_median=rng.random() / 20, posts_per_week=rng.random() * 10,
            recent_posts_used=posts, tier="micro" if followers >= 1000 else "nano",
            tier_scheme="seed", niches={first: 0.9, second: 0.4}, primary_niche=first,
        ))
    return items


# --- the three ways ------------------------------------------------------------------------------

def load_pipeline(url: str, items: list, tmp: Path, cap: float | None = None) -> tuple[float, int]:
    """WarehousePipeline as Scrapy drives it (open, process_item per item, close);
    (seconds, items fed). Past ``cap`` seconds no more items are fed (the rest is closed out)."""
    from scrapy import Spider
    from scrapy.utils.test import get_crawler

    from pipelines.warehouse import WarehousePipeline

    class BenchSpider(Spider):
        name = "benchmark"
        platform = "mastodon"
        run_args: ClassVar[dict] = {"size": len(items)}

    crawler = get_crawler(BenchSpider, {"MICROSCOUT_DATABASE_URL": url, "MICROSCOUT_BATCH_SIZE": BATCH,
                                        "MICROSCOUT_SPOOL_DIR": str(tmp / "spool")})
    crawler.spider = BenchSpider.from_crawler(crawler)
    crawler.stats.open_spider()
    pipeline = WarehousePipeline.from_crawler(crawler)

    fed = 0

    async def drive() -> None:
        nonlocal fed
        await pipeline.open_spider()
        deadline = time.perf_counter() + cap if cap else None
        for item in items:
            await pipeline.process_item(item)
            fed += 1
            if deadline is not None and fed % BATCH == 0 and time.perf_counter() > deadline:
                break
        crawler.stats.set_value("finish_reason", "finished")
        await pipeline.close_spider()

    with Timer() as timer:
        asyncio.run(drive())
    if crawler.stats.get_value("microscout/warehouse/spooled_items"):
        raise RuntimeError("the warehouse pipeline spooled items")
    return timer.seconds, fed


def load_orm(url: str, items: list, cap: float | None = None) -> tuple[float, int]:
    """Per item: Session.add the ORM objects, flush for ids, get-or-create hashtags, commit;
    (seconds, items written), stopping after ``cap`` seconds."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from models.db import make_engine
    from models.tables import (
        CrawlRun,
        Hashtag,
        Post,
        PostHashtag,
        Profile,
        ProfileNiche,
        ProfileSnapshot,
    )

    engine = make_engine(url)
    try:
        with Timer() as timer, Session(engine) as session:
            run = CrawlRun(run_key="orm-benchmark", spider="benchmark", platform="mastodon",
                           started_at=datetime.now(UTC), status="running")
            session.add(run)
            session.commit()
            deadline = time.perf_counter() + cap if cap else None
            for done, item in enumerate(items, 1):
                if deadline is not None and time.perf_counter() > deadline:
                    done -= 1
                    break
                now = datetime.now(UTC)
                profile = Profile(
                    platform=item.platform, handle=item.handle,
                    platform_user_id=item.platform_user_id, display_name=item.display_name,
                    bio=item.bio, external_url=item.external_url, profile_url=item.profile_url,
                    is_verified=item.is_verified, category=item.category,
                    discovered_via=item.discovered_via, first_seen_at=item.fetched_at,
                    last_seen_at=item.fetched_at)
                session.add(profile)
                session.flush()
                session.add(ProfileSnapshot(
                    profile_id=profile.id, crawl_run_id=run.id, captured_at=item.fetched_at,
                    followers=item.followers, following=item.following, posts_count=item.posts_count,
                    engagement_rate=item.engagement_rate,
                    engagement_rate_median=item.engagement_rate_median,
                    engagement_per_view=item.engagement_per_view, posts_per_week=item.posts_per_week,
                    recent_posts_used=item.recent_posts_used, tier=item.tier,
                    tier_scheme=item.tier_scheme))
                for niche, score in item.niches.items():
                    session.add(ProfileNiche(profile_id=profile.id, niche=niche, score=score,
                                             is_primary=niche == item.primary_niche, updated_at=now))
                for p in item.recent_posts:
                    post = Post(platform=p.platform, post_id=p.post_id, profile_id=profile.id,
                                author_handle=p.author_handle, url=p.url, posted_at=p.posted_at,
                                posted_at_precision=p.posted_at_precision, text=p.text, likes=p.likes,
                                comments=p.comments, shares=p.shares, views=p.views,
                                media_type=p.media_type, first_seen_at=item.fetched_at,
                                last_seen_at=item.fetched_at)
                    session.add(post)
                    session.flush()
                    for tag in p.hashtags:
                        hashtag = session.scalars(select(Hashtag).where(Hashtag.tag == tag)).first()
                        if hashtag is None:
                            hashtag = Hashtag(tag=tag)
                            session.add(hashtag)
                            session.flush()
                        session.add(PostHashtag(post_id=post.id, hashtag_id=hashtag.id))
                session.commit()
    finally:
        engine.dispose()
    return timer.seconds, done if items else 0


def load_executemany(url: str, items: list) -> tuple[float, int]:
    """The same rows as plain INSERTs, ids assigned here, one executemany per table per batch."""
    from models.db import make_engine

    engine = make_engine(url)
    sqlite = engine.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"

    def when(value: datetime) -> object:  # what SQLAlchemy's SQLite DateTime stores
        return value.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else value

    def insert(table: str, columns: str) -> str:
        count = columns.count(",") + 1
        return f"INSERT INTO {table} ({columns}) VALUES ({', '.join([mark] * count)})"  # noqa: S608

    sql = {
        "profiles": insert("profiles", "id, platform, handle, platform_user_id, display_name, bio, "
                           "external_url, profile_url, is_verified, category, discovered_via, "
                           "first_seen_at, last_seen_at"),
        "profile_snapshots": insert("profile_snapshots", "profile_id, crawl_run_id, captured_at, "
                                    "followers, following, posts_count, engagement_rate, "
                                    "engagement_rate_median, engagement_per_view, posts_per_week, "
                                    "recent_posts_used, tier, tier_scheme"),
        "posts": insert("posts", "id, platform, post_id, profile_id, author_handle, url, posted_at, "
                        "posted_at_precision, text, likes, comments, shares, views, media_type, "
                        "first_seen_at, last_seen_at"),
        "hashtags": insert("hashtags", "id, tag"),
        "post_hashtags": insert("post_hashtags", "post_id, hashtag_id"),
        "profile_niches": insert("profile_niches", "profile_id, niche, score, is_primary, updated_at"),
    }
    tag_ids: dict[str, int] = {}
    post_id = 0
    raw = engine.raw_connection()
    try:
        with Timer() as timer:
            cursor = raw.cursor()
            cursor.execute(
                f"INSERT INTO crawl_runs (id, run_key, spider, started_at, status, items_loaded, "  # noqa: S608
                f"items_rejected) VALUES (1, 'raw-benchmark', 'benchmark', {mark}, 'running', 0, 0)",
                (when(datetime.now(UTC)),))
            raw.commit()
            for start in range(0, len(items), BATCH):
                rows: dict[str, list[tuple]] = {table: [] for table in sql}
                now = when(datetime.now(UTC))
                for offset, item in enumerate(items[start:start + BATCH]):
                    pid = start + offset + 1
                    seen = when(item.fetched_at)
                    rows["profiles"].append((
                        pid, item.platform, item.handle, item.platform_user_id, item.display_name,
                        item.bio, item.external_url, item.profile_url, item.is_verified, item.category,
                        item.discovered_via, seen, seen))
                    rows["profile_snapshots"].append((
                        pid, 1, seen, item.followers, item.following, item.posts_count,
                        item.engagement_rate, item.engagement_rate_median, item.engagement_per_view,
                        item.posts_per_week, item.recent_posts_used, item.tier, item.tier_scheme))
                    for niche, score in item.niches.items():
                        rows["profile_niches"].append(
                            (pid, niche, score, niche == item.primary_niche, now))
                    for p in item.recent_posts:
                        post_id += 1
                        rows["posts"].append((
                            post_id, p.platform, p.post_id, pid, p.author_handle, p.url,
                            when(p.posted_at), p.posted_at_precision, p.text, p.likes, p.comments,
                            p.shares, p.views, p.media_type, seen, seen))
                        for tag in p.hashtags:
                            tag_id = tag_ids.get(tag)
                            if tag_id is None:
                                tag_id = tag_ids[tag] = len(tag_ids) + 1
                                rows["hashtags"].append((tag_id, tag))
                            rows["post_hashtags"].append((post_id, tag_id))
                for table, statement in sql.items():
                    if rows[table]:
                        cursor.executemany(statement, rows[table])
                raw.commit()
            cursor.close()
    finally:
        raw.close()
        engine.dispose()
    return timer.seconds, len(items)


def count_rows(url: str) -> int:
    from sqlalchemy import text

    from models.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return sum(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()  # noqa: S608
                       for t in TABLES)
    finally:
        engine.dispose()


# --- the benchmark -------------------------------------------------------------------------------

def measure(kind: str, items: list, orm_items: list, tmp: Path,
            cap: float | None = None) -> dict[str, tuple[int, float, int]]:
    """{way: (rows, seconds, profiles)} on a fresh warehouse each."""
    results = {}
    for way, load in (("pipeline", lambda url: load_pipeline(url, items, tmp, cap)),
                      ("executemany", lambda url: load_executemany(url, items)),
                      ("orm", lambda url: load_orm(url, orm_items, cap))):
        with warehouse(kind, tmp, f"load-{way}") as url:
            seconds, done = load(url)
            rows = count_rows(url)
        results[way] = (rows, seconds, done)
        say(f"  warehouse load {db_label(kind)} {way}: {done:,} profiles, {rows:,} rows in "
            f"{seconds:.1f} s ({rows / seconds:,.0f} rows/s)")
    return results


def run(size: int = 100_000, posts: int = 4, databases: list[str] | None = None,
        orm_size: int = 5000, cap: float | None = 600.0) -> list[Row]:
    databases = list(databases or DATABASES)
    if "postgresql" in databases and not pg_available():
        say("PostgreSQL not reachable: warehouse load measured on SQLite only")
        databases.remove("postgresql")
    items = make_items(size, posts)
    orm_items = items[:min(size, orm_size)]
    rows = []
    with scratch_dir() as tmp:
        for kind in databases:
            results = measure(kind, items, orm_items, tmp, cap)
            (p_rows, p_seconds, p_done), (r_rows, r_seconds, _), (o_rows, o_seconds, o_done) = (
                results["pipeline"], results["executemany"], results["orm"])
            if p_done == size and p_rows != r_rows:
                raise RuntimeError(f"pipeline wrote {p_rows} rows, executemany {r_rows}")
            ours, raw, orm = p_rows / p_seconds, r_rows / r_seconds, o_rows / o_seconds
            label = f"{size:,} profiles x {posts} posts, {db_label(kind)}"
            stopped = "" if p_done == size else f"; pipeline STOPPED at the {cap:g} s cap after {p_done:,}"
            rows.append(Row("warehouse load", f"{label} vs ORM per item", ours, orm, "rows/s",
                            ours / orm, f">= {TARGET_ORM:g}", check(ours / orm, TARGET_ORM),
                            f"pipeline/ORM; ORM timed on {o_done:,} profiles, commit each{stopped}"))
            rows.append(Row("warehouse load", f"{label} vs raw executemany", ours, raw, "rows/s",
                            ours / raw, f">= {TARGET_RAW:g}", check(ours / raw, TARGET_RAW),
                            f"pipeline/executemany; {r_rows:,} rows{stopped}"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000, help="profiles (default 100,000)")
    parser.add_argument("--posts", type=int, default=4, help="posts per profile (default 4)")
    parser.add_argument("--db", default=",".join(DATABASES), help="sqlite, postgresql (comma list)")
    parser.add_argument("--orm-size", type=int, default=5000,
                        help="profiles the per-item ORM way is timed on (default 5,000)")
    parser.add_argument("--cap", type=float, default=600.0,
                        help="seconds after which the pipeline and the ORM stop being fed (default 600)")
    args = parser.parse_args(argv)
    rows = run(args.size, args.posts, parse_list(args.db), args.orm_size, args.cap)
    print_table("Warehouse load: WarehousePipeline vs per-item ORM and raw executemany", rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
