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

PARSER_MODULES = {
    "mastodon": "crawler.parsers.mastodon",
    "pixelfed": "crawler.parsers.mastodon",  # Pixelfed serves the Mastodon API
    "instagram": "crawler.parsers.instagram",
    "tiktok": "crawler.parsers.tiktok",
    "youtube": "crawler.parsers.youtube",
    "bluesky": "crawler.parsers.bluesky",
}


class UnrecognisedDocument(ValueError):
    """The body is not a format this parser knows (or not the platform's at all)."""


class BlockedPage(ValueError):
    """The body is a login wall, captcha or checkpoint, not data; ``reason`` names which."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def parser_for(platform: str) -> ModuleType:
    try:
        name = PARSER_MODULES[platform]
    except KeyError:
        raise ValueError(
            f"unknown platform {platform!r}; choose one of {', '.join(sorted(PARSER_MODULES))}"
        ) from None
    return importlib.import_module(name)
