"""Predict-time preprocessing: raw inputs (texts, audio files) to model arrays, as the bundle says.

One builder per input path, registered in :data:`INPUT_BUILDERS` under the
``features`` kind of a text bundle (``tokens``, ``word2vec``, ``minilm``,
``minilm_pooled``) or ``"audio"`` for every speech bundle. A new input path
(a fine-tuned encoder, faces) registers its own builder; the predictor and the
service only call :func:`make_input_builder`.

Every builder's ``build(items, groups=None)`` takes a list of raw inputs (and
optionally the speaker of each) and returns the arrays of the usable ones plus
a reason for each unusable one, so one bad input never stops the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from emotune._registry import Registry
from emotune.exceptions import BundleError

__all__ = ["Built", "INPUT_BUILDERS", "make_input_builder", "builder_name"]


@dataclass
class Built:
    """Model arrays of the usable inputs of one batch.

    ``x``: int64 ``(k, T)`` token ids, float32 ``(k, T, F)`` frames or float32
    ``(k, F)`` vectors (``None`` when ``k == 0``); ``mask`` bool ``(k, T)`` or
    ``None``; ``ok`` the ``k`` positions (in the batch) they came from;
    ``errors`` ``{position: reason}`` for the rest.
    """

    x: np.ndarray | None
    mask: np.ndarray | None
    ok: list[int]
    errors: dict[int, str]


INPUT_BUILDERS: Registry[Callable[[Mapping[str, Any]], Any]] = Registry("input builder")
"""Builders by name: ``builder(features_meta)`` -> object with ``modality`` and ``build(items) -> Built``."""


def builder_name(meta: Mapping[str, Any]) -> str:
    """The builder a bundle needs: ``"audio"`` for speech, ``"image"`` for faces, else the text ``features`` kind."""
    if meta.get("task") == "speech":
        return "audio"
    if meta.get("task") == "face":
        return "image"
    return str(meta["features"].get("features"))


def make_input_builder(meta: Mapping[str, Any]) -> Any:
    """The registered builder for a bundle's metadata (``bundle.json`` with arrays restored)."""
    name = builder_name(meta)
    if name not in INPUT_BUILDERS:
        raise BundleError(
            f"bundle needs input path {name!r} (task {meta.get('task')!r}), which this emotune does not have; "
            f"known: {INPUT_BUILDERS.names()}"
        )
    return INPUT_BUILDERS.get(name)(meta["features"])


def _check_texts(items: Sequence[Any]) -> tuple[list[int], dict[int, str]]:
    ok, errors = [], {}
    for i, text in enumerate(items):
        if not isinstance(text, str):
            errors[i] = f"a text must be a string, got {type(text).__name__}"
        elif not text.strip():
            errors[i] = "text is empty; give a non-empty string"
        else:
            ok.append(i)
    return ok, errors


class _TokenTexts:
    """Texts to token ids with the tokenizer fitted in training (``tokens``, ``word2vec``)."""

    modality = "text"

    def __init__(self, features: Mapping[str, Any]) -> None:
        from emotune.features.tokenizers import tokenizer_from_json

        self.max_len = int(features["max_len"])
        self.tokenizer = tokenizer_from_json(features["tokenizer"])

    def build(self, items: Sequence[Any], groups: Sequence[str] | None = None) -> Built:
        from emotune.features.frames import lengths_to_mask

        ok, errors = _check_texts(items)
        if not ok:
            return Built(None, None, ok, errors)
        ids, lengths = self.tokenizer.encode([items[i] for i in ok], max_len=self.max_len)
        return Built(ids, lengths_to_mask(lengths, self.max_len), ok, errors)


class _MiniLMTexts:
    """Texts to frozen MiniLM-L6 / MPNet token states (``minilm``, ``mpnet``) or sentence vectors (``*_pooled``)."""

    modality = "text"

    def __init__(self, features: Mapping[str, Any]) -> None:
        from emotune.features.text_encoders import make_text_encoder

        self.max_len = int(features["max_len"])
        self.pooled = features["features"].endswith("_pooled")
        name = "mpnet" if features["features"].startswith("mpnet") else "minilm"
        self.encoder = make_text_encoder(name, max_len=self.max_len, cache=None, progress=False)

    def build(self, items: Sequence[Any], groups: Sequence[str] | None = None) -> Built:
        from emotune.features.frames import lengths_to_mask

        ok, errors = _check_texts(items)
        if not ok:
            return Built(None, None, ok, errors)
        texts = [items[i] for i in ok]
        if self.pooled:
            return Built(self.encoder.encode_pooled(texts), None, ok, errors)
        states, lengths = self.encoder.encode_tokens(texts, self.max_len)
        return Built(states, lengths_to_mask(lengths, self.max_len), ok, errors)


class _MiniLMLayerTexts:
    """Texts to MiniLM-L6 states at the layer boundary a ``minilm_ft`` model starts from (``minilm_layers``).

    The frozen prefix runs with the training's ``encode_max_len``; the states are then cut to the
    ``max_len`` the trained layers read, exactly as :class:`~emotune.experiments.text_inputs.TextInputs` did.
    """

    modality = "text"

    def __init__(self, features: Mapping[str, Any]) -> None:
        from emotune.features.text_encoders import MiniLMEncoder

        self.layer = int(features["layer"])
        self.max_len = int(features["max_len"])
        self.encode_max_len = int(features.get("encode_max_len", self.max_len))
        self.encoder = MiniLMEncoder(max_len=self.encode_max_len, cache=None, progress=False)

    def build(self, items: Sequence[Any], groups: Sequence[str] | None = None) -> Built:
        from emotune.features.frames import lengths_to_mask
        from emotune.features.text_encoders import encode_layers_rows, stack_layer

        ok, errors = _check_texts(items)
        if not ok:
            return Built(None, None, ok, errors)
        rows = encode_layers_rows(self.encoder, [items[i] for i in ok], self.encode_max_len)
        states, lengths = stack_layer(rows, self.layer, self.max_len)
        return Built(states, lengths_to_mask(lengths, states.shape[1]), ok, errors)


class _AudioClips:
    """Audio files to the speech model's features, normalised and padded as in training."""

    modality = "audio"

    def __init__(self, features: Mapping[str, Any]) -> None:
        self.features = dict(features)

    def build(self, items: Sequence[Any], groups: Sequence[str] | None = None) -> Built:
        from emotune.features.audio_inputs import clip_inputs, speech_features

        ext = self.features["extractor"]
        paths = [str(p) for p in items]
        feats, reasons = speech_features(
            paths, ext["name"], params=ext.get("params") or {}, workers=1, on_error="skip",
            max_seconds=self.features.get("max_seconds"), progress=False,
        )
        ok = [i for i, f in enumerate(feats) if f is not None]
        why = dict(reasons)  # the extractor's own reason per failed path
        errors = {i: why.get(paths[i], "audio could not be read or featurised") for i, f in enumerate(feats)
                  if f is None}
        if not ok:
            return Built(None, None, ok, errors)
        speakers = None if groups is None else [groups[i] for i in ok]
        x, mask = clip_inputs(self.features, [feats[i] for i in ok], speakers)  # type: ignore[misc]
        return Built(x, mask, ok, errors)


for _name in ("tokens", "word2vec"):
    INPUT_BUILDERS.add(_name, _TokenTexts)
for _name in ("minilm", "minilm_pooled", "mpnet", "mpnet_pooled"):
    INPUT_BUILDERS.add(_name, _MiniLMTexts)
INPUT_BUILDERS.add("minilm_layers", _MiniLMLayerTexts)
INPUT_BUILDERS.add("audio", _AudioClips)


class _FaceImages:
    """Face images (crops or photos) to the face model's vectors, normalised with the saved statistics.

    ``normalize="speaker"`` (per subject) uses each subject's own images when
    subjects are given, else the saved training statistics.
    """

    modality = "image"

    def __init__(self, features: Mapping[str, Any]) -> None:
        self.features = dict(features)

    def build(self, items: Sequence[Any], groups: Sequence[str] | None = None) -> Built:
        from emotune.features.face_images import face_image_features
        from emotune.features.frames import normalize_features, speaker_normalize

        paths = [str(p) for p in items]
        vecs, reasons = face_image_features(paths, self.features["features"], on_error="skip")
        ok = [i for i, v in enumerate(vecs) if v is not None]
        why = dict(reasons)
        errors = {i: why.get(paths[i], "image could not be read or featurised") for i, v in enumerate(vecs)
                  if v is None}
        if not ok:
            return Built(None, None, ok, errors)
        x = np.stack([np.asarray(vecs[i], np.float32) for i in ok])
        kind = self.features.get("normalize", "global")
        subjects = None if groups is None else [groups[i] for i in ok]
        if kind == "speaker" and subjects is not None and all(subjects):
            x = speaker_normalize(x, None, np.asarray(subjects))
        elif kind != "none":
            x = normalize_features(x, None, np.asarray(self.features["mean"]), np.asarray(self.features["std"]))
        return Built(x.astype(np.float32), None, ok, errors)


INPUT_BUILDERS.add("image", _FaceImages)
