"""`emotune export-optuna`: a stored study opens with optuna.load_study, trial by trial."""

import math

import optuna
import pytest
from typer.testing import CliRunner

from emotune.cli import app
from emotune.search import Bits, Categorical, Float, Int, Space, Study, TrialPruned, TrialState
from emotune.search.storage import SQLiteStorage, export_run_to_optuna


def _objective(p, trial):
    if p["n"] in (1, 4):
        raise RuntimeError("boom")
    trial.report(1, p["x"])
    if p["x"] > 0.2:
        raise TrialPruned("behind")
    return p["x"] + p["n"] + p["g"]


def _load(path, name):
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    return optuna.load_study(study_name=name, storage=storage)


def test_export_loads_in_optuna_with_the_same_trials(tmp_path):
    space = Space({"x": Float(1e-3, 1.0, log=True), "n": Int(1, 10), "c": Categorical(["a", "b"]),
                   "g": Bits(3, decode=[0, 1, 2, 3, 4, 5, 6, 7])})
    run = tmp_path / "run"
    study = Study(space, "ga", "minimize", seed=0, budget=25, storage=SQLiteStorage(run / "study.db"))
    study.optimize(_objective, trials=25)
    study.storage.close()
    states = {t.state for t in study.trials}
    assert {TrialState.COMPLETE, TrialState.FAILED, TrialState.PRUNED} <= states

    out = tmp_path / "journal.log"
    result = CliRunner().invoke(app, ["export-optuna", str(run), str(out)])
    assert result.exit_code == 0, result.output
    loaded = _load(out, "search")
    assert len(loaded.trials) == 25
    to_optuna = {"complete": "COMPLETE", "failed": "FAIL", "pruned": "PRUNED"}
    for ours, theirs in zip(study.trials, loaded.trials):
        assert theirs.state.name == to_optuna[ours.state]
        assert theirs.user_attrs["emotune_id"] == ours.id
        assert theirs.params["x"] == pytest.approx(ours.params["x"]) and theirs.params["n"] == ours.params["n"]
        assert theirs.params["c"] == ours.params["c"] and theirs.user_attrs["decoded.g"] == ours.params["g"]
        if ours.state == "complete":
            assert theirs.value == pytest.approx(ours.value)
        assert theirs.intermediate_values == {k: v for k, v in ours.intermediate.items() if math.isfinite(v)}
    assert loaded.best_value == pytest.approx(study.best_value)


def test_export_refuses_to_overwrite_and_needs_a_study(tmp_path):
    out = tmp_path / "j.log"
    out.write_text("x")
    with pytest.raises(Exception, match="holds no study.db"):
        export_run_to_optuna(tmp_path, tmp_path / "other.log")
    run = tmp_path / "run"
    Study(Space({"x": Float(0.0, 1.0)}), storage=SQLiteStorage(run / "study.db")).optimize(lambda p: p["x"], trials=2)
    with pytest.raises(Exception, match="already exists"):
        export_run_to_optuna(run, out)
