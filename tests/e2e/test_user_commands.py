"""User commands over REST + SSE: both devices of a user see adds and deletes (issue 15)."""

from __future__ import annotations

from tests.support.stack import Stack


async def test_commands_sync_to_the_users_other_device(stack: Stack) -> None:
    (a_id,) = await stack.new_users(1)
    phone, web = await stack.login(a_id, platform_id=2), await stack.login(a_id, platform_id=5)
    sp, sw = await phone.stream(), await web.stream()
    try:
        assert await web.call("/v1/user/get_all_user_commands", {"type": 0}) == []
        await phone.call("/v1/user/add_user_command", {"type": 7, "uuid": "fav-1", "value": "hello"})
        (added,) = await sw.wait_for("OnUserCommandAdd")
        assert added.json["listener"] == "OnUserListener"
        cmd = added.json["data"]
        assert (cmd["userID"], cmd["type"], cmd["uuid"], cmd["value"]) == (a_id, 7, "fav-1", "hello")
        await sp.wait_for("OnUserCommandAdd")
        await phone.call("/v1/user/add_user_command", {"type": 8, "uuid": "pin-1", "value": "x"})
        await phone.call("/v1/user/add_user_command", {"type": 7, "uuid": "fav-1", "value": "changed"})
        (updated,) = await sw.wait_for("OnUserCommandUpdate")
        assert updated.json["data"]["value"] == "changed"
        assert [c["uuid"] for c in await web.call("/v1/user/get_all_user_commands", {"type": 7})] == ["fav-1"]
        await web.call("/v1/user/delete_user_command", {"type": 8, "uuid": "pin-1"})
        (deleted,) = await sp.wait_for("OnUserCommandDelete")
        assert deleted.json["data"]["uuid"] == "pin-1"
        assert [c["uuid"] for c in await phone.call("/v1/user/get_all_user_commands")] == ["fav-1"]
        r = await web.post("/v1/user/delete_user_command", {"type": 8, "uuid": "pin-1"})
        assert r.status_code == 404, r.text
    finally:
        await sp.close()
        await sw.close()
