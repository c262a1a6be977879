import numpy as np

from emotune.evaluation.split_summary import split_summary


def test_counts_samples_speakers_and_classes_per_part():
    y = np.array([0, 1, 1, 0, 2, 2, 0, 1])
    groups = np.array(["a", "a", "b", "b", "c", "c", "d", "d"])
    one = [(np.array([0, 1, 2, 3]), np.array([4, 5]), np.array([6, 7]), "hold-out")]
    s = split_summary(y, ["neg", "neu", "pos"], groups, one)
    assert list(s) == ["train", "val", "test"]
    assert s["train"] == {"n": 4, "groups": 2, "classes": {"neg": 2, "neu": 2, "pos": 0}}
    assert s["test"]["classes"] == {"neg": 1, "neu": 1, "pos": 0} and s["val"]["groups"] == 1
    two = one + [(np.array([4, 5, 6, 7]), np.array([2, 3]), np.array([0, 1]), "fold")]
    s2 = split_summary(y, ["neg", "neu", "pos"], None, two)
    assert "fold 2 test" in s2 and s2["fold 2 test"]["groups"] is None and s2["fold 2 train"]["n"] == 4
