"""One sweep over four platforms loads them all into one warehouse, the platform on every row."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import ExitStack

import pytest
from sqlalchemy import text

from crawler.sandbox.server import SandboxProcess
from models import make_engine
from tests.conftest import REPO

pytestmark = pytest.mark.slow
PLATFORMS = ("instagram", "tiktok", "youtube", "mastodon")


def test_one_sweep_loads_four_platforms_into_one_warehouse(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    with ExitStack() as stack:
        sandboxes = {p: stack.enter_context(SandboxProcess(accounts=120, seed=9, platform=p,
                                                           rate_limit=1_000_000)) for p in PLATFORMS}
        done = subprocess.run(
            [sys.executable, "-m", "crawler.cli", "sweep", "--platform", ",".join(PLATFORMS),
             "--base-url", ",".join(f"{p}={s.base_url}" for p, s in sandboxes.items()),
             "--tags", "fitness", "--max-pages", "1", "--delay", "0", "--database-url", url,
             "--quiet", "--json"],
            cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
            timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    summaries = [json.loads(line) for line in done.stdout.splitlines()]
    assert sorted(s["spider"] for s in summaries) == sorted(PLATFORMS)
    engine = make_engine(url)
    with engine.connect() as conn:
        loaded = dict(conn.execute(text("SELECT platform, count(*) FROM profiles GROUP BY platform")).all())
        runs = conn.execute(text("SELECT count(*) FROM crawl_runs")).scalar()
        unlabelled = conn.execute(text(
            "SELECT (SELECT count(*) FROM profiles WHERE platform IS NULL) + "
            "(SELECT count(*) FROM posts WHERE platform IS NULL) + "
            "(SELECT count(*) FROM hashtag_sightings WHERE platform IS NULL)")).scalar()
    engine.dispose()
    assert set(loaded) == set(PLATFORMS)
    assert all(count > 0 for count in loaded.values())
    assert runs == 4
    assert unlabelled == 0


def test_several_platforms_need_platform_url_pairs(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "sweep", "--platform", "instagram,tiktok", "--base-url",
         "http://127.0.0.1:9", "--tags", "fitness", "--database-url", f"sqlite:///{tmp_path / 'w.sqlite'}"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
        timeout=120, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "microscout: error: --base-url with several platforms takes platform=URL pairs"]
