"""SessionPool on the memory backends with fake cores: revive, park, cap, end, drain, lost leases.

No OpenIM server: the pool gets a core factory whose cores only record what
is done to them, so each rule of the pool is pinned down on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import BaseModel

from bridge.errors import BridgeError, NotOwnerError
from bridge.eventlog import MemoryEventLog
from bridge.leases import SessionLeases
from bridge.pool import SessionPool
from bridge.session_handle import SessionHandle, SessionState
from bridge.sessions import MemorySessionDirectory, SessionId, SessionRecord
from bridge.settings import BridgeSettings
from core.core import EndHandler
from core.errors import CheckpointUnavailable, SdkError
from core.events import CONN, BatchSink, Event, EventSink
from core.protocol.errcodes import ErrCode
from core.registry import SdkFunction
from tests.support.clock import MovableClock
from tests.support.wait import eventually, wait_until


@dataclass
class FakeCore:
    record: SessionRecord
    sink: EventSink
    batch_sink: BatchSink
    on_end: EndHandler
    fence: int | None = None
    done: list[str] = field(default_factory=list)
    login_error: BaseException | None = None
    delivered: dict[str, int] | None = None
    held: bool = False
    before_login: Callable[[], Awaitable[None]] | None = None

    async def login(
        self, user_id: str, token: str, operation_id: str, *, delivered: dict[str, int] | None = None
    ) -> None:
        self.done.append(f"login:{token}")
        self.delivered = delivered
        if self.before_login is not None:
            await self.before_login()
        if self.login_error is not None:
            raise self.login_error
        await self.sink(Event(CONN, "OnConnectSuccess", None, operation_id))

    async def logout(self, operation_id: str) -> None:
        self.done.append("logout")

    async def park(self) -> None:
        self.done.append("park")

    async def abandon(self) -> None:
        self.done.append("abandon")

    def hold_checkpoints(self) -> None:
        self.held = True

    async def call(self, fn: SdkFunction, params: BaseModel, operation_id: str) -> object:
        return None


@dataclass
class Rig:
    pool: SessionPool
    directory: MemorySessionDirectory
    events: MemoryEventLog
    clock: MovableClock
    cores: list[FakeCore]
    fail_next_login: list[BaseException] = field(default_factory=list)
    before_login: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def new(self, user: str = "u1", token: str = "t1") -> SessionHandle:
        record = SessionRecord(SessionId(f"s-{user}"), user, 5, token, self.clock())
        handle = await self.pool.start_new(record, "op")
        await self.directory.create(record, f"hash-{user}")
        return handle

    async def callbacks(self, handle: SessionHandle) -> list[str]:
        return [e.event for e in (await self.events.read_after(handle.session_id, 0)).events]


@contextlib.asynccontextmanager
async def _rig(**overrides: Any) -> AsyncIterator[Rig]:
    clock = MovableClock(wall=False)
    base = BridgeSettings(upstream_api="http://x", upstream_ws="ws://x", clock=clock, node_id="n1")
    settings = dataclasses.replace(base, **overrides)
    directory = MemorySessionDirectory(clock=clock, lease_seconds=30.0)
    events = MemoryEventLog(clock=clock)
    cores: list[FakeCore] = []
    failures: list[BaseException] = []
    hooks: list[Callable[[], Awaitable[None]]] = []

    def factory(record: SessionRecord, sink: EventSink, batch: BatchSink, on_end: EndHandler) -> FakeCore:
        core = FakeCore(record, sink, batch, on_end, login_error=failures.pop(0) if failures else None)
        core.before_login = hooks.pop(0) if hooks else None
        cores.append(core)
        return core

    leases = SessionLeases(directory, "n1", lease_seconds=30.0)
    pool = SessionPool(settings, directory=directory, events=events, leases=leases, core_factory=factory)
    try:
        yield Rig(pool, directory, events, clock, cores, failures, hooks)
    finally:
        await pool.aclose()


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with _rig() as r:
        yield r


async def test_a_new_session_runs_its_core_under_a_lease(rig: Rig) -> None:
    handle = await rig.new()
    assert handle.state is SessionState.LIVE and rig.cores[0].done == ["login:t1"]
    owner = await rig.directory.owner(handle.session_id)
    assert owner == ("n1", handle.fence) and rig.cores[0].fence == handle.fence
    assert await rig.callbacks(handle) == ["OnConnectSuccess"]


async def test_idle_cores_park_and_revive_after_what_was_delivered(rig: Rig) -> None:
    handle = await rig.new()
    await rig.events.mark(handle.session_id, [("si_a_b", 7)])
    assert await rig.pool.sweep() == 0  # not idle long enough
    rig.clock.advance(rig.pool._settings.idle_park_seconds)
    assert await rig.pool.sweep() == 1
    assert handle.state is SessionState.PARKED and rig.cores[0].done[-1] == "park"
    assert await rig.directory.owner(handle.session_id) is None  # the lease is handed back
    async with rig.pool.use(handle, "op2") as core:
        assert core is rig.cores[1]
    assert rig.cores[1].delivered == {"si_a_b": 7}
    assert rig.pool.revived_total == 1


async def test_a_session_with_a_stream_or_a_call_is_not_parked(rig: Rig) -> None:
    handle = await rig.new()
    rig.clock.advance(10_000)
    rig.pool.stream_opened(handle)
    assert await rig.pool.sweep() == 0
    rig.pool.stream_closed(handle)
    rig.clock.advance(10_000)
    async with rig.pool.use(handle, "op"):
        assert await rig.pool.sweep() == 0
    rig.clock.advance(10_000)
    assert await rig.pool.sweep() == 1


async def test_a_sweep_walks_the_sessions_only_once_one_may_be_due(rig: Rig) -> None:
    """Idle cost (issue 14): the 5-s sweep was a pass over every live session; now it looks
    only once the earliest seen may be due, and whatever kept one busy restarts its clock."""
    first = await rig.new("u1")
    rig.clock.advance(rig.pool._settings.idle_park_seconds / 2)
    second = await rig.new("u2")
    second.hooked = True  # its webhook listens (bridge/webhooks.py)
    assert await rig.pool.sweep() == 0
    assert rig.pool.parking._next_due == first.last_used + rig.pool._settings.idle_park_seconds
    rig.clock.advance(rig.pool._settings.idle_park_seconds / 2)
    second.hooked, second.last_used = False, rig.clock()  # what the webhook worker does when it ends
    assert await rig.pool.sweep() == 1 and first.state is SessionState.PARKED
    assert second.core is not None  # idle since its webhook ended, not since login
    rig.clock.advance(rig.pool._settings.idle_park_seconds)
    assert await rig.pool.sweep() == 1 and second.core is None


async def test_the_lease_round_revives_only_listened_sessions_without_a_core(rig: Rig) -> None:
    """It looks at the handles with an open stream, not at every handle (issue 14)."""
    listened, quiet = await rig.new("u1"), await rig.new("u2")
    rig.pool.stream_opened(listened)
    await rig.pool.parking.park_all()  # drain-like: both lose their cores, the stream stays open
    assert listened.core is None and quiet.core is None
    await rig.pool.streams.revive_listened()
    await wait_until(lambda: listened.core is not None, what="the listened session's revival")
    assert quiet.core is None
    rig.pool.stream_closed(listened)
    assert not rig.pool.streams.listened


async def test_the_cap_parks_the_least_recently_used_idle_core() -> None:
    async with _rig(max_live_cores=2) as rig:
        first, second = await rig.new("u1"), await rig.new("u2")
        rig.clock.advance(1)
        async with rig.pool.use(second, "op"):
            pass
        third = await rig.new("u3")
        assert first.state is SessionState.PARKED
        assert second.state is SessionState.LIVE and third.state is SessionState.LIVE
        # Nothing idle to park: 503 with Retry-After, and the new core is not kept.
        async with rig.pool.use(second, "op"), rig.pool.use(third, "op"):
            with pytest.raises(BridgeError) as err:
                async with rig.pool.use(first, "op"):
                    pass
        assert err.value.status == 503 and "Retry-After" in err.value.headers
        assert first.state is SessionState.PARKED


async def test_a_core_that_ends_itself_ends_its_session(rig: Rig) -> None:
    handle = await rig.new()
    await rig.cores[0].on_end(ErrCode.TokenKickedError)
    assert handle.state is SessionState.ENDED and rig.pool.handle(handle.session_id) is None
    log = (await rig.events.read_after(handle.session_id, 0)).events
    assert log[-1].event == "sessionClosed" and json.loads(log[-1].data) == {"reason": "kicked", "errCode": 1506}
    assert await rig.directory.find("u1", 5) is None
    assert await rig.directory.owner(handle.session_id) is None
    with pytest.raises(BridgeError) as err:
        async with rig.pool.use(handle, "op"):
            pass
    assert (err.value.status, err.value.code) == (401, 1506)


async def test_a_core_whose_tasks_keep_crashing_is_parked_not_ended(rig: Rig) -> None:
    handle = await rig.new()
    await rig.cores[0].on_end(ErrCode.SdkInternalError)
    assert handle.state is SessionState.PARKED and rig.pool.crashed_total == 1
    assert await rig.directory.owner(handle.session_id) is None
    assert "sessionClosed" not in await rig.callbacks(handle)
    async with rig.pool.use(handle, "op") as core:  # the next call revives it
        assert core is rig.cores[1]


async def test_a_token_that_died_while_parked_ends_the_session_on_revival(rig: Rig) -> None:
    handle = await rig.new()
    rig.clock.advance(10_000)
    await rig.pool.sweep()
    rig.fail_next_login.append(SdkError(ErrCode.TokenExpiredError))
    with pytest.raises(BridgeError) as err:
        async with rig.pool.use(handle, "op-revive"):
            pass
    assert (err.value.status, err.value.code) == (401, 1501)
    assert (await rig.callbacks(handle))[-2:] == ["OnUserTokenExpired", "sessionClosed"]
    assert handle.state is SessionState.ENDED


async def test_a_failed_revival_keeps_the_session_parked_and_frees_the_lease(rig: Rig) -> None:
    handle = await rig.new()
    rig.clock.advance(10_000)
    await rig.pool.sweep()
    rig.fail_next_login.append(CheckpointUnavailable("load checkpoint: OSError"))
    with pytest.raises(BridgeError) as err:
        async with rig.pool.use(handle, "op"):
            pass
    assert err.value.status == 503 and "checkpoint database unavailable" in err.value.detail
    assert handle.state is SessionState.PARKED
    assert await rig.directory.owner(handle.session_id) is None


async def test_switching_tokens_keeps_the_old_one_when_the_new_core_cannot_start(rig: Rig) -> None:
    handle = await rig.new()
    rig.fail_next_login.append(SdkError(ErrCode.NetworkError))
    with pytest.raises(BridgeError):
        await rig.pool.switch_token(handle, "t2", "op")
    assert handle.record.upstream_token == "t1"
    await rig.pool.switch_token(handle, "t3", "op")
    assert handle.record.upstream_token == "t3" and rig.cores[-1].done == ["login:t3"]
    assert rig.cores[0].done[-1] == "park"


async def test_a_lease_taken_elsewhere_silences_and_drops_the_core(rig: Rig) -> None:
    handle = await rig.new()
    core, fence = rig.cores[0], handle.fence
    assert fence is not None
    # Another node takes the session over (our lease lapsed while we stalled).
    await rig.directory.release(handle.session_id, "n1", fence)
    assert await rig.directory.acquire(handle.session_id, "n2") is not None
    await rig.pool.leases.renew(rig.pool.dropper.owned(), rig.pool.dropper.lease_gone)
    assert core.held and handle.fence is None  # no later write or checkpoint of this core
    await asyncio.gather(*rig.pool._tasks)
    assert core.done[-1] == "abandon" and rig.pool.dropper.dropped_total == 1
    assert rig.pool.handle(handle.session_id) is None
    # Calls now go to the owner: NotOwnerError (forwarded as 421 by the middleware).
    with pytest.raises(NotOwnerError):
        async with rig.pool.use(handle, "op"):
            pass


async def test_a_lease_lost_while_the_core_logs_in_drops_that_core(rig: Rig) -> None:
    """A login slower than the lease: renewals cover it; if the lease goes anyway, the new core never speaks."""
    handle = await rig.new()
    rig.clock.advance(10_000)
    await rig.pool.sweep()
    gate = asyncio.Event()
    lost: list[tuple[str, int]] = []

    async def slow() -> None:
        assert handle.fence is not None
        assert (handle.session_id, handle.fence) in rig.pool.dropper.owned()  # renewed while it logs in
        lost.append((handle.session_id, handle.fence))
        await gate.wait()

    rig.before_login.append(slow)
    use = asyncio.create_task(_use(rig.pool, handle))
    await wait_until(lambda: bool(lost), what="the login to start")
    await rig.pool.dropper.lease_gone(*lost[0])  # a renewal round found it gone
    gate.set()
    with pytest.raises(BridgeError) as err:
        await use
    assert err.value.status == 503 and handle.state is SessionState.PARKED
    assert rig.cores[-1].done == ["login:t1", "abandon"]


async def _use(pool: SessionPool, handle: SessionHandle) -> None:
    async with pool.use(handle, "op"):
        pass


async def test_streams_per_session_are_capped() -> None:
    async with _rig(max_streams_per_session=2) as rig:
        handle = await rig.new()
        rig.pool.stream_opened(handle)
        rig.pool.stream_opened(handle)
        with pytest.raises(BridgeError) as err:
            rig.pool.stream_opened(handle)
        assert err.value.status == 429 and handle.streams == 2


async def test_drain_refuses_new_sessions_and_parks_every_core(rig: Rig) -> None:
    first, second = await rig.new("u1"), await rig.new("u2")
    await rig.pool.drain_and_park(timeout=1.0)
    assert [c.done[-1] for c in rig.cores] == ["park", "park"]
    for handle in (first, second):
        assert await rig.directory.owner(handle.session_id) is None
    with pytest.raises(BridgeError) as err:
        await rig.new("u3")
    assert err.value.status == 503


async def test_an_ended_sessions_log_is_dropped_after_the_grace() -> None:
    async with _rig(ended_log_grace=0.0) as rig:
        handle = await rig.new()
        await rig.pool.logout(handle, "op-bye")
        assert await rig.events.last_id(handle.session_id) > 0  # sessionClosed, until the drop

        async def dropped() -> bool:
            return await rig.events.last_id(handle.session_id) == 0

        await eventually(dropped, "the log to be dropped")
        assert rig.pool._closer.pending_drops == 0


async def test_a_log_drop_not_yet_due_is_cancelled_when_the_pool_closes() -> None:
    """A drop left to fire after the pool closed would reach its closed stores (with Redis: a
    closed client that reconnected, its connection never closed: an unclosed-Connection warning)."""
    async with _rig() as rig:
        handle = await rig.new()
        await rig.pool.logout(handle, "op-bye")
        assert rig.pool._closer.pending_drops == 1
        (timer,) = rig.pool._closer._drops.values()
    assert timer.cancelled() and rig.pool._closer.pending_drops == 0


async def test_logout_tells_the_core_and_ends_the_session(rig: Rig) -> None:
    handle = await rig.new()
    await rig.pool.logout(handle, "op-bye")
    assert rig.cores[0].done[-1] == "logout" and handle.state is SessionState.ENDED
    last = (await rig.events.read_after(handle.session_id, 0)).events[-1]
    assert json.loads(last.data) == {"reason": "logout", "errCode": 10101, "operationID": "op-bye"}
