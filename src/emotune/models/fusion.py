"""Fusion of modalities: early (aligned frames), intermediate (one encoder per modality, trained end to end)
and late (weighted average of per-modality class probabilities: Aquila-found weights, equal weights, or a
logistic-regression stacker).

Arrays: ``probas`` is a list over modalities of float ``(n, C)`` class
probabilities; ``present`` is bool ``(n, M)``, True where sample ``i`` has
modality ``m`` (a missing modality's probabilities are ignored and the weights
of the present ones renormalised).

The intermediate model is registered as ``fusion_mlp``. Its input is one vector
per sample: the modalities' feature vectors concatenated in order, followed by
``M`` presence flags (1.0 present, 0.0 missing), so it keeps the models'
``model(x, mask)`` contract (``mask=None``). ``modality_dims`` (the width of each
modality's block) is a build parameter the runner fixes. During training each
sample loses one of its present modalities with probability ``modality_dropout``
(its block and flag set to zero), so the model copes when one is missing at test
time. Architecture (the IEMOCAP paper's design)::

    block m (B, F_m) -> Linear -> ReLU -> Dropout -> h_m (B, hidden)    one encoder per modality
    h_m * present_m, concatenated with the flags -> Linear(., fusion_size) -> ReLU -> Dropout
    -> Linear(., n_classes) logits

A block may be a flattened frame sequence: ``modality_steps[m] = T > 0`` says
block ``m`` holds ``(T, F_m / T)`` frames (motion capture, 200 averaged
segments), and its encoder is the ``mocap_cnn`` body (three stages of two BN
Conv1D, 128/64/32 filters, max-pooling 2, dense 256), whose last hidden layer
joins the others: the IEMOCAP paper's motion-capture branch.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from emotune.exceptions import ConfigError
from emotune.models._base import MODELS, ModelSpec, check_int, check_rate, resolve_params
from emotune.models.inputs import InputSpec
from emotune.search.spaces import Categorical, Float, Int, Space

__all__ = [
    "late_fusion",
    "simplex",
    "aquila_weights",
    "stacking_fit_predict",
    "align_frames",
    "early_fusion_frames",
    "IntermediateFusion",
    "FUSION_MLP_SPACE",
]

_EPS = 1e-7


def _present(probas: Sequence[np.ndarray], present: np.ndarray | None) -> np.ndarray:
    n = len(probas[0])
    if present is None:
        return np.ones((n, len(probas)), bool)
    present = np.asarray(present, bool)
    if present.shape != (n, len(probas)):
        raise ConfigError(f"present must have shape (n, M) = {(n, len(probas))}, got {present.shape}")
    return present


def simplex(x: np.ndarray) -> np.ndarray:
    """Non-negative ``x`` (float ``(M,)``) scaled to sum to one (all equal when ``x`` is all zero)."""
    x = np.clip(np.asarray(x, np.float64), 0.0, None)
    total = x.sum()
    return np.full(len(x), 1.0 / len(x)) if total <= 0 else x / total


def late_fusion(probas: Sequence[np.ndarray], weights: Sequence[float] | None = None,
                present: np.ndarray | None = None) -> np.ndarray:
    """Weighted average of per-modality probabilities: float ``(n, C)``, rows sum to one.

    Args:
        probas: ``M`` arrays float ``(n, C)``.
        weights: ``M`` non-negative weights (``None``: equal); scaled to the simplex.
        present: bool ``(n, M)`` (``None``: all present). Per sample, only the
            present modalities count and their weights are renormalised; a sample
            with no modality gets the uniform distribution.
    """
    if not probas:
        raise ConfigError("late_fusion needs at least one modality")
    stack = np.stack([np.asarray(p, np.float64) for p in probas], axis=1)  # (n, M, C)
    w = simplex(np.ones(len(probas)) if weights is None else np.asarray(weights, np.float64))
    wp = w[None, :] * _present(probas, present)  # (n, M)
    total = wp.sum(axis=1, keepdims=True)
    fused = np.einsum("nm,nmc->nc", wp / np.where(total > 0, total, 1.0), stack)
    fused[total[:, 0] <= 0] = 1.0 / stack.shape[2]
    return fused


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], _EPS, 1.0))))


def aquila_weights(probas: Sequence[np.ndarray], y: np.ndarray, *, present: np.ndarray | None = None,
                   objective: str = "log_loss", budget: int = 300, seed: int = 0) -> np.ndarray:
    """Late-fusion weights on the simplex found by the ``aquila`` optimizer of :mod:`emotune.search`.

    Args:
        probas: ``M`` arrays float ``(n, C)`` of validation (out-of-fold) probabilities.
        y: int ``(n,)`` true classes.
        objective: ``"log_loss"`` (minimised) or ``"macro_f1"`` (maximised) of the fused probabilities.
        budget: objective evaluations.

    Returns:
        float ``(M,)``, non-negative, summing to one. The optimizer searches
        ``x`` in ``[0, 1]^M`` and the weights are ``x / sum(x)``; equal weights
        are the first candidate, so the result is never worse on this data than them.
    """
    from emotune.search import Study

    if objective not in ("log_loss", "macro_f1"):
        raise ConfigError(f"objective must be 'log_loss' or 'macro_f1', got {objective!r}")
    y = np.asarray(y, np.int64)
    names = [f"w{m}" for m in range(len(probas))]
    space = Space({n: Float(0.0, 1.0) for n in names})

    def score(params: Mapping[str, Any]) -> float:
        fused = late_fusion(probas, [params[n] for n in names], present)
        if objective == "log_loss":
            return _log_loss(y, fused)
        from sklearn.metrics import f1_score

        return float(f1_score(y, fused.argmax(axis=1), average="macro", zero_division=0))

    direction = "minimize" if objective == "log_loss" else "maximize"
    study = Study(space, "aquila", direction, seed, budget=budget)
    study.enqueue({n: 0.5 for n in names})
    study.optimize(score, trials=budget)
    best = study.best_params
    return simplex(np.array([best[n] for n in names])) if best is not None else simplex(np.ones(len(names)))


def stacking_fit_predict(train_probas: Sequence[np.ndarray], y_train: np.ndarray,
                         test_probas: Sequence[np.ndarray], *, seed: int = 0, c: float = 1.0) -> np.ndarray:
    """A logistic-regression stacker on out-of-fold probabilities: test probabilities float ``(n_test, C)``.

    The features of a sample are the log probabilities of every modality,
    concatenated (``M * C`` values). Fit on ``train_probas`` (out-of-fold, so the
    stacker never sees probabilities of a model that trained on the sample).
    """
    from sklearn.linear_model import LogisticRegression

    def feats(ps: Sequence[np.ndarray]) -> np.ndarray:
        return np.concatenate([np.log(np.clip(np.asarray(p, np.float64), _EPS, 1.0)) for p in ps], axis=1)

    n_classes = np.asarray(train_probas[0]).shape[1]
    y_train = np.asarray(y_train, np.int64)
    model = LogisticRegression(C=c, max_iter=2000, random_state=seed).fit(feats(train_probas), y_train)
    out = np.zeros((len(test_probas[0]), n_classes))
    out[:, model.classes_] = model.predict_proba(feats(test_probas))
    return out


def align_frames(x: np.ndarray, length: int) -> np.ndarray:
    """Frames float ``(T, F)`` resampled to ``length`` steps by nearest earlier frame (a clip vector ``(F,)`` is repeated)."""
    x = np.asarray(x, np.float32)
    if x.ndim == 1:
        return np.repeat(x[None, :], length, axis=0)
    if x.ndim != 2 or len(x) == 0:
        raise ConfigError(f"frames must be (T, F) with T >= 1 or a vector (F,), got shape {x.shape}")
    idx = np.minimum((np.arange(length) * len(x)) // length, len(x) - 1)
    return x[idx]


def early_fusion_frames(streams: Sequence[np.ndarray], length: int | None = None) -> np.ndarray:
    """Early fusion of one sample: each modality's frames aligned to a common length and concatenated per step.

    Args:
        streams: per modality float ``(T_m, F_m)`` frames or ``(F_m,)`` clip vectors.
        length: steps of the result (default: the longest stream's ``T_m``).

    Returns:
        float32 ``(length, sum F_m)``: the sequence ``sa_lstm`` (or any frame model) reads.
    """
    if not streams:
        raise ConfigError("early fusion needs at least one modality")
    if length is None:
        length = max(len(s) if np.ndim(s) == 2 else 1 for s in streams)
    return np.concatenate([align_frames(s, length) for s in streams], axis=1)


class _FrameEncoder(nn.Module):
    """A flattened frame block float ``(B, T * F)`` -> the ``mocap_cnn`` body's last hidden layer ``(B, 256)``."""

    def __init__(self, steps: int, width: int, dropout: float) -> None:
        super().__init__()
        from emotune.models.mocap_cnn import MocapCnn

        self.steps, self.features = steps, width // steps
        self.cnn = MocapCnn(n_classes=2, input_spec=InputSpec(kind="frames", feature_dim=self.features),
                            dropout=dropout)
        self.cnn.out = nn.Identity()  # only the body is used
        self.out_dim = self.cnn.dense.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cnn.encode(x.reshape(len(x), self.steps, self.features))


class IntermediateFusion(nn.Module):
    """One encoder per modality, hidden layers concatenated, dense, logits (see the module docstring).

    ``forward(x, mask=None)``: ``x`` float ``(B, sum(modality_dims) + M)`` -> logits ``(B, n_classes)``.
    """

    def __init__(self, *, n_classes: int, input_spec: InputSpec, modality_dims: Sequence[int],
                 hidden_size: int = 64, fusion_size: int = 64, dropout: float = 0.2,
                 modality_dropout: float = 0.0, modality_steps: Sequence[int] | None = None) -> None:
        super().__init__()
        dims = [check_int("fusion_mlp", "modality_dims", d) for d in modality_dims]
        if not dims:
            raise ConfigError("model 'fusion_mlp': modality_dims must list at least one modality width")
        expected = sum(dims) + len(dims)
        if input_spec.feature_dim != expected:
            raise ConfigError(f"model 'fusion_mlp': input width must be sum(modality_dims) + M = {expected}, "
                              f"got feature_dim={input_spec.feature_dim}")
        hidden_size = check_int("fusion_mlp", "hidden_size", hidden_size)
        fusion_size = check_int("fusion_mlp", "fusion_size", fusion_size)
        dropout = check_rate("fusion_mlp", "dropout", dropout)
        self.modality_dropout = check_rate("fusion_mlp", "modality_dropout", modality_dropout)
        steps = [0] * len(dims) if modality_steps is None else [int(t) for t in modality_steps]
        if len(steps) != len(dims) or any(t < 0 or (t and d % t) for t, d in zip(steps, dims)):
            raise ConfigError(f"model 'fusion_mlp': modality_steps must give, per modality, 0 (a vector) or a T "
                              f"that divides its width; got {list(steps)} for modality_dims {dims}")
        self.dims = dims
        self.encoders = nn.ModuleList(
            _FrameEncoder(t, d, dropout) if t else nn.Sequential(nn.Linear(d, hidden_size), nn.ReLU(),
                                                                 nn.Dropout(dropout))
            for t, d in zip(steps, dims))
        widths = [e.out_dim if isinstance(e, _FrameEncoder) else hidden_size for e in self.encoders]
        m = len(dims)
        self.head = nn.Sequential(nn.Linear(sum(widths) + m, fusion_size), nn.ReLU(), nn.Dropout(dropout),
                                  nn.Linear(fusion_size, n_classes))

    def split(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The modality blocks ``[(B, F_m)]`` and the presence flags ``(B, M)`` of an input ``x``."""
        blocks = list(torch.split(x[:, : sum(self.dims)], self.dims, dim=1))
        return blocks, x[:, sum(self.dims):]

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        blocks, present = self.split(x)
        present = present.clone()
        if self.training and self.modality_dropout > 0 and len(self.dims) > 1:
            drop = torch.rand(len(x), device=x.device) < self.modality_dropout
            which = torch.randint(len(self.dims), (len(x),), device=x.device)
            lose = torch.zeros_like(present, dtype=torch.bool)
            lose[torch.arange(len(x)), which] = drop
            keep_one = (present * (~lose)).sum(dim=1, keepdim=True) > 0  # never drop a sample's last modality
            present = torch.where(lose & keep_one, torch.zeros_like(present), present)
        hidden = [enc(b * present[:, i:i + 1]) * present[:, i:i + 1] for i, (enc, b) in enumerate(zip(self.encoders, blocks))]
        return self.head(torch.cat(hidden + [present], dim=1))


FUSION_MLP_SPACE = Space({
    "hidden_size": Int(16, 256, log=True),
    "fusion_size": Int(16, 256, log=True),
    "dropout": Float(0.0, 0.5),
    "modality_dropout": Float(0.0, 0.5),
    "lr": Float(1e-4, 1e-2, log=True),
    "batch_size": Categorical([16, 32, 64]),
    "weight_decay": Float(1e-6, 1e-2, log=True),
})

FUSION_MLP_DEFAULTS: dict[str, Any] = {"modality_dims": None, "modality_steps": None, "hidden_size": 64, "fusion_size": 64, "dropout": 0.2,
                                       "modality_dropout": 0.1, "lr": 1e-3, "batch_size": 32}


def build_fusion_mlp(params: Mapping[str, Any], *, n_classes: int, input_spec: InputSpec) -> IntermediateFusion:
    """Build :class:`IntermediateFusion`; ``params["modality_dims"]`` is required."""
    p = resolve_params("fusion_mlp", params, n_classes=n_classes, input_spec=input_spec, input_kinds=("vector",),
                       defaults=FUSION_MLP_DEFAULTS)
    if p["modality_dims"] is None:
        raise ConfigError("model 'fusion_mlp' needs modality_dims (the width of each modality's block)")
    return IntermediateFusion(n_classes=n_classes, input_spec=input_spec, **p)


MODELS.add("fusion_mlp", ModelSpec(
    name="fusion_mlp", build=build_fusion_mlp, default_space=FUSION_MLP_SPACE,
    description="Intermediate fusion: one encoder per modality, concatenated, dense (modality masks and dropout)",
    defaults=FUSION_MLP_DEFAULTS, input_kinds=("vector",),
))
