"""Creator signals: contact, language and sponsorship columns; profile_signals, creators,
creator_accounts, creator_links, similar_accounts, profile_vectors; the views gain the signals
and creator_reach is new.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 18:00:00
"""

# ruff: noqa: E501 - the column comments are the models' text, kept whole as Alembic wrote them
from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = sa.DateTime(timezone=True)

PROFILE_COLUMNS: tuple[tuple[str, Any, str], ...] = (
    (
        "email",
        sa.String(length=320),
        "Contact email: the format's business-email field, else one "
        "written in the bio (de-obfuscated). Erased with the account.",
    ),
    (
        "website",
        sa.Text(),
        "The creator's own site: the first link off social platforms (link in "
        "bio, profile fields, bio text).",
    ),
    ("links", sa.JSON(), "Other links of the profile's own fields (Mastodon fields, channel links)."),
    (
        "country",
        sa.String(length=2),
        "ISO 3166-1 country the format states (YouTube channel "
        "country, TikTok Research region_code); NULL when none does.",
    ),
    ("language", sa.String(length=8), "Main language of bio and captions (ISO 639-1), by Lingua."),
    ("languages", sa.JSON(), "Language -> share of the letters of bio and captions (shares >= 0.15)."),
)
POST_COLUMNS: tuple[tuple[str, Any, str], ...] = (
    (
        "sponsored",
        sa.Boolean(),
        "Paid post: the format's own flag or a disclosure (#ad, 'paid "
        "partnership with', #anzeige, #publi, ...) in the text; NULL when there was nothing to judge.",
    ),
    (
        "sponsor_evidence",
        sa.String(length=64),
        "Why it counts as sponsored: instagram:flag, #ad, 'sponsored by', ...",
    ),
    (
        "language",
        sa.String(length=8),
        "Language the platform declares for the post (Mastodon, Bluesky), if any.",
    ),
)


def _revision(stem: str):
    """An earlier revision's module, for the view texts it froze."""
    path = Path(__file__).with_name(f"{stem}.py")
    spec = importlib.util.spec_from_file_location(f"microscout_migration_{stem}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade() -> None:
    """Add the columns and tables, then recreate the views with the signals."""
    op.execute("DROP VIEW IF EXISTS micro_influencers")
    op.execute("DROP VIEW IF EXISTS influencer_current")
    with op.batch_alter_table("profiles") as batch_op:
        for name, type_, comment in PROFILE_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True, comment=comment))
    with op.batch_alter_table("posts") as batch_op:
        for name, type_, comment in POST_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True, comment=comment))
    op.create_table(
        "creators",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
            comment="The smallest profiles.id among its accounts (stable while they stay linked).",
        ),
        sa.Column("display_name", sa.Text(), nullable=True, comment="Its most common display name."),
        sa.Column("accounts", sa.Integer(), nullable=False, comment="Accounts linked."),
        sa.Column(
            "confidence",
            sa.Float(),
            nullable=False,
            comment="The weakest link's confidence (0-1) on the path that joins its accounts.",
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, comment="When it was rebuilt (UTC)."
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_creators")),
        comment="One creator behind accounts on several platforms, linked by evidence (creator_links). Rebuilt after each run.",
    )
    op.create_table(
        "creator_accounts",
        sa.Column(
            "profile_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="Account.",
        ),
        sa.Column(
            "creator_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="Creator.",
        ),
        sa.ForeignKeyConstraint(
            ["creator_id"],
            ["creators.id"],
            name=op.f("fk_creator_accounts_creator_id_creators"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["profiles.id"],
            name=op.f("fk_creator_accounts_profile_id_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("profile_id", name=op.f("pk_creator_accounts")),
        comment="Which accounts belong to which creator.",
    )
    with op.batch_alter_table("creator_accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_creator_accounts_creator_id"), ["creator_id"], unique=False)

    op.create_table(
        "creator_links",
        sa.Column(
            "profile_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="One account.",
        ),
        sa.Column(
            "other_profile_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="The other account (profile_id < other_profile_id).",
        ),
        sa.Column(
            "evidence",
            sa.Text(),
            nullable=False,
            comment="What links them: bio_link (one names the other), mutual_link, same_website, domain_handle, same_handle_and_name, *_other_name (a site or domain shared by conflicting names); several joined by ', '.",
        ),
        sa.Column(
            "confidence", sa.Float(), nullable=False, comment="0-1; links of at least 0.6 join creators."
        ),
        sa.ForeignKeyConstraint(
            ["other_profile_id"],
            ["profiles.id"],
            name=op.f("fk_creator_links_other_profile_id_profiles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["profiles.id"],
            name=op.f("fk_creator_links_profile_id_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("profile_id", "other_profile_id", name=op.f("pk_creator_links")),
        comment="Evidence that two accounts are one creator, with its confidence.",
    )
    with op.batch_alter_table("creator_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_creator_links_other_profile_id"), ["other_profile_id"], unique=False
        )

    op.create_table(
        "profile_signals",
        sa.Column(
            "profile_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="Account.",
        ),
        sa.Column(
            "crawl_run_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="The run whose data they were computed from.",
        ),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False, comment="When (UTC)."),
        sa.Column(
            "peer_group",
            sa.String(length=64),
            nullable=True,
            comment="platform/tier whose accounts the peer z-scores compare against.",
        ),
        sa.Column("peers", sa.Integer(), nullable=True, comment="Accounts in the peer group."),
        sa.Column(
            "engagement_z",
            sa.Float(),
            nullable=True,
            comment="Robust z-score of ln(engagement_rate) in the peer group: (x - median) / (1.4826 * MAD). Below -2.5: bought followers; above 2.5: pods.",
        ),
        sa.Column(
            "like_comment_ratio",
            sa.Float(),
            nullable=True,
            comment="sum(likes) / sum(comments) over the recent posts.",
        ),
        sa.Column(
            "like_comment_z",
            sa.Float(),
            nullable=True,
            comment="Robust z-score of ln(like_comment_ratio) in the peer group.",
        ),
        sa.Column(
            "follower_spike",
            sa.Float(),
            nullable=True,
            comment="Largest day-over-day follower growth between snapshots (share per day, days floored at 1) minus the median of the account's other intervals; NULL under 3 snapshots.",
        ),
        sa.Column(
            "follower_spike_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="Snapshot time at the end of that interval (UTC).",
        ),
        sa.Column("following_ratio", sa.Float(), nullable=True, comment="following / followers."),
        sa.Column(
            "posting_gap_cv",
            sa.Float(),
            nullable=True,
            comment="Posting regularity: std / mean of the gaps between recent posts (0 = clockwork, above 2 = bursts).",
        ),
        sa.Column(
            "no_comment_share",
            sa.Float(),
            nullable=True,
            comment="Share of recent posts with zero comments or comments unavailable (disabled).",
        ),
        sa.Column("sponsored_posts", sa.Integer(), nullable=True, comment="Recent posts judged sponsored."),
        sa.Column(
            "sponsored_share", sa.Float(), nullable=True, comment="sponsored_posts / recent posts judged."
        ),
        sa.Column(
            "sponsored_engagement",
            sa.Float(),
            nullable=True,
            comment="mean(likes + comments) of sponsored posts / followers.",
        ),
        sa.Column(
            "organic_engagement",
            sa.Float(),
            nullable=True,
            comment="mean(likes + comments) of the other posts / followers.",
        ),
        sa.Column(
            "audience_quality",
            sa.Float(),
            nullable=True,
            comment="0-100: 100 minus the penalties of the flags raised; NULL when there is too little to judge (quality_note says why).",
        ),
        sa.Column(
            "quality_flags",
            sa.JSON(),
            nullable=True,
            comment="Short reasons, worst first: 'follower_spike: +48% in a day', 'engagement_pod: ...', 'mass_follow: ...', 'low_engagement: ...', ...",
        ),
        sa.Column(
            "main_flag",
            sa.String(length=32),
            nullable=True,
            comment="Code of the worst flag (follower_spike, engagement_pod, ...); NULL when none.",
        ),
        sa.Column(
            "quality_note",
            sa.Text(),
            nullable=True,
            comment="Why a score or a signal is NULL (too few posts, peers or snapshots).",
        ),
        sa.ForeignKeyConstraint(
            ["crawl_run_id"],
            ["crawl_runs.id"],
            name=op.f("fk_profile_signals_crawl_run_id_crawl_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["profiles.id"],
            name=op.f("fk_profile_signals_profile_id_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("profile_id", "crawl_run_id", name=op.f("pk_profile_signals")),
        comment="Audience-quality signals per account and crawl run, computed after the run from snapshots and posts against the warehouse's own peers (README data dictionary has every formula).",
    )
    with op.batch_alter_table("profile_signals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_profile_signals_profile_id_computed_at", ["profile_id", "computed_at"], unique=False
        )

    op.create_table(
        "profile_vectors",
        sa.Column(
            "profile_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="Account.",
        ),
        sa.Column("encoder", sa.String(length=128), nullable=False, comment="The encoder that made it."),
        sa.Column("vector", sa.LargeBinary(), nullable=False, comment="Unit vector, float16 little-endian."),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, comment="When it was computed (UTC)."
        ),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["profiles.id"],
            name=op.f("fk_profile_vectors_profile_id_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("profile_id", name=op.f("pk_profile_vectors")),
        comment="Sentence embedding of each account's bio and captions (when the embeddings extra is installed), for lookalikes.",
    )
    op.create_table(
        "similar_accounts",
        sa.Column(
            "profile_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="The account.",
        ),
        sa.Column("rank", sa.Integer(), nullable=False, comment="1 = most similar."),
        sa.Column(
            "similar_profile_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="The lookalike.",
        ),
        sa.Column("score", sa.Float(), nullable=False, comment="Similarity 0-1 (see README)."),
        sa.Column(
            "shared_terms",
            sa.Text(),
            nullable=True,
            comment="What they share: niche, hashtags and words, strongest first.",
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, comment="When it was computed (UTC)."
        ),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["profiles.id"],
            name=op.f("fk_similar_accounts_profile_id_profiles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["similar_profile_id"],
            ["profiles.id"],
            name=op.f("fk_similar_accounts_similar_profile_id_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("profile_id", "rank", name=op.f("pk_similar_accounts")),
        comment="Lookalikes: for each micro-influencer the most similar micro-influencers (microscout similar), refreshed after each run.",
    )
    with op.batch_alter_table("similar_accounts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_similar_accounts_similar_profile_id"), ["similar_profile_id"], unique=False
        )

    op.execute(INFLUENCER_CURRENT)
    op.execute(MICRO_INFLUENCERS)
    op.execute(CREATOR_REACH)


def downgrade() -> None:
    """Drop the views, tables and columns of this revision; recreate the views of 0001."""
    op.execute("DROP VIEW IF EXISTS creator_reach")
    op.execute("DROP VIEW IF EXISTS micro_influencers")
    op.execute("DROP VIEW IF EXISTS influencer_current")
    op.execute("DROP VIEW IF EXISTS profile_growth")  # SQLite's table rebuild checks every view
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.drop_column("languages")
        batch_op.drop_column("language")
        batch_op.drop_column("country")
        batch_op.drop_column("website")
        batch_op.drop_column("links")
        batch_op.drop_column("email")

    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_column("language")
        batch_op.drop_column("sponsor_evidence")
        batch_op.drop_column("sponsored")

    with op.batch_alter_table("similar_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_similar_accounts_similar_profile_id"))

    op.drop_table("similar_accounts")
    op.drop_table("profile_vectors")
    with op.batch_alter_table("profile_signals", schema=None) as batch_op:
        batch_op.drop_index("ix_profile_signals_profile_id_computed_at")

    op.drop_table("profile_signals")
    with op.batch_alter_table("creator_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_creator_links_other_profile_id"))

    op.drop_table("creator_links")
    with op.batch_alter_table("creator_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_creator_accounts_creator_id"))

    op.drop_table("creator_accounts")
    op.drop_table("creators")
    first = _revision("0001_initial_schema")
    op.execute(first.INFLUENCER_CURRENT)
    op.execute(first.MICRO_INFLUENCERS)
    growth = _revision("0002_run_lock_heartbeat_profile_growth_view").profile_growth
    op.execute(growth(op.get_context().dialect.name))


# The views as they are at this revision (frozen here; later revisions redefine them).
INFLUENCER_CURRENT = """
CREATE VIEW influencer_current AS
SELECT
    p.id AS profile_id,
    p.platform,
    p.handle,
    p.display_name,
    p.profile_url,
    p.external_url,
    p.is_verified,
    p.category,
    s.followers,
    s.following,
    s.posts_count,
    s.engagement_rate,
    s.engagement_rate_median,
    s.engagement_per_view,
    s.posts_per_week,
    s.tier,
    s.tier_scheme,
    n.niche AS primary_niche,
    n.score AS niche_score,
    q.audience_quality,
    q.main_flag,
    q.quality_flags,
    q.quality_note,
    q.engagement_z,
    q.follower_spike,
    q.sponsored_share,
    q.sponsored_engagement,
    q.organic_engagement,
    p.email,
    p.website,
    p.language,
    p.country,
    ca.creator_id,
    s.captured_at AS snapshot_at,
    p.first_seen_at,
    p.last_seen_at
FROM profiles AS p
JOIN (
    SELECT ps.*,
           ROW_NUMBER() OVER (
               PARTITION BY ps.profile_id ORDER BY ps.captured_at DESC, ps.id DESC
           ) AS rn
    FROM profile_snapshots AS ps
) AS s ON s.profile_id = p.id AND s.rn = 1
LEFT JOIN profile_niches AS n ON n.profile_id = p.id AND n.is_primary = TRUE
LEFT JOIN (
    SELECT sg.*,
           ROW_NUMBER() OVER (
               PARTITION BY sg.profile_id ORDER BY sg.computed_at DESC, sg.crawl_run_id DESC
           ) AS rn
    FROM profile_signals AS sg
) AS q ON q.profile_id = p.id AND q.rn = 1
LEFT JOIN creator_accounts AS ca ON ca.profile_id = p.id
"""

MICRO_INFLUENCERS = """
CREATE VIEW micro_influencers AS
SELECT * FROM influencer_current WHERE tier = 'micro'
"""

CREATOR_REACH = """
CREATE VIEW creator_reach AS
SELECT
    c.id AS creator_id,
    c.display_name,
    c.accounts,
    c.confidence,
    COUNT(DISTINCT i.platform) AS platforms,
    SUM(i.followers) AS total_followers,
    MAX(i.followers) AS largest_account_followers,
    MIN(i.audience_quality) AS lowest_audience_quality,
    c.updated_at
FROM creators AS c
JOIN creator_accounts AS ca ON ca.creator_id = c.id
JOIN influencer_current AS i ON i.profile_id = ca.profile_id
GROUP BY c.id, c.display_name, c.accounts, c.confidence, c.updated_at
"""
