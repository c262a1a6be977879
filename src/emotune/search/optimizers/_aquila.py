"""Aquila Optimizer (AO): four hunting moves of the Aquila eagle, as in the paper.

Abualigah, Yousri, Abd Elaziz, Ewees, Al-qaness and Gandomi, "Aquila Optimizer:
A novel meta-heuristic optimization algorithm", Computers & Industrial
Engineering 157 (2021) 107250. This module follows the paper's equations, not
mealpy's or the authors' MATLAB code (both differ, e.g. in eq. 3's bracket and
the names of ``G1``/``G2``).

Domain. The paper's constants are not scale-free, so the equations run in an
internal box ``[LB, UB]^D`` mapped affinely to the unit box the study sees
(``z = LB + (UB - LB) u``; positions, ``X_best`` and ``X_M`` are mapped, the
new position is clipped to ``[LB, UB]`` and mapped back):

* ``aquila`` (default): ``[LB, UB] = [-100, 100]``, the domain of the paper's
  benchmark functions, where the spiral offset ``y - x`` (about ``r1 = 10``)
  is 5% of the box and eq. 13's ``- rand`` is a small step;
* ``aquila_unit``: ``[0, 1]``, the equations exactly as written in the unit
  box. There ``y - x`` is ten box widths, so most X2 coordinates are clipped
  to 1, and eq. 13's ``- rand`` sends most X3 coordinates to 0: measured on a
  shifted sphere in 10-D (2,000 evaluations), 49% of all proposed coordinates
  in the exploration phase and 53% in the exploitation phase lie on a face of
  the box, against 1% and 0% for ``aquila``.

Both keep the paper's centre bias: eq. 3 pulls toward ``X_M`` and
``X_best (1 - t/T)`` (toward the origin of the internal box, the centre of
the unit box for ``aquila``), eq. 13 is centred on ``(LB + UB) / 2 * delta``.
On a hyperparameter space, whose optimum is rarely at the centre, expect
Aquila to do better than on its centred benchmarks suggests only when the
optimum is near the middle of the ranges (see ``docs/optimizers.md``).

Definition (minimising in ``[LB, UB]^D``). ``N`` agents ``X_i`` of dimension
``D``; ``t = 1..T`` is the generation (``T = max_generations``); ``X_best`` is
the best point told so far; ``rand`` is a fresh ``U(0, 1)`` scalar per agent
and per occurrence.

* Generation 0: ``X_i ~ U[LB, UB]^D`` (uniform in the unit box).
* For ``t <= 2T/3`` (exploration) each agent draws ``rand``; if
  ``rand < 0.5``:

  - expanded exploration (eq. 3): ``X1 = X_best (1 - t/T) + (X_M - X_best * rand)``,
    ``X_M = (1/N) sum_i X_i`` (eq. 4);

  otherwise

  - narrowed exploration (eq. 5): ``X2 = X_best * Levy(D) + X_R + (y - x) * rand``,
    ``X_R`` a uniformly drawn agent, ``Levy(D)`` Mantegna's Levy flight with
    ``s = 0.01``, ``beta = 1.5`` (eqs. 6-7), and the spiral
    ``y = r cos(theta)``, ``x = r sin(theta)`` (eqs. 8-9),
    ``r = r1 + U * D1`` (eq. 10), ``theta = -omega * D1 + theta1`` (eq. 11),
    ``theta1 = 3 pi / 2`` (eq. 12), ``D1 = 1..D``, ``U = 0.00565``,
    ``omega = 0.005``.

* For ``t > 2T/3`` (exploitation) each agent draws ``rand``; if ``rand < 0.5``:

  - expanded exploitation (eq. 13):
    ``X3 = (X_best - X_M) * alpha - rand + ((UB - LB) * rand + LB) * delta``,
    ``alpha = delta = 0.1``;

  otherwise

  - narrowed exploitation (eq. 14):
    ``X4 = QF * X_best - G1 * X * rand - G2 * Levy(D) + rand * G1`` with
    ``QF(t) = t ** ((2 rand - 1) / (1 - T)**2)`` (eq. 15),
    ``G1 = 2 rand - 1`` (eq. 16), ``G2 = 2 (1 - t/T)`` (eq. 17).

* Greedy replacement: the new position replaces agent ``i`` only if its value
  is strictly better (a failed trial, ``nan``/``inf``, never replaces).

Choices the paper leaves open (documented here, tested in
``tests/search/test_aquila.py``):

* ``r1`` is a fixed constant, default 10 (the value in the authors' reference
  code), settable in ``[1, 20]``; ``y - x`` is then about ``r1`` in every
  dimension.
* Every ``rand`` (and the rand inside ``QF`` and ``G1``) is drawn per agent,
  one scalar for all ``D`` coordinates. Draw order per generation:
  ``random(N)`` (the ``rand < 0.5`` choice), then for exploration
  ``random((N, 1))`` (eq. 3), ``integers(0, N, N)`` (``X_R``), Levy ``(N, D)``
  (``u`` then ``v``), ``random((N, 1))`` (eq. 5); for exploitation
  ``random((N, 1))`` twice (eq. 13), ``random((N, 1))`` (``QF``),
  ``random((N, 1))`` (``G1``), Levy ``(N, D)``, ``random((N, 1))`` twice (eq. 14).
  All four moves are computed for every agent and the choice picks one.
* Positions outside the box are clipped to ``[LB, UB]`` (as the authors' code
  does); ``t`` is capped at ``T`` if a study asks past its budget.
* Generation rule: a generation closes when all ``N`` agents are told, so
  greedy replacement sees every result.
* ``X_M`` is the mean of the current agents (positions of agents whose value is
  not yet known included); ``X_best`` falls back to the agent with the lowest
  value when nothing has been told yet.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from emotune.exceptions import ConfigError
from emotune.search.optimizers._base import OPTIMIZERS, PopulationOptimizer, levy_flight

__all__ = [
    "Aquila",
    "AquilaUnit",
    "expanded_exploration",
    "narrowed_exploration",
    "expanded_exploitation",
    "narrowed_exploitation",
    "spiral",
    "quality_function",
    "g1_motion",
    "g2_flight_slope",
]

#: Constants fixed by the paper (section 3 and Table 2).
U_SPIRAL = 0.00565
OMEGA = 0.005
THETA1 = 3 * np.pi / 2  # eq. 12
ALPHA = 0.1
DELTA = 0.1
LEVY_BETA = 1.5
LEVY_SCALE = 0.01


# --- pure functions: one per equation ---------------------------------------------
def spiral(
    *, dim: int, r1: float = 10.0, u: float = U_SPIRAL, omega: float = OMEGA, theta1: float = THETA1
) -> tuple[np.ndarray, np.ndarray]:
    """The spiral ``(y, x)`` of the narrowed exploration (eqs. 8-12).

    Args:
        dim: ``D``; ``D1 = 1..D``.
        r1: spiral radius offset, in ``[1, 20]``.
        u, omega, theta1: the paper's constants.

    Returns:
        ``y``, ``x``: float64 arrays of shape ``(D,)``.
    """
    d1 = np.arange(1, dim + 1, dtype=float)
    r = r1 + u * d1  # eq. 10
    theta = -omega * d1 + theta1  # eq. 11
    y = r * np.cos(theta)  # eq. 8
    x = r * np.sin(theta)  # eq. 9
    return y, x


def expanded_exploration(
    *, x_best: np.ndarray, x_mean: np.ndarray, t: float, T: float, rand: np.ndarray | float
) -> np.ndarray:
    """Expanded exploration, eq. 3: ``X_best (1 - t/T) + (X_M - X_best * rand)``.

    Args:
        x_best: float64 ``(D,)``, the best point so far.
        x_mean: float64 ``(D,)``, the population mean ``X_M`` (eq. 4).
        t, T: current generation and the number of generations.
        rand: ``U(0, 1)`` draw(s), scalar or ``(n, 1)`` for ``n`` agents.

    Returns:
        float64 ``(D,)`` or ``(n, D)``.
    """
    return x_best * (1 - t / T) + (x_mean - x_best * rand)  # eq. 3


def narrowed_exploration(
    *,
    x_best: np.ndarray,
    x_r: np.ndarray,
    levy: np.ndarray,
    y: np.ndarray,
    x: np.ndarray,
    rand: np.ndarray | float,
) -> np.ndarray:
    """Narrowed exploration, eq. 5: ``X_best * Levy(D) + X_R + (y - x) * rand``.

    Args:
        x_best: float64 ``(D,)``.
        x_r: float64 ``(D,)`` or ``(n, D)``, random agent(s) ``X_R``.
        levy: float64 ``(D,)`` or ``(n, D)``, Levy steps (eqs. 6-7).
        y, x: float64 ``(D,)``, the spiral (:func:`spiral`).
        rand: scalar or ``(n, 1)``.

    Returns:
        float64 ``(D,)`` or ``(n, D)``.
    """
    return x_best * levy + x_r + (y - x) * rand  # eq. 5


def expanded_exploitation(
    *,
    x_best: np.ndarray,
    x_mean: np.ndarray,
    rand1: np.ndarray | float,
    rand2: np.ndarray | float,
    alpha: float = ALPHA,
    delta: float = DELTA,
    lb: float = 0.0,
    ub: float = 1.0,
) -> np.ndarray:
    """Expanded exploitation, eq. 13: ``(X_best - X_M) alpha - rand1 + ((UB - LB) rand2 + LB) delta``.

    Args:
        x_best, x_mean: float64 ``(D,)``.
        rand1, rand2: the two independent ``U(0, 1)`` draws, scalar or ``(n, 1)``.
        alpha, delta: exploitation adjustment parameters (0.1 in the paper).
        lb, ub: box bounds (0 and 1 in the unit box).

    Returns:
        float64 ``(D,)`` or ``(n, D)``.
    """
    return (x_best - x_mean) * alpha - rand1 + ((ub - lb) * rand2 + lb) * delta  # eq. 13


def quality_function(*, t: float, T: float, rand: np.ndarray | float) -> np.ndarray:
    """Quality function, eq. 15: ``QF(t) = t ** ((2 rand - 1) / (1 - T)**2)``.

    For ``T = 1`` the exponent is undefined; there ``t = 1`` and ``QF = 1`` (the limit).
    """
    rand = np.asarray(rand, dtype=float)
    if T == 1:
        return np.ones_like(rand)
    return np.power(float(t), (2 * rand - 1) / (1 - T) ** 2)  # eq. 15


def g1_motion(*, rand: np.ndarray | float) -> np.ndarray:
    """Eq. 16: ``G1 = 2 rand - 1``, in ``[-1, 1]``."""
    return 2 * np.asarray(rand, dtype=float) - 1  # eq. 16


def g2_flight_slope(*, t: float, T: float) -> float:
    """Eq. 17: ``G2 = 2 (1 - t/T)``, decreasing from 2 to 0."""
    return 2 * (1 - t / T)  # eq. 17


def narrowed_exploitation(
    *,
    x: np.ndarray,
    x_best: np.ndarray,
    levy: np.ndarray,
    qf: np.ndarray | float,
    g1: np.ndarray | float,
    g2: float,
    rand1: np.ndarray | float,
    rand2: np.ndarray | float,
) -> np.ndarray:
    """Narrowed exploitation, eq. 14: ``QF X_best - G1 X rand1 - G2 Levy(D) + rand2 G1``.

    Args:
        x: float64 ``(D,)`` or ``(n, D)``, the agent's current position(s).
        x_best: float64 ``(D,)``.
        levy: float64 ``(D,)`` or ``(n, D)``, Levy steps (eqs. 6-7).
        qf, g1: eqs. 15-16, scalar or ``(n, 1)``.
        g2: eq. 17.
        rand1, rand2: ``U(0, 1)`` draws, scalar or ``(n, 1)``.

    Returns:
        float64 ``(D,)`` or ``(n, D)``.
    """
    return qf * x_best - g1 * x * rand1 - g2 * levy + rand2 * g1  # eq. 14


# --- the optimizer ------------------------------------------------------------------
@OPTIMIZERS.register("aquila")
class Aquila(PopulationOptimizer):
    """Aquila Optimizer (Abualigah et al. 2021) with greedy replacement, run in ``[-100, 100]^D``.

    The equations run in the internal box ``[lb, ub]^D`` (``domain``), mapped
    affinely to the unit box the study sees: ``z = lb + (ub - lb) u``. The
    default ``(-100, 100)`` is the domain of the paper's benchmarks, where its
    constants (``r1 = 10``, the ``- rand`` of eq. 13, ``alpha = delta = 0.1``)
    make steps of a few percent of the box; ``aquila_unit`` runs them in
    ``[0, 1]^D`` exactly as written.

    Args:
        dim, budget, seed: see :class:`~emotune.search.optimizers.Optimizer`.
        pop_size: agents ``N`` (default 20).
        r1: spiral radius offset of eq. 10, fixed, in ``[1, 20]`` (default 10).
        domain: ``(lb, ub)`` of the internal box, ``lb < ub`` (default: the
            class's, ``(-100, 100)`` for ``aquila``, ``(0, 1)`` for ``aquila_unit``).

    State (resumable): ``pop_`` (float64 ``(N, D)``, unit box) and ``fit_``
    (float64 ``(N,)``, ``+inf`` until told).
    """

    name = "aquila"
    default_domain: ClassVar[tuple[float, float]] = (-100.0, 100.0)
    _state_keys: ClassVar[tuple[str, ...]] = ("pop_", "fit_")

    def __init__(
        self,
        dim: int,
        *,
        budget: int = 100,
        seed: int | None = None,
        pop_size: int = 20,
        r1: float = 10.0,
        domain: tuple[float, float] | None = None,
    ) -> None:
        super().__init__(dim, budget=budget, seed=seed, pop_size=pop_size)
        if not 1.0 <= float(r1) <= 20.0:
            raise ConfigError(f"r1 must be in [1, 20] (Aquila eq. 10), got {r1}")
        lb, ub = self.default_domain if domain is None else domain
        if not (np.isfinite(lb) and np.isfinite(ub) and float(lb) < float(ub)):
            raise ConfigError(f"domain must be finite (lb, ub) with lb < ub, got {domain}")
        self.r1 = float(r1)
        self.lb, self.ub = float(lb), float(ub)
        self.pop_ = np.empty((0, self.dim))
        self.fit_ = np.empty(0)

    def _x_best(self) -> np.ndarray:
        if self.best_x is not None:
            return self.best_x
        return self.pop_[int(np.argmin(self.fit_))]

    def _new_generation(self) -> np.ndarray:
        n, d = self.pop_size, self.dim
        if self.generation == 0:
            self.pop_ = self.rng.random((n, d))
            self.fit_ = np.full(n, np.inf)
            return self.pop_.copy()

        T = self.max_generations
        t = min(self.generation, T)
        rng = self.rng
        lb, ub = self.lb, self.ub
        width = ub - lb
        pop = lb + width * self.pop_  # internal domain
        x_best = lb + width * self._x_best()
        x_mean = pop.mean(axis=0)  # eq. 4
        expanded = rng.random(n) < 0.5
        if t <= 2 * T / 3:
            x1 = expanded_exploration(x_best=x_best, x_mean=x_mean, t=t, T=T, rand=rng.random((n, 1)))
            y, x = spiral(dim=d, r1=self.r1)
            x_r = pop[rng.integers(0, n, size=n)]
            levy = levy_flight(rng, (n, d), beta=LEVY_BETA, s=LEVY_SCALE)
            x2 = narrowed_exploration(x_best=x_best, x_r=x_r, levy=levy, y=y, x=x, rand=rng.random((n, 1)))
            new = np.where(expanded[:, None], x1, x2)
        else:
            x3 = expanded_exploitation(
                x_best=x_best, x_mean=x_mean, rand1=rng.random((n, 1)), rand2=rng.random((n, 1)), lb=lb, ub=ub
            )
            qf = quality_function(t=t, T=T, rand=rng.random((n, 1)))
            g1 = g1_motion(rand=rng.random((n, 1)))
            g2 = g2_flight_slope(t=t, T=T)
            levy = levy_flight(rng, (n, d), beta=LEVY_BETA, s=LEVY_SCALE)
            x4 = narrowed_exploitation(
                x=pop,
                x_best=x_best,
                levy=levy,
                qf=qf,
                g1=g1,
                g2=g2,
                rand1=rng.random((n, 1)),
                rand2=rng.random((n, 1)),
            )
            new = np.where(expanded[:, None], x3, x4)
        return (np.clip(new, lb, ub) - lb) / width

    def _record(self, slots: np.ndarray, X: np.ndarray, values: np.ndarray) -> None:
        if self.generation == 0:
            self.pop_[slots] = X
            self.fit_[slots] = values
            return
        better = values < self.fit_[slots]  # greedy replacement
        self.pop_[slots[better]] = X[better]
        self.fit_[slots[better]] = values[better]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(dim={self.dim}, budget={self.budget}, seed={self.seed}, pop_size={self.pop_size}, "
            f"r1={self.r1}, domain=({self.lb:g}, {self.ub:g}))"
        )


@OPTIMIZERS.register("aquila_unit")
class AquilaUnit(Aquila):
    """The Aquila Optimizer with its equations run in the unit box itself (``domain = (0, 1)``).

    Exactly the paper's equations with ``LB = 0``, ``UB = 1``; most narrowed
    exploration and expanded exploitation moves are clipped to a face of the
    box (module docstring). Kept for anyone reproducing a unit-box setup.
    """

    name = "aquila_unit"
    default_domain: ClassVar[tuple[float, float]] = (0.0, 1.0)
