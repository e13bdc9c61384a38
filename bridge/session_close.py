"""Ending a session for good: logout, kick, token expiry or an invalid token (DESIGN.md "Sessions").

The end is an event first (`sessionClosed`, fenced: a node that lost the
session and was kicked by the new owner's connection must not end it for
everyone), then the directory remembers the errCode for later calls (401),
the lease goes, and the log is dropped a little later, so a client resuming a
moment late still finds the final events.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from bridge.event_writer import SessionEventWriter
from bridge.eventlog import EventLog, FencedOut
from bridge.eventlog.names import SESSION_CLOSED_EVENT
from bridge.leases import SessionLeases
from bridge.logs import session_fields
from bridge.session_handle import SessionHandle
from bridge.sessions import SessionDirectory
from core.protocol.errcodes import ErrCode

__all__ = ["END_REASONS", "SessionCloser", "end_reason"]

log = logging.getLogger("openim.bridge.pool")

#: The `reason` of `sessionClosed` per ending errCode (anything else: "tokenInvalid").
END_REASONS: dict[int, str] = {
    ErrCode.TokenKickedError: "kicked",
    ErrCode.TokenExpiredError: "tokenExpired",
    ErrCode.LoginOutError: "logout",
}


def end_reason(code: int) -> str:
    return END_REASONS.get(code, "tokenInvalid")


class SessionCloser:
    def __init__(
        self,
        writer: SessionEventWriter,
        directory: SessionDirectory,
        leases: SessionLeases,
        events: EventLog,
        *,
        log_grace: float,
        forget: Callable[[SessionHandle, bool], None],
        spawn: Callable[[Coroutine[Any, Any, Any]], None],
    ) -> None:
        self._writer = writer
        self._directory = directory
        self._leases = leases
        self._events = events
        self._log_grace = log_grace
        self._forget = forget  # (handle, ended): the pool drops its handle
        self._spawn = spawn
        self._drops: dict[str, asyncio.TimerHandle] = {}  # session id -> its log's drop, not yet due

    @property
    def pending_drops(self) -> int:
        return len(self._drops)

    def cancel_pending(self) -> None:
        """The pool closes: cancel the log drops not yet due. A timer left behind would fire after
        the stores closed (on a closed Redis client, which reconnected and leaked the connection:
        the suite's unclosed-Connection warning). The logs go by themselves: a Redis stream at its
        idle TTL, a SQL one with the sweeper (``ended_log_grace``)."""
        for timer in self._drops.values():
            timer.cancel()
        self._drops.clear()

    def _drop_log(self, session_id: str) -> None:
        self._drops.pop(session_id, None)
        self._spawn(self._events.drop(session_id))

    async def close(self, handle: SessionHandle, code: int, operation_id: str | None) -> None:
        """End the session with `code` (its core already stopped); once only."""
        if handle.closed:
            return
        reason = end_reason(code)
        data: dict[str, Any] = {"reason": reason, "errCode": int(code)}
        if operation_id:
            data["operationID"] = operation_id
        fence = handle.fence
        try:
            await self._writer.append_once(handle, SESSION_CLOSED_EVENT, data)
        except FencedOut:
            handle.fence = None
            self._forget(handle, False)
            log.info(
                "session=%s moved to another node; not ending it", handle.session_id[:8], extra=session_fields(handle)
            )
            return
        handle.closed = True
        # The memory directory ends this very record; a Redis one ends its own copy.
        handle.record.ended_code = code
        await self._directory.end(handle.session_id, code)
        handle.fence = None
        await self._leases.release(handle.session_id, fence)
        self._forget(handle, True)
        session_id = handle.session_id
        if (earlier := self._drops.pop(session_id, None)) is not None:
            earlier.cancel()
        self._drops[session_id] = asyncio.get_running_loop().call_later(self._log_grace, self._drop_log, session_id)
        log.info(
            "session closed session=%s user=%s reason=%s",
            session_id[:8],
            handle.record.user_id,
            reason,
            extra=session_fields(handle, reason=reason),
        )
