"""Alembic environment of the bridge's SQL stores (see core/migrations/environment.py)."""

from __future__ import annotations

from bridge.sqlstore.migrations import VERSION_TABLE, lock
from bridge.sqlstore.schema import metadata
from core.migrations.environment import run_env

run_env(metadata, VERSION_TABLE, lock)
