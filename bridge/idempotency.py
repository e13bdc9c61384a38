"""Retries with the same operationID return the first outcome, run once.

Mobile clients retry when a response is lost; a retried AddFriend must not send
a second application. Outcomes (result or error) are kept per (session,
operationID) for a window; a retry that arrives while the first call is still
running waits for it. Bounded: the oldest entries go first.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bridge.errors import BridgeError
from core.protocol.errcodes import ErrCode

__all__ = ["IdempotencyCache"]


@dataclass(slots=True)
class _Entry:
    path: str
    created: float
    outcome: asyncio.Future[Any]


class IdempotencyCache:
    def __init__(self, window: float, max_entries: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._window = window
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self.replays = 0

    def _expire(self) -> None:
        now = self._clock()
        while self._entries:
            key, entry = next(iter(self._entries.items()))
            if now - entry.created <= self._window and len(self._entries) <= self._max:
                break
            if not entry.outcome.done():
                break  # never forget a call still running
            del self._entries[key]

    async def run(self, session_id: str, operation_id: str, path: str, fn: Callable[[], Awaitable[Any]]) -> Any:
        self._expire()
        key = (session_id, operation_id)
        entry = self._entries.get(key)
        if entry is not None:
            if entry.path != path:
                raise BridgeError(
                    409, ErrCode.ArgsError, f"operationID {operation_id} was already used for {entry.path}"
                )
            self.replays += 1
            return await asyncio.shield(entry.outcome)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._entries[key] = _Entry(path, self._clock(), fut)
        try:
            result = await fn()
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                # The caller went away: forget the call so a retry runs it.
                self._entries.pop(key, None)
                fut.cancel()
                raise
            fut.set_exception(exc)
            fut.exception()  # mark retrieved: nobody may be waiting
            raise
        fut.set_result(result)
        return result
