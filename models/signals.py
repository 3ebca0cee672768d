"""Audience-quality signals, computed after a run for the accounts it loaded (``profile_signals``).

Each signal compares an account with its **peers** (the latest snapshot of every account of the
same platform and tier in the warehouse) or with **its own history**, and a flag needs both a
robust z-score and a minimum effect, so a tight peer distribution does not flag small gaps:

==================== ==========================================================================
signal               formula (flag raised; penalty off 100)
==================== ==========================================================================
engagement_z         robust z of ln(engagement_rate) among peers: (x - median) / (1.4826 MAD).
                     z <= -2.5 and under 1/2.5 of the median: ``low_engagement`` (30, bought
                     followers); z >= 2.5 and over 2.5x the median: ``high_engagement`` (15)
like_comment_z       robust z of ln(sum likes / sum comments) among peers. z <= -3 (comments
                     out of proportion) with engagement z >= 1.5 and over 1.5x the median:
                     ``engagement_pod`` (30, instead of high_engagement); z >= 3 and 2.5x the
                     median: ``likes_without_comments`` (10)
follower_spike       max over snapshot intervals of growth per day (share of followers; days
                     floored at 1) minus the median of the other intervals; >= 0.10 and >= 50
                     followers: ``follower_spike`` (35). Needs 3 snapshots.
following_ratio      following / followers; >= 1.5 with >= 1,000 following: ``mass_follow`` (20)
posting_gap_cv       std / mean of the gaps between the recent posts; >= 2.5: ``bursty_posting`` (5)
no_comment_share     share of recent posts with 0 comments or none shown (disabled), when the
                     format gives comment counts at all; >= 0.6 of >= 5 posts:
                     ``no_comments`` (10)
sponsored_share      sponsored / recent posts; sponsored_engagement and organic_engagement are
                     mean(likes + comments) / followers of each kind
==================== ==========================================================================

``audience_quality`` = max(0, 100 - the penalties), NULL when fewer than MIN_POSTS recent posts
have counts, the followers are unknown or the peer group has fewer than MIN_PEERS accounts
(``quality_note`` says which). ``quality_flags`` lists the reasons, worst first.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from statistics import median
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, select

from models.loader import table_of
from models.tables import Post, Profile, ProfileSignal, ProfileSnapshot

RECENT_POSTS = 30
MIN_POSTS = 3
MIN_PEERS = 20
MIN_SNAPSHOTS = 3
CHUNK = 500
MAD_SCALE = 1.4826

Z_FLAG = 2.5
ENGAGEMENT_FOLD = 2.5
POD_LIKE_COMMENT_Z = -3.0
POD_ENGAGEMENT_Z = 1.5
POD_FOLD = 1.5
LIKES_Z = 3.0
SPIKE_SHARE = 0.10
SPIKE_MIN_FOLLOWERS = 50
MASS_FOLLOW_RATIO = 1.5
MASS_FOLLOW_MIN = 1_000
BURSTY_CV = 2.5
NO_COMMENTS_SHARE = 0.6
PENALTY = {"follower_spike": 35, "low_engagement": 30, "engagement_pod": 30, "mass_follow": 20,
           "high_engagement": 15, "likes_without_comments": 10, "no_comments": 10,
           "bursty_posting": 5}


@dataclass
class Peers:
    """ln(engagement) and ln(like/comment) medians and robust scales per peer group."""

    groups: dict[str, dict[str, tuple[float, float, int]]] = field(default_factory=dict)

    def stat(self, group: str, name: str) -> tuple[float, float, int] | None:
        return self.groups.get(group, {}).get(name)


def robust(values: Sequence[float]) -> tuple[float, float, int]:
    """(median, 1.4826 * MAD, n); the scale is floored so identical values do not divide by 0."""
    mid = median(values)
    mad = median(abs(v - mid) for v in values) * MAD_SCALE
    return mid, max(mad, 1e-6), len(values)


def z_of(value: float | None, stat: tuple[float, float, int] | None) -> float | None:
    if value is None or stat is None or value <= 0:
        return None
    return round((math.log(value) - stat[0]) / stat[1], 3)


def latest_snapshots(conn: Connection) -> Any:
    ranked = select(
        ProfileSnapshot.profile_id, ProfileSnapshot.followers, ProfileSnapshot.following,
        ProfileSnapshot.engagement_rate, ProfileSnapshot.tier,
        func.row_number().over(partition_by=ProfileSnapshot.profile_id,
                               order_by=(ProfileSnapshot.captured_at.desc(),
                                         ProfileSnapshot.id.desc())).label("rn"),
    ).subquery()
    return (select(ranked.c.profile_id, Profile.platform, ranked.c.tier, ranked.c.followers,
                   ranked.c.following, ranked.c.engagement_rate)
            .join(Profile, Profile.id == ranked.c.profile_id).where(ranked.c.rn == 1))


def like_comment_ratios(conn: Connection) -> dict[Any, float]:
    """sum(likes) / sum(comments) over each account's stored posts with both counts (> 0)."""
    query = (select(Post.profile_id, func.sum(Post.likes), func.sum(Post.comments))
             .where(Post.profile_id.is_not(None), Post.likes.is_not(None), Post.comments.is_not(None))
             .group_by(Post.profile_id))
    return {profile_id: float(likes) / float(comments)
            for profile_id, likes, comments in conn.execute(query) if likes and comments}


def peer_stats(conn: Connection) -> tuple[Peers, dict[int, tuple], dict[Any, float]]:
    """Peer statistics of every platform/tier group and platform, each account's latest row, and
    each account's like/comment ratio."""
    latest = {row.profile_id: tuple(row) for row in conn.execute(latest_snapshots(conn))}
    ratios = like_comment_ratios(conn)
    values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for profile_id, platform, tier, _followers, _following, rate in latest.values():
        for group in (f"{platform}/{tier}", platform):
            if rate and rate > 0:
                values[group]["engagement"].append(math.log(rate))
            if profile_id in ratios:
                values[group]["like_comment"].append(math.log(ratios[profile_id]))
    peers = Peers({group: {name: robust(v) for name, v in named.items() if v}
                   for group, named in values.items()})
    return peers, latest, ratios


def follower_spike(history: Sequence[tuple[datetime, int | None]]) -> tuple[float, datetime] | None:
    """(excess growth per day, when) of the largest jump against the account's other intervals."""
    points = [(t, f) for t, f in history if f is not None]
    rates = []
    for (t0, f0), (t1, f1) in itertools.pairwise(points):
        days = max((t1 - t0).total_seconds() / 86_400, 1.0)
        if f0 > 0:
            rates.append(((f1 - f0) / f0 / days, f1 - f0, t1))
    if len(rates) < MIN_SNAPSHOTS - 1:
        return None
    best = max(range(len(rates)), key=lambda i: rates[i][0])
    others = [r[0] for i, r in enumerate(rates) if i != best]
    excess = rates[best][0] - median(others)
    if rates[best][1] < SPIKE_MIN_FOLLOWERS:  # a few followers are never a spike
        excess = min(excess, 0.0)
    return round(excess, 4), rates[best][2]


def _gap_cv(times: Sequence[datetime]) -> float | None:
    ordered = sorted(times)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(ordered)]
    if len(gaps) < 2:
        return None
    mean = sum(gaps) / len(gaps)
    if mean <= 0:
        return None
    var = sum((g - mean) ** 2 for g in gaps) / len(gaps)
    return round(math.sqrt(var) / mean, 3)


def _mean_rate(posts: Sequence[tuple], followers: int | None) -> float | None:
    counts = [(likes or 0) + (comments or 0) for _, likes, comments, _ in posts
              if likes is not None or comments is not None]
    if not counts or not followers:
        return None
    return round(sum(counts) / len(counts) / followers, 6)


def assess(row: tuple, posts: Sequence[tuple], history: Sequence[tuple[datetime, int | None]],
           ratio: float | None, peers: Peers) -> dict[str, Any]:
    """The signals of one account. ``row``: its latest (profile_id, platform, tier, followers,
    following, engagement_rate); ``posts``: its recent (posted_at, likes, comments, sponsored)."""
    _profile_id, platform, tier, followers, following, rate = row
    group = f"{platform}/{tier}"
    if (peers.stat(group, "engagement") or (0, 0, 0))[2] < MIN_PEERS:
        group = platform
    eng, lc = peers.stat(group, "engagement"), peers.stat(group, "like_comment")
    n_peers = eng[2] if eng else 0
    notes: list[str] = []
    out: dict[str, Any] = {"peer_group": group, "peers": n_peers,
                           "like_comment_ratio": round(ratio, 3) if ratio else None}
    flags: list[tuple[int, str]] = []

    def flag(code: str, text: str) -> None:
        flags.append((PENALTY[code], f"{code}: {text}"))

    enough_peers = n_peers >= MIN_PEERS
    out["engagement_z"] = z_of(rate, eng) if enough_peers else None
    out["like_comment_z"] = z_of(ratio, lc) if enough_peers and lc and lc[2] >= MIN_PEERS else None
    ez, lz = out["engagement_z"], out["like_comment_z"]
    if ez is not None and eng is not None:
        fold = math.exp(math.log(rate) - eng[0])
        if (ez >= POD_ENGAGEMENT_Z and fold >= POD_FOLD and lz is not None and lc is not None
                and ratio and lz <= POD_LIKE_COMMENT_Z):
            flag("engagement_pod", f"engagement {fold:.1f}x the peers' median with "
                                   f"{ratio:.1f} likes per comment (peers {math.exp(lc[0]):.1f})")
        elif ez >= Z_FLAG and fold >= ENGAGEMENT_FOLD:
            flag("high_engagement", f"engagement {fold:.1f}x the peers' median (z {ez:+.1f})")
        elif ez <= -Z_FLAG and fold <= 1 / ENGAGEMENT_FOLD:
            flag("low_engagement", f"engagement {1 / fold:.1f}x below the peers' median (z {ez:+.1f})")
    if lz is not None and lc is not None and ratio and lz >= LIKES_Z \
            and ratio >= ENGAGEMENT_FOLD * math.exp(lc[0]):
        flag("likes_without_comments", f"{ratio:.0f} likes per comment (peers {math.exp(lc[0]):.0f})")
    if not enough_peers:
        notes.append(f"peers: {n_peers} accounts in {group} ({MIN_PEERS} needed)")

    spike = follower_spike(history)
    out["follower_spike"], out["follower_spike_at"] = spike if spike else (None, None)
    if spike is None:
        notes.append(f"follower history: {sum(1 for _, f in history if f is not None)} snapshot(s) "
                     f"({MIN_SNAPSHOTS} needed to judge spikes)")
    elif spike[0] >= SPIKE_SHARE:
        flag("follower_spike", f"+{spike[0] * 100:.0f}% followers in a day above trend "
                               f"({spike[1]:%Y-%m-%d})")

    out["following_ratio"] = round(following / followers, 3) if followers and following is not None else None
    if out["following_ratio"] is not None and out["following_ratio"] >= MASS_FOLLOW_RATIO \
            and following >= MASS_FOLLOW_MIN:
        flag("mass_follow", f"follows {following:,} accounts, {out['following_ratio']:.1f}x its followers")

    out["posting_gap_cv"] = _gap_cv([p[0] for p in posts if p[0] is not None])
    if out["posting_gap_cv"] is not None and out["posting_gap_cv"] >= BURSTY_CV:
        flag("bursty_posting", f"gaps between posts vary {out['posting_gap_cv']:.1f}x their mean")
    counted = [p for p in posts if p[1] is not None or p[2] is not None]
    # formats that never give comment counts (listings) say nothing about disabled comments
    out["no_comment_share"] = (round(sum(1 for p in posts if not p[2]) / len(posts), 3)
                               if any(p[2] is not None for p in posts) else None)
    if out["no_comment_share"] is not None and len(posts) >= 5 \
            and out["no_comment_share"] >= NO_COMMENTS_SHARE:
        flag("no_comments", f"{out['no_comment_share']:.0%} of recent posts have no comments")

    judged = [p for p in posts if p[3] is not None]
    sponsored = [p for p in judged if p[3]]
    out["sponsored_posts"] = len(sponsored) if judged else None
    out["sponsored_share"] = round(len(sponsored) / len(judged), 3) if judged else None
    out["sponsored_engagement"] = _mean_rate(sponsored, followers)
    out["organic_engagement"] = _mean_rate([p for p in judged if not p[3]], followers)

    flags.sort(key=lambda pair: -pair[0])
    out["quality_flags"] = [text for _, text in flags]
    out["main_flag"] = flags[0][1].split(":", 1)[0] if flags else None
    if len(counted) < MIN_POSTS or not followers or not enough_peers:
        if len(counted) < MIN_POSTS:
            notes.insert(0, f"posts: {len(counted)} with counts ({MIN_POSTS} needed)")
        if not followers:
            notes.insert(0, "followers unknown")
        out["audience_quality"] = None
    else:
        out["audience_quality"] = float(max(0, 100 - sum(p for p, _ in flags)))
    out["quality_note"] = "; ".join(notes) or None
    return out


def _chunks(values: Sequence, size: int = CHUNK):
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _recent_posts(conn: Connection, ids: Sequence[int]) -> dict[Any, list[tuple]]:
    out: dict[Any, list[tuple]] = defaultdict(list)
    for chunk in _chunks(list(ids)):
        rows = conn.execute(
            select(Post.profile_id, Post.posted_at, Post.likes, Post.comments, Post.sponsored)
            .where(Post.profile_id.in_(chunk))
            .order_by(Post.profile_id, Post.posted_at.desc(), Post.id.desc()))
        for profile_id, posted_at, likes, comments, sponsored in rows:
            if len(out[profile_id]) < RECENT_POSTS:
                out[profile_id].append((_aware(posted_at), likes, comments, sponsored))
    return out


def _histories(conn: Connection, ids: Sequence[int]) -> dict[Any, list[tuple[Any, int | None]]]:
    out: dict[Any, list[tuple[Any, int | None]]] = defaultdict(list)
    for chunk in _chunks(list(ids)):
        rows = conn.execute(
            select(ProfileSnapshot.profile_id, ProfileSnapshot.captured_at, ProfileSnapshot.followers)
            .where(ProfileSnapshot.profile_id.in_(chunk))
            .order_by(ProfileSnapshot.profile_id, ProfileSnapshot.captured_at, ProfileSnapshot.id))
        for profile_id, captured_at, followers in rows:
            out[profile_id].append((_aware(captured_at), followers))
    return out


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def run_profiles(conn: Connection, run_id: int) -> list[int]:
    """Accounts a run took a snapshot of."""
    return list(conn.execute(select(ProfileSnapshot.profile_id)
                             .where(ProfileSnapshot.crawl_run_id == run_id)).scalars())


def refresh(conn: Connection, run_id: int, profile_ids: Sequence[int] | None = None,
            now: datetime | None = None) -> int:
    """Compute and store the signals of a run's accounts (all it loaded by default)."""
    from models.loader import utcnow

    ids = sorted(set(run_profiles(conn, run_id) if profile_ids is None else profile_ids))
    if not ids:
        return 0
    peers, latest, ratios = peer_stats(conn)  # the ratios of every account, the run's among them
    posts, histories = _recent_posts(conn, ids), _histories(conn, ids)
    now = now or utcnow()
    rows = []
    for profile_id in ids:
        if profile_id not in latest:
            continue
        values = assess(latest[profile_id], posts.get(profile_id, []), histories.get(profile_id, []),
                        ratios.get(profile_id), peers)
        rows.append({"profile_id": profile_id, "crawl_run_id": run_id, "computed_at": now, **values})
    table = table_of(ProfileSignal)
    for chunk in _chunks(ids):
        conn.execute(delete(table).where(and_(table.c.crawl_run_id == run_id,
                                              table.c.profile_id.in_(chunk))))
    for chunk in _chunks(rows):
        conn.execute(insert(table), chunk)
    return len(rows)
