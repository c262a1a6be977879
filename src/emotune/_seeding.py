"""Seeding helpers so every run repeats."""

from __future__ import annotations

import os
import random

import numpy as np

__all__ = ["make_rng", "seed_everything"]


def make_rng(seed: int | None | np.random.Generator) -> np.random.Generator:
    """A ``numpy.random.Generator`` from a seed (or the generator itself)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and (if already imported or installed) PyTorch."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    try:
        import torch
    except ImportError:  # torch is an optional extra
        return
    torch.manual_seed(seed)
