"""Statements on the SQLite driver connection itself: one aiosqlite thread hop each, not three.

SQLAlchemy's aiosqlite adapter opens a cursor, executes and closes it, each
a round trip to aiosqlite's thread (a queue put, a thread switch, a
self-pipe wake-up of the event loop); py-spy of the durable messaging path
(issue 14) had those hops as most of a group commit's cost. The writer's hot
statements (the event log's batch, ``BEGIN IMMEDIATE``) go straight to the
aiosqlite connection under the same transaction: one hop, the cursor left to
the garbage collector; :func:`run_sync` runs several statements in one hop,
on the sqlite3 connection in aiosqlite's own thread (as SQLAlchemy's adapter
itself does, sqlalchemy/dialects/sqlite/aiosqlite.py ``set_iso``). Only for
statements whose result nobody reads.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import sqlalchemy.util
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["execute_in_listener", "executemany", "fetch_one", "read_sync", "run_sync"]

T = TypeVar("T")

# SQLAlchemy 2.1 calls it await_, 2.0 await_only: run a coroutine from sync code inside its greenlet.
_await: Any = getattr(sqlalchemy.util, "await_", None) or sqlalchemy.util.await_only


async def executemany(conn: AsyncConnection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """``sql`` (qmark style) once per row, in ``conn``'s transaction, in one hop."""
    raw = await conn.get_raw_connection()
    await raw.driver_connection.executemany(sql, rows)  # type: ignore[union-attr]


async def run_sync(conn: AsyncConnection, fn: Callable[[sqlite3.Connection], T]) -> T:
    """``fn(sqlite3 connection)`` in aiosqlite's thread, in ``conn``'s transaction: one hop for all it runs."""
    raw = await conn.get_raw_connection()
    aio: Any = raw.driver_connection
    return await aio._execute(fn, aio._conn)  # type: ignore[no-any-return]


async def read_sync(engine: AsyncEngine, fn: Callable[[sqlite3.Connection], T]) -> T:
    """``fn(sqlite3 connection)`` on an SQLite reader in one hop and the pool's reset, where
    each ``conn.execute`` took five (BEGIN, cursor, execute, close, rollback) and a compile.
    Each SELECT it runs is its own read transaction (WAL: one consistent snapshot)."""
    async with engine.connect() as conn:
        return await run_sync(conn, fn)


async def fetch_one(engine: AsyncEngine, sql: str, params: Sequence[Any]) -> Any:
    """The first row of one read (qmark ``sql``) on an SQLite reader, as :func:`read_sync`."""
    return await read_sync(engine, lambda db: db.execute(sql, params).fetchone())


def execute_in_listener(conn: Connection, sql: str) -> None:
    """``sql`` on ``conn``'s driver connection from a sync event listener (``begin``), in one hop."""
    _await(conn.connection.driver_connection.execute(sql))  # type: ignore[union-attr]
