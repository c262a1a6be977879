"""Real tuned bundles, built cheaply: a text model on 300 embedded tweets and a speech model on 24 RAVDESS clips.

Each fixture trains through the tune run's own fold path
(:func:`emotune.experiments.objective.fit_and_score`) and writes what
``emotune tune`` writes for serving: ``model/`` through
:func:`~emotune.serving.bundle.write_bundle` with the fold's preprocessing,
``config.yaml`` and ``split.json``. It also keeps the evaluation-time
probabilities of the test part, so tests can compare the bundle with them.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml


@dataclass
class TinyRun:
    """A run directory with its test items, labels and evaluation-time probabilities ``(n_test, C)``."""

    path: Path
    items: list[str]
    labels: list[str]
    eval_proba: np.ndarray
    speakers: list[str]


def _write_run(path: Path, cfg: Any, dataset: Any, train_idx, test_idx, model, fold, proba, y, labels) -> None:
    from emotune.evaluation.metrics import classification_metrics
    from emotune.experiments.config import save_config
    from emotune.experiments.objective import model_params
    from emotune.serving.bundle import data_fingerprint, write_bundle

    path.mkdir(parents=True, exist_ok=True)
    save_config(cfg, path / "config.yaml")
    ids = dataset.ids
    (path / "split.json").write_text(json.dumps({"format": "emotune-split", "version": 1, "parts": {
        "train": [ids[i] for i in train_idx], "test": [ids[i] for i in test_idx]}}))
    write_bundle(path / "model", model, model_name=cfg.model, params=model_params(cfg.fixed_params), labels=labels,
                 input_spec=fold.input_spec, features=fold.bundle, task=cfg.task,
                 metrics=classification_metrics(y[test_idx], proba, labels),
                 fingerprint=data_fingerprint([ids[i] for i in train_idx], [labels[k] for k in y[train_idx]]),
                 extra={"train_params": cfg.fixed_params})


@contextlib.contextmanager
def _one_thread():
    """Tiny models train faster on one thread, above all on a shared, busy machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="session")
def text_run(tmp_path_factory) -> TinyRun:
    with _one_thread():
        return _text_run(tmp_path_factory)


@pytest.fixture(scope="session")
def speech_run(tmp_path_factory, shared_data) -> TinyRun:
    with _one_thread():
        return _speech_run(tmp_path_factory, shared_data)


def _text_run(tmp_path_factory) -> TinyRun:
    from emotune._seeding import seed_everything
    from emotune.data import load_dataset
    from emotune.experiments.config import TuneConfig
    from emotune.experiments.objective import fit_and_score
    from emotune.experiments.text_inputs import TextInputs

    root = tmp_path_factory.mktemp("text_run")
    cfg = TuneConfig(task="text", dataset="tweets", limit=300, features="tokens", model="sa_lstm", epochs=3,
                     out=str(root / "run"), progress=False, seed=0,
                     fixed_params={"hidden_size": 16, "num_layers": 1, "batch_size": 32, "lr": 3e-3})
    seed_everything(0)
    dataset = load_dataset("tweets", None, limit=300, seed=0)
    labels = dataset.labels
    y = dataset.label_ids({n: i for i, n in enumerate(labels)})
    order = np.random.default_rng(0).permutation(len(y))
    train_idx, test_idx = np.sort(order[:240]), np.sort(order[240:])
    inputs = TextInputs(dataset.texts, features="tokens", max_len=cfg.max_len, seed=0)
    model, proba, _, fold = fit_and_score(cfg, inputs, len(labels), dict(cfg.fixed_params), train_idx, test_idx, y,
                                          epochs=3, with_val=False)
    _write_run(root / "run", cfg, dataset, train_idx, test_idx, model, fold, proba, y, labels)
    return TinyRun(root / "run", [dataset.texts[i] for i in test_idx], [labels[k] for k in y[test_idx]], proba,
                   [""] * len(test_idx))


def _speech_run(tmp_path_factory, shared_data) -> TinyRun:
    """``sa_lstm`` on MFCC frames (frame_pool 4, 3 s) of 24 RAVDESS clips of two actors, global normalisation."""
    from emotune.data import load_dataset
    from emotune.experiments.config import TuneConfig
    from emotune.experiments.objective import fit_and_score
    from emotune.experiments.speech_inputs import SpeechInputs, speech_features
    from emotune.features.audio_extractors import make_audio_extractor

    data_dir = shared_data / "ravdess-dev"
    root = tmp_path_factory.mktemp("speech_run")
    cfg = TuneConfig(task="speech", dataset="ravdess", data_dir=str(data_dir), features="mfcc", model="sa_lstm",
                     epochs=2, out=str(root / "run"), progress=False, seed=0, max_seconds=3.0, frame_pool=4,
                     fixed_params={"hidden_size": 16, "num_layers": 1, "batch_size": 8, "lr": 3e-3})
    full = load_dataset("ravdess", data_dir)
    keep = [i for i, s in enumerate(full.samples) if s.label in ("angry", "calm", "sad")][:24]
    dataset = full.subset(np.array(keep))
    labels = dataset.labels
    y = dataset.label_ids({n: i for i, n in enumerate(labels)})
    feats, _ = speech_features([s.audio_path for s in dataset.samples], "mfcc", workers=1, max_seconds=3.0)
    inputs = SpeechInputs(feats, dataset.groups, extractor=make_audio_extractor("mfcc"), max_seconds=3.0,
                          frame_pool=4, normalize="global")
    test_idx = np.arange(len(y))[np.arange(len(y)) % 4 == 0]
    train_idx = np.setdiff1d(np.arange(len(y)), test_idx)
    model, proba, _, fold = fit_and_score(cfg, inputs, len(labels), dict(cfg.fixed_params), train_idx, test_idx, y,
                                          epochs=2, with_val=False)
    _write_run(root / "run", cfg, dataset, train_idx, test_idx, model, fold, proba, y, labels)
    return TinyRun(root / "run", [dataset.samples[i].audio_path for i in test_idx], [labels[k] for k in y[test_idx]],
                   proba, [dataset.samples[i].group for i in test_idx])


@pytest.fixture(scope="session")
def face_run(tmp_path_factory, shared_data) -> TinyRun:
    with _one_thread():
        return _face_run(tmp_path_factory, shared_data)


def _face_run(tmp_path_factory, shared_data) -> TinyRun:
    """``mlp`` on raw 48x48 pixels of 60 CK+ crops (happy, surprise, sad), global normalisation."""
    from emotune.data import load_dataset
    from emotune.experiments.config import TuneConfig
    from emotune.experiments.face_inputs import FaceInputs
    from emotune.experiments.objective import fit_and_score
    from emotune.features.face_images import face_image_features

    data_dir = shared_data / "ckplus48-dev"
    root = tmp_path_factory.mktemp("face_run")
    cfg = TuneConfig(task="face", dataset="ckplus", data_dir=str(data_dir), features="pixels", model="mlp",
                     epochs=3, out=str(root / "run"), progress=False, seed=0,
                     fixed_params={"batch_size": 16, "lr": 1e-3})
    full = load_dataset("ckplus", data_dir)
    keep = [i for label in ("happy", "surprise", "sad") for i in
            [j for j, s in enumerate(full.samples) if s.label == label][:20]]
    dataset = full.subset(np.array(keep))
    labels = dataset.labels
    y = dataset.label_ids({n: i for i, n in enumerate(labels)})
    paths = [s.extra["image_path"] for s in dataset.samples]
    vecs, _ = face_image_features(paths, "pixels")
    inputs = FaceInputs(vecs, dataset.groups, features_name="pixels", normalize="global")
    test_idx = np.arange(len(y))[np.arange(len(y)) % 5 == 0]
    train_idx = np.setdiff1d(np.arange(len(y)), test_idx)
    model, proba, _, fold = fit_and_score(cfg, inputs, len(labels), dict(cfg.fixed_params), train_idx, test_idx, y,
                                          epochs=3, with_val=False)
    _write_run(root / "run", cfg, dataset, train_idx, test_idx, model, fold, proba, y, labels)
    return TinyRun(root / "run", [paths[i] for i in test_idx], [labels[k] for k in y[test_idx]], proba,
                   [dataset.samples[i].group for i in test_idx])


@contextlib.contextmanager
def running_server(app: Any):
    """Serve ``app`` with a real uvicorn server on an ephemeral loopback port; yields the base URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def yaml_config(path: Path) -> dict:
    return yaml.safe_load((path / "config.yaml").read_text())


@pytest.fixture(scope="session")
def live():
    """:func:`running_server`, for test modules (tests/ is not a package, so they cannot import it)."""
    return running_server
