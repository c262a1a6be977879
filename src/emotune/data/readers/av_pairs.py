"""Pairing a corpus's video clips with its audio files by recording, never by a path column.

* CREMA-D: the video and the audio of a take share the stem (``1001_DFA_ANG_XX.flv`` / ``.flac``, or a folder of
  frames named by the stem);
* RAVDESS: the ``01-`` (audio-video) or ``02-`` (video-only) clip and the ``03-`` audio of the same take share the
  recording id (the stem without its first field, :func:`~emotune.data.readers.ravdess_av.recording_id`).

:func:`pair_av` returns one ``(key, video, audio)`` triple per recording, ``None`` where a side is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from emotune.exceptions import ConfigError

__all__ = ["AV_CORPORA", "recording_key", "pair_av"]

AV_CORPORA = ("crema-d", "ravdess")


def recording_key(stem: str, corpus: str) -> str:
    """The key two files of one take share (``corpus``: ``"crema-d"`` or ``"ravdess"``)."""
    if corpus == "crema-d":
        return stem
    if corpus == "ravdess":
        from emotune.data.readers.ravdess_av import recording_id

        return recording_id(stem)
    raise ConfigError(f"corpus must be one of {AV_CORPORA}, got {corpus!r}")


def pair_av(videos: Sequence[str | Path], audios: Sequence[str | Path],
            corpus: str) -> list[tuple[str, Path | None, Path | None]]:
    """``(key, video, audio)`` per recording, sorted by key; a video (file or frames folder) is keyed by its stem.

    Of two RAVDESS videos of one take (``01-`` and ``02-``) the audio-video ``01-`` one is kept.
    """
    vids: dict[str, Path] = {}
    for v in sorted(Path(p) for p in videos):
        key = recording_key(v.stem if v.is_file() or v.suffix else v.name, corpus)
        if key not in vids or (corpus == "ravdess" and v.name.startswith("01-")):
            vids[key] = v
    auds = {recording_key(Path(a).stem, corpus): Path(a) for a in audios}
    return [(k, vids.get(k), auds.get(k)) for k in sorted(set(vids) | set(auds))]
