"""The bridge's SQL stores for tests: a SQLite file of the test's own, or the shared test PostgreSQL.

PostgreSQL: one database for the whole run (``pg_database`` in tests/conftest.py,
created next to ``TEST_POSTGRES_URL`` and dropped afterwards), emptied when a
test opens it, so contract suites do not pay a CREATE DATABASE per test.
Skipped locally without PostgreSQL, a failure in CI.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete

from bridge.settings import BridgeSettings
from bridge.sqlstore import schema
from bridge.sqlstore.stores import SqlStores, open_sql_stores

__all__ = ["SQL_PARAMS", "LazyDatabase", "sql_stores", "sql_url"]

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
