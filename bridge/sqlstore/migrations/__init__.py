"""Schema migrations of the bridge's SQL stores (Alembic), run at bridge start.

Like core/migrations (the checkpoints): upgraded through the app's own engine
(the connection is handed to env.py), with a version table of their own so
both histories share one database, under a PostgreSQL advisory lock of their own.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from core.migrations.environment import advisory_lock

__all__ = ["MIGRATION_LOCK_KEY", "VERSION_TABLE", "lock", "migrate"]

# pg_advisory_xact_lock key: the bytes b"oimbrdg1" as a positive signed 64-bit integer.
MIGRATION_LOCK_KEY = int.from_bytes(b"oimbrdg1", "big")
VERSION_TABLE = "bridge_alembic_version"
_INI = Path(__file__).with_name("alembic.ini")


def lock(conn: Connection) -> None:
    """Hold this history's migration lock until `conn`'s transaction ends."""
    advisory_lock(conn, MIGRATION_LOCK_KEY)


async def migrate(engine: AsyncEngine) -> None:
    """Bring the bridge's tables to head (a fresh database, or one already at head: a no-op)."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)


def _upgrade(conn: Connection) -> None:
    lock(conn)  # before reading the version, so a loser sees the winner's commit
    command.upgrade(Config(_INI, attributes={"connection": conn}), "head")
