"""``process``: ``--jobs N`` trial processes on this machine.

Each worker is a long-lived process with a duplex pipe to the study. The study
sends a job; the worker runs it and sends back intermediate reports (and waits
for the prune/continue answer) and finally the outcome. The study waits on all
pipes *and* on each process's sentinel, so it notices at once when

* a worker is killed by the OS (OOM killer, ``kill -9``): its trial is recorded
  as failed with the exit signal, and a new worker takes its slot;
* a trial runs past ``--trial-timeout``: its worker is killed (``SIGKILL``:
  C code cannot ignore it), the trial is failed as timed out, a new worker starts;
* a trial raised ``MemoryError`` / CUDA OOM: failed as out of memory, and the
  worker is replaced (a fresh heap / CUDA context for the next trial).

Start method: ``fork`` (default on Linux) hands the objective and the cached
feature arrays to the workers without pickling (copy-on-write pages);
``spawn``/``forkserver`` need a picklable objective. Workers ignore SIGINT:
Ctrl-C is the study's to handle (stop asking, let running trials finish).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait as mp_wait
from typing import Any, Callable

from emotune.exceptions import ConfigError
from emotune.search.executors._base import EXECUTORS, Job, Outcome, Reporter, run_objective, wants_context

__all__ = ["ProcessExecutor"]


def _worker_main(conn: Connection, objective: Callable[..., Any], name: str, slot: int,
                 initializer: Callable[[int], None] | None, with_context: bool, ask_pruner: bool) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if initializer is not None:
        initializer(slot)
    worker = f"{name}/pid{os.getpid()}"

    def report(trial_id: int, step: int, value: float) -> bool:
        conn.send(("report", trial_id, step, value))
        return bool(conn.recv())

    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        outcome = run_objective(objective, job, report if ask_pruner else None, worker, with_context=with_context)
        conn.send(("done", outcome))
        if outcome.restart_worker:
            return


@dataclass
class _Slot:
    index: int
    process: Any = None
    conn: Connection | None = None
    job: Job | None = None
    started: float = 0.0
    name: str = ""


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "worker process died"
    if code < 0:
        try:
            sig = signal.Signals(-code).name
        except ValueError:
            sig = f"signal {-code}"
        return f"worker process was killed by {sig} (the OS out-of-memory killer sends SIGKILL)"
    return f"worker process exited with code {code}"


@EXECUTORS.register("process")
class ProcessExecutor:
    """``max_workers`` trial processes.

    Args:
        max_workers: processes (``--jobs``), >= 1.
        start_method: ``"fork"`` (default where available), ``"spawn"`` or ``"forkserver"``.
        initializer: ``initializer(slot)`` runs once in each new worker (e.g. torch threads, the GPU of ``slot``).
    """

    name = "process"

    def __init__(self, max_workers: int = 2, *, start_method: str | None = None,
                 initializer: Callable[[int], None] | None = None) -> None:
        if isinstance(max_workers, bool) or int(max_workers) < 1:
            raise ConfigError(f"jobs (process workers) must be >= 1, got {max_workers!r}")
        methods = mp.get_all_start_methods()
        start_method = start_method or ("fork" if "fork" in methods else "spawn")
        if start_method not in methods:
            raise ConfigError(f"start_method must be one of {methods}, got {start_method!r}")
        self.max_workers = int(max_workers)
        self.start_method = start_method
        self.initializer = initializer
        self._ctx = mp.get_context(start_method)
        self._slots: list[_Slot] = []
        self._objective = None
        self._report: Reporter | None = None
        self._with_context = False
        self.restarts = 0

    # --- worker life -------------------------------------------------------------
    def _spawn(self, slot: _Slot) -> None:
        parent, child = self._ctx.Pipe(duplex=True)
        slot.name = f"process-{slot.index}"
        slot.process = self._ctx.Process(
            target=_worker_main, args=(child, self._objective, slot.name, slot.index, self.initializer, self._with_context,
                  self._report is not None),
            name=f"emotune-trial-{slot.index}", daemon=True,
        )
        slot.process.start()
        child.close()
        slot.conn = parent
        slot.job = None

    def _replace(self, slot: _Slot) -> None:
        if slot.process is not None and slot.process.is_alive():
            slot.process.kill()
        if slot.process is not None:
            slot.process.join(timeout=5)
        if slot.conn is not None:
            slot.conn.close()
        self.restarts += 1
        self._spawn(slot)

    def start(self, objective: Callable[..., Any], report: Reporter) -> None:
        self._objective, self._report = objective, report
        self._with_context = wants_context(objective)
        self._slots = [_Slot(i) for i in range(self.max_workers)]
        for slot in self._slots:
            self._spawn(slot)

    # --- jobs ----------------------------------------------------------------------
    def free_slots(self) -> int:
        return sum(s.job is None for s in self._slots)

    def running(self) -> dict[int, tuple[str, float]]:
        return {s.job.trial_id: (f"{s.name}/pid{s.process.pid}", s.started) for s in self._slots if s.job is not None}

    def submit(self, job: Job) -> None:
        slot = next((s for s in self._slots if s.job is None), None)
        if slot is None:
            raise ConfigError("submit called with no free worker; check free_slots() first")
        if not slot.process.is_alive():
            self._replace(slot)
        slot.job, slot.started = job, time.time()
        try:
            slot.conn.send(job)
        except (BrokenPipeError, OSError):
            self._replace(slot)
            slot.job, slot.started = job, time.time()
            slot.conn.send(job)

    def _deadline(self, slot: _Slot) -> float | None:
        return None if slot.job is None or slot.job.timeout is None else slot.started + slot.job.timeout

    def wait(self, timeout: float | None = None) -> list[Outcome]:
        """Outcomes of jobs that finished (or died, or timed out) within ``timeout`` seconds."""
        busy = [s for s in self._slots if s.job is not None]
        if not busy:
            return []
        limit = time.time() + timeout if timeout is not None else None
        outcomes: list[Outcome] = []
        while not outcomes:
            now = time.time()
            deadlines = [d for d in (self._deadline(s) for s in busy) if d is not None]
            until = min(deadlines + ([limit] if limit is not None else []), default=None)
            ready = set(mp_wait([s.conn for s in busy] + [s.process.sentinel for s in busy],
                                None if until is None else max(0.0, until - now)))
            for slot in busy:
                if slot.job is None:
                    continue
                outcome = None
                if slot.conn in ready or slot.process.sentinel in ready:
                    outcome = self._drain(slot)
                deadline = self._deadline(slot)
                if outcome is None and slot.job is not None and deadline is not None and time.time() >= deadline:
                    outcome = Outcome(slot.job.trial_id, None, "failed",
                                      f"timed out: ran past the trial limit of {slot.job.timeout:g} s (worker killed)",
                                      worker=f"{slot.name}/pid{slot.process.pid}")
                    self._replace(slot)
                if outcome is not None:
                    outcomes.append(outcome)
            busy = [s for s in self._slots if s.job is not None]
            if limit is not None and time.time() >= limit or not busy:
                break
        return outcomes

    def _drain(self, slot: _Slot) -> Outcome | None:
        """Read what ``slot`` sent (answering reports); its outcome, or a failure if the worker died."""
        try:
            while slot.conn.poll():
                msg = slot.conn.recv()
                if msg[0] == "report":
                    _, trial_id, step, value = msg
                    slot.conn.send(bool(self._report(trial_id, step, value)) if self._report else False)
                elif msg[0] == "done":
                    outcome = msg[1]
                    slot.job = None
                    if outcome.restart_worker:
                        self._replace(slot)
                    return outcome
        except (EOFError, OSError, BrokenPipeError):
            pass
        if not slot.process.is_alive():
            slot.process.join(timeout=1)
            job = slot.job
            outcome = Outcome(job.trial_id, None, "failed", _exit_reason(slot.process.exitcode),
                              worker=f"{slot.name}/pid{slot.process.pid}")
            self._replace(slot)
            return outcome
        return None

    def shutdown(self, kill: bool = False) -> list[int]:
        """Stop every worker; returns the ids of trials still running (killed with ``kill=True``)."""
        left = [s.job.trial_id for s in self._slots if s.job is not None]
        for slot in self._slots:
            if slot.process is None:
                continue
            if kill or slot.job is not None:
                slot.process.kill()
            else:
                try:
                    slot.conn.send(None)
                except (BrokenPipeError, OSError):
                    pass
        for slot in self._slots:
            if slot.process is not None:
                slot.process.join(timeout=5)
                if slot.process.is_alive():
                    slot.process.kill()
                    slot.process.join(timeout=5)
            if slot.conn is not None:
                slot.conn.close()
        self._slots = []
        return left
