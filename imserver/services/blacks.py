"""Blacklists (open-im-server internal/rpc/relation/black.go) with a version log.

OpenIM 3.8.3 declares /friend/get_incremental_blacks but its RPC is
unimplemented; imserver logs black changes in a "blacks" version log so the
route answers like get_incremental_friends does.

Adding a user who is already blacklisted is 1003 DuplicateKeyError (OpenIM
fails on its unique index without a coded error). `is_blocked` is what the
message path needs for 1302 BlockedByPeer (openim-v3.md 7.1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.protocol.constants import ContentType
from core.protocol.errcodes import ErrCode
from imserver.db import make_read_sessionmaker
from imserver.errors import ImError
from imserver.models import BlackRow
from imserver.notify import Notifier
from imserver.reads import ReadTx, reads_for
from imserver.services.common import Operator, Page, load_users, page_params, paged_stmt, read_users
from imserver.services.convert import black_info
from imserver.services.sdkws import BlackAddedTips, BlackDeletedTips, BlackInfo, FromToUserID
from imserver.services.users import UserService
from imserver.services.versions import BLACKS, VersionHead, VersionLogs, VersionState
from imserver.settings import ImServerSettings

__all__ = ["BlackIncrement", "BlackService"]

_MAX_CACHED_OWNERS = 100_000

# The owner's list, oldest first (get_black_list), prebuilt (imserver.reads).
_B = BlackRow.__table__
_COUNT = select(func.count()).select_from(_B).where(_B.c.owner_user_id == bindparam("owner"))
_ALL = select(_B).where(_B.c.owner_user_id == bindparam("owner")).order_by(_B.c.id)
_PAGE = paged_stmt(_ALL)


@dataclass(frozen=True, slots=True)
class BlackIncrement:
    head: VersionHead
    full: bool
    delete: list[str] | None
    insert: list[BlackInfo] | None
    update: list[BlackInfo] | None


class BlackService:
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
        self._reads = make_read_sessionmaker(sessionmaker)  # inline on SQLite (db.py)
        self._fast_reads = reads_for(sessionmaker)
        self._versions = versions
        self._notifier = notifier
        self._users = users
        # Owner -> whom they blacklisted, for the send path's check (one dict look-up per
        # message instead of a query). add/remove drop the owner's entry when they commit;
        # `_stamps` keeps a load that raced one of them from putting back the old set.
        self._blocked: dict[str, frozenset[str]] = {}
        self._stamps: dict[str, int] = {}

    async def add(self, op: Operator, owner: str, blocked: str, ex: str) -> None:
        await self._users.check_exist([owner, blocked])
        async with self._sessionmaker.begin() as session:
            if await self._rows(session, owner, [blocked]):
                raise ImError(ErrCode.DuplicateKeyError, f"{blocked} is already in {owner}'s blacklist")
            session.add(
                BlackRow(
                    owner_user_id=owner,
                    block_user_id=blocked,
                    create_time=self._settings.now_ms(),
                    add_source=0,
                    operator_user_id=op.user_id,
                    ex=ex,
                )
            )
            await session.flush()
            await self._versions.incr(session, BLACKS, owner, [blocked], VersionState.INSERT)
        self._forget(owner)
        tips = BlackAddedTips(fromToUserID=FromToUserID(fromUserID=owner, toUserID=blocked))
        await self._notifier.send(op.operation_id, owner, blocked, ContentType.BLACK_ADDED, tips)

    async def remove(self, op: Operator, owner: str, blocked: str) -> None:
        async with self._sessionmaker.begin() as session:
            await session.execute(
                delete(BlackRow).where(BlackRow.owner_user_id == owner, BlackRow.block_user_id == blocked)
            )
            await self._versions.incr(session, BLACKS, owner, [blocked], VersionState.DELETE)
        self._forget(owner)
        tips = BlackDeletedTips(fromToUserID=FromToUserID(fromUserID=owner, toUserID=blocked))
        await self._notifier.send(op.operation_id, owner, blocked, ContentType.BLACK_DELETED, tips)

    async def page(self, owner: str, page: Page | None) -> tuple[int, list[BlackInfo] | None]:
        paging = page_params(page)

        def read(tx: ReadTx) -> tuple[int, list[BlackInfo] | None]:
            total = tx.scalar(_COUNT, {"owner": owner})
            rows = [] if paging is None else tx.rows(_PAGE if paging else _ALL, {"owner": owner, **paging})
            users = read_users(tx, [r.block_user_id for r in rows])
            return total, [black_info(r, users.get(r.block_user_id)) for r in rows] or None

        return await self._fast_reads.run(read)

    async def specified(self, owner: str, user_ids: Sequence[str]) -> list[BlackInfo]:
        """GetSpecifiedBlacks: in request order, createTime in ms."""
        if not user_ids:
            raise ImError(ErrCode.ArgsError, "userIDList is empty")
        if len(set(user_ids)) != len(user_ids):
            raise ImError(ErrCode.ArgsError, "userIDList repeated")
        async with self._reads() as session:
            rows = {r.block_user_id: r for r in await self._rows(session, owner, user_ids)}
            ordered = [rows[u] for u in user_ids if u in rows]
            return await self._infos(session, ordered, millis=True) or []

    async def is_blocked(self, owner: str, user_id: str) -> bool:
        """Whether `owner` has blacklisted `user_id` (from memory once the owner's list is loaded)."""
        blocked = self._blocked.get(owner)
        if blocked is None:
            stamp = self._stamps.get(owner, 0)
            async with self._reads() as session:
                rows = await session.execute(select(BlackRow.block_user_id).where(BlackRow.owner_user_id == owner))
                blocked = frozenset(rows.scalars())
            if self._stamps.get(owner, 0) == stamp:
                if len(self._blocked) >= _MAX_CACHED_OWNERS:
                    del self._blocked[next(iter(self._blocked))]  # the oldest loaded
                self._blocked[owner] = blocked
        return user_id in blocked

    def _forget(self, owner: str) -> None:
        self._blocked.pop(owner, None)
        self._stamps[owner] = self._stamps.get(owner, 0) + 1

    async def incremental(self, owner: str, version_id: str, version: int) -> BlackIncrement:
        async with self._sessionmaker.begin() as session:
            delta = await self._versions.delta(session, BLACKS, owner, version_id, version)
            insert = await self._infos(session, await self._rows(session, owner, delta.insert_ids or []))
            changed = await self._infos(session, await self._rows(session, owner, delta.update_ids or []))
        return BlackIncrement(delta.head, delta.full, delta.delete_ids, insert, changed)

    @staticmethod
    async def _rows(session: AsyncSession, owner: str, user_ids: Sequence[str]) -> list[BlackRow]:
        if not user_ids:
            return []
        result = await session.execute(
            select(BlackRow)
            .where(BlackRow.owner_user_id == owner, BlackRow.block_user_id.in_(list(user_ids)))
            .order_by(BlackRow.id)
        )
        return list(result.scalars())

    @staticmethod
    async def _infos(
        session: AsyncSession, rows: Sequence[BlackRow], *, millis: bool = False
    ) -> list[BlackInfo] | None:
        users = await load_users(session, [r.block_user_id for r in rows])
        return [black_info(r, users.get(r.block_user_id), millis=millis) for r in rows] or None
