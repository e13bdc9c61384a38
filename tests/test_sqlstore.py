"""The SQL stores' machinery (bridge/sqlstore/): group commit, failed batches, the sweeper, one node per database.

The backends' behaviour is the contract suites' (test_eventlog.py, test_sessions.py,
test_idempotency.py run on SQLite and PostgreSQL); this is what is particular to SQL.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge.idempotency import Outcome
from bridge.sessions import SessionId, SessionRecord
from bridge.settings import BridgeSettings
from bridge.sqlstore import schema
from bridge.sqlstore.stores import SqlStores
from bridge.sqlstore.writer import Job
from tests.support.clock import FakeClock
from tests.support.sqldb import reopened, sql_stores


async def _count(stores: SqlStores, table: Any) -> int:
    async with stores.db.reader.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar() or 0)


async def test_concurrent_appends_share_commits(sql_store_url: str) -> None:
    async with sql_stores(sql_store_url) as stores:
        log = stores.events
        before = stores.writer.batches
        sessions = [f"s{n}" for n in range(50)]

        async def one(sid: str) -> list[int]:
            return [(await log.append(sid, "OnTest", "{}", marks=[("c", n + 1)])).id for n in range(4)]

        results = await asyncio.gather(*(one(s) for s in sessions))
        assert results == [[1, 2, 3, 4]] * len(sessions)
        commits = stores.writer.batches - before
        assert commits < 200 / 4, f"{commits} commits for 200 appends: not grouped"
        assert await log.delivered("s7") == {"c": 4}


async def test_a_failed_batch_fails_all_its_writes_and_ids_stay_contiguous(sql_store_url: str) -> None:
    async with sql_stores(sql_store_url) as stores:
        log = stores.events
        await log.append("s", "OnTest", "{}")

        async def broken(conn: AsyncConnection, scratch: dict[str, Any]) -> None:
            raise RuntimeError("a bug in one write")

        # Queued behind a slow-to-start batch, so the appends and the broken job share one.
        outcomes = await asyncio.gather(
            *(log.append("s", "OnTest", "{}") for _ in range(5)),
            stores.writer.submit(Job(broken)),
            return_exceptions=True,
        )
        failed = [o for o in outcomes if isinstance(o, BaseException)]
        assert any(isinstance(o, RuntimeError) for o in failed)
        kept = [o.id for o in outcomes if not isinstance(o, BaseException)]
        # What committed is contiguous after 1, and the next id follows it: nothing reused, no gap.
        assert kept == list(range(2, 2 + len(kept)))
        assert (await log.append("s", "OnTest", "{}")).id == 2 + len(kept)
        assert [e.id for e in (await log.read_after("s", 0)).events] == list(range(1, 3 + len(kept)))
        assert stores.writer.failed == 1


async def test_append_many_is_one_commit(sql_store_url: str) -> None:
    async with sql_stores(sql_store_url) as stores:
        log = stores.events
        await log.append("s", "OnTest", "{}")
        before = stores.writer.batches
        entries = [("OnRecvNewMessage", "{}", [("c", 9)]), ("OnConversationChanged", "[]", []), ("OnTotal", "1", [])]
        stored = await log.append_many("s", entries)
        assert stores.writer.batches - before == 1
        assert [e.id for e in stored] == [2, 3, 4]
        assert [e.event for e in (await log.read_after("s", 1)).events] == [e for e, _, _ in entries]
        assert await log.delivered("s") == {"c": 9}


async def test_a_failed_append_many_stores_none_and_its_retry_repeats_none(sql_store_url: str) -> None:
    async with sql_stores(sql_store_url) as stores:
        log = stores.events
        await log.append("s", "OnTest", "{}", marks=[("c", 1)])

        async def broken(conn: AsyncConnection, scratch: dict[str, Any]) -> None:
            raise RuntimeError("a bug in one write")

        # Submitted in one go, so the writer takes both into one batch, which fails.
        entries = [("A", "{}", [("c", 2)]), ("B", "{}", [("c", 3)])]
        outcomes = await asyncio.gather(
            log.append_many("s", entries), stores.writer.submit(Job(broken)), return_exceptions=True
        )
        assert all(isinstance(o, RuntimeError) for o in outcomes), outcomes
        assert [e.id for e in (await log.read_after("s", 0)).events] == [1]
        assert await log.delivered("s") == {"c": 1}
        retried = await log.append_many("s", entries)  # what the event writer does next
        assert [(e.id, e.event) for e in retried] == [(2, "A"), (3, "B")]
        assert [e.id for e in (await log.read_after("s", 0)).events] == [1, 2, 3]
        assert await log.delivered("s") == {"c": 3}


async def test_a_batch_takes_jobs_up_to_max_batch_rows_not_jobs(sql_store_url: str) -> None:
    async with sql_stores(sql_store_url) as stores:
        writer = stores.writer
        assert writer._max_batch == 1000

        async def nothing(conn: AsyncConnection, scratch: dict[str, Any]) -> None:
            return None

        before = writer.batches
        # Queued at once: 600 + 600 rows reach the bound, the third job waits for the next batch.
        await asyncio.gather(*(writer.submit(Job(nothing, size=600)) for _ in range(3)))
        assert writer.batches - before == 2


async def test_sweeper_clears_what_nobody_appends_to_any_more(sql_store_url: str) -> None:
    clock = FakeClock(1_700_000_000.0)
    async with sql_stores(sql_store_url, clock=clock, event_max_age=100.0, ended_log_grace=30.0) as stores:
        log, directory = stores.events, stores.directory
        for sid, user in (("live", "u1"), ("ended", "u2")):
            await directory.create(SessionRecord(SessionId(sid), user, 5, "t", clock.now), f"hash-{sid}")
            await log.append(sid, "OnTest", "{}", marks=[("c", 1)])
        await stores.outcomes.put("live", "op", Outcome("/v1/x", 1))
        await directory.end("ended", 1506)
        clock.now += 31  # past the log grace of the ended session
        assert await stores.sweeper.sweep() >= 1
        assert await log.last_id("ended") == 0 and await log.delivered("ended") == {}
        assert await log.last_id("live") == 1
        assert (rec := await directory.resolve("hash-ended")) is not None and rec.ended_code == 1506
        clock.now += 100  # the live session's event is past max_age; ids continue all the same
        await stores.sweeper.sweep()
        assert await _count(stores, schema.events) == 0
        assert await log.last_id("live") == 1
        assert (await log.append("live", "OnTest", "{}")).id == 2
        clock.now += 24 * 3600  # past the ended session's memory and the outcome's window
        await stores.sweeper.sweep()
        assert await directory.resolve("hash-ended") is None
        assert await _count(stores, schema.sessions) == 1 and await _count(stores, schema.session_tokens) == 1
        assert await _count(stores, schema.outcomes) == 0
        assert await directory.resolve("hash-live") is not None


async def test_one_node_per_database(sql_store_url: str) -> None:
    async with reopened(sql_store_url):
        with pytest.raises(ValueError, match="one node per database"):
            async with reopened(sql_store_url):
                pass
    async with reopened(sql_store_url):  # released with the first node
        pass


def test_database_sync_must_be_normal_or_full() -> None:
    with pytest.raises(ValueError, match="BRIDGE_DATABASE_SYNC"):
        BridgeSettings(database_sync="sometimes").validate()
    assert BridgeSettings.from_env({"BRIDGE_DATABASE_SYNC": "full"}).database_sync == "full"
