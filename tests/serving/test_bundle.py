"""The model bundle: round trip, evaluation-time equality, and refusal of tampered or unknown bundles."""

from __future__ import annotations

import json
import pickle
import shutil
import zipfile

import numpy as np
import pytest

from emotune.exceptions import BundleError
from emotune.serving.bundle import (
    BUNDLE_FORMAT,
    data_fingerprint,
    pack_bundle,
    read_bundle,
    write_bundle,
)
from emotune.serving.predictor import Predictor


def _copy(run, tmp_path):
    target = tmp_path / "model"
    shutil.copytree(run.path / "model", target)
    return target


def test_bundle_predicts_exactly_what_evaluation_computed(text_run):
    """Same tokenizer, padding and weights as the fold that was scored: the probabilities match."""
    proba = Predictor.load(text_run.path / "model").predict_proba(text_run.items)
    np.testing.assert_allclose(proba, text_run.eval_proba, atol=1e-6)


def test_speech_bundle_predicts_exactly_what_evaluation_computed(speech_run):
    """Same MFCC extraction, pooling, cropping, normalisation statistics and padding as in the fold."""
    proba = Predictor.load(speech_run.path / "model").predict_proba(speech_run.items)
    np.testing.assert_allclose(proba, speech_run.eval_proba, atol=1e-5)


def test_round_trip_through_write_and_zip_gives_the_same_outputs(text_run, tmp_path):
    first = Predictor.load(text_run.path / "model")
    again = tmp_path / "again"
    b = first.bundle
    from emotune.models.inputs import InputSpec

    write_bundle(again, first.model, model_name=b.meta["model"], params=b.meta["params"], labels=b.labels,
                 input_spec=InputSpec(**b.meta["input_spec"]), features=b.meta["features"], task=b.meta["task"],
                 metrics=b.meta["metrics"], fingerprint=b.meta["data_fingerprint"])
    zipped = pack_bundle(again, tmp_path / "m.emotune")
    texts = text_run.items[:20]
    reference = first.predict_proba(texts)
    np.testing.assert_array_equal(Predictor.load(again).predict_proba(texts), reference)
    np.testing.assert_array_equal(Predictor.load(zipped).predict_proba(texts), reference)


def test_metadata_holds_what_a_user_needs(text_run):
    meta = read_bundle(text_run.path / "model").meta
    assert meta["format"] == BUNDLE_FORMAT
    assert meta["labels"] == ["negative", "neutral", "positive"]
    assert {"accuracy", "macro_f1"} <= set(meta["metrics"])
    assert len(meta["data_fingerprint"]["sha256"]) == 64 and meta["data_fingerprint"]["n_samples"] == 240
    assert meta["emotune_version"] and meta["features"]["tokenizer"]
    manifest = json.loads((text_run.path / "model" / "manifest.json").read_text())
    assert set(manifest["files"]) == {"bundle.json", "weights.safetensors"}


def test_a_flipped_byte_in_the_weights_is_refused(text_run, tmp_path):
    model = _copy(text_run, tmp_path)
    data = bytearray((model / "weights.safetensors").read_bytes())
    data[-7] ^= 0x01  # one bit of one weight
    (model / "weights.safetensors").write_bytes(bytes(data))
    with pytest.raises(BundleError, match="weights.safetensors: SHA-256 does not match"):
        read_bundle(model)


def test_an_edited_json_is_refused(text_run, tmp_path):
    model = _copy(text_run, tmp_path)
    meta = json.loads((model / "bundle.json").read_text())
    meta["labels"] = ["positive", "neutral", "negative"]  # swapped classes: silently wrong predictions
    (model / "bundle.json").write_text(json.dumps(meta, indent=1))
    with pytest.raises(BundleError, match="bundle.json: SHA-256 does not match"):
        Predictor.load(model)


def test_a_truncated_zip_member_is_refused(text_run, tmp_path):
    zipped = pack_bundle(text_run.path / "model", tmp_path / "m.emotune")
    bad = tmp_path / "bad.emotune"
    with zipfile.ZipFile(zipped) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info.filename, data[: len(data) // 2] if info.filename == "weights.safetensors" else data)
    with pytest.raises(BundleError, match="weights.safetensors"):
        read_bundle(bad)


def test_an_unknown_format_version_is_refused_with_a_way_out(text_run, tmp_path):
    model = _copy(text_run, tmp_path)
    manifest = json.loads((model / "manifest.json").read_text())
    manifest["format"] = "emotune-bundle/99"
    (model / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=r"emotune-bundle/99.*not supported.*install the emotune version"):
        read_bundle(model)


def test_a_format_1_bundle_without_manifest_is_refused(text_run, tmp_path):
    model = _copy(text_run, tmp_path)
    (model / "manifest.json").unlink()
    meta = json.loads((model / "bundle.json").read_text())
    meta["format"] = "emotune-bundle/1"
    (model / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="no manifest.json.*re-run `emotune tune`"):
        read_bundle(model)


def test_missing_bundle_names_the_path(tmp_path):
    with pytest.raises(BundleError, match="no model bundle"):
        read_bundle(tmp_path / "nothing")


def test_loading_never_unpickles(text_run, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a bundle load called pickle")

    import torch

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    assert Predictor.load(text_run.path / "model").predict(["a lovely day"])[0]["label"]


def test_preprocessing_arrays_go_to_safetensors_and_come_back(text_run, tmp_path):
    """A feature path adds state (e.g. enrolment statistics) by putting NumPy arrays in its features dict."""
    first = read_bundle(text_run.path / "model")
    stats = {"mean": np.arange(6, dtype=np.float32).reshape(2, 3), "rule": "per-speaker"}
    from emotune.models.inputs import InputSpec

    model = first.build_model()
    write_bundle(tmp_path / "m", model, model_name=first.meta["model"], params=first.meta["params"],
                 labels=first.labels, input_spec=InputSpec(**first.meta["input_spec"]),
                 features={**first.meta["features"], "enrolment": stats}, task="text")
    assert (tmp_path / "m" / "arrays.safetensors").is_file()
    assert json.loads((tmp_path / "m" / "bundle.json").read_text())["features"]["enrolment"]["mean"] == {
        "$array": "features/enrolment/mean"}
    again = read_bundle(tmp_path / "m").meta["features"]["enrolment"]
    np.testing.assert_array_equal(again["mean"], stats["mean"])
    assert again["rule"] == "per-speaker"
    (tmp_path / "m" / "arrays.safetensors").write_bytes(b"\0" * 16)
    with pytest.raises(BundleError, match="arrays.safetensors"):
        read_bundle(tmp_path / "m")


def test_data_fingerprint_ignores_order_and_sees_a_changed_label():
    a = data_fingerprint(["x1", "x2", "x3"], ["pos", "neg", "pos"])
    assert a == data_fingerprint(["x3", "x1", "x2"], ["pos", "pos", "neg"])
    assert a != data_fingerprint(["x1", "x2", "x3"], ["pos", "neg", "neg"])
    assert a["n_samples"] == 3


def test_encoder_versions_are_recorded_and_a_mismatch_is_a_warning():
    from emotune.serving.bundle import _environment_warnings, encoder_versions

    assert encoder_versions({"features": "tokens"}) == {}
    recorded = encoder_versions({"features": "minilm", "max_len": 40})
    assert set(recorded) == {"minilm-l6"} and "transformers" in recorded["minilm-l6"]
    assert set(encoder_versions({"extractor": {"name": "whisper"}})) == {"whisper"}
    assert set(encoder_versions({"features": "pixels", "level": "image"})) == {"face"}
    assert _environment_warnings({"encoders": recorded}) == []
    old = {"minilm-l6": {**recorded["minilm-l6"], "transformers": "0.0.1"}}
    (warning,) = _environment_warnings({"encoders": old})
    assert "transformers 0.0.1" in warning and "predictions may differ" in warning
