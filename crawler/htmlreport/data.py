"""What the HTML report shows, read from the analytics views (SQLAlchemy Core: bind parameters only).

Every function takes the engine's connection and the report's filters and returns plain rows
(dicts), so that the charts and the page never see SQL.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import quantiles
from typing import Any

from sqlalchemy import JSON, Connection, and_, column, func, select, table
from sqlalchemy.sql import Select

from models.loader import as_datetime
from models.tables import (
    UTC,
    CrawlRun,
    Hashtag,
    HashtagSighting,
    Post,
    ProfileNiche,
    ProfileSnapshot,
    RejectedRecord,
)

#: The window of the runs section when the report has none (``--since all``).
RUNS_WINDOW = timedelta(days=30)
TOP_PER_NICHE = 10
GROWERS = 15
TOP_HASHTAGS = 20
RUN_ROWS = 200

_VIEW_COLUMNS = ("profile_id", "platform", "handle", "display_name", "profile_url", "followers",
                 "engagement_rate", "tier", "primary_niche", "audience_quality", "main_flag",
                 "quality_flags", "sponsored_share")
_TYPES = {"quality_flags": JSON()}
current = table("influencer_current", *(column(name, _TYPES.get(name)) for name in _VIEW_COLUMNS),
                column("snapshot_at", UTC))
growth = table("profile_growth", column("profile_id"), column("platform"), column("handle"),
               column("followers"), column("tier"), column("latest_at", UTC),
               column("follower_change_7d"), column("growth_rate_7d"), column("baseline_7d_at", UTC),
               column("follower_change_30d"), column("growth_rate_30d"), column("baseline_30d_at", UTC))


@dataclass(frozen=True)
class ReportFilters:
    """``niche``: primary niche; ``platform``; ``since``: accounts whose latest snapshot, and runs
    and quarantine rows, within that span before the report's time (None: no window)."""

    niche: str | None = None
    platform: str | None = None
    since: timedelta | None = timedelta(days=30)


@dataclass(frozen=True)
class Scope:
    filters: ReportFilters
    now: datetime

    @property
    def cutoff(self) -> datetime | None:
        return self.now - self.filters.since if self.filters.since else None

    @property
    def runs_cutoff(self) -> datetime:
        return self.now - (self.filters.since or RUNS_WINDOW)

    def where(self, stmt: Select, *, platform: Any = None, niche: Any = None, seen: Any = None) -> Select:
        """``stmt`` limited to the filters, each on the column given for it."""
        if self.filters.platform and platform is not None:
            stmt = stmt.where(platform == self.filters.platform)
        if self.filters.niche and niche is not None:
            stmt = stmt.where(niche == self.filters.niche)
        if self.cutoff is not None and seen is not None:
            stmt = stmt.where(seen >= self.cutoff)
        return stmt

    def accounts(self, stmt: Select) -> Select:
        """``stmt`` over influencer_current limited to the filters."""
        c = current.c
        return self.where(stmt, platform=c.platform, niche=c.primary_niche, seen=c.snapshot_at)


def coverage(conn: Connection, scope: Scope) -> dict[str, Any]:
    c = current.c
    row = conn.execute(scope.accounts(select(
        func.count().label("accounts"), func.count(c.platform.distinct()).label("platforms"),
        func.min(c.snapshot_at).label("oldest"), func.max(c.snapshot_at).label("newest"),
    ).select_from(current))).one()
    micro = conn.execute(scope.accounts(select(func.count()).select_from(current)
                                        .where(c.tier == "micro"))).scalar_one()
    return {"accounts": row.accounts, "platforms": row.platforms, "micro": micro,
            "oldest": as_datetime(row.oldest), "newest": as_datetime(row.newest)}


def tiers_by_platform(conn: Connection, scope: Scope) -> list[dict[str, Any]]:
    c = current.c
    stmt = scope.accounts(select(c.tier, c.platform, func.count().label("accounts"),
                                 func.min(c.followers).label("smallest"))
                          .select_from(current).group_by(c.tier, c.platform))
    return [{"tier": row.tier or "unknown", "platform": row.platform, "accounts": row.accounts,
             "smallest": row.smallest or 0} for row in conn.execute(stmt)]


def engagement_boxes(conn: Connection, scope: Scope) -> list[dict[str, Any]]:
    """Per tier: quartiles, median and 1.5 IQR whiskers of the engagement rate (exact, over every
    account in scope); the chart draws these, not the accounts."""
    c = current.c
    stmt = scope.accounts(select(c.tier, c.engagement_rate).select_from(current)
                          .where(c.engagement_rate.is_not(None), c.tier.is_not(None)))
    rates: dict[str, list[float]] = defaultdict(list)
    for tier, rate in conn.execute(stmt):
        rates[tier].append(float(rate))
    return [box(tier, values) for tier, values in rates.items()]


def box(tier: str, values: list[float]) -> dict[str, Any]:
    values.sort()
    if len(values) == 1:
        q1 = median = q3 = values[0]
    else:
        q1, median, q3 = quantiles(values, n=4, method="inclusive")
    reach = 1.5 * (q3 - q1)
    low = next(v for v in values if v >= q1 - reach)
    high = next(v for v in reversed(values) if v <= q3 + reach)
    return {"tier": tier, "accounts": len(values), "q1": q1, "median": median, "q3": q3,
            "low": low, "high": high, "outside": sum(v < low or v > high for v in values)}


def scatter(conn: Connection, scope: Scope, max_points: int, seed: int = 0) -> tuple[list[dict], int]:
    """Accounts with followers and an engagement rate: at most ``max_points`` of them (a uniform
    sample, the same for the same warehouse), and how many there were."""
    c = current.c
    stmt = scope.accounts(select(c.platform, c.handle, c.followers, c.engagement_rate, c.primary_niche,
                                 c.tier, c.audience_quality).select_from(current)
                          .where(c.followers > 0, c.engagement_rate > 0).order_by(c.profile_id))
    rows = conn.execute(stmt).all()
    total = len(rows)
    if total > max_points:
        rows = random.Random(seed).sample(rows, max_points)
    return [{"handle": r.handle, "platform": r.platform, "followers": r.followers,
             "engagement": r.engagement_rate, "niche": r.primary_niche or "none", "tier": r.tier,
             "quality": r.audience_quality} for r in rows], total


def top_micro(conn: Connection, scope: Scope, per_niche: int = TOP_PER_NICHE) -> list[dict[str, Any]]:
    """The ``per_niche`` micro-influencers of each niche with the highest engagement rate."""
    c = current.c
    ranked = scope.accounts(select(
        *(c[name] for name in _VIEW_COLUMNS),
        func.row_number().over(partition_by=c.primary_niche,
                               order_by=(c.engagement_rate.desc(), c.profile_id)).label("rank"),
    ).select_from(current).where(c.tier == "micro", c.primary_niche.is_not(None),
                                 c.engagement_rate.is_not(None))).subquery()
    stmt = select(ranked).where(ranked.c.rank <= per_niche).order_by(ranked.c.primary_niche,
                                                                      ranked.c.rank)
    return [dict(row._mapping) for row in conn.execute(stmt)]


def histories(conn: Connection, profile_ids: list[int], since: datetime | None) -> dict[int, list]:
    """profile id -> [(captured_at, followers)] oldest first, within the window."""
    snap = ProfileSnapshot.__table__.c
    out: dict[int, list] = defaultdict(list)
    for start in range(0, len(profile_ids), 500):
        stmt = (select(snap.profile_id, snap.captured_at, snap.followers)
                .where(snap.profile_id.in_(profile_ids[start:start + 500]), snap.followers.is_not(None))
                .order_by(snap.profile_id, snap.captured_at, snap.id))
        if since is not None:
            stmt = stmt.where(snap.captured_at >= since)
        for profile_id, captured_at, followers in conn.execute(stmt):
            out[profile_id].append((as_datetime(captured_at), followers))
    return out


def growers(conn: Connection, scope: Scope, days: int, limit: int = GROWERS) -> list[dict[str, Any]]:
    """Micro-influencers that gained the largest share of followers over ``days`` (7 or 30).

    The niche comes from profile_niches, not influencer_current: joining two views made both
    planners loop over one inside the other (739 s on SQLite, 153 s on PostgreSQL at 50,000
    accounts; 0.5 s this way)."""
    g, n = growth.c, ProfileNiche.__table__.c
    rate, change, baseline = (g[f"growth_rate_{days}d"], g[f"follower_change_{days}d"],
                              g[f"baseline_{days}d_at"])
    stmt = (select(g.platform, g.handle, g.followers, change.label("change"), rate.label("rate"),
                   baseline.label("baseline_at"), g.latest_at, n.niche.label("niche"))
            .select_from(growth.outerjoin(ProfileNiche.__table__,
                                          and_(n.profile_id == g.profile_id, n.is_primary.is_(True))))
            .where(g.tier == "micro", rate.is_not(None), change > 0)
            .order_by(rate.desc(), g.profile_id).limit(limit))
    stmt = scope.where(stmt, platform=g.platform, niche=n.niche, seen=g.latest_at)
    return [{**row._mapping, "baseline_at": as_datetime(row.baseline_at),
             "latest_at": as_datetime(row.latest_at)} for row in conn.execute(stmt)]


def hashtags(conn: Connection, scope: Scope, limit: int = TOP_HASHTAGS) -> list[dict[str, Any]]:
    """The hashtags whose listings showed posts of the most distinct micro-influencers (in scope)."""
    hs, tag, post = HashtagSighting.__table__.c, Hashtag.__table__.c, Post.__table__.c
    micro = scope.accounts(select(current.c.profile_id, current.c.platform).select_from(current)
                           .where(current.c.tier == "micro")).subquery()
    accounts = func.count(micro.c.profile_id.distinct()).label("accounts")
    stmt = (select(tag.tag, accounts, func.count(hs.id.distinct()).label("sightings"))
            .select_from(HashtagSighting.__table__
                         .join(Hashtag.__table__, tag.id == hs.hashtag_id)
                         .join(Post.__table__, and_(post.platform == hs.platform,
                                                    post.post_id == hs.post_id))
                         .join(micro, micro.c.profile_id == post.profile_id))
            .group_by(tag.tag).order_by(accounts.desc(), tag.tag).limit(limit))
    return [dict(row._mapping) for row in conn.execute(scope.where(stmt, seen=hs.seen_at))]


def runs(conn: Connection, scope: Scope) -> list[dict[str, Any]]:
    """Runs started in the runs window (newest first), each with its failed checks."""
    run = CrawlRun.__table__.c
    stmt = (select(run.id, run.spider, run.platform, run.job, run.started_at, run.finished_at,
                   run.status, run.checks, run.items_loaded, run.items_rejected)
            .where(run.started_at >= scope.runs_cutoff).order_by(run.started_at.desc(), run.id.desc()))
    out = []
    for row in conn.execute(scope.where(stmt, platform=run.platform)):
        fields = dict(row._mapping)
        checks = fields.pop("checks")
        fields["failed_checks"] = sorted(
            name for name, check in (checks if isinstance(checks, dict) else {}).items()
            if isinstance(check, dict) and not check.get("passed", True))
        out.append({**fields, "started_at": as_datetime(row.started_at),
                    "finished_at": as_datetime(row.finished_at)})
    return out


def quarantine(conn: Connection, scope: Scope) -> list[dict[str, Any]]:
    """Quarantined rows in the runs window by reason and platform."""
    rej = RejectedRecord.__table__.c
    rows = func.count().label("rows")
    stmt = scope.where(select(rej.reason, rej.platform, rows).where(rej.created_at >= scope.runs_cutoff)
                       .group_by(rej.reason, rej.platform).order_by(rows.desc(), rej.reason),
                       platform=rej.platform)
    return [{"reason": r.reason, "platform": r.platform or "unknown", "rows": r.rows}
            for r in conn.execute(stmt)]


def choices(conn: Connection) -> dict[str, list[str]]:
    """Platforms and niches the warehouse knows (to tell a filter that matches nothing)."""
    c = current.c
    platforms = conn.execute(select(c.platform).select_from(current).distinct()).scalars()
    niches = conn.execute(select(c.primary_niche).select_from(current).distinct()
                          .where(c.primary_niche.is_not(None))).scalars()
    return {"platform": sorted(platforms), "niche": sorted(niches)}

