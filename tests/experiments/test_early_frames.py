"""Frame-level early fusion (``--early-frames N``): every modality's frames aligned to N steps, concatenated per step."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emotune.experiments.multimodal_inputs import FrameConcatInputs, Modality


def test_frames_are_aligned_normalised_and_concatenated_per_step_with_vectors_repeated():
    rng = np.random.default_rng(0)
    n, t_audio, t_mocap = 10, 8, 200
    audio_frames = np.stack([np.arange(t_audio)[:, None] * [1.0, 10.0] + 100 for _ in range(n)]).astype(np.float32)
    audio = Modality("audio", audio_frames.mean(axis=1), np.ones(n, bool), audio_frames)
    mocap_frames = rng.normal(size=(n, t_mocap, 3)).astype(np.float32)
    mocap = Modality("mocap", rng.normal(size=(n, 6)).astype(np.float32), np.ones(n, bool), mocap_frames)
    present = np.ones(n, bool)
    present[9] = False
    face = Modality("face", rng.normal(5, 2, size=(n, 4)).astype(np.float32), present)
    inputs = FrameConcatInputs([audio, face, mocap], steps=4)
    fold = inputs.build(np.arange(7), np.arange(7, 10), {})
    assert fold.x_train.shape == (7, 4, 2 + 4 + 3 + 3) and fold.x_eval.shape == (3, 4, 12)
    assert fold.mask_train.all() and fold.input_spec.kind == "frames" and fold.input_spec.feature_dim == 12
    x = fold.x_train
    # audio: 8 frames aligned to 4 steps (frames 0, 2, 4, 6), z-scored with the training rows' frame statistics
    z = (np.array([0, 2, 4, 6]) - 3.5) / np.arange(8).std()
    np.testing.assert_allclose(x[0, :, 0], z, atol=1e-5)
    # face: a clip vector, the same at every step; missing rows are zero with their flag off
    np.testing.assert_allclose(x[:, 0, 2:6], x[:, 3, 2:6])
    assert not fold.x_eval[2, :, 2:6].any() and (fold.x_eval[2, :, -2] == 0).all()
    np.testing.assert_allclose(x[:, 0, -3:], 1.0)
    # mocap: 200 segments -> steps 0, 50, 100, 150
    mean, std = mocap_frames[:7].reshape(-1, 3).mean(0), mocap_frames[:7].reshape(-1, 3).std(0)
    np.testing.assert_allclose(x[1, :, 6:9], (mocap_frames[1, [0, 50, 100, 150]] - mean) / std, atol=1e-4)


def _chirp_manifest(root, n_speakers=6, per_speaker=6, sr=16000):
    """Rising vs falling tones: the same frequencies over a clip, in opposite order in time."""
    sf = pytest.importorskip("soundfile")
    rows = ["id,label,speaker,audio"]
    t = np.arange(int(0.6 * sr)) / sr
    rng = np.random.default_rng(0)
    for s in range(n_speakers):
        for u in range(per_speaker):
            label = "up" if (u + s) % 2 else "down"
            f0, f1 = (300.0, 2500.0) if label == "up" else (2500.0, 300.0)
            f0, f1 = f0 * rng.uniform(0.9, 1.1), f1 * rng.uniform(0.9, 1.1)
            phase = 2 * np.pi * (f0 * t + (f1 - f0) * t ** 2 / (2 * t[-1]))
            path = root / f"s{s}_{u}.wav"
            root.mkdir(parents=True, exist_ok=True)
            sf.write(str(path), 0.3 * np.sin(phase) + 0.01 * rng.normal(size=len(t)), sr)
            rows.append(f"s{s}_{u},{label},spk{s},{path.name}")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root / "manifest.csv"


@pytest.mark.slow
def test_early_frames_into_sa_lstm_through_the_cli(tmp_path):
    from typer.testing import CliRunner

    from emotune.cli import app

    manifest = _chirp_manifest(tmp_path / "data")
    out = tmp_path / "run"
    (tmp_path / "run.yaml").write_text("seed: 0\ntask: multimodal\npatience: 8\ncache_dir: " + str(tmp_path / "c") + "\n")
    result = CliRunner().invoke(app, [
        "tune", "--config", str(tmp_path / "run.yaml"), "--dataset", "manifest", "--data-dir", str(manifest),
        "--modalities", "audio", "--features", "mfcc", "--model", "sa_lstm", "--fusion", "early",
        "--early-frames", "16", "--optimizer", "random", "--trials", "2", "--epochs", "12", "--outer-cv", "group:3",
        "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "result.json").read_text())
    assert saved["config"]["early_frames"] == 16
    # sa_lstm reads frames only (a clip vector is refused): every system of this run got frame sequences
    assert saved["data"]["modalities"]["audio"]["steps"] == 16
    ua = saved["fusion_metrics"]["early"]["unweighted_accuracy"]
    assert ua >= 0.8, (ua, saved["modality_metrics"]["audio"]["unweighted_accuracy"])
