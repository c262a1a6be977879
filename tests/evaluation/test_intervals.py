import numpy as np
import pytest

from emotune.evaluation import metrics as M
from emotune.evaluation.intervals import METRICS, compare_with_best, paired_bootstrap
from emotune.exceptions import ConfigError, DatasetError


def _flip(y, idx, n_classes=2):
    p = y.copy()
    p[idx] = (p[idx] + 1) % n_classes
    return p


@pytest.mark.parametrize("name,ref", [("accuracy", M.accuracy), ("macro_f1", M.macro_f1),
                                      ("unweighted_accuracy", M.unweighted_accuracy)])
def test_weighted_metrics_equal_the_plain_ones_with_unit_weights_and_with_repeats(name, ref):
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    p[:5] = 2  # class 2 never true in some resamples is handled below via repeats
    assert METRICS[name](np.ones((1, 200)), y, p, 3)[0] == pytest.approx(ref(y, p))
    w = rng.integers(0, 3, 200).astype(float)  # multiplicities = the resample written out
    rep = np.repeat(np.arange(200), w.astype(int))
    assert METRICS[name](w[None], y, p, 3)[0] == pytest.approx(ref(y[rep], p[rep]))


def test_interval_excludes_zero_when_one_model_is_clearly_better():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 600)
    good = _flip(y, np.arange(0, 60))  # 90%
    bad = _flip(y, np.arange(0, 240))  # 60%
    iv = paired_bootstrap(y, good, bad, metric="accuracy", n_boot=1000, seed=0)
    assert iv.difference == pytest.approx(0.30)
    assert iv.low > 0 and iv.excludes_zero and iv.verdict == "beats"
    worse = paired_bootstrap(y, bad, good, n_boot=1000)
    assert worse.high < 0 and worse.verdict == "is worse than"


def test_interval_holds_zero_when_the_models_differ_only_in_which_samples_they_miss():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 400)
    a = _flip(y, np.arange(0, 40))  # both 90%, different mistakes
    b = _flip(y, np.arange(40, 80))
    iv = paired_bootstrap(y, a, b, metric="macro_f1", n_boot=1000, seed=0)
    assert iv.low < 0 < iv.high and not iv.excludes_zero
    assert iv.verdict == "is not distinguishable from"
    # a small but real edge is not enough on 400 samples either
    c = _flip(y, np.arange(0, 36))
    assert not paired_bootstrap(y, c, b, n_boot=1000).excludes_zero


def test_bootstrap_over_groups_is_wider_when_the_gain_sits_in_one_speaker():
    y = np.zeros(1000, dtype=int)
    groups = np.repeat(np.arange(10), 100)
    a = np.zeros(1000, dtype=int)
    b = a.copy()
    b[:60] = 1  # b errs on 60 samples, all of speaker 0
    by_sample = paired_bootstrap(y, a, b, n_boot=1000)
    by_group = paired_bootstrap(y, a, b, groups=groups, n_boot=1000)
    assert by_sample.excludes_zero and by_sample.unit == "samples" and by_sample.n_units == 1000
    assert not by_group.excludes_zero and by_group.unit == "groups" and by_group.n_units == 10
    assert by_group.low == pytest.approx(0.0)


def test_same_seed_same_interval_and_scores_accepted_as_probabilities():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300)
    pa, pb = rng.random((300, 2)), rng.random((300, 2))
    i1 = paired_bootstrap(y, pa, pb, n_boot=500, seed=7)
    i2 = paired_bootstrap(y, pa.argmax(1), pb.argmax(1), n_boot=500, seed=7)
    assert i1 == i2


def test_compare_with_best_picks_the_strongest_reference():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 500)
    model = _flip(y, np.arange(0, 50))  # 90%
    refs = {"tfidf_logreg": _flip(y, np.arange(0, 150)), "minilm_logreg": _flip(y, np.arange(100, 160))}
    out = compare_with_best(y, model, refs, metric="accuracy", n_boot=500)
    assert out["reference"] == "minilm_logreg" and out["reference_score"] == pytest.approx(0.88)
    assert out["difference"] == pytest.approx(0.02) and out["verdict"] == "is not distinguishable from"


def test_bad_arguments_name_the_rule():
    y = np.array([0, 1, 0, 1])
    with pytest.raises(ConfigError, match="metric must be one of"):
        paired_bootstrap(y, y, y, metric="roc")
    with pytest.raises(DatasetError, match="pred_b"):
        paired_bootstrap(y, y, y[:3])
    with pytest.raises(DatasetError, match="at least 2 groups"):
        paired_bootstrap(y, y, y, groups=["s1"] * 4)
