"""``emotune export``: a run's model as ONNX, checked against PyTorch on the run's own test inputs.

:func:`export_onnx` writes, into ``RUN/export/`` by default:

* ``model.onnx``: the bundle's model with a softmax on top (inputs ``x`` and
  ``mask``, output ``probabilities``, dynamic batch and time axes, see
  :mod:`emotune.serving.onnx_runtime`), traced by the TorchScript-based
  exporter, which turns the packed LSTMs into ONNX ``LSTM`` nodes with
  ``sequence_lens`` so masks keep their meaning;
* ``preprocessing.json``: what an edge device needs besides the graph: labels,
  the bundle's feature settings (tokenizer, extractor, normalisation), input
  names, dtypes and ``min_time``;
* ``parity.json``: the largest absolute difference between ONNX Runtime's and
  PyTorch's probabilities over real inputs of the run's test split;
* with ``quantize="dynamic"``: ``model.int8.onnx`` (int8 weights of MatMul/Gemm
  and LSTM nodes, activations quantized on the fly) and ``quantization.json``
  with accuracy and macro-F1 of both graphs on the same test inputs.

The test inputs are rebuilt from ``RUN/config.yaml`` and ``RUN/split.json``
through the bundle's own preprocessing, so the check sees what users will feed.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from emotune.exceptions import BundleError, ConfigError

__all__ = ["PARITY_TOLERANCE", "export_onnx", "min_time", "run_test_items", "run_test_samples"]

PARITY_TOLERANCE = 1e-4
"""Largest allowed absolute difference of probabilities between ONNX Runtime and PyTorch."""

_TIME_PROBES = (1, 2, 3, 4, 5, 6, 8, 12, 16, 24, 32, 64)


def min_time(onnx_path: str | Path, x: np.ndarray, mask: np.ndarray | None) -> int:
    """The fewest time steps the graph accepts (convolutions need a few), probed with ONNX Runtime.

    PyTorch pads a too-short input inside ``forward`` with Python code the
    tracer does not record; the exported graph instead gets its input padded
    (masked) to this many steps by :class:`~emotune.serving.onnx_runtime.OnnxBackend`.
    ``1`` for vector inputs.
    """
    from emotune.serving.onnx_runtime import OnnxBackend

    if mask is None:
        return 1
    backend = OnnxBackend(onnx_path)
    for t in _TIME_PROBES:
        xt = np.zeros((1, t, *x.shape[2:]), x.dtype)
        if x.dtype == np.int64:
            xt[:] = 1  # a real token, not padding
        try:
            backend(xt, np.ones((1, t), bool))
            return t
        except Exception:  # onnxruntime's own error type: a kernel wider than the input
            continue
    raise BundleError(f"{onnx_path}: the exported graph runs on none of {_TIME_PROBES} time steps")


def _atomic_json(path: Path, obj: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(obj, fh, indent=1, default=str)
    os.replace(tmp, path)


def run_test_samples(run_dir: str | Path, *, limit: int | None = None) -> list[Any]:
    """The :class:`~emotune.data.Sample` objects of the run's test split, in split order.

    With outer folds (``fold_K_test`` parts) the test parts of every fold are
    used. ``limit`` keeps the first ``limit`` of them.

    Raises:
        BundleError: the run directory lacks ``config.yaml`` or ``split.json``,
            or a test sample is no longer in the corpus.
    """
    import yaml

    from emotune.data import load_dataset

    run_dir = Path(run_dir)
    cfg_path, split_path = run_dir / "config.yaml", run_dir / "split.json"
    for p in (cfg_path, split_path):
        if not p.is_file():
            raise BundleError(f"{p} not found: give the run directory that `emotune tune` wrote (RUN, not RUN/model)")
    cfg = yaml.safe_load(cfg_path.read_text()) or {}
    parts = json.loads(split_path.read_text())["parts"]
    test_ids = [i for name, ids in parts.items() if name == "test" or name.endswith("_test") for i in ids]
    if limit is not None:
        test_ids = test_ids[: int(limit)]
    dataset = load_dataset(
        cfg["dataset"], cfg.get("data_dir"), text_col=cfg.get("text_col", "text"),
        label_col=cfg.get("label_col", "label"), group_col=cfg.get("group_col"), on_bad_rows="skip",
    )
    by_id = {s.id: s for s in dataset.samples}
    missing = [i for i in test_ids if i not in by_id]
    if missing:
        raise BundleError(f"{split_path}: {len(missing)} test samples (first {missing[0]!r}) are no longer in "
                          f"dataset {cfg['dataset']!r}; the corpus changed since the run")
    return [by_id[i] for i in test_ids]


def raw_input(sample: Any, modality: str) -> str:
    """What a user would give for ``sample``: its text, its audio file, or its face image."""
    if modality == "text":
        return str(sample.text)
    if modality == "image":
        return str(sample.extra.get("image_path") or sample.video_path)
    return str(sample.audio_path)


def run_test_items(run_dir: str | Path, modality: str, *, limit: int | None = None) -> tuple[list[str], list[str]]:
    """Raw inputs (texts, audio or image paths) and labels of the run's test split (see :func:`run_test_samples`)."""
    samples = run_test_samples(run_dir, limit=limit)
    return [raw_input(s, modality) for s in samples], [s.label for s in samples]


def _with_softmax(model: Any, with_mask: bool) -> Any:
    """``model`` with a softmax on top: the module that is traced (``forward(x, mask)``, or ``forward(x)``)."""
    import torch

    class Proba(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, x, mask=None):
            return torch.softmax(self.model(x, mask).float(), dim=-1)

    class ProbaNoMask(Proba):
        def forward(self, x):
            return torch.softmax(self.model(x, None).float(), dim=-1)

    return (Proba() if with_mask else ProbaNoMask()).eval()


def _export(model: Any, x: np.ndarray, mask: np.ndarray | None, path: Path) -> None:
    import torch

    with_mask = mask is not None
    module = _with_softmax(model, with_mask)
    args = (torch.from_numpy(x),) + ((torch.from_numpy(mask),) if with_mask else ())
    names = ["x", "mask"] if with_mask else ["x"]
    axes: dict[str, dict[int, str]] = {"x": {0: "batch"}, "probabilities": {0: "batch"}}
    if with_mask:
        axes["x"][1] = "time"
        axes["mask"] = {0: "batch", 1: "time"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about Python-side checks of the mask
        torch.onnx.export(module, args, str(path), input_names=names, output_names=["probabilities"],
                          dynamic_axes=axes, opset_version=17, dynamo=False, do_constant_folding=True)


def _quantize(src: Path, dst: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm", "LSTM"])


def _scores(labels: list[str], y_true: list[str], proba: np.ndarray) -> dict[str, float]:
    from emotune.evaluation.metrics import classification_metrics

    index = {name: k for k, name in enumerate(labels)}
    y = np.array([index[v] for v in y_true])
    m = classification_metrics(y, proba, labels)
    return {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"]}


def export_onnx(
    run_dir: str | Path,
    out: str | Path | None = None,
    *,
    quantize: str | None = None,
    samples: int = 256,
    batch_size: int = 64,
) -> dict[str, Any]:
    """Export ``RUN/model`` to ONNX, check it on ``samples`` test inputs, optionally quantize.

    Args:
        run_dir: the run directory (holds ``model/``, ``config.yaml``, ``split.json``).
        out: the export folder (default ``RUN/export``).
        quantize: ``None`` or ``"dynamic"`` (int8 weights).
        samples: test inputs used for the parity check and the quantization cost.
        batch_size: inputs per forward pass.

    Returns:
        The parity report (also in ``parity.json``): ``max_abs_diff``, ``tolerance``,
        ``passed``, ``n_inputs``, ``files`` and, when quantized, ``quantization``.
    """
    from emotune.serving.bundle import read_bundle
    from emotune.serving.onnx_runtime import OnnxBackend
    from emotune.serving.predictor import TorchBackend
    from emotune.serving.preprocess import make_input_builder

    if quantize not in (None, "dynamic"):
        raise ConfigError(f"quantize must be None or 'dynamic', got {quantize!r}")
    run_dir = Path(run_dir)
    if not (run_dir / "model").exists():
        raise BundleError(f"{run_dir / 'model'} not found: give the run directory that `emotune tune` wrote "
                          "(RUN, which holds model/, config.yaml and split.json)")
    bundle = read_bundle(run_dir / "model")
    out = Path(out) if out is not None else run_dir / "export"
    out.mkdir(parents=True, exist_ok=True)
    builder = make_input_builder(bundle.meta)
    test = run_test_samples(run_dir, limit=samples)
    items = [raw_input(s, builder.modality) for s in test]
    y_true = [s.label for s in test]
    speakers = [s.group for s in test]  # a speech bundle's enrolment rule sees the speakers, as in evaluation
    built = builder.build(items, speakers if any(speakers) else None)
    if not built.ok:
        raise BundleError(f"none of the {len(items)} test inputs of {run_dir} could be read: "
                          f"{next(iter(built.errors.values()), '?')}")
    y_true = [y_true[i] for i in built.ok]
    x, mask = built.x, built.mask
    model = bundle.build_model()
    onnx_path = out / "model.onnx"
    t0 = time.perf_counter()
    _export(model, x[:2], None if mask is None else mask[:2], onnx_path)
    export_seconds = time.perf_counter() - t0

    shortest = min_time(onnx_path, x, mask)
    torch_backend, onnx_backend = TorchBackend(model), OnnxBackend(onnx_path, min_time=shortest)
    ref = _batched(torch_backend, x, mask, batch_size)
    got = _batched(onnx_backend, x, mask, batch_size)
    diff = float(np.max(np.abs(ref - got)))
    labels = bundle.labels
    report: dict[str, Any] = {
        "max_abs_diff": diff,
        "tolerance": PARITY_TOLERANCE,
        "passed": bool(diff < PARITY_TOLERANCE),
        "n_inputs": int(len(y_true)),
        "n_unreadable": len(built.errors),
        "export_seconds": round(export_seconds, 2),
        "files": {"model.onnx": onnx_path.stat().st_size},
        "scores": {"torch": _scores(labels, y_true, ref), "onnx": _scores(labels, y_true, got),
                   "bundle_metrics": {k: (bundle.meta.get("metrics") or {}).get(k) for k in ("accuracy", "macro_f1")}},
    }
    _atomic_json(out / "preprocessing.json", _preprocessing(bundle, x, mask, shortest))
    if quantize == "dynamic":
        q_path = out / "model.int8.onnx"
        _quantize(onnx_path, q_path)
        q = _batched(OnnxBackend(q_path, min_time=shortest), x, mask, batch_size)
        report["files"]["model.int8.onnx"] = q_path.stat().st_size
        report["quantization"] = {
            "kind": "dynamic int8 (MatMul, Gemm, LSTM weights)",
            "n_inputs": int(len(y_true)),
            "max_abs_diff_vs_fp32": float(np.max(np.abs(q - got))),
            "fp32": _scores(labels, y_true, got),
            "int8": _scores(labels, y_true, q),
            "agreement": float(np.mean(q.argmax(1) == got.argmax(1))),
        }
        report["quantization"]["accuracy_cost"] = (report["quantization"]["fp32"]["accuracy"]
                                                   - report["quantization"]["int8"]["accuracy"])
        _atomic_json(out / "quantization.json", report["quantization"])
    _atomic_json(out / "parity.json", report)
    return report


def _batched(backend: Any, x: np.ndarray, mask: np.ndarray | None, batch_size: int) -> np.ndarray:
    rows = []
    for start in range(0, len(x), batch_size):
        m = None if mask is None else mask[start : start + batch_size]
        if m is not None:  # trim the batch to its longest sequence, as a served batch would be
            m = m[:, : max(int(m.sum(1).max()), 1)]
            rows.append(backend(x[start : start + batch_size, : m.shape[1]], m))
        else:
            rows.append(backend(x[start : start + batch_size], None))
    return np.concatenate(rows)


def _preprocessing(bundle: Any, x: np.ndarray, mask: np.ndarray | None, shortest: int) -> dict[str, Any]:
    """``preprocessing.json``: the bundle's feature settings with arrays as lists, and the graph's inputs."""
    def plain(obj: Any) -> Any:
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        if isinstance(obj, dict):
            return {k: plain(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [plain(v) for v in obj]
        return obj

    meta = bundle.meta
    inputs = {"x": {"dtype": str(x.dtype), "shape": ["batch", "time", *x.shape[2:]] if mask is not None
                    else ["batch", *x.shape[1:]]}}
    if mask is not None:
        inputs["mask"] = {"dtype": "bool", "shape": ["batch", "time"], "meaning": "True at real steps, right-padded"}
    return {
        "format": "emotune-onnx/1",
        "task": meta["task"],
        "model": meta["model"],
        "labels": meta["labels"],
        "inputs": inputs,
        "output": {"name": "probabilities", "dtype": "float32", "shape": ["batch", len(meta["labels"])]},
        "min_time": shortest,
        "features": plain(meta["features"]),
        "encoders": meta.get("encoders"),
        "emotune_version": meta.get("emotune_version"),
        "data_fingerprint": meta.get("data_fingerprint"),
    }
