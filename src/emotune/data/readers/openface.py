"""OpenFace 2 output as the face modality: per-frame CSVs and per-clip tables of Action Units.

OpenFace 2 (``FeatureExtraction``) writes one CSV per video, one row per frame,
with ``frame``, ``face_id``, ``timestamp``, ``confidence``, ``success``, gaze
(``gaze_0_x`` ... ``gaze_angle_y``), pose (``pose_Tx`` ... ``pose_Rz``), 2D/3D
landmarks (``x_0`` ... ``Z_67``), shape parameters (``p_scale`` ... ``p_33``)
and Action Units: 17 intensities ``AU01_r`` ... ``AU45_r`` (0-5) and 18
presences ``AU01_c`` ... ``AU45_c`` (0/1). Column names may carry a leading
blank (OpenFace writes ``", AU01_r"``); it is stripped.

* :func:`read_openface_frames`: one per-frame CSV -> float32 ``(T, F)`` of the
  chosen column groups over the frames OpenFace tracked (``success == 1`` when
  the column exists), and the column names. :func:`clip_vector` averages it.
* :func:`read_face_table`: one CSV with a clip key column (``clip_id``) and any
  numeric feature columns (one row per clip, or one per frame: rows with the
  same key are averaged) -> ``{clip id: float32 (F,)}``. Only feature columns
  of the chosen groups are kept, so extra columns (a frame index, a path, labels)
  are ignored.

Column groups (:data:`COLUMN_GROUPS`): ``au`` (``AU*_r`` then ``AU*_c``, the
file's order), ``pose`` (``pose_*``), ``gaze`` (``gaze_*``), ``landmarks``
(``x_*``, ``y_*``).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from emotune.exceptions import DatasetError

__all__ = ["COLUMN_GROUPS", "feature_columns", "read_openface_frames", "clip_vector", "read_face_table"]

COLUMN_GROUPS = {
    "au": re.compile(r"AU\d+_[rc]"),
    "pose": re.compile(r"pose_(T[xyz]|R[xyz])"),
    "gaze": re.compile(r"gaze_(\d_[xyz]|angle_[xy])"),
    "landmarks": re.compile(r"[xy]_\d+"),
}


def feature_columns(header: Sequence[str], groups: Sequence[str] = ("au",)) -> list[str]:
    """The columns of ``header`` in the chosen groups, intensities (``_r``) before presences (``_c``) for AUs."""
    unknown = [g for g in groups if g not in COLUMN_GROUPS]
    if unknown:
        raise DatasetError(f"OpenFace column groups must be among {sorted(COLUMN_GROUPS)}, got {unknown}")
    cols: list[str] = []
    for g in groups:
        found = [h for h in header if COLUMN_GROUPS[g].fullmatch(h)]
        if g == "au":
            found = [h for h in found if h.endswith("_r")] + [h for h in found if h.endswith("_c")]
        cols += found
    return cols


def _read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read the OpenFace CSV: {exc}") from exc
    if not rows:
        raise DatasetError(f"{path}: empty file; expected an OpenFace CSV with a header row")
    return [h.strip() for h in rows[0]], rows[1:]


def _tracked_rows(path: Path, header: list[str], rows: list[list[str]]):
    """Yield ``(line number, row)`` for each non-blank row; a row with the wrong field count is a
    :class:`DatasetError`, and rows whose ``success`` column (when present) is below 0.5 are left out."""
    ok_col = header.index("success") if "success" in header else None
    for line, row in enumerate(rows, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise DatasetError(f"{path}, line {line}: {len(row)} fields, the header has {len(header)}")
        if ok_col is not None and _float(path, line, "success", row[ok_col]) < 0.5:
            continue
        yield line, row


def _float(path: Path, line: int, column: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise DatasetError(f"{path}, line {line}, field {column!r}: {text!r} is not a number") from None
    if not np.isfinite(value):
        raise DatasetError(f"{path}, line {line}, field {column!r}: {text!r} is not finite")
    return value


def read_openface_frames(path: str | Path, groups: Sequence[str] = ("au",)) -> tuple[np.ndarray, list[str]]:
    """One OpenFace per-frame CSV: float32 ``(T, F)`` over the tracked frames, and the ``F`` column names.

    A frame with ``success`` 0 (OpenFace lost the face) is left out; a file with
    no tracked frame gives ``T = 0`` (the caller treats the face as missing).
    """
    path = Path(path)
    header, rows = _read_rows(path)
    cols = feature_columns(header, groups)
    if not cols:
        raise DatasetError(f"{path}: no OpenFace columns of groups {list(groups)} in the header {header[:8]}...")
    pos = [header.index(c) for c in cols]
    out = []
    for line, row in _tracked_rows(path, header, rows):
        out.append([_float(path, line, c, row[p]) for c, p in zip(cols, pos)])
    return np.asarray(out, np.float32).reshape(len(out), len(cols)), cols


def clip_vector(frames: np.ndarray) -> np.ndarray | None:
    """The mean over frames of float ``(T, F)`` OpenFace features: float32 ``(F,)``, or ``None`` when ``T = 0``."""
    frames = np.asarray(frames, np.float32)
    return None if len(frames) == 0 else frames.mean(axis=0)


def read_face_table(path: str | Path, *, key_col: str = "clip_id",
                    groups: Sequence[str] = ("au",)) -> tuple[dict[str, np.ndarray], list[str]]:
    """A per-clip (or per-frame) face feature table: ``{clip id: float32 (F,)}`` and the column names.

    Rows with the same ``key_col`` value are averaged (per-frame tables); rows
    with ``success`` 0 are left out when that column exists. Other columns are ignored.
    """
    path = Path(path)
    header, rows = _read_rows(path)
    if key_col not in header:
        raise DatasetError(f"{path}: no key column {key_col!r} (columns: {header[:10]}...)")
    cols = feature_columns(header, groups)
    if not cols:
        raise DatasetError(f"{path}: no face feature columns of groups {list(groups)} (columns: {header[:10]}...)")
    key_pos, pos = header.index(key_col), [header.index(c) for c in cols]
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    for line, row in _tracked_rows(path, header, rows):
        key = row[key_pos].strip()
        if not key:
            raise DatasetError(f"{path}, line {line}, field {key_col!r}: empty clip id")
        vec = np.array([_float(path, line, c, row[p]) for c, p in zip(cols, pos)], np.float64)
        sums[key] = sums.get(key, 0.0) + vec
        counts[key] = counts.get(key, 0) + 1
    return {k: (sums[k] / counts[k]).astype(np.float32) for k in sums}, cols
