"""Predict with a verified model bundle: raw inputs in, one label and every class probability out.

The features, normalisation and padding are rebuilt from the bundle's own
settings (:mod:`emotune.serving.preprocess`), exactly as in training. The
forward pass is a *backend*: PyTorch eager by default, or an ONNX Runtime
session (:class:`~emotune.serving.onnx_runtime.OnnxBackend`) with the same
``(x, mask) -> probabilities`` contract.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from emotune.exceptions import DatasetError

__all__ = ["Predictor", "Prediction", "TorchBackend"]


@dataclass
class Prediction:
    """The outcome for one input: ``label`` and ``proba`` (class -> probability), or an ``error``."""

    input: Any
    label: str | None = None
    proba: dict[str, float] | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        if self.error is not None:
            return {"input": self.input, "error": self.error}
        return {"input": self.input, "label": self.label, "proba": self.proba}


class TorchBackend:
    """PyTorch eager forward pass: ``(x, mask) -> float32 (n, C)`` probabilities."""

    name = "torch"

    def __init__(self, model: Any, *, threads: int | None = None) -> None:
        self.model = model
        self.threads = threads
        if threads:  # process-wide in PyTorch: set once here, not on every call
            import torch

            torch.set_num_threads(int(threads))

    def __call__(self, x: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        import torch

        from emotune.training import predict_proba

        xt = torch.from_numpy(np.ascontiguousarray(x))
        mt = None if mask is None else torch.from_numpy(np.ascontiguousarray(mask))
        return predict_proba(self.model, xt, mt)


class Predictor:
    """A loaded bundle that rebuilds features exactly as in training.

    >>> predictor = Predictor.load("runs/demo/model")          # doctest: +SKIP
    >>> predictor.predict(["what a lovely day"])                 # doctest: +SKIP
    [{'label': 'positive', 'proba': {...}}]

    Args:
        bundle: a verified :class:`~emotune.serving.bundle.Bundle`.
        backend: ``(x, mask) -> probabilities``; ``None`` runs the bundle's
            model in PyTorch eager mode.
        builder: the input builder (:func:`~emotune.serving.preprocess.make_input_builder`);
            ``None`` makes it on first use. Predictors of one bundle may share one.
    """

    def __init__(
        self,
        bundle: Any,
        backend: Callable[[np.ndarray, np.ndarray | None], np.ndarray] | None = None,
        *,
        builder: Any = None,
    ) -> None:
        self.bundle = bundle
        self.meta: dict[str, Any] = bundle.meta
        self.labels: list[str] = list(bundle.meta["labels"])
        self._backend = backend
        self._builder = builder
        # tokenizers and encoders are not all thread-safe (nor is their lazy loading): one featurisation
        # at a time, while forward passes of different threads may overlap
        self._featurise = threading.Lock()

    @classmethod
    def load(cls, path: str | Path, *, backend: Any = None) -> "Predictor":
        """Read and verify the bundle at ``path`` (folder or ``.emotune`` zip)."""
        from emotune.serving.bundle import read_bundle

        return cls(read_bundle(path), backend=backend)

    # -- parts -------------------------------------------------------------------------------------------
    @property
    def task(self) -> str:
        return str(self.meta["task"])

    @property
    def modality(self) -> str:
        """``"text"`` or ``"audio"``: what :meth:`predict_many` expects (texts or file paths)."""
        return self.builder.modality

    @property
    def builder(self) -> Any:
        if self._builder is None:
            from emotune.serving.preprocess import make_input_builder

            self._builder = make_input_builder(self.meta)
        return self._builder

    @property
    def backend(self) -> Callable[[np.ndarray, np.ndarray | None], np.ndarray]:
        if self._backend is None:
            self._backend = TorchBackend(self.bundle.build_model())
        return self._backend

    @property
    def model(self) -> Any:
        """The PyTorch model (built from the bundle on first use)."""
        backend = self.backend
        return backend.model if isinstance(backend, TorchBackend) else self.bundle.build_model()

    def warm_up(self) -> None:
        """Load the model, the tokenizer and any encoder now (one prediction on a made-up input), not on the first request."""
        self.backend
        if self.modality == "text":
            self.predict_many(["warm up"])
            return
        import tempfile

        import soundfile as sf

        with tempfile.NamedTemporaryFile(suffix=".wav") as fh:
            t = np.arange(16000) / 16000.0
            sf.write(fh.name, (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000)
            self.predict_many([fh.name])

    # -- prediction --------------------------------------------------------------------------------------
    def predict_many(
        self,
        inputs: Sequence[Any],
        *,
        speakers: Sequence[str | None] | None = None,
        batch_size: int = 64,
        on_batch: Callable[[int], None] | None = None,
    ) -> list[Prediction]:
        """One :class:`Prediction` per input, in order; an unusable input gets an ``error``, the others go on.

        Args:
            inputs: texts (text bundles) or audio file paths (speech bundles).
            speakers: the speaker of each input, or ``None``. A speech bundle
                trained with speaker normalisation sees all clips of a speaker
                in one batch, so its enrolment rule (own statistics with enough
                clips, else the saved training statistics) applies as in training.
            batch_size: inputs per forward pass.
            on_batch: called with the number of inputs done after each batch (progress bars).
        """
        inputs = list(inputs)
        results = [Prediction(input=item) for item in inputs]
        for idx, groups in self._batches(len(inputs), speakers, max(int(batch_size), 1)):
            with self._featurise:
                built = self.builder.build([inputs[i] for i in idx], groups)
            for j, reason in built.errors.items():
                results[idx[j]].error = reason
            if built.ok:
                proba = self.backend(built.x, built.mask)
                for j, p in zip(built.ok, proba):
                    results[idx[j]].label = self.labels[int(np.argmax(p))]
                    results[idx[j]].proba = {label: float(v) for label, v in zip(self.labels, p)}
            if on_batch is not None:
                on_batch(len(idx))
        return results

    def _batches(self, n: int, speakers: Sequence[str | None] | None, size: int):
        """``(positions, speakers or None)`` per forward pass: fixed-size batches, or one per speaker."""
        by_speaker = (speakers is not None and self.task == "speech"
                      and self.meta["features"].get("normalize") == "speaker")
        if not by_speaker:
            for start in range(0, n, size):
                yield list(range(start, min(start + size, n))), None
            return
        groups: dict[str | None, list[int]] = {}
        for i, s in enumerate(speakers):  # type: ignore[arg-type]
            groups.setdefault(s or None, []).append(i)
        for speaker, idx in groups.items():
            if speaker is None:
                for start in range(0, len(idx), size):
                    yield idx[start : start + size], None
            else:
                yield idx, [speaker] * len(idx)

    def predict_proba(self, inputs: Sequence[Any]) -> np.ndarray:
        """Class probabilities, float32 ``(n, C)`` in the order of ``self.labels``.

        Raises:
            DatasetError: an input is unusable (the message names its position and reason).
        """
        inputs = list(inputs)
        if not inputs:
            return np.zeros((0, len(self.labels)), np.float32)
        with self._featurise:
            built = self.builder.build(inputs)
        if built.errors:
            i, reason = min(built.errors.items())
            raise DatasetError(f"input {i}: {reason}")
        return self.backend(built.x, built.mask)

    def predict(self, inputs: Sequence[Any]) -> list[dict[str, Any]]:
        """One ``{"label", "proba"}`` dict per input (raises on an unusable input, see :meth:`predict_proba`)."""
        proba = self.predict_proba(inputs)
        return [
            {"label": self.labels[int(np.argmax(p))], "proba": {l: float(v) for l, v in zip(self.labels, p)}}
            for p in proba
        ]
