"""Outcomes in the node's SQL database: a retry after a restart still replays (issue 12).

A client whose call was answered just before the node restarted retries with
the same operationID; without Redis that retry reaches the restarted node,
which must answer the first outcome instead of running the call again. Rows
of ``bridge_outcomes`` (bridge/sqlstore/schema.py) hold the same JSON as the
Redis values (bridge/idempotency/redis.py) until ``expires_at`` (wall clock);
writes are group-committed with the event log's, the sweeper deletes expired
rows (bridge/sqlstore/sweeper.py).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge.sqlstore import schema
from bridge.sqlstore.database import SqlDatabase, database_errors
from bridge.sqlstore.writer import GroupWriter, Job

from .base import Outcome, OutcomeStore
from .redis import decode, encode

__all__ = ["SqlOutcomes"]

_t = schema.outcomes


def _op_key(operation_id: str) -> str:
    """The operationID itself up to 64 characters, else its SHA-256 (64 hex digits, so never both)."""
    return operation_id if len(operation_id) < 64 else hashlib.sha256(operation_id.encode()).hexdigest()


class SqlOutcomes(OutcomeStore):
    def __init__(
        self, db: SqlDatabase, writer: GroupWriter, *, window: float, clock: Callable[[], float] = time.time
    ) -> None:
        self._db = db
        self._writer = writer
        self._window = window
        self._clock = clock

    async def get(self, session_id: str, operation_id: str) -> Outcome | None:
        query = select(_t.c.value).where(
            _t.c.session_id == session_id, _t.c.operation_id == _op_key(operation_id), _t.c.expires_at >= self._clock()
        )
        with database_errors("idempotency lookup"):
            async with self._db.reader.connect() as conn:
                raw = (await conn.execute(query)).scalar()
        return None if raw is None else decode(raw)

    async def put(self, session_id: str, operation_id: str, outcome: Outcome) -> None:
        now = self._clock()
        row = {
            "session_id": session_id,
            "operation_id": _op_key(operation_id),
            "expires_at": now + self._window,
            "value": encode(outcome),
        }

        async def run(conn: AsyncConnection, _: dict[str, Any]) -> None:
            insert = postgresql.insert if self._db.dialect == "postgresql" else sqlite.insert
            stmt = insert(_t).values(row)
            # The first outcome wins while it lasts (the window's last instant included); an expired one is replaced.
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[_t.c.session_id, _t.c.operation_id],
                    set_={"value": stmt.excluded.value, "expires_at": stmt.excluded.expires_at},
                    where=_t.c.expires_at < now,
                )
            )

        await self._writer.submit(Job(run))
