"""``emotune tune --task face`` on CK+48 and ``--task multimodal`` on RAVDESS audio + Action Units, end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emotune.experiments.config import TuneConfig
from emotune.experiments.face_inputs import FaceInputs


def test_face_inputs_use_training_statistics_only():
    rng = np.random.default_rng(0)
    feats = [rng.normal(size=4).astype(np.float32) * 3 + 5 for _ in range(10)]
    inputs = FaceInputs(feats, [f"s{i % 2}" for i in range(10)], features_name="hog")
    fold = inputs.build(np.arange(6), np.arange(6, 10), {})
    np.testing.assert_allclose(fold.x_train.mean(axis=0), 0.0, atol=1e-5)
    before = fold.bundle["mean"]
    inputs.features[8] = inputs.features[8] + 1000
    inputs.x_ = None
    assert inputs.build(np.arange(6), np.arange(6, 10), {}).bundle["mean"] == before
    assert fold.input_spec.kind == "vector" and fold.input_spec.feature_dim == 4


def test_face_task_defaults():
    cfg = TuneConfig(task="face", dataset="ckplus")
    assert cfg.features == "mx_hog" and cfg.model == "linear" and cfg.resolved_outer_cv() == "group:5"
    assert cfg.cv == "group:5" and TuneConfig(task="face", cv="holdout").cv == "holdout"
    assert TuneConfig(task="speech").cv == "group:3" and TuneConfig(task="speech", cv="holdout").cv == "holdout"
    assert TuneConfig(task="text").cv == TuneConfig(task="multimodal").cv == "holdout"
    cfg = TuneConfig(task="multimodal", dataset="ravdess-av", modalities=["audio", "face"], fusion="stacking")
    assert cfg.features == "egemaps" and cfg.model == "mlp"
    from emotune.exceptions import ConfigError

    with pytest.raises(ConfigError, match="fusion"):
        TuneConfig(task="multimodal", fusion="median")
    with pytest.raises(ConfigError, match="modalities"):
        TuneConfig(task="multimodal", modalities=["smell"])


@pytest.mark.slow
def test_face_tune_on_ckplus_by_subject(shared_data, tmp_path):
    from emotune.experiments.tune import run_tune

    cfg = TuneConfig(task="face", dataset="ckplus", data_dir=str(shared_data / "ckplus48-dev"), features="hog",
                     limit=120, outer_cv="group:3", trials=2, epochs=3, optimizer="random", out=str(tmp_path / "run"),
                     cache_dir=str(tmp_path / "cache"), progress=False)
    result = run_tune(cfg)
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    assert saved["test_metrics"]["unweighted_accuracy"] > 1 / 7
    names = [r["name"] for r in [saved["baseline_metrics"], *saved["reference_metrics"]]]
    assert names == ["pixels_pca_logreg", "hog_linear_svm", "mini_xception_logreg"]
    split = json.loads((tmp_path / "run" / "split.json").read_text())["parts"]
    subjects = [{i.split("/")[1].split("_")[0] for i in split[f"fold_{k}_test"]} for k in (1, 2, 3)]
    assert not (subjects[0] & subjects[1]) and not (subjects[1] & subjects[2]), "a subject is in two test folds"
    assert result["protocol"]["test"].startswith("pooled over 3 outer folds")


@pytest.mark.slow
def test_multimodal_tune_on_ravdess_av(shared_data, tmp_path):
    pytest.importorskip("opensmile")
    from emotune.experiments.tune import run_tune

    cfg = TuneConfig(task="multimodal", dataset="ravdess-av", data_dir=str(shared_data / "ravdess-av-dev"),
                     limit=160, outer_cv="group:3", trials=2, epochs=3, optimizer="random", fusion="late_aquila",
                     out=str(tmp_path / "mm"), cache_dir=str(tmp_path / "cache"), progress=False)
    result = run_tune(cfg)
    saved = json.loads((tmp_path / "mm" / "result.json").read_text())
    assert set(saved["modality_metrics"]) == {"audio", "face"}
    assert set(saved["fusion_metrics"]) == {"late_aquila", "late_equal", "stacking", "intermediate", "early"}
    assert saved["test_metrics"] == saved["fusion_metrics"]["late_aquila"]
    for fold in saved["folds"]:
        assert sum(fold["weights"]["late_aquila"]) == pytest.approx(1.0)
    assert "RAVDESS" in saved["protocol"]["warning"]
    assert result["data"]["n_test"] == 160
    assert "audio alone" in (tmp_path / "mm" / "report.md").read_text()


def test_multimodal_vector_inputs_normalise_by_training_rows_or_by_speaker_and_keep_missing_rows_zero():
    from emotune.experiments.multimodal_inputs import ConcatInputs, Modality, VectorInputs

    rng = np.random.default_rng(0)
    groups = np.array(["a"] * 6 + ["b"] * 6)
    x = rng.normal(size=(12, 3)).astype(np.float32) + np.where(groups == "a", 10.0, -10.0)[:, None]
    present = np.ones(12, bool)
    present[3] = False
    audio = Modality("audio", x, present)
    face = Modality("face", rng.normal(size=(12, 2)).astype(np.float32), np.ones(12, bool))
    train, test = np.arange(8), np.arange(8, 12)
    fold = VectorInputs(audio).build(train, test, {})
    rows = np.flatnonzero(present[train])
    np.testing.assert_allclose(fold.x_train[rows].mean(axis=0), 0.0, atol=1e-5)
    assert not fold.x_train[3].any()
    spk = VectorInputs(audio, "speaker", groups).build(train, test, {})
    both = np.concatenate([spk.x_train, spk.x_eval])
    for g in ("a", "b"):
        keep = (groups == g) & present
        np.testing.assert_allclose(both[keep].mean(axis=0), 0.0, atol=1e-5)
    cat = ConcatInputs([audio, face]).build(train, test, {})
    assert cat.x_train.shape == (8, 3 + 2 + 2)
    np.testing.assert_array_equal(cat.x_train[:, -2:], np.stack([present[train], np.ones(8)], axis=1))
