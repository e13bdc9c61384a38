"""The `pull_faults` knob: a conversation whose read fails is left out of a 1002 answer.

open-im-server internal/rpc/msg/sync_msg.go PullMessageBySeqs logs a
GetMsgBySeqsRange error and `continue`s: the answer has errCode 0 and simply lacks
that conversation, while every other asked range is answered. Core must not take
such an answer for "nothing there" (core/modules/message_pull.py); these tests
pin the server side of that rule at the gateway.
"""

from __future__ import annotations

from core.protocol import openim_pb2 as pb
from core.protocol.constants import ReqIdentifier
from tests.imserver_gateway.harness import Client, Env, text_msg

R = ReqIdentifier
_FAILING = "si_alice_bob"
_HEALTHY = "si_alice_carol"


async def _pull(client: Client, *convs: str) -> pb.PullMessageBySeqsResp:
    req = pb.PullMessageBySeqsReq(userID=client.user_id, order=pb.PullOrderAsc)
    for conv in convs:
        req.seqRanges.add(conversationID=conv, begin=1, end=10, num=10)
    resp = await client.request(R.PULL_MSG_BY_RANGE, req)
    assert resp.err_code == 0, (resp.err_code, resp.err_msg)  # a failed read is no error to the client
    return pb.PullMessageBySeqsResp.FromString(resp.data)


async def _send(client: Client, peer: str, client_msg_id: str) -> None:
    await client.call(R.SEND_MSG, text_msg(client.user_id, peer, client_msg_id), pb.SendMsgResp)


async def test_failing_conversation_is_left_out_and_the_others_answered(env: Env) -> None:
    async with env.client("alice") as alice, env.client("bob"), env.client("carol"):
        await _send(alice, "bob", "b1")
        await _send(alice, "carol", "c1")
        env.settings.pull_faults.add(_FAILING)
        resp = await _pull(alice, _FAILING, _HEALTHY)
        assert _FAILING not in resp.msgs and _FAILING not in resp.notificationMsgs
        assert [m.clientMsgID for m in resp.msgs[_HEALTHY].Msgs] == ["c1"]
        # Only the read fails: the max seqs (1001) still report the conversation.
        newest = await alice.call(R.GET_NEWEST_SEQ, pb.GetMaxSeqReq(userID="alice"), pb.GetMaxSeqResp)
        assert newest.maxSeqs[_FAILING] == 1


async def test_faults_are_read_live_and_per_conversation(env: Env) -> None:
    async with env.client("alice") as alice, env.client("bob"):
        await _send(alice, "bob", "b1")
        env.settings.pull_faults.add(_FAILING)
        assert _FAILING not in (await _pull(alice, _FAILING)).msgs
        # Another user asking for the same conversation fails the same way (it is the store's read).
        async with env.client("bob", 3) as bob:
            assert _FAILING not in (await _pull(bob, _FAILING)).msgs
        env.settings.pull_faults.discard(_FAILING)  # the store recovers while the server runs
        assert [m.clientMsgID for m in (await _pull(alice, _FAILING)).msgs[_FAILING].Msgs] == ["b1"]
