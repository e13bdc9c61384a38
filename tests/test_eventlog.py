"""Contract suite for bridge.eventlog backends (memory now; redis joins BACKENDS).

Time is injected (a fake clock for retention by age); waits use deadlines on
what is awaited, never sleeps (STYLE.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Protocol

import pytest

from bridge.eventlog import EventLog, MemoryEventLog, ReadResult, StoredEvent

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
        self, *, max_events: int = 10000, max_age: float = 3600.0, clock: Callable[[], float] | None = None
    ) -> EventLog: ...


def _memory_factory(
    *, max_events: int = 10000, max_age: float = 3600.0, clock: Callable[[], float] | None = None
) -> EventLog:
    if clock is None:
        return MemoryEventLog(max_events=max_events, max_age=max_age)
    return MemoryEventLog(max_events=max_events, max_age=max_age, clock=clock)


# A redis backend adds ("redis", its factory) here; the tests below are the contract.
BACKENDS: list[tuple[str, LogFactory]] = [("memory", _memory_factory)]


@pytest.fixture(params=[factory for _, factory in BACKENDS], ids=[name for name, _ in BACKENDS])
async def make_log(request: pytest.FixtureRequest) -> AsyncIterator[LogFactory]:
    factory: LogFactory = request.param
    made: list[EventLog] = []

    def make(*, max_events: int = 10000, max_age: float = 3600.0, clock: Callable[[], float] | None = None) -> EventLog:
        log = factory(max_events=max_events, max_age=max_age, clock=clock)
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


# --- memory backend specifics ------------------------------------------------


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
