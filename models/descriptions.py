"""Descriptions of the analytics views and their columns: what ``microscout browse`` shows and
what ``microscout db upgrade`` writes as PostgreSQL COMMENTs (so BI tools pointed at the views
describe them as they describe the tables).

A view column named as a table column takes that column's comment; the columns a view computes or
renames are described here. The view descriptions are the README's "Querying the warehouse" wording.
"""

from __future__ import annotations

from sqlalchemy import Connection, String, inspect, text

from models.tables import Base

#: PostgreSQL advisory lock key of the view comments ("comments" in ASCII).
COMMENT_LOCK = 0x636F6D6D656E7473

# The README's "Querying the warehouse" wording.
VIEW_DESCRIPTIONS = {
    "influencer_current": "One row per account: its latest snapshot, tier, primary niche, engagement, "
                          "and its latest audience-quality signals, contact and creator.",
    "micro_influencers": "The micro tier of influencer_current.",
    "creator_reach": "Per creator: accounts, platforms, total followers, the largest account, the lowest "
                     "audience quality.",
    "profile_growth": "Per account: the latest followers and engagement, and their change over 7 and 30 "
                      "days. Each window's baseline is the oldest snapshot inside it; baseline_7d_at and "
                      "baseline_30d_at say how far back it reaches.",
}

# A view column named as a table column takes that column's comment, from the first of these tables.
_INFLUENCER_SOURCES = ("profiles", "profile_snapshots", "profile_signals")
VIEW_SOURCES: dict[str, tuple[str, ...]] = {
    "influencer_current": _INFLUENCER_SOURCES,
    "micro_influencers": _INFLUENCER_SOURCES,
    "creator_reach": ("creators",),
    "profile_growth": ("profiles", "profile_snapshots"),
}


def _window(days: int) -> dict[str, str]:
    """profile_growth's columns for one window."""
    suffix = f"{days}d"
    return {
        f"baseline_{suffix}_at": f"The baseline: the account's oldest snapshot within {days} days before "
                                 "the latest (UTC); how far back the window really reaches.",
        f"followers_{suffix}_ago": "Followers at the baseline.",
        f"follower_change_{suffix}": "followers minus the followers at the baseline.",
        f"growth_rate_{suffix}": f"follower_change_{suffix} / followers at the baseline; NULL when those "
                                 "are 0 or unknown.",
        f"engagement_change_{suffix}": "engagement_rate minus the engagement rate at the baseline.",
    }


# Columns a view computes or renames (the README's data dictionary where it has them).
_INFLUENCER_DERIVED = {
    "primary_niche": "The best niche of the taxonomy (and the trained model, if set); NULL when nothing "
                     "clears the bar.",
    "niche_score": "The primary niche's score, 0..1.",
    "creator_id": "The creator behind the account (creators.id; see creator_reach); NULL when the "
                  "account is linked to no other.",
    "snapshot_at": "When the latest snapshot, the figures' source, was taken (UTC).",
}
VIEW_DERIVED: dict[str, dict[str, str]] = {
    "influencer_current": _INFLUENCER_DERIVED,
    "micro_influencers": _INFLUENCER_DERIVED,
    "creator_reach": {
        "creator_id": "The creator (creators.id: the smallest profiles.id among its accounts).",
        "platforms": "Platforms its accounts are on.",
        "total_followers": "Followers of its accounts added up (latest snapshots).",
        "largest_account_followers": "Followers of its largest account.",
        "lowest_audience_quality": "The lowest audience_quality among its accounts.",
    },
    "profile_growth": {
        "latest_at": "When the latest snapshot was taken (UTC).",
        **_window(7),
        **_window(30),
    },
}


def describe_view_column(view: str, column: str) -> str | None:
    """A view column's description: the view's own, else the first source table's comment."""
    if column in VIEW_DERIVED[view]:
        return VIEW_DERIVED[view][column]
    for name in VIEW_SOURCES[view]:
        table = Base.metadata.tables[name]
        if column in table.c and table.c[column].comment:
            return table.c[column].comment
    return None


def comment_views(conn: Connection) -> int:
    """PostgreSQL: COMMENT ON every analytics view present and on each of its described columns
    where the comment differs (migrations drop and re-create views, which drops their comments);
    the statements written. Upgrades running at once take turns on an advisory lock: two COMMENTs
    on one object in parallel fail with "tuple concurrently updated"."""
    if conn.dialect.name != "postgresql":
        return 0
    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": COMMENT_LOCK})
    quote = conn.dialect.identifier_preparer.quote
    literal = String().literal_processor(conn.dialect)  # COMMENT takes no bind parameters
    assert literal is not None
    inspector = inspect(conn)
    wanted: dict[str, str] = {}  # COMMENT ON target -> text
    for view in set(inspector.get_view_names()) & set(VIEW_DESCRIPTIONS):
        wanted[f"VIEW {quote(view)}"] = VIEW_DESCRIPTIONS[view]
        for column in inspector.get_columns(view):
            described = describe_view_column(view, column["name"])
            if described and described != column.get("comment"):
                wanted[f"COLUMN {quote(view)}.{quote(column['name'])}"] = described
        current = conn.execute(text("SELECT obj_description(CAST(:view AS regclass), 'pg_class')"),
                               {"view": view}).scalar()
        if current == VIEW_DESCRIPTIONS[view]:
            del wanted[f"VIEW {quote(view)}"]
    for target, comment in wanted.items():
        conn.exec_driver_sql(f"COMMENT ON {target} IS {literal(comment)}")
    return len(wanted)
