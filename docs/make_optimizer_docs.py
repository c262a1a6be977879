"""Print docs/optimizers.md from the optimizer modules' docstrings (they are the definitions)."""

import importlib

MODULES = [
    ("random", "_random"),
    ("ga", "_ga"),
    ("pso / ipso", "_pso"),
    ("aquila / aquila_unit", "_aquila"),
    ("lwaro", "_lwaro"),
    ("cmaes", "_cmaes"),
    ("tpe", "_tpe"),
]

HEADER = """# Optimizers

Every optimizer works in the unit box `[0, 1]^d`, minimises, and follows the ask/tell contract of
`emotune.search.optimizers._base` (`ask_batch`/`tell_batch` on arrays, `ask`/`tell` for one
candidate at a time, `state_dict`/`load_state_dict`). A `Space` maps the box to typed parameters;
`Study` negates values for maximisation.

This page is generated from the module docstrings, which are the definitions:
`.venv/bin/python docs/make_optimizer_docs.py > docs/optimizers.md`.

## Failures

A non-finite value of either sign (`nan`, `+inf`, `-inf`) is a failed trial: `Study` records it as
failed with the reason (`objective returned inf`), and the optimizer is told the worst value
(`+inf`). So in a maximising study an objective that returns `+inf` is never the best trial.

## The generation rule (no result is lost)

A *generation* is the block of candidates an optimizer proposes from one state. It **closes only
when every one of its members has been told** (a failure is told too). `ask_batch(n)` hands out at
most the members of the open generation not yet handed out; once they are all out, it returns
**fewer than `n` candidates, possibly none**, until the outstanding ones are told. The next
generation is built on the first ask after the close, from all results of the closed one. Tells
may arrive in any order and grouping: the run is the same (tested with batches of 3, 7, 8 and 13
against a population of 10 in `tests/search/test_generation_rule.py`).

| optimizer | generation | what waits for the close |
|---|---|---|
| `random` | none: every ask is answered in full | nothing |
| `tpe` | none: Optuna samples each trial from the results told so far (pending ones are known to Optuna as running) | nothing |
| `ga` | `pop_size` children (default 20) | rank selection over parents + children, which needs every child's value |
| `pso`, `ipso` | one move of all `pop_size` particles (default 20) | personal bests and `gbest` used by the next move |
| `aquila`, `aquila_unit` | one move of all `N` agents (default 20) | greedy replacement, `X_best`, `X_M` |
| `lwaro` | one move of all `N` agents (default 8) | greedy replacement, weighted centre, the adaptive rule |
| `cmaes` | `lambda = 4 + floor(3 ln d)` samples (10 at d = 10) | `cmaes.CMA.tell` needs all `lambda` results |

For parallel workers: at most one generation is in flight, so with `W` workers and a population
`N`, up to `N` trials run at once; when `N` is not a multiple of `W`, some workers idle at each
generation's end (an executor must handle an empty ask by waiting for a running trial). A
candidate that is never told keeps its generation open: tell it as failed (e.g. when a worker
dies) to move on.

## Checking the wiring

`tests/search/test_generation.py` runs several full generations of `ga`, `pso`, `ipso`, `aquila`,
`aquila_unit` and `lwaro` and recomputes every expected population in the test, from a copied
`numpy.random.Generator` and the equations written out again (every branch: Aquila's four moves,
GA crossover and copy, LWARO's two steps and both adaptive moves, PSO clamping and walls);
`tests/search/test_cmaes.py` does the same for `cmaes` against a hand-driven `cmaes.CMA`.
`.venv/bin/python tests/mutation/run.py` applies 40 named wiring errors (`tests/mutation/mutants.py`:
swapped IPSO coefficients, Aquila's `rand` per dimension, `X_best` for `X` in eq. 14, `X_M := X_best`,
`G2` with `t - 1`, `X_R :=` the agent, a constant GA mutation rate, parents not distinct, copying
parent 1, LWARO's inverted `rho`, fixed step scale, unweighted centre, worst agent as `x_best`, a
generation closing early, `-inf` as the best value, ...) one at a time to a temporary copy of `src/`,
runs the optimizer tests against it, and exits 0 only when every mutant is killed (last line
`killed K/N`; `--list` names them, `-k` picks some). Add a mutant with every new update rule.

## What to expect from Aquila on a hyperparameter space

`aquila` runs the paper's equations in `[-100, 100]^D`, the domain of the paper's benchmarks,
mapped affinely to the unit box; `aquila_unit` runs them in the unit box itself, where about half
of all proposed coordinates land on a face of the box. Both keep the algorithm's pull toward the
centre of the box: on unshifted functions (optimum at the centre) `aquila` reaches errors of
about 0, and on the same functions shifted to a random point it is no better than random search
(the tables in `bench/README.md`, "Optimizers, 10,000 evaluations"). A hyperparameter space's
optimum is rarely at the centre of its ranges, so expect `aquila` to behave like its shifted
rows, not like the paper's benchmarks; prefer `pso`, `ga`, `lwaro` or `cmaes` when the
optimum may be anywhere, and use `aquila` to reproduce the Aquila papers.
"""


def main() -> None:
    parts = [HEADER]
    for title, module in MODULES:
        doc = importlib.import_module(f"emotune.search.optimizers.{module}").__doc__ or ""
        parts.append(f"## `{title}` (`src/emotune/search/optimizers/{module}.py`)\n\n{doc.strip()}\n")
    print("\n".join(parts))


if __name__ == "__main__":
    main()
