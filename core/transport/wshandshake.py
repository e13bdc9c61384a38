"""The client's HTTP/1.1 upgrade handshake (RFC 6455 4.1-4.2.2), bounded against a hostile server.

`upgrade_request` is the GET the SDK's gorilla/websocket dialer sends (no
extensions, no subprotocol: long_conn_mgr.go asks for neither; compression is the
`compression=gzip` query parameter, not permessage-deflate). `ResponseReader`
reads the answer as it arrives: a 101 must carry `Upgrade: websocket`,
`Connection: upgrade` and the `Sec-WebSocket-Accept` of our key, and nothing we did
not offer; any other status is a refusal whose body OpenIM fills with its
`{errCode, errMsg}` envelope (openim-v3.md 2.2), read up to `MAX_BODY`. Like the
SDK (gorilla's Dialer), redirects are not followed. A head over `MAX_HEAD`, a
malformed line or a body over its limit is a HandshakeError; a server that
trickles its answer is bounded by the caller's open timeout.
"""

from __future__ import annotations

import base64
import hashlib
import os

__all__ = ["HandshakeError", "HandshakeRefused", "ResponseReader", "new_key", "upgrade_request"]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 1.3
MAX_HEAD = 16 << 10  # status line + headers; websockets allowed 128 lines of 8 KiB
MAX_HEADERS = 128
MAX_BODY = 64 << 10  # a refusal's body: OpenIM's envelope is a few hundred bytes


class HandshakeError(Exception):
    """The server's answer is not a valid upgrade (nor a readable refusal)."""


class HandshakeRefused(HandshakeError):
    """A complete HTTP answer other than 101: status and body, for the errCode mapping."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"server refused the upgrade with HTTP {status}")
        self.status = status
        self.body = body


def new_key() -> bytes:
    return base64.b64encode(os.urandom(16))


def upgrade_request(host: str, resource: str, key: bytes) -> bytes:
    return (
        (
            f"GET {resource} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Version: 13\r\nUser-Agent: openim-bridge\r\nSec-WebSocket-Key: "
        ).encode()
        + key
        + b"\r\n\r\n"
    )


class ResponseReader:
    """Feed the server's bytes; `feed` returns True once the answer is whole (then `leftover`
    holds the first frame bytes). Raises HandshakeError / HandshakeRefused."""

    __slots__ = ("_body_len", "_buf", "_chunked", "_expect", "_head_end", "_status", "leftover")

    def __init__(self, key: bytes) -> None:
        self._expect = base64.b64encode(hashlib.sha1(key + _GUID).digest()).decode()
        self._buf = bytearray()
        self._head_end = -1
        self._status = 0
        self._body_len: int | None = None  # Content-Length, or None: chunked or until EOF
        self._chunked = False
        self.leftover = b""

    def feed(self, data: bytes) -> bool:
        self._buf += data
        if self._head_end < 0:
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buf) > MAX_HEAD:
                    raise HandshakeError(f"response head over {MAX_HEAD} bytes")
                return False
            if end > MAX_HEAD:
                raise HandshakeError(f"response head over {MAX_HEAD} bytes")
            self._head_end = end + 4
            if self._head(bytes(self._buf[:end])):
                self.leftover = bytes(self._buf[self._head_end :])
                self._buf = bytearray()
                return True
        return self._body(eof=False)

    def eof(self) -> None:
        """The server closed the connection: a refusal without a length ends here."""
        if self._head_end >= 0 and self._body_len is None and not self._chunked:
            self._body(eof=True)
        raise HandshakeError("connection closed during the handshake")

    def _head(self, head: bytes) -> bool:
        """Parse the head; True when it is a valid 101."""
        try:
            text = head.decode("ascii")
        except UnicodeDecodeError:
            raise HandshakeError("non-ASCII bytes in the response head") from None
        status_line, *lines = text.split("\r\n")
        version, _, rest = status_line.partition(" ")
        code = rest[:3]
        if version != "HTTP/1.1" or len(code) != 3 or not code.isdigit() or rest[3:4] not in ("", " "):
            raise HandshakeError(f"malformed status line {status_line[:64]!r}")
        if len(lines) > MAX_HEADERS:
            raise HandshakeError(f"more than {MAX_HEADERS} headers")
        headers: dict[str, list[str]] = {}
        for line in lines:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip() or any(c in name for c in " \t"):
                raise HandshakeError(f"malformed header line {line[:64]!r}")
            headers.setdefault(name.lower(), []).append(value.strip())
        self._status = int(code)
        if self._status != 101:
            self._refusal(headers)
            return False
        self._check_upgrade(headers)
        return True

    def _check_upgrade(self, headers: dict[str, list[str]]) -> None:
        upgrade = headers.get("upgrade", [])
        if [u.lower() for u in upgrade] != ["websocket"]:
            raise HandshakeError(f"Upgrade header {upgrade!r}")
        tokens = {t.strip().lower() for v in headers.get("connection", []) for t in v.split(",")}
        if "upgrade" not in tokens:
            raise HandshakeError("Connection header without 'upgrade'")
        if headers.get("sec-websocket-accept") != [self._expect]:
            raise HandshakeError("wrong Sec-WebSocket-Accept")  # 4.2.2 item 5.4: not our key's
        for offered_none in ("sec-websocket-extensions", "sec-websocket-protocol"):
            if offered_none in headers:
                raise HandshakeError(f"{offered_none} in the answer, none was offered")

    def _refusal(self, headers: dict[str, list[str]]) -> None:
        if self._status < 200 or self._status in (204, 304):
            raise HandshakeRefused(self._status, b"")
        if "chunked" in ",".join(headers.get("transfer-encoding", [])).lower():
            self._chunked = True
            return
        lengths = headers.get("content-length")
        if lengths is not None:
            if len(set(lengths)) != 1 or not lengths[0].isdigit():
                raise HandshakeError(f"Content-Length {lengths!r}")
            self._body_len = int(lengths[0])
            if self._body_len > MAX_BODY:
                raise HandshakeError(f"refusal body over {MAX_BODY} bytes")

    def _body(self, eof: bool) -> bool:
        body = self._buf[self._head_end :]
        if self._chunked:
            if len(body) > MAX_BODY + 4096:  # chunk framing included
                raise HandshakeError(f"refusal body over {MAX_BODY} bytes")
            try:
                raise HandshakeRefused(self._status, _dechunk(bytes(body)))
            except _Short:
                return False
        if self._body_len is not None:
            if len(body) >= self._body_len:
                raise HandshakeRefused(self._status, bytes(body[: self._body_len]))
            return False
        if len(body) > MAX_BODY:
            raise HandshakeError(f"refusal body over {MAX_BODY} bytes")
        if eof:
            raise HandshakeRefused(self._status, bytes(body))
        return False


class _Short(Exception):
    pass


def _dechunk(body: bytes) -> bytes:
    """RFC 9112 7.1, bounded; trailers skipped. _Short while incomplete."""
    out = bytearray()
    pos = 0
    while True:
        eol = body.find(b"\r\n", pos)
        if eol < 0:
            raise _Short
        size_text = body[pos:eol].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise HandshakeError("malformed chunk size") from None
        if size < 0 or len(out) + size > MAX_BODY:
            raise HandshakeError(f"refusal body over {MAX_BODY} bytes")
        if size == 0:
            if body.find(b"\r\n\r\n", eol) < 0:  # the trailer section's empty line
                raise _Short
            return bytes(out)
        start = eol + 2
        if len(body) < start + size + 2:
            raise _Short
        out += body[start : start + size]
        if body[start + size : start + size + 2] != b"\r\n":
            raise HandshakeError("malformed chunk")
        pos = start + size + 2
