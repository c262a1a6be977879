"""The defaults of ``emotune tune --task face``, chosen with ``bench/face.py`` (see bench/README.md, "Faces").

:class:`~emotune.experiments.config.TuneConfig` resolves the face task's
features, model and search protocol itself (``mx_hog``, ``linear``, ``cv:
group:5``); a face run started from the command line also gets the search
budget and training length below, for every key neither the flags nor the YAML
file set. They are the configuration measured best on ``ckplus48-dev`` (327
CK+48 crops, 5 outer folds by subject): mirror-averaged mini-Xception + HOG
features, cached once, into a linear softmax head whose L2 penalty, input
dropout, learning rate and batch size LWARO tunes by 5 folds by subject. The
linear head trains for up to 100 epochs without early stopping (the
learning rate halves on validation plateaus); a 40-image hold-out or early
stopping after a few epochs chose noisier heads.
"""

from __future__ import annotations

from typing import Any, Mapping

from emotune.experiments.task_defaults import fill_task_defaults

__all__ = ["FACE_DEFAULTS", "with_face_defaults"]

FACE_DEFAULTS: Mapping[str, Any] = {
    "features": "mx_hog",
    "model": "linear",
    "cv": "group:5",
    "optimizer": "lwaro",
    "trials": 12,
    "epochs": 100,
    "patience": 100,
}
"""Key -> value applied to a face run for keys the user did not set."""


def with_face_defaults(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` (flags or YAML keys) with :data:`FACE_DEFAULTS` filled in when the task is face."""
    return fill_task_defaults(data, "face", FACE_DEFAULTS)
