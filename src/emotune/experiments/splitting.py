"""Which samples each part of a run sees: the outer test splits and the search's validation folds.

The test part is fixed before any search; validation folds are drawn from train
+ validation only; both are group-aware (speaker, author) whenever groups exist.
"""

from __future__ import annotations

import numpy as np

from emotune.experiments.config import TuneConfig

__all__ = ["holdout_parts", "outer_splits", "search_folds"]


def holdout_parts(config: TuneConfig, dataset, y: np.ndarray, groups: np.ndarray | None):
    from emotune.data.splits import holdout_split

    if "split" in dataset.samples[0].extra and config.dataset == "sst2":
        parts = np.array([s.extra["split"] for s in dataset.samples])
        test = np.flatnonzero(parts == "test")
        dev = np.flatnonzero(parts != "test")
        rng = np.random.default_rng(config.seed)
        dev = rng.permutation(dev)
        n_val = int(round(config.val_size * len(dev)))
        return dev[n_val:], dev[:n_val], test, "official SST-2 test sentences"
    use_groups = groups if config.split_by == "group" else None
    split = holdout_split(y, use_groups, test_size=config.test_size, val_size=config.val_size, seed=config.seed)
    desc = "held out by group (speaker/author)" if use_groups is not None else "stratified hold-out"
    return split.train, split.val, split.test, desc


def outer_splits(config: TuneConfig, dataset, y: np.ndarray, groups: np.ndarray | None) -> list[tuple]:
    """The outer (train, validation, test, description) splits.

    ``outer_cv: holdout`` gives one split (:func:`_split`). ``group:K``, ``K`` or
    ``logo`` give one split per outer fold: the fold is the test part and the
    validation part is one group-aware fold of the rest, so validation speakers
    are disjoint from test speakers (nested).
    """
    from emotune.data.splits import cv_folds, kfold_splits, parse_cv

    spec = config.resolved_outer_cv()
    if spec == "holdout":
        return [holdout_parts(config, dataset, y, groups)]
    use_groups = groups if config.split_by == "group" else None
    cv = parse_cv(spec)
    outer = cv_folds(cv, y, use_groups, seed=config.seed)
    k_val = max(2, int(round(1.0 / config.val_size)))
    splits = []
    for dev, test in outer:
        inner = kfold_splits(y[dev], None if use_groups is None else use_groups[dev], k=k_val, seed=config.seed)
        train_rel, val_rel = inner[0]
        desc = f"outer {spec} fold" + (" by group (speaker)" if use_groups is not None else "")
        splits.append((dev[train_rel], dev[val_rel], test, desc))
    return splits


def search_folds(
    config: TuneConfig, y: np.ndarray, groups: np.ndarray | None, train_idx: np.ndarray, val_idx: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, validation) index pairs the search scores on; never touches the test split.

    ``holdout`` scores on the validation part; any other ``cv`` spec folds
    train + validation (by group whenever groups exist, unless ``sample:K``).
    """
    from emotune.data.splits import cv_folds, parse_cv

    cv = parse_cv(config.cv)
    if cv.kind == "holdout":
        return [(train_idx, val_idx)]
    dev = np.concatenate([train_idx, val_idx])
    pairs = cv_folds(cv, y[dev], None if groups is None else groups[dev], seed=config.seed)
    return [(dev[a], dev[b]) for a, b in pairs]
