"""Conversation lists with last messages for the browser SDK (open-im-server internal/api/jssdk/jssdk.go).

The owner is always the token's user (jssdk.go overwrites ownerUserID with the
operator). Only conversations whose newest message is visible are listed;
unreadCount sums maxSeq - readSeq over the considered conversations.
Single chats carry the peer (`user`, `friend`), group chats the group (`group`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.protocol import openim_pb2 as pb
from imserver.services import sync
from imserver.services.common import load_users
from imserver.services.conversations import ConversationService
from imserver.services.convert import user_info
from imserver.services.friendship import friend_rows
from imserver.services.group_store import group_infos
from imserver.services.sdkws import Conversation, FriendInfoOnly, UserInfo
from imserver.services.sdkws_group import GroupInfo

__all__ = ["ConversationMsg", "JsSdkService"]

# jssdk.go maxGetActiveConversation / defaultGetActiveConversation
_MAX_ACTIVE = 500
_DEFAULT_ACTIVE = 100


@dataclass(frozen=True, slots=True)
class ConversationMsg:
    conversation: Conversation
    last_msg: pb.MsgData
    user: UserInfo | None
    friend: FriendInfoOnly | None
    group: GroupInfo | None
    max_seq: int
    read_seq: int


class JsSdkService:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], conversations: ConversationService) -> None:
        self._sessionmaker = sessionmaker
        self._conversations = conversations

    async def conversations(self, owner: str, conversation_ids: Sequence[str]) -> tuple[int, list[ConversationMsg]]:
        return await self._build(owner, await self._conversations.find(owner, conversation_ids), None)

    async def active(self, owner: str, count: int) -> tuple[int, list[ConversationMsg]]:
        if count <= 0 or count > _MAX_ACTIVE:
            count = _DEFAULT_ACTIVE
        return await self._build(owner, await self._conversations.all(owner), count)

    async def _build(
        self, owner: str, conversations: list[Conversation], top: int | None
    ) -> tuple[int, list[ConversationMsg]]:
        if not conversations:
            return 0, []
        ids = [c.conversationID for c in conversations]
        async with self._sessionmaker() as session:
            seqs = await sync.get_conversations_has_read_and_max_seq(
                session, owner, pb.GetConversationsHasReadAndMaxSeqReq(userID=owner, conversationIDs=ids)
            )
            last = await sync.get_last_message(session, owner, pb.GetLastMessageReq(userID=owner, conversationIDs=ids))
            peers = [c.userID for c in conversations if not c.groupID]
            users = await load_users(session, peers)
            friends = {f.friend_user_id: f for f in await friend_rows(session, owner, peers)}
            groups = {g.groupID: g for g in await group_infos(session, [c.groupID for c in conversations if c.groupID])}
        unread = sum(max(s.maxSeq - s.hasReadSeq, 0) for s in seqs.seqs.values())
        listed = [c for c in conversations if c.conversationID in last.msgs]
        # jssdk sort.go: pinned first, then by the newest message's send time.
        listed.sort(key=lambda c: (not c.isPinned, -last.msgs[c.conversationID].sendTime))
        if top is not None:
            listed = listed[:top]
        result = []
        for c in listed:
            friend = friends.get(c.userID)
            entry = seqs.seqs.get(c.conversationID)
            result.append(
                ConversationMsg(
                    conversation=c,
                    last_msg=last.msgs[c.conversationID],
                    user=user_info(users[c.userID]) if c.userID in users else None,
                    friend=FriendInfoOnly(
                        ownerUserID=friend.owner_user_id,
                        friendUserID=friend.friend_user_id,
                        remark=friend.remark,
                        createTime=friend.create_time,
                        addSource=friend.add_source,
                        operatorUserID=friend.operator_user_id,
                        ex=friend.ex,
                        isPinned=friend.is_pinned,
                    )
                    if friend is not None
                    else None,
                    group=groups.get(c.groupID) if c.groupID else None,
                    max_seq=entry.maxSeq if entry else 0,
                    read_seq=entry.hasReadSeq if entry else 0,
                )
            )
        return unread, result
