"""The SQLite statements that skip SQLAlchemy (bridge/sessions/sqlite_writes.py, sqlstore/driver.py):
a broken database is still a 503 with Retry-After, as on the SQLAlchemy path (database_errors)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bridge.errors import BridgeError
from bridge.sessions import SessionId, SessionRecord
from bridge.sessions.sql import SqlSessionDirectory
from tests.support.sqldb import sql_stores


def _record(sid: str = "s1", user: str = "u1") -> SessionRecord:
    return SessionRecord(SessionId(sid), user, 5, "upstream-token", 1.0)


async def test_driver_errors_are_503s(tmp_path: Path) -> None:
    path = tmp_path / "bridge.db"
    async with sql_stores(f"sqlite+aiosqlite:///{path}") as stores:
        directory = SqlSessionDirectory(stores.db, stores.writer)
        await directory.create(_record(), "hash1")
        assert await directory.find("u1", 5) == _record()
        assert await stores.webhooks.targets(["s1"]) == {}
        with sqlite3.connect(path) as db:  # the tables go from under the stores
            db.execute("DROP TABLE bridge_session_live")
            db.execute("DROP TABLE bridge_webhook_targets")
        for attempt in (directory.find("u1", 5), stores.webhooks.targets(["s1"])):
            with pytest.raises(BridgeError) as info:
                await attempt
            assert info.value.status == 503 and info.value.headers == {"Retry-After": "1"}
        with pytest.raises(BridgeError) as info:
            await directory.create(_record("s2", "u2"), "hash2")
        assert info.value.status == 503
