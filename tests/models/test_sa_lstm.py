"""SA-LSTM: additive attention over real steps, exposed weights, the paper's space."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from emotune.models import MODELS  # noqa: E402
from emotune.models.attention import AdditiveAttention  # noqa: E402
from emotune.search.spaces import Categorical, Float, Int  # noqa: E402


def test_space_is_the_papers():
    p = MODELS.get("sa_lstm").default_space.params
    assert p["hidden_size"] == Int(32, 256) and p["num_layers"] == Int(1, 2)
    assert p["dropout"] == Float(0.0, 0.5) and p["lr"] == Float(1e-4, 1e-2, log=True)
    assert p["batch_size"] == Categorical([16, 32, 64, 128])


def test_additive_score_matches_the_formula_on_a_hand_case():
    att = AdditiveAttention(2, 2)
    with torch.no_grad():
        att.proj.weight.copy_(torch.eye(2))
        att.proj.bias.zero_()
        att.v.weight.copy_(torch.tensor([[1.0, 1.0]]))
    h = torch.tensor([[[0.0, 0.0], [1.0, 1.0], [9.0, 9.0]]])
    mask = torch.tensor([[True, True, False]])
    ctx, w = att(h, mask)
    s1 = 2 * torch.tanh(torch.tensor(1.0))  # v^T tanh(W h_1 + b), score_0 = 0
    expect = torch.stack([1 / (1 + torch.exp(s1)), torch.exp(s1) / (1 + torch.exp(s1)), torch.tensor(0.0)])
    assert torch.allclose(w[0], expect, atol=1e-6)
    assert torch.allclose(ctx[0], expect[1] * torch.ones(2), atol=1e-6)


def test_attention_weights_are_exposed_zero_at_padding_and_sum_to_one(spec_for, batch_for):
    model = MODELS.get("sa_lstm").build({"hidden_size": 8}, n_classes=3, input_spec=spec_for("tokens")).eval()
    x, mask = batch_for("tokens", [5, 2, 1])
    logits, w = model.forward_with_attention(x, mask)
    assert logits.shape == (3, 3) and w.shape == (3, 5)
    assert torch.all(w[~mask] == 0)
    assert torch.allclose(w.sum(dim=1), torch.ones(3))
    assert torch.equal(model.last_attention, w.detach())
    assert torch.allclose(model(x, mask), logits)


def test_bilstm_width_and_depth(spec_for):
    params = {"hidden_size": 12, "num_layers": 2}
    model = MODELS.get("sa_lstm").build(params, n_classes=2, input_spec=spec_for("frames"))
    lstm = model.lstm.lstm
    assert lstm.bidirectional and lstm.num_layers == 2 and lstm.hidden_size == 12
    assert model.head.in_features == 24
