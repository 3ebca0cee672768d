"""What a sweep found, read back from the warehouse views (bind parameters only)."""

from __future__ import annotations

from sqlalchemy import Engine, text

TIERS = text("""
    SELECT tier, count(*) AS accounts FROM influencer_current
    WHERE (:platform IS NULL OR platform = :platform)
    GROUP BY tier ORDER BY min(followers)
""")

TOP_MICRO = text("""
    SELECT primary_niche, handle, followers, engagement_rate, platform
    FROM micro_influencers
    WHERE primary_niche IS NOT NULL AND (:platform IS NULL OR platform = :platform)
    ORDER BY primary_niche, engagement_rate DESC
""")


def tier_counts(engine: Engine, platform: str | None = None) -> list[tuple[str, int]]:
    with engine.connect() as conn:
        return [(row.tier or "unknown", row.accounts) for row in conn.execute(TIERS, {"platform": platform})]


def top_micro_by_niche(engine: Engine, per_niche: int = 3, platform: str | None = None) -> list:
    shown: dict[str, int] = {}
    rows = []
    with engine.connect() as conn:
        for row in conn.execute(TOP_MICRO, {"platform": platform}):
            if shown.get(row.primary_niche, 0) < per_niche:
                shown[row.primary_niche] = shown.get(row.primary_niche, 0) + 1
                rows.append(row)
    return rows


def print_summary(engine: Engine, platform: str | None = None, per_niche: int = 3) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    tiers = Table(title="Accounts by tier")
    tiers.add_column("tier")
    tiers.add_column("accounts", justify="right")
    for tier, accounts in tier_counts(engine, platform):
        tiers.add_row(tier, f"{accounts:,}")
    console.print(tiers)

    rows = top_micro_by_niche(engine, per_niche, platform)
    several = len({row.platform for row in rows}) > 1
    top = Table(title=f"Top micro-influencers by niche (best {per_niche} by engagement)")
    columns = [("niche", "left"), ("handle", "left"), ("followers", "right"), ("engagement", "right")]
    for name, justify in columns + ([("platform", "left")] if several else []):
        top.add_column(name, justify=justify, no_wrap=name == "handle")
    for row in rows:
        rate = f"{row.engagement_rate:.2%}" if row.engagement_rate is not None else "-"
        cells = [row.primary_niche, row.handle, f"{row.followers:,}", rate]
        top.add_row(*cells, *([row.platform] if several else []))
    console.print(top)
