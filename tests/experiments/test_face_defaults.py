"""The face task's defaults are one configuration: the library's, the command line's and bench/face.py's."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from emotune.experiments.config import TuneConfig
from emotune.experiments.face_defaults import FACE_DEFAULTS, with_face_defaults


def _bench():
    spec = importlib.util.spec_from_file_location("bench_face", Path(__file__).parents[2] / "bench" / "face.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_face_runs_get_the_benchmark_chosen_configuration(tmp_path):
    from emotune.cli import _text_config

    cfg = _text_config(None, {"task": "face", "dataset": "ckplus", "data_dir": "x", "out": str(tmp_path)})
    assert {k: getattr(cfg, k) for k in FACE_DEFAULTS} == dict(FACE_DEFAULTS)
    # flags and YAML keys win; other tasks never get the face defaults
    assert _text_config(None, {"task": "face", "model": "mlp", "cv": "holdout"}).model == "mlp"
    y = tmp_path / "c.yaml"
    y.write_text("task: face\nfeatures: hog\nepochs: 7\n")
    from_file = _text_config(y, {"trials": 3})
    assert (from_file.features, from_file.epochs, from_file.trials, from_file.model, from_file.cv) == (
        "hog", 7, 3, FACE_DEFAULTS["model"], FACE_DEFAULTS["cv"])
    speech = _text_config(None, {"task": "speech", "features": "egemaps", "dataset": "crema-d"})
    assert (speech.epochs, speech.cv) != (FACE_DEFAULTS["epochs"], FACE_DEFAULTS["cv"])
    assert with_face_defaults({"task": "text"}) == {"task": "text"}


def test_the_library_resolves_the_same_features_model_and_search_protocol():
    cfg = TuneConfig(task="face")
    assert (cfg.features, cfg.model, cfg.cv) == (FACE_DEFAULTS["features"], FACE_DEFAULTS["model"],
                                                 FACE_DEFAULTS["cv"])


def test_bench_face_measures_exactly_the_defaults(tmp_path):
    # the README's tuned row comes from bench/face.py run with no options
    bench = _bench()
    args = bench.parse_args([])
    assert len(args.runs) == 1
    cfg = bench.tune_config(args, args.runs[0], tmp_path)
    assert {k: getattr(cfg, k) for k in FACE_DEFAULTS} == dict(FACE_DEFAULTS)
