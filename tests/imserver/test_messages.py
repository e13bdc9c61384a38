"""/conversation/*, /msg/* and /jssdk/* over messages an admin sends (openim-v3.md 1.5.5-1.5.7, 7.2)."""

from __future__ import annotations

import json
from typing import Any

from tests.imserver.conftest import RecServer, Server
from tests.imserver.scenarios import code, page


def _text(send: str, recv: str, text: str) -> dict[str, Any]:
    return {"sendID": send, "recvID": recv, "content": {"content": text}, "contentType": 101, "sessionType": 1}


def _cid(a: str, b: str) -> str:
    x, y = sorted((a, b))
    return f"si_{x}_{y}"


async def test_send_msg_is_admin_only_and_checked(rec: RecServer) -> None:
    a, b = await rec.users(2)
    ta = await rec.token(a)
    assert await code(rec, "/msg/send_msg", _text(a, b, "hi"), ta) == 1002
    assert await code(rec, "/msg/send_msg", {**_text(a, b, "hi"), "contentType": 108}, rec.admin) == 1001
    assert await code(rec, "/msg/send_msg", {**_text(a, b, "hi"), "content": None}, rec.admin) == 1001
    sent = await rec.call("/msg/send_msg", _text(a, b, "hi"), rec.admin)
    assert list(sent) == ["serverMsgID", "clientMsgID", "sendTime", "modify"]
    assert len(sent["serverMsgID"]) == 32 and sent["sendTime"] > 10**12 and sent["modify"] is None


async def test_conversations_appear_and_sync(rec: RecServer) -> None:
    a, b, c = await rec.users(3)
    tb = await rec.token(b)
    first = await rec.call(
        "/conversation/get_incremental_conversations", {"userID": b, "versionID": "", "version": 0}, tb
    )
    assert first["full"] is True and first["insert"] is None
    vid, v0 = first["versionID"], first["version"]

    await rec.call("/msg/send_msg", _text(a, b, "one"), rec.admin)
    delta = await rec.call(
        "/conversation/get_incremental_conversations", {"userID": b, "versionID": vid, "version": v0}, tb
    )
    assert delta["full"] is False
    [conv] = delta["insert"]
    assert (conv["ownerUserID"], conv["conversationID"], conv["conversationType"], conv["userID"]) == (
        b, _cid(a, b), 1, a
    )  # fmt: skip
    assert list(conv)[:4] == ["ownerUserID", "conversationID", "recvMsgOpt", "conversationType"]

    await rec.call(
        "/conversation/set_conversations",
        {"userIDs": [b], "conversation": {"conversationID": _cid(a, b), "isPinned": True, "recvMsgOpt": 2}},
        tb,
    )
    delta2 = await rec.call(
        "/conversation/get_incremental_conversations", {"userID": b, "versionID": vid, "version": delta["version"]}, tb
    )
    assert [c["isPinned"] for c in delta2["update"]] == [True] and delta2["insert"] is None
    assert await rec.call("/conversation/get_pinned_conversation_ids", {"userID": b}, tb) == {
        "conversationIDs": [_cid(a, b)]
    }
    assert await rec.call("/conversation/get_not_notify_conversation_ids", {"userID": b}, tb) == {
        "conversationIDs": [_cid(a, b)]
    }
    body = {"userIDs": [a], "conversation": {"conversationID": _cid(a, b), "isPinned": True}}
    assert await code(rec, "/conversation/set_conversations", body, tb) == 1002

    await rec.call("/msg/send_msg", _text(c, b, "two"), rec.admin)
    everything = await rec.call("/conversation/get_all_conversations", {"ownerUserID": b}, tb)
    assert sorted(x["conversationID"] for x in everything["conversations"]) == sorted([_cid(a, b), _cid(b, c)])
    paged = await rec.call("/conversation/get_owner_conversation", {"userID": b, "pagination": page(1)}, tb)
    assert paged["total"] == 2 and len(paged["conversations"]) == 1
    one = await rec.call("/conversation/get_conversation", {"ownerUserID": b, "conversationID": _cid(b, c)}, tb)
    assert one["conversation"]["userID"] == c
    assert await code(rec, "/conversation/get_conversation", {"ownerUserID": b, "conversationID": "si_x_y"}, tb) == 1004
    ids = await rec.call("/conversation/get_full_conversation_ids", {"userID": b}, tb)
    assert sorted(ids["conversationIDs"]) == sorted([_cid(a, b), _cid(b, c)]) and ids["equal"] is False


async def test_read_seqs_and_receipts(rec: RecServer) -> None:
    a, b = await rec.users(2)
    ta, tb = await rec.token(a), await rec.token(b)
    cid = _cid(a, b)
    for text in ("one", "two", "three"):
        await rec.call("/msg/send_msg", _text(a, b, text), rec.admin)
    seqs = await rec.call("/msg/get_conversations_has_read_and_max_seq", {"userID": b}, tb)
    assert seqs["seqs"][cid]["maxSeq"] == 3 and seqs["seqs"][cid]["hasReadSeq"] == 0
    assert seqs["seqs"][cid]["maxSeqTime"] > 10**12
    mine = await rec.call("/msg/get_conversations_has_read_and_max_seq", {"userID": a, "conversationIDs": [cid]}, ta)
    assert mine["seqs"][cid]["hasReadSeq"] == 3  # the sender has read its own messages

    body = {"conversationID": cid, "userID": b, "hasReadSeq": 2}
    assert await code(rec, "/msg/mark_conversation_as_read", {**body, "hasReadSeq": 0}, tb) == 1001
    assert await code(rec, "/msg/mark_conversation_as_read", body, ta) == 1002
    assert await code(rec, "/msg/mark_conversation_as_read", {**body, "conversationID": "si_nobody_x"}, tb) == 1004
    await rec.call("/msg/mark_conversation_as_read", body, tb, "op-read-" + b)
    [receipt] = rec.hub.for_operation("op-read-" + b)
    assert (receipt.msg.contentType, receipt.msg.sendID, receipt.msg.recvID) == (2200, b, a)
    assert receipt.msg.options["history"] is True and receipt.msg.seq >= 1  # stored in the n_ conversation
    assert receipt.tips == {"markAsReadUserID": b, "conversationID": cid, "seqs": [1, 2], "hasReadSeq": 2}
    seqs = await rec.call("/msg/get_conversations_has_read_and_max_seq", {"userID": b, "returnPinned": True}, tb)
    assert seqs["seqs"][cid]["hasReadSeq"] == 2 and seqs["pinnedConversationIDs"] is None

    over = {"conversationID": cid, "userID": b, "hasReadSeq": 9}
    assert await code(rec, "/msg/set_conversation_has_read_seq", over, tb) == 1001
    await rec.call("/msg/set_conversation_has_read_seq", {**over, "hasReadSeq": 3}, tb, "op-self-" + b)
    [self_receipt] = rec.hub.for_operation("op-self-" + b)
    assert (self_receipt.msg.sendID, self_receipt.msg.recvID, self_receipt.msg.seq) == (b, b, 0)
    assert self_receipt.msg.options["history"] is False  # a receipt to oneself is online only

    assert await code(rec, "/msg/mark_msgs_as_read", {"conversationID": cid, "userID": b, "seqs": [0]}, tb) == 1001
    assert await code(rec, "/msg/mark_msgs_as_read", {"conversationID": cid, "userID": b, "seqs": [7]}, tb) == 1001
    await rec.call("/msg/mark_msgs_as_read", {"conversationID": cid, "userID": b, "seqs": [3]}, tb)
    newest = await rec.call("/msg/newest_seq", {"userID": b}, tb)
    assert newest["maxSeqs"][cid] == 3
    assert (await rec.call("/msg/get_server_time", {}, tb))["serverTime"] > 10**12


async def test_revoke_delete_clear(rec: RecServer) -> None:
    a, b = await rec.users(2)
    ta, tb = await rec.token(a), await rec.token(b)
    cid = _cid(a, b)
    for text in ("one", "two"):
        await rec.call("/msg/send_msg", _text(a, b, text), rec.admin)

    revoke = {"conversationID": cid, "seq": 1, "userID": b}
    assert await code(rec, "/msg/revoke_msg", revoke, tb) == 1002  # b did not send it
    assert await code(rec, "/msg/revoke_msg", {**revoke, "userID": a, "seq": 99}, ta) == 1004
    assert await code(rec, "/msg/revoke_msg", {**revoke, "seq": 0}, tb) == 1001
    await rec.call("/msg/revoke_msg", {**revoke, "userID": a}, ta, "op-revoke-" + a)
    [push] = rec.hub.for_operation("op-revoke-" + a)
    assert (push.msg.contentType, push.msg.sendID, push.msg.recvID, push.msg.sessionType) == (2101, a, b, 1)
    assert list(push.tips) == [
        "revokerUserID", "clientMsgID", "revokeTime", "sesstionType", "seq", "conversationID", "isAdminRevoke"
    ]  # fmt: skip
    assert (push.tips["seq"], push.tips["conversationID"], push.tips["isAdminRevoke"]) == (1, cid, False)
    assert await code(rec, "/msg/revoke_msg", {**revoke, "userID": a}, ta) == 1404

    jssdk = await rec.call("/jssdk/get_conversations", {"conversationIDs": [cid]}, tb)
    assert jssdk["unreadCount"] == 2
    [entry] = jssdk["conversations"]
    assert list(entry) == ["conversation", "lastMsg", "user", "friend", "group", "maxSeq", "readSeq"]
    assert (entry["maxSeq"], entry["readSeq"], entry["user"]["userID"], entry["friend"]) == (2, 0, a, None)
    assert json.loads(_b64(entry["lastMsg"]["content"])) == {"content": "two"} and entry["lastMsg"]["seq"] == 2
    active = await rec.call("/jssdk/get_active_conversations", {"count": 10}, tb)
    assert [x["conversation"]["conversationID"] for x in active["conversations"]] == [cid]

    await rec.call("/msg/delete_msgs", {"conversationID": cid, "userID": b, "seqs": [2]}, tb)
    await rec.call(
        "/msg/clear_conversation_msg",
        {"conversationIDs": [cid], "userID": b, "deleteSyncOpt": {"IsSyncSelf": True}},
        tb,
        "op-clear-" + b,
    )
    [cleared] = rec.hub.for_operation("op-clear-" + b)
    assert (cleared.msg.contentType, cleared.msg.recvID) == (1703, b)
    assert cleared.tips == {"userID": b, "conversationIDs": [cid]}
    seqs = await rec.call("/msg/get_conversations_has_read_and_max_seq", {"userID": b}, tb)
    assert seqs["seqs"][cid]["hasReadSeq"] == 2
    [conv] = (await rec.call("/conversation/get_conversations", {"ownerUserID": b, "conversationIDs": [cid]}, tb))[
        "conversations"
    ]
    assert conv["minSeq"] == 3
    await rec.call("/msg/user_clear_all_msg", {"userID": a}, ta)


def _b64(value: str) -> bytes:
    import base64

    return base64.b64decode(value)


async def test_conversation_change_notification(rec: RecServer) -> None:
    a, b = await rec.users(2)
    ta = await rec.token(a)
    body = {
        "userIDs": [a],
        "conversation": {"conversationID": _cid(a, b), "ex": "x", "isPrivateChat": True, "userID": b},
    }
    await rec.call("/conversation/set_conversations", body, ta, "op-conv-" + a)
    pushes = rec.hub.for_operation("op-conv-" + a)
    changed = [p for p in pushes if p.msg.contentType == 1300]
    assert [(p.msg.sendID, p.msg.recvID) for p in changed] == [(a, a)]
    assert changed[0].tips == {"userID": a, "conversationIDList": [_cid(a, b)]}
    # notification.yml conversationChanged, reliabilityLevel 1: online only, so a device
    # that is away learns the change only by version sync (issue 13).
    assert changed[0].msg.seq == 0 and not changed[0].msg.options["history"]
    assert not changed[0].msg.options["persistent"]
    private = [p for p in pushes if p.msg.contentType == 1701 and p.msg.seq == 0]
    assert private[0].tips == {"recvID": b, "sendID": a, "isPrivate": True, "conversationID": _cid(a, b)}
    # unchanged settings: no notification
    await rec.call(
        "/conversation/set_conversations",
        {**body, "conversation": {"conversationID": _cid(a, b), "ex": "x"}},
        ta,
        "op-same-" + a,
    )
    assert rec.hub.for_operation("op-same-" + a) == []


async def test_everyone_may_only_touch_their_own(rec: Server) -> None:
    a, b = await rec.users(2)
    tb = await rec.token(b)
    for route, body in (
        ("/conversation/get_all_conversations", {"ownerUserID": a}),
        ("/msg/get_conversations_has_read_and_max_seq", {"userID": a}),
        ("/msg/delete_msgs", {"conversationID": _cid(a, b), "userID": a, "seqs": [1]}),
        ("/msg/clear_conversation_msg", {"conversationIDs": [], "userID": a}),
        ("/msg/user_clear_all_msg", {"userID": a}),
    ):
        assert await code(rec, route, body, tb) == 1002, route


async def test_jssdk_speaks_protobuf_when_asked(rec: RecServer) -> None:
    from imserver.api import jssdk_proto

    a, b = await rec.users(2)
    tb = await rec.token(b)
    await rec.call("/msg/send_msg", _text(a, b, "proto"), rec.admin)
    url = f"{rec.api_url}/jssdk/get_active_conversations"
    headers = {"operationID": "op-pb", "token": tb}
    # GetActiveConversationsReq{count: 10}: field 2, varint
    r = await rec.http.post(url, content=b"\x10\x0a", headers={**headers, "Content-Type": "application/x-protobuf"})
    envelope = r.json()
    assert envelope["errCode"] == 0 and isinstance(envelope["data"], str)
    resp = jssdk_proto._RESPONSE.FromString(_b64(envelope["data"]))
    assert resp.unreadCount == 1  # type: ignore[attr-defined]
    [entry] = resp.conversations  # type: ignore[attr-defined]
    assert entry.conversation.conversationID == _cid(a, b) and entry.conversation.userID == a
    assert entry.lastMsg.sendID == a and json.loads(entry.lastMsg.content) == {"content": "proto"}
    assert entry.user.nickname == "nick-" + a and entry.maxSeq == 1
    bad = await rec.http.post(url, content=b"{}", headers={**headers, "Content-Type": "text/plain"})
    assert bad.json()["errCode"] == 1001
    garbage = await rec.http.post(url, content=b"\xff\xff", headers={**headers, "Content-Type": "application/protobuf"})
    assert garbage.json()["errCode"] == 1001


async def test_blacklist_changes_apply_to_the_next_send(im: Server) -> None:
    """The send path reads blacklists from memory: add/remove must reach it at once."""
    a, b = await im.users(2)
    ta = await im.token(a)
    await im.call("/msg/send_msg", _text(b, a, "before"), im.admin)  # a's (empty) list is now cached
    await im.call("/friend/add_black", {"ownerUserID": a, "blackUserID": b}, ta)
    assert await code(im, "/msg/send_msg", _text(b, a, "blocked"), im.admin) == 1302
    await im.call("/msg/send_msg", _text(a, b, "a may still write"), im.admin)
    await im.call("/friend/remove_black", {"ownerUserID": a, "blackUserID": b}, ta)
    await im.call("/msg/send_msg", _text(b, a, "after"), im.admin)
