"""A batch append to the Redis event log is all or nothing, against the real Redis.

Redis rolls back neither a MULTI/EXEC nor a script that fails half-way: the
writes before the failing command stay. So lua/append.lua checks the fence and
everything it relies on before its first write; these tests inject the
failures (a fenced-off writer, a broken argument, a broken stored key) and
check that nothing of the batch is visible and that the retry appends it once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

import pytest
from redis.exceptions import ResponseError

from bridge.eventlog import Entry, Fence, FencedOut, Mark, StoredEvent
from bridge.eventlog.redis import RedisEventLog
from tests.support.redis import RedisSpace, redis_space

pytestmark = pytest.mark.services

SID = "s"
BATCH: list[Entry] = [("A", '{"n":1}', [("c1", 4)]), ("B", '{"n":2}', [("c2", 7), ("c1", 5)]), ("C", "{}", [])]


@pytest.fixture
async def space() -> AsyncIterator[RedisSpace]:
    async with redis_space() as s:
        yield s


@pytest.fixture
async def log(space: RedisSpace) -> AsyncIterator[RedisEventLog]:
    log = RedisEventLog(space.client, prefix=space.prefix, lease_key=lambda sid: f"{space.prefix}lease:{sid}")
    try:
        yield log
    finally:
        await log.aclose()


def broken(entries: Sequence[Entry], index: int) -> list[Entry]:
    """``entries`` with a mark of entry ``index`` whose seq is no integer (what a bug would send)."""
    event, data, marks = entries[index]
    bad: list[Mark] = [*marks, ("c3", cast(Any, "seven"))]
    return [*entries[:index], (event, data, bad), *entries[index + 1 :]]


async def assert_log(log: RedisEventLog, expected: list[StoredEvent], marks: dict[str, int]) -> None:
    """The log holds exactly ``expected`` and the marks ``marks``: nothing of a failed batch."""
    assert (await log.read_after(SID, 0)).events == expected
    assert await log.last_id(SID) == (expected[-1].id if expected else 0)
    assert await log.delivered(SID) == marks


def stored(first: int, entries: Sequence[Entry]) -> list[StoredEvent]:
    return [StoredEvent(first + n, event, data) for n, (event, data, _) in enumerate(entries)]


async def test_a_fenced_off_batch_writes_nothing_and_the_owner_appends_it_once(
    space: RedisSpace, log: RedisEventLog
) -> None:
    await space.client.set(f"{space.prefix}lease:{SID}", "8 node-b")  # node-b took the session over
    with pytest.raises(FencedOut):
        await log.append_many(SID, BATCH, fence=Fence("node-a", 7))
    assert await space.keys() == [f"{space.prefix}lease:{SID}"]  # no stream, last id or marks
    assert await log.append_many(SID, BATCH, fence=Fence("node-b", 8)) == stored(1, BATCH)
    await assert_log(log, stored(1, BATCH), {"c1": 5, "c2": 7})


@pytest.mark.parametrize("index", [0, 1, 2])
async def test_a_broken_value_anywhere_in_a_batch_writes_none_of_it(log: RedisEventLog, index: int) -> None:
    before = await log.append_many(SID, [("Z", "{}", [("c1", 1)])])
    with pytest.raises(ResponseError):  # the script's "not an integer", before any write
        await log.append_many(SID, broken(BATCH, index))
    await assert_log(log, before, {"c1": 1})
    retried = await log.append_many(SID, BATCH)  # the writer's retry, with the value fixed
    assert retried == stored(2, BATCH)
    await assert_log(log, before + retried, {"c1": 5, "c2": 7})


async def test_a_broken_stored_key_fails_the_batch_before_its_first_event(
    space: RedisSpace, log: RedisEventLog
) -> None:
    before = await log.append_many(SID, [("Z", "{}", [])])
    await space.client.set(log.marks_key(SID), "not a hash")  # WRONGTYPE for the marks' HGET
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await log.append_many(SID, BATCH)
    assert (await log.read_after(SID, 0)).events == before
    assert await log.last_id(SID) == 1
    await space.client.delete(log.marks_key(SID))
    await log.append_many(SID, BATCH)
    await assert_log(log, before + stored(2, BATCH), {"c1": 5, "c2": 7})


async def test_marks_are_all_or_none_too(space: RedisSpace, log: RedisEventLog) -> None:
    await log.mark(SID, [("c1", 3)])
    with pytest.raises(ResponseError):
        await log.mark(SID, [("c1", 9), ("c2", cast(Any, "x"))])
    assert await log.delivered(SID) == {"c1": 3}
    await log.mark(SID, [("c1", 9), ("c1", 4), ("c2", 2)])  # the highest of a conversation wins
    assert await log.delivered(SID) == {"c1": 9, "c2": 2}


async def test_a_batch_trims_as_appends_one_by_one_do(space: RedisSpace) -> None:
    """Retention runs once after the batch; it keeps and counts what per-event trimming would."""
    entries: list[Entry] = [(f"E{n}", "x" * (10 * n), [("c", n)]) for n in range(1, 7)]
    batch = RedisEventLog(space.client, prefix=f"{space.prefix}batch:", max_events=4, max_bytes=120)
    single = RedisEventLog(space.client, prefix=f"{space.prefix}single:", max_events=4, max_bytes=120)
    try:
        await batch.append_many(SID, entries[:2])
        await batch.append_many(SID, entries[2:])
        for event, data, marks in entries:
            await single.append(SID, event, data, marks=marks)
        assert (await batch.read_after(SID, 0, limit=100)) == (await single.read_after(SID, 0, limit=100))
        assert batch.dropped == single.dropped > 0
        assert await batch.delivered(SID) == await single.delivered(SID) == {"c": 6}
    finally:
        await batch.aclose()
        await single.aclose()
