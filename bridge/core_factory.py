"""Building a session's SDK core: the only place the pool's cores meet the upstream's addresses.

The pool takes any :data:`CoreFactory`, so its tests run on cores that need no
OpenIM server; the app passes :class:`UpstreamCoreFactory`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import httpx
from pydantic import BaseModel

from bridge.sessions import SessionRecord
from core.checkpoint import CheckpointStore
from core.checkpoint_flusher import CheckpointFlusher
from core.core import Core, CoreConfig, EndHandler
from core.events import BatchSink, EventSink
from core.registry import SdkFunction
from core.transport.gateway import GatewayOptions
from core.transport.http1_pool import Http1Pool
from core.transport.keepalive import Keepalive

__all__ = ["CoreFactory", "SessionCore", "UpstreamCoreFactory"]


class SessionCore(Protocol):
    """What the pool and the call service use of a core (core.core.Core has it all)."""

    fence: int | None

    async def login(
        self, user_id: str, token: str, operation_id: str, *, delivered: dict[str, int] | None = None
    ) -> None: ...
    async def logout(self, operation_id: str) -> None: ...
    async def park(self) -> None: ...
    async def abandon(self) -> None: ...
    def hold_checkpoints(self) -> None: ...
    async def call(self, fn: SdkFunction, params: BaseModel, operation_id: str) -> object: ...


#: (record, sink, batch sink, end handler) -> a core not logged in yet.
CoreFactory = Callable[[SessionRecord, EventSink, BatchSink, EndHandler], SessionCore]


@dataclass(frozen=True, slots=True)
class UpstreamCoreFactory:
    """Cores of the configured upstream OpenIM server, sharing one HTTP pool and checkpoint store."""

    api_addr: str
    ws_addr: str
    http: httpx.AsyncClient
    store: CheckpointStore
    inbox_size: int = 10_000
    flusher: CheckpointFlusher | None = None  # one task saves every core's checkpoint
    keepalive: Keepalive | None = None  # one task pings every core's gateway connection
    api_pool: Http1Pool | None = None  # the lean HTTP/1.1 pool for a plain-http upstream API
    # One for every core: they only read it, and one each was ~250 bytes per live session (issue 14).
    gateway: GatewayOptions = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "gateway", GatewayOptions(keepalive=self.keepalive))

    def __call__(self, record: SessionRecord, sink: EventSink, batch_sink: BatchSink, on_end: EndHandler) -> Core:
        config = CoreConfig(
            self.api_addr,
            self.ws_addr,
            record.platform_id,
            batch_messages=record.batch_messages,
            inbox_size=self.inbox_size,
            gateway=self.gateway,
        )
        return Core(
            config,
            http=self.http,
            sink=sink,
            store=self.store,
            on_end=on_end,
            batch_sink=batch_sink,
            flusher=self.flusher,
            api_pool=self.api_pool,
        )
