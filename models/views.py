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

#: name -> CREATE statement, in creation order (drop in reverse).
VIEWS = {
    "influencer_current": INFLUENCER_CURRENT,
    "micro_influencers": MICRO_INFLUENCERS,
}
