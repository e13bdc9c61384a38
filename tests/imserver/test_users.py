"""/user/* routes (openim-v3.md 1.5.1)."""

from __future__ import annotations

import uuid

from tests.imserver.conftest import ImServer, RecServer
from tests.imserver.scenarios import code, page


async def test_admins_exist_at_start(im: ImServer) -> None:
    [admin] = (await im.call("/user/get_users_info", {"userIDs": ["imAdmin"]}, im.admin))["usersInfo"]
    assert (admin["nickname"], admin["appMangerLevel"]) == ("imAdmin", 3)


async def test_register_rules(im: ImServer) -> None:
    [u] = await im.users(1)
    tu = await im.token(u)
    fresh = "r" + uuid.uuid4().hex[:12]

    def body(*users: dict[str, object]) -> dict[str, object]:
        return {"users": list(users)}

    assert await code(im, "/user/user_register", body({"userID": fresh, "nickname": "n"}), tu) == 1002
    assert await code(im, "/user/user_register", body({"userID": u, "nickname": "n"}), im.admin) == 1102
    assert await code(im, "/user/user_register", body({"userID": "a:b", "nickname": "n"}), im.admin) == 1001
    assert await code(im, "/user/user_register", body({"userID": "", "nickname": "n"}), im.admin) == 1001
    assert await code(im, "/user/user_register", body({"userID": fresh, "nickname": ""}), im.admin) == 1001
    twice = body({"userID": fresh, "nickname": "n"}, {"userID": fresh, "nickname": "m"})
    assert await code(im, "/user/user_register", twice, im.admin) == 1001
    assert await code(im, "/user/user_register", {}, im.admin) == 1001
    assert await code(im, "/user/user_register", {"users": []}, im.admin) == 1001
    await im.call("/user/user_register", body({"userID": fresh, "nickname": "n", "faceURL": "f", "ex": "e"}), im.admin)
    [info] = (await im.call("/user/get_users_info", {"userIDs": [fresh]}, tu))["usersInfo"]
    assert (info["nickname"], info["faceURL"], info["ex"], info["appMangerLevel"]) == ("n", "f", "e", 0)


async def test_app_accounts_get_no_token(im: ImServer) -> None:
    bot = "bot" + uuid.uuid4().hex[:10]
    await im.call("/user/user_register", {"users": [{"userID": bot, "nickname": "b", "appMangerLevel": 3}]}, im.admin)
    assert await code(im, "/auth/get_user_token", {"userID": bot, "platformID": 5}, im.admin) == 1001


async def test_update_user_info_permissions_and_fields(im: ImServer) -> None:
    a, b = await im.users(2)
    ta = await im.token(a)
    assert await code(im, "/user/update_user_info", {"userInfo": {"userID": b, "nickname": "x"}}, ta) == 1002
    assert await code(im, "/user/update_user_info", {"userInfo": {"nickname": "x"}}, ta) == 1001
    assert await code(im, "/user/update_user_info", {}, ta) == 1001
    # update_user_info: empty strings and zeros mean "unchanged"; appMangerLevel is not self-service
    await im.call("/user/update_user_info", {"userInfo": {"userID": a, "faceURL": "f1", "appMangerLevel": 2}}, ta)
    [info] = (await im.call("/user/get_users_info", {"userIDs": [a]}, ta))["usersInfo"]
    assert (info["nickname"], info["faceURL"], info["appMangerLevel"]) == ("nick-" + a, "f1", 0)
    # update_user_info_ex: wrappers, null = unchanged, "" = set empty
    await im.call("/user/update_user_info_ex", {"userInfo": {"userID": a, "nickname": "N", "faceURL": ""}}, ta)
    await im.call("/user/update_user_info_ex", {"userInfo": {"userID": a, "nickname": None, "ex": "E"}}, ta)
    [info] = (await im.call("/user/get_users_info", {"userIDs": [a]}, ta))["usersInfo"]
    assert (info["nickname"], info["faceURL"], info["ex"]) == ("N", "", "E")
    assert await code(im, "/user/update_user_info_ex", {"userInfo": {"userID": b, "ex": "x"}}, ta) == 1002
    await im.call("/user/update_user_info_ex", {"userInfo": {"userID": b, "ex": "by-admin"}}, im.admin)
    ghost = {"userInfo": {"userID": "ghost-" + a, "ex": "x"}}
    assert await code(im, "/user/update_user_info_ex", ghost, im.admin) == 1101


async def test_global_recv_msg_opt(im: ImServer) -> None:
    [a] = await im.users(1)
    ta = await im.token(a)
    assert await code(im, "/user/set_global_recv_msg_opt", {"userID": a, "globalRecvMsgOpt": 3}, ta) == 1001
    await im.call("/user/set_global_recv_msg_opt", {"userID": a, "globalRecvMsgOpt": 2}, ta)
    [info] = (await im.call("/user/get_users_info", {"userIDs": [a]}, ta))["usersInfo"]
    assert info["globalRecvMsgOpt"] == 2
    await im.call("/user/set_global_msg_recv_opt", {"userID": a, "globalRecvMsgOpt": 1}, ta)
    [info] = (await im.call("/user/get_users_info", {"userIDs": [a]}, ta))["usersInfo"]
    assert info["globalRecvMsgOpt"] == 1


async def test_lookups(im: ImServer) -> None:
    a, b = await im.users(2)
    ta = await im.token(a)
    infos = await im.call("/user/get_users_info", {"userIDs": [b, "ghost", a]}, ta)
    assert [i["userID"] for i in infos["usersInfo"]] == [b, a]
    assert await im.call("/user/get_users_info", {"userIDs": ["ghost"]}, ta) == {"usersInfo": []}

    all_ids = await im.call("/user/get_all_users_uid", {"pagination": page(1000)}, ta)
    assert {a, b, "imAdmin"} <= set(all_ids["userIDs"]) and all_ids["total"] == len(all_ids["userIDs"])
    one = await im.call("/user/get_all_users_uid", {"pagination": {"pageNumber": 2, "showNumber": 1}}, ta)
    assert len(one["userIDs"]) == 1 and one["total"] == all_ids["total"]
    assert (await im.call("/user/get_all_users_uid", {"pagination": {"pageNumber": 1, "showNumber": 0}}, ta))[
        "userIDs"
    ] is None

    found = await im.call("/user/get_users", {"pagination": page(), "userID": a[3:].upper()}, ta)
    assert [u["userID"] for u in found["users"]] == [a] and found["total"] == 1
    by_nick = await im.call("/user/get_users", {"pagination": page(), "nickName": "NICK-" + b}, ta)
    assert [u["userID"] for u in by_nick["users"]] == [b]
    admins = await im.call("/user/get_users", {"pagination": page(), "userID": "imAdmin"}, ta)
    assert admins == {"total": 0, "users": []}  # only app levels 0 and 1 are listed

    assert await code(im, "/user/account_check", {"checkUserIDs": [a]}, ta) == 1002
    assert await code(im, "/user/account_check", {"checkUserIDs": [a, a]}, im.admin) == 1001
    checked = await im.call("/user/account_check", {"checkUserIDs": [a, "ghost"]}, im.admin)
    assert checked == {"results": [{"userID": a, "accountStatus": 1}, {"userID": "ghost", "accountStatus": 0}]}
    commands = await im.call("/user/process_user_command_get_all", {"userID": a}, ta)
    assert commands == {"CommandResp": []}


async def test_online_status_from_hub(rec: RecServer) -> None:
    a, b = await rec.users(2)
    ta = await rec.token(a)
    rec.hub.online[b] = [5, 2]
    statuses = await rec.call("/user/get_users_status", {"userID": a, "userIDs": [a, b]}, ta)
    assert statuses == {
        "statusList": [
            {"userID": a, "status": 0, "platformIDs": None},
            {"userID": b, "status": 1, "platformIDs": [2, 5]},
        ]
    }
    assert await code(rec, "/user/get_users_online_status", {"userIDs": [b]}, ta) == 1002
    detail = await rec.call("/user/get_users_online_status", {"userIDs": [a, b]}, rec.admin)
    assert detail[0] == {"userID": a, "status": 0, "detailPlatformStatus": None}
    assert detail[1]["status"] == 1 and [p["platformID"] for p in detail[1]["detailPlatformStatus"]] == [2, 5]
    assert list(detail[1]["detailPlatformStatus"][0]) == ["platformID", "connID", "isBackground", "token"]
    sub = await rec.call("/user/subscribe_users_status", {"userID": a, "userIDs": [b], "genre": 1}, ta)
    assert sub == {"statusList": [{"userID": b, "status": 1, "platformIDs": [2, 5]}]}
    assert await code(rec, "/user/subscribe_users_status", {"userID": a, "userIDs": [b], "genre": 3}, ta) == 1001
    assert await code(rec, "/user/subscribe_users_status", {"userID": b, "userIDs": [a], "genre": 1}, ta) == 1002
    assert await rec.call("/user/get_subscribe_users_status", {"userID": a}, ta) == {"statusList": None}
