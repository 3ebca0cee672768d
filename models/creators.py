"""One creator, several accounts: link accounts across platforms and rebuild ``creators``.

Evidence between two accounts of different platforms, and its confidence:

=================== ===== =========================================================================
evidence            conf. when
=================== ===== =========================================================================
mutual_link         0.98  each one's bio, link or profile fields names the other account
bio_link            0.90  one of them names the other (``youtube.com/@name``, "TikTok: @name", ...)
domain_handle       0.90  a Bluesky domain handle is the host of the other's website
same_website        0.85  both give the same website (host and path)
*_other_name        0.50  same_website or domain_handle between accounts whose display names
                          conflict (both given, neither's words all in the other's): an agency's site
same_handle_and_name 0.75 the same handle (case, dots and underscores aside) and display names that
                          match: every word of the shorter name (two words at least, or one of
                          five letters or more) is in the other
=================== ===== =========================================================================

Several kinds of evidence for one pair combine as ``1 - prod(1 - c)``. Links of at least
LINK_THRESHOLD join accounts into one creator (connected components); a creator's confidence is
its weakest joining link. A creator's id is the smallest ``profiles.id`` among its accounts.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime
from itertools import combinations
from typing import Any

from sqlalchemy import Connection, delete, insert, select, text

from models.loader import table_of
from models.tables import Creator, CreatorAccount, CreatorLink, Profile
from pipelines.contact import cross_links, host_of

LINK_THRESHOLD = 0.6
#: PostgreSQL advisory lock key of the rebuild ("creators" in ASCII).
REBUILD_LOCK = 0x63726561746F7273
CONFIDENCE = {"mutual_link": 0.98, "bio_link": 0.90, "domain_handle": 0.90, "same_website": 0.85,
              "same_website_other_name": 0.50, "domain_handle_other_name": 0.50,
              "same_handle_and_name": 0.75}
FEDIVERSE = ("mastodon", "pixelfed")
_WORD = re.compile(r"[^\W_]{2,}")


def handle_key(platform: str, handle: str) -> str:
    """The handle as people repeat it across platforms: local part, no case, dots or underscores."""
    local = handle.split("@", 1)[0] if platform in FEDIVERSE else handle
    if platform == "bluesky" and local.endswith(".bsky.social"):
        local = local[: -len(".bsky.social")]
    return re.sub(r"[._-]", "", local.lower())


def name_words(name: str | None) -> set[str]:
    folded = unicodedata.normalize("NFKD", (name or "").casefold())
    return set(_WORD.findall("".join(c for c in folded if not unicodedata.combining(c))))


def names_match(a: str | None, b: str | None) -> bool:
    """The words of the shorter name (two at least, or one of 5+ letters) all in the other:
    "Ana Lima" matches "Ana Lima 🏋️" and "Lima, Ana"; "Ana Lima" does not match "Ana Costa"."""
    wa, wb = name_words(a), name_words(b)
    short, long_ = sorted((wa, wb), key=len)
    if not short or not short <= long_:
        return False
    return len(short) >= 2 or len(next(iter(short))) >= 5


def names_conflict(a: str | None, b: str | None) -> bool:
    """Both names given and neither's words all in the other ("Ana Lima", "Ana Costa"): two
    people, most likely. "Rui" and "Rui Costa" do not conflict (nor match: too short)."""
    wa, wb = name_words(a), name_words(b)
    return bool(wa and wb) and not (wa <= wb or wb <= wa)


def website_key(url: str | None) -> str | None:
    if not url:
        return None
    host = host_of(url)
    path = re.sub(r"^(?i:https?://)?[^/]+", "", url).split("?", 1)[0].split("#", 1)[0].rstrip("/")
    return f"{host}{path.lower()}" if host else None


class _Profiles:
    def __init__(self, rows: Iterable[Any]) -> None:
        self.rows = {r.id: r for r in rows}
        self.by_handle: dict[tuple[str, str], int] = {}
        for r in self.rows.values():
            handle = r.handle.lower()
            platform = "fediverse" if r.platform in FEDIVERSE else r.platform
            self.by_handle[(platform, handle)] = r.id
            if r.platform == "youtube" and r.platform_user_id:
                self.by_handle[("youtube", r.platform_user_id)] = r.id

    def find(self, platform: str, handle: str) -> int | None:
        return self.by_handle.get((platform, handle.lower().lstrip("@")))


def evidence(conn: Connection) -> dict[tuple[int, int], set[str]]:
    """Pair (smaller id, larger id) -> kinds of evidence, over every account in the warehouse."""
    rows = conn.execute(select(Profile.id, Profile.platform, Profile.handle, Profile.platform_user_id,
                               Profile.display_name, Profile.bio, Profile.external_url,
                               Profile.website, Profile.links))
    profiles = _Profiles(rows)
    found: dict[tuple[int, int], set[str]] = defaultdict(set)

    def add(a: int, b: int, kind: str) -> None:
        if a != b and profiles.rows[a].platform != profiles.rows[b].platform:
            found[(min(a, b), max(a, b))].add(kind)

    claims: set[tuple[int, int]] = set()
    for r in profiles.rows.values():
        for platform, handle in cross_links(r.external_url, r.links or (), r.bio):
            other = profiles.find(platform, handle)
            if other is not None:
                claims.add((r.id, other))
    for a, b in claims:
        add(a, b, "mutual_link" if (b, a) in claims else "bio_link")

    sites: dict[str, list[int]] = defaultdict(list)
    for r in profiles.rows.values():
        key = website_key(r.website)
        if key:
            sites[key].append(r.id)
    hosts = {host_of(r.website): r.id for r in profiles.rows.values() if r.website}
    for ids in sites.values():
        if len(ids) > 8:  # a shared site (a brand's, a link hub's front page) names no one
            continue
        for a, b in combinations(ids, 2):
            other_name = names_conflict(profiles.rows[a].display_name, profiles.rows[b].display_name)
            add(a, b, "same_website_other_name" if other_name else "same_website")
    for r in profiles.rows.values():
        if r.platform == "bluesky" and "." in r.handle and not r.handle.endswith(".bsky.social"):
            other = hosts.get(r.handle.lower())
            if other is not None:
                other_name = names_conflict(r.display_name, profiles.rows[other].display_name)
                add(r.id, other, "domain_handle_other_name" if other_name else "domain_handle")

    by_key: dict[str, list[int]] = defaultdict(list)
    for r in profiles.rows.values():
        by_key[handle_key(r.platform, r.handle)].append(r.id)
    for ids in by_key.values():
        for a, b in combinations(ids, 2):
            if names_match(profiles.rows[a].display_name, profiles.rows[b].display_name):
                add(a, b, "same_handle_and_name")
    return found


def confidence_of(kinds: Iterable[str]) -> float:
    miss = 1.0
    for kind in kinds:
        miss *= 1 - CONFIDENCE[kind]
    return round(1 - miss, 4)


def rebuild(conn: Connection, now: datetime | None = None) -> int:
    """Recompute creator_links, creators and creator_accounts; returns the number of creators."""
    from models.loader import utcnow

    if conn.dialect.name == "postgresql":  # runs closing together rebuild one after the other
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": REBUILD_LOCK})
    pairs = {pair: (sorted(kinds), confidence_of(kinds)) for pair, kinds in evidence(conn).items()}
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    weakest: dict[int, float] = {}
    for (a, b), (_, conf) in sorted(pairs.items(), key=lambda kv: -kv[1][1]):
        if conf < LINK_THRESHOLD:
            continue
        ra, rb = root(a), root(b)
        if ra != rb:
            low = min(conf, weakest.get(ra, 1.0), weakest.get(rb, 1.0))
            parent[max(ra, rb)] = min(ra, rb)
            weakest[min(ra, rb)] = low
    members: dict[int, list[int]] = defaultdict(list)
    for node in list(parent):
        members[root(node)].append(node)
    names = dict(conn.execute(select(Profile.id, Profile.display_name)).all())
    now = now or utcnow()
    conn.execute(delete(table_of(CreatorLink)))
    conn.execute(delete(table_of(CreatorAccount)))
    conn.execute(delete(table_of(Creator)))
    creators, accounts = [], []
    for ids in members.values():
        if len(ids) < 2:
            continue
        creator_id = min(ids)
        common = Counter(names.get(i) for i in ids if names.get(i)).most_common(1)
        creators.append({"id": creator_id, "display_name": common[0][0] if common else None,
                         "accounts": len(ids), "confidence": weakest.get(creator_id, 1.0),
                         "updated_at": now})
        accounts += [{"profile_id": i, "creator_id": creator_id} for i in sorted(ids)]
    links = [{"profile_id": a, "other_profile_id": b, "evidence": ", ".join(kinds), "confidence": conf}
             for (a, b), (kinds, conf) in sorted(pairs.items())]
    for table, rows in ((table_of(Creator), creators), (table_of(CreatorAccount), accounts),
                        (table_of(CreatorLink), links)):
        for start in range(0, len(rows), 1000):
            conn.execute(insert(table), rows[start:start + 1000])
    return len(creators)
