"""Small builders for normalised items, shared by the warehouse tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crawler.items import HashtagSightingItem, PostItem, ProfileItem

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
