"""A synthetic warehouse for benchmarks and tests that only read one: what a few days of daily
crawls leave, at any size, in seconds.

One run per platform and day (mostly ok, some degraded or failed, with the monitor's own
``checks``), accounts over five platforms with heavy-tailed followers (a few growing fast or
spiking), one snapshot per account and run from the day it was found, niches, posts with hashtags,
the hashtag listings that surfaced them, and quarantined rows. Rows go in through SQLAlchemy Core
``insert()`` executemany, in chunks; the latest runs' signals are then computed by the crawl's own
rules (models.signals.refresh). The same seed gives the same warehouse.
"""

from __future__ import annotations

import base64
import hashlib
import json
import unicodedata
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Connection, Table, func, select, text

CHUNK = 5_000  # rows per executemany

PLATFORMS = ("mastodon", "bluesky", "instagram", "tiktok", "youtube")
PLATFORM_SHARE = (0.12, 0.13, 0.35, 0.25, 0.15)
VIDEO = ("tiktok", "youtube")
INSTANCES = ("mastodon.social", "fosstodon.org", "mstdn.social", "hachyderm.io", "mas.to",
             "mastodon.online", "social.vivaldi.net", "chaos.social")
#: Planted behaviours (one per account) and their shares: most accounts are ordinary.
PLANTS = ("none", "fast_growth", "follower_spike", "low_engagement", "engagement_pod", "mass_follow",
          "high_engagement", "no_comments")
PLANT_SHARE = (0.84, 0.03, 0.03, 0.03, 0.02, 0.03, 0.01, 0.01)
FIRST_NAMES = ("Lena", "Marco", "Aisha", "Tom", "Yuki", "Sofia", "Omar", "Chloé", "Lucas", "Mei",
               "Zoë", "José", "Ingrid", "Kwame", "Priya", "Mateo", "Hannah", "Søren", "Ana", "Liam",
               "Fatima", "Noah", "Elif", "Diego", "Amara", "Jonas", "Camille", "Ravi", "Nora", "Kenji")
WORDS = ("runs", "eats", "travels", "lifts", "codes", "paints", "plays", "cooks", "snaps", "grows",
         "reads", "builds", "styles", "rides", "bakes", "hikes", "sings", "films", "crafts", "learns")
#: Names that a report must escape or lay out with care; a few accounts carry them.
ODD_NAMES = ('<b>{0}</b> & "friends"', "{0} 🏋️‍♀️✨", "مريم {0}", "{0} | official ✓", "{0}'s kitchen <3")
GENERIC_TAGS = ("love", "instagood", "photooftheday", "life", "daily", "weekend")
CAPTIONS = ("New post", "Today's favourite", "Behind the scenes", "Quick tip", "Weekend mood",
            "Trying something new", "Thank you all", "Big news", "Day 12", "My routine")
LANGUAGES = ("en", "es", "pt", "de", "fr")
LANGUAGE_SHARE = (0.7, 0.1, 0.08, 0.07, 0.05)
COUNTRIES = ("US", "GB", "DE", "BR", "ES", "FR", "IN")
REJECT_REASONS = {
    "instagram": ("login_required", "checkpoint_required", "implausible_value"),
    "tiktok": ("captcha", "empty_body", "implausible_value"),
    "youtube": ("consent_required", "empty_body", "missing_handle"),
    "mastodon": ("rate_limited", "bad_json", "not_found"),
    "bluesky": ("rate_limited", "bad_json", "not_found"),
}
#: Run outcomes the synthetic stats aim at; the monitor's checks decide the status.
OUTCOMES = ("ok", "degraded", "failed")
OUTCOME_SHARE = (0.8, 0.15, 0.05)


# --- the synthetic warehouse ------------------------------------------------------------------


@dataclass
class Population:
    """Every account as arrays (index = profile id - 1); (accounts, days) matrices per day."""

    platform: np.ndarray      # index into PLATFORMS
    first_day: np.ndarray     # the day the account was found (0 = the first run)
    plant: np.ndarray         # index into PLANTS
    followers: np.ndarray     # (accounts, days), int64; meaningful where seen
    engagement: np.ndarray    # (accounts, days); NaN when undefined (no posts)
    following: np.ndarray
    posts_count: np.ndarray
    posts: np.ndarray         # posts stored per account
    gap_cv: np.ndarray        # posting regularity
    niche: np.ndarray         # index into the taxonomy's niches, -1 = none
    niche_score: np.ndarray
    second_niche: np.ndarray  # another niche scored lower, -1 = none

    @property
    def seen(self) -> np.ndarray:
        days = self.followers.shape[1]
        return np.arange(days)[None, :] >= self.first_day[:, None]


@dataclass
class Posts:
    """Every stored post as arrays (index = posts.id - 1)."""

    owner: np.ndarray         # account index
    likes: np.ndarray         # float, NaN = not shown
    comments: np.ndarray
    views: np.ndarray
    shares: np.ndarray
    sponsored: np.ndarray     # bool
    hours_before: np.ndarray  # posted this long before the account's latest snapshot
    tags: list[list[int]]     # hashtag ids per post


@dataclass
class Run:
    id: int
    platform: str
    day: int
    started: datetime
    finished: datetime
    run_key: str
    outcome: str              # what its stats aim at: ok, degraded or failed
    rejected: list[str]       # the reasons of its quarantined rows
    row: dict[str, Any]       # its crawl_runs row


def taxonomy() -> dict[str, Any]:
    path = Path(__file__).resolve().parents[1] / "pipelines" / "taxonomy.json"
    return json.loads(path.read_text(encoding="utf-8"))["niches"]


def synthetic_warehouse(url: str, accounts: int, *, days: int = 5, seed: int = 7,
                        now: datetime | None = None) -> dict[str, int]:
    """Fill the freshly migrated (empty) warehouse at ``url`` with ``accounts`` accounts crawled
    daily for ``days`` days ending at ``now`` (default: the current UTC time); returns the rows
    written per table. Deterministic for a seed and ``now``."""
    if accounts < 1 or days < 1:
        raise ValueError("accounts and days must be at least 1")
    now = (now or datetime.now(UTC)).astimezone(UTC)
    rng = np.random.default_rng(seed)
    niches = taxonomy()
    tags = hashtag_vocabulary(niches)
    people = population(rng, accounts, days, len(niches))
    posts = make_posts(rng, people, niches, tags)
    runs = make_runs(rng, days, now)
    captured = capture_times(rng, people, runs)
    handles = make_handles(people)
    sightings = make_sightings(rng, people, posts, runs, handles, len(tags))
    add_run_counts(rng, runs, people, sightings)

    from models.db import make_engine
    from models.tables import (
        CrawlRun,
        Hashtag,
        HashtagSighting,
        Post,
        PostHashtag,
        Profile,
        ProfileNiche,
        ProfileSnapshot,
        RejectedRecord,
    )

    def table(model: Any) -> Table:
        return model.__table__  # type: ignore[no-any-return]

    engine = make_engine(url)
    counts: dict[str, int] = {}
    try:
        with engine.begin() as conn:
            if conn.execute(select(func.count()).select_from(table(Profile))).scalar():
                raise ValueError("the warehouse already holds profiles: give a freshly migrated one")
            writes: list[tuple[Table, Iterable[dict[str, Any]]]] = [
                (table(CrawlRun), (run.row for run in runs)),
                (table(Profile), profile_rows(rng, people, handles, niches, posts, tags, captured, seed)),
                (table(ProfileSnapshot), snapshot_rows(people, runs, captured)),
                (table(ProfileNiche), niche_rows(people, niches, captured)),
                (table(Hashtag), ({"id": i + 1, "tag": tag} for i, tag in enumerate(tags))),
                (table(Post), post_rows(people, posts, handles, tags, captured)),
                (table(PostHashtag), ({"post_id": p + 1, "hashtag_id": t}
                                      for p, post_tags in enumerate(posts.tags) for t in post_tags)),
                (table(HashtagSighting), sightings),
                (table(RejectedRecord), rejected_rows(rng, runs)),
            ]
            for target, rows in writes:
                counts[target.name] = insert_rows(conn, target, rows)
            counts["profile_signals"] = latest_signals(conn, runs)
            finish_postgresql(conn, counts)
    finally:
        engine.dispose()
    return counts


def latest_signals(conn: Connection, runs: list[Run]) -> int:
    """The signals of each platform's last run, computed by the crawl's own rules
    (models.signals.refresh) from the posts and snapshots just written; the rows written."""
    from models import signals

    last_day = max(run.day for run in runs)
    return sum(signals.refresh(conn, run.id, now=run.finished) for run in runs if run.day == last_day)


def insert_rows(conn: Connection, target: Table, rows: Iterable[dict[str, Any]]) -> int:
    """executemany ``rows`` into ``target`` in chunks of CHUNK; the number written."""
    written = 0
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == CHUNK:
            conn.execute(target.insert(), batch)
            written += len(batch)
            batch = []
    if batch:
        conn.execute(target.insert(), batch)
        written += len(batch)
    return written


def finish_postgresql(conn: Connection, counts: dict[str, int]) -> None:
    """PostgreSQL: move each id sequence past the ids given explicitly, and gather the planner's
    statistics (autovacuum would, a minute later; a warehouse in use has them)."""
    if conn.dialect.name != "postgresql":
        return
    for name in ("crawl_runs", "profiles", "profile_snapshots", "hashtags", "posts"):
        if counts.get(name):
            conn.execute(text("SELECT setval(pg_get_serial_sequence(:name, 'id'), :value)"),
                         {"name": name, "value": counts[name]})
    conn.execute(text("ANALYZE"))


# --- accounts ---------------------------------------------------------------------------------


def population(rng: np.random.Generator, accounts: int, days: int, niche_count: int) -> Population:
    platform = rng.choice(len(PLATFORMS), accounts, p=PLATFORM_SHARE)
    # most accounts were found by the first run; the others on a later day
    first_day = np.where(rng.random(accounts) < 0.9, 0, rng.integers(0, days, accounts))
    plant = rng.choice(len(PLANTS), accounts, p=PLANT_SHARE)
    latest = np.maximum(10, np.round(rng.lognormal(np.log(8_000), 1.8, accounts)))
    followers = follower_history(rng, latest, plant, first_day, days)
    posts = np.where(rng.random(accounts) < 0.06, rng.integers(0, 3, accounts),
                     rng.integers(3, 6, accounts))
    posts = np.where(plant == PLANTS.index("no_comments"), 5, posts)
    niche = np.where(rng.random(accounts) < 0.85,
                     rng.choice(niche_count, accounts, p=niche_weights(niche_count)), -1)
    second = (niche + rng.integers(1, niche_count, accounts)) % niche_count
    return Population(
        platform=platform, first_day=first_day, plant=plant, followers=followers,
        engagement=engagement_history(rng, latest, plant, posts, days),
        following=following_counts(rng, latest, plant),
        posts_count=np.round(rng.lognormal(np.log(350), 1.0, accounts)).astype(np.int64) + posts,
        posts=posts,
        gap_cv=np.where(rng.random(accounts) < 0.03, rng.uniform(2.5, 4.0, accounts),
                        np.minimum(2.4, rng.lognormal(np.log(0.7), 0.4, accounts))),
        niche=niche, niche_score=0.3 + 0.7 * rng.beta(2, 2, accounts),
        second_niche=np.where((niche >= 0) & (rng.random(accounts) < 0.25), second, -1),
    )


def niche_weights(count: int) -> np.ndarray:
    """Some niches are much more common than others (Zipf-like)."""
    weights = 1.0 / np.arange(1, count + 1) ** 0.8
    return weights / weights.sum()


def follower_history(rng: np.random.Generator, latest: np.ndarray, plant: np.ndarray,
                     first_day: np.ndarray, days: int) -> np.ndarray:
    """Followers per day, ending at ``latest``: slow drift, a few fast growers, a few one-day spikes."""
    accounts = len(latest)
    growth = np.where(plant == PLANTS.index("fast_growth"), rng.uniform(0.03, 0.10, accounts),
                      rng.normal(0.002, 0.004, accounts))
    ago = (days - 1) - np.arange(days)
    noise = 1 + rng.normal(0, 0.002, (accounts, days))
    followers = latest[:, None] * (1 + growth[:, None]) ** (-ago[None, :]) * noise
    spike_day = rng.integers(np.minimum(first_day + 1, days - 1), days)
    jump = rng.uniform(0.2, 0.8, accounts)
    before_spike = (plant == PLANTS.index("follower_spike"))[:, None] \
        & (np.arange(days)[None, :] < spike_day[:, None])
    followers = np.where(before_spike, followers / (1 + jump[:, None]), followers)
    return np.maximum(0, np.round(followers)).astype(np.int64)


def engagement_history(rng: np.random.Generator, latest: np.ndarray, plant: np.ndarray,
                       posts: np.ndarray, days: int) -> np.ndarray:
    """Engagement rates around 1-8 %, lower for large accounts; NaN without posts."""
    accounts = len(latest)
    rate = rng.lognormal(np.log(0.035), 0.45, accounts) * (latest / 10_000) ** -0.15
    rate = rate * np.select([plant == PLANTS.index("low_engagement"),
                             plant == PLANTS.index("engagement_pod"),
                             plant == PLANTS.index("high_engagement")], [0.2, 2.5, 3.5], 1.0)
    daily = rate[:, None] * (1 + rng.normal(0, 0.05, (accounts, days)))
    daily = np.clip(daily, 0.0005, 0.6)
    return np.where(posts[:, None] > 0, daily, np.nan)


def following_counts(rng: np.random.Generator, latest: np.ndarray, plant: np.ndarray) -> np.ndarray:
    accounts = len(latest)
    following = np.round(rng.lognormal(np.log(350), 0.9, accounts))
    mass = np.maximum(1_000, np.round(latest * rng.uniform(1.6, 4.0, accounts)))
    return np.where(plant == PLANTS.index("mass_follow"), mass, following).astype(np.int64)


def make_handles(people: Population) -> list[str]:
    """Handles unique per platform (the account index is part of each)."""
    handles = []
    for index, platform in enumerate(people.platform.tolist()):
        first = ascii_name(FIRST_NAMES[index % len(FIRST_NAMES)])
        word = WORDS[(index // len(FIRST_NAMES)) % len(WORDS)]
        name = PLATFORMS[platform]
        if name == "mastodon":
            handles.append(f"{first}_{word}{index}@{INSTANCES[index % len(INSTANCES)]}")
        elif name == "bluesky":
            handles.append(f"{first}-{word}{index}.bsky.social")
        elif name == "instagram":
            handles.append(f"{first}.{word}{index}")
        else:
            handles.append(f"{first}_{word}_{index}")
    return handles


def ascii_name(name: str) -> str:
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()


def display_name(rng: np.random.Generator, index: int) -> str:
    first = FIRST_NAMES[index % len(FIRST_NAMES)]
    name = f"{first} {WORDS[(index // len(FIRST_NAMES)) % len(WORDS)].capitalize()}"
    if rng.random() < 0.02:
        return str(ODD_NAMES[int(rng.integers(len(ODD_NAMES)))]).format(name)
    return name


def profile_url(platform: str, handle: str) -> str:
    if platform == "mastodon":
        user, instance = handle.split("@", 1)
        return f"https://{instance}/@{user}"
    return {"bluesky": f"https://bsky.app/profile/{handle}",
            "instagram": f"https://www.instagram.com/{handle}/",
            "tiktok": f"https://www.tiktok.com/@{handle}",
            "youtube": f"https://www.youtube.com/@{handle}"}[platform]


def platform_user_id(platform: str, seed: int, index: int) -> str:
    digest = hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=16).digest()
    number = int.from_bytes(digest[:8], "big")
    if platform == "bluesky":
        return "did:plc:" + base64.b32encode(digest).decode().lower()[:24]
    if platform == "youtube":
        return "UC" + base64.urlsafe_b64encode(digest).decode()[:22]
    return str(number % 10**18)


def profile_rows(rng: np.random.Generator, people: Population, handles: list[str],
                 niches: dict[str, Any], posts: Posts, tags: list[str], captured: np.ndarray,
                 seed: int) -> Iterator[dict[str, Any]]:
    niche_ids = list(niches)
    first_post: dict[int, int] = {}
    for post, owner in enumerate(posts.owner.tolist()):
        first_post.setdefault(owner, post)
    latest = people.followers[:, -1].tolist()
    for index, handle in enumerate(handles):
        platform = PLATFORMS[people.platform[index]]
        niche = int(people.niche[index])
        spec = niches[niche_ids[niche]] if niche >= 0 else None
        first = first_post.get(index)
        via = (tags[posts.tags[first][0] - 1] if first is not None
               else spec["hashtags"][0] if spec else "explore")
        local = handle.split("@", 1)[0].split(".bsky.social", 1)[0]
        yield {
            "id": index + 1, "platform": platform, "handle": handle,
            "platform_user_id": platform_user_id(platform, seed, index),
            "display_name": display_name(rng, index),
            "bio": f"{spec['label']} · {spec['descriptions'][0]}" if spec else "Just sharing my days",
            "external_url": f"https://linktr.ee/{local}" if rng.random() < 0.3 else None,
            "profile_url": profile_url(platform, handle),
            "is_verified": bool(latest[index] >= 100_000 and rng.random() < 0.3),
            "category": spec["categories"][0] if spec and platform == "instagram" else None,
            "discovered_via": via,
            "email": f"{local.replace('-', '.')}@example.com" if rng.random() < 0.2 else None,
            "website": f"https://{local.replace('_', '').replace('.', '')}.example.org"
                       if rng.random() < 0.15 else None,
            "links": None,
            "country": str(rng.choice(COUNTRIES)) if platform in VIDEO else None,
            "language": str(rng.choice(LANGUAGES, p=LANGUAGE_SHARE)),
            "languages": None,
            "first_seen_at": captured[index][int(people.first_day[index])],
            "last_seen_at": captured[index][-1],
        }


def snapshot_rows(people: Population, runs: list[Run], captured: np.ndarray) -> Iterator[dict[str, Any]]:
    """One snapshot per account and run of its platform, from the day it was found; day by day."""
    from pipelines.tier import SCHEMES

    names = [name for name, _ in SCHEMES["seed"]]
    bounds = np.array([bound for _, bound in SCHEMES["seed"]])
    tiers = np.searchsorted(bounds, people.followers, side="right") - 1
    run_of = {(run.day, run.platform): run.id for run in runs}
    days = people.followers.shape[1]
    snapshot_id = 0
    for day in range(days):
        for index in np.flatnonzero(people.seen[:, day]).tolist():
            snapshot_id += 1
            followers = int(people.followers[index, day])
            rate = float(people.engagement[index, day])
            defined = rate == rate  # not NaN
            platform = PLATFORMS[people.platform[index]]
            yield {
                "id": snapshot_id, "profile_id": index + 1, "crawl_run_id": run_of[(day, platform)],
                "captured_at": captured[index][day], "followers": followers,
                "following": int(people.following[index]),
                "posts_count": int(people.posts_count[index]) + day,
                "engagement_rate": round(rate, 6) if defined else None,
                "engagement_rate_median": round(rate * 0.8, 6) if defined else None,
                "engagement_per_view": round(rate * 1.6, 6) if defined and platform in VIDEO else None,
                "posts_per_week": round(float(people.gap_cv[index]) * 2 + 1, 2) if defined else None,
                "recent_posts_used": int(people.posts[index]) if defined else None,
                "tier": names[tiers[index, day]], "tier_scheme": "seed",
            }


def niche_rows(people: Population, niches: dict[str, Any], captured: np.ndarray) -> Iterator[dict[str, Any]]:
    niche_ids = list(niches)
    for index in np.flatnonzero(people.niche >= 0).tolist():
        score = round(float(people.niche_score[index]), 3)
        updated = captured[index][-1]
        yield {"profile_id": index + 1, "niche": niche_ids[people.niche[index]], "score": score,
               "is_primary": True, "updated_at": updated}
        if people.second_niche[index] >= 0:
            yield {"profile_id": index + 1, "niche": niche_ids[people.second_niche[index]],
                   "score": round(score * 0.6, 3), "is_primary": False, "updated_at": updated}


# --- posts and hashtags -----------------------------------------------------------------------


def hashtag_vocabulary(niches: dict[str, Any]) -> list[str]:
    """The taxonomy's hashtags (six per niche), generic ones and #ad; hashtags.id = index + 1."""
    tags = [tag for spec in niches.values() for tag in spec["hashtags"][:6]]
    return list(dict.fromkeys([*tags, *GENERIC_TAGS, "ad"]))


def make_posts(rng: np.random.Generator, people: Population, niches: dict[str, Any],
               tags: list[str]) -> Posts:
    owner = np.repeat(np.arange(len(people.posts)), people.posts)
    count = len(owner)
    followers = people.followers[owner, -1]
    interactions = np.nan_to_num(people.engagement[owner, -1]) * followers * rng.lognormal(0, 0.4, count)
    plant = people.plant[owner]
    comment_share = np.where(plant == PLANTS.index("engagement_pod"), rng.uniform(0.3, 0.6, count),
                             rng.uniform(0.02, 0.08, count))
    no_comments = (plant == PLANTS.index("no_comments")) & (rng.random(count) < 0.8)
    comment_share = np.where(no_comments, 0.0, comment_share)
    platform = people.platform[owner]
    video = np.isin(platform, [PLATFORMS.index(p) for p in VIDEO])
    likes = np.round(interactions * (1 - comment_share))
    sponsored = rng.random(count) < np.where(rng.random(len(people.posts)) < 0.15, 0.4, 0.02)[owner]
    return Posts(
        owner=owner, likes=likes, comments=np.round(interactions * comment_share),
        views=np.where(video, np.round(likes / rng.uniform(0.02, 0.12, count)), np.nan),
        shares=np.where(np.isin(platform, [0, 1, 3]), np.round(likes * rng.uniform(0.01, 0.1, count)),
                        np.nan),
        sponsored=sponsored, hours_before=rng.uniform(1, 720, count),
        tags=post_tags(rng, people, owner, sponsored, niches, tags),
    )


def post_tags(rng: np.random.Generator, people: Population, owner: np.ndarray, sponsored: np.ndarray,
              niches: dict[str, Any], tags: list[str]) -> list[list[int]]:
    """1-3 hashtag ids per post from its account's niche (generic ones without a niche); #ad on
    sponsored posts."""
    tag_id = {tag: i + 1 for i, tag in enumerate(tags)}
    pools = [[tag_id[t] for t in spec["hashtags"][:6]] for spec in niches.values()]
    generic = [tag_id[t] for t in GENERIC_TAGS]
    draws = rng.integers(0, 1_000_000, (len(owner), 3)).tolist()
    sizes = rng.integers(1, 4, len(owner)).tolist()
    niche = people.niche[owner].tolist()
    result = []
    for post, (size, draw) in enumerate(zip(sizes, draws, strict=True)):
        pool = pools[niche[post]] if niche[post] >= 0 else generic
        chosen = list(dict.fromkeys(pool[d % len(pool)] for d in draw[:size]))
        if sponsored[post]:
            chosen.append(tag_id["ad"])
        result.append(chosen)
    return result


def post_id(platform: str, number: int) -> str:
    if platform == "youtube":
        return base64.urlsafe_b64encode(number.to_bytes(8, "big")).decode()[:11]
    if platform == "bluesky":
        return f"3k{number:011d}"
    return str(10**17 + number)


def post_url(platform: str, handle: str, pid: str) -> str:
    if platform == "mastodon":
        user, instance = handle.split("@", 1)
        return f"https://{instance}/@{user}/{pid}"
    return {"bluesky": f"https://bsky.app/profile/{handle}/post/{pid}",
            "instagram": f"https://www.instagram.com/p/{pid}/",
            "tiktok": f"https://www.tiktok.com/@{handle}/video/{pid}",
            "youtube": f"https://www.youtube.com/watch?v={pid}"}[platform]


MEDIA = {"mastodon": "text", "bluesky": "text", "instagram": "image", "tiktok": "video", "youtube": "video"}


def post_rows(people: Population, posts: Posts, handles: list[str], tags: list[str],
              captured: np.ndarray) -> Iterator[dict[str, Any]]:
    for index, owner in enumerate(posts.owner.tolist()):
        platform = PLATFORMS[people.platform[owner]]
        pid = post_id(platform, index + 1)
        caption = CAPTIONS[index % len(CAPTIONS)]
        hashtags = " ".join(f"#{tags[t - 1]}" for t in posts.tags[index])
        last_seen = captured[owner][-1]
        yield {
            "id": index + 1, "platform": platform, "post_id": pid, "profile_id": owner + 1,
            "author_handle": handles[owner], "url": post_url(platform, handles[owner], pid),
            "posted_at": last_seen - timedelta(hours=float(posts.hours_before[index])),
            "posted_at_precision": "exact", "text": f"{caption} {hashtags}",
            "likes": count_or_none(posts.likes[index]), "comments": count_or_none(posts.comments[index]),
            "shares": count_or_none(posts.shares[index]), "views": count_or_none(posts.views[index]),
            "media_type": MEDIA[platform], "sponsored": bool(posts.sponsored[index]),
            "sponsor_evidence": "#ad" if posts.sponsored[index] else None, "language": None,
            "first_seen_at": captured[owner][int(people.first_day[owner])], "last_seen_at": last_seen,
        }


def count_or_none(value: float) -> int | None:
    return None if value != value else int(value)  # NaN: not shown


def make_sightings(rng: np.random.Generator, people: Population, posts: Posts, runs: list[Run],
                   handles: list[str], tag_count: int) -> list[dict[str, Any]]:
    """The listings that showed the posts: most (post, hashtag) pairs on the day the account was
    found, some again on a later day; and a few posts that were never loaded."""
    days = people.followers.shape[1]
    pair_post = np.repeat(np.arange(len(posts.tags)), [len(t) for t in posts.tags])
    pair_tag = [tag for post_tags in posts.tags for tag in post_tags]
    owner = posts.owner[pair_post]
    first = people.first_day[owner]
    later = first + 1 + np.floor(rng.random(len(owner)) * (days - 1 - first)).astype(np.int64)
    on_first = rng.random(len(owner)) < 0.6
    again = (first < days - 1) & (rng.random(len(owner)) < 0.15)
    picks = [(pair, int(first[pair])) for pair in np.flatnonzero(on_first).tolist()]
    picks += [(pair, int(later[pair])) for pair in np.flatnonzero(again).tolist()]
    by_key = {(run.day, run.platform): run for run in runs}
    rows = []
    draws = sighting_draws(rng, len(picks))
    for (pair, day), draw in zip(picks, draws, strict=True):
        post, who = int(pair_post[pair]), int(owner[pair])
        platform = PLATFORMS[people.platform[who]]
        rows.append(sighting(by_key[(day, platform)], pair_tag[pair], post_id(platform, post + 1),
                             handles[who], draw))
    strays = rng.integers(1, tag_count + 1, len(rows) // 20).tolist()
    runs_of_strays = rng.integers(0, len(runs), len(strays)).tolist()
    for number, (tag, run, draw) in enumerate(zip(strays, runs_of_strays, sighting_draws(rng, len(strays)),
                                                  strict=True)):
        rows.append(sighting(runs[run], tag, f"9{number:012d}", None, draw))
    return rows


def sighting_draws(rng: np.random.Generator, count: int) -> list[tuple[bool, int, float]]:
    """(top listing?, position, share of the run elapsed when seen) per sighting."""
    return list(zip((rng.random(count) < 0.4).tolist(), rng.integers(0, 60, count).tolist(),
                    rng.uniform(0, 0.3, count).tolist(), strict=True))


def sighting(run: Run, tag: int, pid: str, handle: str | None,
             draw: tuple[bool, int, float]) -> dict[str, Any]:
    top, position, elapsed = draw
    return {"crawl_run_id": run.id, "hashtag_id": tag, "platform": run.platform, "post_id": pid,
            "author_handle": handle, "listing": "top" if top else "recent", "position": position,
            "seen_at": run.started + (run.finished - run.started) * elapsed}


# --- runs, signals, quarantine ----------------------------------------------------------------


def make_runs(rng: np.random.Generator, days: int, now: datetime) -> list[Run]:
    """One run per platform and day; the last day's runs end before ``now``."""
    runs: list[Run] = []
    outcomes = rng.choice(len(OUTCOMES), days * len(PLATFORMS), p=OUTCOME_SHARE).tolist()
    for outcome in (1, 2):  # at least one degraded and one failed run, when there are ok ones
        ok = [position for position, value in enumerate(outcomes) if value == 0]
        if outcome not in outcomes and len(ok) > 1:
            outcomes[ok[int(rng.integers(len(ok)))]] = outcome
    for day in range(days):
        day_start = now - timedelta(days=days - 1 - day, hours=3)
        for slot, platform in enumerate(PLATFORMS):
            started = day_start + timedelta(minutes=15 * slot, seconds=float(rng.uniform(0, 60)))
            finished = started + timedelta(minutes=float(rng.uniform(20, 60)))
            run = Run(id=len(runs) + 1, platform=platform, day=day, started=started, finished=finished,
                      run_key=str(uuid.UUID(bytes=rng.bytes(16), version=4)),
                      outcome=OUTCOMES[outcomes[len(runs)]], rejected=[], row={})
            runs.append(run)
    return runs


def capture_times(rng: np.random.Generator, people: Population, runs: list[Run]) -> np.ndarray:
    """(accounts, days) capture times: inside the run of the account's platform on each day."""
    accounts, days = people.followers.shape
    share = rng.uniform(0.05, 0.95, (accounts, days)).tolist()
    run_of = {(run.day, run.platform): run for run in runs}
    captured = np.empty((accounts, days), dtype=object)
    for index, platform in enumerate(people.platform.tolist()):
        for day in range(days):
            run = run_of[(day, PLATFORMS[platform])]
            captured[index, day] = run.started + (run.finished - run.started) * share[index][day]
    return captured


def add_run_counts(rng: np.random.Generator, runs: list[Run], people: Population,
                   sightings: list[dict[str, Any]]) -> None:
    """Each run's stats, checks (the monitor's own), status, counts and quarantined reasons."""
    from scrapy.settings import Settings

    from pipelines import monitor

    seen = people.seen
    posts_per_account = people.posts
    sighted: dict[int, int] = {}
    for row in sightings:
        sighted[row["crawl_run_id"]] = sighted.get(row["crawl_run_id"], 0) + 1
    for run in runs:
        mine = seen[:, run.day] & (people.platform == PLATFORMS.index(run.platform))
        profiles = int(mine.sum())
        stats = run_stats(rng, run, profiles, int(posts_per_account[mine].sum()), sighted.get(run.id, 0))
        checks = monitor.run_checks(stats, Settings())
        run.rejected = rejected_reasons(rng, run.platform, stats)
        run.row = {
            "id": run.id, "run_key": run.run_key, "spider": run.platform, "platform": run.platform,
            "job": f"{'sweep' if run.day == 0 else 'refresh'}-{run.platform}",
            "arguments": {"tags": "fitness,food,travel"} if run.day == 0 else {"max_age": "20h"},
            "started_at": run.started, "finished_at": run.finished, "status": monitor.status_of(checks),
            "heartbeat_at": run.finished, "finish_reason": "finished",
            "checks": monitor.as_json(checks), "stats": stats,
            "items_loaded": stats["microscout/warehouse/items_loaded"],
            "items_rejected": len(run.rejected),
        }


def run_stats(rng: np.random.Generator, run: Run, profiles: int, posts: int,
              sightings: int) -> dict[str, Any]:
    """Scrapy-like stats aimed at the run's planned outcome (degraded: too many failed requests
    or too many profiles without followers; failed: items lost)."""
    outcome = run.outcome
    responses = profiles * 2 + sightings // 20 + 1
    failures = int(responses * rng.uniform(0, 0.03))
    missing = int(rng.poisson(profiles * 0.004))
    other = int(rng.poisson(profiles * 0.006 + 1))
    lost = 0
    if outcome == "degraded" and rng.random() < 0.6:
        failures = int(responses * rng.uniform(0.22, 0.35))
    elif outcome == "degraded":
        missing = int(profiles * rng.uniform(0.06, 0.09)) + 1
    elif outcome == "failed":
        lost = int(rng.integers(10, 500))
    received = profiles + posts + sightings
    return {
        "microscout/warehouse/received/profile": profiles,
        "microscout/warehouse/received/post": posts,
        "microscout/warehouse/received/sighting": sightings,
        "microscout/warehouse/items_loaded": max(0, received - lost),
        "microscout/warehouse/lost_items": lost,
        "microscout/warehouse/rejected_rows": missing + other,
        "microscout/quarantined/total": missing + other,
        "microscout/quarantined/missing_followers": missing,
        "response_received_count": responses,
        "downloader/exception_count": failures,
        "item_scraped_count": received,
        "finish_reason": "finished",
        "start_time": run.started.isoformat(),
        "elapsed_time_seconds": round((run.finished - run.started).total_seconds(), 1),
    }


def rejected_reasons(rng: np.random.Generator, platform: str, stats: dict[str, Any]) -> list[str]:
    missing = stats["microscout/quarantined/missing_followers"]
    other = stats["microscout/quarantined/total"] - missing
    reasons = REJECT_REASONS[platform]
    return ["missing_followers"] * missing + [reasons[i] for i in rng.integers(0, len(reasons), other)]


def rejected_rows(rng: np.random.Generator, runs: list[Run]) -> Iterator[dict[str, Any]]:
    for run in runs:
        spent = (run.finished - run.started).total_seconds()
        for number, reason in enumerate(run.rejected):
            handle = f"{run.platform}_rejected_{run.id}_{number}"
            page = reason not in ("missing_followers", "implausible_value", "missing_handle")
            yield {
                "crawl_run_id": run.id, "spider": run.platform, "platform": run.platform,
                "item_type": "page" if page else "ProfileItem", "reason": reason,
                "detail": f"{reason.replace('_', ' ')} on {handle}",
                "payload": None if page else {"_type": "profile", "handle": handle, "followers": None},
                "source_url": f"https://{run.platform}.example/{handle}",
                "created_at": run.started + timedelta(seconds=float(rng.uniform(0, 1)) * spent),
            }
