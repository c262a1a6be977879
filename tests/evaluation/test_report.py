from emotune.evaluation.report import write_report


def _metrics(acc, f1):
    return {"accuracy": acc, "macro_f1": f1, "unweighted_accuracy": f1, "roc_auc": 0.8,
            "per_class": {"neg": {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 3}},
            "confusion_matrix": [[1, 2], [0, 3]]}


def _result(test_f1, base_f1, **extra):
    return {"config": {"task": "speech", "dataset": "crema-d", "model": "mlp", "optimizer": "ga",
                       "fitness": "macro_f1", "seed": 0, "cv": "holdout"},
            "labels": ["neg", "pos"], "best_params": {"lr": 0.001}, "best_fitness": 0.5, "best_trial": 1,
            "test_metrics": _metrics(0.6, test_f1), "baseline_metrics": {"name": "egemaps_svm", **_metrics(0.5, base_f1)},
            "timings": {"search_seconds": 12.345, "seconds_per_trial": 6.17, "final_train_seconds": 1.0}, **extra}


TRIALS = [{"id": 0, "state": "complete", "value": 0.5}, {"id": 1, "state": "failed", "value": None, "error": "boom"}]


def _comparison(diff, low, high, verdict):
    return {"metric": "macro_f1", "reference": "minilm_logreg", "reference_score": 0.55, "difference": diff,
            "low": low, "high": high, "level": 0.95, "n_boot": 2000, "unit": "samples", "n_units": 400,
            "excludes_zero": low > 0 or high < 0, "verdict": verdict}


def test_report_says_beats_only_with_an_interval_above_zero(tmp_path):
    result = _result(0.60, 0.55, comparison=[_comparison(0.05, 0.01, 0.09, "beats")])
    text = write_report(tmp_path, result, TRIALS).read_text()
    assert "the tuned mlp **beats** the best reference, minilm_logreg (55.00)" in text
    assert "difference **+5.00 points**, 95% interval [+1.00, +9.00]" in text and "excludes zero" in text
    assert "trial 1: boom" in text and "1 complete, 1 failed" in text
    assert "Search 12.3 s, 6.2 s per trial" in text


def test_report_says_not_distinguishable_when_the_interval_holds_zero(tmp_path):
    result = _result(0.60, 0.55, comparison=[_comparison(0.05, -0.01, 0.11, "is not distinguishable from")])
    text = write_report(tmp_path, result, TRIALS).read_text()
    assert "**is not distinguishable from** the best reference" in text and "beats" not in text
    assert "may be test-set noise" in text


def test_report_without_an_interval_gives_no_verdict_and_warns_first(tmp_path):
    warning = "Split by sample, not by speaker: scores are inflated."
    text = write_report(tmp_path, _result(0.40, 0.55, protocol={"warning": warning}), TRIALS).read_text()
    assert text.splitlines()[0] == f"> **{warning}**"
    assert "differs from the egemaps_svm reference by **-15.00 points**" in text and "not a verdict" in text
    assert "beats" not in text


def test_report_shows_mean_and_spread_over_folds(tmp_path):
    folds = {"accuracy": {"mean": 0.5, "std": 0.1}, "macro_f1": {"mean": 0.4, "std": 0.05}}
    text = write_report(tmp_path, _result(0.6, 0.5, fold_metrics=folds), TRIALS).read_text()
    assert "Mean and spread over outer folds" in text and "| macro-F1 | 0.4000 | 0.0500 |" in text


def _trial(i, value, folds):
    return {"id": i, "state": "complete", "value": value, "user_attrs": {"fold_scores": folds}}


def test_report_shows_whether_the_fold_spread_can_rank_the_trials(tmp_path):
    noisy = [_trial(0, 0.80, [0.70, 0.90, 0.80]), _trial(1, 0.79, [0.69, 0.89, 0.79])]
    text = write_report(tmp_path, _result(0.6, 0.5), noisy).read_text()
    assert "over 3 folds" in text and "cannot tell the top two apart" in text
    clear = [_trial(0, 0.90, [0.89, 0.90, 0.91]), _trial(1, 0.80, [0.79, 0.80, 0.81])]
    text = write_report(tmp_path, _result(0.6, 0.5), clear).read_text()
    assert "the ranking of the top two is meaningful" in text
    text = write_report(tmp_path, _result(0.6, 0.5), TRIALS).read_text()
    assert "`cv: K`" in text


def test_report_counts_trials_per_outer_fold(tmp_path):
    folds = [{"fold": k + 1} for k in range(5)]
    trials = [{"id": i, "state": "complete", "value": 0.5} for i in range(5)]
    text = write_report(tmp_path, _result(0.6, 0.5, folds=folds), trials).read_text()
    assert "5 trials over 5 outer folds (1 per fold)" in text
    assert "ga**, 2 trials," in write_report(tmp_path, _result(0.6, 0.5), TRIALS).read_text()
