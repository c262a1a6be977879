"""The ask/tell contract every optimizer follows.

Optimizers work in the unit box ``[0, 1]^d`` and always *minimise*; the
:class:`~emotune.search.study.Study` negates values for maximisation. A failed
trial is told as ``nan`` or ``inf`` and counts as the worst value (``+inf``).

Two layers:

* :class:`Optimizer` keeps ids, pending candidates, the best point and the
  seeded ``numpy.random.Generator``. Its vectorized core is
  :meth:`ask_batch` / :meth:`tell_batch` (arrays, no per-candidate objects);
  :meth:`ask` / :meth:`tell` wrap it for people.
* :class:`PopulationOptimizer` runs generation by generation: a generation is a
  block of proposals (one per "slot", e.g. one per agent). ``ask`` hands them
  out; when none are left a new generation is built from whatever has been told
  so far. Tells may arrive in any order; a tell that arrives after its
  generation was closed still updates the best point.

``state_dict()`` / ``load_state_dict()`` capture everything (RNG included), so a
study resumed in another process continues exactly as if uninterrupted.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from emotune._registry import Registry
from emotune._seeding import make_rng
from emotune.exceptions import ConfigError

__all__ = ["Candidate", "Optimizer", "PopulationOptimizer", "OPTIMIZERS", "sanitize", "levy_flight"]

OPTIMIZERS: Registry[type["Optimizer"]] = Registry("optimizer")


def sanitize(values: np.ndarray) -> np.ndarray:
    """Values as float64 with ``nan`` mapped to ``+inf`` (the worst value).

    ``-inf`` is kept: a genuinely unbounded minimum is the best possible value.
    ``nan`` is treated as a failure.
    """
    v = np.asarray(values, dtype=float).copy()
    v[np.isnan(v)] = np.inf
    return v


def levy_flight(rng: np.random.Generator, shape: tuple[int, ...], beta: float = 1.5, s: float = 0.01) -> np.ndarray:
    """Levy flight steps by Mantegna's algorithm (Aquila eqs. 6-7).

    ``Levy(D) = s * u * sigma / |v|**(1/beta)``, ``u, v ~ N(0, 1)`` and
    ``sigma = (Gamma(1+beta) sin(pi beta / 2) / (Gamma((1+beta)/2) beta 2**((beta-1)/2)))**(1/beta)``.

    Returns:
        float64 array of ``shape``.
    """
    from math import gamma, pi, sin

    sigma = (gamma(1 + beta) * sin(pi * beta / 2) / (gamma((1 + beta) / 2) * beta * 2 ** ((beta - 1) / 2))) ** (
        1 / beta
    )  # eq. 7
    u = rng.standard_normal(shape)
    v = rng.standard_normal(shape)
    return s * u * sigma / np.abs(v) ** (1 / beta)  # eq. 6


@dataclass(frozen=True)
class Candidate:
    """One point to evaluate: ``id`` for :meth:`Optimizer.tell`, ``x`` in the unit box (shape ``(d,)``)."""

    id: int
    x: np.ndarray


class Optimizer:
    """Base class: seeded ask/tell in the unit box, minimising.

    Args:
        dim: number of box dimensions ``d`` (>= 1).
        budget: planned number of evaluations; schedules (``t / T``) use it.
        seed: seed of the ``numpy.random.Generator``.

    Subclasses implement :meth:`_propose` and :meth:`_observe`, and list the
    names of their array/scalar state in ``_state_keys``.
    """

    name: ClassVar[str] = ""
    uses_bits: ClassVar[bool] = False
    _state_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(self, dim: int, *, budget: int = 100, seed: int | None = None) -> None:
        if int(dim) < 1:
            raise ConfigError(f"dim must be >= 1, got {dim}")
        if int(budget) < 1:
            raise ConfigError(f"budget must be >= 1, got {budget}")
        self.dim = int(dim)
        self.budget = int(budget)
        self.seed = seed
        self.rng = make_rng(seed)
        self._next_id = 0
        self._pending: dict[int, tuple[np.ndarray, Any]] = {}
        self.n_told = 0
        self.best_x: np.ndarray | None = None
        self.best_value: float = np.inf

    # --- hooks for subclasses -------------------------------------------------
    def _propose(self, n: int) -> tuple[np.ndarray, list[Any]]:
        """``n`` new points (float64, shape ``(n, d)``) and a tag for each."""
        raise NotImplementedError

    def _observe(self, tags: list[Any], X: np.ndarray, values: np.ndarray) -> None:
        """Learn from told results (``values`` already sanitized)."""

    # --- vectorized core ------------------------------------------------------
    def ask_batch(self, n: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """``n`` new candidates: ids (int64, shape ``(n,)``) and points (float64, shape ``(n, d)``)."""
        if n < 1:
            raise ConfigError(f"ask needs n >= 1, got {n}")
        X, tags = self._propose(n)
        X = np.clip(np.asarray(X, dtype=float).reshape(n, self.dim), 0.0, 1.0)
        ids = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
        self._next_id += n
        for i, x, tag in zip(ids.tolist(), X, tags):
            self._pending[i] = (x, tag)
        return ids, X

    def tell_batch(self, ids: np.ndarray, values: np.ndarray) -> None:
        """Record results for candidates ``ids``; ``nan``/``inf`` values count as worst."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        values = sanitize(np.asarray(values, dtype=float).reshape(-1))
        if ids.shape != values.shape:
            raise ConfigError(f"tell needs one value per id, got {ids.size} ids and {values.size} values")
        unknown = [int(i) for i in ids if int(i) not in self._pending]
        if unknown:
            raise ConfigError(f"tell got ids that were never asked or were already told: {unknown}")
        popped = [self._pending.pop(int(i)) for i in ids]
        X = np.stack([p[0] for p in popped])
        tags = [p[1] for p in popped]
        self.n_told += len(ids)
        k = int(np.argmin(values))
        if values[k] < self.best_value or self.best_x is None:
            self.best_value = float(values[k])
            self.best_x = X[k].copy()
        self._observe(tags, X, values)

    # --- convenience wrappers ---------------------------------------------------
    def ask(self, n: int = 1) -> list[Candidate]:
        ids, X = self.ask_batch(n)
        return [Candidate(int(i), x) for i, x in zip(ids, X)]

    def tell(self, id: int, value: float) -> None:
        self.tell_batch(np.array([id]), np.array([value], dtype=float))

    @property
    def best(self) -> tuple[np.ndarray | None, float]:
        """The best point told so far and its value."""
        return self.best_x, self.best_value

    @property
    def progress(self) -> float:
        """Fraction of the budget told so far, in [0, 1]."""
        return min(self.n_told / self.budget, 1.0)

    # --- persistence ------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly (deep copies; JSON-friendly except arrays)."""
        state = {
            "name": self.name,
            "dim": self.dim,
            "budget": self.budget,
            "rng": copy.deepcopy(self.rng.bit_generator.state),
            "next_id": self._next_id,
            "pending": {i: (x.copy(), copy.deepcopy(t)) for i, (x, t) in self._pending.items()},
            "n_told": self.n_told,
            "best_x": None if self.best_x is None else self.best_x.copy(),
            "best_value": self.best_value,
        }
        state["algo"] = {k: copy.deepcopy(getattr(self, k)) for k in self._state_keys}
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("name") != self.name or state.get("dim") != self.dim:
            raise ConfigError(
                f"state is for optimizer {state.get('name')!r} with dim {state.get('dim')}, "
                f"not {self.name!r} with dim {self.dim}"
            )
        self.budget = state["budget"]
        self.rng.bit_generator.state = copy.deepcopy(state["rng"])
        self._next_id = state["next_id"]
        self._pending = {int(i): (np.array(x), copy.deepcopy(t)) for i, (x, t) in state["pending"].items()}
        self.n_told = state["n_told"]
        self.best_x = None if state["best_x"] is None else np.array(state["best_x"])
        self.best_value = state["best_value"]
        for k, v in state["algo"].items():
            setattr(self, k, copy.deepcopy(v))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dim={self.dim}, budget={self.budget}, seed={self.seed})"


class PopulationOptimizer(Optimizer):
    """Generation-by-generation optimizer.

    Subclasses implement :meth:`_new_generation`, returning the proposals of the
    next generation (float64, shape ``(k, d)``; slot ``j`` is row ``j``), and
    :meth:`_record`, called once per told result of the *current* generation.
    ``self.generation`` counts generations started (the initial population is
    generation 0). Results told after their generation was closed only update
    the best point (the base class does that).

    Args:
        pop_size: agents (or individuals) per generation, >= 2.
    """

    _base_state_keys: ClassVar[tuple[str, ...]] = ("generation", "_queue", "_queue_pos", "_gen_told")

    def __init__(self, dim: int, *, budget: int = 100, seed: int | None = None, pop_size: int = 20) -> None:
        super().__init__(dim, budget=budget, seed=seed)
        if int(pop_size) < 2:
            raise ConfigError(f"pop_size must be >= 2, got {pop_size}")
        self.pop_size = int(pop_size)
        self.generation = -1
        self._queue = np.empty((0, self.dim))
        self._queue_pos = 0
        self._gen_told = 0

    @property
    def max_generations(self) -> int:
        """``T``: generations the budget allows after the initial population,
        ``ceil((budget - pop_size) / pop_size)``, at least 1 (a partly-used last
        generation still counts, so a schedule never ends before the budget does)."""
        return max(1, -(-(self.budget - self.pop_size) // self.pop_size))

    def _new_generation(self) -> np.ndarray:
        raise NotImplementedError

    def _record(self, slots: np.ndarray, X: np.ndarray, values: np.ndarray) -> None:
        raise NotImplementedError

    def _propose(self, n: int) -> tuple[np.ndarray, list[Any]]:
        rows, tags = [], []
        while len(rows) < n:
            if self._queue_pos >= len(self._queue):
                self.generation += 1
                self._queue = np.asarray(self._new_generation(), dtype=float)
                self._queue_pos = 0
                self._gen_told = 0
            take = min(n - len(rows), len(self._queue) - self._queue_pos)
            for j in range(self._queue_pos, self._queue_pos + take):
                rows.append(self._queue[j])
                tags.append((self.generation, j))
            self._queue_pos += take
        return np.stack(rows), tags

    def _observe(self, tags: list[Any], X: np.ndarray, values: np.ndarray) -> None:
        current = np.array([g == self.generation for g, _ in tags], dtype=bool)
        if current.any():
            slots = np.array([s for (g, s) in tags if g == self.generation], dtype=np.int64)
            self._gen_told += int(current.sum())
            self._record(slots, X[current], values[current])

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["algo"].update({k: copy.deepcopy(getattr(self, k)) for k in self._base_state_keys})
        state["algo"]["pop_size"] = self.pop_size
        return state
