"""CMA-ES: the ``cmaes`` package (the one Optuna's ``CmaEsSampler`` uses) behind emotune's ask/tell contract.

A reference optimizer, not one of the papers' metaheuristics: Hansen's
covariance matrix adaptation evolution strategy (Hansen 2016, "The CMA
Evolution Strategy: A Tutorial"), as implemented by ``cmaes.CMA``; emotune only
translates. In the unit box ``[0, 1]^d``:

* initial mean ``m0 = (0.5, ..., 0.5)`` (the centre of the box) and step size
  ``sigma0 = 1/6`` (Optuna's ``CmaEsSampler`` default, ``min(range) / 6``),
  so the first population covers the box at about 3 sigma;
* population ``lambda = 4 + floor(3 ln d)`` (``cmaes``' default: 10 at
  ``d = 10``, 14 at ``d = 30``), settable with ``pop_size``;
* bounds ``[0, 1]`` per dimension: ``cmaes`` resamples a candidate outside the
  box (up to 100 times) and then clips it;
* restarts (``restarts=True``, the default): when ``cmaes`` reports that the
  search has converged (``should_stop()``: tolerance on the values or on
  sigma, or a degenerate covariance), a fresh ``CMA`` starts with the same
  population and ``sigma0`` from a mean drawn uniformly in the box, so a long
  budget is not spent sampling one point. The best point so far is kept by
  the base class.

Each generation is one ``cmaes`` generation: ``lambda`` candidates from
``CMA.ask()``, and ``CMA.tell()`` with all ``lambda`` results once every one
is told (emotune's generation rule is exactly what ``cmaes`` needs). A failed
trial (non-finite value, told as ``+inf``) is given to ``cmaes`` as the worst
finite value of its generation plus ``max(1, |worst|)``, so it ranks last
(CMA-ES uses only the ranking) without putting ``inf`` into its statistics.

Seeding: each ``CMA`` gets ``seed = integers(0, 2**31 - 1)`` from ``self.rng``
(and each restart's mean ``random(d)``), so one emotune seed fixes the run; the
``CMA`` object and the state of its own ``RandomState`` (which ``cmaes``
leaves out of a pickle) are part of the state and are restored on resume.
So is its covariance matrix as it is in memory: ``cmaes`` pickles only the
upper triangle, and its ``C`` carries rounding-level asymmetry, which a
resumed study would otherwise turn into a different run.

Overhead: ``CMA.ask()`` draws one candidate per call and the eigendecomposition
runs once per generation; with a multi-threaded OpenBLAS on a busy machine a
30 x 30 ``eigh`` can take tens of milliseconds (``OPENBLAS_NUM_THREADS=1`` fixes
that; ``bench/optimizers.py`` sets it).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from emotune.exceptions import ConfigError
from emotune.search.optimizers._base import OPTIMIZERS, PopulationOptimizer

__all__ = ["CMAES", "default_population", "ranked_values", "SIGMA0"]

#: Initial step size in the unit box (Optuna's CmaEsSampler default: a sixth of the range).
SIGMA0 = 1.0 / 6.0


def default_population(dim: int) -> int:
    """``4 + floor(3 ln d)``, the standard CMA-ES population (``cmaes``' default)."""
    return 4 + int(np.floor(3 * np.log(dim)))


def ranked_values(values: np.ndarray) -> np.ndarray:
    """Values for ``cmaes``: ``+inf`` (failures) replaced by a finite value worse than every finite one.

    Args:
        values: float64 ``(lambda,)``, lower is better, failures ``+inf``.

    Returns:
        float64 ``(lambda,)``, all finite, same order of the finite values.
    """
    v = np.asarray(values, dtype=float).copy()
    finite = np.isfinite(v)
    worst = float(v[finite].max()) if finite.any() else 0.0
    v[~finite] = worst + max(1.0, abs(worst))
    return v


@OPTIMIZERS.register("cmaes")
class CMAES(PopulationOptimizer):
    """CMA-ES of the ``cmaes`` package in the unit box (module docstring).

    Args:
        dim, budget, seed: see :class:`~emotune.search.optimizers.Optimizer`.
        pop_size: ``lambda``; default ``4 + floor(3 ln d)`` (at least 2).
        sigma0: initial step size in the unit box, in ``(0, 1]`` (default 1/6).
        restarts: start a fresh ``CMA`` from a random mean when it has converged.
    """

    name = "cmaes"
    _state_keys: ClassVar[tuple[str, ...]] = ("cma_", "n_restarts_", "_gen_values")

    def __init__(
        self,
        dim: int,
        *,
        budget: int = 100,
        seed: int | None = None,
        pop_size: int | None = None,
        sigma0: float = SIGMA0,
        restarts: bool = True,
    ) -> None:
        lam = max(2, default_population(int(dim))) if pop_size is None else int(pop_size)
        super().__init__(dim, budget=budget, seed=seed, pop_size=lam)
        if not 0.0 < float(sigma0) <= 1.0:
            raise ConfigError(f"sigma0 must be in (0, 1] (a fraction of the box width), got {sigma0}")
        try:  # imported here (not at module import) so `import emotune` stays fast, and fails early here
            import cmaes  # noqa: F401
        except ImportError as exc:
            raise ConfigError(f"optimizer 'cmaes' needs the cmaes package (pip install cmaes): {exc}") from exc
        self.sigma0 = float(sigma0)
        self.restarts = bool(restarts)
        self.cma_ = None
        self.n_restarts_ = 0
        self._gen_values = np.empty(0)

    def _new_cma(self, mean: np.ndarray):
        from cmaes import CMA

        return CMA(
            mean=np.asarray(mean, dtype=float),
            sigma=self.sigma0,
            bounds=np.tile([0.0, 1.0], (self.dim, 1)),
            seed=int(self.rng.integers(0, 2**31 - 1)),
            population_size=self.pop_size,
        )

    def _new_generation(self) -> np.ndarray:
        if self.cma_ is None:
            self.cma_ = self._new_cma(np.full(self.dim, 0.5))
        else:
            solutions = [(x, float(v)) for x, v in zip(self._queue, ranked_values(self._gen_values))]
            self.cma_.tell(solutions)
            if self.restarts and self.cma_.should_stop():
                self.n_restarts_ += 1
                self.cma_ = self._new_cma(self.rng.random(self.dim))
        self._gen_values = np.full(self.pop_size, np.inf)
        return np.stack([self.cma_.ask() for _ in range(self.pop_size)])

    def _record(self, slots: np.ndarray, X: np.ndarray, values: np.ndarray) -> None:
        self._gen_values[slots] = values

    def state_dict(self) -> dict:
        state = super().state_dict()
        # cmaes leaves its RandomState out of a pickle (and a deepcopy keeps it, a pickle does not),
        # so the generator's state is saved next to the object and put back on load.
        state["algo"]["cma_rng_"] = None if self.cma_ is None else self.cma_._rng.get_state()
        state["algo"]["cma_C_"] = None if self.cma_ is None else self.cma_._C.copy()  # exact, not mirrored
        return state

    def load_state_dict(self, state: dict) -> None:
        algo = dict(state["algo"])
        rng_state = algo.pop("cma_rng_", None)
        cov = algo.pop("cma_C_", None)
        super().load_state_dict(dict(state, algo=algo))
        if self.cma_ is not None and rng_state is not None:
            self.cma_._rng = np.random.RandomState()
            self.cma_._rng.set_state(rng_state)
        if self.cma_ is not None and cov is not None:
            self.cma_._C = np.array(cov)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(dim={self.dim}, budget={self.budget}, seed={self.seed}, pop_size={self.pop_size}, "
            f"sigma0={self.sigma0:.4g}, restarts={self.restarts})"
        )
