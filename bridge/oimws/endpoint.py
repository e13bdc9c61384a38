"""The oimws-compatible WebSocket endpoint: `/ws` on the bridge app, optionally its own port.

open-im-sdk 3.5.2 connects to `{wsAddr}?sendID=<userID>&token=<token>&platformID=<n>&operationID=<id>`
(src/api/index.ts `login`). So `wsAddr` is `ws://<bridge>/ws`, or `ws://<host>:10003`
on the dedicated port (`--oimws-port`), which answers on `/` as oimws did and on `/ws`.

The handshake checks only the shape of the URL (`sendID`, `platformID`); a bad
one is refused with HTTP 400 and a problem+json body naming the parameter
(open-im-sdk reports a refused socket as errCode 10000). The token is checked
where oimws checked it: by the upstream, when the client sends `Login`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from bridge.errors import problem
from bridge.logs import current_user_id
from bridge.oimws.connection import ClientInfo, Connection, Socket
from bridge.oimws.outbox import OimwsStats
from bridge.oimws.resume import ResumeCursors
from bridge.routes.deps import Services
from core.protocol.constants import ADMIN_PLATFORM_ID, PLATFORM_NAMES
from core.protocol.errcodes import ErrCode
from core.registry import SdkFunction, all_functions

__all__ = ["OIMWS_PATH", "ConnectError", "OimwsState", "install_oimws", "oimws_app", "parse_connect"]

OIMWS_PATH = "/ws"
_VALID_OP = re.compile(r"[A-Za-z0-9._:\-]{1,128}")

Endpoint = Callable[[WebSocket], Awaitable[None]]


@dataclass(slots=True)
class OimwsState:
    """The oimws face's in-process state, kept on `app.state.oimws`."""

    functions: dict[str, SdkFunction]
    stats: OimwsStats = field(default_factory=OimwsStats)
    resume: ResumeCursors = field(default_factory=ResumeCursors)


class ConnectError(ValueError):
    """The connect URL is unusable; the message names the parameter."""


def parse_connect(query: QueryParams) -> tuple[ClientInfo, str]:
    """The client and the connect operationID from `?sendID=&platformID=&operationID=`."""
    user_id = query.get("sendID") or ""
    if not 1 <= len(user_id) <= 64:
        raise ConnectError("sendID (the userID, 1-64 characters) is required in the connect URL")
    raw = query.get("platformID") or ""
    platform = int(raw) if raw.isdigit() and len(raw) <= 3 else 0
    if platform not in PLATFORM_NAMES or platform == ADMIN_PLATFORM_ID:
        raise ConnectError(f"platformID {raw!r} is not a user platform (1-9, 11)")
    op = query.get("operationID") or ""
    connect_id = op if _VALID_OP.fullmatch(op) else None
    return ClientInfo(user_id, platform, connect_id), connect_id or ""


def _address(ws: WebSocket) -> str | None:
    return ws.client.host if ws.client else None


def install_oimws(app: FastAPI) -> None:
    """Add the `/ws` route to the bridge app (its services come from the app's lifespan)."""
    app.state.oimws = OimwsState(all_functions())
    app.add_api_websocket_route(OIMWS_PATH, _endpoint(app), name="oimws")


def oimws_app(bridge_app: FastAPI) -> Starlette:
    """An app for the dedicated oimws port, serving the bridge app's sessions.

    It has no lifespan of its own: run it only while `bridge_app` runs.
    """
    endpoint = _endpoint(bridge_app)
    return Starlette(routes=[WebSocketRoute("/", endpoint), WebSocketRoute(OIMWS_PATH, endpoint)])


def _endpoint(app: FastAPI) -> Endpoint:
    async def oimws(websocket: WebSocket) -> None:
        await _serve(app, websocket)

    return oimws


async def _serve(app: FastAPI, ws: WebSocket) -> None:
    try:
        client, connect_op = parse_connect(ws.query_params)
    except ConnectError as exc:
        await _deny(ws, str(exc))
        return
    client = dataclasses.replace(client, address=_address(ws))
    svc: Services = app.state.services
    state: OimwsState = app.state.oimws
    current_user_id.set(client.user_id)
    await ws.accept()
    state.stats.connections_open += 1
    state.stats.connections_total += 1
    socket = Socket(lambda: _receive(ws), ws.send_text, lambda code, reason: ws.close(code, reason))
    try:
        await Connection(svc, state.functions, client, socket, state.stats, state.resume).run(connect_op)
    finally:
        state.stats.connections_open -= 1


async def _receive(ws: WebSocket) -> str | bytes | None:
    """The next frame's payload, None once the client is gone."""
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        return None
    text = message.get("text")
    if text is not None:
        return str(text)
    data = message.get("bytes")
    return bytes(data) if data is not None else b""


async def _deny(ws: WebSocket, detail: str) -> None:
    if "websocket.http.response" in ws.scope.get("extensions", {}):
        await ws.send_denial_response(problem(None, 400, ErrCode.ArgsError, "ArgsError", detail))
    else:
        await ws.close(code=1008, reason=detail[:120])
