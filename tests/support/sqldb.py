"""The bridge's SQL stores for tests: a SQLite file of the test's own, or the shared test PostgreSQL.

PostgreSQL: one database for the whole run (``pg_database`` in tests/conftest.py,
created next to ``TEST_POSTGRES_URL`` and dropped afterwards), emptied when a
test opens it, so contract suites do not pay a CREATE DATABASE per test.
Skipped locally without PostgreSQL, a failure in CI.

The ``sql_store_url`` fixture (one run per SQL kind) is tests/support/sql_fixture.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, event

from bridge.settings import BridgeSettings
from bridge.sqlstore import schema
from bridge.sqlstore.stores import SqlStores, open_sql_stores
from bridge.sqlstore.writer import GroupWriter, Job

__all__ = ["SQL_PARAMS", "LazyDatabase", "hold_batch", "reopened", "selects_of", "sql_stores", "sql_url"]

#: The SQL kinds a contract suite runs on, as pytest params.
SQL_PARAMS = [pytest.param("sqlite"), pytest.param("postgresql", marks=pytest.mark.services)]


class LazyDatabase:
    """A database made on the first :meth:`url` (so a run without PostgreSQL tests skips only those)."""

    def __init__(
        self, stack: contextlib.AsyncExitStack, make: Callable[[], contextlib.AbstractAsyncContextManager[str]]
    ) -> None:
        self._stack = stack
        self._make = make
        self._url: str | None = None

    async def url(self) -> str:
        if self._url is None:
            self._url = await self._stack.enter_async_context(self._make())
        return self._url


async def sql_url(kind: str, tmp: Path, pg: LazyDatabase) -> str:
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{tmp / 'bridge.db'}"
    return await pg.url()


@contextlib.asynccontextmanager
async def sql_stores(url: str, *, clock: Callable[[], float] = time.time, **settings: Any) -> AsyncIterator[SqlStores]:
    """Open the SQL stores on ``url`` (emptied first), without the periodic sweeper."""
    async with open_sql_stores(BridgeSettings(database_url=url, **settings), clock=clock, sweep=False) as stores:
        async with stores.db.writer.begin() as conn:
            for table in reversed(schema.metadata.sorted_tables):
                await conn.execute(delete(table))
        yield stores


@contextlib.asynccontextmanager
async def reopened(url: str) -> AsyncIterator[SqlStores]:
    """The SQL stores on ``url`` as the next process finds them (not emptied), without the sweeper."""
    async with open_sql_stores(BridgeSettings(database_url=url), sweep=False) as stores:
        yield stores


@contextlib.contextmanager
def selects_of(stores: SqlStores, table: str) -> Iterator[list[str]]:
    """The SELECTs on ``table`` the stores' reader engine runs inside the block, as they run."""
    seen: list[str] = []
    engine = stores.db.reader.sync_engine

    def count(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and table in statement.lower():
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def hold_batch(writer: GroupWriter, error: Exception | None = None) -> tuple[asyncio.Future[Any], asyncio.Event]:
    """Start a batch of ``writer`` held open by one job, so what is submitted next queues behind it.

    Returns the held job (its outcome is the batch's) and the event that lets it go on: to
    commit, or to fail the batch with ``error``.
    """
    entered, release = asyncio.Event(), asyncio.Event()

    async def hold(conn: Any, scratch: dict[str, Any]) -> None:
        entered.set()
        await release.wait()
        if error is not None:
            raise error

    held = asyncio.ensure_future(writer.submit(Job(hold)))
    await entered.wait()
    return held, release
