"""Statistics of a comparison from its plan and run records: grouping by the non-reference keys, missing runs."""

import math

import numpy as np
import pytest

from emotune.evaluation.comparison import analyze, curve_band
from emotune.experiments.compare import make_plan, parse_vary


def _records(plan, score):
    return [{"arm": a["label"], "values": a["values"], "seed": s, "value": score(a["values"], s), "curve": [],
             "wall_seconds": 1.0, "error": None} for s in plan.seeds for a in plan.arms]


def test_a_grid_is_tested_within_each_model_against_its_own_untuned_arm():
    plan = make_plan("tune", {"dataset": "tweets"}, parse_vary(["model=mlp,sa_lstm", "tuned=false,true"]),
                     list(range(8)), reference="tuned=false")
    # tuning helps mlp by 0.05 in every seed and does nothing for sa_lstm
    score = lambda v, s: 0.6 + 0.01 * s + (0.05 if v["model"] == "mlp" and v["tuned"] else 0.0)  # noqa: E731
    a = analyze(plan, _records(plan, score))
    groups = {g["name"]: g for g in a["groups"]}
    assert set(groups) == {"model=mlp", "model=sa_lstm"}
    mlp = groups["model=mlp"]["paired"]
    assert mlp["reference"] == "model=mlp,tuned=false"
    assert mlp["rows"][0]["arm"] == "model=mlp,tuned=true" and mlp["rows"][0]["significant"]
    assert mlp["rows"][0]["mean_diff"] == pytest.approx(0.05)
    flat = groups["model=sa_lstm"]["paired"]["rows"][0]
    assert flat["p_value"] == 1.0 and not flat["significant"]
    assert a["arms"]["model=mlp,tuned=true"]["mean"] == pytest.approx(0.6 + 0.035 + 0.05)


def test_missing_and_failed_runs_are_counted_not_invented():
    plan = make_plan("function:shifted_sphere", {"dim": 2, "trials": 10}, parse_vary(["optimizer=random,pso"]), 3)
    recs = _records(plan, lambda v, s: float(s + (0 if v["optimizer"] == "pso" else 1)))
    recs = [r for r in recs if not (r["arm"] == "optimizer=pso" and r["seed"] == 2)]  # not run yet
    recs[0].update(value=float("nan"), error="TrialFailed: boom")  # random, seed 0 failed
    a = analyze(plan, recs)
    assert a["runs_done"] == 5 and a["runs_planned"] == 6
    assert a["arms"]["optimizer=pso"]["missing"] == 1 and a["arms"]["optimizer=random"]["failed"] == 1
    assert a["groups"][0]["paired"]["rows"][0]["n"] == 1  # only seed 1 is complete in both arms
    assert a["failed_runs"] == [{"arm": "optimizer=random", "seed": 0, "error": "TrialFailed: boom"}]


def test_curve_band_holds_a_finished_runs_last_value():
    grid, q25, med, q75 = curve_band([[[1, 5.0, 0.1], [2, 3.0, 0.2]], [[1, 4.0, 0.1], [2, 2.0, 0.4]]], axis=2,
                                     grid_points=4)
    assert grid[-1] == pytest.approx(0.4) and med[-1] == pytest.approx(2.5)  # run 1 holds 3.0 after 0.2 s
    assert curve_band([], axis=0) is None and not math.isnan(med[0])
