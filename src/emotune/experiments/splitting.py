"""Which samples each part of a run sees: the outer test splits and the search's validation folds.

The test part is fixed before any search; validation folds are drawn from train
+ validation only; both are group-aware (speaker, author) whenever groups exist.

When a corpus has too few speakers for the requested folds (TESS has 2, SAVEE
4, against the speech default ``group:5``) or no speakers at all, the protocol
falls back instead of failing, and says so (:attr:`OuterPlan.note`):

* outer ``group:K`` / ``K`` with fewer than ``K`` speakers: leave one speaker out;
* no speaker groups (or ``split_by: sample``): stratified ``K``-fold by sample;
* validation speakers inside an outer fold: ``round(1 / val_size)`` folds by
  speaker, fewer when the fold's training part has fewer speakers, and a
  stratified split by sample when it has only one (then validation shares that
  voice, which the note says);
* the search's ``cv: group:K`` with fewer than ``K`` speakers in train +
  validation: leave one speaker out (by sample when there is a single speaker).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from emotune.experiments.config import TuneConfig

__all__ = ["OuterPlan", "fold_seed", "holdout_parts", "outer_plan", "outer_splits", "search_folds"]


def fold_seed(seed: int, fold: int) -> int:
    """The seed of outer fold ``fold`` (0-based) of a run seeded ``seed``.

    Fold 0 (and a single split) keeps ``seed``; other folds draw from
    ``SeedSequence([seed, fold])``, so folds search independent populations and
    run ``seed + 1`` never repeats fold 1 of run ``seed`` (as ``seed + fold`` did).
    Returns an int in ``[0, 2**31)``.
    """
    if fold == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), int(fold)]).generate_state(1)[0] % (2**31))


@dataclass
class OuterPlan:
    """The outer splits of a run and the protocol actually used.

    Attributes:
        splits: ``(train_idx, val_idx, test_idx, description)`` per outer fold.
        spec: the outer CV spec used (``"holdout"``, ``"group:5"``, ``"logo"``, ``"sample:5"``).
        notes: one line per fallback from the requested protocol (empty when none).
    """

    splits: list[tuple]
    spec: str
    notes: list[str] = field(default_factory=list)

    @property
    def note(self) -> str | None:
        """The fallbacks as one line, or ``None``."""
        return " ".join(self.notes) if self.notes else None


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


def _n_groups(groups: np.ndarray | None) -> int:
    return 0 if groups is None else len(np.unique(groups))


def resolve_outer_spec(spec: str, groups: np.ndarray | None) -> tuple[str, str | None]:
    """The outer CV spec to use for ``groups`` and a note when it differs from ``spec``.

    Args:
        spec: the requested spec (``TuneConfig.resolved_outer_cv()``).
        groups: the speaker of each sample, or ``None`` (no speakers, or ``split_by: sample``).
    """
    from emotune.data.splits import parse_cv

    if spec == "holdout":
        return spec, None
    cv = parse_cv(spec)
    n_groups = _n_groups(groups)
    if groups is None or n_groups < 2:
        if cv.kind == "sample":
            return spec, None
        k = cv.k or 5
        what = "No speaker groups" if groups is None else "A single speaker"
        return f"sample:{k}", (f"{what}: outer protocol {spec} fell back to stratified {k}-fold by sample "
                               "(the same voices may be in train and test).")
    if cv.kind == "logo" or cv.kind == "sample" or (cv.k is not None and cv.k <= n_groups):
        return spec, None
    return "logo", (f"Only {n_groups} speakers, fewer than the {cv.k} folds of {spec}: "
                    f"outer protocol fell back to leave-one-speaker-out ({n_groups} folds).")


def _validation_part(dev: np.ndarray, y: np.ndarray, groups: np.ndarray | None, val_size: float, seed: int):
    """(train, validation) inside ``dev`` (absolute indices) and a note when it cannot be by speaker.

    By speaker: the first of ``round(1 / val_size)`` group folds (fewer when
    ``dev`` has fewer speakers); without groups, or with a single speaker: a
    stratified ``val_size`` hold-out of the clips.
    """
    from emotune.data.splits import holdout_split, kfold_splits

    n_dev = _n_groups(None if groups is None else groups[dev])
    if n_dev >= 2:
        k_val = max(2, int(round(1.0 / val_size)))
        train_rel, val_rel = kfold_splits(y[dev], groups[dev], k=min(k_val, n_dev), seed=seed)[0]
        return dev[train_rel], dev[val_rel], None
    cut = holdout_split(y[dev], None, test_size=val_size, val_size=0.0, seed=seed)
    note = None if groups is None else ("A training part has a single speaker: its validation clips are a "
                                        "stratified split of that speaker's clips.")
    return dev[cut.train], dev[cut.test], note


def outer_plan(config: TuneConfig, dataset, y: np.ndarray, groups: np.ndarray | None) -> OuterPlan:
    """The outer splits, with the fallbacks of the module docstring.

    ``outer_cv: holdout`` gives one split (:func:`holdout_parts`). ``group:K``,
    ``K``, ``sample:K`` or ``logo`` give one split per outer fold: the fold is the
    test part and the validation part is one group-aware fold of the rest, so
    validation speakers are disjoint from test speakers (nested).
    """
    from emotune.data.splits import cv_folds, parse_cv

    requested = config.resolved_outer_cv()
    if requested == "holdout":
        return OuterPlan([holdout_parts(config, dataset, y, groups)], "holdout")
    use_groups = groups if config.split_by == "group" else None
    spec, note = resolve_outer_spec(requested, use_groups)
    notes = [note] if note else []
    outer = cv_folds(parse_cv(spec), y, use_groups if parse_cv(spec).kind != "sample" else None, seed=config.seed)
    by_group = use_groups is not None and parse_cv(spec).kind != "sample"
    splits = []
    for dev, test in outer:
        train, val, val_note = _validation_part(dev, y, use_groups if by_group else None, config.val_size, config.seed)
        if val_note and val_note not in notes:
            notes.append(val_note)
        desc = f"outer {spec} fold" + (" by group (speaker)" if by_group else "")
        splits.append((train, val, test, desc))
    return OuterPlan(splits, spec, notes)


def outer_splits(config: TuneConfig, dataset, y: np.ndarray, groups: np.ndarray | None) -> list[tuple]:
    """The outer (train, validation, test, description) splits (:func:`outer_plan` without its notes)."""
    return outer_plan(config, dataset, y, groups).splits


def search_folds(
    config: TuneConfig,
    y: np.ndarray,
    groups: np.ndarray | None,
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    *,
    seed: int | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, validation) index pairs the search scores on; never touches the test split.

    ``holdout`` scores on the validation part; any other ``cv`` spec folds
    train + validation (by group whenever groups exist, unless ``sample:K``);
    ``K`` folds by group with fewer than ``K`` groups become leave-one-group-out.

    Args:
        seed: the shuffling seed of the folds (default ``config.seed``; outer
            folds pass :func:`fold_seed`).
    """
    from emotune.data.splits import cv_folds, parse_cv

    cv = parse_cv(config.cv)
    if cv.kind == "holdout":
        return [(train_idx, val_idx)]
    dev = np.concatenate([train_idx, val_idx])
    g = None if groups is None else groups[dev]
    if g is not None and cv.kind != "sample":
        n = _n_groups(g)
        if n < 2:
            cv, g = parse_cv(f"sample:{cv.k or 5}"), None
        elif cv.kind == "logo" or (cv.k is not None and cv.k > n):
            cv = parse_cv("logo")
    pairs = cv_folds(cv, y[dev], g, seed=config.seed if seed is None else seed)
    return [(dev[a], dev[b]) for a, b in pairs]
