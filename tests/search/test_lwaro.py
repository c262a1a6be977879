"""LWARO (emotune's definition 1.0): the step, the weights, the adaptive rule, resume, a sanity benchmark."""

from __future__ import annotations

import numpy as np
import pytest

from emotune.exceptions import ConfigError
from emotune.search.optimizers import OPTIMIZERS
from emotune.search.optimizers import _lwaro as lw


def _sphere(X: np.ndarray) -> np.ndarray:
    return ((X - 0.3) ** 2).sum(axis=1)


def _drive(opt, f, n_evals: int, batch: int = 5) -> None:
    used = 0
    while used < n_evals:
        ids, X = opt.ask_batch(min(batch, n_evals - used))
        opt.tell_batch(ids, f(X))
        used += len(ids)


_HAND = dict(
    x=np.array([[0.5, 0.5], [0.5, 0.5]]),
    x_peer=np.array([[0.7, 0.1], [0.7, 0.1]]),
    x_best=np.array([0.6, 0.4]),
    centre=np.array([0.4, 0.6]),
    levy=np.array([[0.1, -0.2], [0.1, -0.2]]),
    r=np.array([[0.5, 0.25], [0.5, 0.25]]),
    noise=np.array([[1.0, -2.0], [1.0, -2.0]]),
)


def test_step_both_branches_hand_case() -> None:
    got = lw.lwaro_step(**_HAND, peer_move=np.array([True, False]), energy=1.5, scale=0.5)
    # E*s = 0.75
    # peer (L4): [0.5*0.2 + 0.1*0.1, 0.25*(-0.4) + (-0.2)*(-0.1)] = [0.11, -0.08]
    # centre (L5): [1*(-0.1) + 0.1*(0.6-0.7), -2*0.1 + (-0.2)*(0.4-0.1)] = [-0.11, -0.26]
    np.testing.assert_allclose(got, [[0.5825, 0.44], [0.4175, 0.305]])


def test_step_single_agent_and_clipping() -> None:
    one = {k: (v[0] if v.ndim == 2 else v) for k, v in _HAND.items()}
    np.testing.assert_allclose(lw.lwaro_step(**one, peer_move=True, energy=1.5, scale=0.5), [0.5825, 0.44])
    np.testing.assert_allclose(lw.lwaro_step(**one, peer_move=False, energy=2.0, scale=4.0), [0.0, 0.0])


def test_random_peers_never_self_and_cover_the_others() -> None:
    peers = np.stack([lw.random_peers(np.random.default_rng(s), 5) for s in range(200)])
    assert peers.shape == (200, 5) and (peers != np.arange(5)).all()
    for i in range(5):
        assert set(peers[:, i].tolist()) == set(range(5)) - {i}


def test_energy() -> None:
    assert lw.energy(t=0, T=10) == 2.0
    assert lw.energy(t=5, T=10) == pytest.approx(1.0)
    assert lw.energy(t=10, T=10) == 0.0


def test_weights_normalised_best_largest() -> None:
    fit = np.array([3.0, 1.0, 2.0, np.inf])
    w = lw.fitness_weights(fit, kappa=1.0)
    # eps = 1 * (3 - 1) = 2: v = [1/4, 1/2, 1/3, 0], sum 13/12
    np.testing.assert_allclose(w, [3 / 13, 6 / 13, 4 / 13, 0.0])
    assert w.sum() == pytest.approx(1.0) and int(np.argmax(w)) == 1
    rng = np.random.default_rng(0)
    f = rng.normal(size=9)
    for kappa in (0.1, 1.0):
        w = lw.fitness_weights(f, kappa=kappa)
        assert w.sum() == pytest.approx(1.0) and (w > 0).all()
        assert int(np.argmax(w)) == int(np.argmin(f))
        assert w.max() / w.min() == pytest.approx((1 + kappa) / kappa)
        np.testing.assert_allclose(lw.fitness_weights(7.0 * f - 3.0, kappa=kappa), w)  # affine-invariant


def test_weights_degenerate_cases() -> None:
    np.testing.assert_allclose(lw.fitness_weights(np.full(4, np.inf)), np.full(4, 0.25))
    np.testing.assert_allclose(lw.fitness_weights(np.array([2.0, 2.0, np.inf])), [0.5, 0.5, 0.0])
    np.testing.assert_allclose(lw.fitness_weights(np.array([1.0, -np.inf, np.inf])), [0.0, 1.0, 0.0])


def test_adapt_raises_after_k_stagnant_then_lowers_within_bounds() -> None:
    kw = dict(patience=3, rho_min=0.2, rho_max=0.9, d_rho=0.1, s_min=0.25, s_max=4.0, gamma_up=2.0, gamma_down=0.5)
    rho, s, stag = 0.5, 1.0, 0
    for expected_stag in (1, 2):
        rho, s, stag = lw.adapt(rho, s, stag, False, **kw)
        assert (rho, s, stag) == (0.5, 1.0, expected_stag)
    rho, s, stag = lw.adapt(rho, s, stag, False, **kw)
    assert (rho, s, stag) == (pytest.approx(0.6), 2.0, 0)
    for _ in range(30):
        rho, s, stag = lw.adapt(rho, s, stag, False, **kw)
        assert 0.2 <= rho <= 0.9 and 0.25 <= s <= 4.0
    assert (rho, s) == (pytest.approx(0.9), 4.0)
    rho, s, stag = lw.adapt(rho, s, 2, True, **kw)
    assert (rho, s, stag) == (pytest.approx(0.8), 2.0, 0)
    for _ in range(30):
        rho, s, stag = lw.adapt(rho, s, stag, True, **kw)
        assert 0.2 <= rho <= 0.9 and 0.25 <= s <= 4.0
    assert (rho, s, stag) == (pytest.approx(0.2), 0.25, 0)


def test_optimizer_adapts_once_per_generation() -> None:
    flat = lw.LWARO(3, budget=400, seed=0)  # nothing ever improves after generation 0
    _drive(flat, lambda X: np.ones(len(X)), 8 * 8, batch=8)  # generations 0..7 built; adapt at 2..7
    assert flat.stagnation_ == 0 and flat.rho_ == pytest.approx(0.7) and flat.s_ == pytest.approx(0.5 * 1.5**2)
    calls = iter(range(10**6))
    falling = lw.LWARO(3, budget=400, seed=0)  # every tell improves the best
    _drive(falling, lambda X: np.array([-float(next(calls)) for _ in X]), 8 * 8, batch=8)
    assert falling.rho_ == pytest.approx(0.2) and falling.s_ == pytest.approx(0.5 * 0.98**6)


def test_registered_with_defaults_and_validation() -> None:
    opt = OPTIMIZERS.get("lwaro")(3, budget=100, seed=0)
    assert isinstance(opt, lw.LWARO) and lw.LWARO_VERSION == "1.1"
    assert opt.pop_size == 8 and opt.rho_ == 0.5 and opt.s_ == 0.5
    with pytest.raises(ConfigError, match="rho0"):
        lw.LWARO(3, rho0=0.95)
    with pytest.raises(ConfigError, match="s0"):
        lw.LWARO(3, s0=8.0)
    with pytest.raises(ConfigError, match="patience"):
        lw.LWARO(3, patience=0)


def test_greedy_and_tell_order_independent() -> None:
    a, b = lw.LWARO(4, budget=200, seed=2), lw.LWARO(4, budget=200, seed=2)
    for _ in range(10):
        ids_a, Xa = a.ask_batch(8)
        ids_b, Xb = b.ask_batch(8)
        np.testing.assert_array_equal(Xa, Xb)
        a.tell_batch(ids_a, _sphere(Xa))
        perm = np.array([5, 2, 7, 0, 3, 6, 1, 4])
        b.tell_batch(ids_b[perm], _sphere(Xb)[perm])
    np.testing.assert_array_equal(a.pop_, b.pop_)
    np.testing.assert_array_equal(a.fit_, _sphere(a.pop_))  # each agent keeps its own best position
    assert a.best_value == b.best_value == a.fit_.min()


def test_state_round_trip_mid_run_continues_identically() -> None:
    a = lw.LWARO(3, budget=300, seed=11)
    _drive(a, _sphere, 83)
    ids, X = a.ask_batch(6)  # leave six pending across the save
    state = a.state_dict()
    b = lw.LWARO(3, budget=300, seed=5)
    b.load_state_dict(state)
    for opt in (a, b):
        opt.tell_batch(ids, _sphere(X))
        _drive(opt, _sphere, 120)
    for key in ("pop_", "fit_"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    assert (a.rho_, a.s_, a.stagnation_, a.prev_best_) == (b.rho_, b.s_, b.stagnation_, b.prev_best_)
    np.testing.assert_array_equal(a.ask_batch(3)[1], b.ask_batch(3)[1])


def test_beats_random_on_shifted_sphere() -> None:
    for seed in range(3):
        rs, lo = OPTIMIZERS.get("random")(5, budget=1000, seed=seed), OPTIMIZERS.get("lwaro")(5, budget=1000, seed=seed)
        _drive(rs, _sphere, 1000, batch=8)
        _drive(lo, _sphere, 1000, batch=8)
        assert lo.best_value < rs.best_value, (seed, lo.best_value, rs.best_value)


def test_first_guided_generation_moves_even_on_a_tiny_budget() -> None:
    """v1.1: with 1.5 generations of budget the guided generation must not repeat generation 0."""
    opt = lw.LWARO(3, budget=12, seed=0, pop_size=8)
    ids, X0 = opt.ask_batch(8)
    opt.tell_batch(ids, ((X0 - 0.3) ** 2).sum(axis=1))
    _, X1 = opt.ask_batch(4)
    assert not np.any(np.all(np.isclose(X1[:, None, :], X0[None, :, :]), axis=2))
