"""`emotune predict BUNDLE [INPUT...]` on texts, real audio files, a folder with a corrupt file and a manifest."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
from typer.testing import CliRunner

from emotune.cli import app
from emotune.serving.predictor import Predictor

runner = CliRunner()


def _rows(path):
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_texts_give_a_label_and_every_probability(text_run, tmp_path):
    out = tmp_path / "p.csv"
    result = runner.invoke(app, ["predict", str(text_run.path / "model"), "--text", text_run.items[0],
                                 "--text", text_run.items[1], "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = _rows(out)
    assert [r["input"] for r in rows] == text_run.items[:2]
    for row, expected in zip(rows, text_run.eval_proba[:2]):
        probs = [float(row[f"p_{label}"]) for label in ("negative", "neutral", "positive")]
        np.testing.assert_allclose(probs, expected, atol=1e-5)
        assert row["label"] == ["negative", "neutral", "positive"][int(np.argmax(expected))]


def test_a_bad_text_is_reported_and_the_others_still_predicted(text_run, tmp_path):
    out = tmp_path / "p.json"
    result = runner.invoke(app, ["predict", str(text_run.path / "model"), "--text", "   ", "--text", "fine day",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text())
    assert rows[0]["error"] == "text is empty; give a non-empty string" and rows[0]["label"] == ""
    assert rows[1]["error"] == "" and rows[1]["label"]
    strict = runner.invoke(app, ["predict", str(text_run.path / "model"), "--text", " ", "--text", "ok", "--strict"])
    assert strict.exit_code == 1


def test_all_inputs_failing_exits_non_zero(text_run, tmp_path):
    result = runner.invoke(app, ["predict", str(text_run.path / "model"), str(tmp_path / "missing.txt"), "--jsonl"])
    assert result.exit_code == 1
    assert json.loads(result.stdout.splitlines()[0])["error"].startswith("no such file")


def test_real_audio_files_and_a_folder_with_one_corrupt_file(speech_run, tmp_path):
    folder = tmp_path / "clips"
    folder.mkdir()
    for path in speech_run.items[:3]:
        shutil.copy(path, folder)
    good = sorted(folder.iterdir())
    (folder / "zz_corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 7)  # truncated header
    out = tmp_path / "p.csv"
    result = runner.invoke(app, ["predict", str(speech_run.path / "model"), str(folder), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = _rows(out)
    assert len(rows) == 4
    assert [r["error"] for r in rows[:3]] == ["", "", ""]
    assert rows[3]["input"].endswith("zz_corrupt.wav") and rows[3]["error"] and not rows[3]["label"]
    # the same clips straight from the files give the same probabilities
    expected = Predictor.load(speech_run.path / "model").predict_proba([str(p) for p in good])
    labels = json.loads((speech_run.path / "model" / "bundle.json").read_text())["labels"]
    got = np.array([[float(r[f"p_{label}"]) for label in labels] for r in rows[:3]])
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_manifest_with_speakers(speech_run, tmp_path):
    manifest = tmp_path / "m.csv"
    with manifest.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "speaker"])
        for path, speaker in zip(speech_run.items[:4], speech_run.speakers[:4]):
            writer.writerow([path, speaker])
        writer.writerow(["", "01"])  # an empty row is reported by line
    out = tmp_path / "p.csv"
    result = runner.invoke(app, ["predict", str(speech_run.path / "model"), str(manifest), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = _rows(out)
    assert [r["speaker"] for r in rows[:4]] == speech_run.speakers[:4]
    assert all(r["label"] for r in rows[:4])
    assert rows[4]["error"] == "row 6: field 'path' is empty"
    np.testing.assert_allclose([[float(r[k]) for k in r if k.startswith("p_")] for r in rows[:4]],
                               speech_run.eval_proba[:4], atol=1e-5)


def test_a_text_bundle_refuses_a_tampered_bundle_with_exit_2(text_run, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(text_run.path / "model", model)
    (model / "bundle.json").write_text((model / "bundle.json").read_text().replace('"sa_lstm"', '"mlp"'))
    result = runner.invoke(app, ["predict", str(model), "--text", "hello"])
    assert result.exit_code == 2
    assert "bundle.json" in result.output and "SHA-256" in result.output
