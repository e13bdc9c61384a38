"""The body of an Alembic env.py: the bridge's connection when called from `migrate`,
otherwise (the `alembic` CLI) an engine for BRIDGE_DATABASE_URL.

Shared by the two migration histories in one database: core/migrations (checkpoints)
and bridge/sqlstore/migrations (sessions, event logs, call outcomes); each passes its
metadata, version table and advisory lock.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection, MetaData, func, select

__all__ = ["advisory_lock", "run_env"]


def advisory_lock(conn: Connection, key: int) -> None:
    """Hold a migration lock until `conn`'s transaction ends (PostgreSQL only;
    embedded SQLite has one writer process)."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(key)))


def run_env(metadata: MetaData, version_table: str, lock: Callable[[Connection], None]) -> None:
    def run(conn: Connection) -> None:
        lock(conn)  # the CLI too must not race a starting bridge
        context.configure(
            connection=conn,
            target_metadata=metadata,
            version_table=version_table,
            # SQLite alters most columns only by copying the table (autogenerate).
            render_as_batch=conn.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run_cli() -> None:
        from core.checkpoint import make_engine  # the CLI path only

        url = os.environ.get("BRIDGE_DATABASE_URL")
        if not url:
            raise SystemExit("set BRIDGE_DATABASE_URL to the bridge's database URL")
        engine = make_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(run)
        finally:
            await engine.dispose()

    if context.is_offline_mode():
        raise SystemExit("offline (--sql) mode is not supported; run against the database")
    shared = context.config.attributes.get("connection")
    if shared is not None:
        run(shared)
    else:
        if context.config.config_file_name:
            fileConfig(context.config.config_file_name, disable_existing_loggers=False)
        asyncio.run(run_cli())
