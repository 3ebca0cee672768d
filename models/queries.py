"""Read-side queries on the analytics views (SQLAlchemy Core: bind parameters only)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, column, func, select, table

from models.tables import Profile

influencer_current = table(
    "influencer_current",
    column("profile_id"), column("platform"), column("handle"), column("followers"), column("tier"),
    column("primary_niche"), column("engagement_rate"), column("snapshot_at"),
)
micro_influencers = table(
    "micro_influencers",
    column("platform"), column("handle"), column("followers"), column("primary_niche"),
    column("engagement_rate"), column("audience_quality"), column("main_flag"),
)


def stale_handles(engine: Engine, platforms: Sequence[str], *, max_age: float, tier: str | None = None,
                  niche: str | None = None, limit: int | None = None) -> list[str]:
    """Handles whose latest snapshot is older than ``max_age`` seconds, the oldest first."""
    view = influencer_current.c
    cutoff = datetime.now(UTC) - timedelta(seconds=max_age)
    stmt = (select(view.handle).where(view.platform.in_(list(platforms)), view.snapshot_at < cutoff)
            .order_by(view.snapshot_at, view.handle))
    if tier:
        stmt = stmt.where(view.tier == tier)
    if niche:
        stmt = stmt.where(view.primary_niche == niche)
    if limit:
        stmt = stmt.limit(limit)
    with engine.connect() as conn:
        return list(conn.execute(stmt).scalars())


def user_ids(engine: Engine, platform: str, handles: Sequence[str]) -> dict[str, str]:
    """handle -> platform_user_id of the warehouse's accounts of ``platform`` that have one."""
    found: dict[str, str] = {}
    with engine.connect() as conn:
        for start in range(0, len(handles), 500):
            stmt = select(Profile.handle, Profile.platform_user_id).where(
                Profile.platform == platform, Profile.handle.in_(list(handles[start:start + 500])),
                Profile.platform_user_id.is_not(None))
            found.update((handle, str(user_id)) for handle, user_id in conn.execute(stmt))
    return found


def tier_counts(engine: Engine, platform: str | None = None) -> list[tuple[str, int]]:
    view = influencer_current.c
    stmt = (select(view.tier, func.count().label("accounts")).group_by(view.tier)
            .order_by(func.min(view.followers)))
    if platform:
        stmt = stmt.where(view.platform == platform)
    with engine.connect() as conn:
        return [(tier or "unknown", accounts) for tier, accounts in conn.execute(stmt)]


def top_micro_by_niche(engine: Engine, per_niche: int = 3, platform: str | None = None) -> list:
    view = micro_influencers.c
    stmt = (select(view.primary_niche, view.handle, view.followers, view.engagement_rate, view.platform,
                   view.audience_quality, view.main_flag)
            .where(view.primary_niche.is_not(None))
            .order_by(view.primary_niche, view.engagement_rate.desc().nulls_last()))
    if platform:
        stmt = stmt.where(view.platform == platform)
    shown: dict[str, int] = {}
    rows = []
    with engine.connect() as conn:
        for row in conn.execute(stmt):
            if shown.get(row.primary_niche, 0) < per_niche:
                shown[row.primary_niche] = shown.get(row.primary_niche, 0) + 1
                rows.append(row)
    return rows
