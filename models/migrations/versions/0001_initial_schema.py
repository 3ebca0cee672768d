"""Initial schema: every warehouse table with comments and indexes, and the analytics views.

Revision ID: 0001
Revises:
Create Date: 2026-11-26 11:11:06.476763
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the tables, their indexes and the views influencer_current and micro_influencers."""
    op.create_table(
        "crawl_runs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="Run id.",
        ),
        sa.Column(
            "run_key",
            sa.String(length=36),
            nullable=False,
            comment="UUID chosen by the crawler; links spooled batches to the run.",
        ),
        sa.Column(
            "spider", sa.String(length=64), nullable=False, comment="Spider name (scrapy list)."
        ),
        sa.Column("platform", sa.String(length=32), nullable=True, comment="Platform crawled."),
        sa.Column(
            "job",
            sa.String(length=128),
            nullable=True,
            comment="Scheduled job name, used for the run lock (NULL for ad-hoc runs).",
        ),
        sa.Column(
            "arguments", sa.JSON(), nullable=True, comment="Spider arguments (-a), secrets removed."
        ),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the run started (UTC).",
        ),
        sa.Column(
            "finished_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When it ended (UTC); NULL while running.",
        ),
        sa.Column(
            "status",
            sa.String(length=16),
            nullable=False,
            comment="running, ok, degraded, failed or aborted.",
        ),
        sa.Column(
            "finish_reason", sa.String(length=64), nullable=True, comment="Scrapy's close reason."
        ),
        sa.Column(
            "checks", sa.JSON(), nullable=True, comment="Monitoring checks and their results."
        ),
        sa.Column("stats", sa.JSON(), nullable=True, comment="Scrapy stats at the end of the run."),
        sa.Column(
            "items_loaded", sa.Integer(), nullable=False, comment="Items written to the warehouse."
        ),
        sa.Column("items_rejected", sa.Integer(), nullable=False, comment="Items quarantined."),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crawl_runs")),
        sa.UniqueConstraint("run_key", name=op.f("uq_crawl_runs_run_key")),
        comment="One row per spider run: what ran, with which arguments, how it ended.",
    )
    op.create_index(
        "ix_crawl_runs_spider_started_at", "crawl_runs", ["spider", "started_at"], unique=False
    )
    op.create_table(
        "hashtags",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="Hashtag id.",
        ),
        sa.Column("tag", sa.String(length=255), nullable=False, comment="The tag, normalised."),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hashtags")),
        sa.UniqueConstraint("tag", name=op.f("uq_hashtags_tag")),
        comment="Normalised hashtags: lower-case, no #, Unicode NFC.",
    )
    op.create_table(
        "profiles",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="Account id in the warehouse.",
        ),
        sa.Column(
            "platform",
            sa.String(length=32),
            nullable=False,
            comment="instagram, tiktok, youtube, mastodon, pixelfed or bluesky.",
        ),
        sa.Column(
            "handle",
            sa.String(length=255),
            nullable=False,
            comment="Canonical handle, no @; user@instance on federated networks.",
        ),
        sa.Column(
            "platform_user_id",
            sa.String(length=255),
            nullable=True,
            comment="The platform's own stable id (Bluesky DID, YouTube channel id, ...).",
        ),
        sa.Column("display_name", sa.Text(), nullable=True, comment="Display name as shown."),
        sa.Column("bio", sa.Text(), nullable=True, comment="Biography, stored verbatim (NFC)."),
        sa.Column("external_url", sa.Text(), nullable=True, comment="Link in bio."),
        sa.Column("profile_url", sa.Text(), nullable=True, comment="Public profile page."),
        sa.Column(
            "is_verified", sa.Boolean(), nullable=True, comment="Platform verification badge."
        ),
        sa.Column(
            "category",
            sa.String(length=255),
            nullable=True,
            comment="The platform's own label (e.g. Instagram category_name).",
        ),
        sa.Column(
            "discovered_via",
            sa.String(length=255),
            nullable=True,
            comment="Hashtag or list that first led to the account.",
        ),
        sa.Column(
            "first_seen_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="First crawl that saw the account (UTC).",
        ),
        sa.Column(
            "last_seen_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="Latest crawl that saw the account (UTC).",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_profiles")),
        sa.UniqueConstraint("platform", "handle", name=op.f("uq_profiles_platform_handle")),
        comment="One row per account on a platform; latest known identity and bio.",
    )
    op.create_index(
        "ix_profiles_platform_user_id", "profiles", ["platform", "platform_user_id"], unique=False
    )
    op.create_table(
        "hashtag_sightings",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="Sighting id.",
        ),
        sa.Column(
            "crawl_run_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="Run.",
        ),
        sa.Column(
            "hashtag_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="Hashtag.",
        ),
        sa.Column("platform", sa.String(length=32), nullable=False, comment="Platform."),
        sa.Column(
            "post_id",
            sa.String(length=255),
            nullable=False,
            comment="The platform's post id (the post may not be loaded into posts).",
        ),
        sa.Column(
            "author_handle",
            sa.String(length=255),
            nullable=True,
            comment="Author's handle, if shown.",
        ),
        sa.Column(
            "listing", sa.String(length=32), nullable=False, comment="top, recent or a feed name."
        ),
        sa.Column("position", sa.Integer(), nullable=True, comment="0-based rank in the listing."),
        sa.Column(
            "seen_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the listing was fetched (UTC).",
        ),
        sa.ForeignKeyConstraint(
            ["crawl_run_id"],
            ["crawl_runs.id"],
            name=op.f("fk_hashtag_sightings_crawl_run_id_crawl_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["hashtag_id"],
            ["hashtags.id"],
            name=op.f("fk_hashtag_sightings_hashtag_id_hashtags"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hashtag_sightings")),
        sa.UniqueConstraint(
            "crawl_run_id",
            "hashtag_id",
            "platform",
            "post_id",
            "listing",
            name=op.f("uq_hashtag_sightings_crawl_run_id_hashtag_id_platform_post_id_listing"),
        ),
        comment="Posts a hashtag listing showed, per run (the sweep's raw evidence).",
    )
    op.create_index(
        "ix_hashtag_sightings_hashtag_id_seen_at",
        "hashtag_sightings",
        ["hashtag_id", "seen_at"],
        unique=False,
    )
    op.create_table(
        "posts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="Post id in the warehouse.",
        ),
        sa.Column("platform", sa.String(length=32), nullable=False, comment="Platform."),
        sa.Column(
            "post_id", sa.String(length=255), nullable=False, comment="The platform's post id."
        ),
        sa.Column(
            "profile_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
            comment="Author.",
        ),
        sa.Column(
            "author_handle",
            sa.String(length=255),
            nullable=True,
            comment="Author's handle as crawled.",
        ),
        sa.Column("url", sa.Text(), nullable=True, comment="Post URL."),
        sa.Column(
            "posted_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="Publication time (UTC).",
        ),
        sa.Column(
            "posted_at_precision",
            sa.String(length=16),
            nullable=True,
            comment="exact, or the unit of a relative time (day, month, year, ...).",
        ),
        sa.Column("text", sa.Text(), nullable=True, comment="Caption or text, verbatim (NFC)."),
        sa.Column("likes", sa.BigInteger(), nullable=True, comment="Likes, diggs or favourites."),
        sa.Column("comments", sa.BigInteger(), nullable=True, comment="Comments or replies."),
        sa.Column("shares", sa.BigInteger(), nullable=True, comment="Shares, reblogs or reposts."),
        sa.Column("views", sa.BigInteger(), nullable=True, comment="Video views or plays."),
        sa.Column(
            "media_type",
            sa.String(length=32),
            nullable=True,
            comment="image, video, carousel, text, ...",
        ),
        sa.Column(
            "first_seen_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="First crawl that saw the post (UTC).",
        ),
        sa.Column(
            "last_seen_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="Latest crawl that saw the post (UTC).",
        ),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["profiles.id"],
            name=op.f("fk_posts_profile_id_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_posts")),
        sa.UniqueConstraint("platform", "post_id", name=op.f("uq_posts_platform_post_id")),
        comment="One row per post; counts are the latest seen.",
    )
    op.create_index(
        "ix_posts_profile_id_posted_at", "posts", ["profile_id", "posted_at"], unique=False
    )
    op.create_table(
        "profile_niches",
        sa.Column(
            "profile_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="Account.",
        ),
        sa.Column(
            "niche", sa.String(length=64), nullable=False, comment="Niche id from the taxonomy."
        ),
        sa.Column("score", sa.Float(), nullable=False, comment="Score 0..1."),
        sa.Column(
            "is_primary", sa.Boolean(), nullable=False, comment="The account's primary niche."
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the score was computed (UTC).",
        ),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["profiles.id"],
            name=op.f("fk_profile_niches_profile_id_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("profile_id", "niche", name=op.f("pk_profile_niches")),
        comment="Niche scores per account (multi-label); is_primary marks the main niche.",
    )
    op.create_index(
        "ix_profile_niches_niche_score", "profile_niches", ["niche", "score"], unique=False
    )
    op.create_table(
        "profile_snapshots",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="Snapshot id.",
        ),
        sa.Column(
            "profile_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="The account.",
        ),
        sa.Column(
            "crawl_run_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="The run that took it.",
        ),
        sa.Column(
            "captured_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the page was fetched (UTC).",
        ),
        sa.Column(
            "followers", sa.BigInteger(), nullable=True, comment="Followers (YouTube: subscribers)."
        ),
        sa.Column("following", sa.BigInteger(), nullable=True, comment="Accounts followed."),
        sa.Column(
            "posts_count", sa.BigInteger(), nullable=True, comment="Posts, videos or statuses."
        ),
        sa.Column(
            "engagement_rate",
            sa.Float(),
            nullable=True,
            comment="mean(likes + comments) over recent posts / followers; NULL when undefined.",
        ),
        sa.Column(
            "engagement_rate_median",
            sa.Float(),
            nullable=True,
            comment="median(likes + comments) over recent posts / followers.",
        ),
        sa.Column(
            "engagement_per_view",
            sa.Float(),
            nullable=True,
            comment="mean((likes + comments) / views) over recent posts with views.",
        ),
        sa.Column(
            "posts_per_week",
            sa.Float(),
            nullable=True,
            comment="Posting frequency over recent posts.",
        ),
        sa.Column(
            "recent_posts_used",
            sa.Integer(),
            nullable=True,
            comment="Posts the figures are computed over.",
        ),
        sa.Column(
            "tier",
            sa.String(length=16),
            nullable=True,
            comment="Tier by followers (nano, micro, ...).",
        ),
        sa.Column(
            "tier_scheme",
            sa.String(length=16),
            nullable=True,
            comment="Tier scheme used: seed or industry.",
        ),
        sa.ForeignKeyConstraint(
            ["crawl_run_id"],
            ["crawl_runs.id"],
            name=op.f("fk_profile_snapshots_crawl_run_id_crawl_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["profiles.id"],
            name=op.f("fk_profile_snapshots_profile_id_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_profile_snapshots")),
        sa.UniqueConstraint(
            "profile_id", "crawl_run_id", name=op.f("uq_profile_snapshots_profile_id_crawl_run_id")
        ),
        comment="Account figures per crawl run: the follower and engagement history.",
    )
    op.create_index(
        "ix_profile_snapshots_profile_id_captured_at",
        "profile_snapshots",
        ["profile_id", "captured_at"],
        unique=False,
    )
    op.create_index(
        "ix_profile_snapshots_tier_captured_at",
        "profile_snapshots",
        ["tier", "captured_at"],
        unique=False,
    )
    op.create_table(
        "rejected_items",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="Row id.",
        ),
        sa.Column(
            "crawl_run_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
            comment="Run.",
        ),
        sa.Column("spider", sa.String(length=64), nullable=True, comment="Spider."),
        sa.Column("platform", sa.String(length=32), nullable=True, comment="Platform."),
        sa.Column(
            "item_type",
            sa.String(length=64),
            nullable=True,
            comment="ProfileItem, PostItem, page, ...",
        ),
        sa.Column(
            "reason",
            sa.String(length=64),
            nullable=False,
            comment="Why: missing_followers, login_required, ...",
        ),
        sa.Column("detail", sa.Text(), nullable=True, comment="Human-readable detail."),
        sa.Column("payload", sa.JSON(), nullable=False, comment="The raw item or body, as JSON."),
        sa.Column("source_url", sa.Text(), nullable=True, comment="Page the input came from."),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When it was quarantined (UTC).",
        ),
        sa.ForeignKeyConstraint(
            ["crawl_run_id"],
            ["crawl_runs.id"],
            name=op.f("fk_rejected_items_crawl_run_id_crawl_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejected_items")),
        comment="Quarantine: input that could not be used, with the reason and the raw payload.",
    )
    op.create_index(
        "ix_rejected_items_crawl_run_id_reason",
        "rejected_items",
        ["crawl_run_id", "reason"],
        unique=False,
    )
    op.create_table(
        "post_hashtags",
        sa.Column(
            "post_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="Post.",
        ),
        sa.Column(
            "hashtag_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="Hashtag.",
        ),
        sa.ForeignKeyConstraint(
            ["hashtag_id"],
            ["hashtags.id"],
            name=op.f("fk_post_hashtags_hashtag_id_hashtags"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_post_hashtags_post_id_posts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("post_id", "hashtag_id", name=op.f("pk_post_hashtags")),
        comment="Which hashtags a post carries.",
    )
    op.create_index("ix_post_hashtags_hashtag_id", "post_hashtags", ["hashtag_id"], unique=False)

    op.execute(INFLUENCER_CURRENT)
    op.execute(MICRO_INFLUENCERS)


def downgrade() -> None:
    """Drop the views, then every table (in dependency order)."""
    op.execute("DROP VIEW IF EXISTS micro_influencers")
    op.execute("DROP VIEW IF EXISTS influencer_current")
    op.drop_index("ix_post_hashtags_hashtag_id", table_name="post_hashtags")
    op.drop_table("post_hashtags")
    op.drop_index("ix_rejected_items_crawl_run_id_reason", table_name="rejected_items")
    op.drop_table("rejected_items")
    op.drop_index("ix_profile_snapshots_tier_captured_at", table_name="profile_snapshots")
    op.drop_index("ix_profile_snapshots_profile_id_captured_at", table_name="profile_snapshots")
    op.drop_table("profile_snapshots")
    op.drop_index("ix_profile_niches_niche_score", table_name="profile_niches")
    op.drop_table("profile_niches")
    op.drop_index("ix_posts_profile_id_posted_at", table_name="posts")
    op.drop_table("posts")
    op.drop_index("ix_hashtag_sightings_hashtag_id_seen_at", table_name="hashtag_sightings")
    op.drop_table("hashtag_sightings")
    op.drop_index("ix_profiles_platform_user_id", table_name="profiles")
    op.drop_table("profiles")
    op.drop_table("hashtags")
    op.drop_index("ix_crawl_runs_spider_started_at", table_name="crawl_runs")
    op.drop_table("crawl_runs")


# The views as they were at this revision (frozen here; later revisions redefine them).
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
"""

MICRO_INFLUENCERS = """
CREATE VIEW micro_influencers AS
SELECT * FROM influencer_current WHERE tier = 'micro'
"""
