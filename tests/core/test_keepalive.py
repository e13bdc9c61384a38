"""One keep-alive ticker for every gateway connection (core/transport/keepalive.py, issue 14).

As openim-sdk-core v3.8.3 internal/interaction/long_conn_mgr.go: the client pings
every pingPeriod with an operationID payload and drops a connection from which
nothing was read for pongWait; the server only answers. The wheel is checked
with recording connections; the pings and the deadline against a real WebSocket
peer on loopback (the scripted gateway of test_gateway_client.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from websockets.asyncio.server import ServerConnection, serve
from websockets.frames import Frame, Opcode

from core.transport.gateway import GatewayClient
from core.transport.keepalive import Keepalive
from tests.core.test_gateway_client import Listener, options
from tests.support.wait import wait_until


@dataclass(eq=False)
class Recording:
    name: str
    log: list[str] = field(default_factory=list)

    async def keepalive_ping(self, now: float) -> None:
        self.log.append(f"ping {self.name}")

    def keepalive_check(self, now: float) -> None:
        self.log.append(f"check {self.name}")


async def test_each_connection_is_pinged_once_a_period_and_checked_after_the_pong_wait() -> None:
    ka = Keepalive(ping_interval=4.0, pong_wait=6.0, tick=1.0)
    log: list[str] = []
    a = Recording("a", log)
    ka.add(a)  # tick 0
    await ka.run_tick(0.0)
    b = Recording("b", log)
    ka.add(b)  # tick 1
    for k in range(2, 11):
        await ka.run_tick(float(k))
        log.append(f"-- {k}")
    # a: pinged at 4 and 8 (a period after it was added), its deadline checked 2 ticks
    # (pong_wait - ping_interval) after each ping; b the same one tick later. Nothing else.
    assert log == [
        *("check a", "-- 2", "check b", "-- 3"),
        *("ping a", "-- 4", "ping b", "-- 5", "check a", "-- 6", "check b", "-- 7"),
        *("ping a", "-- 8", "ping b", "-- 9", "check a", "-- 10"),
    ]
    ka.remove(a)
    ka.remove(b)
    assert len(ka) == 0


class CountingConnection(ServerConnection):
    """A gateway peer that records the pings it receives (websockets answers them)."""

    pings: list[bytes]

    def process_event(self, event: object) -> None:
        if isinstance(event, Frame) and event.opcode is Opcode.PING:
            type(self).pings.append(bytes(event.data))
        super().process_event(event)  # type: ignore[arg-type]


@asynccontextmanager
async def peer(answer: bool) -> AsyncIterator[tuple[str, list[bytes], list[ServerConnection]]]:
    """A gateway that holds connections open; with answer=False it stops reading after the handshake."""
    pings: list[bytes] = []
    conns: list[ServerConnection] = []
    counting = type("Counting", (CountingConnection,), {"pings": pings})

    async def hold(ws: ServerConnection) -> None:
        conns.append(ws)
        if not answer:
            ws.transport.pause_reading()  # no pong, nothing read: the client's deadline expires
        await ws.wait_closed()

    async with serve(hold, "127.0.0.1", 0, compression=None, ping_interval=None, create_connection=counting) as srv:
        yield f"ws://127.0.0.1:{srv.sockets[0].getsockname()[1]}", pings, conns


async def test_the_shared_ticker_pings_and_the_pongs_keep_the_connection() -> None:
    # A pong wait 10 periods long: a loaded machine may hold a pong 150 ms (a flake seen once).
    ka = Keepalive(ping_interval=0.05, pong_wait=0.5, tick=0.05)
    ka.start()
    listener = Listener()
    async with peer(answer=True) as (url, pings, conns):
        gw = GatewayClient(url, "alice", "tok", 5, listener, options(keepalive=ka))
        try:
            await gw.start("op-start")
            assert gw._ws is not None and gw._own_timer is None  # no task or timer of its own
            await wait_until(lambda: len(pings) >= 30, what="thirty pings from the ticker (three pong waits)")
            assert len(conns) == 1, "the pongs kept the one connection alive past many deadlines"
            assert len(set(pings)) == len(pings) and all(len(p) == 16 for p in pings), "a fresh id each"
            # Written as raw frames: no pong future waits per ping (issue 14).
            assert gw._ws is not None and gw._ws._done is None and gw._ws._drain is None
            assert len(ka) == 1
        finally:
            await gw.close()
            await ka.aclose()
    assert len(ka) == 0


async def test_a_connection_with_nothing_read_for_the_pong_wait_is_dropped_and_redialled() -> None:
    ka = Keepalive(ping_interval=0.05, pong_wait=0.15, tick=0.05)
    ka.start()
    listener = Listener()
    async with peer(answer=False) as (url, _, conns):
        gw = GatewayClient(url, "alice", "tok", 5, listener, options(keepalive=ka))
        try:
            await gw.start("op-start")
            await wait_until(lambda: len(conns) >= 2, what="a redial after the deadline")
            assert listener.calls[:3] == ["connecting", "connected first=True", "connecting"]
        finally:
            await gw.close()
            await ka.aclose()
