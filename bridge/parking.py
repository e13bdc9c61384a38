"""Parking: idle cores disconnect and keep their checkpoint; the live-core cap (DESIGN.md "Sessions").

A core is idle when nobody uses it (no call, no open stream, its lock free).
The sweeper parks cores idle past `idle_park_seconds`; past `max_live_cores`
the least recently used idle core is parked to make room, and when none can
be, the caller gets 503 with Retry-After. A parked core hands its lease back,
so any node may revive it.
"""

from __future__ import annotations

import asyncio
import logging

from bridge.core_runner import CoreRunner
from bridge.errors import BridgeError
from bridge.leases import SessionLeases
from bridge.logs import session_fields
from bridge.session_handle import SessionHandle
from bridge.settings import BridgeSettings
from core.protocol.errcodes import ErrCode

__all__ = ["Parking"]

log = logging.getLogger("openim.bridge.pool")


class Parking:
    def __init__(
        self, handles: dict[str, SessionHandle], runner: CoreRunner, leases: SessionLeases, settings: BridgeSettings
    ) -> None:
        self._handles = handles  # the pool's own table, shared
        self._runner = runner
        self._leases = leases
        self._settings = settings
        self.parked_total = 0
        self._next_due = 0.0  # no session may be due to park before this (sweep)

    @property
    def live_cores(self) -> int:
        return sum(1 for h in self._handles.values() if h.core is not None)

    async def sweep(self) -> int:
        """Park every core idle past the limit; returns how many were parked.

        Walks the sessions only once the earliest of them may be due: every 5 s it was
        a pass over every live session, parking none (issue 14). `last_used` only moves
        forward, and whatever keeps a session busy (a call, a stream, its webhook) sets
        it when it ends, so the earliest due time seen in a pass stays a lower bound."""
        now = self._settings.clock()
        if now < self._next_due:
            return 0
        limit = self._settings.idle_park_seconds
        parked, next_due = 0, now + limit
        for handle in list(self._handles.values()):
            if handle.core is None or handle.streams or handle.busy or handle.hooked:
                continue
            due = handle.last_used + limit
            if handle.idle:
                if now >= due:
                    parked += await self.park(handle)
                    continue
            else:  # only its lock is held (a revival, a token switch): look again next sweep
                due = max(due, now + self._settings.sweep_interval)
            next_due = min(next_due, due)
        self._next_due = next_due
        return parked

    async def sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._settings.sweep_interval)
            try:
                await self.sweep()
            except Exception:
                log.exception("sweep failed")

    async def park(self, handle: SessionHandle) -> int:
        """Park one core unless it is in use: 1 if parked."""
        async with handle.lock:
            if handle.core is None or handle.streams or handle.busy:
                return 0
            core, handle.core = handle.core, None
            try:
                await self._runner.stop(core, "park")
            finally:
                await self._leases.give_back(handle)
        self.parked_total += 1
        log.info(
            "parked session=%s user=%s", handle.session_id[:8], handle.record.user_id, extra=session_fields(handle)
        )
        return 1

    async def park_all(self) -> None:
        """Park every live core, in use or not (drain, shutdown): checkpoints saved, leases handed back."""
        for handle in list(self._handles.values()):
            async with handle.lock:
                if handle.core is not None:
                    core, handle.core = handle.core, None
                    await self._runner.stop(core, "park")
                await self._leases.give_back(handle)

    async def make_room(self, reviving: SessionHandle) -> None:
        """Below the cap before `reviving` starts: park the least recently used idle core, or 503."""
        if len(self._handles) < self._settings.max_live_cores:
            return  # live cores are at most the handles: below the cap without counting them (O(N) per login)
        while self.live_cores >= self._settings.max_live_cores:
            idle = [h for h in self._handles.values() if h is not reviving and h.idle]
            if not idle:
                raise BridgeError(
                    503,
                    ErrCode.ConnOverMaxNumLimit,
                    f"all {self._settings.max_live_cores} live cores are busy",
                    headers={"Retry-After": "5"},
                )
            await self.park(min(idle, key=lambda h: h.last_used))
