"""Scale-out of a study: per-trial overhead of storages and executors, parallel speech trials, pruning.

Three parts (``--parts``, default all), each printed as a Rich table and written
to ``bench/out/scaling.json`` (``--json-file``):

* ``overhead``: a trivial objective (a quadratic in 4 parameters, microseconds)
  for ``--overhead-trials`` trials, so the wall time per trial *is* the
  machinery's overhead. emotune ``random`` with the in-memory storage, the
  SQLite study file (``synchronous=NORMAL``, and ``FULL``) and the ``serial`` /
  ``process`` (2 workers) / ``ray`` (local, 2 CPUs) executors; Optuna 5
  ``RandomSampler`` with its in-memory storage, ``sqlite:///`` RDB storage and
  ``JournalFileBackend`` on the same objective. The storage cost per trial is
  the difference to the in-memory run of the same library.
* ``speech``: ``emotune tune`` on CREMA-D (``--speech-limit`` clips, pooled
  eGeMAPS features from the cache, ``mlp``, hold-out outer split, ``random``)
  with ``--speech-trials`` trials and the ``serial``, ``process --jobs 2`` and
  ``ray --jobs 2`` executors (one torch thread per trial). The cache is filled
  by an untimed first run. Search seconds come from each run's ``result.json``.
* ``pruning``: the same speech run and a text run (tweets, token ids,
  ``sa_lstm``) with ``--pruner none``, ``median`` and ``hyperband``: search wall
  time, pruned trials, best validation fitness and test macro-F1.

The machine is shared (2 cores), so wall times carry noise of a few percent;
each configuration runs ``--repeats`` times and the median is reported.

Usage::

    HF_HUB_OFFLINE=1 .venv/bin/python bench/scaling.py --parts overhead
    HF_HUB_OFFLINE=1 .venv/bin/python bench/scaling.py --parts speech,pruning
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("EMOTUNE_SHARED_DATA", ROOT.parent / "shared" / "data"))


def quadratic(p, trial=None):
    return (p["a"] - 0.3) ** 2 + (p["b"] - 0.6) ** 2 + p["n"] * 1e-3 + (p["c"] == "y") * 0.1


def _space():
    from emotune.search import Categorical, Float, Int, Space

    return Space({"a": Float(0.0, 1.0), "b": Float(1e-3, 1.0, log=True), "n": Int(1, 100), "c": Categorical(["x", "y"])})


def _emotune(n: int, storage=None, executor=None) -> float:
    from emotune.search import Study

    study = Study(_space(), "random", seed=0, budget=n, storage=storage, executor=executor)
    t0 = time.perf_counter()
    study.optimize(quadratic, trials=n)
    return (time.perf_counter() - t0) / n


def _optuna(n: int, storage=None) -> float:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial):
        p = {"a": trial.suggest_float("a", 0.0, 1.0), "b": trial.suggest_float("b", 1e-3, 1.0, log=True),
             "n": trial.suggest_int("n", 1, 100), "c": trial.suggest_categorical("c", ["x", "y"])}
        return quadratic(p)

    study = optuna.create_study(storage=storage, sampler=optuna.samplers.RandomSampler(seed=0))
    t0 = time.perf_counter()
    study.optimize(objective, n_trials=n)
    return (time.perf_counter() - t0) / n


def overhead(args) -> list[dict]:
    from emotune.search.executors import ProcessExecutor, RayExecutor
    from emotune.search.storage import SQLiteStorage

    n = args.overhead_trials
    rows = []

    def measure(name, fn, trials=n):
        ms = [1000 * fn(trials) for _ in range(args.repeats)]
        rows.append({"part": "overhead", "name": name, "trials": trials, "ms_per_trial": statistics.median(ms),
                     "runs_ms": [round(m, 3) for m in ms]})
        print(f"  {name}: {statistics.median(ms):.3f} ms/trial")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        k = iter(range(10**6))
        measure("emotune in-memory, serial", lambda t: _emotune(t))
        measure("emotune SQLite NORMAL, serial", lambda t: _emotune(t, SQLiteStorage(tmp / f"e{next(k)}.db")))
        measure("emotune SQLite FULL, serial",
                lambda t: _emotune(t, SQLiteStorage(tmp / f"f{next(k)}.db", synchronous="FULL")))
        measure("emotune in-memory, process x2", lambda t: _emotune(t, executor=ProcessExecutor(2)))
        measure("emotune SQLite NORMAL, process x2",
                lambda t: _emotune(t, SQLiteStorage(tmp / f"p{next(k)}.db"), ProcessExecutor(2)))
        if not args.no_ray:
            import ray

            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
            _emotune(4, executor=RayExecutor(2))  # workers started: not a per-trial cost
            measure("emotune in-memory, ray x2 (local)", lambda t: _emotune(t, executor=RayExecutor(2)),
                    trials=max(20, n // 10))
            ray.shutdown()
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        measure("optuna in-memory", lambda t: _optuna(t))
        measure("optuna SQLite (RDBStorage)", lambda t: _optuna(t, f"sqlite:///{tmp}/o{next(k)}.db"))
        measure("optuna journal file", lambda t: _optuna(t, JournalStorage(JournalFileBackend(str(tmp / f"j{next(k)}.log")))))
    mem = {"emotune": next(r["ms_per_trial"] for r in rows if r["name"] == "emotune in-memory, serial"),
           "optuna": next(r["ms_per_trial"] for r in rows if r["name"] == "optuna in-memory")}
    for r in rows:
        lib = r["name"].split(" ")[0]
        r["storage_ms_per_trial"] = round(r["ms_per_trial"] - mem[lib], 3) if "process" not in r["name"] and "ray" not in r["name"] else None
    return rows


def _tune(cfg: dict, out: Path) -> dict:
    from emotune.experiments.config import TuneConfig
    from emotune.experiments.tune import run_tune

    t0 = time.perf_counter()
    result = run_tune(TuneConfig(**{**cfg, "out": str(out)}), if_exists="overwrite")
    trials = result["trials"]
    return {"search_seconds": result["timings"]["search_seconds"], "wall_seconds": round(time.perf_counter() - t0, 2),
            "best_fitness": result["best_fitness"], "test_macro_f1": result["test_metrics"]["macro_f1"],
            "test_accuracy": result["test_metrics"]["accuracy"], "complete": trials["complete"],
            "pruned": trials["pruned"], "failed": trials["failed"]}


def _speech_cfg(args, **kw) -> dict:
    return {**dict(task="speech", dataset="crema-d", data_dir=str(DATA / "crema-d-dev"), limit=args.speech_limit,
                features="egemaps", model="mlp", optimizer="random", trials=args.speech_trials, epochs=args.epochs,
                patience=args.epochs, outer_cv="holdout", progress=False, cache_dir=args.cache and str(args.cache),
                threads=1, trial_cpus=1), **kw}


def _text_cfg(args, **kw) -> dict:
    return {**dict(task="text", dataset="tweets", limit=args.text_limit, features="tokens", model="sa_lstm",
                optimizer="random", trials=args.text_trials, epochs=args.epochs, patience=args.epochs, progress=False,
                cache_dir=args.cache and str(args.cache), threads=1, trial_cpus=1), **kw}


def _repeat(args, name: str, cfg: dict, out: Path, extra: dict) -> dict:
    runs = [_tune(cfg, out / f"{name}-{i}") for i in range(args.repeats)]
    row = {**extra, "name": name, "runs": runs}
    for key in ("search_seconds", "wall_seconds", "best_fitness", "test_macro_f1", "pruned"):
        row[key] = statistics.median(r[key] for r in runs)
    print(f"  {name}: search {row['search_seconds']:.1f} s, best val {row['best_fitness']:.4f}, "
          f"test macro-F1 {row['test_macro_f1']:.4f}, pruned {row['pruned']}")
    return row


def speech(args) -> list[dict]:
    out = args.out / "speech"
    _tune(_speech_cfg(args, trials=1), out / "warmup")  # fills the feature cache; not timed
    rows = []
    for name, kw in (("serial", {}), ("process x2", {"executor": "process", "jobs": 2}),
                     ("ray x2 (local)", {"executor": "ray", "jobs": 2})):
        if ("ray" in name and args.no_ray) or name.split(" ")[0] not in args.speech_executors.split(","):
            continue
        rows.append(_repeat(args, name.replace(" ", "_"), _speech_cfg(args, **kw), out,
                            {"part": "speech", "executor": name, "trials": args.speech_trials, "epochs": args.epochs,
                             "limit": args.speech_limit}))
    return rows


def pruning(args) -> list[dict]:
    rows = []
    for task, make in (("speech", _speech_cfg), ("text", _text_cfg)):
        if task not in args.pruning_tasks.split(","):
            continue
        out = args.out / f"pruning-{task}"
        for pruner in ("none", "median", "hyperband"):
            cfg = make(args, pruner=pruner)
            rows.append(_repeat(args, f"{task}-{pruner}", cfg, out,
                                {"part": "pruning", "task": task, "pruner": pruner, "trials": cfg["trials"],
                                 "epochs": cfg["epochs"], "limit": cfg["limit"]}))
    return rows


def _table(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    over = [r for r in rows if r["part"] == "overhead"]
    if over:
        t = Table(title="per-trial overhead, trivial objective (median of repeats)")
        for c in ("setup", "trials", "ms/trial", "storage ms/trial"):
            t.add_column(c, justify="left" if c == "setup" else "right")
        for r in over:
            s = r["storage_ms_per_trial"]
            t.add_row(r["name"], str(r["trials"]), f"{r['ms_per_trial']:.3f}", "" if s is None else f"{s:.3f}")
        console.print(t)
    for part, key in (("speech", "executor"), ("pruning", "name")):
        sub = [r for r in rows if r["part"] == part]
        if not sub:
            continue
        t = Table(title=f"{part}: emotune tune (median of repeats)")
        for c in (key, "search s", "wall s", "pruned", "best val", "test macro-F1"):
            t.add_column(c, justify="left" if c == key else "right")
        for r in sub:
            t.add_row(r[key], f"{r['search_seconds']:.1f}", f"{r['wall_seconds']:.1f}", str(r["pruned"]),
                      f"{r['best_fitness']:.4f}", f"{r['test_macro_f1']:.4f}")
        console.print(t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default="overhead,speech,pruning")
    parser.add_argument("--overhead-trials", type=int, default=500)
    parser.add_argument("--speech-trials", type=int, default=16)
    parser.add_argument("--speech-limit", type=int, default=600)
    parser.add_argument("--speech-executors", default="serial,process,ray")
    parser.add_argument("--pruning-tasks", default="speech,text")
    parser.add_argument("--text-trials", type=int, default=12)
    parser.add_argument("--text-limit", type=int, default=800)
    parser.add_argument("--epochs", type=int, default=9)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "scaling")
    parser.add_argument("--cache", type=Path, default=None, help="feature cache (default: $EMOTUNE_CACHE or ~/.cache/emotune)")
    parser.add_argument("--json-file", type=Path, default=ROOT / "bench" / "out" / "scaling.json")
    parser.add_argument("--append", action="store_true", help="keep the other parts' records already in --json-file")
    args = parser.parse_args()
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    rows: list[dict] = []
    for part in parts:
        print(f"[{part}]")
        rows += {"overhead": overhead, "speech": speech, "pruning": pruning}[part](args)
    if args.append and args.json_file.exists():  # a rerun of the same (part, name) replaces its record
        fresh = {(r["part"], r["name"]) for r in rows}
        rows = [r for r in json.loads(args.json_file.read_text())["records"] if (r["part"], r["name"]) not in fresh] + rows
    args.json_file.parent.mkdir(parents=True, exist_ok=True)
    import platform

    payload = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()}, "records": rows}
    args.json_file.write_text(json.dumps(payload, indent=1))
    _table(rows)
    print(f"wrote {args.json_file}")


if __name__ == "__main__":
    main()
