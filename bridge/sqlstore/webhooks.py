"""Webhook targets and cursors in the node's SQL database (issue 16).

Without Redis a node used to keep them in memory: after a restart the
operator's webhook started again from event 1 (every event again) and a
session's own webhook was gone. Here they outlive the process like the event
log they point into (DESIGN.md "Embedded default": a restart keeps every
cursor). Writes go through the group committer with the event log's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge.sqlstore import schema
from bridge.sqlstore.database import SqlDatabase, database_errors
from bridge.sqlstore.driver import read_sync
from bridge.sqlstore.writer import GroupWriter, Job
from bridge.webhook_store import WebhookStore, WebhookTarget

__all__ = ["SqlWebhookStore"]

_targets = schema.webhook_targets
_CHUNK = 500  # session ids per IN (...) of a scan: well under SQLite's bound-parameter limit
_cursors = schema.webhook_cursors
_SQLITE_TARGETS = f"SELECT session_id, url, secret FROM {_targets.name} WHERE session_id IN"


def _drop_session_cursor(session_id: str) -> Any:
    return delete(_cursors).where(_cursors.c.session_id == session_id, _cursors.c.kind == "session")


class SqlWebhookStore(WebhookStore):
    def __init__(self, db: SqlDatabase, writer: GroupWriter) -> None:
        self._db = db
        self._writer = writer

    def _insert(self) -> Any:
        return postgresql.insert if self._db.dialect == "postgresql" else sqlite.insert

    async def target(self, session_id: str) -> WebhookTarget | None:
        query = select(_targets.c.url, _targets.c.secret).where(_targets.c.session_id == session_id)
        with database_errors("webhook target lookup"):
            async with self._db.reader.connect() as conn:
                row = (await conn.execute(query)).first()
        return None if row is None else WebhookTarget("session", row.url, row.secret)

    async def targets(self, session_ids: Sequence[str]) -> dict[str, WebhookTarget]:
        found: dict[str, WebhookTarget] = {}
        if self._db.dialect == "sqlite":  # every scan after a login asks: all chunks in one hop
            ids = list(session_ids)

            def read(db: sqlite3.Connection) -> list[tuple[str, str, str]]:
                rows: list[tuple[str, str, str]] = []
                for i in range(0, len(ids), _CHUNK):
                    chunk = ids[i : i + _CHUNK]
                    marks = ",".join("?" * len(chunk))
                    rows += db.execute(f"{_SQLITE_TARGETS} ({marks})", chunk).fetchall()
                return rows

            with database_errors("webhook target lookup"):
                for sid, url, secret in await read_sync(self._db.reader, read):
                    found[str(sid)] = WebhookTarget("session", url, secret)
            return found
        with database_errors("webhook target lookup"):
            async with self._db.reader.connect() as conn:
                for i in range(0, len(session_ids), _CHUNK):
                    query = select(_targets.c.session_id, _targets.c.url, _targets.c.secret).where(
                        _targets.c.session_id.in_(session_ids[i : i + _CHUNK])
                    )
                    for row in await conn.execute(query):
                        found[str(row.session_id)] = WebhookTarget("session", row.url, row.secret)
        return found

    async def hooked_sessions(self) -> list[str]:
        with database_errors("webhook targets"):
            async with self._db.reader.connect() as conn:
                return [str(sid) for sid in (await conn.execute(select(_targets.c.session_id))).scalars()]

    async def set_target(self, session_id: str, url: str, secret: str, from_event: int) -> None:
        async def run(conn: AsyncConnection, _: dict[str, Any]) -> None:
            stmt = self._insert()(_targets).values(session_id=session_id, url=url, secret=secret)
            await conn.execute(
                stmt.on_conflict_do_update(index_elements=[_targets.c.session_id], set_={"url": url, "secret": secret})
            )
            cursor = self._insert()(_cursors).values(session_id=session_id, kind="session", cursor=from_event)
            await conn.execute(
                cursor.on_conflict_do_update(
                    index_elements=[_cursors.c.session_id, _cursors.c.kind], set_={"cursor": from_event}
                )
            )

        await self._writer.submit(Job(run))

    async def delete_target(self, session_id: str) -> bool:
        async def run(conn: AsyncConnection, _: dict[str, Any]) -> bool:
            gone = await conn.execute(delete(_targets).where(_targets.c.session_id == session_id))
            await conn.execute(
                delete(_cursors).where(_cursors.c.session_id == session_id, _cursors.c.kind == "session")
            )
            return bool(gone.rowcount)

        removed: bool = await self._writer.submit(Job(run))
        return removed

    async def cursor(self, session_id: str, kind: str) -> int | None:
        query = select(_cursors.c.cursor).where(_cursors.c.session_id == session_id, _cursors.c.kind == kind)
        with database_errors("webhook cursor lookup"):
            async with self._db.reader.connect() as conn:
                value = (await conn.execute(query)).scalar()
        return None if value is None else int(value)

    async def set_cursor(self, session_id: str, kind: str, event_id: int) -> None:
        async def run(conn: AsyncConnection, _: dict[str, Any]) -> None:
            stmt = self._insert()(_cursors).values(session_id=session_id, kind=kind, cursor=event_id)
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[_cursors.c.session_id, _cursors.c.kind], set_={"cursor": event_id}
                )
            )

        await self._writer.submit(Job(run))

    async def forget(self, session_id: str) -> None:
        async def run(conn: AsyncConnection, _: dict[str, Any]) -> None:
            await conn.execute(delete(_targets).where(_targets.c.session_id == session_id))
            await conn.execute(delete(_cursors).where(_cursors.c.session_id == session_id))

        await self._writer.submit(Job(run))
