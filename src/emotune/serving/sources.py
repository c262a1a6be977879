"""What ``emotune predict`` reads: texts, files, folders and CSV manifests, turned into a list of items.

An item is one input for the predictor: a text (text bundles) or an audio file
path (speech bundles), with an optional speaker and the place it came from.
Rules, for ``sources`` given on the command line:

* ``--text`` strings are texts;
* a ``.csv`` file is a manifest: a ``path`` column (files, relative to the
  manifest's folder) or a ``text`` column, optional ``speaker`` and ``id``;
* a folder: every file below it whose suffix suits the bundle (audio files for
  speech, images for faces, ``.txt`` files for text, each file one text), in sorted order;
* any other file: an audio file (speech), an image (faces), or a text file with
  one text per non-empty line (text).

A source that cannot be read becomes an item with an ``error`` (reported, not
fatal): a missing file, an unreadable manifest row.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

__all__ = ["Item", "AUDIO_SUFFIXES", "IMAGE_SUFFIXES", "collect_items"]

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff")
"""Suffixes (any case) of the audio files a folder contributes to a speech bundle."""

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
"""Suffixes (any case) of the images a folder contributes to a face bundle."""

_FILE_SUFFIXES = {"audio": AUDIO_SUFFIXES, "image": IMAGE_SUFFIXES, "text": (".txt",)}


@dataclass
class Item:
    """One input: ``value`` (a text, or a file path), where it came from, its speaker, or why it is unusable."""

    value: str
    source: str
    speaker: str | None = None
    error: str | None = None


def _manifest(path: Path, modality: str) -> list[Item]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
            header = rows[0].keys() if rows else []
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        return [Item(value=str(path), source=str(path), error=f"cannot read manifest: {exc}")]
    column = "text" if modality == "text" else "path"
    if rows and column not in header:
        return [Item(value=str(path), source=str(path),
                     error=f"manifest has no {column!r} column (columns: {sorted(header)}); "
                           f"a {modality} bundle needs {column!r}")]
    items = []
    for line, row in enumerate(rows, start=2):
        where = f"{path}:{line}"
        value = (row.get(column) or "") if modality == "text" else (row.get(column) or "").strip()
        speaker = (row.get("speaker") or "").strip() or None
        if not value.strip():
            items.append(Item(value=value, source=where, speaker=speaker, error=f"row {line}: field {column!r} is empty"))
            continue
        if modality != "text" and not Path(value).is_absolute():
            value = str(path.parent / value)
        items.append(Item(value=value, source=row.get("id") or where, speaker=speaker))
    return items


def _folder(path: Path, modality: str) -> list[Item]:
    suffixes = _FILE_SUFFIXES[modality]
    files = sorted(f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in suffixes
                   and not any(part.startswith(".") for part in f.relative_to(path).parts))
    if not files:
        return [Item(value=str(path), source=str(path), error=f"folder holds no {', '.join(suffixes)} files")]
    if modality != "text":
        return [Item(value=str(f), source=str(f)) for f in files]
    return [_text_file(f) for f in files]


def _text_file(path: Path) -> Item:
    try:
        return Item(value=path.read_text(encoding="utf-8").strip(), source=str(path))
    except (OSError, UnicodeDecodeError) as exc:
        return Item(value=str(path), source=str(path), error=f"cannot read text file: {exc}")


def _lines(path: Path) -> list[Item]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        return [Item(value=str(path), source=str(path), error=f"cannot read text file: {exc}")]
    return [Item(value=line, source=f"{path}:{i}") for i, line in enumerate(lines, start=1) if line.strip()]


def collect_items(sources: Sequence[str], texts: Sequence[str], modality: str) -> list[Item]:
    """Every input of a ``predict`` call, in the order given.

    Args:
        sources: paths (files, folders, ``.csv`` manifests).
        texts: strings given with ``--text`` (text bundles only).
        modality: ``"text"`` or ``"audio"``, what the bundle consumes.
    """
    items = [Item(value=t, source=f"--text {i + 1}") for i, t in enumerate(texts)]
    if texts and modality != "text":
        items = [Item(value=t, source=it.source, error=f"this bundle takes {modality} files, not texts")
                 for t, it in zip(texts, items)]
    for src in sources:
        path = Path(src)
        if path.is_dir():
            items += _folder(path, modality)
        elif path.suffix.lower() == ".csv" and path.is_file():
            items += _manifest(path, modality)
        elif modality != "text":
            items.append(Item(value=str(path), source=str(path),
                              error=None if path.is_file() else "no such file"))
        elif path.is_file():
            items += _lines(path)
        else:
            items.append(Item(value=str(path), source=str(path), error="no such file (give texts with --text)"))
    return items
