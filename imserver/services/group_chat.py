"""What sending into a group needs from the groups: who may send, who receives, who was mentioned.

Implements the gateway's `GroupChat` port (imserver/services/sending.py) over
the group tables. Port of open-im-server internal/rpc/msg/verify.go
(messageVerification, ReadGroupChatType) and send.go (setConversationAtInfo);
openim-v3.md 7.1 steps 2 and 5:

* verification: unknown group 1201, dismissed 1204 (except 1511 itself); then,
  unless an app admin sends or the content type is a notification (1000..5000):
  not a member 1203, a member muted until now or later 1402 (the owner never
  is), a muted group (status 3) for an ordinary member 1403;
* the message reaches every current member (the sender through senderSync);
* an @ message (106) marks the mentioned members' group conversation:
  1 AtMe, or with "AtAllTag" 2 AtAll for everyone but the sender and
  3 AtAllAtMe for those also named, through SetConversations (which sends
  each changed owner a 1300).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.protocol import openim_pb2 as pb
from core.protocol.constants import AT_ALL_TAG, ContentType, GroupAtType, GroupStatus, RoleLevel
from core.protocol.constants import GroupContentType as G
from core.protocol.errcodes import ErrCode
from imserver.errors import ImError
from imserver.services import group_store as store
from imserver.services.common import Operator
from imserver.services.conversations import ConversationChanges, ConversationService
from imserver.settings import ImServerSettings

__all__ = ["GroupChatService"]


def _is_notification_type(content_type: int) -> bool:
    return ContentType.NOTIFICATION_BEGIN <= content_type <= ContentType.NOTIFICATION_END


Notices = Callable[[], Awaitable[None]]


async def _nothing() -> None:
    return None


class GroupChatService:
    def __init__(
        self,
        settings: ImServerSettings,
        sessionmaker: async_sessionmaker[AsyncSession],
        conversations: ConversationService,
    ) -> None:
        self._settings = settings
        self._sessionmaker = sessionmaker
        self._conversations = conversations

    async def recipients(self, msg: pb.MsgData) -> list[str]:
        """Verify the sender (messageVerification) and answer the group's current members."""
        async with self._sessionmaker() as session:
            group = await store.take_group(session, msg.groupID)
            if group.status == GroupStatus.DISMISSED and msg.contentType != G.GROUP_DISMISSED:
                raise ImError(ErrCode.DismissedAlreadyError, "group dismissed")
            members = await store.member_ids(session, msg.groupID)
            if msg.sendID in self._settings.admin_user_ids or _is_notification_type(msg.contentType):
                return members
            sender = await store.take_member(session, msg.groupID, msg.sendID)
        if sender is None:
            raise ImError(ErrCode.NotInGroupYetError, f"user {msg.sendID} is not in group {msg.groupID}")
        if sender.role_level != RoleLevel.OWNER:
            if sender.mute_end_time >= self._settings.now_ms():
                raise ImError(ErrCode.MutedInGroup)
            if group.status == GroupStatus.MUTED and sender.role_level != RoleLevel.ADMIN:
                raise ImError(ErrCode.MutedGroup)
        return members

    async def mark_mentions(self, msg: pb.MsgData, operation_id: str) -> Notices:
        """setConversationAtInfo for an @ message: the groupAtType stored now, the members'
        1300 notifications when the returned coroutine function runs (after the push)."""
        if msg.contentType != ContentType.AT_TEXT or not msg.atUserIDList:
            return _nothing
        async with self._sessionmaker() as session:
            members = await store.member_ids(session, msg.groupID)
        at = list(dict.fromkeys(msg.atUserIDList))
        named = [u for u in at if u != AT_ALL_TAG and u in members]
        op = Operator(user_id=msg.sendID, platform_id=0, operation_id=operation_id, is_admin=True)
        if AT_ALL_TAG not in at:
            marks = [(named, GroupAtType.AT_ME)]
        else:
            others = [u for u in members if u != msg.sendID and u not in named]
            marks = [(named, GroupAtType.AT_ALL_AT_ME), (others, GroupAtType.AT_ALL)]
        notices = [await self._mark(op, msg.groupID, users, at_type) for users, at_type in marks if users]

        async def notify() -> None:
            for n in notices:
                await n()

        return notify

    async def member_ids(self, group_id: str) -> list[str]:
        async with self._sessionmaker() as session:
            return await store.member_ids(session, group_id)

    async def member_roles(self, group_id: str, user_ids: Sequence[str]) -> dict[str, int]:
        async with self._sessionmaker() as session:
            return {m.user_id: m.role_level for m in await store.members(session, group_id, user_ids)}

    async def _mark(self, op: Operator, group_id: str, user_ids: Sequence[str], at_type: int) -> Notices:
        changes = ConversationChanges(group_at_type=at_type)
        return await self._conversations.set_quietly(op, user_ids, f"sg_{group_id}", changes, None, "")
