"""Audio + face Action Unit fusion on RAVDESS (actors 01-12), outer folds by actor.

One ``emotune tune --task multimodal`` run per ``--features`` x ``--normalize``
entry on ``../shared/data/ravdess-av-dev`` (720 clips, 8 classes): audio
(speech features of the 16 kHz FLAC, clip level) and the 35 OpenFace Action
Units of the same recordings, paired by recording id. Each run scores, on the
same outer folds by actor (``--outer-cv``, default ``group:4``: 3 actors per
test fold, validation actors disjoint from them):

* audio alone and Action Units alone (``--model``, tuned: ``--trials`` trials of ``--optimizer``);
* ``late_equal``, ``late_aquila`` (simplex weights minimising the out-of-fold
  log loss, found by the ``aquila`` optimizer), ``stacking`` (logistic regression
  on out-of-fold log probabilities), ``intermediate`` (``fusion_mlp`` tuned),
  ``early`` (concatenated features, ``--model`` tuned);
* or, with ``--fusion search``, instead of the fixed fusions: the joint search
  (the fusion style plus every modality's and fusion model's hyperparameters in
  one space, ``--trials`` trials), retrained and scored as the system ``search``;

UA (macro recall) pooled over folds and mean ± std over folds, the gain of the
best fusion over the best single modality, and seconds per trial of each search.

Usage::

    .venv/bin/python bench/fusion.py --out bench/out/fusion.json
    .venv/bin/python bench/fusion.py --fusion search --normalize speaker --out bench/out/fusion_search.json
    .venv/bin/python bench/fusion.py --features mfcc --normalize speaker --model sa_lstm --preset cpu \
        --early-frames 100 --fusion early --out bench/out/fusion_early_frames.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("EMOTUNE_SHARED_DATA", REPO.parent / "shared" / "data"))


def run_one(args, features: str, normalize: str, out: Path) -> dict:
    from emotune.experiments.config import TuneConfig
    from emotune.experiments.tune import run_tune

    t0 = time.time()
    cfg = TuneConfig(task="multimodal", dataset="ravdess-av", data_dir=str(DATA / "ravdess-av-dev"),
                     features=features, normalize=normalize, model=args.model, modalities=["audio", "face"],
                     fusion=args.fusion, early_frames=args.early_frames, preset=args.preset,
                     outer_cv=args.outer_cv, trials=args.trials, optimizer=args.optimizer,
                     epochs=args.epochs, patience=args.patience, seed=args.seed, out=str(out), progress=False)
    result = run_tune(cfg, if_exists="overwrite")  # a rerun replaces its own run folder
    rows = []
    systems = [(f"{k} alone", k, m) for k, m in result["modality_metrics"].items()]
    systems += [(f"fusion {k}", k, m) for k, m in result["fusion_metrics"].items()]
    for title, key, m in systems:
        fm = result["fold_metrics"][key]
        times = [f["timings"].get(key, {}).get("seconds_per_trial") for f in result["folds"]]
        times = [t for t in times if t is not None]
        rows.append({"system": title, "unweighted_accuracy": round(m["unweighted_accuracy"], 4),
                     "ua_mean": round(fm["unweighted_accuracy"]["mean"], 4),
                     "ua_std": round(fm["unweighted_accuracy"]["std"], 4),
                     "accuracy": round(m["accuracy"], 4), "macro_f1": round(m["macro_f1"], 4),
                     "seconds_per_trial": round(sum(times) / len(times), 3) if times else None})
    return {"features": features, "normalize": normalize, "rows": rows, "gain": result["gain"],
            "aquila_weights": [f["weights"].get("late_aquila") for f in result["folds"]],
            "chosen_fusion": [f.get("chosen_fusion") for f in result["folds"]],
            "seconds": round(time.time() - t0, 1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--features", nargs="+", default=["egemaps"])
    ap.add_argument("--normalize", nargs="+", default=["speaker", "global"])
    ap.add_argument("--model", default="mlp")
    ap.add_argument("--fusion", default="late_aquila",
                    help="late_aquila (any fixed style: every fixed fusion is scored) or search (the joint search only)")
    ap.add_argument("--preset", default=None, help="a named search space of --model (e.g. sa_lstm's cpu)")
    ap.add_argument("--early-frames", type=int, default=0,
                    help="frame-level early fusion: frames aligned to N steps (with a frame model, e.g. sa_lstm)")
    ap.add_argument("--outer-cv", default="group:4")
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--optimizer", default="lwaro")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--patience", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "fusion.json")
    args = ap.parse_args(argv)
    if not DATA.is_dir():
        print(f"shared data not found at {DATA}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    record = {"args": {k: str(v) for k, v in vars(args).items()}, "runs": []}
    for features in args.features:
        for normalize in args.normalize:
            tag = (f"{features}_{normalize}" + ("_search" if args.fusion == "search" else "")
                   + (f"_{args.model}_frames{args.early_frames}" if args.early_frames else ""))
            run = run_one(args, features, normalize, args.out.parent / "fusion_runs" / tag)
            record["runs"].append(run)
            args.out.write_text(json.dumps(record, indent=1))
            print(f"\n{features}, normalize={normalize} ({run['seconds']:.0f} s)")
            print(f"{'system':28s} {'UA pooled':>9s} {'UA mean+-std':>15s} {'acc':>7s} {'s/trial':>8s}")
            for r in run["rows"]:
                spt = "" if r["seconds_per_trial"] is None else f"{r['seconds_per_trial']:.2f}"
                print(f"{r['system']:28s} {r['unweighted_accuracy']:9.4f} {r['ua_mean']:8.4f}+-{r['ua_std']:.4f} "
                      f"{r['accuracy']:7.4f} {spt:>8s}")
            g = run["gain"]
            print(f"best fusion {g['best_fusion']} - best single {g['best_single_modality']}: {g['points']:+.2f} UA points")
            if any(run["chosen_fusion"]):
                print("joint search chose per fold: " + ", ".join(map(str, run["chosen_fusion"])))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
