"""Plots for run reports (matplotlib, Agg backend, PNG files)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = ["plot_best_so_far", "plot_confusion_matrix", "confusion_axes"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_best_so_far(
    values: Sequence[float | None], best: Sequence[float | None], path: str | Path, *, ylabel: str, title: str
) -> Path:
    """Trial values (dots; failed trials as red crosses at the bottom) and the best-so-far line.

    Args:
        values: value of each trial in order (``None`` for failed or pruned).
        best: best value after each trial (``None`` before the first success).
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=110)
    x = np.arange(1, len(values) + 1)
    ok = [(i, v) for i, v in zip(x, values) if v is not None]
    finite_best = [(i, b) for i, b in zip(x, best) if b is not None]
    if ok:
        ax.scatter(*zip(*ok), s=14, color="#4c72b0", alpha=0.6, label="trial")
    if finite_best:
        ax.step(*zip(*finite_best), where="post", color="#dd8452", linewidth=2, label="best so far")
    failed = [i for i, v in zip(x, values) if v is None]
    if failed:
        low = min(v for _, v in ok) if ok else 0.0
        ax.scatter(failed, [low] * len(failed), marker="x", color="#c44e52", label="failed")
    ax.set_xlabel("trial")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path


def confusion_axes(fig, ax, matrix: Sequence[Sequence[int]], labels: Sequence[str]) -> None:
    """Draw a row-normalised confusion matrix (rows: true class, ``(C, C)`` counts) with counts in the cells."""
    m = np.asarray(matrix, dtype=float)
    norm = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, f"{int(m[i, j])}", ha="center", va="center", color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)


def plot_confusion_matrix(matrix: Sequence[Sequence[int]], labels: Sequence[str], path: str | Path, *, title: str) -> Path:
    """A row-normalised confusion matrix (rows: true class) with counts in the cells."""
    plt = _pyplot()
    size = max(3.6, 0.7 * len(labels) + 1.8)
    fig, ax = plt.subplots(figsize=(size + 0.8, size), dpi=110)
    confusion_axes(fig, ax, matrix, labels)
    ax.set_title(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
