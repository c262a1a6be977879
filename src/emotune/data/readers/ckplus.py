"""``ckplus``: the extended Cohn-Kanade face crops in the CK+48 layout (Lucey et al. 2010).

``data_dir`` is the folder holding one sub-folder per label (or a folder with an
``images/`` sub-folder laid out so)::

    <label>/S<subject>_<sequence>_<frame>.png      e.g. happy/S005_001_00000011.png

Labels: the folder name in the common vocabulary (:func:`~emotune.data.labels.normalize_emotion`:
``anger`` -> ``angry``, ``sadness`` -> ``sad``; ``contempt`` stays). Samples: id =
``<label folder>/<file stem>``, group = the subject (``"S005"``), so face-image
runs split by subject; ``extra``: ``image_path``, ``subject``, ``sequence``
(``"S005_001"``), ``frame`` (int). CK+48 keeps the last frames of each sequence,
which are near-duplicates: never split by image. A file name off the pattern is a
bad row naming the file.
"""

from __future__ import annotations

import re
from pathlib import Path

from emotune.data.labels import normalize_emotion
from emotune.data.readers._audio import FILE_NAME_FIELD, audio_root
from emotune.data.readers._base import READERS, BadRowLog, ReadOptions
from emotune.data.readers._images import IMAGE_PATH, find_image_files
from emotune.data.schema import Dataset, Sample
from emotune.exceptions import DatasetError

__all__ = ["read_ckplus", "CKPLUS_NAME"]

CKPLUS_NAME = re.compile(r"(S\d+)_(\d+)_(\d+)")
"""``S<subject>_<sequence>_<frame>`` (the stem of a CK+48 file)."""

_WHAT = "CK+48 face crops <label>/S<subject>_<sequence>_<frame>.png (e.g. happy/S005_001_00000011.png)"


@READERS.register("ckplus")
def read_ckplus(path: Path | None, options: ReadOptions) -> Dataset:
    """Read every ``<label>/S*_*_*.png`` below ``path`` (or ``path/images``)."""
    root = audio_root(path, "ckplus", f"a folder of {_WHAT}")
    if (root / "images").is_dir():
        root = root / "images"
    files = [f for f in find_image_files(root) if len(f.relative_to(root).parts) == 2]
    if not files:
        raise DatasetError(f"dataset 'ckplus': no images in label sub-folders of {root}; expected {_WHAT}")
    log = BadRowLog(options.on_bad_rows)
    samples = []
    for file in files:
        m = CKPLUS_NAME.fullmatch(file.stem)
        if m is None:
            log.add(file, 0, FILE_NAME_FIELD, "does not match the CK+48 pattern S<subject>_<sequence>_<frame>")
            continue
        subject, sequence, frame = m.groups()
        folder = file.parent.name
        samples.append(Sample(
            id=f"{folder}/{file.stem}", label=normalize_emotion(folder), group=subject,
            extra={IMAGE_PATH: str(file.absolute()), "subject": subject, "sequence": f"{subject}_{sequence}",
                   "frame": int(frame)},
        ))
    return Dataset(name="ckplus", samples=samples, skipped=log.finish(), source=f"{root} ({len(files)} images)")
