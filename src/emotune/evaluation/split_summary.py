"""Who is in each part of a split: samples, distinct groups (speakers) and class counts."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = ["split_summary"]


def split_summary(
    y: np.ndarray, labels: Sequence[str], groups: np.ndarray | None, splits: Sequence[tuple]
) -> dict[str, dict[str, Any]]:
    """Per part of every outer split: ``{"n", "groups", "classes": {label: count}}``.

    Args:
        y: int class index per sample, shape ``(n,)``.
        labels: class names, ``labels[k]`` for index ``k``.
        groups: group (speaker) per sample, shape ``(n,)``, or ``None`` (then ``groups`` is ``None``).
        splits: ``(train_idx, val_idx, test_idx, description)`` per outer split; parts are named
            ``train``/``val``/``test`` for one split and ``fold K train``... for several.
    """
    out: dict[str, dict[str, Any]] = {}
    for k, (train_idx, val_idx, test_idx, *_rest) in enumerate(splits):
        prefix = "" if len(splits) == 1 else f"fold {k + 1} "
        for part, idx in (("train", train_idx), ("val", val_idx), ("test", test_idx)):
            idx = np.asarray(idx, dtype=int)
            counts = np.bincount(np.asarray(y)[idx], minlength=len(labels))
            out[prefix + part] = {
                "n": int(idx.size),
                "groups": None if groups is None else int(len(set(np.asarray(groups)[idx].tolist()))),
                "classes": {str(labels[c]): int(counts[c]) for c in range(len(labels))},
            }
    return out
