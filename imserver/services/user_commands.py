"""User commands: a user's own typed key/value entries, synced to all its devices
(open-im-server internal/rpc/user/user.go ProcessUserCommand*, storage model/user.go
UserCommand). Every change sends 1305/1306/1307 from the user to the user
(notification.go UserCommand*Notification; online only: no notification.yml entry)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import BigInteger, Integer, String, bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from core.protocol.constants import ContentType
from core.protocol.errcodes import ErrCode
from imserver.db import Base, make_read_sessionmaker
from imserver.errors import ImError
from imserver.notify import Notifier
from imserver.reads import reads_for
from imserver.services.common import Operator
from imserver.services.sdkws import WireModel
from imserver.settings import ImServerSettings

__all__ = ["CommandRow", "UserCommand", "UserCommandService"]

# Commands one user may keep (OpenIM bounds nothing; imserver bounds its tables).
_MAX_PER_USER = 10_000


class CommandRow(Base):
    __tablename__ = "im_user_commands"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(255), primary_key=True)
    create_time: Mapped[int] = mapped_column(BigInteger, default=0)
    value: Mapped[str] = mapped_column(String(4096), default="")
    ex: Mapped[str] = mapped_column(String(4096), default="")


_C = CommandRow.__table__
_ALL = select(_C).where(_C.c.user_id == bindparam("user")).order_by(_C.c.create_time, _C.c.uuid)
_OF_TYPE = (
    select(_C)
    .where(_C.c.user_id == bindparam("user"), _C.c.type == bindparam("type"))
    .order_by(_C.c.create_time, _C.c.uuid)
)


@dataclass(frozen=True, slots=True)
class UserCommand:
    type: int
    uuid: str
    create_time: int
    value: str
    ex: str


class CommandTips(WireModel):
    """sdkws.UserCommandAddTips / DeleteTips / UpdateTips."""

    fromUserID: str = ""
    toUserID: str = ""


class UserCommandService:
    def __init__(
        self, settings: ImServerSettings, sessionmaker: async_sessionmaker[AsyncSession], notifier: Notifier
    ) -> None:
        self._settings = settings
        self._sessionmaker = sessionmaker
        self._reads = make_read_sessionmaker(sessionmaker)  # pure reads: inline on SQLite (db.py)
        self._fast_reads = reads_for(sessionmaker)
        self._notifier = notifier

    async def _notify(self, op: Operator, user_id: str, content_type: int) -> None:
        tips = CommandTips(fromUserID=user_id, toUserID=user_id)
        await self._notifier.send(op.operation_id, user_id, user_id, content_type, tips)

    async def add(self, op: Operator, user_id: str, type_: int, uuid: str, value: str, ex: str) -> None:
        async with self._sessionmaker.begin() as session:
            count = len((await session.execute(select(CommandRow.uuid).where(CommandRow.user_id == user_id))).all())
            row = await session.get(CommandRow, (user_id, type_, uuid))
            if row is None and count >= _MAX_PER_USER:
                raise ImError(ErrCode.ArgsError, f"at most {_MAX_PER_USER} commands per user")
            if row is None:
                session.add(CommandRow(user_id=user_id, type=type_, uuid=uuid, create_time=self._settings.now_ms(),
                                       value=value, ex=ex))  # fmt: skip
            else:  # mongo upsert in OpenIM's AddUserCommand
                row.value, row.ex = value, ex
        await self._notify(op, user_id, ContentType.USER_COMMAND_ADD)

    async def delete(self, op: Operator, user_id: str, type_: int, uuid: str) -> None:
        async with self._sessionmaker.begin() as session:
            result = await session.execute(
                delete(CommandRow).where(
                    CommandRow.user_id == user_id, CommandRow.type == type_, CommandRow.uuid == uuid
                )
            )
            if not getattr(result, "rowcount", 0):
                raise ImError(ErrCode.RecordNotFoundError, "user command not found")
        await self._notify(op, user_id, ContentType.USER_COMMAND_DELETE)

    async def update(self, op: Operator, user_id: str, type_: int, uuid: str, value: str | None,
                     ex: str | None) -> None:  # fmt: skip
        async with self._sessionmaker.begin() as session:
            row = await session.get(CommandRow, (user_id, type_, uuid))
            if row is None:
                raise ImError(ErrCode.RecordNotFoundError, "user command not found")
            if value is not None:
                row.value = value
            if ex is not None:
                row.ex = ex
        await self._notify(op, user_id, ContentType.USER_COMMAND_UPDATE)

    async def list(self, user_id: str, type_: int | None = None) -> Sequence[UserCommand]:
        if type_ is None:
            rows = await self._fast_reads.run(lambda tx: tx.rows(_ALL, {"user": user_id}))
        else:
            rows = await self._fast_reads.run(lambda tx: tx.rows(_OF_TYPE, {"user": user_id, "type": type_}))
        return [UserCommand(r.type, r.uuid, r.create_time, r.value, r.ex) for r in rows]
