"""Motion capture as a modality of ``emotune tune --task multimodal``: hand-made IEMOCAP-style streams through the
manifest, ``mocap_cnn`` inside intermediate fusion, pooled vectors for the rest."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from emotune.cli import app
from emotune.experiments.multimodal_inputs import ConcatInputs, Modality, pooled_frames

FPS = 60


def _stream(path, times, values, names):
    lines = ["Frame# Time " + " ".join(names)]
    lines += [f"{i + 1} {t:.4f} " + " ".join(f"{v:.3f}" for v in row) for i, (t, row) in enumerate(zip(times, values))]
    path.write_text("\n".join(lines) + "\n")


def make_mocap_manifest(root, *, speakers=6, per_speaker=8, seed=0):
    """One dialogue per speaker (a face-marker stream and a head stream, 60 fps), utterances of 1.5 s every 2 s;
    ``angry`` utterances shake the markers at 6 Hz with 5x the amplitude of ``neutral`` ones. The face vector
    (.npy) is noise. Returns the manifest path."""
    rng = np.random.default_rng(seed)
    rows = ["id,label,speaker,face,mocap,start,end"]
    for s in range(speakers):
        folder = root / f"Ses{s:02d}"
        folder.mkdir(parents=True)
        times = np.arange(per_speaker * 2 * FPS) / FPS
        markers = rng.normal(0, 0.2, size=(len(times), 6))
        head = np.cumsum(rng.normal(0, 0.01, size=(len(times), 3)), axis=0)
        for u in range(per_speaker):
            label = "angry" if (u + s) % 2 else "neutral"
            inside = (times >= 2 * u) & (times < 2 * u + 1.5)
            amp = 5.0 if label == "angry" else 1.0
            markers[inside] += amp * np.sin(2 * np.pi * 6 * times[inside])[:, None] * rng.uniform(0.5, 1.5, 6)
            np.save(folder / f"u{u}.npy", rng.normal(size=4).astype(np.float32))
            rows.append(f"S{s}_u{u},{label},spk{s},Ses{s:02d}/u{u}.npy,Ses{s:02d}/rotated.txt;Ses{s:02d}/head.txt,"
                        f"{2 * u:.2f},{2 * u + 1.5:.2f}")
        _stream(folder / "rotated.txt", times, markers, [f"CH{c // 3}_{'XYZ'[c % 3]}" for c in range(6)])
        _stream(folder / "head.txt", times, head, ["pitch", "roll", "yaw"])
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root / "manifest.csv"


def test_mocap_modality_loads_200_segments_and_their_pooled_vector(tmp_path):
    from emotune.experiments.config import TuneConfig
    from emotune.experiments.multimodal_inputs import load_multimodal

    manifest = make_mocap_manifest(tmp_path, speakers=2, per_speaker=4)
    cfg = TuneConfig(task="multimodal", dataset="manifest", data_dir=str(manifest), modalities=["face", "mocap"],
                     cache_dir=str(tmp_path / "cache"), progress=False)
    dataset, (face, mocap) = load_multimodal(cfg)
    assert len(dataset) == 8 and face.dim == 4 and mocap.present.all()
    assert mocap.frames.shape == (8, 200, 9) and mocap.dim == 18 and mocap.steps == 200
    np.testing.assert_allclose(mocap.x[3], pooled_frames(mocap.frames[3]), rtol=1e-5)
    assert dataset.samples[0].extra["mocap_files"][1].endswith("head.txt")
    # intermediate fusion's input carries the frames (for mocap_cnn); early fusion's the pooled vector
    frames = ConcatInputs([face, mocap], frames=True)
    assert frames.modality_dims == [4, 200 * 9] and frames.modality_steps == [0, 200]
    assert ConcatInputs([face, mocap]).modality_dims == [4, 18]
    x = frames.build(np.arange(6), np.arange(6, 8), {}).x_train
    assert x.shape == (6, 4 + 1800 + 2)
    np.testing.assert_allclose(x[:, 4:1804].reshape(-1, 9).mean(axis=0), 0.0, atol=1e-4)


def test_intermediate_fusion_reads_frame_blocks_with_the_mocap_cnn_body():
    """Frames rising vs falling in time have the same pooled mean and std: the frame block reaches the model as
    frames, through the mocap_cnn body (convolutions over time), which tells them apart."""
    from emotune.models import build_model
    from emotune.models.inputs import InputSpec
    from emotune.training import TensorSplit, TrainConfig, predict_proba, train

    rng = np.random.default_rng(0)
    n, t, f = 96, 40, 2
    y = np.arange(n) % 2
    ramp = np.linspace(-1, 1, t)[:, None]
    frames = np.stack([(ramp if c else -ramp) + 0.1 * rng.normal(size=(t, f)) for c in y]).astype(np.float32)
    pooled = np.stack([pooled_frames(fr) for fr in frames])
    assert abs(pooled[y == 1, :2].mean() - pooled[y == 0, :2].mean()) < 0.1  # no signal in the pooled mean
    face = rng.normal(size=(n, 3)).astype(np.float32)
    x = np.concatenate([face, frames.reshape(n, -1), np.ones((n, 2), np.float32)], axis=1)
    spec = InputSpec(kind="vector", feature_dim=x.shape[1])
    torch.manual_seed(0)
    model = build_model("fusion_mlp", {"modality_dims": [3, t * f], "modality_steps": [0, t], "hidden_size": 8,
                                       "fusion_size": 16, "dropout": 0.0}, n_classes=2, input_spec=spec)
    assert type(model.encoders[1]).__name__ == "_FrameEncoder" and model.encoders[1].steps == t
    split = lambda a, b: TensorSplit(torch.from_numpy(x[a:b]), torch.from_numpy(y[a:b]), None)  # noqa: E731
    train(model, split(0, 64), None, TrainConfig(epochs=15, lr=3e-3, batch_size=16, seed=0), progress=False)
    acc = (predict_proba(model, torch.from_numpy(x[64:]), None).argmax(1) == y[64:]).mean()
    assert acc > 0.9, acc
    with pytest.raises(Exception, match="modality_steps"):
        build_model("fusion_mlp", {"modality_dims": [3, 81], "modality_steps": [0, 40]}, n_classes=2,
                    input_spec=InputSpec(kind="vector", feature_dim=86))


@pytest.mark.slow
def test_tune_multimodal_face_and_mocap_end_to_end_through_the_cli(tmp_path):
    manifest = make_mocap_manifest(tmp_path / "data")
    out = tmp_path / "run"
    (tmp_path / "run.yaml").write_text("seed: 0\ntask: multimodal\npatience: 10\n")  # tiny folds: be patient
    result = CliRunner().invoke(app, [
        "tune", "--config", str(tmp_path / "run.yaml"), "--dataset", "manifest", "--data-dir", str(manifest),
        "--modalities", "face,mocap", "--fusion", "intermediate", "--optimizer", "random", "--trials", "2",
        "--epochs", "30", "--outer-cv", "group:3", "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "result.json").read_text())
    assert set(saved["modality_metrics"]) == {"face", "mocap"}
    assert saved["data"]["modalities"]["mocap"] == {"dim": 18, "present": 48, "steps": 200}
    assert saved["test_metrics"] == saved["fusion_metrics"]["intermediate"]
    # the shaking is plain in the motion capture and absent from the face noise
    ua = {k: v["unweighted_accuracy"] for k, v in {**saved["modality_metrics"], **saved["fusion_metrics"]}.items()}
    assert ua["face"] <= 0.7 and ua["mocap"] >= 0.7, ua
    assert ua["intermediate"] >= 0.8 and ua["early"] >= 0.75, ua
    assert "mocap alone" in (out / "report.md").read_text()
