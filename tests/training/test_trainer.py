"""The training loop on tiny synthetic problems (CPU, one thread, a few seconds)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from emotune.evaluation.metrics import FITNESS
from emotune.exceptions import ConfigError, DatasetError, TrialFailed
from emotune.training import TensorSplit, TrainConfig, class_weights, predict_proba, train

torch.set_num_threads(1)

VOCAB, T, N_CLASSES = 30, 8, 3


# --------------------------------------------------------------------------- models


class BagOfEmbeddings(nn.Module):
    """Embedding + masked mean pool + linear (with dropout, so seeding matters)."""

    def __init__(self, vocab: int = VOCAB, dim: int = 8, n_classes: int = N_CLASSES, dropout: float = 0.1):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim, padding_idx=0)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(dim, n_classes)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        h = self.emb(x)  # (b, T, dim)
        m = (x != 0) if mask is None else mask
        m = m.unsqueeze(-1).float()
        pooled = (h * m).sum(1) / m.sum(1).clamp_min(1.0)
        return self.out(self.drop(pooled))


class MLP(nn.Module):
    def __init__(self, n_in: int = 4, hidden: int = 16, n_classes: int = 2):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return self.net(x)


class Constant(nn.Module):
    """Zero logits whatever the input: the loss, the gradients and the val fitness never change."""

    def __init__(self, n_classes: int = 2):
        super().__init__()
        self.n_classes = n_classes
        self.w = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return torch.zeros(x.shape[0], self.n_classes) + 0.0 * self.w


class NanAfter(nn.Module):
    """A linear model whose training forward returns nan from its ``k``-th call on."""

    def __init__(self, k: int, n_in: int = 4):
        super().__init__()
        self.k, self.calls = k, 0
        self.lin = nn.Linear(n_in, 2)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        out = self.lin(x)
        if self.training:
            self.calls += 1
            if self.calls >= self.k:
                out = out * float("nan")
        return out


# --------------------------------------------------------------------------- data


def token_split(n: int, seed: int, noise: float = 0.0) -> TensorSplit:
    """Class ``c`` draws its tokens from ``[1 + 10c, 10 + 10c)``; a random length; 0 pads."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, N_CLASSES, (n,), generator=g)
    x = 1 + 10 * y[:, None] + torch.randint(0, 9, (n, T), generator=g)
    lengths = torch.randint(3, T + 1, (n,), generator=g)
    mask = torch.arange(T)[None, :] < lengths[:, None]
    x = torch.where(mask, x, torch.zeros_like(x))
    if noise:
        flip = torch.rand(n, generator=g) < noise
        y = torch.where(flip, torch.randint(0, N_CLASSES, (n,), generator=g), y)
    return TensorSplit(x, y, mask)


def vector_split(n: int, seed: int, noise: float = 0.0) -> TensorSplit:
    """Two Gaussian blobs in 4-D, centres 1.5 apart along every axis."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, 4, generator=g) + 1.5 * y[:, None].float()
    if noise:
        flip = torch.rand(n, generator=g) < noise
        y = torch.where(flip, 1 - y, y)
    return TensorSplit(x, y)


def fitness_of(model: nn.Module, split: TensorSplit, name: str = "macro_f1") -> float:
    return FITNESS[name](split.y.numpy(), predict_proba(model, split.x, split.mask))


def make(cls, seed: int = 0, **kwargs) -> nn.Module:
    torch.manual_seed(seed)
    return cls(**kwargs)


# --------------------------------------------------------------------------- learning


def test_token_model_learns_and_beats_chance():
    tr, va = token_split(150, 1), token_split(60, 2)
    model = make(BagOfEmbeddings)
    res = train(model, tr, va, TrainConfig(lr=0.05, epochs=8, batch_size=16))
    losses = [h["train_loss"] for h in res.history]
    assert losses[-1] < losses[0]
    assert fitness_of(model, va, "accuracy") > 0.8  # chance is 1/3
    assert res.best_fitness == pytest.approx(max(h["val_fitness"] for h in res.history))


def test_mlp_on_float_vectors_learns():
    tr, va = vector_split(200, 1), vector_split(100, 2)
    model = make(MLP)
    res = train(model, tr, va, TrainConfig(lr=0.02, epochs=10, optimizer="adamw", fitness="roc_auc"))
    assert res.history[-1]["train_loss"] < res.history[0]["train_loss"]
    assert fitness_of(model, va, "accuracy") > 0.8
    assert fitness_of(model, va, "roc_auc") > 0.9


def test_best_epoch_weights_are_restored():
    tr, va = vector_split(120, 3, noise=0.3), vector_split(40, 4, noise=0.3)
    model = make(MLP, hidden=32)
    cfg = TrainConfig(optimizer="sgd", lr=0.5, momentum=0.9, epochs=25, early_stopping_patience=6, grad_clip=None)
    res = train(model, tr, va, cfg)
    fits = [h["val_fitness"] for h in res.history]
    assert res.best_epoch == int(np.argmax(fits)) + 1
    assert res.best_epoch < len(res.history)  # the last epoch was not the best: weights did change back
    assert fitness_of(model, va) == pytest.approx(max(fits), abs=1e-12)
    assert res.best_fitness == max(fits)


def test_without_val_trains_all_epochs_and_keeps_last_weights():
    tr = vector_split(60, 1)
    res = train(make(MLP), tr, None, TrainConfig(epochs=4, early_stopping_patience=1, plateau_patience=0))
    assert res.epochs_run == 4 and res.best_epoch == 4
    assert res.best_fitness is None
    assert res.stop_reason == "completed"
    assert all(h["val_fitness"] is None for h in res.history)
    assert len({h["lr"] for h in res.history}) == 1  # no plateau schedule without val


# --------------------------------------------------------------------------- callbacks


def test_early_stopping_stops_when_val_does_not_improve():
    tr, va = vector_split(40, 1), vector_split(20, 2)
    res = train(make(Constant), tr, va, TrainConfig(epochs=20, early_stopping_patience=3, plateau_patience=None))
    assert res.stop_reason == "early_stopping"
    assert res.epochs_run == 4  # the first (best) epoch + 3 without improvement
    assert res.best_epoch == 1


def test_plateau_lowers_the_learning_rate():
    tr, va = vector_split(40, 1), vector_split(20, 2)
    cfg = TrainConfig(epochs=6, lr=1e-3, early_stopping_patience=None, plateau_patience=1, plateau_factor=0.5)
    res = train(make(Constant), tr, va, cfg)
    lrs = [h["lr"] for h in res.history]
    # PyTorch drops the LR on the (patience + 1)-th bad epoch: after epochs 3 and 5
    assert lrs == pytest.approx([1e-3, 1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4])
    assert res.stop_reason == "completed"


def test_time_limit_stops_after_the_current_batch():
    tr, va = vector_split(64, 1), vector_split(20, 2)
    res = train(make(MLP), tr, va, TrainConfig(epochs=50, batch_size=8, max_seconds=1e-9))
    assert res.stop_reason == "time_limit"
    assert res.epochs_run == 1


# --------------------------------------------------------------------------- failures


def test_nan_loss_raises_trial_failed_with_epoch_and_batch():
    tr, va = vector_split(40, 1), vector_split(20, 2)
    # batches of 16, 16, 8 per epoch: the 5th training call is epoch 2, batch 2
    with pytest.raises(TrialFailed, match=r"^loss became nan at epoch 2, batch 2$"):
        train(make(NanAfter, k=5), tr, va, TrainConfig(batch_size=16, epochs=5))
    with pytest.raises(TrialFailed, match=r"loss became nan at epoch 1, batch 1"):
        train(make(NanAfter, k=1), tr, None, TrainConfig(epochs=1, grad_clip=None))


def test_labels_outside_the_model_classes_are_a_dataset_error():
    tr = TensorSplit(torch.randn(10, 4), torch.tensor([0, 1, 2] * 3 + [0]))
    with pytest.raises(DatasetError, match="outputs 2 classes"):
        train(make(MLP), tr, None, TrainConfig(epochs=1))


# --------------------------------------------------------------------------- seeding, FGM, weights


def _run(seed: int, eps: float = 0.0, **cfg) -> dict[str, torch.Tensor]:
    model = make(BagOfEmbeddings, seed=0)
    train(model, token_split(80, 1), token_split(30, 2), TrainConfig(epochs=3, seed=seed, fgm_epsilon=eps, **cfg))
    return model.state_dict()


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


def test_same_seed_gives_identical_weights():
    assert _same(_run(seed=7), _run(seed=7))
    assert not _same(_run(seed=7), _run(seed=8))


def test_fgm_runs_and_changes_the_result():
    plain, adv = _run(seed=0), _run(seed=0, eps=0.5)
    assert not _same(plain, adv)
    assert _same(adv, _run(seed=0, eps=0.5))
    # float inputs: the batch itself is perturbed
    tr, va = vector_split(80, 1), vector_split(30, 2)
    states = []
    for eps in (0.0, 0.5):
        model = make(MLP)
        res = train(model, tr, va, TrainConfig(epochs=3, fgm_epsilon=eps))
        assert all(math.isfinite(h["train_loss"]) for h in res.history)
        states.append(model.state_dict())
    assert not _same(*states)


def test_fgm_with_a_frozen_embedding_leaves_it_frozen_and_unchanged():
    model = make(BagOfEmbeddings)
    model.emb.weight.requires_grad_(False)
    before = model.emb.weight.detach().clone()
    train(model, token_split(60, 1), token_split(30, 2), TrainConfig(epochs=2, fgm_epsilon=0.5))
    assert torch.equal(model.emb.weight, before)
    assert not model.emb.weight.requires_grad and model.emb.weight.grad is None


def test_fgm_on_token_ids_needs_an_embedding():
    class NoEmbedding(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(T, 3)

        def forward(self, x, mask):
            return self.lin(x.float())

    with pytest.raises(ConfigError, match="nn.Embedding"):
        train(NoEmbedding(), token_split(20, 1), None, TrainConfig(epochs=1, fgm_epsilon=0.1))


def test_class_weights_are_inverse_frequency():
    y = torch.tensor([0, 0, 0, 1, 1, 2])  # n = 6, C = 4 (class 3 absent)
    w = class_weights(y, 4)
    assert w.dtype == torch.float32
    assert w.tolist() == pytest.approx([6 / (4 * 3), 6 / (4 * 2), 6 / (4 * 1), 0.0])
    assert class_weights(np.array([0, 1, 0, 1]), 2).tolist() == pytest.approx([1.0, 1.0])
    tr = TensorSplit(torch.randn(6, 4), torch.tensor([0, 0, 0, 0, 1, 1]))
    res = train(make(MLP), tr, None, TrainConfig(epochs=1))
    assert res.class_weights == pytest.approx([6 / (2 * 4), 6 / (2 * 2)])
    assert train(make(MLP), tr, None, TrainConfig(epochs=1, class_weighted=False)).class_weights is None


def test_weight_decay_applies_only_to_l2_parameters():
    class TwoParams(Constant):
        def __init__(self):
            super().__init__()
            self.a = nn.Parameter(torch.ones(3))
            self.b = nn.Parameter(torch.ones(3))

        def forward(self, x, mask):
            return super().forward(x, mask) + 0.0 * (self.a.sum() + self.b.sum())

        def l2_parameters(self):
            return [self.a]

    model = TwoParams()
    cfg = TrainConfig(optimizer="sgd", lr=0.1, momentum=0.0, weight_decay=0.5, epochs=1, batch_size=40)
    train(model, vector_split(40, 1), None, cfg)  # one SGD step on a zero data gradient
    assert model.a.detach().tolist() == pytest.approx([1 - 0.1 * 0.5] * 3)
    assert model.b.detach().tolist() == pytest.approx([1.0] * 3)


# --------------------------------------------------------------------------- config and helpers


def test_config_validation_names_field_rule_and_value():
    with pytest.raises(ConfigError, match=r"TrainConfig\.lr must be > 0, got -0\.1"):
        TrainConfig(lr=-0.1)
    with pytest.raises(ConfigError, match=r"TrainConfig\.optimizer must be one of .*got 'rmsprop'"):
        TrainConfig(optimizer="rmsprop")
    with pytest.raises(ConfigError, match=r"TrainConfig\.batch_size must be >= 1, got 0"):
        TrainConfig(batch_size=0)
    with pytest.raises(ConfigError, match=r"TrainConfig\.plateau_factor must be in \(0, 1\), got 1\.5"):
        TrainConfig(plateau_factor=1.5)
    with pytest.raises(ConfigError, match=r"TrainConfig\.fitness must be one of"):
        TrainConfig(fitness="loss")
    with pytest.raises(ConfigError, match=r"TrainConfig\.epochs must be an int, got 2\.5"):
        TrainConfig(epochs=2.5)


def test_assignment_is_validated_too():
    cfg = TrainConfig()
    cfg.seed = np.int64(3)
    cfg.optimizer = "AdamW"
    assert (cfg.seed, cfg.optimizer) == (3, "adamw") and type(cfg.seed) is int
    with pytest.raises(ConfigError, match=r"TrainConfig\.early_stopping_patience must be >= 1 or None, got 0"):
        cfg.early_stopping_patience = 0
    with pytest.raises(ConfigError, match="no field 'early_stoping_patience'"):
        cfg.early_stoping_patience = 3


def test_from_params_picks_known_keys_and_ignores_the_rest():
    params = {"lr": 0.01, "batch_size": 64.0, "optimizer": "SGD", "fgm_epsilon": np.float64(0.2), "hidden": 128}
    cfg = TrainConfig.from_params(params)
    assert (cfg.lr, cfg.batch_size, cfg.optimizer, cfg.fgm_epsilon) == (0.01, 64, "sgd", 0.2)
    assert isinstance(cfg.batch_size, int) and type(cfg.fgm_epsilon) is float
    base = TrainConfig(epochs=3, seed=5)
    cfg = TrainConfig.from_params({"lr": 0.1}, base=base)
    assert (cfg.epochs, cfg.seed, cfg.lr) == (3, 5, 0.1)
    assert cfg.to_dict()["lr"] == 0.1


def test_predict_proba_shape_dtype_and_mode():
    model = make(BagOfEmbeddings)
    split = token_split(70, 1)
    model.train()
    proba = predict_proba(model, split.x, split.mask, batch_size=32)
    assert proba.shape == (70, N_CLASSES) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert model.training
    np.testing.assert_allclose(proba, predict_proba(model, split.x, split.mask, batch_size=7), rtol=1e-6)


def test_progress_bar_runs():
    res = train(make(MLP), vector_split(40, 1), vector_split(20, 2), TrainConfig(epochs=2), progress=True)
    assert res.epochs_run == 2
