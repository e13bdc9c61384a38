"""The bridge's Redis connection pool, and how Redis outages reach the client.

Cluster mode (``BRIDGE_REDIS_URL``, DESIGN.md "Embedded default and cluster
mode") keeps the session directory and the event logs in Redis, so while Redis
is down or restarting a call cannot be served. The issue (#6, "Done when")
asks for exactly this: fail fast with 503 and a clear errCode, crash nothing,
and recover by itself. Hence:

- one pool per process, created in the lifespan (STYLE.md), bounded and
  *blocking*: a burst waits briefly for a free connection instead of opening
  thousands;
- a short connect timeout and a single immediate retry (enough to replace a
  pooled connection that died with a Redis restart) instead of redis-py's
  default ten retries with backoff, which would hold a request for seconds;
- every operation runs under :func:`redis_errors`, which gives it a deadline
  and translates the library's connection-level errors (and the deadline)
  into :class:`~bridge.errors.BridgeError` 503 at the adapter edge (httpx's
  _transports do the same with their exceptions), so the error handler
  renders problem+json and never a 500.

The deadline is ours, not redis-py's ``socket_timeout``: with a socket
timeout set, redis-py sends each command under ``asyncio.wait_for``, which on
Python 3.11 swallows a cancellation that arrives just as the send completes
(CPython gh-86296, fixed in 3.12). A cancelled SSE stream or long-poll would
then run on as if nothing happened. ``asyncio.timeout`` (3.11.3+) has no
such race, so the pool has no socket timeout and :func:`redis_errors` bounds
each call instead.

High availability is Redis Sentinel: ``redis+sentinel://`` URLs, see
``bridge/redis_sentinel.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bridge.errors import BridgeError
from bridge.redis_pool import ClosingBlockingPool
from bridge.redis_sentinel import SENTINEL_SCHEMES, parse_sentinel_url, sentinel_redis
from core.protocol.errcodes import ErrCode

__all__ = ["OPERATION_TIMEOUT", "REDIS_UNAVAILABLE_CODE", "create_redis", "redis_errors", "unavailable"]

#: How long one Redis operation may take before the call fails with 503: a
#: Redis that accepts connections but does not answer must not hang requests.
OPERATION_TIMEOUT = 5.0
#: OpenIM's own servers answer ErrInternalServer (500) when their Redis or
#: database fails (open-im-server pkg/common/servererrs); we keep that code and
#: say "Redis unavailable" in the detail, with HTTP 503 and Retry-After.
REDIS_UNAVAILABLE_CODE = ErrCode.ServerInternalError

#: Errors that mean "Redis cannot answer right now", not "we sent a bad command":
#: connection refused/reset, timeouts, no free pooled connection (ConnectionError),
#: a replica still loading (BusyLoadingError, a ConnectionError), and writes that
#: reached a replica during a failover (ReadOnlyError). With Sentinel, "no primary
#: known" (MasterNotFoundError) and "the previous master is now a slave" are
#: ConnectionErrors too.
_OUTAGE_ERRORS = (RedisConnectionError, RedisTimeoutError, ReadOnlyError)


def create_redis(url: str, *, max_connections: int = 64, client_name: str | None = None) -> Redis:
    """The process's Redis client for ``url``: ``redis://``, ``rediss://``, ``unix://``,
    or Sentinel's ``redis+sentinel://``, ``rediss+sentinel://`` (bridge/redis_sentinel.py).

    ``client_name`` is set on every connection (``CLIENT LIST`` shows which
    node holds which connections). Once closed, the client stays closed: a later
    command fails as an outage and opens no connection (bridge/redis_pool.py).
    """
    common: dict[str, Any] = {
        "client_name": client_name,
        "socket_timeout": None,  # see the module docstring: redis_errors bounds each call
        "socket_connect_timeout": 2.0,
        "retry": Retry(NoBackoff(), 1),
    }
    if url.partition("://")[0].lower() in SENTINEL_SCHEMES:
        return sentinel_redis(parse_sentinel_url(url), max_connections, common)
    pool = ClosingBlockingPool.from_url(
        url,
        max_connections=max_connections,
        timeout=2.0,  # waiting for a free pooled connection
        health_check_interval=30,
        **common,
    )
    return Redis.from_pool(pool)


def unavailable(exc: BaseException, what: str) -> BridgeError:
    """The client-facing error for a Redis outage met while doing ``what``."""
    return BridgeError(
        503,
        REDIS_UNAVAILABLE_CODE,
        f"Redis unavailable ({what}): {type(exc).__name__}: {exc}; retry shortly",
        headers={"Retry-After": "1"},
    )


@contextlib.asynccontextmanager
async def redis_errors(what: str, timeout: float = OPERATION_TIMEOUT) -> AsyncIterator[None]:
    """Run the block's Redis calls under a deadline; outages become :class:`BridgeError` 503.

    Other Redis errors (a bad script, a wrong type) are bugs and stay what they
    are, so they are logged as such.
    """
    try:
        async with asyncio.timeout(timeout):
            yield
    except TimeoutError as exc:  # our deadline (redis-py's own is RedisTimeoutError)
        raise unavailable(exc, what) from exc
    except _OUTAGE_ERRORS as exc:
        raise unavailable(exc, what) from exc
