"""A face bundle (CK+ crops): predict on images and a folder with a broken one, HTTP image upload, ONNX export."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from emotune.cli import app
from emotune.serving.predictor import Predictor

runner = CliRunner()
pytestmark = pytest.mark.slow  # the CK+ fixture extracts face features (~45 s on a busy machine)


def test_face_bundle_predicts_exactly_what_evaluation_computed(face_run):
    proba = Predictor.load(face_run.path / "model").predict_proba(face_run.items)
    np.testing.assert_allclose(proba, face_run.eval_proba, atol=1e-5)


def test_predict_a_folder_of_images_with_a_broken_one(face_run, tmp_path):
    folder = tmp_path / "faces"
    folder.mkdir()
    for path in face_run.items[:3]:
        shutil.copy(path, folder)
    (folder / "zz_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    out = tmp_path / "p.csv"
    result = runner.invoke(app, ["predict", str(face_run.path / "model"), str(folder), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(newline="")))
    assert len(rows) == 4 and [r["error"] for r in rows[:3]] == ["", "", ""]
    assert rows[3]["input"].endswith("zz_broken.png") and rows[3]["error"] and not rows[3]["label"]


def test_image_upload_over_http(face_run, live):
    httpx = pytest.importorskip("httpx")
    from emotune.serving.service import Limits, create_app

    path = Path(face_run.items[0])
    with live(create_app(Predictor.load(face_run.path / "model"), Limits())) as url:
        r = httpx.post(f"{url}/predict", files={"file": (path.name, path.read_bytes(), "image/png")})
        assert r.status_code == 200, r.text
        labels = r.json()["labels"]
        np.testing.assert_allclose([r.json()["predictions"][0]["proba"][k] for k in labels], face_run.eval_proba[0],
                                   atol=1e-5)
        bad = httpx.post(f"{url}/predict", files={"file": ("x.png", b"\x89PNG broken", "image/png")})
        assert bad.status_code == 422
        wrong = httpx.post(f"{url}/predict", files={"file": ("x.wav", b"RIFF", "audio/wav")})
        assert wrong.status_code == 415


def test_face_model_onnx_export(face_run, tmp_path):
    from emotune.serving.export import export_onnx

    report = export_onnx(face_run.path, tmp_path / "onnx", quantize="dynamic", samples=12)
    assert report["passed"] and report["n_inputs"] == 12
    assert report["scores"]["onnx"]["accuracy"] == pytest.approx(report["scores"]["bundle_metrics"]["accuracy"])
    pre = json.loads((tmp_path / "onnx" / "preprocessing.json").read_text())
    assert pre["task"] == "face" and "mask" not in pre["inputs"]
