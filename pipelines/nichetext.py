"""Text helpers shared by the taxonomy tagger (``niche.py``) and the trained model
(``niche_model.py``): folding, the hashtag and URL patterns, and how model and taxonomy scores
are put on one scale and blended. Neither of those modules imports the other for them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

DEFAULT_MODEL_WEIGHT = 0.3
COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
#: A hashtag inside text: "#" (or the full-width "＃") not preceded by a word character or "&"
#: (so "C#", "&#39;" and URL fragments are not hashtags).
HASHTAG = re.compile(r"(?<![\w&/])[#＃]([^\W_][\w]*)")
CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])")


def fold(text: str) -> str:
    """Case-, accent- and compatibility-folded text: the form every term is matched in.

    ``fold("Entraînement") == fold("ENTRAINEMENT") == "entrainement"``; ``"ß"`` becomes ``"ss"``,
    full-width and mathematical letters become plain ones. ASCII text takes a fast path.
    """
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return unicodedata.normalize("NFC", COMBINING.sub("", decomposed))


def align(probability: float, decision_threshold: float, bar: float) -> float:
    """Rescale a model probability so its decision threshold maps onto ``bar`` (piecewise linear).

    0 stays 0, ``decision_threshold`` becomes ``bar``, 1 stays 1: a model "yes" and a taxonomy
    "yes" then mean the same score and can be averaged.
    """
    p = min(1.0, max(0.0, float(probability)))
    t = min(1.0 - 1e-9, max(1e-9, float(decision_threshold)))
    if p <= t:
        return bar * p / t
    return bar + (1.0 - bar) * (p - t) / (1.0 - t)


def blend(taxonomy_scores: Mapping[str, float], model_scores: Mapping[str, float],
          weight: float = DEFAULT_MODEL_WEIGHT, order: Iterable[str] | None = None) -> dict[str, float]:
    """``weight * model + (1 - weight) * taxonomy`` for the niches the model scores.

    ``model_scores`` holds every niche the model knows (aligned, see :func:`align`), zeros
    included; other niches keep their taxonomy score. Niches scoring 0 are left out.
    """
    names = list(order) if order is not None else list(dict.fromkeys([*taxonomy_scores, *model_scores]))
    out = {}
    for niche in names:
        score = taxonomy_scores.get(niche, 0.0)
        if niche in model_scores:
            score = weight * model_scores[niche] + (1.0 - weight) * score
        if score > 0:
            out[niche] = score
    return out
