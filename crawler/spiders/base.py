"""What every microscout spider shares: its arguments and one request/response protocol.

Arguments (:mod:`crawler.spiders.args`): the common :class:`SpiderArgs` (``self.args``) and the
spider's own :class:`Params` model (``self.params``), both validated in ``__init__``, so a bad
``-a`` value is a one-line ``ValueError`` before any request is sent.

The protocol, the same for every platform:

* :meth:`BaseSpider.request` is the only request factory: it names the request's ``kind``
  (``request.meta["microscout_kind"]``), the item type a failure of it is recorded as, and sets
  the one errback. Proxy and credentials are not set here: the downloader middleware
  :class:`crawler.credentials.CredentialsMiddleware` applies them to every request, robots.txt
  included, from :meth:`BaseSpider.credentials`.
* Callbacks read a body with :meth:`BaseSpider.decode` (JSON by default), which raises the typed
  errors of :mod:`crawler.errors` for what is not data; they never catch them.
* :class:`crawler.spidermiddlewares.QuarantineMiddleware` turns those errors into a retry or a
  ``RejectedItem``, then yields what :meth:`BaseSpider.after_failure` says the failed request
  leaves behind (held sightings, a profile without its posts).
* :meth:`BaseSpider.on_error` is the one errback: exhausted retries, HTTP errors, robots.txt
  refusals and network errors become ``RejectedItem`` rows the same way.

Both middlewares are switched on by :meth:`BaseSpider.update_settings`, so the protocol holds
with any settings (the project's, a test's, Scrapyd's).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler.errors import BlockedPage, CrawlError, RetryableBody
from crawler.items import ProfileItem, RejectedItem
from crawler.parsers import loads_json
from crawler.quota import QuotaExhausted
from crawler.spiders.args import (
    COMMON_ARGS,
    Params,
    SpiderArgs,
    normalize_base_url,
    normalize_handle_arg,
    normalize_tag_arg,
    parse_age,
    read_handles_file,
)

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

    from crawler.credentials import Credential

#: Characters of a body kept as the quarantine payload of a failed or unreadable response.
PAYLOAD_CHARS = 2000
#: The protocol's middlewares, added to every crawl of a microscout spider.
PROTOCOL_SPIDER_MIDDLEWARES = {"crawler.spidermiddlewares.QuarantineMiddleware": 50}
#: Credentials go on after RateLimitMiddleware's wait (560) and before Scrapy's redirect (600),
#: cookie (700) and proxy (750) middlewares: a token renewed while a request waited goes out.
#: Official API budgets are booked just before, when the request really leaves (crawler/quota.py).
PROTOCOL_DOWNLOADER_MIDDLEWARES = {"crawler.quota.QuotaMiddleware": 565,
                                   "crawler.credentials.CredentialsMiddleware": 570}

Output = Iterator[Any]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def body_text(response: Response) -> str:
    if isinstance(response, TextResponse):
        return response.text
    return response.body.decode("utf-8", errors="replace")


def describe_failure(failure: Failure) -> tuple[str, str, str | None]:
    """(reason, detail, payload) of a failed request: an HTTP error status (after retries), a
    robots.txt refusal, or a network error."""
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


def size_detail(response: Response) -> str:
    """'HTTP 200, 512 bytes': the detail of a body that could not be read."""
    return f"HTTP {response.status}, {len(response.body)} bytes"


class NoParams(Params):
    """A spider without arguments of its own."""


class BaseSpider(scrapy.Spider):
    """Spider base: arguments and the request/response protocol (see the module docstring).

    Subclasses set ``platform`` (the registry's name: rate limit, parser, handle rule),
    ``listings`` (allowed ``listing`` values, the first is the default), ``max_recent_posts``
    (the API's page cap), ``default_recent_posts``, ``params_model`` (their own arguments),
    ``item_types`` (request kind -> the item type its failure is recorded as) and override
    ``normalize_handle``, ``decode``, ``after_failure`` and ``credentials`` as they need.
    """

    platform: ClassVar[str] = ""
    listings: ClassVar[tuple[str, ...]] = ("recent",)
    max_recent_posts: ClassVar[int | None] = None
    default_recent_posts: ClassVar[int] = 20
    params_model: ClassVar[type[Params]] = NoParams
    #: Where the platform is when ``base_url`` is not given, and its other argument names.
    default_base_url: ClassVar[str] = ""
    base_url_aliases: ClassVar[tuple[str, ...]] = ()
    #: request kind -> item type its failures are recorded as (default ProfileItem).
    item_types: ClassVar[Mapping[str, str]] = {}
    #: Platforms whose warehouse accounts this spider refreshes (Pixelfed via the Mastodon API).
    refresh_platforms: ClassVar[tuple[str, ...]] = ()
    #: A distributed job's run key and recorded arguments (set when the spider joins one).
    job_run_key: str | None = None
    job_arguments: dict[str, Any] | None = None

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        known = set(COMMON_ARGS) | self.params_model.names(type(self)) | {"job"}
        unknown = sorted(k for k in kwargs if k not in known and not k.startswith("_"))
        if unknown:
            raise ValueError(
                f"unknown argument(s) {', '.join(unknown)}; accepted: {', '.join(sorted(known))}"
            )
        own = self.params_model.names(type(self))
        self.params = self.params_model.from_kwargs({k: kwargs.pop(k) for k in own if k in kwargs},
                                                    type(self))
        # A distributed job's worker gets its work from the job's queue (crawler/distributed).
        queued = bool(kwargs.get("_distributed"))
        self.args = SpiderArgs.from_kwargs({k: kwargs.pop(k) for k in COMMON_ARGS if k in kwargs},
                                           type(self), has_other_work=self.params.has_work() or queued)
        #: A label for the run (the warehouse stores it in crawl_runs.job); scrapyd's _job.
        self.job: str | None = kwargs.pop("job", None) or kwargs.get("_job")
        #: (platform, handle) pairs this crawl run already loaded; a resumed run skips them.
        #: The crawl-run extension (crawler/run.py) fills it when the spider opens.
        self.loaded_handles: set[tuple[str, str]] = set()
        super().__init__(name, **kwargs)

    # -- arguments ------------------------------------------------------------------------------

    @classmethod
    def normalize_handle(cls, value: str) -> str:
        """A handle argument as the platform spells it; ValueError when it is not one."""
        return normalize_handle_arg(value)

    @classmethod
    def base_url_label(cls) -> str:
        return cls.base_url_aliases[0] if cls.base_url_aliases else "base_url"

    @property
    def base_url(self) -> str:
        given = getattr(self.params, "base_url", None)
        return given or self.default_base_url

    @property
    def handles_label(self) -> str:
        """discovered_via for handle-list profiles: the list file's name, else 'handles'."""
        return Path(self.args.handles_file).stem if self.args.handles_file else "handles"

    @property
    def run_args(self) -> dict[str, Any]:
        """The crawl's arguments as stored in ``crawl_runs`` (JSON-serialisable)."""
        where = {type(self).base_url_label(): self.base_url} if self.default_base_url else {}
        hosts = self.credential_hosts()  # names only; absent when no credential is sent
        sent_to = {"credential_hosts": hosts} if hosts else {}
        return {"platform": self.platform, **where, **asdict(self.args), **self.params.stored(),
                **self.spider_run_args(), **sent_to}

    def spider_run_args(self) -> dict[str, Any]:
        """Subclass hook: derived values for :attr:`run_args` (the source chosen, ...)."""
        return {}

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        """Switch the protocol's middlewares on, whatever the settings (unless set to None)."""
        super().update_settings(settings)
        for name, wanted in (("SPIDER_MIDDLEWARES", PROTOCOL_SPIDER_MIDDLEWARES),
                             ("DOWNLOADER_MIDDLEWARES", PROTOCOL_DOWNLOADER_MIDDLEWARES)):
            current = settings.getdict(name)
            merged = {**wanted, **current}
            if merged != current:
                # Above the priority the dict was given at: a process re-applying its own
                # settings (-s/--set) over the crawler's must not drop the protocol.
                priority = max(settings.getpriority(name) or 0, 30) + 1
                settings.set(name, merged, priority=priority)

    # -- the crawl run ---------------------------------------------------------------------------

    def add_stale_handles(self, handles: Iterable[str]) -> None:
        """Refresh: queue the warehouse's stale accounts (the crawl-run extension finds them)."""
        found = list(handles)
        self.args.handles = list(dict.fromkeys([*self.args.handles, *found]))
        self.logger.info("Refresh: %d accounts older than %ss", len(found), self.args.max_age)

    def refresh_key(self, handle: str, platform_user_id: str | None) -> str:
        """How a refresh asks for a stale account: by handle (Bluesky: by DID, which survives
        a rename)."""
        return handle

    def already_loaded(self, platform: str, handle: str | None) -> bool:
        """Whether this run loaded the account before a restart (then it is not fetched again)."""
        if handle and (platform, handle) in self.loaded_handles:
            self.stat("resume_skipped")
            return True
        return False

    def finish(self, profile: ProfileItem) -> ProfileItem:
        """A profile ready to leave: its newest ``recent_posts`` posts kept, counted."""
        profile.recent_posts = profile.recent_posts[: self.args.recent_posts]
        self.stat("profiles")
        return profile

    def stat(self, key: str, value: int = 1) -> None:
        """Increment ``microscout/<platform>/<key>``."""
        if getattr(self, "crawler", None) is not None and self.crawler.stats is not None:
            self.crawler.stats.inc_value(f"microscout/{self.platform}/{key}", value)

    def setting(self, name: str, default: Any = None) -> Any:
        """A crawl setting (``default`` before the spider is bound to a crawler)."""
        settings = getattr(self, "settings", None)
        return settings.get(name, default) if settings is not None else default

    # -- the protocol ------------------------------------------------------------------------------

    def request(self, url: str, callback: Any, kind: str, *, priority: int = 0,
                headers: Mapping[str, str] | None = None, meta: Mapping[str, Any] | None = None,
                cls: type[Request] = Request, **kwargs: Any) -> Request:
        """The one request factory. ``kind`` names the request in stats, logs and failures."""
        all_meta = {"microscout_kind": kind, **(meta or {})}
        return cls(url, callback=callback, errback=self.on_error, meta=all_meta,
                   headers=dict(headers or {"Accept": "application/json"}), priority=priority,
                   **kwargs)

    def credentials(self) -> list[Credential]:
        """The credentials this crawl sends, each to its own host (none by default)."""
        return []

    def credential_hosts(self) -> list[str]:
        """Every host this crawl sends a credential to, names only (``run_args``, the log):
        the hosts of :meth:`credentials`; spiders that get a credential later add its host."""
        return list(dict.fromkeys(credential.host for credential in self.credentials()))

    def item_type(self, request: Request | None) -> str:
        kind = request.meta.get("microscout_kind") if request is not None else None
        return self.item_types.get(str(kind), "ProfileItem")

    def decode(self, response: Response) -> Any:
        """The body as JSON; raises :class:`RetryableBody` (``bad_json``) when it is not (or nests
        deeper than any platform's data)."""
        try:
            return loads_json(body_text(response))
        except ValueError:
            raise RetryableBody(size_detail(response), reason="bad_json") from None

    def reject(self, reason: str, detail: str | None, *, url: str | None,
               request: Request | None = None, payload: Any = None,
               item_type: str | None = None) -> RejectedItem:
        """A quarantine row for this platform."""
        if request is not None and request.meta.get("microscout_redact"):
            payload = None  # a login's answer holds tokens: it stays out of the warehouse
        return RejectedItem(reason=reason, detail=detail, platform=self.platform,
                            payload=payload, source_url=url,
                            item_type=item_type or self.item_type(request))

    def reject_response(self, response: Response, error: CrawlError) -> RejectedItem:
        """The quarantine row of a response that is not data (the body is its payload)."""
        return self.reject(error.reason, error.detail or None, url=response.url,
                           request=response.request,
                           payload=body_text(response)[:PAYLOAD_CHARS] or None)

    def on_blocked(self, request: Request | None, error: BlockedPage, url: str) -> None:
        """A login wall, captcha or checkpoint: counted and logged (subclasses back off)."""
        self.stat(f"blocked/{error.reason}")
        self.logger.warning("%s: %s (%s)", error.reason, url, error.detail or "blocked")

    def on_rate_limited(self, request: Request | None, error: BlockedPage) -> float:
        """A "please wait" answer in a body (not a 429): pause the request's host in the
        RateLimitMiddleware before the retry; returns the pause in seconds (0 without it).

        ``MICROSCOUT_RATELIMIT_BODY_WAIT`` seconds (default 60: such bodies say "a few
        minutes"), capped by ``MICROSCOUT_MAX_RETRY_AFTER``. Counted in
        ``microscout/ratelimit/paused`` like a 429's pause.
        """
        from crawler.middlewares import RateLimitMiddleware

        self.stat("rate_limited_bodies")
        limiter = RateLimitMiddleware.of(getattr(self, "crawler", None))
        if limiter is None or request is None:
            return 0.0
        try:
            seconds = limiter.cap(float(self.setting("MICROSCOUT_RATELIMIT_BODY_WAIT", 60.0)))
        except (TypeError, ValueError):
            seconds = limiter.cap(60.0)  # an unreadable value: the default
        slot = limiter.slot_key(request)
        started, added = limiter.slots.pause(slot, seconds)
        stats = self.crawler.stats
        if started and stats is not None:
            stats.inc_value("microscout/ratelimit/paused")
        if added > 0 and stats is not None:
            key = "microscout/ratelimit/wait_seconds"
            stats.set_value(key, round(stats.get_value(key, 0) + added, 3))
        self.logger.info("%s: %s said to wait; pausing %s for %.1fs", error.reason,
                         request.url, slot, seconds)
        return seconds

    def after_failure(self, request: Request | None) -> Iterable[Any]:
        """What a failed request leaves behind (subclass hook): a profile without its posts,
        sightings held for an owner, the next step of a login."""
        return ()

    def unsent(self, request: Request) -> Iterable[Any]:
        """What a request the budget left unsent leaves behind in a single run (subclass hook:
        the profile it carried, items held for it); a distributed job keeps the request."""
        return ()

    def describe(self, failure: Failure) -> tuple[str, str | None, Any]:
        """(reason, detail, payload) of a failed request (subclasses read error bodies)."""
        return describe_failure(failure)

    def recover(self, failure: Failure) -> Iterable[Any] | None:
        """What a failed request becomes instead of a RejectedItem (subclass hook: a retry once
        an expired session is renewed); None, the default, records it."""
        return None

    def on_error(self, failure: Failure) -> Output:
        """The errback: every failed request becomes a RejectedItem (nothing lost silently),
        unless :meth:`recover` retries it."""
        request: Request = failure.request  # type: ignore[attr-defined]  # set by Scrapy
        if failure.check(QuotaExhausted):  # not sent: the budget stopped the crawl (crawler/quota)
            if self.crawler.stats is not None:
                self.crawler.stats.inc_value("microscout/quota/unsent_requests")
            left = [] if self.in_job else list(self.unsent(request))  # a job keeps the request
            yield from self.leased(request, left, failed=False, parked=True)
            return
        recovered = self.recover(failure)
        if recovered is not None:
            outputs = list(recovered)  # empty: the retry is parked until a session is renewed
            yield from self.leased(request, outputs, failed=False, parked=not outputs)
            return
        reason, detail, payload = self.describe(failure)
        self.logger.warning("%s: %s %s (%s)", reason, request.method, request.url, detail)
        yield from self.leased(request, self._failure_outputs(request, reason, detail, payload),
                               failed=True)

    def _failure_outputs(self, request: Request, reason: str, detail: str | None,
                         payload: Any) -> Output:
        yield self.reject(reason, detail, url=request.url, request=request, payload=payload)
        yield from self.after_failure(request)

    # -- distributed jobs (crawler/distributed) -------------------------------------------------

    @property
    def in_job(self) -> bool:
        """Whether this spider is a worker of a distributed job."""
        return bool(getattr(self, "_distributed", False))

    def leased(self, request: Request, outputs: Iterable[Any], *, failed: bool,
               parked: bool = False) -> Output:
        """An errback's outputs; in a distributed job, its items are counted for the request's
        lease, which ends with them (``parked``: a retry waits for a renewed session)."""
        from crawler.distributed import COUNTED, LEASE

        lease = request.meta.get(LEASE)
        leases = getattr(getattr(self, "crawler", None), "microscout_leases", None)
        if not lease or leases is None:
            yield from outputs
            return
        request.meta[COUNTED] = True  # not again by the spider middleware
        try:
            for output in outputs:
                if not isinstance(output, Request) and output is not None:
                    leases.item_out(lease)
                yield output
        finally:
            leases.output_done(lease, failed=failed, parked=parked)

    def worker_start(self) -> list[Request]:
        """What a distributed worker sends before it takes work from the job (a login)."""
        return []

    def holding(self) -> bool:
        """Whether items or requests wait in this spider's memory for another answer (then a
        distributed worker acknowledges nothing until they are out)."""
        return False

    def credential_identity(self) -> str | None:
        """Who the credentials speak for, when that outlives the secret (a renewed token):
        the key of the "credential" rate-limit scope. None: a digest of the credentials."""
        return None

    def work_requests(self) -> list[Request]:
        """The requests of the current arguments' tags and handles (see seed_requests)."""
        return [r for r in drain(self.start()) if isinstance(r, Request)]

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> Any:
        """With MICROSCOUT_REDIS_URL set, join the named job (or queue these arguments as a new
        job first): the spider is built with the job's arguments, its work comes from Redis."""
        from crawler import distributed

        job = None
        if distributed.enabled(crawler.settings):
            from crawler.distributed.enqueue import join_or_enqueue

            job, kwargs = join_or_enqueue(cls, crawler.settings, kwargs)
        spider = super().from_crawler(crawler, *args, **kwargs)
        if job is not None:
            spider.job_run_key = job["run_key"]
            spider.job_arguments = job["arguments"]
        return spider

    def seed_requests(self, tags: list[str], handles: list[str]) -> list[Request]:
        """A chunk of a distributed job's work list as requests: what :meth:`start` yields for
        those tags and handles alone. (start() must not await: every spider's reads arguments
        only.)"""
        saved = self.args
        self.args = replace(saved, tags=list(tags), handles=list(handles), handles_file=None)
        try:
            return self.work_requests()
        finally:
            self.args = saved


def drain(agen: Any) -> list[Any]:
    """Everything an async generator yields, when it never awaits (run without a loop)."""
    out: list[Any] = []
    while True:
        step = agen.__anext__()
        try:
            step.send(None)
        except StopIteration as done:
            out.append(done.value)
            continue
        except StopAsyncIteration:
            return out
        step.close()
        raise RuntimeError("start() awaited something: it cannot expand a job's work list")


__all__ = [
    "PAYLOAD_CHARS", "BaseSpider", "Output", "SpiderArgs", "body_text", "describe_failure",
    "normalize_base_url", "normalize_handle_arg", "normalize_tag_arg", "parse_age",
    "read_handles_file", "size_detail", "utcnow",
]
