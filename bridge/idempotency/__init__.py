"""Retries with the same operationID return the first outcome, run once.

Mobile clients retry when a response is lost; a retried AddFriend must not send
a second application. The outcome of a call (its result, or its error) is kept
per (session id, operationID) for a window; a retry within the window gets it
back (a fresh exception of the same type with the same fields, so the HTTP
answer is the same) and the call does not run again. The same operationID on
another function is refused (409 ArgsError).

Two layers:

- in flight, in this process: a retry that arrives while the first call still
  runs on this node waits for it (``_flights``). The flight is taken *before*
  the store is consulted and given up only once the outcome is recorded, so on
  one node a key is never looked up and run by two tasks at once;
- finished, in an :class:`OutcomeStore`: :class:`MemoryOutcomes` (embedded
  mode, bounded, on the injected clock) or, in cluster mode,
  :class:`RedisOutcomes`, shared by every node: when the node that owned a
  session dies and another takes over, the client's retry there replays the
  recorded outcome instead of running the call again.

Decisions:

- *No "running" claims in Redis.* A claim would only matter if a retry that
  finds another node's claim waited instead of running. But a claim cannot
  tell a slow node from a dead one (after ``kill -9`` it stays until it
  expires), so waiting would stall exactly the retry-after-crash that cluster
  mode exists for; and a session's calls are served by its owner node, whose
  flight table already coalesces them, so another node's claim means that node
  lost the session, and the retry runs either way. A claim by this node is
  known from the flight table without Redis. Claims would cost a write per
  call and change no decision, so only finished outcomes are written.
  Consequence: a call that was running when its node crashed runs again on
  the new owner; exactly-once then rests on the upstream's own idempotency
  (SendMessage's clientMsgID, which OpenIM and our imserver dedupe); where
  the upstream has none, the call may take effect twice.
- *A store outage before running fails the call* (503 from ``redis_errors``,
  with Retry-After) instead of running it unchecked: a retry must never run a
  call twice, and the client retries shortly with the same operationID.
- *A store outage after running is logged, not raised*: the call ran, so the
  caller gets its result (or its error); only a later retry on another node
  could then run it again.
- *What is recorded*: results, :class:`BridgeError` and :class:`SdkError` as
  they are; any other exception (a bug) as the catch-all handler's 500
  "internal error", which is what the client saw. Not recorded, because they
  say the call did not run here, so a retry must run it: cancellation (the
  caller went away first), 421 (:class:`~bridge.errors.NotOwnerError`: the
  session is served by another node, where the forwarded call is checked
  again under the same key), and any error with a ``Retry-After`` header
  (pool full, Redis outage: replaying those would turn "retry in a second"
  into "fails for the whole window"). Such an error goes to its own caller
  only; retries waiting on the flight start over, and one of them runs.
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
from core.protocol.errcodes import ErrCode

from .base import Outcome, OutcomeStore, RecordedError
from .memory import MemoryOutcomes
from .redis import RedisOutcomes

__all__ = ["IdempotencyCache", "MemoryOutcomes", "Outcome", "OutcomeStore", "RecordedError", "RedisOutcomes"]

log = logging.getLogger("openim.bridge.idempotency")


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
    node, expiry on Redis's clock); without, in memory (at most
    ``max_entries``, expiry on ``clock``).
    """

    def __init__(
        self,
        window: float,
        *,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
        redis: Redis | None = None,
        prefix: str = "oimb:",
    ) -> None:
        self.store: OutcomeStore = (
            MemoryOutcomes(window, max_entries, clock)
            if redis is None
            else RedisOutcomes(redis, window=window, prefix=prefix)
        )
        self._flights: dict[tuple[str, str], _Flight] = {}
        self._finishing: set[asyncio.Task[None]] = set()
        self.replays = 0

    @property
    def waiting(self) -> int:
        """Retries now waiting for a call in flight on this node."""
        return sum(f.waiters for f in self._flights.values())

    async def run(self, session_id: str, operation_id: str, path: str, fn: Callable[[], Awaitable[Any]]) -> Any:
        """``fn()``'s result, or the recorded outcome of an earlier call with this operationID."""
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
            raise
        except BaseException:  # cancelled: forget the call, so a retry runs it
            self._settle(key, flight, None)
            raise
        await self._finish(key, flight, Outcome(path, result))
        return result

    def _replay(self, outcome: Outcome, path: str, operation_id: str) -> Any:
        _check_path(outcome.path, path, operation_id)
        self.replays += 1
        return outcome.replay()

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
