"""Per-step learning-rate schedules, as trainer hooks.

:class:`LinearWarmup` is the warm-up every BERT fine-tuning recipe uses (Devlin et
al. 2019; Sun et al. 2019, "How to fine-tune BERT for text classification"): the
learning rate of every parameter group rises linearly from ``lr / steps`` to its
own ``lr`` over the first ``fraction`` of all optimizer steps, so the randomly
initialised classifier head cannot push large gradients into the pretrained layers
before it has settled. After the warm-up the learning rate is left to the other
schedules (``ReduceLROnPlateau``).
"""

from __future__ import annotations

from typing import Any

from emotune.exceptions import ConfigError

__all__ = ["LinearWarmup"]


class LinearWarmup:
    """Linear learning-rate warm-up over a fraction of the training steps.

    Args:
        fraction: share of all steps spent warming up, in [0, 1); 0 disables it.

    Hooks: ``on_train_begin(optimizer, total_steps)``, ``on_batch_end()``.
    """

    def __init__(self, fraction: float) -> None:
        if not 0.0 <= float(fraction) < 1.0:
            raise ConfigError(f"warmup fraction must be in [0, 1), got {fraction!r}")
        self.fraction = float(fraction)
        self.steps = 0
        self._step = 0
        self._optimizer: Any = None
        self._base: list[float] = []

    def _apply(self) -> None:
        scale = min(1.0, (self._step + 1) / self.steps)
        for group, base in zip(self._optimizer.param_groups, self._base):
            group["lr"] = base * scale

    def on_train_begin(self, optimizer: Any, total_steps: int) -> None:
        self._optimizer = optimizer
        self._base = [float(g["lr"]) for g in optimizer.param_groups]
        self.steps = int(round(self.fraction * total_steps))
        self._step = 0
        if self.steps > 0:
            self._apply()  # the first step already runs at lr / steps

    def on_batch_end(self) -> None:
        if self.steps <= 0 or self._step >= self.steps:
            return
        self._step += 1
        if self._step < self.steps:
            self._apply()
        else:
            for group, base in zip(self._optimizer.param_groups, self._base):
                group["lr"] = base
