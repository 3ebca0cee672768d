"""End to end: sandbox -> mastodon spider -> every pipeline -> SQLite warehouse, through the engine.

A sweep with 5% 429s and 5% 5xx ends with the same accounts in the warehouse as a clean one;
re-running a sweep never duplicates rows but adds one snapshot per account.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from crawler.sandbox.server import SandboxProcess
from crawler.sandbox.world import World
from models import make_engine, migrate
from tests.crawl_helpers import run_spider

pytestmark = pytest.mark.slow

ACCOUNTS, SEED = 250, 11
FAST = {"MICROSCOUT_DB_RETRY_DELAY": 0, "RETRY_TIMES": 6, "LOG_LEVEL": "INFO",
        "MICROSCOUT_RATELIMIT_DEFAULT_WAIT": 0.05, "DOWNLOAD_DELAY": 0}


def _tags() -> str:
    tags = sorted(World(ACCOUNTS, SEED).tags().items(), key=lambda kv: -kv[1])
    return ",".join(tag for tag, _ in tags[:2])


def _sweep(base_url: str, url: str, tmp_path, **settings):
    return run_spider("mastodon", {**FAST, "MICROSCOUT_DATABASE_URL": url,
                                   "MICROSCOUT_SPOOL_DIR": str(tmp_path / "spool"), **settings},
                      use_project_settings=True, instance=base_url, tags=_tags(), max_pages=4,
                      recent_posts=12)


def _scalar(url: str, sql: str):
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).all()
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def clean_and_faulty(tmp_path_factory):
    """(clean warehouse URL, faulty warehouse URL, faulty crawl result), each swept once."""
    base = tmp_path_factory.mktemp("e2e")
    urls = []
    results = []
    for name, faults in (("clean", None), ("faulty", {"429": 0.05, "500": 0.03, "503": 0.02})):
        url = f"sqlite:///{base / (name + '.sqlite')}"
        migrate.upgrade(url)
        with SandboxProcess(accounts=ACCOUNTS, seed=SEED, faults=faults, rate_limit=1_000_000) as sb:
            results.append(_sweep(sb.base_url, url, base))
            served = sb.stats()
        urls.append(url)
        results[-1].served = served
    return urls[0], urls[1], results


def test_sweep_loads_profiles_tiers_niches_and_views(clean_and_faulty):
    url, _, (result, _) = clean_and_faulty
    profiles = _scalar(url, "SELECT count(*) FROM profiles")[0][0]
    assert profiles == result.stats["microscout/warehouse/profiles_upserted"] > 10
    assert _scalar(url, "SELECT count(*) FROM micro_influencers")[0][0] > 0
    assert _scalar(url, "SELECT count(*) FROM influencer_current WHERE tier IS NULL") == [(0,)]
    assert _scalar(url, "SELECT count(*) FROM influencer_current WHERE primary_niche IS NOT NULL")[0][0] > 0
    assert _scalar(url, "SELECT status FROM crawl_runs") == [("ok",)]
    assert _scalar(url, "SELECT count(*) FROM hashtag_sightings")[0][0] == result.stats[
        "microscout/warehouse/sightings_upserted"]


def test_faults_at_five_percent_end_with_the_same_accounts(clean_and_faulty):
    clean, faulty, (_, faulty_result) = clean_and_faulty
    assert sum(faulty_result.served["faults"].values()) > 0  # faults really were injected
    query = "SELECT platform, handle FROM profiles ORDER BY 1, 2"
    assert _scalar(faulty, query) == _scalar(clean, query)
    sightings = "SELECT post_id FROM hashtag_sightings ORDER BY 1"
    assert _scalar(faulty, sightings) == _scalar(clean, sightings)
    assert faulty_result.stats.get("retry/count", 0) > 0


def test_resweeping_adds_snapshots_not_rows(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    migrate.upgrade(url)
    counts = []
    query = ("SELECT (SELECT count(*) FROM profiles), (SELECT count(*) FROM profile_snapshots), "
             "(SELECT count(*) FROM posts), (SELECT count(*) FROM post_hashtags), "
             "(SELECT count(*) FROM crawl_runs)")
    world = World(120, 5)
    tag = max(world.tags(), key=lambda t: world.tags()[t])
    with SandboxProcess(accounts=120, seed=5, rate_limit=1_000_000) as sb:
        for _ in range(2):
            run_spider("mastodon", {**FAST, "MICROSCOUT_DATABASE_URL": url}, use_project_settings=True,
                       instance=sb.base_url, tags=tag, max_pages=2, recent_posts=5)
            counts.append(_scalar(url, query)[0])
    (profiles, snapshots, posts, links, runs), second = counts
    assert profiles > 0
    assert posts > 0
    assert runs == 1
    assert second == (profiles, 2 * snapshots, posts, links, 2)
