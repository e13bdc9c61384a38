"""A core that handles its group notifications late still tells a kicked member (issue 13).

The server's version log keeps only the latest change per group (open-im-server
pkg/common/storage/database/mgo/version_log.go; imserver/services/versions.py): a
group joined and left between two joined-group syncs comes back as a delete alone.
A core under load (the CI flake of tests/oimws/test_groups.py) first syncs for the
creation notification after the kick: the delete removes nothing it knew, so the
diff has no OnJoinedGroupDeleted. Holding the core's state lock (what a busy core
does: its pushes wait in the inbox) makes that order certain.
"""

from __future__ import annotations

from tests.support.stack import Stack


async def test_kicked_member_whose_core_lags_gets_joined_group_deleted(stack: Stack) -> None:
    a_id, c_id = await stack.new_users(2, prefix="late")
    a, c = await stack.login(a_id), await stack.login(c_id)
    sc = await c.stream()
    core = stack.bridge.core(c.session_id)
    try:
        async with core._state_lock:  # C's pushes wait until the kick is done
            gid = (
                await a.call("/v1/group/create_group", {"memberUserIDs": [c_id], "groupInfo": {"groupName": "late"}})
            )["groupID"]
            await a.call("/v1/group/change_group_mute", {"groupID": gid, "isMute": True})
            await a.call("/v1/group/kick_group_member", {"groupID": gid, "userIDList": [c_id]})
        (gone,) = await sc.wait_for("OnJoinedGroupDeleted", lambda e: e["data"]["groupID"] == gid)
        assert gone.json["data"]["memberCount"] == 0
        assert await c.call("/v1/group/get_joined_group_list") == []
        # Once, though later notifications and syncs come by.
        await a.call("/v1/group/change_group_mute", {"groupID": gid, "isMute": False})
        await c.call("/v1/conversation/get_all_conversation_list")
        assert len(sc.named("OnJoinedGroupDeleted")) == 1
    finally:
        await sc.close()
