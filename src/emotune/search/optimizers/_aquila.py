"""Aquila Optimizer (AO): four hunting moves of the Aquila eagle, as in the paper.

Abualigah, Yousri, Abd Elaziz, Ewees, Al-qaness and Gandomi, "Aquila Optimizer:
A novel meta-heuristic optimization algorithm", Computers & Industrial
Engineering 157 (2021) 107250. This module follows the paper's equations, not
mealpy's or the authors' MATLAB code (both differ, e.g. in eq. 3's bracket and
the names of ``G1``/``G2``).

Definition (minimising in the unit box, so ``LB = 0``, ``UB = 1``). ``N``
agents ``X_i`` of dimension ``D``; ``t = 1..T`` is the generation
(``T = max_generations``); ``X_best`` is the best point told so far;
``rand`` is a fresh ``U(0, 1)`` scalar per agent and per occurrence.

* Generation 0: ``X_i ~ U[0, 1]^D``.
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
  code), settable in ``[1, 20]``. Note ``y - x`` is then about ``r1`` in every
  dimension, so in the unit box the narrowed exploration move mostly lands on
  the upper bound; greedy replacement discards such points when they are worse.
* Every ``rand`` (and the rand inside ``QF`` and ``G1``) is drawn per agent.
* Positions outside the box are clipped to ``[0, 1]`` (as the authors' code
  does); ``t`` is capped at ``T`` if a study asks past its budget.
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
    """Aquila Optimizer (Abualigah et al. 2021) with greedy replacement, in the unit box.

    Args:
        dim, budget, seed: see :class:`~emotune.search.optimizers.Optimizer`.
        pop_size: agents ``N`` (default 20).
        r1: spiral radius offset of eq. 10, fixed, in ``[1, 20]`` (default 10).

    State (resumable): ``pop_`` (float64 ``(N, D)``) and ``fit_`` (float64 ``(N,)``,
    ``+inf`` until told).
    """

    name = "aquila"
    _state_keys: ClassVar[tuple[str, ...]] = ("pop_", "fit_")

    def __init__(
        self, dim: int, *, budget: int = 100, seed: int | None = None, pop_size: int = 20, r1: float = 10.0
    ) -> None:
        super().__init__(dim, budget=budget, seed=seed, pop_size=pop_size)
        if not 1.0 <= float(r1) <= 20.0:
            raise ConfigError(f"r1 must be in [1, 20] (Aquila eq. 10), got {r1}")
        self.r1 = float(r1)
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
        x_best = self._x_best()
        x_mean = self.pop_.mean(axis=0)  # eq. 4
        expanded = rng.random(n) < 0.5
        if t <= 2 * T / 3:
            x1 = expanded_exploration(x_best=x_best, x_mean=x_mean, t=t, T=T, rand=rng.random((n, 1)))
            y, x = spiral(dim=d, r1=self.r1)
            x_r = self.pop_[rng.integers(0, n, size=n)]
            levy = levy_flight(rng, (n, d), beta=LEVY_BETA, s=LEVY_SCALE)
            x2 = narrowed_exploration(x_best=x_best, x_r=x_r, levy=levy, y=y, x=x, rand=rng.random((n, 1)))
            new = np.where(expanded[:, None], x1, x2)
        else:
            x3 = expanded_exploitation(
                x_best=x_best, x_mean=x_mean, rand1=rng.random((n, 1)), rand2=rng.random((n, 1))
            )
            qf = quality_function(t=t, T=T, rand=rng.random((n, 1)))
            g1 = g1_motion(rand=rng.random((n, 1)))
            g2 = g2_flight_slope(t=t, T=T)
            levy = levy_flight(rng, (n, d), beta=LEVY_BETA, s=LEVY_SCALE)
            x4 = narrowed_exploitation(
                x=self.pop_,
                x_best=x_best,
                levy=levy,
                qf=qf,
                g1=g1,
                g2=g2,
                rand1=rng.random((n, 1)),
                rand2=rng.random((n, 1)),
            )
            new = np.where(expanded[:, None], x3, x4)
        return np.clip(new, 0.0, 1.0)

    def _record(self, slots: np.ndarray, X: np.ndarray, values: np.ndarray) -> None:
        if self.generation == 0:
            self.pop_[slots] = X
            self.fit_[slots] = values
            return
        better = values < self.fit_[slots]  # greedy replacement
        self.pop_[slots[better]] = X[better]
        self.fit_[slots[better]] = values[better]
