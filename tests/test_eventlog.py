"""Contract suite for bridge.eventlog backends: memory, redis and SQL (SQLite, PostgreSQL), the same tests.

Time is injected (a fake clock for retention by age); waits use deadlines on
what is awaited, never sleeps (STYLE.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Protocol

import pytest

from bridge.errors import BridgeError
from bridge.eventlog import EventLog, Fence, FencedOut, MemoryEventLog, ReadResult, StoredEvent
from bridge.eventlog.redis import RedisEventLog
from bridge.eventlog.sql import SqlEventLog
from bridge.redis_client import REDIS_UNAVAILABLE_CODE, create_redis
from tests.support.redis import REDIS_URL, RedisSpace, dead_redis_url, eventually, redis_space
from tests.support.sqldb import SQL_PARAMS, LazyDatabase, sql_stores, sql_url

DEADLINE = 2.0  # generous bound on anything that should happen "at once"
LONG = 30.0  # a wait that must be cut short by something else


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class LogFactory(Protocol):
    def __call__(
        self,
        *,
        max_events: int = 10000,
        max_age: float = 3600.0,
        clock: Callable[[], float] | None = None,
        max_bytes: int = 8 << 20,
    ) -> EventLog: ...


def _memory_factory(
    *,
    max_events: int = 10000,
    max_age: float = 3600.0,
    clock: Callable[[], float] | None = None,
    max_bytes: int = 8 << 20,
) -> EventLog:
    if clock is None:
        return MemoryEventLog(max_events=max_events, max_age=max_age, max_bytes=max_bytes)
    return MemoryEventLog(max_events=max_events, max_age=max_age, clock=clock, max_bytes=max_bytes)


def _redis_factory(space: RedisSpace) -> LogFactory:
    def make(
        *,
        max_events: int = 10000,
        max_age: float = 3600.0,
        clock: Callable[[], float] | None = None,
        max_bytes: int = 8 << 20,
    ) -> EventLog:
        bounds: dict[str, Any] = {"max_events": max_events, "max_age": max_age, "max_bytes": max_bytes}
        if clock is not None:
            bounds["clock"] = clock
        return RedisEventLog(space.client, prefix=space.prefix, **bounds)

    return make


# The contract runs against every backend; redis and postgresql need the machine's
# services (skipped locally without them, a failure in CI: tests/support/redis.py, sqldb.py).
BACKENDS = [pytest.param("memory"), pytest.param("redis", marks=pytest.mark.services), *SQL_PARAMS]


@contextlib.asynccontextmanager
async def _sql_backend(url: str) -> AsyncIterator[LogFactory]:
    async with sql_stores(url) as stores:

        def make(
            *,
            max_events: int = 10000,
            max_age: float = 3600.0,
            clock: Callable[[], float] | None = None,
            max_bytes: int = 8 << 20,
        ) -> EventLog:
            bounds: dict[str, Any] = {"max_events": max_events, "max_age": max_age, "max_bytes": max_bytes}
            if clock is not None:
                bounds["clock"] = clock
            return SqlEventLog(stores.db, stores.writer, **bounds)

        yield make


@contextlib.asynccontextmanager
async def _backend(name: str, pg: LazyDatabase, tmp: Path) -> AsyncIterator[LogFactory]:
    if name == "memory":
        yield _memory_factory
        return
    if name in ("sqlite", "postgresql"):
        async with _sql_backend(await sql_url(name, tmp, pg)) as factory:
            yield factory
        return
    async with redis_space() as space:
        yield _redis_factory(space)


@pytest.fixture(params=BACKENDS)
async def make_log(
    request: pytest.FixtureRequest, tmp_path: Path, pg_database: LazyDatabase
) -> AsyncIterator[LogFactory]:
    made: list[EventLog] = []
    async with _backend(request.param, pg_database, tmp_path) as factory:

        def make(
            *,
            max_events: int = 10000,
            max_age: float = 3600.0,
            clock: Callable[[], float] | None = None,
            max_bytes: int = 8 << 20,
        ) -> EventLog:
            log = factory(max_events=max_events, max_age=max_age, clock=clock, max_bytes=max_bytes)
            made.append(log)
            return log

        yield make
        for log in made:
            await log.aclose()


@pytest.fixture
def log(make_log: LogFactory) -> EventLog:
    return make_log()


def ids(result: ReadResult) -> list[int]:
    return [ev.id for ev in result.events]


async def fill(log: EventLog, session: str, count: int) -> list[StoredEvent]:
    return [await log.append(session, "OnTest", f'{{"n": {n}}}') for n in range(count)]


# --- append and read ---------------------------------------------------------


async def test_append_returns_stored_event_with_next_id(log: EventLog) -> None:
    first = await log.append("s", "OnFriendAdded", '{"a": 1}')
    second = await log.append("s", "callResult", '{"b": 2}')
    assert first == StoredEvent(1, "OnFriendAdded", '{"a": 1}')
    assert second == StoredEvent(2, "callResult", '{"b": 2}')


async def test_read_after_returns_later_events_oldest_first(log: EventLog) -> None:
    stored = await fill(log, "s", 5)
    assert (await log.read_after("s", 0)) == ReadResult(stored, False)
    assert (await log.read_after("s", 2)) == ReadResult(stored[2:], False)
    assert (await log.read_after("s", 5)) == ReadResult([], False)


async def test_read_after_honours_limit(log: EventLog) -> None:
    await fill(log, "s", 5)
    assert ids(await log.read_after("s", 0, limit=2)) == [1, 2]
    assert ids(await log.read_after("s", 2, limit=2)) == [3, 4]
    assert ids(await log.read_after("s", 4, limit=2)) == [5]
    with pytest.raises(ValueError, match="limit"):
        await log.read_after("s", 0, limit=0)


async def test_ids_are_per_session(log: EventLog) -> None:
    await fill(log, "a", 3)
    assert (await log.append("b", "OnTest", "{}")).id == 1
    assert (await log.append("a", "OnTest", "{}")).id == 4
    assert await log.last_id("a") == 4
    assert await log.last_id("b") == 1
    assert ids(await log.read_after("b", 0)) == [1]


async def test_unknown_session_is_empty(log: EventLog) -> None:
    assert await log.last_id("nobody") == 0
    assert (await log.read_after("nobody", 0)) == ReadResult([], False)


# --- retention ---------------------------------------------------------------


async def test_retention_by_count_keeps_newest_and_ids_keep_growing(make_log: LogFactory) -> None:
    log = make_log(max_events=3)
    await fill(log, "s", 5)
    assert ids(await log.read_after("s", 0)) == [3, 4, 5]
    assert (await log.append("s", "OnTest", "{}")).id == 6
    assert await log.last_id("s") == 6
    assert ids(await log.read_after("s", 3)) == [4, 5, 6]


async def test_reset_flag_exactly_at_boundary(make_log: LogFactory) -> None:
    log = make_log(max_events=3)
    await fill(log, "s", 5)  # 1 and 2 dropped, 3..5 retained
    # Cursor 1: event 2 is unseen and gone.
    assert (await log.read_after("s", 1)) == ReadResult((await log.read_after("s", 2)).events, True)
    assert (await log.read_after("s", 0)).reset
    # Cursor 2: the client saw everything dropped; nothing is missing.
    result = await log.read_after("s", 2)
    assert ids(result) == [3, 4, 5]
    assert not result.reset
    assert (await log.read_after("s", 3)) == ReadResult(result.events[1:], False)
    assert (await log.read_after("s", 5)) == ReadResult([], False)


async def test_retention_by_age(make_log: LogFactory) -> None:
    clock = FakeClock()
    log = make_log(max_age=30.0, clock=clock)
    await log.append("s", "OnTest", "1")
    clock.now += 10
    await log.append("s", "OnTest", "2")
    clock.now += 20  # event 1 is exactly max_age old: still retained
    assert ids(await log.read_after("s", 0)) == [1, 2]
    clock.now += 0.5  # now older than max_age: dropped at read, no append needed
    assert (await log.read_after("s", 0)) == ReadResult([StoredEvent(2, "OnTest", "2")], True)
    assert (await log.read_after("s", 1)) == ReadResult([StoredEvent(2, "OnTest", "2")], False)


async def test_everything_aged_out(make_log: LogFactory) -> None:
    clock = FakeClock()
    log = make_log(max_age=30.0, clock=clock)
    await fill(log, "s", 2)
    clock.now += 100
    assert (await log.read_after("s", 1)) == ReadResult([], True)
    assert (await log.read_after("s", 2)) == ReadResult([], False)
    assert await log.last_id("s") == 2
    assert (await log.append("s", "OnTest", "{}")).id == 3


# Byte retention: an event counts len(name) + len(data) in UTF-8 bytes; these are 6 + 24 = 30.
def _data30(n: int) -> str:
    return f'{{"n": {n:3d}, "pad": "..."}}'


async def test_retention_by_bytes_keeps_the_newest_that_fit(make_log: LogFactory) -> None:
    log = make_log(max_bytes=100)
    stored = [await log.append("s", "OnTest", _data30(n)) for n in range(5)]
    assert all(len(ev.event) + len(ev.data) == 30 for ev in stored)
    # 150 bytes appended, 100 kept: the newest three (90 bytes); a cursor before them resets.
    assert (await log.read_after("s", 0)) == ReadResult(stored[2:], True)
    assert (await log.read_after("s", 1)) == ReadResult(stored[2:], True)
    assert (await log.read_after("s", 2)) == ReadResult(stored[2:], False)
    assert (await log.append("s", "OnTest", _data30(5))).id == 6  # ids keep growing
    assert ids(await log.read_after("s", 3)) == [4, 5, 6]


async def test_retention_by_bytes_counts_utf8_bytes(make_log: LogFactory) -> None:
    log = make_log(max_bytes=100)
    cjk = '"' + "中" * 10 + '"'  # 12 characters, 32 bytes: with "OnTest", 38 bytes an event
    await log.append("s", "OnTest", cjk)
    await log.append("s", "OnTest", cjk)
    assert ids(await log.read_after("s", 0)) == [1, 2]  # 76 bytes
    await log.append("s", "OnTest", cjk)  # 114 bytes (54 characters): the oldest goes
    assert (await log.read_after("s", 0)).reset
    assert ids(await log.read_after("s", 1)) == [2, 3]


async def test_an_event_larger_than_max_bytes_is_kept_until_the_next(make_log: LogFactory) -> None:
    log = make_log(max_bytes=100)
    await log.append("s", "OnTest", _data30(0))
    big = await log.append("s", "OnTest", "x" * 500)
    assert (await log.read_after("s", 0)) == ReadResult([big], True)
    assert (await log.read_after("s", 1)) == ReadResult([big], False)
    small = await log.append("s", "OnTest", _data30(1))
    assert (await log.read_after("s", 1)) == ReadResult([small], True)


async def test_bytes_of_events_trimmed_by_count_or_age_are_released(make_log: LogFactory) -> None:
    clock = FakeClock()
    log = make_log(max_events=2, max_bytes=70, max_age=30.0, clock=clock)
    for n in range(3):
        await log.append("s", "OnTest", _data30(n))  # the third trims the first by count
    assert ids(await log.read_after("s", 1)) == [2, 3]  # 60 bytes: nothing more trimmed
    clock.now += 31  # both age out
    await log.read_after("s", 3)
    await log.append("s", "OnTest", _data30(3))
    await log.append("s", "OnTest", _data30(4))
    assert ids(await log.read_after("s", 3)) == [4, 5]


async def test_byte_retention_is_per_session(make_log: LogFactory) -> None:
    log = make_log(max_bytes=100)
    for n in range(3):
        await log.append("a", "OnTest", _data30(n))
        await log.append("b", "OnTest", _data30(n))
    assert ids(await log.read_after("a", 0)) == [1, 2, 3]
    assert ids(await log.read_after("b", 0)) == [1, 2, 3]


async def test_cursor_newer_than_log_is_reset(log: EventLog) -> None:
    """A cursor from a lost history (log dropped, process restarted) must not skip events."""
    stored = await fill(log, "s", 3)
    assert (await log.read_after("s", 10)) == ReadResult(stored, True)
    assert (await log.read_after("nobody", 7)) == ReadResult([], True)


# --- waiting -----------------------------------------------------------------


async def _parked_waiter(
    log: EventLog,
    session: str,
    after: int,
    timeout: float = LONG,
) -> asyncio.Task[ReadResult]:
    """Start a wait_after task and return once it is blocked in the log.

    ``started`` is set just before the call; the task runs on into wait_after
    until it suspends, and only then does this coroutine resume.
    """
    started = asyncio.Event()

    async def wait() -> ReadResult:
        started.set()
        return await log.wait_after(session, after, timeout)

    task = asyncio.create_task(wait())
    await asyncio.wait_for(started.wait(), DEADLINE)
    return task


async def test_wait_after_returns_at_once_when_events_exist(log: EventLog) -> None:
    stored = await fill(log, "s", 2)
    result = await asyncio.wait_for(log.wait_after("s", 0, LONG), DEADLINE)
    assert result == ReadResult(stored, False)


async def test_wait_after_wakes_on_append(log: EventLog) -> None:
    await fill(log, "s", 1)
    task = await _parked_waiter(log, "s", 1)
    assert not task.done()
    stored = await log.append("s", "OnRecvNewMessage", "{}")
    assert (await asyncio.wait_for(task, DEADLINE)) == ReadResult([stored], False)


async def test_wait_after_wakes_on_first_append_of_new_session(log: EventLog) -> None:
    task = await _parked_waiter(log, "fresh", 0)
    stored = await log.append("fresh", "OnTest", "{}")
    assert (await asyncio.wait_for(task, DEADLINE)) == ReadResult([stored], False)


async def test_wait_after_ignores_other_sessions(log: EventLog) -> None:
    task = await _parked_waiter(log, "a", 0, timeout=0.05)
    await log.append("b", "OnTest", "{}")
    assert (await asyncio.wait_for(task, DEADLINE)) == ReadResult([], False)


async def test_wait_after_timeout_returns_empty(log: EventLog) -> None:
    await fill(log, "s", 1)
    result = await asyncio.wait_for(log.wait_after("s", 1, 0.05), DEADLINE)
    assert result == ReadResult([], False)
    assert (await log.wait_after("s", 1, 0)) == ReadResult([], False)


async def test_wait_after_reports_reset_at_once(make_log: LogFactory) -> None:
    log = make_log(max_events=2)
    await fill(log, "s", 4)
    result = await asyncio.wait_for(log.wait_after("s", 1, LONG), DEADLINE)
    assert ids(result) == [3, 4]
    assert result.reset


async def test_drop_forgets_and_wakes_waiters(log: EventLog) -> None:
    await fill(log, "s", 2)
    tasks = [await _parked_waiter(log, "s", 2) for _ in range(3)]
    await log.drop("s")
    for task in tasks:
        assert (await asyncio.wait_for(task, DEADLINE)).events == []
    assert await log.last_id("s") == 0
    assert (await log.read_after("s", 0)) == ReadResult([], False)
    assert (await log.append("s", "OnTest", "{}")).id == 1


async def test_drop_of_unknown_session_is_harmless(log: EventLog) -> None:
    await log.drop("nobody")
    assert await log.last_id("nobody") == 0


async def test_aclose_wakes_waiters(make_log: LogFactory) -> None:
    log = make_log()
    task = await _parked_waiter(log, "s", 0)
    await log.aclose()
    assert (await asyncio.wait_for(task, DEADLINE)).events == []


async def test_cancelled_waiter_does_not_disturb_others(log: EventLog) -> None:
    cancelled = await _parked_waiter(log, "s", 0)
    other = await _parked_waiter(log, "s", 0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    stored = await log.append("s", "OnTest", "{}")
    assert (await asyncio.wait_for(other, DEADLINE)) == ReadResult([stored], False)


async def test_fan_out_every_reader_gets_every_event(log: EventLog) -> None:
    count = 5
    ready = [asyncio.Event() for _ in range(4)]

    async def reader(ready: asyncio.Event) -> list[StoredEvent]:
        seen: list[StoredEvent] = []
        cursor = 0
        while len(seen) < count:
            ready.set()
            result = await log.wait_after("s", cursor, LONG)
            seen.extend(result.events)
            if result.events:
                cursor = result.events[-1].id
        return seen

    readers = [asyncio.create_task(reader(r)) for r in ready]
    for r in ready:
        await asyncio.wait_for(r.wait(), DEADLINE)
    stored = await fill(log, "s", count)
    results = await asyncio.wait_for(asyncio.gather(*readers), DEADLINE)
    assert results == [stored] * len(readers)


async def test_append_many_stores_in_order_under_consecutive_ids_with_marks(log: EventLog) -> None:
    await log.append("s", "OnTest", "{}")
    entries = [("OnRecvNewMessage", '{"n":1}', [("c", 3)]), ("OnConversationChanged", "[]", []), ("OnX", "2", [])]
    stored = await log.append_many("s", entries)
    assert stored == [StoredEvent(n, e, d) for n, (e, d, _) in enumerate(entries, 2)]
    assert (await log.read_after("s", 1)).events == stored
    assert await log.delivered("s") == {"c": 3}
    assert await log.append_many("s", []) == []
    assert (await log.append("s", "OnTest", "{}")).id == 5


async def test_append_many_wakes_a_waiter_with_every_event(log: EventLog) -> None:
    task = await _parked_waiter(log, "s", 0)
    stored = await log.append_many("s", [("A", "1", []), ("B", "2", [])])
    # Woken once the batch is in: it sees all of it, never half.
    assert (await asyncio.wait_for(task, DEADLINE)) == ReadResult(stored, False)


# --- memory backend specifics ------------------------------------------------


async def test_marks_record_the_highest_seq_per_conversation(log: EventLog) -> None:
    assert await log.delivered("s") == {}
    await log.append("s", "OnRecvNewMessage", "{}", marks=[("si_a_b", 3)])
    await log.append("s", "OnRecvNewMessages", "[]", marks=[("si_a_b", 5), ("sg_g", 2)])
    await log.append("s", "OnRecvNewMessage", "{}", marks=[("si_a_b", 4)])  # never goes back
    await log.append("s", "OnConversationChanged", "[]")
    assert await log.delivered("s") == {"si_a_b": 5, "sg_g": 2}
    await log.mark("s", [("si_a_b", 7), ("sg_g", 1)])  # a silent delivery (our own message back)
    assert await log.delivered("s") == {"si_a_b": 7, "sg_g": 2}
    assert ids(await log.read_after("s", 0)) == [1, 2, 3, 4]  # marks alone add no event
    assert await log.delivered("other") == {}
    await log.drop("s")
    assert await log.delivered("s") == {}


async def test_memory_counts_dropped_events() -> None:
    clock = FakeClock()
    log = MemoryEventLog(max_events=3, max_age=30.0, clock=clock)
    await fill(log, "a", 5)
    assert log.dropped == 2
    clock.now += 31
    await log.read_after("a", 0)
    assert log.dropped == 5
    await fill(log, "b", 1)
    await log.drop("b")  # a closed session is forgotten, not "dropped" by retention
    assert log.dropped == 5


async def test_memory_forgets_sessions_it_only_waited_on() -> None:
    log = MemoryEventLog()
    await log.wait_after("idle", 0, 0.01)
    assert log._sessions == {}


def test_memory_rejects_bad_bounds() -> None:
    with pytest.raises(ValueError, match="max_events"):
        MemoryEventLog(max_events=0)
    with pytest.raises(ValueError, match="max_age"):
        MemoryEventLog(max_age=0)
    with pytest.raises(ValueError, match="max_bytes"):
        MemoryEventLog(max_bytes=0)


async def test_memory_counts_events_dropped_by_bytes() -> None:
    log = MemoryEventLog(max_bytes=100)
    for n in range(5):
        await log.append("a", "OnTest", _data30(n))
    assert log.dropped == 2


# --- redis backend specifics -------------------------------------------------


@pytest.fixture
async def space() -> AsyncIterator[RedisSpace]:
    async with redis_space() as space:
        yield space


@contextlib.asynccontextmanager
async def redis_logs(space: RedisSpace, count: int, **kwargs: Any) -> AsyncIterator[list[RedisEventLog]]:
    """``count`` logs on one prefix: as many bridge nodes sharing one Redis."""
    logs = [RedisEventLog(space.client, prefix=space.prefix, **kwargs) for _ in range(count)]
    try:
        yield logs
    finally:
        for log in logs:
            await log.aclose()


@pytest.mark.services
async def test_redis_layout_one_stream_per_session_with_id_as_entry_id(space: RedisSpace) -> None:
    async with redis_logs(space, 1) as (log,):
        await log.append("s1", "OnFriendAdded", '{"a":1}')
        await log.append("s1", "callResult", '{"b":2}')
        key = f"{space.prefix}ev:s1"
        assert log.key("s1") == key
        assert [(eid, fields["e"], fields["d"]) for eid, fields in await space.stream(key)] == [
            ("1-0", "OnFriendAdded", '{"a":1}'),
            ("2-0", "callResult", '{"b":2}'),
        ]
        assert 0 < await space.client.pttl(key) <= 7 * 24 * 3600 * 1000  # a forgotten session expires
        await log.drop("s1")
        assert not await space.client.exists(key)
        assert await space.keys() == [f"{space.prefix}evctl"]  # the drop notice for other nodes

        await log.append("s2", "OnRecvNewMessage", "{}", marks=[("c", 9)])
        assert await space.client.hgetall(log.marks_key("s2")) == {b"c": b"9"}
        assert await space.client.pttl(log.marks_key("s2")) > 0  # expires with its log


@pytest.mark.services
async def test_redis_fenced_append_needs_the_lease(space: RedisSpace) -> None:
    lease_key = f"{space.prefix}lease:s"
    log = RedisEventLog(space.client, prefix=space.prefix, lease_key=lambda sid: f"{space.prefix}lease:{sid}")
    try:
        await space.client.set(lease_key, "7 node-a")
        stored = await log.append("s", "OnTest", "{}", marks=[("c", 1)], fence=Fence("node-a", 7))
        assert stored.id == 1
        for stale in (Fence("node-a", 6), Fence("node-b", 7)):
            with pytest.raises(FencedOut):
                await log.append("s", "OnKickedOffline", "{}", marks=[("c", 2)], fence=stale)
        await space.client.delete(lease_key)  # lapsed
        with pytest.raises(FencedOut):
            await log.append("s", "OnTest", "{}", fence=Fence("node-a", 7))
        with pytest.raises(FencedOut):
            await log.mark("s", [("c", 3)], fence=Fence("node-a", 7))
        with pytest.raises(FencedOut):
            await log.append_many("s", [("A", "{}", [("c", 4)]), ("B", "{}", [])], fence=Fence("node-a", 7))
        # Nothing of the refused writes got in: neither the event nor its mark.
        assert ids(await log.read_after("s", 0)) == [1]
        assert await log.delivered("s") == {"c": 1}
        assert (await log.append("s", "unfenced", "{}")).id == 2
        await space.client.set(lease_key, "8 node-a")
        await log.mark("s", [("c", 1)], fence=Fence("node-a", 8))  # never lowers a mark
        assert await log.delivered("s") == {"c": 1}
        many = await log.append_many("s", [("A", "{}", [("c", 5)]), ("B", "{}", [])], fence=Fence("node-a", 8))
        assert [e.id for e in many] == [3, 4] and await log.delivered("s") == {"c": 5}
        with pytest.raises(ValueError, match="lease_key"):
            await RedisEventLog(space.client, prefix=space.prefix).append("s", "x", "{}", fence=Fence("a", 1))
    finally:
        await log.aclose()


@pytest.mark.services
async def test_redis_ids_continue_after_an_idle_log_expired(space: RedisSpace) -> None:
    """A week-idle stream expires; an old cursor must then get reset, not a silent gap."""
    log = RedisEventLog(space.client, prefix=space.prefix, max_age=0.1, idle_ttl=0.2)
    try:
        await fill(log, "s", 3)

        async def expired() -> bool:
            return not await space.client.exists(log.key("s"))

        await eventually(expired, "the idle stream to expire")
        assert await log.last_id("s") == 3  # a fresh stream starts after what clients saw
        assert await log.read_after("s", 3) == ReadResult([], False)  # saw everything: nothing missed
        assert (await log.read_after("s", 1)).reset  # events 2-3 are gone
        assert (await log.append("s", "OnTest", "{}")).id == 4
        again = await log.read_after("s", 1)
        assert again.reset and ids(again) == [4]
        assert await log.read_after("s", 3) == ReadResult([again.events[0]], False)
        await log.drop("s")  # a dropped log (logout) starts over, as the contract says
        assert await log.last_id("s") == 0 and (await log.append("s", "x", "{}")).id == 1
    finally:
        await log.aclose()


@pytest.mark.services
async def test_redis_counts_what_retention_dropped(space: RedisSpace) -> None:
    clock = FakeClock()
    async with redis_logs(space, 1, max_events=3, max_age=30.0, clock=clock) as (log,):
        await fill(log, "a", 5)
        assert log.dropped == 2
        clock.now += 31
        await log.read_after("a", 0)
        assert log.dropped == 5
        assert await space.client.xlen(log.key("a")) == 0
        assert await log.last_id("a") == 5


@pytest.mark.services
async def test_redis_two_nodes_share_ids_and_wake_each_other(space: RedisSpace) -> None:
    async with redis_logs(space, 2) as (node1, node2):
        appended = await asyncio.gather(
            *(node.append("s", "OnTest", "{}") for node in (node1, node2) for _ in range(25))
        )
        assert sorted(ev.id for ev in appended) == list(range(1, 51))
        waiter = await _parked_waiter(node1, "s", 50)
        stored = await node2.append("s", "OnRecvNewMessage", "{}")
        assert (await asyncio.wait_for(waiter, DEADLINE)) == ReadResult([stored], False)
        # A drop on one node ends the waits on the other (via the drop stream).
        waiter = await _parked_waiter(node1, "s", 51)
        await eventually(lambda: node1._watcher.waiting == 1, "the waiter to block")
        await node2.drop("s")
        assert (await asyncio.wait_for(waiter, DEADLINE)) == ReadResult([], False)


@pytest.mark.services
async def test_redis_byte_offsets_run_along_the_stream(space: RedisSpace) -> None:
    async with redis_logs(space, 1, max_bytes=100) as (log,):
        for n in range(5):
            await log.append("s", "OnTest", _data30(n))
        assert [(eid, fields["o"]) for eid, fields in await space.stream(log.key("s"))] == [
            ("3-0", "60"),
            ("4-0", "90"),
            ("5-0", "120"),
        ]


@pytest.mark.services
async def test_redis_entries_without_offset_are_trimmed_by_count_and_age_only(space: RedisSpace) -> None:
    """Entries a node without byte retention wrote (no ``o``) stay until count or age takes them."""
    async with redis_logs(space, 1, max_events=3, max_bytes=50) as (log,):
        key = log.key("s")
        for n in (1, 2):
            await space.client.xadd(key, {"e": "OnTest", "d": _data30(n), "t": repr(time.time())}, id=f"{n}-0")
        await log.append("s", "OnTest", _data30(3))  # o = 0: byte retention starts here
        assert ids(await log.read_after("s", 0)) == [1, 2, 3]  # 90 bytes, but 1 and 2 have no offset
        await log.append("s", "OnTest", _data30(4))  # count drops 1; 2 (no offset) shields 3
        assert ids(await log.read_after("s", 1)) == [2, 3, 4]
        await log.append("s", "OnTest", _data30(5))  # count drops 2; bytes drop 3 and 4 (90 from o = 0)
        assert ids(await log.read_after("s", 4)) == [5]


@pytest.mark.services
async def test_redis_clock_skew_keeps_append_times_ordered(space: RedisSpace) -> None:
    ahead, behind = FakeClock(), FakeClock()
    behind.now -= 100
    async with redis_logs(space, 1, clock=ahead) as (fast,), redis_logs(space, 1, clock=behind) as (slow,):
        await fast.append("s", "OnTest", "1")
        await slow.append("s", "OnTest", "2")
        times = [float(fields["t"]) for _, fields in await space.stream(fast.key("s"))]
        assert times == [ahead.now, ahead.now]  # age trimming stays a prefix


@pytest.mark.services
async def test_redis_blocking_reads_use_a_bounded_number_of_connections(space: RedisSpace) -> None:
    async with redis_logs(space, 1, streams_per_reader=2, max_readers=2) as (log,):
        sessions = [f"s{n}" for n in range(7)]
        waiters = [await _parked_waiter(log, s, 0) for s in sessions]

        # Every waiter is registered once its task has read the (empty) log.
        await eventually(lambda: log._watcher.waiting == len(sessions), "every waiter to register")
        assert log.readers == 2
        stored = [await log.append(s, "OnTest", "{}") for s in sessions]
        results = await asyncio.wait_for(asyncio.gather(*waiters), DEADLINE)
        assert results == [ReadResult([ev], False) for ev in stored]


@pytest.mark.services
async def test_redis_outage_is_a_503_not_a_crash() -> None:
    client = create_redis(dead_redis_url())
    log = RedisEventLog(client, prefix="unreachable:")
    try:
        for call in (
            log.append("s", "OnTest", "{}"),
            log.read_after("s", 0),
            log.wait_after("s", 0, 1.0),
            log.last_id("s"),
            log.drop("s"),
        ):
            with pytest.raises(BridgeError) as caught:
                await asyncio.wait_for(call, DEADLINE)
            assert caught.value.status == 503
            assert caught.value.code == REDIS_UNAVAILABLE_CODE
            assert "Redis unavailable" in caught.value.detail
            assert caught.value.headers == {"Retry-After": "1"}
    finally:
        await log.aclose()
        await client.aclose()


def test_redis_rejects_bad_bounds() -> None:
    client = create_redis(dead_redis_url())
    with pytest.raises(ValueError, match="max_events"):
        RedisEventLog(client, max_events=0)
    with pytest.raises(ValueError, match="idle_ttl"):
        RedisEventLog(client, max_age=60, idle_ttl=30)


@pytest.mark.services
async def test_redis_readers_on_two_nodes_miss_nothing_under_concurrent_appends(space: RedisSpace) -> None:
    """Lost wake-ups would hang a reader here: many readers per node, appends from both nodes."""
    count = 200
    async with redis_logs(space, 2) as nodes:

        async def reader(log: EventLog, start: int) -> list[int]:
            seen: list[int] = []
            cursor = start
            while cursor < count:
                result = await log.wait_after("s", cursor, LONG, limit=7)
                assert not result.reset
                seen += [ev.id for ev in result.events]
                cursor = seen[-1] if seen else cursor
            return seen

        await fill(nodes[0], "s", 4)
        readers = [asyncio.create_task(reader(log, start)) for log in nodes for start in (0, 0, 3)]

        async def writer(log: EventLog) -> None:
            for n in range((count - 4) // 2):
                await log.append("s", "OnTest", str(n))
                if n % 10 == 0:
                    await asyncio.sleep(0)  # let readers park between bursts

        await asyncio.gather(*(writer(log) for log in nodes))
        results = await asyncio.wait_for(asyncio.gather(*readers), 10.0)
        for (_, start), seen in zip([(log, s) for log in nodes for s in (0, 0, 3)], results, strict=True):
            assert seen == list(range(start + 1, count + 1))


@pytest.mark.services
async def test_redis_recovers_from_killed_connections(space: RedisSpace) -> None:
    """As after a Redis restart: the blocking reader and the pooled connections come back by themselves."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    client = create_redis(REDIS_URL, client_name=name)
    log = RedisEventLog(client, prefix=space.prefix)

    async def ours() -> list[dict[str, Any]]:
        return [c for c in await space.client.client_list() if c.get("name") == name]

    async def reader_blocked() -> bool:
        return any(c.get("cmd") == "xread" and "b" in c.get("flags", "") for c in await ours())

    try:
        await fill(log, "s", 1)
        waiter = await _parked_waiter(log, "s", 1)
        await eventually(reader_blocked, "the reader to block in XREAD")
        for conn in await ours():  # every connection this node has, the blocked one included
            await space.client.client_kill_filter(_id=str(conn["id"]))
        stored = await log.append("s", "OnTest", "{}")  # a dead pooled connection is retried once
        assert (await asyncio.wait_for(waiter, DEADLINE)) == ReadResult([stored], False)
        waiter = await _parked_waiter(log, "s", 2)
        await eventually(reader_blocked, "the reader to block again")
        stored = await log.append("s", "OnTest", "{}")
        assert (await asyncio.wait_for(waiter, DEADLINE)) == ReadResult([stored], False)
    finally:
        await log.aclose()
        await client.aclose()


async def test_sql_waiters_woken_by_one_commit_share_one_read(tmp_path: Path, pg_database: LazyDatabase) -> None:
    """The streams of a session woken together read the log once (issue 14), and each gets the events."""
    from sqlalchemy import event

    async with sql_stores(await sql_url("sqlite", tmp_path, pg_database)) as stores:
        log = SqlEventLog(stores.db, stores.writer, tail_events=0)  # every read from the database
        selects: list[str] = []

        def count(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
            if statement.lstrip().upper().startswith("SELECT") and "event" in statement.lower():
                selects.append(statement)

        event.listen(stores.db.reader.sync_engine, "before_cursor_execute", count)
        try:
            await log.append("s", "OnTest", "{}")
            waiters = [asyncio.ensure_future(log.wait_after("s", 1, 10.0)) for _ in range(4)]
            await eventually(lambda: len(selects) >= 1 and all(not w.done() for w in waiters), "waiters parked")
            await eventually(lambda: log._wakes["s"].waiters == 4, "all four waiting")
            # Their first reads (two SELECTs: no rows, then the last id) are over, so none lands below.
            await eventually(lambda: not log._reads, "first reads done")
            before = len(selects)
            await log.append("s", "OnTest", '{"n": 2}')
            results = await asyncio.gather(*waiters)
            assert [ids(r) for r in results] == [[2]] * 4
            assert len(selects) - before == 1, "one SELECT for the four waiters"
        finally:
            event.remove(stores.db.reader.sync_engine, "before_cursor_execute", count)
            await log.aclose()
