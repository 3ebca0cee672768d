"""Tier pipeline: a profile's tier from its followers, under a configurable scheme.

Schemes are ordered (tier, lower bound) lists; a profile gets the last tier whose bound it
reaches. Built in: ``seed`` (nano < 1k <= micro < 100k <= macro < 1M <= mega) and ``industry``
(emerging < 1k <= nano < 10k <= micro < 100k <= mid < 500k <= macro < 1M <= mega). A custom scheme
is written inline: MICROSCOUT_TIER_SCHEME="nano=0,micro=5000,macro=50000,mega=500000".
"""

from __future__ import annotations

from crawler.items import ProfileItem
from crawler.values import TEXT_LIMITS

SCHEMES: dict[str, list[tuple[str, int]]] = {
    "seed": [("nano", 0), ("micro", 1_000), ("macro", 100_000), ("mega", 1_000_000)],
    "industry": [("emerging", 0), ("nano", 1_000), ("micro", 10_000), ("mid", 100_000),
                 ("macro", 500_000), ("mega", 1_000_000)],
}


def parse_scheme(spec: str) -> tuple[str, list[tuple[str, int]]]:
    """A scheme name, or an inline "tier=bound,..." spec; raises ValueError when malformed."""
    spec = (spec or "seed").strip()
    if spec in SCHEMES:
        return spec, SCHEMES[spec]
    if "=" not in spec:
        raise ValueError(f"unknown tier scheme {spec!r}; use seed, industry or tier=bound,...")
    bounds = []
    for part in spec.split(","):
        name, _, bound = part.partition("=")
        if not name.strip() or not bound.strip().isdigit():
            raise ValueError(f"bad tier bound {part!r} in {spec!r}")
        if len(name.strip()) > TEXT_LIMITS["tier"]:
            raise ValueError(f"tier name {name.strip()!r} is longer than "
                             f"{TEXT_LIMITS['tier']} characters in {spec!r}")
        bounds.append((name.strip(), int(bound)))
    bounds.sort(key=lambda pair: pair[1])
    if bounds[0][1] != 0:
        raise ValueError(f"the lowest tier bound must be 0 in {spec!r}")
    return "custom", bounds


def tier_for(followers: int | None, scheme: list[tuple[str, int]]) -> str | None:
    if not isinstance(followers, int) or isinstance(followers, bool) or followers < 0:
        return None
    chosen = None
    for name, bound in scheme:
        if followers >= bound:
            chosen = name
    return chosen


class TierPipeline:
    def __init__(self, stats, spec: str) -> None:
        self.stats = stats
        self.scheme_name, self.scheme = parse_scheme(spec)  # a bad scheme stops the crawl early

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.stats, crawler.settings.get("MICROSCOUT_TIER_SCHEME", "seed"))

    def process_item(self, item):
        if isinstance(item, ProfileItem):
            item.tier = tier_for(item.followers, self.scheme)
            item.tier_scheme = self.scheme_name
            self.stats.inc_value(f"microscout/tier/{item.tier or 'unknown'}")
        return item
