"""CNN-BiLSTM: the paper's layout and defaults, L2 parameters, switchable batch norm, short inputs."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from emotune.models import MODELS  # noqa: E402
from emotune.models.cnn_bilstm import MaskedBatchNorm1d  # noqa: E402


def test_paper_layout_and_defaults(spec_for):
    spec = MODELS.get("cnn_bilstm")
    assert spec.defaults["dropout"] == 0.3 and spec.defaults["lr"] == 3e-3
    assert spec.defaults["weight_decay"] == pytest.approx(2 * 0.01)  # Keras l2(0.01) as coupled decay
    assert "weight_decay" in spec.default_space.params
    m = spec.build({}, n_classes=4, input_spec=spec_for("frames"))
    assert [b.conv.out_channels for b in m.blocks] == [64, 128, 64, 32, 64]
    assert all(b.conv.kernel_size == (3,) for b in m.blocks)
    assert all(isinstance(b.norm, MaskedBatchNorm1d) for b in m.blocks)
    lstm = m.lstm.lstm
    assert lstm.bidirectional and lstm.num_layers == 2 and lstm.hidden_size == 128
    assert m.dense.out_features == 256 and m.head.out_features == 4


def test_batchnorm_is_switchable(spec_for):
    m = MODELS.get("cnn_bilstm").build({"use_batchnorm": False}, n_classes=2, input_spec=spec_for("frames"))
    assert all(b.norm is None for b in m.blocks)


def test_l2_parameters_are_the_conv_weights(spec_for):
    m = MODELS.get("cnn_bilstm").build({"weight_decay": 0.5}, n_classes=2, input_spec=spec_for("frames"))
    params = m.l2_parameters()
    assert len(params) == 5 and all(p is b.conv.weight for p, b in zip(params, m.blocks))
    assert all(p.dim() == 3 for p in params)  # weights (out, in, kernel), no biases


@pytest.mark.parametrize("lengths", [[1], [2], [2, 1], [1, 1]])
def test_one_and_two_step_inputs(lengths, spec_for, batch_for):
    m = MODELS.get("cnn_bilstm").build({}, n_classes=3, input_spec=spec_for("frames"))
    x, mask = batch_for("frames", lengths)
    for train in (True, False):
        m.train(train)
        out = m(x, mask)
        assert out.shape == (len(lengths), 3) and torch.isfinite(out).all()


def test_pooling_halves_time_rounding_up_and_stops_at_one(spec_for):
    m = MODELS.get("cnn_bilstm").build({}, n_classes=2, input_spec=spec_for("frames")).eval()
    h = torch.zeros(1, 6, 5)
    mask = torch.tensor([[True] * 4 + [False]])
    steps = []
    for block in m.blocks:
        h, mask = block(h, mask)
        steps.append((h.shape[-1], int(mask.sum())))
    assert steps == [(3, 2), (2, 1), (1, 1), (1, 1), (1, 1)]


def test_masked_batchnorm_ignores_padding():
    bn = MaskedBatchNorm1d(1, momentum=1.0)
    x = torch.tensor([[[1.0, 3.0, 100.0]]])
    mask = torch.tensor([[True, True, False]])
    y = bn(x, mask)
    assert torch.allclose(y[0, 0, :2], torch.tensor([-1.0, 1.0]), atol=1e-4)
    assert bn.running_mean.item() == pytest.approx(2.0) and bn.running_var.item() == pytest.approx(2.0)
