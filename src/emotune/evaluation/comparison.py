"""The statistics of a finished (or partly finished) comparison, from its plan and run records.

Arms are compared within *groups*: arms that share the values of every varied key
except the reference key. With ``--vary model=a,b --vary tuned=false,true
--reference tuned=false`` there are two groups (``model=a`` and ``model=b``), each
an ablation of tuning for one model; with a single ``--vary`` there is one group.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from emotune.evaluation import statistics as S

__all__ = ["analyze", "seed_matrix", "curve_band"]


def seed_matrix(plan: Any, records: Sequence[dict[str, Any]], labels: Sequence[str]) -> np.ndarray:
    """Scores of shape ``(n_seeds, len(labels))`` in plan seed order; NaN for missing or failed runs."""
    index = {(r["arm"], int(r["seed"])): r for r in records}
    out = np.full((len(plan.seeds), len(labels)), np.nan)
    for i, seed in enumerate(plan.seeds):
        for j, label in enumerate(labels):
            r = index.get((label, int(seed)))
            if r is not None and r.get("value") is not None:
                out[i, j] = float(r["value"])
    return out


def _groups(plan: Any) -> list[tuple[str, list[dict[str, Any]], dict[str, Any] | None]]:
    """``(group name, arms, reference arm)`` for each combination of the non-reference keys."""
    ref_key, _, ref_value = plan.reference.partition("=")
    groups: dict[str, list[dict[str, Any]]] = {}
    for arm in plan.arms:
        others = ",".join(f"{k}={_fmt(v)}" for k, v in arm["values"].items() if k != ref_key)
        groups.setdefault(others or "all arms", []).append(arm)
    out = []
    for name, arms in groups.items():
        ref = next((a for a in arms if _fmt(a["values"][ref_key]) == ref_value), None)
        out.append((name, arms, ref))
    return out


def _fmt(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def curve_band(curves: Sequence[Sequence[Sequence[float]]], *, axis: int, grid_points: int = 100):
    """Median and quartiles over runs of the step-wise best-so-far score.

    Args:
        curves: per run, rows ``[trial, best_so_far, seconds]``.
        axis: 0 to put trials on x, 2 to put seconds on x.

    Returns:
        ``(grid, q25, median, q75)`` float arrays of shape ``(grid_points,)`` (NaN where no run has a value
        yet); ``None`` when there are no curves.
    """
    curves = [np.asarray(c, dtype=float) for c in curves if len(c)]
    if not curves:
        return None
    hi = max(c[-1, axis] for c in curves)
    lo = min(c[0, axis] for c in curves)
    grid = np.linspace(lo, hi, grid_points) if hi > lo else np.array([lo])
    rows = []
    for c in curves:
        pos = np.searchsorted(c[:, axis], grid, side="right") - 1
        # after a run ends (time axis) its final best value holds
        rows.append(np.where(pos >= 0, c[np.clip(pos, 0, None), 1], np.nan))
    table = np.array(rows)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            q25, med, q75 = np.nanpercentile(table, [25, 50, 75], axis=0)
    return grid, q25, med, q75


def analyze(plan: Any, records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per-arm summaries, paired tests against the reference arm and Friedman ranks, per group.

    Returns:
        ``{"metric", "higher_is_better", "reference", "seeds", "runs_done", "runs_planned",
        "failed_runs", "arms": {label: summary + wall time}, "groups": [{"name", "arms",
        "reference", "paired", "friedman"}], "fairness": {...}}``.
    """
    labels = [a["label"] for a in plan.arms]
    matrix = seed_matrix(plan, records, labels)
    by_arm: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_arm.setdefault(r["arm"], []).append(r)
    arms = {}
    for j, label in enumerate(labels):
        rs = by_arm.get(label, [])
        summary = S.summarize(matrix[:, j])
        summary["runs"] = len(rs)
        summary["missing"] = len(plan.seeds) - len(rs)
        summary["wall_seconds_mean"] = float(np.mean([r["wall_seconds"] for r in rs])) if rs else float("nan")
        folds = [v for r in rs for v in (r.get("fold_values") or []) if v is not None]
        if folds:
            summary["over_folds"] = S.summarize(folds)
        arms[label] = summary
    groups = []
    for name, members, ref in _groups(plan):
        cols = [labels.index(a["label"]) for a in members]
        values = {a["label"]: matrix[:, c] for a, c in zip(members, cols)}
        group: dict[str, Any] = {"name": name, "arms": [a["label"] for a in members],
                                 "reference": ref["label"] if ref else None}
        if ref is not None and len(plan.seeds) >= 2:
            group["paired"] = S.compare_to_reference(values, ref["label"], higher_is_better=plan.higher_is_better)
        else:
            group["paired"] = None
        group["friedman"] = S.friedman(values, higher_is_better=plan.higher_is_better) if len(plan.seeds) >= 2 else None
        groups.append(group)
    return {
        "metric": plan.metric,
        "higher_is_better": plan.higher_is_better,
        "reference": plan.reference,
        "seeds": list(plan.seeds),
        "runs_planned": len(plan.arms) * len(plan.seeds),
        "runs_done": len(records),
        "failed_runs": [{"arm": r["arm"], "seed": r["seed"], "error": r.get("error")} for r in records
                        if r.get("error")],
        "arms": arms,
        "groups": groups,
        "fairness": fairness(plan, records),
    }


def fairness(plan: Any, records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Checks that the arms of each seed saw the same data: one split hash per seed (tune runs)."""
    hashes: dict[int, set[str]] = {}
    for r in records:
        if r.get("split_sha256"):
            hashes.setdefault(int(r["seed"]), set()).add(r["split_sha256"])
    differing = sorted(s for s, h in hashes.items() if len(h) > 1)
    return {
        "same_seeds": True,
        "budget": f"{plan.budget_by}: " + (f"{plan.time_budget} s per run" if plan.budget_by == "time"
                                           else f"{plan.base.get('trials')} trials per run"),
        "splits_checked": bool(hashes),
        "seeds_with_different_splits": differing,
    }
