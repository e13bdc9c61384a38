"""Retries with the same operationID return the first outcome, run once.

Mobile clients retry when a response is lost; a retried AddFriend must not send
a second application. The outcome of a call (its result, or its error) is kept
per (session id, operationID) for a window; a retry within the window gets it
back (a fresh exception of the same type with the same fields, so the HTTP
answer is the same) and the call does not run again. The same operationID on
another function is refused (409 ArgsError).

In flight on this node, a retry waits for the first call; finished outcomes
live in an :class:`OutcomeStore` (SQL, memory, or Redis in cluster mode). The
design record (why no "running" claims in Redis, what is and is not
recorded, store outages) is in docs/architecture.md, "Idempotency".
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from bridge.errors import BridgeError
from bridge.logs import log_fields
from core.errors import SdkError
from core.protocol.errcodes import ErrCode

from .base import MAX_OUTCOME_BYTES, Outcome, OutcomeStore, RecordedError
from .memory import MemoryOutcomes
from .redis import RedisOutcomes

__all__ = [
    "MAX_OUTCOME_BYTES",
    "IdempotencyCache",
    "MemoryOutcomes",
    "Outcome",
    "OutcomeStore",
    "Ran",
    "RecordedError",
    "RedisOutcomes",
]

log = logging.getLogger("openim.bridge.idempotency")


@dataclass(frozen=True, slots=True)
class Ran:
    """How :meth:`IdempotencyCache.ran` ended: a result or an error, run now or replayed."""

    replayed: bool
    result: Any = None
    error: Exception | None = None

    def unwrap(self) -> Any:
        """The result, or raise the error (the original exception when it ran now)."""
        if self.error is not None:
            raise self.error
        return self.result


@dataclass(slots=True)
class _Flight:
    path: str
    # The outcome once known; None if the call was abandoned (cancelled, or the
    # lookup failed): a waiting retry then starts over.
    done: asyncio.Future[Outcome | None]
    waiters: int = 0


class IdempotencyCache:
    """Run ``fn`` once per (session id, operationID) within ``window`` seconds.

    With ``redis`` the outcomes live in Redis under ``prefix`` (shared by every
    node, expiry on Redis's clock); with ``store`` there (the SQL one of a node
    without Redis); without either, in memory (at most ``max_entries``, a hundredth of them per
    session, expiry on ``clock``).
    """

    def __init__(
        self,
        window: float,
        *,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
        redis: Redis | None = None,
        prefix: str = "oimb:",
        store: OutcomeStore | None = None,
    ) -> None:
        if store is None:
            store = (
                MemoryOutcomes(window, max_entries, clock)
                if redis is None
                else RedisOutcomes(redis, window=window, prefix=prefix)
            )
        self.store: OutcomeStore = store
        self._flights: dict[tuple[str, str], _Flight] = {}
        self._finishing: set[asyncio.Task[None]] = set()
        self.replays = 0

    @property
    def waiting(self) -> int:
        """Retries now waiting for a call in flight on this node."""
        return sum(f.waiters for f in self._flights.values())

    async def run(self, session_id: str, operation_id: str, path: str, fn: Callable[[], Awaitable[Any]]) -> Any:
        """``fn()``'s result, or the recorded outcome of an earlier call with this operationID."""
        return (await self.ran(session_id, operation_id, path, fn)).unwrap()

    async def ran(self, session_id: str, operation_id: str, path: str, fn: Callable[[], Awaitable[Any]]) -> Ran:
        """Like :meth:`run`, but the outcome is returned (not raised) and says whether it was a replay."""
        key = (session_id, operation_id)
        while (flight := self._flights.get(key)) is not None:
            _check_path(flight.path, path, operation_id)
            flight.waiters += 1
            try:
                waited = await asyncio.shield(flight.done)
            finally:
                flight.waiters -= 1
            if waited is not None:
                return self._replay(waited, path, operation_id)
        flight = _Flight(path, asyncio.get_running_loop().create_future())
        self._flights[key] = flight
        try:
            recorded = await self.store.get(session_id, operation_id)
        except BaseException:
            self._settle(key, flight, None)
            raise
        if recorded is not None:
            self._settle(key, flight, recorded)
            return self._replay(recorded, path, operation_id)
        try:
            result = await fn()
        except Exception as exc:
            if _not_run(exc):
                self._settle(key, flight, None)
            else:
                await self._finish(key, flight, Outcome(path, error=RecordedError.of(exc)))
            return Ran(False, error=exc)
        except BaseException:  # cancelled: forget the call, so a retry runs it
            self._settle(key, flight, None)
            raise
        await self._finish(key, flight, Outcome(path, result))
        return Ran(False, result)

    async def recorded_path(self, session_id: str, operation_id: str) -> str | None:
        """The function an operationID was used for (in flight here, or recorded), None if unused."""
        flight = self._flights.get((session_id, operation_id))
        if flight is not None:
            return flight.path
        recorded = await self.store.get(session_id, operation_id)
        return None if recorded is None else recorded.path

    def _replay(self, outcome: Outcome, path: str, operation_id: str) -> Ran:
        _check_path(outcome.path, path, operation_id)
        self.replays += 1
        try:
            return Ran(True, outcome.replay())
        except (BridgeError, SdkError) as exc:
            return Ran(True, error=exc)

    def _settle(self, key: tuple[str, str], flight: _Flight, outcome: Outcome | None) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
        flight.done.set_result(outcome)

    async def _finish(self, key: tuple[str, str], flight: _Flight, outcome: Outcome) -> None:
        """Record the outcome, then release the flight; done even if the caller is cancelled meanwhile."""
        task = asyncio.create_task(self._record(key, flight, outcome))
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)
        await asyncio.shield(task)

    async def _record(self, key: tuple[str, str], flight: _Flight, outcome: Outcome) -> None:
        try:
            await self.store.put(*key, outcome)
        except Exception as exc:
            # The call ran: its caller still gets its outcome. No token here;
            # the session id is shortened as in the pool's logs.
            log.warning(
                "outcome of %s not recorded (session=%s operationID=%s); a retry elsewhere may run it again: %s",
                outcome.path,
                key[0][:8],
                key[1],
                exc,
                exc_info=not isinstance(exc, BridgeError),
                extra=log_fields(sessionID=key[0][:8], operationID=key[1]),
            )
        finally:
            self._settle(key, flight, outcome)


def _not_run(exc: Exception) -> bool:
    """The error says the call did not run on this node: misdirected (421), or "retry later"."""
    if not isinstance(exc, BridgeError):
        return False
    return exc.status == 421 or any(name.lower() == "retry-after" for name in exc.headers)


def _check_path(recorded: str, path: str, operation_id: str) -> None:
    if recorded != path:
        raise BridgeError(409, ErrCode.ArgsError, f"operationID {operation_id} was already used for {recorded}")
