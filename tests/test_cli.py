"""The command line: a thin table over the library; errors print a message and exit 2."""

import json

from typer.testing import CliRunner

from emotune.cli import app

runner = CliRunner()


def test_optimizers_lists_every_registered_name():
    result = runner.invoke(app, ["optimizers"])
    assert result.exit_code == 0
    for name in ("random", "ga", "pso", "ipso", "aquila", "lwaro", "tpe"):
        assert name in result.stdout


def test_bench_optimizers_json_records(tmp_path):
    result = runner.invoke(
        app,
        ["bench-optimizers", "--functions", "shifted_sphere,holder_table", "--dims", "2", "--budget", "60",
         "--seeds", "2", "--optimizers", "random,pso", "--out", str(tmp_path), "--json"],
    )
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert len(records) == 2 * 2 * 2
    keys = {"function", "dim", "optimizer", "seed", "budget", "best_error", "evaluations", "optimizer_seconds"}
    assert all(set(r) == keys for r in records)
    assert all(r["evaluations"] == 60 and r["best_error"] >= 0 for r in records)
    assert (tmp_path / "results.json").is_file()
    assert list(tmp_path.glob("*.png"))


def test_bench_optimizers_table(tmp_path):
    result = runner.invoke(
        app, ["bench-optimizers", "--functions", "shifted_sphere", "--dims", "3", "--budget", "40", "--seeds", "1",
              "--optimizers", "random,lwaro"],
    )
    assert result.exit_code == 0, result.output
    assert "lwaro" in result.stdout and "shifted_sphere" in result.stdout


def test_unknown_optimizer_is_a_clear_error():
    result = runner.invoke(
        app, ["bench-optimizers", "--functions", "sphere", "--dims", "2", "--budget", "10", "--seeds", "1",
              "--optimizers", "nope"],
    )
    assert result.exit_code == 2
    assert "unknown optimizer 'nope'" in result.output


def test_tune_with_a_bad_config_value_exits_2(tmp_path):
    result = runner.invoke(app, ["tune", "--task", "video", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "task must be one of" in result.output


def test_demo_runs_mpnet_or_falls_back_to_minilm_with_a_warning(tmp_path, monkeypatch):
    """`emotune demo` runs demo.yaml's features when MPNet is installed, MiniLM (warned) when it is not."""
    import pytest

    from emotune.exceptions import ConfigError
    from emotune.experiments import text_defaults, tune

    seen = []

    def capture(cfg, **kwargs):
        seen.append(cfg)
        raise ConfigError("stopped by the test")

    monkeypatch.setattr(tune, "run_tune", capture)
    for installed, features in ((True, "mpnet_pooled"), (False, "minilm_pooled")):
        monkeypatch.setattr(text_defaults, "_mpnet_available", lambda installed=installed: installed)
        if installed:
            result = runner.invoke(app, ["demo", "--out", str(tmp_path / "d")])
        else:
            with pytest.warns(UserWarning, match="make mpnet"):
                result = runner.invoke(app, ["demo", "--out", str(tmp_path / "d")])
        assert result.exit_code == 2 and "stopped by the test" in result.output
        assert seen[-1].features == features and seen[-1].limit == 3000
