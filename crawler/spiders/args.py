"""Spider arguments: the common ones (:class:`SpiderArgs`) and each spider's own (:class:`Params`).

``scrapy crawl <platform> -a tags=veganfood,plantbased -a min_followers=1000`` builds a
:class:`SpiderArgs` in ``__init__``; a bad value raises ``ValueError`` with a one-line message
before any request is sent. Arguments:

==================  ===========================================================  ==========
argument            meaning                                                      default
==================  ===========================================================  ==========
``tags``            comma list of hashtags ('#' optional; lower-cased, NFC)      none
``handles``         comma list of accounts (``user@instance``, ``@user``, URL)   none
``handles_file``    file with one handle a line; ``#`` starts a comment          none
``min_followers``   skip authors with fewer followers                            none
``max_followers``   skip authors with more followers                             none
``max_pages``       listing pages fetched per tag                                5
``max_posts``       listing entries (sightings) read per tag                     200
``recent_posts``    recent posts fetched per author                              20
``listing``         which listing of a tag to sweep (the spider says which)      first one
``max_age``         refresh: re-crawl known accounts whose latest snapshot is     none
                    older than this ("24h", "7d", "90m", seconds), oldest first
``tier``            refresh: only accounts of this tier                          any
``niche``           refresh: only accounts with this primary niche               any
``limit``           refresh: at most this many accounts                          all
==================  ===========================================================  ==========

At least one of ``tags``, ``handles``, ``handles_file`` or ``max_age`` is required. A refresh
reads the stale accounts from the warehouse (``MICROSCOUT_DATABASE_URL``) when the crawl starts.
``job`` (or scrapyd's ``_job``) labels the run. Unknown arguments are refused (a typo would
otherwise be ignored silently), except ``_``-prefixed ones that schedulers such as scrapyd
add. ``spider.run_args`` holds the validated values as a JSON-serialisable dict for the
warehouse's ``crawl_runs`` record.

A spider adds its own arguments as a :class:`Params` dataclass composed of mixins
(``BaseUrlParams``, ...), zyte-spider-templates style: each field says how its text is read
(``parse``) and which other names it answers to (``aliases``). Handles are read by the spider's
``normalize_handle`` (a platform's own rule), so no spider rewrites arguments in ``__init__``.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, Protocol
from urllib.parse import urlsplit

from crawler.settings_check import mask_password

_TAG = re.compile(r"^\w+$")
_USER = re.compile(r"^[\w.\-]+$")
_HOST = re.compile(r"^[a-z0-9]([a-z0-9\-.]*[a-z0-9])?(:\d{1,5})?$")
_LABEL = re.compile(r"^(?!-)[\w-]{1,63}(?<!-)$")
#: Longer than any platform's hashtags; a longer one would only make a URL Scrapy drops unread.
MAX_TAG_LENGTH = 100


def _is_host(name: str) -> bool:
    """A DNS name (letters, digits, '-', '_' in dot-separated labels) or an IP address."""
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        pass
    labels = name.removesuffix(".").split(".")
    return len(name) <= 253 and all(_LABEL.match(label) for label in labels)


def normalize_base_url(value: Any, *, name: str = "base_url", example: str = "https://www.example.com",
                       allow_path: bool = False) -> str:
    """'www.example.com' / 'https://WWW.example.com/' -> 'https://www.example.com'.

    http:// is accepted (the sandbox runs on http://127.0.0.1:PORT); a query or fragment is
    refused, and a path too unless ``allow_path`` (API bases such as .../youtube/v3).
    """
    text = str(value or "").strip().rstrip("/")
    given = mask_password(str(value))  # errors never show a password
    if not text:
        raise ValueError(f"{name} must not be empty (e.g. {example})")
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
    except ValueError:  # e.g. a bracketed host that is not an IPv6 address
        raise ValueError(f"{name} must be a URL like {example}, got {given!r}") from None
    try:
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        port_ok = False
    if (parts.scheme not in ("http", "https") or not parts.hostname or not port_ok
            or not _is_host(parts.hostname)):
        raise ValueError(f"{name} must be a URL like {example}, got {given!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{name} must not hold a user name or password (given for {parts.hostname})")
    if parts.query or parts.fragment or (parts.path not in ("", "/") and not allow_path):
        raise ValueError(f"{name} must be a base URL without a path, got {given!r}")
    return f"{parts.scheme}://{parts.netloc.lower()}{parts.path if allow_path else ''}"


def normalize_tag_arg(value: str) -> str:
    """'#VeganFood ' -> 'veganfood'; raises ValueError for what cannot be a hashtag."""
    tag = unicodedata.normalize("NFC", value.strip().lstrip("#")).lower()
    if len(tag) > MAX_TAG_LENGTH:
        raise ValueError(f"tags: {tag[:20]!r}... is {len(tag)} characters long; a hashtag has at "
                         f"most {MAX_TAG_LENGTH}")
    if not _TAG.match(tag):
        raise ValueError(f"tags: {value.strip()!r} is not a hashtag (letters, digits, _)")
    return tag


def normalize_handle_arg(value: str) -> str:
    """'@Alice@Example.Social', 'https://example.social/@alice' -> 'alice@example.social';
    a bare 'alice' stays bare (the spider qualifies it with its own instance)."""
    text = value.strip()
    if text.startswith(("http://", "https://")):
        parts = urlsplit(text)
        path = parts.path.strip("/")
        if not path.startswith("@") or "/" in path:
            raise ValueError(f"handles: {text!r} is not a profile URL like https://host/@user")
        text = f"{path}@{parts.netloc}" if "@" not in path[1:] else path
    text = text.lstrip("@").lower()
    user, _, host = text.partition("@")
    if not user or not _USER.match(user) or (host and not _HOST.match(host)) or "@" in host:
        raise ValueError(f"handles: {value.strip()!r} is not a handle like user@instance")
    return f"{user}@{host}" if host else user


def _split(value: Any) -> list[str]:
    if value is None:
        return []
    parts = [str(v) for v in value] if isinstance(value, (list, tuple)) else str(value).split(",")
    return [part.strip() for part in parts if part.strip()]


def _int(name: str, value: Any, *, minimum: int | None = None) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    try:
        number = int(str(value).strip().replace("_", "").replace(",", ""))
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {number}")
    return number


_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
_AGE_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_age(value: Any) -> float | None:
    """'24h', '7d', '90m', '3600' -> seconds; None when absent; ValueError when unreadable."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    match = _AGE.match(str(value))
    if not match:
        raise ValueError(f"max_age must look like 24h, 7d, 90m or seconds, got {value!r}")
    return float(match.group(1)) * _AGE_UNITS[match.group(2).lower()]


def read_handles_file(path: str | Path) -> list[str]:
    """Handles from a text file: one a line, blank lines and ``#`` comments ignored."""
    file = Path(path).expanduser()
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ValueError(f"handles_file: {str(file)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"handles_file: cannot read {str(file)!r}: {exc}") from None
    handles = []
    for line in lines:
        text = line.split("#", 1)[0].strip()
        if text:
            handles.append(text)
    return handles



class ArgRules(Protocol):
    """What a spider class tells :meth:`SpiderArgs.from_kwargs` about its platform."""

    listings: ClassVar[tuple[str, ...]]
    max_recent_posts: ClassVar[int | None]
    default_recent_posts: ClassVar[int]

    @classmethod
    def normalize_handle(cls, value: str) -> str: ...


@dataclass
class SpiderArgs:
    """The validated common arguments of a crawl (see the module docstring)."""

    tags: list[str] = field(default_factory=list)
    handles: list[str] = field(default_factory=list)
    handles_file: str | None = None
    min_followers: int | None = None
    max_followers: int | None = None
    max_pages: int = 5
    max_posts: int = 200
    recent_posts: int = 20
    listing: str = "recent"
    max_age: float | None = None  # seconds
    tier: str | None = None
    niche: str | None = None
    limit: int | None = None

    @classmethod
    def from_kwargs(cls, kwargs: dict[str, Any], rules: type[ArgRules] | None = None, *,
                    has_other_work: bool = False) -> SpiderArgs:
        """Read and validate the string arguments Scrapy passes (``-a name=value``).

        ``rules`` is the spider class (its listings, recent-post cap and handle rule);
        ``has_other_work`` says the spider's own arguments name something to crawl (feeds).
        """
        listings = rules.listings if rules else ("recent",)
        normalize = rules.normalize_handle if rules else normalize_handle_arg
        default_recent = rules.default_recent_posts if rules else 20
        handles = _split(kwargs.get("handles"))
        handles_file = kwargs.get("handles_file") or None
        if handles_file:
            handles += read_handles_file(handles_file)
        recent = _int("recent_posts", kwargs.get("recent_posts"), minimum=0)
        args = cls(
            tags=[normalize_tag_arg(tag) for tag in _split(kwargs.get("tags"))],
            handles=[normalize(handle) for handle in handles],
            handles_file=str(handles_file) if handles_file else None,
            min_followers=_int("min_followers", kwargs.get("min_followers"), minimum=0),
            max_followers=_int("max_followers", kwargs.get("max_followers"), minimum=0),
            max_pages=_int("max_pages", kwargs.get("max_pages"), minimum=1) or 5,
            max_posts=_int("max_posts", kwargs.get("max_posts"), minimum=1) or 200,
            recent_posts=default_recent if recent is None else recent,
            listing=str(kwargs.get("listing") or listings[0]).strip().lower(),
            max_age=parse_age(kwargs.get("max_age")),
            tier=(str(kwargs["tier"]).strip().lower() or None) if kwargs.get("tier") else None,
            niche=(str(kwargs["niche"]).strip().lower() or None) if kwargs.get("niche") else None,
            limit=_int("limit", kwargs.get("limit"), minimum=1),
        )
        args.validate(listings=listings, max_recent_posts=rules.max_recent_posts if rules else None,
                      has_other_work=has_other_work)
        return args

    def validate(self, *, listings: tuple[str, ...] = ("recent",),
                 max_recent_posts: int | None = None, has_other_work: bool = False) -> None:
        """Cross-field checks; raises ValueError with a one-line message."""
        if not (self.tags or self.handles or self.max_age is not None or has_other_work):
            raise ValueError("nothing to crawl: give -a tags=a,b, -a handles=... / handles_file=... "
                             "or -a max_age=24h (refresh)")
        if (
            self.min_followers is not None
            and self.max_followers is not None
            and self.min_followers > self.max_followers
        ):
            raise ValueError(
                f"min_followers ({self.min_followers}) is above max_followers ({self.max_followers})"
            )
        if self.listing not in listings:
            raise ValueError(f"listing must be one of {', '.join(listings)}, got {self.listing!r}")
        if max_recent_posts is not None and self.recent_posts > max_recent_posts:
            raise ValueError(
                f"recent_posts must be at most {max_recent_posts}, got {self.recent_posts}"
            )
        # De-duplicate, keeping the order given.
        self.tags = list(dict.fromkeys(self.tags))
        self.handles = list(dict.fromkeys(self.handles))

    def in_range(self, followers: int | None) -> bool:
        """Whether a follower count passes min/max (unknown counts pass: keep, do not guess)."""
        if followers is None:
            return True
        if self.min_followers is not None and followers < self.min_followers:
            return False
        return not (self.max_followers is not None and followers > self.max_followers)


COMMON_ARGS: tuple[str, ...] = tuple(f.name for f in fields(SpiderArgs))

# --- a spider's own arguments ------------------------------------------------------------------

Parse = Callable[[Any, Any], Any]  # (raw text, spider class) -> value; ValueError when unreadable


def param(default: Any = None, *, parse: Parse | None = None,
          aliases: tuple[str, ...] | Callable[[Any], tuple[str, ...]] = (), stored: bool = True) -> Any:
    """A spider argument: ``parse(raw, spider_cls)`` reads a given value (the default is used
    as it is); ``aliases`` are other names it is given by (or a function of the spider class
    giving them); ``stored`` puts it in run_args."""
    return field(default=default, metadata={"parse": parse, "aliases": aliases, "stored": stored})


@dataclass
class Params:
    """A spider's own arguments. Subclasses are dataclasses composed of mixins."""

    @staticmethod
    def _names(f: Any, spider_cls: Any) -> tuple[str, ...]:
        aliases = f.metadata.get("aliases", ())
        return (f.name, *(aliases(spider_cls) if callable(aliases) else aliases))

    @classmethod
    def names(cls, spider_cls: Any) -> set[str]:
        """Every name (and alias) an argument of this model answers to."""
        return {name for f in fields(cls) for name in cls._names(f, spider_cls)}

    @classmethod
    def from_kwargs(cls, kwargs: dict[str, Any], spider_cls: Any) -> Params:
        values: dict[str, Any] = {}
        for f in fields(cls):
            for name in cls._names(f, spider_cls):
                raw = kwargs.get(name)
                if raw is not None and str(raw).strip() != "":
                    parse = f.metadata.get("parse")
                    values[f.name] = parse(raw, spider_cls) if parse else raw
                    break
        params = cls(**values)
        params.validate(spider_cls)
        return params

    def validate(self, spider_cls: Any) -> None:
        """Cross-field checks of the spider's own arguments (subclass hook)."""

    def has_work(self) -> bool:
        """Whether these arguments name something to crawl besides tags and handles."""
        return False

    def stored(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.metadata.get("stored", True)}


def _base_url(value: Any, spider_cls: Any) -> str:
    return normalize_base_url(value, name=spider_cls.base_url_label(),
                              example=spider_cls.default_base_url or "https://www.example.com")


@dataclass
class BaseUrlParams(Params):
    """``base_url``: where the platform is (its live site, an instance, the sandbox). Platforms
    may know it by an older name too (``instance``, ``appview``: see the platform registry)."""

    base_url: str | None = param(None, parse=_base_url, stored=False,
                                 aliases=lambda spider_cls: spider_cls.base_url_aliases)


def float_arg(name: str, *, minimum: float = 0.0) -> Parse:
    """A parser for a number-of-seconds argument."""
    def parse(value: Any, spider_cls: Any) -> float:
        try:
            number = float(str(value).strip())
        except ValueError:
            raise ValueError(f"{name} must be a number of seconds, got {value!r}") from None
        if number < minimum:
            raise ValueError(f"{name} must be at least {minimum:g}, got {number:g}")
        return number
    return parse


def choice_arg(name: str, choices: tuple[str, ...]) -> Parse:
    """A parser for an argument with a fixed set of values (case-insensitive)."""
    def parse(value: Any, spider_cls: Any) -> str:
        text = str(value).strip().lower()
        if text not in choices:
            raise ValueError(f"{name} must be one of {', '.join(choices)}, got {text!r}")
        return text
    return parse


__all__ = ["COMMON_ARGS", "BaseUrlParams", "Params", "SpiderArgs", "asdict", "choice_arg", "float_arg",
           "normalize_base_url", "normalize_handle_arg", "normalize_tag_arg", "param", "parse_age",
           "read_handles_file"]
