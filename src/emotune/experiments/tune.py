"""``emotune tune``: the one place that joins data, features, models and the search.

The protocol, in order:

1. load the dataset and fix the test split (group-aware when groups exist)
   *before* any search; save the sample ids of every part to ``split.json``;
2. search the model's space with the chosen optimizer; each trial trains on the
   search-training part and is scored on validation only (``cv``: one hold-out
   validation part, or k folds of train + validation);
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

__all__ = ["run_tune", "search_folds", "write_trials_csv"]


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


def run_tune(config: TuneConfig, *, console: Any = None) -> dict[str, Any]:
    """Run the whole protocol and write the run directory ``config.out``. Returns ``result.json``'s content."""
    from emotune.data.splits import check_labels, save_split
    from emotune.evaluation.metrics import classification_metrics
    from emotune.evaluation.plots import plot_best_so_far, plot_confusion_matrix
    from emotune.evaluation.report import write_report
    from emotune.models import MODELS
    from emotune.search import Study
    from emotune.serving.bundle import save_bundle

    t_start = time.time()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(config.seed)
    save_config(config, out / "config.yaml")
    say = console.print if console is not None else (lambda *a, **k: None)

    dataset, inputs = _load(config)
    labels = dataset.labels
    label_map = {name: i for i, name in enumerate(labels)}
    y = dataset.label_ids(label_map)
    groups = np.array(dataset.groups) if any(dataset.groups) else None
    train_idx, val_idx, test_idx, test_desc = _split(config, dataset, y, groups)
    check_labels([labels[i] for i in y[np.concatenate([train_idx, val_idx])]], [labels[i] for i in y[test_idx]])
    ids = dataset.ids
    save_split(out / "split.json", {part: [ids[i] for i in idx] for part, idx in
                                    (("train", train_idx), ("val", val_idx), ("test", test_idx))})
    warning = None
    if config.task != "text" and groups is not None and config.split_by == "sample":
        warning = "Split by sample, not by speaker: the same voices are in train and test, so scores are inflated."
    say(f"[bold]data[/] {config.dataset}: {len(dataset)} samples, classes {labels}; "
        f"train {len(train_idx)}, val {len(val_idx)}, test {len(test_idx)} ({test_desc})")

    spec = MODELS.get(config.model)
    space = spec.space(config.preset)
    folds = search_folds(config, y, groups if config.split_by == "group" else None, train_idx, val_idx)
    inputs.prepare()
    _set_training_threads(config.threads)
    objective = make_objective(config, inputs, folds, y, len(labels))
    study = Study(space, config.optimizer, "maximize", config.seed, budget=config.trials,
                  optimizer_options=config.optimizer_options)
    t_search = time.time()
    study.optimize(
        objective,
        trials=config.trials,
        timeout=config.timeout,
        callbacks=[lambda s, r: write_trials_csv(out / "trials.csv", s.trials)],
        show_progress=config.progress,
        description=f"{config.optimizer} on {config.model}",
    )
    search_seconds = time.time() - t_search
    write_trials_csv(out / "trials.csv", study.trials)
    best = study.best_trial
    if best is None:
        errors = "; ".join(sorted({t.error or "?" for t in study.trials}))[:2000]
        raise TrialFailed(f"every trial failed, so there is no model to test; errors: {errors} (see {out / 'trials.csv'})")

    # final model: train + validation, the search's best epoch count, scored once on test
    best_params = {**best.params, **config.fixed_params}
    dev_idx = np.concatenate([train_idx, val_idx])
    t_final = time.time()
    epochs = max(1, int(best.user_attrs.get("best_epoch", config.epochs)))
    model, proba, _, fold = _fit_and_score(config, inputs, len(labels), best_params, dev_idx, test_idx, y,
                                           epochs=epochs, with_val=False)
    final_seconds = time.time() - t_final
    test_metrics = classification_metrics(y[test_idx], proba, labels)
    baselines = _baselines(config, dataset, inputs, y, dev_idx, test_idx, labels)
    baseline_metrics = baselines[0] if baselines else {}

    save_bundle(out / "model", model, model_name=config.model, params=_model_params(best_params), labels=labels,
                input_spec=fold.input_spec, features=fold.bundle, task=config.task,
                extra={"train_params": best_params, "epochs": epochs})

    values = [t.value for t in study.trials]
    plots = [
        plot_best_so_far(values, study.best_so_far(), out / "search_curve.png", ylabel=f"validation {config.fitness}",
                         title=f"{config.optimizer}: best so far"),
        plot_confusion_matrix(test_metrics["confusion_matrix"], labels, out / "confusion_matrix.png",
                              title=f"tuned {config.model} on test"),
    ]
    n_done = len(study.trials)
    result = {
        "config": config.to_dict(),
        "labels": labels,
        "protocol": {"test": test_desc, "search": f"{config.cv} on train+validation", "warning": warning},
        "best_params": best_params,
        "best_fitness": best.value,
        "best_trial": best.id,
        "test_metrics": test_metrics,
        "baseline_metrics": baseline_metrics,
        "reference_metrics": baselines[1:],
        "data": {
            "n_train": int(len(train_idx)), "n_val": int(len(val_idx)), "n_test": int(len(test_idx)),
            "skipped": len(dataset.skipped),
            "skipped_examples": [str(b) for b in dataset.skipped[:20]],
        },
        "trials": {s: sum(t.state == s for t in study.trials) for s in ("complete", "failed", "pruned")},
        "timings": {
            "search_seconds": round(search_seconds, 2),
            "seconds_per_trial": round(search_seconds / max(n_done, 1), 2),
            "final_train_seconds": round(final_seconds, 2),
            "total_seconds": round(time.time() - t_start, 2),
        },
        "plots": [str(p.name) for p in plots],
    }
    _atomic_write_text(out / "result.json", json.dumps(result, indent=1, default=_json_default))
    write_report(out, result, [t.to_dict() for t in study.trials])
    return result


def _baselines(config, dataset, inputs, y, dev_idx, test_idx, labels) -> list[dict[str, Any]]:
    """Reference rows on the same split (first one is ``baseline_metrics``)."""
    from emotune.evaluation.baselines import tfidf_logreg
    from emotune.evaluation.metrics import classification_metrics

    rows = []
    if config.task == "text":
        texts = dataset.texts
        proba = tfidf_logreg([texts[i] for i in dev_idx], y[dev_idx], [texts[i] for i in test_idx], seed=config.seed)
        rows.append({"name": "tfidf_logreg", **classification_metrics(y[test_idx], proba, labels)})
    else:
        from emotune.experiments.speech_inputs import speech_baselines

        rows += speech_baselines(config, dataset, inputs, y, dev_idx, test_idx, labels)
    return rows
