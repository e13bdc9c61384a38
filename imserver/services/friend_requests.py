"""Friend requests (open-im-server internal/rpc/relation/friend.go, notification.go,
pkg/common/storage/controller/friend.go), on SQL.

Behaviour kept from OpenIM 3.8.3 on purpose:

* add_friend does not look at blacklists (ApplyToAddFriend has no such check,
  so 1302 BlockedByPeer never comes from here); it refuses self (1301) and an
  existing two-way friendship (1304), and re-applying resets the request.
* Accepting an already handled request is 1001 ArgsError, refusing one is 1305
  FriendRequestHandled (AgreeFriendRequest vs RefuseFriendRequest); a missing
  request is 1004 RecordNotFoundError. Accepting also accepts a pending
  reverse request and creates whichever friend directions are missing, with
  addSource 2 and operatorUserID = the applicant.

Unknown users are 1101 UserIDNotFoundError (3.8.3's CheckUser says 1004).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.protocol.constants import AddSource, ContentType, HandleResult
from core.protocol.errcodes import ErrCode
from imserver.db import make_read_sessionmaker
from imserver.errors import ImError
from imserver.models import FriendRequestRow
from imserver.notify import Notifier
from imserver.reads import ReadTx, reads_for
from imserver.services import friendship
from imserver.services.common import Operator, Page, load_users, page_params, paged_stmt, read_users
from imserver.services.convert import friend_request
from imserver.services.sdkws import (
    FriendApplicationApprovedTips,
    FriendApplicationRejectedTips,
    FriendApplicationTips,
    FriendRequest,
    FromToUserID,
)
from imserver.services.users import UserService
from imserver.services.versions import VersionLogs
from imserver.settings import ImServerSettings

__all__ = ["FriendRequestService", "RequestPage"]


@dataclass(frozen=True, slots=True)
class RequestPage:
    total: int
    requests: list[FriendRequest] | None


class FriendRequestService:
    """add_friend, add_friend_response and the request listings."""

    def __init__(
        self,
        settings: ImServerSettings,
        sessionmaker: async_sessionmaker[AsyncSession],
        versions: VersionLogs,
        notifier: Notifier,
        users: UserService,
    ) -> None:
        self._settings = settings
        self._sessionmaker = sessionmaker
        self._reads = make_read_sessionmaker(sessionmaker)  # pure reads: inline on SQLite (db.py)
        self._fast_reads = reads_for(sessionmaker)
        self._versions = versions
        self._notifier = notifier
        self._users = users

    async def apply(self, op: Operator, from_id: str, to_id: str, req_msg: str, ex: str) -> None:
        if from_id == to_id:
            raise ImError(ErrCode.CanNotAddYourselfError, f"req.ToUserID {to_id}")
        await self._users.check_exist([to_id, from_id])
        now = self._settings.now_ms()
        async with self._sessionmaker.begin() as session:
            in1, in2 = await friendship.check_in(session, from_id, to_id)
            if in1 and in2:
                raise ImError(ErrCode.RelationshipAlreadyError, "already friends has f")
            row = await self._take(session, from_id, to_id)
            if row is None:
                session.add(
                    FriendRequestRow(
                        from_user_id=from_id,
                        to_user_id=to_id,
                        req_msg=req_msg,
                        ex=ex,
                        create_time=now,
                        handle_result=HandleResult.UNHANDLED,
                        handler_user_id="",
                        handle_msg="",
                        handle_time=0,
                    )
                )
            else:
                row.handle_result, row.handle_msg, row.req_msg, row.ex, row.create_time = 0, "", req_msg, ex, now
            await session.flush()
            request = await self._request(session, from_id, to_id)
        tips = FriendApplicationTips(fromToUserID=FromToUserID(fromUserID=from_id, toUserID=to_id), request=request)
        await self._notifier.send(op.operation_id, from_id, to_id, ContentType.FRIEND_APPLICATION, tips)

    async def respond(self, op: Operator, from_id: str, to_id: str, handle_result: int, handle_msg: str) -> None:
        """`to_id` (the caller) answers the request `from_id` sent."""
        if handle_result == HandleResult.AGREE:
            request = await self._agree(op, from_id, to_id, handle_msg)
            approved = FriendApplicationApprovedTips(
                fromToUserID=FromToUserID(fromUserID=from_id, toUserID=to_id), handleMsg=handle_msg, request=request
            )
            await self._notifier.send(
                op.operation_id, to_id, from_id, ContentType.FRIEND_APPLICATION_APPROVED, approved
            )
        elif handle_result == HandleResult.REFUSE:
            request = await self._refuse(from_id, to_id, handle_msg)
            rejected = FriendApplicationRejectedTips(
                fromToUserID=FromToUserID(fromUserID=from_id, toUserID=to_id), handleMsg=handle_msg, request=request
            )
            await self._notifier.send(
                op.operation_id, to_id, from_id, ContentType.FRIEND_APPLICATION_REJECTED, rejected
            )
        else:
            raise ImError(ErrCode.ArgsError, "req.HandleResult != -1/1")

    async def received(self, user_id: str, handle_results: Sequence[int], page: Page | None) -> RequestPage:
        return await self._page("to_user_id", user_id, handle_results, page)

    async def sent(self, user_id: str, handle_results: Sequence[int], page: Page | None) -> RequestPage:
        return await self._page("from_user_id", user_id, handle_results, page)

    async def between(self, from_id: str, to_id: str) -> list[FriendRequest] | None:
        """Requests in both directions (FindBothFriendRequests)."""
        async with self._reads() as session:
            rows = list(
                (
                    await session.execute(
                        select(FriendRequestRow)
                        .where(
                            ((FriendRequestRow.from_user_id == from_id) & (FriendRequestRow.to_user_id == to_id))
                            | ((FriendRequestRow.from_user_id == to_id) & (FriendRequestRow.to_user_id == from_id))
                        )
                        .order_by(FriendRequestRow.id)
                    )
                ).scalars()
            )
            users = await load_users(session, [from_id, to_id])
        return [friend_request(r, users) for r in rows] or None

    async def unhandled_count(self, user_id: str, after_ms: int) -> int:
        cond = [FriendRequestRow.to_user_id == user_id, FriendRequestRow.handle_result == HandleResult.UNHANDLED]
        if after_ms:
            cond.append(FriendRequestRow.create_time > after_ms)
        async with self._reads() as session:
            return (await session.execute(select(func.count()).select_from(FriendRequestRow).where(*cond))).scalar_one()

    async def _agree(self, op: Operator, from_id: str, to_id: str, handle_msg: str) -> FriendRequest | None:
        now = self._settings.now_ms()
        async with self._sessionmaker.begin() as session:
            row = await self._take(session, from_id, to_id)
            if row is None:
                raise ImError(ErrCode.RecordNotFoundError, "friend request not found")
            if row.handle_result != HandleResult.UNHANDLED:
                raise ImError(ErrCode.ArgsError, "the friend request has been processed")
            self._handle(row, HandleResult.AGREE, op.user_id, handle_msg, now)
            reverse = await self._take(session, to_id, from_id)
            if reverse is not None and reverse.handle_result == HandleResult.UNHANDLED:
                self._handle(reverse, HandleResult.AGREE, op.user_id, "", now)
            await friendship.become_friends(
                session, self._versions, [(to_id, from_id), (from_id, to_id)], AddSource.BY_APPLY, from_id, now
            )
            return await self._request(session, from_id, to_id)

    async def _refuse(self, from_id: str, to_id: str, handle_msg: str) -> FriendRequest | None:
        async with self._sessionmaker.begin() as session:
            row = await self._take(session, from_id, to_id)
            if row is None:
                raise ImError(ErrCode.RecordNotFoundError, "friend request not found")
            if row.handle_result != HandleResult.UNHANDLED:
                raise ImError(ErrCode.FriendRequestHandled, "friend request has already been processed")
            # RefuseFriendRequest leaves handlerUserID unset.
            self._handle(row, HandleResult.REFUSE, "", handle_msg, self._settings.now_ms())
            await session.flush()
            return await self._request(session, from_id, to_id)

    @staticmethod
    def _handle(row: FriendRequestRow, result: int, handler: str, handle_msg: str, now: int) -> None:
        # mgo FriendRequestMgo.Update writes only non-empty fields.
        row.handle_result = result
        row.handle_time = now
        if handler:
            row.handler_user_id = handler
        if handle_msg:
            row.handle_msg = handle_msg

    async def _page(self, owner: str, user_id: str, handle_results: Sequence[int], page: Page | None) -> RequestPage:
        count, select_page, params = _page_statements(owner, bool(handle_results), page)
        params["owner"] = user_id
        if handle_results:
            params["results"] = list(handle_results)

        def read(tx: ReadTx) -> RequestPage:
            total = tx.scalar(count, params)
            rows = [] if select_page is None else tx.rows(select_page, params)
            users = read_users(tx, [u for r in rows for u in (r.from_user_id, r.to_user_id)])
            return RequestPage(total, [friend_request(r, users) for r in rows] or None)

        return await self._fast_reads.run(read)

    @staticmethod
    async def _take(session: AsyncSession, from_id: str, to_id: str) -> FriendRequestRow | None:
        return (
            await session.execute(
                select(FriendRequestRow).where(
                    FriendRequestRow.from_user_id == from_id, FriendRequestRow.to_user_id == to_id
                )
            )
        ).scalar_one_or_none()

    async def _request(self, session: AsyncSession, from_id: str, to_id: str) -> FriendRequest | None:
        row = await self._take(session, from_id, to_id)
        if row is None:
            return None
        return friend_request(row, await load_users(session, [from_id, to_id]))


@functools.cache
def _statements(owner: str, by_result: bool, paged: bool) -> tuple[Select[Any], Select[Any]]:
    """The count and the page of one listing, built once (bind values: owner, results, offset, limit)."""
    t = FriendRequestRow.__table__
    cond = [t.c[owner] == bindparam("owner")]
    if by_result:
        cond.append(t.c.handle_result.in_(bindparam("results", expanding=True)))
    rows = select(t).where(*cond).order_by(t.c.create_time.desc(), t.c.id.desc())
    return select(func.count()).select_from(t).where(*cond), paged_stmt(rows) if paged else rows


def _page_statements(
    owner: str, by_result: bool, page: Page | None
) -> tuple[Select[Any], Select[Any] | None, dict[str, Any]]:
    params = page_params(page)
    count, rows = _statements(owner, by_result, bool(params))
    return count, None if params is None else rows, dict(params or {})
