"""Where a study keeps its trials: in memory (default) or a SQLite file that survives a kill.

``optuna_export`` writes a stored study as an Optuna journal file (optuna-dashboard opens it).
"""

from emotune.search.storage._memory import InMemoryStorage, Storage
from emotune.search.storage._optuna_export import export_optuna
from emotune.search.storage._sqlite import FORMAT, SQLiteStorage

__all__ = ["Storage", "InMemoryStorage", "SQLiteStorage", "FORMAT", "export_optuna", "export_run_to_optuna"]


def export_run_to_optuna(run_dir, out) -> list[str]:
    """Every ``study.db`` of an ``emotune tune`` run directory (``fold_K/`` for outer folds) into one journal file.

    Study names: ``search`` for a single split, ``fold_K`` for outer folds.
    """
    from pathlib import Path

    from emotune.exceptions import ConfigError
    from emotune.search.spaces import Space

    run_dir = Path(run_dir)
    found = [("search", run_dir / "study.db")] if (run_dir / "study.db").exists() else []
    found += [(p.parent.name, p) for p in sorted(run_dir.glob("fold_*/study.db"), key=lambda p: int(p.parent.name[5:]))]
    if not found:
        raise ConfigError(f"{run_dir} holds no study.db (not an emotune tune run directory, or from an older version)")
    studies = []
    for name, path in found:
        storage = SQLiteStorage(path)
        try:
            definition = storage.definition()
            records, _ = storage.load()
        finally:
            storage.close()
        if definition is None:
            raise ConfigError(f"{path} has no study definition; it was never used by a Study")
        studies.append((name, Space.from_json(definition["space"]), definition["direction"], records))
    return export_optuna(studies, out)
