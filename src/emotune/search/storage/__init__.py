"""Where a study keeps its trials: in memory (default) or a SQLite file that survives a kill.

``optuna_export`` writes a stored study as an Optuna journal file (optuna-dashboard opens it).
"""

from emotune.search.storage._memory import InMemoryStorage, Storage
from emotune.search.storage._sqlite import FORMAT, SQLiteStorage

__all__ = ["Storage", "InMemoryStorage", "SQLiteStorage", "FORMAT"]
