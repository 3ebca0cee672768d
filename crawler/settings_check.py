"""Settings whose type is known, checked before a crawl starts.

A setting given as text (environment, ``--set``, ``-s``) that its reader cannot use would
otherwise fail deep inside the crawl ("Unhandled error in Deferred"). :data:`CHECKS` says what
each known setting must be; :func:`check_settings` reads every one of them the way its component
does (Scrapy's typed getters) and raises :class:`SettingError`, one line naming the setting, on
the first bad value. :func:`setting` gives one typed value, or the same error, to a component.
Light on purpose: ``microscout --help`` imports it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crawler.platforms import REGISTRY


class SettingError(ValueError):
    """A setting's value its reader cannot use; the message is one line naming the setting."""


# --- validators: (settings, name) -> the typed value; ValueError says what it must be ----------

Check = Callable[[Any, str], Any]


def integer(minimum: int) -> Check:
    def check(settings: Any, name: str) -> int:
        try:
            value = settings.getint(name)
        except (TypeError, ValueError):
            raise ValueError(f"must be a whole number (at least {minimum})") from None
        if value < minimum:
            raise ValueError(f"must be at least {minimum}")
        return value
    return check


def number(minimum: float = 0.0, maximum: float | None = None, *, above: bool = False) -> Check:
    """A finite float >= minimum (> minimum when ``above``), <= maximum when given."""
    if maximum is not None:
        wanted = f"a number from {minimum:g} to {maximum:g}"
    else:
        wanted = f"a number {'above' if above else 'of at least'} {minimum:g}"

    def check(settings: Any, name: str) -> float:
        try:
            value = settings.getfloat(name)
        except (TypeError, ValueError):
            raise ValueError(f"must be {wanted}") from None
        too_low = value <= minimum if above else value < minimum
        if not math.isfinite(value) or too_low or (maximum is not None and value > maximum):
            raise ValueError(f"must be {wanted}")
        return value
    return check


def boolean(settings: Any, name: str) -> bool:
    try:
        return settings.getbool(name)
    except (TypeError, ValueError):
        raise ValueError("must be true or false (or 1 or 0)") from None


def record_mode(settings: Any, name: str) -> Any:
    """A vcrpy record mode, read as crawler/cassette.py reads it (case and spaces ignored)."""
    from crawler.cassette import RECORD_MODES

    value = settings.get(name)
    if str(getattr(value, "value", value)).strip().lower() not in RECORD_MODES:
        raise ValueError(f"must be one of {', '.join(RECORD_MODES)}")
    return value


def log_level(settings: Any, name: str) -> Any:
    value = settings.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if value not in logging.getLevelNamesMapping():
        raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL (upper case)")
    return value


def tier_scheme(settings: Any, name: str) -> str:
    from pipelines.tier import parse_scheme

    value = settings.get(name) or "seed"
    parse_scheme(str(value))  # ValueError says what is wrong
    return value


def existing_file(settings: Any, name: str) -> str | None:
    """Optional: unset is fine; set, it names a file that exists."""
    value = settings.get(name)
    if value and not Path(str(value)).expanduser().is_file():
        raise ValueError("names no file")
    return value or None


def database_url(settings: Any, name: str) -> str:
    return check_database_url(settings.get(name))


def redis_url(settings: Any, name: str) -> Any:
    value = str(settings.get(name) or "").strip()
    if value and value.split("://", 1)[0] not in ("redis", "rediss", "unix"):
        raise SettingError(f"{name}: {mask_password(value)!r} is not a Redis URL like "
                           "redis://host:6379/0")
    return value


def languages(settings: Any, name: str) -> Any:
    from pipelines.language import LanguageUnavailable, detector, parse_codes

    codes = parse_codes(settings.get(name))
    try:
        detector(codes)
    except LanguageUnavailable as exc:
        raise ValueError(str(exc)) from None
    return ",".join(codes)


def language_accuracy(settings: Any, name: str) -> Any:
    value = str(settings.get(name) or "high").strip().lower()
    if value not in ("high", "low"):
        raise ValueError("must be high or low")
    return value


def rate_scope(settings: Any, name: str) -> Any:
    value = str(settings.get(name)).strip().lower()
    if value not in ("global", "worker", "credential"):
        raise ValueError("must be global, worker or credential")
    return value


CHECKS: dict[str, Check] = {
    "MICROSCOUT_DATABASE_URL": database_url,
    "MICROSCOUT_BATCH_SIZE": integer(1),
    "MICROSCOUT_DB_RETRIES": integer(0),
    "MICROSCOUT_DB_RETRY_DELAY": number(0),
    "MICROSCOUT_DB_CONNECT_TIMEOUT": number(0),  # 0 = no limit
    "MICROSCOUT_DB_STATEMENT_TIMEOUT": number(0),
    "MICROSCOUT_RAW_RETENTION_DAYS": integer(0),
    "MICROSCOUT_TIER_SCHEME": tier_scheme,
    "MICROSCOUT_ENGAGEMENT_POSTS": integer(1),
    "MICROSCOUT_TAXONOMY": existing_file,
    "MICROSCOUT_NICHE_MODEL": existing_file,
    "MICROSCOUT_NICHE_MODEL_WEIGHT": number(0, 1),
    "MICROSCOUT_ROBOTSTXT_OBEY": boolean,
    "MICROSCOUT_SIGNALS": boolean,
    "MICROSCOUT_LANGUAGES": languages,
    "MICROSCOUT_LANGUAGE_ACCURACY": language_accuracy,
    "MICROSCOUT_MAX_RETRY_AFTER": number(0),
    "MICROSCOUT_RATELIMIT_ENABLED": boolean,
    "MICROSCOUT_RATELIMIT_RESERVE": integer(0),
    "MICROSCOUT_RATELIMIT_DEFAULT_WAIT": number(0),
    "MICROSCOUT_RATELIMIT_BODY_WAIT": number(0),
    "MICROSCOUT_BLUESKY_REFRESH_MARGIN": number(0),
    "MICROSCOUT_YOUTUBE_DAILY_QUOTA": integer(0),
    "MICROSCOUT_INSTAGRAM_GRAPH_USAGE_PAUSE": number(1, 100),
    "MICROSCOUT_TIKTOK_DAILY_REQUESTS": integer(0),
    "MICROSCOUT_TIKTOK_DAILY_RECORDS": integer(0),
    "MICROSCOUT_CASSETTE_RECORD_MODE": record_mode,
    "MICROSCOUT_CASSETTE_ALLOW_REPEATS": boolean,
    "MICROSCOUT_RUN_LOCK_STALE": number(0, above=True),
    "MICROSCOUT_MONITOR_MIN_PROFILES": integer(0),
    "MICROSCOUT_MONITOR_MAX_ERROR_RATIO": number(0, 1),
    "MICROSCOUT_MONITOR_MAX_QUARANTINE_RATIO": number(0, 1),
    "MICROSCOUT_MONITOR_MIN_FOLLOWER_COVERAGE": number(0, 1),
    "MICROSCOUT_LOG_LEVEL": log_level,
    "MICROSCOUT_PROGRESS": boolean,
    "MICROSCOUT_PROGRESS_INTERVAL": number(0, above=True),
    **{platform.setting: number(0) for platform in REGISTRY.values()},
    "MICROSCOUT_REDIS_URL": redis_url,
    "MICROSCOUT_REDIS_TIMEOUT": number(0, above=True),
    "MICROSCOUT_LEASE_SECONDS": number(1),
    "MICROSCOUT_WORKER_IDLE": number(0),
    "MICROSCOUT_REDIS_LOST_TIMEOUT": number(0),
    "MICROSCOUT_WORKER_MAX_REQUESTS": integer(0),
    "MICROSCOUT_FLUSH_INTERVAL": number(0),
    **{f"MICROSCOUT_RATE_SCOPE_{name.upper()}": rate_scope for name in REGISTRY},
    # Scrapy's own, the ones runs commonly override
    "LOG_LEVEL": log_level,
    "ROBOTSTXT_OBEY": boolean,
    "CONCURRENT_REQUESTS": integer(1),
    "CONCURRENT_REQUESTS_PER_DOMAIN": integer(1),
    "DOWNLOAD_DELAY": number(0),
    "DOWNLOAD_TIMEOUT": number(0, above=True),
    "RETRY_TIMES": integer(0),
}


def setting(settings: Any, name: str, default: Any = None) -> Any:
    """``name``'s value read as its component reads it (``default`` when unset); SettingError
    when it cannot be."""
    check = CHECKS[name]
    if settings.get(name) is None:
        return default
    try:
        return check(settings, name)
    except SettingError as exc:  # names the value itself (a database URL, masked)
        raise SettingError(f"{name}: {exc}") from None
    except ValueError as exc:
        raise SettingError(f"{name}={shown(settings.get(name))}: {exc}") from None


def check_settings(settings: Any) -> None:
    """Every setting of :data:`CHECKS` that is set; SettingError on the first bad one."""
    for name in CHECKS:
        if settings.get(name) is not None:
            setting(settings, name)


def shown(value: Any) -> str:
    """A value as an error message shows it: quoted, cut at 80 characters."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --- database URLs -------------------------------------------------------------------------------


def mask_password(url: str) -> str:
    """``scheme://user:***@host/...``, also for a URL SQLAlchemy cannot parse (an '@' in the
    password, a bad port): the user info is everything before the last '@' of the netloc."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    userinfo, at, hostport = rest[:end].rpartition("@")
    if at and ":" in userinfo:
        userinfo = userinfo.split(":", 1)[0] + ":***"
    return f"{scheme}{sep}{userinfo}{at}{hostport}{rest[end:]}"


def check_database_url(url: Any) -> str:
    """``url`` when SQLAlchemy can use it (parses, numeric port, known backend); SettingError
    naming the URL with its password masked otherwise."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    text = str(url or "").strip()
    example = "sqlite:///path/file.sqlite or postgresql+psycopg://user:password@host/db"
    if not text:
        raise SettingError(f"the database URL is empty; give one like {example}")
    masked = mask_password(text)
    try:
        parsed = make_url(text)
    except ArgumentError:
        raise SettingError(f"{masked!r} is not a database URL like {example}") from None
    except ValueError:  # SQLAlchemy int()s the port
        raise SettingError(f"the port of database URL {masked!r} is not a number") from None
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise SettingError(f"the port of database URL {masked!r} is not from 1 to 65535")
    try:
        parsed.get_dialect()
    except NoSuchModuleError:
        raise SettingError(f"database URL {masked!r}: unknown database {parsed.drivername!r}") from None
    return text
