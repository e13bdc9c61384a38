"""Request dependencies: the app's services and the caller's session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import Request

from bridge.calls import CallService
from bridge.errors import BridgeError
from bridge.eventlog import EventLog
from bridge.idempotency import IdempotencyCache
from bridge.logins import Logins
from bridge.logs import current_user_id
from bridge.pool import SessionPool
from bridge.session_handle import SessionHandle
from bridge.settings import BridgeSettings
from bridge.upstream import Upstream
from core.checkpoint import CheckpointStore
from core.protocol.errcodes import ErrCode

__all__ = ["Services", "operation_id", "services", "session_from_header", "session_from_header_or_query"]


@dataclass(slots=True)
class Services:
    settings: BridgeSettings
    pool: SessionPool
    events: EventLog
    idempotency: IdempotencyCache
    logins: Logins
    calls: CallService
    upstream: Upstream
    http: httpx.AsyncClient  # the process's shared HTTP pool (upstream calls, forwarding)
    checkpoints: CheckpointStore
    metrics: Any = None  # the node's Prometheus registry, made on first scrape
    webhooks: Any = None  # the WebhookDispatcher (bridge/webhooks.py)


async def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


async def operation_id(request: Request) -> str:
    return str(request.state.operation_id)


def _bearer(request: Request) -> str | None:
    values = request.headers.getlist("authorization")
    if not values:
        return None
    if len(values) > 1:  # not a list header (RFC 9110 11.6.2): a proxy may have read the other one
        raise BridgeError(401, ErrCode.TokenMalformedError, "more than one Authorization header")
    auth = values[0]
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise BridgeError(401, ErrCode.TokenMalformedError, "Authorization must be 'Bearer <session token>'")
    return token.strip()


async def session_from_header(request: Request) -> SessionHandle:
    token = _bearer(request)
    if token is None:
        raise BridgeError(
            401,
            ErrCode.TokenNotExistError,
            "missing Authorization: Bearer <session token> (from POST /v1/login)",
        )
    return await _resolve(request, token)


async def session_from_header_or_query(request: Request) -> SessionHandle:
    """EventSource cannot set headers, so event endpoints also take `?access_token=`."""
    token = _bearer(request) or request.query_params.get("access_token")
    if not token:
        raise BridgeError(
            401,
            ErrCode.TokenNotExistError,
            "missing session token: Authorization header or access_token query",
        )
    return await _resolve(request, token)


async def _resolve(request: Request, token: str) -> SessionHandle:
    handle = await (await services(request)).logins.authenticate(token)
    request.state.user_id = handle.record.user_id
    request.state.platform_id = handle.record.platform_id  # for the access log line
    current_user_id.set(handle.record.user_id)
    return handle
