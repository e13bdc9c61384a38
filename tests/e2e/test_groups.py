"""Five users through the whole group life cycle, REST + SSE only (issue 4)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.support.clock import wait_until
from tests.support.stack import BridgeUser, Stack, run_stack


def _ids(items: list[dict[str, Any]]) -> set[str]:
    return {i["userID"] for i in items}


async def _members(u: BridgeUser, gid: str) -> set[str]:
    return _ids(await u.call("/v1/group/get_group_member_list", {"groupID": gid}))


async def test_group_life_cycle_with_five_users(stack: Stack) -> None:
    ids = await stack.new_users(5, prefix="g")
    a_id, b_id, c_id, d_id, e_id = ids
    a, b, c, d, e = [await stack.login(u) for u in ids]
    streams = {u.user_id: await u.stream() for u in (a, b, c, d, e)}
    sa, sb, sc, sd, se = (streams[i] for i in ids)
    try:
        group = await a.call(
            "/v1/group/create_group",
            {"memberUserIDs": [b_id, c_id], "groupInfo": {"groupName": "five"}},
            op="op-create",
        )
        gid = group["groupID"]
        assert group["ownerUserID"] == a_id and group["groupName"] == "five"
        for s in (sb, sc):
            (ev,) = await s.wait_for("OnJoinedGroupAdded")
            assert ev.json["data"]["groupID"] == gid
        assert await _members(a, gid) == {a_id, b_id, c_id}
        assert [g["groupID"] for g in await b.call("/v1/group/get_joined_group_list")] == [gid]

        # invite a fourth
        await a.call("/v1/group/invite_user_to_group", {"groupID": gid, "userIDList": [d_id]})
        await sd.wait_for("OnJoinedGroupAdded")
        await sb.wait_for("OnGroupMemberAdded", lambda x: x["data"]["userID"] == d_id)
        assert await _members(b, gid) == {a_id, b_id, c_id, d_id}

        # a fifth applies and is accepted
        await e.call("/v1/group/join_group", {"groupID": gid, "reqMsg": "let me in"})
        (app,) = await sa.wait_for("OnGroupApplicationAdded")
        assert app.json["data"]["userID"] == e_id and app.json["data"]["reqMsg"] == "let me in"
        recv = await a.call("/v1/group/get_group_application_list_as_recipient", {})
        assert [(r["userID"], r["handleResult"]) for r in recv] == [(e_id, 0)]
        await a.call("/v1/group/accept_group_application", {"groupID": gid, "fromUserID": e_id})
        await se.wait_for("OnGroupApplicationAccepted")
        await se.wait_for("OnJoinedGroupAdded")
        await sb.wait_for("OnGroupMemberAdded", lambda x: x["data"]["userID"] == e_id)

        # one is kicked, one quits
        await a.call("/v1/group/kick_group_member", {"groupID": gid, "userIDList": [c_id]})
        await sc.wait_for("OnJoinedGroupDeleted")
        await sb.wait_for("OnGroupMemberDeleted", lambda x: x["data"]["userID"] == c_id)
        await b.call("/v1/group/quit_group", {"groupID": gid})
        await sb.wait_for("OnJoinedGroupDeleted")
        await sa.wait_for("OnGroupMemberDeleted", lambda x: x["data"]["userID"] == b_id)
        assert await _members(a, gid) == {a_id, d_id, e_id}
        assert await b.call("/v1/group/get_joined_group_list") == []

        # owner transferred, group renamed
        await a.call("/v1/group/transfer_group_owner", {"groupID": gid, "newOwnerUserID": d_id})
        await sd.wait_for(
            "OnGroupMemberInfoChanged", lambda x: x["data"]["userID"] == d_id and x["data"]["roleLevel"] == 100
        )
        await d.call("/v1/group/set_group_info", {"groupID": gid, "groupName": "renamed"})
        await se.wait_for("OnGroupInfoChanged", lambda x: x["data"]["groupName"] == "renamed")
        owners = await e.call("/v1/group/get_group_member_owner_and_admin", {"groupID": gid})
        assert [(m["userID"], m["roleLevel"]) for m in owners] == [(d_id, 100)]

        # a member muted: their send is refused with OpenIM's error
        await d.call("/v1/group/change_group_member_mute", {"groupID": gid, "userID": e_id, "mutedSeconds": 600})
        await se.wait_for(
            "OnGroupMemberInfoChanged", lambda x: x["data"]["userID"] == e_id and x["data"]["muteEndTime"] > 0
        )
        msg = await e.call("/v1/message/create_text_message", {"text": "can I talk?"})
        r = await e.post("/v1/message/send_message", {"message": msg, "groupID": gid})
        assert r.status_code == 403 and r.json()["errCode"] == 1402

        # dismissed
        await d.call("/v1/group/dismiss_group", {"groupID": gid})
        for s in (sa, se, sd):
            await s.wait_for("OnGroupDismissed")
        assert await e.call("/v1/group/get_joined_group_list") == []

        # nothing fired twice where it should fire once
        for s in streams.values():
            for callback in ("OnJoinedGroupAdded", "OnJoinedGroupDeleted", "OnGroupDismissed"):
                seen = [x.json["data"]["groupID"] for x in s.named(callback)]
                assert len(seen) == len(set(seen)), callback
    finally:
        for s in streams.values():
            await s.close()


async def test_a_dismissal_is_seen_while_the_server_still_lists_the_members(stack: Stack) -> None:
    """open-im-server pushes 1511 first and removes the members after (push_handler.go), and
    leaves dismissed groups out of member deltas (group/sync.go): the sync 1511 starts sees
    no change in between, so core asks the group's status. The removal that follows, seen by
    a later sync, fires nothing more."""
    a_id, b_id = await stack.new_users(2, prefix="gh")
    a, b = await stack.login(a_id), await stack.login(b_id)
    gid = (await a.call("/v1/group/create_group", {"memberUserIDs": [b_id], "groupInfo": {"groupName": "held"}}))[
        "groupID"
    ]
    sb = await b.stream()
    hold = stack.imserver.settings.dismiss_removal_hold = asyncio.Event()
    dismiss = asyncio.create_task(a.call("/v1/group/dismiss_group", {"groupID": gid}))
    try:
        (ev,) = await sb.wait_for("OnGroupDismissed")
        assert ev.json["data"]["groupID"] == gid and ev.json["data"]["status"] == 2
        (gone,) = await sb.wait_for("OnJoinedGroupDeleted")
        assert gone.json["data"]["groupID"] == gid and gone.json["data"]["memberCount"] == 0
        assert not dismiss.done(), "the server still holds the members"
        assert await b.call("/v1/group/get_joined_group_list") == []
    finally:
        hold.set()
        stack.imserver.settings.dismiss_removal_hold = None
    await dismiss
    # A later joined-group sync (another group's creation) carries the removal: no second callback.
    other = await a.call("/v1/group/create_group", {"memberUserIDs": [b_id], "groupInfo": {"groupName": "next"}})
    await sb.wait_for("OnJoinedGroupAdded", lambda x: x["data"]["groupID"] == other["groupID"])
    assert [g["groupID"] for g in await b.call("/v1/group/get_joined_group_list")] == [other["groupID"]]
    for callback in ("OnGroupDismissed", "OnJoinedGroupDeleted"):
        assert [x.json["data"]["groupID"] for x in sb.named(callback)] == [gid], callback
    await sb.close()


async def test_group_messages_order_and_at_mentions(stack: Stack) -> None:
    ids = await stack.new_users(4, prefix="gm")
    users = [await stack.login(u) for u in ids]
    a, b, c, d = users
    group = await a.call("/v1/group/create_group", {"memberUserIDs": ids[1:], "groupInfo": {"groupName": "chat"}})
    gid = group["groupID"]
    sd = await d.stream()
    try:
        n = 0
        for i in range(20):
            for u in (a, b, c):
                msg = await u.call("/v1/message/create_text_message", {"text": f"{u.user_id}-{i}"})
                await u.call("/v1/message/send_message", {"message": msg, "groupID": gid})
                n += 1
        got = await sd.wait_for("OnRecvNewMessage", lambda x: x["data"]["contentType"] == 101, count=n, timeout=60)
        seqs = [x.json["data"]["seq"] for x in got]
        assert seqs == sorted(seqs) and len(set(seqs)) == n
        at = await a.call("/v1/message/create_text_at_message", {"text": "@d look", "atUserIDList": [ids[3]]})
        await a.call("/v1/message/send_message", {"message": at, "groupID": gid})
        await sd.wait_for("OnRecvNewMessage", lambda x: x["data"]["contentType"] == 106)
        conv_id = f"sg_{gid}"
        (conv,) = await d.call("/v1/conversation/get_multiple_conversation", {"conversationIDList": [conv_id]})
        assert conv["groupAtType"] == 1 and conv["showName"] == "chat"
        await d.call("/v1/conversation/reset_conversation_group_at_type", {"conversationID": conv_id})
        (conv,) = await d.call("/v1/conversation/get_multiple_conversation", {"conversationIDList": [conv_id]})
        assert conv["groupAtType"] == 0
    finally:
        await sd.close()


async def test_group_bad_input(stack: Stack) -> None:
    a_id, b_id = await stack.new_users(2, prefix="gb")
    a, b = await stack.login(a_id), await stack.login(b_id)
    r = await a.post("/v1/group/create_group", {"groupInfo": {"groupName": "x", "groupType": 1}})
    assert r.status_code == 400 and r.json()["errCode"] == 10401
    r = await a.post("/v1/group/join_group", {"groupID": "no-such-group"})
    assert r.status_code == 404 and r.json()["errCode"] == 1201
    group = await a.call("/v1/group/create_group", {"groupInfo": {"groupName": "solo"}})
    r = await b.post("/v1/group/kick_group_member", {"groupID": group["groupID"], "userIDList": [a_id]})
    assert 400 <= r.status_code < 500
    r = await b.post("/v1/group/get_group_member_list", {"groupID": group["groupID"]})
    assert r.status_code == 404 and r.json()["errCode"] == 1201


async def test_two_hundred_group_messages_same_order_for_all_including_a_parked_member(tmp_path: Path) -> None:
    async with run_stack(tmp_path, idle_park_seconds=60.0, sweep_interval=3600.0) as st:
        ids = await st.new_users(5, prefix="gp")
        a, b, c, d, e = [await st.login(u) for u in ids]
        group = await a.call("/v1/group/create_group", {"memberUserIDs": ids[1:], "groupInfo": {"groupName": "200"}})
        gid = group["groupID"]
        sd, se = await d.stream(), await e.stream()
        senders = (a, b, c)
        try:

            async def send(k: int) -> None:
                for i in range(k):
                    u = senders[i % 3]
                    msg = await u.call("/v1/message/create_text_message", {"text": f"{u.user_id}:{i}"})
                    await u.call("/v1/message/send_message", {"message": msg, "groupID": gid})

            await send(100)
            await se.wait_for("OnRecvNewMessage", lambda x: x["data"]["contentType"] == 101, count=100, timeout=60)
            last = se.events[-1].id
            await se.close()
            handle = st.bridge.pool.handle(e.session_id)
            assert handle is not None
            await wait_until(lambda: handle.streams == 0, what="E's stream to close")
            st.bridge_clock.advance(61)
            for u in (a, b, c, d):
                await u.call("/v1/auth/get_login_status")
            assert await st.bridge.pool.sweep() == 1  # E is parked in the middle
            await send(100)

            texts_d = await sd.wait_for(
                "OnRecvNewMessage", lambda x: x["data"]["contentType"] == 101, count=200, timeout=60
            )
            se2 = await e.stream(last_event_id=last)  # revives E
            try:
                rest = await se2.wait_for(
                    "OnRecvNewMessage", lambda x: x["data"]["contentType"] == 101, count=100, timeout=60
                )
                first = [
                    x.json["data"]["seq"] for x in se.named("OnRecvNewMessage") if x.json["data"]["contentType"] == 101
                ]
                order_e = first + [x.json["data"]["seq"] for x in rest]
                order_d = [x.json["data"]["seq"] for x in texts_d]
                assert order_e == order_d, "every member sees the same per-group order"
                assert len(set(order_d)) == 200 and order_d == sorted(order_d)
            finally:
                await se2.close()
        finally:
            await sd.close()
