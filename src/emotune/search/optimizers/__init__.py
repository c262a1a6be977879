"""Ask/tell optimizers, one module each, registered by name in :data:`OPTIMIZERS`."""

from __future__ import annotations

import inspect
from typing import Any, Mapping, Sequence

from emotune.exceptions import ConfigError

from emotune.search.optimizers._base import OPTIMIZERS, Candidate, Optimizer, PopulationOptimizer
from emotune.search.optimizers import _random  # noqa: F401  (registers "random")
from emotune.search.optimizers import _ga  # noqa: F401
from emotune.search.optimizers import _pso  # noqa: F401
from emotune.search.optimizers import _aquila  # noqa: F401
from emotune.search.optimizers import _lwaro  # noqa: F401
from emotune.search.optimizers import _tpe  # noqa: F401
from emotune.search.optimizers import _cmaes  # noqa: F401

__all__ = ["OPTIMIZERS", "Candidate", "Optimizer", "PopulationOptimizer", "check_optimizer_options", "make_optimizer"]


_SET_BY_THE_STUDY = ("self", "dim", "budget", "seed", "bits_per_dim")


def check_optimizer_options(name: str, options: Mapping[str, Any]) -> None:
    """Refuse options that the optimizer registered as ``name`` does not take, naming those it does.

    Raises:
        RegistryError: ``name`` is not a registered optimizer.
        ConfigError: e.g. ``pop_size`` for ``random``, which has no population.
    """
    params = inspect.signature(OPTIMIZERS.get(name)).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    accepted = [k for k in params if k not in _SET_BY_THE_STUDY]
    unknown = sorted(k for k in options if k not in accepted)
    if unknown:
        raise ConfigError(
            f"optimizer {name!r} takes no option {', '.join(map(repr, unknown))}; "
            f"its options are: {', '.join(accepted) or 'none'}")


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
    check_optimizer_options(name, options)
    cls = OPTIMIZERS.get(name)
    if cls.uses_bits and bits_per_dim is not None:
        options["bits_per_dim"] = list(bits_per_dim)
    return cls(dim, budget=budget, seed=seed, **options)
