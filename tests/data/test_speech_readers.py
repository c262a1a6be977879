"""Speech corpus readers: RAVDESS and CREMA-D on the real shared data, the others on tmp fixtures
laid out exactly as released; label maps, bad file names, and actor-disjoint splits."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from emotune.data import (
    CORPUS_EMOTIONS,
    EMOTION_VOCABULARY,
    READERS,
    Dataset,
    holdout_split,
    kfold_splits,
    load_dataset,
    normalize_emotion,
)
from emotune.data.labels import EMOTION_ALIASES, IEMOCAP_DROPPED
from emotune.data.readers.iemocap import DROPPED_REASON
from emotune.exceptions import DatasetError

SPEECH_READERS = ("ravdess", "crema-d", "tess", "savee", "iemocap", "audio-folder", "audio-csv")


def _touch(root: Path, *names: str) -> None:
    """Empty files at ``root/name``: the readers only look at names."""
    for name in names:
        file = root / name
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(b"")


def _write_wav(file: Path, *, sr: int = 16000, seconds: float = 0.2) -> None:
    """0.2 s of a 440 Hz sine, 16-bit PCM."""
    sf = pytest.importorskip("soundfile")
    file.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(sr * seconds)) / sr
    sf.write(file, (0.3 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32), sr, subtype="PCM_16")


def _index(path: Path) -> dict[str, dict[str, str]]:
    """``{file stem: row}`` of a shared corpus's index.csv."""
    with open(path, newline="", encoding="utf-8") as f:
        return {Path(row["file"]).stem: row for row in csv.DictReader(f)}


# ---------------------------------------------------------------- label maps
def test_label_maps_land_in_the_vocabulary() -> None:
    assert EMOTION_VOCABULARY == ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise", "calm")
    for corpus, table in CORPUS_EMOTIONS.items():
        assert corpus in READERS
        assert set(table.values()) <= set(EMOTION_VOCABULARY), corpus
    assert set(EMOTION_ALIASES.values()) <= set(EMOTION_VOCABULARY)
    assert CORPUS_EMOTIONS["iemocap"]["exc"] == "happy" and not set(IEMOCAP_DROPPED) & set(CORPUS_EMOTIONS["iemocap"])
    assert [normalize_emotion(n) for n in ("Anger", " fearful ", "Pleasant surprise", "HAPPY", "positive")] == [
        "angry", "fear", "surprise", "happy", "positive",
    ]


def test_every_speech_reader_is_registered_and_needs_data_dir() -> None:
    for name in SPEECH_READERS:
        assert name in READERS
        with pytest.raises(DatasetError, match="needs data_dir"):
            load_dataset(name)


# ---------------------------------------------------------------- RAVDESS (real data)
@pytest.fixture(scope="module")
def ravdess(shared_data: Path) -> Dataset:
    return load_dataset("ravdess", shared_data / "ravdess-dev")


def test_ravdess_real_release_matches_index(ravdess: Dataset, shared_data: Path) -> None:
    index = _index(shared_data / "ravdess-dev" / "index.csv")
    assert len(ravdess) == len(index) == 120 and ravdess.skipped == []
    assert Counter(ravdess.groups) == {"01": 60, "02": 60}
    words = {"fearful": "fear", "surprised": "surprise"}
    for s in ravdess:
        row = index[s.id]
        assert s.label == words.get(row["emotion"], row["emotion"])
        assert s.group == row["speaker"] == s.extra["actor"]
        assert s.extra["sex"] == row["sex"] and s.extra["intensity"] == row["intensity"]
        assert Path(s.audio_path).is_absolute() and Path(s.audio_path).is_file()
    by_id = {s.id: s for s in ravdess}
    # hand-checked: emotion 06 fearful, strong, statement 01, actor 01 (odd: male)
    s = by_id["03-01-06-02-01-02-01"]
    assert (s.label, s.group, s.extra["emotion"], s.extra["intensity"], s.extra["sex"]) == (
        "fear", "01", "fearful", "strong", "male",
    )
    assert s.text == "Kids are talking by the door" and s.audio_path.endswith("Actor_01/03-01-06-02-01-02-01.wav")
    s = by_id["03-01-08-01-02-01-02"]  # surprised, normal, "Dogs ...", actor 02 (even: female)
    assert (s.label, s.group, s.extra["sex"], s.text) == ("surprise", "02", "female", "Dogs are sitting by the door")
    assert by_id["03-01-02-01-01-02-01"].label == "calm"  # one of the two stereo files: the reader only reads names


def test_ravdess_flac_release_actors_01_to_12(shared_data: Path) -> None:
    ds = load_dataset("ravdess", shared_data / "ravdess-av-dev")
    index = _index(shared_data / "ravdess-av-dev" / "index.csv")
    assert len(ds) == len(index) == 720 and ds.skipped == []
    assert Counter(ds.groups) == {f"{a:02d}": 60 for a in range(1, 13)}
    assert ds.label_counts() == {label: 48 if label == "neutral" else 96 for label in EMOTION_VOCABULARY}
    assert all(s.audio_path.endswith(".flac") and s.group == index[s.id]["speaker"] for s in ds)


def test_ravdess_bad_names(tmp_path: Path) -> None:
    _touch(
        tmp_path,
        "Actor_03/03-01-05-01-02-01-03.wav",
        "Actor_04/03-01-04-02-01-01-04.flac",
        "Actor_03/03-01-09-01-01-01-03.wav",  # emotion 09 does not exist
        "Actor_03/03-01-05-01-01-01-25.wav",  # actor 25 does not exist
        "Actor_03/readme.wav",
        "Actor_03/.hidden.wav",  # hidden: ignored
        "Actor_03/03-01-05-01-02-01-03.txt",  # not audio: ignored
    )
    with pytest.raises(DatasetError, match=r"03-01-09-01-01-01-03\.wav, field 'emotion': unknown emotion code '09'"):
        load_dataset("ravdess", tmp_path)
    ds = load_dataset("ravdess", tmp_path, on_bad_rows="skip")
    assert ds.ids == ["03-01-05-01-02-01-03", "03-01-04-02-01-01-04"]
    assert ds.sample_labels == ["angry", "sad"] and ds.groups == ["03", "04"]
    assert sorted((Path(r.file).name, r.field) for r in ds.skipped) == [
        ("03-01-05-01-01-01-25.wav", "actor"),
        ("03-01-09-01-01-01-03.wav", "emotion"),
        ("readme.wav", "file name"),
    ]
    # the same clip as .wav and .flac is one clip
    _touch(tmp_path, "flac/03-01-05-01-02-01-03.flac")
    ds = load_dataset("ravdess", tmp_path, on_bad_rows="skip")
    dup = [r for r in ds.skipped if r.file.endswith(".flac")]
    assert len(ds) == 2 and len(dup) == 1 and "same clip id" in dup[0].reason
    with pytest.raises(DatasetError, match="no audio files"):
        load_dataset("ravdess", _empty(tmp_path))


def _empty(tmp_path: Path) -> Path:
    folder = tmp_path / "empty"
    folder.mkdir(exist_ok=True)
    return folder


# ---------------------------------------------------------------- CREMA-D (real data)
@pytest.fixture(scope="module")
def crema(shared_data: Path) -> Dataset:
    return load_dataset("crema-d", shared_data / "crema-d-dev")


def test_crema_d_real_subset_matches_index(crema: Dataset, shared_data: Path) -> None:
    index = _index(shared_data / "crema-d-dev" / "index.csv")
    assert len(crema) == len(index) == 1621 and crema.skipped == []
    assert crema.label_counts() == dict(sorted(Counter(row["emotion"] for row in index.values()).items()))
    assert len(set(crema.groups)) == 20  # MANIFEST: 20 actors
    assert Counter(crema.groups) == Counter(row["actor"] for row in index.values())
    for s in crema:
        row = index[s.id]
        assert (s.label, s.group, s.extra["sentence"]) == (row["emotion"], row["actor"], row["sentence"])
        assert s.extra["intensity"] == row["level"] and s.extra["sex"] == row["sex"].lower()
        assert Path(s.audio_path).is_absolute() and Path(s.audio_path).is_file()
    sexes = Counter(next(s.extra["sex"] for s in crema if s.group == actor) for actor in set(crema.groups))
    assert sexes == {"male": 10, "female": 10}
    by_id = {s.id: s for s in crema}
    s = by_id["1001_DFA_ANG_XX"]
    assert (s.label, s.group, s.extra["level"], s.extra["age"], s.text) == (
        "angry", "1001", "XX", 51, "Don't forget a jacket",
    )
    s = by_id["1002_IEO_FEA_HI"]
    assert (s.label, s.group, s.extra["intensity"], s.extra["sex"]) == ("fear", "1002", "high", "female")
    assert by_id["1023_TAI_DIS_XX"].label == "disgust"
    assert by_id["1019_WSI_NEU_XX"].label == "neutral"


def test_crema_d_splits_never_share_an_actor(crema: Dataset) -> None:
    groups = np.asarray(crema.groups)
    split = holdout_split(crema.label_ids(), crema.groups, test_size=0.2, val_size=0.1, seed=3)
    assert split.by == "group"
    parts = [set(groups[idx]) for idx in (split.train, split.val, split.test)]
    assert all(parts) and not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    folds = kfold_splits(crema.label_ids(), crema.groups, k=5, seed=0)
    seen_val: set[str] = set()
    for train, val in folds:
        assert not set(groups[train]) & set(groups[val])
        seen_val |= set(groups[val])
    assert seen_val == set(crema.groups)


def test_crema_d_bad_names(tmp_path: Path) -> None:
    _touch(tmp_path, "AudioWAV/1001_DFA_ANG_XX.wav", "AudioWAV/1091_IEO_HAP_LO.wav", "AudioWAV/1001_DFA_BOR_XX.wav",
           "AudioWAV/1001-DFA-ANG.wav")
    with pytest.raises(DatasetError, match=r"2 bad rows:\n.*1001-DFA-ANG\.wav, field 'file name': does not match"):
        load_dataset("crema-d", tmp_path)
    ds = load_dataset("crema-d", tmp_path, on_bad_rows="skip")
    assert ds.ids == ["1001_DFA_ANG_XX", "1091_IEO_HAP_LO"] and ds.groups == ["1001", "1091"]
    assert "sex" not in ds[0].extra  # no demographics table here
    assert [(Path(r.file).name, r.field) for r in ds.skipped] == [
        ("1001-DFA-ANG.wav", "file name"), ("1001_DFA_BOR_XX.wav", "emotion"),
    ]
    assert "unknown emotion code 'BOR' (known: ANG, DIS, FEA, HAP, NEU, SAD)" in ds.skipped[1].reason


# ---------------------------------------------------------------- TESS
def test_tess_release_layout(tmp_path: Path) -> None:
    files = [
        "OAF_angry/OAF_back_angry.wav",
        "OAF_Fear/OAF_back_fear.wav",
        "OAF_Pleasant_surprise/OAF_back_ps.wav",
        "YAF_pleasant_surprised/YAF_back_ps.wav",
        "YAF_sad/YAF_dog_sad.wav",
        "YAF_neutral/YAF_dog_neutral.wav",
        "OAF_neutral/OA_bite_neutral.wav",  # the release's one file with a short speaker code
    ]
    for name in files:
        _write_wav(tmp_path / name)
    ds = load_dataset("tess", tmp_path)
    by_id = {s.id: s for s in ds}
    assert len(ds) == 7 and ds.skipped == []
    assert {k: (s.label, s.group) for k, s in by_id.items()} == {
        "OAF_back_angry": ("angry", "OAF"),
        "OAF_back_fear": ("fear", "OAF"),
        "OAF_back_ps": ("surprise", "OAF"),
        "YAF_back_ps": ("surprise", "YAF"),
        "YAF_dog_sad": ("sad", "YAF"),
        "YAF_dog_neutral": ("neutral", "YAF"),
        "OA_bite_neutral": ("neutral", "OAF"),
    }
    s = by_id["OAF_back_ps"]
    assert s.extra == {"speaker": "OAF", "word": "back", "emotion_code": "ps", "age_group": "older", "sex": "female"}
    assert s.text == "Say the word back"
    sf = pytest.importorskip("soundfile")
    assert sf.info(s.audio_path).samplerate == 16000 and sf.info(s.audio_path).frames == 3200


def test_tess_bad_names(tmp_path: Path) -> None:
    _touch(tmp_path, "YAF_sad/YAF_dog_sad.wav", "OAF_happy/OAF_dog_happy.wav", "YAF_sad/YAF_dog_bored.wav",
           "ZAF_sad/ZAF_dog_sad.wav", "YAF_sad/dog.wav")
    with pytest.raises(DatasetError, match=r"3 bad rows"):
        load_dataset("tess", tmp_path)
    ds = load_dataset("tess", tmp_path, on_bad_rows="skip")
    assert ds.ids == ["OAF_dog_happy", "YAF_dog_sad"]
    assert sorted((Path(r.file).name, r.field) for r in ds.skipped) == [
        ("YAF_dog_bored.wav", "emotion"), ("ZAF_dog_sad.wav", "speaker"), ("dog.wav", "file name"),
    ]


# ---------------------------------------------------------------- SAVEE
_SAVEE_EXPECTED = {
    "DC_a01": ("angry", "DC"),
    "DC_sa02": ("sad", "DC"),
    "JE_d03": ("disgust", "JE"),
    "JK_su15": ("surprise", "JK"),
    "KL_n30": ("neutral", "KL"),
    "KL_f01": ("fear", "KL"),
    "KL_h07": ("happy", "KL"),
}


@pytest.mark.parametrize("layout", ["released", "kaggle"])
def test_savee_both_layouts(tmp_path: Path, layout: str) -> None:
    for sample_id in _SAVEE_EXPECTED:
        speaker, name = sample_id.split("_")
        if layout == "released":
            _touch(tmp_path, f"AudioData/{speaker}/{name}.wav")
        else:
            _touch(tmp_path, f"ALL/{sample_id}.wav")
    ds = load_dataset("savee", tmp_path)
    assert {s.id: (s.label, s.group) for s in ds} == _SAVEE_EXPECTED
    assert ds.skipped == [] and set(ds.groups) == {"DC", "JE", "JK", "KL"}
    s = next(s for s in ds if s.id == "DC_sa02")
    assert s.extra == {"speaker": "DC", "emotion_code": "sa", "number": "02", "sex": "male"}
    assert s.text is None and Path(s.audio_path).is_absolute()


def test_savee_bad_names(tmp_path: Path) -> None:
    _touch(tmp_path, "AudioData/DC/a01.wav", "AudioData/DC/x01.wav", "AudioData/XY/a01.wav", "ALL/JE_h02.wav",
           "ALL/ZZ_h02.wav", "ALL/JE_happy.wav")
    with pytest.raises(DatasetError, match=r"x01\.wav, field 'emotion': unknown emotion code 'x'"):
        load_dataset("savee", tmp_path)
    ds = load_dataset("savee", tmp_path, on_bad_rows="skip")
    assert ds.ids == ["JE_h02", "DC_a01"]  # path order: ALL/ before AudioData/
    assert sorted((Path(r.file).parent.name + "/" + Path(r.file).name, r.field) for r in ds.skipped) == [
        ("ALL/JE_happy.wav", "file name"), ("ALL/ZZ_h02.wav", "speaker"), ("DC/x01.wav", "emotion"),
        ("XY/a01.wav", "speaker"),
    ]
    assert "folder 'XY' is not a SAVEE speaker" in next(r.reason for r in ds.skipped if "XY" in r.file)


# ---------------------------------------------------------------- IEMOCAP
_EVAL_HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"


def _eval_block(start: float, end: float, utterance: str, code: str) -> str:
    return (
        f"[{start:.4f} - {end:.4f}]\t{utterance}\t{code}\t[2.5000, 3.0000, 3.5000]\n"
        "C-E2:\tNeutral;\t()\nC-E3:\tNeutral;\t()\nA-E3:\tval 3; act 2; dom  2;\t()\n\n"
    )


def _iemocap(root: Path, sessions: dict[int, dict[str, list[tuple[str, str]]]], *, missing_wav: str = "") -> Path:
    """A release-shaped tree: ``{session: {dialog: [(utterance, code), ...]}}``."""
    for n, dialogs in sessions.items():
        session = root / f"Session{n}"
        (session / "dialog" / "EmoEvaluation" / "Categorical").mkdir(parents=True)
        (session / "dialog" / "EmoEvaluation" / "Categorical" / "ignored.txt").write_text("not a label file\n")
        for dialog, utterances in dialogs.items():
            blocks = [_eval_block(1.0 + 3 * i, 2.5 + 3 * i, u, c) for i, (u, c) in enumerate(utterances)]
            (session / "dialog" / "EmoEvaluation" / f"{dialog}.txt").write_text(_EVAL_HEADER + "".join(blocks))
            for utterance, _ in utterances:
                if utterance != missing_wav:
                    _touch(session / "sentences" / "wav" / dialog, f"{utterance}.wav")
    return root


_SES1 = {
    "Ses01F_impro01": [
        ("Ses01F_impro01_F000", "neu"),
        ("Ses01F_impro01_M000", "fru"),
        ("Ses01F_impro01_F001", "exc"),
        ("Ses01F_impro01_M001", "ang"),
        ("Ses01F_impro01_M002", "xxx"),
    ],
    "Ses01M_script01_1": [("Ses01M_script01_1_F000", "hap"), ("Ses01M_script01_1_M000", "sad")],
}
_SES2 = {
    "Ses02F_impro03": [("Ses02F_impro03_F000", "sur"), ("Ses02F_impro03_M000", "neu"), ("Ses02F_impro03_F001", "sad")],
}


def test_iemocap_four_classes_and_speakers(tmp_path: Path) -> None:
    root = _iemocap(tmp_path / "IEMOCAP_full_release", {1: _SES1, 2: _SES2})
    (root / "Session1" / "dialog" / "transcriptions").mkdir()
    (root / "Session1" / "dialog" / "transcriptions" / "Ses01F_impro01.txt").write_text(
        "Ses01F_impro01_F000 [001.0000-002.5000]: Excuse me.\n"
        "Ses01F_impro01_M001 [010.0000-011.5000]: Do you have your forms?\n"
    )
    ds = load_dataset("iemocap", root)
    assert {s.id: (s.label, s.group) for s in ds} == {
        "Ses01F_impro01_F000": ("neutral", "Ses01F"),
        "Ses01F_impro01_F001": ("happy", "Ses01F"),  # exc merged into happy
        "Ses01F_impro01_M001": ("angry", "Ses01M"),
        "Ses01M_script01_1_F000": ("happy", "Ses01F"),
        "Ses01M_script01_1_M000": ("sad", "Ses01M"),
        "Ses02F_impro03_M000": ("neutral", "Ses02M"),
        "Ses02F_impro03_F001": ("sad", "Ses02F"),
    }
    assert ds.labels == ["angry", "happy", "neutral", "sad"]
    # dropped labels are accounted for, even under on_bad_rows="error"
    assert sorted(r.reason.split("'")[1] for r in ds.skipped) == ["fru", "sur", "xxx"]
    assert all(r.field == "label" and DROPPED_REASON in r.reason and r.line > 0 for r in ds.skipped)
    assert "dropped 3 utterances outside the 4-class set: fru 1, sur 1, xxx 1" in ds.source
    s = ds[1]
    assert s.id == "Ses01F_impro01_F001" and s.extra["emotion_code"] == "exc"
    assert s.extra["session"] == "Ses01" and s.extra["dialog"] == "Ses01F_impro01" and s.extra["improvised"] is True
    assert (s.extra["valence"], s.extra["activation"], s.extra["dominance"]) == (2.5, 3.0, 3.5)
    assert s.audio_path == str(root / "Session1" / "sentences" / "wav" / "Ses01F_impro01" / "Ses01F_impro01_F001.wav")
    assert ds[0].text == "Excuse me." and ds[2].text == "Do you have your forms?" and s.text is None


def test_iemocap_bad_rows(tmp_path: Path) -> None:
    root = _iemocap(tmp_path, {1: _SES1}, missing_wav="Ses01F_impro01_M001")
    label_file = root / "Session1" / "dialog" / "EmoEvaluation" / "Ses01F_impro01.txt"
    with pytest.raises(DatasetError, match=r"Ses01F_impro01\.txt, line \d+, field 'audio': audio file not found"):
        load_dataset("iemocap", root)
    with label_file.open("a") as f:
        f.write(_eval_block(40.0, 41.0, "Ses01F_impro01_F009", "bor"))
        f.write("[42.0 - 43.0]\tSes01F_impro01_F010\n")
    ds = load_dataset("iemocap", root, on_bad_rows="skip")
    bad = [r for r in ds.skipped if DROPPED_REASON not in r.reason]
    assert [r.field for r in bad] == ["audio", "label", "(line)"]
    assert "unknown IEMOCAP label 'bor'" in bad[1].reason
    assert len(ds.skipped) - len(bad) == 2  # fru, xxx
    assert len(ds) == 4
    with pytest.raises(DatasetError, match="no Session<n> folder"):
        load_dataset("iemocap", _empty(tmp_path))


# ---------------------------------------------------------------- audio-folder
def test_audio_folder(tmp_path: Path) -> None:
    _touch(tmp_path, "Anger/a.wav", "happy/take2/b.flac", "neutral/c.WAV", "neutral/notes.txt", ".hidden/d.wav",
           "__MACOSX/happy/._b.flac")
    ds = load_dataset("audio-folder", tmp_path)
    assert ds.ids == ["Anger/a.wav", "happy/take2/b.flac", "neutral/c.WAV"]
    assert ds.sample_labels == ["angry", "happy", "neutral"]
    assert not ds.has_groups and ds[0].text is None and ds[0].extra == {"folder": "Anger"}
    assert ds[1].audio_path == str(tmp_path / "happy" / "take2" / "b.flac")
    _touch(tmp_path / "none", "angry/readme.txt")
    with pytest.raises(DatasetError, match="no audio files"):
        load_dataset("audio-folder", tmp_path / "none")


# ---------------------------------------------------------------- audio-csv
def test_audio_csv(tmp_path: Path) -> None:
    _touch(tmp_path, "clips/s01_a.wav", "clips/s02_b.flac", "elsewhere/c.wav")
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(
        "path,label,speaker,session\n"
        "clips/s01_a.wav,Anger,s01,1\n"
        f"{tmp_path / 'elsewhere' / 'c.wav'},happy,s02,2\n"
        "clips/missing.wav,sad,s01,1\n"
        "clips/s02_b.flac,Sadness,s02,2\n"
    )
    with pytest.raises(DatasetError, match=r"manifest\.csv, line 4, field 'path': audio file not found: .*missing\.wav"):
        load_dataset("audio-csv", manifest)
    ds = load_dataset("audio-csv", manifest, on_bad_rows="skip")
    assert ds.ids == ["manifest.csv:2", "manifest.csv:3", "manifest.csv:5"]
    assert ds.sample_labels == ["angry", "happy", "sad"] and ds.groups == ["s01", "s02", "s02"]
    assert ds[0].audio_path == str(tmp_path / "clips" / "s01_a.wav") and ds[0].text is None
    assert ds[0].extra == {"session": "1", "original_label": "Anger"}
    assert [(r.line, r.field) for r in ds.skipped] == [(4, "path")]
    by_session = load_dataset("audio-csv", manifest, group_col="session", on_bad_rows="skip")
    assert by_session.groups == ["1", "2", "2"] and by_session[0].extra["speaker"] == "s01"


def test_audio_csv_columns(tmp_path: Path) -> None:
    _touch(tmp_path, "a.wav", "b.wav")
    manifest = tmp_path / "m.csv"
    manifest.write_text("audio_path,emotion,text\na.wav,neu,hello there\nb.wav,fearful,\n")
    ds = load_dataset("audio-csv", manifest, label_col="emotion")
    assert ds.sample_labels == ["neutral", "fear"] and not ds.has_groups
    assert [s.text for s in ds] == ["hello there", None]
    with pytest.raises(DatasetError, match=r"column 'label' \(label_col\) not found"):
        load_dataset("audio-csv", manifest)
    manifest.write_text("wav,label\na.wav,sad\n")
    with pytest.raises(DatasetError, match="no audio path column; expected one of 'path', 'audio_path', 'file'"):
        load_dataset("audio-csv", manifest)
