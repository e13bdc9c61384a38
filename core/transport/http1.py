"""HTTP/1.1 for the upstream API calls, without I/O: a request encoder and a response parser.

The SDK's HTTP traffic is one shape (openim-v3.md 1.1: `POST` + JSON with
`operationID` / `token` headers, one JSON envelope back), so this is the
subset of RFC 9112 that shape needs, strict about everything else: a status
line and headers of at most `max_head` bytes, a body by Content-Length,
chunked, or (without either) up to the close, of at most `max_body` bytes;
anything else is a `ProtocolError`. Bytes in, one `Response` out
(websockets protocol.py style), so every hostile case is an exact-byte test.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

__all__ = ["ProtocolError", "Response", "ResponseParser", "encode_post"]


class ProtocolError(Exception):
    """The peer's bytes are not an HTTP/1.1 response we accept (or a request we would send)."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-cased names; a repeated header's values joined by ", "
    body: bytes
    keep_alive: bool  # the connection may carry the next request


# RFC 9110 5.6.2 token; 5.5 field-value: visible ASCII, space and tab (no obs-text on the way out).
_STATUS = rb"HTTP/1\.([01]) ([1-9][0-9]{2})(?: [\t -~\x80-\xff]*)?"
# A field line is token ":" value, the value without CR, LF or NUL; no obs-fold (RFC 9112 5.2: may be refused).
_FIELD_LINE = rb"\r\n[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t -~\x80-\xff]*"
_HEAD_RE = re.compile(_STATUS + rb"((?:" + _FIELD_LINE + rb")*)")
_STATUS_LINE = re.compile(_STATUS)
_OUT_VALUE = re.compile(r"[\t -~]*")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,15}")


def encode_post(host: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
    """A `POST` with a JSON body; header values that could split the request are refused."""
    if not _OUT_VALUE.fullmatch(path) or " " in path or not path.startswith("/"):
        raise ProtocolError(f"illegal request target {path!r}")
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", "Content-Type: application/json", f"Content-Length: {len(body)}"]
    for name, value in headers.items():
        if not _OUT_VALUE.fullmatch(value):
            raise ProtocolError(f"illegal value for header {name}")
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + body


_HEAD, _FIXED, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILER, _UNTIL_CLOSE, _DONE = range(8)


class ResponseParser:
    """One response: `feed` bytes until it returns the `Response`; `feed_eof` when the peer closed."""

    __slots__ = ("_body", "_buf", "_headers", "_keep", "_left", "_max_body", "_max_head", "_state", "_status")

    def __init__(self, *, max_head: int = 64 * 1024, max_body: int = 64 * 1024 * 1024) -> None:
        self._buf = b""
        self._state = _HEAD
        self._status = 0
        self._headers: dict[str, str] = {}
        self._keep = False
        self._left = 0
        self._body: list[bytes] = []
        self._max_head = max_head
        self._max_body = max_body

    @property
    def started(self) -> bool:
        """Some of the response has arrived (a close before that is a dropped keep-alive)."""
        return bool(self._buf) or self._state != _HEAD

    def feed(self, data: bytes) -> Response | None:
        if self._state == _DONE:
            raise ProtocolError("bytes after the response")
        self._buf = self._buf + data if self._buf else data
        while True:
            if self._state == _HEAD:
                if not self._head():
                    return None
            elif self._state == _FIXED:
                take = self._buf[: self._left]
                self._body.append(take)
                self._left -= len(take)
                self._buf = self._buf[len(take) :]
                if self._left:
                    return None
                return self._finish()
            elif self._state == _UNTIL_CLOSE:
                self._add(self._buf)
                self._buf = b""
                return None
            elif self._state == _TRAILER:
                if (line := self._line(self._max_head)) is None:
                    return None
                self._left_total(len(line) + 2)  # trailers count against the body's bound
                if not line:
                    return self._finish()
            elif not self._chunked():
                return None

    def feed_eof(self) -> Response:
        if self._state == _UNTIL_CLOSE:
            self._keep = False
            return self._finish()
        raise ProtocolError("server disconnected without sending a full response")

    def _finish(self) -> Response:
        if self._buf:  # we send one request at a time: nothing may follow its answer
            raise ProtocolError("bytes after the response")
        self._state = _DONE
        body = b"".join(self._body)
        encoding = self._headers.get("content-encoding", "identity").lower()
        if encoding in ("gzip", "deflate"):
            body = self._inflate(body, zlib.MAX_WBITS | (16 if encoding == "gzip" else 0))
        elif encoding != "identity":
            raise ProtocolError(f"unsupported content-encoding {encoding!r}")
        return Response(self._status, self._headers, body, self._keep)

    def _inflate(self, body: bytes, wbits: int) -> bytes:
        d = zlib.decompressobj(wbits)
        try:
            out = d.decompress(body, self._max_body + 1)
        except zlib.error as exc:
            raise ProtocolError(f"bad compressed body: {exc}") from exc
        if len(out) > self._max_body:
            raise ProtocolError(f"decompressed body over {self._max_body} bytes")
        return out

    def _add(self, data: bytes) -> None:
        self._body.append(data)
        self._left_total(len(data))

    def _left_total(self, n: int) -> None:
        self._max_body -= n
        if self._max_body < 0:
            raise ProtocolError("response body too large")

    def _line(self, limit: int) -> bytes | None:
        end = self._buf.find(b"\r\n")
        if end < 0:
            if len(self._buf) > limit:
                raise ProtocolError("line too long")
            return None
        line, self._buf = self._buf[:end], self._buf[end + 2 :]
        return line

    def _head(self) -> bool:
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buf) > self._max_head:
                raise ProtocolError("response head too large")
            return False
        if end > self._max_head:
            raise ProtocolError("response head too large")
        head, self._buf = self._buf[:end], self._buf[end + 4 :]
        m = _HEAD_RE.fullmatch(head)  # the whole head checked in one C call
        if m is None:
            first = head.partition(b"\r\n")[0]
            what = "status line" if _STATUS_LINE.fullmatch(first) is None else "header line"
            raise ProtocolError(f"bad {what} in {head[:120]!r}")
        status = int(m[2])
        headers: dict[str, str] = {}
        if m[3]:
            for line in m[3].decode("latin-1").split("\r\n")[1:]:  # the group starts with CRLF
                name, _, value = line.partition(":")
                key, val = name.lower(), value.strip(" \t")
                headers[key] = f"{headers[key]}, {val}" if key in headers else val
        if 100 <= status < 200:  # an interim answer (RFC 9110 15.2): the real one follows
            if status == 101:
                raise ProtocolError("unexpected protocol switch")
            return True
        self._status, self._headers = status, headers
        self._keep = m[1] == b"1" and "close" not in headers.get("connection", "").lower()
        te, cl = headers.get("transfer-encoding"), headers.get("content-length")
        if te is not None:
            if cl is not None:  # RFC 9112 6.3 item 3: a likely smuggling attempt
                raise ProtocolError("both Transfer-Encoding and Content-Length")
            if te.lower() != "chunked":
                raise ProtocolError(f"unsupported transfer-encoding {te!r}")
            self._state = _CHUNK_SIZE
        elif status in (204, 304):
            self._left, self._state = 0, _FIXED
        elif cl is not None:
            if not cl.isdigit() or len(cl) > 15:  # also refuses "1, 2": a repeated, differing length
                raise ProtocolError(f"bad content-length {cl[:40]!r}")
            self._left = int(cl)
            self._left_total(self._left)
            self._state = _FIXED
        else:
            self._state = _UNTIL_CLOSE
        return True

    def _chunked(self) -> bool:
        """One step of a chunked body; False when it needs more bytes."""
        if self._state == _CHUNK_SIZE:
            if (line := self._line(1024)) is None:
                return False
            size = line.split(b";", 1)[0].strip(b" \t")
            if not _HEX.fullmatch(size):
                raise ProtocolError(f"bad chunk size {line[:40]!r}")
            self._left = int(size, 16)
            self._left_total(self._left)
            self._state = _CHUNK_DATA if self._left else _TRAILER
            return True
        if self._state == _CHUNK_DATA:
            take = self._buf[: self._left]
            self._body.append(take)
            self._left -= len(take)
            self._buf = self._buf[len(take) :]
            if self._left:
                return False
            self._state = _CHUNK_END
            return True
        # _CHUNK_END
        if len(self._buf) < 2:
            return False
        if self._buf[:2] != b"\r\n":
            raise ProtocolError("chunk not followed by CRLF")
        self._buf = self._buf[2:]
        self._state = _CHUNK_SIZE
        return True
