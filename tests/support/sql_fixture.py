"""The ``sql_store_url`` fixture: a test that takes it runs once per SQL kind (SQLite, PostgreSQL).

A pytest plugin (tests/conftest.py ``pytest_plugins``), so the SQL-store tests share one
definition instead of each declaring the same parametrized fixture.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.sqldb import SQL_PARAMS, LazyDatabase, sql_url

__all__ = ["sql_store_url"]


@pytest.fixture(params=SQL_PARAMS)
async def sql_store_url(request: pytest.FixtureRequest, tmp_path: Path, pg_database: LazyDatabase) -> str:
    """A database URL per SQL kind: a file of the test's own, or the run's emptied PostgreSQL database."""
    return await sql_url(request.param, tmp_path, pg_database)
