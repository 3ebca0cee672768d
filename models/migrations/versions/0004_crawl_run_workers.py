"""Distributed jobs: crawl_run_workers, each worker's share of a job's crawl run.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create crawl_run_workers (one row per worker of a distributed job's crawl run)."""
    op.create_table(
        "crawl_run_workers",
        sa.Column("id", ID, nullable=False, comment="Row id."),
        sa.Column("crawl_run_id", ID, nullable=False, comment="The job's crawl run."),
        sa.Column("worker_id", sa.String(length=128), nullable=False,
                  comment="The worker: host, process id and a random suffix."),
        sa.Column("host", sa.String(length=255), nullable=False, comment="Machine the worker ran on."),
        sa.Column("pid", sa.Integer(), nullable=False, comment="Process id on that machine."),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False,
                  comment="When the worker joined the run (UTC)."),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True,
                  comment="When it left (UTC); NULL while it works or if it died."),
        sa.Column("status", sa.String(length=16), nullable=False,
                  comment="running; drained (left when the job's queue was empty); stopped (left "
                          "before); lost (it lost items)."),
        sa.Column("requests", sa.Integer(), nullable=False,
                  comment="Requests this worker took from the job's queue and finished."),
        sa.Column("items_loaded", sa.Integer(), nullable=False, comment="Items it wrote."),
        sa.Column("items_rejected", sa.Integer(), nullable=False, comment="Items it quarantined."),
        sa.Column("profiles", sa.Integer(), nullable=False, comment="Profiles it loaded."),
        sa.Column("stats", sa.JSON(), nullable=True,
                  comment="The worker's Scrapy stats when it left (summed into the run's at the end)."),
        sa.ForeignKeyConstraint(["crawl_run_id"], ["crawl_runs.id"],
                                name=op.f("fk_crawl_run_workers_crawl_run_id_crawl_runs"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crawl_run_workers")),
        sa.UniqueConstraint("crawl_run_id", "worker_id",
                            name=op.f("uq_crawl_run_workers_crawl_run_id_worker_id")),
        comment="A distributed job's workers: one row per worker process and crawl run, with its "
                "share of the work (microscout worker).",
    )


def downgrade() -> None:
    """Drop crawl_run_workers (the per-worker shares are lost; crawl_runs keeps the totals)."""
    op.drop_table("crawl_run_workers")
