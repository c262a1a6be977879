"""What the speech readers share: finding audio files and turning file names into samples.

Corpus readers whose labels live in file names (``ravdess``, ``crema-d``, ``tess``,
``savee``) give :func:`read_named_files` a parser ``file -> Sample`` that raises
:class:`BadName` for a name it cannot use; that file becomes a bad row naming it.
Audio files are found by suffix (:data:`AUDIO_SUFFIXES`, any case) anywhere below
the folder, in sorted path order; hidden files and folders (``._x.wav``, ``.git``)
and macOS ``__MACOSX`` folders are ignored. Nothing here opens an audio file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from emotune.data.readers._base import IGNORED_DIRS, BadRowLog, ReadOptions, find_files, require_path
from emotune.data.schema import Dataset, Sample
from emotune.exceptions import DatasetError

__all__ = [
    "AUDIO_SUFFIXES",
    "IGNORED_DIRS",
    "FILE_NAME_FIELD",
    "BadName",
    "audio_root",
    "find_audio_files",
    "read_named_files",
]

#: File suffixes counted as audio (compared in lower case); libsndfile reads them all.
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff")

#: ``BadRow.field`` for a file name that does not follow the corpus's pattern.
FILE_NAME_FIELD = "file name"


class BadName(Exception):
    """Raised by a file-name parser: the file is a bad row at ``field`` because of ``reason``."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def audio_root(path: Path | None, reader: str, what: str) -> Path:
    """The absolute folder ``path``; a :class:`DatasetError` saying what ``reader`` expects otherwise."""
    root = require_path(path, reader, what)
    if not root.is_dir():
        raise DatasetError(f"dataset {reader!r}: {root} is not a folder; expected {what}")
    return root.absolute()


def find_audio_files(root: Path) -> list[Path]:
    """Every audio file below ``root`` (recursively), sorted by path; hidden parts are skipped."""
    return find_files(root, AUDIO_SUFFIXES)


def read_named_files(
    name: str,
    root: Path,
    options: ReadOptions,
    *,
    what: str,
    parse: Callable[[Path], Sample],
) -> Dataset:
    """Parse every audio file below ``root`` into a sample.

    Args:
        name: the reader's registry name, for messages and ``Dataset.name``.
        root: the absolute corpus folder (see :func:`audio_root`).
        options: the read options (only ``on_bad_rows`` is used).
        what: the expected layout, in words, for the error when no audio file is found.
        parse: ``file -> Sample``; raises :class:`BadName` for a file it cannot use.

    A file whose sample id another file already took (the same clip as ``.wav`` and
    ``.flac``, a copied folder) is a bad row naming both files.
    """
    files = find_audio_files(root)
    if not files:
        raise DatasetError(
            f"dataset {name!r}: no audio files ({', '.join(AUDIO_SUFFIXES)}) found below {root}; expected {what}"
        )
    log = BadRowLog(options.on_bad_rows)
    samples: list[Sample] = []
    first_file: dict[str, Path] = {}
    for file in files:
        try:
            sample = parse(file)
        except BadName as bad:
            log.add(file, 0, bad.field, bad.reason)
            continue
        if sample.id in first_file:
            log.add(file, 0, FILE_NAME_FIELD, f"same clip id {sample.id!r} as {first_file[sample.id]}")
            continue
        first_file[sample.id] = file
        samples.append(sample)
    return Dataset(name=name, samples=samples, skipped=log.finish(), source=f"{root} ({len(files)} audio files)")
