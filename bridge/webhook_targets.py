"""Which per-session webhook URLs the bridge will POST to (no SSRF).

A session's owner is any user with a token; letting them point the bridge at
loopback, link-local (cloud metadata at 169.254.169.254) or private ranges
would let them probe the operator's network. Those are refused unless the
operator allows them (BRIDGE_WEBHOOK_ALLOW_PRIVATE). The host is resolved when
the URL is set, and again where each connection is made (`PublicOnlyBackend`): a
name that resolved to a public address at the check may resolve to 127.0.0.1 a
second later (DNS rebinding). The operator's own BRIDGE_WEBHOOK_URL is trusted as
given.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

import httpcore
import httpx

from bridge.errors import BridgeError
from core.protocol.errcodes import ErrCode

__all__ = ["PublicOnlyBackend", "check_webhook_url", "public_only", "resolve"]


IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


# A lookup runs in one of the loop's few resolver threads (the default executor; libuv's 4 under
# uvloop) until the resolver answers or gives up, which under a name server that never answers
# takes its full timeout and retries. Every new connection the cores make resolves through the
# same threads, so webhook hosts, which anyone names, may hold only a few, for a bounded time.
MAX_LOOKUPS = 2
LOOKUP_TIMEOUT = 5.0
_lookups_in_flight = 0


def _lookup_done(_: object) -> None:
    global _lookups_in_flight
    _lookups_in_flight -= 1  # when the thread is free again, not when the caller stopped waiting


async def resolve(host: str, port: int) -> list[IpAddress]:
    """The addresses `host` resolves to (OSError if none, if too many lookups are in flight, or
    if it takes longer than LOOKUP_TIMEOUT)."""
    global _lookups_in_flight
    with contextlib.suppress(ValueError):
        return [ipaddress.ip_address(host)]  # a literal needs no lookup
    if _lookups_in_flight >= MAX_LOOKUPS:
        raise OSError(f"{MAX_LOOKUPS} webhook host lookups are in flight already; retry")
    _lookups_in_flight += 1
    lookup = asyncio.ensure_future(asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM))
    lookup.add_done_callback(_lookup_done)
    try:
        infos = await asyncio.wait_for(asyncio.shield(lookup), LOOKUP_TIMEOUT)
    except TimeoutError as exc:
        raise OSError(f"no answer within {LOOKUP_TIMEOUT} s") from exc
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052 well-known prefix: global, but carries an IPv4


def _internal(addr: IpAddress) -> bool:
    if isinstance(addr, ipaddress.IPv6Address):
        # An IPv4 address carried inside IPv6 (mapped, 6to4, NAT64) goes where that IPv4 goes.
        nat64 = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF) if addr in _NAT64 else None
        inner = addr.ipv4_mapped or addr.sixtofour or nat64
        if inner is not None and _internal(inner):
            return True
    return not addr.is_global or addr.is_multicast


def _bad(detail: str) -> BridgeError:
    return BridgeError(400, ErrCode.ArgsError, detail)


async def check_webhook_url(url: str, *, allow_private: bool) -> None:
    """Raise 400 naming the problem unless `url` is an http(s) URL to a public address."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _bad(f"url: not a URL ({exc})") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _bad("url: must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise _bad("url: must not carry credentials; the signature authenticates the bridge")
    if allow_private:
        return
    try:
        addrs = await resolve(parts.hostname, port or (443 if parts.scheme == "https" else 80))
    except OSError as exc:
        raise _bad(f"url: host {parts.hostname!r} does not resolve ({exc})") from exc
    for addr in addrs:
        if _internal(addr):
            raise _bad(
                f"url: host {parts.hostname!r} is a loopback, link-local or private address ({addr}); "
                "the operator can allow those with BRIDGE_WEBHOOK_ALLOW_PRIVATE"
            )


class PublicOnlyBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to public addresses that it resolved itself
    (TLS still verifies the URL's host name: httpcore takes SNI from the request, not from here)."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addrs = await resolve(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"{host} does not resolve ({exc})") from exc
        inward = [a for a in addrs if _internal(a)]
        if inward or not addrs:
            raise httpcore.ConnectError(f"{host} resolves to an internal address ({inward[0] if inward else 'none'})")
        error: Exception | None = None
        for addr in addrs:  # each checked address in turn, as a connect by name would
            try:
                return await self._inner.connect_tcp(str(addr), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks go to http(s) URLs only")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def public_only(transport: httpx.AsyncHTTPTransport) -> httpx.AsyncHTTPTransport:
    """`transport`, connecting through `PublicOnlyBackend`. httpx takes no network backend, so it
    is set on the transport's httpcore pool (httpx 0.28 / httpcore 1.0: `_pool._network_backend`)."""
    pool = transport._pool
    pool._network_backend = PublicOnlyBackend(pool._network_backend)
    return transport
