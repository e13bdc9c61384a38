"""The session directory, event log and call outcomes the bridge runs on: SQL, Redis or memory.

DESIGN.md "Embedded default and cluster mode": with no configuration they are
durable in the node's SQL database (SQLite under the data dir, or
``BRIDGE_DATABASE_URL``; bridge/sqlstore/), so a restarted node keeps every
session, event id and cursor (issue 12); ``BRIDGE_REDIS_URL`` moves them to
Redis, so several bridge nodes share one session space and any node serves
any stream; ``BRIDGE_EPHEMERAL`` (``--ephemeral``) keeps them in this
process's memory, forgotten at exit (tests, throwaway runs). The lifespan
opens them here and gets them closed in the right order (the stores before
the Redis pool or the database they use).

Redis backends run on wall time (``time.time``), not ``settings.clock``: the
times they store (event append times, when a session ended) are compared by
other nodes, and monotonic clocks of different hosts have nothing in common.
Lease expiry is Redis's own clock.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from redis.asyncio import Redis

from bridge.eventlog import EventLog, MemoryEventLog
from bridge.eventlog.redis import RedisEventLog
from bridge.idempotency import OutcomeStore
from bridge.redis_client import create_redis
from bridge.sessions import MemorySessionDirectory, SessionDirectory
from bridge.sessions.redis import RedisSessionDirectory
from bridge.settings import BridgeSettings
from bridge.sqlstore.stores import open_sql_stores
from bridge.webhook_store import WebhookStore

__all__ = ["Stores", "open_stores"]


@dataclass(frozen=True, slots=True)
class Stores:
    events: EventLog
    directory: SessionDirectory
    redis: Redis | None  # the process's Redis pool in cluster mode
    # Where finished calls' outcomes are kept; None: the idempotency cache's own (memory, or Redis).
    outcomes: OutcomeStore | None = None
    # Webhook targets and cursors; None: memory, or Redis in cluster mode (bridge/app.py).
    webhooks: WebhookStore | None = None


@contextlib.asynccontextmanager
async def open_stores(settings: BridgeSettings) -> AsyncIterator[Stores]:
    """Open the backends ``settings`` asks for; close them (and the pool or database) on exit."""
    if not settings.redis_url and not settings.ephemeral:
        async with open_sql_stores(settings) as sql:
            yield Stores(sql.events, sql.directory, None, sql.outcomes, sql.webhooks)
        return
    redis = None
    if settings.redis_url:
        redis = create_redis(settings.redis_url, client_name=f"openim-bridge:{settings.node_id}")
    stores = Stores(*_backends(settings, redis), redis)
    try:
        yield stores
    finally:
        try:
            await stores.events.aclose()
            await stores.directory.aclose()
        finally:
            if redis is not None:
                await redis.aclose()


def _backends(settings: BridgeSettings, redis: Redis | None) -> tuple[EventLog, SessionDirectory]:
    if redis is None:
        return (
            MemoryEventLog(settings.event_max, settings.event_max_age, settings.clock, settings.event_max_bytes),
            MemorySessionDirectory(
                settings.ended_session_memory,
                settings.clock,
                lease_seconds=settings.lease_seconds,
                max_tokens=settings.max_tokens_per_session,
            ),
        )
    prefix = settings.redis_prefix
    directory = RedisSessionDirectory(
        redis,
        prefix=prefix,
        node_id=settings.node_id,
        lease_seconds=settings.lease_seconds,
        ended_ttl=settings.ended_session_memory,
        max_tokens=settings.max_tokens_per_session,
    )
    events = RedisEventLog(
        redis,
        prefix=prefix,
        max_events=settings.event_max,
        max_age=settings.event_max_age,
        max_bytes=settings.event_max_bytes,
        lease_key=directory.lease_key,  # fenced appends check the directory's lease
    )
    return events, directory
