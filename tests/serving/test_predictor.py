"""The predictor under concurrency: featurisation is serialised (tokenizers and lazy encoder loading are not thread-safe)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from emotune.serving.predictor import Predictor


class _OneAtATime:
    """A builder that fails when two threads are inside ``build`` at once (as a racing lazy import does)."""

    modality = "text"

    def __init__(self, inner) -> None:
        self.inner, self.inside, self.lock = inner, 0, threading.Lock()

    def build(self, items, groups=None):
        with self.lock:
            self.inside += 1
            clash = self.inside > 1
        try:
            time.sleep(0.02)
            if clash:
                raise RuntimeError("two featurisations at once")
            return self.inner.build(items, groups)
        finally:
            with self.lock:
                self.inside -= 1


def test_concurrent_predictions_never_featurise_at_once(text_run):
    plain = Predictor.load(text_run.path / "model")
    predictor = Predictor(plain.bundle, builder=_OneAtATime(plain.builder))
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda t: predictor.predict_many([t])[0], text_run.items[:16]))
    assert all(r.error is None for r in results)
    got = np.array([[r.proba[k] for k in plain.labels] for r in results])
    np.testing.assert_allclose(got, text_run.eval_proba[:16], atol=1e-5)
