"""Run an exported model with ONNX Runtime: the backend a predictor or an edge device uses.

An export folder holds ``model.onnx`` (and ``model.int8.onnx`` when quantized)
and ``preprocessing.json``. The graph takes

* ``x``: int64 ``(batch, time)`` token ids, float32 ``(batch, time, F)`` frames,
  or float32 ``(batch, F)`` vectors;
* ``mask``: bool ``(batch, time)``, True at real steps, right-padded (absent for vectors);

and returns ``probabilities``: float32 ``(batch, C)`` in the order of
``preprocessing.json["labels"]``. Batch and time axes are dynamic; sequences
shorter than ``preprocessing.json["min_time"]`` steps are padded up to it (masked
padding never changes the output).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from emotune.exceptions import ConfigError

__all__ = ["OnnxBackend", "pad_time"]


def pad_time(x: np.ndarray, mask: np.ndarray | None, min_time: int) -> tuple[np.ndarray, np.ndarray | None]:
    """``x`` ``(n, T, ...)`` and ``mask`` ``(n, T)`` right-padded with zeros / False to at least ``min_time`` steps."""
    if mask is None or x.ndim < 2 or x.shape[1] >= min_time:
        return x, mask
    extra = min_time - x.shape[1]
    x = np.pad(x, [(0, 0), (0, extra)] + [(0, 0)] * (x.ndim - 2))
    mask = np.pad(mask, [(0, 0), (0, extra)])
    return x, mask


class OnnxBackend:
    """``(x, mask) -> float32 (n, C)`` probabilities from an ONNX file, on the CPU.

    Args:
        path: the ``.onnx`` file.
        threads: intra-op threads (``None``: ONNX Runtime's default, all cores).
        min_time: pad sequences to at least this many steps.
    """

    name = "onnx"

    def __init__(self, path: str | Path, *, threads: int | None = None, min_time: int = 1) -> None:
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"no ONNX model at {path}; run `emotune export RUN --format onnx` first")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
            options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self._x_dtype = np.int64 if self.session.get_inputs()[0].type == "tensor(int64)" else np.float32
        self.min_time = int(min_time)
        self.path = path

    def __call__(self, x: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        x, mask = pad_time(np.ascontiguousarray(x), mask, self.min_time)
        feeds: dict[str, Any] = {"x": x.astype(self._x_dtype, copy=False)}
        if "mask" in self.inputs:
            feeds["mask"] = np.ascontiguousarray(mask, dtype=bool)
        return self.session.run(["probabilities"], feeds)[0]
