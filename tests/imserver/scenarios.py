"""Scenarios run against any imserver backend (SQLite in most tests, PostgreSQL once)."""

from __future__ import annotations

from typing import Any

from imserver.services.versions import id_hash
from tests.imserver.conftest import Server
from tests.support.imadmin import envelope

__all__ = ["black_version_flow", "code", "friend_flow", "page", "version_flow"]

PAGE = {"pageNumber": 1, "showNumber": 100}


def page(n: int = 100) -> dict[str, int]:
    return {"pageNumber": 1, "showNumber": n}


async def code(s: Server, route: str, body: Any, token: str) -> int:
    result = await envelope(s.http, s.api_url, route, body, token)
    value: int = result["errCode"]
    return value


async def friend_flow(s: Server) -> None:
    """add -> list requests -> accept -> friends both ways, with every error code on the way."""
    a, b, c = await s.users(3)
    ta, tb, tc = await s.token(a), await s.token(b), await s.token(c)

    assert await code(s, "/friend/add_friend", {"fromUserID": a, "toUserID": a}, ta) == 1301
    assert await code(s, "/friend/add_friend", {"fromUserID": b, "toUserID": a}, ta) == 1002
    assert await code(s, "/friend/add_friend", {"fromUserID": a, "toUserID": "ghost-" + a}, ta) == 1101
    await s.call("/friend/add_friend", {"fromUserID": a, "toUserID": b, "reqMsg": "hi", "ex": "e1"}, ta)

    received = await s.call("/friend/get_friend_apply_list", {"userID": b, "pagination": PAGE}, tb)
    assert list(received) == ["FriendRequests", "total"] and received["total"] == 1
    [request] = received["FriendRequests"]
    assert request["fromUserID"] == a and request["toUserID"] == b
    assert request["fromNickname"] == "nick-" + a and request["toNickname"] == "nick-" + b
    assert (request["handleResult"], request["reqMsg"], request["ex"], request["handleTime"]) == (0, "hi", "e1", 0)
    assert request["createTime"] > 10**12  # milliseconds
    sent = await s.call("/friend/get_self_friend_apply_list", {"userID": a, "pagination": PAGE}, ta)
    assert list(sent) == ["friendRequests", "total"] and sent["friendRequests"] == [request]
    count = await s.call("/friend/get_self_unhandled_apply_count", {"userID": b}, tb)
    assert count == {"count": 1}
    later = await s.call("/friend/get_self_unhandled_apply_count", {"userID": b, "time": request["createTime"]}, tb)
    assert later == {"count": 0}
    both = await s.call("/friend/get_designated_friend_apply", {"fromUserID": a, "toUserID": b}, ta)
    assert both["friendRequests"] == [request]
    assert await code(s, "/friend/get_friend_apply_list", {"userID": b, "pagination": PAGE}, ta) == 1002

    respond = {"fromUserID": a, "toUserID": b, "handleMsg": "welcome"}
    assert await code(s, "/friend/add_friend_response", {**respond, "handleResult": 2}, tb) == 1001
    assert await code(s, "/friend/add_friend_response", {**respond, "handleResult": 1}, ta) == 1002
    assert await code(s, "/friend/add_friend_response", {**respond, "fromUserID": c, "handleResult": 1}, tb) == 1004
    await s.call("/friend/add_friend_response", {**respond, "handleResult": 1}, tb)
    assert await code(s, "/friend/add_friend_response", {**respond, "handleResult": 1}, tb) == 1001
    assert await code(s, "/friend/add_friend_response", {**respond, "handleResult": -1}, tb) == 1305
    assert await code(s, "/friend/add_friend", {"fromUserID": a, "toUserID": b}, ta) == 1304

    assert await s.call("/friend/is_friend", {"userID1": a, "userID2": b}, tc) == {
        "inUser1Friends": True,
        "inUser2Friends": True,
    }
    listing = await s.call("/friend/get_friend_list", {"userID": a, "pagination": PAGE}, ta)
    assert listing["total"] == 1
    [friend] = listing["friendsInfo"]
    assert list(friend) == [
        "ownerUserID", "remark", "createTime", "friendUser", "addSource", "operatorUserID", "ex", "isPinned"
    ]  # fmt: skip
    assert (friend["ownerUserID"], friend["addSource"], friend["operatorUserID"]) == (a, 2, a)
    assert friend["friendUser"]["userID"] == b and friend["friendUser"]["nickname"] == "nick-" + b
    assert 10**9 < friend["createTime"] < 10**11  # FriendsDB2Pb uses seconds
    handled = await s.call("/friend/get_friend_apply_list", {"userID": b, "pagination": PAGE}, tb)
    [done] = handled["FriendRequests"]
    assert (done["handleResult"], done["handlerUserID"], done["handleMsg"]) == (1, b, "welcome")
    assert done["handleTime"] > 10**12
    assert await s.call("/friend/get_self_unhandled_apply_count", {"userID": b}, tb) == {"count": 0}

    # refusal, and the handleResults filter
    await s.call("/friend/add_friend", {"fromUserID": c, "toUserID": b, "reqMsg": "me too"}, tc)
    await s.call("/friend/add_friend_response", {"fromUserID": c, "toUserID": b, "handleResult": -1}, tb)
    assert (
        await code(s, "/friend/add_friend_response", {"fromUserID": c, "toUserID": b, "handleResult": -1}, tb) == 1305
    )
    refused = await s.call(
        "/friend/get_friend_apply_list", {"userID": b, "pagination": PAGE, "handleResults": [-1]}, tb
    )
    assert [r["fromUserID"] for r in refused["FriendRequests"]] == [c] and refused["total"] == 1
    assert (await s.call("/friend/is_friend", {"userID1": b, "userID2": c}, tb))["inUser1Friends"] is False

    # one-direction delete
    await s.call("/friend/delete_friend", {"ownerUserID": a, "friendUserID": b}, ta)
    assert await s.call("/friend/is_friend", {"userID1": a, "userID2": b}, ta) == {
        "inUser1Friends": False,
        "inUser2Friends": True,
    }
    await s.call("/friend/delete_friend", {"ownerUserID": a, "friendUserID": b}, ta)  # again: fine
    empty = await s.call("/friend/get_friend_list", {"userID": a, "pagination": PAGE}, ta)
    assert empty == {"friendsInfo": None, "total": 0}

    # remark / update on b's remaining side
    assert await code(s, "/friend/set_friend_remark", {"ownerUserID": a, "friendUserID": b, "remark": "x"}, ta) == 1004
    await s.call("/friend/set_friend_remark", {"ownerUserID": b, "friendUserID": a, "remark": "buddy"}, tb)
    await s.call("/friend/update_friends", {"ownerUserID": b, "friendUserIDs": [a], "isPinned": True, "ex": "x"}, tb)
    [info] = (await s.call("/friend/get_designated_friends", {"ownerUserID": b, "friendUserIDs": [a]}, tb))[
        "friendsInfo"
    ]
    assert (info["remark"], info["isPinned"], info["ex"]) == ("buddy", True, "x")
    await s.call("/friend/update_friends", {"ownerUserID": b, "friendUserIDs": [a], "remark": None}, tb)
    assert await code(s, "/friend/update_friends", {"ownerUserID": b, "friendUserIDs": []}, tb) == 1001
    assert await code(s, "/friend/update_friends", {"ownerUserID": b, "friendUserIDs": [a, a]}, tb) == 1001
    assert await code(s, "/friend/get_designated_friends", {"ownerUserID": b, "friendUserIDs": [a, a]}, tb) == 1001
    assert await code(s, "/friend/get_designated_friends", {"ownerUserID": b}, tb) == 1001
    assert await s.call("/friend/get_friend_id", {"userID": b}, tb) == {"friendIDs": [a]}

    # blacklist
    assert await code(s, "/friend/add_black", {"ownerUserID": a, "blackUserID": c}, tc) == 1002
    await s.call("/friend/add_black", {"ownerUserID": a, "blackUserID": c, "ex": "spam"}, ta)
    assert await code(s, "/friend/add_black", {"ownerUserID": a, "blackUserID": c}, ta) == 1003
    assert await code(s, "/friend/add_black", {"ownerUserID": a, "blackUserID": "ghost-" + c}, ta) == 1101
    blacks = await s.call("/friend/get_black_list", {"userID": a, "pagination": PAGE}, ta)
    assert blacks["total"] == 1
    [black] = blacks["blacks"]
    assert list(black) == ["ownerUserID", "createTime", "blackUserInfo", "addSource", "operatorUserID", "ex"]
    assert black["blackUserInfo"] == {"userID": c, "nickname": "nick-" + c, "faceURL": "", "ex": ""}
    assert (black["operatorUserID"], black["ex"]) == (a, "spam")
    specified = await s.call("/friend/get_specified_blacks", {"ownerUserID": a, "userIDList": [b, c]}, ta)
    assert specified["total"] == 1 and specified["blacks"][0]["createTime"] > 10**12
    # OpenIM 3.8.3 add_friend ignores blacklists: no 1302 here
    await s.call("/friend/add_friend", {"fromUserID": c, "toUserID": a}, tc)
    infos = await s.call("/friend/get_specified_friends_info", {"ownerUserID": b, "userIDList": [a, c]}, tb)
    assert [i["userInfo"]["userID"] for i in infos["infos"]] == [a, c]
    assert (
        infos["infos"][0]["friendInfo"]["remark"] == "buddy" and infos["infos"][0]["friendInfo"]["friendUser"] is None
    )
    assert infos["infos"][1]["friendInfo"] is None and infos["infos"][1]["blackInfo"] is None
    await s.call("/friend/remove_black", {"ownerUserID": a, "blackUserID": c}, ta)
    assert await s.call("/friend/get_black_list", {"userID": a, "pagination": PAGE}, ta) == {"blacks": None, "total": 0}

    # import (admin only)
    assert await code(s, "/friend/import_friend", {"ownerUserID": a, "friendUserIDs": [c]}, ta) == 1002
    assert await code(s, "/friend/import_friend", {"ownerUserID": a, "friendUserIDs": [a]}, s.admin) == 1301
    assert await code(s, "/friend/import_friend", {"ownerUserID": a, "friendUserIDs": [c, c]}, s.admin) == 1001
    assert await code(s, "/friend/import_friend", {"ownerUserID": a, "friendUserIDs": ["ghost-" + c]}, s.admin) == 1101
    await s.call("/friend/import_friend", {"ownerUserID": a, "friendUserIDs": [c]}, s.admin)
    [imported] = (await s.call("/friend/get_friend_list", {"userID": c, "pagination": PAGE}, tc))["friendsInfo"]
    assert (imported["friendUser"]["userID"], imported["addSource"], imported["operatorUserID"]) == (a, 1, "imAdmin")
    # admins may read anyone's lists
    assert (await s.call("/friend/get_friend_list", {"userID": a, "pagination": PAGE}, s.admin))["total"] == 1


async def version_flow(s: Server) -> None:
    """get_incremental_friends / get_full_friend_user_ids through insert, update, delete."""
    a, b, c = await s.users(3)
    ta = await s.token(a)
    inc = "/friend/get_incremental_friends"

    first = await s.call(inc, {"userID": a, "versionID": "", "version": 0}, ta)
    assert first["full"] is True and first["version"] >= 1 and len(first["versionID"]) == 24
    assert list(first) == ["version", "versionID", "full", "delete", "insert", "update", "sortVersion"]
    vid, v0 = first["versionID"], first["version"]
    same = await s.call(inc, {"userID": a, "versionID": vid, "version": v0}, ta)
    assert same == {**first, "full": False}

    await s.call("/friend/import_friend", {"ownerUserID": a, "friendUserIDs": [b, c]}, s.admin)
    delta = await s.call(inc, {"userID": a, "versionID": vid, "version": v0}, ta)
    assert delta["full"] is False and delta["versionID"] == vid and delta["version"] == v0 + 1
    assert [f["friendUser"]["userID"] for f in delta["insert"]] == [b, c]
    assert delta["delete"] is None and delta["update"] is None and delta["sortVersion"] == 0
    v1 = delta["version"]

    await s.call("/friend/update_friends", {"ownerUserID": a, "friendUserIDs": [b], "remark": "bee"}, ta)
    delta = await s.call(inc, {"userID": a, "versionID": vid, "version": v1}, ta)
    assert [f["remark"] for f in delta["update"]] == ["bee"] and delta["insert"] is None
    assert delta["sortVersion"] == 0
    v2 = delta["version"]

    await s.call("/friend/update_friends", {"ownerUserID": a, "friendUserIDs": [c], "isPinned": True}, ta)
    delta = await s.call(inc, {"userID": a, "versionID": vid, "version": v2}, ta)
    assert [f["friendUser"]["userID"] for f in delta["update"]] == [c]
    assert delta["sortVersion"] == delta["version"] == v2 + 1

    full_ids = await s.call("/friend/get_full_friend_user_ids", {"userID": a}, ta)
    assert full_ids["userIDs"] == [c, b]  # pinned first
    assert (full_ids["versionID"], full_ids["version"], full_ids["equal"]) == (vid, v2 + 1, False)
    same_ids = await s.call("/friend/get_full_friend_user_ids", {"userID": a, "idHash": id_hash([c, b])}, ta)
    assert (same_ids["equal"], same_ids["userIDs"]) == (True, None)

    await s.call("/friend/delete_friend", {"ownerUserID": a, "friendUserID": b}, ta)
    delta = await s.call(inc, {"userID": a, "versionID": vid, "version": v1}, ta)
    # b's insert-then-update-then-delete collapses to its latest state
    assert delta["delete"] == [b] and [f["friendUser"]["userID"] for f in delta["update"]] == [c]
    assert delta["insert"] is None

    # the whole history from before the inserts: b only as deleted, c inserted... then updated
    delta = await s.call(inc, {"userID": a, "versionID": vid, "version": v0}, ta)
    assert delta["delete"] == [b] and delta["insert"] is None

    for stale in ({"versionID": "0" * 24, "version": v1}, {"versionID": "f" * 24, "version": v1},
                  {"versionID": vid, "version": 0}, {"versionID": vid, "version": delta["version"] + 5},
                  {"versionID": "not-hex", "version": v1}):  # fmt: skip
        answer = await s.call(inc, {"userID": a, **stale}, ta)
        assert answer["full"] is True and answer["versionID"] == vid
        assert answer["insert"] is None and answer["delete"] is None and answer["update"] is None

    # more than 200 changes since the client's version -> full
    before = (await s.call(inc, {"userID": a, "versionID": vid, "version": v0}, ta))["version"]
    many = [f"nobody{i}" for i in range(201)]
    await s.call("/friend/update_friends", {"ownerUserID": a, "friendUserIDs": many, "ex": "e"}, ta)
    assert (await s.call(inc, {"userID": a, "versionID": vid, "version": before}, ta))["full"] is True


async def black_version_flow(s: Server) -> None:
    """get_incremental_blacks through add and remove."""
    a, b, c = await s.users(3)
    ta = await s.token(a)
    inc = "/friend/get_incremental_blacks"
    first = await s.call(inc, {"userID": a, "versionID": "", "version": 0}, ta)
    assert first["full"] is True
    assert list(first) == ["version", "versionID", "full", "delete", "insert", "update"]
    vid, v0 = first["versionID"], first["version"]

    await s.call("/friend/add_black", {"ownerUserID": a, "blackUserID": b}, ta)
    await s.call("/friend/add_black", {"ownerUserID": a, "blackUserID": c}, ta)
    delta = await s.call(inc, {"userID": a, "versionID": vid, "version": v0}, ta)
    assert delta["full"] is False and delta["version"] == v0 + 2
    assert [x["blackUserInfo"]["userID"] for x in delta["insert"]] == [b, c]
    await s.call("/friend/remove_black", {"ownerUserID": a, "blackUserID": b}, ta)
    later = await s.call(inc, {"userID": a, "versionID": vid, "version": delta["version"]}, ta)
    assert (later["delete"], later["insert"], later["update"]) == ([b], None, None)
    assert (await s.call(inc, {"userID": a, "versionID": "a" * 24, "version": 1}, ta))["full"] is True
