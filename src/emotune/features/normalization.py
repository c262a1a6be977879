"""Speaker enrolment normalisation: the one rule used in evaluation and at prediction time.

A deployed speech model meets a speaker through a few unlabelled recordings of
that speaker ("enrolment"). The rule, applied to any set of clips whose
speakers are known (the training clips of a fold, its test clips, or the clips
given to ``emotune predict`` with a speaker column or ``--speaker``):

* a speaker with at least ``min_clips`` clips in the set is normalised by the
  mean and standard deviation of that speaker's own clips in the set (over real
  frames for frame features; no labels are used);
* a speaker with fewer clips, and a clip with no speaker, is normalised by the
  global training statistics the model keeps (``mean``, ``std``), and counted.

Training and evaluation clips are normalised as separate sets, so an evaluation
clip never changes the inputs the model was trained on (and with a split by
sample, a speaker present in both parts is enrolled separately in each).

Pure NumPy, no I/O: :mod:`emotune.experiments.speech_inputs` (training and
evaluation) and :mod:`emotune.features.audio_inputs` (serving) both call
:func:`enrol_normalize`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

from emotune.exceptions import ConfigError, DatasetError
from emotune.features.frames import feature_stats, normalize_features

__all__ = ["ENROL_MIN_CLIPS", "Enrolment", "enrol_normalize"]

ENROL_MIN_CLIPS = 5
"""Default minimum of a speaker's clips for their own statistics (below it: global statistics)."""


@dataclass
class Enrolment:
    """What :func:`enrol_normalize` did.

    Attributes:
        speakers: speakers normalised by their own statistics.
        fallback_speakers: speakers with fewer than ``min_clips`` clips (global statistics).
        n_clips: clips in the set.
        n_fallback_clips: clips normalised by the global statistics (too few
            clips of their speaker, or no speaker).
        min_clips: the rule's minimum.
    """

    speakers: list[str] = field(default_factory=list)
    fallback_speakers: list[str] = field(default_factory=list)
    n_clips: int = 0
    n_fallback_clips: int = 0
    min_clips: int = ENROL_MIN_CLIPS

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["speakers"] = len(self.speakers)
        d["fallback_speakers"] = sorted(self.fallback_speakers)[:20]
        d["n_fallback_speakers"] = len(self.fallback_speakers)
        return d


def enrol_normalize(
    x: np.ndarray,
    mask: np.ndarray | None,
    speakers: Sequence[str | None] | np.ndarray | None,
    *,
    mean: np.ndarray,
    std: np.ndarray,
    min_clips: int = ENROL_MIN_CLIPS,
) -> tuple[np.ndarray, Enrolment]:
    """Normalise clips by their speaker's own statistics, or by the global ones (see the module docstring).

    Args:
        x: float ``(n, T, F)`` frames or ``(n, F)`` vectors.
        mask: bool ``(n, T)`` for frames (``True`` = real frame), ``None`` for vectors.
        speakers: the speaker of each clip (``None`` or ``""`` = unknown), or
            ``None`` when no clip has one.
        mean, std: float ``(F,)``, the global training statistics (std below
            ``1e-8`` counts as 1, as in :func:`~emotune.features.frames.normalize_features`).
        min_clips: a speaker needs at least this many clips in ``x`` for their own statistics.

    Returns:
        float32 array of ``x``'s shape (padded frames 0) and the :class:`Enrolment` record.
    """
    if int(min_clips) != min_clips or min_clips < 1:
        raise ConfigError(f"enrol_min_clips must be an int >= 1, got {min_clips!r}")
    n = x.shape[0]
    g = np.array(["" if s is None else str(s) for s in speakers], dtype=object) if speakers is not None else None
    if g is not None and g.shape != (n,):
        raise DatasetError(f"speakers must give one entry per clip, ({n},), got shape {g.shape}")
    mean, std = np.asarray(mean, np.float32), np.asarray(std, np.float32)
    out = normalize_features(x, mask, mean, std)  # global statistics: the fallback
    info = Enrolment(n_clips=int(n), min_clips=int(min_clips))
    known = np.zeros(n, dtype=bool)
    if g is not None:
        for speaker in sorted(set(g) - {""}):
            rows = np.flatnonzero(g == speaker)
            if rows.size < min_clips:
                info.fallback_speakers.append(speaker)
                continue
            m = None if mask is None else mask[rows]
            s_mean, s_std = feature_stats(x[rows], m)
            out[rows] = normalize_features(x[rows], m, s_mean, s_std)
            info.speakers.append(speaker)
            known[rows] = True
    info.n_fallback_clips = int(n - known.sum())
    return out, info
