"""``folder``: one sub-folder per class, one ``.txt`` file per sample.

::

    data_dir/
        positive/  a.txt  b.txt ...
        negative/  c.txt ...

The sub-folder name is the label; ``.txt`` files anywhere below it are samples
(other files and hidden folders are ignored). Ids: ``"<label>/<relative path>"``.
Default encoding: UTF-8.
"""

from __future__ import annotations

from pathlib import Path

from emotune.data.readers._base import READERS, BadRowLog, ReadOptions, require_path
from emotune.data.readers._io import LINE_FIELD, read_bytes, text_problem
from emotune.data.schema import Dataset, Sample
from emotune.exceptions import DatasetError

__all__ = ["read_folder"]


@READERS.register("folder")
def read_folder(path: Path | None, options: ReadOptions) -> Dataset:
    """Read every ``<label>/**/*.txt`` file below the folder ``path``."""
    root = require_path(path, "folder", "a folder with one sub-folder of .txt files per class")
    if not root.is_dir():
        raise DatasetError(f"dataset 'folder': {root} is not a folder; expected one sub-folder of .txt files per class")
    encoding = options.encoding or "utf-8"
    log = BadRowLog(options.on_bad_rows)
    samples: list[Sample] = []
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    for class_dir in class_dirs:
        label = class_dir.name
        files = sorted(
            f for f in class_dir.rglob("*.txt")
            if f.is_file() and not any(part.startswith(".") for part in f.relative_to(class_dir).parts)
        )
        for file in files:
            data = read_bytes(file)
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError as err:
                line = data.count(b"\n", 0, err.start) + 1
                log.add(
                    file, line, LINE_FIELD,
                    f"cannot decode byte(s) {data[err.start:err.end]!r} as {encoding}; "
                    "pass the file's real encoding with --encoding (config key encoding, e.g. latin-1)",
                )
                continue
            text = text.lstrip("\ufeff").strip()
            if not text:
                log.add(file, 0, "text", "empty file")
                continue
            if problem := text_problem(text):
                log.add(file, 0, "text", problem)
                continue
            rel = file.relative_to(class_dir).as_posix()
            samples.append(Sample(id=f"{label}/{rel}", label=label, text=text))
    if not samples and not log.rows:
        raise DatasetError(
            f"dataset 'folder': no .txt files found in sub-folders of {root}; "
            "expected one sub-folder per class (e.g. positive/, negative/) holding .txt files"
        )
    return Dataset(name="folder", samples=samples, skipped=log.finish(), source=f"{root} ({encoding})")
