"""Redis Sentinel for cluster mode: the URL form and a pool that follows failovers.

High availability is Redis Sentinel (the Lua scripts touch several keys, so
one primary; not Redis Cluster): ``redis+sentinel://[[user]:password@]host1
[:port1][,host2[:port2]...]/<service>[/<db>]`` (``rediss+sentinel://``: TLS to
the data nodes). The user and password are for the data nodes; sentinels take
none, or ``?sentinel_password=``. The pool asks the sentinels for the primary
when it connects, and the same rules hold: no socket timeout (sentinel
connections included), a 2 s connect timeout, one retry, bounded and blocking.
A failover is an outage like any other, a 503 until the sentinels name the
new primary (MasterNotFoundError and "previous master is now a slave" are
ConnectionErrors), then calls go there by themselves. redis-py alone notices a
failover only when the old primary refuses a write, and after ``SENTINEL
FAILOVER`` that primary stays writable for ~10 s until Sentinel demotes it;
writes it takes then are lost. So connections also re-ask the sentinels before
a command, at most once a second per pool, and move. Replication is
asynchronous: writes acknowledged just before a failover can still be lost
(``min-replicas-to-write`` narrows that window).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from redis.asyncio import BlockingConnectionPool, Redis, SSLConnection
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool, SentinelManagedConnection
from redis.exceptions import RedisError

from bridge.redis_pool import ClosingPool, StaysClosed

__all__ = ["SENTINEL_SCHEMES", "SentinelURL", "parse_sentinel_url", "sentinel_redis"]

SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")
_SENTINEL_PORT = 26379
_SENTINEL_RECHECK = 1.0  # seconds between asking the sentinels where the primary is, per pool


@dataclass(frozen=True, slots=True)
class SentinelURL:
    """A parsed ``redis+sentinel://`` URL. ``username``/``password`` are for the data nodes."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sentinel_password: str | None = field(default=None, repr=False)
    ssl_ca_certs: str | None = None


def parse_sentinel_url(url: str) -> SentinelURL:
    """Parse ``redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/<service>[/<db>]``.

    Query parameters: ``sentinel_password``, and ``ssl_ca_certs`` (rediss+ only).
    A malformed URL raises ValueError saying what is wrong, never echoing the URL
    (it may hold a password).
    """
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in SENTINEL_SCHEMES:
        raise ValueError("Sentinel URL: scheme must be redis+sentinel:// or rediss+sentinel://")
    if "#" in rest:
        raise ValueError("Sentinel URL: no #fragment allowed")
    rest, _, query = rest.partition("?")
    netloc, _, path = rest.partition("/")
    userinfo, _, hosts = netloc.rpartition("@")
    user, _, secret = userinfo.partition(":")
    username, password = unquote(user) or None, unquote(secret) or None
    sentinels = tuple(_sentinel_address(n, item) for n, item in enumerate(hosts.split(","), 1))
    parts = path.split("/")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()  # one trailing slash
    service = unquote(parts[0])
    if not service:
        raise ValueError("Sentinel URL: no service name (redis+sentinel://host:port/<service>[/<db>])")
    if len(parts) > 2 or (len(parts) == 2 and not parts[1].isdigit()):
        raise ValueError("Sentinel URL: after the service name only a database number may follow")
    options: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        allowed = ("sentinel_password", "ssl_ca_certs") if scheme == "rediss+sentinel" else ("sentinel_password",)
        if name not in allowed or name in options:
            raise ValueError(f"Sentinel URL: unsupported or repeated query parameter {name!r}")
        options[name] = value
    return SentinelURL(
        sentinels,
        service,
        db=int(parts[1]) if len(parts) == 2 else 0,
        tls=scheme == "rediss+sentinel",
        username=username,
        password=password,
        sentinel_password=options.get("sentinel_password") or None,
        ssl_ca_certs=options.get("ssl_ca_certs") or None,
    )


def _sentinel_address(n: int, item: str) -> tuple[str, int]:
    if not item:
        raise ValueError(f"Sentinel URL: sentinel address {n} is empty (host[:port],host[:port]...)")
    try:
        parsed = urlsplit(f"//{item}")  # handles [ipv6]:port
        host, port = parsed.hostname, parsed.port  # .port raises on a bad port
    except ValueError:
        raise ValueError(f"Sentinel URL: sentinel address {n} is not host[:port]") from None
    if not host or parsed.username is not None or parsed.path or port == 0:
        raise ValueError(f"Sentinel URL: sentinel address {n} is not host[:port]")
    return unquote(host), _SENTINEL_PORT if port is None else port


class _MasterPool(StaysClosed, SentinelConnectionPool, BlockingConnectionPool):
    """Sentinel's pool (connects to whatever the sentinels name the primary) that waits
    for a free connection like the plain pool, closes its sentinel clients with it, and
    stays closed (bridge/redis_pool.py), as do theirs."""

    def __init__(self, service_name: str, sentinel_manager: Sentinel, **kwargs: Any) -> None:
        super().__init__(service_name, sentinel_manager, **kwargs)  # type: ignore[no-untyped-call]
        self._asked_at = time.monotonic()

    async def master_moved(self, conn: SentinelManagedConnection) -> bool:
        """Does ``conn`` talk to a server the sentinels no longer name the primary?"""
        if time.monotonic() - self._asked_at >= _SENTINEL_RECHECK:
            self._asked_at = time.monotonic()
            # Updates master_address and drops idle connections to an old primary. Sentinels
            # unreachable or slow: keep the primary we have (a down one fails by itself).
            with contextlib.suppress(RedisError, TimeoutError):
                async with asyncio.timeout(2.0):
                    await self.get_master_address()  # type: ignore[no-untyped-call]
        return self.master_address is not None and (conn.host, conn.port) != self.master_address

    async def aclose(self) -> None:
        try:
            await super().aclose()
        finally:
            await self.sentinel_manager.aclose()


class _MasterConnection(SentinelManagedConnection):
    async def check_health(self) -> None:
        # Runs before each command (not during the handshake): move off a demoted or
        # soon-to-be-demoted primary before writing to it (module docstring).
        if await self.connection_pool.master_moved(self):
            await self.disconnect()
            await self.connect()  # type: ignore[no-untyped-call]
        await super().check_health()  # type: ignore[no-untyped-call]


class _TLSMasterConnection(_MasterConnection, SSLConnection):
    pass


class _SentinelClient(Redis):
    # MasterNotFoundError lists each sentinel by repr, and the 503 detail shows it: keep it short.
    def __repr__(self) -> str:
        kwargs = self.connection_pool.connection_kwargs
        return f"sentinel {kwargs.get('host')}:{kwargs.get('port')}"


def sentinel_redis(spec: SentinelURL, max_connections: int, common: dict[str, Any]) -> Redis:
    sentinel_kwargs = {**common, "password": spec.sentinel_password}
    sentinel = Sentinel([], sentinel_kwargs=sentinel_kwargs)  # type: ignore[no-untyped-call, unused-ignore]  # untyped before redis 8.2
    sentinel.sentinels = [
        _SentinelClient.from_pool(ClosingPool(host=host, port=port, **sentinel_kwargs)) for host, port in spec.sentinels
    ]
    kwargs: dict[str, Any] = {
        "connection_class": _TLSMasterConnection if spec.tls else _MasterConnection,
        "max_connections": max_connections,
        "timeout": 2.0,  # waiting for a free pooled connection
        "health_check_interval": 30,
        "db": spec.db,
        "username": spec.username,
        "password": spec.password,
        **({"ssl_ca_certs": spec.ssl_ca_certs} if spec.tls else {}),
        **common,
    }
    client: Redis = sentinel.master_for(spec.service, connection_pool_class=_MasterPool, **kwargs)
    return client
