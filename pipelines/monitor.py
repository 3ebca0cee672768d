"""End-of-run checks over the crawl's stats: they set crawl_runs.status to ok, degraded or failed.

A failed check marked ``critical`` fails the run (``microscout`` commands and ``scrapy crawl``
then exit non-zero); any other failed check degrades it. Thresholds are settings:

- ``MICROSCOUT_MONITOR_MIN_PROFILES`` (1, critical): profiles that reached the warehouse
  (loaded, or spooled for loading later);
- ``MICROSCOUT_MONITOR_MAX_ERROR_RATIO`` (0.2): failed requests / requests answered or failed;
  every request failing is critical;
- ``MICROSCOUT_MONITOR_MAX_QUARANTINE_RATIO`` (0.1): quarantined / (profiles + quarantined);
- ``MICROSCOUT_MONITOR_MIN_FOLLOWER_COVERAGE`` (0.95): profiles with followers / profiles seen;
- nothing spooled (the warehouse was reachable throughout).

Spidermon was considered: its monitors are unittest suites reporting through actions, while these
checks must land in the same crawl_runs row the warehouse pipeline writes, and set the exit code;
a few ratios over Scrapy's stats are simpler here than a suite, its settings and its dependencies.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Check:
    name: str
    value: float
    threshold: float
    passed: bool
    critical: bool = False


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


def run_checks(stats: dict, settings) -> list[Check]:
    profiles = stats.get("microscout/warehouse/received/profile", 0)
    quarantined = stats.get("microscout/quarantined/total", 0)
    missing_followers = stats.get("microscout/quarantined/missing_followers", 0) + stats.get(
        "microscout/quarantined/unreadable_count", 0)
    responses = stats.get("response_received_count", 0)
    failures = stats.get("downloader/exception_count", 0) + stats.get(
        "retry/max_reached", 0)
    min_profiles = settings.getint("MICROSCOUT_MONITOR_MIN_PROFILES", 1)
    max_errors = settings.getfloat("MICROSCOUT_MONITOR_MAX_ERROR_RATIO", 0.2)
    max_quarantine = settings.getfloat("MICROSCOUT_MONITOR_MAX_QUARANTINE_RATIO", 0.1)
    min_coverage = settings.getfloat("MICROSCOUT_MONITOR_MIN_FOLLOWER_COVERAGE", 0.95)
    error_ratio = _ratio(failures, responses + failures)
    coverage = 1.0 - _ratio(missing_followers, profiles + missing_followers)
    spooled = stats.get("microscout/warehouse/spooled_items", 0)
    return [
        Check("profiles_loaded", profiles, min_profiles, profiles >= min_profiles, critical=True),
        Check("pages_answered", responses, 1, responses > 0 or failures == 0, critical=True),
        Check("error_ratio", round(error_ratio, 4), max_errors, error_ratio <= max_errors),
        Check("quarantine_ratio", round(_ratio(quarantined, profiles + quarantined), 4), max_quarantine,
              _ratio(quarantined, profiles + quarantined) <= max_quarantine),
        Check("follower_coverage", round(coverage, 4), min_coverage, coverage >= min_coverage),
        Check("nothing_spooled", spooled, 0, spooled == 0),
    ]


def status_of(checks: list[Check]) -> str:
    if any(not c.passed and c.critical for c in checks):
        return "failed"
    if any(not c.passed for c in checks):
        return "degraded"
    return "ok"


def as_json(checks: list[Check]) -> dict:
    return {c.name: asdict(c) for c in checks}
