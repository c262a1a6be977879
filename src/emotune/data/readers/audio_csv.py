"""``audio-csv``: a CSV manifest with one audio file, label and speaker per row.

``data_dir`` is the CSV file itself (header row, RFC 4180 quoting, UTF-8 unless
``encoding`` says otherwise)::

    path,label,speaker
    clips/s01_a.wav,angry,s01
    /data/other/b.flac,Happiness,s02

Columns:

* the audio path: the first of :data:`PATH_COLUMNS` (``path``, ``audio_path``,
  ``file``) the header has. Relative paths are relative to the CSV's folder; a
  row whose file does not exist is a bad row naming the CSV, the line and the
  missing file.
* the label: ``label_col`` (default ``label``), passed through
  :func:`~emotune.data.labels.normalize_emotion` (``Happiness`` -> ``"happy"``);
  the cell as written is kept in ``extra["original_label"]``.
* the speaker: ``group_col`` when given; otherwise a ``speaker`` column when the
  header has one (speaker-independent splits by default); otherwise no groups.
* the text: ``text_col`` (default ``text``) when the header has it; an empty cell
  gives ``None``.

Every other column is kept in ``Sample.extra``. Sample ids are ``"<file name>:<line>"``.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from emotune.data.labels import normalize_emotion
from emotune.data.readers._base import READERS, BadRowLog, ReadOptions, require_path
from emotune.data.readers._io import iter_table
from emotune.data.schema import Dataset, Sample
from emotune.exceptions import DatasetError

__all__ = ["read_audio_csv", "PATH_COLUMNS", "DEFAULT_SPEAKER_COLUMN"]

#: Names of the audio path column, in order of preference.
PATH_COLUMNS = ("path", "audio_path", "file")

#: The speaker column used when ``group_col`` is not given.
DEFAULT_SPEAKER_COLUMN = "speaker"

_DEFAULT_ENCODING = "utf-8"


def _choose_columns(file: Path, columns: list[str], options: ReadOptions) -> tuple[str, str | None, str | None]:
    """``(path column, group column or None, text column or None)``; a missing required column is an error."""
    listed = ", ".join(map(repr, columns)) or "(none)"
    path_col = next((c for c in PATH_COLUMNS if c in columns), None)
    if path_col is None:
        raise DatasetError(
            f"{file}: no audio path column; expected one of {', '.join(map(repr, PATH_COLUMNS))}, columns found: {listed}"
        )
    if options.label_col not in columns:
        raise DatasetError(
            f"{file}: column {options.label_col!r} (label_col) not found; columns found: {listed}. "
            "Pass label_col=<name> to use another column."
        )
    if options.group_col is not None and options.group_col not in columns:
        raise DatasetError(
            f"{file}: column {options.group_col!r} (group_col) not found; columns found: {listed}. "
            "Pass group_col=<name> to use another column."
        )
    group_col = options.group_col
    if group_col is None and DEFAULT_SPEAKER_COLUMN in columns:
        group_col = DEFAULT_SPEAKER_COLUMN
    text_col = options.text_col if options.text_col in columns else None
    return path_col, group_col, text_col


@READERS.register("audio-csv")
def read_audio_csv(path: Path | None, options: ReadOptions) -> Dataset:
    """Read the CSV manifest ``path`` (see the module docstring for its columns)."""
    file = require_path(path, "audio-csv", "a .csv manifest with columns path, label and (optionally) speaker")
    if file.is_dir():
        raise DatasetError(f"dataset 'audio-csv': {file} is a folder; data_dir must be the .csv manifest itself")
    file = file.absolute()
    encoding = options.encoding or _DEFAULT_ENCODING
    log = BadRowLog(options.on_bad_rows)
    columns, records = iter_table(file, encoding, log, delimiter=",", quoting=csv.QUOTE_MINIMAL)
    path_col, group_col, text_col = _choose_columns(file, columns, options)
    used = {path_col, options.label_col, group_col, text_col}
    samples: list[Sample] = []
    for line, record in records:
        raw_path = record[path_col].strip()
        if not raw_path:
            log.add(file, line, path_col, "missing audio path")
            continue
        audio = Path(raw_path).expanduser()
        if not audio.is_absolute():
            audio = file.parent / audio
        if not audio.is_file():
            log.add(file, line, path_col, f"audio file not found: {audio}")
            continue
        raw_label = record[options.label_col].strip()
        if not raw_label:
            log.add(file, line, options.label_col, "missing label")
            continue
        group = ""
        if group_col is not None:
            group = record[group_col].strip()
            if not group:
                log.add(file, line, group_col, "missing speaker")
                continue
        text = (record[text_col].strip() or None) if text_col is not None else None
        extra: dict[str, Any] = {k: v for k, v in record.items() if k not in used}
        extra["original_label"] = raw_label
        samples.append(
            Sample(
                id=f"{file.name}:{line}",
                label=normalize_emotion(raw_label),
                group=group,
                text=text,
                audio_path=str(audio),
                extra=extra,
            )
        )
    speakers = f"speakers from {group_col!r}" if group_col is not None else "no speakers"
    return Dataset(name="audio-csv", samples=samples, skipped=log.finish(), source=f"{file} ({encoding}; {speakers})")
