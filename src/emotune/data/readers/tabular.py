"""Generic ``csv``, ``tsv`` and ``jsonl`` readers: one text, one label, optional group per row.

``data_dir`` is the file itself. Columns are named by ``text_col``, ``label_col``
and ``group_col``; every other column is kept in ``Sample.extra``. Sample ids are
``"<file name>:<line>"``. TSV files are read without quoting (a ``"`` is text).
Without ``encoding`` the file's encoding is detected (UTF-8, UTF-8 with a byte-order mark, else
Windows-1252/Latin-1; see :func:`~emotune.data.readers._io.detect_encoding`) and the guess is named in
``Dataset.source``. A text holding a NUL or another control character is a bad row.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Iterable, Mapping

from emotune.data.readers._base import READERS, BadRowLog, ReadOptions, require_path
from emotune.data.readers._io import detect_encoding, iter_jsonl, iter_table, read_bytes, text_problem
from emotune.data.schema import Dataset, Sample
from emotune.exceptions import DatasetError

__all__ = ["read_csv", "read_tsv", "read_jsonl", "record_to_sample", "check_columns"]



def resolve_encoding(path: Path, options: ReadOptions) -> tuple[str, str]:
    """The encoding to read ``path`` with, and how it was chosen, in words."""
    if options.encoding is not None:
        return options.encoding, options.encoding
    encoding, note = detect_encoding(read_bytes(path))
    return encoding, encoding if note is None else f"{encoding}: {note}"


def check_columns(path: Path, columns: Iterable[str], options: ReadOptions) -> None:
    """A :class:`DatasetError` naming the file, the missing column and the columns found."""
    found = list(columns)
    wanted = [("text_col", options.text_col), ("label_col", options.label_col)]
    if options.group_col is not None:
        wanted.append(("group_col", options.group_col))
    for arg, col in wanted:
        if col not in found:
            raise DatasetError(
                f"{path}: column {col!r} ({arg}) not found; columns found: {', '.join(map(repr, found)) or '(none)'}. "
                f"Pass {arg}=<name> to use another column."
            )


def _as_str(value: Any) -> str | None:
    """A cell as stripped text, or ``None`` when missing; numbers become strings."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (str, int, float)):
        return str(value).strip()
    return None


def record_to_sample(
    path: Path, line: int, record: Mapping[str, Any], options: ReadOptions, log: BadRowLog
) -> Sample | None:
    """Turn one table record into a :class:`Sample`, or log why it cannot be one."""
    raw_text = record.get(options.text_col)
    if raw_text is not None and not isinstance(raw_text, str):
        log.add(path, line, options.text_col, f"text must be a string, found {type(raw_text).__name__}")
        return None
    if raw_text is None or not raw_text.strip():
        log.add(path, line, options.text_col, "empty text" if raw_text is not None else "missing text")
        return None
    problem = text_problem(raw_text)
    if problem:
        log.add(path, line, options.text_col, problem)
        return None
    label = _as_str(record.get(options.label_col))
    if not label:
        log.add(path, line, options.label_col, "missing label")
        return None
    group = ""
    if options.group_col is not None:
        group = _as_str(record.get(options.group_col)) or ""
        if not group:
            log.add(path, line, options.group_col, "missing group")
            return None
    used = {options.text_col, options.label_col, options.group_col}
    extra = {k: v for k, v in record.items() if k not in used}
    return Sample(id=f"{path.name}:{line}", label=label, group=group, text=raw_text.strip(), extra=extra)


def _read_delimited(name: str, path: Path | None, options: ReadOptions, *, delimiter: str, quoting: int) -> Dataset:
    path = require_path(path, name, f"a .{name} file with a header row")
    if path.is_dir():
        raise DatasetError(f"dataset {name!r}: {path} is a folder; data_dir must be the .{name} file itself")
    encoding, how = resolve_encoding(path, options)
    log = BadRowLog(options.on_bad_rows)
    columns, records = iter_table(path, encoding, log, delimiter=delimiter, quoting=quoting)
    check_columns(path, columns, options)
    samples = [s for line, rec in records if (s := record_to_sample(path, line, rec, options, log)) is not None]
    return Dataset(name=name, samples=samples, skipped=log.finish(), source=f"{path} ({how})")


@READERS.register("csv")
def read_csv(path: Path | None, options: ReadOptions) -> Dataset:
    """A comma-separated file with a header row (RFC 4180 quoting)."""
    return _read_delimited("csv", path, options, delimiter=",", quoting=csv.QUOTE_MINIMAL)


@READERS.register("tsv")
def read_tsv(path: Path | None, options: ReadOptions) -> Dataset:
    """A tab-separated file with a header row, no quoting."""
    return _read_delimited("tsv", path, options, delimiter="\t", quoting=csv.QUOTE_NONE)


@READERS.register("jsonl")
def read_jsonl(path: Path | None, options: ReadOptions) -> Dataset:
    """One JSON object per line; the first object must have the named keys."""
    path = require_path(path, "jsonl", "a .jsonl file with one JSON object per line")
    if path.is_dir():
        raise DatasetError(f"dataset 'jsonl': {path} is a folder; data_dir must be the .jsonl file itself")
    encoding, how = resolve_encoding(path, options)
    log = BadRowLog(options.on_bad_rows)
    samples: list[Sample] = []
    checked = False
    for line, obj in iter_jsonl(path, encoding, log):
        if not checked:
            check_columns(path, obj.keys(), options)
            checked = True
        sample = record_to_sample(path, line, obj, options, log)
        if sample is not None:
            samples.append(sample)
    if not checked and not log.rows:
        raise DatasetError(f"{path} is empty: expected one JSON object per line")
    return Dataset(name="jsonl", samples=samples, skipped=log.finish(), source=f"{path} ({how})")
