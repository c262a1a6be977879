"""Shared layers: input layer, masking helpers, masked LSTM, multi-head self-attention."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from emotune.exceptions import ConfigError, DatasetError  # noqa: E402
from emotune.models import InputLayer, InputSpec  # noqa: E402
from emotune.models.attention import MultiHeadSelfAttention  # noqa: E402
from emotune.models.masking import lengths_from_mask, masked_max, masked_mean, masked_softmax  # noqa: E402
from emotune.models.recurrent import MaskedLSTM  # noqa: E402


def test_token_input_layer_embeds_projects_and_adds_positions():
    table = np.arange(5 * 3, dtype=np.float32).reshape(5, 3)
    spec = InputSpec("tokens", vocab_size=5, embedding_dim=3, pretrained=table, max_len=4)
    layer = InputLayer(spec, 6, positions=True)
    assert layer.out_dim == 6 and isinstance(layer.projection, torch.nn.Linear)
    x = torch.tensor([[1, 2, 0]])
    out = layer(x, x != 0)
    assert out.shape == (1, 3, 6) and torch.all(out[0, 2] == 0)
    with pytest.raises(DatasetError, match="max_len"):
        layer(torch.ones(1, 5, dtype=torch.long))


def test_frozen_embedding_and_identity_for_matching_width():
    spec = InputSpec("tokens", vocab_size=5, embedding_dim=3, fine_tune=False)
    layer = InputLayer(spec)
    assert not layer.embedding.weight.requires_grad and isinstance(layer.projection, torch.nn.Identity)
    assert torch.all(layer.embedding.weight[0] == 0)


def test_frame_and_vector_layers_check_their_shapes():
    frames = InputLayer(InputSpec("frames", feature_dim=4), 8)
    assert frames(torch.randn(2, 3, 4)).shape == (2, 3, 8)
    with pytest.raises(DatasetError, match="feature_dim=4"):
        frames(torch.randn(2, 3, 5))
    vec = InputLayer(InputSpec("vector", feature_dim=4))
    assert vec(torch.randn(2, 4)).shape == (2, 4)
    with pytest.raises(ConfigError, match="positions"):
        InputLayer(InputSpec("vector", feature_dim=4), positions=True)


def test_masked_pooling_and_softmax():
    x = torch.tensor([[[1.0], [3.0], [100.0]]])
    mask = torch.tensor([[True, True, False]])
    assert masked_mean(x, mask).item() == 2.0 and masked_max(x, mask).item() == 3.0
    w = masked_softmax(torch.tensor([[0.0, 0.0, 50.0]]), mask)
    assert w.tolist() == [[0.5, 0.5, 0.0]]
    assert lengths_from_mask(mask).tolist() == [2]


def test_masked_lstm_final_states_are_at_the_last_real_step():
    torch.manual_seed(0)
    lstm = MaskedLSTM(3, 4, bidirectional=True)
    x = torch.randn(2, 5, 3)
    mask = torch.tensor([[True] * 5, [True, True, False, False, False]])
    out, final = lstm(x, mask)
    assert out.shape == (2, 5, 8) and final.shape == (2, 8)
    assert torch.all(out[1, 2:] == 0)
    alone_out, alone_final = lstm(x[1:, :2], mask[1:, :2])
    assert torch.allclose(alone_final, final[1:], atol=1e-6)
    assert torch.allclose(final[:, :4], out[[0, 1], [4, 1], :4], atol=1e-6)  # forward: last real step
    assert torch.allclose(final[:, 4:], out[:, 0, 4:], atol=1e-6)  # backward: first step


def test_self_attention_ignores_padded_keys():
    torch.manual_seed(0)
    attn = MultiHeadSelfAttention(8, 4).eval()
    x = torch.randn(1, 4, 8)
    mask = torch.tensor([[True, True, True, False]])
    y = attn(x, mask)
    x2 = x.clone()
    x2[0, 3] = 50.0
    assert torch.allclose(attn(x2, mask), y, atol=1e-6)
    assert torch.all(y[0, 3] == 0)
    assert torch.allclose(attn(x[:, :3], None), y[:, :3], atol=1e-6)
