"""The gateway's WebSocket connection: one asyncio.Protocol, callback-driven, no task of its own (issue 14).

It replaces websockets' ClientConnection (8-10 KB per connection in tracemalloc: a
parser generator, an assembler with its queue and events, the handshake kept for
the connection's life, futures per ping). Bytes read are parsed where they arrive
(`data_received` -> core/transport/wsframes.py) and each binary message goes to
`on_message` there and then; nothing waits in a queue for a reader task.

- `read_at` is the loop time of the last read, the SDK's read deadline
  (long_conn_mgr.go resets it on every message, ping and pong; the keep-alive
  ticker, core/transport/keepalive.py, gives up on a connection past it).
- Server pings are answered with a pong of the same payload (RFC 6455 5.5.2); our
  pings (`write_ping`) carry a fresh 16-character id like the SDK's operationID,
  and their pongs only move `read_at`.
- A frame a client must refuse fails the connection with its close code
  (wsframes.CloseError; 1009 past the read limit, as websockets' max_size did), the
  code kept in `sent_code`. `close` runs the close handshake, bounded by
  `CLOSE_TIMEOUT` as websockets' close_timeout.
- Writes honour the transport's flow control: `send` waits while it is paused.
"""

from __future__ import annotations

import asyncio
import os
import ssl as _ssl
from collections.abc import Callable
from enum import IntEnum
from typing import cast
from urllib.parse import urlsplit

from core.protocol.redact import redacting_logger
from core.transport import wsframes as wf
from core.transport.wshandshake import HandshakeError, ResponseReader, new_key, upgrade_request

__all__ = ["CLOSE_TIMEOUT", "ConnectionClosed", "GatewayConnection", "State", "open_connection", "ping_frame"]

CLOSE_TIMEOUT = 10.0  # websockets' close_timeout: how long the server gets to finish a close
# The request line carries `token=`: logged through the redacting filter only.
_WS_LOG = redacting_logger("openim.core.gateway.ws")
# RFC 6455 5.2: FIN + opcode 0x9 (ping); MASK bit + payload length 16 (a client masks every frame).
_PING_HEAD = bytes((0x89, 0x80 | 16))


class ConnectionClosed(Exception):
    """The connection is closed (or closing): nothing more can be sent."""


class State(IntEnum):
    CONNECTING = 0
    OPEN = 1
    CLOSING = 2
    CLOSED = 3


class GatewayConnection(asyncio.Protocol):
    __slots__ = (
        "_close_timer",
        "_done",
        "_drain",
        "_hs",
        "_loop",
        "_on_end",
        "_on_message",
        "_opened",
        "_paused",
        "_reader",
        "_request",
        "error",
        "rcvd_code",
        "read_at",
        "sent_code",
        "state",
        "transport",
    )

    def __init__(
        self,
        request: bytes,
        key: bytes,
        on_message: Callable[[bytes], None],
        on_end: Callable[[], None],
        max_size: int,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._request: bytes | None = request  # written on connection_made, then let go
        self._hs: ResponseReader | None = ResponseReader(key)
        self._opened: asyncio.Future[None] | None = self._loop.create_future()
        self._reader = wf.FrameReader(self._on_frame, max_size)
        self._on_message = on_message
        self._on_end = on_end
        self.transport: asyncio.Transport | None = None
        self.state = State.CONNECTING
        self.read_at = 0.0
        self.sent_code: int | None = None  # the close code we sent
        self.rcvd_code: int | None = None  # the close code the server sent
        self.error: BaseException | None = None  # raised by on_message: the owner re-raises it
        self._paused = False
        self._drain: asyncio.Future[None] | None = None
        self._done: asyncio.Future[None] | None = None
        self._close_timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol --------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # An asyncio.Transport in duck type only under uvloop (its TCPTransport subclasses none).
        self.transport = cast(asyncio.Transport, transport)
        if self._request is not None:
            self.transport.write(self._request)
            self._request = None

    def data_received(self, data: bytes) -> None:
        self.read_at = self._loop.time()
        if self.state is State.OPEN or self.state is State.CLOSING:
            self._feed(data)
        elif self.state is State.CONNECTING and self._hs is not None:
            try:
                done = self._hs.feed(data)
            except HandshakeError as exc:
                self._handshake_failed(exc)
                return
            if done:
                leftover = self._hs.leftover
                self._hs = None
                self.state = State.OPEN
                if self._opened is not None and not self._opened.done():
                    self._opened.set_result(None)  # open_connection lets it go
                if leftover:
                    self._feed(leftover)

    def eof_received(self) -> bool | None:
        if self.state is State.CONNECTING and self._hs is not None:
            try:
                self._hs.eof()
            except HandshakeError as exc:
                self._handshake_failed(exc)
        return None  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        was = self.state
        self.state = State.CLOSED
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        if self._opened is not None and not self._opened.done():
            self._opened.set_exception(exc or HandshakeError("connection closed during the handshake"))
        self.resume_writing()  # wakes the writers waiting to drain; `send` then sees the close
        if self._done is not None and not self._done.done():
            self._done.set_result(None)
        if was is not State.CONNECTING:
            self._on_end()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)
        self._drain = None

    # -- frames --------------------------------------------------------------

    def _feed(self, data: bytes) -> None:
        try:
            self._reader.feed(data)
        except wf.CloseError as exc:
            _WS_LOG.debug("failing the connection: %s", exc)
            self._fail(exc.code, exc.reason)
        except Exception as exc:  # raised by on_message: fail the connection, the owner re-raises
            self.error = exc
            self._fail(1011, "internal error")

    def _on_frame(self, opcode: int, payload: bytes) -> None:
        if opcode == wf.BINARY:
            if self.state is State.OPEN:
                self._on_message(payload)
        elif opcode == wf.PING:
            if self.state is State.OPEN and self.transport is not None:
                self.transport.write(wf.client_frame(wf.PONG, payload))
        elif opcode == wf.CLOSE:
            code, _reason = wf.parse_close(payload)
            self.rcvd_code = code
            if self.sent_code is None:
                self._send_close(code, "")  # echo the code (RFC 6455 5.5.1)
            # The server closes TCP first (7.1.1); if it does not, we do, after the close timeout.
            self._arm_close_timer()
        # TEXT: the gateway's text heartbeats carry nothing for us; PONG: read_at moved already.

    def _send_close(self, code: int, reason: str) -> None:
        self.sent_code = code
        if self.state is State.OPEN:
            self.state = State.CLOSING
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(wf.client_frame(wf.CLOSE, wf.close_payload(code, reason)))

    def _fail(self, code: int, reason: str) -> None:
        """Fail the WebSocket connection (7.1.7): send our close, then close TCP."""
        if self.sent_code is None and self.state is not State.CLOSED:
            self._send_close(code, reason)
        self._reader.on_frame = _drop  # nothing more is read from a failed connection
        if self.transport is not None:
            self.transport.close()
            self._arm_close_timer()  # close() waits for the buffer to flush: bounded, for a peer that stopped reading

    def _arm_close_timer(self) -> None:
        if self._close_timer is None and self.transport is not None and self.state is not State.CLOSED:
            self._close_timer = self._loop.call_later(CLOSE_TIMEOUT, self.transport.abort)

    def _handshake_failed(self, exc: HandshakeError) -> None:
        self._hs = None
        if self._opened is not None and not self._opened.done():
            self._opened.set_exception(exc)
        if self.transport is not None:
            self.transport.abort()

    # -- for the owner -------------------------------------------------------

    @property
    def can_ping(self) -> bool:
        """Open, and nothing queued to write (a peer that stopped reading gets no more pings)."""
        t = self.transport
        return self.state is State.OPEN and t is not None and not t.is_closing() and not t.get_write_buffer_size()

    def write_ping(self) -> None:
        assert self.transport is not None
        self.transport.write(ping_frame())

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    async def send(self, payload: bytes) -> None:
        """Send one binary message; wait while the transport's buffer is over its high-water mark."""
        if self.state is not State.OPEN or self.transport is None or self.transport.is_closing():
            raise ConnectionClosed()
        self.transport.write(wf.client_frame(wf.BINARY, payload))
        if self._paused:
            if self._drain is None:
                self._drain = self._loop.create_future()
            await asyncio.shield(self._drain)  # shared by every writer; one cancelled leaves it to the rest
            if self.state is State.CLOSED:  # type: ignore[comparison-overlap]  # it changes while we wait
                raise ConnectionClosed()  # lost while the frame waited in the buffer

    def begin_close(self, code: int = 1000, reason: str = "") -> None:
        """Start the close handshake without waiting for it (from a callback)."""
        if self.state is State.OPEN:
            self._send_close(code, reason)
            self._arm_close_timer()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """The close handshake, at most CLOSE_TIMEOUT for the server's part; then the socket is gone."""
        if self.state is State.CONNECTING:
            self.abort()
        elif self.state is State.OPEN:
            self._send_close(code, reason)
            self._arm_close_timer()
        await self.wait_closed()

    async def wait_closed(self) -> None:
        if self.state is State.CLOSED:
            return
        if self._done is None:
            self._done = self._loop.create_future()
        await asyncio.shield(self._done)


_tls: list[_ssl.SSLContext] = []


def _default_tls() -> _ssl.SSLContext:
    """One default context for the process: building one loads the CA store (milliseconds, ~100 KB)."""
    if not _tls:
        _tls.append(_ssl.create_default_context())
    return _tls[0]


def _drop(opcode: int, payload: bytes) -> None:
    return None


def ping_frame() -> bytes:
    """A masked ping frame carrying a fresh 16-character hex id (RFC 6455 5.3, 5.5.2)."""
    rand = os.urandom(12)  # 8 bytes of id, 4 of masking key: one read of the entropy pool
    payload = rand[:8].hex().encode()
    mask = rand[8:]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(mask * 4, "big")).to_bytes(16, "big")
    return _PING_HEAD + mask + masked


async def open_connection(
    url: str,
    on_message: Callable[[bytes], None],
    on_end: Callable[[], None],
    max_size: int,
    open_timeout: float,
    ssl_context: _ssl.SSLContext | None = None,
) -> GatewayConnection:
    """Dial `url` (ws:// or wss://) and run the upgrade; TimeoutError past open_timeout,
    OSError for the socket, HandshakeError (HandshakeRefused for another status) for the answer."""
    # Split off the query first: urlsplit caches its results (functools.lru_cache, 128 URLs),
    # and each dial URL is new and carries a token. The address alone is one cache entry.
    address, _, query = url.partition("?")
    parts = urlsplit(address)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise HandshakeError(f"not a ws:// or wss:// address: {parts.scheme}://{parts.hostname}")
    secure = parts.scheme == "wss"
    host = parts.hostname
    port = parts.port or (443 if secure else 80)
    shown = f"[{host}]" if ":" in host else host
    host_header = shown if port == (443 if secure else 80) else f"{shown}:{port}"
    resource = (parts.path or "/") + (f"?{query}" if query else "")
    key = new_key()
    _WS_LOG.debug("> GET %s HTTP/1.1 (host %s)", resource, host_header)
    conn = GatewayConnection(upgrade_request(host_header, resource, key), key, on_message, on_end, max_size)
    loop = asyncio.get_running_loop()
    ctx = (ssl_context or _default_tls()) if secure else None
    opened = conn._opened
    assert opened is not None
    try:
        async with asyncio.timeout(open_timeout):
            await loop.create_connection(lambda: conn, host, port, ssl=ctx, server_hostname=host if secure else None)
            await opened
    except BaseException:
        conn.abort()
        if opened.done() and not opened.cancelled():
            opened.exception()  # retrieved: no "never retrieved" warning when the timeout won
        raise
    finally:
        conn._opened = None
    _WS_LOG.debug("< HTTP/1.1 101 Switching Protocols")
    return conn
