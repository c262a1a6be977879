"""Typed search spaces and the one transform between them and the unit box.

Optimizers only ever see the unit box ``[0, 1]^d``. A :class:`Space` maps a box
vector to typed parameters (``decode``) and back (``encode``). Every parameter
occupies one box dimension, except ``Bits(n)`` which occupies ``n`` (one per
bit, ``u >= 0.5`` reads as 1).

Bit-string optimizers (the GA) see a binary encoding of the same box:
:meth:`Space.bits_per_dim` gives the number of bits of every box dimension.
``Bits`` genes use one bit per dimension, as they are; every other parameter is
Gray-coded:

* ``Int`` and ``Categorical``: ``ceil(log2(number of values))`` bits (at least 1);
* ``Float``: :data:`FLOAT_BITS` (16) bits.

A code ``k`` of ``b`` bits decodes to the box value ``u = (k + 0.5) / 2**b``,
the centre of its bin (see :func:`gray_to_unit`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from emotune.exceptions import SpaceError

__all__ = [
    "FLOAT_BITS",
    "Param",
    "Float",
    "Int",
    "Categorical",
    "Bits",
    "Space",
    "gray_to_unit",
    "unit_to_gray",
]

FLOAT_BITS = 16
"""Bits used to Gray-code one ``Float`` parameter for bit-string optimizers."""


def _ceil_log2(n: int) -> int:
    return max(1, int(math.ceil(math.log2(n)))) if n > 1 else 1


class Param:
    """One typed parameter. Subclasses map box values ``u`` in [0, 1] to values."""

    kind: str = ""

    @property
    def width(self) -> int:
        """Number of unit-box dimensions this parameter occupies."""
        return 1

    def bits(self) -> list[int]:
        """Bits per box dimension for bit-string optimizers."""
        raise NotImplementedError

    def decode(self, u: np.ndarray) -> Any:
        """The value for box coordinates ``u`` (float64, shape ``(width,)``)."""
        raise NotImplementedError

    def encode(self, value: Any) -> np.ndarray:
        """Box coordinates (float64, shape ``(width,)``) that decode to ``value``."""
        raise NotImplementedError

    def to_json(self) -> dict:
        raise NotImplementedError

    def validate(self, name: str) -> None:
        """Raise :class:`SpaceError` naming ``name`` if the definition is invalid."""


def _index_of(u: float, n: int) -> int:
    """Bin index of ``u`` in ``n`` equal bins of [0, 1]."""
    return int(min(max(math.floor(float(u) * n), 0), n - 1))


@dataclass(frozen=True)
class Float(Param):
    """A real parameter in ``[low, high]``; ``log=True`` samples it log-uniformly."""

    low: float
    high: float
    log: bool = False
    kind = "float"

    def validate(self, name: str) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise SpaceError(f"parameter {name!r}: bounds must be finite, got low={self.low}, high={self.high}")
        if not self.low < self.high:
            raise SpaceError(f"parameter {name!r}: low must be < high, got low={self.low}, high={self.high}")
        if self.log and self.low <= 0:
            raise SpaceError(f"parameter {name!r}: log scale needs low > 0, got low={self.low}")

    def bits(self) -> list[int]:
        return [FLOAT_BITS]

    def decode(self, u: np.ndarray) -> float:
        t = float(np.clip(u[0], 0.0, 1.0))
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            return float(min(max(math.exp(lo + t * (hi - lo)), self.low), self.high))
        return float(self.low + t * (self.high - self.low))

    def encode(self, value: Any) -> np.ndarray:
        v = float(value)
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            t = (math.log(v) - lo) / (hi - lo) if v > 0 else 0.0  # non-positive: clipped to low
        else:
            t = (v - self.low) / (self.high - self.low)
        return np.array([min(max(t, 0.0), 1.0)])

    def to_json(self) -> dict:
        return {"type": "float", "low": self.low, "high": self.high, "log": self.log}


@dataclass(frozen=True)
class Int(Param):
    """An integer in ``[low, high]`` on a grid of ``step``; ``log=True`` is log-uniform."""

    low: int
    high: int
    step: int = 1
    log: bool = False
    kind = "int"

    def validate(self, name: str) -> None:
        if int(self.low) != self.low or int(self.high) != self.high or int(self.step) != self.step:
            raise SpaceError(
                f"parameter {name!r}: low, high and step must be integers, got {self.low}, {self.high}, {self.step}"
            )
        if not self.low < self.high:
            raise SpaceError(f"parameter {name!r}: low must be < high, got low={self.low}, high={self.high}")
        if self.step < 1:
            raise SpaceError(f"parameter {name!r}: step must be >= 1, got {self.step}")
        if self.log and self.low <= 0:
            raise SpaceError(f"parameter {name!r}: log scale needs low > 0, got low={self.low}")
        if self.log and self.step != 1:
            raise SpaceError(f"parameter {name!r}: log scale needs step == 1, got step={self.step}")

    @property
    def n_values(self) -> int:
        return (int(self.high) - int(self.low)) // int(self.step) + 1

    def bits(self) -> list[int]:
        return [_ceil_log2(self.n_values)]

    def decode(self, u: np.ndarray) -> int:
        t = float(np.clip(u[0], 0.0, 1.0))
        if self.log:
            lo, hi = math.log(self.low - 0.5), math.log(self.high + 0.5)
            v = int(round(math.exp(lo + t * (hi - lo))))
            return int(min(max(v, self.low), self.high))
        return int(self.low + _index_of(t, self.n_values) * self.step)

    def encode(self, value: Any) -> np.ndarray:
        v = int(value)
        if self.log:
            lo, hi = math.log(self.low - 0.5), math.log(self.high + 0.5)
            return np.array([min(max((math.log(v) - lo) / (hi - lo), 0.0), 1.0)])
        idx = (v - int(self.low)) // int(self.step)
        idx = min(max(idx, 0), self.n_values - 1)
        return np.array([(idx + 0.5) / self.n_values])

    def to_json(self) -> dict:
        return {"type": "int", "low": int(self.low), "high": int(self.high), "step": int(self.step), "log": self.log}


@dataclass(frozen=True)
class Categorical(Param):
    """One of a list of JSON-serialisable ``choices``."""

    choices: tuple
    kind = "categorical"

    def __init__(self, choices: Sequence[Any]) -> None:
        object.__setattr__(self, "choices", tuple(choices))

    def validate(self, name: str) -> None:
        if len(self.choices) == 0:
            raise SpaceError(f"parameter {name!r}: choices must be non-empty, got {list(self.choices)}")
        if len(set(map(repr, self.choices))) != len(self.choices):
            raise SpaceError(f"parameter {name!r}: choices must be distinct, got {list(self.choices)}")

    def bits(self) -> list[int]:
        return [_ceil_log2(len(self.choices))]

    def decode(self, u: np.ndarray) -> Any:
        return self.choices[_index_of(u[0], len(self.choices))]

    def encode(self, value: Any) -> np.ndarray:
        try:
            idx = self.choices.index(value)
        except ValueError:
            raise SpaceError(f"value {value!r} is not one of the choices {list(self.choices)}") from None
        return np.array([(idx + 0.5) / len(self.choices)])

    def to_json(self) -> dict:
        return {"type": "categorical", "choices": list(self.choices)}


@dataclass(frozen=True)
class Bits(Param):
    """A gene of ``n`` bits (most significant first) with an optional decoding table.

    ``decode`` is a list of ``2**n`` values indexed by the gene's integer value;
    without it the parameter's value is that integer. In the unit box the gene
    occupies ``n`` dimensions, one per bit (``u >= 0.5`` reads as 1).
    """

    n: int
    decode_table: tuple | None = None
    kind = "bits"

    def __init__(self, n: int, decode: Sequence[Any] | None = None) -> None:
        object.__setattr__(self, "n", int(n))
        object.__setattr__(self, "decode_table", None if decode is None else tuple(decode))

    @property
    def width(self) -> int:
        return self.n

    def validate(self, name: str) -> None:
        if self.n < 1:
            raise SpaceError(f"parameter {name!r}: Bits needs n >= 1, got n={self.n}")
        if self.decode_table is not None and len(self.decode_table) != 2**self.n:
            raise SpaceError(
                f"parameter {name!r}: a decode table for {self.n} bits needs {2**self.n} entries, "
                f"got {len(self.decode_table)}"
            )

    def bits(self) -> list[int]:
        return [1] * self.n

    def to_int(self, u: np.ndarray) -> int:
        """Integer value of the gene (MSB first) from its ``n`` box coordinates."""
        bits = (np.asarray(u) >= 0.5).astype(int)
        return int(sum(int(b) << (self.n - 1 - i) for i, b in enumerate(bits)))

    def decode(self, u: np.ndarray) -> Any:
        k = self.to_int(u)
        return k if self.decode_table is None else self.decode_table[k]

    def encode(self, value: Any) -> np.ndarray:
        if self.decode_table is None:
            k = int(value)
            if not 0 <= k < 2**self.n:
                raise SpaceError(f"value {value!r} does not fit in {self.n} bits")
        else:
            try:
                k = self.decode_table.index(value)
            except ValueError:
                raise SpaceError(f"value {value!r} is not in the decode table {list(self.decode_table)}") from None
        bits = [(k >> (self.n - 1 - i)) & 1 for i in range(self.n)]
        return np.array([0.75 if b else 0.25 for b in bits])

    def to_json(self) -> dict:
        table = None if self.decode_table is None else list(self.decode_table)
        return {"type": "bits", "n": self.n, "decode": table}


_FROM_JSON = {
    "float": lambda d: Float(d["low"], d["high"], log=d.get("log", False)),
    "int": lambda d: Int(d["low"], d["high"], step=d.get("step", 1), log=d.get("log", False)),
    "categorical": lambda d: Categorical(d["choices"]),
    "bits": lambda d: Bits(d["n"], decode=d.get("decode")),
}


@dataclass
class Space:
    """An ordered mapping of parameter names to :class:`Param` definitions.

    Validates on construction. ``dim`` is the number of unit-box dimensions.
    """

    params: dict[str, Param] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.params, Mapping) or not self.params:
            raise SpaceError(f"a Space needs a non-empty mapping of parameters, got {self.params!r}")
        for name, p in self.params.items():
            if not isinstance(p, Param):
                raise SpaceError(f"parameter {name!r}: expected a Float, Int, Categorical or Bits, got {p!r}")
            p.validate(name)
        self.params = dict(self.params)
        offsets, start = {}, 0
        for name, p in self.params.items():
            offsets[name] = (start, start + p.width)
            start += p.width
        self._slices = offsets
        self._dim = start

    @property
    def dim(self) -> int:
        """Number of dimensions of the unit box."""
        return self._dim

    def names(self) -> list[str]:
        return list(self.params)

    def bits_per_dim(self) -> list[int]:
        """Bits of every box dimension in the binary encoding (see module docstring)."""
        out: list[int] = []
        for p in self.params.values():
            out.extend(p.bits())
        return out

    def decode(self, u: np.ndarray) -> dict[str, Any]:
        """Typed parameters from one box vector ``u`` (float, shape ``(dim,)``)."""
        u = np.asarray(u, dtype=float)
        if u.shape != (self.dim,):
            raise SpaceError(f"expected a box vector of shape ({self.dim},), got {u.shape}")
        return {name: p.decode(u[a:b]) for (name, p), (a, b) in zip(self.params.items(), self._slices.values())}

    def encode(self, values: Mapping[str, Any]) -> np.ndarray:
        """A box vector (float64, shape ``(dim,)``) that decodes to ``values``."""
        missing = [n for n in self.params if n not in values]
        if missing:
            raise SpaceError(f"values miss parameters {missing}")
        return np.concatenate([p.encode(values[n]) for n, p in self.params.items()])

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        """One uniformly sampled configuration."""
        return self.decode(rng.random(self.dim))

    def to_json(self) -> dict:
        return {name: p.to_json() for name, p in self.params.items()}

    def dumps(self) -> str:
        return json.dumps(self.to_json())

    @classmethod
    def from_json(cls, data: Mapping[str, Mapping[str, Any]]) -> "Space":
        params = {}
        for name, d in data.items():
            kind = d.get("type") if isinstance(d, Mapping) else None
            if kind not in _FROM_JSON:
                raise SpaceError(f"parameter {name!r}: unknown type {kind!r}; known: {sorted(_FROM_JSON)}")
            params[name] = _FROM_JSON[kind](d)
        return cls(params)

    @classmethod
    def loads(cls, text: str) -> "Space":
        return cls.from_json(json.loads(text))


def unit_to_gray(u: np.ndarray, bits: Sequence[int]) -> np.ndarray:
    """Binary (Gray-coded) strings for box vectors.

    Args:
        u: float array of shape ``(n, d)`` in [0, 1].
        bits: bits of every dimension, length ``d``.

    Returns:
        uint8 array of shape ``(n, sum(bits))`` with the Gray code of each
        dimension's bin index, most significant bit first.
    """
    u = np.atleast_2d(np.asarray(u, dtype=float))
    cols = []
    for j, b in enumerate(bits):
        k = np.minimum(np.floor(np.clip(u[:, j], 0, 1) * (1 << b)), (1 << b) - 1).astype(np.int64)
        g = k ^ (k >> 1)
        shifts = np.arange(b - 1, -1, -1)
        cols.append(((g[:, None] >> shifts) & 1).astype(np.uint8))
    return np.concatenate(cols, axis=1)


def gray_to_unit(genes: np.ndarray, bits: Sequence[int]) -> np.ndarray:
    """Box vectors from Gray-coded bit strings (the inverse of :func:`unit_to_gray`).

    Args:
        genes: 0/1 array of shape ``(n, sum(bits))``.
        bits: bits of every dimension, length ``d``.

    Returns:
        float64 array of shape ``(n, d)``: ``(k + 0.5) / 2**b`` for each decoded code ``k``.
    """
    genes = np.atleast_2d(np.asarray(genes)).astype(np.int64)
    out = np.empty((genes.shape[0], len(bits)))
    start = 0
    for j, b in enumerate(bits):
        g = genes[:, start : start + b]
        # Gray -> binary: each binary bit is the XOR of all Gray bits up to it.
        binary = np.bitwise_xor.accumulate(g, axis=1)
        k = (binary << np.arange(b - 1, -1, -1)).sum(axis=1)
        out[:, j] = (k + 0.5) / (1 << b)
        start += b
    return out
