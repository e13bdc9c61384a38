"""The message-gateway envelope (openim-v3.md 2.3-2.4), JSON codec and gzip.

Server `Req` / SDK `GeneralWsReq` and server `Resp` / SDK `GeneralWsResp`. The
`data` field is protobuf binary; in the JSON encoding (sdkType=js) it is a
standard padded base64 string, `null` when empty. The gob encoding used by the
Go SDK lives in `core.protocol.gob`.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from dataclasses import dataclass
from typing import Any

from core.protocol.jsonlimits import loads_bounded

__all__ = [
    "EnvelopeError",
    "FrameTooLargeError",
    "WsReq",
    "WsResp",
    "decode_json_req",
    "decode_json_resp",
    "encode_json_req",
    "encode_json_resp",
    "gunzip",
    "gzip_bytes",
    "is_gzip",
]


class EnvelopeError(ValueError):
    """A frame that cannot be decoded as an envelope."""


class FrameTooLargeError(EnvelopeError):
    """A gzip frame that inflates past the reader's limit."""


# The envelope is one flat object: anything nested deeper is refused unparsed.
_MAX_DEPTH = 8


@dataclass(slots=True)
class WsReq:
    req_identifier: int
    send_id: str
    operation_id: str
    msg_incr: str
    data: bytes = b""
    token: str = ""


@dataclass(slots=True)
class WsResp:
    req_identifier: int
    msg_incr: str
    operation_id: str
    err_code: int = 0
    err_msg: str = ""
    data: bytes = b""


def _b64(data: bytes) -> str | None:
    return base64.b64encode(data).decode("ascii") if data else None


def _unb64(value: Any) -> bytes:
    if value is None:
        return b""
    if not isinstance(value, str):
        raise EnvelopeError("data must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EnvelopeError("data is not valid base64") from exc


def _load(raw: bytes | str) -> dict[str, Any]:
    # Any ValueError: bad UTF-8, bad JSON, too deep, a number past int_max_str_digits.
    try:
        obj = loads_bounded(raw, _MAX_DEPTH)
    except ValueError as exc:
        raise EnvelopeError("frame is not JSON") from exc
    if not isinstance(obj, dict):
        raise EnvelopeError("frame is not a JSON object")
    return obj


def _int(obj: dict[str, Any], key: str) -> int:
    value = obj.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int):
        raise EnvelopeError(f"{key} must be an integer")
    return value


def _str(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise EnvelopeError(f"{key} must be a string")
    return value


def encode_json_req(req: WsReq) -> bytes:
    return json.dumps(
        {
            "reqIdentifier": req.req_identifier,
            "token": req.token,
            "sendID": req.send_id,
            "operationID": req.operation_id,
            "msgIncr": req.msg_incr,
            "data": _b64(req.data),
        },
        separators=(",", ":"),
    ).encode()


def decode_json_req(raw: bytes | str) -> WsReq:
    obj = _load(raw)
    return WsReq(
        req_identifier=_int(obj, "reqIdentifier"),
        token=_str(obj, "token"),
        send_id=_str(obj, "sendID"),
        operation_id=_str(obj, "operationID"),
        msg_incr=_str(obj, "msgIncr"),
        data=_unb64(obj.get("data")),
    )


def encode_json_resp(resp: WsResp) -> bytes:
    return json.dumps(
        {
            "reqIdentifier": resp.req_identifier,
            "msgIncr": resp.msg_incr,
            "operationID": resp.operation_id,
            "errCode": resp.err_code,
            "errMsg": resp.err_msg,
            "data": _b64(resp.data),
        },
        separators=(",", ":"),
    ).encode()


def decode_json_resp(raw: bytes | str) -> WsResp:
    obj = _load(raw)
    return WsResp(
        req_identifier=_int(obj, "reqIdentifier"),
        msg_incr=_str(obj, "msgIncr"),
        operation_id=_str(obj, "operationID"),
        err_code=_int(obj, "errCode"),
        err_msg=_str(obj, "errMsg"),
        data=_unb64(obj.get("data")),
    )


# zlib's window bits for a gzip wrapper (16 + the largest window): RFC 1952 members.
_GZIP_WBITS = 16 + zlib.MAX_WBITS
_GZIP_MAGIC = b"\x1f\x8b"


def gzip_bytes(data: bytes, level: int = 9) -> bytes:
    """One gzip member (RFC 1952) of a whole frame (openim-v3.md 2.3; compressor.go on both sides).

    zlib sized to the input: ``gzip.compress`` sets up deflate's largest state (a 32 KiB window,
    memLevel 8: ~256 KiB to allocate and clear) for every frame, ~100-160 µs for a 700-byte
    send frame, 9% of the bridge's CPU per delivered message (issue 14, py-spy). A window as
    large as the input finds the same matches, so the output is the same size; any inflater
    reads any window up to 32 KiB (RFC 1951 3.2.5), Go's and ours (gunzip) alike."""
    bits = min(max(len(data).bit_length(), 9), zlib.MAX_WBITS)
    deflater = zlib.compressobj(level, zlib.DEFLATED, 16 + bits, max(1, min(8, bits - 6)))
    return deflater.compress(data) + deflater.flush()


def is_gzip(frame: bytes) -> bool:
    """Whether a frame starts like a gzip stream (RFC 1952 ID1 ID2); envelopes never do."""
    return frame[:2] == _GZIP_MAGIC


def gunzip(data: bytes, limit: int = 16 << 20) -> bytes:
    """Decompress a gzip stream (one member or several, as Go's gzip.Reader reads them);
    refuse output larger than `limit` (zip bombs).

    zlib itself, not ``gzip.GzipFile``: the file object's Python-level reader cost
    ~70 µs per small frame against ~8 µs (issue 14: 3 frames per delivered message).
    zlib checks each member's CRC-32 and length (RFC 1952) as GzipFile does."""
    parts: list[bytes] = []
    size = 0
    rest = data
    try:
        while True:
            inflater = zlib.decompressobj(_GZIP_WBITS)
            part = inflater.decompress(rest, limit + 1 - size)
            size += len(part)
            if size > limit:
                raise FrameTooLargeError(f"decompressed frame over {limit} bytes")
            if not inflater.eof:
                raise EnvelopeError("frame is not valid gzip: truncated")
            parts.append(part)
            rest = inflater.unused_data
            if not rest.strip(b"\0"):  # GzipFile too ignores trailing zero padding
                break
    except zlib.error as exc:  # a corrupt header, deflate stream or trailer
        raise EnvelopeError("frame is not valid gzip") from exc
    return parts[0] if len(parts) == 1 else b"".join(parts)
