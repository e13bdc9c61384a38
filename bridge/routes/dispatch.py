"""Exact-path dispatch of the SDK function routes: one dict lookup, one endpoint for the registry.

FastAPI's router tries every route in order (~110 function routes, each a
regex and an effective-context check) and runs every request through its
dependency solver: issue 14 measured 9-27% of a cached call's CPU there. This
pure-ASGI app sits in front of the router: a `POST` whose path is a function's
`rest_path` is answered here, from the same :func:`answer` the per-function
FastAPI routes use; anything else goes on to FastAPI.

The per-function routes stay registered, so the OpenAPI spec keeps one
operation per function with its exact body and result models. They also
still answer what this fast path hands back to them: a body that is not a
JSON object, or one the parameter model refuses, goes on to FastAPI, so bad
input gets the very 400 (field names and all) FastAPI's validation gives.
"""

from __future__ import annotations

from pydantic import BaseModel, ValidationError
from pydantic_core import to_json
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bridge.errors import BridgeError, problem, status_for
from bridge.routes.deps import Services, session_from_header
from bridge.session_handle import SessionHandle
from core.errors import SdkError
from core.registry import SdkFunction

__all__ = ["Answer", "FunctionDispatch", "answer"]

_JSON = (b"content-type", b"application/json")
_ASYNC_APPLIED = (b"preference-applied", b"respond-async")


class Answer:
    """A finished JSON answer: status, body and extra headers, sent in two ASGI messages."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        self.status, self.body, self.headers = status, body, headers or []

    async def send(self, send: Send) -> None:
        headers = [_JSON, (b"content-length", str(len(self.body)).encode()), *self.headers]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


async def answer(request: Request, svc: Services, session: SessionHandle, fn: SdkFunction, params: BaseModel) -> Answer:
    """Run one call (sync or `Prefer: respond-async`) and encode its answer once, with pydantic-core."""
    op = str(request.state.operation_id)
    given = bool(request.state.operation_id_given)
    if "respond-async" in request.headers.get("prefer", "").lower():
        await svc.calls.start(session, fn, params, op, op_given=given)
        return Answer(202, to_json({"operationID": op}), [_ASYNC_APPLIED])
    result = await svc.calls.run(session, fn, params, op, op_given=given)
    return Answer(200, to_json({"operationID": op, "data": result}))


class FunctionDispatch:
    """Answer `POST <rest_path>` of every registry function without FastAPI's router."""

    def __init__(self, app: ASGIApp, functions: dict[str, SdkFunction]) -> None:
        self.app = app
        self.by_path = {fn.rest_path: fn for fn in functions.values()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fn = self.by_path.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if fn is None:
            await self.app(scope, receive, send)
            return
        body, rest = await _read_body(receive)
        params = _fast_params(fn, body)
        if params is None:  # not valid: FastAPI's validation renders the 400
            await self.app(scope, _replay(body, rest, receive), send)
            return
        scope.setdefault("state", {})["function"] = fn.operation_id  # the access log's "function"
        request = Request(scope, receive)
        try:
            session = await session_from_header(request)
            svc: Services = scope["app"].state.services
            done = await answer(request, svc, session, fn, params)
        except BridgeError as exc:
            await problem(request, exc.status, exc.code, exc.msg, exc.detail, exc.headers)(scope, receive, send)
            return
        except SdkError as exc:
            await problem(request, status_for(exc.code), exc.code, exc.msg, exc.detail or exc.msg)(scope, receive, send)
            return
        await done.send(send)


def _fast_params(fn: SdkFunction, body: bytes) -> BaseModel | None:
    """The parameter model, or None when FastAPI should answer (bad JSON, bad fields, no body but one needed)."""
    text = body.strip()
    try:
        if text and text != b"null":
            # pydantic-core parses and validates in one pass, ~3x less CPU than json.loads and
            # model_validate for a send_message body (issue 14). Anything it refuses (not an
            # object, bad fields, NaN...) goes to FastAPI, which answers as it always did.
            return fn.params.model_validate_json(text)
        # FastAPI: an absent body is None, allowed when every field has a default.
        if any(f.is_required() for f in fn.params.model_fields.values()):
            return None
        return fn.params.model_validate({})
    except ValidationError:
        return None


async def _read_body(receive: Receive) -> tuple[bytes, Message | None]:
    """The whole request body, and the message that ended it early (a disconnect), if any."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), message
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), None


def _replay(body: bytes, rest: Message | None, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            if rest is not None:
                return rest
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
