"""Conversations and OnConversationListener (openim-v3.md 5.6, 5.9 step 7, 5.10).

The conversation list is kept per core: server settings (pin, recv option,
private chat, ...) from `/conversation/get_conversations`, and the message side
(maxSeq, hasReadSeq -> unreadCount, latestMsg) fed by the message module.
Changes are collected and emitted once per batch: OnNewConversation,
OnConversationChanged, OnTotalUnreadMessageCountChanged.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any

from pydantic import Field

from core.errors import SdkError
from core.events import CONVERSATION
from core.models import LocalConversation
from core.modules.base import Module, NoParams, Params
from core.modules.conversation_sync import apply_settings, fetch_all, fetch_delta, new_conversation
from core.modules.version_sync import Version
from core.msgstruct import MsgStruct
from core.protocol.constants import PARAM_MAX_LENGTH, ContentType, SessionType, single_conversation_id
from core.protocol.errcodes import ErrCode
from core.protocol.openim_pb2 import MsgData
from core.registry import sdk_function
from core.untrusted import str_list

if TYPE_CHECKING:
    from core.core import Core

__all__ = ["ConversationModule", "conversation_id_for"]

ConvID = Field(min_length=1, max_length=256)
# Most IDs read from one message or notification (what a conversation-list call takes).


def conversation_id_for(session_type: int, me: str, source_id: str) -> str:
    """openim-v3.md 4.5: si_<sorted>, sg_<groupID>, sn_<sorted>."""
    if session_type == SessionType.SINGLE:
        return single_conversation_id(me, source_id)
    if session_type == SessionType.READ_GROUP:
        return f"sg_{source_id}"
    if session_type == SessionType.NOTIFICATION:
        x, y = sorted((me, source_id))
        return f"sn_{x}_{y}"
    raise SdkError(ErrCode.SdkArgsError, detail=f"unsupported sessionType {session_type}")


def _at_type(current: int, at_users: list[str], me: str) -> int:
    """groupAtType after an @-message: 1 AtMe, 2 AtAll, 3 AtAllAtMe (openim-v3.md 4.3, 7.1 step 5)."""
    at_me = me in at_users or current in (1, 3)
    at_all = "AtAllTag" in at_users or current in (2, 3)
    return 3 if at_me and at_all else 1 if at_me else 2 if at_all else current


class ConversationIDParams(Params):
    conversationID: str = ConvID


class ConversationIDListParams(Params):
    conversationIDList: list[str] = Field(min_length=1, max_length=PARAM_MAX_LENGTH)


class SplitParams(Params):
    offset: int = Field(default=0, ge=0)
    count: int = Field(default=20, ge=1, le=1000)


class OneConversationParams(Params):
    sessionType: int = Field(ge=1, le=4)
    sourceID: str = Field(min_length=1, max_length=64)


class IDBySessionTypeParams(Params):
    sourceID: str = Field(min_length=1, max_length=64)
    sessionType: int = Field(ge=1, le=4)


class DraftParams(ConversationIDParams):
    draftText: str = Field(max_length=10_000)


class PinParams(ConversationIDParams):
    isPinned: bool


class RecvOptParams(ConversationIDParams):
    opt: int = Field(ge=0, le=2, description="0 receive, 1 do not receive, 2 receive without notifying")


class PrivateChatParams(ConversationIDParams):
    isPrivate: bool


class BurnDurationParams(ConversationIDParams):
    burnDuration: int = Field(ge=0, le=365 * 24 * 3600)


class ConversationModule(Module):
    def __init__(self, core: Core) -> None:
        super().__init__(core)
        self.convs: dict[str, LocalConversation] = {}
        self.has_read: dict[str, int] = {}
        self.hidden: set[str] = set()
        self._new: set[str] = set()
        self._changed: set[str] = set()
        self._last_total = -1
        self.version = Version()
        self._sync_lock = asyncio.Lock()
        # Conversations being made by ensure (their names fetched), made at first use: at rest none.
        self._ensuring: dict[str, asyncio.Event] | None = None

    # -- checkpoint ------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {
            "convs": [c.model_dump() for c in self.convs.values()],
            "hasRead": self.has_read,
            "hidden": sorted(self.hidden),
            "version": self.version.dump(),
        }

    def restore(self, data: dict[str, Any]) -> None:
        self.convs = {c["conversationID"]: LocalConversation.model_validate(c) for c in data.get("convs") or []}
        self.has_read = {k: int(v) for k, v in (data.get("hasRead") or {}).items()}
        self.hidden = set(data.get("hidden") or [])
        # Absent from checkpoints written before version sync: the next sync asks for the full list.
        self.version = Version.load(data.get("version"))
        self._last_total = self.total_unread()

    # -- state used by the message module -----------------------------------

    def total_unread(self) -> int:
        return sum(c.unreadCount for c in self.convs.values() if c.recvMsgOpt == 0)

    def _recount(self, conv: LocalConversation) -> None:
        conv.unreadCount = max(0, conv.maxSeq - self.has_read.get(conv.conversationID, 0))

    async def ensure(self, conv_id: str, session_type: int, peer: str, group_id: str) -> LocalConversation:
        """The conversation, made (its name fetched) if new: once, however many ask at the same
        time. Concurrent sends into a new conversation each fetched the peer's name and each
        stored a conversation of its own, the last replacing the others, so what the others
        applied to theirs was lost (issue 14's py-spy at 250 msg/s: 16% of the bridge's CPU)."""
        while (conv := self.convs.get(conv_id)) is None:
            making = (self._ensuring or {}).get(conv_id)
            if making is None:
                return await self._make(conv_id, session_type, peer, group_id)
            await making.wait()  # then look again: the maker may have failed
        return conv

    async def _make(self, conv_id: str, session_type: int, peer: str, group_id: str) -> LocalConversation:
        if self._ensuring is None:
            self._ensuring = {}
        done = self._ensuring[conv_id] = asyncio.Event()
        try:
            conv = LocalConversation(
                conversationID=conv_id, conversationType=session_type, userID=peer, groupID=group_id
            )
            await self._fill_names([conv])
            stored = self.convs.get(conv_id)
            if stored is not None:
                return stored  # a sync stored it meanwhile: the server's copy
            self.convs[conv_id] = conv
            self._new.add(conv_id)
            return conv
        finally:
            del self._ensuring[conv_id]
            if not self._ensuring:
                self._ensuring = None
            done.set()

    async def _fill_names(self, convs: list[LocalConversation]) -> None:
        for c in convs:
            group = self.core.group.groups.get(c.groupID) if c.groupID else None
            if group is not None:
                c.showName, c.faceURL = group.groupName, group.faceURL
        users = [c.userID for c in convs if c.userID and not c.showName]
        if not users:
            return
        from core.modules.user import GetUsersInfoParams

        infos = await self.core.user.get_users_info(GetUsersInfoParams(userIDs=users), "conversation-names")
        by_id = {u.userID: u for u in infos}
        for c in convs:
            if c.userID in by_id:
                c.showName = by_id[c.userID].nickname or c.userID
                c.faceURL = by_id[c.userID].faceURL

    def message_arrived(
        self,
        conv: LocalConversation,
        msg: MsgStruct,
        from_me: bool,
        counts_unread: bool,
        out: dict[str, Any] | None = None,
    ) -> None:
        """`out`: `msg.out()` when the caller has it already (a received message's event data)."""
        if msg.seq > conv.maxSeq:
            conv.maxSeq = msg.seq
        if from_me and msg.seq:
            self.has_read[conv.conversationID] = max(self.has_read.get(conv.conversationID, 0), msg.seq)
        if msg.sendTime >= conv.latestMsgSendTime:
            conv.latestMsg = json.dumps(msg.out() if out is None else out, separators=(",", ":"))
            conv.latestMsgSendTime = msg.sendTime
        if not counts_unread and msg.seq:
            self.has_read[conv.conversationID] = max(self.has_read.get(conv.conversationID, 0), msg.seq)
        self._recount(conv)
        if msg.contentType == ContentType.AT_TEXT and not from_me and msg.atTextElem:
            at_users = str_list(msg.atTextElem, "atUserList", PARAM_MAX_LENGTH)  # the sender wrote it: any JSON type
            conv.groupAtType = _at_type(conv.groupAtType, at_users, self.me)
        self.hidden.discard(conv.conversationID)
        if conv.conversationID not in self._new:
            self._changed.add(conv.conversationID)

    def set_read(self, conv_id: str, has_read_seq: int) -> None:
        conv = self.convs.get(conv_id)
        self.has_read[conv_id] = max(self.has_read.get(conv_id, 0), has_read_seq)
        if conv is not None:
            self._recount(conv)
            self._changed.add(conv_id)

    def touch(self, conv_id: str) -> None:
        if conv_id in self.convs and conv_id not in self._new:
            self._changed.add(conv_id)

    async def flush(self, operation_id: str | None) -> None:
        """Emit the conversation events collected since the last flush."""
        new = [self.convs[c].model_dump() for c in sorted(self._new) if c in self.convs]
        changed = [self.convs[c].model_dump() for c in sorted(self._changed - self._new) if c in self.convs]
        self._new.clear()
        self._changed.clear()
        if new:
            await self.core.emit(CONVERSATION, "OnNewConversation", new, operation_id)
        if changed:
            await self.core.emit(CONVERSATION, "OnConversationChanged", changed, operation_id)
        total = self.total_unread()
        if total != self._last_total:
            self._last_total = total
            await self.core.emit(CONVERSATION, "OnTotalUnreadMessageCountChanged", total, operation_id)
        if new or changed:
            self.core.checkpoint_dirty()

    # -- sync ------------------------------------------------------------

    async def apply_server_seqs(self, seqs: dict[str, tuple[int, int]], operation_id: str) -> None:
        """Server maxSeq/hasReadSeq per conversation (WS 1006), fetching unknown conversations."""
        unknown = [c for c in seqs if c not in self.convs]
        if unknown:
            await self.refresh(unknown, operation_id, quiet=True)
        for conv_id, (max_seq, has_read) in seqs.items():
            conv = self.convs.get(conv_id)
            if conv is None:
                continue
            self.has_read[conv_id] = max(self.has_read.get(conv_id, 0), has_read)
            before = conv.unreadCount
            conv.maxSeq = max(conv.maxSeq, max_seq)
            self._recount(conv)
            if conv.unreadCount != before:
                self.touch(conv_id)

    async def sync(self, operation_id: str) -> None:
        """Login, reconnect, revival: IncrSyncConversations. Emitted by the message sync's flush, which follows."""
        await self.sync_versions(operation_id)

    async def sync_versions(self, operation_id: str) -> None:
        """The conversation list by version (core/modules/conversation_sync.py); changes are touched, not flushed."""
        async with self._sync_lock:
            delta = await fetch_delta(self.core.api, self.me, self.version, operation_id)
            if delta.full:
                quiet = not self.convs
                raws = await fetch_all(self.core.api, self.me, operation_id)
            else:
                quiet, raws = False, delta.upsert
            await self._take_server(raws, quiet)
            self.version = delta.version
            self.core.checkpoint_dirty()

    async def _take_server(self, raws: list[dict[str, Any]], quiet: bool) -> None:
        fresh = []
        for raw in raws:
            made = new_conversation(raw)
            if made is None:
                continue
            conv = self.convs.get(made.conversationID)
            if conv is None:
                conv = self.convs[made.conversationID] = made
                apply_settings(conv, raw)
                fresh.append(conv)
                if not quiet:  # ConChange, never OnNewConversation (see conversation_sync.py)
                    self._changed.add(conv.conversationID)
            elif apply_settings(conv, raw) and not quiet:
                self.touch(conv.conversationID)
        await self._fill_names(fresh)

    async def refresh(self, conv_ids: list[str], operation_id: str, quiet: bool = False) -> None:
        """Re-read server-side settings of conversations (after set_conversations, or unknown ones)."""
        body = {"ownerUserID": self.me, "conversationIDs": conv_ids}
        data = await self.core.api.post("/conversation/get_conversations", body, operation_id) or {}
        fresh = []
        for raw in data.get("conversations") or []:
            made = new_conversation(raw) if isinstance(raw, dict) else None
            if made is None:
                continue
            cid = made.conversationID
            conv = self.convs.get(cid)
            if conv is None:
                conv = self.convs[cid] = made
                fresh.append(conv)
                if not quiet:
                    self._new.add(cid)
            if apply_settings(conv, raw) and not quiet:
                self.touch(cid)
        await self._fill_names(fresh)

    async def on_notification(self, msg: MsgData, operation_id: str) -> None:
        # 1300 and 1701: DoConversationChangedNotification / ...IsPrivateChangedNotification
        # ignore the tips and run IncrSyncConversations (conversation_msg/notification.go).
        if msg.contentType in (ContentType.CONVERSATION_CHANGE, ContentType.CONVERSATION_PRIVATE_CHAT):
            await self.sync_versions(operation_id)
            await self.flush(operation_id)

    # -- functions -------------------------------------------------------

    def _visible(self) -> list[LocalConversation]:
        convs = [c for c in self.convs.values() if c.conversationID not in self.hidden]
        return sorted(convs, key=lambda c: (not c.isPinned, -max(c.latestMsgSendTime, c.draftTextTime)))

    def _get(self, conv_id: str) -> LocalConversation:
        conv = self.convs.get(conv_id)
        if conv is None:
            raise SdkError(ErrCode.RecordNotFoundError, detail=f"conversation {conv_id} not found")
        return conv

    @sdk_function("conversation", "GetAllConversationList", NoParams, list[LocalConversation], read_only=True)
    async def get_all_conversation_list(self, p: NoParams, operation_id: str) -> list[LocalConversation]:
        """Every conversation, pinned first, then by latest message."""
        return self._visible()

    @sdk_function("conversation", "GetConversationListSplit", SplitParams, list[LocalConversation], read_only=True)
    async def get_conversation_list_split(self, p: SplitParams, operation_id: str) -> list[LocalConversation]:
        """One page of the conversation list."""
        return self._visible()[p.offset : p.offset + p.count]

    @sdk_function("conversation", "GetOneConversation", OneConversationParams, LocalConversation)
    async def get_one_conversation(self, p: OneConversationParams, operation_id: str) -> LocalConversation:
        """The conversation with a user or group, created locally if it does not exist yet."""
        conv_id = conversation_id_for(p.sessionType, self.me, p.sourceID)
        single = p.sessionType != SessionType.READ_GROUP
        conv = await self.ensure(conv_id, p.sessionType, p.sourceID if single else "", "" if single else p.sourceID)
        await self.flush(operation_id)
        return conv

    @sdk_function(
        "conversation", "GetMultipleConversation", ConversationIDListParams, list[LocalConversation], read_only=True
    )
    async def get_multiple_conversation(
        self, p: ConversationIDListParams, operation_id: str
    ) -> list[LocalConversation]:
        """The known conversations among the given IDs."""
        return [self.convs[c] for c in dict.fromkeys(p.conversationIDList) if c in self.convs]

    @sdk_function("conversation", "GetConversationIDBySessionType", IDBySessionTypeParams, str, read_only=True)
    async def get_conversation_id_by_session_type(self, p: IDBySessionTypeParams, operation_id: str) -> str:
        """The conversation ID OpenIM uses for a user or group."""
        return conversation_id_for(p.sessionType, self.me, p.sourceID)

    @sdk_function("conversation", "GetTotalUnreadMsgCount", NoParams, int, read_only=True)
    async def get_total_unread_msg_count(self, p: NoParams, operation_id: str) -> int:
        """Unread messages over all conversations that notify."""
        return self.total_unread()

    @sdk_function("conversation", "SetConversationDraft", DraftParams, None)
    async def set_conversation_draft(self, p: DraftParams, operation_id: str) -> None:
        """Keep a draft on the conversation (local to this session's core, as in the SDK)."""
        conv = self._get(p.conversationID)
        conv.draftText = p.draftText
        conv.draftTextTime = int(time.time() * 1000) if p.draftText else 0
        self.touch(conv.conversationID)
        await self.flush(operation_id)

    async def _set(self, conv_id: str, field: str, value: Any, operation_id: str) -> None:
        conv = self._get(conv_id)
        req = {
            "conversationID": conv_id,
            "conversationType": conv.conversationType,
            "userID": conv.userID,
            "groupID": conv.groupID,
            field: value,
        }
        await self.core.api.post(
            "/conversation/set_conversations", {"userIDs": [self.me], "conversation": req}, operation_id
        )
        await self.refresh([conv_id], operation_id)
        await self.flush(operation_id)

    @sdk_function("conversation", "PinConversation", PinParams, None)
    async def pin_conversation(self, p: PinParams, operation_id: str) -> None:
        """Pin or unpin a conversation (synced to the user's other devices)."""
        await self._set(p.conversationID, "isPinned", p.isPinned, operation_id)

    @sdk_function("conversation", "SetConversationRecvMessageOpt", RecvOptParams, None)
    async def set_conversation_recv_message_opt(self, p: RecvOptParams, operation_id: str) -> None:
        """Receive, refuse, or receive without notifying."""
        await self._set(p.conversationID, "recvMsgOpt", p.opt, operation_id)

    @sdk_function("conversation", "SetConversationPrivateChat", PrivateChatParams, None)
    async def set_conversation_private_chat(self, p: PrivateChatParams, operation_id: str) -> None:
        """Turn private (burn-after-reading) chat on or off."""
        await self._set(p.conversationID, "isPrivateChat", p.isPrivate, operation_id)

    @sdk_function("conversation", "SetConversationBurnDuration", BurnDurationParams, None)
    async def set_conversation_burn_duration(self, p: BurnDurationParams, operation_id: str) -> None:
        """Seconds after reading before a private-chat message burns."""
        await self._set(p.conversationID, "burnDuration", p.burnDuration, operation_id)

    @sdk_function("conversation", "HideConversation", ConversationIDParams, None)
    async def hide_conversation(self, p: ConversationIDParams, operation_id: str) -> None:
        """Leave a conversation out of the list until its next message."""
        self._get(p.conversationID)
        self.hidden.add(p.conversationID)
        self.core.checkpoint_dirty()

    @sdk_function("conversation", "ResetConversationGroupAtType", ConversationIDParams, None)
    async def reset_conversation_group_at_type(self, p: ConversationIDParams, operation_id: str) -> None:
        """Clear the @-mention mark of a group conversation (here and on the user's other devices)."""
        self._get(p.conversationID).groupAtType = 0
        await self._set(p.conversationID, "groupAtType", 0, operation_id)

    @sdk_function("conversation", "HideAllConversation", NoParams, None)
    async def hide_all_conversation(self, p: NoParams, operation_id: str) -> None:
        """Hide every conversation until its next message."""
        self.hidden.update(self.convs)
        self.core.checkpoint_dirty()
