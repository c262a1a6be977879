"""The one sample schema every reader fills, whatever the modality.

A :class:`Sample` is one labelled item (a sentence, a tweet, an utterance, a
clip); a :class:`Dataset` is a named list of them plus the rows a reader had to
skip (:class:`BadRow`), so nothing is ever dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from emotune.exceptions import DatasetError

__all__ = ["Sample", "BadRow", "Dataset"]


@dataclass(frozen=True, slots=True)
class Sample:
    """One labelled item.

    Attributes:
        id: unique within its dataset and stable across runs (``"rt-polarity.pos:17"``),
            so splits can be saved as lists of ids.
        label: class name (``"positive"``), never an integer code.
        group: speaker, author or session the sample belongs to; ``""`` when unknown.
            Splits keep one group on one side whenever groups are known.
        text: the text, or ``None`` for audio/video-only samples.
        audio_path: path of the audio file, or ``None``.
        video_path: path of the video file, or ``None``.
        extra: anything else a reader knows (``{"split": "train"}``, ``{"confidence": 0.8}``).
    """

    id: str
    label: str
    group: str = ""
    text: str | None = None
    audio_path: str | None = None
    video_path: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BadRow:
    """A row a reader could not use.

    Attributes:
        file: path of the file the row came from.
        line: 1-based line number where the row starts (``0`` when the whole file is the row).
        field: the column or field at fault (``"text"``, ``"label"``, ``"(line)"`` for
            an undecodable or malformed line).
        reason: what is wrong, in words.
    """

    file: str
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}, line {self.line}" if self.line else self.file
        return f"{where}, field {self.field!r}: {self.reason}"


@dataclass
class Dataset:
    """A named list of samples, plus the rows skipped while reading.

    Attributes:
        name: the reader's registry name (``"mr"``, ``"csv"``).
        samples: the usable samples, in file order.
        skipped: rows skipped under ``on_bad_rows="skip"`` (empty otherwise).
        source: where the samples came from, in words (paths, encoding, subset).

    Ids must be unique; groups must be given for every sample or for none.
    """

    name: str
    samples: list[Sample]
    skipped: list[BadRow] = field(default_factory=list)
    source: str = ""

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for s in self.samples:
            if s.id in seen:
                raise DatasetError(f"dataset {self.name!r}: sample id {s.id!r} appears more than once; ids must be unique")
            seen.add(s.id)
        n_grouped = sum(1 for s in self.samples if s.group)
        if 0 < n_grouped < len(self.samples):
            first = next(s for s in self.samples if not s.group)
            raise DatasetError(
                f"dataset {self.name!r}: {len(self.samples) - n_grouped} of {len(self.samples)} samples have no group "
                f"(first: {first.id!r}); give a group to every sample or to none"
            )

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples)

    def __getitem__(self, index: int) -> Sample:
        return self.samples[index]

    @property
    def labels(self) -> list[str]:
        """Sorted unique class names."""
        return sorted({s.label for s in self.samples})

    @property
    def sample_labels(self) -> list[str]:
        """The label of every sample, in order (length ``len(self)``)."""
        return [s.label for s in self.samples]

    @property
    def ids(self) -> list[str]:
        """The id of every sample, in order."""
        return [s.id for s in self.samples]

    @property
    def texts(self) -> list[str]:
        """The text of every sample, in order; a sample without text is an error."""
        out: list[str] = []
        for s in self.samples:
            if s.text is None:
                raise DatasetError(f"dataset {self.name!r}: sample {s.id!r} has no text (is this an audio/video corpus?)")
            out.append(s.text)
        return out

    @property
    def groups(self) -> list[str]:
        """The group of every sample, in order; all ``""`` when the dataset has no groups.

        The splitters in :mod:`emotune.data.splits` treat all-``""`` groups as no groups,
        so ``holdout_split(ds.label_ids(), ds.groups)`` is right either way.
        """
        return [s.group for s in self.samples]

    @property
    def has_groups(self) -> bool:
        """Whether samples carry a group (speaker/author/session)."""
        return bool(self.samples) and bool(self.samples[0].group)

    def label_counts(self) -> dict[str, int]:
        """Samples per class, classes sorted by name."""
        counts: dict[str, int] = {}
        for s in self.samples:
            counts[s.label] = counts.get(s.label, 0) + 1
        return dict(sorted(counts.items()))

    def label_map(self) -> dict[str, int]:
        """``{class name: id}`` with ids ``0..n_classes-1`` in sorted-name order."""
        return {name: i for i, name in enumerate(self.labels)}

    def label_ids(self, label_map: Mapping[str, int] | None = None) -> np.ndarray:
        """Integer class ids.

        Args:
            label_map: ``{class name: id}``; defaults to :meth:`label_map`. Pass the
                training set's map when encoding a test set.

        Returns:
            int64 array, shape ``(n_samples,)``.
        """
        mapping = self.label_map() if label_map is None else label_map
        out = np.empty(len(self.samples), dtype=np.int64)
        for i, s in enumerate(self.samples):
            try:
                out[i] = mapping[s.label]
            except KeyError:
                known = ", ".join(repr(k) for k in sorted(mapping))
                raise DatasetError(
                    f"dataset {self.name!r}: sample {s.id!r} has label {s.label!r}, which is not in the label map ({known})"
                ) from None
        return out

    def subset(self, indices: Sequence[int] | np.ndarray) -> "Dataset":
        """A new dataset with the samples at ``indices`` (int array, shape ``(k,)``), in that order."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(self.samples)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise DatasetError(f"dataset {self.name!r}: subset index out of range for {n} samples")
        return Dataset(
            name=self.name,
            samples=[self.samples[int(i)] for i in idx],
            skipped=list(self.skipped),
            source=self.source,
        )

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in self.label_counts().items())
        return f"Dataset(name={self.name!r}, n={len(self)}, classes: {counts}, skipped={len(self.skipped)})"
