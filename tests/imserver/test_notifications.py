"""Notifications the API emits, recorded by a fake hub (openim-v3.md 4.2, 7.3; relation/notification.go)."""

from __future__ import annotations

import json
import uuid

from tests.imserver.conftest import RecServer
from tests.imserver.fakes import Push

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
REQUEST_KEYS = [
    "fromUserID", "fromNickname", "fromFaceURL", "toUserID", "toNickname", "toFaceURL", "handleResult",
    "reqMsg", "createTime", "handlerUserID", "handleMsg", "handleTime", "ex",
]  # fmt: skip


def _op() -> str:
    return "op-" + uuid.uuid4().hex


def _only(rec: RecServer, op: str) -> Push:
    pushes = rec.hub.for_operation(op)
    assert len(pushes) == 1, pushes
    return pushes[0]


def _assert_notification(push: Push, content_type: int, send: str, recv: str) -> None:
    """Common MsgData fields; targets are recvID plus sendID (senderSync)."""
    msg = push.msg
    assert (msg.contentType, msg.sendID, msg.recvID) == (content_type, send, recv)
    assert (msg.sessionType, msg.msgFrom, msg.seq, msg.groupID) == (1, 200, 0, "")
    assert len(msg.clientMsgID) == 32 and len(msg.serverMsgID) == 32 and msg.clientMsgID != msg.serverMsgID
    assert msg.sendTime == msg.createTime > 10**12
    assert list(json.loads(msg.content)) == ["detail"]
    assert sorted(push.user_ids) == sorted({recv, send})


async def test_add_friend_sends_1203_to_recipient_and_applicant(rec: RecServer) -> None:
    a, b = await rec.users(2)
    op = _op()
    await rec.call("/friend/add_friend", {"fromUserID": a, "toUserID": b, "reqMsg": "hi"}, await rec.token(a), op)
    push = _only(rec, op)
    _assert_notification(push, 1203, a, b)
    assert dict(push.msg.options) == ONLINE_ONLY | {"offlinePush": True}
    info = push.msg.offlinePushInfo
    assert (info.title, info.desc, info.ex) == ("Somebody applies to add you as a friend",) * 3
    tips = push.tips
    assert list(tips) == ["fromToUserID", "request"]
    assert tips["fromToUserID"] == {"fromUserID": a, "toUserID": b}
    assert list(tips["request"]) == REQUEST_KEYS
    assert (tips["request"]["fromNickname"], tips["request"]["toNickname"]) == ("nick-" + a, "nick-" + b)
    assert (tips["request"]["reqMsg"], tips["request"]["handleResult"]) == ("hi", 0)


async def test_accept_sends_1201_and_stores_the_send_msg_copy(rec: RecServer) -> None:
    a, b = await rec.users(2)
    await rec.call("/friend/add_friend", {"fromUserID": a, "toUserID": b}, await rec.token(a))
    op = _op()
    body = {"fromUserID": a, "toUserID": b, "handleResult": 1, "handleMsg": "ok"}
    await rec.call("/friend/add_friend_response", body, await rec.token(b), op)
    online, stored = rec.hub.for_operation(op)
    # friendApplicationApproved has isSendMsg: an online-only notification plus a stored chat copy
    _assert_notification(online, 1201, b, a)
    assert dict(online.msg.options) == ONLINE_ONLY | {"isSendMsg": True}
    tips = online.tips
    assert list(tips) == ["fromToUserID", "handleMsg", "friendVersion", "friendVersionID", "request"]
    assert tips["fromToUserID"] == {"fromUserID": a, "toUserID": b} and tips["handleMsg"] == "ok"
    assert (tips["request"]["handleResult"], tips["request"]["handlerUserID"]) == (1, b)
    assert stored.msg.contentType == 1201 and stored.msg.seq >= 1
    assert dict(stored.msg.options) == {"offlinePush": True, "unreadCount": True}
    assert set(stored.user_ids) == {a, b}


async def test_refuse_sends_1202(rec: RecServer) -> None:
    a, b = await rec.users(2)
    await rec.call("/friend/add_friend", {"fromUserID": a, "toUserID": b}, await rec.token(a))
    op = _op()
    body = {"fromUserID": a, "toUserID": b, "handleResult": -1, "handleMsg": "no"}
    await rec.call("/friend/add_friend_response", body, await rec.token(b), op)
    push = _only(rec, op)
    _assert_notification(push, 1202, b, a)
    assert push.tips["handleMsg"] == "no" and push.tips["request"]["handleResult"] == -1
    assert list(push.tips) == ["fromToUserID", "handleMsg", "request"]


async def test_friend_changes_notify(rec: RecServer) -> None:
    a, b = await rec.users(2)
    ta = await rec.token(a)
    await rec.call("/friend/import_friend", {"ownerUserID": a, "friendUserIDs": [b]}, rec.admin)

    op = _op()
    await rec.call("/friend/set_friend_remark", {"ownerUserID": a, "friendUserID": b, "remark": "r"}, ta, op)
    push = _only(rec, op)
    _assert_notification(push, 1206, a, b)
    assert push.tips == {
        "fromToUserID": {"fromUserID": a, "toUserID": b},
        "friendVersion": 0,
        "friendVersionID": "",
        "friendSortVersion": 0,
    }

    op = _op()
    await rec.call("/friend/update_friends", {"ownerUserID": a, "friendUserIDs": [b], "isPinned": True}, ta, op)
    push = _only(rec, op)
    _assert_notification(push, 1210, a, a)
    assert push.tips == {
        "fromToUserID": {"fromUserID": "", "toUserID": a},
        "friendIDs": [b],
        "friendVersion": 0,
        "friendVersionID": "",
    }

    op = _op()
    await rec.call("/friend/delete_friend", {"ownerUserID": a, "friendUserID": b}, ta, op)
    push = _only(rec, op)
    _assert_notification(push, 1205, a, b)
    assert push.tips == {"fromToUserID": {"fromUserID": a, "toUserID": b}, "friendVersion": 0, "friendVersionID": ""}


async def test_black_add_and_remove_notify(rec: RecServer) -> None:
    a, b = await rec.users(2)
    ta = await rec.token(a)
    for route, content_type in (("/friend/add_black", 1207), ("/friend/remove_black", 1208)):
        op = _op()
        await rec.call(route, {"ownerUserID": a, "blackUserID": b}, ta, op)
        push = _only(rec, op)
        _assert_notification(push, content_type, a, b)
        assert push.tips == {"fromToUserID": {"fromUserID": a, "toUserID": b}}


async def test_import_friend_sends_1201_from_each_friend(rec: RecServer) -> None:
    a, b, c = await rec.users(3)
    op = _op()
    await rec.call("/friend/import_friend", {"ownerUserID": a, "friendUserIDs": [b, c]}, rec.admin, op)
    online = [p for p in rec.hub.for_operation(op) if p.msg.seq == 0]
    assert [(p.msg.sendID, p.msg.recvID, p.msg.contentType) for p in online] == [(b, a, 1201), (c, a, 1201)]
    assert online[0].tips == {
        "fromToUserID": {"fromUserID": a, "toUserID": b},
        "handleMsg": "",
        "friendVersion": 0,
        "friendVersionID": "",
        "request": None,
    }


async def test_user_info_update_notifies_self_and_whoever_lists_them(rec: RecServer) -> None:
    a, b, c = await rec.users(3)
    await rec.call("/friend/import_friend", {"ownerUserID": a, "friendUserIDs": [b, c]}, rec.admin)
    await rec.call("/friend/delete_friend", {"ownerUserID": c, "friendUserID": a}, await rec.token(c))
    ta = await rec.token(a)
    op = _op()
    await rec.call("/user/update_user_info_ex", {"userInfo": {"userID": a, "nickname": "new"}}, ta, op)
    pushes = rec.hub.for_operation(op)
    assert [(p.msg.contentType, p.msg.sendID, p.msg.recvID) for p in pushes] == [(1303, a, a), (1209, a, b)]
    assert pushes[0].user_ids == (a,) and sorted(pushes[1].user_ids) == sorted((a, b))
    assert pushes[0].tips == pushes[1].tips == {"userID": a}
    assert dict(pushes[1].msg.options) == ONLINE_ONLY

    # ex only: no friend fan-out; an admin operator is the sender
    op = _op()
    await rec.call("/user/update_user_info_ex", {"userInfo": {"userID": a, "ex": "x"}}, rec.admin, op)
    push = _only(rec, op)
    _assert_notification(push, 1303, "imAdmin", a)
