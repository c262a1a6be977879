"""MLP: layer layout from the space keys, explicit hidden sizes, vector and pooled-frame inputs."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from emotune.exceptions import ConfigError  # noqa: E402
from emotune.models import MODELS  # noqa: E402


def _widths(model) -> list[int]:
    return [m.out_features for m in model.net if isinstance(m, torch.nn.Linear)]


def test_layers_from_n_layers_and_hidden_size(spec_for):
    params = {"n_layers": 3, "hidden_size": 10, "activation": "tanh"}
    m = MODELS.get("mlp").build(params, n_classes=4, input_spec=spec_for("vector"))
    assert _widths(m) == [10, 10, 10, 4]
    assert any(isinstance(x, torch.nn.Tanh) for x in m.net)


def test_explicit_hidden_sizes_and_a_linear_model(spec_for):
    vector = spec_for("vector")
    assert _widths(MODELS.get("mlp").build({"hidden_sizes": [16, 4]}, n_classes=2, input_spec=vector)) == [16, 4, 2]
    assert _widths(MODELS.get("mlp").build({"n_layers": 0}, n_classes=2, input_spec=vector)) == [2]


def test_frames_are_mean_pooled_over_real_steps(spec_for, batch_for):
    m = MODELS.get("mlp").build({"hidden_size": 8}, n_classes=3, input_spec=spec_for("frames")).eval()
    x, mask = batch_for("frames", [4, 2])
    pooled = torch.stack([x[0, :4].mean(0), x[1, :2].mean(0)])
    assert torch.allclose(m(x, mask), m.net(pooled), atol=1e-6)


def test_bad_values_name_the_key(spec_for):
    with pytest.raises(ConfigError, match="dropout"):
        MODELS.get("mlp").build({"dropout": 1.5}, n_classes=2, input_spec=spec_for("vector"))
    with pytest.raises(ConfigError, match="hidden_sizes"):
        MODELS.get("mlp").build({"hidden_sizes": [0]}, n_classes=2, input_spec=spec_for("vector"))
