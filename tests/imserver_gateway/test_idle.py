"""Connections at rest cost no timer each: one ticker keeps every read deadline and Web ping
(imserver/gateway/ticker.py; issue 14). Structural, not timed."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect

from imserver.settings import ImServerSettings
from tests.imserver_gateway.harness import Env, gateway_env


def _live_timers() -> int:
    loop = asyncio.get_running_loop()
    scheduled = getattr(loop, "_scheduled", None)  # asyncio's own loop; the tests run on it
    assert scheduled is not None, "needs asyncio's event loop"
    return sum(1 for h in scheduled if not h.cancelled())


async def _open(env: Env, stack: contextlib.AsyncExitStack, user: str) -> ClientConnection:
    # No client keepalive: only the server's timers are counted.
    ws = await stack.enter_async_context(connect(env.query(user, 5), compression=None, ping_interval=None))
    await ws.send('{"type":"ping"}')
    assert await asyncio.wait_for(ws.recv(), 10) == '{"type":"pong","body":null}'  # registered and read
    return ws


async def test_idle_web_connections_hold_no_timer_or_task_of_their_own(tmp_path: Path) -> None:
    async with gateway_env(tmp_path, ImServerSettings(data_dir=tmp_path)) as env, contextlib.AsyncExitStack() as stack:
        await _open(env, stack, "u0")
        timers, tasks = _live_timers(), len(asyncio.all_tasks())
        for i in range(1, 21):
            await _open(env, stack, f"u{i}")
        assert _live_timers() == timers  # was a read-deadline timer per connection, and a ping timer per Web one
        # Per connection: websockets' handler and the write-queue drainer; no keepalive task.
        assert len(asyncio.all_tasks()) - tasks == 2 * 20
        assert all(c.ws.keepalive_task is None for i in range(21) for c in env.hub.connections(f"u{i}"))
        assert len(env.server.ticker) == 21
