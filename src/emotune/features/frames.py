"""Pure array helpers for frame sequences: pool, pad and mask clips of different lengths, and normalise features.

Frames are time before features: one clip is float ``(T, F)``, a batch float
``(n, T, F)`` with a bool ``(n, T)`` mask that is True at real frames; clip
vectors are ``(n, F)`` with no mask. Nothing here reads files or knows a
dataset; :class:`~emotune.experiments.speech_inputs.SpeechInputs` and the
predictor build model inputs from these functions.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from emotune.exceptions import DatasetError

__all__ = [
    "lengths_to_mask",
    "max_frames",
    "pool_frames",
    "pad_frames",
    "feature_stats",
    "normalize_features",
    "speaker_normalize",
]

_STD_FLOOR = 1e-8

# hop (samples between frame starts) of each frame-level extractor, from its params and the sample rate
_FRAME_HOP: dict[str, Callable[[Mapping[str, Any], int], int]] = {
    "mfcc": lambda p, sr: int(p["hop"]),
    "logmel": lambda p, sr: int(p["hop"]),
    "egemaps_lld": lambda p, sr: sr // 100,  # openSMILE eGeMAPS LLDs: 10 ms frames
    "whisper": lambda p, sr: 2 * 160,  # encoder frames: 20 ms at 16 kHz
}


def lengths_to_mask(lengths: np.ndarray, max_len: int) -> np.ndarray:
    """Bool mask ``(n, max_len)``, True at the first ``lengths[i]`` steps (at least one).

    Args:
        lengths: int ``(n,)``, real steps (frames or tokens) per sequence.
        max_len: steps of the mask.

    Returns:
        bool ``(n, max_len)``.
    """
    lengths = np.maximum(np.asarray(lengths, dtype=np.int64), 1)
    return np.arange(max_len)[None, :] < lengths[:, None]


def max_frames(extractor: Any, *, sr: int, max_seconds: float, frame_pool: int = 1) -> int | None:
    """The most frames a clip of ``max_seconds`` gives after pooling, or ``None`` for an unknown hop.

    ``ceil((1 + round(max_seconds * sr) // hop) / frame_pool)``: the count of
    centred frames (librosa's rule, an upper bound for openSMILE and Whisper).

    Args:
        extractor: a frame-level :class:`~emotune.features.audio_extractors.AudioExtractor`.
        sr: sample rate in Hz.
        max_seconds: longest clip in seconds.
        frame_pool: frames averaged into one.

    Returns:
        The frame count ``T`` (an int), or ``None`` for an extractor whose hop is not known here.
    """
    hop_fn = _FRAME_HOP.get(extractor.name)
    if hop_fn is None:
        return None
    frames = 1 + int(round(max_seconds * sr)) // hop_fn(extractor.params, sr)
    return int(math.ceil(frames / frame_pool))


def pool_frames(x: np.ndarray, pool: int) -> np.ndarray:
    """Average every ``pool`` consecutive frames into one.

    Args:
        x: float ``(T, F)`` frames.
        pool: frames per window, >= 1; the last window may be partial and is
            averaged over its real frames.

    Returns:
        float32 ``(ceil(T / pool), F)``.
    """
    x = np.asarray(x, dtype=np.float32)
    if pool == 1 or x.shape[0] == 0:
        return x
    t, f = x.shape
    n = -(-t // pool)
    padded = np.zeros((n * pool, f), np.float32)
    padded[:t] = x
    counts = np.minimum(pool, t - np.arange(n) * pool).astype(np.float32)
    return padded.reshape(n, pool, f).sum(axis=1) / counts[:, None]


def pad_frames(arrays: Sequence[np.ndarray], max_len: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Stack clips of different lengths, cropping each to ``max_len`` frames.

    Args:
        arrays: float ``(T_i, F)`` per clip, the same ``F``.
        max_len: frames kept per clip; ``None`` keeps all.

    Returns:
        ``x`` float32 ``(n, T, F)`` zero-padded, ``T`` the longest (cropped) clip,
        and ``mask`` bool ``(n, T)``, True at real frames (at least the first).
    """
    if not arrays:
        raise DatasetError("pad_frames needs at least one clip, got none")
    dims = {a.shape[1] for a in arrays}
    if len(dims) != 1:
        raise DatasetError(f"every clip must have the same features per frame, got {sorted(dims)}")
    lengths = np.array([a.shape[0] if max_len is None else min(a.shape[0], max_len) for a in arrays], np.int64)
    t = max(int(lengths.max()), 1)
    x = np.zeros((len(arrays), t, dims.pop()), np.float32)
    for i, (a, n) in enumerate(zip(arrays, lengths)):
        x[i, :n] = a[:n]
    return x, lengths_to_mask(lengths, t)


def feature_stats(x: np.ndarray, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of every feature.

    Args:
        x: float ``(n, T, F)`` frames with ``mask`` bool ``(n, T)`` (real frames
            only count), or float ``(n, F)`` vectors with ``mask=None``.

    Returns:
        ``mean`` and ``std``, float64 ``(F,)``; a std below ``1e-8`` is 1.
    """
    rows = x.reshape(-1, x.shape[-1]) if mask is None else x[mask]
    if rows.shape[0] == 0:
        raise DatasetError("feature statistics need at least one frame, got none")
    mean = rows.mean(axis=0, dtype=np.float64)
    std = rows.std(axis=0, dtype=np.float64)
    return mean, np.where(std > _STD_FLOOR, std, 1.0)


def normalize_features(x: np.ndarray, mask: np.ndarray | None, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``(x - mean) / std`` per feature as a new float32 array; padded frames become 0.

    Args:
        x: float ``(n, T, F)`` or ``(n, F)``.
        mask: bool ``(n, T)`` for frames, ``None`` for vectors.
        mean, std: float ``(F,)``.
    """
    out = ((x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)).astype(np.float32)
    if mask is not None:
        out[~mask] = 0.0
    return out


def speaker_normalize(x: np.ndarray, mask: np.ndarray | None, groups: Sequence[str] | np.ndarray) -> np.ndarray:
    """Normalise each speaker's clips by that speaker's own statistics (see :func:`feature_stats`).

    Args:
        x: float ``(n, T, F)`` or ``(n, F)``.
        mask: bool ``(n, T)`` for frames, ``None`` for vectors.
        groups: the speaker of each clip, ``(n,)``.

    Returns:
        float32, the shape of ``x``: per speaker and feature, zero mean and unit
        standard deviation over the speaker's real frames; padded frames 0.
    """
    g = np.asarray(groups)
    if g.shape != (x.shape[0],):
        raise DatasetError(f"groups must give one speaker per clip, shape ({x.shape[0]},), got shape {g.shape}")
    out = np.empty(x.shape, np.float32)
    for speaker in np.unique(g):
        rows = np.flatnonzero(g == speaker)
        m = None if mask is None else mask[rows]
        mean, std = feature_stats(x[rows], m)
        out[rows] = normalize_features(x[rows], m, mean, std)
    return out
