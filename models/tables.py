"""Warehouse tables (SQLAlchemy 2 typed declarative models).

Analysts read these tables directly, so every table and column carries a comment. Alembic owns
the schema: ``models/migrations`` creates it; ``create_all`` is used only by tests.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BigInteger ids on PostgreSQL; SQLite only auto-increments a plain INTEGER primary key.
Id = BigInteger().with_variant(Integer(), "sqlite")
UTC = DateTime(timezone=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class CrawlRun(Base):
    __tablename__ = "crawl_runs"
    __table_args__ = (
        Index("ix_crawl_runs_spider_started_at", "spider", "started_at"),
        # The run lock: at most one running run per scheduled job name.
        Index("uq_crawl_runs_running_job", "job", unique=True,
              sqlite_where=text("status = 'running'"), postgresql_where=text("status = 'running'")),
        {"comment": "One row per spider run: what ran, with which arguments, how it ended."},
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, comment="Run id.")
    run_key: Mapped[str] = mapped_column(
        String(36),
        unique=True,
        comment="UUID chosen by the crawler; links spooled batches to the run.",
    )
    spider: Mapped[str] = mapped_column(String(64), comment="Spider name (scrapy list).")
    platform: Mapped[str | None] = mapped_column(String(32), comment="Platform crawled.")
    job: Mapped[str | None] = mapped_column(
        String(128), comment="Scheduled job name, used for the run lock (NULL for ad-hoc runs)."
    )
    arguments: Mapped[dict[str, Any] | None] = mapped_column(
        JSON, comment="Spider arguments (-a), secrets removed."
    )
    started_at: Mapped[datetime] = mapped_column(UTC, comment="When the run started (UTC).")
    finished_at: Mapped[datetime | None] = mapped_column(
        UTC, comment="When it ended (UTC); NULL while running."
    )
    status: Mapped[str] = mapped_column(
        String(16),
        default="running",
        comment="running, ok, degraded, failed, aborted, skipped (job already running) or "
        "abandoned (stale lock).",
    )
    heartbeat_at: Mapped[datetime | None] = mapped_column(
        UTC, comment="Last sign of life of a running run; a lock older than the stale timeout expires."
    )
    finish_reason: Mapped[str | None] = mapped_column(String(64), comment="Scrapy's close reason.")
    checks: Mapped[dict[str, Any] | None] = mapped_column(
        JSON, comment="Monitoring checks and their results."
    )
    stats: Mapped[dict[str, Any] | None] = mapped_column(
        JSON, comment="Scrapy stats at the end of the run."
    )
    items_loaded: Mapped[int] = mapped_column(
        Integer, default=0, comment="Items written to the warehouse."
    )
    items_rejected: Mapped[int] = mapped_column(Integer, default=0, comment="Items quarantined.")


class Profile(Base):
    __tablename__ = "profiles"
    __table_args__ = (
        UniqueConstraint("platform", "handle"),
        Index("ix_profiles_platform_user_id", "platform", "platform_user_id"),
        {"comment": "One row per account on a platform; latest known identity and bio."},
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, comment="Account id in the warehouse.")
    platform: Mapped[str] = mapped_column(
        String(32), comment="instagram, tiktok, youtube, mastodon, pixelfed or bluesky."
    )
    handle: Mapped[str] = mapped_column(
        String(255), comment="Canonical handle, no @; user@instance on federated networks."
    )
    platform_user_id: Mapped[str | None] = mapped_column(
        String(255), comment="The platform's own stable id (Bluesky DID, YouTube channel id, ...)."
    )
    display_name: Mapped[str | None] = mapped_column(Text, comment="Display name as shown.")
    bio: Mapped[str | None] = mapped_column(Text, comment="Biography, stored verbatim (NFC).")
    external_url: Mapped[str | None] = mapped_column(Text, comment="Link in bio.")
    profile_url: Mapped[str | None] = mapped_column(Text, comment="Public profile page.")
    is_verified: Mapped[bool | None] = mapped_column(
        Boolean, comment="Platform verification badge."
    )
    category: Mapped[str | None] = mapped_column(
        String(255), comment="The platform's own label (e.g. Instagram category_name)."
    )
    discovered_via: Mapped[str | None] = mapped_column(
        String(255), comment="Hashtag or list that first led to the account."
    )
    email: Mapped[str | None] = mapped_column(
        String(320), comment="Contact email: the format's business-email field, else one written "
        "in the bio (de-obfuscated). Erased with the account."
    )
    website: Mapped[str | None] = mapped_column(
        Text, comment="The creator's own site: the first link off social platforms (link in bio, "
        "profile fields, bio text)."
    )
    links: Mapped[list[str] | None] = mapped_column(
        JSON, comment="Other links of the profile's own fields (Mastodon fields, channel links)."
    )
    country: Mapped[str | None] = mapped_column(
        String(2), comment="ISO 3166-1 country the format states (YouTube channel country, TikTok "
        "Research region_code); NULL when none does."
    )
    language: Mapped[str | None] = mapped_column(
        String(8), comment="Main language of bio and captions (ISO 639-1), by Lingua."
    )
    languages: Mapped[dict[str, float] | None] = mapped_column(
        JSON, comment="Language -> share of the letters of bio and captions (shares >= 0.15)."
    )
    first_seen_at: Mapped[datetime] = mapped_column(
        UTC, comment="First crawl that saw the account (UTC)."
    )
    last_seen_at: Mapped[datetime] = mapped_column(
        UTC, comment="Latest crawl that saw the account (UTC)."
    )


class ProfileSnapshot(Base):
    __tablename__ = "profile_snapshots"
    __table_args__ = (
        UniqueConstraint("profile_id", "crawl_run_id"),
        Index("ix_profile_snapshots_profile_id_captured_at", "profile_id", "captured_at"),
        Index("ix_profile_snapshots_tier_captured_at", "tier", "captured_at"),
        {"comment": "Account figures per crawl run: the follower and engagement history."},
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, comment="Snapshot id.")
    profile_id: Mapped[int] = mapped_column(
        ForeignKey("profiles.id", ondelete="CASCADE"), comment="The account."
    )
    crawl_run_id: Mapped[int] = mapped_column(
        ForeignKey("crawl_runs.id", ondelete="CASCADE"), comment="The run that took it."
    )
    captured_at: Mapped[datetime] = mapped_column(UTC, comment="When the page was fetched (UTC).")
    followers: Mapped[int | None] = mapped_column(
        BigInteger, comment="Followers (YouTube: subscribers)."
    )
    following: Mapped[int | None] = mapped_column(BigInteger, comment="Accounts followed.")
    posts_count: Mapped[int | None] = mapped_column(
        BigInteger, comment="Posts, videos or statuses."
    )
    engagement_rate: Mapped[float | None] = mapped_column(
        Float, comment="mean(likes + comments) over recent posts / followers; NULL when undefined."
    )
    engagement_rate_median: Mapped[float | None] = mapped_column(
        Float, comment="median(likes + comments) over recent posts / followers."
    )
    engagement_per_view: Mapped[float | None] = mapped_column(
        Float, comment="mean((likes + comments) / views) over recent posts with views."
    )
    posts_per_week: Mapped[float | None] = mapped_column(
        Float, comment="Posting frequency over recent posts."
    )
    recent_posts_used: Mapped[int | None] = mapped_column(
        Integer, comment="Posts the figures are computed over."
    )
    tier: Mapped[str | None] = mapped_column(
        String(16), comment="Tier by followers (nano, micro, ...)."
    )
    tier_scheme: Mapped[str | None] = mapped_column(
        String(16), comment="Tier scheme used: seed or industry."
    )


class Post(Base):
    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("platform", "post_id"),
        Index("ix_posts_profile_id_posted_at", "profile_id", "posted_at"),
        {"comment": "One row per post; counts are the latest seen."},
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, comment="Post id in the warehouse.")
    platform: Mapped[str] = mapped_column(String(32), comment="Platform.")
    post_id: Mapped[str] = mapped_column(String(255), comment="The platform's post id.")
    profile_id: Mapped[int | None] = mapped_column(
        ForeignKey("profiles.id", ondelete="CASCADE"), comment="Author."
    )
    author_handle: Mapped[str | None] = mapped_column(
        String(255), comment="Author's handle as crawled."
    )
    url: Mapped[str | None] = mapped_column(Text, comment="Post URL.")
    posted_at: Mapped[datetime | None] = mapped_column(UTC, comment="Publication time (UTC).")
    posted_at_precision: Mapped[str | None] = mapped_column(
        String(16), comment="exact, or the unit of a relative time (day, month, year, ...)."
    )
    text: Mapped[str | None] = mapped_column(Text, comment="Caption or text, verbatim (NFC).")
    likes: Mapped[int | None] = mapped_column(BigInteger, comment="Likes, diggs or favourites.")
    comments: Mapped[int | None] = mapped_column(BigInteger, comment="Comments or replies.")
    shares: Mapped[int | None] = mapped_column(BigInteger, comment="Shares, reblogs or reposts.")
    views: Mapped[int | None] = mapped_column(BigInteger, comment="Video views or plays.")
    media_type: Mapped[str | None] = mapped_column(
        String(32), comment="image, video, carousel, text, ..."
    )
    sponsored: Mapped[bool | None] = mapped_column(
        Boolean, comment="Paid post: the format's own flag or a disclosure (#ad, 'paid partnership "
        "with', #anzeige, #publi, ...) in the text; NULL when there was nothing to judge."
    )
    sponsor_evidence: Mapped[str | None] = mapped_column(
        String(64), comment="Why it counts as sponsored: instagram:flag, #ad, 'sponsored by', ..."
    )
    language: Mapped[str | None] = mapped_column(
        String(8), comment="Language the platform declares for the post (Mastodon, Bluesky), if any."
    )
    first_seen_at: Mapped[datetime] = mapped_column(
        UTC, comment="First crawl that saw the post (UTC)."
    )
    last_seen_at: Mapped[datetime] = mapped_column(
        UTC, comment="Latest crawl that saw the post (UTC)."
    )


class Hashtag(Base):
    __tablename__ = "hashtags"
    __table_args__ = {"comment": "Normalised hashtags: lower-case, no #, Unicode NFC."}

    id: Mapped[int] = mapped_column(Id, primary_key=True, comment="Hashtag id.")
    tag: Mapped[str] = mapped_column(String(255), unique=True, comment="The tag, normalised.")


class PostHashtag(Base):
    __tablename__ = "post_hashtags"
    __table_args__ = (
        Index("ix_post_hashtags_hashtag_id", "hashtag_id"),
        {"comment": "Which hashtags a post carries."},
    )

    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True, comment="Post."
    )
    hashtag_id: Mapped[int] = mapped_column(
        ForeignKey("hashtags.id", ondelete="CASCADE"), primary_key=True, comment="Hashtag."
    )


class HashtagSighting(Base):
    __tablename__ = "hashtag_sightings"
    __table_args__ = (
        UniqueConstraint("crawl_run_id", "hashtag_id", "platform", "post_id", "listing"),
        Index("ix_hashtag_sightings_hashtag_id_seen_at", "hashtag_id", "seen_at"),
        {"comment": "Posts a hashtag listing showed, per run (the sweep's raw evidence)."},
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, comment="Sighting id.")
    crawl_run_id: Mapped[int] = mapped_column(
        ForeignKey("crawl_runs.id", ondelete="CASCADE"), comment="Run."
    )
    hashtag_id: Mapped[int] = mapped_column(
        ForeignKey("hashtags.id", ondelete="CASCADE"), comment="Hashtag."
    )
    platform: Mapped[str] = mapped_column(String(32), comment="Platform.")
    post_id: Mapped[str] = mapped_column(
        String(255), comment="The platform's post id (the post may not be loaded into posts)."
    )
    author_handle: Mapped[str | None] = mapped_column(
        String(255), comment="Author's handle, if shown."
    )
    listing: Mapped[str] = mapped_column(String(32), comment="top, recent or a feed name.")
    position: Mapped[int | None] = mapped_column(Integer, comment="0-based rank in the listing.")
    seen_at: Mapped[datetime] = mapped_column(UTC, comment="When the listing was fetched (UTC).")


class ProfileNiche(Base):
    __tablename__ = "profile_niches"
    __table_args__ = (
        Index("ix_profile_niches_niche_score", "niche", "score"),
        {"comment": "Niche scores per account (multi-label); is_primary marks the main niche."},
    )

    profile_id: Mapped[int] = mapped_column(
        ForeignKey("profiles.id", ondelete="CASCADE"), primary_key=True, comment="Account."
    )
    niche: Mapped[str] = mapped_column(
        String(64), primary_key=True, comment="Niche id from the taxonomy."
    )
    score: Mapped[float] = mapped_column(Float, comment="Score 0..1.")
    is_primary: Mapped[bool] = mapped_column(
        Boolean, default=False, comment="The account's primary niche."
    )
    updated_at: Mapped[datetime] = mapped_column(UTC, comment="When the score was computed (UTC).")


PAYLOAD_COMMENT = "The raw item or body, as JSON; NULL once older than MICROSCOUT_RAW_RETENTION_DAYS."


class RejectedRecord(Base):
    __tablename__ = "rejected_items"
    __table_args__ = (
        Index("ix_rejected_items_crawl_run_id_reason", "crawl_run_id", "reason"),
        Index("ix_rejected_items_created_at", "created_at"),  # the raw-payload retention purge
        {
            "comment": "Quarantine: input that could not be used, with the reason and the raw payload."
        },
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, comment="Row id.")
    crawl_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("crawl_runs.id", ondelete="SET NULL"), comment="Run."
    )
    spider: Mapped[str | None] = mapped_column(String(64), comment="Spider.")
    platform: Mapped[str | None] = mapped_column(String(32), comment="Platform.")
    item_type: Mapped[str | None] = mapped_column(
        String(64), comment="ProfileItem, PostItem, page, ..."
    )
    reason: Mapped[str] = mapped_column(
        String(64), comment="Why: missing_followers, login_required, ..."
    )
    detail: Mapped[str | None] = mapped_column(Text, comment="Human-readable detail.")
    payload: Mapped[Any] = mapped_column(JSON, nullable=True, comment=PAYLOAD_COMMENT)
    source_url: Mapped[str | None] = mapped_column(Text, comment="Page the input came from.")
    created_at: Mapped[datetime] = mapped_column(UTC, comment="When it was quarantined (UTC).")


class SuppressedAccount(Base):
    __tablename__ = "suppressed_accounts"
    __table_args__ = (
        UniqueConstraint("platform", "handle"),
        Index("ix_suppressed_accounts_platform_user_id", "platform", "platform_user_id"),
        {"comment": "Accounts erased on request (microscout forget): no crawl loads them again."},
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, comment="Row id.")
    platform: Mapped[str] = mapped_column(String(32), comment="Platform of the account.")
    handle: Mapped[str] = mapped_column(
        String(255), comment="Canonical handle, spelled as profiles.handle."
    )
    platform_user_id: Mapped[str | None] = mapped_column(
        String(255), comment="The platform's stable id when it was known: a renamed account stays out."
    )
    reason: Mapped[str | None] = mapped_column(Text, comment="Why, as given (e.g. the request's reference).")
    requested_at: Mapped[datetime] = mapped_column(
        UTC, comment="When the erasure was carried out (UTC)."
    )


class CrawlRunWorker(Base):
    __tablename__ = "crawl_run_workers"
    __table_args__ = (
        UniqueConstraint("crawl_run_id", "worker_id"),
        {"comment": "A distributed job's workers: one row per worker process and crawl run, "
                    "with its share of the work (microscout worker)."},
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, comment="Row id.")
    crawl_run_id: Mapped[int] = mapped_column(
        Id, ForeignKey("crawl_runs.id", ondelete="CASCADE"), comment="The job's crawl run."
    )
    worker_id: Mapped[str] = mapped_column(
        String(128), comment="The worker: host, process id and a random suffix."
    )
    host: Mapped[str] = mapped_column(String(255), comment="Machine the worker ran on.")
    pid: Mapped[int] = mapped_column(Integer, comment="Process id on that machine.")
    started_at: Mapped[datetime] = mapped_column(UTC, comment="When the worker joined the run (UTC).")
    finished_at: Mapped[datetime | None] = mapped_column(
        UTC, comment="When it left (UTC); NULL while it works or if it died."
    )
    status: Mapped[str] = mapped_column(
        String(16), default="running",
        comment="running; drained (left when the job's queue was empty); stopped (left before); "
        "lost (it lost items).",
    )
    requests: Mapped[int] = mapped_column(
        Integer, default=0, comment="Requests this worker took from the job's queue and finished."
    )
    items_loaded: Mapped[int] = mapped_column(Integer, default=0, comment="Items it wrote.")
    items_rejected: Mapped[int] = mapped_column(Integer, default=0, comment="Items it quarantined.")
    profiles: Mapped[int] = mapped_column(Integer, default=0, comment="Profiles it loaded.")
    stats: Mapped[dict[str, Any] | None] = mapped_column(
        JSON, comment="The worker's Scrapy stats when it left (summed into the run's at the end)."
    )


class ApiUsage(Base):
    __tablename__ = "api_usage"
    __table_args__ = (
        UniqueConstraint("api", "unit", "account", "window_start"),
        {"comment": "Official API budgets (YouTube Data API units, TikTok Research API requests and "
                    "records): what was spent per account and budget window, across runs and "
                    "workers (microscout quota)."},
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, comment="Row id.")
    api: Mapped[str] = mapped_column(String(32), comment="The API: youtube, tiktok_research.")
    unit: Mapped[str] = mapped_column(String(16), comment="What is counted: units, requests, records.")
    account: Mapped[str] = mapped_column(
        String(128), comment="Whose budget: the API host and a fingerprint of the key (never the key)."
    )
    window_start: Mapped[datetime] = mapped_column(
        UTC, comment="Start of the budget window (UTC): midnight Pacific for YouTube, UTC for TikTok."
    )
    window_end: Mapped[datetime] = mapped_column(UTC, comment="When the budget resets (UTC).")
    used: Mapped[int] = mapped_column(
        BigInteger, default=0,
        comment="Spent or reserved in the window: calls are booked before they are sent.",
    )
    quota: Mapped[int] = mapped_column(BigInteger, comment="The budget's limit when last booked.")
    updated_at: Mapped[datetime] = mapped_column(UTC, comment="Last booking (UTC).")


class InstagramHashtag(Base):
    __tablename__ = "instagram_hashtags"
    __table_args__ = (
        UniqueConstraint("account", "hashtag"),
        {"comment": "Instagram Graph API hashtags: the hashtag-id cache and the rolling 7-day "
                    "ledger of unique hashtags queried (30 per account)."},
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, comment="Row id.")
    account: Mapped[str] = mapped_column(
        String(64), comment="The operator's Instagram professional account id (the API's user_id)."
    )
    hashtag: Mapped[str] = mapped_column(String(255), comment="Hashtag, lower case, without '#'.")
    hashtag_id: Mapped[str | None] = mapped_column(
        String(64), comment="Its id from ig_hashtag_search (ids never change); NULL until found."
    )
    slot_started_at: Mapped[datetime] = mapped_column(
        UTC, comment="When the hashtag took one of the 30 weekly slots (UTC); it frees 7 days later."
    )
    last_queried_at: Mapped[datetime] = mapped_column(UTC, comment="Last query of it (UTC).")


class ProfileSignal(Base):
    __tablename__ = "profile_signals"
    __table_args__ = (
        Index("ix_profile_signals_profile_id_computed_at", "profile_id", "computed_at"),
        {"comment": "Audience-quality signals per account and crawl run, computed after the run "
                    "from snapshots and posts against the warehouse's own peers (README data "
                    "dictionary has every formula)."},
    )

    profile_id: Mapped[int] = mapped_column(
        ForeignKey("profiles.id", ondelete="CASCADE"), primary_key=True, comment="Account."
    )
    crawl_run_id: Mapped[int] = mapped_column(
        ForeignKey("crawl_runs.id", ondelete="CASCADE"), primary_key=True,
        comment="The run whose data they were computed from."
    )
    computed_at: Mapped[datetime] = mapped_column(UTC, comment="When (UTC).")
    peer_group: Mapped[str | None] = mapped_column(
        String(64), comment="platform/tier whose accounts the peer z-scores compare against."
    )
    peers: Mapped[int | None] = mapped_column(Integer, comment="Accounts in the peer group.")
    engagement_z: Mapped[float | None] = mapped_column(
        Float, comment="Robust z-score of ln(engagement_rate) in the peer group: "
        "(x - median) / (1.4826 * MAD). Below -2.5: bought followers; above 2.5: pods."
    )
    like_comment_ratio: Mapped[float | None] = mapped_column(
        Float, comment="sum(likes) / sum(comments) over the recent posts."
    )
    like_comment_z: Mapped[float | None] = mapped_column(
        Float, comment="Robust z-score of ln(like_comment_ratio) in the peer group."
    )
    follower_spike: Mapped[float | None] = mapped_column(
        Float, comment="Largest day-over-day follower growth between snapshots (share per day, "
        "days floored at 1) minus the median of the account's other intervals; NULL under 3 snapshots."
    )
    follower_spike_at: Mapped[datetime | None] = mapped_column(
        UTC, comment="Snapshot time at the end of that interval (UTC)."
    )
    following_ratio: Mapped[float | None] = mapped_column(
        Float, comment="following / followers."
    )
    posting_gap_cv: Mapped[float | None] = mapped_column(
        Float, comment="Posting regularity: std / mean of the gaps between recent posts "
        "(0 = clockwork, above 2 = bursts)."
    )
    no_comment_share: Mapped[float | None] = mapped_column(
        Float, comment="Share of recent posts with zero comments or comments unavailable (disabled)."
    )
    sponsored_posts: Mapped[int | None] = mapped_column(
        Integer, comment="Recent posts judged sponsored."
    )
    sponsored_share: Mapped[float | None] = mapped_column(
        Float, comment="sponsored_posts / recent posts judged."
    )
    sponsored_engagement: Mapped[float | None] = mapped_column(
        Float, comment="mean(likes + comments) of sponsored posts / followers."
    )
    organic_engagement: Mapped[float | None] = mapped_column(
        Float, comment="mean(likes + comments) of the other posts / followers."
    )
    audience_quality: Mapped[float | None] = mapped_column(
        Float, comment="0-100: 100 minus the penalties of the flags raised; NULL when there is too "
        "little to judge (quality_note says why)."
    )
    quality_flags: Mapped[list[str] | None] = mapped_column(
        JSON, comment="Short reasons, worst first: 'follower_spike: +48% in a day', "
        "'engagement_pod: ...', 'mass_follow: ...', 'low_engagement: ...', ..."
    )
    main_flag: Mapped[str | None] = mapped_column(
        String(32), comment="Code of the worst flag (follower_spike, engagement_pod, ...); NULL when none."
    )
    quality_note: Mapped[str | None] = mapped_column(
        Text, comment="Why a score or a signal is NULL (too few posts, peers or snapshots)."
    )


class Creator(Base):
    __tablename__ = "creators"
    __table_args__ = {"comment": "One creator behind accounts on several platforms, linked by "
                                 "evidence (creator_links). Rebuilt after each run."}

    id: Mapped[int] = mapped_column(
        Id, primary_key=True, autoincrement=False,
        comment="The smallest profiles.id among its accounts (stable while they stay linked)."
    )
    display_name: Mapped[str | None] = mapped_column(Text, comment="Its most common display name.")
    accounts: Mapped[int] = mapped_column(Integer, comment="Accounts linked.")
    confidence: Mapped[float] = mapped_column(
        Float, comment="The weakest link's confidence (0-1) on the path that joins its accounts."
    )
    updated_at: Mapped[datetime] = mapped_column(UTC, comment="When it was rebuilt (UTC).")


class CreatorAccount(Base):
    __tablename__ = "creator_accounts"
    __table_args__ = {"comment": "Which accounts belong to which creator."}

    profile_id: Mapped[int] = mapped_column(
        ForeignKey("profiles.id", ondelete="CASCADE"), primary_key=True, comment="Account."
    )
    creator_id: Mapped[int] = mapped_column(
        ForeignKey("creators.id", ondelete="CASCADE"), index=True, comment="Creator."
    )


class CreatorLink(Base):
    __tablename__ = "creator_links"
    __table_args__ = {"comment": "Evidence that two accounts are one creator, with its confidence."}

    profile_id: Mapped[int] = mapped_column(
        ForeignKey("profiles.id", ondelete="CASCADE"), primary_key=True, comment="One account."
    )
    other_profile_id: Mapped[int] = mapped_column(
        ForeignKey("profiles.id", ondelete="CASCADE"), primary_key=True, index=True,
        comment="The other account (profile_id < other_profile_id)."
    )
    evidence: Mapped[str] = mapped_column(
        Text, comment="What links them: bio_link (one names the other), mutual_link, "
        "same_website, domain_handle, same_handle_and_name, *_other_name (a site or domain shared "
        "by conflicting names); several joined by ', '."
    )
    confidence: Mapped[float] = mapped_column(Float, comment="0-1; links of at least 0.6 join creators.")


class SimilarAccount(Base):
    __tablename__ = "similar_accounts"
    __table_args__ = {"comment": "Lookalikes: for each micro-influencer the most similar "
                                 "micro-influencers (microscout similar), refreshed after each run."}

    profile_id: Mapped[int] = mapped_column(
        ForeignKey("profiles.id", ondelete="CASCADE"), primary_key=True, comment="The account."
    )
    rank: Mapped[int] = mapped_column(Integer, primary_key=True, comment="1 = most similar.")
    similar_profile_id: Mapped[int] = mapped_column(
        ForeignKey("profiles.id", ondelete="CASCADE"), index=True, comment="The lookalike."
    )
    score: Mapped[float] = mapped_column(Float, comment="Similarity 0-1 (see README).")
    shared_terms: Mapped[str | None] = mapped_column(
        Text, comment="What they share: niche, hashtags and words, strongest first."
    )
    updated_at: Mapped[datetime] = mapped_column(UTC, comment="When it was computed (UTC).")


class ProfileVector(Base):
    __tablename__ = "profile_vectors"
    __table_args__ = {"comment": "Sentence embedding of each account's bio and captions (when the "
                                 "embeddings extra is installed), for lookalikes."}

    profile_id: Mapped[int] = mapped_column(
        ForeignKey("profiles.id", ondelete="CASCADE"), primary_key=True, comment="Account."
    )
    encoder: Mapped[str] = mapped_column(String(128), comment="The encoder that made it.")
    vector: Mapped[bytes] = mapped_column(
        LargeBinary, comment="Unit vector, float16 little-endian."
    )
    updated_at: Mapped[datetime] = mapped_column(UTC, comment="When it was computed (UTC).")
