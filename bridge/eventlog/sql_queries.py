"""The SQL event log's statements (bridge/eventlog/sql.py): reads of a session's events
and its last id, and the delivery-mark upsert, over bridge/sqlstore/schema.py."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge.sqlstore import schema

from .base import StoredEvent

__all__ = ["last_id", "rows", "upsert_marks"]

_ev, _logs, _marks = schema.events, schema.logs, schema.marks


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
