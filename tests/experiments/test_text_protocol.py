"""The text protocol of bench/text.py's full runs: outer stratified k-fold, the MPNet reference row, and the
trial pruner on per-epoch reports of a text trainer."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emotune.experiments.config import TuneConfig
from emotune.experiments.tune import _baselines, run_tune

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("text-protocol-cache"))


def _config(tmp_path, cache_dir, **kw):
    base = dict(dataset="tweets", limit=300, features="minilm_pooled", max_len=128, model="mlp",
                optimizer="random", trials=2, epochs=4, patience=2, out=str(tmp_path / "run"),
                cache_dir=cache_dir, progress=False, references=["tfidf_logreg"])
    base.update(kw)
    return TuneConfig(**base)


@pytest.mark.slow
def test_outer_stratified_kfold_tests_every_sentence_once(tmp_path, cache_dir):
    result = run_tune(_config(tmp_path, cache_dir, outer_cv="sample:3", trials=1, limit=200))
    split = json.loads((tmp_path / "run" / "split.json").read_text())["parts"]
    tests = [split[f"fold_{k}_test"] for k in range(1, 4)]
    every = [i for t in tests for i in t]
    assert len(every) == len(set(every)) == result["data"]["n_test"]  # disjoint, and all pooled
    assert result["data"]["split_summary"] is not None
    assert len(result["folds"]) == 3 and result["fold_metrics"]["accuracy"]["n"] == 3
    accs = [f["test_metrics"]["accuracy"] for f in result["folds"]]
    assert result["fold_metrics"]["accuracy"]["mean"] == pytest.approx(np.mean(accs))
    for k in range(1, 4):  # each fold's search never saw its test sentences
        part = json.loads((tmp_path / "run" / f"fold_{k}" / "split.json").read_text())["parts"]
        assert not set(part["train"] + part["val"]) & set(part["test"])
        assert sorted(part["test"]) == sorted(tests[k - 1])


class _Inputs:
    """Sentence vectors per encoder: MiniLM's are noise, MPNet's separate the classes."""

    def __init__(self, y):
        rng = np.random.default_rng(0)
        self.vectors = {"minilm": rng.normal(size=(len(y), 4)),
                        "mpnet": np.c_[y * 4.0 - 2.0, rng.normal(size=(len(y), 3))]}
        self.asked = []

    def sentence_vectors(self, max_len=128, encoder="minilm"):
        self.asked.append(encoder)
        return self.vectors[encoder]


class _Dataset:
    def __init__(self, n):
        self.texts = [f"text number {i}" for i in range(n)]


def test_mpnet_reference_row_uses_the_mpnet_vectors():
    y = np.array([0, 1] * 40)
    inputs = _Inputs(y)
    config = TuneConfig(references=["tfidf_logreg", "minilm_logreg", "mpnet_logreg"], progress=False)
    rows = _baselines(config, _Dataset(len(y)), inputs, y, np.arange(60), np.arange(60, 80), ["neg", "pos"])
    assert [r["name"] for r in rows] == ["tfidf_logreg", "minilm_logreg", "mpnet_logreg"]
    assert inputs.asked == ["minilm", "mpnet"]
    assert rows[2]["accuracy"] == 1.0 and rows[1]["accuracy"] < 0.9
    assert [r["name"] for r in _baselines(TuneConfig(references=["tfidf_logreg"]), _Dataset(len(y)), inputs, y,
                                          np.arange(60), np.arange(60, 80), ["neg", "pos"])] == ["tfidf_logreg"]


def test_a_model_on_mpnet_vectors_is_judged_against_mpnet_logreg_too():
    y = np.array([0, 1] * 40)
    for features, expected in (("mpnet_pooled", ["tfidf_logreg", "minilm_logreg", "mpnet_logreg"]),
                               ("minilm_pooled", ["tfidf_logreg", "minilm_logreg"])):
        config = TuneConfig(task="text", features=features, progress=False)
        rows = _baselines(config, _Dataset(len(y)), _Inputs(y), y, np.arange(60), np.arange(60, 80), ["neg", "pos"])
        assert [r["name"] for r in rows] == expected


def test_unknown_reference_is_a_config_error():
    with pytest.raises(ValueError, match="references must be among"):
        TuneConfig(references=["bert_logreg"])


@pytest.mark.slow
def test_halving_pruner_stops_text_trials_at_a_rung(tmp_path, cache_dir):
    """`emotune tune --pruner halving` on a trainer reporting per epoch: some trials stop at rung 1 or 3."""
    result = run_tune(_config(tmp_path, cache_dir, pruner="halving", trials=8, epochs=9, patience=9,
                              fixed_params={"batch_size": 64}))
    assert result["trials"]["pruned"] >= 1 and result["trials"]["complete"] >= 1
    with open(tmp_path / "run" / "trials.csv") as fh:
        import csv

        rows = list(csv.DictReader(fh))
    assert {r["state"] for r in rows} >= {"pruned", "complete"}
