"""What an idle live session keeps (issue 14): shapes and counts, no timings.

- its gateway connection lets go of the handshake once open: no request (its URL
  carries the user's token), no response reader, no empty deques;
- the Python objects each more idle live session adds stay under a bound (gc-tracked
  objects after a collection, per session, for a batch of logins into one process that
  runs imserver too: the count covers both ends of each gateway connection).
"""

from __future__ import annotations

import asyncio
import collections
import gc
from pathlib import Path

from core.core import Core
from tests.support.stack import Stack, run_stack
from tests.support.wait import wait_until

# Measured 2026-12-03: 345-347 (bridge core and imserver connection together). The bound
# leaves ~25% of headroom, so a new per-session structure (a task, a queue, a model per
# session) shows up, and a few more attributes do not.
_OBJECTS_PER_SESSION = 430


async def _settled(stack: Stack, uid: str) -> None:
    def own() -> list[str]:
        return sorted(t.get_name().split(":")[0] for t in asyncio.all_tasks() if t.get_name().endswith(f":{uid}"))

    await wait_until(lambda: own() == ["gateway"], what="the dispatcher of the login's pushes to end")


async def test_an_idle_gateway_connection_keeps_no_handshake(tmp_path: Path) -> None:
    async with run_stack(tmp_path) as stack:
        (uid,) = await stack.new_users(1)
        user = await stack.login(uid)
        await _settled(stack, uid)
        core = stack.bridge.core(user.session_id)
        assert isinstance(core, Core) and core.gateway is not None
        ws = core.gateway._ws
        assert ws is not None and core.gateway.connected.is_set()
        token = core.gateway.token
        # Nothing of the handshake is kept: no request (its URL has the token), no response, no reader of it.
        kept = {name: getattr(ws, name) for name in type(ws).__slots__}
        assert kept["_request"] is None and kept["_hs"] is None and kept["_opened"] is None
        assert token not in repr(kept)
        assert not [name for name, v in kept.items() if isinstance(v, collections.deque)]
        assert core._inbox.empty() and not isinstance(core._inbox._items, collections.deque)
        assert not isinstance(core.gateway.connected._waiters, collections.deque)  # never waited on
        # ... and still works: a call over the gateway, and a ping answered (its pong is a read).
        r = await user.post("/v1/conversation/get_total_unread_msg_count")
        assert r.status_code == 200, r.text
        stale = ws.read_at = ws.read_at - 1.0  # moved on by the pong (any read); not past the deadline
        ws.write_ping()
        await wait_until(lambda: ws.read_at > stale, what="the pong")


async def test_idle_sessions_add_a_bounded_number_of_objects(tmp_path: Path) -> None:
    async with run_stack(tmp_path) as stack:
        uids = await stack.new_users(13)
        await stack.login(uids[0])  # first-use allocations (caches, imports) not counted
        await _settled(stack, uids[0])
        gc.collect()
        before = len(gc.get_objects())
        for uid in uids[1:]:
            await stack.login(uid)
        for uid in uids[1:]:
            await _settled(stack, uid)
        gc.collect()
        per_session = (len(gc.get_objects()) - before) / len(uids[1:])
        print(f"gc-tracked objects per idle live session (both ends): {per_session:.0f}")
        assert per_session <= _OBJECTS_PER_SESSION
