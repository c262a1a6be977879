"""The supervised training loop: one model, one train split, an optional validation split.

:func:`train` runs mini-batch cross-entropy training with early stopping and
``ReduceLROnPlateau`` on a validation *fitness* (a name from
:data:`emotune.evaluation.metrics.FITNESS`, higher is better), keeps the
best-on-validation weights and restores them at the end. Without a validation
split it trains for ``config.epochs`` epochs, which is how the final retrain on
train+val runs, with ``epochs`` set to the ``best_epoch`` found during the
search.

A failing run (``nan``/``inf`` loss, non-finite gradient norm or validation
predictions) raises :class:`~emotune.exceptions.TrialFailed`, which a study
records as a failed trial. Any other error is a bug and propagates as is.

Model contract: ``model(x_batch, mask_batch) -> logits`` of shape ``(b, C)``,
float; ``mask_batch`` is ``None`` when the split has no mask.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import time
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from emotune.evaluation.metrics import FITNESS
from emotune.exceptions import ConfigError, DatasetError, TrialFailed
from emotune.training.callbacks import EarlyStopping, make_plateau_scheduler

__all__ = [
    "OPTIMIZERS",
    "TrainConfig",
    "TensorSplit",
    "TrainResult",
    "train",
    "predict_proba",
    "class_weights",
]

OPTIMIZERS: Mapping[str, Callable[[list[dict], "TrainConfig"], torch.optim.Optimizer]] = {
    # every parameter group carries its own weight_decay (see _param_groups)
    "adam": lambda groups, cfg: torch.optim.Adam(groups, lr=cfg.lr),  # L2 added to the gradient
    "adamw": lambda groups, cfg: torch.optim.AdamW(groups, lr=cfg.lr),  # decoupled weight decay
    "sgd": lambda groups, cfg: torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum),
}
"""Optimizer name -> builder ``(param_groups, config) -> torch.optim.Optimizer``."""

STOP_REASONS = ("completed", "early_stopping", "time_limit")


# --------------------------------------------------------------------------- config


def _as_int(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"TrainConfig.{name} must be an int, got {value!r}")
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and float(value).is_integer():  # 32.0 from a search space
        return int(value)
    raise ConfigError(f"TrainConfig.{name} must be an int, got {value!r}")


def _as_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"TrainConfig.{name} must be a real number, got {value!r}")
    out = float(value)
    if not math.isfinite(out):
        raise ConfigError(f"TrainConfig.{name} must be finite, got {value!r}")
    return out


def _int_check(low: int, nullable: bool = False) -> Callable[[str, Any], int | None]:
    def check(name: str, value: Any) -> int | None:
        if value is None and nullable:
            return None
        v = _as_int(name, value)
        if v < low:
            raise ConfigError(f"TrainConfig.{name} must be >= {low}{' or None' if nullable else ''}, got {value!r}")
        return v

    return check


def _float_check(ok: Callable[[float], bool], rule: str, nullable: bool = False) -> Callable[[str, Any], float | None]:
    def check(name: str, value: Any) -> float | None:
        if value is None and nullable:
            return None
        v = _as_float(name, value)
        if not ok(v):
            raise ConfigError(f"TrainConfig.{name} must be {rule}{' or None' if nullable else ''}, got {value!r}")
        return v

    return check


def _choice_check(choices: Callable[[], Any], lower: bool = False) -> Callable[[str, Any], str]:
    def check(name: str, value: Any) -> str:
        known = choices()
        v = value.lower() if lower and isinstance(value, str) else value
        if not isinstance(v, str) or v not in known:
            raise ConfigError(f"TrainConfig.{name} must be one of {sorted(known)}, got {value!r}")
        return v

    return check


def _bool_check(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"TrainConfig.{name} must be a bool, got {value!r}")
    return bool(value)


_FIELD_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "optimizer": _choice_check(lambda: OPTIMIZERS, lower=True),
    "lr": _float_check(lambda v: v > 0, "> 0"),
    "batch_size": _int_check(1),
    "epochs": _int_check(1),
    "early_stopping_patience": _int_check(1, nullable=True),
    "plateau_patience": _int_check(0, nullable=True),
    "plateau_factor": _float_check(lambda v: 0 < v < 1, "in (0, 1)"),
    "weight_decay": _float_check(lambda v: v >= 0, ">= 0"),
    "momentum": _float_check(lambda v: 0 <= v < 1, "in [0, 1)"),
    "class_weighted": _bool_check,
    "grad_clip": _float_check(lambda v: v > 0, "> 0", nullable=True),
    "fgm_epsilon": _float_check(lambda v: v >= 0, ">= 0"),
    "fitness": _choice_check(lambda: FITNESS),
    "seed": _int_check(0),
    "max_seconds": _float_check(lambda v: v > 0, "> 0", nullable=True),
}
"""Field name -> ``check(name, value) -> normalised value`` (raises ConfigError)."""


@dataclass
class TrainConfig:
    """Hyper-parameters of one training run.

    Every field is validated when set, in the constructor or later
    (``cfg.seed = 3``); a bad value raises :class:`ConfigError` naming the field,
    the rule and the value. Integral floats are accepted for int fields and
    NumPy scalars become Python ones.

    Attributes:
        optimizer: ``"adam"``, ``"adamw"`` or ``"sgd"`` (see :data:`OPTIMIZERS`).
        lr: initial learning rate, > 0.
        batch_size: samples per mini-batch, >= 1. A trailing batch of a single
            sample joins the batch before it (BatchNorm cannot train on one).
        epochs: maximum number of epochs, >= 1 (the exact number without ``val``).
        early_stopping_patience: stop after this many epochs without a new best
            validation fitness (>= 1); ``None`` disables early stopping.
        plateau_patience: ``ReduceLROnPlateau`` patience in epochs (>= 0; the
            LR drops on the ``patience + 1``-th bad epoch, PyTorch's rule);
            ``None`` disables it. 5, as in the IEMOCAP paper.
        plateau_factor: LR multiplier on a plateau, in (0, 1).
        weight_decay: L2 penalty, >= 0. Coupled (added to the gradient) for adam
            and sgd, decoupled for adamw. When the model has a method
            ``l2_parameters()``, it applies *only* to the parameters that method
            yields (e.g. the dense layers a paper regularises); every other
            parameter gets no decay.
        momentum: SGD momentum in [0, 1); unused by adam/adamw.
        class_weighted: cost-sensitive cross-entropy with inverse-frequency class
            weights from the training labels (see :func:`class_weights`).
        grad_clip: maximum global L2 norm of the gradients (> 0); ``None`` for no
            clipping.
        fgm_epsilon: FGM adversarial perturbation radius (>= 0; 0 disables it),
            see :func:`train`.
        fitness: validation metric to maximise, a key of ``FITNESS``.
        seed: seeds ``torch.manual_seed`` (dropout, ...) and the shuffling
            generator, >= 0.
        max_seconds: wall-clock cap of the run in seconds (> 0), checked after
            every batch; ``None`` for no cap.
    """

    optimizer: str = "adam"
    lr: float = 1e-3
    batch_size: int = 32
    epochs: int = 20
    early_stopping_patience: int | None = 5
    plateau_patience: int | None = 5
    plateau_factor: float = 0.5
    weight_decay: float = 0.0
    momentum: float = 0.9
    class_weighted: bool = True
    grad_clip: float | None = 1.0
    fgm_epsilon: float = 0.0
    fitness: str = "macro_f1"
    seed: int = 0
    max_seconds: float | None = None

    def __setattr__(self, name: str, value: Any) -> None:
        # every assignment is validated, the constructor's included; a typo is an error
        check = _FIELD_CHECKS.get(name)
        if check is None:
            raise ConfigError(f"TrainConfig has no field {name!r}; known: {', '.join(_FIELD_CHECKS)}")
        super().__setattr__(name, check(name, value))

    @classmethod
    def from_params(cls, params: Mapping[str, Any], *, base: "TrainConfig | None" = None) -> "TrainConfig":
        """A config from a flat parameter dict (a search trial's parameters).

        Keys that name a field (``lr``, ``batch_size``, ``weight_decay``,
        ``optimizer``, ``epochs``, ``fgm_epsilon``, ...) override ``base`` (the
        defaults when ``None``); every other key (model or feature parameters) is
        ignored. Integral floats are accepted for int fields.
        """
        known = {f.name for f in fields(cls)}
        picked = {k: v for k, v in params.items() if k in known}
        return replace(base if base is not None else cls(), **picked)

    def to_dict(self) -> dict[str, Any]:
        """The config as a plain dict (for saving beside the results)."""
        return asdict(self)


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class TensorSplit:
    """Tensors of one split.

    Attributes:
        x: LongTensor ``(n, T)`` of token ids, FloatTensor ``(n, T, F)`` of frames
            (time before features), or FloatTensor ``(n, F)`` of vectors.
        y: LongTensor ``(n,)`` of class indices (other integer dtypes are cast).
        mask: BoolTensor ``(n, T)``, passed to the model as is; ``None`` when the
            inputs need none.
    """

    x: torch.Tensor
    y: torch.Tensor
    mask: torch.Tensor | None = None

    def __post_init__(self) -> None:
        x, y, mask = self.x, self.y, self.mask
        if not isinstance(x, torch.Tensor) or x.ndim < 2:
            raise DatasetError(f"TensorSplit.x must be a tensor of shape (n, T), (n, T, F) or (n, F), got {_desc(x)}")
        if not isinstance(y, torch.Tensor) or y.ndim != 1 or y.is_floating_point() or y.is_complex():
            raise DatasetError(f"TensorSplit.y must be an integer tensor of shape (n,), got {_desc(y)}")
        if y.shape[0] != x.shape[0]:
            raise DatasetError(f"TensorSplit.x and y must have the same n, got {x.shape[0]} and {y.shape[0]}")
        if y.numel() and int(y.min()) < 0:
            raise DatasetError(f"TensorSplit.y must hold class indices >= 0, got minimum {int(y.min())}")
        object.__setattr__(self, "y", y.long())
        if mask is not None:
            if not isinstance(mask, torch.Tensor) or mask.shape != x.shape[:2]:
                raise DatasetError(f"TensorSplit.mask must have shape (n, T) = {tuple(x.shape[:2])}, got {_desc(mask)}")
            object.__setattr__(self, "mask", mask.bool())

    def __len__(self) -> int:
        return int(self.y.shape[0])


def _desc(obj: Any) -> str:
    if isinstance(obj, torch.Tensor):
        return f"{obj.dtype} tensor of shape {tuple(obj.shape)}"
    return repr(type(obj).__name__)


def class_weights(y: torch.Tensor | np.ndarray, n_classes: int) -> torch.Tensor:
    """Inverse-frequency class weights, ``w_c = n / (C * n_c)`` (sklearn's "balanced").

    A balanced set gets all ones. A class absent from ``y`` gets weight 0 (it has
    no sample for the weight to act on).

    Args:
        y: int array ``(n,)`` of class indices in ``[0, n_classes)``.
        n_classes: ``C``.

    Returns:
        float32 tensor ``(C,)``.
    """
    labels = torch.as_tensor(np.asarray(y) if not isinstance(y, torch.Tensor) else y).long().flatten()
    if labels.numel() == 0:
        raise DatasetError("class_weights needs at least one label, got none")
    if int(labels.max()) >= n_classes or int(labels.min()) < 0:
        raise DatasetError(
            f"labels must lie in [0, {n_classes - 1}] for {n_classes} classes, "
            f"got range [{int(labels.min())}, {int(labels.max())}]"
        )
    counts = torch.bincount(labels, minlength=n_classes).double()
    weights = torch.where(counts > 0, labels.numel() / (n_classes * counts.clamp_min(1)), torch.zeros_like(counts))
    return weights.float()


# --------------------------------------------------------------------------- result


@dataclass
class TrainResult:
    """What :func:`train` returns; the model itself is trained in place.

    Attributes:
        best_epoch: 1-based epoch whose weights the model holds: the best on
            validation, or the last epoch run without ``val``. Use it as
            ``epochs`` for the final retrain on train+val.
        best_fitness: validation fitness of ``best_epoch`` (``nan`` when that
            metric is undefined); ``None`` without ``val``.
        history: one dict per epoch run: ``epoch`` (1-based), ``train_loss``
            (mean clean cross-entropy), ``val_fitness`` (``None`` without
            ``val``), ``lr`` (learning rate used during the epoch), ``seconds``.
        stop_reason: ``"completed"``, ``"early_stopping"`` or ``"time_limit"``.
        seconds: wall-clock seconds of the whole run.
        fitness: name of the validation metric.
        class_weights: the loss weights used, or ``None`` when unweighted.
    """

    best_epoch: int
    best_fitness: float | None
    history: list[dict[str, Any]]
    stop_reason: str
    seconds: float
    fitness: str
    class_weights: list[float] | None = None

    @property
    def epochs_run(self) -> int:
        return len(self.history)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- loop


def _device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def _param_groups(model: nn.Module, params: list[nn.Parameter], weight_decay: float, lr: float) -> list[dict]:
    """The model's own ``param_groups(lr, weight_decay)`` when it has one (e.g. layer-wise learning-rate
    decay in a fine-tuned encoder); else one group with ``weight_decay`` for the L2 parameters, one with
    none for the rest."""
    own = getattr(model, "param_groups", None)
    if callable(own):
        return [g for g in own(lr, weight_decay) if g["params"]]
    l2 = getattr(model, "l2_parameters", None)
    if not callable(l2):
        return [{"params": params, "weight_decay": weight_decay}]
    l2_ids = {id(p) for p in l2()}
    decay = [p for p in params if id(p) in l2_ids]
    rest = [p for p in params if id(p) not in l2_ids]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def _batches(n: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    chunks = list(torch.randperm(n, generator=generator).split(batch_size))
    if len(chunks) > 1 and chunks[-1].numel() == 1:
        chunks[-2:] = [torch.cat(chunks[-2:])]
    return chunks


def _check_loss(loss: torch.Tensor, epoch: int, batch: int, what: str = "loss") -> None:
    value = float(loss.detach())
    if not math.isfinite(value):
        raise TrialFailed(f"{what} became {'nan' if math.isnan(value) else 'inf'} at epoch {epoch}, batch {batch}")


def _copy_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _fgm_embedding(
    model: nn.Module,
    emb: nn.Embedding,
    xb: torch.Tensor,
    mb: torch.Tensor | None,
    yb: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    eps: float,
) -> torch.Tensor | None:
    """FGM on the embedding matrix: ``W += eps * g / ||g||_2``, adversarial loss, backward, restore ``W``.

    ``g`` is the gradient of the clean loss w.r.t. the whole embedding weight
    (Frobenius norm), the usual FGM implementation for text models; only the rows
    of the batch's tokens are non-zero. Returns the adversarial loss, or ``None``
    when the gradient is zero.
    """
    weight = emb.weight
    grad = weight.grad
    if grad is None:
        return None
    if grad.is_sparse:
        grad = grad.to_dense()
    norm = torch.linalg.vector_norm(grad)
    if not (torch.isfinite(norm) and norm > 0):
        return None
    backup = weight.detach().clone()
    with torch.no_grad():
        weight.add_(eps * grad / norm)  # Miyato et al. (2017) eq. 2: r_adv = eps * g / ||g||_2
    try:
        adv = loss_fn(model(xb, mb), yb)
        adv.backward()
    finally:
        with torch.no_grad():
            weight.copy_(backup)  # exact restore, not W - r
    return adv


def _fgm_input(
    model: nn.Module,
    xb: torch.Tensor,
    mb: torch.Tensor | None,
    yb: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    eps: float,
) -> torch.Tensor | None:
    """FGM on float inputs: ``x_i + eps * g_i / ||g_i||_2`` per example, adversarial loss, backward."""
    grad = xb.grad
    if grad is None:
        return None
    shape = (-1,) + (1,) * (grad.ndim - 1)
    norms = torch.linalg.vector_norm(grad.flatten(1), dim=1).view(shape)
    r = torch.where(norms > 0, eps * grad / norms.clamp_min(1e-30), torch.zeros_like(grad))  # eq. 2, per example
    adv = loss_fn(model(xb.detach() + r, mb), yb)
    adv.backward()
    return adv


def train(
    model: nn.Module,
    train: TensorSplit,
    val: TensorSplit | None,
    config: TrainConfig,
    *,
    progress: bool = False,
    callbacks: Sequence[Any] = (),
) -> TrainResult:
    """Train ``model`` in place with mini-batch (optionally class-weighted) cross-entropy.

    Every epoch: shuffle ``train`` with a generator seeded by ``config.seed``,
    step the optimizer per batch (gradient clipping to ``config.grad_clip``),
    then, with ``val``, compute the validation fitness on
    :func:`predict_proba`; a new best copies the weights, the plateau scheduler
    and early stopping see the fitness (``nan`` counts as the worst value). At
    the end the best weights are loaded back. Without ``val`` the model trains
    for exactly ``config.epochs`` epochs (or until ``max_seconds``) and keeps its
    last weights.

    Adversarial training (``config.fgm_epsilon > 0``, FGM, Miyato et al. 2017):
    after the clean backward pass, perturb along the normalised loss gradient,
    ``r = eps * g / ||g||_2``, add the adversarial loss's gradient and restore.
    Token-id inputs perturb the weight of the first ``nn.Embedding`` in
    ``model.modules()`` (a frozen embedding is perturbed too, but not trained);
    float inputs perturb the input batch itself, per example. Only the clean
    loss is recorded in the history.

    Seeding: calls ``torch.manual_seed(config.seed)`` (global state, for dropout
    and the like); the model should be built, and so initialised, by the caller
    after its own seeding.

    Args:
        model: ``model(x_batch, mask_batch) -> logits (b, C)``; trained on the
            device of its parameters, the splits stay where they are and batches
            are moved.
        train: training split.
        val: validation split, or ``None``.
        config: hyper-parameters.
        progress: show a Rich progress bar per epoch.
        callbacks: objects with any of these hooks (an exception they raise ends
            training and propagates): ``on_train_data(train) -> TensorSplit``,
            called once before the first epoch, may return a changed training
            split (e.g. :class:`~emotune.training.augmenters.GanAugmenter` adds
            perturbed samples); ``on_train_begin(optimizer, total_steps)``;
            ``on_batch_end()`` after every optimizer step (e.g.
            :class:`~emotune.training.schedules.LinearWarmup`);
            ``on_epoch_end(epoch, record)`` after each epoch with its history
            record (e.g. :class:`~emotune.training.callbacks.PrunerReport`).

    Returns:
        A :class:`TrainResult`; ``model`` holds the weights of ``best_epoch``.

    Raises:
        TrialFailed: the loss or the gradient norm became ``nan``/``inf``, or the
            validation predictions are not finite.
        ConfigError: the model has no trainable parameters or returns logits of
            the wrong shape, or FGM on token ids finds no ``nn.Embedding``.
        DatasetError: a label lies outside the model's ``C`` classes.
    """
    if not isinstance(config, TrainConfig):
        raise ConfigError(f"config must be a TrainConfig, got {type(config).__name__}")
    if not isinstance(train, TensorSplit) or len(train) == 0:
        raise DatasetError(f"train must be a non-empty TensorSplit, got {train!r:.80}")
    if val is not None and (not isinstance(val, TensorSplit) or len(val) == 0):
        raise DatasetError(f"val must be a non-empty TensorSplit or None, got {val!r:.80}")

    started = time.perf_counter()
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    device = _device(model)

    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ConfigError("model has no trainable parameters (requires_grad is False everywhere)")
    optimizer = OPTIMIZERS[config.optimizer](_param_groups(model, params, config.weight_decay, config.lr), config)
    for callback in callbacks:  # hook: change the training data once (e.g. add GAN-perturbed samples)
        if hasattr(callback, "on_train_data"):
            train = callback.on_train_data(train)
    for callback in callbacks:  # hook: see the optimizer and the number of steps (e.g. LR warm-up)
        if hasattr(callback, "on_train_begin"):
            callback.on_train_begin(optimizer, config.epochs * len(_batches(len(train), config.batch_size,
                                                                            torch.Generator().manual_seed(0))))
    scheduler = (
        make_plateau_scheduler(optimizer, patience=config.plateau_patience, factor=config.plateau_factor)
        if val is not None and config.plateau_patience is not None
        else None
    )
    stopper = EarlyStopping(config.early_stopping_patience if val is not None else None)
    fitness_fn = FITNESS[config.fitness]
    val_y = val.y.cpu().numpy() if val is not None else None

    eps = config.fgm_epsilon
    float_inputs = train.x.is_floating_point()
    emb: nn.Embedding | None = None
    frozen_emb = False
    if eps > 0 and not float_inputs:
        emb = next((m for m in model.modules() if isinstance(m, nn.Embedding)), None)
        if emb is None:
            raise ConfigError(
                f"TrainConfig.fgm_epsilon > 0 needs an nn.Embedding in the model for token-id inputs, "
                f"found none in {type(model).__name__} (fgm_epsilon={eps})"
            )
        frozen_emb = not emb.weight.requires_grad

    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None
    weights_used: list[float] | None = None

    def make_loss(n_classes: int) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        nonlocal weights_used
        for split, name in ((train, "train"), (val, "val")):
            if split is not None and int(split.y.max()) >= n_classes:
                raise DatasetError(
                    f"{name}.y holds class {int(split.y.max())} but the model outputs {n_classes} classes"
                )
        if not config.class_weighted:
            return F.cross_entropy
        w = class_weights(train.y, n_classes)
        weights_used = [float(v) for v in w]
        w = w.to(device)
        return lambda logits, target: F.cross_entropy(logits, target, weight=w)

    history: list[dict[str, Any]] = []
    best_state: dict[str, torch.Tensor] | None = None
    stop_reason = "completed"
    was_training = model.training

    if progress:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        bar: Any = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.4f}"),
            TimeElapsedColumn(),
        )
    else:
        bar = contextlib.nullcontext()

    try:
        if frozen_emb:
            emb.weight.requires_grad_(True)  # to get g; it is not in the optimizer
        with bar:
            for epoch in range(1, config.epochs + 1):
                epoch_start = time.perf_counter()
                lr = float(optimizer.param_groups[0]["lr"])
                batches = _batches(len(train), config.batch_size, generator)
                task = None
                if progress:
                    task = bar.add_task(f"epoch {epoch}/{config.epochs}", total=len(batches), loss=math.nan)
                model.train()
                loss_sum, seen, time_up = 0.0, 0, False
                for b, idx in enumerate(batches, 1):
                    xb = train.x[idx].to(device)
                    yb = train.y[idx].to(device)
                    mb = train.mask[idx].to(device) if train.mask is not None else None
                    if eps > 0 and float_inputs:
                        xb.requires_grad_(True)
                    optimizer.zero_grad(set_to_none=True)
                    if frozen_emb:
                        emb.weight.grad = None
                    logits = model(xb, mb)
                    if logits.ndim != 2 or logits.shape[0] != idx.numel():
                        raise ConfigError(
                            f"model must return logits of shape (batch, C) = ({idx.numel()}, C), "
                            f"got {tuple(logits.shape)}"
                        )
                    if loss_fn is None:
                        loss_fn = make_loss(int(logits.shape[1]))
                    loss = loss_fn(logits, yb)
                    _check_loss(loss, epoch, b)
                    loss.backward()
                    if eps > 0:
                        adv = (
                            _fgm_input(model, xb, mb, yb, loss_fn, eps)
                            if float_inputs
                            else _fgm_embedding(model, emb, xb, mb, yb, loss_fn, eps)
                        )
                        if adv is not None:
                            _check_loss(adv, epoch, b, what="adversarial loss")
                    if config.grad_clip is not None:
                        norm = float(torch.nn.utils.clip_grad_norm_(params, config.grad_clip))
                        if not math.isfinite(norm):
                            kind = "nan" if math.isnan(norm) else "inf"
                            raise TrialFailed(f"gradient norm became {kind} at epoch {epoch}, batch {b}")
                    optimizer.step()
                    for callback in callbacks:
                        if hasattr(callback, "on_batch_end"):
                            callback.on_batch_end()
                    loss_sum += float(loss.detach()) * idx.numel()
                    seen += idx.numel()
                    if progress:
                        bar.update(task, advance=1, loss=loss_sum / seen)
                    if config.max_seconds is not None and time.perf_counter() - started > config.max_seconds:
                        time_up = True
                        break

                val_fitness: float | None = None
                if val is not None:
                    proba = predict_proba(model, val.x, val.mask)
                    if not np.isfinite(proba).all():
                        # a softmax over inf logits is nan too
                        raise TrialFailed(f"validation predictions became nan at epoch {epoch}")
                    val_fitness = float(fitness_fn(val_y, proba))
                    if stopper.step(val_fitness, epoch):
                        best_state = _copy_state(model)
                    if scheduler is not None:
                        scheduler.step(-math.inf if math.isnan(val_fitness) else val_fitness)
                history.append(
                    {
                        "epoch": epoch,
                        "train_loss": loss_sum / seen,
                        "val_fitness": val_fitness,
                        "lr": lr,
                        "seconds": time.perf_counter() - epoch_start,
                    }
                )
                if progress:
                    shown = "" if val_fitness is None else f" {config.fitness} {val_fitness:.4f}"
                    bar.update(task, description=f"epoch {epoch}/{config.epochs}{shown}")
                for callback in callbacks:
                    if hasattr(callback, "on_epoch_end"):
                        callback.on_epoch_end(epoch, history[-1])
                if time_up:
                    stop_reason = "time_limit"
                    break
                if stopper.should_stop:
                    stop_reason = "early_stopping"
                    break
    finally:
        if frozen_emb:
            emb.weight.requires_grad_(False)
            emb.weight.grad = None
        model.train(was_training)

    if val is not None:
        assert best_state is not None  # the first epoch always counts as a best
        model.load_state_dict(best_state)
        best_epoch = stopper.best_epoch
        best_fitness: float | None = history[best_epoch - 1]["val_fitness"]
    else:
        best_epoch, best_fitness = len(history), None
    return TrainResult(
        best_epoch=best_epoch,
        best_fitness=best_fitness,
        history=history,
        stop_reason=stop_reason,
        seconds=time.perf_counter() - started,
        fitness=config.fitness,
        class_weights=weights_used,
    )


def predict_proba(
    model: nn.Module, x: torch.Tensor, mask: torch.Tensor | None = None, batch_size: int = 256
) -> np.ndarray:
    """Class probabilities (softmax of the logits), in eval mode without gradients.

    Args:
        model: ``model(x_batch, mask_batch) -> logits (b, C)``.
        x: inputs ``(n, ...)`` as in :class:`TensorSplit`.
        mask: BoolTensor ``(n, T)`` or ``None``.
        batch_size: samples per forward pass, >= 1.

    Returns:
        float32 array ``(n, C)``; rows sum to 1. The model's train/eval mode is
        restored afterwards.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ConfigError(f"predict_proba batch_size must be an int >= 1, got {batch_size!r}")
    n = int(x.shape[0])
    if n == 0:
        raise DatasetError("predict_proba needs at least one input, got x with n = 0")
    device = _device(model)
    was_training = model.training
    model.eval()
    out: list[torch.Tensor] = []
    try:
        with torch.no_grad():
            for start in range(0, n, int(batch_size)):
                xb = x[start : start + batch_size].to(device)
                mb = mask[start : start + batch_size].to(device) if mask is not None else None
                out.append(torch.softmax(model(xb, mb).float(), dim=-1).cpu())
    finally:
        model.train(was_training)
    return torch.cat(out).numpy().astype(np.float32, copy=False)
