"""Compare emotune's optimizers with reference libraries at the same budget and seeds.

Every optimizer gets the same function instances (``get_function(name, dim,
seed=s)`` for each seed ``s``, so a shifted function's optimum moves with the
seed) and exactly ``--budget`` evaluations. Two numbers per optimizer and
function: the median best error ``f(x) - f*`` over seeds (with its IQR) and the
overhead, the seconds spent outside the objective per 1,000 evaluations.

For emotune's optimizers the overhead is the CPU time inside ``ask_batch`` /
``tell_batch`` (``bench_runner.run_single``); for the libraries it is the
CPU time of the library's run minus the CPU time inside the objective
(``time.process_time``: on a shared machine wall time mostly measures the
other jobs). ``OPENBLAS_NUM_THREADS`` is set to 1 unless already set: the
optimizers' matrices are tiny, and a multi-threaded OpenBLAS on a busy
machine makes a 30 x 30 ``eigh`` (CMA-ES) 50x slower.

``--combine a.json b.json ...`` prints the table of earlier runs together
(e.g. the libraries, emotune's optimizers and TPE at a smaller budget, run
apart); rows carry their budget.

Libraries, each skipped cleanly when not installed (``pip install mealpy
nevergrad pyswarms``; Optuna is a core dependency):

* mealpy >= 3.0.3: ``AO.OriginalAO``, ``PSO.OriginalPSO``, ``GA.BaseGA``
  (``pop_size=20``, ``termination={"max_fe": budget}``);
* Optuna: ``TPESampler(seed=s, multivariate=True)``, one trial at a time
  (emotune's ``tpe`` wraps the same sampler and is run with batch 1 here);
* nevergrad: ``NGOpt`` through ``ask``/``tell`` (``num_workers=1``);
* pyswarms: ``single.GlobalBestPSO`` (20 particles, ``w=0.729``,
  ``c1=c2=1.49445``).

A library run that raises is recorded with its error and left out of the
table. The objective refuses evaluation ``budget + 1`` (by raising), so no
library gets more than the budget.

Usage::

    python bench/optimizers.py --functions shifted_sphere,shifted_rastrigin,shifted_ackley \\
        --dims 10 --budget 2000 --seeds 3

Writes ``bench/out/optimizers.json`` (``--out`` to change it).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy is imported

import argparse
import contextlib
import gc
import importlib.metadata
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
from rich.console import Console

from emotune.exceptions import EmotuneError
from emotune.search.bench_runner import render_table, run_single, summarize
from emotune.search.benchmarks import BenchmarkFunction, get_function

OURS = ("random", "ga", "pso", "ipso", "aquila", "aquila_unit", "lwaro", "cmaes", "tpe")
POP_SIZE = 20


class BudgetSpent(Exception):
    """Raised by :class:`Objective` when a library asks for evaluation ``budget + 1``."""


class Objective:
    """Counts and times evaluations of ``fn`` and keeps the best error, up to ``budget``.

    Called with one point (float64 ``(d,)``, returns a float) or a batch
    (``(n, d)``, returns ``(n,)``); a batch that crosses the budget is
    evaluated up to the budget, then :class:`BudgetSpent` is raised.
    """

    def __init__(self, fn: BenchmarkFunction, budget: int) -> None:
        self.fn = fn
        self.budget = budget
        self.count = 0
        self.seconds = 0.0
        self.best = np.inf

    def __call__(self, x: np.ndarray) -> Any:
        t0 = time.process_time()
        X = np.asarray(x, dtype=float)
        single = X.ndim == 1
        X = X.reshape(-1, self.fn.dim)
        room = self.budget - self.count
        if room <= 0:
            raise BudgetSpent
        values = self.fn(X[:room])
        self.count += len(values)
        self.best = min(self.best, max(float(np.min(values)) - self.fn.f_star, 0.0))
        self.seconds += time.process_time() - t0
        if len(values) < len(X):
            raise BudgetSpent
        return float(values[0]) if single else values


# --- one function per library: run until the budget is spent --------------------------
def _run_mealpy(model_name: str) -> Callable[[BenchmarkFunction, Objective, int, int], None]:
    def run(fn: BenchmarkFunction, obj: Objective, budget: int, seed: int) -> None:
        from mealpy import AO, GA, PSO, FloatVar

        make = {"OriginalAO": AO.OriginalAO, "OriginalPSO": PSO.OriginalPSO, "BaseGA": GA.BaseGA}[model_name]
        model = make(epoch=budget, pop_size=POP_SIZE)
        problem = {
            "obj_func": obj,
            "bounds": FloatVar(lb=fn.lower.tolist(), ub=fn.upper.tolist(), name="x"),
            "minmax": "min",
            "log_to": None,
        }
        model.solve(problem, seed=seed, termination={"max_fe": budget})

    return run


def _run_optuna_tpe(fn: BenchmarkFunction, obj: Objective, budget: int, seed: int) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed, multivariate=True))

    def objective(trial: "optuna.Trial") -> float:
        x = [trial.suggest_float(f"x{j}", fn.lower[j], fn.upper[j]) for j in range(fn.dim)]
        return obj(np.array(x))

    study.optimize(objective, n_trials=budget)


def _run_nevergrad(fn: BenchmarkFunction, obj: Objective, budget: int, seed: int) -> None:
    import nevergrad as ng

    param = ng.p.Array(shape=(fn.dim,), lower=fn.lower, upper=fn.upper)
    param.random_state = np.random.RandomState(seed)
    opt = ng.optimizers.NGOpt(parametrization=param, budget=budget, num_workers=1)
    try:
        for _ in range(budget):
            cand = opt.ask()
            opt.tell(cand, obj(cand.value))
    finally:
        del opt  # stops the background thread of recast optimizers (e.g. CMA) even after an error
        gc.collect()


@contextlib.contextmanager
def _in_directory(path: str) -> Iterator[None]:
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _run_pyswarms(fn: BenchmarkFunction, obj: Objective, budget: int, seed: int) -> None:
    import pyswarms as ps

    np.random.seed(seed)  # pyswarms draws from NumPy's global generator
    options = {"c1": 1.49445, "c2": 1.49445, "w": 0.729}
    with tempfile.TemporaryDirectory() as tmp, _in_directory(tmp):  # its Reporter writes ./report.log
        opt = ps.single.GlobalBestPSO(
            n_particles=POP_SIZE, dimensions=fn.dim, options=options, bounds=(fn.lower, fn.upper)
        )
        opt.optimize(obj, iters=-(-budget // POP_SIZE), verbose=False)


# name -> (distribution and module to import, runner)
EXTERNAL: dict[str, tuple[str, Callable[[BenchmarkFunction, Objective, int, int], None]]] = {
    "mealpy.OriginalAO": ("mealpy", _run_mealpy("OriginalAO")),
    "mealpy.OriginalPSO": ("mealpy", _run_mealpy("OriginalPSO")),
    "mealpy.BaseGA": ("mealpy", _run_mealpy("BaseGA")),
    "optuna.TPESampler": ("optuna", _run_optuna_tpe),
    "nevergrad.NGOpt": ("nevergrad", _run_nevergrad),
    "pyswarms.GlobalBestPSO": ("pyswarms", _run_pyswarms),
}


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _load(module: str) -> str | None:
    """Import ``module`` now, so its import time is not charged to the first run; the reason if it fails.

    Imported from a scratch directory: pyswarms creates ``./report.log`` at import.
    """
    try:
        with tempfile.TemporaryDirectory() as tmp, _in_directory(tmp):
            importlib.import_module(module)
    except ImportError as exc:
        return f"{module} is not installed ({exc})"
    return None


def run_external(name: str, fn: BenchmarkFunction, budget: int, seed: int) -> dict[str, Any]:
    """One library run; a record like ``bench_runner.run_single``'s (no curve), plus ``error`` on failure."""
    _, runner = EXTERNAL[name]
    obj = Objective(fn, budget)
    error = None
    t0 = time.process_time()
    try:
        runner(fn, obj, budget, seed)
    except BudgetSpent:
        pass
    except Exception as exc:  # a library bug must not stop the whole benchmark
        error = f"{type(exc).__name__}: {exc}"
    wall = time.process_time() - t0
    record = {
        "function": fn.name,
        "dim": fn.dim,
        "optimizer": name,
        "seed": seed,
        "budget": budget,
        "best_error": float(obj.best),
        "evaluations": obj.count,
        "optimizer_seconds": wall - obj.seconds,
    }
    if error is not None:
        record["error"] = error
    return record


def markdown_table(summary: list[dict[str, Any]]) -> str:
    """The summary rows as a Markdown table (for bench/README.md)."""
    lines = [
        "| function | dim | optimizer | budget | runs | median error | IQR | overhead ms / 1k evals |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in summary:
        lines.append(
            f"| {r['function']} | {r['dim']} | {r['optimizer']} | {r.get('budget', '')} | {r['runs']} "
            f"| {r['median_error']:.3g} | {r['iqr_error']:.3g} | {1000 * r['seconds_per_1k']:.1f} |"
        )
    return "\n".join(lines)


def pivot_table(summary: list[dict[str, Any]]) -> str:
    """Median error per optimizer (rows) and function/dim (columns), Markdown; the best of a column in bold.

    Column names drop the ``shifted_`` prefix; an optimizer run at another
    budget gets its own row, named ``optimizer @ budget``.
    """
    cols = sorted({(r["function"], r["dim"]) for r in summary}, key=lambda c: (c[1], c[0]))
    rows: dict[str, dict[tuple[str, int], float]] = {}
    for r in summary:
        rows.setdefault(f"{r['optimizer']} @ {r['budget']}", {})[(r["function"], r["dim"])] = r["median_error"]
    best = {c: min(v[c] for v in rows.values() if c in v) for c in cols}
    head = "| optimizer @ budget | " + " | ".join(f"{f.replace('shifted_', '')} {d}" for f, d in cols) + " |"
    lines = [head, "|---|" + "---:|" * len(cols)]
    for name, vals in sorted(rows.items(), key=lambda kv: (not kv[0].startswith("emotune"), kv[0])):
        cells = []
        for c in cols:
            if c not in vals:
                cells.append("-")
            else:
                text = f"{vals[c]:.3g}"
                cells.append(f"**{text}**" if vals[c] == best[c] else text)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary_with_budget(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """:func:`summarize` per budget too (runs at different budgets are never pooled); rows carry ``budget``."""
    rows = []
    for budget in sorted({r["budget"] for r in records}):
        for row in summarize([r for r in records if r["budget"] == budget]):
            rows.append(dict(row, budget=budget))
    rows.sort(key=lambda r: (r["function"], r["dim"], r["median_error"], r["optimizer"]))
    return rows


def combined_summary(paths: list[Path]) -> list[dict[str, Any]]:
    """The summary of every successful record in the JSON outputs ``paths``."""
    records = []
    for path in paths:
        records += [r for r in json.loads(path.read_text())["records"] if "error" not in r]
    return summary_with_budget(records)


def run_ours_via_compare(functions: list[str], dims: list[int], ours: list[str], budget: int, seeds: int,
                         root: Path, err: Console) -> list[dict[str, Any]]:
    """emotune's side through ``emotune compare``: one comparison per (function, dim) in ``root/<function>_d<dim>``.

    Same function instances and seeds as the loop in :func:`main` (seed ``s`` is the optimizer's seed and the
    function's); each optimizer asks in batches of its ``pop_size`` (10 without one, so ``tpe`` too). The
    comparison resumes if interrupted and writes ``comparison.json`` + ``report.html`` with the statistics.
    Returns records in this script's format.
    """
    from emotune.experiments.compare import finish_comparison, make_plan, run_comparison

    records = []
    for f in functions:
        for d in dims:
            plan = make_plan(f"function:{f}", {"dim": d, "trials": budget}, {"optimizer": list(ours)}, seeds,
                             reference="random" if "random" in ours else None)
            out = root / f"{f}_d{d}"
            for r in run_comparison(plan, out, say=lambda m, f=f, d=d: err.print(f"compare {f} d={d}: {m}")):
                records.append({"function": f, "dim": d, "optimizer": f"emotune.{r['values']['optimizer']}",
                                "seed": r["seed"], "budget": budget, "best_error": r["value"],
                                "evaluations": r.get("evaluations"), "optimizer_seconds": r.get("optimizer_seconds")})
            finish_comparison(out)
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--functions", default="shifted_sphere,shifted_rastrigin,shifted_ackley")
    parser.add_argument("--dims", default="10", help="comma-separated dimensions")
    parser.add_argument("--budget", type=int, default=2000, help="evaluations per run")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0 .. N-1")
    parser.add_argument("--ours", default=",".join(OURS), help="emotune optimizers ('' for none)")
    parser.add_argument("--external", default=",".join(EXTERNAL), help="library optimizers ('' for none)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out" / "optimizers.json")
    parser.add_argument("--combine", nargs="+", type=Path, help="print the table of these JSON outputs and exit")
    parser.add_argument("--compare-dir", type=Path, default=None,
                        help="run emotune's optimizers through `emotune compare` (one resumable comparison with "
                             "Wilcoxon/Friedman statistics per function and dim in DIR/<function>_d<dim>)")
    parser.add_argument("--pivot", action="store_true", help="with --combine: optimizers x functions, median errors")
    args = parser.parse_args(argv)
    if args.combine:
        summary = combined_summary(args.combine)
        print(pivot_table(summary) if args.pivot else markdown_table(summary))
        return 0

    console = Console()
    if not console.is_terminal:  # keep the table readable in logs
        console = Console(width=132)
    err = Console(stderr=True)
    functions = [s for s in args.functions.split(",") if s]
    dims = [int(s) for s in args.dims.split(",") if s]
    ours = [s for s in args.ours.split(",") if s]
    external = []
    for name in (s for s in args.external.split(",") if s):
        if name not in EXTERNAL:
            parser.error(f"--external: unknown {name!r}; known: {', '.join(EXTERNAL)}")
        problem = _load(EXTERNAL[name][0])
        if problem is not None:
            err.print(f"[yellow]skipping {name}: {problem}[/]")
            continue
        external.append(name)

    records: list[dict[str, Any]] = []
    if args.compare_dir is not None and ours:
        try:
            records += run_ours_via_compare(functions, dims, ours, args.budget, args.seeds, args.compare_dir, err)
        except EmotuneError as exc:
            parser.error(f"--compare-dir: {exc}")
        ours = []
    runs = [(f, d, s) for f in functions for d in dims for s in range(args.seeds)]
    for f, d, seed in runs:
        fn = get_function(f, d, seed=seed)
        for name in ours:
            rec = run_single(fn, name, budget=args.budget, seed=seed, batch=1 if name == "tpe" else None)
            rec.pop("curve")
            rec["optimizer"] = f"emotune.{name}"
            records.append(rec)
            err.print(f"{rec['optimizer']:24s} {f} d={d} seed={seed}: {rec['best_error']:.3g}")
        for name in external:
            rec = run_external(name, fn, args.budget, seed)
            records.append(rec)
            note = f"  [red]{rec['error']}[/]" if "error" in rec else ""
            err.print(f"{name:24s} {f} d={d} seed={seed}: {rec['best_error']:.3g}{note}", markup=True)

    ok = [r for r in records if "error" not in r]
    failed = [r for r in records if "error" in r]
    summary = summary_with_budget(ok)
    if args.markdown:
        print(markdown_table(summary))
    else:
        console.print(render_table(summary))
    for r in failed:
        console.print(f"[red]failed[/] {r['optimizer']} on {r['function']} d={r['dim']} seed={r['seed']}: {r['error']}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    versions = {d: _version(d) for d in ("emotune", "numpy", "optuna", "cmaes", "mealpy", "nevergrad", "pyswarms")}
    payload = {
        "command": " ".join(["python bench/optimizers.py", *(argv if argv is not None else sys.argv[1:])]),
        "settings": {"functions": functions, "dims": dims, "budget": args.budget, "seeds": list(range(args.seeds))},
        "versions": versions,
        "summary": summary,
        "records": records,
    }
    args.out.write_text(json.dumps(payload, indent=1) + "\n")
    console.print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
