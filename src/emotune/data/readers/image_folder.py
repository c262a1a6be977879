"""``image-folder``: face images in one sub-folder per label, with an optional subject per image.

::

    data_dir/
        happy/  S010_a.png  S011_b.jpg ...
        sad/    ...
        subjects.csv        (optional: columns ``path`` and ``subject``)

Labels: the sub-folder name through :func:`~emotune.data.labels.normalize_emotion`
(other names pass unchanged). Samples: id = ``<label>/<path below it>``, image in
``extra["image_path"]``. The subject (the group that splits keep on one side):

* from ``subjects.csv`` in ``data_dir`` when it exists (``path`` relative to
  ``data_dir``; the column ``group_col``, default ``subject``); an image it does
  not list is a bad row;
* otherwise from the file name with :data:`SUBJECT_PATTERN` (the leading
  letters+digits before ``_`` or ``-``, e.g. ``S010``) when every file matches;
* otherwise none (splits are then stratified by image, and the run warns).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from emotune.data.labels import normalize_emotion
from emotune.data.readers._audio import audio_root
from emotune.data.readers._base import READERS, BadRowLog, ReadOptions
from emotune.data.readers._images import IMAGE_PATH, find_image_files
from emotune.data.schema import Dataset, Sample
from emotune.exceptions import DatasetError

__all__ = ["read_image_folder", "SUBJECT_PATTERN", "SUBJECTS_FILE"]

SUBJECT_PATTERN = re.compile(r"([A-Za-z]*\d+)[_-]")
"""The subject at the start of a file name: letters then digits, then ``_`` or ``-``."""

SUBJECTS_FILE = "subjects.csv"


def _subjects_table(file: Path, column: str) -> dict[str, str]:
    with file.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames or []
        for needed in ("path", column):
            if needed not in fields:
                raise DatasetError(f"{file}: no column {needed!r} (columns: {fields}); expected path,{column}")
        return {row["path"].strip(): row[column].strip() for row in reader}


@READERS.register("image-folder")
def read_image_folder(path: Path | None, options: ReadOptions) -> Dataset:
    """Read every image in the label sub-folders of ``path``."""
    what = "a folder with one sub-folder of face images per label"
    root = audio_root(path, "image-folder", what)
    files = [f for f in find_image_files(root) if len(f.relative_to(root).parts) >= 2]
    if not files:
        raise DatasetError(f"dataset 'image-folder': no images in sub-folders of {root}; expected {what}")
    table_file = root / SUBJECTS_FILE
    table = _subjects_table(table_file, options.group_col or "subject") if table_file.is_file() else None
    matches = {f: SUBJECT_PATTERN.match(f.name) for f in files}
    by_name = table is None and all(matches.values())
    log = BadRowLog(options.on_bad_rows)
    samples = []
    for file in files:
        rel = file.relative_to(root)
        label_dir = rel.parts[0]
        group = ""
        if table is not None:
            group = table.get(rel.as_posix(), "")
            if not group:
                log.add(table_file, 0, options.group_col or "subject", f"no subject for image {rel.as_posix()}")
                continue
        elif by_name:
            group = matches[file].group(1)  # type: ignore[union-attr]
        samples.append(Sample(
            id=f"{label_dir}/{Path(*rel.parts[1:]).as_posix()}", label=normalize_emotion(label_dir), group=group,
            extra={IMAGE_PATH: str(file.absolute())},
        ))
    how = "subjects from subjects.csv" if table is not None else ("subjects from file names" if by_name else "no subjects")
    return Dataset(name="image-folder", samples=samples, skipped=log.finish(), source=f"{root} ({len(files)} images, {how})")
