"""The friend and version scenarios against PostgreSQL (asyncpg), the production backend.

PostgreSQL is expected at postgresql+asyncpg://postgres@127.0.0.1:5432/test. Without
it the test is skipped locally and fails in CI (env CI set), with a message saying so.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from imserver.db import make_engine
from tests.imserver import scenarios
from tests.imserver.conftest import ImServer, start_im

PG_URL = os.environ.get("IMSERVER_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")

pytestmark = pytest.mark.services


async def _reachable() -> str | None:
    engine = make_engine(PG_URL)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # any connect failure means "not available"
        return f"{type(exc).__name__}: {exc}"
    finally:
        await engine.dispose()
    return None


@pytest.fixture(scope="module")
async def pg_im(tmp_path_factory: pytest.TempPathFactory, http: httpx.AsyncClient) -> AsyncIterator[ImServer]:
    problem = await _reachable()
    if problem is not None:
        message = f"PostgreSQL not reachable at {PG_URL} ({problem})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    tmp: Path = tmp_path_factory.mktemp("imserver-pg")
    async with start_im(tmp, http, PG_URL) as server:
        yield server


async def test_friend_flow_on_postgres(pg_im: ImServer) -> None:
    await scenarios.friend_flow(pg_im)


async def test_version_flow_on_postgres(pg_im: ImServer) -> None:
    await scenarios.version_flow(pg_im)
