"""Schema migrations for the checkpoint table (Alembic), run at bridge start.

`migrate` upgrades through the app's own async engine: the connection is handed
to env.py (Alembic's "sharing a connection" recipe), so no subprocess and no URL
string leaves the engine (a password cannot reach a log line or an ini file).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from core.migrations.environment import advisory_lock

__all__ = ["BASELINE", "MIGRATION_LOCK_KEY", "VERSION_TABLE", "lock", "migrate"]

# pg_advisory_xact_lock key serialising bridges that start together on one
# database: the bytes b"oimckpt1" read as a positive signed 64-bit integer.
MIGRATION_LOCK_KEY = int.from_bytes(b"oimckpt1", "big")
# Our own version table: the bridge may share a database with an application
# that has its own `alembic_version`.
VERSION_TABLE = "core_alembic_version"
# The revision matching the table the pre-Alembic create_all made.
BASELINE = "0001"
_INI = Path(__file__).with_name("alembic.ini")


def lock(conn: Connection) -> None:
    """Hold this history's migration lock until `conn`'s transaction ends."""
    advisory_lock(conn, MIGRATION_LOCK_KEY)


async def migrate(engine: AsyncEngine) -> None:
    """Bring the checkpoint schema to head: a fresh database, one made by the
    old create_all (adopted at BASELINE), or one already at head (no-op)."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)


def _upgrade(conn: Connection) -> None:
    # Before reading the version, so a loser sees the winner's commit. On
    # PostgreSQL it also keeps two calls in one process apart, which alembic's
    # module-global `context` needs (interleaved, they deadlock); SQLite callers
    # migrate once, at start.
    lock(conn)
    config = Config(_INI, attributes={"connection": conn})
    current = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()
    if current is None and inspect(conn).has_table("core_checkpoints"):
        command.stamp(config, BASELINE)
    command.upgrade(config, "head")
