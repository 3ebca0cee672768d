"""Mastodon API (and Pixelfed, which serves the same API) JSON -> items.

Pure functions over decoded JSON: no Scrapy, no network. The spider calls the small functions
(:func:`parse_account`, :func:`parse_status`, :func:`sightings`, :func:`parse_link_header`);
``microscout parse`` and the tests call :func:`parse_document`, which detects what a body is.

Conventions (the same for every function here):

* ``handle`` is canonical ``user@instance`` in lower case, exactly as
  ``pipelines.values.normalize_handle`` makes it (Mastodon and Pixelfed look accounts up
  case-insensitively); the instance is a host name without port (``localhost:3000`` ->
  ``localhost``), so a sandbox on a new port keeps the same handles.
* Counts stay the integers the API sends. ``posted_at`` is a UTC ``datetime`` when the
  timestamp reads cleanly, otherwise the raw text for the normaliser to quarantine.
* Text is the status' HTML rendered as plain text: ``<p>`` paragraphs become blank-line
  separated blocks, ``<br>`` a newline, and the text of every span is kept (Mastodon hides
  parts of long links in ``<span class="invisible">``; the full URL is what we want).
* Hashtags are the API's ``tags[].name`` merged with the ``#tags`` found in the text (Pixelfed
  search results leave ``tags`` empty), lower-case, NFC, without ``#``, first seen first.
* A reblog (a status whose ``reblog`` is set) is not the author's own post: it never becomes
  one of the author's ``recent_posts``; in listings the reblogged status counts instead.
* A status' ``language`` (ISO 639-1, the author's choice or the server's guess; null on
  Pixelfed) is ``PostItem.language``, primary subtag only. The first link of the account's
  ``fields`` (else Pixelfed's ``website``) is ``external_url``; every other link of the
  fields and ``website`` is ``ProfileItem.links`` (hashtag links in a field are not).

What :func:`parse_document` returns for each body (documented choice):

====================================  ========================================================
body                                  items
====================================  ========================================================
Account object                        ``[ProfileItem]``
status list from an account's         ``[ProfileItem]`` of the author (the account embedded in
``/accounts/:id/statuses``            the statuses) with ``recent_posts`` (reblogs dropped)
tag timeline (URL                     one ``HashtagSightingItem`` per status, then one
``/timelines/tag/:tag``, or a list    ``ProfileItem`` per distinct author whose
whose statuses all share one tag)     ``recent_posts`` are that author's statuses in the
                                      listing (so every sighted post has a row)
v2 search ``{accounts, hashtags,      sightings for the statuses that carry the searched tag
statuses}``                           (``q=`` of the URL, or the only hashtag in the result),
                                      listing ``"top"``; a ProfileItem per account / author
other status lists (public timeline)  one ``ProfileItem`` per author with their statuses
a single status (URL                  ``[ProfileItem]`` of its author (the reblogged status'
``/statuses/:id``, or none: a         author for a reblog) with the status as the one
saved file)                           ``recent_posts`` entry, like a tag timeline's authors
the answer to ``POST /statuses`` or   ``[PostItem]`` (the reblogged status for a reblog): a
``DELETE /statuses/:id`` (the source  status just written, or one that is gone
``text`` instead of ``content``)
``{"error": ...}``                    ``[RejectedItem]``: ``not_found``, ``login_required``,
                                      ``rate_limited`` or ``api_error`` (recorded, not silent)
instance metadata, ``[]``             ``[]`` (a valid body that holds no items)
anything else                         raises :class:`~crawler.parsers.UnrecognisedDocument`
====================================  ========================================================
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from w3lib.html import replace_entities

from crawler.items import HashtagSightingItem, PostItem, ProfileItem, RejectedItem
from crawler.parsers import UnrecognisedDocument, declared_language, loads_json, profile_links
from crawler.values import extract_hashtags, html_to_text, merge_tags, normalize_handle
from crawler.values import normalize_tag as _normalize_tag

__all__ = [
    "account_followers",
    "html_to_text",
    "is_reblog",
    "normalize_tag",
    "parse_account",
    "parse_document",
    "parse_link_header",
    "parse_status",
    "parse_statuses",
    "sightings",
]

Item = ProfileItem | PostItem | HashtagSightingItem | RejectedItem

# --- small helpers ---------------------------------------------------------------------------

# Text, hashtag and handle rules are the normaliser's own (pipelines.values), so what the
# parser emits is already in the form the pipelines and the warehouse key on.
_HREF = re.compile(r"""href\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_ANCHOR = re.compile(r"<a\b([^>]*)>", re.IGNORECASE)
_HASHTAG_LINK = re.compile(r"""\brel\s*=\s*["'][^"']*\btag\b|\bclass\s*=\s*["'][^"']*\bhashtag\b""",
                           re.IGNORECASE)
_PIXELFED_POST_URL = re.compile(r"^/p/[^/]+/\d+/?$")
_ACCOUNT_STATUSES_PATH = re.compile(r"/api/v1/accounts/([^/]+)/statuses/?$")
_TAG_TIMELINE_PATH = re.compile(r"/api/v1/timelines/tag/([^/?#]+)/?$")
_STATUS_PATH = re.compile(r"/api/v1/statuses/[^/]+/?$")


def normalize_tag(tag: str) -> str:
    """'#VeganFood' -> 'veganfood' (NFC, lower case, no '#'); '' for nothing."""
    return _normalize_tag(tag) or ""


def _host(url: Any) -> str | None:
    if not url or not isinstance(url, str):
        return None
    try:
        netloc = urlsplit(url).netloc.lower()
    except ValueError:  # "http://[" and other unsplittable text
        return None
    return netloc.rsplit("@", 1)[-1] or None


def _list(value: Any) -> list:
    """``value`` when it is a list, else [] (a field the API sends as a list, mangled)."""
    return value if isinstance(value, list) else []


def _instance(data: Mapping[str, Any], instance: str | None) -> str | None:
    """The instance an object belongs to: the given one, else the host of its ``url``."""
    if instance:
        return _host(instance) if "//" in instance else instance.lower()
    return _host(data.get("url")) or _host(data.get("uri"))


def _qualify(acct: str | None, instance: str | None, platform: str = "mastodon") -> str | None:
    """'alice' + 'example.social' -> 'alice@example.social'; 'Bob@X.y' -> 'bob@x.y'."""
    if not acct:
        return None
    return normalize_handle(acct, platform, instance=instance)


def _timestamp(value: Any) -> datetime | Any:
    """ISO 8601 text -> aware UTC datetime; anything unreadable is returned unchanged."""
    if not isinstance(value, str) or not value:
        return value
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        return parsed.astimezone(timezone.utc)
    except OverflowError:  # "0001-01-01T00:00:00+01:00" is before year 1 in UTC
        return value


def _str_or_none(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


# --- platform detection -------------------------------------------------------------------


def _account_is_pixelfed(account: Mapping[str, Any]) -> bool:
    if str(account.get("software") or "").lower() == "pixelfed":
        return True
    # Pixelfed-only account keys, and Pixelfed's Laravel storage path for avatars.
    if "header_bg" in account or "pf_type" in account:
        return True
    avatar = str(account.get("avatar") or "")
    return "/storage/avatars/" in avatar


def _status_is_pixelfed(status: Mapping[str, Any]) -> bool:
    if "pf_type" in status or "content_text" in status:
        return True
    url = status.get("url")
    path = urlsplit(url).path if isinstance(url, str) and _host(url) else ""
    if _PIXELFED_POST_URL.match(path):
        return True
    account = status.get("account")
    return isinstance(account, Mapping) and _account_is_pixelfed(account)


def _platform(is_pixelfed: bool, platform: str | None) -> str:
    if platform in ("mastodon", "pixelfed"):
        # An explicit "pixelfed" (the instance says so) wins; "mastodon" is only a default.
        return "pixelfed" if is_pixelfed else platform
    return "pixelfed" if is_pixelfed else "mastodon"


# --- accounts -------------------------------------------------------------------------------


def account_followers(account: Mapping[str, Any]) -> int | None:
    """followers_count of an account object as an int (None when absent or unreadable)."""
    value = account.get("followers_count")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _external_url(account: Mapping[str, Any]) -> str | None:
    for field in _list(account.get("fields")):
        if not isinstance(field, Mapping):
            continue
        value = str(field.get("value") or "")
        match = _HREF.search(value)
        if match:
            return replace_entities(match.group(1))
        plain = html_to_text(value)
        if plain.startswith(("http://", "https://")) and " " not in plain:
            return plain
    return _str_or_none(account.get("website"))  # Pixelfed's own profile link


def _field_links(account: Mapping[str, Any]) -> list[str]:
    """Every link of the account's profile fields, in order: the ``href`` of each anchor in a
    value (hashtag links left out: they point at the instance's tag page), or a value that is
    a bare URL; then Pixelfed's ``website``."""
    urls: list[str] = []
    for field in _list(account.get("fields")):
        if not isinstance(field, Mapping):
            continue
        value = str(field.get("value") or "")
        anchors = _ANCHOR.findall(value)
        for attributes in anchors:
            href = _HREF.search(attributes)
            if href and not _HASHTAG_LINK.search(attributes):
                urls.append(replace_entities(href.group(1)))
        plain = html_to_text(value)
        if not anchors and plain.startswith(("http://", "https://")) and " " not in plain:
            urls.append(plain)
    website = _str_or_none(account.get("website"))
    if website:
        urls.append(website)
    return urls


def _is_verified(account: Mapping[str, Any]) -> bool:
    return any(
        isinstance(field, Mapping) and field.get("verified_at")
        for field in _list(account.get("fields"))
    )


def parse_account(
    data: Mapping[str, Any],
    *,
    instance: str | None = None,
    fetched_at: datetime | None = None,
    source_url: str | None = None,
    platform: str | None = None,
) -> ProfileItem:
    """A Mastodon/Pixelfed Account object -> ProfileItem (without recent posts).

    ``instance`` is the host the account was read from (a URL is accepted too); it qualifies
    local ``acct`` values. ``platform="pixelfed"`` says the instance is a Pixelfed server.
    """
    if not isinstance(data, Mapping):
        raise UnrecognisedDocument(f"account must be a JSON object, got {type(data).__name__}")
    home = _instance(data, instance)
    acct = data.get("acct") or data.get("username")
    kind = _platform(_account_is_pixelfed(data), platform)
    external_url = _external_url(data)
    return ProfileItem(
        platform=kind,
        handle=_qualify(acct, home, kind),
        platform_user_id=_str_or_none(data.get("id")),
        display_name=_str_or_none(data.get("display_name")),
        bio=html_to_text(data.get("note")) or None,
        external_url=external_url,
        is_verified=_is_verified(data),
        category=None,
        followers=data.get("followers_count"),
        following=data.get("following_count"),
        posts_count=data.get("statuses_count"),
        profile_url=_str_or_none(data.get("url")),
        source_url=source_url,
        fetched_at=fetched_at,
        links=profile_links(_field_links(data), external_url=external_url),
    )


# --- statuses -------------------------------------------------------------------------------


def is_reblog(status: Mapping[str, Any]) -> bool:
    """True for a boost: the status only wraps someone else's status."""
    return bool(status.get("reblog"))


def _media_type(status: Mapping[str, Any]) -> str:
    media = _list(status.get("media_attachments"))
    if len(media) > 1:
        return "carousel"
    if len(media) == 1 and isinstance(media[0], Mapping):
        return str(media[0].get("type") or "unknown").lower()
    return "text"


def _status_hashtags(status: Mapping[str, Any], text: str) -> list[str]:
    api_tags = [
        str(tag.get("name") or "") for tag in _list(status.get("tags")) if isinstance(tag, Mapping)
    ]
    return merge_tags(api_tags, extract_hashtags(text))


def _status_text(status: Mapping[str, Any]) -> str:
    if status.get("content") is not None:
        return html_to_text(status.get("content"))
    # DELETE /statuses/:id answers with the source "text" instead of "content".
    return str(status.get("text") or "").strip()


def parse_status(
    data: Mapping[str, Any], *, instance: str | None = None, platform: str | None = None
) -> PostItem:
    """A Status object -> PostItem. A reblog is parsed as the wrapper; callers that want the
    author's own posts use :func:`parse_statuses`, which skips reblogs."""
    if not isinstance(data, Mapping):
        raise UnrecognisedDocument(f"status must be a JSON object, got {type(data).__name__}")
    embedded = data.get("account")
    account: Mapping[str, Any] = embedded if isinstance(embedded, Mapping) else {}
    home = _instance(account, instance) or _instance(data, None)
    kind = _platform(_status_is_pixelfed(data), platform)
    text = _status_text(data)
    replies = data.get("replies_count")
    if replies is None:
        replies = data.get("reply_count")  # Pixelfed's v2 search says reply_count
    posted_at = _timestamp(data.get("created_at"))
    return PostItem(
        platform=kind,
        post_id=_str_or_none(data.get("id")),
        author_handle=_qualify(account.get("acct") or account.get("username"), home, kind),
        url=_str_or_none(data.get("url")) or _str_or_none(data.get("uri")),
        posted_at=posted_at,
        text=text,
        hashtags=_status_hashtags(data, text),
        mentions=list(dict.fromkeys(
            handle
            for mention in _list(data.get("mentions"))
            if isinstance(mention, Mapping)
            and (handle := _qualify(mention.get("acct"), home, kind))
        )),
        likes=data.get("favourites_count"),
        comments=replies,
        shares=data.get("reblogs_count"),
        views=None,
        media_type=_media_type(data),
        posted_at_precision="exact" if isinstance(posted_at, datetime) else None,
        language=declared_language(data.get("language")),
    )


def parse_statuses(
    statuses: Iterable[Mapping[str, Any]],
    *,
    instance: str | None = None,
    platform: str | None = None,
) -> list[PostItem]:
    """An account's statuses -> its own posts (reblogs are skipped)."""
    return [
        parse_status(status, instance=instance, platform=platform)
        for status in statuses
        if isinstance(status, Mapping) and not is_reblog(status)
    ]


def _original(status: Mapping[str, Any]) -> Mapping[str, Any]:
    inner = status.get("reblog")
    return inner if isinstance(inner, Mapping) else status


def sightings(
    statuses: Iterable[Mapping[str, Any]],
    *,
    tag: str,
    listing: str = "recent",
    start_position: int = 0,
    instance: str | None = None,
    seen_at: datetime | None = None,
    source_url: str | None = None,
    platform: str | None = None,
) -> list[HashtagSightingItem]:
    """One HashtagSightingItem per status of a hashtag listing, ``position`` counted from
    ``start_position`` (pass the number of statuses on earlier pages). A reblog in a listing
    is a sighting of the reblogged status."""
    hashtag = normalize_tag(tag)
    items = []
    for index, status in enumerate(statuses):
        post = parse_status(_original(status), instance=instance, platform=platform)
        items.append(
            HashtagSightingItem(
                platform=post.platform,
                hashtag=hashtag,
                post_id=post.post_id,
                author_handle=post.author_handle,
                position=start_position + index,
                listing=listing,
                seen_at=seen_at,
                source_url=source_url,
            )
        )
    return items


# --- Link header ----------------------------------------------------------------------------

_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]*)*)")
_REL = re.compile(r"""rel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))""", re.IGNORECASE)


def parse_link_header(value: str | bytes | Iterable[str | bytes] | None) -> dict[str, str]:
    """``<u1>; rel="next", <u2>; rel="prev"`` -> {"next": u1, "prev": u2} (first one wins)."""
    if value is None:
        return {}
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("latin-1")
    if not isinstance(value, str):
        value = ", ".join(
            part.decode("latin-1") if isinstance(part, (bytes, bytearray)) else str(part)
            for part in value
        )
    links: dict[str, str] = {}
    for url, params in _LINK.findall(value):
        rel = _REL.search(params)
        if not rel:
            continue
        for name in (rel.group(1) or rel.group(2) or "").lower().split():
            links.setdefault(name, url.strip())
    return links


# --- parse_document -------------------------------------------------------------------------


def _looks_like_account(data: Mapping[str, Any]) -> bool:
    return ("acct" in data or "username" in data) and "followers_count" in data


def _looks_like_status(data: Mapping[str, Any]) -> bool:
    return "id" in data and isinstance(data.get("account"), Mapping) and (
        "content" in data or "text" in data
    )


def _error_reason(message: str) -> str:
    lowered = message.lower()
    if "not found" in lowered:
        return "not_found"
    if "authenticat" in lowered or "access token" in lowered or "login" in lowered:
        return "login_required"
    if "too many" in lowered or "rate limit" in lowered:
        return "rate_limited"
    return "api_error"


def _decode(body: str | bytes | dict | list) -> Any:
    if isinstance(body, (dict, list)):
        return body
    if isinstance(body, (bytes, bytearray)):
        body = bytes(body).decode("utf-8", errors="replace")
    text = body.lstrip("\ufeff").strip()
    if text.startswith("<"):
        raise UnrecognisedDocument("HTML, not a Mastodon API JSON body")
    try:
        return loads_json(text)
    except ValueError as exc:
        raise UnrecognisedDocument(f"not JSON (truncated body?): {exc}") from None


def _common_tag(statuses: list[Mapping[str, Any]], instance: str | None) -> str | None:
    """The one hashtag every status of a listing carries, if there is exactly one."""
    common: set[str] | None = None
    for status in statuses:
        tags = set(parse_status(_original(status), instance=instance).hashtags)
        common = tags if common is None else common & tags
    return next(iter(common)) if common and len(common) == 1 else None


def _profiles_by_author(
    statuses: list[Mapping[str, Any]],
    *,
    instance: str | None,
    fetched_at: datetime | None,
    url: str | None,
    discovered_via: str | None = None,
    extra_accounts: Iterable[Mapping[str, Any]] = (),
) -> list[ProfileItem]:
    """One ProfileItem per author of the (non-reblog) statuses, their posts attached."""
    profiles: dict[str, ProfileItem] = {}
    for account in extra_accounts:
        if isinstance(account, Mapping) and _looks_like_account(account):
            profile = parse_account(account, instance=instance, fetched_at=fetched_at,
                                    source_url=url)
            profile.discovered_via = discovered_via
            profiles.setdefault(str(account.get("id")), profile)
    for status in statuses:
        own = _original(status)
        author = own.get("account")
        if not isinstance(author, Mapping):
            continue
        key = str(author.get("id"))
        if key not in profiles:
            profile = parse_account(author, instance=instance, fetched_at=fetched_at,
                                    source_url=url)
            profile.discovered_via = discovered_via
            profiles[key] = profile
        profiles[key].recent_posts.append(parse_status(own, instance=instance))
    for profile in profiles.values():
        if any(post.platform == "pixelfed" for post in profile.recent_posts):
            profile.platform = "pixelfed"
    return list(profiles.values())


def _status_list(
    statuses: list[Any],
    *,
    url: str | None,
    fetched_at: datetime | None,
    instance: str | None,
) -> list[Item]:
    if not statuses:
        return []
    if not all(isinstance(s, Mapping) and _looks_like_status(s) for s in statuses):
        raise UnrecognisedDocument("a JSON list, but not of Mastodon statuses")
    path = urlsplit(url).path if url else ""
    authors = {str(status["account"].get("id")) for status in statuses}

    if _ACCOUNT_STATUSES_PATH.search(path) or (not path and len(authors) == 1):
        # The account's own statuses: the wrapper's account is the author even for reblogs.
        profile = parse_account(statuses[0]["account"], instance=instance,
                                fetched_at=fetched_at, source_url=url)
        profile.recent_posts = parse_statuses(statuses, instance=instance)
        if any(post.platform == "pixelfed" for post in profile.recent_posts):
            profile.platform = "pixelfed"
        return [profile]

    tag_match = _TAG_TIMELINE_PATH.search(path)
    tag = normalize_tag(unquote(tag_match.group(1))) if tag_match else None
    if tag is None and not path:
        tag = _common_tag(statuses, instance)
    if tag is None:
        return list(_profiles_by_author(statuses, instance=instance, fetched_at=fetched_at,
                                        url=url))
    seen = sightings(statuses, tag=tag, listing="recent", instance=instance,
                     seen_at=fetched_at, source_url=url)
    profiles = _profiles_by_author(statuses, instance=instance, fetched_at=fetched_at,
                                   url=url, discovered_via=tag)
    return [*seen, *profiles]


def _single_status(
    data: Mapping[str, Any],
    *,
    url: str | None,
    fetched_at: datetime | None,
    instance: str | None,
) -> list[Item]:
    """A status read on its own (``GET /statuses/:id`` or a saved file): its author's profile
    with the status as recent post. The answers to ``POST /statuses`` and ``DELETE
    /statuses/:id`` (whose ``text`` replaces ``content``) stay the bare post."""
    path = urlsplit(url).path if url else ""
    read = data.get("content") is not None and (not path or bool(_STATUS_PATH.search(path)))
    profiles = _profiles_by_author([data], instance=instance, fetched_at=fetched_at,
                                   url=url) if read else []
    return list(profiles) or [parse_status(_original(data), instance=instance)]


def _search_result(
    data: Mapping[str, Any],
    *,
    url: str | None,
    fetched_at: datetime | None,
    instance: str | None,
) -> list[Item]:
    statuses = [s for s in _list(data.get("statuses")) if isinstance(s, Mapping)]
    tag = None
    query = parse_qs(urlsplit(url).query).get("q") if url else None
    if query and query[0].strip():
        tag = normalize_tag(query[0])
    else:
        hashtags = [h for h in _list(data.get("hashtags")) if isinstance(h, (Mapping, str))]
        if len(hashtags) == 1:
            only = hashtags[0]
            tag = normalize_tag(only if isinstance(only, str) else str(only.get("name") or ""))
    items: list[Item] = []
    if tag:
        carrying = []
        for position, status in enumerate(statuses):
            post = parse_status(_original(status), instance=instance)
            if tag in post.hashtags:
                carrying.append((position, post))
        items.extend(
            HashtagSightingItem(
                platform=post.platform, hashtag=tag, post_id=post.post_id,
                author_handle=post.author_handle, position=position, listing="top",
                seen_at=fetched_at, source_url=url,
            )
            for position, post in carrying
        )
    items.extend(_profiles_by_author(statuses, instance=instance, fetched_at=fetched_at,
                                     url=url, discovered_via=tag,
                                     extra_accounts=_list(data.get("accounts"))))
    return items


def parse_document(
    body: str | bytes | dict | list,
    *,
    url: str | None = None,
    fetched_at: datetime | None = None,
    headers: Mapping[str, str] | None = None,
    instance: str | None = None,
) -> list[Item]:
    """Detect what a Mastodon/Pixelfed API body holds and return its items (see the table in
    the module docstring). ``instance`` defaults to the host of ``url``."""
    del headers  # the API body says everything; Link paging is the spider's business
    data = _decode(body)
    instance = instance or _host(url)
    if isinstance(data, list):
        return _status_list(data, url=url, fetched_at=fetched_at, instance=instance)
    if not isinstance(data, Mapping):
        raise UnrecognisedDocument(f"JSON {type(data).__name__}, not a Mastodon API body")
    if "error" in data and isinstance(data.get("error"), str):
        message = data["error"]
        return [RejectedItem(
            reason=_error_reason(message),
            detail=message + (f" ({data['error_description']})"
                              if data.get("error_description") else ""),
            platform="mastodon",
            payload=dict(data),
            source_url=url,
            item_type="ProfileItem" if url and "/accounts" in url else None,
        )]
    if _looks_like_status(data):
        return _single_status(data, url=url, fetched_at=fetched_at, instance=instance)
    if _looks_like_account(data):
        return [parse_account(data, instance=instance, fetched_at=fetched_at, source_url=url)]
    if {"accounts", "statuses", "hashtags"} <= data.keys():
        return _search_result(data, url=url, fetched_at=fetched_at, instance=instance)
    if ("domain" in data or "uri" in data) and ("version" in data or "title" in data):
        return []  # instance metadata (/api/v1/instance, /api/v2/instance): no items
    raise UnrecognisedDocument("JSON object that is not a Mastodon account, status or search")
