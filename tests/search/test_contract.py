"""One contract suite over every registered optimizer."""

import pickle

import numpy as np
import pytest

from emotune.search.optimizers import OPTIMIZERS, make_optimizer

ALL = OPTIMIZERS.names()
SHIFT = 0.3


def shifted_sphere(X):
    return ((X - SHIFT) ** 2).sum(axis=1)


def run(opt, evals, batch=7, objective=shifted_sphere, reverse=False):
    """Drive ``opt`` for ``evals`` evaluations; returns the stacked asked points."""
    asked = []
    done = 0
    while done < evals:
        n = min(batch, evals - done)
        ids, X = opt.ask_batch(n)
        asked.append(X)
        values = objective(X)
        order = np.arange(n)[::-1] if reverse else np.arange(n)
        opt.tell_batch(ids[order], values[order])
        done += n
    return np.concatenate(asked)


def test_registry_has_every_algorithm():
    assert {"random", "ga", "pso", "ipso", "aquila", "lwaro", "tpe"} <= set(ALL)


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
    state = pickle.loads(pickle.dumps(uninterrupted.state_dict()))  # as if in another process
    # leave one candidate pending across the snapshot as well
    ids, X = uninterrupted.ask_batch(2)
    rest = run(uninterrupted, 40)

    resumed = make_optimizer(name, 3, budget=120, seed=999)  # the seed must come from the state
    resumed.load_state_dict(state)
    ids2, X2 = resumed.ask_batch(2)
    rest2 = run(resumed, 40)
    assert np.array_equal(ids, ids2) and np.array_equal(X, X2)
    assert np.array_equal(rest, rest2)
    assert first.shape == (45, 3)


@pytest.mark.parametrize("name", ALL)
def test_tells_in_any_order(name):
    opt = make_optimizer(name, 3, budget=80, seed=0)
    X = run(opt, 80, batch=10, reverse=True)
    assert X.shape == (80, 3)
    assert opt.best_value == pytest.approx(shifted_sphere(X).min())


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


@pytest.mark.parametrize("name", [n for n in ALL if n != "random"])
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
