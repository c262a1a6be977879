"""``iemocap``: the Interactive Emotional Dyadic Motion Capture database (Busso et al. 2008), four classes.

``data_dir`` is the release folder (``IEMOCAP_full_release``) with ``Session1`` ...
``Session5``; any subset of sessions is read. Labels come from
``Session<n>/dialog/EmoEvaluation/<dialog>.txt``, one summary line per utterance::

    [6.2901 - 8.2357]\\tSes01F_impro01_F000\\tneu\\t[2.5000, 2.5000, 2.5000]

(start and end in seconds, utterance id, the evaluators' majority code, and mean
valence, activation, dominance on 1-5); the per-evaluator lines below it are not
read. The audio is ``Session<n>/sentences/wav/<dialog>/<utterance>.wav``; a
missing one is a bad row naming the label file and line.

The usual four classes (:data:`~emotune.data.labels.IEMOCAP_EMOTIONS`): ``neu``
neutral, ``hap`` and ``exc`` happy (excited merged in), ``sad`` sad, ``ang``
angry. Utterances with another code (:data:`~emotune.data.labels.IEMOCAP_DROPPED`:
``fru sur fea dis oth xxx``) are dropped, and every one is listed in
``Dataset.skipped`` (field ``"label"``, reason "... not in the 4-class set"),
whatever ``on_bad_rows`` says: a drop is the protocol, not an error. A code in
neither table is a bad row.

Samples: id = the utterance id, group = the speaker, i.e. session + the gender
letter of the utterance's last part (``Ses01F_impro01_M000`` -> ``"Ses01M"``: each
session has one actress and one actor), text = the transcription from
``Session<n>/dialog/transcriptions/<dialog>.txt`` when present (else ``None``),
``extra``: ``session`` (``"Ses01"``; group by it for leave-one-session-out),
``dialog``, ``gender``, ``improvised``, ``emotion_code``, ``start_s``, ``end_s``,
``valence``, ``activation``, ``dominance``. Label files are read as UTF-8, or
Latin-1 when they are not valid UTF-8.
"""

from __future__ import annotations

import re
from pathlib import Path

from emotune.data.labels import IEMOCAP_DROPPED, IEMOCAP_EMOTIONS
from emotune.data.readers._audio import audio_root
from emotune.data.readers._base import READERS, BadRowLog, ReadOptions
from emotune.data.readers._io import LINE_FIELD, choose_encoding, decode_lines, read_bytes
from emotune.data.schema import BadRow, Dataset, Sample
from emotune.exceptions import DatasetError

__all__ = ["read_iemocap", "DROPPED_REASON"]

#: ``BadRow.reason`` ending for an utterance dropped by the four-class protocol.
DROPPED_REASON = "not in the 4-class set (neu, hap + exc, sad, ang)"

_SESSION_DIR = re.compile(r"Session\d+")
_LABEL_LINE = re.compile(r"\[\s*(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*\]\s+(\S+)\s+(\S+)\s+\[([^\]]*)\]\s*")
_UTTERANCE = re.compile(r"(Ses\d\d)[FM]_(\w+)_([FM])\d+")
_TRANSCRIPT_LINE = re.compile(r"(\S+)\s+\[[^\]]*\]:\s?(.*)")
_WHAT = "the IEMOCAP release folder with Session1 ... Session5 (each with dialog/EmoEvaluation/ and sentences/wav/)"


def _decoded(file: Path, options: ReadOptions, log: BadRowLog) -> tuple[str, list[tuple[int, str]]]:
    data = read_bytes(file)
    encoding = choose_encoding(data, options.encoding, default="utf-8", fallback="latin-1")
    return encoding, list(decode_lines(data, encoding, file=file, log=log))


def _transcripts(session: Path, dialog: str, options: ReadOptions, log: BadRowLog) -> dict[str, str]:
    """``{utterance id: text}`` of one dialog; empty when the transcription file is absent."""
    file = session / "dialog" / "transcriptions" / f"{dialog}.txt"
    if not file.is_file():
        return {}
    _, lines = _decoded(file, options, log)
    out: dict[str, str] = {}
    for _, line in lines:
        m = _TRANSCRIPT_LINE.fullmatch(line.strip())
        if m is not None:
            out[m.group(1)] = m.group(2).strip()
    return out


def _vad(text: str) -> tuple[float, float, float] | None:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        return None
    return values if len(values) == 3 else None  # type: ignore[return-value]


def _read_label_file(
    session: Path,
    file: Path,
    options: ReadOptions,
    log: BadRowLog,
    dropped: dict[str, list[BadRow]],
    first_seen: dict[str, str],
) -> tuple[str, list[Sample]]:
    """``(encoding, samples)`` of one EmoEvaluation file; drops go to ``dropped[code]``, bad rows to ``log``."""
    encoding, lines = _decoded(file, options, log)
    texts: dict[str, dict[str, str]] = {}
    samples: list[Sample] = []
    for number, line in lines:
        line = line.strip()
        if not line.startswith("["):
            continue  # header, blank line, or one evaluator's vote
        m = _LABEL_LINE.fullmatch(line)
        if m is None:
            log.add(file, number, LINE_FIELD, "malformed label line; expected '[start - end] utterance code [v, a, d]'")
            continue
        start, end, utterance, code, vad_text = m.groups()
        u = _UTTERANCE.fullmatch(utterance)
        if u is None:
            log.add(file, number, "utterance", f"{utterance!r} does not match Ses<NN><F|M>_<dialog>_<F|M><NNN>")
            continue
        if code in IEMOCAP_DROPPED:
            reason = f"label {code!r} ({IEMOCAP_DROPPED[code]}) {DROPPED_REASON}"
            dropped.setdefault(code, []).append(BadRow(str(file), number, "label", reason))
            continue
        if code not in IEMOCAP_EMOTIONS:
            known = ", ".join([*IEMOCAP_EMOTIONS, *IEMOCAP_DROPPED])
            log.add(file, number, "label", f"unknown IEMOCAP label {code!r} (known: {known})")
            continue
        vad = _vad(vad_text)
        if vad is None:
            log.add(file, number, "vad", f"expected [valence, activation, dominance], found [{vad_text}]")
            continue
        if utterance in first_seen:
            log.add(file, number, "utterance", f"{utterance!r} is already labelled in {first_seen[utterance]}")
            continue
        dialog = utterance.rsplit("_", 1)[0]
        audio = session / "sentences" / "wav" / dialog / f"{utterance}.wav"
        if not audio.is_file():
            log.add(file, number, "audio", f"audio file not found: {audio}")
            continue
        if dialog not in texts:
            texts[dialog] = _transcripts(session, dialog, options, log)
        first_seen[utterance] = f"{file.name}, line {number}"
        session_id, gender = u.group(1), u.group(3)
        samples.append(
            Sample(
                id=utterance,
                label=IEMOCAP_EMOTIONS[code],
                group=session_id + gender,
                text=texts[dialog].get(utterance),
                audio_path=str(audio),
                extra={
                    "session": session_id,
                    "dialog": dialog,
                    "gender": gender,
                    "improvised": "_impro" in dialog,
                    "emotion_code": code,
                    "start_s": float(start),
                    "end_s": float(end),
                    "valence": vad[0],
                    "activation": vad[1],
                    "dominance": vad[2],
                },
            )
        )
    return encoding, samples


@READERS.register("iemocap")
def read_iemocap(path: Path | None, options: ReadOptions) -> Dataset:
    """Read the four-class IEMOCAP utterances of every ``Session<n>`` folder of ``path``."""
    root = audio_root(path, "iemocap", _WHAT)
    sessions = sorted(
        (p for p in root.iterdir() if p.is_dir() and _SESSION_DIR.fullmatch(p.name)), key=lambda p: int(p.name[7:])
    )
    if not sessions:
        found = ", ".join(sorted(p.name for p in root.iterdir() if not p.name.startswith("."))) or "(empty folder)"
        raise DatasetError(f"dataset 'iemocap': no Session<n> folder in {root}; expected {_WHAT}; found: {found}")
    log = BadRowLog(options.on_bad_rows)
    dropped: dict[str, list[BadRow]] = {}
    first_seen: dict[str, str] = {}
    samples: list[Sample] = []
    encodings: set[str] = set()
    for session in sessions:
        eval_dir = session / "dialog" / "EmoEvaluation"
        if not eval_dir.is_dir():
            raise DatasetError(f"dataset 'iemocap': {session} lacks dialog/EmoEvaluation/ (the label files)")
        for file in sorted(f for f in eval_dir.glob("*.txt") if f.is_file() and not f.name.startswith(".")):
            encoding, file_samples = _read_label_file(session, file, options, log, dropped, first_seen)
            encodings.add(encoding)
            samples.extend(file_samples)
    skipped = log.finish()
    drops = sorted((r for rows in dropped.values() for r in rows), key=lambda r: (r.file, r.line))
    summary = ", ".join(f"{code} {len(rows)}" for code, rows in sorted(dropped.items())) or "none"
    source = (
        f"{root} ({', '.join(s.name for s in sessions)}; {'/'.join(sorted(encodings)) or 'no label files'}; "
        f"dropped {len(drops)} utterances outside the 4-class set: {summary})"
    )
    return Dataset(name="iemocap", samples=samples, skipped=skipped + drops, source=source)
