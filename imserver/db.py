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

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

__all__ = [
    "SQLITE_BUSY_TIMEOUT_MS",
    "Base",
    "create_all",
    "make_engine",
    "make_read_sessionmaker",
    "make_sessionmaker",
    "sync_sqlite_twin",
]

SQLITE_BUSY_TIMEOUT_MS = 30_000
_READ_ONLY = "imserver_read_only"


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


def sync_sqlite_twin(engine: AsyncEngine) -> Engine | None:
    """A blocking engine on the same SQLite file (stdlib sqlite3, same pragmas), for code that
    runs many statements in one worker thread instead of one aiosqlite thread hop per
    statement; None for other databases and for in-memory SQLite (a second connection
    would open a different database)."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    twin = create_engine(url.set(drivername="sqlite"), connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
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
        # so it neither waits for the message writer nor makes it wait.
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(_READ_ONLY) else "BEGIN IMMEDIATE")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def make_read_sessionmaker(sessionmaker: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    """Sessions for code that only reads: on SQLite their transactions begin deferred, not
    IMMEDIATE (a write in one would fail with SQLITE_BUSY instead of waiting)."""
    engine: AsyncEngine = sessionmaker.kw["bind"]
    return async_sessionmaker(engine.execution_options(**{_READ_ONLY: True}), expire_on_commit=False)


async def create_all(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
