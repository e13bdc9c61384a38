"""The contract of a per-session event log: what SSE resume and long-poll read from.

Every listener callback a session's core fires is appended here before any
client sees it, so a client that reconnects with ``Last-Event-ID`` (or polls
with ``after=``) gets exactly the events it missed, and several streams on one
session each read every event (DESIGN.md "Events"). Backends: ``memory.py``
(embedded mode, and the test fake) and, in cluster mode, a Redis Stream, so the
same contract suite runs against both (STYLE.md, after litestar channels/backends).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_READ_LIMIT",
    "Entry",
    "EventLog",
    "Fence",
    "FencedOut",
    "Mark",
    "ReadResult",
    "StoredEvent",
    "check_limit",
    "check_retention",
    "event_size",
    "read_or_wait",
]

#: ``(conversationID, seq)``: the message an event delivers (core.events.Event.marks).
Mark = tuple[str, int]

#: ``(event, data, marks)``: one event of :meth:`EventLog.append_many`.
Entry = tuple[str, str, Sequence[Mark]]

#: How many events one read returns at most; a backlog is drained in batches so
#: one slow resume cannot build an unbounded response in memory.
DEFAULT_READ_LIMIT = 1000

#: Bytes of events a session's log keeps by default (BridgeSettings.event_max_bytes).
DEFAULT_MAX_BYTES = 8 << 20


def check_retention(max_events: int, max_age: float, max_bytes: int) -> None:
    """The retention bounds every backend takes: ValueError naming a bad one."""
    if max_events < 1:
        raise ValueError(f"max_events must be >= 1, got {max_events}")
    if max_bytes < 1:
        raise ValueError(f"max_bytes must be >= 1, got {max_bytes}")
    if max_age <= 0:
        raise ValueError(f"max_age must be > 0, got {max_age}")


def check_limit(limit: int) -> None:
    """A read's ``limit`` must ask for at least one event."""
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")


def event_size(event: str, data: str) -> int:
    """What an event counts against a log's byte bound: its name and data in UTF-8,
    the bytes a Redis Stream stores for it (so both backends trim alike)."""
    if event.isascii() and data.isascii():
        return len(event) + len(data)
    return len(event.encode("utf-8", "surrogatepass")) + len(data.encode("utf-8", "surrogatepass"))


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One event as the log keeps it and SSE sends it.

    ``id`` is per session, starts at 1 and only grows (it is the SSE ``id:``
    and so the resume cursor); ``event`` is the SSE event name (a listener
    callback name such as ``OnFriendAdded``, or ``sessionClosed``,
    ``callResult``, ``reset``); ``data`` is the JSON text, already serialised
    once so fan-out to many streams does not re-encode it.
    """

    id: int
    event: str
    data: str


@dataclass(frozen=True, slots=True)
class ReadResult:
    """What a read returns: the events, and whether the cursor fell off the log.

    ``reset`` is True when events the caller has not seen are gone: its cursor
    ``after`` is older than the log still retains (ids in ``(after,
    oldest_retained)`` were dropped by retention), or it is newer than anything
    the log holds (the log was dropped or the process restarted, so the
    cursor belongs to a history that no longer exists). Either way the client
    must re-fetch state; ``events`` then starts at the oldest retained event.
    """

    events: list[StoredEvent]
    reset: bool


class Wakeup(Protocol):
    """A session's shared wake-up: ``wakeup`` is replaced at every append ("generation")."""

    wakeup: asyncio.Event
    gone: bool  # the log was dropped, or the backend closed, while we waited


async def read_or_wait(
    read: Callable[[asyncio.Event], Awaitable[ReadResult]], waker: Wakeup, deadline: float
) -> ReadResult:
    """Read; while there is nothing new, wait for the next wake-up, until `deadline` (loop time).

    The wake-up is taken before each read, so an append that lands after the
    read still wakes us: no event is missed between the read and the wait.
    `read` gets that wake-up (its generation), so waiters of one generation may
    share a read (SqlEventLog._read_shared).
    """
    loop = asyncio.get_running_loop()
    while True:
        wakeup = waker.wakeup
        if waker.gone:
            return ReadResult([], False)
        result = await read(wakeup)
        remaining = deadline - loop.time()
        if result.events or result.reset or remaining <= 0:
            return result
        try:
            async with asyncio.timeout(remaining):
                await wakeup.wait()
        except TimeoutError:
            return await read(wakeup)


@dataclass(frozen=True, slots=True)
class Fence:
    """The writer an append claims to be: the session's owner node under its lease fence.

    Cluster mode (issue #6): a node that stalled past its lease and was taken
    over must not publish as owner, so a fenced append is refused unless the
    lease is still ``(node_id, fence)``, checked atomically with the append.
    """

    node_id: str
    fence: int


class FencedOut(Exception):
    """A fenced append was refused: the session's lease is no longer the writer's."""


class EventLog(ABC):
    """A bounded, per-session, append-only log with blocking reads.

    Retention drops a session's oldest events past a count, a total size in
    bytes (:func:`event_size`; the newest event always stays) or an age;
    a reader whose cursor they took gets ``reset``. Ids keep increasing for a session even after retention trims its old
    events, so a cursor is never reused for a different event.
    """

    @abstractmethod
    async def append(
        self,
        session_id: str,
        event: str,
        data: str,
        *,
        marks: Sequence[Mark] = (),
        fence: Fence | None = None,
    ) -> StoredEvent:
        """Store one event under the session's next id and wake its waiters.

        ``marks`` are recorded with the event, atomically: :meth:`delivered`
        then says how far each conversation has been delivered, which is what
        a node taking a session over resumes from, so no message is delivered
        twice or lost across a crash. With ``fence``, raises :class:`FencedOut`
        unless the writer still holds the session's lease (a one-node backend
        has no other writer and may skip the check).
        """

    async def append_many(
        self, session_id: str, events: Sequence[Entry], *, fence: Fence | None = None
    ) -> list[StoredEvent]:
        """Store ``(event, data, marks)`` entries under consecutive ids, in order, as :meth:`append` does each.

        A backend that can stores them all or none (one transaction): a failed call is
        then retried whole, repeating none. This default appends them one by one (right
        for the in-process log, whose appends cannot fail half-way).
        """
        return [await self.append(session_id, e, d, marks=m, fence=fence) for e, d, m in events]

    @abstractmethod
    async def mark(self, session_id: str, marks: Sequence[Mark], *, fence: Fence | None = None) -> None:
        """Record marks without an event (a message delivered silently: the sender's own copy).

        Fenced like :meth:`append`.
        """

    @abstractmethod
    async def delivered(self, session_id: str) -> dict[str, int]:
        """The highest seq marked per conversation in this session's log (empty if none)."""

    @abstractmethod
    async def read_after(self, session_id: str, after: int, limit: int = DEFAULT_READ_LIMIT) -> ReadResult:
        """Return events with ``id > after``, oldest first, at most ``limit``."""

    # ASYNC109: the timeout is part of the contract, not a cancellation scope: a
    # backend hands it to its own blocking read (Redis XREAD BLOCK), and running
    # out of it is a normal, empty answer (long-poll ``wait=``), not an error.
    @abstractmethod
    async def wait_after(
        self,
        session_id: str,
        after: int,
        timeout: float,
        limit: int = DEFAULT_READ_LIMIT,
    ) -> ReadResult:
        """Like :meth:`read_after`, but wait up to ``timeout`` seconds for an append.

        Returns as soon as there is something to report (events, or ``reset``),
        and wakes on append without polling. After ``timeout`` it returns what
        there is, possibly nothing; :meth:`drop` makes it return promptly.
        """

    @abstractmethod
    async def last_id(self, session_id: str) -> int:
        """The session's newest id (0 if it has none): where a fresh stream starts."""

    @abstractmethod
    async def drop(self, session_id: str) -> None:
        """Forget the session's log and its marks (logout) and wake its waiters so they return."""

    @abstractmethod
    async def aclose(self) -> None:
        """Release the backend's resources and wake every waiter."""
