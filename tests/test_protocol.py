"""The shared spider protocol, the platform registry and the one configuration path.

* Every spider of the registry builds its requests with the one factory and the one errback, and
  its requests - robots.txt included - get ``MICROSCOUT_PROXY`` from CredentialsMiddleware.
* Every ``MICROSCOUT_*`` setting comes from the environment under its own name, and a per-run
  override (``--set``/``-s``) wins over it; the three that feed Scrapy's own settings take effect.
* The import graph of crawler/, pipelines/ and models/ has no cycle, the parsers and spiders do
  not reach into pipelines/ or models/, and no module imports another's private name.
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.utils.test import get_crawler

from crawler import platforms
from crawler.commands.common import project_settings
from crawler.credentials import CredentialsMiddleware
from crawler.middlewares import RateLimitMiddleware
from crawler.spiders.base import BaseSpider
from tests.conftest import REPO

PROXY = "http://proxy.example:3128"
NO_REACTOR = {"TWISTED_REACTOR_ENABLED": False}  # settings only: no crawl runs here
SPIDERS = sorted({p.spider_class for p in platforms.REGISTRY.values()})


def crawler_for(spider_cls: type, overrides: dict | None = None) -> Crawler:
    """A crawler on the project's settings plus per-run overrides, settings applied (add-ons run)."""
    crawler = Crawler(spider_cls, project_settings({**(overrides or {}), **NO_REACTOR}))
    crawler._apply_settings()
    return crawler


def load(path: str) -> type[BaseSpider]:
    module, _, name = path.rpartition(".")
    return getattr(__import__(module, fromlist=[name]), name)


def first_requests(spider: BaseSpider) -> list[Request]:
    async def collect():
        return [r async for r in spider.start() if isinstance(r, Request)]

    return asyncio.run(collect())


# --- the protocol on every platform -------------------------------------------------------------


@pytest.mark.parametrize("path", SPIDERS)
def test_proxy_reaches_every_platform_request_and_the_robots_fetch(path):
    cls = load(path)
    crawler = get_crawler(cls, {"MICROSCOUT_PROXY": PROXY})
    spider = cls.from_crawler(crawler, tags="vegan", handles=_a_handle(cls))
    crawler.spider = spider
    middleware = CredentialsMiddleware.from_crawler(crawler)
    requests = first_requests(spider)
    assert requests, "the spider asked for nothing"
    host = requests[0].url.split("/", 3)[:3]
    robots = Request("/".join(host) + "/robots.txt")  # as crawler/robots.py fetches it
    for request in [*requests, robots]:
        middleware.process_request(request)
        assert request.meta["proxy"] == PROXY, request.url
    for request in requests:
        assert request.errback == spider.on_error  # the one errback
        assert request.meta["microscout_kind"]  # built by the one request factory


def _a_handle(cls: type) -> str:
    return {"mastodon": "alice@mastodon.social", "bluesky": "alice.bsky.social",
            "youtube": "@alice"}.get(cls.platform, "alice")


@pytest.mark.parametrize("path", SPIDERS)
def test_protocol_middlewares_are_on_with_any_settings(path):
    crawler = get_crawler(load(path), {})  # Scrapy's defaults, not the project's
    crawler._apply_settings()
    assert "crawler.spidermiddlewares.QuarantineMiddleware" in crawler.settings.getdict("SPIDER_MIDDLEWARES")
    assert "crawler.credentials.CredentialsMiddleware" in crawler.settings.getdict("DOWNLOADER_MIDDLEWARES")


def test_no_spider_keeps_its_own_copy_of_the_protocol():
    copies = re.compile(r"_NO_JSON|_NO_DATA|_RETRYING|_GAVE_UP|def on_error|def _now\(|meta\[\"proxy\"\]")
    for path in (REPO / "crawler" / "spiders").glob("*.py"):
        if path.name == "base.py":
            continue
        found = copies.findall(path.read_text(encoding="utf-8"))
        assert not found, f"{path.name}: {found}"


@pytest.mark.parametrize("name", platforms.NAMES)
def test_the_registry_names_a_spider_parser_and_sandbox(name):
    platform = platforms.REGISTRY[name]
    spider = platform.load_spider()
    assert spider.name == platform.spider
    assert platform.load_parser().__name__ == platform.parser
    assert spider.default_base_url == platforms.REGISTRY[spider.platform].default_base_url
    if platform.sandbox_app:
        module, _, app = platform.sandbox_app.partition(":")
        assert hasattr(__import__(module, fromlist=[app]), app)


# --- one configuration path -----------------------------------------------------------------------


def test_set_rate_limit_takes_effect():
    spider_cls = load("crawler.spiders.instagram.InstagramSpider")
    crawler = crawler_for(spider_cls, {"MICROSCOUT_RATE_LIMIT_INSTAGRAM": "5"})
    crawler.spider = spider_cls(tags="vegan")
    assert RateLimitMiddleware.from_crawler(crawler).interval() == 5.0
    default = crawler_for(spider_cls)
    default.spider = spider_cls(tags="vegan")
    assert RateLimitMiddleware.from_crawler(default).interval() == 3.0


@pytest.mark.parametrize(("value", "obeyed"), [("false", False), ("0", False), ("true", True)])
def test_set_robotstxt_obey_takes_effect(value, obeyed):
    crawler = crawler_for(load("crawler.spiders.mastodon.MastodonSpider"),
                          {"MICROSCOUT_ROBOTSTXT_OBEY": value})
    assert crawler.settings.getbool("ROBOTSTXT_OBEY") is obeyed


def test_set_user_agent_takes_effect_and_scrapys_own_name_still_wins():
    cls = load("crawler.spiders.mastodon.MastodonSpider")
    assert crawler_for(cls, {"MICROSCOUT_USER_AGENT": "ua/1"}).settings.get("USER_AGENT") == "ua/1"
    both = crawler_for(cls, {"MICROSCOUT_USER_AGENT": "ua/1"})
    assert both.settings.get("USER_AGENT") == "ua/1"
    settings = project_settings(NO_REACTOR)
    settings.set("USER_AGENT", "scrapy-cmdline", priority="cmdline")
    crawler = Crawler(cls, settings)
    crawler._apply_settings()
    assert crawler.settings.get("USER_AGENT") == "scrapy-cmdline"


def _microscout_settings() -> list[str]:
    import crawler.settings as module

    return sorted(name for name in vars(module) if name.startswith("MICROSCOUT_"))


def test_every_microscout_setting_comes_from_the_environment_and_yields_to_set():
    names = _microscout_settings()
    assert "MICROSCOUT_RATE_LIMIT_INSTAGRAM" in names
    assert "MICROSCOUT_ROBOTSTXT_OBEY" in names
    env = {name: f"env-{i}" for i, name in enumerate(names) if name != "MICROSCOUT_DATA_DIR"}
    script = (
        "import json, sys\n"
        "from crawler.commands.common import project_settings\n"
        "names = json.loads(sys.argv[1])\n"
        "plain = project_settings()\n"
        "per_run = project_settings({n: 'set-' + n for n in names})\n"
        "print(json.dumps({n: [plain.get(n), per_run.get(n)] for n in names}))\n"
    )
    out = subprocess.run([sys.executable, "-c", script, json.dumps(sorted(env))], cwd=REPO,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), **env},
                         capture_output=True, text=True, check=True).stdout
    values = json.loads(out)
    for name, (from_env, from_set) in values.items():
        assert from_env == env[name], name
        assert from_set == f"set-{name}", name


# --- the import graph -------------------------------------------------------------------------------

LAYERS = ("crawler", "pipelines", "models")


def _modules() -> dict[str, Path]:
    found = {}
    for layer in LAYERS:
        for path in (REPO / layer).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(REPO).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> list[tuple[str, str, bool]]:
    """(imported module, name, at module level) for every import of a project module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, "", id(node) in top) for a in node.names if a.name in modules]
        elif isinstance(node, ast.ImportFrom) and node.module in modules and not node.level:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                out.append((sub if sub in modules else node.module, alias.name, id(node) in top))
    return out


def test_no_import_cycle_and_no_private_imports():
    modules = _modules()
    graph = {name: {target for target, _, _ in _imports(path, modules)} for name, path in modules.items()}
    private = [(name, target, imported) for name, path in modules.items()
               for target, imported, _ in _imports(path, modules)
               if imported.startswith("_") and target != name]
    assert not private
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    assert cycles == []


def test_parsers_spiders_and_items_do_not_import_pipelines_or_models_at_load():
    modules = _modules()
    lower = [n for n in modules if n.startswith(("crawler.parsers", "crawler.spiders", "crawler.items",
                                                 "crawler.values", "crawler.errors", "crawler.platforms"))]
    for name in lower:
        reached = [t for t, _, top in _imports(modules[name], modules)
                   if top and t.startswith(("pipelines", "models"))]
        assert not reached, f"{name} imports {reached}"


def test_help_does_not_import_the_heavy_libraries():
    script = ("import sys\nfrom crawler.cli import build_parser\nbuild_parser()\n"
              "print(sorted(m for m in ('sqlalchemy', 'alembic', 'numpy', 'sklearn', 'scrapy') "
              "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
