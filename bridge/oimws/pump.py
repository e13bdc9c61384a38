"""A session's event log -> one oimws connection, in order, by cursor.

The same log the SSE streams read (bridge/sse.py `event_stream`): listener
callbacks become oimws event frames; `sessionClosed` ends the connection the
way the client expects (open-im-sdk src/api/index.ts `forceCloseEvents`):

- logout: a `Logout` answer carrying the logout's operationID (so the client
  that asked gets its reply, and any other client of the session learns it is
  logged out), then the socket closes;
- kicked / token expired / token invalid: the core already logged
  `OnKickedOffline` / `OnUserTokenExpired` / `OnUserTokenInvalid`, which went
  out first; then the socket closes.

A connection whose reader is slow just lags: the pump waits on the outbox and
reads the log again later, in batches no larger than the outbox, so a stuck
connection holds at most two queues' worth of frames. If it lags so far that the log's retention dropped
events it never sent (`ReadResult.reset`), it sends `OnConnectFailed`
(errCode 10000, the client's "connection failed") and closes with 1013 (try
again later): open-im-sdk then reconnects and logs in again, as after any
network loss, and the app re-reads what it shows. Other log entries
(`callResult` of REST's respond-async, `reset`) are not for oimws clients.

Messages: oimws registers the SDK's batch listener at every Login
(pkg/core_func/ws_init_login.go `setAllListener`), and with it set the Go SDK
reports new messages only as `OnRecvNewMessages([...])` (openim-v3.md 5.7).
So oimws apps listen for that; consecutive `OnRecvNewMessage` events of one
read go out as one `OnRecvNewMessages` (likewise the offline variant).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from bridge.eventlog import DEFAULT_READ_LIMIT, EventLog, StoredEvent
from bridge.oimws.catalog import LOGOUT
from bridge.oimws.outbox import OimwsStats, Outbox
from bridge.oimws.wire import error_frame, event_frame, result_frame
from bridge.sse import SESSION_CLOSED_EVENT
from core.protocol.errcodes import ErrCode

__all__ = ["BACKLOG_CLOSE_CODE", "BATCHED", "EventPump", "to_frame"]

#: Close code after a reader fell behind retention (RFC 6455 7.4.1 "Try Again Later").
BACKLOG_CLOSE_CODE = 1013
_WAIT = 60.0  # seconds per log wait; the loop just waits again


#: Per-message callbacks -> the batch callback oimws clients get instead.
BATCHED = {"OnRecvNewMessage": "OnRecvNewMessages", "OnRecvOfflineNewMessage": "OnRecvOfflineNewMessages"}


def _listener(ev: StoredEvent) -> tuple[str, Any, str | None] | None:
    """(callback, payload, operationID) of a logged listener callback, None for other entries."""
    try:
        obj = json.loads(ev.data)
    except ValueError:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("callback"), str):
        return None
    op = obj.get("operationID")
    return obj["callback"], obj.get("data"), op if isinstance(op, str) else None


def to_frame(ev: StoredEvent) -> str | None:
    """The oimws frame of one logged listener callback (None: not a listener event)."""
    parsed = _listener(ev)
    return event_frame(*parsed) if parsed is not None else None


class _Batch:
    """Consecutive per-message events waiting to go out as one batch callback."""

    def __init__(self) -> None:
        self.callback = ""
        self.items: list[Any] = []
        self.last_id = 0
        self.operation_id: str | None = None

    def fits(self, callback: str) -> bool:
        return not self.items or callback == self.callback

    def add(self, callback: str, item: Any, event_id: int, operation_id: str | None) -> None:
        self.callback, self.last_id, self.operation_id = callback, event_id, operation_id
        self.items.append(item)

    def take(self) -> tuple[str, int] | None:
        if not self.items:
            return None
        frame = event_frame(self.callback, self.items, self.operation_id)
        self.items = []
        return frame, self.last_id


class EventPump:
    """Copies events after `cursor` into the outbox until the session closes or the reader lags out."""

    def __init__(self, log: EventLog, session_id: str, cursor: int, outbox: Outbox, stats: OimwsStats) -> None:
        self._log = log
        self._session_id = session_id
        self._outbox = outbox
        self._stats = stats
        self._cond = asyncio.Condition()
        self._batch_size = max(1, min(DEFAULT_READ_LIMIT, outbox.maxsize))
        self.start = cursor
        self.delivered = cursor
        self.stopped = False
        self.session_closed = False
        self.lagged_out = False

    async def run(self) -> None:
        try:
            await self._run()
        finally:
            async with self._cond:
                self.stopped = True
                self._cond.notify_all()

    async def wait_delivered(self, event_id: int) -> None:
        """Until every event up to `event_id` is queued (so a call's events precede its answer)."""
        async with self._cond:
            await self._cond.wait_for(lambda: self.delivered >= event_id or self.stopped)

    async def _run(self) -> None:
        batch = _Batch()
        while True:
            # Small batches: a blocked pump holds at most one read besides the outbox.
            result = await self._log.wait_after(self._session_id, self.delivered, _WAIT, self._batch_size)
            if result.reset:
                await self._lagged_out(result.events)
                return
            for ev in result.events:
                if ev.event == SESSION_CLOSED_EVENT:
                    await self._flush(batch)
                    await self._closed(ev)
                    return
                parsed = _listener(ev)
                if parsed is not None and parsed[0] in BATCHED:
                    callback = BATCHED[parsed[0]]
                    if not batch.fits(callback):
                        await self._flush(batch)
                    batch.add(callback, parsed[1], ev.id, parsed[2])
                    continue
                await self._flush(batch)
                if parsed is not None:
                    await self._outbox.put(event_frame(*parsed), ev.id)
                await self._advance(ev.id)
            await self._flush(batch)

    async def _flush(self, batch: _Batch) -> None:
        taken = batch.take()
        if taken is not None:
            frame, event_id = taken
            await self._outbox.put(frame, event_id)
            await self._advance(event_id)

    async def _advance(self, event_id: int) -> None:
        async with self._cond:
            self.delivered = event_id
            self._cond.notify_all()

    async def _closed(self, ev: StoredEvent) -> None:
        self.session_closed = True
        info: dict[str, Any] = {}
        try:
            parsed = json.loads(ev.data)
            info = parsed if isinstance(parsed, dict) else {}
        except ValueError:
            pass
        reason = str(info.get("reason") or "closed")
        if reason == "logout":
            op = info.get("operationID")
            await self._outbox.put(result_frame(LOGOUT, op if isinstance(op, str) else "", None))
        await self._advance(ev.id)
        await self._outbox.close(1000, reason)

    async def _lagged_out(self, events: list[StoredEvent]) -> None:
        self.lagged_out = True
        self._stats.backlog_resets += 1
        lost = (events[0].id - 1 - self.delivered) if events else 0
        detail = f" ({lost} events)" if lost > 0 else ""
        msg = f"this connection read too slowly and missed events{detail}; reconnect and log in to re-sync"
        await self._outbox.put(error_frame("OnConnectFailed", "", ErrCode.NetworkError, msg))
        await self._outbox.close(BACKLOG_CLOSE_CODE, "event backlog exceeded retention")
