"""The study: an ask/tell loop over a typed space, with trial records and budgets.

A :class:`Study` owns a :class:`~emotune.search.spaces.Space`, one optimizer
(by registered name) and the records of every trial. Optimizers see only the
unit box and always minimise; the study decodes candidates into typed
parameters and negates values when ``direction="maximize"``.

An objective that raises, or returns ``nan`` or ``+-inf``, marks its trial *failed* (the
optimizer is told the worst value) and the study goes on. Raising
:class:`TrialPruned` marks it *pruned* (also the worst value for the optimizer).

Seams for later work: ``storage`` receives every trial record and the
optimizer state after each tell (default: in memory), and ``executor`` runs
objective calls (default: serially in this process). Neither changes the
optimizers.
"""

from __future__ import annotations

import math
import time
import traceback
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable, Protocol

import numpy as np

from emotune.exceptions import ConfigError, EmotuneError
from emotune.search.optimizers import Optimizer, make_optimizer
from emotune.search.spaces import Space

__all__ = [
    "Study",
    "TrialRecord",
    "TrialHandle",
    "TrialPruned",
    "TrialState",
    "InMemoryStorage",
    "SerialExecutor",
]


class TrialPruned(EmotuneError):
    """Raise from an objective to stop a trial early; it is recorded as pruned."""


class TrialState:
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    PRUNED = "pruned"


@dataclass
class TrialRecord:
    """One trial: its typed params, value (user's direction), state, times (Unix s) and error text.

    ``id`` numbers trials in the order they were asked; ``optimizer_id`` is the id the
    optimizer gave the candidate (``None`` for an enqueued trial the optimizer did not propose).
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


class Storage(Protocol):
    def put_trial(self, record: TrialRecord) -> None: ...
    def put_optimizer_state(self, state: dict[str, Any]) -> None: ...


class InMemoryStorage:
    """Keeps trial records and the latest optimizer state in memory."""

    def __init__(self) -> None:
        self.trials: dict[int, TrialRecord] = {}
        self.optimizer_state: dict[str, Any] | None = None

    def put_trial(self, record: TrialRecord) -> None:
        self.trials[record.id] = record

    def put_optimizer_state(self, state: dict[str, Any]) -> None:
        self.optimizer_state = state


class Executor(Protocol):
    max_workers: int

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterable[Any]: ...


class SerialExecutor:
    """Runs objective calls one after another in this process."""

    max_workers = 1

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterable[Any]:
        for item in items:
            yield fn(item)


_DIRECTIONS = ("minimize", "maximize")


class Study:
    """Search over ``space`` with a registered optimizer.

    Args:
        space: the typed search space.
        optimizer: a registered optimizer name (``"aquila"``, ``"tpe"``, ...) or an
            :class:`Optimizer` built for ``space.dim``.
        direction: ``"minimize"`` or ``"maximize"``.
        seed: seed of the optimizer's RNG.
        budget: planned number of trials (schedules use it); defaults to the
            ``trials`` of the first :meth:`optimize` call, or 100.
        optimizer_options: keyword arguments for the optimizer's constructor.
        storage: receives records and optimizer state (default: in memory).
        executor: runs objective calls (default: serial).
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
        self.trials: list[TrialRecord] = []
        self._by_id: dict[int, TrialRecord] = {}
        self._enqueued: list[tuple[dict[str, Any], np.ndarray]] = []
        self._stop = False

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
        """``n`` new trials with typed params; tell each back with :meth:`tell`."""
        picked = [self._enqueued.pop(0) for _ in range(min(n, len(self._enqueued)))]
        if n > len(picked):
            opt_ids, X = self.optimizer.ask_batch(n - len(picked))
            picked += [(self.space.decode(x), x, int(i)) for i, x in zip(opt_ids.tolist(), X)]
        handles = []
        now = time.time()
        for item in picked:
            params, x = item[0], item[1]
            record = TrialRecord(id=len(self.trials), params=params, x=np.asarray(x).tolist(), start=now,
                                 optimizer_id=item[2] if len(item) == 3 else None)
            self.trials.append(record)
            self._by_id[record.id] = record
            self.storage.put_trial(record)
            handles.append(TrialHandle(record.id, params, np.asarray(x)))
        return handles

    def tell(self, id: int, value: float | None, *, state: str | None = None, error: str | None = None) -> TrialRecord:
        """Record the result of trial ``id``.

        ``value`` is in the user's direction. A ``None``, ``nan`` or ``+-inf`` value, or
        ``state="failed"``, records a failure; ``state="pruned"`` a pruned trial.
        Either way the optimizer is told the worst value and the study goes on.
        """
        record = self._by_id.get(int(id))
        if record is None:
            raise ConfigError(f"tell got unknown trial id {id}")
        if record.state != TrialState.RUNNING:
            raise ConfigError(f"trial {id} was already told (state {record.state!r})")
        if state is None:
            state = TrialState.FAILED if value is None or not math.isfinite(float(value)) else TrialState.COMPLETE
        if state == TrialState.FAILED and error is None:
            error = "objective returned no value" if value is None else f"objective returned {value} (not finite)"
        record.state = state
        record.value = None if value is None else float(value)
        record.end = time.time()
        record.error = error
        internal = np.inf if state != TrialState.COMPLETE else self._to_internal(float(value))
        if record.optimizer_id is not None:  # enqueued trials are not the optimizer's
            self.optimizer.tell(record.optimizer_id, internal)
        self.storage.put_trial(record)
        self.storage.put_optimizer_state(self.optimizer.state_dict())
        return record

    # --- the loop ---------------------------------------------------------------
    def stop(self) -> None:
        """Ask :meth:`optimize` to stop after the trials under way."""
        self._stop = True

    def _run_one(self, objective: Callable[[dict[str, Any]], Any], handle: TrialHandle) -> tuple[Any, str, str | None]:
        try:
            value = objective(dict(handle.params))
            if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], dict):
                value, attrs = value  # (value, user attributes to keep on the record)
                self._by_id[handle.id].user_attrs.update(attrs)
        except TrialPruned as exc:
            return None, TrialState.PRUNED, str(exc) or "pruned"
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # a crashing trial is recorded, the search goes on
            text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            return None, TrialState.FAILED, text
        try:
            value = float(value)
        except (TypeError, ValueError):
            return None, TrialState.FAILED, f"objective returned {value!r}, not a number"
        if not math.isfinite(value):  # nan and +-inf alike: a maximising study must not rank +inf best
            return value, TrialState.FAILED, f"objective returned {value} (not finite)"
        return value, TrialState.COMPLETE, None

    def optimize(
        self,
        objective: Callable[[dict[str, Any]], float],
        trials: int | None = None,
        timeout: float | None = None,
        callbacks: Iterable[Callable[["Study", TrialRecord], None]] = (),
        show_progress: bool = False,
        description: str = "search",
    ) -> dict[str, Any] | None:
        """Run ``objective(params) -> float`` for ``trials`` trials or until ``timeout`` seconds.

        The objective may also return ``(value, attrs)``: ``attrs`` (a dict) is kept in
        the trial record's ``user_attrs`` (e.g. the best training epoch).

        Returns the best params found (``None`` if every trial failed).
        """
        if trials is None and timeout is None:
            raise ConfigError("optimize needs trials or timeout (or both), got neither")
        if trials is not None and int(trials) < 1:
            raise ConfigError(f"trials must be >= 1, got {trials}")
        if self.budget is None and self._optimizer is None:
            self.budget = int(trials) if trials is not None else 100
        callbacks = list(callbacks)
        self._stop = False
        t0 = time.time()
        done = 0
        progress = _Progress(trials, description) if show_progress else None
        try:
            while not self._stop:
                if trials is not None and done >= trials:
                    break
                if timeout is not None and time.time() - t0 >= timeout:
                    break
                n = self.executor.max_workers
                if trials is not None:
                    n = min(n, trials - done)
                handles = self.ask(n)
                if not handles:  # a population optimizer waits for trials asked outside this loop
                    raise ConfigError("the optimizer waits for results of trials asked before optimize(); tell them first")
                results = self.executor.map(lambda h: self._run_one(objective, h), handles)
                for handle, (value, state, error) in zip(handles, results):
                    record = self.tell(handle.id, value, state=state, error=error)
                    done += 1
                    for cb in callbacks:
                        cb(self, record)
                    if progress is not None:
                        progress.update(self)
        finally:
            if progress is not None:
                progress.close()
        return self.best_params

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
        for d in state["trials"]:
            d = {k: v for k, v in d.items() if k != "duration"}
            record = TrialRecord(**d)
            study.trials.append(record)
            study._by_id[record.id] = record
            study.storage.put_trial(record)
        return study


class _Progress:
    """A Rich progress bar: trials done, best so far, time left."""

    def __init__(self, total: int | None, description: str) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("best {task.fields[best]}"),
            TextColumn("failed {task.fields[failed]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            transient=False,
        )
        self._bar.start()
        self._task = self._bar.add_task(description, total=total, best="-", failed=0)

    def update(self, study: Study) -> None:
        best = study.best_value
        failed = sum(t.state == TrialState.FAILED for t in study.trials)
        self._bar.update(self._task, advance=1, best="-" if best is None else f"{best:.4g}", failed=failed)

    def close(self) -> None:
        self._bar.stop()
