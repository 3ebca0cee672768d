"""One logging filter that keeps every configured secret out of every log line.

:data:`SECRETS` is a :class:`SecretFilter` on each root handler (so Scrapy's own loggers are
covered: ``COOKIES_DEBUG`` prints the ``Cookie`` header it sends). It replaces each secret it
knows with ``***`` in a record's formatted message (its ``msg`` and ``args``) and in its
exception and stack text:

* from the settings (:func:`install`): ``MICROSCOUT_INSTAGRAM_SESSIONID``,
  ``MICROSCOUT_YOUTUBE_API_KEY``, ``MICROSCOUT_BLUESKY_APP_PASSWORD``, the Graph API token, the
  TikTok client key and secret, and the password of
  ``MICROSCOUT_PROXY`` (with the ``Proxy-Authorization`` value Scrapy makes of it);
* at run time (:func:`register`): tokens a spider receives, such as Bluesky's session JWTs.

Each value is also masked percent-encoded and decoded, as a cookie or URL may carry it. Values
shorter than :data:`MIN_LENGTH` characters are not masked: replacing them would garble every
line and they protect nothing.

``install`` is idempotent and is called twice a crawl: by the add-on (``crawler/addon.py``,
before the extensions log anything) and by ``CredentialsMiddleware`` (every microscout spider,
with or without the project's settings), because Scrapy replaces its root handler between the
two (``Crawler.crawl`` calls ``_update_root_log_handler`` after the add-ons ran).
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus, unquote, urlsplit

MASK = "***"
MIN_LENGTH = 4
#: Settings whose values are secrets as they are.
SECRET_SETTINGS = ("MICROSCOUT_INSTAGRAM_SESSIONID", "MICROSCOUT_YOUTUBE_API_KEY",
                   "MICROSCOUT_BLUESKY_APP_PASSWORD", "MICROSCOUT_INSTAGRAM_GRAPH_TOKEN",
                   "MICROSCOUT_TIKTOK_CLIENT_KEY", "MICROSCOUT_TIKTOK_CLIENT_SECRET")


def variants(value: str) -> set[str]:
    """The spellings of one secret a log line may hold: as given, percent-encoded, decoded."""
    return {text for text in (value, quote(value, safe=""), quote_plus(value), unquote(value))
            if len(text) >= MIN_LENGTH}


def proxy_secrets(proxy: str | None) -> set[str]:
    """The password of a proxy URL and the ``Proxy-Authorization`` value Scrapy sends for it."""
    if not proxy:
        return set()
    try:
        parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        user, password = parts.username, parts.password
    except ValueError:
        return set()
    if not password:
        return set()
    found = variants(password)
    pair = f"{unquote(user or '')}:{unquote(password)}"
    for encoding in ("latin-1", "utf-8"):
        try:
            found.add(base64.b64encode(pair.encode(encoding)).decode("ascii"))
        except UnicodeEncodeError:
            continue
    return found


def settings_secrets(settings: Mapping[str, Any] | Any) -> set[str]:
    """Every secret the crawl's settings hold."""
    found: set[str] = set()
    for name in SECRET_SETTINGS:
        value = settings.get(name)
        if value:
            found |= variants(str(value))
    return (found | proxy_secrets(settings.get("MICROSCOUT_PROXY"))
            | url_password(settings.get("MICROSCOUT_REDIS_URL")))


def url_password(url: str | None) -> set[str]:
    """The password of a service URL (Redis), in its spellings."""
    try:
        password = urlsplit(url).password if url else None
    except ValueError:
        return set()
    return variants(password) if password else set()


class SecretFilter(logging.Filter):
    """A handler filter: secrets in a record's message, args and traceback become ``***``."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, values: Iterable[str]) -> None:
        fresh = {text for value in values if value for text in variants(str(value))}
        with self._lock:
            if fresh <= self._secrets:
                return
            self._secrets |= fresh
            ordered = sorted(self._secrets, key=len, reverse=True)  # longest first
            self._pattern = re.compile("|".join(map(re.escape, ordered)))

    def clear(self) -> None:
        with self._lock:
            self._secrets, self._pattern = set(), None

    def redact(self, text: str) -> str:
        pattern = self._pattern
        return pattern.sub(MASK, text) if pattern is not None else text

    def filter(self, record: logging.LogRecord) -> bool:
        if self._pattern is None:
            return True
        broken = False
        try:
            message = record.getMessage()
        except Exception:  # a format that does not fit its args: keep both, masked
            message, broken = f"{record.msg} {record.args!r}", True
        redacted = self.redact(message)
        if broken or redacted != message:
            record.msg, record.args = redacted, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


#: The process's one filter (log handlers are per process, not per crawl).
SECRETS = SecretFilter()


def attach(handlers: Iterable[logging.Handler] | None = None) -> None:
    """Put :data:`SECRETS` on each handler (default: the root logger's), once."""
    for handler in handlers if handlers is not None else logging.getLogger().handlers:
        if SECRETS not in handler.filters:
            handler.addFilter(SECRETS)


def install(settings: Mapping[str, Any] | Any) -> None:
    """Mask the settings' secrets on every root handler (idempotent)."""
    SECRETS.add(settings_secrets(settings))
    attach()


def register(*values: str | None) -> None:
    """Mask these values from now on (a token received during the crawl)."""
    SECRETS.add([value for value in values if value])
    attach()


__all__ = ["MASK", "SECRETS", "SECRET_SETTINGS", "SecretFilter", "attach", "install",
           "proxy_secrets", "register", "settings_secrets", "variants"]
