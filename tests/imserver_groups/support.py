"""Group tests' toolkit: a real imserver, users with tokens, and gateway clients that keep reading.

`GwClient` reads its socket in a background task (a group test pushes hundreds
of frames; a client that reads only on demand would let the server's bounded
write queue overflow). `drain()` is the barrier tests wait on: it sends a text
heartbeat and returns every push that arrived before the matching pong. The
gateway writes pushes and pongs through one queue in order, and the HTTP API
answers only after its notifications are queued, so after an HTTP call returns
`drain()` yields exactly the pushes that call caused.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlencode

from google.protobuf.message import Message
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from core.protocol import openim_pb2 as pb
from core.protocol.constants import ReqIdentifier
from core.protocol.envelope import WsReq, WsResp, decode_json_resp, encode_json_req
from tests.imserver.conftest import ImServer
from tests.imserver_gateway.harness import DEADLINE, within
from tests.support.imadmin import envelope

__all__ = ["Group", "GwClient", "Kit", "Peer", "Push", "tips_of"]

M = TypeVar("M", bound=Message)
PAGE = {"pageNumber": 1, "showNumber": 100}


def tips_of(msg: pb.MsgData) -> dict[str, Any]:
    """The tips object inside a notification's NotificationElem.detail."""
    detail: dict[str, Any] = json.loads(json.loads(msg.content)["detail"])
    return detail


@dataclass(frozen=True)
class Push:
    """One 2001 frame: its operationID, conversation, and the one message it carries."""

    operation_id: str
    conversation_id: str
    notification: bool
    msg: pb.MsgData

    @property
    def content_type(self) -> int:
        return self.msg.contentType

    @property
    def tips(self) -> dict[str, Any]:
        return tips_of(self.msg)


class GwClient:
    """A JSON-envelope (sdkType=js) gateway connection with a reader task."""

    def __init__(self, ws: ClientConnection, user_id: str) -> None:
        self.ws = ws
        self.user_id = user_id
        self._incr = itertools.count(1)
        self._answers: dict[str, asyncio.Future[WsResp]] = {}
        self._pongs: dict[str, asyncio.Event] = {}
        self._pushes: list[Push] = []
        self._reader = asyncio.create_task(self._read(), name=f"gw-reader-{user_id}")

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                if isinstance(frame, str):
                    body = json.loads(frame).get("body")
                    if isinstance(body, str) and body in self._pongs:
                        self._pongs.pop(body).set()
                    continue
                resp = decode_json_resp(frame)
                waiter = self._answers.pop(resp.msg_incr, None)
                if waiter is not None:
                    waiter.set_result(resp)
                elif resp.req_identifier == ReqIdentifier.PUSH_MSG:
                    self._pushes.extend(_unpack(resp))
        except ConnectionClosed:
            pass

    async def close(self) -> None:
        await self.ws.close()
        await self._reader

    async def request(self, ident: int, body: Message) -> WsResp:
        msg_incr = f"{self.user_id}_{next(self._incr)}"
        waiter: asyncio.Future[WsResp] = asyncio.get_running_loop().create_future()
        self._answers[msg_incr] = waiter
        req = WsReq(ident, self.user_id, f"op-{msg_incr}", msg_incr, body.SerializeToString())
        await self.ws.send(encode_json_req(req))
        return await within(waiter)

    async def call(self, ident: int, body: Message, kind: type[M]) -> M:
        resp = await self.request(ident, body)
        assert resp.err_code == 0, (resp.err_code, resp.err_msg)
        return kind.FromString(resp.data)

    async def drain(self) -> list[Push]:
        """Every push received so far, up to a heartbeat round trip."""
        token = uuid.uuid4().hex
        event = self._pongs[token] = asyncio.Event()
        await self.ws.send(json.dumps({"type": "ping", "body": token}))
        await within(event.wait())
        pushes, self._pushes = self._pushes, []
        return pushes

    async def wait_pushes(self, count: int, timeout: float = DEADLINE) -> list[Push]:
        """Drain until `count` pushes arrived (for pushes caused by another connection's request)."""
        got: list[Push] = []
        deadline = asyncio.get_running_loop().time() + timeout
        while len(got) < count:
            got += await self.drain()
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{self.user_id}: {len(got)} of {count} pushes")
        return got


def _unpack(resp: WsResp) -> list[Push]:
    push = pb.PushMessages.FromString(resp.data)
    out = []
    for notification, entries in ((False, push.msgs), (True, push.notificationMsgs)):
        for conversation_id, pulled in entries.items():
            out += [Push(resp.operation_id, conversation_id, notification, m) for m in pulled.Msgs]
    return out


@dataclass
class Peer:
    user_id: str
    token: str
    gw: GwClient


@dataclass
class Group:
    group_id: str
    owner: Peer
    members: list[Peer] = field(default_factory=list)

    @property
    def everyone(self) -> list[Peer]:
        return [self.owner, *self.members]


@dataclass
class Kit:
    """The running imserver plus helpers; `stack` closes the gateway clients."""

    im: ImServer
    stack: AsyncExitStack

    async def call(self, route: str, body: Any, who: Peer | str, op: str | None = None) -> Any:
        token = who.token if isinstance(who, Peer) else who
        return await self.im.call(route, body, token, op)

    async def code(self, route: str, body: Any, who: Peer | str) -> int:
        token = who.token if isinstance(who, Peer) else who
        result = await envelope(self.im.http, self.im.api_url, route, body, token)
        value: int = result["errCode"]
        return value

    async def peers(self, n: int) -> list[Peer]:
        ids = await self.im.users(n, prefix="g")
        out = []
        for user_id in ids:
            token = await self.im.token(user_id)
            gw = await self.stack.enter_async_context(_connect(self.im.running.ws_url, user_id, token))
            out.append(Peer(user_id, token, gw))
        return out

    async def group(self, owner: Peer, members: list[Peer], **info: Any) -> Group:
        body = {
            "ownerUserID": owner.user_id,
            "memberUserIDs": [m.user_id for m in members],
            "groupInfo": {"groupType": 2, "groupName": "g", **info},
        }
        data = await self.call("/group/create_group", body, owner)
        group = Group(data["groupInfo"]["groupID"], owner, list(members))
        await self.drain(group.everyone)
        return group

    async def drain(self, peers: list[Peer]) -> dict[str, list[Push]]:
        return {p.user_id: await p.gw.drain() for p in peers}

    async def send(self, peer: Peer, group_id: str, client_msg_id: str, text: str = "hi", **extra: Any) -> WsResp:
        msg = group_text(peer.user_id, group_id, client_msg_id, text)
        for key, value in extra.items():
            if key == "atUserIDList":
                msg.atUserIDList.extend(value)
            else:
                setattr(msg, key, value)
        return await peer.gw.request(ReqIdentifier.SEND_MSG, msg)


def group_text(send_id: str, group_id: str, client_msg_id: str, text: str = "hi") -> pb.MsgData:
    return pb.MsgData(
        sendID=send_id,
        groupID=group_id,
        clientMsgID=client_msg_id,
        senderPlatformID=5,
        sessionType=3,
        msgFrom=100,
        contentType=101,
        content=json.dumps({"content": text}).encode(),
        createTime=1,
    )


@asynccontextmanager
async def _connect(ws_url: str, user_id: str, token: str) -> AsyncIterator[GwClient]:
    query = urlencode(
        {
            "sendID": user_id,
            "token": token,
            "platformID": "5",
            "operationID": "op-connect",
            "sdkType": "js",
            "isBackground": "false",
        }
    )
    async with connect(f"{ws_url}/?{query}", max_size=None, compression=None) as ws:
        client = GwClient(ws, user_id)
        await client.drain()  # registered once a heartbeat round trip is done
        try:
            yield client
        finally:
            await client.close()
