"""One connection's bounded send queue and the task that writes it to the socket.

Overflow policy BLOCK_PRODUCER: a full queue makes the producer wait; nothing
is dropped and nothing grows. The producers are the event pump (which then
simply stops reading the session's event log: a slow reader lags behind on
its cursor, and the log's own retention is the bound), call tasks (at most
`MAX_INFLIGHT` per connection, after which the connection stops reading
requests, so TCP pushes back on the client) and the request reader for error
answers. Every wait on a full queue is counted (`OimwsStats.queue_full_waits`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["OVERFLOW_POLICY", "OimwsStats", "Outbox"]

log = logging.getLogger("openim.bridge.oimws")

OVERFLOW_POLICY = "block-producer"


@dataclass(slots=True)
class OimwsStats:
    """Counters of the oimws face (for /metrics and tests)."""

    connections_open: int = 0
    connections_total: int = 0
    frames_received: int = 0
    frames_sent: int = 0
    bad_frames: int = 0
    calls: int = 0
    queue_full_waits: int = 0
    backlog_resets: int = 0
    resumed: int = 0


@dataclass(frozen=True, slots=True)
class _Frame:
    text: str
    event_id: int | None


@dataclass(frozen=True, slots=True)
class _Close:
    code: int
    reason: str


class Outbox:
    """Frames in order, then optionally a close; `sent_event_id` = last event frame written."""

    def __init__(self, maxsize: int, stats: OimwsStats) -> None:
        if maxsize < 1:
            raise ValueError(f"send queue size must be at least 1, got {maxsize}")
        self.maxsize = maxsize
        self._queue: asyncio.Queue[_Frame | _Close] = asyncio.Queue(maxsize)
        self._stats = stats
        self._closing = False
        self.sent_event_id: int | None = None

    @property
    def closing(self) -> bool:
        return self._closing

    def qsize(self) -> int:
        return self._queue.qsize()

    async def put(self, text: str, event_id: int | None = None) -> None:
        """Queue a frame, waiting while the queue is full; ignored once a close is queued."""
        if not self._closing:
            await self._put(_Frame(text, event_id))

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Queue the close: frames queued before it are still written."""
        if not self._closing:
            self._closing = True
            await self._put(_Close(code, reason))

    async def _put(self, item: _Frame | _Close) -> None:
        if self._queue.full():
            self._stats.queue_full_waits += 1
        await self._queue.put(item)

    async def run(self, send: Callable[[str], Awaitable[None]], close: Callable[[int, str], Awaitable[None]]) -> None:
        """Write until the queued close (or until the socket fails); returns when done."""
        while True:
            item = await self._queue.get()
            if isinstance(item, _Close):
                with contextlib.suppress(Exception):
                    await close(item.code, item.reason)
                return
            try:
                await send(item.text)
            except Exception as exc:  # the peer went away: nothing more can be written
                log.debug("oimws send failed: %r", exc)
                return
            self._stats.frames_sent += 1
            if item.event_id is not None:
                self.sent_event_id = item.event_id
