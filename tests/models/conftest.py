"""Fixtures for model tests: one thread, tiny input specs and padded batches."""

from __future__ import annotations

from typing import Callable, Sequence

import pytest

torch = pytest.importorskip("torch")

torch.set_num_threads(1)

VOCAB = 40
EMB = 8
FEAT = 6

TINY: dict[str, dict] = {
    "lstm_sa": {"d_model": 16, "head_dim": 8, "n_layers": 1, "replications": 0, "dropout": 0.1},
    "sa_lstm": {"hidden_size": 8, "num_layers": 1, "dropout": 0.1},
    "bilstm_tcsa": {"hidden_size": 8, "n_filters": 8, "dropout": 0.1},
    "cnn_bilstm": {"filters": (8, 8, 8, 8, 8), "lstm_units": 8, "dense_units": 8, "dropout": 0.1},
    "mlp": {"hidden_size": 8, "n_layers": 1, "dropout": 0.1},
}
"""Small sizes for every registered model, so that building and running it is quick."""


def make_spec(kind: str):
    from emotune.models import InputSpec

    if kind == "tokens":
        return InputSpec("tokens", vocab_size=VOCAB, embedding_dim=EMB)
    return InputSpec(kind, feature_dim=FEAT)


def make_batch(kind: str, lengths: Sequence[int], *, T: int | None = None, seed: int = 0):
    """A right-padded batch: ``x`` and ``mask`` (``None`` for vectors), padding filled with pad id / zeros."""
    g = torch.Generator().manual_seed(seed)
    B = len(lengths)
    T = T or max(lengths)
    mask = torch.arange(T).unsqueeze(0) < torch.tensor(list(lengths)).unsqueeze(1)
    if kind == "tokens":
        x = torch.randint(1, VOCAB, (B, T), generator=g)
        x[~mask] = 0
        return x, mask
    if kind == "frames":
        x = torch.randn(B, T, FEAT, generator=g)
        x[~mask] = 0.0
        return x, mask
    return torch.randn(B, FEAT, generator=g), None


@pytest.fixture
def spec_for() -> Callable:
    return make_spec


@pytest.fixture
def batch_for() -> Callable:
    return make_batch


@pytest.fixture
def tiny() -> dict[str, dict]:
    return TINY
