"""The message gateway server: handshake, registration, read loop (openim-v3.md 2).

open-im-server internal/msggateway/ws_server.go (wsHandler, registerClient),
client.go (readMessage, handleMessage) and client_conn.go (read deadline, text
heartbeat). Runs on the `websockets` asyncio server in the caller's event loop.
"""

from __future__ import annotations

import asyncio
import email.utils
import http
import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from core.protocol.constants import PlatformID
from core.protocol.envelope import EnvelopeError, WsReq
from core.protocol.errcodes import ErrCode
from core.protocol.redact import redacting_logger
from imserver.db import make_read_sessionmaker
from imserver.errors import ImError
from imserver.gateway.connection import Connection, ConnState
from imserver.gateway.handlers import HANDLERS, GatewayContext, handle_request
from imserver.gateway.handshake import (
    ConnArgs,
    TokenVerifier,
    authenticate,
    clean_path_redirect,
    error_body,
    parse_args,
)
from imserver.gateway.handshake import wants_text_response as _wants_text
from imserver.gateway.heartbeat import HeartbeatError, text_heartbeat_reply
from imserver.gateway.hub import Hub
from imserver.gateway.ticker import GatewayTicker
from imserver.reads import reads_for
from imserver.services.sending import NO_GROUP_CHAT, GroupChat, IsBlocked, never_blocked
from imserver.settings import ImServerSettings

__all__ = ["GatewayServer", "start_gateway"]

log = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT = 10.0  # openim-msggateway.yml websocketTimeout


class _GatewayConnection(ServerConnection):
    """Keeps the handshake outcome and the time of the last frame of any kind.

    The read deadline is reset by every frame, pings and pongs included, which
    websockets handles below recv(); process_event sees them all.
    """

    args: ConnArgs | None = None
    error: ImError | None = None
    last_rx: float = 0.0
    conn: Connection | None = None  # once registered

    def process_event(self, event: Any) -> None:
        super().process_event(event)
        self.last_rx = self.loop.time()

    # -- kept by the gateway's ticker (imserver/gateway/ticker.py) ---------------

    def deadline_passed(self) -> None:
        if self.conn is not None:
            self.conn.deadline_passed()

    def send_ping(self, backlog: int) -> None:
        # client.go writePingMsg: WriteMessage(PingMessage, nil). No pong waiter: the pong
        # only moves the read deadline, as gorilla's pongHandler does.
        if self.protocol.state is not State.OPEN or self.transport.get_write_buffer_size() > backlog:
            return
        self.protocol.send_ping(b"")
        self.send_data()


class GatewayServer:
    def __init__(self, server: Server, hub: Hub, ticker: GatewayTicker) -> None:
        self._server = server
        self._hub = hub
        self.ticker = ticker
        self.port: int = server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self._server.close()
        await self._server.wait_closed()
        await self.ticker.aclose()
        await self._hub.close()


def _json_response(error: ImError) -> Response:
    # apiresp.HttpError: HTTP 200 with the JSON envelope, no upgrade.
    body = error_body(error)
    headers = Headers(
        [
            ("Date", email.utils.formatdate(usegmt=True)),
            ("Connection", "close"),
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
        ]
    )
    return Response(http.HTTPStatus.OK, "OK", headers, body)


def _redirect(location: str) -> Response:
    headers = Headers([("Location", location), ("Content-Length", "0"), ("Connection", "close")])
    return Response(http.HTTPStatus.MOVED_PERMANENTLY, "Moved Permanently", headers, b"")


class _Gateway:
    def __init__(self, ctx: GatewayContext, tokens: TokenVerifier) -> None:
        self.ctx = ctx
        self.tokens = tokens
        self.ticker = GatewayTicker(ctx.settings.ws_read_timeout, ctx.settings.ws_ping_interval)

    @property
    def settings(self) -> ImServerSettings:
        return self.ctx.settings

    async def _check(self, request: Request) -> ConnArgs:
        if self.ctx.hub.connection_count >= self.settings.ws_max_conn_num:
            raise ImError(ErrCode.ConnOverMaxNumLimit, "over max conn num limit")
        args = parse_args(request.path, request.headers)
        await authenticate(self.tokens, args)
        return args

    async def process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        assert isinstance(conn, _GatewayConnection)
        location = clean_path_redirect(request.path)
        if location is not None:
            return _redirect(location)  # as Go's ServeMux, before the handler ever runs
        try:
            conn.args = await self._check(request)
            return None
        except ImError as exc:
            error = exc
        except Exception:
            log.exception("gateway handshake failed")
            error = ImError(ErrCode.ServerInternalError)
        if _wants_text(request.path):
            conn.error = error  # upgrade anyway, then one text frame and close (handlerError)
            return None
        return _json_response(error)

    async def handle(self, ws: ServerConnection) -> None:
        assert isinstance(ws, _GatewayConnection)
        if ws.error is not None or ws.args is None:
            await ws.send(error_body(ws.error).decode())
            await ws.close()
            return
        args = ws.args
        if args.send_response:
            await ws.send(error_body(None).decode())
        conn = ws.conn = Connection(ws, args, self.ctx.hub.stats)
        writer = asyncio.create_task(conn.run_writer(), name=f"gateway-writer-{conn.user_id}/{conn.platform_id}")
        try:
            await self._register(conn)
            # The deadline and, for Web only (activeHeartbeat), the pings: one ticker for all.
            ws.last_rx = max(ws.last_rx, asyncio.get_running_loop().time())
            self.ticker.add(ws, ping=args.platform_id == PlatformID.WEB)
            await self._read_loop(ws, conn)
        finally:
            self.ticker.remove(ws)
            self.ctx.hub.unregister(conn)
            if conn.state is ConnState.CLOSING and not writer.done():
                # Let a queued 2002 / logout answer and the close frame go out.
                await asyncio.wait([writer], timeout=ws.close_timeout)
            writer.cancel()

    async def _register(self, conn: Connection) -> None:
        hub, policy = self.ctx.hub, self.settings.multi_login_policy
        others = hub.connections(conn.user_id)
        evicted = hub.register(conn, policy)
        # Tokens of evicted terminals are marked kicked so they cannot come back:
        # InvalidateToken(PreservedToken = new token) for policies 1 and 5 once the user
        # had connections there, KickTokens of the evicted for 4 (here per platform).
        platforms = {c.platform_id for c in evicted}
        if (policy == 1 and any(c.platform_id == conn.platform_id for c in others)) or (policy == 5 and evicted):
            platforms.add(conn.platform_id)
        for platform in sorted(platforms):
            try:
                await self.tokens.mark_kicked(conn.user_id, platform, except_token=conn.token)
            except Exception:  # OpenIM logs a failed InvalidateToken and keeps the connection
                log.exception("marking tokens of %s/%s kicked failed", conn.user_id, platform)

    async def _read_loop(self, ws: _GatewayConnection, conn: Connection) -> None:
        stats = self.ctx.hub.stats
        while not conn.closing:
            try:
                # No timeout here: the ticker aborts a connection past its read deadline.
                frame = await ws.recv()
            except ConnectionClosed:
                return
            if isinstance(frame, str):
                try:
                    reply = text_heartbeat_reply(frame)
                except HeartbeatError as exc:
                    stats.bad_frames += 1
                    conn.abort(str(exc))
                    return
                if reply is not None:
                    conn.send_text(reply)
                continue
            if not await self._serve_frame(conn, frame):
                return

    async def _serve_frame(self, conn: Connection, frame: bytes) -> bool:
        """One binary request; False when the connection must close."""
        try:
            req = conn.codec.decode(frame)
        except EnvelopeError as exc:
            return self._reject(conn, f"undecodable frame: {exc}")
        problem = _invalid(req, conn)
        if problem:
            return self._reject(conn, problem)
        handler = HANDLERS.get(req.req_identifier)
        if handler is None:
            return self._reject(conn, f"ReqIdentifier failed: {req.req_identifier}")
        resp, reply = await handle_request(self.ctx, conn, handler, req)
        conn.send_resp(resp)
        if reply.after is not None:
            try:
                await reply.after()
            except Exception:
                log.exception("gateway push after %s failed", req.req_identifier)
        if reply.close:
            conn.close_after_pending()
            return False
        return True

    def _reject(self, conn: Connection, reason: str) -> bool:
        self.ctx.hub.stats.bad_frames += 1
        conn.abort(reason)
        return False


def _invalid(req: WsReq, conn: Connection) -> str:
    # Validate (validate:"required" on Req) and the sendID check of handleMessage.
    if not (req.req_identifier and req.send_id and req.operation_id and req.msg_incr):
        return "reqIdentifier, sendID, operationID and msgIncr are required"
    if req.send_id != conn.user_id:
        return f"exception conn userID not same to req userID: {req.send_id}"
    return ""


async def start_gateway(
    settings: ImServerSettings,
    tokens: TokenVerifier,
    hub: Hub,
    sessionmaker: async_sessionmaker[AsyncSession],
    host: str,
    port: int,
    *,
    is_blocked: IsBlocked = never_blocked,
    group_chat: GroupChat = NO_GROUP_CHAT,
) -> GatewayServer:
    """Listen on host:port (0 = ephemeral) in the running loop; `hub` is shared with the API."""
    reader = make_read_sessionmaker(sessionmaker)
    gateway = _Gateway(
        GatewayContext(settings, hub, sessionmaker, is_blocked, reader, reads_for(sessionmaker), group_chat), tokens
    )
    server = await serve(
        gateway.handle,
        host,
        port,
        process_request=gateway.process_request,
        create_connection=_GatewayConnection,
        compression=None,  # OpenIM negotiates no permessage-deflate; gzip is in-band
        # constant.go maxMessageSize via SetReadLimit: gorilla answers a longer message (the
        # fragments' total) with close 1009 and OpenIM drops the connection; websockets does
        # the same (its close reason names the sizes, gorilla's is empty).
        max_size=settings.ws_max_message_bytes,
        ping_interval=None,  # pings are per platform (Web only), started in handle()
        open_timeout=HANDSHAKE_TIMEOUT,
        server_header=None,
        # websockets logs request lines (with `token=`) at DEBUG: redact them.
        logger=redacting_logger("openim.imserver.gateway.ws"),
    )
    return GatewayServer(server, hub, gateway.ticker)
