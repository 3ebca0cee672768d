"""The report's charts as Vega-Lite specs, built with Altair.

Each chart reads a named dataset (``{"name": ...}``); the page puts the rows under the spec's
``datasets`` after Altair has checked the spec against the Vega-Lite schema, so the check never
walks tens of thousands of rows.
"""

from __future__ import annotations

from typing import Any

import altair as alt

STATUS_COLORS = {"ok": "#2e7d32", "degraded": "#ef8f00", "failed": "#c62828", "aborted": "#6a1b9a",
                 "running": "#1565c0", "skipped": "#9e9e9e"}
MICRO_BAND = (1_000, 100_000)
WIDTH = 440


def _data(name: str) -> alt.NamedData:
    return alt.NamedData(name=name)


def tiers(order: list[str]) -> alt.Chart:
    """Accounts per tier (x, smallest tier first) and platform (side by side)."""
    return alt.Chart(_data("tiers"), title="Accounts per tier and platform").mark_bar().encode(
        x=alt.X("tier:N", sort=order, title="tier", axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("platform:N"),
        y=alt.Y("accounts:Q", title="accounts"),
        color=alt.Color("platform:N", title="platform"),
        tooltip=["tier:N", "platform:N", alt.Tooltip("accounts:Q", format=",")],
    ).properties(width=WIDTH, height=260)


def engagement(order: list[str]) -> alt.TopLevelMixin:
    """Box per tier from precomputed quartiles: whiskers at 1.5 IQR, the median as a white line."""
    base = alt.Chart(_data("boxes")).encode(
        x=alt.X("tier:N", sort=order, title="tier", axis=alt.Axis(labelAngle=0)))
    tooltip = [alt.Tooltip("tier:N"), alt.Tooltip("accounts:Q", format=","),
               alt.Tooltip("median:Q", format=".2%"), alt.Tooltip("q1:Q", format=".2%", title="25th pct"),
               alt.Tooltip("q3:Q", format=".2%", title="75th pct"),
               alt.Tooltip("low:Q", format=".2%", title="whisker low"),
               alt.Tooltip("high:Q", format=".2%", title="whisker high"),
               alt.Tooltip("outside:Q", format=",", title="beyond whiskers")]
    y = alt.Y("low:Q", title="engagement rate", axis=alt.Axis(format="%"))
    whiskers = base.mark_rule(color="#555").encode(y=y, y2="high:Q", tooltip=tooltip)
    boxes = base.mark_bar(size=36, color="#90caf9", stroke="#1565c0").encode(
        y="q1:Q", y2="q3:Q", tooltip=tooltip)
    medians = base.mark_tick(size=36, thickness=3, color="#0d47a1").encode(y="median:Q", tooltip=tooltip)
    return alt.layer(whiskers, boxes, medians).properties(
        width=WIDTH, height=260,
        title=alt.Title("Engagement rate per tier",
                        subtitle="box: 25th-75th percentile, line: median, whiskers: 1.5 IQR "
                                 "(points beyond them not drawn)"))


def scatter(shown: int, total: int) -> alt.TopLevelMixin:
    """Followers (log) against engagement (log), one point an account, coloured by niche; a
    click on the legend picks a niche. The micro band is shaded."""
    subtitle = (f"{shown:,} of {total:,} accounts drawn: a uniform random sample" if shown < total
                else f"all {total:,} accounts with followers and an engagement rate")
    pick = alt.selection_point(fields=["niche"], bind="legend")
    band = alt.Chart(alt.Data(values=[{"low": MICRO_BAND[0], "high": MICRO_BAND[1]}])).mark_rect(
        color="#fff3c4", opacity=0.6).encode(x="low:Q", x2="high:Q")
    points = alt.Chart(_data("scatter")).mark_circle(size=22).encode(
        x=alt.X("followers:Q", scale=alt.Scale(type="log"), title="followers (log scale; shaded: micro)"),
        y=alt.Y("engagement:Q", scale=alt.Scale(type="log"), title="engagement rate (log scale)",
                axis=alt.Axis(format="%")),
        color=alt.Color("niche:N", title="niche", scale=alt.Scale(scheme="category20")),
        opacity=alt.condition(pick, alt.value(0.75), alt.value(0.05)),
        tooltip=["handle:N", "platform:N", alt.Tooltip("followers:Q", format=","),
                 alt.Tooltip("engagement:Q", format=".2%", title="engagement rate"), "niche:N", "tier:N",
                 alt.Tooltip("quality:Q", format=".0f", title="audience quality")],
    ).add_params(pick).interactive()
    return alt.layer(band, points).properties(
        width=2 * WIDTH, height=400, title=alt.Title("Followers and engagement", subtitle=subtitle))


def hashtags() -> alt.Chart:
    return alt.Chart(_data("hashtags"), title="Hashtags that surfaced the most micro-influencers").mark_bar(
        color="#6a1b9a").encode(
        y=alt.Y("tag:N", sort="-x", title=None),
        x=alt.X("accounts:Q", title="distinct micro-influencers seen in the tag's listings"),
        tooltip=["tag:N", alt.Tooltip("accounts:Q", format=","),
                 alt.Tooltip("sightings:Q", format=",", title="posts seen")],
    ).properties(width=WIDTH)


def runs(start: str, end: str, days: int) -> alt.Chart:
    """Runs per day over the window from ``start`` to ``end`` (ISO times), stacked by status."""
    statuses = list(STATUS_COLORS)
    return alt.Chart(_data("runs"), title=f"Runs per day, last {days} days").mark_bar().encode(
        x=alt.X("utcyearmonthdate(started_at):T", title="day (UTC)",
                scale=alt.Scale(domain=[start, end])),
        y=alt.Y("count():Q", title="runs"),
        color=alt.Color("status:N", scale=alt.Scale(domain=statuses, range=list(STATUS_COLORS.values())),
                        title="status"),
        tooltip=[alt.Tooltip("utcyearmonthdate(started_at):T", title="day"), "status:N",
                 alt.Tooltip("count():Q", title="runs")],
    ).properties(width=WIDTH, height=200)


def quarantine() -> alt.Chart:
    return alt.Chart(_data("quarantine"), title="Quarantined input by reason").mark_bar().encode(
        y=alt.Y("reason:N", sort="-x", title=None),
        x=alt.X("sum(rows):Q", title="rows"),
        color=alt.Color("platform:N", title="platform"),
        tooltip=["reason:N", "platform:N", alt.Tooltip("rows:Q", format=",")],
    ).properties(width=WIDTH - 60)


def spec(chart: alt.TopLevelMixin, datasets: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The checked Vega-Lite spec of ``chart`` with its named datasets filled in."""
    out = chart.to_dict()  # validates against the Vega-Lite schema
    out.setdefault("datasets", {}).update(datasets)
    return out
