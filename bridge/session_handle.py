"""A session as this node holds it: its record, its core while live, and who is using it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from bridge.errors import BridgeError
from bridge.sessions.base import SessionId, SessionRecord
from bridge.sse import FrameCache
from core.protocol.errcodes import ErrCode

if TYPE_CHECKING:
    from bridge.core_factory import SessionCore

__all__ = ["SessionHandle", "SessionState"]


class SessionState(StrEnum):
    """What `GET /v1/session` reports (DESIGN.md "Sessions")."""

    LIVE = "live"  # its core runs on this node
    PARKED = "parked"  # no core anywhere; the next call or stream revives it from its checkpoint
    ENDED = "ended"  # logout, kick or token expiry; later calls get 401 with the errCode


@dataclass(eq=False, slots=True)
class SessionHandle:
    record: SessionRecord
    core: SessionCore | None = None
    last_used: float = 0.0
    streams: int = 0  # open SSE streams, waiting long-polls and oimws sockets on this node
    busy: int = 0  # calls running
    # Its own webhook's worker runs here (bridge/webhooks.py): the session listens as with a
    # stream, so idleness must not park it (a bot on webhooks alone would go deaf).
    hooked: bool = False
    closed: bool = False
    fence: int | None = None  # the owner lease's fence while this node runs the core
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # While several streams are open: their event frames, encoded once (bridge/sse.py).
    frames: FrameCache | None = None

    @property
    def session_id(self) -> SessionId:
        return self.record.session_id

    @property
    def state(self) -> SessionState:
        if self.closed:
            return SessionState.ENDED
        return SessionState.LIVE if self.core is not None else SessionState.PARKED

    def open_stream(self, limit: int, now: float) -> None:
        """Count one more listener; 429 once `limit` are open (BRIDGE_MAX_STREAMS_PER_SESSION)."""
        if self.streams >= limit:
            raise BridgeError(
                429,
                ErrCode.ConnOverMaxNumLimit,
                f"this session already has {limit} open streams on this node (BRIDGE_MAX_STREAMS_PER_SESSION); "
                "close one, or use one stream per session",
                headers={"Retry-After": "5"},
            )
        self.streams += 1
        self.last_used = now
        if self.streams > 1 and self.frames is None:
            self.frames = FrameCache()

    def close_stream(self, now: float) -> None:
        self.streams -= 1
        self.last_used = now
        if self.streams < 2:
            self.frames = None

    @property
    def idle(self) -> bool:
        """Live and unused: the sweeper or the cap may park it."""
        return (
            self.core is not None and not self.streams and not self.hooked and not self.busy and not self.lock.locked()
        )
