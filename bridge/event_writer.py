"""Writes a live core's listener callbacks into its session's event log, as the session's owner.

Every write is fenced (bridge/leases.py): a node whose lease moved on is
refused (:class:`~bridge.eventlog.FencedOut`) and must drop the core without a
word, because the new owner speaks for the session now.

While the log is unreachable (Redis down), a write is retried with backoff:
the core's dispatcher waits on it, so events stay in order and none is
skipped. The retry is bounded, with a named overflow policy:

``drop-core``: after ``give_up_after`` seconds of failures the core is dropped
without saving its checkpoint (the pool's ``on_stalled``), exactly as after a
lost lease. Nothing is lost: the checkpoint and the log's delivery marks
still say how far delivery got, and the next call or stream revives the
session from there once the log answers again. A core that waited forever
instead would hold its inbox, its gateway socket and a pool slot for as long
as the outage lasts, and hide the outage from readiness and metrics.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pydantic_core import PydanticSerializationError, to_json

from bridge.errors import BridgeError
from bridge.eventlog import Entry, EventLog, FencedOut, Mark
from bridge.leases import SessionLeases
from bridge.logs import session_fields
from bridge.session_handle import SessionHandle
from core.events import Event

__all__ = ["MAX_APPEND", "OVERFLOW_POLICY", "SessionEventWriter", "StallHandler", "encode_data"]

log = logging.getLogger("openim.bridge.events")

#: Events of one batch per append (one commit): a big sync's thousands stay several bounded transactions.
MAX_APPEND = 256

#: The policy when the log stays unwritable past the bound (see the module docs).
OVERFLOW_POLICY = "drop-core"

#: (handle, the fence the failing write was made under): the pool drops that core. Called
#: synchronously from the core's own dispatch task, before its next write: the pool must
#: stop every later write and checkpoint save of that core at once, and stop the core later.
StallHandler = Callable[[SessionHandle, int | None], None]


def encode_data(obj: Any) -> str:
    """An event's JSON, compact: pydantic-core's encoder, ~3.5x less CPU than json.dumps for a
    conversation event (issue 14: five events per delivered message). UTF-8 as it is, as the
    webhook bodies and oimws frames are; a lone surrogate (no UTF-8 form) keeps json's escapes."""
    try:
        return to_json(obj).decode()
    except PydanticSerializationError:
        return json.dumps(obj, separators=(",", ":"))


class SessionEventWriter:
    def __init__(
        self,
        events: EventLog,
        leases: SessionLeases,
        *,
        give_up_after: float,
        on_lost: StallHandler,
        on_stalled: StallHandler,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._events = events
        self._leases = leases
        self._give_up_after = give_up_after
        self._on_lost = on_lost
        self._on_stalled = on_stalled
        self._now = monotonic
        self.retried = 0  # writes that failed and were tried again
        self.stalled = 0  # cores dropped by the overflow policy

    async def emit(self, handle: SessionHandle, event: Event) -> None:
        """A core's callback (its sink): encoded once, appended with its delivery marks."""
        data = encode_data(event.to_json_obj())
        await self._as_owner(
            handle,
            lambda fence: self._events.append(
                handle.session_id, event.callback, data, marks=event.marks, fence=self._leases.fence(fence)
            ),
        )

    async def emit_many(self, handle: SessionHandle, events: Sequence[Event], marks: Sequence[Mark] = ()) -> None:
        """A core's batch (its batch sink): the events in order, in appends of at most
        ``MAX_APPEND`` (one commit each), the mark-only progress riding on the last one.
        A failed append stored none of its events (one transaction), so the retry repeats none."""
        if not events:
            if marks:
                await self.mark(handle, marks)
            return
        entries = [(e.callback, encode_data(e.to_json_obj()), e.marks) for e in events]
        if marks:
            callback, data, last = entries[-1]
            entries[-1] = (callback, data, (*last, *marks))
        for start in range(0, len(entries), MAX_APPEND):
            chunk = entries[start : start + MAX_APPEND]
            await self._as_owner(handle, functools.partial(self._append_many, handle.session_id, chunk))

    async def _append_many(self, session_id: str, entries: Sequence[Entry], fence: int) -> None:
        await self._events.append_many(session_id, entries, fence=self._leases.fence(fence))

    async def mark(self, handle: SessionHandle, marks: Sequence[Mark]) -> None:
        """Delivery progress that no event carries (the sender's own messages coming back)."""
        await self._as_owner(
            handle, lambda fence: self._events.mark(handle.session_id, marks, fence=self._leases.fence(fence))
        )

    async def append_once(self, handle: SessionHandle, event: str, data: dict[str, Any]) -> None:
        """One fenced append, not retried (raises FencedOut, BridgeError): for the bridge's own entries."""
        text = json.dumps(data, separators=(",", ":"))
        await self._events.append(handle.session_id, event, text, fence=self._leases.fence(handle.fence))

    async def _as_owner(self, handle: SessionHandle, write: Callable[[int], Awaitable[Any]]) -> None:
        fence = handle.fence
        if fence is None:
            return  # no lease (silenced, or lost while logging in): this core does not speak for the session
        deadline = self._now() + self._give_up_after
        delay = 0.1
        while True:
            try:
                await write(fence)
                return
            except FencedOut:
                self._on_lost(handle, fence)
                return
            except BridgeError as exc:
                if handle.fence != fence:
                    return  # parked or lost meanwhile: the next owner delivers it
                if self._now() >= deadline:
                    self.stalled += 1
                    log.error(
                        "event log unwritable for %.0f s; dropping the core of session=%s (policy %s): %s",
                        self._give_up_after,
                        handle.session_id[:8],
                        OVERFLOW_POLICY,
                        exc.detail,
                        extra=session_fields(handle),
                    )
                    self._on_stalled(handle, fence)
                    return
                self.retried += 1
                log.warning(
                    "event log write failed, retrying in %.1f s: %s", delay, exc.detail, extra=session_fields(handle)
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
