"""HTTP/1.1 limits uvicorn's httptools protocol does not have: header size and read timeouts.

uvicorn with httptools accepts request heads of any size (httptools joins a
header value's pieces until it ends, so a 20 MB header is held whole, and
copied on every piece) and never times out a client that sends its head or its
body slowly (``timeout_keep_alive`` only runs between requests; a connection
that never sends a byte is never closed). A subclass adds, per connection:

- ``max_header_bytes``: a request line and header fields (each counted as
  ``name: value`` plus CRLF) over the limit are answered 431 and the
  connection is closed, before any app code runs. A complete head is measured
  when the parser ends it; a head still incomplete after more raw bytes than
  the limit is refused at once, so at most the limit plus one socket read
  (256 KiB) is ever buffered, however the head is cut.
- ``header_timeout``: a request head must be complete within this many seconds
  of the connection opening, or of the first read that left it incomplete on a
  kept-alive connection; else 408 (a plain close if nothing came at all).
- ``body_timeout``: a request body must be complete within this many seconds
  of the read that ended its head; else 408 if no response was started, and
  the connection closes.

Timers are armed only for what a read leaves incomplete, so a request that
arrives whole costs none. Everything else is httptools' and uvicorn's own code
path (h11 has a head limit but answers it 400, and costs ~3x the CPU per
request; issue 14 wants httptools for speed). A refusal from a parser
callback raises, httptools stops, and uvicorn calls ``send_400_response``,
which answers the refusal instead.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from bridge.settings import BridgeSettings
from core.protocol.errcodes import ErrCode

__all__ = ["HttpLimits", "LimitedHttpToolsProtocol", "protocol_class"]

log = logging.getLogger("openim.bridge.http")

# Request line bytes besides method and target: two spaces, "HTTP/1.1", CRLF, and the CRLF ending the head.
_REQUEST_LINE_EXTRA = len(b"  HTTP/1.1\r\n\r\n")


@dataclass(frozen=True, slots=True)
class HttpLimits:
    max_header_bytes: int = 16 * 1024
    header_timeout: float = 20.0
    body_timeout: float = 60.0
    # A WebSocket message is assembled whole before the app sees it: uvicorn's 16 MiB default let
    # any stranger's socket pin that much. Twice the oimws frame limit, so a frame a little over
    # it is still answered 10002; past this uvicorn closes the socket with 1009 (OpenIM's gateway
    # closes one over its read limit too: internal/msggateway/client.go SetReadLimit).
    ws_max_bytes: int = 2 << 20

    @classmethod
    def of(cls, settings: BridgeSettings) -> HttpLimits:
        return cls(
            settings.max_header_bytes,
            settings.header_timeout,
            settings.body_timeout,
            2 * settings.oimws_max_frame_bytes,
        )


def protocol_class(limits: HttpLimits) -> type[LimitedHttpToolsProtocol]:
    """The protocol class to give ``uvicorn.Config(http=...)``, bound to ``limits``."""
    return type("LimitedHttpToolsProtocol", (LimitedHttpToolsProtocol,), {"limits": limits})


_HEAD, _BODY, _UPGRADED = "head", "body", "upgraded"


class _Refused(Exception):
    """Raised from a parser callback: httptools stops and uvicorn calls send_400_response."""


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    limits: ClassVar[HttpLimits] = HttpLimits()

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._state = _HEAD  # reading a head (or between requests), a body, or handed to WebSocket
        self._head_fed = 0  # raw bytes fed while the head is incomplete (a lower bound of its size)
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._refusal: tuple[int, str] | None = None

    # -- connection ------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._state is _HEAD:
            self._head_fed += len(data)
        super().data_received(data)
        if self.transport.is_closing():
            return
        # Timers only for what is left incomplete after a read: a request that
        # arrives whole (the usual case) arms none.
        if self._state is _HEAD and self._head_fed:
            if self._head_fed > self.limits.max_header_bytes:
                # Still incomplete after more bytes than the limit (one big field in pieces).
                self._refusal = self._too_large()
                self.send_400_response("")
            elif self._head_timer is None and (self.cycle is None or self.cycle.response_complete):
                self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timed_out)
        elif self._state is _BODY and self._body_timer is None:
            self._body_timer = self.loop.call_later(self.limits.body_timeout, self._body_timed_out)

    def send_400_response(self, msg: str) -> None:
        if self._refusal is None:
            super().send_400_response(msg)
            return
        status, detail = self._refusal
        self._answer_and_close(status, detail)

    # -- parser callbacks ------------------------------------------------

    def on_headers_complete(self) -> None:
        size = len(self.parser.get_method()) + len(self.url) + _REQUEST_LINE_EXTRA
        size += sum(len(name) + len(value) + 4 for name, value in self.headers)  # ": " and CRLF
        if size > self.limits.max_header_bytes:
            self._refusal = self._too_large()
            raise _Refused
        self._head_fed = 0
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self._state = _UPGRADED if self.parser.should_upgrade() and self._should_upgrade() else _BODY
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        self._state = _HEAD

    # -- limits ----------------------------------------------------------

    def _too_large(self) -> tuple[int, str]:
        return 431, f"request line and header fields larger than {self.limits.max_header_bytes} bytes"

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self._state is not _HEAD:
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a response is still being written; keep-alive timing takes over after it
        if self._head_fed:
            self._answer_and_close(408, f"request head not received within {self.limits.header_timeout:g} seconds")
        else:
            self.transport.close()  # connected and said nothing: no request to answer

    def _body_timed_out(self) -> None:
        self._body_timer = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:
            # The app may be waiting in receive(): it gets http.disconnect, and
            # whatever it sends next is dropped (uvicorn's own disconnect path).
            cycle.disconnected = True
            cycle.message_event.set()
            self._answer_and_close(408, f"request body not received within {self.limits.body_timeout:g} seconds")
        else:
            self.transport.close()

    def _cancel_timers(self) -> None:
        for timer in (self._head_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = None

    def _answer_and_close(self, status: int, detail: str) -> None:
        """A problem+json answer written straight to the socket (no app, no request cycle)."""
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "?"
        log.info("refused HTTP request from %s: %d %s", client, status, detail)
        body = json.dumps(
            {
                "type": "about:blank",
                "title": ErrCode.ArgsError.name,
                "status": status,
                "errCode": int(ErrCode.ArgsError),
                "errMsg": ErrCode.ArgsError.name,
                "detail": detail,
                "operationID": None,
            }
        ).encode()
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: application/problem+json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()
