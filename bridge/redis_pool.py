"""Redis pools that stay closed: once a pool is closed, none of its connections opens a socket again.

redis-py connects lazily, on every command, and a closed pool is only a pool
whose connections were disconnected: a command sent through it afterwards
(a task that outlived the lifespan that closed the pool, a blocking reader
whose single connection reconnects by itself, a sentinel lookup made on the
way) quietly opens a new connection. Nobody closes that one again; it is
garbage-collected with its socket open, which is what the suite saw once per
run as ``ResourceWarning: unclosed Connection <redis...>`` and, under it,
asyncio's ``unclosed <StreamWriter``. Here such a command fails like an
outage instead (a ConnectionError, so a 503 through ``redis_errors``), and
no socket is opened.
"""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, ConnectionPool
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError

__all__ = ["ClosingBlockingPool", "ClosingPool", "StaysClosed"]


class StaysClosed:
    """Mixin for a redis-py connection pool (before the pool class in the bases)."""

    _closed = False

    def make_connection(self) -> AbstractConnection:
        conn: AbstractConnection = super().make_connection()  # type: ignore[misc]
        opens = conn._connect  # the one place redis-py opens a socket, on every (re)connect

        async def _connect() -> None:
            if self._closed:
                raise RedisConnectionError("Redis client closed (the node is shutting down)")
            await opens()  # type: ignore[no-untyped-call]

        conn._connect = _connect  # type: ignore[method-assign]
        return conn

    async def aclose(self) -> None:
        self._closed = True  # before disconnecting: a reconnect racing the close is refused too
        await super().aclose()  # type: ignore[misc]


class ClosingPool(StaysClosed, ConnectionPool):
    pass


class ClosingBlockingPool(StaysClosed, BlockingConnectionPool):
    pass
