"""Corpus readers, one module per corpus or family, registered by name in :data:`READERS`.

Importing this package registers ``csv``, ``tsv``, ``jsonl``, ``mr``, ``sst2``,
``folder`` and ``tweets``.
"""

from __future__ import annotations

from emotune.data.readers._base import READERS, BadRowLog, Reader, ReadOptions
from emotune.data.readers import tabular  # noqa: F401  (registers csv, tsv, jsonl)
from emotune.data.readers import mr  # noqa: F401
from emotune.data.readers import sst2  # noqa: F401
from emotune.data.readers import folder  # noqa: F401
from emotune.data.readers import tweets  # noqa: F401

__all__ = ["READERS", "Reader", "ReadOptions", "BadRowLog"]
