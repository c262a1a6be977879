"""The optimizer benchmark harness on a tiny run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emotune.search.bench_runner import (
    RECORD_KEYS,
    plot_convergence,
    render_table,
    run_benchmarks,
    summarize,
    write_results,
)


@pytest.fixture(scope="module")
def records():
    return run_benchmarks(["sphere"], [2], ["random"], budget=50, seeds=2, progress=False)


def test_records_have_the_exact_keys_and_spend_the_budget(records):
    assert len(records) == 2
    assert [r["seed"] for r in records] == [0, 1]
    for r in records:
        assert set(r) == set(RECORD_KEYS)
        assert r["function"] == "sphere" and r["dim"] == 2 and r["optimizer"] == "random"
        assert r["evaluations"] == r["budget"] == 50
        assert r["best_error"] >= 0.0 and r["optimizer_seconds"] >= 0.0
        evals = [e for e, _ in r["curve"]]
        errors = [b for _, b in r["curve"]]
        assert evals[-1] == 50 and evals == sorted(evals)
        assert errors == sorted(errors, reverse=True) and errors[-1] == r["best_error"]


def test_runs_repeat_exactly():
    again = run_benchmarks(["shifted_sphere"], [2], ["random"], budget=30, seeds=[3], progress=False)
    once = run_benchmarks(["shifted_sphere"], [2], ["random"], budget=30, seeds=[3], progress=False)
    assert again[0]["best_error"] == once[0]["best_error"] and again[0]["curve"] == once[0]["curve"]


def test_two_d_only_functions_are_skipped_with_a_warning():
    with pytest.warns(UserWarning, match="easom"):
        recs = run_benchmarks(["easom"], [2, 3], ["random"], budget=20, seeds=1, progress=False)
    assert [r["dim"] for r in recs] == [2]


def test_summary_table_and_files(records, tmp_path):
    rows = summarize(records)
    assert len(rows) == 1 and rows[0]["runs"] == 2
    errors = sorted(r["best_error"] for r in records)
    assert rows[0]["median_error"] == pytest.approx(np.median(errors))
    assert rows[0]["seconds_per_1k"] >= 0.0
    assert render_table(rows).row_count == 1

    results_path, curves_path = write_results(records, tmp_path)
    results = json.loads(results_path.read_text())
    assert len(results) == 2 and all("curve" not in r for r in results)
    assert all(c["curve"] for c in json.loads(curves_path.read_text()))

    pngs = plot_convergence(records, tmp_path)
    assert [p.name for p in pngs] == ["convergence_sphere_d2.png"]
    assert pngs[0].stat().st_size > 0
