"""What every microscout spider shares: its ``-a`` arguments, validated up front.

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
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

_TAG = re.compile(r"^\w+$")
_USER = re.compile(r"^[\w.\-]+$")
_HOST = re.compile(r"^[a-z0-9]([a-z0-9\-.]*[a-z0-9])?(:\d{1,5})?$")


#: Characters of a body kept as the quarantine payload of a failed or unreadable response.
PAYLOAD_CHARS = 2000


def normalize_base_url(value: Any, *, name: str = "base_url", example: str = "https://www.example.com",
                       allow_path: bool = False) -> str:
    """'www.example.com' / 'https://WWW.example.com/' -> 'https://www.example.com'.

    http:// is accepted (the sandbox runs on http://127.0.0.1:PORT); a query or fragment is
    refused, and a path too unless ``allow_path`` (API bases such as .../youtube/v3).
    """
    text = str(value or "").strip().rstrip("/")
    if not text:
        raise ValueError(f"{name} must not be empty (e.g. {example})")
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    try:
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        port_ok = False
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise ValueError(f"{name} must be a URL like {example}, got {value!r}")
    if parts.query or parts.fragment or (parts.path not in ("", "/") and not allow_path):
        raise ValueError(f"{name} must be a base URL without a path, got {value!r}")
    return f"{parts.scheme}://{parts.netloc.lower()}{parts.path if allow_path else ''}"


def body_text(response: Response) -> str:
    if isinstance(response, TextResponse):
        return response.text
    return response.body.decode("utf-8", errors="replace")


def describe_failure(failure: Failure) -> tuple[str, str, str | None]:
    """(reason, detail, payload) of a failed request: an HTTP error status (after retries), a
    robots.txt refusal, or a network error. Spiders' errbacks turn it into a RejectedItem."""
    if failure.check(HttpError):
        response = failure.value.response
        status = response.status
        reason = {404: "not_found", 410: "not_found", 429: "rate_limited"}.get(status, "request_failed")
        return reason, f"HTTP {status}", body_text(response)[:PAYLOAD_CHARS]
    if failure.check(IgnoreRequest):
        message = str(failure.value)
        reason = "robots_disallowed" if "robots.txt" in message else "request_ignored"
        return reason, message or "IgnoreRequest", None
    return "request_failed", f"{type(failure.value).__name__}: {failure.value}", None


def normalize_tag_arg(value: str) -> str:
    """'#VeganFood ' -> 'veganfood'; raises ValueError for what cannot be a hashtag."""
    tag = unicodedata.normalize("NFC", value.strip().lstrip("#")).lower()
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


@dataclass
class SpiderArgs:
    """The validated arguments of a crawl (see the module docstring)."""

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
    def from_kwargs(
        cls,
        kwargs: dict[str, Any],
        *,
        listings: tuple[str, ...] = ("recent",),
        max_recent_posts: int | None = None,
    ) -> SpiderArgs:
        """Read and validate the string arguments Scrapy passes (``-a name=value``)."""
        handles = _split(kwargs.get("handles"))
        handles_file = kwargs.get("handles_file") or None
        if handles_file:
            handles += read_handles_file(handles_file)
        args = cls(
            tags=[normalize_tag_arg(tag) for tag in _split(kwargs.get("tags"))],
            handles=[normalize_handle_arg(handle) for handle in handles],
            handles_file=str(handles_file) if handles_file else None,
            min_followers=_int("min_followers", kwargs.get("min_followers"), minimum=0),
            max_followers=_int("max_followers", kwargs.get("max_followers"), minimum=0),
            max_pages=_int("max_pages", kwargs.get("max_pages"), minimum=1) or 5,
            max_posts=_int("max_posts", kwargs.get("max_posts"), minimum=1) or 200,
            recent_posts=cls._recent(kwargs.get("recent_posts")),
            listing=str(kwargs.get("listing") or listings[0]).strip().lower(),
            max_age=parse_age(kwargs.get("max_age")),
            tier=(str(kwargs["tier"]).strip().lower() or None) if kwargs.get("tier") else None,
            niche=(str(kwargs["niche"]).strip().lower() or None) if kwargs.get("niche") else None,
            limit=_int("limit", kwargs.get("limit"), minimum=1),
        )
        args.validate(listings=listings, max_recent_posts=max_recent_posts)
        return args

    @staticmethod
    def _recent(value: Any) -> int:
        number = _int("recent_posts", value, minimum=0)
        return 20 if number is None else number

    def validate(
        self, *, listings: tuple[str, ...] = ("recent",), max_recent_posts: int | None = None
    ) -> None:
        """Cross-field checks; raises ValueError with a one-line message."""
        if not self.tags and not self.handles and self.max_age is None:
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


class BaseSpider(scrapy.Spider):
    """Spider base: argument handling shared by the platform spiders.

    Subclasses set ``platform`` (picks ``MICROSCOUT_RATE_LIMITS``), ``listings`` (allowed
    ``listing`` values, the first is the default), ``max_recent_posts`` (the API's page cap)
    and ``extra_args`` (names of their own arguments, which they pop before calling
    ``super().__init__`` or read from ``self.extra``).
    """

    platform: ClassVar[str] = ""
    listings: ClassVar[tuple[str, ...]] = ("recent",)
    max_recent_posts: ClassVar[int | None] = None
    extra_args: ClassVar[tuple[str, ...]] = ()
    common_args: ClassVar[tuple[str, ...]] = tuple(SpiderArgs.__dataclass_fields__)
    #: Platforms whose warehouse accounts this spider refreshes (Pixelfed via the Mastodon API).
    refresh_platforms: ClassVar[tuple[str, ...]] = ()

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        known = set(self.common_args) | set(self.extra_args) | {"job"}
        unknown = sorted(k for k in kwargs if k not in known and not k.startswith("_"))
        if unknown:
            raise ValueError(
                f"unknown argument(s) {', '.join(unknown)}; accepted: {', '.join(sorted(known))}"
            )
        self.args = SpiderArgs.from_kwargs(
            {k: kwargs.pop(k) for k in self.common_args if k in kwargs},
            listings=self.listings,
            max_recent_posts=self.max_recent_posts,
        )
        self.extra = {k: kwargs.pop(k) for k in self.extra_args if k in kwargs}
        #: A label for the run (the warehouse stores it in crawl_runs.job); scrapyd's _job.
        self.job: str | None = kwargs.pop("job", None) or kwargs.get("_job")
        #: (platform, handle) pairs this crawl run already loaded; a resumed run skips them.
        #: The warehouse pipeline fills it when the spider opens.
        self.loaded_handles: set[tuple[str, str]] = set()
        super().__init__(name, **kwargs)

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any):
        spider = super().from_crawler(crawler, *args, **kwargs)
        if spider.args.max_age is not None:
            spider.add_stale_handles(crawler.settings.get("MICROSCOUT_DATABASE_URL"))
        return spider

    def add_stale_handles(self, database_url: str) -> None:
        """Refresh: add the accounts whose latest snapshot is older than max_age, oldest first."""
        from models import make_engine
        from models.queries import stale_handles

        engine = make_engine(database_url)
        try:
            handles = stale_handles(engine, self.refresh_platforms or (self.platform,),
                                    max_age=self.args.max_age, tier=self.args.tier,
                                    niche=self.args.niche, limit=self.args.limit)
        finally:
            engine.dispose()
        self.args.handles = list(dict.fromkeys([*self.args.handles, *handles]))
        self.logger.info("Refresh: %d accounts older than %ss", len(handles), self.args.max_age)

    def already_loaded(self, platform: str, handle: str | None) -> bool:
        """Whether this run loaded the account before a restart (then it is not fetched again)."""
        if handle and (platform, handle) in self.loaded_handles:
            self.stat("resume_skipped")
            return True
        return False

    @property
    def run_args(self) -> dict[str, Any]:
        """The crawl's arguments as stored in ``crawl_runs`` (JSON-serialisable)."""
        return {"platform": self.platform, **asdict(self.args), **self.spider_run_args()}

    def spider_run_args(self) -> dict[str, Any]:
        """Subclass hook: the spider's own arguments for :attr:`run_args`."""
        return {}

    def stat(self, key: str, value: int = 1) -> None:
        """Increment ``microscout/<platform>/<key>``."""
        if getattr(self, "crawler", None) is not None and self.crawler.stats is not None:
            self.crawler.stats.inc_value(f"microscout/{self.platform}/{key}", value)
