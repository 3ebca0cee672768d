"""Mastodon (and Pixelfed) spider: hashtag sweeps and handle lists over the public API.

    scrapy crawl mastodon -a tags=veganfood,plantbased [-a instance=https://mastodon.social]
    scrapy crawl mastodon -a handles=alice@mastodon.social,bob@example.org
    scrapy crawl mastodon -a handles_file=handles.txt -a min_followers=1000 -a max_followers=99999

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

Nothing is lost silently: a body that is not JSON is retried (``get_retry_request``, reason
``bad_json``) and, once retries are exhausted, becomes ``RejectedItem(reason="bad_json")``;
failed requests (exhausted 429/5xx retries, DNS errors, robots.txt refusals) reach the
errback and become ``RejectedItem`` (``not_found`` for a 404 lookup, ``request_failed``,
``robots_disallowed``...). When only an author's statuses fail, the ProfileItem is still
yielded from the account already in hand, with no recent posts.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Generator, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

import scrapy
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.http import Request, Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure
from w3lib.url import add_or_replace_parameter, url_query_parameter

from crawler.items import RejectedItem
from crawler.parsers.mastodon import (
    account_followers,
    parse_account,
    parse_link_header,
    parse_statuses,
    sightings,
)
from crawler.spiders.base import (
    PAYLOAD_CHARS,
    BaseSpider,
    body_text,
    describe_failure,
    normalize_base_url,
)

DEFAULT_INSTANCE = "https://mastodon.social"
PAGE_SIZE = 40  # the API's maximum for timelines and account statuses

Output = Iterator[scrapy.Request | Any]
_NO_JSON: Any = object()  # what _json returns after handling a body that is not JSON



def normalize_instance(value: str) -> str:
    """'mastodon.social' / 'https://mastodon.social/' -> 'https://mastodon.social'."""
    return normalize_base_url(value, name="instance", example="https://mastodon.social")


def _now() -> datetime:
    return datetime.now(timezone.utc)



class MastodonSpider(BaseSpider):
    name = "mastodon"
    platform: ClassVar[str] = "mastodon"
    listings: ClassVar[tuple[str, ...]] = ("recent",)  # tag timelines are newest first
    max_recent_posts: ClassVar[int | None] = PAGE_SIZE
    extra_args: ClassVar[tuple[str, ...]] = ("instance",)
    refresh_platforms: ClassVar[tuple[str, ...]] = ("mastodon", "pixelfed")

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.instance = normalize_instance(self.extra.get("instance") or DEFAULT_INSTANCE)
        parts = urlsplit(self.instance)
        self.instance_netloc = parts.netloc
        self.instance_host = parts.hostname or ""
        # OffsiteMiddleware: nothing outside the crawled instance (ports are not allowed here).
        self.allowed_domains = [self.instance_host]
        self.seen_accounts: set[str] = set()

    def spider_run_args(self) -> dict[str, Any]:
        return {"instance": self.instance}

    # -- requests ----------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        for tag in self.args.tags:
            yield self.tag_request(tag)
        for handle in self.args.handles:
            if not any(self.already_loaded(p, handle) for p in self.refresh_platforms):
                yield self.lookup_request(handle)

    def _request(self, url: str, callback: Any, kind: str, **cb_kwargs: Any) -> Request:
        return Request(
            url,
            callback=callback,
            errback=self.on_error,
            cb_kwargs=cb_kwargs,
            headers={"Accept": "application/json"},
            meta={"microscout_kind": kind},
            priority=10 if kind == "statuses" else 0,  # finish authors before more pages
        )

    def tag_request(self, tag: str) -> Request:
        url = f"{self.instance}/api/v1/timelines/tag/{quote(tag, safe='')}?limit={PAGE_SIZE}"
        return self._request(url, self.parse_tag_page, "tag", tag=tag, page=1, offset=0)

    def lookup_request(self, handle: str) -> Request:
        user, _, host = handle.partition("@")
        own = not host or host in (self.instance_netloc, self.instance_host)
        acct = user if own else handle
        url = f"{self.instance}/api/v1/accounts/lookup?acct={quote(acct, safe='')}"
        return self._request(url, self.parse_lookup, "lookup", handle=handle)

    def statuses_request(self, account: Mapping[str, Any], discovered_via: str | None) -> Request:
        url = (
            f"{self.instance}/api/v1/accounts/{quote(str(account['id']), safe='')}/statuses"
            f"?limit={self.args.recent_posts}&exclude_reblogs=true"
        )
        return self._request(
            url, self.parse_account_statuses, "statuses",
            account=dict(account), discovered_via=discovered_via,
        )

    @property
    def handles_label(self) -> str:
        """discovered_via for handle-list profiles: the list file's name, else 'handles'."""
        return Path(self.args.handles_file).stem if self.args.handles_file else "handles"

    def on_instance(self, url: str) -> bool:
        return urlsplit(url).netloc.lower() == self.instance_netloc

    # -- callbacks ---------------------------------------------------------------------------

    def parse_tag_page(self, response: Response, tag: str, page: int, offset: int) -> Output:
        data = yield from self._json(response, item_type="HashtagSightingItem")
        if data is _NO_JSON:
            return
        if not isinstance(data, list):
            yield self._unexpected(response, data, "HashtagSightingItem")
            return
        statuses = [s for s in data if isinstance(s, Mapping)][: self.args.max_posts - offset]
        yield from sightings(
            statuses, tag=tag, listing=self.args.listing, start_position=offset,
            instance=self.instance_netloc, seen_at=_now(), source_url=response.url,
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
        yield self._request(next_url, self.parse_tag_page, "tag",
                            tag=tag, page=page + 1, offset=offset)

    def parse_lookup(self, response: Response, handle: str) -> Output:
        data = yield from self._json(response, item_type="ProfileItem")
        if data is _NO_JSON:
            return
        if not isinstance(data, Mapping) or "error" in data or "id" not in data:
            yield self._unexpected(response, data, "ProfileItem", detail=f"lookup of {handle}")
            return
        yield from self.consider_author(data, discovered_via=self.handles_label)

    def parse_account_statuses(
        self,
        response: Response,
        account: dict[str, Any],
        discovered_via: str | None,
    ) -> Output:
        data = yield from self._json(response, item_type="ProfileItem", account=account,
                                     discovered_via=discovered_via)
        if data is _NO_JSON:
            return
        if not isinstance(data, list):
            yield self._unexpected(response, data, "ProfileItem")
            yield self.profile(account, discovered_via, response.url)
            return
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
            if self.already_loaded(known.platform, known.handle):
                return
        if self.args.recent_posts == 0:
            yield self.profile(account, discovered_via, None)
            return
        self.stat("authors_requested")
        yield self.statuses_request(account, discovered_via)

    def profile(self, account: Mapping[str, Any], discovered_via: str | None,
                source_url: str | None, posts: list | None = None) -> Any:
        item = parse_account(account, instance=self.instance_netloc, fetched_at=_now(),
                             source_url=source_url)
        item.recent_posts = list(posts or [])
        item.discovered_via = discovered_via
        if any(post.platform == "pixelfed" for post in item.recent_posts):
            item.platform = "pixelfed"
        self.stat("profiles")
        return item

    def _json(self, response: Response, *, item_type: str,
              account: dict[str, Any] | None = None,
              discovered_via: str | None = None) -> Generator[Any, None, Any]:
        """Decode the body (``data = yield from self._json(...)``); for a body that is not
        JSON, yield its retry (or, retries exhausted, the RejectedItem) and return _NO_JSON."""
        text = body_text(response)
        try:
            return json.loads(text)
        except ValueError:
            pass
        assert response.request is not None  # a downloaded response always has its request
        retry = get_retry_request(response.request, spider=self, reason="bad_json")
        if retry is not None:
            yield retry
            return _NO_JSON
        yield RejectedItem(
            reason="bad_json", detail=f"HTTP {response.status}, {len(response.body)} bytes",
            platform=self.platform, payload=text[:PAYLOAD_CHARS], source_url=response.url,
            item_type=item_type,
        )
        if account is not None:
            yield self.profile(account, discovered_via, response.url)
        return _NO_JSON

    def _unexpected(self, response: Response, data: Any, item_type: str,
                    detail: str | None = None) -> RejectedItem:
        error = data.get("error") if isinstance(data, Mapping) else None
        reason = "not_found" if error and "not found" in str(error).lower() else "unexpected_body"
        return RejectedItem(
            reason=reason,
            detail="; ".join(filter(None, [detail, str(error) if error else None])) or None,
            platform=self.platform,
            payload=body_text(response)[:PAYLOAD_CHARS],
            source_url=response.url,
            item_type=item_type,
        )

    def on_error(self, failure: Failure) -> Output:
        """Errback: every failed request becomes a RejectedItem (nothing lost silently)."""
        request: Request = failure.request  # type: ignore[attr-defined]  # set by Scrapy
        kind = request.meta.get("microscout_kind")
        item_type = "HashtagSightingItem" if kind == "tag" else "ProfileItem"
        reason, detail, payload = describe_failure(failure)
        if kind == "lookup" and failure.check(HttpError):
            detail += f" for {request.cb_kwargs.get('handle')}"
        self.logger.warning("%s: %s (%s)", reason, request.url, detail)
        yield RejectedItem(reason=reason, detail=detail, platform=self.platform, payload=payload,
                           source_url=request.url, item_type=item_type)
        if kind == "statuses":
            yield self.profile(request.cb_kwargs["account"],
                               request.cb_kwargs.get("discovered_via"), request.url)
