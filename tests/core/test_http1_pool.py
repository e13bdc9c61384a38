"""core/transport/http1_pool.py against hostile upstreams on real sockets.

Each case is a scripted TCP server; the same `ApiClient.post` runs through the
lean pool and through httpx, and both must end in the same SdkError code
(core/transport/api.py: 10000 NetworkError, 10001 NetworkTimeoutError).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from core.errors import SdkError
from core.protocol.errcodes import ErrCode
from core.transport.api import ApiClient
from core.transport.http1_pool import Http1Limits, Http1Pool, target

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
ROUTE = "/user/get_users_info"
OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 30\r\n\r\n{"errCode":0,"data":{"n":1}}  '


async def _request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length"))
    return head + await reader.readexactly(length)


class Server:
    """A TCP server whose connections `handler` answers; counts accepted connections."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.accepted = asyncio.Event()
        self.writers: list[asyncio.StreamWriter] = []
        self.tasks: list[asyncio.Task[None]] = []  # the handlers, ended with the server
        self.url = ""

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.accepted.set()
        self.writers.append(writer)
        task = asyncio.current_task()
        assert task is not None
        self.tasks.append(task)
        with contextlib.suppress(Exception):
            await self.handler(reader, writer)
        writer.close()


@contextlib.asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[Server]:
    srv = Server(handler)
    server = await asyncio.start_server(srv._serve, "127.0.0.1", 0)
    srv.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        yield srv
    finally:
        # Handlers still waiting on a client are ended here, not left pending for the loop's
        # end: their transports would be collected unclosed during a later test.
        for task in srv.tasks:
            task.cancel()
        await asyncio.gather(*srv.tasks, return_exceptions=True)
        for w in srv.writers:
            w.close()
            with contextlib.suppress(Exception):
                await w.wait_closed()
        server.close()
        await server.wait_closed()


@contextlib.asynccontextmanager
async def clients(url: str, timeout: float = 5.0) -> AsyncIterator[dict[str, ApiClient]]:
    pool = Http1Pool(Http1Limits(timeout=timeout, max_body=1 << 20))
    async with httpx.AsyncClient(timeout=httpx.Timeout(timeout)) as http:
        try:
            yield {"lean": ApiClient(http, url, pool=pool), "httpx": ApiClient(http, url)}
        finally:
            await pool.aclose()


async def _code(api: ApiClient) -> int:
    with pytest.raises(SdkError) as info:
        await api.post(ROUTE, {"userIDs": ["u"]}, "op")
    return info.value.code


async def keep_alive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        await _request(reader)
        writer.write(OK)
        await writer.drain()


async def test_answers_and_reuses_one_connection() -> None:
    async with serving(keep_alive) as srv, clients(srv.url) as c:
        for _ in range(3):
            assert await c["lean"].post(ROUTE, {"userIDs": ["é"]}, "op") == {"n": 1}
        assert srv.connections == 1


async def test_sends_the_bytes_httpx_sends_for_the_body() -> None:
    seen: list[bytes] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            seen.append(await _request(reader))
            writer.write(OK)

    async with serving(record) as srv, clients(srv.url) as c:
        body: dict[str, object] = {"userIDs": ["ü", "b"]}
        await c["lean"].post(ROUTE, body, "op")
        await c["httpx"].post(ROUTE, body, "op")
    (lean_head, lean_body), (httpx_head, httpx_body) = (s.split(b"\r\n\r\n", 1) for s in seen)
    assert lean_body == httpx_body
    for line in (b"operationID: op", b"token: ", b"Content-Type: application/json"):
        assert line.lower() in lean_head.lower().split(b"\r\n") and line.lower() in httpx_head.lower().split(b"\r\n")


def _scripted(answer: bytes, *, then: str = "close") -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _request(reader)
        writer.write(answer)
        await writer.drain()
        if then == "hang":
            await asyncio.Event().wait()

    return handler


async def _reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _request(reader)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
    writer.transport.abort()


HOSTILE: dict[str, tuple[Handler, int]] = {
    "bad status line": (_scripted(b"HTTP/1.1 OK 200\r\nContent-Length: 0\r\n\r\n"), ErrCode.NetworkError),
    "chunked garbage": (
        _scripted(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nnot-hex\r\n{}\r\n0\r\n\r\n"),
        ErrCode.NetworkError,
    ),
    "body cut short": (_scripted(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{}"), ErrCode.NetworkError),
    "no answer, closed": (_scripted(b""), ErrCode.NetworkError),
    "connection reset": (_reset, ErrCode.NetworkError),
    "not 200": (_scripted(b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n", then="hang"), ErrCode.NetworkError),
    "not JSON": (_scripted(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n{{{", then="hang"), ErrCode.NetworkError),
    "no envelope": (_scripted(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]", then="hang"), ErrCode.NetworkError),
    "server error code": (
        _scripted(b'HTTP/1.1 200 OK\r\nContent-Length: 29\r\n\r\n{"errCode":1004,"errMsg":"x"}', then="hang"),
        1004,
    ),
    "slow head": (_scripted(b"HTTP/1.1 200 OK\r\n", then="hang"), ErrCode.NetworkTimeoutError),
    "slow body": (
        _scripted(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{", then="hang"),
        ErrCode.NetworkTimeoutError,
    ),
}


@pytest.mark.parametrize("case", HOSTILE)
async def test_hostile_answers_end_in_the_same_error_as_with_httpx(case: str) -> None:
    handler, code = HOSTILE[case]
    async with serving(handler) as srv, clients(srv.url, timeout=0.3) as c:
        assert await _code(c["lean"]) == code
        assert await _code(c["httpx"]) == code


async def test_a_huge_body_is_refused_and_its_connection_dropped() -> None:
    async def huge(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n")
        with contextlib.suppress(ConnectionError):
            for _ in range(2000):
                writer.write(b"x" * 65536)
                await writer.drain()

    async with serving(huge) as srv, clients(srv.url) as c:
        assert await _code(c["lean"]) == ErrCode.NetworkError
        pool = c["lean"].pool
        assert pool is not None and pool.idle_count() == 0


async def test_a_dripping_body_meets_one_deadline() -> None:
    """httpx's timeout is per read; the lean pool's covers the whole request."""
    stop = asyncio.Event()

    async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        while not stop.is_set():
            writer.write(b" ")
            await writer.drain()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.02)

    async with serving(drip) as srv, clients(srv.url, timeout=0.3) as c:
        assert await _code(c["lean"]) == ErrCode.NetworkTimeoutError
    stop.set()


async def test_keep_alive_reuse_after_the_server_closed() -> None:
    """A server that closes an idle kept-alive connection: the next call opens a new one."""
    closed = asyncio.Event()

    async def answer_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _request(reader)
        writer.write(OK)  # no `Connection: close`: the client keeps it
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        closed.set()
        await keep_alive(reader, writer)

    async with serving(answer_then_close) as srv, clients(srv.url) as c:
        for _ in range(3):
            closed.clear()
            assert await c["lean"].post(ROUTE, {"userIDs": []}, "op") == {"n": 1}
            # whether or not the loop has read that close yet, the pool must not send on it
            await asyncio.wait_for(closed.wait(), 5)
        assert srv.connections == 3


async def test_an_idle_connection_with_stray_bytes_is_not_reused() -> None:
    answered, strayed = asyncio.Event(), asyncio.Event()

    async def stray(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if answered.is_set():
            await keep_alive(reader, writer)
            return
        await _request(reader)
        writer.write(OK)
        await answered.wait()
        writer.write(b"HTTP/1.1 200 OK\r\n")  # a second answer nobody asked for
        await writer.drain()  # on loopback: in the client's receive buffer now
        strayed.set()
        await asyncio.Event().wait()

    async with serving(stray) as srv, clients(srv.url) as c:
        assert await c["lean"].post(ROUTE, {"userIDs": []}, "op") == {"n": 1}
        answered.set()
        await asyncio.wait_for(strayed.wait(), 5)
        assert await c["lean"].post(ROUTE, {"userIDs": []}, "op") == {"n": 1}
        assert srv.connections == 2


async def test_unreachable_upstream_and_closed_pool() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there
    async with clients(f"http://127.0.0.1:{port}") as c:
        assert await _code(c["lean"]) == ErrCode.NetworkError
        assert await _code(c["httpx"]) == ErrCode.NetworkError
        pool = c["lean"].pool
        assert pool is not None
        await pool.aclose()
        assert await _code(c["lean"]) == ErrCode.NetworkError


async def test_header_values_that_would_split_the_request_are_a_network_error() -> None:
    async with serving(keep_alive) as srv, clients(srv.url) as c:
        c["lean"].token = "t\r\nX-Admin: 1"
        assert await _code(c["lean"]) == ErrCode.NetworkError
        assert srv.connections == 0


def test_https_and_odd_urls_stay_on_httpx() -> None:
    assert target("https://im.example.com") is None
    assert target("http://user@host") is None
    assert target("http://host:notaport") is None
    t = target("http://[::1]:8080/api")
    assert t is not None and (t.host, t.port, t.authority, t.prefix) == ("::1", 8080, "[::1]:8080", "/api")
    api = ApiClient(httpx.AsyncClient(), "https://im.example.com", pool=Http1Pool())
    assert api.pool is None


def test_an_upstream_the_environment_proxies_stays_on_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "im.direct")
    assert target("http://im.example.com:10002") is None  # httpx goes through the proxy
    assert target("http://im.direct:10002") is not None  # NO_PROXY: straight, on the lean pool


async def test_waiting_for_a_free_connection_meets_the_same_deadline() -> None:
    hang = _scripted(b"", then="hang")
    async with serving(hang) as srv, httpx.AsyncClient() as http:
        pool = Http1Pool(Http1Limits(max_connections=1, timeout=0.3))
        api = ApiClient(http, srv.url, pool=pool)
        first = asyncio.ensure_future(_code(api))
        await asyncio.wait_for(srv.accepted.wait(), 5)
        # The only slot is held until the first call's own deadline, so the second waits for it
        # and meets its deadline whether it gets the slot in its last moment or never.
        assert await _code(api) == ErrCode.NetworkTimeoutError
        assert await first == ErrCode.NetworkTimeoutError
        await pool.aclose()


async def test_a_cancelled_call_leaves_no_connection_behind() -> None:
    async with serving(_scripted(b"", then="hang")) as srv, clients(srv.url) as c:
        call = asyncio.ensure_future(c["lean"].post(ROUTE, {"userIDs": []}, "op"))
        await asyncio.wait_for(srv.accepted.wait(), 5)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        pool = c["lean"].pool
        assert pool is not None and pool.idle_count() == 0


def test_upstream_client_setting_is_checked() -> None:
    from bridge.settings import BridgeSettings

    assert BridgeSettings.from_env({}).upstream_client == "lean"
    assert BridgeSettings.from_env({"BRIDGE_UPSTREAM_CLIENT": "httpx"}).upstream_client == "httpx"
    with pytest.raises(ValueError, match="upstream_client"):
        BridgeSettings(upstream_client="curl").validate()
