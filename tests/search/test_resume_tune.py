"""`emotune tune` on disk: a multi-fold speech run killed with SIGKILL resumes without rerunning a finished
fold and ends as the uninterrupted run; an existing run directory is refused; --resume shows a changed config."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from emotune.cli import app
from emotune.search.storage import SQLiteStorage

CREMA = "crema-d-dev"


def _args(data: Path, out: Path, cache: Path) -> list[str]:
    return ["tune", "--task", "speech", "--dataset", "crema-d", "--data-dir", str(data), "--limit", "120",
            "--features", "egemaps", "--model", "mlp", "--optimizer", "random", "--trials", "4", "--epochs", "4",
            "--outer-cv", "group:2", "--seed", "3", "--out", str(out), "--no-progress"]


def _env(cache: Path) -> dict:
    return dict(os.environ, EMOTUNE_CACHE=str(cache), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", MPLBACKEND="Agg")


def _finished(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.1) as conn:
            return conn.execute("SELECT COUNT(*) FROM trials WHERE state != 'running'").fetchone()[0]
    except sqlite3.Error:
        return 0


def _trials(db: Path):
    records, _ = SQLiteStorage(db).load()
    return [(r.id, r.state, json.dumps(r.params, sort_keys=True), r.value) for r in records]


@pytest.mark.slow
def test_a_killed_multi_fold_speech_run_resumes_without_rerunning_the_finished_fold(shared_data, tmp_path):
    data, cache = shared_data / CREMA, tmp_path / "cache"
    emotune = [sys.executable, "-m", "emotune.cli"]
    run = tmp_path / "run"
    proc = subprocess.Popen(emotune + _args(data, run, cache), env=_env(cache), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while proc.poll() is None and time.time() < deadline and _finished(run / "fold_2" / "study.db") < 2:
        time.sleep(0.005)
    assert proc.poll() is None, "the run ended before the kill point; make its trials slower"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    fold1 = (run / "fold_1" / "fold_result.pkl").stat().st_mtime_ns
    assert not (run / "result.json").exists()

    resumed = subprocess.run(emotune + ["tune", "--resume", str(run), "--no-progress"], env=_env(cache),
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "fold 1 already finished, kept" in resumed.stdout
    assert (run / "fold_1" / "fold_result.pkl").stat().st_mtime_ns == fold1  # not rerun
    for k in (1, 2):  # every fold: trials 0..3 once each, all complete (equality with an uninterrupted
        trials = _trials(run / f"fold_{k}" / "study.db")  # study is checked in test_resume.py)
        assert [t[0] for t in trials] == [0, 1, 2, 3] and {t[1] for t in trials} == {"complete"}
    result = json.loads((run / "result.json").read_text())
    assert [f["fold"] for f in result["folds"]] == [1, 2] and result["trials"]["complete"] == 8


def test_an_existing_run_directory_is_refused_and_resume_shows_a_changed_config(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.txt").write_text("mine")
    runner = CliRunner()
    base = ["tune", "--dataset", "tweets", "--limit", "40", "--trials", "1", "--out", str(run), "--no-progress"]
    refused = runner.invoke(app, base)
    assert refused.exit_code == 2 and "refusing to overwrite" in refused.output
    not_a_run = runner.invoke(app, base + ["--overwrite"])
    assert not_a_run.exit_code == 2 and "holds no emotune run" in not_a_run.output
    assert (run / "notes.txt").read_text() == "mine"  # never deleted

    (run / "notes.txt").unlink()
    (run / "config.yaml").write_text("seed: 0\ntask: text\ndataset: tweets\ntrials: 1\nlimit: 40\n")
    changed = runner.invoke(app, ["tune", "--resume", str(run), "--trials", "5", "--optimizer", "ga"])
    assert changed.exit_code == 2
    assert "trials: saved 1 -> now 5" in changed.output and "optimizer: saved 'lwaro' -> now 'ga'" in changed.output
    assert "--force" in changed.output
    nothing = runner.invoke(app, ["tune", "--resume", str(tmp_path / "nowhere")])
    assert nothing.exit_code == 2 and "nothing to resume" in nothing.output
