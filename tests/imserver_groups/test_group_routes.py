"""/group/* routes: happy paths, OpenIM error codes, role rules and join policies (openim-v3.md 1.5.4)."""

from __future__ import annotations

from typing import Any

from imserver.services.groups import member_list_hash
from imserver.services.sdkws_group import GroupMemberFullInfo
from tests.imserver_groups.support import PAGE, Kit

GROUP_INFO_KEYS = [
    "groupID", "groupName", "notification", "introduction", "faceURL", "ownerUserID", "createTime", "memberCount",
    "ex", "status", "creatorUserID", "groupType", "needVerification", "lookMemberInfo", "applyMemberFriend",
    "notificationUpdateTime", "notificationUserID",
]  # fmt: skip
MEMBER_KEYS = [
    "groupID", "userID", "roleLevel", "joinTime", "nickname", "faceURL", "appMangerLevel", "joinSource",
    "operatorUserID", "ex", "muteEndTime", "inviterUserID",
]  # fmt: skip
REQUEST_KEYS = [
    "userInfo", "groupInfo", "handleResult", "reqMsg", "handleMsg", "reqTime", "handleUserID", "handleTime", "ex",
    "joinSource", "inviterUserID",
]  # fmt: skip


async def test_create_group_and_read_it(kit: Kit) -> None:
    a, b, c = await kit.peers(3)
    body: dict[str, Any] = {
        "ownerUserID": a.user_id,
        "adminUserIDs": [b.user_id],
        "memberUserIDs": [c.user_id],
        "groupInfo": {"groupType": 2, "groupName": "team", "creatorUserID": a.user_id, "ex": "x"},
    }
    created = (await kit.call("/group/create_group", body, a))["groupInfo"]
    gid = created["groupID"]
    assert list(created) == GROUP_INFO_KEYS and gid.isdigit()
    assert (created["ownerUserID"], created["memberCount"], created["groupType"], created["status"]) == (
        a.user_id, 3, 2, 0
    )  # fmt: skip
    assert (created["groupName"], created["creatorUserID"], created["ex"]) == ("team", a.user_id, "x")
    assert created["createTime"] > 10**12

    assert await kit.call("/group/get_groups_info", {"groupIDs": [gid, "nope"]}, c) == {"groupInfos": [created]}
    joined = await kit.call("/group/get_joined_group_list", {"fromUserID": c.user_id, "pagination": PAGE}, c)
    assert joined == {"total": 1, "groups": [created]}
    ids = await kit.call("/group/get_group_member_user_id", {"groupID": gid}, c)
    assert ids == {"userIDs": [a.user_id, b.user_id, c.user_id]}  # owner, admin, member

    listing = await kit.call("/group/get_group_member_list", {"groupID": gid, "pagination": PAGE}, c)
    assert listing["total"] == 3 and [m["roleLevel"] for m in listing["members"]] == [100, 60, 20]
    owner = listing["members"][0]
    assert list(owner) == MEMBER_KEYS
    assert (owner["userID"], owner["nickname"], owner["joinSource"], owner["inviterUserID"]) == (
        a.user_id, "nick-" + a.user_id, 2, a.user_id
    )  # fmt: skip
    assert owner["muteEndTime"] == 0 and owner["joinTime"] > 10**12
    for filter_, roles in {1: [100], 2: [60], 3: [20], 4: [60, 20], 5: [100, 60]}.items():
        page = await kit.call(
            "/group/get_group_member_list", {"groupID": gid, "pagination": PAGE, "filter": filter_}, a
        )
        assert [m["roleLevel"] for m in page["members"]] == roles and page["total"] == len(roles)
    found = await kit.call(
        "/group/get_group_member_list", {"groupID": gid, "pagination": PAGE, "keyword": c.user_id[-6:]}, a
    )
    assert [m["userID"] for m in found["members"]] == [c.user_id]
    second = await kit.call(
        "/group/get_group_member_list", {"groupID": gid, "pagination": {"pageNumber": 2, "showNumber": 2}}, a
    )
    assert second["total"] == 3 and [m["userID"] for m in second["members"]] == [c.user_id]

    infos = await kit.call("/group/get_group_members_info", {"groupID": gid, "userIDs": [c.user_id, "ghost"]}, a)
    assert [m["userID"] for m in infos["members"]] == [c.user_id]
    abstract = await kit.call("/group/get_group_abstract_info", {"groupIDs": [gid]}, b)
    members = [GroupMemberFullInfo.model_validate(m) for m in listing["members"]]
    assert abstract == {
        "groupAbstractInfos": [
            {"groupID": gid, "groupMemberNumber": 3, "groupMemberListHash": member_list_hash(members)}
        ]
    }


async def test_create_group_errors(kit: Kit) -> None:
    a, b = await kit.peers(2)

    def body(**over: Any) -> dict[str, Any]:
        return {"ownerUserID": a.user_id, "memberUserIDs": [b.user_id], "groupInfo": {"groupType": 2}, **over}

    assert await kit.code("/group/create_group", body(groupInfo={"groupType": 1}), a) == 1205
    assert await kit.code("/group/create_group", body(groupInfo={"groupType": 7}), a) == 1001
    assert await kit.code("/group/create_group", body(groupInfo=None), a) == 1001
    assert await kit.code("/group/create_group", body(ownerUserID=""), a) == 1001
    assert await kit.code("/group/create_group", body(ownerUserID=b.user_id), a) == 1002
    assert await kit.code("/group/create_group", body(memberUserIDs=[b.user_id, b.user_id]), a) == 1001
    assert await kit.code("/group/create_group", body(memberUserIDs=[a.user_id]), a) == 1001
    assert await kit.code("/group/create_group", body(memberUserIDs=["ghost-" + b.user_id]), a) == 1101
    gid = "fixed-" + a.user_id
    made = await kit.call("/group/create_group", body(groupInfo={"groupType": 2, "groupID": gid}), a)
    assert made["groupInfo"]["groupID"] == gid
    assert await kit.code("/group/create_group", body(groupInfo={"groupType": 2, "groupID": gid}), a) == 1202
    # an app admin creates for someone else and is not made a member
    by_admin = await kit.call("/group/create_group", body(), kit.im.admin)
    assert by_admin["groupInfo"]["memberCount"] == 2


async def test_reads_need_membership(kit: Kit) -> None:
    a, b, outsider = await kit.peers(3)
    group = await kit.group(a, [b])
    gid = group.group_id
    listing = {"groupID": gid, "pagination": PAGE}
    assert await kit.code("/group/get_group_member_list", listing, outsider) == 1002
    assert await kit.code("/group/get_group_member_list", {**listing, "groupID": "nope"}, a) == 1201
    assert await kit.code("/group/get_group_member_list", {**listing, "filter": 6}, a) == 1001
    assert await kit.code("/group/get_group_members_info", {"groupID": gid, "userIDs": [a.user_id]}, outsider) == 1002
    assert await kit.code("/group/get_group_members_info", {"groupID": gid, "userIDs": []}, a) == 1001
    assert await kit.code("/group/get_group_member_user_id", {"groupID": gid}, outsider) == 1002
    assert await kit.code("/group/get_group_abstract_info", {"groupIDs": [gid]}, outsider) == 1002
    assert await kit.code("/group/get_group_abstract_info", {"groupIDs": [gid, gid]}, a) == 1001
    assert await kit.code("/group/get_group_abstract_info", {"groupIDs": []}, a) == 1001
    assert await kit.code("/group/get_groups_info", {"groupIDs": []}, a) == 1001
    assert await kit.code("/group/get_joined_group_list", {"fromUserID": a.user_id, "pagination": PAGE}, b) == 1002
    assert (await kit.call("/group/get_group_member_list", listing, kit.im.admin))["total"] == 2


async def test_set_group_info(kit: Kit) -> None:
    a, b, c, outsider = await kit.peers(4)
    group = await kit.group(a, [b, c])
    gid = group.group_id
    await kit.call(
        "/group/set_group_member_info", {"members": [{"groupID": gid, "userID": b.user_id, "roleLevel": 60}]}, a
    )

    assert await kit.code("/group/set_group_info", {"groupInfoForSet": {"groupID": gid, "groupName": "x"}}, c) == 1002
    assert await kit.code("/group/set_group_info", {"groupInfoForSet": {"groupID": gid}}, outsider) == 1203
    assert await kit.code("/group/set_group_info", {"groupInfoForSet": {"groupID": "nope"}}, a) == 1201
    assert await kit.code("/group/set_group_info", {"groupInfoForSet": None}, a) == 1001
    await kit.call(
        "/group/set_group_info",
        {"groupInfoForSet": {"groupID": gid, "groupName": "renamed", "introduction": "", "needVerification": 1}},
        b,
    )
    [info] = (await kit.call("/group/get_groups_info", {"groupIDs": [gid]}, a))["groupInfos"]
    assert (info["groupName"], info["introduction"], info["needVerification"]) == ("renamed", "", 1)

    assert await kit.code("/group/set_group_info_ex", {"groupID": gid, "groupName": "  "}, a) == 1001
    assert await kit.code("/group/set_group_info_ex", {"groupID": gid, "faceURL": "f"}, c) == 1002
    await kit.call(
        "/group/set_group_info_ex",
        {"groupID": gid, "notification": " read me ", "introduction": "hello", "ex": None, "lookMemberInfo": 1},
        a,
    )
    [info] = (await kit.call("/group/get_groups_info", {"groupIDs": [gid]}, a))["groupInfos"]
    assert (info["notification"], info["introduction"], info["lookMemberInfo"], info["groupName"]) == (
        "read me", "hello", 1, "renamed"
    )  # fmt: skip
    assert info["notificationUserID"] == a.user_id and info["notificationUpdateTime"] > 10**12


async def test_join_policies_and_requests(kit: Kit) -> None:
    owner, admin, member, p1, p2, p3 = await kit.peers(6)
    open_group = await kit.group(owner, [member], needVerification=2)
    # needVerification 2 (Directly): join at once
    await kit.call("/group/join_group", {"groupID": open_group.group_id, "joinSource": 3}, p1)
    ids = (await kit.call("/group/get_group_member_user_id", {"groupID": open_group.group_id}, p1))["userIDs"]
    assert ids == [owner.user_id, member.user_id, p1.user_id]
    assert await kit.code("/group/join_group", {"groupID": open_group.group_id, "joinSource": 3}, p1) == 1001
    assert await kit.code("/group/join_group", {"groupID": "nope", "joinSource": 3}, p1) == 1201
    assert await kit.code("/group/join_group", {"groupID": open_group.group_id, "joinSource": 5}, p1) == 1001
    assert await kit.code("/group/join_group", {"groupID": open_group.group_id, "joinSource": 2}, p1) == 1001
    other = {"groupID": open_group.group_id, "joinSource": 3, "inviterUserID": p2.user_id}
    assert await kit.code("/group/join_group", other, p1) == 1002

    # needVerification 0 and 1: a request to the owner and admins
    for verification in (0, 1):
        group = await kit.group(owner, [admin, member], needVerification=verification)
        gid = group.group_id
        await kit.call(
            "/group/set_group_member_info",
            {"members": [{"groupID": gid, "userID": admin.user_id, "roleLevel": 60}]},
            owner,
        )
        await kit.call("/group/join_group", {"groupID": gid, "reqMessage": "let me in", "joinSource": 3, "ex": "e"}, p1)
        await kit.call("/group/join_group", {"groupID": gid, "reqMessage": "me too", "joinSource": 4}, p2)
        ids = (await kit.call("/group/get_group_member_user_id", {"groupID": gid}, owner))["userIDs"]
        assert p1.user_id not in ids

        recv = await kit.call(
            "/group/get_recv_group_applicationList",
            {"fromUserID": admin.user_id, "pagination": PAGE, "groupIDs": [gid]},
            admin,
        )
        assert recv["total"] == 2 and [r["userInfo"]["userID"] for r in recv["groupRequests"]] == [
            p2.user_id,
            p1.user_id,
        ]
        first = recv["groupRequests"][1]
        assert list(first) == REQUEST_KEYS
        assert (first["reqMsg"], first["ex"], first["joinSource"], first["handleResult"], first["handleTime"]) == (
            "let me in", "e", 3, 0, 0
        )  # fmt: skip
        assert first["groupInfo"]["groupID"] == gid and first["groupInfo"]["memberCount"] == 3
        assert first["userInfo"] == {"userID": p1.user_id, "nickname": "nick-" + p1.user_id, "faceURL": "", "ex": ""}
        count = await kit.call("/group/get_group_application_unhandled_count", {"userID": owner.user_id}, owner)
        assert count["count"] >= 2
        later = {"userID": admin.user_id, "time": first["reqTime"]}
        assert (await kit.call("/group/get_group_application_unhandled_count", later, admin))["count"] <= 1
        mine = await kit.call(
            "/group/get_user_req_group_applicationList",
            {"userID": p1.user_id, "pagination": PAGE, "groupIDs": [gid]},
            p1,
        )
        assert mine["total"] == 1 and mine["groupRequests"][0]["reqMsg"] == "let me in"
        spec = await kit.call(
            "/group/get_specified_user_group_request_info", {"groupID": gid, "userID": p1.user_id}, p1
        )
        assert spec["total"] == 1 and spec["groupRequests"][0]["userInfo"]["userID"] == p1.user_id
        users = await kit.call(
            "/group/get_group_users_req_application_list", {"groupID": gid, "userIDs": [p1.user_id, p2.user_id]}, owner
        )
        assert users["total"] == 2
        assert (
            await kit.code("/group/get_specified_user_group_request_info", {"groupID": gid, "userID": p1.user_id}, p2)
            == 1002
        )
        assert (
            await kit.code(
                "/group/get_group_users_req_application_list", {"groupID": gid, "userIDs": [p1.user_id]}, member
            )
            == 1002
        )
        assert (
            await kit.code(
                "/group/get_recv_group_applicationList",
                {"fromUserID": member.user_id, "pagination": PAGE, "groupIDs": [gid]},
                member,
            )
            == 1002
        )

        response = {"groupID": gid, "fromUserID": p1.user_id, "handledMsg": "welcome", "handleResult": 1}
        assert await kit.code("/group/group_application_response", response, member) == 1002
        assert await kit.code("/group/group_application_response", {**response, "handleResult": 2}, owner) == 1001
        assert await kit.code("/group/group_application_response", {**response, "handleResult": 0}, owner) == 1001
        assert (
            await kit.code("/group/group_application_response", {**response, "fromUserID": p3.user_id}, owner) == 1004
        )
        await kit.call("/group/group_application_response", response, admin)
        assert await kit.code("/group/group_application_response", response, owner) == 1206
        await kit.call(
            "/group/group_application_response", {**response, "fromUserID": p2.user_id, "handleResult": -1}, owner
        )
        ids = (await kit.call("/group/get_group_member_user_id", {"groupID": gid}, owner))["userIDs"]
        assert p1.user_id in ids and p2.user_id not in ids
        [joined] = (await kit.call("/group/get_group_members_info", {"groupID": gid, "userIDs": [p1.user_id]}, owner))[
            "members"
        ]
        assert (joined["joinSource"], joined["operatorUserID"], joined["roleLevel"]) == (3, admin.user_id, 20)
        done = await kit.call(
            "/group/get_recv_group_applicationList",
            {"fromUserID": owner.user_id, "pagination": PAGE, "groupIDs": [gid], "handleResults": [1, -1]},
            owner,
        )
        handled = {r["userInfo"]["userID"]: r for r in done["groupRequests"]}
        assert (handled[p1.user_id]["handleResult"], handled[p1.user_id]["handleMsg"]) == (1, "welcome")
        assert handled[p1.user_id]["handleUserID"] == admin.user_id and handled[p1.user_id]["handleTime"] > 10**12
        assert handled[p2.user_id]["handleResult"] == -1


async def test_invite_follows_the_verification_rule(kit: Kit) -> None:
    owner, member, x, y, z = await kit.peers(5)
    group = await kit.group(owner, [member], needVerification=1)
    gid = group.group_id
    # an ordinary member's invitation needs approval (AllNeedVerification) ...
    await kit.call("/group/invite_user_to_group", {"groupID": gid, "invitedUserIDs": [x.user_id]}, member)
    assert x.user_id not in (await kit.call("/group/get_group_member_user_id", {"groupID": gid}, owner))["userIDs"]
    [request] = (
        await kit.call("/group/get_specified_user_group_request_info", {"groupID": gid, "userID": x.user_id}, owner)
    )["groupRequests"]
    assert (request["joinSource"], request["inviterUserID"]) == (2, member.user_id)
    await kit.call(
        "/group/group_application_response", {"groupID": gid, "fromUserID": x.user_id, "handleResult": 1}, owner
    )
    [joined] = (await kit.call("/group/get_group_members_info", {"groupID": gid, "userIDs": [x.user_id]}, owner))[
        "members"
    ]
    assert (joined["inviterUserID"], joined["joinSource"]) == (member.user_id, 2)
    # ... the owner's goes through at once
    await kit.call("/group/invite_user_to_group", {"groupID": gid, "invitedUserIDs": [y.user_id]}, owner)
    assert y.user_id in (await kit.call("/group/get_group_member_user_id", {"groupID": gid}, owner))["userIDs"]
    invite = {"groupID": gid, "invitedUserIDs": [z.user_id]}
    assert await kit.code("/group/invite_user_to_group", {**invite, "invitedUserIDs": []}, owner) == 1001
    assert (
        await kit.code("/group/invite_user_to_group", {**invite, "invitedUserIDs": [z.user_id, z.user_id]}, owner)
        == 1001
    )
    assert await kit.code("/group/invite_user_to_group", {**invite, "invitedUserIDs": ["ghost"]}, owner) == 1101
    assert await kit.code("/group/invite_user_to_group", {**invite, "invitedUserIDs": [y.user_id]}, owner) == 1001
    assert await kit.code("/group/invite_user_to_group", {**invite, "groupID": "nope"}, owner) == 1201
    assert await kit.code("/group/invite_user_to_group", invite, z) == 1203


async def test_kick_quit_and_transfer_rules(kit: Kit) -> None:
    owner, admin1, admin2, m1, m2, m3, outsider = await kit.peers(7)
    group = await kit.group(owner, [admin1, admin2, m1, m2, m3])
    gid = group.group_id
    roles = [{"groupID": gid, "userID": u.user_id, "roleLevel": 60} for u in (admin1, admin2)]
    await kit.call("/group/set_group_member_info", {"members": roles}, owner)

    kick = {"groupID": gid}
    assert await kit.code("/group/kick_group", {**kick, "kickedUserIDs": [admin2.user_id]}, admin1) == 1002
    assert await kit.code("/group/kick_group", {**kick, "kickedUserIDs": [m2.user_id]}, m1) == 1002
    assert await kit.code("/group/kick_group", {**kick, "kickedUserIDs": [owner.user_id]}, admin1) == 1001
    assert await kit.code("/group/kick_group", {**kick, "kickedUserIDs": [admin1.user_id]}, admin1) == 1001
    assert await kit.code("/group/kick_group", {**kick, "kickedUserIDs": [outsider.user_id]}, owner) == 1203
    assert await kit.code("/group/kick_group", {**kick, "kickedUserIDs": []}, owner) == 1001
    assert await kit.code("/group/kick_group", {**kick, "kickedUserIDs": [m1.user_id, m1.user_id]}, owner) == 1001
    assert await kit.code("/group/kick_group", {"groupID": "nope", "kickedUserIDs": [m1.user_id]}, owner) == 1201
    assert await kit.code("/group/kick_group", {**kick, "kickedUserIDs": [m1.user_id]}, outsider) == 1002
    await kit.call("/group/kick_group", {**kick, "kickedUserIDs": [m1.user_id]}, admin1)
    await kit.call("/group/kick_group", {**kick, "kickedUserIDs": [admin2.user_id], "reason": "bye"}, owner)

    assert await kit.code("/group/quit_group", {"groupID": gid}, owner) == 1002
    assert await kit.code("/group/quit_group", {"groupID": gid}, outsider) == 1203
    assert await kit.code("/group/quit_group", {"groupID": gid, "userID": m3.user_id}, m2) == 1002
    await kit.call("/group/quit_group", {"groupID": gid}, m2)
    await kit.call("/group/quit_group", {"groupID": gid, "userID": m3.user_id}, kit.im.admin)
    ids = (await kit.call("/group/get_group_member_user_id", {"groupID": gid}, owner))["userIDs"]
    assert ids == [owner.user_id, admin1.user_id]

    transfer = {"groupID": gid, "oldOwnerUserID": owner.user_id, "newOwnerUserID": admin1.user_id}
    assert await kit.code("/group/transfer_group", transfer, admin1) == 1002
    assert await kit.code("/group/transfer_group", {**transfer, "newOwnerUserID": owner.user_id}, owner) == 1001
    assert await kit.code("/group/transfer_group", {**transfer, "newOwnerUserID": m1.user_id}, owner) == 1203
    assert await kit.code("/group/transfer_group", {**transfer, "groupID": "nope"}, owner) == 1201
    await kit.call("/group/transfer_group", transfer, owner)
    listing = await kit.call("/group/get_group_member_list", {"groupID": gid, "pagination": PAGE}, owner)
    # the old owner takes the new owner's former role (UpdateUserRoleLevels)
    assert [(m["userID"], m["roleLevel"]) for m in listing["members"]] == [(admin1.user_id, 100), (owner.user_id, 60)]
    [info] = (await kit.call("/group/get_groups_info", {"groupIDs": [gid]}, owner))["groupInfos"]
    assert (info["ownerUserID"], info["memberCount"]) == (admin1.user_id, 2)


async def test_set_group_member_info_rules(kit: Kit) -> None:
    owner, admin, other_admin, m1, m2 = await kit.peers(5)
    group = await kit.group(owner, [admin, other_admin, m1, m2])
    gid = group.group_id

    def member(user: str, **fields: Any) -> dict[str, Any]:
        return {"members": [{"groupID": gid, "userID": user, **fields}]}

    await kit.call("/group/set_group_member_info", {"members": [
        {"groupID": gid, "userID": admin.user_id, "roleLevel": 60},
        {"groupID": gid, "userID": other_admin.user_id, "roleLevel": 60},
    ]}, owner)  # fmt: skip
    assert await kit.code("/group/set_group_member_info", member(m1.user_id, roleLevel=100), owner) == 1002
    assert await kit.code("/group/set_group_member_info", member(m1.user_id, roleLevel=50), owner) == 1001
    assert await kit.code("/group/set_group_member_info", {"members": []}, owner) == 1001
    assert await kit.code("/group/set_group_member_info", member(other_admin.user_id, nickname="x"), admin) == 1002
    assert await kit.code("/group/set_group_member_info", member(owner.user_id, nickname="x"), admin) == 1002
    assert await kit.code("/group/set_group_member_info", member(m2.user_id, nickname="x"), m1) == 1002
    assert await kit.code("/group/set_group_member_info", member(m1.user_id, roleLevel=60), m1) == 1002
    assert await kit.code("/group/set_group_member_info", member(owner.user_id, roleLevel=60), owner) == 1001
    assert await kit.code("/group/set_group_member_info", member("ghost", nickname="x"), owner) == 1203
    assert await kit.code("/group/set_group_member_info", member("ghost", nickname="x"), kit.im.admin) == 1203
    await kit.call("/group/set_group_member_info", member(m1.user_id, nickname="m-one", faceURL="f", ex="e"), m1)
    await kit.call("/group/set_group_member_info", member(m2.user_id, nickname="m-two"), admin)
    await kit.call("/group/set_group_member_info", member(admin.user_id, roleLevel=20), admin)  # stepping down is fine
    await kit.call("/group/set_group_member_info", member(m2.user_id, roleLevel=60), kit.im.admin)
    infos = await kit.call(
        "/group/get_group_members_info", {"groupID": gid, "userIDs": [m1.user_id, m2.user_id, admin.user_id]}, owner
    )
    by_id = {m["userID"]: m for m in infos["members"]}
    assert (by_id[m1.user_id]["nickname"], by_id[m1.user_id]["faceURL"], by_id[m1.user_id]["ex"]) == ("m-one", "f", "e")
    assert (by_id[m2.user_id]["nickname"], by_id[m2.user_id]["roleLevel"]) == ("m-two", 60)
    assert by_id[admin.user_id]["roleLevel"] == 20


async def test_mute_rules_and_expiry_on_the_injected_clock(kit: Kit) -> None:
    owner, admin, m1, m2 = await kit.peers(4)
    group = await kit.group(owner, [admin, m1, m2])
    gid = group.group_id
    await kit.call(
        "/group/set_group_member_info", {"members": [{"groupID": gid, "userID": admin.user_id, "roleLevel": 60}]}, owner
    )

    mute = {"groupID": gid, "mutedSeconds": 60}
    assert await kit.code("/group/mute_group_member", {**mute, "userID": m2.user_id}, m1) == 1002
    assert await kit.code("/group/mute_group_member", {**mute, "userID": owner.user_id}, admin) == 1002
    assert await kit.code("/group/mute_group_member", {**mute, "userID": admin.user_id}, admin) == 1002
    assert await kit.code("/group/mute_group_member", {**mute, "userID": m1.user_id, "mutedSeconds": 0}, owner) == 1001
    assert await kit.code("/group/mute_group_member", {**mute, "userID": "ghost"}, owner) == 1203
    assert await kit.code("/group/cancel_mute_group_member", {"groupID": gid, "userID": m2.user_id}, m1) == 1002
    now = int(kit.im.clock() * 1000)
    await kit.call("/group/mute_group_member", {**mute, "userID": m1.user_id}, admin)
    [muted] = (await kit.call("/group/get_group_members_info", {"groupID": gid, "userIDs": [m1.user_id]}, owner))[
        "members"
    ]
    assert now + 60_000 <= muted["muteEndTime"] <= now + 65_000

    assert (await kit.send(m1, gid, "c1")).err_code == 1402
    assert (await kit.send(m2, gid, "c2")).err_code == 0
    kit.im.clock.advance(61)  # the mute runs out on the server's clock, no sleeping
    assert (await kit.send(m1, gid, "c3")).err_code == 0
    await kit.call("/group/mute_group_member", {**mute, "userID": m1.user_id}, owner)
    await kit.call("/group/cancel_mute_group_member", {"groupID": gid, "userID": m1.user_id}, owner)
    [free] = (await kit.call("/group/get_group_members_info", {"groupID": gid, "userIDs": [m1.user_id]}, owner))[
        "members"
    ]
    assert free["muteEndTime"] == 0
    assert (await kit.send(m1, gid, "c4")).err_code == 0

    # a muted group (status 3) silences ordinary members only
    assert await kit.code("/group/mute_group", {"groupID": gid}, m1) == 1002
    assert await kit.code("/group/mute_group", {"groupID": "nope"}, owner) == 1201
    await kit.call("/group/mute_group", {"groupID": gid}, admin)
    [info] = (await kit.call("/group/get_groups_info", {"groupIDs": [gid]}, owner))["groupInfos"]
    assert info["status"] == 3
    assert (await kit.send(m1, gid, "c5")).err_code == 1403
    assert (await kit.send(admin, gid, "c6")).err_code == 0
    assert (await kit.send(owner, gid, "c7")).err_code == 0
    await kit.call("/group/cancel_mute_group", {"groupID": gid}, owner)
    assert (await kit.send(m1, gid, "c8")).err_code == 0
    await kit.drain(group.everyone)


async def test_dismiss(kit: Kit) -> None:
    owner, m1, m2, outsider = await kit.peers(4)
    group = await kit.group(owner, [m1, m2])
    gid = group.group_id
    assert await kit.code("/group/dismiss_group", {"groupID": gid}, m1) == 1002
    assert await kit.code("/group/dismiss_group", {"groupID": "nope"}, owner) == 1201
    await kit.call("/group/dismiss_group", {"groupID": gid}, owner)
    [info] = (await kit.call("/group/get_groups_info", {"groupIDs": [gid]}, owner))["groupInfos"]
    assert (info["status"], info["memberCount"]) == (2, 0)
    assert await kit.call("/group/get_joined_group_list", {"fromUserID": m1.user_id, "pagination": PAGE}, m1) == {
        "total": 0,
        "groups": None,
    }
    assert (await kit.send(m1, gid, "late")).err_code == 1204
    assert await kit.code("/group/dismiss_group", {"groupID": gid}, kit.im.admin) == 1204
    assert await kit.code("/group/join_group", {"groupID": gid, "joinSource": 3}, outsider) == 1204
    assert (
        await kit.code(
            "/group/invite_user_to_group", {"groupID": gid, "invitedUserIDs": [outsider.user_id]}, kit.im.admin
        )
        == 1204
    )
    assert await kit.code("/group/set_group_info_ex", {"groupID": gid, "groupName": "x"}, kit.im.admin) == 1204
    assert (
        await kit.code(
            "/group/transfer_group",
            {"groupID": gid, "oldOwnerUserID": owner.user_id, "newOwnerUserID": m1.user_id},
            kit.im.admin,
        )
        == 1204
    )
    # deleteMember: the members go at once and nobody is told
    other = await kit.group(owner, [m1])
    await kit.call("/group/dismiss_group", {"groupID": other.group_id, "deleteMember": True}, owner)
    assert (await m1.gw.drain()) == []
    [info] = (await kit.call("/group/get_groups_info", {"groupIDs": [other.group_id]}, owner))["groupInfos"]
    assert (info["status"], info["memberCount"]) == (2, 0)


async def test_get_groups_is_an_admin_listing(kit: Kit) -> None:
    a, b = await kit.peers(2)
    tag = "cms-" + a.user_id
    older = await kit.group(a, [b], groupName=tag + "-one")
    kit.im.clock.advance(1)
    newer = await kit.group(a, [b], groupName=tag + "-two")
    gone = await kit.group(a, [b], groupName=tag + "-gone")
    await kit.call("/group/dismiss_group", {"groupID": gone.group_id}, a)
    listing = await kit.call("/group/get_groups", {"pagination": PAGE, "groupName": tag}, kit.im.admin)
    assert listing["total"] == 2
    assert [g["groupInfo"]["groupID"] for g in listing["groups"]] == [newer.group_id, older.group_id]
    assert list(listing["groups"][0]) == ["groupInfo", "groupOwnerUserName", "groupOwnerUserID"]
    assert (listing["groups"][0]["groupOwnerUserID"], listing["groups"][0]["groupOwnerUserName"]) == (
        a.user_id, "nick-" + a.user_id
    )  # fmt: skip
    one = await kit.call("/group/get_groups", {"pagination": PAGE, "groupID": gone.group_id}, kit.im.admin)
    assert one["total"] == 1 and one["groups"][0]["groupInfo"]["status"] == 2
    assert await kit.code("/group/get_groups", {"pagination": PAGE}, a) == 1002
    await kit.drain([a, b])
