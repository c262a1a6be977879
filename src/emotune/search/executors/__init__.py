"""Executors run a study's objective calls: ``serial`` (default), ``process`` (``--jobs N``
local processes) and ``ray`` (Ray tasks; Ray is imported only when this executor starts)."""

from __future__ import annotations

from typing import Any

from emotune.search.executors._base import EXECUTORS, Executor, Job, Outcome, TrialContext, TrialTimeout, run_objective
from emotune.search.executors._process import ProcessExecutor
from emotune.search.executors._ray import RayExecutor
from emotune.search.executors._serial import SerialExecutor

__all__ = [
    "EXECUTORS", "Executor", "Job", "Outcome", "TrialContext", "TrialTimeout", "run_objective",
    "SerialExecutor", "ProcessExecutor", "RayExecutor", "make_executor",
]


def make_executor(name: str, jobs: int = 1, **options: Any) -> Executor:
    """The executor registered as ``name`` with ``jobs`` trials at once (``serial`` ignores ``jobs``)."""
    cls = EXECUTORS.get(name)
    if cls is SerialExecutor:
        return cls()
    return cls(jobs, **options)
