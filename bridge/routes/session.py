"""Session endpoints: login (start or re-attach a core), logout, session info."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from bridge.logins import MAX_TOKEN_CHARS
from bridge.openapi_spec import problem_responses
from bridge.routes.deps import Services, operation_id, services, session_from_header
from bridge.routes.functions import CallResponse
from bridge.session_handle import SessionHandle, SessionState
from core.protocol.constants import ADMIN_PLATFORM_ID

__all__ = ["router"]

router = APIRouter(tags=["session"])


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    userID: str = Field(min_length=1, max_length=64)
    token: str = Field(min_length=1, max_length=MAX_TOKEN_CHARS, description="The user's OpenIM token")
    platformID: int = Field(
        ge=1,
        le=11,
        description="OpenIM platform ID (5 Web, 6 MiniWeb, ...; 10 Admin refused)",
        # what bridge/logins.py accepts; `not` keeps generated clients' type a plain int (an enum would not)
        json_schema_extra={"not": {"const": ADMIN_PLATFORM_ID}},
    )
    batchMessages: bool = Field(
        default=False, description="Deliver new messages as OnRecvNewMessages lists instead of OnRecvNewMessage"
    )


class LoginResult(BaseModel):
    sessionToken: str = Field(description="Bearer token for later calls; shown once, only its hash is stored")
    sessionID: str
    userID: str
    platformID: int


class SessionInfo(BaseModel):
    sessionID: str
    userID: str
    platformID: int
    state: str = Field(description="live, parked or ended")
    node: str | None = Field(description="The bridge node running the session's core (live only)")
    openStreams: int
    lastEventID: int


def _info(handle: SessionHandle, last_event_id: int, node_id: str) -> dict[str, Any]:
    return SessionInfo(
        sessionID=handle.session_id,
        userID=handle.record.user_id,
        platformID=handle.record.platform_id,
        state=handle.state,
        node=node_id if handle.state is SessionState.LIVE else None,
        openStreams=handle.streams,
        lastEventID=last_event_id,
    ).model_dump()


@router.post(
    "/v1/login",
    operation_id="login",
    response_model=CallResponse[LoginResult],
    responses=problem_responses(400, 401, 403, 413, 502, 503, 504),
)
async def login(
    request: Request, body: LoginRequest, svc: Services = Depends(services), op: str = Depends(operation_id)
) -> dict[str, Any]:
    """Log in with an OpenIM user token: starts the user's core, or re-attaches to it."""
    client = request.client.host if request.client else None
    token, handle = await svc.logins.login(
        body.userID, body.token, body.platformID, op, batch_messages=body.batchMessages, client=client
    )
    request.state.user_id = body.userID
    result = LoginResult(
        sessionToken=token, sessionID=handle.session_id, userID=body.userID, platformID=body.platformID
    )
    return {"operationID": op, "data": result.model_dump()}


@router.post(
    "/v1/logout", operation_id="logout", response_model=CallResponse[None], responses=problem_responses(400, 401, 503)
)
async def logout(
    handle: SessionHandle = Depends(session_from_header),
    svc: Services = Depends(services),
    op: str = Depends(operation_id),
) -> dict[str, Any]:
    """End the session and its core; open streams get `sessionClosed` and end."""
    await svc.pool.logout(handle, op)
    return {"operationID": op, "data": None}


@router.get(
    "/v1/session",
    operation_id="getSession",
    response_model=CallResponse[SessionInfo],
    responses=problem_responses(400, 401, 503),
)
async def session_info(
    handle: SessionHandle = Depends(session_from_header),
    svc: Services = Depends(services),
    op: str = Depends(operation_id),
) -> dict[str, Any]:
    """This session's state (does not revive a parked core)."""
    await svc.pool.require_local(handle)  # another node runs it: answered there
    info = _info(handle, await svc.events.last_id(handle.session_id), svc.pool.node_id)
    return {"operationID": op, "data": info}
