"""The example queries of README.md ("Querying the warehouse"): the one copy in code.

``microscout browse`` offers them as Datasette canned queries; tests/test_browse.py checks that the
README's ``sql`` block holds exactly these, in this order (``-- TITLE`` above each, ``;`` after).
"""

from __future__ import annotations

from typing import NamedTuple


class Example(NamedTuple):
    slug: str  # URL name of the canned query
    title: str  # the README's ``--`` comment
    sql: str  # without the README's trailing ``;``


EXAMPLE_QUERIES: list[Example] = [
    Example(
        "fitness_micro_influencers",
        "micro-influencers in fitness with engagement above 3%, newest snapshot",
        """\
SELECT handle, platform, followers, round(CAST(engagement_rate * 100 AS numeric), 2) AS er_pct,
       profile_url
FROM micro_influencers
WHERE primary_niche = 'fitness' AND engagement_rate > 0.03
ORDER BY engagement_rate DESC""",
    ),
    Example(
        "follower_history",
        "follower history of one account",
        """\
SELECT s.captured_at, s.followers, s.engagement_rate
FROM profile_snapshots s JOIN profiles p ON p.id = s.profile_id
WHERE p.platform = 'mastodon' AND p.handle = 'alice@mastodon.social'
ORDER BY s.captured_at""",
    ),
    Example(
        "hashtags_surfacing_micro_influencers",
        "which hashtags surface the most micro-influencers",
        """\
SELECT h.tag, count(DISTINCT m.profile_id) AS micro_accounts
FROM hashtag_sightings hs
JOIN hashtags h ON h.id = hs.hashtag_id
JOIN posts po ON po.platform = hs.platform AND po.post_id = hs.post_id
JOIN micro_influencers m ON m.profile_id = po.profile_id
GROUP BY h.tag ORDER BY micro_accounts DESC""",
    ),
    Example(
        "fastest_growing_micro_influencers",
        "fastest-growing micro-influencers this month",
        """\
SELECT g.handle, g.followers, g.follower_change_30d, round(g.growth_rate_30d * 100, 1) AS growth_pct,
       g.baseline_30d_at, g.engagement_change_30d
FROM profile_growth g
WHERE g.tier = 'micro' AND g.growth_rate_30d IS NOT NULL
ORDER BY g.growth_rate_30d DESC LIMIT 20""",
    ),
    Example(
        "runs_not_ok",
        "runs that did not end ok, with the checks that failed",
        "SELECT id, spider, started_at, status, checks FROM crawl_runs WHERE status <> 'ok' ORDER BY id DESC",
    ),
    Example(
        "quarantined_latest_run",
        "what was quarantined in the latest run, and why",
        """\
SELECT reason, count(*) FROM rejected_items
WHERE crawl_run_id = (SELECT max(id) FROM crawl_runs) GROUP BY reason""",
    ),
]
