"""Property tests: whatever a client sends the gateway, its decoders raise only their own error.

Handshake parsing (`parse_args`: ImError; `wants_text_response`: nothing), frame decoding
as the gateway does it (`FrameCodec.decode`, JSON or gob, with or without gzip:
EnvelopeError) and text heartbeats (HeartbeatError), on arbitrary bytes, arbitrary and
deeply nested JSON, wrong JSON types, invalid UTF-8 and mutated valid frames (issue 10).
"""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any
from urllib.parse import quote, urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.protocol import gob
from core.protocol.envelope import EnvelopeError, WsReq, encode_json_req, gzip_bytes
from core.protocol.errcodes import ErrCode
from imserver.errors import ImError
from imserver.gateway.codec import FrameCodec
from imserver.gateway.handshake import ConnArgs, SdkType, parse_args, wants_text_response
from imserver.gateway.heartbeat import HeartbeatError, text_heartbeat_reply

# Few examples each, no deadline (a shared, noisy machine), no example database in the tree.
FAST = settings(max_examples=50, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

_I32 = st.integers(-(2**31), 2**31 - 1)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@st.composite
def deep_json(draw: st.DrawFn) -> str:
    """Arrays/objects nested up to 3000 levels, the kind that used to raise RecursionError."""
    depth = draw(st.integers(1, 3000))
    opener = draw(st.sampled_from(["[", '{"a":', '[{"b":']))
    closer = {"[": "]", '{"a":': "}", '[{"b":': "}]"}[opener]
    closed = draw(st.booleans())
    return opener * depth + "1" + (closer * depth if closed else "")


def _with_field(field: str, value: str) -> str:
    """A JSON object whose `field` holds the raw JSON text `value` (e.g. deeply nested)."""
    return "{" + json.dumps(field) + ":" + value + "}"


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# -------------------------------------------------------------------------- handshake

_INFO_KEYS = ["token", "userID", "platformID", "operationID", "compression", "sdkType", "sendResponse"]
_INFO_KEYS += ["background", "TOKEN", "PlatformID", "other"]
_QUERY_KEYS = ["sendID", "token", "platformID", "operationID", "isBackground", "isMsgResp", "sdkType"]
_QUERY_KEYS += ["compression", "v", "x"]


def _check_handshake(path: str, headers: dict[str, str]) -> None:
    wants_text_response(path)  # decides how to answer an error: must never fail itself
    try:
        args = parse_args(path, headers)
    except ImError as exc:
        assert exc.code in (ErrCode.ConnArgsErr, ErrCode.ServerInternalError), exc
        return
    assert isinstance(args, ConnArgs) and args.sdk_type in (SdkType.GO, SdkType.JS)


@FAST
@given(st.text(), st.dictionaries(st.sampled_from(["compression", "x"]), st.text(max_size=8), max_size=2))
def test_any_path(path: str, headers: dict[str, str]) -> None:
    _check_handshake(path, headers)
    _check_handshake("/?" + path, headers)
    _check_handshake("/?" + quote(path, safe="=&"), headers)


@FAST
@given(st.dictionaries(st.sampled_from(_QUERY_KEYS), st.text(max_size=30) | st.integers(-(10**60), 10**60).map(str)))
def test_any_query(query: dict[str, str]) -> None:
    _check_handshake("/?" + urlencode(query), {})


@FAST
@given(st.binary(max_size=300))
def test_v_of_any_bytes(raw: bytes) -> None:
    _check_handshake("/?v=" + _b64url(raw), {})
    _check_handshake("/?v=" + quote(raw.decode("latin-1")), {})  # not base64 at all


@FAST
@given(st.dictionaries(st.sampled_from(_INFO_KEYS), JSON, max_size=8) | JSON)
def test_v_of_any_json(info: Any) -> None:
    text = json.dumps(info)
    _check_handshake("/?v=" + _b64url(text.encode()), {})
    _check_handshake("/?v=" + _b64url(text.encode("utf-16")), {})


@FAST
@given(st.sampled_from(_INFO_KEYS), deep_json())
def test_v_of_deep_json(field: str, nested: str) -> None:
    _check_handshake("/?v=" + _b64url(nested.encode()), {})
    _check_handshake("/?v=" + _b64url(_with_field(field, nested).encode()), {})


# -------------------------------------------------------------------------- frames

_CODECS = st.builds(FrameCodec, st.sampled_from(SdkType), st.booleans())
_REQS = st.builds(
    WsReq,
    req_identifier=_I32,
    send_id=st.text(max_size=10),
    operation_id=st.text(max_size=10),
    msg_incr=st.text(max_size=10),
    data=st.binary(max_size=40),
    token=st.text(max_size=10),
)


def _check_frame(codec: FrameCodec, frame: bytes) -> None:
    with contextlib.suppress(EnvelopeError):
        codec.decode(frame)


@FAST
@given(_CODECS, st.binary(max_size=400))
def test_frame_of_any_bytes(codec: FrameCodec, frame: bytes) -> None:
    _check_frame(codec, frame)
    _check_frame(codec, gzip_bytes(frame))


@FAST
@given(_CODECS, JSON | st.dictionaries(st.sampled_from(["reqIdentifier", "sendID", "data", "msgIncr"]), JSON))
def test_frame_of_any_json(codec: FrameCodec, obj: Any) -> None:
    raw = json.dumps(obj).encode()
    _check_frame(codec, gzip_bytes(raw) if codec.compress else raw)


@FAST
@given(_CODECS, st.sampled_from(["reqIdentifier", "data", "x"]), deep_json())
def test_frame_of_deep_json(codec: FrameCodec, field: str, nested: str) -> None:
    for text in (nested, _with_field(field, nested)):
        raw = text.encode()
        _check_frame(codec, gzip_bytes(raw) if codec.compress else raw)


@FAST
@given(_CODECS, st.sampled_from(["reqIdentifier", "msgIncr"]), st.integers(4290, 4400))
def test_frame_with_huge_integer(codec: FrameCodec, field: str, digits: int) -> None:
    raw = _with_field(field, "9" * digits).encode()  # json refuses ints past 4300 digits with ValueError
    _check_frame(codec, gzip_bytes(raw) if codec.compress else raw)


@FAST
@given(_CODECS, _REQS, st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4), st.data())
def test_mutated_valid_frames(codec: FrameCodec, req: WsReq, flips: list[tuple[int, int]], data: st.DataObject) -> None:
    """Valid frames of either codec, with bytes changed and the end cut off."""
    raw = bytearray(gob.encode_req(req) if codec.sdk_type is SdkType.GO else encode_json_req(req))
    for position, value in flips:
        raw[position % len(raw)] = value
    cut = data.draw(st.integers(0, len(raw)))
    for frame in (bytes(raw), bytes(raw[:cut])):
        _check_frame(codec, gzip_bytes(frame) if codec.compress else frame)


@FAST
@given(_REQS)
def test_valid_frames_round_trip(req: WsReq) -> None:
    # Strings are what the encoders can carry: gob needs UTF-8-encodable text.
    assert FrameCodec(SdkType.GO, True).decode(gzip_bytes(gob.encode_req(req))) == req
    assert FrameCodec(SdkType.JS, False).decode(encode_json_req(req)) == req


# -------------------------------------------------------------------------- text heartbeat


def _check_heartbeat(text: str) -> None:
    try:
        reply = text_heartbeat_reply(text)
    except HeartbeatError:
        return
    assert reply is None or json.loads(reply)["type"] == "pong"


@FAST
@given(st.text(max_size=200) | JSON.map(json.dumps))
def test_heartbeat_of_any_text(text: str) -> None:
    _check_heartbeat(text)


@FAST
@given(st.sampled_from(["body", "type", "x"]), deep_json())
def test_heartbeat_of_deep_json(field: str, nested: str) -> None:
    _check_heartbeat(nested)
    _check_heartbeat('{"type":"ping",' + _with_field(field, nested)[1:])
