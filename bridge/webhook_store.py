"""Where webhook targets and delivery cursors live: this process, Redis, or SQL (bridge/sqlstore/webhooks.py).

A cursor is the id of the last event a target has acknowledged (2xx); the
dispatcher resumes after it, so a restart (Redis mode: any node) and a
receiver that was down resume where delivery stopped. Targets set with
`PUT /v1/session/webhook` are kept per session; the operator's target
(BRIDGE_WEBHOOK_URL) is configuration, only its cursors are stored.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

from redis.asyncio import Redis

__all__ = ["CachedTargets", "MemoryWebhookStore", "RedisWebhookStore", "WebhookStore", "WebhookTarget"]


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    kind: str  # "operator" or "session": each has its own cursor
    url: str
    secret: str = field(repr=False)


def _text(value: bytes | str) -> str:
    return value if isinstance(value, str) else value.decode()


class WebhookStore(ABC):
    # Other nodes write it too (Redis, cluster mode): only then can a target appear that this
    # node's routes did not set, which the dispatcher's periodic full scan is there to find.
    shared = False

    @abstractmethod
    async def target(self, session_id: str) -> WebhookTarget | None: ...

    @abstractmethod
    async def set_target(self, session_id: str, url: str, secret: str, from_event: int) -> None:
        """A new target, delivered the events after `from_event`: its cursor is written with it,
        so a worker the scan starts in between cannot begin from nothing and replay the log."""

    async def targets(self, session_ids: Sequence[str]) -> dict[str, WebhookTarget]:
        """`target` of many sessions at once (the dispatcher's scan); backends batch it."""
        found = {sid: await self.target(sid) for sid in session_ids}
        return {sid: t for sid, t in found.items() if t is not None}

    @abstractmethod
    async def hooked_sessions(self) -> list[str]:
        """The sessions with a webhook of their own (the dispatcher revives them at start-up)."""

    @abstractmethod
    async def delete_target(self, session_id: str) -> bool: ...

    @abstractmethod
    async def cursor(self, session_id: str, kind: str) -> int | None:
        """The last acknowledged event id; None when delivery never started."""

    @abstractmethod
    async def set_cursor(self, session_id: str, kind: str, event_id: int) -> None: ...

    @abstractmethod
    async def forget(self, session_id: str) -> None:
        """The session ended and its events were all delivered: drop its target and cursors."""


class MemoryWebhookStore(WebhookStore):
    def __init__(self) -> None:
        self._targets: dict[str, WebhookTarget] = {}
        self._cursors: dict[tuple[str, str], int] = {}

    async def target(self, session_id: str) -> WebhookTarget | None:
        return self._targets.get(session_id)

    async def hooked_sessions(self) -> list[str]:
        return list(self._targets)

    async def set_target(self, session_id: str, url: str, secret: str, from_event: int) -> None:
        self._targets[session_id] = WebhookTarget("session", url, secret)
        self._cursors[(session_id, "session")] = from_event

    async def delete_target(self, session_id: str) -> bool:
        self._cursors.pop((session_id, "session"), None)
        return self._targets.pop(session_id, None) is not None

    async def cursor(self, session_id: str, kind: str) -> int | None:
        return self._cursors.get((session_id, kind))

    async def set_cursor(self, session_id: str, kind: str, event_id: int) -> None:
        self._cursors[(session_id, kind)] = event_id

    async def forget(self, session_id: str) -> None:
        self._targets.pop(session_id, None)
        for key in [k for k in self._cursors if k[0] == session_id]:
            del self._cursors[key]


class RedisWebhookStore(WebhookStore):
    """`<prefix>wh:<session>` hash {url, secret, cursor:<kind>...}, shared by every node."""

    shared = True

    def __init__(self, redis: Redis, prefix: str, ttl: float) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl = int(ttl)  # a session gone for good leaves nothing behind

    def _key(self, session_id: str) -> str:
        return f"{self._prefix}wh:{session_id}"

    async def target(self, session_id: str) -> WebhookTarget | None:
        url, secret = await self._redis.hmget(self._key(session_id), ["url", "secret"])
        if url is None or secret is None:
            return None
        return WebhookTarget("session", _text(url), _text(secret))

    async def targets(self, session_ids: Sequence[str]) -> dict[str, WebhookTarget]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for sid in session_ids:
                pipe.hmget(self._key(sid), ["url", "secret"])
            answers = await pipe.execute()
        return {
            sid: WebhookTarget("session", _text(url), _text(secret))
            for sid, (url, secret) in zip(session_ids, answers, strict=True)
            if url is not None and secret is not None
        }

    async def hooked_sessions(self) -> list[str]:
        # Start-up only: one SCAN over this deployment's webhook keys.
        start = len(self._key(""))
        found = []
        async for key in self._redis.scan_iter(match=self._key("*"), count=500):
            if await self._redis.hexists(key, "url"):
                found.append(_text(key)[start:])
        return found

    async def set_target(self, session_id: str, url: str, secret: str, from_event: int) -> None:
        key = self._key(session_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"url": url, "secret": secret, "cursor:session": from_event})
            pipe.expire(key, self._ttl)
            await pipe.execute()

    async def delete_target(self, session_id: str) -> bool:
        removed = await self._redis.hdel(self._key(session_id), "url", "secret", "cursor:session")
        return bool(removed)

    async def cursor(self, session_id: str, kind: str) -> int | None:
        raw = await self._redis.hget(self._key(session_id), f"cursor:{kind}")
        return None if raw is None else int(raw)

    async def set_cursor(self, session_id: str, kind: str, event_id: int) -> None:
        key = self._key(session_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, f"cursor:{kind}", event_id)
            pipe.expire(key, self._ttl)
            await pipe.execute()

    async def forget(self, session_id: str) -> None:
        await self._redis.delete(self._key(session_id))


class CachedTargets(WebhookStore):
    """`inner`, with each session's own target kept in memory from its first read until this
    process changes it (`set_target`, `delete_target`, `forget`: the routes' change path) or
    `refresh` drops it. The dispatcher asks before every delivery; that was one store read per
    event. A change made on another node is not seen until `refresh` (the worker refreshes when
    its session is quiet); in cluster mode a session's requests reach its owner (bridge/forward.py),
    which runs its worker, so its changes come through here."""

    def __init__(self, inner: WebhookStore) -> None:
        self.inner = inner
        self.shared = inner.shared
        self._known: dict[str, WebhookTarget | None] = {}
        self._changes = 0  # a read that overlapped a change must not cache what it read

    async def target(self, session_id: str) -> WebhookTarget | None:
        if session_id in self._known:
            return self._known[session_id]
        changes = self._changes
        found = await self.inner.target(session_id)
        if changes == self._changes:
            self._known[session_id] = found
        return found

    def refresh(self, session_id: str) -> None:
        """Read the session's target from the store next time (and hold no memory of it until then)."""
        self._known.pop(session_id, None)

    def _changed(self, session_id: str) -> None:
        self._changes += 1
        self._known.pop(session_id, None)

    async def set_target(self, session_id: str, url: str, secret: str, from_event: int) -> None:
        try:
            await self.inner.set_target(session_id, url, secret, from_event)
        finally:  # even a failed write may have landed
            self._changed(session_id)

    async def delete_target(self, session_id: str) -> bool:
        try:
            return await self.inner.delete_target(session_id)
        finally:
            self._changed(session_id)

    async def forget(self, session_id: str) -> None:
        try:
            await self.inner.forget(session_id)
        finally:
            self._changed(session_id)

    async def targets(self, session_ids: Sequence[str]) -> dict[str, WebhookTarget]:
        return await self.inner.targets(session_ids)  # the scan: sessions with no worker, fresh

    async def hooked_sessions(self) -> list[str]:
        return await self.inner.hooked_sessions()

    async def cursor(self, session_id: str, kind: str) -> int | None:
        return await self.inner.cursor(session_id, kind)

    async def set_cursor(self, session_id: str, kind: str, event_id: int) -> None:
        await self.inner.set_cursor(session_id, kind, event_id)
