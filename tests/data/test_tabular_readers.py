"""csv / tsv / jsonl readers and the bad-row policy, on small files written to tmp_path."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from emotune.data import READERS, load_dataset
from emotune.exceptions import ConfigError, DatasetError, RegistryError


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_csv_reads_renamed_columns_groups_and_extra(tmp_path: Path) -> None:
    f = _write(
        tmp_path / "d.csv",
        "sentence,emotion,speaker,note\n"
        '"hello, world",joy,s1,a\n'
        "so sad,sadness,s2,b\n"
        "\n"
        "fine,joy,s1,c\n",
    )
    ds = load_dataset("csv", f, text_col="sentence", label_col="emotion", group_col="speaker")
    assert ds.name == "csv"
    assert ds.texts == ["hello, world", "so sad", "fine"]
    assert ds.sample_labels == ["joy", "sadness", "joy"]
    assert ds.groups == ["s1", "s2", "s1"]
    assert ds.ids == ["d.csv:2", "d.csv:3", "d.csv:5"]
    assert ds[0].extra == {"note": "a"}
    assert ds.skipped == []


def test_csv_missing_column_names_file_column_and_columns_found(tmp_path: Path) -> None:
    f = _write(tmp_path / "d.csv", "sentence,label\nhi,a\nho,b\n")
    with pytest.raises(DatasetError) as err:
        load_dataset("csv", f)
    msg = str(err.value)
    assert str(f) in msg and "'text'" in msg and "'sentence'" in msg and "'label'" in msg


def test_csv_missing_group_column(tmp_path: Path) -> None:
    f = _write(tmp_path / "d.csv", "text,label\nhi,a\nho,b\n")
    with pytest.raises(DatasetError, match="'speaker' \\(group_col\\)"):
        load_dataset("csv", f, group_col="speaker")


BAD_CSV = "text,label\ngood one,pos\n   ,neg\nbad one,neg\nno label,\nanother,neg\n"


def test_bad_rows_raise_naming_file_line_field_and_fix(tmp_path: Path) -> None:
    f = _write(tmp_path / "bad.csv", BAD_CSV)
    with pytest.raises(DatasetError) as err:
        load_dataset("csv", f)
    msg = str(err.value)
    assert "2 bad rows" in msg
    assert f"{f}, line 3, field 'text': empty text" in msg
    assert f"{f}, line 5, field 'label': missing label" in msg
    assert "--on-bad-rows skip" in msg


def test_single_bad_row_message(tmp_path: Path) -> None:
    f = _write(tmp_path / "bad.csv", "text,label\n,pos\nok,neg\nfine,pos\n")
    with pytest.raises(DatasetError, match=r"bad row in .*bad\.csv, line 2, field 'text': empty text\. Fix the row"):
        load_dataset("csv", f)


def test_bad_rows_skipped_and_recorded(tmp_path: Path) -> None:
    f = _write(tmp_path / "bad.csv", BAD_CSV)
    ds = load_dataset("csv", f, on_bad_rows="skip")
    assert ds.texts == ["good one", "bad one", "another"]
    assert [(r.line, r.field, r.reason) for r in ds.skipped] == [(3, "text", "empty text"), (5, "label", "missing label")]
    assert all(r.file == str(f) for r in ds.skipped)


def test_wrong_field_count_is_a_bad_row(tmp_path: Path) -> None:
    f = _write(tmp_path / "d.csv", "text,label\na,x\nb,y,extra\nc,y\n")
    ds = load_dataset("csv", f, on_bad_rows="skip")
    assert ds.texts == ["a", "c"]
    assert ds.skipped[0].line == 3 and "expected 2 fields" in ds.skipped[0].reason


def test_line_numbers_survive_multiline_fields(tmp_path: Path) -> None:
    f = _write(tmp_path / "d.csv", 'text,label\n"two\nlines",a\n,b\nok,b\n')
    ds = load_dataset("csv", f, on_bad_rows="skip")
    assert ds.texts == ["two\nlines", "ok"]
    assert ds.ids == ["d.csv:2", "d.csv:5"]
    assert ds.skipped[0].line == 4


def test_undecodable_line_names_line_and_suggests_encoding(tmp_path: Path) -> None:
    f = _write(tmp_path / "l1.csv", "text,label\nplain,a\ncaf\u00e9 cr\u00e8me,b\nok,b\n", encoding="latin-1")
    with pytest.raises(DatasetError) as err:
        load_dataset("csv", f, encoding="utf-8")  # declared wrongly: the user asked for it
    assert f"{f}, line 3, field '(line)'" in str(err.value)
    assert "--encoding" in str(err.value) and "latin-1" in str(err.value)
    skipped = load_dataset("csv", f, on_bad_rows="skip", encoding="utf-8")
    assert skipped.texts == ["plain", "ok"] and skipped.skipped[0].line == 3


def test_latin1_decoding_with_declared_encoding(tmp_path: Path) -> None:
    f = _write(tmp_path / "l1.csv", "text,label\nplain,a\ncaf\u00e9 cr\u00e8me,b\n", encoding="latin-1")
    ds = load_dataset("csv", f, encoding="latin-1")
    assert ds.texts == ["plain", "caf\u00e9 cr\u00e8me"]


def test_latin1_file_is_detected_and_no_accented_row_is_lost(tmp_path: Path) -> None:
    rows = ["plain", "caf\u00e9 cr\u00e8me", "na\u00efve \u00e0 la fa\u00e7on", "\u00c9t\u00e9 ni\u00f1o"]
    f = _write(tmp_path / "l1.csv", "text,label\n" + "".join(f"{t},{'ab'[i % 2]}\n" for i, t in enumerate(rows)),
               encoding="latin-1")
    for mode in ("error", "skip"):
        ds = load_dataset("csv", f, on_bad_rows=mode)
        assert ds.texts == rows and ds.skipped == []
    assert "not valid UTF-8" in ds.source and "line 3" in ds.source and "--encoding" in ds.source


def test_real_latin1_file_embedded_tweets_is_detected() -> None:
    from emotune.data.readers.tweets import embedded_tweets_path

    path = embedded_tweets_path()
    ds = load_dataset("csv", path, label_col="sentiment", on_bad_rows="error")
    assert len(ds) == 38158 and not ds.skipped
    assert "latin-1" in ds.source and "not valid UTF-8" in ds.source
    # the same rows as the tweets reader, which declares the file's encoding
    assert ds.texts[:200] == load_dataset("tweets").texts[:200]


def test_utf8_bom_is_dropped(tmp_path: Path) -> None:
    f = _write(tmp_path / "bom.csv", "\ufefftext,label\nx,a\ny,b\n")
    ds = load_dataset("csv", f)
    assert ds.texts == ["x", "y"] and "byte-order mark" in ds.source


def test_utf16_is_refused_with_advice(tmp_path: Path) -> None:
    f = tmp_path / "u16.csv"
    f.write_bytes("text,label\nx,a\ny,b\n".encode("utf-16"))
    with pytest.raises(DatasetError, match="UTF-16.*convert it to UTF-8"):
        load_dataset("csv", f)


@pytest.mark.parametrize("bad", ["ab\x00cd", "tab\tok but \x07bell", "del\x7f"])
def test_nul_and_control_bytes_are_bad_rows(tmp_path: Path, bad: str) -> None:
    f = _write(tmp_path / "c.csv", f"text,label\nfine,a\n{bad},b\nalso fine,b\n")
    with pytest.raises(DatasetError) as err:
        load_dataset("csv", f)
    assert f"{f}, line 3, field 'text'" in str(err.value) and "U+00" in str(err.value)
    ds = load_dataset("csv", f, on_bad_rows="skip")
    assert ds.texts == ["fine", "also fine"] and len(ds.skipped) == 1
    assert "NUL" in ds.skipped[0].reason if "\x00" in bad else "control character" in ds.skipped[0].reason


def test_tabs_and_newlines_inside_text_are_allowed(tmp_path: Path) -> None:
    f = _write(tmp_path / "ok.csv", 'text,label\n"two\nlines\tand a tab",a\nx,b\n')
    assert load_dataset("csv", f).texts == ["two\nlines\tand a tab", "x"]


def test_tsv_has_no_quoting(tmp_path: Path) -> None:
    f = _write(tmp_path / "d.tsv", 'text\tlabel\n"quoted" word\tpos\nplain, comma\tneg\n')
    ds = load_dataset("tsv", f)
    assert ds.texts == ['"quoted" word', "plain, comma"]


def test_jsonl(tmp_path: Path) -> None:
    lines = [
        json.dumps({"text": "hi", "label": "a", "who": "u1"}),
        "{not json",
        json.dumps({"text": "yo", "label": 1, "who": "u2"}),
        json.dumps({"label": "b", "who": "u3"}),
        "",
        json.dumps({"text": "hey", "label": "b", "who": "u1"}),
    ]
    f = _write(tmp_path / "d.jsonl", "\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match="line 2"):
        load_dataset("jsonl", f, group_col="who")
    ds = load_dataset("jsonl", f, group_col="who", on_bad_rows="skip")
    assert ds.texts == ["hi", "yo", "hey"]
    assert ds.sample_labels == ["a", "1", "b"]
    assert ds.groups == ["u1", "u2", "u1"]
    assert [(r.line, r.field) for r in ds.skipped] == [(2, "(line)"), (4, "text")]


def test_jsonl_missing_column(tmp_path: Path) -> None:
    f = _write(tmp_path / "d.jsonl", json.dumps({"body": "hi", "label": "a"}) + "\n")
    with pytest.raises(DatasetError, match="column 'text' \\(text_col\\) not found; columns found: 'body', 'label'"):
        load_dataset("jsonl", f)


def test_one_class_is_always_an_error(tmp_path: Path) -> None:
    f = _write(tmp_path / "one.csv", "text,label\na,pos\nb,pos\n")
    for mode in ("error", "skip"):
        with pytest.raises(DatasetError, match="single class 'pos'"):
            load_dataset("csv", f, on_bad_rows=mode)
    g = _write(tmp_path / "one_left.csv", "text,label\na,pos\nb,pos\nc,\n")
    with pytest.raises(DatasetError, match="single class 'pos' .*1 bad rows were skipped"):
        load_dataset("csv", g, on_bad_rows="skip")


def test_no_usable_rows(tmp_path: Path) -> None:
    f = _write(tmp_path / "none.csv", "text,label\n,a\n,b\n")
    with pytest.raises(DatasetError, match="no usable rows"):
        load_dataset("csv", f, on_bad_rows="skip")


def test_empty_file_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="empty"):
        load_dataset("csv", _write(tmp_path / "e.csv", ""))
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset("csv", tmp_path / "nope.csv")
    with pytest.raises(DatasetError, match="needs data_dir"):
        load_dataset("csv")


def test_limit_is_stratified_and_seeded(tmp_path: Path) -> None:
    rows = [f"text {i},{'a' if i % 4 else 'b'}" for i in range(400)]  # 300 a, 100 b
    f = _write(tmp_path / "big.csv", "text,label\n" + "\n".join(rows) + "\n")
    ds = load_dataset("csv", f, limit=40, seed=3)
    assert len(ds) == 40
    assert Counter(ds.sample_labels) == {"a": 30, "b": 10}
    assert ds.ids == load_dataset("csv", f, limit=40, seed=3).ids
    assert ds.ids != load_dataset("csv", f, limit=40, seed=4).ids
    assert len(load_dataset("csv", f, limit=1000)) == 400
    with pytest.raises(ConfigError, match="limit"):
        load_dataset("csv", f, limit=1)


def test_bad_arguments(tmp_path: Path) -> None:
    f = _write(tmp_path / "d.csv", "text,label\na,x\nb,y\n")
    with pytest.raises(ConfigError, match="on_bad_rows"):
        load_dataset("csv", f, on_bad_rows="ignore")
    with pytest.raises(ConfigError, match="encoding"):
        load_dataset("csv", f, encoding="no-such-codec")
    with pytest.raises(RegistryError, match=r"known: .*\bcsv\b"):
        load_dataset("nope", f)


def test_registry_lists_every_reader() -> None:
    assert {"csv", "tsv", "jsonl", "mr", "sst2", "folder", "tweets"} <= set(READERS.names())
