"""Group notifications 1501..1520 over real gateway connections (openim-v3.md 3.4, 4.2, 7.3).

Every test reads what each member's own connection received after a call:
content types, the conversation they land in (n_ online-only, sg_ stored copy
for the isSendMsg types), tips fields, recipients, and the call's operationID.
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.imserver_groups.support import Group, Kit, Peer, Push

ONLINE_ONLY = {
    "isNotNotification": False,
    "isSendMsg": False,
    "history": False,
    "persistent": False,
    "offlinePush": False,
    "unreadCount": False,
    "conversationUpdate": False,
    "senderSync": True,
    "notPrivate": False,
    "senderConversationUpdate": False,
    "reactionFromCache": False,
}


def _op() -> str:
    return "op-" + uuid.uuid4().hex


def _pairs(pushes: list[Push]) -> list[tuple[str, int]]:
    return [(p.conversation_id, p.content_type) for p in pushes]


def _group(gid: str, content_type: int, stored: bool = True) -> list[tuple[str, int]]:
    return [(f"n_{gid}", content_type), (f"sg_{gid}", content_type)] if stored else [(f"n_{gid}", content_type)]


def _n(a: str, b: str) -> str:
    return "n_" + "_".join(sorted((a, b)))


def _self_change(user: str) -> tuple[str, int]:
    """The 1300 ConversationChangeNotification a user gets when its group-chat cap changes."""
    return (f"n_{user}_{user}", 1300)


async def _set_role(kit: Kit, group: Group, peer: Peer, role: int) -> None:
    members = [{"groupID": group.group_id, "userID": peer.user_id, "roleLevel": role}]
    await kit.call("/group/set_group_member_info", {"members": members}, group.owner)
    await kit.drain(group.everyone)


async def test_group_created(kit: Kit) -> None:
    a, b, c = await kit.peers(3)
    op = _op()
    body = {
        "ownerUserID": a.user_id,
        "memberUserIDs": [b.user_id, c.user_id],
        "groupInfo": {"groupType": 2, "groupName": "g", "notification": "rules"},
    }
    gid = (await kit.call("/group/create_group", body, a, op))["groupInfo"]["groupID"]
    full_ids = await kit.call("/group/get_full_group_member_user_ids", {"groupID": gid}, a)
    for peer in (a, b, c):
        pushes = await peer.gw.drain()
        assert _pairs(pushes) == _group(gid, 1501) + _group(gid, 1519)
        assert {p.operation_id for p in pushes} == {op}
        online, stored, _, notice = pushes
        msg = online.msg
        assert (msg.sendID, msg.recvID, msg.groupID, msg.sessionType, msg.msgFrom, msg.seq) == (
            a.user_id,
            gid,
            gid,
            3,
            200,
            0,
        )
        assert dict(msg.options) == ONLINE_ONLY | {"isSendMsg": True}
        assert (msg.offlinePushInfo.title, msg.offlinePushInfo.desc) == ("create group title", "create group desc")
        assert stored.msg.seq == 1 and dict(stored.msg.options) == {"offlinePush": False, "unreadCount": True}
        assert notice.msg.seq == 2 and notice.msg.senderNickname == "nick-" + a.user_id
    tips = online.tips
    assert list(tips) == [
        "group", "opUser", "memberList", "operationTime", "groupOwnerUser", "groupMemberVersion", "groupMemberVersionID"
    ]  # fmt: skip
    assert (tips["group"]["groupID"], tips["group"]["memberCount"], tips["group"]["notification"]) == (gid, 3, "rules")
    assert (tips["opUser"]["userID"], tips["opUser"]["roleLevel"]) == (a.user_id, 100)
    assert [m["userID"] for m in tips["memberList"]] == [a.user_id, b.user_id, c.user_id]
    assert tips["groupOwnerUser"]["userID"] == a.user_id
    assert tips["operationTime"] == tips["group"]["createTime"]
    assert (tips["groupMemberVersion"], tips["groupMemberVersionID"]) == (full_ids["version"], full_ids["versionID"])
    assert list(notice.tips) == ["opUser", "group", "groupMemberVersion", "groupMemberVersionID"]

    # sendMessage=false: the notification without its chat copy
    quiet = {**body, "groupInfo": {"groupType": 2}, "sendMessage": False}
    gid2 = (await kit.call("/group/create_group", quiet, a))["groupInfo"]["groupID"]
    assert _pairs(await b.gw.drain()) == _group(gid2, 1501, stored=False)


async def test_application_accepted_and_rejected(kit: Kit) -> None:
    owner, admin, member, p, q = await kit.peers(5)
    group = await kit.group(owner, [admin, member], needVerification=1)
    gid = group.group_id
    await _set_role(kit, group, admin, 60)

    op = _op()
    await kit.call("/group/join_group", {"groupID": gid, "reqMessage": "hi", "joinSource": 3}, p, op)
    got = await kit.drain([owner, admin, member, p])
    assert _pairs(got[owner.user_id]) == [(_n(owner.user_id, p.user_id), 1503)]
    assert _pairs(got[admin.user_id]) == [(_n(admin.user_id, p.user_id), 1503)]
    assert got[member.user_id] == []
    # each copy is sender-synced to the applicant: one per recipient, one shared uuid
    assert _pairs(got[p.user_id]) == [
        (_n(owner.user_id, p.user_id), 1503), (_n(admin.user_id, p.user_id), 1503), (f"n_{p.user_id}_{p.user_id}", 1503)
    ]  # fmt: skip
    [to_owner] = got[owner.user_id]
    msg = to_owner.msg
    assert (msg.sendID, msg.recvID, msg.sessionType, msg.groupID, to_owner.operation_id) == (
        p.user_id,
        owner.user_id,
        1,
        "",
        op,
    )
    assert dict(msg.options) == ONLINE_ONLY | {"offlinePush": True}
    tips = to_owner.tips
    assert list(tips) == ["group", "applicant", "reqMsg", "uuid", "request"]
    assert (tips["applicant"]["userID"], tips["reqMsg"], tips["group"]["groupID"]) == (p.user_id, "hi", gid)
    request = tips["request"]
    assert (request["userInfo"]["userID"], request["groupInfo"], request["handleResult"], request["reqMsg"]) == (
        p.user_id, None, 0, "hi"
    )  # fmt: skip
    assert len({x.tips["uuid"] for x in got[p.user_id] + got[admin.user_id] + [to_owner]}) == 1

    op = _op()
    response = {"groupID": gid, "fromUserID": p.user_id, "handledMsg": "ok", "handleResult": 1}
    await kit.call("/group/group_application_response", response, owner, op)
    got = await kit.drain([owner, admin, member, p])
    accepted = [(_n(owner.user_id, u), 1505) for u in (owner.user_id, admin.user_id, p.user_id)]
    assert _pairs(got[owner.user_id]) == [
        (f"n_{owner.user_id}_{owner.user_id}", 1505),
        *accepted[1:],
        *_group(gid, 1510),
    ]
    assert _pairs(got[admin.user_id]) == [accepted[1], *_group(gid, 1510)]
    assert _pairs(got[member.user_id]) == _group(gid, 1510)
    assert _pairs(got[p.user_id]) == [accepted[2], *_group(gid, 1510), _self_change(p.user_id)]
    assert {x.operation_id for pushes in got.values() for x in pushes} == {op}
    to_admin, to_applicant = got[admin.user_id][0].tips, got[p.user_id][0].tips
    assert list(to_admin) == ["group", "opUser", "handleMsg", "receiverAs", "uuid", "request"]
    assert (to_admin["receiverAs"], to_applicant["receiverAs"], to_applicant["handleMsg"]) == (1, 0, "ok")
    assert to_admin["uuid"] == to_applicant["uuid"] and to_applicant["opUser"]["userID"] == owner.user_id
    assert (to_applicant["request"]["handleResult"], to_applicant["request"]["handleMsg"]) == (1, "ok")
    enter = got[member.user_id][0].tips
    assert list(enter) == ["group", "entrantUser", "operationTime", "groupMemberVersion", "groupMemberVersionID"]
    assert (enter["entrantUser"]["userID"], enter["group"]["memberCount"]) == (p.user_id, 4)

    await kit.call("/group/join_group", {"groupID": gid, "joinSource": 3}, q)
    await kit.drain([owner, admin, q])
    await kit.call(
        "/group/group_application_response", {**response, "fromUserID": q.user_id, "handleResult": -1}, admin
    )
    got = await kit.drain([owner, admin, member, q])
    assert _pairs(got[q.user_id]) == [(_n(admin.user_id, q.user_id), 1506)]
    assert _pairs(got[owner.user_id]) == [(_n(admin.user_id, owner.user_id), 1506)]
    assert got[member.user_id] == []
    assert got[q.user_id][0].tips["receiverAs"] == 0 and got[owner.user_id][0].tips["receiverAs"] == 1


async def test_invite_kick_quit_transfer(kit: Kit) -> None:
    owner, admin, m1, m2, x = await kit.peers(5)
    group = await kit.group(owner, [admin, m1, m2])
    gid = group.group_id
    await _set_role(kit, group, admin, 60)

    op = _op()
    await kit.call("/group/invite_user_to_group", {"groupID": gid, "invitedUserIDs": [x.user_id]}, admin, op)
    got = await kit.drain([*group.everyone, x])
    for peer in group.everyone:
        assert _pairs(got[peer.user_id]) == _group(gid, 1509)
    assert _pairs(got[x.user_id]) == [*_group(gid, 1509), _self_change(x.user_id)]
    tips = got[owner.user_id][0].tips
    assert list(tips) == [
        "group", "opUser", "invitedUserList", "operationTime", "groupMemberVersion", "groupMemberVersionID",
        "inviterUser",
    ]  # fmt: skip
    assert [u["userID"] for u in tips["invitedUserList"]] == [x.user_id]
    assert tips["inviterUser"]["userID"] == tips["opUser"]["userID"] == admin.user_id
    assert tips["group"]["memberCount"] == 5 and got[x.user_id][0].operation_id == op

    op = _op()
    await kit.call("/group/kick_group", {"groupID": gid, "kickedUserIDs": [x.user_id, m2.user_id]}, owner, op)
    got = await kit.drain([*group.everyone, x])
    for peer in (owner, admin, m1):
        assert _pairs(got[peer.user_id]) == _group(gid, 1508)
    for peer in (m2, x):  # the kicked hear of their own removal, then their chat view is capped
        assert _pairs(got[peer.user_id]) == [*_group(gid, 1508), _self_change(peer.user_id)]
        assert {p.operation_id for p in got[peer.user_id]} == {op}
    tips = got[m2.user_id][0].tips
    assert [u["userID"] for u in tips["kickedUserList"]] == [x.user_id, m2.user_id]
    assert tips["opUser"]["userID"] == owner.user_id and tips["group"]["memberCount"] == 3

    await kit.call("/group/quit_group", {"groupID": gid}, m1)
    got = await kit.drain([owner, admin, m1, m2])
    assert _pairs(got[owner.user_id]) == _pairs(got[admin.user_id]) == _group(gid, 1504)
    assert _pairs(got[m1.user_id]) == [*_group(gid, 1504), _self_change(m1.user_id)]
    assert got[m2.user_id] == []
    tips = got[owner.user_id][0].tips
    assert list(tips) == ["group", "quitUser", "operationTime", "groupMemberVersion", "groupMemberVersionID"]
    assert (tips["quitUser"]["userID"], tips["group"]["memberCount"]) == (m1.user_id, 2)

    await kit.call(
        "/group/transfer_group",
        {"groupID": gid, "oldOwnerUserID": owner.user_id, "newOwnerUserID": admin.user_id},
        owner,
    )
    got = await kit.drain([owner, admin])
    assert _pairs(got[owner.user_id]) == _pairs(got[admin.user_id]) == _group(gid, 1507)
    tips = got[admin.user_id][0].tips
    assert (tips["newGroupOwner"]["userID"], tips["newGroupOwner"]["roleLevel"]) == (admin.user_id, 100)
    assert (tips["oldGroupOwnerInfo"]["userID"], tips["oldGroupOwnerInfo"]["roleLevel"]) == (owner.user_id, 60)
    assert (tips["oldGroupOwner"], tips["group"]["ownerUserID"]) == (owner.user_id, admin.user_id)


async def test_mutes_member_info_group_info_and_dismissal(kit: Kit) -> None:
    owner, m1, m2 = await kit.peers(3)
    group = await kit.group(owner, [m1, m2])
    gid = group.group_id
    everyone = group.everyone

    async def expect(call: str, body: dict[str, Any], pairs: list[tuple[str, int]]) -> dict[str, Any]:
        op = _op()
        await kit.call(call, body, owner, op)
        got = await kit.drain(everyone)
        for peer in everyone:
            assert _pairs(got[peer.user_id]) == pairs, (call, peer.user_id)
            assert {p.operation_id for p in got[peer.user_id]} == {op}
        tips: dict[str, Any] = got[m2.user_id][0].tips
        return tips

    tips = await expect(
        "/group/mute_group_member", {"groupID": gid, "userID": m1.user_id, "mutedSeconds": 30}, _group(gid, 1512)
    )
    assert (tips["mutedSeconds"], tips["mutedUser"]["userID"], tips["opUser"]["userID"]) == (
        30,
        m1.user_id,
        owner.user_id,
    )
    assert tips["mutedUser"]["muteEndTime"] > int(kit.im.clock() * 1000)
    tips = await expect("/group/cancel_mute_group_member", {"groupID": gid, "userID": m1.user_id}, _group(gid, 1513))
    assert tips["mutedUser"]["muteEndTime"] == 0
    tips = await expect("/group/mute_group", {"groupID": gid}, _group(gid, 1514))
    assert list(tips) == ["group", "opUser", "operationTime", "groupMemberVersion", "groupMemberVersionID"]
    assert tips["group"]["status"] == 3
    tips = await expect("/group/cancel_mute_group", {"groupID": gid}, _group(gid, 1515))
    assert tips["group"]["status"] == 0

    member = {"groupID": gid, "userID": m1.user_id}
    tips = await expect(
        "/group/set_group_member_info", {"members": [{**member, "roleLevel": 60}]}, _group(gid, 1517, stored=False)
    )
    assert tips["changedUser"]["roleLevel"] == 60 and tips["groupSortVersion"] == tips["groupMemberVersion"] > 0
    tips = await expect(
        "/group/set_group_member_info", {"members": [{**member, "roleLevel": 20}]}, _group(gid, 1518, stored=False)
    )
    assert tips["changedUser"]["roleLevel"] == 20
    tips = await expect(
        "/group/set_group_member_info", {"members": [{**member, "nickname": "nn"}]}, _group(gid, 1516, stored=False)
    )
    assert (tips["changedUser"]["nickname"], tips["groupSortVersion"]) == ("nn", 0)

    tips = await expect("/group/set_group_info_ex", {"groupID": gid, "groupName": "new"}, _group(gid, 1520))
    assert (
        list(tips) == ["opUser", "group", "groupMemberVersion", "groupMemberVersionID"]
        and tips["group"]["groupName"] == "new"
    )
    tips = await expect(
        "/group/set_group_info_ex", {"groupID": gid, "introduction": "i"}, _group(gid, 1502, stored=False)
    )
    assert list(tips) == ["opUser", "muteTime", "group", "groupMemberVersion", "groupMemberVersionID"]
    op = _op()
    await kit.call("/group/set_group_info_ex", {"groupID": gid, "notification": "read me"}, owner, op)
    got = await kit.drain(everyone)
    for peer in everyone:
        # the notice marks every member's group conversation (groupAtType 4), then 1519
        assert _pairs(got[peer.user_id]) == [_self_change(peer.user_id), *_group(gid, 1519)]
        assert got[peer.user_id][1].msg.senderNickname == "nick-" + owner.user_id
    for peer in everyone:
        convs = await kit.call(
            "/conversation/get_conversations", {"ownerUserID": peer.user_id, "conversationIDs": [f"sg_{gid}"]}, peer
        )
        assert convs["conversations"][0]["groupAtType"] == 4

    tips = await expect("/group/dismiss_group", {"groupID": gid}, _group(gid, 1511))
    assert list(tips) == ["group", "opUser", "operationTime"]
    assert (tips["group"]["status"], tips["opUser"]["userID"], tips["group"]["memberCount"]) == (2, owner.user_id, 3)


async def test_send_message_override_and_admin_operator(kit: Kit) -> None:
    owner, m1, m2 = await kit.peers(3)
    group = await kit.group(owner, [m1, m2])
    gid = group.group_id
    await kit.call("/group/kick_group", {"groupID": gid, "kickedUserIDs": [m2.user_id], "sendMessage": False}, owner)
    got = await kit.drain(group.everyone)
    assert _pairs(got[m1.user_id]) == _group(gid, 1508, stored=False)
    # an app admin shows as a group admin operator (fillUserByUserID)
    await kit.call("/group/mute_group", {"groupID": gid}, kit.im.admin)
    [online, _] = await m1.gw.drain()
    op_user = online.tips["opUser"]
    assert (op_user["userID"], op_user["roleLevel"], op_user["appMangerLevel"]) == ("imAdmin", 60, 2)
    await kit.drain([owner])


async def test_profile_change_is_a_member_change_where_it_shows(kit: Kit) -> None:
    a, b = await kit.peers(2)
    shown = await kit.group(a, [b])
    own = await kit.group(a, [b])
    # in `own`, b has a group nickname and face: its profile does not show there
    member = {"groupID": own.group_id, "userID": b.user_id, "nickname": "bee", "faceURL": "bee.png"}
    await kit.call("/group/set_group_member_info", {"members": [member]}, b)
    await kit.drain([a, b])
    before = await kit.call("/group/get_full_group_member_user_ids", {"groupID": shown.group_id}, a)
    op = _op()
    await kit.call("/user/update_user_info_ex", {"userInfo": {"userID": b.user_id, "nickname": "renamed"}}, b, op)
    got = await kit.drain([a, b])
    assert _pairs(got[a.user_id]) == _group(shown.group_id, 1516, stored=False)
    assert _pairs(got[b.user_id]) == [(f"n_{b.user_id}_{b.user_id}", 1303), *_group(shown.group_id, 1516, stored=False)]
    tips = got[a.user_id][0].tips
    assert (tips["changedUser"]["userID"], tips["changedUser"]["nickname"]) == (b.user_id, "renamed")
    assert tips["groupMemberVersion"] == before["version"] + 1 and got[a.user_id][0].operation_id == op
