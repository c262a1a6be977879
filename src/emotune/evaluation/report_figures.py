"""Figures of the HTML/markdown reports, each returned as PNG bytes (matplotlib, Agg).

Every function takes plain arrays and lists (no files) and returns ``bytes`` so the
report can embed the image in the HTML page (base64) and write it beside the markdown.
"""

from __future__ import annotations

import io
from typing import Any, Sequence

import numpy as np

__all__ = ["best_so_far_figure", "band_figure", "parallel_coordinates", "importance_bars",
           "confusion_figure", "cd_diagram", "scores_figure"]

_COLORS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c", "#ccb974",
           "#64b5cd"]


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=96)
    _plt().close(fig)
    return buf.getvalue()


def best_so_far_figure(values: Sequence[float | None], seconds: Sequence[float], *, ylabel: str) -> bytes:
    """Two panels: trial values and best so far against trial number, and best so far against wall time.

    Args:
        values: validation score of each trial in order (``None``/NaN for failed ones); higher is better.
        seconds: duration of each trial in seconds (summed for the wall-time axis).
    """
    plt = _plt()
    v = np.array([np.nan if x is None else float(x) for x in values])
    best = np.fmax.accumulate(np.where(np.isnan(v), -np.inf, v))
    best[np.isinf(best)] = np.nan
    t = np.cumsum(np.nan_to_num(np.asarray(seconds, dtype=float)))
    x = np.arange(1, len(v) + 1)
    fig, axes = plt.subplots(1, 2, figsize=(9.6, 3.4))
    axes[0].scatter(x, v, s=14, color=_COLORS[0], alpha=0.6, label="trial")
    axes[0].step(x, best, where="post", color=_COLORS[1], linewidth=2, label="best so far")
    failed = x[np.isnan(v)]
    if failed.size and np.isfinite(v).any():
        axes[0].scatter(failed, np.full(failed.size, np.nanmin(v)), marker="x", color=_COLORS[3], label="failed")
    axes[0].set_xlabel("trial")
    axes[1].step(t, best, where="post", color=_COLORS[1], linewidth=2)
    axes[1].set_xlabel("search wall time (s, sum of trial durations)")
    for ax in axes:
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[0].legend(loc="lower right", fontsize=8)
    return _png(fig)


def band_figure(bands: dict[str, Any], *, xlabel: str, ylabel: str, log_y: bool) -> bytes:
    """Median (line) and interquartile band (shaded) over seeds of each arm's best-so-far curve.

    Args:
        bands: arm label -> ``(grid, q25, median, q75)`` arrays (see :func:`~emotune.evaluation.comparison.curve_band`).
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.2, 4.0))
    for k, (label, (grid, q25, med, q75)) in enumerate(bands.items()):
        color = _COLORS[k % len(_COLORS)]
        floor = 1e-12 if log_y else -np.inf
        ax.plot(grid, np.maximum(med, floor), color=color, label=label, linewidth=1.8)
        ax.fill_between(grid, np.maximum(q25, floor), np.maximum(q75, floor), color=color, alpha=0.18, linewidth=0)
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="best")
    return _png(fig)


def scores_figure(scores: dict[str, Sequence[float]], *, ylabel: str) -> bytes:
    """Each arm's score per seed (dots) with its median (bar), one column per arm."""
    plt = _plt()
    labels = list(scores)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(labels) + 1.5), 3.6))
    rng = np.random.default_rng(0)
    for k, label in enumerate(labels):
        v = np.asarray(scores[label], dtype=float)
        v = v[np.isfinite(v)]
        ax.scatter(k + rng.uniform(-0.12, 0.12, v.size), v, s=18, color=_COLORS[k % len(_COLORS)], alpha=0.8)
        if v.size:
            ax.hlines(np.median(v), k - 0.3, k + 0.3, color="black", linewidth=2)
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, axis="y")
    return _png(fig)


def parallel_coordinates(columns: dict[str, Sequence[Any]], scores: Sequence[float], *, score_name: str) -> bytes:
    """One line per trial across the parameter axes (each scaled to [0, 1]), coloured by score; best in red.

    Args:
        columns: parameter name -> value per trial (numbers, or strings/bools as categories).
        scores: score per trial (same order; higher is better).
    """
    plt = _plt()
    names = list(columns)
    y = np.asarray(scores, dtype=float)
    scaled, ticks = [], []
    for name in names:
        col = list(columns[name])
        try:
            arr = np.array([float(c) for c in col])
            lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
            log = lo > 0 and hi / lo >= 100
            a = np.log10(arr) if log else arr
            lo_, hi_ = (np.log10(lo), np.log10(hi)) if log else (lo, hi)
            scaled.append((a - lo_) / (hi_ - lo_) if hi_ > lo_ else np.full(len(a), 0.5))
            ticks.append((f"{lo:.3g}", f"{hi:.3g}"))
        except (TypeError, ValueError):
            cats = sorted({str(c) for c in col})
            pos = {c: i / max(len(cats) - 1, 1) for i, c in enumerate(cats)}
            scaled.append(np.array([pos[str(c)] for c in col]))
            ticks.append((cats[0], cats[-1]))
    lo, hi = np.nanmin(y), np.nanmax(y)
    scaled.append((y - lo) / (hi - lo) if hi > lo else np.full(len(y), 0.5))
    ticks.append((f"{lo:.3g}", f"{hi:.3g}"))
    table = np.column_stack(scaled)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * (len(names) + 1)), 4.0))
    cmap = plt.get_cmap("viridis")
    order = np.argsort(y)
    xs = np.arange(table.shape[1])
    for i in order:
        ax.plot(xs, table[i], color=cmap(table[i, -1]), alpha=0.55, linewidth=1)
    best = int(np.nanargmax(y))
    ax.plot(xs, table[best], color="#c44e52", linewidth=2.5, label="best trial")
    ax.set_xticks(xs, [*names, score_name], rotation=30, ha="right", fontsize=8)
    for x, (low, high) in zip(xs, ticks):
        ax.text(x, -0.06, low, ha="center", va="top", fontsize=6, color="#555")
        ax.text(x, 1.06, high, ha="center", va="bottom", fontsize=6, color="#555")
    ax.set_ylim(-0.15, 1.15)
    ax.set_yticks([])
    ax.legend(fontsize=8, loc="upper left")
    return _png(fig)


def importance_bars(importances: dict[str, float], *, title: str) -> bytes:
    """Horizontal bars of parameter importance (largest on top)."""
    plt = _plt()
    items = sorted(importances.items(), key=lambda kv: kv[1])
    fig, ax = plt.subplots(figsize=(6.0, 0.35 * len(items) + 1.2))
    ax.barh([k for k, _ in items], [v for _, v in items], color=_COLORS[0])
    ax.set_xlabel("importance")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, axis="x")
    return _png(fig)


def confusion_figure(matrix: Sequence[Sequence[int]], labels: Sequence[str]) -> bytes:
    """Row-normalised confusion matrix (rows: true class) with counts in the cells."""
    from emotune.evaluation.plots import confusion_axes

    plt = _plt()
    size = max(3.4, 0.6 * len(labels) + 1.8)
    fig, ax = plt.subplots(figsize=(size + 0.8, size))
    confusion_axes(fig, ax, matrix, labels)
    return _png(fig)


def cd_diagram(ranks: dict[str, float], cd: float) -> bytes:
    """Demšar's critical-difference diagram: arms on an axis of average rank (1 = best, left);
    thick bars join arms whose average ranks differ by less than ``cd`` (no significant difference)."""
    plt = _plt()
    items = sorted(ranks.items(), key=lambda kv: kv[1])
    k = len(items)
    fig, ax = plt.subplots(figsize=(7.2, 1.2 + 0.32 * k))
    ax.set_xlim(-1.6, k + 2.6)
    ax.set_ylim(-(k + 1) * 0.5 - 0.5, 1.2)
    ax.hlines(0, 1, k, color="black")
    for r in range(1, k + 1):
        ax.vlines(r, 0, 0.15, color="black")
        ax.text(r, 0.25, str(r), ha="center", fontsize=8)
    half = (k + 1) // 2
    for i, (name, rank) in enumerate(items):
        depth = -0.5 * (i + 1) if i < half else -0.5 * (k - i)
        side_x = 0.8 if i < half else k + 0.2
        ax.plot([rank, rank, side_x], [0, depth, depth], color="#333", linewidth=0.9)
        ax.text(side_x, depth, f"{name} ({rank:.2f})", ha="right" if i < half else "left",
                va="center", fontsize=8)
    if np.isfinite(cd):
        ax.plot([1, 1 + cd], [0.75, 0.75], color="#c44e52", linewidth=2)
        ax.text(1 + cd / 2, 0.85, f"CD = {cd:.2f}", ha="center", fontsize=8, color="#c44e52")
        values = [r for _, r in items]
        bars, last_end = [], -1
        for i in range(k):
            j = max(jj for jj in range(i, k) if values[jj] - values[i] < cd)
            if j > i and j > last_end:
                bars.append((values[i], values[j]))
                last_end = j
        for b, (lo, hi) in enumerate(bars):
            ax.plot([lo - 0.03, hi + 0.03], [-0.18 - 0.12 * b] * 2, color="black", linewidth=3)
    ax.axis("off")
    return _png(fig)
