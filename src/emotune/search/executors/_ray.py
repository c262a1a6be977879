"""``ray``: each trial is a Ray task with declared needs, so a Ray cluster spreads trials over machines.

``ray`` is imported only when this executor starts (extra ``emotune[ray]``).
The objective (a closure holding the cached feature arrays) is put once in
Ray's object store with ``ray.put``; every task receives it by reference, so a
worker on another machine gets the arrays from the object store and no shared
file system is needed for features (it is needed only if the objective itself
reads files). ``num_cpus``/``num_gpus`` per task are Ray resource requests:
Ray places a task only where they are free.

A trial's time limit is enforced on its worker (``SIGALRM`` from the moment the
task starts, so time spent waiting for a free CPU or a worker to start does not
count); a task that still runs ``2 * limit + 60`` s after submission (stuck in C
code) is cancelled with ``ray.cancel(force=True)``, which kills its worker. A
worker that dies (``WorkerCrashedError``, node lost) fails its trial with the
reason. Intermediate reports go to a small Ray actor that asks the study's
pruner through the driver (see :class:`_Reports`): the trial blocks until the
driver answers, at the driver's next ``wait``.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from emotune.exceptions import ConfigError
from emotune.search.executors._base import EXECUTORS, Job, Outcome, Reporter, wants_context

__all__ = ["RayExecutor"]


def _ray():
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigError("the ray executor needs Ray 2.x: pip install 'emotune[ray]'") from exc
    return ray


_initialized = False  # per Ray worker process


def _run_task(objective, job: Job, reports, with_context: bool, initializer=None) -> Outcome:
    """Body of one Ray task (runs on a Ray worker)."""
    import os
    import socket

    from emotune.search.executors._base import run_objective

    global _initialized
    if initializer is not None and not _initialized:  # once per worker process
        initializer(0)
        _initialized = True

    report = None
    if reports is not None:
        import ray

        def report(trial_id: int, step: int, value: float) -> bool:
            ticket = ray.get(reports.ask.remote(trial_id, step, value))
            while True:
                answer = ray.get(reports.answer.remote(ticket))
                if answer is not None:
                    return answer
                time.sleep(0.02)

    from emotune.search.executors._serial import _alarm

    worker = f"ray@{socket.gethostname()}:{os.getpid()}"
    with _alarm(job.timeout):  # counted from the task's start on its worker, not from its submission
        return run_objective(objective, job, report, worker, with_context=with_context)


class _Reports:
    """Ray actor: trials post (trial, step, value); the driver answers prune/continue."""

    def __init__(self) -> None:
        self._next = 0
        self._questions: dict[int, tuple[int, int, float]] = {}
        self._answers: dict[int, bool] = {}

    def ask(self, trial_id: int, step: int, value: float) -> int:
        ticket = self._next
        self._next += 1
        self._questions[ticket] = (trial_id, step, value)
        return ticket

    def questions(self) -> dict[int, tuple[int, int, float]]:
        out, self._questions = self._questions, {}
        return out

    def reply(self, answers: dict[int, bool]) -> None:
        self._answers.update(answers)

    def answer(self, ticket: int) -> bool | None:
        return self._answers.pop(ticket, None)


@EXECUTORS.register("ray")
class RayExecutor:
    """Trials as Ray tasks.

    Args:
        max_workers: trials in flight at once (``--jobs``).
        address: ``None`` starts a local Ray; ``"auto"`` joins the cluster this
            machine belongs to; ``"HOST:PORT"`` joins that head node.
        num_cpus, num_gpus: resources each trial task asks for (``--trial-cpus``, ``--trial-gpus``).
        init_options: extra keyword arguments for ``ray.init`` (e.g. ``num_cpus`` of a local instance).
        initializer: ``initializer(0)`` runs once in each Ray worker process before its first trial
            (e.g. torch threads; Ray itself sets ``CUDA_VISIBLE_DEVICES`` from ``num_gpus``).
    """

    name = "ray"

    def __init__(self, max_workers: int = 2, *, address: str | None = None, num_cpus: float = 1,
                 num_gpus: float = 0, init_options: dict[str, Any] | None = None,
                 initializer: Callable[[int], None] | None = None) -> None:
        if isinstance(max_workers, bool) or int(max_workers) < 1:
            raise ConfigError(f"jobs (Ray tasks in flight) must be >= 1, got {max_workers!r}")
        if num_cpus < 0 or num_gpus < 0:
            raise ConfigError(f"trial cpus/gpus must be >= 0, got {num_cpus}/{num_gpus}")
        self.max_workers = int(max_workers)
        self.address = address
        self.num_cpus, self.num_gpus = float(num_cpus), float(num_gpus)
        self.init_options = dict(init_options or {})
        self.initializer = initializer
        self._inflight: dict[Any, tuple[Job, float]] = {}
        self._report: Reporter | None = None
        self._reports = None
        self._started_ray = False

    def start(self, objective: Callable[..., Any], report: Reporter) -> None:
        ray = _ray()
        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False, **self.init_options)
            self._started_ray = True
        self._report = report
        with_context = wants_context(objective)
        self._objective_ref = ray.put(objective)
        self._reports = ray.remote(num_cpus=0)(_Reports).remote() if with_context and report is not None else None
        self._task = ray.remote(_run_task).options(num_cpus=self.num_cpus, num_gpus=self.num_gpus, max_retries=0)
        self._with_context = with_context

    def free_slots(self) -> int:
        return self.max_workers - len(self._inflight)

    def running(self) -> dict[int, tuple[str, float]]:
        return {job.trial_id: ("ray", started) for job, started in self._inflight.values()}

    def submit(self, job: Job) -> None:
        ref = self._task.remote(self._objective_ref, job, self._reports, self._with_context, self.initializer)
        self._inflight[ref] = (job, time.time())

    def _answer_reports(self) -> None:
        ray = _ray()
        if self._reports is None:
            return
        questions = ray.get(self._reports.questions.remote())
        if questions:
            answers = {t: bool(self._report(*q)) if self._report else False for t, q in questions.items()}
            ray.get(self._reports.reply.remote(answers))

    def wait(self, timeout: float | None = None) -> list[Outcome]:
        ray = _ray()
        limit = None if timeout is None else time.time() + timeout
        while self._inflight:
            self._answer_reports()
            done, _ = ray.wait(list(self._inflight), num_returns=1, timeout=0.05)
            outcomes = []
            for ref in done:
                job, _ = self._inflight.pop(ref)
                try:
                    outcomes.append(ray.get(ref))
                except Exception as exc:  # worker crashed, node lost, task cancelled
                    outcomes.append(Outcome(job.trial_id, None, "failed", f"ray task failed: {type(exc).__name__}: {str(exc)[:500]}"))
            for ref, (job, started) in list(self._inflight.items()):
                if job.timeout is not None and time.time() - started > 2 * job.timeout + 60:
                    ray.cancel(ref, force=True)
                    self._inflight.pop(ref)
                    outcomes.append(Outcome(job.trial_id, None, "failed",
                                            f"timed out: ran past the trial limit of {job.timeout:g} s (task cancelled)"))
            if outcomes:
                return outcomes
            if limit is not None and time.time() >= limit:
                return []
        return []

    def shutdown(self, kill: bool = False) -> list[int]:
        ray = _ray()
        left = [job.trial_id for job, _ in self._inflight.values()]
        for ref in list(self._inflight):
            ray.cancel(ref, force=True)
        self._inflight = {}
        if self._reports is not None:
            ray.kill(self._reports)
            self._reports = None
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False
        return left
