"""A closed Redis client stays closed: a late command is a 503 and opens no connection.

redis-py reconnects lazily, so a command sent after ``aclose`` used to open a
new connection nobody closed again, collected later with its socket open (the
suite's ``unclosed Connection <redis`` / ``unclosed <StreamWriter``
ResourceWarnings, bridge/redis_pool.py). Against the machine's Redis; each test
names its client and checks ``CLIENT LIST`` and the collector.
"""

from __future__ import annotations

import gc
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from bridge.errors import BridgeError
from bridge.eventlog.redis import RedisEventLog
from bridge.redis_client import create_redis, redis_errors
from bridge.settings import BridgeSettings
from bridge.stores import open_stores
from tests.support.redis import REDIS_URL, RedisSpace, redis_space

pytestmark = pytest.mark.services


@pytest.fixture
async def space() -> AsyncIterator[RedisSpace]:
    async with redis_space() as s:
        yield s


async def connections(space: RedisSpace, name: str) -> int:
    return sum(1 for c in await space.client.client_list() if c.get("name") == name)


def collected_warnings() -> list[str]:
    """The ResourceWarnings a full collection raises now (unclosed sockets, connections)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        gc.collect()
    return [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


async def test_a_command_after_aclose_is_an_outage_and_connects_nothing(space: RedisSpace) -> None:
    name = f"test-closed-{uuid.uuid4().hex[:8]}"
    client = create_redis(REDIS_URL, client_name=name)
    reader = client.client()  # a single-connection client, as the event log's blocking readers hold
    try:
        assert await reader.ping() and await client.ping()  # the reader keeps its connection: two
        assert await connections(space, name) == 2
        await client.aclose()  # the pool: every connection, the reader's included
        with pytest.raises(BridgeError) as caught:
            async with redis_errors("ping"):
                await client.ping()
        assert (caught.value.status, caught.value.headers) == (503, {"Retry-After": "1"})
        assert "Redis client closed" in caught.value.detail
        with pytest.raises(RedisConnectionError, match="Redis client closed"):
            await reader.ping()  # its own connection does not reconnect either
    finally:
        await reader.aclose()
        await client.aclose()
    assert await connections(space, name) == 0
    del client, reader
    assert collected_warnings() == []


async def test_the_stores_refuse_work_after_they_closed(space: RedisSpace, tmp_path: Path) -> None:
    """A task that outlives the lifespan (an event writer, a webhook sender) gets a 503, no socket."""
    settings = BridgeSettings(data_dir=tmp_path, redis_url=REDIS_URL, redis_prefix=space.prefix, node_id="closed")
    async with open_stores(settings) as stores:
        assert (await stores.events.append("s", "OnTest", "{}")).id == 1
        assert isinstance(stores.events, RedisEventLog)
    name = "openim-bridge:closed"
    events, directory = stores.events, stores.directory
    late: list[Callable[[], Awaitable[object]]] = [
        lambda: events.append("s", "OnTest", "{}"),
        lambda: directory.resolve("hash"),
    ]
    for call in late:
        with pytest.raises(BridgeError) as caught:
            await call()
        assert caught.value.status == 503
    assert await connections(space, name) == 0
    assert collected_warnings() == []
