"""LWARO's guidance by x_best: version 1.1 against stronger-guidance variants on shifted functions.

Variants (none is an emotune optimizer; they patch ``emotune.search.optimizers._lwaro``
for the run only):

* ``scale=S``: the Levy scale of (L4)-(L5) is ``S`` instead of 0.01;
* ``pull=G``: (L4) becomes ``r (x_p - x_i) + (L + G r') (x_best - x_i)``, ``r' ~ U(0, 1)^D``
  drawn from a generator seeded with the run's seed.

Usage::

    .venv/bin/python bench/lwaro_guidance.py --dim 10 --budget 5000 --seeds 5 \\
        --variants scale=0.01,scale=0.1,scale=0.3,scale=1,pull=0.5,pull=1
    .venv/bin/python bench/lwaro_guidance.py --dim 30 --budget 10000 --seeds 3 \\
        --variants scale=0.01,scale=0.1,pull=0.5

Prints the median best error ``f(x) - f*`` over seeds per function (``scale=0.01`` is LWARO 1.1).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from emotune.search.bench_runner import run_single
from emotune.search.benchmarks import get_function
from emotune.search.optimizers import _lwaro

FUNCTIONS = ("shifted_sphere", "shifted_rastrigin", "shifted_ackley", "shifted_griewank", "shifted_rosenbrock")
ORIGINAL_STEP = _lwaro.lwaro_step


def pulled_step(weight: float, rng: np.random.Generator):
    def step(*, x, x_peer, x_best, centre, levy, r, noise, peer_move, energy, scale):
        step_peer = r * (x_peer - x) + (levy + weight * rng.random(x.shape)) * (x_best - x)
        step_centre = noise * (centre - x) + levy * (x_best - x_peer)
        chosen = np.where(np.asarray(peer_move, dtype=bool)[..., None], step_peer, step_centre)
        return np.clip(x + energy * scale * chosen, 0.0, 1.0)

    return step


def run_variant(variant: str, fn_name: str, dim: int, budget: int, seed: int) -> float:
    kind, value = variant.split("=")
    _lwaro.LEVY_SCALE = float(value) if kind == "scale" else 0.01
    _lwaro.lwaro_step = pulled_step(float(value), np.random.default_rng(seed)) if kind == "pull" else ORIGINAL_STEP
    try:
        return run_single(get_function(fn_name, dim, seed=seed), "lwaro", budget=budget, seed=seed)["best_error"]
    finally:
        _lwaro.LEVY_SCALE, _lwaro.lwaro_step = 0.01, ORIGINAL_STEP


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dim", type=int, default=10)
    parser.add_argument("--budget", type=int, default=5000)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--variants", default="scale=0.01,scale=0.1,pull=0.5")
    args = parser.parse_args()
    print("| variant | " + " | ".join(f[8:] for f in FUNCTIONS) + " |")
    print("|---|" + "---:|" * len(FUNCTIONS))
    for variant in args.variants.split(","):
        medians = [np.median([run_variant(variant, f, args.dim, args.budget, s) for s in range(args.seeds)]) for f in FUNCTIONS]
        print(f"| {variant} | " + " | ".join(f"{m:.3g}" for m in medians) + " |", flush=True)


if __name__ == "__main__":
    main()
