"""Request handlers per ReqIdentifier (openim-v3.md 2.5).

open-im-server internal/msggateway/client.go handleMessage (the switch) and
message_handler.go (GrpcHandler: unmarshal, call the msg service, marshal). A
handler returns the response `data` and, optionally, work to run once the answer
is queued (pushes) or a request to close (2003). A coded failure becomes
errCode/errMsg on the answer and the connection stays open.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from google.protobuf.message import DecodeError, Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.protocol import openim_pb2 as pb
from core.protocol.constants import ReqIdentifier
from core.protocol.envelope import WsReq, WsResp
from core.protocol.errcodes import ErrCode
from imserver.errors import ImError
from imserver.gateway.connection import Connection
from imserver.gateway.hub import Hub
from imserver.reads import Reads
from imserver.services import sync
from imserver.services.sending import NO_GROUP_CHAT, GroupChat, IsBlocked, send_message
from imserver.settings import ImServerSettings

__all__ = ["HANDLERS", "GatewayContext", "Reply", "handle_request"]

log = logging.getLogger(__name__)

M = TypeVar("M", bound=Message)


@dataclass(frozen=True, slots=True)
class GatewayContext:
    settings: ImServerSettings
    hub: Hub
    sessionmaker: async_sessionmaker[AsyncSession]
    is_blocked: IsBlocked
    # For the sync handlers (1001, 1002, 1005-1007), which only read: db.make_read_sessionmaker.
    reader: async_sessionmaker[AsyncSession]
    # 1001 and 1006, asked by every login: prebuilt statements (imserver.reads).
    reads: Reads
    group_chat: GroupChat = NO_GROUP_CHAT


@dataclass(frozen=True, slots=True)
class Reply:
    data: bytes = b""
    after: Callable[[], Awaitable[None]] | None = field(default=None)
    close: bool = False


Handler = Callable[[GatewayContext, Connection, WsReq], Awaitable[Reply]]


def _parse(kind: type[M], data: bytes) -> M:
    # OpenIM answers an undecodable payload with a non-coded error (500); it is bad
    # input, so it is ArgsError here.
    try:
        return kind.FromString(data)
    except DecodeError as exc:
        raise ImError(ErrCode.ArgsError, f"data is not a valid {kind.__name__}") from exc


def _owner(ctx: GatewayContext, conn: Connection, user_id: str) -> str:
    """CheckAccessV3: the request's userID must be the connection's user, or an admin asks."""
    user_id = user_id or conn.user_id
    if user_id != conn.user_id and conn.user_id not in ctx.settings.admin_user_ids:
        raise ImError(ErrCode.NoPermissionError, f"userID {user_id} is not the connection's user")
    return user_id


async def _get_newest_seq(ctx: GatewayContext, conn: Connection, req: WsReq) -> Reply:
    body = _parse(pb.GetMaxSeqReq, req.data)
    user_id = _owner(ctx, conn, body.userID)
    resp = await ctx.reads.run(lambda tx: sync.read_newest_seq(tx, user_id))
    return Reply(resp.SerializeToString())


async def _pull_by_range(ctx: GatewayContext, conn: Connection, req: WsReq) -> Reply:
    body = _parse(pb.PullMessageBySeqsReq, req.data)
    async with ctx.reader() as session:
        resp = await sync.pull_by_range(session, _owner(ctx, conn, body.userID), body, ctx.settings.pull_faults)
    return Reply(resp.SerializeToString())


async def _pull_by_seqs(ctx: GatewayContext, conn: Connection, req: WsReq) -> Reply:
    body = _parse(pb.GetSeqMessageReq, req.data)
    async with ctx.reader() as session:
        resp = await sync.get_seq_message(session, _owner(ctx, conn, body.userID), body)
    return Reply(resp.SerializeToString())


async def _conv_max_read_seq(ctx: GatewayContext, conn: Connection, req: WsReq) -> Reply:
    body = _parse(pb.GetConversationsHasReadAndMaxSeqReq, req.data)
    user_id = _owner(ctx, conn, body.userID)
    resp = await ctx.reads.run(lambda tx: sync.read_has_read_and_max_seq(tx, user_id, body))
    return Reply(resp.SerializeToString())


async def _last_message(ctx: GatewayContext, conn: Connection, req: WsReq) -> Reply:
    body = _parse(pb.GetLastMessageReq, req.data)
    async with ctx.reader() as session:
        resp = await sync.get_last_message(session, _owner(ctx, conn, body.userID), body)
    return Reply(resp.SerializeToString())


async def _send_msg(ctx: GatewayContext, conn: Connection, req: WsReq) -> Reply:
    msg = _parse(pb.MsgData, req.data)
    outcome = await send_message(
        msg,
        sender=conn.user_id,
        settings=ctx.settings,
        sessionmaker=ctx.sessionmaker,
        is_blocked=ctx.is_blocked,
        group_chat=ctx.group_chat,
    )

    async def push() -> None:
        delay = ctx.settings.own_copy_push_delay
        pusher = _OwnCopyLater(ctx.hub, conn.user_id, delay) if delay > 0 else ctx.hub
        await outcome.push(pusher, req.operation_id)

    return Reply(outcome.resp.SerializeToString(), after=push)


@dataclass(frozen=True, slots=True)
class _OwnCopyLater:
    """A Pusher that holds the sender's own copy back a random 0..`delay` seconds
    (ImServerSettings.own_copy_push_delay); everyone else gets theirs at once."""

    hub: Hub
    sender: str
    delay: float

    async def push(self, user_ids: Iterable[str], msg: pb.MsgData, operation_id: str) -> None:
        users = list(dict.fromkeys(user_ids))
        await self.hub.push([u for u in users if u != self.sender], msg, operation_id)
        if self.sender in users:
            self.hub.push_later(random.uniform(0, self.delay), [self.sender], msg, operation_id)


async def _send_signal_msg(ctx: GatewayContext, conn: Connection, req: WsReq) -> Reply:
    # SendSignalMessage forwards a nil request: msg.SendMsg answers "msgData is nil".
    raise ImError(ErrCode.ArgsError, "msgData is nil")


async def _logout(ctx: GatewayContext, conn: Connection, req: WsReq) -> Reply:
    # DelUserPushToken drops the offline-push token (none here); replyMessage then
    # ends the read loop, so the socket closes after the answer.
    body = _parse(pb.DelUserPushTokenReq, req.data)
    if body.userID == conn.user_id and body.platformID == conn.platform_id:
        ctx.hub.stats.push_tokens_dropped += 1
    return Reply(pb.DelUserPushTokenResp().SerializeToString(), close=True)


async def _set_background(ctx: GatewayContext, conn: Connection, req: WsReq) -> Reply:
    conn.background = _parse(pb.SetAppBackgroundStatusReq, req.data).isBackground
    return Reply()


async def _sub_online_status(ctx: GatewayContext, conn: Connection, req: WsReq) -> Reply:
    body = _parse(pb.SubUserOnlineStatus, req.data)
    ctx.hub.subscribe(conn, body.subscribeUserID, body.unsubscribeUserID)
    return Reply(ctx.hub.status_tips(body.subscribeUserID).SerializeToString())


HANDLERS: dict[int, Handler] = {
    ReqIdentifier.GET_NEWEST_SEQ: _get_newest_seq,
    ReqIdentifier.PULL_MSG_BY_RANGE: _pull_by_range,
    ReqIdentifier.SEND_MSG: _send_msg,
    ReqIdentifier.SEND_SIGNAL_MSG: _send_signal_msg,
    ReqIdentifier.PULL_MSG_BY_SEQ_LIST: _pull_by_seqs,
    ReqIdentifier.GET_CONV_MAX_READ_SEQ: _conv_max_read_seq,
    ReqIdentifier.PULL_CONV_LAST_MESSAGE: _last_message,
    ReqIdentifier.LOGOUT_MSG: _logout,
    ReqIdentifier.SET_BACKGROUND_STATUS: _set_background,
    ReqIdentifier.SUB_USER_ONLINE_STATUS: _sub_online_status,
}


async def handle_request(ctx: GatewayContext, conn: Connection, handler: Handler, req: WsReq) -> tuple[WsResp, Reply]:
    """Run one handler and build the answer envelope (replyMessage)."""
    resp = WsResp(req.req_identifier, req.msg_incr, req.operation_id)
    try:
        reply = await handler(ctx, conn, req)
    except ImError as exc:
        resp.err_code, resp.err_msg = int(exc.code), exc.code.name
        return resp, Reply()
    except Exception:
        log.exception("gateway handler %s failed (operationID %s)", req.req_identifier, req.operation_id)
        resp.err_code, resp.err_msg = int(ErrCode.ServerInternalError), ErrCode.ServerInternalError.name
        return resp, Reply()
    resp.data = reply.data
    return resp, reply
