"""``emotune tune --task multimodal``: every modality alone and every fusion style, on the same outer folds.

Per outer fold (by speaker; the test speakers are never seen by any search):

1. each modality alone: the model ``config.model`` searched on that modality's
   (train, validation) parts with ``config.optimizer``, retrained on train +
   validation and scored on test; its out-of-fold probabilities on train +
   validation come from ``k`` group folds of train + validation with the best
   parameters (``_OOF_FOLDS``);
2. late fusion of the modality models' test probabilities with
   ``late_equal`` (equal weights), ``late_aquila`` (weights on the simplex that
   minimise the log loss of the out-of-fold probabilities, found by the
   ``aquila`` optimizer) and ``stacking`` (logistic regression on the
   out-of-fold log probabilities);
3. ``intermediate``: ``fusion_mlp`` (one encoder per modality, trained end to
   end, modality masks and modality dropout) searched and retrained like a model;
4. ``early``: the concatenated normalised features (plus presence flags) fed to
   ``config.model``, searched and retrained; with ``config.early_frames = N > 0``
   frame-level instead: every modality's frames aligned to ``N`` steps and
   concatenated per step (:class:`~emotune.experiments.multimodal_inputs.FrameConcatInputs`),
   the input of ``sa_lstm`` in the SALSTM-LWARO design.

With ``config.fusion == "search"`` steps 2-4 are replaced by one search over the
joint space of :mod:`emotune.experiments.fusion_search` (the fusion style as a
categorical plus every modality's and every fusion model's hyperparameters),
whose best pipeline is retrained and scored as the system ``search``; the
chosen style of each fold is in ``folds[k]["chosen_fusion"]``.

The run pools each system's test predictions over the folds (every sample
predicted by models that never saw its speaker), reports mean and spread over
folds, the gain of the best fusion over the best single modality, and uses
``config.fusion`` as the run's final system (``test_metrics``).
``result.json`` has ``test_metrics``, ``modality_metrics``, ``fusion_metrics``,
``fold_metrics`` (per system) and the late-fusion weights of each fold. No
model bundle is written for multimodal runs yet.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from emotune._seeding import seed_everything
from emotune.exceptions import TrialFailed
from emotune.experiments.config import FUSIONS, TuneConfig, save_config

__all__ = ["run_multimodal", "SYSTEMS"]

_OOF_FOLDS = 3
LATE = ("late_equal", "late_aquila", "stacking")
SYSTEMS = tuple(f for f in FUSIONS if f != "search")
"""The fixed fusion styles every run scores (``--fusion search`` scores its own jointly searched pipeline instead)."""
NO_TEXT = "_without_text"
"""Suffix of the systems that repeat the fusions without the text modality (scripted text)."""


def _search(config: TuneConfig, inputs: Any, y: np.ndarray, groups: np.ndarray | None, train_idx: np.ndarray,
            val_idx: np.ndarray, n_classes: int, seed: int, out: Path, name: str) -> tuple[dict, int, float, int]:
    """Search ``config.model`` on (train, validation); returns (best params, best epoch, seconds, trials)."""
    from emotune.experiments.objective import default_params, make_objective
    from emotune.experiments.run_files import write_trials_csv
    from emotune.experiments.splitting import search_folds
    from emotune.models import MODELS
    from emotune.search import Study

    space = MODELS.get(config.model).space(config.preset)
    folds = search_folds(config, y, groups if config.split_by == "group" else None, train_idx, val_idx, seed=seed)
    objective = make_objective(config, inputs, folds, y, n_classes)
    study = Study(space, config.optimizer, "maximize", seed, budget=config.trials,
                  optimizer_options=config.optimizer_options)
    if config.warm_start and config.trials > 1:
        study.enqueue(default_params(MODELS.get(config.model), space))
    t0 = time.time()
    study.optimize(objective, trials=config.trials, timeout=config.timeout, show_progress=False,
                   description=f"{config.optimizer} on {name}")
    seconds = time.time() - t0
    write_trials_csv(out / f"trials_{name}.csv", study.trials, config.fixed_params)
    best = study.best_trial
    if best is None:
        errors = "; ".join(sorted({t.error or "?" for t in study.trials}))[:1000]
        raise TrialFailed(f"{name}: every trial failed; errors: {errors}")
    params = {**best.params, **config.fixed_params}
    return params, max(1, int(best.user_attrs.get("best_epoch", config.epochs))), seconds, len(study.trials)


def _fit_predict(config, inputs, y, n_classes, params, epochs, train_idx, eval_idx) -> np.ndarray:
    from emotune.experiments.objective import fit_and_score

    _, proba, _, _ = fit_and_score(config, inputs, n_classes, params, train_idx, eval_idx, y, epochs=epochs,
                                   with_val=False)
    return proba


def _oof(config, inputs, y, groups, n_classes, params, epochs, dev_idx, seed) -> np.ndarray:
    """Out-of-fold probabilities of ``dev_idx`` rows from ``_OOF_FOLDS`` group folds of ``dev_idx``."""
    from emotune.data.splits import kfold_splits

    g = None if groups is None else groups[dev_idx]
    out = np.zeros((len(dev_idx), n_classes), np.float32)
    for a, b in kfold_splits(y[dev_idx], g, k=_OOF_FOLDS, seed=seed):
        out[b] = _fit_predict(config, inputs, y, n_classes, params, epochs, dev_idx[a], dev_idx[b])
    return out


def _uniform_where_missing(proba_rows: np.ndarray, present: np.ndarray, n_classes: int) -> np.ndarray:
    out = np.full((len(present), n_classes), 1.0 / n_classes, np.float32)
    out[present] = proba_rows
    return out


def _fold(run: dict, k: int, train_idx, val_idx, test_idx, out: Path) -> dict[str, Any]:
    """Every system on one outer fold: test probabilities, late-fusion weights, timings."""
    from emotune.experiments.multimodal_inputs import single_inputs
    from emotune.experiments.splitting import fold_seed

    config, y, groups, mods, n_classes = run["config"], run["y"], run["groups"], run["mods"], run["n_classes"]
    seed = fold_seed(config.seed, k)
    out.mkdir(parents=True, exist_ok=True)
    dev_idx = np.concatenate([train_idx, val_idx])
    probas: dict[str, np.ndarray] = {}
    oof: dict[str, np.ndarray] = {}
    timing: dict[str, dict[str, float]] = {}
    params_of: dict[str, dict] = {}
    for m in mods:
        inputs = single_inputs(m, run["normalize"], groups, config.early_frames)
        p = m.present
        params, epochs, secs, n = _search(config, inputs, y, groups, train_idx[p[train_idx]], val_idx[p[val_idx]],
                                          n_classes, seed, out, m.name)
        timing[m.name] = {"search_seconds": round(secs, 2), "seconds_per_trial": round(secs / max(n, 1), 3)}
        params_of[m.name] = params
        dev_m, test_m = dev_idx[p[dev_idx]], test_idx[p[test_idx]]
        probas[m.name] = _uniform_where_missing(
            _fit_predict(config, inputs, y, n_classes, params, epochs, dev_m, test_m), p[test_idx], n_classes)
        if config.fusion != "search":  # out-of-fold probabilities feed the fixed late fusions only
            oof[m.name] = _uniform_where_missing(
                _oof(config, inputs, y, groups, n_classes, params, epochs, dev_m, seed), p[dev_idx], n_classes)
        run["say"](f"fold {k + 1}: {m.name} alone searched ({n} trials, {secs:.0f} s)")
    r = _fusions(run, k, train_idx, val_idx, test_idx, out, probas, oof, timing, params_of)
    kept = run.get("without_text")
    if kept:  # the same fusions without the text modality (scripted text: see evaluation.text_honesty)
        sub = {**run, "mods": [m for m in mods if m.name in kept]}
        s = _fusions(sub, k, train_idx, val_idx, test_idx, out / "without_text", {n: probas[n] for n in kept},
                     {n: oof[n] for n in kept if n in oof}, {}, {})
        for key in ("probas", "timing", "params", "weights"):
            r[key].update({f"{name}{NO_TEXT}": v for name, v in s[key].items() if name not in kept})
        if "chosen" in s:
            r["chosen_without_text"] = s["chosen"]
    return r


def _fusions(run: dict, k: int, train_idx, val_idx, test_idx, out: Path, probas: dict, oof: dict, timing: dict,
             params_of: dict) -> dict[str, Any]:
    """The fusions of ``run["mods"]`` (whose test and out-of-fold probabilities are in ``probas`` / ``oof``)."""
    from emotune.experiments.multimodal_inputs import ConcatInputs, FrameConcatInputs
    from emotune.experiments.splitting import fold_seed
    from emotune.models.fusion import aquila_weights, late_fusion, stacking_fit_predict

    config, y, groups, mods, n_classes = run["config"], run["y"], run["groups"], run["mods"], run["n_classes"]
    seed = fold_seed(config.seed, k)
    out.mkdir(parents=True, exist_ok=True)
    dev_idx = np.concatenate([train_idx, val_idx])
    if config.fusion == "search":
        return _joint_fold(run, k, train_idx, val_idx, test_idx, out, probas, timing, params_of)
    names = [m.name for m in mods]
    present_dev = np.stack([m.present[dev_idx] for m in mods], axis=1)
    present_test = np.stack([m.present[test_idx] for m in mods], axis=1)
    weights: dict[str, list[float]] = {}
    t0 = time.time()
    probas["late_equal"] = late_fusion([probas[n] for n in names], None, present_test)
    w = aquila_weights([oof[n] for n in names], y[dev_idx], present=present_dev, seed=seed)
    weights["late_aquila"] = [float(v) for v in w]
    probas["late_aquila"] = late_fusion([probas[n] for n in names], w, present_test)
    probas["stacking"] = stacking_fit_predict([oof[n] for n in names], y[dev_idx], [probas[n] for n in names],
                                              seed=config.seed)
    timing["late"] = {"seconds": round(time.time() - t0, 2)}
    for system, model in (("intermediate", "fusion_mlp"), ("early", config.model)):
        # intermediate: a modality with frames (motion capture) enters as frames for its mocap_cnn encoder;
        # early: clip vectors, or (early_frames > 0) every modality's frames aligned and concatenated per step
        concat = (FrameConcatInputs(mods, run["normalize"], groups, steps=config.early_frames)
                  if system == "early" and config.early_frames else
                  ConcatInputs(mods, run["normalize"], groups, frames=system == "intermediate"))
        fixed = dict(config.fixed_params)
        if model == "fusion_mlp":
            fixed["modality_dims"], fixed["modality_steps"] = concat.modality_dims, concat.modality_steps
        cfg = dataclasses.replace(config, model=model, preset=None if model == "fusion_mlp" else config.preset,
                                  fixed_params=fixed)
        params, epochs, secs, n = _search(cfg, concat, y, groups, train_idx, val_idx, n_classes, seed, out, system)
        probas[system] = _fit_predict(cfg, concat, y, n_classes, params, epochs, dev_idx, test_idx)
        timing[system] = {"search_seconds": round(secs, 2), "seconds_per_trial": round(secs / max(n, 1), 3)}
        params_of[system] = {k2: v for k2, v in params.items() if k2 not in ("modality_dims", "modality_steps")}
        run["say"](f"fold {k + 1}: {system} fusion searched ({n} trials, {secs:.0f} s)")
    return {"probas": probas, "weights": weights, "timing": timing, "params": params_of}


def _joint_fold(run: dict, k: int, train_idx, val_idx, test_idx, out: Path, probas: dict, timing: dict,
                params_of: dict) -> dict[str, Any]:
    """``--fusion search``: one search over the fusion style and every model's parameters, then its retrained pipeline."""
    from emotune.experiments.fusion_search import fit_joint, search_joint
    from emotune.experiments.multimodal_inputs import ConcatInputs, FrameConcatInputs
    from emotune.experiments.splitting import fold_seed

    seed = fold_seed(run["config"].seed, k)
    steps = run["config"].early_frames
    run = {**run, "concat": ConcatInputs(run["mods"], run["normalize"], run["groups"]),
           "concat_frames": ConcatInputs(run["mods"], run["normalize"], run["groups"], frames=True),
           "concat_early": FrameConcatInputs(run["mods"], run["normalize"], run["groups"], steps=steps) if steps
           else None}
    params, attrs, secs, n = search_joint(run, train_idx, val_idx, seed, out)
    dev_idx = np.concatenate([train_idx, val_idx])
    probas["search"], info = fit_joint(run, params, attrs, dev_idx, test_idx, seed)
    timing["search"] = {"search_seconds": round(secs, 2), "seconds_per_trial": round(secs / max(n, 1), 3)}
    params_of["search"] = params
    run["say"](f"fold {k + 1}: joint search chose {info['fusion']} ({n} trials, {secs:.0f} s)")
    weights = {"search": info["weights"]} if "weights" in info else {}
    return {"probas": probas, "weights": weights, "timing": timing, "params": params_of, "chosen": info["fusion"]}


def run_multimodal(config: TuneConfig, *, console: Any = None) -> dict[str, Any]:
    """Run the multimodal protocol (module docstring) and write ``config.out``; returns ``result.json``'s content."""
    from emotune.data.splits import check_labels, save_split
    from emotune.evaluation.metrics import aggregate, classification_metrics
    from emotune.evaluation.text_honesty import check_text
    from emotune.experiments.multimodal_inputs import load_multimodal
    from emotune.experiments.objective import set_training_threads
    from emotune.experiments.run_files import atomic_write_text, json_default, public_result
    from emotune.experiments.splitting import outer_plan

    t_start = time.time()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(config.seed)
    save_config(config, out / "config.yaml")
    say = console.print if console is not None else (lambda *a, **k: None)
    dataset, mods = load_multimodal(config)
    labels = dataset.labels
    y = dataset.label_ids({name: i for i, name in enumerate(labels)})
    groups = np.array(dataset.groups) if any(dataset.groups) else None
    plan = outer_plan(config, dataset, y, groups)
    for train_idx, val_idx, test_idx, _ in plan.splits:
        check_labels([labels[i] for i in y[np.concatenate([train_idx, val_idx])]], [labels[i] for i in y[test_idx]])
    ids = dataset.ids
    save_split(out / "split.json", {f"fold_{k + 1}_test": [ids[i] for i in s[2]] for k, s in enumerate(plan.splits)})
    set_training_threads(config.threads)
    # "auto" (and "speaker") normalise each speaker by its own clips when speakers are known, else globally
    normalize = "global" if config.normalize in ("auto", "speaker") and groups is None else config.normalize
    normalize = "speaker" if normalize == "auto" else normalize
    run = dict(config=config, y=y, groups=groups, mods=mods, n_classes=len(labels), say=say, normalize=normalize)
    say(f"[bold]data[/] {config.dataset}: {len(dataset)} samples, modalities "
        + ", ".join(f"{m.name} ({m.dim} values, {int(m.present.sum())} present)" for m in mods))

    text_check = check_text([s.text for s in dataset.samples], [labels[i] for i in y], config.dataset)
    non_text = [m.name for m in mods if m.name != "text"]
    drop_text = "text" in config.modalities and text_check.flagged and bool(non_text)
    if drop_text and len(non_text) >= 2:  # the fusions again, without text (with one left, it is that one alone)
        run["without_text"] = non_text
    fusions = ["search"] if config.fusion == "search" else list(SYSTEMS)
    systems = [m.name for m in mods] + fusions + [f + NO_TEXT for f in fusions if run.get("without_text")]
    pooled = {s: np.zeros((len(y), len(labels)), np.float32) for s in systems}
    tested = np.zeros(len(y), bool)
    per_fold: dict[str, list[dict]] = {s: [] for s in systems}
    folds = []
    for k, (train_idx, val_idx, test_idx, desc) in enumerate(plan.splits):
        r = _fold(run, k, train_idx, val_idx, test_idx, out / f"fold_{k + 1}")
        tested[test_idx] = True
        row = {"fold": k + 1, "test": desc, "weights": r["weights"], "timings": r["timing"], "best_params": r["params"],
               "test_metrics": {}}
        if "chosen" in r:
            row["chosen_fusion"] = r["chosen"]
        if "chosen_without_text" in r:
            row["chosen_fusion_without_text"] = r["chosen_without_text"]
        for s in systems:
            pooled[s][test_idx] = r["probas"][s]
            metrics = classification_metrics(y[test_idx], r["probas"][s], labels)
            per_fold[s].append(metrics)
            row["test_metrics"][s] = {m: metrics[m] for m in ("accuracy", "macro_f1", "unweighted_accuracy")}
        folds.append(row)
    idx = np.flatnonzero(tested)
    pooled_metrics = {s: classification_metrics(y[idx], pooled[s][idx], labels) for s in systems}
    modality_metrics = {m.name: pooled_metrics[m.name] for m in mods}
    fusion_metrics = {s: pooled_metrics[s] for s in fusions}
    key = "unweighted_accuracy"
    best_single = max(modality_metrics, key=lambda s: modality_metrics[s][key])
    best_fusion = max(fusion_metrics, key=lambda s: fusion_metrics[s][key])
    fold_metrics = {s: aggregate(per_fold[s]) for s in systems}
    warning, without_text = None, None
    if text_check.flagged:
        warning = text_check.reason + (
            ": a text score here measures the script, not emotion; the results without the text modality are "
            "shown (without_text)" if drop_text else
            ": text is the only modality, so this score measures the script, not emotion" if "text" in config.modalities
            else ": the text modality is not used in this run")
    if drop_text:
        candidates = {f"{n} alone": modality_metrics[n] for n in non_text}
        no_text_fusions = {f: pooled_metrics[f + NO_TEXT] for f in fusions if run.get("without_text")}
        candidates.update({f"fusion {f}": m for f, m in no_text_fusions.items()})
        best = max(candidates, key=lambda s: candidates[s][key])
        without_text = {"modalities": non_text, "fusion_metrics": no_text_fusions, "best_system": best,
                        "best_metrics": candidates[best], "final_system": f"fusion {config.fusion}",
                        "text_points": round(100 * (fusion_metrics[config.fusion][key] - candidates[best][key]), 2)}
    result = {
        "config": config.to_dict(),
        "labels": labels,
        "protocol": {"test": f"pooled over {len(plan.splits)} outer folds ({plan.spec})",
                     "search": f"{config.cv} on each fold's train+validation; late fusion weights and the stacker "
                               f"on {_OOF_FOLDS}-fold out-of-fold probabilities of train+validation",
                     "warning": warning, "note": "; ".join(plan.notes) or None},
        "fusion": config.fusion,
        "test_metrics": fusion_metrics[config.fusion],
        "modality_metrics": modality_metrics,
        "fusion_metrics": fusion_metrics,
        "fold_metrics": fold_metrics,
        "gain": {"best_fusion": best_fusion, "best_single_modality": best_single, "metric": key,
                 "points": round(100 * (fusion_metrics[best_fusion][key] - modality_metrics[best_single][key]), 2)},
        "folds": folds,
        "text_check": text_check.to_dict(),
        "without_text": without_text,
        "data": {"n_test": int(len(idx)), "skipped": len(dataset.skipped),
                 "modalities": {m.name: {"dim": m.dim, "present": int(m.present.sum()),
                                           **({"steps": m.steps} if m.steps else {})} for m in mods}},
        "timings": {"total_seconds": round(time.time() - t_start, 2)},
    }
    atomic_write_text(out / "result.json", json.dumps(public_result(result), indent=1, default=json_default))
    atomic_write_text(out / "report.md", _report(result))
    return public_result(result)


def _report(result: dict[str, Any]) -> str:
    """A Markdown table: each modality alone and each fusion, pooled and mean +- std over folds."""
    cfg = result["config"]
    lines = [f"# {cfg['dataset']}: {', '.join(cfg['modalities'])} with {cfg['model']} ({cfg['optimizer']})", ""]
    if result["protocol"]["warning"]:
        lines += [f"> **Warning:** {result['protocol']['warning']}", ""]
    lines += [f"Test: {result['protocol']['test']}. Search: {result['protocol']['search']}.", "",
              "| system | accuracy | macro-F1 | UA (pooled) | UA mean +- std over folds |", "|---|---|---|---|---|"]
    rows = [(f"{k} alone", k, v) for k, v in result["modality_metrics"].items()]
    rows += [(f"fusion {k}" + (" (final)" if k == result["fusion"] else ""), k, v)
             for k, v in result["fusion_metrics"].items()]
    for title, key, m in rows:
        fm = result["fold_metrics"][key]["unweighted_accuracy"]
        lines.append(f"| {title} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} | {m['unweighted_accuracy']:.4f} | "
                     f"{fm['mean']:.4f} +- {fm['std']:.4f} |")
    g = result["gain"]
    lines += ["", f"Best fusion ({g['best_fusion']}) - best single modality ({g['best_single_modality']}): "
              f"{g['points']:+.2f} points of UA.", ""]
    weights = [f["weights"].get("late_aquila") for f in result["folds"]]
    if any(weights):
        lines.append("Aquila late-fusion weights per fold: " + "; ".join(
            ", ".join(f"{w:.2f}" for w in ws) for ws in weights if ws))
    lines += _without_text_section(result)
    chosen = [f.get("chosen_fusion") for f in result["folds"]]
    if any(chosen):
        lines.append("Fusion style chosen by the joint search per fold: " + ", ".join(str(c) for c in chosen))
    return "\n".join(lines) + "\n"


def _without_text_section(result: dict[str, Any]) -> list[str]:
    """The report's "Without the text modality" section (scripted text; empty when not needed)."""
    wt = result.get("without_text")
    if not wt:
        return []
    lines = ["", "## Without the text modality", "",
             f"The text of this corpus is scripted ({result['text_check']['verdict']}): "
             f"{result['text_check']['reason']}. The same protocol without text "
             f"({', '.join(wt['modalities'])}):", "",
             "| system | accuracy | macro-F1 | UA (pooled) | UA mean +- std over folds |", "|---|---|---|---|---|"]
    rows = [(f"{n} alone", n, result["modality_metrics"][n]) for n in wt["modalities"]]
    rows += [(f"fusion {f} without text", f + NO_TEXT, m) for f, m in wt["fusion_metrics"].items()]
    for title, key, m in rows:
        fm = result["fold_metrics"][key]["unweighted_accuracy"]
        lines.append(f"| {title} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} | {m['unweighted_accuracy']:.4f} | "
                     f"{fm['mean']:.4f} +- {fm['std']:.4f} |")
    lines += ["", f"Best without text: {wt['best_system']}, {wt['best_metrics']['unweighted_accuracy']:.4f} UA; "
              f"the final system with text ({wt['final_system']}) differs by {wt['text_points']:+.2f} points, "
              "which the script explains, not emotion.", ""]
    return lines
