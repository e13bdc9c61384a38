"""core.protocol.gob: exact Go encoding/gob bytes for the gateway envelope, and robust decoding.

Expected bytes are written out by hand from golang/go src/encoding/gob/doc.go (and two
dumps of real Go >= 1.21 output, where the first user type id is 64, not doc.go's 65).
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable

import pytest

from core.protocol import gob
from core.protocol.envelope import EnvelopeError, WsReq, WsResp
from core.protocol.gob import decode_req, decode_resp, encode_req, encode_resp

# Type-definition message for openim-sdk-core's GeneralWsReq, type id 64 (7f = int(-64), ff 80 = int(64)).
REQ_PREFIX = (
    b"\x65\x7f\x03\x01\x01\x0cGeneralWsReq\x01\xff\x80\x00\x01\x06"
    b"\x01\x0dReqIdentifier\x01\x04\x00"
    b"\x01\x05Token\x01\x0c\x00"
    b"\x01\x06SendID\x01\x0c\x00"
    b"\x01\x0bOperationID\x01\x0c\x00"
    b"\x01\x07MsgIncr\x01\x0c\x00"
    b"\x01\x04Data\x01\x0a\x00"
    b"\x00\x00"
)
# Type-definition message for open-im-server's Resp.
RESP_PREFIX = (
    b"\x5f\x7f\x03\x01\x01\x04Resp\x01\xff\x80\x00\x01\x06"
    b"\x01\x0dReqIdentifier\x01\x04\x00"
    b"\x01\x07MsgIncr\x01\x0c\x00"
    b"\x01\x0bOperationID\x01\x0c\x00"
    b"\x01\x07ErrCode\x01\x04\x00"
    b"\x01\x06ErrMsg\x01\x0c\x00"
    b"\x01\x04Data\x01\x0a\x00"
    b"\x00\x00"
)
REQ = WsReq(req_identifier=1003, send_id="u1", operation_id="op", msg_incr="u1_x", data=b"\x0a\x00")
REQ_VALUE = b"\x19\xff\x80\x01\xfe\x07\xd6\x02\x02u1\x01\x02op\x01\x04u1_x\x01\x02\x0a\x00\x00"
RESP = WsResp(req_identifier=2001, msg_incr="", operation_id="op", err_code=-1)
RESP_VALUE = b"\x0d\xff\x80\x01\xfe\x0f\xa2\x02\x02op\x01\x01\x00"

REQ_NAMES = "ReqIdentifier Token SendID OperationID MsgIncr Data"
REQ_KINDS = (gob.INT, gob.STRING, gob.STRING, gob.STRING, gob.STRING, gob.BYTES)


def test_prefixes_are_precomputed_and_exact() -> None:
    assert len(REQ_PREFIX) - 1 == 0x65 and len(RESP_PREFIX) - 1 == 0x5F
    assert gob._GENERAL_WS_REQ.prefix == REQ_PREFIX
    assert gob._RESP.prefix == RESP_PREFIX


def test_doc_go_point_example() -> None:
    definition = bytes.fromhex(
        "1f ff 81 03 01 01 05 50 6f 69 6e 74 01 ff 82 00 01 02 01 01 58 01 04 00 01 01 59 01 04 00 00 00"
    )
    value = bytes.fromhex("07 ff 82 01 2c 01 42 00")
    point = gob._StructType("Point", "X Y", (gob.INT, gob.INT), type_id=65)
    assert point.prefix == definition
    assert point.encode((22, 33)) == definition + value
    assert gob._decode_struct(definition + value, point.fields) == ({"X": 22, "Y": 33}, {})


@pytest.mark.parametrize(
    ("name", "names", "values", "frame"),
    [
        (
            "CacheData",
            "ID Message",
            ("1", "Hello World"),
            b")\x7f\x03\x01\x01\tCacheData\x01\xff\x80\x00\x01\x02\x01\x02ID\x01\x0c\x00\x01\x07Message"
            b"\x01\x0c\x00\x00\x00\x13\xff\x80\x01\x011\x01\x0bHello World\x00",
        ),
        (
            "typedNil",
            "IS",
            ("nil",),
            b"\x1c\x7f\x03\x01\x01\x08typedNil\x01\xff\x80\x00\x01\x01\x01\x02IS\x01\x0c\x00\x00\x00"
            b"\x08\xff\x80\x01\x03nil\x00",
        ),
    ],
)
def test_matches_real_go_output(name: str, names: str, values: tuple[str, ...], frame: bytes) -> None:
    struct = gob._StructType(name, names, [gob.STRING] * len(values))
    assert struct.encode(values) == frame
    assert gob._decode_struct(frame, struct.fields)[1] == {
        n: v.encode() for n, v in zip(struct.fields, values, strict=True)
    }


def test_integer_encodings() -> None:
    assert [gob._uint(n) for n in (0, 7, 127, 128, 256)] == [
        b"\x00",
        b"\x07",
        b"\x7f",
        b"\xff\x80",
        b"\xfe\x01\x00",
    ]
    assert gob._uint((1 << 64) - 1) == b"\xf8" + b"\xff" * 8
    assert gob._int(-129) == b"\xfe\x01\x01"  # doc.go
    assert [gob._int(n) for n in (0, -1, 1, 22, -64, 64)] == [
        b"\x00",
        b"\x01",
        b"\x02",
        b"\x2c",
        b"\x7f",
        b"\xff\x80",
    ]
    assert gob._int(-(1 << 63)) == b"\xf8" + b"\xff" * 8
    assert gob._int((1 << 63) - 1) == b"\xf8" + b"\xff" * 7 + b"\xfe"
    for encode, bad in (
        (gob._uint, -1),
        (gob._uint, 1 << 64),
        (gob._int, 1 << 63),
        (gob._int, -(1 << 63) - 1),
    ):
        with pytest.raises(EnvelopeError):
            encode(bad)


def test_envelope_bytes_exact() -> None:
    assert encode_req(REQ) == REQ_PREFIX + REQ_VALUE
    assert encode_resp(RESP) == RESP_PREFIX + RESP_VALUE
    assert encode_req(WsReq(0, "", "", "")) == REQ_PREFIX + b"\x03\xff\x80\x00"
    assert encode_resp(WsResp(0, "", "")) == RESP_PREFIX + b"\x03\xff\x80\x00"
    assert decode_req(REQ_PREFIX + REQ_VALUE) == REQ
    assert decode_resp(RESP_PREFIX + RESP_VALUE) == RESP


def test_long_fields_exact() -> None:
    data = bytes(range(256)) * 256  # 65536 bytes: length fd 01 00 00
    body = b"\xff\x80\x06\xfd\x01\x00\x00" + data + b"\x00"  # Data is field 5: delta 6
    assert len(body) == 0x010008
    assert encode_req(WsReq(0, "", "", "", data=data)) == REQ_PREFIX + b"\xfd\x01\x00\x08" + body
    msg = "x" * 128  # length ff 80
    assert encode_resp(WsResp(0, "", "", err_msg=msg)).endswith(b"\x05\xff\x80" + msg.encode() + b"\x00")


REQS = [
    WsReq(0, "", "", ""),
    REQ,
    WsReq(130, "s", "o", "m", data=b"\x00", token="t"),
    WsReq(-5, "", "", "neg"),
    WsReq((1 << 31) - 1, "用户", "op" * 100, "m" * 127, data=b"\xab" * 300, token="t" * 200),
    WsReq(-(1 << 31), "a" * 65536, "é" * 70000, "", data=bytes(70000)),
]
RESPS = [
    WsResp(0, "", ""),
    RESP,
    WsResp(2002, "7", "op-x", err_code=1004, err_msg="token expired"),
    WsResp(-(1 << 31), "m" * 128, "o", err_code=(1 << 63) - 1, err_msg="服务器错误", data=b"\x00\x10" * 100),
    WsResp((1 << 31) - 1, "", "", err_code=-(1 << 63), data=b"\xff" * 65537),
]


@pytest.mark.parametrize("req", REQS)
def test_req_round_trip(req: WsReq) -> None:
    assert decode_req(encode_req(req)) == req


@pytest.mark.parametrize("resp", RESPS)
def test_resp_round_trip(resp: WsResp) -> None:
    assert decode_resp(encode_resp(resp)) == resp


def test_decodes_other_struct_layouts_by_name() -> None:
    # The server's Req (int32 is gob int too) and the SDK's GeneralWsResp field order.
    server_req = gob._StructType("Req", REQ_NAMES, REQ_KINDS)
    assert decode_req(server_req.encode((1003, "", "u1", "op", "u1_x", b"\x0a\x00"))) == REQ
    sdk_resp = gob._StructType(
        "GeneralWsResp",
        "ReqIdentifier ErrCode ErrMsg MsgIncr OperationID Data",
        (gob.INT, gob.INT, gob.STRING, gob.STRING, gob.STRING, gob.BYTES),
    )
    assert decode_resp(sdk_resp.encode((2001, -1, "", "", "op", b""))) == RESP
    # Old Go numbered the first type 65; any id >= 64 is fine. Unknown fields of every kind are skipped.
    odd = gob._StructType(
        "Whatever",
        "Flag Data Extra SendID Count Blob ReqIdentifier",
        (gob.BOOL, gob.BYTES, gob.STRING, gob.STRING, gob.UINT, gob.BYTES, gob.INT),
        type_id=65,
    )
    frame = odd.encode((True, b"d", "x" * 300, "u", (1 << 64) - 1, b"b" * 200, -7))
    assert decode_req(frame) == WsReq(-7, "u", "", "", data=b"d")
    # Names are not checked for UTF-8 (Go does not): a bad struct or field name matches nothing.
    definition = b"\x7f\x03\x01\x01\x01\xff\x01\xff\x80\x00\x01\x02\x01\x01\xff\x01\x04\x00"
    definition += b"\x01\x06SendID\x01\x0c\x00\x00\x00"
    assert decode_req(_message(definition) + b"\x08\xff\x80\x01\x02\x01\x01u\x00") == WsReq(0, "u", "", "")
    # A non-minimal uint is accepted, as Go's decodeUint does: ReqIdentifier 2 as ff 04.
    assert decode_req(REQ_PREFIX + b"\x06\xff\x80\x01\xff\x04\x00").req_identifier == 2


def _message(body: bytes) -> bytes:
    return gob._uint(len(body)) + body


BAD_FRAMES = {
    "empty": b"",
    "zero-length message": b"\x00",
    "definition only": REQ_PREFIX,
    "trailing byte": REQ_PREFIX + REQ_VALUE + b"\x00",
    "trailing byte in value": REQ_PREFIX + _message(REQ_VALUE[1:] + b"\x00"),
    "duplicate type": REQ_PREFIX + REQ_PREFIX + REQ_VALUE,
    "builtin id redefined": gob._StructType("T", REQ_NAMES, REQ_KINDS, type_id=63).encode((1, "", "", "", "", b"")),
    "undefined value type": REQ_PREFIX + b"\x03\xff\x82\x00",
    "singleton int": REQ_PREFIX + b"\x03\x04\x00\x06",
    "no value type": b"\x03\xff\x80\x00",
    "slice type": _message(b"\x7f\x02\x01\x01\x04[]X\x01\xff\x80\x00\x01\x04\x00\x00") + b"\x03\xff\x80\x00",
    "wrong field type": gob._StructType("T", "ReqIdentifier", (gob.STRING,)).encode(("1",)),
    "float field": gob._StructType("T", "SendID F", (gob.STRING, 4)).prefix + b"\x03\xff\x80\x00",
    "no field matched": gob._StructType("T", "X", (gob.INT,)).encode((1,)),
    "field out of range": REQ_PREFIX + b"\x05\xff\x80\x07\x02\x00",
    "9-byte uint": REQ_PREFIX + _message(b"\xff\x80\x01\xf7" + b"\x01" * 9 + b"\x00"),
    "0x80 uint": REQ_PREFIX + b"\x04\xff\x80\x01\x80",
    "length past end": REQ_PREFIX + b"\x06\xff\x80\x03\x7f\x61\x00",
    "huge field count": _message(b"\x7f\x03\x01\x01\x01T\x00\x01\xf8" + b"\xff" * 8),
    "huge message length": b"\xf8" + b"\xff" * 8,
    "bad utf-8": gob._StructType("T", "SendID", (gob.STRING,)).encode((b"\xff",)),
    "int32 overflow": encode_req(WsReq(1 << 31, "", "", "")),
    "oversized": bytes(gob.MAX_GOB_FRAME + 1),
}


@pytest.mark.parametrize("frame", BAD_FRAMES.values(), ids=BAD_FRAMES.keys())
def test_bad_frames(frame: bytes) -> None:
    with pytest.raises(EnvelopeError):
        decode_req(frame)


def test_bad_input_types_and_values() -> None:
    with pytest.raises(EnvelopeError):
        decode_resp("not bytes")  # type: ignore[arg-type]
    with pytest.raises(EnvelopeError):
        encode_resp(WsResp(1 << 31, "", ""))
    with pytest.raises(EnvelopeError):
        encode_req(WsReq(1 << 63, "", "", ""))
    with pytest.raises(EnvelopeError):
        encode_req(WsReq(1, "\ud800", "", ""))


FRAMES = [encode_req(r) for r in REQS[:5]] + [encode_resp(r) for r in RESPS[:4]]
DECODERS: list[Callable[[bytes], object]] = [decode_req, decode_resp]


@pytest.mark.parametrize("frame", FRAMES)
def test_every_truncation_fails(frame: bytes) -> None:
    for end in range(len(frame)):
        for decode in DECODERS:
            with pytest.raises(EnvelopeError):
                decode(frame[:end])


def _decode_or_envelope_error(data: bytes) -> None:
    for decode in DECODERS:
        with contextlib.suppress(EnvelopeError):
            decode(data)


def test_random_and_mutated_input_raises_only_envelope_error() -> None:
    rng = random.Random(20240611)
    for _ in range(3000):
        _decode_or_envelope_error(rng.randbytes(rng.randrange(0, 80)))
        _decode_or_envelope_error(REQ_PREFIX + rng.randbytes(rng.randrange(0, 40)))
        frame = bytearray(rng.choice(FRAMES[:4] + FRAMES[5:8]))
        for _ in range(rng.randrange(1, 4)):
            pos = rng.randrange(len(frame))
            op = rng.randrange(3)
            if op == 0:
                frame[pos] = rng.randrange(256)
            elif op == 1:
                frame.insert(pos, rng.randrange(256))
            else:
                del frame[pos]
        _decode_or_envelope_error(bytes(frame))
