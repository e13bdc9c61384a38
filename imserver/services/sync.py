"""Seq sync answers: 1001, 1002, 1005, 1006, 1007 over `imserver.msgstore`.

Semantics of open-im-server internal/rpc/msg/sync_msg.go (GetMaxSeq,
PullMessageBySeqs, GetSeqMessage, GetLastMessage), as_read.go
(GetConversationsHasReadAndMaxSeq) and pkg/common/storage/controller/msg.go
(GetMsgBySeqsRange, GetMsgBySeqs, GetMessagesBySeqWithBounds); openim-v3.md 2.5.
A user only ever sees conversations it has (plus their n_ twins), inside its
visible seq range [max(conversation min, user min), conversation max capped by the
user's max]. The gateway (1001..1007) and the HTTP API (msg, jssdk) both answer from here.
"""

from __future__ import annotations

import logging
from collections.abc import Container, Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.protocol import openim_pb2 as pb
from imserver import msgstore as store
from imserver.reads import ReadTx

__all__ = [
    "get_conversations_has_read_and_max_seq",
    "get_last_message",
    "get_newest_seq",
    "get_seq_message",
    "pull_by_range",
    "read_has_read_and_max_seq",
    "read_newest_seq",
]

log = logging.getLogger(__name__)

_Bounds = dict[str, tuple[int, int]]


async def _bounds(session: AsyncSession, user_id: str, conversation_ids: Iterable[str]) -> _Bounds:
    ids = list(conversation_ids)
    seqs = await store.seq_rows(session, ids)
    users = await store.user_rows(session, user_id, ids)
    out: _Bounds = {}
    for cid in ids:
        row, mine = seqs.get(cid), users.get(cid)
        lo = max(row.min_seq if row else 0, mine.min_seq if mine else 0)
        hi = row.max_seq if row else 0
        if mine is not None and 0 < mine.max_seq < hi:
            hi = mine.max_seq
        out[cid] = (lo, hi)
    return out


def _is_end(order: int, lo: int, hi: int, begin: int, end: int) -> bool:
    return hi <= end if order == pb.PullOrderAsc else begin <= lo


async def get_newest_seq(session: AsyncSession, user_id: str) -> pb.GetMaxSeqResp:
    """1001: max seqs of the user's conversations and their n_ twins, zeros dropped."""
    visible = await store.visible_conversation_ids(session, user_id)
    return pb.GetMaxSeqResp(maxSeqs=await store.max_seqs(session, visible))


def read_newest_seq(tx: ReadTx, user_id: str) -> pb.GetMaxSeqResp:
    """`get_newest_seq` in a read transaction (imserver.reads): every login asks it."""
    return pb.GetMaxSeqResp(maxSeqs=store.read_max_seqs(tx, store.read_visible_conversation_ids(tx, user_id)))


async def pull_by_range(
    session: AsyncSession, user_id: str, req: pb.PullMessageBySeqsReq, failing: Container[str] = ()
) -> pb.PullMessageBySeqsResp:
    """1002: normal conversations give the last `num` seqs of [begin, end] in range;
    n_ conversations every seq of it. Conversations with nothing are left out, and so
    are those whose read fails (`failing`: ImServerSettings.pull_faults), as
    PullMessageBySeqs logs a GetMsgBySeqsRange error and goes on with errCode 0."""
    resp = pb.PullMessageBySeqsResp()
    visible = await store.visible_conversation_ids(session, user_id)
    for r in req.seqRanges:
        if r.conversationID in failing:
            log.warning("pull of %s for %s failed (pull_faults): left out", r.conversationID, user_id)
    wanted = [r for r in req.seqRanges if r.conversationID in visible and r.conversationID not in failing]
    bounds = await _bounds(session, user_id, {r.conversationID for r in wanted})
    for r in wanted:
        cid = r.conversationID
        lo, hi = bounds[cid]
        begin, end = max(r.begin, lo, 1), min(r.end, hi)
        if store.is_notification_conversation(cid):
            seqs = range(begin, end + 1)
            target = resp.notificationMsgs
        else:
            if lo > r.end or end < begin:
                continue  # GetMsgBySeqsRange returns nothing / "seq end < begin"
            seqs = range(max(begin, end - r.num + 1), end + 1)
            target = resp.msgs
        msgs = await store.load_messages(session, user_id, cid, seqs)
        if not msgs:
            continue
        target[cid].CopyFrom(pb.PullMsgs(Msgs=msgs, isEnd=_is_end(req.order, lo, hi, r.begin, r.end)))
    return resp


async def get_seq_message(session: AsyncSession, user_id: str, req: pb.GetSeqMessageReq) -> pb.GetSeqMessageResp:
    """1005: explicit seqs; isEnd/endSeq when a seq lies past the range in pull order."""
    resp = pb.GetSeqMessageResp()
    visible = await store.visible_conversation_ids(session, user_id)
    wanted = [c for c in req.conversations if c.conversationID in visible]
    bounds = await _bounds(session, user_id, {c.conversationID for c in wanted})
    for conv in wanted:
        cid = conv.conversationID
        lo, hi = bounds[cid]
        seqs: list[int] = []
        is_end, end_seq = False, 0
        for seq in conv.seqs:
            if seq <= 0:
                continue
            if lo <= seq <= hi:
                seqs.append(seq)
            elif seq < lo and req.order == pb.PullOrderDesc:
                is_end, end_seq = True, lo
            elif seq > hi and req.order == pb.PullOrderAsc:
                is_end, end_seq = True, hi
        target = resp.notificationMsgs if store.is_notification_conversation(cid) else resp.msgs
        entry = target[cid]
        entry.Msgs.extend(await store.load_messages(session, user_id, cid, seqs))
        entry.isEnd, entry.endSeq = is_end, end_seq
    return resp


async def get_conversations_has_read_and_max_seq(
    session: AsyncSession, user_id: str, req: pb.GetConversationsHasReadAndMaxSeqReq
) -> pb.GetConversationsHasReadAndMaxSeqResp:
    """1006: maxSeq (capped by the user's max), hasReadSeq and maxSeqTime per conversation.

    Pinned conversations live with the HTTP side's conversation settings, so
    pinnedConversationIDs stays empty here.
    """
    ids: Iterable[str] = req.conversationIDs or await store.user_conversation_ids(session, user_id)
    visible = await store.visible_conversation_ids(session, user_id)
    ids = [c for c in dict.fromkeys(ids) if c in visible]
    return _has_read_and_max_seq(await store.seq_rows(session, ids), await store.user_rows(session, user_id, ids))


def read_has_read_and_max_seq(
    tx: ReadTx, user_id: str, req: pb.GetConversationsHasReadAndMaxSeqReq
) -> pb.GetConversationsHasReadAndMaxSeqResp:
    """`get_conversations_has_read_and_max_seq` in a read transaction (imserver.reads)."""
    ids: Iterable[str] = req.conversationIDs or store.read_user_conversation_ids(tx, user_id)
    visible = store.read_visible_conversation_ids(tx, user_id)
    ids = [c for c in dict.fromkeys(ids) if c in visible]
    return _has_read_and_max_seq(store.read_seq_rows(tx, ids), store.read_user_rows(tx, user_id, ids))


def _has_read_and_max_seq(seqs: dict[str, Any], users: dict[str, Any]) -> pb.GetConversationsHasReadAndMaxSeqResp:
    resp = pb.GetConversationsHasReadAndMaxSeqResp()
    for cid, row in seqs.items():
        mine = users.get(cid)
        max_seq = mine.max_seq if mine is not None and mine.max_seq else row.max_seq
        resp.seqs[cid].CopyFrom(
            pb.Seqs(maxSeq=max_seq, hasReadSeq=mine.has_read_seq if mine else 0, maxSeqTime=row.max_seq_time)
        )
    return resp


async def get_last_message(session: AsyncSession, user_id: str, req: pb.GetLastMessageReq) -> pb.GetLastMessageResp:
    """1007: the newest visible message of each asked conversation; none -> left out."""
    visible = await store.visible_conversation_ids(session, user_id)
    ids = [c for c in dict.fromkeys(req.conversationIDs) if c in visible]
    bounds = await _bounds(session, user_id, ids)
    resp = pb.GetLastMessageResp()
    for cid in ids:
        lo, hi = bounds[cid]
        msg = await store.last_message(session, user_id, cid, lo, hi)
        if msg is not None:
            resp.msgs[cid].CopyFrom(msg)
    return resp
