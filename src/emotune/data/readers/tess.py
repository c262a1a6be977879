"""``tess``: the Toronto Emotional Speech Set (Pichora-Fuller & Dupuis 2020).

Two actresses, ``OAF`` (older, 64) and ``YAF`` (younger, 26), say 200 target
words in the carrier phrase "Say the word ..." with seven emotions. ``data_dir``
is any folder holding the files, searched recursively (the release has one folder
per speaker and emotion: ``OAF_angry/OAF_back_angry.wav``,
``YAF_pleasant_surprised/YAF_back_ps.wav``). The file name is what is read:
``<speaker>_<word>_<emotion>`` with emotion ``angry disgust fear happy neutral ps
sad`` in any case (``ps`` = pleasant surprise; labels:
:data:`~emotune.data.labels.TESS_EMOTIONS`); the folder names, which are spelled
inconsistently (``OAF_Fear``, ``OAF_Pleasant_surprise``), are not used. One file
of the release has a short speaker code, ``OAF_neutral/OA_bite_neutral.wav``;
``OA`` is read as ``OAF``, as other TESS loaders do.

Samples: id = the file stem, group = the speaker (``"OAF"``/``"YAF"``), text =
``"Say the word <word>"``, ``extra``: ``speaker``, ``word``, ``emotion_code``,
``age_group`` (``"older"``/``"younger"``), ``sex``.
"""

from __future__ import annotations

import re
from pathlib import Path

from emotune.data.labels import TESS_EMOTIONS
from emotune.data.readers._audio import FILE_NAME_FIELD, BadName, audio_root, read_named_files
from emotune.data.readers._base import READERS, ReadOptions
from emotune.data.schema import Dataset, Sample

__all__ = ["read_tess", "parse_tess_name", "TESS_SPEAKERS"]

#: speaker code -> age group.
TESS_SPEAKERS = {"OAF": "older", "YAF": "younger"}

#: speaker codes spelled otherwise in the released corpus: ``OAF_neutral/OA_bite_neutral.wav`` is OAF's.
_SPEAKER_QUIRKS = {"OA": "OAF"}

_NAME = re.compile(r"([A-Za-z]{2,3})_(\w+)_([A-Za-z]+)")
_WHAT = "TESS files named <OAF|YAF>_<word>_<emotion>.wav (e.g. OAF_angry/OAF_back_angry.wav)"


def parse_tess_name(file: Path) -> Sample:
    """The sample of one TESS file; :class:`~emotune.data.readers._audio.BadName` if its name is off."""
    m = _NAME.fullmatch(file.stem)
    if m is None:
        raise BadName(
            FILE_NAME_FIELD, "does not match the TESS pattern <speaker>_<word>_<emotion> (e.g. OAF_back_angry)"
        )
    speaker, word, code = m.group(1).upper(), m.group(2), m.group(3).lower()
    speaker = _SPEAKER_QUIRKS.get(speaker, speaker)
    if speaker not in TESS_SPEAKERS:
        raise BadName("speaker", f"unknown speaker {m.group(1)!r} (known: {', '.join(TESS_SPEAKERS)})")
    if code not in TESS_EMOTIONS:
        raise BadName("emotion", f"unknown emotion code {m.group(3)!r} (known: {', '.join(TESS_EMOTIONS)})")
    return Sample(
        id=file.stem,
        label=TESS_EMOTIONS[code],
        group=speaker,
        text=f"Say the word {word}",
        audio_path=str(file.absolute()),
        extra={
            "speaker": speaker,
            "word": word,
            "emotion_code": code,
            "age_group": TESS_SPEAKERS[speaker],
            "sex": "female",
        },
    )


@READERS.register("tess")
def read_tess(path: Path | None, options: ReadOptions) -> Dataset:
    """Read every TESS file below the folder ``path``."""
    root = audio_root(path, "tess", f"a folder of {_WHAT}")
    return read_named_files("tess", root, options, what=_WHAT, parse=parse_tess_name)
