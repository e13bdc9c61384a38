"""In-process session directory (embedded mode, and the test fake of the contract).

Embedded mode has one node, so its leases always end up with that node; they
are still real leases (expiry on `lease_clock`, fences that only grow),
so the contract suite checks the same rules here as against Redis and code
written for cluster mode runs unchanged on one node.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from bridge.sessions.base import SessionDirectory, SessionRecord

__all__ = ["MemorySessionDirectory"]


@dataclass(slots=True)
class _Lease:
    node_id: str
    fence: int
    expires_at: float


class MemorySessionDirectory(SessionDirectory):
    def __init__(
        self,
        ended_ttl: float = 24 * 3600.0,
        clock: Callable[[], float] = time.monotonic,
        *,
        lease_seconds: float = 30.0,
        lease_clock: Callable[[], float] | None = None,
        max_tokens: int = 8,
    ) -> None:
        if lease_seconds <= 0:
            raise ValueError(f"lease_seconds must be > 0, got {lease_seconds}")
        self._records: dict[str, SessionRecord] = {}
        self._tokens: dict[str, str] = {}  # token hash -> session id
        self._tokens_of: dict[str, dict[str, None]] = {}  # session id -> its token hashes, oldest first
        self._max_tokens = max_tokens
        self._by_user: dict[tuple[str, int], str] = {}
        self._ended_at: dict[str, float] = {}  # in the order sessions ended
        self._leases: dict[str, _Lease] = {}
        # Fences grow across all sessions (base.py) and across restarts: they
        # start at the wall clock in microseconds, above any stored checkpoint's.
        self._last_fence = time.time_ns() // 1000
        self._nodes: dict[str, tuple[str, float]] = {}  # node id -> (url, expires at)
        self._ttl = ended_ttl
        self._clock = clock
        # Leases run on their own clock: tests move `clock` to age ended
        # sessions and idle cores, and that must not look like a stalled owner.
        self._lease_clock = lease_clock or time.monotonic
        self.lease_seconds = lease_seconds

    # -- records ---------------------------------------------------------------

    def _expired(self, session_id: str, now: float) -> bool:
        at = self._ended_at.get(session_id)
        return at is not None and now - at > self._ttl

    def _forget(self, session_id: str) -> None:
        self._ended_at.pop(session_id, None)
        self._records.pop(session_id, None)
        for token_hash in self._tokens_of.pop(session_id, {}):
            self._tokens.pop(token_hash, None)

    def _forget_expired(self) -> None:
        # Sessions end in time order and share one TTL: the expired ones lead.
        now = self._clock()
        while self._ended_at:
            sid = next(iter(self._ended_at))
            if not self._expired(sid, now):
                break
            self._forget(sid)

    async def create(self, record: SessionRecord, token_hash: str) -> None:
        self._forget_expired()
        self._records[record.session_id] = record
        self._by_user[(record.user_id, record.platform_id)] = record.session_id
        self._keep_token(record.session_id, token_hash)

    async def add_token(self, session_id: str, token_hash: str) -> None:
        if session_id in self._records:
            self._keep_token(session_id, token_hash)

    def _keep_token(self, session_id: str, token_hash: str) -> None:
        self._tokens[token_hash] = session_id
        hashes = self._tokens_of.setdefault(session_id, {})
        hashes[token_hash] = None
        while len(hashes) > self._max_tokens:  # the oldest token is revoked
            oldest = next(iter(hashes))
            del hashes[oldest]
            self._tokens.pop(oldest, None)

    async def resolve(self, token_hash: str) -> SessionRecord | None:
        sid = self._tokens.get(token_hash)
        if sid is None:
            return None
        if self._expired(sid, self._clock()):
            self._forget(sid)
            return None
        return self._records.get(sid)

    async def get(self, session_id: str) -> SessionRecord | None:
        if self._expired(session_id, self._clock()):
            self._forget(session_id)
            return None
        return self._records.get(session_id)

    async def find(self, user_id: str, platform_id: int) -> SessionRecord | None:
        sid = self._by_user.get((user_id, platform_id))
        rec = self._records.get(sid) if sid else None
        return rec if rec is not None and rec.ended_code is None else None

    async def update(self, record: SessionRecord) -> None:
        current = self._records.get(record.session_id)
        if current is not None and current.ended_code is None:  # an ended session stays ended
            self._records[record.session_id] = record

    async def end(self, session_id: str, code: int) -> None:
        rec = self._records.get(session_id)
        if rec is None:
            return
        rec.ended_code = code
        rec.upstream_token = ""
        key = (rec.user_id, rec.platform_id)
        if self._by_user.get(key) == session_id:
            del self._by_user[key]
        self._ended_at.pop(session_id, None)  # re-insert: keep the dict in end order
        self._ended_at[session_id] = self._clock()

    async def live_count(self) -> int:
        return len(self._by_user)

    # -- leases ----------------------------------------------------------------

    def _held(self, session_id: str) -> _Lease | None:
        lease = self._leases.get(session_id)
        if lease is not None and self._lease_clock() >= lease.expires_at:
            del self._leases[session_id]
            return None
        return lease

    async def acquire(self, session_id: str, node_id: str) -> int | None:
        lease = self._held(session_id)
        expires_at = self._lease_clock() + self.lease_seconds
        if lease is not None:
            if lease.node_id != node_id:
                return None
            lease.expires_at = expires_at
            return lease.fence
        self._last_fence += 1
        fence = self._last_fence
        self._leases[session_id] = _Lease(node_id, fence, expires_at)
        return fence

    async def renew(self, session_id: str, node_id: str, fence: int) -> bool:
        lease = self._held(session_id)
        if lease is None or (lease.node_id, lease.fence) != (node_id, fence):
            return False
        lease.expires_at = self._lease_clock() + self.lease_seconds
        return True

    async def renew_many(self, node_id: str, leases: list[tuple[str, int]]) -> list[bool]:
        """One pass without a coroutine per lease: the node's renewal round every
        lease_seconds/3 cost 2,000 awaited `renew`s at 2,000 sessions (issue 14)."""
        now = self._lease_clock()
        expires_at = now + self.lease_seconds
        table, done = self._leases, []
        for session_id, fence in leases:
            lease = table.get(session_id)
            if lease is not None and now >= lease.expires_at:
                del table[session_id]
                lease = None
            if lease is not None and lease.node_id == node_id and lease.fence == fence:
                lease.expires_at = expires_at
                done.append(True)
            else:
                done.append(False)
        return done

    async def release(self, session_id: str, node_id: str, fence: int) -> bool:
        lease = self._held(session_id)
        if lease is None or (lease.node_id, lease.fence) != (node_id, fence):
            return False
        del self._leases[session_id]
        return True

    async def owner(self, session_id: str) -> tuple[str, int] | None:
        lease = self._held(session_id)
        return None if lease is None else (lease.node_id, lease.fence)

    # -- nodes -----------------------------------------------------------------

    async def register_node(self, node_id: str, url: str, ttl: float) -> None:
        self._nodes[node_id] = (url, self._lease_clock() + ttl)

    async def unregister_node(self, node_id: str) -> None:
        self._nodes.pop(node_id, None)

    async def node_url(self, node_id: str) -> str | None:
        entry = self._nodes.get(node_id)
        return entry[0] if entry is not None and self._lease_clock() < entry[1] else None
