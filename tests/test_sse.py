"""Exact-byte tests of SSE framing, and the behaviour of one event stream.

The stream runs against the memory event log; every wait is a deadline on the
stream's own next frame, never a sleep (STYLE.md).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from bridge.eventlog import EventLog, MemoryEventLog, StoredEvent
from bridge.sse import (
    MAX_EVENT_ID,
    FrameCache,
    encode_comment,
    encode_event,
    encode_retry,
    event_stream,
    parse_last_event_id,
)

DEADLINE = 2.0
RETRY = b"retry: 3000\n\n"
KEEPALIVE = b": keep-alive\n\n"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Closed:
    """The ``is_closed`` callable the session pool would pass."""

    def __init__(self) -> None:
        self.closed = False

    def __call__(self) -> bool:
        return self.closed


@pytest.fixture
async def log() -> AsyncIterator[MemoryEventLog]:
    log = MemoryEventLog()
    yield log
    await log.aclose()


async def next_frame(stream: AsyncIterator[bytes]) -> bytes:
    return await asyncio.wait_for(anext(stream), DEADLINE)


async def assert_ends(stream: AsyncIterator[bytes]) -> None:
    with pytest.raises(StopAsyncIteration):
        await next_frame(stream)


async def parked_pull(stream: AsyncIterator[bytes]) -> asyncio.Task[bytes]:
    """Ask for the next frame in a task, and return once that task is blocked.

    ``started`` is set just before ``anext``; the task runs on into the log's
    wait until it suspends, and only then does this coroutine resume.
    """
    started = asyncio.Event()

    async def pull() -> bytes:
        started.set()
        return await anext(stream)

    task = asyncio.create_task(pull())
    await asyncio.wait_for(started.wait(), DEADLINE)
    return task


async def fill(log: EventLog, session: str, count: int) -> list[StoredEvent]:
    return [await log.append(session, "OnTest", f'{{"n": {n}}}') for n in range(count)]


# --- encoders ----------------------------------------------------------------


def test_encode_event_exact_bytes() -> None:
    ev = StoredEvent(7, "OnFriendAdded", '{"listener": "friend", "data": {"userID": "u1"}}')
    assert encode_event(ev) == (
        b'id: 7\nevent: OnFriendAdded\ndata: {"listener": "friend", "data": {"userID": "u1"}}\n\n'
    )


@pytest.mark.parametrize(
    ("data", "lines"),
    [
        ("", b"data: \n"),
        ("a\nb", b"data: a\ndata: b\n"),
        ("a\r\nb\rc", b"data: a\ndata: b\ndata: c\n"),
        ("a\n", b"data: a\ndata: \n"),  # the parser drops only the final LF: "a\n" survives
        (" lead", b"data:  lead\n"),  # the parser strips one space: the value keeps its own
        ("x\u2028y", "data: x\u2028y\n".encode()),  # not a line break in SSE
    ],
)
def test_encode_event_splits_data_on_sse_line_breaks(data: str, lines: bytes) -> None:
    assert encode_event(StoredEvent(1, "e", data)) == b"id: 1\nevent: e\n" + lines + b"\n"


def test_encode_event_is_utf8() -> None:
    assert encode_event(StoredEvent(1, "e", '"héllo 你好"')) == 'id: 1\nevent: e\ndata: "héllo 你好"\n\n'.encode()


@pytest.mark.parametrize("name", ["a\nb", "a\rb", "x\r\n"])
def test_encode_event_refuses_multiline_name(name: str) -> None:
    with pytest.raises(ValueError, match="one line"):
        encode_event(StoredEvent(1, name, "{}"))


def test_encode_comment() -> None:
    assert encode_comment("keep-alive") == b": keep-alive\n\n"
    assert encode_comment("a\nb") == b": a\n: b\n\n"


def test_encode_retry() -> None:
    assert encode_retry(3000) == b"retry: 3000\n\n"
    assert encode_retry(0) == b"retry: 0\n\n"
    with pytest.raises(ValueError, match="-1"):
        encode_retry(-1)


# --- Last-Event-ID -----------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "query", "expected"),
    [
        (None, None, None),
        ("", None, None),
        (None, "", None),
        ("0", None, 0),
        ("12", None, 12),
        (None, "12", 12),
        ("007", None, 7),
        ("3", "9", 3),  # header wins: EventSource sets it on reconnect
        ("", "9", 9),  # an empty header is no header
        (str(MAX_EVENT_ID), None, MAX_EVENT_ID),
    ],
)
def test_parse_last_event_id(header: str | None, query: str | None, expected: int | None) -> None:
    assert parse_last_event_id(header, query) == expected


@pytest.mark.parametrize(
    "bad",
    ["-1", "abc", "1.5", "+1", " 1", "1_000", "1e3", "\u0661", "0x10", str(MAX_EVENT_ID + 1), "9" * 5000],
)
def test_parse_last_event_id_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="Last-Event-ID header") as header_error:
        parse_last_event_id(bad, None)
    assert repr(bad[:40]) in str(header_error.value) or repr(bad[:40] + "...") in str(header_error.value)
    with pytest.raises(ValueError, match="lastEventId query parameter"):
        parse_last_event_id(None, bad)


def test_parse_last_event_id_bad_header_is_not_rescued_by_query() -> None:
    with pytest.raises(ValueError, match="'abc'"):
        parse_last_event_id("abc", "5")


# --- event_stream ------------------------------------------------------------


async def test_new_stream_sends_retry_then_only_new_events(log: MemoryEventLog) -> None:
    await fill(log, "s", 3)
    stream = event_stream(log, "s", None, is_closed=Closed())
    assert await next_frame(stream) == RETRY
    ev = await log.append("s", "OnRecvNewMessage", '{"x": 1}')
    assert await next_frame(stream) == b'id: 4\nevent: OnRecvNewMessage\ndata: {"x": 1}\n\n'
    assert ev.id == 4
    await stream.aclose()


async def test_retry_value_is_configurable(log: MemoryEventLog) -> None:
    stream = event_stream(log, "s", None, retry_ms=500, is_closed=Closed())
    assert await next_frame(stream) == b"retry: 500\n\n"
    await stream.aclose()


async def test_resume_replays_exactly_the_missed_events(log: MemoryEventLog) -> None:
    stored = await fill(log, "s", 5)
    stream = event_stream(log, "s", 2, keepalive=60, is_closed=Closed())
    frames = [await next_frame(stream) for _ in range(4)]
    assert frames == [RETRY, *map(encode_event, stored[2:])]
    live = await log.append("s", "OnTest", "{}")
    assert await next_frame(stream) == encode_event(live)
    await stream.aclose()


async def test_resume_drains_a_backlog_larger_than_one_read(log: MemoryEventLog) -> None:
    stored = await fill(log, "s", 2500)
    closed = Closed()
    closed.closed = True  # send what is left, then end
    frames = [f async for f in event_stream(log, "s", 10, is_closed=closed)]
    assert frames == [RETRY, *map(encode_event, stored[10:])]


async def test_resume_at_the_end_waits_for_new_events(log: MemoryEventLog) -> None:
    await fill(log, "s", 3)
    stream = event_stream(log, "s", 3, keepalive=60, is_closed=Closed())
    assert await next_frame(stream) == RETRY
    pending = await parked_pull(stream)
    assert not pending.done()
    ev = await log.append("s", "OnTest", "{}")
    assert await asyncio.wait_for(pending, DEADLINE) == encode_event(ev)
    await stream.aclose()


async def test_log_dropped_under_a_live_stream_starts_a_new_history(log: MemoryEventLog) -> None:
    await fill(log, "s", 3)
    stream = event_stream(log, "s", None, keepalive=60, is_closed=Closed())
    assert await next_frame(stream) == RETRY
    pending = await parked_pull(stream)
    await log.drop("s")  # not closed: the stream goes on, with the old cursor unknown
    assert await asyncio.wait_for(pending, DEADLINE) == (
        b'id: 0\nevent: reset\ndata: {"reason": "unknown", "lastEventId": 3}\n\n'
    )
    ev = await log.append("s", "OnTest", "{}")
    assert ev.id == 1
    assert await next_frame(stream) == encode_event(ev)
    await stream.aclose()


async def test_reset_when_cursor_is_older_than_retention() -> None:
    log = MemoryEventLog(max_events=3)
    stored = await fill(log, "s", 5)  # 1, 2 dropped
    stream = event_stream(log, "s", 1, keepalive=60, is_closed=Closed())
    assert await next_frame(stream) == RETRY
    assert await next_frame(stream) == b'id: 2\nevent: reset\ndata: {"reason": "expired", "lastEventId": 1}\n\n'
    assert [await next_frame(stream) for _ in range(3)] == list(map(encode_event, stored[2:]))
    await stream.aclose()


async def test_no_reset_when_cursor_is_exactly_at_the_boundary() -> None:
    log = MemoryEventLog(max_events=3)
    stored = await fill(log, "s", 5)
    stream = event_stream(log, "s", 2, keepalive=60, is_closed=Closed())
    assert [await next_frame(stream) for _ in range(4)] == [RETRY, *map(encode_event, stored[2:])]
    await stream.aclose()


async def test_reset_when_everything_aged_out() -> None:
    clock = FakeClock()
    log = MemoryEventLog(max_age=10, clock=clock)
    await fill(log, "s", 4)
    clock.now += 11
    stream = event_stream(log, "s", 1, keepalive=60, is_closed=Closed())
    assert await next_frame(stream) == RETRY
    # Resume point is the log's end: a reconnect with id 4 is then up to date.
    assert await next_frame(stream) == b'id: 4\nevent: reset\ndata: {"reason": "expired", "lastEventId": 1}\n\n'
    ev = await log.append("s", "OnTest", "{}")
    assert await next_frame(stream) == encode_event(ev)
    await stream.aclose()


async def test_reset_mid_stream_when_the_reader_falls_behind() -> None:
    log = MemoryEventLog(max_events=3)
    stream = event_stream(log, "s", None, keepalive=60, is_closed=Closed())
    assert await next_frame(stream) == RETRY
    stored = await fill(log, "s", 5)  # before the stream reads again
    assert await next_frame(stream) == b'id: 2\nevent: reset\ndata: {"reason": "expired", "lastEventId": 0}\n\n'
    assert [await next_frame(stream) for _ in range(3)] == list(map(encode_event, stored[2:]))
    await stream.aclose()


async def test_reset_when_cursor_is_from_a_lost_history(log: MemoryEventLog) -> None:
    stored = await fill(log, "s", 2)
    stream = event_stream(log, "s", 50, keepalive=60, is_closed=Closed())
    assert await next_frame(stream) == RETRY
    reset = await next_frame(stream)
    assert reset == b'id: 0\nevent: reset\ndata: {"reason": "unknown", "lastEventId": 50}\n\n'
    assert [await next_frame(stream) for _ in range(2)] == list(map(encode_event, stored))
    await stream.aclose()


async def test_reset_data_is_json() -> None:
    log = MemoryEventLog(max_events=1)
    await fill(log, "s", 3)
    stream = event_stream(log, "s", 0, is_closed=Closed())
    await next_frame(stream)
    data_line = (await next_frame(stream)).split(b"\n")[2]
    assert json.loads(data_line.removeprefix(b"data: ")) == {"reason": "expired", "lastEventId": 0}
    await stream.aclose()


async def test_keepalive_when_quiet(log: MemoryEventLog) -> None:
    stream = event_stream(log, "s", None, keepalive=0.05, is_closed=Closed())
    assert await next_frame(stream) == RETRY
    assert await next_frame(stream) == KEEPALIVE
    assert await next_frame(stream) == KEEPALIVE
    ev = await log.append("s", "OnTest", "{}")
    assert await next_frame(stream) == encode_event(ev)
    await stream.aclose()


async def test_keepalive_must_be_positive(log: MemoryEventLog) -> None:
    with pytest.raises(ValueError, match="keepalive"):
        await next_frame(event_stream(log, "s", None, keepalive=0, is_closed=Closed()))


async def test_stops_after_session_closed(log: MemoryEventLog) -> None:
    first = await log.append("s", "OnTest", "{}")
    closing = await log.append("s", "sessionClosed", '{"reason": "logout"}')
    await log.append("s", "OnTest", "{}")  # never sent: the session is over
    stream = event_stream(log, "s", 0, is_closed=Closed())
    assert [await next_frame(stream) for _ in range(3)] == [RETRY, encode_event(first), encode_event(closing)]
    await assert_ends(stream)


async def test_stops_when_closed_and_log_dropped(log: MemoryEventLog) -> None:
    closed = Closed()
    stream = event_stream(log, "s", None, keepalive=60, is_closed=closed)
    assert await next_frame(stream) == RETRY
    ending = asyncio.create_task(assert_ends(stream))
    closed.closed = True
    await log.drop("s")  # wakes the stream long before its keep-alive tick
    await asyncio.wait_for(ending, DEADLINE)


async def test_stops_when_closed_at_the_next_tick(log: MemoryEventLog) -> None:
    closed = Closed()
    stream = event_stream(log, "s", None, keepalive=0.05, is_closed=closed)
    assert await next_frame(stream) == RETRY
    closed.closed = True
    await assert_ends(stream)


async def test_closed_stream_still_sends_what_is_left(log: MemoryEventLog) -> None:
    closed = Closed()
    closed.closed = True
    stored = await fill(log, "s", 2)
    frames = [f async for f in event_stream(log, "s", 0, is_closed=closed)]
    assert frames == [RETRY, *map(encode_event, stored)]


async def test_streams_fan_out(log: MemoryEventLog) -> None:
    streams = [event_stream(log, "s", None, keepalive=60, is_closed=Closed()) for _ in range(3)]
    for stream in streams:
        assert await next_frame(stream) == RETRY
    stored = await fill(log, "s", 3)
    for stream in streams:
        assert [await next_frame(stream) for _ in range(3)] == list(map(encode_event, stored))
        await stream.aclose()


async def test_streams_of_a_session_share_each_frame(log: MemoryEventLog) -> None:
    frames = FrameCache(size=8)
    streams = [event_stream(log, "s", None, keepalive=60, is_closed=Closed(), frames=lambda: frames) for _ in range(3)]
    for stream in streams:
        assert await next_frame(stream) == RETRY
    stored = await fill(log, "s", 6)
    for stream in streams:
        assert [await next_frame(stream) for _ in range(6)] == list(map(encode_event, stored))
        await stream.aclose()
    assert frames.encoded == 6, "each event encoded once for the three streams"


def test_frame_cache_keeps_the_latest_frames_only() -> None:
    frames = FrameCache(size=2)
    events = [StoredEvent(i, "OnTest", f'{{"n": {i}}}') for i in (1, 2, 3)]
    assert [frames.frame(ev) for ev in events] == list(map(encode_event, events))
    assert frames.frame(events[2]) == encode_event(events[2]) and frames.encoded == 3
    assert frames.frame(events[0]) == encode_event(events[0]) and frames.encoded == 4, "1 was evicted"


async def test_cancelling_the_consumer_leaves_no_tasks(log: MemoryEventLog) -> None:
    before = asyncio.all_tasks()
    started = asyncio.Event()
    received: list[bytes] = []

    async def consume() -> None:
        async for chunk in event_stream(log, "s", None, keepalive=60, is_closed=Closed()):
            received.append(chunk)
            started.set()

    consumer = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), DEADLINE)
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(consumer, DEADLINE)
    assert received == [RETRY]
    assert asyncio.all_tasks() == before
    assert log._sessions == {}  # the waiter it registered is gone too


async def test_cancelling_a_pull_blocked_in_the_log_leaves_no_tasks(log: MemoryEventLog) -> None:
    before = asyncio.all_tasks()
    stream = event_stream(log, "s", None, keepalive=60, is_closed=Closed())
    assert await next_frame(stream) == RETRY
    pending = await parked_pull(stream)
    pending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(pending, DEADLINE)
    await assert_ends(stream)  # the cancellation finished the generator
    assert asyncio.all_tasks() == before
    assert log._sessions == {}


async def test_consumer_that_stops_iterating_can_close_the_stream(log: MemoryEventLog) -> None:
    before = asyncio.all_tasks()
    stream = event_stream(log, "s", None, keepalive=60, is_closed=Closed())
    assert await next_frame(stream) == RETRY
    await stream.aclose()  # what StreamingResponse does when the client goes away
    await assert_ends(stream)
    assert asyncio.all_tasks() == before


# --- coalesce: the frames of one read in one chunk ---------------------------------------


async def test_coalesced_stream_sends_one_chunk_per_read_in_order(log: MemoryEventLog) -> None:
    stream = event_stream(log, "s", None, keepalive=60, is_closed=Closed(), coalesce=True)
    assert await next_frame(stream) == RETRY
    stored = await fill(log, "s", 3)  # appended before the stream reads again: one read
    assert await next_frame(stream) == b"".join(map(encode_event, stored))
    one = await log.append("s", "OnTest", "{}")
    assert await next_frame(stream) == encode_event(one)
    await stream.aclose()


async def test_coalesced_stream_stops_after_session_closed_within_a_chunk(log: MemoryEventLog) -> None:
    first = await log.append("s", "OnTest", "{}")
    closing = await log.append("s", "sessionClosed", '{"reason": "logout"}')
    await log.append("s", "OnTest", "{}")  # never sent: the session is over
    stream = event_stream(log, "s", 0, is_closed=Closed(), coalesce=True)
    assert await next_frame(stream) == RETRY
    assert await next_frame(stream) == encode_event(first) + encode_event(closing)
    await assert_ends(stream)


async def test_coalesced_streams_get_every_event_once_in_order(log: MemoryEventLog) -> None:
    frames = FrameCache(size=8)
    streams = [
        event_stream(log, "s", None, keepalive=60, is_closed=Closed(), frames=lambda: frames, coalesce=True)
        for _ in range(3)
    ]
    for stream in streams:
        assert await next_frame(stream) == RETRY
    stored = [*await fill(log, "s", 4)]
    got: list[bytes] = [b"" for _ in streams]
    pulls = [await parked_pull(stream) for stream in streams]  # each reads the four, in one chunk
    stored.append(await log.append("s", "OnTest", "{}"))
    for i, pull in enumerate(pulls):
        got[i] += await asyncio.wait_for(pull, DEADLINE)
    stored += await fill(log, "s", 2)
    for i, stream in enumerate(streams):
        got[i] += await next_frame(stream)
        await stream.aclose()
    assert got == [b"".join(map(encode_event, stored))] * 3
