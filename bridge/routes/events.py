"""Event delivery: SSE stream with resume, and the long-poll fallback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse

from bridge.errors import BridgeError
from bridge.eventlog import ReadResult
from bridge.openapi_spec import problem_responses
from bridge.routes.deps import Services, operation_id, services, session_from_header_or_query
from bridge.routes.functions import CallResponse
from bridge.session_handle import SessionHandle
from bridge.sse import MAX_EVENT_ID, event_stream, parse_last_event_id, wait_unless_stopped
from bridge.stream_limit import bounded_stream
from core.protocol.errcodes import ErrCode

__all__ = ["router"]

router = APIRouter(tags=["events"])


def _cursor(request: Request) -> int | None:
    try:
        return parse_last_event_id(request.headers.get("last-event-id"), request.query_params.get("lastEventId"))
    except ValueError as exc:
        raise BridgeError(400, ErrCode.ArgsError, str(exc)) from exc


# One event of the stream, as OpenAPI 3.2 describes SSE (itemSchema; schemathesis checks each
# event against it): `data` is JSON text whose shape the `webhooks` entry of `event` gives.
_SSE_EVENT = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "id": {"type": "string", "pattern": "^[0-9]+$"},
        "event": {"type": "string"},
        "data": {"type": "string", "contentMediaType": "application/json"},
        "retry": {"type": "integer", "minimum": 0},
    },
}


@router.get(
    "/v1/events",
    operation_id="streamEvents",
    responses={
        200: {
            "description": "text/event-stream of listener callbacks: every event name and payload is a `webhooks` "
            "entry of this document",
            "content": {"text/event-stream": {"schema": _SSE_EVENT}},
        },
        **problem_responses(400, 401, 429, 502, 503),
    },
)
async def stream_events(
    request: Request,
    handle: SessionHandle = Depends(session_from_header_or_query),
    svc: Services = Depends(services),
    op: str = Depends(operation_id),
    lastEventId: str | None = Query(None, description="Resume after this event id (or the Last-Event-ID header)"),
    access_token: str | None = Query(None, description="Session token, for EventSource clients"),
    maxSeconds: float | None = Query(
        None,
        ge=1.0,
        le=86_400.0,
        description="End the stream cleanly after this many seconds with a `streamEnd` event carrying the cursor "
        "(mini-programs: wx.request times out at 60 s, so e.g. 50); default BRIDGE_SSE_MAX_SECONDS (0: never)",
    ),
) -> EventSourceResponse:
    """SSE stream of this session's listener callbacks.

    `id:` is a per-session increasing event id, `event:` the callback name,
    `data:` `{listener, callback, operationID?, data}`. Resume with
    `Last-Event-ID`; an id older than the log's retention gets a `reset` event.
    With `maxSeconds` the stream ends after that long with `event: streamEnd`,
    `data: {"reason": "maxSeconds", "lastEventId": N}`: reconnect with that id.
    """
    after = _cursor(request)
    limit = maxSeconds or svc.settings.sse_max_seconds or None
    # Counted first: a stream keeps its handle here even when another node runs
    # the core, so this node revives it should that node park it or die.
    svc.pool.stream_opened(handle)
    try:
        await svc.pool.ensure_running(handle, op)  # the log is shared: any owner will do
        # Where a fresh stream starts is fixed before the response head goes out: an
        # EventSource fires `open` on the head, and a client that sends from there must
        # get what its send causes (a start fixed at the first frame missed events
        # appended in between on a busy node).
        start = await svc.events.last_id(handle.session_id) if after is None else after
    except BaseException:
        svc.pool.stream_closed(handle)
        raise

    async def body() -> AsyncIterator[bytes]:
        try:
            stream = event_stream(
                svc.events,
                handle.session_id,
                start,
                keepalive=svc.settings.sse_keepalive,
                retry_ms=svc.settings.sse_retry_ms,
                is_closed=lambda: handle.closed,
                stop=svc.pool.drain.started,
                frames=lambda: handle.frames,
                coalesce=True,
            )
            if limit is None:
                async for chunk in stream:
                    yield chunk
            else:
                async for chunk in bounded_stream(stream, start, limit):
                    yield chunk
        finally:
            svc.pool.stream_closed(handle)

    return EventSourceResponse(body(), ping=0, headers={"X-Accel-Buffering": "no", "Cache-Control": "no-cache"})


class PolledEvent(BaseModel):
    id: int
    event: str
    data: Any


class PollResult(BaseModel):
    events: list[PolledEvent]
    reset: bool = Field(description="True when events after `after` were dropped by retention: re-fetch state")
    lastEventID: int
    closed: bool = Field(description="True when the session has ended (sessionClosed was delivered)")


@router.get(
    "/v1/events/poll",
    operation_id="pollEvents",
    response_model=CallResponse[PollResult],
    responses=problem_responses(400, 401, 429, 502, 503),
)
async def poll_events(
    handle: SessionHandle = Depends(session_from_header_or_query),
    svc: Services = Depends(services),
    op: str = Depends(operation_id),
    # Bounded as the SSE cursor is: a larger one reached SQL as an integer it cannot bind (500).
    after: int = Query(0, ge=0, le=MAX_EVENT_ID, description="Return events with id greater than this"),
    wait: float = Query(0.0, ge=0.0, le=60.0, description="Seconds to wait for an event when none is ready"),
    limit: int = Query(100, ge=1, le=1000),
    access_token: str | None = Query(None, description="Session token, for clients that cannot set headers"),
) -> dict[str, Any]:
    """Long-poll fallback for clients that cannot stream.

    Each event's `data` is `{listener, callback, operationID?, data}`; the
    names and payload types are the `webhooks` entries of this document."""
    wait = min(wait, svc.settings.poll_max_wait)
    svc.pool.stream_opened(handle)  # a waiting poll counts as a listener: not parked under it
    try:
        await svc.pool.ensure_running(handle, op)
        waiting = svc.events.wait_after(handle.session_id, after, wait, limit)
        # Draining: answer now (nothing new) so the client polls again, elsewhere.
        result = await wait_unless_stopped(waiting, svc.pool.drain.started) or ReadResult([], False)
    finally:
        svc.pool.stream_closed(handle)
    events = [PolledEvent(id=e.id, event=e.event, data=json.loads(e.data)) for e in result.events]
    last = events[-1].id if events else max(after, 0)
    data = PollResult(events=events, reset=result.reset, lastEventID=last, closed=handle.closed)
    return {"operationID": op, "data": data.model_dump()}
