"""Outcomes in this process's memory: embedded mode (one node)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from .base import MAX_OUTCOME_BYTES, Outcome, OutcomeStore
from .redis import encode

__all__ = ["MemoryOutcomes"]


class MemoryOutcomes(OutcomeStore):
    """At most ``max_entries`` outcomes, each for ``window`` seconds of ``clock``; the oldest go first."""

    def __init__(self, window: float, max_entries: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._window = window
        self._max = max_entries
        self._clock = clock
        # Insertion order is recording order, so the head is always the oldest.
        self._entries: OrderedDict[tuple[str, str], tuple[float, Outcome]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def _expire(self) -> None:
        now = self._clock()
        while self._entries:
            recorded, _ = next(iter(self._entries.values()))
            if now - recorded <= self._window:
                break
            self._entries.popitem(last=False)

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
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
