"""The Ray executor against a real local Ray runtime (``ray.init(num_cpus=2)``)."""

import time

import numpy as np
import pytest

try:
    import ray
except ImportError as exc:  # the `ray` extra is installed by `make test`; elsewhere say why we skip
    pytest.skip(f"ray cannot be imported ({exc}); install emotune[ray]", allow_module_level=True)

from emotune.search import Float, Int, Space, Study, TrialState
from emotune.search.executors import RayExecutor
from emotune.search.pruners import MedianPruner


@pytest.fixture(scope="module")
def local_ray():
    import sys

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    # the objectives below live in this test module, which Ray workers cannot import: ship them by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield
    ray.shutdown()


def _space():
    return Space({"x": Float(-5.0, 5.0), "n": Int(1, 10)})


def noisy(p, trial):
    if trial.id == 5:
        raise RuntimeError("boom")
    if trial.id == 6:
        time.sleep(20)
    return (p["x"] - 1.0) ** 2 + p["n"] + float(np.random.default_rng(trial.seed).normal())


@pytest.mark.slow
def test_ray_tasks_give_the_serial_trials_and_record_faults(local_ray):
    serial = Study(_space(), "ga", seed=2, budget=12, optimizer_options={"pop_size": 4})
    serial.optimize(noisy, trials=12, trial_timeout=1.5)
    distributed = Study(_space(), "ga", seed=2, budget=12, optimizer_options={"pop_size": 4},
                        executor=RayExecutor(2, num_cpus=1))
    distributed.optimize(noisy, trials=12, trial_timeout=1.5)
    pairs = lambda s: sorted((t.id, t.params["n"], t.value, t.state) for t in s.trials)  # noqa: E731
    assert pairs(distributed) == pairs(serial)
    assert distributed.trials[5].state == TrialState.FAILED and "boom" in distributed.trials[5].error
    assert distributed.trials[6].state == TrialState.FAILED and "timed out" in distributed.trials[6].error
    assert all(t.worker.startswith("ray@") for t in distributed.trials if t.id not in (6,))


def curve(p, trial):
    for epoch in range(1, 5):
        trial.report(epoch, p["x"] * epoch)
    return 4 * p["x"]


@pytest.mark.slow
def test_ray_trials_report_to_the_pruner(local_ray):
    study = Study(Space({"x": Float(0.0, 1.0)}), "random", "maximize", seed=0, budget=10,
                  executor=RayExecutor(2), pruner=MedianPruner(n_startup_trials=2, n_warmup_steps=1))
    study.optimize(curve, trials=10)
    assert any(t.state == TrialState.PRUNED for t in study.trials)
    assert all(len(t.intermediate) == 4 for t in study.completed())
