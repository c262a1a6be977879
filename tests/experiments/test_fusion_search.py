"""``--fusion search``: the fusion style and every modality's hyperparameters in one space, searched and retrained."""

from __future__ import annotations

import numpy as np
import pytest

from emotune.exceptions import ConfigError
from emotune.experiments.config import TuneConfig
from emotune.experiments.fusion_search import (JOINT_STYLES, fit_joint, joint_defaults, joint_space,
                                               make_joint_objective, search_joint, split_params)
from emotune.experiments.multimodal_inputs import ConcatInputs, Modality
from emotune.models import MODELS


def _xor_run(n=160, seed=0, trials=4, optimizer="random"):
    """Two modalities whose label is the XOR of their signs: no modality alone (nor any average of
    per-modality probabilities) beats chance, a model on both at once does."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, 2)).astype(np.float32)
    b = rng.normal(size=(n, 2)).astype(np.float32)
    y = ((a[:, 0] > 0) ^ (b[:, 0] > 0)).astype(np.int64)
    groups = np.array([f"s{i % 8}" for i in range(n)])
    mods = [Modality("audio", a, np.ones(n, bool)), Modality("face", b, np.ones(n, bool))]
    cfg = TuneConfig(task="multimodal", dataset="manifest", model="mlp", fusion="search", epochs=25, patience=25,
                     trials=trials, optimizer=optimizer, fitness="unweighted_accuracy", progress=False)
    return {"config": cfg, "y": y, "groups": groups, "mods": mods, "n_classes": 2, "normalize": "global",
            "concat": ConcatInputs(mods, "global", groups), "say": lambda *a, **k: None}


def test_joint_space_holds_the_style_and_a_prefixed_copy_of_every_models_space():
    mlp, fmlp = MODELS.get("mlp").space(), MODELS.get("fusion_mlp").space()
    space = joint_space(mlp, fmlp, ["audio", "face"])
    assert list(space.params["fusion"].choices) == list(JOINT_STYLES)
    for group, sub in (("audio", mlp), ("face", mlp), ("early", mlp), ("intermediate", fmlp)):
        assert {k.partition(".")[2] for k in space.names() if k.startswith(group + ".")} == set(sub.names())
    assert space.dim == 1 + 3 * mlp.dim + fmlp.dim
    style, groups = split_params({"fusion": "late_aquila", "audio.lr": 0.1, "face.lr": 0.2, "early.lr": 0.3,
                                  "shared": 1})
    assert style == "late_aquila"
    assert groups == {"audio": {"lr": 0.1}, "face": {"lr": 0.2}, "early": {"lr": 0.3}, "": {"shared": 1}}
    defaults = joint_defaults("mlp", ["audio", "face"], space)
    assert set(defaults) == set(space.names()) and defaults["fusion"] == "early"
    with pytest.raises(ConfigError, match="prefix"):
        joint_space(mlp, fmlp, ["early"])
    with pytest.raises(ConfigError, match="styles"):
        joint_space(mlp, fmlp, ["audio"], styles=["median"])
    assert TuneConfig(task="multimodal", fusion="search").fusion == "search"


def test_a_trial_trains_what_its_style_needs_and_joint_styles_beat_late_ones_on_xor():
    run = _xor_run()
    space = joint_space(MODELS.get("mlp").space(), MODELS.get("fusion_mlp").space(), ["audio", "face"])
    base = joint_defaults("mlp", ["audio", "face"], space)
    base.update({k: 64 for k in base if k.endswith("hidden_size")})
    base.update({k: 1e-2 for k in base if k.endswith(".lr")})
    idx = np.arange(160)
    folds = [(idx[:112], idx[112:])]
    objective = make_joint_objective(run, folds, seed=0)
    scores = {}
    for style in JOINT_STYLES:
        fit, attrs = objective({**base, "fusion": style})
        scores[style] = fit
        assert attrs["fusion"] == style
        expected = {"epochs.audio", "epochs.face"} if style.startswith("late") or style == "stacking" \
            else {f"epochs.{style}"}
        assert {k for k in attrs if k.startswith("epochs.")} == expected
    assert min(scores["early"], scores["intermediate"]) > 0.8, scores
    assert max(scores["late_equal"], scores["late_aquila"], scores["stacking"]) < 0.7, scores


def test_the_joint_search_picks_by_validation_fitness_and_fit_joint_retrains_the_chosen_pipeline(tmp_path):
    run = _xor_run(trials=5)
    idx = np.arange(160)
    params, attrs, _, n = search_joint(run, idx[:96], idx[96:128], seed=0, out=tmp_path)
    assert n == 5 and (tmp_path / "trials_search.csv").exists()
    assert params["fusion"] in ("early", "intermediate"), (params["fusion"], attrs)
    proba, info = fit_joint(run, params, attrs, idx[:128], idx[128:], seed=0)
    assert proba.shape == (32, 2) and info["fusion"] == params["fusion"]
    assert (proba.argmax(1) == run["y"][128:]).mean() > 0.75
    late, info = fit_joint(run, {**params, "fusion": "late_aquila"}, attrs, idx[:128], idx[128:], seed=0)
    assert late.shape == (32, 2) and sum(info["weights"]) == pytest.approx(1.0)
    np.testing.assert_allclose(late.sum(axis=1), 1.0, atol=1e-6)


@pytest.mark.slow
def test_tune_multimodal_fusion_search_end_to_end(tmp_path):
    import importlib.util
    import json
    from pathlib import Path

    from emotune.experiments.tune import run_tune

    spec = importlib.util.spec_from_file_location("_mocap_streams", Path(__file__).parent / "test_multimodal_mocap.py")
    streams = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(streams)
    manifest = streams.make_mocap_manifest(tmp_path / "data", speakers=6, per_speaker=6)
    cfg = TuneConfig(task="multimodal", dataset="manifest", data_dir=str(manifest), modalities=["face", "mocap"],
                     fusion="search", outer_cv="group:3", trials=3, epochs=10, patience=10, optimizer="random",
                     out=str(tmp_path / "run"), cache_dir=str(tmp_path / "cache"), progress=False)
    result = run_tune(cfg)
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    assert set(saved["fusion_metrics"]) == {"search"} and saved["test_metrics"] == saved["fusion_metrics"]["search"]
    assert set(saved["modality_metrics"]) == {"face", "mocap"}
    chosen = [f["chosen_fusion"] for f in saved["folds"]]
    assert len(chosen) == 3 and all(c in JOINT_STYLES for c in chosen)
    for fold, c in zip(saved["folds"], chosen):
        assert fold["best_params"]["search"]["fusion"] == c
        assert (tmp_path / "run" / f"fold_{fold['fold']}" / "trials_search.csv").exists()
    assert "chosen by the joint search per fold: " + ", ".join(chosen) in (tmp_path / "run" / "report.md").read_text()
    assert result["gain"]["best_fusion"] == "search"
