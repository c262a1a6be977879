"""Particle swarm optimization (PSO) and the improved PSO (IPSO) with time-varying coefficients.

**PSO** ("pso"): Kennedy & Eberhart (1995) with the inertia weight of Shi &
Eberhart (1998), in the unit box, minimising. Each particle ``i`` has a
position ``x_i`` and a velocity ``v_i`` (shape ``(d,)``), its personal best
``pbest_i`` and the swarm's best ``gbest``. One generation is one move of every
particle::

    v_i <- w v_i + c1 r1 (pbest_i - x_i) + c2 r2 (gbest - x_i)      eq. 3 (velocity)
    v_i <- clip(v_i, -v_max, v_max)                                 (velocity clamping)
    x_i <- x_i + v_i                                                eq. 4 (position)

``r1, r2 ~ U[0, 1)`` are drawn independently per particle and per dimension
(``r1`` for the whole swarm first, then ``r2``). Equation numbers follow Yue,
Peng & Wang, "Deep Learning Short Text Sentiment Analysis Based on Improved
Particle Swarm Optimization", *Electronics* 2023, 12, 4119 (eqs. 3-4), which
restates the inertia-weight PSO.

Defaults: ``w = 0.7298`` and ``c1 = c2 = 1.49618``, the constriction-equivalent
values of Clerc & Kennedy (2002) (``chi = 0.7298``, ``chi * 2.05 = 1.49618``),
which Eberhart & Shi (2000) recommend for inertia-weight PSO.
``v_max = 0.2`` (a fifth of the box width, which is 1).

Boundary rule (absorbing wall): after eq. 4, a coordinate outside [0, 1] is
clipped to the wall it crossed and that velocity component is set to 0.

Generation 0: positions ``x ~ U[0, 1]^d`` and velocities ``v ~ U[-v_max, v_max]^d``
(positions drawn first). ``pbest_i`` starts at the initial position with value
``+inf``. A told value ``f`` for particle ``i`` replaces ``pbest_i`` when
``f < f(pbest_i)`` (eq. 8 of Yue et al.); ``gbest`` is the ``pbest`` with the lowest
value when the next generation is built (ties: lowest particle index). Both
are order-free, so tells may arrive in any order; an untold particle keeps its
``pbest`` (``nan``/``inf`` never improve it).

**IPSO** ("ipso"): the same swarm with time-varying coefficients (Yue et al.
2023). For the move that builds generation ``t`` (``t = 1, ..., t_max``, with
``t_max = max_generations = ceil((budget - pop_size) / pop_size)``; ``t`` is clipped to
``t_max`` when a study runs past its budget)::

    w(t)  = w_max - (w_max - w_min) * (4 / pi) * arctan(t / t_max)      eq. 5
    c1(t) = (c1e - c1s) * (t / t_max)**3 + c1s                          eq. 6
    c2(t) = (c2e - c2s) * (t / t_max)**3 + c2s                          eq. 7

Defaults ``w_max = 0.8``, ``w_min = 0.4``, ``c1s = 1``, ``c1e = 0``,
``c2s = 0``, ``c2e = 1``: the inertia falls from ``w_max`` at ``t = 0`` to
``w_min`` at ``t = t_max``; the swarm moves from cognitive to social search.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from emotune.exceptions import ConfigError
from emotune.search.optimizers._base import OPTIMIZERS, PopulationOptimizer

__all__ = [
    "ParticleSwarm",
    "ImprovedParticleSwarm",
    "velocity_update",
    "position_update",
    "inertia",
    "learning_factors",
]


def velocity_update(
    v: np.ndarray,
    x: np.ndarray,
    pbest: np.ndarray,
    gbest: np.ndarray,
    r1: np.ndarray,
    r2: np.ndarray,
    *,
    w: float,
    c1: float,
    c2: float,
    v_max: float,
) -> np.ndarray:
    """Inertia-weight velocity update (eq. 3) followed by clamping to ``[-v_max, v_max]``.

    Args:
        v: float64, shape ``(n, d)``, velocities (box widths per generation).
        x: float64, shape ``(n, d)``, positions in the unit box.
        pbest: float64, shape ``(n, d)``, personal bests.
        gbest: float64, shape ``(d,)`` (or broadcastable), the swarm's best.
        r1, r2: float64, shape ``(n, d)``, uniform draws in [0, 1).
        w, c1, c2: inertia and learning factors.
        v_max: velocity bound (> 0).

    Returns:
        float64, shape ``(n, d)``: the new, clamped velocities.
    """
    new_v = w * v + c1 * r1 * (pbest - x) + c2 * r2 * (gbest - x)  # eq. 3
    return np.clip(new_v, -v_max, v_max)  # velocity clamping


def position_update(x: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position update (eq. 4) with the absorbing-wall boundary rule.

    Args:
        x: float64, shape ``(n, d)``, positions in [0, 1].
        v: float64, shape ``(n, d)``, velocities.

    Returns:
        ``(x_new, v_new)``, float64, shape ``(n, d)`` each: positions clipped to
        [0, 1], and velocities with the components that hit a wall set to 0.
    """
    moved = x + v  # eq. 4
    out = (moved < 0.0) | (moved > 1.0)
    return np.clip(moved, 0.0, 1.0), np.where(out, 0.0, v)


def inertia(t: float, t_max: float, w_max: float = 0.8, w_min: float = 0.4) -> float:
    """IPSO inertia weight, eq. 5: ``w_max - (w_max - w_min) (4 / pi) arctan(t / t_max)``."""
    if t_max <= 0:
        raise ConfigError(f"inertia needs t_max > 0, got {t_max}")
    return float(w_max - (w_max - w_min) * (4.0 / math.pi) * math.atan(t / t_max))  # eq. 5


def learning_factors(
    t: float, t_max: float, c1s: float = 1.0, c1e: float = 0.0, c2s: float = 0.0, c2e: float = 1.0
) -> tuple[float, float]:
    """IPSO learning factors, eqs. 6-7: ``c = (c_end - c_start) (t / t_max)**3 + c_start``.

    Returns:
        ``(c1(t), c2(t))``.
    """
    if t_max <= 0:
        raise ConfigError(f"learning_factors needs t_max > 0, got {t_max}")
    s = (t / t_max) ** 3
    c1 = (c1e - c1s) * s + c1s  # eq. 6
    c2 = (c2e - c2s) * s + c2s  # eq. 7
    return float(c1), float(c2)


@OPTIMIZERS.register("pso")
class ParticleSwarm(PopulationOptimizer):
    """Inertia-weight PSO with velocity clamping and absorbing walls (module docstring).

    Args:
        dim: box dimensions ``d``.
        budget: planned evaluations.
        seed: RNG seed.
        pop_size: particles (>= 2, default 20).
        w: inertia weight (default 0.7298).
        c1: cognitive factor (default 1.49618).
        c2: social factor (default 1.49618).
        v_max: velocity bound as a fraction of the box width, in (0, 1] (default 0.2).
    """

    name = "pso"
    _state_keys: ClassVar[tuple[str, ...]] = ("x_", "v_", "pbest_x_", "pbest_f_")

    def __init__(
        self,
        dim: int,
        *,
        budget: int = 100,
        seed: int | None = None,
        pop_size: int = 20,
        w: float = 0.7298,
        c1: float = 1.49618,
        c2: float = 1.49618,
        v_max: float = 0.2,
    ) -> None:
        super().__init__(dim, budget=budget, seed=seed, pop_size=pop_size)
        if not 0.0 < v_max <= 1.0:
            raise ConfigError(f"v_max must be in (0, 1] (a fraction of the box width), got {v_max}")
        for arg, val in (("w", w), ("c1", c1), ("c2", c2)):
            if not math.isfinite(val):
                raise ConfigError(f"{arg} must be finite, got {val}")
        self.w, self.c1, self.c2, self.v_max = float(w), float(c1), float(c2), float(v_max)
        self.x_ = np.empty((0, self.dim))
        self.v_ = np.empty((0, self.dim))
        self.pbest_x_ = np.empty((0, self.dim))
        self.pbest_f_ = np.empty(0)

    def coefficients(self, t: int) -> tuple[float, float, float]:
        """``(w, c1, c2)`` for the move that builds generation ``t`` (constant for PSO)."""
        return self.w, self.c1, self.c2

    @property
    def gbest_(self) -> np.ndarray:
        """The swarm's best personal best (float64, shape ``(d,)``; ties: lowest index)."""
        return self.pbest_x_[int(np.argmin(self.pbest_f_))]

    def _new_generation(self) -> np.ndarray:
        n, d = self.pop_size, self.dim
        if self.generation == 0:
            self.x_ = self.rng.random((n, d))
            self.v_ = self.rng.uniform(-self.v_max, self.v_max, size=(n, d))
            self.pbest_x_ = self.x_.copy()
            self.pbest_f_ = np.full(n, np.inf)
            return self.x_.copy()
        w, c1, c2 = self.coefficients(self.generation)
        r1 = self.rng.random((n, d))
        r2 = self.rng.random((n, d))
        v = velocity_update(
            self.v_, self.x_, self.pbest_x_, self.gbest_, r1, r2, w=w, c1=c1, c2=c2, v_max=self.v_max
        )  # eq. 3 + clamping
        self.x_, self.v_ = position_update(self.x_, v)  # eq. 4 + boundary rule
        return self.x_.copy()

    def _record(self, slots: np.ndarray, X: np.ndarray, values: np.ndarray) -> None:
        better = values < self.pbest_f_[slots]  # eq. 8, personal best
        self.pbest_f_[slots[better]] = values[better]
        self.pbest_x_[slots[better]] = X[better]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(dim={self.dim}, budget={self.budget}, seed={self.seed}, pop_size={self.pop_size}, "
            f"w={self.w}, c1={self.c1}, c2={self.c2}, v_max={self.v_max})"
        )


@OPTIMIZERS.register("ipso")
class ImprovedParticleSwarm(ParticleSwarm):
    """IPSO of Yue et al. (2023): PSO with the schedules of eqs. 5-7 (module docstring).

    Args:
        dim, budget, seed, pop_size, v_max: as for :class:`ParticleSwarm`.
        w_max, w_min: inertia at ``t = 0`` and ``t = t_max`` (defaults 0.8, 0.4).
        c1s, c1e: cognitive factor at the start and end (defaults 1, 0).
        c2s, c2e: social factor at the start and end (defaults 0, 1).
    """

    name = "ipso"

    def __init__(
        self,
        dim: int,
        *,
        budget: int = 100,
        seed: int | None = None,
        pop_size: int = 20,
        v_max: float = 0.2,
        w_max: float = 0.8,
        w_min: float = 0.4,
        c1s: float = 1.0,
        c1e: float = 0.0,
        c2s: float = 0.0,
        c2e: float = 1.0,
    ) -> None:
        super().__init__(dim, budget=budget, seed=seed, pop_size=pop_size, v_max=v_max)
        for arg, val in (("w_max", w_max), ("w_min", w_min), ("c1s", c1s), ("c1e", c1e), ("c2s", c2s), ("c2e", c2e)):
            if not math.isfinite(val):
                raise ConfigError(f"{arg} must be finite, got {val}")
        if w_min > w_max:
            raise ConfigError(f"w_min must be <= w_max, got w_min={w_min}, w_max={w_max}")
        self.w_max, self.w_min = float(w_max), float(w_min)
        self.c1s, self.c1e, self.c2s, self.c2e = float(c1s), float(c1e), float(c2s), float(c2e)

    def coefficients(self, t: int) -> tuple[float, float, float]:
        """``(w(t), c1(t), c2(t))`` of eqs. 5-7, ``t`` clipped to ``[0, t_max]``."""
        t_max = self.max_generations
        t = min(max(t, 0), t_max)
        w = inertia(t, t_max, self.w_max, self.w_min)  # eq. 5
        c1, c2 = learning_factors(t, t_max, self.c1s, self.c1e, self.c2s, self.c2e)  # eqs. 6-7
        return w, c1, c2

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(dim={self.dim}, budget={self.budget}, seed={self.seed}, pop_size={self.pop_size}, "
            f"v_max={self.v_max}, w_max={self.w_max}, w_min={self.w_min}, c1s={self.c1s}, c1e={self.c1e}, "
            f"c2s={self.c2s}, c2e={self.c2e})"
        )
