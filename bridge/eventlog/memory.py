"""In-process event log: embedded mode's backend and the contract suite's fake.

Each session keeps a bounded deque, trimmed by count, by bytes and by age, so a
session nobody reads cannot grow without limit; what retention drops is counted in
``dropped`` for ``/metrics``. Waiting is one ``asyncio.Event`` per session that
an append sets and replaces ("generation" wake-up): every waiter wakes at once
(fan-out), nobody polls, and a waiter that is cancelled leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
from itertools import islice

from .base import (
    DEFAULT_MAX_BYTES,
    DEFAULT_READ_LIMIT,
    EventLog,
    Fence,
    Mark,
    ReadResult,
    StoredEvent,
    check_limit,
    check_retention,
    event_size,
)

__all__ = ["MemoryEventLog"]


class _SessionLog:
    """One session's retained events and the wake-up its waiters share.

    Retained ids are contiguous, so the event with id ``i`` sits at index
    ``i - floor - 1`` and a read is a slice, not a scan.
    """

    __slots__ = ("delivered", "entries", "floor", "last_id", "size", "waiters", "wakeup")

    def __init__(self) -> None:
        # (append time on the injected clock, event, its size in bytes)
        self.entries: deque[tuple[float, StoredEvent, int]] = deque()
        self.size = 0  # bytes of the retained events (event_size)
        self.floor = 0  # id of the newest event retention dropped (0: none)
        self.last_id = 0
        self.delivered: dict[str, int] = {}  # highest marked seq per conversation
        self.waiters = 0
        self.wakeup = asyncio.Event()

    def wake(self) -> None:
        """Wake everyone waiting now; later waiters wait on a fresh event."""
        self.wakeup.set()
        self.wakeup = asyncio.Event()


class MemoryEventLog(EventLog):
    """Event log held in this process's memory; lost on restart, by design.

    ``max_events``, ``max_bytes`` (see :func:`event_size`; the newest event is
    kept even if it alone is larger) and ``max_age`` (seconds, against
    ``clock``) bound each session's log; age is checked at append and at read,
    since a quiet session has no appends to trim it. ``dropped`` counts events retention discarded
    (not the ones :meth:`drop` forgets with a closed session).
    """

    def __init__(
        self,
        max_events: int = 10000,
        max_age: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        check_retention(max_events, max_age, max_bytes)
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.max_age = max_age
        self.dropped = 0
        self._clock = clock
        self._sessions: dict[str, _SessionLog] = {}

    async def append(
        self,
        session_id: str,
        event: str,
        data: str,
        *,
        marks: Sequence[Mark] = (),
        fence: Fence | None = None,  # one process, one writer: nothing to check
    ) -> StoredEvent:
        log = self._log(session_id)
        _raise_marks(log, marks)
        log.last_id += 1
        stored = StoredEvent(log.last_id, event, data)
        size = event_size(event, data)
        log.entries.append((self._clock(), stored, size))
        log.size += size
        self._trim(log)
        log.wake()
        return stored

    async def read_after(self, session_id: str, after: int, limit: int = DEFAULT_READ_LIMIT) -> ReadResult:
        check_limit(limit)
        return self._read(self._sessions.get(session_id), after, limit)

    # ASYNC109 (timeout parameter): the contract's own timeout, see base.py.
    async def wait_after(
        self,
        session_id: str,
        after: int,
        timeout: float,
        limit: int = DEFAULT_READ_LIMIT,
    ) -> ReadResult:
        check_limit(limit)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(timeout, 0.0)
        log = self._sessions.get(session_id)
        if log is None:
            result = self._read(None, after, limit)
            if result.reset or timeout <= 0:
                return result
            # Register the session so the first append finds our wake-up.
            log = self._sessions[session_id] = _SessionLog()
        log.waiters += 1
        try:
            return await self._wait(session_id, log, after, limit, deadline)
        finally:
            log.waiters -= 1
            if not log.waiters and not log.last_id and self._sessions.get(session_id) is log:
                # Registered only to be woken and nothing came: don't keep it.
                del self._sessions[session_id]

    async def _wait(self, session_id: str, log: _SessionLog, after: int, limit: int, deadline: float) -> ReadResult:
        loop = asyncio.get_running_loop()
        while True:
            result = self._read(log, after, limit)
            remaining = deadline - loop.time()
            if result.events or result.reset or remaining <= 0:
                return result
            wakeup = log.wakeup
            try:
                async with asyncio.timeout(remaining):
                    await wakeup.wait()
            except TimeoutError:
                return self._read(log, after, limit)
            if self._sessions.get(session_id) is not log:
                # Dropped (or closed) while we waited: its history is gone.
                return ReadResult([], False)

    async def last_id(self, session_id: str) -> int:
        log = self._sessions.get(session_id)
        return 0 if log is None else log.last_id

    async def mark(self, session_id: str, marks: Sequence[Mark], *, fence: Fence | None = None) -> None:
        _raise_marks(self._log(session_id), marks)

    def _log(self, session_id: str) -> _SessionLog:
        log = self._sessions.get(session_id)
        if log is None:
            log = self._sessions[session_id] = _SessionLog()
        return log

    async def delivered(self, session_id: str) -> dict[str, int]:
        log = self._sessions.get(session_id)
        return {} if log is None else dict(log.delivered)

    async def drop(self, session_id: str) -> None:
        log = self._sessions.pop(session_id, None)
        if log is not None:
            log.wake()

    async def aclose(self) -> None:
        sessions, self._sessions = self._sessions, {}
        for log in sessions.values():
            log.wake()

    def _read(self, log: _SessionLog | None, after: int, limit: int) -> ReadResult:
        if log is None:
            # Unknown session: any positive cursor belongs to a lost history.
            return ReadResult([], after > 0)
        self._trim(log)
        if after > log.last_id:
            start, reset = 0, True
        else:
            start, reset = max(after - log.floor, 0), after < log.floor
        events = [stored for _, stored, _ in islice(log.entries, start, start + limit)]
        return ReadResult(events, reset)

    def _trim(self, log: _SessionLog) -> None:
        entries = log.entries
        oldest_kept = self._clock() - self.max_age
        while entries and (
            len(entries) > self.max_events
            or entries[0][0] < oldest_kept
            or (log.size > self.max_bytes and len(entries) > 1)
        ):
            _, stored, size = entries.popleft()
            log.floor = stored.id
            log.size -= size
            self.dropped += 1


def _raise_marks(log: _SessionLog, marks: Sequence[Mark]) -> None:
    for conv_id, seq in marks:
        if seq > log.delivered.get(conv_id, 0):
            log.delivered[conv_id] = seq
