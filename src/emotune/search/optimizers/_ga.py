"""Binary genetic algorithm with segment crossover, decaying mutation and rank selection.

The discrete GA of Parada et al., "Optimizing an LSTM Self-Attention
Architecture for Portuguese Sentiment Analysis Using a Genetic Algorithm",
*Appl. Sci.* 2025, 15, 6336. The paper describes its operators in prose; the
equation numbers below, GA-(1) to GA-(6), are this module's own and are cited
next to the code that implements each one.

Encoding
    A genome is a bit string ``b`` of ``L = sum(bits_per_dim)`` bits (uint8).
    Each box dimension ``j`` uses ``bits_per_dim[j]`` Gray-coded bits, most
    significant first, and decodes to the centre of its bin::

        x_j = (k_j + 0.5) / 2**bits_per_dim[j]                              GA-(1)

    where ``k_j`` is the integer whose Gray code is the dimension's bits
    (:func:`emotune.search.spaces.gray_to_unit`). ``bits_per_dim`` defaults to
    16 bits per dimension (:data:`~emotune.search.spaces.FLOAT_BITS`); a
    :class:`~emotune.search.spaces.Space` gives the right list with
    ``space.bits_per_dim()``.

Generations
    Generation 0 is ``pop_size`` genomes of independent fair bits. It becomes
    the first population ``P`` with its told values ``f`` (lower is better;
    untold, ``nan`` and ``inf`` count as ``+inf``, the worst).

    Every later generation ``g = 1, 2, ...`` makes ``pop_size`` children from
    ``P``; the children are the proposals of generation ``g``. When generation
    ``g + 1`` is built, parents and children are pooled (``2 pop_size``
    genomes) and rank selection GA-(6) keeps ``pop_size`` of them as the new
    ``P``. Making one child:

    1. **Tournament** (size ``k``, default 2). Parent 1 is the best of ``k``
       distinct members of ``P`` drawn uniformly; parent 2 is the best of ``k``
       distinct members of ``P`` other than parent 1, so the two parents are
       always distinct individuals::

           a = argmin_{i in S} f_i,  S a uniform k-subset of P              GA-(2)

       Ties go to the member drawn first.
    2. **Segment crossover**, with probability ``p_c`` (default 0.9). Two cut
       points ``c1 < c2`` are drawn uniformly among the distinct pairs of
       ``{0, ..., L}``; the child is parent 1 with bits ``[c1, c2)`` taken from
       parent 2::

           child_l = b2_l if c1 <= l < c2 else b1_l                         GA-(3)

       Otherwise (probability ``1 - p_c``) the child is a copy of a member of
       ``P`` drawn uniformly (the paper's ``select_random_chromosome()``), not
       of a tournament winner.
    3. **Bit-flip mutation**: every bit flips independently with probability
       ``p_m(g)``::

           child_l <- 1 - child_l  with probability p_m(g)                  GA-(4)

       ``p_m`` decays linearly over the ``T`` generations the budget allows
       (``T = max_generations = ceil((budget - pop_size) / pop_size)``), floored at
       ``p_m_min``::

           p_m(g) = max(p_m_min, p_m0 * (1 - (g - 1) / T))                  GA-(5)

       so ``p_m(1) = p_m0`` and ``p_m(T) = max(p_m_min, p_m0 / T)``.
       Defaults: ``p_m0 = 2 / L`` (two flipped bits per child on average at
       the start) and ``p_m_min = 0.25 / L``.

Selection (elitism plus rank selection)
    Sort the pool by value (stable, so ties keep pool order: parents before
    children). The ``E`` best (``elite``, default 2) survive. The remaining
    ``pop_size - E`` survivors are drawn *without replacement* from the other
    ``m = 2 pop_size - E`` pool members, successively, with probability
    proportional to their rank weight: the best of them has weight ``m``, the
    next ``m - 1``, ..., the worst ``1``::

        P(i) = r_i / sum_j r_j,   r_i = m - (position of i among the m)     GA-(6)

    Drawn in one vectorised step by the keys of Efraimidis & Spirakis (2006),
    which give exactly this successive-sampling distribution: ``u_i ~ U(0, 1)``,
    key ``log(u_i) / r_i``; the ``pop_size - E`` largest keys survive, in
    decreasing key order.

All randomness comes from ``self.rng``; the draws per generation are made in a
fixed order and for every child, whether or not it crosses over, so a resumed
study repeats exactly. Generation 0: ``integers(0, 2, (N, L))``. Generation
``g >= 1``: (from ``g = 2``) ``random(2 N - E)`` (the rank-selection keys, in
sorted-pool order after the elite); then
``random((N, N))`` (tournament keys of parent 1: the ``k`` members with the
smallest keys enter), ``random((N, N))`` (parent 2's keys, parent 1's set to
``inf``), ``random(N)`` (crossover if ``< p_c``), ``integers(0, L + 1, N)`` and
``integers(0, L, N)`` (cut points), ``integers(0, N, N)`` (the member copied
when there is no crossover), ``random((N, L))`` (mutation).

Generation rule: a generation closes when all ``N`` children are told, so
selection always ranks every child by its own value (a failed one as
``+inf``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from emotune.exceptions import ConfigError
from emotune.search.optimizers._base import OPTIMIZERS, PopulationOptimizer
from emotune.search.spaces import FLOAT_BITS

__all__ = [
    "GeneticAlgorithm",
    "GrayDecoder",
    "tournament",
    "draw_cut_points",
    "segment_crossover",
    "mutate",
    "mutation_rate",
    "rank_select",
]


class GrayDecoder:
    """GA-(1) for a fixed bit layout, vectorised over all dimensions at once.

    The binary bit at locus ``l`` is the parity of the Gray bits from the start
    of its dimension up to ``l`` (a cumulative sum along the genome minus the
    sum before the dimension), and ``k_j`` is one matrix product with the
    place values. Equal to :func:`emotune.search.spaces.gray_to_unit`.

    Args:
        bits: bits of every dimension, length ``d``, each >= 1 (at most 52).
    """

    def __init__(self, bits: Sequence[int]) -> None:
        bits = [int(b) for b in bits]
        starts = np.concatenate([[0], np.cumsum(bits)[:-1]]).astype(np.int64)
        self._before = np.repeat(starts, bits) - 1  # last locus of the previous dimensions (-1: none)
        self._place = np.zeros((sum(bits), len(bits)))
        for j, (start, b) in enumerate(zip(starts, bits)):
            self._place[start : start + b, j] = 2.0 ** np.arange(b - 1, -1, -1)
        self._scale = 1.0 / 2.0 ** np.asarray(bits, dtype=float)

    def __call__(self, genes: np.ndarray) -> np.ndarray:
        """uint8 ``(n, L)`` genomes -> float64 ``(n, d)`` bin centres ``(k + 0.5) / 2**b``."""
        c = np.cumsum(genes, axis=1, dtype=np.int64)
        before = np.where(self._before >= 0, c[:, self._before], 0)
        binary = (c - before) & 1
        return (binary @ self._place + 0.5) * self._scale  # GA-(1)


def tournament(values: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Winners of tournaments, GA-(2): the candidate with the lowest value.

    Args:
        values: float64, shape ``(pop,)``, value of each population member
            (lower is better).
        candidates: int, shape ``(n, k)``, population indices entering each of
            ``n`` tournaments.

    Returns:
        int64, shape ``(n,)``: the winner of each tournament (ties go to the
        first candidate in the row).
    """
    candidates = np.asarray(candidates, dtype=np.int64)
    best = np.argmin(np.asarray(values, dtype=float)[candidates], axis=1)  # GA-(2)
    return candidates[np.arange(candidates.shape[0]), best]


def draw_cut_points(rng: np.random.Generator, n: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut points of GA-(3): ``n`` pairs ``c1 < c2`` uniform over the distinct pairs of ``{0, ..., length}``.

    Draws ``a ~ U{0..L}`` and ``b ~ U{0..L-1}``, shifts ``b`` past ``a`` (so
    ``b != a``, uniform over the other ``L`` values) and sorts the pair.

    Returns:
        ``(cut1, cut2)``, int64, shape ``(n,)`` each.
    """
    if length < 1:
        raise ConfigError(f"draw_cut_points needs length >= 1, got {length}")
    a = rng.integers(0, length + 1, size=n)
    b = rng.integers(0, length, size=n)
    b = b + (b >= a)
    return np.minimum(a, b).astype(np.int64), np.maximum(a, b).astype(np.int64)


def segment_crossover(
    p1_genes: np.ndarray, p2_genes: np.ndarray, cut1: np.ndarray, cut2: np.ndarray
) -> np.ndarray:
    """Segment (two-point) crossover, GA-(3): parent 1 with bits ``[cut1, cut2)`` from parent 2.

    Args:
        p1_genes: uint8, shape ``(n, L)``, first parents.
        p2_genes: uint8, shape ``(n, L)``, second parents.
        cut1: int, shape ``(n,)``, first cut point of each child, ``0 <= cut1``.
        cut2: int, shape ``(n,)``, second cut point, ``cut1 <= cut2 <= L``.

    Returns:
        uint8, shape ``(n, L)``: the children.
    """
    p1_genes = np.atleast_2d(np.asarray(p1_genes))
    p2_genes = np.atleast_2d(np.asarray(p2_genes))
    if p1_genes.shape != p2_genes.shape:
        raise ConfigError(f"segment_crossover needs parents of one shape, got {p1_genes.shape} and {p2_genes.shape}")
    length = p1_genes.shape[1]
    cut1 = np.asarray(cut1, dtype=np.int64).reshape(-1, 1)
    cut2 = np.asarray(cut2, dtype=np.int64).reshape(-1, 1)
    if np.any(cut1 < 0) or np.any(cut2 > length) or np.any(cut1 > cut2):
        raise ConfigError(f"segment_crossover needs 0 <= cut1 <= cut2 <= {length}, got {cut1.ravel()}, {cut2.ravel()}")
    loci = np.arange(length)[None, :]
    from_p2 = (loci >= cut1) & (loci < cut2)
    return np.where(from_p2, p2_genes, p1_genes).astype(np.uint8)  # GA-(3)


def mutate(genes: np.ndarray, u: np.ndarray, p_m: float) -> np.ndarray:
    """Bit-flip mutation, GA-(4): flip bit ``l`` where ``u_l < p_m``.

    Args:
        genes: uint8, shape ``(n, L)``.
        u: float64, shape ``(n, L)``, uniform draws in [0, 1).
        p_m: per-bit flip probability.

    Returns:
        uint8, shape ``(n, L)``: the mutated genes (a new array).
    """
    return np.bitwise_xor(np.asarray(genes, dtype=np.uint8), (np.asarray(u) < p_m).astype(np.uint8))  # GA-(4)


def mutation_rate(g: int, T: int, p_m0: float, p_m_min: float = 0.0) -> float:
    """Per-bit mutation probability of generation ``g``, GA-(5).

    ``p_m(g) = max(p_m_min, p_m0 * (1 - (g - 1) / T))`` for ``g >= 1``; beyond
    ``T`` it stays at its value for ``g = T + 1`` (``p_m_min``).

    Args:
        g: generation whose children are mutated (>= 1).
        T: generations the budget allows (>= 1).
        p_m0: rate of generation 1.
        p_m_min: floor.
    """
    if g < 1:
        raise ConfigError(f"mutation_rate needs generation g >= 1, got {g}")
    if T < 1:
        raise ConfigError(f"mutation_rate needs T >= 1, got {T}")
    frac = min((g - 1) / T, 1.0)
    return float(max(p_m_min, p_m0 * (1.0 - frac)))  # GA-(5)


def rank_select(values: np.ndarray, n_keep: int, elite: int, rng: np.random.Generator) -> np.ndarray:
    """Elitism plus rank selection, GA-(6).

    Args:
        values: float64, shape ``(N,)``, pool values (lower is better; ``nan``
            should be mapped to ``inf`` first).
        n_keep: survivors, ``elite <= n_keep <= N``.
        elite: the ``elite`` best always survive.
        rng: source of the rank-proportional draws.

    Returns:
        int64, shape ``(n_keep,)``: pool indices of the survivors, the elite
        first (best first), then the drawn ones in draw order.
    """
    values = np.asarray(values, dtype=float).reshape(-1)
    N = values.size
    if not 0 <= elite <= n_keep <= N:
        raise ConfigError(f"rank_select needs 0 <= elite <= n_keep <= pool size, got {elite}, {n_keep}, {N}")
    order = np.argsort(values, kind="stable")
    elites, rest = order[:elite], order[elite:]
    n_draw = n_keep - elite
    if n_draw == 0:
        return elites.astype(np.int64)
    m = rest.size
    weights = np.arange(m, 0, -1, dtype=float)  # best of the rest m, worst 1
    with np.errstate(divide="ignore"):  # u = 0 gives key -inf: drawn last
        keys = np.log(rng.random(m)) / weights  # Efraimidis-Spirakis keys
    chosen = rest[np.argsort(-keys, kind="stable")[:n_draw]]  # GA-(6)
    return np.concatenate([elites, chosen]).astype(np.int64)


@OPTIMIZERS.register("ga")
class GeneticAlgorithm(PopulationOptimizer):
    """Binary GA of Parada et al. (2025): tournaments, segment crossover, decaying mutation, rank selection.

    See the module docstring for the exact definition.

    Args:
        dim: box dimensions ``d``.
        budget: planned evaluations (sets ``T`` of the mutation schedule).
        seed: RNG seed.
        pop_size: population size (>= 2, default 20).
        bits_per_dim: bits of every dimension (length ``d``, each >= 1);
            default 16 per dimension.
        p_c: crossover probability in [0, 1] (default 0.9).
        p_m0: initial per-bit mutation probability in [0, 1]; default ``2 / L``.
        p_m_min: floor of the mutation probability, ``0 <= p_m_min <= p_m0``;
            default ``min(0.25 / L, p_m0)``.
        elite: individuals kept by elitism, ``0 <= elite <= pop_size`` (default 2).
        tournament_size: ``k``, ``1 <= k <= pop_size - 1`` (default 2).
    """

    name = "ga"
    uses_bits = True
    _state_keys = ("population_", "fitness_", "children_", "child_values_")

    def __init__(
        self,
        dim: int,
        *,
        budget: int = 100,
        seed: int | None = None,
        pop_size: int = 20,
        bits_per_dim: Sequence[int] | None = None,
        p_c: float = 0.9,
        p_m0: float | None = None,
        p_m_min: float | None = None,
        elite: int = 2,
        tournament_size: int = 2,
    ) -> None:
        super().__init__(dim, budget=budget, seed=seed, pop_size=pop_size)
        bits = [FLOAT_BITS] * self.dim if bits_per_dim is None else [int(b) for b in bits_per_dim]
        if len(bits) != self.dim:
            raise ConfigError(f"bits_per_dim must have one entry per dimension ({self.dim}), got {len(bits)}")
        if min(bits) < 1:
            raise ConfigError(f"bits_per_dim entries must be >= 1, got {bits}")
        self.bits_per_dim = bits
        self.n_bits = int(sum(bits))
        self._decode = GrayDecoder(bits)
        if not 0.0 <= p_c <= 1.0:
            raise ConfigError(f"p_c must be in [0, 1], got {p_c}")
        self.p_c = float(p_c)
        self.p_m0 = min(1.0, 2.0 / self.n_bits) if p_m0 is None else float(p_m0)
        if not 0.0 <= self.p_m0 <= 1.0:
            raise ConfigError(f"p_m0 must be in [0, 1], got {p_m0}")
        self.p_m_min = min(0.25 / self.n_bits, self.p_m0) if p_m_min is None else float(p_m_min)
        if not 0.0 <= self.p_m_min <= self.p_m0:
            raise ConfigError(f"p_m_min must be in [0, p_m0={self.p_m0}], got {p_m_min}")
        if not 0 <= int(elite) <= self.pop_size:
            raise ConfigError(f"elite must be in [0, pop_size={self.pop_size}], got {elite}")
        self.elite = int(elite)
        if not 1 <= int(tournament_size) <= self.pop_size - 1:
            raise ConfigError(
                f"tournament_size must be in [1, pop_size - 1 = {self.pop_size - 1}], got {tournament_size}"
            )
        self.tournament_size = int(tournament_size)
        # learned state
        self.population_ = np.empty((0, self.n_bits), dtype=np.uint8)
        self.fitness_ = np.empty(0)
        self.children_ = np.empty((0, self.n_bits), dtype=np.uint8)
        self.child_values_ = np.empty(0)

    # --- generation logic -------------------------------------------------------
    def _select_survivors(self) -> None:
        """Pool ``P`` and the last children into the next ``P`` (GA-(6)); gen 0 becomes ``P`` as is."""
        if self.population_.shape[0] == 0:
            self.population_, self.fitness_ = self.children_.copy(), self.child_values_.copy()
            return
        pool = np.concatenate([self.population_, self.children_])
        pool_values = np.concatenate([self.fitness_, self.child_values_])
        keep = rank_select(pool_values, self.pop_size, self.elite, self.rng)  # GA-(6)
        self.population_, self.fitness_ = pool[keep], pool_values[keep]

    def _make_children(self, g: int) -> np.ndarray:
        """``pop_size`` children of ``P`` (uint8, shape ``(pop_size, L)``) for generation ``g``."""
        n, k, pop, L = self.pop_size, self.tournament_size, self.population_.shape[0], self.n_bits
        rng = self.rng
        # Tournament for parent 1: k distinct members of P per child.
        keys1 = rng.random((n, pop))
        a = tournament(self.fitness_, np.argsort(keys1, axis=1)[:, :k])  # GA-(2)
        # Tournament for parent 2: k distinct members of P other than parent 1.
        keys2 = rng.random((n, pop))
        keys2[np.arange(n), a] = np.inf
        b = tournament(self.fitness_, np.argsort(keys2, axis=1)[:, :k])  # GA-(2)
        p1, p2 = self.population_[a], self.population_[b]
        # Segment crossover with cut points uniform over distinct pairs of {0..L}.
        cross = rng.random(n) < self.p_c
        cut1, cut2 = draw_cut_points(rng, n, L)
        crossed = segment_crossover(p1, p2, cut1, cut2)  # GA-(3)
        copied = self.population_[rng.integers(0, pop, size=n)]  # no crossover: a uniformly random member
        children = np.where(cross[:, None], crossed, copied)
        # Bit-flip mutation at the decayed rate.
        p_m = mutation_rate(g, self.max_generations, self.p_m0, self.p_m_min)  # GA-(5)
        return mutate(children, rng.random((n, L)), p_m)  # GA-(4)

    def _new_generation(self) -> np.ndarray:
        if self.generation == 0:
            self.children_ = self.rng.integers(0, 2, size=(self.pop_size, self.n_bits), dtype=np.uint8)
        else:
            self._select_survivors()
            self.children_ = self._make_children(self.generation)
        self.child_values_ = np.full(self.pop_size, np.inf)
        return self._decode(self.children_)  # GA-(1)

    def _record(self, slots: np.ndarray, X: np.ndarray, values: np.ndarray) -> None:
        self.child_values_[slots] = values

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(dim={self.dim}, budget={self.budget}, seed={self.seed}, pop_size={self.pop_size}, "
            f"p_c={self.p_c}, p_m0={self.p_m0:.4g}, p_m_min={self.p_m_min:.4g}, elite={self.elite}, "
            f"tournament_size={self.tournament_size})"
        )
