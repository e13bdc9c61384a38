"""Users: registration, profiles, lookups (open-im-server internal/rpc/user/user.go).

Profile changes notify like OpenIM: 1303 UserInfoUpdated from the operator to
the changed user; when nickname or faceURL changed, every user who has the
changed user as a friend gets a friend-version update and a 1209
FriendInfoUpdated (internal/rpc/relation/sync.go NotificationUserInfoUpdate).
OpenIM walks the changed user's own friend list there, assuming friendship is
symmetric; after a one-sided delete that would notify the wrong people, so
imserver asks the reverse question (who lists this user).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.protocol.constants import AppManagerLevel, ContentType
from core.protocol.errcodes import ErrCode
from imserver.db import make_read_sessionmaker
from imserver.errors import ImError
from imserver.models import FriendRow, UserRow
from imserver.notify import Notifier
from imserver.reads import reads_for
from imserver.services.common import Operator, Page, distinct, insert_ignore, paged, read_users
from imserver.services.convert import user_info
from imserver.services.sdkws import UserInfo, UserInfoUpdatedTips
from imserver.services.versions import FRIENDS, VersionLogs, VersionState
from imserver.settings import ImServerSettings

# One user by id, prebuilt (imserver.reads): every call that names users checks them.
_USER = select(UserRow.__table__).where(UserRow.__table__.c.user_id == bindparam("id"))

__all__ = ["ProfileHook", "UserChanges", "UserService"]

ProfileHook = Callable[[Operator, str], Awaitable[None]]

# constant.IMOrdinaryUser / AppOrdinaryUsers: the levels /user/get_users lists.
_LISTED_LEVELS = (AppManagerLevel.IM_ORDINARY_USER, AppManagerLevel.APP_ORDINARY_USERS)


@dataclass(frozen=True, slots=True)
class UserChanges:
    """Fields to set; None = leave unchanged."""

    nickname: str | None = None
    face_url: str | None = None
    ex: str | None = None
    global_recv_msg_opt: int | None = None
    app_manger_level: int | None = None

    def values(self) -> dict[str, object]:
        pairs = {
            "nickname": self.nickname,
            "face_url": self.face_url,
            "ex": self.ex,
            "global_recv_msg_opt": self.global_recv_msg_opt,
            "app_manger_level": self.app_manger_level,
        }
        return {k: v for k, v in pairs.items() if v is not None}


class UserService:
    def __init__(
        self,
        settings: ImServerSettings,
        sessionmaker: async_sessionmaker[AsyncSession],
        versions: VersionLogs,
        notifier: Notifier,
    ) -> None:
        self._settings = settings
        self._sessionmaker = sessionmaker
        self._reads = make_read_sessionmaker(sessionmaker)  # pure reads: inline on SQLite (db.py)
        self._fast_reads = reads_for(sessionmaker)
        self._versions = versions
        self._notifier = notifier
        self._profile_hooks: list[ProfileHook] = []

    def on_profile_change(self, hook: ProfileHook) -> None:
        """Run `hook(op, userID)` after a user's nickname or faceURL changed (user.go
        NotificationUserInfoUpdate also tells the group service, which lives apart)."""
        self._profile_hooks.append(hook)

    async def ensure_admins(self) -> None:
        """Create every imAdminUserID as a user (user.go Start: nickname = userID, level 3)."""
        now = self._settings.now_ms()
        rows = [
            {
                "user_id": user_id,
                "nickname": user_id,
                "face_url": "",
                "ex": "",
                "create_time": now,
                "app_manger_level": AppManagerLevel.APP_NOTIFICATION_ADMIN,
                "global_recv_msg_opt": 0,
            }
            for user_id in self._settings.admin_user_ids
        ]
        async with self._sessionmaker.begin() as session:
            await insert_ignore(session, UserRow, rows)

    async def register(self, users: Sequence[UserInfo]) -> None:
        ids = [u.userID for u in users]
        if len(set(ids)) != len(ids):
            raise ImError(ErrCode.ArgsError, "userID repeated")
        for user in users:
            if not user.userID or ":" in user.userID:
                raise ImError(ErrCode.ArgsError, f"userID {user.userID!r} is invalid")
            if not user.nickname:
                raise ImError(ErrCode.ArgsError, "user name is empty")
        now = self._settings.now_ms()
        async with self._sessionmaker.begin() as session:
            existing = await session.execute(select(UserRow.user_id).where(UserRow.user_id.in_(ids)))
            if taken := existing.scalars().all():
                raise ImError(ErrCode.RegisteredAlreadyError, f"userID registered already: {', '.join(taken)}")
            session.add_all(
                UserRow(
                    user_id=u.userID,
                    nickname=u.nickname,
                    face_url=u.faceURL,
                    ex=u.ex,
                    create_time=now,
                    app_manger_level=u.appMangerLevel,
                    global_recv_msg_opt=u.globalRecvMsgOpt,
                )
                for u in users
            )

    async def get(self, user_id: str) -> UserInfo | None:
        rows = await self._fast_reads.run(lambda tx: tx.rows(_USER, {"id": user_id}))
        return user_info(rows[0]) if rows else None

    async def require(self, user_id: str) -> UserInfo:
        user = await self.get(user_id)
        if user is None:
            raise ImError(ErrCode.UserIDNotFoundError, f"user {user_id} not found")
        return user

    async def check_exist(self, user_ids: Sequence[str]) -> None:
        """All users must exist, else 1101 UserIDNotFoundError (OpenIM 3.8.3 rpcli CheckUser says 1004)."""
        wanted = distinct(user_ids)
        found = {u.userID for u in await self.find(wanted)}
        if missing := [u for u in wanted if u not in found]:
            raise ImError(ErrCode.UserIDNotFoundError, f"user not found: {', '.join(missing)}")

    async def find(self, user_ids: Sequence[str]) -> list[UserInfo]:
        """Users in request order; unknown IDs are silently left out."""
        wanted = distinct(user_ids)
        if not wanted:
            return []
        by_id = await self._fast_reads.run(lambda tx: read_users(tx, wanted))
        return [user_info(by_id[u]) for u in wanted if u in by_id]

    async def update(self, op: Operator, user_id: str, changes: UserChanges) -> None:
        values = changes.values()
        async with self._sessionmaker.begin() as session:
            old = await session.get(UserRow, user_id)
            if old is None:
                raise ImError(ErrCode.UserIDNotFoundError, f"user {user_id} not found")
            before = (old.nickname, old.face_url)
            if values:
                await session.execute(update(UserRow).where(UserRow.user_id == user_id).values(**values))
            after = (values.get("nickname", before[0]), values.get("face_url", before[1]))
            watchers: list[str] = []
            if after != before:
                watchers = await self._who_lists(session, user_id)
                for owner in watchers:
                    await self._versions.incr(session, FRIENDS, owner, [user_id], VersionState.UPDATE)
        tips = UserInfoUpdatedTips(userID=user_id)
        await self._notifier.send(op.operation_id, op.user_id, user_id, ContentType.USER_INFO_UPDATED, tips)
        for owner in watchers:
            await self._notifier.send(op.operation_id, op.user_id, owner, ContentType.FRIEND_INFO_UPDATED, tips)
        if after != before:
            for hook in self._profile_hooks:
                await hook(op, user_id)

    async def all_user_ids(self, page: Page | None) -> tuple[int, list[str]]:
        base = select(UserRow.user_id).order_by(UserRow.create_time, UserRow.user_id)
        async with self._reads() as session:
            total = (await session.execute(select(func.count()).select_from(UserRow))).scalar_one()
            stmt = paged(base, page)
            ids = [] if stmt is None else list((await session.execute(stmt)).scalars())
        return total, ids

    async def search(self, page: Page | None, user_id: str, nickname: str) -> tuple[int, list[UserInfo]]:
        """/user/get_users: ordinary users, optionally matching userID or nickname (case-insensitive)."""
        cond: list[ColumnElement[bool]] = [UserRow.app_manger_level.in_(_LISTED_LEVELS)]
        keywords: list[ColumnElement[bool]] = []
        if user_id:
            keywords.append(func.lower(UserRow.user_id).contains(user_id.lower(), autoescape=True))
        if nickname:
            keywords.append(func.lower(UserRow.nickname).contains(nickname.lower(), autoescape=True))
        if keywords:
            cond.append(or_(*keywords))
        async with self._reads() as session:
            total = (await session.execute(select(func.count()).select_from(UserRow).where(*cond))).scalar_one()
            stmt = paged(select(UserRow).where(*cond).order_by(UserRow.create_time, UserRow.user_id), page)
            rows = [] if stmt is None else list((await session.execute(stmt)).scalars())
        return total, [user_info(r) for r in rows]

    async def registered(self, user_ids: Sequence[str]) -> set[str]:
        return {u.userID for u in await self.find(user_ids)}

    @staticmethod
    async def _who_lists(session: AsyncSession, user_id: str) -> list[str]:
        rows = await session.execute(
            select(FriendRow.owner_user_id).where(FriendRow.friend_user_id == user_id).order_by(FriendRow.id)
        )
        return list(rows.scalars())
