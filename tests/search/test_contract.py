"""One contract suite over every registered optimizer."""

import pickle

import numpy as np
import pytest

from emotune.search.optimizers import OPTIMIZERS, make_optimizer

ALL = OPTIMIZERS.names()
SHIFT = 0.3


def shifted_sphere(X):
    return ((X - SHIFT) ** 2).sum(axis=1)


def run(opt, evals, batch=7, objective=shifted_sphere, order_seed=None):
    """Drive ``opt`` for ``evals`` evaluations; returns the stacked asked points.

    ``batch`` need not divide a population: a population optimizer returns fewer
    at a generation's end. With ``order_seed`` every batch is told one by one in
    a shuffled order instead of in the asked order.
    """
    asked = []
    done = 0
    shuffle = None if order_seed is None else np.random.default_rng(order_seed)
    while done < evals:
        ids, X = opt.ask_batch(min(batch, evals - done))
        assert len(ids) >= 1  # everything asked so far was told
        asked.append(X)
        values = objective(X)
        if shuffle is None:
            opt.tell_batch(ids, values)
        else:
            for k in shuffle.permutation(len(ids)):
                opt.tell(int(ids[k]), float(values[k]))
        done += len(ids)
    return np.concatenate(asked)


def test_registry_has_every_algorithm():
    assert {"random", "ga", "pso", "ipso", "aquila", "aquila_unit", "lwaro", "tpe"} <= set(ALL)


@pytest.mark.parametrize("name", ALL)
def test_same_seed_same_trials(name):
    a = run(make_optimizer(name, 4, budget=60, seed=11), 60)
    b = run(make_optimizer(name, 4, budget=60, seed=11), 60)
    assert np.array_equal(a, b)


@pytest.mark.parametrize("name", ALL)
def test_different_seeds_differ(name):
    a = run(make_optimizer(name, 4, budget=40, seed=1), 40)
    b = run(make_optimizer(name, 4, budget=40, seed=2), 40)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("name", ALL)
def test_candidates_stay_in_the_unit_box(name):
    X = run(make_optimizer(name, 6, budget=200, seed=0), 200, objective=lambda X: -((X - 0.99) ** 2).sum(axis=1))
    assert X.shape == (200, 6)
    assert np.all(X >= 0.0) and np.all(X <= 1.0)


@pytest.mark.parametrize("name", ALL)
def test_state_dict_round_trip_mid_run_continues_identically(name):
    uninterrupted = make_optimizer(name, 3, budget=120, seed=7)
    first = run(uninterrupted, 45)
    ids, X = uninterrupted.ask_batch(2)  # two candidates pending across the snapshot
    state = pickle.loads(pickle.dumps(uninterrupted.state_dict()))  # as if in another process
    uninterrupted.tell_batch(ids, shifted_sphere(X))
    rest = run(uninterrupted, 40)

    resumed = make_optimizer(name, 3, budget=120, seed=999)  # the seed must come from the state
    resumed.load_state_dict(state)
    resumed.tell_batch(ids, shifted_sphere(X))  # the pending ids are still known after the load
    rest2 = run(resumed, 40)
    assert np.array_equal(rest, rest2)
    assert resumed.best_value == uninterrupted.best_value and resumed.n_told == uninterrupted.n_told
    assert first.shape == (45, 3) and len(ids) == 2


@pytest.mark.parametrize("name", ALL)
def test_tells_in_any_order(name):
    """A shuffled tell order within each batch gives exactly the run of in-order tells."""
    in_order = make_optimizer(name, 3, budget=80, seed=0)
    X = run(in_order, 80, batch=10)
    shuffled = make_optimizer(name, 3, budget=80, seed=0)
    X2 = run(shuffled, 80, batch=10, order_seed=1)
    assert X.shape == (80, 3)
    np.testing.assert_array_equal(X, X2)
    assert shuffled.best_value == in_order.best_value == shifted_sphere(X).min()


@pytest.mark.parametrize("name", ALL)
def test_failed_trials_do_not_crash_it(name):
    rng = np.random.default_rng(0)

    def flaky(X):
        v = shifted_sphere(X)
        v[rng.random(len(v)) < 0.3] = np.nan
        v[rng.random(len(v)) < 0.1] = np.inf
        return v

    opt = make_optimizer(name, 3, budget=100, seed=0)
    run(opt, 100, objective=flaky)
    assert np.isfinite(opt.best_value)
    assert opt.n_told == 100


CENTRE_BIASED = pytest.mark.xfail(
    strict=True,
    reason="Aquila in the paper's domain [-100, 100]^D is drawn to the centre of the box (docs/optimizers.md); "
    "on a sphere shifted off the centre it is no better than random search",
)


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=CENTRE_BIASED) if n == "aquila" else n for n in ALL if n != "random"]
)
def test_beats_random_search_on_shifted_sphere(name):
    dim, budget = 5, 600 if name == "tpe" else 1000
    ours, rand = [], []
    for seed in range(3):
        opt = make_optimizer(name, dim, budget=budget, seed=seed)
        run(opt, budget, batch=getattr(opt, "pop_size", 10))
        ours.append(opt.best_value)
        baseline = make_optimizer("random", dim, budget=budget, seed=seed)
        run(baseline, budget)
        rand.append(baseline.best_value)
    assert np.median(ours) < np.median(rand)
