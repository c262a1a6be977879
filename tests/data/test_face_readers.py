"""Face-image readers: ckplus on the real CK+48 development set, image-folder with subjects from names or a table."""

from __future__ import annotations

import numpy as np
import pytest

from emotune.data import load_dataset
from emotune.exceptions import DatasetError

cv2 = pytest.importorskip("cv2")


def _write_png(path, value=128):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((48, 48), value, np.uint8))


def test_ckplus_reads_the_dev_set_with_subject_groups(shared_data):
    root = shared_data / "ckplus48-dev"
    ds = load_dataset("ckplus", root)
    assert len(ds) == 327 and len(set(ds.groups)) == 40
    assert ds.label_counts() == {"angry": 51, "contempt": 18, "disgust": 60, "fear": 21, "happy": 69, "sad": 24,
                                 "surprise": 84}
    s = next(x for x in ds if x.id == "anger/S014_003_00000028")
    assert s.group == "S014" and s.extra["sequence"] == "S014_003" and s.extra["frame"] == 28
    assert s.extra["image_path"].endswith("images/anger/S014_003_00000028.png")


def test_ckplus_file_off_the_pattern_is_a_bad_row(tmp_path):
    _write_png(tmp_path / "happy" / "S001_001_00000001.png")
    _write_png(tmp_path / "sadness" / "S002_001_00000001.png")
    _write_png(tmp_path / "sadness" / "holiday.png")
    with pytest.raises(DatasetError, match="holiday.png.*CK\\+48 pattern"):
        load_dataset("ckplus", tmp_path)
    ds = load_dataset("ckplus", tmp_path, on_bad_rows="skip")
    assert ds.sample_labels == ["happy", "sad"] and len(ds.skipped) == 1


def test_image_folder_subjects_from_file_names_and_from_a_table(tmp_path):
    for label, names in {"happy": ["S01_a.png", "S02_b.jpg"], "sad": ["S01_c.png", "S03_d.png"]}.items():
        for n in names:
            _write_png(tmp_path / label / n)
    ds = load_dataset("image-folder", tmp_path)
    assert ds.groups == ["S01", "S02", "S01", "S03"]
    (tmp_path / "subjects.csv").write_text("path,subject\nhappy/S01_a.png,p1\nhappy/S02_b.jpg,p2\nsad/S01_c.png,p1\n")
    with pytest.raises(DatasetError, match="no subject for image sad/S03_d.png"):
        load_dataset("image-folder", tmp_path)
    ds = load_dataset("image-folder", tmp_path, on_bad_rows="skip")
    assert ds.groups == ["p1", "p2", "p1"]


def test_image_folder_without_subjects_has_no_groups(tmp_path):
    _write_png(tmp_path / "happy" / "one.png")
    _write_png(tmp_path / "sad" / "two.png")
    ds = load_dataset("image-folder", tmp_path)
    assert not ds.has_groups and ds.sample_labels == ["happy", "sad"]
