"""BiLSTM-TCSA: the paper's space, the residual and TextCNN layout, short sequences, window masking."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from emotune.models import MODELS  # noqa: E402
from emotune.models.bilstm_tcsa import TextCnn  # noqa: E402
from emotune.search.spaces import Categorical, Float, Int  # noqa: E402

SMALL = {"hidden_size": 8, "n_filters": 4}


def test_space_is_exactly_the_papers_with_dropout_capped():
    p = MODELS.get("bilstm_tcsa").default_space.params
    assert set(p) == {"dropout", "hidden_size", "lr", "batch_size", "stride"}
    assert p["dropout"] == Float(0.0, 0.9)
    assert p["hidden_size"] == Int(50, 200)
    assert p["lr"] == Float(1e-4, 1e-2, log=True)
    assert p["batch_size"] == Categorical([16, 32, 64, 128])
    assert p["stride"] == Categorical([1, 2, 3, 4])


def test_layout(spec_for):
    m = MODELS.get("bilstm_tcsa").build({**SMALL, "stride": 3}, n_classes=4, input_spec=spec_for("tokens"))
    assert m.lstm1.lstm.bidirectional and m.lstm2.lstm.input_size == 16  # layer 2 reads layer 1's 2H outputs
    assert [c.kernel_size[0] for c in m.cnn.convs] == [3, 4, 5]
    assert all(c.stride[0] == 3 for c in m.cnn.convs)
    assert m.head.in_features == 3 * 4


def test_residual_adds_layer_one_to_layer_two(spec_for, batch_for):
    m = MODELS.get("bilstm_tcsa").build(SMALL, n_classes=2, input_spec=spec_for("frames")).eval()
    seen = {}
    m.lstm1.register_forward_hook(lambda mod, i, o: seen.__setitem__("h1", o[0]))
    m.lstm2.register_forward_hook(lambda mod, i, o: seen.__setitem__("h2", o[0]))
    m.cnn.register_forward_hook(lambda mod, i, o: seen.__setitem__("r", i[0]))
    x, mask = batch_for("frames", [4, 2])
    m(x, mask)
    assert torch.allclose(seen["r"], seen["h1"] + seen["h2"])


@pytest.mark.parametrize("stride", [1, 2, 3, 4])
@pytest.mark.parametrize("kind", ["tokens", "frames"])
def test_sequences_of_one_and_two_steps(stride, kind, spec_for, batch_for):
    m = MODELS.get("bilstm_tcsa").build({**SMALL, "stride": stride}, n_classes=3, input_spec=spec_for(kind)).eval()
    for lengths in ([1], [2], [2, 1]):
        x, mask = batch_for(kind, lengths)
        with torch.no_grad():
            out = m(x, mask)
        assert out.shape == (len(lengths), 3) and torch.isfinite(out).all()


def test_textcnn_pools_only_windows_inside_the_sample():
    cnn = TextCnn(1, 1, kernel_sizes=(2,), stride=1)
    with torch.no_grad():
        cnn.convs[0].weight.fill_(1.0)
        cnn.convs[0].bias.zero_()
    h = torch.tensor([[1.0, 2.0, 0.0, 0.0], [1.0, 2.0, 3.0, 0.0]]).unsqueeze(-1)  # (B, T, 1)
    out = cnn(h, torch.tensor([2, 3]))
    assert out.shape == (2, 1, 1)
    assert out[:, 0, 0].tolist() == [3.0, 5.0]  # windows (1+2) and max(1+2, 2+3)
    short = cnn(torch.tensor([[[4.0]]]), torch.tensor([1]))  # padded to the kernel: (4 + 0)
    assert short.item() == 4.0
