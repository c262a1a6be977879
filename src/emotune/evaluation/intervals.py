"""Paired bootstrap intervals for the difference of a metric between two classifiers.

The report's verdict ("the tuned model beats the best reference") must not rest
on a point difference that test-set noise could produce. :func:`paired_bootstrap`
resamples the *test units* with replacement, the same resample for both
classifiers (paired), and returns the percentile interval of
``metric(a) - metric(b)``. The units are the test samples, or, when ``groups``
is given (speakers, subjects), whole groups: every sample of a drawn group
enters the resample, so the interval reflects speaker-to-speaker variation and
not only utterance-to-utterance noise (Field & Welsh 2007, cluster bootstrap).

A resample is a vector of multiplicities (how often each sample was drawn), so
every metric is computed from weighted per-class counts for a whole block of
resamples at once, without a Python loop over resamples.

"beats" is claimed only when the interval lies entirely above zero
(:attr:`DiffInterval.verdict`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from emotune.exceptions import ConfigError, DatasetError

__all__ = ["DiffInterval", "paired_bootstrap", "compare_with_best", "METRICS"]


def _counts(w: np.ndarray, y: np.ndarray, p: np.ndarray, n_classes: int) -> tuple[np.ndarray, ...]:
    """Weighted per-class true positives, true totals and predicted totals.

    Args:
        w: float ``(B, n)`` multiplicity of each sample in each of ``B`` resamples.
        y, p: int ``(n,)`` true and predicted class indices.

    Returns:
        ``tp, true, pred``: float ``(B, C)`` each.
    """
    onehot_y = np.eye(n_classes, dtype=w.dtype)[y]  # (n, C)
    onehot_p = np.eye(n_classes, dtype=w.dtype)[p]
    return w @ (onehot_y * onehot_p), w @ onehot_y, w @ onehot_p


def _accuracy(w, y, p, n_classes):
    return (w @ (y == p).astype(w.dtype)) / w.sum(axis=1)


def _macro_f1(w, y, p, n_classes):
    tp, true, pred = _counts(w, y, p, n_classes)
    denom = true + pred
    f1 = np.where(denom > 0, 2 * tp / np.where(denom > 0, denom, 1), 0.0)
    present = denom > 0  # scikit-learn: labels present in y_true or y_pred
    return f1.sum(axis=1) / np.maximum(present.sum(axis=1), 1)


def _unweighted_accuracy(w, y, p, n_classes):
    tp, true, _ = _counts(w, y, p, n_classes)
    present = true > 0  # balanced accuracy: classes present in y_true
    recall = np.where(present, tp / np.where(present, true, 1), 0.0)
    return recall.sum(axis=1) / np.maximum(present.sum(axis=1), 1)


METRICS: Mapping[str, Callable[..., np.ndarray]] = {
    "accuracy": _accuracy,
    "weighted_accuracy": _accuracy,
    "macro_f1": _macro_f1,
    "unweighted_accuracy": _unweighted_accuracy,
}
"""Metric name -> ``f(w (B, n), y (n,), pred (n,), C) -> (B,)`` on weighted resamples.
With ``w`` all ones these equal :mod:`emotune.evaluation.metrics` (tested)."""


@dataclass(frozen=True)
class DiffInterval:
    """``metric(a) - metric(b)`` on the test set, with its bootstrap interval.

    Attributes:
        metric: metric name (a key of :data:`METRICS`).
        difference: the point difference on the full test set (fraction, not points).
        low, high: the percentile interval's bounds.
        level: the interval's coverage, e.g. 0.95.
        n_boot: number of resamples.
        unit: ``"samples"`` or ``"groups"``: what was resampled.
        n_units: how many of them the test set holds.
    """

    metric: str
    difference: float
    low: float
    high: float
    level: float
    n_boot: int
    unit: str
    n_units: int

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    @property
    def verdict(self) -> str:
        """``"beats"`` (interval above 0), ``"is worse than"`` (below 0) or ``"is not distinguishable from"``."""
        if self.low > 0:
            return "beats"
        if self.high < 0:
            return "is worse than"
        return "is not distinguishable from"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "excludes_zero": self.excludes_zero, "verdict": self.verdict}


def _labels(pred: np.ndarray, n: int, name: str) -> np.ndarray:
    pred = np.asarray(pred)
    if pred.ndim == 2:
        pred = pred.argmax(axis=1)
    if pred.ndim != 1 or pred.shape[0] != n:
        raise DatasetError(f"{name} must be class indices (n,) or scores (n, C) with n = {n}, got shape {pred.shape}")
    return pred.astype(np.int64)


def _weights(rng: np.random.Generator, block: int, n: int, group_ids: np.ndarray | None, n_groups: int) -> np.ndarray:
    """Multiplicities ``(block, n)`` of ``block`` resamples of samples or of whole groups."""
    if group_ids is None:
        draws = rng.integers(0, n, size=(block, n))
        return np.stack([np.bincount(d, minlength=n) for d in draws]).astype(np.float64)
    draws = rng.integers(0, n_groups, size=(block, n_groups))
    per_group = np.stack([np.bincount(d, minlength=n_groups) for d in draws]).astype(np.float64)
    return per_group[:, group_ids]


def paired_bootstrap(
    y_true: np.ndarray,
    pred_a: np.ndarray,
    pred_b: np.ndarray,
    *,
    metric: str = "accuracy",
    groups: Sequence[Any] | np.ndarray | None = None,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> DiffInterval:
    """Percentile bootstrap interval of ``metric(a) - metric(b)``, resampling samples or groups.

    Args:
        y_true: int ``(n,)`` true class indices.
        pred_a, pred_b: int ``(n,)`` predicted classes, or float ``(n, C)`` scores (argmax taken).
        metric: ``accuracy``, ``macro_f1``, ``unweighted_accuracy`` or ``weighted_accuracy``.
        groups: ``(n,)`` group of each sample (speaker, subject); when given, whole groups
            are resampled (needs at least 2 groups). ``None``: samples are resampled.
        n_boot: number of resamples (>= 100).
        level: coverage in (0, 1).
        seed: seeds the resampling; the same seed gives the same interval.

    Returns:
        A :class:`DiffInterval`; ``difference`` is on the full test set, in fractions.
    """
    if metric not in METRICS:
        raise ConfigError(f"metric must be one of {sorted(METRICS)}, got {metric!r}")
    if not 0.0 < level < 1.0:
        raise ConfigError(f"level must be in (0, 1), got {level}")
    if int(n_boot) < 100:
        raise ConfigError(f"n_boot must be >= 100, got {n_boot}")
    y = np.asarray(y_true).astype(np.int64)
    if y.ndim != 1 or y.size == 0:
        raise DatasetError(f"y_true must be a non-empty int array (n,), got shape {y.shape}")
    n = y.shape[0]
    a, b = _labels(pred_a, n, "pred_a"), _labels(pred_b, n, "pred_b")
    n_classes = int(max(y.max(), a.max(), b.max())) + 1
    group_ids, n_groups = None, n
    if groups is not None:
        g = np.asarray(groups)
        if g.shape != (n,):
            raise DatasetError(f"groups must have shape ({n},), got {g.shape}")
        _, group_ids = np.unique(g, return_inverse=True)
        n_groups = int(group_ids.max()) + 1
        if n_groups < 2:
            raise DatasetError(f"a bootstrap over groups needs at least 2 groups in the test set, got {n_groups}")
    fn = METRICS[metric]
    ones = np.ones((1, n))
    point = float(fn(ones, y, a, n_classes)[0] - fn(ones, y, b, n_classes)[0])
    rng = np.random.default_rng(seed)
    diffs = []
    block = max(1, min(int(n_boot), 2_000_000 // max(n, 1)))
    for start in range(0, int(n_boot), block):
        w = _weights(rng, min(block, int(n_boot) - start), n, group_ids, n_groups)
        keep = w.sum(axis=1) > 0
        w = w[keep]
        diffs.append(fn(w, y, a, n_classes) - fn(w, y, b, n_classes))
    d = np.concatenate(diffs)
    alpha = (1.0 - level) / 2
    low, high = np.quantile(d, [alpha, 1.0 - alpha])
    return DiffInterval(
        metric=metric, difference=point, low=float(low), high=float(high), level=float(level), n_boot=int(n_boot),
        unit="groups" if group_ids is not None else "samples", n_units=int(n_groups),
    )


def compare_with_best(
    y_true: np.ndarray,
    pred: np.ndarray,
    references: Mapping[str, np.ndarray],
    *,
    metric: str = "accuracy",
    groups: Sequence[Any] | np.ndarray | None = None,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """The interval of ``pred`` against the reference that scores best on ``metric``.

    Args:
        y_true: int ``(n,)``.
        pred: the model's classes ``(n,)`` or scores ``(n, C)``.
        references: reference name -> classes ``(n,)`` or scores ``(n, C)`` on the same samples.
        metric, groups, n_boot, level, seed: as in :func:`paired_bootstrap`.

    Returns:
        ``{"reference": name, "reference_score": float, **DiffInterval.to_dict()}``.
    """
    if not references:
        raise ConfigError("compare_with_best needs at least one reference row, got none")
    if metric not in METRICS:
        raise ConfigError(f"metric must be one of {sorted(METRICS)}, got {metric!r}")
    y = np.asarray(y_true).astype(np.int64)
    ones = np.ones((1, y.shape[0]))
    n_classes = int(y.max()) + 1
    scores = {}
    for name, ref in references.items():
        labels = _labels(ref, y.shape[0], f"reference {name!r}")
        scores[name] = float(METRICS[metric](ones, y, labels, max(n_classes, int(labels.max()) + 1))[0])
    best = max(scores, key=lambda k: scores[k])
    interval = paired_bootstrap(y, pred, references[best], metric=metric, groups=groups, n_boot=n_boot,
                                level=level, seed=seed)
    return {"reference": best, "reference_score": scores[best], **interval.to_dict()}
