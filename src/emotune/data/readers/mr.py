"""``mr``: the Movie Review sentence polarity corpus (Pang & Lee 2005, rt-polarity v1.0).

``data_dir`` is a folder with ``rt-polarity.pos`` and ``rt-polarity.neg``, one
sentence per line. The original Cornell release is Latin-1; some mirrors
re-encoded it as UTF-8. With no ``encoding`` each file is read as UTF-8 when it
is valid UTF-8 and as Latin-1 otherwise. Labels: ``positive`` / ``negative``.
There is no official split (10-fold CV is the convention). Ids: ``"rt-polarity.pos:<line>"``.

MR and SST-2 share sentences: never train on one and test on the other.
"""

from __future__ import annotations

from pathlib import Path

from emotune.data.readers._base import READERS, BadRowLog, ReadOptions, require_path
from emotune.data.readers._io import choose_encoding, decode_lines, read_bytes, text_problem
from emotune.data.schema import Dataset, Sample
from emotune.exceptions import DatasetError

__all__ = ["read_mr", "MR_FILES"]

#: file name -> label
MR_FILES = {"rt-polarity.pos": "positive", "rt-polarity.neg": "negative"}


@READERS.register("mr")
def read_mr(path: Path | None, options: ReadOptions) -> Dataset:
    """Read the two rt-polarity files of the folder ``path``."""
    folder = require_path(path, "mr", "a folder with rt-polarity.pos and rt-polarity.neg")
    if not folder.is_dir():
        raise DatasetError(f"dataset 'mr': {folder} is not a folder; expected a folder with {', '.join(MR_FILES)}")
    missing = [f for f in MR_FILES if not (folder / f).is_file()]
    if missing:
        found = sorted(p.name for p in folder.iterdir())
        raise DatasetError(
            f"dataset 'mr': {folder} lacks {', '.join(missing)}; found: {', '.join(found) or '(empty folder)'}"
        )
    log = BadRowLog(options.on_bad_rows)
    samples: list[Sample] = []
    used: list[str] = []
    for file_name, label in MR_FILES.items():
        file = folder / file_name
        data = read_bytes(file)
        encoding = choose_encoding(data, options.encoding, default="utf-8", fallback="latin-1")
        used.append(f"{file_name}: {encoding}")
        for line, text in decode_lines(data, encoding, file=file, log=log):
            text = text.strip()
            if not text:
                log.add(file, line, "text", "empty text")
                continue
            if problem := text_problem(text):
                log.add(file, line, "text", problem)
                continue
            samples.append(Sample(id=f"{file_name}:{line}", label=label, text=text))
    return Dataset(name="mr", samples=samples, skipped=log.finish(), source=f"{folder} ({'; '.join(used)})")
