"""Group members: join and leave, roles, mute, member lists.

Port of open-im-server internal/rpc/group/group.go (InviteUserToGroup,
QuitGroup, KickGroupMember, TransferGroupOwner, MuteGroupMember,
CancelMuteGroupMember, SetGroupMemberInfo, GetGroupMemberList,
GetGroupMembersInfo, GetGroupMemberUserIDs) and of the seq handling around
membership (deleteMemberAndSetConversationSeq, setMemberJoinSeq,
MemberEnterNotification):

* a member who leaves (quit, kicked) gets the removal notification too, then
  its view of the group chat is capped at the chat's current max seq;
* a member who joins sees the chat from the join on unless
  `settings.group_history_for_new_members` (OpenIM's enableHistoryForNewMembers):
  minSeq = maxSeq + 1 before the join is announced, so the 1509/1510 chat copy
  is its first visible message; then the cap is lifted (max seq 0), which
  OpenIM announces with a 1300 ConversationChangeNotification.

A target who is not a member is 1203 NotInGroupYetError throughout (3.8.3
mixes 1004, 1101 and 1001 for it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.protocol.constants import MEMBER_FILTER_ROLES, GroupStatus, JoinSource, NeedVerification, RoleLevel
from core.protocol.constants import GroupContentType as G
from core.protocol.errcodes import ErrCode
from imserver import msgstore
from imserver.db import make_read_sessionmaker
from imserver.errors import ImError
from imserver.models import GroupMemberRow, GroupRequestRow
from imserver.services import group_store as store
from imserver.services.common import Operator, Page
from imserver.services.conversations import ConversationService
from imserver.services.group_notify import GroupNotifier
from imserver.services.sdkws_group import GroupMemberFullInfo
from imserver.services.users import UserService
from imserver.services.versions import VersionHead, VersionLogs
from imserver.settings import ImServerSettings

__all__ = ["GroupMemberService", "MemberChanges", "group_conversation_id"]


def group_conversation_id(group_id: str) -> str:
    return f"sg_{group_id}"


@dataclass(frozen=True, slots=True)
class MemberChanges:
    """group.SetGroupMemberInfo: wrapper fields, None = unchanged."""

    group_id: str
    user_id: str
    nickname: str | None = None
    face_url: str | None = None
    role_level: int | None = None
    ex: str | None = None

    def values(self) -> dict[str, object]:
        pairs = {"nickname": self.nickname, "face_url": self.face_url, "role_level": self.role_level, "ex": self.ex}
        return {k: v for k, v in pairs.items() if v is not None}


class GroupMemberService:
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
        self._versions = versions
        self._notify = notify
        self._users = users
        self._conversations = conversations

    # --- joining and leaving ------------------------------------------------------------

    async def after_join(
        self,
        op: Operator,
        group_id: str,
        user_ids: Sequence[str],
        inviter_id: str | None,
        head: VersionHead,
        send_message: bool | None = None,
    ) -> None:
        """What follows committed new members: history cut, 1509 (invited) or 1510, uncap."""
        cid = group_conversation_id(group_id)
        if not self._settings.group_history_for_new_members:
            async with self._sessionmaker.begin() as session:
                await msgstore.hide_history(session, user_ids, cid, self._settings.now_ms())
        if inviter_id is None:
            for user_id in user_ids:
                await self._notify.member_enter(op, group_id, user_id, head)
        else:
            await self._notify.member_invited(op, group_id, user_ids, inviter_id, head, send_message)
        await self._conversations.set_max_seq(op, user_ids, cid, 0)

    async def _after_leave(self, op: Operator, group_id: str, user_ids: Sequence[str]) -> None:
        """deleteMemberAndSetConversationSeq: cap the leavers at the chat's max seq (removal copy included)."""
        cid = group_conversation_id(group_id)
        async with self._reads() as session:
            max_seq = (await msgstore.max_seqs(session, [cid])).get(cid, 0)
        await self._conversations.set_max_seq(op, user_ids, cid, max_seq)

    async def invite(self, op: Operator, group_id: str, user_ids: Sequence[str], send_message: bool | None) -> None:
        if not user_ids:
            raise ImError(ErrCode.ArgsError, "user empty")
        if len(set(user_ids)) != len(user_ids):
            raise ImError(ErrCode.ArgsError, "userID duplicate")
        now = self._settings.now_ms()
        async with self._reads() as session:
            group = await store.take_group(session, group_id)
            if group.status == GroupStatus.DISMISSED:
                raise ImError(ErrCode.DismissedAlreadyError, "group dismissed")
        await self._users.check_exist(user_ids)
        async with self._sessionmaker.begin() as session:
            group = await store.take_group(session, group_id)
            op_role = RoleLevel.ADMIN
            if not op.is_admin:
                op_role = RoleLevel((await store.require_member(session, group_id, op.user_id)).role_level)
            if group.need_verification == NeedVerification.ALL_NEED and op_role == RoleLevel.ORDINARY:
                requests = [
                    GroupRequestRow(
                        group_id=group_id,
                        user_id=user_id,
                        handle_result=0,
                        req_msg="",
                        handled_msg="",
                        req_time=now,
                        handle_user_id="",
                        handled_time=0,
                        join_source=JoinSource.BY_INVITATION,
                        inviter_user_id=op.user_id,
                        ex="",
                    )
                    for user_id in user_ids
                ]
                await store.replace_requests(session, requests)
                head = None
            else:
                if present := [m.user_id for m in await store.members(session, group_id, user_ids)]:
                    raise ImError(ErrCode.ArgsError, f"already in group: {', '.join(present)}")
                rows = [
                    GroupMemberRow(
                        group_id=group_id,
                        user_id=user_id,
                        nickname="",
                        face_url="",
                        role_level=RoleLevel.ORDINARY,
                        join_time=now,
                        join_source=JoinSource.BY_INVITATION,
                        inviter_user_id=op.user_id,
                        operator_user_id=op.user_id,
                        mute_end_time=0,
                        ex="",
                    )
                    for user_id in user_ids
                ]
                head = await store.add_members(session, self._versions, rows)
        if head is None:
            # The invitation needs approval: one 1503 per request, the inviter as "applicant".
            for user_id in user_ids:
                await self._notify.join_application(op, group_id, user_id, op.user_id, "")
            return
        await self.after_join(op, group_id, user_ids, op.user_id, head, send_message)

    async def quit(self, op: Operator, group_id: str, user_id: str) -> None:
        async with self._sessionmaker.begin() as session:
            await store.take_group(session, group_id)
            member = await store.require_member(session, group_id, user_id)
            if member.role_level == RoleLevel.OWNER:
                raise ImError(ErrCode.NoPermissionError, "group owner can't quit")
            [info] = await store.member_infos(session, [member])
            head = await store.remove_members(session, self._versions, group_id, [user_id])
        await self._notify.member_quit(op, info, head)
        await self._after_leave(op, group_id, [user_id])

    async def kick(self, op: Operator, group_id: str, user_ids: Sequence[str], send_message: bool | None) -> None:
        async with self._sessionmaker.begin() as session:
            await store.take_group(session, group_id)
            if not user_ids:
                raise ImError(ErrCode.ArgsError, "KickedUserIDs empty")
            if len(set(user_ids)) != len(user_ids):
                raise ImError(ErrCode.ArgsError, "KickedUserIDs duplicate")
            if op.user_id in user_ids:
                raise ImError(ErrCode.ArgsError, "opUserID in KickedUserIDs")
            if set(await store.role_member_ids(session, group_id, [RoleLevel.OWNER])) & set(user_ids):
                raise ImError(ErrCode.ArgsError, "ownerUID can not Kick")
            rows = {m.user_id: m for m in await store.members(session, group_id, [*user_ids, op.user_id])}
            op_member = rows.get(op.user_id)
            for user_id in user_ids:
                target = rows.get(user_id)
                if target is None:
                    raise ImError(ErrCode.NotInGroupYetError, f"user {user_id} is not in group {group_id}")
                if not op.is_admin:
                    _check_kick(op_member, target)
            kicked = await store.member_infos(session, [rows[u] for u in user_ids])
            op_info = (await store.member_infos(session, [op_member]))[0] if op_member else None
            head = await store.remove_members(session, self._versions, group_id, user_ids)
        await self._notify.member_kicked(op, group_id, kicked, op_info, head, send_message)
        await self._after_leave(op, group_id, user_ids)

    # --- roles and mute -------------------------------------------------------------------

    async def transfer(self, op: Operator, group_id: str, old_owner: str, new_owner: str) -> None:
        async with self._sessionmaker.begin() as session:
            group = await store.take_group(session, group_id)
            if group.status == GroupStatus.DISMISSED:
                raise ImError(ErrCode.DismissedAlreadyError, "group dismissed")
            if old_owner == new_owner:
                raise ImError(ErrCode.ArgsError, "OldOwnerUserID == NewOwnerUserID")
            rows = {m.user_id: m for m in await store.members(session, group_id, [old_owner, new_owner])}
            if missing := [u for u in (old_owner, new_owner) if u not in rows]:
                raise ImError(ErrCode.NotInGroupYetError, "user not in group " + ",".join(missing))
            old, new = rows[old_owner], rows[new_owner]
            if not op.is_admin and not (op.user_id == old_owner and old.role_level == RoleLevel.OWNER):
                raise ImError(ErrCode.NoPermissionError, "no permission transfer group owner")
            was_muted = new.mute_end_time > self._settings.now_ms()
        if was_muted:
            await self.mute(op, group_id, new_owner, None)
        async with self._sessionmaker.begin() as session:
            new_role = (await store.require_member(session, group_id, new_owner)).role_level
            # UpdateUserRoleLevels: the old owner takes the new owner's former role.
            head = await store.touch_members(
                session,
                self._versions,
                group_id,
                [(old_owner, {"role_level": new_role}), (new_owner, {"role_level": RoleLevel.OWNER})],
            )
        await self._notify.owner_transferred(op, group_id, old_owner, new_owner, head)

    async def mute(self, op: Operator, group_id: str, user_id: str, seconds: int | None) -> None:
        """MuteGroupMember for `seconds`, or CancelMuteGroupMember when None."""
        async with self._sessionmaker.begin() as session:
            await store.take_group(session, group_id)
            target = await store.require_member(session, group_id, user_id)
            if not op.is_admin:
                op_role = (await store.require_member(session, group_id, op.user_id)).role_level
                _check_mute(op_role, target.role_level)
            end = self._settings.now_ms() + seconds * 1000 if seconds is not None else 0
            head = await store.touch_members(session, self._versions, group_id, [(user_id, {"mute_end_time": end})])
        await self._notify.member_muted(op, group_id, user_id, seconds, head)

    async def set_info(self, op: Operator, changes: Sequence[MemberChanges]) -> None:
        if not changes:
            raise ImError(ErrCode.ArgsError, "members empty")
        for change in changes:
            if change.role_level == RoleLevel.OWNER:
                raise ImError(ErrCode.NoPermissionError, "cannot set ungroup owner")
            if change.role_level is not None and change.role_level not in (RoleLevel.ADMIN, RoleLevel.ORDINARY):
                raise ImError(ErrCode.ArgsError, "invalid role level")
        by_group: dict[str, list[MemberChanges]] = {}
        for change in changes:
            by_group.setdefault(change.group_id, []).append(change)
        sent: list[tuple[MemberChanges, VersionHead]] = []
        async with self._sessionmaker.begin() as session:
            for group_id, items in by_group.items():
                await store.take_group(session, group_id)
                await self._check_set_info(session, op, group_id, items)
            for change in changes:
                head = await store.touch_members(
                    session, self._versions, change.group_id, [(change.user_id, change.values())]
                )
                sent.append((change, head))
        for change, head in sent:
            sort_version = head.version if change.role_level is not None else 0
            if change.role_level is not None:
                admin = change.role_level == RoleLevel.ADMIN
                kind = G.GROUP_MEMBER_SET_TO_ADMIN if admin else G.GROUP_MEMBER_SET_TO_ORDINARY
                await self._notify.member_info_set(op, change.group_id, change.user_id, kind, head, sort_version)
            if change.nickname is not None or change.face_url is not None or change.ex is not None:
                await self._notify.member_info_set(
                    op, change.group_id, change.user_id, G.GROUP_MEMBER_INFO_SET, head, sort_version
                )

    async def _check_set_info(
        self, session: AsyncSession, op: Operator, group_id: str, items: Sequence[MemberChanges]
    ) -> None:
        """SetGroupMemberInfo's permission rules for one group."""
        user_ids = [c.user_id for c in items]
        if len(set(user_ids)) != len(user_ids):
            raise ImError(ErrCode.ArgsError, f"repeat group {group_id} user")
        wanted = [*user_ids, op.user_id] if op.user_id not in user_ids else user_ids
        rows = {m.user_id: m for m in await store.members(session, group_id, wanted)}
        missing = [u for u in wanted if u not in rows]
        if missing and (missing != [op.user_id] or not op.is_admin):
            if missing == [op.user_id]:
                raise ImError(ErrCode.NoPermissionError, "user not in group")
            raise ImError(ErrCode.NotInGroupYetError, "user not in group " + ",".join(missing))
        if op.is_admin:
            return
        me = rows[op.user_id]
        for row in rows.values():
            if me.role_level == RoleLevel.ADMIN and (
                row.role_level == RoleLevel.OWNER or (row.role_level == RoleLevel.ADMIN and row is not me)
            ):
                raise ImError(ErrCode.NoPermissionError, "admin can not change group owner or other group admin")
            if me.role_level == RoleLevel.ORDINARY and row is not me:
                raise ImError(ErrCode.NoPermissionError, "ordinary users can not change other role level")
        mine = next((c for c in items if c.user_id == op.user_id), None)
        if mine is not None and mine.role_level is not None:
            if mine.role_level > me.role_level:
                raise ImError(ErrCode.NoPermissionError, "can not improve role level by self")
            if me.role_level == RoleLevel.OWNER:
                raise ImError(ErrCode.ArgsError, "group owner can not change own role level")

    async def user_profile_changed(self, op: Operator, user_id: str) -> None:
        """NotificationUserInfoUpdate: where the member shows the user's own nickname or
        faceURL (its group ones are empty), the change is a member update (1516)."""
        async with self._sessionmaker.begin() as session:
            rows = await store.member_rows_showing_profile(session, user_id)
            heads = [
                (row.group_id, await store.log_member_change(session, self._versions, row.group_id, user_id))
                for row in rows
            ]
        for group_id, head in heads:
            await self._notify.member_info_set(op, group_id, user_id, G.GROUP_MEMBER_INFO_SET, head, 0)

    # --- reading ---------------------------------------------------------------------------

    async def page(
        self, op: Operator, group_id: str, filter_: int, keyword: str, page: Page
    ) -> tuple[int, list[GroupMemberFullInfo]]:
        """GetGroupMemberList: member order, filtered by role (filter 1..5) and keyword.

        3.8.3 ignores `filter` and matches `keyword` against the group nickname
        only; imserver applies the filter and matches the shown nickname or userID.
        """
        async with self._reads() as session:
            await store.take_group(session, group_id)
            await store.check_in_group(session, group_id, op.user_id, op.is_admin)
            infos = await store.member_infos(session, await store.members(session, group_id))
        roles = MEMBER_FILTER_ROLES.get(filter_, ())
        matched = [
            m
            for m in infos
            if (not roles or m.roleLevel in roles) and (not keyword or keyword in m.nickname or keyword in m.userID)
        ]
        if page.show_number <= 0:
            return len(matched), []
        return len(matched), matched[page.offset : page.offset + page.show_number]

    async def infos(self, op: Operator, group_id: str, user_ids: Sequence[str]) -> list[GroupMemberFullInfo]:
        if not user_ids:
            raise ImError(ErrCode.ArgsError, "userIDs empty")
        async with self._reads() as session:
            await store.take_group(session, group_id)
            await store.check_in_group(session, group_id, op.user_id, op.is_admin)
            return await store.member_infos(session, await store.members(session, group_id, user_ids))

    async def user_ids(self, op: Operator, group_id: str) -> list[str]:
        async with self._reads() as session:
            await store.take_group(session, group_id)
            ids = await store.member_ids(session, group_id)
        if not op.is_admin and op.user_id not in ids:
            raise ImError(ErrCode.NoPermissionError, "opUser no permission")
        return ids


def _check_kick(op_member: GroupMemberRow | None, target: GroupMemberRow) -> None:
    if op_member is None:
        raise ImError(ErrCode.NoPermissionError, "opUserID no in group")
    if op_member.role_level == RoleLevel.OWNER:
        return
    if op_member.role_level == RoleLevel.ADMIN:
        if target.role_level in (RoleLevel.OWNER, RoleLevel.ADMIN):
            raise ImError(ErrCode.NoPermissionError, "group admins cannot remove the group owner and other admins")
        return
    raise ImError(ErrCode.NoPermissionError, "opUserID no permission")


def _check_mute(op_role: int, target_role: int) -> None:
    """MuteGroupMember: never the owner; an admin only by the owner; an ordinary member by owner or admin."""
    if target_role == RoleLevel.OWNER:
        raise ImError(ErrCode.NoPermissionError, "set group owner mute")
    if target_role == RoleLevel.ADMIN and op_role != RoleLevel.OWNER:
        raise ImError(ErrCode.NoPermissionError, "set group admin mute")
    if target_role == RoleLevel.ORDINARY and op_role not in (RoleLevel.OWNER, RoleLevel.ADMIN):
        raise ImError(ErrCode.NoPermissionError, "set group ordinary users mute")
