"""Splitters: stratification, disjointness, no group leakage, CV coverage, saving."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from emotune.data import (
    CVSpec,
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
from emotune.exceptions import ConfigError, DatasetError


def _imbalanced(n: int = 1000, seed: int = 0) -> np.ndarray:
    """60% 'neu', 30% 'neg', 10% 'pos', shuffled."""
    y = np.array(["neu"] * (6 * n // 10) + ["neg"] * (3 * n // 10) + ["pos"] * (n // 10))
    return np.random.default_rng(seed).permutation(y)


def _grouped(n_groups: int = 40, per_group: int = 25, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Speakers with their own class mix, so a careless split would leak them."""
    rng = np.random.default_rng(seed)
    labels, groups = [], []
    for g in range(n_groups):
        p = rng.dirichlet([2.0, 2.0, 2.0])
        labels += list(rng.choice(["ang", "hap", "sad"], size=per_group, p=p))
        groups += [f"spk{g:02d}"] * per_group
    return np.array(labels), np.array(groups)


def _proportions(y: np.ndarray, classes: list[str]) -> np.ndarray:
    return np.array([(y == c).mean() for c in classes])


def _assert_partition(parts: list[np.ndarray], n: int) -> None:
    joined = np.concatenate(parts)
    assert joined.size == n and np.unique(joined).size == n, "parts overlap or miss samples"
    for p in parts:
        assert p.dtype == np.int64 and np.all(np.diff(p) > 0)


# ---------------------------------------------------------------- holdout
def test_holdout_by_sample_is_stratified_and_disjoint() -> None:
    y = _imbalanced()
    s = holdout_split(y, test_size=0.2, val_size=0.1, seed=0)
    assert s.by == "sample"
    _assert_partition([s.train, s.val, s.test], y.size)
    assert (s.train.size, s.val.size, s.test.size) == (700, 100, 200)
    want = _proportions(y, ["neu", "neg", "pos"])
    for part in (s.train, s.val, s.test):
        assert np.allclose(_proportions(y[part], ["neu", "neg", "pos"]), want, atol=0.01)


def test_holdout_is_seeded() -> None:
    y = _imbalanced()
    a, b, c = (holdout_split(y, seed=s) for s in (1, 1, 2))
    assert np.array_equal(a.test, b.test) and np.array_equal(a.val, b.val)
    assert not np.array_equal(a.test, c.test)


def test_holdout_with_groups_never_shares_a_group() -> None:
    y, g = _grouped()
    s = holdout_split(y, g, test_size=0.2, val_size=0.1, seed=0)
    assert s.by == "group"  # group-aware by default when groups exist
    _assert_partition([s.train, s.val, s.test], y.size)
    tr, va, te = (set(g[p]) for p in (s.train, s.val, s.test))
    assert not (tr & va) and not (tr & te) and not (va & te)
    assert 0.1 < s.test.size / y.size < 0.3 and 0.05 < s.val.size / y.size < 0.2
    want = _proportions(y, ["ang", "hap", "sad"])
    assert np.allclose(_proportions(y[s.test], ["ang", "hap", "sad"]), want, atol=0.08)


def test_holdout_group_seeds_differ() -> None:
    y, g = _grouped()
    tests = {tuple(sorted(set(g[holdout_split(y, g, seed=s).test]))) for s in range(5)}
    assert len(tests) > 1


def test_sample_split_must_be_asked_for_by_name() -> None:
    y, g = _grouped()
    s = holdout_split(y, g, seed=0, by="sample")
    assert s.by == "sample"
    assert set(g[s.train]) & set(g[s.test])  # by sample, speakers do leak: that is why it is opt-in
    with pytest.raises(ConfigError, match="by='group' needs groups"):
        holdout_split(y, None, by="group")
    with pytest.raises(ConfigError, match="by must be"):
        holdout_split(y, g, by="speaker")


def test_holdout_without_val_and_bad_sizes() -> None:
    y = _imbalanced(200)
    s = holdout_split(y, val_size=0.0)
    assert s.val.size == 0 and s.train.size + s.test.size == 200
    for kw in ({"test_size": 0.0}, {"test_size": 1.0}, {"val_size": -0.1}, {"test_size": 0.6, "val_size": 0.4}):
        with pytest.raises(ConfigError):
            holdout_split(y, **kw)
    with pytest.raises(ConfigError, match="one entry per sample"):
        holdout_split(y, np.zeros(5))


def test_group_holdout_needs_enough_groups() -> None:
    y = np.array(["a", "b"] * 10)
    with pytest.raises(DatasetError, match="at least 2 groups"):
        holdout_split(y, np.array(["only"] * 20))


def test_split_to_ids_round_trip(tmp_path: Path) -> None:
    y, g = _grouped(10, 10)
    ids = [f"utt{i}" for i in range(y.size)]
    s = holdout_split(y, g, seed=0)
    path = save_split(tmp_path / "splits" / "split.json", s.to_ids(ids))
    loaded = load_split(path)
    assert loaded == s.to_ids(ids)
    for part, arr in s.parts().items():
        assert np.array_equal(indices_from_ids(ids, loaded[part]), arr)
    assert json.loads(path.read_text())["format"] == "emotune-split"


# ---------------------------------------------------------------- k-fold / LOGO
def test_kfold_covers_every_index_once_and_is_stratified() -> None:
    y = _imbalanced(500)
    folds = kfold_splits(y, k=5, seed=0)
    assert len(folds) == 5
    seen = np.concatenate([va for _, va in folds])
    assert np.array_equal(np.sort(seen), np.arange(y.size))  # each index validated exactly once
    want = _proportions(y, ["neu", "neg", "pos"])
    for tr, va in folds:
        _assert_partition([tr, va], y.size)
        assert np.allclose(_proportions(y[va], ["neu", "neg", "pos"]), want, atol=0.01)


def test_group_kfold_never_shares_a_group() -> None:
    y, g = _grouped()
    folds = kfold_splits(y, g, k=5, seed=0)
    seen = np.concatenate([va for _, va in folds])
    assert np.array_equal(np.sort(seen), np.arange(y.size))
    for tr, va in folds:
        _assert_partition([tr, va], y.size)
        assert not set(g[tr]) & set(g[va])
    with pytest.raises(DatasetError, match="at least 50 groups"):
        kfold_splits(y, g, k=50)
    with pytest.raises(ConfigError, match="k must be"):
        kfold_splits(y, k=1)


def test_kfold_too_few_samples_per_class() -> None:
    with pytest.raises(DatasetError, match="cannot make 5 stratified folds"):
        kfold_splits(["a", "a", "b", "b"], k=5)


def test_leave_one_group_out() -> None:
    y, g = _grouped(6, 5)
    folds = leave_one_group_out(g)
    assert len(folds) == 6
    for i, (tr, va) in enumerate(folds):
        assert set(g[va]) == {f"spk{i:02d}"} and f"spk{i:02d}" not in set(g[tr])
        _assert_partition([tr, va], y.size)
    with pytest.raises(DatasetError, match="at least 2 groups"):
        leave_one_group_out(["a", "a"])


# ---------------------------------------------------------------- CV specs
@pytest.mark.parametrize(
    "spec, want",
    [
        ("5", CVSpec("kfold", 5)),
        (10, CVSpec("kfold", 10)),
        ("group:5", CVSpec("group", 5)),
        ("sample:3", CVSpec("sample", 3)),
        ("logo", CVSpec("logo", None)),
        (" Holdout ", CVSpec("holdout", None)),
    ],
)
def test_parse_cv(spec: str | int, want: CVSpec) -> None:
    assert parse_cv(spec) == want
    kind, k = parse_cv(spec)  # unpacks as (kind, k)
    assert (kind, k) == tuple(want)


def test_cv_spec_by() -> None:
    assert [parse_cv(s).by for s in ("5", "group:5", "sample:5", "logo", "holdout")] == [None, "group", "sample", "group", None]


@pytest.mark.parametrize("spec", ["", "1", "group:1", "five", "group:", "sample:logo", "group:holdout", "speaker:5", "5-fold", True])
def test_parse_cv_rejects(spec: object) -> None:
    with pytest.raises(ConfigError, match="cv"):
        parse_cv(spec)  # type: ignore[arg-type]


def test_cv_folds_follow_the_spec() -> None:
    y, g = _grouped(12, 10)
    for spec in ("4", "group:4", "logo", "holdout"):
        for tr, va in cv_folds(spec, y, g, seed=0):
            assert not set(g[tr]) & set(g[va]), spec
    assert len(cv_folds("logo", y, g)) == 12
    assert len(cv_folds("holdout", y, g)) == 1
    leaky = cv_folds("sample:4", y, g)
    assert any(set(g[tr]) & set(g[va]) for tr, va in leaky)
    with pytest.raises(ConfigError, match="by='group' needs groups"):
        cv_folds("group:4", y, None)
    with pytest.raises(ConfigError, match="logo"):
        cv_folds("logo", y, None)


# ---------------------------------------------------------------- checks, subsets, saving
def test_check_labels_names_unseen_label() -> None:
    check_labels(["a", "b", "c"], ["a", "c"])
    with pytest.raises(DatasetError, match=r"'fear' \(2 samples\) occur in the test part but not in training"):
        check_labels(["a", "b"], ["a", "fear", "fear"])
    with pytest.raises(DatasetError, match="val part"):
        check_labels([0, 1], [2], part="val")


def test_stratified_subset() -> None:
    y = _imbalanced(1000)
    idx = stratified_subset(y, 100, seed=0)
    assert idx.size == 100 and np.unique(idx).size == 100 and np.all(np.diff(idx) > 0)
    assert np.allclose(_proportions(y[idx], ["neu", "neg", "pos"]), [0.6, 0.3, 0.1], atol=0.011)
    assert np.array_equal(stratified_subset(y, 5000), np.arange(1000))
    with pytest.raises(ConfigError):
        stratified_subset(y, 0)


def test_save_split_refuses_overlap_and_load_checks_format(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="'u2' is in part 'train' and again in part 'test'"):
        save_split(tmp_path / "s.json", {"train": ["u1", "u2"], "test": ["u2"]})
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DatasetError, match="not valid JSON"):
        load_split(bad)
    bad.write_text(json.dumps({"train": ["u1"]}))
    with pytest.raises(DatasetError, match="not an emotune split file"):
        load_split(bad)
    with pytest.raises(DatasetError, match="cannot read"):
        load_split(tmp_path / "missing.json")
    with pytest.raises(DatasetError, match="'zz' from the split is not in the dataset"):
        indices_from_ids(["u1", "u2"], ["u1", "zz"])


def test_holdout_on_real_mr_is_stratified(shared_data: Path) -> None:
    from emotune.data import load_dataset

    ds = load_dataset("mr", shared_data / "text" / "mr-rt-polarity")
    s = holdout_split(ds.label_ids(), ds.groups, seed=0)
    assert s.by == "sample"  # MR has no speakers/authors
    _assert_partition([s.train, s.val, s.test], len(ds))
    assert abs(ds.label_ids()[s.test].mean() - 0.5) < 0.001
    assert not set(np.array(ds.ids)[s.train]) & set(np.array(ds.ids)[s.test])
