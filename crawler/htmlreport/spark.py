"""Follower sparklines as small inline SVG (no chart library: one polyline a table row)."""

from __future__ import annotations

from datetime import datetime
from html import escape

WIDTH, HEIGHT, PAD = 96, 22, 2


def sparkline(history: list[tuple[datetime, int]]) -> str:
    """An SVG polyline of followers over time (x by time); its title gives the first and last
    figures. Empty for no history; one snapshot is a dot."""
    if not history:
        return ""
    first, last = history[0], history[-1]
    title = escape(f"{first[1]:,} followers on {first[0]:%Y-%m-%d}, {last[1]:,} on {last[0]:%Y-%m-%d} "
                   f"({len(history)} snapshots)")
    start, span = first[0].timestamp(), (last[0] - first[0]).total_seconds()
    low = min(followers for _, followers in history)
    high = max(followers for _, followers in history)
    points = []
    for moment, followers in history:
        x = PAD + (WIDTH - 2 * PAD) * ((moment.timestamp() - start) / span if span else 1.0)
        y = HEIGHT - PAD - (HEIGHT - 2 * PAD) * ((followers - low) / (high - low) if high > low else 0.5)
        points.append((x, y))
    shape = (f'<polyline points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in points)}"/>' if len(points) > 1
             else f'<circle cx="{points[0][0]:.1f}" cy="{points[0][1]:.1f}" r="2"/>')
    return (f'<svg class="spark" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
            f'role="img"><title>{title}</title>{shape}</svg>')
