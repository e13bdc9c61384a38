"""The session directory in the node's SQL database: tokens outlive the process (issue 12).

A node without Redis keeps its session records and token hashes here, so after
a restart (SIGTERM or ``kill -9``) every token still resolves and every parked
session revives on its next call or stream. Writes go through the group
committer (bridge/sqlstore/writer.py), so a login is answered only once its
record is durable; reads use the reader pool. Tables in bridge/sqlstore/schema.py:
a record is stored whole as JSON (a field added to :class:`SessionRecord` needs
no migration; one this version does not know is ignored), with the columns
that are queried beside it.

Token lookups are cached in memory: this node is the only writer of its
database, and every write here (create, add_token, update, end) drops what it
touches after its commit; a lookup caches its answer only if no write began or
ended while it read (`_writes`), so a revoked or moved token never resolves
from the cache. It was one SQLite read per call: 1.4 ms of CPU per cached call
against 117 µs in memory (bench/cost.py).

Owner leases and node addresses stay in memory (:class:`MemorySessionDirectory`):
this backend serves one node (bridge/sqlstore/database.py refuses a second),
whose leases always end up with itself, and a lease must not outlive the
process: after ``kill -9`` the restarted node takes its sessions at once
instead of waiting out the dead process's leases. Fences still outgrow those
of any earlier process (they start at the wall clock in microseconds), so a
stored checkpoint's fence never refuses the restarted node.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import MISSING, fields, replace
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge.sessions.base import SessionDirectory, SessionRecord
from bridge.sessions.memory import MemorySessionDirectory
from bridge.sessions.sqlite_writes import FIND_LIVE, create_session, keep_token
from bridge.sqlstore import schema
from bridge.sqlstore.database import SqlDatabase, database_errors
from bridge.sqlstore.driver import fetch_one, run_sync
from bridge.sqlstore.writer import GroupWriter, Job

__all__ = ["SqlSessionDirectory"]

_FIELDS = {f.name: f for f in fields(SessionRecord)}
_CACHE_MAX = 100_000  # token hashes remembered; past it the cache starts over
_s, _tok, _live = schema.sessions, schema.session_tokens, schema.session_live


class SqlSessionDirectory(SessionDirectory):
    def __init__(
        self,
        db: SqlDatabase,
        writer: GroupWriter,
        *,
        ended_ttl: float = 24 * 3600.0,
        clock: Callable[[], float] = time.time,
        lease_seconds: float = 30.0,
        lease_clock: Callable[[], float] | None = None,
        max_tokens: int = 8,
    ) -> None:
        if ended_ttl <= 0:
            raise ValueError("ended_ttl must be > 0")
        self._db = db
        self._writer = writer
        self._ttl = ended_ttl
        self._clock = clock
        self._max_tokens = max_tokens
        # Token order: grows within the process and across restarts (wall clock in ns at start).
        self._token_n = time.time_ns()
        self._leases = MemorySessionDirectory(lease_seconds=lease_seconds, lease_clock=lease_clock)
        self.lease_seconds = lease_seconds
        # token hash -> (record, ended_at); the hashes cached per session; writes begun or ended.
        self._cache: dict[str, tuple[SessionRecord, float | None]] = {}
        self._cached_of: dict[str, set[str]] = {}
        self._writes = 0

    async def _write(self, job: Job, session_id: str, token_hash: str | None = None) -> None:
        """Submit a write, dropping what it touches from the cache before and after its commit."""
        self._forget_cached(session_id, token_hash)
        try:
            await self._writer.submit(job)
        finally:
            self._forget_cached(session_id, token_hash)

    def _forget_cached(self, session_id: str, token_hash: str | None) -> None:
        self._writes += 1
        for h in self._cached_of.pop(session_id, ()):
            self._cache.pop(h, None)
        if token_hash is not None:
            moved = self._cache.pop(token_hash, None)  # a hash moving from another session
            if moved is not None:
                self._cached_of.get(moved[0].session_id, set()).discard(token_hash)

    # -- records ---------------------------------------------------------------

    async def create(self, record: SessionRecord, token_hash: str) -> None:
        n = self._next_n()

        if self._db.dialect == "sqlite":  # the same statements in one thread hop (sqlite_writes.py)
            r = _row(record)
            row = (r["session_id"], r["user_id"], r["platform_id"], r["record"], r["ended_code"])

            async def run_sqlite(conn: AsyncConnection, _: dict[str, Any]) -> None:
                await run_sync(conn, lambda db: create_session(db, row, token_hash, n, self._max_tokens))

            await self._write(Job(run_sqlite), record.session_id, token_hash)
            return

        async def run(conn: AsyncConnection, _: dict[str, Any]) -> None:
            sid = record.session_id
            await conn.execute(delete(_s).where(_s.c.session_id == sid))
            await conn.execute(insert(_s).values(_row(record)))
            key = and_(_live.c.platform_id == record.platform_id, _live.c.user_id == record.user_id)
            await conn.execute(delete(_live).where(key))
            await conn.execute(
                insert(_live).values(platform_id=record.platform_id, user_id=record.user_id, session_id=sid)
            )
            await self._keep_token(conn, sid, token_hash, n)

        await self._write(Job(run), record.session_id, token_hash)

    async def add_token(self, session_id: str, token_hash: str) -> None:
        n = self._next_n()

        async def run(conn: AsyncConnection, _: dict[str, Any]) -> None:
            known = (await conn.execute(select(_s.c.session_id).where(_s.c.session_id == session_id))).first()
            if known is None:
                return
            if self._db.dialect == "sqlite":
                await run_sync(conn, lambda db: keep_token(db, session_id, token_hash, n, self._max_tokens))
            else:
                await self._keep_token(conn, session_id, token_hash, n)

        await self._write(Job(run), session_id, token_hash)

    async def _keep_token(self, conn: AsyncConnection, session_id: str, token_hash: str, n: int) -> None:
        exists = (await conn.execute(select(_tok.c.session_id).where(_tok.c.token_hash == token_hash))).first()
        if exists is None:
            await conn.execute(insert(_tok).values(token_hash=token_hash, session_id=session_id, n=n))
        elif exists.session_id != session_id:  # a hash is one token: it moves to its new session
            await conn.execute(update(_tok).where(_tok.c.token_hash == token_hash).values(session_id=session_id, n=n))
        # Past max_tokens the oldest are revoked.
        newest = (
            select(_tok.c.n)
            .where(_tok.c.session_id == session_id)
            .order_by(_tok.c.n.desc())
            .offset(self._max_tokens - 1)
            .limit(1)
            .scalar_subquery()
        )
        await conn.execute(delete(_tok).where(_tok.c.session_id == session_id, _tok.c.n < newest))

    def _next_n(self) -> int:
        self._token_n += 1
        return self._token_n

    async def resolve(self, token_hash: str) -> SessionRecord | None:
        hit = self._cache.get(token_hash)
        if hit is not None:
            record, ended_at = hit
        else:
            writes = self._writes
            query = select(_s.c.record, _s.c.ended_at).join(_tok, _tok.c.session_id == _s.c.session_id)
            row = await self._one(query.where(_tok.c.token_hash == token_hash), "resolve session")
            decoded = None if row is None else _decode(row.record)
            if decoded is None:
                return None
            record, ended_at = decoded, None if row.ended_at is None else float(row.ended_at)
            if writes == self._writes:  # nothing written meanwhile: what we read is still true
                if len(self._cache) >= _CACHE_MAX:
                    self._cache.clear()
                    self._cached_of.clear()
                self._cache[token_hash] = (record, ended_at)
                self._cached_of.setdefault(record.session_id, set()).add(token_hash)
        if ended_at is not None and self._clock() - ended_at > self._ttl:
            return None  # the sweeper deletes it soon; on our clock it is gone already
        return replace(record)  # callers may change theirs; the cached one stays as stored

    async def get(self, session_id: str) -> SessionRecord | None:
        row = await self._one(select(_s.c.record, _s.c.ended_at).where(_s.c.session_id == session_id), "get session")
        if row is None:
            return None
        if row.ended_at is not None and self._clock() - float(row.ended_at) > self._ttl:
            return None  # as in resolve: gone on our clock
        return _decode(row.record)

    async def find(self, user_id: str, platform_id: int) -> SessionRecord | None:
        if self._db.dialect == "sqlite":  # every login asks: one hop (sqlstore/driver.py fetch_one)
            with database_errors("find session"):
                row = await fetch_one(self._db.reader, FIND_LIVE, (platform_id, user_id))
            return None if row is None else _decode(row[0])
        query = (
            select(_s.c.record)
            .join(_live, _live.c.session_id == _s.c.session_id)
            .where(_live.c.platform_id == platform_id, _live.c.user_id == user_id, _s.c.ended_code.is_(None))
        )
        row = await self._one(query, "find session")
        return None if row is None else _decode(row.record)

    async def update(self, record: SessionRecord) -> None:
        async def run(conn: AsyncConnection, _: dict[str, Any]) -> None:
            await conn.execute(
                update(_s)
                .where(_s.c.session_id == record.session_id, _s.c.ended_code.is_(None))  # ended stays ended
                .values(record=_encode(record, ended_code=None))
            )

        await self._write(Job(run), record.session_id)

    async def end(self, session_id: str, code: int) -> None:
        now = self._clock()

        async def run(conn: AsyncConnection, _: dict[str, Any]) -> None:
            row = (await conn.execute(select(_s.c.record).where(_s.c.session_id == session_id))).first()
            if row is None:
                return
            record = _decode(row.record)
            if record is None:
                return
            record.ended_code, record.upstream_token = code, ""
            await conn.execute(
                update(_s)
                .where(_s.c.session_id == session_id)
                .values(record=_encode(record, ended_code=code), ended_code=code, ended_at=now)
            )
            await conn.execute(delete(_live).where(_live.c.session_id == session_id))

        await self._write(Job(run), session_id)

    async def live_count(self) -> int:
        row = await self._one(select(func.count()).select_from(_live), "count sessions")
        return 0 if row is None else int(row[0])

    async def _one(self, query: Any, what: str) -> Any:
        with database_errors(what):
            async with self._db.reader.connect() as conn:
                return (await conn.execute(query)).first()

    # -- leases and nodes: this process's (see the module docs) ----------------

    async def acquire(self, session_id: str, node_id: str) -> int | None:
        return await self._leases.acquire(session_id, node_id)

    async def renew(self, session_id: str, node_id: str, fence: int) -> bool:
        return await self._leases.renew(session_id, node_id, fence)

    async def renew_many(self, node_id: str, leases: list[tuple[str, int]]) -> list[bool]:
        return await self._leases.renew_many(node_id, leases)

    async def release(self, session_id: str, node_id: str, fence: int) -> bool:
        return await self._leases.release(session_id, node_id, fence)

    async def owner(self, session_id: str) -> tuple[str, int] | None:
        return await self._leases.owner(session_id)

    async def register_node(self, node_id: str, url: str, ttl: float) -> None:
        await self._leases.register_node(node_id, url, ttl)

    async def unregister_node(self, node_id: str) -> None:
        await self._leases.unregister_node(node_id)

    async def node_url(self, node_id: str) -> str | None:
        return await self._leases.node_url(node_id)


def _row(record: SessionRecord) -> dict[str, Any]:
    return {
        "session_id": record.session_id,
        "user_id": record.user_id,
        "platform_id": record.platform_id,
        "record": _encode(record, ended_code=record.ended_code),
        "ended_code": record.ended_code,
        "ended_at": None,
    }


def _encode(record: SessionRecord, *, ended_code: int | None) -> str:
    doc = {name: getattr(record, name) for name in _FIELDS}
    doc["ended_code"] = ended_code
    return json.dumps(doc, separators=(",", ":"))


def _decode(raw: str) -> SessionRecord | None:
    stored = json.loads(raw)
    values = {name: value for name, value in stored.items() if name in _FIELDS}
    if any(name not in values and f.default is MISSING and f.default_factory is MISSING for name, f in _FIELDS.items()):
        return None  # a foreign or damaged row is no session
    return SessionRecord(**values)
