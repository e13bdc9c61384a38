"""SQLAlchemy 2 async plumbing for imserver: declarative base and engine factory.

Table models live next to the code that owns them (imserver/models.py for
users, relations and tokens; imserver/msgstore.py for seqs and messages), all on
this one `Base.metadata`, created at start-up by `create_all`.

SQLite and concurrent async writers: every pooled connection runs in WAL mode
with a busy timeout, and SQLAlchemy (not the sqlite3 driver's legacy mode)
emits `BEGIN IMMEDIATE` for each transaction. Taking the write lock at BEGIN
means a transaction never has to upgrade a read snapshot to a write lock, the
one case where SQLite answers SQLITE_BUSY ("database is locked") at once
instead of waiting for the busy timeout. Recipe from the SQLAlchemy SQLite
dialect docs ("Enabling Non-Legacy SQLite Transactional Modes", Python < 3.12).
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Session

__all__ = [
    "SQLITE_BUSY_TIMEOUT_MS",
    "Base",
    "SmallWrites",
    "create_all",
    "make_engine",
    "make_read_sessionmaker",
    "make_sessionmaker",
    "small_writes_for",
    "sync_sqlite_twin",
]

SQLITE_BUSY_TIMEOUT_MS = 30_000
_READ_ONLY = "imserver_read_only"
_T = TypeVar("_T")


class Base(DeclarativeBase):
    pass


def make_engine(url: str) -> AsyncEngine:
    if not url.startswith("sqlite"):
        return create_async_engine(url, pool_pre_ping=True)
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
    _install_sqlite_hooks(engine.sync_engine)
    return engine


def sync_sqlite_twin(
    engine: AsyncEngine, *, factory: type[sqlite3.Connection] | None = None, **pool: Any
) -> Engine | None:
    """A blocking engine on the same SQLite file (stdlib sqlite3, same pragmas), for code that
    runs many statements in one worker thread instead of one aiosqlite thread hop per
    statement; None for other databases and for in-memory SQLite (a second connection
    would open a different database)."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    connect_args: dict[str, Any] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    if factory is not None:
        connect_args["factory"] = factory
    twin = create_engine(url.set(drivername="sqlite"), connect_args=connect_args, **pool)
    _install_sqlite_hooks(twin)
    return twin


def _install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy (the "begin" hook below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Pure reads (make_read_sessionmaker) begin deferred: in WAL a reader needs no lock,
        # so it neither waits for the message writer nor makes it wait. On a DBAPI cursor, not
        # exec_driver_sql: SQLAlchemy's execution context and events for a statement with no
        # parameters nor result were a tenth of a login's API CPU (issue 14).
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute("BEGIN" if conn.get_execution_options().get(_READ_ONLY) else "BEGIN IMMEDIATE")
        finally:
            cursor.close()


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def make_read_sessionmaker(sessionmaker: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    """Sessions for code that only reads: on SQLite their transactions begin deferred, not
    IMMEDIATE, and on a SQLite file they run inline (see `_inline_reads`). One per engine."""
    engine: AsyncEngine = sessionmaker.kw["bind"]
    reads = _READS.get(engine)
    if reads is None:
        inline = _inline_reads(engine)
        if inline is None:
            return async_sessionmaker(engine.execution_options(**{_READ_ONLY: True}), expire_on_commit=False)
        reads = _READS[engine] = inline
    return reads


# The inline read sessionmaker of each SQLite file's engine (its sqlite3 connections are
# closed when the engine is disposed).
_READS: weakref.WeakKeyDictionary[AsyncEngine, async_sessionmaker[AsyncSession]] = weakref.WeakKeyDictionary()


def _inline_reads(engine: AsyncEngine) -> async_sessionmaker[AsyncSession] | None:
    """On a SQLite file: AsyncSessions whose statements run on stdlib sqlite3 right in the
    event loop, no thread hop (issue 14, login cost).

    Through aiosqlite every statement is several hops to its worker thread and back
    (cursor, execute, fetch, close, rollback: half of the imserver's samples in a login
    burst). An AsyncSession over a blocking engine never awaits: its greenlet runs each
    statement to the end at once. That is safe for reads only: in WAL mode a reader in a
    deferred transaction takes no lock, so it never waits on the busy timeout (which
    would stall the whole loop) for the message writer, nor makes it wait; and
    `query_only` turns a write there into an immediate error instead of a lock wait.
    """
    # A checkout must never wait for a connection: it would block the loop, and with it the
    # sessions that would give theirs back (no limit; past 8, a returned one is closed).
    twin = sync_sqlite_twin(engine, factory=_BufferingConnection, pool_size=8, max_overflow=-1)
    if twin is None:
        return None

    @event.listens_for(twin, "connect")
    def _read_only(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA query_only=ON")

    bound = twin.execution_options(**{_READ_ONLY: True})

    class _InlineSession(Session):
        def __init__(self, bind: Any = None, binds: Any = None, **kw: Any) -> None:
            super().__init__(bind=bound, **kw)

    @event.listens_for(engine.sync_engine, "engine_disposed")
    def _on_dispose(_engine: Engine) -> None:
        twin.dispose()

    return async_sessionmaker(class_=_InlineAsyncSession, sync_session_class=_InlineSession, expire_on_commit=False)


class _InlineAsyncSession(AsyncSession):
    async def __aexit__(self, type_: Any, value: Any, traceback: Any) -> None:
        # Closed here and now: AsyncSession closes in a task of its own (cancellation-safe
        # I/O), which would keep the connection out of the pool until a later loop turn.
        # Closing an inline session does no I/O that could be cancelled.
        self.sync_session.close()


async def create_all(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)


class _BufferedCursor(sqlite3.Cursor):
    """A cursor that fetches its whole result at execute, as SQLAlchemy's aiosqlite adapter
    does (connectors/asyncio.py AsyncAdapt_dbapi_cursor): rows stay readable after the
    session has ended, and AsyncSession finds the `_async_soft_close` it calls."""

    def __init__(self, connection: sqlite3.Connection, /) -> None:
        super().__init__(connection)
        self._rows: deque[Any] = deque()

    def execute(self, sql: str, parameters: Any = (), /) -> _BufferedCursor:
        super().execute(sql, parameters)
        self._rows = deque(super().fetchall() if self.description else ())
        return self

    def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        n = self.arraysize if size is None else size
        return [self._rows.popleft() for _ in range(min(n, len(self._rows)))]

    def fetchall(self) -> list[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows

    def __next__(self) -> Any:
        if not self._rows:
            raise StopIteration
        return self._rows.popleft()

    async def _async_soft_close(self) -> None:
        pass


class _BufferingConnection(sqlite3.Connection):
    def cursor(self, factory: Any = _BufferedCursor) -> Any:
        return super().cursor(factory)


class SmallWrites:
    """A short write transaction of blocking Core statements (issue 14, login cost).

    A fresh user's first login creates its version logs (a first read creates a log, as
    open-im-server mgo/version_log.go FindChangeLog's initDoc does); through aiosqlite that
    is a dozen thread hops per log. On a SQLite file the statements run on stdlib sqlite3:
    right in the loop when the write lock is free at once (a connection with no busy
    timeout: BEGIN IMMEDIATE either takes the lock or fails without waiting; in WAL with
    synchronous=NORMAL a one-row commit is an append to the WAL file), else in a thread of
    their own, where BEGIN IMMEDIATE waits for the lock (never in the loop); elsewhere in
    an ordinary async transaction.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        engine: AsyncEngine = sessions.kw["bind"]
        self._sessions = sessions
        self._twin = sync_sqlite_twin(engine)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="imserver-writes") if self._twin else None
        self._inline = sync_sqlite_twin(engine, pool_size=1, max_overflow=0)
        self._inline_conn: Connection | None = None
        if self._inline is not None:

            @event.listens_for(self._inline, "connect")
            def _no_wait(dbapi_connection: Any, _record: Any) -> None:
                dbapi_connection.execute("PRAGMA busy_timeout=0")  # after _install_sqlite_hooks' own

    async def run(self, fn: Callable[[Connection], _T]) -> _T:
        if self._inline is not None:
            if self._inline_conn is None:  # kept open: a checkout and a close cost more than the write
                self._inline_conn = self._inline.connect()
            try:
                transaction = self._inline_conn.begin()
            except (sqlite3.OperationalError, OperationalError):  # SQLITE_BUSY: the lock is taken
                pass  # wait for it in the thread
            else:
                with transaction:
                    return fn(self._inline_conn)
        if self._thread is not None:
            return await asyncio.get_running_loop().run_in_executor(self._thread, self._in_transaction, fn)
        async with self._sessions.begin() as session:
            return await session.run_sync(lambda sync: fn(sync.connection()))

    def _in_transaction(self, fn: Callable[[Connection], _T]) -> _T:
        assert self._twin is not None
        with self._twin.begin() as conn:
            return fn(conn)

    def close(self) -> None:
        if self._thread is not None:
            self._thread.shutdown(wait=True)
        if self._inline_conn is not None:
            self._inline_conn.close()
        for twin in (self._twin, self._inline):
            if twin is not None:
                twin.dispose()


_WRITES: weakref.WeakKeyDictionary[AsyncEngine, SmallWrites] = weakref.WeakKeyDictionary()


def small_writes_for(sessions: async_sessionmaker[AsyncSession]) -> SmallWrites:
    """One per database (as msgwriter.writer_for), closed when its engine is disposed."""
    engine: AsyncEngine = sessions.kw["bind"]
    writes = _WRITES.get(engine)
    if writes is None:
        writes = _WRITES[engine] = SmallWrites(sessions)

        @event.listens_for(engine.sync_engine, "engine_disposed")
        def _on_dispose(_engine: Engine) -> None:
            gone = _WRITES.pop(engine, None)
            if gone is not None:
                gone.close()

    return writes
