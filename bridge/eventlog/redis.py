"""Event logs as Redis Streams: cluster mode's backend (DESIGN.md "Events", issue #6).

Any node can append to, serve and resume any session's log, so a stream opened
on node 1 and resumed on node 2 with ``Last-Event-ID`` misses nothing.

Layout (``prefix`` defaults to ``oimb:``):

- ``{prefix}ev:{session_id}``: the session's Stream. Entry ``<n>-0`` is event
  ``n`` (fields ``e`` event name, ``d`` JSON data, ``t`` append time, ``o``
  byte offset: the sizes of all earlier events of the stream), so the
  SSE id *is* the stream id: resuming after ``n`` is ``XRANGE (n+1)-0 +`` and a
  blocking wait is ``XREAD ... <n>-0``, with no lookup table.
- ``{prefix}evctl``: a short shared Stream of drops, so waiters on other nodes
  learn that a log was dropped (see ``_watcher.py``).
- ``{prefix}evkick:{instance}:{n}``: one tiny Stream per blocking reader of a
  node, to make it re-read its set of streams (``_watcher.py``); expires when
  unused.

Ids: an append is one Lua script (atomic on the Redis primary, whichever node
runs it): ``n = last-generated-id + 1``, then ``XADD <n>-0``. The stream's
``last-generated-id`` survives trimming, so ids keep growing after retention
empties the stream; XADD itself refuses an id that is not larger, so two nodes
can never hand out the same one. ``DEL`` (drop) restarts ids at 1, as the
contract says.

Retention: exact ``XTRIM MAXLEN max_events``, bytes and age. Bytes: the
retained events are those whose ``o`` is at least the stream's end offset
minus ``max_bytes`` (the newest always stays); ``o`` only grows along the
stream, so this too trims a prefix, found by the same head scan as age.
Entries without ``o`` (written before byte retention existed) are never
trimmed by bytes, only by count and age. Ages use the *caller's*
clock (``t`` is passed in, wall time by default so nodes agree to NTP
accuracy, injectable so tests move time by hand); ``t`` is kept non-decreasing
along the stream (a node whose clock lags stores the previous entry's ``t``), so
age trimming is always a prefix: scan from the head, ``XTRIM MINID`` up to
the first young entry. Like memory.py, age is applied at append *and* at read.
A stream with no append for ``idle_ttl`` seconds (default a week, at least
``max_age``) expires (Redis ``PEXPIRE``, server time), so a session nobody
ends cannot leak. Its last id outlives it in ``{prefix}ev:{session_id}:last``
(90 days, OpenIM's default token lifetime, after which the session cannot
live on anyway): a later append continues the numbering, so a client holding
a cursor from before the expiry gets ``reset``, never a wrong "nothing
missed". ``{prefix}ev:{session_id}:seq`` holds the delivery marks
(conversationID -> seq, see ``EventLog.append``), expiring with the stream.

Reads and appends are Lua scripts too (one round trip each; a read may trim
by age, so it is a write and goes to the primary). Blocking waits share a few
connections per node, see ``_watcher.py``.

Redis outages surface as :class:`~bridge.errors.BridgeError` 503 (``redis_client``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from importlib.resources import files
from typing import Any

from redis.asyncio import Redis

from bridge.redis_client import redis_errors

from ._watcher import StreamWatcher, entry_number, text
from .base import (
    DEFAULT_MAX_BYTES,
    DEFAULT_READ_LIMIT,
    Entry,
    EventLog,
    Fence,
    FencedOut,
    Mark,
    ReadResult,
    StoredEvent,
    check_limit,
    check_retention,
    read_or_wait,
)

__all__ = ["RedisEventLog"]

#: A log nobody appended to for this long is deleted (default ``idle_ttl``).
_IDLE_TTL = 7 * 24 * 3600.0
#: How long a log's last id is remembered after its last append (OpenIM's default token lifetime).
_LAST_ID_TTL = 90 * 24 * 3600.0


def _script(name: str, *, lib: bool = True) -> str:
    """A Lua script of lua/ (read once, at import; each says its KEYS and ARGV), after lua/lib.lua."""
    folder = files("bridge.eventlog") / "lua"
    script = (folder / f"{name}.lua").read_text()
    return (folder / "lib.lua").read_text() + script if lib else script


_APPEND, _MARK, _READ, _LAST_ID = (_script(n) for n in ("append", "mark", "read", "last_id"))
_DROP = _script("drop", lib=False)


class RedisEventLog(EventLog):
    """Per-session event logs in Redis Streams, shared by every bridge node.

    ``max_events`` / ``max_bytes`` / ``max_age`` bound each log as in memory.py; ``dropped``
    counts the events retention trimmed *on this node* (a cluster total is the
    sum over nodes in ``/metrics``). ``block``, ``streams_per_reader`` and
    ``max_readers`` size the blocking readers (``_watcher.py``): this node
    holds at most ``max_readers`` pooled connections for waiting.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "oimb:",
        max_events: int = 10000,
        max_age: float = 3600.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        idle_ttl: float | None = None,
        clock: Callable[[], float] = time.time,
        lease_key: Callable[[str], str] | None = None,
        block: float = 2.0,
        streams_per_reader: int = 256,
        max_readers: int = 8,
    ) -> None:
        check_retention(max_events, max_age, max_bytes)
        if idle_ttl is None:
            idle_ttl = max(_IDLE_TTL, max_age)
        if idle_ttl < max_age:
            raise ValueError(f"idle_ttl must be >= max_age ({max_age}), got {idle_ttl}")
        self.max_events = max_events
        self.max_age = max_age
        self.max_bytes = max_bytes
        self.prefix = prefix
        self.dropped = 0
        self._redis = redis
        self._clock = clock
        self._lease_key = lease_key
        self._idle_ttl_ms = int(idle_ttl * 1000)
        self._last_ttl_ms = int(max(_LAST_ID_TTL, idle_ttl) * 1000)
        self._append = redis.register_script(_APPEND)
        self._mark = redis.register_script(_MARK)
        self._read_script = redis.register_script(_READ)
        self._last_id = redis.register_script(_LAST_ID)
        self._drop = redis.register_script(_DROP)
        self._watcher = StreamWatcher(
            redis,
            prefix=prefix,
            block=block,
            streams_per_reader=streams_per_reader,
            max_readers=max_readers,
        )
        self._closed = False

    def key(self, session_id: str) -> str:
        """The Redis key of a session's stream."""
        return f"{self.prefix}ev:{session_id}"

    def last_key(self, session_id: str) -> str:
        """The Redis key remembering a session's last event id past the stream's expiry."""
        return f"{self.prefix}ev:{session_id}:last"

    def marks_key(self, session_id: str) -> str:
        """The Redis hash of a session's delivery marks (conversationID -> seq)."""
        return f"{self.prefix}ev:{session_id}:seq"

    @property
    def readers(self) -> int:
        """Connections this node currently holds for blocking reads."""
        return self._watcher.reader_count

    async def append(
        self,
        session_id: str,
        event: str,
        data: str,
        *,
        marks: Sequence[Mark] = (),
        fence: Fence | None = None,
    ) -> StoredEvent:
        return (await self.append_many(session_id, [(event, data, marks)], fence=fence))[0]

    async def append_many(
        self, session_id: str, events: Sequence[Entry], *, fence: Fence | None = None
    ) -> list[StoredEvent]:
        """One run of the append script for the whole batch: one round trip, and all or none.

        Neither a MULTI/EXEC nor a script is rolled back when a command in it fails, so the
        script checks the fence and every argument and stored value it relies on before its
        first write (lua/append.lua): a refused or failed batch leaves nothing behind, and
        its retry appends it exactly once.
        """
        if not events:
            return []
        now = self._clock()
        keys = [self.key(session_id), self.marks_key(session_id), self.last_key(session_id)]
        expected = ""
        if fence is not None:
            keys.append(self._fence_key(session_id))
            expected = f"{fence.fence} {fence.node_id}"
        args: list[str | int] = [repr(now), repr(now - self.max_age), self.max_events, self._idle_ttl_ms]
        args += [expected, self._last_ttl_ms, self.max_bytes]
        for event, data, marks in events:
            args += [event, data, len(marks)]
            for conv_id, seq in marks:
                args += [conv_id, seq]
        async with redis_errors("append event"):
            first, removed = await self._append(keys=keys, args=args)
        if int(first) < 0:
            raise FencedOut(f"session {session_id[:8]} is no longer owned by {fence}")
        self.dropped += int(removed)
        return [StoredEvent(int(first) + n, event, data) for n, (event, data, _) in enumerate(events)]

    async def mark(self, session_id: str, marks: Sequence[Mark], *, fence: Fence | None = None) -> None:
        keys = [self.marks_key(session_id)]
        args: list[str | int] = ["", self._idle_ttl_ms]
        if fence is not None:
            keys.append(self._fence_key(session_id))
            args[0] = f"{fence.fence} {fence.node_id}"
        for conv_id, seq in marks:
            args += [conv_id, seq]
        async with redis_errors("record delivery marks"):
            done = await self._mark(keys=keys, args=args)
        if int(done) < 0:
            raise FencedOut(f"session {session_id[:8]} is no longer owned by {fence}")

    def _fence_key(self, session_id: str) -> str:
        if self._lease_key is None:
            raise ValueError("a fenced write needs the lease_key the directory uses")
        return self._lease_key(session_id)

    async def delivered(self, session_id: str) -> dict[str, int]:
        async with redis_errors("read delivery marks"):
            raw = await self._redis.hgetall(self.marks_key(session_id))
        return {text(k): int(v) for k, v in raw.items()}

    async def read_after(self, session_id: str, after: int, limit: int = DEFAULT_READ_LIMIT) -> ReadResult:
        check_limit(limit)
        return await self._read(session_id, after, limit)

    # ASYNC109 (timeout parameter): the contract's own timeout, see base.py.
    async def wait_after(
        self,
        session_id: str,
        after: int,
        timeout: float,
        limit: int = DEFAULT_READ_LIMIT,
    ) -> ReadResult:
        check_limit(limit)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(timeout, 0.0)
        if timeout <= 0 or self._closed:
            return await self._read(session_id, after, limit)
        # Register before the first read (one read per wait, not two): in an SSE
        # loop the stream's watch is usually still there, so this costs no I/O.
        async with self._watcher.watch(self.key(session_id), after) as watch:
            return await read_or_wait(lambda _: self._read(session_id, after, limit), watch, deadline)

    async def last_id(self, session_id: str) -> int:
        async with redis_errors("read event log"):
            return int(await self._last_id(keys=[self.key(session_id), self.last_key(session_id)]))

    async def drop(self, session_id: str) -> None:
        key = self.key(session_id)
        async with redis_errors("drop event log"):
            await self._drop(
                keys=[key, self._watcher.control_key, self.marks_key(session_id), self.last_key(session_id)],
                args=[self._watcher.instance],
            )
        self._watcher.forget(key)

    async def aclose(self) -> None:
        self._closed = True
        await self._watcher.aclose()

    async def _read(self, session_id: str, after: int, limit: int) -> ReadResult:
        cutoff = self._clock() - self.max_age
        async with redis_errors("read event log"):
            removed, reset, entries = await self._read_script(
                keys=[self.key(session_id), self.last_key(session_id)], args=[after, limit, repr(cutoff)]
            )
        self.dropped += int(removed)
        return ReadResult([_stored(entry) for entry in entries], bool(reset))


def _stored(entry: Any) -> StoredEvent:
    entry_id, fields = entry
    values = {text(name): value for name, value in zip(fields[::2], fields[1::2], strict=True)}
    return StoredEvent(entry_number(entry_id), text(values["e"]), text(values["d"]))
