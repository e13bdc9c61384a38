"""GatewayClient against a scripted gateway: request matching, pushes, kicks,
redials and handshake refusals (issue 11).

The peer is a real WebSocket server on loopback speaking the gateway's JSON
envelope (openim-v3.md 2.1-2.4); each test scripts what it answers. Behaviour
follows openim-sdk-core internal/interaction/long_conn_mgr.go: answers are
matched by msgIncr, 2002 ends the connection for good, token errors in the
handshake stop redialling, anything else redials with backoff.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from core.errors import SdkError
from core.protocol.constants import ReqIdentifier
from core.protocol.envelope import WsReq, WsResp, decode_json_req, encode_json_resp, gunzip, is_gzip
from core.protocol.errcodes import ErrCode
from core.protocol.openim_pb2 import GetMaxSeqReq
from core.supervise import RestartPolicy
from core.transport.gateway import GatewayClient, GatewayOptions
from tests.support.wait import until

Handler = Callable[["Peer", ServerConnection], Awaitable[None]]
NEWEST_SEQ = ReqIdentifier.GET_NEWEST_SEQ


def ask(user_id: str = "alice") -> bytes:
    """A well-formed request payload (GetMaxSeqReq): the suite's conformance check reads every one."""
    return GetMaxSeqReq(userID=user_id).SerializeToString()


@dataclass
class Listener:
    """Records what the client tells its owner, in order."""

    calls: list[str] = field(default_factory=list)
    pushes: asyncio.Queue[WsResp] = field(default_factory=asyncio.Queue)
    failures: list[int] = field(default_factory=list)
    token_errors: list[int] = field(default_factory=list)
    kicked: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_connecting(self) -> None:
        self.calls.append("connecting")

    async def on_connected(self, first: bool) -> None:
        self.calls.append(f"connected first={first}")

    async def on_connect_failed(self, code: int, msg: str) -> None:
        self.failures.append(code)

    async def on_push(self, resp: WsResp) -> None:
        await self.pushes.put(resp)

    async def on_kicked(self) -> None:
        self.kicked.set()

    async def on_token_error(self, code: int, msg: str) -> None:
        self.token_errors.append(code)

    def on_bad_frame(self, reason: str) -> None:
        self.calls.append(f"bad frame {reason}")

    async def on_crashed(self, exc: BaseException) -> None:
        self.calls.append(f"crashed {exc!r}")


@dataclass
class Peer:
    """The scripted gateway: `refuse` answers handshakes number i (0-based) with an errCode."""

    handler: Handler
    refuse: dict[int, int] = field(default_factory=dict)
    handshakes: int = 0
    requests: asyncio.Queue[tuple[ServerConnection, WsReq]] = field(default_factory=asyncio.Queue)
    url: str = ""

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        number = self.handshakes
        self.handshakes += 1
        code = self.refuse.get(number)
        if code is None:
            return None
        # OpenIM answers a refused upgrade with HTTP 200 and its envelope (openim-v3.md 2.2).
        body = json.dumps({"errCode": code, "errMsg": "refused", "errDlt": ""}).encode()
        return Response(200, "OK", Headers({"Content-Type": "application/json"}), body)

    async def read(self, ws: ServerConnection) -> WsReq:
        frame = await ws.recv()
        assert isinstance(frame, bytes), "the SDK sends binary frames"
        req = decode_json_req(gunzip(frame) if is_gzip(frame) else frame)
        await self.requests.put((ws, req))
        return req


def answer(req: WsReq, data: bytes = b"", err_code: int = 0) -> bytes:
    return encode_json_resp(WsResp(req.req_identifier, req.msg_incr, req.operation_id, err_code, "", data))


@asynccontextmanager
async def gateway(handler: Handler, refuse: Mapping[int, int] | None = None) -> AsyncIterator[Peer]:
    peer = Peer(handler, dict(refuse or {}))

    async def serve_one(ws: ServerConnection) -> None:
        await handler(peer, ws)

    async with serve(serve_one, "127.0.0.1", 0, compression=None, process_request=peer.process_request) as server:
        peer.url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        yield peer


def options(**overrides: object) -> GatewayOptions:
    opts = GatewayOptions(backoff=(0.01, 0.02), request_timeout=5.0, restart_policy=RestartPolicy(restarts=0))
    for name, value in overrides.items():
        setattr(opts, name, value)
    return opts


@asynccontextmanager
async def client(peer: Peer, listener: Listener, **overrides: object) -> AsyncIterator[GatewayClient]:
    gw = GatewayClient(peer.url, "alice", "tok", 5, listener, options(**overrides))
    try:
        await gw.start("op-start")
        yield gw
    finally:
        await gw.close()


async def echo_until_closed(peer: Peer, ws: ServerConnection) -> None:
    """Answer every request with its own data, reversed."""
    async for _ in _forever():
        req = await peer.read(ws)
        await ws.send(answer(req, req.data[::-1]))


async def _forever() -> AsyncIterator[None]:
    while True:
        yield None


@pytest.fixture
def listener() -> Listener:
    return Listener()


async def test_answers_are_matched_by_msg_incr_whatever_their_order(listener: Listener) -> None:
    async def reverse_order(peer: Peer, ws: ServerConnection) -> None:
        reqs = [await peer.read(ws) for _ in range(3)]
        # An answer nobody waits for is dropped, not taken for a push.
        await ws.send(encode_json_resp(WsResp(1003, "alice_unknown", "op-x", data=b"stray")))
        for req in reversed(reqs):
            await ws.send(answer(req, b"for " + req.data))
        await ws.wait_closed()

    async with gateway(reverse_order) as peer, client(peer, listener) as gw:
        results = await asyncio.gather(*(gw.request(NEWEST_SEQ, ask(f"r{i}"), f"op-{i}") for i in range(3)))
        assert results == [b"for " + ask(f"r{i}") for i in range(3)]
        assert listener.pushes.empty()


async def test_an_error_answer_raises_its_errcode(listener: Listener) -> None:
    async def refuse(peer: Peer, ws: ServerConnection) -> None:
        req = await peer.read(ws)
        await ws.send(answer(req, err_code=ErrCode.RecordNotFoundError))
        await ws.wait_closed()

    async with gateway(refuse) as peer, client(peer, listener) as gw:
        with pytest.raises(SdkError) as caught:
            await gw.request(NEWEST_SEQ, ask(), "op-err")
        assert caught.value.code == ErrCode.RecordNotFoundError


async def test_an_unanswered_request_times_out_and_is_forgotten(listener: Listener) -> None:
    async def silent(peer: Peer, ws: ServerConnection) -> None:
        await peer.read(ws)
        await ws.wait_closed()

    async with gateway(silent) as peer, client(peer, listener, request_timeout=0.2) as gw:
        with pytest.raises(SdkError) as caught:
            await gw.request(NEWEST_SEQ, ask(), "op-timeout")
        assert caught.value.code == ErrCode.NetworkTimeoutError
        assert gw._pending == {}


async def test_pushes_reach_the_listener_in_order(listener: Listener) -> None:
    async def pushes(peer: Peer, ws: ServerConnection) -> None:
        for i in range(5):
            ident = ReqIdentifier.PUSH_MSG if i % 2 == 0 else ReqIdentifier.SUB_USER_ONLINE_STATUS
            await ws.send(encode_json_resp(WsResp(ident, "", f"op-push-{i}", data=bytes([i]))))
        await ws.wait_closed()

    async with gateway(pushes) as peer, client(peer, listener):
        got = [await asyncio.wait_for(listener.pushes.get(), 5) for _ in range(5)]
        assert [p.data for p in got] == [bytes([i]) for i in range(5)]
        assert [p.req_identifier for p in got] == [2001, 2005, 2001, 2005, 2001]


async def test_a_lost_connection_fails_waiting_requests_and_the_client_redials(listener: Listener) -> None:
    async def drop_first(peer: Peer, ws: ServerConnection) -> None:
        if peer.handshakes == 1:
            await peer.read(ws)
            await ws.close()  # the request is never answered
            return
        await echo_until_closed(peer, ws)

    async with gateway(drop_first) as peer, client(peer, listener) as gw:
        with pytest.raises(SdkError) as caught:
            await gw.request(NEWEST_SEQ, ask("lost"), "op-lost")
        assert caught.value.code == ErrCode.NetworkError
        await gw.wait_connected()
        assert await gw.request(NEWEST_SEQ, ask("abc"), "op-again") == ask("abc")[::-1]
        assert listener.calls[:4] == ["connecting", "connected first=True", "connecting", "connected first=False"]


async def test_refused_redials_are_retried_until_one_succeeds(listener: Listener) -> None:
    async def close_first(peer: Peer, ws: ServerConnection) -> None:
        if peer.handshakes == 1:
            await ws.close()
            return
        await echo_until_closed(peer, ws)

    # Handshakes 1-3 (the redials) refused with a server error, not a token error.
    refused = {1: ErrCode.ServerInternalError, 2: ErrCode.ServerInternalError, 3: ErrCode.ServerInternalError}
    async with gateway(close_first, refused) as peer, client(peer, listener) as gw:
        await until(lambda: _true(gw.connected.is_set() and peer.handshakes == 5), "the fifth handshake")
        assert listener.failures == [ErrCode.ServerInternalError] * 3
        assert await gw.request(NEWEST_SEQ, ask("xy"), "op-back") == ask("xy")[::-1]
        assert listener.token_errors == []


async def test_a_token_error_on_redial_stops_the_loop(listener: Listener) -> None:
    async def close_first(peer: Peer, ws: ServerConnection) -> None:
        await ws.close()

    async with gateway(close_first, {1: ErrCode.TokenExpiredError}) as peer, client(peer, listener) as gw:
        await until(lambda: _true(not gw.running), "the connection loop to stop")
        assert listener.token_errors == [ErrCode.TokenExpiredError]
        assert peer.handshakes == 2  # no redial after a token error
        with pytest.raises(SdkError) as caught:
            await gw.request(NEWEST_SEQ, ask(), "op-after")
        assert caught.value.code == ErrCode.NetworkError


@pytest.mark.parametrize(
    "code", [ErrCode.TokenInvalidError, ErrCode.TokenKickedError, ErrCode.ServerInternalError], ids=str
)
async def test_a_refused_first_handshake_fails_start_with_its_errcode(listener: Listener, code: int) -> None:
    async def never(peer: Peer, ws: ServerConnection) -> None:
        raise AssertionError("no connection expected")

    async with gateway(never, {0: code}) as peer:
        gw = GatewayClient(peer.url, "alice", "tok", 5, listener, options())
        with pytest.raises(SdkError) as caught:
            await gw.start("op-first")
        await gw.close()
        assert caught.value.code == code
        assert peer.handshakes == 1
        assert not gw.running


async def test_an_unreachable_gateway_fails_start_with_network_error(listener: Listener, unused_tcp_port: int) -> None:
    gw = GatewayClient(f"ws://127.0.0.1:{unused_tcp_port}", "alice", "tok", 5, listener, options())
    with pytest.raises(SdkError) as caught:
        await gw.start("op-first")
    await gw.close()
    assert caught.value.code == ErrCode.NetworkError


async def test_a_kick_ends_the_connection_for_good(listener: Listener) -> None:
    async def kick(peer: Peer, ws: ServerConnection) -> None:
        await peer.read(ws)  # a request is waiting when the kick comes
        await ws.send(encode_json_resp(WsResp(ReqIdentifier.KICK_ONLINE_MSG, "", "op-kick")))
        await ws.wait_closed()

    async with gateway(kick) as peer, client(peer, listener) as gw:
        with pytest.raises(SdkError) as caught:
            await gw.request(NEWEST_SEQ, ask(), "op-pending")
        assert caught.value.code == ErrCode.NetworkError
        await asyncio.wait_for(listener.kicked.wait(), 5)
        await until(lambda: _true(not gw.running), "the connection loop to stop")
        assert peer.handshakes == 1


async def test_close_with_logout_sends_2003_first(listener: Listener) -> None:
    async with gateway(echo_until_closed) as peer:
        gw = GatewayClient(peer.url, "alice", "tok", 5, listener, options())
        await gw.start("op-start")
        await gw.close(send_logout=True)
        _, req = await asyncio.wait_for(peer.requests.get(), 5)
        assert req.req_identifier == ReqIdentifier.LOGOUT_MSG
        assert req.send_id == "alice"
        assert not gw.running


async def test_a_request_before_start_or_after_close_is_a_network_error(listener: Listener) -> None:
    async with gateway(echo_until_closed) as peer:
        gw = GatewayClient(peer.url, "alice", "tok", 5, listener, options())
        with pytest.raises(SdkError) as before:
            await gw.request(NEWEST_SEQ, ask(), "op-early")
        await gw.start("op-start")
        await gw.close()
        with pytest.raises(SdkError) as after:
            await gw.request(NEWEST_SEQ, ask(), "op-late")
        assert before.value.code == after.value.code == ErrCode.NetworkError


async def _true(value: bool) -> bool | None:
    return True if value else None
