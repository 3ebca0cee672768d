"""Scheduling round trip against a real Scrapyd on 127.0.0.1: deploy, schedule.json, rows loaded.

The egg is built by ``scrapyd-deploy --build-egg`` (setup.py bdist_egg, the way scrapyd-deploy
always packs a project) and uploaded through Scrapyd's own ``addversion.json``, as scrapyd-deploy
does; the test only avoids writing a deploy target into scrapy.cfg for its random port.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from crawler.sandbox.server import SandboxProcess
from crawler.sandbox.world import World
from models import make_engine, migrate
from tests.conftest import REPO

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _call(base: str, endpoint: str, data: dict | None = None, files: bytes | None = None) -> dict:
    if files is not None:
        boundary = uuid.uuid4().hex
        parts = []
        for name, value in (data or {}).items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
                         .encode())
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="egg"; filename="project.egg"'
                     f"\r\nContent-Type: application/octet-stream\r\n\r\n".encode() + files + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        request = urllib.request.Request(f"{base}/{endpoint}", data=body, headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}"})
    elif data is not None:
        request = urllib.request.Request(f"{base}/{endpoint}", data=urllib.parse.urlencode(data, doseq=True)
                                         .encode())
    else:
        request = urllib.request.Request(f"{base}/{endpoint}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture
def scrapyd(tmp_path):
    port = _free_port()
    (tmp_path / "scrapyd.conf").write_text(
        f"[scrapyd]\nbind_address = 127.0.0.1\nhttp_port = {port}\npoll_interval = 0.5\n"
        f"eggs_dir = {tmp_path / 'eggs'}\nlogs_dir = {tmp_path / 'logs'}\ndbs_dir = {tmp_path / 'dbs'}\n",
        encoding="utf-8")
    proc = subprocess.Popen([str(BIN / "scrapyd")], cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if _call(base, "daemonstatus.json")["status"] == "ok":
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("Scrapyd did not start")
        yield base, tmp_path
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_deploy_schedule_and_find_the_rows(scrapyd, tmp_path):
    base, workdir = scrapyd
    egg = tmp_path / "microscout.egg"
    subprocess.run([str(BIN / "scrapyd-deploy"), "--build-egg", str(egg)], cwd=REPO, check=True,
                   capture_output=True, timeout=120)
    added = _call(base, "addversion.json", {"project": "microscout", "version": "1"}, egg.read_bytes())
    assert added["status"] == "ok", added
    assert "mastodon" in _call(base, "listspiders.json?project=microscout")["spiders"]

    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    migrate.upgrade(url)
    tags = World(120, 8).tags()
    with SandboxProcess(accounts=120, seed=8, rate_limit=1_000_000) as sandbox:
        job = _call(base, "schedule.json", {
            "project": "microscout", "spider": "mastodon", "instance": sandbox.base_url,
            "tags": max(tags, key=lambda t: (tags[t], t)), "max_pages": "2", "recent_posts": "5",
            "job": "nightly-sweep",
            "setting": [f"MICROSCOUT_DATABASE_URL={url}", "LOG_LEVEL=INFO"],
        })
        assert job["status"] == "ok", job
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            jobs = _call(base, "listjobs.json?project=microscout")
            if any(j["id"] == job["jobid"] for j in jobs["finished"]):
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"job did not finish: {jobs}")

    engine = make_engine(url)
    with engine.connect() as conn:
        (spider, status, job_name), = conn.execute(text("SELECT spider, status, job FROM crawl_runs")).all()
        profiles = conn.execute(text("SELECT count(*) FROM profiles")).scalar()
    engine.dispose()
    log = next((workdir / "logs").rglob("*.log")).read_text(encoding="utf-8", errors="replace")
    assert (spider, status, job_name) == ("mastodon", "ok", "nightly-sweep"), log[-3000:]
    assert profiles > 0
