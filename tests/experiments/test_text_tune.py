"""End-to-end `emotune tune` on real tweets: every file of the run directory, honest splits, bad rows."""

import csv
import json

import numpy as np
import pytest
import yaml

from emotune.exceptions import ConfigError, DatasetError
from emotune.experiments.config import TuneConfig, load_config
from emotune.experiments.tune import run_tune
from emotune.serving.predictor import Predictor


def _config(tmp_path, **kw):
    base = dict(
        dataset="tweets", limit=300, features="tokens", model="sa_lstm", optimizer="random", trials=2,
        epochs=2, patience=1, out=str(tmp_path / "run"), cache_dir=str(tmp_path / "cache"), progress=False,
        fixed_params={"hidden_size": 32, "num_layers": 1, "batch_size": 64},
    )
    base.update(kw)
    return TuneConfig(**base)


@pytest.fixture(scope="module")
def tweets_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tune")
    result = run_tune(_config(tmp))
    return tmp / "run", result


def test_run_directory_holds_every_file(tweets_run):
    run, _ = tweets_run
    for name in ("config.yaml", "split.json", "trials.csv", "result.json", "report.md", "search_curve.png",
                 "confusion_matrix.png", "model/weights.safetensors", "model/bundle.json"):
        assert (run / name).is_file(), name


def test_result_json_has_the_documented_keys(tweets_run):
    run, result = tweets_run
    on_disk = json.loads((run / "result.json").read_text())
    assert on_disk["best_params"] == result["best_params"]
    for key in ("best_params", "best_fitness", "test_metrics", "baseline_metrics", "timings"):
        assert key in on_disk
    for metrics in (on_disk["test_metrics"], on_disk["baseline_metrics"]):
        assert {"accuracy", "macro_f1", "unweighted_accuracy", "roc_auc", "per_class", "confusion_matrix"} <= set(metrics)
    assert on_disk["baseline_metrics"]["name"] == "tfidf_logreg"
    assert [r["name"] for r in on_disk["reference_metrics"]] == ["minilm_logreg"]
    # the verdict is against the best of the two reference rows, with a paired bootstrap interval
    comp = {c["metric"]: c for c in on_disk["comparison"]}
    assert set(comp) == {"macro_f1", "accuracy"}
    scores = {r["name"]: r["accuracy"] for r in [on_disk["baseline_metrics"], *on_disk["reference_metrics"]]}
    assert comp["accuracy"]["reference"] == max(scores, key=scores.get)
    assert comp["accuracy"]["difference"] == pytest.approx(on_disk["test_metrics"]["accuracy"] - max(scores.values()))
    assert comp["accuracy"]["low"] <= comp["accuracy"]["difference"] <= comp["accuracy"]["high"]
    assert np.array(on_disk["test_metrics"]["confusion_matrix"]).sum() == on_disk["data"]["n_test"]


def test_test_ids_never_reach_the_search(tweets_run):
    run, _ = tweets_run
    parts = json.loads((run / "split.json").read_text())["parts"]
    train, val, test = set(parts["train"]), set(parts["val"]), set(parts["test"])
    assert train and val and test
    assert not (train & test) and not (val & test) and not (train & val)
    assert len(train | val | test) == 300


def test_trials_csv_has_one_row_per_trial(tweets_run):
    run, _ = tweets_run
    rows = list(csv.DictReader((run / "trials.csv").open()))
    assert len(rows) == 2
    assert {"trial", "state", "fitness", "seconds", "lr"} <= set(rows[0])
    assert all(r["state"] == "complete" for r in rows)


def test_config_round_trips_and_report_mentions_the_reference(tweets_run):
    run, _ = tweets_run
    again = load_config(run / "config.yaml")
    assert again.to_dict() == yaml.safe_load((run / "config.yaml").read_text())
    report = (run / "report.md").read_text()
    assert "tfidf_logreg" in report and "points" in report


def test_bundle_predicts_without_the_run(tweets_run):
    run, result = tweets_run
    predictor = Predictor.load(run / "model")
    out = predictor.predict(["I love it", "this is terrible"])
    assert [set(o["proba"]) for o in out] == [set(result["labels"])] * 2
    assert all(abs(sum(o["proba"].values()) - 1) < 1e-4 for o in out)
    with pytest.raises(DatasetError, match="input 1: text is empty"):
        predictor.predict(["fine", "  "])


def test_bad_rows_stop_with_file_line_and_field(tmp_path):
    data = tmp_path / "d.csv"
    rows = ["text,label"] + [f"good text {i},{'pos' if i % 2 else 'neg'}" for i in range(40)] + [" ,pos"]
    data.write_text("\n".join(rows) + "\n")
    with pytest.raises(DatasetError, match=r"d\.csv.*line 42.*text"):
        run_tune(_config(tmp_path, dataset="csv", data_dir=str(data), limit=None))


def test_bad_rows_skipped_are_counted_in_the_report(tmp_path):
    data = tmp_path / "d.csv"
    rows = ["text,label"] + [f"good {'great' if i % 2 else 'awful'} text {i},{'pos' if i % 2 else 'neg'}" for i in range(60)]
    rows += [" ,pos", "no label here,"]
    data.write_text("\n".join(rows) + "\n")
    result = run_tune(_config(tmp_path, dataset="csv", data_dir=str(data), limit=None, on_bad_rows="skip"))
    assert result["data"]["skipped"] == 2
    assert "skipped" in (tmp_path / "run" / "report.md").read_text()


def test_every_trial_failing_is_a_clear_error(tmp_path):
    with pytest.raises(Exception, match="every trial failed"):
        run_tune(_config(tmp_path, fixed_params={"hidden_size": -3}))
    rows = list(csv.DictReader((tmp_path / "run" / "trials.csv").open()))
    assert [r["state"] for r in rows] == ["failed", "failed"]
    assert "hidden_size" in rows[0]["error"]


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"task": "video"}, "task must be one of"),
        ({"features": "mfcc"}, "features for task 'text' must be one of"),
        ({"test_size": 1.5}, "test_size must be in"),
        ({"trials": 0}, "trials must be >= 1"),
    ],
)
def test_config_errors_name_the_field(tmp_path, kw, message):
    with pytest.raises(ConfigError, match=message):
        _config(tmp_path, **kw)


def test_unknown_config_key_is_an_error():
    with pytest.raises(ConfigError, match="unknown config keys \\['epochz'\\]"):
        TuneConfig.from_dict({"epochz": 3})


@pytest.mark.slow
def test_minilm_frames_into_sa_lstm_with_lwaro(tmp_path):
    result = run_tune(_config(tmp_path, features="minilm", max_len=32, optimizer="lwaro", trials=3,
                              optimizer_options={"pop_size": 2}))
    assert result["trials"]["complete"] == 3
    bundle = json.loads((tmp_path / "run" / "model" / "bundle.json").read_text())
    assert bundle["features"]["features"] == "minilm" and bundle["input_spec"]["feature_dim"] == 384
    assert Predictor.load(tmp_path / "run" / "model").predict(["so happy today"])[0]["label"] in result["labels"]


@pytest.mark.slow
def test_ga_on_the_papers_21_bit_space_uses_the_tokenizer_gene(tmp_path):
    result = run_tune(_config(tmp_path, model="lstm_sa", preset="lstm_sa_ga21", optimizer="ga", trials=3, epochs=1,
                              limit=200, fixed_params={"d_model": 300, "n_layers": 1, "replications": 0,
                                                       "batch_size": 64}))
    assert result["trials"]["complete"] == 3
    assert result["best_params"]["tokenizer"] in ("blankspace", "wordpiece")
    bundle = json.loads((tmp_path / "run" / "model" / "bundle.json").read_text())
    assert bundle["features"]["tokenizer"]["name"] == result["best_params"]["tokenizer"]


def test_the_search_never_touches_a_test_sample(tmp_path, monkeypatch):
    """Every (train, eval) pair built during the search avoids the test split; only the final scoring sees it."""
    from emotune.experiments import text_inputs

    calls = []
    original = text_inputs.TextInputs.build

    def spy(self, train_idx, eval_idx, params):
        calls.append((set(map(int, train_idx)), set(map(int, eval_idx))))
        return original(self, train_idx, eval_idx, params)

    monkeypatch.setattr(text_inputs.TextInputs, "build", spy)
    run_tune(_config(tmp_path, trials=2, cv="3"))
    parts = json.loads((tmp_path / "run" / "split.json").read_text())["parts"]
    from emotune.experiments.tune import _load

    ids = _load(_config(tmp_path, trials=2, cv="3"))[0].ids  # the run's own dataset (deduplicated, then subset)
    test = {ids.index(i) for i in parts["test"]}
    search_calls, final_call = calls[:-1], calls[-1]
    assert len(search_calls) == 2 * 3  # two trials, three folds each
    for train_idx, eval_idx in search_calls:
        assert not (train_idx & test) and not (eval_idx & test)
    assert final_call[1] == test and not (final_call[0] & test)


def test_default_params_fill_every_space_key_with_the_models_defaults():
    from emotune.experiments.objective import default_params
    from emotune.models import MODELS

    spec = MODELS.get("bilstm_tcsa")
    params = default_params(spec, spec.default_space)
    assert set(params) == set(spec.default_space.names())
    for key, value in spec.defaults.items():
        if key in params:
            assert params[key] == pytest.approx(value)
    cpu = MODELS.get("sa_lstm").space("cpu")  # default hidden 128 lies outside the cpu preset's 16-96
    assert 16 <= default_params(MODELS.get("sa_lstm"), cpu)["hidden_size"] <= 96


def test_warm_start_runs_the_defaults_first(tweets_run):
    run, _ = tweets_run
    rows = list(csv.DictReader((run / "trials.csv").open()))
    from emotune.models import MODELS

    defaults = MODELS.get("sa_lstm").defaults
    assert float(rows[0]["lr"]) == pytest.approx(defaults["lr"])
    assert float(rows[0]["dropout"]) == pytest.approx(defaults["dropout"])


def test_sst2_limit_keeps_every_official_test_sentence(shared_data):
    from emotune.experiments.tune import _load

    cfg = TuneConfig(dataset="sst2", data_dir=str(shared_data / "text" / "sst2-en"), limit=500, progress=False)
    dataset, _ = _load(cfg)
    splits = [s.extra["split"] for s in dataset.samples]
    assert splits.count("test") == 872
    assert len(dataset) == 500 + 872


def test_cli_text_defaults_are_the_benchmark_chosen_configuration(tmp_path, monkeypatch):
    from emotune.cli import _text_config
    from emotune.experiments import text_defaults
    from emotune.experiments.text_defaults import TEXT_DEFAULTS

    monkeypatch.setattr(text_defaults, "_mpnet_available", lambda: True)  # what `make venv` installs
    assert TEXT_DEFAULTS["features"] == "mpnet_pooled"  # bench/README.md: MPNet beats MiniLM by 8-9 points

    cfg = _text_config(None, {"dataset": "csv", "data_dir": "x.csv", "out": str(tmp_path)})
    assert {k: getattr(cfg, k) for k in TEXT_DEFAULTS} == dict(TEXT_DEFAULTS)
    # the search is judged by 5 folds, not one hold-out (bench/README.md: the hold-out search lost to untuned on MR)
    assert cfg.cv == "5"
    assert _text_config(None, {"cv": "holdout"}).cv == "holdout"
    # flags and YAML keys win; speech runs never get the text defaults
    assert _text_config(None, {"model": "sa_lstm", "features": "minilm"}).model == "sa_lstm"
    y = tmp_path / "c.yaml"
    y.write_text("task: text\nmodel: bilstm_tcsa\nfeatures: minilm\n")
    from_file = _text_config(y, {"trials": 3})
    assert (from_file.model, from_file.features, from_file.trials, from_file.optimizer) == (
        "bilstm_tcsa", "minilm", 3, TEXT_DEFAULTS["optimizer"])
    speech = _text_config(None, {"task": "speech", "features": "egemaps", "dataset": "crema-d"})
    assert speech.model != TEXT_DEFAULTS["model"] or speech.trials != TEXT_DEFAULTS["trials"]
    # the README's numbers come from bench/text.py's "defaults" rows, which run exactly these values
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("bench_text", Path(__file__).parents[2] / "bench" / "text.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.DEFAULTS_ROW == dict(TEXT_DEFAULTS)


def test_text_defaults_fall_back_to_minilm_with_a_warning_when_mpnet_is_not_installed():
    from emotune.experiments.text_defaults import FALLBACK_FEATURES, with_text_defaults

    with pytest.warns(UserWarning, match="make mpnet"):
        filled = with_text_defaults({"dataset": "csv"}, mpnet_available=lambda: False)
    assert filled["features"] == FALLBACK_FEATURES == "minilm_pooled"
    assert filled["model"] == "mlp" and filled["cv"] == "5"  # the rest of the defaults stay
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning: the user chose, or MPNet is there
        assert with_text_defaults({"features": "mpnet_pooled"}, mpnet_available=lambda: False)["features"] == (
            "mpnet_pooled")  # named explicitly: the encoder's own install error will say what to do
        assert with_text_defaults({"features": "minilm"}, mpnet_available=lambda: False)["features"] == "minilm"
        assert with_text_defaults({}, mpnet_available=lambda: True)["features"] == "mpnet_pooled"
        assert "features" not in with_text_defaults({"task": "speech"}, mpnet_available=lambda: False)


def test_bench_text_cv_option_reaches_the_runs_and_their_folders(tmp_path):
    import importlib.util
    from pathlib import Path

    from rich.console import Console

    from emotune.experiments.text_defaults import TEXT_DEFAULTS

    spec = importlib.util.spec_from_file_location("bench_text", Path(__file__).parents[2] / "bench" / "text.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    parser = bench.argparse.ArgumentParser()

    def jobs(cv):
        """bench/text.py's jobs for MR, defaults row and untuned mlp, with ``--cv cv`` (None: flag not given)."""
        ns = bench.argparse.Namespace(
            datasets="mr", models="defaults,mlp", modes="untuned", references="tfidf_logreg", pruner="none",
            outer_cv="sample:5", seed0=0, seeds=1, data_root=tmp_path, limit=None, out=tmp_path, tag="",
            cache_dir=None, threads=1, augment="none", optimizer=None, pop_size=None, trials=2, fix=None,
            features="minilm_pooled", max_len=128, epochs=2, patience=1, no_warm_start=False, cv=cv)
        return {j["model"]: j for j in bench.build_jobs(ns, parser, Console(quiet=True))}

    default = jobs(None)
    assert default["defaults (mlp)"]["config"]["cv"] == TEXT_DEFAULTS["cv"]  # the shipped defaults, exactly
    assert default["mlp"]["config"]["cv"] == "holdout"  # the model rows keep the benchmark's historical protocol
    assert default["mlp"]["config"]["out"].endswith("untuned-random-minilm_pooled-seed0-outersample5")
    five = jobs("5")
    assert {j["config"]["cv"] for j in five.values()} == {"5"} == {j["cv"] for j in five.values()}
    assert five["defaults (mlp)"]["config"]["out"].endswith("seed0-cv5-outersample5")
    assert five["mlp"]["config"]["out"].endswith("minilm_pooled-cv5-seed0-outersample5")
    with pytest.raises(SystemExit):  # argparse's error for a spec parse_cv refuses
        jobs("one")


def test_demo_runs_on_the_text_defaults():
    from pathlib import Path

    from emotune.experiments.text_defaults import TEXT_DEFAULTS

    demo = yaml.safe_load((Path(__file__).parents[2] / "src/emotune/experiments/demo.yaml").read_text())
    for key in ("features", "model", "cv", "optimizer", "max_len", "trials"):
        assert demo[key] == TEXT_DEFAULTS[key], key


@pytest.mark.slow
def test_fine_tuned_minilm_with_gan_augmentation_end_to_end(tmp_path):
    cfg = _config(tmp_path, limit=150, features="minilm_layers", model="minilm_ft", trials=1, epochs=1,
                  augment="gan", references=["tfidf_logreg"],
                  fixed_params={"finetune_layers": 1, "batch_size": 32, "gan_dp": 0.3, "max_len": 32})
    result = run_tune(cfg)
    assert result["best_params"]["finetune_layers"] == 1 and result["best_params"]["gan_dp"] == 0.3
    bundle = json.loads((tmp_path / "run" / "model" / "bundle.json").read_text())
    assert "minilm_layers" in json.dumps(bundle) and '"layer": 5' in json.dumps(bundle)
    out = Predictor.load(tmp_path / "run" / "model").predict(["I love it", "this is terrible"])
    assert len(out) == 2 and all(o["label"] in result["labels"] for o in out)
