import math

import numpy as np
import pytest

from emotune.exceptions import ConfigError
from emotune.search import Categorical, Float, Int, Space, Study, TrialPruned, TrialState


def _space():
    return Space({"x": Float(-5.0, 5.0), "n": Int(1, 10), "c": Categorical(["a", "b"])})


def _objective(p):
    return (p["x"] - 1.0) ** 2 + (p["n"] - 3) ** 2 + (0.0 if p["c"] == "a" else 1.0)


def test_optimize_records_every_trial_and_finds_a_good_point():
    study = Study(_space(), optimizer="random", direction="minimize", seed=0)
    best = study.optimize(_objective, trials=60)
    assert len(study.trials) == 60
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    assert best == study.best_params
    assert study.best_value == min(t.value for t in study.trials)
    assert study.best_value < 2.0


def test_maximize_picks_the_largest_value():
    study = Study(_space(), optimizer="random", direction="maximize", seed=0)
    study.optimize(_objective, trials=30)
    assert study.best_value == max(t.value for t in study.trials)


def test_crashing_and_nan_trials_are_failed_and_the_search_goes_on():
    calls = {"n": 0}

    def objective(p):
        calls["n"] += 1
        if calls["n"] % 3 == 0:
            raise RuntimeError("boom")
        if calls["n"] % 3 == 1:
            return float("nan")
        return _objective(p)

    study = Study(_space(), optimizer="random", seed=0)
    study.optimize(objective, trials=9)
    states = [t.state for t in study.trials]
    assert states.count(TrialState.FAILED) == 6
    assert states.count(TrialState.COMPLETE) == 3
    boom = [t for t in study.trials if t.error and "boom" in t.error]
    assert len(boom) == 3 and boom[0].error.startswith("RuntimeError")
    assert study.best_value == min(t.value for t in study.completed())


def test_pruned_trials_are_recorded_as_pruned():
    def objective(p):
        raise TrialPruned("not promising")

    study = Study(_space(), optimizer="random", seed=0)
    study.optimize(objective, trials=3)
    assert [t.state for t in study.trials] == [TrialState.PRUNED] * 3
    assert study.best_params is None


def test_records_keep_times_and_params():
    study = Study(_space(), optimizer="random", seed=0)
    study.optimize(_objective, trials=3)
    for t in study.trials:
        assert t.end >= t.start > 0
        assert set(t.params) == {"x", "n", "c"}


def test_ask_tell_by_hand():
    study = Study(_space(), optimizer="random", seed=0, budget=10)
    handles = study.ask(4)
    assert len({h.id for h in handles}) == 4
    for h in reversed(handles):
        study.tell(h.id, _objective(h.params))
    assert len(study.completed()) == 4
    with pytest.raises(ConfigError, match="already told"):
        study.tell(handles[0].id, 1.0)
    with pytest.raises(ConfigError, match="unknown trial id"):
        study.tell(999, 1.0)


def test_same_seed_same_trials():
    a = Study(_space(), optimizer="random", seed=3)
    b = Study(_space(), optimizer="random", seed=3)
    a.optimize(_objective, trials=10)
    b.optimize(_objective, trials=10)
    assert [t.params for t in a.trials] == [t.params for t in b.trials]


def test_timeout_stops_the_loop():
    study = Study(_space(), optimizer="random", seed=0)
    study.optimize(_objective, timeout=0.2)
    assert len(study.trials) >= 1


def test_callbacks_see_each_record_and_can_stop():
    seen = []

    def cb(study, record):
        seen.append(record.id)
        if len(seen) == 5:
            study.stop()

    study = Study(_space(), optimizer="random", seed=0)
    study.optimize(_objective, trials=50, callbacks=[cb])
    assert seen == [0, 1, 2, 3, 4]


def test_best_so_far_is_monotone():
    study = Study(_space(), optimizer="random", seed=0)
    study.optimize(_objective, trials=20)
    curve = study.best_so_far()
    assert len(curve) == 20
    assert all(b <= a for a, b in zip(curve, curve[1:]))


def test_state_dict_resumes_exactly():
    full = Study(_space(), optimizer="random", seed=5, budget=20)
    full.optimize(_objective, trials=20)
    half = Study(_space(), optimizer="random", seed=5, budget=20)
    half.optimize(_objective, trials=10)
    resumed = Study.from_state_dict(half.state_dict())
    resumed.optimize(_objective, trials=10)
    assert [t.params for t in resumed.trials] == [t.params for t in full.trials]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"direction": "up"}, "direction must be one of"),
        ({"optimizer": "nope"}, "unknown optimizer 'nope'"),
        ({"budget": 0}, "budget must be >= 1"),
    ],
)
def test_bad_arguments_name_the_rule(kwargs, message):
    with pytest.raises(Exception, match=message):
        Study(_space(), **kwargs)


def test_optimize_needs_a_stopping_rule():
    with pytest.raises(ConfigError, match="needs trials or timeout"):
        Study(_space()).optimize(_objective)


def test_objective_may_return_user_attributes():
    study = Study(_space(), optimizer="random", seed=0)
    study.optimize(lambda p: (_objective(p), {"epochs": p["n"]}), trials=4)
    assert [t.user_attrs["epochs"] for t in study.trials] == [t.params["n"] for t in study.trials]
    assert all(t.state == TrialState.COMPLETE for t in study.trials)


def test_enqueued_params_run_first_and_are_not_told_to_the_optimizer():
    study = Study(_space(), optimizer="pso", seed=0, budget=30)
    study.enqueue({"x": 1.0, "n": 3, "c": "a"})  # the optimum
    study.enqueue({"x": 99.0, "n": 3, "c": "b"})  # out of range: clipped to 5.0
    study.optimize(_objective, trials=30)
    first, second = study.trials[0], study.trials[1]
    assert first.params["n"] == 3 and first.params["x"] == pytest.approx(1.0) and first.optimizer_id is None
    assert second.params["x"] == pytest.approx(5.0) and second.optimizer_id is None
    assert study.best_trial is first
    assert study.optimizer.n_told == 28  # only its own candidates
    assert [t.id for t in study.trials] == list(range(30))


def test_enqueue_rejects_a_value_that_is_not_a_choice():
    with pytest.raises(Exception, match="not one of the choices"):
        Study(_space()).enqueue({"x": 0.0, "n": 1, "c": "z"})


def test_resume_keeps_enqueued_trials():
    study = Study(_space(), optimizer="random", seed=0, budget=10)
    study.enqueue({"x": 1.0, "n": 3, "c": "a"})
    study.enqueue({"x": 2.0, "n": 4, "c": "b"})
    (h,) = study.ask(1)
    study.tell(h.id, 0.0)
    resumed = Study.from_state_dict(study.state_dict())
    (h2,) = resumed.ask(1)
    assert h2.params["n"] == 4 and resumed.trials[-1].optimizer_id is None
