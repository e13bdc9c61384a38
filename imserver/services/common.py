"""Small pieces every imserver service uses: the operator, paging, dialect-neutral upserts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase

from imserver.models import UserRow
from imserver.reads import ReadTx

__all__ = [
    "Operator",
    "Page",
    "distinct",
    "insert_ignore",
    "load_users",
    "page_params",
    "paged",
    "paged_stmt",
    "read_users",
]

_S = TypeVar("_S", bound="Select[Any]")


@dataclass(frozen=True, slots=True)
class Operator:
    """Who performs a call: the token's user and platform, plus the call's operationID.

    OpenIM takes the operator from the token (mcontext OpUserID), never from the
    request body (openim-v3.md 1.1 "Operator identity").
    """

    user_id: str
    platform_id: int
    operation_id: str
    is_admin: bool = False


@dataclass(frozen=True, slots=True)
class Page:
    """sdkws.RequestPagination: 1-based page number and page size."""

    page_number: int
    show_number: int

    @property
    def offset(self) -> int:
        return max(self.page_number - 1, 0) * self.show_number


def paged(stmt: _S, page: Page | None) -> _S | None:
    """Apply OpenIM's paging (tools db/mongoutil FindPage); None = page is empty.

    A nil pagination means "everything"; showNumber <= 0 means "nothing".
    """
    if page is None:
        return stmt
    if page.show_number <= 0:
        return None
    return stmt.offset(page.offset).limit(page.show_number)


def page_params(page: Page | None) -> dict[str, int] | None:
    """`paged` for a prebuilt statement with `bindparam`s "offset" and "limit" (see
    `paged_stmt`): {} for no paging (use the unpaged statement), None = page is empty."""
    if page is None:
        return {}
    if page.show_number <= 0:
        return None
    return {"offset": page.offset, "limit": page.show_number}


def paged_stmt(stmt: _S) -> _S:
    """The paged variant of a prebuilt statement (bind values from `page_params`)."""
    return stmt.offset(bindparam("offset")).limit(bindparam("limit"))


def distinct(values: Iterable[str]) -> list[str]:
    """Order-preserving de-duplication (tools utils/datautil.Distinct)."""
    return list(dict.fromkeys(values))


async def insert_ignore(session: AsyncSession, model: type[DeclarativeBase], rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL.

    Used where concurrent callers may create the same row (a version log head);
    unlike catching IntegrityError it does not abort a PostgreSQL transaction.
    """
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(insert(model).values(list(rows)).on_conflict_do_nothing())


async def load_users(session: AsyncSession, user_ids: Iterable[str]) -> dict[str, UserRow]:
    wanted = distinct(user_ids)
    if not wanted:
        return {}
    rows = await session.execute(select(UserRow).where(UserRow.user_id.in_(wanted)))
    return {row.user_id: row for row in rows.scalars()}


_USERS = select(UserRow.__table__).where(UserRow.__table__.c.user_id.in_(bindparam("ids", expanding=True)))


def read_users(tx: ReadTx, user_ids: Iterable[str]) -> dict[str, Any]:
    """`load_users` in a read transaction (imserver.reads): rows read like UserRow."""
    wanted = distinct(user_ids)
    if not wanted:
        return {}
    return {row.user_id: row for row in tx.rows(_USERS, {"ids": wanted})}
