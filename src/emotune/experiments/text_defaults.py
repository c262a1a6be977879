"""The defaults of ``emotune tune --task text``, chosen from ``bench/text.py`` (see bench/README.md, "Text").

:class:`~emotune.experiments.config.TuneConfig`'s own field defaults are shared with
the speech and face tasks; a text run started from the command line gets these
instead, for every key neither the flags nor the YAML file set. They are the
configuration that measured best among those a 2-core CPU can afford on a
3,000-sentence corpus within the 15-minute budget (12 trials, feature extraction
included): frozen MiniLM-L6 sentence vectors, cached once, into a small MLP tuned
by LWARO, where a trial costs seconds. The fine-tuned encoder (``minilm_ft``) is
available but costs minutes per epoch on such a machine; the table in
bench/README.md gives both. ``features: mpnet_pooled`` (all-mpnet-base-v2) measured
about 10 points better on MR and SST-2 at the same cost per trial, but it needs an
optional 420 MB install (``make mpnet``), so it cannot be the default of a fresh clone.

The search scores each trial by 5-fold cross-validation of train + validation
(``cv: "5"``: stratified, by group whenever the corpus has groups; the final
model retrains on train + validation for the median of the folds' best epoch
counts), not on one hold-out part. On all of MR (10,662 sentences, 5 outer
folds, seeds 0-2; bench/README.md, "Issue 7, continued") the 12-trial search
judged by one 1,280-sentence hold-out tested below the untuned MLP (-0.28
points, 95% interval [-0.53, -0.01]; the winner's curse: it picked deeper heads
that validated higher by noise); judged by 5 folds it tested above it on every
seed (+0.16, [-0.11, +0.42]) and above the hold-out search (+0.44, [+0.17,
+0.71]); 3 folds measured in between (-0.11 against untuned). Five folds are a
guard against the search doing harm more than a measured gain. A trial costs
about 3-5 times the hold-out one (5 trainings on 80 % of the data instead of one
on 85 %); ``make demo`` (3,000 tweets) searches in about a minute.
"""

from __future__ import annotations

from typing import Any, Mapping

from emotune.experiments.task_defaults import fill_task_defaults

__all__ = ["TEXT_DEFAULTS", "with_text_defaults"]

TEXT_DEFAULTS: Mapping[str, Any] = {
    "features": "minilm_pooled",
    "max_len": 128,
    "model": "mlp",
    "cv": "5",
    "optimizer": "lwaro",
    "trials": 12,
    "epochs": 30,
    "patience": 4,
}
"""Key -> value applied to a text run for keys the user did not set."""


def with_text_defaults(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` (flags or YAML keys) with :data:`TEXT_DEFAULTS` filled in when the task is text."""
    return fill_task_defaults(data, "text", TEXT_DEFAULTS, assumed_task="text")
