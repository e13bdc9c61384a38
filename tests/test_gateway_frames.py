"""GatewayClient against a gateway that sends garbage: every bad frame is counted and
skipped, the read loop goes on, and the next good push arrives (issue 10).

The peer is a real WebSocket server on loopback that answers the handshake and
then writes the frames under test; the imserver never sends such frames itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from websockets.asyncio.server import ServerConnection, serve

from core.errors import SdkError
from core.protocol.envelope import WsResp, encode_json_resp
from core.protocol.errcodes import ErrCode
from core.transport.api import ApiClient
from core.transport.gateway import GatewayClient, GatewayOptions

GOOD_PUSH = encode_json_resp(WsResp(2001, "", "op-good", data=b"\x0a\x00"))
BAD_FRAMES: list[bytes | str] = [
    b"not json",
    b"[" * 5000 + b"]" * 5000,
    b'{"reqIdentifier": 2001, "data": "not base64!"}',
    b'{"reqIdentifier": "2001"}',
    b'{"reqIdentifier": 1e400}',
    b'{"reqIdentifier": 2001, "errCode": ' + b"9" * 5000 + b"}",
    b"\xff\xfe\x00",
    "a text frame",
]


class Listener:
    def __init__(self) -> None:
        self.bad: list[str] = []
        self.pushes: asyncio.Queue[WsResp] = asyncio.Queue()
        self.connected = 0

    async def on_connecting(self) -> None:
        return None

    async def on_connected(self, first: bool) -> None:
        self.connected += 1

    async def on_connect_failed(self, code: int, msg: str) -> None:
        return None

    async def on_push(self, resp: WsResp) -> None:
        await self.pushes.put(resp)

    async def on_kicked(self) -> None:
        return None

    async def on_token_error(self, code: int, msg: str) -> None:
        return None

    def on_bad_frame(self, reason: str) -> None:
        self.bad.append(reason)

    async def on_crashed(self, exc: BaseException) -> None:
        return None


@pytest.fixture
async def garbage_gateway() -> AsyncIterator[str]:
    async def handler(ws: ServerConnection) -> None:
        for frame in BAD_FRAMES:
            await ws.send(frame)
        await ws.send(GOOD_PUSH)
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}"


async def test_bad_frames_are_counted_and_the_next_push_arrives(garbage_gateway: str) -> None:
    listener = Listener()
    client = GatewayClient(garbage_gateway, "u1", "token", 5, listener, GatewayOptions(backoff=(0.05,)))
    await client.start("op")
    try:
        push = await asyncio.wait_for(listener.pushes.get(), 10)
        assert push.operation_id == "op-good"
        assert len(listener.bad) == len(BAD_FRAMES) - 1, "every binary frame but none of the text ones"
        assert client.running and listener.connected == 1
    finally:
        await client.close()
    assert not client.running


async def test_api_envelope_with_wrong_types_is_an_sdk_error() -> None:
    bodies = [
        {"errCode": "abc", "errMsg": None},
        {"errCode": 1004, "errMsg": ["x"]},
        {"errCode": 1e300},
    ]

    answers = iter(bodies)

    async def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=next(answers))

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        api = ApiClient(http, "http://upstream.invalid")
        codes = []
        for _ in bodies:
            with pytest.raises(SdkError) as err:
                # a real route and request (the run's conformance check sees every call)
                await api.post("/msg/get_server_time", {}, "op")
            codes.append(err.value.code)
    assert codes == [ErrCode.NetworkError, ErrCode.RecordNotFoundError, ErrCode.NetworkError]
