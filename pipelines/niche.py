"""Niche pipeline: multi-label niche scores and one primary niche per profile.

A taxonomy file (``pipelines/taxonomy.json``, or MICROSCOUT_TAXONOMY) lists per niche the
platform category labels, single-word keywords, hashtags and multi-word phrases that point at
it, in English, Spanish, Portuguese, French and German. :class:`TaxonomyTagger` compiles it into
hash lookups once, then scores a profile from four sources:

============== ============================================================ ==================
source          what matches                                                weight (default)
============== ============================================================ ==================
category        the platform's category label is one of the niche's          0.90
                categories ("Fitness Trainer"); otherwise a keyword or
                phrase inside the label ("Health/Beauty")                   0.70
bio             a hashtag / phrase / keyword in the bio                      0.55 / 0.55 / 0.45
post hashtags   each post hashtag (a compound such as ``veganrecipes`` that  0.40 (x 0.75)
                only matches once split into known words counts x 0.75)
post text       a phrase / keyword in a post's text, once per post           0.40 / 0.30
============== ============================================================ ==================

Each match is independent evidence for its niche, combined noisy-OR:
``score = 1 - prod(1 - weight)`` over the matches. Scores are therefore in 0..1, grow with
every extra match without ever reaching 1, and several niches can score at once (multi-label).
Post matches are damped by the number of posts n (exponent 1/sqrt(n)), so a niche has to recur
across a profile's posts. The primary niche is the best one when it clears the taxonomy's
``threshold`` (0.3: a category label, a bio keyword, one post hashtag or one keyword of a single
post clears it; one hashtag in one post of twelve does not).

Matching works on folded text: case-folded, NFKD-decomposed with combining marks dropped, so
"Entraînement", "ENTRAINEMENT" and "𝐞𝐧𝐭𝐫𝐚𝐢𝐧𝐞𝐦𝐞𝐧𝐭" all match ``entrainement``. Keywords match whole
words only (``art`` does not match "party"); plural forms (-s, -es, -ies) are generated at
compile time. docs/niches.md has the details and the measured figures.

When MICROSCOUT_NICHE_MODEL names a model trained with ``microscout niches train``, the pipeline
loads it once at open and blends it in: for every niche the model knows,
``score = w * model + (1 - w) * taxonomy`` with ``w`` = MICROSCOUT_NICHE_MODEL_WEIGHT (default
0.5). The model's probabilities are first rescaled so that each label's tuned decision threshold
lands on the taxonomy's threshold, so "the model says yes" and "the taxonomy says yes" mean the
same score. Niches the model does not know keep their taxonomy score.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crawler.items import ProfileItem
from pipelines.nicheembed import EmbeddingSettings, ZeroShot, encode, pack_vector, zero_shot_or_none
from pipelines.nichetext import CAMEL, DEFAULT_MODEL_WEIGHT, HASHTAG, URL, blend, fold

if TYPE_CHECKING:
    from pipelines.niche_model import NicheModel

logger = logging.getLogger(__name__)

DEFAULT_TAXONOMY_PATH = Path(__file__).with_name("taxonomy.json")

#: Weight of each kind of match; the taxonomy file's "weights" block overrides them.
DEFAULT_WEIGHTS: dict[str, float] = {
    "category": 0.9,
    "category_term": 0.7,
    "bio_hashtag": 0.55,
    "bio_phrase": 0.55,
    "bio_keyword": 0.45,
    "post_hashtag": 0.4,
    "post_phrase": 0.4,
    "post_keyword": 0.3,
    "compound_factor": 0.75,
}
DEFAULT_THRESHOLD = 0.3
#: Decimal places kept in ``ProfileItem.niches``.
SCORE_DIGITS = 3
#: Characters of a profile's text the model reads (bio first, then posts in order). scikit-learn
#: extracts character n-grams in Python, several milliseconds per 1,000 characters; the cap keeps
#: a profile of long video descriptions from costing ten times a typical one.
MODEL_TEXT_LIMIT = 4000
#: Profiles whose embeddings one encoder call computes at most.
EMBED_BATCH = 32

_TERM_KINDS = ("categories", "keywords", "hashtags", "phrases")
_WORD = re.compile(r"[^\W_]+")
_SPACES = re.compile(r"\s+")
_TRAILING_DIGITS = re.compile(r"\d+$")
#: "www." in text.lower(), without the lower-cased copy (no other character lower-cases to
#: "w" or ".").
_WWW = re.compile(r"www\.", re.IGNORECASE)
#: Scores are products of floats: 1 - (1 - 0.3) is 0.30000000000000004 or 0.29999999999999993.
#: A match whose weight equals the threshold must clear it.
_EPSILON = 1e-9
_MAX_SEGMENTS = 5
_MAX_SEGMENT_LEN = 24
_MAX_COMPOUND_LEN = 60


class TaxonomyError(ValueError):
    """The taxonomy file is missing, not JSON, or not shaped like a taxonomy."""


def words(text: str) -> list[str]:
    """The folded words of ``text`` (letters and digits; ``_``, ``-``, ``'`` separate words)."""
    return _WORD.findall(fold(text))


def hashtags_in(text: str | None) -> list[str]:
    """Hashtags written in ``text``, without "#", in their original case (for CamelCase splits)."""
    if not text or ("#" not in text and "＃" not in text):
        return []
    return HASHTAG.findall(text)


def strip_hashtags_and_urls(text: str) -> str:
    """The text with its hashtags and links removed (they are scored as hashtags, or not at all)."""
    if "#" in text or "＃" in text:
        text = HASHTAG.sub(" ", text)
    if "://" in text or _WWW.search(text) is not None:
        text = URL.sub(" ", text)
    return text


def _split_hashtags(text: str) -> tuple[list[str], str]:
    """``(hashtags_in(text), HASHTAG.sub(" ", text))`` in one pass over the text."""
    if "#" not in text and "＃" not in text:
        return [], text
    parts = HASHTAG.split(text)  # text, tag, text, tag, ..., text (one group: the tag)
    return parts[1::2], " ".join(parts[0::2])


def _strip_urls(text: str) -> str:
    """The second half of :func:`strip_hashtags_and_urls`, for text without its hashtags."""
    if "://" in text or _WWW.search(text) is not None:
        return URL.sub(" ", text)
    return text


def hashtag_key(tag: str) -> str:
    """The folded comparison form of a hashtag: no "#", no separators, lower-case, no accents."""
    if type(tag) is str:
        return _hashtag_key_text(tag)
    return _hashtag_key(tag)


def _hashtag_key(tag: str) -> str:
    return "".join(_WORD.findall(fold(tag.lstrip("#＃"))))


#: Hashtags recur across posts and profiles: their keys are remembered (pure function of text).
_hashtag_key_text = functools.lru_cache(maxsize=65_536)(_hashtag_key)


@dataclass(frozen=True)
class Niche:
    id: str
    label: str
    categories: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    #: Short descriptions (en, es, pt, fr, de) the embedding scorer reads; never matched as terms.
    descriptions: tuple[str, ...] = ()

    @property
    def term_count(self) -> int:
        return len(set(self.keywords) | set(self.hashtags) | set(self.phrases))


@dataclass(frozen=True)
class Taxonomy:
    niches: tuple[Niche, ...]
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    threshold: float = DEFAULT_THRESHOLD
    fillers: tuple[str, ...] = ()
    source: str | None = None
    embedding: EmbeddingSettings = field(default_factory=EmbeddingSettings)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(niche.id for niche in self.niches)

    @classmethod
    def load(cls, path: str | Path | None = None) -> Taxonomy:
        """Read a taxonomy JSON file (default: the one shipped in this package, read through
        importlib.resources so it also loads from a zipped egg, as Scrapyd deploys it)."""
        path = Path(path) if path else DEFAULT_TAXONOMY_PATH
        try:
            if path == DEFAULT_TAXONOMY_PATH:
                text = resources.files("pipelines").joinpath("taxonomy.json").read_text(encoding="utf-8")
            else:
                text = path.read_text(encoding="utf-8")
            data = json.loads(text)
        except FileNotFoundError:
            raise TaxonomyError(f"{path}: no such taxonomy file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise TaxonomyError(f"{path}: cannot read: {exc}") from None
        except json.JSONDecodeError as exc:
            raise TaxonomyError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: Any, source: str | None = None) -> Taxonomy:
        where = source or "taxonomy"
        if not isinstance(data, dict) or not isinstance(data.get("niches"), dict) or not data["niches"]:
            raise TaxonomyError(f"{where}: expected an object with a non-empty 'niches' object")
        weights = dict(DEFAULT_WEIGHTS)
        for name, value in (data.get("weights") or {}).items():
            if name not in DEFAULT_WEIGHTS:
                raise TaxonomyError(f"{where}: unknown weight {name!r}; known: {', '.join(DEFAULT_WEIGHTS)}")
            number = value.get("weight") if isinstance(value, dict) else value
            if isinstance(number, bool) or not isinstance(number, int | float) or not 0 <= number <= 1:
                raise TaxonomyError(f"{where}: weight {name!r} must be a number from 0 to 1")
            weights[name] = float(number)
        threshold = data.get("threshold", DEFAULT_THRESHOLD)
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 < threshold <= 1:
            raise TaxonomyError(f"{where}: 'threshold' must be a number above 0 and at most 1")
        niches = []
        for niche_id, spec in data["niches"].items():
            if not isinstance(spec, dict):
                raise TaxonomyError(f"{where}: niche {niche_id!r} must be an object")
            terms = {}
            for kind in _TERM_KINDS:
                values = spec.get(kind, [])
                if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
                    raise TaxonomyError(f"{where}: niche {niche_id!r}: {kind!r} must be a list of strings")
                terms[kind] = tuple(v.strip() for v in values)
            descriptions = spec.get("descriptions", [])
            if not isinstance(descriptions, list) or not all(isinstance(v, str) and v.strip()
                                                             for v in descriptions):
                raise TaxonomyError(f"{where}: niche {niche_id!r}: 'descriptions' must be a list of strings")
            niches.append(Niche(id=niche_id, label=str(spec.get("label") or niche_id),
                                descriptions=tuple(v.strip() for v in descriptions), **terms))
        fillers = data.get("hashtag_fillers", [])
        if not isinstance(fillers, list) or not all(isinstance(v, str) for v in fillers):
            raise TaxonomyError(f"{where}: 'hashtag_fillers' must be a list of strings")
        return cls(niches=tuple(niches), weights=weights, threshold=float(threshold),
                   fillers=tuple(fillers), source=source,
                   embedding=_embedding_settings(data.get("embedding"), where))


def _embedding_settings(block: Any, where: str) -> EmbeddingSettings:
    try:
        return EmbeddingSettings.from_dict(block, where)
    except ValueError as exc:
        raise TaxonomyError(str(exc)) from None


class _Acc:
    """Noisy-OR accumulator: the probability that no match so far was right, per niche."""

    __slots__ = ("miss",)

    def __init__(self, size: int) -> None:
        self.miss = [1.0] * size

    def add(self, niches: Iterable[int], weight: float, damp: float = 1.0) -> None:
        keep = 1.0 - weight if damp == 1.0 else (1.0 - weight) ** damp
        miss = self.miss
        for index in niches:
            miss[index] *= keep


class TaxonomyTagger:
    """Scores text against a :class:`Taxonomy`; build once, call per item (thread-safe reads)."""

    def __init__(self, taxonomy: Taxonomy, cache_size: int = 65_536) -> None:
        self.taxonomy = taxonomy
        self.ids = taxonomy.ids
        self.threshold = taxonomy.threshold
        w = dict(DEFAULT_WEIGHTS, **taxonomy.weights)
        self.weights = w
        words_index: dict[str, set[int]] = {}
        phrases: dict[tuple[str, ...], set[int]] = {}
        tags: dict[str, set[int]] = {}
        categories: dict[str, set[int]] = {}
        for index, niche in enumerate(taxonomy.niches):
            for keyword in niche.keywords:
                for token in words(keyword):  # "e-sports" is two words; both count
                    words_index.setdefault(token, set()).add(index)
                tags.setdefault(hashtag_key(keyword), set()).add(index)
            for phrase in niche.phrases:
                tokens = tuple(words(phrase))
                if len(tokens) == 1:
                    words_index.setdefault(tokens[0], set()).add(index)
                elif tokens:
                    phrases.setdefault(tokens, set()).add(index)
                tags.setdefault("".join(tokens), set()).add(index)
            for tag in niche.hashtags:
                tags.setdefault(hashtag_key(tag), set()).add(index)
            for label in niche.categories:
                categories.setdefault(_category_key(label), set()).add(index)
        freeze = lambda d: {k: tuple(sorted(v)) for k, v in d.items() if k}  # noqa: E731
        # token -> (the listed term it stands for, niches); plural forms point at the singular
        self._words = _with_plurals({k: (k, v) for k, v in freeze(words_index).items()})
        self._phrases: dict[tuple[str, ...], tuple[tuple[str, ...], tuple[int, ...]]] = {}
        for tokens, niches in freeze(phrases).items():
            for last in _plurals(tokens[-1]):
                self._phrases.setdefault((*tokens[:-1], last), (tokens, niches))
        for tokens, niches in freeze(phrases).items():
            self._phrases[tokens] = (tokens, niches)
        self._tags = {k: v for k, (_, v) in _with_plurals(
            {k: (k, v) for k, v in freeze(tags).items()}).items()}
        self._categories = freeze(categories)
        first: dict[str, set[int]] = {}
        for tokens in self._phrases:
            first.setdefault(tokens[0], set()).add(len(tokens))
        self._phrase_lengths = {k: tuple(sorted(v, reverse=True)) for k, v in first.items()}
        self._word_keys = frozenset(self._words)
        self._phrase_starts = frozenset(self._phrase_lengths)
        self._phrase_heads = frozenset(tokens[:2] for tokens in self._phrases)
        self._fillers = frozenset(hashtag_key(f) for f in taxonomy.fillers) - {""}
        vocabulary = set(self._words) | set(self._tags) | set(self._fillers)
        vocabulary |= {token for tokens in self._phrases for token in tokens}
        self._vocabulary = frozenset(vocabulary | {v + "s" for v in vocabulary if len(v) > 2})
        self._tag_cache = functools.lru_cache(maxsize=cache_size)(self._lookup_tag)

    # --- public API --------------------------------------------------------------------------

    def score(self, bio: str | None = None, category: str | None = None,
              hashtags: Iterable[str] = (), texts: Iterable[str | None] = (), *,
              n_posts: int | None = None) -> dict[str, float]:
        """Niche -> score in 0..1 for the niches with any evidence, in taxonomy order.

        ``hashtags`` are the posts' hashtags (with or without "#"; one entry per post that uses
        it); ``texts`` the posts' texts. Hashtags and links inside texts are not scored as words:
        pass the hashtags in ``hashtags`` (:meth:`score_profile` and :meth:`score_text` do).

        Post evidence is damped by the number of posts ``n`` (``n_posts``, default the number
        of texts): each post match counts as ``1 - (1 - weight) ** (1 / sqrt(n))``. One post
        counts in full; with 12 posts a niche needs to recur (a hashtag in one post of twelve
        stays under the bar, the same hashtag in four clears it), so one off-topic post does not
        tag a profile.
        """
        return self._score(bio, category, hashtags, texts, n_posts=n_posts)

    def _score(self, bio: str | None, category: str | None, hashtags: Iterable[str],
               texts: Iterable[str | None], *, n_posts: int | None,
               without_hashtags: bool = False) -> dict[str, float]:
        """:meth:`score`; ``without_hashtags``: each text had its hashtags replaced by " "
        already (:func:`_split_hashtags`, as :meth:`score_profile` does)."""
        w = self.weights
        acc = _Acc(len(self.ids))
        post_texts: list[str] = [t for t in texts if t]
        n = max(1, n_posts if n_posts is not None else len(post_texts))
        damp = 1.0 / math.sqrt(n)
        if category and category.strip():
            exact = self._categories.get(_category_key(category))
            if exact:
                acc.add(exact, w["category"])
            else:
                keywords, phrases = self._match_words(words(category))
                for niches in (*keywords.values(), *phrases.values()):
                    acc.add(niches, w["category_term"])
        if bio:
            bio_tags, bio_text = _split_hashtags(bio)
            for tag in bio_tags:
                self._add_tag(acc, tag, w["bio_hashtag"])
            self._add_words(acc, _strip_urls(bio_text), w["bio_keyword"], w["bio_phrase"])
        for tag in hashtags:
            if tag:
                self._add_tag(acc, tag, w["post_hashtag"], damp)
        keyword, phrase = w["post_keyword"], w["post_phrase"]
        for text in post_texts:
            text = _strip_urls(text if without_hashtags else _split_hashtags(text)[1])
            self._add_words(acc, text, keyword, phrase, damp)
        return {self.ids[i]: 1.0 - miss for i, miss in enumerate(acc.miss) if miss < 1.0}

    def score_text(self, text: str | None) -> dict[str, float]:
        """Scores for one post (or any short text): its hashtags count as post hashtags."""
        if not text:
            return {}
        return self.score(hashtags=_unique_tags([], text), texts=[text], n_posts=1)

    def score_profile(self, item: ProfileItem) -> dict[str, float]:
        """Scores for a profile: bio, category, and each recent post's hashtags and text."""
        tags: list[str] = []
        texts: list[str] = []
        for post in item.recent_posts or ():
            if isinstance(post, Mapping):
                text, post_tags = post.get("text"), post.get("hashtags")
            else:
                text, post_tags = getattr(post, "text", None), getattr(post, "hashtags", None)
            written: list[str] = []
            if isinstance(text, str) and text:
                written, text = _split_hashtags(text)
                texts.append(text)
            tags.extend(_unique_tags_of(written, post_tags if isinstance(post_tags, list | tuple) else []))
        bio = item.bio if isinstance(item.bio, str) else None
        category = item.category if isinstance(item.category, str) else None
        return self._score(bio, category, tags, texts, n_posts=len(item.recent_posts or ()),
                           without_hashtags=True)

    def primary(self, scores: Mapping[str, float], threshold: float | None = None) -> str | None:
        return primary(scores, self.threshold if threshold is None else threshold)

    def above(self, scores: Mapping[str, float], threshold: float | None = None) -> list[str]:
        """The niches whose score clears the bar (the multi-label prediction), best first."""
        bar = self.threshold if threshold is None else threshold
        bar -= _EPSILON
        return [n for n, s in sorted(scores.items(), key=lambda kv: -kv[1]) if s >= bar]

    # --- matching ----------------------------------------------------------------------------

    def _add_text(self, acc: _Acc, text: str, keyword_weight: float, phrase_weight: float,
                  damp: float = 1.0) -> None:
        self._add_words(acc, strip_hashtags_and_urls(text), keyword_weight, phrase_weight, damp)

    def _add_words(self, acc: _Acc, text: str, keyword_weight: float, phrase_weight: float,
                   damp: float = 1.0) -> None:
        """:meth:`_add_text` for text without its hashtags and links."""
        keywords, phrases = self._match_words(words(text))
        for niches in keywords.values():
            acc.add(niches, keyword_weight, damp)
        for niches in phrases.values():
            acc.add(niches, phrase_weight, damp)

    def _add_tag(self, acc: _Acc, tag: str, weight: float, damp: float = 1.0) -> None:
        niches, compound = self._tag_cache(tag)
        if niches:
            acc.add(niches, weight * self.weights["compound_factor"] if compound else weight, damp)

    def _match_words(self, tokens: list[str]) -> tuple[dict[str, tuple[int, ...]],
                                                       dict[tuple[str, ...], tuple[int, ...]]]:
        """Distinct keyword and phrase matches among ``tokens`` (folded words), by listed term."""
        unique = set(tokens)
        keywords: dict[str, tuple[int, ...]] = {}
        for token in unique & self._word_keys:
            term, niches = self._words[token]
            keywords[term] = niches
        phrases: dict[tuple[str, ...], tuple[int, ...]] = {}
        if len(tokens) > 1 and not self._phrase_heads.isdisjoint(itertools.pairwise(tokens)):
            size = len(tokens)
            for i, token in enumerate(tokens):
                if token not in self._phrase_starts:
                    continue
                for length in self._phrase_lengths[token]:
                    if i + length <= size:
                        hit = self._phrases.get(tuple(tokens[i:i + length]))
                        if hit is not None:
                            phrases[hit[0]] = hit[1]
                            break
        return keywords, phrases

    def _lookup_tag(self, tag: str) -> tuple[tuple[int, ...], bool]:
        """(niches, matched only as a compound) for one hashtag; cached per distinct tag."""
        key = hashtag_key(tag)
        if not key:
            return (), False
        niches = self._tag(key)
        if niches:
            return niches, False
        bare = _TRAILING_DIGITS.sub("", key)  # worldcup2022, covid19 (listed), ps5 (listed)
        if bare != key and len(bare) > 2:
            niches = self._tag(bare)
            if niches:
                return niches, False
        # CamelCase written in the text splits for free; otherwise split on known words.
        raw = tag.lstrip("#＃")
        parts = words(CAMEL.sub(" ", raw)) if raw.isascii() and not raw.islower() else []
        if len(parts) < 2:
            parts = self._segment(bare if len(bare) > 2 else key) or []
        if len(parts) < 2:
            return (), False
        keywords, phrases = self._match_words(parts)
        found: set[int] = set()
        for part in parts:
            hit = self._tags.get(part)
            if hit and part not in self._fillers:
                found.update(hit)
        for hit in (*keywords.values(), *phrases.values()):
            found.update(hit)
        return tuple(sorted(found)), True

    def _tag(self, key: str) -> tuple[int, ...] | None:
        return self._tags.get(key)

    def _segment(self, key: str) -> list[str] | None:
        """Split a run-together hashtag into known words with the fewest pieces, or None.

        Pieces of one or two letters must be fillers ("my", "de"); a three-letter niche word
        ("cat", "car", "art") must start the tag or follow a filler, so "carpet" is not car + pet
        while "catlover" and "ilovemydog" split.
        """
        n = len(key)
        if n > _MAX_COMPOUND_LEN or n < 4:
            return None
        vocabulary = self._vocabulary
        best: list[tuple[int, int] | None] = [None] * (n + 1)  # (pieces, start of last piece)
        best[0] = (0, 0)
        for end in range(1, n + 1):
            for start in range(max(0, end - _MAX_SEGMENT_LEN), end):
                previous = best[start]
                if previous is None or previous[0] >= _MAX_SEGMENTS:
                    continue
                if key[start:end] in vocabulary:
                    candidate = (previous[0] + 1, start)
                    current = best[end]
                    if current is None or candidate[0] < current[0]:
                        best[end] = candidate
        last = best[n]
        if last is None or last[0] < 2:
            return None
        pieces: list[str] = []
        end = n
        while end > 0:
            step = best[end]
            assert step is not None  # every end on the path was reached
            start = step[1]
            pieces.append(key[start:end])
            end = start
        pieces.reverse()
        fillers = self._fillers
        for i, piece in enumerate(pieces):
            if piece in fillers:
                continue
            if len(piece) <= 2:
                return None
            if len(piece) == 3 and i > 0 and pieces[i - 1] not in fillers:
                return None
        return pieces


def _plurals(word: str) -> tuple[str, ...]:
    """The word and the plural forms it is also matched in (English, Spanish, Portuguese, French).

    -s for every word of three letters or more; -es after s, x, z, ch, sh, and after a final
    consonant of a word of five letters or more (entrenador -> entrenadores, cancion ->
    canciones; short words would collide: car -> cares); consonant + y -> -ies.
    """
    forms = [word]
    if len(word) < 3 or not word.isalpha():
        return tuple(forms)
    if word[-1] != "s":
        forms.append(word + "s")
    last = word[-1]
    if word.endswith(("s", "x", "z", "ch", "sh")) or (len(word) >= 5 and last in "rlndz"):
        forms.append(word + "es")
    if last == "y" and word[-2] not in "aeiou":
        forms.append(word[:-1] + "ies")
    return tuple(forms)


def _with_plurals(index: dict[str, tuple[str, tuple[int, ...]]]) -> dict[str, tuple[str, tuple[int, ...]]]:
    """``index`` plus plural forms of its keys; a listed term always wins over a generated form."""
    out: dict[str, tuple[str, tuple[int, ...]]] = {}
    for key, value in index.items():
        for form in _plurals(key)[1:]:
            out.setdefault(form, value)
    out.update(index)
    return out


def _category_key(label: str) -> str:
    return _SPACES.sub(" ", fold(label)).strip()


def _unique_tags(tags: Iterable[Any], text: str | None) -> list[str]:
    """A post's hashtags, once each: the item's list plus any written in its text.

    The text's spelling wins (it keeps CamelCase, which splits "#NBAFinals" for free).
    """
    return _unique_tags_of(hashtags_in(text), tags)


def _unique_tags_of(written: Iterable[str], tags: Iterable[Any]) -> list[str]:
    """:func:`_unique_tags` with the hashtags written in the text already found."""
    seen: dict[str, str] = {}
    for tag in written:
        seen.setdefault(hashtag_key(tag), tag)
    for tag in tags:
        if isinstance(tag, str):
            seen.setdefault(hashtag_key(tag), tag)
    return [tag for key, tag in seen.items() if key]


def primary(scores: Mapping[str, float], threshold: float = DEFAULT_THRESHOLD) -> str | None:
    """The best-scoring niche, or None when no score reaches ``threshold``.

    Ties go to the niche listed first (taxonomy order, as :meth:`TaxonomyTagger.score` returns).
    """
    best, best_score = None, -1.0
    for niche, score in scores.items():
        if score > best_score:
            best, best_score = niche, score
    return best if best is not None and best_score >= threshold - _EPSILON else None


class NichePipeline:
    """Sets ``niches`` (score > 0, rounded) and ``primary_niche`` on every ProfileItem.

    Settings: MICROSCOUT_TAXONOMY (file; default the shipped taxonomy), MICROSCOUT_NICHE_MODEL
    (optional model file, loaded once at open), MICROSCOUT_NICHE_MODEL_WEIGHT (blend weight of
    the model, 0..1, default 0.5), MICROSCOUT_NICHE_EMBEDDINGS (default on: blend in the
    zero-shot embedding scores when the ``embeddings`` extra is installed). Stats:
    ``microscout/niche/tagged`` (a primary niche was set), ``microscout/niche/untagged``,
    ``microscout/niche/embedded`` (profiles scored with embeddings) and
    ``microscout/niche/embedding_failed``.
    """

    def __init__(self, stats, tagger: TaxonomyTagger, model_path: str | None = None,
                 model_weight: float = DEFAULT_MODEL_WEIGHT, embeddings: bool = True) -> None:
        if not 0 <= model_weight <= 1:
            raise ValueError(f"MICROSCOUT_NICHE_MODEL_WEIGHT must be from 0 to 1, not {model_weight}")
        self.stats = stats
        self.tagger = tagger
        self.model_path = model_path
        self.model_weight = model_weight
        self.model: NicheModel | None = None
        self.embeddings = embeddings
        self.zero_shot: ZeroShot | None = None
        self._batch: list[tuple[ProfileItem, Any]] = []
        self._flush_scheduled = False
        self._opened = False

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        taxonomy = Taxonomy.load(settings.get("MICROSCOUT_TAXONOMY") or DEFAULT_TAXONOMY_PATH)
        return cls(
            crawler.stats,
            TaxonomyTagger(taxonomy),
            model_path=settings.get("MICROSCOUT_NICHE_MODEL") or None,
            model_weight=settings.getfloat("MICROSCOUT_NICHE_MODEL_WEIGHT", DEFAULT_MODEL_WEIGHT),
            embeddings=settings.getbool("MICROSCOUT_NICHE_EMBEDDINGS", True),
        )

    def open_spider(self) -> None:
        self._opened = True
        if self.model_path and self.model is None:
            from pipelines.niche_model import load  # scikit-learn only when a model is used

            self.model = load(self.model_path)
            logger.info("niche model %s loaded (labels: %s), blend weight %.2f",
                        self.model_path, ", ".join(self.model.labels), self.model_weight)
        if self.embeddings and self.zero_shot is None:
            self.zero_shot = zero_shot_or_none(self.tagger.taxonomy)
            if self.zero_shot is not None:
                _ = self.zero_shot.prototypes  # built once, before the first item waits on them
                logger.info("niche tagging: taxonomy + sentence embeddings (weight %.2f)",
                            self.zero_shot.settings.weight)
        elif not self.embeddings:
            logger.info("niche tagging: taxonomy only (MICROSCOUT_NICHE_EMBEDDINGS is off)")

    def scores(self, item: ProfileItem, embedded: Mapping[str, float] | None = None,
               vector: Any = None) -> dict[str, float]:
        """Taxonomy, blended with the embedding scores ``embedded`` and then the model, if any.
        ``vector``: the profile text's embedding, for a model that reads embeddings."""
        scores = self.tagger.score_profile(item)
        if self.zero_shot is not None and embedded is not None:
            scores = self.zero_shot.combine(scores, embedded)
        if self.model is not None and self.model_weight > 0:
            text = profile_text(item)[:MODEL_TEXT_LIMIT]
            if text:
                model_scores = self.model.niche_scores(text, bar=self.tagger.threshold,
                                                       niches=self.tagger.ids, vector=vector)
                scores = blend(scores, model_scores, self.model_weight, order=self.tagger.ids)
        return scores

    @property
    def _embeds(self) -> bool:
        return self.zero_shot is not None or bool(self.model is not None and self.model.embeddings)

    def process_item(self, item):
        if not isinstance(item, ProfileItem):
            return item
        if self._embeds:
            return self._queue(item)
        return self._tag(item, self.scores(item))

    def process_item_now(self, item):
        """``process_item`` without a reactor (``microscout parse``): embeddings in this thread."""
        if not self._opened:
            self.open_spider()
        if not isinstance(item, ProfileItem):
            return item
        if not self._embeds:
            return self._tag(item, self.scores(item))
        (scores,) = self._score_batch([item])
        if isinstance(scores, Exception):
            raise scores
        return self._tag(item, scores)

    # Embeddings are computed off the reactor, in batches: the items that reach the pipeline
    # in one reactor turn (up to EMBED_BATCH) share one encoder call in a worker thread.
    def _queue(self, item: ProfileItem):
        from twisted.internet import reactor
        from twisted.internet.defer import Deferred

        waiting: Deferred = Deferred()
        self._batch.append((item, waiting))
        if len(self._batch) >= EMBED_BATCH:
            self._flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            reactor.callLater(0, self._flush)  # type: ignore[attr-defined,arg-type]
        return waiting

    def _flush(self) -> None:
        from twisted.internet import threads

        self._flush_scheduled = False
        batch, self._batch = self._batch, []
        if not batch:
            return
        done = threads.deferToThread(self._score_batch, [item for item, _ in batch])

        def tag(results):
            for (item, waiting), scores in zip(batch, results, strict=True):
                if isinstance(scores, Exception):  # one bad item never takes the others down
                    waiting.errback(scores)
                else:
                    waiting.callback(self._tag(item, scores))
        done.addCallback(tag)

    def _score_batch(self, items: list[ProfileItem]) -> list[dict[str, float] | Exception]:
        """Scores of a batch (in a worker thread): one encoder call for all their texts."""
        texts = [profile_text(item) for item in items]
        rows: list[dict[str, float] | None] = [None] * len(items)
        vectors: Any = [None] * len(items)
        try:
            vectors = encode(texts, self.zero_shot.encoder if self.zero_shot else None)
            if self.zero_shot is not None:
                rows = list(self.zero_shot.score_vectors(vectors))
            self.stats.inc_value("microscout/niche/embedded", len(texts))
        except Exception:  # the taxonomy (and a TF-IDF model) still tag these profiles
            logger.exception("niche embeddings failed for %d profiles; scoring without them", len(texts))
            self.stats.inc_value("microscout/niche/embedding_failed", len(texts))
            vectors = [None] * len(items)
        out: list[dict[str, float] | Exception] = []
        for item, row, vector in zip(items, rows, vectors, strict=True):
            if vector is not None:  # kept for lookalikes (profile_vectors)
                item.text_vector = pack_vector(vector)
            try:
                out.append(self.scores(item, row, vector))
            except Exception as exc:
                out.append(exc)
        return out

    def _tag(self, item: ProfileItem, scores: Mapping[str, float]) -> ProfileItem:
        item.niches = {n: r for n, s in scores.items() if (r := round(s, SCORE_DIGITS)) > 0}
        item.primary_niche = self.tagger.primary(scores)
        self.stats.inc_value("microscout/niche/tagged" if item.primary_niche else "microscout/niche/untagged")
        return item


def profile_text(item: ProfileItem) -> str:
    """Everything a text model reads for a profile: bio, category, post texts and hashtags."""
    parts = [item.bio, item.category]
    for post in item.recent_posts or ():
        get = post.get if isinstance(post, Mapping) else lambda name, p=post: getattr(p, name, None)
        text = get("text") if isinstance(get("text"), str) else None
        tags = get("hashtags")
        written = {hashtag_key(t) for t in hashtags_in(text)}
        extra = [f"#{t}" for t in (tags if isinstance(tags, list | tuple) else ())
                 if isinstance(t, str) and hashtag_key(t) not in written]
        parts += [text, " ".join(extra)]
    return "\n".join(p for p in parts if isinstance(p, str) and p)
