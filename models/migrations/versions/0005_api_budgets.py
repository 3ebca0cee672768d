"""Official APIs: api_usage (quota budgets) and instagram_hashtags (hashtag ids, 7-day ledger).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create api_usage and instagram_hashtags."""
    op.create_table(
        "api_usage",
        sa.Column("id", ID, nullable=False, comment="Row id."),
        sa.Column("api", sa.String(length=32), nullable=False,
                  comment="The API: youtube, tiktok_research."),
        sa.Column("unit", sa.String(length=16), nullable=False,
                  comment="What is counted: units, requests, records."),
        sa.Column("account", sa.String(length=128), nullable=False,
                  comment="Whose budget: the API host and a fingerprint of the key (never the key)."),
        sa.Column("window_start", UTC, nullable=False,
                  comment="Start of the budget window (UTC): midnight Pacific for YouTube, UTC for "
                          "TikTok."),
        sa.Column("window_end", UTC, nullable=False, comment="When the budget resets (UTC)."),
        sa.Column("used", sa.BigInteger(), nullable=False,
                  comment="Spent or reserved in the window: calls are booked before they are sent."),
        sa.Column("quota", sa.BigInteger(), nullable=False,
                  comment="The budget's limit when last booked."),
        sa.Column("updated_at", UTC, nullable=False, comment="Last booking (UTC)."),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_usage")),
        sa.UniqueConstraint("api", "unit", "account", "window_start",
                            name=op.f("uq_api_usage_api_unit_account_window_start")),
        comment="Official API budgets (YouTube Data API units, TikTok Research API requests and "
                "records): what was spent per account and budget window, across runs and workers "
                "(microscout quota).",
    )
    op.create_table(
        "instagram_hashtags",
        sa.Column("id", ID, nullable=False, comment="Row id."),
        sa.Column("account", sa.String(length=64), nullable=False,
                  comment="The operator's Instagram professional account id (the API's user_id)."),
        sa.Column("hashtag", sa.String(length=255), nullable=False,
                  comment="Hashtag, lower case, without '#'."),
        sa.Column("hashtag_id", sa.String(length=64), nullable=True,
                  comment="Its id from ig_hashtag_search (ids never change); NULL until found."),
        sa.Column("slot_started_at", UTC, nullable=False,
                  comment="When the hashtag took one of the 30 weekly slots (UTC); it frees 7 days "
                          "later."),
        sa.Column("last_queried_at", UTC, nullable=False, comment="Last query of it (UTC)."),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instagram_hashtags")),
        sa.UniqueConstraint("account", "hashtag", name=op.f("uq_instagram_hashtags_account_hashtag")),
        comment="Instagram Graph API hashtags: the hashtag-id cache and the rolling 7-day ledger of "
                "unique hashtags queried (30 per account).",
    )


def downgrade() -> None:
    """Drop both (the budgets then start from zero; hashtag ids are looked up again)."""
    op.drop_table("instagram_hashtags")
    op.drop_table("api_usage")
