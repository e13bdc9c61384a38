"""Outcomes in this process's memory: embedded mode (one node)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from .base import MAX_OUTCOME_BYTES, Outcome, OutcomeStore
from .redis import encode

__all__ = ["MemoryOutcomes"]


class MemoryOutcomes(OutcomeStore):
    """At most ``max_entries`` outcomes, each for ``window`` seconds of ``clock``; the oldest go first.

    One session holds at most ``per_session`` of them (its own oldest go first): operationIDs
    are the client's to choose, so without that bound one session calling with a fresh one
    each time pushed every other session's outcomes out, and their retries ran again.
    """

    def __init__(
        self,
        window: float,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
        per_session: int | None = None,
    ) -> None:
        self._window = window
        self._max = max_entries
        self._per_session = per_session if per_session is not None else max(1, max_entries // 100)
        self._clock = clock
        # Insertion order is recording order, so the head is always the oldest, in the whole
        # store and in each session's own order alike.
        self._entries: OrderedDict[tuple[str, str], tuple[float, Outcome]] = OrderedDict()
        self._sessions: dict[str, OrderedDict[str, None]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def _drop_oldest(self) -> None:
        (session_id, operation_id), _ = self._entries.popitem(last=False)
        ops = self._sessions[session_id]
        del ops[operation_id]  # the store's oldest is its session's oldest too
        if not ops:
            del self._sessions[session_id]

    def _expire(self) -> None:
        now = self._clock()
        while self._entries:
            recorded, _ = next(iter(self._entries.values()))
            if now - recorded <= self._window:
                break
            self._drop_oldest()

    async def get(self, session_id: str, operation_id: str) -> Outcome | None:
        self._expire()
        entry = self._entries.get((session_id, operation_id))
        return None if entry is None else entry[1]

    async def put(self, session_id: str, operation_id: str, outcome: Outcome) -> None:
        self._expire()
        key = (session_id, operation_id)
        if key in self._entries or len(encode(outcome)) > MAX_OUTCOME_BYTES:
            return
        self._entries[key] = (self._clock(), outcome)
        ops = self._sessions.setdefault(session_id, OrderedDict())
        ops[operation_id] = None
        if len(ops) > self._per_session:
            oldest, _ = ops.popitem(last=False)
            del self._entries[(session_id, oldest)]
        while len(self._entries) > self._max:
            self._drop_oldest()
