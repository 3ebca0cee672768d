"""Bluesky (AT Protocol App View) parsers: XRPC JSON bodies in, items out.

Endpoints read (all served unauthenticated by :data:`PUBLIC_APPVIEW`, except post search,
which Bluesky has switched off for anonymous callers several times since 2024):

- ``app.bsky.actor.getProfile`` (one ``ProfileViewDetailed``) and ``app.bsky.actor.getProfiles``
  (``{"profiles": [...]}``, at most :data:`MAX_PROFILES_PER_CALL` actors a call) -> ProfileItem.
- ``app.bsky.feed.getAuthorFeed`` (``{"feed": [FeedViewPost], "cursor"}``) -> the author's own
  PostItems. Items whose ``reason`` is ``app.bsky.feed.defs#reasonRepost`` (posts by others that
  the author reposted) or whose post author is not the feed owner are left out, so other people's
  likes never count towards the author's engagement.
- ``app.bsky.feed.searchPosts?q=#tag`` (``{"posts": [PostView], "cursor", "hitsTotal"}``) ->
  PostItem + HashtagSightingItem per post; listing ``recent`` for ``sort=latest`` (the default),
  ``top`` for ``sort=top``.
- ``app.bsky.feed.getFeed?feed=at://.../app.bsky.feed.generator/<rkey>`` -> PostItem +
  HashtagSightingItem per post with listing ``feed`` and the feed's rkey as the "hashtag".

Field mapping (ARCHITECTURE.md): likes = ``likeCount``, comments = ``replyCount``,
shares = ``repostCount``. ``quoteCount`` is *not* added to shares: a quote is a post of its own
(with its own likes) rather than a re-broadcast, and counting it would make Bluesky shares
incomparable with Mastodon reblogs. views is always None (Bluesky shows no view counts).

Declared language: a post record's ``langs[0]`` (primary subtag, lower case) is
``PostItem.language``. Bluesky formats carry no paid-partnership flag, contact email, country
or profile link list (``website`` is ``external_url``).

Identity: the DID is ``platform_user_id``; handles are kept as Bluesky spells them
(``name.bsky.social``, custom domains) but lower-cased, since handles are case-insensitive
domain names. An account whose handle failed verification comes back as ``handle.invalid``;
its DID is used as the handle instead, so two such accounts never collide on
(platform, handle).

Pagination: :func:`next_cursor` is the single rule for "is there another page"; see there.
Errors: XRPC error bodies ``{"error": ..., "message": ...}`` for missing/expired auth or rate
limits raise :class:`BlockedPage` (reasons ``auth_required`` / ``rate_limited``); any other
error name, and anything that is not one of the shapes above, raises
:class:`UnrecognisedDocument`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from crawler.items import HashtagSightingItem, PostItem, ProfileItem
from crawler.parsers import BlockedPage, UnrecognisedDocument, declared_language, loads_json
from crawler.values import extract_hashtags, normalize_tag

PLATFORM = "bluesky"

#: Bluesky's unauthenticated, cached App View.
PUBLIC_APPVIEW = "https://public.api.bsky.app"
#: The web app, for human-facing profile and post URLs.
WEB_BASE = "https://bsky.app"
#: ``app.bsky.actor.getProfiles`` takes at most this many ``actors`` a call.
MAX_PROFILES_PER_CALL = 25
#: Page size limit of getAuthorFeed, searchPosts and getFeed.
MAX_PAGE_LIMIT = 100

GET_PROFILE = "app.bsky.actor.getProfile"
GET_PROFILES = "app.bsky.actor.getProfiles"
GET_AUTHOR_FEED = "app.bsky.feed.getAuthorFeed"
SEARCH_POSTS = "app.bsky.feed.searchPosts"
GET_FEED = "app.bsky.feed.getFeed"

REASON_REPOST = "app.bsky.feed.defs#reasonRepost"
FACET_TAG = "app.bsky.richtext.facet#tag"
FACET_MENTION = "app.bsky.richtext.facet#mention"
INVALID_HANDLE = "handle.invalid"

#: XRPC error names that mean "this endpoint wants a (fresh) session".
AUTH_ERRORS = frozenset(
    {"AuthMissing", "AuthRequired", "AuthenticationRequired", "ExpiredToken", "InvalidToken"}
)
RATE_LIMIT_ERRORS = frozenset({"RateLimitExceeded"})

#: searchPosts sort parameter -> HashtagSightingItem.listing.
SORT_LISTINGS = {"latest": "recent", "top": "top"}
FEED_LISTING = "feed"

#: Embed lexicon (``#view`` suffix stripped) -> PostItem.media_type. No embed -> "text";
#: recordWithMedia (a quote with its own media) takes the kind of its media.
EMBED_MEDIA_TYPES = {
    "app.bsky.embed.images": "image",
    "app.bsky.embed.video": "video",
    "app.bsky.embed.external": "link",
    "app.bsky.embed.record": "quote",
}
RECORD_WITH_MEDIA = "app.bsky.embed.recordWithMedia"

_POST_URI = re.compile(r"^at://(?P<repo>[^/]+)/app\.bsky\.feed\.post/(?P<rkey>[^/?#]+)$")
_GENERATOR_URI = re.compile(r"^at://[^/]+/app\.bsky\.feed\.generator/(?P<rkey>[^/?#]+)$")
# A handle typed in the text: "@" at a word start, then a domain name (at least one dot).
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
_TEXT_MENTION = re.compile(rf"(?<![\w@.])@({_LABEL}(?:\.{_LABEL})+)")

Item = ProfileItem | PostItem | HashtagSightingItem


def _normalize_tag(tag: str) -> str | None:
    return normalize_tag(tag) or None


# --- request URLs ------------------------------------------------------------------------------


def xrpc_url(method: str, params: Mapping[str, Any] | Sequence[tuple[str, Any]] = (),
             *, base: str = PUBLIC_APPVIEW) -> str:
    """``{base}/xrpc/{method}?{params}``; parameters whose value is None are left out."""
    pairs = params.items() if isinstance(params, Mapping) else params
    query = urlencode([(k, v) for k, v in pairs if v is not None])
    return f"{base.rstrip('/')}/xrpc/{method}" + (f"?{query}" if query else "")


def get_profile_url(actor: str, *, base: str = PUBLIC_APPVIEW) -> str:
    """getProfile for one actor (handle or DID)."""
    return xrpc_url(GET_PROFILE, {"actor": actor}, base=base)


def get_profiles_url(actors: Sequence[str], *, base: str = PUBLIC_APPVIEW) -> str:
    """getProfiles for 1 to :data:`MAX_PROFILES_PER_CALL` actors (handles or DIDs)."""
    if not actors or len(actors) > MAX_PROFILES_PER_CALL:
        raise ValueError(
            f"getProfiles takes 1 to {MAX_PROFILES_PER_CALL} actors, got {len(actors)}"
        )
    return xrpc_url(GET_PROFILES, [("actors", actor) for actor in actors], base=base)


def get_profiles_urls(actors: Iterable[str], *, base: str = PUBLIC_APPVIEW) -> list[str]:
    """getProfiles URLs covering ``actors`` in batches of :data:`MAX_PROFILES_PER_CALL`."""
    actors = list(dict.fromkeys(actors))
    return [get_profiles_url(actors[i:i + MAX_PROFILES_PER_CALL], base=base)
            for i in range(0, len(actors), MAX_PROFILES_PER_CALL)]


def get_author_feed_url(actor: str, *, cursor: str | None = None, limit: int = 30,
                        filter: str | None = "posts_no_replies",
                        base: str = PUBLIC_APPVIEW) -> str:
    """getAuthorFeed page. The default filter leaves out the author's replies, which would
    drag the engagement mean down (pass ``filter=None`` for the server default,
    ``posts_with_replies``)."""
    return xrpc_url(GET_AUTHOR_FEED, {"actor": actor, "limit": _limit(limit),
                                      "filter": filter, "cursor": cursor}, base=base)


def search_posts_url(tag: str, *, sort: str = "latest", cursor: str | None = None,
                     limit: int = 25, base: str = PUBLIC_APPVIEW) -> str:
    """searchPosts for ``#tag``; ``sort`` is ``latest`` (listing recent) or ``top``."""
    if sort not in SORT_LISTINGS:
        raise ValueError(f"sort must be one of {', '.join(SORT_LISTINGS)}, got {sort!r}")
    return xrpc_url(SEARCH_POSTS, {"q": "#" + tag.lstrip("#"), "sort": sort,
                                   "limit": _limit(limit), "cursor": cursor}, base=base)


def get_feed_url(feed: str, *, cursor: str | None = None, limit: int = 30,
                 base: str = PUBLIC_APPVIEW) -> str:
    """getFeed for a feed generator's at:// URI."""
    return xrpc_url(GET_FEED, {"feed": feed, "limit": _limit(limit), "cursor": cursor},
                    base=base)


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE_LIMIT:
        raise ValueError(f"limit must be 1 to {MAX_PAGE_LIMIT}, got {limit}")
    return limit


def _request(url: str | None) -> tuple[str | None, dict[str, list[str]]]:
    """(XRPC method, query parameters) of a request URL; (None, {}) when not an XRPC URL."""
    if not url:
        return None, {}
    parts = urlsplit(url)
    params = parse_qs(parts.query, keep_blank_values=True)
    marker = "/xrpc/"
    if marker not in parts.path:
        return None, params
    return parts.path.split(marker, 1)[1].strip("/") or None, params


def _param(params: Mapping[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


# --- profiles ---------------------------------------------------------------------------------


def canonical_handle(handle: str | None, did: str | None) -> str | None:
    """Lower-cased handle; the DID when the App View reports ``handle.invalid`` or none."""
    if isinstance(handle, str) and handle.strip():
        cleaned = handle.strip().lstrip("@").lower()
        if cleaned != INVALID_HANDLE:
            return cleaned
    return did


def profile_web_url(handle_or_did: str) -> str:
    return f"{WEB_BASE}/profile/{handle_or_did}"


def parse_profile(data: Mapping[str, Any], *, url: str | None = None,
                  fetched_at: datetime | None = None) -> ProfileItem:
    """A ``ProfileViewDetailed`` (or plain ``ProfileView``) -> ProfileItem with raw counts."""
    if not isinstance(data, Mapping):
        raise UnrecognisedDocument("Bluesky profile that is not an object")
    did = data.get("did")
    if not isinstance(did, str) or not did.startswith("did:"):
        raise UnrecognisedDocument("Bluesky profile without a did")
    handle = canonical_handle(data.get("handle"), did)
    assert handle is not None  # did is set
    website = data.get("website")
    return ProfileItem(
        platform=PLATFORM,
        handle=handle,
        platform_user_id=did,
        display_name=data.get("displayName"),
        bio=data.get("description"),
        external_url=website if isinstance(website, str) and website else None,
        is_verified=_is_verified(data.get("verification")),
        followers=data.get("followersCount"),
        following=data.get("followsCount"),
        posts_count=data.get("postsCount"),
        profile_url=profile_web_url(handle),
        source_url=url,
        fetched_at=fetched_at,
    )


def _is_verified(verification: Any) -> bool | None:
    """From the ``verification`` block (2025+): True when the account is verified by a trusted
    verifier or is one; False when the block says otherwise; None when there is no block."""
    if not isinstance(verification, Mapping):
        return None
    return "valid" in (verification.get("verifiedStatus"),
                       verification.get("trustedVerifierStatus"))


def parse_profiles(data: Mapping[str, Any], *, url: str | None = None,
                   fetched_at: datetime | None = None) -> list[ProfileItem]:
    """getProfiles ``{"profiles": [...]}`` -> one ProfileItem per profile."""
    profiles = data.get("profiles")
    if not isinstance(profiles, list):
        raise UnrecognisedDocument("getProfiles body without a profiles list")
    return [parse_profile(p, url=url, fetched_at=fetched_at) for p in profiles]


# --- posts ------------------------------------------------------------------------------------


def post_web_url(uri: str, handle: str | None = None) -> str | None:
    """https://bsky.app/profile/<handle or did>/post/<rkey> for an at:// post URI."""
    match = _POST_URI.match(uri)
    if not match:
        return None
    return f"{WEB_BASE}/profile/{handle or match['repo']}/post/{match['rkey']}"


def parse_post(post: Mapping[str, Any]) -> PostItem:
    """A ``PostView`` -> PostItem (post_id is the at:// URI)."""
    uri = post.get("uri")
    author = post.get("author")
    if not isinstance(uri, str) or not isinstance(author, Mapping):
        raise UnrecognisedDocument("Bluesky post without uri or author")
    record = _mapping(post.get("record"))
    text = record.get("text") if isinstance(record.get("text"), str) else None
    handle = canonical_handle(author.get("handle"), author.get("did"))
    created_at = record.get("createdAt")
    return PostItem(
        platform=PLATFORM,
        post_id=uri,
        author_handle=handle,
        url=post_web_url(uri, handle),
        posted_at=created_at,
        posted_at_precision="exact" if created_at else None,
        text=text,
        hashtags=post_hashtags(record),
        mentions=post_mentions(record),
        likes=post.get("likeCount"),
        comments=post.get("replyCount"),
        shares=post.get("repostCount"),
        views=None,
        media_type=media_type(post.get("embed") or record.get("embed")),
        language=_language(record.get("langs")),
    )


def _language(langs: Any) -> str | None:
    """The first of the record's ``langs`` (BCP-47 tags the author's client set; the 2023
    captures predate the field), primary subtag only."""
    return declared_language(langs[0]) if isinstance(langs, list) and langs else None


def _features(record: Mapping[str, Any]) -> Iterable[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """(facet index, feature) pairs of a post record's rich-text facets."""
    facets = record.get("facets")
    for facet in facets if isinstance(facets, list) else ():
        if not isinstance(facet, Mapping) or not isinstance(facet.get("features"), list):
            continue
        index = _mapping(facet.get("index"))
        for feature in facet["features"]:
            if isinstance(feature, Mapping):
                yield index, feature


def post_hashtags(record: Mapping[str, Any]) -> list[str]:
    """Normalised hashtags: tag facets, then ``record.tags`` (extra tags not in the text), then
    in-text #tags (only when pipelines.values provides extract_hashtags); no duplicates."""
    raw: list[str] = [f["tag"] for _, f in _features(record)
                      if f.get("$type") == FACET_TAG and isinstance(f.get("tag"), str)]
    extra = record.get("tags")
    raw += [t for t in extra if isinstance(t, str)] if isinstance(extra, list) else []
    text = record.get("text")
    if isinstance(text, str):
        raw += list(extract_hashtags(text))
    return _unique(_normalize_tag(tag) for tag in raw)


def post_mentions(record: Mapping[str, Any]) -> list[str]:
    """Mentioned accounts: each mention facet as the handle its text span shows ("@amir.blue"
    -> "amir.blue"), or its DID when the span is not an @handle; then @handles typed in the
    text without a facet. Lower-cased, no duplicates, in order."""
    text = record.get("text")
    text = text if isinstance(text, str) else ""
    encoded = text.encode("utf-8", "surrogatepass")  # a lone surrogate keeps its 3 bytes
    found: list[str | None] = []
    for index, feature in _features(record):
        if feature.get("$type") != FACET_MENTION:
            continue
        span = _byte_span(encoded, index)
        if span and span.startswith("@") and _TEXT_MENTION.fullmatch(span):
            found.append(span[1:].lower())
        elif isinstance(feature.get("did"), str):
            found.append(feature["did"])
    found += [m.lower() for m in _TEXT_MENTION.findall(text)]
    return _unique(found)


def _byte_span(encoded: bytes, index: Mapping[str, Any]) -> str | None:
    start, end = index.get("byteStart"), index.get("byteEnd")
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(encoded)):
        return None
    try:
        return encoded[start:end].decode("utf-8")
    except UnicodeDecodeError:
        return None


def media_type(embed: Any) -> str | None:
    """image / video / link / quote from the embed's ``$type``; "text" when there is no embed;
    None for an embed kind this parser does not know."""
    if not isinstance(embed, Mapping):
        return "text"
    kind = str(embed.get("$type", "")).removesuffix("#view")
    if kind == RECORD_WITH_MEDIA:
        media = embed.get("media")
        return media_type(media) if isinstance(media, Mapping) else "quote"
    return EMBED_MEDIA_TYPES.get(kind)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _unique(values: Iterable[str | None]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


# --- listings ---------------------------------------------------------------------------------


def next_cursor(data: Any, *, url: str | None = None) -> str | None:
    """The cursor to request the next page with, or None when the listing has ended.

    The end is reached when the body's ``cursor`` is absent, not a string or blank; when the
    page holds no posts (the App View can hand out a cursor with an empty page); when it equals
    the cursor this request was made with (``url``), so it would not advance; or when it is an
    obvious placeholder: one non-digit character repeated, such as ``"xxxxxxx"``. (Real cursors
    are ``<ms timestamp>::<cid>`` for feeds and a decimal offset for search.)
    """
    if not isinstance(data, Mapping):
        return None
    cursor = data.get("cursor")
    if not isinstance(cursor, str) or not cursor.strip():
        return None
    page = data.get("feed") if "feed" in data else data.get("posts")
    if not page:
        return None
    if url is not None and _param(_request(url)[1], "cursor") == cursor:
        return None
    if len(set(cursor)) == 1 and not cursor.isdigit():
        return None
    return cursor


def _same_actor(author: Mapping[str, Any], actor: str) -> bool:
    actor = actor.strip().lstrip("@").lower()
    return actor in (author.get("did"), str(author.get("handle", "")).lower())


def _reason_type(entry: Mapping[str, Any]) -> str | None:
    reason = entry.get("reason")
    return reason.get("$type") if isinstance(reason, Mapping) else None


def _entries(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    entries = data.get(key)
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        raise UnrecognisedDocument(f"Bluesky listing without a {key} list")
    return entries


def feed_owner(data: Mapping[str, Any]) -> str | None:
    """The DID an author feed belongs to, inferred from the page when the request's actor is
    not known: the one DID that authored every non-repost item and made every repost. None
    when the page mixes accounts (a custom feed) or is empty."""
    dids = set()
    for entry in _entries(data, "feed"):
        if _reason_type(entry) == REASON_REPOST:
            did = _mapping(entry["reason"].get("by")).get("did")
        else:
            did = _mapping(_mapping(entry.get("post")).get("author")).get("did")
        dids.add(did if isinstance(did, str) else None)
    return dids.pop() if len(dids) == 1 and None not in dids else None


def parse_author_feed(data: Mapping[str, Any], *, actor: str | None = None,
                      url: str | None = None) -> tuple[list[PostItem], str | None]:
    """getAuthorFeed page -> (the author's own PostItems, next cursor).

    ``actor`` (handle or DID) names the feed owner; default the request URL's ``actor``, then
    :func:`feed_owner`. Reposts (``reasonRepost``) and posts by anyone but the owner are left
    out; a pinned post repeated further down the page is kept once.
    """
    entries = _entries(data, "feed")
    actor = actor or _param(_request(url)[1], "actor") or feed_owner(data)
    posts: dict[str, PostItem] = {}
    for entry in entries:
        post = entry.get("post")
        if _reason_type(entry) == REASON_REPOST or not isinstance(post, Mapping):
            continue
        if actor is not None and not _same_actor(_mapping(post.get("author")), actor):
            continue
        item = parse_post(post)
        posts.setdefault(item.post_id or "", item)
    return list(posts.values()), next_cursor(data, url=url)


def _start_position(url: str | None) -> int:
    """0-based position of a page's first post (as the warehouse stores it): searchPosts
    cursors are decimal offsets; a feed's opaque cursor gives no offset, so pass
    ``start_position`` (the posts on earlier pages) to the listing parsers for feeds."""
    cursor = _param(_request(url)[1], "cursor")
    return int(cursor) if cursor and cursor.isdigit() else 0


def _listing_items(posts: Iterable[Mapping[str, Any]], *, hashtag: str | None, listing: str,
                   url: str | None, fetched_at: datetime | None,
                   start_position: int | None) -> list[Item]:
    """PostItem, then its HashtagSightingItem (when the hashtag is known), for each post."""
    items: list[Item] = []
    seen: set[str] = set()
    position = _start_position(url) if start_position is None else start_position
    for post in posts:
        item = parse_post(post)
        if item.post_id in seen:
            continue
        seen.add(item.post_id or "")
        items.append(item)
        if hashtag:
            items.append(HashtagSightingItem(
                platform=PLATFORM, hashtag=hashtag, post_id=item.post_id,
                author_handle=item.author_handle, position=position, listing=listing,
                seen_at=fetched_at, source_url=url,
            ))
        position += 1
    return items


def search_hashtag(params: Mapping[str, list[str]]) -> str | None:
    """The normalised hashtag a searchPosts request swept: its ``tag`` parameter, else ``q``
    when q is a single term (``#vegan`` or ``vegan``); None for other queries."""
    tag = _param(params, "tag")
    if tag:
        return _normalize_tag(tag)
    q = (_param(params, "q") or "").strip()
    if not q or any(ch.isspace() for ch in q):
        return None
    return _normalize_tag(q)


def parse_search_posts(data: Mapping[str, Any], *, url: str | None = None,
                       fetched_at: datetime | None = None, hashtag: str | None = None,
                       listing: str | None = None,
                       start_position: int | None = None) -> tuple[list[Item], str | None]:
    """searchPosts page -> (PostItem + HashtagSightingItem per post, next cursor).

    ``hashtag`` and ``listing`` default to the request URL's (``q``/``tag``, ``sort``). With no
    hashtag known (no URL) only the PostItems are returned: a sighting needs its hashtag.
    Positions are 0-based, from ``start_position`` or else the request's offset cursor.
    """
    posts = _entries(data, "posts")
    params = _request(url)[1]
    hashtag = _normalize_tag(hashtag) if hashtag else search_hashtag(params)
    listing = listing or SORT_LISTINGS.get(_param(params, "sort") or "latest", "recent")
    items = _listing_items(posts, hashtag=hashtag, listing=listing, url=url,
                           fetched_at=fetched_at, start_position=start_position)
    return items, next_cursor(data, url=url)


def feed_name(feed_uri: str | None) -> str | None:
    """A feed generator's name: the rkey of ``at://<did>/app.bsky.feed.generator/<rkey>``."""
    match = _GENERATOR_URI.match(feed_uri or "")
    return _normalize_tag(match["rkey"]) if match else None


def parse_feed(data: Mapping[str, Any], *, url: str | None = None,
               fetched_at: datetime | None = None,
               name: str | None = None,
               start_position: int | None = None) -> tuple[list[Item], str | None]:
    """getFeed page (a custom feed) -> (PostItem + HashtagSightingItem per post, next cursor).

    The sighting's listing is ``feed`` and its hashtag the feed's name (``name``, default the
    rkey of the request's ``feed`` parameter). Reposts a feed shows are sightings like any post.
    Positions are 0-based from ``start_position`` (feed cursors are opaque, so a spider paging
    through a feed passes the number of posts on earlier pages).
    """
    posts = [e["post"] for e in _entries(data, "feed") if isinstance(e.get("post"), Mapping)]
    hashtag = _normalize_tag(name) if name else feed_name(_param(_request(url)[1], "feed"))
    items = _listing_items(posts, hashtag=hashtag, listing=FEED_LISTING, url=url,
                           fetched_at=fetched_at, start_position=start_position)
    return items, next_cursor(data, url=url)


# --- documents --------------------------------------------------------------------------------


def check_error(data: Any) -> None:
    """Raise for an XRPC error body: BlockedPage for auth and rate limits, otherwise
    UnrecognisedDocument naming the error."""
    if not isinstance(data, Mapping) or not isinstance(data.get("error"), str):
        return
    error, message = data["error"], str(data.get("message") or "")
    detail = f"{error}: {message}" if message else error
    if error in AUTH_ERRORS:
        raise BlockedPage("auth_required", detail)
    if error in RATE_LIMIT_ERRORS:
        raise BlockedPage("rate_limited", detail)
    raise UnrecognisedDocument(f"Bluesky XRPC error {detail}")


def _decode(body: str | bytes | Mapping[str, Any] | list) -> Any:
    if isinstance(body, Mapping | list):
        return body
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            raise UnrecognisedDocument("Bluesky body is not UTF-8") from None
    text = body.lstrip("\ufeff")
    try:
        return loads_json(text)
    except ValueError:
        # The App View's proxy answers anonymous post search (or a search with a cursor) with
        # an HTML "403 Forbidden - Request forbidden by administrative rules." page.
        if "forbidden by administrative rules" in text.lower():
            raise BlockedPage("auth_required", "403 Forbidden: request forbidden by "
                              "administrative rules (anonymous post search)") from None
        raise UnrecognisedDocument("Bluesky body is not JSON") from None


def parse_document(body: str | bytes | Mapping[str, Any] | list, *, url: str | None = None,
                   fetched_at: datetime | None = None,
                   headers: Mapping[str, str] | None = None) -> list[Item]:
    """Any of the bodies above -> items. The XRPC method in ``url`` decides the shape when
    given; otherwise the keys do (``did``+``handle``: profile; ``profiles``; ``feed``: an author
    feed when one account made every item, else a custom feed; ``posts``: search results).
    Cursors are dropped here; spiders use the ``parse_*`` functions or :func:`next_cursor`.
    """
    data = _decode(body)
    check_error(data)
    if not isinstance(data, Mapping):
        raise UnrecognisedDocument("Bluesky body is not a JSON object")
    method, _ = _request(url)
    kind = method if method in _PARSERS else _shape(data)
    return _PARSERS[kind](data, url, fetched_at)


def _shape(data: Mapping[str, Any]) -> str:
    if isinstance(data.get("did"), str) and "handle" in data:
        return GET_PROFILE
    if isinstance(data.get("profiles"), list):
        return GET_PROFILES
    if isinstance(data.get("feed"), list):
        return GET_AUTHOR_FEED if feed_owner(data) else GET_FEED
    if isinstance(data.get("posts"), list):
        return SEARCH_POSTS
    raise UnrecognisedDocument(
        "not a Bluesky profile, profile list, feed or search body "
        f"(keys: {', '.join(sorted(map(str, data))[:8]) or 'none'})"
    )


_Parser = Callable[[Mapping[str, Any], "str | None", "datetime | None"], "list[Item]"]
_PARSERS: dict[str, _Parser] = {
    GET_PROFILE: lambda d, u, f: [parse_profile(d, url=u, fetched_at=f)],
    GET_PROFILES: lambda d, u, f: list(parse_profiles(d, url=u, fetched_at=f)),
    GET_AUTHOR_FEED: lambda d, u, f: list(parse_author_feed(d, url=u)[0]),
    SEARCH_POSTS: lambda d, u, f: parse_search_posts(d, url=u, fetched_at=f)[0],
    GET_FEED: lambda d, u, f: parse_feed(d, url=u, fetched_at=f)[0],
}
