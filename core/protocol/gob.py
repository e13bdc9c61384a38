"""Go `encoding/gob` for the message-gateway envelope (openim-v3.md 2.3, 2.4, 2.10).

The official Go SDK (no `sdkType`) and the gateway gob-encode the envelope with a
fresh Encoder/Decoder per frame, so each frame is one self-contained gob stream:
[type-definition message][value message]. Wire format: golang/go
src/encoding/gob/doc.go. Structs: openimsdk/openim-sdk-core
internal/interaction/ws_resp_asyn.go (`GeneralWsReq`, `GeneralWsResp`) and
openimsdk/open-im-server internal/msggateway/message_handler.go (`Req`, `Resp`).

Encoding reproduces Go byte for byte. Gob type ids are numbered per process, and the
envelope is the only type either process gob-encodes, so it gets the first user id:
64 in current Go (type.go: `setTypeId` takes `len(idToTypeSlice)`, cut to
`firstUserId` = 64; seen in Go 1.21/1.22 output), 65 in old Go (the doc.go example).
Both repos require Go >= 1.23. Decoding matches fields by name (any order, any struct
name, any type id >= 64, unknown bool/int/uint/string/[]byte fields skipped), as Go's
decoder does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from core.protocol.envelope import EnvelopeError, WsReq, WsResp

__all__ = ["MAX_GOB_FRAME", "decode_req", "decode_resp", "encode_req", "encode_resp"]

# Predefined gob type ids (doc.go); only these may appear as field types here.
BOOL, INT, UINT, BYTES, STRING = 1, 2, 3, 5, 6
FIRST_USER_ID = 64  # Go's firstUserId: the lowest id a stream may define
GO_TYPE_ID = 64  # id current Go gives the first type a process encodes (65 in old Go)
MAX_GOB_FRAME = 16 << 20
_U64_MAX = (1 << 64) - 1
_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1
_I32_MIN, _I32_MAX = -(1 << 31), (1 << 31) - 1

_Value = bool | int | str | bytes


def _uint(n: int) -> bytes:
    if not 0 <= n <= _U64_MAX:
        raise EnvelopeError(f"gob: unsigned value out of range: {n}")
    if n < 0x80:
        return bytes((n,))
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((256 - len(raw),)) + raw


def _int(n: int) -> bytes:
    if not _I64_MIN <= n <= _I64_MAX:
        raise EnvelopeError(f"gob: signed value out of range: {n}")
    return _uint((~n << 1) | 1 if n < 0 else n << 1)


def _field(kind: int, value: _Value) -> bytes:
    """Encoding of one field value; empty for the zero value, which Go omits."""
    if kind in (BOOL, INT, UINT) and not isinstance(value, str | bytes):
        if not value:
            return b""
        return b"\x01" if kind == BOOL else _int(value) if kind == INT else _uint(value)
    if kind in (STRING, BYTES) and isinstance(value, str | bytes):
        try:
            raw = value.encode("utf-8") if isinstance(value, str) else value
        except UnicodeEncodeError as exc:
            raise EnvelopeError("gob: string is not encodable as UTF-8") from exc
        return _uint(len(raw)) + raw if raw else b""
    raise EnvelopeError(f"gob: cannot encode {type(value).__name__} as type id {kind}")


def _struct_body(kinds: Sequence[int], values: Sequence[_Value]) -> bytes:
    """(field delta, value) pairs for the non-zero fields, then the 0 terminator."""
    out = bytearray()
    last = -1
    for index, (kind, value) in enumerate(zip(kinds, values, strict=True)):
        if encoded := _field(kind, value):
            out += _uint(index - last) + encoded
            last = index
    out.append(0)
    return bytes(out)


def _message(body: bytes) -> bytes:
    return _uint(len(body)) + body


class _StructType:
    """A flat Go struct of predefined-type fields; `prefix` is its type-definition message."""

    __slots__ = ("fields", "kinds", "prefix", "type_id")

    def __init__(self, name: str, names: str, kinds: Sequence[int], type_id: int = GO_TYPE_ID) -> None:
        self.type_id, self.kinds = type_id, tuple(kinds)
        self.fields = dict(zip(names.split(), self.kinds, strict=True))
        pair = (STRING, INT)  # CommonType and fieldType are both {Name string; Id typeId}
        common = _struct_body(pair, (name, type_id))
        field_list = _uint(len(self.fields)) + b"".join(_struct_body(pair, f) for f in self.fields.items())
        struct_t = b"\x01" + common + b"\x01" + field_list + b"\x00"  # Go sends no empty struct
        self.prefix = _message(_int(-type_id) + b"\x03" + struct_t + b"\x00")  # wireType.StructT

    def encode(self, values: Sequence[_Value]) -> bytes:
        return self.prefix + _message(_int(self.type_id) + _struct_body(self.kinds, values))


# openim-sdk-core GeneralWsReq and open-im-server Resp, fields in declaration order.
_GENERAL_WS_REQ = _StructType(
    "GeneralWsReq",
    "ReqIdentifier Token SendID OperationID MsgIncr Data",
    (INT, STRING, STRING, STRING, STRING, BYTES),
)
_RESP = _StructType(
    "Resp", "ReqIdentifier MsgIncr OperationID ErrCode ErrMsg Data", (INT, STRING, STRING, INT, STRING, BYTES)
)


def encode_req(req: WsReq) -> bytes:
    """The bytes Go's gob produces for the SDK's `GeneralWsReq` (ReqIdentifier is a Go int)."""
    return _GENERAL_WS_REQ.encode(
        (req.req_identifier, req.token, req.send_id, req.operation_id, req.msg_incr, req.data)
    )


def encode_resp(resp: WsResp) -> bytes:
    """The bytes Go's gob produces for the server's `Resp` (ReqIdentifier is an int32)."""
    if not _I32_MIN <= resp.req_identifier <= _I32_MAX:
        raise EnvelopeError("gob: Resp.ReqIdentifier must fit in int32")
    return _RESP.encode((resp.req_identifier, resp.msg_incr, resp.operation_id, resp.err_code, resp.err_msg, resp.data))


class _Reader:
    __slots__ = ("buf", "end", "pos")

    def __init__(self, buf: bytes, pos: int = 0, end: int | None = None) -> None:
        self.buf, self.pos, self.end = buf, pos, len(buf) if end is None else end

    def left(self) -> int:
        return self.end - self.pos

    def uint(self) -> int:
        if self.pos >= self.end:
            raise EnvelopeError("gob: unexpected end of data")
        first = self.buf[self.pos]
        self.pos += 1
        if first < 0x80:
            return first
        size = 256 - first
        if size > 8:
            raise EnvelopeError("gob: encoded unsigned integer out of range")
        if size > self.left():
            raise EnvelopeError("gob: unexpected end of data")
        self.pos += size
        return int.from_bytes(self.buf[self.pos - size : self.pos], "big")

    def int(self) -> int:
        u = self.uint()
        return ~(u >> 1) if u & 1 else u >> 1

    def blob(self) -> bytes:
        size = self.uint()
        if size > self.left():
            raise EnvelopeError("gob: length exceeds input")
        self.pos += size
        return self.buf[self.pos - size : self.pos]

    def message(self) -> _Reader:
        size = self.uint()
        if size == 0 or size > self.left():
            raise EnvelopeError("gob: bad message length")
        self.pos += size
        return _Reader(self.buf, self.pos - size, self.pos)


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EnvelopeError("gob: string is not valid UTF-8") from exc


def _name_and_id(r: _Reader) -> tuple[str, int]:
    """A CommonType or fieldType value: {Name string; Id typeId}."""
    name, type_id, num = "", 0, -1
    while delta := r.uint():
        num += delta
        if num == 0:  # Go does not check UTF-8; an undecodable name just matches nothing
            name = r.blob().decode("utf-8", "surrogateescape")
        elif num == 1:
            type_id = r.int()
        else:
            raise EnvelopeError("gob: malformed type definition")
    return name, type_id


def _wire_struct(r: _Reader) -> list[tuple[str, int]]:
    """The fields of a wireType that must be a StructT (field 2) and nothing else."""
    if r.uint() != 3:
        raise EnvelopeError("gob: only struct types are supported")
    fields: list[tuple[str, int]] = []
    num = -1
    while delta := r.uint():
        num += delta
        if num == 0:
            _name_and_id(r)  # CommonType: the struct's name does not matter to a decoder
        elif num == 1:
            count = r.uint()
            if count > r.left():
                raise EnvelopeError("gob: field count exceeds input")
            fields.extend(_name_and_id(r) for _ in range(count))
        else:
            raise EnvelopeError("gob: malformed struct type")
    if r.uint() != 0 or r.left():
        raise EnvelopeError("gob: only struct types are supported")
    return fields


def _decode_struct(data: bytes, local: Mapping[str, int]) -> tuple[dict[str, int], dict[str, bytes]]:
    """Decode one gob stream holding a flat struct; return its `local` (int, string/bytes) fields."""
    if not isinstance(data, bytes | bytearray):
        raise EnvelopeError("gob: frame must be bytes")
    if len(data) > MAX_GOB_FRAME:
        raise EnvelopeError("gob: frame too large")
    stream = _Reader(bytes(data))
    types: dict[int, list[tuple[str, int]]] = {}
    while True:
        msg = stream.message()
        type_id = msg.int()
        if not _I32_MIN <= type_id <= _I32_MAX:
            raise EnvelopeError("gob: type id out of range")
        if type_id >= 0:
            break
        if -type_id < FIRST_USER_ID or -type_id in types:
            raise EnvelopeError("gob: duplicate type received")
        types[-type_id] = _wire_struct(msg)
    fields = types.get(type_id)
    if fields is None:
        raise EnvelopeError(f"gob: value of type id {type_id} is not a defined struct")
    matched = 0
    for name, kind in fields:
        if kind not in (BOOL, INT, UINT, BYTES, STRING):
            raise EnvelopeError(f"gob: field {name} has unsupported type id {kind}")
        if name in local:
            if local[name] != kind:
                raise EnvelopeError(f"gob: wrong type for received field {name}")
            matched += 1
    if fields and not matched:
        raise EnvelopeError("gob: type mismatch: no fields matched")
    ints: dict[str, int] = {}
    blobs: dict[str, bytes] = {}
    num = -1
    while delta := msg.uint():
        if delta >= len(fields) - num:
            raise EnvelopeError("gob: field number out of range")
        num += delta
        name, kind = fields[num]
        if kind in (BYTES, STRING):
            blobs[name] = msg.blob()
        else:
            ints[name] = msg.int() if kind == INT else msg.uint()
    if msg.left() or stream.left():
        raise EnvelopeError("gob: trailing data after value")
    return ints, blobs


def decode_req(data: bytes) -> WsReq:
    """Decode a request frame as the server's `Req` would (ReqIdentifier must fit int32).

    `Req` has GeneralWsReq's field names and gob types (Go int and int32 are both gob int).
    """
    ints, blobs = _decode_struct(data, _GENERAL_WS_REQ.fields)
    req_identifier = ints.get("ReqIdentifier", 0)
    if not _I32_MIN <= req_identifier <= _I32_MAX:
        raise EnvelopeError("gob: ReqIdentifier out of int32 range")
    text = {name: _text(blobs.get(name, b"")) for name in ("Token", "SendID", "OperationID", "MsgIncr")}
    return WsReq(
        req_identifier=req_identifier,
        send_id=text["SendID"],
        operation_id=text["OperationID"],
        msg_incr=text["MsgIncr"],
        data=blobs.get("Data", b""),
        token=text["Token"],
    )


def decode_resp(data: bytes) -> WsResp:
    """Decode a response/push frame as the SDK's `GeneralWsResp` (same names/types as Resp) would."""
    ints, blobs = _decode_struct(data, _RESP.fields)
    text = {name: _text(blobs.get(name, b"")) for name in ("MsgIncr", "OperationID", "ErrMsg")}
    return WsResp(
        req_identifier=ints.get("ReqIdentifier", 0),
        msg_incr=text["MsgIncr"],
        operation_id=text["OperationID"],
        err_code=ints.get("ErrCode", 0),
        err_msg=text["ErrMsg"],
        data=blobs.get("Data", b""),
    )
