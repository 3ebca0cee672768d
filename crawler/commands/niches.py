"""``microscout niches train|evaluate``: train the niche model; measure it and the taxonomy.

    microscout niches train FILE --out MODEL [--label-map MAP]
    microscout niches evaluate FILE [--model MODEL] [--label-map MAP] [--cv K]

FILE holds JSON lines ``{"text": ..., "labels": [...]}``. Without a label map the labels are
our niche ids; with one (``{"niche_to_topic": {...}, "scored_topics": [...]}``) a predicted
niche counts as its mapped label. ``evaluate`` always scores the taxonomy alone; ``--model``
adds a trained model and its blend with the taxonomy (what the pipeline does), ``--cv K`` a
K-fold cross-validated model trained on FILE itself and its blend.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from crawler.commands.common import fail, project_settings, say

ALGORITHMS = ("auto", "logreg", "svm")  # pipelines.niche_model.ALGORITHMS, without importing numpy


def _folds(value: str) -> int:
    try:
        k = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"K must be a whole number, not {value!r}") from None
    if k < 2:
        raise argparse.ArgumentTypeError(f"K must be at least 2, not {k}")
    return k


def _weight(value: str) -> float:
    try:
        w = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0 <= w <= 1:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, not {w}")
    return w


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "niches", help="train the niche model; measure it and the taxonomy on labelled posts",
        description="Train a TF-IDF niche classifier on labelled posts, or measure per-niche "
                    "precision, recall and F1 (and macro F1) of the taxonomy and a model.")
    commands = parser.add_subparsers(dest="niches_command", required=True, metavar="COMMAND")

    train = commands.add_parser(
        "train", help="train a model on JSON-lines records and save it",
        description="Train the niche classifier on FILE (JSON lines {\"text\", \"labels\"}) and "
                    "save it to MODEL; point MICROSCOUT_NICHE_MODEL at it to blend it in.")
    train.add_argument("file", type=Path, metavar="FILE")
    train.add_argument("--out", required=True, type=Path, metavar="MODEL", help="model file to write")
    train.add_argument("--label-map", type=Path, metavar="MAP",
                       help="JSON mapping our niche ids to FILE's labels (niche_to_topic.json)")
    train.add_argument("--algorithm", choices=ALGORITHMS, default="auto",
                       help="linear SVM, logistic regression, or auto: best cross-validated "
                            "macro F1 (default)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--no-embeddings", action="store_true",
                       help="TF-IDF features only (default: the sentence embeddings too, when installed)")
    train.set_defaults(func=run_train)

    evaluate = commands.add_parser(
        "evaluate", help="per-niche precision/recall/F1 of the taxonomy, a model, or K-fold CV",
        description="Score the taxonomy alone on FILE; with --model also a trained model and its "
                    "blend with the taxonomy; with --cv K also a model trained and tested on FILE "
                    "by K-fold cross-validation.")
    evaluate.add_argument("file", type=Path, metavar="FILE")
    evaluate.add_argument("--model", type=Path, metavar="MODEL", help="a model from `niches train`")
    evaluate.add_argument("--label-map", type=Path, metavar="MAP",
                          help="JSON mapping our niche ids to FILE's labels (niche_to_topic.json)")
    evaluate.add_argument("--cv", type=_folds, metavar="K", help="K-fold cross-validate a model on FILE")
    evaluate.add_argument("--taxonomy", type=Path, metavar="PATH",
                          help="taxonomy JSON (default: MICROSCOUT_TAXONOMY)")
    evaluate.add_argument("--blend-weight", type=_weight, metavar="W",
                          help="model weight in the blend (default: MICROSCOUT_NICHE_MODEL_WEIGHT, 0.3)")
    evaluate.add_argument("--algorithm", choices=ALGORITHMS, default="auto", help="for --cv")
    evaluate.add_argument("--taxonomy-only", action="store_true",
                          help="leave the sentence embeddings out of the default scorer")
    evaluate.add_argument("--seed", type=int, default=0, help="fold shuffling for --cv")
    evaluate.add_argument("--no-embeddings", action="store_true",
                          help="--cv: train TF-IDF-only models (default: sentence embeddings too)")
    evaluate.set_defaults(func=run_evaluate)
    return parser


def _tagger(path: Path | None):
    from pipelines.niche import DEFAULT_TAXONOMY_PATH, Taxonomy, TaxonomyTagger

    if path is None:
        path = project_settings().get("MICROSCOUT_TAXONOMY") or DEFAULT_TAXONOMY_PATH
    return TaxonomyTagger(Taxonomy.load(path))


def _embeddings(args: argparse.Namespace) -> bool:
    """Sentence-embedding features: on when the extra is installed, unless --no-embeddings."""
    from pipelines.niche_model import embeddings_available

    if args.no_embeddings:
        return False
    if embeddings_available():
        return True
    say("warning: the embeddings extra is not installed; the model reads TF-IDF features only")
    return False


def run_train(args: argparse.Namespace) -> int:
    from pipelines.niche import TaxonomyError
    from pipelines.niche_model import LabelMap, NicheModelError, RecordError, read_records, save, train

    try:
        records = read_records(args.file)
        label_map = LabelMap.load(args.label_map) if args.label_map else None
        if not records:
            return fail(f"{args.file}: no records")
        if label_map is None:
            known = set(_tagger(None).ids)
            strangers = sorted({x for r in records for x in r.labels} - known)
            if strangers:
                say(f"warning: labels that are not niche ids of the taxonomy ({', '.join(strangers[:8])}"
                    f"{', ...' if len(strangers) > 8 else ''}); the pipeline ignores them. "
                    "Pass --label-map to map niches onto them.")
        started = time.monotonic()
        embeddings = _embeddings(args)
        say(f"training on {len(records)} records from {args.file} ({args.algorithm}, "
            f"{'TF-IDF + sentence embeddings' if embeddings else 'TF-IDF'})")
        model = train(records, label_map=label_map, algorithm=args.algorithm, seed=args.seed, progress=say,
                      embeddings=embeddings)
        path = save(model, args.out)
    except (RecordError, NicheModelError, TaxonomyError, ValueError) as exc:
        return fail(str(exc))
    except OSError as exc:
        return fail(f"{args.out}: cannot write model: {exc.strerror or exc}")
    meta = model.meta
    print(f"trained {meta['algorithm']} C={meta['C']:g} on {meta['records']} records, "
          f"{len(model.labels)} labels, {meta['features']} features; out-of-fold macro F1 "
          f"{meta['oof_macro_f1']:.3f} (optimistic: the same folds tuned the thresholds)")
    print(f"saved {path} ({path.stat().st_size / 1e6:.1f} MB) in {time.monotonic() - started:.0f} s")
    print("use it: MICROSCOUT_NICHE_MODEL=" + str(path))
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from pipelines.niche import TaxonomyError
    from pipelines.niche_model import (
        LabelMap,
        NicheModelError,
        RecordError,
        cross_validate,
        evaluate,
        format_reports,
        load,
        read_records,
    )
    from pipelines.nicheembed import encode, zero_shot_or_none
    from pipelines.nichetext import DEFAULT_MODEL_WEIGHT, blend

    weight = args.blend_weight
    try:
        records = read_records(args.file)
        if not records:
            return fail(f"{args.file}: no records")
        label_map = LabelMap.load(args.label_map) if args.label_map else None
        tagger = _tagger(args.taxonomy)
        model = load(args.model) if args.model else None
        if weight is None:
            weight = project_settings().getfloat("MICROSCOUT_NICHE_MODEL_WEIGHT", DEFAULT_MODEL_WEIGHT)
        say(f"scoring the taxonomy on {len(records)} records from {args.file}")
        taxonomy_scores = [tagger.score_text(r.text) for r in records]
        reports = [evaluate(records, lambda texts: [tagger.above(s) for s in taxonomy_scores],
                            label_map, batch=True, name="taxonomy")]
        labels = list(reports[0].scores)  # the same label set for every column
        pinned = None if label_map else labels
        summary = [f"taxonomy {reports[0].macro_f1:.3f}"]
        zero_shot = None if args.taxonomy_only else zero_shot_or_none(tagger.taxonomy)
        if zero_shot is not None:
            say(f"scoring sentence embeddings on {len(records)} records")
            embedded = [row for i in range(0, len(records), 256)
                        for row in zero_shot.score_texts([r.text for r in records[i:i + 256]])]
            taxonomy_scores = [zero_shot.combine(t, e)
                               for t, e in zip(taxonomy_scores, embedded, strict=True)]
            reports.append(evaluate(records, lambda texts: [tagger.above(s) for s in taxonomy_scores],
                                    label_map, labels=pinned, batch=True, name="default"))
            summary.append(f"default (taxonomy + embeddings) {reports[-1].macro_f1:.3f}")
        if model is not None:
            name = Path(args.model).name
            if model.embeddings:
                say(f"embedding {len(records)} records for the model")
            vectors = encode([r.text for r in records]) if model.embeddings else None
            reports.append(evaluate(records, lambda texts: model.predict(texts, vectors), label_map,
                                    labels=pinned, batch=True, name=f"model {name}"))
            blended = [tagger.above(blend(s, model.niche_scores(
                r.text, bar=tagger.threshold, niches=tagger.ids,
                vector=None if vectors is None else vectors[i]), weight, order=tagger.ids))
                for i, (r, s) in enumerate(zip(records, taxonomy_scores, strict=True))]
            reports.append(evaluate(records, lambda texts: blended, label_map, labels=pinned,
                                    batch=True, name=f"blend w={weight:g}"))
            summary += [f"model {reports[-2].macro_f1:.3f}", f"blend w={weight:g} {reports[-1].macro_f1:.3f}"]
        if args.cv:
            started = time.monotonic()
            cv = cross_validate(records, args.cv, label_map=label_map, seed=args.seed, tagger=tagger,
                                blend_weight=weight, progress=say, algorithm=args.algorithm,
                                labels=pinned, base_scores=taxonomy_scores,
                                embeddings=_embeddings(args))
            say(f"{args.cv}-fold cross-validation done in {time.monotonic() - started:.0f} s "
                f"({', '.join(cv.chosen)})")
            reports.append(cv.model)
            if cv.blend is not None:
                reports.append(cv.blend)
            mean, sd = cv.spread(cv.fold_macro_f1)
            bmean, bsd = cv.spread(cv.blend_fold_macro_f1)
            summary += [f"model ({args.cv}-fold CV) {cv.model.macro_f1:.3f} (folds {mean:.3f} ± {sd:.3f})",
                        f"blend w={weight:g} (CV) {reports[-1].macro_f1:.3f} (folds {bmean:.3f} ± {bsd:.3f})"]
    except (RecordError, NicheModelError, TaxonomyError, ValueError) as exc:
        return fail(str(exc))
    print(format_reports(reports))
    print()
    print("macro F1: " + " | ".join(summary))
    ignored = reports[0].ignored_predictions
    if label_map is not None and ignored:
        print(f"({ignored} taxonomy predictions were niches the label map does not score)")
    sys.stdout.flush()
    return 0
