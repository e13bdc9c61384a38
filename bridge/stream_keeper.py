"""Sessions with an open stream on this node (SSE, waiting long-poll, oimws socket).

A client that only listens must still get its events: a parked or orphaned session
with a stream here but no owner anywhere is revived by the lease round. The round
walks only these handles, not every one the node holds (issue 14).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from bridge.drain import Drain
from bridge.errors import BridgeError
from bridge.logs import session_fields
from bridge.session_handle import SessionHandle
from core.errors import SdkError

__all__ = ["StreamKeeper"]

log = logging.getLogger("openim.bridge.pool")


class StreamKeeper:
    def __init__(
        self,
        handles: dict[str, SessionHandle],
        ensure_running: Callable[[SessionHandle, str], Awaitable[None]],
        drain: Drain,
        spawn: Callable[[Coroutine[Any, Any, Any]], None],
        clock: Callable[[], float],
        max_streams: int,
    ) -> None:
        self._handles = handles
        self._ensure_running = ensure_running
        self._drain = drain
        self._spawn = spawn
        self._clock = clock
        self._max_streams = max_streams
        self.listened: set[SessionHandle] = set()

    def opened(self, handle: SessionHandle) -> None:
        """Count a listener: 429 past the per-session cap."""
        handle.open_stream(self._max_streams, self._clock())
        self.listened.add(handle)

    def closed(self, handle: SessionHandle) -> None:
        handle.close_stream(self._clock())
        if not handle.streams:
            self.listened.discard(handle)

    async def revive_listened(self) -> None:
        """Revive sessions that have an open stream here but no owner anywhere."""
        for handle in list(self.listened):
            if self._handles.get(handle.session_id) is not handle:
                continue  # no longer this node's handle of its session
            if handle.core is None and handle.streams and not handle.closed and not self._drain.draining:
                self._spawn(self._keep_running(handle))

    async def _keep_running(self, handle: SessionHandle) -> None:
        try:
            await self._ensure_running(handle, "stream-keeper")
        except (BridgeError, SdkError) as exc:  # retried next round; a dead token ends the session
            log.info(
                "could not revive session=%s for its stream: %s",
                handle.session_id[:8],
                exc,
                extra=session_fields(handle),
            )
