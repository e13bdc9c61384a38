"""Server-Sent Events framing and the per-connection stream producer.

Framing follows the WHATWG HTML "Server-sent events" section (9.2.6, "Parsing
an event stream"): fields are ``name: value`` lines, an empty line ends an
event, a line starting with ``:`` is a comment. The encoders are pure (bytes
out, exact-byte tests, like sse-starlette's ``event.py``); :func:`event_stream`
only talks to an :class:`~bridge.eventlog.EventLog`, so the HTTP layer just wraps it
in a ``StreamingResponse`` (DESIGN.md "Events").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncGenerator, Callable, Coroutine
from typing import Any

from .eventlog import EventLog, ReadResult, StoredEvent

__all__ = [
    "KEEPALIVE_COMMENT",
    "MAX_EVENT_ID",
    "RESET_EVENT",
    "SESSION_CLOSED_EVENT",
    "FrameCache",
    "encode_comment",
    "encode_event",
    "encode_retry",
    "event_stream",
    "parse_last_event_id",
    "wait_unless_stopped",
]

#: Sent when a cursor fell off the log: the client must re-fetch state.
RESET_EVENT = "reset"
#: The last event of a session's stream (logout, kick, token expiry).
SESSION_CLOSED_EVENT = "sessionClosed"
KEEPALIVE_COMMENT = "keep-alive"
#: Ids are stored as signed 64-bit integers (Redis, SQL BIGINT); a larger
#: cursor cannot be ours, and bounding it keeps ``int()`` cheap.
MAX_EVENT_ID = 2**63 - 1

# The spec's parser ends a line at CRLF, lone CR or lone LF (and nothing else:
# str.splitlines would also split on U+2028 and friends and corrupt the data).
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_DECIMAL = re.compile(r"[0-9]+")


def encode_event(ev: StoredEvent) -> bytes:
    """Frame one stored event; data with line breaks becomes several ``data:`` lines.

    The parser joins ``data:`` lines with LF, so the client sees the JSON back
    (with any CR/CRLF normalised to LF, which JSON does not care about).
    """
    if _LINE_BREAK.search(ev.event):
        # A line break in the name would let the rest inject fields.
        raise ValueError(f"event name must be one line: {ev.event!r}")
    data = "".join(f"data: {line}\n" for line in _LINE_BREAK.split(ev.data))
    return f"id: {ev.id}\nevent: {ev.event}\n{data}\n".encode()


class FrameCache:
    """The frames of a session's latest events, shared by its streams: an event is encoded
    once however many streams send it (issue 14). Log events only (an id names one event of
    the session, which never changes); the last `size` are kept, as streams of one session
    read the same batches."""

    __slots__ = ("_frames", "_size", "encoded")

    def __init__(self, size: int = 16) -> None:
        self._frames: dict[int, bytes] = {}
        self._size = size
        self.encoded = 0  # events encoded (tests; the rest were shared)

    def frame(self, ev: StoredEvent) -> bytes:
        got = self._frames.get(ev.id)
        if got is None:
            got = self._frames[ev.id] = encode_event(ev)
            self.encoded += 1
            if len(self._frames) > self._size:
                del self._frames[next(iter(self._frames))]
        return got


def encode_comment(text: str) -> bytes:
    """Frame a comment (``: text``); clients ignore it, proxies see traffic."""
    return "".join(f": {line}\n" for line in _LINE_BREAK.split(text)).encode() + b"\n"


def encode_retry(ms: int) -> bytes:
    """Frame the reconnection delay the client's EventSource should use."""
    if ms < 0:
        raise ValueError(f"retry must be >= 0 ms, got {ms}")
    return f"retry: {ms}\n\n".encode()


def parse_last_event_id(header: str | None, query: str | None) -> int | None:
    """Read the resume cursor: ``Last-Event-ID`` header, else ``lastEventId`` query.

    The header wins because EventSource sets it itself on reconnect, while the
    query value is the one the page was first opened with. Empty counts as
    absent: EventSource omits the header when its last event id is empty
    (WHATWG 9.2.4). Anything but a plain non-negative decimal integer raises
    ``ValueError`` naming the value, for the HTTP layer to answer 400 with.
    """
    for source, value in (("Last-Event-ID header", header), ("lastEventId query parameter", query)):
        if not value:
            continue
        if _DECIMAL.fullmatch(value) is None or len(value) > len(str(MAX_EVENT_ID)):
            raise ValueError(f"invalid {source} {_shorten(value)}: expected a non-negative integer")
        cursor = int(value)
        if cursor > MAX_EVENT_ID:
            raise ValueError(f"invalid {source} {_shorten(value)}: larger than {MAX_EVENT_ID}")
        return cursor
    return None


async def event_stream(
    log: EventLog,
    session_id: str,
    after: int | None,
    *,
    keepalive: float = 15.0,
    retry_ms: int = 3000,
    is_closed: Callable[[], bool],
    stop: asyncio.Event | None = None,
    frames: Callable[[], FrameCache | None] | None = None,
    coalesce: bool = False,
) -> AsyncGenerator[bytes, None]:
    """Yield the SSE bytes of one connection to a session's events.

    ``after`` None starts at the log's current end (only new events); a cursor
    replays everything after it. If the cursor fell off the log, a ``reset``
    event (whose id is the last id the client can no longer get, so a
    reconnect resumes from what is retained) comes first. A keep-alive comment
    goes out whenever ``keepalive`` seconds pass without a frame, so proxies do
    not cut an idle stream. Ends after ``sessionClosed``, or once
    ``is_closed()`` and nothing is left to send; closing is noticed at the
    next append, :meth:`EventLog.drop` or keep-alive tick.

    ``stop`` (the node is draining) ends the stream at once, without
    ``sessionClosed``: the client reconnects with its last id, on another node.
    ``frames`` gives the session's :class:`FrameCache` while it has several streams.
    ``coalesce`` yields the frames of one read as one chunk: one write through the ASGI
    stack and the socket per wake instead of one per event (issue 14: a delivered message
    is three events, OnRecvNewMessage and its conversation's two, read at once).

    Cancellation-safe: every wait is an ``await`` on the log (raced against
    ``stop`` when given), so cancelling the consumer or closing the generator
    ends it cleanly.
    Typed as an ``AsyncGenerator`` (an ``AsyncIterator`` that also has
    ``aclose()``) so a consumer can close it deterministically.
    """
    if keepalive <= 0:
        raise ValueError(f"keepalive must be > 0 s, got {keepalive}")
    loop = asyncio.get_running_loop()
    # Fix the starting point before the first frame goes out, so an event
    # appended after the client saw ``retry:`` is delivered.
    cursor = await log.last_id(session_id) if after is None else after
    yield encode_retry(retry_ms)
    quiet_until = loop.time() + keepalive
    guard = _StopGuard(stop)
    try:
        while True:
            if is_closed():
                result = await log.read_after(session_id, cursor)
                if not result.events:
                    return
            else:
                waited = await guard.wait(log.wait_after(session_id, cursor, max(quiet_until - loop.time(), 0.0)))
                if waited is None:
                    return
                result = waited
            if result.reset:
                boundary = await _reset_boundary(log, session_id, result.events)
                reason = "expired" if cursor < boundary else "unknown"
                data = json.dumps({"reason": reason, "lastEventId": cursor})
                yield encode_event(StoredEvent(boundary, RESET_EVENT, data))
                cursor = boundary
                quiet_until = loop.time() + keepalive
            shared = frames() if frames is not None else None
            if coalesce and len(result.events) > 1:
                batch, ended = _frames(result.events, shared)
                yield batch
                if ended:
                    return
                cursor = result.events[-1].id
            else:
                for ev in result.events:
                    yield shared.frame(ev) if shared is not None else encode_event(ev)
                    cursor = ev.id
                    if ev.event == SESSION_CLOSED_EVENT:
                        return
            if result.events:
                quiet_until = loop.time() + keepalive
            elif not result.reset and loop.time() >= quiet_until:
                if is_closed():
                    return
                yield encode_comment(KEEPALIVE_COMMENT)
                quiet_until = loop.time() + keepalive
    finally:
        guard.close()


def _frames(events: list[StoredEvent], shared: FrameCache | None) -> tuple[bytes, bool]:
    """The frames of `events` as one chunk, up to and with a ``sessionClosed``; True if it came."""
    out = []
    for ev in events:
        out.append(shared.frame(ev) if shared is not None else encode_event(ev))
        if ev.event == SESSION_CLOSED_EVENT:
            return b"".join(out), True
    return b"".join(out), False


class _StopGuard:
    """Ends a stream's waits when ``stop`` is set, with one watcher per stream.

    Racing every wait against ``stop`` took two tasks and an ``asyncio.wait``
    per wake (issue 14: 19% of SSE CPU). Instead one task per stream waits on
    ``stop`` and, if it fires while the stream waits, cancels the stream's
    task; that cancellation is taken back (``uncancel``) and the wait answers
    None. A cancellation from anyone else still propagates.
    """

    __slots__ = ("_fired", "_stop", "_task", "_waiting", "_watcher")

    def __init__(self, stop: asyncio.Event | None) -> None:
        self._stop = stop
        self._task: asyncio.Task[Any] | None = None
        self._watcher: asyncio.Future[Any] | None = None
        self._waiting = self._fired = False

    async def wait(self, wait: Coroutine[Any, Any, ReadResult]) -> ReadResult | None:
        self._task = asyncio.current_task()  # whoever iterates the stream now
        if self._stop is None or self._task is None:
            return await wait
        if self._stop.is_set():
            wait.close()
            return None
        if self._watcher is None:
            self._watcher = asyncio.ensure_future(self._stop.wait())
            self._watcher.add_done_callback(self._stopped)
        self._waiting = True
        try:
            return await wait
        except asyncio.CancelledError:
            if self._fired and self._task.uncancel() == 0:
                return None
            raise
        finally:
            self._waiting = False

    def _stopped(self, _: asyncio.Future[Any]) -> None:
        if self._waiting and not self._fired and self._task is not None:
            self._fired = True
            self._task.cancel()

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.remove_done_callback(self._stopped)
            self._watcher.cancel()


async def wait_unless_stopped(wait: Coroutine[Any, Any, ReadResult], stop: asyncio.Event | None) -> ReadResult | None:
    """``await wait``, or None as soon as ``stop`` is set (the wait is cancelled)."""
    if stop is None:
        return await wait
    if stop.is_set():
        wait.close()
        return None
    read = asyncio.ensure_future(wait)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait((read, stopped), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (read, stopped):
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    if read.done() and not read.cancelled():
        return read.result()
    return None


async def _reset_boundary(log: EventLog, session_id: str, events: list[StoredEvent]) -> int:
    """The id just before the oldest retained event: where a reset client resumes.

    With no events in hand, read the log's end first and then look for a
    retained event: anything appended in between is then seen as retained, so
    the boundary never skips it, even on a backend whose calls are not atomic.
    """
    if events:
        return events[0].id - 1
    end = await log.last_id(session_id)
    oldest = await log.read_after(session_id, 0, limit=1)
    return oldest.events[0].id - 1 if oldest.events else end


def _shorten(value: str, limit: int = 40) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "...")
