"""ONNX export: parity with PyTorch on the run's real test inputs, the CLI's verdict line, int8 quantization."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from emotune.cli import app
from emotune.serving import export as export_module
from emotune.serving.onnx_runtime import OnnxBackend
from emotune.serving.predictor import Predictor

runner = CliRunner()


@pytest.mark.slow
def test_text_model_onnx_matches_pytorch_on_test_inputs(text_run, tmp_path):
    out = tmp_path / "onnx"
    result = runner.invoke(app, ["export", str(text_run.path), "--format", "onnx", "--out", str(out),
                                 "--quantize", "dynamic", "--samples", "60"])
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("max_abs_diff ") and last.endswith(": ok")
    parity = json.loads((out / "parity.json").read_text())
    assert parity["passed"] and parity["max_abs_diff"] < 1e-4 and parity["n_inputs"] == 60
    # the whole test split, rebuilt from config.yaml + split.json, scores what the evaluation scored
    assert parity["scores"]["torch"]["accuracy"] == pytest.approx(parity["scores"]["bundle_metrics"]["accuracy"])
    pre = json.loads((out / "preprocessing.json").read_text())
    assert pre["labels"] == ["negative", "neutral", "positive"] and pre["features"]["tokenizer"]
    quant = json.loads((out / "quantization.json").read_text())
    assert {"fp32", "int8", "accuracy_cost", "agreement"} <= set(quant)
    assert (out / "model.int8.onnx").stat().st_size < (out / "model.onnx").stat().st_size

    # an independent check: ONNX Runtime alone, through the predictor's own preprocessing, on other batch sizes
    onnx = Predictor.load(text_run.path / "model", backend=OnnxBackend(out / "model.onnx", min_time=pre["min_time"]))
    torch_pred = Predictor.load(text_run.path / "model")
    for batch in (1, 7):
        got = np.concatenate([onnx.predict_proba(text_run.items[i:i + batch]) for i in range(0, 14, batch)])
        np.testing.assert_allclose(got, torch_pred.predict_proba(text_run.items[:14]), atol=1e-4)


def test_speech_model_onnx_matches_pytorch_with_masks(speech_run, tmp_path):
    """Clips of different lengths in one batch: the mask must reach the exported LSTM."""
    report = export_module.export_onnx(speech_run.path, tmp_path / "onnx", samples=6)
    assert report["passed"], report
    assert report["n_inputs"] == 6
    assert report["scores"]["onnx"]["macro_f1"] == pytest.approx(report["scores"]["bundle_metrics"]["macro_f1"])
    pre = json.loads((tmp_path / "onnx" / "preprocessing.json").read_text())
    assert pre["inputs"]["mask"]["shape"] == ["batch", "time"]


def test_a_failed_parity_check_exits_non_zero(text_run, tmp_path, monkeypatch):
    monkeypatch.setattr(export_module, "PARITY_TOLERANCE", 0.0)  # nothing can be below 0
    result = runner.invoke(app, ["export", str(text_run.path), "--out", str(tmp_path / "o"), "--samples", "10"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].endswith("FAILED")


def test_export_needs_the_run_directory(text_run):
    result = runner.invoke(app, ["export", str(text_run.path / "model")])
    assert result.exit_code == 2
    assert "run directory" in result.output


@pytest.mark.parametrize("fmt", ["emotune"])
def test_emotune_zip_export(text_run, tmp_path, fmt):
    out = tmp_path / "m.emotune"
    result = runner.invoke(app, ["export", str(text_run.path), "--format", fmt, "--out", str(out)])
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(Predictor.load(out).predict_proba(text_run.items[:5]), text_run.eval_proba[:5],
                               atol=1e-6)


def _inputs(kind: str, batch: int, steps: int, rng):
    from emotune.models.inputs import InputSpec

    lengths = rng.integers(1, steps + 1, size=batch)
    lengths[0] = steps
    mask = np.arange(steps)[None, :] < lengths[:, None]
    if kind == "tokens":
        spec = InputSpec(kind="tokens", vocab_size=50, embedding_dim=8, max_len=64)
        return spec, (rng.integers(1, 50, size=(batch, steps)) * mask).astype(np.int64), mask
    if kind == "frames":
        spec = InputSpec(kind="frames", feature_dim=6, max_len=64)
        return spec, (rng.normal(size=(batch, steps, 6)) * mask[..., None]).astype(np.float32), mask
    spec = InputSpec(kind="vector", feature_dim=6)
    return spec, rng.normal(size=(batch, 6)).astype(np.float32), None


def _contract_cases():
    from emotune.models import MODELS

    kinds = {name: MODELS.get(name).input_kinds for name in MODELS.names()}
    return [(name, "frames" if "frames" in k else k[0]) for name, k in kinds.items()]  # one kind each keeps it short


@pytest.mark.slow
@pytest.mark.parametrize("name, kind", _contract_cases())
def test_every_registered_model_exports_with_parity(name, kind, tmp_path):
    """Each model and input kind: traced on one shape, then run by ONNX Runtime on other batch sizes and lengths."""
    import torch

    from emotune.models import build_model
    from emotune.serving.export import _export, min_time
    from emotune.serving.predictor import TorchBackend

    from emotune.exceptions import ConfigError
    from emotune.models import MODELS

    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    spec, x, mask = _inputs(kind, 2, 20, rng)
    space = MODELS.get(name).default_space
    params = space.decode(np.zeros(space.dim))  # the small corner of the space keeps tracing quick
    try:
        model = build_model(name, params, n_classes=3, input_spec=spec).eval()
    except ConfigError as exc:  # e.g. an image model needs its own input width
        pytest.skip(f"{name} does not take a synthetic {kind} input: {exc}")
    _export(model, x, mask, tmp_path / "m.onnx")
    shortest = min_time(tmp_path / "m.onnx", x, mask)
    onnx, eager = OnnxBackend(tmp_path / "m.onnx", min_time=shortest), TorchBackend(model)
    for batch, steps in ((1, 3), (5, 33), (3, 20)):
        _, x, mask = _inputs(kind, batch, steps, rng)
        np.testing.assert_allclose(onnx(x, mask), eager(x, mask), atol=1e-4)
