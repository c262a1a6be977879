"""Executors: process workers give the serial results, tells out of order, and faults never stop a study."""

import os
import signal
import time

import numpy as np
import pytest

from emotune.exceptions import ConfigError, StudyInterrupted
from emotune.search import OPTIMIZERS, Float, Int, Space, Study, TrialState
from emotune.search.executors import ProcessExecutor, SerialExecutor, make_executor


def _space():
    return Space({"x": Float(-5.0, 5.0), "n": Int(1, 10)})


def noisy(p, trial):
    """Deterministic given the trial's seed; a worker-dependent seed would change the value."""
    return (p["x"] - 1.0) ** 2 + p["n"] + float(np.random.default_rng(trial.seed).normal())


def _pairs(study):
    return sorted((t.params["x"], t.params["n"], t.value) for t in study.trials)


@pytest.mark.parametrize("optimizer", ["random", "ga"])
def test_two_process_workers_give_the_same_trials_as_serial(optimizer):
    serial = Study(_space(), optimizer, seed=4, budget=24, optimizer_options={"pop_size": 5} if optimizer == "ga" else {})
    serial.optimize(noisy, trials=24)
    parallel = Study(_space(), optimizer, seed=4, budget=24, executor=ProcessExecutor(2),
                     optimizer_options={"pop_size": 5} if optimizer == "ga" else {})
    parallel.optimize(noisy, trials=24)
    assert _pairs(parallel) == _pairs(serial)
    assert len({t.worker.split("/")[0] for t in parallel.trials}) == 2  # both workers ran trials


def jittered(p, trial):
    time.sleep(float(np.random.default_rng(trial.seed).uniform(0.0, 0.03)))
    return (p["x"] - 1.0) ** 2 + p["n"]


@pytest.mark.parametrize("optimizer", OPTIMIZERS.names())
def test_out_of_order_tells_through_the_process_executor(optimizer):
    options = {"pop_size": 4} if optimizer not in ("random", "tpe") else {}
    told = []
    study = Study(_space(), optimizer, seed=0, budget=14, executor=ProcessExecutor(2), optimizer_options=options)
    study.optimize(jittered, trials=14, callbacks=[lambda s, r: told.append(r.id)])
    assert sorted(told) == list(range(14))  # every asked trial told exactly once
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    assert study.optimizer.n_told == 14


def faulty(p, trial):
    kind = trial.id % 6
    if kind == 1:
        raise RuntimeError("boom")
    if kind == 2:
        return float("nan")
    if kind == 3:
        raise MemoryError("cannot allocate 40 GiB")
    if kind == 4:
        time.sleep(30)  # past the trial limit
    if kind == 5 and trial.id < 12:
        os.kill(os.getpid(), signal.SIGKILL)  # the OS kills the worker
    return p["x"] ** 2


def test_failed_nan_oom_timed_out_and_killed_trials_are_recorded_and_the_study_goes_on():
    executor = ProcessExecutor(2)
    study = Study(_space(), "random", seed=0, executor=executor)
    t0 = time.time()
    study.optimize(faulty, trials=13, trial_timeout=1.0)
    assert time.time() - t0 < 20
    by_kind = {k: [t for t in study.trials if t.id % 6 == k] for k in range(6)}
    assert all(t.state == TrialState.COMPLETE for t in by_kind[0])
    assert all(t.state == TrialState.FAILED and "boom" in t.error for t in by_kind[1])
    assert all(t.state == TrialState.FAILED and "nan" in t.error for t in by_kind[2])
    assert all(t.state == TrialState.FAILED and t.error.startswith("out of memory") for t in by_kind[3])
    assert all(t.state == TrialState.FAILED and t.error.startswith("timed out") for t in by_kind[4])
    assert all(t.state == TrialState.FAILED and "SIGKILL" in t.error for t in by_kind[5])
    assert len(study.trials) == 13 and study.trials[12].state == TrialState.COMPLETE
    assert executor.restarts >= 6  # a fresh worker after each kill, timeout and OOM


def test_serial_trial_timeout_interrupts_the_objective():
    def slow(p):
        if p["n"] > 5:
            time.sleep(5)
        return p["x"]

    study = Study(_space(), "random", seed=0)
    t0 = time.time()
    study.optimize(slow, trials=6, trial_timeout=0.2)
    assert time.time() - t0 < 3
    slow_ones = [t for t in study.trials if t.params["n"] > 5]
    assert slow_ones and all(t.state == TrialState.FAILED and "timed out" in t.error for t in slow_ones)


def test_ctrl_c_once_finishes_the_running_trial_and_stops_asking():
    def objective(p, trial):
        if trial.id == 2:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # the trial keeps running after the first Ctrl-C
        return p["x"]

    study = Study(_space(), "random", seed=0)
    study.optimize(objective, trials=10)
    assert study.interrupted == "graceful"
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3


def test_ctrl_c_twice_stops_now_and_marks_the_running_trial_interrupted():
    def objective(p, trial):
        if trial.id == 1:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        return p["x"]

    study = Study(_space(), "random", seed=0)
    with pytest.raises(StudyInterrupted, match="second Ctrl-C"):
        study.optimize(objective, trials=10)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE, TrialState.INTERRUPTED]
    study.optimize(lambda p: p["x"], trials=2)  # the interrupted trial is re-run first, same id
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3


def test_make_executor_and_arguments():
    assert isinstance(make_executor("serial", 4), SerialExecutor)
    assert make_executor("process", 3).max_workers == 3
    with pytest.raises(ConfigError, match="jobs .* must be >= 1"):
        ProcessExecutor(0)
    with pytest.raises(Exception, match="unknown executor"):
        make_executor("cluster")
