"""One ticker keeps every gateway connection of the process alive: no keep-alive task or timer per session.

What it does is what openim-sdk-core v3.8.3 does per connection
(internal/interaction/long_conn_mgr.go): the client pings every `pingPeriod`
(24 s, 8/10 of `pongWait`) with the operationID as payload, and gives the
connection up when nothing (a frame or a pong) was read for `pongWait` (30 s, its
read deadline). The server never pings a non-web client (internal/msggateway
client.go activeHeartbeat is for WebPlatformID only) and only answers our pings,
so one direction is all a connection needs.

Connections sit in a wheel of one-second slots by the second they connected in:
each tick pings the slot whose period is up and checks the deadline of the slot
pinged `pongWait - pingPeriod` seconds before, so a tick touches 2/24 of the
connections, never all of them, and a dead one is dropped at most 18 s past its
deadline. The ticker never awaits a socket: a ping goes out only when the
connection is open with nothing queued to write (a peer that stopped reading gets
no ping and reaches its deadline), and a connection past its deadline is aborted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Protocol

__all__ = ["Keepalive", "Pinged", "tick_forever"]

log = logging.getLogger("openim.core.keepalive")


class Pinged(Protocol):
    async def keepalive_ping(self, now: float) -> None:
        """Ping now without waiting on the socket (one past its deadline is dropped instead)."""
        ...

    def keepalive_check(self, now: float) -> None:
        """Drop the connection if nothing was read for the deadline."""
        ...


class Keepalive:
    def __init__(self, ping_interval: float = 24.0, pong_wait: float = 30.0, tick: float = 1.0) -> None:
        if tick <= 0 or ping_interval < tick:
            raise ValueError(f"need 0 < tick <= ping_interval, got tick={tick} ping_interval={ping_interval}")
        self.ping_interval = ping_interval
        self.pong_wait = pong_wait
        self.tick = tick
        self._slots: list[set[Pinged]] = [set() for _ in range(max(1, round(ping_interval / tick)))]
        self._check_lag = max(0, math.ceil((pong_wait - ping_interval) / tick))
        self._where: dict[Pinged, int] = {}
        self._k = 0
        self._task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._where)

    def add(self, conn: Pinged) -> None:
        """Ping `conn` every ping_interval from now on (its first ping one period from now, as the SDK's ticker)."""
        self.remove(conn)
        slot = self._k % len(self._slots)
        self._slots[slot].add(conn)
        self._where[conn] = slot

    def remove(self, conn: Pinged) -> None:
        slot = self._where.pop(conn, None)
        if slot is not None:
            self._slots[slot].discard(conn)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="gateway-keepalive")

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run_tick(self, now: float) -> None:
        """One tick: ping the slot whose period is up, check the deadline of the one pinged before."""
        self._k += 1
        n = len(self._slots)
        for conn in list(self._slots[self._k % n]):
            try:
                await conn.keepalive_ping(now)
            except Exception:  # one broken connection must not stop the others' keep-alive
                log.exception("keep-alive ping failed")
        if self._check_lag:
            for conn in list(self._slots[(self._k - self._check_lag) % n]):
                try:
                    conn.keepalive_check(now)
                except Exception:
                    log.exception("keep-alive check failed")

    async def _run(self) -> None:
        await tick_forever(self.tick, self.run_tick)


async def tick_forever(tick: float, run_tick: Callable[[float], Awaitable[None]]) -> None:
    """Call `run_tick(now)` every `tick` s on the loop's clock, without drift; a late wake-up
    (a busy loop) runs the ticks it missed, so no slot of a wheel is skipped."""
    loop = asyncio.get_running_loop()
    due = loop.time()
    while True:
        due += tick
        await asyncio.sleep(max(0.0, due - loop.time()))
        now = loop.time()
        while due <= now:
            await run_tick(now)
            due += tick
        due -= tick
