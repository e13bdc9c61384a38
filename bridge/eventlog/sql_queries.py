"""The SQL event log's statements (bridge/eventlog/sql.py): reads of a session's events
and its last id, and the delivery-mark upsert, over bridge/sqlstore/schema.py."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge.sqlstore import schema
from bridge.sqlstore.driver import run_sync

from .base import StoredEvent

__all__ = ["last_id", "rows", "sqlite_batch", "sqlite_counters", "upsert_marks"]

_ev, _logs, _marks = schema.events, schema.logs, schema.marks

# A batch on SQLite as three statements run in aiosqlite's thread in one hop (bridge/sqlstore/driver.py).
_SQLITE_EVENTS = f"INSERT INTO {_ev.name} (session_id, id, event, data, t, o) VALUES (?, ?, ?, ?, ?, ?)"
_SQLITE_LOGS = (
    f"INSERT INTO {_logs.name} (session_id, last_id, end_offset, last_t) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (session_id) DO UPDATE SET "
    "last_id = excluded.last_id, end_offset = excluded.end_offset, last_t = excluded.last_t"
)
_SQLITE_MARKS = (
    f"INSERT INTO {_marks.name} (session_id, conversation_id, seq) VALUES (?, ?, ?) "
    f"ON CONFLICT (session_id, conversation_id) DO UPDATE SET seq = excluded.seq WHERE {_marks.name}.seq < excluded.seq"
)


_SQLITE_LOG = f"SELECT last_id, end_offset, last_t FROM {_logs.name} WHERE session_id = ?"
_SQLITE_HEAD = f"SELECT id, o, t FROM {_ev.name} WHERE session_id = ? ORDER BY id LIMIT 1"


async def sqlite_counters(conn: AsyncConnection, session_id: str) -> tuple[Any, Any]:
    """A log's counters row and its oldest event (id, offset, time), either None, in one hop."""

    def read(db: sqlite3.Connection) -> tuple[Any, Any]:
        return db.execute(_SQLITE_LOG, (session_id,)).fetchone(), db.execute(_SQLITE_HEAD, (session_id,)).fetchone()

    return await run_sync(conn, read)


async def sqlite_batch(
    conn: AsyncConnection,
    events: Sequence[dict[str, Any]],
    logs: Sequence[tuple[str, int, int, float]],
    marks: dict[tuple[str, str], int],
) -> None:
    """A batch's event rows, its logs' counters (inserted or raised) and marks (raised, never lowered)."""
    event_rows = [(r["session_id"], r["id"], r["event"], r["data"], r["t"], r["o"]) for r in events]
    mark_rows = [(s, conv, seq) for (s, conv), seq in marks.items()]

    def write(db: sqlite3.Connection) -> None:  # in aiosqlite's thread: the three in one hop
        if event_rows:
            db.executemany(_SQLITE_EVENTS, event_rows)
        if logs:
            db.executemany(_SQLITE_LOGS, logs)
        if mark_rows:
            db.executemany(_SQLITE_MARKS, mark_rows)

    await run_sync(conn, write)


def upsert_marks(dialect: str) -> Any:
    """Raise a mark, never lower it (one statement per batch, every conversation at once)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(_marks)
    return stmt.on_conflict_do_update(
        index_elements=[_marks.c.session_id, _marks.c.conversation_id],
        set_={"seq": stmt.excluded.seq},
        where=_marks.c.seq < stmt.excluded.seq,
    )


async def rows(conn: AsyncConnection, session_id: str, after: int, cutoff: float, limit: int) -> list[StoredEvent]:
    result = await conn.execute(
        select(_ev.c.id, _ev.c.event, _ev.c.data)
        .where(_ev.c.session_id == session_id, _ev.c.id > after, _ev.c.t >= cutoff)
        .order_by(_ev.c.id)
        .limit(limit)
    )
    return [StoredEvent(int(r.id), str(r.event), str(r.data)) for r in result]


async def last_id(conn: AsyncConnection, session_id: str) -> int:
    value = (await conn.execute(select(_logs.c.last_id).where(_logs.c.session_id == session_id))).scalar()
    return 0 if value is None else int(value)
