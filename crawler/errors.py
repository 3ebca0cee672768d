"""The typed errors of the crawl protocol: what a body turned out to be when it is not data.

Parsers raise :class:`UnrecognisedDocument` and :class:`BlockedPage`; spiders' ``decode`` steps
raise those and :class:`RetryableBody`. None of them is caught in a callback: the spider
middleware (:class:`crawler.spidermiddlewares.QuarantineMiddleware`) retries the request or turns
the error into a ``RejectedItem`` with the error's ``reason`` and ``detail``, then asks the
spider what the failed request leaves behind (``spider.after_failure``). Pure Python: parsers
import this without Scrapy.
"""

from __future__ import annotations

from typing import Any


class CrawlError(ValueError):
    """A response that is not usable data. ``reason`` becomes ``rejected_items.reason``."""

    default_reason = "unexpected_body"

    def __init__(self, detail: str = "", *, reason: str | None = None) -> None:
        super().__init__(detail or reason or self.default_reason)
        self.reason = reason or self.default_reason
        self.detail = detail


class UnrecognisedDocument(CrawlError):
    """The body is not a format this parser knows (or not the platform's at all).

    ``reason`` defaults to ``unexpected_body``; a decoder may name a sharper one
    (``empty_body``, ``not_found``, ``unavailable``...).
    """


class BlockedPage(CrawlError):
    """The body is a login wall, captcha or checkpoint, not data; ``reason`` names which.

    ``rate_limited`` blocks are retried (after the host's pause) before they are recorded.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail, reason=reason)

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}" if self.detail else self.reason


class RetryableBody(CrawlError):
    """A body that may read fine next time (cut short, not JSON): retried, then recorded."""


class FollowUp(Exception):
    """Not data, but a request that fetches it (a redirect on the platform's own site)."""

    def __init__(self, request: Any) -> None:
        super().__init__(getattr(request, "url", ""))
        self.request = request
