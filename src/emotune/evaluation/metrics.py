"""Classification metrics: pure functions over NumPy arrays, thin wrappers over scikit-learn.

Conventions shared by every function here:

* ``y_true`` and ``y_pred`` are integer class indices, shape ``(n,)``;
  ``proba`` is ``(n, C)`` class scores (probabilities from
  :func:`emotune.training.trainer.predict_proba`), column ``k`` for class ``k``.
* Macro averages follow scikit-learn's rule: they run over the labels present in
  ``y_true`` or ``y_pred``; an undefined ratio (no predicted or no true samples
  of a class) counts as 0 (``zero_division=0``), without a warning.
* Every returned value is a plain Python ``float``/``int``/``list``/``dict`` so a
  metrics dict can go straight to ``json.dump``.

Speech emotion recognition reports two accuracies (e.g. the IEMOCAP
literature): *weighted accuracy* (WA), the plain accuracy, every utterance
weighted equally; and *unweighted accuracy* (UA), the mean of the per-class
recalls, every class weighted equally (sklearn's balanced accuracy).
"""

from __future__ import annotations

import math
import warnings
from types import MappingProxyType
from typing import Callable, Mapping, Sequence

import numpy as np
from sklearn import metrics as skm

__all__ = [
    "accuracy",
    "macro_f1",
    "unweighted_accuracy",
    "weighted_accuracy",
    "roc_auc_ovr",
    "per_class",
    "confusion",
    "classification_metrics",
    "aggregate",
    "FITNESS",
    "SCALAR_KEYS",
]

SCALAR_KEYS = ("accuracy", "macro_f1", "unweighted_accuracy", "weighted_accuracy", "roc_auc")
"""The scalar keys of :func:`classification_metrics`, in order."""


def _labels_1d(y: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D class indices of shape (n,), got shape {arr.shape}")
    return arr


def _pair(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = _labels_1d(y_true, "y_true")
    p = _labels_1d(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred must have the same length, got {t.shape[0]} and {p.shape[0]}")
    return t, p


def _proba(y_true: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = _labels_1d(y_true, "y_true")
    s = np.asarray(proba, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] < 2:
        raise ValueError(f"proba must have shape (n, C) with C >= 2, got shape {s.shape}")
    if s.shape[0] != t.shape[0]:
        raise ValueError(f"y_true and proba must have the same number of rows, got {t.shape[0]} and {s.shape[0]}")
    if t.size and (t.min() < 0 or t.max() >= s.shape[1]):
        raise ValueError(f"y_true must hold class indices in [0, {s.shape[1] - 1}], got range [{t.min()}, {t.max()}]")
    return t, s


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of correct predictions.

    Args:
        y_true: int array ``(n,)``, true class indices.
        y_pred: int array ``(n,)``, predicted class indices.
    """
    t, p = _pair(y_true, y_pred)
    return float(skm.accuracy_score(t, p))


def weighted_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """WA as the speech literature uses it: plain accuracy (each sample weighs the same).

    Args:
        y_true: int array ``(n,)``, true class indices.
        y_pred: int array ``(n,)``, predicted class indices.
    """
    return accuracy(y_true, y_pred)


def unweighted_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """UA: the mean recall over the classes present in ``y_true`` (sklearn's ``balanced_accuracy_score``).

    Only true classes count: a class that is predicted but never true adds no
    zero recall (``y = [0,0,1,1]``, ``pred = [0,2,1,1]`` gives 0.75, where
    ``recall_score(average="macro")`` would give 0.5).

    Args:
        y_true: int array ``(n,)``, true class indices.
        y_pred: int array ``(n,)``, predicted class indices.
    """
    t, p = _pair(y_true, y_pred)
    classes = np.unique(t)
    return float(np.mean([np.mean(p[t == c] == c) for c in classes]))


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Unweighted mean of the per-class F1 scores.

    Args:
        y_true: int array ``(n,)``, true class indices.
        y_pred: int array ``(n,)``, predicted class indices.
    """
    t, p = _pair(y_true, y_pred)
    return float(skm.f1_score(t, p, average="macro", zero_division=0))


def roc_auc_ovr(y_true: np.ndarray, proba: np.ndarray) -> float:
    """Area under the ROC curve, one-vs-rest, macro-averaged over the ``C`` columns.

    Binary (``C == 2``): the AUC of the positive class column ``proba[:, 1]``.
    ``C > 2``: the mean over classes ``k`` of the AUC of ``y_true == k`` scored by
    ``proba[:, k]``; this equals ``roc_auc_score(multi_class="ovr",
    average="macro")`` but does not require rows summing to 1 (logits work too).

    Args:
        y_true: int array ``(n,)``, class indices in ``[0, C)``.
        proba: float array ``(n, C)``, class scores.

    Returns:
        The AUC in [0, 1], or ``nan`` (no error, no warning) when any of the ``C``
        classes is absent from ``y_true``, since its AUC is undefined.
    """
    t, s = _proba(y_true, proba)
    n_classes = s.shape[1]
    if np.unique(t).size < n_classes:
        return math.nan
    if n_classes == 2:
        return float(skm.roc_auc_score(t, s[:, 1]))
    return float(np.mean([skm.roc_auc_score(t == k, s[:, k]) for k in range(n_classes)]))


def per_class(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support of every class, keyed by label name.

    Args:
        y_true: int array ``(n,)``, class indices in ``[0, len(labels))``.
        y_pred: int array ``(n,)``, predicted class indices.
        labels: class names; ``labels[k]`` names class index ``k``.

    Returns:
        ``{name: {"precision", "recall", "f1", "support"}}`` in label order;
        ``support`` is an int, undefined ratios are 0.
    """
    t, p = _pair(y_true, y_pred)
    idx = list(range(len(labels)))
    prec, rec, f1, sup = skm.precision_recall_fscore_support(t, p, labels=idx, average=None, zero_division=0)
    return {
        str(name): {
            "precision": float(prec[k]),
            "recall": float(rec[k]),
            "f1": float(f1[k]),
            "support": int(sup[k]),
        }
        for k, name in enumerate(labels)
    }


def confusion(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]) -> list[list[int]]:
    """Confusion matrix in label order, as nested lists.

    Args:
        y_true: int array ``(n,)``, class indices in ``[0, len(labels))``.
        y_pred: int array ``(n,)``, predicted class indices.
        labels: class names; ``labels[k]`` names class index ``k`` and row/column ``k``.

    Returns:
        ``C x C`` ints; ``matrix[i][j]`` counts samples of true class ``labels[i]``
        predicted as ``labels[j]`` (rows true, columns predicted). Classes that
        never occur keep their (zero) row and column.
    """
    t, p = _pair(y_true, y_pred)
    mat = skm.confusion_matrix(t, p, labels=list(range(len(labels))))
    return mat.astype(int).tolist()


def classification_metrics(y_true: np.ndarray, proba: np.ndarray, labels: Sequence[str]) -> dict:
    """Every metric of a classifier's predictions, as one JSON-serialisable dict.

    Args:
        y_true: int64 array ``(n,)``, class indices in ``[0, C)``.
        proba: float array ``(n, C)``, class probabilities; the prediction is the
            argmax of each row.
        labels: ``C`` class names, ``labels[k]`` for column ``k``.

    Returns:
        Keys ``accuracy``, ``macro_f1``, ``unweighted_accuracy``,
        ``weighted_accuracy``, ``roc_auc`` (floats; ``roc_auc`` may be ``nan``),
        ``per_class`` (see :func:`per_class`) and ``confusion_matrix`` (nested
        lists, rows true and columns predicted in ``labels`` order, see
        :func:`confusion`).
    """
    t, s = _proba(y_true, proba)
    if s.shape[1] != len(labels):
        raise ValueError(f"proba has {s.shape[1]} columns but labels names {len(labels)} classes")
    pred = s.argmax(axis=1)
    return {
        "accuracy": accuracy(t, pred),
        "macro_f1": macro_f1(t, pred),
        "unweighted_accuracy": unweighted_accuracy(t, pred),
        "weighted_accuracy": weighted_accuracy(t, pred),
        "roc_auc": roc_auc_ovr(t, s),
        "per_class": per_class(t, pred, labels),
        "confusion_matrix": confusion(t, pred, labels),
    }


def aggregate(results: Sequence[Mapping[str, object]], *, ddof: int = 0) -> dict[str, dict[str, float]]:
    """Mean and standard deviation of every scalar metric over folds or seeds.

    Args:
        results: metric dicts (e.g. from :func:`classification_metrics`); only
            their top-level int/float values are aggregated (``per_class`` and
            ``confusion_matrix`` are skipped, bools too).
        ddof: delta degrees of freedom of the std; 0 (population std, NumPy's
            default) or 1 (sample std).

    Returns:
        ``{key: {"mean": float, "std": float, "n": int}}`` in first-seen key order.
        ``nan`` values (e.g. an undefined ``roc_auc`` on one fold) are left out
        of the mean and std; ``n`` counts the values used. A key that is ``nan``
        everywhere gets ``nan`` mean and std.
    """
    if len(results) == 0:
        raise ValueError("aggregate needs at least one metrics dict, got an empty sequence")
    values: dict[str, list[float]] = {}
    for res in results:
        for key, val in res.items():
            if isinstance(val, (int, float, np.integer, np.floating)) and not isinstance(val, (bool, np.bool_)):
                values.setdefault(key, []).append(float(val))
    out: dict[str, dict[str, float]] = {}
    for key, vals in values.items():
        arr = np.asarray(vals, dtype=np.float64)
        arr = arr[~np.isnan(arr)]
        if arr.size == 0:
            out[key] = {"mean": math.nan, "std": math.nan, "n": 0}
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # std with ddof >= n
            std = float(np.std(arr, ddof=ddof)) if arr.size > ddof else math.nan
        out[key] = {"mean": float(np.mean(arr)), "std": std, "n": int(arr.size)}
    return out


def _argmax_metric(fn: Callable[[np.ndarray, np.ndarray], float]) -> Callable[[np.ndarray, np.ndarray], float]:
    def fitness(y_true: np.ndarray, proba: np.ndarray) -> float:
        t, s = _proba(y_true, proba)
        return fn(t, s.argmax(axis=1))

    fitness.__name__ = fn.__name__
    fitness.__doc__ = f"{fn.__name__} of the row-wise argmax of ``proba`` ``(n, C)``."
    return fitness


FITNESS: Mapping[str, Callable[[np.ndarray, np.ndarray], float]] = MappingProxyType({
    "accuracy": _argmax_metric(accuracy),
    "macro_f1": _argmax_metric(macro_f1),
    "unweighted_accuracy": _argmax_metric(unweighted_accuracy),
    "roc_auc": roc_auc_ovr,
})
"""Fitness functions ``f(y_true (n,), proba (n, C)) -> float``, higher is better.

``roc_auc`` may return ``nan`` (a class absent from ``y_true``); callers treat
``nan`` as the worst value.
"""
