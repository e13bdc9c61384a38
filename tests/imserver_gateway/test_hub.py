"""Hub: push delivery, kicks (multi-login and force logout), online status, policies."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from core.protocol import openim_pb2 as pb
from core.protocol.constants import ReqIdentifier
from imserver.gateway.hub import connections_to_kick
from imserver.settings import ImServerSettings
from tests.imserver_gateway.harness import Client, Env, gateway_env, text_msg, within


async def expect_kick(client: Client) -> None:
    resp = await client.next_server_frame()
    assert (resp.req_identifier, resp.data, resp.msg_incr) == (ReqIdentifier.KICK_ONLINE_MSG, b"", "")
    with pytest.raises(ConnectionClosed):
        await within(client.ws.recv())
    assert client.ws.close_code == 1000


async def test_push_reaches_every_connection_of_each_user(env: Env) -> None:
    async with (
        env.client("u1", 2) as android,
        env.client("u1", 3, sdk="go", gzip=True) as windows,
        env.client("u2", 5) as web,
        env.client("u3") as bystander,
    ):
        msg = text_msg("u2", "u1", "c1")
        msg.seq = 7
        await env.hub.push(["u1", "u2", "u1"], msg, "op-push")
        for client in (android, windows, web):
            resp = await client.next_server_frame()
            assert (resp.req_identifier, resp.operation_id, resp.msg_incr) == (2001, "op-push", "")
            push = pb.PushMessages.FromString(resp.data)
            assert list(push.msgs) == ["si_u1_u2"] and not push.notificationMsgs
            assert list(push.msgs["si_u1_u2"].Msgs) == [msg]
        # u3 got nothing: its next frame is the answer to its own request.
        assert (await bystander.request(ReqIdentifier.SET_BACKGROUND_STATUS)).msg_incr == "u3_1"
        assert bystander.pushes.empty()


async def test_notification_push_uses_the_n_conversation(env: Env) -> None:
    async with env.client("u1") as u1:
        msg = text_msg("u2", "u1", "n1", opts={"isNotNotification": False})
        msg.contentType = 1203
        await env.hub.push(["u1"], msg, "op")
        push = pb.PushMessages.FromString((await u1.next_server_frame()).data)
        assert list(push.notificationMsgs) == ["n_u1_u2"] and not push.msgs
        msg = text_msg("sys", "u1", "s1")
        msg.sessionType = 4
        await env.hub.push(["u1"], msg, "op")
        assert list(pb.PushMessages.FromString((await u1.next_server_frame()).data).msgs) == ["sn_sys_u1"]


async def test_ios_in_background_gets_no_push(env: Env) -> None:
    async with env.client("u1", 1) as ios, env.client("u1", 2) as android:
        body = pb.SetAppBackgroundStatusReq(userID="u1", isBackground=True)
        assert (await ios.request(ReqIdentifier.SET_BACKGROUND_STATUS, body)).err_code == 0
        await env.hub.push(["u1"], text_msg("u2", "u1", "c1"), "op")
        assert (await android.next_push()).clientMsgID == "c1"
        body.isBackground = False
        await ios.request(ReqIdentifier.SET_BACKGROUND_STATUS, body)
        assert ios.pushes.empty()  # nothing arrived while in background
        await env.hub.push(["u1"], text_msg("u2", "u1", "c2"), "op")
        assert (await ios.next_push()).clientMsgID == "c2"


async def test_second_login_with_another_token_kicks_the_first(env: Env) -> None:
    first_token = env.tokens.mint("u1", 2)
    async with env.client("u1", 2, token=first_token) as first:
        second_token = env.tokens.mint("u1", 2)
        async with env.client("u1", 2, token=second_token) as second, env.client("u1", 3):
            await expect_kick(first)
            assert env.tokens.kick_calls == [("u1", 2, second_token)]
            assert first_token in env.tokens.kicked and second_token not in env.tokens.kicked
            android, _ = env.hub.connections("u1")
            assert android.token == second_token
            assert env.hub.online_platforms("u1") == [2, 3]
            assert (await second.request(ReqIdentifier.SET_BACKGROUND_STATUS)).err_code == 0
            assert env.hub.stats.kicks == 1


async def test_second_login_with_the_same_token_kicks_nobody(env: Env) -> None:
    token = env.tokens.mint("u1", 2)
    async with env.client("u1", 2, token=token) as first, env.client("u1", 2, token=token) as second:
        assert len(env.hub.connections("u1")) == 2
        for client in (first, second):
            assert (await client.request(ReqIdentifier.SET_BACKGROUND_STATUS)).err_code == 0
        assert env.hub.stats.kicks == 0
        assert token not in env.tokens.kicked


async def test_policy_zero_kicks_nobody(tmp_path: Path) -> None:
    settings = ImServerSettings(data_dir=tmp_path, multi_login_policy=0)
    async with gateway_env(tmp_path, settings) as env, env.client("u1") as first, env.client("u1"):
        assert len(env.hub.connections("u1")) == 2 and env.tokens.kick_calls == []
        assert (await first.request(ReqIdentifier.SET_BACKGROUND_STATUS)).err_code == 0


async def test_force_logout_kick(env: Env) -> None:
    async with env.client("u1", 2) as android, env.client("u1", 3) as pc:
        keep = env.hub.connections("u1")[1].token
        await env.hub.kick("u1", 3, except_token=keep)
        await env.hub.kick("u1", 2)
        await expect_kick(android)
        assert env.hub.online_platforms("u1") == [3]
        assert (await pc.request(ReqIdentifier.SET_BACKGROUND_STATUS)).err_code == 0


async def test_online_status_subscription(env: Env) -> None:
    async with env.client("watcher") as watcher:
        sub = pb.SubUserOnlineStatus(subscribeUserID=["u1"])
        tips = await watcher.call(ReqIdentifier.SUB_USER_ONLINE_STATUS, sub, pb.SubUserOnlineStatusTips)
        assert [(e.userID, list(e.onlinePlatformIDs)) for e in tips.subscribers] == [("u1", [])]
        async with env.client("u1", 5):
            change = await watcher.next_server_frame()
            assert change.req_identifier == 2005
            elem = pb.SubUserOnlineStatusTips.FromString(change.data).subscribers
            assert [(e.userID, list(e.onlinePlatformIDs)) for e in elem] == [("u1", [5])]
            async with env.client("u1", 2):
                elem = pb.SubUserOnlineStatusTips.FromString((await watcher.next_server_frame()).data).subscribers
                assert list(elem[0].onlinePlatformIDs) == [2, 5]
        # Leaving: [2] then [] (the order of the two closes is the order above).
        seen: list[list[int]] = []
        while not seen or seen[-1]:
            resp = await watcher.next_server_frame()
            seen.append(list(pb.SubUserOnlineStatusTips.FromString(resp.data).subscribers[0].onlinePlatformIDs))
        assert seen[-1] == []
        unsub = pb.SubUserOnlineStatus(unsubscribeUserID=["u1"])
        assert (await watcher.request(ReqIdentifier.SUB_USER_ONLINE_STATUS, unsub)).err_code == 0
        async with env.client("u1", 2):
            assert (await watcher.request(ReqIdentifier.SET_BACKGROUND_STATUS)).err_code == 0
            assert watcher.pushes.empty()


@dataclass(frozen=True)
class T:
    platform_id: int
    token: str


@pytest.mark.parametrize(
    ("policy", "new", "kicked"),
    [
        (0, T(2, "n"), []),
        (1, T(2, "n"), ["android"]),
        (1, T(2, "a"), []),  # same token: reconnect of the same client
        (4, T(1, "n"), ["android"]),  # same class (Mobile)
        (4, T(7, "n"), ["windows"]),  # same class (PC)
        (5, T(1, "n"), ["android", "web"]),  # PC and one other terminal
        (5, T(4, "n"), []),  # PCs never kick
    ],
)
def test_multi_login_policies(policy: int, new: T, kicked: list[str]) -> None:
    existing = {"android": T(2, "a"), "windows": T(3, "w"), "web": T(5, "b")}
    out = connections_to_kick(policy, list(existing.values()), new)
    assert [name for name, t in existing.items() if t in out] == kicked
