"""Every metric against scikit-learn's reference, on seeded random data."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn import metrics as skm

from emotune.evaluation import metrics as M


def _data(n_classes: int, n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    logits = rng.normal(size=(n, n_classes))
    logits[np.arange(n), y] += 1.0  # better than chance, not perfect
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y.astype(np.int64), proba.astype(np.float32), proba.argmax(axis=1)


@pytest.fixture(params=[2, 3], ids=["binary", "3-class"])
def data(request):
    return _data(request.param)


def test_label_metrics_match_sklearn(data):
    y, _, pred = data
    assert M.accuracy(y, pred) == pytest.approx(skm.accuracy_score(y, pred))
    assert M.weighted_accuracy(y, pred) == pytest.approx(skm.accuracy_score(y, pred))
    assert M.macro_f1(y, pred) == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert M.unweighted_accuracy(y, pred) == pytest.approx(skm.recall_score(y, pred, average="macro"))
    assert M.unweighted_accuracy(y, pred) == pytest.approx(skm.balanced_accuracy_score(y, pred))


def test_ua_is_balanced_accuracy_over_true_classes():
    """A predicted class that is never true adds no zero recall (macro recall over labels gives 0.5)."""
    y, pred = np.array([0, 0, 1, 1]), np.array([0, 2, 1, 1])
    assert M.unweighted_accuracy(y, pred) == pytest.approx(0.75)
    assert M.unweighted_accuracy(y, pred) == pytest.approx(skm.balanced_accuracy_score(y, pred))
    proba = np.eye(3)[pred]
    assert M.classification_metrics(y, proba, ["a", "b", "c"])["unweighted_accuracy"] == pytest.approx(0.75)


def test_roc_auc_matches_sklearn(data):
    y, proba, _ = data
    if proba.shape[1] == 2:
        expected = skm.roc_auc_score(y, proba[:, 1])
    else:
        expected = skm.roc_auc_score(y, proba, multi_class="ovr", average="macro")
    assert M.roc_auc_ovr(y, proba) == pytest.approx(expected)
    assert 0.5 < M.roc_auc_ovr(y, proba) <= 1.0


def test_roc_auc_accepts_unnormalised_scores():
    y, proba, _ = _data(3)
    logits = np.log(proba) + 5.0  # rows no longer sum to 1; ranks per column unchanged
    assert M.roc_auc_ovr(y, logits) == pytest.approx(M.roc_auc_ovr(y, proba))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_roc_auc_missing_class_is_nan_without_error(n_classes, recwarn):
    y, proba, _ = _data(n_classes)
    y = np.where(y == n_classes - 1, 0, y)  # the last class never occurs
    assert math.isnan(M.roc_auc_ovr(y, proba))
    assert len(recwarn) == 0


def test_per_class_and_confusion_match_sklearn(data):
    y, proba, pred = data
    labels = [f"c{k}" for k in range(proba.shape[1])]
    prec, rec, f1, sup = skm.precision_recall_fscore_support(y, pred, labels=list(range(len(labels))))
    out = M.per_class(y, pred, labels)
    assert list(out) == labels
    for k, name in enumerate(labels):
        assert out[name]["precision"] == pytest.approx(prec[k])
        assert out[name]["recall"] == pytest.approx(rec[k])
        assert out[name]["f1"] == pytest.approx(f1[k])
        assert out[name]["support"] == sup[k]
    assert M.confusion(y, pred, labels) == skm.confusion_matrix(y, pred).tolist()


def test_per_class_keeps_absent_classes_at_zero():
    y = np.array([0, 0, 1, 1])
    pred = np.array([0, 1, 1, 1])
    out = M.per_class(y, pred, ["a", "b", "c"])
    assert out["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert M.confusion(y, pred, ["a", "b", "c"]) == [[1, 1, 0], [0, 2, 0], [0, 0, 0]]


def test_classification_metrics_keys_values_and_json(data):
    y, proba, pred = data
    labels = [f"c{k}" for k in range(proba.shape[1])]
    out = M.classification_metrics(y, proba, labels)
    assert set(out) == {
        "accuracy",
        "macro_f1",
        "unweighted_accuracy",
        "weighted_accuracy",
        "roc_auc",
        "per_class",
        "confusion_matrix",
    }
    assert out["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert out["macro_f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert out["roc_auc"] == pytest.approx(M.roc_auc_ovr(y, proba))
    assert out["confusion_matrix"] == skm.confusion_matrix(y, pred).tolist()
    text = json.dumps(out, allow_nan=False)
    assert json.loads(text) == out


def test_classification_metrics_rejects_label_count_mismatch():
    y, proba, _ = _data(3)
    with pytest.raises(ValueError, match="labels"):
        M.classification_metrics(y, proba, ["a", "b"])


def test_fitness_registry_uses_argmax(data):
    y, proba, pred = data
    assert set(M.FITNESS) == {"accuracy", "macro_f1", "unweighted_accuracy", "roc_auc"}
    assert M.FITNESS["accuracy"](y, proba) == pytest.approx(skm.accuracy_score(y, pred))
    assert M.FITNESS["macro_f1"](y, proba) == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert M.FITNESS["unweighted_accuracy"](y, proba) == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert M.FITNESS["roc_auc"](y, proba) == pytest.approx(M.roc_auc_ovr(y, proba))
    with pytest.raises(TypeError):
        M.FITNESS["new"] = M.roc_auc_ovr  # read-only


def test_aggregate_mean_and_std():
    folds = [
        {"accuracy": 0.5, "roc_auc": 0.7, "per_class": {}, "confusion_matrix": [[1]]},
        {"accuracy": 0.7, "roc_auc": float("nan")},
        {"accuracy": 0.9, "roc_auc": 0.9},
    ]
    out = M.aggregate(folds)
    assert set(out) == {"accuracy", "roc_auc"}
    assert out["accuracy"]["mean"] == pytest.approx(0.7)
    assert out["accuracy"]["std"] == pytest.approx(np.std([0.5, 0.7, 0.9]))
    assert out["accuracy"]["n"] == 3
    assert out["roc_auc"]["mean"] == pytest.approx(0.8)  # nan left out
    assert out["roc_auc"]["n"] == 2
    assert M.aggregate(folds, ddof=1)["accuracy"]["std"] == pytest.approx(np.std([0.5, 0.7, 0.9], ddof=1))


def test_aggregate_real_metric_dicts():
    runs = [M.classification_metrics(*_data(3, seed=s)[:2], ["a", "b", "c"]) for s in range(3)]
    out = M.aggregate(runs)
    assert list(out) == ["accuracy", "macro_f1", "unweighted_accuracy", "weighted_accuracy", "roc_auc"]
    assert out["macro_f1"]["mean"] == pytest.approx(np.mean([r["macro_f1"] for r in runs]))
    assert out["macro_f1"]["std"] == pytest.approx(np.std([r["macro_f1"] for r in runs]))


def test_aggregate_empty_is_an_error():
    with pytest.raises(ValueError, match="at least one"):
        M.aggregate([])


def test_shape_errors_name_the_argument():
    with pytest.raises(ValueError, match="y_pred"):
        M.accuracy(np.zeros(3, int), np.zeros((3, 1), int))
    with pytest.raises(ValueError, match="proba"):
        M.roc_auc_ovr(np.zeros(3, int), np.zeros(3))
