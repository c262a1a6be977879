"""``emotune tune``: the one place that joins data, features, models and the search.

The protocol, in order:

1. load the dataset and fix the test split (group-aware when groups exist)
   *before* any search; save the sample ids of every part to ``split.json``;
2. search the model's space with the chosen optimizer; each trial trains on the
   search-training part and is scored on validation only (``cv``: one hold-out
   validation part, or k folds of train + validation). With ``warm_start`` the
   first trial is the model's documented defaults, so the search can only pick
   a configuration that validates at least as well as the untuned model;
3. retrain the best configuration on train + validation for the number of
   epochs the search found best, and score it once on the test split;
4. score the reference baseline on the same split; write ``trials.csv``,
   ``result.json``, the model bundle, ``report.md`` and PNGs.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from emotune._seeding import seed_everything
from emotune.exceptions import ConfigError, TrialFailed
from emotune.experiments.config import TuneConfig, save_config
from emotune.experiments.objective import (
    default_params,
    fit_and_score,
    make_objective,
    model_params,
    set_training_threads,
)
from emotune.experiments.run_files import (
    atomic_write_text,
    json_default,
    merge_fold_csvs,
    public_result,
    write_trials_csv,
)
from emotune.experiments.splitting import fold_seed, outer_plan, search_folds
from emotune.experiments.study_setup import (
    load_fold_result,
    make_executor_for,
    make_pruner_for,
    prepare_run_dir,
    save_fold_result,
    study_path,
)

__all__ = ["run_tune"]


def run_tune(config: TuneConfig, *, console: Any = None, if_exists: str = "refuse") -> dict[str, Any]:
    """Run the whole protocol and write the run directory ``config.out``. Returns ``result.json``'s content.

    With one outer split the run directory holds one search; with outer folds
    (``outer_cv``) each fold is a complete sub-run in ``fold_K/``, and the top
    level pools the folds' test predictions (each sample predicted by the model
    that never saw its speaker), reports mean and spread over folds, and keeps a
    final model retrained on all data with the best fold's parameters.
    """
    out = Path(config.out)
    # an existing run directory: refused, resumed (trials, finished folds) or replaced, never silently mixed
    if config.task == "multimodal":  # its own protocol: every modality alone and every fusion style
        from emotune.experiments.multimodal import run_multimodal

        if if_exists == "resume":
            raise ConfigError("a multimodal run cannot be resumed yet; rerun it with --overwrite")
        prepare_run_dir(out, if_exists)
        return run_multimodal(config, console=console)
    from emotune.data.splits import check_labels, save_split

    t_start = time.time()
    prepare_run_dir(out, if_exists)
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(config.seed)
    save_config(config, out / "config.yaml")
    say = console.print if console is not None else (lambda *a, **k: None)

    dataset, inputs = _load(config)
    labels = dataset.labels
    y = dataset.label_ids({name: i for i, name in enumerate(labels)})
    groups = np.array(dataset.groups) if any(dataset.groups) else None
    plan = outer_plan(config, dataset, y, groups)
    splits = plan.splits
    ids = dataset.ids
    for train_idx, val_idx, test_idx, _ in splits:
        check_labels([labels[i] for i in y[np.concatenate([train_idx, val_idx])]], [labels[i] for i in y[test_idx]])
    warning = None
    if config.task != "text" and groups is not None and config.split_by == "sample":
        warning = "Split by sample, not by speaker: the same voices are in train and test, so scores are inflated."
    inputs.prepare()
    set_training_threads(config.threads)
    run = dict(config=config, dataset=dataset, inputs=inputs, y=y, labels=labels, groups=groups, warning=warning,
               say=say, protocol_note=plan.note, outer_spec=plan.spec)
    if plan.note:
        say(f"[yellow]protocol[/] {plan.note}")

    if len(splits) == 1:
        train_idx, val_idx, test_idx, desc = splits[0]
        result = _run_split(run, train_idx, val_idx, test_idx, desc, out)
    else:
        save_split(out / "split.json", {f"fold_{k + 1}_test": [ids[i] for i in s[2]] for k, s in enumerate(splits)})
        result = _run_outer_folds(run, splits, out)
    from emotune.evaluation.split_summary import split_summary  # samples, speakers and classes per part, for the report

    result.setdefault("data", {})["split_summary"] = split_summary(y, labels, groups, splits)
    result["timings"]["total_seconds"] = round(time.time() - t_start, 2)
    atomic_write_text(out / "result.json", json.dumps(public_result(result), indent=1, default=json_default))
    write_report_for(out, result)
    return public_result(result)


def _load(config: TuneConfig):
    """The dataset and the input builder for the config's task."""
    if config.task == "text":
        from emotune.data import load_dataset
        from emotune.experiments.text_inputs import TextInputs
        from emotune.features.cache import FeatureCache, default_cache_root

        dataset = load_dataset(
            config.dataset,
            config.data_dir,
            text_col=config.text_col,
            label_col=config.label_col,
            group_col=config.group_col,
            on_bad_rows=config.on_bad_rows,
            encoding=config.encoding,
            limit=None,
            seed=config.seed,
        )
        notes: dict[str, Any] = {"source": dataset.source}
        if not config.keep_duplicates:  # before any subset or split, so no text is on both sides
            from emotune.data.dedupe import deduplicate

            dataset, dedupe = deduplicate(dataset)
            notes["duplicates"] = dedupe.to_dict()
        if config.limit is not None and config.dataset != "sst2" and config.limit < len(dataset):
            from emotune.data.splits import stratified_subset

            dataset = dataset.subset(stratified_subset(dataset.sample_labels, config.limit, seed=config.seed))
            dataset.source += f"; stratified subset of {config.limit} (seed {config.seed})"
        if config.dataset == "sst2" and config.limit is not None:
            dataset = _limit_keeping_official_test(dataset, config.limit, config.seed)
        cache = FeatureCache(config.cache_dir or default_cache_root())
        inputs = TextInputs(
            dataset.texts, features=config.features, tokenizer=config.tokenizer, vocab_size=config.vocab_size,
            max_len=config.max_len, cache=cache, seed=config.seed, progress=config.progress,
        )
        inputs.data_notes = notes  # encoding guess and duplicates removed, for result.json and the report
        return dataset, inputs
    if config.task == "face":
        from emotune.experiments.face_inputs import load_face

        return load_face(config)
    from emotune.experiments.speech_inputs import load_speech

    return load_speech(config)


def _limit_keeping_official_test(dataset, limit: int, seed: int):
    """A stratified subset of ``limit`` train+dev samples plus every official test sample (SST-2)."""
    from emotune.data.splits import stratified_subset

    is_test = np.array([s.extra.get("split") == "test" for s in dataset.samples])
    dev = np.flatnonzero(~is_test)
    if limit < len(dev):
        dev = dev[stratified_subset([dataset.samples[i].label for i in dev], limit, seed=seed)]
    return dataset.subset(np.sort(np.concatenate([dev, np.flatnonzero(is_test)])))


def write_report_for(out: Path, result: dict[str, Any]) -> None:
    from emotune.evaluation.report import write_report

    write_report(out, public_result(result), result.get("_trials", []))
    _write_html_report(out)


def _write_html_report(out: Path) -> None:
    """``report.html`` (self-contained) + ``report_full.md``; a failure there warns but keeps the finished run."""
    import warnings

    from emotune.evaluation.html_report import write_run_report

    try:
        write_run_report(out)
    except Exception as exc:  # noqa: BLE001  the run's results are already saved; say why the page is missing
        warnings.warn(f"could not write {out / 'report.html'}: {type(exc).__name__}: {exc}", RuntimeWarning,
                      stacklevel=2)


def _search(run: dict, train_idx, val_idx, out: Path, fold: int = 0):
    """Search the model's space on (train, validation); returns the study.

    Outer fold ``fold`` (0 for a single split) seeds the optimizer and the inner
    folds with :func:`~emotune.experiments.splitting.fold_seed`, so the folds'
    searches are independent rather than copies of one another.
    """
    from emotune.models import MODELS
    from emotune.search import Study

    config = run["config"]
    space = MODELS.get(config.model).space(config.preset)
    if config.augment == "gan" and "gan_dp" not in space.params and "gan_dp" not in config.fixed_params:
        from emotune.search.spaces import Float, Space

        space = Space({**space.params, "gan_dp": Float(0.05, 0.95)})  # the paper searches d_p in (0, 1)
    groups = run["groups"] if config.split_by == "group" else None
    seed = fold_seed(config.seed, fold)
    folds = search_folds(config, run["y"], groups, train_idx, val_idx, seed=seed)
    objective = make_objective(config, run["inputs"], folds, run["y"], len(run["labels"]))
    from emotune.search.storage import SQLiteStorage

    out.mkdir(parents=True, exist_ok=True)
    storage = SQLiteStorage(study_path(out))
    study = Study(space, config.optimizer, "maximize", seed, budget=config.trials,
                  optimizer_options=config.optimizer_options, storage=storage,
                  executor=make_executor_for(config), pruner=make_pruner_for(config), fold=fold)
    if study_path(out).exists() and storage.n_trials():  # a resumed run: prepare_run_dir refused any other
        study.resume()
        run["say"](f"[bold]resume[/] {study_path(out)}: {study.n_finished()} of {config.trials} trials done")
    elif config.warm_start and config.trials > 1:
        study.enqueue(default_params(MODELS.get(config.model), space))
    try:
        study.optimize(
            objective,
            trials=max(0, config.trials - study.n_finished()),
            timeout=config.timeout,
            callbacks=[lambda s, r: write_trials_csv(out / "trials.csv", s.trials, config.fixed_params)],
            show_progress=config.progress,
            description=f"{config.optimizer} on {config.model}",
            trial_timeout=config.trial_timeout,
        )
    finally:
        write_trials_csv(out / "trials.csv", study.trials, config.fixed_params)
        storage.close()
    if study.interrupted:
        _stopped(study, config)
    if study.best_trial is None:
        errors = "; ".join(sorted({t.error or "?" for t in study.trials}))[:2000]
        raise TrialFailed(f"every trial failed, so there is no model to test; errors: {errors} (see {out / 'trials.csv'})")
    return study


def _stopped(study, config: TuneConfig) -> None:
    """After a first Ctrl-C: the trials are saved; say the best so far and how to continue."""
    from emotune.exceptions import StudyInterrupted

    best = study.best_trial
    shown = "no trial finished yet" if best is None else f"best so far: trial {best.id}, {config.fitness} {best.value:.4f}"
    raise StudyInterrupted(
        f"stopped on Ctrl-C after {study.n_finished()} of {config.trials} trials (all saved); {shown}. "
        f"Continue with: emotune tune --resume {config.out}"
    )


def _run_split(run: dict, train_idx, val_idx, test_idx, test_desc: str, out: Path, fold: int = 0) -> dict[str, Any]:
    """Search, retrain on train + validation, score once on test, write the run directory ``out``."""
    from emotune.evaluation.metrics import classification_metrics
    from emotune.data.splits import save_split
    from emotune.evaluation.plots import plot_best_so_far, plot_confusion_matrix
    from emotune.serving.bundle import save_bundle

    config, y, labels = run["config"], run["y"], run["labels"]
    out.mkdir(parents=True, exist_ok=True)
    ids = run["dataset"].ids
    save_split(out / "split.json", {part: [ids[i] for i in idx] for part, idx in
                                    (("train", train_idx), ("val", val_idx), ("test", test_idx))})
    run["say"](f"[bold]data[/] {config.dataset}: {len(run['dataset'])} samples, classes {labels}; "
               f"train {len(train_idx)}, val {len(val_idx)}, test {len(test_idx)} ({test_desc})")
    t_search = time.time()
    study = _search(run, train_idx, val_idx, out, fold)
    search_seconds = time.time() - t_search
    best = study.best_trial

    # final model: train + validation, the search's best epoch count, scored once on test
    best_params = {**best.params, **config.fixed_params}
    dev_idx = np.concatenate([train_idx, val_idx])
    t_final = time.time()
    epochs = max(1, int(best.user_attrs.get("best_epoch", config.epochs)))
    model, proba, _, fold = fit_and_score(config, run["inputs"], len(labels), best_params, dev_idx, test_idx, y,
                                           epochs=epochs, with_val=False)
    final_seconds = time.time() - t_final
    enrolment = getattr(run["inputs"], "enrolment_", None)  # the final fit's: its eval set is the test split
    test_metrics = classification_metrics(y[test_idx], proba, labels)
    baselines = _baselines(config, run["dataset"], run["inputs"], y, dev_idx, test_idx, labels)
    comparison = _compare(config, y[test_idx], proba, baselines, _test_groups(run, test_idx))

    save_bundle(out / "model", model, model_name=config.model, params=model_params(best_params), labels=labels,
                input_spec=fold.input_spec, features=fold.bundle, task=config.task,
                metrics=test_metrics, fingerprint=_fingerprint(run, dev_idx),
                extra={"train_params": best_params, "epochs": epochs})
    plots = [
        plot_best_so_far([t.value for t in study.trials], study.best_so_far(), out / "search_curve.png",
                         ylabel=f"validation {config.fitness}", title=f"{config.optimizer}: best so far"),
        plot_confusion_matrix(test_metrics["confusion_matrix"], labels, out / "confusion_matrix.png",
                              title=f"tuned {config.model} on test"),
    ]
    n_done = len(study.trials)
    result = {
        "config": config.to_dict(),
        "labels": labels,
        "protocol": {"test": test_desc, "search": f"{config.cv} on train+validation", "warning": run["warning"],
                     "note": run.get("protocol_note"), "normalization": _normalization(run, [enrolment])},
        "best_params": best_params,
        "best_fitness": best.value,
        "best_trial": best.id,
        "test_metrics": test_metrics,
        "baseline_metrics": baselines[0] if baselines else {},
        "reference_metrics": baselines[1:],
        "comparison": comparison,
        "data": {
            "n_train": int(len(train_idx)), "n_val": int(len(val_idx)), "n_test": int(len(test_idx)),
            "skipped": len(run["dataset"].skipped),
            "skipped_examples": [str(b) for b in run["dataset"].skipped[:20]],
            **getattr(run["inputs"], "data_notes", {}),
        },
        "trials": {s: sum(t.state == s for t in study.trials) for s in ("complete", "failed", "pruned")},
        "timings": {
            "search_seconds": round(search_seconds, 2),
            "seconds_per_trial": round(search_seconds / max(n_done, 1), 2),
            "final_train_seconds": round(final_seconds, 2),
        },
        "plots": [str(p.name) for p in plots],
        "_proba": proba,
        "_test_idx": test_idx,
        "_trials": [t.to_dict() for t in study.trials],
        "_best_epoch": epochs,
        "_enrolment": enrolment,
    }
    return result


def _run_outer_folds(run: dict, splits: list[tuple], out: Path) -> dict[str, Any]:
    """One sub-run per outer fold, pooled test predictions, mean/std over folds, a final model on all data."""
    from emotune.evaluation.metrics import aggregate, classification_metrics
    from emotune.evaluation.plots import plot_confusion_matrix
    from emotune.serving.bundle import save_bundle

    config, y, labels = run["config"], run["y"], run["labels"]
    n, n_classes = len(y), len(labels)
    folds = []
    pooled = np.zeros((n, n_classes), np.float32)
    pooled_refs: dict[str, np.ndarray] = {}
    tested = np.zeros(n, dtype=bool)
    for k, (train_idx, val_idx, test_idx, desc) in enumerate(splits):
        fold_out = out / f"fold_{k + 1}"
        r = load_fold_result(fold_out)  # a resumed run does not rerun a finished fold
        if r is None:
            r = _run_split(run, train_idx, val_idx, test_idx, f"{desc} {k + 1}/{len(splits)}", fold_out, fold=k)
            atomic_write_text(fold_out / "result.json", json.dumps(public_result(r), indent=1, default=json_default))
            write_report_for(fold_out, r)
            save_fold_result(fold_out, r)
        else:
            run["say"](f"[bold]resume[/] fold {k + 1} already finished, kept")
        pooled[test_idx] = r["_proba"]
        tested[test_idx] = True
        for row in [r["baseline_metrics"], *r["reference_metrics"]]:
            if row and "_proba" in row:
                pooled_refs.setdefault(row["name"], np.zeros((n, n_classes), np.float32))[test_idx] = row["_proba"]
        folds.append(r)
    idx = np.flatnonzero(tested)
    test_metrics = classification_metrics(y[idx], pooled[idx], labels)
    refs = [{"name": name, **classification_metrics(y[idx], p[idx], labels)} for name, p in pooled_refs.items()]
    comparison = _compare(config, y[idx], pooled[idx], [{"name": k, "_proba": p[idx]} for k, p in pooled_refs.items()],
                          _test_groups(run, idx))

    # the model to keep: all data, the parameters and epochs of the fold with the best validation fitness
    best = max(folds, key=lambda r: r["best_fitness"])
    everything = np.arange(n)
    t_final = time.time()
    model, _, _, fold = fit_and_score(config, run["inputs"], n_classes, best["best_params"], everything, everything,
                                       y, epochs=best["_best_epoch"], with_val=False)
    final_seconds = time.time() - t_final
    save_bundle(out / "model", model, model_name=config.model, params=model_params(best["best_params"]),
                labels=labels, input_spec=fold.input_spec, features=fold.bundle, task=config.task,
                metrics=test_metrics, fingerprint=_fingerprint(run, everything),
                extra={"train_params": best["best_params"], "epochs": best["_best_epoch"], "trained_on": "all data"})
    plot_confusion_matrix(test_metrics["confusion_matrix"], labels, out / "confusion_matrix.png",
                          title=f"tuned {config.model}, pooled over {len(folds)} outer folds")
    all_trials = [dict(t, id=f"{k + 1}.{t['id']}") for k, r in enumerate(folds) for t in r["_trials"]]
    merge_fold_csvs(out, len(folds))
    search_seconds = sum(r["timings"]["search_seconds"] for r in folds)
    return {
        "config": config.to_dict(),
        "labels": labels,
        "protocol": {"test": f"pooled over {len(folds)} outer folds ({run.get('outer_spec')})",
                     "search": f"{config.cv} on each fold's train+validation", "warning": run["warning"],
                     "note": run.get("protocol_note"),
                     "normalization": _normalization(run, [r.get("_enrolment") for r in folds])},
        "best_params": best["best_params"],
        "best_fitness": best["best_fitness"],
        "best_trial": f"fold {folds.index(best) + 1}",
        "test_metrics": test_metrics,
        "baseline_metrics": refs[0] if refs else {},
        "reference_metrics": refs[1:],
        "comparison": comparison,
        "fold_metrics": aggregate([r["test_metrics"] for r in folds]),
        "fold_reference_metrics": {row["name"]: aggregate([
            next(x for x in [r["baseline_metrics"], *r["reference_metrics"]] if x.get("name") == row["name"])
            for r in folds]) for row in refs},
        "folds": [{"fold": k + 1, "best_params": r["best_params"], "best_fitness": r["best_fitness"],
                   "test_metrics": {m: r["test_metrics"][m] for m in
                                    ("accuracy", "macro_f1", "unweighted_accuracy", "weighted_accuracy", "roc_auc")}}
                  for k, r in enumerate(folds)],
        "data": {"n_train": None, "n_val": None, "n_test": int(len(idx)), "skipped": len(run["dataset"].skipped),
                 "skipped_examples": [str(b) for b in run["dataset"].skipped[:20]],
                 **getattr(run["inputs"], "data_notes", {})},
        "trials": {s: sum(t["state"] == s for t in all_trials) for s in ("complete", "failed", "pruned")},
        "timings": {"search_seconds": round(search_seconds, 2),
                    "seconds_per_trial": round(search_seconds / max(len(all_trials), 1), 2),
                    "final_train_seconds": round(final_seconds, 2)},
        "plots": ["confusion_matrix.png"],
        "_trials": all_trials,
    }


def _test_groups(run: dict, test_idx: np.ndarray):
    """Groups (speakers) of the test samples when the split is by group, so the bootstrap resamples them."""
    groups = run["groups"]
    if groups is None or run["config"].split_by != "group" or len(set(groups[test_idx])) < 2:
        return None
    return groups[test_idx]


def _compare(config, y_test, proba, rows, groups) -> list[dict[str, Any]]:
    """Paired bootstrap 95% intervals of (model - best reference) on the fitness metric and on accuracy."""
    from emotune.evaluation.intervals import METRICS, compare_with_best

    refs = {r["name"]: r["_proba"] for r in rows if r and "_proba" in r}
    if not refs:
        return []
    keys = [k for k in dict.fromkeys((config.fitness, "accuracy")) if k in METRICS]
    return [compare_with_best(y_test, proba, refs, metric=k, groups=groups, seed=config.seed) for k in keys]


def _fingerprint(run: dict, idx: np.ndarray) -> dict[str, Any]:
    """The bundle's fingerprint of its training data: hash of the sample ids and labels at ``idx``."""
    from emotune.serving.bundle import data_fingerprint

    ids = run["dataset"].ids
    return data_fingerprint([ids[i] for i in idx], [run["labels"][k] for k in run["y"][idx]])


def _normalization(run: dict, enrolments: list) -> str | None:
    """The inputs' normalisation protocol in one sentence (speech), with the enrolment fallbacks on test."""
    describe = getattr(run["inputs"], "describe_normalization", None)
    return describe(enrolments) if describe is not None else None


def _text_references(config) -> set[str]:
    """The text reference rows to fit: ``config.references``, plus MPNet + LR when the model reads MPNet vectors.

    Like with like: a model on MPNet vectors is judged against logistic regression on the same vectors (already
    computed for the model, so the row costs one LR fit), not only against the weaker MiniLM + LR.
    """
    wanted = set(config.references)
    if str(config.features or "").startswith("mpnet"):
        wanted.add("mpnet_logreg")
    return wanted


def _baselines(config, dataset, inputs, y, dev_idx, test_idx, labels) -> list[dict[str, Any]]:
    """Reference rows on the same split (first one is ``baseline_metrics``)."""
    from emotune.evaluation.baselines import tfidf_logreg
    from emotune.evaluation.metrics import classification_metrics

    rows = []
    if config.task == "text":
        from emotune.evaluation.baselines import embedding_logreg

        texts = dataset.texts
        proba = tfidf_logreg([texts[i] for i in dev_idx], y[dev_idx], [texts[i] for i in test_idx], seed=config.seed)
        rows.append({"name": "tfidf_logreg", **classification_metrics(y[test_idx], proba, labels), "_proba": proba})
        wanted = _text_references(config)
        for name in ("minilm_logreg", "mpnet_logreg"):  # frozen sentence vectors + LR, when asked for
            if name not in wanted:
                continue
            vectors = inputs.sentence_vectors(encoder=name.split("_")[0])
            proba = embedding_logreg(vectors[dev_idx], y[dev_idx], vectors[test_idx], seed=config.seed)
            rows.append({"name": name, **classification_metrics(y[test_idx], proba, labels), "_proba": proba})
    elif config.task == "face":
        from emotune.experiments.face_inputs import face_baselines

        rows += face_baselines(config, dataset, inputs, y, dev_idx, test_idx, labels)
    else:
        from emotune.experiments.speech_baselines import speech_baselines

        rows += speech_baselines(config, dataset, inputs, y, dev_idx, test_idx, labels)
    return rows
