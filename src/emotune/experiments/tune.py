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

import csv
import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from emotune._seeding import seed_everything
from emotune.exceptions import ConfigError, TrialFailed
from emotune.experiments.config import TuneConfig, save_config

__all__ = ["run_tune", "search_folds", "write_trials_csv", "default_params"]


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def write_trials_csv(path: Path, trials: list[Any]) -> None:
    """One row per trial: id, state, fitness, seconds, best epoch, params..., error (written atomically)."""
    names: list[str] = []
    for t in trials:
        names += [k for k in t.params if k not in names]
    import io

    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["trial", "state", "fitness", "seconds", "best_epoch"] + names + ["error"])
    for t in trials:
        writer.writerow(
            [t.id, t.state, "" if t.value is None else f"{t.value:.6f}",
             "" if t.duration is None else f"{t.duration:.2f}", t.user_attrs.get("best_epoch", "")]
            + [t.params.get(n, "") for n in names]
            + [t.error or ""]
        )
    _atomic_write_text(path, buf.getvalue())


def search_folds(
    config: TuneConfig, y: np.ndarray, groups: np.ndarray | None, train_idx: np.ndarray, val_idx: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, validation) index pairs the search scores on; never touches the test split.

    ``holdout`` scores on the validation part; any other ``cv`` spec folds
    train + validation (by group whenever groups exist, unless ``sample:K``).
    """
    from emotune.data.splits import cv_folds, parse_cv

    cv = parse_cv(config.cv)
    if cv.kind == "holdout":
        return [(train_idx, val_idx)]
    dev = np.concatenate([train_idx, val_idx])
    pairs = cv_folds(cv, y[dev], None if groups is None else groups[dev], seed=config.seed)
    return [(dev[a], dev[b]) for a, b in pairs]


def _set_training_threads(threads: int) -> None:
    """Torch threads for training: small recurrent models gain little from more, and
    extra threads thrash when other processes (or parallel trials) share the cores."""
    import torch

    torch.set_num_threads(int(threads))


def _tensor_split(x: np.ndarray, y: np.ndarray, mask: np.ndarray | None):
    import torch

    from emotune.training import TensorSplit

    xt = torch.from_numpy(np.ascontiguousarray(x))
    return TensorSplit(xt, torch.from_numpy(np.asarray(y, dtype=np.int64)), None if mask is None else torch.from_numpy(mask))


def _train_config(config: TuneConfig, params: dict[str, Any], *, epochs: int | None = None):
    from emotune.training import TrainConfig

    merged = dict(params)
    merged.setdefault("epochs", config.epochs)
    if epochs is not None:
        merged["epochs"] = epochs
    tc = TrainConfig.from_params(merged)
    tc.early_stopping_patience = config.patience
    tc.fitness = config.fitness
    tc.seed = config.seed
    tc.max_seconds = config.max_train_seconds
    if "fgm_epsilon" not in params and config.fgm_epsilon:
        tc.fgm_epsilon = config.fgm_epsilon
    return tc


_DATA_KEYS = ("tokenizer", "embedding_dim")


def _model_params(params: dict[str, Any]) -> dict[str, Any]:
    """The model's own parameters: drops data-side keys and every trainer setting."""
    from dataclasses import fields

    from emotune.training import TrainConfig

    trainer_keys = {f.name for f in fields(TrainConfig)}
    return {k: v for k, v in params.items() if k not in _DATA_KEYS and k not in trainer_keys}


def _fit_and_score(config, inputs, n_classes, params, train_idx, eval_idx, y, *, epochs=None, with_val=True):
    """Train on ``train_idx``; return (model, eval probabilities, train result, fold inputs)."""
    from emotune.models import build_model
    from emotune.training import predict_proba, train

    fold = inputs.build(train_idx, eval_idx, params)
    seed_everything(config.seed)  # the same initial weights for the same config
    model = build_model(config.model, _model_params(params), n_classes=n_classes, input_spec=fold.input_spec)
    tc = _train_config(config, params, epochs=epochs)
    train_split = _tensor_split(fold.x_train, y[train_idx], fold.mask_train)
    eval_split = _tensor_split(fold.x_eval, y[eval_idx], fold.mask_eval)
    result = train(model, train_split, eval_split if with_val else None, tc, progress=False)
    proba = predict_proba(model, eval_split.x, eval_split.mask)
    return model, proba, result, fold


def make_objective(config, inputs, folds, y, n_classes) -> Callable[[dict[str, Any]], tuple[float, dict]]:
    """The search objective: mean validation fitness over ``folds`` (higher is better)."""
    from emotune.evaluation.metrics import FITNESS

    fitness_fn = FITNESS[config.fitness]

    def objective(params: dict[str, Any]) -> tuple[float, dict]:
        params = {**params, **config.fixed_params}
        scores, epochs = [], []
        for train_idx, val_idx in folds:
            _, proba, result, _ = _fit_and_score(config, inputs, n_classes, params, train_idx, val_idx, y)
            if not np.all(np.isfinite(proba)):
                raise TrialFailed("model produced non-finite probabilities")
            scores.append(float(fitness_fn(y[val_idx], proba)))
            epochs.append(int(result.best_epoch))
        return float(np.mean(scores)), {"best_epoch": int(np.median(epochs)), "fold_scores": scores}

    return objective


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
            limit=config.limit,
            seed=config.seed,
        )
        cache = FeatureCache(config.cache_dir or default_cache_root())
        inputs = TextInputs(
            dataset.texts, features=config.features, tokenizer=config.tokenizer, vocab_size=config.vocab_size,
            max_len=config.max_len, cache=cache, seed=config.seed, progress=config.progress,
        )
        return dataset, inputs
    from emotune.experiments.speech_inputs import load_speech

    return load_speech(config)


def _split(config: TuneConfig, dataset, y: np.ndarray, groups: np.ndarray | None):
    from emotune.data.splits import holdout_split

    if "split" in dataset.samples[0].extra and config.dataset == "sst2":
        parts = np.array([s.extra["split"] for s in dataset.samples])
        test = np.flatnonzero(parts == "test")
        dev = np.flatnonzero(parts != "test")
        rng = np.random.default_rng(config.seed)
        dev = rng.permutation(dev)
        n_val = int(round(config.val_size * len(dev)))
        return dev[n_val:], dev[:n_val], test, "official SST-2 test sentences"
    use_groups = groups if config.split_by == "group" else None
    split = holdout_split(y, use_groups, test_size=config.test_size, val_size=config.val_size, seed=config.seed)
    desc = "held out by group (speaker/author)" if use_groups is not None else "stratified hold-out"
    return split.train, split.val, split.test, desc


def _outer_splits(config: TuneConfig, dataset, y: np.ndarray, groups: np.ndarray | None) -> list[tuple]:
    """The outer (train, validation, test, description) splits.

    ``outer_cv: holdout`` gives one split (:func:`_split`). ``group:K``, ``K`` or
    ``logo`` give one split per outer fold: the fold is the test part and the
    validation part is one group-aware fold of the rest, so validation speakers
    are disjoint from test speakers (nested).
    """
    from emotune.data.splits import cv_folds, kfold_splits, parse_cv

    spec = config.resolved_outer_cv()
    if spec == "holdout":
        return [_split(config, dataset, y, groups)]
    use_groups = groups if config.split_by == "group" else None
    cv = parse_cv(spec)
    outer = cv_folds(cv, y, use_groups, seed=config.seed)
    k_val = max(2, int(round(1.0 / config.val_size)))
    splits = []
    for dev, test in outer:
        inner = kfold_splits(y[dev], None if use_groups is None else use_groups[dev], k=k_val, seed=config.seed)
        train_rel, val_rel = inner[0]
        desc = f"outer {spec} fold" + (" by group (speaker)" if use_groups is not None else "")
        splits.append((dev[train_rel], dev[val_rel], test, desc))
    return splits


def run_tune(config: TuneConfig, *, console: Any = None) -> dict[str, Any]:
    """Run the whole protocol and write the run directory ``config.out``. Returns ``result.json``'s content.

    With one outer split the run directory holds one search; with outer folds
    (``outer_cv``) each fold is a complete sub-run in ``fold_K/``, and the top
    level pools the folds' test predictions (each sample predicted by the model
    that never saw its speaker), reports mean and spread over folds, and keeps a
    final model retrained on all data with the best fold's parameters.
    """
    from emotune.data.splits import check_labels, save_split

    t_start = time.time()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(config.seed)
    save_config(config, out / "config.yaml")
    say = console.print if console is not None else (lambda *a, **k: None)

    dataset, inputs = _load(config)
    labels = dataset.labels
    y = dataset.label_ids({name: i for i, name in enumerate(labels)})
    groups = np.array(dataset.groups) if any(dataset.groups) else None
    splits = _outer_splits(config, dataset, y, groups)
    ids = dataset.ids
    for train_idx, val_idx, test_idx, _ in splits:
        check_labels([labels[i] for i in y[np.concatenate([train_idx, val_idx])]], [labels[i] for i in y[test_idx]])
    warning = None
    if config.task != "text" and groups is not None and config.split_by == "sample":
        warning = "Split by sample, not by speaker: the same voices are in train and test, so scores are inflated."
    inputs.prepare()
    _set_training_threads(config.threads)
    run = dict(config=config, dataset=dataset, inputs=inputs, y=y, labels=labels, groups=groups, warning=warning,
               say=say)

    if len(splits) == 1:
        train_idx, val_idx, test_idx, desc = splits[0]
        save_split(out / "split.json", {part: [ids[i] for i in idx] for part, idx in
                                        (("train", train_idx), ("val", val_idx), ("test", test_idx))})
        result = _run_split(run, train_idx, val_idx, test_idx, desc, out)
    else:
        save_split(out / "split.json", {f"fold_{k + 1}_test": [ids[i] for i in s[2]] for k, s in enumerate(splits)})
        result = _run_outer_folds(run, splits, out)
    result["timings"]["total_seconds"] = round(time.time() - t_start, 2)
    _atomic_write_text(out / "result.json", json.dumps(_public(result), indent=1, default=_json_default))
    write_report_for(out, result)
    return _public(result)


def _public(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` without private keys (test probabilities kept in memory for pooling)."""
    def clean(obj):
        if isinstance(obj, dict):
            return {k: clean(v) for k, v in obj.items() if not k.startswith("_")}
        if isinstance(obj, list):
            return [clean(v) for v in obj]
        return obj

    return clean(result)


def write_report_for(out: Path, result: dict[str, Any]) -> None:
    from emotune.evaluation.report import write_report

    write_report(out, _public(result), result.get("_trials", []))


def default_params(spec: Any, space: Any) -> dict[str, Any]:
    """The model's documented defaults for every parameter of ``space`` (clipped into its range).

    A parameter without a usable default (missing, or not among a categorical's
    choices) takes the value at the centre of its range.
    """
    from emotune.exceptions import SpaceError

    params = space.decode(np.full(space.dim, 0.5))
    for name, param in space.params.items():
        if name in spec.defaults and spec.defaults[name] is not None:
            try:
                params[name] = param.decode(param.encode(spec.defaults[name]))  # clipped into the range
            except (SpaceError, TypeError, ValueError):
                continue
    return params


def _search(run: dict, train_idx, val_idx, out: Path):
    """Search the model's space on (train, validation); returns the study."""
    from emotune.models import MODELS
    from emotune.search import Study

    config = run["config"]
    space = MODELS.get(config.model).space(config.preset)
    groups = run["groups"] if config.split_by == "group" else None
    folds = search_folds(config, run["y"], groups, train_idx, val_idx)
    objective = make_objective(config, run["inputs"], folds, run["y"], len(run["labels"]))
    study = Study(space, config.optimizer, "maximize", config.seed, budget=config.trials,
                  optimizer_options=config.optimizer_options)
    if config.warm_start and config.trials > 1:
        study.enqueue(default_params(MODELS.get(config.model), space))
    study.optimize(
        objective,
        trials=config.trials,
        timeout=config.timeout,
        callbacks=[lambda s, r: write_trials_csv(out / "trials.csv", s.trials)],
        show_progress=config.progress,
        description=f"{config.optimizer} on {config.model}",
    )
    write_trials_csv(out / "trials.csv", study.trials)
    if study.best_trial is None:
        errors = "; ".join(sorted({t.error or "?" for t in study.trials}))[:2000]
        raise TrialFailed(f"every trial failed, so there is no model to test; errors: {errors} (see {out / 'trials.csv'})")
    return study


def _run_split(run: dict, train_idx, val_idx, test_idx, test_desc: str, out: Path) -> dict[str, Any]:
    """Search, retrain on train + validation, score once on test, write the run directory ``out``."""
    from emotune.evaluation.metrics import classification_metrics
    from emotune.evaluation.plots import plot_best_so_far, plot_confusion_matrix
    from emotune.serving.bundle import save_bundle

    config, y, labels = run["config"], run["y"], run["labels"]
    out.mkdir(parents=True, exist_ok=True)
    run["say"](f"[bold]data[/] {config.dataset}: {len(run['dataset'])} samples, classes {labels}; "
               f"train {len(train_idx)}, val {len(val_idx)}, test {len(test_idx)} ({test_desc})")
    t_search = time.time()
    study = _search(run, train_idx, val_idx, out)
    search_seconds = time.time() - t_search
    best = study.best_trial

    # final model: train + validation, the search's best epoch count, scored once on test
    best_params = {**best.params, **config.fixed_params}
    dev_idx = np.concatenate([train_idx, val_idx])
    t_final = time.time()
    epochs = max(1, int(best.user_attrs.get("best_epoch", config.epochs)))
    model, proba, _, fold = _fit_and_score(config, run["inputs"], len(labels), best_params, dev_idx, test_idx, y,
                                           epochs=epochs, with_val=False)
    final_seconds = time.time() - t_final
    test_metrics = classification_metrics(y[test_idx], proba, labels)
    baselines = _baselines(config, run["dataset"], run["inputs"], y, dev_idx, test_idx, labels)

    save_bundle(out / "model", model, model_name=config.model, params=_model_params(best_params), labels=labels,
                input_spec=fold.input_spec, features=fold.bundle, task=config.task,
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
        "protocol": {"test": test_desc, "search": f"{config.cv} on train+validation", "warning": run["warning"]},
        "best_params": best_params,
        "best_fitness": best.value,
        "best_trial": best.id,
        "test_metrics": test_metrics,
        "baseline_metrics": baselines[0] if baselines else {},
        "reference_metrics": baselines[1:],
        "data": {
            "n_train": int(len(train_idx)), "n_val": int(len(val_idx)), "n_test": int(len(test_idx)),
            "skipped": len(run["dataset"].skipped),
            "skipped_examples": [str(b) for b in run["dataset"].skipped[:20]],
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
    }
    return result


def _merge_fold_csvs(out: Path, n_folds: int) -> None:
    """``out/trials.csv``: every fold's trials with a leading ``fold`` column."""
    import io

    rows, header = [], None
    for k in range(1, n_folds + 1):
        with (out / f"fold_{k}" / "trials.csv").open(newline="") as fh:
            reader = csv.reader(fh)
            head = next(reader)
            header = header or ["fold"] + head
            rows += [[str(k)] + r for r in reader]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    _atomic_write_text(out / "trials.csv", buf.getvalue())


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
        r = _run_split(run, train_idx, val_idx, test_idx, f"{desc} {k + 1}/{len(splits)}", fold_out)
        _atomic_write_text(fold_out / "result.json", json.dumps(_public(r), indent=1, default=_json_default))
        write_report_for(fold_out, r)
        pooled[test_idx] = r["_proba"]
        tested[test_idx] = True
        for row in [r["baseline_metrics"], *r["reference_metrics"]]:
            if row and "_proba" in row:
                pooled_refs.setdefault(row["name"], np.zeros((n, n_classes), np.float32))[test_idx] = row["_proba"]
        folds.append(r)
    idx = np.flatnonzero(tested)
    test_metrics = classification_metrics(y[idx], pooled[idx], labels)
    refs = [{"name": name, **classification_metrics(y[idx], p[idx], labels)} for name, p in pooled_refs.items()]

    # the model to keep: all data, the parameters and epochs of the fold with the best validation fitness
    best = max(folds, key=lambda r: r["best_fitness"])
    everything = np.arange(n)
    t_final = time.time()
    model, _, _, fold = _fit_and_score(config, run["inputs"], n_classes, best["best_params"], everything, everything,
                                       y, epochs=best["_best_epoch"], with_val=False)
    final_seconds = time.time() - t_final
    save_bundle(out / "model", model, model_name=config.model, params=_model_params(best["best_params"]),
                labels=labels, input_spec=fold.input_spec, features=fold.bundle, task=config.task,
                extra={"train_params": best["best_params"], "epochs": best["_best_epoch"], "trained_on": "all data"})
    plot_confusion_matrix(test_metrics["confusion_matrix"], labels, out / "confusion_matrix.png",
                          title=f"tuned {config.model}, pooled over {len(folds)} outer folds")
    all_trials = [dict(t, id=f"{k + 1}.{t['id']}") for k, r in enumerate(folds) for t in r["_trials"]]
    _merge_fold_csvs(out, len(folds))
    search_seconds = sum(r["timings"]["search_seconds"] for r in folds)
    return {
        "config": config.to_dict(),
        "labels": labels,
        "protocol": {"test": f"pooled over {len(folds)} outer folds ({config.resolved_outer_cv()})",
                     "search": f"{config.cv} on each fold's train+validation", "warning": run["warning"]},
        "best_params": best["best_params"],
        "best_fitness": best["best_fitness"],
        "best_trial": f"fold {folds.index(best) + 1}",
        "test_metrics": test_metrics,
        "baseline_metrics": refs[0] if refs else {},
        "reference_metrics": refs[1:],
        "fold_metrics": aggregate([r["test_metrics"] for r in folds]),
        "fold_reference_metrics": {row["name"]: aggregate([
            next(x for x in [r["baseline_metrics"], *r["reference_metrics"]] if x.get("name") == row["name"])
            for r in folds]) for row in refs},
        "folds": [{"fold": k + 1, "best_params": r["best_params"], "best_fitness": r["best_fitness"],
                   "test_metrics": {m: r["test_metrics"][m] for m in
                                    ("accuracy", "macro_f1", "unweighted_accuracy", "weighted_accuracy", "roc_auc")}}
                  for k, r in enumerate(folds)],
        "data": {"n_train": None, "n_val": None, "n_test": int(len(idx)), "skipped": len(run["dataset"].skipped),
                 "skipped_examples": [str(b) for b in run["dataset"].skipped[:20]]},
        "trials": {s: sum(t["state"] == s for t in all_trials) for s in ("complete", "failed", "pruned")},
        "timings": {"search_seconds": round(search_seconds, 2),
                    "seconds_per_trial": round(search_seconds / max(len(all_trials), 1), 2),
                    "final_train_seconds": round(final_seconds, 2)},
        "plots": ["confusion_matrix.png"],
        "_trials": all_trials,
    }


def _baselines(config, dataset, inputs, y, dev_idx, test_idx, labels) -> list[dict[str, Any]]:
    """Reference rows on the same split (first one is ``baseline_metrics``)."""
    from emotune.evaluation.baselines import tfidf_logreg
    from emotune.evaluation.metrics import classification_metrics

    rows = []
    if config.task == "text":
        texts = dataset.texts
        proba = tfidf_logreg([texts[i] for i in dev_idx], y[dev_idx], [texts[i] for i in test_idx], seed=config.seed)
        rows.append({"name": "tfidf_logreg", **classification_metrics(y[test_idx], proba, labels), "_proba": proba})
    else:
        from emotune.experiments.speech_inputs import speech_baselines

        rows += speech_baselines(config, dataset, inputs, y, dev_idx, test_idx, labels)
    return rows
