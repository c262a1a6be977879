"""``audio-folder``: one sub-folder of audio files per class.

::

    data_dir/
        angry/  a.wav  b.flac ...
        happy/  take2/c.wav ...

The label is the sub-folder name passed through
:func:`~emotune.data.labels.normalize_emotion` (``Anger/`` -> ``"angry"``,
``positive/`` stays ``"positive"``); the folder's own name is kept in
``extra["folder"]``. Audio files (:data:`~emotune.data.readers._audio.AUDIO_SUFFIXES`)
anywhere below a class folder are samples; other files, hidden files and hidden
folders are ignored. Speakers are unknown, so there are no groups: splits fall
back to stratified splits by sample. Ids: ``"<folder>/<relative path>"``.
"""

from __future__ import annotations

from pathlib import Path

from emotune.data.labels import normalize_emotion
from emotune.data.readers._audio import AUDIO_SUFFIXES, IGNORED_DIRS, audio_root, find_audio_files
from emotune.data.readers._base import READERS, ReadOptions
from emotune.data.schema import Dataset, Sample
from emotune.exceptions import DatasetError

__all__ = ["read_audio_folder"]

_WHAT = "a folder with one sub-folder of audio files per class (e.g. angry/a.wav, happy/b.wav)"


@READERS.register("audio-folder")
def read_audio_folder(path: Path | None, options: ReadOptions) -> Dataset:
    """Read every ``<class>/**/<audio file>`` below the folder ``path``."""
    root = audio_root(path, "audio-folder", _WHAT)
    samples: list[Sample] = []
    class_dirs = sorted(
        p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name not in IGNORED_DIRS
    )
    for class_dir in class_dirs:
        label = normalize_emotion(class_dir.name)
        for file in find_audio_files(class_dir):
            rel = file.relative_to(class_dir).as_posix()
            samples.append(
                Sample(
                    id=f"{class_dir.name}/{rel}",
                    label=label,
                    audio_path=str(file),
                    extra={"folder": class_dir.name},
                )
            )
    if not samples:
        raise DatasetError(
            f"dataset 'audio-folder': no audio files ({', '.join(AUDIO_SUFFIXES)}) found in sub-folders of {root}; "
            f"expected {_WHAT}"
        )
    return Dataset(name="audio-folder", samples=samples, source=f"{root} ({len(class_dirs)} class folders)")
