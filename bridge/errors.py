"""Client-facing errors: one exception, one renderer, RFC 9457 problem+json.

Every failure answers `application/problem+json` with OpenIM's `errCode` and
`errMsg`, the call's `operationID` and a `detail` that names the problem.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import SdkError
from core.protocol.errcodes import TOKEN_ERRORS, ErrCode

__all__ = [
    "OWNER_HEADER",
    "PROBLEM_SCHEMA",
    "BridgeError",
    "NotOwnerError",
    "install_error_handlers",
    "problem",
    "status_for",
]

log = logging.getLogger("openim.bridge")


class BridgeError(Exception):
    def __init__(
        self, status: int, code: int, detail: str, *, msg: str = "", headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.msg = msg or _name(code)
        self.detail = detail
        self.headers = headers or {}


#: Response header naming the node that owns a session (with status 421).
OWNER_HEADER = "X-Bridge-Owner"


class NotOwnerError(BridgeError):
    """The session's core runs on another node (cluster mode).

    421 Misdirected Request: the forwarding middleware (bridge/forward.py)
    catches it and replays the request at the owner; a client sees it only
    if forwarding is impossible, and then as 503 with Retry-After.
    """

    def __init__(self, node_id: str) -> None:
        super().__init__(
            421,
            ErrCode.ServerInternalError,
            f"session is served by bridge node {node_id}",
            headers={OWNER_HEADER: node_id},
        )
        self.node_id = node_id


def _name(code: int) -> str:
    try:
        return ErrCode(code).name
    except ValueError:
        return "Error"


_STATUS: dict[int, int] = {
    ErrCode.ArgsError: 400,
    ErrCode.SdkArgsError: 400,
    ErrCode.CanNotAddYourselfError: 400,
    ErrCode.NoPermissionError: 403,
    ErrCode.NotInGroupYetError: 403,
    ErrCode.DismissedAlreadyError: 403,
    ErrCode.MutedInGroup: 403,
    ErrCode.MutedGroup: 403,
    ErrCode.GroupIDNotFoundError: 404,
    ErrCode.GroupRequestHandled: 409,
    ErrCode.MsgAlreadyRevoke: 409,
    10401: 400,  # GroupTypeErr
    ErrCode.BlockedByPeer: 403,
    ErrCode.NotPeersFriend: 403,
    ErrCode.RecordNotFoundError: 404,
    ErrCode.UserIDNotFoundError: 404,
    ErrCode.SdkUserIDNotFoundError: 404,
    ErrCode.DuplicateKeyError: 409,
    ErrCode.RegisteredAlreadyError: 409,
    ErrCode.RelationshipAlreadyError: 409,
    ErrCode.FriendRequestHandled: 409,
    ErrCode.LoginRepeatError: 409,
    ErrCode.ResourceLoadNotCompleteError: 409,
    ErrCode.ServerInternalError: 502,
    ErrCode.NetworkError: 502,
    ErrCode.NetworkTimeoutError: 504,
    ErrCode.ConnOverMaxNumLimit: 503,
    ErrCode.MsgTooLargeError: 413,
}


def status_for(code: int) -> int:
    if code in TOKEN_ERRORS:
        return 401
    if code in _STATUS:
        return _STATUS[code]
    return 400 if 1000 <= code < 10000 else 502


def problem(
    request: Request | None,
    status: int,
    code: int,
    msg: str,
    detail: str,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    op = getattr(request.state, "operation_id", None) if request is not None else None
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": msg,
        "status": status,
        "errCode": code,
        "errMsg": msg,
        "detail": detail,
        "operationID": op,
    }
    body.update(extra or {})
    hdrs = dict(headers or {})
    if op:
        hdrs["operationID"] = op
    return JSONResponse(body, status_code=status, headers=hdrs, media_type="application/problem+json")


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "required": ["status", "errCode", "errMsg", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "errCode": {"type": "integer", "description": "OpenIM error code"},
        "errMsg": {"type": "string", "description": "OpenIM error name"},
        "detail": {"type": "string"},
        "operationID": {"type": ["string", "null"]},
    },
}


def _allowed_methods(request: Request) -> list[str]:
    """Every method routed for this path: Starlette's 405 names only its first matching route's
    (PUT and DELETE /v1/session/webhook are two routes; RFC 9110 section 15.5.6 wants all)."""
    methods: set[str] = set()
    pending = list(request.app.routes)
    while pending:  # included routers may sit in the list as objects with routes of their own
        route = pending.pop()
        regex, route_methods = getattr(route, "path_regex", None), getattr(route, "methods", None)
        if regex is not None and route_methods and regex.match(request.url.path):
            methods.update(route_methods)
        elif regex is None:  # FastAPI's _IncludedRouter keeps them on original_router (no prefixes here)
            inner = getattr(route, "original_router", route)
            pending.extend(getattr(inner, "routes", None) or [])
    return sorted(methods)


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "header", "path")]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(BridgeError)
    async def _bridge(request: Request, exc: BridgeError) -> JSONResponse:
        return problem(request, exc.status, exc.code, exc.msg, exc.detail, exc.headers)

    @app.exception_handler(SdkError)
    async def _sdk(request: Request, exc: SdkError) -> JSONResponse:
        return problem(request, status_for(exc.code), exc.code, exc.msg, exc.detail or exc.msg)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            # FastAPI's loc is ("body", <character offset>): say where the JSON broke, name no field.
            bad = next(e for e in errors if e.get("type") == "json_invalid")
            at = bad.get("loc", ("body", "?"))[-1]
            why = (bad.get("ctx") or {}).get("error", "invalid JSON")
            detail = f"the body is not valid JSON: {why} at character {at}"
            return problem(request, 400, ErrCode.ArgsError, "ArgsError", detail, extra={"fields": []})
        details = [f"{_field_path(tuple(e.get('loc', ())))}: {e.get('msg', 'invalid')}" for e in errors]
        fields = [_field_path(tuple(e.get("loc", ()))) for e in errors]
        return problem(request, 400, ErrCode.ArgsError, "ArgsError", "; ".join(details), extra={"fields": fields})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = ErrCode.RecordNotFoundError if exc.status_code == 404 else ErrCode.ArgsError
        headers, detail = dict(exc.headers or {}), str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such endpoint: {request.method} {request.url.path}"
        if exc.status_code == 405:
            given = {m.strip() for m in headers.pop("Allow", headers.pop("allow", "")).split(",") if m.strip()}
            allowed = sorted(given | set(_allowed_methods(request)))
            headers["Allow"] = ", ".join(allowed)
            detail = f"{request.method} is not allowed on {request.url.path}; allowed: {headers['Allow']}"
        return problem(request, exc.status_code, code, _name(code), detail, headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return problem(request, 500, ErrCode.ServerInternalError, "ServerInternalError", "internal error")
