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

Parsers decode JSON with :func:`loads_json` (or check what they decoded otherwise with
:func:`check_depth`): JSON nested deeper than :data:`MAX_JSON_DEPTH` levels is bad JSON like
any other, so no later step runs out of stack on it.
"""

from __future__ import annotations

import importlib
import json
from types import ModuleType
from typing import Any

from crawler.errors import BlockedPage, UnrecognisedDocument
from crawler.platforms import REGISTRY

__all__ = ["MAX_JSON_DEPTH", "PARSER_MODULES", "BlockedPage", "UnrecognisedDocument",
           "check_depth", "loads_json", "parser_for"]

#: Real bodies nest under 30 levels (the deepest capture: 22); Python's own recursion limit
#: stops ``json.loads`` near 1,000.
MAX_JSON_DEPTH = 200

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


def check_depth(data: Any) -> Any:
    """``data`` when it nests at most :data:`MAX_JSON_DEPTH` levels; ValueError otherwise."""
    stack = [(data, 1)]
    while stack:
        node, level = stack.pop()
        if level > MAX_JSON_DEPTH:
            raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(node, dict):
            stack.extend((v, level + 1) for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend((v, level + 1) for v in node if isinstance(v, (dict, list)))
    return data


def loads_json(text: str | bytes) -> Any:
    """``json.loads`` for a body; ValueError (as for any bad JSON) when it nests too deep."""
    try:
        return check_depth(json.loads(text))
    except RecursionError:
        raise ValueError("JSON nested past the recursion limit") from None
