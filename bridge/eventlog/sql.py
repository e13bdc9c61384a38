"""Event logs in the node's SQL database: a single node that outlives its restarts (issue 12).

Without Redis, a node's sessions, event ids and cursors must survive ``kill -9``
and upgrades. Each event is a row of ``bridge_events`` (schema in
bridge/sqlstore/schema.py), written by the group committer
(bridge/sqlstore/writer.py) together with its delivery marks, in one
transaction: a revived core resumes after the last message the log holds,
so a crash neither loses nor repeats one. Readers are woken only after the
commit, so no client sees an event a crash could take back.

This backend serves one node (bridge/sqlstore/database.py refuses a second one
on the same database), so the writer keeps each active session's counters in
memory (last id, end offset, the retained head) and waiting is in-process, as
in memory.py. Retention as in redis.py: by count, by bytes (``o`` offsets,
the newest always stays) and by age (``t``, wall time, never decreasing along
a log); applied at append, filtered at read (a read never writes), and a quiet
log's old events are deleted by the sweeper (bridge/sqlstore/sweeper.py).
Fences are not checked: one node, one writer (as memory.py). Being the only
writer also lets the node answer most reads itself: the newest committed
events of each session are kept in memory (bridge/eventlog/_tail.py), so a
stream woken by a commit reads no row back (issue 14).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge.sqlstore import schema
from bridge.sqlstore.database import SqlDatabase, database_errors
from bridge.sqlstore.writer import GroupWriter, Job

from . import sql_queries as queries
from ._sql_batch import FLUSH, Counters, Pending, log_row, pending, raise_marks
from ._tail import Tails
from .base import (
    DEFAULT_MAX_BYTES,
    DEFAULT_READ_LIMIT,
    Entry,
    EventLog,
    Fence,
    Mark,
    ReadResult,
    StoredEvent,
    check_limit,
    check_retention,
    event_size,
    read_or_wait,
)

__all__ = ["SqlEventLog"]

_ev, _logs, _marks = schema.events, schema.logs, schema.marks
#: Sessions whose counters the writer keeps in memory (least recently written go first; reloaded on demand).
_CACHED = 50_000


class _Wake:
    """The wake-up a session's waiters share; replaced at every wake ("generation")."""

    __slots__ = ("gone", "waiters", "wakeup")

    def __init__(self) -> None:
        self.wakeup = asyncio.Event()
        self.waiters = 0
        self.gone = False

    def wake(self) -> None:
        self.wakeup.set()
        self.wakeup = asyncio.Event()


class SqlEventLog(EventLog):
    def __init__(
        self,
        db: SqlDatabase,
        writer: GroupWriter,
        *,
        max_events: int = 10000,
        max_age: float = 3600.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        clock: Callable[[], float] = time.time,
        tail_events: int = 256,
    ) -> None:
        check_retention(max_events, max_age, max_bytes)
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.max_age = max_age
        self.dropped = 0
        self._db = db
        self._writer = writer
        self._clock = clock
        self._counters: OrderedDict[str, Counters] = OrderedDict()
        self._wakes: dict[str, _Wake] = {}
        # Reads in flight for waiters, by (session, cursor, limit, wake generation): the
        # streams of a session woken by one commit share one SELECT (issue 14).
        self._reads: dict[tuple[str, int, int, asyncio.Event], asyncio.Future[ReadResult | None]] = {}
        # The newest committed events, so a woken stream's read needs no database round trip.
        self.tails = Tails(per_session=tail_events)
        self._closed = False

    # -- writing ---------------------------------------------------------------

    async def append(
        self,
        session_id: str,
        event: str,
        data: str,
        *,
        marks: Sequence[Mark] = (),
        fence: Fence | None = None,  # one node, one writer: nothing to check
    ) -> StoredEvent:
        return (await self.append_many(session_id, [(event, data, marks)]))[0]

    async def append_many(
        self, session_id: str, events: Sequence[Entry], *, fence: Fence | None = None
    ) -> list[StoredEvent]:
        """One job, so one transaction: the events of a core's batch cost one commit (issue 14)."""
        sized = [(event, data, marks, event_size(event, data)) for event, data, marks in events]
        written: list[tuple[StoredEvent, float, int]] = []  # what ``run`` wrote, for ``committed``
        counters: list[Counters] = []

        async def run(conn: AsyncConnection, scratch: dict[str, Any]) -> list[StoredEvent]:
            written.clear()  # run once per batch; a retried call is a new job
            c = await self._load(conn, session_id)
            batch = pending(scratch)
            for event, data, marks, size in sized:
                t = max(self._clock(), c.last_t)
                c.last_id += 1
                row = {"session_id": session_id, "id": c.last_id, "event": event, "data": data, "t": t}
                row["o"] = c.end_offset
                if c.head is None:
                    c.head = (c.last_id, c.end_offset, t)
                c.end_offset += size
                c.last_t = t
                batch.rows.append(row)
                batch.sessions[session_id] = (c, size)
                raise_marks(batch.marks, session_id, marks)
                written.append((StoredEvent(c.last_id, event, data), t, size))
            counters.append(c)
            return [stored for stored, _, _ in written]

        def committed() -> None:
            # Runs after the batch's commit, jobs in commit order, before the wake-up. ``c.head``
            # is the batch's final head: an event its own batch trimmed goes again at once.
            for stored, t, size in written:
                self.tails.add(session_id, stored, t, size)
            c = counters[-1] if counters else None
            if c is None or c.head is None:
                self.tails.forget(session_id)
            else:
                self.tails.trim(session_id, c.head[0])

        if not sized:
            return []
        return await self._submit(session_id, run, committed, len(sized))  # type: ignore[no-any-return]

    async def mark(self, session_id: str, marks: Sequence[Mark], *, fence: Fence | None = None) -> None:
        if not marks:
            return

        async def run(conn: AsyncConnection, scratch: dict[str, Any]) -> None:
            raise_marks(pending(scratch).marks, session_id, marks)

        await self._writer.submit(Job(run, flush=(FLUSH, self._flush)))

    async def drop(self, session_id: str) -> None:
        async def run(conn: AsyncConnection, scratch: dict[str, Any]) -> None:
            await self._flush(conn, scratch)  # appends earlier in this batch go first, then all of it
            for table in (_ev, _logs, _marks):
                await conn.execute(delete(table).where(table.c.session_id == session_id))
            self._counters.pop(session_id, None)

        def after() -> None:
            self.tails.forget(session_id)
            wake = self._wakes.pop(session_id, None)
            if wake is not None:
                wake.gone = True
                wake.wake()

        await self._writer.submit(Job(run, after=after, rollback=self._forget_all))

    def _forget_all(self) -> None:
        """A failed batch: what the writer and the tails assumed is reloaded from the database."""
        self._counters.clear()
        self.tails.clear()

    async def _submit(self, session_id: str, run: Any, committed: Callable[[], None], size: int) -> Any:
        def after() -> None:
            committed()
            wake = self._wakes.get(session_id)
            if wake is not None:
                wake.wake()

        # A failed batch leaves the counters ahead of the database: reload them next time.
        job = Job(run, after=after, rollback=self._forget_all, flush=(FLUSH, self._flush), size=size)
        return await self._writer.submit(job)

    async def _load(self, conn: AsyncConnection, session_id: str) -> Counters:
        c = self._counters.get(session_id)
        if c is not None:
            self._counters.move_to_end(session_id)
            return c
        if self._db.dialect == "sqlite":  # a new session's first append: both reads in one hop
            row, head = await queries.sqlite_counters(conn, session_id)
        else:
            row = (
                await conn.execute(
                    select(_logs.c.last_id, _logs.c.end_offset, _logs.c.last_t).where(_logs.c.session_id == session_id)
                )
            ).first()
            head = (
                await conn.execute(
                    select(_ev.c.id, _ev.c.o, _ev.c.t).where(_ev.c.session_id == session_id).order_by(_ev.c.id).limit(1)
                )
            ).first()
        head_t = None if head is None else (int(head[0]), int(head[1]), float(head[2]))
        if row is None:
            c = Counters(0, 0, 0.0, head_t, False)
        else:
            c = Counters(int(row[0]), int(row[1]), float(row[2]), head_t, True)
        self._counters[session_id] = c
        while len(self._counters) > _CACHED:
            self._counters.popitem(last=False)
        return c

    async def _flush(self, conn: AsyncConnection, scratch: dict[str, Any]) -> None:
        """The batch's appends as a few multi-row statements, then retention per touched log."""
        batch = pending(scratch)
        if self._db.dialect == "sqlite":
            logs = [(sid, c.last_id, c.end_offset, c.last_t) for sid, (c, _) in batch.sessions.items()]
            await queries.sqlite_batch(conn, batch.rows, logs, batch.marks)
            for c, _ in batch.sessions.values():
                c.stored = True
        else:
            await _flush_generic(conn, batch, self._db.dialect)
        for sid, (c, last_size) in batch.sessions.items():
            await self._trim(conn, sid, c, last_size)
        scratch.pop(FLUSH, None)

    async def _trim(self, conn: AsyncConnection, session_id: str, c: Counters, last_size: int) -> None:
        """Drop the prefix of the log that count, bytes or age retention no longer keeps."""
        if c.head is None:
            return
        count_cut = c.last_id - self.max_events  # ids up to here go
        newest_o = c.end_offset - last_size
        min_off = min(c.end_offset - self.max_bytes, newest_o)  # the newest stays whatever its size
        cutoff = self._clock() - self.max_age
        head_id, head_o, head_t = c.head
        if head_id > count_cut and head_o >= min_off and head_t >= cutoff:
            return
        keep = (
            await conn.execute(
                select(_ev.c.id, _ev.c.o, _ev.c.t)
                .where(
                    _ev.c.session_id == session_id,
                    _ev.c.id > count_cut,
                    _ev.c.o >= min_off,
                    _ev.c.t >= cutoff,
                )
                .order_by(_ev.c.id)
                .limit(1)
            )
        ).first()
        first_kept = c.last_id + 1 if keep is None else int(keep[0])
        result = await conn.execute(delete(_ev).where(_ev.c.session_id == session_id, _ev.c.id < first_kept))
        self.dropped += max(int(result.rowcount or 0), 0)
        c.head = None if keep is None else (int(keep[0]), int(keep[1]), float(keep[2]))

    # -- reading ---------------------------------------------------------------

    async def read_after(self, session_id: str, after: int, limit: int = DEFAULT_READ_LIMIT) -> ReadResult:
        check_limit(limit)
        return await self._read(session_id, after, limit)

    # ASYNC109 (timeout parameter): the contract's own timeout, see base.py.
    async def wait_after(
        self,
        session_id: str,
        after: int,
        timeout: float,
        limit: int = DEFAULT_READ_LIMIT,
    ) -> ReadResult:
        check_limit(limit)
        if timeout <= 0 or self._closed:
            return await self._read(session_id, after, limit)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        wake = self._wakes.get(session_id)
        if wake is None:
            wake = self._wakes[session_id] = _Wake()
        wake.waiters += 1
        try:
            return await read_or_wait(lambda gen: self._read_shared(session_id, after, limit, gen), wake, deadline)
        finally:
            wake.waiters -= 1
            if not wake.waiters and self._wakes.get(session_id) is wake:
                del self._wakes[session_id]

    async def _read_shared(self, session_id: str, after: int, limit: int, generation: asyncio.Event) -> ReadResult:
        """`_read`, or the answer of the same read another waiter of this wake generation
        has in flight. Sharing it loses no wake-up: a commit that read misses came after
        it began, so after `generation` was taken, and set it (or it was set before)."""
        key = (session_id, after, limit, generation)
        pending = self._reads.get(key)
        if pending is not None:
            shared = await asyncio.shield(pending)
            if shared is not None:
                return shared
            return await self._read(session_id, after, limit)  # its reader failed or left: our own
        fut: asyncio.Future[ReadResult | None] = asyncio.get_running_loop().create_future()
        self._reads[key] = fut
        result: ReadResult | None = None
        try:
            result = await self._read(session_id, after, limit)
            return result
        finally:
            del self._reads[key]
            fut.set_result(result)  # None: the others read for themselves

    async def _read(self, session_id: str, after: int, limit: int) -> ReadResult:
        cutoff = self._clock() - self.max_age
        cached = self.tails.read(session_id, after, limit, cutoff)
        if cached is not None:
            return cached
        with database_errors("read event log"):
            async with self._db.reader.connect() as conn:
                rows = await queries.rows(conn, session_id, after, cutoff, limit)
                if rows:
                    return ReadResult(rows, rows[0].id != after + 1)
                last = await queries.last_id(conn, session_id)
                if after > last:  # a cursor from a lost history: start over at the oldest retained
                    return ReadResult(await queries.rows(conn, session_id, 0, cutoff, limit), True)
                if after == last:
                    return ReadResult([], False)
                # Events after the cursor existed: trimmed, or committed between the two queries.
                rows = await queries.rows(conn, session_id, after, cutoff, limit)
                return ReadResult(rows, not rows or rows[0].id != after + 1)

    async def last_id(self, session_id: str) -> int:
        cached = self.tails.last_id(session_id)
        if cached is not None:
            return cached
        with database_errors("read event log"):
            async with self._db.reader.connect() as conn:
                return await queries.last_id(conn, session_id)

    async def delivered(self, session_id: str) -> dict[str, int]:
        with database_errors("read delivery marks"):
            async with self._db.reader.connect() as conn:
                rows = await conn.execute(
                    select(_marks.c.conversation_id, _marks.c.seq).where(_marks.c.session_id == session_id)
                )
                return {str(r.conversation_id): int(r.seq) for r in rows}

    async def aclose(self) -> None:
        self._closed = True
        wakes, self._wakes = self._wakes, {}
        for wake in wakes.values():
            wake.gone = True
            wake.wake()


async def _flush_generic(conn: AsyncConnection, batch: Pending, dialect: str) -> None:
    """The batch in SQLAlchemy statements (PostgreSQL): rows, new and raised log counters, marks."""
    if batch.rows:
        await conn.execute(_ev.insert(), batch.rows)
    new_logs = {sid for sid, (c, _) in batch.sessions.items() if not c.stored}
    if new_logs:
        await conn.execute(
            _logs.insert(),
            [log_row(sid, batch.sessions[sid][0]) for sid in new_logs],
        )
        for sid in new_logs:
            batch.sessions[sid][0].stored = True
    old_logs = [
        {"sid": sid, "b_last": c.last_id, "b_end": c.end_offset, "b_t": c.last_t}
        for sid, (c, _) in batch.sessions.items()
        if sid not in new_logs
    ]
    if old_logs:
        await conn.execute(
            update(_logs)
            .where(_logs.c.session_id == bindparam("sid"))
            .values(last_id=bindparam("b_last"), end_offset=bindparam("b_end"), last_t=bindparam("b_t")),
            old_logs,
        )
    if batch.marks:
        await conn.execute(
            queries.upsert_marks(dialect),
            [{"session_id": s, "conversation_id": conv, "seq": seq} for (s, conv), seq in batch.marks.items()],
        )
