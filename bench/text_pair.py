"""Tuned against untuned (or any two runs) on the same test sentences: a paired-bootstrap 95% interval.

Both runs must share their data and outer folds (same dataset, limit and seed, as bench/text.py's
``--outer-cv sample:K`` runs do). Each run's test predictions are pooled from its ``fold_K/fold_result.pkl``
(every sentence predicted once, by the fold model that never saw it). Prints, per pair, both test accuracies,
the difference A - B with its paired-bootstrap 95% interval (2,000 resamples of the test sentences) and the
mean over folds of each search's best validation fitness.

``--over-seeds``: the pairs are the same comparison under different seeds on the same sentences (e.g. seeds 0, 1,
2 of tuned vs untuned on all of MR); it also prints the mean over pairs of A - B with a 95% interval that resamples
sentences (each resample draws the same sentences for every pair, so seed-to-seed variation of the fold splits and
searches is in the point estimate, not in the interval).

Usage::

    .venv/bin/python bench/text_pair.py RUN_A RUN_B [RUN_A2 RUN_B2 ...] [--json-file bench/out/text_pairs.json]
        [--over-seeds]
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def pooled(run: Path) -> tuple[np.ndarray, np.ndarray, list[float], dict]:
    """Test probabilities of every sample (by index in the run's dataset), labels, fold validation fitness."""
    folds = sorted(run.glob("fold_*/fold_result.pkl"), key=lambda p: int(p.parent.name.split("_")[1]))
    if not folds:
        raise SystemExit(f"{run}: no fold_*/fold_result.pkl (this script needs an outer-fold run, --outer-cv sample:K)")
    results = [pickle.loads(p.read_bytes()) for p in folds]
    n = sum(len(r["_test_idx"]) for r in results)
    n_classes = results[0]["_proba"].shape[1]
    proba = np.full((n, n_classes), np.nan)
    for r in results:
        proba[r["_test_idx"]] = r["_proba"]
    if np.isnan(proba).any():
        raise SystemExit(f"{run}: the folds' test parts do not cover every sample")
    top = json.loads((run / "result.json").read_text())
    return proba, np.array([r["best_fitness"] for r in results]), top


def labels_of(run: Path) -> np.ndarray:
    """The true class index of every sample, rebuilt exactly as the run loaded its data."""
    from emotune.experiments.config import load_config
    from emotune.experiments.tune import _load

    cfg = load_config(run / "config.yaml")
    cfg.progress = False
    dataset, _ = _load(cfg)
    return dataset.label_ids({name: i for i, name in enumerate(dataset.labels)})


def compare(a: Path, b: Path, seed: int = 0) -> dict:
    from emotune.evaluation.intervals import paired_bootstrap

    pa, va, _ = pooled(a)
    pb, vb, _ = pooled(b)
    if (a / "split.json").read_text() != (b / "split.json").read_text() or len(pa) != len(pb):
        raise SystemExit(f"{a} and {b} do not share their split")
    y = labels_of(a)
    ci = paired_bootstrap(y, pa, pb, metric="accuracy", seed=seed)
    return {"a": str(a), "b": str(b), "n_test": int(len(y)),
            "acc_a": float((pa.argmax(1) == y).mean()), "acc_b": float((pb.argmax(1) == y).mean()),
            "difference": ci.difference, "low": ci.low, "high": ci.high,
            "val_a_mean": float(va.mean()), "val_b_mean": float(vb.mean()),
            "val_a": va.tolist(), "val_b": vb.tolist()}


def over_seeds(pairs: list[tuple[Path, Path]], n_boot: int = 2000, seed: int = 0) -> dict:
    """Mean over ``pairs`` of accuracy(A) - accuracy(B) and its sentence-bootstrap 95% interval.

    Every run must pool predictions for the same ``n`` sentences (same dataset and limit; the outer folds
    may differ by seed). Per sentence ``i``, ``d_i`` is the mean over pairs of ``1[A correct] - 1[B correct]``
    (float, shape ``(n,)``); the interval is the 2.5 and 97.5 percentiles of the mean of ``d`` over ``n_boot``
    resamples of the sentences.
    """
    y = labels_of(pairs[0][0])
    diffs = []
    for a, b in pairs:
        pa, _, _ = pooled(a)
        pb, _, _ = pooled(b)
        if len(pa) != len(y) or len(pb) != len(y):
            raise SystemExit(f"{a} / {b}: not the same sentences as {pairs[0][0]}")
        diffs.append((pa.argmax(1) == y).astype(float) - (pb.argmax(1) == y).astype(float))
    d = np.mean(diffs, axis=0)
    rng = np.random.default_rng(seed)
    boots = np.array([d[rng.integers(0, len(d), len(d))].mean() for _ in range(n_boot)])
    low, high = np.percentile(boots, [2.5, 97.5])
    return {"pairs": len(pairs), "n_test": int(len(d)), "difference": float(d.mean()), "low": float(low),
            "high": float(high), "per_pair": [float(x.mean()) for x in diffs]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="pairs of run directories: A B [A B ...]")
    ap.add_argument("--json-file", type=Path, default=ROOT / "bench" / "out" / "text_pairs.json")
    ap.add_argument("--over-seeds", action="store_true",
                    help="also the mean difference over the pairs (seeds on the same sentences), sentence-resampled")
    args = ap.parse_args(argv)
    if len(args.runs) % 2:
        ap.error("give run directories in pairs (A B)")
    pairs = list(zip(args.runs[::2], args.runs[1::2]))
    rows = [compare(a, b) for a, b in pairs]
    mean = over_seeds(pairs) if args.over_seeds else None
    args.json_file.parent.mkdir(parents=True, exist_ok=True)
    args.json_file.write_text(json.dumps(rows if mean is None else {"pairs": rows, "over_seeds": mean}, indent=1))
    for r in rows:
        print(f"{r['a']}\n  vs {r['b']}\n  test acc {100 * r['acc_a']:.2f} vs {100 * r['acc_b']:.2f}: "
              f"{100 * r['difference']:+.2f} [{100 * r['low']:+.2f}, {100 * r['high']:+.2f}] (n = {r['n_test']}); "
              f"mean val fitness over folds {r['val_a_mean']:.4f} vs {r['val_b_mean']:.4f}")
    if mean is not None:
        print(f"mean over {mean['pairs']} pairs: {100 * mean['difference']:+.2f} "
              f"[{100 * mean['low']:+.2f}, {100 * mean['high']:+.2f}] (sentence bootstrap, n = {mean['n_test']}); "
              f"per pair " + ", ".join(f"{100 * x:+.2f}" for x in mean["per_pair"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
