"""One writer for stored messages: a queue, group commit, SQLAlchemy Core statements built once.

Every message that is stored (gateway 1003, HTTP send_msg, notifications) goes through the
writer of its database: senders queue their copy and wait; one task takes whatever is queued
(up to `max_batch`) and stores it in one transaction, then answers each sender. Messages that
arrive while a transaction commits ride in the next one, so the batch grows with the load and
a lone message is not held back by a timer.

Why (bench/README.md, issue 14): one SQLite transaction per message through several pooled
connections spent most of its CPU in the ORM and in aiosqlite thread hops, and the connections
queued on SQLite's single write lock (multi-second p99). One writer holds that lock once per
batch instead of once per message, and never contends with itself.

Correctness:

* seqs: one writer allocates every seq, in queue order, with a single upsert ... RETURNING
  inside the transaction, so each conversation's seqs stay consecutive; a rolled-back batch
  gives its seqs back with the rollback.
* a failing message fails only its own send: when a batch's transaction fails, each of its
  messages is stored again in a transaction of its own, and only the ones that fail then get
  the error.
* a resent clientMsgID is found by the look-up in the same transaction, even when its twin is
  earlier in the same batch.
* `close` stores what is queued before it returns.

The statements are SQLAlchemy Core, built once. On a SQLite file they are compiled once and
run on stdlib sqlite3 in the writer's own thread (one thread hop per batch, no per-statement
SQLAlchemy work); elsewhere through the async engine's `run_sync` (PostgreSQL: asyncpg).
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, Executable

import imserver.msgstore as tables  # the table models (msgstore imports this module: no names at import)
from core.protocol import openim_pb2 as pb
from imserver.db import sync_sqlite_twin

__all__ = ["MessageWriter", "close_writer", "writer_for"]

_MAX_BATCH = 256


class _Statements:
    """The send path's statements for one dialect, built once."""

    def __init__(self, dialect: str) -> None:
        if dialect == "sqlite":
            ins: Any = sqlite_insert
        elif dialect == "postgresql":
            ins = pg_insert
        else:
            raise ValueError(f"imserver stores messages on SQLite or PostgreSQL, not {dialect}")
        msg, seq, user = tables.StoredMsg, tables.ConversationSeq, tables.UserConversationSeq
        self.find = select(msg.data).where(msg.conversation_id == bindparam("c"), msg.client_msg_id == bindparam("cid"))
        # The old insert-ignore + UPDATE + SELECT in one statement; min_seq is left as it is.
        upsert = ins(seq).values(conversation_id=bindparam("c"), max_seq=1, min_seq=0, max_seq_time=bindparam("now"))
        self.alloc = upsert.on_conflict_do_update(
            index_elements=[seq.conversation_id],
            set_={"max_seq": seq.max_seq + 1, "max_seq_time": upsert.excluded.max_seq_time},
        ).returning(seq.max_seq)
        self.store = insert(msg).values(
            conversation_id=bindparam("c"),
            seq=bindparam("seq"),
            client_msg_id=bindparam("cid"),
            send_id=bindparam("send"),
            send_time=bindparam("time"),
            data=bindparam("data"),
            is_read=False,
            revoke=None,
        )
        self.members = (
            ins(user)
            .values(
                user_id=bindparam("u"),
                conversation_id=bindparam("c"),
                has_read_seq=0,
                min_seq=0,
                max_seq=0,
                create_time=bindparam("now"),
            )
            .on_conflict_do_nothing()
        )
        # BatchInsertChat2Cache: the sender has read its own message (raise, never lower).
        self.read = (
            update(user)
            .where(
                user.user_id == bindparam("u"),
                user.conversation_id == bindparam("c"),
                user.has_read_seq < bindparam("seq"),
            )
            .values(has_read_seq=bindparam("seq"))
        )

    def all(self) -> list[Executable]:
        return [self.find, self.alloc, self.store, self.members, self.read]


class _Run(Protocol):
    """Runs the statements inside the writer's open transaction."""

    def scalar(self, stmt: Executable, params: dict[str, Any]) -> Any: ...
    def execute(self, stmt: Executable, params: dict[str, Any]) -> None: ...
    def executemany(self, stmt: Executable, rows: list[dict[str, Any]]) -> None: ...


@dataclass(frozen=True, slots=True)
class _OnConnection:
    """Through SQLAlchemy (PostgreSQL, in-memory SQLite)."""

    conn: Connection

    def scalar(self, stmt: Executable, params: dict[str, Any]) -> Any:
        return self.conn.execute(stmt, params).scalar()

    def execute(self, stmt: Executable, params: dict[str, Any]) -> None:
        self.conn.execute(stmt, params)

    def executemany(self, stmt: Executable, rows: list[dict[str, Any]]) -> None:
        self.conn.execute(stmt, rows)


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # the qmark parameters in order
    defaults: dict[str, Any]  # values of the statements' literal parameters

    def args(self, params: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(params[k] if k in params else self.defaults[k] for k in self.names)


def compile_for_sqlite(statements: list[Executable], dialect: Dialect) -> dict[Executable, _Compiled]:
    """The statements' SQL, compiled once for stdlib sqlite3 (each execution through SQLAlchemy
    would still rebuild the statement's cache key, most of its per-statement cost)."""
    out: dict[Executable, _Compiled] = {}
    for stmt in statements:
        assert isinstance(stmt, ClauseElement)
        compiled = stmt.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler) and compiled.positiontup is not None  # qmark
        literals = {name: bind.value for name, bind in compiled.binds.items() if not bind.required}
        out[stmt] = _Compiled(compiled.string, tuple(compiled.positiontup), literals)
    return out


@dataclass(frozen=True, slots=True)
class _OnSqlite3:
    """Straight on the sqlite3 connection of the open transaction."""

    db: sqlite3.Connection
    compiled: dict[Executable, _Compiled]

    def scalar(self, stmt: Executable, params: dict[str, Any]) -> Any:
        c = self.compiled[stmt]
        row = self.db.execute(c.sql, c.args(params)).fetchone()
        return None if row is None else row[0]

    def execute(self, stmt: Executable, params: dict[str, Any]) -> None:
        c = self.compiled[stmt]
        self.db.execute(c.sql, c.args(params))

    def executemany(self, stmt: Executable, rows: list[dict[str, Any]]) -> None:
        c = self.compiled[stmt]
        self.db.executemany(c.sql, [c.args(r) for r in rows])


@dataclass(slots=True)
class _Item:
    msg: pb.MsgData
    conversation_id: str
    members: Sequence[str]
    now_ms: int
    done: asyncio.Future[tuple[pb.MsgData, bool]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


def _store_one(run: _Run, st: _Statements, item: _Item) -> tuple[pb.MsgData, bool]:
    msg, c = item.msg, item.conversation_id
    if msg.clientMsgID:
        first = run.scalar(st.find, {"c": c, "cid": msg.clientMsgID})
        if first is not None:
            return pb.MsgData.FromString(first), True
    seq = run.scalar(st.alloc, {"c": c, "now": item.now_ms})
    if seq is None:
        raise RuntimeError(f"no seq allocated for {c}")
    msg.seq = seq
    data = msg.SerializeToString(deterministic=True)
    params = {
        "c": c,
        "seq": seq,
        "cid": msg.clientMsgID or None,
        "send": msg.sendID,
        "time": msg.sendTime,
        "data": data,
    }
    run.execute(st.store, params)
    members = [{"u": u, "c": c, "now": item.now_ms} for u in dict.fromkeys(item.members)]
    if members:
        run.executemany(st.members, members)
    if not c.startswith("n_"):
        run.execute(st.read, {"u": msg.sendID, "c": c, "seq": seq})
    return msg, False


def _store_batch(run: _Run, st: _Statements, items: list[_Item]) -> list[tuple[pb.MsgData, bool]]:
    return [_store_one(run, st, item) for item in items]


class MessageWriter:
    def __init__(self, engine: AsyncEngine, max_batch: int = _MAX_BATCH) -> None:
        self._engine = engine
        self._st = _Statements(engine.dialect.name)
        self._max_batch = max_batch
        # SQLite file: the batch runs on stdlib sqlite3 in one thread of our own, one hop per
        # batch (aiosqlite would hop once per statement); else through the async engine.
        self._sync = sync_sqlite_twin(engine)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="imserver-msgwriter") if self._sync else None
        self._compiled = compile_for_sqlite(self._st.all(), self._sync.dialect) if self._sync else None
        self._queue: asyncio.Queue[_Item | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.closed = False
        self.loop = asyncio.get_running_loop()
        # Transactions committed and messages they held (tests and the bench read them).
        self.batches = 0
        self.stored = 0

    async def store(
        self, msg: pb.MsgData, conversation_id: str, members: Sequence[str], now_ms: int
    ) -> tuple[pb.MsgData, bool]:
        """Assign `msg` its seq and store it; (the stored message, whether it was a resend)."""
        return await self.submit(msg, conversation_id, members, now_ms)

    def submit(
        self, msg: pb.MsgData, conversation_id: str, members: Sequence[str], now_ms: int
    ) -> asyncio.Future[tuple[pb.MsgData, bool]]:
        """Queue `msg` now; the future is answered once its transaction committed (or failed)."""
        if self.closed:
            raise RuntimeError("the message writer is closed")
        item = _Item(msg, conversation_id, members, now_ms)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="imserver-msgwriter")
        self._queue.put_nowait(item)
        return item.done

    async def close(self) -> None:
        """Store everything queued, then stop."""
        self.closed = True
        if self._task is not None:
            self._queue.put_nowait(None)
            await self._task
        if self._thread is not None and self._sync is not None:
            self._thread.shutdown()
            self._sync.dispose()

    async def _run(self) -> None:
        stop = False
        while not stop:
            first = await self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self._max_batch and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is None:
                    stop = True
                    break
                batch.append(item)
            await self._commit(batch)

    async def _commit(self, batch: list[_Item]) -> None:
        try:
            results = await self._transaction(batch)
        except Exception as exc:
            if len(batch) == 1:
                _fail(batch[0], exc)
                return
            # Store each on its own (the batch's seqs were rolled back) so only the failing ones fail.
            for item in batch:
                try:
                    _answer(item, (await self._transaction([item]))[0])
                except Exception as one_exc:
                    _fail(item, one_exc)
            return
        for item, result in zip(batch, results, strict=True):
            _answer(item, result)

    async def _transaction(self, batch: list[_Item]) -> list[tuple[pb.MsgData, bool]]:
        if self._thread is not None:
            results = await self.loop.run_in_executor(self._thread, self._blocking_transaction, batch)
        else:
            async with self._engine.begin() as conn:
                results = await conn.run_sync(lambda sync: _store_batch(_OnConnection(sync), self._st, batch))
        self.batches += 1
        self.stored += len(batch)
        return results

    def _blocking_transaction(self, batch: list[_Item]) -> list[tuple[pb.MsgData, bool]]:
        assert self._sync is not None and self._compiled is not None
        with self._sync.begin() as conn:
            db = conn.connection.driver_connection
            assert isinstance(db, sqlite3.Connection)
            return _store_batch(_OnSqlite3(db, self._compiled), self._st, batch)


def _answer(item: _Item, result: tuple[pb.MsgData, bool]) -> None:
    if not item.done.done():  # the sender may have given up (cancelled)
        item.done.set_result(result)


def _fail(item: _Item, exc: Exception) -> None:
    if not item.done.done():
        item.done.set_exception(exc)


# Every path that stores messages shares its database's writer, without each constructor
# between run_imserver and the gateway, the notifier and the HTTP API taking one more argument.
_WRITERS: weakref.WeakKeyDictionary[AsyncEngine, MessageWriter] = weakref.WeakKeyDictionary()


def writer_for(sessionmaker: async_sessionmaker[AsyncSession]) -> MessageWriter:
    engine = sessionmaker.kw["bind"]
    writer = _WRITERS.get(engine)
    if writer is None or writer.loop is not asyncio.get_running_loop() or writer.closed:
        writer = _WRITERS[engine] = MessageWriter(engine)
    return writer


async def close_writer(engine: AsyncEngine) -> None:
    writer = _WRITERS.pop(engine, None)
    if writer is not None:
        await writer.close()
