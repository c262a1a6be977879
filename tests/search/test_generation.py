"""One full generation of every population optimizer, recomputed independently.

Each test drives an optimizer through several generations (asking in batches
that do not divide the population, telling in a shuffled order and grouping)
and, before every ask of a new generation, recomputes the expected population
*in the test*: from a copied ``numpy.random.Generator`` seeded like the
optimizer's, drawing in the documented order, with the paper's equations
written out again here (no helper of the optimizer modules is called). The
asked points are compared element by element. Each test also asserts that
every branch it claims to cover (Aquila's four moves in both phases, GA
crossover and copy, LWARO's two steps and both adaptive moves, PSO clamping
and walls) actually occurred, so a seed change cannot silently drop one.

These tests are what ``tests/mutation/run.py`` relies on to kill wiring errors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from emotune.search.optimizers import make_optimizer

ATOL = 1e-12


# --- driving ------------------------------------------------------------------------------
def ask_generation(opt, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """Ask until the open generation is all handed out; ids and points in slot order."""
    ids, X = [], []
    while True:
        i, x = opt.ask_batch(batch)
        if len(i) == 0:
            break
        ids.append(i)
        X.append(x)
        if len(i) < batch:  # the generation's end
            break
    ids, X = np.concatenate(ids), np.concatenate(X)
    return ids, X


def tell_shuffled(opt, ids: np.ndarray, values: np.ndarray, rng: np.random.Generator) -> None:
    """Tell every (id, value) in a random order and random groups (one to four at a time)."""
    perm = rng.permutation(len(ids))
    k = 0
    while k < len(perm):
        m = int(rng.integers(1, 5))
        sel = perm[k : k + m]
        opt.tell_batch(ids[sel], values[sel])
        k += m


def levy(probe: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Mantegna's Levy flight, beta = 1.5, s = 0.01 (Aquila eqs. 6-7), written out again."""
    beta = 1.5
    sigma = (math.gamma(1 + beta) * math.sin(math.pi * beta / 2)
             / (math.gamma((1 + beta) / 2) * beta * 2 ** ((beta - 1) / 2))) ** (1 / beta)
    u = probe.standard_normal(shape)
    v = probe.standard_normal(shape)
    return 0.01 * u * sigma / np.abs(v) ** (1 / beta)


def objective(X: np.ndarray) -> np.ndarray:
    """A shifted, tilted sphere: distinct values, optimum off the centre."""
    return ((X - 0.23) ** 2).sum(axis=1) + 0.05 * X[:, 0]


def n_generations(budget: int, n: int) -> int:
    """T = ceil((budget - N) / N), at least 1."""
    return max(1, math.ceil((budget - n) / n))


# --- PSO and IPSO --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["pso", "ipso"])
def test_pso_generations_recomputed(name):
    N, D, seed, budget, vmax = 6, 3, 3, 6 * 7, 0.3
    if name == "pso":
        opt = make_optimizer(name, D, budget=budget, seed=seed, pop_size=N, w=0.6, c1=1.3, c2=1.9, v_max=vmax)
    else:
        opt = make_optimizer(name, D, budget=budget, seed=seed, pop_size=N, v_max=vmax)
    T = n_generations(budget, N)
    assert T == 6

    def coefficients(t: int) -> tuple[float, float, float]:
        if name == "pso":
            return 0.6, 1.3, 1.9
        t = min(t, T)
        w = 0.8 - (0.8 - 0.4) * (4 / math.pi) * math.atan(t / T)  # IPSO eq. 5
        c1 = (0.0 - 1.0) * (t / T) ** 3 + 1.0  # eq. 6, c1: 1 -> 0
        c2 = (1.0 - 0.0) * (t / T) ** 3 + 0.0  # eq. 7, c2: 0 -> 1
        return w, c1, c2

    probe = np.random.default_rng(seed)
    order = np.random.default_rng(100)
    x = probe.random((N, D))
    v = probe.uniform(-vmax, vmax, size=(N, D))
    pbest, pf = x.copy(), np.full(N, np.inf)
    clamped = walls = cognitive = 0
    for g in range(0, 6):
        if g > 0:
            w, c1, c2 = coefficients(g)
            gbest = pbest[int(np.argmin(pf))]
            r1 = probe.random((N, D))
            r2 = probe.random((N, D))
            raw = w * v + c1 * r1 * (pbest - x) + c2 * r2 * (gbest - x)  # eq. 3
            clamped += int((np.abs(raw) > vmax).sum())
            v = np.minimum(np.maximum(raw, -vmax), vmax)
            moved = x + v  # eq. 4
            out = (moved < 0) | (moved > 1)
            walls += int(out.sum())
            v = np.where(out, 0.0, v)
            x = np.minimum(np.maximum(moved, 0.0), 1.0)
            cognitive += int((np.abs(pbest - x) > 1e-9).any(axis=1).sum())
        ids, X = ask_generation(opt, batch=4)
        np.testing.assert_allclose(X, x, rtol=0, atol=ATOL, err_msg=f"{name} generation {g}")
        np.testing.assert_allclose(opt.v_, v, rtol=0, atol=ATOL)
        values = objective(X)
        tell_shuffled(opt, ids, values, order)
        better = values < pf  # personal best, strict
        pbest[better], pf[better] = X[better], values[better]
        x = X  # continue from the optimizer's points (equal to ours within ATOL)
    assert clamped > 0 and walls > 0 and cognitive > 0


# --- GA -----------------------------------------------------------------------------------------
def decode_gray(genes: np.ndarray, bits: list[int]) -> np.ndarray:
    """GA-(1): Gray code -> integer k per dimension -> (k + 0.5) / 2**b, by explicit loops."""
    out = np.empty((genes.shape[0], len(bits)))
    for r in range(genes.shape[0]):
        start = 0
        for j, b in enumerate(bits):
            acc, k = 0, 0
            for bit in genes[r, start : start + b]:
                acc ^= int(bit)  # binary bit = XOR of the Gray bits so far
                k = 2 * k + acc
            out[r, j] = (k + 0.5) / 2**b
            start += b
    return out


def tournament_winner(fit: np.ndarray, entrants: np.ndarray) -> int:
    best = int(entrants[0])
    for c in entrants[1:]:
        if fit[c] < fit[best]:  # ties: the one drawn first
            best = int(c)
    return best


def test_ga_generations_recomputed():
    N, bits, seed, k, elite, p_c, p_m0, p_m_min = 6, [5, 6, 7], 8, 3, 1, 0.5, 0.15, 0.01
    L = sum(bits)
    budget = N * 5
    T = n_generations(budget, N)
    assert T == 4
    opt = make_optimizer(
        "ga", 3, budget=budget, seed=seed, pop_size=N, bits_per_dim=bits, p_c=p_c, p_m0=p_m0,
        p_m_min=p_m_min, elite=elite, tournament_size=k,
    )
    probe = np.random.default_rng(seed)
    order = np.random.default_rng(5)
    children = probe.integers(0, 2, size=(N, L), dtype=np.uint8)
    P = f = None
    seen = {"cross": 0, "copy": 0, "copy_not_parent": 0, "same_parent_avoided": 0}
    rates = []
    for g in range(0, 7):
        if g > 0:
            if P is None:
                P, f = children.copy(), child_values.copy()
            else:  # GA-(6): elitism, then rank-proportional draws without replacement
                pool = np.concatenate([P, children])
                pool_f = np.concatenate([f, child_values])
                sorted_idx = np.argsort(pool_f, kind="stable")
                rest = sorted_idx[elite:]
                m = len(rest)
                u = probe.random(m)  # Efraimidis-Spirakis keys log(u) / rank weight (m for the best, 1 the worst)
                keys = [math.log(u[i]) / (m - i) if u[i] > 0 else -math.inf for i in range(m)]
                drawn = [rest[i] for i in sorted(range(m), key=lambda i: -keys[i])[: N - elite]]
                keep = np.concatenate([sorted_idx[:elite], drawn])
                P, f = pool[keep], pool_f[keep]
            keys1 = probe.random((N, N))
            keys2 = probe.random((N, N))
            cross = probe.random(N) < p_c
            a = probe.integers(0, L + 1, size=N)
            b = probe.integers(0, L, size=N)
            copy_idx = probe.integers(0, N, size=N)
            u = probe.random((N, L))
            p_m = max(p_m_min, p_m0 * (1 - min((g - 1) / T, 1.0)))  # GA-(5)
            rates.append(p_m)
            new = np.empty((N, L), dtype=np.uint8)
            for i in range(N):
                e1 = np.argsort(keys1[i])[:k]
                p1 = tournament_winner(f, e1)  # GA-(2)
                k2 = keys2[i].copy()
                k2[p1] = np.inf  # parent 2 is another individual
                e2 = np.argsort(k2)[:k]
                p2 = tournament_winner(f, e2)
                if p1 in np.argsort(keys2[i])[:k]:
                    seen["same_parent_avoided"] += 1
                if cross[i]:
                    c1, c2 = sorted((int(a[i]), int(b[i]) + int(b[i] >= a[i])))
                    child = P[p1].copy()
                    child[c1:c2] = P[p2][c1:c2]  # GA-(3)
                    seen["cross"] += 1
                else:
                    child = P[copy_idx[i]].copy()  # a uniformly random member
                    seen["copy"] += 1
                    seen["copy_not_parent"] += int(copy_idx[i] not in (p1, p2))
                new[i] = child ^ (u[i] < p_m).astype(np.uint8)  # GA-(4)
            children = new
        ids, X = ask_generation(opt, batch=4)
        np.testing.assert_array_equal(opt.children_, children, err_msg=f"ga generation {g}")
        np.testing.assert_allclose(X, decode_gray(children, bits), rtol=0, atol=0)
        child_values = objective(X)
        tell_shuffled(opt, ids, child_values, order)
    assert rates[0] == p_m0 and rates[-1] == p_m_min and len(set(rates)) == 5
    assert all(v > 0 for v in seen.values()), seen


# --- Aquila -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, lb, ub", [("aquila", -100.0, 100.0), ("aquila_unit", 0.0, 1.0)])
def test_aquila_generations_recomputed(name, lb, ub):
    N, D, seed = 8, 3, 4
    budget = N * 7
    T = n_generations(budget, N)
    assert T == 6  # exploration t = 1..4 (t <= 2T/3), exploitation t = 5, 6
    opt = make_optimizer(name, D, budget=budget, seed=seed, pop_size=N)
    probe = np.random.default_rng(seed)
    order = np.random.default_rng(9)
    width = ub - lb
    pop = probe.random((N, D))
    proposal = pop.copy()
    fit = np.full(N, np.inf)
    best_x, best_f = None, np.inf
    moves = {"X1": 0, "X2": 0, "X3": 0, "X4": 0}
    d1 = np.arange(1, D + 1, dtype=float)
    for g in range(0, 7):
        if g > 0:
            t = g
            Z = lb + width * pop  # the internal domain
            zb = lb + width * best_x
            zm = Z.mean(axis=0)  # eq. 4
            choose = probe.random(N) < 0.5
            if t <= 2 * T / 3:
                r = probe.random((N, 1))
                X1 = zb * (1 - t / T) + (zm - zb * r)  # eq. 3
                rr = 10.0 + 0.00565 * d1  # eq. 10
                th = -0.005 * d1 + 3 * math.pi / 2  # eqs. 11-12
                y, x = rr * np.cos(th), rr * np.sin(th)  # eqs. 8-9
                XR = Z[probe.integers(0, N, size=N)]
                lv = levy(probe, (N, D))
                r = probe.random((N, 1))
                X2 = zb * lv + XR + (y - x) * r  # eq. 5
                new = np.where(choose[:, None], X1, X2)
                moves["X1"] += int(choose.sum())
                moves["X2"] += int((~choose).sum())
            else:
                ra, rb = probe.random((N, 1)), probe.random((N, 1))
                X3 = (zb - zm) * 0.1 - ra + ((ub - lb) * rb + lb) * 0.1  # eq. 13
                QF = t ** ((2 * probe.random((N, 1)) - 1) / (1 - T) ** 2)  # eq. 15
                G1 = 2 * probe.random((N, 1)) - 1  # eq. 16
                G2 = 2 * (1 - t / T)  # eq. 17
                lv = levy(probe, (N, D))
                ra, rb = probe.random((N, 1)), probe.random((N, 1))
                X4 = QF * zb - G1 * Z * ra - G2 * lv + rb * G1  # eq. 14
                new = np.where(choose[:, None], X3, X4)
                moves["X3"] += int(choose.sum())
                moves["X4"] += int((~choose).sum())
            proposal = (np.minimum(np.maximum(new, lb), ub) - lb) / width
        ids, X = ask_generation(opt, batch=3)
        np.testing.assert_allclose(X, proposal, rtol=0, atol=ATOL, err_msg=f"{name} generation {g}")
        values = objective(X)
        tell_shuffled(opt, ids, values, order)
        k = int(np.argmin(values))
        if values[k] < best_f:
            best_x, best_f = X[k].copy(), float(values[k])
        better = values < fit  # greedy replacement, strict
        pop[better], fit[better] = X[better], values[better]
    assert all(v > 0 for v in moves.values()), moves


# --- LWARO --------------------------------------------------------------------------------------
def test_lwaro_generations_recomputed():
    N, D, seed, patience = 6, 3, 13, 2
    budget = N * 9
    T = n_generations(budget, N)
    assert T == 8
    opt = make_optimizer("lwaro", D, budget=budget, seed=seed, pop_size=N, patience=patience)
    probe = np.random.default_rng(seed)
    order = np.random.default_rng(3)
    rho, s, stag, prev_best, kappa = 0.5, 0.5, 0, np.inf, 1.0
    pop = probe.random((N, D))
    proposal = pop.copy()
    fit = np.full(N, np.inf)
    best_x, best_f = None, np.inf
    seen = {"peer": 0, "centre": 0, "improved": 0, "raised": 0}
    for g in range(0, 9):
        if g > 0:
            if g >= 2:  # (L8) adaptive rule
                if best_f < prev_best:
                    rho, s, stag = max(0.2, rho - 0.1), max(0.25, s * 0.98), 0
                    seen["improved"] += 1
                else:
                    stag += 1
                    if stag >= patience:
                        rho, s, stag = min(0.9, rho + 0.1), min(4.0, s * 1.5), 0
                        seen["raised"] += 1
            prev_best = best_f
            t = min(g - 1, T - 1)
            E = 2 * (1 - t / T)  # (L1)
            lo, hi = fit.min(), fit.max()
            v = 1.0 / (fit - lo + kappa * (hi - lo))  # (L2)
            w = v / v.sum()
            c = (w[:, None] * pop).sum(axis=0)  # (L3)
            peers = (np.arange(N) + probe.integers(1, N, size=N)) % N
            peer_move = probe.random(N) < rho
            lv = levy(probe, (N, D))
            r = probe.random((N, D))
            nz = probe.standard_normal((N, D))
            xp = pop[peers]
            step_peer = r * (xp - pop) + lv * (best_x - pop)  # (L4)
            step_centre = nz * (c - pop) + lv * (best_x - xp)  # (L5)
            step = np.where(peer_move[:, None], step_peer, step_centre)
            proposal = np.minimum(np.maximum(pop + E * s * step, 0.0), 1.0)  # (L6)
            seen["peer"] += int(peer_move.sum())
            seen["centre"] += int((~peer_move).sum())
        ids, X = ask_generation(opt, batch=4)
        np.testing.assert_allclose(X, proposal, rtol=0, atol=ATOL, err_msg=f"lwaro generation {g}")
        assert (opt.rho_, opt.s_) == pytest.approx((rho, s), abs=1e-15)
        values = objective(X) + (10.0 if g >= 4 else 0.0)  # improvements stop after generation 3
        tell_shuffled(opt, ids, values, order)
        k = int(np.argmin(values))
        if values[k] < best_f:
            best_x, best_f = X[k].copy(), float(values[k])
        better = values < fit  # (L7)
        pop[better], fit[better] = X[better], values[better]
    assert all(v > 0 for v in seen.values()), seen
