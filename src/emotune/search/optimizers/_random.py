"""Random search: uniform sampling in the unit box (the baseline every optimizer must beat)."""

from __future__ import annotations

from typing import Any

import numpy as np

from emotune.search.optimizers._base import OPTIMIZERS, Optimizer

__all__ = ["RandomSearch"]


@OPTIMIZERS.register("random")
class RandomSearch(Optimizer):
    """Independent uniform samples ``x ~ U[0, 1]^d``."""

    name = "random"

    def _propose(self, n: int) -> tuple[np.ndarray, list[Any]]:
        return self.rng.random((n, self.dim)), [None] * n
