"""Read transactions of prebuilt Core statements, rows as tuples with attribute access.

`reads_for(sessions)` runs a synchronous function of a `ReadTx` in one read transaction
(issue 14, login cost: what was left of a login's imserver CPU was SQLAlchemy ORM
sessions and statements built on each call, ~30 statements per login):

* on a SQLite file, right in the event loop on one stdlib sqlite3 connection of its own
  (WAL, `query_only`, a deferred BEGIN: a reader takes no lock, so it never waits on the
  message writer nor makes it wait, as db.make_read_sessionmaker). Each statement is
  compiled once and runs as its SQL text; rows are named tuples;
* elsewhere (PostgreSQL, in-memory SQLite), the same function on a SQLAlchemy
  connection through `run_sync`: the same statements, rows are SQLAlchemy `Row`s.

Statements are module constants with `bindparam`s (expanding ones for IN lists).
"""

from __future__ import annotations

import sqlite3
import weakref
from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.sql import Select

from imserver.db import SQLITE_BUSY_TIMEOUT_MS

__all__ = ["ReadTx", "Reads", "reads_for"]

_T = TypeVar("_T")
# Any SELECT, whatever its columns.
AnySelect = Select[*tuple[Any, ...]]


class ReadTx(Protocol):
    def rows(self, stmt: AnySelect, params: Mapping[str, Any] | None = None) -> Sequence[Any]:
        """Every row; each reads like the ORM object (`row.user_id`)."""

    def scalar(self, stmt: AnySelect, params: Mapping[str, Any] | None = None) -> Any:
        """The first column of the first row (None without rows)."""


class Reads:
    async def run(self, fn: Callable[[ReadTx], _T]) -> _T:
        raise NotImplementedError


class _Compiled:
    __slots__ = ("defaults", "expanding", "names", "processors", "row", "sql")

    def __init__(self, stmt: AnySelect, dialect: Any) -> None:
        compiled = stmt.compile(dialect=dialect)
        self.sql: str = compiled.string
        self.names: list[str] = list(compiled.positiontup or ())
        binds = compiled.bind_names  # bind -> its name in the SQL
        self.expanding = {name for b, name in binds.items() if b.expanding}
        # Literal values in the statement (`col == 5`, `col.in_([1, 2])`) are binds with a value.
        self.defaults = {name: b.effective_value for b, name in binds.items() if not b.required}
        columns = list(stmt.selected_columns)
        self.row: Any = namedtuple("Row", [c.key for c in columns], rename=True)  # type: ignore[misc]
        procs = [c.type._cached_result_processor(dialect, None) for c in columns]
        self.processors = procs if any(procs) else None

    def statement(self, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
        if self.defaults:
            params = {**self.defaults, **params}
        if not self.expanding:
            return self.sql, [params[n] for n in self.names]
        sql, values = self.sql, []
        for name in self.names:
            if name in self.expanding:
                items = list(params[name])
                if not items:  # callers skip empty IN lists: SQL has no empty list
                    raise ValueError(f"empty IN list for {name}")
                sql = sql.replace(f"__[POSTCOMPILE_{name}]", ", ".join("?" * len(items)), 1)
                values.extend(items)
            else:
                values.append(params[name])
        return sql, values


class _SqliteTx:
    __slots__ = ("_cache", "_dialect", "conn")

    def __init__(self, conn: sqlite3.Connection, dialect: Any, cache: dict[AnySelect, _Compiled]) -> None:
        self.conn, self._dialect = conn, dialect
        # By statement object (identity: statements are module-level constants).
        self._cache = cache

    def _compiled(self, stmt: AnySelect) -> _Compiled:
        c = self._cache.get(stmt)
        if c is None:
            c = self._cache[stmt] = _Compiled(stmt, self._dialect)
        return c

    def rows(self, stmt: AnySelect, params: Mapping[str, Any] | None = None) -> Sequence[Any]:
        c = self._compiled(stmt)
        sql, values = c.statement(params or {})
        raw = self.conn.execute(sql, values).fetchall()
        if c.processors is not None:
            procs = c.processors
            raw = [tuple(v if p is None else p(v) for p, v in zip(procs, r, strict=True)) for r in raw]
        make = c.row._make
        return [make(r) for r in raw]

    def scalar(self, stmt: AnySelect, params: Mapping[str, Any] | None = None) -> Any:
        rows = self.rows(stmt, params)
        return rows[0][0] if rows else None


class _SqliteReads(Reads):
    def __init__(self, path: str, dialect: Any) -> None:
        self._path, self._dialect = path, dialect
        self._tx: _SqliteTx | None = None
        self._cache: dict[AnySelect, _Compiled] = {}
        self._busy = False

    def _open(self) -> _SqliteTx:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA query_only=ON")
        self._tx = _SqliteTx(conn, self._dialect, self._cache)
        return self._tx

    async def run(self, fn: Callable[[ReadTx], _T]) -> _T:
        # Synchronous from BEGIN to the end: no other coroutine can use the connection meanwhile.
        if self._busy:
            raise RuntimeError("nested read transaction")
        tx = self._tx or self._open()
        self._busy = True
        tx.conn.execute("BEGIN")
        try:
            return fn(tx)
        finally:
            tx.conn.execute("ROLLBACK")
            self._busy = False

    def close(self) -> None:
        """Close the connection (the engine was disposed); a later read opens a new one, as a
        disposed engine's pool does."""
        if self._tx is not None:
            self._tx.conn.close()
            self._tx = None


class _SyncTx:
    __slots__ = ("_conn",)

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def rows(self, stmt: AnySelect, params: Mapping[str, Any] | None = None) -> Sequence[Any]:
        return self._conn.execute(stmt, dict(params or {})).all()

    def scalar(self, stmt: AnySelect, params: Mapping[str, Any] | None = None) -> Any:
        return self._conn.execute(stmt, dict(params or {})).scalar()


class _EngineReads(Reads):
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        # The read-only sessionmaker's engine: deferred BEGIN on SQLite (db._on_begin).
        from imserver.db import make_read_sessionmaker

        self._sessions = make_read_sessionmaker(sessions)

    async def run(self, fn: Callable[[ReadTx], _T]) -> _T:
        async with self._sessions() as session:
            return await session.run_sync(lambda sync: fn(_SyncTx(sync.connection())))


_READS: weakref.WeakKeyDictionary[AsyncEngine, Reads] = weakref.WeakKeyDictionary()


def reads_for(sessions: async_sessionmaker[AsyncSession]) -> Reads:
    """One per database; a SQLite file's connection is closed when its engine is disposed."""
    engine: AsyncEngine = sessions.kw["bind"]
    reads = _READS.get(engine)
    if reads is not None:
        return reads
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        sqlite_reads = _SqliteReads(str(url.database), engine.dialect)

        @event.listens_for(engine.sync_engine, "engine_disposed")
        def _on_dispose(_engine: Engine) -> None:
            sqlite_reads.close()

        reads = sqlite_reads
    else:
        reads = _EngineReads(sessions)
    _READS[engine] = reads
    return reads


def expand(values: Iterable[str]) -> list[str]:
    """An IN list's values, de-duplicated in order."""
    return list(dict.fromkeys(values))
