"""Value normalisers: pure functions from the platforms' text to typed values.

No Scrapy here. Counts ("46.3m", "1.234", "4,69 M de suscriptores"), timestamps, relative
times ("vor 2 Monaten"), handles, hashtags, mentions, HTML, text and URLs. A value that is
present but cannot be read raises :class:`UnreadableValue` (the caller quarantines it);
missing values (None, "") come back as None.

Plausible bounds (:data:`BOUNDS`, checked by :func:`check_bound`). A value outside them reads
but cannot be true; it raises :class:`ImplausibleValue` and the pipelines quarantine it with
reason ``implausible_value`` (a profile whose follower count is out of bounds is rejected; any
other field is stored as NULL and gets its own quarantine row). Every bound is far below
2^63, so a stored count always fits BIGINT on PostgreSQL and INTEGER on SQLite.

=========================  ==================  ================================================
field                      bounds              why
=========================  ==================  ================================================
followers, following       0 .. 10^10          more than there are people (8.2 billion); the
                                               largest accounts have under 10^9 followers
posts_count                0 .. 10^9           a post a second for 31 years; the busiest bots
                                               have tens of millions
likes, comments, shares    0 .. 10^10          more than there are people; the most-liked
                                               posts have under 10^8 likes
views                      0 .. 10^12          views repeat, but the most-viewed video has
                                               1.6 x 10^10
posts_per_week             0 .. 10,080         one post a minute, every minute; computed over
                                               at least a day (pipelines/engagement.py)
engagement_rate,           0 .. 2 x 10^10      what the count bounds allow: a viral post on a
engagement_rate_median,                        new account really gives rates in the
engagement_per_view                            thousands, so no tighter bound; never NaN/inf
position (sightings)       0 .. 2^31 - 1       the INTEGER column
=========================  ==================  ================================================

Text that is stored in a sized column (:data:`TEXT_LIMITS`: handles, ids and hashtags 255
characters, media type and listing 32, ...) is held to that length the same way, and
:func:`storable_text` replaces what neither database stores (NUL; lone surrogates, which are
not UTF-8) with U+FFFD.
"""

from __future__ import annotations

import calendar
import dataclasses
import functools
import math
import re
import unicodedata
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from w3lib.html import remove_tags, replace_entities

from crawler.platforms import FEDERATED as _FEDERATED
from crawler.platforms import NAMES as PLATFORMS

UTC = timezone.utc


class UnreadableValue(ValueError):
    """A value is present but cannot be read; ``raw`` is the input, ``kind`` what it should be."""

    def __init__(self, raw: Any, kind: str, message: str | None = None) -> None:
        super().__init__(message or f"unreadable {kind}: {raw!r}")
        self.raw = raw
        self.kind = kind


class ImplausibleValue(UnreadableValue):
    """A value that reads but cannot be true (more followers than people); see BOUNDS."""

    reason = "implausible_value"

    def __init__(self, raw: Any, kind: str) -> None:
        super().__init__(raw, kind, f"implausible {kind}: {_short(raw)}")


def _short(raw: Any) -> str:
    text = repr(raw)
    return text if len(text) <= 80 else f"{text[:60]}... ({len(text)} characters)"


# --- Plausible bounds (table in the module docstring) -------------------------------------

BOUNDS: dict[str, tuple[int, int]] = {
    "followers": (0, 10**10),
    "following": (0, 10**10),
    "posts_count": (0, 10**9),
    "likes": (0, 10**10),
    "comments": (0, 10**10),
    "shares": (0, 10**10),
    "views": (0, 10**12),
    "posts_per_week": (0, 7 * 24 * 60),
    "engagement_rate": (0, 2 * 10**10),
    "engagement_rate_median": (0, 2 * 10**10),
    "engagement_per_view": (0, 2 * 10**10),
    "position": (0, 2**31 - 1),
}
#: Characters of the sized text columns (models/tables.py; tests/test_bounds.py keeps them equal).
TEXT_LIMITS: dict[str, int] = {
    "platform": 32, "handle": 255, "platform_user_id": 255, "category": 255,
    "discovered_via": 255, "post_id": 255, "author_handle": 255, "hashtag": 255,
    "media_type": 32, "posted_at_precision": 16, "listing": 32, "tier": 16, "tier_scheme": 16,
}
# No count is written in more characters than this ("1 234 567 890 Abonnenten" has 24).
_COUNT_TEXT_LIMIT = 200
_COUNT_DIGITS_LIMIT = 30


def check_bound(name: str, value: Any) -> Any:
    """``value`` when it is None or within ``BOUNDS[name]``; raises :class:`ImplausibleValue`
    otherwise (a float must also be finite)."""
    if value is None:
        return None
    low, high = BOUNDS[name]
    if isinstance(value, float) and not math.isfinite(value):
        raise ImplausibleValue(value, name)
    if not low <= value <= high:
        raise ImplausibleValue(value, name)
    return value


_UNSTORABLE_RE = re.compile("[\x00\ud800-\udfff]")


def storable_text(text: str) -> str:
    """``text`` with NUL and lone surrogates replaced by U+FFFD: PostgreSQL stores no NUL,
    and neither database stores a surrogate (it is not UTF-8)."""
    return _UNSTORABLE_RE.sub("\ufffd", text)


def is_storable(text: str) -> bool:
    """``storable_text(text) == text``, without building a copy (ASCII: only NUL to look for)."""
    if text.isascii():
        return "\x00" not in text
    return _UNSTORABLE_RE.search(text) is None


# --- Counts ------------------------------------------------------------------------------

# Multiplier words and abbreviations as the platforms print them (CLDR compact forms plus
# the long words). Matched case-insensitively, with an optional trailing ".".
SUFFIXES: dict[str, int] = {
    # thousand
    "k": 10**3, "thousand": 10**3, "mil": 10**3, "mila": 10**3, "tsd": 10**3,
    "tausend": 10**3, "tys": 10**3, "тыс": 10**3, "tis": 10**3, "tn": 10**3, "rb": 10**3,
    "ribu": 10**3, "千": 10**3, "천": 10**3,
    # ten thousand, hundred million (Chinese, Japanese, Korean)
    "万": 10**4, "萬": 10**4, "만": 10**4, "亿": 10**8, "億": 10**8, "억": 10**8,
    # million
    "m": 10**6, "mn": 10**6, "mill": 10**6, "mln": 10**6, "mio": 10**6, "mi": 10**6,
    "million": 10**6, "millions": 10**6, "millionen": 10**6, "millón": 10**6,
    "millon": 10**6, "millones": 10**6, "milhão": 10**6, "milhões": 10**6, "milioni": 10**6,
    "milj": 10**6, "jt": 10**6, "juta": 10**6, "млн": 10**6,
    # billion (thousand million)
    "b": 10**9, "bn": 10**9, "bi": 10**9, "billion": 10**9, "billions": 10**9,
    "mrd": 10**9, "md": 10**9, "mds": 10**9, "mld": 10**9, "mia": 10**9, "milliard": 10**9,
    "milliards": 10**9, "milliarden": 10**9, "bilhão": 10**9, "bilhões": 10**9,
    "млрд": 10**9, "mil m": 10**9, "mil mill": 10**9, "mil millones": 10**9,
}
# Where a language gives a short form another meaning than the table above.
LOCALE_SUFFIXES: dict[str, dict[str, int]] = {
    "tr": {"b": 10**3, "mn": 10**6, "mr": 10**9, "mlr": 10**9},  # bin, milyon, milyar
    "id": {"m": 10**9},  # miliar
    "cs": {"mil": 10**6},  # milionů
    "sk": {"mil": 10**6},
    "da": {"t": 10**3, "mio": 10**6, "mia": 10**9},
    "fi": {"t": 10**3},
    "vi": {"n": 10**3, "tr": 10**6, "t": 10**9},  # nghìn, triệu, tỷ
}
_CJK_SUFFIXES = {"千", "천", "万", "萬", "만", "亿", "億", "억"}


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Languages that write "1.234,5" (comma decimal); the others listed write "1,234.5".
COMMA_DECIMAL = _words(
    "af az be bg bs ca cs da de el es et eu fi fo fr gl hr hu hy id is it ka kk ky lt lv mk "
    "mn nb nl nn no pl pt ro ru sk sl sq sr sv tr uk uz vi"
)
DOT_DECIMAL = _words(
    "en ja zh ko th he iw hi bn ta te ml mr gu kn pa ur ms fil tl sw ga cy my km lo ne si"
)
# Regions whose decimal mark differs from their language's.
DOT_DECIMAL_REGIONS = frozenset({"es-mx", "es-us", "es-419", "de-ch", "de-li", "it-ch"})

_ZERO_RE = re.compile(
    r"^(?:no|none|sin|ningún|ninguna|keine?|aucune?|nenhuma?|nessun[oa]?|geen|brak|нет)\b",
    re.IGNORECASE,
)


def _suffix_pattern() -> str:
    words = set(SUFFIXES)
    for extra in LOCALE_SUFFIXES.values():
        words.update(extra)
    latin = sorted((w for w in words if w not in _CJK_SUFFIXES), key=len, reverse=True)
    latin_alt = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in latin)
    cjk = "".join(sorted(_CJK_SUFFIXES))
    # A Latin suffix must not run into a letter ("5 Kommentare" is 5, not 5 thousand).
    return rf"(?:(?:{latin_alt})\.?(?![^\W\d_])|[{cjk}])"


# The number: digits with "," "." or apostrophes between them, or spaces before a group of 3.
_NUMBER_RE = re.compile(r"\d+(?:(?:[.,'\u2019]|\s(?=\d{3}(?!\d)))\d+)*")
_SUFFIX_RE = re.compile(rf"\s*({_suffix_pattern()})", re.IGNORECASE)
_DIGIT_RE = re.compile(r"\d")
_MINUS = ("-", "\u2212", "+")
_LONE_LETTER_RE = re.compile(r"^\s*[^\W\d_]\.?(?:\s|$)")
_NUM_PARTS_RE = re.compile(r"(\D)")


def _decimal_mark(locale: str | None) -> str | None:
    if not locale:
        return None
    parts = re.split(r"[-_]", locale.strip().lower())
    lang = parts[0]
    if len(parts) > 1 and f"{lang}-{parts[1]}" in DOT_DECIMAL_REGIONS:
        return "."
    if lang in COMMA_DECIMAL:
        return ","
    if lang in DOT_DECIMAL:
        return "."
    return None


def _multiplier(suffix: str, locale: str | None) -> int:
    word = " ".join(suffix.lower().rstrip(".").split())
    lang = re.split(r"[-_]", locale.strip().lower())[0] if locale else ""
    local = LOCALE_SUFFIXES.get(lang, {})
    if word in local:
        return local[word]
    if word in SUFFIXES:
        return SUFFIXES[word]
    raise KeyError(word)  # a suffix only another language knows


def _split_number(num: str, decimal: str | None) -> tuple[str, str] | None:
    """Integer and fraction digits of ``num`` read with ``decimal`` as the decimal mark."""
    parts = _NUM_PARTS_RE.split(num)
    groups, seps = parts[0::2], parts[1::2]
    frac = ""
    if decimal is not None and decimal in seps:
        if seps.count(decimal) > 1 or seps[-1] != decimal:
            return None
        frac = groups.pop()
        seps = seps[:-1]
    if seps:
        kinds = {" " if s.isspace() else s for s in seps}
        if len(kinds) > 1 or not 1 <= len(groups[0]) <= 3:
            return None
        if any(len(g) != 3 for g in groups[1:]):
            return None
    return "".join(groups), frac


def _infer_decimal(num: str, has_suffix: bool) -> str | None:
    """The decimal mark of a number printed without a known locale; raises when unsure."""
    parts = _NUM_PARTS_RE.split(num)
    groups, seps = parts[0::2], parts[1::2]
    marks = [s for s in seps if s in ",."]
    if not marks:
        return None
    if len(set(marks)) == 2:
        return marks[-1]  # "1,234.5" / "1.234,5": the last one is the decimal mark
    if len(marks) > 1 or seps[-1] != marks[0]:
        return None  # "1,000,000": grouping
    after = len(groups[-1])
    if has_suffix and after in (1, 2):
        return marks[0]  # "46.3m", "4,69 M"
    if not has_suffix and after == 3:
        return None  # "1,234", "127.696"
    raise ValueError("ambiguous separator")


def parse_count(value: Any, locale: str | None = None) -> int | None:
    """A count as platforms print it ("46.3m", "1 234", "1,2 Mio. Abonnenten") as an int."""
    if value is None:
        return None
    if not isinstance(locale, str):
        locale = None  # a page language that is not text says nothing
    if isinstance(value, bool):
        raise UnreadableValue(value, "count")
    if isinstance(value, int):
        if value < 0:
            raise UnreadableValue(value, "count")
        return value
    if isinstance(value, (float, Decimal)):
        if not math.isfinite(value) or value < 0 or value != int(value):
            raise UnreadableValue(value, "count")
        return int(value)
    if not isinstance(value, str):
        raise UnreadableValue(value, "count")
    text = value.strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        if len(text.lstrip("0")) > _COUNT_DIGITS_LIMIT:
            raise ImplausibleValue(value, "count")
        return int(text)  # the common case, "4001943"
    if len(text) > _COUNT_TEXT_LIMIT:
        raise UnreadableValue(value, "count", f"unreadable count: {_short(value)}")
    match = _NUMBER_RE.search(text)  # words before the number are ignored
    if match is None:
        if _ZERO_RE.match(text):
            return 0  # "No views"
        raise UnreadableValue(value, "count")
    if text[: match.start()].rstrip().endswith(_MINUS):
        raise UnreadableValue(value, "count")  # negative
    num, end = match.group(), match.end()
    suffix_match = _SUFFIX_RE.match(text, end)
    suffix = suffix_match.group(1) if suffix_match else None
    rest = text[suffix_match.end():] if suffix_match else text[end:]
    if _DIGIT_RE.search(rest) or (suffix is None and _LONE_LETTER_RE.match(rest)):
        raise UnreadableValue(value, "count")  # a second number, or an unknown "12 T"
    try:
        multiplier = _multiplier(suffix, locale) if suffix else 1
        split = None
        mark = _decimal_mark(locale)
        if mark is not None:
            split = _split_number(num, mark)
        if split is None:
            split = _split_number(num, _infer_decimal(num, suffix is not None))
        if split is None:
            raise ValueError("bad grouping")
        whole, frac = split
        if len(whole.lstrip("0")) > _COUNT_DIGITS_LIMIT:
            raise ImplausibleValue(value, "count")
        number = Decimal(f"{whole}.{frac or 0}")
    except ImplausibleValue:
        raise
    except (KeyError, ValueError, InvalidOperation):
        raise UnreadableValue(value, "count") from None
    number *= multiplier
    if multiplier == 1 and number != number.to_integral_value():
        raise UnreadableValue(value, "count")  # "1.5" is not a count
    return int(number.to_integral_value(ROUND_HALF_UP))


# --- Timestamps --------------------------------------------------------------------------

_ISO_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$",
    re.IGNORECASE,
)
_EPOCH_RE = re.compile(r"^\d+(?:\.\d+)?$")


def _from_epoch(number: float, raw: Any) -> datetime:
    try:
        if not math.isfinite(number) or number < 0:
            raise UnreadableValue(raw, "timestamp")
        if number >= 1e11:  # milliseconds
            number /= 1000
        return datetime.fromtimestamp(number, UTC)
    except (OverflowError, OSError, ValueError):  # 10**400 is no float; year 10000 no date
        raise UnreadableValue(raw, "timestamp") from None


def _as_utc(moment: datetime, raw: Any) -> datetime:
    """``moment`` in UTC (naive taken as UTC); UnreadableValue when UTC is out of range."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01 00:00 +01:00 is before year 1 in UTC
        raise UnreadableValue(raw, "timestamp") from None


def _from_iso(match: re.Match[str]) -> datetime:
    year, month, day, hour, minute, second, frac, zone = match.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    tz = UTC
    if zone and zone[0] in "+-":
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
        tz = timezone(-offset if zone[0] == "-" else offset)
    parsed = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                      int(second or 0), micro, tzinfo=tz)
    return parsed.astimezone(UTC)


def parse_timestamp(value: Any) -> datetime | None:
    """A point in time as a timezone-aware UTC datetime (naive input is taken as UTC)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return _as_utc(value, value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, bool):
        raise UnreadableValue(value, "timestamp")
    if isinstance(value, (int, float)):
        return _from_epoch(value, value)
    if not isinstance(value, str):
        raise UnreadableValue(value, "timestamp")
    text = value.strip()
    if not text:
        return None
    if _EPOCH_RE.match(text):
        return _from_epoch(float(text), value)
    match = _ISO_RE.match(text)
    if match:
        try:
            return _from_iso(match)
        except (ValueError, OverflowError):
            raise UnreadableValue(value, "timestamp") from None
    try:
        parsed = parsedate_to_datetime(text)  # RFC 2822
    except (TypeError, ValueError, IndexError):
        raise UnreadableValue(value, "timestamp") from None
    if parsed is None:
        raise UnreadableValue(value, "timestamp")
    return _as_utc(parsed, value)


# --- Relative times ----------------------------------------------------------------------

TIME_UNITS: dict[str, str] = {}
for _unit, _names in {
    "second": "s sec secs second seconds segundo segundos sekunde sekunden seconde secondes "
              "secondo secondi",
    "minute": "m min mins minute minutes minuto minutos minuten minuti minuut",
    "hour": "h hr hrs hour hours hora horas stunde stunden heure heures ora ore uur",
    "day": "d day days día días dia dias tag tage tagen jour jours giorno giorni dag dagen",
    "week": "w wk wks week weeks semana semanas woche wochen semaine semaines settimana "
            "settimane weken",
    "month": "mo mos month months mes meses mês monat monate monaten mois mese mesi maand "
             "maanden",
    "year": "y yr yrs year years año años ano anos jahr jahre jahren an ans année années "
            "anno anni jaar jaren",
}.items():
    TIME_UNITS.update(dict.fromkeys(_names.split(), _unit))
_ONE = _words("a an one un una uno une um uma einem einer een")

_UNIT_ALT = "|".join(sorted(TIME_UNITS, key=len, reverse=True))
_N = rf"(?P<n>\d+|(?:{'|'.join(sorted(_ONE, key=len, reverse=True))})(?!\w))"
_U = rf"(?P<unit>{_UNIT_ALT})(?![^\W\d_])"
_RELATIVE_RES = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        rf"(?<!\w){_N}\s*{_U}\s+ago\b",  # en
        rf"\bhace\s+{_N}\s+{_U}",  # es
        rf"\bvor\s+{_N}\s+{_U}",  # de
        rf"(?:\bhá|\bha|\bfaz)\s+{_N}\s+{_U}",  # pt
        rf"(?<!\w){_N}\s+{_U}\s+atrás",  # pt
        rf"\bil\s+y\s+a\s+{_N}\s+{_U}",  # fr
        rf"(?<!\w){_N}\s+{_U}\s+fa\b",  # it
        rf"(?<!\w){_N}\s+{_U}\s+geleden\b",  # nl
    )
)
_STEP = {"second": timedelta(seconds=1), "minute": timedelta(minutes=1),
         "hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}


def _minus_months(moment: datetime, months: int) -> datetime:
    years, month0 = divmod(moment.month - 1 - months, 12)
    year = moment.year + years
    day = min(moment.day, calendar.monthrange(year, month0 + 1)[1])
    return moment.replace(year=year, month=month0 + 1, day=day)


def parse_relative_time(text: Any, now: datetime) -> tuple[datetime, str] | None:
    """("8 years ago", now) -> (now minus 8 years, "year"); None when not a relative time."""
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        now = _as_utc(now, now)
    except UnreadableValue:
        return None
    for pattern in _RELATIVE_RES:
        match = pattern.search(text)
        if match is None:
            continue
        word = match["n"]
        if len(word) > 9:
            return None  # "10000000000 years ago" reaches before year 1
        amount = int(word) if word.isdigit() else 1
        unit = TIME_UNITS[match["unit"].lower()]
        try:
            if unit == "month":
                return _minus_months(now, amount), unit
            if unit == "year":
                return _minus_months(now, amount * 12), unit
            return now - _STEP[unit] * amount, unit
        except (ValueError, OverflowError):
            return None
    return None


# --- Handles, tags, mentions -------------------------------------------------------------

CASE_INSENSITIVE = frozenset(PLATFORMS)  # every platform we crawl ignores case in handles
FEDERATED = frozenset(_FEDERATED)
# A scheme, "//", or "host.tld/..." ("www.fitness" alone is a valid Instagram handle).
_URL_LIKE_RE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|//|(?:[\w-]+\.)+[a-z]{2,}/)", re.I)
_YOUTUBE_CHANNEL_RE = re.compile(r"^UC[\w-]{22}$")
_INSTAGRAM_RESERVED = frozenset({"p", "reel", "reels", "tv", "explore", "accounts", "direct"})
_PIXELFED_RESERVED = frozenset({"i", "p", "c", "discover", "site", "api", "login", "register",
                                "settings", "account", "storage", "oauth"})


def _host(value: str | None) -> str | None:
    """The host of a URL or of a bare "host[:port][/path]", lower-case, without port."""
    if not value:
        return None
    text = value.strip()
    if "://" not in text:
        text = "//" + text.lstrip("@")
    try:
        host = urlsplit(text).hostname
    except ValueError:
        return None
    return (host or "").rstrip(".") or None


def _handle_from_url(url: str, platform: str) -> tuple[str | None, str | None]:
    """(handle text, host) from a profile URL; handle None when the URL names no account."""
    parts = urlsplit(url if "//" in url else "https://" + url)
    segs = [unquote(s) for s in parts.path.split("/") if s]
    host = (parts.hostname or "").rstrip(".") or None
    first = segs[0] if segs else ""
    second = segs[1] if len(segs) > 1 else None
    handle: str | None = None
    if first.startswith("@"):
        handle = first
    elif platform == "instagram":
        if first == "stories":
            handle = second
        elif first and first not in _INSTAGRAM_RESERVED:
            handle = first
    elif platform == "youtube":
        handle = second if first in ("c", "user", "channel") else None
    elif platform == "bluesky":
        handle = second if first == "profile" else None
    elif platform in FEDERATED:
        if first in ("users", "u"):
            handle = second
        elif platform == "pixelfed" and len(segs) == 1 and first not in _PIXELFED_RESERVED:
            handle = first
    elif platform not in CASE_INSENSITIVE and first:
        handle = first
    return handle, host


#: Distinct values the handle and tag normalisers remember (they are pure functions of text;
#: a crawl repeats the same authors, instances and hashtags on every post).
CACHE_SIZE = 65_536


def normalize_handle(value: Any, platform: str | None, *,
                     instance: str | None = None) -> str | None:
    """Canonical account handle: no "@", lower-case where the platform ignores case,
    ``user@instance`` on federated platforms."""
    if value is None:
        return None
    if type(value) is str and (platform is None or type(platform) is str) \
            and (instance is None or type(instance) is str):
        return _normalize_handle_text(value, platform, instance)
    return _normalize_handle(value, platform, instance)


def _normalize_handle(value: Any, platform: str | None, instance: str | None) -> str | None:
    text = str(value).strip()
    platform = (platform or "").strip().lower()
    url_host = None
    if _URL_LIKE_RE.match(text):
        handle, url_host = _handle_from_url(text, platform)
        if handle is None:
            return None
        text = handle.strip()
    text = text.lstrip("@").strip()
    if not text:
        return None
    if platform in FEDERATED:
        user, _, own_host = text.partition("@")
        user = user.strip().lower()
        if not user:
            return None
        host = _host(own_host) or url_host or _host(instance)
        return f"{user}@{host.lower()}" if host else user
    if platform == "youtube" and _YOUTUBE_CHANNEL_RE.match(text):
        return text  # a channel id, not a handle: case matters
    if platform == "bluesky":
        if text.startswith("did:"):
            return text
        text = text.rstrip(".")
    return text.lower() if platform in CASE_INSENSITIVE else text


_normalize_handle_text = functools.lru_cache(maxsize=CACHE_SIZE)(_normalize_handle)


def normalize_tag(tag: Any) -> str | None:
    """"#Café" -> "café": no "#", NFC, lower-case; None when nothing is left."""
    if tag is None:
        return None
    return _normalize_tag_text(tag if type(tag) is str else str(tag))


@functools.lru_cache(maxsize=CACHE_SIZE)
def _normalize_tag_text(tag: str) -> str | None:
    text = unicodedata.normalize("NFC", tag).strip().lstrip("#\uff03").strip()
    if not text:
        return None
    return unicodedata.normalize("NFC", text.lower())


# Code point spans that hold every combining mark (Mn, Mc) of the Unicode data Python ships;
# scanning only these keeps the import fast. tests/test_values.py checks none is missed.
MARK_SPANS = (
    (0x0300, 0x109D), (0x135D, 0x135F), (0x1712, 0x1DFF), (0x20D0, 0x20F0), (0x2CEF, 0x2DFF),
    (0x302A, 0x309A), (0xA66F, 0xABED), (0xFB1E, 0xFB1E), (0xFE20, 0xFE2F), (0x101FD, 0x1037A),
    (0x10A01, 0x10AE6), (0x10D24, 0x11EF6), (0x16AF0, 0x16B36), (0x16F4F, 0x16FF1),
    (0x1BC9D, 0x1BC9E), (0x1CF00, 0x1CF46), (0x1D165, 0x1D244), (0x1DA00, 0x1DAAF),
    (0x1E000, 0x1E2EF), (0x1E8D0, 0x1E94A),
)


def mark_ranges() -> list[tuple[int, int]]:
    """The combining marks (Mn, Mc) as (first, last) ranges, so decomposed accents stay in a
    tag. Variation selectors are left out: they belong to emoji, not words."""
    ranges: list[list[int]] = []
    for first, last in MARK_SPANS:
        for code in range(first, last + 1):
            if unicodedata.category(chr(code)) not in ("Mn", "Mc"):
                continue
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    return [(a, b) for a, b in ranges]


_MARKS = "".join(f"{chr(a)}-{chr(b)}" if a != b else chr(a) for a, b in mark_ranges())
# The "#" first (so the scanner can jump to it), then a look back past it at the character
# before: a word character, mark, "&" (entities such as &#39;) or "/" (URL fragments).
_HASHTAG_RE = re.compile(rf"[#\uff03](?<![\w&/{_MARKS}][#\uff03])((?:[\w{_MARKS}]|\u200c|\u200d)+)")
_MENTION_RE = re.compile(
    r"(?<![\w@./&])@(\w(?:[\w.-]*\w)?(?:@[\w-]+(?:\.[\w-]+)+)?)"
)


def _unique(values: Any) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        if value and value not in seen:
            seen[value] = None
    return list(seen)


def extract_hashtags(text: Any) -> list[str]:
    """Normalised hashtags in ``text``, in order of first appearance ([] for anything but text)."""
    if not text or not isinstance(text, str) or ("#" not in text and "\uff03" not in text):
        return []
    return _unique(
        normalize_tag(body) for body in _HASHTAG_RE.findall(text)
        if not body.isdigit()
    )


def extract_mentions(text: Any) -> list[str]:
    """Mentioned accounts ("user", "user@instance.social", "name.bsky.social"), lower-case;
    [] for anything but text."""
    if not text or not isinstance(text, str) or "@" not in text:
        return []
    return _unique(m.lower() for m in _MENTION_RE.findall(text))


def merge_tags(*lists: Any) -> list[str]:
    """All tags of the given lists, normalised, de-duplicated, first appearance first."""
    return _unique(normalize_tag(tag) for tags in lists if tags for tag in tags)


# --- Text, HTML, URLs --------------------------------------------------------------------

_TAG_RE = re.compile(r"<[a-zA-Z/!]")
_NEWLINE_SPACE_RE = re.compile(r"[ \t\r\n]*\n[ \t\r\n]*")
_BR_RE = re.compile(r"<br\s*/?>", re.IGNORECASE)
_BLOCK_RE = re.compile(r"</?(?:p|div|blockquote|pre|h[1-6]|ul|ol)(?:\s[^>]*)?>", re.IGNORECASE)
_LI_RE = re.compile(r"</li\s*>", re.IGNORECASE)
_LINE_EDGE_RE = re.compile(r"[ \t]*\n[ \t]*")
_BLANK_LINES_RE = re.compile(r"\n{3,}")


def html_to_text(html: Any) -> str:
    """Mastodon/Pixelfed status or bio HTML to plain text. A field that is HTML stays HTML without
    a tag: "Musician &amp; photographer" (a Pixelfed note) decodes to "Musician & photographer".
    Anything but text (None, a number or list where HTML belongs) gives ""."""
    if not html or not isinstance(html, str):
        return ""
    if not _TAG_RE.search(html):
        return replace_entities(html).strip()
    text = _NEWLINE_SPACE_RE.sub(" ", html)  # source newlines are only whitespace in HTML
    text = _BR_RE.sub("\n", text)
    text = _BLOCK_RE.sub("\n\n", text)
    text = _LI_RE.sub("\n", text)
    text = replace_entities(remove_tags(text))  # invisible spans keep their text: whole URLs
    text = _LINE_EDGE_RE.sub("\n", text)
    return _BLANK_LINES_RE.sub("\n\n", text).strip()


def normalize_text(text: Any) -> str | None:
    """NFC and surrounding whitespace stripped; everything else verbatim. None when empty."""
    if text is None:
        return None
    if type(text) is str and text.isascii():  # ASCII is its own NFC
        return text.strip() or None
    value = unicodedata.normalize("NFC", str(text)).strip()
    return value or None


_BAD_SCHEMES = frozenset({"javascript", "data", "vbscript"})
_SCHEME_RE = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_DOMAIN_RE = re.compile(r"^(?:[\w-]+\.)+[a-z]{2,}(?::\d+)?(?:[/?#]|$)", re.IGNORECASE)
_URL_CONTROL_RE = re.compile(r"[\t\r\n]")
_CLEAN_ABSOLUTE_RE = re.compile(r"https?://[^/?#@A-Z\s]+(?:[/?#]|$)")  # already canonical
_ORIGIN_RE = re.compile(r"https?://[^/?#]+", re.IGNORECASE)


def normalize_url(url: Any, base: str | None = None) -> str | None:
    """An absolute URL: relative ones joined to ``base``, "www.x.com/y" given https://;
    javascript:, data: and vbscript: URLs, and relative ones without a base, give None."""
    if url is None:
        return None
    text = _URL_CONTROL_RE.sub("", str(url)).strip()
    if not text:
        return None
    if _CLEAN_ABSOLUTE_RE.match(text):
        return text
    origin = _ORIGIN_RE.match(base) if base else None
    if origin and text[0] == "/" and text[1:2] != "/" and "/." not in text:
        text = origin.group() + text  # "/p/abc/" the cheap way; urljoin below for the rest
        if _CLEAN_ABSOLUTE_RE.match(text):
            return text
    scheme = _SCHEME_RE.match(text)
    if scheme is None:
        if text.startswith("//"):
            base_scheme = urlsplit(base).scheme if base else ""
            text = f"{base_scheme or 'https'}:{text}"
        elif text.lower().startswith("www.") or (not base and _DOMAIN_RE.match(text)):
            text = "https://" + text
        elif base:
            text = urljoin(base.strip(), text)
        else:
            return None
        scheme = _SCHEME_RE.match(text)
        if scheme is None:
            return None
    if scheme.group(1).lower() in _BAD_SCHEMES:
        return None
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme in ("http", "https") and not parts.netloc:
        return None
    return urlunsplit(parts._replace(scheme=parts.scheme.lower(), netloc=_lower_host(parts.netloc)))


def _lower_host(netloc: str) -> str:
    userinfo, at, hostport = netloc.rpartition("@")
    return f"{userinfo}{at}{hostport.lower()}"


# --- JSON --------------------------------------------------------------------------------

#: Payloads keep this many levels of nesting (a real body has under 30); deeper parts would
#: overflow the recursion of every JSON encoder on the way to the database.
JSON_DEPTH_LIMIT = 100


def to_jsonable(obj: Any, _depth: int = 0) -> Any:
    """``obj`` (an item, nested lists, datetimes, ...) as JSON-serialisable values that both
    databases store: text through :func:`storable_text`, non-finite floats as text, and what
    lies deeper than :data:`JSON_DEPTH_LIMIT` levels as a note saying so."""
    if isinstance(obj, str):
        return storable_text(obj)
    if obj is None or isinstance(obj, (bool, int)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else str(obj)
    if isinstance(obj, (datetime, date)):
        return obj.isoformat()
    if isinstance(obj, (bytes, bytearray)):
        return storable_text(bytes(obj).decode("utf-8", "replace"))
    inner = _depth + 1
    if inner > JSON_DEPTH_LIMIT and isinstance(obj, (dict, list, tuple, set, frozenset)):
        return f"<{type(obj).__name__} nested deeper than {JSON_DEPTH_LIMIT} levels, not kept>"
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name), inner) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {storable_text(str(k)): to_jsonable(v, inner) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_jsonable(v, inner) for v in obj]
    return storable_text(str(obj))  # Decimal, Path, ...
