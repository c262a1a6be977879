"""Whisper-base on the clip's own length vs Whisper's padded 30-s windows: speed and accuracy on RAVDESS dev.

For every clip of the index (``--index``, columns ``file``, ``speaker``, ``emotion``) both pooled vectors
(mean + std of the encoder states over the clip's real frames, 1,024 values) are computed in this process,
one thread, no cache; the seconds each window mode takes are summed. Accuracy: logistic regression on each
set of vectors, every actor's vectors z-scored by that actor's own clips (the enrolment rule of
``emotune.features.normalization``, no labels), 5 outer folds by actor (``GroupKFold``); UA = balanced accuracy
of the pooled out-of-fold predictions, and its per-fold mean and std.

Prints a JSON object and a table; vectors are kept in ``--out`` (``.npz``) so a second run only scores them.

    OMP_NUM_THREADS=1 .venv/bin/python bench/whisper_window.py \
        --index ../shared/data/ravdess-av-dev/index.csv --out bench/out/whisper_window.npz
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np

WINDOWS = ("clip", "padded")


def read_index(index: Path) -> list[dict[str, str]]:
    """Rows of the corpus index: ``file`` (relative to the index's folder), ``speaker``, ``emotion``."""
    with index.open(newline="") as f:
        return list(csv.DictReader(f))


def pooled_vectors(rows: list[dict[str, str]], root: Path, window: str) -> tuple[np.ndarray, float]:
    """Whisper-base pooled vectors ``(n_clips, 1024)`` float32 for ``window``, and the encoder seconds spent."""
    import soundfile as sf

    from emotune.features.audio_extractors import make_audio_extractor

    extractor = make_audio_extractor("whisper_base_pooled", window=window)
    y0, sr0 = sf.read(root / rows[0]["file"], dtype="float32")
    extractor(y0, sr0)  # load the encoder outside the timed loop
    out, seconds = [], 0.0
    for k, row in enumerate(rows):
        y, sr = sf.read(root / row["file"], dtype="float32")
        start = time.perf_counter()
        out.append(np.asarray(extractor(y, sr), np.float32))
        seconds += time.perf_counter() - start
        if (k + 1) % 60 == 0:
            print(f"{window}: {k + 1}/{len(rows)} clips, {seconds / (k + 1):.3f} s/clip", flush=True)
    return np.stack(out), seconds


def enrol(x: np.ndarray, speakers: np.ndarray) -> np.ndarray:
    """Each speaker's rows z-scored by that speaker's own mean and std (no labels used)."""
    out = np.empty_like(x)
    for s in np.unique(speakers):
        m = speakers == s
        out[m] = (x[m] - x[m].mean(0)) / (x[m].std(0) + 1e-8)
    return out


def actor_cv_ua(x: np.ndarray, y: np.ndarray, speakers: np.ndarray, folds: int = 5) -> dict[str, float]:
    """Pooled and per-fold UA (balanced accuracy) of LR on enrolled vectors, ``folds`` outer folds by actor."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import GroupKFold

    xe = enrol(x, speakers)
    pred = np.empty_like(y)
    per_fold = []
    for train, test in GroupKFold(n_splits=folds).split(xe, y, speakers):
        model = LogisticRegression(max_iter=2000).fit(xe[train], y[train])
        pred[test] = model.predict(xe[test])
        per_fold.append(balanced_accuracy_score(y[test], pred[test]))
    return {"ua_pooled": float(balanced_accuracy_score(y, pred)), "ua_mean": float(np.mean(per_fold)),
            "ua_std": float(np.std(per_fold))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("bench/out/whisper_window.npz"))
    parser.add_argument("--every", type=int, default=1, help="keep every N-th clip of the index (a quick check)")
    args = parser.parse_args(argv)
    rows = read_index(args.index)[:: args.every]
    y = np.array([r["emotion"] for r in rows])
    speakers = np.array([r["speaker"] for r in rows])
    if args.out.exists():
        saved = np.load(args.out)
        vectors = {w: saved[w] for w in WINDOWS}
        seconds = {w: float(saved[f"{w}_seconds"]) for w in WINDOWS}
    else:
        vectors, seconds = {}, {}
        for window in WINDOWS:
            vectors[window], seconds[window] = pooled_vectors(rows, args.index.parent, window)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        np.savez(args.out, **vectors, **{f"{w}_seconds": seconds[w] for w in WINDOWS})
    result = {"clips": len(rows), "actors": len(set(speakers)), "classes": len(set(y))}
    for window in WINDOWS:
        result[window] = {"seconds_per_clip": seconds[window] / len(rows),
                          **actor_cv_ua(vectors[window], y, speakers)}
    a, b = vectors["clip"], vectors["padded"]
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    result["pooled_cosine_median"] = float(np.median(cos))
    print(json.dumps(result, indent=1))
    print("| window | s/clip (one thread) | UA pooled % | UA mean ± std over folds % |")
    print("|---|---:|---:|---|")
    for window in WINDOWS:
        r = result[window]
        print(f"| {window} | {r['seconds_per_clip']:.3f} | {100 * r['ua_pooled']:.1f} | "
              f"{100 * r['ua_mean']:.1f} ± {100 * r['ua_std']:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
