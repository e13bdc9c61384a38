"""db.make_read_sessionmaker (inline sqlite3 reads on a SQLite file) and db.SmallWrites (issue 14)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from imserver.db import create_all, make_engine, make_read_sessionmaker, make_sessionmaker, small_writes_for
from imserver.models import UserRow, VersionLogRow
from imserver.services.versions import FRIENDS, VersionLogs
from tests.support.cluster import fresh_database


@contextlib.asynccontextmanager
async def _sqlite_url(tmp_path: Path) -> AsyncIterator[str]:
    yield f"sqlite+aiosqlite:///{tmp_path / 'im.db'}"


@contextlib.asynccontextmanager
async def _created(url_cm: contextlib.AbstractAsyncContextManager[str]) -> AsyncIterator[AsyncEngine]:
    async with url_cm as url:
        eng = make_engine(url)
        await create_all(eng)
        try:
            yield eng
        finally:
            await eng.dispose()


@pytest.fixture(params=[pytest.param("sqlite"), pytest.param("postgresql", marks=pytest.mark.services)])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url_cm = _sqlite_url(tmp_path) if request.param == "sqlite" else fresh_database("oimb_dbreads")
    async with _created(url_cm) as eng:
        yield eng


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """For what only the inline SQLite reader does (its pool, its query_only guard)."""
    async with _created(_sqlite_url(tmp_path)) as eng:
        yield eng


async def _add_users(engine: AsyncEngine, *ids: str) -> None:
    async with make_sessionmaker(engine).begin() as session:
        session.add_all(UserRow(user_id=u, nickname=u) for u in ids)


async def test_reads_see_what_was_committed_and_keep_their_rows(engine: AsyncEngine) -> None:
    reads = make_read_sessionmaker(make_sessionmaker(engine))
    await _add_users(engine, "a", "b")
    async with reads() as session:
        result = (await session.execute(select(UserRow).order_by(UserRow.user_id))).scalars()
    # Consumed after the session ended: the rows were fetched at execute.
    assert [u.user_id for u in result] == ["a", "b"]


async def test_many_read_sessions_open_at_once_never_wait_for_a_connection(sqlite_engine: AsyncEngine) -> None:
    # On SQLite a checkout that waited would block the event loop, and with it every
    # session that would give its connection back (a default pool holds 15). PostgreSQL's
    # async pool waits without blocking, up to its own limit.
    engine = sqlite_engine
    reads = make_read_sessionmaker(make_sessionmaker(engine))
    await _add_users(engine, "a")
    async with contextlib.AsyncExitStack() as stack:
        sessions = [await stack.enter_async_context(reads()) for _ in range(40)]
        counts = [(await s.execute(select(func.count()).select_from(UserRow))).scalar_one() for s in sessions]
    assert counts == [1] * 40


async def test_a_write_in_a_read_session_fails_at_once_on_sqlite(sqlite_engine: AsyncEngine) -> None:
    engine = sqlite_engine
    reads = make_read_sessionmaker(make_sessionmaker(engine))
    async with reads() as session:
        with pytest.raises(OperationalError, match="readonly"):
            await session.execute(text("INSERT INTO im_users (user_id) VALUES ('x')"))
    async with reads() as session:
        assert (await session.execute(select(func.count()).select_from(UserRow))).scalar_one() == 0


async def test_first_log_creates_the_log_a_first_read_creates_once(engine: AsyncEngine) -> None:
    sessions = make_sessionmaker(engine)
    versions = VersionLogs(lambda: 1_000)
    writes = small_writes_for(sessions)
    await writes.run(versions.first_log(FRIENDS, "a"))
    await writes.run(versions.first_log(FRIENDS, "a"))  # a second creation is nothing
    async with make_read_sessionmaker(sessions)() as session:
        head = await versions.peek_head(session, FRIENDS, "a")
        logs = (await session.execute(select(func.count()).select_from(VersionLogRow))).scalar_one()
        assert await versions.peek_head(session, FRIENDS, "b") is None
    assert head is not None and head.version == 1 and len(head.version_id) == 24
    assert logs == 1
    # The writing path finds the same log, unchanged.
    async with sessions.begin() as session:
        assert await versions.head(session, FRIENDS, "a") == head
