"""Incremental sync of joined groups and of group members (openim-v3.md 1.5.4, 5.9 step 6)."""

from __future__ import annotations

from typing import Any

from imserver.services.versions import id_hash
from tests.imserver_groups.support import Kit, Peer

JOIN = "/group/get_incremental_join_groups"
MEMBERS = "/group/get_incremental_group_members"


async def _join_delta(kit: Kit, peer: Peer, vid: str, version: int) -> dict[str, Any]:
    data: dict[str, Any] = await kit.call(JOIN, {"userID": peer.user_id, "versionID": vid, "version": version}, peer)
    return data


async def _member_delta(kit: Kit, peer: Peer, gid: str, vid: str, version: int) -> dict[str, Any]:
    data: dict[str, Any] = await kit.call(MEMBERS, {"groupID": gid, "versionID": vid, "version": version}, peer)
    return data


async def test_joined_groups_deltas(kit: Kit) -> None:
    a, b = await kit.peers(2)
    first = await _join_delta(kit, b, "", 0)
    assert list(first) == ["version", "versionID", "full", "delete", "insert", "update", "sortVersion"]
    assert first["full"] is True and len(first["versionID"]) == 24
    vid, v0 = first["versionID"], first["version"]
    assert await _join_delta(kit, b, vid, v0) == {**first, "full": False}

    g1 = await kit.group(a, [b])
    g2 = await kit.group(a, [b])
    delta = await _join_delta(kit, b, vid, v0)
    assert delta["full"] is False and delta["version"] == v0 + 2
    assert [g["groupID"] for g in delta["insert"]] == [g1.group_id, g2.group_id]
    assert delta["insert"][0]["memberCount"] == 2 and delta["delete"] is None
    v1 = delta["version"]

    full = await kit.call("/group/get_full_join_group_ids", {"userID": b.user_id}, b)
    assert full == {"version": v1, "versionID": vid, "equal": False, "groupIDs": [g1.group_id, g2.group_id]}
    same = await kit.call(
        "/group/get_full_join_group_ids", {"userID": b.user_id, "idHash": id_hash(full["groupIDs"])}, b
    )
    assert (same["equal"], same["groupIDs"]) == (True, None)
    assert await kit.code("/group/get_full_join_group_ids", {"userID": b.user_id}, a) == 1002

    await kit.call("/group/quit_group", {"groupID": g1.group_id}, b)
    await kit.call("/group/kick_group", {"groupID": g2.group_id, "kickedUserIDs": [b.user_id]}, a)
    delta = await _join_delta(kit, b, vid, v1)
    assert (delta["delete"], delta["insert"], delta["version"]) == ([g1.group_id, g2.group_id], None, v1 + 2)
    # from before the joins, the inserts collapsed into the deletes
    assert (await _join_delta(kit, b, vid, v0))["delete"] == [g1.group_id, g2.group_id]
    assert (await _join_delta(kit, b, "f" * 24, v0))["full"] is True
    assert await kit.code(JOIN, {"userID": b.user_id}, a) == 1002
    await kit.drain([a, b])


async def test_group_member_deltas(kit: Kit) -> None:
    owner, m1, m2, x = await kit.peers(4)
    group = await kit.group(owner, [m1, m2])
    gid = group.group_id
    first = await _member_delta(kit, m1, gid, "", 0)
    assert list(first) == ["version", "versionID", "full", "delete", "insert", "update", "group", "sortVersion"]
    assert first["full"] is True and first["group"]["groupID"] == gid
    vid, v0 = first["versionID"], first["version"]
    idle = await _member_delta(kit, m1, gid, vid, v0)
    assert (idle["full"], idle["group"], idle["insert"]) == (False, None, None)  # nothing changed: no group either

    await kit.call("/group/invite_user_to_group", {"groupID": gid, "invitedUserIDs": [x.user_id]}, owner)
    delta = await _member_delta(kit, m1, gid, vid, v0)
    assert [m["userID"] for m in delta["insert"]] == [x.user_id] and delta["group"]["memberCount"] == 4
    v1 = delta["version"]

    await kit.call(
        "/group/set_group_member_info", {"members": [{"groupID": gid, "userID": m2.user_id, "nickname": "two"}]}, m2
    )
    await kit.call("/group/set_group_info_ex", {"groupID": gid, "groupName": "renamed"}, owner)
    delta = await _member_delta(kit, m1, gid, vid, v1)
    # the group's own change ("" in the log) is not a member: it only brings `group` along
    assert [m["nickname"] for m in delta["update"]] == ["two"] and delta["sortVersion"] == 0
    assert delta["group"]["groupName"] == "renamed" and delta["version"] == v1 + 2
    v2 = delta["version"]

    await kit.call(
        "/group/set_group_member_info", {"members": [{"groupID": gid, "userID": x.user_id, "roleLevel": 60}]}, owner
    )
    await kit.call("/group/kick_group", {"groupID": gid, "kickedUserIDs": [m2.user_id]}, owner)
    delta = await _member_delta(kit, m1, gid, vid, v2)
    assert (delta["delete"], [m["roleLevel"] for m in delta["update"]]) == ([m2.user_id], [60])
    assert delta["sortVersion"] == v2 + 1 and delta["version"] == v2 + 2

    ids = await kit.call("/group/get_full_group_member_user_ids", {"groupID": gid}, m1)
    assert ids["userIDs"] == [owner.user_id, x.user_id, m1.user_id] and ids["version"] == v2 + 2
    same = await kit.call(
        "/group/get_full_group_member_user_ids", {"groupID": gid, "idHash": id_hash(ids["userIDs"])}, m1
    )
    assert (same["equal"], same["userIDs"]) == (True, None)
    assert await kit.code("/group/get_full_group_member_user_ids", {"groupID": gid}, m2) == 1002
    assert await kit.code(MEMBERS, {"groupID": gid, "versionID": vid, "version": v2}, m2) == 1002
    assert await kit.code(MEMBERS, {"groupID": "nope"}, m1) == 1201
    await kit.drain([*group.everyone, x])


async def test_member_batch_skips_dismissed_groups(kit: Kit) -> None:
    owner, member = await kit.peers(2)
    live = await kit.group(owner, [member])
    gone = await kit.group(owner, [member])
    state = await _member_delta(kit, member, live.group_id, "", 0)
    await kit.call("/group/dismiss_group", {"groupID": gone.group_id}, kit.im.admin)
    await kit.call("/group/set_group_info_ex", {"groupID": live.group_id, "introduction": "i"}, owner)
    body = {
        "userID": member.user_id,
        "reqList": [
            {"groupID": live.group_id, "versionID": state["versionID"], "version": state["version"]},
            {"groupID": gone.group_id, "versionID": "", "version": 0},
            {"groupID": live.group_id, "versionID": "", "version": 0},
        ],
    }
    batch = await kit.call("/group/get_incremental_group_members_batch", body, member)
    assert list(batch["respList"]) == [live.group_id]
    answer = batch["respList"][live.group_id]
    assert (answer["full"], answer["insert"], answer["update"]) == (False, None, None)
    assert answer["group"]["introduction"] == "i" and answer["version"] == state["version"] + 1
    assert await kit.code(MEMBERS, {"groupID": gone.group_id}, kit.im.admin) == 1204
    assert await kit.code("/group/get_incremental_group_members_batch", body, owner) == 1002
    await kit.drain([owner, member])
