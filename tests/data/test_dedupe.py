"""Exact duplicates are collapsed before the split: majority label, ties dropped, official test copies kept."""

import json

import pytest

from emotune.data.dedupe import deduplicate
from emotune.data.schema import Dataset, Sample


def _ds(rows):
    return Dataset(name="t", samples=[Sample(id=f"r{i}", label=lab, text=t, extra=ex) for i, (t, lab, ex) in
                                      enumerate((r + ({},))[:3] for r in rows)])


def test_one_copy_per_text_with_the_majority_label():
    ds = _ds([("good film", "pos"), ("bad", "neg"), ("good  film ", "neg"), ("good film", "pos"), ("meh", "neg")])
    out, rep = deduplicate(ds)
    assert out.texts == ["good film", "bad", "meh"] and out.sample_labels == ["pos", "neg", "neg"]
    assert out[0].extra["duplicates"] == 3
    assert (rep.removed, rep.groups, rep.conflicting, rep.relabelled, rep.ties_dropped) == (2, 1, 1, 0, 0)


def test_the_kept_copy_takes_the_majority_label_and_ties_are_dropped():
    ds = _ds([("x", "neg"), ("x", "pos"), ("x", "pos"), ("tie", "pos"), ("tie", "neg"), ("y", "neg")])
    out, rep = deduplicate(ds)
    assert out.texts == ["x", "y"] and out.sample_labels == ["pos", "neg"]
    assert out[0].id == "r0"  # first copy kept, relabelled
    assert (rep.relabelled, rep.ties_dropped, rep.removed) == (1, 1, 4)
    assert ds[0].label == "neg"  # the input dataset is not changed


def test_an_official_test_copy_is_the_one_kept():
    ds = _ds([("same", "pos", {"split": "train"}), ("same", "neg", {"split": "test"}), ("z", "neg", {"split": "test"})])
    out, rep = deduplicate(ds)
    assert [s.id for s in out] == ["r1", "r2"] and out[0].label == "neg"  # tie: the test copy keeps its label
    assert rep.ties_dropped == 0


def test_no_duplicates_returns_the_dataset_itself():
    ds = _ds([("a", "x"), ("b", "y")])
    out, rep = deduplicate(ds)
    assert out is ds and rep.removed == 0


def _csv_with_copies(path):
    lines = ["text,label"]
    for i in range(60):
        for _ in range(3):  # every text three times
            lines.append(f"text number {i} {'good' if i % 2 else 'bad'},{'pos' if i % 2 else 'neg'}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("keep", [False, True])
def test_tune_removes_duplicates_before_the_split(tmp_path, keep):
    from emotune.experiments.config import TuneConfig
    from emotune.experiments.tune import run_tune

    data = _csv_with_copies(tmp_path / "d.csv")
    cfg = TuneConfig(dataset="csv", data_dir=str(data), features="tokens", model="sa_lstm", optimizer="random", trials=1,
                     fixed_params={"hidden_size": 16, "num_layers": 1, "batch_size": 64},
                     epochs=1, out=str(tmp_path / "run"), cache_dir=str(tmp_path / "cache"), progress=False,
                     references=["tfidf_logreg"], keep_duplicates=keep)
    result = run_tune(cfg)
    parts = json.loads((tmp_path / "run" / "split.json").read_text())["parts"]
    texts = {}
    for line in data.read_text().splitlines()[1:]:
        texts.setdefault(len(texts) + 2, line.rsplit(",", 1)[0])
    text_of = {f"d.csv:{n}": t for n, t in texts.items()}
    train = {text_of[i] for i in parts["train"] + parts["val"]}
    test = {text_of[i] for i in parts["test"]}
    if keep:
        assert train & test  # the leak the default prevents
        assert "duplicates" not in result["data"]
    else:
        assert not train & test
        assert result["data"]["duplicates"]["removed"] == 120 and result["data"]["n_test"] == 12
        assert "120 rows removed before the split" in (tmp_path / "run" / "report.md").read_text()
