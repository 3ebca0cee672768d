"""The platform registry: every platform microscout crawls, declared once.

Everything that differs by platform and is not a parser's or a spider's own business is read
from here: the item contract's platform names (``crawler/items.py``), the parser a saved body is
read with (``microscout parse``), the spider a sweep runs and the name its base-URL argument had
before ``base_url`` (``microscout sweep``, ``refresh``, ``demo``), the default pause between
requests (``MICROSCOUT_RATE_LIMIT_<NAME>`` in ``crawler/settings.py``), the sandbox app that
imitates it, and how its handles are spelled (``crawler/values.py``). Adding a platform starts
here (``docs/adding-a-platform.md``).

Imports stay lazy (dotted paths): importing the registry costs nothing, so the CLI can list
platforms without loading Scrapy.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any


@dataclass(frozen=True)
class Platform:
    name: str
    #: The spider that crawls it (``scrapy crawl <spider>``) and the spider class's path.
    spider: str
    spider_class: str
    #: The parser module (pure functions: body in, items out).
    parser: str
    #: Seconds between two requests to one host by default (MICROSCOUT_RATE_LIMIT_<NAME>).
    rate_limit: float
    #: Where the platform is when no ``base_url`` is given.
    default_base_url: str
    #: Older names of the spider's ``base_url`` argument, still accepted (the first is the
    #: name ``crawl_runs.arguments`` keeps).
    base_url_aliases: tuple[str, ...] = ()
    #: The sandbox app that imitates it ("module:Class"), None when another platform's does.
    sandbox_app: str | None = None
    #: Handles are ``user@instance`` (a federated network).
    federated: bool = False
    #: Handles ignore case.
    case_insensitive: bool = True
    #: Part of the offline demo.
    in_demo: bool = True
    #: Its sources (``-a source=`` / ``--source``) -> the spider that reads each; the first is
    #: the default. A source read by a second spider is dispatched to it by ``scrapy crawl``
    #: and ``microscout sweep`` alike (``spider_for``).
    sources: tuple[tuple[str, str], ...] = ()

    def load_parser(self) -> ModuleType:
        return importlib.import_module(self.parser)

    def load_spider(self) -> Any:
        module, _, name = self.spider_class.rpartition(".")
        return getattr(importlib.import_module(module), name)

    @property
    def setting(self) -> str:
        """The name of its rate-limit setting."""
        return f"MICROSCOUT_RATE_LIMIT_{self.name.upper()}"


REGISTRY: dict[str, Platform] = {p.name: p for p in (
    Platform("mastodon", "mastodon", "crawler.spiders.mastodon.MastodonSpider",
             "crawler.parsers.mastodon", 0.0, "https://mastodon.social", ("instance",),
             sandbox_app="crawler.sandbox.mastodon:MastodonApp", federated=True),
    Platform("instagram", "instagram", "crawler.spiders.instagram.InstagramSpider",
             "crawler.parsers.instagram", 3.0, "https://www.instagram.com",
             sandbox_app="crawler.sandbox.instagram:InstagramApp",
             sources=(("web", "instagram"), ("graph", "instagram_graph"))),
    Platform("tiktok", "tiktok", "crawler.spiders.tiktok.TikTokSpider", "crawler.parsers.tiktok",
             2.0, "https://www.tiktok.com", sandbox_app="crawler.sandbox.tiktok:TikTokApp",
             sources=(("web", "tiktok"), ("research", "tiktok_research"))),
    Platform("youtube", "youtube", "crawler.spiders.youtube.YouTubeSpider",
             "crawler.parsers.youtube", 1.0, "https://www.youtube.com",
             sandbox_app="crawler.sandbox.youtube:YouTubeApp",
             sources=(("auto", "youtube"), ("web", "youtube"), ("api", "youtube"))),
    Platform("bluesky", "bluesky", "crawler.spiders.bluesky.BlueskySpider",
             "crawler.parsers.bluesky", 0.0, "https://public.api.bsky.app", ("appview",),
             sandbox_app="crawler.sandbox.bluesky:BlueskyApp"),
    # Pixelfed serves the Mastodon API: the Mastodon spider, parser and sandbox read it.
    Platform("pixelfed", "mastodon", "crawler.spiders.mastodon.MastodonSpider",
             "crawler.parsers.mastodon", 0.0, "https://pixelfed.social", ("instance",),
             federated=True, in_demo=False),
)}

#: Platform names as the item contract spells them.
NAMES: tuple[str, ...] = tuple(REGISTRY)
FEDERATED: tuple[str, ...] = tuple(p.name for p in REGISTRY.values() if p.federated)
SANDBOXED: tuple[str, ...] = tuple(p.name for p in REGISTRY.values() if p.sandbox_app)
DEMO: tuple[str, ...] = tuple(p.name for p in REGISTRY.values() if p.in_demo)


def get(name: str) -> Platform:
    """The platform called ``name``; ValueError naming the choices otherwise."""
    try:
        return REGISTRY[name.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown platform {name!r}; choose one of {', '.join(NAMES)}") from None


def spider_for(platform: str, source: str | None) -> str:
    """The spider that reads ``platform`` from ``source`` (None: the platform's own spider);
    ValueError naming the sources otherwise."""
    entry = get(platform)
    if not source:
        return entry.spider
    sources = dict(entry.sources) or {"web": entry.spider}
    try:
        return sources[source.strip().lower()]
    except KeyError:
        raise ValueError(f"{entry.name} has no source {source!r}; choose one of "
                         f"{', '.join(sources)}") from None


def spider_platform(spider: str) -> Platform:
    """The platform a spider is named after (its own rate limit, its sandbox)."""
    return next(p for p in REGISTRY.values()
                if p.name == spider or spider in dict(p.sources).values())
