"""The sections of a tune run's HTML/markdown report, read from the run directory.

Inputs: ``result.json`` (required), ``config.yaml``, ``trials.csv`` and
``split.json`` (each optional). Sections, in order: config, data and splits,
test results (with the reference rows and any bootstrap interval in the result),
per-class metrics and confusion matrix, search curves, trial table, parameter
importance and the parallel-coordinates view.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from emotune.evaluation import report_figures as F
from emotune.evaluation.html_report import Section

__all__ = ["run_sections", "read_trials", "parameter_importance"]

_METRICS = (("accuracy", "accuracy"), ("macro_f1", "macro-F1"), ("unweighted_accuracy", "UA"),
            ("weighted_accuracy", "WA"), ("roc_auc", "ROC-AUC"))
_TRIAL_COLUMNS = ("fold", "trial", "state", "fitness", "seconds", "best_epoch", "error")


def read_trials(path: Path) -> list[dict[str, str]]:
    """Rows of ``trials.csv`` as dicts of strings (empty list if the file is missing)."""
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _float(text: Any) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


def _cell(text: str) -> Any:
    """A trials.csv value for display: ints as ints, other numbers as floats, the rest as text."""
    try:
        return int(text)
    except (TypeError, ValueError):
        value = _float(text)
        return text if value is None else value


def _param_columns(rows: list[dict[str, str]]) -> list[str]:
    return [c for c in (rows[0].keys() if rows else []) if c not in _TRIAL_COLUMNS]


def _typed(values: list[str]) -> list[Any]:
    """Numbers where every value parses as one, else the strings themselves."""
    nums = [_float(v) for v in values]
    return nums if all(n is not None for n in nums) else list(values)


def parameter_importance(rows: list[dict[str, str]], *, seed: int = 0) -> tuple[dict[str, float], str]:
    """Importance of each varying parameter for the validation fitness of the complete trials.

    fANOVA through Optuna's :class:`~optuna.importance.FanovaImportanceEvaluator` on the
    trials rebuilt as an Optuna study (each parameter's distribution inferred from the values
    seen: int or float range, log when positive and spanning two decades, else categorical);
    if that fails, a permutation estimate (scikit-learn random forest + permutation importance).

    Returns:
        ``(name -> importance, method)``; empty with a reason as ``method`` when there are fewer
        than four complete trials or no parameter varies.
    """
    done = [r for r in rows if r.get("state") == "complete" and _float(r.get("fitness")) is not None]
    names = [n for n in _param_columns(rows) if len({r[n] for r in done}) > 1]
    if len(done) < 4 or not names:
        return {}, f"not estimated: {len(done)} complete trials and {len(names)} varying parameters"
    columns = {n: _typed([r[n] for r in done]) for n in names}
    y = np.array([float(r["fitness"]) for r in done])
    try:
        return _fanova(columns, y, seed), "fANOVA (Optuna FanovaImportanceEvaluator)"
    except Exception as exc:  # noqa: BLE001  any failure of the optional estimator -> the fallback
        return _permutation(columns, y, seed), f"permutation estimate (fANOVA failed: {type(exc).__name__})"


def _distribution(values: list[Any]):
    import optuna.distributions as D

    if all(isinstance(v, float) for v in values):
        lo, hi = min(values), max(values)
        if all(v == int(v) for v in values):
            return D.IntDistribution(int(lo), int(hi)), [int(v) for v in values]
        return D.FloatDistribution(lo, hi, log=lo > 0 and hi / lo >= 100), values
    cats = sorted({str(v) for v in values})
    return D.CategoricalDistribution(cats), [str(v) for v in values]


def _fanova(columns: dict[str, list[Any]], y: np.ndarray, seed: int) -> dict[str, float]:
    import optuna
    from optuna.importance import FanovaImportanceEvaluator, get_param_importances

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    dists, vals = {}, {}
    for name, values in columns.items():
        dists[name], vals[name] = _distribution(values)
    study = optuna.create_study(direction="maximize")
    for i, value in enumerate(y):
        study.add_trial(optuna.trial.create_trial(params={n: vals[n][i] for n in columns}, distributions=dists,
                                                  value=float(value)))
    imp = get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=seed))
    return {k: float(v) for k, v in imp.items()}


def _permutation(columns: dict[str, list[Any]], y: np.ndarray, seed: int) -> dict[str, float]:
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.inspection import permutation_importance

    feats = []
    for values in columns.values():
        if all(isinstance(v, float) for v in values):
            feats.append(np.asarray(values, dtype=float))
        else:
            cats = sorted({str(v) for v in values})
            feats.append(np.array([cats.index(str(v)) for v in values], dtype=float))
    X = np.column_stack(feats)
    forest = RandomForestRegressor(n_estimators=200, random_state=seed).fit(X, y)
    res = permutation_importance(forest, X, y, n_repeats=10, random_state=seed)
    imp = np.maximum(res.importances_mean, 0)
    total = imp.sum() or 1.0
    return dict(sorted(((n, float(v / total)) for n, v in zip(columns, imp)), key=lambda kv: -kv[1]))


def _metric_row(name: str, m: dict[str, Any]) -> list[Any]:
    return [name] + [m.get(key) for key, _ in _METRICS]


def _intervals(result: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every bootstrap-interval record in the result (any dict with reference, difference, low and high)."""
    found = []
    for key, value in result.items():
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, dict) and {"difference", "low", "high"} <= set(item):
                found.append((key, item))
    return found


def _config_section(result: dict[str, Any]) -> Section:
    cfg = result.get("config", {})
    s = Section("config", "Config")
    s.p(f"Task **{cfg.get('task')}**, dataset **{cfg.get('dataset')}**, model **{cfg.get('model')}**, optimizer "
        f"**{cfg.get('optimizer')}** with {cfg.get('trials')} trials, fitness **{cfg.get('fitness')}**, seed "
        f"{cfg.get('seed')}. Rerun with `emotune tune --config config.yaml`.")
    s.table(["key", "value"], [[k, json.dumps(v) if isinstance(v, (dict, list)) else v] for k, v in cfg.items()])
    return s


def _data_section(result: dict[str, Any], run_dir: Path) -> Section:
    data, protocol = result.get("data", {}), result.get("protocol", {})
    s = Section("data", "Data and splits")
    if protocol.get("warning"):
        s.note(protocol["warning"])
    s.p(f"Test: {protocol.get('test', 'held out')}; fixed before the search and never seen by it. "
        f"Search: {protocol.get('search', '-')}. Classes: {', '.join(result.get('labels', []))}.")
    s.table(["train", "validation", "test", "skipped rows"],
            [[data.get("n_train"), data.get("n_val"), data.get("n_test"), data.get("skipped", 0)]])
    summary = data.get("split_summary")
    if summary:
        parts = list(summary)
        labels = result.get("labels", [])
        s.table(["part", "samples", "groups (speakers)"] + labels,
                [[p, summary[p].get("n"), summary[p].get("groups")] + [summary[p].get("classes", {}).get(c, 0)
                                                                         for c in labels] for p in parts],
                caption="Class counts and speakers per part")
    else:
        per = result.get("test_metrics", {}).get("per_class") or {}
        if per:
            s.table(["class", "test samples"], [[c, v.get("support")] for c, v in per.items()],
                    caption="Class counts on test")
    split = run_dir / "split.json"
    if split.exists():
        try:
            parts = json.loads(split.read_text())
            for key in ("parts", "ids"):
                if isinstance(parts, dict) and isinstance(parts.get(key), dict):
                    parts = parts[key]
            s.table(["part", "samples"], [[k, len(v)] for k, v in parts.items() if isinstance(v, list)],
                    caption="Parts saved in split.json")
        except (OSError, ValueError):
            pass
    for bad in data.get("skipped_examples", [])[:10]:
        s.p(f"skipped: {bad}")
    return s


def _results_section(result: dict[str, Any]) -> Section:
    cfg = result.get("config", {})
    s = Section("results", "Test results and reference rows")
    rows = [_metric_row(f"tuned {cfg.get('model')} ({cfg.get('optimizer')})", result.get("test_metrics", {}))]
    base = result.get("baseline_metrics") or {}
    if base:
        rows.append(_metric_row(f"reference: {base.get('name', 'baseline')}", base))
    rows += [_metric_row(f"reference: {r.get('name')}", r) for r in result.get("reference_metrics", [])]
    s.table(["model"] + [label for _, label in _METRICS], rows)
    intervals = _intervals(result)
    if intervals:
        s.table(["against", "metric", "difference", "low", "high", "level", "resampled", "verdict"],
                [[iv.get("reference", key), iv.get("metric"), iv.get("difference"), iv.get("low"), iv.get("high"),
                  iv.get("level"), f"{iv.get('n_units')} {iv.get('unit')}", iv.get("verdict")]
                 for key, iv in intervals],
                caption="Paired bootstrap interval of tuned - reference on the test split")
    else:
        s.p("No bootstrap interval is stored in this run's result.json; the rows above are point estimates.")
    if result.get("fold_metrics"):
        agg = result["fold_metrics"]
        s.table(["metric", "mean over folds", "std"],
                [[label, agg.get(k, {}).get("mean"), agg.get(k, {}).get("std")] for k, label in _METRICS if k in agg],
                caption="Tuned model, mean and spread over outer folds")
    timings = result.get("timings", {})
    best = result.get("best_fitness")
    s.p(f"Best validation {cfg.get('fitness')}: **{best if not isinstance(best, float) else round(best, 4)}** "
        f"(trial {result.get('best_trial')}). "
        f"Search {timings.get('search_seconds')} s ({timings.get('seconds_per_trial')} s per trial), final training "
        f"{timings.get('final_train_seconds')} s, total {timings.get('total_seconds')} s.")
    s.table(["parameter", "best value"], [[k, v] for k, v in (result.get("best_params") or {}).items()],
            caption="Best parameters")
    return s


def _per_class_section(result: dict[str, Any]) -> Section:
    test = result.get("test_metrics", {})
    s = Section("per-class", "Per-class metrics and confusion matrix")
    per = test.get("per_class") or {}
    if per:
        s.table(["class", "precision", "recall", "F1", "support"],
                [[c, v.get("precision"), v.get("recall"), v.get("f1"), v.get("support")] for c, v in per.items()])
    if test.get("confusion_matrix"):
        s.figure("confusion_matrix.png", F.confusion_figure(test["confusion_matrix"], result.get("labels", [])),
                 "Confusion matrix of the final model on test (rows: true class, row-normalised colour, counts)")
    else:
        s.p("No confusion matrix in result.json.")
    return s


def run_sections(run_dir: Path) -> tuple[str, list[Section]]:
    """The title and sections of the report of the tune run in ``run_dir``."""
    result = json.loads((run_dir / "result.json").read_text())
    cfg = result.get("config", {})
    rows = read_trials(run_dir / "trials.csv")
    sections = [_config_section(result), _data_section(result, run_dir), _results_section(result),
                _per_class_section(result)]
    fitness = cfg.get("fitness", "fitness")

    search = Section("search", "Search: best so far")
    if rows:
        first = [r for r in rows if r.get("fold", "1") == "1"]
        search.figure("search_curves.png",
                      F.best_so_far_figure([_float(r["fitness"]) for r in first],
                                           [_float(r["seconds"]) or 0.0 for r in first], ylabel=f"validation {fitness}"),
                      "Validation fitness of each trial and the best so far, against trial number and search wall "
                      "time" + (" (outer fold 1)" if "fold" in rows[0] else ""))
        states: dict[str, int] = {}
        for r in rows:
            states[r["state"]] = states.get(r["state"], 0) + 1
        search.p("Trials: " + ", ".join(f"{n} {k}" for k, n in sorted(states.items())) + ".")
    else:
        search.p("No trials.csv in this run.")
    sections.append(search)

    trials = Section("trials", "Trials")
    if rows:
        header = list(rows[0].keys())
        trials.table(header, [[_cell(r[h]) if h != "error" else r[h] for h in header] for r in rows], sortable=True,
                     caption="Click a column header to sort")
    sections.append(trials)

    importance = Section("importance", "Parameter importance")
    imp, method = parameter_importance(rows)
    if imp:
        importance.p(f"Method: {method}, over the complete trials; importances sum to 1.")
        importance.table(["parameter", "importance"], [[k, v] for k, v in imp.items()])
        importance.figure("importance.png", F.importance_bars(imp, title=method), "Parameter importance")
    else:
        importance.p(f"Parameter importance {method}.")
    sections.append(importance)

    parallel = Section("parallel", "Parallel coordinates")
    done = [r for r in rows if r.get("state") == "complete" and _float(r.get("fitness")) is not None]
    names = [n for n in _param_columns(rows) if len({r[n] for r in done}) > 1]
    if len(done) >= 2 and names:
        parallel.figure("parallel_coordinates.png",
                        F.parallel_coordinates({n: _typed([r[n] for r in done]) for n in names},
                                               [float(r["fitness"]) for r in done], score_name=fitness),
                        "Each line is a complete trial across the varying parameters (each axis scaled to its "
                        "range; log for ranges over two decades), coloured by validation fitness; red: best")
    else:
        parallel.p("Too few complete trials with varying parameters to draw.")
    sections.append(parallel)

    files = Section("files", "Files")
    files.p("`config.yaml` (resolved config), `split.json` (sample ids of each part), `trials.csv`, `result.json`, "
            "`report.md`, `model/` (bundle for `emotune predict --model`). This page is self-contained.")
    sections.append(files)
    title = f"emotune run: {cfg.get('task', '?')} / {cfg.get('dataset', '?')} / {cfg.get('model', '?')}"
    return title, sections
