"""The study: an ask/tell loop over a typed space, with trial records, budgets, storage and executors.

A :class:`Study` owns a :class:`~emotune.search.spaces.Space`, one optimizer
(by registered name) and the records of every trial. Optimizers see only the
unit box and always minimise; the study decodes candidates into typed
parameters and negates values when ``direction="maximize"``.

Faults never stop a study: an objective that raises, returns ``nan``/``inf``,
runs out of memory or past its time limit marks its trial *failed* with the
reason (the optimizer is told the worst value). Raising :class:`TrialPruned`
(or being stopped by the ``pruner``) marks it *pruned*; the optimizer is told
its last reported value (see :mod:`emotune.search.pruners`).

``storage`` receives the running records and the study state after every ask
and the finished record and state after every tell (in one write each), so a
:class:`~emotune.search.storage.SQLiteStorage` study can be killed at any
moment and :meth:`Study.resume` continues exactly: trials that were running
are marked *interrupted* and re-run first, under the same id and optimizer id.
``executor`` runs objective calls (serial, process pool or Ray); the study asks
one new trial each time a worker is free, so results may come back in any
order.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable

import numpy as np

from emotune.exceptions import ConfigError, EmotuneError, StudyInterrupted
from emotune.search.executors import Executor, Job, SerialExecutor
from emotune.search.optimizers import Optimizer, make_optimizer
from emotune.search.spaces import Space
from emotune.search.storage import InMemoryStorage, Storage

__all__ = [
    "Study",
    "TrialRecord",
    "TrialHandle",
    "TrialPruned",
    "TrialState",
    "InMemoryStorage",
    "SerialExecutor",
    "trial_seed",
]


class TrialPruned(EmotuneError):
    """Raise from an objective to stop a trial early; it is recorded as pruned."""


class TrialState:
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    PRUNED = "pruned"
    INTERRUPTED = "interrupted"


FINISHED = (TrialState.COMPLETE, TrialState.FAILED, TrialState.PRUNED)


@dataclass
class TrialRecord:
    """One trial: its typed params, value (user's direction), state, times (Unix s) and error text.

    ``id`` numbers trials in the order they were first asked; ``optimizer_id`` is the id
    the optimizer gave the candidate (``None`` for an enqueued trial the optimizer did
    not propose). ``worker`` names the process that ran it, ``fold`` the outer fold of
    its study, ``fidelity`` the budget it ran at (when the objective says so),
    ``intermediate`` the values it reported per step (epoch), ``attempts`` how many
    times it was interrupted (a kill, a second Ctrl-C) and started again.
    """

    id: int
    params: dict[str, Any]
    x: list[float]
    state: str = TrialState.RUNNING
    value: float | None = None
    start: float = 0.0
    end: float | None = None
    error: str | None = None
    user_attrs: dict[str, Any] = field(default_factory=dict)
    optimizer_id: int | None = None
    worker: str | None = None
    fold: int | None = None
    fidelity: float | None = None
    intermediate: dict[int, float] = field(default_factory=dict)
    attempts: int = 0

    @property
    def duration(self) -> float | None:
        return None if self.end is None else self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["duration"] = self.duration
        return d


@dataclass(frozen=True)
class TrialHandle:
    """What :meth:`Study.ask` returns: the id to tell, typed ``params`` and the box point ``x`` (shape ``(d,)``)."""

    id: int
    params: dict[str, Any]
    x: np.ndarray


def trial_seed(study_seed: int | None, trial_id: int) -> int | None:
    """The seed of trial ``trial_id``: a function of the study seed and the trial id only.

    So a trial's result does not depend on which worker ran it, or in which order.
    """
    if study_seed is None:
        return None
    return int(np.random.SeedSequence([int(study_seed) % 2**63, int(trial_id)]).generate_state(1)[0])


_DIRECTIONS = ("minimize", "maximize")


class _InterruptGuard:
    """Ctrl-C once: stop asking, let running trials finish. Twice: raise KeyboardInterrupt now.

    Installed only in the main thread (signal handlers live there).
    """

    def __init__(self, study: "Study") -> None:
        self.study = study
        self.count = 0
        self._previous = None

    def __enter__(self) -> "_InterruptGuard":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def _handler(self, signum, frame) -> None:
        self.count += 1
        if self.count == 1:
            self.study._stop = True
            self.study.interrupted = "graceful"
            sys.stderr.write("\nCtrl-C: no new trials; waiting for the running ones (Ctrl-C again to stop now)\n")
            return
        raise KeyboardInterrupt

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


class Study:
    """Search over ``space`` with a registered optimizer.

    Args:
        space: the typed search space.
        optimizer: a registered optimizer name (``"aquila"``, ``"tpe"``, ...) or an
            :class:`Optimizer` built for ``space.dim``.
        direction: ``"minimize"`` or ``"maximize"``.
        seed: seed of the optimizer's RNG; trial seeds derive from it (:func:`trial_seed`).
        budget: planned number of trials (schedules use it); defaults to the
            ``trials`` of the first :meth:`optimize` call, or 100.
        optimizer_options: keyword arguments for the optimizer's constructor.
        storage: receives records and state (default: in memory); see
            :class:`~emotune.search.storage.SQLiteStorage` for one that survives a kill.
        executor: runs objective calls (default: serial in this process).
        pruner: stops trials that report values clearly behind (default: none).
        fold: the outer fold this study searches (written on each record).
    """

    def __init__(
        self,
        space: Space,
        optimizer: str | Optimizer = "random",
        direction: str = "minimize",
        seed: int | None = 0,
        *,
        budget: int | None = None,
        optimizer_options: dict[str, Any] | None = None,
        storage: Storage | None = None,
        executor: Executor | None = None,
        pruner: Any = None,
        fold: int | None = None,
    ) -> None:
        if not isinstance(space, Space):
            raise ConfigError(f"space must be an emotune.search.Space, got {type(space).__name__}")
        if direction not in _DIRECTIONS:
            raise ConfigError(f"direction must be one of {_DIRECTIONS}, got {direction!r}")
        if budget is not None and int(budget) < 1:
            raise ConfigError(f"budget must be >= 1, got {budget}")
        if isinstance(optimizer, Optimizer) and optimizer.dim != space.dim:
            raise ConfigError(f"optimizer dim must equal space.dim={space.dim}, got {optimizer.dim}")
        self.space = space
        self.direction = direction
        self.seed = seed
        self.budget = budget
        self.optimizer_name = optimizer if isinstance(optimizer, str) else optimizer.name
        self.optimizer_options = dict(optimizer_options or {})
        self._optimizer = optimizer if isinstance(optimizer, Optimizer) else None
        if self._optimizer is None:
            from emotune.search.optimizers import OPTIMIZERS

            OPTIMIZERS.get(self.optimizer_name)  # fail early on an unknown name
        self.storage = storage if storage is not None else InMemoryStorage()
        self.executor = executor if executor is not None else SerialExecutor()
        self.pruner = pruner
        self.fold = fold
        self.trials: list[TrialRecord] = []
        self._by_id: dict[int, TrialRecord] = {}
        self._enqueued: list[tuple[dict[str, Any], np.ndarray]] = []
        self._retry: list[int] = []
        self._stop = False
        self._attached = False
        self.interrupted: str | None = None

    # --- the optimizer, built lazily so the budget can come from optimize() -----
    @property
    def optimizer(self) -> Optimizer:
        if self._optimizer is None:
            self._optimizer = make_optimizer(
                self.optimizer_name,
                self.space.dim,
                budget=self.budget or 100,
                seed=self.seed,
                bits_per_dim=self.space.bits_per_dim(),
                **self.optimizer_options,
            )
        return self._optimizer

    def _to_internal(self, value: float) -> float:
        return value if self.direction == "minimize" else -value

    def definition(self) -> dict[str, Any]:
        """What makes two studies the same study (a storage refuses to mix different ones)."""
        return {
            "space": self.space.to_json(),
            "direction": self.direction,
            "seed": self.seed,
            "optimizer": self.optimizer_name,
            "optimizer_options": dict(self.optimizer_options),
            "budget": self.budget or 100,
        }

    def trial_seed(self, trial_id: int) -> int | None:
        return trial_seed(self.seed, trial_id)

    # --- storage ------------------------------------------------------------------
    def _attach(self) -> None:
        """Check the storage holds this study (or nothing) before the first write."""
        if self._attached:
            return
        check = getattr(self.storage, "check_definition", None)
        if check is not None:
            check(self.definition())
        if not self.trials:
            stored, _ = self.storage.load()
            if stored:
                raise ConfigError(
                    f"storage {self.storage!r} already holds {len(stored)} trials; call resume() to continue "
                    f"that study, or use a new storage"
                )
        self._attached = True

    def _snapshot(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer.state_dict(),
            "enqueued": [(params, np.asarray(x).tolist()) for params, x in self._enqueued],
            "retry": list(self._retry),
        }

    def _save(self, records: list[TrialRecord]) -> None:
        self.storage.save(records, self._snapshot())

    def resume(self) -> int:
        """Load the trials and state from ``storage`` and continue from there; returns the trials loaded.

        Trials that were running when the study stopped are marked interrupted
        (saved) and will be re-run first, under their own id and optimizer id, so
        none is lost or counted twice. With the serial executor and a
        deterministic objective, the completed trials are then exactly those of a
        study that never stopped.
        """
        if self.trials:
            raise ConfigError("resume() must be called on a fresh Study, before any ask")
        check = getattr(self.storage, "check_definition", None)
        if check is not None:
            check(self.definition())
        records, state = self.storage.load()
        for record in records:
            self.trials.append(record)
            self._by_id[record.id] = record
        if [r.id for r in records] != list(range(len(records))):
            raise ConfigError(f"storage {self.storage!r} has trial ids with gaps; it was not written by a Study")
        if state is not None:
            self.optimizer.load_state_dict(state["optimizer"])
            self._enqueued = [(dict(p), np.asarray(x)) for p, x in state.get("enqueued", [])]
            self._retry = [int(i) for i in state.get("retry", [])]
        stopped = [r for r in records if r.state in (TrialState.RUNNING, TrialState.INTERRUPTED) and r.id not in self._retry]
        for record in stopped:
            if record.state == TrialState.RUNNING:
                record.attempts += 1
            record.state = TrialState.INTERRUPTED
            record.end = None
            self._retry.append(record.id)
        self._retry.sort()
        if stopped:
            self._save(stopped)
        self._attached = True
        return len(records)

    def n_finished(self) -> int:
        """Trials that completed, failed or were pruned (not the interrupted ones awaiting a re-run)."""
        return sum(t.state in FINISHED for t in self.trials)

    # --- ask / tell -------------------------------------------------------------
    def enqueue(self, params: dict[str, Any]) -> None:
        """Evaluate ``params`` before anything the optimizer proposes (e.g. a model's defaults).

        Enqueued trials are recorded like any other and can be the study's best, but
        the optimizer neither proposed nor is told them. Values outside a parameter's
        range are clipped to it; a categorical value that is not a choice is an error.
        """
        x = self.space.encode(params)
        self._enqueued.append((self.space.decode(x), x))

    def ask(self, n: int = 1) -> list[TrialHandle]:
        """``n`` new trials with typed params; tell each back with :meth:`tell`.

        Interrupted trials come first (same id), then enqueued params, then the optimizer's.
        """
        self._attach()
        now = time.time()
        handles: list[TrialHandle] = []
        changed: list[TrialRecord] = []
        while self._retry and len(handles) < n:
            record = self._by_id[self._retry.pop(0)]
            record.state, record.start, record.end, record.error = TrialState.RUNNING, now, None, None
            record.value, record.intermediate = None, {}
            changed.append(record)
            handles.append(TrialHandle(record.id, dict(record.params), np.asarray(record.x)))
        picked = [self._enqueued.pop(0) for _ in range(min(n - len(handles), len(self._enqueued)))]
        if n > len(handles) + len(picked):
            opt_ids, X = self.optimizer.ask_batch(n - len(handles) - len(picked))
            picked += [(self.space.decode(x), x, int(i)) for i, x in zip(opt_ids.tolist(), X)]
        for item in picked:
            params, x = item[0], item[1]
            record = TrialRecord(id=len(self.trials), params=params, x=np.asarray(x).tolist(), start=now,
                                 optimizer_id=item[2] if len(item) == 3 else None, fold=self.fold)
            self.trials.append(record)
            self._by_id[record.id] = record
            changed.append(record)
            handles.append(TrialHandle(record.id, params, np.asarray(x)))
        self._save(changed)
        return handles

    def tell(
        self,
        id: int,
        value: float | None,
        *,
        state: str | None = None,
        error: str | None = None,
        attrs: dict[str, Any] | None = None,
        worker: str | None = None,
        intermediate: dict[int, float] | None = None,
    ) -> TrialRecord:
        """Record the result of trial ``id``.

        ``value`` is in the user's direction. A ``None``, ``nan`` or infinite value,
        or ``state="failed"``, records a failure (the optimizer is told the worst
        value); ``state="pruned"`` a pruned trial (the optimizer is told ``value``,
        its last reported value, or the worst value without one). Either way the
        study goes on. The record and the study state are saved in one write.
        """
        record = self._by_id.get(int(id))
        if record is None:
            raise ConfigError(f"tell got unknown trial id {id}")
        if record.state != TrialState.RUNNING:
            raise ConfigError(f"trial {id} was already told (state {record.state!r})")
        finite = value is not None and math.isfinite(float(value))
        if state is None:
            state = TrialState.COMPLETE if finite else TrialState.FAILED
        if state == TrialState.COMPLETE and not finite:
            state = TrialState.FAILED
        if state == TrialState.FAILED and error is None:
            error = "objective returned no value" if value is None else f"objective returned {value}"
        record.state = state
        record.value = None if value is None else float(value)
        record.end = time.time()
        record.error = error
        if attrs:
            record.user_attrs.update(attrs)
            if "fidelity" in attrs:
                record.fidelity = float(attrs["fidelity"])
        if worker is not None:
            record.worker = worker
        if intermediate:
            record.intermediate.update({int(k): float(v) for k, v in intermediate.items()})
        usable = state in (TrialState.COMPLETE, TrialState.PRUNED) and finite
        internal = self._to_internal(float(value)) if usable else np.inf
        if record.optimizer_id is not None:  # enqueued trials are not the optimizer's
            self.optimizer.tell(record.optimizer_id, internal)
        self._save([record])
        return record

    def _on_report(self, trial_id: int, step: int, value: float) -> bool:
        """An executor forwards a trial's intermediate value; True tells the trial to stop (pruned)."""
        record = self._by_id.get(int(trial_id))
        if record is None:
            return False
        record.intermediate[int(step)] = float(value)
        if self.pruner is None:
            return False
        return bool(self.pruner.should_prune(self, int(trial_id), int(step), float(value)))

    # --- the loop ---------------------------------------------------------------
    def stop(self) -> None:
        """Ask :meth:`optimize` to stop after the trials under way."""
        self._stop = True

    def optimize(
        self,
        objective: Callable[..., Any],
        trials: int | None = None,
        timeout: float | None = None,
        callbacks: Iterable[Callable[["Study", TrialRecord], None]] = (),
        show_progress: bool = False,
        description: str = "search",
        trial_timeout: float | None = None,
    ) -> dict[str, Any] | None:
        """Run ``objective`` for ``trials`` trials or until ``timeout`` seconds (or both).

        ``objective(params) -> float`` or ``objective(params, trial)``, where ``trial``
        is a :class:`~emotune.search.executors.TrialContext` (``trial.seed``,
        ``trial.report(step, value)`` for pruning). It may also return
        ``(value, attrs)``: ``attrs`` (a dict) is kept in the trial record's
        ``user_attrs`` (e.g. the best training epoch).

        ``timeout`` is the study's wall clock: no trial starts after it; running
        ones finish. ``trial_timeout`` limits each trial (failed when exceeded).
        Ctrl-C once stops asking and lets running trials finish (``interrupted``
        becomes ``"graceful"``); twice stops at once, marks running trials
        interrupted, saves and raises :class:`~emotune.exceptions.StudyInterrupted`.

        Returns the best params found (``None`` if every trial failed).
        """
        if trials is None and timeout is None:
            raise ConfigError("optimize needs trials or timeout (or both), got neither")
        if trials is not None and int(trials) < 0:
            raise ConfigError(f"trials must be >= 0, got {trials}")
        if trial_timeout is not None and not trial_timeout > 0:
            raise ConfigError(f"trial_timeout must be > 0 seconds, got {trial_timeout}")
        if self.budget is None and self._optimizer is None:
            self.budget = int(trials) if trials else 100
        callbacks = list(callbacks)
        self._stop = False
        self.interrupted = None
        t0 = time.time()
        asked = 0
        running: set[int] = set()
        progress = _Progress(trials, description) if show_progress else None
        executor = self.executor
        # without a pruner, reports stay in the trial (sent back with its outcome): no round trip per epoch
        executor.start(objective, self._on_report if self.pruner is not None else None)

        def may_ask() -> bool:
            if self._stop or (trials is not None and asked >= trials):
                return False
            return timeout is None or time.time() - t0 < timeout

        try:
            with _InterruptGuard(self):
                try:
                    while True:
                        while executor.free_slots() > 0 and may_ask():
                            handles = self.ask(1)
                            if not handles:  # a population optimizer waits for its generation's tells
                                break
                            handle = handles[0]
                            executor.submit(Job(handle.id, handle.params, self.trial_seed(handle.id), trial_timeout))
                            running.add(handle.id)
                            asked += 1
                        if not running:
                            if may_ask():
                                raise ConfigError(
                                    f"optimizer {self.optimizer_name!r} proposes nothing while no trial runs; "
                                    f"a candidate it handed out was never told"
                                )
                            break
                        if progress is not None:
                            progress.workers(executor.running(), executor.max_workers)
                        for out in executor.wait(timeout=1.0):
                            running.discard(out.trial_id)
                            record = self.tell(out.trial_id, out.value, state=out.state, error=out.error,
                                               attrs=out.attrs, worker=out.worker, intermediate=out.intermediate)
                            for cb in callbacks:
                                cb(self, record)
                            if progress is not None:
                                progress.update(self)
                except KeyboardInterrupt:
                    left = set(executor.shutdown(kill=True)) | running
                    self._interrupt(sorted(left))
                    self.interrupted = "now"
                    raise StudyInterrupted(
                        f"stopped at once on the second Ctrl-C; {len(left)} running trial(s) marked interrupted "
                        f"and saved ({self.n_finished()} finished)"
                    ) from None
        finally:
            executor.shutdown()
            if progress is not None:
                progress.close()
        return self.best_params

    def _interrupt(self, ids: list[int]) -> None:
        """Mark running trials ``ids`` interrupted (to be re-run first) and save."""
        records = []
        for i in ids:
            record = self._by_id[i]
            if record.state != TrialState.RUNNING:
                continue
            record.state, record.end = TrialState.INTERRUPTED, None
            record.attempts += 1
            self._retry.append(i)
            records.append(record)
        self._retry.sort()
        if records:
            self._save(records)

    # --- results ----------------------------------------------------------------
    def completed(self) -> list[TrialRecord]:
        return [t for t in self.trials if t.state == TrialState.COMPLETE]

    @property
    def best_trial(self) -> TrialRecord | None:
        done = self.completed()
        if not done:
            return None
        key = (lambda t: t.value) if self.direction == "minimize" else (lambda t: -t.value)
        return min(done, key=key)

    @property
    def best_params(self) -> dict[str, Any] | None:
        best = self.best_trial
        return None if best is None else dict(best.params)

    @property
    def best_value(self) -> float | None:
        best = self.best_trial
        return None if best is None else best.value

    def best_so_far(self) -> list[float | None]:
        """Best value after each told trial (in trial order), ``None`` before the first success."""
        out, best = [], None
        better = (lambda a, b: a < b) if self.direction == "minimize" else (lambda a, b: a > b)
        for t in self.trials:
            if t.state == TrialState.COMPLETE and (best is None or better(t.value, best)):
                best = t.value
            out.append(best)
        return out

    def state_dict(self) -> dict[str, Any]:
        """Optimizer state and trial records, enough to resume in another process."""
        return {
            "space": self.space.to_json(),
            "direction": self.direction,
            "seed": self.seed,
            "budget": self.budget,
            "optimizer_name": self.optimizer_name,
            "optimizer_options": dict(self.optimizer_options),
            "optimizer": self.optimizer.state_dict(),
            "trials": [t.to_dict() for t in self.trials],
            "enqueued": [(params, np.asarray(x).tolist()) for params, x in self._enqueued],
            "retry": list(self._retry),
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> "Study":
        study = cls(
            Space.from_json(state["space"]),
            state["optimizer_name"],
            state["direction"],
            state["seed"],
            budget=state["budget"],
            optimizer_options=state["optimizer_options"],
        )
        study.optimizer.load_state_dict(state["optimizer"])
        study._enqueued = [(dict(p), np.asarray(x)) for p, x in state.get("enqueued", [])]
        study._retry = [int(i) for i in state.get("retry", [])]
        for d in state["trials"]:
            d = {k: v for k, v in d.items() if k != "duration"}
            record = TrialRecord(**d)
            study.trials.append(record)
            study._by_id[record.id] = record
        study.storage.save(study.trials, study._snapshot())
        study._attached = True
        return study


class _Progress:
    """Rich progress: one bar for the study (trials, best so far, failed, time left) and one line per running worker."""

    def __init__(self, total: int | None, description: str) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[best]}"),
            TextColumn("{task.fields[failed]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            transient=False,
        )
        self._bar.start()
        self._task = self._bar.add_task(description, total=total, best="best -", failed="failed 0")
        self._lines: dict[str, Any] = {}

    def update(self, study: Study) -> None:
        best = study.best_value
        failed = sum(t.state == TrialState.FAILED for t in study.trials)
        pruned = sum(t.state == TrialState.PRUNED for t in study.trials)
        self._bar.update(self._task, advance=1, best="best -" if best is None else f"best {best:.4g}",
                         failed=f"failed {failed}" + (f" pruned {pruned}" if pruned else ""))

    def workers(self, running: dict[int, tuple[str, float]], max_workers: int) -> None:
        """One line per worker (with more than one): the trial it runs and for how long."""
        if max_workers < 2:
            return
        now = time.time()
        shown = {}
        for trial_id, (worker, started) in sorted(running.items()):
            shown[worker.split("/")[0]] = f"  {worker.split('/')[0]}: trial {trial_id}, {now - started:.0f} s"
        for key in set(self._lines) - set(shown):
            self._bar.update(self._lines[key], description=f"  {key}: idle")
        for key, text in shown.items():
            if key not in self._lines:
                self._lines[key] = self._bar.add_task(text, total=None, best="", failed="")
            self._bar.update(self._lines[key], description=text)

    def close(self) -> None:
        for key, task in self._lines.items():
            self._bar.update(task, description=f"  {key}: idle")
        self._bar.stop()
