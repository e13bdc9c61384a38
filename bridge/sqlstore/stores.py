"""The SQL stores of a node without Redis: sessions, event logs, call outcomes (issue 12), webhook cursors (16).

:func:`open_sql_stores` opens the database (migrated, held by this node), the
group committer all three write through, the backends and the sweeper, and
closes them in order: the sweeper, then the backends (waking their waiters),
then the writer (after committing what is queued), then the engines.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from bridge.eventlog.sql import SqlEventLog
from bridge.idempotency.sql import SqlOutcomes
from bridge.sessions.sql import SqlSessionDirectory
from bridge.settings import BridgeSettings
from bridge.sqlstore.database import SqlDatabase, open_database
from bridge.sqlstore.sweeper import Sweeper
from bridge.sqlstore.webhooks import SqlWebhookStore
from bridge.sqlstore.writer import GroupWriter

__all__ = ["SqlStores", "open_sql_stores"]


@dataclass(frozen=True, slots=True)
class SqlStores:
    db: SqlDatabase
    writer: GroupWriter
    events: SqlEventLog
    directory: SqlSessionDirectory
    outcomes: SqlOutcomes
    webhooks: SqlWebhookStore
    sweeper: Sweeper


@contextlib.asynccontextmanager
async def open_sql_stores(
    settings: BridgeSettings, *, clock: Callable[[], float] = time.time, sweep: bool = True
) -> AsyncIterator[SqlStores]:
    """The SQL backends on ``settings.resolved_database_url()``; wall time unless ``clock`` is given."""
    async with open_database(settings.resolved_database_url(), sync=settings.database_sync) as db:
        writer = GroupWriter(db.writer)
        writer.start()
        events = SqlEventLog(
            db,
            writer,
            max_events=settings.event_max,
            max_age=settings.event_max_age,
            max_bytes=settings.event_max_bytes,
            clock=clock,
        )
        directory = SqlSessionDirectory(
            db,
            writer,
            ended_ttl=settings.ended_session_memory,
            clock=clock,
            lease_seconds=settings.lease_seconds,
            max_tokens=settings.max_tokens_per_session,
        )
        outcomes = SqlOutcomes(db, writer, window=settings.idempotency_window, clock=clock)
        sweeper = Sweeper(
            db,
            writer,
            events,
            ended_ttl=settings.ended_session_memory,
            log_grace=settings.ended_log_grace,
            clock=clock,
        )
        if sweep:
            sweeper.start()
        try:
            yield SqlStores(db, writer, events, directory, outcomes, SqlWebhookStore(db, writer), sweeper)
        finally:
            await sweeper.aclose()
            await events.aclose()
            await directory.aclose()
            await writer.aclose()
