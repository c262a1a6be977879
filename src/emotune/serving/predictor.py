"""Predict with a saved model bundle: texts (or audio files) in, labels and probabilities out."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from emotune.exceptions import ConfigError, DatasetError

__all__ = ["Predictor"]


class Predictor:
    """A loaded bundle that rebuilds features exactly as in training.

    >>> predictor = Predictor.load("runs/demo/model")          # doctest: +SKIP
    >>> predictor.predict(["what a lovely day"])                 # doctest: +SKIP
    [{'label': 'positive', 'proba': {...}}]
    """

    def __init__(self, model: Any, meta: dict[str, Any]) -> None:
        self.model = model
        self.meta = meta
        self.labels: list[str] = meta["labels"]
        self._tokenizer = None
        self._encoder = None

    @classmethod
    def load(cls, path: str | Path) -> "Predictor":
        from emotune.serving.bundle import load_bundle

        model, meta = load_bundle(path)
        return cls(model, meta)

    def _text_inputs(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray | None]:
        from emotune.features.frames import lengths_to_mask

        feats = self.meta["features"]
        max_len = int(feats["max_len"])
        kind = feats["features"]
        if kind in ("tokens", "word2vec"):
            if self._tokenizer is None:
                from emotune.features.tokenizers import tokenizer_from_json

                self._tokenizer = tokenizer_from_json(feats["tokenizer"])
            ids, lengths = self._tokenizer.encode(list(texts), max_len=max_len)
            return ids, lengths_to_mask(lengths, max_len)
        if self._encoder is None:
            from emotune.features.text_encoders import MiniLMEncoder

            self._encoder = MiniLMEncoder(max_len=max_len, cache=None, progress=False)
        if kind == "minilm":
            states, lengths = self._encoder.encode_tokens(list(texts), max_len)
            return states, lengths_to_mask(lengths, max_len)
        return self._encoder.encode_pooled(list(texts)), None

    def predict_proba(self, inputs: Sequence[str]) -> np.ndarray:
        """Class probabilities, float32 ``(n, C)`` in the order of ``self.labels``."""
        import torch

        from emotune.training import predict_proba

        inputs = list(inputs)
        if not inputs:
            return np.zeros((0, len(self.labels)), np.float32)
        if self.meta["task"] == "text":
            for i, text in enumerate(inputs):
                if not isinstance(text, str) or not text.strip():
                    raise DatasetError(f"input {i}: text is empty; give a non-empty string")
            x, mask = self._text_inputs(inputs)
        elif self.meta["task"] == "speech":
            from emotune.experiments.speech_inputs import bundle_features

            x, mask = bundle_features(self.meta["features"], inputs)
        else:
            raise ConfigError(f"bundle task {self.meta['task']!r} is not supported by this version")
        xt = torch.from_numpy(np.ascontiguousarray(x))
        mt = None if mask is None else torch.from_numpy(mask)
        return predict_proba(self.model, xt, mt)

    def predict(self, inputs: Sequence[str]) -> list[dict[str, Any]]:
        """One ``{"label", "proba"}`` dict per input."""
        proba = self.predict_proba(inputs)
        return [
            {"label": self.labels[int(np.argmax(p))], "proba": {l: float(v) for l, v in zip(self.labels, p)}}
            for p in proba
        ]
