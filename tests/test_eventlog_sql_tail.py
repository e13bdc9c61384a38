"""The SQL event log's in-memory tail (issue 14): reads it answers are the database's, and it never
runs ahead of a commit; acknowledged appends outlive a restart."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest

from bridge.errors import BridgeError
from bridge.eventlog import ReadResult
from bridge.eventlog.sql import SqlEventLog
from bridge.sqlstore.writer import Job
from tests.support.clock import FakeClock
from tests.support.redis import eventually
from tests.support.sqldb import LazyDatabase, hold_batch, reopened, selects_of, sql_stores, sql_url


@pytest.mark.parametrize("bound", ["count", "bytes", "age"])
async def test_tail_reads_equal_database_reads_under_retention(sql_store_url: str, bound: str) -> None:
    """Every cursor, after every append, gets from the tail what the database answers."""
    clock = FakeClock()
    every: dict[str, dict[str, Any]] = {
        "count": {"max_events": 7},
        "bytes": {"max_bytes": 120},
        "age": {"max_age": 5.0},
    }
    bounds = every[bound]
    rng = random.Random(14)
    async with sql_stores(sql_store_url, clock=clock) as stores:
        log = SqlEventLog(stores.db, stores.writer, clock=clock, tail_events=12, **bounds)
        plain = SqlEventLog(stores.db, stores.writer, clock=clock, tail_events=0, **bounds)  # reads only
        served = 0
        for n in range(25):
            clock.now += rng.choice([0.0, 0.5, 1.5])
            if rng.random() < 0.3:  # several appends in one batch
                await asyncio.gather(*(log.append("s", "OnTest", "x" * rng.randint(1, 30)) for _ in range(3)))
            else:
                await log.append("s", "OnTest", "y" * rng.randint(1, 30))
            last = await plain.last_id("s")
            assert await log.last_id("s") == last
            for after in range(max(0, last - 14), last + 2):
                for limit in (1, 1000):
                    hits = log.tails.hits
                    got = await log.read_after("s", after, limit)
                    assert got == await plain.read_after("s", after, limit), (n, after, limit)
                    served += log.tails.hits - hits
        assert served > 50, "the tail answered most reads"
        await log.aclose()
        await plain.aclose()


async def test_woken_streams_read_nothing_from_the_database(sql_store_url: str) -> None:
    """The four streams of a session woken by a commit are answered from memory, each with the event."""
    async with sql_stores(sql_store_url) as stores:
        log = SqlEventLog(stores.db, stores.writer)
        try:
            with selects_of(stores, "bridge_event") as selects:
                await log.append("s", "OnTest", "{}")
                waiters = [asyncio.ensure_future(log.wait_after("s", 1, 10.0)) for _ in range(4)]
                await eventually(lambda: "s" in log._wakes and log._wakes["s"].waiters == 4, "all four waiting")
                await log.append("s", "OnTest", '{"n": 2}')
                results = await asyncio.gather(*waiters)
            assert [[e.id for e in r.events] for r in results] == [[2]] * 4
            assert selects == []
        finally:
            await log.aclose()


async def test_an_event_is_not_read_before_its_commit(sql_store_url: str) -> None:
    """A batch held open: its append is in no read (tail or database) until the commit."""
    async with sql_stores(sql_store_url) as stores:
        log = SqlEventLog(stores.db, stores.writer)
        await log.append("s", "OnTest", "1")
        blocker, release = await hold_batch(stores.writer)
        pending = asyncio.ensure_future(log.append("s", "OnTest", "2"))  # queued behind the held batch
        assert await log.read_after("s", 1) == ReadResult([], False)
        assert await log.last_id("s") == 1
        release.set()
        await blocker
        assert (await pending).id == 2
        assert [e.data for e in (await log.read_after("s", 0)).events] == ["1", "2"]
        await log.aclose()


async def test_a_failed_batch_leaves_no_event_in_the_tail(sql_store_url: str) -> None:
    """The batch of an append fails: no reader sees it, and the next append takes its id."""
    async with sql_stores(sql_store_url) as stores:
        log = SqlEventLog(stores.db, stores.writer)
        await log.append("s", "OnTest", "1")
        failing, release = await hold_batch(stores.writer, OSError("disk gone"))
        doomed = asyncio.ensure_future(log.append("s", "OnTest", "lost"))
        await eventually(lambda: stores.writer._queue.qsize() == 1, "append queued behind the failing job")
        release.set()
        with pytest.raises(BridgeError):
            await failing
        # The append was queued after the failing job: it went into the next batch, or failed with it.
        try:
            await doomed
            expected = ["1", "lost"]
        except BridgeError:
            expected = ["1"]
        assert [e.data for e in (await log.read_after("s", 0)).events] == expected
        stored = await log.append("s", "OnTest", "next")
        assert stored.id == len(expected) + 1
        assert [e.data for e in (await log.read_after("s", 0)).events] == [*expected, "next"]
        await log.aclose()


async def test_acknowledged_appends_outlive_a_restart(tmp_path: Path, pg_database: LazyDatabase) -> None:
    """Every append that returned is in the reopened database, and ids go on after it (none repeated)."""
    url = await sql_url("sqlite", tmp_path, pg_database)
    async with sql_stores(url) as stores:
        log = SqlEventLog(stores.db, stores.writer)
        acked = await asyncio.gather(*(log.append(f"s{i % 3}", "OnTest", str(i)) for i in range(30)))
        await log.mark("s0", [("c1", 9)])
        # No aclose of the log: as after kill -9, only what was committed counts.
    async with reopened(url) as stores:
        log = SqlEventLog(stores.db, stores.writer)
        for sid in ("s0", "s1", "s2"):
            mine = [e for e, i in zip(acked, range(30), strict=True) if f"s{i % 3}" == sid]
            assert (await log.read_after(sid, 0)).events == mine
            assert (await log.append(sid, "OnTest", "after")).id == len(mine) + 1
        assert await log.delivered("s0") == {"c1": 9}
        await log.aclose()


async def test_a_batch_failing_after_its_appends_were_written_keeps_none(sql_store_url: str) -> None:
    """The batch's event rows, counters and marks went to the database (driver statements), then a
    later statement of the same batch failed: the rollback takes them all back."""
    async with sql_stores(sql_store_url) as stores:
        log = SqlEventLog(stores.db, stores.writer)
        await log.append("s", "OnTest", "1", marks=[("c", 1)])

        async def nothing(conn: Any, scratch: dict[str, Any]) -> None:
            pass

        async def fail_late(conn: Any, scratch: dict[str, Any]) -> None:  # runs after the log's flush
            raise OSError("disk full")

        blocker, release = await hold_batch(stores.writer)
        doomed = [asyncio.ensure_future(log.append("s", "OnTest", str(i), marks=[("c", 5)])) for i in range(3)]
        late = asyncio.ensure_future(stores.writer.submit(Job(nothing, flush=("zz-late", fail_late))))
        await eventually(lambda: stores.writer._queue.qsize() == 4, "all four queued in one batch")
        release.set()
        await blocker
        for fut in [*doomed, late]:
            with pytest.raises(BridgeError):
                await fut
        plain = SqlEventLog(stores.db, stores.writer, tail_events=0)
        assert [e.data for e in (await plain.read_after("s", 0)).events] == ["1"]
        assert await plain.last_id("s") == 1
        assert await plain.delivered("s") == {"c": 1}
        assert (await log.append("s", "OnTest", "2")).id == 2
        await log.aclose()
        await plain.aclose()
