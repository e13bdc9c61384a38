"""The tables of the bridge's SQL stores (session directory, event logs, call outcomes).

One node without Redis keeps its sessions, event logs and idempotency outcomes
here (issue 12), in the same database as core's checkpoints (SQLite under the
data directory, or ``BRIDGE_DATABASE_URL``). The schema is owned by
``bridge/sqlstore/migrations`` (Alembic); these definitions must match its head.

Event rows carry, like the Redis Stream entries (bridge/eventlog/redis.py),
their append time ``t`` (wall clock, never decreasing along a session's log)
and byte offset ``o`` (the sizes of all earlier events of the session), so
retention by age and by bytes always trims a prefix of ids.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Index, Integer, MetaData, String, Table, Text

__all__ = [
    "events",
    "logs",
    "marks",
    "metadata",
    "outcomes",
    "session_live",
    "session_tokens",
    "sessions",
    "webhook_cursors",
    "webhook_targets",
]

metadata = MetaData()

#: One row per session log: the last id handed out and where the next event's bytes start.
logs = Table(
    "bridge_event_logs",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("last_id", BigInteger, nullable=False),
    Column("end_offset", BigInteger, nullable=False),
    Column("last_t", Float, nullable=False),
)

events = Table(
    "bridge_events",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("event", Text, nullable=False),
    Column("data", Text, nullable=False),
    Column("t", Float, nullable=False),
    Column("o", BigInteger, nullable=False),
    # The sweeper ages out quiet sessions' events without a scan of the table.
    Index("ix_bridge_events_t", "t"),
)

#: Delivery marks: the highest (conversationID, seq) delivered per session, written with their events.
marks = Table(
    "bridge_event_marks",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("conversation_id", String(256), primary_key=True),
    Column("seq", BigInteger, nullable=False),
)

#: Session records: a few columns to query by, the whole SessionRecord as JSON (new fields need no migration).
sessions = Table(
    "bridge_sessions",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("user_id", String(128), nullable=False),
    Column("platform_id", Integer, nullable=False),
    Column("record", Text, nullable=False),
    Column("ended_code", Integer),
    Column("ended_at", Float),
    Index("ix_bridge_sessions_ended_at", "ended_at"),
)

#: Hashes of a session's valid bridge tokens; ``n`` orders them (the oldest is revoked first).
session_tokens = Table(
    "bridge_session_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("session_id", String(64), nullable=False),
    Column("n", BigInteger, nullable=False),
    Index("ix_bridge_session_tokens_session", "session_id", "n"),
)

#: The live session of each (user, platform).
session_live = Table(
    "bridge_session_live",
    metadata,
    Column("platform_id", Integer, primary_key=True),
    Column("user_id", String(128), primary_key=True),
    Column("session_id", String(64), nullable=False),
)

#: Finished calls' outcomes by (session, operationID), until ``expires_at`` (wall clock).
outcomes = Table(
    "bridge_outcomes",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("operation_id", String(128), primary_key=True),
    Column("expires_at", Float, nullable=False),
    Column("value", Text, nullable=False),
    Index("ix_bridge_outcomes_expires_at", "expires_at"),
)

#: A session's own webhook (PUT /v1/session/webhook).
webhook_targets = Table(
    "bridge_webhook_targets",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("url", Text, nullable=False),
    Column("secret", Text, nullable=False),
)

#: The last event id each webhook (kind "operator" or "session") of a session acknowledged.
webhook_cursors = Table(
    "bridge_webhook_cursors",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("cursor", BigInteger, nullable=False),
)
