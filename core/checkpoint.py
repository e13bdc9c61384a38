"""Durable per-session checkpoint: sync versions and the last-seen relation state.

A parked or restarted core reloads it and syncs incrementally from it, so the
changes that happened while it was away surface as listener events (the role of
the official SDK's local SQLite `local_sync_version` and relation tables, 5.11).
One JSON document per (userID, platformID), stored through SQLAlchemy: SQLite
under the data directory by default, PostgreSQL in production.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import BigInteger, Insert, Integer, String, Text, and_, bindparam, delete, event, exists, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from core.errors import CheckpointUnavailable
from core.migrations import migrate

__all__ = ["CheckpointStore", "LocalMessageRow", "make_engine", "metadata", "migrate"]

T = TypeVar("T")


class _Base(DeclarativeBase):
    pass


class _Checkpoint(_Base):
    # The schema is owned by core/migrations; this mapping must match its head.
    __tablename__ = "core_checkpoints"

    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    platform_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[int] = mapped_column(Integer)
    # Owner fence of the writer; NULL for rows written without one.
    fence: Mapped[int | None] = mapped_column(BigInteger)


class LocalMessageRow(_Base):
    """Messages only this user's cores know: inserted locally (Insert*MessageToLocalStorage)
    or carrying a localEx (SetMessageLocalEx); the SDK's local chat log rows (issue 15)."""

    __tablename__ = "core_local_messages"

    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    client_msg_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    send_time: Mapped[int] = mapped_column(BigInteger)
    # The message's JSON (MsgStruct); NULL for a server message that only has a localEx here.
    data: Mapped[str | None] = mapped_column(Text)
    local_ex: Mapped[str] = mapped_column(Text)


metadata = _Base.metadata
_table = metadata.tables[_Checkpoint.__tablename__]


def make_engine(url: str) -> AsyncEngine:
    """An async engine for `url`; a SQLite file's folder is created, and SQLite
    waits on a locked database instead of failing at once."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """WAL with synchronous=NORMAL (issue 14): a commit appends to the WAL without
    an fsync, readers do not block the writer, and the rollback journal's
    create-write-fsync-delete per transaction is gone. A power cut may lose the
    last commits, never corrupt the file; a checkpoint that is one save behind is
    what a crash costs anyway (the next login syncs from the server)."""
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _upsert(dialect: str, values: dict[str, Any] | None, fence: int | None) -> Insert:
    """One INSERT .. ON CONFLICT DO UPDATE statement, so the fence check and the
    write are atomic: a concurrent writer's row is re-checked under its row lock
    (PostgreSQL) or the database write lock (SQLite). Without `values`, the
    statement takes its rows as parameters (built once, executed for many)."""
    stmt: postgresql.Insert | sqlite.Insert
    if dialect == "postgresql":
        stmt = postgresql.insert(_table)
    elif dialect == "sqlite":
        stmt = sqlite.insert(_table)
    else:
        raise ValueError(f"checkpoints support SQLite and PostgreSQL, not {dialect}")
    if values is not None:
        stmt = stmt.values(values)
    update = {"data": stmt.excluded.data, "updated_at": stmt.excluded.updated_at}
    if fence is None:  # unfenced: write, keep the stored fence
        return stmt.on_conflict_do_update(index_elements=list(_table.primary_key), set_=update)
    update["fence"] = stmt.excluded.fence
    return stmt.on_conflict_do_update(
        index_elements=list(_table.primary_key),
        set_=update,
        where=or_(_table.c.fence.is_(None), _table.c.fence <= stmt.excluded.fence),
    )


_COLUMNS = "user_id, platform_id, data, updated_at, fence"  # CheckpointStore.save's values, in order
_SQLITE_LOAD = f"SELECT data FROM {_table.name} WHERE user_id = ? AND platform_id = ?"
# _upsert's two shapes (unfenced, fenced) in qmark SQL.
_SQLITE_SAVE = {
    False: f"INSERT INTO {_table.name} ({_COLUMNS}) VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, platform_id) "
    "DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
    True: f"INSERT INTO {_table.name} ({_COLUMNS}) VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, platform_id) "
    "DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at, fence = excluded.fence "
    f"WHERE {_table.name}.fence IS NULL OR {_table.name}.fence <= excluded.fence",
}


async def _in_driver_thread(conn: AsyncConnection, fn: Callable[[sqlite3.Connection], T]) -> T:
    """``fn(sqlite3 connection)`` in aiosqlite's own thread, in one hop."""
    raw = await conn.get_raw_connection()
    aio: Any = raw.driver_connection
    return await aio._execute(fn, aio._conn)  # type: ignore[no-any-return]


@contextlib.contextmanager
def _unavailable(what: str) -> Iterator[None]:
    """The database's and its driver's errors as CheckpointUnavailable (a refused
    connection is an OSError from asyncpg, anything else SQLAlchemy's)."""
    try:
        yield
    except (SQLAlchemyError, OSError, sqlite3.Error) as exc:  # sqlite3's own: the one-hop statements
        raise CheckpointUnavailable(f"{what}: {type(exc).__name__}") from exc


class CheckpointStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        # save_many's two statements, built once (issue 14: rebuilding the upsert
        # per save was most of a checkpoint's CPU); fence=1 only selects the shape.
        self._many = {True: _upsert(self._dialect, None, 1), False: _upsert(self._dialect, None, None)}
        # load's read, built once: every login loads (an ORM Session.get was a session, an
        # identity map and a statement built per call, issue 14).
        # On aiosqlite, load and save run their statement on the sqlite3 connection in
        # aiosqlite's thread: one hop where SQLAlchemy took five (cursor, execute, close,
        # commit, reset), as bridge/sqlstore/driver.py does (core cannot import it).
        self._one_hop = engine.dialect.name == "sqlite" and engine.dialect.driver == "aiosqlite"
        self._load = select(_table.c.data).where(
            _table.c.user_id == bindparam("user_id"), _table.c.platform_id == bindparam("platform_id")
        )

    async def load(self, user_id: str, platform_id: int) -> dict[str, Any] | None:
        if self._one_hop:
            with _unavailable("load checkpoint"):
                async with self._engine.connect() as conn:
                    found = await _in_driver_thread(
                        conn, lambda db: db.execute(_SQLITE_LOAD, (user_id, platform_id)).fetchone()
                    )
            return json.loads(found[0]) if found else None
        with _unavailable("load checkpoint"):
            async with self._engine.connect() as conn:
                row = (await conn.execute(self._load, {"user_id": user_id, "platform_id": platform_id})).first()
        return json.loads(row.data) if row else None

    async def save(self, user_id: str, platform_id: int, data: dict[str, Any], *, fence: int | None = None) -> bool:
        """Write the checkpoint; with `fence`, only over a row whose fence is NULL
        or not greater (a stale owner must not overwrite its successor's row).
        False when refused."""
        values = {
            "user_id": user_id,
            "platform_id": platform_id,
            "data": json.dumps(data, separators=(",", ":")),
            "updated_at": int(time.time()),
            "fence": fence,
        }
        if self._one_hop:  # every login ends with a save: the upsert and its commit in one hop
            row = tuple(values.values())
            sql = _SQLITE_SAVE[fence is not None]

            def write(db: sqlite3.Connection) -> int:
                try:
                    count = db.execute(sql, row).rowcount
                    db.commit()
                except BaseException:
                    db.rollback()
                    raise
                return count

            with _unavailable("save checkpoint"):
                async with self._engine.connect() as conn:
                    return bool(await _in_driver_thread(conn, write))
        with _unavailable("save checkpoint"):
            async with self._engine.begin() as conn:
                result = await conn.execute(self._many[fence is not None], values)  # save_many's statement
        return bool(result.rowcount)

    async def save_many(self, rows: list[tuple[str, int, dict[str, Any], int | None]]) -> None:
        """Write many checkpoints (user, platform, data, fence) in one transaction.

        The same fence rule as :meth:`save`, row by row; a refused row is left
        as it is (its newer owner's), without telling which.
        """
        if not rows:
            return
        now = int(time.time())
        params: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
        for user_id, platform_id, data, fence in rows:
            params[fence is not None].append(
                {
                    "user_id": user_id,
                    "platform_id": platform_id,
                    "data": json.dumps(data, separators=(",", ":")),
                    "updated_at": now,
                    "fence": fence,
                }
            )
        with _unavailable("save checkpoints"):
            async with self._engine.begin() as conn:
                for fenced, batch in params.items():
                    if batch:
                        await conn.execute(self._many[fenced], batch)

    async def delete(self, user_id: str, platform_id: int, *, fence: int | None = None) -> bool:
        """Delete the checkpoint; with `fence`, refused (False) while the stored
        row carries a greater fence. Deleting an absent row succeeds."""
        key = and_(_table.c.user_id == user_id, _table.c.platform_id == platform_id)
        with _unavailable("delete checkpoint"):
            async with self._engine.begin() as conn:
                if fence is None:
                    await conn.execute(delete(_table).where(key))
                    return True
                allowed = or_(_table.c.fence.is_(None), _table.c.fence <= fence)
                if (await conn.execute(delete(_table).where(key, allowed))).rowcount:
                    return True
                # Nothing deleted: refused only if a newer owner's row is there.
                newer = select(exists().where(key, _table.c.fence > fence))
                return not (await conn.execute(newer)).scalar()

    @property
    def engine(self) -> AsyncEngine:
        """The checkpoint database, which also keeps the local message store (core/local_store.py)."""
        return self._engine

    async def count(self) -> int:
        async with self._sessions() as s:
            return len((await s.execute(select(_Checkpoint.user_id))).all())
