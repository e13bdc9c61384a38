"""The session directory and owner leases in Redis: cluster mode's backend (issue #6).

Every node sees every session, so a call can land anywhere and still find its
record, and exactly one node at a time owns (runs the core of) a session.

Layout (``prefix`` defaults to ``oimb:``; ``sid`` is the session id):

- ``{prefix}s:{sid}``: hash, the :class:`SessionRecord`, one field per
  dataclass field, JSON-encoded (so a field added to the record needs no change
  here; a field this version does not know is ignored), plus ``_ended_at``
  once ended.
- ``{prefix}s:{sid}:toks``: sorted set of the session's token hashes, oldest
  first, so ``end`` can expire them all and ``add_token`` revokes the oldest
  past ``max_tokens``.
- ``{prefix}tok:{token_hash}``: string, the session id (``resolve``).
- ``{prefix}live``: hash ``"{platformID}:{userID}" -> sid`` of live sessions
  (``find``; ``HLEN`` is ``live_count``). Platform first: it is a number, so
  the split is unambiguous whatever the user id contains.
- ``{prefix}lease:{sid}``: string ``"{fence} {node_id}"`` with a ``PX`` expiry
  of ``lease_seconds``: the owner lease.
- ``{prefix}fence``: counter, the last fence handed out, for all sessions: a
  fence is then also a global writer generation, which the checkpoint store
  compares (a user's checkpoint outlives each of its sessions). It starts at
  Redis's clock in microseconds, so a flushed or lost counter never hands out
  fences below those already stored with checkpoints.
- ``{prefix}node:{node_id}``: string, the URL other nodes forward calls to,
  with a ``PX`` expiry the node keeps renewing (``register_node``).

Live records have no TTL (they end by logout, kick or token expiry); ``end``
gives the record and its tokens ``ended_ttl`` (Redis time),
and ``resolve`` also hides an ended record older than ``ended_ttl`` on the
injected clock (wall time, comparable across nodes), so tests move time by hand.

Leases use Redis's clock only: the lease key's expiry is the single truth of
"has the lease lapsed", whatever the nodes' clocks say. Acquire, renew and
release are Lua scripts, so check-and-set is atomic: a node whose lease lapsed
and was taken over holds a smaller fence, and its renew or release compares
``"{fence} {node_id}"`` and fails. Fences come from ``INCR`` on a counter that
outlives the lease, so they only grow.

Multi-key scripts name keys computed from the prefix, so this backend needs a
single Redis (with replicas/Sentinel), not Redis Cluster.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import MISSING, fields
from importlib.resources import files
from typing import Any

from redis.asyncio import Redis

from bridge.redis_client import redis_errors
from bridge.sessions.base import SessionDirectory, SessionRecord

__all__ = ["RedisSessionDirectory"]

_FIELDS = {f.name: f for f in fields(SessionRecord)}


def _script(name: str) -> str:
    """A Lua script of lua/ (read once, at import; each says its KEYS and ARGV)."""
    return (files("bridge.sessions") / "lua" / f"{name}.lua").read_text()


_CREATE, _ADD_TOKEN, _RESOLVE, _FIND, _UPDATE, _END, _ACQUIRE, _RENEW, _RELEASE = (
    _script(n) for n in ("create", "add_token", "resolve", "find", "update", "end", "acquire", "renew", "release")
)


class RedisSessionDirectory(SessionDirectory):
    """Session records, token and user indexes, and owner leases in one Redis.

    ``node_id`` names this node (``BridgeSettings.node_id``); the lease methods
    take a node id explicitly so one directory object can act for any node
    (tests, and a node checking who owns a session).
    """

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "oimb:",
        node_id: str,
        lease_seconds: float = 30.0,
        ended_ttl: float = 24 * 3600.0,
        clock: Callable[[], float] = time.time,
        max_tokens: int = 8,
    ) -> None:
        if lease_seconds <= 0 or ended_ttl <= 0:
            raise ValueError("lease_seconds and ended_ttl must be > 0")
        self._redis = redis
        self.prefix = prefix
        self.node_id = node_id
        self.lease_seconds = lease_seconds
        self._lease_ms = max(int(lease_seconds * 1000), 1)
        self._ttl = ended_ttl
        self._ttl_ms = max(int(ended_ttl * 1000), 1)
        self._clock = clock
        self._max_tokens = max_tokens
        register = redis.register_script
        self._create, self._add_token, self._resolve = register(_CREATE), register(_ADD_TOKEN), register(_RESOLVE)
        self._find, self._update, self._end = register(_FIND), register(_UPDATE), register(_END)
        self._acquire, self._renew, self._release = register(_ACQUIRE), register(_RENEW), register(_RELEASE)

    # -- keys ------------------------------------------------------------------

    def record_key(self, session_id: str) -> str:
        return f"{self.prefix}s:{session_id}"

    def _tokens_key(self, session_id: str) -> str:
        return f"{self.prefix}s:{session_id}:toks"

    def _token_key(self, token_hash: str) -> str:
        return f"{self.prefix}tok:{token_hash}"

    def lease_key(self, session_id: str) -> str:
        return f"{self.prefix}lease:{session_id}"

    @property
    def _live(self) -> str:
        return f"{self.prefix}live"

    # -- records ---------------------------------------------------------------

    async def create(self, record: SessionRecord, token_hash: str) -> None:
        sid = record.session_id
        keys = [self.record_key(sid), self._tokens_key(sid), self._token_key(token_hash), self._live]
        async with redis_errors("create session"):
            await self._create(keys=keys, args=[sid, token_hash, _live_field(record), *_encode(record)])

    async def add_token(self, session_id: str, token_hash: str) -> None:
        keys = [self.record_key(session_id), self._tokens_key(session_id), self._token_key(token_hash)]
        async with redis_errors("add session token"):
            await self._add_token(keys=keys, args=[session_id, token_hash, self._max_tokens, self._token_key("")])

    async def resolve(self, token_hash: str) -> SessionRecord | None:
        async with redis_errors("resolve session"):
            raw = await self._resolve(keys=[self._token_key(token_hash)], args=[self.record_key("")])
        return self._decode(raw)

    async def get(self, session_id: str) -> SessionRecord | None:
        async with redis_errors("get session"):
            stored = await self._redis.hgetall(self.record_key(session_id))
        return self._decode([item for pair in stored.items() for item in pair])

    async def find(self, user_id: str, platform_id: int) -> SessionRecord | None:
        async with redis_errors("find session"):
            raw = await self._find(keys=[self._live], args=[f"{platform_id}:{user_id}", self.record_key("")])
        record = self._decode(raw)
        return record if record is not None and record.ended_code is None else None

    async def update(self, record: SessionRecord) -> None:
        async with redis_errors("update session"):
            await self._update(keys=[self.record_key(record.session_id)], args=_encode(record, alive_only=True))

    async def end(self, session_id: str, code: int) -> None:
        keys = [self.record_key(session_id), self._tokens_key(session_id), self._live]
        args: list[str | int] = [session_id, json.dumps(code), repr(self._clock()), self._ttl_ms, self._token_key("")]
        async with redis_errors("end session"):
            await self._end(keys=keys, args=args)

    async def live_count(self) -> int:
        async with redis_errors("count sessions"):
            return int(await self._redis.hlen(self._live))

    # -- leases ----------------------------------------------------------------

    @property
    def _fence_key(self) -> str:
        return f"{self.prefix}fence"

    async def acquire(self, session_id: str, node_id: str) -> int | None:
        _check_node_id(node_id)
        keys = [self.lease_key(session_id), self._fence_key]
        async with redis_errors("acquire session lease"):
            fence = await self._acquire(keys=keys, args=[node_id, self._lease_ms])
        return None if fence is None else int(fence)

    async def renew(self, session_id: str, node_id: str, fence: int) -> bool:
        async with redis_errors("renew session lease"):
            done = await self._renew(keys=[self.lease_key(session_id)], args=[f"{fence} {node_id}", self._lease_ms])
        return bool(done)

    async def renew_many(self, node_id: str, leases: list[tuple[str, int]]) -> list[bool]:
        """One pipelined round trip per 500 leases, however many cores the node runs."""
        done: list[bool] = []
        for start in range(0, len(leases), 500):
            async with redis_errors("renew session leases"), self._redis.pipeline(transaction=False) as pipe:
                for session_id, fence in leases[start : start + 500]:
                    await self._renew(
                        keys=[self.lease_key(session_id)], args=[f"{fence} {node_id}", self._lease_ms], client=pipe
                    )
                done += [bool(r) for r in await pipe.execute()]
        return done

    async def release(self, session_id: str, node_id: str, fence: int) -> bool:
        async with redis_errors("release session lease"):
            done = await self._release(keys=[self.lease_key(session_id)], args=[f"{fence} {node_id}"])
        return bool(done)

    async def owner(self, session_id: str) -> tuple[str, int] | None:
        async with redis_errors("read session lease"):
            raw = await self._redis.get(self.lease_key(session_id))
        if raw is None:
            return None
        fence, _, node_id = _text(raw).partition(" ")
        return node_id, int(fence)

    # -- nodes -----------------------------------------------------------------

    def _node_key(self, node_id: str) -> str:
        return f"{self.prefix}node:{node_id}"

    async def register_node(self, node_id: str, url: str, ttl: float) -> None:
        async with redis_errors("register node"):
            await self._redis.set(self._node_key(node_id), url, px=max(int(ttl * 1000), 1))

    async def unregister_node(self, node_id: str) -> None:
        async with redis_errors("unregister node"):
            await self._redis.delete(self._node_key(node_id))

    async def node_url(self, node_id: str) -> str | None:
        async with redis_errors("read node address"):
            raw = await self._redis.get(self._node_key(node_id))
        return None if raw is None else _text(raw)

    # -- codec -----------------------------------------------------------------

    def _decode(self, raw: Any) -> SessionRecord | None:
        if not raw:
            return None
        flat = [_text(item) for item in raw]
        stored = dict(zip(flat[::2], flat[1::2], strict=True))
        ended_at = stored.get("_ended_at")
        if ended_at is not None and self._clock() - float(ended_at) > self._ttl:
            return None  # Redis drops it soon (PEXPIRE); on our clock it is gone already
        values = {name: json.loads(value) for name, value in stored.items() if name in _FIELDS}
        missing = [
            name
            for name, f in _FIELDS.items()
            if name not in values and f.default is MISSING and f.default_factory is MISSING
        ]
        if missing:
            return None  # a half-written or foreign hash is no session
        return SessionRecord(**values)


def _encode(record: SessionRecord, *, alive_only: bool = False) -> list[str]:
    """Field/value pairs of the record, each value JSON (HSET arguments)."""
    pairs: list[str] = []
    for name in _FIELDS:
        if alive_only and name == "ended_code":
            continue  # only `end` ends a session
        pairs += [name, json.dumps(getattr(record, name))]
    return pairs


def _live_field(record: SessionRecord) -> str:
    return f"{record.platform_id}:{record.user_id}"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _check_node_id(node_id: str) -> None:
    if not node_id or " " in node_id:
        raise ValueError(f"node_id must be non-empty without spaces, got {node_id!r}")
