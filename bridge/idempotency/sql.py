"""Outcomes in the node's SQL database: a retry after a restart still replays (issue 12).

A client whose call was answered just before the node restarted retries with
the same operationID; without Redis that retry reaches the restarted node,
which must answer the first outcome instead of running the call again. Rows
of ``bridge_outcomes`` (bridge/sqlstore/schema.py) hold the same JSON as the
Redis values (bridge/idempotency/redis.py) until ``expires_at`` (wall clock);
writes are group-committed with the event log's, the sweeper deletes expired
rows (bridge/sqlstore/sweeper.py).

Most lookups are of a fresh operationID, and this node is the only writer of
its database (bridge/sqlstore/database.py), so it knows which keys may have an
outcome: those its own puts committed, and those the database held when it
first looked (loaded once). A key in neither is answered "none" without a
query (issue 14: the lookup was a reader round trip per idempotent call); a
known key is read as before. The index holds hashes, so a collision costs a
query, never a wrong answer. On SQLite a batch's puts are one driver statement
(bridge/sqlstore/driver.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge.sqlstore import schema
from bridge.sqlstore.database import SqlDatabase, database_errors
from bridge.sqlstore.driver import executemany
from bridge.sqlstore.writer import GroupWriter, Job

from .base import MAX_OUTCOME_BYTES, Outcome, OutcomeStore
from .redis import decode, encode

__all__ = ["SqlOutcomes"]

_t = schema.outcomes
_FLUSH = "outcomes"
# The first outcome wins while it lasts (the window's last instant included); an expired one is replaced.
_SQLITE_PUT = (
    f"INSERT INTO {_t.name} (session_id, operation_id, expires_at, value) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (session_id, operation_id) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at "
    f"WHERE {_t.name}.expires_at < ?"
)


class _Known:
    """Hashes of the keys the database may hold an unexpired outcome for, with their expiry."""

    def __init__(self) -> None:
        self._expiry: dict[int, float] = {}
        self._order: deque[tuple[float, int]] = deque()  # roughly by expiry: pruned from the left

    def add(self, key: int, expires_at: float) -> None:
        if expires_at > self._expiry.get(key, float("-inf")):
            self._expiry[key] = expires_at
            self._order.append((expires_at, key))

    def may_hold(self, key: int, now: float) -> bool:
        while self._order and self._order[0][0] < now:
            expires_at, gone = self._order.popleft()
            if self._expiry.get(gone) == expires_at:
                del self._expiry[gone]
        return self._expiry.get(key, float("-inf")) >= now


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
        self._known = _Known()
        self._loaded: asyncio.Future[None] | None = None  # the database's keys, read once
        self.skipped = 0  # lookups answered without a query

    async def _load(self) -> None:
        if self._loaded is None:
            self._loaded = asyncio.get_running_loop().create_future()
            try:
                query = select(_t.c.session_id, _t.c.operation_id, _t.c.expires_at).where(
                    _t.c.expires_at >= self._clock()
                )
                with database_errors("idempotency keys"):
                    async with self._db.reader.connect() as conn:
                        for row in await conn.execute(query.order_by(_t.c.expires_at)):
                            self._known.add(hash((row.session_id, row.operation_id)), float(row.expires_at))
            except BaseException as exc:
                self._loaded.set_exception(exc)
                self._loaded.exception()  # retrieved: the next lookup tries again
                self._loaded = None
                raise
            self._loaded.set_result(None)
        await asyncio.shield(self._loaded)

    async def get(self, session_id: str, operation_id: str) -> Outcome | None:
        await self._load()
        if not self._known.may_hold(hash((session_id, _op_key(operation_id))), self._clock()):
            self.skipped += 1
            return None
        query = select(_t.c.value).where(
            _t.c.session_id == session_id, _t.c.operation_id == _op_key(operation_id), _t.c.expires_at >= self._clock()
        )
        with database_errors("idempotency lookup"):
            async with self._db.reader.connect() as conn:
                raw = (await conn.execute(query)).scalar()
        return None if raw is None else decode(raw)

    async def put(self, session_id: str, operation_id: str, outcome: Outcome) -> None:
        value = encode(outcome)
        if len(value) > MAX_OUTCOME_BYTES:
            return
        now = self._clock()
        expires_at = now + self._window
        row = {
            "session_id": session_id,
            "operation_id": _op_key(operation_id),
            "expires_at": expires_at,
            "value": value,
        }

        key = hash((session_id, row["operation_id"]))

        async def run(conn: AsyncConnection, scratch: dict[str, Any]) -> None:
            if self._db.dialect == "sqlite":  # coalesced: one statement for the batch's puts
                scratch.setdefault(_FLUSH, []).append(
                    (session_id, row["operation_id"], row["expires_at"], row["value"], now)
                )
                return
            insert = postgresql.insert if self._db.dialect == "postgresql" else sqlite.insert
            stmt = insert(_t).values(row)
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[_t.c.session_id, _t.c.operation_id],
                    set_={"value": stmt.excluded.value, "expires_at": stmt.excluded.expires_at},
                    where=_t.c.expires_at < now,
                )
            )

        def after() -> None:  # committed: a lookup of this key reads the database from now on
            self._known.add(key, expires_at)

        flush = (_FLUSH, _flush_sqlite) if self._db.dialect == "sqlite" else None
        await self._writer.submit(Job(run, after=after, flush=flush))


async def _flush_sqlite(conn: AsyncConnection, scratch: dict[str, Any]) -> None:
    await executemany(conn, _SQLITE_PUT, scratch.pop(_FLUSH, []))
