"""The files of a run directory, each written atomically (temp file, then rename).

A crash or a kill never leaves a half-written ``trials.csv`` or ``result.json``.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["atomic_write_text", "json_default", "write_trials_csv", "merge_fold_csvs", "public_result"]


def atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def write_trials_csv(path: Path, trials: list[Any], fixed: dict[str, Any] | None = None) -> None:
    """One row per trial: id, state, fitness, seconds, best epoch, params..., error (written atomically).

    ``fixed`` parameters override the sampled ones, so each row shows what was trained.
    """
    fixed = dict(fixed or {})
    names: list[str] = []
    for t in trials:
        names += [k for k in {**t.params, **fixed} if k not in names]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["trial", "state", "fitness", "seconds", "best_epoch"] + names + ["error"])
    for t in trials:
        writer.writerow(
            [t.id, t.state, "" if t.value is None else f"{t.value:.6f}",
             "" if t.duration is None else f"{t.duration:.2f}", t.user_attrs.get("best_epoch", "")]
            + [{**t.params, **fixed}.get(n, "") for n in names]
            + [t.error or ""]
        )
    atomic_write_text(path, buf.getvalue())


def merge_fold_csvs(out: Path, n_folds: int) -> None:
    """``out/trials.csv``: every fold's trials with a leading ``fold`` column."""
    rows, header = [], None
    for k in range(1, n_folds + 1):
        with (out / f"fold_{k}" / "trials.csv").open(newline="") as fh:
            reader = csv.reader(fh)
            head = next(reader)
            header = header or ["fold"] + head
            rows += [[str(k)] + r for r in reader]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    atomic_write_text(out / "trials.csv", buf.getvalue())


def public_result(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` without private keys (test probabilities kept in memory for pooling)."""
    def clean(obj):
        if isinstance(obj, dict):
            return {k: clean(v) for k, v in obj.items() if not k.startswith("_")}
        if isinstance(obj, list):
            return [clean(v) for v in obj]
        return obj

    return clean(result)
