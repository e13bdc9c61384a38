"""The machine's Redis for tests: a private key namespace per test, cleaned up after.

Redis is expected at redis://127.0.0.1:6379/0 (``BRIDGE_TEST_REDIS_URL``
overrides). Without it a test is skipped locally and fails in CI (env ``CI``
set), with a message naming the address, like tests/imserver/test_postgres.py.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from bridge.redis_client import create_redis
from tests.support.wait import eventually

__all__ = ["REDIS_URL", "RedisSpace", "dead_redis_url", "eventually", "redis_space", "require_redis"]

REDIS_URL = os.environ.get("BRIDGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def _problem() -> str | None:
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=1.0, socket_timeout=1.0)
    try:
        await client.ping()
    except Exception as exc:  # any failure means "not available"
        return f"{type(exc).__name__}: {exc}"
    finally:
        await client.aclose()
    return None


async def require_redis() -> None:
    """Skip (locally) or fail (CI) the calling test when Redis does not answer."""
    problem = await _problem()
    if problem is not None:
        message = f"Redis not reachable at {REDIS_URL} (127.0.0.1:6379 by default): {problem}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


class RedisSpace:
    """A client and a key prefix no other test uses."""

    def __init__(self, client: Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    async def keys(self) -> list[str]:
        found = [key async for key in self.client.scan_iter(match=f"{self.prefix}*", count=1000)]
        return sorted(_text(k) for k in found)

    async def hash(self, key: str) -> dict[str, str]:
        """A hash as text."""
        raw: Any = await self.client.hgetall(key)
        return {_text(k): _text(v) for k, v in raw.items()}

    async def stream(self, key: str) -> list[tuple[str, dict[str, str]]]:
        """A stream's entries as text: ``[(entry id, {field: value})]``."""
        raw: Any = await self.client.xrange(key)
        return [(_text(eid), {_text(k): _text(v) for k, v in fields.items()}) for eid, fields in raw]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@contextlib.asynccontextmanager
async def redis_space() -> AsyncIterator[RedisSpace]:
    await require_redis()
    client = create_redis(REDIS_URL)
    space = RedisSpace(client, f"test:{uuid.uuid4().hex[:12]}:")
    try:
        yield space
    finally:
        keys = await space.keys()
        if keys:
            await client.delete(*keys)
        await client.aclose()


def dead_redis_url() -> str:
    """A loopback address where nothing listens: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"
