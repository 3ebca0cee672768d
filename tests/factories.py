"""Small builders for normalised items, and a warehouse pipeline driven without the engine,
shared by the warehouse tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from scrapy import Spider
from scrapy.utils.test import get_crawler

from crawler.items import HashtagSightingItem, PostItem, ProfileItem
from pipelines.warehouse import WarehousePipeline

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def post(n: int, handle: str = "alice@example.social", platform: str = "mastodon", **kw) -> PostItem:
    values = {
        "platform": platform,
        "post_id": f"{handle}-{n}",
        "author_handle": handle,
        "url": f"https://example.social/@{handle}/{n}",
        "posted_at": T0 - timedelta(days=n),
        "text": f"post {n} #fitness",
        "hashtags": ["fitness", f"tag{n % 3}"],
        "likes": 100 + n,
        "comments": 10,
        "shares": 1,
        "views": None,
        "media_type": "image",
    }
    values.update(kw)
    return PostItem(**values)


def profile(
    handle: str = "alice@example.social",
    followers: int = 12_000,
    platform: str = "mastodon",
    posts: int = 3,
    fetched_at: datetime = T0,
    **kw,
) -> ProfileItem:
    values = {
        "platform": platform,
        "handle": handle,
        "platform_user_id": f"id-{handle}",
        "display_name": (handle or "x").split("@")[0].title(),
        "bio": "Coach. #fitness",
        "followers": followers,
        "following": 100,
        "posts_count": 50,
        "profile_url": f"https://example.social/@{handle}",
        "recent_posts": [post(i, handle or "x", platform or "x") for i in range(posts)],
        "fetched_at": fetched_at,
        "discovered_via": "fitness",
        "engagement_rate": 0.01,
        "tier": "micro",
        "tier_scheme": "seed",
        "niches": {"fitness": 0.9, "health": 0.3},
        "primary_niche": "fitness",
    }
    values.update(kw)
    return ProfileItem(**values)


def sighting(
    post_id: str, tag: str = "fitness", position: int = 0, platform: str = "mastodon", listing: str = "recent"
) -> HashtagSightingItem:
    return HashtagSightingItem(
        platform=platform,
        hashtag=tag,
        post_id=post_id,
        author_handle="alice",
        position=position,
        listing=listing,
        seen_at=T0,
    )


class UnitSpider(Spider):
    name = "unit"
    platform = "mastodon"
    run_args = {"tags": "fitness", "password": "hunter2"}


def warehouse_pipeline(url: str, tmp_path: Path, **settings: Any) -> WarehousePipeline:
    """A WarehousePipeline on ``url`` with small batches, fast retries and a spool in tmp_path."""
    crawler = get_crawler(UnitSpider, {
        "MICROSCOUT_DATABASE_URL": url, "MICROSCOUT_BATCH_SIZE": 2, "MICROSCOUT_DB_RETRIES": 2,
        "MICROSCOUT_DB_RETRY_DELAY": 0, "MICROSCOUT_SPOOL_DIR": str(tmp_path / "spool"), **settings,
    })
    crawler.spider = UnitSpider.from_crawler(crawler)
    crawler.stats.open_spider()
    return WarehousePipeline.from_crawler(crawler)


def run_items(pipeline: WarehousePipeline, items: Iterable[Any],
              between: Callable[[], None] | None = None) -> dict:
    """Feed the items through the pipeline as the engine would (``between`` runs after the
    second item's batch is written); the final stats."""
    async def scenario() -> None:
        await pipeline.open_spider()
        for n, item in enumerate(items):
            assert await pipeline.process_item(item) is item
            if between and n == 1:
                await pipeline._flush()
                await pipeline.pending
                between()
        pipeline.crawler.stats.set_value("finish_reason", "finished")
        await pipeline.close_spider()

    asyncio.run(scenario())
    return pipeline.crawler.stats.get_stats()
