import json

import numpy as np
import pytest

from emotune.exceptions import SpaceError
from emotune.search.spaces import FLOAT_BITS, Bits, Categorical, Float, Int, Space, gray_to_unit, unit_to_gray


@pytest.fixture
def space():
    return Space(
        {
            "lr": Float(1e-4, 1e-2, log=True),
            "hidden": Int(50, 200),
            "batch": Categorical([16, 32, 64, 128]),
            "dropout": Float(0.0, 0.5),
            "layers": Bits(2, decode=[1, 2, 3, 4]),
            "units": Int(8, 64, step=8),
        }
    )


def test_dim_counts_bits_genes_per_bit(space):
    assert space.dim == 7
    assert space.bits_per_dim() == [FLOAT_BITS, 8, 2, FLOAT_BITS, 1, 1, 3]


def test_decode_maps_box_corners_to_bounds(space):
    low = space.decode(np.zeros(space.dim))
    high = space.decode(np.ones(space.dim))
    assert low == {"lr": pytest.approx(1e-4), "hidden": 50, "batch": 16, "dropout": 0.0, "layers": 1, "units": 8}
    assert high == {"lr": pytest.approx(1e-2), "hidden": 200, "batch": 128, "dropout": 0.5, "layers": 4, "units": 64}


def test_log_float_midpoint_is_geometric_mean():
    p = Float(1e-4, 1e-2, log=True)
    assert p.decode(np.array([0.5])) == pytest.approx(1e-3)


def test_int_bins_are_equal_width():
    p = Int(0, 3)
    values = [p.decode(np.array([u])) for u in np.linspace(0, 1, 4001)]
    counts = np.bincount(values)
    assert counts.min() >= 990 and counts.max() <= 1010


def test_encode_decode_round_trip(space):
    rng = np.random.default_rng(0)
    for _ in range(200):
        params = space.sample(rng)
        again = space.decode(space.encode(params))
        assert again["hidden"] == params["hidden"]
        assert again["batch"] == params["batch"]
        assert again["layers"] == params["layers"]
        assert again["units"] == params["units"]
        assert again["lr"] == pytest.approx(params["lr"])


def test_bits_without_table_decode_msb_first():
    p = Bits(3)
    assert p.decode(np.array([1.0, 0.0, 1.0])) == 5
    assert p.decode(np.array([0.0, 1.0, 1.0])) == 3


def test_json_round_trip(space):
    again = Space.loads(space.dumps())
    assert again.to_json() == space.to_json()
    assert json.loads(space.dumps())["layers"] == {"type": "bits", "n": 2, "decode": [1, 2, 3, 4]}


@pytest.mark.parametrize(
    "params, message",
    [
        ({"x": Float(1.0, 1.0)}, "parameter 'x': low must be < high, got low=1.0, high=1.0"),
        ({"x": Float(0.0, 1.0, log=True)}, "parameter 'x': log scale needs low > 0, got low=0.0"),
        ({"x": Int(5, 2)}, "parameter 'x': low must be < high"),
        ({"x": Categorical([])}, "parameter 'x': choices must be non-empty"),
        ({"x": Bits(2, decode=[1, 2, 3])}, "needs 4 entries, got 3"),
        ({"x": 3}, "parameter 'x': expected a Float, Int, Categorical or Bits"),
    ],
)
def test_validation_names_parameter_rule_and_value(params, message):
    with pytest.raises(SpaceError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Space(params)


def test_empty_space_is_an_error():
    with pytest.raises(SpaceError, match="non-empty"):
        Space({})


def test_unknown_type_in_json():
    with pytest.raises(SpaceError, match="unknown type 'complex'"):
        Space.from_json({"x": {"type": "complex"}})


def test_gray_code_round_trip_and_adjacency():
    bits = [4, 1, 3]
    rng = np.random.default_rng(1)
    u = rng.random((50, 3))
    genes = unit_to_gray(u, bits)
    assert genes.shape == (50, 8)
    back = gray_to_unit(genes, bits)
    # decoding lands in the same bin as the original value
    for j, b in enumerate(bits):
        assert np.array_equal(np.floor(back[:, j] * 2**b), np.minimum(np.floor(u[:, j] * 2**b), 2**b - 1))
    # neighbouring codes differ in exactly one bit (the point of Gray coding)
    centres = (np.arange(16) + 0.5) / 16
    g = unit_to_gray(np.c_[centres, np.zeros(16), np.zeros(16)], bits)[:, :4]
    assert np.all(np.abs(np.diff(g.astype(int), axis=0)).sum(axis=1) == 1)
