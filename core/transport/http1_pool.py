"""A lean keep-alive HTTP/1.1 pool for the plain-http upstream API calls (issue 14).

httpx was 31-57% of the bridge's CPU per login (py-spy, GIL samples): its
request/response models, anyio streams, and httpcore checking every idle
pooled connection on each request. Every upstream API call is the same small
`POST` + JSON (openim-v3.md 1.1), so this pool does only that, on
`asyncio.Protocol` connections: one request at a time per connection, a whole
response parsed by `core.transport.http1`, an idle connection checked (one
`poll`) only when it is picked. Limits as the bridge's httpx client had them
(200 connections, 50 kept idle for 5 s), plus a bound on each answer's size
and one deadline for the whole request (httpx's 10 s was per read: a body
dripping a byte every 9 s never timed out). https upstreams keep httpx.
"""

from __future__ import annotations

import asyncio
import select
import time
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from typing import cast
from urllib.parse import urlsplit

from core.transport.http1 import ProtocolError, Response, ResponseParser, encode_post

__all__ = ["Http1Error", "Http1Limits", "Http1Pool", "Http1Timeout", "Target", "target"]


class Http1Error(Exception):
    """The upstream could not be reached, or answered something that is not HTTP/1.1."""


class Http1Timeout(Http1Error):
    """No whole answer within the request's deadline (connecting and waiting for a connection included)."""


@dataclass(frozen=True, slots=True)
class Http1Limits:
    max_connections: int = 200  # requests in flight, as httpx.Limits(max_connections=200)
    max_idle: int = 50  # kept-alive connections, as max_keepalive_connections=50
    idle_expiry: float = 5.0  # httpx's keepalive_expiry; imserver keeps them 120 s
    timeout: float = 10.0  # one deadline for the whole request
    max_head: int = 64 * 1024
    max_body: int = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Target:
    host: str
    port: int
    authority: str  # the Host header
    prefix: str  # the base URL's path, without its trailing slash


@lru_cache(maxsize=64)
def target(base_url: str) -> Target | None:
    """Where a plain-http base URL points; None for anything else (https stays on httpx), and
    for a host the environment sends through a proxy (HTTP_PROXY / ALL_PROXY, not NO_PROXY):
    httpx honours those, this pool speaks only straight to the upstream."""
    parts = urlsplit(base_url)
    if parts.scheme != "http" or not parts.hostname or parts.query or parts.fragment or parts.username:
        return None
    proxies = urllib.request.getproxies()
    if (proxies.get("http") or proxies.get("all")) and not urllib.request.proxy_bypass(parts.hostname):
        return None
    try:
        port = parts.port or 80
    except ValueError:
        return None
    return Target(parts.hostname, port, parts.netloc, parts.path.rstrip("/"))


class _Conn(asyncio.Protocol):
    __slots__ = ("_limits", "closed", "fd", "idle_at", "parser", "transport", "waiter")

    def __init__(self, limits: Http1Limits) -> None:
        self.transport: asyncio.Transport | None = None
        self.fd = -1
        self.parser: ResponseParser | None = None  # set while a request is in flight
        self.waiter: asyncio.Future[Response] | None = None
        self.closed = False
        self.idle_at = 0.0
        self._limits = limits

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio.Transport subclasses
        sock = transport.get_extra_info("socket")
        self.fd = sock.fileno() if sock is not None else -1

    def send(self, data: bytes) -> asyncio.Future[Response]:
        assert self.transport is not None
        self.parser = ResponseParser(max_head=self._limits.max_head, max_body=self._limits.max_body)
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self.waiter

    def data_received(self, data: bytes) -> None:
        if self.parser is None:  # bytes while idle: nothing we asked for
            self.close()
            return
        try:
            resp = self.parser.feed(data)
        except ProtocolError as exc:
            self._fail(Http1Error(f"bad response: {exc}"))
            self.close()
            return
        if resp is not None:
            self._done(resp)

    def eof_received(self) -> bool:
        if self.parser is not None:
            try:
                self._done(self.parser.feed_eof())
            except ProtocolError as exc:
                self._fail(Http1Error(str(exc)))
        self.closed = True
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(Http1Error(f"connection lost: {exc!r}" if exc else "server disconnected"))

    def usable(self) -> bool:
        """Still open and nothing has arrived (a close, or stray bytes) since its last answer."""
        if self.closed or self.transport is None or self.transport.is_closing():
            return False
        if self.fd < 0:
            return True
        # The loop may not have read a close that is already here; httpcore polls every idle
        # connection on every request (10% of login CPU), we poll only the one we pick.
        p = select.poll()
        p.register(self.fd, select.POLLIN)
        return not p.poll(0)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _done(self, resp: Response) -> None:
        self.parser = None
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(resp)

    def _fail(self, exc: Http1Error) -> None:
        self.parser = None
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)


class Http1Pool:
    """Keep-alive connections per upstream address; `post` is the only request it makes."""

    def __init__(self, limits: Http1Limits | None = None) -> None:
        self.limits = limits or Http1Limits()
        self._slots = asyncio.Semaphore(self.limits.max_connections)
        self._idle: dict[tuple[str, int], list[_Conn]] = {}
        self._closed = False

    def idle_count(self) -> int:
        return sum(len(v) for v in self._idle.values())

    async def post(self, to: Target, path: str, headers: dict[str, str], body: bytes) -> Response:
        """One `POST` and its whole answer; Http1Timeout / Http1Error otherwise."""
        try:
            request = encode_post(to.authority, to.prefix + path, headers, body)
        except ProtocolError as exc:
            raise Http1Error(str(exc)) from exc
        if self._closed:
            raise Http1Error("pool closed")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.timeout
        await self._slot(deadline)
        try:
            conn = self._pick(to) or await self._connect(to, deadline)
            answer = conn.send(request)
            # One timer on the answer, not an asyncio.timeout per request (a task
            # reschedule and a cancel scope each time; 2% of login CPU in py-spy).
            timer = loop.call_at(deadline, _expire, answer, self.limits.timeout)
            try:
                resp = await answer
            except BaseException:
                conn.close()  # failed, timed out or cancelled mid-answer: its state is unknown
                raise
            finally:
                timer.cancel()
        finally:
            self._slots.release()
        if resp.keep_alive and not conn.closed and not self._closed:
            self._release(to, conn)
        else:
            conn.close()
        return resp

    async def _slot(self, deadline: float) -> None:
        if not self._slots.locked():
            await self._slots.acquire()  # free: returns without suspending
            return
        try:
            async with asyncio.timeout_at(deadline):
                await self._slots.acquire()
        except TimeoutError as exc:
            raise Http1Timeout(f"no connection free within {self.limits.timeout} s") from exc

    async def aclose(self) -> None:
        self._closed = True
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()

    def _pick(self, to: Target) -> _Conn | None:
        conns = self._idle.get((to.host, to.port))
        if not conns:
            return None
        horizon = time.monotonic() - self.limits.idle_expiry
        while conns:
            conn = conns.pop()  # the most recently used: the least likely to have been closed
            if conn.idle_at >= horizon and conn.usable():
                return conn
            conn.close()
        return None

    def _release(self, to: Target, conn: _Conn) -> None:
        conns = self._idle.setdefault((to.host, to.port), [])
        conn.idle_at = now = time.monotonic()
        horizon = now - self.limits.idle_expiry
        while conns and (len(conns) >= self.limits.max_idle or conns[0].idle_at < horizon):
            conns.pop(0).close()
        conns.append(conn)

    async def _connect(self, to: Target, deadline: float) -> _Conn:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(deadline):
                _, conn = await loop.create_connection(lambda: _Conn(self.limits), to.host, to.port)
        except TimeoutError as exc:
            raise Http1Timeout(f"no connection within {self.limits.timeout} s") from exc
        except OSError as exc:
            raise Http1Error(f"connect to {to.authority}: {exc!r}") from exc
        return conn


def _expire(answer: asyncio.Future[Response], timeout: float) -> None:
    if not answer.done():
        answer.set_exception(Http1Timeout(f"no answer within {timeout} s"))
