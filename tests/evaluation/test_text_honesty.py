"""The text-modality honesty rule: scripted text (fixed sentences, or sentences that give the label away) is detected
by corpus name and from the data, and a multimodal report then warns and shows the result without text."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emotune.evaluation.text_honesty import check_text, label_information, normalise_sentence

EMOTIONS = ["angry", "happy", "sad", "neutral"]


def test_a_fixed_script_read_in_every_emotion_is_flagged_fixed():
    texts = [["Kids are talking by the door.", "Dogs are sitting by the door!"][i % 2] for i in range(400)]
    labels = [EMOTIONS[(i // 2) % 4] for i in range(400)]
    check = check_text(texts, labels)
    assert check.verdict == "fixed" and check.by == ("data",) and check.n_distinct == 2 and check.flagged
    assert check.label_information < 0.1 and "fixed script" in check.reason


def test_sentences_specific_to_each_emotion_give_the_label_away():
    rng = np.random.default_rng(0)
    labels = [EMOTIONS[i % 4] for i in range(300)]
    # each emotion has its own 10 sentences, plus 3 shared by every emotion (SAVEE's design)
    texts = [f"common sentence {rng.integers(3)}" if rng.random() < 0.2 else f"{y} sentence {rng.integers(10)}"
             for y in labels]
    check = check_text(texts, labels)
    assert check.verdict == "label_leak" and check.label_information > 0.5, check
    assert "gives the label away" in check.reason


def test_free_text_and_chance_level_repeats_are_not_flagged():
    rng = np.random.default_rng(1)
    labels = [EMOTIONS[i % 4] for i in range(400)]
    unique = [f"tweet number {i} about {rng.integers(1000)}" for i in range(400)]
    assert check_text(unique, labels).verdict == "ok"  # unique sentences say nothing either way
    # 150 sentences reused at random: plug-in information is well above 0, chance-corrected it is ~0
    reused = [f"sentence {rng.integers(150)}" for _ in range(400)]
    assert check_text(reused, labels).verdict == "ok"
    assert abs(label_information(reused, labels)) < 0.15
    assert check_text([None] * 4, EMOTIONS).verdict == "none"


def test_known_scripted_corpora_are_flagged_by_name_even_without_text():
    check = check_text([None] * 8, EMOTIONS * 2, "ravdess-av")
    assert check.verdict == "fixed" and check.by == ("name",) and "RAVDESS" in check.reason
    assert check_text(["a b"] * 40, EMOTIONS * 10, "savee").verdict == "fixed"  # the data verdict wins when it has one
    assert check_text([None] * 8, EMOTIONS * 2, "savee").verdict == "label_leak"
    assert normalise_sentence("  Don't   forget a JACKET! ") == "don t forget a jacket"


def test_crema_d_text_is_found_fixed_from_the_data(shared_data):
    from emotune.data import load_dataset

    ds = load_dataset("crema-d", shared_data / "crema-d-dev")
    check = check_text([s.text for s in ds.samples], [s.label for s in ds.samples])
    assert check.verdict == "fixed" and check.n_distinct == 12, check


@pytest.mark.slow
def test_multimodal_report_warns_and_shows_the_result_without_text(tmp_path):
    import importlib.util
    from pathlib import Path

    from emotune.experiments.config import TuneConfig
    from emotune.experiments.tune import run_tune

    path = Path(__file__).parents[1] / "experiments" / "test_multimodal_mocap.py"
    spec = importlib.util.spec_from_file_location("_mocap_streams", path)
    streams = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(streams)
    manifest = streams.make_mocap_manifest(tmp_path / "data", speakers=6, per_speaker=8)
    lines = manifest.read_text().splitlines()
    scripts = {"angry": ["I hate waiting here", "get out of my room"], "neutral": ["the table is brown", "it is tuesday"]}
    rows = [lines[0] + ",text"] + [f"{r},{scripts[r.split(',')[1]][i % 2]}" for i, r in enumerate(lines[1:])]
    manifest.write_text("\n".join(rows) + "\n")
    cfg = TuneConfig(task="multimodal", dataset="manifest", data_dir=str(manifest),
                     modalities=["face", "mocap", "text"], fusion="late_equal", outer_cv="group:3", trials=2,
                     epochs=10, patience=10, optimizer="random", out=str(tmp_path / "run"),
                     cache_dir=str(tmp_path / "cache"), progress=False)
    run_tune(cfg)
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    assert saved["text_check"]["verdict"] == "label_leak" and saved["text_check"]["by"] == ["data"]
    assert "gives the label away" in saved["protocol"]["warning"] and "without the text" in saved["protocol"]["warning"]
    wt = saved["without_text"]
    assert wt["modalities"] == ["face", "mocap"]
    assert set(wt["fusion_metrics"]) == {"late_aquila", "late_equal", "stacking", "intermediate", "early"}
    text_ua = saved["modality_metrics"]["text"]["unweighted_accuracy"]
    assert text_ua >= 0.9  # the script is the label
    final = saved["fusion_metrics"]["late_equal"]["unweighted_accuracy"]
    assert wt["text_points"] == pytest.approx(100 * (final - wt["best_metrics"]["unweighted_accuracy"]), abs=0.01)
    # the without-text fusions never saw text: their late weights have one entry per remaining modality
    assert all(len(f["weights"]["late_aquila_without_text"]) == 2 for f in saved["folds"])
    report = (tmp_path / "run" / "report.md").read_text()
    assert "**Warning:**" in report and "## Without the text modality" in report
    assert "fusion early without text" in report
