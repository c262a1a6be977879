"""`emotune compare`: the plan, fairness, resume after a kill, and small real comparisons end to end."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from emotune.cli import app
from emotune.exceptions import ConfigError
from emotune.experiments import compare as C
from emotune.experiments.compare_tasks import FunctionTask, TuneTask


def _fn_plan(seeds=3, trials=200, **kw):
    return C.make_plan("function:shifted_rastrigin", {"dim": 4, "trials": trials},
                       C.parse_vary(["optimizer=random,pso,lwaro"]), seeds, **kw)


def test_parse_vary_reads_yaml_scalars_and_rejects_bad_items():
    assert C.parse_vary(["optimizer=random,ga", "tuned=false,true", "lr=1e-3,0.01", "epochs=3"]) == {
        "optimizer": ["random", "ga"], "tuned": [False, True], "lr": [0.001, 0.01], "epochs": [3]}
    for bad in (["optimizer"], ["=a,b"], ["optimizer=a,a"]):
        with pytest.raises(ConfigError):
            C.parse_vary(bad)
    with pytest.raises(ConfigError, match="twice"):
        C.parse_vary(["a=1,2", "a=3"])


def test_plan_is_a_grid_with_the_same_seeds_and_base_for_every_arm():
    vary = C.parse_vary(["model=mlp,sa_lstm", "tuned=false,true"])
    plan = C.make_plan("tune", {"dataset": "tweets", "trials": 3}, vary, [4, 7], reference="tuned=false")
    assert [a["label"] for a in plan.arms] == ["model=mlp,tuned=false", "model=mlp,tuned=true",
                                               "model=sa_lstm,tuned=false", "model=sa_lstm,tuned=true"]
    runs = plan.runs()
    assert len(runs) == 8
    for arm in plan.arms:  # every arm runs with every seed
        assert sorted(s for a, s in runs if a is arm) == [4, 7]
    assert plan.reference == "tuned=false" and plan.metric == "macro_f1" and plan.higher_is_better


def test_tune_configs_of_one_seed_differ_only_in_the_varied_key(tmp_path):
    plan = C.make_plan("tune", {"dataset": "tweets", "limit": 300, "trials": 3, "model": "sa_lstm",
                                "fixed_params": {"hidden_size": 32}},
                       C.parse_vary(["optimizer=random,lwaro"]), [5])
    task = TuneTask()
    a, b = (task.config(plan, arm["values"], 5, tmp_path / arm["dir"]).to_dict() for arm in plan.arms)
    diff = sorted(k for k in a if a[k] != b[k])
    assert diff == ["optimizer", "out"]
    assert a["seed"] == b["seed"] == 5 and a["trials"] == b["trials"] == 3


def test_untuned_arm_trains_the_documented_defaults_once(tmp_path):
    from emotune.experiments.objective import default_params
    from emotune.models import MODELS

    plan = C.make_plan("tune", {"dataset": "tweets", "trials": 5, "model": "sa_lstm", "optimizer": "lwaro",
                                "optimizer_options": {"pop_size": 4}, "fixed_params": {"hidden_size": 32}},
                       C.parse_vary(["tuned=false,true"]), 2)
    task = TuneTask()
    untuned = task.config(plan, {"tuned": False}, 0, tmp_path / "u")
    tuned = task.config(plan, {"tuned": True}, 0, tmp_path / "t")
    spec = MODELS.get("sa_lstm")
    defaults = default_params(spec, spec.space(None))
    assert untuned.trials == 1 and tuned.trials == 5
    assert untuned.fixed_params == {**defaults, "hidden_size": 32}  # the user's fixed values still win
    assert set(defaults) <= set(untuned.fixed_params)  # nothing left for a search to choose
    assert untuned.optimizer == "random" and untuned.optimizer_options == {}  # lwaro's options do not reach random
    assert tuned.optimizer_options == {"pop_size": 4}


@pytest.mark.parametrize("kw,message", [
    (dict(vary=["nope=1,2"]), "unknown config keys"),
    (dict(vary=["seed=1,2"]), "not allowed"),
    (dict(vary=["optimizer=random"]), "at least two arms"),
    (dict(vary=["optimizer=random,ga"], reference="tpe"), "reference"),
    (dict(vary=["tuned=0,1"]), "true/false"),
])
def test_plan_errors_name_the_problem(kw, message):
    with pytest.raises(ConfigError, match=message):
        C.make_plan("tune", {"dataset": "tweets"}, C.parse_vary(kw["vary"]), 2, reference=kw.get("reference"))


def test_function_task_rejects_tune_keys_and_bad_dims():
    with pytest.raises(ConfigError, match="can vary only"):
        C.make_plan("function:shifted_sphere", {"dim": 3}, {"model": ["a", "b"]}, 2)
    with pytest.raises(ConfigError):
        C.make_plan("function:holder_table", {"dim": 5}, {"optimizer": ["random", "ga"]}, 2)
    with pytest.raises(ConfigError, match="function:NAME"):
        C.make_plan("functions", {}, {"optimizer": ["random", "ga"]}, 2)


def test_plan_is_saved_before_the_first_run(tmp_path, monkeypatch):
    plan = _fn_plan()

    def boom(self, *a, **k):
        assert (tmp_path / "plan.json").exists()
        raise KeyboardInterrupt

    monkeypatch.setattr(FunctionTask, "run", boom)
    with pytest.raises(KeyboardInterrupt):
        C.run_comparison(plan, tmp_path)
    saved = json.loads((tmp_path / "plan.json").read_text())
    assert saved["seeds"] == [0, 1, 2] and len(saved["arms"]) == 3


def test_a_different_plan_in_the_same_folder_is_refused(tmp_path):
    C.run_comparison(_fn_plan(seeds=2, trials=50), tmp_path)
    with pytest.raises(ConfigError, match="different comparison"):
        C.run_comparison(_fn_plan(seeds=2, trials=60), tmp_path)


def test_each_arm_of_a_seed_minimises_the_same_function_instance(tmp_path):
    records = C.run_comparison(_fn_plan(seeds=2, trials=40), tmp_path)

    # the same seed gives the same shifted function, so a run repeats exactly
    again = FunctionTask("shifted_rastrigin").run(_fn_plan(seeds=2, trials=40), {"optimizer": "pso"}, 1, tmp_path)
    first = next(r for r in records if r["arm"] == "optimizer=pso" and r["seed"] == 1)
    assert again["value"] == pytest.approx(first["value"])
    other = FunctionTask("shifted_rastrigin").run(_fn_plan(seeds=2, trials=40), {"optimizer": "pso"}, 0, tmp_path)
    assert other["value"] != pytest.approx(first["value"])  # another seed is another instance


_KILLER = textwrap.dedent("""
    import os, signal, sys
    from emotune.experiments import compare as C
    plan = C.make_plan("function:shifted_rastrigin", {"dim": 4, "trials": 200},
                       C.parse_vary(["optimizer=random,pso,lwaro"]), 3)
    done = []
    def after(record):
        done.append(record)
        if len(done) == 4:
            os.kill(os.getpid(), signal.SIGKILL)  # a hard kill in the middle of the comparison
    C.run_comparison(plan, sys.argv[1], on_run_done=after)
""")


def test_comparison_resumes_after_a_kill_without_rerunning_finished_arms(tmp_path):
    out = tmp_path / "cmp"
    proc = subprocess.run([sys.executable, "-c", _KILLER, str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    finished = sorted(out.glob("arms/*/seed_*/record.json"))
    assert len(finished) == 4
    before = {p: (p.stat().st_mtime_ns, p.read_text()) for p in finished}
    rerun = []
    records = C.run_comparison(_fn_plan(seeds=3, trials=200), out, on_run_done=rerun.append)
    assert len(records) == 9 and len(rerun) == 5  # only the runs the kill prevented
    assert {(r["arm"], r["seed"]) for r in rerun}.isdisjoint(
        {(json.loads(t)["arm"], json.loads(t)["seed"]) for _, t in before.values()})
    for p, (mtime, text) in before.items():
        assert p.stat().st_mtime_ns == mtime and p.read_text() == text


def test_tiny_real_comparison_on_a_benchmark_function_end_to_end(tmp_path):
    out = tmp_path / "cmp"
    result = CliRunner().invoke(app, ["compare", "--task", "function:shifted_sphere", "--dims", "5", "--trials", "300",
                                      "--vary", "optimizer=random,pso,lwaro", "--seeds", "7",
                                      "--reference", "random", "--out", str(out)])
    assert result.exit_code == 0, result.output
    analysis = json.loads((out / "comparison.json").read_text())
    assert analysis["runs_done"] == 21 and analysis["metric"] == "error" and not analysis["higher_is_better"]
    plan, records = C.load_records(out)
    errors = {a["label"]: [r["value"] for r in records if r["arm"] == a["label"]] for a in plan.arms}
    assert analysis["arms"]["optimizer=pso"]["median"] == pytest.approx(np.median(errors["optimizer=pso"]))
    # on a sphere at 300 evaluations PSO beats random search in every seed: p = 2 / 2**7, < 0.05 after Holm (x2)
    row = next(r for r in analysis["groups"][0]["paired"]["rows"] if r["arm"] == "optimizer=pso")
    assert row["better"] and row["p_value"] == pytest.approx(2 / 2 ** 7) and row["significant"]
    assert analysis["groups"][0]["friedman"]["ranks"]["optimizer=random"] > 2.0
    for name in ("report.html", "report.md", "plan.json"):
        assert (out / name).exists()
    html = (out / "report.html").read_text()
    for section in ("plan", "summary", "tests", "ranks", "curves", "runs"):
        assert f'<section id="{section}">' in html


@pytest.mark.slow
def test_tiny_tuned_vs_untuned_text_comparison_shares_splits(tmp_path):
    base = dict(dataset="tweets", limit=240, features="tokens", model="sa_lstm", optimizer="random", trials=2,
                epochs=1, patience=1, cache_dir=str(tmp_path / "cache"),
                fixed_params={"hidden_size": 16, "num_layers": 1, "batch_size": 64})
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(base))
    out = tmp_path / "cmp"
    result = CliRunner().invoke(app, ["compare", "--config", str(tmp_path / "base.yaml"), "--vary", "tuned=false,true",
                                      "--seeds", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    plan, records = C.load_records(out)
    assert len(records) == 4 and not any(r["error"] for r in records)
    for seed in (0, 1):
        hashes = {r["split_sha256"] for r in records if r["seed"] == seed}
        assert len(hashes) == 1  # both arms of a seed saw the same split
    assert len({r["split_sha256"] for r in records}) == 2  # and the seeds differ
    analysis = json.loads((out / "comparison.json").read_text())
    assert analysis["fairness"]["splits_checked"] and not analysis["fairness"]["seeds_with_different_splits"]
    assert "no difference can be significant" in analysis["groups"][0]["paired"]["note"]
    untuned = next(r for r in records if r["arm"] == "tuned=false")
    assert untuned["trials"]["complete"] == 1
    assert (out / "arms" / "tuned=true" / "seed_0" / "report.html").exists()


def test_a_run_left_half_written_by_a_kill_is_restarted_from_scratch(tmp_path):
    plan = _fn_plan(seeds=1, trials=30)
    stale = C.run_dir(tmp_path, plan.arms[0], 0)
    stale.mkdir(parents=True)
    (stale / "trials.csv").write_text("half a file")  # what a kill inside a run leaves (no record.json)
    records = C.run_comparison(plan, tmp_path)
    assert len(records) == 3 and not any(r["error"] for r in records)
    assert not (stale / "trials.csv").exists() and (stale / "record.json").exists()


def test_budget_by_time_stops_every_arm_at_the_same_wall_clock(tmp_path):
    plan = C.make_plan("function:shifted_sphere", {"dim": 3, "trials": 10_000_000}, C.parse_vary(["optimizer=random,pso"]),
                       1, budget_by="time", time_budget=0.3)
    records = C.run_comparison(plan, tmp_path)
    for r in records:
        assert 0 < r["evaluations"] < 10_000_000
        assert r["curve"][-1][2] < 0.3 + 5.0  # the last batch may finish after the limit, never the budget
    with pytest.raises(ConfigError, match="time-budget"):
        C.make_plan("function:shifted_sphere", {"dim": 3}, C.parse_vary(["optimizer=random,pso"]), 1, budget_by="time")
