"""``ravdess``: the Ryerson Audio-Visual Database of Emotional Speech and Song (Livingstone & Russo 2018).

``data_dir`` is any folder holding the audio files, searched recursively (the
release has ``Actor_01/`` ... ``Actor_24/``); ``.wav`` and ``.flac`` are both read.
Every file is named ``MM-VV-EE-II-SS-RR-AA``:

====  ===========  ==============================================================
 MM   modality     01 audio-video, 02 video-only, 03 audio-only
 VV   channel      01 speech, 02 song
 EE   emotion      01 neutral, 02 calm, 03 happy, 04 sad, 05 angry, 06 fearful,
                   07 disgust, 08 surprised (labels: :data:`~emotune.data.labels.RAVDESS_EMOTIONS`)
 II   intensity    01 normal, 02 strong
 SS   statement    01 "Kids are talking by the door", 02 "Dogs are sitting by the door"
 RR   repetition   01, 02
 AA   actor        01-24; odd male, even female
====  ===========  ==============================================================

Samples: id = the file stem (the same id for a ``.wav`` and its ``.flac`` copy, and
the ``audio_file`` of RAVDESS-derived tables), group = the actor (``"01"``), text =
the statement, ``extra``: ``modality``, ``vocal_channel``, ``emotion_code``,
``emotion`` (the corpus's word, ``"fearful"``), ``intensity``, ``statement``,
``repetition``, ``actor``, ``sex``. A name off the pattern or with a code outside
these tables is a bad row naming the file.
"""

from __future__ import annotations

import re
from pathlib import Path

from emotune.data.labels import RAVDESS_EMOTION_NAMES, RAVDESS_EMOTIONS
from emotune.data.readers._audio import FILE_NAME_FIELD, BadName, audio_root, read_named_files
from emotune.data.readers._base import READERS, ReadOptions
from emotune.data.schema import Dataset, Sample

__all__ = [
    "read_ravdess",
    "parse_ravdess_name",
    "RAVDESS_MODALITIES",
    "RAVDESS_CHANNELS",
    "RAVDESS_INTENSITIES",
    "RAVDESS_STATEMENTS",
    "RAVDESS_N_ACTORS",
]

RAVDESS_MODALITIES = {"01": "audio-video", "02": "video-only", "03": "audio-only"}
RAVDESS_CHANNELS = {"01": "speech", "02": "song"}
RAVDESS_INTENSITIES = {"01": "normal", "02": "strong"}
RAVDESS_STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
_REPETITIONS = ("01", "02")
RAVDESS_N_ACTORS = 24

_NAME = re.compile(r"(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)")
_WHAT = "RAVDESS audio files named MM-VV-EE-II-SS-RR-AA.wav (e.g. Actor_01/03-01-05-01-02-01-01.wav)"


def _code(field: str, value: str, table: dict[str, str] | tuple[str, ...]) -> None:
    if value not in table:
        known = ", ".join(table)
        raise BadName(field, f"unknown {field} code {value!r} (known: {known})")


def parse_ravdess_name(file: Path) -> Sample:
    """The sample of one RAVDESS file; :class:`~emotune.data.readers._audio.BadName` if its name is off."""
    m = _NAME.fullmatch(file.stem)
    if m is None:
        raise BadName(
            FILE_NAME_FIELD, "does not match the RAVDESS pattern MM-VV-EE-II-SS-RR-AA (e.g. 03-01-05-01-02-01-01)"
        )
    modality, channel, emotion, intensity, statement, repetition, actor = m.groups()
    _code("modality", modality, RAVDESS_MODALITIES)
    _code("vocal channel", channel, RAVDESS_CHANNELS)
    _code("emotion", emotion, RAVDESS_EMOTIONS)
    _code("intensity", intensity, RAVDESS_INTENSITIES)
    _code("statement", statement, RAVDESS_STATEMENTS)
    _code("repetition", repetition, _REPETITIONS)
    if not 1 <= int(actor) <= RAVDESS_N_ACTORS:
        raise BadName("actor", f"unknown actor code {actor!r} (known: 01-{RAVDESS_N_ACTORS:02d})")
    return Sample(
        id=file.stem,
        label=RAVDESS_EMOTIONS[emotion],
        group=actor,
        text=RAVDESS_STATEMENTS[statement],
        audio_path=str(file.absolute()),
        extra={
            "modality": RAVDESS_MODALITIES[modality],
            "vocal_channel": RAVDESS_CHANNELS[channel],
            "emotion_code": emotion,
            "emotion": RAVDESS_EMOTION_NAMES[emotion],
            "intensity": RAVDESS_INTENSITIES[intensity],
            "statement": statement,
            "repetition": repetition,
            "actor": actor,
            "sex": "male" if int(actor) % 2 else "female",
        },
    )


@READERS.register("ravdess")
def read_ravdess(path: Path | None, options: ReadOptions) -> Dataset:
    """Read every RAVDESS audio file below the folder ``path``."""
    root = audio_root(path, "ravdess", f"a folder of {_WHAT}")
    return read_named_files("ravdess", root, options, what=_WHAT, parse=parse_ravdess_name)
