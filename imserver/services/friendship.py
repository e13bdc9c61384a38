"""SQL helpers on friend rows shared by the friend and friend-request services.

Every change to a friend row is logged in the owner's "friends" version log
in the same transaction, as the MongoDB layer does in mgo/friend.go.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from imserver.models import FriendRow
from imserver.reads import ReadTx
from imserver.services.common import load_users, read_users
from imserver.services.convert import friend_info
from imserver.services.sdkws import FriendInfo
from imserver.services.versions import FRIENDS, VersionLogs, VersionState

__all__ = [
    "become_friends",
    "check_in",
    "friend_infos",
    "friend_rows",
    "owner_friends",
]


def owner_friends(owner: str) -> Select[FriendRow]:
    """The owner's friends in OpenIM's list order: pinned first, then oldest first."""
    return select(FriendRow).where(FriendRow.owner_user_id == owner).order_by(FriendRow.is_pinned.desc(), FriendRow.id)


async def check_in(session: AsyncSession, user1: str, user2: str) -> tuple[bool, bool]:
    """(user2 is in user1's list, user1 is in user2's list) — controller/friend.go CheckIn."""
    rows = await session.execute(
        select(FriendRow.owner_user_id).where(
            ((FriendRow.owner_user_id == user1) & (FriendRow.friend_user_id == user2))
            | ((FriendRow.owner_user_id == user2) & (FriendRow.friend_user_id == user1))
        )
    )
    owners = set(rows.scalars())
    return user1 in owners, user2 in owners


async def become_friends(
    session: AsyncSession,
    versions: VersionLogs,
    pairs: Sequence[tuple[str, str]],
    add_source: int,
    operator: str,
    now_ms: int,
) -> None:
    """Create each missing (owner, friend) row and log the inserts per owner."""
    added: dict[str, list[str]] = {}
    for owner, friend in pairs:
        if owner == friend or friend in added.get(owner, []):
            continue
        exists = await session.execute(
            select(FriendRow.id).where(FriendRow.owner_user_id == owner, FriendRow.friend_user_id == friend)
        )
        if exists.first() is not None:
            continue
        session.add(
            FriendRow(
                owner_user_id=owner,
                friend_user_id=friend,
                remark="",
                create_time=now_ms,
                add_source=add_source,
                operator_user_id=operator,
                ex="",
                is_pinned=False,
            )
        )
        added.setdefault(owner, []).append(friend)
    await session.flush()
    for owner, friends in added.items():
        await versions.incr(session, FRIENDS, owner, friends, VersionState.INSERT)


async def friend_rows(session: AsyncSession, owner: str, friend_ids: Sequence[str]) -> list[FriendRow]:
    if not friend_ids:
        return []
    result = await session.execute(owner_friends(owner).where(FriendRow.friend_user_id.in_(list(friend_ids))))
    return list(result.scalars())


async def friend_infos(session: AsyncSession, owner: str, friend_ids: Sequence[str]) -> list[FriendInfo] | None:
    """FriendInfo of the owner's friends among `friend_ids`; None (JSON null) if none (FriendsDB2Pb)."""
    rows = await friend_rows(session, owner, friend_ids)
    users = await load_users(session, [r.friend_user_id for r in rows])
    return [friend_info(r, users.get(r.friend_user_id)) for r in rows] or None


# --- the same reads as prebuilt statements in a read transaction (imserver.reads) -------------

_F = FriendRow.__table__
_OWNER_FRIENDS = select(_F).where(_F.c.owner_user_id == bindparam("owner")).order_by(_F.c.is_pinned.desc(), _F.c.id)
_FRIEND_ROWS = _OWNER_FRIENDS.where(_F.c.friend_user_id.in_(bindparam("ids", expanding=True)))
_COUNT = select(func.count()).select_from(_F).where(_F.c.owner_user_id == bindparam("owner"))
OWNER_FRIENDS_PAGE = _OWNER_FRIENDS.offset(bindparam("offset")).limit(bindparam("limit"))


def read_friend_infos(tx: ReadTx, owner: str, friend_ids: Sequence[str]) -> list[FriendInfo] | None:
    """`friend_infos` in a read transaction."""
    if not friend_ids:
        return None
    rows = tx.rows(_FRIEND_ROWS, {"owner": owner, "ids": list(friend_ids)})
    return read_infos(tx, rows)


def read_infos(tx: ReadTx, rows: Sequence[Any]) -> list[FriendInfo] | None:
    users = read_users(tx, [r.friend_user_id for r in rows])
    return [friend_info(r, users.get(r.friend_user_id)) for r in rows] or None


def read_page(tx: ReadTx, owner: str, paging: dict[str, int] | None) -> tuple[int, list[FriendInfo] | None]:
    """FriendService.page: the count, then the page (`common.page_params`)."""
    total = tx.scalar(_COUNT, {"owner": owner})
    if paging is None:
        return total, None
    rows = tx.rows(OWNER_FRIENDS_PAGE if paging else _OWNER_FRIENDS, {"owner": owner, **paging})
    return total, read_infos(tx, rows)
