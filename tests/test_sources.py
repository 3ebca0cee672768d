"""A platform's sources (web pages, official APIs): the registry, --source, -a source=."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from scrapy.spiderloader import SpiderLoader

from crawler import platforms
from crawler.cli import main
from crawler.commands.common import project_settings
from tests.conftest import REPO

LOADER = SpiderLoader.from_settings(project_settings())
SOURCES = [(p.name, source, spider) for p in platforms.REGISTRY.values() for source, spider in p.sources]


@pytest.mark.parametrize(("platform", "source", "spider"), SOURCES,
                         ids=[f"{p}-{s}" for p, s, _ in SOURCES])
def test_every_source_names_a_spider_of_its_platform(platform, source, spider):
    cls = LOADER.load(spider)
    assert cls.platform == platform
    assert platforms.spider_for(platform, source) == spider
    assert platforms.spider_platform(spider).name == platform
    if spider != platforms.REGISTRY[platform].spider:  # a second spider takes its own source
        assert cls(tags="vegan", source=source).params.source == source


def test_an_unknown_source_is_one_line(capsys, tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    assert main(["sweep", "--platform", "instagram", "--source", "api", "--tags", "vegan",
                 "--database-url", url, "--quiet"]) == 2
    assert capsys.readouterr().err.strip() == (
        "microscout: error: instagram has no source 'api'; choose one of web, graph")
    assert main(["sweep", "--platform", "instagram,tiktok", "--source", "graph", "--tags", "vegan",
                 "--database-url", url, "--quiet"]) == 2
    assert "platform=source pairs" in capsys.readouterr().err


def test_a_source_without_its_credentials_is_one_line_and_nothing_runs(capsys, tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    code = main(["sweep", "--platform", "instagram", "--source", "graph", "--tags", "vegan",
                 "--database-url", url, "--quiet", "--set", "MICROSCOUT_INSTAGRAM_GRAPH_TOKEN="])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("microscout: error: instagram_graph: source=graph needs "
                          "MICROSCOUT_INSTAGRAM_GRAPH_TOKEN")
    assert "Traceback" not in err


def test_scrapy_crawl_dispatches_a_source_to_its_spider(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MICROSCOUT_")}
    env["MICROSCOUT_DATABASE_URL"] = f"sqlite:///{tmp_path / 'w.sqlite'}"
    done = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "instagram", "-a", "source=graph", "-a", "tags=vegan"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode != 0
    assert "source=graph needs MICROSCOUT_INSTAGRAM_GRAPH_TOKEN" in done.stderr  # instagram_graph's
    refused = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "instagram", "-a", "source=nope", "-a", "tags=vegan"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert refused.returncode == 2
    assert "instagram has no source 'nope'; choose one of web, graph" in refused.stderr


def test_a_spiders_own_arguments_pass_with_dash_a(capsys, tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    base = ["sweep", "--platform", "tiktok", "--source", "research", "--tags", "vegan",
            "--database-url", url, "--quiet"]
    assert main([*base, "-a", "bogus=1"]) == 2
    assert "unknown argument(s) bogus; accepted: " in capsys.readouterr().err
    assert main([*base, "-a", "days"]) == 2
    assert capsys.readouterr().err.strip() == "microscout: error: -a/--arg takes NAME=VALUE, got 'days'"
    assert main([*base, "-a", "days=soon"]) == 2  # the spider's own check, before anything runs
    assert "days" in capsys.readouterr().err
