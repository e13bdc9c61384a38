"""Shared fixtures: one real imserver + bridge on loopback for the session."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.cluster import fresh_database
from tests.support.sqldb import LazyDatabase
from tests.support.stack import Stack, run_stack

# Checks every request core sends upstream against the real server's schema (issue 13); the
# SQL-store tests' sql_store_url fixture (tests/support/sql_fixture.py).
pytest_plugins = ["pytester", "tests.support.conformance.plugin", "tests.support.sql_fixture"]


@pytest.fixture(scope="session")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    tmp: Path = tmp_path_factory.mktemp("stack")
    async with run_stack(tmp) as s:
        yield s


@pytest.fixture(scope="session")
async def pg_database() -> AsyncIterator[LazyDatabase]:
    """One fresh PostgreSQL database for the run's SQL-store tests, made on first use (tests/support/sqldb.py)."""
    async with contextlib.AsyncExitStack() as stack:
        yield LazyDatabase(stack, lambda: fresh_database("oimb_stores"))
