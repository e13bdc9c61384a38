"""Group messages over the gateway: verification, fan-out in one seq order, @-mentions, visibility."""

from __future__ import annotations

import asyncio
import base64
import json

from core.protocol import openim_pb2 as pb
from core.protocol.constants import ReqIdentifier as R
from tests.imserver_groups.support import Kit, Peer, Push


def _seqs(pushes: list[Push]) -> list[int]:
    return [p.msg.seq for p in pushes]


async def _group_at_type(kit: Kit, peer: Peer, gid: str) -> int:
    found = await kit.call(
        "/conversation/get_conversations", {"ownerUserID": peer.user_id, "conversationIDs": [f"sg_{gid}"]}, peer
    )
    value: int = found["conversations"][0]["groupAtType"]
    return value


async def _pull(peer: Peer, cid: str, begin: int, end: int) -> list[int]:
    req = pb.PullMessageBySeqsReq(
        userID=peer.user_id, seqRanges=[pb.SeqRange(conversationID=cid, begin=begin, end=end, num=100)]
    )
    resp = await peer.gw.call(R.PULL_MSG_BY_RANGE, req, pb.PullMessageBySeqsResp)
    return [m.seq for m in resp.msgs[cid].Msgs] if cid in resp.msgs else []


async def _read_and_max(peer: Peer, cid: str) -> tuple[int, int]:
    req = pb.GetConversationsHasReadAndMaxSeqReq(userID=peer.user_id, conversationIDs=[cid])
    resp = await peer.gw.call(R.GET_CONV_MAX_READ_SEQ, req, pb.GetConversationsHasReadAndMaxSeqResp)
    return resp.seqs[cid].hasReadSeq, resp.seqs[cid].maxSeq


async def test_fan_out_keeps_one_order_for_every_member(kit: Kit) -> None:
    s1, s2, s3, listener = await kit.peers(4)
    group = await kit.group(s1, [s2, s3, listener])
    gid = group.group_id
    per_sender = 67

    async def run(sender: Peer) -> None:
        for i in range(per_sender):
            resp = await kit.send(sender, gid, f"{sender.user_id}-{i}", text=str(i))
            assert resp.err_code == 0, resp
            sent = pb.SendMsgResp.FromString(resp.data)
            assert sent.clientMsgID == f"{sender.user_id}-{i}" and len(sent.serverMsgID) == 32

    await asyncio.gather(*(run(s) for s in (s1, s2, s3)))
    total = 3 * per_sender
    orders = {}
    for peer in group.everyone:
        pushes = await peer.gw.wait_pushes(total)
        assert len(pushes) == total, peer.user_id
        assert {(p.conversation_id, p.content_type, p.notification) for p in pushes} == {(f"sg_{gid}", 101, False)}
        # seq 1 is the 1501 chat copy; then one seq per message, no gap, no double, same order everywhere
        assert _seqs(pushes) == list(range(2, total + 2)), peer.user_id
        orders[peer.user_id] = [p.msg.clientMsgID for p in pushes]
        for sender in (s1, s2, s3):
            own = [c for c in orders[peer.user_id] if c.startswith(sender.user_id)]
            assert own == [f"{sender.user_id}-{i}" for i in range(per_sender)]
    assert len({tuple(o) for o in orders.values()}) == 1
    first = (await listener.gw.drain()) or None
    assert first is None
    pulled = await _pull(listener, f"sg_{gid}", 1, total + 1)
    assert pulled == list(range(total + 2 - 100, total + 2))  # the last `num` seqs of the range
    # a resent clientMsgID is answered with the first result and stored or pushed nowhere again
    again = await kit.send(s2, gid, f"{s2.user_id}-0")
    assert again.err_code == 0 and pb.SendMsgResp.FromString(again.data).clientMsgID == f"{s2.user_id}-0"
    assert await listener.gw.drain() == []
    seqs = await listener.gw.call(R.GET_NEWEST_SEQ, pb.GetMaxSeqReq(userID=listener.user_id), pb.GetMaxSeqResp)
    assert seqs.maxSeqs[f"sg_{gid}"] == total + 1


async def test_sender_verification(kit: Kit) -> None:
    owner, member, outsider = await kit.peers(3)
    group = await kit.group(owner, [member])
    gid = group.group_id
    assert (await kit.send(outsider, gid, "x1")).err_code == 1203
    assert (await kit.send(member, "no-such-group", "x2")).err_code == 1201
    assert (await kit.send(member, "", "x3")).err_code == 1001
    assert (await kit.send(member, gid, "x4", sendID=owner.user_id)).err_code == 1002
    # verify.go skips the checks when the sender is an app admin: imAdmin may post without being a member,
    # but a member's message sent by an admin is still checked as that member's
    body = {
        "sendID": outsider.user_id,
        "groupID": gid,
        "content": {"content": "hi"},
        "contentType": 101,
        "sessionType": 3,
    }
    assert await kit.code("/msg/send_msg", body, kit.im.admin) == 1203
    await kit.call("/msg/send_msg", {**body, "sendID": "imAdmin"}, kit.im.admin)
    for peer in group.everyone:
        [push] = await peer.gw.drain()
        assert (push.conversation_id, push.msg.sendID, push.msg.seq) == (f"sg_{gid}", "imAdmin", 2)
    assert await outsider.gw.drain() == []


async def test_mentions_set_group_at_type(kit: Kit) -> None:
    a, b, c, d = await kit.peers(4)
    group = await kit.group(a, [b, c, d])
    gid = group.group_id

    async def at(sender: Peer, cid: str, mentioned: list[str], changed: list[Peer]) -> None:
        """Send an @ message; every member gets it, then each member whose groupAtType changed a 1300."""
        content = json.dumps({"text": "@", "atUserList": mentioned, "atUsersInfo": None, "isAtSelf": False})
        resp = await kit.send(sender, gid, cid, contentType=106, content=content.encode(), atUserIDList=mentioned)
        assert resp.err_code == 0
        for peer in group.everyone:
            expected = [(106, f"sg_{gid}")] + ([(1300, f"n_{peer.user_id}_{peer.user_id}")] if peer in changed else [])
            pushes = await peer.gw.wait_pushes(len(expected))
            assert [(p.content_type, p.conversation_id) for p in pushes] == expected, peer.user_id
            assert list(pushes[0].msg.atUserIDList) == mentioned
        for peer in group.everyone:
            assert await peer.gw.drain() == []

    await at(a, "m1", [b.user_id], [b])
    assert [await _group_at_type(kit, p, gid) for p in (a, b, c, d)] == [0, 1, 0, 0]
    await at(c, "m2", ["AtAllTag"], [a, b, d])  # everyone but the sender
    assert [await _group_at_type(kit, p, gid) for p in (a, b, c, d)] == [2, 2, 0, 2]
    await at(d, "m3", ["AtAllTag", c.user_id], [c])  # c is also named: AtAllAtMe
    # d keeps its earlier AtAll: only the SDK resets it (ResetConversationGroupAtType)
    assert [await _group_at_type(kit, p, gid) for p in (a, b, c, d)] == [2, 2, 3, 2]


async def test_leavers_are_capped_and_joiners_start_at_their_join(kit: Kit) -> None:
    a, b, c, d = await kit.peers(4)
    group = await kit.group(a, [b, c])
    gid, cid = group.group_id, f"sg_{group.group_id}"
    for i in range(3):  # seqs 2..4
        assert (await kit.send(a, gid, f"before-{i}")).err_code == 0
    await kit.drain(group.everyone)
    await kit.call("/group/quit_group", {"groupID": gid}, c)  # its 1504 copy is seq 5
    await kit.drain(group.everyone)
    for i in range(2):  # seqs 6, 7: c hears nothing
        assert (await kit.send(b, gid, f"after-{i}")).err_code == 0
    await kit.drain([a, b])
    assert await c.gw.drain() == []
    assert await _pull(c, cid, 1, 7) == [1, 2, 3, 4, 5]
    assert (await _read_and_max(c, cid))[1] == 5

    await kit.call("/group/invite_user_to_group", {"groupID": gid, "invitedUserIDs": [d.user_id]}, a)  # seq 8
    [invited, *_] = await d.gw.drain()
    assert (invited.conversation_id, invited.content_type) == (f"n_{gid}", 1509)
    assert await _pull(d, cid, 1, 8) == [8]  # nothing from before the join
    assert await _read_and_max(d, cid) == (7, 8)  # the hidden past is not unread
    assert (await kit.send(a, gid, "welcome")).err_code == 0  # seq 9
    assert _seqs(await d.gw.wait_pushes(1)) == [9]

    # back in: the cap goes, the gap stays hidden
    await kit.call("/group/invite_user_to_group", {"groupID": gid, "invitedUserIDs": [c.user_id]}, a)  # seq 10
    assert (await kit.send(b, gid, "again")).err_code == 0  # seq 11
    assert [p.msg.seq for p in await c.gw.wait_pushes(4) if p.conversation_id == cid] == [10, 11]
    assert await _pull(c, cid, 1, 11) == [10, 11]
    await kit.drain([*group.everyone, d])


async def test_revoke_in_a_group_follows_roles(kit: Kit) -> None:
    owner, admin, m1, m2 = await kit.peers(4)
    group = await kit.group(owner, [admin, m1, m2])
    gid, cid = group.group_id, f"sg_{group.group_id}"
    members = [{"groupID": gid, "userID": admin.user_id, "roleLevel": 60}]
    await kit.call("/group/set_group_member_info", {"members": members}, owner)
    for sender, client_msg_id in ((m1, "by-m1"), (admin, "by-admin")):
        assert (await kit.send(sender, gid, client_msg_id)).err_code == 0  # seqs 2, 3
    await kit.drain(group.everyone)

    def revoke(seq: int, who: Peer) -> dict[str, object]:
        return {"conversationID": cid, "seq": seq, "userID": who.user_id}

    assert await kit.code("/msg/revoke_msg", revoke(2, m2), m2) == 1002
    assert await kit.code("/msg/revoke_msg", revoke(3, m1), m1) == 1002
    await kit.call("/msg/revoke_msg", revoke(2, admin), admin)
    for peer in group.everyone:
        [push] = await peer.gw.drain()
        assert (push.conversation_id, push.content_type, push.msg.sessionType, push.msg.groupID) == (
            f"n_{gid}",
            2101,
            3,
            gid,
        )
        assert (push.tips["seq"], push.tips["revokerUserID"], push.tips["conversationID"]) == (2, admin.user_id, cid)
    assert await kit.code("/msg/revoke_msg", revoke(3, m1), admin) == 1002  # userID must be the caller
    await kit.call("/msg/revoke_msg", revoke(3, owner), owner)
    await kit.drain(group.everyone)
    pulled = await m2.gw.call(
        R.PULL_MSG_BY_SEQ_LIST,
        pb.GetSeqMessageReq(userID=m2.user_id, conversations=[pb.ConversationSeqs(conversationID=cid, seqs=[2, 3])]),
        pb.GetSeqMessageResp,
    )
    assert [m.contentType for m in pulled.msgs[cid].Msgs] == [2101, 2101]


async def test_jssdk_lists_group_conversations_with_their_group(kit: Kit) -> None:
    from imserver.api import jssdk_proto

    owner, member = await kit.peers(2)
    group = await kit.group(owner, [member], groupName="club")
    gid = group.group_id
    assert (await kit.send(owner, gid, "j1", text="hello")).err_code == 0
    await kit.drain(group.everyone)
    data = await kit.call("/jssdk/get_conversations", {"conversationIDs": [f"sg_{gid}"]}, member)
    [entry] = data["conversations"]
    assert (entry["user"], entry["friend"], entry["maxSeq"]) == (None, None, 2)
    assert (entry["group"]["groupID"], entry["group"]["groupName"], entry["group"]["memberCount"]) == (gid, "club", 2)
    assert entry["lastMsg"]["clientMsgID"] == "j1"
    # the protobuf form @openim/client-sdk uses carries the same GroupInfo
    r = await kit.im.http.post(
        f"{kit.im.api_url}/jssdk/get_active_conversations",
        content=b"\x10\x0a",
        headers={"operationID": "op-pb", "token": member.token, "Content-Type": "application/x-protobuf"},
    )
    resp = jssdk_proto._RESPONSE.FromString(base64.b64decode(r.json()["data"]))
    [pb_entry] = [c for c in resp.conversations if c.conversation.groupID == gid]  # type: ignore[attr-defined]
    assert (pb_entry.group.groupName, pb_entry.group.memberCount, pb_entry.group.ownerUserID) == (
        "club", 2, owner.user_id
    )  # fmt: skip
