"""The ask/tell contract every optimizer follows.

Optimizers work in the unit box ``[0, 1]^d`` and always *minimise*; the
:class:`~emotune.search.study.Study` negates values for maximisation. A failed
trial is told as ``nan``, ``+inf`` or ``-inf``: every non-finite value is a
failure and counts as the worst value (``+inf``).

Two layers:

* :class:`Optimizer` keeps ids, pending candidates, the best point and the
  seeded ``numpy.random.Generator``. Its core is :meth:`~Optimizer.ask_batch` /
  :meth:`~Optimizer.tell_batch` on arrays; :meth:`~Optimizer.ask` /
  :meth:`~Optimizer.tell` wrap it for people (they make one small
  :class:`Candidate` per point; the array calls make none). Optimizers without
  generations (``random``, ``tpe``) keep one dict entry per pending id.
* :class:`PopulationOptimizer` runs generation by generation: a generation is a
  block of ``k`` proposals (one per "slot", e.g. one per agent) with the
  consecutive ids ``first_id .. first_id + k - 1``. Its fast path keeps no
  per-candidate Python objects: the block's points, a told mask and a counter.

The generation rule (no result is ever lost)
    A generation *closes* only when every one of its members has been told (a
    failure is told too, as ``nan``/``inf``). ``ask_batch(n)`` hands out at most
    the members of the open generation not yet handed out; when all of them are
    out but some are untold it returns *fewer* than ``n`` candidates, possibly
    none (ids of shape ``(0,)``), and the caller must tell the outstanding ones
    before asking again. The next generation is built on the first ask after
    the close, from every result of the closed one. Tells may arrive in any
    order and in any grouping; the run is the same.

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
    """Values as float64 with every non-finite value (``nan``, ``+inf``, ``-inf``) mapped to ``+inf``.

    A non-finite value is a failed trial, the worst value: ``-inf`` is not
    "the best possible" (in a maximising study it is an objective returning
    ``+inf``, almost always a bug).
    """
    v = np.array(values, dtype=float)
    v[~np.isfinite(v)] = np.inf
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

    # --- array core -------------------------------------------------------------
    def ask_batch(self, n: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Up to ``n`` new candidates: ids (int64, shape ``(m,)``) and points (float64, shape ``(m, d)``).

        ``m == n`` except for a :class:`PopulationOptimizer`, which gives fewer
        (possibly none) while its open generation waits for tells.
        """
        if int(n) < 1:
            raise ConfigError(f"ask needs n >= 1, got {n}")
        return self._ask(int(n))

    def tell_batch(self, ids: np.ndarray, values: np.ndarray) -> None:
        """Record results for candidates ``ids``; non-finite values (``nan``, ``+-inf``) count as worst."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        values = sanitize(np.asarray(values, dtype=float).reshape(-1))
        if ids.shape != values.shape:
            raise ConfigError(f"tell needs one value per id, got {ids.size} ids and {values.size} values")
        if ids.size == 0:
            return
        X = self._tell(ids, values)
        self.n_told += ids.size
        k = int(np.argmin(values))
        if values[k] < self.best_value or self.best_x is None:
            self.best_value = float(values[k])
            self.best_x = X[k].copy()

    def _ask(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Generic path: ``n`` proposals of :meth:`_propose`, one pending entry per id."""
        X, tags = self._propose(n)
        X = np.clip(np.asarray(X, dtype=float).reshape(n, self.dim), 0.0, 1.0)
        ids = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
        self._next_id += n
        for i, x, tag in zip(ids.tolist(), X, tags):
            self._pending[i] = (x, tag)
        return ids, X

    def _tell(self, ids: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Generic path: pop the pending entries, call :meth:`_observe`; returns the told points ``(m, d)``."""
        id_list = ids.tolist()
        unknown = [i for i in id_list if i not in self._pending]
        if unknown or len(set(id_list)) != len(id_list):
            raise ConfigError(f"tell got ids that were never asked, were already told or repeat: {unknown or id_list}")
        popped = [self._pending.pop(i) for i in id_list]
        X = np.stack([p[0] for p in popped])
        self._observe([p[1] for p in popped], X, values)
        return X

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
    """Generation-by-generation optimizer (see "The generation rule" in the module docstring).

    Subclasses implement :meth:`_new_generation`, returning the proposals of the
    next generation (float64, shape ``(k, d)``; slot ``j`` is row ``j``), and
    :meth:`_record`, called with every told result of the open generation.
    ``self.generation`` counts generations started (the initial population is
    generation 0). When :meth:`_new_generation` runs, every member of the
    previous generation has been told and recorded.

    Args:
        pop_size: agents (or individuals) per generation, >= 2.
    """

    _base_state_keys: ClassVar[tuple[str, ...]] = (
        "generation",
        "_queue",
        "_queue_pos",
        "_gen_told",
        "_gen_first_id",
        "_told_mask",
    )

    def __init__(self, dim: int, *, budget: int = 100, seed: int | None = None, pop_size: int = 20) -> None:
        super().__init__(dim, budget=budget, seed=seed)
        if int(pop_size) < 2:
            raise ConfigError(f"pop_size must be >= 2, got {pop_size}")
        self.pop_size = int(pop_size)
        self.generation = -1
        self._queue = np.empty((0, self.dim))
        self._queue_pos = 0
        self._gen_told = 0
        self._gen_first_id = 0
        self._told_mask = np.zeros(0, dtype=bool)

    @property
    def max_generations(self) -> int:
        """``T``: generations the budget allows after the initial population,
        ``ceil((budget - pop_size) / pop_size)``, at least 1 (a partly-used last
        generation still counts, so a schedule never ends before the budget does)."""
        return max(1, -(-(self.budget - self.pop_size) // self.pop_size))

    @property
    def n_waiting(self) -> int:
        """Members of the open generation handed out and not told yet."""
        return self._queue_pos - self._gen_told

    def _new_generation(self) -> np.ndarray:
        raise NotImplementedError

    def _record(self, slots: np.ndarray, X: np.ndarray, values: np.ndarray) -> None:
        raise NotImplementedError

    def _ask(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if self._queue_pos >= len(self._queue):
            if self._gen_told < len(self._queue):  # generation still open: wait for its tells
                return np.empty(0, dtype=np.int64), np.empty((0, self.dim))
            self.generation += 1
            queue = np.clip(np.asarray(self._new_generation(), dtype=float), 0.0, 1.0)
            self._queue = queue.reshape(-1, self.dim)
            self._queue_pos = 0
            self._gen_told = 0
            self._gen_first_id = self._next_id
            self._told_mask = np.zeros(len(self._queue), dtype=bool)
        lo = self._queue_pos
        hi = min(lo + n, len(self._queue))
        self._queue_pos = hi
        ids = np.arange(self._gen_first_id + lo, self._gen_first_id + hi, dtype=np.int64)
        self._next_id = self._gen_first_id + hi
        return ids, self._queue[lo:hi].copy()

    def _tell(self, ids: np.ndarray, values: np.ndarray) -> np.ndarray:
        slots = ids - self._gen_first_id
        ok = (slots >= 0) & (slots < self._queue_pos)
        mask = self._told_mask.copy()
        if ok.all():
            mask[slots] = True
        if not ok.all() or np.count_nonzero(mask) != self._gen_told + slots.size:  # out of range, told, repeated
            bad = ids[~ok].tolist() or [int(i) for i in ids if self._told_mask[i - self._gen_first_id]] or ids.tolist()
            raise ConfigError(f"tell got ids that were never asked, were already told or repeat: {bad}")
        self._told_mask = mask
        self._gen_told += slots.size
        X = self._queue[slots]
        self._record(slots, X, values)
        return X

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["algo"].update({k: copy.deepcopy(getattr(self, k)) for k in self._base_state_keys})
        state["algo"]["pop_size"] = self.pop_size
        return state
