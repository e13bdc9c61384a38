"""Per-session webhook: `PUT /v1/session/webhook {url, secret}`, `DELETE` to remove it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from bridge.errors import BridgeError
from bridge.openapi_spec import problem_responses
from bridge.routes.deps import Services, operation_id, services, session_from_header
from bridge.routes.functions import CallResponse
from bridge.session_handle import SessionHandle
from bridge.webhook_targets import check_webhook_url
from bridge.webhooks import WebhookDispatcher
from core.protocol.errcodes import ErrCode

__all__ = ["router"]

router = APIRouter(tags=["session"])


class WebhookRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    url: str = Field(min_length=1, max_length=2048, description="http(s) URL that receives each event as a POST")
    secret: str = Field(
        min_length=16, max_length=256, description="Key of the HMAC-SHA256 in X-Bridge-Signature (16+ characters)"
    )


class WebhookInfo(BaseModel):
    url: str
    fromEventID: int = Field(description="Events after this id are delivered (the session's last id when set)")


def _dispatcher(request: Request) -> WebhookDispatcher:
    dispatcher: WebhookDispatcher = request.app.state.webhooks
    return dispatcher


@router.put(
    "/v1/session/webhook",
    operation_id="setSessionWebhook",
    response_model=CallResponse[WebhookInfo],
    responses=problem_responses(400, 401, 413, 503),
)
async def set_webhook(
    request: Request,
    body: WebhookRequest,
    handle: SessionHandle = Depends(session_from_header),
    svc: Services = Depends(services),
    op: str = Depends(operation_id),
) -> dict[str, Any]:
    """POST this session's events from now on to `url`, signed with `secret` (README "Webhooks").

    Replaces an earlier URL of the session. URLs to loopback, link-local or
    private addresses are refused unless the operator allows them."""
    await check_webhook_url(body.url, allow_private=svc.settings.webhook_allow_private)
    dispatcher = _dispatcher(request)
    start = await svc.events.last_id(handle.session_id)
    await dispatcher.store.set_target(handle.session_id, body.url, body.secret, start)
    dispatcher.kick(handle.session_id)
    return {"operationID": op, "data": WebhookInfo(url=body.url, fromEventID=start).model_dump()}


@router.delete(
    "/v1/session/webhook",
    operation_id="deleteSessionWebhook",
    response_model=CallResponse[None],
    responses=problem_responses(400, 401, 404, 503),
)
async def delete_webhook(
    request: Request,
    handle: SessionHandle = Depends(session_from_header),
    op: str = Depends(operation_id),
) -> dict[str, Any]:
    """Stop this session's webhook deliveries (the operator's, if any, go on)."""
    if not await _dispatcher(request).store.delete_target(handle.session_id):
        raise BridgeError(404, ErrCode.RecordNotFoundError, "this session has no webhook")
    return {"operationID": op, "data": None}
