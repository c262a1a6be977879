"""``manifest``: a multimodal CSV, one row per sample, any subset of modalities per row.

Columns: ``id``, ``label`` and optionally ``speaker`` (the group splits keep
together), ``text``, ``audio``, ``video`` (a video file or a folder of frames),
``image``, ``face`` (a face-feature file: ``.npy`` with a ``(F,)`` vector or
``(T, F)`` frames, averaged; or an OpenFace CSV, averaged over tracked frames),
``mocap`` (motion-capture text files: one, or several streams of the same
dialogue separated by ``;`` such as ``rotated.txt;head.txt;hand.txt``,
concatenated on the feature axis; with ``start`` and ``end`` seconds of the
utterance in their own columns). Paths are relative to the CSV's folder (or
absolute). An empty cell means the sample lacks that modality.

:func:`check_manifest` lists every modality file that is named but missing or
unreadable (one :class:`~emotune.data.schema.BadRow` each, naming the line and
the column). The reader runs it: with ``on_bad_rows="error"`` one error lists
them all; with ``"skip"`` the sample keeps its other modalities (that modality
becomes missing) and the problems are in ``Dataset.skipped``. A row without a
usable modality, an id or a label is a bad row.

Samples: ``audio_path``, ``video_path``, ``text`` as given; ``extra``:
``image_path``, ``face`` (float32 ``(F,)`` or ``None``), ``face_file``,
``mocap_file`` (the stream paths joined by ``;``), ``mocap_files`` (list of paths),
``mocap_span`` (``(start, end)``).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from emotune.data.readers._base import READERS, BadRowLog, ReadOptions, require_path
from emotune.data.schema import BadRow, Dataset, Sample
from emotune.exceptions import DatasetError

__all__ = ["read_manifest", "check_manifest", "MODALITY_COLUMNS"]

MODALITY_COLUMNS = ("text", "audio", "video", "image", "face", "mocap")


def _face_vector(path: Path) -> np.ndarray:
    """A face-feature file as float32 ``(F,)``: ``.npy`` vector or frames (averaged), or an OpenFace CSV."""
    from emotune.data.readers.openface import clip_vector, read_openface_frames

    if path.suffix.lower() == ".npy":
        try:
            x = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DatasetError(f"cannot read: {exc}") from exc
        if x.ndim == 2 and len(x):
            x = x.mean(axis=0)
        if x.ndim != 1 or not np.isfinite(x).all():
            raise DatasetError(f"expected a finite (F,) vector or (T, F) frames, got shape {x.shape}")
        return x.astype(np.float32)
    v = clip_vector(read_openface_frames(path)[0])
    if v is None:
        raise DatasetError("OpenFace tracked no frame")
    return v


def _check_file(root: Path, column: str, value: str) -> tuple[Path | None, str | None]:
    path = Path(value)
    path = path if path.is_absolute() else root / path
    if column == "video":
        ok = path.is_file() or (path.is_dir() and any(path.iterdir()))
    else:
        ok = path.is_file()
    if not ok:
        return None, f"{column} file {str(path)!r} does not exist" + (" or is empty" if column == "video" else "")
    try:
        with open(path, "rb") if path.is_file() else open(next(p for p in sorted(path.iterdir()) if p.is_file()), "rb") as f:
            f.read(16)
    except (OSError, StopIteration) as exc:
        return None, f"{column} file {str(path)!r} cannot be read: {exc}"
    return path.absolute(), None


def check_manifest(path: str | Path) -> tuple[list[dict], list[BadRow]]:
    """Read the manifest at ``path`` and check every modality file it names.

    Returns:
        ``(rows, problems)``: per data row a dict ``{"line", "id", "label",
        "speaker", <column>: resolved path / text / None, "start", "end"}`` (a
        modality whose file is missing or unreadable is ``None``), and one
        :class:`BadRow` per problem (missing/unreadable file, bad face file,
        missing id/label, mocap without a valid span).
    """
    path = Path(path)
    root = path.parent
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = [h.strip() for h in (reader.fieldnames or [])]
            raw = list(reader)
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read the manifest: {exc}") from exc
    for needed in ("id", "label"):
        if needed not in header:
            raise DatasetError(f"{path}: the manifest needs an {needed!r} column (columns: {header})")
    if not any(c in header for c in MODALITY_COLUMNS):
        raise DatasetError(f"{path}: no modality column; expected some of {MODALITY_COLUMNS}")
    rows, problems = [], []
    for line, r in enumerate(raw, start=2):
        r = {(k or "").strip(): (v or "").strip() for k, v in r.items()}
        row: dict = {"line": line, "id": r.get("id", ""), "label": r.get("label", ""), "speaker": r.get("speaker", "")}
        for col in ("id", "label"):
            if not row[col]:
                problems.append(BadRow(str(path), line, col, f"empty {col}"))
        row["text"] = r.get("text") or None
        for col in ("audio", "video", "image", "face", "mocap"):
            row[col] = None
            if not r.get(col):
                continue
            if col == "mocap":  # several streams of one dialogue: "rotated.txt;head.txt;hand.txt"
                checked = [_check_file(root, col, part.strip()) for part in r[col].split(";") if part.strip()]
                for _, why in checked:
                    if why:
                        problems.append(BadRow(str(path), line, col, why))
                if checked and not any(why for _, why in checked):
                    row[col] = [p for p, _ in checked]
                continue
            resolved, why = _check_file(root, col, r[col])
            if why:
                problems.append(BadRow(str(path), line, col, why))
                continue
            row[col] = resolved
        row["face_vector"] = None
        if row["face"] is not None:
            try:
                row["face_vector"] = _face_vector(row["face"])
            except DatasetError as exc:
                problems.append(BadRow(str(path), line, "face", f"{row['face']}: {exc}"))
                row["face"] = None
        if row["mocap"] is not None:
            try:
                row["start"], row["end"] = float(r.get("start", "")), float(r.get("end", ""))
                if not row["end"] > row["start"]:
                    raise ValueError
            except ValueError:
                problems.append(BadRow(str(path), line, "start/end",
                                       "a mocap file needs numeric start < end seconds of the utterance"))
                row["mocap"] = None
        rows.append(row)
    return rows, problems


@READERS.register("manifest")
def read_manifest(path: Path | None, options: ReadOptions) -> Dataset:
    """Read a multimodal manifest CSV (see the module docstring)."""
    file = require_path(path, "manifest", "a CSV with id, label and modality columns")
    if file.is_dir():
        file = file / "manifest.csv"
        if not file.is_file():
            raise DatasetError(f"dataset 'manifest': no manifest.csv in {file.parent}")
    rows, problems = check_manifest(file)
    log = BadRowLog(options.on_bad_rows)
    for p in problems:
        log.add(p.file, p.line, p.field, p.reason)
    skipped = log.finish()  # raises under "error", listing every problem
    samples = []
    for r in rows:
        if not r["id"] or not r["label"]:
            continue
        if not any(r[c] is not None for c in ("text", "audio", "video", "image", "face", "mocap")):
            skipped.append(BadRow(str(file), r["line"], "(modalities)", "no usable modality"))
            continue
        samples.append(Sample(
            id=r["id"], label=r["label"], group=r["speaker"], text=r["text"],
            audio_path=None if r["audio"] is None else str(r["audio"]),
            video_path=None if r["video"] is None else str(r["video"]),
            extra={"image_path": None if r["image"] is None else str(r["image"]), "face": r["face_vector"],
                   "face_file": None if r["face"] is None else str(r["face"]),
                   "mocap_file": None if r["mocap"] is None else ";".join(str(p) for p in r["mocap"]),
                   "mocap_files": None if r["mocap"] is None else [str(p) for p in r["mocap"]],
                   "mocap_span": (r["start"], r["end"]) if r["mocap"] is not None else None},
        ))
    return Dataset(name="manifest", samples=samples, skipped=skipped, source=f"{file} ({len(rows)} rows)")
