"""Core on its own: an httpx MockTransport for the HTTP API and a scripted
WebSocket gateway on loopback (issue 11).

What is checked is core's own logic, with nothing else running: the login
sequence and its callbacks (openim-v3.md 5.9), the headers every API call
carries, delivery of pushed messages exactly once, a kick, a failed sync.
End-to-end behaviour against the imserver is in tests/e2e.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from websockets.asyncio.server import ServerConnection, serve

from core.core import Core, CoreConfig
from core.errors import SdkError
from core.events import Event
from core.protocol.constants import ReqIdentifier
from core.protocol.envelope import WsResp, decode_json_req, encode_json_resp, gunzip, is_gzip
from core.protocol.errcodes import ErrCode
from core.protocol.openim_pb2 import MsgData, PullMsgs, PushMessages
from core.registry import all_functions
from core.transport.api import ApiClient
from core.transport.gateway import GatewayOptions
from tests.support.wait import until

SELF, PEER = "alice", "bob"


@dataclass
class Upstream:
    """The HTTP side: every route answers an empty success unless `answers` says otherwise."""

    seen: list[httpx.Request] = field(default_factory=list)
    fail: dict[str, Any] | None = None  # set: every route answers this error envelope

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return httpx.Response(200, json=self.fail or {"errCode": 0, "errMsg": "", "data": {}})

    def routes(self) -> list[str]:
        return [r.url.path for r in self.seen]


@dataclass
class Gateway:
    """The WebSocket side: answers each request with an empty protobuf; `push` sends to the client."""

    url: str = ""
    sockets: list[ServerConnection] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)

    async def handler(self, ws: ServerConnection) -> None:
        self.sockets.append(ws)
        async for frame in ws:
            assert isinstance(frame, bytes)
            req = decode_json_req(gunzip(frame) if is_gzip(frame) else frame)
            self.requests.append(req.req_identifier)
            # An empty message decodes as the zero value of every response type (no seqs, no msgs).
            await ws.send(encode_json_resp(WsResp(req.req_identifier, req.msg_incr, req.operation_id)))

    async def send(self, resp: WsResp) -> None:
        await self.sockets[-1].send(encode_json_resp(resp))


def text_message(seq: int, text: str) -> MsgData:
    return MsgData(
        sendID=PEER,
        recvID=SELF,
        clientMsgID=f"client-{seq}",
        serverMsgID=f"server-{seq}",
        senderPlatformID=5,
        sessionType=1,
        msgFrom=100,
        contentType=101,
        content=json.dumps({"content": text}).encode(),
        seq=seq,
        sendTime=1_700_000_000_000 + seq,
        createTime=1_700_000_000_000 + seq,
        status=2,
    )


def push_of(*msgs: MsgData) -> WsResp:
    conv = f"si_{PEER}_{SELF}"  # OpenIM's single-chat conversationID: the two IDs sorted
    push = PushMessages(msgs={conv: PullMsgs(Msgs=list(msgs))})
    return WsResp(ReqIdentifier.PUSH_MSG, "", "op-push", data=push.SerializeToString())


@dataclass
class Rig:
    core: Core
    upstream: Upstream
    gateway: Gateway
    events: list[Event]
    ended: list[int]

    def callbacks(self) -> list[str]:
        return [e.callback for e in self.events]


@asynccontextmanager
async def rig() -> AsyncIterator[Rig]:
    upstream, gateway = Upstream(), Gateway()
    events: list[Event] = []
    ended: list[int] = []

    async def sink(event: Event) -> None:
        events.append(event)

    async def on_end(code: int) -> None:
        ended.append(code)

    async with (
        serve(gateway.handler, "127.0.0.1", 0, compression=None) as server,
        httpx.AsyncClient(transport=httpx.MockTransport(upstream.handle)) as http,
    ):
        gateway.url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        config = CoreConfig("http://upstream.test", gateway.url, 5, gateway=GatewayOptions(backoff=(0.01,)))
        core = Core(config, http=http, sink=sink, on_end=on_end)
        try:
            yield Rig(core, upstream, gateway, events, ended)
        finally:
            await core.abandon()


async def test_login_connects_syncs_and_reports_it_in_the_sdk_order() -> None:
    async with rig() as r:
        await r.core.login(SELF, "user-token", "op-login")
        calls = r.callbacks()
        assert calls.index("OnConnecting") < calls.index("OnConnectSuccess") < calls.index("OnSyncServerStart")
        assert calls.index("OnSyncServerStart") < calls.index("OnSyncServerFinish")
        assert "OnSyncServerFailed" not in calls
        # Every API call carries the user's token and the login's operationID (openim-v3.md 1.1).
        assert r.upstream.seen, "the login syncs over the HTTP API"
        for request in r.upstream.seen:
            assert request.headers["token"] == "user-token"
            assert request.headers["operationID"] == "op-login"
            assert request.method == "POST"
        assert "/friend/get_full_friend_user_ids" in r.upstream.routes() or any(
            route.startswith("/friend/") for route in r.upstream.routes()
        )
        assert ReqIdentifier.GET_NEWEST_SEQ in r.gateway.requests  # the message sync asks for max seqs
        assert r.core.dead_tasks() == []


async def test_a_second_login_is_refused() -> None:
    async with rig() as r:
        await r.core.login(SELF, "user-token", "op-login")
        with pytest.raises(SdkError) as caught:
            await r.core.login(SELF, "user-token", "op-again")
        assert caught.value.code == ErrCode.LoginRepeatError


async def test_a_pushed_message_is_delivered_once_even_when_pushed_twice() -> None:
    async with rig() as r:
        await r.core.login(SELF, "user-token", "op-login")
        await r.gateway.send(push_of(text_message(1, "hello")))
        await r.gateway.send(push_of(text_message(1, "hello")))  # the server may repeat a push
        await r.gateway.send(push_of(text_message(2, "again")))

        async def two_messages() -> list[Event] | None:
            got = [e for e in r.events if e.callback == "OnRecvNewMessage"]
            return got if len(got) >= 2 else None

        got = await until(two_messages, "two OnRecvNewMessage events")
        assert [e.data["seq"] for e in got] == [1, 2]
        assert got[0].data["textElem"]["content"] == "hello"
        assert got[0].marks == ((f"si_{PEER}_{SELF}", 1),)  # delivery progress rides on the event
        assert r.core.stats.pushed == 3


async def test_a_kick_ends_the_core_with_on_kicked_offline() -> None:
    async with rig() as r:
        await r.core.login(SELF, "user-token", "op-login")
        await r.gateway.send(WsResp(ReqIdentifier.KICK_ONLINE_MSG, "", "op-kick"))
        await until(lambda: _some(r.ended), "the core to end")
        assert "OnKickedOffline" in r.callbacks()
        assert r.ended == [ErrCode.TokenKickedError]


async def test_a_failed_sync_fails_the_login_and_closes_the_socket() -> None:
    async with rig() as r:
        r.upstream.fail = {"errCode": ErrCode.ServerInternalError, "errMsg": "boom", "errDlt": ""}
        with pytest.raises(SdkError) as caught:
            await r.core.login(SELF, "user-token", "op-login")
        assert caught.value.code == ErrCode.ServerInternalError
        assert "OnSyncServerFailed" in r.callbacks()
        assert r.core.gateway is None
        await until(lambda: _some([ws for ws in r.gateway.sockets if ws.close_code is not None]), "the socket closed")


async def test_a_token_error_on_a_call_ends_the_session_with_its_callback() -> None:
    async with rig() as r:
        await r.core.login(SELF, "user-token", "op-login")
        r.upstream.fail = {"errCode": ErrCode.TokenExpiredError, "errMsg": "expired", "errDlt": ""}
        with pytest.raises(SdkError):
            fn = all_functions()["GetSelfUserInfo"]
            await r.core.call(fn, fn.params(), "op-call")
        await until(lambda: _some(r.ended), "the core to end")
        assert "OnUserTokenExpired" in r.callbacks()


async def _some(items: list[Any]) -> bool | None:
    return True if items else None


def group_tips(content_type: int, group_id: str, **tips: Any) -> MsgData:
    detail = json.dumps({"group": {"groupID": group_id, "groupName": "short-lived"}, **tips})
    content = json.dumps({"detail": detail}).encode()
    return MsgData(sendID="admin", groupID=group_id, sessionType=4, contentType=content_type, content=content)


async def test_a_group_joined_and_left_unseen_is_remembered_across_a_checkpoint() -> None:
    """The join tips of a group no sync listed are kept in the checkpoint: a core revived
    between the join and the kick still reports the kick (core/modules/group_tips.py)."""
    async with rig() as first:
        await first.core.login(SELF, "user-token", "op-login")
        await first.core.group.on_notification(group_tips(1501, "g1", memberList=[{"userID": SELF}]), "op-n1")
        saved = first.core.group.snapshot()
    assert [g["groupID"] for g in saved["unseen"]] == ["g1"]
    async with rig() as revived:
        await revived.core.login(SELF, "user-token", "op-login")
        revived.core.group.restore(json.loads(json.dumps(saved)))
        await revived.core.group.on_notification(group_tips(1508, "g1", kickedUserList=[{"userID": SELF}]), "op-n2")
        gone = [e for e in revived.events if e.callback == "OnJoinedGroupDeleted"]
        assert [(e.data["groupID"], e.data["memberCount"]) for e in gone] == [("g1", 0)]


async def test_a_new_conversation_asked_for_at_once_is_made_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # Concurrent sends into a new conversation (issue 14): one name fetch, one conversation,
    # so what each send applies to it lands on the one the core keeps.
    async with rig() as r:
        await r.core.login(SELF, "user-token", "op-login")
        conv_id = f"si_{PEER}_{SELF}"
        post, release, fetches = ApiClient.post, asyncio.Event(), []

        async def held_post(api: ApiClient, path: str, body: dict[str, Any], operation_id: str) -> Any:
            fetches.append(path)
            await release.wait()  # the fake upstream answers at once: hold it, as a real one would
            return await post(api, path, body, operation_id)

        monkeypatch.setattr(ApiClient, "post", held_post)  # ApiClient has slots: not per instance
        tasks = [asyncio.create_task(r.core.conversation.ensure(conv_id, 1, PEER, "")) for _ in range(5)]
        await asyncio.sleep(0)  # one turn of the loop: every task runs up to where it waits
        release.set()
        made = await asyncio.gather(*tasks)
        assert all(c is r.core.conversation.convs[conv_id] for c in made)
        assert fetches == ["/user/get_users_info"]
