"""A node's drain (SIGTERM): no new sessions, open streams end, calls in flight finish.

The pool parks every core once `wait_for_calls` returns (bridge/pool.py drain);
streams and long-polls watch `started` (bridge/routes/events.py); /readyz and
/metrics read `draining` and `in_flight`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

from bridge.errors import BridgeError
from core.protocol.errcodes import ErrCode

__all__ = ["Drain"]

log = logging.getLogger("openim.bridge.pool")


class Drain:
    __slots__ = ("_idle", "draining", "in_flight", "started")

    def __init__(self) -> None:
        self.draining = False
        self.started = asyncio.Event()
        self.in_flight = 0  # SDK calls running on this node
        self._idle = asyncio.Event()
        self._idle.set()

    def refuse_new(self) -> None:
        """A new session (or a revival) while draining: 503, to be retried on another node."""
        if self.draining:
            raise BridgeError(
                503, ErrCode.ServerInternalError, "this bridge node is shutting down", headers={"Retry-After": "1"}
            )

    @contextlib.contextmanager
    def call(self) -> Iterator[None]:
        """Count one call in flight for as long as it runs."""
        self.in_flight += 1
        self._idle.clear()
        try:
            yield
        finally:
            self.in_flight -= 1
            if self.in_flight == 0:
                self._idle.set()

    async def wait_for_calls(self, timeout: float, live_cores: int) -> None:
        """Start draining and wait (up to `timeout` s) until no call runs."""
        self.draining = True
        self.started.set()
        log.info("draining: %d calls in flight, %d live cores", self.in_flight, live_cores)
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        except TimeoutError:
            log.warning("drain: %d calls still running after %.0f s", self.in_flight, timeout)
