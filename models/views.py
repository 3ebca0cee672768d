"""Analytics views. Plain SQL that SQLite (3.25+) and PostgreSQL both run; migrations create them."""

from __future__ import annotations

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

MICRO_INFLUENCERS = """
CREATE VIEW micro_influencers AS
SELECT * FROM influencer_current WHERE tier = 'micro'
"""

#: name -> CREATE statement, in creation order (drop in reverse); profile_growth is below.
VIEWS = {
    "influencer_current": INFLUENCER_CURRENT,
    "micro_influencers": MICRO_INFLUENCERS,
    "creator_reach": CREATOR_REACH,
    "profile_growth": None,
}

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
    """The profile_growth view for a dialect (date arithmetic differs).

    Each window's baseline is the account's oldest snapshot within that many days before its
    latest one; ``baseline_*_at`` says how far back it really reaches.
    """
    if dialect == "sqlite":
        return _GROWTH.format(since_7d="datetime(l.captured_at, '-7 days')",
                              since_30d="datetime(l.captured_at, '-30 days')")
    return _GROWTH.format(since_7d="l.captured_at - INTERVAL '7 days'",
                          since_30d="l.captured_at - INTERVAL '30 days'")
