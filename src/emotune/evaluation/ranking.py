"""Can the search's ranking be trusted? Fold spread of validation fitness next to the gaps between trials.

With ``cv: K`` every trial's fitness is the mean over ``K`` validation folds
(``user_attrs["fold_scores"]``). The spread of those fold scores says how noisy one
trial's number is; if the best trial beats the runner-up by less than that noise,
the search picked among configurations it cannot tell apart.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ["ranking_noise"]


def ranking_noise(trials: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Fold spread and trial gaps from trial records (``state``, ``value``, ``user_attrs.fold_scores``).

    Returns:
        ``None`` when no complete trial has two or more fold scores (a hold-out search); else
        ``folds`` (K), ``fold_std`` (median over trials of the std over folds, ddof 1),
        ``fold_se`` (that std / sqrt(K): the standard error of one trial's mean),
        ``trial_std`` (std of the complete trials' fitness), ``best``, ``runner_up`` and ``gap``
        (best minus runner-up), ``n_trials``, and ``resolved``: whether ``gap > 2 * fold_se``.
    """
    done = [t for t in trials if t.get("state") == "complete" and t.get("value") is not None
            and math.isfinite(float(t["value"]))]
    folds = [list((t.get("user_attrs") or {}).get("fold_scores") or []) for t in done]
    with_folds = [f for f in folds if len(f) >= 2]
    if not with_folds:
        return None
    k = int(np.median([len(f) for f in with_folds]))
    fold_std = float(np.median([np.std(f, ddof=1) for f in with_folds]))
    values = sorted((float(t["value"]) for t in done), reverse=True)
    gap = values[0] - values[1] if len(values) > 1 else float("nan")
    se = fold_std / math.sqrt(k)
    return {
        "folds": k, "fold_std": fold_std, "fold_se": se,
        "trial_std": float(np.std(values, ddof=1)) if len(values) > 1 else float("nan"),
        "best": values[0], "runner_up": values[1] if len(values) > 1 else float("nan"), "gap": gap,
        "n_trials": len(values), "resolved": bool(len(values) > 1 and gap > 2 * se),
    }
