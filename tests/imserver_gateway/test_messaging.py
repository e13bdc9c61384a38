"""1003 SendMsg end to end, and the sync requests 1001/1002/1005/1006/1007, 2003."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update
from websockets.exceptions import ConnectionClosed

from core.protocol import openim_pb2 as pb
from core.protocol.constants import ReqIdentifier
from imserver import msgstore
from tests.imserver_gateway.harness import Client, Env, gateway_env, text_msg, within

R = ReqIdentifier


async def send(client: Client, peer: str, client_msg_id: str, **options: bool) -> pb.SendMsgResp:
    msg = text_msg(client.user_id, peer, client_msg_id, opts=options)
    return await client.call(R.SEND_MSG, msg, pb.SendMsgResp)


async def test_send_between_two_users(env: Env) -> None:
    async with env.client("alice") as alice, env.client("bob", 3, sdk="go") as bob:
        for n in (1, 2, 3):
            resp = await send(alice, "bob", f"c{n}")
            assert resp.clientMsgID == f"c{n}" and len(resp.serverMsgID) == 32
            assert resp.sendTime == int(env.tokens.now * 1000)
            for client in (bob, alice):  # the recipient, and the sender via senderSync
                pushed = await client.next_push()
                assert (pushed.clientMsgID, pushed.seq, pushed.serverMsgID) == (f"c{n}", n, resp.serverMsgID)
        reply = await send(bob, "alice", "b1")
        assert (await alice.next_push()).seq == 4 and (await bob.next_push()).clientMsgID == "b1"
        assert reply.clientMsgID == "b1"


async def test_resent_client_msg_id_answers_the_first_result(env: Env) -> None:
    async with env.client("alice") as alice, env.client("bob") as bob:
        first = await send(alice, "bob", "dup")
        assert (await bob.next_push()).seq == 1
        env.tokens.now += 60
        again = await send(alice, "bob", "dup")
        assert again == first  # same serverMsgID and sendTime, nothing stored or pushed
        await send(alice, "bob", "next")
        assert (await bob.next_push()).clientMsgID == "next"
        seqs = await alice.call(R.GET_NEWEST_SEQ, pb.GetMaxSeqReq(userID="alice"), pb.GetMaxSeqResp)
        assert dict(seqs.maxSeqs) == {"si_alice_bob": 2}


async def test_typing_is_pushed_not_stored(env: Env) -> None:
    async with env.client("alice") as alice, env.client("bob") as bob:
        msg = text_msg("alice", "bob", "t1")
        msg.contentType = 113
        await alice.call(R.SEND_MSG, msg, pb.SendMsgResp)
        pushed = await bob.next_push()
        assert pushed.seq == 0 and pushed.options["history"] is False and pushed.options["senderSync"] is False
        await send(alice, "bob", "real")
        assert (await bob.next_push()).seq == 1
        assert (await alice.next_push()).clientMsgID == "real"  # typing never came back to alice


async def test_sender_sync_off_and_self_chat(env: Env) -> None:
    async with env.client("alice") as alice, env.client("bob") as bob:
        await send(alice, "bob", "quiet", senderSync=False)
        assert (await bob.next_push()).clientMsgID == "quiet"
        await send(alice, "alice", "note")
        pushed = await alice.next_push()  # the first push alice sees is her self-chat note
        assert (pushed.clientMsgID, pushed.seq) == ("note", 1)


async def test_send_errors(tmp_path: Path) -> None:
    async def blocked(owner: str, other: str) -> bool:
        return (owner, other) == ("bob", "alice")

    async with gateway_env(tmp_path, is_blocked=blocked) as env, env.client("alice") as alice:
        resp = await alice.request(R.SEND_MSG, text_msg("alice", "bob", "x"))
        assert (resp.err_code, resp.err_msg) == (1302, "BlockedByPeer")
        group = text_msg("alice", "", "g")
        group.sessionType, group.groupID = 3, "g1"
        assert (await alice.request(R.SEND_MSG, group)).err_code == 1205
        odd = text_msg("alice", "bob", "w")
        odd.sessionType = 2
        assert (await alice.request(R.SEND_MSG, odd)).err_code == 1001
        assert (await alice.request(R.SEND_MSG, text_msg("mallory", "carol", "m"))).err_code == 1002
        assert (await alice.request(R.SEND_MSG, text_msg("alice", "", "e"))).err_code == 1001
        # Blocking is one way, and nothing above was stored.
        await send(alice, "carol", "ok")
        seqs = await alice.call(R.GET_NEWEST_SEQ, pb.GetMaxSeqReq(userID="alice"), pb.GetMaxSeqResp)
        assert dict(seqs.maxSeqs) == {"si_alice_carol": 1}


async def test_pull_by_range(env: Env) -> None:
    async with env.client("alice") as alice, env.client("bob"):
        for n in range(1, 6):
            await send(alice, "bob", f"c{n}")
        conv = "si_alice_bob"

        async def pull(begin: int, end: int, num: int, order: pb.PullOrder = pb.PullOrderAsc) -> pb.PullMsgs | None:
            req = pb.PullMessageBySeqsReq(userID="alice", order=order)
            req.seqRanges.add(conversationID=conv, begin=begin, end=end, num=num)
            resp = await alice.call(R.PULL_MSG_BY_RANGE, req, pb.PullMessageBySeqsResp)
            return resp.msgs.get(conv)

        got = await pull(1, 100, 3)
        assert got is not None and [m.seq for m in got.Msgs] == [3, 4, 5] and got.isEnd
        got = await pull(1, 4, 10)
        assert got is not None and [m.clientMsgID for m in got.Msgs] == ["c1", "c2", "c3", "c4"]
        assert not got.isEnd
        got = await pull(2, 3, 10, order=pb.PullOrderDesc)
        assert got is not None and not got.isEnd
        got = await pull(0, 2, 10, order=pb.PullOrderDesc)
        assert got is not None and [m.seq for m in got.Msgs] == [1, 2] and got.isEnd
        assert await pull(9, 20, 10) is None  # nothing there: left out
        # Someone else's conversation is invisible.
        req = pb.PullMessageBySeqsReq(userID="alice")
        req.seqRanges.add(conversationID="si_bob_carol", begin=1, end=5, num=5)
        assert not (await alice.call(R.PULL_MSG_BY_RANGE, req, pb.PullMessageBySeqsResp)).msgs


async def test_pull_deleted_revoked_and_cleared(env: Env) -> None:
    async with env.client("alice") as alice, env.client("bob") as bob:
        for n in range(1, 5):
            await send(alice, "bob", f"c{n}")
        conv = "si_alice_bob"
        async with env.sessionmaker.begin() as session:
            await msgstore.delete_for_user(session, "bob", conv, [2])
            await msgstore.mark_revoked(
                session, conv, 3, revoker_id="alice", revoker_role=0, revoker_nickname="A", revoke_time=9
            )
            await msgstore.set_user_min_seq(session, "alice", conv, 2)
        req = pb.PullMessageBySeqsReq(userID="bob")
        req.seqRanges.add(conversationID=conv, begin=1, end=4, num=10)
        msgs = (await bob.call(R.PULL_MSG_BY_RANGE, req, pb.PullMessageBySeqsResp)).msgs[conv].Msgs
        assert [(m.seq, m.status) for m in msgs] == [(1, 0), (2, 4), (3, 0), (4, 0)]
        assert msgs[1].content == b"" and msgs[1].clientMsgID == "c2"
        assert msgs[2].contentType == 2101 and b"revokerID" in msgs[2].content
        req.userID = "alice"
        msgs = (await alice.call(R.PULL_MSG_BY_RANGE, req, pb.PullMessageBySeqsResp)).msgs[conv].Msgs
        assert [m.seq for m in msgs] == [2, 3, 4]


async def test_notifications_stored_in_the_n_conversation(env: Env) -> None:
    async with env.client("alice") as alice, env.client("bob") as bob:
        opts = {"isNotNotification": False, "history": True, "isSendMsg": False}
        note = text_msg("alice", "bob", "n1", opts=opts)
        note.contentType = 2200
        deliveries = await msgstore.store_and_push(env.sessionmaker, env.hub, note, "op-n", env.settings.now_ms())
        assert [(d.conversation_id, d.msg.seq) for d in deliveries] == [("n_alice_bob", 1)]
        assert (await bob.next_push()).clientMsgID == "n1"
        req = pb.PullMessageBySeqsReq(userID="bob")
        req.seqRanges.add(conversationID="n_alice_bob", begin=1, end=3, num=1)
        resp = await bob.call(R.PULL_MSG_BY_RANGE, req, pb.PullMessageBySeqsResp)
        assert [m.seq for m in resp.notificationMsgs["n_alice_bob"].Msgs] == [1] and not resp.msgs
        seqs = await bob.call(R.GET_NEWEST_SEQ, pb.GetMaxSeqReq(userID="bob"), pb.GetMaxSeqResp)
        assert dict(seqs.maxSeqs) == {"n_alice_bob": 1}
        assert (await alice.next_push()).clientMsgID == "n1"  # senderSync


async def test_pull_by_seq_list(env: Env) -> None:
    async with env.client("alice") as alice, env.client("bob"):
        for n in range(1, 4):
            await send(alice, "bob", f"c{n}")
        conv = "si_alice_bob"
        req = pb.GetSeqMessageReq(userID="alice", order=pb.PullOrderAsc)
        req.conversations.add(conversationID=conv, seqs=[3, 1, 5])
        resp = await alice.call(R.PULL_MSG_BY_SEQ_LIST, req, pb.GetSeqMessageResp)
        got = resp.msgs[conv]
        assert [m.seq for m in got.Msgs] == [3, 1] and got.isEnd and got.endSeq == 3
        req = pb.GetSeqMessageReq(userID="alice", order=pb.PullOrderDesc)
        req.conversations.add(conversationID=conv, seqs=[2])
        got = (await alice.call(R.PULL_MSG_BY_SEQ_LIST, req, pb.GetSeqMessageResp)).msgs[conv]
        assert [m.clientMsgID for m in got.Msgs] == ["c2"] and not got.isEnd


async def test_has_read_and_max_seq_and_last_message(env: Env) -> None:
    async with env.client("alice") as alice, env.client("bob") as bob:
        await send(alice, "bob", "a1")
        env.tokens.now += 1
        await send(bob, "alice", "b1")
        conv = "si_alice_bob"
        req = pb.GetConversationsHasReadAndMaxSeqReq(userID="alice")
        seqs = (await alice.call(R.GET_CONV_MAX_READ_SEQ, req, pb.GetConversationsHasReadAndMaxSeqResp)).seqs
        assert list(seqs) == [conv]
        assert (seqs[conv].maxSeq, seqs[conv].hasReadSeq) == (2, 1)  # a sender has read its own message
        assert seqs[conv].maxSeqTime == int(env.tokens.now * 1000)
        req = pb.GetConversationsHasReadAndMaxSeqReq(userID="bob", conversationIDs=[conv, "si_x_y"])
        seqs = (await bob.call(R.GET_CONV_MAX_READ_SEQ, req, pb.GetConversationsHasReadAndMaxSeqResp)).seqs
        assert list(seqs) == [conv] and seqs[conv].hasReadSeq == 2
        last = await alice.call(
            R.PULL_CONV_LAST_MESSAGE,
            pb.GetLastMessageReq(userID="alice", conversationIDs=[conv, "si_x_y"]),
            pb.GetLastMessageResp,
        )
        assert list(last.msgs) == [conv] and last.msgs[conv].clientMsgID == "b1"


async def test_logout_answers_then_closes(env: Env) -> None:
    async with env.client("alice", 5) as alice:
        resp = await alice.request(R.LOGOUT_MSG, pb.DelUserPushTokenReq(userID="alice", platformID=5))
        assert (resp.err_code, resp.data) == (0, b"")
        with pytest.raises(ConnectionClosed):
            await within(alice.ws.recv())
        assert alice.ws.close_code == 1000
    assert env.hub.connections("alice") == []


async def test_sync_reads_do_not_wait_for_the_write_lock(env: Env) -> None:
    """1001/1002 read in deferred transactions: a writer holding SQLite's write lock (as the
    message writer does while it commits a batch) does not hold them up."""
    async with env.client("alice") as alice, env.client("bob") as bob:
        await send(alice, "bob", "c1")
        assert (await bob.next_push()).seq == 1
        async with env.sessionmaker() as other:
            await other.execute(update(msgstore.ConversationSeq).values(max_seq_time=0))  # BEGIN IMMEDIATE
            seqs = await alice.call(R.GET_NEWEST_SEQ, pb.GetMaxSeqReq(userID="alice"), pb.GetMaxSeqResp)
            assert dict(seqs.maxSeqs) == {"si_alice_bob": 1}
            pull = pb.PullMessageBySeqsReq(
                userID="alice", seqRanges=[pb.SeqRange(conversationID="si_alice_bob", begin=1, end=1, num=10)]
            )
            pulled = await alice.call(R.PULL_MSG_BY_RANGE, pull, pb.PullMessageBySeqsResp)
            assert [m.clientMsgID for m in pulled.msgs["si_alice_bob"].Msgs] == ["c1"]
            await other.rollback()
