"""Speech inputs for a fold: audio features of every clip turned into model-ready arrays.

:func:`load_speech` reads a speech corpus and extracts one feature kind for
every clip once (through the on-disk :class:`~emotune.features.cache.FeatureCache`,
in worker processes); clips that cannot be used are dropped from the dataset and
listed in ``Dataset.skipped``, never silently. :class:`SpeechInputs` then builds
the arrays of any ``(train indices, evaluation indices)`` pair, fitting the
normalisation on the *training* indices only.

Feature kinds (``TuneConfig.features``, see :data:`~emotune.features.audio_extractors.AUDIO_FEATURES`):

* frame level, ``mfcc`` (120 = 40 MFCC + deltas), ``logmel`` (64),
  ``egemaps_lld`` (25), ``whisper`` (384): float32 ``(n, T, F)`` frames plus a
  bool ``(n, T)`` mask. Clips are cut to ``max_seconds`` when loaded, so no clip
  has more than ``max_frames`` frames (``1 + n_samples // hop``, see
  :func:`~emotune.features.frames.max_frames`); with ``frame_pool = k`` every ``k`` consecutive frames
  are averaged into one (the last, partial window over its real frames), which
  shortens sequences ``k``-fold. Arrays are padded only to the longest clip of
  the dataset (padding never changes a masked model's output), while
  ``InputSpec.max_len`` is ``max_frames``, so any clip up to ``max_seconds``
  fits at predict time.
* clip level, ``egemaps`` (88 functionals), ``whisper_pooled`` (768):
  float32 ``(n, F)`` vectors, no mask.

Normalisation (``TuneConfig.normalize``), per feature:

* ``"global"``: one mean and standard deviation over every real frame (or
  vector) of the training clips, applied to every clip;
* ``"speaker"``: speaker enrolment (:mod:`emotune.features.normalization`):
  the training clips and the evaluation clips are normalised as two separate
  sets; in each, a speaker with at least ``enrol_min_clips`` clips is
  normalised by the mean and standard deviation of their own clips in that set
  (unlabelled: no label is used), any other clip by the global training
  statistics. ``emotune predict`` applies the same rule to the clips it is given
  per speaker (a manifest's speaker column, or ``--speaker``), with the
  minimum and the global statistics the bundle keeps, so the reported score is
  the score of the shipped model used that way. :attr:`SpeechInputs.enrolment_`
  records, for the last fold built, how many clips fell back;
* ``"auto"``: ``"speaker"`` when every clip has a speaker, else ``"global"``;
* ``"none"``: the raw features.

A standard deviation below ``1e-8`` counts as 1 (constant features are only
centred). Padded frames are zero after normalisation. The array work is done by
the pure functions of :mod:`emotune.features.frames`; the eGeMAPS reference rows
of a run are in :mod:`emotune.experiments.speech_baselines`.
"""

from __future__ import annotations

import time
from typing import Any, Mapping, Sequence

import numpy as np

from emotune.exceptions import ConfigError, DatasetError
from emotune.experiments.text_inputs import FoldInputs
# extraction and predict-time inputs live in features/ so serving/ shares them without importing experiments/
from emotune.features.audio_inputs import SPEECH_SR, bundle_features, speech_features
from emotune.features.frames import feature_stats, max_frames, normalize_features, pad_frames, pool_frames
from emotune.features.normalization import ENROL_MIN_CLIPS, enrol_normalize

__all__ = [
    "SPEECH_SR",
    "NORMALIZE",
    "SpeechInputs",
    "load_speech",
    "speech_features",
    "fill_cache",
    "bundle_features",
]

NORMALIZE = ("global", "speaker", "none", "auto")
"""Normalisation kinds (see the module docstring)."""


# -- extraction --------------------------------------------------------------------------------------------


def _audio_paths(dataset: Any) -> list[str]:
    paths = []
    for s in dataset.samples:
        if not s.audio_path:
            raise DatasetError(
                f"dataset {dataset.name!r}: sample {s.id!r} has no audio file; task 'speech' needs a speech corpus "
                "(crema-d, ravdess, ...)"
            )
        paths.append(s.audio_path)
    return paths


def _reason(path: str, reason: str) -> str:
    """The error text without the leading ``'path': `` that BadRow already shows."""
    prefix = f"{path!r}: "
    return reason[len(prefix):] if reason.startswith(prefix) else reason


def _drop_failed(dataset: Any, feats: list[np.ndarray | None], errors: list[tuple[str, str]]):
    """The dataset without clips whose features failed; each failure becomes a BadRow in ``skipped``."""
    from emotune.data import BadRow, Dataset
    from emotune.data.loading import check_classes

    if not errors:
        return dataset, feats
    keep = [i for i, f in enumerate(feats) if f is not None]
    bad = [BadRow(file=path, line=0, field="audio", reason=_reason(path, reason)) for path, reason in errors]
    dropped = Dataset(
        name=dataset.name,
        samples=[dataset.samples[i] for i in keep],
        skipped=list(dataset.skipped) + bad,
        source=dataset.source + f"; {len(bad)} clips without features skipped",
    )
    check_classes(dropped)
    return dropped, [feats[i] for i in keep]


def load_speech(config: Any) -> tuple[Any, "SpeechInputs"]:
    """Read the speech corpus of ``config`` and extract its features once.

    Args:
        config: a :class:`~emotune.experiments.config.TuneConfig` with ``task="speech"``.

    Returns:
        The dataset (clips whose features failed removed and listed in
        ``skipped`` under ``on_bad_rows="skip"``; under ``"error"`` the first
        failure raises a :class:`~emotune.exceptions.FeatureError` naming the
        file) and the :class:`SpeechInputs` of its clips.
    """
    from emotune.data import load_dataset
    from emotune.features.audio_extractors import make_audio_extractor
    from emotune.features.cache import FeatureCache, default_cache_root

    dataset = load_dataset(
        config.dataset,
        config.data_dir,
        group_col=config.group_col,
        on_bad_rows=config.on_bad_rows,
        limit=config.limit,
        seed=config.seed,
    )
    paths = _audio_paths(dataset)
    cache = FeatureCache(config.cache_dir or default_cache_root())
    feats, errors = speech_features(
        paths, config.features, cache=cache, workers=config.workers,
        on_error="skip" if config.on_bad_rows == "skip" else "raise",
        max_seconds=config.max_seconds, progress=config.progress,
    )
    dataset, feats = _drop_failed(dataset, feats, errors)
    inputs = SpeechInputs(
        feats, dataset.groups, extractor=make_audio_extractor(config.features), max_seconds=config.max_seconds,
        frame_pool=config.frame_pool, normalize=config.normalize, cache=cache,
        enrol_min_clips=getattr(config, "enrol_min_clips", ENROL_MIN_CLIPS),
    )
    return dataset, inputs


def fill_cache(
    dataset: Any,
    features: str,
    *,
    cache: Any,
    workers: int = 2,
    max_seconds: float | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Extract ``features`` for every clip of ``dataset`` into ``cache`` (failures are skipped and counted).

    Returns:
        ``{"files", "extracted", "cached", "failed", "seconds", "errors"}``:
        ``extracted`` counts the clips whose features this call computed,
        ``cached`` the clips already there, ``errors``
        ``(path, reason)`` pairs. Other processes filling the same cache do not
        change these counts.
    """
    paths = _audio_paths(dataset)
    counts: dict[str, int] = {}
    t0 = time.perf_counter()
    _, errors = speech_features(
        paths, features, cache=cache, workers=workers, on_error="skip", max_seconds=max_seconds, progress=progress,
        counts=counts,
    )
    seconds = time.perf_counter() - t0
    return {
        "files": len(paths),
        "extracted": counts["computed"],
        "cached": counts["cached"],
        "failed": len(errors),
        "seconds": round(seconds, 2),
        "errors": errors,
    }


# -- the inputs of a fold ----------------------------------------------------------------------------------


class SpeechInputs:
    """Builds :class:`~emotune.experiments.text_inputs.FoldInputs` from precomputed audio features.

    Args:
        features: one array per clip, float ``(T_i, F)`` frames or ``(F,)``
            vectors, as the extractor returns them.
        groups: the speaker of each clip (all ``""`` when unknown).
        extractor: the :class:`~emotune.features.audio_extractors.AudioExtractor` that made them.
        max_seconds: clips were cut to this many seconds.
        frame_pool: frames averaged into one (frame-level features).
        normalize: ``"global"``, ``"speaker"``, ``"none"`` or ``"auto"`` (see the module docstring).
        enrol_min_clips: clips a speaker needs for their own statistics under ``"speaker"``.
        cache: the :class:`~emotune.features.cache.FeatureCache` the features came
            from (the eGeMAPS reference rows use it too), or ``None``.

    Attributes (after :meth:`prepare`): ``x_`` float32 ``(n, T, F)`` or ``(n, F)``,
    ``mask_`` bool ``(n, T)`` or ``None``, ``max_len_`` the ``InputSpec.max_len``;
    after :meth:`build` with ``"speaker"``: ``enrolment_``, ``{"train": ..., "eval": ...}``
    :meth:`~emotune.features.normalization.Enrolment.to_dict` of the last fold.
    """

    def __init__(
        self,
        features: Sequence[np.ndarray],
        groups: Sequence[str],
        *,
        extractor: Any,
        max_seconds: float,
        frame_pool: int = 1,
        normalize: str = "global",
        cache: Any = None,
        enrol_min_clips: int = ENROL_MIN_CLIPS,
    ) -> None:
        if normalize == "auto":
            normalize = "speaker" if len(groups) and all(groups) else "global"
        if normalize not in NORMALIZE:
            raise ConfigError(f"normalize must be one of {NORMALIZE}, got {normalize!r}")
        if int(frame_pool) != frame_pool or frame_pool < 1:
            raise ConfigError(f"frame_pool must be an int >= 1, got {frame_pool!r}")
        if not max_seconds > 0:
            raise ConfigError(f"max_seconds must be > 0 seconds, got {max_seconds!r}")
        if len(features) != len(groups):
            raise DatasetError(f"features and groups must have one entry per clip, got {len(features)} and {len(groups)}")
        if normalize == "speaker" and not all(groups):
            raise ConfigError(
                "normalize='speaker' needs the speaker of every clip, but this dataset has no speaker groups; "
                "use normalize='global'"
            )
        self.features = list(features)
        self.groups = np.asarray(list(groups))
        self.extractor = extractor
        self.max_seconds = float(max_seconds)
        self.frame_pool = int(frame_pool)
        self.normalize = normalize
        self.cache = cache
        self.enrol_min_clips = int(enrol_min_clips)
        self.enrolment_: dict[str, Any] | None = None
        self.x_: np.ndarray | None = None
        self.mask_: np.ndarray | None = None
        self.max_len_: int | None = None

    @property
    def frames(self) -> bool:
        """Whether the features are frame level (else one vector per clip)."""
        return self.extractor.level == "frames"

    def prepare(self) -> None:
        """Pool, crop and pad every clip once (cheap; trials then only normalise and train)."""
        if self.x_ is not None:
            return
        if not self.frames:
            self.x_ = np.stack([np.asarray(f, np.float32) for f in self.features])
            return
        cap = max_frames(self.extractor, sr=SPEECH_SR, max_seconds=self.max_seconds, frame_pool=self.frame_pool)
        pooled = [pool_frames(f, self.frame_pool) for f in self.features]
        self.x_, self.mask_ = pad_frames(pooled, cap)
        self.max_len_ = int(cap if cap is not None else self.x_.shape[1])

    def build(self, train_idx: np.ndarray, eval_idx: np.ndarray, params: dict[str, Any]) -> FoldInputs:
        """Inputs for training on ``train_idx`` and evaluating on ``eval_idx``; statistics from ``train_idx`` only."""
        from emotune.models.inputs import InputSpec

        self.prepare()
        x, mask = self.x_, self.mask_
        assert x is not None
        train_idx = np.asarray(train_idx, dtype=np.int64)
        eval_idx = np.asarray(eval_idx, dtype=np.int64)
        m_train = None if mask is None else mask[train_idx]
        m_eval = None if mask is None else mask[eval_idx]
        mean, std = feature_stats(x[train_idx], m_train)
        if self.normalize == "global":
            x_train = normalize_features(x[train_idx], m_train, mean, std)
            x_eval = normalize_features(x[eval_idx], m_eval, mean, std)
        elif self.normalize == "speaker":  # enrolment: train and eval as separate sets, global stats as fallback
            rule = {"mean": mean, "std": std, "min_clips": self.enrol_min_clips}
            x_train, on_train = enrol_normalize(x[train_idx], m_train, self.groups[train_idx], **rule)
            x_eval, on_eval = enrol_normalize(x[eval_idx], m_eval, self.groups[eval_idx], **rule)
            self.enrolment_ = {"train": on_train.to_dict(), "eval": on_eval.to_dict()}
        else:
            x_train, x_eval = x[train_idx], x[eval_idx]
        if self.frames:
            spec = InputSpec(kind="frames", feature_dim=int(x.shape[2]), max_len=int(self.max_len_))
        else:
            spec = InputSpec(kind="vector", feature_dim=int(x.shape[1]))
        return FoldInputs(x_train, m_train, x_eval, m_eval, spec, self._bundle(mean, std))

    def describe_normalization(self, enrolments: Sequence[Mapping[str, Any] | None] = ()) -> str:
        """The normalisation protocol in one sentence, for the report's first lines.

        Args:
            enrolments: :attr:`enrolment_` of the final fit of each outer fold
                (its evaluation set is the test split); their fallbacks are counted.
        """
        if self.normalize == "global":
            return "features standardised by the mean and std of the training clips (global)."
        if self.normalize == "none":
            return "raw features, no normalisation."
        tests = [e["eval"] for e in enrolments if e]
        n = sum(t["n_clips"] for t in tests)
        fell = sum(t["n_fallback_clips"] for t in tests)
        spk = sum(t["n_fallback_speakers"] for t in tests)
        return (
            f"speaker enrolment: training and test clips are normalised as separate sets, each speaker with at least "
            f"{self.enrol_min_clips} clips by the mean and std of their own unlabelled clips, others by the global "
            f"training statistics; `emotune predict` applies the same rule per speaker. "
            f"On test, {fell} of {n} clips ({spk} speakers) fell back to the global statistics."
        )

    def _bundle(self, mean: np.ndarray, std: np.ndarray) -> dict[str, Any]:
        """What :func:`bundle_features` needs to rebuild the inputs of new clips (JSON-able)."""
        keep = self.normalize != "none"
        return {
            "features": self.extractor.name,
            "extractor": {"name": self.extractor.name, "params": dict(self.extractor.params)},
            "level": self.extractor.level,
            "sr": SPEECH_SR,
            "max_seconds": self.max_seconds,
            "frame_pool": self.frame_pool,
            "max_frames": self.max_len_,
            "normalize": self.normalize,
            "enrol_min_clips": self.enrol_min_clips if self.normalize == "speaker" else None,
            "mean": [float(v) for v in mean] if keep else None,
            "std": [float(v) for v in std] if keep else None,
        }
