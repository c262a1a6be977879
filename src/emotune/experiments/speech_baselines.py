"""Reference rows of a speech run: what a user builds with scikit-learn on the same clips.

:func:`speech_baselines` fits classical models on the run's own split (the same
clips, cut to the same ``max_seconds``), so every tuned model is reported next to

* ``egemaps_svm`` / ``egemaps_logreg``: the 88 eGeMAPS functionals, the
  standard baseline of speech emotion recognition, standardised on the training
  clips (the first is the run's ``baseline_metrics``);
* ``<features>_logreg``: the run's own features with logistic regression, when
  they are not eGeMAPS (clip vectors as they are; frame features pooled to the
  mean and standard deviation of each clip's real frames);
* with ``normalize: speaker``, each of those rows again with the model's own
  speaker-enrolment normalisation (suffix ``+enrol``), so the verdict compares
  like with like: the gain of the normalisation is in the reference too.
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np

from emotune.experiments.speech_inputs import SpeechInputs, _audio_paths, speech_features

__all__ = ["speech_baselines", "own_vectors"]


def speech_baselines(
    config: Any,
    dataset: Any,
    inputs: SpeechInputs,
    y: np.ndarray,
    dev_idx: np.ndarray,
    test_idx: np.ndarray,
    labels: Sequence[str],
) -> list[dict[str, Any]]:
    """Reference rows on the run's split (see the module docstring), fit on ``dev_idx``, scored on ``test_idx``.

    A clip whose eGeMAPS functionals fail (rare: openSMILE on a clip librosa
    could read) gets the training mean and is counted in the row's
    ``n_imputed``. The eGeMAPS rows are skipped with a warning when no training
    clip has functionals (e.g. openSMILE is not installed).

    Returns:
        ``[{"name": ..., **metrics, "_proba": (n_test, C)}, ...]``, metrics from
        :func:`~emotune.evaluation.metrics.classification_metrics`, ``egemaps_svm``
        first; ``_proba`` is dropped before writing JSON.
    """
    rows: list[dict[str, Any]] = []
    egemaps = _egemaps_vectors(config, dataset, inputs, dev_idx, test_idx)
    enrol = inputs.normalize == "speaker"
    if egemaps is not None:
        x, n_imputed = egemaps
        for kind in ("svm", "logreg"):
            rows.append(_row(f"egemaps_{kind}", kind, x, config, inputs, y, dev_idx, test_idx, labels, False, n_imputed))
        if enrol:
            for kind in ("svm", "logreg"):
                rows.append(_row(f"egemaps_{kind}+enrol", kind, x, config, inputs, y, dev_idx, test_idx, labels, True,
                                 n_imputed))
    if inputs.extractor.name != "egemaps":
        x = own_vectors(inputs, np.concatenate([dev_idx, test_idx]))
        name = f"{inputs.extractor.name}{'' if not inputs.frames else '_meanstd'}_logreg"
        rows.append(_row(name, "logreg", x, config, inputs, y, dev_idx, test_idx, labels, False))
        if enrol:
            rows.append(_row(f"{name}+enrol", "logreg", x, config, inputs, y, dev_idx, test_idx, labels, True))
    return rows


def own_vectors(inputs: SpeechInputs, idx: np.ndarray) -> np.ndarray:
    """The run's own features of clips ``idx`` as vectors: clip vectors, or mean + std of the real frames.

    Returns:
        float32 ``(len(idx), F)`` or ``(len(idx), 2F)`` for frame features.
    """
    if not inputs.frames:
        return np.stack([np.asarray(inputs.features[i], np.float32) for i in idx])
    return np.stack([np.concatenate([f.mean(axis=0), f.std(axis=0)]).astype(np.float32)
                     for f in (np.asarray(inputs.features[i], np.float32) for i in idx)])


def _egemaps_vectors(config, dataset, inputs, dev_idx, test_idx) -> tuple[np.ndarray, int] | None:
    """eGeMAPS functionals of dev then test clips (failed clips imputed with the training mean), or ``None``."""
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
        warnings.warn("eGeMAPS reference rows skipped: no training clip has eGeMAPS functionals", stacklevel=3)
        return None
    dim = next(v for v in vecs if v is not None).shape[0]
    x = np.zeros((len(vecs), dim), np.float32)
    for i, v in enumerate(vecs):
        if v is not None:
            x[i] = v
    x[~ok] = x[:n_dev][ok[:n_dev]].mean(axis=0)
    return x, int((~ok[n_dev:]).sum())


def _row(name, kind, x, config, inputs, y, dev_idx, test_idx, labels, enrol, n_imputed=0) -> dict[str, Any]:
    """One reference row: ``x`` holds the dev clips' vectors then the test clips'."""
    from emotune.evaluation.baselines import vector_baseline
    from emotune.evaluation.metrics import classification_metrics

    n_dev = len(dev_idx)
    x_dev, x_test = x[:n_dev], x[n_dev:]
    if enrol:  # the model's own rule: each part a separate set, global training statistics as the fallback
        from emotune.features.frames import feature_stats
        from emotune.features.normalization import enrol_normalize

        mean, std = feature_stats(x_dev)
        rule = {"mean": mean, "std": std, "min_clips": inputs.enrol_min_clips}
        x_dev, _ = enrol_normalize(x_dev, None, inputs.groups[dev_idx], **rule)
        x_test, _ = enrol_normalize(x_test, None, inputs.groups[test_idx], **rule)
    y_dev = y[dev_idx]
    proba = _full_proba(vector_baseline(x_dev, y_dev, x_test, kind=kind, seed=config.seed), y_dev, len(labels))
    row = {"name": name, **classification_metrics(y[test_idx], proba, labels), "_proba": proba}
    if n_imputed:
        row["n_imputed"] = n_imputed
    return row


def _full_proba(proba: np.ndarray, y_fit: np.ndarray, n_classes: int) -> np.ndarray:
    """Columns for every class: scikit-learn gives columns only for the classes it saw when fitting."""
    seen = np.unique(y_fit)
    if len(seen) == n_classes:
        return proba
    out = np.zeros((proba.shape[0], n_classes), proba.dtype)
    out[:, seen] = proba
    return out
