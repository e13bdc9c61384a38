"""In-process session directory (embedded mode, and the test fake of the contract)."""

from __future__ import annotations

import time
from collections.abc import Callable

from bridge.sessions.base import SessionDirectory, SessionRecord

__all__ = ["MemorySessionDirectory"]


class MemorySessionDirectory(SessionDirectory):
    def __init__(self, ended_ttl: float = 24 * 3600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._records: dict[str, SessionRecord] = {}
        self._tokens: dict[str, str] = {}  # token hash -> session id
        self._by_user: dict[tuple[str, int], str] = {}
        self._ended_at: dict[str, float] = {}
        self._ttl = ended_ttl
        self._clock = clock

    def _forget_expired(self) -> None:
        now = self._clock()
        for sid in [s for s, at in self._ended_at.items() if now - at > self._ttl]:
            del self._ended_at[sid]
            self._records.pop(sid, None)
            for h in [h for h, s in self._tokens.items() if s == sid]:
                del self._tokens[h]

    async def create(self, record: SessionRecord, token_hash: str) -> None:
        self._forget_expired()
        self._records[record.session_id] = record
        self._tokens[token_hash] = record.session_id
        self._by_user[(record.user_id, record.platform_id)] = record.session_id

    async def add_token(self, session_id: str, token_hash: str) -> None:
        if session_id in self._records:
            self._tokens[token_hash] = session_id

    async def resolve(self, token_hash: str) -> SessionRecord | None:
        sid = self._tokens.get(token_hash)
        return self._records.get(sid) if sid else None

    async def find(self, user_id: str, platform_id: int) -> SessionRecord | None:
        sid = self._by_user.get((user_id, platform_id))
        rec = self._records.get(sid) if sid else None
        return rec if rec is not None and rec.ended_code is None else None

    async def update(self, record: SessionRecord) -> None:
        if record.session_id in self._records:
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
        self._ended_at[session_id] = self._clock()

    async def live_count(self) -> int:
        return len(self._by_user)
