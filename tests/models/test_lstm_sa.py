"""LSTM self-attention: the 21-bit decoding table, the architecture each gene selects, the real widths."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from emotune.exceptions import ConfigError  # noqa: E402
from emotune.models import MODELS, GA21_SPACE, LstmSaConfig, decode_ga21, encode_ga21  # noqa: E402
from emotune.models.attention import MultiHeadSelfAttention, n_heads  # noqa: E402
from emotune.models.lstm_sa import LstmSelfAttention  # noqa: E402
from emotune.models.lstm_sa_config import GA21_BITS, GA21_GENES, LSTM_SA_SPACE  # noqa: E402
from emotune.search.spaces import Bits  # noqa: E402

SMALL = {"d_model": 16, "head_dim": 8, "n_layers": 1, "replications": 0}


# --- the 21-bit table ------------------------------------------------------------------
def test_chromosome_has_21_bits_in_the_papers_gene_order_and_widths():
    widths = {name: g.n for name, g in GA21_GENES.items()}
    assert widths == {
        "direction": 1,
        "n_layers": 2,
        "attention": 2,
        "d_model": 2,
        "head_dim": 2,
        "dropout": 3,
        "pre_classifier": 2,
        "shape_factor": 2,
        "activation": 2,
        "replications": 2,
        "tokenizer": 1,
    }
    assert GA21_BITS == 21 and GA21_SPACE.dim == 21
    assert GA21_SPACE.bits_per_dim() == [1] * 21
    assert all(isinstance(p, Bits) for p in GA21_SPACE.params.values())
    assert MODELS.get("lstm_sa").presets["lstm_sa_ga21"] is GA21_SPACE


def test_decoding_tables():
    t = {name: list(g.decode_table) for name, g in GA21_GENES.items()}
    assert t["direction"] == ["uni", "bi"]
    assert t["n_layers"] == [1, 2, 3, 4]
    assert t["attention"] == ["none", "before", "after", "both"]
    assert t["d_model"] == [300, 512, 768, 1024]
    assert t["head_dim"] == [32, 64, 128, 256]
    assert t["dropout"] == [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4]
    assert t["pre_classifier"] == ["ffnn", "pooling", "lstm", "bilstm"]
    assert t["shape_factor"] == [0.0, 0.5, 1.0, 1.5]
    assert t["activation"] == ["relu", "tanh", "leaky_relu", "elu"]
    assert t["replications"] == [0, 1, 2, 3]
    assert t["tokenizer"] == ["blankspace", "wordpiece"]


def test_all_zeros_decodes_to_the_first_value_of_every_gene():
    assert decode_ga21("0" * 21) == LstmSaConfig(
        direction="uni",
        n_layers=1,
        attention="none",
        d_model=300,
        head_dim=32,
        dropout=0.05,
        pre_classifier="ffnn",
        shape_factor=0.0,
        activation="relu",
        replications=0,
        tokenizer="blankspace",
    )


def test_all_ones_decodes_to_the_last_value_of_every_gene():
    assert decode_ga21([1] * 21) == LstmSaConfig(
        direction="bi",
        n_layers=4,
        attention="both",
        d_model=1024,
        head_dim=256,
        dropout=0.4,
        pre_classifier="bilstm",
        shape_factor=1.5,
        activation="elu",
        replications=3,
        tokenizer="wordpiece",
    )


def test_a_mixed_chromosome_decodes_gene_by_gene_msb_first():
    # dir=1 layers=01 attn=11 d=01 head=01 drop=011 pre=01 shape=10 act=00 rep=01 tok=1
    cfg = decode_ga21("1 01 11 01 01 011 01 10 00 01 1")
    assert cfg == LstmSaConfig(
        direction="bi",
        n_layers=2,
        attention="both",
        d_model=512,
        head_dim=64,
        dropout=0.2,
        pre_classifier="pooling",
        shape_factor=1.0,
        activation="relu",
        replications=1,
        tokenizer="wordpiece",
    )
    assert cfg.n_blocks == 2 and cfg.classifier_hidden == 512 and n_heads(cfg.d_model, cfg.head_dim) == 8
    # dir=0 layers=10 attn=01 d=10 head=10 drop=110 pre=10 shape=01 act=11 rep=10 tok=0
    cfg = decode_ga21("0_10_01_10_10_110_10_01_11_10_0")
    assert (cfg.direction, cfg.n_layers, cfg.attention, cfg.d_model, cfg.head_dim) == ("uni", 3, "before", 768, 128)
    assert (cfg.dropout, cfg.pre_classifier, cfg.shape_factor, cfg.activation) == (0.35, "lstm", 0.5, "elu")
    assert (cfg.replications, cfg.tokenizer) == (2, "blankspace")
    assert cfg.classifier_hidden == 384 and n_heads(768, 128) == 6


def test_decode_accepts_arrays_and_params_and_round_trips():
    rng = np.random.default_rng(1)
    for _ in range(20):
        bits = rng.integers(0, 2, 21)
        cfg = decode_ga21(bits)
        assert np.array_equal(encode_ga21(cfg), bits)
        assert decode_ga21(GA21_SPACE.decode(np.where(bits == 1, 0.75, 0.25))) == cfg
        assert decode_ga21({**cfg.to_dict(), "lr": 1e-3}) == cfg


def test_bad_chromosomes_are_config_errors():
    with pytest.raises(ConfigError, match="21 bits"):
        decode_ga21("0101")
    with pytest.raises(ConfigError, match="0 and 1"):
        decode_ga21([2] * 21)
    with pytest.raises(ConfigError, match="only 0, 1"):
        decode_ga21("x" * 21)


def test_config_validates_its_fields():
    with pytest.raises(ConfigError, match="attention"):
        LstmSaConfig(attention="middle")
    with pytest.raises(ConfigError, match="n_layers"):
        LstmSaConfig(n_layers=0)
    with pytest.raises(ConfigError, match="dropout"):
        LstmSaConfig(dropout=1.0)
    with pytest.raises(ConfigError, match="even"):
        LstmSaConfig(direction="bi", d_model=15)


# --- the head rule ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "d_model,head_dim,heads", [(300, 32, 9), (300, 64, 4), (300, 128, 2), (300, 256, 1), (512, 64, 8), (64, 128, 1)]
)
def test_heads_are_d_model_floordiv_head_dim_at_least_one(d_model, head_dim, heads):
    attn = MultiHeadSelfAttention(d_model, head_dim)
    assert attn.heads == heads
    assert attn.qkv.out_features == 3 * heads * head_dim and attn.out.out_features == d_model


# --- what each gene builds -------------------------------------------------------------
def _model(**kw) -> LstmSelfAttention:
    return MODELS.get("lstm_sa").build({**SMALL, **kw}, n_classes=3, input_spec=_tokens())


def _tokens():
    from emotune.models import InputSpec

    return InputSpec("tokens", vocab_size=30, embedding_dim=8)


@pytest.mark.parametrize("attention,before,after", [("none", 0, 0), ("before", 1, 0), ("after", 0, 1), ("both", 1, 1)])
def test_attention_position(attention, before, after):
    m = _model(attention=attention, replications=1)
    assert len(m.blocks) == 2
    for block in m.blocks:
        assert (block.attn_before is not None, block.attn_after is not None) == (bool(before), bool(after))
    assert (m.input.positions is not None) == (attention != "none")


def test_direction_layers_and_replications():
    m = _model(direction="bi", n_layers=3, replications=2)
    assert len(m.blocks) == 3
    lstm = m.blocks[0].lstm.lstm
    assert lstm.bidirectional and lstm.num_layers == 3 and lstm.hidden_size == 8
    m = _model(direction="uni", n_layers=2)
    lstm = m.blocks[0].lstm.lstm
    assert not lstm.bidirectional and lstm.num_layers == 2 and lstm.hidden_size == 16


@pytest.mark.parametrize("shape_factor,hidden", [(0.0, 0), (0.5, 8), (1.0, 16), (1.5, 24)])
def test_shape_factor_sets_the_hidden_classification_layer(shape_factor, hidden):
    linears = [m for m in _model(shape_factor=shape_factor).head if isinstance(m, torch.nn.Linear)]
    assert [lin.out_features for lin in linears] == ([hidden, 3] if hidden else [3])


@pytest.mark.parametrize(
    "activation,cls", [("relu", "ReLU"), ("tanh", "Tanh"), ("leaky_relu", "LeakyReLU"), ("elu", "ELU")]
)
def test_activation(activation, cls):
    m = _model(activation=activation, shape_factor=1.0, pre_classifier="ffnn")
    assert type(m.head[2]).__name__ == cls and type(m.reduce.ff[1]).__name__ == cls


def test_pretrained_embedding_initialises_and_is_trained():
    from emotune.models import InputSpec

    table = np.random.default_rng(0).normal(size=(30, 8)).astype(np.float32)
    spec = InputSpec("tokens", vocab_size=30, embedding_dim=8, pretrained=table)
    m = MODELS.get("lstm_sa").build(SMALL, n_classes=2, input_spec=spec)
    w = m.input.embedding.weight
    assert torch.allclose(w[1:], torch.from_numpy(table[1:])) and torch.all(w[0] == 0)
    assert w.requires_grad
    assert m.input.projection.in_features == 8 and m.input.projection.out_features == 16


@pytest.mark.parametrize("d_model", [300, 512, 768, 1024])
def test_the_papers_real_widths_give_b_by_n_classes(d_model):
    cfg = {"d_model": d_model, "head_dim": 128, "attention": "both", "direction": "bi", "n_layers": 1}
    m = MODELS.get("lstm_sa").build(cfg, n_classes=3, input_spec=_tokens()).eval()
    x = torch.tensor([[3, 4, 5], [6, 0, 0]])
    with torch.no_grad():
        assert m(x, x != 0).shape == (2, 3)


def test_real_chromosome_builds_and_runs():
    cfg = decode_ga21("1 01 11 00 11 011 11 01 01 01 0")  # bi, 2 layers, both, d=300, head 256, bilstm, 2 blocks
    m = LstmSelfAttention(cfg, n_classes=2, input_spec=_tokens()).eval()
    x = torch.tensor([[3, 4, 5, 6]])
    with torch.no_grad():
        assert m(x).shape == (1, 2)  # mask defaults to the non-pad tokens


def test_default_space_is_cpu_sized_and_carries_training_keys():
    p = LSTM_SA_SPACE.params
    assert max(p["d_model"].choices) <= 128 and p["n_layers"].high <= 2
    assert {"lr", "batch_size", "weight_decay", "dropout"} <= set(p)
