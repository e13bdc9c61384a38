"""Owner leases: which node runs a session's core, and for how long (cluster mode, issue 6).

A live core holds its session's lease in the session directory and renews it
every ``lease_seconds / 3``; parking hands it back, so a parked session is
anyone's to revive. Each acquisition comes with a *fence* that only grows:
every write a core makes as owner carries it (event appends, checkpoint
saves), so an owner that stalled past its lease is refused once another node
took over. In embedded mode the same code runs on the memory directory with
one node.

This module knows leases only; what a lost lease means for a core is the
pool's business (it passes ``on_lost``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from bridge.errors import BridgeError, NotOwnerError
from bridge.eventlog import Fence
from bridge.session_handle import SessionHandle
from bridge.sessions import SessionDirectory
from core.protocol.errcodes import ErrCode

__all__ = ["LostHandler", "SessionLeases"]

log = logging.getLogger("openim.bridge.leases")

#: Called for each lease a renewal round found gone: (session id, the fence it was held under).
LostHandler = Callable[[str, int], Awaitable[None]]


class SessionLeases:
    def __init__(
        self,
        directory: SessionDirectory,
        node_id: str,
        *,
        lease_seconds: float,
        advertise_url: str = "",
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = directory
        self.node_id = node_id
        self.lease_seconds = lease_seconds
        self._advertise_url = advertise_url
        # Leases lapse on real time, whatever clock tests move for idle cores.
        self._now = monotonic
        # Sessions seen running on another node lately: session id -> (node id,
        # until). Calls for them go straight to forwarding, without a lease
        # attempt and an owner lookup each; kept a third of a lease, so a dead
        # owner's sessions are tried here again soon after its lease lapses.
        self._elsewhere: dict[str, tuple[str, float]] = {}

    def fence(self, fence: int | None) -> Fence | None:
        """The writer claim of this node under `fence` (None: unfenced)."""
        return None if fence is None else Fence(self.node_id, fence)

    # -- acquire / release -------------------------------------------------

    async def acquire(self, session_id: str) -> int:
        """Take (or extend) the lease: its fence. NotOwnerError when another node holds it."""
        node = self.seen_elsewhere(session_id)
        if node is not None:
            raise NotOwnerError(node)
        fence = await self.directory.acquire(session_id, self.node_id)
        if fence is None:
            await self.raise_if_elsewhere(session_id)
            raise BridgeError(
                503, ErrCode.ServerInternalError, "session is changing hands", headers={"Retry-After": "1"}
            )
        self._elsewhere.pop(session_id, None)
        return fence

    async def give_back(self, handle: SessionHandle) -> None:
        """Release the lease `handle` holds, if any (its core has stopped)."""
        fence, handle.fence = handle.fence, None
        await self.release(handle.session_id, fence)

    async def release(self, session_id: str, fence: int | None) -> None:
        """Hand the lease back; with Redis down it lapses by itself."""
        if fence is not None:
            with contextlib.suppress(BridgeError):
                await self.directory.release(session_id, self.node_id, fence)

    # -- where a session runs ----------------------------------------------

    def seen_elsewhere(self, session_id: str) -> str | None:
        entry = self._elsewhere.get(session_id)
        if entry is not None and self._now() < entry[1]:
            return entry[0]
        self._elsewhere.pop(session_id, None)
        return None

    async def raise_if_elsewhere(self, session_id: str) -> None:
        """NotOwnerError if another node holds the session's lease (remembered a while)."""
        node = self.seen_elsewhere(session_id)
        if node is None:
            owner = await self.directory.owner(session_id)
            if owner is None or owner[0] == self.node_id:
                return
            node = owner[0]
            self._elsewhere[session_id] = (node, self._now() + self.lease_seconds / 3)
        raise NotOwnerError(node)

    # -- keeping ---------------------------------------------------------------

    async def renew(self, owned: list[tuple[str, int]], on_lost: LostHandler) -> None:
        """One round: publish this node's URL, renew every lease it holds, report the lost ones."""
        await self.directory.register_node(self.node_id, self._advertise_url, self.lease_seconds * 2)
        for session_id in list(self._elsewhere):
            self.seen_elsewhere(session_id)  # drops what has expired
        renewed = await self.directory.renew_many(self.node_id, owned)
        for (session_id, fence), ok in zip(owned, renewed, strict=True):
            if not ok:
                await on_lost(session_id, fence)

    async def keep_forever(
        self, owned: Callable[[], list[tuple[str, int]]], on_lost: LostHandler, after: Callable[[], Awaitable[None]]
    ) -> None:
        """Renew every `lease_seconds / 3` until cancelled; `after` runs after each round."""
        while True:
            try:
                await self.renew(owned(), on_lost)
                await after()
            except BridgeError as exc:  # Redis unavailable: keep the cores, try again
                log.warning("lease renewal failed: %s", exc.detail)
            except Exception:
                log.exception("lease renewal failed")
            await asyncio.sleep(self.lease_seconds / 3)

    async def unregister(self) -> None:
        with contextlib.suppress(BridgeError):
            await self.directory.unregister_node(self.node_id)
