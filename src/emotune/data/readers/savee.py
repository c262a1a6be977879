"""``savee``: Surrey Audio-Visual Expressed Emotion (Haq & Jackson 2009).

Four male speakers (``DC``, ``JE``, ``JK``, ``KL``), 120 British English sentences
each, seven emotions coded in the file name: ``a`` angry, ``d`` disgust, ``f``
fear, ``h`` happy, ``n`` neutral, ``sa`` sad, ``su`` surprise (labels:
:data:`~emotune.data.labels.SAVEE_EMOTIONS`), then a two-digit sentence number.
``data_dir`` is searched recursively and both layouts are read:

* the release: ``AudioData/DC/a01.wav``, a folder per speaker and no prefix;
* the Kaggle copy: flat ``DC_a01.wav``.

Samples: id = ``<speaker>_<code><number>`` (``"DC_a01"``) in either layout, group =
the speaker, text = ``None``, ``extra``: ``speaker``, ``emotion_code``,
``number``, ``sex``. A name off both patterns, an unknown speaker or emotion code
is a bad row naming the file.
"""

from __future__ import annotations

import re
from pathlib import Path

from emotune.data.labels import SAVEE_EMOTIONS
from emotune.data.readers._audio import FILE_NAME_FIELD, BadName, audio_root, read_named_files
from emotune.data.readers._base import READERS, ReadOptions
from emotune.data.schema import Dataset, Sample

__all__ = ["read_savee", "parse_savee_name", "SAVEE_SPEAKERS"]

SAVEE_SPEAKERS = ("DC", "JE", "JK", "KL")

_NAME = re.compile(r"(?:([A-Za-z]{2})_)?([a-z]{1,2})(\d{2})")
_WHAT = "SAVEE files, AudioData/<speaker>/<emotion><NN>.wav (e.g. AudioData/DC/a01.wav) or flat DC_a01.wav"


def parse_savee_name(file: Path) -> Sample:
    """The sample of one SAVEE file (either layout); :class:`~emotune.data.readers._audio.BadName` if it is off."""
    m = _NAME.fullmatch(file.stem)
    if m is None:
        raise BadName(
            FILE_NAME_FIELD,
            "does not match the SAVEE pattern <speaker>_<emotion><NN> (DC_a01) "
            "or <emotion><NN> in a speaker folder (DC/a01)",
        )
    prefix, code, number = m.groups()
    if prefix is not None:
        speaker = prefix
        if speaker not in SAVEE_SPEAKERS:
            raise BadName("speaker", f"unknown speaker {speaker!r} (known: {', '.join(SAVEE_SPEAKERS)})")
    else:
        speaker = file.parent.name
        if speaker not in SAVEE_SPEAKERS:
            raise BadName(
                "speaker",
                f"no speaker prefix in the file name and its folder {speaker!r} is not a SAVEE speaker "
                f"({', '.join(SAVEE_SPEAKERS)})",
            )
    if code not in SAVEE_EMOTIONS:
        raise BadName("emotion", f"unknown emotion code {code!r} (known: {', '.join(SAVEE_EMOTIONS)})")
    return Sample(
        id=f"{speaker}_{code}{number}",
        label=SAVEE_EMOTIONS[code],
        group=speaker,
        audio_path=str(file.absolute()),
        extra={"speaker": speaker, "emotion_code": code, "number": number, "sex": "male"},
    )


@READERS.register("savee")
def read_savee(path: Path | None, options: ReadOptions) -> Dataset:
    """Read every SAVEE file below the folder ``path``."""
    root = audio_root(path, "savee", f"a folder of {_WHAT}")
    return read_named_files("savee", root, options, what=_WHAT, parse=parse_savee_name)
