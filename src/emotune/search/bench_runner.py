"""The harness behind ``emotune bench-optimizers``: run, summarise, plot, save.

Each run drives one optimizer through :meth:`~Optimizer.ask_batch` /
:meth:`~Optimizer.tell_batch` on one :class:`~emotune.search.benchmarks.BenchmarkFunction`
until the budget of evaluations is spent. Only the ask/tell calls are timed
(``optimizer_seconds``); the objective is not. The time is the process's CPU
time (``time.process_time``), not wall time: on a shared machine wall time
mostly measures the other jobs. The error is ``f(x) - f*``.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from emotune.exceptions import ConfigError
from emotune.search.benchmarks import BASE_FUNCTIONS, FUNCTIONS, BenchmarkFunction, get_function

__all__ = [
    "RECORD_KEYS",
    "run_single",
    "run_benchmarks",
    "summarize",
    "render_table",
    "plot_convergence",
    "write_results",
]

#: Keys of one run record, in order; ``"curve"`` is the only non-scalar one.
RECORD_KEYS = (
    "function",
    "dim",
    "optimizer",
    "seed",
    "budget",
    "best_error",
    "evaluations",
    "optimizer_seconds",
    "curve",
)
DEFAULT_BATCH = 10
CURVE_POINTS = 100
_ERROR_FLOOR = 1e-12  # plotted in place of 0 on log axes


def _downsample(evals: np.ndarray, best: np.ndarray, points: int = CURVE_POINTS) -> list[list[float]]:
    """About ``points`` (evaluations, best error) pairs, first and last kept."""
    idx = np.unique(np.linspace(0, len(evals) - 1, min(points, len(evals))).round().astype(int))
    return [[int(evals[i]), float(best[i])] for i in idx]


def run_single(
    function: BenchmarkFunction,
    optimizer: str,
    *,
    budget: int,
    seed: int,
    batch: int | None = None,
) -> dict[str, Any]:
    """One optimizer run on one function; returns a record with :data:`RECORD_KEYS`.

    Args:
        function: the test function (its unit box is what the optimizer sees).
        optimizer: a name registered in ``emotune.search.optimizers.OPTIMIZERS``.
        budget: evaluations to spend (the last batch is cut to fit).
        seed: optimizer seed.
        batch: candidates per ask; ``None`` uses the optimizer's ``pop_size``
            if it has one, else :data:`DEFAULT_BATCH`.
    """
    from emotune.search.optimizers import make_optimizer

    if int(budget) < 1:
        raise ConfigError(f"budget must be >= 1, got {budget}")
    opt = make_optimizer(optimizer, function.dim, budget=int(budget), seed=int(seed))
    n_batch = int(batch or getattr(opt, "pop_size", None) or DEFAULT_BATCH)
    if n_batch < 1:
        raise ConfigError(f"batch must be >= 1, got {batch}")

    spent, best, seconds = 0, np.inf, 0.0
    evals_log: list[int] = []
    best_log: list[float] = []
    while spent < budget:
        n = min(n_batch, budget - spent)
        t0 = time.process_time()
        ids, U = opt.ask_batch(n)
        seconds += time.process_time() - t0
        if len(ids) == 0:  # cannot happen here (every candidate is told before the next ask)
            raise RuntimeError(f"{optimizer} gave no candidate with nothing pending")
        values = function(function.from_unit(U))
        t0 = time.process_time()
        opt.tell_batch(ids, values)
        seconds += time.process_time() - t0
        spent += len(ids)  # a population optimizer gives fewer at a generation's end
        errors = np.asarray(values, dtype=float) - function.f_star
        errors = np.where(np.isnan(errors), np.inf, errors)
        best = min(best, max(float(errors.min()), 0.0))  # clip rounding below f*
        evals_log.append(spent)
        best_log.append(best)

    return {
        "function": function.name,
        "dim": function.dim,
        "optimizer": optimizer,
        "seed": int(seed),
        "budget": int(budget),
        "best_error": float(best),
        "evaluations": int(spent),
        "optimizer_seconds": float(seconds),
        "curve": _downsample(np.array(evals_log), np.array(best_log)),
    }


def run_benchmarks(
    functions: list[str],
    dims: list[int],
    optimizers: list[str],
    budget: int,
    seeds: int | list[int],
    batch: int | None = None,
    progress: bool = True,
    *,
    function_seed: int | None = None,
) -> list[dict[str, Any]]:
    """Every (function, dim, optimizer, seed) combination, one record each.

    Args:
        functions: names from :data:`emotune.search.benchmarks.FUNCTIONS`.
        dims: dimensions; a 2-D-only function is skipped at other dims with a
            ``UserWarning`` naming the skipped pairs.
        optimizers: registered optimizer names.
        budget: evaluations per run.
        seeds: a count ``k`` (seeds ``0 .. k-1``) or an explicit list.
        batch: candidates per ask (see :func:`run_single`).
        progress: show a Rich progress bar over runs.
        function_seed: seed of the shift/rotation; ``None`` uses each run's
            seed, so every seed is a fresh random instance of the function.

    Returns:
        Records in loop order (function, dim, optimizer, seed); see :data:`RECORD_KEYS`.
    """
    from emotune.search.optimizers import OPTIMIZERS

    seed_list = list(range(int(seeds))) if isinstance(seeds, (int, np.integer)) else [int(s) for s in seeds]
    if not seed_list:
        raise ConfigError(f"seeds must be a positive count or a non-empty list, got {seeds!r}")
    for name in functions:
        FUNCTIONS.get(name)  # unknown names fail before any work
    for name in optimizers:
        OPTIMIZERS.get(name)

    jobs: list[tuple[str, int]] = []
    skipped: list[str] = []
    for name in functions:
        base = BASE_FUNCTIONS.get(FUNCTIONS.get(name).base)
        for d in dims:
            if base.supports(int(d)):
                jobs.append((name, int(d)))
            else:
                skipped.append(f"{name} (dim {d})")
    if skipped:
        warnings.warn(
            "skipped functions not defined in these dimensions: " + ", ".join(skipped),
            UserWarning,
            stacklevel=2,
        )
    runs = [(n, d, o, s) for n, d in jobs for o in optimizers for s in seed_list]

    records: list[dict[str, Any]] = []
    for name, d, opt, seed in _track(runs, progress):
        fn = get_function(name, d, seed=seed if function_seed is None else function_seed)
        records.append(run_single(fn, opt, budget=budget, seed=seed, batch=batch))
    return records


def _track(runs: list[tuple[str, int, str, int]], progress: bool) -> Iterable[tuple[str, int, str, int]]:
    if not progress:
        yield from runs
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns) as bar:
        task = bar.add_task("benchmark", total=len(runs))
        for run in runs:
            name, d, opt, seed = run
            bar.update(task, description=f"{opt} on {name} (dim {d}, seed {seed})")
            yield run
            bar.advance(task)


def summarize(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (optimizer, function, dim): median and IQR of ``best_error`` and overhead.

    Returns:
        Rows sorted by function, dim, then median error, with keys
        ``function, dim, optimizer, runs, median_error, q25_error, q75_error,
        iqr_error, seconds_per_1k`` (median over runs of optimizer seconds per
        1,000 evaluations).
    """
    groups: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault((r["function"], r["dim"], r["optimizer"]), []).append(r)
    rows = []
    for (fn, d, opt), rs in groups.items():
        err = np.array([r["best_error"] for r in rs], dtype=float)
        per_1k = np.array([1000.0 * r["optimizer_seconds"] / max(r["evaluations"], 1) for r in rs])
        q25, med, q75 = np.percentile(err, [25, 50, 75])
        rows.append(
            {
                "function": fn,
                "dim": d,
                "optimizer": opt,
                "runs": len(rs),
                "median_error": float(med),
                "q25_error": float(q25),
                "q75_error": float(q75),
                "iqr_error": float(q75 - q25),
                "seconds_per_1k": float(np.median(per_1k)),
            }
        )
    rows.sort(key=lambda r: (r["function"], r["dim"], r["median_error"], r["optimizer"]))
    return rows


def render_table(summary: Sequence[dict[str, Any]]):  # -> rich.table.Table
    """A Rich table of :func:`summarize` rows; the best median per (function, dim) is bold."""
    from rich.table import Table

    best: dict[tuple[str, int], float] = {}
    for r in summary:
        key = (r["function"], r["dim"])
        best[key] = min(best.get(key, np.inf), r["median_error"])
    table = Table(title="Optimizers: best error f(x) - f* at equal budget")
    table.add_column("function", no_wrap=True)
    table.add_column("dim", justify="right")
    table.add_column("optimizer", no_wrap=True)
    table.add_column("runs", justify="right")
    table.add_column("median error", justify="right")
    table.add_column("IQR", justify="right")
    table.add_column("s / 1k evals", justify="right")
    previous = None
    for r in summary:
        key = (r["function"], r["dim"])
        if previous is not None and key != previous:
            table.add_section()
        previous = key
        style = "bold" if r["median_error"] == best[key] else None
        table.add_row(
            r["function"],
            str(r["dim"]),
            r["optimizer"],
            str(r["runs"]),
            f"{r['median_error']:.3g}",
            f"{r['iqr_error']:.3g}",
            f"{r['seconds_per_1k']:.3f}",
            style=style,
        )
    return table


def _median_curve(curves: list[list[list[float]]], grid: np.ndarray) -> np.ndarray:
    """Median over runs of the step-wise best-so-far error at each grid point (``nan`` before a run's first point)."""
    rows = []
    for curve in curves:
        c = np.asarray(curve, dtype=float)
        pos = np.searchsorted(c[:, 0], grid, side="right") - 1
        rows.append(np.where(pos >= 0, c[np.clip(pos, 0, None), 1], np.nan))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-nan columns before the first batch
        return np.nanmedian(np.array(rows), axis=0)


def plot_convergence(records: Sequence[dict[str, Any]], out_dir: str | Path) -> list[Path]:
    """One PNG per (function, dim): median best-so-far error vs evaluations, one line per optimizer, log y.

    Files are named ``convergence_<function>_d<dim>.png``; returns their paths.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    groups: dict[tuple[str, int], dict[str, list]] = {}
    for r in records:
        groups.setdefault((r["function"], r["dim"]), {}).setdefault(r["optimizer"], []).append(r["curve"])

    paths = []
    for (fn, d), by_opt in sorted(groups.items()):
        fig, ax = plt.subplots(figsize=(6, 4))
        for opt, curves in sorted(by_opt.items()):
            last = max(c[-1][0] for c in curves)
            grid = np.unique(np.linspace(1, last, 200).round())
            med = _median_curve(curves, grid)
            ax.plot(grid, np.maximum(med, _ERROR_FLOOR), label=f"{opt} ({len(curves)} runs)")
        ax.set_yscale("log")
        ax.set_xlabel("evaluations")
        ax.set_ylabel("median best error f(x) - f*")
        ax.set_title(f"{fn}, dim {d}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
        fig.tight_layout()
        path = out / f"convergence_{fn}_d{d}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths


def write_results(records: Sequence[dict[str, Any]], out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``results.json`` (records without ``"curve"``) and ``curves.json`` (run keys + curve).

    Returns:
        The two paths, ``(results, curves)``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = [{k: v for k, v in r.items() if k != "curve"} for r in records]
    curves = [{k: r[k] for k in ("function", "dim", "optimizer", "seed", "curve")} for r in records]
    results_path, curves_path = out / "results.json", out / "curves.json"
    results_path.write_text(json.dumps(results, indent=1) + "\n")
    curves_path.write_text(json.dumps(curves) + "\n")
    return results_path, curves_path
