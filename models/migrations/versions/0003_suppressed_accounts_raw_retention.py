"""Erasure and opt-out: suppressed_accounts; rejected_items.payload may be NULL (retention purge).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 05:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PAYLOAD_COMMENT = "The raw item or body, as JSON; NULL once older than MICROSCOUT_RAW_RETENTION_DAYS."
OLD_PAYLOAD_COMMENT = "The raw item or body, as JSON."


def upgrade() -> None:
    """Create suppressed_accounts (accounts erased on request); let rejected_items.payload be NULL
    (a purged raw payload) and index rejected_items.created_at for the purge."""
    op.create_table(
        "suppressed_accounts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="Row id.",
        ),
        sa.Column(
            "platform", sa.String(length=32), nullable=False, comment="Platform of the account."
        ),
        sa.Column(
            "handle",
            sa.String(length=255),
            nullable=False,
            comment="Canonical handle, spelled as profiles.handle.",
        ),
        sa.Column(
            "platform_user_id",
            sa.String(length=255),
            nullable=True,
            comment="The platform's stable id when it was known: a renamed account stays out.",
        ),
        sa.Column(
            "reason", sa.Text(), nullable=True, comment="Why, as given (e.g. the request's reference)."
        ),
        sa.Column(
            "requested_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the erasure was carried out (UTC).",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppressed_accounts")),
        sa.UniqueConstraint(
            "platform", "handle", name=op.f("uq_suppressed_accounts_platform_handle")
        ),
        comment="Accounts erased on request (microscout forget): no crawl loads them again.",
    )
    op.create_index(
        "ix_suppressed_accounts_platform_user_id",
        "suppressed_accounts",
        ["platform", "platform_user_id"],
        unique=False,
    )
    _payload(nullable=True, comment=PAYLOAD_COMMENT, old_comment=OLD_PAYLOAD_COMMENT)
    op.create_index(
        "ix_rejected_items_created_at", "rejected_items", ["created_at"], unique=False
    )


def downgrade() -> None:
    """Drop ix_rejected_items_created_at and suppressed_accounts (the suppression list is lost);
    purged payloads become JSON null, as rejected_items.payload is NOT NULL again."""
    op.drop_index("ix_rejected_items_created_at", table_name="rejected_items")
    op.execute("UPDATE rejected_items SET payload = 'null' WHERE payload IS NULL")
    _payload(nullable=False, comment=OLD_PAYLOAD_COMMENT, old_comment=PAYLOAD_COMMENT)
    op.drop_index("ix_suppressed_accounts_platform_user_id", table_name="suppressed_accounts")
    op.drop_table("suppressed_accounts")


def _payload(nullable: bool, comment: str, old_comment: str) -> None:
    if op.get_context().dialect.name == "sqlite":  # no comments; the table is rebuilt
        with op.batch_alter_table("rejected_items") as batch_op:
            batch_op.alter_column("payload", existing_type=sa.JSON(), nullable=nullable)
    else:
        op.alter_column("rejected_items", "payload", existing_type=sa.JSON(), nullable=nullable,
                        comment=comment, existing_comment=old_comment)
