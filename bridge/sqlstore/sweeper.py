"""Housekeeping of the SQL stores: what retention at append and the close timer cannot reach.

- events of quiet logs older than ``max_age`` (an append trims its own log;
  a log nobody appends to would keep its old events forever);
- logs of sessions ended more than ``log_grace`` ago (the pool drops a closed
  session's log after the grace period with a timer, which a restart loses);
- session records and tokens ended more than ``ended_ttl`` ago, and expired
  call outcomes.

Deletes run in chunks, each a job of the group committer, so a large sweep
never holds the writer for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge.errors import BridgeError
from bridge.eventlog.sql import SqlEventLog
from bridge.sqlstore import schema
from bridge.sqlstore.database import SqlDatabase, database_errors
from bridge.sqlstore.writer import GroupWriter, Job

__all__ = ["Sweeper"]

log = logging.getLogger("openim.bridge.sqlstore")

_CHUNK = 2000


class Sweeper:
    def __init__(
        self,
        db: SqlDatabase,
        writer: GroupWriter,
        events: SqlEventLog,
        *,
        ended_ttl: float,
        log_grace: float,
        interval: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._writer = writer
        self._events = events
        self._ended_ttl = ended_ttl
        self._log_grace = log_grace
        self._interval = interval
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._forever(), name="sql-sweeper")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _forever(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.sweep()
            except BridgeError as exc:
                log.warning("sweep of the session database failed: %s", exc.detail)
            except Exception:
                log.exception("sweep of the session database failed")

    async def sweep(self) -> int:
        """One round; returns how many rows it deleted."""
        now = self._clock()
        ev, s, tok, out = schema.events, schema.sessions, schema.session_tokens, schema.outcomes
        removed = await self._chunks(
            select(ev.c.session_id, ev.c.id).where(ev.c.t < now - self._events.max_age),
            lambda keys: delete(ev).where(tuple_(ev.c.session_id, ev.c.id).in_(keys)),
        )
        self._events.dropped += removed
        # Ended sessions' logs past the grace period (through the log, which forgets its counters too).
        with database_errors("sweep"):
            async with self._db.reader.connect() as conn:
                ended = (
                    await conn.execute(
                        select(s.c.session_id)
                        .join(schema.logs, schema.logs.c.session_id == s.c.session_id)
                        .where(s.c.ended_at < now - self._log_grace)
                    )
                ).all()
        for (session_id,) in ended:
            await self._events.drop(session_id)
        removed += len(ended)
        gone = select(s.c.session_id).where(s.c.ended_at < now - self._ended_ttl)
        removed += await self._run(lambda: delete(tok).where(tok.c.session_id.in_(gone)))
        removed += await self._run(lambda: delete(s).where(s.c.ended_at < now - self._ended_ttl))
        removed += await self._run(lambda: delete(out).where(out.c.expires_at < now))
        return removed

    async def _chunks(self, keys: Any, deleting: Callable[[list[Any]], Any]) -> int:
        total = 0
        while True:
            with database_errors("sweep"):
                async with self._db.reader.connect() as conn:
                    chunk = [tuple(r) for r in (await conn.execute(keys.limit(_CHUNK))).all()]
            if not chunk:
                return total
            total += await self._run(lambda chunk=chunk: deleting(chunk))  # type: ignore[misc]
            if len(chunk) < _CHUNK:
                return total

    async def _run(self, statement: Callable[[], Any]) -> int:
        async def run(conn: AsyncConnection, _: dict[str, Any]) -> int:
            return max(int((await conn.execute(statement())).rowcount or 0), 0)

        result: int = await self._writer.submit(Job(run))
        return result
