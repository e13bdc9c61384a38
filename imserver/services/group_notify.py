"""Group notifications 1501..1520: tips built like OpenIM's group NotificationSender, then sent.

Port of open-im-server internal/rpc/group/notification.go (openim-v3.md 3.4,
4.2, 7.3). Each method reads the group as it is after the change (getGroupInfo:
member count and owner from the member table) and sends through
`imserver.notify.Notifier` with the call's operationID:

* group types go from the operator to the group (sessionType 3, recvID =
  groupID) and reach every current member; 1504 and 1508 also reach the users
  who just left (push_handler.go groupMessagesHandler);
* 1503, 1505 and 1506 go one by one (sessionType 1) to the owner, the admins
  and the applicant; being sender-synced, each copy also reaches the operator,
  which is why the tips carry a `uuid` the SDK de-duplicates on.

Tips carry the group member log's version after the change (setVersion /
setSortVersion) so an SDK that is one version behind applies them directly.
Deliberate differences from 3.8.3, which looks like oversights there:
`operationTime` is always set (3.8.3 fills it for 1501 and 1510 only),
GroupCreatedTips lists every member (3.8.3 stops at the operator), and
GroupOwnerTransferredTips names `oldGroupOwner`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.protocol.constants import AppManagerLevel, RoleLevel, SessionType
from core.protocol.constants import GroupContentType as G
from imserver.models import UserRow
from imserver.notify import Notifier
from imserver.services import group_store as store
from imserver.services.common import Operator, load_users
from imserver.services.convert import group_request, public_user
from imserver.services.sdkws import WireModel
from imserver.services.sdkws_group import (
    GroupApplicationAcceptedTips,
    GroupApplicationRejectedTips,
    GroupCancelMutedTips,
    GroupCreatedTips,
    GroupDismissedTips,
    GroupInfo,
    GroupInfoSetAnnouncementTips,
    GroupInfoSetNameTips,
    GroupInfoSetTips,
    GroupMemberCancelMutedTips,
    GroupMemberFullInfo,
    GroupMemberInfoSetTips,
    GroupMemberMutedTips,
    GroupMutedTips,
    GroupOwnerTransferredTips,
    GroupRequest,
    JoinGroupApplicationTips,
    MemberEnterTips,
    MemberInvitedTips,
    MemberKickedTips,
    MemberQuitTips,
)
from imserver.services.versions import VersionHead
from imserver.settings import ImServerSettings

__all__ = ["GroupNotifier"]

# notification.go applicantReceiver / adminReceiver (GroupApplication*Tips.receiverAs)
_APPLICANT_RECEIVER = 0
_ADMIN_RECEIVER = 1


class GroupNotifier:
    def __init__(
        self, settings: ImServerSettings, sessionmaker: async_sessionmaker[AsyncSession], notifier: Notifier
    ) -> None:
        self._settings = settings
        self._sessionmaker = sessionmaker
        self._notifier = notifier

    # --- group-wide (sessionType 3) -----------------------------------------------------

    async def created(self, op: Operator, group_id: str, head: VersionHead, send_message: bool | None) -> None:
        async with self._sessionmaker() as session:
            group = await self._group(session, group_id)
            members = await store.member_infos(session, await store.members(session, group_id))
            tips = GroupCreatedTips(
                group=group,
                opUser=await self._op_user(session, group_id, op.user_id),
                memberList=members,
                operationTime=group.createTime,
                groupOwnerUser=next((m for m in members if m.roleLevel == RoleLevel.OWNER), None),
                groupMemberVersion=head.version,
                groupMemberVersionID=head.version_id,
            )
        await self._to_group(op, group_id, G.GROUP_CREATED, tips, send_message=send_message)
        if group.notification:
            # CreateGroup announces an initial notice with sendMessage forced on.
            await self.info_set(op, group_id, head, announcement=True, announcement_send=True)

    async def info_set(
        self,
        op: Operator,
        group_id: str,
        head: VersionHead,
        *,
        announcement: bool = False,
        announcement_send: bool | None = None,
        name: bool = False,
        other: bool = False,
    ) -> None:
        """SetGroupInfo(Ex): 1519 for the notice, 1520 for the name, 1502 for anything else."""
        async with self._sessionmaker() as session:
            group = await self._group(session, group_id)
            op_user = await self._op_user(session, group_id, op.user_id)
        version = {"groupMemberVersion": head.version, "groupMemberVersionID": head.version_id}
        if announcement:
            tips: WireModel = GroupInfoSetAnnouncementTips(opUser=op_user, group=group, **version)
            await self._to_group(
                op, group_id, G.GROUP_INFO_SET_ANNOUNCEMENT, tips, send_message=announcement_send, with_name=True
            )
        if name:
            tips = GroupInfoSetNameTips(opUser=op_user, group=group, **version)
            await self._to_group(op, group_id, G.GROUP_INFO_SET_NAME, tips)
        if other:
            tips = GroupInfoSetTips(opUser=op_user, muteTime=0, group=group, **version)
            await self._to_group(op, group_id, G.GROUP_INFO_SET, tips, with_name=True)

    async def member_quit(self, op: Operator, quit_user: GroupMemberFullInfo, head: VersionHead) -> None:
        async with self._sessionmaker() as session:
            group = await self._group(session, quit_user.groupID)
        tips = MemberQuitTips(
            group=group,
            quitUser=quit_user,
            operationTime=self._settings.now_ms(),
            groupMemberVersion=head.version,
            groupMemberVersionID=head.version_id,
        )
        await self._to_group(op, group.groupID, G.MEMBER_QUIT, tips, removed=[quit_user.userID])

    async def member_kicked(
        self,
        op: Operator,
        group_id: str,
        kicked: Sequence[GroupMemberFullInfo],
        op_member: GroupMemberFullInfo | None,
        head: VersionHead,
        send_message: bool | None,
    ) -> None:
        async with self._sessionmaker() as session:
            group = await self._group(session, group_id)
            op_user = op_member or await self._op_user(session, group_id, op.user_id)
        tips = MemberKickedTips(
            group=group,
            opUser=op_user,
            kickedUserList=list(kicked),
            operationTime=self._settings.now_ms(),
            groupMemberVersion=head.version,
            groupMemberVersionID=head.version_id,
        )
        removed = [k.userID for k in kicked]
        await self._to_group(op, group_id, G.MEMBER_KICKED, tips, removed=removed, send_message=send_message)

    async def member_invited(
        self,
        op: Operator,
        group_id: str,
        user_ids: Sequence[str],
        inviter_id: str,
        head: VersionHead,
        send_message: bool | None = None,
    ) -> None:
        """MemberInvitedNotification (groupApplicationAgreeMemberEnterNotification)."""
        async with self._sessionmaker() as session:
            group = await self._group(session, group_id)
            invited = await store.member_infos(session, await store.members(session, group_id, user_ids))
            op_user = await self._op_user(session, group_id, op.user_id)
            inviter = op_user if inviter_id == op.user_id else await self._op_user(session, group_id, inviter_id)
        tips = MemberInvitedTips(
            group=group,
            opUser=op_user,
            invitedUserList=invited,
            operationTime=self._settings.now_ms(),
            groupMemberVersion=head.version,
            groupMemberVersionID=head.version_id,
            inviterUser=inviter,
        )
        await self._to_group(op, group_id, G.MEMBER_INVITED, tips, send_message=send_message)

    async def member_enter(self, op: Operator, group_id: str, user_id: str, head: VersionHead) -> None:
        async with self._sessionmaker() as session:
            group = await self._group(session, group_id)
            [entrant] = await store.member_infos(session, await store.members(session, group_id, [user_id]))
        tips = MemberEnterTips(
            group=group,
            entrantUser=entrant,
            operationTime=self._settings.now_ms(),
            groupMemberVersion=head.version,
            groupMemberVersionID=head.version_id,
        )
        await self._to_group(op, group_id, G.MEMBER_ENTER, tips)

    async def owner_transferred(
        self, op: Operator, group_id: str, old_owner: str, new_owner: str, head: VersionHead
    ) -> None:
        async with self._sessionmaker() as session:
            group = await self._group(session, group_id)
            by_id = await self._by_id(session, group_id, [op.user_id, old_owner, new_owner])
            op_user = by_id.get(op.user_id) or await self._op_user(session, group_id, op.user_id)
        tips = GroupOwnerTransferredTips(
            group=group,
            opUser=op_user,
            newGroupOwner=by_id.get(new_owner),
            oldGroupOwner=old_owner,
            operationTime=self._settings.now_ms(),
            oldGroupOwnerInfo=by_id.get(old_owner),
            groupMemberVersion=head.version,
            groupMemberVersionID=head.version_id,
        )
        await self._to_group(op, group_id, G.GROUP_OWNER_TRANSFERRED, tips)

    async def dismissed(
        self, op: Operator, group: GroupInfo, op_user: GroupMemberFullInfo, send_message: bool | None
    ) -> None:
        tips = GroupDismissedTips(group=group, opUser=op_user, operationTime=self._settings.now_ms())
        await self._to_group(op, group.groupID, G.GROUP_DISMISSED, tips, send_message=send_message)

    async def member_muted(
        self, op: Operator, group_id: str, user_id: str, seconds: int | None, head: VersionHead
    ) -> None:
        """1512 when `seconds` is given, else 1513."""
        async with self._sessionmaker() as session:
            group = await self._group(session, group_id)
            infos = await self._by_id(session, group_id, [op.user_id, user_id])
            op_user = infos.get(op.user_id) or await self._op_user(session, group_id, op.user_id)
        common = {
            "group": group,
            "opUser": op_user,
            "operationTime": self._settings.now_ms(),
            "mutedUser": infos.get(user_id),
            "groupMemberVersion": head.version,
            "groupMemberVersionID": head.version_id,
        }
        if seconds is not None:
            await self._to_group(
                op, group_id, G.GROUP_MEMBER_MUTED, GroupMemberMutedTips(mutedSeconds=seconds, **common)
            )
        else:
            await self._to_group(op, group_id, G.GROUP_MEMBER_CANCEL_MUTED, GroupMemberCancelMutedTips(**common))

    async def group_muted(self, op: Operator, group_id: str, muted: bool, head: VersionHead) -> None:
        async with self._sessionmaker() as session:
            group = await self._group(session, group_id)
            op_user = await self._op_user(session, group_id, op.user_id)
        kind, content_type = (GroupMutedTips, G.GROUP_MUTED) if muted else (GroupCancelMutedTips, G.GROUP_CANCEL_MUTED)
        tips = kind(
            group=group,
            opUser=op_user,
            operationTime=self._settings.now_ms(),
            groupMemberVersion=head.version,
            groupMemberVersionID=head.version_id,
        )
        await self._to_group(op, group_id, content_type, tips)

    async def member_info_set(
        self, op: Operator, group_id: str, user_id: str, content_type: int, head: VersionHead, sort_version: int
    ) -> None:
        """1516 (nickname/faceURL/ex), 1517 (made admin), 1518 (made ordinary)."""
        async with self._sessionmaker() as session:
            group = await self._group(session, group_id)
            infos = await self._by_id(session, group_id, [op.user_id, user_id])
            op_user = infos.get(op.user_id) or await self._op_user(session, group_id, op.user_id)
        tips = GroupMemberInfoSetTips(
            group=group,
            opUser=op_user,
            operationTime=self._settings.now_ms(),
            changedUser=infos.get(user_id),
            groupMemberVersion=head.version,
            groupMemberVersionID=head.version_id,
            groupSortVersion=sort_version,
        )
        await self._to_group(op, group_id, content_type, tips)

    # --- to the owner, the admins and the applicant (sessionType 1) ------------------------

    async def join_application(
        self, op: Operator, group_id: str, request_user_id: str, applicant_id: str, req_msg: str
    ) -> None:
        """JoinGroupApplicationNotification: `applicant` is whoever asked (the inviter for an
        invitation that needs approval, as in OpenIM), `request` the stored request."""
        async with self._sessionmaker() as session:
            group = await self._group(session, group_id)
            request = await self._request(session, group_id, request_user_id)
            users = await load_users(session, [applicant_id])
            managers = await store.role_member_ids(session, group_id, [RoleLevel.OWNER, RoleLevel.ADMIN])
        applicant = users.get(applicant_id)
        tips = JoinGroupApplicationTips(
            group=group,
            applicant=public_user(applicant) if applicant else None,
            reqMsg=req_msg,
            uuid=str(uuid.uuid4()),
            request=request,
        )
        for user_id in dict.fromkeys([*managers, applicant_id, op.user_id]):
            await self._notifier.send(op.operation_id, op.user_id, user_id, G.JOIN_GROUP_APPLICATION, tips)

    async def application_handled(
        self, op: Operator, group_id: str, applicant_id: str, handle_msg: str, accepted: bool
    ) -> None:
        """1505 / 1506 to the owner, the admins (receiverAs 1) and the applicant (receiverAs 0)."""
        async with self._sessionmaker() as session:
            group = await self._group(session, group_id)
            request = await self._request(session, group_id, applicant_id)
            managers = await store.role_member_ids(session, group_id, [RoleLevel.OWNER, RoleLevel.ADMIN])
            op_user = await self._op_user(session, group_id, op.user_id)
        kind = GroupApplicationAcceptedTips if accepted else GroupApplicationRejectedTips
        content_type = G.GROUP_APPLICATION_ACCEPTED if accepted else G.GROUP_APPLICATION_REJECTED
        tag = str(uuid.uuid4())
        for user_id in [*managers, applicant_id]:
            receiver_as = _APPLICANT_RECEIVER if user_id == applicant_id else _ADMIN_RECEIVER
            tips = kind(
                group=group, opUser=op_user, handleMsg=handle_msg, receiverAs=receiver_as, uuid=tag, request=request
            )
            await self._notifier.send(op.operation_id, op.user_id, user_id, content_type, tips)

    # --- helpers -------------------------------------------------------------------------

    async def _to_group(
        self,
        op: Operator,
        group_id: str,
        content_type: int,
        tips: WireModel,
        *,
        removed: Sequence[str] = (),
        send_message: bool | None = None,
        with_name: bool = False,
    ) -> None:
        async with self._sessionmaker() as session:
            members = await store.member_ids(session, group_id)
            sender = (await load_users(session, [op.user_id])).get(op.user_id) if with_name else None
        await self._notifier.send(
            op.operation_id,
            op.user_id,
            group_id,
            content_type,
            tips,
            SessionType.READ_GROUP,
            members=[*members, *removed],
            send_message=send_message,
            sender_nickname=sender.nickname if sender else "",
            sender_face_url=sender.face_url if sender else "",
        )

    @staticmethod
    async def _by_id(session: AsyncSession, group_id: str, user_ids: Sequence[str]) -> dict[str, GroupMemberFullInfo]:
        infos = await store.member_infos(session, await store.members(session, group_id, user_ids))
        return {m.userID: m for m in infos}

    @staticmethod
    async def _group(session: AsyncSession, group_id: str) -> GroupInfo:
        [group] = await store.group_infos(session, [group_id])
        return group

    async def _op_user(self, session: AsyncSession, group_id: str, user_id: str) -> GroupMemberFullInfo:
        """fillUserByUserID: an app admin shows as a group admin; a non-member by its user info."""
        user: UserRow | None = (await load_users(session, [user_id])).get(user_id)
        nickname, face = (user.nickname, user.face_url) if user else ("", "")
        if user_id in self._settings.admin_user_ids:
            return GroupMemberFullInfo(
                groupID=group_id,
                userID=user_id,
                roleLevel=RoleLevel.ADMIN,
                nickname=nickname,
                faceURL=face,
                appMangerLevel=AppManagerLevel.APP_ADMIN,
            )
        member = await store.take_member(session, group_id, user_id)
        if member is not None:
            [info] = await store.member_infos(session, [member])
            return info
        return GroupMemberFullInfo(
            groupID=group_id, userID=user_id, nickname=nickname, faceURL=face, operatorUserID=user_id
        )

    @staticmethod
    async def _request(session: AsyncSession, group_id: str, user_id: str) -> GroupRequest | None:
        """getGroupRequest: the stored request with its user, without groupInfo."""
        row = await store.take_request(session, group_id, user_id)
        if row is None:
            return None
        return group_request(row, (await load_users(session, [user_id])).get(user_id), None)
