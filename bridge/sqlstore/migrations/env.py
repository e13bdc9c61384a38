"""Alembic environment: the bridge's connection when called from `migrate`,
otherwise (the `alembic` CLI) an engine for BRIDGE_DATABASE_URL."""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from bridge.sqlstore.migrations import VERSION_TABLE, lock
from bridge.sqlstore.schema import metadata
from core.checkpoint import make_engine


def _run(conn: Connection) -> None:
    lock(conn)  # the CLI too must not race a starting bridge
    context.configure(
        connection=conn,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=conn.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_cli() -> None:
    url = os.environ.get("BRIDGE_DATABASE_URL")
    if not url:
        raise SystemExit("set BRIDGE_DATABASE_URL to the bridge's database URL")
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) mode is not supported; run against the database")
shared = context.config.attributes.get("connection")
if shared is not None:
    _run(shared)
else:
    if context.config.config_file_name:
        fileConfig(context.config.config_file_name, disable_existing_loggers=False)
    asyncio.run(_run_cli())
