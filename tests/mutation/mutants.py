"""Named wiring errors for the optimizers: each is one exact text replacement in one file.

Every mutant is a plausible mistake when wiring a paper's equation into code (a
swapped coefficient, a wrong operand, a dropped rule). Most keep the random draws
unchanged, so a test can only kill them by checking *what the draws are used
for*. ``tests/mutation/run.py`` applies them one at a time to a copy of ``src/``.
"""

from __future__ import annotations

from typing import NamedTuple


class Mutant(NamedTuple):
    name: str
    path: str  # relative to src/emotune/search/optimizers/
    old: str  # must occur exactly once in the file
    new: str


MUTANTS: list[Mutant] = [
    # --- improved PSO / PSO -----------------------------------------------------------------
    Mutant("ipso_swap_c1_c2", "_pso.py", "        return w, c1, c2\n", "        return w, c2, c1\n"),
    Mutant("ipso_t_minus_1", "_pso.py", "w, c1, c2 = self.coefficients(self.generation)",
           "w, c1, c2 = self.coefficients(self.generation - 1)"),
    Mutant("pso_swap_r1_r2", "_pso.py", "self.v_, self.x_, self.pbest_x_, self.gbest_, r1, r2,",
           "self.v_, self.x_, self.pbest_x_, self.gbest_, r2, r1,"),
    Mutant("pso_gbest_is_worst", "_pso.py", "return self.pbest_x_[int(np.argmin(self.pbest_f_))]",
           "return self.pbest_x_[int(np.argmax(self.pbest_f_))]"),
    Mutant("pso_no_velocity_clamp", "_pso.py", "return np.clip(new_v, -v_max, v_max)  # velocity clamping",
           "return new_v  # velocity clamping"),
    Mutant("pso_wall_keeps_velocity", "_pso.py", "return np.clip(moved, 0.0, 1.0), np.where(out, 0.0, v)",
           "return np.clip(moved, 0.0, 1.0), v"),
    Mutant("pso_pbest_always_replaced", "_pso.py", "better = values < self.pbest_f_[slots]  # eq. 8",
           "better = values == values  # eq. 8"),
    # --- Aquila ----------------------------------------------------------------------------------
    Mutant("aquila_rand_per_dimension_eq3", "_aquila.py",
           "x1 = expanded_exploration(x_best=x_best, x_mean=x_mean, t=t, T=T, rand=rng.random((n, 1)))",
           "x1 = expanded_exploration(x_best=x_best, x_mean=x_mean, t=t, T=T, rand=rng.random((n, d)))"),
    Mutant("aquila_xbest_for_x_eq14", "_aquila.py", "                x=pop,\n", "                x=x_best,\n"),
    Mutant("aquila_xm_is_xbest", "_aquila.py", "x_mean = pop.mean(axis=0)  # eq. 4", "x_mean = x_best  # eq. 4"),
    Mutant("aquila_g2_t_minus_1", "_aquila.py", "g2 = g2_flight_slope(t=t, T=T)", "g2 = g2_flight_slope(t=t - 1, T=T)"),
    Mutant("aquila_xr_is_self", "_aquila.py", "x_r = pop[rng.integers(0, n, size=n)]",
           "x_r = pop + 0 * rng.integers(0, n, size=n)[:, None]"),
    Mutant("aquila_phase_switch_strict", "_aquila.py", "if t <= 2 * T / 3:", "if t < 2 * T / 3:"),
    Mutant("aquila_no_greedy_replacement", "_aquila.py", "better = values < self.fit_[slots]  # greedy replacement",
           "better = values == values  # greedy replacement"),
    Mutant("aquila_eq13_plus_rand", "_aquila.py", "* alpha - rand1 + ((ub - lb) * rand2 + lb) * delta  # eq. 13",
           "* alpha + rand1 + ((ub - lb) * rand2 + lb) * delta  # eq. 13"),
    Mutant("aquila_eq13_unit_bounds", "_aquila.py", "rand2=rng.random((n, 1)), lb=lb, ub=ub", "rand2=rng.random((n, 1))"),
    Mutant("aquila_default_unit_domain", "_aquila.py",
           "default_domain: ClassVar[tuple[float, float]] = (-100.0, 100.0)",
           "default_domain: ClassVar[tuple[float, float]] = (0.0, 1.0)"),
    Mutant("aquila_one_choice_for_all", "_aquila.py", "expanded = rng.random(n) < 0.5",
           "expanded = np.full(n, rng.random(n)[0] < 0.5)"),
    # --- GA ------------------------------------------------------------------------------------------
    Mutant("ga_constant_mutation_rate", "_ga.py",
           "p_m = mutation_rate(g, self.max_generations, self.p_m0, self.p_m_min)  # GA-(5)",
           "p_m = self.p_m0  # GA-(5)"),
    Mutant("ga_parents_not_distinct", "_ga.py", "keys2[np.arange(n), a] = np.inf", "pass"),
    Mutant("ga_copy_parent_1", "_ga.py", "copied = self.population_[rng.integers(0, pop, size=n)]",
           "copied = p1 + 0 * rng.integers(0, pop, size=n)[:, None].astype(np.uint8)"),
    Mutant("ga_crossover_parents_swapped", "_ga.py", "crossed = segment_crossover(p1, p2, cut1, cut2)",
           "crossed = segment_crossover(p2, p1, cut1, cut2)"),
    Mutant("ga_tournament_picks_worst", "_ga.py",
           "best = np.argmin(np.asarray(values, dtype=float)[candidates], axis=1)  # GA-(2)",
           "best = np.argmax(np.asarray(values, dtype=float)[candidates], axis=1)  # GA-(2)"),
    Mutant("ga_no_elitism", "_ga.py", "keep = rank_select(pool_values, self.pop_size, self.elite, self.rng)",
           "keep = rank_select(pool_values, self.pop_size, 0, self.rng)"),
    Mutant("ga_uniform_selection", "_ga.py", "weights = np.arange(m, 0, -1, dtype=float)  # best of the rest m, worst 1",
           "weights = np.ones(m)  # best of the rest m, worst 1"),
    # --- LWARO ---------------------------------------------------------------------------------------
    Mutant("lwaro_rho_inverted", "_lwaro.py", "peer_move = rng.random(n) < self.rho_",
           "peer_move = rng.random(n) >= self.rho_"),
    Mutant("lwaro_fixed_step_scale", "_lwaro.py", "            scale=self.s_,\n", "            scale=0.5,\n"),
    Mutant("lwaro_unweighted_centre", "_lwaro.py", "centre = w @ self.pop_  # (L3)",
           "centre = self.pop_.mean(axis=0)  # (L3)"),
    Mutant("lwaro_xbest_is_worst", "_lwaro.py",
           "x_best = self.best_x if self.best_x is not None else self.pop_[int(np.argmin(self.fit_))]",
           "x_best = self.pop_[int(np.argmax(self.fit_))]"),
    Mutant("lwaro_energy_counts_from_1", "_lwaro.py", "t = min(self.generation - 1, T - 1)",
           "t = min(self.generation, T)"),
    Mutant("lwaro_never_adapts", "_lwaro.py", "        if self.generation >= 2:\n", "        if False:\n"),
    Mutant("lwaro_peer_is_self", "_lwaro.py", "x_peer=self.pop_[peers],", "x_peer=self.pop_,"),
    Mutant("lwaro_no_greedy_replacement", "_lwaro.py", "better = values < self.fit_[slots]  # (L7)",
           "better = values == values  # (L7)"),
    # --- CMA-ES (the cmaes package's wrapper) -----------------------------------------------------
    Mutant("cmaes_sigma0", "_cmaes.py", "SIGMA0 = 1.0 / 6.0", "SIGMA0 = 0.3"),
    Mutant("cmaes_mean_off_centre", "_cmaes.py", "self.cma_ = self._new_cma(np.full(self.dim, 0.5))",
           "self.cma_ = self._new_cma(np.full(self.dim, 0.4))"),
    Mutant("cmaes_failures_rank_first", "_cmaes.py", "v[~finite] = worst + max(1.0, abs(worst))",
           "v[~finite] = worst - 1e9"),
    Mutant("cmaes_rng_not_restored", "_cmaes.py", "            self.cma_._rng.set_state(rng_state)\n",
           "            pass\n"),
    Mutant("cmaes_cov_mirrored_on_load", "_cmaes.py", "            self.cma_._C = np.array(cov)\n", "            pass\n"),
    # --- the base: generation rule and failures --------------------------------------------------
    Mutant("base_generation_closes_early", "_base.py",
           "if self._gen_told < len(self._queue):  # generation still open",
           "if False:  # generation still open"),
    Mutant("base_minus_inf_is_best", "_base.py", "v[~np.isfinite(v)] = np.inf", "v[np.isnan(v)] = np.inf"),
]
