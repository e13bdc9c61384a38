"""Message operations of the HTTP API, over imserver/msgstore.py.

Port of open-im-server internal/rpc/msg/{as_read.go, revoke.go, delete.go}
(openim-v3.md 7.2). Notifications: 2200 HasReadReceipt (to the peer for
single chats, else to oneself), 2101 revoke (sender -> original recvID, the
original's session type), 2102 delete and 1703 clear only with sync flags.
Notifications into a group chat (revoke, and clear/delete synced to others)
reach the group's current members. Revoking in a group: one's own message,
or as owner anyone's, or as admin an ordinary member's (revoke.go).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.protocol import openim_pb2 as pb
from core.protocol.constants import ContentType, MsgStatus, RoleLevel, SessionType
from core.protocol.errcodes import ErrCode
from imserver import msgstore
from imserver.errors import ImError
from imserver.models import UserRow
from imserver.notify import Notifier, Pusher
from imserver.services import sending, sync
from imserver.services.common import Operator
from imserver.services.conversations import ConversationService, describe
from imserver.services.sdkws import ClearConversationTips, DeleteMsgsTips, MarkAsReadTips, RevokeMsgTips
from imserver.settings import ImServerSettings

__all__ = ["MessageService"]


class MessageService:
    def __init__(
        self,
        settings: ImServerSettings,
        sessionmaker: async_sessionmaker[AsyncSession],
        notifier: Notifier,
        conversations: ConversationService,
        pusher: Pusher,
        is_blocked: sending.IsBlocked,
        group_chat: sending.GroupChat = sending.NO_GROUP_CHAT,
    ) -> None:
        self._settings = settings
        self._sessionmaker = sessionmaker
        self._notifier = notifier
        self._conversations = conversations
        self._pusher = pusher
        self._is_blocked = is_blocked
        self._group_chat = group_chat

    async def send(self, op: Operator, msg: pb.MsgData) -> pb.SendMsgResp:
        """/msg/send_msg: the message takes the gateway's 1003 path (verify, store, push)."""
        outcome = await sending.send_message(
            msg,
            sender=op.user_id,
            settings=self._settings,
            sessionmaker=self._sessionmaker,
            is_blocked=self._is_blocked,
            group_chat=self._group_chat,
        )
        await outcome.push(self._pusher, op.operation_id)
        return outcome.resp

    async def has_read_and_max_seq(
        self, user_id: str, conversation_ids: Sequence[str], return_pinned: bool
    ) -> pb.GetConversationsHasReadAndMaxSeqResp:
        async with self._sessionmaker() as session:
            resp = await sync.get_conversations_has_read_and_max_seq(
                session,
                user_id,
                pb.GetConversationsHasReadAndMaxSeqReq(userID=user_id, conversationIDs=conversation_ids),
            )
        if return_pinned:
            resp.pinnedConversationIDs.extend(await self._conversations.ids_where(user_id, pinned=True))
        return resp

    async def newest_seq(self, user_id: str) -> pb.GetMaxSeqResp:
        async with self._sessionmaker() as session:
            return await sync.get_newest_seq(session, user_id)

    async def revoke(self, op: Operator, user_id: str, conversation_id: str, seq: int) -> None:
        now = self._settings.now_ms()
        async with self._sessionmaker() as session:
            user = await session.get(UserRow, user_id)
            if user is None:
                raise ImError(ErrCode.UserIDNotFoundError, f"user {user_id} not found")
            [msg] = await msgstore.load_messages(session, user_id, conversation_id, [seq])
        if not msg.clientMsgID and msg.status == MsgStatus.HAS_DELETED:
            raise ImError(ErrCode.RecordNotFoundError, "msg not found")
        if msg.contentType == ContentType.MSG_REVOKE:
            raise ImError(ErrCode.MsgAlreadyRevoke, "msg already revoke")
        role = 0
        if not op.is_admin:
            if msg.sessionType == SessionType.READ_GROUP:
                role = await self._group_revoker_role(msg, user_id)
            elif msg.sessionType == SessionType.SINGLE:
                if op.user_id != msg.sendID:
                    raise ImError(ErrCode.NoPermissionError, f"ownerUserID {msg.sendID}")
                role = user.app_manger_level
            else:
                raise ImError(ErrCode.ServerInternalError, f"msg sessionType {msg.sessionType} not supported")
        async with self._sessionmaker.begin() as session:
            await msgstore.mark_revoked(
                session,
                conversation_id,
                seq,
                revoker_id=user_id,
                revoker_role=role,
                revoker_nickname=user.nickname,
                revoke_time=now,
            )
        tips = RevokeMsgTips(
            revokerUserID=op.user_id,
            clientMsgID=msg.clientMsgID,
            revokeTime=now,
            sesstionType=msg.sessionType,
            seq=seq,
            conversationID=conversation_id,
            isAdminRevoke=op.is_admin,
        )
        recv = msg.groupID if msg.sessionType == SessionType.READ_GROUP else msg.recvID
        await self._notifier.send(
            op.operation_id,
            user_id,
            recv,
            ContentType.MSG_REVOKE,
            tips,
            msg.sessionType,
            members=await self._members(msg.sessionType, recv),
        )

    async def mark_msgs_as_read(self, op: Operator, user_id: str, conversation_id: str, seqs: Sequence[int]) -> None:
        if not seqs:
            raise ImError(ErrCode.ArgsError, "seqs must not be empty")
        has_read = seqs[-1]
        async with self._sessionmaker.begin() as session:
            await self._check_max(session, conversation_id, has_read)
            kind, peer = await self._conversation(session, user_id, conversation_id)
            await self._mark_read(session, conversation_id, seqs)
            await msgstore.set_has_read_seq(session, user_id, conversation_id, has_read)
        await self._read_receipt(op, user_id, peer, kind, conversation_id, list(seqs), has_read)

    async def mark_conversation_as_read(
        self, op: Operator, user_id: str, conversation_id: str, has_read_seq: int, seqs: Sequence[int]
    ) -> None:
        async with self._sessionmaker.begin() as session:
            kind, peer = await self._conversation(session, user_id, conversation_id)
            current = await self._has_read(session, user_id, conversation_id)
            marked: list[int] = []
            if kind == SessionType.SINGLE:
                marked = list(range(current + 1, has_read_seq + 1))
                marked += [s for s in seqs if s not in marked]
                await self._mark_read(session, conversation_id, marked)
            if has_read_seq > current:
                await msgstore.set_has_read_seq(session, user_id, conversation_id, has_read_seq)
                current = has_read_seq
        if kind == SessionType.SINGLE:
            await self._read_receipt(op, user_id, peer, kind, conversation_id, marked, current)
        else:
            await self._read_receipt(op, user_id, user_id, SessionType.SINGLE, conversation_id, [], current)

    async def set_has_read_seq(self, op: Operator, user_id: str, conversation_id: str, has_read_seq: int) -> None:
        async with self._sessionmaker.begin() as session:
            await self._check_max(session, conversation_id, has_read_seq)
            await msgstore.set_has_read_seq(session, user_id, conversation_id, has_read_seq)
        await self._read_receipt(op, user_id, user_id, SessionType.SINGLE, conversation_id, [], has_read_seq)

    async def clear(
        self, op: Operator, user_id: str, conversation_ids: Sequence[str] | None, *, sync_self: bool, sync_other: bool
    ) -> None:
        """clear_conversation_msg / user_clear_all_msg (None = every conversation of the user)."""
        owned = {c.conversationID: c for c in await self._conversations.all(user_id)}
        existing = [c for c in (owned if conversation_ids is None else conversation_ids) if c in owned]
        async with self._sessionmaker.begin() as session:
            max_seqs = await msgstore.max_seqs(session, existing)
            for conversation_id, max_seq in max_seqs.items():
                if sync_other:
                    await session.execute(
                        update(msgstore.ConversationSeq)
                        .where(msgstore.ConversationSeq.conversation_id == conversation_id)
                        .values(min_seq=max_seq + 1)
                    )
                else:
                    await msgstore.set_user_min_seq(session, user_id, conversation_id, max_seq + 1)
                    await self._conversations.set_min_seq(session, user_id, conversation_id, max_seq + 1)
                await msgstore.set_has_read_seq(session, user_id, conversation_id, max_seq)
        if sync_other:
            for conversation_id in existing:
                conversation = owned[conversation_id]
                tips = ClearConversationTips(userID=user_id, conversationIDs=[conversation_id])
                recv = conversation.groupID or conversation.userID
                kind = conversation.conversationType
                members = await self._members(kind, recv)
                await self._notifier.send(
                    op.operation_id, user_id, recv, ContentType.CLEAR_CONVERSATION, tips, kind, members=members
                )
        elif sync_self:
            tips = ClearConversationTips(userID=user_id, conversationIDs=existing or None)
            await self._notifier.send(op.operation_id, user_id, user_id, ContentType.CLEAR_CONVERSATION, tips)

    async def delete_msgs(
        self,
        op: Operator,
        user_id: str,
        conversation_id: str,
        seqs: Sequence[int],
        *,
        sync_self: bool,
        sync_other: bool,
    ) -> None:
        tips = DeleteMsgsTips(userID=user_id, conversationID=conversation_id, seqs=list(seqs))
        if sync_other:
            async with self._sessionmaker.begin() as session:
                kind, peer = await self._conversation(session, user_id, conversation_id)
                await session.execute(
                    delete(msgstore.StoredMsg).where(
                        msgstore.StoredMsg.conversation_id == conversation_id, msgstore.StoredMsg.seq.in_(list(seqs))
                    )
                )
            members = await self._members(kind, peer)
            await self._notifier.send(
                op.operation_id, user_id, peer, ContentType.DELETE_MSGS, tips, kind, members=members
            )
            return
        async with self._sessionmaker.begin() as session:
            await msgstore.delete_for_user(session, user_id, conversation_id, seqs)
        if sync_self:
            await self._notifier.send(op.operation_id, user_id, user_id, ContentType.DELETE_MSGS, tips)

    async def _members(self, session_type: int, recv: str) -> list[str] | None:
        """Recipients of a notification into a group chat: its current members."""
        if session_type != SessionType.READ_GROUP:
            return None
        return await self._group_chat.member_ids(recv)

    async def _group_revoker_role(self, msg: pb.MsgData, user_id: str) -> int:
        """revoke.go ReadGroupChatType: own message, or owner any, or admin an ordinary member's."""
        roles = await self._group_chat.member_roles(msg.groupID, list(dict.fromkeys([user_id, msg.sendID])))
        if user_id != msg.sendID:
            mine = roles.get(user_id, 0)
            sender = roles.get(msg.sendID)
            if mine == RoleLevel.ADMIN:
                if sender is not None and sender != RoleLevel.ORDINARY:
                    raise ImError(ErrCode.NoPermissionError, "no permission")
            elif mine != RoleLevel.OWNER:
                raise ImError(ErrCode.NoPermissionError, "no permission")
        return roles.get(user_id, 0)

    async def _conversation(self, session: AsyncSession, user_id: str, conversation_id: str) -> tuple[int, str]:
        """(conversationType, peer or groupID) of one of the user's conversations, else 1004."""
        if conversation_id not in await msgstore.visible_conversation_ids(session, user_id):
            raise ImError(ErrCode.RecordNotFoundError, f"conversation {conversation_id} not found")
        kind, peer, group = describe(user_id, conversation_id)
        return kind, group or peer

    @staticmethod
    async def _has_read(session: AsyncSession, user_id: str, conversation_id: str) -> int:
        row = (await msgstore.user_rows(session, user_id, [conversation_id])).get(conversation_id)
        return row.has_read_seq if row is not None else 0

    @staticmethod
    async def _check_max(session: AsyncSession, conversation_id: str, seq: int) -> None:
        max_seq = (await msgstore.max_seqs(session, [conversation_id])).get(conversation_id, 0)
        if seq > max_seq:
            raise ImError(ErrCode.ArgsError, "hasReadSeq must not be bigger than maxSeq")

    @staticmethod
    async def _mark_read(session: AsyncSession, conversation_id: str, seqs: Sequence[int]) -> None:
        # controller/msg.go MarkSingleChatMsgsAsRead: the stored messages' isRead flag.
        if seqs:
            await session.execute(
                update(msgstore.StoredMsg)
                .where(msgstore.StoredMsg.conversation_id == conversation_id, msgstore.StoredMsg.seq.in_(list(seqs)))
                .values(is_read=True)
            )

    async def _read_receipt(
        self, op: Operator, user_id: str, recv: str, kind: int, conversation_id: str, seqs: list[int], has_read: int
    ) -> None:
        tips = MarkAsReadTips(
            markAsReadUserID=user_id, conversationID=conversation_id, seqs=seqs or None, hasReadSeq=has_read
        )
        await self._notifier.send(op.operation_id, user_id, recv, ContentType.HAS_READ_RECEIPT, tips, kind)
