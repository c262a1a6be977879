"""Stratified, group-aware train/validation/test splits built on scikit-learn's splitters.

Speaker-independent by default: whenever ``groups`` (speaker, author, session)
are given, no group is shared between the parts of a split. A split that ignores
groups must be asked for by name with ``by="sample"``.

Index arrays are int64, shape ``(k,)``, sorted, and index the ``labels`` /
``groups`` arrays passed in (i.e. the dataset's samples).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Mapping, NamedTuple, Sequence

import numpy as np

from emotune.exceptions import ConfigError, DatasetError

__all__ = [
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

By = Literal["group", "sample"]
Fold = tuple[np.ndarray, np.ndarray]

SPLIT_FORMAT = "emotune-split"
SPLIT_VERSION = 1


@dataclass(frozen=True)
class Split:
    """A train/validation/test split.

    Attributes:
        train, val, test: sorted int64 index arrays, shapes ``(n_train,)``,
            ``(n_val,)`` (possibly empty), ``(n_test,)``; disjoint.
        by: ``"group"`` when no group is shared between parts, ``"sample"`` otherwise.
    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    by: str

    def parts(self) -> dict[str, np.ndarray]:
        """``{"train": ..., "val": ..., "test": ...}``."""
        return {"train": self.train, "val": self.val, "test": self.test}

    def to_ids(self, ids: Sequence[str]) -> dict[str, list[str]]:
        """The sample ids of each part, for :func:`save_split`; ``ids`` has one entry per sample."""
        return {part: [ids[int(i)] for i in idx] for part, idx in self.parts().items()}


class CVSpec(NamedTuple):
    """A parsed cross-validation spec (see :func:`parse_cv`); unpacks as ``kind, k``.

    Attributes:
        kind: ``"kfold"`` (by group whenever groups exist), ``"group"`` (k-fold that
            must be by group), ``"sample"`` (k-fold ignoring groups), ``"logo"``
            (leave one group out) or ``"holdout"``.
        k: number of folds for the k-fold kinds, else ``None``.
    """

    kind: Literal["kfold", "group", "sample", "logo", "holdout"]
    k: int | None = None

    @property
    def by(self) -> str | None:
        """The ``by`` argument for the splitters: ``"group"``, ``"sample"`` or ``None`` (auto)."""
        return {"group": "group", "logo": "group", "sample": "sample"}.get(self.kind)


# ---------------------------------------------------------------- validation
def _labels_array(labels: Sequence | np.ndarray) -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim != 1 or y.size == 0:
        raise ConfigError(f"labels must be a non-empty 1-D sequence, got shape {y.shape}")
    return y


def _groups_array(groups: Sequence | np.ndarray | None, n: int) -> np.ndarray | None:
    if groups is None:
        return None
    g = np.asarray(groups)
    if g.shape != (n,):
        raise ConfigError(f"groups must have one entry per sample ({n}), got shape {g.shape}")
    if g.dtype.kind in "US" and not g.astype(bool).any():
        return None  # every group unknown (""), as Dataset.groups gives for ungrouped corpora
    return g


def _resolve_by(by: str | None, groups: np.ndarray | None) -> By:
    if by in (None, "auto"):
        return "group" if groups is not None else "sample"
    if by not in ("group", "sample"):
        raise ConfigError(f"by must be 'group', 'sample' or None (group whenever groups exist), got {by!r}")
    if by == "group" and groups is None:
        raise ConfigError("by='group' needs groups (speaker/author/session per sample), but groups is None")
    return by  # type: ignore[return-value]


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise ConfigError(f"k must be an integer >= 2, got {k!r}")
    return int(k)


def _sorted(idx: np.ndarray) -> np.ndarray:
    return np.sort(np.asarray(idx, dtype=np.int64))


def _n_groups(groups: np.ndarray) -> int:
    return int(np.unique(groups).size)


# ---------------------------------------------------------------- holdout
def _sample_cut(y: np.ndarray, size: float, seed: int) -> Fold:
    """Stratified ``(keep, cut)`` positions with ``cut`` about ``size`` of ``y``."""
    from sklearn.model_selection import train_test_split

    try:
        keep, cut = train_test_split(np.arange(y.size), test_size=size, stratify=y, random_state=seed)
    except ValueError as err:
        raise DatasetError(f"cannot make a stratified split of {y.size} samples: {err}") from None
    return keep, cut


def _group_cut(y: np.ndarray, groups: np.ndarray, size: float, seed: int, part: str) -> Fold:
    """Group-disjoint ``(keep, cut)`` positions: one fold of a StratifiedGroupKFold.

    With ``round(1 / size)`` folds (at most one per group), the fold kept as ``cut``
    is drawn with ``seed``, so ``cut`` holds about ``size`` of the samples.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    n_groups = _n_groups(groups)
    if n_groups < 2:
        raise DatasetError(
            f"a group-aware {part} split needs at least 2 groups, found {n_groups}; "
            "pass by='sample' to split by sample instead (groups will leak)"
        )
    n_splits = min(max(2, int(round(1.0 / size))), n_groups)
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    try:
        folds = list(splitter.split(np.zeros(y.size), y, groups))
    except ValueError as err:
        raise DatasetError(f"cannot make a group-aware {part} split: {err}") from None
    pick = int(np.random.default_rng(seed).integers(n_splits))
    return folds[pick]


def holdout_split(
    labels: Sequence | np.ndarray,
    groups: Sequence | np.ndarray | None = None,
    *,
    test_size: float = 0.2,
    val_size: float = 0.1,
    seed: int = 0,
    by: str | None = None,
) -> Split:
    """A stratified train/validation/test split.

    Args:
        labels: class of each sample (str or int), shape ``(n,)``.
        groups: speaker/author/session of each sample, shape ``(n,)``, or ``None``.
        test_size: fraction of samples for test, in ``(0, 1)``.
        val_size: fraction of samples for validation, in ``[0, 1)``; ``0`` gives an empty ``val``.
        seed: random seed.
        by: ``None`` = by group whenever ``groups`` is given; ``"sample"`` ignores groups.

    With groups the fractions are approximate: whole groups move together (a
    StratifiedGroupKFold fold of ``round(1/test_size)`` folds becomes the test part).
    """
    y = _labels_array(labels)
    g = _groups_array(groups, y.size)
    mode = _resolve_by(by, g)
    if not 0.0 < test_size < 1.0:
        raise ConfigError(f"test_size must be in (0, 1), got {test_size!r}")
    if not 0.0 <= val_size < 1.0 or test_size + val_size >= 1.0:
        raise ConfigError(f"val_size must be in [0, 1) with test_size + val_size < 1, got val_size={val_size!r}, test_size={test_size!r}")
    if mode == "group":
        assert g is not None
        rest, test = _group_cut(y, g, test_size, seed, "test")
    else:
        rest, test = _sample_cut(y, test_size, seed)
    if val_size == 0.0:
        return Split(train=_sorted(rest), val=np.empty(0, dtype=np.int64), test=_sorted(test), by=mode)
    val_frac = val_size / (1.0 - test_size)
    if mode == "group":
        assert g is not None
        keep, cut = _group_cut(y[rest], g[rest], val_frac, seed + 1, "validation")
    else:
        keep, cut = _sample_cut(y[rest], val_frac, seed + 1)
    return Split(train=_sorted(rest[keep]), val=_sorted(rest[cut]), test=_sorted(test), by=mode)


# ---------------------------------------------------------------- cross-validation
def kfold_splits(
    labels: Sequence | np.ndarray,
    groups: Sequence | np.ndarray | None = None,
    *,
    k: int = 5,
    seed: int = 0,
    by: str | None = None,
) -> list[Fold]:
    """Stratified k-fold cross-validation: every sample is in exactly one validation fold.

    Args:
        labels: class of each sample, shape ``(n,)``.
        groups: group of each sample, shape ``(n,)``, or ``None``. When given (and
            ``by`` is not ``"sample"``) folds come from StratifiedGroupKFold, so no
            group is in both parts of a fold.
        k: number of folds, ``>= 2``.
        seed: random seed for shuffling.
        by: ``None`` = by group whenever ``groups`` is given; ``"sample"`` ignores groups.

    Returns:
        ``k`` pairs ``(train_idx, val_idx)`` of sorted int64 arrays.
    """
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    y = _labels_array(labels)
    g = _groups_array(groups, y.size)
    mode = _resolve_by(by, g)
    k = _check_k(k)
    x = np.zeros(y.size)
    try:
        if mode == "group":
            assert g is not None
            if k > _n_groups(g):
                raise DatasetError(
                    f"{k}-fold group-aware CV needs at least {k} groups, found {_n_groups(g)}; "
                    "use fewer folds or cv='logo'"
                )
            folds = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed).split(x, y, g)
        else:
            folds = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(x, y)
        return [(_sorted(tr), _sorted(va)) for tr, va in folds]
    except ValueError as err:
        if isinstance(err, DatasetError):
            raise
        raise DatasetError(f"cannot make {k} stratified folds of {y.size} samples: {err}") from None


def leave_one_group_out(groups: Sequence | np.ndarray) -> list[Fold]:
    """One fold per group: that group is the validation part, the others train.

    Args:
        groups: group of each sample, shape ``(n,)``.

    Returns:
        ``(train_idx, val_idx)`` pairs, one per group in sorted group order.
    """
    from sklearn.model_selection import LeaveOneGroupOut

    g = np.asarray(groups)
    if g.ndim != 1 or g.size == 0:
        raise ConfigError(f"groups must be a non-empty 1-D sequence, got shape {g.shape}")
    if _n_groups(g) < 2:
        raise DatasetError(f"leave-one-group-out needs at least 2 groups, found {_n_groups(g)}")
    x = np.zeros(g.size)
    return [(_sorted(tr), _sorted(va)) for tr, va in LeaveOneGroupOut().split(x, groups=g)]


_CV_RE = re.compile(r"^(?:(?P<by>group|sample):(?P<k_by>\d+)|(?P<k>\d+)|(?P<name>logo|holdout))$")


def parse_cv(spec: str | int) -> CVSpec:
    """Parse a cross-validation spec.

    ``"5"`` (or ``5``): 5-fold, by group whenever groups exist -> ``CVSpec("kfold", 5)``;
    ``"group:5"``: 5-fold that must be by group -> ``("group", 5)``; ``"sample:5"``:
    5-fold ignoring groups -> ``("sample", 5)``; ``"logo"``: leave one group out ->
    ``("logo", None)``; ``"holdout"``: one train/validation split -> ``("holdout", None)``.
    """
    text = "" if isinstance(spec, bool) else str(spec).strip().lower()
    m = _CV_RE.match(text)
    if m is None:
        raise ConfigError(f"cv must be '<k>', 'group:<k>', 'sample:<k>', 'logo' or 'holdout' (k >= 2), got {spec!r}")
    if m["name"]:
        return CVSpec(m["name"])
    k = int(m["k"] or m["k_by"])
    if k < 2:
        raise ConfigError(f"cv needs k >= 2 folds, got {spec!r}")
    return CVSpec(m["by"] or "kfold", k)


def cv_folds(
    spec: CVSpec | str | int,
    labels: Sequence | np.ndarray,
    groups: Sequence | np.ndarray | None = None,
    *,
    seed: int = 0,
    test_size: float = 0.2,
) -> list[Fold]:
    """The ``(train_idx, val_idx)`` folds a CV spec asks for.

    ``"holdout"`` gives one fold: a :func:`holdout_split` with no validation part,
    its test part of ``test_size`` being the fold's second array.
    """
    cv = spec if isinstance(spec, CVSpec) else parse_cv(spec)
    by = cv.by
    if cv.kind == "logo":
        if groups is None:
            raise ConfigError("cv='logo' needs groups (speaker/author/session per sample), but groups is None")
        return leave_one_group_out(groups)
    if cv.kind == "holdout":
        s = holdout_split(labels, groups, test_size=test_size, val_size=0.0, seed=seed)
        return [(s.train, s.test)]
    assert cv.k is not None
    return kfold_splits(labels, groups, k=cv.k, seed=seed, by=by)


# ---------------------------------------------------------------- subsets and checks
def stratified_subset(labels: Sequence | np.ndarray, size: int, *, seed: int = 0) -> np.ndarray:
    """Indices of a stratified random subset of ``size`` samples.

    Args:
        labels: class of each sample, shape ``(n,)``.
        size: number of samples to keep, ``>= 1``; at least the number of classes.

    Returns:
        sorted int64 array, shape ``(min(size, n),)``; class proportions follow ``labels``.
    """
    from sklearn.utils import resample

    y = _labels_array(labels)
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ConfigError(f"limit must be a positive integer, got {size!r}")
    if size >= y.size:
        return np.arange(y.size, dtype=np.int64)
    n_classes = int(np.unique(y).size)
    if size < n_classes:
        raise ConfigError(f"limit must be at least the number of classes ({n_classes}) to keep every class, got {size}")
    idx = resample(np.arange(y.size), replace=False, n_samples=int(size), stratify=y, random_state=seed)
    return _sorted(idx)


def check_labels(
    train_labels: Sequence | np.ndarray, test_labels: Sequence | np.ndarray, *, part: str = "test"
) -> None:
    """A :class:`DatasetError` when a class occurs in ``test_labels`` but not in ``train_labels``.

    Args:
        train_labels: classes of the training samples, shape ``(n_train,)``.
        test_labels: classes of the evaluated samples, shape ``(n_test,)``.
        part: name of the evaluated part, for the message (``"test"``, ``"val"``).
    """
    train = set(np.asarray(train_labels).tolist())
    test = np.asarray(test_labels).tolist()
    unseen = sorted({t for t in test if t not in train}, key=str)
    if unseen:
        counts = ", ".join(f"{lab!r} ({test.count(lab)} samples)" for lab in unseen)
        raise DatasetError(
            f"label(s) {counts} occur in the {part} part but not in training; "
            "a model cannot predict a class it never saw. Use a stratified or different split, "
            "or drop those samples."
        )


# ---------------------------------------------------------------- saving
def save_split(path: str | Path, ids_by_part: Mapping[str, Sequence[str]]) -> Path:
    """Write a split as JSON: ``{"format": "emotune-split", "version": 1, "parts": {part: [ids]}}``.

    An id listed in two parts (or twice) is a :class:`DatasetError`. Returns the path.
    """
    parts: dict[str, list[str]] = {}
    owner: dict[str, str] = {}
    for part, ids in ids_by_part.items():
        if not isinstance(part, str) or not part:
            raise ConfigError(f"split part names must be non-empty strings, got {part!r}")
        if isinstance(ids, str):
            raise ConfigError(f"part {part!r} must be a list of ids, got a string")
        parts[part] = [str(i) for i in ids]
        for i in parts[part]:
            if i in owner:
                raise DatasetError(f"sample id {i!r} is in part {owner[i]!r} and again in part {part!r}; parts must be disjoint")
            owner[i] = part
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": SPLIT_FORMAT, "version": SPLIT_VERSION, "parts": parts}
    out.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    return out


def load_split(path: str | Path) -> dict[str, list[str]]:
    """Read a split written by :func:`save_split`: ``{part: [ids]}``."""
    p = Path(path)
    try:
        payload = json.loads(p.read_text(encoding="utf-8"))
    except OSError as err:
        raise DatasetError(f"cannot read split file {p}: {err.strerror or err}") from None
    except json.JSONDecodeError as err:
        raise DatasetError(f"split file {p} is not valid JSON: {err.msg} (line {err.lineno})") from None
    if not isinstance(payload, dict) or payload.get("format") != SPLIT_FORMAT or not isinstance(payload.get("parts"), dict):
        raise DatasetError(f"{p} is not an emotune split file (expected {{'format': {SPLIT_FORMAT!r}, 'parts': {{...}}}})")
    if payload.get("version") != SPLIT_VERSION:
        raise DatasetError(f"{p}: split format version {payload.get('version')!r} is not supported (expected {SPLIT_VERSION})")
    parts = payload["parts"]
    for part, ids in parts.items():
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise DatasetError(f"{p}: part {part!r} must be a list of id strings")
    return {part: list(ids) for part, ids in parts.items()}


def indices_from_ids(ids: Sequence[str], part_ids: Sequence[str]) -> np.ndarray:
    """Positions of ``part_ids`` in ``ids`` (a dataset's ids), as int64, shape ``(len(part_ids),)``.

    An id the dataset does not have is a :class:`DatasetError`.
    """
    where = {sample_id: i for i, sample_id in enumerate(ids)}
    out = np.empty(len(part_ids), dtype=np.int64)
    for j, sample_id in enumerate(part_ids):
        try:
            out[j] = where[sample_id]
        except KeyError:
            raise DatasetError(
                f"sample id {sample_id!r} from the split is not in the dataset; "
                "was the split saved for another dataset or another limit/seed?"
            ) from None
    return out
