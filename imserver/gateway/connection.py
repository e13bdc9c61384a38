"""One client connection: identity, codec and a bounded write queue.

Every outgoing frame goes through a queue of 256 frames drained by one writer task,
as in open-im-server internal/msggateway/client_conn.go (`writer` channel of 256,
`loopSend`). Enqueueing never waits: when the queue is full the client is not
reading, and the connection is dropped (ErrWriteFull) instead of buffering more.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from enum import Enum
from typing import Final

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from core.protocol.envelope import WsResp
from imserver.gateway.codec import FrameCodec
from imserver.gateway.handshake import ConnArgs

__all__ = ["WRITE_QUEUE_FRAMES", "ConnState", "Connection", "GatewayStats"]

log = logging.getLogger(__name__)

WRITE_QUEUE_FRAMES: Final = 256


@dataclass(slots=True)
class GatewayStats:
    """Counters of the gateway's drop policies, for metrics and tests."""

    write_overflows: int = 0
    read_timeouts: int = 0
    bad_frames: int = 0
    kicks: int = 0
    # 2003 logouts that named the connection's own (userID, platformID): the real push
    # service drops the token stored under that key (DelUserPushToken); another key drops nothing.
    push_tokens_dropped: int = 0


@dataclass(frozen=True, slots=True)
class _Close:
    code: int
    reason: str


_Item = bytes | str | _Close


class ConnState(Enum):
    OPEN = "open"
    CLOSING = "closing"  # a close is queued behind the pending frames
    ABORTED = "aborted"  # TCP dropped, nothing more goes out


class Connection:
    """A registered gateway connection. All methods are non-blocking."""

    def __init__(self, ws: ServerConnection, args: ConnArgs, stats: GatewayStats) -> None:
        self.ws = ws
        self.user_id = args.user_id
        self.platform_id = args.platform_id
        self.token = args.token
        self.operation_id = args.operation_id
        # OpenIM 3.8.3 ResetClient overwrites the handshake's isBackground with false;
        # we keep what the client said. 2004 changes it later either way.
        self.background = args.background
        self.codec = FrameCodec(args.sdk_type, args.compression)
        # userIDs whose online status this connection subscribed to (2005).
        self.subscriptions: set[str] = set()
        self._stats = stats
        self._queue: asyncio.Queue[_Item] = asyncio.Queue(WRITE_QUEUE_FRAMES)
        self.state = ConnState.OPEN

    def __repr__(self) -> str:
        return f"<Connection {self.user_id}/{self.platform_id} {self.state.value}>"

    @property
    def closing(self) -> bool:
        return self.state is not ConnState.OPEN

    def send_resp(self, resp: WsResp) -> None:
        self._enqueue(self.codec.encode(resp))

    def send_text(self, text: str) -> None:
        self._enqueue(text)

    def close_after_pending(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Send what is queued, then close (kick after 2002, logout after its answer)."""
        self._enqueue(_Close(code, reason))
        if self.state is ConnState.OPEN:
            self.state = ConnState.CLOSING

    def abort(self, reason: str) -> None:
        """Drop the TCP connection now, like gorilla's conn.Close(): nothing more is sent."""
        if self.state is not ConnState.ABORTED:
            log.info("dropping %r: %s", self, reason)
        self.state = ConnState.ABORTED
        transport = self.ws.transport
        if transport is not None:
            transport.abort()

    def deadline_passed(self) -> None:
        """Nothing read for ws_read_timeout (client_conn.go's read deadline): drop it."""
        self._stats.read_timeouts += 1
        self.abort("read deadline")

    def _enqueue(self, item: _Item) -> None:
        if self.closing:
            return
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self._stats.write_overflows += 1
            self.abort("write queue full")

    async def run_writer(self) -> None:
        """Drain the queue into the socket until a close item or a closed socket."""
        try:
            while True:
                item = await self._queue.get()
                if isinstance(item, _Close):
                    await self.ws.close(item.code, item.reason)
                    return
                await self.ws.send(item)
        except ConnectionClosed:
            self.state = ConnState.ABORTED
        except Exception:  # never leave a failed task behind: drop the client instead
            log.exception("writer of %r failed", self)
            self.abort("writer failed")
