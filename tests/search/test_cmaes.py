"""CMA-ES through the cmaes package: population, sigma, the generation hand-over, failures, restarts."""

from __future__ import annotations

import numpy as np
import pytest

from emotune.exceptions import ConfigError
from emotune.search.optimizers import OPTIMIZERS, make_optimizer
from emotune.search.optimizers import _cmaes as cm


def sphere(X: np.ndarray) -> np.ndarray:
    return ((X - 0.3) ** 2).sum(axis=1)


def test_registered_population_and_sigma():
    assert OPTIMIZERS.get("cmaes") is cm.CMAES
    assert make_optimizer("cmaes", 10).pop_size == 10  # 4 + floor(3 ln 10)
    assert make_optimizer("cmaes", 30).pop_size == 14
    assert make_optimizer("cmaes", 2, pop_size=6).pop_size == 6
    assert cm.SIGMA0 == pytest.approx(1 / 6)
    with pytest.raises(ConfigError, match="sigma0"):
        cm.CMAES(3, sigma0=0.0)


def test_generations_equal_the_cmaes_package_driven_by_hand():
    """The wrapper asks and tells exactly what a hand-driven cmaes.CMA with the documented seed would."""
    from cmaes import CMA

    d, seed = 4, 17
    opt = make_optimizer("cmaes", d, budget=200, seed=seed)
    lam = opt.pop_size
    probe = np.random.default_rng(seed)
    ref = CMA(mean=np.full(d, 0.5), sigma=1 / 6, bounds=np.tile([0.0, 1.0], (d, 1)),
              seed=int(probe.integers(0, 2**31 - 1)), population_size=lam)
    order = np.random.default_rng(0)
    for g in range(4):
        expected = np.stack([ref.ask() for _ in range(lam)])
        got = []
        while sum(len(x) for x in got) < lam:  # batches of 3 do not divide lambda = 8
            ids, X = opt.ask_batch(3)
            got.append(X)
            values = sphere(X)
            values[0] = np.nan if g == 1 else values[0]  # one failure in generation 1
            perm = order.permutation(len(ids))
            opt.tell_batch(ids[perm], values[perm])
        X = np.concatenate(got)
        np.testing.assert_array_equal(X, expected)
        told = sphere(X)
        if g == 1:
            bad = [0, 3, 6]  # the first of each batch of 3 failed
            told[bad] = np.inf
            worst = told[np.isfinite(told)].max()
            told[bad] = worst + max(1.0, abs(worst))
        ref.tell([(x, float(v)) for x, v in zip(X, told)])


def test_failures_rank_last_with_finite_values():
    v = cm.ranked_values(np.array([2.0, np.inf, -3.0, np.inf]))
    assert np.all(np.isfinite(v)) and v[1] == v[3] == 4.0  # worst 2 + max(1, 2)
    np.testing.assert_array_equal(cm.ranked_values(np.full(3, np.inf)), np.ones(3))


def test_restarts_when_converged_and_keeps_searching():
    opt = make_optimizer("cmaes", 2, budget=3000, seed=0)
    while opt.n_told < 3000:
        ids, X = opt.ask_batch(opt.pop_size)
        opt.tell_batch(ids, np.ones(len(ids)))  # flat: converges on the values at once
    assert opt.n_restarts_ >= 1
    without = make_optimizer("cmaes", 2, budget=3000, seed=0, restarts=False)
    while without.n_told < 600:
        ids, X = without.ask_batch(without.pop_size)
        without.tell_batch(ids, np.ones(len(ids)))
    assert without.n_restarts_ == 0


def test_beats_random_on_shifted_sphere():
    for seed in range(3):
        cma = make_optimizer("cmaes", 5, budget=600, seed=seed)
        rnd = make_optimizer("random", 5, budget=600, seed=seed)
        for opt in (cma, rnd):
            while opt.n_told < 600:
                ids, X = opt.ask_batch(min(getattr(opt, "pop_size", 10), 600 - opt.n_told))
                opt.tell_batch(ids, sphere(X))
        assert cma.best_value < 1e-6 < rnd.best_value


def test_resume_through_a_pickle_mid_generation_continues_identically():
    import pickle

    a = make_optimizer("cmaes", 3, budget=200, seed=7)
    while a.n_told < 40:
        ids, X = a.ask_batch(5)
        a.tell_batch(ids, sphere(X))
    ids, X = a.ask_batch(3)  # pending across the snapshot
    state = pickle.loads(pickle.dumps(a.state_dict()))
    b = make_optimizer("cmaes", 3, budget=200, seed=1)
    b.load_state_dict(state)
    runs = []
    for opt in (a, b):
        opt.tell_batch(ids, sphere(X))
        out = []
        while opt.n_told < 150:
            i, x = opt.ask_batch(5)
            opt.tell_batch(i, sphere(x))
            out.append(x)
        runs.append(np.concatenate(out))
    np.testing.assert_array_equal(runs[0], runs[1])
