"""Reference rows of a speech run: the 88 eGeMAPS functionals with an RBF SVM and with logistic regression.

:func:`speech_baselines` fits both classical models on the run's own split (the
same clips, cut to the same ``max_seconds``) so every tuned model is reported
next to the standard eGeMAPS baseline of speech emotion recognition.
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np

from emotune.experiments.speech_inputs import SpeechInputs, _audio_paths, speech_features

__all__ = ["speech_baselines"]


def speech_baselines(
    config: Any,
    dataset: Any,
    inputs: SpeechInputs,
    y: np.ndarray,
    dev_idx: np.ndarray,
    test_idx: np.ndarray,
    labels: Sequence[str],
) -> list[dict[str, Any]]:
    """Reference rows on the run's split: the 88 eGeMAPS functionals + RBF SVM and + logistic regression.

    Both are fit on ``dev_idx`` (train + validation) and scored on ``test_idx``,
    on the same clips cut to ``max_seconds``. A clip whose functionals fail
    (rare: openSMILE on a clip librosa could read) gets the training mean and is
    counted in the row's ``n_imputed``. Returns ``[]`` with a warning when no
    training clip has functionals (e.g. openSMILE is not installed).

    Returns:
        ``[{"name": "egemaps_svm", **metrics}, {"name": "egemaps_logreg", **metrics}]``,
        metrics from :func:`~emotune.evaluation.metrics.classification_metrics`; each row
        also carries its test probabilities under ``"_proba"`` (dropped before writing JSON).
    """
    from emotune.evaluation.baselines import vector_baseline
    from emotune.evaluation.metrics import classification_metrics

    needed = np.concatenate([dev_idx, test_idx])
    if inputs.extractor.name == "egemaps":
        vecs: list[np.ndarray | None] = [inputs.features[i] for i in needed]
    else:
        paths = _audio_paths(dataset)
        vecs, _ = speech_features(
            [paths[i] for i in needed], "egemaps", cache=inputs.cache, workers=config.workers, on_error="skip",
            max_seconds=config.max_seconds, progress=config.progress,
        )
    n_dev = len(dev_idx)
    ok = np.array([v is not None for v in vecs])
    if not ok[:n_dev].any():
        warnings.warn("eGeMAPS reference rows skipped: no training clip has eGeMAPS functionals", stacklevel=2)
        return []
    dim = next(v for v in vecs if v is not None).shape[0]
    x = np.zeros((len(vecs), dim), np.float32)
    for i, v in enumerate(vecs):
        if v is not None:
            x[i] = v
    x[~ok] = x[:n_dev][ok[:n_dev]].mean(axis=0)
    x_dev, y_dev = x[:n_dev][ok[:n_dev]], y[dev_idx][ok[:n_dev]]
    n_imputed = int((~ok[n_dev:]).sum())
    rows = []
    for kind in ("svm", "logreg"):
        proba = vector_baseline(x_dev, y_dev, x[n_dev:], kind=kind, seed=config.seed)
        full = _full_proba(proba, y_dev, len(labels))
        row = {"name": f"egemaps_{kind}", **classification_metrics(y[test_idx], full, labels), "_proba": full}
        if n_imputed:
            row["n_imputed"] = n_imputed
        rows.append(row)
    return rows


def _full_proba(proba: np.ndarray, y_fit: np.ndarray, n_classes: int) -> np.ndarray:
    """Columns for every class: scikit-learn gives columns only for the classes it saw when fitting."""
    seen = np.unique(y_fit)
    if len(seen) == n_classes:
        return proba
    out = np.zeros((proba.shape[0], n_classes), proba.dtype)
    out[:, seen] = proba
    return out
