"""``ravdess-av``: RAVDESS audio paired with a per-clip face vector by the recording id.

A RAVDESS take exists as up to three files that differ only in the first field
of the name (``01`` audio-video, ``02`` video-only, ``03`` audio-only); the
other six fields (``VV-EE-II-SS-RR-AA``) are the *recording id* this reader
pairs on, never a path column. ``data_dir`` holds:

* the audio, in either layout: ``audio/Actor_NN/03-....flac`` (the aligned
  development set, 16 kHz mono) or the original release's ``Actor_NN/03-....wav``
  (48 kHz; two files are stereo, downmixed when loaded); any ``.wav``/``.flac``
  below ``data_dir`` whose name is a RAVDESS audio-only name counts;
* the face, either ``face_action_units.csv`` (or another file given as
  ``face_file``): a table keyed by ``clip_id`` (the ``01-``/``02-`` video stem;
  per clip, or per frame and averaged) whose ``AU*_r``/``AU*_c`` columns are
  read (:func:`~emotune.data.readers.openface.read_face_table`; extra columns
  such as a frame index or a path are ignored); or a folder ``openface/`` of
  OpenFace 2 per-frame CSVs named by the video stem, averaged over tracked frames.

Samples: one per recording id found in either modality; id = the audio file's
stem (``03-...``) or, with no audio, ``03-`` + the recording id; label, group
(actor) and text as :mod:`~emotune.data.readers.ravdess`; ``audio_path`` ``None``
when the audio is missing; ``extra["face"]`` float32 ``(F,)`` or ``None`` when
the face is missing; ``extra["face_clip_id"]``. A file name off the pattern is a
bad row naming it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from emotune.data.readers._audio import FILE_NAME_FIELD, BadName, audio_root, find_audio_files
from emotune.data.readers._base import READERS, BadRowLog, ReadOptions
from emotune.data.readers.openface import clip_vector, read_face_table, read_openface_frames
from emotune.data.readers.ravdess import parse_ravdess_name
from emotune.data.schema import Dataset, Sample
from emotune.exceptions import DatasetError

__all__ = ["read_ravdess_av", "recording_id", "FACE_TABLE", "OPENFACE_DIR"]

FACE_TABLE = "face_action_units.csv"
OPENFACE_DIR = "openface"


def recording_id(stem: str) -> str:
    """``VV-EE-II-SS-RR-AA``: a RAVDESS file stem without its modality field (``03-01-05-...`` -> ``01-05-...``)."""
    parts = stem.split("-")
    if len(parts) != 7:
        raise BadName(FILE_NAME_FIELD, "does not match the RAVDESS pattern MM-VV-EE-II-SS-RR-AA")
    return "-".join(parts[1:])


def _faces(root: Path) -> tuple[dict[str, np.ndarray], str]:
    table = root / FACE_TABLE
    if table.is_file():
        vectors, cols = read_face_table(table, key_col="clip_id")
        return vectors, f"{table.name} ({len(cols)} values per clip)"
    folder = root / OPENFACE_DIR
    if folder.is_dir():
        vectors = {}
        for f in sorted(folder.glob("*.csv")):
            v = clip_vector(read_openface_frames(f)[0])
            if v is not None:
                vectors[f.stem] = v
        return vectors, f"{OPENFACE_DIR}/ ({len(vectors)} OpenFace CSVs)"
    raise DatasetError(
        f"dataset 'ravdess-av': no face data in {root}; expected {FACE_TABLE} (clip_id + AU columns) "
        f"or a folder {OPENFACE_DIR}/ of OpenFace CSVs named by the video clip (01-01-05-01-02-01-01.csv)"
    )


@READERS.register("ravdess-av")
def read_ravdess_av(path: Path | None, options: ReadOptions) -> Dataset:
    """Pair every RAVDESS audio file below ``path`` with its face vector by the recording id."""
    root = audio_root(path, "ravdess-av", f"a folder with RAVDESS audio (audio/Actor_NN/ or Actor_NN/) and {FACE_TABLE}")
    faces, face_source = _faces(root)
    log = BadRowLog(options.on_bad_rows)
    face_by_rec: dict[str, tuple[str, np.ndarray]] = {}
    for clip, vec in faces.items():
        try:
            rec = recording_id(clip)
        except BadName as bad:
            log.add(root / FACE_TABLE, 0, "clip_id", f"{clip!r} {bad.reason}")
            continue
        face_by_rec[rec] = (clip, vec)
    samples: dict[str, Sample] = {}
    for file in find_audio_files(root):
        try:
            sample = parse_ravdess_name(file)
            rec = recording_id(file.stem)
        except BadName as bad:
            log.add(file, 0, bad.field, bad.reason)
            continue
        if sample.extra["modality"] != "audio-only":
            log.add(file, 0, FILE_NAME_FIELD, "an audio file must be audio-only (03-...)")
            continue
        if rec in samples:
            log.add(file, 0, FILE_NAME_FIELD, f"same recording {rec!r} as {samples[rec].audio_path}")
            continue
        clip, vec = face_by_rec.get(rec, (None, None))
        samples[rec] = replace(sample, extra={**sample.extra, "face": vec, "face_clip_id": clip})
    for rec, (clip, vec) in sorted(face_by_rec.items()):
        if rec in samples:
            continue
        try:
            sample = parse_ravdess_name(Path(f"03-{rec}"))
        except BadName as bad:
            log.add(root / FACE_TABLE, 0, "clip_id", f"{clip!r}: {bad.reason}")
            continue
        samples[rec] = replace(sample, audio_path=None, extra={**sample.extra, "face": vec, "face_clip_id": clip})
    if not samples and not log.rows:
        raise DatasetError(f"dataset 'ravdess-av': no RAVDESS audio or face clips found in {root}")
    ordered = [samples[k] for k in sorted(samples, key=lambda r: (r.split("-")[-1], r))]
    n_audio = sum(s.audio_path is not None for s in ordered)
    n_face = sum(s.extra["face"] is not None for s in ordered)
    return Dataset(name="ravdess-av", samples=ordered, skipped=log.finish(),
                   source=f"{root}: {n_audio} audio clips, {n_face} face vectors from {face_source}")
