"""The spider middleware of the crawl protocol: typed errors from callbacks become data.

A callback of a microscout spider reads a body with ``spider.decode`` or a parser and lets the
typed errors of :mod:`crawler.errors` propagate. Here, once for every platform:

* :class:`~crawler.errors.RetryableBody` (a body cut short, not JSON) and a ``rate_limited``
  :class:`~crawler.errors.BlockedPage` are retried with Scrapy's ``get_retry_request`` (counted in
  ``retry/reason_count/<reason>``); once retries are exhausted they are recorded. A
  ``rate_limited`` body ("Please wait a few minutes" with status 200 or 401) first pauses the
  host like a 429 does (``spider.on_rate_limited``), so the retry waits;
* any other :class:`~crawler.errors.BlockedPage` is passed to ``spider.on_blocked`` (which counts
  it and may pause the host) and recorded;
* :class:`~crawler.errors.UnrecognisedDocument` and other :class:`~crawler.errors.CrawlError`
  are recorded with their own reason;
* :class:`~crawler.errors.FollowUp` sends the request it carries instead.

"Recorded" means one ``RejectedItem`` (reason, detail, the body as payload, the URL, the item type
of the request's kind), followed by whatever ``spider.after_failure(request)`` yields. Items the
callback yielded before it raised have already gone on. Exceptions of other types are left to
Scrapy (they are bugs, and show as such).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.http import Response

from crawler.errors import BlockedPage, CrawlError, FollowUp, RetryableBody

#: BlockedPage reasons that are retried like a bad body before they are recorded.
RETRIED_BLOCKS = frozenset({"rate_limited"})


def handle_crawl_error(spider: Any, response: Response, error: Exception) -> Iterator[Any] | None:
    """What a typed error raised by ``spider``'s callback becomes; None when it is not ours."""
    if isinstance(error, FollowUp):
        return iter((error.request,))
    if not isinstance(error, CrawlError) or not hasattr(spider, "reject_response"):
        return None
    return _recover(spider, response, error)


def _recover(spider: Any, response: Response, error: CrawlError) -> Iterator[Any]:
    request = response.request
    retried = isinstance(error, RetryableBody) or (
        isinstance(error, BlockedPage) and error.reason in RETRIED_BLOCKS)
    if retried and request is not None:
        retry = get_retry_request(request, spider=spider, reason=error.reason)
        if retry is not None:
            if isinstance(error, BlockedPage) and hasattr(spider, "on_rate_limited"):
                spider.on_rate_limited(request, error)
            yield retry
            return
    elif isinstance(error, BlockedPage):
        spider.on_blocked(request, error, response.url)
    yield spider.reject_response(response, error)
    yield from spider.after_failure(request)


class QuarantineMiddleware:
    """Spider middleware: retry or quarantine what a callback found not to be data."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> QuarantineMiddleware:
        return cls(crawler)

    def process_spider_exception(self, response: Response, exception: Exception) -> Iterator[Any] | None:
        return handle_crawl_error(self.crawler.spider, response, exception)
