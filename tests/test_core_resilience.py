"""A core against the real imserver: bounded inbox, skipped pushes, supervised loops (issue 10).

Faults come in through the core's own sink (what the bridge passes it): a sink
that blocks stalls the dispatcher, one that raises makes the loop that called
it fail, exactly as a broken event log would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from core.core import Core, CoreConfig
from core.errors import SdkError
from core.events import Event
from core.protocol.constants import LoginStatus
from core.protocol.errcodes import ErrCode
from core.supervise import RestartPolicy
from core.transport.gateway import GatewayOptions
from tests.support.clock import wait_until
from tests.support.stack import BridgeUser, Stack

Hook = Callable[[Event], Awaitable[None]]


class Recorder:
    """The core's sink: records events; `hook` may block or raise before one is recorded."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.hook: Hook | None = None
        self.ended: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def sink(self, ev: Event) -> None:
        if self.hook is not None:
            await self.hook(ev)
        self.events.append(ev)

    async def on_end(self, code: int) -> None:
        if not self.ended.done():
            self.ended.set_result(code)

    def named(self, callback: str) -> list[Event]:
        return [e for e in self.events if e.callback == callback]

    def texts(self) -> list[str]:
        return [e.data["textElem"]["content"] for e in self.named("OnRecvNewMessage")]


@asynccontextmanager
async def live_core(stack: Stack, user_id: str, rec: Recorder, **config: Any) -> AsyncIterator[Core]:
    core = Core(CoreConfig(stack.api_url, stack.ws_url, 5, **config), http=stack.http, sink=rec.sink, on_end=rec.on_end)
    await core.login(user_id, await stack.token(user_id), "op-login")
    try:
        yield core
    finally:
        await core.logout("op-logout")


async def send_text(u: BridgeUser, to: str, text: str) -> None:
    msg = await u.call("/v1/message/create_text_message", {"text": text})
    await u.call("/v1/message/send_message", {"message": msg, "recvID": to})


def _fast(restarts: int = 5) -> GatewayOptions:
    return GatewayOptions(backoff=(0.05,), restart_policy=RestartPolicy(restarts=restarts))


async def test_full_inbox_drops_pushes_then_recovers_them_by_seq(stack: Stack) -> None:
    a_id, b_id = await stack.new_users(2)
    a = await stack.login(a_id)
    rec = Recorder()
    gate = asyncio.Event()

    async def stall(ev: Event) -> None:
        if ev.callback == "OnRecvNewMessage":
            await gate.wait()  # a slow consumer: the dispatcher stops here

    rec.hook = stall
    n = 12
    async with live_core(stack, b_id, rec, inbox_size=3) as core:
        for i in range(n):
            await send_text(a, b_id, f"m{i}")
        await wait_until(lambda: core.stats.pushed == n, what="every push reached the core")
        # The dispatcher holds the first batch (1 to 3 pushes), three wait, the rest were dropped.
        assert core._inbox.full() and n - 6 <= core.stats.inbox_dropped <= n - 4
        assert core.stats.overflow_resyncs == 0
        gate.set()
        await wait_until(lambda: len(rec.named("OnRecvNewMessage")) >= n, what="every message delivered")
        assert rec.texts() == [f"m{i}" for i in range(n)], "recovered in order, each once"
        assert core.stats.overflow_resyncs == 1 and core.dead_tasks() == []
        assert [e.data for e in rec.named("OnSyncServerFinish")][-1] is False


async def test_a_push_whose_handling_fails_is_skipped_and_the_next_one_delivered(stack: Stack) -> None:
    a_id, b_id = await stack.new_users(2)
    a = await stack.login(a_id)
    rec = Recorder()

    async def boom(ev: Event) -> None:
        if ev.callback == "OnRecvNewMessage" and ev.data["textElem"]["content"] == "boom":
            raise RuntimeError("event log broke")

    rec.hook = boom
    async with live_core(stack, b_id, rec) as core:
        await send_text(a, b_id, "boom")
        await send_text(a, b_id, "after")
        await wait_until(lambda: rec.texts() == ["after"], what="the next message")
        assert core.stats.failed_pushes == 1 and core.dead_tasks() == []


async def test_a_crashed_gateway_loop_is_restarted(stack: Stack) -> None:
    a_id, b_id = await stack.new_users(2)
    a = await stack.login(a_id)
    rec = Recorder()
    armed = False

    async def fail_once(ev: Event) -> None:
        nonlocal armed
        if ev.callback == "OnConnecting" and armed:
            armed = False
            raise RuntimeError("listener broke")

    rec.hook = fail_once
    async with live_core(stack, b_id, rec, gateway=_fast()) as core:
        before = len(rec.named("OnConnectSuccess"))
        armed = True
        assert core.gateway is not None
        await core.gateway.drop_connection()
        await wait_until(lambda: len(rec.named("OnConnectSuccess")) > before, what="reconnected")
        failed = rec.named("OnConnectFailed")
        assert [e.data["errCode"] for e in failed] == [ErrCode.SdkInternalError]
        assert core.stats.task_crashes == 1 and core.dead_tasks() == []
        await send_text(a, b_id, "still here")
        await wait_until(lambda: rec.texts() == ["still here"], what="delivery after the restart")


async def test_a_loop_that_keeps_crashing_ends_the_core_with_an_event(stack: Stack) -> None:
    (b_id,) = await stack.new_users(1)
    rec = Recorder()
    armed = False

    async def always(ev: Event) -> None:
        if ev.callback == "OnConnecting" and armed:
            raise RuntimeError("listener broke for good")

    rec.hook = always
    async with live_core(stack, b_id, rec, gateway=_fast(restarts=2)) as core:
        armed = True
        assert core.gateway is not None
        await core.gateway.drop_connection()
        assert await asyncio.wait_for(rec.ended, 10) == ErrCode.SdkInternalError
        assert rec.events[-1].callback == "OnConnectFailed"
        assert rec.events[-1].data == {"errCode": 10006, "errMsg": "core task failed: RuntimeError"}
        assert core.status == LoginStatus.LOGOUT
        assert core.stats.task_crashes == 3, "two restarts, then it gave up"
        await core.park()  # no dead task's exception, no wait


async def test_a_loop_crash_during_login_fails_the_login(stack: Stack) -> None:
    (b_id,) = await stack.new_users(1)
    rec = Recorder()

    async def broken(ev: Event) -> None:
        if ev.callback == "OnConnecting":
            raise RuntimeError("listener broke")

    rec.hook = broken
    core = Core(CoreConfig(stack.api_url, stack.ws_url, 5), http=stack.http, sink=rec.sink, on_end=rec.on_end)
    with pytest.raises(SdkError) as err:
        await asyncio.wait_for(core.login(b_id, await stack.token(b_id), "op-login"), 10)
    assert err.value.code == ErrCode.SdkInternalError and core.status == LoginStatus.LOGOUT
    rec.hook = None
    await core.login(b_id, await stack.token(b_id), "op-login-2")  # and a later login works
    assert core.dead_tasks() == []
    await core.logout("op")


async def test_a_batch_sink_gets_a_pushes_events_in_one_call_with_their_marks(stack: Stack) -> None:
    """With a batch sink (the bridge's event writer), a dispatcher batch is one call:
    its events in order, the message's mark on OnRecvNewMessage (issue 14)."""
    a_id, b_id = await stack.new_users(2)
    a = await stack.login(a_id)
    rec = Recorder()
    calls: list[tuple[list[Event], tuple[tuple[str, int], ...]]] = []

    async def batch(events: Any, marks: tuple[tuple[str, int], ...]) -> None:
        calls.append((list(events), marks))

    config = CoreConfig(stack.api_url, stack.ws_url, 5)
    core = Core(config, http=stack.http, sink=rec.sink, on_end=rec.on_end, batch_sink=batch)
    await core.login(b_id, await stack.token(b_id), "op-login")
    try:
        await send_text(a, b_id, "first")  # a new conversation: OnNewConversation too
        await wait_until(lambda: any(e.callback == "OnRecvNewMessage" for es, _ in calls for e in es), what="first")
        del calls[:], rec.events[:]
        await send_text(a, b_id, "second")
        await wait_until(lambda: bool(calls), what="the second message's batch")
        ((events, marks),) = calls
        names = [e.callback for e in events]
        assert names == ["OnRecvNewMessage", "OnConversationChanged", "OnTotalUnreadMessageCountChanged"]
        assert events[0].data["textElem"]["content"] == "second" and marks == ()
        conv_id = f"si_{min(a_id, b_id)}_{max(a_id, b_id)}"
        assert events[0].marks == ((conv_id, events[0].data["seq"]),)
        assert not rec.events, "none of them one by one"
    finally:
        await core.logout("op-logout")
