"""Training callbacks: early stopping on the validation fitness and the plateau LR schedule.

Both watch a fitness that is *maximised*; ``nan`` (e.g. an undefined ROC AUC)
counts as the worst value, so it never improves on anything.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from emotune.exceptions import ConfigError

if TYPE_CHECKING:  # torch loads with the trainer, not with this module
    import torch

__all__ = ["EarlyStopping", "make_plateau_scheduler", "PrunerReport"]


class PrunerReport:
    """``on_epoch_end`` hook: report the epoch's validation fitness to a search trial.

    ``trial.report(offset + epoch, fitness)`` may raise
    :class:`~emotune.search.study.TrialPruned`, which ends training; the study
    records the trial as pruned with that value. A ``nan`` fitness is reported
    as ``-inf`` (the worst). Epochs without validation report nothing.

    At ``final_step`` (the trial's last epoch) the value is recorded but the
    pruner is not asked: stopping there saves nothing and would throw away a
    finished trial.

    Args:
        trial: a :class:`~emotune.search.executors.TrialContext`.
        offset: added to the epoch (search fold ``k`` of ``E`` epochs uses ``k * E``).
        final_step: the last step of the trial (``None``: every step may prune).
    """

    def __init__(self, trial, offset: int = 0, final_step: int | None = None) -> None:
        self.trial = trial
        self.offset = int(offset)
        self.final_step = final_step

    def on_epoch_end(self, epoch: int, record: dict) -> None:
        value = record.get("val_fitness")
        if value is None:
            return
        step = self.offset + int(epoch)
        value = -math.inf if math.isnan(value) else float(value)
        if self.final_step is not None and step >= self.final_step:
            self.trial.intermediate[step] = value
            return
        self.trial.report(step, value)


class EarlyStopping:
    """Track the best validation fitness and say when to stop.

    Keras semantics: with ``patience=5`` training stops after 5 consecutive
    epochs without an improvement of more than ``min_delta`` over the best.

    Args:
        patience: epochs without improvement before stopping; ``None`` never stops
            (the best value and epoch are still tracked).
        min_delta: smallest increase that counts as an improvement (>= 0).
    """

    def __init__(self, patience: int | None = 5, min_delta: float = 0.0) -> None:
        if patience is not None and (isinstance(patience, bool) or not isinstance(patience, int) or patience < 1):
            raise ConfigError(f"EarlyStopping.patience must be an int >= 1 or None, got {patience!r}")
        if not (isinstance(min_delta, (int, float)) and min_delta >= 0):
            raise ConfigError(f"EarlyStopping.min_delta must be a number >= 0, got {min_delta!r}")
        self.patience = patience
        self.min_delta = float(min_delta)
        self.best = -math.inf
        self.best_epoch = 0
        self.bad_epochs = 0

    def step(self, value: float, epoch: int) -> bool:
        """Record the fitness of ``epoch`` (1-based); True when it is a new best.

        The first epoch is always the best so far, even with a ``nan`` fitness,
        so that some weights are always kept.
        """
        v = -math.inf if math.isnan(value) else float(value)
        if self.best_epoch == 0 or v > self.best + self.min_delta:
            self.best, self.best_epoch, self.bad_epochs = v, epoch, 0
            return True
        self.bad_epochs += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.patience is not None and self.bad_epochs >= self.patience


def make_plateau_scheduler(
    optimizer: "torch.optim.Optimizer", *, patience: int, factor: float
) -> "torch.optim.lr_scheduler.ReduceLROnPlateau":
    """``ReduceLROnPlateau`` in ``mode="max"``: multiply the LR by ``factor`` after
    more than ``patience`` epochs without improvement of the validation fitness.

    PyTorch's rule: the LR drops when the count of bad epochs exceeds
    ``patience``, i.e. on the ``patience + 1``-th bad epoch in a row. Call
    ``scheduler.step(fitness)`` once per epoch with ``nan`` mapped to ``-inf``.
    """
    from torch.optim.lr_scheduler import ReduceLROnPlateau

    return ReduceLROnPlateau(optimizer, mode="max", factor=factor, patience=patience)
