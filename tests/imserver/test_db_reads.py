"""db.make_read_sessionmaker (inline sqlite3 reads on a SQLite file), db.SmallWrites and
imserver.reads (issue 14)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import bindparam, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from imserver.db import create_all, make_engine, make_read_sessionmaker, make_sessionmaker, small_writes_for
from imserver.models import FriendRow, UserRow, VersionLogRow
from imserver.reads import ReadTx, reads_for
from imserver.services.versions import FRIENDS, VersionLogs, read_head
from tests.support.cluster import fresh_database
from tests.support.wait import wait_until


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


async def test_first_log_waits_in_its_thread_while_another_connection_writes(sqlite_engine: AsyncEngine) -> None:
    # Inline only when the write lock is free at once; held elsewhere, the write waits for
    # it in the writes thread, and the loop stays free meanwhile.
    writes = small_writes_for(make_sessionmaker(sqlite_engine))
    versions = VersionLogs(lambda: 1_000)
    holder = sqlite3.connect(str(sqlite_engine.url.database), isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        task = asyncio.create_task(writes.run(versions.first_log(FRIENDS, "a")))
        await wait_until(lambda: _writer_threads(writes) == 1, 10, "the write waiting in its thread")
        assert not task.done()
        holder.execute("ROLLBACK")
        await asyncio.wait_for(task, 10)
    finally:
        holder.close()
    await writes.run(versions.first_log(FRIENDS, "b"))  # inline again, on the same connection
    reads = reads_for(make_sessionmaker(sqlite_engine))
    assert None not in await reads.run(lambda tx: (read_head(tx, FRIENDS, "a"), read_head(tx, FRIENDS, "b")))


async def test_first_log_runs_inline_when_the_lock_is_free(sqlite_engine: AsyncEngine) -> None:
    writes = small_writes_for(make_sessionmaker(sqlite_engine))
    await writes.run(VersionLogs(lambda: 1_000).first_log(FRIENDS, "a"))
    assert _writer_threads(writes) == 0


def _writer_threads(writes: object) -> int:
    return len(writes._thread._threads)  # type: ignore[attr-defined]


# --- imserver.reads: prebuilt statements in one read transaction ----------------------------

_BY_IDS = select(UserRow.__table__).where(UserRow.__table__.c.user_id.in_(bindparam("ids", expanding=True)))
_PAGE = (
    select(UserRow.__table__.c.user_id)
    .where(UserRow.__table__.c.app_manger_level == 0)
    .order_by(UserRow.__table__.c.user_id)
    .offset(bindparam("offset"))
    .limit(bindparam("limit"))
)
_COUNT = select(func.count()).select_from(UserRow.__table__)


async def test_reads_rows_read_like_the_orm_objects(engine: AsyncEngine) -> None:
    await _add_users(engine, "a", "b", "c")
    reads = reads_for(make_sessionmaker(engine))

    def read(tx: ReadTx) -> tuple[list[tuple[str, str]], list[str], int]:
        rows = tx.rows(_BY_IDS, {"ids": ["c", "a", "zz"]})
        page = [r.user_id for r in tx.rows(_PAGE, {"offset": 1, "limit": 5})]
        return sorted((r.user_id, r.nickname) for r in rows), page, tx.scalar(_COUNT)

    assert await reads.run(read) == ([("a", "a"), ("c", "c")], ["b", "c"], 3)


async def test_reads_booleans_come_back_as_booleans(engine: AsyncEngine) -> None:
    async with make_sessionmaker(engine).begin() as session:
        session.add(FriendRow(owner_user_id="a", friend_user_id="b", is_pinned=True))
    t = FriendRow.__table__
    rows = await reads_for(make_sessionmaker(engine)).run(lambda tx: tx.rows(select(t.c.is_pinned)))
    assert [r.is_pinned for r in rows] == [True]
    assert type(rows[0].is_pinned) is bool


async def test_a_failed_read_ends_its_transaction(engine: AsyncEngine) -> None:
    reads = reads_for(make_sessionmaker(engine))

    def fail(tx: ReadTx) -> None:
        tx.scalar(_COUNT)
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await reads.run(fail)
    await _add_users(engine, "a")  # not held back by a transaction left open
    assert await reads.run(lambda tx: tx.scalar(_COUNT)) == 1


async def test_reads_go_on_after_the_engine_was_disposed(sqlite_engine: AsyncEngine) -> None:
    # As a disposed engine's pool does: its connection closed, a later read opens a new one.
    reads = reads_for(make_sessionmaker(sqlite_engine))
    assert await reads.run(lambda tx: tx.scalar(_COUNT)) == 0
    await sqlite_engine.dispose()
    await _add_users(sqlite_engine, "a")
    assert await reads.run(lambda tx: tx.scalar(_COUNT)) == 1
