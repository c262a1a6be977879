"""What one (arm, seed) of ``emotune compare`` runs: a benchmark function or the tune protocol.

A task has three methods: ``check(base, vary)`` validates the shared settings and
the varied keys before anything runs (returns the normalised base), ``metric(base,
name)`` gives the compared score and its direction, and ``run(plan, values, seed,
path)`` does one run and returns ``{"value", "curve", ...}`` where ``curve`` is
``[[trial, best_so_far, seconds_since_start], ...]``.
"""

from __future__ import annotations

import csv
import hashlib
import time
from pathlib import Path
from typing import Any

import numpy as np

from emotune.exceptions import ConfigError

__all__ = ["FunctionTask", "TuneTask", "task_for", "CURVE_POINTS"]

CURVE_POINTS = 200
_FUNCTION_KEYS = ("dim", "trials", "batch", "optimizer", "optimizer_options")
_FUNCTION_VARY = ("optimizer", "batch")
_TEST_METRICS = ("accuracy", "macro_f1", "unweighted_accuracy", "weighted_accuracy", "roc_auc")


def task_for(task: str):
    """The task object for ``"function:NAME"`` or ``"tune"``."""
    if task.startswith("function:"):
        return FunctionTask(task.split(":", 1)[1])
    if task == "tune":
        return TuneTask()
    raise ConfigError(f"task must be 'function:NAME' or 'tune', got {task!r}")


def _downsample(rows: list[list[float]], points: int = CURVE_POINTS) -> list[list[float]]:
    if len(rows) <= points:
        return rows
    idx = np.unique(np.linspace(0, len(rows) - 1, points).round().astype(int))
    return [rows[i] for i in idx]


class FunctionTask:
    """An optimizer minimising a shifted/rotated benchmark function; the score is ``f(x) - f*``.

    The function instance (shift, rotation) is seeded by the run's seed, so every
    arm of a seed minimises the same function; ``trials`` is the evaluation budget.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def check(self, base: dict[str, Any], vary: dict[str, list[Any]]) -> dict[str, Any]:
        from emotune.search.benchmarks import BASE_FUNCTIONS, FUNCTIONS
        from emotune.search.optimizers import OPTIMIZERS

        unknown = sorted(set(base) - set(_FUNCTION_KEYS))
        if unknown:
            raise ConfigError(f"a function task takes only {_FUNCTION_KEYS}, got {unknown}")
        bad = sorted(set(vary) - set(_FUNCTION_VARY))
        if bad:
            raise ConfigError(f"a function task can vary only {_FUNCTION_VARY}, got {bad}")
        spec = FUNCTIONS.get(self.name)
        dim, trials = int(base.get("dim", 10)), int(base.get("trials", 1000))
        BASE_FUNCTIONS.get(spec.base).check_dim(dim)
        if trials < 1:
            raise ConfigError(f"trials (the evaluation budget) must be >= 1, got {trials}")
        for name in vary.get("optimizer", [base.get("optimizer", "random")]):
            OPTIMIZERS.get(str(name))
        for b in vary.get("batch", []):
            if not isinstance(b, int) or b < 1:
                raise ConfigError(f"batch values must be ints >= 1, got {b!r}")
        return {"function": self.name, "dim": dim, "trials": trials, "batch": base.get("batch"),
                "optimizer": base.get("optimizer", "random"), "optimizer_options": base.get("optimizer_options") or {}}

    def metric(self, base: dict[str, Any], name: str | None) -> tuple[str, bool]:
        if name not in (None, "error"):
            raise ConfigError(f"a function task compares 'error' (f(x) - f*), got metric {name!r}")
        return "error", False

    def run(self, plan, values: dict[str, Any], seed: int, path: Path) -> dict[str, Any]:
        """Spend the budget through ``ask_batch``/``tell_batch``; the best error after each batch is the curve.

        ``optimizer_seconds`` is the time inside ``ask_batch``/``tell_batch`` only (the optimizer's overhead).
        """
        from emotune.search.benchmarks import get_function
        from emotune.search.optimizers import make_optimizer

        s = {**plan.base, **values}
        fn = get_function(self.name, s["dim"], seed=seed)
        budget = int(s["trials"])
        opt = make_optimizer(s["optimizer"], fn.dim, budget=budget, seed=seed, **s["optimizer_options"])
        n_batch = int(s.get("batch") or getattr(opt, "pop_size", None) or 10)
        limit = plan.time_budget if plan.budget_by == "time" else None
        spent, best, curve, overhead = 0, np.inf, [], 0.0
        t0 = time.perf_counter()
        while spent < budget and (limit is None or time.perf_counter() - t0 < limit):
            n = min(n_batch, budget - spent)
            t1 = time.perf_counter()
            ids, U = opt.ask_batch(n)
            overhead += time.perf_counter() - t1
            values_ = np.asarray(fn(fn.from_unit(U)), dtype=float)
            t1 = time.perf_counter()
            opt.tell_batch(ids, values_)
            overhead += time.perf_counter() - t1
            spent += n
            err = np.where(np.isnan(values_), np.inf, values_ - fn.f_star)
            best = min(best, max(float(err.min()), 0.0))
            curve.append([spent, best, round(time.perf_counter() - t0, 4)])
        return {"value": best, "evaluations": spent, "optimizer_seconds": round(overhead, 4), "curve": _downsample(curve)}


class TuneTask:
    """The tune protocol (``emotune tune``) for a text or speech config; the score is a test metric.

    ``tuned`` is a pseudo-key: ``tuned=false`` trains the model's documented defaults
    once (one trial whose every parameter is fixed), ``tuned=true`` searches as configured.
    """

    def check(self, base: dict[str, Any], vary: dict[str, list[Any]]) -> dict[str, Any]:
        from emotune.experiments.config import TuneConfig

        base = {k: v for k, v in base.items() if k not in ("seed", "out")}
        for key in vary:
            if key in ("seed", "out"):
                raise ConfigError(f"--vary {key} is not allowed: seeds are --seeds and every run has its own folder")
        TuneConfig.from_dict(base)  # names every unknown key / bad value
        for key, values in vary.items():
            if key == "tuned":
                if any(not isinstance(v, bool) for v in values):
                    raise ConfigError(f"tuned takes true/false, got {values}")
                continue
            for v in values:
                TuneConfig.from_dict({**base, key: v})
        return {**base, "progress": False}

    def metric(self, base: dict[str, Any], name: str | None) -> tuple[str, bool]:
        name = name or base.get("fitness", "macro_f1")
        if name not in _TEST_METRICS:
            raise ConfigError(f"metric must be one of {_TEST_METRICS}, got {name!r}")
        return name, True

    def config(self, plan, values: dict[str, Any], seed: int, path: Path):
        """The :class:`TuneConfig` of one run (``tuned=false`` resolved to fixed defaults)."""
        from emotune.experiments.config import TuneConfig

        data = {**plan.base, **{k: v for k, v in values.items() if k != "tuned"}, "seed": seed, "out": str(path)}
        if plan.budget_by == "time":
            data["timeout"] = plan.time_budget
        if values.get("tuned", True) is False:
            from emotune.experiments.objective import default_params
            from emotune.models import MODELS

            spec = MODELS.get(data.get("model", "sa_lstm"))
            defaults = default_params(spec, spec.space(data.get("preset")))
            data.update(trials=1, optimizer="random", optimizer_options={}, warm_start=False, timeout=None,
                        fixed_params={**defaults, **(data.get("fixed_params") or {})})
        return TuneConfig.from_dict(data)

    def run(self, plan, values: dict[str, Any], seed: int, path: Path) -> dict[str, Any]:
        from emotune.experiments.tune import run_tune

        result = run_tune(self.config(plan, values, seed, path))
        folds = [f["test_metrics"].get(plan.metric) for f in result.get("folds", [])]
        split = path / "split.json"
        return {
            "value": float(result["test_metrics"][plan.metric]),
            "validation": result.get("best_fitness"),
            "fold_values": folds,
            "split_sha256": hashlib.sha256(split.read_bytes()).hexdigest() if split.exists() else None,
            "trials": result.get("trials"),
            "curve": trial_curve(path / "trials.csv"),
        }


def trial_curve(path: Path) -> list[list[float]]:
    """Best-so-far validation fitness and elapsed search seconds after each trial, from ``trials.csv``.

    With outer folds (a ``fold`` column) both are averaged over folds at each trial index.
    """
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    per_fold: dict[str, list[dict]] = {}
    for r in rows:
        per_fold.setdefault(r.get("fold", "1"), []).append(r)
    curves = []
    for trials in per_fold.values():
        best, elapsed, c = -np.inf, 0.0, []
        for r in trials:
            elapsed += float(r["seconds"] or 0.0)
            if r["fitness"] not in ("", None):
                best = max(best, float(r["fitness"]))
            c.append((best if np.isfinite(best) else np.nan, elapsed))
        curves.append(c)
    n = min(len(c) for c in curves) if curves else 0
    return [[k + 1, float(np.nanmean([c[k][0] for c in curves])) if any(np.isfinite(c[k][0]) for c in curves)
             else float("nan"), float(np.mean([c[k][1] for c in curves]))] for k in range(n)]
