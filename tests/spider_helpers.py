"""Run a spider callback as the engine would, without the engine.

The callbacks of microscout spiders let typed errors (``crawler.errors``) propagate; the spider
middleware ``crawler.spidermiddlewares.QuarantineMiddleware`` turns them into retries or
RejectedItems. :func:`run_callback` does the same on a callback called directly, so unit tests
see what a crawl would: the items yielded before the error, then what the error became.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from scrapy.http import Request, Response

from crawler.spidermiddlewares import handle_crawl_error


def run_callback(request: Request, response: Response) -> list[Any]:
    """The callback's outputs (an async generator callback is run to its end too)."""
    callback: Any = request.callback
    spider = callback.__self__
    out: list[Any] = []

    async def drain(outputs: Any) -> None:
        async for value in outputs:
            out.append(value)

    try:
        outputs = callback(response, **request.cb_kwargs)
        if inspect.isasyncgen(outputs):
            asyncio.run(drain(outputs))
        else:
            for value in outputs or ():  # one by one: what came before an error is kept
                out.append(value)
    except Exception as exc:
        handled = handle_crawl_error(spider, response, exc)
        if handled is None:
            raise
        out.extend(handled)
    return out
