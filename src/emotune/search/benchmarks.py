"""Classic test functions for optimizers, with shifted and rotated variants.

Every function is pure NumPy and vectorized over a batch: it takes float64
points of shape ``(n, d)`` and returns float64 values of shape ``(n,)``.

Why the variants matter: most classic functions have their optimum at the
centre of the box (or on a diagonal), and many metaheuristics look good only
because their operators are drawn towards the centre or towards the origin
(Kudela, "A critical problem in benchmarking and analysis of evolutionary
computation methods", Nature Machine Intelligence 4, 2022). Compare
optimizers on the ``shifted_*`` and ``shifted_rotated_*`` variants.

Variants, for a base function ``f_b`` with optimum ``x*_b`` and domain
``[lo, hi]^d``:

* ``shifted_<name>``: the optimum is moved to a seeded point ``o`` drawn
  uniformly from the central 80% of the domain
  (``o = lo + (hi - lo) * (0.1 + 0.8 u)``, ``u ~ U[0, 1]^d``), so
  ``f(x) = f_b(x - o + x*_b)``. The domain stays ``[lo, hi]^d``, so the new
  optimum is always inside it, at least 10% of the width from every edge.
* ``rotated_<name>``: ``f(x) = f_b(R (x - x*_b) + x*_b)`` with ``R`` a seeded
  random rotation (Haar-distributed, ``det R = +1``), so the optimum stays put
  and separable functions become non-separable.
* ``shifted_rotated_<name>``: both, ``f(x) = f_b(R (x - o) + x*_b)``.

The point handed to ``f_b``, ``z = R (x - o) + x*_b``, can leave ``[lo, hi]``.
That is harmless for functions whose minimum over all of ``R^d`` is ``f*``
(sphere, ellipsoid, Rosenbrock, Ackley, Griewank, Rastrigin, Easom). Schwefel
2.26 and Holder table get *lower* outside their domain, so for those two
(``fold=True``) ``z`` is reflected back into ``[lo, hi]`` coordinate by
coordinate (a mirror at each edge, which keeps the function continuous). Hence
``f(x*) = f*`` and ``f(x) >= f*`` for every ``x`` and every variant.

The shift and the rotation come from two independent streams of
``numpy.random.SeedSequence(seed)``: for one seed, ``shifted_X`` and
``shifted_rotated_X`` share the same ``o``, and every call repeats exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from emotune._registry import Registry
from emotune.exceptions import ConfigError

__all__ = [
    "BaseFunction",
    "BenchmarkFunction",
    "BASE_FUNCTIONS",
    "FUNCTIONS",
    "FunctionSpec",
    "get_function",
    "list_functions",
    "random_rotation",
    "random_shift",
    # pure base functions, (n, d) -> (n,)
    "sphere",
    "ellipsoid",
    "rosenbrock",
    "schwefel_226",
    "ackley",
    "griewank",
    "rastrigin",
    "holder_table",
    "easom",
]

# Schwefel 2.26: the maximum of g(x) = x sin(sqrt|x|) on [-500, 500] is where
# tan(s) = -s / 2, s = sqrt(x) (solved to machine precision with brentq).
_SCHWEFEL_X = 420.9687463599821
_SCHWEFEL_C = 418.98288727243374  # g(_SCHWEFEL_X)
# Holder table: one of its four symmetric optima (Nelder-Mead, xatol 1e-14).
_HOLDER_X = (8.05502346908747, 9.664590028831487)
_HOLDER_F = -19.208502567886747


# --- pure base functions: X float64 (n, d) -> float64 (n,) --------------------
def sphere(X: np.ndarray) -> np.ndarray:
    """``sum x_i^2``; f* = 0 at 0."""
    return np.sum(X**2, axis=1)


def ellipsoid(X: np.ndarray) -> np.ndarray:
    """Axis-parallel hyper-ellipsoid ``sum i x_i^2`` (i from 1); f* = 0 at 0."""
    i = np.arange(1, X.shape[1] + 1, dtype=float)
    return np.sum(i * X**2, axis=1)


def rosenbrock(X: np.ndarray) -> np.ndarray:
    """``sum 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2``; f* = 0 at ones (d >= 2)."""
    a, b = X[:, :-1], X[:, 1:]
    return np.sum(100.0 * (b - a**2) ** 2 + (1.0 - a) ** 2, axis=1)


def schwefel_226(X: np.ndarray) -> np.ndarray:
    """Schwefel 2.26, ``418.98 d - sum x_i sin(sqrt|x_i|)``; f* = 0 at 420.9687... (in [-500, 500])."""
    return _SCHWEFEL_C * X.shape[1] - np.sum(X * np.sin(np.sqrt(np.abs(X))), axis=1)


def ackley(X: np.ndarray) -> np.ndarray:
    """``-20 exp(-0.2 sqrt(mean x^2)) - exp(mean cos 2 pi x) + 20 + e``; f* = 0 at 0."""
    r = np.sqrt(np.mean(X**2, axis=1))
    c = np.mean(np.cos(2.0 * np.pi * X), axis=1)
    return -20.0 * np.exp(-0.2 * r) - np.exp(c) + 20.0 + np.e


def griewank(X: np.ndarray) -> np.ndarray:
    """``1 + sum x_i^2 / 4000 - prod cos(x_i / sqrt(i))``; f* = 0 at 0."""
    i = np.arange(1, X.shape[1] + 1, dtype=float)
    return 1.0 + np.sum(X**2, axis=1) / 4000.0 - np.prod(np.cos(X / np.sqrt(i)), axis=1)


def rastrigin(X: np.ndarray) -> np.ndarray:
    """``10 d + sum x_i^2 - 10 cos(2 pi x_i)``; f* = 0 at 0."""
    return 10.0 * X.shape[1] + np.sum(X**2 - 10.0 * np.cos(2.0 * np.pi * X), axis=1)


def holder_table(X: np.ndarray) -> np.ndarray:
    """2-D only, ``-|sin x1 cos x2 exp(|1 - |x| / pi|)|``; f* = -19.2085 at (+-8.055, +-9.665)."""
    x1, x2 = X[:, 0], X[:, 1]
    r = np.sqrt(x1**2 + x2**2)
    return -np.abs(np.sin(x1) * np.cos(x2) * np.exp(np.abs(1.0 - r / np.pi)))


def easom(X: np.ndarray) -> np.ndarray:
    """2-D only, ``-cos x1 cos x2 exp(-((x1 - pi)^2 + (x2 - pi)^2))``; f* = -1 at (pi, pi)."""
    x1, x2 = X[:, 0], X[:, 1]
    return -np.cos(x1) * np.cos(x2) * np.exp(-((x1 - np.pi) ** 2 + (x2 - np.pi) ** 2))


# --- base-function table --------------------------------------------------------
@dataclass(frozen=True)
class BaseFunction:
    """A classic function with its domain ``[lower, upper]^d`` and optimum.

    ``x_star(d)`` returns float64 shape ``(d,)``. ``fixed_dim`` is set for
    functions defined in one dimension only; ``fold`` marks functions that get
    lower outside their domain (arguments are reflected back, see the module
    docstring).
    """

    name: str
    func: Callable[[np.ndarray], np.ndarray]
    lower: float
    upper: float
    f_star: float
    x_star: Callable[[int], np.ndarray]
    fixed_dim: int | None = None
    min_dim: int = 1
    fold: bool = False

    def check_dim(self, dim: int) -> None:
        if self.fixed_dim is not None and dim != self.fixed_dim:
            raise ConfigError(f"{self.name} is defined for dim == {self.fixed_dim} only, got dim={dim}")
        if dim < self.min_dim:
            raise ConfigError(f"{self.name} needs dim >= {self.min_dim}, got dim={dim}")

    def supports(self, dim: int) -> bool:
        return (self.fixed_dim is None or dim == self.fixed_dim) and dim >= self.min_dim


BASE_FUNCTIONS: Registry[BaseFunction] = Registry("base benchmark function")

for _b in (
    BaseFunction("sphere", sphere, -5.12, 5.12, 0.0, lambda d: np.zeros(d)),
    BaseFunction("ellipsoid", ellipsoid, -5.12, 5.12, 0.0, lambda d: np.zeros(d)),
    BaseFunction("rosenbrock", rosenbrock, -5.0, 10.0, 0.0, lambda d: np.ones(d), min_dim=2),
    BaseFunction("schwefel", schwefel_226, -500.0, 500.0, 0.0, lambda d: np.full(d, _SCHWEFEL_X), fold=True),
    BaseFunction("ackley", ackley, -32.768, 32.768, 0.0, lambda d: np.zeros(d)),
    BaseFunction("griewank", griewank, -600.0, 600.0, 0.0, lambda d: np.zeros(d)),
    BaseFunction("rastrigin", rastrigin, -5.12, 5.12, 0.0, lambda d: np.zeros(d)),
    BaseFunction(
        "holder_table", holder_table, -10.0, 10.0, _HOLDER_F, lambda d: np.array(_HOLDER_X), fixed_dim=2, fold=True
    ),
    BaseFunction("easom", easom, -100.0, 100.0, -1.0, lambda d: np.full(d, np.pi), fixed_dim=2),
):
    BASE_FUNCTIONS.add(_b.name, _b)


@dataclass(frozen=True)
class FunctionSpec:
    """A registered name: a base function and which transforms apply."""

    base: str
    shifted: bool = False
    rotated: bool = False


FUNCTIONS: Registry[FunctionSpec] = Registry("benchmark function")

_PREFIXES = {"": (False, False), "shifted_": (True, False), "rotated_": (False, True), "shifted_rotated_": (True, True)}
for _name in BASE_FUNCTIONS:
    for _prefix, (_s, _r) in _PREFIXES.items():
        FUNCTIONS.add(_prefix + _name, FunctionSpec(_name, shifted=_s, rotated=_r))


# --- seeded transforms ------------------------------------------------------------
def _streams(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    shift_ss, rot_ss = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(shift_ss), np.random.default_rng(rot_ss)


def random_shift(lower: np.ndarray, upper: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A point uniform in the central 80% of ``[lower, upper]`` (float64, shape ``(d,)``)."""
    u = rng.random(lower.shape)
    return lower + (upper - lower) * (0.1 + 0.8 * u)


def random_rotation(dim: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-random rotation matrix (float64, shape ``(d, d)``, orthogonal, ``det = +1``).

    QR of a standard Gaussian matrix with the signs of ``diag(R)`` folded into
    ``Q`` (Mezzadri 2007), then one column flipped if ``det Q = -1``.
    """
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    q = q * np.where(np.diag(r) < 0, -1.0, 1.0)
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def _reflect(Z: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Mirror every coordinate of ``Z`` back into ``[lo, hi]`` (values inside are returned unchanged)."""
    w = hi - lo
    folded = lo + w - np.abs(np.mod(Z - lo, 2.0 * w) - w)
    return np.where((Z >= lo) & (Z <= hi), Z, folded)


# --- the object optimizers are tested on --------------------------------------------
class BenchmarkFunction:
    """A test function instance in a fixed dimension: callable on a batch of points.

    Build it with :func:`get_function`. Attributes: ``name``, ``dim``,
    ``lower``/``upper`` (float64, shape ``(d,)``), ``f_star`` (float),
    ``x_star`` (float64, shape ``(d,)``), ``shift`` (``x_star`` of a shifted
    variant, else ``None``), ``rotation`` (``(d, d)`` or ``None``), ``seed``.
    """

    def __init__(
        self,
        name: str,
        dim: int,
        base: BaseFunction,
        *,
        shift: np.ndarray | None = None,
        rotation: np.ndarray | None = None,
        seed: int = 0,
    ) -> None:
        self.name = name
        self.dim = int(dim)
        self.base = base
        self.seed = seed
        self.lower = np.full(self.dim, base.lower, dtype=float)
        self.upper = np.full(self.dim, base.upper, dtype=float)
        self.f_star = float(base.f_star)
        self._base_x_star = np.asarray(base.x_star(self.dim), dtype=float)
        self.shift = shift
        self.rotation = rotation
        self.x_star = self._base_x_star.copy() if shift is None else np.asarray(shift, dtype=float).copy()

    def __call__(self, X: np.ndarray) -> np.ndarray | float:
        """Values at ``X`` (float64, shape ``(n, d)`` -> ``(n,)``; a single ``(d,)`` point gives a float)."""
        X = np.asarray(X, dtype=float)
        single = X.ndim == 1
        X2 = X.reshape(1, -1) if single else X
        if X2.ndim != 2 or X2.shape[1] != self.dim:
            raise ConfigError(f"{self.name} expects points of shape (n, {self.dim}), got {X.shape}")
        Z = X2 - self.x_star
        if self.rotation is not None:
            Z = Z @ self.rotation.T
        Z = Z + self._base_x_star
        if self.base.fold:
            Z = _reflect(Z, self.base.lower, self.base.upper)
        values = self.base.func(Z)
        return float(values[0]) if single else values

    def error(self, X: np.ndarray) -> np.ndarray | float:
        """``f(X) - f*`` (>= 0 up to rounding)."""
        return self(X) - self.f_star

    def from_unit(self, U: np.ndarray) -> np.ndarray:
        """Map unit-box points (float64, ``(..., d)`` in ``[0, 1]``) to the domain: ``lower + U (upper - lower)``."""
        return self.lower + np.asarray(U, dtype=float) * (self.upper - self.lower)

    def to_unit(self, X: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`from_unit`."""
        return (np.asarray(X, dtype=float) - self.lower) / (self.upper - self.lower)

    def __repr__(self) -> str:
        return f"BenchmarkFunction({self.name!r}, dim={self.dim}, seed={self.seed})"


def get_function(name: str, dim: int, seed: int = 0) -> BenchmarkFunction:
    """The registered function ``name`` in ``dim`` dimensions.

    Args:
        name: a name from :data:`FUNCTIONS`, e.g. ``"rastrigin"``,
            ``"shifted_ackley"``, ``"shifted_rotated_griewank"``.
        dim: number of dimensions (2-D-only functions accept 2 only).
        seed: seeds the shift and the rotation; the same seed gives the same function.
    """
    spec = FUNCTIONS.get(name)
    base = BASE_FUNCTIONS.get(spec.base)
    dim = int(dim)
    base.check_dim(dim)
    shift_rng, rot_rng = _streams(int(seed))
    lower = np.full(dim, base.lower, dtype=float)
    upper = np.full(dim, base.upper, dtype=float)
    shift = random_shift(lower, upper, shift_rng) if spec.shifted else None
    rotation = random_rotation(dim, rot_rng) if spec.rotated else None
    return BenchmarkFunction(name, dim, base, shift=shift, rotation=rotation, seed=int(seed))


def list_functions(dim: int | None = None) -> list[str]:
    """Registered names, or only those defined in ``dim`` dimensions."""
    names = FUNCTIONS.names()
    if dim is None:
        return names
    return [n for n in names if BASE_FUNCTIONS.get(FUNCTIONS.get(n).base).supports(int(dim))]
