"""The reference rows of finished text runs, recomputed with the current reference definitions.

For each run directory (``config.yaml`` + ``split.json``), reload the dataset exactly as the run did
(same reader, dedupe, subset), train TF-IDF + LR and frozen MiniLM + LR (max 128 word pieces, the
on-disk cache) on its train + validation ids and score them on its test ids. Used when a reference's
definition changed after a long run had started (bench/README.md says which rows).

Usage::

    HF_HUB_OFFLINE=1 .venv/bin/python bench/text_refs.py RUN_DIR [RUN_DIR ...]
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def references(run: Path) -> dict:
    import numpy as np

    from emotune.evaluation.baselines import embedding_logreg, tfidf_logreg
    from emotune.experiments.config import load_config
    from emotune.experiments.tune import _load

    cfg = load_config(run / "config.yaml")
    dataset, inputs = _load(cfg)
    parts = json.loads((run / "split.json").read_text())["parts"]
    index = {sid: i for i, sid in enumerate(dataset.ids)}
    dev = np.array([index[i] for i in parts["train"] + parts["val"]])
    test = np.array([index[i] for i in parts["test"]])
    labels = dataset.labels
    y = dataset.label_ids({name: i for i, name in enumerate(labels)})
    texts = dataset.texts
    out = {"run": str(run), "n_dev": len(dev), "n_test": len(test)}
    p = tfidf_logreg([texts[i] for i in dev], y[dev], [texts[i] for i in test], seed=cfg.seed)
    out["tfidf_logreg"] = float((p.argmax(1) == y[test]).mean())
    vectors = inputs.sentence_vectors()
    p = embedding_logreg(vectors[dev], y[dev], vectors[test], seed=cfg.seed)
    out["minilm_logreg"] = float((p.argmax(1) == y[test]).mean())
    return out


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(json.dumps(references(Path(arg))), flush=True)
