"""Model inputs of audio clips from a bundle's feature settings: extract, pool, pad and normalise.

The one definition of how a speech model's inputs are rebuilt for new clips,
shared by training (:mod:`emotune.experiments.speech_inputs`, which also keeps
these names importable) and serving (:mod:`emotune.serving.predictor`), so a
bundle predicts with exactly the features it was evaluated with.

``features_meta`` is the ``features`` entry of a speech bundle::

    {"extractor": {"name": "mfcc", "params": {...}}, "level": "frames" | "clip",
     "sr": 16000, "max_seconds": 8.0, "frame_pool": 1, "max_frames": 801,
     "normalize": "global" | "speaker" | "none", "enrol_min_clips": 5 | None,
     "mean": [...], "std": [...]}
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from emotune.features.frames import normalize_features, pad_frames, pool_frames

__all__ = ["SPEECH_SR", "speech_features", "clip_inputs", "bundle_features"]

SPEECH_SR = 16000
"""Sample rate (Hz) every clip is resampled to before feature extraction."""


def speech_features(
    paths: Sequence[str],
    features: str,
    *,
    cache: Any = None,
    workers: int = 2,
    on_error: str = "raise",
    max_seconds: float | None = None,
    progress: bool = False,
    params: Mapping[str, Any] | None = None,
    counts: dict[str, int] | None = None,
) -> tuple[list[np.ndarray | None], list[tuple[str, str]]]:
    """Features of the clips at ``paths`` at :data:`SPEECH_SR`, cut to ``max_seconds`` (cached).

    A thin call of :func:`~emotune.features.extraction.extract_features` with the
    settings every speech run uses; returns its ``(features, errors)``: one
    float array per path (``None`` where it failed under ``on_error="skip"``)
    and ``(path, reason)`` pairs.
    """
    from emotune.features.audio_extractors import make_audio_extractor
    from emotune.features.extraction import extract_features

    extractor = make_audio_extractor(features, **dict(params or {}))
    load_kwargs = {} if max_seconds is None else {"max_seconds": float(max_seconds)}
    return extract_features(
        paths, extractor, sr=SPEECH_SR, cache=cache, workers=workers, on_error=on_error,  # type: ignore[arg-type]
        progress=progress, load_kwargs=load_kwargs, counts=counts,
    )


def clip_inputs(
    features_meta: Mapping[str, Any], feats: Sequence[np.ndarray], groups: Sequence[str | None] | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Model inputs from the extractor's raw outputs, exactly as in training.

    Args:
        features_meta: the ``features`` entry of a speech bundle.
        feats: one raw array per clip, float ``(T_i, F)`` frames or ``(F,)`` vectors.
        groups: the speaker of each clip (``None`` or ``""`` where unknown), or
            ``None``. With ``normalize="speaker"`` the enrolment rule of
            :func:`~emotune.features.normalization.enrol_normalize` applies to
            these clips as one set: a speaker with at least the bundle's
            ``enrol_min_clips`` clips here is normalised by their own
            statistics, every other clip by the saved training statistics.

    Returns:
        ``x`` float32 ``(n, T, F)`` frames with ``mask`` bool ``(n, T)`` (``T``
        the longest clip, at most ``max_frames``), or ``(n, F)`` vectors and ``None``.
    """
    meta = dict(features_meta)
    x, mask = _raw_inputs(meta, feats)
    kind = meta.get("normalize", "global")
    if kind == "none":
        return x, mask
    mean, std = np.asarray(meta.get("mean")), np.asarray(meta.get("std"))
    if kind == "speaker":
        from emotune.features.normalization import ENROL_MIN_CLIPS, enrol_normalize

        min_clips = int(meta.get("enrol_min_clips") or ENROL_MIN_CLIPS)
        x, _ = enrol_normalize(x, mask, groups, mean=mean, std=std, min_clips=min_clips)
        return x, mask
    return normalize_features(x, mask, mean, std), mask


def _raw_inputs(meta: Mapping[str, Any], feats: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
    if meta.get("level") == "clip":
        return np.stack([np.asarray(f, np.float32) for f in feats]), None
    return pad_frames([pool_frames(f, int(meta.get("frame_pool", 1))) for f in feats], meta.get("max_frames"))


def bundle_features(
    features_meta: Mapping[str, Any], paths: Sequence[str], speakers: Sequence[str | None] | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Model inputs for new audio files, rebuilt exactly as in training (see :func:`clip_inputs`).

    Args:
        speakers: the speaker of each file, for the enrolment rule of ``normalize="speaker"``.

    Raises:
        FeatureError: a file cannot be read or featurised (the message names it).
    """
    ext = dict(features_meta)["extractor"]
    feats, _ = speech_features(
        [str(p) for p in paths], ext["name"], params=ext.get("params") or {}, workers=1, on_error="raise",
        max_seconds=features_meta.get("max_seconds"), progress=False,
    )
    return clip_inputs(features_meta, feats, speakers)  # type: ignore[arg-type]
