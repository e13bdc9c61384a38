"""Dropping a core that no longer speaks for its session: its lease moved, or its events cannot be logged.

Such a core is silenced at once (no later event write, no checkpoint save) and
stopped soon after without a word to the server or the client: its last
checkpoint and the log's delivery marks are where the next owner (another
node, or this one on the next call) starts, so nothing is lost or repeated.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from bridge.core_factory import SessionCore
from bridge.core_runner import CoreRunner
from bridge.logs import session_fields
from bridge.session_handle import SessionHandle

__all__ = ["CoreDropper"]

log = logging.getLogger("openim.bridge.pool")


class CoreDropper:
    def __init__(
        self,
        handles: dict[str, SessionHandle],
        runner: CoreRunner,
        *,
        forget: Callable[[SessionHandle], None],
        spawn: Callable[[Coroutine[Any, Any, Any]], None],
    ) -> None:
        self._handles = handles  # the pool's own table, shared
        self._runner = runner
        self._forget = forget
        self._spawn = spawn
        self.dropped_total = 0

    def owned(self) -> list[tuple[str, int]]:
        """(session id, fence) of every lease this node holds: what to renew.

        A core still logging in holds its lease too (a login can take longer
        than a lease), so it is renewed as well.
        """
        return [(h.session_id, h.fence) for h in self._handles.values() if h.fence is not None]

    async def lease_gone(self, session_id: str, fence: int) -> None:
        handle = self._handles.get(session_id)
        if handle is None or handle.fence != fence:
            return
        if handle.core is None:
            handle.fence = None  # still starting: the pool drops the core when it is up (pool.py)
        else:
            self.drop_soon(handle, fence, "lost its lease")

    def drop_soon(self, handle: SessionHandle, fence: int | None, why: str) -> None:
        """Silence the core under `fence` now; stop it soon.

        Synchronous, because it runs inside the core's own dispatch (the event
        writer calls it before the core's next write).
        """
        core = handle.core
        if core is None or handle.fence != fence:
            return
        handle.fence = None  # every later write of this core is dropped (event_writer.py)
        core.hold_checkpoints()
        self._spawn(self._drop(handle, core, why))

    async def _drop(self, handle: SessionHandle, core: SessionCore, why: str) -> None:
        async with handle.lock:
            if handle.core is not core:
                return
            handle.core = None
            await self._runner.stop(core, "abandon")
        self.dropped_total += 1
        self._forget(handle)
        log.warning(
            "dropped the core of session=%s user=%s: it %s",
            handle.session_id[:8],
            handle.record.user_id,
            why,
            extra=session_fields(handle),
        )
