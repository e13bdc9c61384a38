"""Group rows inside one session: lookups, membership changes and their version logs.

The group services' shared storage layer, port of open-im-server
pkg/common/storage/controller/group.go and mgo/group_member.go on SQL. Every
membership change writes the two version logs OpenIM keeps
(mgo/group_member.go Create / Delete / Update*):

* `GROUP_MEMBERS` per group (database.GroupMemberVersionName): member user IDs,
  plus `GROUP_CHANGE_ID` ("") when the group's own fields change (UpdateGroup,
  DismissGroup) and the sort pseudo-ID when a role changes;
* `JOINED_GROUPS` per user (database.GroupJoinVersionName): group IDs joined
  (insert) or left (delete).

Members are listed in OpenIM's member order: role level descending, then join
order (memberSort; its `create_time` key does not exist on members, so Mongo
falls back to insertion order).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.protocol.constants import RoleLevel
from core.protocol.errcodes import ErrCode
from imserver.errors import ImError
from imserver.models import GroupMemberRow, GroupRequestRow, GroupRow
from imserver.services.common import distinct, load_users
from imserver.services.convert import group_info, group_member
from imserver.services.sdkws_group import GroupInfo, GroupMemberFullInfo
from imserver.services.versions import SORT_CHANGE_ID, VersionHead, VersionLogs, VersionState

__all__ = [
    "GROUP_CHANGE_ID",
    "GROUP_MEMBERS",
    "JOINED_GROUPS",
    "add_members",
    "check_in_group",
    "check_manager",
    "find_groups",
    "group_infos",
    "joined_group_ids",
    "log_member_change",
    "managed_group_ids",
    "member_ids",
    "member_infos",
    "member_rows_showing_profile",
    "members",
    "remove_members",
    "replace_requests",
    "require_member",
    "role_member_ids",
    "take_group",
    "take_member",
    "take_request",
    "touch_group",
    "touch_members",
]

JOINED_GROUPS = "joined_groups"
GROUP_MEMBERS = "group_members"
# model.VersionGroupChangeID: logged in a group's member log when the group itself changes.
GROUP_CHANGE_ID = ""


_MEMBER_ORDER = (GroupMemberRow.role_level.desc(), GroupMemberRow.id.asc())


async def take_group(session: AsyncSession, group_id: str) -> GroupRow:
    row = await session.get(GroupRow, group_id)
    if row is None:
        raise ImError(ErrCode.GroupIDNotFoundError, f"group {group_id} not found")
    return row


async def find_groups(session: AsyncSession, group_ids: Iterable[str]) -> dict[str, GroupRow]:
    wanted = distinct(group_ids)
    if not wanted:
        return {}
    rows = await session.execute(select(GroupRow).where(GroupRow.group_id.in_(wanted)))
    return {r.group_id: r for r in rows.scalars()}


async def take_member(session: AsyncSession, group_id: str, user_id: str) -> GroupMemberRow | None:
    stmt = select(GroupMemberRow).where(GroupMemberRow.group_id == group_id, GroupMemberRow.user_id == user_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def require_member(session: AsyncSession, group_id: str, user_id: str) -> GroupMemberRow:
    """TakeGroupMember; OpenIM leaks its storage's 1004 here, imserver answers 1203 NotInGroupYetError."""
    row = await take_member(session, group_id, user_id)
    if row is None:
        raise ImError(ErrCode.NotInGroupYetError, f"user {user_id} is not in group {group_id}")
    return row


async def take_request(session: AsyncSession, group_id: str, user_id: str) -> GroupRequestRow | None:
    stmt = select(GroupRequestRow).where(GroupRequestRow.group_id == group_id, GroupRequestRow.user_id == user_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def members(session: AsyncSession, group_id: str, user_ids: Sequence[str] | None = None) -> list[GroupMemberRow]:
    stmt = select(GroupMemberRow).where(GroupMemberRow.group_id == group_id)
    if user_ids is not None:
        stmt = stmt.where(GroupMemberRow.user_id.in_(distinct(user_ids)))
    return list((await session.execute(stmt.order_by(*_MEMBER_ORDER))).scalars())


async def member_ids(session: AsyncSession, group_id: str) -> list[str]:
    """FindMemberUserID: the group's member IDs in member order."""
    stmt = select(GroupMemberRow.user_id).where(GroupMemberRow.group_id == group_id).order_by(*_MEMBER_ORDER)
    return list((await session.execute(stmt)).scalars())


async def role_member_ids(session: AsyncSession, group_id: str, roles: Sequence[int]) -> list[str]:
    stmt = (
        select(GroupMemberRow.user_id)
        .where(GroupMemberRow.group_id == group_id, GroupMemberRow.role_level.in_(list(roles)))
        .order_by(*_MEMBER_ORDER)
    )
    return list((await session.execute(stmt)).scalars())


async def joined_group_ids(session: AsyncSession, user_id: str) -> list[str]:
    """FindUserJoinedGroupID, in member order of the user's own rows."""
    stmt = select(GroupMemberRow.group_id).where(GroupMemberRow.user_id == user_id).order_by(*_MEMBER_ORDER)
    return list((await session.execute(stmt)).scalars())


async def managed_group_ids(session: AsyncSession, user_id: str) -> list[str]:
    """FindUserManagedGroupID: groups where the user is owner or admin."""
    stmt = (
        select(GroupMemberRow.group_id)
        .where(
            GroupMemberRow.user_id == user_id,
            GroupMemberRow.role_level.in_([RoleLevel.OWNER, RoleLevel.ADMIN]),
        )
        .order_by(GroupMemberRow.id)
    )
    return list((await session.execute(stmt)).scalars())


async def group_infos(session: AsyncSession, group_ids: Sequence[str]) -> list[GroupInfo]:
    """GroupInfo of each existing group, in the order asked (getGroupsInfo)."""
    groups = await find_groups(session, group_ids)
    ids = [g for g in distinct(group_ids) if g in groups]
    if not ids:
        return []
    count_rows = await session.execute(
        select(GroupMemberRow.group_id, func.count())
        .where(GroupMemberRow.group_id.in_(ids))
        .group_by(GroupMemberRow.group_id)
    )
    counts: dict[str, int] = {group_id: n for group_id, n in count_rows}
    owner_rows = await session.execute(
        select(GroupMemberRow.group_id, GroupMemberRow.user_id).where(
            GroupMemberRow.group_id.in_(ids), GroupMemberRow.role_level == RoleLevel.OWNER
        )
    )
    owners: dict[str, str] = {group_id: user_id for group_id, user_id in owner_rows}
    return [group_info(groups[g], owners.get(g, ""), counts.get(g, 0)) for g in ids]


async def member_infos(session: AsyncSession, rows: Sequence[GroupMemberRow]) -> list[GroupMemberFullInfo]:
    users = await load_users(session, [r.user_id for r in rows])
    return [group_member(r, users.get(r.user_id)) for r in rows]


# --- permission checks (group.go CheckGroupAdmin, checkAdminOrInGroup) ----------------


async def check_manager(session: AsyncSession, group_id: str, user_id: str, is_app_admin: bool) -> None:
    """CheckGroupAdmin: the operator is the group's owner or an admin (app admins pass)."""
    if is_app_admin:
        return
    member = await require_member(session, group_id, user_id)
    if member.role_level not in (RoleLevel.OWNER, RoleLevel.ADMIN):
        raise ImError(ErrCode.NoPermissionError, "no group owner or admin")


async def check_in_group(session: AsyncSession, group_id: str, user_id: str, is_app_admin: bool) -> None:
    """checkAdminOrInGroup: reads need membership, else 1002 "op user not in group"."""
    if not is_app_admin and await take_member(session, group_id, user_id) is None:
        raise ImError(ErrCode.NoPermissionError, "op user not in group")


# --- changes, each logged like mgo/group_member.go ---------------------------------


async def add_members(session: AsyncSession, versions: VersionLogs, rows: Sequence[GroupMemberRow]) -> VersionHead:
    """GroupMemberMgo.Create: rows of one group; returns the group's member-log head."""
    [group_id] = {r.group_id for r in rows}
    session.add_all(rows)
    await session.flush()
    user_ids = [r.user_id for r in rows]
    head = await versions.incr(session, GROUP_MEMBERS, group_id, user_ids, VersionState.INSERT)
    for user_id in user_ids:
        await versions.incr(session, JOINED_GROUPS, user_id, [group_id], VersionState.INSERT)
    return head


async def remove_members(
    session: AsyncSession, versions: VersionLogs, group_id: str, user_ids: Sequence[str]
) -> VersionHead:
    """GroupMemberMgo.Delete"""
    await session.execute(
        delete(GroupMemberRow).where(GroupMemberRow.group_id == group_id, GroupMemberRow.user_id.in_(list(user_ids)))
    )
    head = await versions.incr(session, GROUP_MEMBERS, group_id, user_ids, VersionState.DELETE)
    for user_id in user_ids:
        await versions.incr(session, JOINED_GROUPS, user_id, [group_id], VersionState.DELETE)
    return head


async def replace_requests(session: AsyncSession, rows: Sequence[GroupRequestRow]) -> None:
    """CreateGroupRequest: a new request replaces the user's earlier one for that group."""
    for row in rows:
        same = (GroupRequestRow.group_id == row.group_id, GroupRequestRow.user_id == row.user_id)
        await session.execute(delete(GroupRequestRow).where(*same))
    session.add_all(rows)
    await session.flush()


async def touch_group(session: AsyncSession, versions: VersionLogs, group_id: str) -> VersionHead:
    """UpdateGroup: the group's own fields changed (MemberGroupIncrVersion with "")."""
    return await versions.incr(session, GROUP_MEMBERS, group_id, [GROUP_CHANGE_ID], VersionState.UPDATE)


async def member_rows_showing_profile(session: AsyncSession, user_id: str) -> list[GroupMemberRow]:
    """The user's member rows lacking a group nickname or faceURL (they show the user's own)."""
    stmt = select(GroupMemberRow).where(
        GroupMemberRow.user_id == user_id, (GroupMemberRow.nickname == "") | (GroupMemberRow.face_url == "")
    )
    return list((await session.execute(stmt.order_by(GroupMemberRow.id))).scalars())


async def log_member_change(session: AsyncSession, versions: VersionLogs, group_id: str, user_id: str) -> VersionHead:
    """MemberGroupIncrVersion: a member changed without its row changing (its user's profile)."""
    return await versions.incr(session, GROUP_MEMBERS, group_id, [user_id], VersionState.UPDATE)


async def touch_members(
    session: AsyncSession,
    versions: VersionLogs,
    group_id: str,
    changes: Sequence[tuple[str, dict[str, object]]],
) -> VersionHead:
    """GroupMemberMgo.Update per member; a role change also logs the sort pseudo-ID first."""
    ids: list[str] = []
    for user_id, values in changes:
        if values:
            await session.execute(
                update(GroupMemberRow)
                .where(GroupMemberRow.group_id == group_id, GroupMemberRow.user_id == user_id)
                .values(**values)
            )
            if "role_level" in values and SORT_CHANGE_ID not in ids:
                ids.insert(0, SORT_CHANGE_ID)
            ids.append(user_id)
    return await versions.incr(session, GROUP_MEMBERS, group_id, ids, VersionState.UPDATE)
