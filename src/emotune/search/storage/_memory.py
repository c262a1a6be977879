"""The default storage: trial records and the study's state kept in this process's memory."""

from __future__ import annotations

from typing import Any, Iterable, Protocol

__all__ = ["Storage", "InMemoryStorage"]


class Storage(Protocol):
    """Where a :class:`~emotune.search.study.Study` writes every trial and its state.

    ``save(records, state)`` is called after each ask (the new running records)
    and each tell (the finished record) with the study's state at that moment
    (optimizer ``state_dict``, enqueued and retry queues). A durable storage
    writes both in one transaction, so what is on disk is always a state the
    study really passed through. ``load()`` returns ``(records, state)``.
    """

    def save(self, records: Iterable[Any], state: dict[str, Any] | None) -> None: ...

    def load(self) -> tuple[list[Any], dict[str, Any] | None]: ...


class InMemoryStorage:
    """Keeps trial records and the latest study state in memory (lost with the process)."""

    def __init__(self) -> None:
        self.trials: dict[int, Any] = {}
        self.optimizer_state: dict[str, Any] | None = None
        self.state: dict[str, Any] | None = None
        self.definition: dict[str, Any] | None = None

    def put_trial(self, record: Any) -> None:
        self.trials[record.id] = record

    def put_optimizer_state(self, state: dict[str, Any]) -> None:
        self.optimizer_state = state

    def save(self, records: Iterable[Any], state: dict[str, Any] | None) -> None:
        for record in records:
            self.put_trial(record)
        if state is not None:
            self.state = state
            self.optimizer_state = state.get("optimizer")

    def load(self) -> tuple[list[Any], dict[str, Any] | None]:
        return [self.trials[k] for k in sorted(self.trials)], self.state

    def check_definition(self, definition: dict[str, Any]) -> None:
        self.definition = self.definition or definition

    def close(self) -> None:
        pass
