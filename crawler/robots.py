"""robots.txt middleware that gives every waiting request the parser, not only the first.

Scrapy 2.19's RobotsTxtMiddleware lets requests that arrive while robots.txt is still being
fetched await one shared Deferred through ``Deferred.asFuture``; that callback returns None,
so the second and later waiters get no parser and their requests pass unchecked (a disallowed
URL gets fetched when it is not the first request to its host). Here each waiter gets its own
Deferred, chained so the shared result passes through unchanged.
"""

from __future__ import annotations

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as ScrapyRobotsTxtMiddleware
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred


class RobotsTxtMiddleware(ScrapyRobotsTxtMiddleware):
    async def robot_parser(self, request):
        pending = self._parsers.get(urlparse_cached(request).netloc)
        if isinstance(pending, Deferred):
            waiter: Deferred = Deferred()

            def relay(result):
                waiter.callback(result)
                return result  # keep the result for the next waiter in the chain

            pending.addBoth(relay)
            return await maybe_deferred_to_future(waiter)
        return await super().robot_parser(request)
