"""Pruners: median rule, successive halving and Hyperband over reported steps, through a real study."""

import math

import pytest

from emotune.exceptions import ConfigError
from emotune.search import Float, Space, Study, TrialState
from emotune.search.pruners import HyperbandPruner, MedianPruner, SuccessiveHalvingPruner, make_pruner


class _Fake:
    """A study-like object: trials with intermediate values."""

    def __init__(self, curves, direction="maximize"):
        self.direction = direction
        self.trials = [type("T", (), {"id": i, "intermediate": c})() for i, c in enumerate(curves)]


def test_median_prunes_below_the_median_of_others_at_the_same_step():
    study = _Fake([{1: 0.5, 2: 0.6}, {1: 0.7, 2: 0.8}, {1: 0.6, 2: 0.7}, {}])
    pruner = MedianPruner(n_startup_trials=3, n_warmup_steps=0)
    assert pruner.should_prune(study, 3, 2, 0.65)  # median of 0.6, 0.8, 0.7 is 0.7
    assert not pruner.should_prune(study, 3, 2, 0.75)
    assert not MedianPruner(n_startup_trials=4).should_prune(study, 3, 2, 0.1)  # too few others yet
    assert not MedianPruner(n_startup_trials=1, n_warmup_steps=2).should_prune(study, 3, 2, 0.1)  # warm-up


def test_median_follows_the_direction():
    study = _Fake([{1: 1.0}, {1: 2.0}, {1: 3.0}], direction="minimize")
    assert MedianPruner(n_startup_trials=3, n_warmup_steps=0).should_prune(study, 9, 1, 2.5)
    assert not MedianPruner(n_startup_trials=3, n_warmup_steps=0).should_prune(study, 9, 1, 1.5)


def test_successive_halving_keeps_the_top_third_at_rungs_only():
    curves = [{1: v, 3: v} for v in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)]
    study = _Fake(curves + [{}])
    sh = SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    assert [sh.is_rung(s) for s in range(1, 10)] == [True, False, True, False, False, False, False, False, True]
    # 9 trials at rung 1 -> the best 3 continue
    assert not sh.should_prune(study, 8, 1, 0.75)  # one better (0.8): in the top 3
    assert sh.should_prune(study, 8, 1, 0.45)  # four better
    assert not sh.should_prune(study, 8, 2, 0.0)  # not a rung
    assert not SuccessiveHalvingPruner(reduction_factor=3).should_prune(_Fake([{1: 0.9}, {}]), 1, 1, 0.1)  # < eta


def test_hyperband_brackets_compete_separately():
    hb = HyperbandPruner(min_resource=1, max_resource=9, reduction_factor=3)
    assert hb.n_brackets == 3
    assert [hb.bracket(i) for i in range(6)] == [0, 1, 2, 0, 1, 2]
    curves = {i: {1: 0.1 * i} for i in range(12)}
    study = _Fake([curves[i] for i in range(12)] + [{}])
    # trial 12 is in bracket 0 (first rung at step 1) and competes with trials 0, 3, 6, 9 only
    assert not hb.should_prune(study, 12, 1, 0.95)
    assert hb.should_prune(study, 12, 1, 0.05)
    # trial 13 is in bracket 1, whose first rung is step 3: step 1 is never a rung there
    assert not hb.should_prune(study, 13, 1, 0.0)


def test_pruned_trials_are_stored_with_their_last_value_and_the_optimizer_is_told_it():
    def objective(p, trial):
        for epoch in range(1, 6):  # a learning curve whose level is set by x
            trial.report(epoch, p["x"] * epoch / 5)
        return p["x"]

    study = Study(Space({"x": Float(0.0, 1.0)}), "random", "maximize", seed=0, budget=30,
                  pruner=MedianPruner(n_startup_trials=3, n_warmup_steps=1))
    study.optimize(objective, trials=30)
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    complete = study.completed()
    assert len(pruned) >= 5 and len(complete) >= 5
    for t in pruned:
        last = max(t.intermediate)
        assert t.value == t.intermediate[last] and last < 5 and "pruned at step" in t.error
    assert study.optimizer.best_value == pytest.approx(-max(t.value for t in study.trials))
    assert min(t.value for t in complete) >= 0.0  # every survivor was at or above the median when checked


def curve(p, trial):
    for epoch in range(1, 6):
        trial.report(epoch, p["x"] * epoch / 5)
    return p["x"]


def test_reports_cross_the_process_boundary_and_prune():
    from emotune.search.executors import ProcessExecutor

    study = Study(Space({"x": Float(0.0, 1.0)}), "random", "maximize", seed=0, budget=16,
                  executor=ProcessExecutor(2), pruner=MedianPruner(n_startup_trials=2, n_warmup_steps=1))
    study.optimize(curve, trials=16)
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    assert pruned and all(t.value == t.intermediate[max(t.intermediate)] for t in pruned)
    assert all(len(t.intermediate) == 5 for t in study.completed())


def test_make_pruner_and_bad_arguments():
    assert make_pruner("none") is None and make_pruner(None) is None
    assert isinstance(make_pruner("halving", reduction_factor=2), SuccessiveHalvingPruner)
    with pytest.raises(ConfigError, match="reduction_factor must be >= 2"):
        SuccessiveHalvingPruner(reduction_factor=1)
    with pytest.raises(ConfigError, match="max_resource must be >= min_resource"):
        HyperbandPruner(min_resource=5, max_resource=2)
    with pytest.raises(Exception, match="unknown pruner"):
        make_pruner("oracle")


def test_the_trainer_hook_reports_epochs_but_never_prunes_at_the_last_one():
    from emotune.search.executors import Job, TrialContext
    from emotune.search.study import TrialPruned
    from emotune.training.callbacks import PrunerReport

    asked = []

    def always_prune(trial_id, step, value):
        asked.append(step)
        return True

    trial = TrialContext(Job(0, {}, 0), always_prune, "main")
    hook = PrunerReport(trial, offset=3, final_step=6)
    hook.on_epoch_end(1, {"val_fitness": None})  # no validation: nothing to report
    with pytest.raises(TrialPruned):
        hook.on_epoch_end(2, {"val_fitness": 0.4})  # step 5
    hook.on_epoch_end(3, {"val_fitness": float("nan")})  # step 6, the last: recorded, the pruner not asked
    assert asked == [5] and trial.intermediate == {5: 0.4, 6: -math.inf}
