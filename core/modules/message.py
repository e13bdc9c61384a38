"""Messages and OnAdvancedMsgListener: send, receive in seq order, history, revoke, read.

Sync model (openim-v3.md 2.5, 5.9, 7.1-7.2): every stored message has a
per-conversation seq. The core remembers, per conversation, the highest seq it
has delivered (`synced`, part of the checkpoint). A push whose seq leaves a gap
first pulls the missing range (WS 1002); a seq at or below `synced` is a
duplicate and is dropped; at login, reconnect and revival every conversation
is pulled from `synced` to the server's max seq (WS 1006 / 1001). So each
message reaches the listener once, in order, whatever happened to the socket.

History is served from a small per-conversation cache backed by the upstream
(WS 1002 ranges), so a session never holds a user's whole history.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter, OrderedDict
from typing import TYPE_CHECKING, Any

from pydantic import Field

from core.errors import SdkError
from core.events import ADVANCED_MSG as ADVANCED
from core.events import applying
from core.modules.base import NoParams, Params, tips_of
from core.modules.message_create import MessageCreateModule, new_client_msg_id
from core.modules.message_own_seq import OwnSeqs
from core.modules.message_pull import Pulled, RangePuller
from core.msgstruct import ELEM_FIELDS, MsgStruct, from_msgdata, to_msgdata
from core.protocol import openim_pb2 as pb
from core.protocol.constants import PARAM_MAX_LENGTH, ContentType, MsgFrom, MsgStatus, ReqIdentifier, SessionType
from core.protocol.errcodes import ErrCode
from core.registry import sdk_function
from core.untrusted import flag, int_list, integer, text

if TYPE_CHECKING:
    from core.core import Core
    from core.models import LocalConversation

__all__ = ["MessageModule", "is_stored"]

log = logging.getLogger("openim.core.message")

_CACHE_PER_CONV = 200
# How long SendMessage waits for the seq of what it sent (RevokeMessage & co. wait longer).
_SEND_SEQ_WAIT = 15.0
_INDEX_SIZE = 20_000
# Seqs read from one notification's tips (a read receipt lists the reader's choice).
_MAX_TIPS_SEQS = 10_000
_ONLINE_ONLY = {
    "history": False,
    "persistent": False,
    "senderSync": False,
    "conversationUpdate": False,
    "senderConversationUpdate": False,
    "unreadCount": False,
    "offlinePush": False,
}
ConvID = Field(min_length=1, max_length=256)
MsgID = Field(min_length=1, max_length=128)


def _opt(m: pb.MsgData, key: str) -> bool:
    """A missing option key means true (server Options.Is, openim-v3.md 4.3)."""
    return m.options.get(key, True)


def is_stored(m: pb.MsgData) -> bool:
    """Did the server store this pushed message under its seq?

    OpenIM stores by the `history` option and gives stored messages their seq
    (msgtransfer online_history_msg_handler.go categorizeMessageLists); an
    unstored one keeps whatever seq its sender wrote, so that seq must never
    move our sync position (a forged 2^63-1 would hide every later message).
    """
    return m.seq != 0 and _opt(m, "history")


def _same_conversation(notification_conv: str, conv_id: str) -> bool:
    """Does `conv_id` (si_a_b, sg_g) belong to the n_ conversation its notification came in?
    (open-im-server pkg/msgprocessor/conversation.go GetConversationIDByMsg: n_a_b, n_g)."""
    return notification_conv.partition("_")[2] == conv_id.partition("_")[2] != ""


class SendParams(Params):
    message: MsgStruct
    recvID: str = Field(default="", max_length=64)
    groupID: str = Field(default="", max_length=64)
    offlinePushInfo: dict[str, Any] | None = None
    isOnlineOnly: bool = False


class TypingParams(Params):
    recvID: str = Field(min_length=1, max_length=64)
    msgTip: str = Field(default="", max_length=1024)


class ConvMsgParams(Params):
    conversationID: str = ConvID
    clientMsgID: str = MsgID


class ConversationIDParams(Params):
    conversationID: str = ConvID


class HistoryParams(Params):
    conversationID: str = ConvID
    startClientMsgID: str = Field(default="", max_length=128, description="empty = from the newest message")
    count: int = Field(default=20, ge=1, le=200)
    viewType: int = Field(default=0, ge=0)


class FindItem(Params):
    conversationID: str = ConvID
    clientMsgIDList: list[str] = Field(min_length=1, max_length=PARAM_MAX_LENGTH)


class FindParams(Params):
    findList: list[FindItem] = Field(min_length=1, max_length=100)


class SearchParams(Params):
    conversationID: str = Field(default="", max_length=256, description="empty = every conversation")
    keywordList: list[str] = Field(default_factory=list, max_length=10)
    keywordListMatchType: int = Field(default=0, ge=0, le=1)
    senderUserIDList: list[str] = Field(default_factory=list, max_length=100)
    messageTypeList: list[int] = Field(default_factory=list, max_length=50)
    searchTimePosition: int = Field(default=0, ge=0)
    searchTimePeriod: int = Field(default=0, ge=0)
    pageIndex: int = Field(default=1, ge=1)
    count: int = Field(default=20, ge=1, le=200)


class MessageModule(MessageCreateModule):
    def __init__(self, core: Core) -> None:
        super().__init__(core)
        self.synced: dict[str, int] = {}
        self._baseline = False
        self._cache: dict[str, OrderedDict[int, MsgStruct]] = {}
        self._index: OrderedDict[str, tuple[str, int]] = OrderedDict()
        self._sent: OrderedDict[str, None] = OrderedDict()
        # Sends awaiting their answer and seq -> the echo of it that came meanwhile, if any.
        # The send updates the conversation once it returns (as the SDK's SendMessage does on
        # success), so that echo does not: one OnConversationChanged per sent message, not two.
        self._sending: dict[str, tuple[str, MsgStruct] | None] = {}
        # The delivery mark of such an echo: the send writes it with its conversation events,
        # one append of the log, not two (issue 14).
        self._echo_marks: dict[str, tuple[str, int]] = {}
        self._deleted: OrderedDict[str, None] = OrderedDict()
        # One at a time: pushes, gap pulls and (re)sync all advance `synced`,
        # and events must leave in seq order.
        self._lock = asyncio.Lock()
        self._batch: list[dict[str, Any]] = []
        self._batch_marks: dict[str, int] = {}  # highest seq per conversation in _batch
        self._offline_batch: list[dict[str, Any]] = []  # the same, in the background (app_state.py)
        # Own messages whose seq is not known yet (the server tells it by pushing our copy back).
        self._own = OwnSeqs(self._known_seq, self._catch_up)
        self._puller = RangePuller(self._reconnected)
        # WS 1002 requests per conversation (metrics, tests: a capped conversation costs none).
        self.range_pulls: Counter[str] = Counter()

    # -- checkpoint ------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {"synced": self.synced, "baseline": self._baseline, "deleted": list(self._deleted)}

    def restore(self, data: dict[str, Any]) -> None:
        self.synced = {k: int(v) for k, v in (data.get("synced") or {}).items()}
        self._baseline = bool(data.get("baseline"))
        self._deleted = OrderedDict.fromkeys(data.get("deleted") or [])

    def skip_delivered(self, delivered: dict[str, int]) -> None:
        """Count seqs up to `delivered` as applied: their events were delivered already."""
        for conv_id, seq in delivered.items():
            if seq > self.synced.get(conv_id, 0):
                self.synced[conv_id] = seq

    # -- bounded local state -------------------------------------------

    def _remember(self, conv_id: str, msg: MsgStruct) -> None:
        if msg.seq:
            cache = self._cache.setdefault(conv_id, OrderedDict())
            cache[msg.seq] = msg
            cache.move_to_end(msg.seq)
            while len(cache) > _CACHE_PER_CONV:
                cache.popitem(last=False)
        self._index[msg.clientMsgID] = (conv_id, msg.seq)
        self._index.move_to_end(msg.clientMsgID)
        if msg.seq:
            self._own.learned(msg.clientMsgID, msg.seq)
        while len(self._index) > _INDEX_SIZE:
            self._index.popitem(last=False)

    @staticmethod
    def _bounded_add(d: OrderedDict[str, None], key: str, size: int = _INDEX_SIZE) -> None:
        d[key] = None
        while len(d) > size:
            d.popitem(last=False)

    # -- transport -------------------------------------------------------

    async def _ws(self, ident: ReqIdentifier, req: Any, operation_id: str) -> bytes:
        gw = self.core.gateway
        if gw is None:
            raise SdkError(ErrCode.NetworkError, detail="not connected to the message gateway")
        data: bytes = await gw.request(ident, req.SerializeToString(), operation_id)
        return data

    async def _pull(self, conv_id: str, begin: int, end: int, operation_id: str) -> Pulled:
        """Every stored message of [begin, end] (placeholders included), ascending, in batches
        that shrink when an answer exceeds the read limit, up to the first answer that leaves
        the conversation out (core/modules/message_pull.py)."""

        async def fetch(lo: int, hi: int) -> list[pb.MsgData] | None:
            rng = pb.SeqRange(conversationID=conv_id, begin=lo, end=hi, num=hi - lo + 1)
            req = pb.PullMessageBySeqsReq(userID=self.me, seqRanges=[rng], order=pb.PullOrderAsc)
            resp = pb.PullMessageBySeqsResp.FromString(
                await self._ws(ReqIdentifier.PULL_MSG_BY_RANGE, req, operation_id)
            )
            self.range_pulls[conv_id] += 1
            for group in (resp.msgs, resp.notificationMsgs):
                if conv_id in group:
                    return list(group[conv_id].Msgs)
            return None  # left out: a failed read, or nothing this user may read there

        return await self._puller.pull(conv_id, begin, end, fetch)

    async def _reconnected(self) -> None:
        gw = self.core.gateway
        if gw is None:
            raise SdkError(ErrCode.NetworkError, detail="not connected to the message gateway")
        await gw.wait_connected()

    @property
    def skipped_too_large(self) -> int:
        """Messages skipped because even alone they exceed the gateway read limit."""
        return self._puller.skipped

    # -- receiving ---------------------------------------------------------

    async def on_pushed(self, conv_id: str, m: pb.MsgData, operation_id: str) -> None:
        """One pushed message of a seq-ordered conversation (chat or `n_`)."""
        async with self._lock:
            await self._on_pushed(conv_id, m, operation_id)

    async def _on_pushed(self, conv_id: str, m: pb.MsgData, operation_id: str) -> None:
        if not is_stored(m):
            await self._online_only(conv_id, m, operation_id)
            return
        done = self.synced.get(conv_id, 0)
        if m.seq <= done:
            self._confirm_own(conv_id, m)
            return
        if m.seq > done + 1:
            gap = await self._pull(conv_id, done + 1, m.seq - 1, operation_id)
            for missing in gap.msgs:
                await self._apply(conv_id, missing, operation_id, emit=True)
            if not gap.complete:
                # The server could not read the gap now: applying `m` would skip it for good.
                # Leave both to a seq sync once the pushes queued now are handled.
                log.warning("gap %s [%d, %d] not answered: sync later", conv_id, gap.through + 1, m.seq - 1)
                self.core.resync_later()
                return
        await self._apply(conv_id, m, operation_id, emit=True)

    async def _apply(self, conv_id: str, m: pb.MsgData, operation_id: str, emit: bool) -> None:
        if m.seq <= self.synced.get(conv_id, 0):
            return
        self.synced[conv_id] = m.seq
        self.core.checkpoint_dirty()
        if m.status == MsgStatus.HAS_DELETED:  # deleted placeholder (openim-v3.md 2.5, 1002)
            return
        token = applying.set((conv_id, m.seq))  # events fired now deliver this seq
        try:
            if conv_id.startswith("n_"):
                await self._notification(conv_id, m, operation_id, emit)
            else:
                await self._chat_message(conv_id, m, operation_id, emit)
        finally:
            applying.reset(token)

    def _confirm_own(self, conv_id: str, m: pb.MsgData) -> None:
        known = self._index.get(m.clientMsgID)
        if known is not None and known[1] == 0:
            self._remember(conv_id, from_msgdata(m))

    async def _chat_message(self, conv_id: str, m: pb.MsgData, operation_id: str, emit: bool) -> None:
        if m.clientMsgID in self._deleted:
            return
        msg = from_msgdata(m)
        self._remember(conv_id, msg)
        from_me = m.sendID == self.me
        if from_me and m.clientMsgID in self._sending:
            self._sending[m.clientMsgID] = (conv_id, msg)  # the send applies it to the conversation
            if emit:
                self._echo_marks[m.clientMsgID] = (conv_id, m.seq)  # and marks it delivered
            return
        conv_module = self.core.conversation
        if m.sessionType == SessionType.READ_GROUP:
            conv = await conv_module.ensure(conv_id, m.sessionType, "", m.groupID or m.recvID)
        else:
            peer = m.recvID if from_me else m.sendID
            conv = await conv_module.ensure(conv_id, m.sessionType, peer, "")
        update = _opt(m, "conversationUpdate") and (not from_me or _opt(m, "senderConversationUpdate"))
        own_echo = from_me and m.clientMsgID in self._sent
        # The client JSON once per message: the conversation's latestMsg and every event share it
        # (read-only from here on; issue 14's py-spy had it computed two or three times).
        out = msg.out() if update or (emit and not own_echo) else {}
        if update:
            unread = not from_me and _opt(m, "unreadCount")
            conv_module.message_arrived(conv, msg, from_me, counts_unread=unread, out=out)
        if emit and own_echo:
            await self.core.mark_delivered(((conv_id, m.seq),))  # no event, but delivered all the same
        elif emit:
            if self.core.config.batch_messages:
                self._batch.append(out)
                self._batch_marks[conv_id] = m.seq
            else:
                await self.core.emit(ADVANCED, "OnRecvNewMessage", out, operation_id)
            if self.core.app_state.offline_notify(conv.recvMsgOpt):  # in the background (app_state.py)
                if self.core.config.batch_messages:
                    self._offline_batch.append(out)
                else:
                    await self.core.emit(ADVANCED, "OnRecvOfflineNewMessage", out, operation_id)

    @property
    def has_baseline(self) -> bool:
        return self._baseline

    async def flush_batch(self, operation_id: str | None) -> None:
        """Batch mode: the messages of one push batch or sync as one OnRecvNewMessages."""
        if self._batch:
            batch, self._batch = self._batch, []
            marks, self._batch_marks = tuple(self._batch_marks.items()), {}
            await self.core.emit(ADVANCED, "OnRecvNewMessages", batch, operation_id, marks)
        if self._offline_batch:
            offline, self._offline_batch = self._offline_batch, []
            await self.core.emit(ADVANCED, "OnRecvOfflineNewMessages", offline, operation_id, ())

    async def _online_only(self, conv_id: str, m: pb.MsgData, operation_id: str) -> None:
        if m.sendID == self.me and m.clientMsgID in self._sent:
            return
        msg = from_msgdata(m)
        msg.seq = 0  # not stored: any seq on it is the sender's invention
        if msg.contentType == ContentType.TYPING:  # input states (core/modules/input_states.py)
            await self.core.input_states.on_typing(msg, self._typing_conv(msg), operation_id)
        await self.core.emit(ADVANCED, "OnRecvOnlineOnlyMessage", msg.out(), operation_id)

    async def _notification(self, conv_id: str, m: pb.MsgData, operation_id: str, emit: bool) -> None:
        ct = m.contentType
        if ct not in (ContentType.MSG_REVOKE, ContentType.HAS_READ_RECEIPT, ContentType.DELETE_MSGS):
            await self.core.route_notification(m, operation_id)
            return
        tips = tips_of(m)
        # Any user can send any content type into our n_ conversation with them
        # (options.isNotNotification=false): these tips may only touch that
        # conversation, unless they come from ourselves (another device).
        if m.sendID != self.me and not _same_conversation(conv_id, text(tips, "conversationID")):
            self.core.stats.bad_pushes += 1
            log.warning("notification %s in %s names another conversation: skipped", ct, conv_id)
            return
        if ct == ContentType.MSG_REVOKE:
            await self._revoked(tips, operation_id, emit)
        elif ct == ContentType.HAS_READ_RECEIPT:
            await self._read_receipt(tips, m.sendTime, operation_id, emit)
        else:
            self._deleted_seqs(tips)

    async def _revoked(self, tips: dict[str, Any], operation_id: str, emit: bool) -> None:
        conv_id = text(tips, "conversationID")
        seq = integer(tips, "seq")
        cached = self._cache.get(conv_id, OrderedDict()).get(seq)
        revoked = {
            "revokerID": text(tips, "revokerUserID"),
            "revokerRole": 0,
            "clientMsgID": text(tips, "clientMsgID"),
            "revokerNickname": "",
            "revokeTime": integer(tips, "revokeTime"),
            "sourceMessageSendTime": cached.sendTime if cached else 0,
            "sourceMessageSendID": cached.sendID if cached else "",
            "sourceMessageSenderNickname": cached.senderNickname if cached else "",
            "sessionType": integer(tips, "sesstionType"),  # sic: sdkws.RevokeMsgTips field 5
            "seq": seq,
            "ex": "",
            "isAdminRevoke": flag(tips, "isAdminRevoke"),
        }
        if cached is not None:
            cached.contentType = ContentType.MSG_REVOKE
            for name in ELEM_FIELDS.values():
                setattr(cached, name, None)
            cached.notificationElem = {"detail": json.dumps(revoked, separators=(",", ":"))}
            conv = self.core.conversation.convs.get(conv_id)
            if conv is not None and conv.latestMsgSendTime == cached.sendTime:
                conv.latestMsg = json.dumps(cached.out(), separators=(",", ":"))
                self.core.conversation.touch(conv_id)
        if emit:
            await self.core.emit(ADVANCED, "OnNewRecvMessageRevoked", revoked, operation_id)

    async def on_own_read_receipt(self, m: pb.MsgData, operation_id: str) -> None:
        """A read on another of the user's devices, pushed online only with seq 0.

        For group and notification conversations (and SetConversationHasReadSeq) the
        server sends the receipt from the reader to the reader (internal/rpc/msg/as_read.go
        sendMarkAsReadNotification), and pkg/notification/msg.go makes such a receipt
        unreliable: never stored, so never pulled. The SDK applies it like a stored one
        (conversation_msg/read_drawing.go doReadDrawing -> doUnreadCount). Only the server
        or our own devices send as us, so one from anyone else is skipped.
        """
        tips = tips_of(m)
        if m.sendID != self.me or m.recvID != self.me or text(tips, "markAsReadUserID") != self.me:
            self.core.stats.bad_pushes += 1
            log.warning("unstored read receipt from %s to %s skipped", m.sendID, m.recvID)
            return
        async with self._lock:
            await self._read_receipt(tips, m.sendTime, operation_id, emit=True)

    async def _read_receipt(self, tips: dict[str, Any], at: int, operation_id: str, emit: bool) -> None:
        conv_id = text(tips, "conversationID")
        reader = text(tips, "markAsReadUserID")
        has_read = integer(tips, "hasReadSeq")
        if reader == self.me:
            # Read on another of my devices (read_drawing.go doUnreadCount): the unread count
            # becomes maxSeq - hasReadSeq (a group's reads everything up to hasReadSeq); the
            # conversation flush emits OnConversationChanged and OnTotalUnreadMessageCountChanged.
            self.core.conversation.set_read(conv_id, has_read)
            return
        # The reader chose these seqs: only ones that can be ours, at most a bounded number.
        conv = self.core.conversation.convs.get(conv_id)
        top = max(self.synced.get(conv_id, 0), conv.maxSeq if conv else 0)
        seqs = sorted({s for s in int_list(tips, "seqs", _MAX_TIPS_SEQS) if 0 < s <= top})
        mine = [m for m in await self._by_seqs(conv_id, seqs, operation_id) if m.sendID == self.me]
        for m in mine:
            m.isRead = True
        if emit and mine:
            receipt = {
                "groupID": "",
                "userID": reader,
                "msgIDList": [m.clientMsgID for m in mine],
                "readTime": at,
                "msgFrom": int(MsgFrom.USER),
                "contentType": int(ContentType.HAS_READ_RECEIPT),
                "sessionType": int(SessionType.SINGLE),
            }
            await self.core.emit(ADVANCED, "OnRecvC2CReadReceipt", [receipt], operation_id)

    def _deleted_seqs(self, tips: dict[str, Any]) -> None:
        cache = self._cache.get(text(tips, "conversationID"))
        if cache is not None:
            for s in int_list(tips, "seqs", _MAX_TIPS_SEQS):
                cache.pop(s, None)

    async def _by_seqs(self, conv_id: str, seqs: list[int], operation_id: str) -> list[MsgStruct]:
        """Messages by seq: from the cache, the rest from the server (WS 1005)."""
        cache = self._cache.get(conv_id, OrderedDict())
        found = {s: cache[s] for s in seqs if s in cache}
        missing = [s for s in seqs if s not in found]
        if missing:
            req = pb.GetSeqMessageReq(
                userID=self.me, conversations=[pb.ConversationSeqs(conversationID=conv_id, seqs=missing)]
            )
            resp = pb.GetSeqMessageResp.FromString(
                await self._ws(ReqIdentifier.PULL_MSG_BY_SEQ_LIST, req, operation_id)
            )
            for m in resp.msgs[conv_id].Msgs if conv_id in resp.msgs else []:
                if m.status != MsgStatus.HAS_DELETED:
                    msg = from_msgdata(m)
                    self._remember(conv_id, msg)
                    found[m.seq] = msg
        return [found[s] for s in seqs if s in found]

    # -- sync --------------------------------------------------------------

    async def sync(self, operation_id: str) -> None:
        """Catch up every conversation from `synced` to the server's max seq."""
        async with self._lock:
            await self._sync(operation_id)

    async def _sync(self, operation_id: str) -> None:
        # 1001 first: its max seqs are global (sync_msg.go GetMaxSeq), while 1006 reports a
        # departed member's cap (as_read.go: conversation.MaxSeq when set). Asked in this
        # order, 1006's maxSeq is at least 1001's for everyone else, so min(1001, 1006) is
        # what this user can read now, never below a message that is still to come by push.
        newest = pb.GetMaxSeqResp.FromString(
            await self._ws(ReqIdentifier.GET_NEWEST_SEQ, pb.GetMaxSeqReq(userID=self.me), operation_id)
        )
        seq_resp = pb.GetConversationsHasReadAndMaxSeqResp.FromString(
            await self._ws(
                ReqIdentifier.GET_CONV_MAX_READ_SEQ,
                pb.GetConversationsHasReadAndMaxSeqReq(userID=self.me),
                operation_id,
            )
        )
        await self.core.conversation.apply_server_seqs(
            {c: (s.maxSeq, s.hasReadSeq) for c, s in seq_resp.seqs.items()}, operation_id
        )
        caps = {c: s.maxSeq for c, s in seq_resp.seqs.items() if s.maxSeq}
        for conv_id, max_seq in sorted(newest.maxSeqs.items()):
            readable = min(max_seq, caps.get(conv_id, max_seq))
            done = self.synced.get(conv_id)
            if done is None and not self._baseline:
                # First login of this device: history is there to page through,
                # not to replay as new events; show the newest as latestMsg.
                if not conv_id.startswith("n_") and readable:
                    self.synced[conv_id] = readable - 1
                    for m in (await self._pull(conv_id, readable, readable, operation_id)).msgs:
                        await self._apply(conv_id, m, operation_id, emit=False)
                self._advance(conv_id, max_seq)
                continue
            done = done or 0
            if max_seq <= done:
                continue
            if readable > done:
                pulled = await self._pull(conv_id, done + 1, readable, operation_id)
                for m in pulled.msgs:
                    await self._apply(conv_id, m, operation_id, emit=True)
                if not pulled.complete:
                    # Left out of an answer although readable: the server failed to read it
                    # (sync_msg.go logs and continues). Stay here; the next sync asks again.
                    log.warning("pull of %s from %d not answered: kept for the next sync", conv_id, pulled.through + 1)
                    continue
            # Past `readable` this user may read nothing (a kicked or departed member; sync_msg.go
            # caps pulls at conversation.MaxSeq): advance, as the SDK advances its synced seq
            # (msg_sync.go syncAndTriggerMsgs), so later syncs do not ask again.
            self._advance(conv_id, max_seq)
        self._baseline = True
        self.core.checkpoint_dirty()
        await self.core.conversation.flush(operation_id)

    def _advance(self, conv_id: str, seq: int) -> None:
        if seq > self.synced.get(conv_id, 0):
            self.synced[conv_id] = seq
            self.core.checkpoint_dirty()

    # -- functions: sending ------------------------------------------------

    @sdk_function("message", "SendMessage", SendParams, MsgStruct)
    async def send_message(self, p: SendParams, operation_id: str) -> MsgStruct:
        """Send a message made by a Create*Message function to `recvID` or `groupID`.

        Retrying with the same message (same clientMsgID) does not send it twice.
        A media element whose path is an uploaded object but whose URL is empty
        gets that URL first, as the SDK uploads before sending (core/modules/media.py).
        """
        from core.modules.media import fill_uploaded_urls

        p = p.model_copy(update={"message": p.message.model_copy(deep=True)})
        fill_uploaded_urls(p.message, self.core.api.base_url)
        return await self._send(p, operation_id, copied=True)

    @sdk_function("message", "SendMessageNotOss", SendParams, MsgStruct)
    async def send_message_not_oss(self, p: SendParams, operation_id: str) -> MsgStruct:
        """SendMessage for media that already has URLs (the bridge never uploads)."""
        return await self._send(p, operation_id)

    async def _send(self, p: SendParams, operation_id: str, copied: bool = False) -> MsgStruct:
        """`copied`: p.message is the caller's own deep copy already (one deep copy per send)."""
        if bool(p.recvID) == bool(p.groupID):
            raise SdkError(ErrCode.SdkArgsError, detail="exactly one of recvID or groupID is required")
        msg = p.message if copied else p.message.model_copy(deep=True)
        if msg.contentType not in ELEM_FIELDS or msg.contentType == ContentType.TYPING:
            raise SdkError(ErrCode.SdkArgsError, detail=f"message.contentType {msg.contentType} cannot be sent")
        if msg.elem() is None:
            raise SdkError(ErrCode.SdkArgsError, detail=f"message.{ELEM_FIELDS[msg.contentType]} is required")
        if not msg.clientMsgID:
            msg.clientMsgID = new_client_msg_id(self.me)
        msg.sendID = self.me
        msg.senderPlatformID = self.core.platform_id
        if p.groupID:
            msg.sessionType, msg.groupID, msg.recvID = int(SessionType.READ_GROUP), p.groupID, ""
            conv_id, peer, group = f"sg_{p.groupID}", "", p.groupID
        else:
            msg.sessionType, msg.recvID, msg.groupID = int(SessionType.SINGLE), p.recvID, ""
            x, y = sorted((self.me, p.recvID))
            conv_id, peer, group = f"si_{x}_{y}", p.recvID, ""
        if p.offlinePushInfo:
            msg.offlinePush = p.offlinePushInfo
        data = to_msgdata(msg, _ONLINE_ONLY if p.isOnlineOnly else None)
        self._bounded_add(self._sent, msg.clientMsgID)
        self._sending[msg.clientMsgID] = None
        try:
            return await self._sent_message(p, msg, data, conv_id, peer, group, operation_id)
        finally:
            echo = self._sending.pop(msg.clientMsgID, None)
            if echo is not None:
                # The send failed after the server stored it (its echo came): the echo goes
                # into the conversation as it would have without a send in flight.
                conv = await self.core.conversation.ensure(echo[0], msg.sessionType, peer, group)
                await self.core.fire_together(self._sent_to(conv, echo[1], operation_id))
            elif (mark := self._echo_marks.pop(msg.clientMsgID, None)) is not None:
                await self.core.mark_delivered((mark,))  # cancelled before it applied the echo

    async def _sent_message(
        self, p: SendParams, msg: MsgStruct, data: pb.MsgData, conv_id: str, peer: str, group: str, operation_id: str
    ) -> MsgStruct:
        resp = pb.SendMsgResp.FromString(await self._ws(ReqIdentifier.SEND_MSG, data, operation_id))
        msg.serverMsgID, msg.sendTime, msg.status = resp.serverMsgID, resp.sendTime, 2
        if not p.isOnlineOnly:
            known = self._index.get(msg.clientMsgID)
            if known is not None and known[1]:
                msg.seq = known[1]  # our own copy was pushed back before the send answered
            self._remember(conv_id, msg)
            if not msg.seq:
                # The answer carries no seq (SendMsgResp); the SDK's answer has it once the
                # echo is in. Wait for it, or pull it, but not for ever: the send succeeded.
                try:
                    msg.seq = await self._own.seq_of(conv_id, msg.clientMsgID, operation_id, deadline=_SEND_SEQ_WAIT)
                except SdkError as exc:
                    log.warning("sent %s without learning its seq: %s", msg.clientMsgID, exc)
                else:
                    self._remember(conv_id, msg)
            self._sending.pop(msg.clientMsgID, None)  # applied here, echo or not
            conv = await self.core.conversation.ensure(conv_id, msg.sessionType, peer, group)
            await self.core.fire_together(self._sent_to(conv, msg, operation_id))
        return msg

    async def _sent_to(self, conv: LocalConversation, msg: MsgStruct, operation_id: str) -> None:
        """A sent message into its conversation: the events, and its echo's delivery mark if the
        echo came, go in one sink call (Core.fire_together): one append, one commit."""
        self.core.conversation.message_arrived(conv, msg, from_me=True, counts_unread=False)
        await self.core.conversation.flush(operation_id)
        mark = self._echo_marks.pop(msg.clientMsgID, None)
        if mark is not None:
            await self.core.mark_delivered((mark,))

    @sdk_function("message", "TypingStatusUpdate", TypingParams, None)
    async def typing_status_update(self, p: TypingParams, operation_id: str) -> None:
        """Tell `recvID` the user is typing (online only, never stored; contentType 113)."""
        msg = self._new(ContentType.TYPING, {"msgTips": p.msgTip})
        msg.sessionType, msg.recvID = int(SessionType.SINGLE), p.recvID
        self._bounded_add(self._sent, msg.clientMsgID)
        await self._ws(ReqIdentifier.SEND_MSG, to_msgdata(msg, _ONLINE_ONLY), operation_id)

    # -- functions: reading ------------------------------------------------

    def _known_seq(self, client_msg_id: str) -> int:
        known = self._index.get(client_msg_id)
        return known[1] if known is not None else 0

    async def _seq_of(self, conv_id: str, client_msg_id: str, operation_id: str) -> int:
        known = self._index.get(client_msg_id)
        if known is None or known[0] != conv_id:
            raise SdkError(ErrCode.RecordNotFoundError, detail=f"message {client_msg_id} not found in {conv_id}")
        if known[1]:
            return known[1]
        # Just sent by us: its seq comes with our copy's push, or a pull (message_own_seq.py).
        return await self._own.seq_of(conv_id, client_msg_id, operation_id)

    async def _catch_up(self, conv_id: str, operation_id: str) -> None:
        """Pull `conv_id` up to the server's max seq now, as a gap would be pulled: the
        copies of our own messages come with it, and their seqs (message_own_seq.py)."""
        async with self._lock:
            req = pb.GetConversationsHasReadAndMaxSeqReq(userID=self.me, conversationIDs=[conv_id])
            resp = pb.GetConversationsHasReadAndMaxSeqResp.FromString(
                await self._ws(ReqIdentifier.GET_CONV_MAX_READ_SEQ, req, operation_id)
            )
            top = resp.seqs[conv_id].maxSeq if conv_id in resp.seqs else 0
            done = self.synced.get(conv_id, 0)
            if top > done:
                for m in (await self._pull(conv_id, done + 1, top, operation_id)).msgs:
                    await self._apply(conv_id, m, operation_id, emit=True)
        await self.flush_batch(operation_id)
        await self.core.conversation.flush(operation_id)

    async def _history(self, p: HistoryParams, forward: bool, operation_id: str) -> dict[str, Any]:
        conv = self.core.conversation.convs.get(p.conversationID)
        if conv is None:
            raise SdkError(ErrCode.RecordNotFoundError, detail=f"conversation {p.conversationID} not found")
        top = max(conv.maxSeq, self.synced.get(p.conversationID, 0))
        if p.startClientMsgID:
            start = await self._seq_of(p.conversationID, p.startClientMsgID, operation_id)
        elif forward:
            start = 0
        else:
            start = top + 1
        if forward:
            lo, hi = start + 1, min(top, start + p.count)
        else:
            lo, hi = max(1, start - p.count), start - 1
        msgs: list[MsgStruct] = []
        if lo <= hi:
            cache = self._cache.get(p.conversationID, OrderedDict())
            if all(s in cache for s in range(lo, hi + 1)):
                msgs = [cache[s] for s in range(lo, hi + 1)]
            else:
                for m in (await self._pull(p.conversationID, lo, hi, operation_id)).msgs:
                    if m.status != MsgStatus.HAS_DELETED:
                        msg = from_msgdata(m)
                        self._remember(p.conversationID, msg)
                        msgs.append(msg)
        msgs = [m for m in msgs if m.clientMsgID not in self._deleted]
        is_end = hi >= top if forward else lo <= max(1, conv.minSeq)
        # Local-only messages and localEx (core/modules/local_messages.py), by sendTime window.
        start_msg = self._cache.get(p.conversationID, OrderedDict()).get(start)
        edge = start_msg.sendTime if start_msg is not None else 0
        if forward:
            after, until = edge, (msgs[-1].sendTime if msgs and not is_end else 0)
        else:
            after, until = (msgs[0].sendTime if msgs and not is_end else 0), edge
        msgs = await self.core.local_messages.merge_history(p.conversationID, msgs, after, until)
        return {"messageList": [m.out() for m in msgs], "isEnd": is_end, "errCode": 0, "errMsg": ""}

    @sdk_function("message", "GetAdvancedHistoryMessageList", HistoryParams, dict[str, Any])
    async def get_advanced_history_message_list(self, p: HistoryParams, operation_id: str) -> dict[str, Any]:
        """`count` messages before `startClientMsgID` (or the newest), oldest first."""
        return await self._history(p, False, operation_id)

    @sdk_function("message", "GetAdvancedHistoryMessageListReverse", HistoryParams, dict[str, Any])
    async def get_advanced_history_message_list_reverse(self, p: HistoryParams, operation_id: str) -> dict[str, Any]:
        """`count` messages after `startClientMsgID`, oldest first."""
        return await self._history(p, True, operation_id)

    @sdk_function("message", "FindMessageList", FindParams, dict[str, Any])
    async def find_message_list(self, p: FindParams, operation_id: str) -> dict[str, Any]:
        """Messages by clientMsgID, grouped by conversation."""
        items = []
        total = 0
        for item in p.findList:
            seqs = []
            for cid in item.clientMsgIDList:
                known = self._index.get(cid)
                if known is not None and known[0] == item.conversationID and known[1]:
                    seqs.append(known[1])
            found = [
                m
                for m in await self._by_seqs(item.conversationID, seqs, operation_id)
                if m.clientMsgID not in self._deleted
            ]
            conv = self.core.conversation.convs.get(item.conversationID)
            total += len(found)
            items.append(
                {
                    "conversationID": item.conversationID,
                    "conversationType": conv.conversationType if conv else 0,
                    "showName": conv.showName if conv else "",
                    "faceURL": conv.faceURL if conv else "",
                    "latestMsgSendTime": conv.latestMsgSendTime if conv else 0,
                    "messageCount": len(found),
                    "messageList": [m.out() for m in found],
                }
            )
        return {"totalCount": total, "findResultItems": items}

    @sdk_function("message", "SearchLocalMessages", SearchParams, dict[str, Any], read_only=True)
    async def search_local_messages(self, p: SearchParams, operation_id: str) -> dict[str, Any]:
        """Search the session's recent-message cache (not the whole server history)."""
        words = [w.lower() for w in p.keywordList if w]
        convs = [p.conversationID] if p.conversationID else list(self._cache)
        hits: dict[str, list[MsgStruct]] = {}
        for cid in convs:
            for m in self._cache.get(cid, OrderedDict()).values():
                if m.clientMsgID in self._deleted:
                    continue
                if p.senderUserIDList and m.sendID not in p.senderUserIDList:
                    continue
                if p.messageTypeList and m.contentType not in p.messageTypeList:
                    continue
                if p.searchTimePosition and p.searchTimePeriod:
                    lo = (p.searchTimePosition - p.searchTimePeriod) * 1000
                    if not lo <= m.sendTime <= p.searchTimePosition * 1000:
                        continue
                text = json.dumps(m.elem() or {}, ensure_ascii=False).lower()
                match = [w in text for w in words]
                if words and not (all(match) if p.keywordListMatchType else any(match)):
                    continue
                hits.setdefault(cid, []).append(m)
        flat = [(cid, m) for cid, ms in hits.items() for m in ms]
        page = flat[(p.pageIndex - 1) * p.count : p.pageIndex * p.count]
        grouped: dict[str, list[MsgStruct]] = {}
        for cid, m in page:
            grouped.setdefault(cid, []).append(m)
        items = []
        for cid, ms in grouped.items():
            conv = self.core.conversation.convs.get(cid)
            items.append(
                {
                    "conversationID": cid,
                    "conversationType": conv.conversationType if conv else 0,
                    "showName": conv.showName if conv else "",
                    "faceURL": conv.faceURL if conv else "",
                    "messageCount": len(ms),
                    "messageList": [m.out() for m in ms],
                }
            )
        return {"totalCount": len(flat), "searchResultItems": items}

    # -- functions: read, revoke, delete -----------------------------------

    @sdk_function("message", "MarkConversationMessageAsRead", ConversationIDParams, None)
    async def mark_conversation_message_as_read(self, p: ConversationIDParams, operation_id: str) -> None:
        """Mark everything in a conversation read; the peer gets OnRecvC2CReadReceipt."""
        conv = self.core.conversation.convs.get(p.conversationID)
        if conv is None:
            raise SdkError(ErrCode.RecordNotFoundError, detail=f"conversation {p.conversationID} not found")
        has_read = self.core.conversation.has_read.get(p.conversationID, 0)
        if conv.maxSeq <= has_read:
            return
        seqs: list[int] = []
        if conv.conversationType == SessionType.SINGLE:
            cache = self._cache.get(p.conversationID, OrderedDict())
            seqs = [s for s in range(has_read + 1, conv.maxSeq + 1) if s not in cache or cache[s].sendID != self.me]
        body = {"conversationID": p.conversationID, "userID": self.me, "hasReadSeq": conv.maxSeq, "seqs": seqs}
        await self.core.api.post("/msg/mark_conversation_as_read", body, operation_id)
        self.core.conversation.set_read(p.conversationID, conv.maxSeq)
        await self.core.conversation.flush(operation_id)

    @sdk_function("message", "RevokeMessage", ConvMsgParams, None)
    async def revoke_message(self, p: ConvMsgParams, operation_id: str) -> None:
        """Revoke a sent message; both sides get OnNewRecvMessageRevoked."""
        seq = await self._seq_of(p.conversationID, p.clientMsgID, operation_id)
        body = {"conversationID": p.conversationID, "seq": seq, "userID": self.me}
        await self.core.api.post("/msg/revoke_msg", body, operation_id)

    @sdk_function("message", "DeleteMessage", ConvMsgParams, None)
    async def delete_message(self, p: ConvMsgParams, operation_id: str) -> None:
        """Delete a message for the login user, on the server and here."""
        seq = await self._seq_of(p.conversationID, p.clientMsgID, operation_id)
        body = {"conversationID": p.conversationID, "seqs": [seq], "userID": self.me}
        await self.core.api.post("/msg/delete_msgs", body, operation_id)
        deleted = self._deleted_message(p.conversationID, p.clientMsgID, seq)
        self._forget(p.conversationID, p.clientMsgID, seq)
        await self.core.emit(ADVANCED, "OnMsgDeleted", deleted, operation_id)

    @sdk_function("message", "DeleteMessageFromLocalStorage", ConvMsgParams, None)
    async def delete_message_from_local_storage(self, p: ConvMsgParams, operation_id: str) -> None:
        """Hide a message in this session only (the server keeps it)."""
        seq = await self._seq_of(p.conversationID, p.clientMsgID, operation_id)
        deleted = self._deleted_message(p.conversationID, p.clientMsgID, seq)
        self._forget(p.conversationID, p.clientMsgID, seq)
        await self.core.emit(ADVANCED, "OnMsgDeleted", deleted, operation_id)

    def _forget(self, conv_id: str, client_msg_id: str, seq: int) -> None:
        self._bounded_add(self._deleted, client_msg_id, 10_000)
        self._cache.get(conv_id, OrderedDict()).pop(seq, None)
        self.core.checkpoint_dirty()

    def _clear_local(self, conv_ids: list[str]) -> None:
        for cid in conv_ids:
            self._cache.pop(cid, None)
            conv = self.core.conversation.convs.get(cid)
            if conv is not None:
                conv.minSeq = conv.maxSeq + 1
                conv.latestMsg, conv.unreadCount = "", 0
                self.core.conversation.set_read(cid, conv.maxSeq)
                self.core.conversation.touch(cid)

    @sdk_function("message", "DeleteAllMsgFromLocal", NoParams, None)
    async def delete_all_msg_from_local(self, p: NoParams, operation_id: str) -> None:
        """Forget every message in this session (the server keeps them)."""
        self._clear_local(list(self.core.conversation.convs))
        await self.core.conversation.flush(operation_id)

    @sdk_function("message", "DeleteAllMsgFromLocalAndSvr", NoParams, None)
    async def delete_all_msg_from_local_and_svr(self, p: NoParams, operation_id: str) -> None:
        """Clear every conversation's messages for the login user, on the server too."""
        await self.core.api.post("/msg/user_clear_all_msg", {"userID": self.me}, operation_id)
        self._clear_local(list(self.core.conversation.convs))
        await self.core.conversation.flush(operation_id)

    @sdk_function("conversation", "ClearConversationAndDeleteAllMsg", ConversationIDParams, None)
    async def clear_conversation_and_delete_all_msg(self, p: ConversationIDParams, operation_id: str) -> None:
        """Clear a conversation's messages for the login user (server and here)."""
        await self.core.api.post(
            "/msg/clear_conversation_msg", {"conversationIDs": [p.conversationID], "userID": self.me}, operation_id
        )
        self._clear_local([p.conversationID])
        await self.core.conversation.flush(operation_id)

    @sdk_function("conversation", "DeleteConversationAndDeleteAllMsg", ConversationIDParams, None)
    async def delete_conversation_and_delete_all_msg(self, p: ConversationIDParams, operation_id: str) -> None:
        """Clear a conversation's messages and take it off the list until a new message."""
        await self.clear_conversation_and_delete_all_msg(p, operation_id)
        self.core.conversation.hidden.add(p.conversationID)

    def _typing_conv(self, msg: MsgStruct) -> str:
        """The conversation a typing message belongs to (entering.go onNewMsg)."""
        if msg.groupID:
            return f"sg_{msg.groupID}"
        x, y = sorted((self.me, msg.sendID))
        return f"si_{x}_{y}"

    def _deleted_message(self, conv_id: str, client_msg_id: str, seq: int) -> dict[str, Any]:
        """OnMsgDeleted's payload: the message as it was (delete.go), or what identifies it."""
        cached = self._cache.get(conv_id, OrderedDict()).get(seq)
        return cached.out() if cached is not None else {"clientMsgID": client_msg_id, "seq": seq}
