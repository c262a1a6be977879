"""Fusion: late weights on the simplex (Aquila), equal weights, stacking, the intermediate model, early alignment."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from emotune.exceptions import ConfigError  # noqa: E402
from emotune.models import InputSpec, build_model  # noqa: E402
from emotune.models.fusion import (  # noqa: E402
    aquila_weights,
    early_fusion_frames,
    late_fusion,
    stacking_fit_predict,
)


def _toy(n=300, seed=0):
    """Three classes; modality A is nearly perfect, modality B is noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    good = np.full((n, 3), 0.05)
    good[np.arange(n), y] = 0.9
    flip = rng.random(n) < 0.1
    good[flip] = np.roll(good[flip], 1, axis=1)
    noise = rng.dirichlet(np.ones(3), size=n)
    return y, good, noise


def test_late_fusion_rows_sum_to_one_and_respect_masks():
    y, a, b = _toy(10)
    fused = late_fusion([a, b], [3.0, 1.0])
    np.testing.assert_allclose(fused.sum(axis=1), 1.0)
    np.testing.assert_allclose(fused, 0.75 * a + 0.25 * b)
    present = np.ones((10, 2), bool)
    present[0, 1] = False  # sample 0 has only modality A
    present[1] = False  # sample 1 has nothing
    fused = late_fusion([a, b], [1.0, 1.0], present)
    np.testing.assert_allclose(fused[0], a[0])
    np.testing.assert_allclose(fused[1], 1 / 3)
    with pytest.raises(ConfigError):
        late_fusion([a, b], None, np.ones((10, 3), bool))


def test_aquila_weights_lie_on_the_simplex_and_beat_the_worst_modality():
    y, good, noise = _toy()
    w = aquila_weights([noise, good], y, budget=120, seed=1)
    assert w.shape == (2,) and np.all(w >= 0) and w.sum() == pytest.approx(1.0)
    assert w[1] > w[0], w  # the informative modality gets the larger weight
    acc = lambda p: np.mean(p.argmax(1) == y)  # noqa: E731
    fused = late_fusion([noise, good], w)
    assert acc(fused) > acc(noise) + 0.3
    assert acc(fused) >= acc(late_fusion([noise, good])) - 1e-9
    w_f1 = aquila_weights([noise, good], y, objective="macro_f1", budget=60, seed=1)
    assert w_f1.sum() == pytest.approx(1.0)


def test_stacking_learns_to_trust_the_good_modality():
    y, good, noise = _toy(400)
    proba = stacking_fit_predict([good[:300], noise[:300]], y[:300], [good[300:], noise[300:]])
    assert proba.shape == (100, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert np.mean(proba.argmax(1) == y[300:]) > 0.8


def test_early_fusion_aligns_streams_to_a_common_length():
    audio = np.arange(20, dtype=np.float32).reshape(10, 2)  # 10 frames
    face = np.array([[1.0], [2.0], [3.0], [4.0], [5.0]], np.float32)  # 5 frames
    clip = np.array([7.0, 8.0, 9.0], np.float32)  # one vector per clip
    x = early_fusion_frames([audio, face, clip])
    assert x.shape == (10, 2 + 1 + 3)
    np.testing.assert_array_equal(x[:, :2], audio)
    np.testing.assert_array_equal(x[:, 2], [1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
    np.testing.assert_array_equal(x[:, 3:], np.tile(clip, (10, 1)))
    assert early_fusion_frames([audio, face], length=4).shape == (4, 3)


def _fusion_model(dropout=0.0):
    spec = InputSpec(kind="vector", feature_dim=5 + 3 + 2)
    return build_model("fusion_mlp", {"modality_dims": [5, 3], "hidden_size": 8, "fusion_size": 8,
                                      "modality_dropout": dropout}, n_classes=4, input_spec=spec)


def test_intermediate_fusion_shapes_and_missing_modality_mask():
    torch.manual_seed(0)
    model = _fusion_model().eval()
    x = torch.randn(6, 10)
    x[:, 8:] = 1.0
    assert model(x).shape == (6, 4)
    # a missing modality: its block must not matter once its flag is 0
    x_missing = x.clone()
    x_missing[:, 9] = 0.0
    changed = x_missing.clone()
    changed[:, 5:8] = torch.randn(6, 3) * 100
    torch.testing.assert_close(model(x_missing), model(changed))
    assert not torch.allclose(model(x), model(x_missing))
    with pytest.raises(ConfigError, match="modality_dims"):
        build_model("fusion_mlp", {}, n_classes=4, input_spec=InputSpec(kind="vector", feature_dim=10))
    with pytest.raises(ConfigError, match="sum\\(modality_dims\\)"):
        build_model("fusion_mlp", {"modality_dims": [5, 4]}, n_classes=4, input_spec=InputSpec(kind="vector", feature_dim=10))


def test_modality_dropout_only_in_training_and_never_drops_every_modality():
    torch.manual_seed(0)
    model = _fusion_model(dropout=0.49)
    x = torch.randn(64, 10)
    x[:, 8:] = 1.0
    x[::2, 9] = 0.0  # half the samples have only the first modality: it must never be dropped
    seen = []
    orig = model.head.forward

    def spy(h):
        seen.append(h[:, -2:].detach().clone())
        return orig(h)

    model.head.forward = spy
    model.train()
    model(x)
    flags = seen[-1]
    assert (flags.sum(dim=1) >= 1).all()
    assert (flags[1::2].sum(dim=1) == 1).any(), "some two-modality samples must lose one modality in training"
    model.eval()
    model(x)
    torch.testing.assert_close(seen[-1], x[:, 8:])
