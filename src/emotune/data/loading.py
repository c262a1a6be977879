"""The front door: :func:`load_dataset` reads a registered corpus by name."""

from __future__ import annotations

from pathlib import Path

from emotune.data.readers import READERS, ReadOptions
from emotune.data.schema import Dataset
from emotune.data.splits import stratified_subset
from emotune.exceptions import DatasetError

__all__ = ["load_dataset", "check_classes"]


def check_classes(dataset: Dataset) -> None:
    """A :class:`DatasetError` unless ``dataset`` has samples of at least two classes."""
    skipped = f" ({len(dataset.skipped)} bad rows were skipped)" if dataset.skipped else ""
    if not dataset.samples:
        raise DatasetError(f"dataset {dataset.name!r} from {dataset.source} has no usable rows{skipped}")
    labels = dataset.labels
    if len(labels) < 2:
        raise DatasetError(
            f"dataset {dataset.name!r} from {dataset.source} has a single class {labels[0]!r} "
            f"({len(dataset)} samples){skipped}; a classifier needs at least two. "
            "Check label_col and the file's label column."
        )


def load_dataset(
    name: str,
    data_dir: str | Path | None = None,
    *,
    text_col: str = "text",
    label_col: str = "label",
    group_col: str | None = None,
    on_bad_rows: str = "error",
    encoding: str | None = None,
    limit: int | None = None,
    seed: int = 0,
) -> Dataset:
    """Read the corpus registered as ``name``.

    Args:
        name: a reader in :data:`~emotune.data.READERS` (``"csv"``, ``"tsv"``, ``"jsonl"``,
            ``"mr"``, ``"sst2"``, ``"folder"``, ``"tweets"``).
        data_dir: the file (``csv``/``tsv``/``jsonl``) or folder to read; ``None`` for
            corpora that ship with a package (``tweets``).
        text_col, label_col, group_col: column names for tabular files.
        on_bad_rows: ``"error"`` raises a :class:`DatasetError` naming file, line and
            field of each bad row; ``"skip"`` skips them into ``Dataset.skipped``.
        encoding: file encoding; ``None`` for the reader's default.
        limit: keep a stratified random subset of this many samples (``None``: all).
        seed: seed of that subset.

    A dataset with fewer than two classes is always an error.
    """
    reader = READERS.get(name)
    options = ReadOptions(
        text_col=text_col, label_col=label_col, group_col=group_col, on_bad_rows=on_bad_rows, encoding=encoding
    )
    path = None if data_dir is None else Path(data_dir).expanduser()
    dataset = reader(path, options)
    check_classes(dataset)
    if limit is not None and limit < len(dataset):
        idx = stratified_subset(dataset.sample_labels, limit, seed=seed)
        dataset = dataset.subset(idx)
        dataset.source += f"; stratified subset of {len(idx)} (seed {seed})"
    return dataset
