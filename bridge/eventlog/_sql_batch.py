"""What one group-commit batch of the SQL event log writes (bridge/eventlog/sql.py): the
writer's view of each touched log, and the rows and marks its appends add."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .base import Mark

__all__ = ["FLUSH", "Counters", "Pending", "log_row", "pending", "raise_marks"]

FLUSH = "eventlog"


@dataclass(slots=True)
class Counters:
    """A session's log as the writer sees it (uncommitted appends of the batch included)."""

    last_id: int
    end_offset: int
    last_t: float
    head: tuple[int, int, float] | None  # (id, o, t) of the oldest retained event
    stored: bool  # has a bridge_event_logs row


@dataclass(slots=True)
class Pending:
    """What a batch's appends and marks add, written by ``_flush`` in a few statements."""

    rows: list[dict[str, Any]]
    sessions: dict[str, tuple[Counters, int]]  # touched logs, with the size of their newest event
    marks: dict[tuple[str, str], int]


def pending(scratch: dict[str, Any]) -> Pending:
    pending = scratch.get(FLUSH)
    if pending is None:
        pending = scratch[FLUSH] = Pending([], {}, {})
    return pending


def raise_marks(marks: dict[tuple[str, str], int], session_id: str, new: Sequence[Mark]) -> None:
    for conv_id, seq in new:
        key = (session_id, conv_id)
        if seq > marks.get(key, 0):
            marks[key] = seq


def log_row(session_id: str, c: Counters) -> dict[str, Any]:
    return {"session_id": session_id, "last_id": c.last_id, "end_offset": c.end_offset, "last_t": c.last_t}
