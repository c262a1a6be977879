"""The LSTM self-attention architecture as a typed config, its 21-bit GA encoding and its search spaces.

This module uses no PyTorch, only NumPy: a GA can decode its chromosomes without
building a model. The model itself lives in :mod:`emotune.models.lstm_sa`.

Paper: Parada et al., "Optimizing an LSTM Self-Attention Architecture for
Portuguese Sentiment Analysis Using a Genetic Algorithm", Appl. Sci. 15(11),
6336 (2025). A discrete GA searches one 21-bit chromosome of 11 genes.

The 21-bit chromosome (:data:`GA21_SPACE`, preset ``"lstm_sa_ga21"``). Genes
follow each other in this order; each gene is read as an unsigned integer, most
significant bit first, and that integer indexes the gene's table:

=====  ================  ====  ===========================================
bits   gene              width values for integer 0, 1, 2, ...
=====  ================  ====  ===========================================
0      direction         1     uni, bi
1-2    n_layers          2     1, 2, 3, 4 (stacked LSTM layers)
3-4    attention         2     none, before, after, both (the LSTM stack)
5-6    d_model           2     300, 512, 768, 1024
7-8    head_dim          2     32, 64, 128, 256
9-11   dropout           3     0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.35, 0.40
12-13  pre_classifier    2     ffnn, pooling, lstm, bilstm
14-15  shape_factor      2     0, 0.5, 1, 1.5 (x d_model; 0 = no hidden layer)
16-17  activation        2     relu, tanh, leaky_relu, elu
18-19  replications      2     0, 1, 2, 3 (extra copies of the encoder block)
20     tokenizer         1     blankspace, wordpiece (data side; model ignores)
=====  ================  ====  ===========================================

For example ``0 00 00 00 00 000 00 00 00 00 0`` is a unidirectional single
LSTM layer without attention, d_model 300, dropout 0.05, a feed-forward layer
before the classifier, no hidden classification layer, ReLU, one encoder block
and the blank-space tokenizer; ``1 01 11 01 01 011 01 10 00 01 1`` is a
bidirectional 2-layer LSTM with attention before and after it, d_model 512,
64-wide heads (8 heads), dropout 0.20, masked pooling, a 512-unit hidden layer,
ReLU, two encoder blocks and WordPiece.

The order of the values inside each table follows the order the paper lists
them in; the paper's exact bit assignment could not be checked here, so
results that must match its chromosomes bit for bit should check this table
against the paper.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping, Sequence

import numpy as np

from emotune.exceptions import ConfigError
from emotune.search.spaces import Bits, Categorical, Float, Int, Space

__all__ = [
    "LstmSaConfig",
    "DIRECTIONS",
    "ATTENTION_POSITIONS",
    "PRE_CLASSIFIERS",
    "LSTM_SA_ACTIVATIONS",
    "TOKENIZERS",
    "GA21_GENES",
    "GA21_BITS",
    "GA21_SPACE",
    "LSTM_SA_SPACE",
    "decode_ga21",
    "encode_ga21",
]

DIRECTIONS = ("uni", "bi")
ATTENTION_POSITIONS = ("none", "before", "after", "both")
PRE_CLASSIFIERS = ("ffnn", "pooling", "lstm", "bilstm")
LSTM_SA_ACTIVATIONS = ("relu", "tanh", "leaky_relu", "elu")
TOKENIZERS = ("blankspace", "wordpiece")


@dataclass(frozen=True)
class LstmSaConfig:
    """One LSTM self-attention architecture (see :class:`emotune.models.lstm_sa.LstmSelfAttention`).

    Args:
        direction: ``"uni"`` or ``"bi"`` (bidirectional LSTMs use ``d_model // 2``
            units per direction, so every block keeps width ``d_model``).
        n_layers: stacked LSTM layers in one encoder block (>= 1).
        attention: where multi-head self-attention sits relative to the LSTM
            stack: ``"none"``, ``"before"``, ``"after"`` or ``"both"``.
        d_model: width of the embeddings and of every encoder block.
        head_dim: width of one attention head; ``max(1, d_model // head_dim)`` heads.
        dropout: dropout rate in [0, 1).
        pre_classifier: how the sequence becomes one vector: ``"ffnn"``
            (position-wise Linear + activation, then masked mean), ``"pooling"``
            (masked mean), ``"lstm"`` (last state of a final LSTM) or
            ``"bilstm"`` (final states of a final BiLSTM).
        shape_factor: hidden classification layer of ``round(shape_factor *
            d_model)`` units; 0 means logits straight from the pooled vector.
        activation: ``"relu"``, ``"tanh"``, ``"leaky_relu"`` or ``"elu"``.
        replications: extra copies of the encoder block ([attention] LSTM
            stack [attention]); 0 means one block.
        tokenizer: ``"blankspace"`` or ``"wordpiece"``; read by the data side only.
    """

    direction: str = "bi"
    n_layers: int = 1
    attention: str = "after"
    d_model: int = 128
    head_dim: int = 32
    dropout: float = 0.2
    pre_classifier: str = "pooling"
    shape_factor: float = 0.5
    activation: str = "relu"
    replications: int = 0
    tokenizer: str = "blankspace"

    def __post_init__(self) -> None:
        for name, allowed in (
            ("direction", DIRECTIONS),
            ("attention", ATTENTION_POSITIONS),
            ("pre_classifier", PRE_CLASSIFIERS),
            ("activation", LSTM_SA_ACTIVATIONS),
            ("tokenizer", TOKENIZERS),
        ):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"LstmSaConfig.{name} must be one of {list(allowed)}, got {getattr(self, name)!r}")
        for name, low in (("n_layers", 1), ("d_model", 2), ("head_dim", 1), ("replications", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < low:
                raise ConfigError(f"LstmSaConfig.{name} must be an integer >= {low}, got {value!r}")
            object.__setattr__(self, name, int(value))
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ConfigError(f"LstmSaConfig.dropout must be in [0, 1), got {self.dropout!r}")
        if float(self.shape_factor) < 0:
            raise ConfigError(f"LstmSaConfig.shape_factor must be >= 0, got {self.shape_factor!r}")
        if self.direction == "bi" and self.d_model % 2:
            raise ConfigError(f"LstmSaConfig.d_model must be even for direction='bi', got {self.d_model}")
        object.__setattr__(self, "dropout", float(self.dropout))
        object.__setattr__(self, "shape_factor", float(self.shape_factor))

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "LstmSaConfig":
        """A config from a flat parameter dict; keys that are not fields (trainer keys) are ignored."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in params.items() if k in names})

    @property
    def n_blocks(self) -> int:
        """Encoder blocks: ``1 + replications``."""
        return 1 + self.replications

    @property
    def classifier_hidden(self) -> int:
        """Units of the hidden classification layer (0 = none)."""
        return int(round(self.shape_factor * self.d_model))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


GA21_GENES: dict[str, Bits] = {
    "direction": Bits(1, decode=list(DIRECTIONS)),
    "n_layers": Bits(2, decode=[1, 2, 3, 4]),
    "attention": Bits(2, decode=list(ATTENTION_POSITIONS)),
    "d_model": Bits(2, decode=[300, 512, 768, 1024]),
    "head_dim": Bits(2, decode=[32, 64, 128, 256]),
    "dropout": Bits(3, decode=[round(0.05 * (k + 1), 2) for k in range(8)]),
    "pre_classifier": Bits(2, decode=list(PRE_CLASSIFIERS)),
    "shape_factor": Bits(2, decode=[0.0, 0.5, 1.0, 1.5]),
    "activation": Bits(2, decode=list(LSTM_SA_ACTIVATIONS)),
    "replications": Bits(2, decode=[0, 1, 2, 3]),
    "tokenizer": Bits(1, decode=list(TOKENIZERS)),
}
"""The paper's genes in chromosome order, with their decoding tables."""

GA21_BITS = sum(g.n for g in GA21_GENES.values())
"""Length of the chromosome: 21."""

GA21_SPACE = Space(dict(GA21_GENES))
"""The 21-bit chromosome as a :class:`Space` of ``Bits`` genes (one box dimension per bit)."""

LSTM_SA_SPACE = Space(
    {
        "direction": Categorical(list(DIRECTIONS)),
        "n_layers": Int(1, 2),
        "attention": Categorical(list(ATTENTION_POSITIONS)),
        "d_model": Categorical([64, 128]),
        "head_dim": Categorical([16, 32, 64]),
        "dropout": Float(0.05, 0.4),
        "pre_classifier": Categorical(list(PRE_CLASSIFIERS)),
        "shape_factor": Categorical([0.0, 0.5, 1.0, 1.5]),
        "activation": Categorical(list(LSTM_SA_ACTIVATIONS)),
        "replications": Int(0, 1),
        "lr": Float(1e-4, 1e-2, log=True),
        "batch_size": Categorical([16, 32, 64]),
        "weight_decay": Float(1e-6, 1e-2, log=True),
    }
)
"""A CPU-sized version of the paper's space (narrower widths and depths) plus training hyperparameters."""


def _bits_array(bits: str | Sequence[int] | np.ndarray) -> np.ndarray:
    if isinstance(bits, str):
        text = "".join(ch for ch in bits if ch not in " _")
        if set(text) - {"0", "1"}:
            raise ConfigError(f"a chromosome string may hold only 0, 1, spaces and underscores, got {bits!r}")
        arr = np.array([int(ch) for ch in text], dtype=np.int64)
    else:
        arr = np.asarray(bits).reshape(-1)
        if arr.size and not np.isin(arr, (0, 1)).all():
            raise ConfigError(f"a chromosome may hold only 0 and 1, got {arr.tolist()}")
        arr = arr.astype(np.int64)
    if arr.size != GA21_BITS:
        raise ConfigError(f"the lstm_sa chromosome has {GA21_BITS} bits, got {arr.size}")
    return arr


def decode_ga21(genes: str | Sequence[int] | np.ndarray | Mapping[str, Any]) -> LstmSaConfig:
    """The architecture a 21-bit chromosome encodes (table in the module docstring).

    Args:
        genes: the chromosome as 21 bits (a ``"0/1"`` string, spaces and
            underscores allowed, or a sequence / int array of shape ``(21,)``),
            or already-decoded parameters (e.g. ``GA21_SPACE.decode(u)``, or
            a trial's params with trainer keys).

    Returns:
        The :class:`LstmSaConfig`.
    """
    if isinstance(genes, Mapping):
        return LstmSaConfig.from_params(genes)
    bits = _bits_array(genes)
    return LstmSaConfig.from_params(GA21_SPACE.decode(np.where(bits == 1, 0.75, 0.25)))


def encode_ga21(config: LstmSaConfig | Mapping[str, Any]) -> np.ndarray:
    """The 21-bit chromosome (uint8, shape ``(21,)``) of a config whose values are all in the tables."""
    values = config.to_dict() if isinstance(config, LstmSaConfig) else dict(config)
    return (GA21_SPACE.encode(values) >= 0.5).astype(np.uint8)
