"""Ask/tell optimizers, one module each, registered by name in :data:`OPTIMIZERS`."""

from __future__ import annotations

from typing import Any, Sequence

from emotune.search.optimizers._base import OPTIMIZERS, Candidate, Optimizer, PopulationOptimizer
from emotune.search.optimizers import _random  # noqa: F401  (registers "random")
from emotune.search.optimizers import _ga  # noqa: F401
from emotune.search.optimizers import _pso  # noqa: F401
from emotune.search.optimizers import _aquila  # noqa: F401
from emotune.search.optimizers import _lwaro  # noqa: F401
from emotune.search.optimizers import _tpe  # noqa: F401
from emotune.search.optimizers import _cmaes  # noqa: F401

__all__ = ["OPTIMIZERS", "Candidate", "Optimizer", "PopulationOptimizer", "make_optimizer"]


def make_optimizer(
    name: str,
    dim: int,
    *,
    budget: int = 100,
    seed: int | None = None,
    bits_per_dim: Sequence[int] | None = None,
    **options: Any,
) -> Optimizer:
    """Build the optimizer registered as ``name`` for a ``dim``-dimensional box.

    ``bits_per_dim`` is passed only to bit-string optimizers (``uses_bits``).
    """
    cls = OPTIMIZERS.get(name)
    if cls.uses_bits and bits_per_dim is not None:
        options["bits_per_dim"] = list(bits_per_dim)
    return cls(dim, budget=budget, seed=seed, **options)
