"""Early stopping of hopeless trials: pruners watch intermediate values and stop trials clearly behind.

A trial reports its validation metric after each epoch (``trial.report(step, value)``
in an objective ``f(params, trial)``; in ``emotune tune`` the trainer's
:class:`~emotune.training.callbacks.PrunerReport` hook does it). The study asks
its pruner ``should_prune(study, trial_id, step, value)``; on True the trial
raises :class:`~emotune.search.study.TrialPruned` and is stored as *pruned*
with its last reported value.

What the optimizer is told for a pruned trial: that last reported value (the
validation metric after ``step`` epochs). It is a pessimistic but informative
estimate: a pruned configuration was behind the others at that epoch, so
population methods rank it low without treating it as a crash (``+inf``),
and TPE models it as a poor but real point. Failed trials are still told the
worst value.

Rules, all in the user's direction (``maximize`` or ``minimize``):

* ``median`` (Optuna's ``MedianPruner``): after ``n_startup_trials`` trials
  have reported at ``step``, prune when the value is worse than the median of
  the other trials' values at that step; never before ``n_warmup_steps``.
* ``halving`` (successive halving, Jamieson & Talwalkar 2016; asynchronous as in
  ASHA, Li et al. 2020): rungs at steps ``r * eta**k``; at a rung a trial
  continues only if it is in the best ``1/eta`` of the values seen at that rung
  (decided as soon as at least ``eta`` trials have reached it; before, it continues).
* ``hyperband`` (Li et al. 2018): ``s_max + 1`` successive-halving brackets with
  minimum resources ``r * eta**s``; trial ``i`` goes to bracket ``i mod (s_max + 1)``
  and competes only within its bracket.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np

from emotune._registry import Registry
from emotune.exceptions import ConfigError

__all__ = ["PRUNERS", "Pruner", "NopPruner", "MedianPruner", "SuccessiveHalvingPruner", "HyperbandPruner", "make_pruner"]

PRUNERS: Registry[type] = Registry("pruner")


class Pruner(Protocol):
    def should_prune(self, study: Any, trial_id: int, step: int, value: float) -> bool: ...


def _others_at(study: Any, trial_id: int, step: int, ids: set[int] | None = None) -> list[float]:
    out = []
    for t in study.trials:
        if t.id == trial_id or (ids is not None and t.id not in ids):
            continue
        v = t.intermediate.get(step)
        if v is not None and math.isfinite(v):
            out.append(float(v))
    return out


def _score(study: Any, value: float) -> float:
    """Higher is better, whatever the direction; nan is the worst."""
    if value is None or math.isnan(value):
        return -math.inf
    return value if study.direction == "maximize" else -value


@PRUNERS.register("none")
class NopPruner:
    """Never prunes (intermediate values are still recorded)."""

    def should_prune(self, study: Any, trial_id: int, step: int, value: float) -> bool:
        return False


@PRUNERS.register("median")
class MedianPruner:
    """Prune when the value at ``step`` is worse than the median of other trials at that step.

    Args:
        n_startup_trials: other trials that must have reported at ``step`` first (>= 1).
        n_warmup_steps: never prune at steps ``<= n_warmup_steps``.
    """

    def __init__(self, n_startup_trials: int = 5, n_warmup_steps: int = 1) -> None:
        if int(n_startup_trials) < 1:
            raise ConfigError(f"n_startup_trials must be >= 1, got {n_startup_trials}")
        if int(n_warmup_steps) < 0:
            raise ConfigError(f"n_warmup_steps must be >= 0, got {n_warmup_steps}")
        self.n_startup_trials = int(n_startup_trials)
        self.n_warmup_steps = int(n_warmup_steps)

    def should_prune(self, study: Any, trial_id: int, step: int, value: float) -> bool:
        if step <= self.n_warmup_steps:
            return False
        others = _others_at(study, trial_id, step)
        if len(others) < self.n_startup_trials:
            return False
        median = float(np.median([_score(study, v) for v in others]))
        return _score(study, value) < median


@PRUNERS.register("halving")
class SuccessiveHalvingPruner:
    """Asynchronous successive halving over steps (epochs).

    Args:
        min_resource: ``r``, the first rung's step (>= 1).
        reduction_factor: ``eta`` (>= 2); the best ``1/eta`` at a rung continue.
        min_early_stopping_rate: ``s``; rungs at ``r * eta**(s + k)``, k = 0, 1, ...
    """

    def __init__(self, min_resource: int = 1, reduction_factor: int = 3, min_early_stopping_rate: int = 0) -> None:
        if int(min_resource) < 1:
            raise ConfigError(f"min_resource must be >= 1, got {min_resource}")
        if int(reduction_factor) < 2:
            raise ConfigError(f"reduction_factor must be >= 2, got {reduction_factor}")
        self.min_resource = int(min_resource)
        self.reduction_factor = int(reduction_factor)
        self.min_early_stopping_rate = int(min_early_stopping_rate)
        self._ids: set[int] | None = None  # Hyperband restricts competitors to a bracket

    def is_rung(self, step: int) -> bool:
        k = self.min_early_stopping_rate
        while True:
            rung = self.min_resource * self.reduction_factor ** k
            if rung == step:
                return True
            if rung > step:
                return False
            k += 1

    def should_prune(self, study: Any, trial_id: int, step: int, value: float) -> bool:
        if not self.is_rung(step):
            return False
        others = _others_at(study, trial_id, step, self._ids)
        n = len(others) + 1
        if n < self.reduction_factor:
            return False
        keep = max(1, n // self.reduction_factor)
        mine = _score(study, value)
        better = sum(_score(study, v) > mine for v in others)
        return better >= keep


@PRUNERS.register("hyperband")
class HyperbandPruner:
    """Hyperband: successive-halving brackets with different first rungs.

    Args:
        min_resource: ``r`` (>= 1).
        max_resource: the most steps a trial can run (the epochs), >= ``min_resource``.
        reduction_factor: ``eta`` (>= 2).
    """

    def __init__(self, min_resource: int = 1, max_resource: int = 30, reduction_factor: int = 3) -> None:
        if int(max_resource) < int(min_resource):
            raise ConfigError(f"max_resource must be >= min_resource={min_resource}, got {max_resource}")
        self.min_resource = int(min_resource)
        self.max_resource = int(max_resource)
        self.reduction_factor = int(reduction_factor)
        ratio = self.max_resource / self.min_resource
        self.n_brackets = int(math.floor(math.log(ratio, self.reduction_factor) + 1e-9)) + 1 if ratio > 1 else 1
        self._brackets = [
            SuccessiveHalvingPruner(self.min_resource, self.reduction_factor, s) for s in range(self.n_brackets)
        ]

    def bracket(self, trial_id: int) -> int:
        return int(trial_id) % self.n_brackets

    def should_prune(self, study: Any, trial_id: int, step: int, value: float) -> bool:
        b = self.bracket(trial_id)
        pruner = self._brackets[b]
        pruner._ids = {t.id for t in study.trials if self.bracket(t.id) == b}
        try:
            return pruner.should_prune(study, trial_id, step, value)
        finally:
            pruner._ids = None


def make_pruner(name: str | None, **options: Any) -> Pruner | None:
    """The pruner registered as ``name`` (``None`` or ``"none"``: no pruning)."""
    if name is None or name == "none":
        return None
    return PRUNERS.get(name)(**options)
