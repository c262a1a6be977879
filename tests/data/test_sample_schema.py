"""Sample / Dataset helpers."""

from __future__ import annotations

import numpy as np
import pytest

from emotune.data import BadRow, Dataset, Sample
from emotune.exceptions import DatasetError


def _ds(groups: list[str] | None = None) -> Dataset:
    labels = ["pos", "neg", "pos", "neu"]
    groups = groups or [""] * 4
    return Dataset(
        name="toy",
        samples=[Sample(id=f"s{i}", label=lab, group=g, text=f"t{i}") for i, (lab, g) in enumerate(zip(labels, groups))],
        source="memory",
    )


def test_helpers() -> None:
    ds = _ds()
    assert len(ds) == 4
    assert ds.labels == ["neg", "neu", "pos"]
    assert ds.ids == ["s0", "s1", "s2", "s3"]
    assert ds.texts == ["t0", "t1", "t2", "t3"]
    assert ds.groups == [""] * 4 and not ds.has_groups
    assert ds.label_counts() == {"neg": 1, "neu": 1, "pos": 2}
    y = ds.label_ids()
    assert y.dtype == np.int64 and y.tolist() == [2, 0, 2, 1]
    assert ds.label_ids({"pos": 1, "neg": 0, "neu": 5}).tolist() == [1, 0, 1, 5]


def test_label_ids_unknown_label_is_named() -> None:
    with pytest.raises(DatasetError, match="'neu'"):
        _ds().label_ids({"pos": 1, "neg": 0})


def test_subset_keeps_order_and_metadata() -> None:
    ds = _ds()
    ds.skipped.append(BadRow("f.csv", 3, "text", "empty text"))
    sub = ds.subset(np.array([3, 0]))
    assert sub.ids == ["s3", "s0"]
    assert sub.name == "toy" and sub.source == "memory" and len(sub.skipped) == 1
    with pytest.raises(DatasetError, match="out of range"):
        ds.subset([4])


def test_groups() -> None:
    ds = _ds(["a", "b", "a", "c"])
    assert ds.groups == ["a", "b", "a", "c"] and ds.has_groups
    with pytest.raises(DatasetError, match="no group"):
        _ds(["a", "", "a", "c"])


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(DatasetError, match="'x'"):
        Dataset("toy", [Sample(id="x", label="a", text="1"), Sample(id="x", label="b", text="2")])


def test_texts_of_audio_only_sample_is_an_error() -> None:
    ds = Dataset("speech", [Sample(id="u1", label="a", audio_path="u1.wav")])
    with pytest.raises(DatasetError, match="no text"):
        _ = ds.texts


def test_bad_row_str_names_file_line_field() -> None:
    assert str(BadRow("f.csv", 7, "label", "missing label")) == "f.csv, line 7, field 'label': missing label"
