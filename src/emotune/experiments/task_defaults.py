"""Filling a run's unset keys with its task's benchmark-chosen defaults (text, face)."""

from __future__ import annotations

from typing import Any, Mapping

__all__ = ["fill_task_defaults"]


def fill_task_defaults(data: Mapping[str, Any], task: str, defaults: Mapping[str, Any],
                       assumed_task: str | None = None) -> dict[str, Any]:
    """A copy of ``data`` (flags or YAML keys) with ``defaults`` set for the keys it lacks, when its task is ``task``.

    Args:
        data: the user's keys; never modified.
        task: the task the defaults belong to.
        defaults: key -> value.
        assumed_task: the task of ``data`` when it has no ``task`` key (the CLI's default task).
    """
    out = dict(data)
    if out.get("task", assumed_task) != task:
        return out
    for key, value in defaults.items():
        out.setdefault(key, value)
    return out
