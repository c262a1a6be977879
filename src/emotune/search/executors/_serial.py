"""``serial``: objective calls one after another in this process (the default)."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from typing import Any, Callable, Iterator

from emotune.search.executors._base import EXECUTORS, Job, Outcome, Reporter, TrialTimeout, run_objective, wants_context

__all__ = ["SerialExecutor"]


@contextlib.contextmanager
def _alarm(seconds: float | None) -> Iterator[None]:
    """Raise :class:`TrialTimeout` in this thread after ``seconds`` (POSIX ``SIGALRM``, main thread only).

    Elsewhere (another thread, Windows) the limit cannot interrupt Python code and
    is not enforced; use the ``process`` executor, which kills the worker.
    """
    usable = seconds is not None and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def on_alarm(signum, frame):
        raise TrialTimeout(f"trial ran past its limit of {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@EXECUTORS.register("serial")
class SerialExecutor:
    """Runs each submitted job when :meth:`wait` is called, in this process, in submission order.

    ``--trial-timeout`` is enforced with ``SIGALRM`` (main thread, POSIX): the
    trial is interrupted between Python bytecodes, so a long C call (one big
    matrix product) finishes first.
    """

    name = "serial"

    def __init__(self, max_workers: int = 1) -> None:
        self.max_workers = 1
        self._objective: Callable[..., Any] | None = None
        self._report: Reporter | None = None
        self._queue: list[Job] = []
        self._started: dict[int, float] = {}
        self._with_context = False

    def start(self, objective: Callable[..., Any], report: Reporter) -> None:
        self._objective, self._report = objective, report
        self._with_context = wants_context(objective)
        self._queue = []

    def submit(self, job: Job) -> None:
        self._queue.append(job)
        self._started[job.trial_id] = time.time()

    def free_slots(self) -> int:
        return 0 if self._queue else 1

    def running(self) -> dict[int, tuple[str, float]]:
        return {j.trial_id: ("main", self._started.get(j.trial_id, time.time())) for j in self._queue}

    def wait(self, timeout: float | None = None) -> list[Outcome]:
        if not self._queue:
            return []
        job = self._queue[0]
        with _alarm(job.timeout):
            outcome = run_objective(self._objective, job, self._report, "main", with_context=self._with_context)
        self._queue.pop(0)
        self._started.pop(job.trial_id, None)
        return [outcome]

    def map(self, fn: Callable[[Any], Any], items):
        """Back-compatible helper: ``fn`` over ``items`` in order."""
        for item in items:
            yield fn(item)

    def shutdown(self, kill: bool = False) -> list[int]:
        left = [j.trial_id for j in self._queue]
        self._queue = []
        return left
