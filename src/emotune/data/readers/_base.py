"""The reader registry, the options every reader takes, and the bad-row policy.

A reader is a function ``read(path, options) -> Dataset`` registered by name in
:data:`READERS`; ``path`` is ``None`` when the user gave no ``data_dir``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

from emotune._registry import Registry
from emotune.data.schema import BadRow, Dataset
from emotune.exceptions import ConfigError, DatasetError

__all__ = ["READERS", "Reader", "ReadOptions", "BadRowLog", "require_path", "find_files", "IGNORED_DIRS"]

#: Folder names never searched (besides hidden ones): macOS archive debris.
IGNORED_DIRS = ("__MACOSX",)

Reader = Callable[[Path | None, "ReadOptions"], Dataset]

READERS: Registry[Reader] = Registry("dataset reader")

BAD_ROW_MODES = ("error", "skip")

#: How many bad rows an error message lists before summarising the rest.
_MAX_LISTED = 5


@dataclass(frozen=True)
class ReadOptions:
    """What a reader needs besides the path.

    Attributes:
        text_col, label_col, group_col: column names in tabular files (``group_col``
            ``None`` means no groups). Corpus readers with a fixed format ignore them.
        on_bad_rows: ``"error"`` raises on the first file with bad rows; ``"skip"``
            skips them and records them in ``Dataset.skipped``.
        encoding: the file encoding, or ``None`` for the reader's default.
    """

    text_col: str = "text"
    label_col: str = "label"
    group_col: str | None = None
    on_bad_rows: Literal["error", "skip"] = "error"
    encoding: str | None = None

    def __post_init__(self) -> None:
        if self.on_bad_rows not in BAD_ROW_MODES:
            raise ConfigError(f"on_bad_rows must be one of {BAD_ROW_MODES}, got {self.on_bad_rows!r}")
        for arg in ("text_col", "label_col"):
            value = getattr(self, arg)
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{arg} must be a non-empty column name, got {value!r}")
        if self.group_col is not None and (not isinstance(self.group_col, str) or not self.group_col):
            raise ConfigError(f"group_col must be a non-empty column name or None, got {self.group_col!r}")
        if self.encoding is not None:
            import codecs

            try:
                codecs.lookup(self.encoding)
            except LookupError:
                raise ConfigError(f"encoding must be a codec Python knows, got {self.encoding!r}") from None


class BadRowLog:
    """Collects bad rows while a file is read, then applies the policy.

    Under ``"error"`` :meth:`finish` raises one :class:`DatasetError` listing the bad
    rows; under ``"skip"`` it returns them for ``Dataset.skipped``.
    """

    def __init__(self, on_bad_rows: str) -> None:
        self.on_bad_rows = on_bad_rows
        self.rows: list[BadRow] = []

    def add(self, file: str | Path, line: int, field: str, reason: str) -> None:
        """Record one bad row."""
        self.rows.append(BadRow(file=str(file), line=line, field=field, reason=reason))

    def finish(self) -> list[BadRow]:
        """The bad rows (``"skip"``), or a :class:`DatasetError` naming them (``"error"``)."""
        if self.rows and self.on_bad_rows == "error":
            raise DatasetError(describe_bad_rows(self.rows))
        return list(self.rows)


def describe_bad_rows(rows: list[BadRow]) -> str:
    """An error message naming file, line and field of each bad row and what to do."""
    if len(rows) == 1:
        head = f"bad row in {rows[0]}. "
        fix = "Fix the row"
    else:
        listed = "\n".join(f"  {r}" for r in rows[:_MAX_LISTED])
        more = f"\n  ... and {len(rows) - _MAX_LISTED} more" if len(rows) > _MAX_LISTED else ""
        head = f"{len(rows)} bad rows:\n{listed}{more}\n"
        fix = "Fix the rows"
    return (
        f"{head}{fix} or pass on_bad_rows='skip' (CLI: --on-bad-rows skip) to skip bad rows; "
        "skipped rows are listed in Dataset.skipped."
    )


def require_path(path: Path | None, reader: str, what: str) -> Path:
    """``path`` if it exists; otherwise a :class:`DatasetError` saying what the reader expects."""
    if path is None:
        raise DatasetError(f"dataset {reader!r} needs data_dir: {what}")
    if not path.exists():
        raise DatasetError(f"dataset {reader!r}: {path} does not exist (expected {what})")
    return path


def find_files(root: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """Every file below ``root`` (recursively) whose lower-case suffix is in ``suffixes``, sorted by path;
    hidden files and folders and :data:`IGNORED_DIRS` are skipped."""
    found = []
    for file in root.rglob("*"):
        if file.suffix.lower() not in suffixes or not file.is_file():
            continue
        parts = file.relative_to(root).parts
        if any(p.startswith(".") or p in IGNORED_DIRS for p in parts):
            continue
        found.append(file)
    return sorted(found)
