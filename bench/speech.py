"""Speech emotion recognition on CREMA-D: accuracy of feature x model pairs, and feature-extraction throughput.

**Accuracy.** For every feature set x model pair (``--features`` x ``--models``;
a model that cannot read a feature's shape is skipped: ``cnn_bilstm`` and
``sa_lstm`` need frames, ``mlp`` reads vectors or mean-pooled frames), every
normalisation (``--normalize``) and every mode (``--modes``), one complete
``emotune tune`` run (``emotune.experiments.tune.run_tune``) with the outer
protocol ``--outer-cv`` (default ``group:5``: 5 outer folds by actor, each with
validation actors that are disjoint from its test actors):

* ``untuned``: every key of the model's default space is fixed
  (``fixed_params``) to ``ModelSpec.defaults``, else to the trainer's own default
  (``TrainConfig``), else to the middle of its range; one trial of the ``random``
  optimizer, so nothing is searched;
* ``tuned``: ``--trials`` trials of ``--optimizer`` on each outer fold (where
  ``TuneConfig`` has ``warm_start``, the first trial is the model's defaults
  unless ``--no-warm-start``; the field is recorded as ``warm_start``, ``None``
  when the installed emotune has no such field).

Each run reports UA (unweighted accuracy = macro recall), WA (weighted accuracy
= plain accuracy) and macro-F1 as mean ± std over the outer folds (population
std, ``ddof=0``, as ``emotune.evaluation.metrics.aggregate`` gives it) and pooled
over all test clips, plus the run's own reference rows on the same folds
(88 eGeMAPS functionals + RBF SVM / logistic regression, standardised on the
training clips; the run's own features + logistic regression; and, when the run
normalises by speaker enrolment, each of those again with the same enrolment:
rows ``enrol``; see ``emotune.experiments.speech_baselines``). Seconds per trial, wall time and the run's peak
resident memory (``ru_maxrss`` of the run's own fresh process) are recorded.

**Throughput.** Feature extraction over the same ``--throughput-files`` clips
(a stratified subset), with every file read once beforehand so the OS page
cache is warm for every method, and one untimed call of each in-process method on
one clip (lazy imports and first-call set-up are not per-clip costs):

* ``plain loop``: one process, ``librosa.load`` + ``librosa.feature.mfcc`` (or
  ``melspectrogram``, or an ``opensmile.Smile`` for eGeMAPS) per file with the
  extractor's own parameters, no cache;
* ``emotune cold``: ``speech_features`` into a fresh temporary cache, once per
  ``--throughput-workers`` count (worker processes start from a fork server that
  imports librosa; that start-up is counted, since every run pays it);
* ``emotune warm``: the same call again on the filled cache (hash + load only).

Each row records the 1-minute load average when its pass ended (``load_1min``):
on a shared machine it says how far the seconds can be trusted.

Usage::

    HF_HUB_OFFLINE=1 .venv/bin/python bench/speech.py --throughput-only --features mfcc,egemaps
    HF_HUB_OFFLINE=1 .venv/bin/python bench/speech.py --accuracy-only --features egemaps --models mlp \\
        --normalize global,speaker --modes untuned,tuned --trials 8 --append

Prints Rich tables (``--json``: the JSON payload instead) and writes
``bench/out/speech.json`` (``--json-file``); with ``--append`` the records of
earlier invocations in that file are kept (a rerun of the same configuration
replaces its record); ``--show`` prints the tables of that file and runs nothing.
Run directories go under ``--out``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import importlib.metadata
import json
import multiprocessing
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import fields
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from emotune.experiments.config import SPEECH_FEATURES  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT.parent / "shared" / "data" / "crema-d-dev"
DATASET = "crema-d"
MODELS = ("mlp", "cnn_bilstm", "sa_lstm")
FEATURES = SPEECH_FEATURES
NORMALIZE = ("global", "speaker", "none", "auto")
METRICS = ("unweighted_accuracy", "weighted_accuracy", "macro_f1")
ANCHORS = {
    "humans, voice only (CREMA-D paper)": "about 41% (intended emotion)",
    "classic speaker-independent systems": "55-60% UA",
    "brief, sklearn eGeMAPS + SVM": "48.9% UA",
    "brief, sklearn eGeMAPS + SVM, per-speaker normalisation": "56.5% UA",
    "brief, Whisper-tiny states + logistic regression": "about 59%",
}


# -- accuracy -----------------------------------------------------------------------------------------------


def _plain(obj: Any) -> Any:
    """NumPy scalars and tuples as plain Python (for YAML and JSON)."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def untuned_params(model: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Fixed values for every key of ``model``'s default space, and where each came from.

    ``ModelSpec.defaults`` first, then the trainer's default (``TrainConfig``,
    e.g. ``weight_decay = 0``), then the middle of the range (the space decoded
    at the unit-box centre 0.5).
    """
    from emotune.models import MODELS as REGISTRY
    from emotune.training import TrainConfig

    spec = REGISTRY.get(model)
    space = spec.default_space
    middle = space.decode(np.full(space.dim, 0.5))
    trainer = {f.name: getattr(TrainConfig(), f.name) for f in fields(TrainConfig)}
    params: dict[str, Any] = {}
    source: dict[str, str] = {}
    for name in space.names():
        if name in spec.defaults:
            params[name], source[name] = spec.defaults[name], "ModelSpec.defaults"
        elif name in trainer:
            params[name], source[name] = trainer[name], "TrainConfig default"
        else:
            params[name], source[name] = middle[name], "middle of range"
    return _plain(params), source


def compatible(features: str, model: str) -> bool:
    """Whether ``model`` reads the shape ``features`` gives (vectors or frames)."""
    from emotune.features.audio_extractors import AUDIO_FEATURES
    from emotune.models import MODELS as REGISTRY

    kind = "vector" if AUDIO_FEATURES.get(features).level == "clip" else "frames"
    return kind in REGISTRY.get(model).input_kinds


def speaker_references(config: dict[str, Any], run_dir: Path) -> list[dict[str, Any]]:
    """eGeMAPS + SVM / logistic regression with per-speaker normalisation, on the run's own outer folds.

    Each fold: the actors' 88 functionals are normalised per actor over the
    fold's clips (training and test, as ``SpeechInputs`` does for
    ``normalize="speaker"``), the classifier is fit on every clip outside the
    fold and scored on the fold. Returns one row per classifier with per-fold
    mean/std (``aggregate``) and pooled metrics.
    """
    from emotune.data import load_dataset
    from emotune.evaluation.baselines import vector_baseline
    from emotune.evaluation.metrics import aggregate, classification_metrics
    from emotune.experiments.speech_inputs import speech_features
    from emotune.features.cache import FeatureCache, default_cache_root
    from emotune.features.frames import speaker_normalize

    dataset = load_dataset(config["dataset"], config["data_dir"], limit=config["limit"], seed=config["seed"])
    labels = dataset.labels
    y_all = dataset.label_ids({name: i for i, name in enumerate(labels)})
    cache = FeatureCache(config["cache_dir"] or default_cache_root())
    vecs, _ = speech_features([s.audio_path for s in dataset.samples], "egemaps", cache=cache,
                              workers=config["workers"], on_error="skip", max_seconds=config["max_seconds"])
    pos = {s.id: i for i, s in enumerate(dataset.samples)}
    parts = json.loads((run_dir / "split.json").read_text())["parts"]
    folds = [[pos[i] for i in parts[k] if vecs[pos[i]] is not None] for k in sorted(parts)]
    groups = np.asarray(dataset.groups)
    x_all = np.zeros((len(vecs), 88), np.float32)
    for i, v in enumerate(vecs):
        if v is not None:
            x_all[i] = v
    rows = []
    for kind in ("svm", "logreg"):
        per_fold, pooled_true, pooled_proba = [], [], []
        for k, test in enumerate(folds):
            dev = np.asarray([i for j, f in enumerate(folds) if j != k for i in f], np.int64)
            test = np.asarray(test, np.int64)
            both = np.concatenate([dev, test])
            normed = speaker_normalize(x_all[both], None, groups[both])
            proba = vector_baseline(normed[: len(dev)], y_all[dev], normed[len(dev):], kind=kind,
                                    seed=config["seed"])
            per_fold.append(classification_metrics(y_all[test], proba, labels))
            pooled_true.append(y_all[test])
            pooled_proba.append(proba)
        pooled = classification_metrics(np.concatenate(pooled_true), np.concatenate(pooled_proba), labels)
        rows.append({"name": f"egemaps_{kind}", "normalize": "speaker",
                     "fold": aggregate(per_fold), "pooled": {m: pooled[m] for m in METRICS}})
    return rows


def run_one(job: dict[str, Any]) -> dict[str, Any]:
    """One tune run from ``job`` (TuneConfig fields under ``config`` plus bench keys); its record."""
    from emotune.data import load_dataset
    from emotune.experiments.config import TuneConfig
    from emotune.experiments.speech_inputs import speech_features
    from emotune.experiments.tune import run_tune
    from emotune.features.cache import FeatureCache, default_cache_root

    cfg = job["config"]
    record: dict[str, Any] = {k: job[k] for k in ("features", "model", "normalize", "mode", "optimizer")}
    record["tag"] = job.get("tag", "")
    record.update({k: cfg[k] for k in ("seed", "trials", "epochs", "patience", "limit", "max_seconds",
                                       "frame_pool", "cv", "outer_cv", "threads")})
    record.update(run_dir=cfg["out"], fixed_params=cfg["fixed_params"], fixed_source=job["fixed_source"],
                  warm_start=cfg.get("warm_start"))
    t0 = time.perf_counter()
    try:
        # features first (and the eGeMAPS functionals of the reference rows), timed on their own
        dataset = load_dataset(cfg["dataset"], cfg["data_dir"], limit=cfg["limit"], seed=cfg["seed"])
        paths = [s.audio_path for s in dataset.samples]
        cache = FeatureCache(cfg["cache_dir"] or default_cache_root())
        for name in dict.fromkeys([cfg["features"], "egemaps"]):
            t = time.perf_counter()
            speech_features(paths, name, cache=cache, workers=cfg["workers"], on_error="skip",
                            max_seconds=cfg["max_seconds"])
            record[f"features_seconds_{name}"] = round(time.perf_counter() - t, 2)
        result = run_tune(TuneConfig(**cfg), if_exists="overwrite")  # a rerun replaces its own run folder
        if job.get("speaker_refs"):
            record["speaker_references"] = speaker_references(cfg, Path(cfg["out"]))
    except Exception as exc:  # one failing run must not stop the benchmark
        record["error"] = f"{type(exc).__name__}: {exc}"
        record["traceback"] = traceback.format_exc(limit=8)
    else:
        result = _with_folds(result)
        test = result["test_metrics"]
        record.update(
            n_clips=result["data"]["n_test"],
            fold=_plain({m: result["fold_metrics"][m] for m in METRICS + ("accuracy",)}),
            pooled={m: float(test[m]) for m in METRICS},
            references=[
                {"name": row["name"], "normalize": "speaker" if row["name"].endswith("+enrol") else "global",
                 "fold": _plain({m: result["fold_reference_metrics"][row["name"]][m] for m in METRICS}),
                 "pooled": {m: float(row[m]) for m in METRICS}}
                for row in [result["baseline_metrics"], *result["reference_metrics"]] if row
            ],
            folds=_plain(result["folds"]),
            best_params=_plain(result["best_params"]),
            fitness=result["config"]["fitness"],
            seconds_per_trial=float(result["timings"]["seconds_per_trial"]),
            search_seconds=float(result["timings"]["search_seconds"]),
            total_seconds=float(result["timings"]["total_seconds"]),
            trial_states=result["trials"],
            protocol=result["protocol"],
            labels=result["labels"],
        )
    record["wall_seconds"] = round(time.perf_counter() - t0, 2)
    record["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)  # KiB on Linux
    return record


def _with_folds(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` with the per-fold keys of an outer-fold run; a single split (``--outer-cv holdout``) is one fold."""
    if "fold_metrics" in result:
        return result
    from emotune.evaluation.metrics import aggregate

    refs = [row for row in [result["baseline_metrics"], *result["reference_metrics"]] if row]
    test = result["test_metrics"]
    return {**result, "fold_metrics": aggregate([test]),
            "fold_reference_metrics": {row["name"]: aggregate([row]) for row in refs},
            "folds": [{"fold": 1, "best_params": result["best_params"], "best_fitness": result["best_fitness"],
                       "test_metrics": {m: test[m] for m in ("accuracy", "macro_f1", "unweighted_accuracy",
                                                             "weighted_accuracy", "roc_auc") if m in test}}]}


def actor_manifest(data_dir: Path, actors: list[str], out: Path) -> Path:
    """An audio-csv manifest (path, label, speaker) of the CREMA-D clips of ``actors``; returns its path."""
    import csv

    from emotune.data import load_dataset

    dataset = load_dataset(DATASET, str(data_dir))
    keep = [s for s in dataset.samples if s.group in set(actors)]
    missing = sorted(set(actors) - {s.group for s in keep})
    if missing:
        raise SystemExit(f"--actors: no clips of {missing} in {data_dir}")
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"crema-d-actors-{'-'.join(sorted(actors))}.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "label", "speaker"])
        writer.writerows([s.audio_path, s.label, s.group] for s in keep)
    return path


def record_key(r: dict[str, Any]) -> tuple:
    """What makes two accuracy records the same configuration (a rerun replaces the older one)."""
    return tuple(r.get(k) for k in ("features", "model", "normalize", "mode", "optimizer", "trials", "epochs",
                                    "limit", "seed", "max_seconds", "frame_pool", "cv", "outer_cv", "warm_start",
                                    "tag"))


def _pct(stats: dict[str, float] | None) -> str:
    if not stats:
        return "-"
    return f"{100 * stats['mean']:.1f} ± {100 * stats['std']:.1f}"


def accuracy_table(records: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title)
    for col, justify in (("features", "left"), ("model", "left"), ("norm", "left"), ("mode", "left"),
                         ("optimizer", "left"), ("trials", "right"), ("epochs", "right"), ("clips", "right"),
                         ("UA %", "right"), ("WA %", "right"), ("macro-F1 %", "right"), ("pooled UA %", "right"),
                         ("s/trial", "right"), ("total s", "right"), ("peak MiB", "right")):
        table.add_column(col, justify=justify)
    refs: dict[tuple, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for r in records:
        if "error" in r:
            continue
        mode = r["mode"] if r.get("cv", "holdout") == "holdout" else f"{r['mode']}, cv {r['cv']}"
        table.add_row(
            r["features"], r["model"], r["normalize"], mode, r["optimizer"], str(r["trials"]), str(r["epochs"]),
            str(r["n_clips"]), _pct(r["fold"]["unweighted_accuracy"]), _pct(r["fold"]["weighted_accuracy"]),
            _pct(r["fold"]["macro_f1"]), f"{100 * r['pooled']['unweighted_accuracy']:.1f}",
            f"{r['seconds_per_trial']:.1f}", f"{r['total_seconds']:.0f}", f"{r['peak_rss_mib']:.0f}",
        )
        data_key = (r["limit"], r["seed"], r["max_seconds"], r["outer_cv"], r["n_clips"])
        for ref in r.get("references", []) + r.get("speaker_references", []):
            refs.setdefault(data_key, [])
            if all((ref["name"], ref["normalize"]) != (o["name"], o["normalize"]) for o, _ in refs[data_key]):
                refs[data_key].append((ref, r))
    for (_, _, _, _, n_clips), rows in refs.items():
        table.add_section()
        for ref, r in rows:
            name = ref["name"].removesuffix("+enrol")
            feats, model = name.rsplit("_", 1) if "_" in name else ("egemaps", name)
            table.add_row(
                feats, model + " (ref)",
                ("enrol" if ref["name"].endswith("+enrol") else "speaker*") if ref["normalize"] == "speaker"
                else "scaler", "-", "-", "-", "-", str(n_clips),
                _pct(ref["fold"]["unweighted_accuracy"]), _pct(ref["fold"]["weighted_accuracy"]),
                _pct(ref["fold"]["macro_f1"]), f"{100 * ref['pooled']['unweighted_accuracy']:.1f}",
                "-", "-", "-",
            )
    return table


def build_jobs(args: argparse.Namespace, parser: argparse.ArgumentParser, err: Console) -> list[dict[str, Any]]:
    features = _names(args.features, FEATURES, "features", parser)
    models = _names(args.models, MODELS, "models", parser)
    modes = _names(args.modes, ("untuned", "tuned"), "modes", parser)
    norms = _names(args.normalize, NORMALIZE, "normalize", parser)
    from emotune.experiments.config import TuneConfig

    tune_fields = {f.name for f in fields(TuneConfig)}
    jobs: list[dict[str, Any]] = []
    refs_done = False
    for feat in features:
        for model in models:
            if not compatible(feat, model):
                err.print(f"skipped {feat}+{model}: {model} does not read {feat}'s shape")
                continue
            fixed, source = untuned_params(model)
            for norm in norms:
                for mode in modes:
                    optimizer = "random" if mode == "untuned" else args.optimizer
                    trials = 1 if mode == "untuned" else args.trials
                    run_dir = args.out / f"{feat}-{model}" / (
                        f"{norm}-{mode}-{optimizer}-t{trials}-e{args.epochs}-limit{args.limit or 'all'}"
                        f"-pool{args.frame_pool}-seed{args.seed}"
                        f"{'' if args.cv == 'holdout' else '-cv' + args.cv.replace(':', '')}"
                        f"{'-' + args.tag if args.tag else ''}")
                    config = {
                        "seed": args.seed, "task": "speech", "dataset": args.dataset, "data_dir": str(args.data_dir),
                        "limit": args.limit, "cv": args.cv, "outer_cv": args.outer_cv, "features": feat,
                        "normalize": norm, "max_seconds": args.max_seconds, "frame_pool": args.frame_pool,
                        "workers": args.workers, "model": model, "optimizer": optimizer, "trials": trials,
                        "fixed_params": fixed if mode == "untuned" else {}, "epochs": args.epochs,
                        "patience": args.patience, "threads": args.threads, "out": str(run_dir),
                        "cache_dir": args.cache_dir, "progress": False,
                    }
                    if "warm_start" in tune_fields:  # the defaults as the first trial of a search
                        config["warm_start"] = not args.no_warm_start
                    jobs.append({"features": feat, "model": model, "normalize": norm, "mode": mode,
                                 "optimizer": optimizer, "config": config, "tag": args.tag,
                                 "speaker_refs": args.legacy_speaker_refs and not refs_done,
                                 "fixed_source": source if mode == "untuned" else {}})
                    refs_done = True  # the references depend on the clips and folds only: once per invocation
    return jobs


def run_accuracy(args, parser, console: Console, err: Console) -> list[dict[str, Any]]:
    jobs = build_jobs(args, parser, err)
    records: list[dict[str, Any]] = []
    executor = None
    if not args.no_isolate:
        executor = cf.ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                          max_tasks_per_child=1)
    try:
        for i, job in enumerate(jobs, 1):
            label = (f"[{i}/{len(jobs)}] {job['features']}+{job['model']} {job['normalize']} {job['mode']} "
                     f"({job['optimizer']})")
            err.print(f"{label} ...")
            rec = run_one(job) if executor is None else executor.submit(run_one, job).result()
            records.append(rec)
            if "error" in rec:
                err.print(f"{label}: [red]{rec['error']}[/]")
            else:
                err.print(f"{label}: UA {_pct(rec['fold']['unweighted_accuracy'])} %, "
                          f"WA {_pct(rec['fold']['weighted_accuracy'])} %, F1 {_pct(rec['fold']['macro_f1'])} %, "
                          f"{rec['total_seconds']:.0f} s, {rec['peak_rss_mib']:.0f} MiB")
    finally:
        if executor is not None:
            executor.shutdown()
    return records


# -- throughput ---------------------------------------------------------------------------------------------


def _plain_loop(paths: list[str], features: str, params: dict[str, Any], sr: int, max_seconds: float):
    """A function that featurises every path in one process with the libraries directly, or ``None``."""
    if features in ("mfcc", "logmel"):
        import librosa

        def run() -> None:
            for p in paths:
                y, _ = librosa.load(p, sr=sr, duration=max_seconds)
                if features == "mfcc":
                    librosa.feature.mfcc(y=y, sr=sr, n_mfcc=params["n_mfcc"], n_fft=params["n_fft"],
                                         hop_length=params["hop"], n_mels=params["n_mels"])
                else:
                    librosa.power_to_db(librosa.feature.melspectrogram(
                        y=y, sr=sr, n_fft=params["n_fft"], hop_length=params["hop"], n_mels=params["n_mels"]))

        return run, "librosa.load + librosa.feature." + ("mfcc" if features == "mfcc" else "melspectrogram")
    if features in ("egemaps", "egemaps_lld"):
        import librosa
        import opensmile

        levels = opensmile.FeatureLevel
        level = levels.Functionals if features == "egemaps" else levels.LowLevelDescriptors
        smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02, feature_level=level)

        def run() -> None:
            for p in paths:
                y, _ = librosa.load(p, sr=sr, duration=max_seconds)
                smile.process_signal(y, sr)

        return run, "librosa.load + opensmile.Smile(eGeMAPSv02).process_signal"
    return None


def run_throughput(args, parser, err: Console) -> list[dict[str, Any]]:
    from emotune.data import load_dataset
    from emotune.experiments.speech_inputs import SPEECH_SR, speech_features
    from emotune.features.audio_extractors import make_audio_extractor
    from emotune.features.cache import FeatureCache

    import librosa.feature  # noqa: F401  (imported before any timing, for every method alike)

    features = _names(args.features, FEATURES, "features", parser)
    dataset = load_dataset(args.dataset, str(args.data_dir), limit=args.throughput_files, seed=args.seed)
    paths = [s.audio_path for s in dataset.samples]
    for p in paths:  # page cache warm for every method
        Path(p).read_bytes()
    n = len(paths)
    rows: list[dict[str, Any]] = []

    def add(feat: str, method: str, workers: int | None, seconds: float, note: str = "") -> None:
        load = os.getloadavg()[0]  # the machine is shared: the 1-minute load says how far the seconds can be trusted
        rows.append({"features": feat, "method": method, "workers": workers, "files": n,
                     "seconds": round(seconds, 3), "clips_per_second": round(n / seconds, 2), "note": note,
                     "load_1min": round(load, 2)})
        err.print(f"{feat} {method} (workers {workers or 1}): {n} clips in {seconds:.2f} s = {n / seconds:.2f} clips/s"
                  f" (load {load:.1f})")

    for feat in features:
        # one untimed call of each in-process method first: lazy imports and first-call set-up are not per-clip costs
        speech_features(paths[:1], feat, cache=None, workers=1, max_seconds=args.max_seconds)
        plain = _plain_loop(paths, feat, dict(make_audio_extractor(feat).params), SPEECH_SR, args.max_seconds)
        if plain is not None:
            run, note = plain
            _plain_loop(paths[:1], feat, dict(make_audio_extractor(feat).params), SPEECH_SR, args.max_seconds)[0]()
            t = time.perf_counter()
            run()
            add(feat, "plain loop", 1, time.perf_counter() - t, note)
        last_root = None
        for workers in args.throughput_workers:
            root = Path(tempfile.mkdtemp(prefix=f"emotune-bench-{feat}-w{workers}-"))
            t = time.perf_counter()
            _, errors = speech_features(paths, feat, cache=FeatureCache(root), workers=workers, on_error="skip",
                                        max_seconds=args.max_seconds)
            add(feat, "emotune cold", workers, time.perf_counter() - t,
                "fresh cache" + (f"; {len(errors)} failed" if errors else ""))
            if last_root is not None:
                shutil.rmtree(last_root, ignore_errors=True)
            last_root = root
        if last_root is not None:
            t = time.perf_counter()
            speech_features(paths, feat, cache=FeatureCache(last_root), workers=args.throughput_workers[-1],
                            on_error="skip", max_seconds=args.max_seconds)
            add(feat, "emotune warm", args.throughput_workers[-1], time.perf_counter() - t,
                "second pass, every clip a cache hit")
            shutil.rmtree(last_root, ignore_errors=True)
    for r in rows:
        base = next((b for b in rows if b["features"] == r["features"] and b["method"] == "plain loop"), None)
        r["speedup_vs_plain"] = round(base["seconds"] / r["seconds"], 2) if base else None
    return rows


def throughput_table(rows: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title)
    for col, justify in (("features", "left"), ("method", "left"), ("workers", "right"), ("files", "right"),
                         ("seconds", "right"), ("clips/s", "right"), ("x plain", "right"), ("load", "right"),
                         ("note", "left")):
        table.add_column(col, justify=justify)
    for r in rows:
        load = r.get("load_1min")  # absent from records written before it was measured
        table.add_row(r["features"], r["method"], str(r["workers"] or 1), str(r["files"]), f"{r['seconds']:.2f}",
                      f"{r['clips_per_second']:.1f}",
                      "-" if r["speedup_vs_plain"] is None else f"{r['speedup_vs_plain']:.2f}",
                      "-" if load is None else f"{load:.1f}", r["note"])
    return table


def _corpus_name(dataset: str) -> str:
    """The corpus a table title names: ``audio-csv`` here is a manifest of CREMA-D actors (``--actors``)."""
    return "CREMA-D" if dataset in ("crema-d", "audio-csv") else dataset


def show(payload: dict[str, Any], console: Console) -> None:
    """The tables of a saved payload: throughput, then one accuracy table per clip subset."""
    if payload.get("throughput"):
        files = sorted({r["files"] for r in payload["throughput"]})
        title = f"feature extraction, {'/'.join(map(str, files))} CREMA-D clips"
        console.print(throughput_table(payload["throughput"], title))
    subsets: dict[tuple, list[dict[str, Any]]] = {}
    for r in payload.get("accuracy", []):
        subsets.setdefault((r.get("limit"), r.get("outer_cv")), []).append(r)
    for (limit, outer), rows in subsets.items():
        console.print(accuracy_table(rows, f"CREMA-D ({limit or 'all'} clips), outer {outer} by actor: "
                                           "UA / WA / macro-F1 mean ± std over folds"))
    for inv in payload.get("invocations", []):
        console.print(f"{inv['command']}  ({inv['elapsed_seconds']:.0f} s)")


# -- command line -------------------------------------------------------------------------------------------


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _names(text: str, allowed: tuple[str, ...], what: str, parser: argparse.ArgumentParser) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    bad = [n for n in names if n not in allowed]
    if bad or not names:
        parser.error(f"--{what}: unknown {bad or '(none)'}; known: {', '.join(allowed)}")
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--features", default="egemaps,mfcc", help=f"comma-separated, of {', '.join(FEATURES)}")
    parser.add_argument("--models", default="mlp,cnn_bilstm", help=f"comma-separated, of {', '.join(MODELS)}")
    parser.add_argument("--modes", default="untuned,tuned", help="untuned, tuned or both")
    parser.add_argument("--normalize", default="global,speaker", help=f"comma-separated, of {', '.join(NORMALIZE)}")
    parser.add_argument("--optimizer", default="lwaro", help="optimizer of the tuned runs")
    parser.add_argument("--trials", type=int, default=8, help="trials of each tuned search (per outer fold)")
    parser.add_argument("--no-warm-start", action="store_true",
                        help="tuned searches do not start from the model's defaults (TuneConfig.warm_start=False)")
    parser.add_argument("--epochs", type=int, default=10, help="maximum epochs per training run")
    parser.add_argument("--patience", type=int, default=3, help="early-stopping patience in epochs")
    parser.add_argument("--limit", type=int, default=None, help="stratified subsample of this many clips (all actors)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cv", default="holdout", help="search validation inside each outer fold")
    parser.add_argument("--outer-cv", default="group:5", help="outer protocol (group:5 = 5 folds by actor)")
    parser.add_argument("--max-seconds", type=float, default=8.0, help="clips are cut to this many seconds")
    parser.add_argument("--frame-pool", type=int, default=1, help="frames averaged into one (frame features)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per training run")
    parser.add_argument("--workers", type=int, default=2, help="feature-extraction processes")
    parser.add_argument("--throughput-files", type=int, default=100, help="clips timed in the throughput part")
    parser.add_argument("--throughput-workers", default="1,2", help="worker counts for the cold passes")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--dataset", default=DATASET,
                        help="reader name (default crema-d; audio-csv: --data-dir is a manifest path,label,speaker)")
    parser.add_argument("--tag", default="", help="a label for the clip set, part of the run folder and record")
    parser.add_argument("--actors", default="",
                        help="comma-separated CREMA-D actors: only their clips (an audio-csv manifest written under "
                             "--out; sets --dataset audio-csv and --tag actorsN)")
    parser.add_argument("--cache-dir", default=None,
                        help="feature cache of the accuracy runs (default $EMOTUNE_CACHE or ~/.cache/emotune)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "speech", help="run directories go here")
    parser.add_argument("--json-file", type=Path, default=ROOT / "bench" / "out" / "speech.json")
    parser.add_argument("--append", action="store_true", help="keep earlier records of --json-file")
    parser.add_argument("--json", action="store_true", help="print the JSON payload instead of the tables")
    parser.add_argument("--no-isolate", action="store_true", help="run in this process (peak memory is cumulative)")
    parser.add_argument("--legacy-speaker-refs", action="store_true",
                        help="also the old bench-side per-speaker eGeMAPS rows (speaker*: test actors normalised "
                             "together with training actors); runs now report +enrol rows themselves")
    part = parser.add_mutually_exclusive_group()
    part.add_argument("--throughput-only", action="store_true")
    part.add_argument("--accuracy-only", action="store_true")
    part.add_argument("--show", action="store_true", help="run nothing; print the tables of --json-file")
    args = parser.parse_args(argv)
    for name in ("trials", "epochs", "throughput_files"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    try:
        args.throughput_workers = [int(w) for w in args.throughput_workers.split(",") if w.strip()]
    except ValueError:
        parser.error(f"--throughput-workers must be comma-separated ints, got {args.throughput_workers!r}")

    if args.actors:
        args.data_dir = actor_manifest(args.data_dir, args.actors.split(","), args.out)
        args.dataset, args.tag = "audio-csv", args.tag or f"actors{len(args.actors.split(','))}"
    console = Console(width=None if sys.stdout.isatty() else 220)  # a log file gets the whole table
    err = Console(stderr=True, width=None if sys.stderr.isatty() else 220)
    if args.show:
        show(json.loads(args.json_file.read_text()), console)
        return 0
    command = " ".join([f"bench/{Path(sys.argv[0]).name}", *(argv if argv is not None else sys.argv[1:])])
    t0 = time.perf_counter()
    throughput = None if args.accuracy_only else run_throughput(args, parser, err)
    records = None if args.throughput_only else run_accuracy(args, parser, console, err)
    elapsed = time.perf_counter() - t0

    payload: dict[str, Any] = {"invocations": [], "throughput": [], "accuracy": []}
    if args.append and args.json_file.is_file():
        payload.update(json.loads(args.json_file.read_text()))
    payload["invocations"].append({
        "command": command, "elapsed_seconds": round(elapsed, 1),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    })
    if throughput is not None:
        done = {(r["features"], r["files"]) for r in throughput}
        kept = [r for r in payload["throughput"] if (r["features"], r["files"]) not in done]
        payload["throughput"] = kept + throughput
    if records is not None:
        new = {record_key(r) for r in records}
        payload["accuracy"] = [r for r in payload["accuracy"] if record_key(r) not in new] + records
    payload["machine"] = {"platform": platform.platform(), "python": platform.python_version(),
                          "cpu_count": os.cpu_count(), "note": "2 shared CPU cores; timings are orders of magnitude"}
    payload["versions"] = {d: _version(d) for d in ("emotune", "torch", "numpy", "scikit-learn", "librosa",
                                                   "opensmile", "ctranslate2")}
    payload["anchors"] = ANCHORS
    args.json_file.parent.mkdir(parents=True, exist_ok=True)
    args.json_file.write_text(json.dumps(payload, indent=1, default=str) + "\n")

    if args.json:
        print(json.dumps(payload, indent=1, default=str))
    else:
        if throughput is not None:
            console.print(throughput_table(throughput, f"feature extraction, {args.throughput_files} "
                                                       f"{_corpus_name(args.dataset)} clips"))
        if records is not None:
            title = (f"{_corpus_name(args.dataset)} ({args.limit or 'all'} clips), outer {args.outer_cv} by actor: "
                     f"UA / WA / macro-F1 mean ± std over folds")
            console.print(accuracy_table(records, title))
            for r in records:
                if "error" in r:
                    console.print(f"[red]failed[/] {r['features']}+{r['model']} {r['normalize']} {r['mode']}: "
                                  f"{r['error']}")
        console.print(f"done in {elapsed:.0f} s; wrote {args.json_file}")
    return 1 if records and any("error" in r for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
