import numpy as np

from emotune.search.optimizers import make_optimizer


def test_tpe_uses_optuna_and_concentrates_near_the_optimum():
    opt = make_optimizer("tpe", 2, budget=80, seed=0, n_startup_trials=10)
    for _ in range(80):
        (i,), X = opt.ask_batch(1)
        opt.tell_batch(np.array([i]), ((X - 0.8) ** 2).sum(axis=1))
    assert opt._study is not None and len(opt._study.trials) == 80
    late = np.array(opt.state_dict()["algo"]["history"][-20:], dtype=object)
    late_x = np.array([h[1] for h in late])
    assert np.median(np.abs(late_x - 0.8)) < 0.2  # random search would give ~0.3


def test_tpe_failed_trials_count_as_worst():
    opt = make_optimizer("tpe", 2, budget=20, seed=0)
    ids, X = opt.ask_batch(3)
    opt.tell_batch(ids, np.array([np.nan, 1.0, np.inf]))
    values = [h[2] for h in opt.state_dict()["algo"]["history"]]
    assert values == [np.inf, 1.0, np.inf]
    assert opt.best_value == 1.0


def _closest_pair_in_a_parallel_batch(constant_liar: bool, seed: int) -> float:
    """Tell 30 serial trials of a quadratic, then ask 8 at once; return the closest pair's distance."""
    opt = make_optimizer("tpe", 2, budget=60, seed=seed, n_startup_trials=10, constant_liar=constant_liar)
    for _ in range(30):
        (i,), X = opt.ask_batch(1)
        opt.tell_batch(np.array([i]), ((X - 0.8) ** 2).sum(axis=1))
    ids, X = opt.ask_batch(8)
    dist = np.sqrt(((X[:, None] - X[None]) ** 2).sum(-1))
    return float(dist[np.triu_indices(len(ids), 1)].min())


def test_tpe_parallel_asks_spread_out_with_the_constant_liar():
    # With the liar, pending candidates count as bad, so a batch does not pile onto one point
    # (measured medians over 10 seeds: 0.094 with, 0.021 without).
    with_liar = np.median([_closest_pair_in_a_parallel_batch(True, s) for s in range(10)])
    without = np.median([_closest_pair_in_a_parallel_batch(False, s) for s in range(10)])
    assert with_liar > 2 * without
    assert make_optimizer("tpe", 2, seed=0).constant_liar is True  # the default
