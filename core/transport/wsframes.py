"""RFC 6455 framing for the client side of the gateway connection (issue 14): no asyncio, no I/O.

`FrameReader.feed` takes bytes as they arrive, in any split, and hands each whole
message (fragments joined) or control frame to `on_frame`; it keeps only the bytes
of an unfinished frame and the fragments of an unfinished message. Anything a
client must refuse raises `CloseError` with the close code RFC 6455 gives it
(7.4.1): a masked frame from the server, reserved bits without an extension,
unknown opcodes, control frames fragmented or over 125 bytes (5.5), a
continuation without a start or a start inside a message (5.4), invalid UTF-8 in
a text message or close reason (8.1: 1007), and, as websockets did with its
max_size, a message over the read limit (1009), refused from its header, before
its payload is buffered. `client_frame` builds the frames we send, always masked (5.3).
"""

from __future__ import annotations

import os
from collections.abc import Callable

__all__ = [
    "BINARY",
    "CLOSE",
    "PING",
    "PONG",
    "TEXT",
    "CloseError",
    "FrameReader",
    "client_frame",
    "close_payload",
    "parse_close",
]

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
PROTOCOL_ERROR, INVALID_DATA, MESSAGE_TOO_BIG = 1002, 1007, 1009
# Close codes a peer may send (RFC 6455 7.4.1-7.4.2; 1004-1006 and 1015 are never sent).
_SENDABLE = frozenset((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014))


class CloseError(Exception):
    """The connection must be failed with this close code (RFC 6455 7.1.7)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code} {reason}")
        self.code = code
        self.reason = reason


class FrameReader:
    """Incremental frame parser; `on_frame(opcode, payload)` gets TEXT/BINARY messages and control frames."""

    __slots__ = ("_buf", "_frag_op", "_frags", "max_size", "on_frame")

    def __init__(self, on_frame: Callable[[int, bytes], None], max_size: int) -> None:
        self.on_frame = on_frame
        self.max_size = max_size
        self._buf: bytes | bytearray = b""  # an unfinished frame's bytes
        self._frag_op = 0  # opcode of the message being reassembled, 0 when none
        self._frags: list[bytes] | None = None

    def feed(self, data: bytes | bytearray) -> None:
        """Parse what `data` completes; raise CloseError on a frame a client must refuse."""
        buf: bytes | bytearray
        if self._buf:
            if not isinstance(self._buf, bytearray):
                self._buf = bytearray(self._buf)
            self._buf += data  # in place: a big frame in many reads is not copied once per read
            buf = self._buf
        else:
            buf = data  # the common case: frames start at the start of the read, no copy
        end = len(buf)
        pos = 0
        while end - pos >= 2:
            b0 = buf[pos]
            b1 = buf[pos + 1]
            if b1 & 0x80:
                raise CloseError(PROTOCOL_ERROR, "masked frame from the server")  # 5.1
            if b0 & 0x70:
                raise CloseError(PROTOCOL_ERROR, "reserved bits set")  # 5.2: no extension negotiated
            opcode = b0 & 0x0F
            fin = b0 & 0x80
            length = b1 & 0x7F
            head = 2
            if length >= 126:
                head = 4 if length == 126 else 10
                if end - pos < head:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + head], "big")
                if head == 10 and length >> 63:
                    raise CloseError(PROTOCOL_ERROR, "payload length with its top bit set")
            self._check_header(opcode, fin, length)
            if end - pos < head + length:
                break
            payload = bytes(buf[pos + head : pos + head + length])
            pos += head + length
            self._frame(opcode, fin, payload)
        if pos == end:
            self._buf = b""
        elif pos:
            self._buf = bytearray(buf[pos:])
        elif buf is data:
            self._buf = bytes(data)

    def _check_header(self, opcode: int, fin: int, length: int) -> None:
        if opcode >= CLOSE:
            if opcode > PONG:
                raise CloseError(PROTOCOL_ERROR, f"unknown opcode {opcode:#x}")
            if length > 125:
                raise CloseError(PROTOCOL_ERROR, "control frame over 125 bytes")  # 5.5
            if not fin:
                raise CloseError(PROTOCOL_ERROR, "fragmented control frame")
            return
        if opcode > BINARY:
            raise CloseError(PROTOCOL_ERROR, f"unknown opcode {opcode:#x}")
        if opcode == CONT:
            if not self._frag_op:
                raise CloseError(PROTOCOL_ERROR, "continuation frame outside a message")  # 5.4
        elif self._frag_op:
            raise CloseError(PROTOCOL_ERROR, "new message inside a fragmented one")
        so_far = sum(map(len, self._frags)) if self._frags else 0
        if so_far + length > self.max_size:
            raise CloseError(MESSAGE_TOO_BIG, f"message over {self.max_size} bytes")

    def _frame(self, opcode: int, fin: int, payload: bytes) -> None:
        if opcode >= CLOSE:
            self.on_frame(opcode, payload)
            return
        if opcode != CONT:
            if fin:
                self._message(opcode, payload)
                return
            self._frag_op = opcode
            self._frags = [payload]
            return
        assert self._frags is not None
        self._frags.append(payload)
        if fin:
            opcode, whole = self._frag_op, b"".join(self._frags)
            self._frag_op, self._frags = 0, None
            self._message(opcode, whole)

    def _message(self, opcode: int, payload: bytes) -> None:
        if opcode == TEXT:
            try:
                payload.decode()
            except UnicodeDecodeError:
                raise CloseError(INVALID_DATA, "invalid UTF-8 in a text message") from None
        self.on_frame(opcode, payload)


def parse_close(payload: bytes) -> tuple[int, str]:
    """A close frame's (code, reason); 1005 when it has none (7.1.5). CloseError if malformed."""
    if not payload:
        return 1005, ""
    if len(payload) == 1:
        raise CloseError(PROTOCOL_ERROR, "close frame of one byte")
    code = int.from_bytes(payload[:2], "big")
    if code not in _SENDABLE and not 3000 <= code <= 4999:
        raise CloseError(PROTOCOL_ERROR, f"invalid close code {code}")
    try:
        return code, payload[2:].decode()
    except UnicodeDecodeError:
        raise CloseError(INVALID_DATA, "invalid UTF-8 in a close reason") from None


def close_payload(code: int, reason: str = "") -> bytes:
    """What a close frame carries; the reason cut to fit a control frame (5.5)."""
    if code == 1005:
        return b""
    return code.to_bytes(2, "big") + reason.encode()[:123]


def client_frame(opcode: int, payload: bytes) -> bytes:
    """One final frame, masked with a fresh key, as every client frame must be (5.3)."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 1 << 16:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    key = os.urandom(4)
    if not n:
        return head + key
    # XOR as one big integer: linear in C, no per-byte Python loop (websockets uses a C extension).
    keys = key * (n // 4 + 1)
    masked = int.from_bytes(payload, "big") ^ int.from_bytes(keys[:n], "big")
    return head + key + masked.to_bytes(n, "big")
