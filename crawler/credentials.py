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
  elsewhere, or plain http on the network. A credential may also be limited to one path (a
  token refresh endpoint). When several credentials set one header, the first listed wins.
* What a credential set on a request is set afresh each time the request passes (a retry, a
  redirect): a token renewed since goes out instead of the old one, and a request that moved
  to another host loses it.

At the start of the crawl the hosts (names only) are logged once and kept in the stat
``microscout/credential_hosts``; the secret values are masked in every log line
(:mod:`crawler.redact`, installed here) and ``crawler/cassette.py`` filters the headers from
recordings.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.http import Request
from scrapy.utils.httpobj import urlparse_cached

from crawler import redact

logger = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.1", "localhost", "::1")
#: request.meta key: the header and cookie names a credential set on the request.
APPLIED = "microscout_credentials_applied"


@dataclass(frozen=True)
class Credential:
    """A secret sent to one host: as headers, as cookies, or both."""

    #: "host" or "host:port" (a port, when given, must match too: the sandbox's hosts differ
    #: only by port).
    host: str
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    #: Only requests to this exact path get it (None: every path of the host).
    path: str | None = None

    def applies_to(self, request: Request) -> bool:
        parts = urlparse_cached(request)
        host = (parts.hostname or "").lower()
        where = parts.netloc.lower().rpartition("@")[2] if ":" in self.host else host
        return (where == self.host.lower() and (parts.scheme == "https" or host in LOOPBACK)
                and (self.path is None or parts.path == self.path))

    def __repr__(self) -> str:  # never print the secret
        return (f"Credential(host={self.host!r}, headers={sorted(self.headers)}, "
                f"cookies={sorted(self.cookies)}, path={self.path!r})")


class CredentialsMiddleware:
    """Downloader middleware: proxy on every request, each credential on its own host only."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.proxy = crawler.settings.get("MICROSCOUT_PROXY") or None
        redact.install(crawler.settings)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CredentialsMiddleware:
        middleware = cls(crawler)
        crawler.signals.connect(middleware.spider_opened, signal=signals.spider_opened)
        return middleware

    def spider_opened(self, spider: Any) -> None:
        """Say once where credentials go (host names, never values)."""
        hosts = spider.credential_hosts() if hasattr(spider, "credential_hosts") else []
        if not hosts:
            return
        logger.info("Credentials are sent only to: %s", ", ".join(hosts))
        if self.crawler.stats is not None:
            self.crawler.stats.set_value("microscout/credential_hosts", ", ".join(hosts))

    def process_request(self, request: Request) -> None:
        if self.proxy and "proxy" not in request.meta:
            request.meta["proxy"] = self.proxy
        self.forget_applied(request)
        spider: Any = getattr(self.crawler, "spider", None)
        credentials = spider.credentials() if hasattr(spider, "credentials") else ()
        headers: list[str] = []
        cookies: list[str] = []
        for credential in credentials:
            if not credential.applies_to(request):
                continue
            for name, value in credential.headers.items():
                if name not in request.headers:
                    request.headers[name] = value
                    headers.append(name)
            if credential.cookies and isinstance(request.cookies, dict):
                for name, value in credential.cookies.items():
                    if name not in request.cookies:
                        request.cookies[name] = value
                        cookies.append(name)
        if headers or cookies:
            request.meta[APPLIED] = {"headers": headers, "cookies": cookies}

    @staticmethod
    def forget_applied(request: Request) -> None:
        """Take off what a credential set on an earlier pass (a retry or redirect copy)."""
        applied = request.meta.pop(APPLIED, None)
        if not applied:
            return
        for name in applied.get("headers", ()):
            request.headers.pop(name, None)
        if isinstance(request.cookies, dict):
            for name in applied.get("cookies", ()):
                request.cookies.pop(name, None)
