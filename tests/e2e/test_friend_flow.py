"""Two users, REST + SSE only, over real loopback sockets: the whole friend flow.

Each step checks the events on both streams and that the lists agree with them.
"""

from __future__ import annotations

from typing import Any

from tests.support.stack import Stack


def _ids(items: list[dict[str, Any]]) -> set[str]:
    return {i["userID"] for i in items}


async def test_friend_flow_rest_and_sse(stack: Stack) -> None:
    a_id, b_id = await stack.new_users(2)
    a = await stack.login(a_id)
    b = await stack.login(b_id)
    sa, sb = await a.stream(), await b.stream()
    try:
        # A applies; both streams see the application, A's carries A's operationID.
        await a.call("/v1/friend/add_friend", {"toUserID": b_id, "reqMsg": "hi"}, op="op-add-1")
        (ev_a,) = await sa.wait_for("OnFriendApplicationAdded")
        (ev_b,) = await sb.wait_for("OnFriendApplicationAdded")
        assert ev_a.json["operationID"] == "op-add-1"
        assert ev_a.json["listener"] == "OnFriendshipListener"
        assert ev_b.json["data"]["fromUserID"] == a_id and ev_b.json["data"]["reqMsg"] == "hi"
        recv = await b.call("/v1/friend/get_friend_application_list_as_recipient", {})
        assert [(r["fromUserID"], r["handleResult"]) for r in recv] == [(a_id, 0)]
        sent = await a.call("/v1/friend/get_friend_application_list_as_applicant", {})
        assert [(r["toUserID"], r["handleResult"]) for r in sent] == [(b_id, 0)]

        # B accepts: both become friends; A learns the application was accepted.
        await b.call("/v1/friend/accept_friend_application", {"toUserID": a_id, "handleMsg": "ok"}, op="op-acc")
        (fa,) = await sa.wait_for("OnFriendAdded")
        (fb,) = await sb.wait_for("OnFriendAdded")
        assert fa.json["data"]["userID"] == b_id and fb.json["data"]["userID"] == a_id
        (acc,) = await sa.wait_for("OnFriendApplicationAccepted")
        assert acc.json["data"]["handleResult"] == 1
        assert _ids(await a.call("/v1/friend/get_friend_list")) == {b_id}
        assert _ids(await b.call("/v1/friend/get_friend_list")) == {a_id}
        check = await a.call("/v1/friend/check_friend", {"userIDList": [b_id]})
        assert check == [{"userID": b_id, "result": 1}]

        # Remark -> OnFriendInfoChanged, and the list shows it.
        await a.call("/v1/friend/set_friend_remark", {"toUserID": b_id, "remark": "bestie"})
        (chg,) = await sa.wait_for("OnFriendInfoChanged")
        assert chg.json["data"]["remark"] == "bestie"
        (friend,) = await a.call("/v1/friend/get_specified_friends_info", {"userIDList": [b_id]})
        assert friend["remark"] == "bestie"
        found = await a.call("/v1/friend/search_friends", {"keywordList": ["best"], "isSearchRemark": True})
        assert _ids(found) == {b_id}

        # Black add / remove.
        await a.call("/v1/friend/add_black", {"blackUserID": b_id})
        (blk,) = await sa.wait_for("OnBlackAdded")
        assert blk.json["data"]["userID"] == b_id
        assert _ids(await a.call("/v1/friend/get_black_list")) == {b_id}
        assert await a.call("/v1/friend/get_friend_list", {"filterBlack": True}) == []
        assert (await a.call("/v1/friend/check_friend", {"userIDList": [b_id]}))[0]["result"] == 0
        await a.call("/v1/friend/remove_black", {"removeUserID": b_id})
        (unblk,) = await sa.wait_for("OnBlackDeleted")
        assert unblk.json["data"]["userID"] == b_id
        assert await a.call("/v1/friend/get_black_list") == []

        # Delete (one direction, as OpenIM).
        await a.call("/v1/friend/delete_friend", {"friendUserID": b_id})
        (dele,) = await sa.wait_for("OnFriendDeleted")
        assert dele.json["data"]["userID"] == b_id
        assert await a.call("/v1/friend/get_friend_list") == []

        # No callback fired twice on either stream.
        for s in (sa, sb):
            names = [e.event for e in s.events if e.event.startswith("OnFriend") or e.event.startswith("OnBlack")]
            assert len(names) == len(set(names)), names
    finally:
        await sa.close()
        await sb.close()


async def test_refuse_application(stack: Stack) -> None:
    a_id, b_id = await stack.new_users(2)
    a, b = await stack.login(a_id), await stack.login(b_id)
    sa = await a.stream()
    try:
        await a.call("/v1/friend/add_friend", {"toUserID": b_id})
        await sa.wait_for("OnFriendApplicationAdded")
        await b.call("/v1/friend/refuse_friend_application", {"toUserID": a_id, "handleMsg": "no"})
        (rej,) = await sa.wait_for("OnFriendApplicationRejected")
        assert rej.json["data"]["handleResult"] == -1 and rej.json["data"]["handleMsg"] == "no"
        assert await a.call("/v1/friend/get_friend_list") == []
    finally:
        await sa.close()
