"""Corpus readers, one module per corpus or family, registered by name in :data:`READERS`.

Importing this package registers ``csv``, ``tsv``, ``jsonl``, ``mr``, ``sst2``,
``folder`` and ``tweets`` (text), and ``ravdess``, ``crema-d``, ``tess``, ``savee``,
``iemocap``, ``audio-folder`` and ``audio-csv`` (speech; labels in the common
vocabulary of :mod:`emotune.data.labels`), ``ckplus`` and ``image-folder`` (face images),
``ravdess-av`` (RAVDESS audio paired with per-clip face Action Units) and ``manifest``
(a multimodal CSV).
"""

from __future__ import annotations

from emotune.data.readers._base import READERS, BadRowLog, Reader, ReadOptions
from emotune.data.readers import tabular  # noqa: F401  (registers csv, tsv, jsonl)
from emotune.data.readers import mr  # noqa: F401
from emotune.data.readers import sst2  # noqa: F401
from emotune.data.readers import folder  # noqa: F401
from emotune.data.readers import tweets  # noqa: F401
from emotune.data.readers import ravdess  # noqa: F401
from emotune.data.readers import crema_d  # noqa: F401
from emotune.data.readers import tess  # noqa: F401
from emotune.data.readers import savee  # noqa: F401
from emotune.data.readers import iemocap  # noqa: F401
from emotune.data.readers import audio_folder  # noqa: F401
from emotune.data.readers import audio_csv  # noqa: F401
from emotune.data.readers import ckplus  # noqa: F401  (face images)
from emotune.data.readers import image_folder  # noqa: F401
from emotune.data.readers import ravdess_av  # noqa: F401  (audio + face vectors)
from emotune.data.readers import manifest  # noqa: F401  (multimodal CSV)

__all__ = ["READERS", "Reader", "ReadOptions", "BadRowLog"]
