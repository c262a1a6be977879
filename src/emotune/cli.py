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
    optimizers: str = typer.Option("random,ga,pso,ipso,aquila,lwaro,tpe", help="Comma-separated optimizers."),
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


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except EmotuneError as exc:  # a library error that escaped a command
        err_console.print(f"[bold red]error:[/] {exc}")
        sys.exit(2)


if __name__ == "__main__":
    main()
