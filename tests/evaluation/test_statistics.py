import math

import numpy as np
import pytest
from scipy import stats

from emotune.evaluation import statistics as S
from emotune.exceptions import ConfigError

# scipy.stats.wilcoxon's documented example (Cushny & Peebles' data as differences): two-sided exact p.
_DOC_D = np.array([6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75], dtype=float)


def test_summarize_matches_numpy_and_leaves_out_failed_runs():
    v = [0.5, 0.7, np.nan, 0.6, 0.9]
    s = S.summarize(v)
    ok = np.array([0.5, 0.7, 0.6, 0.9])
    assert s["n"] == 4 and s["failed"] == 1
    assert s["mean"] == pytest.approx(ok.mean())
    assert s["std"] == pytest.approx(ok.std(ddof=1))
    assert s["median"] == pytest.approx(0.65)
    assert S.summarize([3.0])["std"] == 0.0


def test_holm_on_a_hand_computed_case():
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> running max 0.06
    assert S.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert S.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    out = S.holm([0.01, np.nan, 0.02])
    assert np.isnan(out[1]) and out[[0, 2]] == pytest.approx([0.02, 0.02])


def test_rank_biserial_by_hand():
    assert S.rank_biserial([1, -2, 3, 4]) == pytest.approx((8 - 2) / 10)
    assert S.rank_biserial([1, 2, -3]) == pytest.approx(0.0)
    assert S.rank_biserial([0, 1, 2]) == pytest.approx(1.0)  # zeros dropped
    assert S.rank_biserial([-1, -1, -5]) == pytest.approx(-1.0)


def test_wilcoxon_row_reproduces_scipy_documented_example():
    ref = np.zeros_like(_DOC_D)
    res = S.compare_to_reference({"ref": ref, "arm": _DOC_D}, "ref", higher_is_better=True)
    row = res["rows"][0]
    assert row["p_value"] == pytest.approx(0.041259765625)  # scipy docs value
    assert row["statistic"] == pytest.approx(24.0)
    assert row["p_holm"] == pytest.approx(row["p_value"])  # one comparison: Holm leaves it alone
    assert row["significant"] and row["better"]
    assert row["mean_diff"] == pytest.approx(_DOC_D.mean())
    assert row["ci_low"] < _DOC_D.mean() < row["ci_high"]
    assert row["effect_size"] == pytest.approx(S.rank_biserial(_DOC_D))


def test_direction_flips_effect_and_better_for_lower_is_better():
    res = S.compare_to_reference({"ref": np.zeros(15), "arm": _DOC_D}, "ref", higher_is_better=False)
    row = res["rows"][0]
    assert row["effect_size"] < 0 and not row["better"]


def test_holm_is_applied_across_arms_and_matches_scipy_pvalues():
    rng = np.random.default_rng(3)
    ref = rng.normal(0, 1, 12)
    arms = {"ref": ref, "a": ref + rng.normal(0.8, 0.5, 12), "b": ref + rng.normal(0.1, 0.5, 12),
            "c": ref + rng.normal(-0.6, 0.5, 12)}
    res = S.compare_to_reference(arms, "ref", higher_is_better=True)
    raw = [stats.wilcoxon(arms[r["arm"]], ref).pvalue for r in res["rows"]]
    assert [r["p_value"] for r in res["rows"]] == pytest.approx(raw)
    assert [r["p_holm"] for r in res["rows"]] == pytest.approx(S.holm(raw))
    assert res["note"] is None


def test_bootstrap_interval_matches_scipy_bca():
    d = np.random.default_rng(5).normal(0.3, 1.0, 20)
    low, high = S.paired_bootstrap_interval(d, seed=7)
    ref = stats.bootstrap((d,), np.mean, method="BCa", n_resamples=9999,
                          random_state=np.random.default_rng(7)).confidence_interval
    assert (low, high) == pytest.approx((ref.low, ref.high))
    assert S.paired_bootstrap_interval([0.2, 0.2, 0.2]) == (0.2, 0.2)


def test_too_few_seeds_are_said_plainly():
    assert S.min_wilcoxon_p(5) == pytest.approx(0.0625)
    res = S.compare_to_reference({"r": [1, 2, 3, 4, 5], "a": [2, 3, 4, 5, 6]}, "r", higher_is_better=True)
    assert "no difference can be significant" in res["note"]
    assert not res["rows"][0]["significant"]  # every pair better, still p = 0.0625
    assert res["rows"][0]["p_value"] == pytest.approx(0.0625)


def test_too_few_seeds_counts_the_holm_factor():
    ref = np.arange(6.0)
    arms = {"r": ref, "a": ref + 1, "b": ref + 2}
    res = S.compare_to_reference(arms, "r", higher_is_better=True)
    # 6 seeds: p = 2/64 = 0.031 for each arm, but Holm over 2 arms doubles the smallest one
    assert "after Holm over 2 arms" in res["note"] and not any(r["significant"] for r in res["rows"])
    assert S.compare_to_reference({"r": ref, "a": ref + 1}, "r", higher_is_better=True)["rows"][0]["significant"]


def test_unequal_seed_counts_and_unknown_reference_are_errors():
    with pytest.raises(ConfigError, match="same number of seeds"):
        S.compare_to_reference({"r": [1, 2, 3], "a": [1, 2]}, "r", higher_is_better=True)
    with pytest.raises(ConfigError, match="reference arm 'x'"):
        S.compare_to_reference({"r": [1, 2, 3], "a": [1, 2, 4]}, "x", higher_is_better=True)


def test_average_ranks_by_hand_with_ties():
    values = {"a": [0.9, 0.8, 0.7], "b": [0.8, 0.8, 0.9], "c": [0.1, 0.2, 0.3]}
    ranks = S.average_ranks(values, higher_is_better=True)
    # seed 1: a1 b2 c3; seed 2: a1.5 b1.5 c3; seed 3: b1 a2 c3
    assert ranks == pytest.approx({"a": 1.5, "b": 1.5, "c": 3.0})
    low = S.average_ranks(values, higher_is_better=False)
    assert low["c"] == pytest.approx(1.0)


@pytest.mark.parametrize("k,q", [(2, 1.960), (3, 2.343), (4, 2.569), (5, 2.728), (10, 3.164)])
def test_critical_difference_uses_demsar_table(k, q):
    n = 14
    assert S.critical_difference(k, n) == pytest.approx(q * math.sqrt(k * (k + 1) / (6 * n)), rel=2e-3)


def test_friedman_matches_scipy_and_reports_ranks():
    rng = np.random.default_rng(11)
    base = rng.normal(0, 1, 10)
    values = {"a": base + 1.0, "b": base + rng.normal(0, 0.3, 10), "c": base - 1.0, "d": base + 0.5}
    out = S.friedman(values, higher_is_better=True)
    ref = stats.friedmanchisquare(*values.values())
    assert out["statistic"] == pytest.approx(ref.statistic)
    assert out["p_value"] == pytest.approx(ref.pvalue)
    assert out["ranks"]["a"] == pytest.approx(1.0) and out["ranks"]["c"] == pytest.approx(4.0)
    assert out["cd"] == pytest.approx(S.critical_difference(4, 10))


def test_friedman_needs_three_arms():
    out = S.friedman({"a": [1, 2, 3], "b": [2, 3, 4]}, higher_is_better=True)
    assert math.isnan(out["p_value"]) and "three arms" in out["note"]
