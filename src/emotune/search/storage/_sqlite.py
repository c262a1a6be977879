"""A study on disk: one SQLite file, every trial written the moment it is asked and told.

Layout (``format = emotune-study/1`` in ``meta``):

* ``meta(key, value)``: the format, the study definition (space, direction,
  seed, optimizer and its options) as JSON;
* ``trials(id, state, value, record)``: one row per trial, ``record`` is the
  full :class:`~emotune.search.study.TrialRecord` as JSON (params, value,
  state, start/end in Unix seconds, error text, worker id, fold, fidelity,
  intermediate values, attempts);
* ``study_state(id = 1, n_trials, sha256, blob)``: the study's state (the
  optimizer's ``state_dict`` with its RNG, the enqueued and retry queues) as a
  pickle, with its SHA-256 so a damaged blob is noticed on load.

Each ``save`` (one after every ask, one after every tell) writes the changed
trial rows *and* the state in one transaction, so the file always holds a
state the study really passed through: a kill between two saves loses at most
the running trials, which :meth:`Study.resume` re-asks.

Why WAL and ``synchronous=NORMAL``: in WAL mode a commit appends to the
``-wal`` file and the reader never sees a half-written transaction (each WAL
frame is checksummed; a torn tail is ignored on open). ``NORMAL`` skips the
fsync on each commit: a committed transaction survives a killed process or a
crashed Python (the bytes are in the OS page cache), and only a power cut or
kernel crash can lose the last few commits, never corrupt the file. ``FULL``
would add an fsync (milliseconds on most disks) to every trial for that last
case; ``synchronous`` is an argument if you want it.

One writer: only the process that runs the study writes (trial workers send
results back to it). Another process that opens the file (a dashboard, an
export) waits on a lock (``busy_timeout``) and writes are retried.

The state is a pickle: open only run directories you trust, as with any
pickle or ``torch.load``.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from emotune.exceptions import ConfigError, StorageCorrupt

__all__ = ["SQLiteStorage", "FORMAT", "record_from_json"]

FORMAT = "emotune-study/1"
_HEADER = b"SQLite format 3\x00"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (id INTEGER PRIMARY KEY, state TEXT NOT NULL, value REAL, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS study_state (
    id INTEGER PRIMARY KEY CHECK (id = 1), n_trials INTEGER NOT NULL, sha256 TEXT NOT NULL, blob BLOB NOT NULL);
"""
_SYNC = ("OFF", "NORMAL", "FULL", "EXTRA")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, (np.ndarray, tuple)):
        return list(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return str(obj)


def record_from_json(text: str):
    """A :class:`TrialRecord` from its JSON row (unknown keys from newer versions are dropped)."""
    from dataclasses import fields

    from emotune.search.study import TrialRecord

    d = json.loads(text)
    known = {f.name for f in fields(TrialRecord)}
    d = {k: v for k, v in d.items() if k in known}
    if "intermediate" in d:
        d["intermediate"] = {int(k): v for k, v in d["intermediate"].items()}
    return TrialRecord(**d)


class SQLiteStorage:
    """Trials and study state in the SQLite file ``path`` (created on first use).

    Args:
        path: the file, e.g. ``RUN/study.db``.
        synchronous: SQLite's ``synchronous`` level, ``"NORMAL"`` (default) or ``"FULL"``.
        timeout: seconds to wait for a lock held by another process before failing.

    Raises:
        StorageCorrupt: on first use, when the file is not a SQLite database, is
            truncated, fails SQLite's ``quick_check`` or is not an emotune study;
            the message says what can still be read and how to recover it.
    """

    def __init__(self, path: str | Path, *, synchronous: str = "NORMAL", timeout: float = 30.0) -> None:
        if str(synchronous).upper() not in _SYNC:
            raise ConfigError(f"synchronous must be one of {_SYNC}, got {synchronous!r}")
        self.path = Path(path)
        self.synchronous = str(synchronous).upper()
        self.timeout = float(timeout)
        self._conn: sqlite3.Connection | None = None

    # --- opening and checking -------------------------------------------------
    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def _open(self) -> sqlite3.Connection:
        exists = self.path.exists() and self.path.stat().st_size > 0
        if exists:
            self._check_file()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            conn.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
            if exists:
                problems = [r[0] for r in conn.execute("PRAGMA quick_check").fetchall()]
                if problems != ["ok"]:
                    conn.close()
                    raise self._corrupt(f"SQLite's quick_check reports: {'; '.join(problems[:5])}")
                tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                if not {"meta", "trials", "study_state"} <= tables:
                    conn.close()
                    raise StorageCorrupt(
                        f"{self.path} is a SQLite database but not an emotune study (tables {sorted(tables)}); "
                        f"point --resume at a run directory written by emotune tune, or use another path"
                    )
                fmt = conn.execute("SELECT value FROM meta WHERE key='format'").fetchone()
                if fmt is None or fmt[0] != FORMAT:
                    conn.close()
                    raise StorageCorrupt(f"{self.path} has study format {fmt and fmt[0]!r}; this emotune reads {FORMAT!r}")
            else:
                conn.executescript(_SCHEMA)
                conn.execute("INSERT OR IGNORE INTO meta VALUES ('format', ?)", (FORMAT,))
        except sqlite3.DatabaseError as exc:
            raise self._corrupt(f"SQLite cannot read it ({exc})") from exc
        return conn

    def _check_file(self) -> None:
        """Header and size checks that catch a truncated or overwritten file before SQLite does."""
        size = self.path.stat().st_size
        with self.path.open("rb") as fh:
            header = fh.read(100)
        if len(header) < 100 or not header.startswith(_HEADER):
            raise self._corrupt(f"it does not start with the SQLite header ({size} bytes)")
        page_size = int.from_bytes(header[16:18], "big")
        page_size = 65536 if page_size == 1 else page_size
        n_pages = int.from_bytes(header[28:32], "big")
        valid = header[24:28] == header[92:96] and n_pages > 0  # SQLite's rule for the in-header size
        if size % page_size:
            raise self._corrupt(f"it is truncated: {size} bytes is not a whole number of {page_size}-byte pages")
        if valid and size < n_pages * page_size:
            raise self._corrupt(
                f"it is truncated: {size} bytes, but its header says {n_pages} pages of {page_size} bytes "
                f"({n_pages * page_size} bytes)"
            )

    def _readable_trials(self) -> int | None:
        """How many trial rows a read-only connection can still read, or None."""
        try:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=1.0)
            try:
                n = 0
                for (text,) in conn.execute("SELECT record FROM trials ORDER BY id"):
                    json.loads(text)
                    n += 1
                return n
            finally:
                conn.close()
        except (sqlite3.DatabaseError, ValueError):
            return None

    def _corrupt(self, what: str) -> StorageCorrupt:
        n = self._readable_trials()
        readable = (
            f"{n} trial records can still be read" if n is not None else "no trial record can be read with SQLite"
        )
        return StorageCorrupt(
            f"study file {self.path} is damaged: {what}. {readable}; trials.csv beside it lists every trial "
            f"finished before the last save. To recover: `sqlite3 {self.path} .recover | sqlite3 recovered.db` "
            f"salvages the readable rows; to start again, run with --overwrite (the damaged file is replaced)."
        )

    # --- the definition ----------------------------------------------------------
    def check_definition(self, definition: dict[str, Any]) -> None:
        """Store the study definition, or refuse one that differs from the stored one."""
        text = json.dumps(definition, sort_keys=True, default=_json_default)
        row = self.conn.execute("SELECT value FROM meta WHERE key='definition'").fetchone()
        if row is None:
            self._write(lambda c: c.execute("INSERT INTO meta VALUES ('definition', ?)", (text,)))
            return
        stored = json.loads(row[0])
        new = json.loads(text)
        diff = sorted(k for k in set(stored) | set(new) if stored.get(k) != new.get(k))
        if diff:
            shown = "; ".join(f"{k}: stored {stored.get(k)!r:.120}, now {new.get(k)!r:.120}" for k in diff)
            raise ConfigError(f"{self.path} holds a different study ({shown}); use another path or start over")

    def definition(self) -> dict[str, Any] | None:
        """The stored study definition (space, direction, seed, optimizer, options, budget), or None."""
        row = self.conn.execute("SELECT value FROM meta WHERE key='definition'").fetchone()
        return None if row is None else json.loads(row[0])

    # --- writing ------------------------------------------------------------------
    def _write(self, fn) -> None:
        """Run ``fn(conn)`` in one immediate transaction, retrying while another process holds the lock."""
        delay = 0.05
        for attempt in range(20):
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    fn(self.conn)
                    self.conn.execute("COMMIT")
                    return
                except BaseException:
                    self.conn.execute("ROLLBACK")
                    raise
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc) or attempt == 19:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def save(self, records: Iterable[Any], state: dict[str, Any] | None) -> None:
        rows = [
            (r.id, r.state, r.value, json.dumps(r.to_dict(), default=_json_default)) for r in records
        ]
        blob = None
        if state is not None:
            blob = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
            digest = hashlib.sha256(blob).hexdigest()

        def write(conn: sqlite3.Connection) -> None:
            conn.executemany("INSERT OR REPLACE INTO trials VALUES (?, ?, ?, ?)", rows)
            if blob is not None:
                conn.execute(
                    "INSERT OR REPLACE INTO study_state VALUES (1, (SELECT COUNT(*) FROM trials), ?, ?)",
                    (digest, blob),
                )

        self._write(write)

    # --- reading ------------------------------------------------------------------
    def load(self) -> tuple[list[Any], dict[str, Any] | None]:
        """``(records in id order, state or None)``; a damaged state blob raises :class:`StorageCorrupt`."""
        try:
            records = [record_from_json(t) for (t,) in self.conn.execute("SELECT record FROM trials ORDER BY id")]
            row = self.conn.execute("SELECT sha256, blob FROM study_state WHERE id = 1").fetchone()
        except (sqlite3.DatabaseError, ValueError, TypeError) as exc:
            raise self._corrupt(f"a trial row cannot be read ({exc})") from exc
        if row is None:
            return records, None
        digest, blob = row
        if hashlib.sha256(blob).hexdigest() != digest:
            raise StorageCorrupt(
                f"study file {self.path}: the optimizer state does not match its checksum (damaged). "
                f"All {len(records)} trial records are readable: `emotune export-optuna` and trials.csv still "
                f"work; to continue the search, start a new run (--overwrite) and enqueue the best params."
            )
        try:
            state = pickle.loads(blob)
        except Exception as exc:  # a damaged pickle can raise almost anything
            raise StorageCorrupt(f"study file {self.path}: the optimizer state cannot be unpickled ({exc})") from exc
        return records, state

    def n_trials(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0])

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __getstate__(self) -> dict[str, Any]:  # a connection does not cross processes
        return {**self.__dict__, "_conn": None}

    def __repr__(self) -> str:
        return f"SQLiteStorage({str(self.path)!r}, synchronous={self.synchronous!r})"
