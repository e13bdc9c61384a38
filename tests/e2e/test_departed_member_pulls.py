"""A departed member's core never pulls the group again, and its other chats keep syncing (issue 13).

After a kick or a quit the server caps what that user may read of the group chat at
the chat's max seq then (open-im-server internal/rpc/group/group.go
deleteMemberAndSetConversationSeq; internal/rpc/msg/sync_msg.go answers pulls past it
with nothing and errCode 0), while GetMaxSeq keeps reporting the chat's global max.
The SDK advances its synced seq regardless (openim-sdk-core internal/interaction/
msg_sync.go), so later traffic costs it no pull; so must ours, counted by the core's
WS 1002 requests per conversation (MessageModule.range_pulls) across pushes and a
reconnect sync.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.stack import BridgeUser, Stack
from tests.support.wait import wait_until


async def _send(u: BridgeUser, text: str, **to: str) -> None:
    msg = await u.call("/v1/message/create_text_message", {"text": text})
    await u.call("/v1/message/send_message", {"message": msg, **to})


def _text(e: Any) -> str:
    data = e["data"]
    return str(data["textElem"]["content"]) if data.get("textElem") else ""


@pytest.mark.parametrize("how", ["kicked", "quit"])
async def test_departed_member_does_no_pulls_for_the_group(stack: Stack, how: str) -> None:
    a_id, b_id, c_id = await stack.new_users(3, prefix="dep")
    a, b, c = [await stack.login(u) for u in (a_id, b_id, c_id)]
    sb = await b.stream()
    try:
        gid = (
            await a.call("/v1/group/create_group", {"memberUserIDs": [b_id, c_id], "groupInfo": {"groupName": how}})
        )["groupID"]
        await sb.wait_for("OnJoinedGroupAdded", lambda e: e["data"]["groupID"] == gid)
        await _send(a, "before", groupID=gid)
        await sb.wait_for("OnRecvNewMessage", lambda e: _text(e) == "before")
        if how == "kicked":
            await a.call("/v1/group/kick_group_member", {"groupID": gid, "userIDList": [b_id]})
        else:
            await b.call("/v1/group/quit_group", {"groupID": gid})
        await sb.wait_for("OnJoinedGroupDeleted", lambda e: e["data"]["groupID"] == gid)

        core = stack.bridge.core(b.session_id)
        conv = f"sg_{gid}"
        pulls = core.message.range_pulls
        before = pulls[conv]
        # The group goes on talking, over pushes to the others...
        for i in range(3):
            await _send(c if i % 2 else a, f"after{i}", groupID=gid)
        await _send(a, "live", recvID=b_id)
        await sb.wait_for("OnRecvNewMessage", lambda e: _text(e) == "live")
        # ...and while B's socket is cut, so the reconnect sync sees the group's max seq grown.
        gw = core.gateway
        assert gw is not None
        syncs = len(sb.named("OnSyncServerFinish"))
        await gw.drop_connection()
        await wait_until(lambda: not gw.connected.is_set(), what="B's socket to drop")
        for i in range(3):
            await _send(a, f"cut{i}", groupID=gid)
        await _send(c, "while cut", recvID=b_id)
        await wait_until(lambda: gw.connected.is_set(), timeout=15, what="B to reconnect")
        await sb.wait_for("OnSyncServerFinish", count=syncs + 1)
        await sb.wait_for("OnRecvNewMessage", lambda e: _text(e) == "while cut")

        assert pulls[conv] == before, f"{pulls[conv] - before} pulls of {conv} after leaving it"
        assert not [e for e in sb.named("OnRecvNewMessage") if _text(e.json).startswith(("after", "cut"))]
        # B's chat with C, which got a message while the socket was cut, synced by pull.
        assert pulls["si_" + "_".join(sorted((b_id, c_id)))] > 0
    finally:
        await sb.close()
