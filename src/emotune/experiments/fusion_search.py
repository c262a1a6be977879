"""``--fusion search``: the fusion style and every per-modality hyperparameter in one search space.

The joint space (:func:`joint_space`) holds

* ``fusion``: a categorical over the fusion styles (``late_equal``,
  ``late_aquila``, ``stacking``, ``intermediate``, ``early``);
* ``<modality>.<key>``: one copy of ``config.model``'s space per modality
  (``audio.hidden_size``, ``face.lr`` ...), the per-modality models the late
  fusions combine;
* ``intermediate.<key>``: the space of ``fusion_mlp`` (one encoder per modality);
* ``early.<key>``: ``config.model``'s space again, for the model on the
  concatenated features.

The same optimizers search it (they see one unit box; the keys a trial's style
does not use are ignored by that trial). A trial (:func:`make_joint_objective`)
trains what its style needs on each search fold's training rows and returns the
validation fitness of the fused probabilities:

* late styles: each modality's model on the rows that have the modality; the
  validation probabilities are fused with equal weights (``late_equal``), or
  with Aquila weights / a logistic-regression stacker *cross-fitted on the
  validation rows* (two folds of the validation rows, by speaker when it has
  two or more: weights fit on one half score the other, so no trial is scored
  on the data its weights were fit on);
* ``intermediate`` / ``early``: one model on the concatenated inputs.

:func:`fit_joint` retrains the best trial's pipeline on train + validation and
predicts the test rows, exactly as the fixed-fusion path does for that style
(late weights and the stacker from out-of-fold probabilities of train + validation).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np

from emotune.exceptions import ConfigError, EmotuneError, TrialFailed
from emotune.search.spaces import Categorical, Space

__all__ = ["JOINT_STYLES", "joint_space", "split_params", "make_joint_objective", "fit_joint", "joint_defaults",
           "search_joint"]

JOINT_STYLES = ("late_equal", "late_aquila", "stacking", "intermediate", "early")
"""The fusion styles the joint search chooses among (the ``fusion`` categorical)."""

_LATE = ("late_equal", "late_aquila", "stacking")
_SEP = "."
_IN_TRIAL_AQUILA_BUDGET = 100


def _groups_of(modalities: Sequence[str]) -> list[str]:
    return [*modalities, "intermediate", "early"]


def joint_space(model_space: Space, fusion_space: Space, modalities: Sequence[str],
                styles: Sequence[str] = JOINT_STYLES) -> Space:
    """One :class:`Space`: ``fusion`` plus ``<group>.<key>`` for every modality, ``intermediate`` and ``early``.

    Args:
        model_space: the space of the per-modality (and early) model.
        fusion_space: the space of the intermediate model (``fusion_mlp``).
        modalities: modality names, in order (each gets its own copy of ``model_space``).
        styles: the fusion styles of the ``fusion`` categorical.
    """
    if not modalities:
        raise ConfigError("the joint fusion search needs at least one modality")
    bad = [s for s in styles if s not in JOINT_STYLES]
    if bad or not styles:
        raise ConfigError(f"joint search styles must be among {JOINT_STYLES}, got {list(styles)}")
    for m in modalities:
        if _SEP in m or m in ("fusion", "intermediate", "early"):
            raise ConfigError(f"modality name {m!r} cannot be used as a prefix of the joint space")
    params: dict[str, Any] = {"fusion": Categorical(list(styles))}
    for group in _groups_of(modalities):
        space = fusion_space if group == "intermediate" else model_space
        params.update({f"{group}{_SEP}{k}": p for k, p in space.params.items()})
    return Space(params)


def split_params(params: dict[str, Any]) -> tuple[str, dict[str, dict[str, Any]]]:
    """``(style, {group: params})`` of a joint configuration (keys without a prefix other than ``fusion`` are kept
    under group ``""``, e.g. fixed parameters shared by every model)."""
    if "fusion" not in params:
        raise ConfigError(f"a joint configuration needs a 'fusion' key, got keys {sorted(params)}")
    groups: dict[str, dict[str, Any]] = {}
    for key, value in params.items():
        if key == "fusion":
            continue
        group, _, name = key.partition(_SEP) if _SEP in key else ("", "", key)
        groups.setdefault(group, {})[name] = value
    return str(params["fusion"]), groups


def joint_defaults(model: str, modalities: Sequence[str], space: Space, style: str = "early") -> dict[str, Any]:
    """Every group's documented defaults and ``fusion=style``: the warm-start configuration of the joint search."""
    from emotune.experiments.objective import default_params
    from emotune.models import MODELS

    out: dict[str, Any] = {"fusion": style}
    for group in _groups_of(modalities):
        name = "fusion_mlp" if group == "intermediate" else model
        sub = Space({k.partition(_SEP)[2]: p for k, p in space.params.items() if k.startswith(group + _SEP)})
        out.update({f"{group}{_SEP}{k}": v for k, v in default_params(MODELS.get(name), sub).items()})
    return out


def _params_for(groups: dict[str, dict[str, Any]], group: str) -> dict[str, Any]:
    return {**groups.get("", {}), **groups.get(group, {})}


def _fused(run: dict, style: str) -> tuple[Any, Any]:
    """(config, inputs) of a one-model style: ``fusion_mlp`` on the frame-aware concatenation, or the model on
    the concatenated vectors."""
    config = run["config"]
    if style != "intermediate":
        return config, run.get("concat_early") or run["concat"]
    concat = run.get("concat_frames", run["concat"])
    fixed = {**config.fixed_params, "modality_dims": concat.modality_dims, "modality_steps": concat.modality_steps}
    return dataclasses.replace(config, model="fusion_mlp", preset=None, fixed_params=fixed), concat


def _cross_fit(style: str, probas: list[np.ndarray], y: np.ndarray, present: np.ndarray,
               groups: np.ndarray | None, seed: int) -> np.ndarray:
    """Validation probabilities fused by weights / a stacker fit on the other half of the validation rows."""
    from emotune.data.splits import kfold_splits
    from emotune.models.fusion import aquila_weights, late_fusion, stacking_fit_predict

    out = np.zeros_like(probas[0], dtype=np.float64)
    by = None if groups is not None and len(np.unique(groups)) >= 2 else "sample"
    try:
        halves = kfold_splits(y, groups, k=2, seed=seed, by=by)
    except (ValueError, EmotuneError):  # too few samples of a class to cut the validation rows in two: fit on all
        halves = [(np.arange(len(y)), np.arange(len(y)))]
    for fit, score in halves:
        if style == "late_aquila":
            w = aquila_weights([p[fit] for p in probas], y[fit], present=present[fit], seed=seed,
                               budget=_IN_TRIAL_AQUILA_BUDGET)
            out[score] = late_fusion([p[score] for p in probas], w, present[score])
        elif len(np.unique(y[fit])) < 2:
            out[score] = late_fusion([p[score] for p in probas], None, present[score])
        else:
            out[score] = stacking_fit_predict([p[fit] for p in probas], y[fit], [p[score] for p in probas], seed=seed)
    return out


def _late_val(run: dict, groups: dict, train_idx: np.ndarray, val_idx: np.ndarray, style: str,
              seed: int) -> tuple[np.ndarray, dict[str, int]]:
    from emotune.experiments.multimodal import _uniform_where_missing
    from emotune.experiments.multimodal_inputs import single_inputs
    from emotune.experiments.objective import fit_and_score
    from emotune.models.fusion import late_fusion

    config, y, n_classes = run["config"], run["y"], run["n_classes"]
    probas, epochs = [], {}
    for m in run["mods"]:
        p = m.present
        tr, va = train_idx[p[train_idx]], val_idx[p[val_idx]]
        if len(tr) == 0 or len(va) == 0:
            probas.append(np.full((len(val_idx), n_classes), 1.0 / n_classes, np.float32))
            continue
        _, proba, result, _ = fit_and_score(config, single_inputs(m, run["normalize"], run["groups"],
                                                                  config.early_frames), n_classes,
                                            _params_for(groups, m.name), tr, va, y)
        probas.append(_uniform_where_missing(proba, p[val_idx], n_classes))
        epochs[m.name] = int(result.best_epoch)
    present = np.stack([m.present[val_idx] for m in run["mods"]], axis=1)
    if style == "late_equal":
        return late_fusion(probas, None, present), epochs
    g = None if run["groups"] is None else run["groups"][val_idx]
    return _cross_fit(style, probas, y[val_idx], present, g, seed), epochs


def _fused_val(run: dict, groups: dict, train_idx: np.ndarray, val_idx: np.ndarray,
               style: str) -> tuple[np.ndarray, dict[str, int]]:
    from emotune.experiments.objective import fit_and_score

    cfg, concat = _fused(run, style)
    params = {**_params_for(groups, style), **cfg.fixed_params}
    _, proba, result, _ = fit_and_score(cfg, concat, run["n_classes"], params, train_idx, val_idx, run["y"])
    return proba, {style: int(result.best_epoch)}


def make_joint_objective(run: dict, folds: Sequence[tuple[np.ndarray, np.ndarray]], seed: int):
    """The joint search objective: mean validation fitness over ``folds`` of the pipeline a configuration names.

    ``run`` carries ``config``, ``y``, ``groups``, ``mods``, ``n_classes``, ``normalize``, ``concat`` (the
    :class:`~emotune.experiments.multimodal_inputs.ConcatInputs` of the modalities' vectors) and optionally
    ``concat_frames`` (the same with ``frames=True``, the intermediate model's input) and ``concat_early``
    (frame-level early fusion's input, when ``config.early_frames > 0``). Returns
    ``(fitness, {"best_epoch", "fusion", "epochs.<component>"...})``.
    """
    from emotune.evaluation.metrics import FITNESS

    fitness_fn = FITNESS[run["config"].fitness]

    def objective(params: dict[str, Any], trial: Any = None) -> tuple[float, dict]:
        style, groups = split_params({**params, **run["config"].fixed_params})
        if style not in JOINT_STYLES:
            raise TrialFailed(f"unknown fusion style {style!r}")
        scores, epochs = [], {}
        for train_idx, val_idx in folds:
            if style in _LATE:
                proba, ep = _late_val(run, groups, train_idx, val_idx, style, seed)
            else:
                proba, ep = _fused_val(run, groups, train_idx, val_idx, style)
            if not np.all(np.isfinite(proba)):
                raise TrialFailed("the fused model produced non-finite probabilities")
            scores.append(float(fitness_fn(run["y"][val_idx], proba)))
            for k, v in ep.items():
                epochs.setdefault(k, []).append(v)
        attrs: dict[str, Any] = {"fusion": style, "fold_scores": scores}
        attrs.update({f"epochs.{k}": int(np.median(v)) for k, v in epochs.items()})
        attrs["best_epoch"] = int(np.median([e for v in epochs.values() for e in v])) if epochs else 1
        return float(np.mean(scores)), attrs

    return objective


def fit_joint(run: dict, params: dict[str, Any], attrs: dict[str, Any], dev_idx: np.ndarray, test_idx: np.ndarray,
              seed: int) -> tuple[np.ndarray, dict[str, Any]]:
    """Retrain the pipeline of ``params`` (the best joint trial) on ``dev_idx`` and predict ``test_idx``.

    Returns ``(test probabilities float (n_test, C), info)``; ``info`` holds the style and, for
    ``late_aquila``, the weights (fit on out-of-fold probabilities of ``dev_idx``).
    """
    from emotune.experiments.multimodal import _fit_predict, _oof, _uniform_where_missing
    from emotune.experiments.multimodal_inputs import single_inputs
    from emotune.models.fusion import aquila_weights, late_fusion, stacking_fit_predict

    config, y, n_classes, mods = run["config"], run["y"], run["n_classes"], run["mods"]
    style, groups = split_params({**params, **config.fixed_params})
    info: dict[str, Any] = {"fusion": style}
    epoch = lambda key: max(1, int(attrs.get(f"epochs.{key}", attrs.get("best_epoch", config.epochs))))  # noqa: E731
    if style not in _LATE:
        cfg, concat = _fused(run, style)
        p = {**_params_for(groups, style), **cfg.fixed_params}
        return _fit_predict(cfg, concat, y, n_classes, p, epoch(style), dev_idx, test_idx), info
    test, oof = [], []
    for m in mods:
        inputs = single_inputs(m, run["normalize"], run["groups"], config.early_frames)
        pm, pres = _params_for(groups, m.name), m.present
        dev_m, test_m = dev_idx[pres[dev_idx]], test_idx[pres[test_idx]]
        test.append(_uniform_where_missing(_fit_predict(config, inputs, y, n_classes, pm, epoch(m.name), dev_m,
                                                        test_m), pres[test_idx], n_classes))
        if style != "late_equal":
            oof.append(_uniform_where_missing(_oof(config, inputs, y, run["groups"], n_classes, pm, epoch(m.name),
                                                   dev_m, seed), pres[dev_idx], n_classes))
    present_test = np.stack([m.present[test_idx] for m in mods], axis=1)
    if style == "late_equal":
        return late_fusion(test, None, present_test), info
    if style == "late_aquila":
        present_dev = np.stack([m.present[dev_idx] for m in mods], axis=1)
        w = aquila_weights(oof, y[dev_idx], present=present_dev, seed=seed)
        info["weights"] = [float(v) for v in w]
        return late_fusion(test, w, present_test), info
    return stacking_fit_predict(oof, y[dev_idx], test, seed=config.seed), info


def search_joint(run: dict, train_idx: np.ndarray, val_idx: np.ndarray, seed: int,
                 out: Any) -> tuple[dict[str, Any], dict[str, Any], float, int]:
    """Search the joint space with ``config.optimizer`` on (train, validation) of one outer fold.

    Writes ``out/trials_search.csv``; returns ``(best params, best trial's attrs, seconds, trials)``.
    """
    import time

    from emotune.experiments.run_files import write_trials_csv
    from emotune.experiments.splitting import search_folds
    from emotune.models import MODELS
    from emotune.search import Study

    config = run["config"]
    names = [m.name for m in run["mods"]]
    space = joint_space(MODELS.get(config.model).space(config.preset), MODELS.get("fusion_mlp").space(), names)
    groups = run["groups"] if config.split_by == "group" else None
    folds = search_folds(config, run["y"], groups, train_idx, val_idx, seed=seed)
    study = Study(space, config.optimizer, "maximize", seed, budget=config.trials,
                  optimizer_options=config.optimizer_options)
    if config.warm_start and config.trials > 1:
        study.enqueue(joint_defaults(config.model, names, space))
    t0 = time.time()
    study.optimize(make_joint_objective(run, folds, seed), trials=config.trials, timeout=config.timeout,
                   show_progress=False, description=f"{config.optimizer} on the joint fusion space")
    seconds = time.time() - t0
    write_trials_csv(out / "trials_search.csv", study.trials, config.fixed_params)
    best = study.best_trial
    if best is None:
        errors = "; ".join(sorted({t.error or "?" for t in study.trials}))[:1000]
        raise TrialFailed(f"joint fusion search: every trial failed; errors: {errors}")
    return dict(best.params), dict(best.user_attrs), seconds, len(study.trials)
