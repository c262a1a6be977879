"""Speech inputs of ``emotune tune --task speech``: normalisation, padding, pooling, bad clips, the whole run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from emotune.exceptions import ConfigError, FeatureError
from emotune.experiments.config import TuneConfig
from emotune.experiments.speech_inputs import SpeechInputs, bundle_features, load_speech
from emotune.features.audio_extractors import make_audio_extractor
from emotune.features.frames import feature_stats, max_frames

CREMA = "crema-d-dev"


def _frames_inputs(normalize: str = "global", frame_pool: int = 1, n: int = 12, seed: int = 0,
                   enrol_min_clips: int = 2) -> SpeechInputs:
    """12 synthetic clips of 2-feature MFCC-like frames, 5-30 frames long (max_seconds=0.3 allows 31), three speakers with different offsets."""
    rng = np.random.default_rng(seed)
    groups = [f"s{i % 3}" for i in range(n)]
    feats = [
        (rng.normal(size=(int(rng.integers(5, 31)), 2)) * (1 + i % 3) + 10 * (i % 3)).astype(np.float32)
        for i in range(n)
    ]
    ext = make_audio_extractor("mfcc", n_mfcc=2, deltas=False)
    return SpeechInputs(feats, groups, extractor=ext, max_seconds=0.3, frame_pool=frame_pool, normalize=normalize,
                        enrol_min_clips=enrol_min_clips)


# -- fast unit tests ---------------------------------------------------------------------------------------


def test_global_stats_use_training_clips_only():
    inputs = _frames_inputs()
    train, test = np.arange(8), np.arange(8, 12)
    before = inputs.build(train, test, {}).bundle
    inputs.features[10] = inputs.features[10] + 1000.0  # a test clip changes
    inputs.x_ = None  # re-pad
    after = inputs.build(train, test, {}).bundle
    assert before["mean"] == after["mean"] and before["std"] == after["std"]
    fold = inputs.build(train, test, {})
    real = fold.x_train[fold.mask_train]
    np.testing.assert_allclose(real.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(real.std(axis=0), 1.0, atol=1e-4)


def test_speaker_normalisation_gives_zero_mean_per_speaker():
    inputs = _frames_inputs("speaker")
    train, test = np.flatnonzero(inputs.groups != "s2"), np.flatnonzero(inputs.groups == "s2")  # by speaker
    fold = inputs.build(train, test, {})
    for x, mask, groups in ((fold.x_train, fold.mask_train, inputs.groups[train]),
                            (fold.x_eval, fold.mask_eval, inputs.groups[test])):
        for g in np.unique(groups):
            real = x[groups == g][mask[groups == g]]
            np.testing.assert_allclose(real.mean(axis=0), 0.0, atol=1e-5)
            np.testing.assert_allclose(real.std(axis=0), 1.0, atol=1e-4)
        assert not x[~mask].any(), "padded frames must be zero"


def test_enrolment_keeps_train_and_eval_apart_and_falls_back_below_the_minimum():
    """A speaker in both parts (split by sample) is enrolled separately in each; eval clips never move train inputs."""
    inputs = _frames_inputs("speaker", n=24, enrol_min_clips=2)
    train, test = np.arange(16), np.arange(16, 24)  # every speaker in both parts
    fold = inputs.build(train, test, {})
    inputs.features[20] = inputs.features[20] + 1000.0  # an evaluation clip changes
    inputs.x_ = None
    again = inputs.build(train, test, {})
    np.testing.assert_array_equal(again.x_train, fold.x_train)
    assert inputs.enrolment_["eval"]["n_fallback_clips"] == 0
    few = _frames_inputs("speaker", n=24, enrol_min_clips=4)  # 8 test clips: 2-3 per speaker, below 4
    f = few.build(train, test, {})
    assert few.enrolment_["eval"]["n_fallback_clips"] == 8 and few.enrolment_["train"]["n_fallback_clips"] == 0
    mean, std = np.asarray(f.bundle["mean"]), np.asarray(f.bundle["std"])
    expected = (few.x_[test] - mean.astype(np.float32)) / std.astype(np.float32)
    np.testing.assert_allclose(f.x_eval[f.mask_eval], expected[few.mask_[test]][:, :], atol=1e-5)
    assert "8 of 8 clips" in few.describe_normalization([few.enrolment_])


def test_auto_normalisation_is_enrolment_with_speakers_and_global_without():
    ext = make_audio_extractor("egemaps")
    feats = [np.full(88, float(i), np.float32) for i in range(4)]
    assert SpeechInputs(feats, ["a", "a", "b", "b"], extractor=ext, max_seconds=1.0, normalize="auto").normalize == "speaker"
    assert SpeechInputs(feats, [""] * 4, extractor=ext, max_seconds=1.0, normalize="auto").normalize == "global"
    assert TuneConfig(task="speech", features="egemaps").normalize == "auto"
    assert TuneConfig(task="text").normalize == "global"


def test_speaker_normalisation_without_groups_is_an_error():
    x = np.array([[1.0, 2.0], [3.0, 6.0], [10.0, 0.0], [14.0, 0.0]], np.float32)
    with pytest.raises(ConfigError, match="normalize='speaker'"):
        SpeechInputs([x[0]], [""], extractor=make_audio_extractor("egemaps"), max_seconds=1.0, normalize="speaker")


def test_padding_mask_and_input_spec_shapes():
    inputs = _frames_inputs("none")
    fold = inputs.build(np.arange(8), np.arange(8, 12), {})
    lengths = np.array([f.shape[0] for f in inputs.features])
    assert fold.x_train.shape == (8, lengths.max(), 2) and fold.x_train.dtype == np.float32
    assert fold.mask_train.shape == (8, lengths.max()) and fold.mask_train.dtype == bool
    np.testing.assert_array_equal(fold.mask_train.sum(axis=1), lengths[:8])
    np.testing.assert_array_equal(fold.x_train[0, : lengths[0]], inputs.features[0])
    assert fold.input_spec.kind == "frames" and fold.input_spec.feature_dim == 2
    assert fold.input_spec.max_len == max_frames(inputs.extractor, sr=16000, max_seconds=0.3) == 31


def test_frame_pool_shortens_sequences():
    plain = _frames_inputs("none").build(np.arange(8), np.arange(8, 12), {})
    pooled = _frames_inputs("none", frame_pool=4).build(np.arange(8), np.arange(8, 12), {})
    assert pooled.x_train.shape[1] == -(-plain.x_train.shape[1] // 4)
    assert pooled.input_spec.max_len == -(-31 // 4)
    np.testing.assert_array_equal(pooled.mask_train.sum(1), -(-plain.mask_train.sum(1) // 4))


def test_vector_features_and_bundle():
    rng = np.random.default_rng(1)
    feats = [rng.normal(size=88).astype(np.float32) for _ in range(6)]
    inputs = SpeechInputs(feats, ["a"] * 6, extractor=make_audio_extractor("egemaps"), max_seconds=2.0)
    fold = inputs.build(np.arange(4), np.arange(4, 6), {})
    assert fold.x_train.shape == (4, 88) and fold.mask_train is None and fold.input_spec.kind == "vector"
    mean, _ = feature_stats(np.stack(feats[:4]))
    np.testing.assert_allclose(fold.bundle["mean"], mean)
    assert fold.bundle["extractor"]["name"] == "egemaps" and fold.bundle["level"] == "clip"
    json.dumps(fold.bundle)


def test_config_validates_speech_fields():
    with pytest.raises(ConfigError, match="normalize must be one of"):
        TuneConfig(task="speech", features="mfcc", normalize="per-clip")
    with pytest.raises(ConfigError, match="frame_pool must be an int >= 1"):
        TuneConfig(task="speech", features="mfcc", frame_pool=0)
    with pytest.raises(ConfigError, match="max_seconds must be a positive"):
        TuneConfig(task="speech", features="mfcc", max_seconds=0)


# -- real clips (small) ------------------------------------------------------------------------------------


@pytest.fixture()
def tiny_corpus(shared_data: Path, tmp_path: Path) -> Path:
    """Six CREMA-D clips of two actors and two emotions, plus one corrupt file with a valid name."""
    root = tmp_path / "corpus"
    root.mkdir()
    for name in ("1001_DFA_ANG_XX", "1001_DFA_SAD_XX", "1001_IEO_ANG_HI", "1002_DFA_ANG_XX", "1002_DFA_SAD_XX",
                 "1002_IEO_SAD_HI"):
        shutil.copy(shared_data / CREMA / "audio" / f"{name}.flac", root)
    (root / "1002_IEO_ANG_HI.flac").write_bytes(b"not audio at all")
    return root


def _tiny_config(corpus: Path, tmp_path: Path, **kw) -> TuneConfig:
    return TuneConfig(task="speech", dataset="crema-d", data_dir=str(corpus), features="mfcc", max_seconds=1.0,
                      workers=1, progress=False, cache_dir=str(tmp_path / "cache"), **kw)


def test_failed_clips_are_dropped_and_reported(tiny_corpus: Path, tmp_path: Path):
    dataset, inputs = load_speech(_tiny_config(tiny_corpus, tmp_path, on_bad_rows="skip"))
    assert len(dataset) == 6 and len(inputs.features) == 6
    assert [b.file.endswith("1002_IEO_ANG_HI.flac") for b in dataset.skipped] == [True]
    assert dataset.skipped[0].field == "audio"
    with pytest.raises(FeatureError, match="1002_IEO_ANG_HI"):
        load_speech(_tiny_config(tiny_corpus, tmp_path, on_bad_rows="error"))


@pytest.mark.parametrize("normalize", ["global", "speaker"])
def test_bundle_features_rebuild_the_training_inputs(tiny_corpus: Path, tmp_path: Path, normalize: str):
    config = _tiny_config(tiny_corpus, tmp_path, on_bad_rows="skip", normalize=normalize, enrol_min_clips=2)
    dataset, inputs = load_speech(config)
    fold = inputs.build(np.arange(4), np.arange(4, 6), {})
    paths = [dataset.samples[i].audio_path for i in (4, 5)]
    speakers = [dataset.samples[i].group for i in (4, 5)]
    meta = json.loads(json.dumps(fold.bundle))
    x, mask = bundle_features(meta, paths, speakers)  # what `emotune predict` does with a speaker column
    t = x.shape[1]
    np.testing.assert_array_equal(mask, fold.mask_eval[:, :t])
    np.testing.assert_allclose(x, fold.x_eval[:, :t], atol=1e-5)
    if normalize == "speaker":
        assert meta["enrol_min_clips"] == 2 and inputs.enrolment_["eval"]["n_fallback_clips"] == 0
        alone, _ = bundle_features(meta, paths[:1], speakers[:1])  # one clip: below the minimum, global stats
        mean, std = np.asarray(meta["mean"], np.float32), np.asarray(meta["std"], np.float32)
        raw = inputs.features[4][: alone.shape[1]]
        np.testing.assert_allclose(alone[0][mask[0][: alone.shape[1]]], (raw - mean) / std, atol=1e-4)


# -- the whole run -----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_tune_speech_end_to_end(shared_data: Path, tmp_path: Path, monkeypatch):
    """Hold-out run with the default speaker enrolment; the bundle predicts the test clips as evaluated."""
    from emotune.data import load_dataset, load_split
    from emotune.experiments import tune
    from emotune.experiments.tune import run_tune
    from emotune.serving.predictor import Predictor

    final = {}
    original = tune.fit_and_score

    def spy(*args, **kw):
        out = original(*args, **kw)
        final.update(eval_idx=np.asarray(args[5]), proba=out[1])  # the last call: train+val -> test
        return out

    monkeypatch.setattr(tune, "fit_and_score", spy)

    out = tmp_path / "run"
    config = TuneConfig(
        task="speech", dataset="crema-d", data_dir=str(shared_data / CREMA), limit=120, features="mfcc",
        model="cnn_bilstm", optimizer="random", trials=2, epochs=2, max_seconds=3.0, out=str(out), progress=False,
        cache_dir=str(tmp_path / "cache"), outer_cv="holdout", cv="holdout",
    )
    result = run_tune(config)

    for name in ("config.yaml", "split.json", "trials.csv", "result.json", "report.md", "model/weights.safetensors",
                 "model/bundle.json", "search_curve.png", "confusion_matrix.png"):
        assert (out / name).is_file(), name
    split = load_split(out / "split.json")
    actors = {s.id: s.group for s in load_dataset("crema-d", shared_data / CREMA)}  # group = the actor
    speaker = lambda ids: {actors[i] for i in ids}  # noqa: E731
    assert speaker(split["test"]) and not speaker(split["test"]) & (speaker(split["train"]) | speaker(split["val"]))
    assert len(split["train"]) + len(split["val"]) + len(split["test"]) == 120

    saved = json.loads((out / "result.json").read_text())
    assert saved["test_metrics"]["accuracy"] == pytest.approx(result["test_metrics"]["accuracy"])
    names = [saved["baseline_metrics"]["name"]] + [r["name"] for r in saved["reference_metrics"]]
    assert names == ["egemaps_svm", "egemaps_logreg", "egemaps_svm+enrol", "egemaps_logreg+enrol",
                     "mfcc_meanstd_logreg", "mfcc_meanstd_logreg+enrol"]
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in saved["reference_metrics"])
    assert "speaker enrolment" in saved["protocol"]["normalization"]
    assert "Normalisation: speaker enrolment" in (out / "report.md").read_text()

    bundle = json.loads((out / "model" / "bundle.json").read_text())
    assert bundle["task"] == "speech" and bundle["features"]["features"] == "mfcc"
    clip = shared_data / CREMA / "audio" / f"{split['test'][0]}.flac"
    (pred,) = Predictor.load(out / "model").predict([str(clip)])
    assert pred["label"] in saved["labels"]
    assert sum(pred["proba"].values()) == pytest.approx(1.0, abs=1e-4)

    # the shipped model with the test speakers' clips (a manifest with a speaker column) = the evaluated outputs
    samples = load_dataset("crema-d", shared_data / CREMA, limit=120, seed=0).samples
    test = [samples[i] for i in final["eval_idx"]]
    preds = Predictor.load(out / "model").predict_many([s.audio_path for s in test], speakers=[s.group for s in test])
    got = np.array([[p.proba[label] for label in saved["labels"]] for p in preds])
    np.testing.assert_allclose(got, final["proba"], atol=1e-4)


def test_cli_features_extract_and_cache_commands(tiny_corpus: Path, tmp_path: Path):
    from typer.testing import CliRunner

    from emotune.cli import app

    runner = CliRunner()
    cache = str(tmp_path / "cli-cache")
    args = ["features", "extract", "--dataset", "crema-d", "--data-dir", str(tiny_corpus), "--features", "mfcc",
            "--workers", "1", "--max-seconds", "1", "--cache-dir", cache, "--no-progress"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "extracted 6, cached 0, failed 1" in first.output
    again = runner.invoke(app, args)
    assert "extracted 0, cached 6, failed 1" in again.output
    info = runner.invoke(app, ["cache", "info", "--cache-dir", cache])
    assert info.exit_code == 0 and "entries 6" in info.output
    assert runner.invoke(app, ["cache", "clear", "--cache-dir", cache], input="n\n").exit_code == 1
    cleared = runner.invoke(app, ["cache", "clear", "--cache-dir", cache, "--yes"])
    assert cleared.exit_code == 0 and "removed 6 entries" in cleared.output
    assert "entries 0" in runner.invoke(app, ["cache", "info", "--cache-dir", cache]).output


@pytest.mark.slow
def test_outer_folds_by_speaker_pool_every_clip_once(shared_data: Path, tmp_path: Path, monkeypatch):
    """The default speech protocol: outer group k-fold, nested validation speakers, pooled test predictions.

    A spy on ``SpeechInputs.build`` and on the trainer records every fit: the
    search never sees a fold's test clips, and each fold's final retrain trains
    on train + validation only, without validation data (so it cannot stop early).
    """
    import emotune.training
    from emotune.data import load_dataset, load_split
    from emotune.experiments import speech_inputs
    from emotune.experiments.tune import run_tune

    builds, fits = [], []
    original_build, original_train = speech_inputs.SpeechInputs.build, emotune.training.train

    def build_spy(self, train_idx, eval_idx, params):
        builds.append((set(map(int, train_idx)), set(map(int, eval_idx))))
        return original_build(self, train_idx, eval_idx, params)

    def train_spy(model, train_split, val, config, **kw):
        result = original_train(model, train_split, val, config, **kw)
        fits.append({"val": val is not None, "epochs": config.epochs, "run": len(result.history),
                     "stop": result.stop_reason})
        return result

    monkeypatch.setattr(speech_inputs.SpeechInputs, "build", build_spy)
    monkeypatch.setattr(emotune.training, "train", train_spy)

    out = tmp_path / "run"
    config = TuneConfig(
        task="speech", dataset="crema-d", data_dir=str(shared_data / CREMA), limit=150, features="egemaps",
        model="mlp", optimizer="lwaro", optimizer_options={"pop_size": 2}, trials=2, epochs=3, outer_cv="group:3",
        cv="holdout", out=str(out), progress=False, cache_dir=str(tmp_path / "cache"),
    )
    assert TuneConfig(task="speech", features="mfcc").resolved_outer_cv() == "group:5"
    result = run_tune(config)

    actors = {s.id: s.group for s in load_dataset("crema-d", shared_data / CREMA)}
    tested = []
    for k in (1, 2, 3):
        fold = out / f"fold_{k}"
        for name in ("trials.csv", "result.json", "report.md", "model/bundle.json"):
            assert (fold / name).is_file(), (k, name)
        parts = load_split(fold / "split.json")  # every fold writes its own train / val / test ids
        test_ids = load_split(out / "split.json")[f"fold_{k}_test"]
        assert sorted(parts["test"]) == sorted(test_ids)
        fold_result = json.loads((fold / "result.json").read_text())
        assert fold_result["data"]["n_test"] == len(test_ids)
        assert fold_result["data"]["n_train"] == len(parts["train"]) and fold_result["data"]["n_val"] == len(parts["val"])
        tested += test_ids
        spk = {part: {actors[i] for i in parts[part]} for part in ("train", "val", "test")}
        assert all(spk.values()), k
        assert not spk["train"] & spk["val"] and not spk["train"] & spk["test"] and not spk["val"] & spk["test"], k
        assert len(parts["train"]) + len(parts["val"]) + len(parts["test"]) == 150
    assert len(tested) == len(set(tested)) == 150  # every clip tested exactly once
    per_fold_speakers = [{actors[i] for i in load_split(out / "split.json")[f"fold_{k}_test"]} for k in (1, 2, 3)]
    for a, b in ((0, 1), (0, 2), (1, 2)):  # test speakers of every pair of folds
        assert not per_fold_speakers[a] & per_fold_speakers[b], (a, b)

    saved = json.loads((out / "result.json").read_text())
    assert saved["data"]["n_test"] == 150
    assert set(saved["fold_metrics"]["unweighted_accuracy"]) >= {"mean", "std"}
    assert np.array(saved["test_metrics"]["confusion_matrix"]).sum() == 150
    assert [r["name"] for r in [saved["baseline_metrics"], *saved["reference_metrics"]]] == [
        "egemaps_svm", "egemaps_logreg", "egemaps_svm+enrol", "egemaps_logreg+enrol"]
    assert len(saved["folds"]) == 3 and (out / "model" / "weights.safetensors").is_file()
    rows = (out / "trials.csv").read_text().splitlines()
    assert rows[0].startswith("fold,") and len(rows) == 1 + 3 * 2
    assert "Mean and spread over outer folds" in (out / "report.md").read_text()

    # spies: per fold 2 search fits (validation on the fold's val ids) then the final retrain on train + val
    ids = load_dataset("crema-d", shared_data / CREMA, limit=150, seed=0).ids
    index = {i: n for n, i in enumerate(ids)}
    assert len(builds) == len(fits) == 3 * 3 + 1  # + the model kept, retrained on all data
    for k in (1, 2, 3):
        parts = {p: {index[i] for i in v} for p, v in load_split(out / f"fold_{k}" / "split.json").items()}
        search, final = builds[(k - 1) * 3:(k - 1) * 3 + 2], builds[(k - 1) * 3 + 2]
        for train_idx, eval_idx in search:
            assert not (train_idx | eval_idx) & parts["test"], f"fold {k}: the search saw a test clip"
        assert final[0] == parts["train"] | parts["val"] and final[1] == parts["test"]
        retrain = fits[(k - 1) * 3 + 2]
        assert not retrain["val"] and retrain["run"] == retrain["epochs"] and retrain["stop"] == "completed"
    second = [[r for r in rows[1:] if r.startswith(f"{k},")][1].split(",", 3)[3] for k in (1, 2, 3)]
    assert len(set(second)) == 3, "each outer fold must search its own population (derived seed)"
