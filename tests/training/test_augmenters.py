"""GAN-perturbed training sequences: shapes, labels kept, d_p reaches the generator, hooks wired."""

import numpy as np
import pytest
import torch

from emotune.exceptions import ConfigError
from emotune.training import TensorSplit, TrainConfig, train
from emotune.training.augmenters import Discriminator, GanAugmenter, Generator, augmenters_from_params


def _split(n=40, t=7, f=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(2, t + 1, (n,), generator=g)
    mask = torch.arange(t)[None] < lengths[:, None]
    y = torch.arange(n) % 3
    x = torch.randn(n, t, f, generator=g) + y[:, None, None].float()  # class-dependent frames
    return TensorSplit(x * mask[..., None], y, mask)


def test_perturbed_samples_have_the_shape_mask_and_label_of_their_sources():
    split = _split()
    aug = GanAugmenter(0.3, ratio=0.25, epochs=2, seed=1)
    out = aug.on_train_data(split)
    n, k = len(split), 10
    assert out.x.shape == (n + k, 7, 12) and out.mask.shape == (n + k, 7) and out.y.shape == (n + k,)
    assert torch.equal(out.x[:n], split.x) and torch.equal(out.y[:n], split.y)  # originals untouched
    src = torch.as_tensor(aug.sources)
    assert torch.equal(out.y[n:], split.y[src]) and torch.equal(out.mask[n:], split.mask[src])
    fake = out.x[n:]
    assert torch.all(fake[~out.mask[n:]] == 0)  # padding stays zero
    assert not torch.allclose(fake, split.x[src])  # really perturbed
    # ... but closer to its own source than to other samples on average
    d_own = (fake - split.x[src]).flatten(1).norm(dim=1).mean()
    d_other = (fake - split.x[src.roll(1)]).flatten(1).norm(dim=1).mean()
    assert d_own < d_other


@pytest.mark.parametrize("d_p", [0.1, 0.7])
def test_d_p_reaches_the_generator_and_sets_the_spread(d_p):
    aug = augmenters_from_params("gan", {"gan_dp": d_p}, seed=0)[0]
    assert isinstance(aug, GanAugmenter) and aug.d_p == d_p
    aug.on_train_data(_split())
    assert aug.generator.d_p == d_p
    assert any(isinstance(m, torch.nn.Dropout) and m.p == d_p for m in aug.generator.modules())


def test_d_p_changes_the_perturbations():
    split = _split()
    out = []
    for d_p in (0.05, 0.9):
        aug = GanAugmenter(d_p, epochs=1, seed=0)
        out.append(aug.on_train_data(split).x[len(split):])
    assert not torch.allclose(out[0], out[1])


def test_same_seed_same_augmented_data():
    a = GanAugmenter(0.4, epochs=1, seed=3).on_train_data(_split())
    b = GanAugmenter(0.4, epochs=1, seed=3).on_train_data(_split())
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)


def test_generator_and_discriminator_shapes():
    x = torch.randn(4, 5, 12)
    mask = torch.tensor([[1, 1, 1, 0, 0]] * 4, dtype=torch.bool)
    g, d = Generator(12, d_p=0.5), Discriminator(12)
    assert g(x, mask, torch.randn(4, 5, g.noise_dim)).shape == (4, 5, 12)
    assert d(x, mask).shape == (4,)


def test_the_trainer_trains_on_the_augmented_split():
    from emotune.models import InputSpec, build_model

    split = _split()
    model = build_model("mlp", {"hidden_size": 8}, n_classes=3, input_spec=InputSpec("frames", feature_dim=12))
    seen = []

    class Spy:
        def on_train_begin(self, optimizer, total_steps):
            seen.append(total_steps)

    aug = GanAugmenter(0.5, ratio=0.5, epochs=1)
    train(model, split, None, TrainConfig(epochs=2, batch_size=10, plateau_patience=None), callbacks=[aug, Spy()])
    assert seen == [2 * 6]  # (40 + 20 perturbed) / 10 per batch, 2 epochs


def test_bad_inputs_and_values_are_config_errors():
    with pytest.raises(ConfigError, match=r"gan_dp .* must be in \(0, 1\)"):
        GanAugmenter(1.0)
    with pytest.raises(ConfigError, match="augment must be one of"):
        augmenters_from_params("mixup", {})
    tokens = TensorSplit(torch.randint(1, 9, (6, 4)), torch.tensor([0, 1] * 3), torch.ones(6, 4, dtype=torch.bool))
    with pytest.raises(ConfigError, match="needs float frames"):
        GanAugmenter(0.5).on_train_data(tokens)
    assert augmenters_from_params("none", {}) == [] and augmenters_from_params("fgm", {}) == []


def test_tune_searches_d_p_and_hands_it_to_the_hook():
    from emotune.experiments.config import TuneConfig
    from emotune.experiments.objective import training_hooks

    cfg = TuneConfig(features="minilm", augment="gan", progress=False)
    hooks = training_hooks(cfg, {"gan_dp": 0.25, "warmup": 0.1})
    assert [type(h).__name__ for h in hooks] == ["GanAugmenter", "LinearWarmup"] and hooks[0].d_p == 0.25
    assert training_hooks(TuneConfig(features="minilm"), {"gan_dp": 0.25}) == []
    with pytest.raises(ConfigError, match="augment must be none, fgm or gan"):
        TuneConfig(augment="mixup")
    assert np.isclose(hooks[1].fraction, 0.1)
