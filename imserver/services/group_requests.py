"""Join requests: join_group, group_application_response and the request listings.

Port of open-im-server internal/rpc/group/group.go (JoinGroup,
GroupApplicationResponse, GetGroupApplicationList, GetUserReqApplicationList,
GetGroupUsersReqApplicationList, GetSpecifiedUserGroupRequestInfo,
GetGroupApplicationUnhandledCount) and mgo/group_request.go (newest request
first). Join policy (group.needVerification): 2 Directly joins at once (1510),
anything else stores a request announced with 1503; invitations are in
group_members.py.

Where 3.8.3 is loose, imserver is stricter or fixes an evident slip:

* the applicant of join_group is `inviterUserID` (the SDK sets it to itself)
  and must be the caller unless an admin calls (3.8.3 checks nothing);
* a handled request records handleMsg, handleUserID and handleTime (3.8.3
  writes the message under a wrong key and never sets the other two);
* the listings check their owner like every other route (CheckAccessV3), and
  get_group_users_req_application_list is for the group's owner/admins or
  for a user asking about itself; it fills userInfo (3.8.3 leaves it null).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.protocol.constants import GroupStatus, HandleResult, NeedVerification, RoleLevel
from core.protocol.errcodes import ErrCode
from imserver.db import make_read_sessionmaker
from imserver.errors import ImError
from imserver.models import GroupMemberRow, GroupRequestRow
from imserver.reads import ReadTx, reads_for
from imserver.services import group_reads
from imserver.services import group_store as store
from imserver.services.common import Operator, Page, load_users, page_params, paged, paged_stmt, read_users
from imserver.services.convert import group_request
from imserver.services.group_members import GroupMemberService
from imserver.services.group_notify import GroupNotifier
from imserver.services.sdkws_group import GroupRequest
from imserver.services.users import UserService
from imserver.services.versions import VersionLogs
from imserver.settings import ImServerSettings

__all__ = ["GroupRequestPage", "GroupRequestService"]


@dataclass(frozen=True, slots=True)
class GroupRequestPage:
    total: int
    requests: list[GroupRequest] | None


class GroupRequestService:
    def __init__(
        self,
        settings: ImServerSettings,
        sessionmaker: async_sessionmaker[AsyncSession],
        versions: VersionLogs,
        notify: GroupNotifier,
        users: UserService,
        members: GroupMemberService,
    ) -> None:
        self._settings = settings
        self._sessionmaker = sessionmaker
        self._reads = make_read_sessionmaker(sessionmaker)  # pure reads: inline on SQLite (db.py)
        self._fast_reads = reads_for(sessionmaker)
        self._versions = versions
        self._notify = notify
        self._users = users
        self._members = members

    async def join(self, op: Operator, group_id: str, applicant: str, req_msg: str, join_source: int, ex: str) -> None:
        await self._users.require(applicant)
        now = self._settings.now_ms()
        async with self._sessionmaker.begin() as session:
            group = await store.take_group(session, group_id)
            if group.status == GroupStatus.DISMISSED:
                raise ImError(ErrCode.DismissedAlreadyError, "group dismissed")
            if await store.take_member(session, group_id, applicant) is not None:
                raise ImError(ErrCode.ArgsError, f"user {applicant} is already in group {group_id}")
            if group.need_verification == NeedVerification.DIRECTLY:
                row = GroupMemberRow(
                    group_id=group_id,
                    user_id=applicant,
                    nickname="",
                    face_url="",
                    role_level=RoleLevel.ORDINARY,
                    join_time=now,
                    join_source=join_source,
                    inviter_user_id=applicant,
                    operator_user_id=op.user_id,
                    mute_end_time=0,
                    ex="",
                )
                head = await store.add_members(session, self._versions, [row])
            else:
                request = GroupRequestRow(
                    group_id=group_id,
                    user_id=applicant,
                    handle_result=HandleResult.UNHANDLED,
                    req_msg=req_msg,
                    handled_msg="",
                    req_time=now,
                    handle_user_id="",
                    handled_time=0,
                    join_source=join_source,
                    inviter_user_id="",
                    ex=ex,
                )
                await store.replace_requests(session, [request])
                head = None
        if head is None:
            await self._notify.join_application(op, group_id, applicant, applicant, req_msg)
        else:
            await self._members.after_join(op, group_id, [applicant], None, head)

    async def respond(self, op: Operator, group_id: str, applicant: str, handled_msg: str, result: int) -> None:
        if result not in (HandleResult.AGREE, HandleResult.REFUSE):
            raise ImError(ErrCode.ArgsError, "HandleResult unknown")
        now = self._settings.now_ms()
        head = None
        await self._users.check_exist([applicant])
        async with self._sessionmaker.begin() as session:
            await store.take_group(session, group_id)
            await store.check_manager(session, group_id, op.user_id, op.is_admin)
            request = await store.take_request(session, group_id, applicant)
            if request is None:
                raise ImError(ErrCode.RecordNotFoundError, "group request not found")
            if request.handle_result != HandleResult.UNHANDLED:
                raise ImError(ErrCode.GroupRequestHandled, "group request already processed")
            in_group = await store.take_member(session, group_id, applicant) is not None
            request.handle_result = result
            request.handled_msg = handled_msg
            request.handle_user_id = op.user_id
            request.handled_time = now
            await session.flush()
            if result == HandleResult.AGREE and not in_group:
                member = GroupMemberRow(
                    group_id=group_id,
                    user_id=applicant,
                    nickname="",
                    face_url="",
                    role_level=RoleLevel.ORDINARY,
                    join_time=now,
                    join_source=request.join_source,
                    inviter_user_id=request.inviter_user_id,
                    operator_user_id=op.user_id,
                    mute_end_time=0,
                    ex="",
                )
                head = await store.add_members(session, self._versions, [member])
            inviter = request.inviter_user_id
        await self._notify.application_handled(op, group_id, applicant, handled_msg, result == HandleResult.AGREE)
        if head is not None:
            await self._members.after_join(op, group_id, [applicant], inviter or None, head)

    async def received(
        self, op: Operator, manager: str, group_ids: Sequence[str], handle_results: Sequence[int], page: Page | None
    ) -> GroupRequestPage:
        """GetGroupApplicationList: requests to the groups `manager` owns or administers."""
        if not group_ids:  # the SDK's login sync: prebuilt statements in one read transaction

            def read(tx: ReadTx) -> GroupRequestPage:
                managed = group_reads.managed_group_ids(tx, manager)
                if not managed:
                    return GroupRequestPage(0, None)
                return _read_page(tx, "group_id", managed, handle_results, page, managed)

            return await self._fast_reads.run(read)
        async with self._reads() as session:
            ids = list(dict.fromkeys(group_ids))
            for group_id in ids:
                await store.check_manager(session, group_id, op.user_id, op.is_admin)
            return await self._page(session, [GroupRequestRow.group_id.in_(ids)], handle_results, page, ids)

    async def sent(
        self, user_id: str, group_ids: Sequence[str], handle_results: Sequence[int], page: Page | None
    ) -> GroupRequestPage:
        """GetUserReqApplicationList: the user's own requests."""
        await self._users.require(user_id)
        groups = list(dict.fromkeys(group_ids)) or None
        return await self._fast_reads.run(
            lambda tx: _read_page(tx, "user_id", user_id, handle_results, page, None, groups)
        )

    async def of_users(self, op: Operator, group_id: str, user_ids: Sequence[str]) -> list[GroupRequest]:
        """GetGroupUsersReqApplicationList / GetSpecifiedUserGroupRequestInfo."""
        async with self._reads() as session:
            await store.take_group(session, group_id)
            if not op.is_admin and list(dict.fromkeys(user_ids)) != [op.user_id]:
                managers = await store.role_member_ids(session, group_id, [RoleLevel.OWNER, RoleLevel.ADMIN])
                if op.user_id not in managers:
                    raise ImError(ErrCode.NoPermissionError, "opUser no permission")
            cond = [GroupRequestRow.group_id == group_id, GroupRequestRow.user_id.in_(list(user_ids))]
            return (await self._page(session, cond, (), None, [group_id])).requests or []

    async def unhandled_count(self, user_id: str, after_ms: int) -> int:
        async with self._reads() as session:
            ids = await store.managed_group_ids(session, user_id)
            if not ids:
                return 0
            cond = [GroupRequestRow.group_id.in_(ids), GroupRequestRow.handle_result == HandleResult.UNHANDLED]
            if after_ms:
                cond.append(GroupRequestRow.req_time > after_ms)
            stmt = select(func.count()).select_from(GroupRequestRow).where(*cond)
            return (await session.execute(stmt)).scalar_one()

    @staticmethod
    async def _page(
        session: AsyncSession,
        cond: Sequence[ColumnElement[bool]],
        handle_results: Sequence[int],
        page: Page | None,
        group_ids: Sequence[str] | None = None,
    ) -> GroupRequestPage:
        where = list(cond)
        if handle_results:
            where.append(GroupRequestRow.handle_result.in_(list(handle_results)))
        total = (await session.execute(select(func.count()).select_from(GroupRequestRow).where(*where))).scalar_one()
        stmt = paged(
            select(GroupRequestRow).where(*where).order_by(GroupRequestRow.req_time.desc(), GroupRequestRow.id.desc()),
            page,
        )
        rows = [] if stmt is None else list((await session.execute(stmt)).scalars())
        if not rows:
            return GroupRequestPage(total, None)
        wanted = list(dict.fromkeys(r.group_id for r in rows))
        groups = {g.groupID: g for g in await store.group_infos(session, wanted)}
        if group_ids is not None and (missing := [g for g in wanted if g not in groups]):
            raise ImError(ErrCode.GroupIDNotFoundError, ",".join(missing))
        users = await load_users(session, [r.user_id for r in rows])
        return GroupRequestPage(total, [group_request(r, users.get(r.user_id), groups.get(r.group_id)) for r in rows])


@functools.cache
def _statements(owner: str, by_group: bool, by_result: bool, paged: bool) -> tuple[Select[Any], Select[Any]]:
    """`_page`'s count and page, built once: `owner` (user_id = :owner, or group_id IN :owner),
    optionally group_id IN :groups and handle_result IN :results; offset/limit when paged."""
    t = GroupRequestRow.__table__
    cond: list[ColumnElement[bool]]
    if owner == "group_id":
        cond = [t.c.group_id.in_(bindparam("owner", expanding=True))]
    else:
        cond = [t.c.user_id == bindparam("owner")]
    if by_group:
        cond.append(t.c.group_id.in_(bindparam("groups", expanding=True)))
    if by_result:
        cond.append(t.c.handle_result.in_(bindparam("results", expanding=True)))
    rows = select(t).where(*cond).order_by(t.c.req_time.desc(), t.c.id.desc())
    return select(func.count()).select_from(t).where(*cond), paged_stmt(rows) if paged else rows


def _read_page(
    tx: ReadTx,
    owner: str,
    owner_value: str | list[str],
    handle_results: Sequence[int],
    page: Page | None,
    group_ids: Sequence[str] | None,
    groups: list[str] | None = None,
) -> GroupRequestPage:
    """`GroupRequestService._page` in a read transaction."""
    paging = page_params(page)
    count, select_page = _statements(owner, groups is not None, bool(handle_results), bool(paging))
    params: dict[str, Any] = {"owner": owner_value, **(paging or {})}
    if groups is not None:
        params["groups"] = groups
    if handle_results:
        params["results"] = list(handle_results)
    total = tx.scalar(count, params)
    rows = [] if paging is None else tx.rows(select_page, params)
    if not rows:
        return GroupRequestPage(total, None)
    wanted = list(dict.fromkeys(r.group_id for r in rows))
    infos = {g.groupID: g for g in group_reads.group_infos(tx, wanted)}
    if group_ids is not None and (missing := [g for g in wanted if g not in infos]):
        raise ImError(ErrCode.GroupIDNotFoundError, ",".join(missing))
    users = read_users(tx, [r.user_id for r in rows])
    return GroupRequestPage(total, [group_request(r, users.get(r.user_id), infos.get(r.group_id)) for r in rows])
