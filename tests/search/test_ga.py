"""Binary GA (emotune.search.optimizers._ga): operators on hand-computed cases and the ask/tell contract."""

from __future__ import annotations

import numpy as np
import pytest

from emotune.exceptions import ConfigError
from emotune.search.optimizers import OPTIMIZERS, make_optimizer
from emotune.search.optimizers._ga import (
    GeneticAlgorithm,
    draw_cut_points,
    mutate,
    mutation_rate,
    rank_select,
    segment_crossover,
    tournament,
)
from emotune.search.spaces import gray_to_unit


def sphere(X: np.ndarray) -> np.ndarray:
    return ((X - 0.3) ** 2).sum(axis=1)


def run_generation(opt, f=sphere, order=None):
    ids, X = opt.ask_batch(opt.pop_size)
    values = f(X)
    idx = np.arange(len(ids)) if order is None else np.asarray(order)
    opt.tell_batch(ids[idx], values[idx])
    return ids, X, values


# --- pure operators ---------------------------------------------------------------


def test_segment_crossover_copies_exactly_the_segment_from_parent_2():
    p1 = np.array([[1, 0, 1, 0, 1, 0, 1, 0], [0, 0, 0, 0, 0, 0, 0, 0]], dtype=np.uint8)
    p2 = np.array([[1, 1, 0, 0, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1]], dtype=np.uint8)
    child = segment_crossover(p1, p2, np.array([1, 2]), np.array([6, 5]))
    # row 0: bits 1..5 from p2 = [1, 0, 0, 1, 1], the rest from p1
    np.testing.assert_array_equal(child[0], [1, 1, 0, 0, 1, 1, 1, 0])
    # row 1: bits [2, 5) from p2
    np.testing.assert_array_equal(child[1], [0, 0, 1, 1, 1, 0, 0, 0])
    assert child.dtype == np.uint8


def test_segment_crossover_edge_cuts():
    p1 = np.zeros((1, 4), dtype=np.uint8)
    p2 = np.ones((1, 4), dtype=np.uint8)
    np.testing.assert_array_equal(segment_crossover(p1, p2, [0], [4]), p2)  # whole string
    np.testing.assert_array_equal(segment_crossover(p1, p2, [3], [3]), p1)  # empty segment
    with pytest.raises(ConfigError, match="cut1 <= cut2"):
        segment_crossover(p1, p2, [3], [2])


def test_cut_points_are_distinct_sorted_and_uniform_over_pairs():
    cut1, cut2 = draw_cut_points(np.random.default_rng(0), 6000, 2)
    assert np.all(cut1 < cut2) and cut1.min() == 0 and cut2.max() == 2
    pairs = cut1 * 3 + cut2  # (0, 1), (0, 2), (1, 2)
    freq = np.array([(pairs == k).mean() for k in (1, 2, 5)])
    np.testing.assert_allclose(freq, [1 / 3, 1 / 3, 1 / 3], atol=0.03)


def test_mutation_flips_bits_below_rate():
    genes = np.array([[0, 1, 0, 1]], dtype=np.uint8)
    u = np.array([[0.05, 0.5, 0.09, 0.2]])
    np.testing.assert_array_equal(mutate(genes, u, 0.1), [[1, 1, 1, 1]])


def test_mutation_rate_hand_values_and_monotone_decay():
    # p_m(g) = max(p_m_min, p_m0 (1 - (g - 1) / T))
    assert mutation_rate(1, 10, 0.1, 0.005) == pytest.approx(0.1)
    assert mutation_rate(6, 10, 0.1, 0.005) == pytest.approx(0.05)
    assert mutation_rate(10, 10, 0.1, 0.005) == pytest.approx(0.01)
    assert mutation_rate(11, 10, 0.1, 0.005) == pytest.approx(0.005)  # floor
    assert mutation_rate(50, 10, 0.1, 0.005) == pytest.approx(0.005)
    rates = np.array([mutation_rate(g, 10, 0.1, 0.005) for g in range(1, 20)])
    assert np.all(np.diff(rates) <= 0)
    assert np.all(np.diff(rates[:10]) < 0)  # strictly decreasing above the floor
    with pytest.raises(ConfigError, match="g >= 1"):
        mutation_rate(0, 10, 0.1)


def test_tournament_picks_lowest_value_first_on_ties():
    values = np.array([3.0, 1.0, 2.0, 1.0])
    cands = np.array([[0, 2], [2, 1], [3, 1], [0, 0]])
    np.testing.assert_array_equal(tournament(values, cands), [2, 1, 3, 0])


def test_rank_select_keeps_elite_and_draws_rest_by_rank():
    values = np.array([5.0, 1.0, 3.0, np.inf, 2.0, 4.0])
    keep = rank_select(values, 4, 2, np.random.default_rng(0))
    np.testing.assert_array_equal(keep[:2], [1, 4])  # the two best, best first
    assert len(set(keep.tolist())) == 4  # without replacement
    # With one draw left, the rest [2, 5, 0, 3] (values 3, 4, 5, inf) have weights 4, 3, 2, 1.
    rng = np.random.default_rng(1)
    draws = np.array([rank_select(values, 3, 2, rng)[2] for _ in range(4000)])
    freq = np.array([(draws == i).mean() for i in (2, 5, 0, 3)])
    np.testing.assert_allclose(freq, [0.4, 0.3, 0.2, 0.1], atol=0.03)
    np.testing.assert_array_equal(rank_select(values, 2, 2, rng), [1, 4])


def test_vectorised_gray_decoder_equals_the_reference_decoder():
    from emotune.search.optimizers._ga import GrayDecoder

    rng = np.random.default_rng(0)
    for bits in ([16] * 10, [1, 4, 16], [5, 6, 7], [1], [30, 2]):
        genes = rng.integers(0, 2, size=(40, sum(bits)), dtype=np.uint8)
        np.testing.assert_array_equal(GrayDecoder(bits)(genes), gray_to_unit(genes, bits))


# --- the optimizer ------------------------------------------------------------------


def test_registered_and_bits_layout():
    assert OPTIMIZERS.get("ga") is GeneticAlgorithm
    assert GeneticAlgorithm.uses_bits
    opt = make_optimizer("ga", 3, budget=60, seed=0, bits_per_dim=[1, 4, 16], pop_size=10)
    assert opt.n_bits == 21 and opt.p_m0 == pytest.approx(2 / 21)
    ids, X = opt.ask_batch(10)
    # every proposal is the bin centre GA-(1) of its genome
    np.testing.assert_array_equal(X, gray_to_unit(opt.children_, [1, 4, 16]))
    assert set(np.unique(X[:, 0])) <= {0.25, 0.75}
    np.testing.assert_array_equal((X[:, 1] * 16 - 0.5) % 1, 0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"bits_per_dim": [8]}, "one entry per dimension"),
        ({"bits_per_dim": [8, 0]}, "bits_per_dim entries must be >= 1"),
        ({"p_c": 1.5}, "p_c must be in"),
        ({"p_m0": -0.1}, "p_m0 must be in"),
        ({"elite": 11}, "elite must be in"),
        ({"tournament_size": 10}, "tournament_size must be in"),
    ],
)
def test_config_errors_name_the_argument(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        GeneticAlgorithm(2, pop_size=10, **kwargs)


def test_elitism_keeps_best_e_across_a_generation():
    opt = GeneticAlgorithm(4, budget=400, seed=3, pop_size=10, elite=3, bits_per_dim=[6] * 4)
    run_generation(opt)  # generation 0
    gen0_genes, gen0_values = opt.children_.copy(), opt.child_values_.copy()
    run_generation(opt)  # generation 1
    gen1_genes, gen1_values = opt.children_.copy(), opt.child_values_.copy()
    id0, X0 = opt.ask_batch(1)  # builds generation 2: selection over generation 0 (the population) and 1
    pool_genes = np.concatenate([gen0_genes, gen1_genes])
    pool_values = np.concatenate([gen0_values, gen1_values])
    best = np.argsort(pool_values, kind="stable")[:3]
    np.testing.assert_array_equal(opt.fitness_[:3], pool_values[best])
    np.testing.assert_array_equal(opt.population_[:3], pool_genes[best])
    assert opt.population_.shape == (10, 24) and opt.fitness_.shape == (10,)
    # the population's best never gets worse over many generations
    ids, X = opt.ask_batch(opt.pop_size - 1)  # rest of generation 2
    opt.tell_batch(np.concatenate([id0, ids]), sphere(np.concatenate([X0, X])))
    bests = []
    for _ in range(15):
        run_generation(opt)  # the first ask runs selection, then the generation is told
        bests.append(opt.fitness_.min())
    assert np.all(np.diff(bests) <= 0)


def test_without_crossover_and_mutation_children_copy_population_members():
    opt = GeneticAlgorithm(3, budget=200, seed=5, pop_size=8, p_c=0.0, p_m0=0.0, bits_per_dim=[5] * 3)
    run_generation(opt)
    opt.ask_batch(8)
    pop = {tuple(r) for r in opt.population_}
    assert all(tuple(c) in pop for c in opt.children_)


def test_nan_is_worst_and_tells_in_any_order_give_the_same_run():
    def run(order_seed):
        opt = GeneticAlgorithm(3, budget=200, seed=11, pop_size=8)
        perm_rng = np.random.default_rng(order_seed)
        out = []
        for _ in range(4):
            ids, X = opt.ask_batch(8)
            values = sphere(X)
            values[0] = np.nan
            perm = perm_rng.permutation(8)
            for k in perm:  # one by one, shuffled
                opt.tell(int(ids[k]), float(values[k]))
            out.append(X)
            assert opt.child_values_[0] == np.inf
        return np.stack(out)

    np.testing.assert_array_equal(run(0), run(1))


def test_state_round_trip_resumes_exactly():
    a = GeneticAlgorithm(4, budget=300, seed=7, pop_size=10)
    run_generation(a)
    run_generation(a)
    ids, X = a.ask_batch(6)  # half a generation out, 3 of them told
    a.tell_batch(ids[:3], sphere(X[:3]))
    state = a.state_dict()

    b = GeneticAlgorithm(4, budget=300, seed=999, pop_size=10)
    b.load_state_dict(state)
    for opt in (a, b):
        opt.tell_batch(ids[3:], sphere(X[3:]))
    for _ in range(5):
        ia, Xa = a.ask_batch(7)
        ib, Xb = b.ask_batch(7)
        np.testing.assert_array_equal(ia, ib)
        np.testing.assert_array_equal(Xa, Xb)
        a.tell_batch(ia, sphere(Xa))
        b.tell_batch(ib, sphere(Xb))
    np.testing.assert_array_equal(a.population_, b.population_)
    assert a.best_value == b.best_value


def _best_after(name, seed, budget=1000, batch=20):
    opt = OPTIMIZERS.get(name)(5, budget=budget, seed=seed)
    told = 0
    while told < budget:
        ids, X = opt.ask_batch(min(batch, budget - told))
        opt.tell_batch(ids, sphere(X))
        told += len(ids)
    return opt.best_value


def test_beats_random_search_on_shifted_sphere():
    ga = np.mean([_best_after("ga", s) for s in range(3)])
    rnd = np.mean([_best_after("random", s) for s in range(3)])
    assert ga < rnd
