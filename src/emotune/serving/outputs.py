"""Predictions written out: one row per input with its label and every class probability (CSV or JSON)."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Sequence

from emotune.exceptions import ConfigError

__all__ = ["prediction_rows", "write_predictions"]


def prediction_rows(items: Sequence[Any], predictions: Sequence[Any], labels: Sequence[str]) -> list[dict[str, Any]]:
    """Flat rows ``{"source", "input", "speaker", "label", "p_<class>"..., "error"}``, one per item."""
    rows = []
    for item, pred in zip(items, predictions):
        row: dict[str, Any] = {"source": item.source, "input": item.value, "speaker": item.speaker or "",
                               "label": pred.label or ""}
        for label in labels:
            row[f"p_{label}"] = "" if pred.proba is None else round(pred.proba[label], 6)
        row["error"] = pred.error or ""
        rows.append(row)
    return rows


def write_predictions(path: str | Path, rows: Sequence[dict[str, Any]]) -> Path:
    """Write ``rows`` to ``path`` as CSV (``.csv``) or a JSON list (``.json``), atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        buf = io.StringIO()
        if rows:
            writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        text = buf.getvalue()
    elif suffix == ".json":
        text = json.dumps(list(rows), indent=1, ensure_ascii=False) + "\n"
    else:
        raise ConfigError(f"--out must end in .csv or .json, got {path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
    os.replace(tmp, path)
    return path
