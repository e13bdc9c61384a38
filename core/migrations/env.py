"""Alembic environment of the checkpoint table (see core/migrations/environment.py)."""

from __future__ import annotations

from core.checkpoint import metadata
from core.migrations import VERSION_TABLE, lock
from core.migrations.environment import run_env

run_env(metadata, VERSION_TABLE, lock)
