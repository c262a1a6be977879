"""Untuned defaults against a tuned search for the text models, on MR, SST-2 and the tweets.

For every dataset, model and seed, two ``emotune tune`` runs on the same data,
the same split and the same seed:

* ``untuned``: every key of the model's default space is fixed (``fixed_params``)
  to the model's documented defaults (``ModelSpec.defaults``; a trainer key the
  spec lacks takes ``TrainConfig``'s default, clipped into its range; else the
  middle of the range: ``emotune.experiments.objective.default_params``); one
  trial with the ``random`` optimizer, so nothing is searched;
* ``tuned``: ``--trials`` trials of the model's optimizer (``ipso`` for
  ``bilstm_tcsa``, ``lwaro`` for ``sa_lstm``, ``ga`` for ``lstm_sa``; ``--optimizer``
  overrides all three). The protocol's warm start makes the defaults the first
  trial (``--no-warm-start`` turns it off), so the search can only choose a
  configuration that validates at least as well as the untuned one. The
  optimizers' populations are 8 (lwaro) or 20 (ipso, ga): a budget below that
  only evaluates the initial population unless ``--pop-size`` is set.

Both go through the whole tune protocol (``emotune.experiments.tune.run_tune``):
the search scores on a validation part (``--cv K``: the mean over K folds of train +
validation instead; the ``defaults`` row follows ``emotune tune --task text``'s own
``cv`` unless ``--cv`` is given), the chosen configuration is retrained on
train + validation for the epoch count the search found best, and it is scored
once on the test part, next to a TF-IDF + logistic regression baseline on the
same split.

Protocols: MR has no official split; the tune protocol holds out a stratified
20 % test part, which is *not* the 10-fold cross-validation its papers report.
SST-2 trains on GLUE train (+ dev, as shipped here) and tests on the 872
labelled GLUE dev sentences (``test.tsv``). With ``--limit``, SST-2 keeps all 872
test sentences and subsamples only the training side (a stratified subset of
``--limit`` rows written under ``--out/_data``), because ``load_dataset(limit=...)``
would otherwise subsample the test sentences as well. The tweets have no
official split either: a stratified 20 % test part.

Each run executes in a fresh process, so its peak resident memory
(``ru_maxrss``) is its own; ``--no-isolate`` runs everything in this process
(the peak is then cumulative).

Usage::

    HF_HUB_OFFLINE=1 .venv/bin/python bench/text.py --datasets mr,sst2,tweets \\
        --models sa_lstm,bilstm_tcsa --features minilm --limit 2000 --trials 4 --pop-size 2 --epochs 3

Prints a table (``--json``: the JSON payload instead) and writes
``bench/out/text.json`` (``--json-file`` to change it); each run's directory
(``config.yaml``, ``trials.csv``, ``result.json``, report) lies under ``--out``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import csv
import importlib.metadata
import json
import multiprocessing
import os
import platform
import resource
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA_ROOT = ROOT.parent / "shared" / "data" / "text"

# bench name -> (reader name, folder under --data-root or None for a corpus shipped in a package)
DATASETS: dict[str, tuple[str, str | None]] = {
    "mr": ("mr", "mr-rt-polarity"),
    "sst2": ("sst2", "sst2-en"),
    "tweets": ("tweets", None),
}
MODELS = ("sa_lstm", "bilstm_tcsa", "lstm_sa", "mlp", "minilm_ft", "defaults")
# "defaults": one tuned run with exactly emotune tune --task text's defaults (every other flag ignored)
from emotune.experiments.text_defaults import TEXT_DEFAULTS  # noqa: E402

DEFAULTS_ROW = dict(TEXT_DEFAULTS)
DEFAULT_OPTIMIZER = {"bilstm_tcsa": "ipso", "sa_lstm": "lwaro", "lstm_sa": "ga", "mlp": "lwaro", "minilm_ft": "lwaro"}
FEATURES = ("minilm", "tokens", "minilm_pooled", "minilm_layers", "mpnet", "mpnet_pooled")
SST2_TEST_SIZE = 872


def untuned_params(model: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Fixed values for every key of ``model``'s default space, and where each came from.

    The same values as the tune protocol's warm-start trial
    (:func:`emotune.experiments.objective.default_params`): ``ModelSpec.defaults``,
    else the trainer's default (``TrainConfig``), clipped into the parameter's
    range; else the middle of the range.
    """
    from dataclasses import fields

    from emotune.experiments.objective import default_params
    from emotune.models import MODELS as REGISTRY
    from emotune.training import TrainConfig

    spec = REGISTRY.get(model)
    params = default_params(spec, spec.default_space)
    trainer = {f.name for f in fields(TrainConfig)}
    source = {}
    for name in params:
        if spec.defaults.get(name) is not None:
            source[name] = "ModelSpec.defaults"
        elif name in trainer:
            source[name] = "TrainConfig default, clipped into the range"
        else:
            source[name] = "middle of the range"
    return _plain(params), source


def _plain(obj: Any) -> Any:
    """NumPy scalars and tuples as plain Python (for YAML and JSON)."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def sst2_subset(src: Path, dst_root: Path, limit: int, seed: int) -> Path:
    """A copy of the SST-2 folder with ``limit`` stratified train+dev rows and every test row.

    The subset goes to ``train.tsv`` (the tune protocol trains on train + dev
    either way); ``test.tsv`` is copied whole. Returns the new folder.
    """
    from emotune.data.splits import stratified_subset

    dst = dst_root / f"sst2-limit{limit}-seed{seed}"
    if (dst / "train.tsv").is_file() and (dst / "test.tsv").is_file():
        return dst
    rows: list[list[str]] = []
    header: list[str] | None = None
    for name in ("train.tsv", "dev.tsv"):
        path = src / name
        if not path.is_file():
            continue
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
            header = next(reader)
            rows += [r for r in reader if len(r) == len(header)]
    if header is None:
        raise SystemExit(f"sst2: no train.tsv in {src}")
    label_at = header.index("label")
    idx = stratified_subset([r[label_at].strip() for r in rows], limit, seed=seed)
    dst.mkdir(parents=True, exist_ok=True)
    tmp = dst / "train.tsv.tmp"
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar=None, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows[i] for i in idx)
    os.replace(tmp, dst / "train.tsv")
    shutil.copyfile(src / "test.tsv", dst / "test.tsv")
    return dst


def run_one(job: dict[str, Any]) -> dict[str, Any]:
    """One tune run from ``job`` (a dict of TuneConfig fields plus bench keys); its record."""
    from emotune.experiments.config import TuneConfig
    from emotune.experiments.tune import run_tune

    record: dict[str, Any] = {k: job[k] for k in ("dataset", "model", "mode", "optimizer", "seed", "features", "cv")}
    import emotune

    record["emotune_path"] = str(Path(emotune.__file__).parent)
    record.update(trials=job["config"]["trials"], limit=job["config"]["limit"], epochs=job["config"]["epochs"],
                  optimizer_options=job["config"]["optimizer_options"],
                  run_dir=job["config"]["out"], fixed_params=job["config"]["fixed_params"])
    t0 = time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = usage.ru_utime + usage.ru_stime
    try:
        result = run_tune(TuneConfig(**job["config"]), if_exists="overwrite")  # a rerun replaces its run folder
    except Exception as exc:  # one failing run must not stop the benchmark
        record["error"] = f"{type(exc).__name__}: {exc}"
        record["traceback"] = traceback.format_exc(limit=8)
    else:
        test, base = result["test_metrics"], result["baseline_metrics"]
        refs = {r["name"]: r for r in [base, *result.get("reference_metrics", [])] if r}
        comp = {c["metric"]: c for c in result.get("comparison", [])}.get("accuracy")
        if "minilm_logreg" in refs:
            record["minilm_lr_accuracy"] = float(refs["minilm_logreg"]["accuracy"])
        if "mpnet_logreg" in refs:
            record["mpnet_lr_accuracy"] = float(refs["mpnet_logreg"]["accuracy"])
        if "fold_metrics" in result:  # outer folds: test accuracy per fold, its mean/std, and each fold's validation
            record["outer_folds"] = _outer_summary(result)
        if comp:
            record["vs_best_ref"] = {k: comp[k] for k in ("reference", "difference", "low", "high", "verdict")}
        record["augment"] = job["config"].get("augment", "none")
        record.update(
            test_accuracy=float(test["accuracy"]),
            test_macro_f1=float(test["macro_f1"]),
            baseline_accuracy=float(base["accuracy"]) if base else None,
            baseline_macro_f1=float(base["macro_f1"]) if base else None,
            best_val_fitness=float(result["best_fitness"]),
            fitness=result["config"]["fitness"],
            best_params=_plain(result["best_params"]),
            seconds_per_trial=float(result["timings"]["seconds_per_trial"]),
            search_seconds=float(result["timings"]["search_seconds"]),
            total_seconds=float(result["timings"]["total_seconds"]),
            trial_states=result["trials"],
            n_train=result["data"]["n_train"], n_val=result["data"]["n_val"], n_test=result["data"]["n_test"],
            protocol=result["protocol"]["test"],
            labels=result["labels"],
        )
    record["wall_seconds"] = round(time.perf_counter() - t0, 2)
    usage = resource.getrusage(resource.RUSAGE_SELF)  # this process's CPU time: wall time on a shared machine
    record["cpu_seconds"] = round(usage.ru_utime + usage.ru_stime - cpu0, 2)
    record["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)  # KiB on Linux
    return record


def _outer_summary(result: dict[str, Any]) -> dict[str, Any]:
    """Per outer fold: test accuracy and the search's best validation fitness; mean and std (ddof=1) over folds."""
    folds = result["folds"]
    acc = [f["test_metrics"]["accuracy"] for f in folds]
    val = [f["best_fitness"] for f in folds]
    refs = {name: m["accuracy"]["mean"] for name, m in result.get("fold_reference_metrics", {}).items()}
    return {"k": len(folds), "test_accuracy": acc, "val_fitness": val,
            "test_accuracy_mean": float(np.mean(acc)), "test_accuracy_std": float(np.std(acc, ddof=1)),
            "val_fitness_mean": float(np.mean(val)), "val_fitness_std": float(np.std(val, ddof=1)),
            "reference_accuracy_mean": refs}


def _mean_std(values: list[float]) -> tuple[float, float]:
    arr = np.asarray(values, dtype=float)
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0


def summarize(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (dataset, model, mode, optimizer, features): mean and std over seeds (ddof=1)."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in records:
        if "error" in r:
            continue
        groups.setdefault((r["dataset"], r["model"], r["mode"], r["optimizer"], r["features"],
                           r.get("augment", "none"), r.get("cv", "holdout")), []).append(r)
    rows = []
    keys = ("test_accuracy", "test_macro_f1", "baseline_accuracy", "minilm_lr_accuracy", "best_val_fitness",
            "seconds_per_trial", "total_seconds", "cpu_seconds", "peak_rss_mib")
    for (dataset, model, mode, optimizer, features, augment, cv), rs in groups.items():
        row: dict[str, Any] = {"dataset": dataset, "model": model, "mode": mode, "optimizer": optimizer, "cv": cv,
                               "features": features + ("" if augment == "none" else f" +{augment}"),
                               "vs_best_ref": [r.get("vs_best_ref") for r in rs], "trials": rs[0]["trials"], "seeds": [r["seed"] for r in rs],
                               "n_train": rs[0]["n_train"], "n_val": rs[0]["n_val"], "n_test": rs[0]["n_test"],
                               "outer_folds": [r.get("outer_folds") for r in rs]}
        for k in keys:
            vals = [r[k] for r in rs if r.get(k) is not None]
            if vals:
                row[k], row[k + "_std"] = _mean_std(vals)
        rows.append(row)
    return rows


def _fmt(row: dict[str, Any], key: str, scale: float = 1.0, digits: int = 1) -> str:
    if key not in row:
        return "-"
    text = f"{row[key] * scale:.{digits}f}"
    if len(row["seeds"]) > 1:
        text += f" ± {row[key + '_std'] * scale:.{digits}f}"
    return text


def _interval(row: dict[str, Any]) -> str:
    """The first seed's accuracy difference to the best reference row and its bootstrap interval."""
    c = next((c for c in row.get("vs_best_ref", []) if c), None)
    if not c:
        return "-"
    return f"{100 * c['difference']:+.1f} [{100 * c['low']:+.1f}, {100 * c['high']:+.1f}] {c['verdict'].split()[0]}"


def render_table(rows: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title)
    for col, justify in (("dataset", "left"), ("model", "left"), ("mode", "left"), ("optimizer", "left"),
                         ("inner cv", "left"), ("features", "left"), ("trials", "right"), ("train/val/test", "right"),
                         ("test acc %", "right"), ("test macro-F1 %", "right"), ("TF-IDF acc %", "right"),
                         ("MiniLM+LR acc %", "right"), ("acc - best ref, 95% CI", "left"),
                         ("val fitness", "right"), ("s/trial", "right"), ("total s", "right"), ("CPU s", "right"),
                         ("peak MiB", "right")):
        table.add_column(col, justify=justify)
    for r in rows:
        table.add_row(
            r["dataset"], r["model"], r["mode"], r["optimizer"], r.get("cv", "holdout"), r["features"],
            str(r["trials"]),
            f"{r['n_train']}/{r['n_val']}/{r['n_test']}",
            _fmt(r, "test_accuracy", 100), _fmt(r, "test_macro_f1", 100), _fmt(r, "baseline_accuracy", 100),
            _fmt(r, "minilm_lr_accuracy", 100), _interval(r),
            _fmt(r, "best_val_fitness", 1, 3), _fmt(r, "seconds_per_trial"), _fmt(r, "total_seconds", 1, 0),
            _fmt(r, "cpu_seconds", 1, 0),
            _fmt(r, "peak_rss_mib", 1, 0),
        )
    return table


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git(*cmd: str) -> str | None:
    import subprocess

    try:
        return subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _source() -> dict[str, Any]:
    """Where ``emotune`` was imported from; the checkout's commit only when it is this checkout's ``src``."""
    import emotune

    path = Path(emotune.__file__).resolve().parent
    from_checkout = path == (ROOT / "src" / "emotune").resolve()
    return {"emotune": str(path), "from_this_checkout": from_checkout,
            "git_head": _git("rev-parse", "HEAD") if from_checkout else None,
            "src_dirty": bool(_git("status", "--porcelain", "--", "src")) if from_checkout else None}


def _names(text: str, allowed: tuple[str, ...] | dict, what: str, parser: argparse.ArgumentParser) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    bad = [n for n in names if n not in allowed]
    if bad or not names:
        parser.error(f"--{what}: unknown {bad or '(none)'}; known: {', '.join(allowed)}")
    return names


def inner_cv(spec: str | None, parser: argparse.ArgumentParser) -> tuple[str, str]:
    """The search's ``cv`` (TuneConfig.cv) of the model rows and of the ``defaults`` row.

    ``spec`` is ``--cv``: when given, both rows use it; when ``None``, the model rows keep
    this benchmark's historical ``holdout`` and the ``defaults`` row takes what
    ``emotune tune --task text`` resolves (``TEXT_DEFAULTS["cv"]``, else
    ``TuneConfig(task="text").cv``), so it stays exactly the shipped defaults.
    """
    from emotune.data.splits import parse_cv
    from emotune.exceptions import ConfigError
    from emotune.experiments.config import TuneConfig

    if spec is not None:
        try:
            parse_cv(spec)
        except ConfigError as exc:
            parser.error(f"--cv: {exc}")
        return spec, spec
    return "holdout", str(DEFAULTS_ROW.get("cv") or TuneConfig(task="text").cv)


def _cv_suffix(cv: str) -> str:
    """Run-folder suffix of an inner ``cv`` spec: ``""`` for holdout (the historical folders), else ``-cv3``,
    ``-cvsample5`` ..."""
    return "" if cv == "holdout" else "-cv" + cv.replace(":", "")


def build_jobs(args: argparse.Namespace, parser: argparse.ArgumentParser, err: Console) -> list[dict[str, Any]]:
    datasets = _names(args.datasets, DATASETS, "datasets", parser)
    models = _names(args.models, MODELS, "models", parser)
    modes = _names(args.modes, ("untuned", "tuned"), "modes", parser)
    model_cv, defaults_cv = inner_cv(args.cv, parser)
    jobs = []
    for dataset in datasets:
        reader, folder = DATASETS[dataset]
        extra = {"references": args.references.split(","), "pruner": args.pruner}
        outer = ""  # keeps the run folders of the outer protocols apart
        if args.outer_cv != "holdout" and dataset != "sst2":  # SST-2 keeps its official test sentences
            extra["outer_cv"] = args.outer_cv
            outer = "-outer" + args.outer_cv.replace(":", "")
        for seed in range(args.seed0, args.seed0 + args.seeds):
            data_dir: str | None = None if folder is None else str(args.data_root / folder)
            limit = args.limit
            if dataset == "sst2" and limit is not None:
                # keep all 872 official test sentences; subsample only train + dev
                data_dir = str(sst2_subset(Path(data_dir), args.out / "_data", limit, seed))
                err.print(f"sst2: {limit} stratified train+dev rows (seed {seed}) + all {SST2_TEST_SIZE} test "
                          f"sentences in {data_dir}")
                limit = None
            for model in models:
                if model == "defaults":
                    d = DEFAULTS_ROW
                    run_dir = (args.out / dataset / "defaults" /
                               f"seed{seed}{'-' + args.tag if args.tag else ''}{_cv_suffix(defaults_cv)}{outer}")
                    config = {"seed": seed, "task": "text", "dataset": reader, "data_dir": data_dir, "limit": limit,
                              **d, "cv": defaults_cv, "out": str(run_dir), "cache_dir": args.cache_dir,
                              "progress": False, "threads": args.threads, **extra}
                    jobs.append({"dataset": dataset, "model": f"defaults ({d['model']})", "mode": "tuned",
                                 "optimizer": d["optimizer"], "seed": seed, "features": d["features"],
                                 "cv": defaults_cv,
                                 "config": {"optimizer_options": {}, "fixed_params": {}, **config},
                                 "fixed_source": {}})
                    continue
                fixed, source = untuned_params(model)
                for mode in modes:
                    optimizer = "random" if mode == "untuned" else (args.optimizer or DEFAULT_OPTIMIZER[model])
                    tag = "" if args.augment == "none" else f"-{args.augment}"
                    tag += "" if not args.tag else f"-{args.tag}"
                    tag += _cv_suffix(model_cv)
                    run_dir = args.out / dataset / model / f"{mode}-{optimizer}-{args.features}{tag}-seed{seed}{outer}"
                    config = {
                        "seed": seed, "task": "text", "dataset": reader, "data_dir": data_dir, "limit": limit,
                        "cv": model_cv, "features": args.features, "max_len": args.max_len,
                        "model": model, "optimizer": optimizer,
                        "optimizer_options": {"pop_size": args.pop_size} if mode == "tuned" and args.pop_size else {},
                        "trials": 1 if mode == "untuned" else args.trials,
                        "fixed_params": fixed if mode == "untuned" else {},
                        "epochs": args.epochs, "patience": args.patience,
                        "out": str(run_dir), "cache_dir": args.cache_dir, "progress": False,
                        "threads": args.threads, "warm_start": not args.no_warm_start,
                        "augment": args.augment, **extra,
                    }
                    if args.fix:
                        config["fixed_params"] = {**config["fixed_params"], **json.loads(args.fix)}
                    jobs.append({"dataset": dataset, "model": model, "mode": mode, "optimizer": optimizer,
                                 "seed": seed, "features": args.features, "cv": model_cv,
                                 "config": config, "fixed_source": source if mode == "untuned" else {}})
    return jobs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="mr,sst2,tweets", help=f"comma-separated, of {', '.join(DATASETS)}")
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, of {', '.join(MODELS)}")
    parser.add_argument("--modes", default="untuned,tuned", help="untuned, tuned or both")
    parser.add_argument("--features", default="minilm", choices=FEATURES)
    parser.add_argument("--augment", default="none", choices=("none", "fgm", "gan"), help="TuneConfig.augment")
    parser.add_argument("--fix", default=None, help='JSON of parameters fixed in every run, e.g. \'{"finetune_layers": 1}\'')
    parser.add_argument("--tag", default="", help="suffix of the run directories (to keep variants apart)")
    parser.add_argument("--optimizer", default=None,
                        help="one optimizer for every tuned run (default: " +
                        ", ".join(f"{m}: {o}" for m, o in DEFAULT_OPTIMIZER.items()) + ")")
    parser.add_argument("--limit", type=int, default=None, help="stratified subsample of this many samples "
                        "(SST-2: of train+dev; its 872 test sentences are always kept)")
    parser.add_argument("--trials", type=int, default=20, help="trials of each tuned search")
    parser.add_argument("--pop-size", type=int, default=None,
                        help="population of the tuned optimizer (default: its own, 8 for lwaro and 20 for ipso/ga, "
                        "so a budget below it evaluates only the initial population)")
    parser.add_argument("--epochs", type=int, default=10, help="maximum epochs per training run")
    parser.add_argument("--patience", type=int, default=3, help="early-stopping patience in epochs")
    parser.add_argument("--max-len", type=int, default=64, help="tokens kept per text")
    parser.add_argument("--outer-cv", default="holdout",
                        help="outer protocol of MR and the tweets: holdout (stratified 20%% test) or sample:K "
                        "(stratified K-fold, every sentence tested once; mean and std over folds); SST-2 always "
                        "tests on its 872 official sentences")
    parser.add_argument("--cv", default=None,
                        help="the search's validation inside each run (TuneConfig.cv: holdout, K, sample:K, ...); "
                        "default: holdout for the model rows, emotune's text default for the defaults row; "
                        "anything but holdout adds -cv<spec> to the run folders")
    parser.add_argument("--references", default="tfidf_logreg,minilm_logreg",
                        help="reference rows of every run (TuneConfig.references; mpnet_logreg needs `make mpnet`)")
    parser.add_argument("--pruner", default="none", help="trial pruner (TuneConfig.pruner: none, median, halving, "
                        "hyperband)")
    parser.add_argument("--seeds", type=int, default=1, help="number of seeds")
    parser.add_argument("--seed0", type=int, default=0, help="first seed (seeds seed0 .. seed0+N-1)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per training run (TuneConfig.threads)")
    parser.add_argument("--no-warm-start", action="store_true",
                        help="do not make the defaults the first trial of a tuned search (TuneConfig.warm_start)")
    parser.add_argument("--data-root", type=Path, default=DATA_ROOT, help="folder with mr-rt-polarity/ and sst2-en/")
    parser.add_argument("--cache-dir", default=None, help="feature cache (default ~/.cache/emotune)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "text", help="run directories go here")
    parser.add_argument("--json-file", type=Path, default=ROOT / "bench" / "out" / "text.json")
    parser.add_argument("--json", action="store_true", help="print the JSON payload instead of the table")
    parser.add_argument("--no-isolate", action="store_true", help="run in this process (peak memory is cumulative)")
    args = parser.parse_args(argv)
    for name in ("trials", "epochs", "seeds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1, got {getattr(args, name)}")

    console = Console(width=None if sys.stdout.isatty() else 200)  # a log file gets the whole table
    err = Console(stderr=True, width=None if sys.stderr.isatty() else 200)
    jobs = build_jobs(args, parser, err)
    records: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    executor = None
    if not args.no_isolate:
        executor = cf.ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                          max_tasks_per_child=1)
    try:
        for i, job in enumerate(jobs, 1):
            label = f"[{i}/{len(jobs)}] {job['dataset']} {job['model']} {job['mode']} ({job['optimizer']}) seed {job['seed']}"
            err.print(f"{label} ...")
            rec = run_one(job) if executor is None else executor.submit(run_one, job).result()
            rec["fixed_source"] = job["fixed_source"]
            records.append(rec)
            if "error" in rec:
                err.print(f"{label}: [red]{rec['error']}[/]")
            else:
                err.print(f"{label}: acc {rec['test_accuracy']:.4f}, macro-F1 {rec['test_macro_f1']:.4f}, "
                          f"TF-IDF acc {rec['baseline_accuracy']:.4f}, {rec['total_seconds']:.0f} s, "
                          f"{rec['peak_rss_mib']:.0f} MiB")
    finally:
        if executor is not None:
            executor.shutdown()
    elapsed = time.perf_counter() - t0

    summary = summarize(records)
    payload = {
        "command": " ".join([f"bench/{Path(sys.argv[0]).name}", *(argv if argv is not None else sys.argv[1:])]),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "source": _source(),
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpu_count": os.cpu_count()},
        "versions": {d: _version(d) for d in ("emotune", "torch", "transformers", "numpy", "scikit-learn")},
        "protocols": {
            "mr": "stratified hold-out, test 20% (no official split; papers report 10-fold CV, a different protocol)",
            "sst2": "train on GLUE train (+dev as shipped), test on the 872 labelled GLUE dev sentences",
            "tweets": "stratified hold-out, test 20% (no official split, no author groups)",
        },
        "elapsed_seconds": round(elapsed, 1),
        "summary": summary,
        "records": records,
    }
    args.json_file.parent.mkdir(parents=True, exist_ok=True)
    args.json_file.write_text(json.dumps(payload, indent=1, default=str) + "\n")
    if args.json:
        print(json.dumps(payload, indent=1, default=str))
    else:
        pop = f", pop {args.pop_size}" if args.pop_size else ""
        title = (f"text models: untuned defaults vs tuned ({args.features}, limit {args.limit}, "
                 f"{args.trials} trials{pop}, {args.epochs} epochs, {args.seeds} seed(s))")
        console.print(render_table(summary, title))
        for r in records:
            if "error" in r:
                console.print(f"[red]failed[/] {r['dataset']} {r['model']} {r['mode']} seed {r['seed']}: {r['error']}")
        console.print(f"{len(records)} runs in {elapsed:.0f} s; wrote {args.json_file}")
    return 1 if any("error" in r for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
