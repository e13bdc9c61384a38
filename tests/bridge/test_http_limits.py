"""HTTP limits on real sockets: header size (431), header and body read timeouts (408),
413 for any oversized body, and a depth limit on JSON bodies; the bridge keeps serving.

Timeouts are tested on a second port serving the session's bridge app with small
limits; every wait is on the socket (its answer or its close) under a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from bridge.http_limits import HttpLimits
from bridge.server import serve_app
from bridge.settings import BridgeSettings
from tests.support.sseclient import SseReader
from tests.support.stack import BridgeUser, Stack

DEADLINE = 10.0
SHORT = 0.3  # the timeouts of the limited server


@pytest.fixture(scope="module")
async def user(stack: Stack) -> BridgeUser:
    (a_id,) = await stack.new_users(1)
    return await stack.login(a_id)


def _shared(app: ASGIApp) -> ASGIApp:
    """The bridge app on a second server: its lifespan already runs on the stack's own port."""

    async def shared(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return

    return shared


@contextlib.asynccontextmanager
async def limited(stack: Stack, **limits: Any) -> AsyncIterator[int]:
    limits = {"header_timeout": SHORT, "body_timeout": SHORT, **limits}
    async with serve_app(_shared(stack.bridge.app), limits=HttpLimits(**limits)) as running:
        yield running.port


@contextlib.asynccontextmanager
async def _connect(port: int) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def _answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """Read one whole response (the server closes or sends content-length bytes)."""
    async with asyncio.timeout(DEADLINE):
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines[1:] if line)
        headers = {k.lower(): v for k, v in headers.items()}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    return int(lines[0].split()[1]), headers, body


async def _request(port: int, data: bytes) -> tuple[int, dict[str, str], bytes]:
    async with _connect(port) as (reader, writer):
        writer.write(data)
        await writer.drain()
        return await _answer(reader)


async def _closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection."""
    async with asyncio.timeout(DEADLINE):
        return await reader.read()


async def _trickle(writer: asyncio.StreamWriter, reader: asyncio.StreamReader, piece: bytes) -> bytes:
    """Send ``piece`` again each time the server has not answered within a moment, until it
    answers and closes (a slowloris client); returns what it sent before closing."""
    async with asyncio.timeout(DEADLINE):
        while True:
            try:
                return await asyncio.wait_for(reader.read(), 0.05)
            except TimeoutError:
                writer.write(piece)
                await writer.drain()


def _problem(status: int, headers: dict[str, str], body: bytes, want: int, mentions: str) -> dict[str, Any]:
    assert status == want, body
    assert headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = json.loads(body)
    assert problem["status"] == want and mentions in problem["detail"], problem
    return problem


def _split(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def test_defaults_are_the_settings() -> None:
    assert HttpLimits() == HttpLimits.of(BridgeSettings())


# --- header size ---------------------------------------------------------------


async def test_header_over_the_limit_is_431_before_the_app_runs(stack: Stack, user: BridgeUser) -> None:
    port = int(stack.bridge.url.rsplit(":", 1)[1])
    head = b"GET /v1/session HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + user.session_token.encode()
    status, headers, body = await _request(port, head + b"\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n")
    _problem(status, headers, body, 431, "larger than 16384 bytes")
    assert "operationid" not in headers  # no middleware ran: the protocol answered
    assert headers["connection"] == "close"
    # Just under the limit, the same request is served.
    status, _, body = await _request(port, head + b"\r\nX-Big: " + b"a" * 15_000 + b"\r\nConnection: close\r\n\r\n")
    assert status == 200 and json.loads(body)["data"]["userID"] == user.user_id
    r = await stack.http.get(f"{stack.bridge.url}/v1/session", headers={**user.auth, "X-Big": "a" * 20_000})
    assert r.status_code == 431


@pytest.mark.parametrize(
    "head",
    [
        b"GET /healthz?" + b"q" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-N: v\r\n" * 3000 + b"\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 16_384 + b"\r\n\r\n",
    ],
    ids=["long-target", "many-fields", "one-field-at-the-limit"],
)
async def test_every_part_of_the_head_counts(stack: Stack, head: bytes) -> None:
    async with limited(stack) as port:
        _problem(*await _request(port, head), 431, "header fields larger than")


async def test_a_huge_header_sent_in_pieces_is_cut_early(stack: Stack, user: BridgeUser) -> None:
    """20 MB of header is never read: the server answers and closes after about the limit."""
    async with limited(stack) as port:
        async with _connect(port) as (reader, writer):
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
            sent = 0
            with contextlib.suppress(ConnectionError):
                async with asyncio.timeout(DEADLINE):
                    while sent < 20 << 20 and not reader.at_eof():
                        writer.write(b"a" * 65_536)
                        await writer.drain()
                        sent += 65_536
            assert sent < 20 << 20
            with contextlib.suppress(ConnectionError):  # the 431 may be lost to the reset of unread data
                answer = await _closed(reader)
                assert not answer or answer.startswith(b"HTTP/1.1 431 ")
        assert (await user.call("/v1/user/get_self_user_info"))["userID"] == user.user_id


# --- read timeouts ---------------------------------------------------------------


async def test_a_head_trickled_byte_by_byte_is_cut_after_the_header_timeout(stack: Stack) -> None:
    async with limited(stack) as port, _connect(port) as (reader, writer):
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        answer = await _trickle(writer, reader, b"a")
    _problem(*_split(answer), 408, f"request head not received within {SHORT:g} seconds")


async def test_a_connection_that_says_nothing_is_closed_after_the_header_timeout(stack: Stack) -> None:
    async with limited(stack) as port, _connect(port) as (reader, _):
        assert await _closed(reader) == b""


@pytest.mark.parametrize(
    ("head", "first", "piece"),
    [
        (b"Content-Length: 200\r\n", b'{"userID": ', b" "),
        (b"Transfer-Encoding: chunked\r\n", b'b\r\n{"userID": \r\n', b"1\r\n \r\n"),
    ],
    ids=["content-length", "chunked"],
)
async def test_a_body_trickled_slowly_is_cut_after_the_body_timeout(
    stack: Stack, user: BridgeUser, head: bytes, first: bytes, piece: bytes
) -> None:
    async with limited(stack) as port:
        async with _connect(port) as (reader, writer):
            writer.write(b"POST /v1/login HTTP/1.1\r\nHost: x\r\n" + head + b"\r\n" + first)
            answer = await _trickle(writer, reader, piece)
        _problem(*_split(answer), 408, f"request body not received within {SHORT:g} seconds")
        # The app saw a disconnect and answered nothing more; the bridge serves on.
        assert (await user.call("/v1/user/get_self_user_info"))["userID"] == user.user_id


async def test_kept_alive_connections_and_streams_outlive_the_read_timeouts(stack: Stack, user: BridgeUser) -> None:
    async with limited(stack) as port:
        url = f"http://127.0.0.1:{port}"
        stream = await SseReader(stack.http, f"{url}/v1/events", dict(user.auth)).start()
        try:
            async with _connect(port) as (idle_reader, idle_writer):
                request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                idle_writer.write(request)
                assert (await _answer(idle_reader))[0] == 200
                # A silent connection opened after both is closed by the header timeout:
                # by then both have been open longer than either timeout.
                async with _connect(port) as (silent_reader, _):
                    assert await _closed(silent_reader) == b""
                idle_writer.write(request)
                assert (await _answer(idle_reader))[0] == 200
            r = await stack.http.post(
                f"{url}/v1/auth/get_login_status", headers={**user.auth, "Prefer": "respond-async"}
            )
            assert r.status_code == 202
            op = r.json()["operationID"]
            await stream.wait_for("callResult", lambda d: d["operationID"] == op)
        finally:
            await stream.close()


# --- body size and JSON depth -------------------------------------------------------


async def test_a_chunked_body_over_the_limit_is_413(stack: Stack, user: BridgeUser) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"toUserID": "x", "reqMsg": "'
        for _ in range(20):
            yield b"m" * 65_536
        yield b'"}'

    r = await stack.http.post(f"{stack.bridge.url}/v1/friend/add_friend", content=chunks(), headers=user.auth)
    assert r.status_code == 413, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert "larger than 1048576 bytes" in r.json()["detail"] and r.json()["operationID"]
    # Content-Length over the limit: refused before the body is read.
    r = await stack.http.post(
        f"{stack.bridge.url}/v1/friend/add_friend", content=b"x" * ((1 << 20) + 1), headers=user.auth
    )
    assert r.status_code == 413
    assert (await user.call("/v1/user/get_self_user_info"))["userID"] == user.user_id


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("depth", [64, 400, 5000])
async def test_a_json_body_nested_too_deep_is_400_naming_the_limit(stack: Stack, user: BridgeUser, depth: int) -> None:
    """Before the limit: 400 to 900 levels in a free-form field were sent on, then answered
    500 (the result's serialisation recursed too deep); thousands answered a vague 400."""
    (b_id,) = await stack.new_users(1)
    msg = await user.call("/v1/message/create_text_message", {"text": "hi"})
    deep = "[" * depth + "]" * depth  # inside the body object and offlinePushInfo: depth + 2 levels
    body = json.dumps({"message": msg, "recvID": b_id})[:-1] + ', "offlinePushInfo": {"ex": ' + deep + "}}"
    r = await stack.http.post(f"{stack.bridge.url}/v1/message/send_message", content=body.encode(), headers=user.auth)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errCode"] == 1001 and "nests deeper than 64 levels" in r.json()["detail"]


async def test_a_json_body_at_the_depth_limit_is_read(stack: Stack, user: BridgeUser) -> None:
    async def post(body: Any) -> httpx.Response:
        return await stack.http.post(f"{stack.bridge.url}/v1/user/get_users_info", json=body, headers=user.auth)

    r = await post({"userIDs": [user.user_id]})
    assert r.status_code == 200
    # 64 levels in all (the body object is the first): past the depth check, refused by the model.
    r = await post({"userIDs": _nested(63)})
    assert r.status_code == 400 and "nests deeper" not in r.json()["detail"], r.text
