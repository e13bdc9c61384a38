"""Durable per-session checkpoint: sync versions and the last-seen relation state.

A parked or restarted core reloads it and syncs incrementally from it, so the
changes that happened while it was away surface as listener events (the role of
the official SDK's local SQLite `local_sync_version` and relation tables, 5.11).
One JSON document per (userID, platformID), stored through SQLAlchemy: SQLite
under the data directory by default, PostgreSQL in production.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Integer, String, Text, delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["CheckpointStore", "create_checkpoint_tables", "make_engine"]


class _Base(DeclarativeBase):
    pass


class _Checkpoint(_Base):
    __tablename__ = "core_checkpoints"

    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    platform_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[int] = mapped_column(Integer)


def make_engine(url: str) -> AsyncEngine:
    """An async engine for `url`; a SQLite file's folder is created, and SQLite
    waits on a locked database instead of failing at once."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return create_async_engine(url, connect_args={"timeout": 30})
    return create_async_engine(url, pool_pre_ping=True)


async def create_checkpoint_tables(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_Base.metadata.create_all)


class CheckpointStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def load(self, user_id: str, platform_id: int) -> dict[str, Any] | None:
        async with self._sessions() as s:
            row = await s.get(_Checkpoint, (user_id, platform_id))
            return json.loads(row.data) if row else None

    async def save(self, user_id: str, platform_id: int, data: dict[str, Any]) -> None:
        text = json.dumps(data, separators=(",", ":"))
        async with self._sessions() as s, s.begin():
            row = await s.get(_Checkpoint, (user_id, platform_id))
            if row is None:
                s.add(_Checkpoint(user_id=user_id, platform_id=platform_id, data=text, updated_at=int(time.time())))
            else:
                row.data = text
                row.updated_at = int(time.time())

    async def delete(self, user_id: str, platform_id: int) -> None:
        async with self._sessions() as s, s.begin():
            await s.execute(
                delete(_Checkpoint).where(_Checkpoint.user_id == user_id, _Checkpoint.platform_id == platform_id)
            )

    async def count(self) -> int:
        async with self._sessions() as s:
            return len((await s.execute(select(_Checkpoint.user_id))).all())
