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
import re
from collections.abc import Iterable
from types import ModuleType
from typing import Any

from crawler.errors import BlockedPage, UnrecognisedDocument
from crawler.platforms import REGISTRY

__all__ = ["MAX_JSON_DEPTH", "PARSER_MODULES", "BlockedPage", "UnrecognisedDocument",
           "check_depth", "country_code", "declared_language", "email_field", "loads_json",
           "parser_for", "profile_links"]

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


# --- raw signal fields shared by the platform parsers ------------------------------------------

_LANGUAGE = re.compile(r"[a-z]{2,3}")
#: Codes that name no language ("undetermined", "no linguistic content", "multiple", ...).
_NO_LANGUAGE = frozenset({"und", "zxx", "mul", "mis"})
#: Withdrawn ISO 639-1 codes that some platforms still send, and their current ones.
_OLD_LANGUAGE = {"iw": "he", "in": "id", "ji": "yi", "jw": "jv", "mo": "ro"}
_COUNTRY = re.compile(r"[A-Z]{2}")


def declared_language(value: Any) -> str | None:
    """The primary subtag of a language tag a platform declares, in lower case.

    ``"en"`` -> ``"en"``, ``"pt-BR"`` / ``"zh_Hant"`` -> ``"pt"`` / ``"zh"``, withdrawn codes
    (``"iw"``) -> current ones (``"he"``); None for null, empty or non-text values, for
    ``und``/``zxx``/``mul``/``mis`` and for anything that is not a language subtag. A
    three-letter subtag with no ISO 639-1 code (``"fil"``) is kept as it is.
    """
    if not isinstance(value, str):
        return None
    primary = re.split(r"[-_]", value.strip(), maxsplit=1)[0].lower()
    if not _LANGUAGE.fullmatch(primary) or primary in _NO_LANGUAGE:
        return None
    return _OLD_LANGUAGE.get(primary, primary)


def country_code(value: Any) -> str | None:
    """An ISO 3166-1 alpha-2 code as the format states it (``"us"`` -> ``"US"``); None for
    anything else (null, empty, a country name)."""
    if not isinstance(value, str):
        return None
    code = value.strip().upper()
    return code if _COUNTRY.fullmatch(code) else None


def email_field(value: Any) -> str | None:
    """An email address from a format's own contact field; None for null, "" and text that
    is not an address."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    return text if "@" in text.strip("@") and not any(c.isspace() for c in text) else None


def profile_links(urls: Iterable[Any], *, external_url: str | None) -> list[str]:
    """The http(s) URLs of ``urls`` in order, each once, without ``external_url`` (a trailing
    slash does not make a different link)."""
    def key(url: str) -> str:
        return url.rstrip("/")

    seen = {key(external_url)} if external_url else set()
    links = []
    for url in urls:
        if not isinstance(url, str):
            continue
        text = url.strip()
        if not text.lower().startswith(("http://", "https://")) or key(text) in seen:
            continue
        seen.add(key(text))
        links.append(text)
    return links
