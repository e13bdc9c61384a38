"""One contract for every WebhookStore (STYLE.md: one suite against each backend): memory,
Redis (cluster mode) and SQL (a node without Redis, SQLite and PostgreSQL; issue 16)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bridge.webhook_store import CachedTargets, MemoryWebhookStore, RedisWebhookStore, WebhookStore, WebhookTarget
from tests.support.redis import redis_space
from tests.support.sqldb import SQL_PARAMS, LazyDatabase, sql_stores, sql_url


@contextlib.asynccontextmanager
async def _store(kind: str, tmp: Path, pg: LazyDatabase) -> AsyncIterator[WebhookStore]:
    if kind == "memory":
        yield MemoryWebhookStore()
    elif kind == "cached":  # the dispatcher's view of a store: the same contract
        yield CachedTargets(MemoryWebhookStore())
    elif kind == "redis":
        async with redis_space() as space:
            yield RedisWebhookStore(space.client, space.prefix, 3600)
    else:
        async with sql_stores(await sql_url(kind, tmp, pg)) as stores:
            yield stores.webhooks


@pytest.fixture(params=["memory", "cached", "redis", *SQL_PARAMS])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, pg_database: LazyDatabase
) -> AsyncIterator[WebhookStore]:
    async with _store(request.param, tmp_path, pg_database) as s:
        yield s


async def test_targets_and_cursors(store: WebhookStore) -> None:
    assert await store.target("s1") is None and await store.cursor("s1", "operator") is None
    await store.set_target("s1", "https://example.test/a", "secret-0123456789", 4)
    await store.set_cursor("s1", "operator", 7)
    assert await store.target("s1") == WebhookTarget("session", "https://example.test/a", "secret-0123456789")
    assert (await store.cursor("s1", "session"), await store.cursor("s1", "operator")) == (4, 7)
    await store.set_cursor("s1", "operator", 9)
    assert await store.cursor("s1", "operator") == 9
    # A new target starts from the event it names, in the same write; the operator's cursor stays.
    await store.set_cursor("s1", "session", 6)
    await store.set_target("s1", "https://example.test/b", "secret-9876543210", 11)
    assert await store.cursor("s1", "session") == 11 and await store.cursor("s1", "operator") == 9
    assert await store.target("s2") is None  # sessions are apart
    assert await store.delete_target("s1") is True and await store.delete_target("s1") is False
    assert await store.target("s1") is None and await store.cursor("s1", "operator") == 9
    await store.forget("s1")
    assert await store.cursor("s1", "operator") is None


async def test_hooked_sessions_are_those_with_a_target_of_their_own(store: WebhookStore) -> None:
    assert await store.hooked_sessions() == []
    await store.set_target("s1", "https://example.test/a", "secret-0123456789", 0)
    await store.set_target("s2", "https://example.test/b", "secret-0123456789", 0)
    await store.set_cursor("s3", "operator", 5)  # only the operator's cursor: not hooked
    assert sorted(await store.hooked_sessions()) == ["s1", "s2"]
    await store.delete_target("s1")
    await store.forget("s2")
    assert await store.hooked_sessions() == []


async def test_targets_of_many_sessions_in_one_read(store: WebhookStore) -> None:
    assert await store.targets([]) == {}
    await store.set_target("s1", "https://example.test/a", "secret-0123456789", 0)
    await store.set_target("s3", "https://example.test/c", "secret-9876543210", 0)
    await store.set_cursor("s2", "operator", 1)  # a cursor alone is no target
    many = [f"x{i}" for i in range(1200)] + ["s1", "s2", "s3"]  # past one SQL chunk
    assert await store.targets(many) == {
        "s1": WebhookTarget("session", "https://example.test/a", "secret-0123456789"),
        "s3": WebhookTarget("session", "https://example.test/c", "secret-9876543210"),
    }
