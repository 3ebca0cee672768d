"""Items: the contract between spiders (via parsers) and the item pipelines.

Parsers fill the raw fields as the platform shows them (counts may be strings such as
"46.3m"); the normalise pipeline turns them into the typed values documented here, and the
later pipelines fill the derived fields. All classes are dataclasses, so itemadapter,
Scrapy's feed exports and ``dataclasses.asdict`` understand them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crawler import platforms

#: The platform names of the item contract, from the registry (crawler/platforms.py).
PLATFORMS = platforms.NAMES
FEDERATED = platforms.FEDERATED

Count = int | str | None  # an integer after normalisation; the platform's text before


@dataclass
class PostItem:
    platform: str | None = None
    post_id: str | None = None
    author_handle: str | None = None
    url: str | None = None
    posted_at: datetime | str | int | float | None = None  # UTC datetime after normalisation
    text: str | None = None
    hashtags: list[str] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)
    likes: Count = None
    comments: Count = None
    shares: Count = None
    views: Count = None
    media_type: str | None = None  # image, video, carousel, text, ...
    # "exact" for absolute timestamps; "day", "week", "month", "year" for relative ones
    # ("8 years ago") that the parser resolved against fetched_at.
    posted_at_precision: str | None = None
    # What the format itself says (None: it says nothing). The signals pipeline reads them.
    platform_sponsored: bool | None = None  # paid-partnership / ad flag of the post's format
    language: str | None = None  # language the platform declares for the post (ISO 639-1)
    # Derived by the signals pipeline.
    sponsored: bool | None = None  # a paid post: the format's flag or a disclosure in the text
    sponsor_evidence: str | None = None  # why: "instagram:is_paid_partnership", "#ad", ...


@dataclass
class ProfileItem:
    platform: str | None = None
    handle: str | None = None
    platform_user_id: str | None = None
    display_name: str | None = None
    bio: str | None = None
    external_url: str | None = None
    is_verified: bool | None = None
    category: str | None = None
    followers: Count = None
    following: Count = None
    posts_count: Count = None
    profile_url: str | None = None
    recent_posts: list[PostItem] = field(default_factory=list)
    source_url: str | None = None
    fetched_at: datetime | str | int | float | None = None
    discovered_via: str | None = None
    locale: str | None = None  # page language ("es", "de-DE"), read by the count parser
    # Contact and place as the format's own fields give them (None: not given).
    contact_email: str | None = None  # business or public email field
    country: str | None = None  # ISO 3166-1 alpha-2 country the format states for the account
    links: list[str] = field(default_factory=list)  # other URLs of profile fields (not bio text)
    # Derived by the pipelines; None means undefined (stored as NULL).
    engagement_rate: float | None = None
    engagement_rate_median: float | None = None
    engagement_per_view: float | None = None
    posts_per_week: float | None = None
    recent_posts_used: int | None = None
    tier: str | None = None
    tier_scheme: str | None = None
    niches: dict[str, float] = field(default_factory=dict)
    primary_niche: str | None = None
    # Derived by the signals pipeline (contact and language; see pipelines/signals.py).
    email: str | None = None  # contact email: the format's field, else one written in the bio
    website: str | None = None  # the first link off the platform's own domains
    language: str | None = None  # main language of bio and captions (ISO 639-1)
    languages: dict[str, float] = field(default_factory=dict)  # language -> share of the texts
    text_vector: str | None = None  # bio+captions embedding (base64 float16), when computed
    # Partial problems (a post's unreadable like count, ...): the item is kept with the field
    # set to None, and each problem {"reason", "field", "raw", "post_id"} becomes its own
    # quarantine row, so nothing is dropped silently.
    problems: list[dict] = field(default_factory=list)


@dataclass
class HashtagSightingItem:
    platform: str | None = None
    hashtag: str | None = None
    post_id: str | None = None
    author_handle: str | None = None
    position: int | None = None
    listing: str | None = None  # "top" or "recent"
    seen_at: datetime | str | int | float | None = None
    source_url: str | None = None


@dataclass
class RejectedItem:
    """Input that could not be used: it is written to the quarantine table, never dropped.

    The validate pipeline turns a bad item into one of these; spiders yield them directly for
    pages that are not data (login walls, captchas, bodies that do not parse). Later pipelines
    pass it through untouched and the warehouse stores it in ``rejected_items``.
    """

    reason: str = "unknown"  # short slug, also the stats key microscout/quarantined/<reason>
    detail: str | None = None
    platform: str | None = None
    payload: Any = None  # the raw item or body (JSON-serialisable; bytes are decoded)
    source_url: str | None = None
    item_type: str | None = None


def reject(reason: str, payload: Any = None, *, detail: str | None = None,
           platform: str | None = None, source_url: str | None = None,
           item_type: str | None = None) -> RejectedItem:
    return RejectedItem(reason=reason, detail=detail, platform=platform, payload=payload,
                        source_url=source_url, item_type=item_type)
