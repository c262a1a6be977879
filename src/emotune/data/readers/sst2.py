"""``sst2``: the binary Stanford Sentiment Treebank in GLUE TSV form (Socher et al. 2013).

``data_dir`` is a folder with ``train.tsv``, ``dev.tsv`` and ``test.tsv``, each with
the header ``sentence<TAB>label`` and labels ``0`` (negative) / ``1`` (positive).
Every file present is read; ``train.tsv`` and ``test.tsv`` are required. Each
sample's ``extra["split"]`` is its file's split (``"train"``, ``"dev"``, ``"test"``),
so an experiment can keep the official split: train on train+dev, test on test.
Ids: ``"<split>:<line>"``. Default encoding: UTF-8.

The shared copy's ``test.tsv`` is the labelled GLUE *dev* set (872 sentences);
the real GLUE test set is unlabelled and is refused here. SST-2 shares sentences
with MR: never train on one and test on the other.
"""

from __future__ import annotations

import csv
from pathlib import Path

from emotune.data.readers._base import READERS, BadRowLog, ReadOptions, require_path
from emotune.data.readers._io import iter_table, text_problem
from emotune.data.schema import Dataset, Sample
from emotune.exceptions import DatasetError

__all__ = ["read_sst2", "SST2_SPLITS", "SST2_LABELS"]

#: split name -> file name, in reading order
SST2_SPLITS = {"train": "train.tsv", "dev": "dev.tsv", "test": "test.tsv"}
SST2_LABELS = {"0": "negative", "1": "positive"}
_REQUIRED = ("train", "test")


@READERS.register("sst2")
def read_sst2(path: Path | None, options: ReadOptions) -> Dataset:
    """Read the GLUE SST-2 TSV files of the folder ``path``."""
    folder = require_path(path, "sst2", "a folder with train.tsv, dev.tsv and test.tsv (GLUE SST-2)")
    if not folder.is_dir():
        raise DatasetError(f"dataset 'sst2': {folder} is not a folder; expected train.tsv, dev.tsv and test.tsv in it")
    missing = [SST2_SPLITS[s] for s in _REQUIRED if not (folder / SST2_SPLITS[s]).is_file()]
    if missing:
        found = sorted(p.name for p in folder.iterdir())
        raise DatasetError(f"dataset 'sst2': {folder} lacks {', '.join(missing)}; found: {', '.join(found) or '(empty)'}")
    encoding = options.encoding or "utf-8"
    log = BadRowLog(options.on_bad_rows)
    samples: list[Sample] = []
    for split, file_name in SST2_SPLITS.items():
        file = folder / file_name
        if not file.is_file():
            continue
        columns, records = iter_table(file, encoding, log, delimiter="\t", quoting=csv.QUOTE_NONE)
        for col in ("sentence", "label"):
            if col not in columns:
                hint = " (the GLUE test set is unlabelled; use a labelled file as test.tsv)" if col == "label" else ""
                raise DatasetError(
                    f"{file}: column {col!r} not found; columns found: {', '.join(map(repr, columns))}{hint}"
                )
        for line, rec in records:
            text = rec["sentence"].strip()
            if not text:
                log.add(file, line, "sentence", "empty text")
                continue
            if problem := text_problem(text):
                log.add(file, line, "sentence", problem)
                continue
            raw = rec["label"].strip()
            if not raw:
                log.add(file, line, "label", "missing label")
                continue
            if raw not in SST2_LABELS:
                log.add(file, line, "label", f"expected 0 or 1, found {raw!r}")
                continue
            samples.append(Sample(id=f"{split}:{line}", label=SST2_LABELS[raw], text=text, extra={"split": split}))
    return Dataset(name="sst2", samples=samples, skipped=log.finish(), source=f"{folder} ({encoding})")
