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
"""

from __future__ import annotations

from typing import Any, Mapping

from emotune.experiments.task_defaults import fill_task_defaults

__all__ = ["TEXT_DEFAULTS", "with_text_defaults"]

TEXT_DEFAULTS: Mapping[str, Any] = {
    "features": "minilm_pooled",
    "max_len": 128,
    "model": "mlp",
    "optimizer": "lwaro",
    "trials": 12,
    "epochs": 30,
    "patience": 4,
}
"""Key -> value applied to a text run for keys the user did not set."""


def with_text_defaults(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` (flags or YAML keys) with :data:`TEXT_DEFAULTS` filled in when the task is text."""
    return fill_task_defaults(data, "text", TEXT_DEFAULTS, assumed_task="text")
