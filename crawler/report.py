"""What a sweep found, read back from the warehouse views (bind parameters only)."""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from sqlalchemy import Engine

from models.queries import tier_counts, top_micro_by_niche

if TYPE_CHECKING:
    from rich.console import JustifyMethod


#: Short names of the audience-quality flags (profile_signals.main_flag) for the table.
FLAG_LABELS = {"follower_spike": "follower spike", "engagement_pod": "pod?",
               "low_engagement": "low engagement", "mass_follow": "mass follow",
               "high_engagement": "high engagement",
               "likes_without_comments": "likes, no comments", "no_comments": "no comments",
               "bursty_posting": "bursty posting"}


def print_summary(engine: Engine, platform: str | None = None, per_niche: int = 3,
                  file: TextIO | None = None) -> None:
    """The tier counts and the top micro-influencers per niche, as tables on ``file`` (stdout),
    with each one's audience-quality score (- when not judged) and worst flag ("pod?": an
    engagement pod suspected)."""
    from rich.console import Console
    from rich.table import Table

    console = Console(file=file)
    if not console.is_terminal:  # a pipe or a file: 80 columns would cut the handles
        console.width = max(console.width, 120)
    tiers = Table(title="Accounts by tier")
    tiers.add_column("tier")
    tiers.add_column("accounts", justify="right")
    for tier, accounts in tier_counts(engine, platform):
        tiers.add_row(tier, f"{accounts:,}")
    console.print(tiers)

    rows = top_micro_by_niche(engine, per_niche, platform)
    several = len({row.platform for row in rows}) > 1
    top = Table(title=f"Top micro-influencers by niche (best {per_niche} by engagement)")
    columns: list[tuple[str, JustifyMethod]] = [
        ("niche", "left"), ("handle", "left"), ("followers", "right"), ("engagement", "right"),
        ("quality", "right"), ("flag", "left")]
    for name, justify in columns + ([("platform", "left")] if several else []):
        top.add_column(name, justify=justify, no_wrap=name == "handle",
                       overflow="fold" if name == "flag" else "ellipsis")
    for row in rows:
        rate = f"{row.engagement_rate:.2%}" if row.engagement_rate is not None else "-"
        quality = f"{row.audience_quality:.0f}" if row.audience_quality is not None else "-"
        flag = FLAG_LABELS.get(row.main_flag, row.main_flag) if row.main_flag else None
        cells = [row.primary_niche, row.handle, f"{row.followers:,}", rate, quality,
                 flag or ("none" if row.audience_quality is not None else "-")]
        top.add_row(*cells, *([row.platform] if several else []))
    console.print(top)
