"""The contract every registered model keeps: shapes, masking, every space value, training, errors."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from emotune._registry import Registry  # noqa: E402
from emotune.exceptions import ConfigError, RegistryError  # noqa: E402
from emotune.models import MODELS, TRAINER_KEYS, InputSpec, ModelSpec, build_model  # noqa: E402
from emotune.search.spaces import Bits, Categorical, Int, Space  # noqa: E402

TINY: dict[str, dict] = {
    "lstm_sa": {"d_model": 16, "head_dim": 8, "n_layers": 1, "replications": 0, "dropout": 0.1},
    "sa_lstm": {"hidden_size": 8, "num_layers": 1, "dropout": 0.1},
    "bilstm_tcsa": {"hidden_size": 8, "n_filters": 8, "dropout": 0.1},
    "cnn_bilstm": {"filters": (8, 8, 8, 8, 8), "lstm_units": 8, "dense_units": 8, "dropout": 0.1},
    "mlp": {"hidden_size": 8, "n_layers": 1, "dropout": 0.1},
    "linear": {"dropout": 0.1},
}
NAMES = ["bilstm_tcsa", "cnn_bilstm", "linear", "lstm_sa", "mlp", "sa_lstm"]
# models that only take a pretrained encoder's states (384-d MiniLM), with their own contract tests
PRETRAINED_INPUT = {"minilm_ft": "tests/models/test_minilm_ft.py"}
# models whose input has a fixed structure (modality blocks + flags, square crops, motion-capture frames),
# with their own contract tests
OWN_CONTRACT = {"fusion_mlp": "tests/models/test_fusion.py", "face_cnn": "tests/models/test_face_mocap_cnn.py",
                "mocap_cnn": "tests/models/test_face_mocap_cnn.py"}
# the real lstm_sa widths (300..1024) are tested once, in test_lstm_sa.py
BIG_VALUES = {("lstm_sa", "lstm_sa_ga21", "d_model")}


def _values(p) -> list:
    if isinstance(p, Categorical):
        return list(p.choices)
    if isinstance(p, Bits):
        return list(p.decode_table) if p.decode_table is not None else list(range(2**p.n))
    if isinstance(p, Int) and p.n_values <= 4:
        return list(range(p.low, p.high + 1, p.step))
    return [p.low, p.high]


def _space_values() -> list:
    cases = []
    for name in NAMES:
        spec = MODELS.get(name)
        spaces = {"default": spec.default_space, **spec.presets}
        for preset, space in spaces.items():
            for key, p in space.params.items():
                if key in TRAINER_KEYS or (name, preset, key) in BIG_VALUES:
                    continue
                for v in _values(p):
                    cases.append(pytest.param(name, key, v, id=f"{name}-{preset}-{key}={v}"))
    return cases


def test_every_model_is_registered_with_a_spec():
    assert MODELS.names() == sorted(NAMES + list(PRETRAINED_INPUT) + list(OWN_CONTRACT))
    for name in NAMES:
        spec = MODELS.get(name)
        assert isinstance(spec, ModelSpec) and spec.name == name and spec.description
        assert isinstance(spec.default_space, Space)
        assert "lr" in spec.default_space.params and "batch_size" in spec.default_space.params
        assert "dropout" in spec.default_space.params
        assert spec.default_space.params["lr"].log
        assert spec.space() is spec.default_space


def test_trainer_keys_are_the_documented_ones():
    assert TRAINER_KEYS == {"lr", "batch_size", "weight_decay", "optimizer", "epochs"}


def test_weight_decay_where_searched_is_a_log_float():
    for name in NAMES:
        p = MODELS.get(name).default_space.params.get("weight_decay")
        if p is None:
            continue
        assert p.log
        if name != "cnn_bilstm":  # there it reaches the convolutions only and must cover the paper's 0.02
            assert (p.low, p.high) == (1e-6, 1e-2)


def test_registry_refuses_a_duplicate_model():
    with pytest.raises(RegistryError, match="already registered"):
        MODELS.add("mlp", MODELS.get("mlp"))
    assert isinstance(MODELS, Registry)


@pytest.mark.parametrize("name,key,value", _space_values())
def test_every_space_value_builds_and_gives_b_by_n_classes(name, key, value, spec_for, batch_for):
    spec = MODELS.get(name)
    params = {**TINY[name], key: value}
    kind = spec.input_kinds[0]
    model = spec.build(params, n_classes=3, input_spec=spec_for(kind)).eval()
    x, mask = batch_for(kind, [5, 2])
    with torch.no_grad():
        out = model(x, mask)
    assert out.shape == (2, 3) and out.dtype == torch.float32
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", NAMES)
def test_sampled_default_configs_build_for_every_input_kind(name, spec_for, batch_for):
    spec = MODELS.get(name)
    rng = np.random.default_rng(0)
    for i in range(2):
        params = spec.default_space.sample(rng)
        for kind in spec.input_kinds:
            model = spec.build(params, n_classes=4, input_spec=spec_for(kind)).eval()
            x, mask = batch_for(kind, [4, 1, 3], seed=i)
            with torch.no_grad():
                assert model(x, mask).shape == (3, 4)


@pytest.mark.parametrize("name", NAMES)
def test_padding_content_and_amount_do_not_change_the_output(name, spec_for, batch_for):
    spec = MODELS.get(name)
    for kind in spec.input_kinds:
        if kind == "vector":
            continue
        torch.manual_seed(0)
        model = spec.build(TINY[name], n_classes=3, input_spec=spec_for(kind)).eval()
        x, mask = batch_for(kind, [7, 3, 1], T=9)
        with torch.no_grad():
            ref = model(x, mask)
            noisy = x.clone()
            noisy[~mask] = 7 if kind == "tokens" else 100.0
            assert torch.allclose(model(noisy, mask), ref, atol=1e-5)
            for b, n in enumerate([7, 3, 1]):  # the sample alone, without padding
                alone = model(x[b : b + 1, :n], mask[b : b + 1, :n])
                assert torch.allclose(alone, ref[b : b + 1], atol=1e-5), (kind, b)


@pytest.mark.parametrize("name", NAMES)
def test_a_few_adam_steps_reduce_the_loss_on_a_separable_problem(name, spec_for):
    spec = MODELS.get(name)
    kind = spec.input_kinds[0]
    g = torch.Generator().manual_seed(0)
    y = torch.arange(16) % 2
    lengths = torch.randint(2, 7, (16,), generator=g)
    mask = torch.arange(6).unsqueeze(0) < lengths.unsqueeze(1)
    if kind == "tokens":  # class 0 uses ids 1..9, class 1 ids 10..19
        x = torch.randint(1, 10, (16, 6), generator=g) + 9 * y.unsqueeze(1)
        x[~mask] = 0
    elif kind == "frames":
        x = torch.randn(16, 6, 6, generator=g) + 2.0 * (2 * y - 1).view(-1, 1, 1).float()
        x[~mask] = 0.0
    else:
        x, mask = torch.randn(16, 6, generator=g) + 2.0 * (2 * y - 1).view(-1, 1).float(), None
    torch.manual_seed(0)
    model = spec.build({**TINY[name], "dropout": 0.0}, n_classes=2, input_spec=spec_for(kind))
    loss_fn = torch.nn.CrossEntropyLoss()

    def eval_loss() -> float:
        model.eval()
        with torch.no_grad():
            return float(loss_fn(model(x, mask), y))

    before = eval_loss()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(25):
        opt.zero_grad()
        loss_fn(model(x, mask), y).backward()
        opt.step()
    after = eval_loss()
    assert after < 0.5 * before, (before, after)


@pytest.mark.parametrize("name", NAMES)
def test_trainer_keys_are_ignored_and_unknown_keys_rejected(name, spec_for):
    spec = MODELS.get(name)
    input_spec = spec_for(spec.input_kinds[0])
    params = {**TINY[name], "lr": 0.1, "batch_size": 8, "weight_decay": 1e-4, "optimizer": "adam", "epochs": 3}
    spec.build(params, n_classes=2, input_spec=input_spec)
    with pytest.raises(ConfigError, match="unknown parameters"):
        spec.build({**TINY[name], "hiden_size": 3}, n_classes=2, input_spec=input_spec)
    with pytest.raises(ConfigError, match="n_classes"):
        spec.build(TINY[name], n_classes=1, input_spec=input_spec)


@pytest.mark.parametrize("name", NAMES)
def test_an_unsupported_input_kind_is_a_config_error(name, spec_for):
    spec = MODELS.get(name)
    for kind in ("tokens", "frames", "vector"):
        if kind not in spec.input_kinds:
            with pytest.raises(ConfigError, match="accepts inputs of kind"):
                spec.build(TINY[name], n_classes=2, input_spec=spec_for(kind))


def test_build_model_by_name(spec_for, batch_for):
    model = build_model("mlp", {"hidden_size": 4}, n_classes=5, input_spec=spec_for("vector"))
    x, _ = batch_for("vector", [1, 1])
    assert model(x, None).shape == (2, 5)
    with pytest.raises(RegistryError, match="unknown model"):
        build_model("nope", n_classes=2, input_spec=spec_for("vector"))


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ConfigError, match="lstm_sa_ga21"):
        MODELS.get("lstm_sa").space("ga")


def test_default_spaces_round_trip_through_json():
    for name in NAMES:
        spec = MODELS.get(name)
        for space in [spec.default_space, *spec.presets.values()]:
            assert Space.loads(space.dumps()).to_json() == space.to_json()


def test_masks_must_be_right_padded_and_non_empty(spec_for, batch_for):
    from emotune.exceptions import DatasetError

    model = MODELS.get("sa_lstm").build(TINY["sa_lstm"], n_classes=2, input_spec=spec_for("frames"))
    x, mask = batch_for("frames", [3, 2])
    with pytest.raises(DatasetError, match="right-padded"):
        model(x, mask.flip(1))
    with pytest.raises(DatasetError, match="at least one real step"):
        model(x, torch.zeros_like(mask))


def test_input_spec_is_validated():
    with pytest.raises(ConfigError, match="kind"):
        InputSpec("pixels", feature_dim=3)
    with pytest.raises(ConfigError, match="vocab_size"):
        InputSpec("tokens", embedding_dim=3)
    with pytest.raises(ConfigError, match="feature_dim"):
        InputSpec("frames")
    with pytest.raises(ConfigError, match="pretrained"):
        InputSpec("tokens", vocab_size=4, embedding_dim=3, pretrained=np.zeros((4, 2)))
