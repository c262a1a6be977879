"""Test functions: optimum values, seeded shifts and rotations, lower bound f*."""

from __future__ import annotations

import numpy as np
import pytest

from emotune.exceptions import ConfigError, RegistryError
from emotune.search.benchmarks import BASE_FUNCTIONS, FUNCTIONS, get_function, list_functions

CASES = [(name, dim) for dim in (2, 10) for name in list_functions(dim)]


def test_registry_has_every_variant():
    for base in BASE_FUNCTIONS:
        for prefix in ("", "shifted_", "rotated_", "shifted_rotated_"):
            assert prefix + base in FUNCTIONS
    assert "holder_table" not in list_functions(10) and "easom" in list_functions(2)


@pytest.mark.parametrize("name,dim", CASES)
def test_value_at_optimum_is_f_star(name, dim):
    f = get_function(name, dim, seed=7)
    assert f.x_star.shape == (dim,) and f.lower.shape == f.upper.shape == (dim,)
    assert np.all(f.x_star >= f.lower) and np.all(f.x_star <= f.upper)
    assert f(f.x_star) == pytest.approx(f.f_star, rel=1e-9, abs=1e-9)
    assert f(f.x_star[None, :]).shape == (1,)


@pytest.mark.parametrize("name,dim", CASES)
def test_random_points_are_not_below_f_star(name, dim):
    f = get_function(name, dim, seed=3)
    X = f.from_unit(np.random.default_rng(0).random((500, dim)))
    values = f(X)
    assert values.shape == (500,) and values.dtype == np.float64
    assert np.all(values >= f.f_star - 1e-9)
    # a nearby point is no better than the optimum
    near = f.x_star + 1e-3 * (f.upper - f.lower) * np.random.default_rng(1).standard_normal((20, dim))
    assert np.all(f(near) >= f.f_star - 1e-9)


@pytest.mark.parametrize("name", ["shifted_rastrigin", "shifted_schwefel", "shifted_rotated_rosenbrock"])
@pytest.mark.parametrize("dim", [2, 10])
def test_shift_is_seeded_and_inside_the_central_80_percent(name, dim):
    a, b, c = get_function(name, dim, seed=5), get_function(name, dim, seed=5), get_function(name, dim, seed=6)
    np.testing.assert_array_equal(a.x_star, b.x_star)
    assert not np.allclose(a.x_star, c.x_star)
    width = a.upper - a.lower
    assert np.all(a.x_star >= a.lower + 0.1 * width) and np.all(a.x_star <= a.upper - 0.1 * width)
    np.testing.assert_array_equal(a.shift, a.x_star)


def test_shift_moves_the_optimum_away_from_the_base_optimum():
    f = get_function("shifted_sphere", 10, seed=0)
    assert np.linalg.norm(f.x_star) > 0.1
    assert f(np.zeros(10)) > 0.1


@pytest.mark.parametrize("dim", [2, 10])
def test_rotation_is_orthogonal_and_seeded(dim):
    f = get_function("rotated_ellipsoid", dim, seed=11)
    R = f.rotation
    np.testing.assert_allclose(R @ R.T, np.eye(dim), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)
    np.testing.assert_array_equal(R, get_function("shifted_rotated_ellipsoid", dim, seed=11).rotation)
    np.testing.assert_array_equal(R, get_function("rotated_ellipsoid", dim, seed=11).rotation)
    assert not np.allclose(R, get_function("rotated_ellipsoid", dim, seed=12).rotation)
    # the rotated optimum stays at the base optimum; un-rotated functions carry no matrix
    np.testing.assert_array_equal(f.x_star, np.zeros(dim))
    assert get_function("shifted_ellipsoid", dim, seed=11).rotation is None


def test_rotation_changes_values_but_not_the_sphere():
    X = np.random.default_rng(2).uniform(-5, 5, (50, 10))
    np.testing.assert_allclose(get_function("rotated_sphere", 10, seed=1)(X), get_function("sphere", 10)(X))
    assert not np.allclose(get_function("rotated_rastrigin", 10, seed=1)(X), get_function("rastrigin", 10)(X))


def test_known_values():
    assert get_function("sphere", 3)(np.array([1.0, 2.0, 3.0])) == pytest.approx(14.0)
    assert get_function("ellipsoid", 3)(np.array([1.0, 1.0, 1.0])) == pytest.approx(6.0)
    assert get_function("rosenbrock", 2)(np.array([0.0, 0.0])) == pytest.approx(1.0)
    assert get_function("rastrigin", 2)(np.array([1.0, 1.0])) == pytest.approx(2.0)
    assert get_function("schwefel", 2)(np.array([420.9687, 420.9687])) == pytest.approx(0.0, abs=1e-4)
    assert get_function("holder_table", 2)(np.array([-8.05502, -9.66459])) == pytest.approx(-19.2085, abs=1e-4)


def test_from_unit_maps_the_box_onto_the_domain():
    f = get_function("shifted_ackley", 4, seed=0)
    np.testing.assert_allclose(f.from_unit(np.zeros(4)), f.lower)
    np.testing.assert_allclose(f.from_unit(np.ones((2, 4))), np.tile(f.upper, (2, 1)))
    U = np.random.default_rng(0).random((5, 4))
    np.testing.assert_allclose(f.to_unit(f.from_unit(U)), U)


def test_errors_name_the_rule():
    with pytest.raises(ConfigError, match="dim == 2"):
        get_function("easom", 3)
    with pytest.raises(ConfigError, match="dim >= 2"):
        get_function("rosenbrock", 1)
    with pytest.raises(RegistryError, match="unknown benchmark function"):
        get_function("no_such_function", 2)
    with pytest.raises(ConfigError, match=r"shape \(n, 3\)"):
        get_function("sphere", 3)(np.zeros((4, 2)))
