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
