"""Groups themselves: create, read, change, mute, dismiss.

Port of open-im-server internal/rpc/group/group.go (CreateGroup, GetGroupsInfo,
GetJoinedGroupList, SetGroupInfo, SetGroupInfoEx, MuteGroup, CancelMuteGroup,
DismissGroup, GetGroupAbstractInfo, GetGroups) on SQL; members live in group_members.py,
requests in group_requests.py, version sync in group_sync.py.

Choices where 3.8.3 is loose (openim-v3.md 1.5.4):

* an unknown group is 1201 GroupIDNotFoundError and an operator who is not a
  member 1203 NotInGroupYetError (3.8.3 often leaks its storage's 1004);
* create_group with a groupType other than 2 is 1205 GroupTypeNotSupport
  (3.8.3 says 1001 ArgsError); an app admin creating a group for someone else
  is not made a member (3.8.3 counts it in memberCount without adding it);
* set_group_info_ex with a blank groupName is 1001 (3.8.3 silently does nothing);
* dismiss_group removes every member right after announcing 1511, as the
  3.8.3 push handler does once the dismissal is pushed;
* get_groups (a CMS listing of every group) is for app admins only (3.8.3
  checks nothing) and names the owner by its shown nickname.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.protocol.constants import WORKING_GROUP, GroupAtType, GroupStatus, JoinSource, RoleLevel
from core.protocol.errcodes import ErrCode
from imserver.db import make_read_sessionmaker
from imserver.errors import ImError
from imserver.models import GroupMemberRow, GroupRow
from imserver.reads import ReadTx, reads_for
from imserver.services import group_reads
from imserver.services import group_store as store
from imserver.services.common import Operator, Page, paged
from imserver.services.conversations import ConversationChanges, ConversationService
from imserver.services.group_notify import GroupNotifier
from imserver.services.sdkws import go_json_dumps
from imserver.services.sdkws_group import GroupInfo, GroupMemberFullInfo
from imserver.services.users import UserService
from imserver.services.versions import VersionLogs
from imserver.settings import ImServerSettings

__all__ = ["GroupAbstract", "GroupChanges", "GroupService", "ListedGroup"]


@dataclass(frozen=True, slots=True)
class GroupChanges:
    """Fields to set; None = unchanged (GroupInfoForSet / SetGroupInfoExReq)."""

    group_name: str | None = None
    notification: str | None = None
    introduction: str | None = None
    face_url: str | None = None
    ex: str | None = None
    need_verification: int | None = None
    look_member_info: int | None = None
    apply_member_friend: int | None = None

    def others(self) -> dict[str, object]:
        """The fields announced by 1502 (everything but name and notice)."""
        pairs = {
            "introduction": self.introduction,
            "face_url": self.face_url,
            "ex": self.ex,
            "need_verification": self.need_verification,
            "look_member_info": self.look_member_info,
            "apply_member_friend": self.apply_member_friend,
        }
        return {k: v for k, v in pairs.items() if v is not None}


@dataclass(frozen=True, slots=True)
class ListedGroup:
    """group.CMSGroup"""

    info: GroupInfo
    owner_user_id: str
    owner_name: str


@dataclass(frozen=True, slots=True)
class GroupAbstract:
    group_id: str
    member_count: int
    member_hash: int


async def _new_group_id(session: AsyncSession, operation_id: str) -> str:
    """GenGroupID: the first 8 hex digits of md5(operationID, time, random) as a decimal string."""
    for _ in range(10):
        seed = ",;,".join([operation_id, str(time.time_ns()), str(secrets.randbelow(1 << 62))])
        candidate = str(int(hashlib.md5(seed.encode()).hexdigest()[:8], 16))
        if await session.get(GroupRow, candidate) is None:
            return candidate
    raise ImError(ErrCode.ServerInternalError, "group id gen error")


def member_list_hash(members: Sequence[GroupMemberFullInfo]) -> int:
    """grouphash.GetGroupHash: md5 of the members' JSON sorted by userID, first 8 bytes big-endian."""
    ordered = sorted(members, key=lambda m: m.userID)
    data = go_json_dumps([m.model_copy(update={"appMangerLevel": 0}).model_dump(mode="json") for m in ordered])
    return int.from_bytes(hashlib.md5(data.encode()).digest()[:8], "big")


class GroupService:
    def __init__(
        self,
        settings: ImServerSettings,
        sessionmaker: async_sessionmaker[AsyncSession],
        versions: VersionLogs,
        notify: GroupNotifier,
        users: UserService,
        conversations: ConversationService,
    ) -> None:
        self._settings = settings
        self._sessionmaker = sessionmaker
        self._reads = make_read_sessionmaker(sessionmaker)  # pure reads: inline on SQLite (db.py)
        self._fast_reads = reads_for(sessionmaker)
        self._versions = versions
        self._notify = notify
        self._users = users
        self._conversations = conversations

    async def create(
        self,
        op: Operator,
        info: GroupInfo,
        owner: str,
        admin_ids: Sequence[str],
        member_ids: Sequence[str],
        send_message: bool | None,
    ) -> GroupInfo:
        if info.groupType != WORKING_GROUP:
            raise ImError(ErrCode.GroupTypeNotSupport, f"group type only supports {WORKING_GROUP}")
        user_ids = [*member_ids, *admin_ids, owner]
        joining_op = not op.is_admin and op.user_id not in user_ids
        if joining_op:
            user_ids.append(op.user_id)
        if len(set(user_ids)) != len(user_ids):
            raise ImError(ErrCode.ArgsError, "group member repeated")
        await self._users.check_exist(user_ids)
        now = self._settings.now_ms()
        async with self._sessionmaker.begin() as session:
            group_id = info.groupID
            if group_id and await session.get(GroupRow, group_id) is not None:
                raise ImError(ErrCode.GroupIDExisted, f"group id existed {group_id}")
            if not group_id:
                group_id = await _new_group_id(session, op.operation_id)
            session.add(
                GroupRow(
                    group_id=group_id,
                    group_name=info.groupName,
                    notification=info.notification,
                    introduction=info.introduction,
                    face_url=info.faceURL,
                    create_time=now,
                    ex=info.ex,
                    status=info.status,
                    creator_user_id=info.creatorUserID,
                    group_type=info.groupType,
                    need_verification=info.needVerification,
                    look_member_info=info.lookMemberInfo,
                    apply_member_friend=info.applyMemberFriend,
                    notification_update_time=info.notificationUpdateTime,
                    notification_user_id=info.notificationUserID,
                )
            )
            roles = [(owner, RoleLevel.OWNER)]
            roles += [(u, RoleLevel.ADMIN) for u in admin_ids]
            roles += [(u, RoleLevel.ORDINARY) for u in member_ids]
            if joining_op:
                roles.append((op.user_id, RoleLevel.ORDINARY))
            rows = [self._member(group_id, user_id, role, op.user_id, now) for user_id, role in roles]
            head = await store.add_members(session, self._versions, rows)
            [created] = await store.group_infos(session, [group_id])
        await self._notify.created(op, group_id, head, send_message)
        return created

    async def infos(self, group_ids: Sequence[str]) -> list[GroupInfo]:
        async with self._reads() as session:
            return await store.group_infos(session, group_ids)

    async def joined(self, user_id: str, page: Page) -> tuple[int, list[GroupInfo]]:
        def read(tx: ReadTx) -> tuple[int, list[GroupInfo]]:
            ids = group_reads.joined_group_ids(tx, user_id)
            if page.show_number <= 0:
                return len(ids), []
            window = ids[page.offset : page.offset + page.show_number]
            return len(ids), group_reads.group_infos(tx, window)

        return await self._fast_reads.run(read)

    async def search(self, page: Page | None, name: str, group_id: str) -> tuple[int, list[ListedGroup]]:
        """GetGroups (admin listing): one group by ID, or live groups whose name contains `name`, newest first."""
        async with self._reads() as session:
            if group_id:
                ids = [group_id] if await session.get(GroupRow, group_id) is not None else []
                total = len(ids)
            else:
                cond = [GroupRow.status != GroupStatus.DISMISSED]
                if name:
                    cond.append(GroupRow.group_name.contains(name, autoescape=True))
                total = (await session.execute(select(func.count()).select_from(GroupRow).where(*cond))).scalar_one()
                stmt = paged(
                    select(GroupRow.group_id).where(*cond).order_by(GroupRow.create_time.desc(), GroupRow.group_id),
                    page,
                )
                ids = [] if stmt is None else list((await session.execute(stmt)).scalars())
            infos = await store.group_infos(session, ids)
            owner_rows = [m for g in infos for m in await store.members(session, g.groupID, [g.ownerUserID])]
            owners = {m.groupID: m for m in await store.member_infos(session, owner_rows)}
        return total, [
            ListedGroup(g, g.ownerUserID, owners[g.groupID].nickname if g.groupID in owners else "") for g in infos
        ]

    async def set_info(self, op: Operator, group_id: str, changes: GroupChanges, *, ex_form: bool) -> None:
        """SetGroupInfo (`ex_form=False`: empty strings mean unchanged) and SetGroupInfoEx."""
        if ex_form and changes.group_name is not None and not changes.group_name.strip():
            raise ImError(ErrCode.ArgsError, "group name is empty")
        notice = changes.notification
        if ex_form and notice is not None:
            notice = notice.strip()
        values: dict[str, object] = dict(changes.others())
        if changes.group_name is not None:
            values["group_name"] = changes.group_name
        if notice is not None:
            values |= {
                "notification": notice,
                "notification_update_time": self._settings.now_ms(),
                "notification_user_id": op.user_id,
            }
        async with self._sessionmaker.begin() as session:
            group = await store.take_group(session, group_id)
            await store.check_manager(session, group_id, op.user_id, op.is_admin)
            if group.status == GroupStatus.DISMISSED:
                raise ImError(ErrCode.DismissedAlreadyError, "group dismissed")
            if not values:
                return
            for key, value in values.items():
                setattr(group, key, value)
            await session.flush()
            head = await store.touch_group(session, self._versions, group_id)
            members = await store.member_ids(session, group_id)
        if notice:
            # The new notice marks every member's group conversation (constant.GroupNotification).
            await self._conversations.set(
                op,
                members,
                f"sg_{group_id}",
                ConversationChanges(group_at_type=GroupAtType.GROUP_NOTIFICATION),
                None,
                "",
            )
        await self._notify.info_set(
            op,
            group_id,
            head,
            announcement=notice is not None,
            # SetGroupInfoEx announces a cleared notice without the chat copy.
            announcement_send=bool(notice) if ex_form else True,
            name=changes.group_name is not None,
            other=bool(changes.others()),
        )

    async def mute(self, op: Operator, group_id: str, muted: bool) -> None:
        """MuteGroup / CancelMuteGroup: status 3 / 0."""
        async with self._sessionmaker.begin() as session:
            group = await store.take_group(session, group_id)
            await store.check_manager(session, group_id, op.user_id, op.is_admin)
            group.status = GroupStatus.MUTED if muted else GroupStatus.OK
            await session.flush()
            head = await store.touch_group(session, self._versions, group_id)
        await self._notify.group_muted(op, group_id, muted, head)

    async def dismiss(self, op: Operator, group_id: str, delete_member: bool, send_message: bool | None) -> None:
        async with self._sessionmaker.begin() as session:
            group = await store.take_group(session, group_id)
            owners = await store.role_member_ids(session, group_id, [RoleLevel.OWNER])
            if not op.is_admin and op.user_id not in owners:
                raise ImError(ErrCode.NoPermissionError, "not group owner")
            if not delete_member and group.status == GroupStatus.DISMISSED:
                raise ImError(ErrCode.DismissedAlreadyError, "group status is dismissed")
            group.status = GroupStatus.DISMISSED
            await session.flush()
            members = await store.member_ids(session, group_id)
            if delete_member:
                await store.remove_members(session, self._versions, group_id, members)
                return
            await store.touch_group(session, self._versions, group_id)
            [info] = await store.group_infos(session, [group_id])
            owner_rows = await store.members(session, group_id, owners)
            owner_info = await store.member_infos(session, owner_rows)
        op_user = owner_info[0] if owner_info and owner_info[0].userID == op.user_id else None
        if op_user is None:
            op_user = GroupMemberFullInfo(groupID=group_id, userID=op.user_id)
        await self._notify.dismissed(op, info, op_user, send_message)
        # push_handler.go: once 1511 is out, DismissGroup(deleteMember=true) empties the group.
        if (hold := self._settings.dismiss_removal_hold) is not None:
            await hold.wait()
        async with self._sessionmaker.begin() as session:
            await store.remove_members(session, self._versions, group_id, await store.member_ids(session, group_id))

    async def abstracts(self, op: Operator, group_ids: Sequence[str]) -> list[GroupAbstract]:
        """GetGroupAbstractInfo: member count and member-list hash per group."""
        if not group_ids:
            raise ImError(ErrCode.ArgsError, "groupIDs empty")
        if len(set(group_ids)) != len(group_ids):
            raise ImError(ErrCode.ArgsError, "groupIDs duplicate")
        async with self._reads() as session:
            for group_id in group_ids:
                await store.check_in_group(session, group_id, op.user_id, op.is_admin)
            groups = await store.find_groups(session, group_ids)
            if missing := [g for g in group_ids if g not in groups]:
                raise ImError(ErrCode.GroupIDNotFoundError, "not found group " + ",".join(missing))
            result = []
            for group_id in group_ids:
                infos = await store.member_infos(session, await store.members(session, group_id))
                if not infos:
                    raise ImError(ErrCode.GroupIDNotFoundError, f"group {group_id} not found member")
                result.append(GroupAbstract(group_id, len(infos), member_list_hash(infos)))
        return result

    @staticmethod
    def _member(group_id: str, user_id: str, role: int, op_user_id: str, now: int) -> GroupMemberRow:
        return GroupMemberRow(
            group_id=group_id,
            user_id=user_id,
            nickname="",
            face_url="",
            role_level=role,
            join_time=now,
            join_source=JoinSource.BY_INVITATION,
            inviter_user_id=op_user_id,
            operator_user_id=op_user_id,
            mute_end_time=0,
            ex="",
        )
