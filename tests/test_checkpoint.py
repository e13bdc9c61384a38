"""CheckpointStore and its migrations on SQLite and on the machine's PostgreSQL.

Every test gets a database of its own (a SQLite file, or a PostgreSQL database
created with a random name and dropped afterwards), so the migration tests start
from nothing. PostgreSQL absent: skipped locally, a failure in CI (env CI set).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, Text, inspect, make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.checkpoint import CheckpointStore, make_engine, metadata, migrate
from core.migrations import MIGRATION_LOCK_KEY, VERSION_TABLE

PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
HEAD = "0003"
# Trust auth ignores it; it only has to stay out of every log line.
SECRET = "pw-must-not-leak-7f3a"
REPO = Path(__file__).resolve().parents[1]

# The table as the pre-Alembic create_all made it.
_legacy = MetaData()
Table(
    "core_checkpoints",
    _legacy,
    Column("user_id", String(128), primary_key=True),
    Column("platform_id", Integer, primary_key=True),
    Column("data", Text, nullable=False),
    Column("updated_at", Integer, nullable=False),
)


@pytest.fixture(scope="module")
async def pg_admin() -> AsyncIterator[AsyncEngine | str]:
    """An AUTOCOMMIT engine on PG_URL (CREATE DATABASE runs outside a
    transaction), or why PostgreSQL is not available."""
    admin = make_engine(PG_URL)
    try:
        async with admin.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # any connect failure means "not available"
        await admin.dispose()
        yield f"PostgreSQL not reachable at {PG_URL}: {exc!r}"
        return
    yield admin.execution_options(isolation_level="AUTOCOMMIT")
    await admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
async def url(request: pytest.FixtureRequest, tmp_path: Path, pg_admin: AsyncEngine | str) -> AsyncIterator[str]:
    """A fresh, empty database; the PostgreSQL URL carries SECRET as password."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'cp.db'}"
        return
    if isinstance(pg_admin, str):
        if os.environ.get("CI"):
            pytest.fail(pg_admin)
        pytest.skip(pg_admin)
    name = f"cp_test_{uuid.uuid4().hex[:12]}"
    async with pg_admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name, password=SECRET).render_as_string(hide_password=False)
    finally:
        async with pg_admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def engine(url: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(url)
    yield eng
    await eng.dispose()


@pytest.fixture
async def store(engine: AsyncEngine) -> CheckpointStore:
    await migrate(engine)
    return CheckpointStore(engine)


async def _version(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda c: MigrationContext.configure(c, opts={"version_table": VERSION_TABLE}).get_current_revision()
        )


async def _columns(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: {col["name"] for col in inspect(c).get_columns("core_checkpoints")})


async def _fence(engine: AsyncEngine, user: str, platform: int) -> int | None:
    async with engine.connect() as conn:
        row = await conn.execute(
            text("SELECT fence FROM core_checkpoints WHERE user_id = :u AND platform_id = :p"),
            {"u": user, "p": platform},
        )
        fence: int | None = row.scalar_one()
        return fence


def _context(conn: Connection) -> MigrationContext:
    return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})


def _schema_diff(conn: Connection) -> list[Any]:
    diff: list[Any] = compare_metadata(_context(conn), metadata)
    return diff


async def test_save_load_overwrite_delete(store: CheckpointStore) -> None:
    user = f"u{uuid.uuid4().hex[:8]}"
    assert await store.load(user, 5) is None
    assert await store.save(user, 5, {"v": 1, "friend": {"version": 3}})
    assert await store.save(user, 2, {"v": 1, "other": True})
    assert await store.load(user, 5) == {"v": 1, "friend": {"version": 3}}
    assert await store.save(user, 5, {"v": 1, "friend": {"version": 4}})
    assert await store.load(user, 5) == {"v": 1, "friend": {"version": 4}}
    assert await store.delete(user, 5)
    assert await store.load(user, 5) is None
    assert await store.load(user, 2) == {"v": 1, "other": True}


async def test_migrate_fresh_matches_the_mapping(engine: AsyncEngine) -> None:
    assert await _version(engine) is None
    await migrate(engine)
    assert await _version(engine) == HEAD
    assert await _columns(engine) == {"user_id", "platform_id", "data", "updated_at", "fence"}
    async with engine.connect() as conn:
        assert await conn.run_sync(_schema_diff) == []


async def test_migrate_adopts_the_create_all_table(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_legacy.create_all)
        await conn.execute(
            text("INSERT INTO core_checkpoints VALUES ('old', 5, :d, 1)"), {"d": '{"v":1,"friend":{"version":9}}'}
        )
    await migrate(engine)
    assert await _version(engine) == HEAD
    assert "fence" in await _columns(engine)
    store = CheckpointStore(engine)
    assert await store.load("old", 5) == {"v": 1, "friend": {"version": 9}}
    assert await _fence(engine, "old", 5) is None
    assert await store.save("old", 5, {"v": 1}, fence=1)  # a row without a fence yields to any owner


async def test_migrate_twice_is_a_noop(engine: AsyncEngine) -> None:
    await migrate(engine)
    store = CheckpointStore(engine)
    assert await store.save("u", 1, {"v": 1}, fence=3)
    await migrate(engine)
    assert await _version(engine) == HEAD
    assert await store.load("u", 1) == {"v": 1}
    assert await _fence(engine, "u", 1) == 3


# Several bridges migrate one database only in cluster mode, on PostgreSQL.
@pytest.mark.parametrize("url", [pytest.param("postgresql", marks=pytest.mark.services)], indirect=True)
async def test_concurrent_migrations_serialise(url: str) -> None:
    engines = [make_engine(url) for _ in range(3)]
    holder, first, second = engines
    try:
        # Hold the migration lock so both migrators are provably waiting on it
        # at once; released, they must run one after the other and both succeed.
        async with holder.connect() as conn:
            await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
            both = asyncio.gather(migrate(first), migrate(second))
            async with asyncio.timeout(10):
                while await _advisory_waiters(conn) < 2:
                    pass
            await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK_KEY})
            await conn.commit()
        async with asyncio.timeout(10):
            await both
        assert await _version(first) == HEAD
        assert "fence" in await _columns(second)
    finally:
        for eng in engines:
            await eng.dispose()


async def _advisory_waiters(conn: Any) -> int:
    result = await conn.execute(
        text(
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
            " WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database()"
        )
    )
    waiters: int = result.scalar_one()
    await conn.commit()  # end the snapshot so the next poll sees new waiters
    return waiters


async def test_fenced_save(engine: AsyncEngine, store: CheckpointStore) -> None:
    assert await store.save("u", 1, {"n": 1}, fence=5)  # absent row: inserted
    assert await store.save("u", 1, {"n": 2}, fence=7)  # newer owner
    assert await store.save("u", 1, {"n": 3}, fence=7)  # same owner again
    assert not await store.save("u", 1, {"n": 4}, fence=6)  # stale owner
    assert await store.load("u", 1) == {"n": 3}
    assert await _fence(engine, "u", 1) == 7
    assert await store.save("u", 1, {"n": 5})  # unfenced: written, stored fence kept
    assert await store.load("u", 1) == {"n": 5}
    assert await _fence(engine, "u", 1) == 7
    assert not await store.save("u", 1, {"n": 6}, fence=2)


async def test_concurrent_fenced_saves_keep_the_highest(engine: AsyncEngine, store: CheckpointStore) -> None:
    fences = list(range(1, 21))
    random.Random(7).shuffle(fences)
    await asyncio.gather(*(store.save("race", 1, {"fence": f}, fence=f) for f in fences))
    assert await store.load("race", 1) == {"fence": 20}
    assert await _fence(engine, "race", 1) == 20


async def test_fenced_delete(store: CheckpointStore) -> None:
    assert await store.save("u", 1, {"n": 1}, fence=5)
    assert not await store.delete("u", 1, fence=4)
    assert await store.load("u", 1) == {"n": 1}
    assert await store.delete("u", 1, fence=5)
    assert await store.load("u", 1) is None
    assert await store.delete("u", 1, fence=1)  # nothing there: nothing refused
    assert await store.save("u", 2, {"n": 1}, fence=9)
    assert await store.delete("u", 2)  # unfenced delete is unconditional
    assert await store.load("u", 2) is None


async def test_migrate_does_not_log_the_password(engine: AsyncEngine, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await migrate(engine)
    assert "Running upgrade" in caplog.text
    assert SECRET not in caplog.text


async def test_alembic_cli_upgrades_from_the_repo_root(url: str, engine: AsyncEngine) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "alembic", "-c", "core/migrations/alembic.ini", "upgrade", "head"),
        cwd=REPO,
        env={**os.environ, "BRIDGE_DATABASE_URL": url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(60):
        out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode()
    assert "Running upgrade" in out.decode()
    assert SECRET not in out.decode()
    assert await _version(engine) == HEAD


# --- the pool-level flusher (issue 14) -----------------------------------------------------------


class _Dirty:
    """A Flushable: what a core hands the flusher."""

    def __init__(self, user: str, data: dict[str, Any], fence: int | None = None, held: bool = False) -> None:
        self.user, self.data, self.fence, self.held, self.asked = user, data, fence, held, 0

    def checkpoint_row(self) -> tuple[str, int, dict[str, Any], int | None] | None:
        self.asked += 1
        return None if self.held else (self.user, 5, self.data, self.fence)


async def test_flusher_writes_every_dirty_core_in_one_batch(store: CheckpointStore) -> None:
    from core.checkpoint_flusher import CheckpointFlusher

    flusher = CheckpointFlusher(store, interval=3600)
    assert await store.save("u3", 5, {"v": "newer owner"}, fence=9)
    a, b, held = _Dirty("u1", {"v": 1}), _Dirty("u2", {"v": 2}, fence=3), _Dirty("u4", {"v": 4}, held=True)
    stale = _Dirty("u3", {"v": "stale"}, fence=2)
    for core in (a, b, held, stale, a):  # marking twice is one write
        flusher.mark(core)
    assert flusher.pending == 4
    assert await flusher.flush() == 3
    assert flusher.batches == 1 and flusher.pending == 0 and a.asked == 1
    assert await store.load("u1", 5) == {"v": 1}
    assert await store.load("u2", 5) == {"v": 2}
    assert await store.load("u3", 5) == {"v": "newer owner"}  # the fence holds in a batch too
    assert await store.load("u4", 5) is None
    assert await flusher.flush() == 0 and flusher.batches == 1  # nothing dirty: no transaction
    flusher.mark(a)
    flusher.forget(a)
    assert flusher.pending == 0
    await flusher.aclose()


async def test_flusher_keeps_cores_dirty_when_a_batch_fails(tmp_path: Path) -> None:
    from core.checkpoint_flusher import CheckpointFlusher
    from core.errors import CheckpointUnavailable

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")  # never migrated: no table
    flusher = CheckpointFlusher(CheckpointStore(engine), interval=3600)
    flusher.mark(_Dirty("u1", {"v": 1}))
    with pytest.raises(CheckpointUnavailable):
        await flusher.flush()
    assert flusher.pending == 1
    await engine.dispose()


async def test_sqlite_checkpoints_use_wal(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
    async with engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await conn.execute(text("PRAGMA synchronous"))).scalar() == 1  # NORMAL
    await engine.dispose()


async def test_load_and_save_without_a_table_are_unavailable_not_crashes(tmp_path: Path) -> None:
    """On aiosqlite both run on the sqlite3 connection itself: its errors are CheckpointUnavailable too."""
    from core.errors import CheckpointUnavailable

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")  # never migrated: no table
    store = CheckpointStore(engine)
    with pytest.raises(CheckpointUnavailable):
        await store.load("u1", 5)
    for fence in (None, 7):
        with pytest.raises(CheckpointUnavailable):
            await store.save("u1", 5, {"v": 1}, fence=fence)
    await engine.dispose()
