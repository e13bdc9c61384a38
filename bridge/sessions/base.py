"""The session directory contract: records keyed by session id, found by token hash.

A bridge session token is 256 random bits handed to the client once; only its
SHA-256 is stored, so a leaked directory cannot be replayed (shared/DESIGN.md).
An ended session (logout, kicked, token expired) is remembered for a while
with the errCode that ended it, so a late call gets 401 with that code instead
of a bare "unknown session".

In cluster mode a session's core runs on exactly one node, its *owner*, which
holds a lease it must renew (DESIGN.md "Embedded default and cluster mode",
issue #6). Each acquisition hands out a *fence*: an integer that grows with
every new owner of that session, so a node that stalled past its lease can be
told apart from the current owner and refused (renew, release, and anything
later checked against the fence). Fences grow across all sessions, so they
also order writers of state that outlives a session (a user's checkpoint).
Nodes register the URL that calls for their sessions are forwarded to. Backends: ``memory.py`` (embedded mode, one
node; the contract's fake) and ``redis.py``; ``tests/test_sessions.py`` runs
the same suite against both.
"""

from __future__ import annotations

import hashlib
import secrets
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import NewType

__all__ = ["SessionDirectory", "SessionId", "SessionRecord", "hash_token", "new_session_token"]

#: A bridge session's id (32 hex digits); never a secret, unlike its tokens.
SessionId = NewType("SessionId", str)


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(slots=True)
class SessionRecord:
    session_id: SessionId
    user_id: str
    platform_id: int
    upstream_token: str
    created_at: float
    ended_code: int | None = None  # errCode that ended the session, None while alive
    batch_messages: bool = False  # deliver OnRecvNewMessages batches instead of OnRecvNewMessage

    def __repr__(self) -> str:  # never print the upstream token
        return f"SessionRecord({self.session_id!r}, user={self.user_id!r}, platform={self.platform_id})"


class SessionDirectory(ABC):
    @abstractmethod
    async def create(self, record: SessionRecord, token_hash: str) -> None:
        """A new session with its first token; it becomes the live one of its (user, platform)."""

    @abstractmethod
    async def add_token(self, session_id: str, token_hash: str) -> None:
        """Another valid token for the session; past the backend's `max_tokens` the oldest is revoked."""

    @abstractmethod
    async def resolve(self, token_hash: str) -> SessionRecord | None:
        """The record a token belongs to (ended ones included, while remembered)."""

    @abstractmethod
    async def get(self, session_id: str) -> SessionRecord | None:
        """A session's record by its id (ended ones included, while remembered)."""

    @abstractmethod
    async def find(self, user_id: str, platform_id: int) -> SessionRecord | None:
        """The live session of a user on a platform, if any."""

    @abstractmethod
    async def update(self, record: SessionRecord) -> None: ...

    @abstractmethod
    async def end(self, session_id: str, code: int) -> None:
        """Mark ended: `find` no longer returns it; `resolve` returns it with `ended_code`."""

    @abstractmethod
    async def live_count(self) -> int: ...

    # -- owner leases ---------------------------------------------------------

    @abstractmethod
    async def acquire(self, session_id: str, node_id: str) -> int | None:
        """Become the session's owner: its new fence, or None if another node holds the lease.

        A node that already holds the lease gets its current fence back and the
        lease extended. Fences of a session only grow, across owners and
        releases, so a higher fence always means a later owner.
        """

    @abstractmethod
    async def renew(self, session_id: str, node_id: str, fence: int) -> bool:
        """Extend the lease if ``node_id`` still holds it under ``fence``; False once it lapsed or moved."""

    async def renew_many(self, node_id: str, leases: list[tuple[str, int]]) -> list[bool]:
        """:meth:`renew` for many ``(session_id, fence)`` at once (a backend may batch the round trips)."""
        return [await self.renew(session_id, node_id, fence) for session_id, fence in leases]

    @abstractmethod
    async def release(self, session_id: str, node_id: str, fence: int) -> bool:
        """Give the lease up (drain, logout) if still held under ``fence``; False otherwise."""

    @abstractmethod
    async def owner(self, session_id: str) -> tuple[str, int] | None:
        """``(node_id, fence)`` of the current lease holder, None if the lease is free."""

    # -- nodes -----------------------------------------------------------------

    @abstractmethod
    async def register_node(self, node_id: str, url: str, ttl: float) -> None:
        """Publish where ``node_id`` takes forwarded calls, for ``ttl`` seconds (renewed while alive)."""

    @abstractmethod
    async def unregister_node(self, node_id: str) -> None: ...

    @abstractmethod
    async def node_url(self, node_id: str) -> str | None:
        """The URL ``node_id`` registered, None if it never did or stopped renewing."""

    async def aclose(self) -> None:
        return None
