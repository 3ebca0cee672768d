"""``microscout report``: one self-contained HTML file of charts and tables from the analytics views.

Charts are Vega-Lite specs built with Altair; the Vega/Vega-Lite/vega-embed bundle that
vl-convert ships is inlined, and so is every row the charts draw, so the file opens offline.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from importlib.resources import files
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from crawler.htmlreport import charts, data
from crawler.htmlreport.data import ReportFilters, Scope
from crawler.htmlreport.spark import sparkline
from crawler.report import FLAG_LABELS

__all__ = ["ReportFilters", "ReportStats", "write_report"]

#: tier -> the order of the axes when a tier has no accounts to tell its rank
TIER_ORDER = ("emerging", "nano", "micro", "mid", "macro", "mega", "unknown")


@dataclass(frozen=True)
class ReportStats:
    accounts: int
    bytes: int
    seconds: float
    points: int
    sampled: bool


def write_report(engine: Engine, output: Path, filters: ReportFilters, *, warehouse_label: str,
                 max_points: int = 5000, now: datetime | None = None) -> ReportStats:
    """Read the warehouse through ``engine`` and write the report to ``output``."""
    started = time.perf_counter()
    scope = Scope(filters, now or datetime.now(UTC))
    with engine.connect() as conn:
        context, points, total = _context(conn, scope, max_points)
    context.update(warehouse=warehouse_label, **_assets())
    page = _template().render(**context)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    try:
        partial.write_text(page, encoding="utf-8")
        partial.replace(output)  # never leaves half a report under the real name
    except OSError:
        partial.unlink(missing_ok=True)  # a full disk: nor half a report beside it
        raise
    return ReportStats(accounts=context["coverage"]["accounts"], bytes=output.stat().st_size,
                       seconds=time.perf_counter() - started, points=points, sampled=points < total)


def _context(conn, scope: Scope, max_points: int) -> tuple[dict[str, Any], int, int]:
    coverage = data.coverage(conn, scope)
    tiers = data.tiers_by_platform(conn, scope)
    order = _tier_order(tiers)
    boxes = data.engagement_boxes(conn, scope)
    points, total = data.scatter(conn, scope, max_points)
    runs = data.runs(conn, scope)
    specs = {
        "chart-tiers": charts.spec(charts.tiers(order), {"tiers": tiers}),
        "chart-engagement": charts.spec(charts.engagement(order), {"boxes": boxes}),
        "chart-scatter": charts.spec(charts.scatter(len(points), total), {"scatter": points}),
        "chart-hashtags": charts.spec(charts.hashtags(), {"hashtags": data.hashtags(conn, scope)}),
        "chart-runs": charts.spec(charts.runs(scope.runs_cutoff.isoformat(), scope.now.isoformat(),
                                              _days(scope)), {"runs": [
            {"started_at": run["started_at"].isoformat(), "status": run["status"]} for run in runs]}),
        "chart-quarantine": charts.spec(charts.quarantine(), {"quarantine": data.quarantine(conn, scope)}),
    }
    top = data.top_micro(conn, scope)
    title = " · ".join(part for part in (scope.filters.niche, scope.filters.platform) if part)
    history = data.histories(conn, [row["profile_id"] for row in top], scope.cutoff)
    context = {
        "coverage": coverage, "known": data.choices(conn) if not coverage["accounts"] else {},
        "top": [_top_row(row, history.get(row["profile_id"], [])) for row in top],
        "per_niche": data.TOP_PER_NICHE,
        "growers": [(days, [_grower(row) for row in data.growers(conn, scope, days)]) for days in (7, 30)],
        "runs": [_run_row(run) for run in runs[:data.RUN_ROWS]], "runs_total": len(runs),
        "runs_since": f"{scope.runs_cutoff:%Y-%m-%d %H:%M} UTC",
        "specs": _json(specs), "filters": _describe(scope.filters),
        "scope_title": title, "title_suffix": f": {title}" if title else "",
        "generated": f"{scope.now:%Y-%m-%d %H:%M:%S} UTC",
        "snapshots": _snapshots(coverage),
    }
    return context, len(points), total


def _tier_order(tiers: list[dict[str, Any]]) -> list[str]:
    """Tiers from the smallest accounts up (the seed and the industry scheme share the axis)."""
    smallest: dict[str, int] = {}
    for row in tiers:
        smallest[row["tier"]] = min(smallest.get(row["tier"], row["smallest"]), row["smallest"])
    known = sorted(smallest, key=lambda t: (TIER_ORDER.index(t) if t in TIER_ORDER else 99, smallest[t]))
    return known


def _top_row(row: dict[str, Any], history: list) -> dict[str, Any]:
    raw = row.get("quality_flags")
    flags = [str(flag) for flag in raw] if isinstance(raw, list) else []
    codes = [flag.split(":", 1)[0] for flag in flags]
    change = None
    if len(history) >= 2 and history[0][1]:
        change = (history[-1][1] - history[0][1]) / history[0][1]
    return {"niche": row["primary_niche"], "rank": row["rank"], "handle": row["handle"],
            "url": _safe_url(row.get("profile_url")), "platform": row["platform"],
            "followers": row["followers"], "engagement": row["engagement_rate"],
            "quality": row.get("audience_quality"),
            "flags": ", ".join(FLAG_LABELS.get(code, code) for code in codes),
            "flag_detail": "; ".join(flags), "spark": sparkline(history), "change": change}


def _grower(row: dict[str, Any]) -> dict[str, Any]:
    latest, baseline = row["latest_at"], row["baseline_at"]
    days_back = round((latest - baseline).total_seconds() / 86400) if latest and baseline else None
    return {**row, "days_back": days_back}


def _run_row(run: dict[str, Any]) -> dict[str, Any]:
    started, finished = run["started_at"], run["finished_at"]
    minutes = (finished - started).total_seconds() / 60 if started and finished else None
    return {**run, "started": f"{started:%Y-%m-%d %H:%M}" if started else "", "minutes": minutes}


def _safe_url(url: Any) -> str | None:
    """Only web links become hrefs (a crawled ``javascript:`` URL stays text)."""
    return url if isinstance(url, str) and url.lower().startswith(("https://", "http://")) else None


def _describe(filters: ReportFilters) -> str:
    parts = [f"niche {filters.niche}" if filters.niche else "every niche",
             f"platform {filters.platform}" if filters.platform else "every platform",
             f"accounts seen and runs started in the last {_span(filters.since)}" if filters.since
             else "every account; runs of the last 30 days"]
    return "; ".join(parts)


def _span(since: timedelta) -> str:
    if since.total_seconds() % 86400:
        return f"{since.total_seconds() / 3600:g} hours"
    return f"{since.days} days"


def _days(scope: Scope) -> int:
    return max(1, round((scope.now - scope.runs_cutoff).total_seconds() / 86400))


def _snapshots(coverage: dict[str, Any]) -> str:
    if not coverage["accounts"]:
        return "none in scope"
    oldest, newest = coverage["oldest"], coverage["newest"]
    return f"latest per account, taken {oldest:%Y-%m-%d %H:%M} to {newest:%Y-%m-%d %H:%M} UTC"


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def _json(value: Any) -> str:
    """JSON safe inside a <script> element: ``<`` escaped, so ``</script>`` in a bio cannot end it."""
    text = json.dumps(_finite(value), default=str, ensure_ascii=False, allow_nan=False,
                      separators=(",", ":"))
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


@cache
def _assets() -> dict[str, str]:
    """The page's CSS and JavaScript, and the Vega bundle (built once a process: about 1 s)."""
    import altair as alt
    import vl_convert

    here = files("crawler.htmlreport")
    major, minor = alt.VEGALITE_VERSION.split(".")[:2]
    bundle = vl_convert.javascript_bundle(vl_version=f"v{major}_{minor}")  # type: ignore[call-arg]
    return {"bundle": bundle.replace("</script", "<\\/script"),
            "css": here.joinpath("report.css").read_text(encoding="utf-8"),
            "js": here.joinpath("report.js").read_text(encoding="utf-8"),
            "vega_version": vl_convert.get_vega_version(), "vegalite_version": alt.VEGALITE_VERSION,
            "version": _version()}


def _version() -> str:
    try:
        return version("microscout")
    except PackageNotFoundError:
        return "(source)"


@cache
def _template():
    from jinja2 import Environment

    source = files("crawler.htmlreport").joinpath("report.html.j2").read_text(encoding="utf-8")
    return Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True).from_string(source)
