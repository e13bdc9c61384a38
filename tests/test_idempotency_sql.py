"""The SQL outcome store's index of recorded keys (issue 14): a fresh operationID costs no query,
a recorded one (this process's or an earlier one's) still replays, an expired one runs again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from bridge.idempotency import Outcome
from bridge.idempotency.sql import SqlOutcomes
from bridge.settings import BridgeSettings
from bridge.sqlstore.stores import open_sql_stores
from tests.support.sqldb import SQL_PARAMS, LazyDatabase, sql_stores, sql_url

SID = "0123456789abcdef0123456789abcdef"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=SQL_PARAMS)
async def url(request: pytest.FixtureRequest, tmp_path: Path, pg_database: LazyDatabase) -> str:
    return await sql_url(request.param, tmp_path, pg_database)


async def test_fresh_keys_are_answered_without_a_query(url: str) -> None:
    async with sql_stores(url) as stores:
        outcomes = SqlOutcomes(stores.db, stores.writer, window=60.0)
        selects: list[str] = []

        def count(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
            if "bridge_outcomes" in statement and statement.lstrip().upper().startswith("SELECT"):
                selects.append(statement)

        event.listen(stores.db.reader.sync_engine, "before_cursor_execute", count)
        try:
            assert await outcomes.get(SID, "op-1") is None  # loads the index: one query
            loaded = len(selects)
            for i in range(20):
                assert await outcomes.get(SID, f"op-fresh-{i}") is None
            assert len(selects) == loaded, "no query for keys nobody recorded"
            await outcomes.put(SID, "op-1", Outcome("/v1/x", {"n": 1}))
            assert await outcomes.get(SID, "op-1") == Outcome("/v1/x", {"n": 1})
            assert await outcomes.get("another-session", "op-1") is None
        finally:
            event.remove(stores.db.reader.sync_engine, "before_cursor_execute", count)


async def test_the_first_outcome_wins_and_an_expired_one_is_gone(url: str) -> None:
    clock = FakeClock()
    async with sql_stores(url, clock=clock) as stores:
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
    async with open_sql_stores(BridgeSettings(database_url=url), sweep=False) as stores:
        again = SqlOutcomes(stores.db, stores.writer, window=60.0)
        assert await again.get(SID, "op-a") == Outcome("/v1/a", "A")
        assert await again.get(SID, long_id) == Outcome("/v1/b", "B")
        assert await again.get(SID, "op-new") is None
