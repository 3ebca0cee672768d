"""Mastodon (and Pixelfed) spider: hashtag sweeps and handle lists over the public API.

    scrapy crawl mastodon -a tags=veganfood,plantbased [-a instance=https://mastodon.social]
    scrapy crawl mastodon -a handles=alice@mastodon.social,bob@example.org
    scrapy crawl mastodon -a handles_file=handles.txt -a min_followers=1000 -a max_followers=99999

``instance`` is the registry's name for ``base_url`` (either is accepted; ``crawl_runs`` keeps
``instance``). Pixelfed serves the same API, so the spider reads Pixelfed instances too.

Tag sweep: ``/api/v1/timelines/tag/:tag?limit=40`` page by page along ``Link: rel="next"``
(up to ``max_pages`` pages / ``max_posts`` statuses a tag). Every status seen becomes a
``HashtagSightingItem`` (``position`` counts across pages). Each new author (once a run, by
account id) whose follower count - read from the account embedded in the status - is in
range gets ``/api/v1/accounts/:id/statuses?limit=N&exclude_reblogs=true`` fetched and becomes
one ``ProfileItem`` with ``recent_posts``; out-of-range authors cost no request
(``microscout/mastodon/skipped_out_of_range``).

Handle list: ``/api/v1/accounts/lookup?acct=`` then the statuses as above. Everything is
asked of the crawled instance only: a remote author (``user@elsewhere``) is looked up there
with the full acct and read through its instance-local id (the instance caches remote
accounts), so no request leaves ``allowed_domains``.

Failures follow the spider protocol (:mod:`crawler.spiders.base`): a body that is not JSON is
retried, then recorded as ``bad_json``; an ``{"error": ...}`` or otherwise unexpected body is
recorded (``not_found`` / ``unexpected_body``); failed requests become ``RejectedItem`` rows
(``not_found`` for a 404 lookup, ``request_failed``, ``robots_disallowed``...). When only an
author's statuses fail, the ProfileItem is still yielded from the account already in hand, with
no recent posts (:meth:`MastodonSpider.after_failure`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

from scrapy.http import Request, Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure
from w3lib.url import add_or_replace_parameter, url_query_parameter

from crawler.errors import UnrecognisedDocument
from crawler.parsers.mastodon import (
    account_followers,
    parse_account,
    parse_link_header,
    parse_statuses,
    sightings,
)
from crawler.platforms import REGISTRY
from crawler.spiders.args import BaseUrlParams, Params
from crawler.spiders.base import BaseSpider, Output, normalize_base_url, utcnow

PLATFORM = REGISTRY["mastodon"]
DEFAULT_INSTANCE = PLATFORM.default_base_url
PAGE_SIZE = 40  # the API's maximum for timelines and account statuses


def normalize_instance(value: str) -> str:
    """'mastodon.social' / 'https://mastodon.social/' -> 'https://mastodon.social'."""
    return normalize_base_url(value, name="instance", example=DEFAULT_INSTANCE)


def unexpected(data: Any, detail: str | None = None) -> UnrecognisedDocument:
    """The error for a JSON body of the wrong shape; Mastodon's ``{"error": "Record not
    found"}`` becomes ``not_found``."""
    error = data.get("error") if isinstance(data, Mapping) else None
    reason = "not_found" if error and "not found" in str(error).lower() else "unexpected_body"
    return UnrecognisedDocument("; ".join(filter(None, [detail, str(error) if error else None])),
                                reason=reason)


class MastodonSpider(BaseSpider):
    name = "mastodon"
    platform: ClassVar[str] = "mastodon"
    listings: ClassVar[tuple[str, ...]] = ("recent",)  # tag timelines are newest first
    max_recent_posts: ClassVar[int | None] = PAGE_SIZE
    params_model: ClassVar[type[Params]] = BaseUrlParams
    default_base_url: ClassVar[str] = PLATFORM.default_base_url
    base_url_aliases: ClassVar[tuple[str, ...]] = PLATFORM.base_url_aliases
    item_types: ClassVar[Mapping[str, str]] = {"tag": "HashtagSightingItem"}
    refresh_platforms: ClassVar[tuple[str, ...]] = ("mastodon", "pixelfed")

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.seen_accounts: set[str] = set()

    # -- where ------------------------------------------------------------------------------

    @property
    def instance(self) -> str:
        return self.base_url

    @property
    def instance_netloc(self) -> str:
        return urlsplit(self.instance).netloc

    @property
    def instance_host(self) -> str:
        return urlsplit(self.instance).hostname or ""

    @property
    def allowed_domains(self) -> list[str]:
        """OffsiteMiddleware: nothing outside the crawled instance (ports are not allowed here)."""
        return [self.instance_host]

    def on_instance(self, url: str) -> bool:
        return urlsplit(url).netloc.lower() == self.instance_netloc

    # -- requests ----------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        for tag in self.args.tags:
            yield self.tag_request(tag)
        for handle in self.args.handles:
            if not any(self.already_loaded(p, handle) for p in self.refresh_platforms):
                yield self.lookup_request(handle)

    def tag_request(self, tag: str, url: str | None = None, page: int = 1,
                    offset: int = 0) -> Request:
        url = url or f"{self.instance}/api/v1/timelines/tag/{quote(tag, safe='')}?limit={PAGE_SIZE}"
        return self.request(url, self.parse_tag_page, "tag",
                            cb_kwargs={"tag": tag, "page": page, "offset": offset})

    def lookup_request(self, handle: str) -> Request:
        user, _, host = handle.partition("@")
        own = not host or host in (self.instance_netloc, self.instance_host)
        acct = user if own else handle
        url = f"{self.instance}/api/v1/accounts/lookup?acct={quote(acct, safe='')}"
        return self.request(url, self.parse_lookup, "lookup", cb_kwargs={"handle": handle})

    def statuses_request(self, account: Mapping[str, Any], discovered_via: str | None) -> Request:
        url = (
            f"{self.instance}/api/v1/accounts/{quote(str(account['id']), safe='')}/statuses"
            f"?limit={self.args.recent_posts}&exclude_reblogs=true"
        )
        return self.request(
            url, self.parse_account_statuses, "statuses",
            priority=10,  # finish authors before more tag pages
            cb_kwargs={"account": dict(account), "discovered_via": discovered_via},
        )

    # -- callbacks ---------------------------------------------------------------------------

    def parse_tag_page(self, response: Response, tag: str, page: int, offset: int) -> Output:
        data = self.decode(response)
        if not isinstance(data, list):
            raise unexpected(data)
        statuses = [s for s in data if isinstance(s, Mapping)][: self.args.max_posts - offset]
        yield from sightings(
            statuses, tag=tag, listing=self.args.listing, start_position=offset,
            instance=self.instance_netloc, seen_at=utcnow(), source_url=response.url,
        )
        for status in statuses:
            boosted = status.get("reblog")
            original = boosted if isinstance(boosted, Mapping) else status
            yield from self.consider_author(original.get("account"), discovered_via=tag)
        offset += len(statuses)
        next_url = parse_link_header(response.headers.getlist("Link")).get("next")
        if not (statuses and next_url and page < self.args.max_pages
                and offset < self.args.max_posts):
            return
        next_url = response.urljoin(next_url)
        if not self.on_instance(next_url):
            self.stat("offsite_link_skipped")
            return
        if url_query_parameter(next_url, "limit") is None:
            next_url = add_or_replace_parameter(next_url, "limit", str(PAGE_SIZE))
        yield self.tag_request(tag, next_url, page=page + 1, offset=offset)

    def parse_lookup(self, response: Response, handle: str) -> Output:
        data = self.decode(response)
        if not isinstance(data, Mapping) or "error" in data or "id" not in data:
            raise unexpected(data, f"lookup of {handle}")
        yield from self.consider_author(data, discovered_via=self.handles_label)

    def parse_account_statuses(self, response: Response, account: dict[str, Any],
                               discovered_via: str | None) -> Output:
        data = self.decode(response)
        if not isinstance(data, list):
            raise unexpected(data)
        statuses = [s for s in data if isinstance(s, Mapping)]
        # The statuses carry a fresher copy of the account than the one we started from.
        author = next(
            (s["account"] for s in statuses
             if isinstance(s.get("account"), Mapping)
             and str(s["account"].get("id")) == str(account.get("id"))),
            account,
        )
        posts = parse_statuses(statuses, instance=self.instance_netloc)
        yield self.profile(author, discovered_via, response.url,
                           posts=posts[: self.args.recent_posts])

    # -- failures ----------------------------------------------------------------------------

    def describe(self, failure: Failure) -> tuple[str, str | None, Any]:
        """A failed lookup names the handle it was for."""
        reason, detail, payload = super().describe(failure)
        request: Request = failure.request  # type: ignore[attr-defined]  # set by Scrapy
        if request.meta.get("microscout_kind") == "lookup" and failure.check(HttpError):
            detail = f"{detail} for {request.cb_kwargs.get('handle')}"
        return reason, detail, payload

    def after_failure(self, request: Request | None) -> Iterable[Any]:
        """Failed statuses still yield the profile from the account in hand, without posts."""
        if request is not None and request.meta.get("microscout_kind") == "statuses":
            yield self.profile(request.cb_kwargs["account"],
                               request.cb_kwargs.get("discovered_via"), request.url)

    # -- helpers -----------------------------------------------------------------------------

    def consider_author(self, account: Any, *, discovered_via: str | None) -> Output:
        """Request an author's statuses once a run, when the follower count is in range."""
        if not isinstance(account, Mapping) or account.get("id") is None:
            return
        key = str(account["id"])
        if key in self.seen_accounts:
            return
        self.seen_accounts.add(key)
        if not self.args.in_range(account_followers(account)):
            self.stat("skipped_out_of_range")
            return
        if self.loaded_handles:
            known = parse_account(account, instance=self.instance_netloc)
            if self.already_loaded(known.platform or self.platform, known.handle):
                return
        if self.args.recent_posts == 0:
            yield self.profile(account, discovered_via, None)
            return
        self.stat("authors_requested")
        yield self.statuses_request(account, discovered_via)

    def profile(self, account: Mapping[str, Any], discovered_via: str | None,
                source_url: str | None, posts: list | None = None) -> Any:
        item = parse_account(account, instance=self.instance_netloc, fetched_at=utcnow(),
                             source_url=source_url)
        item.recent_posts = list(posts or [])
        item.discovered_via = discovered_via
        if any(post.platform == "pixelfed" for post in item.recent_posts):
            item.platform = "pixelfed"
        self.stat("profiles")
        return item
