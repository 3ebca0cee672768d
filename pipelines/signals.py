"""Signals pipeline: sponsored posts, contact email, website and language of each profile.

Runs after the niche pipeline and before the warehouse. Per post it sets ``sponsored`` and
``sponsor_evidence`` (pipelines/disclosure.py); per profile ``email`` and ``website``
(pipelines/contact.py) and ``language`` / ``languages`` (pipelines/language.py). Peer-relative
signals (engagement against the platform and tier, follower spikes, the audience-quality score)
need the whole warehouse and are computed after each run (models/signals.py).

Settings: ``MICROSCOUT_LANGUAGES`` (ISO 639-1 codes Lingua chooses from; default 20 languages),
``MICROSCOUT_LANGUAGE_ACCURACY`` (``high``, the default, or ``low``: see pipelines/language.py).
Stats: ``microscout/signals/sponsored_posts``, ``microscout/signals/email``,
``microscout/signals/language/<code>``, ``microscout/signals/language_unknown``.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from crawler.items import PostItem, ProfileItem
from pipelines.contact import find_email, find_website
from pipelines.disclosure import post_sponsorship
from pipelines.language import LanguageUnavailable, detect, detector, languages_of, parse_codes

logger = logging.getLogger(__name__)

#: Captions read for the language (the newest first), besides the bio.
LANGUAGE_POSTS = 12


def mark_post(post: PostItem, platform: str | None) -> bool:
    """Set the post's sponsored flag and evidence; True when it is sponsored."""
    post.sponsored, post.sponsor_evidence = post_sponsorship(
        post.platform or platform, post.text, post.hashtags, post.platform_sponsored)
    return bool(post.sponsored)


def own_hosts(item: ProfileItem) -> list[str]:
    hosts = []
    for url in (item.profile_url, item.source_url):
        if url:
            try:
                hosts.append(urlsplit(url).hostname or "")
            except ValueError:
                continue
    if item.handle and "@" in item.handle:  # user@instance
        hosts.append(item.handle.rsplit("@", 1)[1])
    return hosts


class SignalsPipeline:
    def __init__(self, stats: Any, languages: tuple[str, ...], accuracy: str = "high") -> None:
        self.stats = stats
        self.languages = languages
        self.accuracy = accuracy

    @classmethod
    def from_crawler(cls, crawler):
        codes = parse_codes(crawler.settings.get("MICROSCOUT_LANGUAGES"))
        accuracy = str(crawler.settings.get("MICROSCOUT_LANGUAGE_ACCURACY") or "high").lower()
        try:
            detector(codes, accuracy)  # a bad language list stops the crawl before it starts
        except LanguageUnavailable as exc:
            raise ValueError(f"MICROSCOUT_LANGUAGES: {exc}") from None
        return cls(crawler.stats, codes, accuracy)

    def open_spider(self) -> None:
        """Load Lingua's models (about 2 s) in a thread while the first pages download."""
        from twisted.internet import threads

        threads.deferToThread(detect, "warming up the language models", self.languages, self.accuracy)

    def process_item(self, item):
        if isinstance(item, PostItem):
            if mark_post(item, item.platform):
                self.stats.inc_value("microscout/signals/sponsored_posts")
        elif isinstance(item, ProfileItem):
            self.mark_profile(item)
        return item

    def mark_profile(self, item: ProfileItem) -> ProfileItem:
        posts = [p for p in item.recent_posts or () if isinstance(p, PostItem)]
        sponsored = sum(mark_post(post, item.platform) for post in posts)
        if sponsored:
            self.stats.inc_value("microscout/signals/sponsored_posts", sponsored)
        item.email = find_email(item.contact_email, item.bio)
        if item.email:
            self.stats.inc_value("microscout/signals/email")
        item.website = find_website(item.external_url, item.links or (), item.bio, own_hosts(item))
        item.languages = languages_of([item.bio, *(p.text for p in posts[:LANGUAGE_POSTS])],
                                      self.languages, self.accuracy)
        item.language = next(iter(item.languages), None)
        self.stats.inc_value(f"microscout/signals/language/{item.language}" if item.language
                             else "microscout/signals/language_unknown")
        return item
