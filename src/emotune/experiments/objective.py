"""One trial: build a fold's inputs, train a model from a configuration, score it on validation.

The search objective (:func:`make_objective`) is the mean validation fitness over
the search folds; :func:`fit_and_score` is also how the final model is trained.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from emotune._seeding import seed_everything
from emotune.exceptions import TrialFailed
from emotune.experiments.config import TuneConfig

__all__ = ["make_objective", "fit_and_score", "model_params", "default_params", "set_training_threads"]


def set_training_threads(threads: int) -> None:
    """Torch threads for training: small recurrent models gain little from more, and
    extra threads thrash when other processes (or parallel trials) share the cores."""
    import torch

    torch.set_num_threads(int(threads))


def _tensor_split(x: np.ndarray, y: np.ndarray, mask: np.ndarray | None):
    import torch

    from emotune.training import TensorSplit

    xt = torch.from_numpy(np.ascontiguousarray(x))
    return TensorSplit(xt, torch.from_numpy(np.asarray(y, dtype=np.int64)), None if mask is None else torch.from_numpy(mask))


def _train_config(config: TuneConfig, params: dict[str, Any], *, epochs: int | None = None):
    from emotune.training import TrainConfig

    merged = dict(params)
    merged.setdefault("epochs", config.epochs)
    if epochs is not None:
        merged["epochs"] = epochs
    tc = TrainConfig.from_params(merged)
    tc.early_stopping_patience = config.patience
    tc.fitness = config.fitness
    tc.seed = config.seed
    tc.max_seconds = config.max_train_seconds
    if "fgm_epsilon" not in params and config.fgm_epsilon:
        tc.fgm_epsilon = config.fgm_epsilon
    if "fgm_epsilon" not in params and config.augment == "fgm" and not config.fgm_epsilon:
        tc.fgm_epsilon = 1.0  # augment: fgm without a radius: the usual eps = 1 (Miyato et al. 2017)
    return tc


_DATA_KEYS = ("tokenizer", "embedding_dim", "max_len", "warmup", "gan_dp")
"""Search keys read by the data side or by trainer hooks, never by a model's build."""


def training_hooks(config: TuneConfig, params: dict[str, Any]) -> list[Any]:
    """Trainer hooks a configuration asks for: LR warm-up (``warmup``), GAN augmentation (``augment: gan``)."""
    from emotune.training.augmenters import augmenters_from_params
    from emotune.training.schedules import LinearWarmup

    hooks: list[Any] = augmenters_from_params(config.augment, params, seed=config.seed)
    if float(params.get("warmup", 0.0)) > 0:
        hooks.append(LinearWarmup(float(params["warmup"])))
    return hooks


def model_params(params: dict[str, Any]) -> dict[str, Any]:
    """The model's own parameters: drops data-side keys and every trainer setting."""
    from dataclasses import fields

    from emotune.training import TrainConfig

    trainer_keys = {f.name for f in fields(TrainConfig)}
    return {k: v for k, v in params.items() if k not in _DATA_KEYS and k not in trainer_keys}


def resolve_device(device: str) -> str:
    """``auto``: ``cuda`` when torch sees a GPU, else ``cpu``; ``cpu``/``cuda`` as given."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def fit_and_score(config, inputs, n_classes, params, train_idx, eval_idx, y, *, epochs=None, with_val=True,
                  callbacks=()):
    """Train on ``train_idx``; return (model, eval probabilities, train result, fold inputs).

    ``callbacks`` get ``on_epoch_end(epoch, record)`` from the trainer (e.g. pruning reports).
    The model trains on ``config.device`` (``auto``: CUDA when torch sees it).
    """
    from emotune.models import build_model
    from emotune.training import predict_proba, train

    fold = inputs.build(train_idx, eval_idx, params)
    seed_everything(config.seed)  # the same initial weights for the same config
    model = build_model(config.model, model_params(params), n_classes=n_classes, input_spec=fold.input_spec)
    model.to(resolve_device(getattr(config, "device", "cpu")))
    tc = _train_config(config, params, epochs=epochs)
    train_split = _tensor_split(fold.x_train, y[train_idx], fold.mask_train)
    eval_split = _tensor_split(fold.x_eval, y[eval_idx], fold.mask_eval)
    hooks = [*training_hooks(config, params), *callbacks]
    result = train(model, train_split, eval_split if with_val else None, tc, progress=False, callbacks=hooks)
    proba = predict_proba(model, eval_split.x, eval_split.mask)
    return model, proba, result, fold


def make_objective(config, inputs, folds, y, n_classes) -> Callable[[dict[str, Any]], tuple[float, dict]]:
    """The search objective: mean validation fitness over ``folds`` (higher is better)."""
    from emotune.evaluation.metrics import FITNESS

    fitness_fn = FITNESS[config.fitness]

    def objective(params: dict[str, Any], trial: Any = None) -> tuple[float, dict]:
        from emotune.training.callbacks import PrunerReport

        params = {**params, **config.fixed_params}
        scores, epochs = [], []
        for k, (train_idx, val_idx) in enumerate(folds):
            # search fold k reports at steps k * epochs + epoch, so every trial's step s means the same work
            report = () if trial is None else [PrunerReport(trial, offset=k * config.epochs,
                                                            final_step=len(folds) * config.epochs)]
            _, proba, result, _ = fit_and_score(config, inputs, n_classes, params, train_idx, val_idx, y,
                                                callbacks=report)
            if not np.all(np.isfinite(proba)):
                raise TrialFailed("model produced non-finite probabilities")
            scores.append(float(fitness_fn(y[val_idx], proba)))
            epochs.append(int(result.best_epoch))
        return float(np.mean(scores)), {"best_epoch": int(np.median(epochs)), "fold_scores": scores}

    return objective


def default_params(spec: Any, space: Any) -> dict[str, Any]:
    """The model's documented defaults for every parameter of ``space`` (clipped into its range).

    A trainer setting the model does not document takes the trainer's default
    (:class:`~emotune.training.TrainConfig`); a parameter with no usable default
    (missing, or not among a categorical's choices) takes the centre of its range.
    """
    from dataclasses import fields

    from emotune.exceptions import SpaceError
    from emotune.training import TrainConfig

    defaults = {f.name: f.default for f in fields(TrainConfig)}
    defaults.update({k: v for k, v in spec.defaults.items() if v is not None})
    params = space.decode(np.full(space.dim, 0.5))
    for name, param in space.params.items():
        if name in defaults:
            try:
                params[name] = param.decode(param.encode(defaults[name]))  # clipped into the range
            except (SpaceError, TypeError, ValueError):
                continue
    return params
