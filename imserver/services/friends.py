"""Friend lists: read, import, delete, remark/pin/ex, and version sync.

Port of open-im-server internal/rpc/relation/friend.go and sync.go on SQL.
Behaviour kept from OpenIM 3.8.3 on purpose:

* delete_friend removes one direction only and succeeds (and notifies) for a
  non-friend; set_friend_remark on a non-friend is 1004 (UpdateOne "not
  matched"); update_friends silently skips non-friends.
* Tips carry no friendVersion: 3.8.3 leaves it zero for 1201/1205/1210, and
  its 1206 lookup never matches (setSortVersion compares the owner's log with
  the friend's ID). The SDK re-syncs incrementally on all of them anyway.
* import_friend announces each new friend with a 1201 from the friend to the
  owner whose tips have no request (FriendApplicationAgreedNotification with
  checkReq=false).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.protocol.constants import AddSource, ContentType
from core.protocol.errcodes import ErrCode
from imserver.db import make_read_sessionmaker, small_writes_for
from imserver.errors import ImError
from imserver.models import BlackRow, FriendRow
from imserver.notify import Notifier
from imserver.reads import ReadTx, reads_for
from imserver.services import friendship
from imserver.services.common import Operator, Page, load_users, page_params
from imserver.services.convert import black_info, friend_info, user_info
from imserver.services.sdkws import (
    BlackInfo,
    FriendApplicationApprovedTips,
    FriendDeletedTips,
    FriendInfo,
    FriendInfoChangedTips,
    FriendsInfoUpdateTips,
    FromToUserID,
    UserInfo,
)
from imserver.services.users import UserService
from imserver.services.versions import (
    FRIENDS,
    SORT_CHANGE_ID,
    Delta,
    VersionHead,
    VersionLogs,
    VersionState,
    id_hash,
    read_delta,
)
from imserver.settings import ImServerSettings

__all__ = ["FriendIncrement", "FriendService", "FullIDs", "SpecifiedInfo"]


@dataclass(frozen=True, slots=True)
class FriendIncrement:
    head: VersionHead
    full: bool
    delete: list[str] | None
    insert: list[FriendInfo] | None
    update: list[FriendInfo] | None
    sort_version: int


@dataclass(frozen=True, slots=True)
class FullIDs:
    head: VersionHead
    equal: bool
    ids: list[str] | None


@dataclass(frozen=True, slots=True)
class SpecifiedInfo:
    user: UserInfo
    friend: FriendInfo | None
    black: BlackInfo | None


class FriendService:
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
        # Pure reads (every login syncs the lists): inline on SQLite, no thread hop (db.py).
        self._reads = make_read_sessionmaker(sessionmaker)
        self._fast_reads = reads_for(sessionmaker)
        self._writes = small_writes_for(sessionmaker)
        self._versions = versions
        self._notifier = notifier
        self._users = users

    async def import_friends(self, op: Operator, owner: str, friend_ids: Sequence[str]) -> None:
        await self._users.check_exist([owner, *friend_ids])
        if owner in friend_ids:
            raise ImError(ErrCode.CanNotAddYourselfError, "can not add yourself")
        if len(set(friend_ids)) != len(friend_ids):
            raise ImError(ErrCode.ArgsError, "friend userID repeated")
        pairs = [p for f in friend_ids for p in ((owner, f), (f, owner))]
        async with self._sessionmaker.begin() as session:
            await friendship.become_friends(
                session, self._versions, pairs, AddSource.BY_IMPORT, op.user_id, self._settings.now_ms()
            )
        for friend in friend_ids:
            tips = FriendApplicationApprovedTips(fromToUserID=FromToUserID(fromUserID=owner, toUserID=friend))
            await self._notifier.send(op.operation_id, friend, owner, ContentType.FRIEND_APPLICATION_APPROVED, tips)

    async def delete(self, op: Operator, owner: str, friend: str) -> None:
        async with self._sessionmaker.begin() as session:
            await session.execute(
                delete(FriendRow).where(FriendRow.owner_user_id == owner, FriendRow.friend_user_id == friend)
            )
            await self._versions.incr(session, FRIENDS, owner, [friend], VersionState.DELETE)
        tips = FriendDeletedTips(fromToUserID=FromToUserID(fromUserID=owner, toUserID=friend))
        await self._notifier.send(op.operation_id, owner, friend, ContentType.FRIEND_DELETED, tips)

    async def set_remark(self, op: Operator, owner: str, friend: str, remark: str) -> None:
        async with self._sessionmaker.begin() as session:
            result = await session.execute(
                update(FriendRow)
                .where(FriendRow.owner_user_id == owner, FriendRow.friend_user_id == friend)
                .values(remark=remark)
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise ImError(ErrCode.RecordNotFoundError, "mongo update not matched")
            await self._versions.incr(session, FRIENDS, owner, [friend], VersionState.UPDATE)
        tips = FriendInfoChangedTips(fromToUserID=FromToUserID(fromUserID=owner, toUserID=friend))
        await self._notifier.send(op.operation_id, owner, friend, ContentType.FRIEND_REMARK_SET, tips)

    async def update_friends(
        self,
        op: Operator,
        owner: str,
        friend_ids: Sequence[str],
        *,
        is_pinned: bool | None,
        remark: str | None,
        ex: str | None,
    ) -> None:
        if not friend_ids:
            raise ImError(ErrCode.ArgsError, "friendIDList is empty")
        if len(set(friend_ids)) != len(friend_ids):
            raise ImError(ErrCode.ArgsError, "friendIDList repeated")
        values = {k: v for k, v in (("is_pinned", is_pinned), ("remark", remark), ("ex", ex)) if v is not None}
        if values:
            async with self._sessionmaker.begin() as session:
                await session.execute(
                    update(FriendRow)
                    .where(FriendRow.owner_user_id == owner, FriendRow.friend_user_id.in_(list(friend_ids)))
                    .values(**values)
                )
                # A pin change reorders the list: log the sort pseudo-element first (mgo/friend.go).
                ids = [SORT_CHANGE_ID, *friend_ids] if is_pinned is not None else list(friend_ids)
                await self._versions.incr(session, FRIENDS, owner, ids, VersionState.UPDATE)
        tips = FriendsInfoUpdateTips(fromToUserID=FromToUserID(toUserID=owner), friendIDs=list(friend_ids))
        await self._notifier.send(op.operation_id, owner, owner, ContentType.FRIENDS_INFO_UPDATE, tips)

    async def is_friend(self, user1: str, user2: str) -> tuple[bool, bool]:
        async with self._reads() as session:
            return await friendship.check_in(session, user1, user2)

    async def page(self, owner: str, page: Page | None) -> tuple[int, list[FriendInfo] | None]:
        paging = page_params(page)
        return await self._fast_reads.run(lambda tx: friendship.read_page(tx, owner, paging))

    async def designated(self, owner: str, friend_ids: Sequence[str]) -> list[FriendInfo] | None:
        async with self._reads() as session:
            return await friendship.friend_infos(session, owner, friend_ids)

    async def friend_ids(self, owner: str) -> list[str]:
        async with self._reads() as session:
            return await self._friend_ids(session, owner)

    async def specified(self, owner: str, user_ids: Sequence[str]) -> list[SpecifiedInfo]:
        """GetSpecifiedFriendsInfo: per known user, its friend and black rows (ms times, no nested user)."""
        if not user_ids:
            raise ImError(ErrCode.ArgsError, "userIDList is empty")
        if len(set(user_ids)) != len(user_ids):
            raise ImError(ErrCode.ArgsError, "userIDList repeated")
        async with self._reads() as session:
            users = await load_users(session, user_ids)
            friends = {r.friend_user_id: r for r in await friendship.friend_rows(session, owner, user_ids)}
            blacks = {
                r.block_user_id: r
                for r in (
                    await session.execute(
                        select(BlackRow).where(
                            BlackRow.owner_user_id == owner, BlackRow.block_user_id.in_(list(user_ids))
                        )
                    )
                ).scalars()
            }
        result = []
        for user_id in user_ids:
            if user_id not in users:
                continue
            friend, black = friends.get(user_id), blacks.get(user_id)
            result.append(
                SpecifiedInfo(
                    user=user_info(users[user_id]),
                    friend=None if friend is None else friend_info(friend, None, millis=True, with_user=False),
                    black=None if black is None else black_info(black, None, millis=True, with_user=False),
                )
            )
        return result

    async def incremental(self, owner: str, version_id: str, version: int) -> FriendIncrement:
        def read(tx: ReadTx) -> FriendIncrement | None:  # once the log exists (its first read creates it)
            delta = read_delta(tx, FRIENDS, owner, version_id, version)
            if delta is None:
                return None
            insert = friendship.read_friend_infos(tx, owner, delta.insert_ids or [])
            changed = friendship.read_friend_infos(tx, owner, delta.update_ids or [])
            return FriendIncrement(delta.head, delta.full, delta.delete_ids, insert, changed, delta.sort_version)

        for first in (True, False):
            found = await self._fast_reads.run(read)
            if found is not None:
                return found
            if first:
                await self._writes.run(self._versions.first_log(FRIENDS, owner))
        async with self._sessionmaker.begin() as session:
            delta = await self._versions.delta(session, FRIENDS, owner, version_id, version)
            return await self._increment(session, owner, delta)

    @staticmethod
    async def _increment(session: AsyncSession, owner: str, delta: Delta) -> FriendIncrement:
        insert = await friendship.friend_infos(session, owner, delta.insert_ids or [])
        changed = await friendship.friend_infos(session, owner, delta.update_ids or [])
        return FriendIncrement(delta.head, delta.full, delta.delete_ids, insert, changed, delta.sort_version)

    async def full_ids(self, owner: str, client_hash: int) -> FullIDs:
        async with self._sessionmaker.begin() as session:
            head = await self._versions.head(session, FRIENDS, owner)
            ids = await self._friend_ids(session, owner)
        equal = client_hash == id_hash(ids)
        return FullIDs(head, equal, None if equal else ids or None)

    @staticmethod
    async def _friend_ids(session: AsyncSession, owner: str) -> list[str]:
        return [r.friend_user_id for r in (await session.execute(friendship.owner_friends(owner))).scalars()]
