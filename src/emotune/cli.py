"""The ``emotune`` command line: a thin command table over the library.

Only this module prints errors and sets exit codes; the library raises.
Heavy imports happen inside each command so ``emotune --help`` is instant.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from emotune.exceptions import EmotuneError

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Emotion recognition tuned by metaheuristic search.")
features_app = typer.Typer(no_args_is_help=True, help="Extract features into the on-disk cache.")
cache_app = typer.Typer(no_args_is_help=True, help="Inspect or clear the on-disk feature cache.")
app.add_typer(features_app, name="features")
app.add_typer(cache_app, name="cache")

console = Console()
err_console = Console(stderr=True)


def _split_csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _fail(exc: Exception) -> None:
    err_console.print(f"[bold red]error:[/] {exc}")
    raise typer.Exit(code=2)


@app.command("optimizers")
def list_optimizers() -> None:
    """List the registered optimizers."""
    from emotune.search.optimizers import OPTIMIZERS

    for name in OPTIMIZERS.names():
        doc = (OPTIMIZERS.get(name).__doc__ or "").strip().splitlines()[0]
        console.print(f"[bold]{name:8s}[/] {doc}")


@app.command("bench-optimizers")
def bench_optimizers(
    functions: str = typer.Option("shifted_sphere,shifted_rastrigin,shifted_ackley", help="Comma-separated benchmark functions."),
    dims: str = typer.Option("10", help="Comma-separated dimensions."),
    budget: int = typer.Option(2000, min=1, help="Evaluations per run."),
    seeds: int = typer.Option(5, min=1, help="Seeds per (optimizer, function, dim)."),
    optimizers: str = typer.Option("random,ga,pso,ipso,aquila,aquila_unit,lwaro,cmaes,tpe", help="Comma-separated optimizers."),
    out: Optional[Path] = typer.Option(None, help="Folder for results.json and convergence PNGs."),
    as_json: bool = typer.Option(False, "--json", help="Print the JSON records to stdout instead of the table."),
) -> None:
    """Benchmark optimizers on shifted/rotated test functions at equal budgets."""
    from emotune.search import bench_runner

    try:
        records = bench_runner.run_benchmarks(
            _split_csv(functions),
            [int(d) for d in _split_csv(dims)],
            _split_csv(optimizers),
            budget,
            seeds,
            progress=not as_json,
        )
    except EmotuneError as exc:
        _fail(exc)
    public = [{k: v for k, v in r.items() if k != "curve"} for r in records]
    if out is not None:
        bench_runner.write_results(records, out)
        bench_runner.plot_convergence(records, out)
    if as_json:
        sys.stdout.write(json.dumps(public, indent=1) + "\n")
        return
    console.print(bench_runner.render_table(bench_runner.summarize(records)))
    if out is not None:
        console.print(f"wrote {out / 'results.json'} and convergence plots")


def _tune_overrides(**kwargs):
    return {k: v for k, v in kwargs.items() if v is not None}


def _text_config(config: Optional[Path], overrides: dict):
    """The run's config: YAML file and flags, and for a text or face task the benchmark-chosen defaults
    (:data:`emotune.experiments.text_defaults.TEXT_DEFAULTS`,
    :data:`emotune.experiments.face_defaults.FACE_DEFAULTS`) for every key neither of them sets."""
    import yaml

    from emotune.experiments.config import TuneConfig, load_config
    from emotune.experiments.face_defaults import with_face_defaults
    from emotune.experiments.text_defaults import with_text_defaults

    def with_task_defaults(data: dict) -> dict:
        return with_face_defaults(with_text_defaults(data))

    if config is None:
        return TuneConfig.from_dict(with_task_defaults(overrides))
    try:
        data = yaml.safe_load(config.read_text()) or {}
    except (OSError, yaml.YAMLError):
        data = {}  # load_config reports it
    data = data if isinstance(data, dict) else {}
    filled = with_task_defaults({**data, **overrides})
    return load_config(config, **{k: v for k, v in filled.items() if k not in data or k in overrides})


@app.command("tune")
def tune(
    config: Optional[Path] = typer.Option(None, "--config", help="YAML config; flags given too override it."),
    task: Optional[str] = typer.Option(None, help="text, speech, face or multimodal."),
    dataset: Optional[str] = typer.Option(None, help="Registered dataset/reader name (tweets, mr, sst2, csv, crema-d...)."),
    data_dir: Optional[str] = typer.Option(None, help="Folder or file of the dataset."),
    text_col: Optional[str] = typer.Option(None, help="Text column of a csv/tsv/jsonl file."),
    label_col: Optional[str] = typer.Option(None, help="Label column."),
    group_col: Optional[str] = typer.Option(None, help="Group column (speaker/author); splits never share a group."),
    on_bad_rows: Optional[str] = typer.Option(None, help="error (stop at the first bad row) or skip (skip and report)."),
    encoding: Optional[str] = typer.Option(None, help="Text files' encoding (default: detect UTF-8, UTF-8 BOM, else Windows-1252/Latin-1)."),
    keep_duplicates: bool = typer.Option(False, "--keep-duplicates", help="Text: keep exact duplicate texts (default: one copy per text, majority label, before the split)."),
    limit: Optional[int] = typer.Option(None, help="Use a stratified subset of this many samples."),
    features: Optional[str] = typer.Option(None, help="tokens, word2vec, minilm, minilm_pooled, mpnet, mpnet_pooled (text); mfcc, logmel, egemaps, whisper... (speech)."),
    model: Optional[str] = typer.Option(None, help="Registered model (sa_lstm, bilstm_tcsa, lstm_sa, cnn_bilstm, mlp)."),
    preset: Optional[str] = typer.Option(None, help="A named search space of the model (e.g. lstm_sa_ga21)."),
    optimizer: Optional[str] = typer.Option(None, help="random, ga, pso, ipso, aquila, lwaro or tpe."),
    trials: Optional[int] = typer.Option(None, help="Number of trials (the search budget)."),
    timeout: Optional[float] = typer.Option(None, help="Stop starting trials after this many seconds."),
    fitness: Optional[str] = typer.Option(None, help="accuracy, macro_f1, unweighted_accuracy or roc_auc."),
    cv: Optional[str] = typer.Option(None, help="holdout, K (stratified k-fold), group:K or logo, on train+validation."),
    outer_cv: Optional[str] = typer.Option(None, help="Outer test protocol: auto (text holdout, speech group:5), holdout, group:K, logo."),
    epochs: Optional[int] = typer.Option(None, help="Maximum epochs per training."),
    max_len: Optional[int] = typer.Option(None, help="Text: tokens (or word pieces) per text."),
    max_seconds: Optional[float] = typer.Option(None, help="Speech: cut every clip to this many seconds."),
    frame_pool: Optional[int] = typer.Option(None, help="Speech: average this many frames into one."),
    normalize: Optional[str] = typer.Option(None, help="Speech: feature normalisation, global, speaker or none."),
    workers: Optional[int] = typer.Option(None, help="Speech: feature-extraction processes."),
    modalities: Optional[str] = typer.Option(None, help="Multimodal: comma-separated modalities (audio, face, mocap, text)."),
    fusion: Optional[str] = typer.Option(
        None, help="Multimodal: the final system, late_aquila, late_equal, stacking, intermediate, early, or search "
                   "(the style chosen by one joint search with every modality's hyperparameters)."),
    early_frames: Optional[int] = typer.Option(
        None, "--early-frames", help="Multimodal early fusion: align every modality's frames to N steps and "
                                     "concatenate per step (for sa_lstm); 0 = clip vectors."),
    seed: Optional[int] = typer.Option(None, help="Seed of everything."),
    out: Optional[str] = typer.Option(None, help="Run directory."),
    no_progress: bool = typer.Option(False, "--no-progress", help="Hide progress bars."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue the stopped run in this folder with its saved config."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing run directory (default: refuse)."),
    force: bool = typer.Option(False, "--force", help="With --resume: accept a changed config (the difference is shown)."),
    executor: Optional[str] = typer.Option(None, help="Where trials run: serial (default), process or ray."),
    jobs: Optional[int] = typer.Option(None, help="Trials at once (process workers or Ray tasks); --workers is feature extraction."),
    trial_timeout: Optional[float] = typer.Option(None, "--trial-timeout", help="Fail a trial that runs longer than this many seconds."),
    trial_cpus: Optional[float] = typer.Option(None, "--trial-cpus", help="CPU threads per trial (a Ray resource request with --executor ray)."),
    trial_gpus: Optional[float] = typer.Option(None, "--trial-gpus", help="GPUs per trial (Ray resource request)."),
    address: Optional[str] = typer.Option(None, help="Ray cluster: auto or HOST:PORT (default: start a local Ray)."),
    device: Optional[str] = typer.Option(None, help="auto, cpu or cuda (auto: CUDA when torch sees it; one trial per GPU)."),
    pruner: Optional[str] = typer.Option(None, help="Stop hopeless trials early: none, median, halving or hyperband."),
) -> None:
    """Tune a recognizer: search on validation, retrain, score once on the held-out test split."""
    from emotune.experiments.config import TuneConfig, load_config
    from emotune.experiments.tune import run_tune

    overrides = _tune_overrides(
        task=task, dataset=dataset, data_dir=data_dir, text_col=text_col, label_col=label_col, group_col=group_col,
        on_bad_rows=on_bad_rows, limit=limit, features=features, model=model, preset=preset, optimizer=optimizer,
        trials=trials, timeout=timeout, fitness=fitness, cv=cv, epochs=epochs, max_len=max_len, seed=seed, out=out,
        max_seconds=max_seconds, frame_pool=frame_pool, normalize=normalize, workers=workers, outer_cv=outer_cv,
    )
    if modalities is not None:
        overrides["modalities"] = _split_csv(modalities)
    if fusion is not None:
        overrides["fusion"] = fusion
    if early_frames is not None:
        overrides["early_frames"] = early_frames
    if no_progress:
        overrides["progress"] = False
    if encoding is not None:
        overrides["encoding"] = encoding
    if keep_duplicates:
        overrides["keep_duplicates"] = True
    overrides.update(_tune_overrides(executor=executor, jobs=jobs, trial_timeout=trial_timeout, trial_cpus=trial_cpus,
                                     trial_gpus=trial_gpus, address=address, device=device, pruner=pruner))
    from emotune.exceptions import StudyInterrupted

    try:
        if resume is not None:
            if overwrite:
                raise EmotuneError("--resume and --overwrite exclude each other")
            cfg, if_exists = _resume_config(resume, config, overrides, force), "resume"
        else:
            cfg = _text_config(config, overrides)
            if_exists = "overwrite" if overwrite else "refuse"
        result = run_tune(cfg, console=console, if_exists=if_exists)
    except StudyInterrupted as exc:
        console.print(f"[yellow]{exc}[/]")
        raise typer.Exit(code=130)
    except EmotuneError as exc:
        _fail(exc)
    _print_result(result, Path(cfg.out))


def _resume_config(run_dir: Path, config: Optional[Path], overrides: dict, force: bool):
    """The saved config of ``run_dir`` with the flags given; a changed search is refused unless ``force``."""
    from emotune.experiments.config import load_config
    from emotune.experiments.study_setup import resume_diff

    saved_path = run_dir / "config.yaml"
    if not saved_path.exists():
        raise EmotuneError(f"nothing to resume: {saved_path} does not exist")
    if config is not None:
        raise EmotuneError("--resume uses the run's saved config; do not pass --config as well")
    if "out" in overrides and Path(overrides["out"]) != run_dir:
        raise EmotuneError(f"--resume {run_dir} continues in that folder; --out {overrides['out']} differs")
    saved = load_config(saved_path)
    new = load_config(saved_path, **{**overrides, "out": str(run_dir)})
    diff = resume_diff(saved.to_dict(), new.to_dict())
    if diff:
        shown = "\n".join(f"  {k}: saved {a!r} -> now {b!r}" for k, (a, b) in diff.items())
        if not force:
            raise EmotuneError(f"the config differs from the run's saved config:\n{shown}\nresume with the saved "
                               f"settings (drop those flags), or pass --force to continue anyway")
        console.print(f"[yellow]--force: resuming with a changed config:[/]\n{shown}")
    return new


def _print_multimodal(result: dict, out: Path) -> None:
    from rich.table import Table

    from emotune.evaluation.report import metrics_table_rows

    cfg = result["config"]
    table = Table(title=f"{cfg['dataset']}: {', '.join(cfg['modalities'])}, pooled over outer folds "
                        f"({result['data']['n_test']} samples)")
    for col in ("system", "accuracy", "macro-F1", "UA", "ROC-AUC"):
        table.add_column(col, justify="right" if col != "system" else "left")
    rows = [(f"{k} alone", m) for k, m in result["modality_metrics"].items()]
    rows += [(f"fusion {k}" + (" (final)" if k == result["fusion"] else ""), m)
             for k, m in result["fusion_metrics"].items()]
    for row in metrics_table_rows(rows):
        table.add_row(*row)
    console.print(table)
    g = result["gain"]
    console.print(f"best fusion {g['best_fusion']} - best single modality {g['best_single_modality']}: "
                  f"{g['points']:+.2f} points of UA; total {result['timings']['total_seconds']:.0f} s")
    if result["protocol"].get("warning"):
        console.print(f"[yellow]warning[/] {result['protocol']['warning']}")
    if result.get("without_text"):
        wt = result["without_text"]
        console.print(f"without text: best {wt['best_system']} {wt['best_metrics']['unweighted_accuracy']:.4f} UA "
                      f"({wt['final_system']} with text: {wt['text_points']:+.2f} points)")
    console.print(f"report: {out / 'report.md'}")


def _print_result(result: dict, out: Path) -> None:
    from rich.table import Table

    from emotune.evaluation.report import metrics_table_rows

    if "modality_metrics" in result:
        _print_multimodal(result, out)
        return
    cfg = result["config"]
    table = Table(title=f"{cfg['dataset']}: test split ({result['data']['n_test']} samples, never seen by the search)")
    for col in ("model", "accuracy", "macro-F1", "UA", "ROC-AUC"):
        table.add_column(col, justify="right" if col != "model" else "left")
    rows = [(f"tuned {cfg['model']} ({cfg['optimizer']})", result["test_metrics"])]
    if result.get("baseline_metrics"):
        rows.append((f"reference {result['baseline_metrics'].get('name')}", result["baseline_metrics"]))
    rows += [(f"reference {r.get('name')}", r) for r in result.get("reference_metrics", [])]
    for row in metrics_table_rows(rows):
        table.add_row(*row)
    console.print(table)
    for c in result.get("comparison") or []:
        console.print(
            f"{c['metric']}: tuned {c['verdict']} best reference {c['reference']}: {c['difference'] * 100:+.2f} points, "
            f"95% interval [{c['low'] * 100:+.2f}, {c['high'] * 100:+.2f}] (bootstrap over {c['unit']})"
        )
    t = result["timings"]
    console.print(
        f"best validation {cfg['fitness']} {result['best_fitness']:.4f}; search {t['search_seconds']:.0f} s "
        f"({t['seconds_per_trial']:.1f} s/trial), total {t['total_seconds']:.0f} s"
    )
    console.print(f"report: {out / 'report.md'}   model: {out / 'model'}")


@app.command("demo")
def demo(
    out: str = typer.Option("runs/demo", help="Run directory."),
    trials: Optional[int] = typer.Option(None, help="Override the demo's number of trials."),
) -> None:
    """Tune a sentiment model on the embedded tweets corpus (minutes on two cores: MPNet encodes 3,000 tweets once)."""
    from importlib import resources

    from emotune.experiments.config import load_config
    from emotune.experiments.text_defaults import default_features
    from emotune.experiments.tune import run_tune

    path = resources.files("emotune.experiments").joinpath("demo.yaml")
    try:  # demo.yaml names the default features; MiniLM (with a warning) when MPNet is not installed
        cfg = load_config(Path(str(path)), out=out, trials=trials, features=default_features())
        console.print(f"[bold]emotune demo[/]: {cfg.model} on {cfg.features} features of {cfg.limit} tweets, "
                      f"{cfg.trials} trials of {cfg.optimizer}")
        result = run_tune(cfg, console=console, if_exists="overwrite")  # the demo folder is the demo's own
    except EmotuneError as exc:
        _fail(exc)
    _print_result(result, Path(out))


@app.command("predict")
def predict(
    bundle: Path = typer.Argument(..., help="A model bundle: RUN/model, or a .emotune file."),
    inputs: Optional[list[str]] = typer.Argument(None, help="Files, folders or CSV manifests (path/text, optional speaker)."),
    text: Optional[list[str]] = typer.Option(None, "--text", help="A text to classify (repeat for more)."),
    speaker: Optional[str] = typer.Option(None, "--speaker", help="Speech: the speaker of every input without one "
                                          "(a folder of one person's clips), for speaker enrolment."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write every prediction to this .csv or .json file."),
    batch_size: int = typer.Option(64, min=1, help="Inputs per forward pass."),
    strict: bool = typer.Option(False, "--strict", help="Exit non-zero when any input fails (default: only when all do)."),
    jsonl: bool = typer.Option(False, "--jsonl", help="Print JSON lines instead of the table."),
    no_progress: bool = typer.Option(False, "--no-progress", help="Hide the progress bar."),
) -> None:
    """Predict labels and class probabilities with a model bundle; unreadable inputs are reported, not fatal."""
    from emotune.serving.outputs import prediction_rows, write_predictions
    from emotune.serving.predictor import Prediction, Predictor
    from emotune.serving.sources import collect_items

    try:
        predictor = Predictor.load(bundle)
        for warning in predictor.bundle.warnings:
            err_console.print(f"[yellow]warning:[/] {warning}")
        items = collect_items(list(inputs or []), list(text or []), predictor.modality)
        for it in items if speaker else []:
            it.speaker = it.speaker or speaker
        if not items:
            raise EmotuneError("give inputs: texts with --text, or files, folders or a CSV manifest")
        usable = [i for i, it in enumerate(items) if it.error is None]
        preds = [Prediction(input=it.value, error=it.error) for it in items]
        with _progress(not no_progress and len(usable) > batch_size, len(usable)) as advance:
            done = predictor.predict_many([items[i].value for i in usable], speakers=[items[i].speaker for i in usable],
                                          batch_size=batch_size, on_batch=advance)
        for i, pred in zip(usable, done):
            preds[i] = pred
        rows = prediction_rows(items, preds, predictor.labels)
        if out is not None:
            write_predictions(out, rows)
    except EmotuneError as exc:
        _fail(exc)
    _show_predictions(rows, predictor.labels, jsonl)
    failed = sum(1 for p in preds if p.error is not None)
    if out is not None:
        console.print(f"wrote {len(rows)} predictions to {out}")
    if failed:
        err_console.print(f"[yellow]{failed} of {len(preds)} inputs failed[/] (see the error column)")
    if failed == len(preds) or (strict and failed):
        raise typer.Exit(code=1)


class _progress:
    """A Rich progress bar as a context manager yielding ``advance(n)`` (a no-op when hidden)."""

    def __init__(self, show: bool, total: int) -> None:
        self.show, self.total, self.bar = show, total, None

    def __enter__(self):
        if not self.show:
            return lambda n: None
        from rich.progress import Progress

        self.bar = Progress(console=err_console, transient=True)
        self.bar.start()
        task = self.bar.add_task("predict", total=self.total)
        return lambda n: self.bar.advance(task, n)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()


def _show_predictions(rows: list[dict], labels: list[str], jsonl: bool) -> None:
    if jsonl:
        for row in rows:
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
        return
    from rich.table import Table

    table = Table()
    for col in ("source", "input", "label", *labels, "error"):
        table.add_column(col, overflow="fold")
    for row in rows[:200]:
        short = row["input"] if len(row["input"]) <= 60 else row["input"][:57] + "..."
        table.add_row(row["source"], short, row["label"],
                      *[("" if row[f"p_{l}"] == "" else f"{row[f'p_{l}']:.3f}") for l in labels], row["error"])
    console.print(table)
    if len(rows) > 200:
        console.print(f"... {len(rows) - 200} more rows (use --out to write them all)")


@app.command("export")
def export(
    run_dir: Path = typer.Argument(..., help="A run directory of `emotune tune` (holds model/, config.yaml, split.json)."),
    format: str = typer.Option("onnx", "--format", help="onnx (graph + preprocessing.json, checked) or emotune (one zip of the bundle)."),
    quantize: Optional[str] = typer.Option(None, "--quantize", help="dynamic: also write an int8 model and its accuracy cost."),
    out: Optional[Path] = typer.Option(None, "--out", help="Export folder (onnx, default RUN/export) or .emotune file (default RUN/model.emotune)."),
    samples: int = typer.Option(256, min=1, help="Test-split inputs for the parity check and the quantization cost."),
) -> None:
    """Export a run's model for other runtimes; ONNX is verified against PyTorch on the run's test inputs."""
    try:
        if format == "emotune":
            from emotune.serving.bundle import pack_bundle

            target = pack_bundle(run_dir / "model", out if out is not None else run_dir / "model.emotune")
            console.print(f"wrote {target}")
            return
        if format != "onnx":
            raise EmotuneError(f"--format must be onnx or emotune, got {format!r}")
        from emotune.serving.export import export_onnx

        report = export_onnx(run_dir, out, quantize=quantize, samples=samples)
    except EmotuneError as exc:
        _fail(exc)
    folder = out if out is not None else run_dir / "export"
    for name, size in report["files"].items():
        console.print(f"{folder / name}: {_human_bytes(size)}")
    q = report.get("quantization")
    if q:
        console.print(f"int8 dynamic: accuracy {q['int8']['accuracy']:.4f} vs fp32 {q['fp32']['accuracy']:.4f} "
                      f"(cost {q['accuracy_cost'] * 100:+.2f} points) on {q['n_inputs']} test inputs, "
                      f"agreement {q['agreement']:.4f}")
    verdict = "ok" if report["passed"] else "FAILED"
    sys.stdout.write(f"max_abs_diff {report['max_abs_diff']:.3e} over {report['n_inputs']} test inputs "
                     f"(tolerance {report['tolerance']:.0e}): {verdict}\n")
    if not report["passed"]:
        raise typer.Exit(code=1)


@app.command("serve")
def serve(
    bundle: Path = typer.Argument(..., help="A model bundle: RUN/model, or a .emotune file."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind; anything but loopback needs --api-key-file."),
    port: int = typer.Option(8000, min=1, max=65535, help="TCP port."),
    api_key_file: Optional[Path] = typer.Option(None, "--api-key-file", help="File whose first line is the API key clients must send (X-API-Key)."),
    workers: int = typer.Option(2, min=1, help="Inference threads."),
    queue: int = typer.Option(16, min=0, help="Requests that may wait for a thread; more are answered 503."),
    timeout: float = typer.Option(30.0, min=0.1, help="Seconds a request may wait and run (then 503)."),
    max_body_mb: float = typer.Option(10.0, min=0.001, help="Largest request body, MiB."),
    max_texts: int = typer.Option(64, min=1, help="Texts per request."),
    max_clip_seconds: float = typer.Option(30.0, min=0.1, help="Longest audio upload, seconds."),
    threads: Optional[int] = typer.Option(None, min=1, help="PyTorch intra-op threads (default: PyTorch's)."),
) -> None:
    """Serve a bundle over HTTP (FastAPI + uvicorn; needs `pip install emotune[serve]`)."""
    try:
        from emotune.serving.service import Limits, read_api_key, serve as run_server

        limits = Limits(max_body_bytes=int(max_body_mb * 1024 * 1024), max_texts=max_texts, workers=workers,
                        queue_size=queue, timeout_s=timeout, max_clip_seconds=max_clip_seconds)
        key = read_api_key(str(api_key_file)) if api_key_file is not None else None
        run_server(str(bundle), host=host, port=port, limits=limits, api_key=key, threads=threads)
    except ImportError as exc:
        _fail(EmotuneError(f"`emotune serve` needs the serve extra: pip install 'emotune[serve]' ({exc})"))
    except EmotuneError as exc:
        _fail(exc)


def _cache(cache_dir: Optional[Path]):
    from emotune.features.cache import FeatureCache, default_cache_root

    return FeatureCache(cache_dir if cache_dir is not None else default_cache_root())


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


@features_app.command("extract")
def features_extract(
    dataset: str = typer.Option(..., help="Registered speech corpus (crema-d, ravdess, tess, ...)."),
    data_dir: Optional[str] = typer.Option(None, help="Folder of the corpus."),
    features: str = typer.Option("mfcc", help="Audio features: mfcc, logmel, egemaps, egemaps_lld, whisper, whisper_pooled, "
                                 "whisper_base, whisper_base_pooled (padded 30-s windows), whisper_base_fast, "
                                 "whisper_base_pooled_fast (each clip's own length: ~11x faster, ~3 UA points less)."),
    workers: int = typer.Option(2, min=1, help="Worker processes for files not in the cache."),
    max_seconds: float = typer.Option(8.0, min=0.01, help="Cut every clip to this many seconds (as `tune` does)."),
    limit: Optional[int] = typer.Option(None, help="Only a stratified subset of this many clips."),
    seed: int = typer.Option(0, help="Seed of that subset."),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Cache folder (default $EMOTUNE_CACHE or ~/.cache/emotune)."),
    no_progress: bool = typer.Option(False, "--no-progress", help="Hide the progress bar."),
) -> None:
    """Extract audio features of every clip of a corpus into the cache; prints counts."""
    from emotune.data import load_dataset
    from emotune.experiments.speech_inputs import fill_cache

    cache = _cache(cache_dir)
    try:
        ds = load_dataset(dataset, data_dir, on_bad_rows="skip", limit=limit, seed=seed)
        stats = fill_cache(ds, features, cache=cache, workers=workers, max_seconds=max_seconds,
                           progress=not no_progress)
    except EmotuneError as exc:
        _fail(exc)
    console.print(
        f"[bold]{features}[/] of {stats['files']} clips ({dataset}): extracted {stats['extracted']}, "
        f"cached {stats['cached']}, failed {stats['failed']}, {stats['seconds']:.1f} s"
    )
    console.print(f"cache: {cache.root}", soft_wrap=True)
    for path, reason in stats["errors"][:10]:
        err_console.print(f"[yellow]failed:[/] {path}: {reason}")
    if len(stats["errors"]) > 10:
        err_console.print(f"... and {len(stats['errors']) - 10} more")
    if ds.skipped:
        err_console.print(f"[yellow]{len(ds.skipped)} files skipped while reading the corpus[/] (first: {ds.skipped[0]})")


@cache_app.command("info")
def cache_info(
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Cache folder (default $EMOTUNE_CACHE or ~/.cache/emotune)."),
) -> None:
    """Print the number of entries, their size and the cache folder."""
    info = _cache(cache_dir).info()
    console.print(f"entries {info['entries']}, {_human_bytes(info['bytes'])} ({info['bytes']} bytes), path {info['path']}")


@cache_app.command("clear")
def cache_clear(
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Cache folder (default $EMOTUNE_CACHE or ~/.cache/emotune)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete every cached feature array (only the cache's own files)."""
    cache = _cache(cache_dir)
    info = cache.info()
    if info["entries"] == 0:
        console.print(f"cache {info['path']} is already empty")
        return
    if not yes and not typer.confirm(f"delete {info['entries']} entries ({_human_bytes(info['bytes'])}) in {info['path']}?"):
        raise typer.Exit(code=1)
    removed = cache.clear()
    console.print(f"removed {removed} entries from {info['path']}")


@app.command("compare")
def compare(
    config: Optional[Path] = typer.Option(None, "--config", help="Base YAML config of the tune task (every arm shares it)."),
    vary: list[str] = typer.Option(..., "--vary", help="KEY=V1,V2,... (repeat for a grid); tuned=false,true is the ablation."),
    seeds: str = typer.Option("5", help="A count (seeds 0..N-1) or a comma-separated list of seeds."),
    out: Path = typer.Option(..., "--out", help="Comparison folder (rerun the same command to resume)."),
    task: str = typer.Option("tune", help="tune (text/speech config) or function:NAME (a benchmark function)."),
    dims: int = typer.Option(10, help="function tasks: dimension."),
    trials: Optional[int] = typer.Option(None, help="Trials per run (for function tasks: the evaluation budget)."),
    reference: Optional[str] = typer.Option(None, help="Reference arm of the paired tests: VALUE or KEY=VALUE."),
    metric: Optional[str] = typer.Option(None, help="Test metric compared (tune; default the config's fitness)."),
    budget_by: str = typer.Option("trials", help="trials (equal trials) or time (equal wall clock, --time-budget)."),
    time_budget: Optional[float] = typer.Option(None, help="Seconds per run with --budget-by time."),
    plan_only: bool = typer.Option(False, "--plan-only", help="Print and save the plan, run nothing."),
) -> None:
    """Run the same task once per arm and seed, fairly; then per-arm statistics, paired tests and a report."""
    import yaml

    from emotune.experiments.compare import finish_comparison, make_plan, parse_vary, run_comparison

    try:
        if task.startswith("function:"):
            base = {"dim": dims, "trials": trials or 1000}
        else:
            base = yaml.safe_load(config.read_text()) if config is not None else {}
            if not isinstance(base, dict):
                raise EmotuneError(f"config {config} must be a mapping of keys to values")
            if trials is not None:
                base["trials"] = trials
        seed_list = int(seeds) if seeds.strip().isdigit() else [int(s) for s in _split_csv(seeds)]
        plan = make_plan(task, base, parse_vary(vary), seed_list, reference=reference, metric=metric,
                         budget_by=budget_by, time_budget=time_budget)
        _print_plan(plan)
        if plan_only:
            from emotune.experiments.compare import _save_or_check_plan

            _save_or_check_plan(plan, out)
            console.print(f"plan saved to {out / 'plan.json'}")
            return
        run_comparison(plan, out, say=console.print)
        analysis = finish_comparison(out)
    except (EmotuneError, OSError) as exc:
        _fail(exc)
    _print_comparison(analysis)
    console.print(f"report: {out / 'report.html'} (and report.md, comparison.json)")


def _print_plan(plan) -> None:
    from rich.table import Table

    table = Table(title=f"plan: {plan.task}, seeds {plan.seeds}, reference {plan.reference}, budget by {plan.budget_by}")
    table.add_column("arm")
    for key in plan.vary:
        table.add_column(key)
    for row in plan.table_rows():
        table.add_row(*row)
    console.print(table)


def _print_comparison(analysis: dict) -> None:
    from rich.table import Table

    table = Table(title=f"{analysis['metric']} over seeds ({analysis['runs_done']}/{analysis['runs_planned']} runs)")
    for col in ("arm", "n", "mean", "std", "median", "p vs ref (Holm)", "effect"):
        table.add_column(col, justify="left" if col == "arm" else "right")
    tests = {r["arm"]: r for g in analysis["groups"] if g["paired"] for r in g["paired"]["rows"]}
    for label, a in analysis["arms"].items():
        t = tests.get(label)
        table.add_row(label, str(a["n"]), f"{a['mean']:.4g}", f"{a['std']:.3g}", f"{a['median']:.4g}",
                      "ref" if t is None else f"{t['p_holm']:.3g}", "" if t is None else f"{t['effect_size']:+.2f}")
    console.print(table)
    for g in analysis["groups"]:
        if g["paired"] and g["paired"]["note"]:
            console.print(f"[yellow]{g['paired']['note']}[/]")


@app.command("report")
def report(run_dir: Path = typer.Argument(..., help="A tune run folder or a comparison folder.")) -> None:
    """Write the self-contained report.html (and its markdown twin) of a tune run or a comparison."""
    try:
        if (run_dir / "plan.json").exists():
            from emotune.experiments.compare import finish_comparison

            finish_comparison(run_dir)
            path = run_dir / "report.html"
        elif (run_dir / "result.json").exists():
            from emotune.evaluation.html_report import write_run_report

            path = write_run_report(run_dir)
        else:
            raise EmotuneError(f"{run_dir} is neither a tune run (no result.json) nor a comparison (no plan.json)")
    except (EmotuneError, OSError, ValueError) as exc:
        _fail(exc)
    console.print(f"wrote {path}")


@app.command("export-optuna")
def export_optuna_cmd(
    run_dir: Path = typer.Argument(..., help="A tune run folder (its study.db, or fold_K/study.db for outer folds)."),
    out: Path = typer.Argument(..., help="The Optuna journal file to write (must not exist)."),
) -> None:
    """Write the run's studies as an Optuna journal file: `optuna-dashboard OUT` shows them."""
    from emotune.search.storage import export_run_to_optuna

    try:
        names = export_run_to_optuna(run_dir, out)
    except EmotuneError as exc:
        _fail(exc)
    console.print(f"wrote {out} with studies {', '.join(names)}; view it with `optuna-dashboard {out}`")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except EmotuneError as exc:  # a library error that escaped a command
        err_console.print(f"[bold red]error:[/] {exc}")
        sys.exit(2)


if __name__ == "__main__":
    main()
