"""Run a spider callback as the engine would, without the engine.

The callbacks of microscout spiders let typed errors (``crawler.errors``) propagate; the spider
middleware ``crawler.spidermiddlewares.QuarantineMiddleware`` turns them into retries or
RejectedItems. :func:`run_callback` does the same on a callback called directly, so unit tests
see what a crawl would: the items yielded before the error, then what the error became.
"""

from __future__ import annotations

from typing import Any

from scrapy.http import Request, Response

from crawler.spidermiddlewares import handle_crawl_error


def run_callback(request: Request, response: Response) -> list[Any]:
    callback: Any = request.callback
    spider = callback.__self__
    out: list[Any] = []
    try:
        for value in callback(response, **request.cb_kwargs) or ():
            out.append(value)
    except Exception as exc:
        handled = handle_crawl_error(spider, response, exc)
        if handled is None:
            raise
        out.extend(handled)
    return out
