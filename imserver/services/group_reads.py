"""group_store's reads on the login paths as prebuilt statements in a read transaction
(imserver.reads; issue 14). Same SQL, same order as the session versions in group_store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BindParameter, bindparam, func, select

from core.protocol.constants import RoleLevel
from imserver.models import GroupMemberRow, GroupRow
from imserver.reads import ReadTx
from imserver.services.common import distinct
from imserver.services.convert import group_info
from imserver.services.sdkws_group import GroupInfo

__all__ = ["group_infos", "joined_group_ids", "managed_group_ids"]

_G = GroupRow.__table__
_M = GroupMemberRow.__table__
_IDS: BindParameter[Any] = bindparam("ids", expanding=True)

_MANAGED = (
    select(_M.c.group_id)
    .where(_M.c.user_id == bindparam("user"), _M.c.role_level.in_([int(RoleLevel.OWNER), int(RoleLevel.ADMIN)]))
    .order_by(_M.c.id)
)
_JOINED = select(_M.c.group_id).where(_M.c.user_id == bindparam("user")).order_by(_M.c.role_level.desc(), _M.c.id.asc())
_GROUPS = select(_G).where(_G.c.group_id.in_(_IDS))
_COUNTS = select(_M.c.group_id, func.count()).where(_M.c.group_id.in_(_IDS)).group_by(_M.c.group_id)
_OWNERS = select(_M.c.group_id, _M.c.user_id).where(_M.c.group_id.in_(_IDS), _M.c.role_level == int(RoleLevel.OWNER))


def managed_group_ids(tx: ReadTx, user_id: str) -> list[str]:
    """group_store.managed_group_ids"""
    return [r[0] for r in tx.rows(_MANAGED, {"user": user_id})]


def joined_group_ids(tx: ReadTx, user_id: str) -> list[str]:
    """group_store.joined_group_ids"""
    return [r[0] for r in tx.rows(_JOINED, {"user": user_id})]


def find_groups(tx: ReadTx, group_ids: Sequence[str]) -> dict[str, Any]:
    """group_store.find_groups: rows read like GroupRow."""
    wanted = distinct(group_ids)
    if not wanted:
        return {}
    return {r.group_id: r for r in tx.rows(_GROUPS, {"ids": wanted})}


def group_infos(tx: ReadTx, group_ids: Sequence[str]) -> list[GroupInfo]:
    """group_store.group_infos"""
    groups = find_groups(tx, group_ids)
    ids = [g for g in distinct(group_ids) if g in groups]
    if not ids:
        return []
    counts: dict[str, int] = {group_id: n for group_id, n in tx.rows(_COUNTS, {"ids": ids})}
    owners: dict[str, str] = {group_id: user_id for group_id, user_id in tx.rows(_OWNERS, {"ids": ids})}
    return [group_info(groups[g], owners.get(g, ""), counts.get(g, 0)) for g in ids]
