"""Changes made while a session is away reach it by version sync, once (issue 13).

OpenIM's default notification.yml makes group-member and conversation-setting
notifications online only (imserver/notify.py), so a session that is parked,
or whose gateway socket is down, never gets them: only the versioned
incremental sync at revival or reconnect (core/modules/group_sync.py,
conversation_sync.py) can tell it. REST + SSE only: Alice's session lives on
a bridge whose gateway traffic goes through a relay the test cuts; the other
users, and Alice's other device, use a second bridge on the same imserver.
Every kind of change the SDK's incremental sync covers is made in one gap, on
its own group or conversation, so one gap per mode checks them all.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from imserver.server import run_imserver
from imserver.settings import ImServerSettings
from tests.support.clock import MovableClock
from tests.support.imadmin import ADMIN_SECRET
from tests.support.sseclient import SseEvent, SseReader
from tests.support.stack import Bridge, BridgeUser, Stack, run_bridge
from tests.support.tcprelay import TcpRelay, tcp_relay
from tests.support.wait import wait_until

GROUP_KINDS = ("join", "kick", "quit", "role", "mute", "nickname", "info")
CONV_KINDS = ("pin", "recvMsgOpt", "privateChat", "burnDuration")


@dataclass
class World:
    subject: Stack  # Alice's session: its gateway socket goes through `relay`
    actors: Stack  # everyone else, and Alice's other device
    relay: TcpRelay


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    tmp: Path = tmp_path_factory.mktemp("version-sync")
    im_clock = MovableClock()
    ims = replace(ImServerSettings(data_dir=tmp / "imserver", secret=ADMIN_SECRET, clock=im_clock))
    async with contextlib.AsyncExitStack() as stack:
        srv = await stack.enter_async_context(run_imserver(ims, api_port=0, ws_port=0))
        ws = urlsplit(srv.ws_url)
        relay = await stack.enter_async_context(tcp_relay(ws.hostname or "127.0.0.1", ws.port or 0))
        relayed = f"ws://127.0.0.1:{relay.port}"
        clocks = MovableClock(wall=False), MovableClock(wall=False)
        subject = await stack.enter_async_context(
            run_bridge(srv.api_url, relayed, tmp / "subject", clocks[0], idle_park_seconds=60.0, sweep_interval=3600.0)
        )
        actors = await stack.enter_async_context(run_bridge(srv.api_url, srv.ws_url, tmp / "actors", clocks[1]))
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=30.0))
        yield World(
            Stack(srv.api_url, relayed, subject, im_clock, clocks[0], http, srv),
            Stack(srv.api_url, srv.ws_url, actors, im_clock, clocks[1], http, srv),
            relay,
        )


def _keys(ev: SseEvent) -> list[tuple[str, ...]]:
    """What one event is about: (callback, groupID, userID) or (callback, conversationID)."""
    data = ev.json["data"]
    if ev.event == "OnConversationChanged":
        return [(ev.event, c["conversationID"]) for c in data]
    if ev.event in ("OnRecvNewMessage", "OnRecvOnlineOnlyMessage"):
        return [(ev.event, data["clientMsgID"])]
    if ev.event.startswith("OnGroup") or ev.event.startswith("OnJoinedGroup"):
        return [(ev.event, data["groupID"], data.get("userID", ""))]
    if ev.event.startswith("OnConnect") or ev.event.startswith("OnSyncServer"):
        return []  # the connection's own callbacks repeat with every redial
    return [(ev.event,)]


def _latest(window: list[SseEvent], key: tuple[str, ...]) -> Any:
    for ev in reversed(window):
        data = ev.json["data"]
        if ev.event == key[0] and key in _keys(ev):
            if ev.event == "OnConversationChanged":
                return next(c for c in data if c["conversationID"] == key[1])
            return data
    return None


async def _text(sender: BridgeUser, to: str, text: str) -> None:
    msg = await sender.call("/v1/message/create_text_message", {"text": text})
    await sender.call("/v1/message/send_message", {"message": msg, "recvID": to})


async def _forget_versions(bridge: Bridge, user_id: str) -> None:
    """Make the parked session's checkpoint one written before issue 13: no list versions."""
    data = await bridge.checkpoints.load(user_id, 5)
    assert data is not None and data["group"].pop("versions") and data["conversation"].pop("version")
    assert await bridge.checkpoints.save(user_id, 5, data)


# parked: revival from the checkpoint; cut: the same core reconnecting; old-checkpoint:
# revival from a checkpoint without versions, so every answer is `full` and diffed.
@pytest.mark.parametrize("gap", ["parked", "cut", "old-checkpoint"])
async def test_changes_made_in_a_gap_arrive_once_by_version_sync(world: World, gap: str) -> None:
    subject, actors = world.subject, world.actors
    alice_id, bob_id, carol_id, dave_id, erin_id, frank_id = await actors.new_users(6, prefix=f"vs{gap[:2]}")
    alice = await subject.login(alice_id)
    others = (bob_id, carol_id, dave_id, erin_id, frank_id)
    bob, carol, dave, erin, frank = await asyncio.gather(*(actors.login(u) for u in others))
    s = await alice.stream()
    s2: SseReader | None = None
    try:
        # One group per kind of member change, one single chat per kind of setting.
        made = await asyncio.gather(
            *(
                carol.call(
                    "/v1/group/create_group",
                    {
                        "memberUserIDs": [alice_id] if k in ("info", "role") else [alice_id, bob_id],
                        "groupInfo": {"groupName": k},
                    },
                )
                for k in GROUP_KINDS
            )
        )
        groups = {k: m["groupID"] for k, m in zip(GROUP_KINDS, made, strict=True)}
        peers = dict(zip(CONV_KINDS, (bob, carol, dave, erin), strict=True))
        await asyncio.gather(*(_text(peer, alice_id, "hello") for peer in peers.values()))
        await s.wait_for("OnJoinedGroupAdded", count=len(GROUP_KINDS))
        await s.wait_for("OnRecvNewMessage", count=len(peers))
        convs = {k: "si_" + "_".join(sorted((alice_id, p.user_id))) for k, p in peers.items()}
        # Before the gap, every conversation is announced (a group's comes with its
        # creation notification, which may trail OnJoinedGroupAdded) and the unread
        # total has settled: what arrives late must not be taken for the sync's work.
        everyone = {*convs.values(), *("sg_" + gid for gid in groups.values())}

        def announced() -> bool:
            seen = {c["conversationID"] for e in s.named("OnNewConversation") for c in e.json["data"]}
            return everyone <= seen

        await wait_until(announced, what="every conversation announced on Alice's stream")
        settled = await alice.call("/v1/conversation/get_total_unread_msg_count")
        await s.wait_for("OnTotalUnreadMessageCountChanged", lambda e: e["data"] == settled)
        other_device = await actors.login(alice_id, platform_id=2)
        for peer in peers.values():  # on Alice's other device too
            await other_device.call(
                "/v1/conversation/get_one_conversation", {"sessionType": 1, "sourceID": peer.user_id}
            )

        # The gap.
        mark = len(s.events)
        handle = subject.bridge.pool.handle(alice.session_id)
        assert handle is not None
        if gap != "cut":
            last = s.events[-1].id
            await s.close()
            await wait_until(lambda: handle.streams == 0, what="the bridge to see Alice's stream closed")
            subject.bridge_clock.advance(61)
            await subject.bridge.pool.sweep()
            assert (await alice.session())["state"] == "parked"
            if gap == "old-checkpoint":
                await _forget_versions(subject.bridge, alice_id)
        else:
            gw = subject.bridge.core(alice.session_id).gateway
            assert gw is not None
            await world.relay.cut()
            await wait_until(lambda: not gw.connected.is_set(), what="Alice's gateway socket to drop")
        finishes = len(s.named("OnSyncServerFinish"))

        g, conv = groups, "/v1/conversation/"
        changes = [
            carol.call("/v1/group/invite_user_to_group", {"groupID": g["join"], "userIDList": [dave_id]}),
            carol.call("/v1/group/kick_group_member", {"groupID": g["kick"], "userIDList": [bob_id]}),
            bob.call("/v1/group/quit_group", {"groupID": g["quit"]}),
            carol.call("/v1/group/set_group_member_info", {"groupID": g["role"], "userID": alice_id, "roleLevel": 60}),
            carol.call(
                "/v1/group/change_group_member_mute", {"groupID": g["mute"], "userID": bob_id, "mutedSeconds": 600}
            ),
            carol.call(
                "/v1/group/set_group_member_info", {"groupID": g["nickname"], "userID": bob_id, "nickname": "bobby"}
            ),
            carol.call("/v1/group/set_group_info", {"groupID": g["info"], "groupName": "renamed"}),
            other_device.call(conv + "pin_conversation", {"conversationID": convs["pin"], "isPinned": True}),
            other_device.call(
                conv + "set_conversation_recv_message_opt", {"conversationID": convs["recvMsgOpt"], "opt": 2}
            ),
            other_device.call(
                conv + "set_conversation_private_chat", {"conversationID": convs["privateChat"], "isPrivate": True}
            ),
            other_device.call(
                conv + "set_conversation_burn_duration", {"conversationID": convs["burnDuration"], "burnDuration": 30}
            ),
        ]
        # Draft and hidden are SDK-local in 3.8.3 (conversation_msg/api.go): not for other devices.
        changes.append(
            other_device.call(conv + "set_conversation_draft", {"conversationID": convs["pin"], "draftText": "d"})
        )
        changes.append(other_device.call(conv + "hide_conversation", {"conversationID": convs["burnDuration"]}))
        await asyncio.gather(*changes)

        # Revival, or the socket back.
        if gap != "cut":
            stream = s2 = await alice.stream(last_event_id=last)
            mark = 0
            await stream.wait_for("OnSyncServerFinish", timeout=30)
        else:
            stream = s
            await world.relay.start()
            await stream.wait_for("OnSyncServerFinish", count=finishes + 1, timeout=30)
        # A later event: whatever the sync emitted has been streamed before it.
        await frank.call("/v1/friend/add_friend", {"toUserID": alice_id})
        (sentinel,) = await stream.wait_for("OnFriendApplicationAdded")
        window = stream.events[mark : stream.events.index(sentinel)]

        counts = collections.Counter(k for ev in window for k in _keys(ev))
        # Group notifications with isSendMsg also land as messages in the group's
        # conversation (notification.yml), counting as unread there: the total is
        # theirs plus the single chats', minus the one no longer notifying.
        everything = await alice.call(conv + "get_all_conversation_list")
        total = sum(c["unreadCount"] for c in everything if c["recvMsgOpt"] == 0)
        assert total == await alice.call(conv + "get_total_unread_msg_count")
        assert [k for k, n in counts.items() if n > 1] == [], "callbacks fired more than once"
        assert not [e for e in window if e.event == "OnNewConversation"], "version sync never says OnNewConversation"
        expected: dict[str, tuple[tuple[str, ...], Any]] = {
            "join": (("OnGroupMemberAdded", g["join"], dave_id), lambda m: m["roleLevel"] == 20),
            "kick": (("OnGroupMemberDeleted", g["kick"], bob_id), lambda m: True),
            "quit": (("OnGroupMemberDeleted", g["quit"], bob_id), lambda m: True),
            "role": (("OnGroupMemberInfoChanged", g["role"], alice_id), lambda m: m["roleLevel"] == 60),
            "mute": (("OnGroupMemberInfoChanged", g["mute"], bob_id), lambda m: m["muteEndTime"] > 0),
            "nickname": (("OnGroupMemberInfoChanged", g["nickname"], bob_id), lambda m: m["nickname"] == "bobby"),
            "info": (("OnGroupInfoChanged", g["info"], ""), lambda x: x["groupName"] == "renamed"),
            "pin": (("OnConversationChanged", convs["pin"]), lambda c: c["isPinned"]),
            "recvMsgOpt": (("OnConversationChanged", convs["recvMsgOpt"]), lambda c: c["recvMsgOpt"] == 2),
            "privateChat": (("OnConversationChanged", convs["privateChat"]), lambda c: c["isPrivateChat"]),
            "burnDuration": (("OnConversationChanged", convs["burnDuration"]), lambda c: c["burnDuration"] == 30),
            "unread": (("OnTotalUnreadMessageCountChanged",), lambda n: n == total),
        }
        missing = [kind for kind, (key, ok) in expected.items() if counts[key] != 1 or not ok(_latest(window, key))]
        assert missing == [], f"kinds without their one callback: {missing}; saw {[e.event for e in window]}"
        other_members = [
            e for e in window if e.event.startswith("OnGroupMember") and e.json["data"]["groupID"] == g["info"]
        ]
        assert other_members == []

        # The lists are right too.
        async def members_of(kind: str) -> dict[str, Any]:
            found = await alice.call("/v1/group/get_group_member_list", {"groupID": g[kind]})
            return {m["userID"]: m for m in found}

        assert set(await members_of("join")) == {carol_id, alice_id, bob_id, dave_id}
        assert set(await members_of("kick")) == {carol_id, alice_id}
        assert set(await members_of("quit")) == {carol_id, alice_id}
        assert (await members_of("role"))[alice_id]["roleLevel"] == 60
        assert (await members_of("mute"))[bob_id]["muteEndTime"] > 0
        assert (await members_of("nickname"))[bob_id]["nickname"] == "bobby"
        joined = {x["groupID"]: x for x in await alice.call("/v1/group/get_joined_group_list")}
        assert joined[g["info"]]["groupName"] == "renamed" and len(joined) == len(GROUP_KINDS)
        listed = await alice.call(conv + "get_multiple_conversation", {"conversationIDList": list(convs.values())})
        by_kind = {k: next(c for c in listed if c["conversationID"] == cid) for k, cid in convs.items()}
        assert by_kind["pin"]["isPinned"] and by_kind["recvMsgOpt"]["recvMsgOpt"] == 2
        assert by_kind["privateChat"]["isPrivateChat"] and by_kind["burnDuration"]["burnDuration"] == 30
        assert by_kind["pin"]["draftText"] == ""
        assert convs["burnDuration"] in {c["conversationID"] for c in everything}
        assert by_kind["recvMsgOpt"]["unreadCount"] == 1  # still unread, no longer counted
    finally:
        await s.close()
        if s2 is not None:
            await s2.close()
