"""Every spider the project lists: loads, refuses bad arguments up front, names its platform."""

from __future__ import annotations

import subprocess
import sys

import pytest
from scrapy.spiderloader import SpiderLoader
from scrapy.utils.project import get_project_settings

from crawler.items import PLATFORMS
from tests.conftest import REPO

LOADER = SpiderLoader.from_settings(get_project_settings())
SPIDERS = LOADER.list()


def test_scrapy_list_names_every_spider():
    out = subprocess.run([sys.executable, "-m", "scrapy", "list"], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == sorted(SPIDERS)
    assert "mastodon" in out


@pytest.mark.parametrize("name", SPIDERS)
def test_spider_has_a_platform_and_validates_arguments(name):
    cls = LOADER.load(name)
    assert cls.platform in PLATFORMS
    with pytest.raises(ValueError, match="nothing to crawl"):
        cls()
    with pytest.raises(ValueError, match="min_followers"):
        cls(tags="food", min_followers="10", max_followers="5")
    spider = cls(tags="food")
    assert spider.run_args["tags"] == ["food"]
