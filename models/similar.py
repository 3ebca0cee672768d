"""Lookalikes: the accounts most like a given one (``microscout similar``, ``similar_accounts``).

Three views of an account, each compared by cosine similarity:

* **niches**: its niche scores (profile_niches);
* **terms**: TF-IDF over its bio, the hashtags (as ``#tag``) and the captions of its RECENT_POSTS
  newest posts; words in more than MAX_DF of the accounts or in only one are dropped;
* **embedding**: the sentence embedding of bio and captions (profile_vectors), when the
  ``embeddings`` extra computed one for both accounts.

``score = 0.35 niches + 0.35 terms + 0.30 embedding``; without an embedding for the account
asked about, ``0.5 niches + 0.5 terms``. ``shared_terms`` lists the shared primary niche and the
terms that add the most to the TF-IDF similarity.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, delete, insert, select

from models.loader import table_of
from models.tables import (
    Hashtag,
    Post,
    PostHashtag,
    Profile,
    ProfileNiche,
    ProfileVector,
    SimilarAccount,
)
from pipelines.nichetext import fold

RECENT_POSTS = 12
MAX_DF = 0.3
WEIGHTS = {"niches": 0.35, "terms": 0.35, "embedding": 0.30}
SHARED_TERMS = 6
CHUNK = 500
_TOKEN = re.compile(r"#\w+|[^\W\d_]{3,}")
_NOISE = re.compile(r"(?:https?://|www\.)\S+|@[\w.@-]+", re.IGNORECASE)


@dataclass
class Space:
    ids: list[int]
    index: dict[int, int]
    niches: np.ndarray  # unit rows
    terms: Any  # scipy sparse, unit rows
    vocabulary: np.ndarray
    embedding: np.ndarray  # unit rows, zero when missing
    primary: dict[int, str]


def _chunks(values: Sequence, size: int = CHUNK):
    for start in range(0, len(values), size):
        yield values[start:start + size]


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(fold(_NOISE.sub(" ", text)))


def micro_accounts(conn: Connection, tier: str | None = "micro",
                   platforms: Sequence[str] | None = None) -> list[int]:
    """Accounts whose latest snapshot is of ``tier`` (all when None), on ``platforms``."""
    from models.signals import latest_snapshots

    return sorted(pid for pid, platform, row_tier, *_ in conn.execute(latest_snapshots(conn))
                  if (tier is None or row_tier == tier) and (not platforms or platform in platforms))


def build(conn: Connection, ids: Sequence[int]) -> Space:
    """The three views of the accounts ``ids``."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    ids = sorted(set(ids))
    index = {pid: i for i, pid in enumerate(ids)}
    docs: dict[Any, list[str]] = defaultdict(list)
    niche_rows: list[tuple[int, str, float, bool]] = []
    vectors: dict[int, bytes] = {}
    for chunk in _chunks(ids):
        for pid, bio in conn.execute(select(Profile.id, Profile.bio).where(Profile.id.in_(chunk))):
            docs[pid] += tokens(bio or "")
        niche_rows += conn.execute(select(ProfileNiche.profile_id, ProfileNiche.niche, ProfileNiche.score,
                                          ProfileNiche.is_primary)
                                   .where(ProfileNiche.profile_id.in_(chunk))).all()
        posts = conn.execute(select(Post.id, Post.profile_id, Post.text).where(Post.profile_id.in_(chunk))
                             .order_by(Post.profile_id, Post.posted_at.desc(), Post.id.desc()))
        kept: dict[Any, int] = defaultdict(int)
        post_owner: dict[int, Any] = {}
        for post_id, owner, text in posts:
            if kept[owner] < RECENT_POSTS:
                kept[owner] += 1
                post_owner[post_id] = owner
                docs[owner] += tokens(re.sub(r"[#＃]\w+", " ", text or ""))
        for post_chunk in _chunks(sorted(post_owner)):
            for post_id, tag in conn.execute(select(PostHashtag.post_id, Hashtag.tag)
                                             .join(Hashtag, Hashtag.id == PostHashtag.hashtag_id)
                                             .where(PostHashtag.post_id.in_(post_chunk))):
                docs[post_owner[post_id]].append(f"#{tag}")
        vectors.update(conn.execute(select(ProfileVector.profile_id, ProfileVector.vector)
                                    .where(ProfileVector.profile_id.in_(chunk))).all())
    labels = sorted({niche for _, niche, _, _ in niche_rows})
    niches = np.zeros((len(ids), max(len(labels), 1)), dtype=np.float32)
    col = {label: j for j, label in enumerate(labels)}
    primary = {}
    for pid, niche, score, is_primary in niche_rows:
        niches[index[pid], col[niche]] = score
        if is_primary:
            primary[pid] = niche
    corpus = [docs.get(pid, []) for pid in ids]
    vectorizer = TfidfVectorizer(analyzer=lambda doc: doc, min_df=2 if len(ids) > 2 else 1,
                                 max_df=MAX_DF if len(ids) >= 20 else 1.0, sublinear_tf=True)
    try:
        terms = vectorizer.fit_transform(corpus).tocsr()
        vocabulary = vectorizer.get_feature_names_out()
    except ValueError:  # no term left (tiny warehouses)
        from scipy.sparse import csr_matrix

        terms, vocabulary = csr_matrix((len(ids), 1), dtype=np.float32), np.array([""])
    embedding = np.zeros((len(ids), 0), dtype=np.float32)
    if vectors:
        from pipelines.nicheembed import unpack_vector

        width = len(unpack_vector(next(iter(vectors.values()))))
        embedding = np.zeros((len(ids), width), dtype=np.float32)
        for pid, data in vectors.items():
            vector = unpack_vector(data)
            if len(vector) == width:
                embedding[index[pid]] = vector
    return Space(ids, index, _unit(niches), terms, vocabulary, _unit(embedding), primary)


def _unit(a: np.ndarray) -> np.ndarray:
    if a.size == 0:
        return a
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    return a / np.where(norms > 0, norms, 1.0)


def block_scores(space: Space, rows: Sequence[int]) -> np.ndarray:
    """Similarity of each account of ``rows`` to every account in the space (one row each)."""
    if space.embedding.shape[1] > 0:
        has_embedding = np.asarray(space.embedding[rows].any(axis=1), dtype=bool)
    else:
        has_embedding = np.zeros(len(rows), dtype=bool)
    total = space.niches[rows] @ space.niches.T
    terms = np.asarray((space.terms[rows] @ space.terms.T).todense())
    if space.embedding.shape[1] > 0:
        embedded = space.embedding[rows] @ space.embedding.T
    else:
        embedded = np.zeros_like(total)
    with_embedding = (WEIGHTS["niches"] * total + WEIGHTS["terms"] * terms
                      + WEIGHTS["embedding"] * embedded)
    without = 0.5 * total + 0.5 * terms
    mixed = np.where(has_embedding[:, None], with_embedding, without)
    return np.clip(mixed, 0.0, 1.0)


def explain(space: Space, a: int, b: int) -> str:
    """The shared primary niche and the terms that add most to the pair's TF-IDF similarity."""
    parts = []
    pa, pb = space.primary.get(space.ids[a]), space.primary.get(space.ids[b])
    if pa and pa == pb:
        parts.append(f"niche:{pa}")
    terms = space.terms  # CSR: each row's term columns and weights, read straight from its arrays
    ca, cb = (terms.indices[terms.indptr[r]:terms.indptr[r + 1]] for r in (a, b))
    shared, ia, ib = np.intersect1d(ca, cb, assume_unique=True, return_indices=True)
    if len(shared):
        weight = (terms.data[terms.indptr[a] + ia] * terms.data[terms.indptr[b] + ib])
        parts += [str(space.vocabulary[shared[i]]) for i in np.argsort(-weight, kind="stable")[:SHARED_TERMS]]
    return ", ".join(parts)


def nearest(space: Space, pids: Sequence[int], k: int, candidates: set[int] | None = None,
            block: int = 256) -> dict[int, list[dict]]:
    """The ``k`` accounts most like each of ``pids`` (itself excluded), best first."""
    allowed = None
    if candidates is not None:
        allowed = np.array([pid in candidates for pid in space.ids])
    out: dict[int, list[dict]] = {}
    for start in range(0, len(pids), block):
        chunk = list(pids[start:start + block])
        rows = [space.index[pid] for pid in chunk]
        values = block_scores(space, rows)
        values[np.arange(len(rows)), rows] = -1.0  # never itself
        if allowed is not None:
            values[:, ~allowed] = -1.0
        for pid, row, line in zip(chunk, rows, values, strict=True):
            top = np.argpartition(-line, min(k, len(line) - 1))[:k] if len(line) > k else np.arange(len(line))
            order = sorted(top, key=lambda j: (-line[j], space.ids[j]))
            out[pid] = [{"similar_profile_id": space.ids[j], "score": round(float(line[j]), 4),
                         "shared_terms": explain(space, row, j)} for j in order if line[j] > 0]
    return out


def refresh(conn: Connection, profile_ids: Sequence[int], k: int = 20,
            now: datetime | None = None) -> int:
    """Store the lookalikes of the micro-influencers among ``profile_ids`` (a run's accounts)."""
    from models.loader import utcnow

    micro = micro_accounts(conn)
    wanted = sorted(set(profile_ids) & set(micro))
    if not wanted:
        return 0
    space = build(conn, micro)
    now = now or utcnow()
    table = table_of(SimilarAccount)
    for chunk in _chunks(wanted):
        conn.execute(delete(table).where(table.c.profile_id.in_(chunk)))
    rows = []
    for pid, found in nearest(space, wanted, k).items():
        for rank, entry in enumerate(found, start=1):
            rows.append({"profile_id": pid, "rank": rank, "updated_at": now, **entry})
    for chunk in _chunks(rows, 1000):
        conn.execute(insert(table), chunk)
    return len(rows)


def lookup(conn: Connection, platform: str, handle: str) -> int | None:
    return conn.execute(select(Profile.id).where(Profile.platform == platform,
                                                 Profile.handle == handle)).scalar_one_or_none()


def similar(conn: Connection, profile_id: int, k: int = 20, tier: str | None = "micro",
            platforms: Sequence[str] | None = None) -> list[dict]:
    """Lookalikes of one account among the accounts of ``tier`` on ``platforms``, computed now."""
    candidates = set(micro_accounts(conn, tier, platforms))
    space = build(conn, sorted(candidates | {profile_id}))
    return nearest(space, [profile_id], k, candidates)[profile_id]
