"""``crema-d``: the Crowd-sourced Emotional Multimodal Actors Dataset (Cao et al. 2014).

``data_dir`` is any folder holding the clips, searched recursively (the release
has ``AudioWAV/``; converted copies may be ``.flac``). Every file is named
``AAAA_SSS_EEE_LL``: actor (``1001``-``1091``), sentence (one of the 12 codes of
:data:`CREMA_D_SENTENCES`), emotion (``ANG DIS FEA HAP NEU SAD``, labels:
:data:`~emotune.data.labels.CREMA_D_EMOTIONS`) and level (``LO MD HI``, or ``XX``
when unspecified).

Samples: id = the file stem, group = the actor, text = the sentence (one of 12
fixed sentences: it carries no emotion, a control for fusion), ``extra``:
``actor``, ``sentence``, ``emotion_code``, ``level``, ``intensity``
(``"low"`` ... ``"unspecified"``). When ``VideoDemographics.csv`` lies in
``data_dir`` or ``data_dir/metadata`` its ``sex``, ``age``, ``race`` and
``ethnicity`` are added (lower case). The acted (intended) emotion is the label,
not the crowd's vote.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

from emotune.data.labels import CREMA_D_EMOTIONS
from emotune.data.readers._audio import FILE_NAME_FIELD, BadName, audio_root, read_named_files
from emotune.data.readers._base import READERS, ReadOptions
from emotune.data.readers._io import choose_encoding, read_bytes
from emotune.data.schema import Dataset, Sample

__all__ = ["read_crema_d", "CREMA_D_SENTENCES", "CREMA_D_LEVELS", "DEMOGRAPHICS_FILE"]

#: sentence code -> the sentence spoken.
CREMA_D_SENTENCES = {
    "IEO": "It's eleven o'clock",
    "TIE": "That is exactly what happened",
    "IOM": "I'm on my way to the meeting",
    "IWW": "I wonder what this is about",
    "TAI": "The airplane is almost full",
    "MTI": "Maybe tomorrow it will be cold",
    "IWL": "I would like a new alarm clock",
    "ITH": "I think I have a doctor's appointment",
    "DFA": "Don't forget a jacket",
    "ITS": "I think I've seen this before",
    "TSI": "The surface is slick",
    "WSI": "We'll stop in a couple of minutes",
}

#: level code -> intensity.
CREMA_D_LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}

#: The official table of actor demographics.
DEMOGRAPHICS_FILE = "VideoDemographics.csv"

_NAME = re.compile(r"(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})")
_WHAT = "CREMA-D clips named AAAA_SSS_EEE_LL.wav or .flac (e.g. 1001_DFA_ANG_XX.wav)"
_DEMOGRAPHIC_COLUMNS = {"Sex": "sex", "Age": "age", "Race": "race", "Ethnicity": "ethnicity"}


def _read_demographics(root: Path) -> tuple[dict[str, dict[str, Any]], Path | None]:
    """``{actor: {"sex": "male", "age": 51, ...}}`` from the demographics table, if there is one."""
    for file in (root / DEMOGRAPHICS_FILE, root / "metadata" / DEMOGRAPHICS_FILE):
        if file.is_file():
            break
    else:
        return {}, None
    data = read_bytes(file)
    text = data.decode(choose_encoding(data, None, default="utf-8", fallback="latin-1")).lstrip("\ufeff")
    table: dict[str, dict[str, Any]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        actor = (row.get("ActorID") or "").strip()
        if not actor:
            continue
        info: dict[str, Any] = {}
        for column, key in _DEMOGRAPHIC_COLUMNS.items():
            value = (row.get(column) or "").strip()
            if value:
                info[key] = int(value) if key == "age" and value.isdigit() else value.lower()
        table[actor] = info
    return table, file


def _known(field: str, value: str, table: dict[str, str]) -> None:
    if value not in table:
        raise BadName(field, f"unknown {field} code {value!r} (known: {', '.join(table)})")


@READERS.register("crema-d")
def read_crema_d(path: Path | None, options: ReadOptions) -> Dataset:
    """Read every CREMA-D clip below the folder ``path``."""
    root = audio_root(path, "crema-d", f"a folder of {_WHAT}")
    demographics, demographics_file = _read_demographics(root)

    def parse(file: Path) -> Sample:
        m = _NAME.fullmatch(file.stem)
        if m is None:
            raise BadName(FILE_NAME_FIELD, "does not match the CREMA-D pattern AAAA_SSS_EEE_LL (e.g. 1001_DFA_ANG_XX)")
        actor, sentence, emotion, level = m.groups()
        _known("sentence", sentence, CREMA_D_SENTENCES)
        _known("emotion", emotion, CREMA_D_EMOTIONS)
        _known("level", level, CREMA_D_LEVELS)
        extra: dict[str, Any] = {
            "actor": actor,
            "sentence": sentence,
            "emotion_code": emotion,
            "level": level,
            "intensity": CREMA_D_LEVELS[level],
        }
        extra.update(demographics.get(actor, {}))
        return Sample(
            id=file.stem,
            label=CREMA_D_EMOTIONS[emotion],
            group=actor,
            text=CREMA_D_SENTENCES[sentence],
            audio_path=str(file.absolute()),
            extra=extra,
        )

    dataset = read_named_files("crema-d", root, options, what=_WHAT, parse=parse)
    if demographics_file is not None:
        dataset.source += f"; demographics from {demographics_file.name}"
    return dataset
