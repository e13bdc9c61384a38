"""Blocking reads of many Redis Streams on a few connections, shared per node.

Why not one ``XREAD BLOCK`` per waiter: a blocked XREAD holds its connection
until it returns, so every open SSE stream and long-poll would hold a Redis
connection of its own; a node with 10,000 streams would need 10,000. Here a
node runs a few *readers*. Each owns one connection (checked out of the shared
pool for its lifetime) and blocks in a single ``XREAD COUNT 1 BLOCK ms STREAMS
k1 .. kn`` over up to ``streams_per_reader`` streams; when any of them gets an
entry it wakes that stream's local waiters, which then read what they need
through the pool. So connections held for waiting = number of readers
<= ``max_readers``, however many waiters there are; past
``streams_per_reader * max_readers`` watched streams, readers take more
streams each (each XREAD costs Redis O(streams it names), which is why the
load is spread rather than capped).

One :class:`Watch` per watched stream per node, shared by all its waiters.
Its ``cursor`` is where the next XREAD on the stream starts. The rule that
keeps wake-ups from being lost: every waiter parked on a watch has read at
least up to ``cursor``, or has a wake-up pending. So a new watch starts at its
first waiter's cursor (an entry appended between that waiter's read and the
XREAD that names the stream is still returned), joining a watch never moves
its cursor, and a cursor moves only when the reader wakes the watch: XREAD
returns the first new entry (COUNT 1, so a burst is not shipped to every
node), the reader looks up the stream's tail and sets the cursor there
*before* waking, so whoever parks after the wake-up has read past it; a burst
costs one round trip, not one per entry.

A reader blocked in XREAD does not see a stream added meanwhile, so adding
one *kicks* it: an entry on the reader's own kick stream, which every XREAD of
that reader also names, ends the XREAD and the reader re-arms with the current
set. A kick is an entry, so it cannot be lost the way a ``CLIENT UNBLOCK``
sent between two XREADs is (and it needs no CLIENT commands, which managed
Redis services may not allow). To keep kicks rare, a watch whose last waiter
left lingers for two more re-arms of its reader: an SSE loop that reads and
waits again finds it still there and needs no kick, even while events arrive
fast (each of which re-arms the reader).

Drops: :meth:`StreamWatcher.forget` wakes a dropped stream's waiters here;
another node's drop arrives as an entry on the shared *control stream*, which
the first reader always includes, tagged with the dropping watcher's id so a
node ignores its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from redis.typing import KeyT, StreamIdT

from bridge.redis_client import OPERATION_TIMEOUT

__all__ = ["StreamWatcher", "Watch", "entry_number", "text"]

log = logging.getLogger("openim.bridge.eventlog")

_BACKOFF_MIN, _BACKOFF_MAX = 0.05, 2.0  # reconnect backoff of a reader after an outage
_KICK_TTL_MS = 60_000  # a dead node's kick streams go away by themselves


def text(value: Any) -> str:
    """A Redis reply item as text, whether or not the client decodes responses."""
    return value.decode() if isinstance(value, bytes) else str(value)


def entry_number(entry_id: Any) -> int:
    """Our event id from a stream entry id ``<id>-0``."""
    return int(text(entry_id).partition("-")[0])


class Watch:
    """One watched stream on this node and the wake-up its waiters share.

    ``wakeup`` is replaced at every wake (a "generation"), so everyone waiting
    at that moment wakes and later waiters wait for the next one; ``gone``
    means the stream was dropped (or the log closed): its waiters return.
    """

    __slots__ = ("cursor", "gone", "idle", "key", "reader", "waiters", "wakeup")

    def __init__(self, key: str, cursor: int, reader: _Reader | None) -> None:
        self.key = key
        self.cursor = cursor
        self.reader = reader
        self.waiters = 0
        self.idle = False  # had no waiter when its reader last re-armed
        self.gone = False
        self.wakeup = asyncio.Event()

    def wake(self) -> None:
        self.wakeup.set()
        self.wakeup = asyncio.Event()


class _Reader:
    """One connection, one task, one blocking XREAD over a set of streams."""

    def __init__(self, redis: Redis, owner: StreamWatcher, kick_key: str, *, control: bool) -> None:
        self._pool_client = redis
        self._conn = redis.client()  # holds one pooled connection for its lifetime
        self._owner = owner
        self._kick_key = kick_key
        self._kick_cursor = "0-0"  # the key is new: its own instance id is in it
        self._control = control  # does this reader also follow the drop stream?
        self.watches: dict[str, Watch] = {}
        self._version = 0  # bumped when a stream is added
        self._armed = -1  # the version the current XREAD was built from
        self._armed_changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._kicker: asyncio.Task[None] | None = None

    def add(self, watch: Watch) -> None:
        self.watches[watch.key] = watch
        self._version += 1
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="eventlog-reader")
        if self._kicker is None or self._kicker.done():
            self._kicker = asyncio.create_task(self._kick(), name="eventlog-reader-kick")

    def remove(self, watch: Watch) -> None:
        if self.watches.get(watch.key) is watch:
            del self.watches[watch.key]

    async def aclose(self) -> None:
        for task in (self._kicker, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        with contextlib.suppress(RedisError, TimeoutError):
            async with asyncio.timeout(OPERATION_TIMEOUT):
                await self._pool_client.delete(self._kick_key)
        # A connection cancelled mid-read cannot be reused; aclose disconnects it.
        with contextlib.suppress(RedisError, OSError):
            await self._conn.aclose()

    async def _kick(self) -> None:
        """Make the reader re-arm until its XREAD names every stream added so far."""
        while self._armed < self._version:
            target, armed_changed = self._version, self._armed_changed
            try:
                async with asyncio.timeout(OPERATION_TIMEOUT):
                    pipe = self._pool_client.pipeline(transaction=False)
                    pipe.xadd(self._kick_key, {"k": "1"}, maxlen=16, approximate=True)
                    pipe.pexpire(self._kick_key, _KICK_TTL_MS)
                    await pipe.execute()
            except (RedisError, TimeoutError):
                pass  # an outage: the reader fails too, and re-arms with everything when back
            while self._armed < target:
                await armed_changed.wait()
                armed_changed = self._armed_changed

    def _arm(self) -> dict[KeyT, StreamIdT]:
        for key, watch in list(self.watches.items()):
            if watch.waiters:
                watch.idle = False
            elif not watch.idle:
                watch.idle = True  # lingers one more round, for a waiter coming back
            else:
                del self.watches[key]
                self._owner.discard(watch)
        streams: dict[KeyT, StreamIdT] = {key: f"{w.cursor}-0" for key, w in self.watches.items()}
        streams[self._kick_key] = self._kick_cursor
        if self._control:
            streams[self._owner.control_key] = self._owner.control_cursor
        self._armed = self._version
        self._armed_changed.set()
        self._armed_changed = asyncio.Event()
        return streams

    async def _run(self) -> None:
        backoff = _BACKOFF_MIN
        while True:
            try:
                if self._control and self._owner.control_cursor == "$":
                    async with asyncio.timeout(OPERATION_TIMEOUT):
                        self._owner.control_cursor = await self._owner.control_tail(self._conn)
                streams = self._arm()
                # The pool has no socket timeout (redis_client.py): bound the read here,
                # so a connection that died silently is noticed and replaced.
                async with asyncio.timeout(self._owner.block_ms / 1000 + OPERATION_TIMEOUT):
                    reply = await self._conn.xread(streams, count=1, block=self._owner.block_ms)
                new = self._new_entries(reply)
                if new:
                    async with asyncio.timeout(OPERATION_TIMEOUT):
                        await self._wake(new)
            except Exception as exc:
                if isinstance(exc, RedisError | TimeoutError):
                    log.warning("event stream reader: %s: %s; retrying in %.2fs", type(exc).__name__, exc, backoff)
                else:
                    log.exception("event stream reader failed; retrying in %.2fs", backoff)
                # Let waiters re-read now: if Redis is down they fail fast (503)
                # instead of sitting out their timeout.
                for watch in list(self.watches.values()):
                    watch.wake()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)
                continue
            backoff = _BACKOFF_MIN

    def _new_entries(self, reply: Any) -> dict[str, int]:
        """Note kicks, hand drop notices on; return ``{stream key: first new id}`` for ours."""
        new: dict[str, int] = {}
        items = reply.items() if isinstance(reply, dict) else reply or []
        for raw_key, entries in items:
            key = text(raw_key)
            if not entries:
                continue
            if key == self._kick_key:
                self._kick_cursor = text(entries[-1][0])
            elif key == self._owner.control_key:
                for entry_id, fields in entries:
                    self._owner.control_cursor = text(entry_id)
                    self._owner.on_control(fields)
            elif key in self.watches:
                new[key] = entry_number(entries[-1][0])
        return new

    async def _wake(self, new: dict[str, int]) -> None:
        """Move the cursors of streams with new entries to their tails, then wake their waiters."""
        pipe = self._pool_client.pipeline(transaction=False)
        for key in new:
            pipe.xrevrange(key, count=1)
        tails = await pipe.execute()
        for (key, first), tail in zip(new.items(), tails, strict=True):
            watch = self.watches.get(key)
            if watch is not None:
                watch.cursor = max(watch.cursor, first, entry_number(tail[0][0]) if tail else 0)
                watch.wake()


class StreamWatcher:
    """This node's readers, and the registry of which streams are being waited on.

    ``block`` (seconds) is how long one XREAD blocks when nothing happens: it
    only sets how often an idle reader asks Redis again (a wake-up never waits
    for it: appends end the XREAD, new streams kick it).
    """

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str,
        block: float = 2.0,
        streams_per_reader: int = 256,
        max_readers: int = 8,
    ) -> None:
        if streams_per_reader < 1 or max_readers < 1:
            raise ValueError("streams_per_reader and max_readers must be >= 1")
        self._redis = redis
        self._prefix = prefix
        self.control_key = f"{prefix}evctl"
        self.control_cursor = "$"  # resolved to the control stream's tail by the first reader
        self.block_ms = max(int(block * 1000), 1)
        self.instance = secrets.token_hex(8)  # names our kick streams, tags our drops
        self._per_reader = streams_per_reader
        self._max_readers = max_readers
        self._readers: list[_Reader] = []
        self._watches: dict[str, Watch] = {}
        self._closed = False

    @property
    def reader_count(self) -> int:
        return len(self._readers)

    @property
    def waiting(self) -> int:
        """How many waiters are parked here, over all streams."""
        return sum(w.waiters for w in self._watches.values())

    @contextlib.asynccontextmanager
    async def watch(self, key: str, after: int) -> AsyncIterator[Watch]:
        """Register a waiter on ``key`` that has read up to ``after``; yield its watch.

        Joining an existing watch leaves its cursor alone: moving it up to
        ``after`` could skip entries another parked waiter has not been woken for.
        """
        watch = self._watches.get(key)
        if self._closed:
            watch = Watch(key, after, None)
            watch.gone = True
        elif watch is None:
            reader = self._pick_reader()
            watch = self._watches[key] = Watch(key, after, reader)
            reader.add(watch)
        watch.waiters += 1
        try:
            yield watch
        finally:
            watch.waiters -= 1  # at 0 it lingers; its reader discards it later (_arm)

    def discard(self, watch: Watch) -> None:
        """A reader let a watch without waiters go."""
        if self._watches.get(watch.key) is watch:
            del self._watches[watch.key]

    def forget(self, key: str) -> None:
        """The stream was dropped: wake its waiters for good; a new waiter starts afresh."""
        watch = self._watches.pop(key, None)
        if watch is not None:
            if watch.reader is not None:
                watch.reader.remove(watch)
            watch.gone = True
            watch.wake()

    def on_control(self, fields: Any) -> None:
        values = dict(zip(fields[::2], fields[1::2], strict=True)) if isinstance(fields, list) else fields
        decoded = {text(k): text(v) for k, v in values.items()}
        if decoded.get("by") != self.instance and "key" in decoded:
            self.forget(decoded["key"])

    async def control_tail(self, conn: Redis) -> str:
        newest = await conn.xrevrange(self.control_key, count=1)
        return text(newest[0][0]) if newest else "0-0"

    async def aclose(self) -> None:
        self._closed = True
        watches, self._watches = self._watches, {}
        for watch in watches.values():
            watch.gone = True
            watch.wake()
        readers, self._readers = self._readers, []
        for reader in readers:
            await reader.aclose()

    def _pick_reader(self) -> _Reader:
        for reader in self._readers:
            if len(reader.watches) < self._per_reader:
                return reader
        if len(self._readers) < self._max_readers:
            kick_key = f"{self._prefix}evkick:{self.instance}:{len(self._readers)}"
            reader = _Reader(self._redis, self, kick_key, control=not self._readers)
            self._readers.append(reader)
            return reader
        return min(self._readers, key=lambda r: len(r.watches))
