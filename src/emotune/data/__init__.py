"""Data: one sample schema, corpus readers registered by name, group-aware splits.

``load_dataset("mr", "path/to/mr")`` reads a corpus into a :class:`Dataset`;
:func:`holdout_split` / :func:`kfold_splits` split it without leaking a speaker
(or author, or session) across parts.
"""

from __future__ import annotations

from emotune.data.schema import BadRow, Dataset, Sample
from emotune.data.labels import CORPUS_EMOTIONS, EMOTION_VOCABULARY, normalize_emotion
from emotune.data.readers import READERS, Reader, ReadOptions  # imports register every reader
from emotune.data.loading import check_classes, load_dataset
from emotune.data.splits import (
    CVSpec,
    Split,
    check_labels,
    cv_folds,
    holdout_split,
    indices_from_ids,
    kfold_splits,
    leave_one_group_out,
    load_split,
    parse_cv,
    save_split,
    stratified_subset,
)

__all__ = [
    "Sample",
    "BadRow",
    "Dataset",
    "EMOTION_VOCABULARY",
    "CORPUS_EMOTIONS",
    "normalize_emotion",
    "READERS",
    "Reader",
    "ReadOptions",
    "load_dataset",
    "check_classes",
    "Split",
    "CVSpec",
    "holdout_split",
    "kfold_splits",
    "leave_one_group_out",
    "parse_cv",
    "cv_folds",
    "stratified_subset",
    "check_labels",
    "save_split",
    "load_split",
    "indices_from_ids",
]
