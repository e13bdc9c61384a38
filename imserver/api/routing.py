"""How every OpenIM route runs (open-im-server internal/api/router.go + tools a2r):

1. header `operationID` required (1001 "header must have operationID");
2. header `token` required and valid, except on the whitelisted
   `/auth/get_admin_token` and `/auth/parse_token` (1001 "header must have
   token", else the token's own error code);
3. body read up to `max_body_bytes` (1001 past it) and decoded (request.py);
4. the handler: authorise, call one service, return the `data`.

Handlers look like `async def route(call: Call, req: SomeRequest) -> Data`;
`ImRouter.post` reads the request type from the annotation.
"""

from __future__ import annotations

import logging
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.requests import ClientDisconnect
from starlette.routing import Route
from starlette.types import Receive, Scope

from core.protocol.errcodes import ErrCode
from imserver.api.context import ApiContext
from imserver.api.envelope import Data, error_body, success_body
from imserver.api.request import GoRequest, decode, decode_fields
from imserver.errors import ImError
from imserver.services.common import Operator

__all__ = ["Call", "Endpoint", "ImRouter"]

logger = logging.getLogger(__name__)

_WHITELIST = ("/auth/get_admin_token", "/auth/parse_token")


@dataclass(frozen=True, slots=True)
class Call:
    ctx: ApiContext
    op: Operator
    # The request came as protobuf; the handler answers bytes (routes registered with `protobuf=`).
    binary: bool = False

    def check_access(self, owner_user_id: str) -> None:
        """authverify.CheckAccessV3: the caller is the owner, or an admin."""
        if not self.op.is_admin and self.op.user_id != owner_user_id:
            raise ImError(ErrCode.NoPermissionError, f"ownerUserID {owner_user_id}")

    def require_admin(self) -> None:
        """authverify.CheckAdmin"""
        if not self.op.is_admin:
            raise ImError(ErrCode.NoPermissionError, f"user {self.op.user_id} is not admin userID")


_H = TypeVar("_H", bound=Callable[..., Awaitable[Data]])
ProtobufDecoder = Callable[[bytes], dict[str, Any]]


# One exact-path POST endpoint: the API's context, the request's scope and receive -> the
# JSON envelope (HTTP 200 always; imserver.app.ImApi sends it).
Endpoint = Callable[[ApiContext, Scope, Receive], Awaitable[bytes]]


class ImRouter:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        # Exact path -> endpoint, served by `imserver.app.ImApi` with one dict look-up (issue 14:
        # Starlette's router matched the path against every route on each request).
        self.exact: dict[str, Endpoint] = {}
        # Routes with path parameters (s3 object URLs), served by the Starlette fallback.
        self.routes: list[Route] = []

    def post(self, path: str, *, protobuf: ProtobufDecoder | None = None) -> Callable[[_H], _H]:
        """Register a POST route; with `protobuf`, a protobuf body is accepted too (jssdk tools.go)."""

        def register(handler: _H) -> _H:
            full = self.prefix + path
            model = _request_model(handler)
            self.exact[full] = _endpoint(handler, model, public=full.startswith(_WHITELIST), protobuf=protobuf)
            return handler

        return register


def _request_model(handler: Callable[..., Any]) -> type[GoRequest]:
    hints = typing.get_type_hints(handler)
    hints.pop("return", None)
    model = list(hints.values())[1]
    if not (isinstance(model, type) and issubclass(model, GoRequest)):
        raise TypeError(f"{handler.__name__}: second parameter must be a GoRequest")
    return model


def _header(scope: Scope, name: bytes) -> str:
    """The first value of a header (ASGI names are lower case), "" when absent, as gin's GetHeader."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def _endpoint(
    handler: Callable[[Call, Any], Awaitable[Data]],
    model: type[GoRequest],
    *,
    public: bool,
    protobuf: ProtobufDecoder | None,
) -> Endpoint:
    async def endpoint(ctx: ApiContext, scope: Scope, receive: Receive) -> bytes:
        operation_id = _header(scope, b"operationid")
        try:
            if not operation_id:
                raise ImError(ErrCode.ArgsError, "header must have operationID")
            op = await _operator(ctx, scope, operation_id, public=public)
            decode_protobuf = protobuf if protobuf and _is_protobuf(_header(scope, b"content-type")) else None
            body = await _read_body(scope, receive, ctx.settings.max_body_bytes)
            req = decode(model, body) if decode_protobuf is None else decode_fields(model, decode_protobuf(body))
            data = await handler(Call(ctx, op, binary=decode_protobuf is not None), req)
        except ImError as exc:
            return error_body(exc)
        except Exception:
            logger.exception("unhandled error", extra={"operationID": operation_id, "path": scope["path"]})
            return error_body(ImError(ErrCode.ServerInternalError))
        return success_body(data)

    endpoint.__name__ = handler.__name__
    return endpoint


def _is_protobuf(content_type: str) -> bool:
    """jssdk tools.go call: JSON when empty or json, protobuf when (x-)protobuf, else 1001."""
    if not content_type or "application/json" in content_type:
        return False
    if "application/protobuf" in content_type or "application/x-protobuf" in content_type:
        return True
    raise ImError(ErrCode.ArgsError, "unsupported content type")


async def _operator(ctx: ApiContext, scope: Scope, operation_id: str, *, public: bool) -> Operator:
    if public:
        return Operator(user_id="", platform_id=0, operation_id=operation_id)
    token = _header(scope, b"token")
    if not token:
        raise ImError(ErrCode.ArgsError, "header must have token")
    claims = await ctx.tokens.verify(token)
    return Operator(
        user_id=claims.user_id,
        platform_id=claims.platform_id,
        operation_id=operation_id,
        is_admin=ctx.tokens.is_admin(claims.user_id),
    )


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The body, refusing (1001) past `limit` bytes without reading further."""
    declared = _header(scope, b"content-length")
    if declared.isdigit() and int(declared) > limit:
        raise ImError(ErrCode.ArgsError, f"request body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:  # starlette Request.stream(), without building a Request
        message = await receive()
        if message["type"] != "http.request":
            raise ClientDisconnect()
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise ImError(ErrCode.ArgsError, f"request body larger than {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
