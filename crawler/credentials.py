"""The downloader middleware that sends the proxy and credentials, each only where it belongs.

Like Scrapy's own ``HttpProxyMiddleware``, it acts on every request the crawl downloads, the
robots.txt fetches included, so no spider can forget it:

* ``MICROSCOUT_PROXY`` (``http://user:pass@host:port``) becomes ``request.meta["proxy"]`` unless
  the request names its own; Scrapy's ``HttpProxyMiddleware`` (750) then uses it and moves the
  proxy's user and password into a ``Proxy-Authorization`` header.
* ``spider.credentials()`` lists :class:`Credential` objects (a session cookie, an API key
  header, a bearer token), each bound to the one host it is configured for. A request gets a
  credential only when its host is exactly that host (and its scheme https, or the host a
  loopback address, as the sandbox is), so a credential never reaches another site, a redirect
  elsewhere, or plain http on the network.

The values are never logged here; ``crawler/cassette.py`` filters the headers from recordings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scrapy.crawler import Crawler
from scrapy.http import Request
from scrapy.utils.httpobj import urlparse_cached

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Credential:
    """A secret sent to one host: as headers, as cookies, or both."""

    #: "host" or "host:port" (a port, when given, must match too: the sandbox's hosts differ
    #: only by port).
    host: str
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)

    def applies_to(self, request: Request) -> bool:
        parts = urlparse_cached(request)
        host = (parts.hostname or "").lower()
        where = parts.netloc.lower().rpartition("@")[2] if ":" in self.host else host
        return where == self.host.lower() and (parts.scheme == "https" or host in LOOPBACK)

    def __repr__(self) -> str:  # never print the secret
        return (f"Credential(host={self.host!r}, headers={sorted(self.headers)}, "
                f"cookies={sorted(self.cookies)})")


class CredentialsMiddleware:
    """Downloader middleware: proxy on every request, each credential on its own host only."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.proxy = crawler.settings.get("MICROSCOUT_PROXY") or None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CredentialsMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        if self.proxy and "proxy" not in request.meta:
            request.meta["proxy"] = self.proxy
        spider: Any = getattr(self.crawler, "spider", None)
        credentials = spider.credentials() if hasattr(spider, "credentials") else ()
        for credential in credentials:
            if not credential.applies_to(request):
                continue
            for name, value in credential.headers.items():
                request.headers.setdefault(name, value)
            if credential.cookies and isinstance(request.cookies, dict):
                for name, value in credential.cookies.items():
                    request.cookies.setdefault(name, value)
