"""Frames: gob and JSON with and without gzip, text heartbeat, what closes a connection,
the write-queue bound and the read deadline."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode

from core.protocol import gob
from core.protocol import openim_pb2 as pb
from core.protocol.constants import ReqIdentifier
from core.protocol.envelope import WsReq, WsResp, encode_json_req, encode_json_resp, gzip_bytes
from imserver.gateway.connection import WRITE_QUEUE_FRAMES
from imserver.gateway.heartbeat import HeartbeatError, text_heartbeat_reply
from imserver.settings import ImServerSettings
from tests.imserver_gateway.harness import Client, Env, gateway_env, text_msg, within


async def assert_closed(client: Client) -> None:
    with pytest.raises(ConnectionClosed):
        while True:
            await within(client.ws.recv())


@pytest.mark.parametrize(("sdk", "gzip"), [("js", False), ("js", True), ("go", False), ("go", True)])
async def test_envelope_codecs_round_trip(env: Env, sdk: str, gzip: bool) -> None:
    async with env.client("u1", sdk=sdk, gzip=gzip) as u1, env.client("u2") as u2:
        resp = await u1.request(ReqIdentifier.SEND_MSG, text_msg("u1", "u2", "c1"))
        assert (resp.req_identifier, resp.err_code, resp.operation_id) == (1003, 0, "op-u1_1")
        assert pb.SendMsgResp.FromString(resp.data).clientMsgID == "c1"
        pushed = await u1.next_push()  # the sender's own copy comes back in u1's codec
        assert (pushed.clientMsgID, pushed.seq) == ("c1", 1)
        assert (await u2.next_push()).seq == 1
        seqs = await u1.call(ReqIdentifier.GET_NEWEST_SEQ, pb.GetMaxSeqReq(userID="u1"), pb.GetMaxSeqResp)
        assert dict(seqs.maxSeqs) == {"si_u1_u2": 1}


async def test_text_heartbeat(env: Env) -> None:
    async with env.client("u1") as u1:
        await u1.ws.send('{"type":"ping","body":"\\"op-1\\""}')
        assert await within(u1.ws.recv()) == '{"type":"pong","body":"\\"op-1\\""}'
        await u1.ws.send('{"type":"ping"}')
        assert await within(u1.ws.recv()) == '{"type":"pong","body":null}'
        await u1.ws.send('{"type":"pong"}')  # accepted silently
        assert (await u1.request(ReqIdentifier.SET_BACKGROUND_STATUS)).err_code == 0
        await u1.ws.send('{"type":"hello"}')
        await assert_closed(u1)


def test_text_heartbeat_rules() -> None:
    assert text_heartbeat_reply('{"Type":"ping","Body":{"a": [1, 2]}}') == '{"type":"pong","body":{"a":[1,2]}}'
    assert text_heartbeat_reply('{"type":"pong","body":1}') is None
    for bad in ("ping", "[]", "null", '{"type":1}', '{"body":1}'):
        with pytest.raises(HeartbeatError):
            text_heartbeat_reply(bad)


def _req(**kw: object) -> WsReq:
    fields: dict[str, object] = {"req_identifier": 1001, "send_id": "u1", "operation_id": "op", "msg_incr": "1"}
    fields.update(kw)
    return WsReq(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(b"\x00\x01garbage", id="undecodable"),
        pytest.param(encode_json_req(_req(send_id="u2")), id="sendID mismatch"),
        pytest.param(encode_json_req(_req(req_identifier=2001)), id="unknown reqIdentifier"),
        pytest.param(encode_json_req(_req(msg_incr="")), id="msgIncr missing"),
        pytest.param(encode_json_req(_req(req_identifier=0)), id="reqIdentifier missing"),
        pytest.param(gzip_bytes(encode_json_req(_req())), id="gzip on a plain connection"),
    ],
)
async def test_bad_frames_close_the_connection(env: Env, frame: bytes) -> None:
    async with env.client("u1") as u1:
        await u1.ws.send(frame)
        await assert_closed(u1)
    assert env.hub.stats.bad_frames == 1


async def test_bad_gob_and_bad_gzip_close(env: Env) -> None:
    async with env.client("u1", sdk="go") as u1:
        await u1.ws.send(encode_json_req(_req()))  # JSON on a gob connection
        await assert_closed(u1)
    async with env.client("u1", gzip=True) as u1:
        await u1.ws.send(encode_json_req(_req()))  # not gzip
        await assert_closed(u1)


async def test_text_frame_that_is_a_request_closes(env: Env) -> None:
    async with env.client("u1") as u1:
        await u1.ws.send(encode_json_req(_req()).decode())
        await assert_closed(u1)


def _sized_frame(sdk: str, msg_incr: str, size: int) -> bytes:
    """A valid GET_NEWEST_SEQ request of exactly `size` bytes in the connection's codec."""
    if sdk == "js":  # JSON allows trailing whitespace (Go's json.Unmarshal too)
        raw = encode_json_req(_req(msg_incr=msg_incr, data=pb.GetMaxSeqReq(userID="u1").SerializeToString()))
        return raw + b" " * (size - len(raw))
    for pad in range(size - 256, size):  # an unknown protobuf field pads the gob frame
        data = pb.GetMaxSeqReq(userID="u1").SerializeToString() + b"\x7a" + _varint(pad) + b"p" * pad
        frame = gob.encode_req(_req(msg_incr=msg_incr, data=data))
        if len(frame) == size:
            return frame
    raise AssertionError(f"no gob frame of {size} bytes")


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    return bytes(out) + bytes((n,))


@pytest.mark.parametrize("sdk", ["js", "go"])
async def test_frame_limit_is_openims_51200_bytes(env: Env, sdk: str) -> None:
    # constant.go maxMessageSize with SetReadLimit: gorilla closes with 1009 past it.
    limit = env.settings.ws_max_message_bytes
    assert limit == 51200
    async with env.client("u1", sdk=sdk) as u1:
        await u1.ws.send(_sized_frame(sdk, "at-limit", limit))
        resp = await u1.recv_frame()
        assert (resp.req_identifier, resp.msg_incr, resp.err_code) == (1001, "at-limit", 0)
        await u1.ws.send(_sized_frame(sdk, "over", limit + 1))
        await assert_closed(u1)
        assert u1.ws.close_code == 1009
    assert env.hub.connections("u1") == []


@pytest.mark.parametrize(
    "message",
    [
        pytest.param(b"\x00" * 51201, id="binary"),
        pytest.param("x" * 51201, id="text"),
        pytest.param([b"\x00" * 30000, b"\x00" * 21201], id="fragments"),  # the total counts, as in gorilla
    ],
)
async def test_oversized_messages_close_with_1009(env: Env, message: bytes | str | list[bytes]) -> None:
    async with env.client("u1") as u1:
        await u1.ws.send(message)
        await assert_closed(u1)
        assert u1.ws.close_code == 1009


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("sdk", "gzip", "frame"),
    [
        pytest.param(
            "js",
            False,
            '{"reqIdentifier":1001,"sendID":"u1","operationID":"o","msgIncr":"1","x":' + _nested(3000) + "}",
            id="json request",
        ),
        pytest.param("js", True, _nested(5000), id="gzip json request"),
        pytest.param("go", False, '{"type":"ping","body":' + _nested(3000) + "}", id="text heartbeat"),
    ],
)
async def test_deeply_nested_json_is_a_bad_frame_not_a_crash(
    env: Env, caplog: pytest.LogCaptureFixture, sdk: str, gzip: bool, frame: str
) -> None:
    # Issue 10: this closed with 1011 (RecursionError in the handler). OpenIM's decode error
    # ends readMessage and conn.Close() drops the TCP connection: 1006 on the client side.
    async with env.client("u1", sdk=sdk, gzip=gzip) as u1:
        if frame.startswith('{"type"'):
            await u1.ws.send(frame)
        else:
            await u1.ws.send(gzip_bytes(frame.encode()) if gzip else frame.encode())
        await assert_closed(u1)
        assert u1.ws.close_code == 1006
    assert env.hub.stats.bad_frames == 1
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_nested_json_within_the_bound_is_served(env: Env) -> None:
    async with env.client("u1") as u1:
        body = '{"type":"ping","body":' + _nested(50) + "}"
        await u1.ws.send(body)
        assert await within(u1.ws.recv()) == '{"type":"pong","body":' + _nested(50) + "}"
        raw = encode_json_req(_req(msg_incr="n")).decode()  # an envelope allows less (core/protocol/envelope.py)
        await u1.ws.send((raw[:-1] + ',"x":' + _nested(6) + "}").encode())
        assert (await u1.recv_frame()).msg_incr == "n"


async def test_handler_errors_keep_the_connection(env: Env) -> None:
    async with env.client("u1", sdk="go") as u1:
        resp = await u1.request(ReqIdentifier.SEND_SIGNAL_MSG)
        assert (resp.err_code, resp.err_msg, resp.data) == (1001, "ArgsError", b"")
        resp = await u1.request(ReqIdentifier.PULL_MSG_BY_RANGE, b"\xff\xff\xff")
        assert (resp.err_code, resp.err_msg) == (1001, "ArgsError")
        resp = await u1.request(ReqIdentifier.GET_NEWEST_SEQ, pb.GetMaxSeqReq(userID="someone-else"))
        assert (resp.err_code, resp.err_msg) == (1002, "NoPermissionError")
        assert (await u1.request(ReqIdentifier.GET_NEWEST_SEQ, pb.GetMaxSeqReq(userID="u1"))).err_code == 0


async def test_write_queue_overflow_drops_a_client_that_does_not_read(env: Env) -> None:
    async with env.client("u1") as u1:
        msg = text_msg("u2", "u1", "c")
        # Nothing awaits in between, so the writer task cannot drain: the 257th frame
        # overflows the queue deterministically.
        for _ in range(WRITE_QUEUE_FRAMES + 1):
            await env.hub.push(["u1"], msg, "op")
        assert env.hub.stats.write_overflows == 1
        await assert_closed(u1)
    assert env.hub.connections("u1") == []


async def test_write_queue_bounds_a_slow_reader(env: Env) -> None:
    big = text_msg("u2", "u1", "c", text="x" * 200_000)
    async with env.client("u1") as u1:
        (conn,) = env.hub.connections("u1")
        # The client never reads: its TCP window and websockets' buffers fill, the
        # writer blocks and the queue fills. Bounded by a pushes budget, not time.
        pushes = 0
        while not conn.closing and pushes < 5000:
            await env.hub.push(["u1"], big, "op")
            await asyncio.sleep(0)  # let the writer run: only the reader is slow
            pushes += 1
        assert conn.closing and env.hub.stats.write_overflows == 1
        assert pushes > WRITE_QUEUE_FRAMES, pushes
        await assert_closed(u1)


async def test_read_deadline_closes_a_silent_client(tmp_path: Path) -> None:
    settings = ImServerSettings(data_dir=tmp_path, ws_read_timeout=0.5)
    async with gateway_env(tmp_path, settings) as env, env.client("u1") as u1:
        await assert_closed(u1)
        assert env.hub.stats.read_timeouts == 1


async def test_protocol_pings_keep_a_client_alive(tmp_path: Path) -> None:
    settings = ImServerSettings(data_dir=tmp_path, ws_read_timeout=0.6)
    async with gateway_env(tmp_path, settings) as env, env.client("u1") as u1:
        loop = asyncio.get_running_loop()
        start = loop.time()
        while loop.time() - start < 1.5:  # more than two read deadlines
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(u1.ws.recv(), 0.1)  # nothing arrives...
            await within(await u1.ws.ping())  # ...and a ping round trip resets the deadline
        assert env.hub.stats.read_timeouts == 0 and env.hub.online_platforms("u1") == [2]


class PingCounter(ClientConnection):
    """Sees the protocol pings websockets answers below recv()."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pings: asyncio.Queue[bytes] = asyncio.Queue()

    def process_event(self, event: Any) -> None:
        if isinstance(event, Frame) and event.opcode is Opcode.PING:
            self.pings.put_nowait(bytes(event.data))
        super().process_event(event)


async def test_server_pings_web_clients_only(tmp_path: Path) -> None:
    settings = ImServerSettings(data_dir=tmp_path, ws_ping_interval=0.05)
    async with gateway_env(tmp_path, settings) as env:
        url = env.query("u1", 5, sdkType="js")
        async with connect(url, compression=None, create_connection=PingCounter) as ws:
            assert isinstance(ws, PingCounter)
            for _ in range(2):
                await within(ws.pings.get())
        async with env.client("u2", 2):
            (conn,) = env.hub.connections("u2")
            assert conn.ws.keepalive_task is None


async def test_gob_frame_bytes_from_the_server(env: Env) -> None:
    async with env.client("u1", sdk="go") as u1:
        await u1.ws.send(gob.encode_req(_req(req_identifier=2004, msg_incr="m1")))
        frame = await within(u1.ws.recv())
        assert isinstance(frame, bytes)
        resp = gob.decode_resp(frame)
        assert (resp.req_identifier, resp.msg_incr, resp.operation_id, resp.err_code) == (2004, "m1", "op", 0)
        assert frame == gob.encode_resp(resp)


def test_json_envelope_answer_shape() -> None:
    # Go marshals every field, data as base64 or null.
    assert json.loads(encode_json_resp(WsResp(1001, "m", "o"))) == {
        "reqIdentifier": 1001,
        "msgIncr": "m",
        "operationID": "o",
        "errCode": 0,
        "errMsg": "",
        "data": None,
    }
