"""Secrets stay out of every log line, and credentials go only to the hosts configured for them.

* :mod:`crawler.redact` on its own: messages, args, tracebacks, percent-encoded spellings, the
  proxy's ``Proxy-Authorization`` value, tokens registered during a crawl; installed on the
  root handlers by the add-on and by ``CredentialsMiddleware``.
* End to end (slow), through the real engine with ``LOG_LEVEL=DEBUG``: Scrapy's
  ``COOKIES_DEBUG`` and :class:`HeaderLogger` (a test middleware that logs every header a
  request goes out with, after the proxy and cookie middlewares) print what they would; the
  secret values never appear, ``***`` does. Crawls of the Instagram sandbox (session cookie,
  through a proxy with a password), the YouTube sandbox with a Data API key and only
  ``base_url`` given (the key follows the base URL there), and the Bluesky sandbox logged in
  (its session token).
"""

from __future__ import annotations

import base64
import json
import logging
import urllib.request
from io import StringIO

import pytest
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from crawler import redact
from crawler.addon import MicroscoutAddon
from crawler.credentials import CredentialsMiddleware
from crawler.spiders.instagram import InstagramSpider

SESSIONID = "IGSESSION%3A0123456789abcdef"
KEY = "AIzaSy-secret-test-key-0123456789"
APP_PASSWORD_VALUE = "abcd-efgh-ijkl-mnop"
PROXY_USER, PROXY_PASSWORD = "scout", "pr0xy-p@ss"
SETTINGS = {
    "MICROSCOUT_INSTAGRAM_SESSIONID": SESSIONID,
    "MICROSCOUT_YOUTUBE_API_KEY": KEY,
    "MICROSCOUT_BLUESKY_APP_PASSWORD": APP_PASSWORD_VALUE,
    "MICROSCOUT_PROXY": f"http://{PROXY_USER}:pr0xy-p%40ss@proxy.example:3128",
}
PROXY_BASIC = base64.b64encode(f"{PROXY_USER}:{PROXY_PASSWORD}".encode()).decode()


@pytest.fixture
def root_log():
    """A handler on the root logger (as Scrapy's is) writing to a string; secrets forgotten
    afterwards."""
    stream = StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        redact.SECRETS.clear()


def test_settings_secrets_are_masked_in_message_args_and_traceback(root_log):
    redact.install(Settings(SETTINGS))
    log = logging.getLogger("scrapy.downloadermiddlewares.cookies")
    log.debug("Sending cookies to: <GET https://x/>\nCookie: sessionid=%s", SESSIONID)
    log.debug("decoded %s and encoded %s", "IGSESSION:0123456789abcdef", SESSIONID)
    log.debug("%(headers)s", {"headers": {"X-Goog-Api-Key": KEY, "Proxy-Authorization":
                                          f"Basic {PROXY_BASIC}"}})
    logging.getLogger("any.library").info("login with %r", {"password": APP_PASSWORD_VALUE})
    logging.getLogger("proxy").warning("proxy password %s (%s)", PROXY_PASSWORD, "pr0xy-p%40ss")
    try:
        raise RuntimeError(f"bad key {KEY}")
    except RuntimeError:
        logging.getLogger("x").exception("failed with %s", SESSIONID)
    text = root_log.getvalue()
    for secret in (SESSIONID, "IGSESSION:0123456789abcdef", KEY, APP_PASSWORD_VALUE,
                   PROXY_PASSWORD, "pr0xy-p%40ss", PROXY_BASIC):
        assert secret not in text, secret
    assert "Cookie: sessionid=***" in text
    assert "RuntimeError: bad key ***" in text
    assert "'Proxy-Authorization': 'Basic ***'" in text
    assert text.count("***") >= 9


def test_tokens_registered_during_a_crawl_are_masked_from_then_on(root_log):
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkaWQ6cGxjOngifQ.c2lnbmF0dXJl"
    log = logging.getLogger("bluesky")
    log.info("before: Bearer %s", token)
    redact.register(token, None, "")
    log.info("after: Bearer %s", token)
    log.info("a line %s without secrets stays as it is: %d%%", "here", 5)
    lines = root_log.getvalue().splitlines()
    assert lines == [f"before: Bearer {token}", "after: Bearer ***",
                     "a line here without secrets stays as it is: 5%"]


def test_a_bad_format_is_kept_masked_not_lost(root_log):
    redact.register(KEY)
    logging.getLogger("x").info("two %s %s", KEY)  # one argument short
    assert root_log.getvalue() == "two %s %s ('***',)\n"


def test_values_too_short_to_be_secrets_are_not_masked(root_log):
    redact.install(Settings({"MICROSCOUT_PROXY": "http://u:pw@proxy.example:3128"}))
    logging.getLogger("x").info("pw stays readable; the header does not: %s",
                                base64.b64encode(b"u:pw").decode())
    assert root_log.getvalue() == "pw stays readable; the header does not: ***\n"


def test_the_addon_and_the_credentials_middleware_install_the_filter(root_log):
    handler = logging.getLogger().handlers[-1]
    MicroscoutAddon().update_settings(Settings({"MICROSCOUT_YOUTUBE_API_KEY": KEY}))
    assert handler.filters.count(redact.SECRETS) == 1
    logging.getLogger("y").info(KEY)
    redact.SECRETS.clear()
    handler.removeFilter(redact.SECRETS)
    crawler = get_crawler(InstagramSpider, settings_dict={"MICROSCOUT_INSTAGRAM_SESSIONID": SESSIONID})
    CredentialsMiddleware.from_crawler(crawler)
    CredentialsMiddleware.from_crawler(crawler)  # idempotent
    assert handler.filters.count(redact.SECRETS) == 1
    logging.getLogger("y").info(SESSIONID)
    lines = root_log.getvalue().splitlines()
    assert (lines[0], lines[-1]) == ("***", "***")
    assert KEY not in root_log.getvalue()
    assert SESSIONID not in root_log.getvalue()


def test_credential_hosts_are_logged_once_at_start_without_values(caplog):
    crawler = get_crawler(InstagramSpider, settings_dict={"MICROSCOUT_INSTAGRAM_SESSIONID": SESSIONID})
    spider = InstagramSpider.from_crawler(crawler, tags="x", base_url="http://127.0.0.1:8123")
    crawler.spider = spider
    crawler.stats.open_spider()
    middleware = CredentialsMiddleware.from_crawler(crawler)
    with caplog.at_level(logging.INFO, logger="crawler.credentials"):
        middleware.spider_opened(spider)
    # other tests may have left scrapy's loggers at INFO: only this logger's records count
    (record,) = [r for r in caplog.records if r.name == "crawler.credentials"]
    assert (record.levelname, record.getMessage()) == (
        "INFO", "Credentials are sent only to: 127.0.0.1:8123")
    assert crawler.stats.get_value("microscout/credential_hosts") == "127.0.0.1:8123"
    assert spider.run_args["credential_hosts"] == ["127.0.0.1:8123"]
    redact.SECRETS.clear()


# --- end to end -------------------------------------------------------------------------------

logger = logging.getLogger("tests.headers")


class HeaderLogger:
    """Extension: logs, at DEBUG, every header each request goes out with (when it reaches the
    downloader, after every downloader middleware: cookies, proxy), and once the secret
    settings themselves, as a careless debugging line would."""

    @classmethod
    def from_crawler(cls, crawler):
        from scrapy import signals

        logger.debug("secret settings: %s", {name: crawler.settings.get(name)
                                             for name in (*redact.SECRET_SETTINGS,
                                                          "MICROSCOUT_PROXY")})
        extension = cls()
        crawler.signals.connect(extension.reached, signal=signals.request_reached_downloader)
        return extension

    def reached(self, request, spider):
        logger.debug("headers of %s: %s", request.url, request.headers.to_unicode_dict())


def with_header_logger() -> dict:
    from crawler import settings as project

    return {"EXTENSIONS": {**project.EXTENSIONS, "tests.test_secrets.HeaderLogger": 900},
            "LOG_LEVEL": "DEBUG", "COOKIES_DEBUG": True}


def assert_masked(log: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in log, secret
    assert "DEBUG: headers of " in log  # the header logger really logged
    assert "***" in log


@pytest.mark.slow
def test_instagram_session_cookie_and_proxy_password_never_reach_the_log():
    from crawler.sandbox.server import SandboxProcess
    from tests.crawl_helpers import run_spider
    from tests.test_spider_instagram import _RecordingProxy, recording_proxy

    with SandboxProcess(accounts=60, seed=3, platform="instagram", rate_limit=1_000_000) as sb, \
            recording_proxy() as proxy_url:
        proxy = proxy_url.replace("http://", f"http://{PROXY_USER}:pr0xy-p%40ss@")
        items = run_spider("instagram", {
            **with_header_logger(), **SETTINGS, "MICROSCOUT_PROXY": proxy, "ITEM_PIPELINES": {},
            "MICROSCOUT_RATE_LIMIT_INSTAGRAM": 0}, use_project_settings=True, crawl_timeout=90,
            base_url=sb.base_url, tags=_busy_instagram_tag(), max_posts="5", listing="recent")
    seen = _RecordingProxy.seen
    assert seen
    assert all(h.get("proxy-authorization") == f"Basic {PROXY_BASIC}" for _, h in seen)
    assert all(f"sessionid={SESSIONID}" in h.get("cookie", "") for _, h in seen)
    log = items.log
    assert_masked(log, [SESSIONID, "IGSESSION:0123456789abcdef", KEY, APP_PASSWORD_VALUE,
                        PROXY_PASSWORD, "pr0xy-p%40ss", PROXY_BASIC])
    assert "Sending cookies to:" in log  # COOKIES_DEBUG printed the Cookie header...
    assert "sessionid=***" in log  # ...masked
    assert "'Proxy-Authorization': 'Basic ***'" in log
    assert f"Credentials are sent only to: {sb.base_url.split('://')[1]}" in log
    assert [i for i in items if "followers" in i]


def _busy_instagram_tag() -> str:
    from crawler.sandbox.world import World

    tags = World(60, 3).tags()
    return max(tags, key=lambda tag: (tags[tag], tag))


@pytest.mark.slow
def test_youtube_key_follows_a_sandbox_base_url_and_never_reaches_the_log():
    """Only ``base_url`` names the sandbox: the Data API (and the key) is the sandbox's too."""
    from crawler.sandbox.server import SandboxProcess
    from tests.crawl_helpers import run_spider

    with SandboxProcess(accounts=60, seed=3, platform="youtube", rate_limit=1_000_000) as sb:
        items = run_spider("youtube", {
            **with_header_logger(), **SETTINGS, "MICROSCOUT_PROXY": None, "ITEM_PIPELINES": {},
            "MICROSCOUT_RATE_LIMIT_YOUTUBE": 0}, use_project_settings=True, crawl_timeout=90,
            base_url=sb.base_url, tags=_busy_youtube_tag(), max_pages="1", max_posts="10",
            recent_posts="2")
        with urllib.request.urlopen(f"{sb.base_url}/__platform__/knobs", timeout=5) as answer:
            keys_seen = json.loads(answer.read())["api_keys_seen"]
    host = sb.base_url.split("://")[1]
    assert keys_seen > 0  # the sandbox got the key, in its header
    assert items.stats["microscout/youtube/api_quota_units"] > 100
    assert "googleapis" not in items.log
    assert items.stats["microscout/credential_hosts"] == host
    assert f"Credentials are sent only to: {host}" in items.log
    assert_masked(items.log, [KEY, SESSIONID, APP_PASSWORD_VALUE])
    assert "'X-Goog-Api-Key': '***'" in items.log
    assert [i for i in items if "followers" in i]


@pytest.mark.slow
def test_bluesky_session_token_never_reaches_the_log():
    from crawler.sandbox.bluesky import APP_PASSWORD
    from crawler.sandbox.server import SandboxProcess
    from tests.crawl_helpers import run_spider

    with SandboxProcess(accounts=60, seed=3, platform="bluesky", rate_limit=1_000_000,
                        knobs={"search_auth": "401"}) as sb:
        login = urllib.request.Request(
            f"{sb.base_url}/xrpc/com.atproto.server.createSession", method="POST",
            data=json.dumps({"identifier": "me", "password": APP_PASSWORD}).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(login, timeout=5) as answer:  # the token the crawl gets too
            tokens = json.loads(answer.read())
        items = run_spider("bluesky", {
            **with_header_logger(), **SETTINGS, "MICROSCOUT_PROXY": None, "ITEM_PIPELINES": {},
            "MICROSCOUT_BLUESKY_IDENTIFIER": "me", "MICROSCOUT_BLUESKY_APP_PASSWORD": APP_PASSWORD},
            use_project_settings=True, crawl_timeout=90, appview=sb.base_url,
            tags=_busy_bluesky_tag(), max_posts="10", recent_posts="2")
    host = sb.base_url.split("://")[1]
    assert_masked(items.log, [tokens["accessJwt"], tokens["refreshJwt"], APP_PASSWORD,
                              KEY, SESSIONID])
    assert "'Authorization': 'Bearer ***'" in items.log
    assert f"Credentials are sent only to: {host}" in items.log  # login host = the App View
    assert [i for i in items if "followers" in i]
    assert not [i for i in items if i.get("reason")]


def _busy_youtube_tag() -> str:
    from crawler.sandbox.world import World

    tags = World(60, 3).tags()
    return max(tags, key=lambda tag: (tags[tag], tag))


_busy_bluesky_tag = _busy_youtube_tag
