"""End an SSE stream cleanly after a time limit, telling the client where to resume.

A WeChat mini-program's `wx.request` fails at 60 s (its default and most
common configured timeout) and many proxies cut long responses; a stream that
ends itself first, with the cursor in a last `streamEnd` event, lets such a
client reconnect with `Last-Event-ID` (or `?lastEventId=`) and miss nothing.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncGenerator, AsyncIterator

from bridge.eventlog import StoredEvent
from bridge.sse import encode_event

__all__ = ["STREAM_END_EVENT", "bounded_stream"]

STREAM_END_EVENT = "streamEnd"
# Every frame starts with its id line; a chunk may hold several (event_stream coalesce).
_ID_LINE = re.compile(rb"^id: ([0-9]+)\n", re.MULTILINE)


async def bounded_stream(stream: AsyncGenerator[bytes, None], cursor: int, seconds: float) -> AsyncIterator[bytes]:
    """`stream`'s frames until it ends or `seconds` pass; then `streamEnd` with the last id sent.

    The wait for the next frame is what times out, never a frame being
    written, so a frame is sent whole or not at all.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    try:
        while True:
            try:
                chunk = await asyncio.wait_for(anext(stream), max(deadline - loop.time(), 0.0))
            except StopAsyncIteration:
                return  # the session ended (sessionClosed) or the node drains
            except TimeoutError:
                break
            for match in _ID_LINE.finditer(chunk):  # data lines start "data: ": only id fields match
                cursor = int(match.group(1))
            yield chunk
            if loop.time() >= deadline:
                break
    finally:
        await stream.aclose()
    data = json.dumps({"reason": "maxSeconds", "lastEventId": cursor})
    yield encode_event(StoredEvent(cursor, STREAM_END_EVENT, data))
