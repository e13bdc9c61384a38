"""Pure ASGI middleware: operationID on every request, and a request body limit.

Pure ASGI (not BaseHTTPMiddleware) so SSE responses stream untouched.
"""

from __future__ import annotations

import json
import re
import uuid
from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.protocol.errcodes import ErrCode
from core.protocol.jsonlimits import DEFAULT_MAX_DEPTH, JsonTooDeep, check_depth

__all__ = [
    "BodyLimitMiddleware",
    "JsonBodyMiddleware",
    "OperationIDMiddleware",
    "current_operation_id",
    "header",
    "send_problem",
]

current_operation_id: ContextVar[str | None] = ContextVar("operation_id", default=None)

# OpenIM puts no rule on operationID; we refuse what cannot be safely echoed
# in headers and logs.
_VALID_OP = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


async def send_problem(
    send: Send,
    status: int,
    detail: str,
    op: str | None,
    code: ErrCode = ErrCode.ArgsError,
    headers: dict[str, str] | None = None,
) -> None:
    """Answer problem+json from ASGI middleware (outside FastAPI's error handlers)."""
    body = json.dumps(
        {
            "type": "about:blank",
            "title": code.name,
            "status": status,
            "errCode": int(code),
            "errMsg": code.name,
            "detail": detail,
            "operationID": op,
        }
    ).encode()
    raw_headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if op:
        raw_headers.append((b"operationid", op.encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


class OperationIDMiddleware:
    """Take `operationID` from the request header or generate one; echo it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = header(scope, b"operationid")
        if raw is not None and not _VALID_OP.fullmatch(raw):
            await send_problem(
                send, 400, "operationID header must be 1-128 characters of [A-Za-z0-9._:-]", uuid.uuid4().hex
            )
            return
        op = raw or uuid.uuid4().hex
        scope.setdefault("state", {})["operation_id"] = op
        scope["state"]["operation_id_given"] = raw is not None
        token = current_operation_id.set(op)

        async def send_with_op(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"operationid"]
                headers.append((b"operationid", op.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_op)
        finally:
            current_operation_id.reset(token)


class JsonBodyMiddleware:
    """Read a POST body as JSON whatever its content type says, as OpenIM's own
    server does (gin's ShouldBindJSON): `curl -d '{...}'` sends form encoding,
    and low-code tools often send text/plain. A body that is not JSON still
    gets the 400 naming the parse error.

    The body is also refused with 400 when it nests deeper than `max_depth`:
    FastAPI's `json.loads` would raise RecursionError past ~1000 levels (a
    vague 400), and a body just under that parses and breaks every later walk
    of it (validation, encoding). So the body is read here (BodyLimitMiddleware,
    outside, has bounded it), checked, and handed on in one message.
    """

    def __init__(self, app: ASGIApp, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
        self.app = app
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        ctype = (header(scope, b"content-type") or "").split(";")[0].strip().lower()
        if ctype == "multipart/form-data":  # a file upload: streamed to its route, never JSON
            await self.app(scope, receive, send)
            return
        if ctype in ("", "application/x-www-form-urlencoded", "text/plain"):
            headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-type"]
            scope = {**scope, "headers": [*headers, (b"content-type", b"application/json")]}
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # Gone (or answered 413 by the body limit): the app sees the same.
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            check_depth(body, self.max_depth)
        except JsonTooDeep:
            op = scope.get("state", {}).get("operation_id")
            await send_problem(send, 400, f"request body: JSON nests deeper than {self.max_depth} levels", op)
            return
        await self.app(scope, _replay([{"type": "http.request", "body": body, "more_body": False}], receive), send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that returns `messages` first, then whatever `receive` gives (the disconnect)."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


class BodyLimitMiddleware:
    """Refuse request bodies over `limit` bytes with 413, without reading them whole.

    A declared Content-Length over the limit is refused before the app runs. A
    chunked body is counted as it arrives: past the limit the 413 goes out
    here and the app's receive() reports a disconnect. (Raising from receive()
    instead reached FastAPI's body reader, which turns any exception into its
    own 400 "error parsing the body".) uvicorn then reads and discards the
    rest of the body, bounded by the body read timeout (bridge/http_limits.py).
    """

    def __init__(self, app: ASGIApp, limit: int, path_limits: dict[str, int] | None = None) -> None:
        self.app = app
        self.limit = limit
        # Routes with a limit of their own (file uploads: BRIDGE_UPLOAD_MAX_BYTES).
        self.path_limits = path_limits or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        op = scope.get("state", {}).get("operation_id")
        limit = self.path_limits.get(scope.get("path", ""), self.limit)
        detail = f"request body larger than {limit} bytes"
        length = header(scope, b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await send_problem(send, 413, detail, op)
            return
        seen = 0
        started = answered = False

        async def limited_receive() -> Message:
            nonlocal seen, answered
            if answered:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    answered = True
                    if not started:
                        await send_problem(send, 413, detail, op)
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if answered:
                return  # the 413 is the answer; the app's reply to the disconnect goes nowhere
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited_receive, tracking_send)


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            decoded: Any = value.decode("latin-1")
            return str(decoded)
    return None
