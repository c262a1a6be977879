"""Outer splits and search folds of a run: disjoint speakers, every sample tested once, fallbacks, fold seeds."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np
import pytest

from emotune.experiments.config import TuneConfig
from emotune.experiments.splitting import fold_seed, outer_plan, outer_splits, search_folds


def _data(n_speakers: int, per: int = 30, n_classes: int = 3):
    """``per`` clips per speaker, classes balanced within each speaker."""
    groups = np.repeat([f"spk{s:02d}" for s in range(n_speakers)], per)
    y = np.tile(np.arange(n_classes), n_speakers * per // n_classes + 1)[: n_speakers * per]
    dataset = SimpleNamespace(samples=[SimpleNamespace(extra={}) for _ in y])
    return dataset, y, groups


def _config(**kw) -> TuneConfig:
    return TuneConfig(task="speech", features="egemaps", **kw)


def _assert_disjoint_by_speaker(splits, groups, n):
    tested = []
    for train, val, test, _ in splits:
        spk = {part: set(groups[idx]) for part, idx in (("train", train), ("val", val), ("test", test))}
        assert spk["train"] and spk["val"] and spk["test"]
        assert not spk["train"] & spk["val"], "validation speakers must not train"
        assert not spk["train"] & spk["test"], "test speakers must not train"
        assert not spk["val"] & spk["test"], "test speakers must not validate"
        tested += list(test)
    assert sorted(tested) == list(range(n)), "every sample is tested exactly once"
    for (_, _, a, _), (_, _, b, _) in itertools.combinations(splits, 2):  # every pair of folds
        assert not set(groups[a]) & set(groups[b])


def test_group_5_gives_five_speaker_disjoint_nested_folds():
    dataset, y, groups = _data(20)
    plan = outer_plan(_config(), dataset, y, groups)
    assert plan.spec == "group:5" and plan.note is None and len(plan.splits) == 5
    _assert_disjoint_by_speaker(plan.splits, groups, len(y))
    assert outer_splits(_config(), dataset, y, groups)[0][2].tolist() == plan.splits[0][2].tolist()


@pytest.mark.parametrize("n_speakers", [2, 4])
def test_fewer_speakers_than_folds_fall_back_to_leave_one_speaker_out(n_speakers):
    """TESS has 2 speakers and SAVEE 4, against the default group:5."""
    dataset, y, groups = _data(n_speakers)
    plan = outer_plan(_config(), dataset, y, groups)
    assert plan.spec == "logo" and len(plan.splits) == n_speakers
    assert "leave-one-speaker-out" in plan.note and f"Only {n_speakers} speakers" in plan.note
    tested = []
    for train, val, test, _ in plan.splits:
        assert len(set(groups[test])) == 1 and not set(groups[test]) & set(groups[np.r_[train, val]])
        assert not set(train) & set(val)
        tested += list(test)
    assert sorted(tested) == list(range(len(y)))
    if n_speakers == 2:
        assert "single speaker" in plan.note  # validation cannot be by speaker there
    else:
        _assert_disjoint_by_speaker(plan.splits, groups, len(y))


def test_no_speakers_fall_back_to_stratified_folds_by_sample():
    dataset, y, _ = _data(6)
    plan = outer_plan(_config(), dataset, y, None)
    assert plan.spec == "sample:5" and "No speaker groups" in plan.note and len(plan.splits) == 5
    tested = np.concatenate([test for _, _, test, _ in plan.splits])
    assert sorted(tested.tolist()) == list(range(len(y)))
    for train, val, test, _ in plan.splits:
        assert not (set(train) | set(val)) & set(test) and not set(train) & set(val)


def test_search_folds_stay_inside_train_and_validation_by_speaker():
    dataset, y, groups = _data(20)
    train, val, test, _ = outer_plan(_config(), dataset, y, groups).splits[0]
    holdout = search_folds(_config(cv="holdout"), y, groups, train, val)
    assert len(holdout) == 1 and holdout[0][0] is train and holdout[0][1] is val
    folds = search_folds(_config(cv="group:3"), y, groups, train, val)
    assert len(folds) == 3
    dev = set(train) | set(val)
    inner_val = []
    for a, b in folds:
        assert set(a) | set(b) <= dev and not (set(a) | set(b)) & set(test)
        assert not set(groups[a]) & set(groups[b])
        inner_val += list(b)
    assert sorted(inner_val) == sorted(dev)


def test_search_folds_with_fewer_speakers_than_k_leave_one_out():
    dataset, y, groups = _data(4)
    train, val, _, _ = outer_plan(_config(), dataset, y, groups).splits[0]  # 3 speakers in train + val
    folds = search_folds(_config(cv="group:5"), y, groups, train, val)
    assert len(folds) == 3 and all(len(set(groups[b])) == 1 for _, b in folds)


def test_search_folds_depend_on_the_seed_given():
    dataset, y, groups = _data(20)
    train, val, _, _ = outer_plan(_config(), dataset, y, groups).splits[0]
    a = search_folds(_config(cv="group:3"), y, groups, train, val, seed=0)
    b = search_folds(_config(cv="group:3"), y, groups, train, val, seed=fold_seed(0, 1))
    assert any(set(x[1]) != set(z[1]) for x, z in zip(a, b))


def test_fold_seeds_differ_between_folds_and_runs():
    assert fold_seed(7, 0) == 7
    seeds = {fold_seed(s, k) for s in range(3) for k in range(5)}
    assert len(seeds) == 15, "seed + fold would make run 1 fold 0 repeat run 0 fold 1"
    assert fold_seed(0, 1) == fold_seed(0, 1) and 0 <= fold_seed(3, 4) < 2**31


def test_speech_defaults_are_the_measured_best_configuration():
    cfg = TuneConfig(task="speech")
    assert (cfg.features, cfg.model, cfg.normalize) == ("whisper_base_pooled", "mlp", "auto")
    assert cfg.resolved_outer_cv() == "group:5"
