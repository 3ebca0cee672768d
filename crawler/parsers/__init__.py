"""Pure parsers: a platform's page or JSON body in, items out. No Scrapy, no network.

Every platform module exposes::

    parse_document(body: str | bytes | dict | list, *, url: str | None = None,
                   fetched_at: datetime | None = None,
                   headers: Mapping[str, str] | None = None) -> list[Item]

which detects what the body holds (a profile page, a post list, a hashtag listing, ...) and
returns ProfileItem / PostItem / HashtagSightingItem / RejectedItem objects with raw values
(counts may still be text such as "46.3m"; the normalise pipeline reads them). A body it does
not recognise raises :class:`UnrecognisedDocument`. ``microscout parse`` and the spiders both
call these functions, so every real page format is testable without the engine.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from crawler.errors import BlockedPage, UnrecognisedDocument
from crawler.platforms import REGISTRY

__all__ = ["PARSER_MODULES", "BlockedPage", "UnrecognisedDocument", "parser_for"]

#: platform -> parser module (from the platform registry)
PARSER_MODULES = {name: platform.parser for name, platform in REGISTRY.items()}


def parser_for(platform: str) -> ModuleType:
    try:
        name = PARSER_MODULES[platform]
    except KeyError:
        raise ValueError(
            f"unknown platform {platform!r}; choose one of {', '.join(sorted(PARSER_MODULES))}"
        ) from None
    return importlib.import_module(name)
