"""Kill-and-resume: a study killed with SIGKILL at random points and resumed equals one that never stopped."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from emotune.search import Categorical, Float, Int, Space, Study, TrialState
from emotune.search.storage import SQLiteStorage

SCRIPT = textwrap.dedent(
    """
    import sys, time
    from emotune.search import Categorical, Float, Int, Space, Study
    from emotune.search.storage import SQLiteStorage

    path, optimizer, n, sleep = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    space = Space({"x": Float(-5.0, 5.0), "n": Int(1, 10), "c": Categorical(["a", "b"])})

    def objective(p, trial):
        time.sleep(sleep)
        import numpy as np
        noise = np.random.default_rng(trial.seed).normal(scale=0.1)
        return (p["x"] - 1.0) ** 2 + (p["n"] - 3) ** 2 + (p["c"] == "b") + noise

    study = Study(space, optimizer, "minimize", seed=7, budget=n, storage=SQLiteStorage(path),
                  optimizer_options={"pop_size": 6} if optimizer == "ga" else {})
    if SQLiteStorage(path).path.exists() and study.storage.n_trials():
        study.resume()
    else:
        study.enqueue({"x": 0.0, "n": 5, "c": "a"})
    study.optimize(objective, trials=n - study.n_finished())
    """
)


def _run(script: Path, db: Path, optimizer: str, n: int, sleep: float, kill_after: int | None = None) -> bool:
    """Run the study in a subprocess; with ``kill_after``, SIGKILL it once that many trials are stored
    as finished and one is stored as running (so the kill lands inside a trial). Returns True if killed."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2] / "src"))
    proc = subprocess.Popen([sys.executable, str(script), str(db), optimizer, str(n), str(sleep)], env=env)
    if kill_after is None:
        assert proc.wait(timeout=120) == 0
        return False
    deadline = time.time() + 60
    while proc.poll() is None and time.time() < deadline:
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.1) as conn:
                done, running = conn.execute(
                    "SELECT SUM(state != 'running'), SUM(state = 'running') FROM trials").fetchone()
        except sqlite3.Error:
            done, running = 0, 0
        if (done or 0) >= kill_after and running:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.002)
    assert proc.wait(timeout=60) == 0
    return False


def _sequence(db: Path):
    records, _ = SQLiteStorage(db).load()
    return [(r.id, r.state, json.dumps(r.params, sort_keys=True), r.value, r.optimizer_id) for r in records], records


@pytest.mark.parametrize("optimizer, kills", [("ga", 3), ("tpe", 1)])
def test_sigkill_at_random_points_then_resume_gives_the_same_trials(tmp_path, optimizer, kills):
    script = tmp_path / "study.py"
    script.write_text(SCRIPT)
    n, sleep = 24, 0.1  # a 100-ms trial leaves the poller a wide window to land each kill inside a trial, even under load
    _run(script, tmp_path / "ref.db", optimizer, n, sleep)
    reference, _ = _sequence(tmp_path / "ref.db")
    assert len(reference) == n and all(s == TrialState.COMPLETE for _, s, *_ in reference)

    db = tmp_path / "killed.db"
    rng = np.random.default_rng(11)
    points = sorted(rng.choice(np.arange(2, n - 2), size=kills, replace=False).tolist())
    killed = 0
    for point in points:
        killed += _run(script, db, optimizer, n, sleep, kill_after=int(point))
    _run(script, db, optimizer, n, sleep)  # the last resume runs to the end
    resumed, records = _sequence(db)
    assert killed == kills
    assert resumed == reference  # same ids, params, values, states, optimizer ids: nothing lost or counted twice
    assert sum(r.attempts for r in records) == kills  # every kill landed mid-trial; that trial was re-run


def test_resume_marks_running_trials_interrupted_and_reruns_them_first(tmp_path):
    space = Space({"x": Float(0.0, 1.0)})
    db = tmp_path / "s.db"
    study = Study(space, "random", seed=0, budget=10, storage=SQLiteStorage(db))
    study.optimize(lambda p: p["x"], trials=3)
    handles = study.ask(2)  # two trials "running" when the process dies
    study.storage.close()

    again = Study(space, "random", seed=0, budget=10, storage=SQLiteStorage(db))
    assert again.resume() == 5
    stored, _ = SQLiteStorage(db).load()
    assert [r.state for r in stored[3:]] == [TrialState.INTERRUPTED] * 2
    assert again.n_finished() == 3
    rerun = again.ask(2)
    assert [h.id for h in rerun] == [h.id for h in handles]
    assert [h.params for h in rerun] == [h.params for h in handles]


def test_a_storage_with_trials_is_not_silently_reused(tmp_path):
    space = Space({"x": Float(0.0, 1.0)})
    db = tmp_path / "s.db"
    Study(space, "random", seed=0, storage=SQLiteStorage(db)).optimize(lambda p: p["x"], trials=2)
    with pytest.raises(Exception, match="already holds 2 trials; call resume"):
        Study(space, "random", seed=0, storage=SQLiteStorage(db)).optimize(lambda p: p["x"], trials=2)
    with pytest.raises(Exception, match="holds a different study"):
        Study(space, "pso", seed=0, storage=SQLiteStorage(db)).resume()
