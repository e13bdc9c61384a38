"""The newest committed events of the SQL event log's sessions, kept in memory for its readers.

Issue 14: with the SQL log every wake-up of a stream read its new events back
from the database (a reader connection, BEGIN, SELECT, ROLLBACK: four
aiosqlite thread hops), a fifth of the bridge's CPU per delivered message.
This node is the only writer of its logs (bridge/sqlstore/database.py), so it
can answer those reads itself: after each commit the writer hands the
committed events here, and a read whose cursor falls inside a session's tail
is served from it, the same answer the SELECT gives (events after the cursor,
the age cutoff applied; ``reset`` when the next id is gone). Anything else
(an older cursor, a session not cached) is read from the database as before.

A tail holds only committed events and is contiguous up to the session's
newest committed id: events are added in commit order, retention's trims are
mirrored (:meth:`Tails.trim`), and a failed batch or a dropped log forgets it.
Bounded: ``per_session`` events per session, ``max_bytes`` in all (the least
recently appended sessions go first).
"""

from __future__ import annotations

from collections import OrderedDict

from .base import ReadResult, StoredEvent

__all__ = ["Tails"]


class _Tail:
    __slots__ = ("bytes", "events", "sizes", "times")

    def __init__(self) -> None:
        self.events: list[StoredEvent] = []
        self.times: list[float] = []
        self.sizes: list[int] = []
        self.bytes = 0

    def cut(self, n: int) -> int:
        """Forget the ``n`` oldest; the bytes freed."""
        freed = sum(self.sizes[:n])
        del self.events[:n], self.times[:n], self.sizes[:n]
        self.bytes -= freed
        return freed


class Tails:
    def __init__(self, *, per_session: int = 256, max_bytes: int = 16 << 20) -> None:
        self._per_session = per_session
        self._max_bytes = max_bytes
        self._tails: OrderedDict[str, _Tail] = OrderedDict()
        self._bytes = 0
        self.hits = 0  # reads answered from memory
        self.misses = 0  # reads left to the database

    def add(self, session_id: str, event: StoredEvent, t: float, size: int) -> None:
        """A committed event, the session's newest (called in commit order)."""
        tail = self._tails.get(session_id)
        if tail is None:
            tail = self._tails[session_id] = _Tail()
        else:
            self._tails.move_to_end(session_id)
            if tail.events and tail.events[-1].id + 1 != event.id:  # not contiguous: start over
                self._bytes -= tail.cut(len(tail.events))
        tail.events.append(event)
        tail.times.append(t)
        tail.sizes.append(size)
        tail.bytes += size
        self._bytes += size
        if len(tail.events) > self._per_session + self._per_session // 4:  # amortised: cut in blocks
            self._bytes -= tail.cut(len(tail.events) - self._per_session)
        while self._bytes > self._max_bytes and self._tails:
            _, gone = self._tails.popitem(last=False)
            self._bytes -= gone.bytes

    def trim(self, session_id: str, first_kept: int) -> None:
        """Retention deleted the session's events before ``first_kept`` (committed)."""
        tail = self._tails.get(session_id)
        if tail is None or not tail.events or tail.events[0].id >= first_kept:
            return
        n = min(first_kept - tail.events[0].id, len(tail.events))
        self._bytes -= tail.cut(n)

    def forget(self, session_id: str) -> None:
        tail = self._tails.pop(session_id, None)
        if tail is not None:
            self._bytes -= tail.bytes

    def clear(self) -> None:
        self._tails.clear()
        self._bytes = 0

    def last_id(self, session_id: str) -> int | None:
        """The session's newest committed id, if its tail knows it."""
        tail = self._tails.get(session_id)
        return tail.events[-1].id if tail is not None and tail.events else None

    def read(self, session_id: str, after: int, limit: int, cutoff: float) -> ReadResult | None:
        """What the database would answer for this read, or None when the tail cannot tell."""
        tail = self._tails.get(session_id)
        if tail is None or not tail.events:
            self.misses += 1
            return None
        first, last = tail.events[0].id, tail.events[-1].id
        if after < first - 1 or after > last:  # older than the tail, or a cursor from a lost history
            self.misses += 1
            return None
        self.hits += 1
        start = after - first + 1
        times = tail.times
        while start < len(times) and times[start] < cutoff:  # ``t`` never decreases along a log
            start += 1
        rows = tail.events[start : start + limit]
        if rows:
            return ReadResult(rows, rows[0].id != after + 1)
        return ReadResult([], after != last)  # events after the cursor existed, aged out
