"""The SQL outcome store's index of recorded keys (issue 14): a fresh operationID costs no query,
a recorded one (this process's or an earlier one's) still replays, an expired one runs again."""

from __future__ import annotations

from pathlib import Path

from bridge.idempotency import Outcome
from bridge.idempotency.sql import SqlOutcomes
from tests.support.clock import FakeClock
from tests.support.sqldb import LazyDatabase, reopened, selects_of, sql_stores, sql_url

SID = "0123456789abcdef0123456789abcdef"


async def test_fresh_keys_are_answered_without_a_query(sql_store_url: str) -> None:
    async with sql_stores(sql_store_url) as stores:
        outcomes = SqlOutcomes(stores.db, stores.writer, window=60.0)
        with selects_of(stores, "bridge_outcomes") as selects:
            assert await outcomes.get(SID, "op-1") is None  # loads the index: one query
            loaded = len(selects)
            for i in range(20):
                assert await outcomes.get(SID, f"op-fresh-{i}") is None
            assert len(selects) == loaded, "no query for keys nobody recorded"
            await outcomes.put(SID, "op-1", Outcome("/v1/x", {"n": 1}))
            assert await outcomes.get(SID, "op-1") == Outcome("/v1/x", {"n": 1})
            assert await outcomes.get("another-session", "op-1") is None


async def test_the_first_outcome_wins_and_an_expired_one_is_gone(sql_store_url: str) -> None:
    clock = FakeClock()
    async with sql_stores(sql_store_url, clock=clock) as stores:
        outcomes = SqlOutcomes(stores.db, stores.writer, window=60.0, clock=clock)
        await outcomes.put(SID, "op", Outcome("/v1/x", 1))
        await outcomes.put(SID, "op", Outcome("/v1/x", 2))
        assert await outcomes.get(SID, "op") == Outcome("/v1/x", 1)
        clock.now += 60.0  # the window's last instant still replays
        assert await outcomes.get(SID, "op") == Outcome("/v1/x", 1)
        clock.now += 0.5
        assert await outcomes.get(SID, "op") is None
        await outcomes.put(SID, "op", Outcome("/v1/x", 3))  # an expired outcome is replaced
        assert await outcomes.get(SID, "op") == Outcome("/v1/x", 3)


async def test_keys_recorded_by_an_earlier_process_replay(tmp_path: Path, pg_database: LazyDatabase) -> None:
    url = await sql_url("sqlite", tmp_path, pg_database)
    long_id = "x" * 100  # stored as its hash
    async with sql_stores(url) as stores:
        first = SqlOutcomes(stores.db, stores.writer, window=60.0)
        await first.put(SID, "op-a", Outcome("/v1/a", "A"))
        await first.put(SID, long_id, Outcome("/v1/b", "B"))
    async with reopened(url) as stores:
        again = SqlOutcomes(stores.db, stores.writer, window=60.0)
        assert await again.get(SID, "op-a") == Outcome("/v1/a", "A")
        assert await again.get(SID, long_id) == Outcome("/v1/b", "B")
        assert await again.get(SID, "op-new") is None
