"""Bluesky spider: hashtag sweeps, custom feeds and handle lists over the App View (XRPC).

    scrapy crawl bluesky -a tags=veganfood,plantbased [-a listing=top]
    scrapy crawl bluesky -a feeds=https://bsky.app/profile/did:plc:xyz/feed/vegan
    scrapy crawl bluesky -a handles=alice.bsky.social,did:plc:abc,https://bsky.app/profile/bob.com
    scrapy crawl bluesky -a tags=vegan -a appview=http://127.0.0.1:8123     # the sandbox

Hashtag sweep: ``app.bsky.feed.searchPosts?q=#tag&sort=latest|top`` page by page along its
offset ``cursor`` (up to ``max_pages`` pages / ``max_posts`` posts a tag); custom feeds:
``app.bsky.feed.getFeed`` the same way (sightings with listing ``feed`` named after the feed).
Every post seen becomes a ``HashtagSightingItem`` (``position`` counts across pages, a post
repeated by a later page is not counted twice). A listing's post embeds only the author's
basic view, without counts, so each new author (once a run, by DID) is queued and fetched
with ``app.bsky.actor.getProfiles``, 25 actors a call (``getProfile`` for a lone one); the
remainder of the queue goes out when the crawl would otherwise go idle. Authors whose
``followersCount`` is in range get ``app.bsky.feed.getAuthorFeed?filter=posts_no_replies``
(one page of ``recent_posts`` plus head-room for reposts, further pages only while short)
and become one ``ProfileItem`` whose ``recent_posts`` are their own posts: reposts of other
people's posts are left out, so those posts' likes never count as the author's engagement.
Out-of-range authors cost no further request (``microscout/bluesky/skipped_out_of_range``).

Handle list: handles (``name.bsky.social``, custom domains; a bare name gets
``.bsky.social``), DIDs and ``https://bsky.app/profile/...`` URLs, fetched with getProfiles
like search authors; an actor the App View does not return is a ``not_found`` RejectedItem.
The DID is ``platform_user_id`` and the handle is kept as Bluesky spells it (lower-case), so
a renamed account loads into its existing warehouse row. A refresh (``-a max_age=7d``, with
the base arguments ``tier``, ``niche``, ``limit``) re-reads the warehouse's stale Bluesky
accounts by DID, so an account renamed since is still found; a resumed run skips the
accounts it already loaded.

Sessions: the public App View (https://public.api.bsky.app) serves all of this without login
except post search, which answers anonymous callers 401/403 (since 2025). With
``MICROSCOUT_BLUESKY_IDENTIFIER`` and ``MICROSCOUT_BLUESKY_APP_PASSWORD`` set, the spider first
logs in with ``com.atproto.server.createSession`` on ``auth_host``; the ``accessJwt`` then
becomes a credential (``Authorization: Bearer``) for the App View's host only (default then
https://api.bsky.app), which ``CredentialsMiddleware`` adds to its requests. ``auth_host``
defaults to https://bsky.social, or to the App View given when that is not a Bluesky host (the
sandbox), so the password never leaves for the real PDS during a sandbox crawl; ``run_args``
name both hosts under ``credential_hosts``. The tokens and the password are never logged (the
tokens are registered with :mod:`crawler.redact`), never put in a URL, an item or the run
arguments. Without a session, a search refused for want of one becomes ``RejectedItem(reason=
"auth_required")`` for that tag (with a log line saying how to log in), never a crash or a
silently empty sweep; a failed login (``auth_failed``) carries on logged out.

A session lasts about two hours. When a request goes out and the access token (its ``exp``,
read from the JWT without verifying it) has less than ``MICROSCOUT_BLUESKY_REFRESH_MARGIN``
seconds left (default 300, at most half the token's life; 0: never ahead of time),
``com.atproto.server.refreshSession`` is called on the login host with the ``refreshJwt`` (a
credential for that one endpoint). A request answered ``ExpiredToken`` (or 401) although it
carried the session is retried: at once when the session was renewed since it left, after the
renewal when one is on its way, otherwise after one new login (``createSession``). A request
the current session refuses although it was renewed for it, a second login before the first
one's session answered anything, and a login that fails (the crawl then goes on logged out)
are recorded, never looped. Stats: ``session_refreshed``, ``session_relogins``,
``session_retried``.

Nothing is lost silently: a body that is not JSON is retried (reason ``bad_json``) and then
rejected; failed requests (exhausted 429/5xx retries, robots.txt refusals, DNS errors) become
RejectedItems whose reason comes from the XRPC error body (``auth_required``, ``rate_limited``,
``not_found``, else ``request_failed``). When only an author's feed fails, the ProfileItem is
still yielded with the posts already read. Pacing is the ``RateLimitMiddleware``'s, from the
``ratelimit-remaining`` / ``ratelimit-reset`` headers.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider
from scrapy.http import JsonRequest, Request, Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler import redact
from crawler.credentials import Credential
from crawler.distributed import LOCAL_META
from crawler.errors import BlockedPage, UnrecognisedDocument
from crawler.items import HashtagSightingItem, ProfileItem
from crawler.parsers import bluesky as bsky
from crawler.parsers import loads_json
from crawler.platforms import REGISTRY
from crawler.spiders.args import BaseUrlParams, param
from crawler.spiders.base import (
    PAYLOAD_CHARS,
    BaseSpider,
    Output,
    describe_failure,
    normalize_base_url,
    utcnow,
)

#: The App View a logged-in crawl asks (the one the Bluesky app uses).
AUTHED_APPVIEW = "https://api.bsky.app"
#: Where createSession is called by default (the bsky.social PDS entryway).
DEFAULT_AUTH_HOST = "https://bsky.social"
CREATE_SESSION = "com.atproto.server.createSession"
REFRESH_SESSION = "com.atproto.server.refreshSession"
RESOLVE_HANDLE = "com.atproto.identity.resolveHandle"
#: Hosts of Bluesky itself: an App View there logs in at DEFAULT_AUTH_HOST.
BLUESKY_DOMAINS = ("bsky.app", "bsky.social", "bsky.network")
#: Seconds before the access token expires that the session is refreshed (at most half its life).
DEFAULT_REFRESH_MARGIN = 300.0
#: Request kinds that are the session itself (never renewed or retried for an expired token).
SESSION_KINDS = frozenset({"session", "refresh"})
#: XRPC errors that say the session token is no longer accepted.
EXPIRED_ERRORS = frozenset({"ExpiredToken", "InvalidToken"})
#: Meta the downloader wrote on a request's last pass, not carried into its retry.
DOWNLOAD_META = frozenset({"download_latency", "retry_times", "_auth_proxy", "_scheme_proxy",
                           "redirect_times", "redirect_ttl", "redirect_urls", "redirect_reasons"})
#: Author-feed pages read at most per author while reposts leave it short of recent_posts.
AUTHOR_FEED_PAGES = 3

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HANDLE = re.compile(rf"^{_LABEL}(?:\.{_LABEL})+$")
_DID = re.compile(r"^did:(?:plc:[a-z2-7]{24}|web:[a-zA-Z0-9.\-%:]+)$")
_WEB_HOSTS = ("bsky.app", "www.bsky.app", "staging.bsky.app")
_FEED_URI = re.compile(r"^at://(?P<authority>[^/]+)/app\.bsky\.feed\.generator/(?P<rkey>[A-Za-z0-9._~:-]{1,512})$")


def normalize_actor(value: str) -> str:
    """A handle (lower-cased, ``@`` dropped; a bare name gets ``.bsky.social``), a DID, or a
    bsky.app profile URL -> the actor to ask the App View for. ValueError otherwise."""
    text = value.strip()
    if text.lower().startswith(("http://", "https://")):
        parts = urlsplit(text)
        segments = [unquote(s) for s in parts.path.split("/") if s]
        if (parts.hostname or "").lower() not in _WEB_HOSTS or len(segments) != 2 \
                or segments[0] != "profile":
            raise ValueError(f"handles: {text!r} is not a profile URL like "
                             "https://bsky.app/profile/name.bsky.social")
        text = segments[1]
    text = text.lstrip("@")
    if text.startswith("did:"):
        if not _DID.match(text):
            raise ValueError(f"handles: {value.strip()!r} is not a DID like did:plc:<24 chars>")
        return text
    handle = text.lower().rstrip(".")
    if handle and "." not in handle:
        handle += ".bsky.social"
    if not _HANDLE.match(handle) or handle.rsplit(".", 1)[1].isdigit():
        raise ValueError(f"handles: {value.strip()!r} is not a Bluesky handle "
                         "(name.bsky.social or a domain), DID or bsky.app profile URL")
    return handle


def parse_feed_arg(value: str) -> tuple[str, str]:
    """``at://<did or handle>/app.bsky.feed.generator/<rkey>`` or
    ``https://bsky.app/profile/<did or handle>/feed/<rkey>`` -> (authority, rkey)."""
    text = value.strip()
    if text.lower().startswith(("http://", "https://")):
        parts = urlsplit(text)
        segments = [unquote(s) for s in parts.path.split("/") if s]
        if (parts.hostname or "").lower() in _WEB_HOSTS and len(segments) == 4 \
                and segments[0] == "profile" and segments[2] == "feed":
            text = f"at://{segments[1]}/app.bsky.feed.generator/{segments[3]}"
    match = _FEED_URI.match(text)
    if not match:
        raise ValueError(f"feeds: {value.strip()!r} is not a feed like at://did:plc:.../"
                         "app.bsky.feed.generator/NAME or https://bsky.app/profile/HANDLE/feed/NAME")
    authority = match["authority"]
    return (authority if authority.startswith("did:") else normalize_actor(authority)), match["rkey"]


def feed_uri(authority_did: str, rkey: str) -> str:
    return f"at://{authority_did}/app.bsky.feed.generator/{rkey}"


def _feeds(value: Any, spider_cls: Any) -> tuple[tuple[str, str], ...]:
    parts = [str(v) for v in value] if isinstance(value, (list, tuple)) else str(value).split(",")
    return tuple(dict.fromkeys(parse_feed_arg(part) for part in parts if part.strip()))


def _auth_host(value: Any, spider_cls: Any) -> str:
    return normalize_base_url(value, name="auth_host", example=DEFAULT_AUTH_HOST)


def is_bluesky_host(host: str) -> bool:
    return any(host == domain or host.endswith("." + domain) for domain in BLUESKY_DOMAINS)


def jwt_claims(token: str | None) -> dict[str, Any]:
    """The payload of a JWT, read without verifying it ({} when it is not one)."""
    try:
        payload = str(token).split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _seconds(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass
class BlueskyParams(BaseUrlParams):
    """``appview`` (the base URL), ``feeds`` (custom feeds to sweep), ``auth_host`` (where to log
    in; None: see :attr:`BlueskySpider.auth_host`). Feeds and the login host go into run_args as
    the spider reads them."""

    feeds: tuple[tuple[str, str], ...] = param((), parse=_feeds, stored=False)
    auth_host: str | None = param(None, parse=_auth_host, stored=False)

    def has_work(self) -> bool:
        return bool(self.feeds)


class BlueskySpider(BaseSpider):
    name = "bluesky"
    platform: ClassVar[str] = "bluesky"
    #: searchPosts sort; "recent" is accepted for "latest" (the sightings' listing name).
    listings: ClassVar[tuple[str, ...]] = ("latest", "top", "recent")
    max_recent_posts: ClassVar[int | None] = bsky.MAX_PAGE_LIMIT
    params_model: ClassVar[type[BlueskyParams]] = BlueskyParams
    default_base_url: ClassVar[str] = REGISTRY["bluesky"].default_base_url
    base_url_aliases: ClassVar[tuple[str, ...]] = REGISTRY["bluesky"].base_url_aliases
    item_types: ClassVar[Mapping[str, str]] = {
        "search": "HashtagSightingItem", "feed": "HashtagSightingItem",
        "resolve": "HashtagSightingItem", "session": "Session", "refresh": "Session"}
    params: BlueskyParams

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.sort = "top" if self.args.listing == "top" else "latest"
        self.sighting_listing = bsky.SORT_LISTINGS[self.sort]
        self.page_size = min(bsky.MAX_PAGE_LIMIT, self.args.max_posts)
        # One author-feed page: recent_posts plus head-room for the reposts left out.
        recent = self.args.recent_posts
        self.feed_limit = min(bsky.MAX_PAGE_LIMIT, max(1, recent + max(5, recent // 2)))
        self._identifier: str | None = None
        self._password: str | None = None
        self._access_jwt: str | None = None
        self._refresh_jwt: str | None = None
        self._access_expires: float | None = None  # epoch seconds (the token's exp)
        self._access_life: float | None = None  # exp - iat
        self.session_did: str | None = None
        #: "refresh" or "login" while a renewal of the session is on its way, else None.
        self.renewing: str | None = None
        #: Retries of requests refused for an expired token, waiting for the renewal.
        self.parked: list[Request] = []
        self._relogin_failed = False
        self._relogin_unconfirmed = False  # a re-login whose session answered nothing yet
        self.refresh_margin = DEFAULT_REFRESH_MARGIN
        self.clock = time.time
        self.queued: set[str] = set()  # DIDs queued or fetched for a profile, once a run
        self.pending: dict[str, str | None] = {}  # DID -> discovered_via, waiting for a batch
        self.profiled: set[str] = set()  # DIDs whose profile arrived
        self.listing_seen: dict[tuple[str, str], set[str]] = {}
        self._auth_hint_logged = False

    @classmethod
    def normalize_handle(cls, value: str) -> str:
        return normalize_actor(value)

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> BlueskySpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.configure(crawler.settings)
        crawler.signals.connect(spider.on_idle, signal=signals.spider_idle)
        return spider

    def configure(self, settings: Any) -> None:
        """Read the session credentials (both or neither; half a pair crawls logged out)."""
        identifier = (settings.get("MICROSCOUT_BLUESKY_IDENTIFIER") or "").strip() or None
        password = settings.get("MICROSCOUT_BLUESKY_APP_PASSWORD") or None
        margin = settings.get("MICROSCOUT_BLUESKY_REFRESH_MARGIN")
        if margin not in (None, ""):
            try:
                self.refresh_margin = max(0.0, float(margin))
            except (TypeError, ValueError):
                raise ValueError(f"MICROSCOUT_BLUESKY_REFRESH_MARGIN must be a number of "
                                 f"seconds, got {margin!r}") from None
        if bool(identifier) != bool(password):
            missing = "MICROSCOUT_BLUESKY_APP_PASSWORD" if identifier else "MICROSCOUT_BLUESKY_IDENTIFIER"
            self.logger.warning("%s is not set: crawling Bluesky logged out", missing)
            return
        self._identifier, self._password = identifier, password

    def refresh_key(self, handle: str, platform_user_id: str | None) -> str:
        """A refresh asks for a stale account by DID where the warehouse knows it: a handle may
        have changed since the last crawl, the DID has not."""
        if platform_user_id is not None and platform_user_id.startswith("did:"):
            return platform_user_id
        return handle

    @property
    def has_credentials(self) -> bool:
        return bool(self._identifier and self._password)

    @property
    def base_url(self) -> str:
        """The App View: as given, else the logged-in one with credentials, else the public one."""
        if self.params.base_url:
            return self.params.base_url
        return AUTHED_APPVIEW if self.has_credentials else self.default_base_url

    @property
    def appview(self) -> str:
        return self.base_url

    @property
    def auth_host(self) -> str:
        """Where to log in: as given; else the App View given when it is not Bluesky's own
        (the sandbox logs in where it serves); else https://bsky.social."""
        if self.params.auth_host:
            return self.params.auth_host
        given = self.params.base_url
        if given and not is_bluesky_host(urlsplit(given).hostname or ""):
            return given
        return DEFAULT_AUTH_HOST

    @property
    def feeds(self) -> list[tuple[str, str]]:
        return list(self.params.feeds)

    @property
    def allowed_domains(self) -> list[str]:
        hosts = [urlsplit(self.appview).hostname or ""]
        if self.has_credentials:
            hosts.append(urlsplit(self.auth_host).hostname or "")
        return list(dict.fromkeys(hosts))

    def spider_run_args(self) -> dict[str, Any]:
        return {"feeds": [feed_uri(a, r) for a, r in self.feeds],
                "auth_host": self.auth_host if self.has_credentials else None,
                "logged_in": self.has_credentials}

    def credentials(self) -> list[Credential]:
        """The session token for the App View's host; the refresh token for the login host's
        refreshSession endpoint only (listed first: it wins where both hosts are one).

        Asked for as each request goes out, so it is where a session about to expire is
        renewed (:meth:`keep_session_fresh`)."""
        self.keep_session_fresh()
        found = []
        if self._refresh_jwt:
            found.append(Credential(host=urlsplit(self.auth_host).netloc,
                                    path=f"/xrpc/{REFRESH_SESSION}",
                                    headers={"Authorization": f"Bearer {self._refresh_jwt}"}))
        if self._access_jwt:
            host = urlsplit(self.appview).netloc  # with its port: sandbox hosts differ by port
            found.append(Credential(host=host, headers={"Authorization": self._bearer()}))
        return found

    def credential_hosts(self) -> list[str]:
        """The login host (the password, the refresh token) and the App View (the session)."""
        if not self.has_credentials:
            return []
        return list(dict.fromkeys([urlsplit(self.auth_host).netloc,
                                   urlsplit(self.appview).netloc]))

    def _bearer(self) -> str:
        return f"Bearer {self._access_jwt}"

    # -- requests ----------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        if self.has_credentials:
            yield self.session_request()
            return
        if self.args.tags:
            self.logger.info("No Bluesky session (MICROSCOUT_BLUESKY_IDENTIFIER / "
                             "MICROSCOUT_BLUESKY_APP_PASSWORD unset): searching %s logged out",
                             self.appview)
        for request in self.listing_requests():
            yield request

    # -- a distributed job's worker (crawler/distributed) ---------------------------------------

    def worker_start(self) -> list[Request]:
        """A worker logs in for itself; its work comes from the job's queue."""
        return [self.session_request()] if self.has_credentials else []

    def work_requests(self) -> list[Request]:
        return list(self.listing_requests())

    def holding(self) -> bool:
        return bool(self.pending or self.parked or self.renewing)

    def credential_identity(self) -> str | None:
        return self._identifier if self.has_credentials else None

    def listing_requests(self) -> Iterator[Request]:
        """The crawl's first requests: tag searches, feeds, then the handle list."""
        for tag in self.args.tags:
            yield self.listing_request("search", tag, tag)
        for authority, rkey in self.feeds:
            name = bsky.feed_name(feed_uri("did:x", rkey)) or rkey.lower()
            if authority.startswith("did:"):
                yield self.listing_request("feed", name, feed_uri(authority, rkey))
            else:
                url = bsky.xrpc_url(RESOLVE_HANDLE, {"handle": authority}, base=self.appview)
                yield self.request(url, self.parse_resolved_feed, "resolve",
                                   cb_kwargs={"name": name, "rkey": rkey})
        via = self.handles_label
        # a resumed run skips the accounts it already loaded (a DID is matched after its fetch)
        actors = [actor for actor in self.args.handles
                  if actor.startswith("did:") or not self.already_loaded(self.platform, actor)]
        for start in range(0, len(actors), bsky.MAX_PROFILES_PER_CALL):
            batch = actors[start:start + bsky.MAX_PROFILES_PER_CALL]
            yield self.profiles_request(batch, dict.fromkeys(batch, via))

    def session_request(self, *, relogin: bool = False) -> Request:
        """createSession on the login host; the password travels in the JSON body only."""
        url = bsky.xrpc_url(CREATE_SESSION, base=self.auth_host)
        return self.request(url, self.parse_session, "session", cls=JsonRequest,
                            data={"identifier": self._identifier, "password": self._password},
                            meta={"microscout_redact": True, "microscout_relogin": relogin,
                                  LOCAL_META: True},  # a job's worker: never in Redis
                            dont_filter=True, priority=100 if relogin else 20)

    def refresh_request(self) -> Request:
        """refreshSession on the login host (the refresh token is its credential)."""
        url = bsky.xrpc_url(REFRESH_SESSION, base=self.auth_host)
        return self.request(url, self.parse_session, "refresh", method="POST",
                            meta={"microscout_redact": True, LOCAL_META: True},
                            dont_filter=True, priority=100)

    def keep_session_fresh(self) -> Request | None:
        """Send refreshSession when the access token has less than the margin left (at most
        half its life, so a fresh token never asks again at once); the request, else None."""
        if not (self._refresh_jwt and self._access_expires) or self.renewing \
                or self.refresh_margin <= 0:
            return None
        margin = min(self.refresh_margin, (self._access_life or self.refresh_margin) / 2)
        if self._access_expires - self.clock() >= margin:
            return None
        refresh = self.refresh_request()
        if not self.schedule(refresh):
            return None
        self.renewing = "refresh"
        return refresh

    def schedule(self, request: Request) -> bool:
        """Hand a request to the engine (False when there is no running crawl)."""
        try:
            self.crawler.engine.crawl(request)
        except (AttributeError, RuntimeError):  # not bound to a running crawl, or closing
            return False
        return True

    def listing_request(self, kind: str, name: str, target: str, cursor: str | None = None,
                        page: int = 1, offset: int = 0) -> Request:
        """searchPosts (kind "search", target the tag) or getFeed ("feed", the feed URI)."""
        if kind == "search":
            url = bsky.search_posts_url(target, sort=self.sort, cursor=cursor,
                                        limit=self.page_size, base=self.appview)
        else:
            url = bsky.get_feed_url(target, cursor=cursor, limit=self.page_size, base=self.appview)
        return self.request(url, self.parse_listing, kind, cb_kwargs={
            "listing_kind": kind, "name": name, "target": target, "page": page, "offset": offset})

    def profiles_request(self, actors: list[str], via: dict[str, str | None]) -> Request:
        """getProfiles for up to 25 actors (getProfile for one)."""
        self.stat("profile_requests")
        if len(actors) == 1:
            url = bsky.get_profile_url(actors[0], base=self.appview)
        else:
            url = bsky.get_profiles_url(actors, base=self.appview)
        return self.request(url, self.parse_profiles, "profiles", priority=5,
                            cb_kwargs={"actors": list(actors), "via": dict(via)})

    def author_feed_request(self, profile: ProfileItem, cursor: str | None = None,
                            page: int = 1) -> Request:
        url = bsky.get_author_feed_url(str(profile.platform_user_id), cursor=cursor,
                                       limit=self.feed_limit, base=self.appview)
        return self.request(url, self.parse_author_feed, "author_feed", priority=10,
                            cb_kwargs={"profile": profile, "page": page})

    # -- the author queue --------------------------------------------------------------------

    def queue_author(self, did: str, discovered_via: str | None) -> Output:
        """Queue a listing's author for a profile once a run; a full batch goes out at once."""
        if did in self.queued:
            return
        self.queued.add(did)
        self.pending[did] = discovered_via
        if len(self.pending) >= bsky.MAX_PROFILES_PER_CALL:
            yield from self.flush_authors()

    def flush_authors(self) -> Output:
        """getProfiles requests for every queued author, 25 a request."""
        pending, self.pending = self.pending, {}
        dids = list(pending)
        for start in range(0, len(dids), bsky.MAX_PROFILES_PER_CALL):
            batch = dids[start:start + bsky.MAX_PROFILES_PER_CALL]
            yield self.profiles_request(batch, {did: pending[did] for did in batch})

    def on_idle(self) -> None:
        """spider_idle: send the last partial batch of authors instead of closing."""
        requests = list(self.flush_authors())
        if not requests:
            return
        for request in requests:
            self.crawler.engine.crawl(request)
        raise DontCloseSpider

    # -- callbacks ---------------------------------------------------------------------------

    def decode(self, response: Response) -> Any:
        """JSON, with an XRPC error body raised as BlockedPage (auth, rate limit) or
        UnrecognisedDocument (``not_found`` when the App View says so)."""
        data = super().decode(response)
        if self._relogin_unconfirmed and self.sent_with_session(response.request):
            self._relogin_unconfirmed = False  # the new session answered
        try:
            bsky.check_error(data)
        except UnrecognisedDocument as exc:
            if "not found" in str(exc).lower():
                raise UnrecognisedDocument(str(exc), reason="not_found") from None
            raise
        return data

    def parse_session(self, response: Response) -> Output:
        """createSession (the first login or a re-login) or refreshSession answered."""
        data = self.decode(response)
        kind = response.meta.get("microscout_kind")
        token = data.get("accessJwt") if isinstance(data, Mapping) else None
        if not (isinstance(token, str) and token):
            method = REFRESH_SESSION if kind == "refresh" else CREATE_SESSION
            raise UnrecognisedDocument(f"{method} answered without an accessJwt",
                                       reason="auth_failed")
        refresh = data.get("refreshJwt")
        self.use_session(token, refresh if isinstance(refresh, str) and refresh else None)
        self.session_did = data.get("did") if isinstance(data.get("did"), str) else None
        if kind == "refresh":
            self.stat("session_refreshed")
            self.logger.info("Refreshed the Bluesky session at %s", self.auth_host)
            yield from self.release_parked()
            return
        self.logger.info("Logged in to %s as %s (%s); asking %s", self.auth_host,
                         data.get("handle"), self.session_did, self.appview)
        if response.meta.get("microscout_relogin"):
            self.stat("session_relogins")
            self._relogin_unconfirmed = True
            yield from self.release_parked()
            return
        self.stat("session_created")
        yield from self.listing_requests()

    def use_session(self, access: str, refresh: str | None) -> None:
        """Keep new tokens (masked in every log line from now on) and when the access one ends."""
        redact.register(access, refresh)
        self._access_jwt, self._refresh_jwt = access, refresh or self._refresh_jwt
        claims = jwt_claims(access)
        expires, issued = _seconds(claims.get("exp")), _seconds(claims.get("iat"))
        self._access_expires = expires
        self._access_life = expires - issued if expires is not None and issued is not None \
            and expires > issued else None

    def release_parked(self) -> Output:
        """The session was renewed: the requests that waited for it go out again."""
        self.renewing = None
        parked, self.parked = self.parked, []
        yield from parked

    def parse_resolved_feed(self, response: Response, name: str, rkey: str) -> Output:
        data = self.decode(response)
        did = data.get("did") if isinstance(data, Mapping) else None
        if not isinstance(did, str) or not did.startswith("did:"):
            raise UnrecognisedDocument("resolveHandle without a did")
        yield self.listing_request("feed", name, feed_uri(did, rkey))

    def parse_listing(self, response: Response, listing_kind: str, name: str, target: str,
                      page: int, offset: int) -> Output:
        data = self.decode(response)
        key = "posts" if listing_kind == "search" else "feed"
        if not isinstance(data, Mapping) or not isinstance(data.get(key), list):
            raise UnrecognisedDocument(f"{listing_kind} body without a {key} list")
        room = max(0, self.args.max_posts - offset)
        page_data = {**data, key: data[key][:room]}
        if listing_kind == "search":
            items, _ = bsky.parse_search_posts(page_data, url=response.url, fetched_at=utcnow(),
                                               hashtag=name, listing=self.sighting_listing,
                                               start_position=offset)
        else:
            items, _ = bsky.parse_feed(page_data, url=response.url, fetched_at=utcnow(),
                                       name=name, start_position=offset)
        seen = self.listing_seen.setdefault((listing_kind, name), set())
        kept = 0
        for item in items:
            if not isinstance(item, HashtagSightingItem) or item.post_id in seen:
                continue
            seen.add(str(item.post_id))
            item.position = offset + kept
            kept += 1
            yield item
            did = _post_did(item.post_id)
            if did:
                yield from self.queue_author(did, name)
        offset += kept
        cursor = bsky.next_cursor(data, url=response.url)
        if cursor and page < self.args.max_pages and offset < self.args.max_posts:
            yield self.listing_request(listing_kind, name, target, cursor, page + 1, offset)
        if self.in_job:  # a job's worker holds no authors between pages: they go to the queue
            yield from self.flush_authors()

    def parse_profiles(self, response: Response, actors: list[str],
                       via: dict[str, str | None]) -> Output:
        data = self.decode(response)
        views = [data] if isinstance(data, Mapping) and "did" in data else (
            data.get("profiles") if isinstance(data, Mapping) else None)
        if not isinstance(views, list):
            raise UnrecognisedDocument("getProfiles body without a profiles list")
        found: set[str] = set()
        for view in views:
            if not isinstance(view, Mapping) or not isinstance(view.get("did"), str):
                continue
            did, handle = view["did"], str(view.get("handle") or "").lower()
            found.update((did, handle))
            discovered_via = via.get(did, via.get(handle))
            yield from self.consider_profile(view, discovered_via, response.url)
        for actor in actors:
            if actor not in found:
                yield self.reject("not_found", f"the App View returned no profile for {actor}",
                                  url=response.url, item_type="ProfileItem")

    def consider_profile(self, view: Mapping[str, Any], discovered_via: str | None,
                         source_url: str) -> Output:
        """One ProfileItem per DID a run: skipped out of range, else its author feed read."""
        did = view["did"]
        if did in self.profiled:
            return
        self.profiled.add(did)
        self.queued.add(did)  # a handle-list account is not queued again from a listing
        try:
            profile = bsky.parse_profile(view, url=source_url, fetched_at=utcnow())
        except UnrecognisedDocument as exc:  # one bad view of a batch: the others go on
            yield self.reject(exc.reason, str(exc), url=source_url, item_type="ProfileItem",
                              payload=json.dumps(view, ensure_ascii=False)[:PAYLOAD_CHARS])
            return
        followers = view.get("followersCount")
        if not self.args.in_range(followers if isinstance(followers, int) else None):
            self.stat("skipped_out_of_range")
            return
        if self.loaded_handles and self.already_loaded(self.platform, profile.handle):
            return  # a resumed run loaded this account before its restart
        profile.discovered_via = discovered_via
        if self.args.recent_posts == 0:
            yield self.finish(profile)
            return
        self.stat("authors_requested")
        yield self.author_feed_request(profile)

    def parse_author_feed(self, response: Response, profile: ProfileItem, page: int) -> Output:
        data = self.decode(response)
        if not isinstance(data, Mapping):
            raise UnrecognisedDocument("getAuthorFeed body is not a JSON object")
        posts, cursor = bsky.parse_author_feed(data, actor=profile.platform_user_id,
                                               url=response.url)
        known = {post.post_id for post in profile.recent_posts}
        profile.recent_posts.extend(post for post in posts if post.post_id not in known)
        if len(profile.recent_posts) < self.args.recent_posts and cursor \
                and page < AUTHOR_FEED_PAGES:
            yield self.author_feed_request(profile, cursor, page + 1)
            return
        yield self.finish(profile)

    # -- failures ----------------------------------------------------------------------------

    def after_failure(self, request: Request | None) -> Iterable[Any]:
        """A failed author feed still gives its profile; a failed login carries on logged out;
        a failed refresh logs in again (once); a failed re-login carries on logged out."""
        kind = request.meta.get("microscout_kind") if request is not None else None
        if kind == "author_feed" and request is not None:
            yield self.finish(request.cb_kwargs["profile"])
        elif kind == "refresh":
            self.renewing = None
            if self.may_relogin():
                self.renewing = "login"
                yield self.session_request(relogin=True)
            else:
                yield from self.release_parked()
        elif kind == "session" and request is not None and request.meta.get("microscout_relogin"):
            self._relogin_failed = True
            self._access_jwt = self._refresh_jwt = None
            self.logger.warning("Logging in to %s again failed: crawling Bluesky logged out",
                                self.auth_host)
            yield from self.release_parked()
        elif kind == "session":
            yield from self.listing_requests()

    # -- expired sessions ------------------------------------------------------------------

    def sent_with_session(self, request: Request | None) -> bool:
        """Whether ``request`` went out with the current access token."""
        if request is None or not self._access_jwt:
            return False
        return request.headers.get("Authorization") == self._bearer().encode()

    def session_refused(self, failure: Failure) -> bool:
        """An answer saying the session token it carried is expired or no longer accepted."""
        request: Request = failure.request  # type: ignore[attr-defined]  # set by Scrapy
        if not failure.check(HttpError) or "Authorization" not in request.headers:
            return False
        if request.meta.get("microscout_kind") in SESSION_KINDS:
            return False
        response = failure.value.response
        if response.status == 401:
            return True
        try:
            data = loads_json(response.body)
        except ValueError:
            return False
        return isinstance(data, Mapping) and data.get("error") in EXPIRED_ERRORS

    def may_relogin(self) -> bool:
        """Log in again unless that failed before, or the last re-login's session has not
        answered anything yet (never a loop of logins)."""
        return self.has_credentials and not self._relogin_failed \
            and not self._relogin_unconfirmed

    def recover(self, failure: Failure) -> list[Any] | None:
        """A request refused for an expired session: its retry (now, or parked until the
        session is renewed) and maybe the re-login; None when it is recorded."""
        if not self._access_jwt or not self.session_refused(failure):
            return None
        request: Request = failure.request  # type: ignore[attr-defined]  # set by Scrapy
        meta = {k: v for k, v in request.meta.items() if k not in DOWNLOAD_META}
        retry = request.replace(dont_filter=True, meta={**meta, "microscout_session_retry": True})
        if self.renewing:  # a refresh or login is on its way: wait for it
            self.stat("session_retried")
            self.parked.append(retry)
            return []
        if not self.sent_with_session(request):  # renewed since it left: go with the new token
            self.stat("session_retried")
            return [retry]
        if request.meta.get("microscout_session_retry") or not self.may_relogin():
            return None  # the current session refused it after a renewal: recorded
        self.logger.info("The Bluesky session expired (HTTP %s): logging in to %s again",
                         failure.value.response.status, self.auth_host)
        self.stat("session_retried")
        self.renewing = "login"
        self.parked.append(retry)
        return [self.session_request(relogin=True)]

    def describe(self, failure: Failure) -> tuple[str, str | None, Any]:
        """The reason of an error answer from its XRPC error body when it has one."""
        reason, detail, payload = describe_failure(failure)
        request: Request = failure.request  # type: ignore[attr-defined]  # set by Scrapy
        if failure.check(HttpError):
            reason, detail = self._http_error(failure.value.response,
                                              str(request.meta.get("microscout_kind")))
        self._auth_hint(reason, request.url)
        return reason, detail, payload

    def _http_error(self, response: Response, kind: str) -> tuple[str, str]:
        status = response.status
        session = kind in SESSION_KINDS
        try:
            bsky.parse_document(response.body, url=response.url)
        except BlockedPage as exc:
            reason = "auth_failed" if session and exc.reason == "auth_required" else exc.reason
            return reason, f"HTTP {status}: {exc.detail or exc.reason}"
        except UnrecognisedDocument as exc:
            note = str(exc)
        else:
            note = "unexpected body"
        if status in (401, 403):
            reason = "auth_failed" if session else "auth_required"
        elif status in (404, 410) or "not found" in note.lower() or "UnknownFeed" in note \
                or "Unable to resolve" in note:
            reason = "not_found"
        else:
            reason = "request_failed"
        return reason, f"HTTP {status}: {note}"

    def on_blocked(self, request: Request | None, error: BlockedPage, url: str) -> None:
        super().on_blocked(request, error, url)
        self._auth_hint(error.reason, url)

    def _auth_hint(self, reason: str, url: str) -> None:
        """Once a run: say why the App View wants a login and how to give one."""
        if reason != "auth_required" or self._auth_hint_logged:
            return
        self._auth_hint_logged = True
        if self._access_jwt:
            self.logger.warning("%s refused the Bluesky session (expired or not accepted): %s",
                                self.appview, url)
        else:
            self.logger.warning(
                "%s wants a login for %s: set MICROSCOUT_BLUESKY_IDENTIFIER and "
                "MICROSCOUT_BLUESKY_APP_PASSWORD (an app password from Settings > Privacy and "
                "security > App passwords) to search posts", self.appview, url.split("?", 1)[0])


def _post_did(post_id: str | None) -> str | None:
    """The author DID of an at:// post URI."""
    if not post_id or not post_id.startswith("at://"):
        return None
    did = post_id[5:].split("/", 1)[0]
    return did if did.startswith("did:") else None
