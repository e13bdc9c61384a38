"""One ticker keeps every gateway connection's read deadline and Web pings: no task or timer per connection.

What it keeps is what open-im-server v3.8.3 keeps per connection
(internal/msggateway/client.go): a read deadline of `pongWait` (ws_read_timeout),
moved by every frame read, pings and pongs included (readMessage, pingHandler,
pongHandler), and for Web clients only a ping every `pingPeriod`
(ws_ping_interval; activeHeartbeat, a nil payload). It was a websockets keepalive
task per Web connection and an `asyncio.timeout` re-armed by a cancellation on
every read, which an idle connection paid every 30 s (issue 14).

Two wheels of `tick`-long slots, one task:

- deadlines: a connection sits in the slot of the tick its deadline falls in; the
  tick that reaches it aborts it if nothing was read since, or moves it to the
  slot of its new deadline. Each connection is looked at about once per deadline,
  a dead one is dropped at most one tick late.
- pings: a Web connection sits in the slot of the tick it connected in and is
  pinged every time the wheel comes round to it. A ping goes out without waiting
  on the socket, and only while nothing is waiting to be written: a client that
  stopped reading gets no ping and reaches its deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from typing import Protocol

from core.transport.keepalive import tick_forever

__all__ = ["GatewayTicker", "Ticked"]

log = logging.getLogger(__name__)

# Do not ping a connection whose socket still holds more than this to write.
_PING_BACKLOG = 64 * 1024


class Ticked(Protocol):
    last_rx: float  # loop time of the last frame read, of any kind

    def deadline_passed(self) -> None:
        """Nothing was read for the deadline: drop the connection."""
        ...

    def send_ping(self, backlog: int) -> None:
        """One ping frame now, unless more than `backlog` bytes wait to be written."""
        ...


class GatewayTicker:
    def __init__(self, read_timeout: float, ping_interval: float, tick: float = 1.0) -> None:
        # Tests use sub-second deadlines: a tick is at most a tenth of either period.
        self.tick = min(tick, read_timeout / 10, ping_interval / 10)
        self.read_timeout = read_timeout
        self._reach = math.ceil(read_timeout / self.tick)  # ticks from a read to its deadline
        self._deadlines: list[set[Ticked]] = [set() for _ in range(self._reach + 2)]
        self._pings: list[set[Ticked]] = [set() for _ in range(max(1, round(ping_interval / self.tick)))]
        self._where: dict[Ticked, tuple[int, int | None]] = {}
        self._k = 0
        self._task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._where)

    def add(self, conn: Ticked, ping: bool) -> None:
        """Keep `conn`'s deadline from now on, and ping it every period if `ping` (Web)."""
        self.remove(conn)
        d = (self._k + self._reach) % len(self._deadlines)
        self._deadlines[d].add(conn)
        p = None
        if ping:
            p = self._k % len(self._pings)
            self._pings[p].add(conn)
        self._where[conn] = (d, p)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="gateway-ticker")

    def remove(self, conn: Ticked) -> None:
        where = self._where.pop(conn, None)
        if where is not None:
            self._deadlines[where[0]].discard(conn)
            if where[1] is not None:
                self._pings[where[1]].discard(conn)

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def run_tick(self, now: float) -> None:
        """One tick: the deadlines that fall in it, then the pings whose period is up."""
        self._k += 1
        n = len(self._deadlines)
        due = self._deadlines[self._k % n]
        for conn in list(due):
            left = conn.last_rx + self.read_timeout - now
            if left <= 0:
                self.remove(conn)
                try:
                    conn.deadline_passed()
                except Exception:  # one broken connection must not stop the others' deadlines
                    log.exception("read deadline of %r failed", conn)
                continue
            d = (self._k + min(max(1, math.ceil(left / self.tick)), self._reach)) % n
            due.discard(conn)
            self._deadlines[d].add(conn)
            self._where[conn] = (d, self._where[conn][1])
        for conn in list(self._pings[self._k % len(self._pings)]):
            try:
                conn.send_ping(_PING_BACKLOG)
            except Exception:
                log.exception("ping of %r failed", conn)

    async def _run(self) -> None:
        async def tick(now: float) -> None:
            self.run_tick(now)

        await tick_forever(self.tick, tick)  # the same drift-free clock as the SDK side's ticker
