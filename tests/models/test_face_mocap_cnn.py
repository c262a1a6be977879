"""face_cnn (small ResNet on pixels) and mocap_cnn (IEMOCAP motion-capture CNN): shapes, masks, errors, a quick fit."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from emotune.exceptions import ConfigError  # noqa: E402
from emotune.models import InputSpec, build_model  # noqa: E402


def test_face_cnn_reads_square_crops_and_learns_a_toy_task():
    torch.manual_seed(0)
    spec = InputSpec(kind="vector", feature_dim=24 * 24)
    model = build_model("face_cnn", {"base_width": 8, "blocks": 1, "flip": False}, n_classes=2, input_spec=spec)
    x = torch.randn(32, 24 * 24) * 0.1
    y = torch.arange(32) % 2
    x[y == 1, : 24 * 12] += 1.0  # class 1: bright top half
    assert model(x).shape == (32, 2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(30):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    model.eval()
    assert (model(x).argmax(1) == y).float().mean() > 0.9
    with pytest.raises(ConfigError, match="side\\*side"):
        build_model("face_cnn", {}, n_classes=2, input_spec=InputSpec(kind="vector", feature_dim=100 + 1))


def test_mocap_cnn_shapes_and_padding_mask():
    torch.manual_seed(0)
    spec = InputSpec(kind="frames", feature_dim=6, max_len=200)
    model = build_model("mocap_cnn", {"dense_units": 16}, n_classes=4, input_spec=spec).eval()
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv1d)]
    assert [c.out_channels for c in convs] == [128, 128, 64, 64, 32, 32]
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in model.modules()) == 6
    x = torch.randn(3, 200, 6)
    assert model(x).shape == (3, 4)
    mask = torch.ones(3, 200, dtype=torch.bool)
    mask[:, 120:] = False
    noisy = x.clone()
    noisy[:, 120:] = 50.0
    torch.testing.assert_close(model(x, mask), model(noisy, mask))
