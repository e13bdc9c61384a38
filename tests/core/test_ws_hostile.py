"""The gateway client's own WebSocket (core/transport/gateway_conn.py) against real sockets (issue 14).

A hostile "gateway" (a raw TCP server scripting its answer) must fail the connect
cleanly with the existing error mapping: garbage, a wrong Sec-WebSocket-Accept, a
head that never ends (slowloris, bounded by open_timeout), a giant header, a close
mid-handshake are all 10000 NetworkError; a refusal's body keeps its errCode,
whatever its framing (Content-Length, chunked, until EOF). Against websockets'
server (a conforming peer): fragmented messages, server pings, the close
handshake, and wss:// with a certificate made for the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from websockets.asyncio.server import ServerConnection, serve

from core.errors import SdkError
from core.protocol.errcodes import ErrCode
from core.transport.gateway import GatewayClient
from core.transport.gateway_conn import ConnectionClosed, GatewayConnection, State, open_connection
from core.transport.wshandshake import HandshakeError, HandshakeRefused, ResponseReader
from tests.core.test_gateway_client import NEWEST_SEQ, Listener, ask, client, echo_until_closed, gateway, options
from tests.support.wait import wait_until

Script = Callable[[bytes, asyncio.StreamWriter], "asyncio.Future[None] | None"]


def accept_of(request: bytes) -> str:
    key = next(
        line.split(b":", 1)[1].strip()
        for line in request.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key:")
    )
    return ResponseReader(key)._expect


@asynccontextmanager
async def raw_gateway(answer: Callable[[bytes], list[bytes]], hold: bool = True) -> AsyncIterator[str]:
    """Reads the upgrade request, writes `answer(request)` piece by piece, then holds or closes."""
    stop = asyncio.Event()
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        try:
            request = await reader.readuntil(b"\r\n\r\n")
            for piece in answer(request):
                writer.write(piece)
                await writer.drain()
            if hold:
                await stop.wait()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        stop.set()
        await _close_all(writers)
        server.close()
        await server.wait_closed()


async def _close_all(writers: list[asyncio.StreamWriter]) -> None:
    """Close the peer's sockets before the test's loop ends (else a ResourceWarning at some later GC)."""
    for writer in writers:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def ok_101(accept: str, extra: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept.encode() + b"\r\n" + extra + b"\r\n"
    )


def refusal(code: int) -> bytes:
    return json.dumps({"errCode": code, "errMsg": "refused", "errDlt": ""}).encode()


HOSTILE: dict[str, tuple[Callable[[bytes], list[bytes]], str]] = {
    "garbage": (lambda req: [b"\x00\xff garbage\r\n\r\n"], "non-ASCII"),
    "not HTTP/1.1": (lambda req: [b"HTTP/1.0 101 Switching Protocols\r\n\r\n"], "malformed status line"),
    "wrong accept": (lambda req: [ok_101("dGhlIHNhbXBsZSBub25jZQ==")], "wrong Sec-WebSocket-Accept"),
    "no upgrade header": (
        lambda req: [ok_101(accept_of(req)).replace(b"Upgrade: websocket\r\n", b"")],
        "Upgrade header",
    ),
    "an extension not offered": (
        lambda req: [ok_101(accept_of(req), b"Sec-WebSocket-Extensions: permessage-deflate\r\n")],
        "none was offered",
    ),
    "giant header": (
        lambda req: [b"HTTP/1.1 101 Switching Protocols\r\nX-Big: " + b"a" * 40000 + b"\r\n\r\n"],
        "head over",
    ),
    "too many headers": (
        lambda req: [b"HTTP/1.1 101 Switching Protocols\r\n" + b"X: y\r\n" * 200 + b"\r\n"],
        "more than 128 headers",
    ),
    "header without colon": (
        lambda req: [b"HTTP/1.1 101 Switching Protocols\r\nno colon here\r\n\r\n"],
        "malformed header line",
    ),
    "closed mid-head": (lambda req: [b"HTTP/1.1 101 Switch"], "closed during the handshake"),
    "body over its limit": (
        lambda req: [b"HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\n{"],
        "refusal body over",
    ),
    "HTML error page": (
        lambda req: [b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 9\r\n\r\n<h1>x</h1"],
        "HTTP 502",
    ),
}


@pytest.mark.parametrize("name", list(HOSTILE))
async def test_a_hostile_handshake_fails_start_with_network_error(name: str) -> None:
    answer, why = HOSTILE[name]
    async with raw_gateway(answer, hold=name != "closed mid-head") as url:
        gw = GatewayClient(url, "alice", "tok", 5, Listener(), options(open_timeout=5.0))
        with pytest.raises(SdkError) as caught:
            await gw.start("op")
        await gw.close()
    assert caught.value.code == ErrCode.NetworkError and why in str(caught.value), caught.value
    assert not gw.running


async def test_a_slowloris_handshake_is_bounded_by_the_open_timeout() -> None:
    async with raw_gateway(lambda req: [b"HTTP/1.1 101 Switching Protocols\r\n", b"X-Slow: a"]) as url:
        gw = GatewayClient(url, "alice", "tok", 5, Listener(), options(open_timeout=0.3))
        with pytest.raises(SdkError) as caught:
            await gw.start("op")
        await gw.close()
    assert caught.value.code == ErrCode.NetworkError and "TimeoutError" in caught.value.detail


@pytest.mark.parametrize(
    "framing",
    [
        lambda body: [b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body), body[:5], body[5:]],
        lambda body: [
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n" % len(body),
            body,
            b"\r\n0\r\n\r\n",
        ],
        lambda body: [b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n", body],  # until EOF
    ],
    ids=["content-length", "chunked", "until-eof"],
)
async def test_a_refusal_keeps_its_errcode_whatever_its_framing(framing: Callable[[bytes], list[bytes]]) -> None:
    async with raw_gateway(lambda req: framing(refusal(ErrCode.TokenExpiredError)), hold=False) as url:
        gw = GatewayClient(url, "alice", "tok", 5, Listener(), options())
        with pytest.raises(SdkError) as caught:
            await gw.start("op")
        await gw.close()
    assert caught.value.code == ErrCode.TokenExpiredError


async def test_frames_in_the_same_read_as_the_101_are_not_lost() -> None:
    push = b'{"reqIdentifier":2001,"msgIncr":"","operationID":"op-early","errCode":0,"errMsg":"","data":""}'
    frame = bytes((0x82, len(push))) + push
    async with raw_gateway(lambda req: [ok_101(accept_of(req)) + frame]) as url:
        listener = Listener()
        gw = GatewayClient(url, "alice", "tok", 5, listener, options())
        await gw.start("op")
        try:
            got = await asyncio.wait_for(listener.pushes.get(), 10)
            assert got.operation_id == "op-early"
        finally:
            if gw._ws is not None:
                gw._ws.abort()  # the raw peer does not do close handshakes
            await gw.close()


def test_the_response_reader_takes_any_split() -> None:
    key = b"dGhlIHNhbXBsZSBub25jZQ=="
    head, frames = ok_101(ResponseReader(key)._expect), b"\x81\x02hi"
    for cut in range(1, len(head)):
        reader = ResponseReader(key)
        assert not reader.feed(head[:cut])
        assert reader.feed(head[cut:] + frames) and reader.leftover == frames
    with pytest.raises(HandshakeRefused) as refused:
        ResponseReader(key).feed(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno")
    assert refused.value.status == 403 and refused.value.body == b"no"
    with pytest.raises(HandshakeError):
        ResponseReader(key).feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")


# -- a conforming peer -----------------------------------------------------------------


@asynccontextmanager
async def ws_peer(handler: Callable[[ServerConnection], object], **kw: object) -> AsyncIterator[int]:
    async def run(ws: ServerConnection) -> None:
        await handler(ws)  # type: ignore[misc]

    async with serve(run, "127.0.0.1", 0, compression=None, **kw) as server:  # type: ignore[arg-type]
        yield server.sockets[0].getsockname()[1]


async def test_fragmented_messages_server_pings_and_the_close_handshake() -> None:
    seen: list[object] = []

    async def handler(ws: ServerConnection) -> None:
        await ws.send([b"frag", b"men", b"ted"])  # one message in three frames
        pong = await ws.ping(b"server ping")
        await asyncio.wait_for(pong, 10)
        seen.append("pong")
        seen.append(await ws.recv())
        await ws.wait_closed()
        seen.append(ws.close_code)

    got: list[bytes] = []
    ended: list[bool] = []
    async with ws_peer(handler) as port:
        conn = await open_connection(f"ws://127.0.0.1:{port}/", got.append, lambda: ended.append(True), 1 << 20, 5.0)
        await wait_until(lambda: got == [b"fragmented"] and seen == ["pong"], what="the message and the pong")
        await conn.send(b"hello")
        await wait_until(lambda: len(seen) == 2, what="our message")
        await conn.close(1000, "bye")
        assert conn.state is State.CLOSED and conn.rcvd_code == 1000 and ended == [True]
        await wait_until(lambda: len(seen) == 3, what="the server's close")
    assert seen == ["pong", b"hello", 1000]


async def test_wss_with_the_given_tls_context(tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI needed to make the test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    make = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"]
    make += ["-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)]
    done = await asyncio.create_subprocess_exec(
        *make, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    assert await done.wait() == 0
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))

    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    got: list[bytes] = []
    async with ws_peer(echo, ssl=server_ctx) as port:
        conn = await open_connection(
            f"wss://localhost:{port}/x?token=t", got.append, lambda: None, 1 << 20, 5.0, client_ctx
        )
        await conn.send(b"over tls" * 10000)  # bigger than one TLS record
        await wait_until(lambda: got == [b"over tls" * 10000], what="the echo")
        await conn.close()
        # Without the test CA the certificate is refused: an OSError, the NetworkError mapping.
        with pytest.raises(ssl.SSLError):
            await open_connection(f"wss://localhost:{port}/", got.append, lambda: None, 1 << 20, 5.0)


def test_the_client_runs_on_uvloop() -> None:
    """The bridge serves on uvloop (bridge/server.py), whose transports are asyncio's in duck type only."""
    uvloop = pytest.importorskip("uvloop")

    async def run() -> None:
        async with gateway(echo_until_closed) as peer, client(peer, Listener()) as gw:
            assert await gw.request(NEWEST_SEQ, ask("uv"), "op-uv") == ask("uv")[::-1]
            assert gw._ws is not None
            stale = gw._ws.read_at = gw._ws.read_at - 1.0  # uvloop's clock ticks in ms: a pong may come within one
            gw._ws.write_ping()
            ws = gw._ws
            await wait_until(lambda: ws.read_at > stale, what="the pong")
        async with raw_gateway(HOSTILE["wrong accept"][0]) as url:
            bad = GatewayClient(url, "alice", "tok", 5, Listener(), options())
            with pytest.raises(SdkError) as caught:
                await bad.start("op")
            await bad.close()
            assert caught.value.code == ErrCode.NetworkError

    uvloop.run(run())


async def test_dial_urls_with_their_tokens_stay_out_of_urlsplit_s_cache() -> None:
    """urlsplit keeps its last 128 results (functools.lru_cache): each dial URL is new and has a token."""
    async with raw_gateway(lambda req: [ok_101(accept_of(req))]) as url:
        cache: Any = urlsplit  # an lru_cache wrapper; typeshed types it as the plain overloads
        cache.cache_clear()
        for token in ("secret-a", "secret-b", "secret-c"):
            conn = await open_connection(f"{url}/?token={token}", lambda m: None, lambda: None, 1 << 20, 5.0)
            conn.abort()
        assert cache.cache_info().currsize == 1  # the address alone


async def test_writes_wait_while_the_peer_does_not_read_and_fail_cleanly_when_it_goes() -> None:
    """Flow control (pause_writing/resume_writing): `send` waits while the transport's buffer
    is over its high-water mark; a connection lost meanwhile fails the waiting send."""
    peers: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        writer.write(ok_101(accept_of(request)))
        assert isinstance(writer.transport, asyncio.ReadTransport)
        writer.transport.pause_reading()  # and then reads nothing, until told
        peers.append((reader, writer))

    async def stuck_send(url: str) -> tuple[GatewayConnection, asyncio.Future[None]]:
        conn = await open_connection(url, lambda m: None, lambda: None, 1 << 20, 5.0)
        assert conn.transport is not None
        conn.transport.set_write_buffer_limits(high=1 << 16)
        while True:  # fill the socket buffers and then ours: a send returns at once until then
            waiting = asyncio.ensure_future(conn.send(b"x" * (1 << 16)))
            for _ in range(3):
                await asyncio.sleep(0)
            if not waiting.done():
                break
            waiting.result()
        assert conn._paused, "a send waits only while the transport is paused"
        return conn, waiting

    async def read_all(reader: asyncio.StreamReader) -> None:
        while await reader.read(1 << 16):
            pass

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
        conn, waiting = await stuck_send(url)
        await wait_until(lambda: len(peers) == 1, what="the peer")
        transport = peers[0][1].transport
        assert isinstance(transport, asyncio.ReadTransport)
        transport.resume_reading()
        reading = asyncio.ensure_future(read_all(peers[0][0]))
        await asyncio.wait_for(waiting, 10)  # drained: the send returns
        conn.abort()
        await asyncio.wait_for(reading, 10)

        conn, waiting = await stuck_send(url)
        await wait_until(lambda: len(peers) == 2, what="the second peer")
        peers[1][1].transport.abort()  # the peer goes away without reading
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(waiting, 10)
        with pytest.raises(ConnectionClosed):
            await conn.send(b"after")
    finally:
        await _close_all([writer for _, writer in peers])
        server.close()
        await server.wait_closed()
