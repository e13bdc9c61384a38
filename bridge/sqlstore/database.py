"""The SQL database of a node without Redis: engines, the one-node guard, error translation.

Two engines on one URL: a *writer* with a single connection, used only by the
group committer (bridge/sqlstore/writer.py), and a small pool of *readers*.
On SQLite the writer begins its transactions with ``BEGIN IMMEDIATE`` (it takes
the write lock first, so it waits in SQLite's busy handler instead of failing
with SQLITE_BUSY when a checkpoint save wrote in between) and the file is in
WAL mode (readers never block the writer, nor it them).

``sync`` (``BRIDGE_DATABASE_SYNC``) is ``normal`` by default: a commit is in
the database's log when its callers are told, so it survives the bridge
process (``kill -9``, OOM), but a crash of the database host may undo its
last moments, as Redis's default ``appendfsync everysec`` does (SQLite
``synchronous=NORMAL``; PostgreSQL ``synchronous_commit=off`` on the writer
connection only). ``full`` waits for the disk at every commit (one per batch,
thanks to group commit; measured in bench/README.md) and survives that too.
Either way a checkpoint never survives without the events before it: both
databases write one sequential log, and core's checkpoint commits (always
synchronous) come after the events they count (core/core.py ``_state_lock``).

One node per database: without Redis nothing coordinates two bridges, so two
of them appending to the same logs would hand out the same event ids. The
first node holds a lock for its lifetime (``flock`` on ``<db>.lock`` for
SQLite, a PostgreSQL session advisory lock on a connection of its own); the
OS or the server releases it when the process dies, even by ``kill -9``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bridge.errors import BridgeError
from bridge.sqlstore.driver import execute_in_listener
from bridge.sqlstore.migrations import migrate
from core.protocol.errcodes import ErrCode

__all__ = ["NODE_LOCK_KEY", "SqlDatabase", "database_errors", "open_database"]

# pg_try_advisory_lock key of the one node on a database: b"oimbnode" as a signed 64-bit integer.
NODE_LOCK_KEY = int.from_bytes(b"oimbnode", "big")


@dataclass(frozen=True, slots=True)
class SqlDatabase:
    writer: AsyncEngine  # one connection, only for the group committer
    reader: AsyncEngine
    dialect: str


@contextlib.contextmanager
def database_errors(what: str) -> Iterator[None]:
    """The database's and its driver's errors as a 503 (like Redis outages in cluster mode)."""
    try:
        yield
    # sqlite3.Error: statements run on the driver connection itself (sqlstore/driver.py).
    except (SQLAlchemyError, OSError, sqlite3.Error) as exc:
        raise BridgeError(
            503,
            ErrCode.ServerInternalError,
            f"session database unavailable ({what}: {type(exc).__name__}); retry shortly",
            headers={"Retry-After": "1"},
        ) from exc


def _sqlite_path(url: str) -> Path | None:
    path = url.split("///", 1)[-1]
    return None if not path or path == ":memory:" else Path(path)


def _engines(url: str, sync: str) -> SqlDatabase:
    if sync not in ("normal", "full"):
        raise ValueError(f"BRIDGE_DATABASE_SYNC must be normal or full, got {sync!r}")
    if url.startswith("sqlite"):
        path = _sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: pysqlite's own implicit BEGIN is off, we issue ours.
        args: dict[str, Any] = {"timeout": 30, "isolation_level": None}
        writer = create_async_engine(url, connect_args=args, pool_size=1, max_overflow=0)
        reader = create_async_engine(url, connect_args=args, pool_size=4, max_overflow=4)
        _sqlite_pragmas(writer, sync, immediate=True)
        _sqlite_pragmas(reader, sync, immediate=False)
        return SqlDatabase(writer, reader, "sqlite")
    settings = {"synchronous_commit": "off" if sync == "normal" else "on"}
    writer = create_async_engine(
        url, pool_size=1, max_overflow=0, pool_pre_ping=True, connect_args={"server_settings": settings}
    )
    reader = create_async_engine(url, pool_size=4, max_overflow=4, pool_pre_ping=True)
    return SqlDatabase(writer, reader, "postgresql")


def _sqlite_pragmas(engine: AsyncEngine, sync: str, *, immediate: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={sync.upper()}")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        execute_in_listener(conn, "BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextlib.contextmanager
def _sqlite_node_lock(path: Path) -> Iterator[None]:
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(_in_use(str(path))) from None
        yield
    finally:
        os.close(fd)  # releases the lock


def _in_use(where: str) -> str:
    return (
        f"another openim-bridge node runs on {where} without Redis; one node per database "
        "(set BRIDGE_REDIS_URL for several nodes, or give each its own data dir / BRIDGE_DATABASE_URL)"
    )


@contextlib.asynccontextmanager
async def _pg_node_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    conn: AsyncConnection = await engine.connect()
    try:
        got = (await conn.execute(select(func.pg_try_advisory_lock(NODE_LOCK_KEY)))).scalar()
        await conn.commit()
        if not got:
            raise ValueError(_in_use("this PostgreSQL database"))
        yield
    finally:
        await conn.close()  # ends the session, and with it the lock


@contextlib.asynccontextmanager
async def open_database(url: str, *, sync: str = "normal") -> AsyncIterator[SqlDatabase]:
    """The database at ``url``, migrated, held by this node; engines disposed on exit.

    ``sync``: see the module docs. Raises ValueError when another node holds the database.
    """
    db = _engines(url, sync)
    try:
        async with contextlib.AsyncExitStack() as stack:
            if db.dialect == "sqlite":
                path = _sqlite_path(url)
                if path is not None:
                    stack.enter_context(_sqlite_node_lock(path))
            else:
                guard = create_async_engine(url, pool_size=1, max_overflow=0)
                stack.push_async_callback(guard.dispose)
                await stack.enter_async_context(_pg_node_lock(guard))
            await migrate(db.writer)
            yield db
    finally:
        await db.writer.dispose()
        await db.reader.dispose()
