"""Statistics of a comparison: per-arm summaries, paired tests against a reference, ranks.

Every arm of a comparison is run with the same seeds (and the same splits for each
seed), so the results are *paired* by seed: ``values[arm]`` is a float array of
shape ``(n_seeds,)`` whose ``i``-th entry comes from seed ``i`` in every arm.

* :func:`summarize` -- mean, standard deviation (``ddof=1``), median and quartiles;
* :func:`compare_to_reference` -- for each arm against a named reference arm: the
  Wilcoxon signed-rank test (:func:`scipy.stats.wilcoxon`, two-sided), Holm's
  step-down correction over the arms, the matched-pairs rank-biserial correlation
  as effect size, and a bootstrap interval of the mean paired difference
  (:func:`scipy.stats.bootstrap`, BCa);
* :func:`friedman` -- the Friedman test (:func:`scipy.stats.friedmanchisquare`)
  over three or more arms, average ranks, and the Nemenyi critical difference
  (Demšar, "Statistical comparisons of classifiers over multiple data sets",
  JMLR 7, 2006) for the critical-difference diagram.

With ``n`` pairs the smallest two-sided p-value the exact Wilcoxon test can reach
is ``2 / 2**n`` (all differences of one sign), so with five seeds or fewer no
difference can be significant at 0.05; :func:`min_wilcoxon_p` says so and the
results carry a plain ``note``.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from emotune.exceptions import ConfigError

__all__ = [
    "summarize",
    "holm",
    "rank_biserial",
    "min_wilcoxon_p",
    "paired_bootstrap_interval",
    "compare_to_reference",
    "average_ranks",
    "critical_difference",
    "friedman",
]


def _array(values: Sequence[float], name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float).ravel()
    if arr.size == 0:
        raise ConfigError(f"{name} has no values")
    return arr


def summarize(values: Sequence[float]) -> dict[str, float]:
    """Mean, std (``ddof=1``; 0 for one value), median, quartiles, min, max and count of finite values.

    Non-finite values (failed runs) are counted in ``failed`` and left out.
    """
    arr = _array(values, "values")
    ok = arr[np.isfinite(arr)]
    if ok.size == 0:
        return {"n": 0, "failed": int(arr.size), "mean": math.nan, "std": math.nan, "median": math.nan,
                "q25": math.nan, "q75": math.nan, "min": math.nan, "max": math.nan}
    q25, med, q75 = np.percentile(ok, [25, 50, 75])
    return {
        "n": int(ok.size),
        "failed": int(arr.size - ok.size),
        "mean": float(ok.mean()),
        "std": float(ok.std(ddof=1)) if ok.size > 1 else 0.0,
        "median": float(med),
        "q25": float(q25),
        "q75": float(q75),
        "min": float(ok.min()),
        "max": float(ok.max()),
    }


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values, in the input order.

    ``p_(i)`` sorted ascending becomes ``max_{j<=i} min(1, (m - j + 1) p_(j))``;
    reject hypothesis ``i`` at level ``alpha`` iff its adjusted p is ``<= alpha``.
    NaN p-values (tests that could not be run) stay NaN and do not count in ``m``.
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    valid = np.flatnonzero(np.isfinite(p))
    m = valid.size
    if m == 0:
        return out
    order = valid[np.argsort(p[valid], kind="stable")]
    adjusted = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(adjusted)
    return out


def rank_biserial(differences: Sequence[float]) -> float:
    """Matched-pairs rank-biserial correlation ``(W+ - W-) / (W+ + W-)`` in [-1, 1].

    Zero differences are dropped (Wilcoxon's ``zero_method="wilcox"``); ranks of
    ``|d|`` are averaged over ties. +1: every pair favours the first sample.
    """
    from scipy.stats import rankdata

    d = np.asarray(differences, dtype=float)
    d = d[np.isfinite(d) & (d != 0)]
    if d.size == 0:
        return 0.0
    ranks = rankdata(np.abs(d))
    w_plus, w_minus = ranks[d > 0].sum(), ranks[d < 0].sum()
    return float((w_plus - w_minus) / (w_plus + w_minus))


def min_wilcoxon_p(n: int) -> float:
    """The smallest two-sided p-value of the exact Wilcoxon signed-rank test with ``n`` non-zero pairs."""
    return min(1.0, 2.0 / 2.0 ** int(n)) if n > 0 else 1.0


def paired_bootstrap_interval(
    differences: Sequence[float], *, confidence: float = 0.95, n_resamples: int = 9999, seed: int = 0
) -> tuple[float, float]:
    """A BCa bootstrap interval of the mean of paired differences (``scipy.stats.bootstrap``).

    Falls back to the percentile method when BCa is undefined (e.g. every
    difference equal) and returns ``(d, d)`` for constant differences.
    """
    from scipy.stats import bootstrap

    d = np.asarray(differences, dtype=float)
    d = d[np.isfinite(d)]
    if d.size < 2:
        return (math.nan, math.nan)
    if np.all(d == d[0]):
        return (float(d[0]), float(d[0]))
    rng = np.random.default_rng(seed)
    res = bootstrap((d,), np.mean, confidence_level=confidence, n_resamples=n_resamples, method="BCa",
                    random_state=rng)
    low, high = res.confidence_interval
    if not (np.isfinite(low) and np.isfinite(high)):
        res = bootstrap((d,), np.mean, confidence_level=confidence, n_resamples=n_resamples,
                        method="percentile", random_state=np.random.default_rng(seed))
        low, high = res.confidence_interval
    return (float(low), float(high))


def _paired(values: Mapping[str, Sequence[float]]) -> dict[str, np.ndarray]:
    arrays = {name: _array(v, f"arm {name!r}") for name, v in values.items()}
    lengths = {name: a.size for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ConfigError(f"paired statistics need the same number of seeds in every arm, got {lengths}")
    return arrays


def compare_to_reference(
    values: Mapping[str, Sequence[float]],
    reference: str,
    *,
    higher_is_better: bool,
    alpha: float = 0.05,
    seed: int = 0,
) -> dict[str, Any]:
    """Each arm against ``reference``, paired by seed.

    Args:
        values: arm name -> float array of shape ``(n_seeds,)``, the same seed order in every arm.
        reference: the arm every other arm is compared with.
        higher_is_better: the metric's direction (accuracy: True; error: False).

    Returns:
        ``{"reference", "alpha", "n_pairs", "note", "rows": [...]}``; one row per other arm with
        ``arm, n, mean_diff, median_diff, ci_low, ci_high, statistic, p_value, p_holm,
        effect_size, significant, better``. ``mean_diff`` is ``arm - reference``; ``effect_size``
        (rank-biserial) and ``better`` are oriented so that positive means the arm is better.
        Pairs with a non-finite value in either arm are left out of that arm's test.
    """
    from scipy.stats import wilcoxon

    arrays = _paired(values)
    if reference not in arrays:
        raise ConfigError(f"reference arm {reference!r} is not among the arms {sorted(arrays)}")
    sign = 1.0 if higher_is_better else -1.0
    ref = arrays[reference]
    rows = []
    for name, arr in arrays.items():
        if name == reference:
            continue
        ok = np.isfinite(arr) & np.isfinite(ref)
        d = arr[ok] - ref[ok]
        nonzero = int(np.count_nonzero(d))
        if nonzero == 0:
            stat, p = math.nan, (1.0 if d.size else math.nan)
        else:
            res = wilcoxon(arr[ok], ref[ok], zero_method="wilcox", alternative="two-sided")
            stat, p = float(res.statistic), float(res.pvalue)
        low, high = paired_bootstrap_interval(d, seed=seed)
        rows.append({
            "arm": name,
            "n": int(d.size),
            "mean_diff": float(d.mean()) if d.size else math.nan,
            "median_diff": float(np.median(d)) if d.size else math.nan,
            "ci_low": low,
            "ci_high": high,
            "statistic": stat,
            "p_value": p,
            "effect_size": sign * rank_biserial(d),
            "better": bool(sign * (np.median(d) if d.size else 0.0) > 0),
        })
    adjusted = holm([r["p_value"] for r in rows])
    for row, p_adj in zip(rows, adjusted):
        row["p_holm"] = float(p_adj)
        row["significant"] = bool(np.isfinite(p_adj) and p_adj <= alpha)
    n_pairs = int(ref.size)
    return {"reference": reference, "alpha": alpha, "n_pairs": n_pairs, "higher_is_better": higher_is_better,
            "note": _too_few_note(n_pairs, alpha, len(rows)), "rows": rows}


def _too_few_note(n: int, alpha: float, m: int = 1) -> str | None:
    """A plain warning when ``n`` pairs cannot give a significant result over ``m`` Holm-corrected tests."""
    floor = min(1.0, max(m, 1) * min_wilcoxon_p(n))  # Holm multiplies the smallest p-value by m
    if floor > alpha:
        need = int(math.ceil(math.log2(2 * max(m, 1) / alpha)))
        return (f"Only {n} paired seeds: the smallest p-value the Wilcoxon signed-rank test can give is "
                f"{min_wilcoxon_p(n):.3g}" + (f" ({floor:.3g} after Holm over {m} arms)" if m > 1 else "")
                + f" > {alpha}, so no difference can be significant; run at least {need} seeds.")
    if n < 10:
        return f"Only {n} paired seeds: tests have little power; treat non-significant results as inconclusive."
    return None


def average_ranks(values: Mapping[str, Sequence[float]], *, higher_is_better: bool) -> dict[str, float]:
    """Average rank of each arm over seeds (rank 1 = best in a seed, ties share the mean rank).

    Seeds where any arm has a non-finite value are left out.
    """
    from scipy.stats import rankdata

    arrays = _paired(values)
    names = list(arrays)
    table = np.column_stack([arrays[n] for n in names])  # (n_seeds, n_arms)
    table = table[np.all(np.isfinite(table), axis=1)]
    if table.shape[0] == 0:
        return {n: math.nan for n in names}
    ranks = rankdata(-table if higher_is_better else table, axis=1)
    return {n: float(r) for n, r in zip(names, ranks.mean(axis=0))}


def critical_difference(n_arms: int, n_blocks: int, *, alpha: float = 0.05) -> float:
    """Nemenyi's critical difference of average ranks: ``q_alpha sqrt(k (k + 1) / (6 N))``.

    ``q_alpha`` is the studentized range quantile (infinite degrees of freedom)
    divided by ``sqrt 2`` (Demšar 2006, Table 5: 2.343 for k = 3 at alpha = 0.05).
    """
    from scipy.stats import studentized_range

    if n_arms < 2 or n_blocks < 1:
        raise ConfigError(f"critical difference needs >= 2 arms and >= 1 block, got {n_arms} and {n_blocks}")
    q = studentized_range.ppf(1 - alpha, n_arms, np.inf) / math.sqrt(2)
    return float(q * math.sqrt(n_arms * (n_arms + 1) / (6.0 * n_blocks)))


def friedman(values: Mapping[str, Sequence[float]], *, higher_is_better: bool, alpha: float = 0.05) -> dict[str, Any]:
    """The Friedman test over arms (blocks = seeds), average ranks and Nemenyi's critical difference.

    Returns:
        ``{"statistic", "p_value", "n_blocks", "n_arms", "ranks", "cd", "note"}``; ``statistic``
        and ``p_value`` are NaN (with a ``note``) for fewer than three arms or two complete seeds.
    """
    from scipy.stats import friedmanchisquare

    arrays = _paired(values)
    table = np.column_stack(list(arrays.values()))
    complete = table[np.all(np.isfinite(table), axis=1)]
    k, n = table.shape[1], complete.shape[0]
    ranks = average_ranks(arrays, higher_is_better=higher_is_better)
    out: dict[str, Any] = {"statistic": math.nan, "p_value": math.nan, "n_blocks": int(n), "n_arms": int(k),
                           "ranks": ranks, "cd": math.nan, "alpha": alpha, "note": None}
    if k < 3:
        out["note"] = "The Friedman test needs at least three arms; see the paired tests."
        return out
    if n < 2:
        out["note"] = f"The Friedman test needs at least two complete seeds, got {n}."
        return out
    if np.all(complete == complete[:, :1]):
        out["note"] = "Every arm scored the same in every seed; there is nothing to test."
        out["p_value"] = 1.0
        return out
    res = friedmanchisquare(*complete.T)
    out["statistic"], out["p_value"] = float(res.statistic), float(res.pvalue)
    out["cd"] = critical_difference(k, n, alpha=alpha)
    if n < 10:
        out["note"] = f"Only {n} seeds: the chi-square approximation of the Friedman test is rough."
    return out
