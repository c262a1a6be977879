"""SQLite study storage: every trial on disk when told, WAL + synchronous, damaged files detected on open."""

import json
import sqlite3

import pytest

from emotune.exceptions import ConfigError, StorageCorrupt
from emotune.search import Float, Int, Space, Study, TrialState
from emotune.search.storage import SQLiteStorage


def _space():
    return Space({"x": Float(-5.0, 5.0), "n": Int(1, 10)})


def _f(p):
    return (p["x"] - 1.0) ** 2 + p["n"]


def _study(path, **kw):
    return Study(_space(), "pso", "minimize", seed=0, budget=20, storage=SQLiteStorage(path), **kw)


def test_each_trial_is_on_disk_when_its_tell_returns(tmp_path):
    db = tmp_path / "study.db"
    seen = []

    def on_trial(study, record):  # another connection, as a second process would read it
        with sqlite3.connect(db) as conn:
            row = conn.execute("SELECT state, value FROM trials WHERE id = ?", (record.id,)).fetchone()
            n_state = conn.execute("SELECT n_trials FROM study_state").fetchone()[0]
        seen.append((row, n_state))

    study = _study(db)
    study.optimize(_f, trials=6, callbacks=[on_trial])
    assert [r for r, _ in seen] == [("complete", t.value) for t in study.trials]
    assert [n for _, n in seen] == [1, 2, 3, 4, 5, 6]


def test_wal_mode_and_synchronous_level(tmp_path):
    storage = SQLiteStorage(tmp_path / "s.db")
    Study(_space(), "random", storage=storage).optimize(_f, trials=1)
    assert storage.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert storage.conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    full = SQLiteStorage(tmp_path / "f.db", synchronous="FULL")
    full.save([], None)
    assert full.conn.execute("PRAGMA synchronous").fetchone()[0] == 2
    with pytest.raises(ConfigError, match="synchronous must be one of"):
        SQLiteStorage(tmp_path / "x.db", synchronous="sometimes")


def test_records_and_optimizer_state_round_trip(tmp_path):
    db = tmp_path / "s.db"
    study = _study(db)
    study.optimize(lambda p: float("nan") if p["n"] == 1 else _f(p), trials=8)
    study.storage.close()
    records, state = SQLiteStorage(db).load()
    as_json = lambda rs: [json.dumps(r.to_dict(), sort_keys=True) for r in rs]  # nan == nan as text
    assert as_json(records) == as_json(study.trials)
    assert state["optimizer"]["n_told"] == study.optimizer.n_told
    assert state["optimizer"]["rng"] == study.optimizer.rng.bit_generator.state


def _finished_db(tmp_path):
    db = tmp_path / "s.db"
    study = _study(db)
    study.optimize(_f, trials=40)
    study.storage.close()  # checkpoints the WAL into the main file
    return db


def test_a_truncated_file_is_detected_on_open_and_says_how_to_recover(tmp_path):
    db = _finished_db(tmp_path)
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])
    with pytest.raises(StorageCorrupt, match="truncated") as info:
        SQLiteStorage(db).load()
    assert "--overwrite" in str(info.value) and ".recover" in str(info.value)


def test_a_torn_page_is_detected_on_open(tmp_path):
    db = _finished_db(tmp_path)
    data = bytearray(db.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    for p in range(1, len(data) // page):  # overwrite the b-tree header of every page after the first
        data[p * page: p * page + 64] = b"\xa5" * 64
    db.write_bytes(bytes(data))
    with pytest.raises(StorageCorrupt, match="damaged"):
        SQLiteStorage(db).load()


def test_a_file_that_is_not_a_study_is_refused(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_text("trial,value\n1,0.5\n")
    with pytest.raises(StorageCorrupt, match="SQLite header"):
        SQLiteStorage(junk).load()
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (a)")
    with pytest.raises(StorageCorrupt, match="not an emotune study"):
        SQLiteStorage(other).load()


def test_a_damaged_optimizer_state_is_detected_and_the_trials_stay_readable(tmp_path):
    db = _finished_db(tmp_path)
    with sqlite3.connect(db) as conn:
        blob = bytearray(conn.execute("SELECT blob FROM study_state").fetchone()[0])
        blob[len(blob) // 2] ^= 0xFF
        conn.execute("UPDATE study_state SET blob = ?", (bytes(blob),))
    with pytest.raises(StorageCorrupt, match="All 40 trial records are readable"):
        SQLiteStorage(db).load()


def test_storage_pickles_without_its_connection(tmp_path):
    import pickle

    storage = SQLiteStorage(tmp_path / "s.db")
    storage.save([], None)
    clone = pickle.loads(pickle.dumps(storage))
    assert clone.path == storage.path and clone.n_trials() == 0
