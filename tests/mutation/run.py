"""Mutation check of the optimizers: every named wiring error must make the optimizer tests fail.

Usage (from the repository root, about 2-4 minutes on 2 CPU cores)::

    .venv/bin/python tests/mutation/run.py            # all mutants
    .venv/bin/python tests/mutation/run.py -k aquila  # names containing "aquila"
    .venv/bin/python tests/mutation/run.py --list

For each mutant in ``tests/mutation/mutants.py``: copy ``src/`` to a temporary
folder, apply the one text replacement, and run the optimizer tests
(:data:`TESTS`) against the copy (``PYTHONPATH`` puts it before the installed
package; the run checks that the copy is what gets imported). A mutant is
*killed* when the tests fail (or hang past ``--timeout``), *survived* when they
pass. An unmutated copy must pass first. Prints one line per mutant and, last,
``killed K/N``; exits 0 only when every mutant is killed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

from mutants import MUTANTS, Mutant  # noqa: E402

OPTIMIZERS_DIR = Path("emotune") / "search" / "optimizers"
#: The optimizer tests a mutant must fail (fast ones: the whole set runs in a few seconds).
TESTS = [
    "tests/search/test_generation.py",
    "tests/search/test_generation_rule.py",
    "tests/search/test_ga.py",
    "tests/search/test_pso.py",
    "tests/search/test_aquila.py",
    "tests/search/test_lwaro.py",
    "tests/search/test_cmaes.py",
]


def make_copy(root: Path) -> Path:
    """A copy of ``src/`` under ``root``; returns the copy's ``src`` folder."""
    dst = root / "src"
    # __pycache__ is copied too (copytree keeps mtimes, so only the mutated module is recompiled)
    shutil.copytree(REPO / "src", dst, ignore=shutil.ignore_patterns("*.egg-info"))
    return dst


def apply(src: Path, mutant: Mutant) -> None:
    path = src / OPTIMIZERS_DIR / mutant.path
    text = path.read_text()
    count = text.count(mutant.old)
    if count != 1:
        raise RuntimeError(f"mutant {mutant.name}: expected its text once in {mutant.path}, found it {count} times")
    path.write_text(text.replace(mutant.old, mutant.new))


#: The test file of each optimizer module, run right after test_generation.py (``-x`` stops at the first failure).
OWN_TESTS = {"_pso.py": "test_pso.py", "_aquila.py": "test_aquila.py", "_ga.py": "test_ga.py",
             "_lwaro.py": "test_lwaro.py", "_cmaes.py": "test_cmaes.py", "_base.py": "test_generation_rule.py"}


def run_tests(src: Path, timeout: float, first: str | None = None) -> tuple[str, float]:
    """``"pass"``, ``"fail"`` or ``"timeout"`` of the optimizer tests against the copy, and seconds."""
    env = dict(os.environ, PYTHONPATH=str(src), HF_HUB_OFFLINE="1", MPLBACKEND="Agg")
    tests = [t for t in TESTS if (REPO / t).exists()]
    if first is not None:
        tests.sort(key=lambda t: (not t.endswith("test_generation.py"), not t.endswith(first)))
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m", "not slow", *tests]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", time.perf_counter() - t0
    return ("pass" if proc.returncode == 0 else "fail"), time.perf_counter() - t0


def imported_from(src: Path) -> str:
    env = dict(os.environ, PYTHONPATH=str(src))
    out = subprocess.run(
        [sys.executable, "-c", "import emotune.search.optimizers as m; print(m.__file__)"],
        cwd=REPO, env=env, capture_output=True, text=True, check=True,
    )
    return out.stdout.strip()


def check_mutant(mutant: Mutant, timeout: float) -> tuple[Mutant, str, float]:
    with tempfile.TemporaryDirectory(prefix=f"mutant-{mutant.name}-") as tmp:
        src = make_copy(Path(tmp))
        apply(src, mutant)
        outcome, seconds = run_tests(src, timeout, first=OWN_TESTS.get(mutant.path))
    return mutant, outcome, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-k", default="", help="only mutants whose name contains this")
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested at once")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds before a test run counts as hung")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = parser.parse_args(argv)

    mutants = [m for m in MUTANTS if args.k in m.name]
    if args.list:
        for m in mutants:
            print(f"{m.name:34s} {m.path}")
        return 0
    names = [m.name for m in MUTANTS]
    if len(set(names)) != len(names):
        print("duplicate mutant names", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="mutant-baseline-") as tmp:
        src = make_copy(Path(tmp))
        where = imported_from(src)
        if not where.startswith(str(src)):
            print(f"the copy is not what gets imported ({where}); cannot test mutants", file=sys.stderr)
            return 2
        for m in mutants:  # every mutant's text must still be in the source
            apply(make_copy(Path(tempfile.mkdtemp(dir=tmp))), m)
        outcome, seconds = run_tests(src, args.timeout)
    print(f"baseline (no mutant): tests {outcome} in {seconds:.1f} s", flush=True)
    if outcome != "pass":
        print("the unmutated code must pass the tests first", file=sys.stderr)
        return 2

    killed = 0
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for mutant, outcome, seconds in pool.map(lambda m: check_mutant(m, args.timeout), mutants):
            dead = outcome in ("fail", "timeout")
            killed += dead
            verdict = "killed  " if dead else "SURVIVED"
            print(f"{verdict} {mutant.name:34s} ({outcome}, {seconds:.1f} s)", flush=True)
    print(f"killed {killed}/{len(mutants)}")
    return 0 if killed == len(mutants) else 1


if __name__ == "__main__":
    sys.exit(main())
