"""Aquila Optimizer: each equation on a hand-computed case, the phase switch, greedy replacement, resume."""

from __future__ import annotations

import math

import numpy as np
import pytest

from emotune.exceptions import ConfigError
from emotune.search.optimizers import OPTIMIZERS
from emotune.search.optimizers import _aquila as ao


def _sphere(X: np.ndarray) -> np.ndarray:
    return ((X - 0.3) ** 2).sum(axis=1)


def _drive(opt, f, n_evals: int, batch: int = 7) -> None:
    used = 0
    while used < n_evals:
        ids, X = opt.ask_batch(min(batch, n_evals - used))
        opt.tell_batch(ids, f(X))
        used += len(ids)


# --- equations on hand-computed cases ---------------------------------------------------
def test_expanded_exploration_eq3() -> None:
    # X_best (1 - t/T) + (X_M - X_best * rand), t/T = 0.2, rand = 0.5
    got = ao.expanded_exploration(
        x_best=np.array([0.2, 0.6]), x_mean=np.array([0.5, 0.4]), t=2, T=10, rand=0.5
    )
    # 0.2*0.8 + (0.5 - 0.1) = 0.56 ; 0.6*0.8 + (0.4 - 0.3) = 0.58 (mealpy's (X_M - X_best)*rand gives 0.31, 0.52)
    np.testing.assert_allclose(got, [0.56, 0.58])


def test_spiral_eqs_8_to_12() -> None:
    y, x = ao.spiral(dim=2, r1=10.0)
    for k, (yk, xk) in enumerate(zip(y, x), start=1):
        r = 10.0 + 0.00565 * k
        # theta = 3pi/2 - 0.005 k, so cos(theta) = -sin(0.005 k) and sin(theta) = -cos(0.005 k)
        assert yk == pytest.approx(-r * math.sin(0.005 * k))
        assert xk == pytest.approx(-r * math.cos(0.005 * k))


def test_narrowed_exploration_eq5() -> None:
    got = ao.narrowed_exploration(
        x_best=np.array([0.5, 0.2]),
        x_r=np.array([0.1, 0.3]),
        levy=np.array([0.02, -0.01]),
        y=np.array([1.0, 2.0]),
        x=np.array([-0.5, 0.5]),
        rand=0.4,
    )
    # 0.5*0.02 + 0.1 + 1.5*0.4 = 0.71 ; 0.2*(-0.01) + 0.3 + 1.5*0.4 = 0.898
    np.testing.assert_allclose(got, [0.71, 0.898])


def test_expanded_exploitation_eq13() -> None:
    kw = dict(x_best=np.array([0.3, 0.7]), x_mean=np.array([0.5, 0.5]), rand1=0.2, rand2=0.6)
    # (x_best - x_mean)*0.1 - 0.2 + (1*0.6 + 0)*0.1
    np.testing.assert_allclose(ao.expanded_exploitation(**kw), [-0.16, -0.12])
    # with LB = -1, UB = 3: ((4*0.6) - 1)*0.1 = 0.14
    np.testing.assert_allclose(ao.expanded_exploitation(**kw, lb=-1.0, ub=3.0), [-0.08, -0.04])


def test_narrowed_exploitation_eq14() -> None:
    got = ao.narrowed_exploitation(
        x=np.array([0.4, 0.8]),
        x_best=np.array([0.5, 0.5]),
        levy=np.array([0.01, -0.02]),
        qf=1.1,
        g1=-0.5,
        g2=1.2,
        rand1=0.3,
        rand2=0.7,
    )
    # 0.55 + 0.5*0.4*0.3 - 1.2*0.01 - 0.35 = 0.248 ; 0.55 + 0.5*0.8*0.3 + 1.2*0.02 - 0.35 = 0.344
    np.testing.assert_allclose(got, [0.248, 0.344])


def test_quality_function_and_motion_parameters() -> None:
    # QF = 4 ** ((2*0.75 - 1) / (1 - 5)**2) = 4 ** (1/32) = 2 ** (1/16)
    assert float(ao.quality_function(t=4, T=5, rand=0.75)) == pytest.approx(2 ** (1 / 16))
    assert float(ao.quality_function(t=4, T=5, rand=0.5)) == pytest.approx(1.0)
    assert float(ao.quality_function(t=1, T=1, rand=0.9)) == 1.0  # T = 1: the limit, no division by zero
    assert float(ao.g1_motion(rand=0.25)) == pytest.approx(-0.5)  # eq. 16
    assert float(ao.g1_motion(rand=1.0)) == pytest.approx(1.0)
    assert ao.g2_flight_slope(t=3, T=12) == pytest.approx(1.5)  # eq. 17
    assert ao.g2_flight_slope(t=12, T=12) == pytest.approx(0.0)


# --- the optimizer ----------------------------------------------------------------------
def test_registered_with_defaults() -> None:
    opt = OPTIMIZERS.get("aquila")(3, budget=100, seed=0)
    assert isinstance(opt, ao.Aquila)
    assert opt.pop_size == 20 and opt.r1 == 10.0
    with pytest.raises(ConfigError, match="r1"):
        ao.Aquila(3, r1=0.5)


def test_phase_switch_at_two_thirds(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, int]] = []
    for fn in ("expanded_exploration", "narrowed_exploration", "expanded_exploitation", "narrowed_exploitation"):
        original = getattr(ao, fn)

        def wrapped(*args, _fn=fn, _orig=original, **kw):
            calls.append((_fn, opt.generation))
            return _orig(*args, **kw)

        monkeypatch.setattr(ao, fn, wrapped)
    opt = ao.Aquila(3, budget=40, seed=1, pop_size=4)  # T = 40 // 4 - 1 = 9, 2T/3 = 6
    assert opt.max_generations == 9
    _drive(opt, _sphere, 40, batch=4)
    phase = {}
    for fn, g in calls:
        phase.setdefault(g, set()).add("explore" if fn.endswith("exploration") else "exploit")
    assert phase == {g: {"explore"} for g in range(1, 7)} | {g: {"exploit"} for g in range(7, 10)}


def test_greedy_replacement_keeps_better_in_any_order() -> None:
    opt = ao.Aquila(2, budget=100, seed=3, pop_size=4)
    ids, X0 = opt.ask_batch(4)
    opt.tell_batch(ids[::-1], np.array([4.0, 3.0, 2.0, 1.0]))  # reversed: slot j gets 1 + j
    np.testing.assert_array_equal(opt.fit_, [1.0, 2.0, 3.0, 4.0])
    ids, X1 = opt.ask_batch(4)
    # slot 0 worse, slot 1 better, slot 2 fails (nan), slot 3 equal (not strictly better)
    opt.tell_batch(ids[[2, 0, 3, 1]], np.array([np.nan, 5.0, 4.0, 0.5]))
    np.testing.assert_array_equal(opt.fit_, [1.0, 0.5, 3.0, 4.0])
    np.testing.assert_array_equal(opt.pop_[0], X0[0])
    np.testing.assert_array_equal(opt.pop_[1], X1[1])
    np.testing.assert_array_equal(opt.pop_[2], X0[2])
    np.testing.assert_array_equal(opt.pop_[3], X0[3])
    assert opt.best_value == 0.5


def test_proposals_stay_in_box() -> None:
    opt = ao.Aquila(4, budget=400, seed=5)
    for _ in range(20):
        ids, X = opt.ask_batch(20)
        assert X.min() >= 0.0 and X.max() <= 1.0
        np.testing.assert_array_equal(X, opt._queue)  # the stored proposals are the clipped ones
        opt.tell_batch(ids, _sphere(X))


def test_state_round_trip_mid_run_continues_identically() -> None:
    a = ao.Aquila(3, budget=300, seed=11)
    _drive(a, _sphere, 150)
    ids, X = a.ask_batch(5)  # leave five pending across the save
    state = a.state_dict()
    b = ao.Aquila(3, budget=300, seed=999)
    b.load_state_dict(state)
    for opt in (a, b):
        opt.tell_batch(ids, _sphere(X))
        _drive(opt, _sphere, 145)
    np.testing.assert_array_equal(a.pop_, b.pop_)
    np.testing.assert_array_equal(a.fit_, b.fit_)
    assert a.best_value == b.best_value
    np.testing.assert_array_equal(a.ask_batch(3)[1], b.ask_batch(3)[1])


def test_centre_bias_of_the_paper_domain_and_the_unit_box_variant() -> None:
    """``aquila`` solves a centred sphere almost exactly; ``aquila_unit`` beats random on a shifted one."""
    centred = lambda X: ((X - 0.5) ** 2).sum(axis=1)  # noqa: E731
    for seed in range(3):
        rs = OPTIMIZERS.get("random")(5, budget=1000, seed=seed)
        aq = OPTIMIZERS.get("aquila")(5, budget=1000, seed=seed)
        unit = OPTIMIZERS.get("aquila_unit")(5, budget=1000, seed=seed)
        _drive(rs, _sphere, 1000, batch=20)
        _drive(aq, centred, 1000, batch=20)
        _drive(unit, _sphere, 1000, batch=20)
        assert aq.best_value < 1e-6, (seed, aq.best_value)
        assert unit.best_value < rs.best_value, (seed, unit.best_value, rs.best_value)


def test_domain_option_and_validation() -> None:
    assert (ao.Aquila(2).lb, ao.Aquila(2).ub) == (-100.0, 100.0)
    assert (ao.AquilaUnit(2).lb, ao.AquilaUnit(2).ub) == (0.0, 1.0)
    assert ao.Aquila(2, domain=(0.0, 1.0)).ub == 1.0
    with pytest.raises(ConfigError, match="domain"):
        ao.Aquila(2, domain=(1.0, 1.0))
