"""PSO and IPSO (emotune.search.optimizers._pso): updates on hand-computed cases and the ask/tell contract."""

from __future__ import annotations

import math

import numpy as np
import pytest

from emotune.exceptions import ConfigError
from emotune.search.optimizers import OPTIMIZERS
from emotune.search.optimizers._pso import (
    ImprovedParticleSwarm,
    ParticleSwarm,
    inertia,
    learning_factors,
    position_update,
    velocity_update,
)


def sphere(X: np.ndarray) -> np.ndarray:
    return ((X - 0.3) ** 2).sum(axis=1)


# --- pure update rules -------------------------------------------------------------


def test_velocity_and_position_update_hand_computed():
    v = np.array([[0.1, -0.05]])
    x = np.array([[0.5, 0.2]])
    pbest = np.array([[0.7, 0.1]])
    gbest = np.array([0.9, 0.4])
    r1 = np.array([[0.5, 0.2]])
    r2 = np.array([[0.25, 0.5]])
    # dim 0: 0.5*0.1 + 1*0.5*0.2 + 1*0.25*0.4 = 0.25  (clamped to 0.2)
    # dim 1: 0.5*(-0.05) + 1*0.2*(-0.1) + 1*0.5*0.2 = 0.055
    new_v = velocity_update(v, x, pbest, gbest, r1, r2, w=0.5, c1=1.0, c2=1.0, v_max=1.0)
    np.testing.assert_allclose(new_v, [[0.25, 0.055]])
    new_v = velocity_update(v, x, pbest, gbest, r1, r2, w=0.5, c1=1.0, c2=1.0, v_max=0.2)
    np.testing.assert_allclose(new_v, [[0.2, 0.055]])
    new_x, kept_v = position_update(x, new_v)
    np.testing.assert_allclose(new_x, [[0.7, 0.255]])
    np.testing.assert_allclose(kept_v, new_v)


def test_velocity_clamping_both_signs():
    v = np.array([[0.9, -0.9, 0.1]])
    z = np.zeros((1, 3))
    out = velocity_update(v, z, z, np.zeros(3), z, z, w=1.0, c1=0.0, c2=0.0, v_max=0.2)
    np.testing.assert_allclose(out, [[0.2, -0.2, 0.1]])


def test_boundary_rule_clips_and_zeroes_velocity():
    x = np.array([[0.95, 0.05, 0.5]])
    v = np.array([[0.1, -0.1, 0.2]])
    new_x, new_v = position_update(x, v)
    np.testing.assert_allclose(new_x, [[1.0, 0.0, 0.7]])
    np.testing.assert_allclose(new_v, [[0.0, 0.0, 0.2]])


def test_ipso_schedules_hand_values():
    assert inertia(0, 10) == pytest.approx(0.8)  # w(0) = w_max
    assert inertia(10, 10) == pytest.approx(0.4)  # w(t_max) = w_min
    assert inertia(5, 10) == pytest.approx(0.8 - 0.4 * (4 / math.pi) * math.atan(0.5))  # 0.5638662...
    assert inertia(5, 10) == pytest.approx(0.563866, abs=1e-6)
    ws = [inertia(t, 10) for t in range(11)]
    assert np.all(np.diff(ws) < 0)
    c1, c2 = learning_factors(5, 10)
    assert c1 == pytest.approx(0.875)  # 1 - 0.5**3
    assert c2 == pytest.approx(0.125)  # 0.5**3
    assert learning_factors(0, 10) == pytest.approx((1.0, 0.0))
    assert learning_factors(10, 10) == pytest.approx((0.0, 1.0))
    assert learning_factors(5, 10, c1s=2.0, c1e=1.0, c2s=1.0, c2e=3.0) == pytest.approx((1.875, 1.25))


def test_ipso_coefficients_follow_the_generation_counter():
    opt = ImprovedParticleSwarm(2, budget=220, pop_size=20)  # t_max = 220 // 20 - 1 = 10
    assert opt.max_generations == 10
    w, c1, c2 = opt.coefficients(5)
    assert (w, c1, c2) == pytest.approx((inertia(5, 10), 0.875, 0.125))
    assert opt.coefficients(10) == pytest.approx((0.4, 0.0, 1.0))
    assert opt.coefficients(25) == pytest.approx((0.4, 0.0, 1.0))  # past the budget: clipped to t_max
    assert ParticleSwarm(2).coefficients(5) == (0.7298, 1.49618, 1.49618)


# --- the optimizers -------------------------------------------------------------------


def test_registered():
    assert OPTIMIZERS.get("pso") is ParticleSwarm
    assert OPTIMIZERS.get("ipso") is ImprovedParticleSwarm
    assert not ParticleSwarm.uses_bits


@pytest.mark.parametrize(
    "cls, kwargs, match",
    [
        (ParticleSwarm, {"v_max": 0.0}, "v_max must be in"),
        (ParticleSwarm, {"w": float("nan")}, "w must be finite"),
        (ImprovedParticleSwarm, {"w_min": 0.9}, "w_min must be <= w_max"),
    ],
)
def test_config_errors_name_the_argument(cls, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        cls(2, **kwargs)


def test_generation_zero_and_one_step_against_a_copied_generator():
    opt = ParticleSwarm(2, budget=100, seed=4, pop_size=3)
    probe = np.random.default_rng(4)
    x0_expected = probe.random((3, 2))
    v0_expected = probe.uniform(-0.2, 0.2, size=(3, 2))
    ids, X0 = opt.ask_batch(3)
    np.testing.assert_array_equal(X0, x0_expected)
    np.testing.assert_array_equal(opt.v_, v0_expected)
    assert np.all(np.abs(opt.v_) <= 0.2)

    values = np.array([0.3, 0.1, 0.2])
    opt.tell_batch(ids[::-1], values[::-1])
    np.testing.assert_array_equal(opt.pbest_f_, values)
    np.testing.assert_array_equal(opt.gbest_, X0[1])

    r1, r2 = probe.random((3, 2)), probe.random((3, 2))
    w, c = 0.7298, 1.49618
    # pbest = x for every particle after one tell, so only the social term pulls
    v1 = np.clip(w * v0_expected + c * r1 * 0.0 + c * r2 * (X0[1] - X0), -0.2, 0.2)  # eq. 3
    x1 = X0 + v1  # eq. 4
    v1[(x1 < 0) | (x1 > 1)] = 0.0
    x1 = np.clip(x1, 0, 1)
    _, X1 = opt.ask_batch(3)
    np.testing.assert_allclose(X1, x1, rtol=0, atol=1e-15)
    np.testing.assert_allclose(opt.v_, v1, rtol=0, atol=1e-15)


def test_pbest_only_improves_and_nan_is_worst():
    opt = ParticleSwarm(2, budget=100, seed=0, pop_size=4)
    ids, X = opt.ask_batch(4)
    opt.tell_batch(ids, np.array([1.0, np.nan, 3.0, 4.0]))
    assert opt.pbest_f_[1] == np.inf
    ids, X1 = opt.ask_batch(4)
    opt.tell_batch(ids, np.array([2.0, 0.5, np.inf, 1.0]))
    np.testing.assert_array_equal(opt.pbest_f_, [1.0, 0.5, 3.0, 1.0])
    np.testing.assert_array_equal(opt.pbest_x_[0], X[0])
    np.testing.assert_array_equal(opt.pbest_x_[1], X1[1])
    np.testing.assert_array_equal(opt.gbest_, X1[1])


@pytest.mark.parametrize("cls", [ParticleSwarm, ImprovedParticleSwarm])
def test_velocity_clamped_and_bounds_respected_under_strong_pulls(cls):
    kwargs = {"w": 1.2, "c1": 4.0, "c2": 4.0} if cls is ParticleSwarm else {"w_max": 1.5, "w_min": 1.2}
    opt = cls(3, budget=600, seed=1, pop_size=10, v_max=0.1, **kwargs)
    prev, hits = None, 0
    for _ in range(30):
        ids, X = opt.ask_batch(10)
        assert np.all(np.abs(opt.v_) <= 0.1 + 1e-15)
        assert np.all((opt.x_ >= 0) & (opt.x_ <= 1))
        np.testing.assert_array_equal(X, opt.x_)
        if prev is not None:
            assert np.all(np.abs(X - prev) <= 0.1 + 1e-12)
            at_wall = ((X == 0.0) | (X == 1.0)) & (X != prev)
            # a component that crossed a wall stops there (unless it landed on the wall exactly)
            assert np.all((opt.v_[at_wall] == 0.0) | (prev[at_wall] + opt.v_[at_wall] == X[at_wall]))
            hits += int(at_wall.sum())
        prev = X
        opt.tell_batch(ids, ((X - 1.0) ** 2).sum(axis=1))  # optimum in the corner (1, 1, 1)
    assert hits > 0


@pytest.mark.parametrize("name", ["pso", "ipso"])
def test_tells_in_any_order_give_the_same_run(name):
    def run(order_seed):
        opt = OPTIMIZERS.get(name)(3, budget=200, seed=2, pop_size=6)
        perm_rng = np.random.default_rng(order_seed)
        out = []
        for _ in range(5):
            ids, X = opt.ask_batch(6)
            values = sphere(X)
            for k in perm_rng.permutation(6):
                opt.tell(int(ids[k]), float(values[k]))
            out.append(X)
        return np.stack(out)

    np.testing.assert_array_equal(run(0), run(1))


@pytest.mark.parametrize("name", ["pso", "ipso"])
def test_state_round_trip_resumes_exactly(name):
    a = OPTIMIZERS.get(name)(4, budget=300, seed=7, pop_size=10)
    for _ in range(2):
        ids, X = a.ask_batch(10)
        a.tell_batch(ids, sphere(X))
    ids, X = a.ask_batch(6)
    a.tell_batch(ids[:3], sphere(X[:3]))
    state = a.state_dict()

    b = OPTIMIZERS.get(name)(4, budget=300, seed=123, pop_size=10)
    b.load_state_dict(state)
    for opt in (a, b):
        opt.tell_batch(ids[3:], sphere(X[3:]))
    for _ in range(5):
        ia, Xa = a.ask_batch(7)
        ib, Xb = b.ask_batch(7)
        np.testing.assert_array_equal(ia, ib)
        np.testing.assert_array_equal(Xa, Xb)
        a.tell_batch(ia, sphere(Xa))
        b.tell_batch(ib, sphere(Xb))
    np.testing.assert_array_equal(a.v_, b.v_)
    np.testing.assert_array_equal(a.pbest_x_, b.pbest_x_)


def _best_after(name, seed, budget=1000, batch=20):
    opt = OPTIMIZERS.get(name)(5, budget=budget, seed=seed)
    told = 0
    while told < budget:
        ids, X = opt.ask_batch(min(batch, budget - told))
        opt.tell_batch(ids, sphere(X))
        told += len(ids)
    return opt.best_value


@pytest.mark.parametrize("name", ["pso", "ipso"])
def test_beats_random_search_on_shifted_sphere(name):
    ours = np.mean([_best_after(name, s) for s in range(3)])
    rnd = np.mean([_best_after("random", s) for s in range(3)])
    assert ours < rnd
