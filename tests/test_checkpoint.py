"""CheckpointStore on SQLite and on the machine's PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core.checkpoint import CheckpointStore, create_checkpoint_tables, make_engine

PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    if request.param == "sqlite":
        eng = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'cp.db'}")
    else:
        eng = make_engine(PG_URL)
        try:
            async with eng.connect():
                pass
        except (OSError, Exception) as exc:
            await eng.dispose()
            if os.environ.get("CI"):
                pytest.fail(f"PostgreSQL at {PG_URL} is required in CI: {exc!r}")
            pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {exc!r}")
    await create_checkpoint_tables(eng)
    yield eng
    await eng.dispose()


async def test_save_load_overwrite_delete(engine: AsyncEngine) -> None:
    store = CheckpointStore(engine)
    user = f"u{uuid.uuid4().hex[:8]}"
    assert await store.load(user, 5) is None
    await store.save(user, 5, {"v": 1, "friend": {"version": 3}})
    await store.save(user, 2, {"v": 1, "other": True})
    assert await store.load(user, 5) == {"v": 1, "friend": {"version": 3}}
    await store.save(user, 5, {"v": 1, "friend": {"version": 4}})
    assert await store.load(user, 5) == {"v": 1, "friend": {"version": 4}}
    await store.delete(user, 5)
    assert await store.load(user, 5) is None
    assert await store.load(user, 2) == {"v": 1, "other": True}
