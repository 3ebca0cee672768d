"""Run lock and heartbeat on crawl_runs; the profile_growth view.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 11:41:50
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUS_COMMENT = (
    "running, ok, degraded, failed, aborted, skipped (job already running) or abandoned (stale lock)."
)
OLD_STATUS_COMMENT = "running, ok, degraded, failed or aborted."


def upgrade() -> None:
    """Add crawl_runs.heartbeat_at, a unique index on job among running runs, profile_growth."""
    op.add_column(
        "crawl_runs",
        sa.Column(
            "heartbeat_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="Last sign of life of a running run; a lock older than the stale timeout expires.",
        ),
    )
    op.create_index(
        "uq_crawl_runs_running_job",
        "crawl_runs",
        ["job"],
        unique=True,
        sqlite_where=sa.text("status = 'running'"),
        postgresql_where=sa.text("status = 'running'"),
    )
    if op.get_context().dialect.name != "sqlite":
        op.alter_column("crawl_runs", "status", existing_type=sa.String(16), comment=STATUS_COMMENT,
                        existing_comment=OLD_STATUS_COMMENT, existing_nullable=False)
    op.execute(profile_growth(op.get_context().dialect.name))


def downgrade() -> None:
    """Drop profile_growth, the run-lock index and heartbeat_at."""
    op.execute("DROP VIEW IF EXISTS profile_growth")
    if op.get_context().dialect.name != "sqlite":
        op.alter_column("crawl_runs", "status", existing_type=sa.String(16), comment=OLD_STATUS_COMMENT,
                        existing_comment=STATUS_COMMENT, existing_nullable=False)
    op.drop_index("uq_crawl_runs_running_job", table_name="crawl_runs")
    with op.batch_alter_table("crawl_runs") as batch_op:
        batch_op.drop_column("heartbeat_at")


# The view as it was at this revision (frozen here; later revisions redefine it).
_GROWTH = """
CREATE VIEW profile_growth AS
WITH ranked AS (
    SELECT ps.*,
           ROW_NUMBER() OVER (
               PARTITION BY ps.profile_id ORDER BY ps.captured_at DESC, ps.id DESC
           ) AS rn
    FROM profile_snapshots AS ps
), latest AS (
    SELECT * FROM ranked WHERE rn = 1
)
SELECT
    l.profile_id,
    p.platform,
    p.handle,
    l.captured_at AS latest_at,
    l.followers,
    l.engagement_rate,
    l.tier,
    b7.captured_at AS baseline_7d_at,
    b7.followers AS followers_7d_ago,
    l.followers - b7.followers AS follower_change_7d,
    CASE WHEN b7.followers > 0 THEN (l.followers - b7.followers) * 1.0 / b7.followers END
        AS growth_rate_7d,
    l.engagement_rate - b7.engagement_rate AS engagement_change_7d,
    b30.captured_at AS baseline_30d_at,
    b30.followers AS followers_30d_ago,
    l.followers - b30.followers AS follower_change_30d,
    CASE WHEN b30.followers > 0 THEN (l.followers - b30.followers) * 1.0 / b30.followers END
        AS growth_rate_30d,
    l.engagement_rate - b30.engagement_rate AS engagement_change_30d
FROM latest AS l
JOIN profiles AS p ON p.id = l.profile_id
LEFT JOIN profile_snapshots AS b7 ON b7.id = (
    SELECT x.id FROM profile_snapshots AS x
    WHERE x.profile_id = l.profile_id AND x.id <> l.id AND x.captured_at >= {since_7d}
    ORDER BY x.captured_at ASC, x.id ASC LIMIT 1
)
LEFT JOIN profile_snapshots AS b30 ON b30.id = (
    SELECT x.id FROM profile_snapshots AS x
    WHERE x.profile_id = l.profile_id AND x.id <> l.id AND x.captured_at >= {since_30d}
    ORDER BY x.captured_at ASC, x.id ASC LIMIT 1
)
"""


def profile_growth(dialect: str) -> str:
    if dialect == "sqlite":
        return _GROWTH.format(since_7d="datetime(l.captured_at, '-7 days')",
                              since_30d="datetime(l.captured_at, '-30 days')")
    return _GROWTH.format(since_7d="l.captured_at - INTERVAL '7 days'",
                          since_30d="l.captured_at - INTERVAL '30 days'")
