"""What every executor shares: a job, its outcome, the trial context and how one objective call is run.

An executor runs objective calls for a :class:`~emotune.search.study.Study`:
``start(objective, report)``, then ``submit(job)`` while ``free_slots() > 0``,
``wait(timeout)`` for finished outcomes (in any order), ``shutdown(kill)``.
``report(trial_id, step, value) -> bool`` is the study's pruning hook: the
executor forwards each intermediate value a trial reports and tells the trial
to stop when it returns True. ``report`` is ``None`` when the study has no
pruner: intermediate values then travel back with the outcome only.
"""

from __future__ import annotations

import inspect
import math
import os
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from emotune._registry import Registry
from emotune.exceptions import EmotuneError

__all__ = [
    "EXECUTORS",
    "Executor",
    "Job",
    "Outcome",
    "TrialContext",
    "TrialTimeout",
    "run_objective",
    "wants_context",
]

EXECUTORS: Registry[type] = Registry("executor")

Reporter = Callable[[int, int, float], bool]


class TrialTimeout(EmotuneError, TimeoutError):
    """A trial ran past its time limit."""


@dataclass(frozen=True)
class Job:
    """One objective call: the trial id, typed ``params``, the trial's seed and its time limit (s)."""

    trial_id: int
    params: dict[str, Any]
    seed: int | None
    timeout: float | None = None


@dataclass
class Outcome:
    """The result of one job: ``value`` in the user's direction (``None`` on failure) and state."""

    trial_id: int
    value: float | None
    state: str
    error: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    intermediate: dict[int, float] = field(default_factory=dict)
    worker: str | None = None
    restart_worker: bool = False


class Executor(Protocol):
    name: str
    max_workers: int

    def start(self, objective: Callable[..., Any], report: Reporter) -> None: ...
    def submit(self, job: Job) -> None: ...
    def free_slots(self) -> int: ...
    def wait(self, timeout: float | None = None) -> list[Outcome]: ...
    def running(self) -> dict[int, tuple[str, float]]: ...
    def shutdown(self, kill: bool = False) -> list[int]: ...


class TrialContext:
    """What an objective ``f(params, trial)`` may use: ``trial.id``, ``trial.seed``, ``trial.worker``
    and ``trial.report(step, value)``, which raises :class:`~emotune.search.study.TrialPruned`
    when the study's pruner says the trial is clearly behind.

    ``seed`` derives from the study seed and the trial id only, never from the
    worker, so a trial gives the same value whichever worker runs it.
    """

    def __init__(self, job: Job, report: Reporter | None, worker: str | None) -> None:
        self.id = job.trial_id
        self.seed = job.seed
        self.worker = worker
        self.intermediate: dict[int, float] = {}
        self._report = report

    def report(self, step: int, value: float) -> None:
        """Record the intermediate ``value`` (user's direction) at ``step`` (e.g. the epoch); may prune."""
        from emotune.search.study import TrialPruned

        step, value = int(step), float(value)
        self.intermediate[step] = value
        if self._report is not None and self._report(self.id, step, value):
            raise TrialPruned(f"pruned at step {step} with value {value:.6g}")

    @property
    def last_value(self) -> float | None:
        return self.intermediate[max(self.intermediate)] if self.intermediate else None


def wants_context(objective: Callable[..., Any]) -> bool:
    """True when ``objective`` takes a second positional argument (the :class:`TrialContext`)."""
    try:
        sig = inspect.signature(objective)
    except (TypeError, ValueError):
        return False
    positional = [
        p for p in sig.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in positional)


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    name = type(exc).__name__
    return name == "OutOfMemoryError" or "CUDA out of memory" in str(exc)


def run_objective(
    objective: Callable[..., Any], job: Job, report: Reporter | None, worker: str | None = None,
    *, with_context: bool | None = None,
) -> Outcome:
    """Call ``objective`` for ``job`` and classify the result (never raises, except KeyboardInterrupt).

    * a number: complete (``nan``/``inf`` and non-numbers: failed, with the reason);
    * ``(value, attrs)``: the same, ``attrs`` kept on the record;
    * :class:`TrialPruned`: pruned, with the last reported value;
    * ``MemoryError`` or CUDA out-of-memory: failed, ``"out of memory: ..."``, and the
      worker is restarted (its heap may be fragmented or its CUDA context broken);
    * :class:`TrialTimeout`: failed, ``"timed out ..."``;
    * any other exception: failed with its one-line text.
    """
    from emotune.search.study import TrialPruned, TrialState

    ctx = TrialContext(job, report, worker)
    if with_context is None:
        with_context = wants_context(objective)
    attrs: dict[str, Any] = {}

    def done(value, state, error=None, restart=False):
        return Outcome(job.trial_id, value, state, error, attrs, dict(ctx.intermediate), worker, restart)

    try:
        value = objective(dict(job.params), ctx) if with_context else objective(dict(job.params))
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], dict):
            value, attrs = value[0], dict(value[1])
    except TrialPruned as exc:
        return done(ctx.last_value, TrialState.PRUNED, str(exc) or "pruned")
    except KeyboardInterrupt:
        raise
    except TrialTimeout as exc:
        return done(None, TrialState.FAILED, f"timed out: {exc}")
    except BaseException as exc:  # a crashing trial is recorded, the search goes on
        text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        if _is_oom(exc):
            return done(None, TrialState.FAILED, f"out of memory: {text[:500]}", restart=True)
        if isinstance(exc, SystemExit):
            text = f"objective called exit ({exc.code})"
        return done(None, TrialState.FAILED, text[:2000])
    try:
        value = float(value)
    except (TypeError, ValueError):
        return done(None, TrialState.FAILED, f"objective returned {value!r:.200}, not a number")
    if not math.isfinite(value):
        return done(value, TrialState.FAILED, f"objective returned {value}")
    return done(value, TrialState.COMPLETE)


def worker_name(kind: str, slot: int) -> str:
    return f"{kind}-{slot}@{os.uname().nodename}:{os.getpid()}"


def now() -> float:
    return time.time()
