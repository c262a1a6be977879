"""Inputs of ``emotune tune --task multimodal``: one clip-level vector per modality and sample, with presence masks.

:func:`load_multimodal` reads a multimodal corpus (``ravdess-av``) and builds,
for each modality of ``config.modalities``:

* ``audio``: the speech features ``config.features`` of every clip that has
  audio (through the feature cache, :func:`~emotune.experiments.speech_inputs.speech_features`);
  frame-level kinds are averaged over the clip's frames;
* ``face``: the per-clip face vector the reader attached (``extra["face"]``,
  e.g. 35 OpenFace Action Units), else, for a sample with a video (``manifest``),
  the mean over 16 sampled frames of the mini-Xception face features
  (:mod:`emotune.features.video`; a video with no face leaves the modality missing);
* ``mocap``: the motion-capture streams of a ``manifest`` row cut to the
  utterance's span and averaged into 200 segments (``frames``, for ``mocap_cnn``
  in intermediate fusion), pooled to their mean and std per column (``x``, for
  the single-modality model, early and late fusion);
* ``text``: the sample's text as hashed word uni- and bigrams (``TEXT_HASH_DIM``
  values; see :mod:`emotune.evaluation.text_honesty` for when a corpus's text
  must not count).

A sample without a modality has zeros there and ``present`` False; a sample
with none of the chosen modalities is dropped into ``Dataset.skipped``.

:class:`VectorInputs` builds one modality's fold arrays (z-scored with the
statistics of the *training* rows that have the modality; missing rows stay
zero). :class:`ConcatInputs` builds the fused input: every modality's
normalised block concatenated, followed by the ``M`` presence flags
(the input of :class:`~emotune.models.fusion.IntermediateFusion`, and of the
early-fusion model). :class:`FrameConcatInputs` (``early_frames = N > 0``) is
frame-level early fusion: every modality's frames (audio frame features such as
MFCC, motion-capture segments, video face frames; a clip vector is repeated)
aligned to ``N`` steps and concatenated per step, for ``sa_lstm``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from emotune.exceptions import DatasetError
from emotune.experiments.text_inputs import FoldInputs

__all__ = ["Modality", "VectorInputs", "ConcatInputs", "FrameConcatInputs", "single_inputs", "load_multimodal",
           "pooled_frames"]


@dataclass
class Modality:
    """One modality of every sample: ``x`` float32 ``(n, F)`` (zeros where missing) and ``present`` bool ``(n,)``.

    ``frames`` (optional) float32 ``(n, T, F_frame)``: the same modality as a fixed-length frame
    sequence (motion capture: ``T = 200`` averaged segments), the input of a frame encoder
    (``mocap_cnn``) in intermediate fusion; ``x`` is then its pooled vector (mean and std over steps).
    """

    name: str
    x: np.ndarray
    present: np.ndarray
    frames: np.ndarray | None = None

    @property
    def dim(self) -> int:
        return int(self.x.shape[1])

    @property
    def steps(self) -> int:
        """``T`` of ``frames`` (0 without frames)."""
        return 0 if self.frames is None else int(self.frames.shape[1])


def _stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(axis=0) if len(x) else np.zeros(x.shape[1])
    std = x.std(axis=0) if len(x) else np.ones(x.shape[1])
    return mean, np.where(std < 1e-8, 1.0, std)


class VectorInputs:
    """Fold arrays of one modality: float32 ``(n, F)`` vectors, normalised.

    ``normalize="global"``: z-scored with the mean/std of the present training
    rows. ``"speaker"``: each speaker's rows z-scored with that speaker's own
    mean/std over its present rows (no labels used; the same enrolment the
    speech path uses, see :mod:`emotune.experiments.speech_inputs`), which
    removes a voice's or a face's resting offset. Missing rows stay zero.
    """

    def __init__(self, modality: Modality, normalize: str = "global", groups: Sequence[str] | None = None) -> None:
        if normalize not in ("global", "speaker", "none"):
            raise DatasetError(f"normalize must be 'global', 'speaker' or 'none', got {normalize!r}")
        if normalize == "speaker" and (groups is None or not all(groups)):
            raise DatasetError("normalize='speaker' needs the speaker of every sample")
        self.modality = modality
        self.normalize = normalize
        self.groups = None if groups is None else np.asarray(list(groups))
        self._speaker_x: dict[str, np.ndarray] | None = None

    def _data(self, frames: bool) -> np.ndarray:
        if frames and self.modality.frames is None:
            raise DatasetError(f"modality {self.modality.name!r} has no frames")
        return self.modality.frames if frames else self.modality.x

    def _by_speaker(self, frames: bool = False) -> np.ndarray:
        key = "frames" if frames else "x"
        if self._speaker_x is None:
            self._speaker_x = {}
        if key not in self._speaker_x:
            m, x = self.modality, self._data(frames).astype(np.float64)
            out = np.zeros_like(x)
            for g in np.unique(self.groups):
                rows = np.flatnonzero((self.groups == g) & m.present)
                mean, std = _stats(x[rows].reshape(-1, x.shape[-1]))
                out[rows] = (x[rows] - mean) / std
            self._speaker_x[key] = out.astype(np.float32)
        return self._speaker_x[key]

    def prepare(self) -> None:
        """Nothing to do (vectors are ready); kept for the inputs protocol."""

    def block(self, train_idx: np.ndarray, idx: np.ndarray, *, frames: bool = False) -> np.ndarray:
        """Rows ``idx`` z-scored with the mean/std of the present rows of ``train_idx``; missing rows are zero.

        ``frames=True``: the modality's frames ``(len(idx), T, F)`` instead (statistics per feature over every
        step of the present training rows), returned flattened to ``(len(idx), T * F)``.
        """
        m, data = self.modality, self._data(frames)
        train_idx = np.asarray(train_idx, np.int64)
        if self.normalize == "none":
            out = data[idx].copy()
        elif self.normalize == "speaker":
            out = self._by_speaker(frames)[idx].copy()
        else:
            train = data[train_idx][m.present[train_idx]]
            mean, std = _stats(train.reshape(-1, data.shape[-1]))
            out = ((data[idx] - mean) / std).astype(np.float32)
        out[~m.present[idx]] = 0.0
        return out.reshape(len(out), -1)

    def build(self, train_idx: np.ndarray, eval_idx: np.ndarray, params: dict[str, Any]) -> FoldInputs:
        from emotune.models.inputs import InputSpec

        spec = InputSpec(kind="vector", feature_dim=self.modality.dim)
        return FoldInputs(self.block(train_idx, train_idx), None, self.block(train_idx, eval_idx), None, spec,
                          {"modality": self.modality.name, "level": "clip"})


class ConcatInputs:
    """The fused input: each modality's normalised block, concatenated, then ``M`` presence flags (1.0 / 0.0).

    ``frames=True`` (intermediate fusion): a modality that has frames enters as its flattened frames
    ``T * F`` (``modality_steps`` gives ``T``, 0 for a vector block), for a frame encoder; otherwise every
    modality enters as its vector (early fusion).
    """

    def __init__(self, modalities: Sequence[Modality], normalize: str = "global",
                 groups: Sequence[str] | None = None, *, frames: bool = False) -> None:
        self.parts = [VectorInputs(m, normalize, groups) for m in modalities]
        self.frames = bool(frames)

    def _uses_frames(self, p: VectorInputs) -> bool:
        return self.frames and p.modality.frames is not None

    @property
    def modality_dims(self) -> list[int]:
        return [int(np.prod(p.modality.frames.shape[1:])) if self._uses_frames(p) else p.modality.dim
                for p in self.parts]

    @property
    def modality_steps(self) -> list[int]:
        return [p.modality.steps if self._uses_frames(p) else 0 for p in self.parts]

    def prepare(self) -> None:
        """Nothing to do; kept for the inputs protocol."""

    def _x(self, train_idx: np.ndarray, idx: np.ndarray) -> np.ndarray:
        blocks = [p.block(train_idx, idx, frames=self._uses_frames(p)) for p in self.parts]
        flags = np.stack([p.modality.present[idx] for p in self.parts], axis=1).astype(np.float32)
        return np.concatenate(blocks + [flags], axis=1)

    def build(self, train_idx: np.ndarray, eval_idx: np.ndarray, params: dict[str, Any]) -> FoldInputs:
        from emotune.models.inputs import InputSpec

        x_train = self._x(train_idx, train_idx)
        spec = InputSpec(kind="vector", feature_dim=int(x_train.shape[1]))
        return FoldInputs(x_train, None, self._x(train_idx, eval_idx), None, spec,
                          {"modalities": [p.modality.name for p in self.parts], "level": "clip"})


class FrameConcatInputs:
    """Frame-level early fusion: every modality's frames aligned to ``steps`` and concatenated per step.

    Per sample, a modality with frames contributes its normalised frames (aligned to ``steps`` by
    :func:`~emotune.models.fusion.early_fusion_frames`), one without contributes its normalised clip vector
    repeated at every step; the ``M`` presence flags follow at every step. Output float32
    ``(n, steps, sum F_m + M)`` with an all-True mask: the sequence ``sa_lstm`` (or any frame model) reads.
    """

    def __init__(self, modalities: Sequence[Modality], normalize: str = "global",
                 groups: Sequence[str] | None = None, *, steps: int) -> None:
        if int(steps) < 1:
            raise DatasetError(f"frame-level early fusion needs steps >= 1, got {steps}")
        self.parts = [VectorInputs(m, normalize, groups) for m in modalities]
        self.steps = int(steps)

    def prepare(self) -> None:
        """Nothing to do; kept for the inputs protocol."""

    def _x(self, train_idx: np.ndarray, idx: np.ndarray) -> np.ndarray:
        from emotune.models.fusion import early_fusion_frames

        blocks = []
        for p in self.parts:
            m = p.modality
            if m.frames is not None:
                blocks.append(p.block(train_idx, idx, frames=True).reshape(len(idx), *m.frames.shape[1:]))
            else:
                blocks.append(p.block(train_idx, idx))
        flags = np.stack([p.modality.present[idx] for p in self.parts], axis=1).astype(np.float32)
        return np.stack([early_fusion_frames([b[r] for b in blocks] + [flags[r]], self.steps)
                         for r in range(len(idx))]).astype(np.float32)

    def build(self, train_idx: np.ndarray, eval_idx: np.ndarray, params: dict[str, Any]) -> FoldInputs:
        from emotune.models.inputs import InputSpec

        x_train, x_eval = self._x(train_idx, train_idx), self._x(train_idx, eval_idx)
        spec = InputSpec(kind="frames", feature_dim=int(x_train.shape[2]), max_len=max(self.steps, 512))
        mask = lambda x: np.ones(x.shape[:2], bool)  # noqa: E731  (every step is real after alignment)
        return FoldInputs(x_train, mask(x_train), x_eval, mask(x_eval), spec,
                          {"modalities": [p.modality.name for p in self.parts], "level": "frames",
                           "steps": self.steps})


def single_inputs(modality: Modality, normalize: str, groups: Sequence[str] | None, early_frames: int = 0) -> Any:
    """One modality's inputs for its own model: its vector (:class:`VectorInputs`), or with
    ``early_frames > 0`` the modality alone as an aligned frame sequence (:class:`FrameConcatInputs`), so a
    frame-only model such as ``sa_lstm`` reads every modality the way it reads their early fusion."""
    if early_frames:
        return FrameConcatInputs([modality], normalize, groups, steps=early_frames)
    return VectorInputs(modality, normalize, groups)


def _audio(config: Any, dataset: Any, cache: Any) -> Modality:
    from emotune.experiments.speech_inputs import speech_features

    have = [i for i, s in enumerate(dataset.samples) if s.audio_path]
    feats, errors = speech_features([dataset.samples[i].audio_path for i in have], config.features, cache=cache,
                                    workers=config.workers, on_error="skip" if config.on_bad_rows == "skip" else "raise",
                                    max_seconds=config.max_seconds, progress=config.progress)
    vecs = {i: (f if f.ndim == 1 else f.mean(axis=0)) for i, f in zip(have, feats) if f is not None}
    if not vecs:
        raise DatasetError(f"dataset {dataset.name!r}: no clip has usable audio features ({len(errors)} failed)")
    dim = len(next(iter(vecs.values())))
    x = np.zeros((len(dataset), dim), np.float32)
    present = np.zeros(len(dataset), bool)
    for i, v in vecs.items():
        x[i], present[i] = v, True
    steps = int(getattr(config, "early_frames", 0) or 0)
    frames = {i: f for i, f in zip(have, feats) if f is not None and f.ndim == 2}
    return Modality("audio", x, present, _aligned(frames, len(dataset), steps) if steps and frames else None)


def _aligned(frames: dict[int, np.ndarray], n: int, steps: int) -> np.ndarray:
    """Per-sample frames ``{i: (T_i, F)}`` (or ``(F,)`` vectors, repeated) aligned to ``steps``: float32 ``(n, steps, F)``."""
    from emotune.models.fusion import align_frames

    dim = next(iter(frames.values())).shape[-1]
    out = np.zeros((n, steps, dim), np.float32)
    for i, f in frames.items():
        out[i] = align_frames(f, steps)
    return out


def _face(dataset: Any, cache: Any, steps: int = 0) -> Modality:
    """Per-clip face vectors; with ``steps > 0`` and videos, also their sampled frames aligned to ``steps``
    (clips with only a vector repeat it)."""
    video_frames: dict[int, np.ndarray] = {}
    vecs = {i: np.asarray(s.extra["face"], np.float32) for i, s in enumerate(dataset.samples)
            if s.extra.get("face") is not None}
    from_video = [i for i, s in enumerate(dataset.samples) if i not in vecs and s.video_path]
    if from_video:  # the mean over sampled frames of the mini-Xception features (no face: modality missing)
        from emotune.features.video import video_face_features

        feats, _ = video_face_features([dataset.samples[i].video_path for i in from_video], cache=cache)
        vecs.update({i: f.mean(axis=0) for i, f in zip(from_video, feats) if f is not None})
        video_frames = {i: f for i, f in zip(from_video, feats) if f is not None}
    if not vecs:
        raise DatasetError(f"dataset {dataset.name!r}: no sample has a face vector (extra['face'])")
    dim = len(next(iter(vecs.values())))
    x = np.zeros((len(dataset), dim), np.float32)
    present = np.zeros(len(dataset), bool)
    for i, v in vecs.items():
        if v.shape != (dim,):
            raise DatasetError(f"dataset {dataset.name!r}: sample {dataset.samples[i].id!r} has a face vector of "
                               f"shape {v.shape}, the others ({dim},)")
        x[i], present[i] = v, True
    frames = _aligned({**vecs, **video_frames}, len(dataset), steps) if steps and video_frames else None
    return Modality("face", x, present, frames)


def pooled_frames(frames: np.ndarray) -> np.ndarray:
    """Frames float ``(T, F)`` -> float32 ``(2F,)``: the mean and the standard deviation over the steps."""
    frames = np.asarray(frames, np.float64)
    return np.concatenate([frames.mean(axis=0), frames.std(axis=0)]).astype(np.float32)


def _mocap(config: Any, dataset: Any) -> Modality:
    """Motion capture of every sample with ``extra["mocap_files"]`` and ``extra["mocap_span"]`` (``manifest``).

    Each stream file is read once (a dialogue's file serves all its utterances); an utterance becomes
    float32 ``(200, sum F)`` (:func:`~emotune.data.readers.mocap.utterance_mocap`). An utterance whose span
    holds no frame is an error naming the sample, or (``on_bad_rows: skip``) leaves the modality missing.
    """
    from emotune.data.readers.mocap import read_mocap_stream, utterance_mocap

    streams: dict[str, Any] = {}
    frames: dict[int, np.ndarray] = {}
    for i, s in enumerate(dataset.samples):
        files = s.extra.get("mocap_files") or ([s.extra["mocap_file"]] if s.extra.get("mocap_file") else None)
        if not files or s.extra.get("mocap_span") is None:
            continue
        start, end = s.extra["mocap_span"]
        try:
            for f in files:
                if f not in streams:
                    streams[f] = read_mocap_stream(f)
            frames[i] = utterance_mocap([streams[f] for f in files], float(start), float(end))
        except DatasetError as exc:
            if config.on_bad_rows != "skip":
                raise DatasetError(f"dataset {dataset.name!r}: sample {s.id!r}, mocap: {exc}") from None
    if not frames:
        raise DatasetError(f"dataset {dataset.name!r}: no sample has usable motion capture (a manifest 'mocap' "
                           "column with 'start' and 'end')")
    shape = next(iter(frames.values())).shape
    x = np.zeros((len(dataset), 2 * shape[1]), np.float32)
    seq = np.zeros((len(dataset), *shape), np.float32)
    present = np.zeros(len(dataset), bool)
    for i, f in frames.items():
        if f.shape != shape:
            raise DatasetError(f"dataset {dataset.name!r}: sample {dataset.samples[i].id!r} has motion capture of "
                               f"shape {f.shape}, the others {shape} (the same streams and columns are needed)")
        x[i], seq[i], present[i] = pooled_frames(f), f, True
    return Modality("mocap", x, present, frames=seq)


TEXT_HASH_DIM = 512
"""Width of the text modality's hashed word uni- and bigram vector."""


def _text(dataset: Any) -> Modality:
    """Text of every sample that has one: hashed word uni- and bigram counts (``TEXT_HASH_DIM`` values,
    sublinear, L2-normalised; nothing fitted, so nothing leaks between folds, and nothing to download)."""
    from sklearn.feature_extraction.text import HashingVectorizer

    have = [i for i, s in enumerate(dataset.samples) if s.text and str(s.text).strip()]
    if not have:
        raise DatasetError(f"dataset {dataset.name!r}: no sample has text (a manifest 'text' column)")
    vec = HashingVectorizer(n_features=TEXT_HASH_DIM, ngram_range=(1, 2), alternate_sign=False, norm="l2",
                            lowercase=True)
    rows = vec.transform([str(dataset.samples[i].text) for i in have]).toarray().astype(np.float32)
    x = np.zeros((len(dataset), TEXT_HASH_DIM), np.float32)
    present = np.zeros(len(dataset), bool)
    x[have], present[have] = rows, True
    return Modality("text", x, present)


def load_multimodal(config: Any) -> tuple[Any, list[Modality]]:
    """The dataset of ``config`` (task ``multimodal``) and its modalities, in ``config.modalities`` order."""
    from emotune.data import BadRow, Dataset, load_dataset
    from emotune.features.cache import FeatureCache, default_cache_root

    dataset = load_dataset(config.dataset, config.data_dir, group_col=config.group_col,
                           on_bad_rows=config.on_bad_rows, limit=config.limit, seed=config.seed)
    cache = FeatureCache(config.cache_dir or default_cache_root())
    if "face" in config.modalities and not all("face" in s.extra or s.video_path for s in dataset.samples):
        raise DatasetError(f"dataset {config.dataset!r} has no face vectors; task 'multimodal' reads ravdess-av "
                           "(or a dataset whose samples carry extra['face'])")
    build = {"audio": lambda: _audio(config, dataset, cache), "face": lambda: _face(dataset, cache, config.early_frames),
             "mocap": lambda: _mocap(config, dataset), "text": lambda: _text(dataset)}
    mods = [build[name]() for name in config.modalities]
    anything = np.any([m.present for m in mods], axis=0)
    if not anything.all():
        keep = np.flatnonzero(anything)
        bad = [BadRow(file=s.audio_path or s.id, line=0, field="modalities", reason="none of the modalities is usable")
               for s, ok in zip(dataset.samples, anything) if not ok]
        dataset = Dataset(name=dataset.name, samples=[dataset.samples[i] for i in keep],
                          skipped=list(dataset.skipped) + bad, source=dataset.source)
        mods = [Modality(m.name, m.x[keep], m.present[keep], None if m.frames is None else m.frames[keep])
                for m in mods]
    return dataset, mods
