"""Instagram spider: hashtag sweeps and handle lists over the web client's JSON endpoints.

    scrapy crawl instagram -a tags=veganfood,plantbased [-a min_followers=1000 -a max_followers=99999]
    scrapy crawl instagram -a handles=alice,https://www.instagram.com/bob/
    scrapy crawl instagram -a tags=vegan -a base_url=http://127.0.0.1:8123   # the sandbox

Tag sweep: the GraphQL hashtag page
``/graphql/query/?query_hash=<HASHTAG_QUERY_HASH>&variables={"tag_name","first","after"}``,
page by page along ``page_info.end_cursor`` (``max_pages`` pages; ``max_posts`` entries of
the recent listing, 50 a page). The first page's ``edge_hashtag_to_top_posts`` and every
page's ``edge_hashtag_to_media`` become ``HashtagSightingItem`` rows (``listing`` top /
recent, 0-based ``position``; ``-a listing=top|recent`` keeps one of them). Listing nodes
name only ``owner.id``: each new owner (once a run) is resolved through one of their posts'
JSON (``/p/<shortcode>/?__a=1&__d=dis``), which names the username and, when it carries
``owner.edge_followed_by``, lets an out-of-range owner be skipped without another request;
then ``/api/v1/users/web_profile_info/?username=`` (sent with the web client's
``x-ig-app-id`` header) gives one ``ProfileItem`` with the 12 newest posts. A sighting is
held until its owner is resolved, so it leaves with ``author_handle`` set (or None when the
owner could not be resolved). More than 12 ``recent_posts`` cost GraphQL user-media pages
(``query_hash=<USER_MEDIA_QUERY_HASH>``, ``{"id","first","after"}``).

Handle list: ``web_profile_info`` per handle (``-a profile_source=html`` reads the profile
page instead: ``_sharedData`` when present, otherwise the ``og:description`` counts only).

Hosts: ``-a base_url=`` (default https://www.instagram.com); the API host is
i.instagram.com for the real site and the same origin otherwise (the sandbox). Both hosts
share one download slot, so ``MICROSCOUT_RATE_LIMITS["instagram"]`` (3 s by default) paces
the platform as a whole. ``MICROSCOUT_INSTAGRAM_SESSIONID`` is sent as the ``sessionid``
cookie on this spider's requests (never logged, never stored in a cassette: the cassette
filters the Cookie header); ``MICROSCOUT_PROXY`` goes to ``request.meta["proxy"]``.

What is not data is recorded, never parsed as an empty profile:

* a redirect to ``/accounts/login/`` is not followed: ``RejectedItem(reason="login_required")``
  (``dont_redirect``; 3xx reach the callback); a checkpoint (``checkpoint_required`` JSON or a
  redirect to ``/challenge/``): ``checkpoint_required``. Stats
  ``microscout/instagram/blocked/<reason>``;
* a 429 is retried by Scrapy after the ``Retry-After`` pause (RateLimitMiddleware); a
  "Please wait a few minutes" body is retried too (``retry/reason_count/rate_limited``);
  exhausted: ``rate_limited``;
* a body that is not JSON (or an HTML page cut short) is retried, then ``bad_json`` /
  ``truncated``; an unknown account ``profile_not_found``; other failures as in the Mastodon
  spider (``request_failed``, ``robots_disallowed``, ``not_found``, ...).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Generator, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.http import Request, Response
from twisted.python.failure import Failure

from crawler.items import HashtagSightingItem, ProfileItem, RejectedItem
from crawler.parsers import BlockedPage, UnrecognisedDocument
from crawler.parsers import instagram as ig
from crawler.spiders.base import (
    PAYLOAD_CHARS,
    BaseSpider,
    body_text,
    describe_failure,
    normalize_base_url,
    read_handles_file,
)

DEFAULT_BASE_URL = "https://www.instagram.com"
PAGE_SIZE = 50  # entries of a hashtag or user-media page (``first``)
TIMELINE_POSTS = 12  # posts a profile body carries
DEFAULT_RECENT_POSTS = TIMELINE_POSTS  # more costs a GraphQL page per author
MAX_RECENT_POSTS = 200
MAX_REDIRECTS = 3
#: Answers the callbacks read themselves: redirects (login walls are not followed) and the
#: client errors whose bodies say what happened (checkpoint_required, login_required, ...).
HANDLED_STATUSES = [301, 302, 303, 307, 308, 400, 401, 403, 404]
PROFILE_SOURCES = ("api", "html")

_USERNAME = re.compile(r"[a-z0-9._]{1,30}")

Output = Iterator[Any]
_NO_DATA: Any = object()  # what _read returns after dealing with a body that is not data



def is_instagram_host(host: str) -> bool:
    return host == "instagram.com" or host.endswith(".instagram.com")


def normalize_instagram_handle(value: str) -> str:
    """'@Alice', 'https://www.instagram.com/alice/' -> 'alice'; others are left for the
    common handle check (which refuses what is not a handle)."""
    text = value.strip()
    if text.startswith(("http://", "https://")):
        parts = urlsplit(text)
        segments = [s for s in parts.path.split("/") if s]
        if is_instagram_host((parts.hostname or "").lower()) and len(segments) == 1:
            return segments[0].lower()
        raise ValueError(f"handles: {text!r} is not a profile URL like "
                         "https://www.instagram.com/user/")
    return text.lstrip("@").lower()


def _now() -> datetime:
    return datetime.now(timezone.utc)



def _header(response: Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


class InstagramSpider(BaseSpider):
    name = "instagram"
    platform: ClassVar[str] = "instagram"
    #: Both listings come on one page: "all" keeps both, "top" / "recent" one of them.
    listings: ClassVar[tuple[str, ...]] = ("all", "top", "recent")
    max_recent_posts: ClassVar[int | None] = MAX_RECENT_POSTS
    extra_args: ClassVar[tuple[str, ...]] = ("base_url", "profile_source")

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("recent_posts", str(DEFAULT_RECENT_POSTS))
        given = kwargs.pop("handles", None)
        given = given if isinstance(given, list | tuple) else str(given or "").split(",")
        handles = [normalize_instagram_handle(str(h)) for h in given if str(h).strip()]
        handles_file = kwargs.pop("handles_file", None) or None
        if handles_file:
            handles += [normalize_instagram_handle(h) for h in read_handles_file(handles_file)]
        if handles:
            kwargs["handles"] = ",".join(handles)
        super().__init__(name, **kwargs)
        self.args.handles_file = str(handles_file) if handles_file else None
        for handle in self.args.handles:
            if not _USERNAME.fullmatch(handle):
                raise ValueError(f"handles: {handle!r} is not an Instagram username "
                                 "(letters, digits, '.', '_')")
        self.base_url = normalize_base_url(self.extra.get("base_url") or DEFAULT_BASE_URL)
        host = urlsplit(self.base_url).hostname or ""
        live = is_instagram_host(host)
        self.api_url = "https://i.instagram.com" if live else self.base_url
        # OffsiteMiddleware: instagram.com and its subdomains, or the sandbox's host.
        self.allowed_domains = ["instagram.com"] if live else [host]
        # One download slot for www. and i.: the per-platform delay paces the platform.
        self.download_slot = "instagram.com" if live else host
        self.profile_source = str(self.extra.get("profile_source") or "api").strip().lower()
        if self.profile_source not in PROFILE_SOURCES:
            raise ValueError(f"profile_source must be one of {', '.join(PROFILE_SOURCES)}, "
                             f"got {self.profile_source!r}")
        self.handles_by_owner: dict[str, str] = {}  # owner id -> handle, once resolved
        self.owner_state: dict[str, str] = {}  # owner id -> resolving / resolved / failed
        self.pending: dict[str, list[HashtagSightingItem]] = {}  # owner id -> held sightings
        self.seen_handles: set[str] = set()

    def spider_run_args(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "profile_source": self.profile_source}

    # -- requests ------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        for tag in self.args.tags:
            yield self.tag_request(tag)
        for handle in self.args.handles:
            for request in self.consider_handle(handle, self.handles_label):
                yield request

    def _setting(self, name: str) -> Any:
        settings = getattr(self, "settings", None)
        return settings.get(name) if settings is not None else None

    def _request(self, url: str, callback: Any, kind: str, *, priority: int = 0,
                 api: bool = True, **cb_kwargs: Any) -> Request:
        headers = ({"Accept": "application/json", "X-IG-App-ID": ig.APP_ID,
                    "X-Requested-With": "XMLHttpRequest"}
                   if api else {"Accept": "text/html,application/xhtml+xml"})
        meta: dict[str, Any] = {
            "microscout_kind": kind,
            "dont_redirect": True,
            "handle_httpstatus_list": HANDLED_STATUSES,
            "download_slot": self.download_slot,
        }
        proxy = self._setting("MICROSCOUT_PROXY")
        if proxy:
            meta["proxy"] = proxy
        session = self._setting("MICROSCOUT_INSTAGRAM_SESSIONID")
        return Request(
            url, callback=callback, errback=self.on_error, cb_kwargs=cb_kwargs,
            headers=headers, meta=meta, priority=priority,
            cookies={"sessionid": session} if session else None,
        )

    def tag_request(self, tag: str, *, after: str | None = None, page: int = 1,
                    offset: int = 0) -> Request:
        # "top" needs the first page's top posts only: ask for one recent post with them.
        first = 1 if self.args.listing == "top" else max(
            1, min(PAGE_SIZE, self.args.max_posts - offset))
        variables: dict[str, Any] = {"tag_name": tag, "first": first}
        if after:
            variables["after"] = after
        url = (f"{self.base_url}/graphql/query/?query_hash={ig.HASHTAG_QUERY_HASH}"
               f"&variables={quote(json.dumps(variables, separators=(',', ':')), safe='')}")
        return self._request(url, self.parse_tag_page, "tag", tag=tag, page=page, offset=offset)

    def owner_request(self, owner_id: str, shortcode: str, discovered_via: str | None) -> Request:
        url = f"{self.base_url}/p/{quote(shortcode, safe='')}/?__a=1&__d=dis"
        return self._request(url, self.parse_owner_post, "owner", priority=10,
                             owner_id=owner_id, discovered_via=discovered_via)

    def profile_request(self, handle: str, discovered_via: str | None) -> Request:
        if self.profile_source == "html":
            url = f"{self.base_url}/{quote(handle, safe='')}/"
        else:
            url = f"{self.api_url}/api/v1/users/web_profile_info/?username={quote(handle, safe='')}"
        return self._request(url, self.parse_profile, "profile", priority=20,
                             api=self.profile_source == "api", handle=handle,
                             discovered_via=discovered_via)

    def media_request(self, profile: ProfileItem, after: str) -> Request:
        need = self.args.recent_posts - len(profile.recent_posts)
        variables = {"id": profile.platform_user_id, "first": max(1, min(PAGE_SIZE, need)),
                     "after": after}
        url = (f"{self.base_url}/graphql/query/?query_hash={ig.USER_MEDIA_QUERY_HASH}"
               f"&variables={quote(json.dumps(variables, separators=(',', ':')), safe='')}")
        return self._request(url, self.parse_user_media, "media", priority=30, profile=profile)

    @property
    def handles_label(self) -> str:
        """discovered_via for handle-list profiles: the list file's name, else 'handles'."""
        return Path(self.args.handles_file).stem if self.args.handles_file else "handles"

    # -- callbacks -----------------------------------------------------------------------

    def parse_tag_page(self, response: Response, tag: str, page: int, offset: int) -> Output:
        data = yield from self._read(response, "HashtagSightingItem")
        if data is _NO_DATA:
            return
        inner = data.get("data") if isinstance(data, dict) else None
        if not isinstance(inner, dict) or not isinstance(inner.get("hashtag"), dict):
            known_empty = isinstance(inner, dict) and "hashtag" in inner
            yield self._reject(response, "hashtag_not_found" if known_empty else "unexpected_body",
                               "HashtagSightingItem", detail=f"#{tag}")
            return
        listing = self.args.listing
        media = ig.parse_hashtag_page(
            data, url=response.url, fetched_at=_now(), handles=self.handles_by_owner,
            position_offset=offset, include_top=page == 1 and listing != "recent",
        )
        self.stat("tag_pages")
        room = self.args.max_posts - offset
        sightings = []
        for item in media.items:
            if not isinstance(item, HashtagSightingItem):
                continue
            if item.listing == "recent":
                if listing == "top" or room <= 0:
                    continue
                room -= 1
            sightings.append(item)
        for sighting in sightings:
            yield from self.place_sighting(sighting, media, discovered_via=tag)
        offset += sum(1 for s in sightings if s.listing == "recent")
        cursor = media.next_cursor
        if listing != "top" and cursor and page < self.args.max_pages and (
                offset < self.args.max_posts):
            yield self.tag_request(tag, after=cursor, page=page + 1, offset=offset)

    def place_sighting(self, sighting: HashtagSightingItem, media: ig.MediaPage, *,
                       discovered_via: str) -> Output:
        """Yield a sighting whose author is known; hold the others until the owner resolves
        (asking for each owner once a run)."""
        if sighting.author_handle:
            yield sighting
            return
        owner_id = media.owner_of.get(sighting.post_id or "")
        state = self.owner_state.get(owner_id or "")
        if owner_id is None or state in ("resolved", "failed"):
            yield sighting
            return
        code = media.owners.get(owner_id)
        if state is None and code is None:  # no post of theirs to ask about
            yield from self.owner_failed(owner_id)
            yield sighting
            return
        self.pending.setdefault(owner_id, []).append(sighting)
        if state is None and code is not None:
            self.owner_state[owner_id] = "resolving"
            self.stat("owners_requested")
            yield self.owner_request(owner_id, code, discovered_via)

    def parse_owner_post(self, response: Response, owner_id: str,
                         discovered_via: str | None) -> Output:
        data = yield from self._read(response, "HashtagSightingItem")
        if data is _NO_DATA:
            return
        try:
            owner = ig.owner_of_post(data)
        except BlockedPage as exc:
            yield from self._blocked(response, exc, "HashtagSightingItem")
            return
        except UnrecognisedDocument as exc:
            yield self._reject(response, "unexpected_body", "HashtagSightingItem", detail=str(exc))
            yield from self.owner_failed(owner_id)
            return
        if not owner.handle or (owner.id and owner.id != owner_id):
            yield self._reject(response, "unexpected_body", "HashtagSightingItem",
                               detail=f"the post does not name owner {owner_id}")
            yield from self.owner_failed(owner_id)
            return
        self.stat("owners_resolved")
        self.owner_state[owner_id] = "resolved"
        self.handles_by_owner[owner_id] = owner.handle
        for sighting in self.pending.pop(owner_id, []):
            sighting.author_handle = owner.handle
            yield sighting
        if not self.args.in_range(owner.followers):
            self.stat("skipped_out_of_range")
            return
        yield from self.consider_handle(owner.handle, discovered_via)

    def owner_failed(self, owner_id: str) -> Output:
        """The owner cannot be resolved this run: release their sightings without a handle."""
        self.owner_state[owner_id] = "failed"
        self.stat("owners_unresolved")
        yield from self.pending.pop(owner_id, [])

    def consider_handle(self, handle: str, discovered_via: str | None) -> Output:
        """Request a profile once a run (not at all when a resumed run loaded it already)."""
        if handle in self.seen_handles:
            return
        self.seen_handles.add(handle)
        if self.already_loaded(self.platform, handle):
            return
        self.stat("profiles_requested")
        yield self.profile_request(handle, discovered_via)

    def parse_profile(self, response: Response, handle: str, discovered_via: str | None) -> Output:
        data = yield from self._read(response, "ProfileItem")
        if data is _NO_DATA:
            return
        try:
            items = ig.parse_document(data, url=response.url, fetched_at=_now())
        except BlockedPage as exc:
            yield from self._blocked(response, exc, "ProfileItem")
            return
        except UnrecognisedDocument as exc:
            yield self._reject(response, "unexpected_body", "ProfileItem", detail=str(exc))
            return
        profile = next((i for i in items if isinstance(i, ProfileItem)), None)
        if profile is None:
            rejected = next((i for i in items if isinstance(i, RejectedItem)), None)
            if rejected is not None:
                rejected.item_type = "ProfileItem"
                rejected.source_url = response.url
                rejected.detail = f"{rejected.detail} ({handle})"
                yield rejected
            else:
                yield self._reject(response, "unexpected_body", "ProfileItem",
                                   detail=f"no profile of {handle}")
            return
        if isinstance(profile.followers, int) and not self.args.in_range(profile.followers):
            self.stat("skipped_out_of_range")
            return
        profile.discovered_via = discovered_via
        cursor, has_next = ig.page_info(data)
        if (len(profile.recent_posts) < self.args.recent_posts and has_next and cursor
                and profile.platform_user_id):
            yield self.media_request(profile, cursor)
            return
        yield self.finish(profile)

    def parse_user_media(self, response: Response, profile: ProfileItem) -> Output:
        data = yield from self._read(response, "ProfileItem")
        if data is _NO_DATA:
            return
        try:
            page = ig.parse_user_media_page(data, handles={
                profile.platform_user_id or "": profile.handle or ""})
        except UnrecognisedDocument as exc:
            yield self._reject(response, "unexpected_body", "ProfileItem", detail=str(exc))
            yield self.finish(profile)
            return
        known = {p.post_id for p in profile.recent_posts}
        profile.recent_posts.extend(p for p in page.items if getattr(p, "post_id", None)
                                    and p.post_id not in known)
        if len(profile.recent_posts) < self.args.recent_posts and page.next_cursor:
            yield self.media_request(profile, page.next_cursor)
            return
        yield self.finish(profile)

    def finish(self, profile: ProfileItem) -> ProfileItem:
        profile.recent_posts = profile.recent_posts[: self.args.recent_posts]
        self.stat("profiles")
        return profile

    # -- reading bodies --------------------------------------------------------------------

    def _read(self, response: Response, item_type: str) -> Generator[Any, None, Any]:
        """The body as JSON (dict) or page text (``data = yield from self._read(...)``).

        What is not data is dealt with here and gives ``_NO_DATA``: a redirect (a login wall
        or checkpoint is recorded, another redirect on the site followed), a blocked body
        (recorded; "please wait" retried), a body that does not decode (retried, then
        recorded), an error status (recorded).
        """
        status = response.status
        if 300 <= status < 400:
            yield from self._redirected(response, item_type)
            return _NO_DATA
        text = body_text(response)
        if text.lstrip().startswith(("{", "[", "for (;;);")):
            try:
                data: Any = json.loads(text.lstrip().removeprefix("for (;;);"))
            except ValueError:
                yield from self._retry_or_reject(response, "bad_json", item_type, text)
                return _NO_DATA
            if isinstance(data, dict):
                try:
                    ig.check_blocked(data)
                except BlockedPage as exc:
                    yield from self._blocked(response, exc, item_type)
                    return _NO_DATA
        else:
            data = text
            lowered = text.lower()
            if status == 200 and "<html" in lowered[:1024] and "</html>" not in lowered[-1024:]:
                yield from self._retry_or_reject(response, "truncated", item_type, text)
                return _NO_DATA
        if status >= 400:
            reason = "request_failed"
            if status == 404:
                kind = response.meta.get("microscout_kind")
                reason = "profile_not_found" if kind == "profile" else "not_found"
            yield self._reject(response, reason, item_type, detail=f"HTTP {status}")
            yield from self._after_failure(response.request)
            return _NO_DATA
        return data

    def _redirected(self, response: Response, item_type: str) -> Output:
        location = _header(response, "Location")
        blocked = ig.redirect_block(response.urljoin(location) if location else None)
        if blocked is not None:
            yield from self._blocked(response, blocked, item_type)
            return
        request = response.request
        assert request is not None  # a downloaded response always has its request
        hops = request.meta.get("microscout_redirects", 0)
        target = response.urljoin(location) if location else None
        host = (urlsplit(target).hostname or "") if target else ""
        on_site = any(host == d or host.endswith("." + d) for d in self.allowed_domains)
        if target and on_site and hops < MAX_REDIRECTS:
            yield request.replace(url=target, meta={**request.meta,
                                                    "microscout_redirects": hops + 1})
            return
        yield self._reject(response, "unexpected_redirect", item_type,
                           detail=f"HTTP {response.status} to {location}")
        yield from self._after_failure(request)

    def _blocked(self, response: Response, exc: BlockedPage, item_type: str) -> Output:
        """A login wall, checkpoint or rate-limit body: recorded (rate limits retried first)."""
        if exc.reason == "rate_limited":
            yield from self._retry_or_reject(response, "rate_limited", item_type,
                                             body_text(response))
            return
        self.stat(f"blocked/{exc.reason}")
        self.logger.warning("%s: %s (%s)", exc.reason, response.url, exc.detail or "blocked")
        yield self._reject(response, exc.reason, item_type, detail=exc.detail or None)
        yield from self._after_failure(response.request)

    def _retry_or_reject(self, response: Response, reason: str, item_type: str,
                         text: str) -> Output:
        assert response.request is not None  # a downloaded response always has its request
        retry = get_retry_request(response.request, spider=self, reason=reason)
        if retry is not None:
            yield retry
            return
        yield self._reject(response, reason, item_type,
                           detail=f"HTTP {response.status}, {len(response.body)} bytes")
        yield from self._after_failure(response.request)

    def _reject(self, response: Response, reason: str, item_type: str,
                detail: str | None = None) -> RejectedItem:
        return RejectedItem(reason=reason, detail=detail, platform=self.platform,
                            payload=body_text(response)[:PAYLOAD_CHARS] or None,
                            source_url=response.url, item_type=item_type)

    def _after_failure(self, request: Request | None) -> Output:
        """What a failed request leaves behind: held sightings, a profile half-way."""
        if request is None:
            return
        kind = request.meta.get("microscout_kind")
        if kind == "owner":
            yield from self.owner_failed(request.cb_kwargs["owner_id"])
        elif kind == "media":
            yield self.finish(request.cb_kwargs["profile"])

    def on_error(self, failure: Failure) -> Output:
        """Errback: every failed request becomes a RejectedItem (nothing lost silently)."""
        request: Request = failure.request  # type: ignore[attr-defined]  # set by Scrapy
        kind = request.meta.get("microscout_kind")
        item_type = "HashtagSightingItem" if kind in ("tag", "owner") else "ProfileItem"
        reason, detail, payload = describe_failure(failure)
        self.logger.warning("%s: %s (%s)", reason, request.url, detail)
        yield RejectedItem(reason=reason, detail=detail, platform=self.platform, payload=payload,
                           source_url=request.url, item_type=item_type)
        yield from self._after_failure(request)


__all__ = ["InstagramSpider", "normalize_base_url", "normalize_instagram_handle"]
