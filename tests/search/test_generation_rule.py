"""The generation rule (no result is ever lost) and non-finite values as failures."""

from __future__ import annotations

import numpy as np
import pytest

from emotune.exceptions import ConfigError
from emotune.search import Space
from emotune.search.optimizers import OPTIMIZERS, PopulationOptimizer, make_optimizer
from emotune.search.study import Study, TrialState

POPULATION = [n for n in OPTIMIZERS.names() if issubclass(OPTIMIZERS.get(n), PopulationOptimizer)]


def sphere(X: np.ndarray) -> np.ndarray:
    return ((X - 0.3) ** 2).sum(axis=1)


def drive(opt, evals: int, batch: int) -> np.ndarray:
    asked, done = [], 0
    while done < evals:
        ids, X = opt.ask_batch(min(batch, evals - done))
        opt.tell_batch(ids, sphere(X))
        asked.append(X)
        done += len(ids)
    return np.concatenate(asked)


def test_every_population_optimizer_is_covered():
    assert {"ga", "pso", "ipso", "aquila", "aquila_unit", "lwaro"} <= set(POPULATION)


@pytest.mark.parametrize("name", POPULATION)
@pytest.mark.parametrize("batch", [3, 7, 8, 13])
def test_batches_that_do_not_divide_the_population_lose_nothing(name, batch):
    """Any batch size gives exactly the run of whole-generation batches: every result reached the optimizer."""
    whole = make_optimizer(name, 4, budget=200, seed=3, pop_size=10)
    ref = drive(whole, 200, batch=10)
    opt = make_optimizer(name, 4, budget=200, seed=3, pop_size=10)
    got = drive(opt, 200, batch=batch)
    np.testing.assert_array_equal(got, ref)
    assert opt.n_told == 200 and opt.best_value == whole.best_value


@pytest.mark.parametrize("name", POPULATION)
def test_ask_waits_until_the_generation_is_told(name):
    opt = make_optimizer(name, 3, budget=100, seed=0, pop_size=10)
    ids1, X1 = opt.ask_batch(8)
    ids2, X2 = opt.ask_batch(8)  # only the 2 left in generation 0
    assert len(ids1) == 8 and len(ids2) == 2 and opt.n_waiting == 10
    ids3, X3 = opt.ask_batch(8)
    assert ids3.shape == (0,) and X3.shape == (0, 3)  # generation 0 is still open
    opt.tell_batch(ids1, sphere(X1))
    opt.tell_batch(ids2[:1], sphere(X2[:1]))
    assert len(opt.ask_batch(5)[0]) == 0 and opt.generation == 0
    opt.tell_batch(ids2[1:], np.array([np.nan]))  # a failure closes it as well
    ids4, X4 = opt.ask_batch(8)
    assert len(ids4) == 8 and opt.generation == 1
    assert ids4[0] == 10  # ids stay consecutive


@pytest.mark.parametrize("name", POPULATION)
def test_unknown_and_repeated_ids_are_refused(name):
    opt = make_optimizer(name, 2, budget=50, seed=0, pop_size=4)
    ids, X = opt.ask_batch(4)
    with pytest.raises(ConfigError, match="never asked"):
        opt.tell_batch(np.array([ids[0], ids[0]]), np.array([1.0, 2.0]))
    opt.tell_batch(ids[:1], np.array([1.0]))
    with pytest.raises(ConfigError, match="already told"):
        opt.tell(int(ids[0]), 1.0)
    with pytest.raises(ConfigError, match="never asked"):
        opt.tell(99, 1.0)
    assert opt.n_told == 1


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_non_finite_values_of_either_sign_are_the_worst(name):
    opt = make_optimizer(name, 2, budget=50, seed=0)
    ids, X = opt.ask_batch(3)
    opt.tell_batch(ids, np.array([-np.inf, 2.0, np.inf]))
    assert opt.best_value == 2.0
    np.testing.assert_array_equal(opt.best_x, X[1])
    if hasattr(opt, "fit_") and getattr(opt, "generation", 1) == 0:
        assert opt.fit_[0] == np.inf


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_study_records_non_finite_values_as_failed(bad):
    space = Space.from_json({"a": {"type": "float", "low": 0.0, "high": 1.0}})
    calls = iter(range(100))

    def objective(params):
        return bad if next(calls) % 3 == 0 else params["a"]

    study = Study(space, "pso", direction="maximize", seed=0)
    study.optimize(objective, trials=12)
    failed = [t for t in study.trials if t.state == TrialState.FAILED]
    assert len(failed) == 4 and all(f"returned {bad}" in t.error for t in failed)
    assert np.isfinite(study.best_value) and study.best_value == max(t.value for t in study.completed())
