"""Starting and stopping a session's core: building it, logging it in from its checkpoint.

The pool decides *when* (revive, park, cap, drain) and holds the handle's
lock; this module does the how. A revived core is positioned after the last
message the session's log marks as delivered, so a checkpoint older than the
log (a crash, another node's run) repeats nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Literal

from bridge.core_factory import CoreFactory, SessionCore
from bridge.errors import BridgeError, status_for
from bridge.event_writer import SessionEventWriter
from bridge.eventlog import EventLog
from bridge.gc_policy import GcPolicy
from bridge.session_handle import SessionHandle
from bridge.sessions import SessionDirectory
from core.core import token_error_callback
from core.errors import CheckpointUnavailable, SdkError
from core.events import CONN, Event
from core.protocol.errcodes import TOKEN_ERRORS, ErrCode

__all__ = ["CoreRunner", "StopHow", "checkpoint_unavailable"]

log = logging.getLogger("openim.bridge.pool")

StopHow = Literal["park", "logout", "abandon"]


def checkpoint_unavailable(exc: BaseException) -> BridgeError:
    """The client-facing error when the checkpoint database cannot be reached (like Redis's, 503)."""
    return BridgeError(
        503,
        ErrCode.ServerInternalError,
        f"checkpoint database unavailable: {exc}; retry shortly",
        headers={"Retry-After": "1"},
    )


class CoreRunner:
    def __init__(
        self,
        factory: CoreFactory,
        writer: SessionEventWriter,
        directory: SessionDirectory,
        events: EventLog,
        *,
        login_timeout: float,
        on_token_died: Callable[[SessionHandle, int, str], Awaitable[None]],
        on_end: Callable[[SessionHandle, int], Awaitable[None]],
        gc_policy: GcPolicy | None = None,
    ) -> None:
        self._factory = factory
        self._writer = writer
        self._directory = directory
        self._events = events
        self._login_timeout = login_timeout
        self._on_token_died = on_token_died
        self._on_end = on_end
        self._gc = gc_policy

    async def start(self, handle: SessionHandle, operation_id: str, fresh: bool) -> SessionCore:
        """A logged-in core for `handle` (its lock held, its lease taken); raises BridgeError."""
        delivered: dict[str, int] = {}
        if not fresh:
            # Another node may have run it since: its latest record (upstream
            # token) and how far its events got are in the shared stores.
            latest = await self._directory.find(handle.record.user_id, handle.record.platform_id)
            if latest is not None and latest.session_id == handle.session_id:
                handle.record.upstream_token = latest.upstream_token
            delivered = await self._events.delivered(handle.session_id)
        rec, writer = handle.record, self._writer
        core = self._factory(
            rec,
            lambda ev: writer.emit(handle, ev),
            lambda events, marks: writer.emit_many(handle, events, marks),
            lambda code: self._on_end(handle, code),
        )
        core.fence = handle.fence
        try:
            async with asyncio.timeout(self._login_timeout):
                await core.login(rec.user_id, rec.upstream_token, operation_id, delivered=delivered)
        except TimeoutError as exc:
            raise BridgeError(504, ErrCode.NetworkTimeoutError, "upstream login timed out") from exc
        except CheckpointUnavailable as exc:
            raise checkpoint_unavailable(exc) from exc
        except SdkError as exc:
            if exc.code in TOKEN_ERRORS and not fresh:
                # The upstream token died while parked: end the session the way a
                # live core would have (the event, then sessionClosed).
                await writer.emit(handle, Event(CONN, token_error_callback(exc.code), None, operation_id))
                await self._on_token_died(handle, exc.code, operation_id)
            raise BridgeError(status_for(exc.code), exc.code, exc.detail or exc.msg, msg=exc.msg) from exc
        if self._gc is not None:
            self._gc.core_started()
        return core

    async def stop(self, core: SessionCore, how: StopHow, operation_id: str = "") -> None:
        """Park, log out or abandon a core; it is stopped whatever its checkpoint save says."""
        if self._gc is not None:
            self._gc.core_ended()
        try:
            if how == "logout":
                await core.logout(operation_id)
            elif how == "park":
                await core.park()
            else:
                await core.abandon()
        except SdkError:
            pass  # the gateway is gone: stopped all the same
        except CheckpointUnavailable as exc:
            log.warning("%s kept no checkpoint: %s", how, exc)
